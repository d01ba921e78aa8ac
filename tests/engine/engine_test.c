/* The engine through the public API only (keyprov.h): configuration,
 * feeding frames, events and their JSON, stats, and the promise that flow
 * eviction never loses a key record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyprov.h"

struct seen {
    int keys, anomalies, flagged;
    char issuers[8][46];
    char json[4096];
};

static void on_event(const struct kp_event *ev, void *user)
{
    struct seen *s = user;
    if (kp_event_type(ev) == KP_EV_KEY) {
        if (s->keys < 8) {
            snprintf(s->issuers[s->keys], sizeof(s->issuers[0]), "%s",
                     kp_event_str(ev, KP_F_ISSUER_IP));
        }
        s->keys++;
        s->flagged += (int)kp_event_int(ev, KP_F_FLAGGED);
        if (strcmp(kp_event_str(ev, KP_F_ISSUER_IP), "52.81.151.250") == 0) {
            size_t n = kp_event_json(ev, s->json, sizeof(s->json));
            assert_true(n < sizeof(s->json));
        }
    } else {
        s->anomalies++;
    }
}

static void feed_file(struct kp_engine *eng, const char *name)
{
    char path[4096], err[PCAP_ERRBUF_SIZE];
    const char *src = getenv("KP_SRCDIR");
    snprintf(path, sizeof(path), "%s/samples/%s", src != NULL ? src : ".", name);
    pcap_t *p = pcap_open_offline(path, err);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        assert_int_equal(kp_engine_feed(eng, pcap_datalink(p), ts, d, h->caplen, h->len), KP_OK);
    }
    pcap_close(p);
}

/* Every event's JSON, concatenated. */
struct transcript {
    char *buf;
    size_t len, cap;
};

static void on_event_json(const struct kp_event *ev, void *user)
{
    struct transcript *t = user;
    char line[16384];
    size_t n = kp_event_json(ev, line, sizeof(line));
    assert_true(n < sizeof(line));
    if (t->len + n + 2 > t->cap) {
        t->cap = (t->len + n + 2) * 2;
        t->buf = realloc(t->buf, t->cap);
        assert_non_null(t->buf);
    }
    memcpy(t->buf + t->len, line, n);
    t->len += n;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = '\0';
}

/* Feed a sample one frame at a time (batch 0) or in batches of `batch`
 * frames; return the events and fill the stats. */
static char *run_sample(const char *name, size_t batch, uint32_t max_flows, struct kp_stats *st)
{
    char path[4096], err[PCAP_ERRBUF_SIZE];
    const char *src = getenv("KP_SRCDIR");
    snprintf(path, sizeof(path), "%s/samples/%s", src != NULL ? src : ".", name);
    struct transcript t = {NULL, 0, 0};
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.on_event = on_event_json;
    cfg.user = &t;
    cfg.hash_seed = 7;
    cfg.max_flows = max_flows;
    cfg.report_all = 1;
    struct kp_engine *eng;
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    pcap_t *p = pcap_open_offline(path, err);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    struct kp_frame fr[1000];
    uint8_t *copies = malloc((size_t)1000 * 65536);
    assert_non_null(copies);
    size_t n = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        if (batch == 0) {
            assert_int_equal(kp_engine_feed(eng, pcap_datalink(p), ts, d, h->caplen, h->len),
                             KP_OK);
            continue;
        }
        assert_true(h->caplen <= 65536);
        memcpy(copies + n * 65536, d, h->caplen);
        fr[n] = (struct kp_frame){ts, copies + n * 65536, h->caplen, h->len};
        if (++n == batch) {
            assert_int_equal(kp_engine_feed_batch(eng, pcap_datalink(p), fr, n), KP_OK);
            n = 0;
        }
    }
    if (n > 0) {
        assert_int_equal(kp_engine_feed_batch(eng, pcap_datalink(p), fr, n), KP_OK);
    }
    pcap_close(p);
    free(copies);
    kp_engine_finish(eng);
    *st = (struct kp_stats)KP_STATS_INIT;
    kp_engine_stats(eng, st);
    kp_engine_free(eng);
    return t.buf;
}

/* kp_engine_feed_batch is kp_engine_feed on each frame in turn: the same
 * events in the same order and the same counters, for any batch size,
 * with a roomy flow table and with one so small that flows are evicted
 * between a prefetch and the lookup it was for. */
static void test_feed_batch(void **state)
{
    (void)state;
    static const char *const samples[] = {"citizenlab-2020.pcap", "clean-meeting.pcap"};
    static const uint32_t tables[] = {262144, 2};
    static const size_t batches[] = {1, 3, 8, 9, 32, 1000};
    for (size_t s = 0; s < 2; s++) {
        for (size_t t = 0; t < 2; t++) {
            struct kp_stats a, b;
            char *one = run_sample(samples[s], 0, tables[t], &a);
            assert_non_null(one);
            assert_true(a.key_records > 0);
            for (size_t k = 0; k < sizeof(batches) / sizeof(batches[0]); k++) {
                char *many = run_sample(samples[s], batches[k], tables[t], &b);
                assert_non_null(many);
                assert_string_equal(one, many);
                assert_int_equal(a.packets, b.packets);
                assert_int_equal(a.flows_created, b.flows_created);
                assert_int_equal(a.flows_evicted_full, b.flows_evicted_full);
                assert_int_equal(a.key_records, b.key_records);
                assert_int_equal(a.mem_peak, b.mem_peak);
                free(many);
            }
            free(one);
        }
    }
    /* errors: an unknown link type, frames missing; nothing to feed is fine */
    struct kp_config cfg;
    kp_config_init(&cfg);
    struct kp_engine *eng;
    char err[256];
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    struct kp_frame fr = {0, (const uint8_t *)"x", 1, 1};
    assert_int_equal(kp_engine_feed_batch(eng, 99999, &fr, 1), KP_ELINKTYPE);
    assert_int_equal(kp_engine_feed_batch(eng, 1, NULL, 3), KP_EINVAL);
    assert_int_equal(kp_engine_feed_batch(eng, 1, NULL, 0), KP_OK);
    assert_int_equal(kp_engine_feed_batch(eng, 1, &fr, 1), KP_OK); /* too short: counted */
    kp_engine_finish(eng);
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    assert_int_equal(st.packets, 1);
    assert_int_equal(st.undecodable, 1);
    kp_engine_free(eng);
}

static void on_media_json(const struct kp_event *ev, void *user)
{
    int *media = user;
    if (kp_event_type(ev) == KP_EV_MEDIA) {
        char line[16384];
        size_t n = kp_event_json(ev, line, sizeof(line));
        assert_true(n < sizeof(line));
        /* the event still says what the analysis found, from the summary */
        assert_non_null(strstr(line, "\"payload_type\":0"));
        (*media)++;
    }
}

/* An Ethernet/IPv4/UDP frame carrying an RTP packet (RFC 3550 5.1, payload
 * type 0, 160 bytes of audio) of flow i. */
static size_t rtp_frame(uint8_t *f, uint32_t i, uint16_t seq)
{
    memset(f, 0, 14 + 20 + 8 + 12 + 160);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (20 + 8 + 12 + 160) >> 8, ip[3] = (20 + 8 + 12 + 160) & 0xff;
    ip[8] = 64, ip[9] = 17;
    ip[12] = 10, ip[13] = (uint8_t)(i >> 16), ip[14] = (uint8_t)(i >> 8), ip[15] = (uint8_t)i;
    ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 7;
    uint8_t *udp = ip + 20;
    udp[0] = 0x9c, udp[1] = 0x40;                   /* 40000 */
    udp[2] = 0x4e, udp[3] = 0x20 + (uint8_t)(i & 7); /* 20000 + i % 8 */
    udp[4] = 0, udp[5] = 8 + 12 + 160;
    uint8_t *rtp = udp + 8;
    rtp[0] = 0x80, rtp[1] = 0;
    rtp[2] = (uint8_t)(seq >> 8), rtp[3] = (uint8_t)seq;
    uint32_t ts = (uint32_t)seq * 160u, ssrc = 0x1000u + i;
    rtp[4] = (uint8_t)(ts >> 24), rtp[5] = (uint8_t)(ts >> 16), rtp[6] = (uint8_t)(ts >> 8),
    rtp[7] = (uint8_t)ts;
    rtp[8] = (uint8_t)(ssrc >> 24), rtp[9] = (uint8_t)(ssrc >> 16), rtp[10] = (uint8_t)(ssrc >> 8),
    rtp[11] = (uint8_t)ssrc;
    return 14 + 20 + 8 + 12 + 160;
}

/* Once a call-media flow is classified and bypassed it keeps only what its
 * media event is made of (issue #6: at most 256 bytes per bypassed flow,
 * 128 of them the flow entry): 20 000 concurrent RTP flows hold at most
 * 64 bytes of analysis state each, and every one still gets its event. */
static void test_bypassed_media_flow_cost(void **state)
{
    (void)state;
    enum { FLOWS = 20000, PKTS = 80 };
    int media = 0;
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.on_event = on_media_json;
    cfg.user = &media;
    cfg.report_all = 1;
    struct kp_engine *eng;
    char err[256];
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    uint8_t f[256];
    uint64_t t = 1767225600000000ull;
    for (uint32_t i = 0; i < FLOWS; i++) {
        for (uint16_t k = 0; k < PKTS; k++) {
            size_t n = rtp_frame(f, i, (uint16_t)(1000 + k));
            assert_int_equal(kp_engine_feed(eng, 1, t++, f, n, n), KP_OK);
        }
    }
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    assert_int_equal(st.flows_active, FLOWS);
    assert_int_equal(st.mem_limited, 0);
    assert_true(st.mem_used > 0);
    assert_true(st.mem_used <= (uint64_t)FLOWS * 64);
    kp_engine_finish(eng);
    kp_engine_stats(eng, &st);
    assert_int_equal(st.mem_used, 0);
    assert_int_equal(st.media_flows, FLOWS);
    assert_int_equal(media, FLOWS);
    kp_engine_free(eng);
}

static void test_citizenlab_events(void **state)
{
    (void)state;
    struct seen s;
    memset(&s, 0, sizeof(s));
    struct kp_policy *pol;
    char err[256];
    assert_int_equal(kp_policy_new(&pol), KP_OK);
    assert_int_equal(kp_policy_flag(pol, "AS55960", err, sizeof(err)), KP_OK);
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.policy = pol;
    cfg.on_event = on_event;
    cfg.user = &s;
    cfg.hash_seed = 42;
    struct kp_engine *eng;
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    feed_file(eng, "citizenlab-2020.pcap");
    kp_engine_finish(eng);
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    assert_int_equal(st.packets, 404);
    /* every byte of per-flow state is given back, and some was used */
    assert_int_equal(st.mem_used, 0);
    assert_true(st.mem_peak > 0);
    assert_int_equal(st.mem_limited, 0);
    assert_int_equal(st.tls_handshakes, 2);
    assert_int_equal(st.key_records, 2);
    assert_int_equal(s.keys, 2);
    /* no geo database: the ASN is unknown, so the ASN rule cannot fire */
    assert_int_equal(s.flagged, 0);
    assert_non_null(strstr(s.json, "\"issuer\":{\"ip\":\"52.81.151.250\",\"port\":443,\"country\":null"));
    assert_non_null(strstr(s.json, "\"sni\":\"zc01.zoom.us\""));
    kp_engine_free(eng);
    kp_policy_free(pol);
}

/* A flow table with room for one flow: the TLS, DNS and media flows of the
 * sample evict each other constantly, yet every handshake that was seen is
 * still reported (finalised when its flow is evicted). */
static void test_eviction_keeps_records(void **state)
{
    (void)state;
    struct seen s;
    memset(&s, 0, sizeof(s));
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.max_flows = 1;
    cfg.on_event = on_event;
    cfg.user = &s;
    struct kp_engine *eng;
    char err[256];
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    feed_file(eng, "citizenlab-2020.pcap");
    kp_engine_finish(eng);
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    assert_true(st.flows_evicted_full > 0);
    assert_int_equal(st.flows_active, 0);
    int cn = 0, us = 0;
    for (int i = 0; i < s.keys && i < 8; i++) {
        cn += strcmp(s.issuers[i], "52.81.151.250") == 0;
        us += strcmp(s.issuers[i], "170.114.128.20") == 0;
    }
    assert_true(cn >= 1);
    assert_true(us >= 1);
    kp_engine_free(eng);
}

/* A host with its own flow table (like an IDS) keeps keyprov's per-flow
 * state and feeds IP packets: the records must be those of the engine's
 * own table. */
struct host_flow {
    uint8_t key[37]; /* proto, then the two (addr, port) ends in a canonical order */
    void *kp;
};

static void host_key(const uint8_t *ip, uint8_t key[37])
{
    /* IPv4 only in the sample: proto, src, dst, ports */
    const uint8_t *l4 = ip + (ip[0] & 0x0f) * 4;
    uint8_t a[6], b[6];
    memcpy(a, ip + 12, 4);
    memcpy(a + 4, l4, 2);
    memcpy(b, ip + 16, 4);
    memcpy(b + 4, l4 + 2, 2);
    memset(key, 0, 37);
    key[0] = ip[9];
    if (memcmp(a, b, 6) < 0) {
        memcpy(key + 1, a, 6);
        memcpy(key + 7, b, 6);
    } else {
        memcpy(key + 1, b, 6);
        memcpy(key + 7, a, 6);
    }
}

static void test_host_owned_flows(void **state)
{
    (void)state;
    struct seen s;
    memset(&s, 0, sizeof(s));
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.on_event = on_event;
    cfg.user = &s;
    struct kp_engine *eng;
    char err[256];
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    char path[4096], perr[PCAP_ERRBUF_SIZE];
    const char *src = getenv("KP_SRCDIR");
    snprintf(path, sizeof(path), "%s/samples/citizenlab-2020.pcap", src != NULL ? src : ".");
    pcap_t *p = pcap_open_offline(path, perr);
    assert_non_null(p);
    struct host_flow flows[16];
    size_t nflows = 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(p, &h, &d) == 1) {
        if (h->caplen < 14 + 28 || d[12] != 0x08 || d[13] != 0x00) {
            continue;
        }
        const uint8_t *ip = d + 14;
        uint8_t key[37];
        host_key(ip, key);
        struct host_flow *hf = NULL;
        for (size_t i = 0; i < nflows; i++) {
            if (memcmp(flows[i].key, key, 37) == 0) {
                hf = &flows[i];
            }
        }
        if (hf == NULL) {
            assert_true(nflows < 16);
            hf = &flows[nflows++];
            memcpy(hf->key, key, 37);
            hf->kp = aligned_alloc(16, (kp_flow_state_size() + 15) / 16 * 16);
            assert_non_null(hf->kp);
            kp_flow_state_init(hf->kp);
        }
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        assert_int_equal(kp_engine_feed_flow(eng, hf->kp, ts, ip, h->caplen - 14, h->len - 14), KP_OK);
    }
    pcap_close(p);
    /* a packet of another flow into a started state is refused */
    static const uint8_t other[28] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4,
                                      5, 6, 7, 8, 0, 1, 0, 2, 0, 8, 0, 0};
    assert_int_equal(kp_engine_feed_flow(eng, flows[0].kp, 0, other, 28, 28), KP_EINVAL);
    for (size_t i = 0; i < nflows; i++) {
        kp_flow_state_release(eng, flows[i].kp);
        free(flows[i].kp);
    }
    kp_engine_finish(eng);
    assert_int_equal(s.keys, 2);
    int cn = 0;
    for (int i = 0; i < s.keys; i++) {
        cn += strcmp(s.issuers[i], "52.81.151.250") == 0;
    }
    assert_int_equal(cn, 1);
    kp_engine_free(eng);
}

/* A memory budget too small for any analysis: packets are still counted,
 * nothing is analysed, nothing leaks, nothing crashes. */
static void test_memory_budget(void **state)
{
    (void)state;
    struct seen s;
    memset(&s, 0, sizeof(s));
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.mem_limit = 64;
    cfg.on_event = on_event;
    cfg.user = &s;
    struct kp_engine *eng;
    char err[256];
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    feed_file(eng, "citizenlab-2020.pcap");
    kp_engine_finish(eng);
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    assert_int_equal(st.packets, 404);
    assert_true(st.mem_limited > 0);
    assert_int_equal(st.mem_used, 0);
    assert_int_equal(s.keys, 0);
    kp_engine_free(eng);
}

static void test_config_and_errors(void **state)
{
    (void)state;
    struct kp_config cfg;
    struct kp_engine *eng = (struct kp_engine *)(uintptr_t)1;
    char err[256];
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_EINVAL); /* not initialised */
    assert_null(eng);
    kp_config_init(&cfg);
    assert_true(cfg.size == sizeof(cfg));
    cfg.max_flows = 0;
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_EINVAL);
    kp_config_init(&cfg);
    cfg.rules_path = "/nonexistent/services.rules";
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_EIO);
    assert_non_null(strstr(err, "/nonexistent/services.rules"));
    /* an older caller whose struct ends before `policy`: the rest defaults */
    kp_config_init(&cfg);
    cfg.size = offsetof(struct kp_config, geo);
    cfg.report_all = 1;
    cfg.policy = (const struct kp_policy *)(uintptr_t)0xdead; /* beyond its size: ignored */
    assert_int_equal(kp_engine_new(&eng, &cfg, err, sizeof(err)), KP_OK);
    static const uint8_t junk[3] = {1, 2, 3};
    assert_int_equal(kp_engine_feed(eng, 105, 0, junk, 3, 3), KP_ELINKTYPE);
    assert_int_equal(kp_engine_feed(eng, 1, 0, junk, 3, 3), KP_OK);
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    assert_int_equal(st.undecodable, 1);
    kp_engine_finish(eng);
    kp_engine_free(eng);
    kp_engine_free(NULL);
    assert_true(kp_linktype_supported(1));
    assert_false(kp_linktype_supported(105));
    assert_string_equal(kp_strerror(KP_ELINKTYPE), "unsupported link type");
    assert_string_equal(kp_version(), KP_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_citizenlab_events),
        cmocka_unit_test(test_feed_batch),
        cmocka_unit_test(test_bypassed_media_flow_cost),
        cmocka_unit_test(test_eviction_keeps_records),
        cmocka_unit_test(test_host_owned_flows),
        cmocka_unit_test(test_memory_budget),
        cmocka_unit_test(test_config_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
