/* Unit tests of the Wireshark plugin's analysis core (plugins/wireshark/kpws.c):
 * its parsers, and the flow table it builds from keyprov's events over the
 * samples, read ahead and incrementally.
 *
 * argv[1]: the samples folder.  Geolocation: $KEYPROV_GEO_COUNTRY and
 * $KEYPROV_GEO_ASN (fixtures built by meson). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "kpws.h"

static const char *samples_dir;

static void test_parse_addr(void **state)
{
    (void)state;
    struct kpws_addr a;
    uint16_t port;
    assert_int_equal(kpws_parse_addr("52.81.151.250:443", &a, &port), 0);
    assert_int_equal(a.family, 4);
    assert_int_equal(port, 443);
    assert_memory_equal(a.b, "\x34\x51\x97\xfa", 4);
    assert_int_equal(kpws_parse_addr("52.81.151.250", &a, NULL), 0);
    assert_int_equal(kpws_parse_addr("[2001:db8::1]:3478", &a, &port), 0);
    assert_int_equal(a.family, 6);
    assert_int_equal(port, 3478);
    assert_int_equal(a.b[0], 0x20);
    assert_int_equal(a.b[15], 1);
    assert_int_equal(kpws_parse_addr("2001:db8::1", &a, &port), 0);
    assert_int_equal(port, 0);
    assert_int_not_equal(kpws_parse_addr("", &a, &port), 0);
    assert_int_not_equal(kpws_parse_addr("1.2.3.4:", &a, &port), 0);
    assert_int_not_equal(kpws_parse_addr("1.2.3.4:70000", &a, &port), 0);
    assert_int_not_equal(kpws_parse_addr("[2001:db8::1", &a, &port), 0);
    assert_int_not_equal(kpws_parse_addr("[2001:db8::1]x", &a, &port), 0);
    assert_int_not_equal(kpws_parse_addr("zoom.us:443", &a, &port), 0);
    assert_int_not_equal(kpws_parse_addr(NULL, &a, &port), 0);
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t us = 0;
    assert_int_equal(kpws_parse_time("2020-04-02T14:00:00.045150Z", &us), 0);
    assert_true(us == INT64_C(1585836000045150));
    assert_int_equal(kpws_parse_time("1970-01-01T00:00:00Z", &us), 0);
    assert_true(us == 0);
    assert_int_equal(kpws_parse_time("2000-03-01T00:00:00.5Z", &us), 0);
    assert_true(us == INT64_C(951868800500000));
    assert_int_not_equal(kpws_parse_time("2020-04-02 14:00:00Z", &us), 0);
    assert_int_not_equal(kpws_parse_time("2020-04-02T14:00:00+01:00", &us), 0);
    assert_int_not_equal(kpws_parse_time("2020-13-02T14:00:00Z", &us), 0);
    assert_int_not_equal(kpws_parse_time("2020-04-02T14:00:00.Z", &us), 0);
    assert_int_not_equal(kpws_parse_time(NULL, &us), 0);
}

struct seen {
    int n;
    struct kpws_json_flow f[4];
};

static void collect(const struct kpws_json_flow *f, void *user)
{
    struct seen *s = user;
    if (s->n < 4) {
        s->f[s->n] = *f;
    }
    s->n++;
}

static void test_session_json(void **state)
{
    (void)state;
    static const char json[] =
        "{\"event_type\":\"session\",\"schema\":1,\"ts\":\"2020-04-02T14:00:00.045150Z\","
        "\"last_ts\":\"2020-04-02T14:00:04.443887Z\",\"session_id\":1,\"service\":\"zoom\","
        "\"client\":{\"ip\":\"142.150.190.10\"},\"verdict\":\"violation\","
        "\"reasons\":[\"issuer country CN is in flagged group @CN\"],"
        "\"key_holders\":[{\"ip\":\"52.81.151.250\",\"sni\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\","
        "\"scope\":null,\"asn\":55960,\"flagged\":true,\"x\":[1,-2.5e3,[],{}]}],"
        "\"flows\":[{\"proto\":\"tcp\",\"client_port\":50414,\"server\":\"170.114.128.20:443\","
        "\"role\":\"key-exchange\",\"link\":\"key record\"},"
        "{\"proto\":\"udp\",\"client_port\":54321,\"server\":\"[2001:db8::5]:8801\","
        "\"role\":\"media\",\"link\":\"same client's control channel\",\"extra\":{\"a\":[]}}],"
        "\"flows_total\":2,\"notes\":[]}";
    struct seen s = {0};
    char last[40], ip[64];
    assert_int_equal(kpws_parse_session_json(json, strlen(json), collect, &s, last, sizeof(last),
                                             ip, sizeof(ip)),
                     0);
    assert_string_equal(last, "2020-04-02T14:00:04.443887Z");
    assert_string_equal(ip, "142.150.190.10");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.f[0].proto, "tcp");
    assert_int_equal(s.f[0].client_port, 50414);
    assert_string_equal(s.f[0].server, "170.114.128.20:443");
    assert_string_equal(s.f[0].role, "key-exchange");
    assert_string_equal(s.f[1].server, "[2001:db8::5]:8801");
    assert_string_equal(s.f[1].link, "same client's control channel");

    /* Every truncation of the text is rejected (and read within bounds). */
    for (size_t n = 0; n < strlen(json); n++) {
        char *cut = malloc(n + 1);
        assert_non_null(cut);
        memcpy(cut, json, n);
        cut[n] = '\0';
        s.n = 0;
        assert_int_equal(kpws_parse_session_json(cut, n, collect, &s, NULL, 0, NULL, 0), -1);
        free(cut);
    }
    static const char *const bad[] = {"[]", "{\"a\":tru}", "{\"a\" 1}", "{\"a\":\"\\q\"}",
                                      "{\"a\":\"\x01\"}", "{\"a\":1,}", "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kpws_parse_session_json(bad[i], strlen(bad[i]), NULL, NULL, NULL, 0, NULL,
                                                 0),
                         -1);
    }
    /* Deep nesting is refused, not recursed into without bound. */
    char deep[200];
    memset(deep, '[', sizeof(deep));
    memcpy(deep, "{\"a\":", 5);
    assert_int_equal(kpws_parse_session_json(deep, sizeof(deep), NULL, NULL, NULL, 0, NULL, 0), -1);
}

static void test_printable(void **state)
{
    (void)state;
    char out[16];
    kpws_printable("zoom.us", out, sizeof(out));
    assert_string_equal(out, "zoom.us");
    kpws_printable("a\x1b[2Jb\\", out, sizeof(out));
    assert_string_equal(out, "a\\x1b[2Jb\\x5c");
    kpws_printable("\xff\xff\xff\xff", out, 10);
    assert_string_equal(out, "\\xff\\xff");
    kpws_printable(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

/* ---- the samples ---- */

struct fixture {
    struct kp_geo *geo;
    struct kp_policy *pol;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char err[256];
    if (fx == NULL || kp_policy_new(&fx->pol) != KP_OK ||
        kp_policy_flag(fx->pol, "@CN", err, sizeof(err)) != KP_OK ||
        kp_geo_open(&fx->geo, getenv("KEYPROV_GEO_COUNTRY"), getenv("KEYPROV_GEO_ASN"), err,
                    sizeof(err)) != KP_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    kp_geo_free(fx->geo);
    kp_policy_free(fx->pol);
    free(fx);
    return 0;
}

/* Feed a sample; in incremental mode stop after frame stop (0: all). */
static struct kpws *run_sample(const struct fixture *fx, const char *name, enum kpws_mode mode,
                               uint32_t stop)
{
    char path[1024], perr[PCAP_ERRBUF_SIZE], err[256];
    struct kpws *w = NULL;
    snprintf(path, sizeof(path), "%s/%s", samples_dir, name);
    pcap_t *p = pcap_open_offline(path, perr);
    assert_non_null(p);
    assert_int_equal(kpws_new(&w, mode, fx->geo, fx->pol, 0, err, sizeof(err)), KP_OK);
    struct pcap_pkthdr *h;
    const u_char *data;
    uint32_t frame = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        frame++;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        assert_int_equal(kpws_feed(w, pcap_datalink(p), ts, data, h->caplen, h->len, frame), KP_OK);
        if (stop != 0 && frame == stop) {
            break;
        }
    }
    pcap_close(p);
    if (stop == 0) {
        kpws_finish(w);
    }
    return w;
}

static const struct kpws_flow *look(const struct kpws *w, int proto, const char *a, uint16_t ap,
                                    const char *b, uint16_t bp, uint32_t frame)
{
    struct kpws_addr x, y;
    assert_int_equal(kpws_parse_addr(a, &x, NULL), 0);
    assert_int_equal(kpws_parse_addr(b, &y, NULL), 0);
    /* sample times: 2020-04-02, within the sessions */
    return kpws_lookup(w, proto, &x, ap, &y, bp, INT64_C(1585836001000000), frame);
}

static void test_citizenlab_read_ahead(void **state)
{
    struct kpws *w = run_sample(*state, "citizenlab-2020.pcap", KPWS_READ_AHEAD, 0);
    struct kpws_counts n;
    kpws_counts(w, &n);
    assert_true(n.keys == 2 && n.flagged_keys == 1 && n.sessions == 1 && n.violations == 1);

    /* the CN key exchange, either direction */
    const struct kpws_flow *f = look(w, 6, "52.81.151.250", 443, "142.150.190.10", 50415, 1);
    assert_non_null(f);
    assert_true(f->flagged && f->key_flagged);
    assert_non_null(f->session);
    assert_string_equal(f->session->verdict, "violation");
    assert_string_equal(f->session->reason, "issuer country CN is in flagged group @CN");
    assert_string_equal(f->key->country, "CN");
    assert_int_equal(f->key->asn, 55960);
    assert_string_equal(f->key->mechanism, "tls-control-channel");
    assert_string_equal(f->role, "key-exchange");
    assert_ptr_equal(look(w, 6, "142.150.190.10", 50415, "52.81.151.250", 443, 1), f);

    /* the US control channel: same session, so flagged; its own key is not */
    f = look(w, 6, "142.150.190.10", 50414, "170.114.128.20", 443, 1);
    assert_non_null(f);
    assert_true(f->flagged);
    assert_false(f->key_flagged);
    assert_string_equal(f->key->country, "US");

    /* the media flow: flagged, protected by the CN-issued key */
    f = look(w, 17, "170.114.128.50", 8801, "142.150.190.10", 54321, 1);
    assert_non_null(f);
    assert_true(f->flagged);
    assert_false(f->key_flagged);
    assert_string_equal(f->role, "media");
    assert_string_equal(f->media_kind, "zoom");
    assert_non_null(f->key);
    assert_string_equal(f->key->issuer_ip, "52.81.151.250");

    /* DNS is in no session; a wrong protocol or port matches nothing */
    assert_null(look(w, 17, "142.150.190.10", 53211, "149.112.121.10", 53, 1));
    assert_null(look(w, 17, "142.150.190.10", 50415, "52.81.151.250", 443, 1));
    assert_null(look(w, 6, "142.150.190.10", 50416, "52.81.151.250", 443, 1));
    kpws_free(w);
}

static void test_clean_read_ahead(void **state)
{
    struct kpws *w = run_sample(*state, "clean-meeting.pcap", KPWS_READ_AHEAD, 0);
    struct kpws_counts n;
    kpws_counts(w, &n);
    assert_true(n.keys == 2 && n.flagged_keys == 0 && n.sessions == 1 && n.violations == 0);
    const struct kpws_flow *f = look(w, 6, "73.162.10.20", 51877, "3.235.82.1", 443, 1);
    assert_non_null(f);
    assert_false(f->flagged);
    assert_string_equal(f->session->verdict, "ok");
    assert_string_equal(f->key->country, "US");
    assert_int_equal(f->key->asn, 14618);
    f = look(w, 17, "73.162.10.20", 54321, "170.114.128.50", 8801, 1);
    assert_non_null(f);
    assert_false(f->flagged);
    kpws_free(w);
}

static void test_citizenlab_incremental(void **state)
{
    /* Frame by frame: the CN key record appears once its handshake is
     * done, and then applies only from that frame on. */
    uint32_t first = 0;
    for (uint32_t stop = 1; stop <= 404 && first == 0; stop++) {
        struct kpws *w = run_sample(*state, "citizenlab-2020.pcap", KPWS_INCREMENTAL, stop);
        const struct kpws_flow *f = look(w, 6, "52.81.151.250", 443, "142.150.190.10", 50415, stop);
        if (f != NULL) {
            first = stop;
            assert_true(f->flagged && f->key_flagged);
            assert_null(f->session);
            assert_null(look(w, 6, "52.81.151.250", 443, "142.150.190.10", 50415, stop - 1));
        }
        kpws_free(w);
    }
    assert_true(first > 1);
    /* at the end of input the session arrives and covers every flow */
    struct kpws *w = run_sample(*state, "citizenlab-2020.pcap", KPWS_INCREMENTAL, 0);
    const struct kpws_flow *f = look(w, 17, "170.114.128.50", 8801, "142.150.190.10", 54321, 405);
    assert_non_null(f);
    assert_true(f->flagged);
    kpws_free(w);
}

int main(int argc, char **argv)
{
    samples_dir = argc > 1 ? argv[1] : "samples";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_session_json),
        cmocka_unit_test(test_printable),
        cmocka_unit_test_setup_teardown(test_citizenlab_read_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_read_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_citizenlab_incremental, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
