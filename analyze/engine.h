/* Engine internals shared by the engine and the per-protocol flow glue. */
#ifndef KP_ENGINE_H
#define KP_ENGINE_H

#include "decode.h"
#include "flow.h"
#include "keyprov.h"

struct kp_rules;

#define KP_MAX_EVIDENCE 10

/* A key record: who issued or negotiated a session key. */
struct kp_key_rec {
    uint64_t ts_us;
    const char *service;    /* static or rules-owned string */
    const char *mechanism;  /* static string */
    const char *confidence; /* "high", "medium", "low" */
    const char *proto;      /* "tcp", "udp" */
    struct kp_addr client, issuer;
    uint16_t client_port, issuer_port;
    char client_ip[46], issuer_ip[46];
    struct kp_geo_info geo;
    const char *issuer_scope; /* kp_addr_scope() of the issuer, NULL if global */
    char sni[256];          /* raw server name bytes, NUL-terminated copy */
    size_t sni_len;
    char cert_subject[256], cert_issuer[256], cert_sans[512];
    char cert_cn[128], cert_org[128], cert_country[3], cert_sha256[65];
    int cert_self_signed;   /* -1 unknown */
    char tls_version[16];
    char cipher[8];         /* "0xc02f" */
    char alpn[128];         /* offered ALPN values, comma-separated */
    char ja4[40];
    char srtp[96];          /* SRTP protection profile(s): selected, else offered */
    char quic_version[24];  /* QUIC version name */
    int has_relay;          /* the key exchange went through a TURN relay */
    struct kp_addr relay;
    uint16_t relay_port;
    char relay_ip[46];
    struct kp_geo_info relay_geo;
    char sdes_suite[48];    /* SDES (RFC 4568) crypto suite */
    char sdes_key_sha256[33]; /* first 16 bytes of SHA-256 of the inline key, hex: never the key */
    const char *evidence[KP_MAX_EVIDENCE];
    size_t n_evidence;
    int flagged;
    char reason[200];
};

struct kp_anomaly {
    uint64_t ts_us;
    const char *name;    /* static: "tls.malformed", ... */
    const char *proto;
    char src_ip[46], dst_ip[46];
    uint16_t src_port, dst_port;
    char detail[160];
};

struct kp_event {
    enum kp_event_type type;
    const struct kp_key_rec *key;
    const struct kp_anomaly *anomaly;
};

struct kp_engine {
    struct kp_config cfg;
    struct kp_flow_table *flows;
    struct kp_rules *rules;
    struct kp_stats st;
    uint8_t *scratch; /* handshake reassembly scratch, KP_SCRATCH bytes */
    uint64_t now_us;
};

#define KP_SCRATCH (1u << 17)

/* Per-flow analysis state, allocated when a flow may carry a handshake and
 * freed as soon as the analysis of the flow is over. */
enum kp_app_kind { KP_APP_NONE = 0, KP_APP_TLS = 1, KP_APP_UDP = 2 };

/* Add evidence (static strings) to a record. */
void kp_key_add_evidence(struct kp_key_rec *k, const char *what);

/* Geolocate, apply the policy and deliver a key record. */
void kp_engine_emit_key(struct kp_engine *eng, struct kp_key_rec *k);

/* Deliver an anomaly for a flow packet. */
void kp_engine_anomaly(struct kp_engine *eng, const struct kp_pkt *pkt, const char *name,
                       const char *detail);

/* UDP media plane flow glue (udp_flow.c). */
void kp_udp_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt);
void kp_udp_flow_release(struct kp_engine *eng, struct kp_flow *f);

/* Which side of a flow sent packets in direction dir. */
void kp_flow_endpoint(const struct kp_flow *f, int dir, struct kp_addr *a, uint16_t *port);

/* TLS over TCP flow glue (tls_flow.c). */
void kp_tls_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt);
void kp_tls_flow_release(struct kp_engine *eng, struct kp_flow *f);

#endif
