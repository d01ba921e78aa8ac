/* Summary of one X.509 certificate (RFC 5280) for key-provenance events:
 * who the certificate names, who issued it, its validity and key.
 *
 * Every string below is NUL-terminated and fits its array.  Text taken from
 * the certificate is copied as UTF-8 (ASN.1 string types converted by
 * OpenSSL); NUL bytes are replaced by '?', and a string that does not fit is
 * cut at a UTF-8 character boundary.  Other bytes are kept as they are: the
 * caller escapes them for its output format.  An absent field is "".
 */
#ifndef KP_X509_H
#define KP_X509_H

#include "kp.h"

#define KP_X509_ATTR_LEN 128 /* one name attribute (CN, O, C) */
#define KP_X509_DN_LEN 256   /* a whole distinguished name */
#define KP_X509_SAN_LEN 512  /* the joined SAN list */
#define KP_X509_TIME_LEN 21  /* "YYYY-MM-DDTHH:MM:SSZ" */
#define KP_X509_SERIAL_LEN 66 /* "-" and up to 32 bytes of serial as hex */

struct kp_cert_info {
    char subject_cn[KP_X509_ATTR_LEN]; /* first commonName of the subject */
    char subject_o[KP_X509_ATTR_LEN];  /* first organizationName */
    char subject_c[KP_X509_ATTR_LEN];  /* first countryName (normally 2 letters, not checked) */
    char issuer_cn[KP_X509_ATTR_LEN];
    char issuer_o[KP_X509_ATTR_LEN];
    char issuer_c[KP_X509_ATTR_LEN];
    char subject_dn[KP_X509_DN_LEN];   /* subject in RFC 2253 form ("CN=a,O=b,C=US"); bytes
                                          outside ASCII and control characters escaped as
                                          \XX by OpenSSL */
    char issuer_dn[KP_X509_DN_LEN];    /* issuer, same form */
    char san[KP_X509_SAN_LEN];         /* subjectAltName dNSName and iPAddress entries in
                                          certificate order, joined by ','; in DNS names
                                          bytes outside 0x21..0x7e and ',' become '?' (RFC
                                          5280 4.2.1.6: IA5String DNS names) */
    size_t san_dns_total;              /* dNSName entries in the certificate */
    size_t san_ip_total;               /* iPAddress entries in the certificate */
    bool san_truncated;                /* san holds fewer entries than the two totals */
    char not_before[KP_X509_TIME_LEN]; /* validity, ISO 8601 UTC; "" if unreadable */
    char not_after[KP_X509_TIME_LEN];
    bool self_signed;                  /* subject name equals issuer name (RFC 5280 6.1:
                                          self-issued) */
    bool self_signature_ok;            /* self_signed and the signature verifies with the
                                          certificate's own public key */
    char sha256[65];                   /* SHA-256 of the DER, 64 lowercase hex digits */
    char serial[KP_X509_SERIAL_LEN];   /* serialNumber as lowercase hex ("-" first if
                                          negative), without leading
                                          zero bytes; "" if longer than 32 bytes */
    char key_type[16];                 /* "RSA", "RSA-PSS", "EC", "Ed25519", "Ed448", "DSA",
                                          "DH", "X25519", "X448" or "other" */
    int key_bits;                      /* key size in bits (EVP_PKEY_get_bits); 0 if unknown */
    char key_curve[32];                /* EC only: curve short name, e.g. "prime256v1" */
    int version;                       /* X.509 version: 1, 2 or 3 */
};

/* Summarize the DER certificate der[0..len).  The bytes are only read
 * (through a local pointer bounded by len); nothing is kept.  Returns
 * KP_RES_OK with *out filled; KP_RES_MALFORMED if the bytes are not exactly
 * one DER certificate (parse failure or trailing bytes; *out is zeroed);
 * KP_RES_NOMEM if OpenSSL ran out of memory along the way.  Leaves no entries
 * on OpenSSL's error queue and frees everything it allocated. */
enum kp_res kp_x509_summarize(const uint8_t *der, size_t len, struct kp_cert_info *out);

#endif
