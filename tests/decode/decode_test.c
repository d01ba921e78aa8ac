/* Frame decoding: link types, VLANs, IPv4/IPv6 (extension headers,
 * fragments), TCP/UDP, padding, and truncation at every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "decode.h"

struct frame {
    uint8_t b[512];
    size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put16(struct frame *f, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(f, b, 2);
}

static const uint8_t MACS[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

static void ipv4(struct frame *f, uint8_t proto, size_t l4len, uint16_t frag)
{
    uint16_t tot = (uint16_t)(20 + l4len);
    uint8_t h[20] = {0x45, 0, (uint8_t)(tot >> 8), (uint8_t)tot, 0, 1, (uint8_t)(frag >> 8),
                     (uint8_t)frag, 64, proto, 0, 0, 52, 81, 151, 250, 142, 150, 190, 10};
    put(f, h, sizeof(h));
}

static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint8_t flags, const char *payload)
{
    uint8_t h[20] = {(uint8_t)(sp >> 8), (uint8_t)sp, (uint8_t)(dp >> 8), (uint8_t)dp,
                     0, 0, 0, 100, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0};
    put(f, h, sizeof(h));
    put(f, payload, strlen(payload));
}

static void udp(struct frame *f, uint16_t sp, uint16_t dp, const char *payload)
{
    uint16_t len = (uint16_t)(8 + strlen(payload));
    uint8_t h[8] = {(uint8_t)(sp >> 8), (uint8_t)sp, (uint8_t)(dp >> 8), (uint8_t)dp,
                    (uint8_t)(len >> 8), (uint8_t)len, 0, 0};
    put(f, h, sizeof(h));
    put(f, payload, strlen(payload));
}

static void check_tcp_443(const struct kp_pkt *p, const char *payload)
{
    assert_int_equal(p->ipver, 4);
    assert_int_equal(p->proto, KP_PROTO_TCP);
    assert_int_equal(p->sport, 443);
    assert_int_equal(p->dport, 51000);
    assert_int_equal(p->seq, 100);
    assert_int_equal(p->tcp_flags, KP_TCP_ACK);
    assert_true(kp_addr_is_v4(&p->src));
    assert_int_equal(p->src.b[12], 52);
    assert_int_equal(p->dst.b[15], 10);
    assert_int_equal(p->payload.len, strlen(payload));
    assert_memory_equal(p->payload.p, payload, strlen(payload));
}

static void test_ethernet_vlan_qinq(void **state)
{
    (void)state;
    struct frame f = {.n = 0};
    put(&f, MACS, 12);
    put16(&f, 0x88a8);
    put16(&f, 0x0064);
    put16(&f, 0x8100);
    put16(&f, 0x00c8);
    put16(&f, 0x0800);
    ipv4(&f, 6, 20 + 5, 0x4000);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    struct kp_pkt p;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");
    /* every truncation: never OK with a payload beyond the prefix */
    for (size_t n = 0; n < f.n; n++) {
        enum kp_res r = kp_decode(1, f.b, n, &p);
        if (r == KP_RES_OK) {
            assert_true(p.payload.p + p.payload.len <= f.b + n);
        }
    }
}

static void test_ethernet_padding_trimmed(void **state)
{
    (void)state;
    struct frame f = {.n = 0};
    put(&f, MACS, 12);
    put16(&f, 0x0800);
    ipv4(&f, 17, 8 + 2, 0);
    udp(&f, 3478, 50000, "ab");
    uint8_t pad[16] = {0};
    put(&f, pad, sizeof(pad)); /* Ethernet minimum-size padding */
    struct kp_pkt p;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.proto, KP_PROTO_UDP);
    assert_int_equal(p.payload.len, 2);
}

static void test_sll_sll2_raw_null(void **state)
{
    (void)state;
    struct kp_pkt p;
    struct frame f = {.n = 0};
    uint8_t sll[14] = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};
    put(&f, sll, sizeof(sll));
    put16(&f, 0x0800);
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    assert_int_equal(kp_decode(113, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");

    f.n = 0;
    put16(&f, 0x0800);
    uint8_t sll2[18] = {0};
    put(&f, sll2, sizeof(sll2));
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    assert_int_equal(kp_decode(276, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");

    f.n = 0;
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    assert_int_equal(kp_decode(101, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");
    assert_int_equal(kp_decode(12, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(kp_decode(228, f.b, f.n, &p), KP_RES_OK);

    f.n = 0;
    uint8_t fam[4] = {2, 0, 0, 0}; /* AF_INET, little-endian host order */
    put(&f, fam, 4);
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    assert_int_equal(kp_decode(0, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");

    f.n = 0; /* PPP with and without address/control (RFC 1662) */
    uint8_t ppp[4] = {0xff, 0x03, 0x00, 0x21};
    put(&f, ppp, 4);
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    assert_int_equal(kp_decode(9, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");
    assert_int_equal(kp_decode(9, f.b + 2, f.n - 2, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");
    f.b[3] = 0x23; /* not IP */
    assert_int_equal(kp_decode(9, f.b, f.n, &p), KP_RES_NOT_MINE);

    assert_false(kp_decode_linktype_ok(105)); /* 802.11 */
    assert_true(kp_decode_linktype_ok(276));
}

static void test_ipv6_ext_headers(void **state)
{
    (void)state;
    struct frame f = {.n = 0};
    put(&f, MACS, 12);
    put16(&f, 0x86dd);
    size_t plen = 8 + 8 + 8 + 8 + 4;
    uint8_t h[8] = {0x60, 0, 0, 0, 0, (uint8_t)plen, 0 /* hop-by-hop */, 64};
    put(&f, h, 8);
    uint8_t src[16] = {0x20, 0x01, 0x48, 0x60, 0x48, 0x64, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    put(&f, src, 16);
    put(&f, dst, 16);
    uint8_t hbh[8] = {60, 0, 1, 4, 0, 0, 0, 0};   /* -> destination options */
    uint8_t dopt[8] = {44, 0, 1, 4, 0, 0, 0, 0};  /* -> fragment */
    uint8_t frag[8] = {17, 0, 0, 0, 0, 0, 0, 9};  /* atomic fragment -> UDP */
    put(&f, hbh, 8);
    put(&f, dopt, 8);
    put(&f, frag, 8);
    uint8_t u[8] = {0x4b, 0x66, 0xc3, 0x50, 0, 12, 0, 0};
    put(&f, u, 8);
    put(&f, "stun", 4);
    struct kp_pkt p;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.ipver, 6);
    assert_int_equal(p.proto, KP_PROTO_UDP);
    assert_int_equal(p.sport, 19302);
    assert_int_equal(p.dport, 50000);
    assert_false(kp_addr_is_v4(&p.src));
    assert_memory_equal(p.src.b, src, 16);
    assert_int_equal(p.payload.len, 4);
    assert_int_equal(p.fragment, 0);
    /* a real fragment (offset != 0) is counted, not decoded */
    f.b[14 + 40 + 16 + 3] = 0x08;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.fragment, 1);
    for (size_t n = 0; n < f.n; n++) {
        enum kp_res r = kp_decode(1, f.b, n, &p);
        if (r == KP_RES_OK) {
            assert_true(p.payload.p + p.payload.len <= f.b + n);
        }
    }
}

static void test_ipv4_fragments_not_decoded(void **state)
{
    (void)state;
    struct frame f = {.n = 0};
    put(&f, MACS, 12);
    put16(&f, 0x0800);
    ipv4(&f, 17, 8 + 4, 0x2000); /* MF set: first fragment */
    udp(&f, 1, 2, "abcd");
    struct kp_pkt p;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.fragment, 1);
    assert_int_equal(p.sport, 0); /* transport header not trusted */
    f.n = 0;
    put(&f, MACS, 12);
    put16(&f, 0x0800);
    ipv4(&f, 17, 8 + 4, 0x0010); /* offset 16*8, last fragment */
    udp(&f, 1, 2, "abcd");
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.fragment, 1);
}

static void test_malformed(void **state)
{
    (void)state;
    struct kp_pkt p;
    struct frame f = {.n = 0};
    put(&f, MACS, 12);
    put16(&f, 0x0806); /* ARP */
    uint8_t arp[28] = {0};
    put(&f, arp, sizeof(arp));
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_NOT_MINE);

    f.n = 0;
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    f.b[0] = 0x44; /* IHL 4 words < 5 */
    assert_int_equal(kp_decode(101, f.b, f.n, &p), KP_RES_MALFORMED);
    f.b[0] = 0x45;
    f.b[20 + 12] = 0x40; /* TCP data offset 4 < 5 */
    assert_int_equal(kp_decode(101, f.b, f.n, &p), KP_RES_MALFORMED);
    f.b[20 + 12] = 0x50;
    f.b[2] = 0;
    f.b[3] = 10; /* total length below the header length */
    assert_int_equal(kp_decode(101, f.b, f.n, &p), KP_RES_MALFORMED);

    f.n = 0; /* five stacked VLAN tags */
    put(&f, MACS, 12);
    for (int i = 0; i < 5; i++) {
        put16(&f, 0x8100);
        put16(&f, 1);
    }
    put16(&f, 0x0800);
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_MALFORMED);
}

/* GTP-U (UDP 2152) carries a subscriber's IP packet: decode the inner one. */
static void test_gtpu(void **state)
{
    (void)state;
    struct frame inner = {.n = 0};
    ipv4(&inner, 6, 25, 0);
    tcp(&inner, 443, 51000, KP_TCP_ACK, "hello");
    struct frame f = {.n = 0};
    put(&f, MACS, 12);
    put16(&f, 0x0800);
    ipv4(&f, 17, 8 + 12 + 8 + inner.n, 0);
    uint8_t u[8] = {0x08, 0x68, 0x08, 0x68, 0, (uint8_t)(8 + 12 + 8 + inner.n), 0, 0};
    put(&f, u, 8);
    /* flags: version 1, PT 1, E set; G-PDU; length; TEID; seq, N-PDU, next ext 0x85 */
    uint8_t g[12] = {0x34, 0xff, 0, (uint8_t)(4 + 8 + inner.n), 0, 0, 0, 1, 0, 0, 0, 0x85};
    put(&f, g, 12);
    uint8_t ext[8] = {2, 0, 0, 0, 0, 0, 0, 0}; /* 8-byte extension, next type 0 */
    put(&f, ext, 8);
    put(&f, inner.b, inner.n);
    struct kp_pkt p;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.tunnel_depth, 1);
    check_tcp_443(&p, "hello");
    for (size_t n = 0; n < f.n; n++) {
        enum kp_res r = kp_decode(1, f.b, n, &p);
        if (r == KP_RES_OK) {
            assert_true(p.payload.p + p.payload.len <= f.b + n);
        }
    }
    /* not a G-PDU (echo request, type 1): stays plain UDP on 2152 */
    f.b[14 + 20 + 8 + 1] = 0x01;
    assert_int_equal(kp_decode(1, f.b, f.n, &p), KP_RES_OK);
    assert_int_equal(p.tunnel_depth, 0);
    assert_int_equal(p.proto, KP_PROTO_UDP);
    assert_int_equal(p.dport, 2152);
}

/* IPv4 total length 0: captured before TCP segmentation offload. */
static void test_tso_zero_length(void **state)
{
    (void)state;
    struct frame f = {.n = 0};
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    f.b[2] = f.b[3] = 0;
    struct kp_pkt p;
    assert_int_equal(kp_decode(101, f.b, f.n, &p), KP_RES_OK);
    check_tcp_443(&p, "hello");
}

static void test_addr_str(void **state)
{
    (void)state;
    struct frame f = {.n = 0};
    ipv4(&f, 6, 25, 0);
    tcp(&f, 443, 51000, KP_TCP_ACK, "hello");
    struct kp_pkt p;
    assert_int_equal(kp_decode(101, f.b, f.n, &p), KP_RES_OK);
    char s[46];
    kp_addr_str(&p.src, s, sizeof(s));
    assert_string_equal(s, "52.81.151.250");
    assert_null(kp_addr_scope(&p.src));
    static const struct {
        uint8_t v4[4];
        const char *scope;
    } v[] = {
        {{10, 1, 2, 3}, "private"},     {{172, 31, 0, 1}, "private"}, {{172, 32, 0, 1}, NULL},
        {{192, 168, 20, 130}, "private"}, {{100, 64, 0, 1}, "shared"}, {{100, 128, 0, 1}, NULL},
        {{127, 0, 0, 1}, "loopback"},   {{169, 254, 1, 1}, "link-local"},
        {{224, 0, 0, 251}, "multicast"}, {{192, 0, 2, 1}, "documentation"},
        {{240, 0, 0, 1}, "reserved"},   {{8, 8, 8, 8}, NULL},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memcpy(p.src.b + 12, v[i].v4, 4);
        const char *got = kp_addr_scope(&p.src);
        if (v[i].scope == NULL) {
            assert_null(got);
        } else {
            assert_non_null(got);
            assert_string_equal(got, v[i].scope);
        }
    }
    struct kp_addr a6;
    memset(&a6, 0, sizeof(a6));
    a6.b[0] = 0xfd;
    assert_string_equal(kp_addr_scope(&a6), "private");
    a6.b[0] = 0xfe;
    a6.b[1] = 0x80;
    assert_string_equal(kp_addr_scope(&a6), "link-local");
    a6.b[0] = 0x20;
    a6.b[1] = 0x01;
    a6.b[2] = 0x48;
    assert_null(kp_addr_scope(&a6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ethernet_vlan_qinq),
        cmocka_unit_test(test_ethernet_padding_trimmed),
        cmocka_unit_test(test_sll_sll2_raw_null),
        cmocka_unit_test(test_ipv6_ext_headers),
        cmocka_unit_test(test_ipv4_fragments_not_decoded),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_tso_zero_length),
        cmocka_unit_test(test_gtpu),
        cmocka_unit_test(test_addr_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
