/* Tests of keyprov's geolocation lookups (geo/geo.c) on tiny databases
 * built at test time: three from text specs by kp-mkmmdb (paths in argv,
 * see meson.build), others here with the writer API (hostile strings) or by
 * damaging a good file. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "geo.h"
#include "mmdb_write.h"

/* Fixture paths from argv: test code, not library code. */
static const char *fx_country; /* ip-location-db layout, no ::ffff:0:0/96 alias */
static const char *fx_geolite; /* GeoLite2 layout */
static const char *fx_asn;     /* GeoLite2-ASN layout, from a spec */
static const char *fx_asn_csv; /* GeoLite2-ASN layout, from an ASN CSV */

struct fx {
    char dir[256];
    unsigned seq;
};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *t = getenv("TMPDIR");
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/kp-geo-test.XXXXXX", t != NULL && *t ? t : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] != '.') {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
                if (unlink(p) != 0) {
                    rmdir(p);
                }
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void tmp_path(struct fx *f, char *buf, size_t len, const char *ext)
{
    snprintf(buf, len, "%s/g%u%s", f->dir, f->seq++, ext);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long sz = ftell(fp);
    assert_true(sz > 0);
    rewind(fp);
    uint8_t *p = malloc((size_t)sz);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return p;
}

static struct kp_geo *open_ok(const char *country, const char *asn)
{
    struct kp_geo *geo = NULL;
    char err[512] = "";
    int rc = kp_geo_open(&geo, country, asn, err, sizeof(err));
    if (rc != KP_OK) {
        fail_msg("kp_geo_open: %d %s", rc, err);
    }
    assert_non_null(geo);
    return geo;
}

static struct kp_geo_info look(const struct kp_geo *geo, const char *ip)
{
    struct kp_geo_info gi;
    memset(&gi, 0x5a, sizeof(gi));
    int rc = kp_geo_lookup(geo, ip, &gi);
    if (rc != KP_OK) {
        fail_msg("kp_geo_lookup(%s): %d", ip, rc);
    }
    return gi;
}

/* --------------------------------------------------------------- tests */

static void test_country_code_layout(void **state)
{
    (void)state;
    struct kp_geo *geo = open_ok(fx_country, NULL);
    struct kp_geo_info gi;

    gi = look(geo, "52.81.151.250");
    assert_string_equal(gi.country, "CN");
    assert_int_equal(gi.asn, 0);
    assert_string_equal(gi.as_org, "");
    assert_string_equal(look(geo, "170.114.128.1").country, "US");
    assert_string_equal(look(geo, "3.7.35.1").country, "IN");
    assert_string_equal(look(geo, "13.107.64.1").country, "US");
    assert_string_equal(look(geo, "142.250.82.1").country, "US");
    assert_string_equal(look(geo, "2001:4860:4864:5::1").country, "US");
    assert_string_equal(look(geo, "2400:cb00:2048::1").country, "SG");
    assert_string_equal(look(geo, "2400:cb00:2049::1").country, "AU");
    assert_string_equal(look(geo, "10.1.0.1").country, "LU"); /* normalised */
    assert_string_equal(look(geo, "10.2.0.1").country, "ZZ");
    assert_string_equal(look(geo, "192.0.2.1").country, "");     /* "USA" ignored */
    assert_string_equal(look(geo, "198.51.100.1").country, "");  /* "u1" ignored */
    assert_string_equal(look(geo, "8.8.8.8").country, "");
    assert_string_equal(look(geo, "2001:db8::1").country, "");
    /* The fixture, like ip-location-db, has no ::ffff:0:0/96 alias: only
     * looking the mapped address up as IPv4 finds it. */
    assert_string_equal(look(geo, "::ffff:52.81.151.250").country, "CN");
    assert_string_equal(look(geo, "::FFFF:3.7.35.1").country, "IN");
    kp_geo_free(geo);
}

static void test_geolite_layout(void **state)
{
    (void)state;
    struct kp_geo *geo = open_ok(fx_geolite, NULL);
    assert_string_equal(look(geo, "52.81.151.250").country, "CN");
    assert_string_equal(look(geo, "::ffff:52.81.151.250").country, "CN");
    assert_string_equal(look(geo, "81.2.69.160").country, "GB");  /* registered_country */
    assert_string_equal(look(geo, "2a02:ff0::1").country, "DE");
    assert_string_equal(look(geo, "203.0.113.9").country, "JP");  /* country_code first */
    assert_string_equal(look(geo, "198.18.0.1").country, "NL");   /* "XXX" skipped */
    assert_string_equal(look(geo, "1.1.1.1").country, "");
    kp_geo_free(geo);
}

static void test_asn_layout(void **state)
{
    (void)state;
    struct kp_geo *geo = open_ok(NULL, fx_asn);
    struct kp_geo_info gi = look(geo, "52.81.151.250");
    assert_string_equal(gi.country, "");
    assert_int_equal(gi.asn, 55960);
    assert_string_equal(gi.as_org, "Beijing Guanghuan Xinwang Digital");
    gi = look(geo, "3.7.35.1");
    assert_int_equal(gi.asn, 16509);
    assert_string_equal(gi.as_org, "Amazon.com, Inc.");
    gi = look(geo, "::ffff:170.114.200.1");
    assert_int_equal(gi.asn, 30103);
    gi = look(geo, "2001:4860:4864:5::1");
    assert_int_equal(gi.asn, 15169);
    assert_string_equal(gi.as_org, "Google LLC");
    gi = look(geo, "192.0.2.1");
    assert_string_equal(gi.as_org, "Quote \"test\" and back\\slash");
    gi = look(geo, "9.9.9.9");
    assert_int_equal(gi.asn, 0);
    assert_string_equal(gi.as_org, "");
    kp_geo_free(geo);

    /* the same layout written by --asn-csv */
    geo = open_ok(NULL, fx_asn_csv);
    gi = look(geo, "2.26.200.1");
    assert_int_equal(gi.asn, 201907);
    assert_string_equal(gi.as_org, "LLC \"SPUTNIK\"");
    gi = look(geo, "1.0.0.1");
    assert_string_equal(gi.as_org, "Cloudflare, Inc.");
    assert_int_equal(look(geo, "215.0.0.1").asn, 721);
    assert_int_equal(look(geo, "214.96.0.1").asn, 749);
    assert_int_equal(look(geo, "2c0f:fff0::1").asn, 37125);
    kp_geo_free(geo);
}

static void test_both_and_addr(void **state)
{
    (void)state;
    struct kp_geo *geo = open_ok(fx_country, fx_asn);
    struct kp_geo_info gi = look(geo, "52.81.151.250");
    assert_string_equal(gi.country, "CN");
    assert_int_equal(gi.asn, 55960);

    /* the engine's entry point: struct kp_addr, IPv4 stored mapped */
    struct kp_addr a;
    memset(&a, 0, sizeof(a));
    a.b[10] = 0xff;
    a.b[11] = 0xff;
    a.b[12] = 52;
    a.b[13] = 81;
    a.b[14] = 151;
    a.b[15] = 250;
    memset(&gi, 0x5a, sizeof(gi));
    assert_int_equal(kp_geo_lookup_addr(geo, &a, &gi), KP_OK);
    assert_string_equal(gi.country, "CN");
    assert_int_equal(gi.asn, 55960);
    static const uint8_t v6[16] = {0x20, 0x01, 0x48, 0x60, 0x48, 0x64, 0, 5,
                                   0,    0,    0,    0,    0,    0,    0, 1};
    memcpy(a.b, v6, 16);
    assert_int_equal(kp_geo_lookup_addr(geo, &a, &gi), KP_OK);
    assert_string_equal(gi.country, "US");
    assert_int_equal(gi.asn, 15169);
    assert_string_equal(gi.as_org, "Google LLC");

    assert_int_equal(kp_geo_lookup_addr(geo, NULL, &gi), KP_EINVAL);
    assert_int_equal(kp_geo_lookup_addr(geo, &a, NULL), KP_EINVAL);
    /* no databases: nothing known, not an error */
    memset(&gi, 0x5a, sizeof(gi));
    assert_int_equal(kp_geo_lookup_addr(NULL, &a, &gi), KP_OK);
    assert_string_equal(gi.country, "");
    assert_int_equal(gi.asn, 0);
    kp_geo_free(geo);

    geo = open_ok(NULL, NULL);
    gi = look(geo, "52.81.151.250");
    assert_string_equal(gi.country, "");
    char buf[64];
    assert_int_equal(kp_geo_describe(geo, 0, buf, sizeof(buf)), KP_EINVAL);
    kp_geo_free(geo);
    kp_geo_free(NULL);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    struct kp_geo *geo = open_ok(fx_country, fx_asn);
    struct kp_geo_info gi;
    static const char *const bad[] = {"",          "not-an-ip",   "1.2.3",      "1.2.3.4.5",
                                      "256.1.1.1", "1.2.3.4/24",  "fe80::1%eth0", "::ffff:1.2.3",
                                      " 1.2.3.4",  "2001:db8:::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&gi, 0x5a, sizeof(gi));
        assert_int_equal(kp_geo_lookup(geo, bad[i], &gi), KP_EINVAL);
        assert_string_equal(gi.country, "");
        assert_int_equal(gi.asn, 0);
        assert_string_equal(gi.as_org, "");
    }
    char longip[200];
    memset(longip, '1', sizeof(longip) - 1);
    longip[sizeof(longip) - 1] = '\0';
    assert_int_equal(kp_geo_lookup(geo, longip, &gi), KP_EINVAL);
    assert_int_equal(kp_geo_lookup(geo, NULL, &gi), KP_EINVAL);
    assert_int_equal(kp_geo_lookup(geo, "1.2.3.4", NULL), KP_EINVAL);
    kp_geo_free(geo);
}

/* Records the tests cannot write as text: odd types, long and hostile
 * strings.  Built with the writer API. */
static void test_hostile_strings(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    struct kp_mmdbw_meta m;
    char path[512];
    char err[512];
    uint8_t a[16];
    unsigned plen;

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);

    /* 300 bytes of 2-byte characters: cut at a character boundary */
    char org[400];
    size_t n = 0;
    org[n++] = 'x'; /* odd start, so the 127-byte limit falls inside a character */
    while (n < 300) {
        org[n++] = (char)0xc3;
        org[n++] = (char)0xa9; /* é */
    }
    assert_int_equal(kp_mmdbw_rec_set_u16(r, "autonomous_system_number", 64512), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "autonomous_system_organization", org, n), KP_OK);
    assert_int_equal(kp_mmdbw_parse_net("10.0.0.0/24", 11, a, &plen, NULL), KP_OK);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);

    /* terminal escapes and line breaks from a hostile file */
    kp_mmdbw_rec_clear(r);
    static const char esc[] = "Evil\x1b[2J\r\nCorp\x7f";
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "autonomous_system_number", 4294967295u), KP_OK);
    assert_int_equal(
        kp_mmdbw_rec_set_str(r, "autonomous_system_organization", esc, sizeof(esc) - 1), KP_OK);
    assert_int_equal(kp_mmdbw_parse_net("10.0.1.0/24", 11, a, &plen, NULL), KP_OK);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);

    /* wrong types: a string ASN, a map organisation, a map country_code */
    kp_mmdbw_rec_clear(r);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "autonomous_system_number", "15169", 5), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "autonomous_system_organization.en", "x", 1), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "country_code.iso_code", "US", 2), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "country", "US", 2), KP_OK);
    assert_int_equal(kp_mmdbw_parse_net("10.0.2.0/24", 11, a, &plen, NULL), KP_OK);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);

    /* an embedded NUL ends the text */
    kp_mmdbw_rec_clear(r);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "autonomous_system_organization", "ab\0cd", 5), KP_OK);
    assert_int_equal(kp_mmdbw_parse_net("10.0.3.0/24", 11, a, &plen, NULL), KP_OK);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);

    memset(&m, 0, sizeof(m));
    m.database_type = "Evil\x1b]0;title\x07Type";
    m.description_en = "line one\nline two";
    m.build_epoch = 1781654400;
    tmp_path(f, path, sizeof(path), ".mmdb");
    assert_int_equal(kp_mmdbw_write_file(w, &m, path, NULL, err, sizeof(err)), KP_OK);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);

    struct kp_geo *geo = open_ok(path, path);
    struct kp_geo_info gi = look(geo, "10.0.0.1");
    assert_int_equal(gi.asn, 64512); /* uint16 is accepted */
    size_t len = strlen(gi.as_org);
    assert_true(len <= 127);
    assert_int_equal(len, 127); /* 'x' + 63 × 2 bytes */
    assert_int_equal((unsigned char)gi.as_org[len - 1], 0xa9);

    gi = look(geo, "10.0.1.1");
    assert_int_equal(gi.asn, 4294967295u);
    assert_string_equal(gi.as_org, "Evil [2J  Corp ");

    gi = look(geo, "10.0.2.1");
    assert_int_equal(gi.asn, 0);
    assert_string_equal(gi.as_org, "");
    assert_string_equal(gi.country, "");

    gi = look(geo, "10.0.3.1");
    assert_string_equal(gi.as_org, "ab");

    char buf[256];
    assert_int_equal(kp_geo_describe(geo, 1, buf, sizeof(buf)), KP_OK);
    assert_string_equal(buf, "asn: line one line two, built 2026-06-17 "
                             "(database_type \"Evil ]0;title Type\")");
    kp_geo_free(geo);
}

static void test_describe(void **state)
{
    struct fx *f = *state;
    char buf[512];
    struct kp_geo *geo = open_ok(fx_country, fx_asn);

    assert_int_equal(kp_geo_describe(geo, 0, buf, sizeof(buf)), KP_OK);
    assert_string_equal(buf, "country: keyprov test country (ip-location-db layout), built "
                             "2026-06-17 (database_type \"kp-test-country\")");
    assert_int_equal(kp_geo_describe(geo, 1, buf, sizeof(buf)), KP_OK);
    assert_string_equal(buf,
                        "asn: keyprov test ASN, built 2026-06-17 (database_type \"kp-test-ASN\")");
    /* truncation is safe */
    assert_int_equal(kp_geo_describe(geo, 1, buf, 10), KP_OK);
    assert_string_equal(buf, "asn: keyp");
    assert_int_equal(kp_geo_describe(geo, 2, buf, sizeof(buf)), KP_EINVAL);
    assert_string_equal(buf, "");
    assert_int_equal(kp_geo_describe(geo, -1, buf, sizeof(buf)), KP_EINVAL);
    assert_int_equal(kp_geo_describe(geo, 0, NULL, 10), KP_EINVAL);
    assert_int_equal(kp_geo_describe(geo, 0, buf, 0), KP_EINVAL);
    assert_int_equal(kp_geo_describe(NULL, 0, buf, sizeof(buf)), KP_EINVAL);
    kp_geo_free(geo);

    geo = open_ok(NULL, fx_asn);
    assert_int_equal(kp_geo_describe(geo, 0, buf, sizeof(buf)), KP_EINVAL);
    assert_int_equal(kp_geo_describe(geo, 1, buf, sizeof(buf)), KP_OK);
    kp_geo_free(geo);

    /* no description: the file is named instead */
    struct kp_mmdbw *w;
    struct kp_mmdbw_meta m;
    char path[512];
    char err[256];
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    memset(&m, 0, sizeof(m));
    m.database_type = "country ipvAll";
    m.build_epoch = 1781725900; /* 2026-06-17 19:51:40 UTC */
    tmp_path(f, path, sizeof(path), ".mmdb");
    assert_int_equal(kp_mmdbw_write_file(w, &m, path, NULL, err, sizeof(err)), KP_OK);
    kp_mmdbw_free(w);
    geo = open_ok(path, NULL);
    assert_int_equal(kp_geo_describe(geo, 0, buf, sizeof(buf)), KP_OK);
    char want[700];
    snprintf(want, sizeof(want), "country: %s, built 2026-06-17 (database_type \"country ipvAll\")",
             path);
    assert_string_equal(buf, want);
    kp_geo_free(geo);
}

static void expect_open_error(const char *country, const char *asn, int want_rc,
                              const char *want_path, const char *want_text)
{
    struct kp_geo *geo = (struct kp_geo *)(uintptr_t)1;
    char err[512] = "";
    int rc = kp_geo_open(&geo, country, asn, err, sizeof(err));
    if (rc != want_rc) {
        fail_msg("kp_geo_open(%s, %s) = %d, want %d (%s)", country ? country : "NULL",
                 asn ? asn : "NULL", rc, want_rc, err);
    }
    assert_null(geo);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "geo: %s: ", want_path);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want_text) == NULL) {
        fail_msg("message '%s', want '%s...%s'", err, prefix, want_text);
    }
    assert_null(strchr(err, '\n'));
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    char missing[512];
    char text[512];
    char empty[512];
    char trunc[512];
    char dir[512];

    tmp_path(f, missing, sizeof(missing), ".mmdb");
    expect_open_error(missing, NULL, KP_EIO, missing, "cannot open (No such file or directory)");

    tmp_path(f, text, sizeof(text), ".mmdb");
    static const char hello[] = "# not a database\n10.0.0.0/8 country_code=US\n";
    write_file(text, hello, sizeof(hello) - 1);
    expect_open_error(text, NULL, KP_EFORMAT, text, "not a MaxMind DB file (invalid metadata)");

    tmp_path(f, empty, sizeof(empty), ".mmdb");
    write_file(empty, "", 0);
    expect_open_error(empty, NULL, KP_EFORMAT, empty, "empty file (0 bytes)");

    size_t n;
    uint8_t *good = read_file(fx_asn, &n);
    tmp_path(f, trunc, sizeof(trunc), ".mmdb");
    write_file(trunc, good, n / 2);
    expect_open_error(trunc, NULL, KP_EFORMAT, trunc, "not a MaxMind DB file");
    free(good);

    tmp_path(f, dir, sizeof(dir), ".d");
    assert_int_equal(mkdir(dir, 0700), 0);
    expect_open_error(dir, NULL, KP_EIO, dir, "is a directory");
    expect_open_error("/dev/null", NULL, KP_EIO, "/dev/null", "not a regular file");

    /* the failing one is named, whichever it is */
    expect_open_error(fx_country, text, KP_EFORMAT, text, "not a MaxMind DB file");
    expect_open_error(missing, fx_asn, KP_EIO, missing, "cannot open");

    assert_int_equal(kp_geo_open(NULL, fx_country, NULL, NULL, 0), KP_EINVAL);
    struct kp_geo *geo = NULL;
    assert_int_equal(kp_geo_open(&geo, missing, NULL, NULL, 0), KP_EIO); /* no err buffer */
    assert_null(geo);
    char small[8];
    assert_int_equal(kp_geo_open(&geo, missing, NULL, small, sizeof(small)), KP_EIO);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* ngtcp2-style: the database cut at every length must fail cleanly (or, if
 * it still opens, look up without crashing). */
static void test_truncate_every_length(void **state)
{
    struct fx *f = *state;
    char path[512];
    size_t n;
    uint8_t *good = read_file(fx_geolite, &n);
    unsigned opened = 0;
    tmp_path(f, path, sizeof(path), ".mmdb");
    for (size_t len = 0; len < n; len++) {
        write_file(path, good, len);
        struct kp_geo *geo = NULL;
        char err[512];
        int rc = kp_geo_open(&geo, path, path, err, sizeof(err));
        if (rc == KP_OK) {
            opened++;
            (void)look(geo, "52.81.151.250");
            (void)look(geo, "2a02:ff0::1");
            kp_geo_free(geo);
        } else {
            assert_true(rc == KP_EFORMAT || rc == KP_EIO);
            assert_non_null(strstr(err, path));
        }
    }
    /* The metadata map is at the very end: no cut leaves a valid one. */
    assert_int_equal(opened, 0);
    free(good);
}

/* Deterministic byte flips all over a good file: lookups must not crash
 * (ASan/UBSan builds check the reads). */
static void test_corrupt_bytes(void **state)
{
    struct fx *f = *state;
    char path[512];
    size_t n;
    uint8_t *good = read_file(fx_asn, &n);
    uint8_t *bad = malloc(n);
    assert_non_null(bad);
    uint64_t x = 0x9E3779B97F4A7C15u; /* xorshift64 state, fixed seed */
    static const char *const ips[] = {"52.81.151.250", "3.7.35.1",   "170.114.200.1",
                                      "2001:4860::1",  "192.0.2.1",  "0.0.0.0",
                                      "255.255.255.255", "::1",      "ffff::1"};
    tmp_path(f, path, sizeof(path), ".mmdb");
    unsigned opened = 0;
    for (unsigned iter = 0; iter < 1500; iter++) {
        memcpy(bad, good, n);
        unsigned flips = 1 + iter % 8;
        for (unsigned k = 0; k < flips; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = (size_t)(x % n);
            bad[at] = (uint8_t)(x >> 32);
        }
        write_file(path, bad, n);
        struct kp_geo *geo = NULL;
        if (kp_geo_open(&geo, path, path, NULL, 0) == KP_OK) {
            opened++;
            for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
                struct kp_geo_info gi = look(geo, ips[i]);
                assert_true(strlen(gi.country) == 0 || strlen(gi.country) == 2);
                assert_true(strlen(gi.as_org) < sizeof(gi.as_org));
            }
            char buf[300];
            assert_int_equal(kp_geo_describe(geo, 0, buf, sizeof(buf)), KP_OK);
            kp_geo_free(geo);
        }
    }
    assert_true(opened > 0); /* most flips hit the tree or data, not metadata */
    free(bad);
    free(good);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s COUNTRY.mmdb GEOLITE.mmdb ASN.mmdb ASN-CSV.mmdb\n", argv[0]);
        return 1;
    }
    fx_country = argv[1];
    fx_geolite = argv[2];
    fx_asn = argv[3];
    fx_asn_csv = argv[4];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_country_code_layout),
        cmocka_unit_test(test_geolite_layout),
        cmocka_unit_test(test_asn_layout),
        cmocka_unit_test(test_both_and_addr),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_truncate_every_length),
        cmocka_unit_test(test_corrupt_bytes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
