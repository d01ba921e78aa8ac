#include "sg_scenario.h"

#include <string.h>

/*
 * Every address below was checked against
 * @ip-location-db/geo-whois-asn-country-mmdb and @ip-location-db/asn
 * 2.3.2026061719 (see samples/README.md). Everything else is invented: names, certificates
 * (issued by the synthetic "keyprov Sample Root CA"), ports and timing.
 */

static const char *const zoom_sans[] = {"*.zoom.us", "zoom.us", NULL};

/* The certificate Zoom's servers presented in 2020, reissued by the sample CA. */
static const struct sg_cert_profile cert_zoom = {
	.cn = "*.zoom.us",
	.o = "Zoom Video Communications, Inc.",
	.l = "San Jose",
	.st = "California",
	.c = "US",
	.sans = zoom_sans,
	.serial = 0x0a5a4f4f4d2e5553u,
	.not_before = 1578614400, /* 2020-01-10T00:00:00Z */
	.not_after = 1610236800,  /* 2021-01-10T00:00:00Z */
};

/* The web API: join the meeting, get the zone controller to talk to. */
static const struct sg_exchange web_join[] = {
	{.gap_ms = 0, .path = "/wc/join", .request_len = 520, .response_len = 2400, .server_proc_us = 4000},
};

/* The zone controller: join, then the meeting key delivered over the control channel. */
static const struct sg_exchange zc_join_key[] = {
	{.gap_ms = 0, .path = "/conf/join", .request_len = 380, .response_len = 640, .server_proc_us = 2500},
	{.gap_ms = 900, .path = "/conf/key", .request_len = 160, .response_len = 420, .server_proc_us = 1500},
};

/* --- citizenlab-2020 ------------------------------------------------------ */

enum {
	CL_RESOLVER,
	CL_WEB,
	CL_ZC_BEIJING,
	CL_MMR,
};

static const struct sg_host citizenlab_hosts[] = {
	[CL_RESOLVER] = {.ip = "149.112.121.10", .ttl = 58, .rtt_us = 9000, .rate_kbps = 100000,
			 .where = "CA, AS40568 CIRA (Canadian Shield DNS resolver)"},
	[CL_WEB] = {.ip = "170.114.128.20", .ttl = 52, .rtt_us = 30000, .rate_kbps = 100000,
		    .where = "US, AS30103 Zoom Video Communications"},
	[CL_ZC_BEIJING] = {.ip = "52.81.151.250", .ttl = 44, .rtt_us = 180000, .rate_kbps = 20000,
			   .where = "CN, AS55960 Beijing Guanghuan Xinwang (AWS Beijing)"},
	[CL_MMR] = {.ip = "170.114.128.50", .ttl = 52, .rtt_us = 30000, .rate_kbps = 100000,
		    .where = "US, AS30103 Zoom Video Communications"},
};

static const struct sg_flow citizenlab_flows[] = {
	{.kind = SG_FLOW_DNS, .start_ms = 0, .server = CL_RESOLVER, .client_port = 53211, .server_port = 53,
	 .name = "us04web.zoom.us", .answer = CL_WEB},
	{.kind = SG_FLOW_TLS, .start_ms = 15, .server = CL_WEB, .client_port = 50414, .server_port = 443,
	 .name = "us04web.zoom.us", .cert = &cert_zoom, .exchanges = web_join, .n_exchanges = 1,
	 .close_after_ms = 2500},
	{.kind = SG_FLOW_DNS, .start_ms = 260, .server = CL_RESOLVER, .client_port = 53212, .server_port = 53,
	 .name = "zc01.zoom.us", .answer = CL_ZC_BEIJING},
	{.kind = SG_FLOW_TLS, .start_ms = 275, .server = CL_ZC_BEIJING, .client_port = 50415, .server_port = 443,
	 .name = "zc01.zoom.us", .cert = &cert_zoom, .exchanges = zc_join_key, .n_exchanges = 2,
	 .close_after_ms = 1500},
	{.kind = SG_FLOW_ZOOM_MEDIA, .start_ms = 1400, .server = CL_MMR, .client_port = 54321, .server_port = 8801,
	 .audio_ms = 3000, .video_ms = 1500},
};

static const struct sg_scenario citizenlab_2020 = {
	.name = "citizenlab-2020",
	.summary = "Canadian client; Zoom meeting key delivered over TLS by a server in Beijing (52.81.151.250); "
		   "web API and media in the US",
	.seed = 0x43697a4c61623230u,
	.start = 1585836000, /* 2020-04-02T14:00:00Z */
	.client_ip = "142.150.190.10",
	.client_where = "CA, AS239 University of Toronto",
	.hosts = citizenlab_hosts,
	.n_hosts = sizeof(citizenlab_hosts) / sizeof(citizenlab_hosts[0]),
	.flows = citizenlab_flows,
	.n_flows = sizeof(citizenlab_flows) / sizeof(citizenlab_flows[0]),
};

/* --- clean-meeting -------------------------------------------------------- */

enum {
	CM_RESOLVER,
	CM_WEB,
	CM_ZC,
	CM_MMR,
};

static const struct sg_host clean_hosts[] = {
	[CM_RESOLVER] = {.ip = "8.8.8.8", .ttl = 120, .rtt_us = 11000, .rate_kbps = 100000,
			 .where = "US, AS15169 Google (DNS resolver)"},
	[CM_WEB] = {.ip = "170.114.128.20", .ttl = 53, .rtt_us = 25000, .rate_kbps = 100000,
		    .where = "US, AS30103 Zoom Video Communications"},
	[CM_ZC] = {.ip = "3.235.82.1", .ttl = 230, .rtt_us = 40000, .rate_kbps = 100000,
		   .where = "US, AS14618 Amazon (AWS)"},
	[CM_MMR] = {.ip = "170.114.128.50", .ttl = 53, .rtt_us = 25000, .rate_kbps = 100000,
		    .where = "US, AS30103 Zoom Video Communications"},
};

static const struct sg_flow clean_flows[] = {
	{.kind = SG_FLOW_DNS, .start_ms = 0, .server = CM_RESOLVER, .client_port = 61001, .server_port = 53,
	 .name = "us04web.zoom.us", .answer = CM_WEB},
	{.kind = SG_FLOW_TLS, .start_ms = 18, .server = CM_WEB, .client_port = 51876, .server_port = 443,
	 .name = "us04web.zoom.us", .cert = &cert_zoom, .exchanges = web_join, .n_exchanges = 1,
	 .close_after_ms = 2500},
	{.kind = SG_FLOW_DNS, .start_ms = 200, .server = CM_RESOLVER, .client_port = 61002, .server_port = 53,
	 .name = "zc02.zoom.us", .answer = CM_ZC},
	{.kind = SG_FLOW_TLS, .start_ms = 220, .server = CM_ZC, .client_port = 51877, .server_port = 443,
	 .name = "zc02.zoom.us", .cert = &cert_zoom, .exchanges = zc_join_key, .n_exchanges = 2,
	 .close_after_ms = 1500},
	{.kind = SG_FLOW_ZOOM_MEDIA, .start_ms = 900, .server = CM_MMR, .client_port = 54321, .server_port = 8801,
	 .audio_ms = 3000, .video_ms = 1500},
};

static const struct sg_scenario clean_meeting = {
	.name = "clean-meeting",
	.summary = "US client; every Zoom server (web API, key-delivering control channel, media) in the US",
	.seed = 0x436c65616e4d7467u,
	.start = 1585843200, /* 2020-04-02T16:00:00Z */
	.client_ip = "73.162.10.20",
	.client_where = "US, AS7922 Comcast",
	.hosts = clean_hosts,
	.n_hosts = sizeof(clean_hosts) / sizeof(clean_hosts[0]),
	.flows = clean_flows,
	.n_flows = sizeof(clean_flows) / sizeof(clean_flows[0]),
};

const struct sg_scenario *const sg_scenarios[] = {
	&citizenlab_2020,
	&clean_meeting,
};

const size_t sg_n_scenarios = sizeof(sg_scenarios) / sizeof(sg_scenarios[0]);

const struct sg_scenario *sg_scenario_find(const char *name)
{
	size_t i;

	for (i = 0; i < sg_n_scenarios; i++) {
		if (strcmp(sg_scenarios[i]->name, name) == 0) {
			return sg_scenarios[i];
		}
	}
	return NULL;
}
