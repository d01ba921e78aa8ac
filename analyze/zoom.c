/* Zoom media encapsulation; see zoom.h for the layout and its sources. */
#include "zoom.h"

#include <string.h>

/* Offsets relative to the inner header (Michel et al. 2022, table of inner
 * types; NOTES.md). */
#define OFF_AUDIO_RTP 19
#define OFF_VIDEO_RTP_FRAMED 24 /* inner byte 20 == 0x02 */
#define OFF_VIDEO_RTP 20
#define OFF_VIDEO_FLAG 20
#define OFF_SCREEN_SUBTYPE 7
#define OFF_SCREEN_RTP 27
#define OFF_SCREEN_P2P_RTP 20
#define OFF_RTCP 16
#define OFF_MEDIA_SEQ 9
#define OFF_MEDIA_TS 11
#define WRAP_SHIFT 7            /* type-7 wrapper */

/* The P2P hello's length-value list is looked for at offsets 3..63 (it
 * starts at 24 in the captures seen, after 21 bytes of fixed fields); the
 * earliest offset whose walk ends exactly at the end wins, so the list
 * found is the longest. */
#define P2P_SCAN_MAX 64

bool kp_zoom_is_server_port(uint16_t port)
{
    return port >= KP_ZOOM_PORT_MIN && port <= KP_ZOOM_PORT_MAX;
}

const char *kp_zoom_kind_name(enum kp_zoom_kind kind)
{
    switch (kind) {
    case KP_ZOOM_AUDIO:
        return "audio";
    case KP_ZOOM_VIDEO:
        return "video";
    case KP_ZOOM_SCREEN:
        return "screen";
    case KP_ZOOM_RTCP:
        return "rtcp";
    case KP_ZOOM_CONTROL:
        return "control";
    case KP_ZOOM_P2P_HELLO:
        return "p2p-hello";
    case KP_ZOOM_UNKNOWN:
        break;
    }
    return "unknown";
}

static enum kp_zoom_dir dir_of(uint8_t b)
{
    if (b == 0x00 || b == 0x01) {
        return KP_ZOOM_DIR_TO_ZOOM;
    }
    if (b == 0x04 || b == 0x05) {
        return KP_ZOOM_DIR_FROM_ZOOM;
    }
    return KP_ZOOM_DIR_UNKNOWN;
}

/* The bytes of pkt from off on; false if off is past the end. */
static bool from(struct kp_rd pkt, size_t off, struct kp_rd *rest)
{
    *rest = pkt;
    return kp_rd_skip(rest, off);
}

/* RTP at off.  strict: also require no CSRC and an RFC 8285 extension
 * block, which every Zoom RTP header seen carries. */
static enum kp_res try_rtp(struct kp_zoom_pkt *out, struct kp_rd pkt, size_t off, bool strict)
{
    struct kp_rd rest;
    if (!from(pkt, off, &rest)) {
        return KP_RES_TRUNCATED;
    }
    enum kp_res res = kp_rtp_parse(&out->rtp, rest);
    if (res != KP_RES_OK) {
        return res;
    }
    if (strict && (out->rtp.csrc_count != 0 || (out->rtp.ext_form != KP_RTP_EXT_ONE_BYTE &&
                                                out->rtp.ext_form != KP_RTP_EXT_TWO_BYTE))) {
        return KP_RES_NOT_MINE;
    }
    out->has_rtp = true;
    out->rtp_off = off;
    return KP_RES_OK;
}

/* RTCP at off: an SR..PSFB first packet; strict: also a walk that tiles
 * the rest of the datagram or covers two packets. */
static enum kp_res try_rtcp(struct kp_zoom_pkt *out, struct kp_rd pkt, size_t off, bool strict)
{
    struct kp_rd rest;
    if (!from(pkt, off, &rest)) {
        return KP_RES_TRUNCATED;
    }
    enum kp_res res = kp_rtcp_parse(&out->rtcp, rest);
    if (res != KP_RES_OK) {
        return res;
    }
    uint8_t pt = out->rtcp.pkts[0].pt;
    if (pt < KP_RTCP_SR || pt > KP_RTCP_PSFB) {
        return KP_RES_NOT_MINE;
    }
    if (strict && !out->rtcp.tiled && out->rtcp.pkts_total < 2) {
        return KP_RES_NOT_MINE;
    }
    out->has_rtcp = true;
    out->rtp_off = off;
    return KP_RES_OK;
}

/* Try the inner header at inner_off.  alt_layout: the inner header itself
 * sits where the standard layout does not put it (wrapper, 1-byte outer),
 * so every match there is an alternative.  OK when a media header
 * validated; TRUNCATED when the table offset ran out of bytes and nothing
 * else matched; NOT_MINE otherwise. */
static enum kp_res parse_inner(struct kp_zoom_pkt *out, struct kp_rd pkt, size_t inner_off,
                               bool alt_layout, bool may_unwrap)
{
    struct kp_rd in;
    uint8_t type, b;
    size_t cand[2];
    size_t n_cand = 1;
    enum kp_zoom_kind kind;
    bool rtcp = false;

    if (!from(pkt, inner_off, &in) || !kp_rd_peek_u8(&in, 0, &type)) {
        return KP_RES_TRUNCATED;
    }
    switch (type) {
    case KP_ZOOM_T_WRAP:
        if (!may_unwrap) {
            return KP_RES_NOT_MINE;
        }
        {
            enum kp_res res = parse_inner(out, pkt, inner_off + WRAP_SHIFT, true, false);
            if (res == KP_RES_OK) {
                out->wrapped = true;
            }
            return res;
        }
    case KP_ZOOM_T_AUDIO:
        kind = KP_ZOOM_AUDIO;
        cand[0] = OFF_AUDIO_RTP;
        break;
    case KP_ZOOM_T_VIDEO:
        kind = KP_ZOOM_VIDEO;
        if (!kp_rd_peek_u8(&in, OFF_VIDEO_FLAG, &b)) {
            return KP_RES_TRUNCATED;
        }
        cand[0] = b == 0x02 ? OFF_VIDEO_RTP_FRAMED : OFF_VIDEO_RTP;
        cand[1] = b == 0x02 ? OFF_VIDEO_RTP : OFF_VIDEO_RTP_FRAMED;
        n_cand = 2;
        break;
    case KP_ZOOM_T_SCREEN:
        kind = KP_ZOOM_SCREEN;
        if (!kp_rd_peek_u8(&in, OFF_SCREEN_SUBTYPE, &b)) {
            return KP_RES_TRUNCATED;
        }
        if (b != KP_ZOOM_SCREEN_SUBTYPE) {
            return KP_RES_NOT_MINE;
        }
        cand[0] = OFF_SCREEN_RTP;
        break;
    case KP_ZOOM_T_SCREEN_P2P:
        kind = KP_ZOOM_SCREEN;
        cand[0] = OFF_SCREEN_P2P_RTP;
        break;
    default:
        if (type < KP_ZOOM_T_RTCP_FIRST || type > KP_ZOOM_T_RTCP_LAST) {
            return KP_RES_NOT_MINE;
        }
        kind = KP_ZOOM_RTCP;
        rtcp = true;
        cand[0] = OFF_RTCP;
        break;
    }

    enum kp_res first = KP_RES_NOT_MINE;
    for (size_t i = 0; i < n_cand; i++) {
        bool alt = alt_layout || i > 0;
        enum kp_res res = rtcp ? try_rtcp(out, pkt, inner_off + cand[i], alt)
                               : try_rtp(out, pkt, inner_off + cand[i], alt);
        if (i == 0) {
            first = res;
        }
        if (res != KP_RES_OK) {
            continue;
        }
        out->kind = kind;
        out->has_inner = true;
        out->inner_off = inner_off;
        out->inner_type = type;
        out->rtp_rel = cand[i];
        out->rtp_alt = alt;
        if (type == KP_ZOOM_T_AUDIO || type == KP_ZOOM_T_VIDEO || type == KP_ZOOM_T_SCREEN_P2P) {
            struct kp_rd s = in;
            /* Inner +9..10 sequence, +11..14 timestamp; they precede the RTP
             * header, which parsed, so they are inside the bytes. */
            if (kp_rd_skip(&s, OFF_MEDIA_SEQ) && kp_rd_u16(&s, &out->media_seq) &&
                kp_rd_u32(&s, &out->media_ts)) {
                out->has_media_seq = true;
            }
        }
        return KP_RES_OK;
    }
    out->has_rtp = false;
    out->has_rtcp = false;
    return first == KP_RES_TRUNCATED ? KP_RES_TRUNCATED : KP_RES_NOT_MINE;
}

/* Walk a P2P hello length-value list from off: 4-byte big-endian lengths,
 * printable values, a zero length that must end the datagram. */
static bool p2p_list(struct kp_zoom_pkt *out, struct kp_rd pkt, size_t off)
{
    struct kp_rd r;
    uint32_t n_items = 0;
    if (!from(pkt, off, &r)) {
        return false;
    }
    out->n_p2p_items = 0;
    for (;;) {
        uint32_t len;
        struct kp_rd v;
        if (!kp_rd_u32(&r, &len)) {
            return false;
        }
        if (len == 0) {
            break;
        }
        if (!kp_rd_sub(&r, &v, len)) {
            return false;
        }
        for (size_t i = 0; i < v.len; i++) {
            uint8_t c;
            if (!kp_rd_peek_u8(&v, i, &c) || c < 0x20 || c > 0x7e) {
                return false;
            }
        }
        if (out->n_p2p_items < KP_ZOOM_P2P_MAX_ITEMS) {
            out->p2p_item[out->n_p2p_items++] = v;
        }
        n_items++;
    }
    if (kp_rd_left(&r) != 0 || n_items == 0) {
        return false;
    }
    out->p2p_list_ok = true;
    out->p2p_list_off = off;
    out->p2p_items_total = n_items;
    return true;
}

static enum kp_res parse_p2p_hello(struct kp_zoom_pkt *out, struct kp_rd pkt)
{
    static const uint8_t magic[3] = {0x1f, 0x02, 0x01};
    for (size_t i = 0; i < sizeof(magic); i++) {
        uint8_t b;
        if (!kp_rd_peek_u8(&pkt, i, &b)) {
            return KP_RES_TRUNCATED;
        }
        if (b != magic[i]) {
            return KP_RES_NOT_MINE;
        }
    }
    out->kind = KP_ZOOM_P2P_HELLO;
    for (size_t off = sizeof(magic); off < P2P_SCAN_MAX && off < pkt.len; off++) {
        if (p2p_list(out, pkt, off)) {
            break;
        }
    }
    if (!out->p2p_list_ok) {
        out->n_p2p_items = 0;
    }
    return KP_RES_OK;
}

static enum kp_res parse_server(struct kp_zoom_pkt *out, struct kp_rd pkt)
{
    struct kp_rd r = pkt;
    uint8_t b0, b1, b2;

    out->has_outer = true;
    if (!kp_rd_peek_u8(&r, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    out->outer_type = b0;
    switch (b0) {
    case KP_ZOOM_OUTER_HELLO_CLIENT:
    case KP_ZOOM_OUTER_HELLO_SERVER:
        /* Michel et al.: `01 00 02/03` and `02 00 02/03`; zoom_ndpi.pcap has
         * servers answering `02 00 01`, so 01..03 are accepted. */
        if (!kp_rd_peek_u8(&r, 1, &b1)) {
            return KP_RES_TRUNCATED;
        }
        if (b1 != 0x00) {
            return KP_RES_NOT_MINE;
        }
        if (!kp_rd_peek_u8(&r, 2, &b2)) {
            return KP_RES_TRUNCATED;
        }
        if (b2 < 0x01 || b2 > 0x03) {
            return KP_RES_NOT_MINE;
        }
        out->kind = KP_ZOOM_CONTROL;
        out->hello_version = b2;
        out->dir = b0 == KP_ZOOM_OUTER_HELLO_CLIENT ? KP_ZOOM_DIR_TO_ZOOM : KP_ZOOM_DIR_FROM_ZOOM;
        return KP_RES_OK;
    case 0x03:
    case 0x04:
    case 0x07:
        /* Keep-alive / connection messages seen after the hello (13 bytes in
         * zoom_ndpi.pcap for 03/04); their fields are not interpreted. */
        if (kp_rd_left(&r) < (b0 == 0x07 ? 5u : 13u)) {
            return KP_RES_TRUNCATED;
        }
        out->kind = KP_ZOOM_CONTROL;
        return KP_RES_OK;
    case KP_ZOOM_OUTER_MEDIA:
        break;
    default:
        return KP_RES_NOT_MINE;
    }

    if (!kp_rd_skip(&r, 1) || !kp_rd_u16(&r, &out->outer_seq) || !kp_rd_skip(&r, 4) ||
        !kp_rd_u8(&r, &out->outer_dir)) {
        return KP_RES_TRUNCATED;
    }
    out->has_outer_seq = true;
    out->dir = dir_of(out->outer_dir);

    enum kp_res res = parse_inner(out, pkt, KP_ZOOM_OUTER_LEN, false, true);
    if (res == KP_RES_OK) {
        return KP_RES_OK;
    }
    bool truncated = res == KP_RES_TRUNCATED;

    /* The 1-byte outer header (zoom_ndpi.pcap). */
    res = parse_inner(out, pkt, 1, true, true);
    if (res == KP_RES_OK) {
        out->has_outer_seq = false;
        out->outer_seq = 0;
        out->outer_dir = 0;
        out->dir = KP_ZOOM_DIR_UNKNOWN;
        return KP_RES_OK;
    }
    if (truncated) {
        return KP_RES_TRUNCATED;
    }
    out->kind = KP_ZOOM_UNKNOWN;
    out->has_inner = kp_rd_peek_u8(&pkt, KP_ZOOM_OUTER_LEN, &out->inner_type);
    out->inner_off = out->has_inner ? KP_ZOOM_OUTER_LEN : 0;
    return KP_RES_OK;
}

enum kp_res kp_zoom_parse(struct kp_zoom_pkt *out, struct kp_rd udp_payload, bool server_port)
{
    memset(out, 0, sizeof(*out));
    if (server_port) {
        return parse_server(out, udp_payload);
    }
    uint8_t b0;
    if (!kp_rd_peek_u8(&udp_payload, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    if (b0 == 0x1f) {
        return parse_p2p_hello(out, udp_payload);
    }
    return parse_inner(out, udp_payload, 0, false, true);
}
