/* SIP (RFC 3261) message parsing and SDP (RFC 8866, formerly RFC 4566)
 * session descriptions, with the key-management attributes keyprov reports:
 * a=crypto (SDES, RFC 4568), a=fingerprint (DTLS-SRTP, RFC 8122 5),
 * a=setup (RFC 4145 4), a=zrtp-hash (RFC 6189 8.1), a=rtcp-mux (RFC 5761
 * 5.1.1) and a=ice-ufrag (RFC 8839 5.4).
 *
 * Pure parsers: no allocation, no state, no I/O.  Outputs hold borrowed
 * views (struct kp_rd) into the input, valid only as long as the input bytes
 * are, EXCEPT for SDES key material: kp_sdp_parse keeps no view onto an
 * a=crypto inline key (nor its salt) -- it stores a SHA-256 hash of the
 * decoded key||salt instead, and wipes its scratch copy -- so a struct
 * kp_sdp can be logged, kept or copied without leaking a key (the input
 * buffer itself of course still holds it; that is the caller's).
 *
 * Capped lists: n_<list> entries are stored, <list>_total counts every one
 * on the wire.  Anomaly bits mark oddities that do not stop the parse.
 * On any result other than KP_RES_OK the contents of *out are unspecified.
 */
#ifndef KP_SIP_H
#define KP_SIP_H

#include "kp.h"

/* ---- SIP ------------------------------------------------------------------------ */

#define KP_SIP_MAX_HEADER_BYTES 65536 /* start line + headers + empty line, leading CRLFs
                                         included: beyond this a stream is MALFORMED */
#define KP_SIP_MAX_BODY 65536         /* largest Content-Length accepted */
#define KP_SIP_MAX_VIA 8

/* Anomaly bits of struct kp_sip_msg. */
#define KP_SIP_ANOM_LEADING_CRLF 0x0001u   /* CRLFs before the start line (RFC 3261 7.5:
                                              ignored; RFC 5626 4.4.1 keep-alives) */
#define KP_SIP_ANOM_BAD_HEADER_LINE 0x0002u /* a header line without a colon or with a bad
                                               name: skipped */
#define KP_SIP_ANOM_DUP_HEADER 0x0004u      /* Call-ID, From, To, CSeq, Content-Type or
                                               Content-Length more than once (the first is
                                               kept) */
#define KP_SIP_ANOM_NO_CONTENT_LENGTH 0x0008u /* stream without Content-Length (RFC 3261
                                                 20.14 requires it): body taken as empty */
#define KP_SIP_ANOM_TRAILING_BYTES 0x0010u  /* datagram bytes after Content-Length bytes of
                                               body (RFC 3261 18.3: discarded) */
#define KP_SIP_ANOM_BAD_CSEQ 0x0020u        /* CSeq not `number method` (RFC 3261 20.16) */
#define KP_SIP_ANOM_BARE_LF 0x0040u         /* a line ended by LF without CR */
#define KP_SIP_ANOM_VERSION 0x0080u         /* SIP-Version other than SIP/2.0 */

struct kp_sip_msg {
    bool is_request;
    /* Request-Line (RFC 3261 7.1): valid when is_request. */
    struct kp_rd method;
    struct kp_rd request_uri;
    /* Status-Line (RFC 3261 7.2): valid when !is_request. */
    uint16_t status_code;   /* 100..699 */
    struct kp_rd reason;    /* may be empty */
    struct kp_rd version;   /* "SIP/2.0" as written */

    /* Header values (RFC 3261 7.3: leading and trailing whitespace removed;
     * a folded value's view spans its continuation lines, CRLF and leading
     * whitespace included: treat CR, LF, SP and HT as LWS).  Names match
     * case-insensitively, compact forms included (RFC 3261 7.3.3: i, f, t,
     * v, m, c, l).  Empty views when absent. */
    struct kp_rd call_id;
    struct kp_rd from;
    struct kp_rd to;
    struct kp_rd cseq;          /* whole value */
    bool has_cseq_num;          /* cseq parsed as `number method` */
    uint32_t cseq_num;
    struct kp_rd cseq_method;
    struct kp_rd contact;       /* first Contact header */
    uint32_t contact_total;
    struct kp_rd content_type;
    struct kp_rd user_agent;    /* User-Agent, or Server in a response */
    size_t n_via;               /* Via header lines stored (each may hold several values) */
    uint32_t via_total;
    struct kp_rd via[KP_SIP_MAX_VIA];
    bool has_content_length;
    uint32_t content_length;

    uint32_t headers_total;     /* header fields (after unfolding) */
    uint32_t folded_total;      /* continuation lines */

    /* Framing.  Offsets from the start of the input. */
    size_t start;               /* first byte of the start line (after leading CRLFs) */
    size_t header_len;          /* through the empty line that ends the headers */
    size_t msg_len;             /* header_len + body length: where the next message of a
                                   stream starts.  With KP_RES_TRUNCATED: the leading CRLFs
                                   (keep-alives) a stream reader may drop, 0 if none */
    size_t need;                /* KP_RES_TRUNCATED: total input length the message needs,
                                   0 while unknown (the headers are incomplete) */
    struct kp_rd body;          /* Content-Length bytes after the headers (datagram without
                                   Content-Length: the rest of the datagram) */
    uint32_t anomalies;         /* KP_SIP_ANOM_* */
};

/* Parse one SIP message at the start of data.
 *
 * stream = false: data is one UDP datagram (or the captured prefix of one).
 * stream = true: data is the prefix of a TCP/TLS byte stream positioned at
 * a message boundary; call again with a longer prefix after TRUNCATED, and
 * advance by msg_len after OK.
 *
 * KP_RES_OK: complete message.  KP_RES_TRUNCATED: the message is not all
 * there; `need` says how long the input must be when the headers are
 * complete (for a whole datagram, RFC 3261 18.3 makes that a broken
 * message).  KP_RES_NOT_MINE: the start line is not SIP (a prefix without a
 * line end is SIP-shaped only if it is, or starts with, "SIP/" or a
 * RFC 3261 / extension method name known here followed by a space).
 * KP_RES_MALFORMED: bad start line after a SIP-like beginning, conflicting
 * or non-numeric Content-Length, Content-Length > KP_SIP_MAX_BODY, or
 * headers longer than KP_SIP_MAX_HEADER_BYTES. */
enum kp_res kp_sip_parse(struct kp_sip_msg *out, struct kp_rd data, bool stream);

/* Progress of kp_sip_frame over one message of a TCP/TLS stream.  Zero it
 * (memset or = {0}) at each message boundary. */
struct kp_sip_frame_state {
    size_t line;            /* offset of the first line not judged yet */
    size_t scan;            /* bytes of that line already searched for its LF */
    size_t value;           /* pending header field: offset of its value */
    size_t value_end;       /* end of its value so far (continuation lines included) */
    size_t need;            /* once the headers are complete: the message's length */
    uint32_t content_length;
    uint8_t phase;          /* where in the message `line` is (sip.c) */
    bool has_content_length;
    bool have_field;        /* a header field is pending: continuation lines may follow */
    bool field_cl;          /* it is Content-Length */
};

/* Is it worth calling kp_sip_parse(out, data, true)?  `data` is the same
 * stream prefix as for kp_sip_parse, positioned at a message boundary;
 * call again with every longer prefix and the same state.  Returns
 * KP_RES_TRUNCATED exactly when kp_sip_parse would return KP_RES_TRUNCATED
 * for this prefix, KP_RES_OK when it would return anything else (a complete
 * message or an error): call kp_sip_parse then, it decides which.  Over all
 * the calls for one message each
 * byte is looked at once, where kp_sip_parse walks the message from its
 * start on every call: a message arriving a byte at a time costs linear
 * time instead of quadratic.  The framing rules are kp_sip_parse's own
 * (leading CRLFs, start line, header lines up to KP_SIP_MAX_HEADER_BYTES,
 * Content-Length values). */
enum kp_res kp_sip_frame(struct kp_sip_frame_state *fs, struct kp_rd data);

/* ---- SDP ------------------------------------------------------------------------ */

#define KP_SDP_MAX_MEDIA 16
#define KP_SDP_MAX_CRYPTO 16
#define KP_SDP_KEY_HASH_LEN 16        /* bytes of SHA-256 kept */
#define KP_SDP_MAX_KEY_B64 128        /* longest inline key||salt text decoded */

/* Anomaly bits of struct kp_sdp. */
#define KP_SDP_ANOM_BAD_LINE 0x0001u     /* a line not of the form <letter>=<value>
                                            (RFC 8866 5): skipped */
#define KP_SDP_ANOM_VERSION 0x0002u      /* v= other than 0 */
#define KP_SDP_ANOM_BAD_CONN 0x0004u     /* c= not `IN IP4|IP6 address` */
#define KP_SDP_ANOM_BAD_MEDIA 0x0008u    /* m= without media, port, proto and a format */
#define KP_SDP_ANOM_BAD_CRYPTO 0x0010u   /* a=crypto not `tag suite inline:key...`
                                            (RFC 4568 9.1): not stored */
#define KP_SDP_ANOM_CAPPED 0x0020u       /* more m= or a=crypto lines than stored */
#define KP_SDP_ANOM_BARE_LF 0x0040u      /* a line ended by LF without CR */

/* A c= line (RFC 8866 5.7). */
struct kp_sdp_conn {
    bool present;
    bool ip6;               /* addrtype IP6 */
    bool addr_ok;           /* addr_text is a literal address of that family */
    struct kp_addr addr;    /* valid when addr_ok (IPv4 mapped) */
    struct kp_rd addr_text; /* the connection-address without /ttl or /count */
};

/* Attributes that can appear at session or media level. */
struct kp_sdp_attrs {
    bool rtcp_mux;              /* a=rtcp-mux (RFC 5761 5.1.1) */
    bool ice_ufrag;             /* a=ice-ufrag present (RFC 8839 5.4) */
    struct kp_rd setup;         /* a=setup: active / passive / actpass / holdconn (RFC 4145 4) */
    struct kp_rd fp_hash;       /* first a=fingerprint: hash function, e.g. "sha-256" */
    struct kp_rd fp_value;      /* ... and the colon-separated hex (RFC 8122 5) */
    uint32_t fp_total;
    struct kp_rd zrtp_version;  /* first a=zrtp-hash: version, e.g. "1.10" */
    struct kp_rd zrtp_hash;     /* ... and the 64 hex digits (RFC 6189 8.1) */
    uint32_t zrtp_total;
    uint32_t crypto_total;      /* a=crypto lines at this level */
};

/* An m= section (RFC 8866 5.14). */
struct kp_sdp_media {
    struct kp_rd media;     /* "audio", "video", "application", ... */
    bool port_ok;           /* port is decimal and <= 65535 */
    uint16_t port;
    uint16_t n_ports;       /* the /<number of ports> suffix, 1 when absent */
    struct kp_rd proto;     /* "RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", ... */
    struct kp_rd fmts;      /* the format list as written */
    struct kp_sdp_conn conn;  /* media-level c= */
    struct kp_sdp_attrs attrs;
};

/* An a=crypto line (RFC 4568 9.1).  Holds NO view of, and no copy of, the
 * key: key_hash is SHA-256 over the base64-decoded key||salt of the first
 * inline key-param (over its base64 text as written when that does not
 * decode: key_b64_ok false), truncated to KP_SDP_KEY_HASH_LEN bytes.  To
 * reproduce: printf %s KEY | base64 -d | sha256sum, first 32 hex digits. */
struct kp_sdp_crypto {
    bool session_level;     /* before the first m= */
    uint32_t media;         /* otherwise: index of its m= line among all m= lines (it may
                               exceed n_media when media were capped) */
    uint32_t tag;           /* 1..999999999 */
    struct kp_rd suite;     /* e.g. "AES_CM_128_HMAC_SHA1_80" */
    uint8_t key_hash[KP_SDP_KEY_HASH_LEN];
    char key_hash_hex[2 * KP_SDP_KEY_HASH_LEN + 1];
    bool key_b64_ok;        /* the key text was valid base64 of at most
                               KP_SDP_MAX_KEY_B64 characters */
    uint8_t key_len;        /* decoded key||salt length in bytes (0 if !key_b64_ok) */
    uint32_t n_keys;        /* inline key-params in the line (RFC 4568 6.1 allows several) */
    struct kp_rd lifetime;  /* first key's |lifetime, e.g. "2^31" (empty if absent) */
    struct kp_rd mki;       /* first key's |MKI:length, e.g. "1:4" (empty if absent) */
    struct kp_rd session_params; /* everything after the key-params, e.g. "UNENCRYPTED_SRTCP"
                                    (empty if none) */
};

/* About 5.5 KB: give it static or heap storage in deep call chains. */
struct kp_sdp {
    struct kp_rd origin;        /* o= value */
    struct kp_rd session_name;  /* s= value */
    struct kp_sdp_conn conn;    /* session-level c= */
    struct kp_sdp_attrs attrs;  /* session-level attributes */
    size_t n_media;
    uint32_t media_total;
    struct kp_sdp_media media[KP_SDP_MAX_MEDIA];
    size_t n_crypto;
    uint32_t crypto_total;      /* a=crypto lines, all levels, well-formed or not */
    struct kp_sdp_crypto crypto[KP_SDP_MAX_CRYPTO];
    uint32_t lines_total;
    uint32_t anomalies;         /* KP_SDP_ANOM_* */
};

/* Parse a session description (a SIP body whose Content-Type is
 * application/sdp).  Lines end in CRLF or LF; the last may have no end.
 * KP_RES_OK; KP_RES_NOT_MINE if the first line is not v= (RFC 8866 5);
 * KP_RES_NOMEM if OpenSSL could not hash.  Every line is looked at (the
 * walk is linear); what is stored is capped. */
enum kp_res kp_sdp_parse(struct kp_sdp *out, struct kp_rd body);

#endif
