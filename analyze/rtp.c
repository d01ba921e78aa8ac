/* RTP / RTCP / SRTCP parsing and the multi-packet RTP validator; see rtp.h. */
#include "rtp.h"

#include <string.h>

enum kp_rtp_demux kp_rtp_demux(struct kp_rd pkt)
{
    uint8_t b0, b1;
    if (!kp_rd_peek_u8(&pkt, 0, &b0) || !kp_rd_peek_u8(&pkt, 1, &b1)) {
        return KP_RTP_DEMUX_NONE;
    }
    /* RFC 7983 7: 128..191 is RTP/RTCP (version 2). */
    if (b0 < 128 || b0 > 191) {
        return KP_RTP_DEMUX_NONE;
    }
    /* RFC 5761 4: RTCP packet types 192..223 where muxed RTP has M + PT. */
    if (b1 >= 192 && b1 <= 223) {
        return KP_RTP_DEMUX_RTCP;
    }
    return KP_RTP_DEMUX_RTP;
}

/* RFC 8285 4.2: one-byte element headers (ID 4 bits, length - 1 in 4 bits). */
static void parse_ext_one_byte(struct kp_rtp *out, struct kp_rd r)
{
    uint8_t b;
    while (kp_rd_u8(&r, &b)) {
        if (b == 0) {
            continue; /* padding byte between or after elements (RFC 8285 4.2) */
        }
        uint8_t id = (uint8_t)(b >> 4);
        size_t len = (size_t)(b & 0x0f) + 1;
        if (id == 15) {
            /* RFC 8285 4.2: ID 15 ends processing of the whole block. */
            out->anomalies |= KP_RTP_ANOM_EXT_ID15;
            return;
        }
        if (id == 0) {
            /* ID 0 with a non-zero length nibble: not padding, not an element
             * (RFC 8285 4.2 reserves it); nothing after can be trusted. */
            out->anomalies |= KP_RTP_ANOM_EXT_TRAILING;
            return;
        }
        struct kp_rd data;
        if (!kp_rd_sub(&r, &data, len)) {
            /* Runs past the block: seen in real traffic (Zoom), tolerated. */
            out->anomalies |= KP_RTP_ANOM_EXT_TRAILING;
            return;
        }
        if (out->n_ext < KP_RTP_MAX_EXT_ELEMS) {
            out->ext[out->n_ext].id = id;
            out->ext[out->n_ext].data = data;
            out->n_ext++;
        }
        out->ext_total++;
    }
}

/* RFC 8285 4.3: two-byte element headers (ID 8 bits, length 8 bits). */
static void parse_ext_two_byte(struct kp_rtp *out, struct kp_rd r)
{
    uint8_t id, len;
    while (kp_rd_u8(&r, &id)) {
        if (id == 0) {
            continue; /* padding (RFC 8285 4.3) */
        }
        struct kp_rd data;
        if (!kp_rd_u8(&r, &len) || !kp_rd_sub(&r, &data, len)) {
            out->anomalies |= KP_RTP_ANOM_EXT_TRAILING;
            return;
        }
        if (out->n_ext < KP_RTP_MAX_EXT_ELEMS) {
            out->ext[out->n_ext].id = id;
            out->ext[out->n_ext].data = data;
            out->n_ext++;
        }
        out->ext_total++;
    }
}

enum kp_res kp_rtp_parse(struct kp_rtp *out, struct kp_rd pkt)
{
    memset(out, 0, sizeof(*out));
    struct kp_rd r = pkt;
    uint8_t b0, b1;
    if (!kp_rd_u8(&r, &b0)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 3550 5.1: V is the top two bits and must be 2. */
    if ((b0 >> 6) != 2) {
        return KP_RES_NOT_MINE;
    }
    if (!kp_rd_u8(&r, &b1)) {
        return KP_RES_TRUNCATED;
    }
    out->version = 2;
    out->padding = (b0 & 0x20) != 0;
    out->extension = (b0 & 0x10) != 0;
    out->csrc_count = (uint8_t)(b0 & 0x0f);
    out->marker = (b1 & 0x80) != 0;
    out->pt = (uint8_t)(b1 & 0x7f);
    /* RFC 5761 4: payload types 64..95 collide with RTCP 192..223. */
    if (out->pt >= 64 && out->pt <= 95) {
        return KP_RES_NOT_MINE;
    }
    if (!kp_rd_u16(&r, &out->seq) || !kp_rd_u32(&r, &out->ts) || !kp_rd_u32(&r, &out->ssrc)) {
        return KP_RES_TRUNCATED;
    }
    for (uint8_t i = 0; i < out->csrc_count; i++) {
        if (!kp_rd_u32(&r, &out->csrc[i])) {
            return KP_RES_TRUNCATED;
        }
    }
    out->header_len = KP_RTP_HDR_LEN + 4u * out->csrc_count;
    if (out->extension) {
        /* RFC 3550 5.3.1: 16-bit profile value, 16-bit length in words. */
        if (!kp_rd_u16(&r, &out->ext_profile) || !kp_rd_u16(&r, &out->ext_words) ||
            !kp_rd_sub(&r, &out->ext_data, (size_t)out->ext_words * 4u)) {
            return KP_RES_TRUNCATED;
        }
        out->header_len += 4u + (size_t)out->ext_words * 4u;
        if (out->ext_profile == 0xBEDE) {
            out->ext_form = KP_RTP_EXT_ONE_BYTE;
            parse_ext_one_byte(out, out->ext_data);
        } else if ((out->ext_profile & 0xfff0) == 0x1000) {
            /* RFC 8285 4.3: 0x100 followed by 4 "appbits". */
            out->ext_form = KP_RTP_EXT_TWO_BYTE;
            parse_ext_two_byte(out, out->ext_data);
        } else {
            out->ext_form = KP_RTP_EXT_OTHER;
        }
    }
    out->payload = r;
    if (out->padding) {
        /* RFC 3550 5.1: the last octet counts the padding, itself included. */
        uint8_t n = 0;
        size_t left = kp_rd_left(&r);
        if (left > 0 && kp_rd_peek_u8(&r, left - 1, &n) && n > 0 && n <= left) {
            out->pad_len = n;
            out->payload.len = left - n;
        } else {
            out->anomalies |= KP_RTP_ANOM_BAD_PADDING;
        }
    }
    return KP_RES_OK;
}

/* ---- RTCP ------------------------------------------------------------------- */

const char *kp_rtcp_type_name(uint8_t pt)
{
    static const char *const names[] = {"SR", "RR", "SDES", "BYE", "APP", "RTPFB", "PSFB", "XR"};
    if (pt >= KP_RTCP_SR && pt <= KP_RTCP_XR) {
        return names[pt - KP_RTCP_SR];
    }
    return NULL;
}

/* Read one RTCP common header (RFC 3550 6.4.1) at the start of r and cut the
 * packet off.  False if it is not an RTCP header or does not fit. */
static bool next_packet(struct kp_rd *r, struct kp_rtcp_pkt *p, bool *fits)
{
    struct kp_rd t = *r;
    uint8_t b0, b1;
    uint16_t len;
    *fits = false;
    if (!kp_rd_u8(&t, &b0) || !kp_rd_u8(&t, &b1) || !kp_rd_u16(&t, &len)) {
        return false;
    }
    if ((b0 >> 6) != 2 || b1 < 192 || b1 > 223) {
        return false;
    }
    memset(p, 0, sizeof(*p));
    p->pt = b1;
    p->count = (uint8_t)(b0 & 0x1f);
    p->padding = (b0 & 0x20) != 0;
    p->length = len;
    p->size = 4u * ((size_t)len + 1u);
    if (!kp_rd_sub(&t, &p->body, p->size - 4u)) {
        return false;
    }
    *fits = true;
    struct kp_rd b = p->body;
    if (kp_rd_u32(&b, &p->ssrc)) {
        p->has_ssrc = true;
    }
    *r = t;
    return true;
}

/* RFC 3550 6.4.1: SR body = SSRC, 20 bytes of sender info, RC report blocks. */
static void decode_sr(struct kp_rtcp *out, const struct kp_rtcp_pkt *p, struct kp_rd body)
{
    uint32_t hi, lo;
    struct kp_rd b = body;
    if (!kp_rd_skip(&b, 4) || !kp_rd_u32(&b, &hi) || !kp_rd_u32(&b, &lo) ||
        !kp_rd_u32(&b, &out->sr_rtp_ts) || !kp_rd_u32(&b, &out->sr_packets) ||
        !kp_rd_u32(&b, &out->sr_octets) || kp_rd_left(&b) < 24u * p->count) {
        out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
        out->sr_rtp_ts = out->sr_packets = out->sr_octets = 0;
        return;
    }
    out->has_sr = true;
    out->sr_ssrc = p->ssrc;
    out->sr_ntp = ((uint64_t)hi << 32) | lo;
}

/* RFC 3550 6.5: SDES chunks = SSRC, items (type, length, text), a null item,
 * padding to a word boundary.  Only the first CNAME is kept. */
static void decode_sdes(struct kp_rtcp *out, const struct kp_rtcp_pkt *p, struct kp_rd body)
{
    struct kp_rd b = body;
    for (uint8_t c = 0; c < p->count; c++) {
        uint32_t ssrc;
        size_t start = kp_rd_left(&b);
        if (!kp_rd_u32(&b, &ssrc)) {
            out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
            return;
        }
        for (;;) {
            uint8_t type;
            struct kp_rd text;
            if (!kp_rd_u8(&b, &type)) {
                out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
                return;
            }
            if (type == 0) {
                break; /* end of the chunk's item list */
            }
            if (!kp_rd_vec8(&b, &text)) {
                out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
                return;
            }
            if (type == KP_RTCP_SDES_CNAME && !out->has_cname) {
                out->has_cname = true;
                out->cname_ssrc = ssrc;
                out->cname = text;
            }
        }
        /* Chunks end on a 32-bit boundary: skip the null bytes up to it. */
        size_t used = start - kp_rd_left(&b);
        size_t pad = (4u - used % 4u) % 4u;
        if (!kp_rd_skip(&b, pad)) {
            out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
            return;
        }
    }
}

/* RFC 3550 6.6: BYE = SC SSRCs, then an optional length-prefixed reason. */
static void decode_bye(struct kp_rtcp *out, const struct kp_rtcp_pkt *p, struct kp_rd body)
{
    struct kp_rd b = body, reason = {NULL, 0};
    if (!kp_rd_skip(&b, 4u * (size_t)p->count)) {
        out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
        return;
    }
    uint8_t first;
    if (kp_rd_peek_u8(&b, 0, &first) && first > 0 && !kp_rd_vec8(&b, &reason)) {
        out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
        return;
    }
    out->has_bye = true;
    out->bye_reason = reason;
}

/* RFC 3550 6.7: APP = SSRC, 4-byte ASCII name, data. */
static void decode_app(struct kp_rtcp *out, struct kp_rd body)
{
    struct kp_rd b = body, name;
    if (!kp_rd_skip(&b, 4) || !kp_rd_sub(&b, &name, 4)) {
        out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
        return;
    }
    out->has_app = true;
    out->app_name = name;
}

/* Compute the SRTCP trailer candidates (RFC 3711 3.4) over the whole
 * datagram.  The original compound is whole words and at least as long as
 * the first packet; the E flag + index word follows it (or its AEAD tag). */
static void srtcp_candidates(struct kp_rtcp *out, struct kp_rd dgram)
{
    static const uint8_t tags[KP_SRTCP_N_TAGS] = {10, 4, 0};
    size_t first_end = out->pkts[0].size;
    for (size_t i = 0; i < KP_SRTCP_N_TAGS; i++) {
        struct kp_srtcp_cand *c = &out->srtcp[i];
        c->tag_len = tags[i];
        if (dgram.len < (size_t)tags[i] + 4u) {
            continue;
        }
        size_t pos = dgram.len - tags[i] - 4u;
        if (pos < first_end || pos % 4u != 0) {
            continue;
        }
        struct kp_rd t = dgram;
        uint32_t w;
        if (!kp_rd_skip(&t, pos) || !kp_rd_u32(&t, &w)) {
            continue;
        }
        c->valid = true;
        c->e = (w & 0x80000000u) != 0;
        c->index = w & 0x7fffffffu;
    }
}

enum kp_res kp_rtcp_parse(struct kp_rtcp *out, struct kp_rd dgram)
{
    memset(out, 0, sizeof(*out));
    struct kp_rd r = dgram;
    struct kp_rtcp_pkt p;
    bool fits;
    uint8_t b0, b1;

    if (!kp_rd_peek_u8(&r, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    if ((b0 >> 6) != 2) {
        return KP_RES_NOT_MINE;
    }
    if (!kp_rd_peek_u8(&r, 1, &b1)) {
        return KP_RES_TRUNCATED;
    }
    if (b1 < 192 || b1 > 223) {
        return KP_RES_NOT_MINE;
    }
    if (!next_packet(&r, &p, &fits)) {
        return KP_RES_TRUNCATED; /* header or length past the end */
    }
    for (;;) {
        p.offset = out->walked;
        if (out->n_pkts < KP_RTCP_MAX_PKTS) {
            out->pkts[out->n_pkts++] = p;
        } else {
            out->anomalies |= KP_RTCP_ANOM_CAPPED;
        }
        out->pkts_total++;
        out->walked += p.size;
        if (!next_packet(&r, &p, &fits)) {
            break;
        }
    }
    out->tiled = kp_rd_left(&r) == 0;
    out->tail = r;

    /* RFC 3550 6.1 / A.2: SR or RR first (unless reduced-size, RFC 5506),
     * padding only on the last packet. */
    if (out->pkts[0].pt != KP_RTCP_SR && out->pkts[0].pt != KP_RTCP_RR) {
        out->anomalies |= KP_RTCP_ANOM_NOT_SR_RR_FIRST;
    }
    for (size_t i = 0; i + 1 < out->n_pkts; i++) {
        if (out->pkts[i].padding) {
            out->anomalies |= KP_RTCP_ANOM_PADDING_NOT_LAST;
        }
    }
    for (size_t i = 0; i < out->n_pkts; i++) {
        const struct kp_rtcp_pkt *q = &out->pkts[i];
        struct kp_rd body = q->body;
        if (q->padding && i + 1 == out->n_pkts && out->tiled) {
            /* RFC 3550 6.4.1: the last octet counts the padding. */
            uint8_t n = 0;
            if (body.len > 0 && kp_rd_peek_u8(&body, body.len - 1, &n) && n > 0 &&
                n <= body.len) {
                body.len -= n;
            } else {
                out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
            }
        }
        switch (q->pt) {
        case KP_RTCP_SR:
            if (!out->has_sr) {
                decode_sr(out, q, body);
            }
            break;
        case KP_RTCP_RR:
            if (body.len < 4u + 24u * q->count) {
                out->anomalies |= KP_RTCP_ANOM_BAD_BODY;
            }
            break;
        case KP_RTCP_SDES:
            if (!out->has_cname) {
                decode_sdes(out, q, body);
            }
            break;
        case KP_RTCP_BYE:
            if (!out->has_bye) {
                decode_bye(out, q, body);
            }
            break;
        case KP_RTCP_APP:
            if (!out->has_app) {
                decode_app(out, body);
            }
            break;
        default:
            break;
        }
    }
    if (!out->tiled) {
        srtcp_candidates(out, dgram);
    }
    return KP_RES_OK;
}

/* ---- Validator ----------------------------------------------------------------- */

void kp_rtp_track_init(struct kp_rtp_track *t)
{
    memset(t, 0, sizeof(*t));
}

static struct kp_rtp_track_slot *track_slot(struct kp_rtp_track *t, uint32_t ssrc, bool *fresh)
{
    struct kp_rtp_track_slot *victim = &t->slot[0];
    *fresh = false;
    for (size_t i = 0; i < KP_RTP_TRACK_SLOTS; i++) {
        struct kp_rtp_track_slot *s = &t->slot[i];
        if (s->used && s->ssrc == ssrc) {
            return s;
        }
        if (!s->used) {
            if (victim->used) {
                victim = s;
            }
        } else if (victim->used && s->last_use < victim->last_use) {
            victim = s;
        }
    }
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    victim->ssrc = ssrc;
    *fresh = true;
    return victim;
}

bool kp_rtp_track_rtp(struct kp_rtp_track *t, const struct kp_rtp *h)
{
    bool fresh;
    t->packets++;
    struct kp_rtp_track_slot *s = track_slot(t, h->ssrc, &fresh);
    s->packets++;
    s->last_use = t->packets;
    if (fresh) {
        s->seq = h->seq;
        s->ts = h->ts;
        s->pt = h->pt;
        s->run = 1;
    } else {
        /* RFC 3550 A.1: sequence distance modulo 2^16. */
        uint16_t ahead = (uint16_t)(h->seq - s->seq);
        uint16_t behind = (uint16_t)(s->seq - h->seq);
        uint32_t ts_ahead = h->ts - s->ts;
        if (ahead >= 1 && ahead < KP_RTP_MAX_DROPOUT && ts_ahead <= KP_RTP_MAX_TS_JUMP &&
            h->pt == s->pt) {
            t->consistent++;
            s->run++;
        } else if (behind <= KP_RTP_MAX_MISORDER && h->pt == s->pt) {
            t->reordered++;
            return t->is_rtp; /* late or duplicate: the stream state stays */
        } else {
            t->inconsistent++;
            s->run = 1;
        }
        s->seq = h->seq;
        s->ts = h->ts;
        s->pt = h->pt;
    }
    if (!t->is_rtp && s->run >= KP_RTP_TRACK_MIN) {
        t->is_rtp = true;
        t->rtp_ssrc = s->ssrc;
        t->rtp_pt = s->pt;
    }
    return t->is_rtp;
}

bool kp_rtp_track_rtcp(struct kp_rtp_track *t, const struct kp_rtcp *c)
{
    t->rtcp_packets++;
    if (c->tiled) {
        return t->is_srtcp;
    }
    for (size_t i = 0; i < KP_SRTCP_N_TAGS; i++) {
        const struct kp_srtcp_cand *k = &c->srtcp[i];
        if (!k->valid) {
            t->srtcp_seen[i] = false;
            t->srtcp_run[i] = 0;
            continue;
        }
        /* RFC 3711 3.4: the index counts SRTCP packets, 31 bits. */
        uint32_t ahead = (k->index - t->srtcp_last[i]) & 0x7fffffffu;
        if (t->srtcp_seen[i] && ahead >= 1 && ahead < KP_RTP_MAX_DROPOUT &&
            k->e == t->srtcp_last_e[i]) {
            t->srtcp_run[i]++;
        } else {
            t->srtcp_run[i] = 1;
        }
        t->srtcp_seen[i] = true;
        t->srtcp_last[i] = k->index;
        t->srtcp_last_e[i] = k->e;
        if (!t->is_srtcp && t->srtcp_run[i] >= KP_RTP_TRACK_MIN) {
            t->is_srtcp = true;
            t->srtcp_tag_len = k->tag_len;
            t->srtcp_encrypted = k->e;
        }
    }
    return t->is_srtcp;
}
