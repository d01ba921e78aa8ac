/* DTLS recognition: the record layer of DTLS 1.0 and 1.2 (RFC 6347 4.1),
 * connection-ID records (RFC 9146 4), the DTLS 1.3 unified header (RFC 9147
 * 4), handshake fragments (RFC 6347 4.2.2) and their bounded reassembly,
 * HelloVerifyRequest (RFC 6347 4.2.1) and the names of DTLS-SRTP protection
 * profiles (RFC 5764 4.1.2).
 *
 * The bodies of ClientHello, ServerHello and Certificate are parsed by tls.h
 * (kp_tls_parse_client_hello(out, body, true), kp_tls_parse_server_hello,
 * kp_tls_parse_certificate(out, body, false)); this module finds and
 * reassembles those bodies.
 *
 * Everything here is pure: no allocation, no global state, no I/O.  Inputs
 * are borrowed struct kp_rd views; outputs hold views into the input (or
 * into a caller-owned struct kp_dtls_hs), valid only as long as those bytes
 * are.  The reassembly state is the only state, and the caller owns it.
 *
 * Results (enum kp_res): OK; NOT_MINE when the first bytes are not DTLS;
 * TRUNCATED when the datagram ends inside a record (a capture cut by its
 * snap length: the bytes seen so far are valid); MALFORMED when a length or
 * a field breaks the structure; NOMEM when the fixed capacity of the
 * reassembly state is exceeded.  On any result other than OK the contents
 * of *out are unspecified and input views are left unchanged.
 */
#ifndef KP_DTLS_H
#define KP_DTLS_H

#include "kp.h"
#include "tls.h"

/* ---- Constants ---------------------------------------------------------- */

/* Record versions besides KP_TLS_V_DTLS10/12/13 (tls.h): OpenSSL before
 * 0.9.8f sent this "DTLS1_BAD_VER" on the record layer and in hellos. */
#define KP_DTLS_V_BAD 0x0100

/* Content types besides the TLS ones in tls.h. */
#define KP_DTLS_CT_TLS12_CID 25 /* RFC 9146 4: record with a connection ID */
#define KP_DTLS_CT_ACK 26       /* RFC 9147 7 */

#define KP_DTLS_RECORD_HEADER_LEN 13 /* RFC 6347 4.1: type, version, epoch, sequence(48), length */
#define KP_DTLS_HS_HEADER_LEN 12     /* RFC 6347 4.2.2: type, length(24), message_seq,
                                        fragment_offset(24), fragment_length(24) */

/* Extension connection_id (RFC 9146 3). */
#define KP_DTLS_EXT_CONNECTION_ID 0x0036

/* cid_len argument when the connection ID length is not known (see
 * kp_dtls_parse_record). */
#define KP_DTLS_CID_UNKNOWN ((size_t)-1)

/* Largest record length accepted: DTLSCiphertext.length, RFC 6347 4.1
 * (2^14 + 2048), which also bounds DTLSPlaintext (2^14) and RFC 9147
 * records. */
#define KP_DTLS_MAX_RECORD_LEN KP_TLS_MAX_RECORD_LEN

/* Helpers. */

/* kp_tls_version_name(v), plus "DTLS 1.0 (OpenSSL pre 0.9.8f)" for
 * KP_DTLS_V_BAD.  Static strings; NULL for unknown versions. */
const char *kp_dtls_version_name(uint16_t v);

/* Name of a DTLS-SRTP protection profile (IANA "DTLS-SRTP Protection
 * Profiles": RFC 5764 4.1.2, RFC 7714 14.2, RFC 8723 10.1, RFC 8269 6.1),
 * e.g. "SRTP_AES128_CM_HMAC_SHA1_80" for 0x0001, "SRTP_AEAD_AES_128_GCM"
 * for 0x0007.  Static strings; NULL for unassigned values. */
const char *kp_srtp_profile_name(uint16_t profile);

/* ---- Record layer ------------------------------------------------------- */

struct kp_dtls_record {
    bool unified;          /* DTLS 1.3 unified header (RFC 9147 4: first bits 001) */
    uint8_t content_type;  /* DTLSPlaintext/DTLSCiphertext type: 20..26 (25 = tls12_cid);
                              0 for a unified header (the real type is encrypted) */
    uint16_t version;      /* record version (0xfeff, 0xfefd, 0xfefc or 0x0100); 0 for a unified
                              header, which has none */
    uint16_t epoch;        /* epoch; for a unified header only its 2 low bits (RFC 9147 4) */
    uint64_t seq;          /* 48-bit sequence_number; for a unified header the 8 or 16 bits on
                              the wire, which are encrypted (RFC 9147 4.2.3) and so meaningless
                              to an observer */
    bool encrypted;        /* the payload is ciphertext: a unified header, a tls12_cid record,
                              or any record with epoch != 0 */
    bool has_cid;          /* a connection ID is present (C bit, or content type tls12_cid) */
    bool cid_unknown;      /* has_cid but the caller passed KP_DTLS_CID_UNKNOWN: the record was
                              taken to run to the end of the datagram, cid is empty and payload
                              holds everything after the first header field that could be read
                              (the CID, sequence, length and ciphertext, undivided) */
    bool length_implicit;  /* unified header without the L bit: the record runs to the end of
                              the datagram (RFC 9147 4) */
    struct kp_rd cid;      /* the connection ID (borrowed), empty if none */
    struct kp_rd payload;  /* DTLSPlaintext.fragment or the encrypted record (borrowed) */
    size_t wire_len;       /* bytes this record occupies in the datagram */
};

/* Parse one record at the front of *dgram (a UDP payload) and advance
 * *dgram past it on KP_RES_OK.
 *
 * cid_len: length of the connection ID carried by records of this direction,
 * or KP_DTLS_CID_UNKNOWN.  A record carries the CID its receiver asked for
 * (RFC 9146 3): records to the client carry the CID in the client's
 * ClientHello connection_id extension, records to the server the one in the
 * ServerHello (see kp_dtls_hello_cid).  It is only read for tls12_cid
 * records and unified headers with the C bit.
 *
 * Returns:
 *   KP_RES_OK         *out filled;
 *   KP_RES_NOT_MINE   the first byte is neither a DTLS content type (20..26)
 *                     nor a unified header (0x20..0x3f), or a DTLSPlaintext
 *                     version is not one of 0xfeff, 0xfefd, 0xfefc, 0x0100;
 *   KP_RES_TRUNCATED  *dgram ends inside the header or before `length`
 *                     payload bytes (also for an empty *dgram);
 *   KP_RES_MALFORMED  length above KP_DTLS_MAX_RECORD_LEN, or a tls12_cid
 *                     record with epoch 0 (RFC 9146 4: CIDs are only used
 *                     once encryption is on).
 * *dgram is unchanged unless OK. */
enum kp_res kp_dtls_parse_record(struct kp_dtls_record *out, struct kp_rd *dgram, size_t cid_len);

/* ---- Handshake fragments ------------------------------------------------ */

struct kp_dtls_hs_frag {
    uint8_t msg_type;         /* HandshakeType (tls.h KP_TLS_HS_*) */
    uint32_t length;          /* length of the whole message body */
    uint16_t message_seq;
    uint32_t fragment_offset;
    struct kp_rd fragment;    /* fragment_length bytes of the body, borrowed */
};

/* Parse one handshake fragment (RFC 6347 4.2.2) at the front of *payload,
 * the payload of an epoch-0 handshake record, and advance *payload past it.
 * A record holds whole fragments only (RFC 6347 4.2.3), so a header or a
 * fragment that runs past the payload is KP_RES_MALFORMED, as is
 * fragment_offset + fragment_length > length.  Never returns TRUNCATED.
 * *payload is unchanged unless OK. */
enum kp_res kp_dtls_parse_hs_frag(struct kp_dtls_hs_frag *out, struct kp_rd *payload);

/* ---- Handshake reassembly ----------------------------------------------- */

#define KP_DTLS_HS_MAX_MSG 16384 /* largest fragmented message reassembled (bytes of body) */
#define KP_DTLS_HS_SLOTS 4       /* fragmented messages in progress at once */
#define KP_DTLS_HS_WINDOW 64     /* message_seq accepted: base .. base + 63 */

/* Anomaly bits of the reassembly (kp_dtls_hs.anomalies) and of a datagram
 * scan (kp_dtls_dgram.anomalies). */
#define KP_DTLS_ANOM_OVERLAP_MISMATCH 0x0001u /* overlapping fragments disagree: first wins */
#define KP_DTLS_ANOM_FRAG_INCONSISTENT 0x0002u /* a fragment's msg_type or length differs from
                                                  earlier fragments of its message_seq
                                                  (dropped) */
#define KP_DTLS_ANOM_MSG_TOO_LONG 0x0004u     /* fragmented message longer than
                                                  KP_DTLS_HS_MAX_MSG (dropped) */
#define KP_DTLS_ANOM_NO_SLOT 0x0008u          /* KP_DTLS_HS_SLOTS messages already in
                                                  progress (dropped) */
#define KP_DTLS_ANOM_SEQ_WINDOW 0x0010u       /* message_seq at or beyond base +
                                                  KP_DTLS_HS_WINDOW (dropped) */
#define KP_DTLS_ANOM_EMPTY_RECORD 0x0020u     /* a zero-length handshake, alert or
                                                  ChangeCipherSpec record (RFC 5246 6.2.1) */

/* One message being reassembled (its bytes are in the kp_dtls_hs_buf of
 * the same index). */
struct kp_dtls_hs_slot {
    bool used;
    uint8_t msg_type;
    uint16_t message_seq;
    uint32_t length;                        /* body length, <= KP_DTLS_HS_MAX_MSG */
    uint32_t received;                      /* distinct body bytes received so far */
};

/* The bytes of one slot.  Only have[0 .. (length + 7) / 8) is read, and
 * cleared when the slot is taken; only body[i] with have bit i set is read. */
struct kp_dtls_hs_buf {
    uint8_t have[KP_DTLS_HS_MAX_MSG / 8];   /* bit i set: body[i] received */
    uint8_t body[KP_DTLS_HS_MAX_MSG];
};

/* Reassembly state of one direction of one DTLS association: caller-owned
 * (about 74 KiB), initialised with kp_dtls_hs_reset before first use (a
 * zeroed struct is initialised too).  Messages are identified by
 * message_seq (RFC 6347 4.2.2); each is delivered once, when complete,
 * whatever the order its fragments or the messages arrived in.  A window of
 * KP_DTLS_HS_WINDOW message_seq values starting at `base` is tracked: base
 * moves up past every delivered message at its start, fragments below base
 * are retransmissions of delivered messages (ignored), fragments at or
 * beyond base + KP_DTLS_HS_WINDOW are dropped.  A new handshake on the same
 * association restarts message_seq at 0 (RFC 6347 4.2.2): the caller resets
 * the state when it sees one.
 *
 * The slot buffers (buf, all but a few dozen bytes) come last and are never
 * read before being written: kp_dtls_hs_reset leaves them alone, so memory
 * fresh from malloc is touched only as far as fragmented messages reach. */
struct kp_dtls_hs {
    uint16_t base;          /* lowest message_seq not yet known to be delivered */
    uint64_t done;          /* bit i set: message base + i delivered */
    struct kp_dtls_hs_slot slot[KP_DTLS_HS_SLOTS];
    uint32_t delivered;     /* messages delivered so far */
    uint32_t dropped;       /* fragments dropped (see the anomaly bits) */
    uint32_t anomalies;     /* KP_DTLS_ANOM_* bits seen so far */
    struct kp_dtls_hs_buf buf[KP_DTLS_HS_SLOTS]; /* last: see above */
};

/* A complete handshake message, as passed to the delivery callback. */
struct kp_dtls_msg {
    uint8_t msg_type;
    uint16_t message_seq;
    struct kp_rd body;      /* the whole body (length bytes): borrowed from the datagram when it
                               came in one fragment, else from the kp_dtls_hs slot; valid only
                               during the callback */
    bool reassembled;       /* body was assembled from several fragments */
};

/* Delivery callback: called once per complete message.  It must not call
 * kp_dtls_hs_add or kp_dtls_scan on the same state. */
typedef void (*kp_dtls_msg_cb)(const struct kp_dtls_msg *msg, void *user);

/* Forget everything: the state becomes that of a zeroed struct, except
 * that the slot buffers (hs->buf), which nothing reads before writing, are
 * not touched. */
void kp_dtls_hs_reset(struct kp_dtls_hs *hs);

/* Add one fragment.  Overlapping and retransmitted fragments: bytes already
 * received are kept (first wins; KP_DTLS_ANOM_OVERLAP_MISMATCH if the new
 * bytes differ).  A fragment covering a whole message (offset 0, fragment
 * length == length) is delivered straight from its bytes, without copying
 * and whatever its size, unless fragments of its message are pending: then
 * it completes them (first bytes win).  cb may be NULL.
 *
 * Returns:
 *   KP_RES_OK         stored, delivered, or ignored as a retransmission of a
 *                     delivered message;
 *   KP_RES_MALFORMED  fragment_offset + fragment length > length, or the
 *                     fragment disagrees with earlier fragments of its
 *                     message_seq on msg_type or length (dropped);
 *   KP_RES_NOMEM      a fragmented message longer than KP_DTLS_HS_MAX_MSG,
 *                     no free slot, or message_seq beyond the window
 *                     (dropped).
 * A dropped fragment increments hs->dropped and sets an anomaly bit; the
 * state stays consistent. */
enum kp_res kp_dtls_hs_add(struct kp_dtls_hs *hs, const struct kp_dtls_hs_frag *frag,
                           kp_dtls_msg_cb cb, void *user);

/* ---- Datagram scan ------------------------------------------------------ */

/* What one datagram held. */
struct kp_dtls_dgram {
    size_t n_records;          /* records walked */
    uint16_t version;          /* version of the first record with one (not unified); 0 if none */
    size_t n_fragments;        /* handshake fragments found in epoch-0 handshake records */
    bool handshake;            /* an epoch-0 handshake record */
    bool ccs;                  /* a ChangeCipherSpec record */
    bool alert;                /* an epoch-0 (cleartext) alert record */
    uint8_t alert_level;       /* its first alert, valid when alert */
    uint8_t alert_description;
    bool app_data;             /* an application_data record (DTLS 1.0/1.2) */
    bool encrypted;            /* a record with encrypted payload (see kp_dtls_record) */
    bool unified;              /* a DTLS 1.3 unified-header record */
    bool cid;                  /* a record with a connection ID */
    bool cid_unknown;          /* one whose CID length was unknown (the walk ended there) */
    uint32_t anomalies;        /* KP_DTLS_ANOM_* bits for this datagram, including those of the
                                  reassembly calls it made */
};

/* Walk every record of one UDP datagram (RFC 6347 4.1.1: several records
 * per datagram).  Each epoch-0 handshake record is split into fragments;
 * with hs != NULL they go to kp_dtls_hs_add (complete messages reach cb),
 * with hs == NULL only fragments that hold a whole message reach cb (no
 * duplicate suppression).  Records with an encrypted payload are counted
 * and skipped; a record whose CID length is unknown ends the walk.  The
 * reassembly refusing a fragment (NOMEM, MALFORMED from kp_dtls_hs_add) is
 * recorded in anomalies and does not stop the walk.
 *
 * Returns:
 *   KP_RES_OK         every record walked;
 *   KP_RES_NOT_MINE   the first record is not DTLS (nothing delivered);
 *   KP_RES_TRUNCATED  the datagram ends inside a record (records before it
 *                     were processed; also for an empty datagram);
 *   KP_RES_MALFORMED  a later record is not DTLS or has a bad length, or a
 *                     handshake fragment is malformed (kp_dtls_parse_hs_frag);
 *                     what came before was processed.
 * *out is filled in every case (for NOT_MINE: all zero). */
enum kp_res kp_dtls_scan(struct kp_dtls_dgram *out, struct kp_rd dgram, size_t cid_len,
                         struct kp_dtls_hs *hs, kp_dtls_msg_cb cb, void *user);

/* ---- Message bodies ----------------------------------------------------- */

struct kp_dtls_hello_verify_request {
    uint16_t server_version;   /* 0xfeff for DTLS 1.0 and 1.2 (RFC 6347 4.2.1), 0x0100 for
                                  OpenSSL's pre-standard version */
    struct kp_rd cookie;       /* cookie<0..2^8-1>, borrowed */
};

/* Parse a HelloVerifyRequest body (RFC 6347 4.2.1): server_version, then a
 * cookie with a one-byte length, filling the body exactly.  KP_RES_MALFORMED
 * otherwise.  Never returns TRUNCATED. */
enum kp_res kp_dtls_parse_hello_verify_request(struct kp_dtls_hello_verify_request *out,
                                               struct kp_rd body);

/* Find the connection_id extension (RFC 9146 3, type 54) in a DTLS
 * ClientHello (hs_type 1) or ServerHello (hs_type 2) body.  On KP_RES_OK,
 * *present tells whether it was there and *cid is its cid<0..2^8-1>
 * (borrowed; empty when absent).  Only the framing up to the extensions is
 * walked (kp_tls_parse_* check the rest).  Returns KP_RES_MALFORMED if the
 * body does not hold that framing (a vector past its parent, an extension
 * block not filling the body, a bad connection_id body), KP_RES_NOT_MINE for
 * another hs_type. */
enum kp_res kp_dtls_hello_cid(struct kp_rd body, uint8_t hs_type, bool *present,
                              struct kp_rd *cid);

#endif
