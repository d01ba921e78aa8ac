/* Unit tests of analyze/x509.c: certificates from real captures, cut out of
 * ../shared/pcaps at test time (see tls_test_util.h; expected values from
 * `openssl x509 -inform DER -noout -subject -issuer -dates -serial
 * -fingerprint -sha256 -nameopt RFC2253 -ext subjectAltName`, OpenSSL 3.0 on
 * Debian 12), and certificates generated here with odd contents. */
#include "tls_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509.h"

/* Every string of the summary is NUL-terminated inside its array. */
static void assert_terminated(const struct kp_cert_info *c)
{
#define T(f) assert_non_null(memchr(c->f, '\0', sizeof c->f))
    T(subject_cn);
    T(subject_o);
    T(subject_c);
    T(issuer_cn);
    T(issuer_o);
    T(issuer_c);
    T(subject_dn);
    T(issuer_dn);
    T(san);
    T(not_before);
    T(not_after);
    T(sha256);
    T(serial);
    T(key_type);
    T(key_curve);
#undef T
}

/* The n-th certificate of a Certificate message in a stream vector,
 * copied (malloc'd, exact size). */
static uint8_t *chain_cert(const char *file, size_t nth, size_t *len)
{
    size_t n;
    uint8_t *p = tt_load_hex(file, &n);
    uint8_t *der = NULL;
    struct kp_tls_scan_state st;
    struct tt_msgs msgs;
    struct kp_tls_certificate c;
    struct kp_rd body;
    if (strncmp(file, "meet_", 5) == 0) {
        assert_true(tt_dtls_message(p, n, KP_TLS_HS_CERTIFICATE, &body));
        assert_int_equal(kp_tls_parse_certificate(&c, body, false), KP_RES_OK);
        assert_true(nth < c.n_certs);
        der = tt_exact_copy(c.certs[nth].p, c.certs[nth].len);
        *len = c.certs[nth].len;
        free(p);
        return der;
    }
    assert_int_equal(tt_scan(p, n, &st, &msgs), KP_RES_OK);
    const struct tt_msg *m = tt_find(&msgs, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(m->body, m->len), false), KP_RES_OK);
    assert_true(nth < c.n_certs);
    der = tt_exact_copy(c.certs[nth].p, c.certs[nth].len);
    *len = c.certs[nth].len;
    tt_msgs_free(&msgs);
    free(p);
    return der;
}

/* The hex strings below (SHA-256 fingerprints, serial numbers) are results:
 * what `openssl x509 -fingerprint -sha256 -serial` printed for each
 * certificate (see the top of this file), not bytes of the captures. */
static void test_taleo_chain(void **state)
{
    (void)state;
    tt_need_captures();
    struct kp_cert_info c;
    size_t len;
    /* tls12_zeek.pcap, certificate 0. */
    uint8_t *der = chain_cert("tls12_zeek_server.hex", 0, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_terminated(&c);
    assert_string_equal(c.subject_cn, "*.taleo.net");
    assert_string_equal(c.subject_o, "Taleo Inc.");
    assert_string_equal(c.subject_c, "US");
    assert_string_equal(c.issuer_cn, "COMODO High-Assurance Secure Server CA");
    assert_string_equal(c.issuer_o, "COMODO CA Limited");
    assert_string_equal(c.issuer_c, "GB");
    assert_string_equal(c.subject_dn,
                        "CN=*.taleo.net,OU=Comodo PremiumSSL Wildcard,OU=Web,O=Taleo Inc.,"
                        "street=4140 Dublin Boulevard,street=Suite 400,L=Dublin,ST=CA,"
                        "postalCode=94568,C=US");
    assert_string_equal(c.issuer_dn, "CN=COMODO High-Assurance Secure Server CA,O=COMODO CA "
                                     "Limited,L=Salford,ST=Greater Manchester,C=GB");
    assert_string_equal(c.san, "*.taleo.net,taleo.net");
    assert_int_equal(c.san_dns_total, 2);
    assert_int_equal(c.san_ip_total, 0);
    assert_false(c.san_truncated);
    assert_string_equal(c.not_before, "2011-05-04T00:00:00Z");
    assert_string_equal(c.not_after, "2016-07-04T23:59:59Z");
    assert_false(c.self_signed);
    assert_false(c.self_signature_ok);
    assert_string_equal(c.sha256,
                        "95cb443934beda97627688546191ab1d3989a835592cebdd2434f9ad41324ce1");
    assert_string_equal(c.serial, "99faa8037a4eb2faef84eb5e55d5b8c8");
    assert_string_equal(c.key_type, "RSA");
    assert_int_equal(c.key_bits, 2048);
    assert_string_equal(c.key_curve, "");
    assert_int_equal(c.version, 3);
    free(der);

    /* Certificate 1: the intermediate, no extensions. */
    der = chain_cert("tls12_zeek_server.hex", 1, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_string_equal(c.subject_cn, "COMODO High-Assurance Secure Server CA");
    assert_string_equal(c.issuer_cn, "AddTrust External CA Root");
    assert_string_equal(c.issuer_c, "SE");
    assert_string_equal(c.san, "");
    assert_string_equal(c.sha256,
                        "7363593d116aafcf804b974465546e1f02ed74b52db529ba7520345e5fed1ed4");
    assert_string_equal(c.not_after, "2020-05-30T10:48:38Z");
    free(der);

    /* Certificate 2: the self-signed AddTrust root (SHA-1 RSA). */
    der = chain_cert("tls12_zeek_server.hex", 2, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_string_equal(c.subject_dn, "CN=AddTrust External CA Root,OU=AddTrust External TTP "
                                      "Network,O=AddTrust AB,C=SE");
    assert_string_equal(c.subject_dn, c.issuer_dn);
    assert_true(c.self_signed);
    assert_true(c.self_signature_ok);
    assert_string_equal(c.serial, "01");
    assert_string_equal(c.sha256,
                        "687fa451382278fff0c8b11f8d43d576671c6eb2bceab413fb83d965d06d2ff2");
    free(der);
}

static void test_ecdsa_and_webrtc(void **state)
{
    (void)state;
    tt_need_captures();
    struct kp_cert_info c;
    size_t len;
    /* tls_ecdsa_cert_zeek.pcap: ECDSA P-384 leaf, P-256 intermediate. */
    uint8_t *der = chain_cert("tls_ecdsa_cert_zeek_server.hex", 0, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_string_equal(c.subject_cn, "pantz.org");
    assert_string_equal(c.subject_o, "");
    assert_string_equal(c.subject_c, "");
    assert_string_equal(c.subject_dn,
                        "CN=pantz.org,OU=PositiveSSL,OU=Domain Control Validated");
    assert_string_equal(c.issuer_cn, "COMODO ECC Domain Validation Secure Server CA");
    assert_string_equal(c.san, "pantz.org,www.pantz.org");
    assert_string_equal(c.key_type, "EC");
    assert_int_equal(c.key_bits, 384);
    assert_string_equal(c.key_curve, "secp384r1");
    assert_string_equal(c.sha256,
                        "11db6d4f6e4df14cec874b9d4a306c64c282dacbd479788ee0510b2c99382dc4");
    assert_string_equal(c.serial, "f0afbbf558bf4d1b71fed9cb33793ee4");
    assert_string_equal(c.not_before, "2014-11-08T00:00:00Z");
    assert_string_equal(c.not_after, "2019-11-07T23:59:59Z");
    free(der);
    der = chain_cert("tls_ecdsa_cert_zeek_server.hex", 1, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_int_equal(c.key_bits, 256);
    assert_string_equal(c.key_curve, "prime256v1");
    assert_string_equal(c.sha256,
                        "7e32368e24a2cc48d3d29e883b260e40ceda22af97189c78fc5b928484e9a010");
    free(der);

    /* meet_stun_dtls_srtp_ndpi.pcapng: Google Meet's DTLS certificate,
     * self-signed WebRTC style. */
    der = chain_cert("meet_dtls_server.hex", 0, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_string_equal(c.subject_dn, "CN=hangouts");
    assert_string_equal(c.issuer_dn, "CN=hangouts");
    assert_true(c.self_signed);
    assert_true(c.self_signature_ok);
    assert_string_equal(c.serial, "be723641b3ef32f4");
    assert_string_equal(c.not_before, "2023-06-19T17:32:20Z");
    assert_string_equal(c.not_after, "2024-06-19T17:32:20Z");
    assert_string_equal(c.sha256,
                        "b69c0401ff883f06e68230fcfc66f5e2a2d68e42eb97a4f2adf77241db5bbef9");
    assert_string_equal(c.key_type, "RSA");
    assert_int_equal(c.key_bits, 2048);
    free(der);
}

/* Every strict prefix, a trailing byte, byte flips: never OK with a wrong
 * certificate, never a crash, always terminated strings. */
static void check_hostile_der(const uint8_t *der, size_t len)
{
    struct kp_cert_info c;
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = tt_exact_copy(der, n);
        assert_int_equal(kp_x509_summarize(p, n, &c), KP_RES_MALFORMED);
        assert_string_equal(c.sha256, "");
        free(p);
    }
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(kp_x509_summarize(longer, len + 1, &c), KP_RES_MALFORMED);
    free(longer);

    uint8_t *m = tt_exact_copy(der, len);
    for (size_t i = 0; i < len; i++) {
        uint8_t saved = m[i];
        m[i] = (uint8_t)~saved;
        enum kp_res r = kp_x509_summarize(m, len, &c);
        assert_true(r == KP_RES_OK || r == KP_RES_MALFORMED);
        assert_terminated(&c);
        if (r == KP_RES_OK) {
            assert_int_equal(strlen(c.sha256), 64);
        }
        m[i] = saved;
    }
    free(m);
}

static void test_hostile_der(void **state)
{
    (void)state;
    tt_need_captures();
    size_t len;
    uint8_t *der = chain_cert("tls_ecdsa_cert_zeek_server.hex", 0, &len);
    check_hostile_der(der, len);
    free(der);
}

/* No input, and the caller's OpenSSL error queue is left as it was. */
static void test_bad_input_and_error_queue(void **state)
{
    (void)state;
    struct kp_cert_info c;
    assert_int_equal(kp_x509_summarize(NULL, 10, &c), KP_RES_MALFORMED);
    assert_int_equal(kp_x509_summarize((const uint8_t *)"\x30", 0, &c), KP_RES_MALFORMED);
    assert_terminated(&c);

    ERR_clear_error();
    ERR_raise(ERR_LIB_USER, 42);
    assert_int_equal(kp_x509_summarize((const uint8_t *)"\x30\x03\x02\x01", 4, &c),
                     KP_RES_MALFORMED);
    unsigned long e = ERR_get_error();
    assert_int_equal(ERR_GET_LIB(e), ERR_LIB_USER);
    assert_int_equal(ERR_GET_REASON(e), 42);
    assert_int_equal(ERR_get_error(), 0);
}

/* ---- generated certificates --------------------------------------------- */

static void add_name(X509_NAME *n, int nid, const void *bytes, int len)
{
    /* V_ASN1_UTF8STRING (not MBSTRING_UTF8) skips OpenSSL's size table, so
     * over-long values can be built. */
    assert_int_equal(X509_NAME_add_entry_by_NID(n, nid, V_ASN1_UTF8STRING, bytes, len, -1, 0), 1);
}

static void add_san_dns(GENERAL_NAMES *gens, const char *s)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    assert_non_null(g);
    assert_non_null(ia5);
    assert_int_equal(ASN1_STRING_set(ia5, s, (int)strlen(s)), 1);
    GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
    assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
}

static void add_san_ip(GENERAL_NAMES *gens, const uint8_t *ip, int len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
    assert_non_null(g);
    assert_non_null(o);
    assert_int_equal(ASN1_OCTET_STRING_set(o, ip, len), 1);
    GENERAL_NAME_set0_value(g, GEN_IPADD, o);
    assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
}

/* DER of a certificate; subject built by the caller in `subj`, issuer
 * `issuer_cn` (NULL: same as subject), signed by `signer` with `key` as
 * the subject key. */
static uint8_t *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509_NAME *subj, const char *issuer_cn,
                          GENERAL_NAMES *gens, long serial, size_t *len)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notBefore(x), "20240229120000Z"), 1);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notAfter(x), "20301231235959Z"), 1);
    assert_int_equal(X509_set_subject_name(x, subj), 1);
    if (issuer_cn != NULL) {
        X509_NAME *iss = X509_NAME_new();
        assert_non_null(iss);
        add_name(iss, NID_commonName, issuer_cn, (int)strlen(issuer_cn));
        assert_int_equal(X509_set_issuer_name(x, iss), 1);
        X509_NAME_free(iss);
    } else {
        assert_int_equal(X509_set_issuer_name(x, subj), 1);
    }
    assert_int_equal(X509_set_pubkey(x, key), 1);
    if (gens != NULL) {
        assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT),
                         1);
    }
    const EVP_MD *md = EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    assert_true(X509_sign(x, signer, md) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    assert_true(n > 0);
    uint8_t *copy = tt_exact_copy(der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    X509_free(x);
    return copy;
}

static void test_generated_odd_names(void **state)
{
    (void)state;
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ed);
    assert_non_null(ec);
    struct kp_cert_info c;
    size_t len;

    /* Subject: CN with a NUL byte, O in UTF-8, C with 200 x "é" (400
     * bytes) to overflow every buffer at a character boundary. */
    X509_NAME *subj = X509_NAME_new();
    assert_non_null(subj);
    add_name(subj, NID_commonName, "zoom\0evil.example", 17);
    add_name(subj, NID_organizationName, "Zoom Vid\xc3\xa9o Communications", 26);
    static char long_c[401];
    for (int i = 0; i < 200; i++) {
        memcpy(long_c + 2 * i, "\xc3\xa9", 2);
    }
    add_name(subj, NID_countryName, long_c, 400);

    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    assert_non_null(gens);
    add_san_dns(gens, "a,b c\x01");
    add_san_ip(gens, (const uint8_t *)"\xc0\x00\x02\x01", 4);
    add_san_ip(gens, (const uint8_t *)"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    add_san_ip(gens, (const uint8_t *)"\x0a\0\0\0\xff\0\0\0", 8); /* not an address */
    char name[64];
    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof name, "host-%02d.example.com", i);
        add_san_dns(gens, name);
    }

    uint8_t *der = make_cert(ed, ec, subj, "Other CA", gens, -5, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_terminated(&c);
    assert_memory_equal(c.subject_cn, "zoom?evil.example", 18);
    assert_string_equal(c.subject_o, "Zoom Vid\xc3\xa9o Communications");
    /* 127 bytes would split an "é": cut to 126. */
    assert_int_equal(strlen(c.subject_c), 126);
    assert_memory_equal(c.subject_c, long_c, 126);
    assert_string_equal(c.issuer_cn, "Other CA");
    assert_string_equal(c.issuer_dn, "CN=Other CA");
    /* RFC 2253 order is last RDN first: the escaped 400-byte C fills the
     * buffer and the rest is cut. */
    assert_memory_equal(c.subject_dn, "C=\\C3\\A9\\C3\\A9", 14);
    assert_int_equal(strlen(c.subject_dn), sizeof c.subject_dn - 1);
    /* SANs: the odd DNS name sanitised, IPs as text, the 8-byte value left
     * out, then host names until 512 bytes are used. */
    assert_memory_equal(c.san, "a?b?c?,192.0.2.1,2001:db8::1,host-00.example.com,", 49);
    assert_int_equal(c.san_dns_total, 61);
    assert_int_equal(c.san_ip_total, 3);
    assert_true(c.san_truncated);
    assert_true(strlen(c.san) < sizeof c.san);
    assert_true(strlen(c.san) > sizeof c.san - 21);
    assert_int_not_equal(c.san[strlen(c.san) - 1], ',');
    assert_non_null(strstr(c.san, ",host-22.example.com"));
    assert_null(strstr(c.san, "host-59"));
    assert_string_equal(c.serial, "-05");
    assert_string_equal(c.key_type, "Ed25519");
    assert_int_equal(c.key_bits, EVP_PKEY_get_bits(ed));
    assert_false(c.self_signed);
    assert_string_equal(c.not_before, "2024-02-29T12:00:00Z");
    assert_string_equal(c.not_after, "2030-12-31T23:59:59Z");
    assert_int_equal(c.version, 3);
    free(der);
    sk_GENERAL_NAME_pop_free(gens, GENERAL_NAME_free);
    X509_NAME_free(subj);

    /* Self-issued and self-signed (EC), then self-issued but signed by
     * another key. */
    subj = X509_NAME_new();
    assert_non_null(subj);
    add_name(subj, NID_commonName, "WebRTC", 6);
    add_name(subj, NID_organizationName, "Vid\xc3\xa9o\0x", 8);
    der = make_cert(ec, ec, subj, NULL, NULL, 1, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    /* RFC 2253 form escapes the NUL and the bytes above 0x7f. */
    assert_string_equal(c.subject_dn, "O=Vid\\C3\\A9o\\00x,CN=WebRTC");
    assert_string_equal(c.issuer_dn, c.subject_dn);
    assert_string_equal(c.subject_o, "Vid\xc3\xa9o?x");
    assert_true(c.self_signed);
    assert_true(c.self_signature_ok);
    assert_string_equal(c.key_type, "EC");
    assert_string_equal(c.key_curve, "prime256v1");
    assert_int_equal(c.san_dns_total, 0);
    free(der);
    der = make_cert(ec, ed, subj, NULL, NULL, 1, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_true(c.self_signed);
    assert_false(c.self_signature_ok);
    free(der);
    X509_NAME_free(subj);

    EVP_PKEY_free(ed);
    EVP_PKEY_free(ec);
}

/* The hostile-input checks on generated certificates too, so that they run
 * without ../shared/pcaps: an RSA one with SANs, an EC self-signed one. */
static void test_hostile_der_generated(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(rsa);
    assert_non_null(ec);
    X509_NAME *subj = X509_NAME_new();
    assert_non_null(subj);
    add_name(subj, NID_commonName, "hostile.example", 15);
    add_name(subj, NID_organizationName, "Example", 7);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    assert_non_null(gens);
    add_san_dns(gens, "hostile.example");
    add_san_ip(gens, (const uint8_t *)"\xc0\x00\x02\x01", 4);
    struct kp_cert_info c;
    size_t len;
    uint8_t *der = make_cert(rsa, ec, subj, "Example CA", gens, 7, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_string_equal(c.san, "hostile.example,192.0.2.1");
    check_hostile_der(der, len);
    free(der);
    der = make_cert(ec, ec, subj, NULL, NULL, 8, &len);
    assert_int_equal(kp_x509_summarize(der, len, &c), KP_RES_OK);
    assert_true(c.self_signature_ok);
    check_hostile_der(der, len);
    free(der);
    sk_GENERAL_NAME_pop_free(gens, GENERAL_NAME_free);
    X509_NAME_free(subj);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taleo_chain),
        cmocka_unit_test(test_ecdsa_and_webrtc),
        cmocka_unit_test(test_hostile_der),
        cmocka_unit_test(test_bad_input_and_error_queue),
        cmocka_unit_test(test_generated_odd_names),
        cmocka_unit_test(test_hostile_der_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
