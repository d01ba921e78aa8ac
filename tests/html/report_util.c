/* See report_util.h.  Public API only, plus cli/html.h. */
#include "report_util.h"

#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "keyprov.h"

static void on_event(const struct kp_event *ev, void *user) { kp_html_event(user, ev); }

static int feed_jsonl(struct kp_html *h, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            n--;
        }
        if (n > 0 && line[0] != '#') {
            kp_html_event_json(h, line, (size_t)n);
        }
    }
    free(line);
    fclose(fp);
    return 0;
}

int make_report(const struct report_opts *o, char *err, size_t errlen)
{
    int rc = -1;
    struct kp_geo *geo = NULL;
    struct kp_policy *pol = NULL;
    struct kp_engine *eng = NULL;
    pcap_t *p = NULL;
    struct kp_html *h = NULL;
    char perr[PCAP_ERRBUF_SIZE];

    if (o->country_db != NULL && kp_geo_open(&geo, o->country_db, o->asn_db, err, errlen) != KP_OK) {
        goto out;
    }
    if (kp_policy_new(&pol) != KP_OK ||
        (o->flag != NULL && kp_policy_flag(pol, o->flag, err, errlen) != KP_OK)) {
        goto out;
    }
    h = kp_html_open(o->out, o->map, err, errlen);
    if (h == NULL) {
        goto out;
    }
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.geo = geo;
    cfg.policy = pol;
    cfg.on_event = on_event;
    cfg.user = h;
    cfg.hash_seed = 42;
    if (kp_engine_new(&eng, &cfg, err, errlen) != KP_OK) {
        goto out;
    }
    p = pcap_open_offline(o->pcap, perr);
    if (p == NULL) {
        snprintf(err, errlen, "%s", perr);
        goto out;
    }
    struct pcap_pkthdr *ph;
    const u_char *d;
    while (pcap_next_ex(p, &ph, &d) == 1) {
        uint64_t ts = (uint64_t)ph->ts.tv_sec * 1000000u + (uint64_t)ph->ts.tv_usec;
        kp_engine_feed(eng, pcap_datalink(p), ts, d, ph->caplen, ph->len);
    }
    kp_engine_finish(eng);
    if (o->extra_jsonl != NULL && feed_jsonl(h, o->extra_jsonl, err, errlen) != 0) {
        goto out;
    }
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    char stats[1024];
    snprintf(stats, sizeof(stats),
             "{\"event_type\":\"stats\",\"schema\":%d,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
             ",\"tcp\":%" PRIu64 ",\"udp\":%" PRIu64 ",\"flows\":%" PRIu64
             ",\"tls_handshakes\":%" PRIu64 ",\"key_records\":%" PRIu64 ",\"flagged\":%" PRIu64
             ",\"media_flows\":%" PRIu64 ",\"sessions\":%" PRIu64
             ",\"sessions_violation\":%" PRIu64 ",\"truncated\":false}",
             KP_EVENT_SCHEMA_VERSION, st.packets, st.bytes, st.tcp, st.udp, st.flows_created,
             st.tls_handshakes, st.key_records, st.flagged, st.media_flows, st.sessions,
             st.sessions_violation);
    const char *title = o->title;
    if (title == NULL) {
        const char *slash = strrchr(o->pcap, '/');
        title = slash != NULL ? slash + 1 : o->pcap;
    }
    struct kp_html *hh = h;
    h = NULL;
    rc = kp_html_close(hh, title, stats, err, errlen);
out:
    if (h != NULL) {
        char ignored[64];
        kp_html_close(h, "aborted", NULL, ignored, sizeof(ignored));
    }
    if (p != NULL) {
        pcap_close(p);
    }
    kp_engine_free(eng);
    kp_policy_free(pol);
    kp_geo_free(geo);
    return rc;
}
