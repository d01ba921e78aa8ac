/* Fuzz target: QUIC Initial packets and Google QUIC (analyze/quic.c).
 *
 * The input is used twice:
 *   1. as one UDP datagram: the long header walk over its coalesced packets,
 *      kp_quic_feed_datagram with client and with server keys into a CRYPTO
 *      stream state, header protection removal, Retry verification,
 *      kp_gquic_parse and kp_gquic_parse_decrypt;
 *   2. as the plaintext of an Initial packet: input byte 0 holds flags (bits
 *      0-1: packet number length - 1; bit 2: QUIC v2 instead of v1; bit 3:
 *      sent by the server; bit 4: Google QUIC Q050, whose CHLO travels in
 *      gQUIC frames), the rest is the frame payload.  The harness
 *      protects it as RFC 9001 5.3-5.4 say (AES-128-GCM, AES-128-ECB header
 *      protection, keys from kp_quic_initial_keys for a fixed DCID) and feeds
 *      the datagram, so that mutations reach the frame walk, the CRYPTO
 *      reassembly and the ClientHello parser behind authentication.  The
 *      payload is also walked directly with kp_quic_frames.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ja4.h"
#include "quic.h"
#include "tls.h"

#define SCRATCH_CAP 65536
#define MAX_PLAINTEXT 16000 /* the Length field is written as a 2-byte varint */

/* RFC 9001 A.1: the client's Destination Connection ID in the examples. */
static const uint8_t k_dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

struct state {
    struct kp_quic_crypto crypto;
    struct kp_tls_client_hello ch;
    struct kp_gquic_info gq;
    uint8_t scratch[SCRATCH_CAP];
    uint8_t pkt[MAX_PLAINTEXT + 64];
};

static void add_crypto(uint64_t offset, struct kp_rd data, void *user)
{
    struct kp_quic_crypto *c = user;
    (void)kp_quic_crypto_add(c, offset, data);
}

/* Read the ClientHello out of a CRYPTO stream, as the flow glue does. */
static void client_hello(struct state *s)
{
    uint8_t hs_type;
    struct kp_rd body;
    (void)kp_quic_crypto_contig(&s->crypto);
    (void)kp_quic_crypto_first_msg(&s->crypto, &hs_type, &body);
    if (kp_quic_crypto_client_hello(&s->crypto, &body) == KP_RES_OK &&
        kp_tls_parse_client_hello(&s->ch, body, false) == KP_RES_OK) {
        char ja4[KP_JA4_LEN + 1];
        (void)kp_ja4(&s->ch, 'q', ja4);
    }
}

static void as_datagram(struct state *s, struct kp_rd dgram)
{
    char name[KP_QUIC_VERSION_NAME_LEN];
    struct kp_quic_long_hdr h;
    struct kp_rd r = dgram;
    for (int i = 0; i < 8 && kp_quic_parse_long_header(&h, r) == KP_RES_OK; i++) {
        (void)kp_quic_version_name(h.version, name);
        (void)kp_quic_ptype_name(h.type);
        struct kp_quic_keys keys;
        if (kp_quic_initial_keys(h.version, h.dcid, false, &keys) == KP_RES_OK) {
            struct kp_quic_unprotected u;
            (void)kp_quic_unprotect_header(&keys, r, &h, &u);
        }
        if (h.type == KP_QUIC_PT_RETRY) {
            (void)kp_quic_retry_verify(r, &h, kp_rd_make(k_dcid, sizeof(k_dcid)));
        }
        if (h.pkt_len == 0 || !kp_rd_skip(&r, h.pkt_len)) {
            break;
        }
    }

    struct kp_quic_dgram_info info;
    kp_quic_crypto_init(&s->crypto);
    (void)kp_quic_feed_datagram(&s->crypto, dgram, NULL, false, s->scratch, SCRATCH_CAP, &info);
    client_hello(s);
    struct kp_rd kd = kp_rd_make(k_dcid, sizeof(k_dcid));
    kp_quic_crypto_init(&s->crypto);
    (void)kp_quic_feed_datagram(&s->crypto, dgram, &kd, true, s->scratch, 1500, &info);

    (void)kp_gquic_parse(&s->gq, dgram);
    (void)kp_gquic_parse_decrypt(&s->gq, dgram, s->scratch, SCRATCH_CAP);
}

/* Protect `pt` as an Initial packet (RFC 9001 5.3, 5.4) into s->pkt. */
static size_t protect(struct state *s, uint8_t flags, const uint8_t *pt, size_t pt_len)
{
    size_t pn_len = (size_t)(flags & 3) + 1;
    bool v2 = (flags & 4) != 0 && (flags & 16) == 0;
    bool server = (flags & 8) != 0;
    uint32_t version = (flags & 16) != 0 ? KP_GQUIC_Q050 : v2 ? KP_QUIC_V2 : KP_QUIC_V1;
    struct kp_quic_keys k;
    if (kp_quic_initial_keys(version, kp_rd_make(k_dcid, sizeof(k_dcid)), server, &k) !=
        KP_RES_OK) {
        return 0;
    }
    /* Header protection samples 16 bytes from 4 bytes after the packet
     * number: pad with PADDING frames (zero bytes) so that they exist. */
    size_t body_len = pt_len < 4 - pn_len ? 4 - pn_len : pt_len;
    uint64_t length = pn_len + body_len + 16;
    uint8_t *p = s->pkt;
    size_t n = 0;
    uint8_t type_bits = v2 ? 1 : 0; /* RFC 9369 3.2: v2 Initial is 0b01 */
    p[n++] = (uint8_t)(0xc0 | (type_bits << 4) | (pn_len - 1));
    p[n++] = (uint8_t)(version >> 24);
    p[n++] = (uint8_t)(version >> 16);
    p[n++] = (uint8_t)(version >> 8);
    p[n++] = (uint8_t)version;
    p[n++] = sizeof(k_dcid);
    memcpy(p + n, k_dcid, sizeof(k_dcid));
    n += sizeof(k_dcid);
    p[n++] = 0;                                  /* SCID length */
    p[n++] = 0;                                  /* Token Length */
    p[n++] = (uint8_t)(0x40 | (length >> 8));    /* Length, 2-byte varint */
    p[n++] = (uint8_t)length;
    size_t pn_off = n;
    uint32_t pn = 2;
    for (size_t i = 0; i < pn_len; i++) {
        p[n++] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
    }
    size_t hdr_len = n;
    uint8_t *body = p + n;
    memset(body, 0, body_len);
    memcpy(body, pt, pt_len);

    uint8_t nonce[12];
    memcpy(nonce, k.iv, sizeof(nonce));
    for (int i = 0; i < 4; i++) {
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    }
    size_t out_len = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, ok = ctx != NULL &&
        EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
        EVP_EncryptInit_ex(ctx, NULL, NULL, k.key, nonce) == 1 &&
        EVP_EncryptUpdate(ctx, NULL, &outl, p, (int)hdr_len) == 1 &&
        EVP_EncryptUpdate(ctx, body, &outl, body, (int)body_len) == 1 &&
        EVP_EncryptFinal_ex(ctx, body + body_len, &outl) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, body + body_len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        return 0;
    }
    n += body_len + 16;

    uint8_t mask[16];
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx != NULL && EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, k.hp, NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
         EVP_EncryptUpdate(ctx, mask, &outl, p + pn_off + 4, 16) == 1 && outl == 16;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        return 0;
    }
    p[0] ^= mask[0] & 0x0f;
    for (size_t i = 0; i < pn_len; i++) {
        p[pn_off + i] ^= mask[1 + i];
    }
    out_len = n;
    return out_len;
}

static void as_plaintext(struct state *s, const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_PLAINTEXT) {
        return;
    }
    struct kp_quic_frames_info fi;
    kp_quic_crypto_init(&s->crypto);
    (void)kp_quic_frames(kp_rd_make(data + 1, size - 1), add_crypto, &s->crypto, &fi);
    client_hello(s);

    size_t n = protect(s, data[0], data + 1, size - 1);
    if (n == 0) {
        return;
    }
    struct kp_quic_dgram_info info;
    struct kp_rd kd = kp_rd_make(k_dcid, sizeof(k_dcid));
    kp_quic_crypto_init(&s->crypto);
    (void)kp_quic_feed_datagram(&s->crypto, kp_rd_make(s->pkt, n), &kd, (data[0] & 8) != 0,
                                s->scratch, SCRATCH_CAP, &info);
    client_hello(s);
    (void)kp_gquic_parse_decrypt(&s->gq, kp_rd_make(s->pkt, n), s->scratch, SCRATCH_CAP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state *s = malloc(sizeof(*s));
    if (s == NULL) {
        return 0;
    }
    as_datagram(s, kp_rd_make(data, size));
    as_plaintext(s, data, size);
    free(s);
    return 0;
}
