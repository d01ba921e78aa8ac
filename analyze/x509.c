/* X.509 certificate summary with OpenSSL; see x509.h. */
#include "crypto.h"
#include "x509.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char hex_digits[] = "0123456789abcdef";

/* Bytes that start a UTF-8 character (not 10xxxxxx continuation bytes). */
static bool utf8_lead(uint8_t b)
{
    return (b & 0xc0) != 0x80;
}

/* Copy n bytes of text into dst[cap], NUL-terminated, replacing NUL bytes
 * by '?'; if it does not fit, cut before the character that would not.
 * Returns true if everything fit. */
static bool copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    if (cap == 0) {
        return n == 0;
    }
    size_t k = n < cap - 1 ? n : cap - 1;
    bool fit = k == n;
    if (!fit) {
        /* Back off to the start of the character at src[k]. */
        while (k > 0 && !utf8_lead(src[k])) {
            k--;
        }
    }
    for (size_t i = 0; i < k; i++) {
        dst[i] = src[i] == 0 ? '?' : (char)src[i];
    }
    dst[k] = '\0';
    return fit;
}

/* An ASN.1 string as UTF-8 (RFC 5280 4.1.2.4: DirectoryString types are
 * converted by OpenSSL); when conversion fails, the raw bytes with anything
 * outside printable ASCII replaced by '?'. */
static void copy_asn1_string(char *dst, size_t cap, const ASN1_STRING *s)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n >= 0 && utf8 != NULL) {
        copy_text(dst, cap, utf8, (size_t)n);
        OPENSSL_free(utf8);
        return;
    }
    OPENSSL_free(utf8);
    const unsigned char *raw = ASN1_STRING_get0_data(s);
    int rlen = ASN1_STRING_length(s);
    size_t k = 0;
    for (int i = 0; raw != NULL && i < rlen && k + 1 < cap; i++) {
        dst[k++] = (raw[i] >= 0x20 && raw[i] < 0x7f) ? (char)raw[i] : '?';
    }
    if (cap > 0) {
        dst[k] = '\0';
    }
}

/* The first attribute of the given type in a name. */
static void name_attr(const X509_NAME *name, int nid, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (name == NULL) {
        return;
    }
    int idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0) {
        return;
    }
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, idx);
    const ASN1_STRING *s = e != NULL ? X509_NAME_ENTRY_get_data(e) : NULL;
    if (s != NULL) {
        copy_asn1_string(dst, cap, s);
    }
}

/* The whole name in RFC 2253 form. */
static bool name_dn(const X509_NAME *name, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (name == NULL) {
        return true;
    }
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL) {
        return false;
    }
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        if (n > 0 && p != NULL) {
            copy_text(dst, cap, (const uint8_t *)p, (size_t)n);
        }
    }
    BIO_free(b);
    return true;
}

/* "YYYY-MM-DDTHH:MM:SSZ", or "" when the time does not convert. */
static void iso_time(const ASN1_TIME *t, char dst[KP_X509_TIME_LEN])
{
    struct tm tm;
    char tmp[64];
    dst[0] = '\0';
    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return;
    }
    int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n > 0 && (size_t)n < KP_X509_TIME_LEN) {
        memcpy(dst, tmp, (size_t)n + 1);
    }
}

/* Append one SAN entry to the ','-joined list; false if it did not fit. */
static bool san_append(struct kp_cert_info *out, size_t *used, const char *s, size_t n)
{
    size_t need = (*used > 0 ? 1 : 0) + n;
    if (*used + need + 1 > sizeof out->san) {
        return false;
    }
    if (*used > 0) {
        out->san[(*used)++] = ',';
    }
    memcpy(out->san + *used, s, n);
    *used += n;
    out->san[*used] = '\0';
    return true;
}

/* RFC 5280 4.2.1.6: dNSName (IA5String) and iPAddress (4 or 16 octets). */
static bool sans(X509 *x, struct kp_cert_info *out)
{
    int crit = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        return true; /* absent, duplicated (crit == -2) or undecodable */
    }
    size_t used = 0;
    bool full = false;
    int num = sk_GENERAL_NAME_num(gens);
    for (int i = 0; i < num; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char buf[256];
        size_t n = 0;
        if (g->type == GEN_DNS) {
            out->san_dns_total++;
            const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
            int dl = ASN1_STRING_length(g->d.dNSName);
            for (int j = 0; d != NULL && j < dl && n < sizeof buf; j++) {
                buf[n++] = (d[j] > 0x20 && d[j] < 0x7f && d[j] != ',') ? (char)d[j] : '?';
            }
            if (dl > (int)sizeof buf) {
                n = 0; /* too long for a DNS name (RFC 1035 2.3.4): leave it out */
                out->san_truncated = true;
            }
        } else if (g->type == GEN_IPADD) {
            out->san_ip_total++;
            const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
            int dl = ASN1_STRING_length(g->d.iPAddress);
            if (d != NULL && (dl == 4 || dl == 16) &&
                inet_ntop(dl == 4 ? AF_INET : AF_INET6, d, buf, sizeof buf) != NULL) {
                n = strlen(buf);
            } else {
                out->san_truncated = true; /* a name constraint-style value: not an address */
            }
        } else {
            continue;
        }
        if (n == 0) {
            continue;
        }
        if (full || !san_append(out, &used, buf, n)) {
            full = true;
            out->san_truncated = true;
        }
    }
    GENERAL_NAMES_free(gens);
    return true;
}

static void key_summary(X509 *x, struct kp_cert_info *out)
{
    EVP_PKEY *pk = X509_get0_pubkey(x); /* owned by x */
    const char *type = "other";
    if (pk == NULL) {
        snprintf(out->key_type, sizeof out->key_type, "%s", type);
        return;
    }
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
        type = "RSA";
        break;
    case EVP_PKEY_RSA_PSS:
        type = "RSA-PSS";
        break;
    case EVP_PKEY_EC:
        type = "EC";
        break;
    case EVP_PKEY_ED25519:
        type = "Ed25519";
        break;
    case EVP_PKEY_ED448:
        type = "Ed448";
        break;
    case EVP_PKEY_DSA:
        type = "DSA";
        break;
    case EVP_PKEY_DH:
    case EVP_PKEY_DHX:
        type = "DH";
        break;
    case EVP_PKEY_X25519:
        type = "X25519";
        break;
    case EVP_PKEY_X448:
        type = "X448";
        break;
    default:
        break;
    }
    snprintf(out->key_type, sizeof out->key_type, "%s", type);
    int bits = EVP_PKEY_get_bits(pk);
    out->key_bits = bits > 0 ? bits : 0;
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        char curve[64];
        size_t clen = 0;
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                           &clen) == 1) {
            copy_text(out->key_curve, sizeof out->key_curve, (const uint8_t *)curve, clen);
        }
    }
}

static void serial_hex(X509 *x, struct kp_cert_info *out)
{
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    out->serial[0] = '\0';
    if (sn == NULL) {
        return;
    }
    const unsigned char *d = ASN1_STRING_get0_data(sn);
    int n = ASN1_STRING_length(sn);
    int i = 0;
    while (d != NULL && i < n - 1 && d[i] == 0) {
        i++;
    }
    if (d == NULL || n - i > 32 || n <= 0) {
        return;
    }
    size_t k = 0;
    if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER) {
        out->serial[k++] = '-';
    }
    for (; i < n; i++) {
        out->serial[k++] = hex_digits[d[i] >> 4];
        out->serial[k++] = hex_digits[d[i] & 0xf];
    }
    out->serial[k] = '\0';
}

/* True if the error queue's newest entry says an allocation failed. */
static bool last_error_is_nomem(void)
{
    unsigned long e = ERR_peek_last_error();
    return e != 0 && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE;
}

enum kp_res kp_x509_summarize(const uint8_t *der, size_t len, struct kp_cert_info *out)
{
    enum kp_res res = KP_RES_OK;
    X509 *x = NULL;
    memset(out, 0, sizeof *out);
    /* Keep the caller's OpenSSL error queue as it was (x509.h). */
    ERR_set_mark();

    if (der == NULL || len == 0 || len > LONG_MAX) {
        res = KP_RES_MALFORMED;
        goto out_pop_errors;
    }
    /* d2i reads at most len bytes through its own cursor. */
    const unsigned char *p = der;
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL) {
        res = last_error_is_nomem() ? KP_RES_NOMEM : KP_RES_MALFORMED;
        goto out_pop_errors;
    }
    /* Exactly one certificate: trailing bytes mean the TLS length and the
     * DER length disagree. */
    if ((size_t)(p - der) != len) {
        res = KP_RES_MALFORMED;
        goto out_free_cert;
    }

    const X509_NAME *subj = X509_get_subject_name(x);
    const X509_NAME *iss = X509_get_issuer_name(x);
    name_attr(subj, NID_commonName, out->subject_cn, sizeof out->subject_cn);
    name_attr(subj, NID_organizationName, out->subject_o, sizeof out->subject_o);
    name_attr(subj, NID_countryName, out->subject_c, sizeof out->subject_c);
    name_attr(iss, NID_commonName, out->issuer_cn, sizeof out->issuer_cn);
    name_attr(iss, NID_organizationName, out->issuer_o, sizeof out->issuer_o);
    name_attr(iss, NID_countryName, out->issuer_c, sizeof out->issuer_c);
    if (!name_dn(subj, out->subject_dn, sizeof out->subject_dn) ||
        !name_dn(iss, out->issuer_dn, sizeof out->issuer_dn)) {
        res = KP_RES_NOMEM;
        goto out_free_cert;
    }
    sans(x, out);
    iso_time(X509_get0_notBefore(x), out->not_before);
    iso_time(X509_get0_notAfter(x), out->not_after);
    out->version = (int)X509_get_version(x) + 1;
    serial_hex(x, out);
    key_summary(x, out);

    /* RFC 5280 6.1: self-issued when subject and issuer names match; then
     * check whether it is also self-signed (its own key verifies it). */
    out->self_signed = subj != NULL && iss != NULL && X509_NAME_cmp(subj, iss) == 0;
    if (out->self_signed) {
        EVP_PKEY *pk = X509_get0_pubkey(x);
        out->self_signature_ok = pk != NULL && X509_verify(x, pk) == 1;
    }

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (kp_crypto_sha256() == NULL ||
        EVP_Digest(der, len, md, &mdlen, kp_crypto_sha256(), NULL) != 1 || mdlen != 32) {
        res = last_error_is_nomem() ? KP_RES_NOMEM : KP_RES_MALFORMED;
        goto out_free_cert;
    }
    for (size_t i = 0; i < 32; i++) {
        out->sha256[2 * i] = hex_digits[md[i] >> 4];
        out->sha256[2 * i + 1] = hex_digits[md[i] & 0xf];
    }
    out->sha256[64] = '\0';

out_free_cert:
    X509_free(x);
out_pop_errors:
    ERR_pop_to_mark();
    if (res != KP_RES_OK) {
        memset(out, 0, sizeof *out);
    }
    return res;
}
