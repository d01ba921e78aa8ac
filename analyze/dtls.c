/* DTLS record layer, handshake fragments and their reassembly.  See dtls.h
 * for the contracts; comments here say why, citing the RFC section
 * enforced. */
#include "dtls.h"

#include <stddef.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------ */

const char *kp_dtls_version_name(uint16_t v)
{
    if (v == KP_DTLS_V_BAD) {
        return "DTLS 1.0 (OpenSSL pre 0.9.8f)";
    }
    return kp_tls_version_name(v);
}

const char *kp_srtp_profile_name(uint16_t profile)
{
    /* IANA "DTLS-SRTP Protection Profiles"; 0x0003-0x0004 are unassigned. */
    switch (profile) {
    case 0x0001:
        return "SRTP_AES128_CM_HMAC_SHA1_80"; /* RFC 5764 4.1.2 */
    case 0x0002:
        return "SRTP_AES128_CM_HMAC_SHA1_32";
    case 0x0005:
        return "SRTP_NULL_HMAC_SHA1_80";
    case 0x0006:
        return "SRTP_NULL_HMAC_SHA1_32";
    case 0x0007:
        return "SRTP_AEAD_AES_128_GCM"; /* RFC 7714 14.2 */
    case 0x0008:
        return "SRTP_AEAD_AES_256_GCM";
    case 0x0009:
        return "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM"; /* RFC 8723 10.1 */
    case 0x000a:
        return "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM";
    case 0x000b:
        return "SRTP_ARIA_128_CTR_HMAC_SHA1_80"; /* RFC 8269 6.1 */
    case 0x000c:
        return "SRTP_ARIA_128_CTR_HMAC_SHA1_32";
    case 0x000d:
        return "SRTP_ARIA_256_CTR_HMAC_SHA1_80";
    case 0x000e:
        return "SRTP_ARIA_256_CTR_HMAC_SHA1_32";
    case 0x000f:
        return "SRTP_AEAD_ARIA_128_GCM";
    case 0x0010:
        return "SRTP_AEAD_ARIA_256_GCM";
    default:
        return NULL;
    }
}

/* ---- Record layer ------------------------------------------------------- */

static bool version_is_dtls(uint16_t v)
{
    /* RFC 6347 4.1 (0xfeff, 0xfefd), RFC 9147 5.3 (0xfefc appears only in
     * supported_versions, tolerated here), and OpenSSL's DTLS1_BAD_VER. */
    return v == KP_TLS_V_DTLS10 || v == KP_TLS_V_DTLS12 || v == KP_TLS_V_DTLS13 ||
           v == KP_DTLS_V_BAD;
}

/* RFC 9147 4: the unified header.
 *   0 0 1 C S L E E, [connection ID], sequence (8 or 16 bits), [length 16].
 * C: a CID is present; S: 16-bit sequence; L: length present (else the
 * record runs to the end of the datagram); EE: the epoch's two low bits. */
static enum kp_res parse_unified(struct kp_dtls_record *out, struct kp_rd *dgram, size_t cid_len)
{
    struct kp_rd d = *dgram;
    uint8_t b0 = 0;
    if (!kp_rd_u8(&d, &b0)) {
        return KP_RES_TRUNCATED;
    }
    out->unified = true;
    out->encrypted = true;
    out->epoch = b0 & 0x03;
    if ((b0 & 0x10) != 0) {
        out->has_cid = true;
        if (cid_len == KP_DTLS_CID_UNKNOWN) {
            /* Without the CID length nothing after it can be located: take
             * the rest of the datagram as this record. */
            out->cid_unknown = true;
            out->payload = d;
            out->wire_len = dgram->len;
            dgram->p += dgram->len;
            dgram->len = 0;
            return KP_RES_OK;
        }
        if (!kp_rd_sub(&d, &out->cid, cid_len)) {
            return KP_RES_TRUNCATED;
        }
    }
    if ((b0 & 0x08) != 0) {
        uint16_t s = 0;
        if (!kp_rd_u16(&d, &s)) {
            return KP_RES_TRUNCATED;
        }
        out->seq = s;
    } else {
        uint8_t s = 0;
        if (!kp_rd_u8(&d, &s)) {
            return KP_RES_TRUNCATED;
        }
        out->seq = s;
    }
    if ((b0 & 0x04) != 0) {
        uint16_t len = 0;
        if (!kp_rd_u16(&d, &len)) {
            return KP_RES_TRUNCATED;
        }
        if (len > KP_DTLS_MAX_RECORD_LEN) {
            return KP_RES_MALFORMED;
        }
        if (!kp_rd_sub(&d, &out->payload, len)) {
            return KP_RES_TRUNCATED;
        }
    } else {
        out->length_implicit = true;
        out->payload = d;
        d.p += d.len;
        d.len = 0;
    }
    out->wire_len = dgram->len - d.len;
    *dgram = d;
    return KP_RES_OK;
}

enum kp_res kp_dtls_parse_record(struct kp_dtls_record *out, struct kp_rd *dgram, size_t cid_len)
{
    memset(out, 0, sizeof *out);
    uint8_t b0 = 0;
    if (!kp_rd_peek_u8(dgram, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 9147 4 / RFC 7983: 0x20..0x3f is a unified header. */
    if ((b0 & 0xe0) == 0x20) {
        return parse_unified(out, dgram, cid_len);
    }
    /* RFC 6347 4.1 content types 20..24, tls12_cid 25 (RFC 9146), ack 26
     * (RFC 9147 7). */
    if (b0 < KP_TLS_CT_CHANGE_CIPHER_SPEC || b0 > KP_DTLS_CT_ACK) {
        return KP_RES_NOT_MINE;
    }
    struct kp_rd d = *dgram;
    uint8_t ct = 0;
    uint16_t version = 0;
    if (!kp_rd_u8(&d, &ct) || !kp_rd_u16(&d, &version)) {
        return KP_RES_TRUNCATED;
    }
    if (!version_is_dtls(version)) {
        return KP_RES_NOT_MINE;
    }
    uint16_t epoch = 0, seq_hi = 0;
    uint32_t seq_lo = 0;
    if (!kp_rd_u16(&d, &epoch) || !kp_rd_u16(&d, &seq_hi) || !kp_rd_u32(&d, &seq_lo)) {
        return KP_RES_TRUNCATED;
    }
    out->content_type = ct;
    out->version = version;
    out->epoch = epoch;
    out->seq = ((uint64_t)seq_hi << 32) | seq_lo;
    out->encrypted = epoch != 0 || ct == KP_DTLS_CT_TLS12_CID;
    if (ct == KP_DTLS_CT_TLS12_CID) {
        /* RFC 9146 4: a CID is used only with protected records. */
        if (epoch == 0) {
            return KP_RES_MALFORMED;
        }
        out->has_cid = true;
        if (cid_len == KP_DTLS_CID_UNKNOWN) {
            out->cid_unknown = true;
            out->payload = d;
            out->wire_len = dgram->len;
            dgram->p += dgram->len;
            dgram->len = 0;
            return KP_RES_OK;
        }
        if (!kp_rd_sub(&d, &out->cid, cid_len)) {
            return KP_RES_TRUNCATED;
        }
    }
    uint16_t len = 0;
    if (!kp_rd_u16(&d, &len)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 6347 4.1: DTLSCiphertext.length <= 2^14 + 2048. */
    if (len > KP_DTLS_MAX_RECORD_LEN) {
        return KP_RES_MALFORMED;
    }
    if (!kp_rd_sub(&d, &out->payload, len)) {
        return KP_RES_TRUNCATED;
    }
    out->wire_len = dgram->len - d.len;
    *dgram = d;
    return KP_RES_OK;
}

/* ---- Handshake fragments ------------------------------------------------ */

enum kp_res kp_dtls_parse_hs_frag(struct kp_dtls_hs_frag *out, struct kp_rd *payload)
{
    struct kp_rd p = *payload;
    uint8_t type = 0;
    uint32_t length = 0, offset = 0;
    uint16_t seq = 0;
    struct kp_rd frag;
    /* RFC 6347 4.2.2: msg_type, length(24), message_seq, fragment_offset(24),
     * fragment_length(24), then the fragment.  Fragments never span records
     * (RFC 6347 4.2.3), so running out of bytes is an error, not a short
     * capture. */
    if (!kp_rd_u8(&p, &type) || !kp_rd_u24(&p, &length) || !kp_rd_u16(&p, &seq) ||
        !kp_rd_u24(&p, &offset) || !kp_rd_vec24(&p, &frag)) {
        return KP_RES_MALFORMED;
    }
    if (offset > length || frag.len > length - offset) {
        return KP_RES_MALFORMED;
    }
    out->msg_type = type;
    out->length = length;
    out->message_seq = seq;
    out->fragment_offset = offset;
    out->fragment = frag;
    *payload = p;
    return KP_RES_OK;
}

/* ---- Handshake reassembly ----------------------------------------------- */

void kp_dtls_hs_reset(struct kp_dtls_hs *hs)
{
    /* buf is last and read only where have[] (cleared per message) says. */
    memset(hs, 0, offsetof(struct kp_dtls_hs, buf));
}

/* Mark message base + rel delivered and move base past the delivered
 * messages at the start of the window. */
static void hs_mark_done(struct kp_dtls_hs *hs, uint32_t rel)
{
    hs->done |= (uint64_t)1 << rel;
    hs->delivered++;
    while ((hs->done & 1u) != 0 && hs->base < 0xffffu) {
        hs->done >>= 1;
        hs->base++;
    }
}

static void hs_deliver(kp_dtls_msg_cb cb, void *user, uint8_t type, uint16_t seq,
                       struct kp_rd body, bool reassembled)
{
    if (cb == NULL) {
        return;
    }
    struct kp_dtls_msg m = {type, seq, body, reassembled};
    cb(&m, user);
}

static enum kp_res hs_drop(struct kp_dtls_hs *hs, uint32_t *anom, uint32_t bit,
                           enum kp_res r)
{
    hs->dropped++;
    hs->anomalies |= bit;
    *anom |= bit;
    return r;
}

/* kp_dtls_hs_add, reporting the anomaly bits it set in *anom. */
static enum kp_res hs_add(struct kp_dtls_hs *hs, const struct kp_dtls_hs_frag *frag,
                          kp_dtls_msg_cb cb, void *user, uint32_t *anom)
{
    size_t flen = frag->fragment.len;
    uint32_t off = frag->fragment_offset;
    /* RFC 6347 4.2.2: the fragment lies inside the message. */
    if (off > frag->length || flen > frag->length - off) {
        return hs_drop(hs, anom, 0, KP_RES_MALFORMED);
    }
    /* Below the window: every such message was delivered; this is a
     * retransmitted flight (RFC 6347 4.2.4). */
    if (frag->message_seq < hs->base) {
        return KP_RES_OK;
    }
    uint32_t rel = (uint32_t)frag->message_seq - hs->base;
    if (rel >= KP_DTLS_HS_WINDOW) {
        return hs_drop(hs, anom, KP_DTLS_ANOM_SEQ_WINDOW, KP_RES_NOMEM);
    }
    if (((hs->done >> rel) & 1u) != 0) {
        return KP_RES_OK;
    }
    struct kp_dtls_hs_slot *slot = NULL;
    struct kp_dtls_hs_buf *buf = NULL;
    for (size_t i = 0; i < KP_DTLS_HS_SLOTS; i++) {
        if (hs->slot[i].used && hs->slot[i].message_seq == frag->message_seq) {
            slot = &hs->slot[i];
            buf = &hs->buf[i];
            break;
        }
    }
    if (slot == NULL && off == 0 && flen == frag->length) {
        /* A whole message in one fragment: no copy, no size limit. */
        hs_mark_done(hs, rel);
        hs_deliver(cb, user, frag->msg_type, frag->message_seq, frag->fragment, false);
        return KP_RES_OK;
    }
    if (slot == NULL) {
        if (frag->length > KP_DTLS_HS_MAX_MSG) {
            return hs_drop(hs, anom, KP_DTLS_ANOM_MSG_TOO_LONG, KP_RES_NOMEM);
        }
        for (size_t i = 0; i < KP_DTLS_HS_SLOTS; i++) {
            if (!hs->slot[i].used) {
                slot = &hs->slot[i];
                buf = &hs->buf[i];
                break;
            }
        }
        if (slot == NULL) {
            return hs_drop(hs, anom, KP_DTLS_ANOM_NO_SLOT, KP_RES_NOMEM);
        }
        slot->used = true;
        slot->msg_type = frag->msg_type;
        slot->message_seq = frag->message_seq;
        slot->length = frag->length;
        slot->received = 0;
        memset(buf->have, 0, (frag->length + 7) / 8);
    } else if (slot->msg_type != frag->msg_type || slot->length != frag->length) {
        /* RFC 6347 4.2.2: every fragment of a message repeats its type and
         * length; one that does not belongs to no message we can build. */
        return hs_drop(hs, anom, KP_DTLS_ANOM_FRAG_INCONSISTENT, KP_RES_MALFORMED);
    }
    /* Copy the bytes not yet received; keep the first copy of the others
     * (retransmissions and overlaps, RFC 6347 4.2.2 allows both). */
    struct kp_rd src = frag->fragment;
    for (size_t i = 0; i < flen; i++) {
        uint8_t b = 0;
        if (!kp_rd_u8(&src, &b)) {
            break;
        }
        size_t pos = off + i;
        uint8_t bit = (uint8_t)(1u << (pos & 7));
        if ((buf->have[pos >> 3] & bit) == 0) {
            buf->have[pos >> 3] |= bit;
            buf->body[pos] = b;
            slot->received++;
        } else if (buf->body[pos] != b) {
            hs->anomalies |= KP_DTLS_ANOM_OVERLAP_MISMATCH;
            *anom |= KP_DTLS_ANOM_OVERLAP_MISMATCH;
        }
    }
    if (slot->received == slot->length) {
        hs_mark_done(hs, rel);
        hs_deliver(cb, user, slot->msg_type, slot->message_seq,
                   kp_rd_make(buf->body, slot->length), true);
        slot->used = false;
    }
    return KP_RES_OK;
}

enum kp_res kp_dtls_hs_add(struct kp_dtls_hs *hs, const struct kp_dtls_hs_frag *frag,
                           kp_dtls_msg_cb cb, void *user)
{
    uint32_t anom = 0;
    return hs_add(hs, frag, cb, user, &anom);
}

/* ---- Datagram scan ------------------------------------------------------ */

/* Split an epoch-0 handshake record into fragments and hand them on. */
static enum kp_res scan_handshake(struct kp_dtls_dgram *out, struct kp_rd payload,
                                  struct kp_dtls_hs *hs, kp_dtls_msg_cb cb, void *user)
{
    while (payload.len > 0) {
        struct kp_dtls_hs_frag frag;
        if (kp_dtls_parse_hs_frag(&frag, &payload) != KP_RES_OK) {
            return KP_RES_MALFORMED;
        }
        out->n_fragments++;
        if (hs != NULL) {
            /* A refused fragment is an anomaly of the association, not of
             * this datagram's structure. */
            (void)hs_add(hs, &frag, cb, user, &out->anomalies);
        } else if (frag.fragment_offset == 0 && frag.fragment.len == frag.length) {
            hs_deliver(cb, user, frag.msg_type, frag.message_seq, frag.fragment, false);
        }
    }
    return KP_RES_OK;
}

enum kp_res kp_dtls_scan(struct kp_dtls_dgram *out, struct kp_rd dgram, size_t cid_len,
                         struct kp_dtls_hs *hs, kp_dtls_msg_cb cb, void *user)
{
    memset(out, 0, sizeof *out);
    if (dgram.len == 0) {
        return KP_RES_TRUNCATED;
    }
    while (dgram.len > 0) {
        struct kp_dtls_record rec;
        enum kp_res r = kp_dtls_parse_record(&rec, &dgram, cid_len);
        if (r == KP_RES_NOT_MINE) {
            /* Only the first record decides whether this is DTLS; garbage
             * after valid records breaks the datagram (RFC 6347 4.1.1). */
            if (out->n_records == 0) {
                memset(out, 0, sizeof *out);
                return KP_RES_NOT_MINE;
            }
            return KP_RES_MALFORMED;
        }
        if (r != KP_RES_OK) {
            return r;
        }
        out->n_records++;
        if (!rec.unified && out->version == 0) {
            out->version = rec.version;
        }
        out->unified |= rec.unified;
        out->cid |= rec.has_cid;
        out->cid_unknown |= rec.cid_unknown;
        out->encrypted |= rec.encrypted;
        if (rec.unified) {
            continue;
        }
        bool empty = rec.payload.len == 0 && !rec.cid_unknown;
        switch (rec.content_type) {
        case KP_TLS_CT_CHANGE_CIPHER_SPEC:
            out->ccs = true;
            if (empty) {
                out->anomalies |= KP_DTLS_ANOM_EMPTY_RECORD;
            }
            break;
        case KP_TLS_CT_ALERT:
            if (empty) {
                out->anomalies |= KP_DTLS_ANOM_EMPTY_RECORD;
            }
            if (!rec.encrypted && !out->alert) {
                /* RFC 5246 7.2: level, description. */
                struct kp_rd a = rec.payload;
                uint8_t level = 0, desc = 0;
                if (kp_rd_u8(&a, &level) && kp_rd_u8(&a, &desc)) {
                    out->alert = true;
                    out->alert_level = level;
                    out->alert_description = desc;
                }
            }
            break;
        case KP_TLS_CT_HANDSHAKE:
            if (rec.encrypted) {
                break;
            }
            out->handshake = true;
            if (empty) {
                out->anomalies |= KP_DTLS_ANOM_EMPTY_RECORD;
            }
            r = scan_handshake(out, rec.payload, hs, cb, user);
            if (r != KP_RES_OK) {
                return r;
            }
            break;
        case KP_TLS_CT_APPLICATION_DATA:
            out->app_data = true;
            break;
        default:
            break;
        }
    }
    return KP_RES_OK;
}

/* ---- Message bodies ----------------------------------------------------- */

enum kp_res kp_dtls_parse_hello_verify_request(struct kp_dtls_hello_verify_request *out,
                                               struct kp_rd body)
{
    /* RFC 6347 4.2.1: ProtocolVersion server_version; opaque
     * cookie<0..2^8-1>. */
    if (!kp_rd_u16(&body, &out->server_version) || !kp_rd_vec8(&body, &out->cookie) ||
        body.len != 0) {
        return KP_RES_MALFORMED;
    }
    return KP_RES_OK;
}

enum kp_res kp_dtls_hello_cid(struct kp_rd body, uint8_t hs_type, bool *present,
                              struct kp_rd *cid)
{
    *present = false;
    *cid = kp_rd_make(NULL, 0);
    struct kp_rd skip;
    if (hs_type == KP_TLS_HS_CLIENT_HELLO) {
        /* RFC 6347 4.2.1: client_version, random, session_id<0..32>,
         * cookie<0..2^8-1>, cipher_suites<2..2^16-2>,
         * compression_methods<1..2^8-1>, extensions. */
        if (!kp_rd_skip(&body, 2 + 32) || !kp_rd_vec8(&body, &skip) ||
            !kp_rd_vec8(&body, &skip) || !kp_rd_vec16(&body, &skip) ||
            !kp_rd_vec8(&body, &skip)) {
            return KP_RES_MALFORMED;
        }
    } else if (hs_type == KP_TLS_HS_SERVER_HELLO) {
        /* RFC 5246 7.4.1.3: server_version, random, session_id,
         * cipher_suite, compression_method, extensions. */
        if (!kp_rd_skip(&body, 2 + 32) || !kp_rd_vec8(&body, &skip) ||
            !kp_rd_skip(&body, 2 + 1)) {
            return KP_RES_MALFORMED;
        }
    } else {
        return KP_RES_NOT_MINE;
    }
    if (body.len == 0) {
        /* RFC 5246 7.4.1.2: the extensions block may be absent. */
        return KP_RES_OK;
    }
    struct kp_rd exts;
    if (!kp_rd_vec16(&body, &exts) || body.len != 0) {
        return KP_RES_MALFORMED;
    }
    while (exts.len > 0) {
        uint16_t type = 0;
        struct kp_rd data;
        if (!kp_rd_u16(&exts, &type) || !kp_rd_vec16(&exts, &data)) {
            return KP_RES_MALFORMED;
        }
        if (type != KP_DTLS_EXT_CONNECTION_ID || *present) {
            continue;
        }
        /* RFC 9146 3: struct { opaque cid<0..2^8-1>; } ConnectionId. */
        struct kp_rd c;
        if (!kp_rd_vec8(&data, &c) || data.len != 0) {
            return KP_RES_MALFORMED;
        }
        *present = true;
        *cid = c;
    }
    return KP_RES_OK;
}
