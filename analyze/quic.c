/* QUIC long headers, Initial packet protection, Initial frames, CRYPTO
 * reassembly and Google QUIC recognition.  See quic.h for the contracts;
 * comments here say why, citing the RFC section enforced. */
#include "crypto.h"
#include "quic.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Largest value of a QUIC variable-length integer (RFC 9000 16). */
#define KP_QUIC_VARINT_MAX ((UINT64_C(1) << 62) - 1)

/* ---- Versions ------------------------------------------------------------ */

/* Initial salts (RFC 9001 5.2, RFC 9369 3.3.1, and the drafts of RFC 9001
 * that changed it: draft-ietf-quic-tls-23 and -29). */
static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                    0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t salt_d29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                     0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
static const uint8_t salt_d23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
                                     0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};
/* Google QUIC Q050 protects its Initial packets like draft-23 with a salt of
 * its own (Chromium's QUIC sources); checked against gquic_ndpi.pcap. */
static const uint8_t salt_q050[20] = {0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94,
                                      0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45};

/* Retry Integrity Tag key and nonce (RFC 9001 5.8, RFC 9369 3.3.3). */
static const uint8_t retry_key_v1[16] = {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
                                         0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e};
static const uint8_t retry_nonce_v1[12] = {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
                                           0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb};
static const uint8_t retry_key_v2[16] = {0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
                                         0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92};
static const uint8_t retry_nonce_v2[12] = {0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c,
                                           0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a};

static bool gquic_digits(uint32_t v, uint32_t *num)
{
    uint32_t n = 0;
    for (int shift = 16; shift >= 0; shift -= 8) {
        uint32_t c = (v >> shift) & 0xff;
        if (c < '0' || c > '9') {
            return false;
        }
        n = n * 10 + (c - '0');
    }
    *num = n;
    return true;
}

bool kp_quic_is_gquic_version(uint32_t version)
{
    uint32_t num = 0;
    uint32_t lead = version >> 24;
    return (lead == 'Q' || lead == 'T') && gquic_digits(version, &num);
}

/* The salt of a version, NULL if unknown. */
static const uint8_t *version_salt(uint32_t v)
{
    if (v == KP_QUIC_V1) {
        return salt_v1;
    }
    if (v == KP_QUIC_V2) {
        return salt_v2;
    }
    /* draft-ietf-quic-tls-29 changed the salt; drafts 30-32 kept it. */
    if (v >= KP_QUIC_DRAFT(29) && v <= KP_QUIC_DRAFT(32)) {
        return salt_d29;
    }
    /* draft-ietf-quic-tls-23 introduced this salt; it lasted to -28.  mvfst's
     * 0xfaceb002 is its draft-27 implementation. */
    if ((v >= KP_QUIC_DRAFT(23) && v <= KP_QUIC_DRAFT(28)) || v == KP_QUIC_MVFST_DRAFT27) {
        return salt_d23;
    }
    if (v == KP_GQUIC_Q050) {
        return salt_q050;
    }
    return NULL;
}

bool kp_quic_is_supported_version(uint32_t version)
{
    /* Q050 Initial keys derive, but its payload is gQUIC frames carrying a
     * CHLO, not a TLS ClientHello: kp_gquic_parse handles it. */
    return version_salt(version) != NULL && !kp_quic_is_gquic_version(version);
}

/* Versions whose long header follows RFC 9000 17.2 (type numbering of v1 or
 * v2, Token Length in Initial, Length field): v1, v2, IETF drafts 22 and
 * later (the first with separate DCID/SCID length bytes, as in RFC 8999),
 * mvfst, and Google QUIC Q049+ / T0xx, which adopted the IETF header. */
static bool version_layout(uint32_t v, bool *v2_types)
{
    *v2_types = (v == KP_QUIC_V2);
    if (v == KP_QUIC_V1 || v == KP_QUIC_V2) {
        return true;
    }
    if (v >= KP_QUIC_DRAFT(22) && v <= KP_QUIC_DRAFT(34)) {
        return true;
    }
    if ((v & 0xffffff00u) == 0xfaceb000u) {
        return true;
    }
    uint32_t num = 0;
    if ((v >> 24) == 'T' && gquic_digits(v, &num)) {
        return true;
    }
    if ((v >> 24) == 'Q' && gquic_digits(v, &num) && num >= 49) {
        return true;
    }
    return false;
}

/* Google QUIC versions with the pre-RFC 8999 long header (Q044-Q048). */
static bool gquic_nibble_layout(uint32_t v)
{
    uint32_t num = 0;
    return (v >> 24) == 'Q' && gquic_digits(v, &num) && num >= 44 && num <= 48;
}

const char *kp_quic_version_name(uint32_t version, char buf[KP_QUIC_VERSION_NAME_LEN])
{
    if (version == KP_QUIC_VERSION_NEGOTIATION) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "negotiation");
    } else if (version == KP_QUIC_V1) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "QUICv1");
    } else if (version == KP_QUIC_V2) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "QUICv2");
    } else if (version == KP_QUIC_V2_DRAFT) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "QUICv2-draft");
    } else if ((version & 0xffffff00u) == 0xff000000u) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "draft-%u", (unsigned)(version & 0xff));
    } else if ((version & 0xffffff00u) == 0xfaceb000u) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "mvfst-%08x", (unsigned)version);
    } else if (kp_quic_is_gquic_version(version)) {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "%c%c%c%c", (char)(version >> 24),
                 (char)(version >> 16), (char)(version >> 8), (char)version);
    } else if ((version & 0x0f0f0f0fu) == 0x0a0a0a0au) {
        /* RFC 9000 15: 0x?a?a?a?a is reserved to exercise version negotiation. */
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "reserved-0x%08x", (unsigned)version);
    } else {
        snprintf(buf, KP_QUIC_VERSION_NAME_LEN, "0x%08x", (unsigned)version);
    }
    return buf;
}

const char *kp_quic_ptype_name(enum kp_quic_ptype t)
{
    switch (t) {
    case KP_QUIC_PT_INITIAL:
        return "Initial";
    case KP_QUIC_PT_0RTT:
        return "0-RTT";
    case KP_QUIC_PT_HANDSHAKE:
        return "Handshake";
    case KP_QUIC_PT_RETRY:
        return "Retry";
    case KP_QUIC_PT_VERSION_NEG:
        return "VersionNegotiation";
    case KP_QUIC_PT_UNKNOWN:
        break;
    }
    return "unknown";
}

/* ---- Long header ---------------------------------------------------------- */

enum kp_res kp_quic_parse_long_header(struct kp_quic_long_hdr *out, struct kp_rd pkt)
{
    memset(out, 0, sizeof *out);
    struct kp_rd r = pkt;
    uint8_t first, dlen, slen;
    uint32_t version;

    if (!kp_rd_u8(&r, &first)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 8999 5.1 / RFC 9000 17.2: Header Form 1 is a long header; 0 is a
     * short header, which carries no version and is not parsed here. */
    if ((first & 0x80) == 0) {
        return KP_RES_NOT_MINE;
    }
    if (!kp_rd_u32(&r, &version)) {
        return KP_RES_TRUNCATED;
    }
    if (gquic_nibble_layout(version)) {
        return KP_RES_NOT_MINE;
    }
    out->first = first;
    out->version = version;
    out->type_bits = (uint8_t)((first >> 4) & 3);

    bool v2_types = false;
    bool layout = version_layout(version, &v2_types);
    bool vn = (version == KP_QUIC_VERSION_NEGOTIATION);
    out->known_version = layout || vn;

    /* RFC 9000 17.2: in v1 (and v2) a connection ID longer than 20 bytes
     * means the packet must be dropped; RFC 8999 5.1 allows 255 in other
     * versions and in Version Negotiation. */
    if (!kp_rd_u8(&r, &dlen)) {
        return KP_RES_TRUNCATED;
    }
    if (layout && dlen > KP_QUIC_MAX_CID) {
        return KP_RES_MALFORMED;
    }
    if (!kp_rd_sub(&r, &out->dcid, dlen)) {
        return KP_RES_TRUNCATED;
    }
    if (!kp_rd_u8(&r, &slen)) {
        return KP_RES_TRUNCATED;
    }
    if (layout && slen > KP_QUIC_MAX_CID) {
        return KP_RES_MALFORMED;
    }
    if (!kp_rd_sub(&r, &out->scid, slen)) {
        return KP_RES_TRUNCATED;
    }

    if (vn) {
        /* RFC 9000 17.2.1: the rest is a list of 32-bit versions; the other
         * bits of the first byte are unused, the Fixed Bit included. */
        out->type = KP_QUIC_PT_VERSION_NEG;
        if (kp_rd_left(&r) % 4 != 0) {
            return KP_RES_MALFORMED;
        }
        out->versions = r;
        out->n_versions = kp_rd_left(&r) / 4;
        out->pkt_len = pkt.len;
        return KP_RES_OK;
    }
    if (!layout) {
        /* RFC 8999 5.1: beyond the connection IDs the layout is the
         * version's; without a length field the packet takes the rest. */
        out->type = KP_QUIC_PT_UNKNOWN;
        out->pkt_len = pkt.len;
        return KP_RES_OK;
    }

    /* RFC 9000 17.2: the Fixed Bit is 1 unless the peer allowed greasing it
     * (RFC 9287 3); kept as a flag, the packet is still parsed. */
    out->fixed_bit_clear = (first & 0x40) == 0;
    if (v2_types) {
        /* RFC 9369 3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00. */
        static const enum kp_quic_ptype v2map[4] = {KP_QUIC_PT_RETRY, KP_QUIC_PT_INITIAL,
                                                    KP_QUIC_PT_0RTT, KP_QUIC_PT_HANDSHAKE};
        out->type = v2map[out->type_bits];
    } else {
        /* RFC 9000 17.2 Table 5: Initial 0, 0-RTT 1, Handshake 2, Retry 3. */
        static const enum kp_quic_ptype v1map[4] = {KP_QUIC_PT_INITIAL, KP_QUIC_PT_0RTT,
                                                    KP_QUIC_PT_HANDSHAKE, KP_QUIC_PT_RETRY};
        out->type = v1map[out->type_bits];
    }

    if (out->type == KP_QUIC_PT_RETRY) {
        /* RFC 9000 17.2.5: Retry Token (..) then a 128-bit Retry Integrity
         * Tag, no length field: the packet takes the rest of the datagram.
         * 17.2.5.2: a Retry with an empty token is discarded. */
        size_t left = kp_rd_left(&r);
        if (left <= KP_QUIC_RETRY_TAG_LEN) {
            return KP_RES_MALFORMED;
        }
        if (!kp_rd_sub(&r, &out->token, left - KP_QUIC_RETRY_TAG_LEN) ||
            !kp_rd_sub(&r, &out->retry_tag, KP_QUIC_RETRY_TAG_LEN)) {
            return KP_RES_MALFORMED;
        }
        out->pkt_len = pkt.len;
        return KP_RES_OK;
    }

    if (out->type == KP_QUIC_PT_INITIAL) {
        /* RFC 9000 17.2.2: Token Length (i), Token (..). */
        uint64_t tlen;
        if (!kp_rd_varint(&r, &tlen)) {
            return KP_RES_TRUNCATED;
        }
        if (tlen > kp_rd_left(&r) || !kp_rd_sub(&r, &out->token, (size_t)tlen)) {
            return KP_RES_TRUNCATED;
        }
    }
    /* RFC 9000 17.2: Length (i) covers the Packet Number and the payload;
     * it is what delimits coalesced packets (12.2). */
    uint64_t length;
    if (!kp_rd_varint(&r, &length)) {
        return KP_RES_TRUNCATED;
    }
    out->length = length;
    out->pn_offset = pkt.len - kp_rd_left(&r);
    if (length > kp_rd_left(&r)) {
        return KP_RES_TRUNCATED;
    }
    out->pkt_len = out->pn_offset + (size_t)length;
    return KP_RES_OK;
}

/* ---- Key derivation (RFC 9001 5.1, 5.2; RFC 8446 7.1; RFC 5869) ----------- */

/* HMAC-SHA-256 (OpenSSL's) of msg || tail, keyed with key. */
static bool hmac_sha256(EVP_MAC_CTX *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                        size_t msg_len, uint8_t tail, bool with_tail, uint8_t out[32])
{
    size_t n = 0;
    return EVP_MAC_init(ctx, key, key_len, NULL) == 1 &&
           (msg_len == 0 || EVP_MAC_update(ctx, msg, msg_len) == 1) &&
           (!with_tail || EVP_MAC_update(ctx, &tail, 1) == 1) &&
           EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32;
}

/* HKDF-Expand-Label(secret, label, "", out_len) (RFC 8446 7.1): info is the
 * HkdfLabel struct: uint16 length, opaque label<7..255> = "tls13 " + label,
 * opaque context<0..255> (empty here).  out_len <= 32, the hash length, so
 * HKDF-Expand (RFC 5869 2.3) is the single block T(1) = HMAC(secret, info ||
 * 0x01). */
static bool expand_label(EVP_MAC_CTX *ctx, const uint8_t *secret, size_t secret_len,
                         const char *label, uint8_t *out, size_t out_len)
{
    static const char prefix[] = "tls13 ";
    uint8_t info[64], t1[32];
    size_t plen = sizeof prefix - 1, llen = strlen(label);
    if (plen + llen > 255 || 4 + plen + llen > sizeof info || out_len > sizeof t1) {
        return false;
    }
    size_t n = 0;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(plen + llen);
    memcpy(info + n, prefix, plen);
    n += plen;
    memcpy(info + n, label, llen);
    n += llen;
    info[n++] = 0;
    if (!hmac_sha256(ctx, secret, secret_len, info, n, 0x01, true, t1)) {
        return false;
    }
    memcpy(out, t1, out_len);
    OPENSSL_cleanse(t1, sizeof t1);
    return true;
}

enum kp_res kp_quic_initial_keys(uint32_t version, struct kp_rd dcid, bool is_server,
                                 struct kp_quic_keys *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *salt = version_salt(version);
    if (salt == NULL) {
        return KP_RES_NOT_MINE;
    }
    /* RFC 9000 17.2: connection IDs are at most 20 bytes in these versions. */
    if (dcid.len > KP_QUIC_MAX_CID) {
        return KP_RES_MALFORMED;
    }
    /* RFC 9369 3.3.2: v2 uses "quicv2 key", "quicv2 iv", "quicv2 hp". */
    bool v2 = (version == KP_QUIC_V2);
    uint8_t initial[32], cid[KP_QUIC_MAX_CID];
    struct kp_rd t = dcid;
    if (!kp_rd_copy(&t, cid, dcid.len)) {
        return KP_RES_MALFORMED;
    }
    enum kp_res res = KP_RES_NOMEM;
    EVP_MAC_CTX *ctx = kp_crypto_hmac_sha256_new();
    if (ctx == NULL) {
        return KP_RES_NOMEM;
    }
    /* RFC 9001 5.2: initial_secret = HKDF-Extract(initial_salt, dcid), which
     * is HMAC-Hash(salt, dcid) (RFC 5869 2.2). */
    if (!hmac_sha256(ctx, salt, 20, cid, dcid.len, 0, false, initial) ||
        !expand_label(ctx, initial, sizeof initial, is_server ? "server in" : "client in",
                      out->secret, sizeof out->secret) ||
        !expand_label(ctx, out->secret, sizeof out->secret, v2 ? "quicv2 key" : "quic key",
                      out->key, sizeof out->key) ||
        !expand_label(ctx, out->secret, sizeof out->secret, v2 ? "quicv2 iv" : "quic iv",
                      out->iv, sizeof out->iv) ||
        !expand_label(ctx, out->secret, sizeof out->secret, v2 ? "quicv2 hp" : "quic hp",
                      out->hp, sizeof out->hp)) {
        OPENSSL_cleanse(out, sizeof *out);
        goto free_ctx;
    }
    out->version = version;
    res = KP_RES_OK;
free_ctx:
    EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(initial, sizeof initial);
    return res;
}

/* ---- Ciphers --------------------------------------------------------------- */

/* AES-128-ECB of one block: the header protection mask (RFC 9001 5.4.3). */
static bool aes_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
    bool ok = false;
    int len = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return false;
    }
    if (kp_crypto_aes128_ecb() != NULL &&
        EVP_EncryptInit_ex(ctx, kp_crypto_aes128_ecb(), NULL, key, NULL) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_EncryptUpdate(ctx, out, &len, in, 16) == 1 && len == 16) {
        ok = true;
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Up to three pieces of associated data for one AEAD call. */
struct aad3 {
    struct kp_rd part[3];
};

/* AEAD_AES_128_GCM (RFC 5116) with a 12-byte nonce.  decrypt: open ct into
 * out and check tag; else seal an empty plaintext and write the tag.
 * Returns 1 on success, 0 on authentication failure, -1 on OpenSSL error. */
static int aes_gcm(bool decrypt, const uint8_t key[16], const uint8_t nonce[12],
                   const struct aad3 *aad, struct kp_rd ct, uint8_t *out, uint8_t tag[16])
{
    int rc = -1, len = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return -1;
    }
    if (kp_crypto_aes128_gcm() == NULL ||
        EVP_CipherInit_ex(ctx, kp_crypto_aes128_gcm(), NULL, NULL, NULL, decrypt ? 0 : 1) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, decrypt ? 0 : 1) != 1) {
        goto free_ctx;
    }
    for (size_t i = 0; i < 3; i++) {
        if (aad->part[i].len > 0 &&
            (aad->part[i].len > INT32_MAX ||
             EVP_CipherUpdate(ctx, NULL, &len, aad->part[i].p, (int)aad->part[i].len) != 1)) {
            goto free_ctx;
        }
    }
    if (decrypt) {
        if (ct.len > INT32_MAX) {
            goto free_ctx;
        }
        if (ct.len > 0 && EVP_CipherUpdate(ctx, out, &len, ct.p, (int)ct.len) != 1) {
            goto free_ctx;
        }
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1) {
            goto free_ctx;
        }
        /* The output buffer is not written by the final step of GCM; pass a
         * valid pointer anyway. */
        uint8_t fin[16];
        rc = EVP_CipherFinal_ex(ctx, fin, &len) == 1 ? 1 : 0;
    } else {
        uint8_t fin[16];
        if (EVP_CipherFinal_ex(ctx, fin, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1) {
            goto free_ctx;
        }
        rc = 1;
    }
free_ctx:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* ---- Packet protection (RFC 9001 5.3, 5.4) -------------------------------- */

static bool has_protected_payload(enum kp_quic_ptype t)
{
    return t == KP_QUIC_PT_INITIAL || t == KP_QUIC_PT_0RTT || t == KP_QUIC_PT_HANDSHAKE;
}

/* The packet's bytes, pkt[0..h->pkt_len), after checking h against pkt. */
static bool packet_view(struct kp_rd pkt, const struct kp_quic_long_hdr *h, struct kp_rd *p)
{
    if (h->pn_offset == 0 || h->pn_offset > h->pkt_len) {
        return false;
    }
    return kp_rd_sub(&pkt, p, h->pkt_len);
}

enum kp_res kp_quic_unprotect_header(const struct kp_quic_keys *k, struct kp_rd pkt,
                                     const struct kp_quic_long_hdr *h,
                                     struct kp_quic_unprotected *u)
{
    memset(u, 0, sizeof *u);
    if (!has_protected_payload(h->type)) {
        return KP_RES_NOT_MINE;
    }
    struct kp_rd p;
    if (!packet_view(pkt, h, &p)) {
        return KP_RES_MALFORMED;
    }
    /* RFC 9001 5.4.2: the sample starts 4 bytes after the start of the
     * Packet Number field; packets too short for a whole sample MUST be
     * discarded. */
    uint8_t sample[16], mask[16], first, pnb[4];
    struct kp_rd s = p;
    if (!kp_rd_skip(&s, h->pn_offset + 4) || !kp_rd_copy(&s, sample, sizeof sample)) {
        return KP_RES_MALFORMED;
    }
    if (!kp_rd_peek_u8(&p, 0, &first)) {
        return KP_RES_MALFORMED;
    }
    if (!aes_ecb_block(k->hp, sample, mask)) {
        return KP_RES_NOMEM;
    }
    /* RFC 9001 5.4.1: long headers protect the low 4 bits of the first
     * byte, which give the Packet Number Length, then the packet number. */
    first ^= (uint8_t)(mask[0] & 0x0f);
    size_t pn_len = (size_t)(first & 3) + 1;
    struct kp_rd q = p;
    if (!kp_rd_skip(&q, h->pn_offset) || !kp_rd_copy(&q, pnb, pn_len)) {
        return KP_RES_MALFORMED;
    }
    uint32_t pn = 0;
    for (size_t i = 0; i < pn_len; i++) {
        pn = (pn << 8) | (uint8_t)(pnb[i] ^ mask[1 + i]);
    }
    u->first = first;
    u->pn_len = pn_len;
    u->pn_raw = pn;
    /* RFC 9000 17.1, A.3: with no packet received yet in this number space
     * the expected packet number is 0, and the closest candidate to it is
     * the truncated value itself. */
    u->pn = pn;
    return KP_RES_OK;
}

enum kp_res kp_quic_decrypt_initial(const struct kp_quic_keys *k, struct kp_rd pkt,
                                    const struct kp_quic_long_hdr *h, uint8_t *out,
                                    size_t out_cap, size_t *out_len, uint64_t *pn,
                                    struct kp_quic_unprotected *u)
{
    struct kp_quic_unprotected local;
    if (u == NULL) {
        u = &local;
    }
    enum kp_res res = kp_quic_unprotect_header(k, pkt, h, u);
    if (res != KP_RES_OK) {
        return res;
    }
    struct kp_rd p, hdr_rest, ct, rest;
    uint8_t tag[16];
    if (!packet_view(pkt, h, &p)) {
        return KP_RES_MALFORMED;
    }
    /* Layout: first byte | header bytes up to the packet number | packet
     * number (pn_len) | ciphertext | 16-byte tag (RFC 9001 5.3). */
    rest = p;
    size_t pay = h->pkt_len - h->pn_offset;
    if (pay < u->pn_len + KP_QUIC_AEAD_TAG_LEN) {
        return KP_RES_MALFORMED;
    }
    size_t ct_len = pay - u->pn_len - KP_QUIC_AEAD_TAG_LEN;
    if (!kp_rd_skip(&rest, 1) || !kp_rd_sub(&rest, &hdr_rest, h->pn_offset - 1) ||
        !kp_rd_skip(&rest, u->pn_len) || !kp_rd_sub(&rest, &ct, ct_len) ||
        !kp_rd_copy(&rest, tag, sizeof tag)) {
        return KP_RES_MALFORMED;
    }
    if (ct_len > out_cap) {
        return KP_RES_NOMEM;
    }

    /* RFC 9001 5.3: the associated data is the header up to and including
     * the unprotected packet number. */
    uint8_t first = u->first, pnb[4];
    for (size_t i = 0; i < u->pn_len; i++) {
        pnb[i] = (uint8_t)(u->pn_raw >> (8 * (u->pn_len - 1 - i)));
    }
    struct aad3 aad = {{kp_rd_make(&first, 1), hdr_rest, kp_rd_make(pnb, u->pn_len)}};

    /* RFC 9001 5.3: the nonce is the IV XOR the packet number, left-padded
     * to the IV's length. */
    uint8_t nonce[12];
    memcpy(nonce, k->iv, sizeof nonce);
    for (size_t i = 0; i < 8; i++) {
        nonce[11 - i] ^= (uint8_t)(u->pn >> (8 * i));
    }

    int rc = aes_gcm(true, k->key, nonce, &aad, ct, out, tag);
    if (rc < 0) {
        if (ct_len > 0) {
            memset(out, 0, ct_len);
        }
        return KP_RES_NOMEM;
    }
    /* RFC 9000 17.2: Reserved Bits (0x0c) non-zero after removing
     * protection is a PROTOCOL_VIOLATION. */
    if (rc == 0 || (u->first & 0x0c) != 0) {
        if (ct_len > 0) {
            memset(out, 0, ct_len);
        }
        return KP_RES_MALFORMED;
    }
    *out_len = ct_len;
    *pn = u->pn;
    return KP_RES_OK;
}

/* ---- Retry integrity (RFC 9001 5.8, RFC 9369 3.3.3) ----------------------- */

enum kp_res kp_quic_retry_verify(struct kp_rd pkt, const struct kp_quic_long_hdr *h,
                                 struct kp_rd odcid)
{
    const uint8_t *key, *nonce;
    if (h->type != KP_QUIC_PT_RETRY) {
        return KP_RES_NOT_MINE;
    }
    if (h->version == KP_QUIC_V1) {
        key = retry_key_v1;
        nonce = retry_nonce_v1;
    } else if (h->version == KP_QUIC_V2) {
        key = retry_key_v2;
        nonce = retry_nonce_v2;
    } else {
        return KP_RES_NOT_MINE;
    }
    if (odcid.len > KP_QUIC_MAX_CID) {
        return KP_RES_MALFORMED;
    }
    struct kp_rd r = pkt, body;
    uint8_t want[16], got[16];
    if (h->pkt_len < KP_QUIC_RETRY_TAG_LEN || h->pkt_len > pkt.len ||
        !kp_rd_sub(&r, &body, h->pkt_len - KP_QUIC_RETRY_TAG_LEN) ||
        !kp_rd_copy(&r, want, sizeof want)) {
        return KP_RES_MALFORMED;
    }
    /* RFC 9001 5.8 Figure 8: the Retry Pseudo-Packet is ODCID Length,
     * ODCID, then the Retry packet without its tag; the tag is the AEAD
     * output over an empty plaintext with that as associated data. */
    uint8_t odcid_len = (uint8_t)odcid.len;
    struct aad3 aad = {{kp_rd_make(&odcid_len, 1), odcid, body}};
    int rc = aes_gcm(false, key, nonce, &aad, kp_rd_make(NULL, 0), NULL, got);
    if (rc != 1) {
        return KP_RES_NOMEM;
    }
    return CRYPTO_memcmp(want, got, sizeof want) == 0 ? KP_RES_OK : KP_RES_MALFORMED;
}

/* ---- Frames (RFC 9000 12.4, 19) --------------------------------------------- */

/* Frame types allowed in Initial and Handshake packets (RFC 9000 12.4
 * Table 3, 17.2.2). */
#define FT_PADDING 0x00
#define FT_PING 0x01
#define FT_ACK 0x02
#define FT_ACK_ECN 0x03
#define FT_CRYPTO 0x06
#define FT_CONNECTION_CLOSE 0x1c

/* A frame type varint, which RFC 9000 12.4 requires in its shortest
 * encoding. */
static bool read_frame_type(struct kp_rd *r, uint64_t *type, bool *minimal)
{
    uint8_t b;
    if (!kp_rd_peek_u8(r, 0, &b) || !kp_rd_varint(r, type)) {
        return false;
    }
    unsigned n = 1u << (b >> 6);
    *minimal = n == 1 || (n == 2 && *type >= 64) || (n == 4 && *type >= 16384) ||
               (n == 8 && *type >= (UINT64_C(1) << 30));
    return true;
}

/* ACK frame body after the type (RFC 9000 19.3). */
static bool parse_ack(struct kp_rd *r, bool ecn)
{
    uint64_t largest, delay, count, range;
    if (!kp_rd_varint(r, &largest) || !kp_rd_varint(r, &delay) || !kp_rd_varint(r, &count) ||
        !kp_rd_varint(r, &range)) {
        return false;
    }
    /* RFC 9000 19.3.1: smallest = largest - range; a range reaching below
     * packet number 0 is a FRAME_ENCODING_ERROR. */
    if (range > largest) {
        return false;
    }
    uint64_t smallest = largest - range;
    /* Each range takes at least two bytes, so the loop ends with the data. */
    for (uint64_t i = 0; i < count; i++) {
        uint64_t gap, len;
        if (!kp_rd_varint(r, &gap) || !kp_rd_varint(r, &len)) {
            return false;
        }
        /* 19.3.1: largest = previous smallest - gap - 2. */
        if (smallest < 2 || gap > smallest - 2) {
            return false;
        }
        uint64_t lg = smallest - gap - 2;
        if (len > lg) {
            return false;
        }
        smallest = lg - len;
    }
    if (ecn) {
        /* 19.3.2: ECT0, ECT1, ECN-CE counts. */
        uint64_t c;
        for (int i = 0; i < 3; i++) {
            if (!kp_rd_varint(r, &c)) {
                return false;
            }
        }
    }
    return true;
}

enum kp_res kp_quic_frames(struct kp_rd payload,
                           void (*cb)(uint64_t offset, struct kp_rd data, void *user), void *user,
                           struct kp_quic_frames_info *info)
{
    memset(info, 0, sizeof *info);
    struct kp_rd r = payload;
    /* RFC 9000 12.4: a packet carries one or more frames. */
    if (kp_rd_left(&r) == 0) {
        return KP_RES_MALFORMED;
    }
    while (kp_rd_left(&r) > 0) {
        uint64_t type;
        bool minimal;
        if (!read_frame_type(&r, &type, &minimal) || !minimal) {
            return KP_RES_MALFORMED;
        }
        info->frames++;
        switch (type) {
        case FT_PADDING: {
            /* 19.1: a single zero byte; runs of them are counted as one. */
            uint8_t b;
            info->padding_bytes++;
            while (kp_rd_peek_u8(&r, 0, &b) && b == 0) {
                if (!kp_rd_skip(&r, 1)) {
                    return KP_RES_MALFORMED;
                }
                info->padding_bytes++;
            }
            break;
        }
        case FT_PING:
            info->pings++;
            break;
        case FT_ACK:
        case FT_ACK_ECN:
            if (!parse_ack(&r, type == FT_ACK_ECN)) {
                return KP_RES_MALFORMED;
            }
            info->acks++;
            break;
        case FT_CRYPTO: {
            /* 19.6: Offset (i), Length (i), Crypto Data; offset + length
             * must not exceed 2^62 - 1. */
            uint64_t off, len;
            struct kp_rd data;
            if (!kp_rd_varint(&r, &off) || !kp_rd_varint(&r, &len) || len > kp_rd_left(&r) ||
                off + len > KP_QUIC_VARINT_MAX || !kp_rd_sub(&r, &data, (size_t)len)) {
                return KP_RES_MALFORMED;
            }
            info->crypto++;
            info->crypto_bytes += len;
            if (cb != NULL) {
                cb(off, data, user);
            }
            break;
        }
        case FT_CONNECTION_CLOSE: {
            /* 19.19: Error Code (i), Frame Type (i), Reason Phrase Length
             * (i), Reason Phrase. */
            uint64_t err, ft, rlen;
            struct kp_rd reason;
            if (!kp_rd_varint(&r, &err) || !kp_rd_varint(&r, &ft) ||
                !kp_rd_varint(&r, &rlen) || rlen > kp_rd_left(&r) ||
                !kp_rd_sub(&r, &reason, (size_t)rlen)) {
                return KP_RES_MALFORMED;
            }
            info->has_close = true;
            info->close_error = err;
            info->close_frame = ft;
            info->close_reason = reason;
            break;
        }
        default:
            /* 17.2.2 / 12.4 Table 3: nothing else may appear in an Initial
             * (or Handshake) packet; 0x1d is for the application space
             * only (12.5). */
            return KP_RES_MALFORMED;
        }
    }
    return KP_RES_OK;
}

/* ---- CRYPTO reassembly ------------------------------------------------------- */

void kp_quic_crypto_init(struct kp_quic_crypto *c)
{
    /* data[] is last and read only where have[] is set: leave it alone. */
    memset(c, 0, offsetof(struct kp_quic_crypto, data));
}

static bool have_bit(const struct kp_quic_crypto *c, size_t i)
{
    return (c->have[i / 8] >> (i % 8)) & 1;
}

enum kp_res kp_quic_crypto_add(struct kp_quic_crypto *c, uint64_t offset, struct kp_rd data)
{
    uint64_t len = data.len;
    /* RFC 9000 19.6: the stream never extends past 2^62 - 1. */
    if (offset > KP_QUIC_VARINT_MAX || len > KP_QUIC_VARINT_MAX - offset) {
        return KP_RES_MALFORMED;
    }
    c->frames++;
    if (offset + len > c->high) {
        c->high = offset + len;
    }
    uint64_t keep = 0;
    if (offset < KP_QUIC_CRYPTO_CAP) {
        keep = KP_QUIC_CRYPTO_CAP - offset;
        if (keep > len) {
            keep = len;
        }
    }
    c->dropped += len - keep;

    struct kp_rd r = data;
    for (size_t i = 0; i < (size_t)keep; i++) {
        size_t pos = (size_t)offset + i;
        uint8_t b;
        if (!kp_rd_u8(&r, &b)) {
            break;
        }
        if (have_bit(c, pos)) {
            /* First copy wins: RFC 9000 2.2 lets data be sent again only
             * unchanged, so a difference is an anomaly, not an update. */
            if (c->data[pos] != b) {
                c->conflicts++;
            }
            continue;
        }
        c->data[pos] = b;
        c->have[pos / 8] = (uint8_t)(c->have[pos / 8] | (1u << (pos % 8)));
    }
    while (c->contig < KP_QUIC_CRYPTO_CAP && have_bit(c, c->contig)) {
        c->contig++;
    }
    return keep == len ? KP_RES_OK : KP_RES_NOMEM;
}

struct kp_rd kp_quic_crypto_contig(const struct kp_quic_crypto *c)
{
    return kp_rd_make(c->data, c->contig);
}

enum kp_res kp_quic_crypto_first_msg(const struct kp_quic_crypto *c, uint8_t *hs_type,
                                     struct kp_rd *body)
{
    struct kp_rd r = kp_quic_crypto_contig(c);
    uint8_t t;
    uint32_t len;
    /* RFC 8446 4: Handshake { msg_type (1), length (3), body }; in QUIC the
     * CRYPTO stream carries handshake messages without records (RFC 9001
     * 4). */
    if (!kp_rd_u8(&r, &t) || !kp_rd_u24(&r, &len)) {
        return KP_RES_TRUNCATED;
    }
    if (len > KP_QUIC_CRYPTO_CAP - 4) {
        return KP_RES_NOMEM;
    }
    if (!kp_rd_sub(&r, body, len)) {
        return KP_RES_TRUNCATED;
    }
    *hs_type = t;
    return KP_RES_OK;
}

enum kp_res kp_quic_crypto_client_hello(const struct kp_quic_crypto *c, struct kp_rd *body)
{
    uint8_t t = 0;
    struct kp_rd b;
    /* The type byte is known as soon as offset 0 arrives. */
    struct kp_rd r = kp_quic_crypto_contig(c);
    if (kp_rd_peek_u8(&r, 0, &t) && t != 1) {
        return KP_RES_NOT_MINE;
    }
    enum kp_res res = kp_quic_crypto_first_msg(c, &t, &b);
    if (res != KP_RES_OK) {
        return res;
    }
    *body = b;
    return KP_RES_OK;
}

/* ---- One datagram -------------------------------------------------------------- */

struct feed_ctx {
    struct kp_quic_crypto *c;
    uint32_t frames;
};

static void feed_crypto(uint64_t offset, struct kp_rd data, void *user)
{
    struct feed_ctx *f = user;
    /* Bytes past the cap are counted in c->dropped; malformed offsets were
     * already rejected by kp_quic_frames. */
    (void)kp_quic_crypto_add(f->c, offset, data);
    f->frames++;
}

void kp_quic_key_cache_clear(struct kp_quic_key_cache *cache)
{
    if (cache != NULL) {
        OPENSSL_cleanse(cache, sizeof *cache);
    }
}

enum kp_res kp_quic_feed_datagram(struct kp_quic_crypto *c, struct kp_rd dgram,
                                  const struct kp_rd *key_dcid, bool from_server,
                                  uint8_t *scratch, size_t scratch_cap,
                                  struct kp_quic_dgram_info *info)
{
    struct kp_quic_key_cache cache;
    memset(&cache, 0, sizeof cache);
    enum kp_res res = kp_quic_feed_datagram_cached(c, dgram, key_dcid, from_server, &cache,
                                                   scratch, scratch_cap, info);
    kp_quic_key_cache_clear(&cache);
    return res;
}

enum kp_res kp_quic_feed_datagram_cached(struct kp_quic_crypto *c, struct kp_rd dgram,
                                         const struct kp_rd *key_dcid, bool from_server,
                                         struct kp_quic_key_cache *cache, uint8_t *scratch,
                                         size_t scratch_cap, struct kp_quic_dgram_info *info)
{
    memset(info, 0, sizeof *info);
    struct kp_rd r = dgram;
    bool nomem = false;

    while (kp_rd_left(&r) > 0) {
        struct kp_quic_long_hdr h;
        enum kp_res res = kp_quic_parse_long_header(&h, r);
        if (res == KP_RES_NOT_MINE && info->packets > 0) {
            /* RFC 9000 12.2: a short header packet can only be last; junk
             * after the last packet (padding) ends the walk too. */
            info->short_tail = true;
            break;
        }
        if (res != KP_RES_OK) {
            if (info->packets == 0) {
                return res;
            }
            info->failed++;
            break;
        }
        if (info->packets == 0) {
            info->version = h.version;
            info->dcid = h.dcid;
            info->scid = h.scid;
        }
        info->packets++;
        if (h.type == KP_QUIC_PT_RETRY) {
            info->has_retry = true;
        }
        if (h.type == KP_QUIC_PT_INITIAL && kp_quic_is_supported_version(h.version)) {
            info->initials++;
            struct kp_rd kd = key_dcid != NULL ? *key_dcid : h.dcid;
            /* The keys are a function of (version, DCID, direction) alone
             * (RFC 9001 5.2): reuse them only when all three match. */
            if (!cache->valid || cache->is_server != from_server ||
                cache->keys.version != h.version ||
                !kp_rd_eq(&kd, (const char *)cache->dcid, cache->dcid_len)) {
                cache->valid = false;
                res = kp_quic_initial_keys(h.version, kd, from_server, &cache->keys);
                if (res != KP_RES_OK) {
                    info->failed++;
                    nomem = nomem || res == KP_RES_NOMEM;
                    goto next;
                }
                /* kp_quic_initial_keys refused DCIDs over 20 bytes. */
                struct kp_rd t = kd;
                cache->valid = kp_rd_copy(&t, cache->dcid, kd.len);
                cache->dcid_len = cache->valid ? kd.len : 0;
                cache->is_server = from_server;
            }
            size_t plen = 0;
            uint64_t pn = 0;
            res = kp_quic_decrypt_initial(&cache->keys, r, &h, scratch, scratch_cap, &plen, &pn,
                                          NULL);
            if (res != KP_RES_OK) {
                info->failed++;
                nomem = nomem || res == KP_RES_NOMEM;
                goto next;
            }
            struct feed_ctx f = {c, 0};
            struct kp_quic_frames_info fi;
            res = kp_quic_frames(kp_rd_make(scratch, plen), feed_crypto, &f, &fi);
            info->crypto_frames += f.frames;
            if (res != KP_RES_OK) {
                info->failed++;
                goto next;
            }
            info->decrypted++;
            info->last_pn = pn;
        } else if (h.type == KP_QUIC_PT_INITIAL) {
            info->initials++;
        }
    next:
        if (h.pkt_len == 0 || !kp_rd_skip(&r, h.pkt_len)) {
            break;
        }
    }
    if (info->decrypted > 0) {
        return KP_RES_OK;
    }
    if (info->failed > 0) {
        return nomem ? KP_RES_NOMEM : KP_RES_MALFORMED;
    }
    return KP_RES_NOT_MINE;
}

/* ---- Google QUIC -------------------------------------------------------------- */

/* An unsigned integer of n bytes (n <= 8), big- or little-endian: gQUIC
 * wrote integers little-endian before Q039 and big-endian from then on. */
static bool rd_uint_n(struct kp_rd *r, size_t n, bool big_endian, uint64_t *v)
{
    struct kp_rd t = *r;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b;
        if (!kp_rd_u8(&t, &b)) {
            return false;
        }
        if (big_endian) {
            x = (x << 8) | b;
        } else {
            x |= (uint64_t)b << (8 * i);
        }
    }
    *v = x;
    *r = t;
    return true;
}

/* The gQUIC crypto handshake message (CHLO): tag "CHLO", uint16 number of
 * entries, uint16 padding, entries (tag, uint32 end offset of its value),
 * then the values back to back.  The counts and offsets are little-endian in
 * every version. */
static void parse_chlo(struct kp_gquic_info *out, struct kp_rd d)
{
    uint32_t tag;
    uint16_t n, pad;
    struct kp_rd entries;
    if (!kp_rd_u32(&d, &tag) || tag != KP_GQUIC_TAG('C', 'H', 'L', 'O')) {
        out->chlo = KP_RES_NOT_MINE;
        return;
    }
    if (!kp_rd_u16le(&d, &n) || !kp_rd_u16le(&d, &pad) ||
        !kp_rd_sub(&d, &entries, (size_t)n * 8)) {
        out->chlo = KP_RES_TRUNCATED;
        return;
    }
    struct kp_rd values = d;
    uint32_t prev = 0;
    bool cut = false;
    for (uint16_t i = 0; i < n; i++) {
        uint32_t t, end;
        if (!kp_rd_u32(&entries, &t) || !kp_rd_u32le(&entries, &end)) {
            out->chlo = KP_RES_MALFORMED;
            return;
        }
        /* End offsets never decrease: each value starts where the previous
         * one ended. */
        if (end < prev) {
            out->chlo = KP_RES_MALFORMED;
            return;
        }
        if (out->n_tags < KP_GQUIC_MAX_TAGS) {
            out->tags[out->n_tags++] = t;
        }
        out->tags_total++;
        struct kp_rd v = values, val;
        if (end > values.len || !kp_rd_skip(&v, prev) || !kp_rd_sub(&v, &val, end - prev)) {
            /* The value lies in a later packet of the stream. */
            cut = true;
            prev = end;
            continue;
        }
        prev = end;
        if (t == KP_GQUIC_TAG('S', 'N', 'I', 0)) {
            out->has_sni = true;
            out->sni = val;
        } else if (t == KP_GQUIC_TAG('U', 'A', 'I', 'D')) {
            out->has_uaid = true;
            out->uaid = val;
        } else if (t == KP_GQUIC_TAG('V', 'E', 'R', 0)) {
            uint32_t ver;
            if (kp_rd_u32(&val, &ver) && kp_rd_left(&val) == 0) {
                out->has_ver = true;
                out->ver = ver;
            }
        }
    }
    out->chlo = cut ? KP_RES_TRUNCATED : KP_RES_OK;
}

/* gQUIC frames after the null-encryption hash: PING frames, then a STREAM
 * frame of the crypto stream (1) at offset 0.  STREAM frame type
 * 1fdooogg: f FIN, d a 2-byte data length follows, ooo offset length (0 or
 * ooo + 1 bytes), gg stream ID length - 1.  Any other frame ends the search:
 * PADDING (0x00) fills the rest of a gQUIC packet. */
static void gquic_frames(struct kp_gquic_info *out, struct kp_rd r, bool big_endian)
{
    out->chlo = KP_RES_NOT_MINE;
    uint8_t type;
    while (kp_rd_u8(&r, &type)) {
        if (type == 0x07) {
            continue; /* PING */
        }
        if ((type & 0x80) == 0) {
            return;
        }
        size_t sid_len = (size_t)(type & 3) + 1;
        size_t ooo = (type >> 2) & 7;
        size_t off_len = ooo == 0 ? 0 : ooo + 1;
        uint64_t sid, off = 0, dlen;
        if (!rd_uint_n(&r, sid_len, big_endian, &sid) ||
            !rd_uint_n(&r, off_len, big_endian, &off)) {
            out->chlo = KP_RES_TRUNCATED;
            return;
        }
        if ((type & 0x20) != 0) {
            if (!rd_uint_n(&r, 2, big_endian, &dlen)) {
                out->chlo = KP_RES_TRUNCATED;
                return;
            }
        } else {
            dlen = kp_rd_left(&r);
        }
        if (sid != 1 || off != 0) {
            return;
        }
        bool cut = dlen > kp_rd_left(&r);
        struct kp_rd data;
        if (!kp_rd_sub(&r, &data, cut ? kp_rd_left(&r) : (size_t)dlen)) {
            return;
        }
        parse_chlo(out, data);
        if (cut && out->chlo == KP_RES_OK) {
            out->chlo = KP_RES_TRUNCATED;
        }
        return;
    }
}

/* Frames of a decrypted Q050 Initial: gQUIC frame types, with the CRYPTO
 * frame of IETF QUIC as type 0x08 (offset and length varints) carrying the
 * CHLO; PING 0x07; PADDING 0x00 fills the rest. */
static void gquic_crypto_frames(struct kp_gquic_info *out, struct kp_rd r)
{
    out->chlo = KP_RES_NOT_MINE;
    uint8_t type;
    while (kp_rd_u8(&r, &type)) {
        if (type == 0x07) {
            continue;
        }
        if (type != 0x08) {
            return;
        }
        uint64_t off, len;
        struct kp_rd data;
        /* The payload is authenticated: a length past it is malformed. */
        if (!kp_rd_varint(&r, &off) || !kp_rd_varint(&r, &len) || len > kp_rd_left(&r) ||
            !kp_rd_sub(&r, &data, (size_t)len)) {
            out->chlo = KP_RES_MALFORMED;
            return;
        }
        if (off != 0) {
            return;
        }
        parse_chlo(out, data);
        return;
    }
}

/* Public header of Q043 and older: flags, connection ID, version, packet
 * number.  Flags: 0x01 version present, 0x02 public reset, bits 0x0c the
 * connection ID (before Q033 a length code 0/1/4/8 bytes; from Q033 0x08
 * means an 8-byte ID and 0x04 a diversification nonce, sent by servers only),
 * 0x30 packet number length 1/2/4/6, 0x80 reserved. */
static enum kp_res gquic_public_header(struct kp_gquic_info *out, struct kp_rd dgram)
{
    struct kp_rd r = dgram;
    uint8_t flags;
    if (!kp_rd_u8(&r, &flags)) {
        return KP_RES_TRUNCATED;
    }
    if ((flags & 0x01) == 0 || (flags & 0x02) != 0 || (flags & 0x80) != 0) {
        return KP_RES_NOT_MINE;
    }
    static const size_t old_cid[4] = {0, 1, 4, 8};
    unsigned code = (flags >> 2) & 3;
    /* Candidates: the Q033+ meaning of 0x08 first, then the older one. */
    size_t cands[2];
    bool cand_new[2];
    size_t nc = 0;
    if (code == 2) {
        cands[nc] = 8;
        cand_new[nc++] = true;
    }
    cands[nc] = old_cid[code];
    cand_new[nc++] = false;

    bool need_more = false;
    for (size_t i = 0; i < nc; i++) {
        struct kp_rd t = r, cid;
        uint32_t version, num = 0;
        if (!kp_rd_sub(&t, &cid, cands[i]) || !kp_rd_u32(&t, &version)) {
            need_more = true;
            continue;
        }
        if ((version >> 24) != 'Q' || !gquic_digits(version, &num) || num >= 44) {
            continue;
        }
        if (code == 2 && (cand_new[i] != (num >= 33))) {
            continue;
        }
        out->version = version;
        out->version_num = num;
        out->cid = cid;
        static const size_t pn_lens[4] = {1, 2, 4, 6};
        size_t pn_len = pn_lens[(flags >> 4) & 3];
        /* 12-byte message authentication hash of the null encryption, then
         * (before Q034) the private flags byte. */
        if (!kp_rd_skip(&t, pn_len) || !kp_rd_skip(&t, 12) ||
            (num < 34 && !kp_rd_skip(&t, 1))) {
            out->chlo = KP_RES_TRUNCATED;
            return KP_RES_OK;
        }
        gquic_frames(out, t, num >= 39);
        return KP_RES_OK;
    }
    return need_more ? KP_RES_TRUNCATED : KP_RES_NOT_MINE;
}

enum kp_res kp_gquic_parse(struct kp_gquic_info *out, struct kp_rd dgram)
{
    return kp_gquic_parse_decrypt(out, dgram, NULL, 0);
}

enum kp_res kp_gquic_parse_decrypt(struct kp_gquic_info *out, struct kp_rd dgram,
                                   uint8_t *scratch, size_t scratch_cap)
{
    memset(out, 0, sizeof *out);
    out->chlo = KP_RES_NOT_MINE;
    struct kp_rd r = dgram;
    uint8_t first;
    uint32_t version, num = 0;
    if (!kp_rd_u8(&r, &first)) {
        return KP_RES_TRUNCATED;
    }
    if ((first & 0x80) == 0) {
        enum kp_res res = gquic_public_header(out, dgram);
        if (res != KP_RES_OK) {
            memset(out, 0, sizeof *out);
            out->chlo = KP_RES_NOT_MINE;
        }
        return res;
    }
    if (!kp_rd_u32(&r, &version)) {
        return KP_RES_TRUNCATED;
    }
    if (!kp_quic_is_gquic_version(version) || !gquic_digits(version, &num)) {
        return KP_RES_NOT_MINE;
    }
    out->version = version;
    out->version_num = num;
    if (gquic_nibble_layout(version)) {
        /* Q044-Q048 long header: one byte of connection ID lengths, each
         * nibble 0 (absent) or length - 3; packet number of (first & 3) + 1
         * bytes; no token or length field. */
        uint8_t cil;
        struct kp_rd dcid, scid;
        if (!kp_rd_u8(&r, &cil)) {
            return KP_RES_TRUNCATED;
        }
        size_t dl = (cil >> 4) != 0 ? (size_t)(cil >> 4) + 3 : 0;
        size_t sl = (cil & 15) != 0 ? (size_t)(cil & 15) + 3 : 0;
        if (!kp_rd_sub(&r, &dcid, dl) || !kp_rd_sub(&r, &scid, sl)) {
            return KP_RES_TRUNCATED;
        }
        out->cid = dcid;
        if (!kp_rd_skip(&r, (size_t)(first & 3) + 1) || !kp_rd_skip(&r, 12)) {
            out->chlo = KP_RES_TRUNCATED;
            return KP_RES_OK;
        }
        gquic_frames(out, r, true);
        return KP_RES_OK;
    }
    if ((version >> 24) == 'Q' && num < 44) {
        /* These versions never set the 0x80 flag. */
        memset(out, 0, sizeof *out);
        out->chlo = KP_RES_NOT_MINE;
        return KP_RES_NOT_MINE;
    }
    struct kp_quic_long_hdr h;
    enum kp_res res = kp_quic_parse_long_header(&h, dgram);
    if (res != KP_RES_OK) {
        return res;
    }
    out->ietf_layout = true;
    out->cid = h.dcid;
    if (scratch == NULL || h.type != KP_QUIC_PT_INITIAL || version_salt(version) == NULL) {
        return KP_RES_OK;
    }
    /* Q050: Initial keys as in RFC 9001 5.2 with Q050's salt, from the
     * client's DCID. */
    struct kp_quic_keys k;
    size_t plen = 0;
    uint64_t pn = 0;
    res = kp_quic_initial_keys(version, h.dcid, false, &k);
    if (res == KP_RES_OK) {
        res = kp_quic_decrypt_initial(&k, dgram, &h, scratch, scratch_cap, &plen, &pn, NULL);
    }
    OPENSSL_cleanse(&k, sizeof k);
    if (res != KP_RES_OK) {
        out->chlo = res == KP_RES_MALFORMED ? KP_RES_MALFORMED : KP_RES_NOT_MINE;
        return KP_RES_OK;
    }
    gquic_crypto_frames(out, kp_rd_make(scratch, plen));
    return KP_RES_OK;
}
