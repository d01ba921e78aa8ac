/* Unit tests of analyze/stun.c: STUN/TURN messages (RFC 8489, classic RFC
 * 3489, MS-TURN, WhatsApp and Zoom dialects), ChannelData and TCP framing;
 * on the RFC 5769 test vectors, on hand-built messages and on messages taken
 * from real captures, where every field tshark 4.0.17 decodes is compared
 * with ours.  The messages are cut from ../shared/pcaps at test time by
 * extract.py, never stored in the tree (see ../dtls/capture_vectors.h);
 * what tshark read in them is committed in expected/ (field values only).
 * Without the captures the capture-derived cases are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_vectors.h"
#include "stun.h"

/* The environment variable naming the folder of capture-derived vectors. */
#define VECTORS "KP_STUN_VECTORS"

#ifndef KP_STUN_EXPECTED
#define KP_STUN_EXPECTED "tests/stun/expected"
#endif

/* ---- Helpers ------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static uint8_t *exact_copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    if (len > 0) {
        memcpy(c, p, len);
    }
    return c;
}

/* Hex digits (whitespace ignored) into an exact-size malloc'd buffer. */
static uint8_t *unhex(const char *h, size_t *len)
{
    size_t n = 0;
    for (const char *c = h; *c != '\0'; c++) {
        n += hexval((unsigned char)*c) >= 0;
    }
    assert_true(n % 2 == 0);
    uint8_t *b = malloc(n / 2 > 0 ? n / 2 : 1);
    assert_non_null(b);
    size_t k = 0;
    int hi = -1;
    for (const char *c = h; *c != '\0'; c++) {
        int v = hexval((unsigned char)*c);
        if (v < 0) {
            assert_true(*c == ' ' || *c == '\n' || *c == '\t');
            continue;
        }
        if (hi < 0) {
            hi = v;
        } else {
            b[k++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    *len = k;
    return b;
}

static bool inside(struct kp_rd v, const void *base, size_t len)
{
    const uint8_t *b = base;
    if (v.len == 0) {
        return true;
    }
    return v.p >= b && v.p <= b + len && v.len <= (size_t)(b + len - v.p);
}

static bool rd_is(struct kp_rd v, const char *s)
{
    return kp_rd_eq(&v, s, strlen(s));
}

static void addr_is(const struct kp_stun_addr *a, const char *ip, uint16_t port)
{
    assert_true(a->present);
    char buf[64];
    kp_addr_str(&a->addr, buf, sizeof buf);
    assert_string_equal(buf, ip);
    assert_int_equal(a->port, port);
}

/* Every view of a parsed message lies inside buf[0..len). */
static void check_views(const struct kp_stun_msg *m, const uint8_t *buf, size_t len)
{
    assert_true(inside(m->raw, buf, len));
    assert_true(m->n_attrs <= KP_STUN_MAX_ATTRS);
    assert_true(m->n_attrs <= m->attrs_total);
    for (size_t i = 0; i < m->n_attrs; i++) {
        assert_true(inside(m->attrs[i].value, buf, len));
    }
    assert_true(inside(m->username, buf, len));
    assert_true(inside(m->realm, buf, len));
    assert_true(inside(m->nonce, buf, len));
    assert_true(inside(m->software, buf, len));
    assert_true(inside(m->error_reason, buf, len));
    assert_true(inside(m->message_integrity, buf, len));
    assert_true(inside(m->data, buf, len));
    assert_true(m->raw.len + m->trailing <= len);
}

/* ---- RFC 5769 test vectors ---------------------------------------------- */

/* RFC 5769 2.1 "Sample Request" (bytes copied from the RFC text). */
static const char rfc5769_request[] =
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf";

/* RFC 5769 2.2 "Sample IPv4 Response". */
static const char rfc5769_ipv4[] =
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96";

/* RFC 5769 2.3 "Sample IPv6 Response". */
static const char rfc5769_ipv6[] =
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c";

static const char rfc5769_password[] = "VOkJxbRl1RmTxUk/WvJxBt";

static void test_rfc5769_request(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = unhex(rfc5769_request, &len);
    assert_int_equal(len, 108);
    struct kp_stun_msg m;
    assert_int_equal(kp_stun_parse(&m, kp_rd_make(p, len)), KP_RES_OK);
    check_views(&m, p, len);
    assert_int_equal(m.type, 0x0001);
    assert_int_equal(m.method, KP_STUN_M_BINDING);
    assert_int_equal(m.cls, KP_STUN_CLASS_REQUEST);
    assert_int_equal(m.length, 0x58);
    assert_false(m.classic);
    assert_int_equal(m.txid_len, 12);
    static const uint8_t txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
    assert_memory_equal(m.txid, txid, 12);
    assert_true(m.has_software);
    assert_true(rd_is(m.software, "STUN test client"));
    assert_true(m.has_username);
    assert_true(rd_is(m.username, "evtj:h6vY"));
    assert_int_equal(m.n_attrs, 6);
    assert_int_equal(m.attrs[1].type, KP_STUN_A_PRIORITY);
    assert_int_equal(m.attrs[2].type, KP_STUN_A_ICE_CONTROLLED);
    assert_true(m.has_message_integrity);
    assert_int_equal(m.message_integrity.len, 20);
    assert_true(m.has_fingerprint);
    assert_true(m.fingerprint_ok);
    assert_true(m.fingerprint == 0xe57a3bcfu);
    assert_int_equal(m.anomalies, 0);
    assert_false(m.unpadded);
    assert_true(kp_stun_check_integrity(&m, (const uint8_t *)rfc5769_password,
                                        strlen(rfc5769_password)));
    assert_false(kp_stun_check_integrity(&m, (const uint8_t *)"wrong", 5));
    /* One bit flipped in the SOFTWARE value: both checks fail. */
    p[30] ^= 1;
    assert_int_equal(kp_stun_parse(&m, kp_rd_make(p, len)), KP_RES_OK);
    assert_false(m.fingerprint_ok);
    assert_true(m.anomalies & KP_STUN_ANOM_FINGERPRINT_BAD);
    assert_false(kp_stun_check_integrity(&m, (const uint8_t *)rfc5769_password,
                                         strlen(rfc5769_password)));
    free(p);
}

static void test_rfc5769_responses(void **state)
{
    (void)state;
    size_t len;
    struct kp_stun_msg m;
    uint8_t *p = unhex(rfc5769_ipv4, &len);
    assert_int_equal(len, 80);
    assert_int_equal(kp_stun_parse(&m, kp_rd_make(p, len)), KP_RES_OK);
    check_views(&m, p, len);
    assert_int_equal(m.cls, KP_STUN_CLASS_SUCCESS);
    assert_int_equal(m.method, KP_STUN_M_BINDING);
    assert_true(rd_is(m.software, "test vector"));
    addr_is(&m.xor_mapped, "192.0.2.1", 32853);
    assert_int_equal(m.xor_mapped.family, 1);
    assert_true(m.fingerprint_ok);
    assert_true(kp_stun_check_integrity(&m, (const uint8_t *)rfc5769_password,
                                        strlen(rfc5769_password)));
    assert_int_equal(m.anomalies, 0);
    free(p);

    p = unhex(rfc5769_ipv6, &len);
    assert_int_equal(len, 92);
    assert_int_equal(kp_stun_parse(&m, kp_rd_make(p, len)), KP_RES_OK);
    check_views(&m, p, len);
    assert_true(rd_is(m.software, "test vector"));
    addr_is(&m.xor_mapped, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
    assert_int_equal(m.xor_mapped.family, 2);
    assert_true(m.fingerprint_ok);
    assert_true(kp_stun_check_integrity(&m, (const uint8_t *)rfc5769_password,
                                        strlen(rfc5769_password)));
    free(p);
}

static void test_crc32_and_names(void **state)
{
    (void)state;
    /* The CRC-32 check value ("123456789"). */
    assert_true(kp_stun_crc32((const uint8_t *)"123456789", 9) == 0xcbf43926u);
    assert_true(kp_stun_crc32(NULL, 0) == 0);
    assert_string_equal(kp_stun_method_name(KP_STUN_M_ALLOCATE), "Allocate");
    assert_string_equal(kp_stun_method_name(KP_STUN_M_GOOG_PING), "GoogPing");
    assert_null(kp_stun_method_name(0x0fff));
    assert_string_equal(kp_stun_class_name(KP_STUN_CLASS_ERROR), "Error Response");
    assert_null(kp_stun_class_name(4));
    assert_string_equal(kp_stun_attr_name(0x0020), "XOR-MAPPED-ADDRESS");
    assert_string_equal(kp_stun_attr_name(0x8070), "MS-IMPLEMENTATION-VERSION");
    assert_null(kp_stun_attr_name(0x7777));
}

/* ---- Hand-built messages ------------------------------------------------ */

struct bld {
    uint8_t b[70000];
    size_t len;
};

static void b_u8(struct bld *b, uint8_t v)
{
    assert_true(b->len < sizeof b->b);
    b->b[b->len++] = v;
}

static void b_u16(struct bld *b, uint16_t v)
{
    b_u8(b, (uint8_t)(v >> 8));
    b_u8(b, (uint8_t)v);
}

static void b_u32(struct bld *b, uint32_t v)
{
    b_u16(b, (uint16_t)(v >> 16));
    b_u16(b, (uint16_t)v);
}

static void b_bytes(struct bld *b, const void *p, size_t n)
{
    assert_true(n <= sizeof b->b - b->len);
    if (n > 0) {
        memcpy(b->b + b->len, p, n);
    }
    b->len += n;
}

/* An RFC 8489 header with a fixed transaction ID; the length is patched by
 * b_finish. */
static void b_header(struct bld *b, uint16_t type)
{
    b->len = 0;
    b_u16(b, type);
    b_u16(b, 0);
    b_u32(b, KP_STUN_MAGIC_COOKIE);
    b_bytes(b, "ABCDEFGHIJKL", 12);
}

static void b_attr(struct bld *b, uint16_t type, const void *v, uint16_t n, bool pad)
{
    b_u16(b, type);
    b_u16(b, n);
    b_bytes(b, v, n);
    while (pad && (b->len & 3) != 0) {
        b_u8(b, 0);
    }
}

static void b_finish(struct bld *b)
{
    size_t n = b->len - 20;
    b->b[2] = (uint8_t)(n >> 8);
    b->b[3] = (uint8_t)n;
}

/* Append FINGERPRINT computed over the message so far. */
static void b_fingerprint(struct bld *b)
{
    size_t n = b->len - 20 + 8;
    b->b[2] = (uint8_t)(n >> 8);
    b->b[3] = (uint8_t)n;
    uint32_t crc = kp_stun_crc32(b->b, b->len) ^ KP_STUN_FINGERPRINT_XOR;
    b_u16(b, KP_STUN_A_FINGERPRINT);
    b_u16(b, 4);
    b_u32(b, crc);
}

/* Parse an exact-size copy of p (so that ASan sees any over-read).  The
 * copy lives until the next call: *m's views stay valid until then. */
static enum kp_res parse_copy(struct kp_stun_msg *m, const uint8_t *p, size_t len)
{
    static uint8_t *copy;
    free(copy);
    copy = exact_copy(p, len);
    enum kp_res r = kp_stun_parse(m, kp_rd_make(copy, len));
    if (r == KP_RES_OK) {
        check_views(m, copy, len);
    }
    return r;
}

static void test_type_decoding(void **state)
{
    (void)state;
    static const struct {
        uint16_t type, method;
        uint8_t cls;
    } cases[] = {
        {0x0001, 0x001, KP_STUN_CLASS_REQUEST},    {0x0011, 0x001, KP_STUN_CLASS_INDICATION},
        {0x0101, 0x001, KP_STUN_CLASS_SUCCESS},    {0x0111, 0x001, KP_STUN_CLASS_ERROR},
        {0x0003, 0x003, KP_STUN_CLASS_REQUEST},    {0x0113, 0x003, KP_STUN_CLASS_ERROR},
        {0x0016, 0x006, KP_STUN_CLASS_INDICATION}, {0x0017, 0x007, KP_STUN_CLASS_INDICATION},
        {0x0109, 0x009, KP_STUN_CLASS_SUCCESS},    {0x0200, 0x080, KP_STUN_CLASS_REQUEST},
        {0x0300, 0x080, KP_STUN_CLASS_SUCCESS},    {0x0310, 0x080, KP_STUN_CLASS_ERROR},
        {0x0800, 0x200, KP_STUN_CLASS_REQUEST},    {0x0802, 0x202, KP_STUN_CLASS_REQUEST},
        {0x3eef, 0xfff, KP_STUN_CLASS_REQUEST},    {0x3fff, 0xfff, KP_STUN_CLASS_ERROR},
    };
    static struct bld b;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b_header(&b, cases[i].type);
        b_finish(&b);
        struct kp_stun_msg m;
        assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
        assert_int_equal(m.type, cases[i].type);
        assert_int_equal(m.method, cases[i].method);
        assert_int_equal(m.cls, cases[i].cls);
    }
    /* GOOG-PING and WhatsApp methods set their flags. */
    b_header(&b, 0x0200);
    b_finish(&b);
    struct kp_stun_msg m;
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.vendor_libwebrtc);
    b_header(&b, 0x0805);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.vendor_whatsapp);
    /* The two top bits: not STUN. */
    b_header(&b, 0x4001);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_NOT_MINE);
    b.b[0] = 0x80;
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_NOT_MINE);
}

static void test_attributes_built(void **state)
{
    (void)state;
    static struct bld b;
    struct kp_stun_msg m;
    /* A TURN Allocate success response with every decoded attribute. */
    b_header(&b, 0x0103);
    uint8_t xr[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    /* XOR-RELAYED-ADDRESS 203.0.113.5:4000 (port ^ 0x2112, address ^
     * cookie). */
    uint16_t port = 4000 ^ 0x2112;
    xr[2] = (uint8_t)(port >> 8);
    xr[3] = (uint8_t)port;
    const uint8_t ip[4] = {203, 0, 113, 5};
    const uint8_t ck[4] = {0x21, 0x12, 0xa4, 0x42};
    for (int i = 0; i < 4; i++) {
        xr[4 + i] = ip[i] ^ ck[i];
    }
    b_attr(&b, KP_STUN_A_XOR_RELAYED_ADDRESS, xr, 8, true);
    b_attr(&b, KP_STUN_A_LIFETIME, "\x00\x00\x02\x58", 4, true);
    b_attr(&b, KP_STUN_A_MAPPED_ADDRESS, "\x00\x01\x00\x50\x0a\x00\x00\x01", 8, true);
    b_attr(&b, KP_STUN_A_SOFTWARE, "Coturn-4.5", 10, true);
    b_attr(&b, KP_STUN_A_REALM, "meet.GOOGLE.com", 15, true);
    b_attr(&b, KP_STUN_A_NONCE, "n0nce", 5, true);
    b_attr(&b, KP_STUN_A_ERROR_CODE, "\x00\x00\x04\x01Unauthorized", 16, true);
    b_attr(&b, KP_STUN_A_CHANNEL_NUMBER, "\x40\x01\x00\x00", 4, true);
    b_attr(&b, KP_STUN_A_REQUESTED_TRANSPORT, "\x11\x00\x00\x00", 4, true);
    b_attr(&b, KP_STUN_A_ALTERNATE_SERVER, "\x00\x01\x0d\x96\xc6\x33\x64\x01", 8, true);
    b_attr(&b, KP_STUN_A_LIFETIME, "\x00\x00\x00\x01", 4, true); /* duplicate */
    b_attr(&b, 0x8054, "ab", 2, true);
    b_attr(&b, 0xff03, "", 0, true);
    b_attr(&b, 0xc057, "\x00\x01\x00\x0a", 4, true);
    b_attr(&b, 0x4002, "x", 1, true);
    b_attr(&b, 0x0101, "1234", 4, true);
    b_attr(&b, 0xc000, "", 0, true);
    b_fingerprint(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    addr_is(&m.xor_relayed, "203.0.113.5", 4000);
    assert_true(m.has_lifetime);
    assert_int_equal(m.lifetime, 600);
    addr_is(&m.mapped, "10.0.0.1", 80);
    assert_true(rd_is(m.software, "Coturn-4.5"));
    assert_true(rd_is(m.realm, "meet.GOOGLE.com"));
    assert_true(rd_is(m.nonce, "n0nce"));
    assert_true(m.has_error_code);
    assert_int_equal(m.error_code, 401);
    assert_true(rd_is(m.error_reason, "Unauthorized"));
    assert_true(m.has_channel_number);
    assert_int_equal(m.channel_number, 0x4001);
    assert_true(m.has_requested_transport);
    assert_int_equal(m.requested_transport, 17);
    addr_is(&m.alternate, "198.51.100.1", 3478);
    assert_true(m.anomalies & KP_STUN_ANOM_DUPLICATE);
    assert_true(m.vendor_microsoft && m.vendor_google && m.vendor_libwebrtc &&
                m.vendor_whatsapp && m.vendor_zoom && m.vendor_cisco);
    assert_true(m.fingerprint_ok);
    assert_int_equal(m.anomalies & ~KP_STUN_ANOM_DUPLICATE, 0);
    /* kp_stun_attr_address on each attribute. */
    struct kp_stun_addr a;
    assert_true(kp_stun_attr_address(&m, 0, &a));
    addr_is(&a, "203.0.113.5", 4000);
    assert_false(kp_stun_attr_address(&m, 1, &a));
    assert_false(a.present);
    assert_false(kp_stun_attr_address(&m, 999, &a));

    /* Values of the wrong size: BAD_VALUE, not decoded, message OK. */
    b_header(&b, 0x0101);
    b_attr(&b, KP_STUN_A_XOR_MAPPED_ADDRESS, "\x00\x01\x00\x50\x0a\x00\x00", 7, true);
    b_attr(&b, KP_STUN_A_MAPPED_ADDRESS, "\x00\x03\x00\x50\x0a\x00\x00\x01", 8, true);
    b_attr(&b, KP_STUN_A_XOR_PEER_ADDRESS,
           "\x00\x02\x00\x50\x0a\x00\x00\x01", 8, true); /* IPv6 family, 4 bytes */
    b_attr(&b, KP_STUN_A_LIFETIME, "\x00\x00\x02", 3, true);
    b_attr(&b, KP_STUN_A_ERROR_CODE, "\x00\x00\x07\x01", 4, true); /* class 7 */
    b_attr(&b, KP_STUN_A_CHANNEL_NUMBER, "\x40\x01", 2, true);
    b_attr(&b, KP_STUN_A_FINGERPRINT, "\x00\x00", 2, true);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.anomalies & KP_STUN_ANOM_BAD_VALUE);
    assert_false(m.xor_mapped.present || m.mapped.present || m.xor_peer.present);
    assert_false(m.has_lifetime || m.has_error_code || m.has_channel_number ||
                 m.has_fingerprint);
    assert_int_equal(m.xor_peer_total, 1);

    /* Attributes after MESSAGE-INTEGRITY are listed but not decoded; after
     * FINGERPRINT likewise. */
    b_header(&b, 0x0101);
    b_attr(&b, KP_STUN_A_MESSAGE_INTEGRITY, "01234567890123456789", 20, true);
    b_attr(&b, KP_STUN_A_SOFTWARE, "late", 4, true);
    b_attr(&b, KP_STUN_A_MESSAGE_INTEGRITY_SHA256, "0123456789012345678901234567890x", 32, true);
    b_fingerprint(&b);
    b_attr(&b, KP_STUN_A_REALM, "later", 5, true);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_int_equal(m.n_attrs, 5);
    assert_false(m.has_software || m.has_realm);
    assert_true(m.has_message_integrity && m.has_message_integrity_sha256 && m.has_fingerprint);
    assert_false(m.fingerprint_ok); /* the length counted the attribute after it */
    assert_true(m.anomalies & KP_STUN_ANOM_AFTER_INTEGRITY);
    assert_true(m.anomalies & KP_STUN_ANOM_AFTER_FINGERPRINT);

    /* Long text. */
    b_header(&b, 0x0001);
    static char longname[600];
    memset(longname, 'u', sizeof longname);
    b_attr(&b, KP_STUN_A_USERNAME, longname, 513, true);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.anomalies & KP_STUN_ANOM_LONG_TEXT);
    assert_int_equal(m.username.len, 513);
}

static void test_dialects_built(void **state)
{
    (void)state;
    static struct bld b;
    struct kp_stun_msg m;
    /* MS-TURN: MAGIC-COOKIE first, unpadded attributes, REALM 0x0015 and
     * NONCE 0x0014, REMOTE-ADDRESS 0x0012 in clear (198.51.100.7:16332, an
     * RFC 5737 documentation address). */
    b_header(&b, 0x0003);
    b_attr(&b, KP_STUN_A_MS_MAGIC_COOKIE, "\x72\xc6\x4b\xc6", 4, false);
    b_attr(&b, 0x0014, "nonce-bytes", 11, false);
    b_attr(&b, 0x0015, "\"rtcmedia\"", 10, false);
    b_attr(&b, 0x0012, "\x00\x01\x3f\xcc\xc6\x33\x64\x07", 8, false);
    b_attr(&b, KP_STUN_A_SOFTWARE, "2.0.1.211", 9, false);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.ms_turn && m.unpadded && m.vendor_microsoft);
    assert_true(rd_is(m.realm, "\"rtcmedia\""));
    assert_true(rd_is(m.nonce, "nonce-bytes"));
    addr_is(&m.xor_peer, "198.51.100.7", 16332);
    assert_true(rd_is(m.software, "2.0.1.211"));
    assert_true(m.anomalies & KP_STUN_ANOM_UNPADDED);
    assert_true(m.anomalies & KP_STUN_ANOM_LENGTH_NOT_4);

    /* The same attributes padded, without the MS-TURN cookie: RFC 8489
     * meaning (REALM 0x0014, XOR-PEER-ADDRESS XORed). */
    b_header(&b, 0x0003);
    b_attr(&b, 0x0014, "realm", 5, true);
    b_attr(&b, 0x0015, "nonce", 5, true);
    b_attr(&b, 0x0012, "\x00\x01\x3f\xcc\xc6\x33\x64\x07", 8, true);
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_false(m.ms_turn || m.unpadded);
    assert_true(rd_is(m.realm, "realm"));
    assert_true(m.xor_peer.present);
    assert_int_equal(m.xor_peer.port, 0x3fcc ^ 0x2112);

    /* WhatsApp: an unpadded attribute whose zero padding the padded walk
     * would read as type-0 attributes. */
    b_header(&b, 0x0801);
    b_attr(&b, 0x4003, "\x01\x02\x03\x04\x05\x06\x07\x08\x09", 9, false);
    b_attr(&b, 0x4004, NULL, 0, false);
    b.len -= 2;
    b_u16(&b, 31);
    for (int i = 0; i < 31; i++) {
        b_u8(&b, 0);
    }
    b_finish(&b);
    assert_int_equal(b.len - 20, 48);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.unpadded && m.vendor_whatsapp);
    assert_int_equal(m.n_attrs, 2);
    assert_int_equal(m.attrs[0].type, 0x4003);
    assert_int_equal(m.attrs[0].value.len, 9);
    assert_int_equal(m.attrs[1].type, 0x4004);
    assert_int_equal(m.attrs[1].value.len, 31);
    assert_false(m.anomalies & KP_STUN_ANOM_ZERO_TYPE);

    /* Classic RFC 3489: no cookie, 16-byte transaction ID. */
    b.len = 0;
    b_u16(&b, 0x0101);
    b_u16(&b, 12);
    b_bytes(&b, "0123456789abcdef", 16);
    b_attr(&b, KP_STUN_A_MAPPED_ADDRESS, "\x00\x01\xd7\x0a\xc0\x00\x02\x21", 8, true);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(m.classic);
    assert_int_equal(m.txid_len, 16);
    assert_memory_equal(m.txid, "0123456789abcdef", 16);
    addr_is(&m.mapped, "192.0.2.33", 55050);
    /* Classic with trailing bytes, an odd length, a high method, or
     * attributes that do not walk: not STUN. */
    b_u8(&b, 0);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_NOT_MINE);
    b.len--;
    b.b[3] = 11;
    assert_int_equal(parse_copy(&m, b.b, b.len - 1), KP_RES_NOT_MINE);
    b.b[3] = 12;
    b.b[0] = 0x3f;
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_NOT_MINE);
    b.b[0] = 0x01;
    b.b[22] = 0x00;
    b.b[23] = 0x09;
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_NOT_MINE);
    /* With the cookie, the same broken attributes are MALFORMED. */
    b_header(&b, 0x0001);
    b_attr(&b, KP_STUN_A_SOFTWARE, "abcd", 4, true);
    b_finish(&b);
    b.b[23] = 0x09;
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_MALFORMED);
    /* Trailing bytes after a message with the cookie: OK, counted. */
    b_header(&b, 0x0001);
    b_finish(&b);
    b_bytes(&b, "\0\0\0", 3);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_int_equal(m.trailing, 3);
    assert_true(m.anomalies & KP_STUN_ANOM_TRAILING);
}

/* Hostile attribute lengths, and thousands of attributes. */
static void test_hostile(void **state)
{
    (void)state;
    static struct bld b;
    struct kp_stun_msg m;
    static const uint16_t lens[] = {0xffff, 0xfffe, 0x8000, 0x0100, 5, 9};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        b_header(&b, 0x0001);
        b_u16(&b, KP_STUN_A_SOFTWARE);
        b_u16(&b, lens[i]);
        b_bytes(&b, "abcd", 4);
        b_finish(&b);
        assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_MALFORMED);
    }
    /* A message length beyond the datagram: TRUNCATED, at any size. */
    b_header(&b, 0x0001);
    b_finish(&b);
    b.b[2] = 0xff;
    b.b[3] = 0xfc;
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_TRUNCATED);

    /* 16383 empty attributes: the largest count a message can hold. */
    b_header(&b, 0x0001);
    for (int i = 0; i < 16383; i++) {
        b_u16(&b, (uint16_t)(0x8000 + (i & 0xff)));
        b_u16(&b, 0);
    }
    b_finish(&b);
    assert_int_equal(b.len - 20, 65532);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_int_equal(m.attrs_total, 16383);
    assert_int_equal(m.n_attrs, KP_STUN_MAX_ATTRS);
    /* ... and 16383 type-0 attributes, which the unpadded walk reads the
     * same way: still one parse, bounded. */
    b_header(&b, 0x0001);
    for (int i = 0; i < 16383; i++) {
        b_u32(&b, 0);
    }
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_int_equal(m.attrs_total, 16383);
    assert_true(m.anomalies & KP_STUN_ANOM_ZERO_TYPE);
    /* 4000 SOFTWARE attributes: only the first decoded. */
    b_header(&b, 0x0101);
    for (int i = 0; i < 4000; i++) {
        b_attr(&b, KP_STUN_A_SOFTWARE, i == 0 ? "first" : "other", 5, true);
    }
    b_finish(&b);
    assert_int_equal(parse_copy(&m, b.b, b.len), KP_RES_OK);
    assert_true(rd_is(m.software, "first"));
    assert_int_equal(m.attrs_total, 4000);
    assert_true(m.anomalies & KP_STUN_ANOM_DUPLICATE);
}

/* ---- Real captures ------------------------------------------------------ */

#define N_COLS 13

struct row {
    char frame[32];
    char kind[24];
    uint8_t *p;
    size_t len;
    char *col[N_COLS]; /* type attrs ipv4s ipv6s ports software realm username lifetime
                          channel error crc unknown */
};

struct tsv {
    struct row *r;
    size_t n;
    char **lines;
};

enum { C_TYPE, C_ATTRS, C_IPV4, C_IPV6, C_PORTS, C_SOFTWARE, C_REALM, C_USERNAME, C_LIFETIME,
       C_CHANNEL, C_ERROR, C_CRC, C_UNKNOWN };

/* Printable ASCII other than the backslash (tshark's escape character). */
static bool printable(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '\\';
}

/* The next line of f that is neither empty nor a '#' comment, without its
 * line end, in *line; false at the end of the file. */
static bool next_line(FILE *f, char **line, size_t *cap)
{
    ssize_t got;
    while ((got = getline(line, cap, f)) > 0) {
        while (got > 0 && ((*line)[got - 1] == '\n' || (*line)[got - 1] == '\r')) {
            (*line)[--got] = '\0';
        }
        if (got > 0 && (*line)[0] != '#') {
            return true;
        }
    }
    return false;
}

static FILE *open_expected(const char *name, char *path, size_t cap)
{
    const char *src = getenv("KP_SRCDIR");
    int w;
    if (src != NULL && src[0] != '\0') {
        w = snprintf(path, cap, "%s/tests/stun/expected/%s", src, name);
    } else {
        w = snprintf(path, cap, "%s/%s", KP_STUN_EXPECTED, name);
    }
    assert_true(w > 0 && (size_t)w < cap);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    return f;
}

/* Load the messages of one capture: what tshark read in them from
 * expected/<name> (committed), their bytes from <KP_STUN_VECTORS>/<stem>.hex
 * (cut by extract.py at test time, "frame<TAB>hex" lines in the same order).
 * Skips the test if the captures are missing (cv_need_captures). */
static void tsv_load(struct tsv *t, const char *name)
{
    char hex_name[256], path[1024];
    size_t stem = strlen(name);
    assert_true(stem > 4 && strcmp(name + stem - 4, ".tsv") == 0);
    int w = snprintf(hex_name, sizeof hex_name, "%.*s.hex", (int)(stem - 4), name);
    assert_true(w > 0 && (size_t)w < sizeof hex_name);
    FILE *bytes = cv_open(VECTORS, hex_name);
    FILE *f = open_expected(name, path, sizeof path);
    memset(t, 0, sizeof *t);
    size_t cap = 0;
    char *line = NULL, *bline = NULL;
    size_t lcap = 0, bcap = 0;
    while (next_line(f, &line, &lcap)) {
        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            t->r = realloc(t->r, cap * sizeof *t->r);
            t->lines = realloc(t->lines, cap * sizeof *t->lines);
            assert_non_null(t->r);
            assert_non_null(t->lines);
        }
        /* Field values only: a binary value tshark printed is stored as
         * "*" by extract.py, never as the bytes. */
        for (const char *c = line; *c != '\0'; c++) {
            if (*c != '\t' && !printable((unsigned char)*c)) {
                fail_msg("%s: \"%s\": not printable ASCII", path, line);
            }
        }
        char *copy = strdup(line);
        assert_non_null(copy);
        t->lines[t->n] = copy;
        struct row *r = &t->r[t->n++];
        memset(r, 0, sizeof *r);
        char *fields[2 + N_COLS], *tok, *save = NULL;
        size_t nf = 0;
        while ((tok = strtok_r(nf == 0 ? copy : NULL, "\t", &save)) != NULL) {
            if (nf == 2 + N_COLS) {
                break;
            }
            fields[nf++] = tok;
        }
        if (nf != 2 + N_COLS || tok != NULL) {
            fail_msg("%s: \"%s\": expected %d columns", path, line, 2 + N_COLS);
        }
        snprintf(r->frame, sizeof r->frame, "%s", fields[0]);
        snprintf(r->kind, sizeof r->kind, "%s", fields[1]);
        for (size_t i = 0; i < N_COLS; i++) {
            r->col[i] = fields[2 + i];
        }
        /* Its bytes: the next line of the .hex file, for the same frame. */
        if (!next_line(bytes, &bline, &bcap)) {
            fail_msg("%s: no bytes for frame %s", hex_name, r->frame);
        }
        char *tab = strchr(bline, '\t');
        if (tab == NULL || (size_t)(tab - bline) != strlen(r->frame) ||
            strncmp(bline, r->frame, strlen(r->frame)) != 0) {
            fail_msg("%s: frame %s expected, got \"%.40s\"", hex_name, r->frame, bline);
        }
        r->p = unhex(tab + 1, &r->len);
    }
    if (next_line(bytes, &bline, &bcap)) {
        fail_msg("%s: \"%.40s\" is not in expected/%s", hex_name, bline, name);
    }
    free(line);
    free(bline);
    fclose(f);
    fclose(bytes);
}

static void tsv_free(struct tsv *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->r[i].p);
        free(t->lines[i]);
    }
    free(t->r);
    free(t->lines);
    memset(t, 0, sizeof *t);
}

static const struct row *tsv_frame(const struct tsv *t, const char *frame)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->r[i].frame, frame) == 0) {
            return &t->r[i];
        }
    }
    fail_msg("no frame %s in the vector", frame);
    return NULL;
}

/* Append s to the comma-separated list in buf (which must have room). */
static void append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf), k = strlen(s);
    assert_true(n + 1 + k < cap);
    if (n > 0) {
        buf[n++] = ',';
    }
    memcpy(buf + n, s, k + 1);
}

static void expect_col(const char *frame, const char *what, const char *want, const char *got)
{
    const char *w = strcmp(want, "-") == 0 ? "" : want;
    if (strcmp(w, got) != 0) {
        fail_msg("frame %s: %s: tshark says \"%s\", we say \"%s\"", frame, what, w, got);
    }
}

static void view_str(struct kp_rd v, bool has, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (has) {
        size_t n = v.len < cap - 1 ? v.len : cap - 1;
        if (n > 0) {
            memcpy(buf, v.p, n);
        }
        buf[n] = '\0';
    }
}

/* Compare one message with what tshark read in it. */
static void compare_row(const struct row *r, const struct kp_stun_msg *m)
{
    char buf[4096], b2[1024];
    if (strcmp(r->kind, "raw") == 0) {
        return; /* tshark did not dissect it */
    }
    snprintf(buf, sizeof buf, "0x%04x", m->type);
    expect_col(r->frame, "type", r->col[C_TYPE], buf);
    if (strcmp(r->kind, "stun") != 0 && strcmp(r->kind, "classic") != 0) {
        return;
    }
    assert_true(m->classic == (strcmp(r->kind, "classic") == 0));
    /* tshark lists the attribute types it knows; the others appear in its
     * "Unknown attribute" messages. */
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_attrs; i++) {
        snprintf(b2, sizeof b2, "0x%04x", m->attrs[i].type);
        if (strstr(r->col[C_UNKNOWN], b2) == NULL) {
            append(buf, sizeof buf, b2);
        }
    }
    expect_col(r->frame, "attribute types", r->col[C_ATTRS], buf);
    /* Addresses of every address attribute, in order (Zoom's 0x0103 is not
     * known to tshark). */
    char v4[1024] = "", v6[1024] = "", ports[1024] = "";
    for (size_t i = 0; i < m->n_attrs; i++) {
        struct kp_stun_addr a;
        if (m->attrs[i].type == KP_STUN_A_ZOOM_0103 || !kp_stun_attr_address(m, i, &a)) {
            continue;
        }
        kp_addr_str(&a.addr, b2, sizeof b2);
        append(a.family == 1 ? v4 : v6, sizeof v4, b2);
        snprintf(b2, sizeof b2, "%u", a.port);
        append(ports, sizeof ports, b2);
    }
    expect_col(r->frame, "IPv4 addresses", r->col[C_IPV4], v4);
    expect_col(r->frame, "IPv6 addresses", r->col[C_IPV6], v6);
    expect_col(r->frame, "ports", r->col[C_PORTS], ports);
    /* Strings tshark shows as printable ASCII are compared byte for byte
     * ("*": tshark printed a binary value, not kept in expected/); MS-TURN's
     * REALM is another attribute number than tshark assumes. */
    if (strcmp(r->col[C_SOFTWARE], "*") != 0) {
        view_str(m->software, m->has_software, buf, sizeof buf);
        expect_col(r->frame, "SOFTWARE", r->col[C_SOFTWARE], buf);
    }
    if (strcmp(r->col[C_REALM], "*") != 0 && !m->ms_turn) {
        view_str(m->realm, m->has_realm, buf, sizeof buf);
        expect_col(r->frame, "REALM", r->col[C_REALM], buf);
    }
    if (strcmp(r->col[C_USERNAME], "*") != 0 && !m->ms_turn) {
        view_str(m->username, m->has_username, buf, sizeof buf);
        expect_col(r->frame, "USERNAME", r->col[C_USERNAME], buf);
    }
    buf[0] = '\0';
    if (m->has_lifetime) {
        snprintf(buf, sizeof buf, "%u", m->lifetime);
    }
    expect_col(r->frame, "LIFETIME", r->col[C_LIFETIME], buf);
    buf[0] = '\0';
    if (m->has_channel_number) {
        snprintf(buf, sizeof buf, "0x%04x", m->channel_number);
    }
    expect_col(r->frame, "CHANNEL-NUMBER", r->col[C_CHANNEL], buf);
    buf[0] = '\0';
    if (m->has_error_code) {
        snprintf(buf, sizeof buf, "%u", m->error_code);
    }
    expect_col(r->frame, "ERROR-CODE", r->col[C_ERROR], buf);
    buf[0] = '\0';
    if (m->has_fingerprint) {
        snprintf(buf, sizeof buf, "%d", m->fingerprint_ok ? 1 : 0);
    }
    expect_col(r->frame, "FINGERPRINT status", r->col[C_CRC], buf);
}

struct totals {
    size_t messages, compared, channel, tcp_frames;
};

static void check_row(const struct row *r, struct totals *tot)
{
    uint8_t *p = exact_copy(r->p, r->len);
    struct kp_rd in = kp_rd_make(p, r->len);
    if (strcmp(r->kind, "channel") == 0) {
        struct kp_stun_channel_data cd;
        assert_int_equal(kp_stun_parse_channel_data(&cd, in, false), KP_RES_OK);
        char buf[32];
        snprintf(buf, sizeof buf, "0x%04x", cd.channel);
        expect_col(r->frame, "channel", r->col[C_TYPE], buf);
        snprintf(buf, sizeof buf, "%u", cd.length);
        expect_col(r->frame, "channel length", r->col[C_ATTRS], buf);
        assert_true(inside(cd.data, p, r->len));
        struct kp_stun_msg m;
        assert_int_equal(kp_stun_parse(&m, in), KP_RES_NOT_MINE);
        tot->channel++;
    } else if (strcmp(r->kind, "tcp") == 0) {
        enum kp_stun_framing fr = KP_STUN_FRAMING_UNKNOWN;
        size_t n_stun = 0;
        while (in.len > 0) {
            struct kp_stun_tcp_frame f;
            enum kp_res res = kp_stun_tcp_next(&f, &in, &fr);
            assert_int_equal(res, KP_RES_OK);
            assert_true(inside(f.msg, p, r->len));
            if (f.kind == KP_STUN_FRAME_STUN) {
                struct kp_stun_msg m;
                assert_int_equal(kp_stun_parse(&m, f.msg), KP_RES_OK);
                assert_int_equal(m.trailing, 0);
                n_stun++;
            } else if (f.kind == KP_STUN_FRAME_CHANNEL_DATA) {
                struct kp_stun_channel_data cd;
                assert_int_equal(kp_stun_parse_channel_data(&cd, f.msg, false), KP_RES_OK);
            }
            tot->tcp_frames++;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "%zu", n_stun);
        expect_col(r->frame, "STUN messages in the stream", r->col[C_TYPE], buf);
    } else {
        struct kp_stun_msg m;
        enum kp_res res = kp_stun_parse(&m, in);
        if (res != KP_RES_OK) {
            fail_msg("frame %s: parse returned %d", r->frame, (int)res);
        }
        check_views(&m, p, r->len);
        compare_row(r, &m);
        tot->messages++;
        tot->compared += strcmp(r->kind, "stun") == 0 || strcmp(r->kind, "classic") == 0;
    }
    free(p);
}

static const char *const all_tsv[] = {
    "stun_classic_ndpi.tsv",      "teams_ndpi.tsv",
    "meet_stun_dtls_srtp_ndpi.tsv", "hangouts_stun_ndpi_hist.tsv",
    "zoom_p2p_ndpi.tsv",          "zoom_ndpi.tsv",
    "whatsapp_voice_ndpi.tsv",    "whatsapp_video_ndpi.tsv",
    "whatsapp_stun_call_ndpi.tsv", "stun_coturn_dtls_ndpi.tsv",
    "stun_ipv6_ndpi.tsv",         "ice_stun_netpix.tsv",
    "skype_conference_call_ndpi.tsv", "telegram_videocall_ndpi.tsv",
    "stun_tcp_multi_msgs_ndpi.tsv",
};

/* Every message of every capture against tshark. */
static void test_captures_vs_tshark(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct totals tot = {0};
    for (size_t f = 0; f < sizeof all_tsv / sizeof all_tsv[0]; f++) {
        struct tsv t;
        tsv_load(&t, all_tsv[f]);
        assert_true(t.n > 0);
        for (size_t i = 0; i < t.n; i++) {
            check_row(&t.r[i], &tot);
        }
        tsv_free(&t);
    }
    print_message("%zu messages (%zu compared field by field), %zu ChannelData, "
                  "%zu TCP frames\n",
                  tot.messages, tot.compared, tot.channel, tot.tcp_frames);
    assert_true(tot.compared > 150);
}

static void parse_frame(const struct tsv *t, const char *frame, struct kp_stun_msg *m)
{
    const struct row *r = tsv_frame(t, frame);
    assert_int_equal(kp_stun_parse(m, kp_rd_make(r->p, r->len)), KP_RES_OK);
}

/* teams_ndpi.pcap: MS-TURN and MS-ICE2. */
static void test_capture_teams(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct tsv t;
    tsv_load(&t, "teams_ndpi.tsv");
    struct kp_stun_msg m;
    /* Frame 1250: MS-TURN Allocate, length 194 (not a multiple of 4),
     * unpadded; REALM (0x0015) "rtcmedia" in quotes, a 20-byte binary NONCE
     * (0x0014), a 32-byte MESSAGE-INTEGRITY. tshark flags it malformed. */
    parse_frame(&t, "1250", &m);
    assert_true(m.ms_turn && m.unpadded && m.vendor_microsoft);
    assert_int_equal(m.length, 194);
    assert_true(rd_is(m.realm, "\"rtcmedia\""));
    assert_int_equal(m.nonce.len, 20);
    assert_true(m.has_username);
    assert_int_equal(m.username.len, 56);
    assert_true(m.has_message_integrity);
    assert_int_equal(m.message_integrity.len, 32);
    assert_int_equal(m.attrs[m.n_attrs - 1].type, KP_STUN_A_MESSAGE_INTEGRITY);
    /* Frame 1275: Allocate success: LIFETIME 60, MAPPED-ADDRESS
     * 52.114.250.141:3480, MS XOR-MAPPED-ADDRESS 80.181.206.72:57543,
     * SOFTWARE 2.0.1.211 (tshark). */
    parse_frame(&t, "1275", &m);
    assert_true(m.ms_turn && m.unpadded);
    assert_int_equal(m.lifetime, 60);
    addr_is(&m.mapped, "52.114.250.141", 3480);
    addr_is(&m.xor_mapped, "80.181.206.72", 57543);
    assert_true(rd_is(m.software, "2.0.1.211"));
    /* Frame 1245: MS-TURN error 401 with its reason phrase. */
    parse_frame(&t, "1245", &m);
    assert_int_equal(m.error_code, 401);
    assert_true(rd_is(m.error_reason,
                      "The request did not contain a Message-Integrity attribute"));
    /* Frame 1409: MS-ICE2 Binding success (MS-IMPLEMENTATION-VERSION 0x8070,
     * XOR-MAPPED-ADDRESS 93.71.110.205:16332, FINGERPRINT good). */
    parse_frame(&t, "1409", &m);
    assert_false(m.ms_turn || m.unpadded);
    assert_true(m.vendor_microsoft);
    addr_is(&m.xor_mapped, "93.71.110.205", 16332);
    assert_true(m.fingerprint_ok);
    /* Frame 1413: MS-TURN Refresh with DESTINATION-ADDRESS
     * 93.71.110.205:16332 in clear. */
    parse_frame(&t, "1413", &m);
    struct kp_stun_addr a;
    assert_int_equal(m.attrs[3].type, KP_STUN_A_DESTINATION_ADDRESS);
    assert_true(kp_stun_attr_address(&m, 3, &a));
    addr_is(&a, "93.71.110.205", 16332);
    /* Frame 1416: classic (no cookie) MS-TURN Data Indication 0x0115 with
     * REMOTE-ADDRESS 93.71.110.205:16332 in clear. */
    parse_frame(&t, "1416", &m);
    assert_true(m.classic && m.ms_turn);
    assert_int_equal(m.type, 0x0115);
    addr_is(&m.xor_peer, "93.71.110.205", 16332);
    /* Frame 1424: ChannelData on MS-TURN channel 0xff10, length 96, session
     * ID 0xdeaa296708f708fc (tshark). */
    const struct row *r = tsv_frame(&t, "1424");
    struct kp_stun_channel_data cd;
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(r->p, r->len), false), KP_RES_OK);
    assert_int_equal(cd.channel, KP_STUN_CHANNEL_MS_TURN);
    assert_true(cd.ms_turn);
    assert_int_equal(cd.length, 96);
    assert_int_equal(cd.data.len, 88);
    assert_memory_equal(cd.ms_session_id.p, "\xde\xaa\x29\x67\x08\xf7\x08\xfc", 8);
    tsv_free(&t);
}

/* Zoom: classic STUN with attributes 0x0101 and 0x0103. */
static void test_capture_zoom(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct tsv t;
    struct kp_stun_msg m;
    tsv_load(&t, "zoom_p2p_ndpi.tsv");
    /* Frame 8: Binding Request (tshark classicstun), transaction ID
     * fca5c232b3da5b2065219f418e9b3e1a, attribute 0x0101 of 20 bytes. */
    parse_frame(&t, "8", &m);
    assert_true(m.classic && m.vendor_zoom);
    assert_int_equal(m.txid_len, 16);
    assert_memory_equal(m.txid, "\xfc\xa5\xc2\x32\xb3\xda\x5b\x20\x65\x21\x9f\x41\x8e\x9b\x3e\x1a",
                        16);
    assert_int_equal(m.attrs[0].type, KP_STUN_A_ZOOM_0101);
    assert_true(kp_rd_eq(&m.attrs[0].value, "1234567890123456789\0", 20));
    tsv_free(&t);
    tsv_load(&t, "zoom_ndpi.tsv");
    /* Frame 60: type 0x0002 from the server, attribute 0x0103 holding
     * 00 01 ff75 50b4dcef: family 1, port 65397, 80.180.220.239. */
    parse_frame(&t, "60", &m);
    assert_true(m.classic && m.vendor_zoom);
    assert_int_equal(m.type, 0x0002);
    addr_is(&m.zoom_addr, "80.180.220.239", 65397);
    tsv_free(&t);
}

/* WhatsApp: message types 0x0800.. and attributes 0x4000.., unpadded. */
static void test_capture_whatsapp(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct tsv t;
    struct kp_stun_msg m;
    tsv_load(&t, "whatsapp_voice_ndpi.tsv");
    /* Frame 215: Allocate with one 102-byte attribute 0x4000 (length 106:
     * unpadded; tshark flags it malformed). */
    parse_frame(&t, "215", &m);
    assert_true(m.vendor_whatsapp && m.unpadded);
    assert_int_equal(m.n_attrs, 1);
    assert_int_equal(m.attrs[0].type, 0x4000);
    assert_int_equal(m.attrs[0].value.len, 102);
    /* Frame 225: XOR-MAPPED-ADDRESS 80.180.162.48:52372 and 0x4002. */
    parse_frame(&t, "225", &m);
    addr_is(&m.xor_mapped, "80.180.162.48", 52372);
    assert_true(m.vendor_whatsapp);
    /* Frame 708: type 0x0800, not dissected by tshark. */
    parse_frame(&t, "708", &m);
    assert_int_equal(m.type, 0x0800);
    assert_int_equal(m.method, 0x200);
    assert_int_equal(m.cls, KP_STUN_CLASS_REQUEST);
    assert_true(m.vendor_whatsapp);
    tsv_free(&t);
    tsv_load(&t, "whatsapp_video_ndpi.tsv");
    /* Frame 200: 0x0801, attributes 0x4003 (9 bytes) and 0x4004 (475
     * bytes) unpadded. */
    parse_frame(&t, "200", &m);
    assert_int_equal(m.type, 0x0801);
    assert_true(m.unpadded);
    assert_int_equal(m.n_attrs, 2);
    assert_int_equal(m.attrs[0].type, 0x4003);
    assert_int_equal(m.attrs[0].value.len, 9);
    assert_int_equal(m.attrs[1].type, 0x4004);
    assert_int_equal(m.attrs[1].value.len, 475);
    /* Frame 202: 0x0802 of length 25. */
    parse_frame(&t, "202", &m);
    assert_int_equal(m.length, 25);
    assert_int_equal(m.n_attrs, 2);
    assert_true(m.anomalies & KP_STUN_ANOM_LENGTH_NOT_4);
    tsv_free(&t);
    tsv_load(&t, "whatsapp_stun_call_ndpi.tsv");
    /* Frame 47: 0x0801 with no attributes, 28 zero bytes after it. */
    parse_frame(&t, "47", &m);
    assert_int_equal(m.length, 0);
    assert_true(m.vendor_whatsapp);
    tsv_free(&t);
}

/* Google: Meet's libwebrtc client, Google's TURN. */
static void test_capture_google(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct tsv t;
    struct kp_stun_msg m;
    tsv_load(&t, "meet_stun_dtls_srtp_ndpi.tsv");
    /* Frame 5: Chrome's ICE check with GOOG-NETWORK-INFO 0xc057. */
    parse_frame(&t, "5", &m);
    assert_true(m.vendor_libwebrtc);
    assert_false(m.vendor_google);
    assert_true(rd_is(m.username, "HrRgpad7PfoKaAoKAAiKAiADEA:P8/L"));
    tsv_free(&t);
    tsv_load(&t, "hangouts_stun_ndpi_hist.tsv");
    /* Frame 1: XOR-MAPPED-ADDRESS 190.64.92.210:23711 (tshark). */
    parse_frame(&t, "1", &m);
    addr_is(&m.xor_mapped, "190.64.92.210", 23711);
    assert_true(m.fingerprint_ok);
    tsv_free(&t);
    tsv_load(&t, "stun_coturn_dtls_ndpi.tsv");
    /* Frame 17: Allocate to Google's TURN with GOOG-LOGGING-ID 0xff05. */
    parse_frame(&t, "17", &m);
    assert_true(m.vendor_google);
    assert_int_equal(m.requested_transport, 17);
    /* Frame 19: 401 with REALM turn.l.google.com. */
    parse_frame(&t, "19", &m);
    assert_true(m.vendor_google);
    assert_int_equal(m.error_code, 401);
    assert_true(rd_is(m.realm, "turn.l.google.com"));
    /* Frame 21: XOR-RELAYED-ADDRESS 10.2.0.86:44908, LIFETIME 120,
     * XOR-MAPPED-ADDRESS 93.47.225.225:23616. */
    parse_frame(&t, "21", &m);
    addr_is(&m.xor_relayed, "10.2.0.86", 44908);
    addr_is(&m.xor_mapped, "93.47.225.225", 23616);
    assert_int_equal(m.lifetime, 120);
    /* Frame 104: ChannelBind of 0x4003 to 185.170.139.1:12176 (realm
     * turner.facebook: not Google). */
    parse_frame(&t, "104", &m);
    assert_int_equal(m.channel_number, 0x4003);
    addr_is(&m.xor_peer, "185.170.139.1", 12176);
    assert_false(m.vendor_google);
    /* Frame 77: a Send indication to 185.170.139.1:44459 whose DATA is an
     * ICE Binding request (tshark shows it inside DATA). */
    parse_frame(&t, "77", &m);
    assert_int_equal(m.method, KP_STUN_M_SEND);
    assert_int_equal(m.cls, KP_STUN_CLASS_INDICATION);
    addr_is(&m.xor_peer, "185.170.139.1", 44459);
    assert_true(m.has_data);
    assert_int_equal(m.data.len, 100);
    struct kp_stun_msg inner;
    assert_int_equal(kp_stun_parse(&inner, m.data), KP_RES_OK);
    assert_int_equal(inner.type, 0x0001);
    assert_true(inner.has_username && inner.fingerprint_ok);
    /* Frame 26: IPv6 MAPPED-ADDRESS. */
    parse_frame(&t, "26", &m);
    addr_is(&m.mapped, "2001:1670:c:eb04:70af:f67f:8e49:f603", 56880);
    assert_int_equal(m.mapped.family, 2);
    /* Frame 201: IPv6 XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS. */
    parse_frame(&t, "201", &m);
    addr_is(&m.xor_mapped, "2001:b07:a3d:c112:48a1:1094:1227:281e", 48094);
    tsv_free(&t);
}

/* STUN over TCP: bare messages (stun_tcp_multi_msgs_ndpi.pcap, six Allocate
 * requests, three in one segment), RFC 4571 framing (ICE-TCP, the first
 * streams of stun_coturn_dtls_ndpi.pcap) and Coturn over TCP (SOFTWARE
 * "Coturn-4.5.0.5 'dan Eider'"). */
static void test_capture_tcp(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct tsv t;
    tsv_load(&t, "stun_tcp_multi_msgs_ndpi.tsv");
    const struct row *r = tsv_frame(&t, "stream0:42849");
    struct kp_rd s = kp_rd_make(r->p, r->len);
    enum kp_stun_framing fr = KP_STUN_FRAMING_UNKNOWN;
    size_t n = 0;
    while (s.len > 0) {
        struct kp_stun_tcp_frame f;
        assert_int_equal(kp_stun_tcp_next(&f, &s, &fr), KP_RES_OK);
        assert_int_equal(fr, KP_STUN_FRAMING_BARE);
        assert_int_equal(f.kind, KP_STUN_FRAME_STUN);
        assert_int_equal(f.wire_len, 28);
        struct kp_stun_msg m;
        assert_int_equal(kp_stun_parse(&m, f.msg), KP_RES_OK);
        assert_int_equal(m.type, 0x0003);
        assert_int_equal(m.requested_transport, 17);
        n++;
    }
    assert_int_equal(n, 6);
    tsv_free(&t);

    tsv_load(&t, "stun_coturn_dtls_ndpi.tsv");
    r = tsv_frame(&t, "stream0:41588");
    s = kp_rd_make(r->p, r->len);
    fr = KP_STUN_FRAMING_UNKNOWN;
    struct kp_stun_tcp_frame f;
    assert_int_equal(kp_stun_tcp_next(&f, &s, &fr), KP_RES_OK);
    assert_int_equal(fr, KP_STUN_FRAMING_RFC4571);
    assert_int_equal(f.kind, KP_STUN_FRAME_STUN);
    assert_int_equal(f.wire_len, 2 + 0x68);
    bool coturn = false;
    for (size_t i = 0; i < t.n; i++) {
        if (strcmp(t.r[i].kind, "tcp") != 0) {
            continue;
        }
        s = kp_rd_make(t.r[i].p, t.r[i].len);
        fr = KP_STUN_FRAMING_UNKNOWN;
        while (s.len > 0 && kp_stun_tcp_next(&f, &s, &fr) == KP_RES_OK) {
            struct kp_stun_msg m;
            if (f.kind == KP_STUN_FRAME_STUN && kp_stun_parse(&m, f.msg) == KP_RES_OK &&
                m.has_software && rd_is(m.software, "Coturn-4.5.0.5 'dan Eider'")) {
                coturn = true;
            }
        }
    }
    assert_true(coturn);
    tsv_free(&t);
}

/* ---- ChannelData and framing on built input ----------------------------- */

static void test_channel_data_built(void **state)
{
    (void)state;
    struct kp_stun_channel_data cd;
    static const uint8_t cd1[] = {0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(cd1, 9), false), KP_RES_OK);
    assert_int_equal(cd.channel, 0x4001);
    assert_true(rd_is(cd.data, "hello"));
    assert_int_equal(cd.wire_len, 9);
    assert_int_equal(cd.trailing, 0);
    assert_false(cd.reserved_channel || cd.ms_turn);
    /* UDP with padding: trailing 3. */
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(cd1, 12), false), KP_RES_OK);
    assert_int_equal(cd.trailing, 3);
    /* TCP: padding required. */
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(cd1, 12), true), KP_RES_OK);
    assert_int_equal(cd.wire_len, 12);
    for (size_t n = 0; n < 12; n++) {
        uint8_t *p = exact_copy(cd1, n);
        enum kp_res r = kp_stun_parse_channel_data(&cd, kp_rd_make(p, n), true);
        assert_int_equal(r, KP_RES_TRUNCATED);
        r = kp_stun_parse_channel_data(&cd, kp_rd_make(p, n), false);
        assert_int_equal(r, n >= 9 ? KP_RES_OK : KP_RES_TRUNCATED);
        free(p);
    }
    /* Channel ranges. */
    uint8_t c2[4] = {0x7f, 0xff, 0, 0};
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(c2, 4), false), KP_RES_OK);
    assert_true(cd.reserved_channel);
    c2[0] = 0x3f;
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(c2, 4), false), KP_RES_NOT_MINE);
    c2[0] = 0x80;
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(c2, 4), false), KP_RES_NOT_MINE);
    c2[0] = 0xff;
    c2[1] = 0x10;
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(c2, 4), false), KP_RES_OK);
    assert_false(cd.ms_turn); /* no room for the session ID */
    /* Length 0xffff past the end. */
    static const uint8_t c3[] = {0x40, 0x00, 0xff, 0xff, 1, 2, 3};
    assert_int_equal(kp_stun_parse_channel_data(&cd, kp_rd_make(c3, sizeof c3), false),
                     KP_RES_TRUNCATED);
}

static void test_tcp_framing_built(void **state)
{
    (void)state;
    static struct bld msg, s;
    b_header(&msg, 0x0001);
    b_attr(&msg, KP_STUN_A_SOFTWARE, "x", 1, true);
    b_finish(&msg);
    /* Bare: STUN, ChannelData with padding, STUN. */
    s.len = 0;
    b_bytes(&s, msg.b, msg.len);
    b_bytes(&s, "\x40\x02\x00\x03" "abc" "\0", 8);
    b_bytes(&s, msg.b, msg.len);
    uint8_t *p = exact_copy(s.b, s.len);
    struct kp_rd st = kp_rd_make(p, s.len);
    enum kp_stun_framing fr = KP_STUN_FRAMING_UNKNOWN;
    struct kp_stun_tcp_frame f;
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_OK);
    assert_int_equal(fr, KP_STUN_FRAMING_BARE);
    assert_int_equal(f.kind, KP_STUN_FRAME_STUN);
    assert_int_equal(f.msg.len, msg.len);
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_OK);
    assert_int_equal(f.kind, KP_STUN_FRAME_CHANNEL_DATA);
    assert_int_equal(f.msg.len, 7);
    assert_int_equal(f.wire_len, 8);
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_OK);
    assert_int_equal(st.len, 0);
    /* Every prefix: the frames that are whole, then TRUNCATED. */
    for (size_t n = 0; n <= s.len; n++) {
        uint8_t *q = exact_copy(s.b, n);
        struct kp_rd t = kp_rd_make(q, n);
        enum kp_stun_framing fr2 = KP_STUN_FRAMING_UNKNOWN;
        size_t frames = 0;
        enum kp_res r;
        while ((r = kp_stun_tcp_next(&f, &t, &fr2)) == KP_RES_OK) {
            assert_true(inside(f.msg, q, n));
            frames++;
        }
        size_t want = n >= s.len ? 3 : n >= msg.len + 8 ? 2 : n >= msg.len ? 1 : 0;
        assert_int_equal(frames, want);
        assert_int_equal(r, KP_RES_TRUNCATED);
        free(q);
    }
    /* Garbage after a bare message: MALFORMED. */
    p[msg.len] = 0x80;
    st = kp_rd_make(p, s.len);
    fr = KP_STUN_FRAMING_UNKNOWN;
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_OK);
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_MALFORMED);
    free(p);

    /* RFC 4571: STUN, an RTP frame, an empty frame, STUN. */
    s.len = 0;
    b_u16(&s, (uint16_t)msg.len);
    b_bytes(&s, msg.b, msg.len);
    b_u16(&s, 12);
    b_bytes(&s, "\x80\x60\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01", 12);
    b_u16(&s, 0);
    b_u16(&s, (uint16_t)msg.len);
    b_bytes(&s, msg.b, msg.len);
    p = exact_copy(s.b, s.len);
    st = kp_rd_make(p, s.len);
    fr = KP_STUN_FRAMING_UNKNOWN;
    enum kp_stun_frame_kind kinds[] = {KP_STUN_FRAME_STUN, KP_STUN_FRAME_OTHER,
                                       KP_STUN_FRAME_OTHER, KP_STUN_FRAME_STUN};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_OK);
        assert_int_equal(fr, KP_STUN_FRAMING_RFC4571);
        assert_int_equal(f.kind, kinds[i]);
    }
    assert_int_equal(st.len, 0);
    free(p);
    /* Not STUN at all. */
    st = kp_rd_make((const uint8_t *)"GET / HTTP/1.1\r\n", 16);
    fr = KP_STUN_FRAMING_UNKNOWN;
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_NOT_MINE);
    st = kp_rd_make((const uint8_t *)"\x00\x01\x00", 3);
    fr = KP_STUN_FRAMING_UNKNOWN;
    assert_int_equal(kp_stun_tcp_next(&f, &st, &fr), KP_RES_TRUNCATED);
    assert_int_equal(fr, KP_STUN_FRAMING_UNKNOWN);
}

/* ---- Robustness --------------------------------------------------------- */

/* Every message of every capture cut at every length: no crash; OK only
 * with every view inside the prefix. */
static void test_truncation(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    size_t cuts = 0;
    for (size_t f = 0; f < sizeof all_tsv / sizeof all_tsv[0]; f++) {
        struct tsv t;
        tsv_load(&t, all_tsv[f]);
        for (size_t i = 0; i < t.n; i++) {
            const struct row *r = &t.r[i];
            bool tcp = strcmp(r->kind, "tcp") == 0;
            for (size_t n = 0; n <= r->len; n++) {
                uint8_t *p = exact_copy(r->p, n);
                struct kp_rd in = kp_rd_make(p, n);
                struct kp_stun_msg m;
                enum kp_res res = kp_stun_parse(&m, in);
                if (res == KP_RES_OK) {
                    check_views(&m, p, n);
                    if (!tcp && strcmp(r->kind, "channel") != 0) {
                        /* Only the whole message (plus trailing bytes) parses. */
                        assert_true(m.raw.len == n - m.trailing);
                    }
                }
                struct kp_stun_channel_data cd;
                if (kp_stun_parse_channel_data(&cd, in, tcp) == KP_RES_OK) {
                    assert_true(inside(cd.data, p, n));
                    assert_true(cd.wire_len + cd.trailing == n);
                }
                enum kp_stun_framing fr = KP_STUN_FRAMING_UNKNOWN;
                struct kp_stun_tcp_frame tf;
                while (kp_stun_tcp_next(&tf, &in, &fr) == KP_RES_OK) {
                    assert_true(inside(tf.msg, p, n));
                }
                free(p);
                cuts++;
            }
        }
        tsv_free(&t);
    }
    assert_true(cuts > 10000);
}

/* The RFC 5769 vectors cut at every length: TRUNCATED. */
static void test_truncation_rfc5769(void **state)
{
    (void)state;
    const char *rfc[] = {rfc5769_request, rfc5769_ipv4, rfc5769_ipv6};
    for (size_t k = 0; k < 3; k++) {
        size_t len;
        uint8_t *full = unhex(rfc[k], &len);
        for (size_t n = 0; n < len; n++) {
            struct kp_stun_msg m;
            assert_int_equal(parse_copy(&m, full, n), KP_RES_TRUNCATED);
        }
        free(full);
    }
}

/* The message length and every attribute length of every real message
 * moved by -1 and +1, and set to 0xffff: no crash, views inside. */
static void test_length_fields(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    size_t mutations = 0;
    for (size_t f = 0; f < sizeof all_tsv / sizeof all_tsv[0]; f++) {
        struct tsv t;
        tsv_load(&t, all_tsv[f]);
        for (size_t i = 0; i < t.n; i++) {
            const struct row *r = &t.r[i];
            if (strcmp(r->kind, "tcp") == 0 || strcmp(r->kind, "channel") == 0) {
                continue;
            }
            struct kp_stun_msg m;
            assert_int_equal(kp_stun_parse(&m, kp_rd_make(r->p, r->len)), KP_RES_OK);
            size_t pos[KP_STUN_MAX_ATTRS + 1], n_pos = 0;
            pos[n_pos++] = 2;
            for (size_t k = 0; k < m.n_attrs; k++) {
                pos[n_pos++] = (size_t)(m.attrs[k].value.p - r->p) - 2;
            }
            for (size_t k = 0; k < n_pos; k++) {
                for (int d = 0; d < 3; d++) {
                    uint8_t *p = exact_copy(r->p, r->len);
                    uint16_t v = (uint16_t)(p[pos[k]] << 8 | p[pos[k] + 1]);
                    v = d == 0 ? (uint16_t)(v - 1) : d == 1 ? (uint16_t)(v + 1) : 0xffff;
                    p[pos[k]] = (uint8_t)(v >> 8);
                    p[pos[k] + 1] = (uint8_t)v;
                    struct kp_stun_msg mm;
                    enum kp_res res = kp_stun_parse(&mm, kp_rd_make(p, r->len));
                    if (res == KP_RES_OK) {
                        check_views(&mm, p, r->len);
                    }
                    mutations++;
                    free(p);
                }
            }
        }
        tsv_free(&t);
    }
    assert_true(mutations > 1000);
}

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Random messages built from plausible pieces. */
static void test_fuzz(void **state)
{
    (void)state;
    static struct bld b;
    static const uint16_t types[] = {0x0001, 0x0020, 0x0016, 0x0012, 0x0014, 0x0015, 0x0006,
                                     0x8022, 0x0009, 0x000d, 0x000c, 0x0019, 0x0008, 0x8028,
                                     0x000f, 0x0103, 0x4000, 0x8020, 0x0000, 0xc057};
    uint32_t seed = 0xc0ffee;
    for (int iter = 0; iter < 30000; iter++) {
        bool classic = rnd(&seed) % 5 == 0;
        b.len = 0;
        b_u16(&b, (uint16_t)(rnd(&seed) & (rnd(&seed) % 2 ? 0x3fff : 0x0113)));
        b_u16(&b, 0);
        b_u32(&b, classic ? rnd(&seed) : KP_STUN_MAGIC_COOKIE);
        b_bytes(&b, "0123456789ab", 12);
        int n = (int)(rnd(&seed) % 8);
        bool pad = rnd(&seed) % 3 != 0;
        for (int k = 0; k < n; k++) {
            uint16_t t = types[rnd(&seed) % (sizeof types / sizeof types[0])];
            uint16_t len = (uint16_t)(rnd(&seed) % 24);
            if (t == 0x000f && rnd(&seed) % 2) {
                b_attr(&b, t, "\x72\xc6\x4b\xc6", 4, pad);
                continue;
            }
            b_u16(&b, t);
            b_u16(&b, len);
            for (uint16_t j = 0; j < len; j++) {
                b_u8(&b, (uint8_t)(j < 2 ? rnd(&seed) % 3 : rnd(&seed)));
            }
            while (pad && (b.len & 3) != 0) {
                b_u8(&b, 0);
            }
        }
        b_finish(&b);
        if (rnd(&seed) % 4 == 0) {
            b.b[rnd(&seed) % b.len] ^= (uint8_t)(1u << (rnd(&seed) % 8));
        }
        size_t cut = rnd(&seed) % 4 == 0 ? rnd(&seed) % (b.len + 1) : b.len;
        struct kp_stun_msg m;
        (void)parse_copy(&m, b.b, cut);
        uint8_t *p = exact_copy(b.b, cut);
        struct kp_rd in = kp_rd_make(p, cut);
        enum kp_stun_framing fr = KP_STUN_FRAMING_UNKNOWN;
        struct kp_stun_tcp_frame tf;
        while (kp_stun_tcp_next(&tf, &in, &fr) == KP_RES_OK) {
            assert_true(inside(tf.msg, p, cut));
        }
        struct kp_stun_channel_data cd;
        (void)kp_stun_parse_channel_data(&cd, kp_rd_make(p, cut), rnd(&seed) % 2);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_request),
        cmocka_unit_test(test_rfc5769_responses),
        cmocka_unit_test(test_crc32_and_names),
        cmocka_unit_test(test_type_decoding),
        cmocka_unit_test(test_attributes_built),
        cmocka_unit_test(test_dialects_built),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_captures_vs_tshark),
        cmocka_unit_test(test_capture_teams),
        cmocka_unit_test(test_capture_zoom),
        cmocka_unit_test(test_capture_whatsapp),
        cmocka_unit_test(test_capture_google),
        cmocka_unit_test(test_capture_tcp),
        cmocka_unit_test(test_channel_data_built),
        cmocka_unit_test(test_tcp_framing_built),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_truncation_rfc5769),
        cmocka_unit_test(test_length_fields),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
