/* ZRTP (RFC 6189): packet header, message block and the fields keyprov
 * reports from Hello (version, client identifier, ZID, offered algorithms)
 * and Commit (the chosen algorithms, in particular the key agreement).
 *
 * ZRTP keys are agreed end to end (Diffie-Hellman between the endpoints):
 * no server holds them, so a ZRTP session's "issuer" is the pair of
 * endpoints, identified by their ZIDs.
 *
 * Pure parser: no allocation, no state; views borrow the input.
 */
#ifndef KP_ZRTP_H
#define KP_ZRTP_H

#include "kp.h"

#define KP_ZRTP_MAGIC 0x5a525450u    /* "ZRTP", bytes 4-7 (RFC 6189 5) */
#define KP_ZRTP_PREAMBLE 0x505au     /* first 16 bits of every message (RFC 6189 5.1) */
#define KP_ZRTP_HDR_LEN 12           /* packet header before the message */
#define KP_ZRTP_CRC_LEN 4
#define KP_ZRTP_MAX_ALGS 7           /* per list in a Hello (RFC 6189 5.2) */

/* Message types (RFC 6189 5.1.1 and 5.2-5.16). */
enum kp_zrtp_type {
    KP_ZRTP_UNKNOWN = 0, /* an 8-byte type block this module does not know */
    KP_ZRTP_HELLO,
    KP_ZRTP_HELLO_ACK,
    KP_ZRTP_COMMIT,
    KP_ZRTP_DHPART1,
    KP_ZRTP_DHPART2,
    KP_ZRTP_CONFIRM1,
    KP_ZRTP_CONFIRM2,
    KP_ZRTP_CONF2ACK,
    KP_ZRTP_ERROR,
    KP_ZRTP_ERROR_ACK,
    KP_ZRTP_GOCLEAR,
    KP_ZRTP_CLEAR_ACK,
    KP_ZRTP_SASRELAY,
    KP_ZRTP_RELAY_ACK,
    KP_ZRTP_PING,
    KP_ZRTP_PING_ACK
};

/* Algorithm lists, in the order of the Hello message (RFC 6189 5.1.2-5.1.6). */
enum kp_zrtp_alg {
    KP_ZRTP_ALG_HASH = 0,   /* e.g. "S256" */
    KP_ZRTP_ALG_CIPHER,     /* e.g. "AES1", "AES3" */
    KP_ZRTP_ALG_AUTH,       /* SRTP auth tag, e.g. "HS32", "HS80" */
    KP_ZRTP_ALG_KEY,        /* key agreement, e.g. "DH3k", "EC25", "Mult", "Prsh" */
    KP_ZRTP_ALG_SAS,        /* SAS rendering, e.g. "B32 " */
    KP_ZRTP_N_ALGS
};

/* Anomaly bits of struct kp_zrtp. */
#define KP_ZRTP_ANOM_HDR_BITS 0x0001u  /* the 12 "not used" header bits are not zero */
#define KP_ZRTP_ANOM_TRAILING 0x0002u  /* bytes between the message + CRC and the end */
#define KP_ZRTP_ANOM_LONG_MSG 0x0004u  /* message longer than its fields need */

struct kp_zrtp {
    /* Packet header (RFC 6189 5). */
    uint16_t seq;
    uint32_t ssrc;

    /* Message block (RFC 6189 5.1). */
    uint16_t msg_words;     /* length field: 32-bit words, preamble to last field, CRC
                               excluded */
    struct kp_rd msg;       /* the message, msg_words * 4 bytes from the preamble */
    struct kp_rd type_block; /* the 8 ASCII bytes, e.g. "Hello   " */
    enum kp_zrtp_type type;

    /* CRC-32C trailer (RFC 6189 5, computed as in RFC 4960 B). */
    uint32_t crc;           /* the value as stored (read as a 32-bit little-endian number,
                               the byte order RFC 4960 B gives) */
    bool crc_checked;       /* kp_zrtp_parse was asked to check */
    bool crc_ok;            /* ... and it matched */

    /* Hello (RFC 6189 5.2): valid when type == KP_ZRTP_HELLO. */
    struct kp_rd version;   /* 4 bytes, e.g. "1.10" */
    struct kp_rd client_id; /* 16 bytes, e.g. "Win ZfoneEC 0.92" */
    struct kp_rd hash_image; /* 32 bytes: H3 */
    bool sig_capable;       /* S flag */
    bool mitm;              /* M flag */
    bool passive;           /* P flag */

    /* Hello and Commit: the endpoint's ZID (12 bytes, RFC 6189 4.9). */
    struct kp_rd zid;

    /* Hello: the offered lists (n_algs[i] <= 7 each); Commit (RFC 6189
     * 5.4): the one algorithm chosen per list (n_algs[i] == 1). */
    uint8_t n_algs[KP_ZRTP_N_ALGS];
    struct kp_rd algs[KP_ZRTP_N_ALGS][KP_ZRTP_MAX_ALGS]; /* 4 ASCII bytes each */

    /* Error (RFC 6189 5.9): valid when type == KP_ZRTP_ERROR. */
    uint32_t error_code;

    uint32_t anomalies;     /* KP_ZRTP_ANOM_* */
};

/* Parse one ZRTP packet (a whole UDP payload).  check_crc: also verify the
 * CRC-32C over header and message (sets crc_checked / crc_ok; a mismatch is
 * not an error: tell the caller, who may count it).
 * KP_RES_NOT_MINE: first byte not 0x1X (RFC 7983 7: 16..19) or no magic.
 * KP_RES_TRUNCATED: the header, the message (per its length field) or the
 * CRC runs past the end.  KP_RES_MALFORMED: no 0x505a preamble, a length
 * below the 3-word minimum, or a Hello / Commit / Error whose fields do not
 * fit its length, or a Hello list count above 7. */
enum kp_res kp_zrtp_parse(struct kp_zrtp *out, struct kp_rd pkt, bool check_crc);

/* "Hello", "HelloACK", "Commit", ... (trailing spaces dropped); NULL for
 * KP_ZRTP_UNKNOWN. */
const char *kp_zrtp_type_name(enum kp_zrtp_type t);

/* CRC-32C (Castagnoli, reflected, as RFC 4960 B and RFC 3309 define it). */
uint32_t kp_crc32c(struct kp_rd data);

#endif
