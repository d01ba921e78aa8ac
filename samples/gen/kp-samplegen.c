/*
 * kp-samplegen: writes keyprov's sample captures. Each scenario (see
 * sg_scenario.c) becomes a pcap in which real OpenSSL TLS 1.2 sessions,
 * run in memory, and synthetic UDP flows are framed into Ethernet/IPv4
 * packets with fixed addresses, ports and timing. Everything except the
 * bytes OpenSSL randomises is identical on every run.
 */
#include "sg_cap.h"
#include "sg_frame.h"
#include "sg_rng.h"
#include "sg_scenario.h"
#include "sg_tcp.h"
#include "sg_tls.h"
#include "sg_udp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

/* Locally administered MACs: the client and its default gateway. */
static const uint8_t client_mac[6] = {0x02, 0x6b, 0x70, 0x00, 0x00, 0x01};
static const uint8_t gateway_mac[6] = {0x02, 0x6b, 0x70, 0x00, 0x00, 0xfe};

static const char usage_text[] =
	"usage: kp-samplegen SCENARIO -o OUT.pcap [--keylog FILE]\n"
	"       kp-samplegen --all -d DIR     (writes DIR/SCENARIO.pcap for every scenario)\n"
	"       kp-samplegen --list\n"
	"--keylog FILE appends the TLS session secrets (NSS key log format) for tshark's\n"
	"tls.keylog_file, to read the application data.\n";

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "kp-samplegen: %s%s%s (try --help)\n", msg, arg ? ": " : "", arg ? arg : "");
	return EXIT_USAGE;
}

static int run_flow(struct sg_cap *cap, struct sg_pki *pki, const struct sg_scenario *sc, size_t idx,
		    uint32_t client_ip, FILE *keylog, char *err, size_t errlen)
{
	const struct sg_flow *f = &sc->flows[idx];
	const struct sg_host *h = &sc->hosts[f->server];
	uint64_t t0 = (uint64_t)sc->start * 1000000u + (uint64_t)f->start_ms * 1000u;
	struct sg_rng rng;
	uint32_t server_ip;

	/* One PRNG stream per flow: editing one flow leaves the others' bytes alone. */
	sg_rng_init(&rng, sc->seed, idx + 1);
	if (!sg_parse_ipv4(h->ip, &server_ip)) {
		snprintf(err, errlen, "bad host address %s", h->ip);
		return -1;
	}

	if (f->kind == SG_FLOW_TLS) {
		struct sg_tcp_end ce;
		struct sg_tcp_end se;
		struct sg_tcp tcp;
		struct sg_tls_params prm;

		memset(&ce, 0, sizeof(ce));
		memcpy(ce.mac, client_mac, 6);
		ce.ip = client_ip;
		ce.port = f->client_port;
		ce.ttl = 64;
		ce.rate_kbps = 1000000;
		ce.isn = sg_rng_u32(&rng);
		ce.ts_base = sg_rng_u32(&rng);
		ce.syn_window = 64240;
		ce.wscale = 7;
		ce.window = 502;

		memset(&se, 0, sizeof(se));
		memcpy(se.mac, gateway_mac, 6);
		se.ip = server_ip;
		se.port = f->server_port;
		se.ttl = h->ttl;
		se.rate_kbps = h->rate_kbps;
		se.isn = sg_rng_u32(&rng);
		se.ts_base = sg_rng_u32(&rng);
		se.syn_window = 65160;
		se.wscale = 9;
		se.window = 128;

		sg_tcp_init(&tcp, cap, &ce, &se, h->rtt_us);
		memset(&prm, 0, sizeof(prm));
		prm.sni = f->name;
		prm.cert = f->cert;
		prm.exchanges = f->exchanges;
		prm.n_exchanges = f->n_exchanges;
		prm.close_after_ms = f->close_after_ms;
		prm.verify_time = sc->start;
		prm.keylog = keylog;
		return sg_tls_run(&tcp, t0, pki, &prm, &rng, err, errlen);
	} else {
		struct sg_udp_ends e;
		uint32_t answer;

		memset(&e, 0, sizeof(e));
		memcpy(e.client_mac, client_mac, 6);
		memcpy(e.server_mac, gateway_mac, 6);
		e.client_ip = client_ip;
		e.server_ip = server_ip;
		e.client_port = f->client_port;
		e.server_port = f->server_port;
		e.client_ttl = 64;
		e.server_ttl = h->ttl;
		e.rtt_us = h->rtt_us;
		if (f->kind == SG_FLOW_DNS) {
			if (!sg_parse_ipv4(sc->hosts[f->answer].ip, &answer) ||
			    sg_dns_run(cap, &e, t0, f->name, answer, &rng) != 0) {
				snprintf(err, errlen, "DNS flow %zu failed", idx);
				return -1;
			}
			return 0;
		}
		if (sg_zoom_media_run(cap, &e, t0, f->audio_ms, f->video_ms, &rng) != 0) {
			snprintf(err, errlen, "media flow %zu failed", idx);
			return -1;
		}
		return 0;
	}
}

static int run_scenario(const struct sg_scenario *sc, const char *out, FILE *keylog, char *err, size_t errlen)
{
	struct sg_cap cap;
	struct sg_pki pki;
	uint32_t client_ip;
	size_t i;
	int rc = -1;

	if (!sg_parse_ipv4(sc->client_ip, &client_ip)) {
		snprintf(err, errlen, "bad client address %s", sc->client_ip);
		return -1;
	}
	sg_cap_init(&cap, sc->seed);
	if (sg_pki_init(&pki, err, errlen) != 0) {
		goto out_cap;
	}
	for (i = 0; i < sc->n_flows; i++) {
		if (run_flow(&cap, &pki, sc, i, client_ip, keylog, err, errlen) != 0) {
			goto out_pki;
		}
	}
	rc = sg_cap_write(&cap, out, err, errlen);
out_pki:
	sg_pki_free(&pki);
out_cap:
	sg_cap_free(&cap);
	return rc;
}

static void list_scenarios(void)
{
	size_t i;
	size_t j;

	for (i = 0; i < sg_n_scenarios; i++) {
		const struct sg_scenario *sc = sg_scenarios[i];

		printf("%s\t%s\n", sc->name, sc->summary);
		printf("\tclient %s  %s\n", sc->client_ip, sc->client_where);
		for (j = 0; j < sc->n_flows; j++) {
			const struct sg_flow *f = &sc->flows[j];
			const struct sg_host *h = &sc->hosts[f->server];
			const char *kind = f->kind == SG_FLOW_TLS ? "tls" : f->kind == SG_FLOW_DNS ? "dns" : "zoom-media";

			printf("\t%-10s :%-5u -> %s:%u  %s%s%s\n", kind, (unsigned)f->client_port, h->ip,
			       (unsigned)f->server_port, h->where, f->name ? "  " : "", f->name ? f->name : "");
		}
	}
}

int main(int argc, char **argv)
{
	const char *scenario = NULL;
	const char *out = NULL;
	const char *dir = NULL;
	const char *keylog_path = NULL;
	FILE *keylog = NULL;
	bool all = false;
	int rc;
	char err[512];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else if (strcmp(a, "--list") == 0) {
			list_scenarios();
			return 0;
		} else if (strcmp(a, "--all") == 0) {
			all = true;
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "-d") == 0 || strcmp(a, "--keylog") == 0) {
			if (i + 1 >= argc) {
				return usage_error("missing argument after", a);
			}
			if (a[1] == 'o') {
				out = argv[++i];
			} else if (a[1] == 'd') {
				dir = argv[++i];
			} else {
				keylog_path = argv[++i];
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option", a);
		} else if (scenario == NULL) {
			scenario = a;
		} else {
			return usage_error("more than one scenario", a);
		}
	}

	if (all) {
		size_t k;

		if (dir == NULL || scenario != NULL || out != NULL || keylog_path != NULL) {
			return usage_error("--all takes only -d DIR", NULL);
		}
		for (k = 0; k < sg_n_scenarios; k++) {
			char path[4096];
			int n = snprintf(path, sizeof(path), "%s/%s.pcap", dir, sg_scenarios[k]->name);

			if (n < 0 || (size_t)n >= sizeof(path)) {
				return usage_error("directory name too long", dir);
			}
			if (run_scenario(sg_scenarios[k], path, NULL, err, sizeof(err)) != 0) {
				fprintf(stderr, "kp-samplegen: %s: %s\n", sg_scenarios[k]->name, err);
				return 1;
			}
			printf("wrote %s\n", path);
		}
		return 0;
	}
	if (scenario == NULL) {
		return usage_error("no scenario given", NULL);
	}
	if (out == NULL || dir != NULL) {
		return usage_error("a scenario needs -o OUT.pcap", NULL);
	}
	if (sg_scenario_find(scenario) == NULL) {
		return usage_error("unknown scenario (see --list)", scenario);
	}
	if (keylog_path != NULL) {
		keylog = fopen(keylog_path, "a");
		if (keylog == NULL) {
			fprintf(stderr, "kp-samplegen: %s: cannot open for appending\n", keylog_path);
			return 1;
		}
	}
	rc = run_scenario(sg_scenario_find(scenario), out, keylog, err, sizeof(err));
	if (keylog != NULL && fclose(keylog) != 0 && rc == 0) {
		snprintf(err, sizeof(err), "%s: write failed", keylog_path);
		rc = -1;
	}
	if (rc != 0) {
		fprintf(stderr, "kp-samplegen: %s: %s\n", scenario, err);
		return 1;
	}
	return 0;
}
