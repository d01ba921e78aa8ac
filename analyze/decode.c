/* Frame decoding: link layer → IPv4/IPv6 → TCP/UDP.
 *
 * Only what keyprov needs: addresses, ports, TCP sequence state and the
 * transport payload.  Every read goes through the byte reader.
 */
#include "decode.h"

#include <arpa/inet.h>
#include <string.h>

/* libpcap link types (pcap/dlt.h values; LINKTYPE_ values where they differ). */
enum {
    LT_NULL = 0,       /* BSD loopback, host-order AF_ value */
    LT_EN10MB = 1,
    LT_PPP = 9,
    LT_PPP_SERIAL = 50,  /* PPP in HDLC-like framing (RFC 1662) */
    LT_RAW_12 = 12,    /* DLT_RAW on most platforms */
    LT_RAW_14 = 14,    /* DLT_RAW on OpenBSD */
    LT_RAW = 101,      /* LINKTYPE_RAW */
    LT_LOOP = 108,     /* OpenBSD loopback, network-order AF_ value */
    LT_LINUX_SLL = 113,
    LT_IPV4 = 228,
    LT_IPV6 = 229,
    LT_LINUX_SLL2 = 276
};

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100

/* At most this many stacked VLAN tags before we call the frame malformed. */
#define MAX_VLAN_TAGS 4
/* IPv6 extension headers followed before giving up. */
#define MAX_IPV6_EXT 8

bool kp_decode_linktype_ok(int lt)
{
    switch (lt) {
    case LT_NULL: case LT_EN10MB: case LT_RAW_12: case LT_RAW_14: case LT_RAW:
    case LT_LOOP: case LT_LINUX_SLL: case LT_IPV4: case LT_IPV6: case LT_LINUX_SLL2:
    case LT_PPP: case LT_PPP_SERIAL:
        return true;
    default:
        return false;
    }
}

static void addr_v4(struct kp_addr *a, const uint8_t *p)
{
    memset(a->b, 0, 10);
    a->b[10] = 0xff;
    a->b[11] = 0xff;
    memcpy(a->b + 12, p, 4);
}

static enum kp_res decode_tcp(struct kp_rd *r, struct kp_pkt *out)
{
    /* RFC 9293 3.1: data offset counts 32-bit words, minimum 5. */
    struct kp_rd t = *r;
    uint8_t off, flags;
    if (!kp_rd_u16(&t, &out->sport) || !kp_rd_u16(&t, &out->dport) ||
        !kp_rd_u32(&t, &out->seq) || !kp_rd_u32(&t, &out->ack) || !kp_rd_u8(&t, &off) ||
        !kp_rd_u8(&t, &flags)) {
        return KP_RES_TRUNCATED;
    }
    size_t hlen = (size_t)(off >> 4) * 4;
    if (hlen < 20) {
        return KP_RES_MALFORMED;
    }
    struct kp_rd hdr;
    if (!kp_rd_sub(r, &hdr, hlen)) {
        return KP_RES_TRUNCATED;
    }
    out->tcp_flags = flags;
    out->payload = *r;
    return KP_RES_OK;
}

static enum kp_res decode_udp(struct kp_rd *r, struct kp_pkt *out)
{
    uint16_t ulen, csum;
    if (!kp_rd_u16(r, &out->sport) || !kp_rd_u16(r, &out->dport) || !kp_rd_u16(r, &ulen) ||
        !kp_rd_u16(r, &csum)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 768: length covers header and data.  A length larger than what the
     * IP layer carries is malformed; 0 is allowed for IPv6 jumbograms only,
     * which we treat as "use the IP length". */
    if (ulen != 0) {
        if (ulen < 8) {
            return KP_RES_MALFORMED;
        }
        size_t dlen = (size_t)ulen - 8;
        if (dlen < r->len) {
            r->len = dlen;
        }
    }
    out->payload = *r;
    return KP_RES_OK;
}

static enum kp_res decode_ipv4(struct kp_rd r, struct kp_pkt *out);
static enum kp_res decode_ipv6(struct kp_rd r, struct kp_pkt *out);

#define GTPU_PORT 2152

/* GTPv1-U G-PDU (3GPP TS 29.281 5.1): mobile-core taps carry subscriber
 * traffic inside UDP 2152.  Returns the inner IP packet, or false when the
 * payload is not a well-formed G-PDU (then it is left as plain UDP). */
static bool gtpu_inner(struct kp_rd r, struct kp_rd *inner)
{
    uint8_t flags, type, next;
    uint16_t len;
    uint32_t teid;
    if (!kp_rd_u8(&r, &flags) || !kp_rd_u8(&r, &type) || !kp_rd_u16(&r, &len) ||
        !kp_rd_u32(&r, &teid)) {
        return false;
    }
    /* version 1, protocol type GTP, message 255 (G-PDU) */
    if ((flags >> 5) != 1 || (flags & 0x10) == 0 || type != 0xff || len > r.len) {
        return false;
    }
    r.len = len; /* the length counts everything after the mandatory 8 bytes */
    if (flags & 0x07) {
        uint16_t seq;
        uint8_t npdu;
        if (!kp_rd_u16(&r, &seq) || !kp_rd_u8(&r, &npdu) || !kp_rd_u8(&r, &next)) {
            return false;
        }
        /* extension headers: length in 4-octet units, last octet = next type */
        for (int i = 0; next != 0; i++) {
            uint8_t elen;
            if (i == 8 || !kp_rd_u8(&r, &elen) || elen == 0 ||
                !kp_rd_skip(&r, (size_t)elen * 4 - 2) || !kp_rd_u8(&r, &next)) {
                return false;
            }
        }
    }
    uint8_t v;
    if (!kp_rd_peek_u8(&r, 0, &v) || ((v >> 4) != 4 && (v >> 4) != 6)) {
        return false;
    }
    *inner = r;
    return true;
}

static enum kp_res decode_l4(struct kp_rd *r, uint8_t proto, struct kp_pkt *out)
{
    out->proto = proto;
    if (proto == KP_PROTO_TCP) {
        return decode_tcp(r, out);
    }
    if (proto == KP_PROTO_UDP) {
        enum kp_res res = decode_udp(r, out);
        struct kp_rd inner;
        if (res == KP_RES_OK && out->tunnel_depth == 0 &&
            (out->sport == GTPU_PORT || out->dport == GTPU_PORT) &&
            gtpu_inner(out->payload, &inner)) {
            /* analyse the subscriber's packet, once (no nested tunnels) */
            struct kp_pkt outer = *out;
            memset(out, 0, sizeof(*out));
            out->tunnel_depth = 1;
            uint8_t v = 0;
            res = !kp_rd_peek_u8(&inner, 0, &v) ? KP_RES_TRUNCATED
                  : (v >> 4) == 4              ? decode_ipv4(inner, out)
                                               : decode_ipv6(inner, out);
            if (res != KP_RES_OK) {
                *out = outer; /* keep the outer packet rather than lose it */
                res = KP_RES_OK;
            }
        }
        return res;
    }
    out->payload = *r;
    return KP_RES_OK;
}

static enum kp_res decode_ipv4(struct kp_rd r, struct kp_pkt *out)
{
    uint8_t vihl, tos, ttl, proto;
    uint16_t tot, id, frag, csum;
    const struct kp_rd start = r;
    if (!kp_rd_u8(&r, &vihl) || !kp_rd_u8(&r, &tos) || !kp_rd_u16(&r, &tot) ||
        !kp_rd_u16(&r, &id) || !kp_rd_u16(&r, &frag) || !kp_rd_u8(&r, &ttl) ||
        !kp_rd_u8(&r, &proto) || !kp_rd_u16(&r, &csum)) {
        return KP_RES_TRUNCATED;
    }
    uint8_t sa[4], da[4];
    if (!kp_rd_copy(&r, sa, 4) || !kp_rd_copy(&r, da, 4)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 791 3.1: IHL >= 5 words; total length covers the header. */
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (tot == 0) {
        /* Captured before TCP segmentation offload split it: the NIC fills
         * the length in later.  Use what was captured (as Wireshark does). */
        tot = (uint16_t)(start.len < 0xffff ? start.len : 0xffff);
    }
    if ((vihl >> 4) != 4 || ihl < 20 || tot < ihl) {
        return KP_RES_MALFORMED;
    }
    struct kp_rd ip = start;
    /* Ethernet pads short frames: trust the IP total length, not the frame. */
    if (tot < ip.len) {
        ip.len = tot;
    }
    if (!kp_rd_skip(&ip, ihl)) {
        return KP_RES_TRUNCATED;
    }
    out->ipver = 4;
    addr_v4(&out->src, sa);
    addr_v4(&out->dst, da);
    out->proto = proto;
    /* MF set or a non-zero offset: a fragment.  Without reassembly its
     * transport header (first fragment) or payload (later ones) cannot be
     * trusted as a whole, so it is counted and not decoded further. */
    if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) {
        out->fragment = 1;
        out->payload = ip;
        return KP_RES_OK;
    }
    return decode_l4(&ip, proto, out);
}

static enum kp_res decode_ipv6(struct kp_rd r, struct kp_pkt *out)
{
    uint32_t vtf;
    uint16_t plen;
    uint8_t nh, hlim;
    if (!kp_rd_u32(&r, &vtf) || !kp_rd_u16(&r, &plen) || !kp_rd_u8(&r, &nh) ||
        !kp_rd_u8(&r, &hlim) || !kp_rd_copy(&r, out->src.b, 16) ||
        !kp_rd_copy(&r, out->dst.b, 16)) {
        return KP_RES_TRUNCATED;
    }
    if ((vtf >> 28) != 6) {
        return KP_RES_MALFORMED;
    }
    out->ipver = 6;
    /* RFC 8200 3: payload length excludes the fixed header; 0 means a
     * jumbogram (hop-by-hop option), in which case we keep the frame length. */
    if (plen != 0 && plen < r.len) {
        r.len = plen;
    }
    /* RFC 8200 4: walk extension headers. */
    for (int i = 0; i < MAX_IPV6_EXT; i++) {
        uint8_t next, hl;
        switch (nh) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
            if (!kp_rd_u8(&r, &next) || !kp_rd_u8(&r, &hl)) {
                return KP_RES_TRUNCATED;
            }
            if (!kp_rd_skip(&r, (size_t)hl * 8 + 6)) {
                return KP_RES_TRUNCATED;
            }
            nh = next;
            continue;
        case 51: { /* AH, RFC 4302 2.2: length in 4-octet units minus 2 */
            if (!kp_rd_u8(&r, &next) || !kp_rd_u8(&r, &hl)) {
                return KP_RES_TRUNCATED;
            }
            if (!kp_rd_skip(&r, ((size_t)hl + 2) * 4 - 2)) {
                return KP_RES_TRUNCATED;
            }
            nh = next;
            continue;
        }
        case 44: { /* fragment, RFC 8200 4.5 */
            uint8_t rsv;
            uint16_t offm;
            uint32_t ident;
            if (!kp_rd_u8(&r, &next) || !kp_rd_u8(&r, &rsv) || !kp_rd_u16(&r, &offm) ||
                !kp_rd_u32(&r, &ident)) {
                return KP_RES_TRUNCATED;
            }
            if ((offm & 0xfff9) != 0) {
                /* offset or M flag set: a real fragment */
                out->fragment = 1;
                out->proto = next;
                out->payload = r;
                return KP_RES_OK;
            }
            nh = next; /* atomic fragment (RFC 6946): carry on */
            continue;
        }
        default:
            return decode_l4(&r, nh, out);
        }
    }
    return KP_RES_MALFORMED;
}

static enum kp_res decode_ethertype(struct kp_rd r, uint16_t et, struct kp_pkt *out)
{
    for (int tags = 0; et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD; tags++) {
        uint16_t tci;
        if (tags == MAX_VLAN_TAGS) {
            return KP_RES_MALFORMED;
        }
        if (!kp_rd_u16(&r, &tci) || !kp_rd_u16(&r, &et)) {
            return KP_RES_TRUNCATED;
        }
    }
    if (et == ETH_IPV4) {
        return decode_ipv4(r, out);
    }
    if (et == ETH_IPV6) {
        return decode_ipv6(r, out);
    }
    return KP_RES_NOT_MINE;
}

static enum kp_res decode_raw(struct kp_rd r, struct kp_pkt *out)
{
    uint8_t v;
    if (!kp_rd_peek_u8(&r, 0, &v)) {
        return KP_RES_TRUNCATED;
    }
    if ((v >> 4) == 4) {
        return decode_ipv4(r, out);
    }
    if ((v >> 4) == 6) {
        return decode_ipv6(r, out);
    }
    return KP_RES_NOT_MINE;
}

enum kp_res kp_decode(int lt, const uint8_t *data, size_t caplen, struct kp_pkt *out)
{
    struct kp_rd r = kp_rd_make(data, caplen);
    memset(out, 0, sizeof(*out));
    switch (lt) {
    case LT_EN10MB: {
        uint16_t et;
        if (!kp_rd_skip(&r, 12) || !kp_rd_u16(&r, &et)) {
            return KP_RES_TRUNCATED;
        }
        if (et < 0x0600) {
            return KP_RES_NOT_MINE; /* 802.3 length field: LLC, not IP */
        }
        return decode_ethertype(r, et, out);
    }
    case LT_LINUX_SLL: { /* 16-byte header, protocol in the last 2 bytes */
        uint16_t et;
        if (!kp_rd_skip(&r, 14) || !kp_rd_u16(&r, &et)) {
            return KP_RES_TRUNCATED;
        }
        return decode_ethertype(r, et, out);
    }
    case LT_LINUX_SLL2: { /* 20-byte header, protocol first */
        uint16_t et;
        if (!kp_rd_u16(&r, &et) || !kp_rd_skip(&r, 18)) {
            return KP_RES_TRUNCATED;
        }
        return decode_ethertype(r, et, out);
    }
    case LT_RAW_12: case LT_RAW_14: case LT_RAW:
        return decode_raw(r, out);
    case LT_PPP: case LT_PPP_SERIAL: {
        /* RFC 1662 3.1: optional address 0xff and control 0x03, then the
         * RFC 1661 2 protocol field (0x0021 IPv4, 0x0057 IPv6). */
        uint8_t a, ctl;
        uint16_t proto;
        if (kp_rd_peek_u8(&r, 0, &a) && a == 0xff && kp_rd_peek_u8(&r, 1, &ctl) && ctl == 0x03 &&
            !kp_rd_skip(&r, 2)) {
            return KP_RES_TRUNCATED;
        }
        if (!kp_rd_u16(&r, &proto)) {
            return KP_RES_TRUNCATED;
        }
        if (proto == 0x0021) {
            return decode_ipv4(r, out);
        }
        if (proto == 0x0057) {
            return decode_ipv6(r, out);
        }
        return KP_RES_NOT_MINE;
    }
    case LT_IPV4:
        return decode_ipv4(r, out);
    case LT_IPV6:
        return decode_ipv6(r, out);
    case LT_NULL: case LT_LOOP: {
        /* 4-byte address family: host order for DLT_NULL (written by any
         * host), network order for DLT_LOOP.  AF_INET is 2 everywhere; AF_INET6
         * is 10, 24, 28 or 30 depending on the OS; decide by the IP version
         * nibble instead of trusting the value. */
        uint32_t fam;
        if (!kp_rd_u32le(&r, &fam)) {
            return KP_RES_TRUNCATED;
        }
        return decode_raw(r, out);
    }
    default:
        return KP_RES_NOT_MINE;
    }
}

void kp_addr_str(const struct kp_addr *a, char *buf, size_t len)
{
    if (kp_addr_is_v4(a)) {
        inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
    } else {
        inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
    }
}

const char *kp_addr_scope(const struct kp_addr *a)
{
    const uint8_t *b = a->b;
    if (kp_addr_is_v4(a)) {
        const uint8_t *v = b + 12;
        if (v[0] == 10 || (v[0] == 172 && (v[1] & 0xf0) == 16) || (v[0] == 192 && v[1] == 168)) {
            return "private";
        }
        if (v[0] == 100 && (v[1] & 0xc0) == 64) {
            return "shared";
        }
        if (v[0] == 127) {
            return "loopback";
        }
        if (v[0] == 169 && v[1] == 254) {
            return "link-local";
        }
        if (v[0] >= 224 && v[0] <= 239) {
            return "multicast";
        }
        if ((v[0] == 192 && v[1] == 0 && v[2] == 2) || (v[0] == 198 && v[1] == 51 && v[2] == 100) ||
            (v[0] == 203 && v[1] == 0 && v[2] == 113)) {
            return "documentation";
        }
        if (v[0] == 0 || v[0] >= 240 || (v[0] == 192 && v[1] == 0 && v[2] == 0) ||
            (v[0] == 198 && (v[1] & 0xfe) == 18)) {
            return "reserved";
        }
        return NULL;
    }
    static const uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t zero[16] = {0};
    if (memcmp(b, loop, 16) == 0) {
        return "loopback";
    }
    if (memcmp(b, zero, 16) == 0) {
        return "reserved";
    }
    if ((b[0] & 0xfe) == 0xfc) {
        return "private";
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        return "link-local";
    }
    if (b[0] == 0xff) {
        return "multicast";
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
        return "documentation";
    }
    return NULL;
}
