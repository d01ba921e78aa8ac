/* STUN and TURN: messages (RFC 8489, RFC 5389, classic RFC 3489), TURN
 * attributes and ChannelData (RFC 8656), the vendor dialects seen in
 * conferencing traffic (Microsoft MS-TURN and MS-ICE2, Google/libwebrtc,
 * Zoom, WhatsApp, Cisco) and the framing of STUN over TCP (RFC 8489 6.2.2,
 * RFC 6544 / RFC 4571, RFC 8656 12.5).
 *
 * Everything here is pure: no allocation, no global state, no I/O.  Inputs
 * are borrowed struct kp_rd views; outputs hold views into the input, valid
 * only as long as the input bytes are.  Lists are capped: n_attrs entries
 * are stored, attrs_total counts every attribute on the wire.
 *
 * Results (enum kp_res): OK; NOT_MINE when the bytes are not this protocol;
 * TRUNCATED when the input ends inside the message (a capture cut by its
 * snap length, or a TCP stream to be continued); MALFORMED when the framing
 * breaks (attribute lengths past the message end).  Attribute values that
 * do not fit their attribute (an address of the wrong length, an unknown
 * address family, ...) leave the framing intact: the message parses with
 * KP_RES_OK, the value is not decoded and an anomaly bit says so.  On any
 * result other than OK the contents of *out are unspecified.
 */
#ifndef KP_STUN_H
#define KP_STUN_H

#include "kp.h"

/* ---- Constants ---------------------------------------------------------- */

#define KP_STUN_HEADER_LEN 20
#define KP_STUN_MAGIC_COOKIE 0x2112A442u    /* RFC 8489 5 */
#define KP_STUN_FINGERPRINT_XOR 0x5354554Eu /* RFC 8489 14.7 */
#define KP_STUN_MS_TURN_COOKIE 0x72C64BC6u  /* MS-TURN 2.2.2.8: MAGIC-COOKIE attribute value */

/* Message classes (RFC 8489 5). */
#define KP_STUN_CLASS_REQUEST 0
#define KP_STUN_CLASS_INDICATION 1
#define KP_STUN_CLASS_SUCCESS 2
#define KP_STUN_CLASS_ERROR 3

/* Methods (IANA "STUN Methods"). */
#define KP_STUN_M_BINDING 0x001            /* RFC 8489 */
#define KP_STUN_M_SHARED_SECRET 0x002      /* RFC 3489 */
#define KP_STUN_M_ALLOCATE 0x003           /* RFC 8656 */
#define KP_STUN_M_REFRESH 0x004
#define KP_STUN_M_SEND 0x006
#define KP_STUN_M_DATA 0x007
#define KP_STUN_M_CREATE_PERMISSION 0x008
#define KP_STUN_M_CHANNEL_BIND 0x009
#define KP_STUN_M_CONNECT 0x00a            /* RFC 6062 */
#define KP_STUN_M_CONNECTION_BIND 0x00b
#define KP_STUN_M_CONNECTION_ATTEMPT 0x00c
#define KP_STUN_M_GOOG_PING 0x080          /* libwebrtc (types 0x0200, 0x0300, 0x0310) */

/* Attribute types (IANA "STUN Attributes" and vendor documents). */
#define KP_STUN_A_MAPPED_ADDRESS 0x0001
#define KP_STUN_A_RESPONSE_ADDRESS 0x0002  /* RFC 3489 */
#define KP_STUN_A_CHANGE_REQUEST 0x0003    /* RFC 3489 */
#define KP_STUN_A_SOURCE_ADDRESS 0x0004    /* RFC 3489 */
#define KP_STUN_A_CHANGED_ADDRESS 0x0005   /* RFC 3489 */
#define KP_STUN_A_USERNAME 0x0006
#define KP_STUN_A_PASSWORD 0x0007          /* RFC 3489 */
#define KP_STUN_A_MESSAGE_INTEGRITY 0x0008
#define KP_STUN_A_ERROR_CODE 0x0009
#define KP_STUN_A_UNKNOWN_ATTRIBUTES 0x000a
#define KP_STUN_A_REFLECTED_FROM 0x000b    /* RFC 3489 */
#define KP_STUN_A_CHANNEL_NUMBER 0x000c    /* RFC 8656 */
#define KP_STUN_A_LIFETIME 0x000d          /* RFC 8656 */
#define KP_STUN_A_MS_ALTERNATE_SERVER 0x000e /* MS-TURN */
#define KP_STUN_A_MS_MAGIC_COOKIE 0x000f   /* MS-TURN: first attribute of every MS-TURN message */
#define KP_STUN_A_BANDWIDTH 0x0010         /* MS-TURN, TURN drafts */
#define KP_STUN_A_DESTINATION_ADDRESS 0x0011 /* MS-TURN */
#define KP_STUN_A_XOR_PEER_ADDRESS 0x0012  /* RFC 8656; REMOTE-ADDRESS (not XORed) in MS-TURN and
                                              classic TURN drafts */
#define KP_STUN_A_DATA 0x0013
#define KP_STUN_A_REALM 0x0014             /* NONCE in MS-TURN */
#define KP_STUN_A_NONCE 0x0015             /* REALM in MS-TURN */
#define KP_STUN_A_XOR_RELAYED_ADDRESS 0x0016
#define KP_STUN_A_REQUESTED_ADDRESS_FAMILY 0x0017
#define KP_STUN_A_EVEN_PORT 0x0018
#define KP_STUN_A_REQUESTED_TRANSPORT 0x0019
#define KP_STUN_A_DONT_FRAGMENT 0x001a
#define KP_STUN_A_MESSAGE_INTEGRITY_SHA256 0x001c /* RFC 8489 */
#define KP_STUN_A_PASSWORD_ALGORITHM 0x001d
#define KP_STUN_A_USERHASH 0x001e
#define KP_STUN_A_XOR_MAPPED_ADDRESS 0x0020
#define KP_STUN_A_PRIORITY 0x0024          /* RFC 8445 */
#define KP_STUN_A_USE_CANDIDATE 0x0025
#define KP_STUN_A_ZOOM_0101 0x0101         /* Zoom, classic STUN requests (a text token) */
#define KP_STUN_A_ZOOM_0103 0x0103         /* Zoom, classic STUN responses (an address) */
#define KP_STUN_A_WHATSAPP_FIRST 0x4000    /* WhatsApp uses 0x4000..0x40ff */
#define KP_STUN_A_WHATSAPP_LAST 0x40ff
#define KP_STUN_A_MS_VERSION 0x8008        /* MS-TURN */
#define KP_STUN_A_MS_XOR_MAPPED_ADDRESS 0x8020 /* MS-TURN (XOR-MAPPED-ADDRESS of RFC 3489bis) */
#define KP_STUN_A_SOFTWARE 0x8022
#define KP_STUN_A_ALTERNATE_SERVER 0x8023
#define KP_STUN_A_FINGERPRINT 0x8028
#define KP_STUN_A_ICE_CONTROLLED 0x8029
#define KP_STUN_A_ICE_CONTROLLING 0x802a
#define KP_STUN_A_RESPONSE_ORIGIN 0x802b   /* RFC 5780 */
#define KP_STUN_A_OTHER_ADDRESS 0x802c     /* RFC 5780 */
#define KP_STUN_A_MS_APP_ID 0x8037         /* MS-TURN */
#define KP_STUN_A_MS_SEQUENCE_NUMBER 0x8050 /* MS-TURN */
#define KP_STUN_A_MS_CANDIDATE_IDENTIFIER 0x8054 /* MS-ICE2 */
#define KP_STUN_A_MS_SERVICE_QUALITY 0x8055 /* MS-TURN */
#define KP_STUN_A_MS_IMPLEMENTATION_VERSION 0x8070 /* MS-ICE2 */
#define KP_STUN_A_MS_ALT_MAPPED_ADDRESS 0x8090 /* MS-TURN */
#define KP_STUN_A_MS_MULTIPLEXED_TURN_SESSION_ID 0x8095 /* MS-TURN */
#define KP_STUN_A_CISCO_FLOWDATA 0xc000    /* Cisco (0xc000..0xc002) */
#define KP_STUN_A_GOOG_NETWORK_INFO 0xc057 /* libwebrtc (0xc057..0xc060) */
#define KP_STUN_A_GOOG_MESSAGE_INTEGRITY_32 0xc060
#define KP_STUN_A_GOOG_FF03 0xff03         /* Google TURN (0xff03..0xff05) */
#define KP_STUN_A_GOOG_MULTI_MAPPING 0xff04
#define KP_STUN_A_GOOG_LOGGING_ID 0xff05

/* ChannelData (RFC 8656 12.4): channel numbers 0x4000..0x4fff, and up to
 * 0x7fff under RFC 5766 11; MS-TURN multiplexes on channel 0xff10. */
#define KP_STUN_CHANNEL_MS_TURN 0xff10

#define KP_STUN_MAX_ATTRS 64

/* Anomaly bits (kp_stun_msg.anomalies). */
#define KP_STUN_ANOM_LENGTH_NOT_4 0x0001u      /* message length not a multiple of 4
                                                  (RFC 8489 5) */
#define KP_STUN_ANOM_UNPADDED 0x0002u          /* attributes not padded to 4 bytes (MS-TURN,
                                                  WhatsApp; RFC 8489 14 requires padding) */
#define KP_STUN_ANOM_TRAILING 0x0004u          /* bytes after the message in the datagram */
#define KP_STUN_ANOM_BAD_VALUE 0x0008u         /* a known attribute whose value has the wrong
                                                  size or format (not decoded) */
#define KP_STUN_ANOM_AFTER_FINGERPRINT 0x0010u /* attributes after FINGERPRINT (RFC 8489 14.7:
                                                  it is last) */
#define KP_STUN_ANOM_AFTER_INTEGRITY 0x0020u   /* attributes other than MESSAGE-INTEGRITY-SHA256
                                                  and FINGERPRINT after MESSAGE-INTEGRITY
                                                  (RFC 8489 14.5: ignored, so not decoded) */
#define KP_STUN_ANOM_FINGERPRINT_BAD 0x0040u   /* FINGERPRINT does not match the message */
#define KP_STUN_ANOM_LONG_TEXT 0x0080u         /* USERNAME over 512 bytes, or REALM, NONCE or
                                                  SOFTWARE over 763 bytes (RFC 8489 14.3,
                                                  14.9, 14.10, 14.14) */
#define KP_STUN_ANOM_DUPLICATE 0x0100u         /* a decoded attribute appears again: the first
                                                  is used (RFC 8489 14) */
#define KP_STUN_ANOM_ZERO_TYPE 0x0200u         /* an attribute of the reserved type 0x0000 */

/* ---- Messages ----------------------------------------------------------- */

struct kp_stun_attr {
    uint16_t type;
    struct kp_rd value;        /* the value without padding, borrowed */
};

/* A decoded transport address (RFC 8489 14.1, 14.2). */
struct kp_stun_addr {
    bool present;
    uint8_t family;            /* 0x01 IPv4, 0x02 IPv6 */
    uint16_t port;             /* host order, un-XORed */
    struct kp_addr addr;       /* un-XORed; IPv4 stored IPv4-mapped (kp.h) */
};

struct kp_stun_msg {
    /* Header (RFC 8489 5). */
    uint16_t type;             /* message type (the 14 bits after the two zero bits) */
    uint16_t method;           /* 12-bit method: type bits M0..M11 */
    uint8_t cls;               /* KP_STUN_CLASS_*: type bits C1 C0 */
    uint16_t length;           /* message length field (bytes after the header) */
    uint32_t cookie;           /* bytes 4..7: KP_STUN_MAGIC_COOKIE unless classic */
    bool classic;              /* no magic cookie: RFC 3489 (or its TURN drafts); the
                                  transaction ID is the 16 bytes after the length */
    uint8_t txid[16];          /* transaction ID: 12 bytes (RFC 8489), 16 if classic */
    size_t txid_len;
    struct kp_rd raw;          /* the whole message (header + length bytes), borrowed */
    size_t trailing;           /* datagram bytes after the message (KP_STUN_ANOM_TRAILING) */

    /* Dialect. */
    bool unpadded;             /* attributes are not padded (KP_STUN_ANOM_UNPADDED) */
    bool ms_turn;              /* MS-TURN: MAGIC-COOKIE attribute 0x000f first; REALM is
                                  then 0x0015, NONCE 0x0014, 0x0012 is REMOTE-ADDRESS */

    /* Attributes, in wire order (capped). */
    struct kp_stun_attr attrs[KP_STUN_MAX_ATTRS];
    size_t n_attrs;
    size_t attrs_total;

    /* Decoded attributes (first occurrence; not decoded when after
     * MESSAGE-INTEGRITY, see KP_STUN_ANOM_AFTER_INTEGRITY). */
    struct kp_stun_addr mapped;       /* MAPPED-ADDRESS 0x0001 */
    struct kp_stun_addr xor_mapped;   /* XOR-MAPPED-ADDRESS 0x0020, else MS-TURN's 0x8020 */
    struct kp_stun_addr xor_relayed;  /* XOR-RELAYED-ADDRESS 0x0016 */
    struct kp_stun_addr xor_peer;     /* XOR-PEER-ADDRESS 0x0012 (first); for MS-TURN and classic
                                         messages, the plain REMOTE-ADDRESS 0x0012 */
    size_t xor_peer_total;            /* 0x0012 attributes in the message */
    struct kp_stun_addr alternate;    /* ALTERNATE-SERVER 0x8023 */
    struct kp_stun_addr zoom_addr;    /* Zoom's 0x0103 (MAPPED-ADDRESS layout) */
    bool has_username;
    struct kp_rd username;            /* USERNAME 0x0006 (borrowed, raw bytes) */
    bool has_realm;
    struct kp_rd realm;               /* REALM 0x0014 (0x0015 in MS-TURN) */
    bool has_nonce;
    struct kp_rd nonce;               /* NONCE 0x0015 (0x0014 in MS-TURN) */
    bool has_software;
    struct kp_rd software;            /* SOFTWARE 0x8022 */
    bool has_error_code;
    uint16_t error_code;              /* class * 100 + number (RFC 8489 14.8) */
    struct kp_rd error_reason;        /* reason phrase (borrowed) */
    bool has_lifetime;
    uint32_t lifetime;                /* LIFETIME 0x000d, seconds */
    bool has_channel_number;
    uint16_t channel_number;          /* CHANNEL-NUMBER 0x000c */
    bool has_requested_transport;
    uint8_t requested_transport;      /* REQUESTED-TRANSPORT 0x0019: IP protocol number */
    bool has_data;
    struct kp_rd data;                /* DATA 0x0013 (RFC 8656 14.4): what a Send or Data
                                         indication relays (an ICE check, DTLS, RTP...),
                                         borrowed */
    bool has_message_integrity;       /* MESSAGE-INTEGRITY 0x0008 */
    struct kp_rd message_integrity;   /* its HMAC (20 bytes; 32 in MS-TURN) */
    size_t message_integrity_offset;  /* offset of its attribute header in raw */
    bool has_message_integrity_sha256;
    bool has_fingerprint;             /* FINGERPRINT 0x8028 */
    uint32_t fingerprint;             /* its value */
    bool fingerprint_ok;              /* it equals CRC-32 of the message before it XOR
                                         0x5354554e (RFC 8489 14.7) */

    /* Vendor evidence. */
    bool vendor_microsoft;  /* MS-TURN/MS-ICE2 attributes (0x8008, 0x8037, 0x8050, 0x8054, 0x8055,
                               0x8070, 0x8090, 0x8095, MS-TURNBWM 0x8056..0x8068) or the
                               MS-TURN MAGIC-COOKIE attribute */
    bool vendor_google;     /* Google TURN attributes 0xff03..0xff05, or a REALM containing
                               "google.com" (case-insensitive) */
    bool vendor_libwebrtc;  /* libwebrtc client attributes 0xc057..0xc060 or the GOOG-PING
                               method: Chrome and other WebRTC stacks, not one service */
    bool vendor_zoom;       /* Zoom attributes 0x0101 or 0x0103 */
    bool vendor_whatsapp;   /* methods 0x200..0x20f (message types 0x0800..) or attributes
                               0x4000..0x40ff */
    bool vendor_cisco;      /* Cisco attributes 0xc000..0xc002 */

    uint32_t anomalies;     /* KP_STUN_ANOM_* bits */
};

/* Parse one STUN message at the start of a UDP datagram (or of a frame cut
 * by kp_stun_tcp_next).
 *
 * Recognised: the RFC 8489 header (two zero bits, type, length, magic
 * cookie, 96-bit transaction ID) and the classic RFC 3489 header (the same
 * without the cookie: a 128-bit transaction ID).  Attributes are walked
 * padded to 4 bytes (RFC 8489 14).  The unpadded walk of MS-TURN and
 * WhatsApp is used instead when it fills the message exactly and either the
 * message is MS-TURN, or the padded walk does not fill it, or the padded
 * walk only fills it by reading zero padding as attributes of the reserved
 * type 0 where the unpadded one finds none.
 * FINGERPRINT is verified (CRC-32, a small table-driven implementation: no
 * zlib dependency for 60 lines).  XOR addresses are un-XORed with the
 * header's bytes 4..19 (the cookie and transaction ID, RFC 8489 14.2).
 *
 * Returns:
 *   KP_RES_OK         *out filled;
 *   KP_RES_NOT_MINE   the first two bits are not zero, or (classic, where
 *                     nothing else identifies STUN) the method is above
 *                     0x00c, the length is not a multiple of 4, the datagram
 *                     is not exactly the message, or the attributes do not
 *                     walk;
 *   KP_RES_TRUNCATED  fewer than 20 bytes, or fewer than 20 + length (for a
 *                     classic message only when the header is plausible);
 *   KP_RES_MALFORMED  a message with the magic cookie whose attributes walk
 *                     neither padded nor unpadded. */
enum kp_res kp_stun_parse(struct kp_stun_msg *out, struct kp_rd datagram);

/* Decode attribute i of a parsed message as a transport address (RFC 8489
 * 14.1; un-XORed per 14.2 for XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS (not in
 * MS-TURN or classic messages), XOR-RELAYED-ADDRESS, 0x8020, 0x0027 and
 * 0x0028).  Address attributes: 0x0001, 0x0002, 0x0004, 0x0005, 0x000b,
 * 0x000e, 0x0011, 0x0012, 0x0016, 0x0020, 0x0027, 0x0028, 0x8020, 0x8023,
 * 0x802b, 0x802c, 0x8090 and Zoom's 0x0103.  Returns false (out->present
 * false) if i is out of range, the type is not an address attribute, or the
 * value is not 8 bytes of family 1 or 20 bytes of family 2. */
bool kp_stun_attr_address(const struct kp_stun_msg *m, size_t i, struct kp_stun_addr *out);

/* Verify MESSAGE-INTEGRITY (RFC 8489 14.5): HMAC-SHA1 with `key` over the
 * message up to the attribute, with the header length counting up to the
 * end of MESSAGE-INTEGRITY.  The key is the short-term password, or
 * MD5(username ":" realm ":" password) for long-term credentials (RFC 8489
 * 9.2.2); deriving it is the caller's business.  False if the message has no
 * 20-byte MESSAGE-INTEGRITY, on mismatch, or if OpenSSL fails. */
bool kp_stun_check_integrity(const struct kp_stun_msg *m, const uint8_t *key, size_t key_len);

/* CRC-32 (ISO-HDLC: reflected polynomial 0xedb88320, initial and final
 * value 0xffffffff) of p[0..len), the checksum FINGERPRINT uses. */
uint32_t kp_stun_crc32(const uint8_t *p, size_t len);

/* Names: "Binding", "Allocate", ... for methods; "Request", "Indication",
 * "Success Response", "Error Response" for classes; "XOR-MAPPED-ADDRESS",
 * "MS-IMPLEMENTATION-VERSION", ... for attributes.  Static strings, NULL if
 * unknown. */
const char *kp_stun_method_name(uint16_t method);
const char *kp_stun_class_name(uint8_t cls);
const char *kp_stun_attr_name(uint16_t type);

/* ---- TURN ChannelData --------------------------------------------------- */

struct kp_stun_channel_data {
    uint16_t channel;          /* 0x4000..0x7fff, or 0xff10 (MS-TURN) */
    uint16_t length;           /* length field */
    struct kp_rd data;         /* the application data (borrowed); for MS-TURN, after the
                                  8-byte session ID */
    bool ms_turn;              /* channel 0xff10 with at least 8 bytes of data */
    struct kp_rd ms_session_id; /* MS-TURN session ID (8 bytes), empty otherwise */
    size_t wire_len;           /* 4 + length, rounded up to 4 bytes if tcp */
    size_t trailing;           /* bytes after wire_len in the datagram (UDP may carry up to 3
                                  bytes of padding, RFC 8656 12.5) */
    bool reserved_channel;     /* 0x5000..0x7fff: reserved by RFC 8656 12 (valid in RFC 5766) */
};

/* Parse a ChannelData message (RFC 8656 12.4) at the start of `in`.  tcp:
 * the message is followed by padding to a multiple of 4 bytes (RFC 8656
 * 12.5), counted in wire_len and required to be present.
 * Returns KP_RES_NOT_MINE unless the first two bits are 01 (channels
 * 0x4000..0x7fff) or the channel is 0xff10; KP_RES_TRUNCATED if `in` is
 * shorter than 4 bytes or than wire_len; KP_RES_OK otherwise. */
enum kp_res kp_stun_parse_channel_data(struct kp_stun_channel_data *out, struct kp_rd in,
                                       bool tcp);

/* ---- STUN over TCP ------------------------------------------------------ */

/* How a TCP connection frames STUN: bare messages back to back (RFC 8489
 * 6.2.2, TURN RFC 8656 12.5 with ChannelData), or each frame behind a
 * 2-byte length (RFC 4571, used by ICE-TCP, RFC 6544 3). */
enum kp_stun_framing {
    KP_STUN_FRAMING_UNKNOWN = 0,
    KP_STUN_FRAMING_BARE,
    KP_STUN_FRAMING_RFC4571
};

enum kp_stun_frame_kind {
    KP_STUN_FRAME_STUN,         /* a STUN message with the magic cookie */
    KP_STUN_FRAME_CHANNEL_DATA, /* a ChannelData message */
    KP_STUN_FRAME_OTHER         /* RFC 4571 only: a frame of another protocol (RTP, DTLS...) */
};

struct kp_stun_tcp_frame {
    enum kp_stun_frame_kind kind;
    struct kp_rd msg;          /* the frame without the RFC 4571 length and without ChannelData
                                  padding: pass to kp_stun_parse or kp_stun_parse_channel_data
                                  (tcp = false); borrowed */
    size_t wire_len;           /* stream bytes this frame occupies */
};

/* Cut the next frame off the front of *stream (one direction of a TCP
 * connection, in order) and advance *stream past it on KP_RES_OK.
 * *framing is the connection's framing: KP_STUN_FRAMING_UNKNOWN on the first
 * call, after which it is set from the first bytes (RFC 4571 if a length
 * prefix is followed by a STUN header whose length matches it, else bare if
 * a STUN header starts the stream: ChannelData cannot come first, RFC 8656
 * 12) and kept by the caller; it is left unknown on TRUNCATED and NOT_MINE
 * from that first look.
 * Returns:
 *   KP_RES_OK         *out filled;
 *   KP_RES_TRUNCATED  the stream ends inside a frame (or is too short to
 *                     tell the framing): call again with more bytes;
 *   KP_RES_NOT_MINE   the framing is unknown and the stream does not start
 *                     with a STUN message with the magic cookie, bare or
 *                     RFC 4571-framed;
 *   KP_RES_MALFORMED  bare framing and the next bytes are neither a STUN
 *                     message with the magic cookie nor ChannelData.
 * *stream is unchanged unless OK. */
enum kp_res kp_stun_tcp_next(struct kp_stun_tcp_frame *out, struct kp_rd *stream,
                             enum kp_stun_framing *framing);

#endif
