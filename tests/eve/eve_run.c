/* eve_run: runs the engine through the public API over a capture and writes
 * its events with cli/eve.c, as `keyprov --eve` does.  For eve_check.py.
 *
 *   eve_run [--geo DIR] [--flag SPEC] [--allow SPEC] [--all] PCAP OUT
 *
 * --geo DIR opens DIR/country.mmdb and DIR/asn.mmdb (no geolocation
 * without it).  OUT is the EVE file ('-': standard output).  Exit 0, or 2
 * with a one-line message. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"
#include "keyprov.h"

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "eve_run: %s: %s\n", what, msg);
    return 2;
}

static void on_event(const struct kp_event *ev, void *user) { kp_eve_event(user, ev); }

int main(int argc, char **argv)
{
    const char *geo_dir = NULL, *pcap_path = NULL, *out_path = NULL;
    char err[512];
    int all = 0, rc = 0;
    struct kp_policy *pol = NULL;
    if (kp_policy_new(&pol) != KP_OK) {
        return fail("policy", "out of memory");
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--geo") == 0 && i + 1 < argc) {
            geo_dir = argv[++i];
        } else if (strcmp(argv[i], "--flag") == 0 && i + 1 < argc) {
            if (kp_policy_flag(pol, argv[++i], err, sizeof(err)) != KP_OK) {
                return fail("--flag", err);
            }
        } else if (strcmp(argv[i], "--allow") == 0 && i + 1 < argc) {
            if (kp_policy_allow(pol, argv[++i], err, sizeof(err)) != KP_OK) {
                return fail("--allow", err);
            }
        } else if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else if (pcap_path == NULL) {
            pcap_path = argv[i];
        } else if (out_path == NULL) {
            out_path = argv[i];
        } else {
            return fail(argv[i], "unexpected argument");
        }
    }
    if (pcap_path == NULL || out_path == NULL) {
        return fail("usage", "eve_run [--geo DIR] [--flag SPEC] [--allow SPEC] [--all] PCAP OUT");
    }

    struct kp_geo *geo = NULL;
    if (geo_dir != NULL) {
        char c[4096], a[4096];
        snprintf(c, sizeof(c), "%s/country.mmdb", geo_dir);
        snprintf(a, sizeof(a), "%s/asn.mmdb", geo_dir);
        if (kp_geo_open(&geo, c, a, err, sizeof(err)) != KP_OK) {
            return fail("geo", err);
        }
    }
    struct kp_eve *eve = kp_eve_open(out_path, err, sizeof(err));
    if (eve == NULL) {
        return fail("eve", err);
    }
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.geo = geo;
    cfg.policy = pol;
    cfg.report_all = all;
    cfg.on_event = on_event;
    cfg.user = eve;
    cfg.hash_seed = 1;
    struct kp_engine *eng = NULL;
    if (kp_engine_new(&eng, &cfg, err, sizeof(err)) != KP_OK) {
        return fail("engine", err);
    }
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(pcap_path, perr);
    if (p == NULL) {
        return fail(pcap_path, perr);
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        if (kp_engine_feed(eng, pcap_datalink(p), ts, d, h->caplen, h->len) != KP_OK) {
            rc = fail(pcap_path, "unsupported link type");
            break;
        }
    }
    pcap_close(p);
    kp_engine_finish(eng);
    if (kp_eve_close(eve, err, sizeof(err)) != 0) {
        rc = fail("close", err);
    }
    kp_engine_free(eng);
    kp_policy_free(pol);
    kp_geo_free(geo);
    return rc;
}
