/* ZRTP packet parsing; see zrtp.h. */
#include "zrtp.h"

#include <string.h>

/* Message type blocks (RFC 6189 5.1.1: 8 ASCII characters, space padded). */
static const struct {
    const char block[9];
    const char *name;
    enum kp_zrtp_type type;
} zrtp_types[] = {
    {"Hello   ", "Hello", KP_ZRTP_HELLO},       {"HelloACK", "HelloACK", KP_ZRTP_HELLO_ACK},
    {"Commit  ", "Commit", KP_ZRTP_COMMIT},     {"DHPart1 ", "DHPart1", KP_ZRTP_DHPART1},
    {"DHPart2 ", "DHPart2", KP_ZRTP_DHPART2},   {"Confirm1", "Confirm1", KP_ZRTP_CONFIRM1},
    {"Confirm2", "Confirm2", KP_ZRTP_CONFIRM2}, {"Conf2ACK", "Conf2ACK", KP_ZRTP_CONF2ACK},
    {"Error   ", "Error", KP_ZRTP_ERROR},       {"ErrorACK", "ErrorACK", KP_ZRTP_ERROR_ACK},
    {"GoClear ", "GoClear", KP_ZRTP_GOCLEAR},   {"ClearACK", "ClearACK", KP_ZRTP_CLEAR_ACK},
    {"SASrelay", "SASrelay", KP_ZRTP_SASRELAY}, {"RelayACK", "RelayACK", KP_ZRTP_RELAY_ACK},
    {"Ping    ", "Ping", KP_ZRTP_PING},         {"PingACK ", "PingACK", KP_ZRTP_PING_ACK},
};

#define N_TYPES (sizeof(zrtp_types) / sizeof(zrtp_types[0]))

/* Fixed field sizes (RFC 6189 5.2, 5.4). */
#define TYPE_LEN 8
#define MSG_HDR_LEN 12      /* preamble + length + type block */
#define MAC_LEN 8
#define ZID_LEN 12

const char *kp_zrtp_type_name(enum kp_zrtp_type t)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        if (zrtp_types[i].type == t) {
            return zrtp_types[i].name;
        }
    }
    return NULL;
}

uint32_t kp_crc32c(struct kp_rd data)
{
    uint32_t c = 0xffffffffu;
    uint8_t b;
    while (kp_rd_u8(&data, &b)) {
        c ^= b;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
        }
    }
    return c ^ 0xffffffffu;
}

/* RFC 6189 5.2: Hello after the 12-byte message header. */
static enum kp_res parse_hello(struct kp_zrtp *out, struct kp_rd m)
{
    uint32_t flags;
    if (!kp_rd_skip(&m, MSG_HDR_LEN) || !kp_rd_sub(&m, &out->version, 4) ||
        !kp_rd_sub(&m, &out->client_id, 16) || !kp_rd_sub(&m, &out->hash_image, 32) ||
        !kp_rd_sub(&m, &out->zid, ZID_LEN) || !kp_rd_u32(&m, &flags)) {
        return KP_RES_MALFORMED;
    }
    /* 0|S|M|P|unused(8)|hc|cc|ac|kc|sc, counts 4 bits each. */
    out->sig_capable = (flags & 0x40000000u) != 0;
    out->mitm = (flags & 0x20000000u) != 0;
    out->passive = (flags & 0x10000000u) != 0;
    for (int i = 0; i < KP_ZRTP_N_ALGS; i++) {
        uint8_t n = (uint8_t)((flags >> (16 - 4 * i)) & 0x0f);
        if (n > KP_ZRTP_MAX_ALGS) {
            return KP_RES_MALFORMED;
        }
        out->n_algs[i] = n;
    }
    for (int i = 0; i < KP_ZRTP_N_ALGS; i++) {
        for (uint8_t j = 0; j < out->n_algs[i]; j++) {
            if (!kp_rd_sub(&m, &out->algs[i][j], 4)) {
                return KP_RES_MALFORMED;
            }
        }
    }
    if (!kp_rd_skip(&m, MAC_LEN)) {
        return KP_RES_MALFORMED;
    }
    if (kp_rd_left(&m) > 0) {
        out->anomalies |= KP_ZRTP_ANOM_LONG_MSG;
    }
    return KP_RES_OK;
}

/* RFC 6189 5.4: Commit = H2 (32), ZID, hash, cipher, auth tag, key
 * agreement, SAS types, then hvi / nonce (+ key ID), MAC. */
static enum kp_res parse_commit(struct kp_zrtp *out, struct kp_rd m)
{
    if (!kp_rd_skip(&m, MSG_HDR_LEN + 32) || !kp_rd_sub(&m, &out->zid, ZID_LEN)) {
        return KP_RES_MALFORMED;
    }
    for (int i = 0; i < KP_ZRTP_N_ALGS; i++) {
        if (!kp_rd_sub(&m, &out->algs[i][0], 4)) {
            return KP_RES_MALFORMED;
        }
        out->n_algs[i] = 1;
    }
    /* Shortest tail: a 16-byte nonce (Mult) and the MAC. */
    if (kp_rd_left(&m) < 16 + MAC_LEN) {
        return KP_RES_MALFORMED;
    }
    return KP_RES_OK;
}

enum kp_res kp_zrtp_parse(struct kp_zrtp *out, struct kp_rd pkt, bool check_crc)
{
    memset(out, 0, sizeof(*out));
    struct kp_rd r = pkt;
    uint8_t b0, b1;
    uint32_t magic;

    if (!kp_rd_u8(&r, &b0)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 6189 5: the first nibble is 0001; RFC 7983 7 gives ZRTP 16..19. */
    if ((b0 & 0xf0) != 0x10) {
        return KP_RES_NOT_MINE;
    }
    if (!kp_rd_u8(&r, &b1) || !kp_rd_u16(&r, &out->seq)) {
        return KP_RES_TRUNCATED;
    }
    if (!kp_rd_u32(&r, &magic)) {
        return KP_RES_TRUNCATED;
    }
    if (magic != KP_ZRTP_MAGIC) {
        return KP_RES_NOT_MINE;
    }
    if ((b0 & 0x0f) != 0 || b1 != 0) {
        out->anomalies |= KP_ZRTP_ANOM_HDR_BITS;
    }
    if (!kp_rd_u32(&r, &out->ssrc)) {
        return KP_RES_TRUNCATED;
    }

    /* RFC 6189 5.1: preamble, length in words, 8-byte type block. */
    struct kp_rd m = r;
    uint16_t preamble;
    if (!kp_rd_u16(&m, &preamble) || !kp_rd_u16(&m, &out->msg_words)) {
        return KP_RES_TRUNCATED;
    }
    if (preamble != KP_ZRTP_PREAMBLE || out->msg_words < MSG_HDR_LEN / 4) {
        return KP_RES_MALFORMED;
    }
    uint32_t stored;
    if (!kp_rd_sub(&r, &out->msg, (size_t)out->msg_words * 4u) || !kp_rd_u32le(&r, &stored)) {
        return KP_RES_TRUNCATED;
    }
    out->crc = stored;
    if (kp_rd_left(&r) > 0) {
        out->anomalies |= KP_ZRTP_ANOM_TRAILING;
    }
    m = out->msg;
    if (!kp_rd_skip(&m, 4) || !kp_rd_sub(&m, &out->type_block, TYPE_LEN)) {
        return KP_RES_MALFORMED;
    }
    out->type = KP_ZRTP_UNKNOWN;
    for (size_t i = 0; i < N_TYPES; i++) {
        if (kp_rd_eq(&out->type_block, zrtp_types[i].block, TYPE_LEN)) {
            out->type = zrtp_types[i].type;
            break;
        }
    }

    enum kp_res res = KP_RES_OK;
    switch (out->type) {
    case KP_ZRTP_HELLO:
        res = parse_hello(out, out->msg);
        break;
    case KP_ZRTP_COMMIT:
        res = parse_commit(out, out->msg);
        break;
    case KP_ZRTP_ERROR: {
        struct kp_rd e = out->msg;
        if (!kp_rd_skip(&e, MSG_HDR_LEN) || !kp_rd_u32(&e, &out->error_code)) {
            res = KP_RES_MALFORMED;
        }
        break;
    }
    default:
        break;
    }
    if (res != KP_RES_OK) {
        return res;
    }

    if (check_crc) {
        /* RFC 6189 5: over the header and the message, CRC excluded. */
        struct kp_rd covered = pkt, c;
        if (kp_rd_sub(&covered, &c, KP_ZRTP_HDR_LEN + out->msg.len)) {
            out->crc_checked = true;
            out->crc_ok = kp_crc32c(c) == stored;
        }
    }
    return KP_RES_OK;
}
