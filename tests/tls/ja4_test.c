/* Unit tests of analyze/ja4.c against the FoxIO JA4 specification
 * (technical_details/JA4.md: its worked example and ALPN rules) and against
 * Suricata 7.0.10 (bookworm-backports, app-layer tls ja4-fingerprints: yes)
 * on ClientHellos cut from ../shared/pcaps at test time (see
 * tls_test_util.h). */
#include "tls_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ja4.h"

/* The ClientHello of JA4.md's example: 15 ciphers, 16 extensions, ALPN h2,
 * TLS 1.3, 8 signature algorithms. */
static const uint16_t spec_ciphers[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
                                        0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                                        0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
static const uint16_t spec_exts[] = {0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017,
                                     0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
                                     0xff01, 0x000b, 0x000a, 0x0015};
static const uint16_t spec_sigalgs[] = {0x0403, 0x0804, 0x0401, 0x0503,
                                        0x0805, 0x0501, 0x0806, 0x0601};

#define COPY_LIST(dst, n, total, src)                                                   \
    do {                                                                               \
        memcpy((dst), (src), sizeof(src));                                             \
        (n) = (total) = sizeof(src) / sizeof((src)[0]);                                \
    } while (0)

static void spec_hello(struct kp_tls_client_hello *ch)
{
    memset(ch, 0, sizeof *ch);
    ch->legacy_version = 0x0303;
    COPY_LIST(ch->ciphers, ch->n_ciphers, ch->ciphers_total, spec_ciphers);
    COPY_LIST(ch->exts, ch->n_exts, ch->exts_total, spec_exts);
    COPY_LIST(ch->sigalgs, ch->n_sigalgs, ch->sigalgs_total, spec_sigalgs);
    ch->has_sigalgs = true;
    ch->has_supported_versions = true;
    ch->versions[0] = 0x0304;
    ch->versions[1] = 0x0303;
    ch->n_versions = ch->versions_total = 2;
    ch->has_sni = true;
    ch->sni = kp_rd_make((const uint8_t *)"example.com", 11);
    ch->has_alpn = true;
    ch->alpn[0] = kp_rd_make((const uint8_t *)"h2", 2);
    ch->n_alpn = ch->alpn_total = 1;
}

static void assert_ja4(const struct kp_tls_client_hello *ch, char proto, const char *want)
{
    char out[KP_JA4_LEN + 1];
    memset(out, 'X', sizeof out);
    assert_true(kp_ja4(ch, proto, out));
    assert_string_equal(out, want);
}

static void test_spec_example(void **state)
{
    (void)state;
    struct kp_tls_client_hello ch;
    spec_hello(&ch);
    assert_ja4(&ch, 't', "t13d1516h2_8daaf6152771_e5627efa2ab1");

    char raw[1024];
    size_t n = kp_ja4_raw(&ch, 't', raw, sizeof raw);
    static const char want_raw[] =
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
        "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,"
        "0804,0401,0503,0805,0501,0806,0601";
    assert_string_equal(raw, want_raw);
    assert_int_equal(n, strlen(want_raw));
    /* snprintf-like truncation. */
    char small[12];
    assert_int_equal(kp_ja4_raw(&ch, 't', small, sizeof small), strlen(want_raw));
    assert_string_equal(small, "t13d1516h2_");
    assert_int_equal(kp_ja4_raw(&ch, 't', NULL, 0), strlen(want_raw));

    /* JA4.md: without signature algorithms the string has no '_' part:
     * "0005,...,ff01 = 6d807ffa2a79". */
    ch.n_sigalgs = ch.sigalgs_total = 0;
    ch.has_sigalgs = false;
    assert_ja4(&ch, 't', "t13d1516h2_8daaf6152771_6d807ffa2a79");
}

static void set_alpn(struct kp_tls_client_hello *ch, const void *p, size_t n)
{
    ch->has_alpn = true;
    ch->alpn[0] = kp_rd_make(p, n);
    ch->n_alpn = ch->alpn_total = 1;
}

/* JA4.md "ALPN Extension Value", including its hex examples; nDPI issue
 * 2914 got http/1.1 wrong. */
static void test_alpn(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *want;
    } cases[] = {
        {"h2", 2, "h2"},
        {"http/1.1", 8, "h1"},
        {"h3", 2, "h3"},
        {"spdy/3.1", 8, "s1"},
        {"x", 1, "xx"},
        {"7", 1, "77"},
        {"\xab", 1, "ab"},
        {"\xab\xcd", 2, "ad"},
        {"\x30\xab", 2, "3b"},
        {"\x30\x31\xab\xcd", 4, "3d"},
        {"\x30\xab\xcd\x31", 4, "01"},
        {"/x", 2, "28"},
        {"x/", 2, "7f"},
        {"\x00\x00", 2, "00"},
        {"\xff", 1, "ff"},
        {"Z9", 2, "Z9"},
        {"a\xc3\xa9", 3, "69"},
    };
    struct kp_tls_client_hello ch;
    char out[KP_JA4_LEN + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spec_hello(&ch);
        set_alpn(&ch, cases[i].bytes, cases[i].n);
        assert_true(kp_ja4(&ch, 't', out));
        if (memcmp(out + 8, cases[i].want, 2) != 0) {
            fail_msg("ALPN case %zu: got %.2s want %s", i, out + 8, cases[i].want);
        }
        /* The hashes do not depend on the ALPN value. */
        assert_string_equal(out + 10, "_8daaf6152771_e5627efa2ab1");
    }
    /* No ALPN, an empty list, an empty first value: "00"; only the first
     * value counts. */
    spec_hello(&ch);
    ch.has_alpn = false;
    ch.n_alpn = ch.alpn_total = 0;
    ch.exts[3] = 0x0017; /* keep the counts honest: ALPN gone */
    ch.exts[5] = 0x0018;
    assert_true(kp_ja4(&ch, 't', out));
    assert_memory_equal(out, "t13d151600_", 11);
    spec_hello(&ch);
    ch.n_alpn = ch.alpn_total = 0;
    assert_true(kp_ja4(&ch, 't', out));
    assert_memory_equal(out + 8, "00", 2);
    spec_hello(&ch);
    set_alpn(&ch, "", 0);
    assert_true(kp_ja4(&ch, 't', out));
    assert_memory_equal(out + 8, "00", 2);
    spec_hello(&ch);
    ch.alpn[0] = kp_rd_make((const uint8_t *)"http/1.1", 8);
    ch.alpn[1] = kp_rd_make((const uint8_t *)"h2", 2);
    ch.n_alpn = ch.alpn_total = 2;
    assert_true(kp_ja4(&ch, 't', out));
    assert_memory_equal(out + 8, "h1", 2);
}

static void test_versions(void **state)
{
    (void)state;
    static const struct {
        uint16_t legacy;
        uint16_t sv[4];
        size_t n_sv;
        const char *want;
    } cases[] = {
        {0x0303, {0}, 0, "12"},
        {0x0301, {0}, 0, "10"},
        {0x0302, {0}, 0, "11"},
        {0x0300, {0}, 0, "s3"},
        {0x0002, {0}, 0, "s2"},
        {0x0305, {0}, 0, "00"},
        {0xfeff, {0}, 0, "d1"},
        {0xfefd, {0}, 0, "d2"},
        {0x0303, {0x0304}, 1, "13"},
        {0x0303, {0x5a5a, 0x0303, 0x0304}, 3, "13"},
        {0x0303, {0x0302, 0x0303}, 2, "12"},
        /* Only GREASE: the ClientHello's own version. */
        {0x0301, {0x3a3a}, 1, "10"},
        /* A draft number is the highest value: unknown (Suricata agrees, see
         * tls13_arkime below). */
        {0x0303, {0x7f12, 0x0303}, 2, "00"},
        /* DTLS counts down: 1.3 (0xfefc) is above 1.2 (0xfefd). */
        {0xfefd, {0xfefd, 0xfefc}, 2, "d3"},
        {0xfefd, {0xfefc, 0xfeff, 0xfefd}, 3, "d3"},
        {0xfeff, {0xfeff, 0xfefd}, 2, "d2"},
    };
    struct kp_tls_client_hello ch;
    char out[KP_JA4_LEN + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spec_hello(&ch);
        ch.legacy_version = cases[i].legacy;
        ch.has_supported_versions = cases[i].n_sv > 0;
        memcpy(ch.versions, cases[i].sv, sizeof cases[i].sv);
        ch.n_versions = ch.versions_total = cases[i].n_sv;
        assert_true(kp_ja4(&ch, 't', out));
        if (memcmp(out + 1, cases[i].want, 2) != 0) {
            fail_msg("version case %zu: got %.2s want %s", i, out + 1, cases[i].want);
        }
    }
    /* Protocol letter. */
    spec_hello(&ch);
    assert_true(kp_ja4(&ch, 'q', out));
    assert_int_equal(out[0], 'q');
    assert_true(kp_ja4(&ch, 'd', out));
    assert_int_equal(out[0], 'd');
    assert_true(kp_ja4(&ch, 'x', out));
    assert_int_equal(out[0], 't');
    /* SNI letter follows the extension, not the name. */
    ch.has_sni = false;
    assert_true(kp_ja4(&ch, 't', out));
    assert_int_equal(out[3], 'i');
}

/* GREASE anywhere changes nothing. */
static void test_grease(void **state)
{
    (void)state;
    struct kp_tls_client_hello ch;
    spec_hello(&ch);
    memmove(ch.ciphers + 1, ch.ciphers, ch.n_ciphers * 2);
    ch.ciphers[0] = 0x0a0a;
    ch.ciphers[ch.n_ciphers + 1] = 0xfafa;
    ch.n_ciphers = ch.ciphers_total = ch.n_ciphers + 2;
    memmove(ch.exts + 1, ch.exts, ch.n_exts * 2);
    ch.exts[0] = 0x2a2a;
    ch.exts[ch.n_exts + 1] = 0x9a9a;
    ch.n_exts = ch.exts_total = ch.n_exts + 2;
    memmove(ch.sigalgs + 1, ch.sigalgs, ch.n_sigalgs * 2);
    ch.sigalgs[0] = 0xdada;
    ch.n_sigalgs = ch.sigalgs_total = ch.n_sigalgs + 1;
    ch.versions[2] = ch.versions[1];
    ch.versions[1] = ch.versions[0];
    ch.versions[0] = 0xeaea;
    ch.n_versions = ch.versions_total = 3;
    assert_ja4(&ch, 't', "t13d1516h2_8daaf6152771_e5627efa2ab1");
    /* SCSV and reserved values are not GREASE: they count. */
    ch.ciphers[ch.n_ciphers] = 0x00ff;
    ch.n_ciphers = ++ch.ciphers_total;
    char out[KP_JA4_LEN + 1];
    assert_true(kp_ja4(&ch, 't', out));
    assert_memory_equal(out, "t13d1616h2_", 11);
    assert_string_not_equal(out + 11, "8daaf6152771_e5627efa2ab1");
}

static void test_counts_and_empty(void **state)
{
    (void)state;
    struct kp_tls_client_hello ch;
    char out[KP_JA4_LEN + 1];
    spec_hello(&ch);
    for (size_t i = 0; i < 150; i++) {
        ch.ciphers[i] = (uint16_t)(0x1000 + i);
    }
    ch.n_ciphers = ch.ciphers_total = 150;
    for (size_t i = 0; i < KP_TLS_MAX_EXTS; i++) {
        ch.exts[i] = (uint16_t)(0x7000 + i);
    }
    ch.n_exts = ch.exts_total = KP_TLS_MAX_EXTS;
    assert_true(kp_ja4(&ch, 't', out));
    assert_memory_equal(out, "t13d9964h2_", 11);
    /* Capped lists: a fingerprint is still written, flagged inexact. */
    ch.exts_total = 120;
    assert_false(kp_ja4(&ch, 't', out));
    assert_memory_equal(out, "t13d9999h2_", 11);
    assert_int_equal(strlen(out), KP_JA4_LEN);

    /* No ciphers, no extensions: twelve zeros each. */
    memset(&ch, 0, sizeof ch);
    ch.legacy_version = 0x0303;
    assert_ja4(&ch, 't', "t12i000000_000000000000_000000000000");
    /* Only SNI and ALPN: the sorted list is empty. */
    ch.exts[0] = 0x0000;
    ch.exts[1] = 0x0010;
    ch.n_exts = ch.exts_total = 2;
    ch.has_sni = true;
    set_alpn(&ch, "h2", 2);
    ch.ciphers[0] = 0x1301;
    ch.n_ciphers = ch.ciphers_total = 1;
    /* 0f2cb44170f4: SHA-256("1301") truncated, from Python's hashlib. */
    assert_ja4(&ch, 't', "t12d0102h2_0f2cb44170f4_000000000000");
}

/* ClientHellos from real captures; expected values are Suricata 7.0.10's
 * eve.json "ja4" for the same capture (TLS), or, for DTLS (which Suricata
 * does not parse), a Python transcription of JA4.md that reproduces all the
 * Suricata values above. */
static const struct {
    const char *file;
    size_t nth;
    bool dtls;
    const char *ja4;
} real[] = {
    /* tls13_curl_arkime.pcap */
    {"tls13_curl_arkime_client.hex", 0, false, "t13d0413h2_16476d049b0b_ffceb19bae65"},
    /* tls12_zeek.pcap */
    {"tls12_zeek_client.hex", 0, false, "t12i800500_15c493246000_3eafcbe19126"},
    /* tls13_kyber_chrome_zeek.pcap: Chrome 125 */
    {"tls13_kyber_chrome_zeek_client.hex", 0, false, "t13d1516h2_8daaf6152771_02713d6af862"},
    /* tls13_hrr_zeek.pcap: both ClientHellos have the same fingerprint */
    {"tls13_hrr_zeek_client.hex", 0, false, "t13i040900_16476d049b0b_78f1d400d464"},
    {"tls13_hrr_zeek_client.hex", 1, false, "t13i040900_16476d049b0b_78f1d400d464"},
    /* tls13_ech_zeek.pcap */
    {"tls13_ech_zeek_client.hex", 0, false, "t13d1517h2_8daaf6152771_b1ff8ab2d16f"},
    /* tls13_arkime.pcap: draft 18 is the highest version: "00" */
    {"tls13_arkime_client.hex", 0, false, "t00d1815h2_a30347de7a75_2a77702ff8e0"},
    /* tls_client_certificate_zeek.pcap */
    {"tls_client_certificate_zeek_client.hex", 0, false, "t13d1715h2_5b57614c22b0_3d5424432f57"},
    /* tls_dhe_zeek.pcap */
    {"tls_dhe_zeek_client.hex", 0, false, "t12i020300_ea1f27bcdcc2_15cf763851c4"},
    /* tls13_psk_zeek.pcap */
    {"tls13_psk_zeek_client.hex", 0, false, "t13i571000_131602cb7446_a11995863d32"},
    /* tls_ocsp_stapling_zeek.pcap and skype_ndpi_hist.pcap: TLS 1.0, no
     * signature algorithms.  Suricata 7.0.10 says ..._ec32d1e6a5c0 and
     * ..._d2e2adf7177b: it hashes a trailing '_' (see test_suricata_underscore)
     * where JA4.md says "the string ends without an underscore" (FoxIO ja4
     * issue 146; their Zeek script was fixed the same way, PR 149). */
    {"tls_ocsp_stapling_zeek_client.hex", 0, false, "t10i520500_80f1d282cb34_1145ce3ea6e0"},
    {"skype_ndpi_hist_client.hex", 0, false, "t10i230000_9b3242b70dbd_000000000000"},
    /* dtls_srtp_ndpi.pcap frame 3 (no peer: Python transcription) */
    {"dtls_srtp_ndpi_ch.hex", 0, true, "dd2i160700_7c8d7d5e37b2_ea2cef574603"},
    /* dtls_srtp_ndpi.pcap frame 9, DTLS 1.3 (idem) */
    {"dtls13_ndpi_ch.hex", 0, true, "dd3i270700_991e33d7eb74_f383c1703cfa"},
    /* meet_stun_dtls_srtp_ndpi.pcapng frame 9, Chrome to Google Meet (idem) */
    {"meet_dtls_client.hex", 0, true, "dd2i110700_c45550529adf_d9dd6182da81"},
};

struct nth_ch {
    size_t want;
    size_t seen;
    uint8_t *body;
    size_t len;
};

static void grab_ch(uint8_t type, struct kp_rd body, void *user)
{
    struct nth_ch *x = user;
    if (type == KP_TLS_HS_CLIENT_HELLO && x->seen++ == x->want) {
        x->body = tt_exact_copy(body.p, body.len);
        x->len = body.len;
    }
}

static void test_real_captures(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t scratch[TT_SCRATCH];
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        size_t len;
        uint8_t *p = tt_load_hex(real[i].file, &len);
        struct kp_rd body;
        struct nth_ch x = {real[i].nth, 0, NULL, 0};
        if (real[i].dtls) {
            assert_true(tt_dtls_message(p, len, KP_TLS_HS_CLIENT_HELLO, &body));
        } else {
            struct kp_tls_scan_state st;
            memset(&st, 0, sizeof st);
            st.version = KP_TLS_V_TLS13; /* walk past the compatibility CCS */
            struct kp_rd s = kp_rd_make(p, len);
            assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, grab_ch, &x),
                             KP_RES_OK);
            assert_non_null(x.body);
            body = kp_rd_make(x.body, x.len);
        }
        struct kp_tls_client_hello ch;
        assert_int_equal(kp_tls_parse_client_hello(&ch, body, real[i].dtls), KP_RES_OK);
        char out[KP_JA4_LEN + 1];
        assert_true(kp_ja4(&ch, real[i].dtls ? 'd' : 't', out));
        if (strcmp(out, real[i].ja4) != 0) {
            fail_msg("%s #%zu: got %s want %s", real[i].file, real[i].nth, out, real[i].ja4);
        }
        free(x.body);
        free(p);
    }
}

/* The only disagreements with Suricata 7.0.10 over every ClientHello in
 * ../shared/pcaps are hellos without signature algorithms; its value is the
 * hash of our extension string plus a trailing '_'.  Pin that explanation. */
static void test_suricata_underscore(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t scratch[TT_SCRATCH];
    size_t len;
    uint8_t *p = tt_load_hex("tls_ocsp_stapling_zeek_client.hex", &len);
    struct nth_ch x = {0, 0, NULL, 0};
    struct kp_tls_scan_state st;
    memset(&st, 0, sizeof st);
    struct kp_rd s = kp_rd_make(p, len);
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, grab_ch, &x), KP_RES_OK);
    struct kp_tls_client_hello ch;
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(x.body, x.len), false), KP_RES_OK);
    assert_int_equal(ch.n_sigalgs, 0);
    char raw[512];
    size_t n = kp_ja4_raw(&ch, 't', raw, sizeof raw);
    assert_true(n < sizeof raw - 1);
    /* The part after the second '_' is the extension list. */
    char *c = strchr(strchr(raw, '_') + 1, '_') + 1;
    assert_null(strchr(c, '_'));
    strcat(raw, "_");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(c, strlen(c), md, &mdlen, EVP_sha256(), NULL), 1);
    char hex[13];
    for (int i = 0; i < 6; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(hex, "ec32d1e6a5c0");
    free(x.body);
    free(p);
}

/* And with no extension at all (skype_ndpi_hist.pcap above), Suricata's
 * value is SHA-256("_"), where JA4.md says twelve zeros. */
static void test_suricata_underscore_empty(void **state)
{
    (void)state;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[13];
    assert_int_equal(EVP_Digest("_", 1, md, &mdlen, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 6; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(hex, "d2e2adf7177b");
    struct kp_tls_client_hello ch;
    memset(&ch, 0, sizeof ch);
    ch.legacy_version = 0x0301;
    assert_ja4(&ch, 't', "t10i000000_000000000000_000000000000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_grease),
        cmocka_unit_test(test_counts_and_empty),
        cmocka_unit_test(test_real_captures),
        cmocka_unit_test(test_suricata_underscore),
        cmocka_unit_test(test_suricata_underscore_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
