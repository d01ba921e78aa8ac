/* cli/eve.c: the escaper on hostile strings, reason -> signature id
 * mapping, flow ids, and how the output fails (open errors, disk full,
 * broken pipe).  The lines themselves are checked by eve_check.py with a
 * real JSON parser and against real Suricata output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eve.h"

/* ---------------------------------------------------------------- escaper */

static void check_escape(const char *in, size_t n, const char *want)
{
    char out[512];
    size_t need = kp_eve_escape(out, sizeof(out), in, n);
    assert_string_equal(out, want);
    assert_int_equal(need, strlen(want));
}

#define ESC(lit, want) check_escape(lit, sizeof(lit) - 1, want)

static void test_escape_ascii(void **state)
{
    (void)state;
    ESC("", "");
    ESC("zc01.zoom.us", "zc01.zoom.us");
    ESC("a\"b\\c/d", "a\\\"b\\\\c/d");
    ESC("\"}, \"event_type\":\"alert", "\\\"}, \\\"event_type\\\":\\\"alert");
    ESC("\b\f\n\r\t", "\\b\\f\\n\\r\\t");
    ESC("\x01\x1b[31m\x1f\x7f", "\\u0001\\u001b[31m\\u001f\\u007f");
    /* an embedded NUL is data, not the end */
    ESC("a\0b", "a\\u0000b");
}

static void test_escape_utf8(void **state)
{
    (void)state;
    /* well-formed sequences pass through unchanged */
    ESC("caf\xc3\xa9", "caf\xc3\xa9");
    ESC("\xe4\xb8\xad\xe5\x9b\xbd", "\xe4\xb8\xad\xe5\x9b\xbd");
    ESC("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
    ESC("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
    ESC("\xed\x9f\xbf", "\xed\x9f\xbf");         /* U+D7FF, just below the surrogates */
    /* line and paragraph separators are escaped for JavaScript consumers */
    ESC("a\xe2\x80\xa8" "b\xe2\x80\xa9", "a\\u2028b\\u2029");
}

static void test_escape_invalid_utf8(void **state)
{
    (void)state;
    ESC("\x80", "\\ufffd");                          /* lone continuation */
    ESC("\xbf\xbf", "\\ufffd\\ufffd");
    ESC("\xc0\x80", "\\ufffd\\ufffd");               /* overlong NUL */
    ESC("\xc1\xbf", "\\ufffd\\ufffd");
    ESC("\xe0\x80\x80", "\\ufffd\\ufffd\\ufffd");    /* overlong 3-byte */
    ESC("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");    /* surrogate U+D800 */
    ESC("\xf0\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    ESC("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
    ESC("\xf5\xff\xfe", "\\ufffd\\ufffd\\ufffd");
    /* truncated sequences: one U+FFFD for the maximal subpart */
    ESC("\xe4\xb8", "\\ufffd");
    ESC("\xf0\x9f\x98" "a", "\\ufffda");
    ESC("\xe4\"", "\\ufffd\\\"");
    ESC("x\xc3", "x\\ufffd");
    /* a quote hidden after a lead byte is still escaped */
    ESC("\xc3\"}", "\\ufffd\\\"}");
}

static void test_escape_snprintf_contract(void **state)
{
    (void)state;
    char small[5];
    memset(small, 'X', sizeof(small));
    assert_int_equal(kp_eve_escape(small, sizeof(small), "\"\"\"", 3), 6);
    assert_string_equal(small, "\\\"\\\"");
    assert_int_equal(kp_eve_escape(NULL, 0, "\x01", 1), 6);
    char one[1] = {'X'};
    assert_int_equal(kp_eve_escape(one, 1, "abc", 3), 3);
    assert_int_equal(one[0], '\0');
    /* every byte value, in every position: the output is printable ASCII
     * or well-formed UTF-8, never a raw control byte, '"' unescaped */
    char in[256 * 3], out[256 * 3 * 6 + 1];
    size_t n = 0;
    for (int b = 0; b < 256; b++) {
        in[n++] = (char)b;
        in[n++] = (char)(255 - b);
        in[n++] = (char)(b ^ 0x80);
    }
    size_t need = kp_eve_escape(out, sizeof(out), in, n);
    assert_true(need < sizeof(out));
    for (size_t i = 0; i < need; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true(c >= 0x20 && c != 0x7f);
        if (c == '"') {
            assert_true(i > 0 && out[i - 1] == '\\');
        }
    }
}

/* ------------------------------------------------------------- signatures */

static size_t classify(const char *mech, const char *reason, uint32_t *sids)
{
    return kp_eve_classify(mech, reason, sids, 8);
}

static void test_classify(void **state)
{
    (void)state;
    uint32_t s[8];
    /* the reasons analyze/policy.c writes */
    assert_int_equal(classify("tls-control-channel", "issuer country CN is in flagged group @CN", s), 1);
    assert_int_equal(s[0], 9810001);
    assert_int_equal(classify("quic", "issuer country RU is flagged", s), 1);
    assert_int_equal(s[0], KP_EVE_SID_JURISDICTION);
    assert_int_equal(classify("dtls-srtp", "issuer network AS55960 is flagged", s), 1);
    assert_int_equal(s[0], 9810002);
    assert_int_equal(classify("tls-control-channel", "issuer country CN is outside allowed US,CA", s), 1);
    assert_int_equal(s[0], 9810003);
    assert_int_equal(classify("tls-control-channel", "issuer country unknown, allowed only US,CA", s), 1);
    assert_int_equal(s[0], 9810003);
    /* analyze/engine.c: SDES exposure, alone or before a policy clause */
    assert_int_equal(classify("sdes-cleartext", "SRTP key exposed in cleartext SDP (a=crypto)", s), 1);
    assert_int_equal(s[0], 9810004);
    assert_int_equal(classify("sdes-cleartext",
                              "SRTP key exposed in cleartext SDP (a=crypto); issuer country CN is in "
                              "flagged group @CN",
                              s),
                     2);
    assert_int_equal(s[0], 9810004);
    assert_int_equal(s[1], 9810001);
    /* exposure is known from the mechanism even if the text changes */
    assert_int_equal(classify("sdes-cleartext", "", s), 1);
    assert_int_equal(s[0], 9810004);
    assert_int_equal(classify("sdes-cleartext", "issuer network AS1 is flagged", s), 2);
    assert_int_equal(s[0], 9810004);
    assert_int_equal(s[1], 9810002);
}

static void test_classify_robust(void **state)
{
    (void)state;
    uint32_t s[8];
    /* unknown or empty reasons still give one generic alert */
    assert_int_equal(classify("tls-control-channel", "some future rule fired", s), 1);
    assert_int_equal(s[0], 9810000);
    assert_int_equal(classify(NULL, NULL, s), 1);
    assert_int_equal(s[0], 9810000);
    assert_int_equal(classify("quic", ";;  ; ", s), 1);
    assert_int_equal(s[0], 9810000);
    /* an unknown clause next to a known one adds nothing; duplicates fold */
    assert_int_equal(classify("quic", "mystery; issuer country CN is flagged; issuer country CN is flagged",
                              s),
                     1);
    assert_int_equal(s[0], 9810001);
    /* "issuer country" without a verdict word is not a jurisdiction alert */
    assert_int_equal(classify("quic", "issuer country CN", s), 1);
    assert_int_equal(s[0], 9810000);
    /* the output array bound is respected */
    uint32_t one[1] = {0};
    assert_int_equal(kp_eve_classify("sdes-cleartext", "issuer network AS1 is flagged", one, 1), 1);
    assert_int_equal(one[0], 9810004);
}

/* --------------------------------------------------------------- flow ids */

static void test_flow_id(void **state)
{
    (void)state;
    uint64_t a = kp_eve_flow_id("tcp", "142.150.190.10", 50415, "52.81.151.250", 443);
    uint64_t b = kp_eve_flow_id("TCP", "52.81.151.250", 443, "142.150.190.10", 50415);
    assert_true(a == b);
    assert_true(a > 0 && a < (UINT64_C(1) << 53));
    assert_true(a != kp_eve_flow_id("udp", "142.150.190.10", 50415, "52.81.151.250", 443));
    assert_true(a != kp_eve_flow_id("tcp", "142.150.190.10", 50414, "52.81.151.250", 443));
    assert_true(a != kp_eve_flow_id("tcp", "142.150.190.1", 50415, "52.81.151.250", 443));
    /* same address both ends (loopback): ports decide the order */
    assert_true(kp_eve_flow_id("udp", "::1", 1, "::1", 2) == kp_eve_flow_id("udp", "::1", 2, "::1", 1));
    /* no collision across a small neighbourhood of ports */
    uint64_t seen[512];
    for (int p = 0; p < 512; p++) {
        seen[p] = kp_eve_flow_id("udp", "10.0.0.1", 40000 + p, "10.0.0.2", 3478);
        assert_true(seen[p] > 0 && seen[p] < (UINT64_C(1) << 53));
        for (int q = 0; q < p; q++) {
            assert_true(seen[p] != seen[q]);
        }
    }
    assert_true(kp_eve_flow_id(NULL, NULL, 0, NULL, 0) > 0);
}

static void test_community_id(void **state)
{
    (void)state;
    char cid[40];
    /* the example in Suricata's userguide (eve-json-output, community-id),
     * from the Community ID specification's TCP baseline */
    assert_int_equal(kp_eve_community_id("tcp", "128.232.110.120", 34855, "66.35.250.204", 80, cid,
                                         sizeof(cid)),
                     0);
    assert_string_equal(cid, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    /* the same from the other side */
    assert_int_equal(kp_eve_community_id("TCP", "66.35.250.204", 80, "128.232.110.120", 34855, cid,
                                         sizeof(cid)),
                     0);
    assert_string_equal(cid, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    assert_int_equal(strlen(cid), 30);
    char v6[40], v6r[40];
    assert_int_equal(kp_eve_community_id("udp", "2001:db8::1", 5000, "2001:db8::2", 3478, v6, sizeof(v6)), 0);
    assert_int_equal(kp_eve_community_id("udp", "2001:db8::2", 3478, "2001:db8::1", 5000, v6r, sizeof(v6r)), 0);
    assert_string_equal(v6, v6r);
    /* not TCP/UDP, mixed families, bad addresses and ports, short buffers */
    assert_int_equal(kp_eve_community_id("sctp", "10.0.0.1", 1, "10.0.0.2", 2, cid, sizeof(cid)), -1);
    assert_int_equal(kp_eve_community_id("udp", "10.0.0.1", 1, "::1", 2, cid, sizeof(cid)), -1);
    assert_int_equal(kp_eve_community_id("udp", "10.0.0.x", 1, "10.0.0.2", 2, cid, sizeof(cid)), -1);
    assert_int_equal(kp_eve_community_id("udp", "10.0.0.1", 70000, "10.0.0.2", 2, cid, sizeof(cid)), -1);
    assert_int_equal(kp_eve_community_id("udp", "10.0.0.1", 1, "10.0.0.2", 2, cid, 31), -1);
    assert_int_equal(kp_eve_community_id(NULL, "10.0.0.1", 1, "10.0.0.2", 2, cid, sizeof(cid)), -1);
}

/* ---------------------------------------------------------- file handling */

static void to_eve(const struct kp_event *ev, void *user) { kp_eve_event(user, ev); }

static void feed_sample(struct kp_eve *eve)
{
    char path[4096], perr[PCAP_ERRBUF_SIZE], err[256];
    const char *src = getenv("KP_SRCDIR");
    snprintf(path, sizeof(path), "%s/samples/citizenlab-2020.pcap", src != NULL ? src : ".");
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.on_event = to_eve;
    cfg.user = eve;
    struct kp_engine *eng;
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    pcap_t *p = pcap_open_offline(path, perr);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        assert_int_equal(kp_engine_feed(eng, pcap_datalink(p), ts, d, h->caplen, h->len), KP_OK);
    }
    pcap_close(p);
    kp_engine_finish(eng);
    kp_engine_free(eng);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(kp_eve_open("/nonexistent-dir-kp/eve.json", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir-kp/eve.json"));
    assert_non_null(strstr(err, "No such file or directory"));
    assert_null(strchr(err, '\n'));
    assert_null(kp_eve_open("", err, sizeof(err)));
    assert_null(kp_eve_open(NULL, err, sizeof(err)));
    /* NULL handles are no-ops */
    kp_eve_event(NULL, NULL);
    assert_int_equal(kp_eve_close(NULL, err, sizeof(err)), 0);
    assert_false(kp_eve_failed(NULL));
}

static void test_disk_full(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0) {
        skip();
    }
    char err[256] = "";
    struct kp_eve *eve = kp_eve_open("/dev/full", err, sizeof(err));
    assert_non_null(eve);
    assert_false(kp_eve_failed(eve));
    feed_sample(eve);
    assert_true(kp_eve_failed(eve));
    assert_int_equal(kp_eve_close(eve, err, sizeof(err)), -1);
    assert_string_equal(err, "eve: /dev/full: No space left on device");
}

static void test_broken_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char path[64], err[256] = "";
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[1]);
    struct kp_eve *eve = kp_eve_open(path, err, sizeof(err));
    if (eve == NULL) {
        close(fds[0]);
        close(fds[1]);
        skip(); /* no /proc */
    }
    close(fds[0]);
    close(fds[1]);
    /* the reader is gone: writes fail with EPIPE (SIGPIPE ignored, as the
     * keyprov command does) */
    feed_sample(eve);
    assert_int_equal(kp_eve_close(eve, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Broken pipe"));
    assert_null(strchr(err, '\n'));
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    int c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        n += c == '\n';
        last = c;
    }
    fclose(f);
    assert_int_equal(last, '\n');
    return n;
}

static void test_appends_and_mode(void **state)
{
    (void)state;
    char path[] = "/tmp/kp-eve-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    mode_t old = umask(022);
    char err[256];
    struct kp_eve *eve = kp_eve_open(path, err, sizeof(err));
    umask(old);
    assert_non_null(eve);
    feed_sample(eve);
    assert_int_equal(kp_eve_close(eve, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    size_t first = count_lines(path);
    assert_true(first >= 2);
    /* a second run appends, as Suricata does with eve.json */
    eve = kp_eve_open(path, err, sizeof(err));
    assert_non_null(eve);
    feed_sample(eve);
    assert_int_equal(kp_eve_close(eve, err, sizeof(err)), 0);
    assert_int_equal(count_lines(path), 2 * first);
    unlink(path);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_ascii),
        cmocka_unit_test(test_escape_utf8),
        cmocka_unit_test(test_escape_invalid_utf8),
        cmocka_unit_test(test_escape_snprintf_contract),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_robust),
        cmocka_unit_test(test_flow_id),
        cmocka_unit_test(test_community_id),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_broken_pipe),
        cmocka_unit_test(test_appends_and_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
