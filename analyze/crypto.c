/* OpenSSL algorithms fetched once, see crypto.h. */
#include "crypto.h"

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;
static EVP_MAC *hmac;
static EVP_MAC_CTX *hmac_sha256; /* never keyed: only copied */
static EVP_CIPHER *gcm, *ecb;

static void fetch_all(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    hmac_sha256 = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
    if (hmac_sha256 != NULL) {
        char digest[] = "SHA2-256";
        OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                          OSSL_PARAM_construct_end()};
        if (EVP_MAC_CTX_set_params(hmac_sha256, p) != 1) {
            EVP_MAC_CTX_free(hmac_sha256);
            hmac_sha256 = NULL;
        }
    }
}

const EVP_MD *kp_crypto_sha256(void)
{
    pthread_once(&once, fetch_all);
    return sha256;
}

EVP_MAC_CTX *kp_crypto_hmac_sha256_new(void)
{
    pthread_once(&once, fetch_all);
    return hmac_sha256 != NULL ? EVP_MAC_CTX_dup(hmac_sha256) : NULL;
}

const EVP_CIPHER *kp_crypto_aes128_gcm(void)
{
    pthread_once(&once, fetch_all);
    return gcm;
}

const EVP_CIPHER *kp_crypto_aes128_ecb(void)
{
    pthread_once(&once, fetch_all);
    return ecb;
}
