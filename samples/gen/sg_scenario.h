/*
 * sg_scenario: the sample scenarios, described as data. A scenario is one
 * client, a table of remote hosts and a table of flows between them; the
 * generator turns each flow into packets with sg_tls, sg_media and sg_dns.
 */
#ifndef SG_SCENARIO_H
#define SG_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

/* A synthetic certificate issued by the sample CA. Names are RFC 4514 parts. */
struct sg_cert_profile {
	const char *cn;
	const char *o;
	const char *l;
	const char *st;
	const char *c;
	const char *const *sans; /* DNS names, NULL-terminated */
	uint64_t serial;
	int64_t not_before;      /* Unix seconds */
	int64_t not_after;
};

struct sg_host {
	const char *ip;
	uint8_t ttl;        /* TTL of its packets at the capture point */
	uint32_t rtt_us;    /* round trip from the client */
	uint32_t rate_kbps; /* the rate its back-to-back segments arrive at */
	const char *where;  /* for --list and the README: country (ASN, operator) */
};

/* One TLS application-data exchange: the client asks, the server answers. */
struct sg_exchange {
	uint32_t gap_ms;        /* client think time before the request */
	const char *path;       /* HTTP-like request line target */
	uint32_t request_len;   /* plaintext bytes */
	uint32_t response_len;  /* plaintext bytes */
	uint32_t server_proc_us;
};

enum sg_flow_kind {
	SG_FLOW_DNS,        /* UDP query and answer for an A record */
	SG_FLOW_TLS,        /* TCP connection with a TLS 1.2 session */
	SG_FLOW_ZOOM_MEDIA  /* Zoom multimedia-router UDP flow */
};

struct sg_flow {
	enum sg_flow_kind kind;
	uint32_t start_ms;      /* after the scenario start */
	size_t server;          /* index into the host table */
	uint16_t client_port;
	uint16_t server_port;
	const char *name;       /* TLS: SNI; DNS: the name asked */
	size_t answer;          /* DNS: host whose address is the answer */
	const struct sg_cert_profile *cert; /* TLS */
	const struct sg_exchange *exchanges; /* TLS */
	size_t n_exchanges;
	uint32_t close_after_ms; /* TLS: idle time before close_notify */
	uint32_t audio_ms;      /* media: audio duration, each direction */
	uint32_t video_ms;      /* media: video duration, each direction */
};

struct sg_scenario {
	const char *name;
	const char *summary;
	uint64_t seed;
	int64_t start;           /* Unix seconds */
	const char *client_ip;
	const char *client_where;
	const struct sg_host *hosts;
	size_t n_hosts;
	const struct sg_flow *flows;
	size_t n_flows;
};

/* The scenario table, and its length. */
extern const struct sg_scenario *const sg_scenarios[];
extern const size_t sg_n_scenarios;

/* The scenario named name, or NULL. */
const struct sg_scenario *sg_scenario_find(const char *name);

#endif
