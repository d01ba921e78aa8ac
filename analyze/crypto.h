/* OpenSSL algorithms fetched once per process.
 *
 * OpenSSL 3 resolves EVP_sha256(), EVP_aes_128_gcm() and EVP_KDF_fetch()
 * through its provider registry on every use (a locked hash-table lookup
 * and reference counting); a QUIC Initial needs five HMAC operations and two
 * ciphers.  These getters fetch each algorithm once (thread-safe) and keep
 * it for the life of the process.  NULL if the default provider lacks it.
 */
#ifndef KP_CRYPTO_H
#define KP_CRYPTO_H

#include <openssl/evp.h>

const EVP_MD *kp_crypto_sha256(void);
/* A new HMAC-SHA-256 context, digest already set: key it with
 * EVP_MAC_init(ctx, key, len, NULL), as often as needed; EVP_MAC_CTX_free
 * it.  (HKDF through EVP_KDF sets up its digest and HMAC from names on every
 * operation, several times the cost of the hashing.) */
EVP_MAC_CTX *kp_crypto_hmac_sha256_new(void);
const EVP_CIPHER *kp_crypto_aes128_gcm(void);
const EVP_CIPHER *kp_crypto_aes128_ecb(void);

#endif
