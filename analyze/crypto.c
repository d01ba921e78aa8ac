/* OpenSSL algorithms fetched once, see crypto.h. */
#include "crypto.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;
static EVP_KDF *hkdf;
static EVP_CIPHER *gcm, *ecb;

static void fetch_all(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
}

const EVP_MD *kp_crypto_sha256(void)
{
    pthread_once(&once, fetch_all);
    return sha256;
}

EVP_KDF *kp_crypto_hkdf(void)
{
    pthread_once(&once, fetch_all);
    return hkdf;
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
