/* The HTML report (cli/html.c): its escapers, the report of the 2020
 * sample through the public API, hostile strings in events and in the map
 * file, bounded memory, malformed events and write errors.  How the page
 * renders in a browser: render_check.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "html.h"
#include "keyprov.h"
#include "report_util.h"

static const char *g_country_db, *g_asn_db;

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void temp_path(char *out, size_t len, const char *suffix)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, len, "%s/kp-html-test-XXXXXX", dir != NULL ? dir : "/tmp");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    unlink(out);
    strncat(out, suffix, len - strlen(out) - 1);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* <script ...> and </script> alternate, and every script is closed. */
static size_t check_scripts(const char *html)
{
    size_t n = 0;
    const char *p = html;
    for (;;) {
        const char *open = strstr(p, "<script");
        const char *close = strstr(p, "</script");
        if (open == NULL) {
            assert_null(close);
            return n;
        }
        assert_non_null(close);
        assert_true(open < close);
        const char *next = strstr(open + 1, "<script");
        assert_true(next == NULL || next > close);
        /* nothing inside a script looks like a tag start or a comment */
        const char *body = strchr(open, '>');
        assert_non_null(body);
        for (const char *q = body + 1; q < close; q++) {
            assert_false(q[0] == '<' && (q[1] == '/' || q[1] == '!'));
        }
        n++;
        p = close + 1;
    }
}

/* No network loads: the only URL is the SVG namespace (not fetched). */
static void check_offline(const char *html)
{
    assert_non_null(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                                 "'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                                 "img-src data:"));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "https:"));
    size_t svg_ns = count(html, "xmlns=\"http://www.w3.org/2000/svg\"");
    assert_int_equal(count(html, "http://"), svg_ns);
    assert_null(strstr(html, "//cdn"));
    assert_null(strstr(html, "url("));
    static const char *const attrs[] = {"src=", "href=", "action=", "srcset=", "poster="};
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        for (const char *p = strstr(html, attrs[i]); p != NULL; p = strstr(p + 1, attrs[i])) {
            const char *v = p + strlen(attrs[i]);
            if (*v == '"' || *v == '\'') {
                v++;
            }
            assert_false(strncmp(v, "http", 4) == 0 || strncmp(v, "//", 2) == 0);
        }
    }
}

/* ------------------------------------------------------------ escapers */

static void test_script_json_escape(void **state)
{
    (void)state;
    const char in[] = "{\"s\":\"</script><img src=x onerror=alert(1)>&<!--\xe2\x80\xa8\xe2\x80\xa9"
                      "\xff\"}";
    char *out = kp_html_script_json(in, sizeof(in) - 1);
    assert_non_null(out);
    assert_string_equal(out, "{\"s\":\"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)"
                             "\\u003e\\u0026\\u003c!--\\u2028\\u2029\\ufffd\"}");
    assert_null(strpbrk(out, "<>&"));
    free(out);

    /* Non-ASCII text that needs no escape is kept as it is. */
    const char utf8[] = "{\"o\":\"Z\xc3\xbcrich \xe5\x8c\x97\xe4\xba\xac\"}";
    out = kp_html_script_json(utf8, sizeof(utf8) - 1);
    assert_string_equal(out, utf8);
    free(out);

    out = kp_html_script_json("", 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_text_escape(void **state)
{
    (void)state;
    const char in[] = "<img src=x onerror=\"a('b')\">&\x1b[31m\xe2\x80\xae" "evil\xff ok";
    char *out = kp_html_text(in, sizeof(in) - 1);
    assert_non_null(out);
    assert_string_equal(out, "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
                             "\xef\xbf\xbd[31m\xef\xbf\xbd" "evil\xef\xbf\xbd ok");
    free(out);
    const char nul[] = "a\0b";
    out = kp_html_text(nul, 3);
    assert_string_equal(out, "a\xef\xbf\xbd" "b");
    free(out);
}

/* -------------------------------------------------- the 2020 sample */

static void sample_path(char *out, size_t len, const char *name)
{
    const char *src = getenv("KP_SRCDIR");
    snprintf(out, len, "%s/%s", src != NULL ? src : ".", name);
}

static void test_citizenlab_report(void **state)
{
    (void)state;
    char pcap[4096], out[4096], err[512];
    sample_path(pcap, sizeof(pcap), "samples/citizenlab-2020.pcap");
    temp_path(out, sizeof(out), ".html");
    struct report_opts o = {.pcap = pcap, .country_db = g_country_db, .asn_db = g_asn_db,
                            .flag = "@CN", .map = NULL, .out = out};
    if (make_report(&o, err, sizeof(err)) != 0) {
        fail_msg("make_report: %s", err);
    }
    char *html = read_all(out);
    unlink(out);
    assert_true(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 31) == 0);
    assert_non_null(strstr(html, "</html>\n"));
    check_offline(html);
    /* kp-events, kp-stats, kp-countries, kp-meta and the script itself */
    assert_int_equal(check_scripts(html), 5);
    assert_non_null(strstr(html, "<title>keyprov report: citizenlab-2020.pcap</title>"));
    /* the static summary */
    assert_non_null(strstr(html, "<section class=\"verdict v-violation\""));
    /* the library groups both key records and the media flow into one session */
    assert_non_null(strstr(html, "1 of 1 session received keys from a flagged jurisdiction."));
    assert_non_null(strstr(html, "<h2>Sessions in violation <span class=\"count\">1</span></h2>"));
    assert_non_null(strstr(html, "<td class=\"mono\">52.81.151.250:443</td>"));
    assert_non_null(strstr(html, "<span class=\"code\">CN</span>"));
    assert_non_null(strstr(html, "issuer country CN is in flagged group @CN"));
    assert_non_null(strstr(html, "AS55960 Beijing Guanghuan Xinwang Digital"));
    assert_non_null(strstr(html, "<tr class=\"violation\" data-cc=\"CN\">"));
    assert_non_null(strstr(html, "<tr class=\"ok\" data-cc=\"US\">"));
    assert_non_null(strstr(html, "<span>404 packets</span>"));
    assert_non_null(strstr(html, "2020-04-02 14:00:00 \xe2\x80\x93 14:00:04 UTC"));
    /* no map given: the fallback and its note */
    assert_non_null(strstr(html, "map data not installed (run geo/fetch-worldmap)"));
    assert_non_null(strstr(html, "class=\"worldmap fallback\""));
    /* the events, for the script */
    assert_non_null(strstr(html, "\"issuer\":{\"ip\":\"52.81.151.250\",\"port\":443,\"country\":\"CN\""));
    assert_non_null(strstr(html, "\"event_type\":\"media\""));
    assert_non_null(strstr(html, "\"event_type\":\"session\""));
    assert_non_null(strstr(html, "\"dropped\":0,"));
    free(html);
}

/* ------------------------------------------------ hostile strings */

static const char hostile_map[] =
    "{\"format\":1,\"viewBox\":\"0 0 200 100\",\"outline\":\"M0,0h200v100h-200z\","
    "\"graticule\":\"M0,50h200\",\"source\":\"test map </script><b>\","
    "\"countries\":{\"CN\":\"M150,30l20,0 0,20-20,0z\",\"US\":\"M20,30l40,0 0,20-40,0z\","
    "\"FR\":\"M100,20l5,0 0,5-5,0z\",\"XX\":\"M0,0\\\"/><script>alert(1)</script>\","
    "\"C<\":\"M1,1z\",\"DE\":7},"
    "\"points\":{\"CN\":[160,40],\"HK\":[171,52],\"US\":[40,40],\"FR\":\"x\"},"
    "\"names\":{\"CN\":\"China\",\"HK\":\"Hong Kong\",\"US\":\"United States\",\"FR\":\"<b>France\"}}";

static const char *const hostile_events[] = {
    "{\"event_type\":\"session\",\"schema\":1,\"ts\":\"2020-04-02T14:00:00.455150Z\","
    "\"last_ts\":\"2020-04-02T14:00:04.443887Z\",\"session_id\":1,"
    "\"service\":\"zoom</script><img src=x onerror=alert(1)>\","
    "\"client\":{\"ip\":\"142.150.190.10\"},\"verdict\":\"violation\","
    "\"reasons\":[\"issuer country CN is in flagged group @CN\",\"\\u003c/script>\xe2\x80\xa8<!--\"],"
    "\"holder\":\"server\",\"key_holders\":[{\"ip\":\"52.81.151.250\",\"port\":443,\"country\":\"CN\","
    "\"asn\":55960,\"as_org\":\"Org </script><script>alert(2)</script>\","
    "\"mechanism\":\"tls-control-channel\",\"confidence\":\"high\",\"flagged\":true}],"
    "\"flows\":[{\"proto\":\"tcp\",\"client_port\":50415,\"server\":\"52.81.151.250:443\","
    "\"role\":\"control\"}],\"keys\":2,\"media\":1,\"notes\":[\"IP in CN, certificate C=US\"]}",
    "{\"event_type\":\"session\",\"schema\":1,\"ts\":\"2020-04-02T14:00:00.045150Z\","
    "\"session_id\":2,\"service\":\"zoom\",\"client\":{\"ip\":\"142.150.190.10\"},"
    "\"verdict\":\"ok\",\"reasons\":[],\"holder\":\"server\",\"key_holders\":[{\"ip\":"
    "\"170.114.128.20\",\"port\":443,\"country\":\"US\",\"asn\":30103,\"as_org\":\"Zoom\","
    "\"mechanism\":\"tls-control-channel\",\"confidence\":\"high\",\"flagged\":false}]}",
    "{\"event_type\":\"session\",\"schema\":1,\"session_id\":3,\"verdict\":\"review\","
    "\"key_holders\":[{\"ip\":\"203.0.113.9\",\"country\":\"HK\",\"flagged\":false},"
    "{\"ip\":\"10.1.1.1\",\"country\":null,\"scope\":\"private\",\"flagged\":false},"
    "{\"ip\":\"10.1.1.2\",\"country\":\"<x\",\"scope\":\"<script>\",\"flagged\":false}]}",
};

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void test_hostile_strings(void **state)
{
    (void)state;
    char out[4096], map[4096], err[256];
    temp_path(out, sizeof(out), ".html");
    temp_path(map, sizeof(map), ".json");
    write_file(map, hostile_map);
    struct kp_html *h = kp_html_open(out, map, err, sizeof(err));
    assert_non_null(h);
    for (size_t i = 0; i < sizeof(hostile_events) / sizeof(hostile_events[0]); i++) {
        kp_html_event_json(h, hostile_events[i], strlen(hostile_events[i]));
    }
    assert_int_equal(kp_html_close(h, "t\xe2\x80\xae</title><script>alert(3)</script>", NULL, err,
                                   sizeof(err)),
                     0);
    char *html = read_all(out);
    unlink(out);
    unlink(map);
    check_offline(html);
    assert_int_equal(check_scripts(html), 5);
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<b>"));
    assert_null(strstr(html, "alert(1)</script>"));
    assert_null(strstr(html, "\xe2\x80\xa8"));
    assert_null(strstr(html, "\xe2\x80\xae"));
    assert_non_null(strstr(html, "<title>keyprov report: t\xef\xbf\xbd&lt;/title&gt;&lt;script&gt;"
                                 "alert(3)&lt;/script&gt;</title>"));
    /* the summary, escaped */
    assert_non_null(strstr(html, "<section class=\"verdict v-violation\""));
    assert_non_null(strstr(html, "1 of 3 sessions received keys from a flagged jurisdiction."));
    assert_non_null(strstr(html, "zoom&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(html, "issuer country CN is in flagged group @CN; &lt;/script&gt;"
                                 "\xef\xbf\xbd&lt;!--"));
    assert_non_null(strstr(html, "AS55960 Org &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    /* the map: CN red, US blue, FR grey; markers where there are points */
    assert_non_null(strstr(html, "<path id=\"map-CN\" class=\"ctry v\" data-cc=\"CN\" fill=\"#dc2626\" "
                                 "d=\"M150,30l20,0 0,20-20,0z\"><title>China (CN)"));
    assert_non_null(strstr(html, "<path id=\"map-US\" class=\"ctry i\" data-cc=\"US\" fill=\"#2563eb\""));
    assert_non_null(strstr(html, "<path id=\"map-FR\" class=\"ctry\" data-cc=\"FR\" fill=\"#dfe4ea\""));
    assert_non_null(strstr(html, "<title>&lt;b&gt;France (FR)</title>"));
    assert_null(strstr(html, "map-XX"));
    assert_null(strstr(html, "map-DE"));
    assert_null(strstr(html, "data-cc=\"C&lt;"));
    assert_null(strstr(html, "data-cc=\"C<"));
    assert_non_null(strstr(html, "<circle class=\"mark i\" data-cc=\"HK\" cx=\"171\" cy=\"52\""));
    assert_non_null(strstr(html, "<circle class=\"mark v\" data-cc=\"CN\""));
    assert_null(strstr(html, "not installed"));
    assert_non_null(strstr(html, "Map: test map &lt;/script&gt;&lt;b&gt;."));
    /* countries: private and a bad code are not countries */
    assert_non_null(strstr(html, "<tr class=\"ok\" data-cc=\"private\">"));
    assert_non_null(strstr(html, "<tr class=\"ok\" data-cc=\"unknown\">"));
    assert_non_null(strstr(html, "\"CN\":{\"name\":\"China\",\"keys\":0,\"keys_flagged\":0,"
                                 "\"holders\":1,\"holders_flagged\":1,\"sessions\":1,"
                                 "\"sessions_flagged\":1,"));
    /* the events: still there, escaped */
    assert_non_null(strstr(html, "\"service\":\"zoom\\u003c/script\\u003e\\u003cimg src=x "
                                 "onerror=alert(1)\\u003e\""));
    assert_non_null(strstr(html, "\\u003c/script\\u003e\\u2028\\u003c!--"));
    free(html);
}

/* ------------------------------------------------ limits and errors */

static void test_limits_and_malformed(void **state)
{
    (void)state;
    char out[4096], err[256], ev[512];
    temp_path(out, sizeof(out), ".html");
    struct kp_html *h = kp_html_open(out, "/nonexistent/worldmap.json", err, sizeof(err));
    assert_non_null(h);
    static const char *const bad[] = {"{\"event_type\":\"key\"", "[]", "{\"a\":1} x", "{\"a\":01}",
                                      "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "", "{\"a\":tru}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kp_html_event_json(h, bad[i], strlen(bad[i]));
    }
    kp_html_event_json(h, NULL, 0);
    /* Deep nesting is refused, not recursed into. */
    char deep[410];
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', 200);
    memset(deep + 205, ']', 200);
    deep[405] = '}';
    kp_html_event_json(h, deep, 406);

    for (int i = 0; i < 25000; i++) {
        int n = snprintf(ev, sizeof(ev),
                         "{\"event_type\":\"key\",\"schema\":1,\"ts\":\"2021-01-01T00:00:%02d.%06dZ\","
                         "\"service\":\"zoom\",\"client\":{\"ip\":\"10.0.0.1\",\"port\":%d},"
                         "\"issuer\":{\"ip\":\"192.0.2.%d\",\"port\":443,\"country\":\"%s\","
                         "\"asn\":%d,\"as_org\":\"Org %d\"},\"flagged\":%s}",
                         i % 60, i, 1024 + i % 60000, i % 250, i % 2 ? "US" : "DE", 64496 + i % 7,
                         i % 7, i == 24999 ? "true" : "false");
        kp_html_event_json(h, ev, (size_t)n);
    }
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(ev, sizeof(ev),
                         "{\"event_type\":\"anomaly\",\"schema\":1,\"anomaly\":\"a%d\"}", i);
        kp_html_event_json(h, ev, (size_t)n);
    }
    for (int i = 0; i < 10; i++) {
        int n = snprintf(ev, sizeof(ev),
                         "{\"event_type\":\"session\",\"schema\":1,\"session_id\":%d,"
                         "\"verdict\":\"%s\",\"key_holders\":[]}",
                         1000 + i, i < 3 ? "review" : "ok");
        kp_html_event_json(h, ev, (size_t)n);
    }
    const char stats[] = "{\"event_type\":\"stats\",\"schema\":1,\"packets\":7,\"flows\":3,"
                         "\"truncated\":true,\"kernel_dropped\":5}";
    kp_html_event_json(h, stats, sizeof(stats) - 1);
    assert_int_equal(kp_html_close(h, "many", NULL, err, sizeof(err)), 0);

    char *html = read_all(out);
    unlink(out);
    assert_int_equal(check_scripts(html), 5);
    /* 20,000 kept: the 10 sessions and the flagged key evict plain keys;
     * anomalies stop at 2,000 (and are evicted too) */
    assert_non_null(strstr(html, "\"dropped_by_type\":{\"key\":5010,\"media\":0,\"anomaly\":3000,"
                                 "\"session\":0,"));
    assert_non_null(strstr(html, "\"counts\":{\"key\":25000,\"media\":0,\"anomaly\":3000,"
                                 "\"session\":10,\"stats\":1,"));
    assert_int_equal(count(html, "\"event_type\":\"session\""), 10);
    assert_int_equal(count(html, "\"event_type\":\"key\""), 19990);
    assert_non_null(strstr(html, "\"port\":26023}")); /* the flagged key record, the last one */
    assert_non_null(strstr(html, "id=\"dropped\">This report keeps at most 20000 events (2000 "
                                 "anomalies); 8010 were left out of the tables: 5010 key records, "
                                 "3000 anomalies."));
    assert_non_null(strstr(html, "10 events could not be read and were left out."));
    assert_non_null(strstr(html, "<section class=\"verdict v-review\""));
    assert_non_null(strstr(html, "<span class=\"bad\">capture truncated</span>"));
    assert_non_null(strstr(html, "5 packets dropped by the kernel"));
    assert_non_null(strstr(html, "map data not installed"));
    free(html);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(kp_html_open("/nonexistent-dir/x.html", NULL, err, sizeof(err)));
    assert_string_equal(err, "cannot write /nonexistent-dir/x.html: No such file or directory");
    assert_null(kp_html_open("", NULL, err, sizeof(err)));
    assert_int_equal(kp_html_close(NULL, "x", NULL, err, sizeof(err)), -1);
    kp_html_event(NULL, NULL);
    kp_html_event_json(NULL, "{}", 2);

    /* A full disk: the error surfaces at close. */
    if (access("/dev/full", W_OK) == 0) {
        struct kp_html *h = kp_html_open("/dev/full", NULL, err, sizeof(err));
        assert_non_null(h);
        assert_int_equal(kp_html_close(h, "x", NULL, err, sizeof(err)), -1);
        assert_string_equal(err, "cannot write /dev/full: No space left on device");
    }
}

int main(int argc, char **argv)
{
    /* html_test [COUNTRY.mmdb ASN.mmdb]: geolocation for the sample run
     * (the test fixtures; without them, no geolocation). */
    static char cdb[4096], adb[4096];
    if (argc >= 3) {
        g_country_db = argv[1];
        g_asn_db = argv[2];
    } else if (getenv("KP_SRCDIR") != NULL) {
        snprintf(cdb, sizeof(cdb), "%s/geodata/country.mmdb", getenv("KP_SRCDIR"));
        snprintf(adb, sizeof(adb), "%s/geodata/asn.mmdb", getenv("KP_SRCDIR"));
        if (access(cdb, R_OK) == 0 && access(adb, R_OK) == 0) {
            g_country_db = cdb;
            g_asn_db = adb;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_json_escape),
        cmocka_unit_test(test_text_escape),
        cmocka_unit_test(test_citizenlab_report),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_limits_and_malformed),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
