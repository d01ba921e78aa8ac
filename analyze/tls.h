/* TLS (and DTLS) handshake parsing: the record-layer walk over one direction
 * of a TCP byte stream, and pure parsers of ClientHello, ServerHello and
 * Certificate messages.
 *
 * Everything here is pure: no allocation, no global state, no I/O.  Input is
 * a borrowed struct kp_rd; outputs hold borrowed views (struct kp_rd) into
 * that input, valid only as long as the input bytes are.  Lists are stored in
 * capped arrays: n_<list> entries are stored, <list>_total counts every entry
 * on the wire, so n_<list> < <list>_total means the list was capped.
 *
 * Result convention of the message parsers (kp_tls_parse_*): `body` is one
 * complete handshake message body (RFC 8446 4: the bytes after the 4-byte
 * Handshake header msg_type + length; for DTLS, after the 12-byte header and
 * after fragment reassembly).  Because the caller vouches that the message is
 * complete, an inner length that runs past the end of `body` is an error in
 * the message, not a short capture: the parsers return KP_RES_MALFORMED for
 * it and never return KP_RES_TRUNCATED.  Inner lengths that disagree with
 * the outer ones, trailing bytes, odd lengths of 16-bit lists and duplicated
 * extensions are KP_RES_MALFORMED too.  Oddities that do not break the
 * structure (an empty list where the RFC grammar says <1..>, a padding
 * extension with non-zero bytes, pre_shared_key not last, ...) are accepted
 * with KP_RES_OK and reported as bits in `anomalies` (KP_TLS_ANOM_*).
 * On any result other than OK the contents of *out are unspecified.
 *
 * DTLS: the message parsers take dtls = true for the DTLS layouts; the DTLS
 * record header (13 bytes), handshake header (12 bytes) and fragment
 * reassembly (RFC 6347 4.1, 4.2.2) belong to the DTLS dissector, which passes
 * the reassembled body.  kp_tls_scan is for TLS over TCP only.
 */
#ifndef KP_TLS_H
#define KP_TLS_H

#include "kp.h"

/* ---- Constants ---------------------------------------------------------- */

/* Record content types (RFC 8446 5.1, RFC 6520 for heartbeat). */
#define KP_TLS_CT_CHANGE_CIPHER_SPEC 20
#define KP_TLS_CT_ALERT 21
#define KP_TLS_CT_HANDSHAKE 22
#define KP_TLS_CT_APPLICATION_DATA 23
#define KP_TLS_CT_HEARTBEAT 24

/* Handshake message types (RFC 8446 4, RFC 5246 7.4, RFC 6347 4.3.2,
 * RFC 6066 8). */
#define KP_TLS_HS_HELLO_REQUEST 0
#define KP_TLS_HS_CLIENT_HELLO 1
#define KP_TLS_HS_SERVER_HELLO 2
#define KP_TLS_HS_HELLO_VERIFY_REQUEST 3
#define KP_TLS_HS_NEW_SESSION_TICKET 4
#define KP_TLS_HS_END_OF_EARLY_DATA 5
#define KP_TLS_HS_ENCRYPTED_EXTENSIONS 8
#define KP_TLS_HS_CERTIFICATE 11
#define KP_TLS_HS_SERVER_KEY_EXCHANGE 12
#define KP_TLS_HS_CERTIFICATE_REQUEST 13
#define KP_TLS_HS_SERVER_HELLO_DONE 14
#define KP_TLS_HS_CERTIFICATE_VERIFY 15
#define KP_TLS_HS_CLIENT_KEY_EXCHANGE 16
#define KP_TLS_HS_FINISHED 20
#define KP_TLS_HS_CERTIFICATE_STATUS 22
#define KP_TLS_HS_KEY_UPDATE 24
#define KP_TLS_HS_MESSAGE_HASH 254

/* Protocol versions (RFC 8446 4.2.1, RFC 6347 4.1, RFC 9147 5.3). */
#define KP_TLS_V_SSL2 0x0002
#define KP_TLS_V_SSL3 0x0300
#define KP_TLS_V_TLS10 0x0301
#define KP_TLS_V_TLS11 0x0302
#define KP_TLS_V_TLS12 0x0303
#define KP_TLS_V_TLS13 0x0304
#define KP_TLS_V_DTLS10 0xfeff
#define KP_TLS_V_DTLS12 0xfefd
#define KP_TLS_V_DTLS13 0xfefc

/* Extension types (IANA "TLS ExtensionType Values"). */
#define KP_TLS_EXT_SERVER_NAME 0x0000
#define KP_TLS_EXT_STATUS_REQUEST 0x0005
#define KP_TLS_EXT_SUPPORTED_GROUPS 0x000a
#define KP_TLS_EXT_EC_POINT_FORMATS 0x000b
#define KP_TLS_EXT_SIGNATURE_ALGORITHMS 0x000d
#define KP_TLS_EXT_USE_SRTP 0x000e
#define KP_TLS_EXT_ALPN 0x0010
#define KP_TLS_EXT_PADDING 0x0015
#define KP_TLS_EXT_EXTENDED_MASTER_SECRET 0x0017
#define KP_TLS_EXT_SESSION_TICKET 0x0023
#define KP_TLS_EXT_PRE_SHARED_KEY 0x0029
#define KP_TLS_EXT_EARLY_DATA 0x002a
#define KP_TLS_EXT_SUPPORTED_VERSIONS 0x002b
#define KP_TLS_EXT_COOKIE 0x002c
#define KP_TLS_EXT_PSK_KEY_EXCHANGE_MODES 0x002d
#define KP_TLS_EXT_KEY_SHARE 0x0033
#define KP_TLS_EXT_QUIC_TRANSPORT_PARAMETERS 0x0039
#define KP_TLS_EXT_ECH 0xfe0d
#define KP_TLS_EXT_RENEGOTIATION_INFO 0xff01

/* Capacities of the capped lists. */
#define KP_TLS_MAX_CIPHERS 256
#define KP_TLS_MAX_EXTS 64
#define KP_TLS_MAX_ALPN 16
#define KP_TLS_MAX_VERSIONS 16
#define KP_TLS_MAX_SIGALGS 64
#define KP_TLS_MAX_GROUPS 32
#define KP_TLS_MAX_KEY_SHARES 16
#define KP_TLS_MAX_SRTP 16
#define KP_TLS_MAX_CERTS 10

/* Largest record length accepted: TLSCiphertext.length, RFC 5246 6.2.3
 * (2^14 + 2048); RFC 8446 5.2 lowers it to 2^14 + 256 for TLS 1.3. */
#define KP_TLS_MAX_RECORD_LEN (16384 + 2048)

/* Anomaly bits: structure intact, content odd (see the file comment). */
#define KP_TLS_ANOM_EMPTY_VECTOR 0x0001u    /* a vector below its RFC minimum length, e.g. no
                                               cipher suites, an empty ALPN name or host name */
#define KP_TLS_ANOM_SNI_CHARS 0x0002u       /* host_name has bytes outside 0x21..0x7e
                                               (RFC 6066 3: ASCII DNS name) */
#define KP_TLS_ANOM_SNI_OTHER_TYPE 0x0004u  /* a server_name entry of a type other than host_name */
#define KP_TLS_ANOM_PSK_NOT_LAST 0x0008u    /* pre_shared_key is not the last extension
                                               (RFC 8446 4.2.11) */
#define KP_TLS_ANOM_PADDING_NONZERO 0x0010u /* padding extension with non-zero bytes (RFC 7685 3) */
#define KP_TLS_ANOM_NO_NULL_COMPRESSION 0x0020u /* ClientHello without method 0 (RFC 8446 4.1.2),
                                                   or TLS 1.3 ServerHello with a method != 0 */
#define KP_TLS_ANOM_ALPN_COUNT 0x0040u      /* ServerHello ALPN list not exactly one name
                                               (RFC 7301 3.1) */
#define KP_TLS_ANOM_SRTP_COUNT 0x0080u      /* ServerHello use_srtp not exactly one profile
                                               (RFC 5764 4.1.1) */
#define KP_TLS_ANOM_VERSION_FAMILY 0x0100u  /* a TLS version in a DTLS message or vice versa */
#define KP_TLS_ANOM_SERVER_EXT_LEN 0x0200u  /* ServerHello extension whose body has an unexpected
                                               size for an extension we do not check further
                                               (e.g. non-empty server_name acknowledgement) */

/* ---- Helpers ------------------------------------------------------------ */

/* True for the 16 GREASE values 0x?a?a with equal bytes (RFC 8701 2): 0x0a0a,
 * 0x1a1a, ..., 0xfafa.  Applies to cipher suites, extension types, groups,
 * signature algorithms and versions alike. */
bool kp_tls_is_grease(uint16_t v);

/* "SSL 2.0", "SSL 3.0", "TLS 1.0" ... "TLS 1.3", "DTLS 1.0", "DTLS 1.2",
 * "DTLS 1.3", "TLS 1.3 draft" (0x7f00-0x7fff); NULL for anything else.
 * Static strings. */
const char *kp_tls_version_name(uint16_t v);

/* True for TLS 1.3 and its drafts (0x0304, 0x7fxx) and DTLS 1.3 (0xfefc):
 * versions after whose ServerHello the handshake is encrypted. */
bool kp_tls_version_is_13(uint16_t v);

/* Name of a handshake message type, e.g. "ClientHello", "ServerHello",
 * "Certificate", "ServerKeyExchange", "ServerHelloDone", "Finished"; NULL for
 * types this module does not name.  Static strings. */
const char *kp_tls_hs_type_name(uint8_t hs_type);

/* ---- Record layer walk (TLS over TCP) ----------------------------------- */

/* Why kp_tls_scan stopped walking (st->stop). */
enum kp_tls_stop {
    KP_TLS_STOP_NONE = 0, /* walked every complete record (or returned an error) */
    KP_TLS_STOP_CCS,      /* a ChangeCipherSpec record that starts encryption */
    KP_TLS_STOP_APPDATA,  /* an application_data record */
    KP_TLS_STOP_ALERT,    /* an alert record */
    KP_TLS_STOP_TLS13     /* a TLS 1.3 ServerHello was delivered: what follows is encrypted */
};

/* Where the next kp_tls_scan call picks the walk up: kp_tls_scan's own
 * bookkeeping, not for callers (zeroed with the rest of the state).  It is
 * a record boundary and everything the walk knew there: the counters, the
 * version, and the handshake message left half-walked (its header and where
 * its bytes start, but not the bytes: scratch does not survive between
 * calls, so they are gathered from the stream once the message is
 * complete). */
struct kp_tls_scan_resume {
    size_t off;            /* record boundary to start at; 0: the first byte */
    size_t cap;            /* scratch_cap the pending message was sized against */
    size_t msg_have;       /* pending message: its bytes walked, header included; 0: none */
    size_t msg_need;       /* its full size (4 + length) once the header is complete */
    size_t msg_rec;        /* offset of the record it starts in */
    size_t msg_skip;       /* bytes of that record's payload before it */
    uint32_t records, messages, oversized; /* st->... at off */
    uint16_t record_version; /* st->record_version at off */
    uint16_t version;      /* st->version at off, when ver_set */
    uint8_t msg_hdr[4];    /* the pending message's header bytes seen so far */
    bool msg_skipping;     /* the pending message is larger than scratch */
    bool ver_set;          /* a ServerHello before off set the version */
    bool ccs13;            /* a ChangeCipherSpec before off was skipped as TLS 1.3's on the
                              strength of the caller's version (no ServerHello before it) */
};

/* Progress of kp_tls_scan over one direction of one connection.  Zero it
 * (memset or = {0}) before the first call, then pass the same state with
 * every longer prefix of the same stream, and the same scratch_cap. */
struct kp_tls_scan_state {
    /* In/out: number of complete handshake messages already passed to the
     * callback.  kp_tls_scan delivers only messages with an index >=
     * delivered, so each message reaches the callback exactly once over any
     * sequence of calls (a call may walk again over the record where the
     * previous one stopped). */
    uint32_t delivered;
    /* In/out: the negotiated version, 0 while unknown.  kp_tls_scan sets it
     * from a ServerHello it walks over (its supported_versions selection, else
     * its legacy_version; 0x0304 for a HelloRetryRequest).  The caller may set
     * it from the other direction's ServerHello: on the client side this is
     * what tells the TLS 1.3 middlebox-compatibility ChangeCipherSpec
     * (RFC 8446 D.4), which does not start encryption, from the TLS <= 1.2 one,
     * which does.  With version 0 a ChangeCipherSpec stops the walk; scanning
     * again after setting a TLS 1.3 version walks past it. */
    uint16_t version;

    /* Outputs, rewritten by every call. */
    size_t offset;      /* bytes of the stream walked: the end of the last complete record used,
                           or the start of the record that stopped the walk (st->stop != NONE,
                           except KP_TLS_STOP_TLS13: the end of the ServerHello's record) */
    uint32_t records;   /* complete records walked */
    uint32_t messages;  /* complete handshake messages found in the walk (delivered or not) */
    uint32_t oversized; /* messages skipped, not delivered: they span records and are larger
                           than scratch_cap (still counted in messages and delivered) */
    uint16_t record_version; /* legacy_record_version of the first record; 0 if none seen */
    enum kp_tls_stop stop;   /* why the walk stopped */
    bool encrypted;     /* the bytes from `offset` on are protected; nothing more to parse */
    bool sslv2;         /* the stream starts with an SSLv2-compatible ClientHello (RFC 5246 E.2);
                           returned with KP_RES_NOT_MINE */
    bool alert_seen;    /* stop == ALERT and the alert was in clear (2-byte record) */
    uint8_t alert_level;       /* valid when alert_seen (RFC 8446 6) */
    uint8_t alert_description; /* valid when alert_seen */

    struct kp_tls_scan_resume resume; /* private to kp_tls_scan */
};

/* Walk TLS records (RFC 8446 5.1, RFC 5246 6.2.1) from the first byte of
 * `stream`, the contiguous prefix of one direction of a TCP connection.
 * Handshake record payloads form one handshake byte stream; every complete
 * handshake message in it (several per record, or one spread over many
 * records) is passed to cb, in order, unless an earlier call already did
 * (st->delivered).  Messages that span records are assembled in scratch
 * (scratch_cap bytes, caller-owned, contents unspecified afterwards); a
 * message that fits in one record is passed without copying.
 *
 * Every call after the first resumes at the record where the previous one
 * ended (st->resume) instead of walking again from the first byte, so that
 * feeding a stream byte by byte costs time linear in its length.  The
 * outputs are the same as a walk from the first byte would give: the
 * counters, offset and record_version cover the whole stream.  A call walks
 * from the first byte again when the resume point cannot stand: the stream
 * is shorter than it, delivered was lowered below the messages before it,
 * scratch_cap changed, or st->version no longer says TLS 1.3 while a
 * ChangeCipherSpec before it was skipped on the strength of that version.
 *
 * The walk stops (KP_RES_OK) at an application_data record or a
 * ChangeCipherSpec record (st->encrypted set; the 5-byte header is enough,
 * the payload is not needed), at an alert record (once complete), and after
 * delivering a ServerHello that selects TLS 1.3 (st->encrypted set; not after
 * a HelloRetryRequest).  When st->version says TLS 1.3, a ChangeCipherSpec
 * record is the compatibility one and is skipped instead (RFC 8446 5; it
 * must then be the single byte 0x01).  Heartbeat records are skipped.  Bytes
 * after the stop are never read.
 *
 * cb(hs_type, body, user): hs_type is the msg_type, body the message body
 * (without its 4-byte header); body borrows `stream` or `scratch` and is valid
 * only during the call.  cb may be NULL (walk and count only).  A ServerHello
 * that does not parse does not stop the walk (it is still delivered).
 *
 * Returns:
 *   KP_RES_OK         stopped as above, or every complete record was walked
 *                     and no handshake message is left incomplete;
 *   KP_RES_TRUNCATED  the stream ends inside a record header or a record
 *                     (other than a stopping one), or a handshake message
 *                     continues past the last record: call again with a
 *                     longer prefix (an empty stream too);
 *   KP_RES_NOT_MINE   the first record header is not TLS (content type not
 *                     20..24, or version major byte not 3); st->sslv2 tells an
 *                     SSLv2-compatible ClientHello apart;
 *   KP_RES_MALFORMED  a later record with a bad content type or version, a
 *                     record longer than KP_TLS_MAX_RECORD_LEN, an empty
 *                     handshake record (RFC 8446 5.1), another record type
 *                     in the middle of a fragmented handshake message, or (in
 *                     TLS 1.3 mode) a ChangeCipherSpec other than 0x01.
 * Messages before the error have been delivered. */
enum kp_res kp_tls_scan(const struct kp_rd *stream, uint8_t *scratch, size_t scratch_cap,
                        struct kp_tls_scan_state *st,
                        void (*cb)(uint8_t hs_type, struct kp_rd body, void *user), void *user);

/* ---- ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2, RFC 6347 4.2.1) ------ */

struct kp_tls_client_hello {
    uint16_t legacy_version;  /* client_version / legacy_version */
    uint8_t random[32];       /* copied */
    uint8_t session_id_len;   /* 0..32 */
    struct kp_rd session_id;  /* borrowed */
    uint8_t cookie_len;       /* DTLS only (RFC 6347 4.2.1); 0 for TLS */
    struct kp_rd cookie;      /* DTLS only; borrowed; empty for TLS */

    uint16_t ciphers[KP_TLS_MAX_CIPHERS]; /* wire order, GREASE kept */
    size_t n_ciphers;
    size_t ciphers_total;
    uint8_t compression_count;  /* number of compression methods */
    bool compression_null;      /* method 0 (null) offered */

    uint16_t exts[KP_TLS_MAX_EXTS]; /* extension types, wire order, GREASE kept */
    size_t n_exts;
    size_t exts_total;

    bool has_sni;              /* server_name (0) extension present */
    struct kp_rd sni;          /* first host_name entry, raw bytes (not NUL-terminated, may hold
                                  any byte: see KP_TLS_ANOM_SNI_CHARS); empty if none */

    bool has_alpn;             /* ALPN (16) extension present (RFC 7301 3.1) */
    struct kp_rd alpn[KP_TLS_MAX_ALPN]; /* protocol names, wire order, borrowed */
    size_t n_alpn;
    size_t alpn_total;

    bool has_supported_versions; /* supported_versions (43) present (RFC 8446 4.2.1) */
    uint16_t versions[KP_TLS_MAX_VERSIONS]; /* wire order, GREASE kept */
    size_t n_versions;
    size_t versions_total;

    bool has_sigalgs;          /* signature_algorithms (13) present (RFC 8446 4.2.3) */
    uint16_t sigalgs[KP_TLS_MAX_SIGALGS]; /* wire order, GREASE kept */
    size_t n_sigalgs;
    size_t sigalgs_total;

    bool has_groups;           /* supported_groups (10) present (RFC 8446 4.2.7) */
    uint16_t groups[KP_TLS_MAX_GROUPS]; /* wire order, GREASE kept */
    size_t n_groups;
    size_t groups_total;

    bool has_ec_point_formats; /* ec_point_formats (11) present (RFC 8422 5.1.2) */
    uint8_t ec_point_formats_count;

    bool has_key_share;        /* key_share (51) present (RFC 8446 4.2.8) */
    uint16_t key_share_groups[KP_TLS_MAX_KEY_SHARES]; /* groups of the KeyShareEntry list */
    size_t n_key_shares;
    size_t key_shares_total;

    bool has_use_srtp;         /* use_srtp (14) present (RFC 5764 4.1.1) */
    uint16_t srtp_profiles[KP_TLS_MAX_SRTP];
    size_t n_srtp_profiles;
    size_t srtp_profiles_total;
    uint8_t srtp_mki_len;      /* length of srtp_mki */

    bool has_ech;              /* encrypted_client_hello (0xfe0d) present (RFC 9849) */
    uint8_t ech_type;          /* its first byte: 0 outer, 1 inner; 0xff if empty or absent */
    bool has_psk;              /* pre_shared_key (41) present (RFC 8446 4.2.11) */
    bool has_early_data;       /* early_data (42) present */
    bool has_session_ticket;   /* session_ticket (35) present (RFC 5077) */
    bool has_quic_tp;          /* quic_transport_parameters (57) present (RFC 9001 8.2) */
    bool has_padding;          /* padding (21) present (RFC 7685) */
    uint16_t padding_len;      /* its extension_data length */

    uint32_t anomalies;        /* KP_TLS_ANOM_* bits */
};

/* Parse a ClientHello body.  dtls: the DTLS layout with a cookie<0..2^8-1>
 * after legacy_session_id (RFC 6347 4.2.1, RFC 9147 5.3).  Extensions are
 * optional (RFC 5246 7.4.1.2: absent when nothing follows the compression
 * methods).  Checked: session_id <= 32 bytes, cipher_suites of even length,
 * every vector inside its parent, the extensions block filling the rest of
 * the body exactly, no extension type twice (RFC 8446 4.2), and the inner
 * structure of server_name, ALPN, supported_versions, signature_algorithms,
 * supported_groups, ec_point_formats, key_share, use_srtp: KP_RES_MALFORMED if
 * any fails.  Never returns TRUNCATED (see the file comment).  Uses about
 * 8 KiB of stack (a bitmap of the extension types seen). */
enum kp_res kp_tls_parse_client_hello(struct kp_tls_client_hello *out, struct kp_rd body,
                                      bool dtls);

/* ---- ServerHello (RFC 8446 4.1.3, RFC 5246 7.4.1.3) --------------------- */

struct kp_tls_server_hello {
    uint16_t legacy_version;   /* server_version / legacy_version */
    uint8_t random[32];        /* copied */
    uint8_t session_id_len;    /* 0..32 */
    struct kp_rd session_id;   /* borrowed */
    uint16_t cipher_suite;
    uint8_t compression;       /* compression_method */
    bool is_hrr;               /* random is the HelloRetryRequest value (RFC 8446 4.1.3) */
    uint16_t downgrade;        /* random ends in a TLS 1.3 downgrade sentinel (RFC 8446 4.1.3):
                                  KP_TLS_V_TLS12 for "DOWNGRD\1", KP_TLS_V_TLS11 for
                                  "DOWNGRD\0" (TLS 1.1 or below); 0 for none */

    uint16_t exts[KP_TLS_MAX_EXTS]; /* extension types, wire order */
    size_t n_exts;
    size_t exts_total;

    bool has_supported_versions; /* supported_versions (43) present */
    uint16_t selected_version;   /* its selected_version; 0 when absent */
    uint16_t version;            /* negotiated: selected_version if present, else legacy_version */

    bool has_alpn;             /* ALPN (16) present */
    struct kp_rd alpn;         /* the selected protocol name, borrowed; empty if absent */

    bool has_use_srtp;         /* use_srtp (14) present (RFC 5764 4.1.1) */
    uint16_t srtp_profile;     /* the (first) selected profile; 0 if none */
    uint8_t srtp_mki_len;

    bool has_key_share;        /* key_share (51) present */
    uint16_t key_share_group;  /* ServerHello: KeyShareEntry.group; HRR: selected_group */

    bool has_psk;              /* pre_shared_key (41) present */
    uint16_t psk_identity;     /* its selected_identity */
    bool has_sni_ack;          /* server_name (0) present (RFC 6066 3: empty acknowledgement) */
    bool has_ech;              /* encrypted_client_hello (0xfe0d) present (HRR confirmation) */
    bool has_extended_master_secret; /* extended_master_secret (23) present (RFC 7627) */
    bool has_renegotiation_info;     /* renegotiation_info (0xff01) present (RFC 5746) */
    bool has_session_ticket;   /* session_ticket (35) present */

    uint32_t anomalies;        /* KP_TLS_ANOM_* bits */
};

/* Parse a ServerHello (or HelloRetryRequest) body.  dtls only affects the
 * version-family check (KP_TLS_ANOM_VERSION_FAMILY): DTLS and TLS
 * ServerHellos have the same layout.  A legacy_version of 0x7f00-0x7f15 (TLS
 * 1.3 drafts before 22) selects those drafts' layout: version, random,
 * cipher_suite, extensions, with no session id and no compression method.
 * Same checks as the ClientHello: vectors inside their parents, extensions
 * block exact, no duplicates, inner structure of supported_versions (exactly
 * 2 bytes), ALPN, use_srtp, key_share
 * (a KeyShareEntry, or a bare group in a HelloRetryRequest) and
 * pre_shared_key.  Never returns TRUNCATED.  Uses about 8 KiB of stack. */
enum kp_res kp_tls_parse_server_hello(struct kp_tls_server_hello *out, struct kp_rd body,
                                      bool dtls);

/* ---- Certificate (RFC 5246 7.4.2, RFC 8446 4.4.2) ----------------------- */

struct kp_tls_certificate {
    struct kp_rd certs[KP_TLS_MAX_CERTS]; /* DER certificates, wire order (the end-entity
                                             first), borrowed */
    size_t n_certs;
    size_t certs_total;
    struct kp_rd context;      /* TLS 1.3 certificate_request_context; empty otherwise */
    uint32_t anomalies;        /* KP_TLS_ANOM_EMPTY_VECTOR for a zero-length certificate */
};

/* Parse a Certificate body.  tls13 = false: certificate_list<0..2^24-1> of
 * ASN.1Cert<1..2^24-1> (RFC 5246 7.4.2).  tls13 = true: a request context
 * then CertificateEntry items with per-entry extensions (RFC 8446 4.4.2).
 * The list must fill the body exactly.  The DER is not examined here (see
 * x509.h).  Never returns TRUNCATED. */
enum kp_res kp_tls_parse_certificate(struct kp_tls_certificate *out, struct kp_rd body,
                                     bool tls13);

#endif
