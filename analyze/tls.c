/* TLS record walk and handshake message parsers.  See tls.h for the
 * contracts; comments here say why, citing the RFC section enforced. */
#include "tls.h"

#include <string.h>

/* ---- Helpers ------------------------------------------------------------ */

bool kp_tls_is_grease(uint16_t v)
{
    /* RFC 8701 2: {0x0A,0x0A}, {0x1A,0x1A}, ... {0xFA,0xFA}. */
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

const char *kp_tls_version_name(uint16_t v)
{
    switch (v) {
    case KP_TLS_V_SSL2:
        return "SSL 2.0";
    case KP_TLS_V_SSL3:
        return "SSL 3.0";
    case KP_TLS_V_TLS10:
        return "TLS 1.0";
    case KP_TLS_V_TLS11:
        return "TLS 1.1";
    case KP_TLS_V_TLS12:
        return "TLS 1.2";
    case KP_TLS_V_TLS13:
        return "TLS 1.3";
    case KP_TLS_V_DTLS10:
        return "DTLS 1.0";
    case KP_TLS_V_DTLS12:
        return "DTLS 1.2";
    case KP_TLS_V_DTLS13:
        return "DTLS 1.3";
    default:
        break;
    }
    /* Drafts of RFC 8446 used 0x7f00 + draft number (RFC 8446 4.2.1 note). */
    if ((v & 0xff00) == 0x7f00) {
        return "TLS 1.3 draft";
    }
    return NULL;
}

bool kp_tls_version_is_13(uint16_t v)
{
    return v == KP_TLS_V_TLS13 || v == KP_TLS_V_DTLS13 || (v & 0xff00) == 0x7f00;
}

const char *kp_tls_hs_type_name(uint8_t hs_type)
{
    switch (hs_type) {
    case KP_TLS_HS_HELLO_REQUEST:
        return "HelloRequest";
    case KP_TLS_HS_CLIENT_HELLO:
        return "ClientHello";
    case KP_TLS_HS_SERVER_HELLO:
        return "ServerHello";
    case KP_TLS_HS_HELLO_VERIFY_REQUEST:
        return "HelloVerifyRequest";
    case KP_TLS_HS_NEW_SESSION_TICKET:
        return "NewSessionTicket";
    case KP_TLS_HS_END_OF_EARLY_DATA:
        return "EndOfEarlyData";
    case KP_TLS_HS_ENCRYPTED_EXTENSIONS:
        return "EncryptedExtensions";
    case KP_TLS_HS_CERTIFICATE:
        return "Certificate";
    case KP_TLS_HS_SERVER_KEY_EXCHANGE:
        return "ServerKeyExchange";
    case KP_TLS_HS_CERTIFICATE_REQUEST:
        return "CertificateRequest";
    case KP_TLS_HS_SERVER_HELLO_DONE:
        return "ServerHelloDone";
    case KP_TLS_HS_CERTIFICATE_VERIFY:
        return "CertificateVerify";
    case KP_TLS_HS_CLIENT_KEY_EXCHANGE:
        return "ClientKeyExchange";
    case KP_TLS_HS_FINISHED:
        return "Finished";
    case KP_TLS_HS_CERTIFICATE_STATUS:
        return "CertificateStatus";
    case KP_TLS_HS_KEY_UPDATE:
        return "KeyUpdate";
    case KP_TLS_HS_MESSAGE_HASH:
        return "MessageHash";
    default:
        return NULL;
    }
}

/* Read a vector of 16-bit values that must fill `v` exactly into a capped
 * array.  False if the length is odd (the vector's length disagrees with its
 * element size). */
static bool read_u16_list(struct kp_rd v, uint16_t *arr, size_t cap, size_t *n, size_t *total)
{
    if (v.len % 2 != 0) {
        return false;
    }
    *n = 0;
    *total = 0;
    uint16_t x;
    while (kp_rd_u16(&v, &x)) {
        if (*n < cap) {
            arr[(*n)++] = x;
        }
        (*total)++;
    }
    return true;
}

/* One bit per extension type, to reject duplicates (RFC 8446 4.2: "There
 * MUST NOT be more than one extension of the same type in a given extension
 * block"; RFC 5246 7.4.1.4 likewise). */
struct ext_seen {
    uint8_t bits[65536 / 8];
};

static bool ext_seen_add(struct ext_seen *s, uint16_t type)
{
    uint8_t mask = (uint8_t)(1u << (type & 7));
    if (s->bits[type >> 3] & mask) {
        return false;
    }
    s->bits[type >> 3] |= mask;
    return true;
}

/* ---- Record layer walk -------------------------------------------------- */

/* Per-call state of the handshake message assembler.  The pending message
 * (have != 0) is described by where its bytes lie in the stream, not by a
 * copy of them: its bytes are gathered into scratch once it is complete
 * (hs_gather), so the description alone lets a later call resume in the
 * middle of it (struct kp_tls_scan_resume). */
struct hs_asm {
    const struct kp_rd *stream; /* the whole stream of this call */
    uint8_t *scratch;
    size_t cap;
    size_t rec;      /* offset of the record being fed */
    uint8_t hdr[4];  /* the pending message's header */
    size_t have;     /* bytes of the pending message seen (header included) */
    size_t need;     /* its full size (4 + length) once the header is complete */
    size_t msg_rec;  /* offset of the record it starts in */
    size_t msg_skip; /* bytes of that record's payload before it */
    bool skipping;   /* pending message larger than scratch: counted, not kept */
    uint32_t index;  /* index of the next complete message */
    bool stop_tls13; /* a TLS 1.3 ServerHello was delivered */
    bool ver_set;    /* a ServerHello of this stream set st->version */
    bool ccs13;      /* a TLS 1.3 ChangeCipherSpec was skipped before that */
    bool failed;     /* hs_gather could not find the bytes it walked (a bug) */
    struct kp_tls_scan_state *st;
    void (*cb)(uint8_t, struct kp_rd, void *);
    void *user;
};

static void hs_message(struct hs_asm *a, uint8_t type, struct kp_rd body, bool skipped)
{
    struct kp_tls_scan_state *st = a->st;
    uint32_t index = a->index++;
    st->messages++;
    if (skipped) {
        st->oversized++;
    } else if (index >= st->delivered) {
        if (a->cb != NULL) {
            a->cb(type, body, a->user);
        }
    }
    if (index >= st->delivered) {
        st->delivered = index + 1;
    }
    if (type == KP_TLS_HS_SERVER_HELLO && !skipped) {
        struct kp_tls_server_hello sh;
        if (kp_tls_parse_server_hello(&sh, body, false) == KP_RES_OK) {
            a->ver_set = true;
            if (sh.is_hrr) {
                /* RFC 8446 4.1.4: a HelloRetryRequest is TLS 1.3; its
                 * supported_versions holds the version, 0x0304. */
                st->version = sh.has_supported_versions ? sh.selected_version : KP_TLS_V_TLS13;
            } else {
                st->version = sh.version;
                /* RFC 8446 2: everything after the ServerHello is encrypted. */
                if (kp_tls_version_is_13(sh.version)) {
                    a->stop_tls13 = true;
                }
            }
        }
    }
}

/* Copy the body of the message that just completed into scratch.  Its bytes
 * lie in consecutive handshake records from the one at msg_rec on, msg_skip
 * bytes into that record's payload: the walk checked every one of those
 * record headers, and RFC 8446 5.1 forbids other record types in between
 * (the walk returns MALFORMED for them).  Copying once, at the end, rather
 * than as the records go by, is what lets a later call resume inside the
 * message: scratch does not keep its contents between calls.  Each byte is
 * still copied once per message, so the cost stays linear. */
static bool hs_gather(const struct hs_asm *a)
{
    struct kp_rd s = *a->stream;
    size_t skip = a->msg_skip;
    size_t pos = 0; /* bytes of the message passed, header included */
    if (!kp_rd_skip(&s, a->msg_rec)) {
        return false;
    }
    while (pos < a->need) {
        uint8_t ct;
        struct kp_rd payload;
        if (!kp_rd_u8(&s, &ct) || ct != KP_TLS_CT_HANDSHAKE || !kp_rd_skip(&s, 2) ||
            !kp_rd_vec16(&s, &payload) || !kp_rd_skip(&payload, skip)) {
            return false;
        }
        skip = 0;
        if (pos < 4) {
            /* The header is in a->hdr already; only the body is copied. */
            size_t h = 4 - pos < payload.len ? 4 - pos : payload.len;
            if (!kp_rd_skip(&payload, h)) {
                return false;
            }
            pos += h;
        }
        size_t take = a->need - pos < payload.len ? a->need - pos : payload.len;
        if (take > 0 && !kp_rd_copy(&payload, a->scratch + (pos - 4), take)) {
            return false;
        }
        pos += take;
    }
    return true;
}

/* Feed one handshake record's payload to the assembler.  Stops early (and
 * leaves the rest unread) once a TLS 1.3 ServerHello was delivered. */
static void hs_feed(struct hs_asm *a, struct kp_rd p)
{
    size_t plen = p.len;
    while (p.len > 0 && !a->stop_tls13 && !a->failed) {
        if (a->have == 0) {
            /* Fast path: a whole message inside this record, no copy. */
            struct kp_rd t = p, body;
            uint8_t type;
            if (kp_rd_u8(&t, &type) && kp_rd_vec24(&t, &body)) {
                p = t;
                hs_message(a, type, body, false);
                continue;
            }
            /* It goes on in the next records: remember where it starts. */
            a->msg_rec = a->rec;
            a->msg_skip = plen - p.len;
        }
        if (a->have < 4) {
            /* The header itself may be split across records. */
            size_t take = 4 - a->have < p.len ? 4 - a->have : p.len;
            if (!kp_rd_copy(&p, a->hdr + a->have, take)) {
                return; /* unreachable: take <= p.len */
            }
            a->have += take;
            if (a->have < 4) {
                continue;
            }
            size_t blen = ((size_t)a->hdr[1] << 16) | ((size_t)a->hdr[2] << 8) | a->hdr[3];
            a->need = 4 + blen;
            a->skipping = blen > a->cap;
        }
        size_t want = a->need - a->have;
        size_t take = want < p.len ? want : p.len;
        if (!kp_rd_skip(&p, take)) {
            return; /* unreachable: take <= p.len */
        }
        a->have += take;
        if (a->have == a->need) {
            struct kp_rd body = kp_rd_make(NULL, 0);
            if (!a->skipping) {
                if (!hs_gather(a)) {
                    a->failed = true;
                    return;
                }
                body = kp_rd_make(a->scratch, a->need - 4);
            }
            hs_message(a, a->hdr[0], body, a->skipping);
            a->have = 0;
            a->need = 0;
            a->skipping = false;
        }
    }
}

/* RFC 5246 E.2 / RFC 6101 A: an SSL 2.0 CLIENT-HELLO with a 2-byte header
 * (high bit set), msg_type 1, then version 0x0002 or 0x03xx. */
static bool looks_sslv2_hello(const struct kp_rd *s)
{
    uint8_t b0, b2, b3, b4;
    if (!kp_rd_peek_u8(s, 0, &b0) || !kp_rd_peek_u8(s, 2, &b2) || !kp_rd_peek_u8(s, 3, &b3) ||
        !kp_rd_peek_u8(s, 4, &b4)) {
        return false;
    }
    return (b0 & 0x80) != 0 && b2 == 1 && ((b3 == 0 && b4 == 2) || b3 == 3);
}

/* Remember the walk's state at a record boundary (the top of the walk's
 * loop): the next call starts there.  Cheap enough to do at every record. */
static void resume_save(struct kp_tls_scan_state *st, const struct hs_asm *a, size_t off)
{
    struct kp_tls_scan_resume *r = &st->resume;
    r->off = off;
    r->cap = a->cap;
    r->records = st->records;
    r->messages = st->messages;
    r->oversized = st->oversized;
    r->record_version = st->record_version;
    r->version = st->version;
    r->ver_set = a->ver_set;
    r->ccs13 = a->ccs13;
    memcpy(r->msg_hdr, a->hdr, sizeof(r->msg_hdr));
    r->msg_have = a->have;
    r->msg_need = a->need;
    r->msg_rec = a->msg_rec;
    r->msg_skip = a->msg_skip;
    r->msg_skipping = a->skipping;
}

/* Can this call start where the previous one saved its state, and still
 * give exactly what a walk from the first byte would?  The walk up to the
 * resume point depends on the stream bytes before it, on scratch_cap (which
 * messages are too large to keep), on delivered (only through which
 * messages are passed to cb) and on the version the call starts with -- but
 * on the version only through ChangeCipherSpec records met before a
 * ServerHello sets it: those were skipped (a TLS 1.3 version) or stopped
 * the walk (it would not have got past them). */
static bool resume_usable(const struct kp_tls_scan_state *st, size_t len, size_t cap)
{
    const struct kp_tls_scan_resume *r = &st->resume;
    if (r->off == 0) {
        return false; /* nothing saved, or nothing to skip */
    }
    return r->off <= len && r->cap == cap && r->messages <= st->delivered &&
           (!r->ccs13 || kp_tls_version_is_13(st->version));
}

enum kp_res kp_tls_scan(const struct kp_rd *stream, uint8_t *scratch, size_t scratch_cap,
                        struct kp_tls_scan_state *st,
                        void (*cb)(uint8_t hs_type, struct kp_rd body, void *user), void *user)
{
    st->offset = 0;
    st->records = 0;
    st->messages = 0;
    st->oversized = 0;
    st->record_version = 0;
    st->stop = KP_TLS_STOP_NONE;
    st->encrypted = false;
    st->sslv2 = false;
    st->alert_seen = false;
    st->alert_level = 0;
    st->alert_description = 0;

    struct hs_asm a = {
        .stream = stream, .scratch = scratch, .cap = scratch != NULL ? scratch_cap : 0,
        .st = st, .cb = cb, .user = user,
    };
    struct kp_rd s = *stream;
    size_t total = s.len;
    bool first = true;

    if (resume_usable(st, total, a.cap)) {
        /* Pick up where the previous call left off: what it walked before
         * st->resume.off is the same bytes and would be walked the same way
         * (resume_usable), so only its results are restored. */
        const struct kp_tls_scan_resume *r = &st->resume;
        if (!kp_rd_skip(&s, r->off)) {
            return KP_RES_TRUNCATED; /* unreachable: off <= total */
        }
        st->records = r->records;
        st->messages = r->messages;
        st->oversized = r->oversized;
        st->record_version = r->record_version;
        if (r->ver_set) {
            st->version = r->version; /* else the version this call started with */
        }
        a.index = r->messages;
        a.ver_set = r->ver_set;
        a.ccs13 = r->ccs13;
        memcpy(a.hdr, r->msg_hdr, sizeof(a.hdr));
        a.have = r->msg_have;
        a.need = r->msg_need;
        a.msg_rec = r->msg_rec;
        a.msg_skip = r->msg_skip;
        a.skipping = r->msg_skipping;
        first = r->records == 0; /* false: a record precedes every resume point */
    }

    for (;;) {
        st->offset = total - s.len;
        resume_save(st, &a, st->offset);
        uint8_t ct, major;
        if (!kp_rd_peek_u8(&s, 0, &ct)) {
            /* End of the bytes we have: complete only if no message is
             * pending and at least one record was seen. */
            return (a.have == 0 && !first) ? KP_RES_OK : KP_RES_TRUNCATED;
        }
        /* RFC 8446 5.1 / RFC 5246 6.2.1: content types 20..24 (24 is
         * heartbeat, RFC 6520); legacy_record_version major byte 3. */
        if (first && (ct & 0x80) != 0) {
            if (s.len < 5) {
                return KP_RES_TRUNCATED; /* may still prove an SSLv2 hello */
            }
            st->sslv2 = looks_sslv2_hello(&s);
            return KP_RES_NOT_MINE;
        }
        if (ct < KP_TLS_CT_CHANGE_CIPHER_SPEC || ct > KP_TLS_CT_HEARTBEAT) {
            return first ? KP_RES_NOT_MINE : KP_RES_MALFORMED;
        }
        if (kp_rd_peek_u8(&s, 1, &major) && major != 3) {
            return first ? KP_RES_NOT_MINE : KP_RES_MALFORMED;
        }
        struct kp_rd t = s, payload;
        uint16_t version, len;
        if (!kp_rd_skip(&t, 1) || !kp_rd_u16(&t, &version) || !kp_rd_u16(&t, &len)) {
            return KP_RES_TRUNCATED;
        }
        /* RFC 5246 6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048. */
        if (len > KP_TLS_MAX_RECORD_LEN) {
            return KP_RES_MALFORMED;
        }
        if (first) {
            st->record_version = version;
        }
        /* RFC 8446 5.1: "Handshake messages MUST NOT be interleaved with
         * other record types": a fragmented message must continue in the
         * very next record. */
        if (ct != KP_TLS_CT_HANDSHAKE && a.have != 0) {
            return KP_RES_MALFORMED;
        }
        /* Protected records: the header says enough, the payload is never
         * read (a TLS <= 1.2 ChangeCipherSpec switches the keys). */
        if (ct == KP_TLS_CT_APPLICATION_DATA ||
            (ct == KP_TLS_CT_CHANGE_CIPHER_SPEC && !kp_tls_version_is_13(st->version))) {
            st->stop = ct == KP_TLS_CT_APPLICATION_DATA ? KP_TLS_STOP_APPDATA : KP_TLS_STOP_CCS;
            st->encrypted = true;
            return KP_RES_OK;
        }
        if (!kp_rd_sub(&t, &payload, len)) {
            return KP_RES_TRUNCATED;
        }
        first = false;

        switch (ct) {
        case KP_TLS_CT_HANDSHAKE:
            /* RFC 8446 5.1: "Implementations MUST NOT send zero-length
             * fragments of Handshake types". */
            if (len == 0) {
                return KP_RES_MALFORMED;
            }
            a.rec = st->offset;
            hs_feed(&a, payload);
            if (a.failed) {
                return KP_RES_MALFORMED; /* unreachable: see hs_gather */
            }
            if (a.stop_tls13) {
                s = t;
                st->records++;
                st->offset = total - s.len;
                st->stop = KP_TLS_STOP_TLS13;
                st->encrypted = true;
                return KP_RES_OK;
            }
            break;
        case KP_TLS_CT_CHANGE_CIPHER_SPEC:
            /* RFC 8446 5: in TLS 1.3 a ChangeCipherSpec is the
             * compatibility record of the single byte 0x01, dropped
             * unprocessed; anything else is an unexpected_message. */
            if (!kp_rd_eq(&payload, "\x01", 1)) {
                return KP_RES_MALFORMED;
            }
            /* Skipped because of a version the caller gave, not one this
             * stream's ServerHello set: a resume point past here holds only
             * while the caller's version stays TLS 1.3 (resume_usable). */
            if (!a.ver_set) {
                a.ccs13 = true;
            }
            break;
        case KP_TLS_CT_ALERT:
            /* RFC 8446 6: an alert is level + description; before any
             * protection it is in clear and 2 bytes long. */
            st->stop = KP_TLS_STOP_ALERT;
            if (len == 2 && kp_rd_u8(&payload, &st->alert_level) &&
                kp_rd_u8(&payload, &st->alert_description)) {
                st->alert_seen = true;
            }
            return KP_RES_OK;
        default:
            /* Heartbeat (RFC 6520): not handshake, skip. */
            break;
        }
        s = t;
        st->records++;
    }
}

/* ---- ClientHello -------------------------------------------------------- */

/* RFC 6066 3: ServerNameList server_name_list<1..2^16-1>, each entry a
 * NameType and, for host_name, HostName<1..2^16-1>.  Other name types are
 * assumed to carry a 2-byte length too (no others are defined). */
static bool ch_sni(struct kp_tls_client_hello *out, struct kp_rd data)
{
    struct kp_rd list;
    if (!kp_rd_vec16(&data, &list) || data.len != 0) {
        return false;
    }
    if (list.len == 0) {
        out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
    }
    bool have_host = false;
    while (list.len > 0) {
        uint8_t name_type;
        struct kp_rd name;
        if (!kp_rd_u8(&list, &name_type) || !kp_rd_vec16(&list, &name)) {
            return false;
        }
        if (name_type != 0) {
            out->anomalies |= KP_TLS_ANOM_SNI_OTHER_TYPE;
            continue;
        }
        /* RFC 6066 3: "The ServerNameList MUST NOT contain more than one
         * name of the same name_type." */
        if (have_host) {
            return false;
        }
        have_host = true;
        out->sni = name;
        if (name.len == 0) {
            out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
        }
        struct kp_rd c = name;
        uint8_t b;
        while (kp_rd_u8(&c, &b)) {
            if (b < 0x21 || b > 0x7e) {
                out->anomalies |= KP_TLS_ANOM_SNI_CHARS;
                break;
            }
        }
    }
    return true;
}

/* RFC 7301 3.1: ProtocolNameList protocol_name_list<2..2^16-1> of
 * ProtocolName<1..2^8-1>. */
static bool ch_alpn(struct kp_tls_client_hello *out, struct kp_rd data)
{
    struct kp_rd list;
    if (!kp_rd_vec16(&data, &list) || data.len != 0) {
        return false;
    }
    if (list.len == 0) {
        out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
    }
    while (list.len > 0) {
        struct kp_rd name;
        if (!kp_rd_vec8(&list, &name)) {
            return false;
        }
        if (name.len == 0) {
            out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
        }
        if (out->n_alpn < KP_TLS_MAX_ALPN) {
            out->alpn[out->n_alpn++] = name;
        }
        out->alpn_total++;
    }
    return true;
}

/* A vector (8- or 16-bit length) of 16-bit values filling `data` exactly. */
static bool u16_vec_ext(struct kp_rd data, bool len8, uint16_t *arr, size_t cap, size_t *n,
                        size_t *total, uint32_t *anomalies)
{
    struct kp_rd v;
    bool ok = len8 ? kp_rd_vec8(&data, &v) : kp_rd_vec16(&data, &v);
    if (!ok || data.len != 0 || !read_u16_list(v, arr, cap, n, total)) {
        return false;
    }
    if (*total == 0) {
        *anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
    }
    return true;
}

/* RFC 8446 4.2.8: KeyShareEntry client_shares<0..2^16-1>, each a group and
 * key_exchange<1..2^16-1>. */
static bool ch_key_share(struct kp_tls_client_hello *out, struct kp_rd data)
{
    struct kp_rd list;
    if (!kp_rd_vec16(&data, &list) || data.len != 0) {
        return false;
    }
    while (list.len > 0) {
        uint16_t group;
        struct kp_rd key;
        if (!kp_rd_u16(&list, &group) || !kp_rd_vec16(&list, &key)) {
            return false;
        }
        if (key.len == 0) {
            out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
        }
        if (out->n_key_shares < KP_TLS_MAX_KEY_SHARES) {
            out->key_share_groups[out->n_key_shares++] = group;
        }
        out->key_shares_total++;
    }
    return true;
}

/* RFC 5764 4.1.1: SRTPProtectionProfiles<2..2^16-1> (16-bit profiles), then
 * srtp_mki<0..255>, filling the extension exactly. */
static bool srtp_ext(struct kp_rd data, uint16_t *arr, size_t cap, size_t *n, size_t *total,
                     uint8_t *mki_len, uint32_t *anomalies)
{
    struct kp_rd profiles, mki;
    if (!kp_rd_vec16(&data, &profiles) || !kp_rd_vec8(&data, &mki) || data.len != 0 ||
        !read_u16_list(profiles, arr, cap, n, total)) {
        return false;
    }
    if (*total == 0) {
        *anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
    }
    *mki_len = (uint8_t)mki.len;
    return true;
}

/* RFC 7685 3: the padding extension_data "MUST consist of zero bytes". */
static void padding_check(struct kp_rd data, uint32_t *anomalies)
{
    uint8_t b;
    while (kp_rd_u8(&data, &b)) {
        if (b != 0) {
            *anomalies |= KP_TLS_ANOM_PADDING_NONZERO;
            return;
        }
    }
}

static bool ch_ext(struct kp_tls_client_hello *out, uint16_t type, struct kp_rd data)
{
    switch (type) {
    case KP_TLS_EXT_SERVER_NAME:
        out->has_sni = true;
        return ch_sni(out, data);
    case KP_TLS_EXT_ALPN:
        out->has_alpn = true;
        return ch_alpn(out, data);
    case KP_TLS_EXT_SUPPORTED_VERSIONS:
        /* RFC 8446 4.2.1: ProtocolVersion versions<2..254> (8-bit length). */
        out->has_supported_versions = true;
        return u16_vec_ext(data, true, out->versions, KP_TLS_MAX_VERSIONS, &out->n_versions,
                           &out->versions_total, &out->anomalies);
    case KP_TLS_EXT_SIGNATURE_ALGORITHMS:
        /* RFC 8446 4.2.3: supported_signature_algorithms<2..2^16-2>. */
        out->has_sigalgs = true;
        return u16_vec_ext(data, false, out->sigalgs, KP_TLS_MAX_SIGALGS, &out->n_sigalgs,
                           &out->sigalgs_total, &out->anomalies);
    case KP_TLS_EXT_SUPPORTED_GROUPS:
        /* RFC 8446 4.2.7: named_group_list<2..2^16-1>. */
        out->has_groups = true;
        return u16_vec_ext(data, false, out->groups, KP_TLS_MAX_GROUPS, &out->n_groups,
                           &out->groups_total, &out->anomalies);
    case KP_TLS_EXT_EC_POINT_FORMATS: {
        /* RFC 8422 5.1.2: ec_point_format_list<1..2^8-1>. */
        struct kp_rd v;
        out->has_ec_point_formats = true;
        if (!kp_rd_vec8(&data, &v) || data.len != 0) {
            return false;
        }
        if (v.len == 0) {
            out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
        }
        out->ec_point_formats_count = (uint8_t)v.len;
        return true;
    }
    case KP_TLS_EXT_KEY_SHARE:
        out->has_key_share = true;
        return ch_key_share(out, data);
    case KP_TLS_EXT_USE_SRTP:
        out->has_use_srtp = true;
        return srtp_ext(data, out->srtp_profiles, KP_TLS_MAX_SRTP, &out->n_srtp_profiles,
                        &out->srtp_profiles_total, &out->srtp_mki_len, &out->anomalies);
    case KP_TLS_EXT_ECH: {
        /* RFC 9849 5: ECHClientHello starts with its type, outer(0) or
         * inner(1). */
        uint8_t t;
        out->has_ech = true;
        out->ech_type = kp_rd_u8(&data, &t) ? t : 0xff;
        return true;
    }
    case KP_TLS_EXT_PRE_SHARED_KEY:
        out->has_psk = true;
        return true;
    case KP_TLS_EXT_EARLY_DATA:
        out->has_early_data = true;
        return true;
    case KP_TLS_EXT_SESSION_TICKET:
        out->has_session_ticket = true;
        return true;
    case KP_TLS_EXT_QUIC_TRANSPORT_PARAMETERS:
        out->has_quic_tp = true;
        return true;
    case KP_TLS_EXT_PADDING:
        out->has_padding = true;
        out->padding_len = (uint16_t)data.len;
        padding_check(data, &out->anomalies);
        return true;
    default:
        return true;
    }
}

/* TLS versions have major byte 3 (or are SSL 2.0's 0x0002); DTLS ones 0xfe. */
static bool version_in_family(uint16_t v, bool dtls)
{
    return dtls ? (v >> 8) == 0xfe : ((v >> 8) == 0x03 || v == KP_TLS_V_SSL2);
}

enum kp_res kp_tls_parse_client_hello(struct kp_tls_client_hello *out, struct kp_rd body,
                                      bool dtls)
{
    memset(out, 0, sizeof *out);
    out->ech_type = 0xff;

    struct kp_rd r = body, sid, cs, comp, exts;
    if (!kp_rd_u16(&r, &out->legacy_version) || !kp_rd_copy(&r, out->random, 32) ||
        !kp_rd_vec8(&r, &sid)) {
        return KP_RES_MALFORMED;
    }
    if (!version_in_family(out->legacy_version, dtls)) {
        out->anomalies |= KP_TLS_ANOM_VERSION_FAMILY;
    }
    /* RFC 8446 4.1.2 / RFC 5246 7.4.1.2: SessionID<0..32>. */
    if (sid.len > 32) {
        return KP_RES_MALFORMED;
    }
    out->session_id = sid;
    out->session_id_len = (uint8_t)sid.len;
    if (dtls) {
        /* RFC 6347 4.2.1: opaque cookie<0..2^8-1> after session_id. */
        if (!kp_rd_vec8(&r, &out->cookie)) {
            return KP_RES_MALFORMED;
        }
        out->cookie_len = (uint8_t)out->cookie.len;
    }
    /* RFC 8446 4.1.2: CipherSuite cipher_suites<2..2^16-2>. */
    if (!kp_rd_vec16(&r, &cs) ||
        !read_u16_list(cs, out->ciphers, KP_TLS_MAX_CIPHERS, &out->n_ciphers,
                       &out->ciphers_total)) {
        return KP_RES_MALFORMED;
    }
    if (out->ciphers_total == 0) {
        out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
    }
    /* RFC 8446 4.1.2: legacy_compression_methods<1..2^8-1>. */
    if (!kp_rd_vec8(&r, &comp)) {
        return KP_RES_MALFORMED;
    }
    out->compression_count = (uint8_t)comp.len;
    if (comp.len == 0) {
        out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
    }
    uint8_t m;
    while (kp_rd_u8(&comp, &m)) {
        if (m == 0) {
            out->compression_null = true;
        }
    }
    if (!out->compression_null) {
        out->anomalies |= KP_TLS_ANOM_NO_NULL_COMPRESSION;
    }
    /* RFC 5246 7.4.1.2: extensions are present iff bytes follow the
     * compression methods; then they fill the body exactly. */
    if (r.len == 0) {
        return KP_RES_OK;
    }
    if (!kp_rd_vec16(&r, &exts) || r.len != 0) {
        return KP_RES_MALFORMED;
    }
    struct ext_seen seen;
    memset(&seen, 0, sizeof seen);
    bool after_psk = false;
    while (exts.len > 0) {
        uint16_t type;
        struct kp_rd data;
        if (!kp_rd_u16(&exts, &type) || !kp_rd_vec16(&exts, &data)) {
            return KP_RES_MALFORMED;
        }
        if (!ext_seen_add(&seen, type)) {
            return KP_RES_MALFORMED;
        }
        if (out->n_exts < KP_TLS_MAX_EXTS) {
            out->exts[out->n_exts++] = type;
        }
        out->exts_total++;
        /* RFC 8446 4.2.11: pre_shared_key "MUST be the last extension in
         * the ClientHello". */
        if (after_psk) {
            out->anomalies |= KP_TLS_ANOM_PSK_NOT_LAST;
        }
        if (type == KP_TLS_EXT_PRE_SHARED_KEY) {
            after_psk = true;
        }
        if (!ch_ext(out, type, data)) {
            return KP_RES_MALFORMED;
        }
    }
    return KP_RES_OK;
}

/* ---- ServerHello -------------------------------------------------------- */

/* RFC 8446 4.1.3: SHA-256("HelloRetryRequest"). */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* RFC 8446 4.1.3: a TLS 1.3 server negotiating an older version ends its
 * random with "DOWNGRD" and 0x01 (TLS 1.2) or 0x00 (TLS 1.1 and below). */
static const uint8_t downgrade_sentinel[7] = {0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44};

static bool sh_ext(struct kp_tls_server_hello *out, uint16_t type, struct kp_rd data)
{
    switch (type) {
    case KP_TLS_EXT_SUPPORTED_VERSIONS:
        /* RFC 8446 4.2.1: ServerHello carries one selected_version. */
        out->has_supported_versions = true;
        return kp_rd_u16(&data, &out->selected_version) && data.len == 0;
    case KP_TLS_EXT_ALPN: {
        /* RFC 7301 3.1: same list syntax; "MUST contain exactly one". */
        struct kp_rd list, name;
        size_t count = 0;
        out->has_alpn = true;
        if (!kp_rd_vec16(&data, &list) || data.len != 0) {
            return false;
        }
        while (list.len > 0) {
            if (!kp_rd_vec8(&list, &name)) {
                return false;
            }
            if (count == 0) {
                out->alpn = name;
            }
            if (name.len == 0) {
                out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
            }
            count++;
        }
        if (count != 1) {
            out->anomalies |= KP_TLS_ANOM_ALPN_COUNT;
        }
        return true;
    }
    case KP_TLS_EXT_USE_SRTP: {
        /* RFC 5764 4.1.1: the server's list holds the one chosen profile. */
        uint16_t prof[1] = {0};
        size_t n = 0, total = 0;
        out->has_use_srtp = true;
        if (!srtp_ext(data, prof, 1, &n, &total, &out->srtp_mki_len, &out->anomalies)) {
            return false;
        }
        out->srtp_profile = prof[0];
        if (total != 1) {
            out->anomalies |= KP_TLS_ANOM_SRTP_COUNT;
        }
        return true;
    }
    case KP_TLS_EXT_KEY_SHARE:
        out->has_key_share = true;
        if (out->is_hrr) {
            /* RFC 8446 4.2.8: in a HelloRetryRequest, NamedGroup
             * selected_group only. */
            return kp_rd_u16(&data, &out->key_share_group) && data.len == 0;
        } else {
            /* RFC 8446 4.2.8: KeyShareEntry server_share. */
            struct kp_rd key;
            if (!kp_rd_u16(&data, &out->key_share_group) || !kp_rd_vec16(&data, &key) ||
                data.len != 0) {
                return false;
            }
            if (key.len == 0) {
                out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
            }
            return true;
        }
    case KP_TLS_EXT_PRE_SHARED_KEY:
        /* RFC 8446 4.2.11: uint16 selected_identity. */
        out->has_psk = true;
        return kp_rd_u16(&data, &out->psk_identity) && data.len == 0;
    case KP_TLS_EXT_SERVER_NAME:
        /* RFC 6066 3: the server's extension_data "SHALL be empty". */
        out->has_sni_ack = true;
        if (data.len != 0) {
            out->anomalies |= KP_TLS_ANOM_SERVER_EXT_LEN;
        }
        return true;
    case KP_TLS_EXT_EXTENDED_MASTER_SECRET:
        /* RFC 7627 5.1: empty extension_data. */
        out->has_extended_master_secret = true;
        if (data.len != 0) {
            out->anomalies |= KP_TLS_ANOM_SERVER_EXT_LEN;
        }
        return true;
    case KP_TLS_EXT_ECH:
        out->has_ech = true;
        return true;
    case KP_TLS_EXT_RENEGOTIATION_INFO:
        out->has_renegotiation_info = true;
        return true;
    case KP_TLS_EXT_SESSION_TICKET:
        out->has_session_ticket = true;
        return true;
    default:
        return true;
    }
}

/* TLS 1.3 drafts before 22 (0x7f00-0x7f15) put the version in the
 * ServerHello itself and had another layout; draft 22 (0x7f16) moved to
 * legacy_version 0x0303 with supported_versions. */
static bool is_early_draft(uint16_t v)
{
    return (v & 0xff00) == 0x7f00 && (v & 0xff) < 0x16;
}

enum kp_res kp_tls_parse_server_hello(struct kp_tls_server_hello *out, struct kp_rd body,
                                      bool dtls)
{
    memset(out, 0, sizeof *out);

    struct kp_rd r = body, sid = kp_rd_make(NULL, 0), exts;
    if (!kp_rd_u16(&r, &out->legacy_version) || !kp_rd_copy(&r, out->random, 32)) {
        return KP_RES_MALFORMED;
    }
    if (is_early_draft(out->legacy_version)) {
        /* draft-ietf-tls-tls13-21 4.1.3 and earlier: version, random,
         * cipher_suite, extensions (no session id, no compression). */
        if (!kp_rd_u16(&r, &out->cipher_suite)) {
            return KP_RES_MALFORMED;
        }
    } else if (!kp_rd_vec8(&r, &sid) || !kp_rd_u16(&r, &out->cipher_suite) ||
               !kp_rd_u8(&r, &out->compression)) {
        return KP_RES_MALFORMED;
    }
    /* RFC 8446 4.1.3: legacy_session_id_echo<0..32>. */
    if (sid.len > 32) {
        return KP_RES_MALFORMED;
    }
    out->session_id = sid;
    out->session_id_len = (uint8_t)sid.len;
    out->is_hrr = memcmp(out->random, hrr_random, sizeof hrr_random) == 0;
    if (memcmp(out->random + 24, downgrade_sentinel, sizeof downgrade_sentinel) == 0) {
        if (out->random[31] == 1) {
            out->downgrade = KP_TLS_V_TLS12;
        } else if (out->random[31] == 0) {
            out->downgrade = KP_TLS_V_TLS11;
        }
    }
    out->version = out->legacy_version;
    if (!version_in_family(out->legacy_version, dtls) &&
        !(is_early_draft(out->legacy_version) && !dtls)) {
        out->anomalies |= KP_TLS_ANOM_VERSION_FAMILY;
    }

    /* RFC 5246 7.4.1.3: extensions optional; if present they fill the body. */
    if (r.len > 0) {
        if (!kp_rd_vec16(&r, &exts) || r.len != 0) {
            return KP_RES_MALFORMED;
        }
        struct ext_seen seen;
        memset(&seen, 0, sizeof seen);
        while (exts.len > 0) {
            uint16_t type;
            struct kp_rd data;
            if (!kp_rd_u16(&exts, &type) || !kp_rd_vec16(&exts, &data)) {
                return KP_RES_MALFORMED;
            }
            if (!ext_seen_add(&seen, type)) {
                return KP_RES_MALFORMED;
            }
            if (out->n_exts < KP_TLS_MAX_EXTS) {
                out->exts[out->n_exts++] = type;
            }
            out->exts_total++;
            if (!sh_ext(out, type, data)) {
                return KP_RES_MALFORMED;
            }
        }
    }
    if (out->has_supported_versions) {
        out->version = out->selected_version;
    }
    /* RFC 8446 4.1.3: legacy_compression_method "MUST have the value 0". */
    if (kp_tls_version_is_13(out->version) && out->compression != 0) {
        out->anomalies |= KP_TLS_ANOM_NO_NULL_COMPRESSION;
    }
    return KP_RES_OK;
}

/* ---- Certificate -------------------------------------------------------- */

enum kp_res kp_tls_parse_certificate(struct kp_tls_certificate *out, struct kp_rd body,
                                     bool tls13)
{
    memset(out, 0, sizeof *out);
    struct kp_rd r = body, list;
    /* RFC 8446 4.4.2: opaque certificate_request_context<0..2^8-1>. */
    if (tls13 && !kp_rd_vec8(&r, &out->context)) {
        return KP_RES_MALFORMED;
    }
    /* RFC 5246 7.4.2 / RFC 8446 4.4.2: certificate_list<0..2^24-1>
     * filling the message. */
    if (!kp_rd_vec24(&r, &list) || r.len != 0) {
        return KP_RES_MALFORMED;
    }
    while (list.len > 0) {
        struct kp_rd cert;
        /* ASN.1Cert / cert_data <1..2^24-1>. */
        if (!kp_rd_vec24(&list, &cert)) {
            return KP_RES_MALFORMED;
        }
        if (tls13) {
            /* RFC 8446 4.4.2: Extension extensions<0..2^16-1> per entry,
             * each extension_type + extension_data<0..2^16-1>. */
            struct kp_rd exts, data;
            uint16_t type;
            if (!kp_rd_vec16(&list, &exts)) {
                return KP_RES_MALFORMED;
            }
            while (exts.len > 0) {
                if (!kp_rd_u16(&exts, &type) || !kp_rd_vec16(&exts, &data)) {
                    return KP_RES_MALFORMED;
                }
            }
        }
        if (cert.len == 0) {
            out->anomalies |= KP_TLS_ANOM_EMPTY_VECTOR;
        }
        if (out->n_certs < KP_TLS_MAX_CERTS) {
            out->certs[out->n_certs++] = cert;
        }
        out->certs_total++;
    }
    return KP_RES_OK;
}
