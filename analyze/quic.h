/* QUIC Initial packets (RFC 9000, RFC 9001, QUIC version 2 RFC 9369, and the
 * IETF drafts that used the same long header) and Google QUIC recognition.
 *
 * What a passive observer can read of a QUIC handshake: the long header in
 * clear (versions, connection IDs, token), and the payload of Initial
 * packets, whose keys derive from public salts and the client's Destination
 * Connection ID (RFC 9001 5.2).  The payload carries CRYPTO frames, and the
 * CRYPTO stream of the client's Initial packets is the TLS ClientHello,
 * parsed with kp_tls_parse_client_hello(out, body, false).
 *
 * Layers, all pure apart from OpenSSL's cipher calls (no global state, no
 * I/O; allocation only inside OpenSSL):
 *   kp_quic_parse_long_header   one packet's long header (RFC 9000 17.2)
 *   kp_quic_initial_keys        Initial secrets -> key, iv, hp (RFC 9001 5.2)
 *   kp_quic_unprotect_header    header protection removal (RFC 9001 5.4)
 *   kp_quic_decrypt_initial     header protection + AEAD (RFC 9001 5.3)
 *   kp_quic_frames              frame walk of a decrypted Initial payload
 *   kp_quic_crypto_*            bounded CRYPTO stream reassembly
 *   kp_quic_feed_datagram       all of the above over one UDP datagram
 *   kp_quic_retry_verify        Retry Integrity Tag (RFC 9001 5.8)
 *   kp_gquic_parse(_decrypt)    Google QUIC client packets (CHLO: SNI, UAID)
 *
 * Views (struct kp_rd) in outputs borrow the input bytes and are valid only as
 * long as those are.  Results: KP_RES_OK; KP_RES_NOT_MINE (not this
 * protocol, or a version this module cannot handle); KP_RES_TRUNCATED (the
 * input ends before the structure does: for a UDP datagram, which never
 * continues, this means the capture was cut or the length field lies);
 * KP_RES_MALFORMED (violates the RFC, or fails authentication);
 * KP_RES_NOMEM (a caller-provided buffer is too small, or OpenSSL failed).
 * On any result other than OK the contents of outputs are unspecified unless
 * a function says otherwise.
 */
#ifndef KP_QUIC_H
#define KP_QUIC_H

#include "kp.h"

/* ---- Versions ----------------------------------------------------------- */

#define KP_QUIC_VERSION_NEGOTIATION 0x00000000u /* RFC 9000 17.2.1 */
#define KP_QUIC_V1 0x00000001u                  /* RFC 9000 15 */
#define KP_QUIC_V2 0x6b3343cfu                  /* RFC 9369 3.1 */
#define KP_QUIC_V2_DRAFT 0x709a50c4u            /* RFC 9369 9: provisional draft codepoint */
#define KP_QUIC_DRAFT(n) (0xff000000u | (uint32_t)(n)) /* draft-ietf-quic-transport-n */
#define KP_QUIC_MVFST_DRAFT27 0xfaceb002u       /* Facebook mvfst, draft-27 based */
#define KP_GQUIC_Q050 0x51303530u               /* Google QUIC "Q050" */

/* Largest connection ID of QUIC v1 and v2 (RFC 9000 17.2); version-independent
 * long headers allow 255 (RFC 8999 5.1). */
#define KP_QUIC_MAX_CID 20

/* Size of a name written by kp_quic_version_name, NUL included. */
#define KP_QUIC_VERSION_NAME_LEN 24

/* Write a short name of `version` into buf (always NUL-terminated) and
 * return buf: "QUICv1", "QUICv2", "QUICv2-draft", "draft-29" (0xff0000NN),
 * "mvfst-faceb002" (0xfaceb0NN), "Q046" / "T051" (Google QUIC: 'Q' or 'T'
 * and three ASCII digits), "negotiation" (0), "reserved-0x1a2a3a4a" (the
 * 0x?a?a?a?a versions reserved to exercise version negotiation, RFC 9000
 * 15), else "0x%08x". */
const char *kp_quic_version_name(uint32_t version, char buf[KP_QUIC_VERSION_NAME_LEN]);

/* True if kp_quic_initial_keys knows the Initial salt and labels of this
 * version and its Initial packets carry a TLS ClientHello in CRYPTO frames:
 * QUIC v1, QUIC v2, draft-23 to draft-32 (0xff000017-0xff000020: the
 * draft-23 and draft-29 salts), and mvfst 0xfaceb002 (draft-23 salt).
 * Checked against captures: v1, v2, draft-28, draft-29, faceb002.  (Q050's
 * keys derive too, see kp_gquic_parse, but this returns false for it.) */
bool kp_quic_is_supported_version(uint32_t version);

/* True for Google QUIC versions: 'Q' or 'T' followed by three ASCII digits
 * ("Q043", "Q046", "Q050", "T051", ...). */
bool kp_quic_is_gquic_version(uint32_t version);

/* ---- Long header (RFC 9000 17.2, RFC 8999 5.1) -------------------------- */

/* Packet types, independent of the version's numbering: QUIC v1 (and the
 * drafts, mvfst, Q049+ and T0xx) number Initial 0, 0-RTT 1, Handshake 2,
 * Retry 3 (RFC 9000 17.2); QUIC v2 numbers Initial 1, 0-RTT 2, Handshake 3,
 * Retry 0 (RFC 9369 3.2). */
enum kp_quic_ptype {
    KP_QUIC_PT_INITIAL = 0,
    KP_QUIC_PT_0RTT,
    KP_QUIC_PT_HANDSHAKE,
    KP_QUIC_PT_RETRY,
    KP_QUIC_PT_VERSION_NEG, /* version 0 (RFC 9000 17.2.1) */
    KP_QUIC_PT_UNKNOWN      /* a version whose packet layout this module does not know:
                               only the invariant fields are parsed (RFC 8999 5.1) */
};

/* Name of a packet type ("Initial", "0-RTT", "Handshake", "Retry",
 * "VersionNegotiation", "unknown").  Static strings. */
const char *kp_quic_ptype_name(enum kp_quic_ptype t);

#define KP_QUIC_RETRY_TAG_LEN 16 /* RFC 9001 5.8 */
#define KP_QUIC_AEAD_TAG_LEN 16  /* AEAD_AES_128_GCM expansion (RFC 9001 5.3) */

struct kp_quic_long_hdr {
    uint8_t first;          /* first byte as on the wire: for Initial, 0-RTT and Handshake its
                               low 4 bits are still under header protection (RFC 9001 5.4.1) */
    uint32_t version;       /* Version field */
    enum kp_quic_ptype type;
    uint8_t type_bits;      /* the 2 raw Long Packet Type bits (first >> 4 & 3) */
    bool known_version;     /* the version's layout is known (type != KP_QUIC_PT_UNKNOWN, or
                               a Version Negotiation packet) */
    bool fixed_bit_clear;   /* the Fixed Bit (0x40) is 0: invalid unless greased (RFC 9287 3);
                               still parsed.  Not set for Version Negotiation, where the bit is
                               unused (RFC 9000 17.2.1) */
    struct kp_rd dcid;      /* Destination Connection ID, borrowed (<= 20 bytes for a known
                               version, <= 255 otherwise) */
    struct kp_rd scid;      /* Source Connection ID, borrowed */
    struct kp_rd token;     /* Initial: the Token (RFC 9000 17.2.2); Retry: the Retry Token
                               (17.2.5); empty otherwise.  Borrowed */
    uint64_t length;        /* Initial, 0-RTT, Handshake: the Length field, the bytes of packet
                               number and protected payload (RFC 9000 17.2); 0 otherwise */
    size_t pn_offset;       /* Initial, 0-RTT, Handshake: offset of the Packet Number field from
                               the first byte (RFC 9001 5.4.2); 0 otherwise */
    size_t pkt_len;         /* bytes of this packet in the datagram.  Initial, 0-RTT, Handshake:
                               pn_offset + length, after which a coalesced packet may follow
                               (RFC 9000 12.2); Retry, Version Negotiation and unknown versions
                               have no length field and take the rest of the datagram */
    struct kp_rd retry_tag; /* Retry: the 16-byte Retry Integrity Tag; empty otherwise */
    struct kp_rd versions;  /* Version Negotiation: the Supported Version list, borrowed */
    size_t n_versions;      /* number of 32-bit entries in `versions` */
};

/* Parse the long header of the packet that starts at the first byte of
 * `pkt` (a UDP payload, or what is left of it after earlier coalesced
 * packets).  Checked: the Header Form bit (0x80); connection ID lengths (at
 * most 20 bytes for a known version, RFC 9000 17.2); for Initial the Token
 * Length and Token, for Initial, 0-RTT and Handshake the Length varint and
 * that pn_offset + Length fits in `pkt`; for Retry a non-empty token and a
 * 16-byte tag (RFC 9000 17.2.5.2); for Version Negotiation a version list of
 * 4-byte entries (RFC 9000 17.2.1).
 *
 * Returns:
 *   KP_RES_OK         header parsed, *out filled;
 *   KP_RES_NOT_MINE   the Header Form bit is 0 (a short header packet, or not
 *                     QUIC), or a Google QUIC version with the pre-RFC 8999
 *                     layout (Q044-Q048: nibble-coded connection ID lengths;
 *                     Q043 and below never set the form bit): use
 *                     kp_gquic_parse;
 *   KP_RES_TRUNCATED  `pkt` ends inside the header, or the Length field runs
 *                     past its end;
 *   KP_RES_MALFORMED  a connection ID longer than 20 bytes (known version), an
 *                     empty Retry token, a Retry shorter than its tag, a
 *                     version list whose length is not a multiple of 4. */
enum kp_res kp_quic_parse_long_header(struct kp_quic_long_hdr *out, struct kp_rd pkt);

/* ---- Initial keys (RFC 9001 5.1, 5.2; RFC 9369 3.3) --------------------- */

struct kp_quic_keys {
    uint32_t version;   /* the version the keys were derived for */
    uint8_t secret[32]; /* client_initial_secret or server_initial_secret (RFC 9001 5.2) */
    uint8_t key[16];    /* AEAD_AES_128_GCM key ("quic key" / "quicv2 key") */
    uint8_t iv[12];     /* AEAD IV ("quic iv" / "quicv2 iv") */
    uint8_t hp[16];     /* AES-128-ECB header protection key ("quic hp" / "quicv2 hp") */
};

/* Derive the Initial keys of one direction (every version for which
 * kp_quic_is_supported_version is true, and Google QUIC Q050): initial_secret =
 * HKDF-Extract(version's salt, dcid), then HKDF-Expand-Label (RFC 8446 7.1)
 * with "client in" (is_server false: packets the client sends) or "server
 * in", then the version's key/iv/hp labels, with SHA-256.  `dcid` is the
 * Destination Connection ID of the client's first Initial packet (or, after
 * a Retry, of the first Initial sent after it), for both directions (RFC 9001
 * 5.2).  Returns KP_RES_OK; KP_RES_NOT_MINE if the version is not supported
 * (kp_quic_is_supported_version); KP_RES_MALFORMED if dcid is longer than 20
 * bytes; KP_RES_NOMEM if OpenSSL fails.  *out is zeroed on failure. */
enum kp_res kp_quic_initial_keys(uint32_t version, struct kp_rd dcid, bool is_server,
                                 struct kp_quic_keys *out);

/* Initial keys kept from one datagram to the next (one per direction of a
 * connection), for kp_quic_feed_datagram_cached: derived again only when
 * the version, the key DCID or the direction differs from the last
 * derivation.  Zero it before first use; kp_quic_key_cache_clear wipes it
 * (OPENSSL_cleanse) when the connection is done. */
struct kp_quic_key_cache {
    bool valid;                       /* keys hold the derivation for the fields below */
    bool is_server;
    size_t dcid_len;
    uint8_t dcid[KP_QUIC_MAX_CID];
    struct kp_quic_keys keys;         /* keys.version is the version */
};

/* Wipe and invalidate a cache (no-op for NULL). */
void kp_quic_key_cache_clear(struct kp_quic_key_cache *cache);

/* ---- Packet protection (RFC 9001 5.3, 5.4) ------------------------------ */

struct kp_quic_unprotected {
    uint8_t first;   /* first byte with header protection removed */
    size_t pn_len;   /* Packet Number Length: 1..4 bytes */
    uint32_t pn_raw; /* the truncated packet number as sent */
    uint64_t pn;     /* the packet number (RFC 9000 17.1, A.3), decoded as the first packet of
                        its number space (no packet received yet): equal to pn_raw */
};

/* Remove header protection (RFC 9001 5.4.1, 5.4.3: AES-128-ECB of the
 * 16-byte sample taken 4 bytes after the Packet Number field, 5.4.2) from the
 * Initial, 0-RTT or Handshake packet at the start of `pkt`, whose header `h`
 * was parsed from the same bytes.  Nothing is written to `pkt`.  Returns
 * KP_RES_OK; KP_RES_NOT_MINE if h is not one of those types;
 * KP_RES_MALFORMED if the packet is too short for the sample (RFC 9001 5.4.2:
 * such packets MUST be discarded) or h does not match pkt; KP_RES_NOMEM if
 * OpenSSL fails. */
enum kp_res kp_quic_unprotect_header(const struct kp_quic_keys *k, struct kp_rd pkt,
                                     const struct kp_quic_long_hdr *h,
                                     struct kp_quic_unprotected *u);

/* Remove header protection and decrypt the payload of the Initial (or 0-RTT
 * or Handshake, given the right keys) packet at the start of `pkt`, header
 * `h` parsed from the same bytes: AEAD_AES_128_GCM with the nonce iv XOR
 * packet number and the unprotected header as associated data (RFC 9001
 * 5.3).  The plaintext (Length - pn_len - 16 bytes) is written to
 * out[0..*out_len); out_cap must hold it.  *pn receives the packet number
 * (see struct kp_quic_unprotected); u, if not NULL, the whole unprotected
 * header state.  Returns:
 *   KP_RES_OK         decrypted and authenticated;
 *   KP_RES_MALFORMED  authentication failed (wrong keys, a changed byte,
 *                     wrong lengths), the packet is too short for the
 *                     sample or the tag, or the Reserved Bits are not zero
 *                     after decryption (RFC 9000 17.2: PROTOCOL_VIOLATION);
 *                     out[0..payload) is zeroed;
 *   KP_RES_NOT_MINE   h is not a packet type with a protected payload;
 *   KP_RES_NOMEM      out_cap too small (nothing written), or OpenSSL failed.
 * pn and out_len are written only on KP_RES_OK. */
enum kp_res kp_quic_decrypt_initial(const struct kp_quic_keys *k, struct kp_rd pkt,
                                    const struct kp_quic_long_hdr *h, uint8_t *out,
                                    size_t out_cap, size_t *out_len, uint64_t *pn,
                                    struct kp_quic_unprotected *u);

/* ---- Retry integrity (RFC 9001 5.8, RFC 9369 3.3.3) --------------------- */

/* Check the Retry Integrity Tag of the Retry packet `pkt` (header `h`) against
 * the Original Destination Connection ID `odcid` (the DCID of the client
 * Initial the Retry answers).  QUIC v1 and v2 only.  Returns KP_RES_OK if the
 * tag matches; KP_RES_MALFORMED if not (or odcid is longer than 20 bytes);
 * KP_RES_NOT_MINE if h is not a Retry of QUIC v1 or v2; KP_RES_NOMEM if
 * OpenSSL fails. */
enum kp_res kp_quic_retry_verify(struct kp_rd pkt, const struct kp_quic_long_hdr *h,
                                 struct kp_rd odcid);

/* ---- Frames of an Initial packet (RFC 9000 12.4, 17.2.2, 19) ------------ */

/* What kp_quic_frames saw.  Filled on every result (counts up to the error). */
struct kp_quic_frames_info {
    uint32_t frames;        /* frames walked (a run of PADDING bytes counts as one frame) */
    uint32_t padding_bytes; /* PADDING (0x00) bytes */
    uint32_t pings;         /* PING (0x01) frames */
    uint32_t acks;          /* ACK (0x02, 0x03) frames */
    uint32_t crypto;        /* CRYPTO (0x06) frames */
    uint64_t crypto_bytes;  /* their data bytes */
    bool has_close;         /* a CONNECTION_CLOSE (0x1c) frame */
    uint64_t close_error;   /* its Error Code (RFC 9000 20.1) */
    uint64_t close_frame;   /* its Frame Type field */
    struct kp_rd close_reason; /* its Reason Phrase, borrowed (UTF-8 by RFC 9000 19.19, not
                                  checked); empty if none */
};

/* Walk the frames of a decrypted Initial (or Handshake) payload and pass each
 * CRYPTO frame (offset, data) to cb, in packet order; data borrows `payload`
 * and is valid during the call.  cb may be NULL.  Frames allowed in Initial
 * and Handshake packets (RFC 9000 17.2.2, 12.4 Table 3): PADDING, PING, ACK
 * (both types, every range validated: 19.3.1), CRYPTO (19.6),
 * CONNECTION_CLOSE of type 0x1c (19.19).  Returns KP_RES_OK if every frame is
 * well formed; KP_RES_MALFORMED for an empty payload (12.4: a packet holds at
 * least one frame), any other frame type (including 0x1d, which belongs to
 * the application space, 12.5), a frame type not in its shortest encoding
 * (12.4), a field running past the payload (the payload is authenticated,
 * so this is never truncation), an ACK range below packet number 0, or a
 * CRYPTO frame ending beyond 2^62 - 1 (19.6).  CRYPTO frames before the
 * error have been delivered. */
enum kp_res kp_quic_frames(struct kp_rd payload,
                           void (*cb)(uint64_t offset, struct kp_rd data, void *user), void *user,
                           struct kp_quic_frames_info *info);

/* ---- CRYPTO stream reassembly (RFC 9000 19.6, 2.2) ---------------------- */

/* Capacity of one CRYPTO stream buffer: bytes at stream offsets
 * [0, KP_QUIC_CRYPTO_CAP) are kept, anything beyond is dropped and counted.
 * 16 KiB holds any ClientHello seen in practice (post-quantum key shares
 * included). */
#define KP_QUIC_CRYPTO_CAP 16384

/* One direction's CRYPTO stream of one packet number space.  Caller-owned
 * (about 18 KiB: allocate it, or keep it static; do not put it on a small
 * stack); initialise with kp_quic_crypto_init.  Bytes are placed by stream
 * offset; where data overlaps what is already held, the first copy wins.
 * data[] stays last: kp_quic_crypto_init does not touch it. */
struct kp_quic_crypto {
    size_t contig;      /* stream bytes [0, contig) are all present */
    uint64_t high;      /* highest stream end offset seen (offset + length), may exceed the cap */
    uint64_t dropped;   /* bytes dropped because they lie at or beyond KP_QUIC_CRYPTO_CAP */
    uint64_t conflicts; /* overlapping bytes that differed from the copy kept (first wins):
                           retransmissions must repeat the same bytes (RFC 9000 2.2) */
    uint32_t frames;    /* kp_quic_crypto_add calls */
    uint8_t have[KP_QUIC_CRYPTO_CAP / 8]; /* bit i set: data[i] holds stream byte i */
    uint8_t data[KP_QUIC_CRYPTO_CAP];
};

/* Empty the stream state (all counters 0, no byte held).  data[] is left as
 * it is (it may be uninitialised memory): a byte of it is read only once
 * have[] marks it stored, so a fresh state costs no zeroing of, and no page
 * faults for, the 16 KiB a ClientHello never reaches. */
void kp_quic_crypto_init(struct kp_quic_crypto *c);

/* Store CRYPTO data at stream `offset`.  Bytes already held are kept (first
 * wins; differing bytes are counted in c->conflicts); bytes at or past
 * KP_QUIC_CRYPTO_CAP are never written, only counted in c->dropped.
 * Returns KP_RES_OK if every byte fits the buffer, KP_RES_NOMEM if some were
 * dropped (the rest are stored), KP_RES_MALFORMED if offset + length exceeds
 * 2^62 - 1 (RFC 9000 19.6; nothing stored). */
enum kp_res kp_quic_crypto_add(struct kp_quic_crypto *c, uint64_t offset, struct kp_rd data);

/* The contiguous prefix of the stream held so far: data[0..contig). */
struct kp_rd kp_quic_crypto_contig(const struct kp_quic_crypto *c);

/* The first TLS handshake message of the stream (RFC 8446 4: msg_type,
 * uint24 length, body; QUIC carries no TLS records, RFC 9001 4): *hs_type
 * and *body (the bytes after the 4-byte header, borrowing c->data).
 * Returns KP_RES_OK once the message is complete in the contiguous prefix;
 * KP_RES_TRUNCATED while it is not; KP_RES_NOMEM if its declared length
 * cannot fit KP_QUIC_CRYPTO_CAP (it will never complete). */
enum kp_res kp_quic_crypto_first_msg(const struct kp_quic_crypto *c, uint8_t *hs_type,
                                     struct kp_rd *body);

/* As kp_quic_crypto_first_msg, for the client's stream: KP_RES_NOT_MINE if
 * the first message is not a ClientHello (type 1).  Pass *body to
 * kp_tls_parse_client_hello(out, *body, false) and kp_ja4(.., 'q', ..). */
enum kp_res kp_quic_crypto_client_hello(const struct kp_quic_crypto *c, struct kp_rd *body);

/* ---- One datagram ------------------------------------------------------- */

/* What kp_quic_feed_datagram saw in one UDP datagram. */
struct kp_quic_dgram_info {
    uint32_t version;      /* version of the first long header packet; 0 if none */
    struct kp_rd dcid;     /* DCID of the first long header packet, borrowed */
    struct kp_rd scid;     /* its SCID, borrowed */
    uint32_t packets;      /* long header packets walked (coalesced, RFC 9000 12.2) */
    uint32_t initials;     /* Initial packets among them */
    uint32_t decrypted;    /* Initial packets decrypted and authenticated */
    uint32_t failed;       /* Initial packets that failed to decrypt or whose frames were
                              malformed */
    uint32_t crypto_frames; /* CRYPTO frames passed to the reassembly */
    bool has_retry;        /* a Retry packet was seen */
    bool short_tail;       /* walking stopped at a short header packet (or non-QUIC bytes,
                              e.g. zero padding after the last packet) */
    uint64_t last_pn;      /* packet number of the last Initial decrypted */
};

/* Walk the coalesced packets of one UDP datagram (RFC 9000 12.2) and, for
 * every Initial packet of a supported version, derive the keys, decrypt into
 * scratch[0..scratch_cap) (1500 bytes suffice for ordinary datagrams; up to
 * 65527), walk its frames and add its CRYPTO data to `c`.  key_dcid: the
 * DCID the Initial keys derive from (the client's first Initial DCID, RFC
 * 9001 5.2); NULL to use each packet's own DCID, which is right for the
 * client's first flight.  from_server selects the "server in" keys.
 * Returns KP_RES_OK if at least one Initial was decrypted;
 * KP_RES_NOT_MINE if the datagram does not start with a long header, or
 * holds no Initial of a supported version (info->version tells which);
 * KP_RES_MALFORMED if an Initial failed authentication or had malformed
 * frames and none succeeded; KP_RES_TRUNCATED if the first header is cut;
 * KP_RES_NOMEM if OpenSSL failed or scratch was too small and nothing
 * succeeded.  info is filled in every case. */
enum kp_res kp_quic_feed_datagram(struct kp_quic_crypto *c, struct kp_rd dgram,
                                  const struct kp_rd *key_dcid, bool from_server,
                                  uint8_t *scratch, size_t scratch_cap,
                                  struct kp_quic_dgram_info *info);

/* kp_quic_feed_datagram, taking the Initial keys from *cache when they were
 * derived for the same version, DCID and direction, and leaving the last
 * keys derived there.  Results and *c, *info are exactly those of
 * kp_quic_feed_datagram. */
enum kp_res kp_quic_feed_datagram_cached(struct kp_quic_crypto *c, struct kp_rd dgram,
                                         const struct kp_rd *key_dcid, bool from_server,
                                         struct kp_quic_key_cache *cache, uint8_t *scratch,
                                         size_t scratch_cap, struct kp_quic_dgram_info *info);

/* ---- Google QUIC --------------------------------------------------------- */

/* A gQUIC handshake tag, as its four ASCII bytes read big-endian:
 * KP_GQUIC_TAG('S','N','I',0) is "SNI\0". */
#define KP_GQUIC_TAG(a, b, c, d)                                                               \
    (((uint32_t)(uint8_t)(a) << 24) | ((uint32_t)(uint8_t)(b) << 16) |                        \
     ((uint32_t)(uint8_t)(c) << 8) | (uint32_t)(uint8_t)(d))
#define KP_GQUIC_MAX_TAGS 64

struct kp_gquic_info {
    uint32_t version;      /* e.g. KP_GQUIC_TAG('Q','0','4','6') */
    uint32_t version_num;  /* the three digits as a number: 46 */
    bool ietf_layout;      /* the packet uses the RFC 8999 long header (Q049+, T0xx): these
                              versions encrypt their Initial packets with salts of their own;
                              kp_gquic_parse_decrypt reads Q050's CHLO, for the others only
                              the version and connection ID are reported */
    struct kp_rd cid;      /* connection ID chosen by the client (Q043 and older: the
                              public header CID; Q044+: the DCID), borrowed */
    enum kp_res chlo;      /* KP_RES_OK: a complete CHLO message was found in clear;
                              KP_RES_TRUNCATED: a CHLO starts here but continues in later
                              packets (the tags whose values are here are reported);
                              KP_RES_MALFORMED: a CHLO with broken structure;
                              KP_RES_NOT_MINE: no CHLO readable in this packet */
    uint32_t tags[KP_GQUIC_MAX_TAGS]; /* CHLO tags, wire order (KP_GQUIC_TAG form) */
    size_t n_tags;
    size_t tags_total;
    bool has_sni;          /* SNI tag present with its value in this packet */
    struct kp_rd sni;      /* its value (server name, not NUL-terminated), borrowed from
                              dgram (or from scratch, for Q050 via kp_gquic_parse_decrypt) */
    bool has_uaid;         /* UAID (user agent id) tag present with its value */
    struct kp_rd uaid;     /* borrowed, as sni */
    bool has_ver;          /* VER tag present (4 bytes) */
    uint32_t ver;          /* its value, KP_GQUIC_TAG form */
};

/* Recognise a Google QUIC client packet at the start of the UDP payload
 * `dgram` and, for versions that send the handshake in clear (Q043 and
 * older: the public header with the version flag; Q044-Q048: a long header
 * with nibble-coded connection ID lengths), find the CHLO message: the 12-byte
 * message authentication hash of the null encryption, for versions before
 * Q034 the private flags byte, then PING frames and a STREAM frame of stream
 * 1 at offset 0 whose data starts with the tag "CHLO" (a gQUIC crypto
 * handshake message: tag, uint16 entry count, 2 bytes padding, entries of
 * tag + uint32 end offset, little-endian, then the values).  Q049+ and T0xx
 * use the RFC 8999 long header and encrypt their Initial packets
 * (out->ietf_layout): kp_gquic_parse reports their version and connection ID
 * only (out->chlo KP_RES_NOT_MINE); see kp_gquic_parse_decrypt for Q050.
 * Returns KP_RES_OK if the packet is a gQUIC client packet (see out->chlo for
 * the handshake), KP_RES_NOT_MINE if not, KP_RES_TRUNCATED if the payload
 * ends inside the public header, KP_RES_MALFORMED (or TRUNCATED) as
 * kp_quic_parse_long_header for a broken Q049+ / T0xx long header. */
enum kp_res kp_gquic_parse(struct kp_gquic_info *out, struct kp_rd dgram);

/* As kp_gquic_parse, and for a Q050 Initial packet also decrypt it into
 * scratch[0..scratch_cap) (the packet's payload must fit; NULL or too small:
 * version only, as kp_gquic_parse) with the Q050 salt (the rest as RFC 9001
 * 5) and read the CHLO from its CRYPTO frame (gQUIC frame type 0x08, offset
 * and length varints); out->sni and out->uaid then borrow scratch.
 * out->chlo is KP_RES_MALFORMED if the packet does not authenticate.  Other
 * Q049+ / T0xx versions (salts not known here) stay version-only. */
enum kp_res kp_gquic_parse_decrypt(struct kp_gquic_info *out, struct kp_rd dgram,
                                   uint8_t *scratch, size_t scratch_cap);

#endif
