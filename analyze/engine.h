/* Engine internals shared by the engine and the per-protocol flow glue. */
#ifndef KP_ENGINE_H
#define KP_ENGINE_H

#include "decode.h"
#include "flow.h"
#include "keyprov.h"
#include "x509.h"

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
    /* Corroboration (beyond IP geolocation): what the names say. */
    char name_country[3];        /* from the server name's ccTLD or a region label */
    const char *name_country_how; /* "cctld", "region-label" */
    char corroboration_note[120]; /* a disagreement, e.g. "IP in CN, certificate C=US" */
};

struct kp_anomaly {
    uint64_t ts_us;
    const char *name;    /* static: "tls.malformed", ... */
    const char *proto;
    char src_ip[46], dst_ip[46];
    uint16_t src_port, dst_port;
    char detail[160];
};

/* A media flow: what carries the session once the keys are agreed. */
struct kp_media_rec {
    uint64_t ts_us, last_us;
    const char *service;     /* static or rules-owned */
    const char *kind;        /* "zoom", "rtp", "srtp" */
    struct kp_addr client, server;
    uint16_t client_port, server_port;
    char client_ip[46], server_ip[46];
    const char *server_scope;
    struct kp_geo_info geo;
    uint64_t packets, bytes;
    uint32_t ssrc;           /* first validated SSRC (0 if none) */
    uint32_t ssrc_count;
    int payload_type;        /* RTP payload type of the validated stream, -1 if none */
    char linked_issuer_ip[46]; /* the key issuer this flow is tied to ("" if none) */
    uint16_t linked_issuer_port;
    const char *linked_mechanism;
    const char *evidence[KP_MAX_EVIDENCE];
    size_t n_evidence;
    /* What the flow knows; kp_engine_emit_media() resolves the rest (the SDP
     * that announced the flow, the key exchange it belongs to). */
    int zoom;                  /* Zoom media: kind, service, client and server are set */
    struct kp_addr ep[2];      /* the flow's ends, [0] sent its first packet */
    uint16_t ep_port[2];
    int srtcp;                 /* SRTCP seen (encrypted RTCP) */
    int dtls_keyed;            /* a DTLS-SRTP key record came from this flow */
    const char *relay_service; /* the service of the TURN relay it went through, or NULL */
    int stun_or_dtls;          /* STUN or DTLS seen on the flow (WebRTC) */
};

/* Sessions: one client, one service (session.c). */
#define KP_SESSIONS 1024
#define KP_SESSION_HOLDERS 8
#define KP_SESSION_FLOWS 16
#define KP_SESSION_REASONS 4
#define KP_SESSION_NOTES 4

struct kp_holder {
    struct kp_addr addr;
    uint16_t port;
    char ip[46];
    struct kp_geo_info geo;
    const char *scope;
    const char *mechanism;
    const char *confidence;
    char sni[128];
    int flagged;
    char reason[200];
};

struct kp_sess_flow {
    const char *proto;
    uint16_t client_port;
    char server[64];       /* ip:port */
    const char *role;      /* "key-exchange", "relayed-key-exchange", "relay", "media", ... */
    const char *link;      /* why it belongs to this session */
};

struct kp_session {
    uint32_t id;
    struct kp_addr client;
    char client_ip[46];
    const char *service;
    uint64_t first_us, last_us;
    uint32_t keys, media, flagged, cleartext, e2ee, server_keys, low_confidence;
    uint8_t corroboration_conflict;
    struct kp_holder holders[KP_SESSION_HOLDERS];
    size_t nholders, holders_total;
    struct kp_sess_flow flows[KP_SESSION_FLOWS];
    size_t nflows, flows_total;
    char reasons[KP_SESSION_REASONS][200];
    size_t nreasons;
    char notes[KP_SESSION_NOTES][200];
    size_t nnotes;
    const char *holder;    /* "server", "endpoints", "anyone-on-path", "unknown" */
    const char *verdict;   /* "violation", "review", "ok" */
};

struct kp_sessions {
    struct kp_session *s[KP_SESSIONS];
    uint32_t tag[KP_SESSIONS]; /* hash of s[i]'s (client, service); a lookup scans these
                                  4 KiB and reads only the sessions whose tag matches */
    uint32_t next_id;
    uint64_t last_sweep_us;
};

/* A flow, when it leaves the table (flow events, on request). */
struct kp_flow_rec {
    uint64_t ts_us, last_us;
    const char *proto;
    char client_ip[46], server_ip[46];
    uint16_t client_port, server_port;
    uint64_t pkts[2], bytes[2];   /* 0: from the client (the initiator) */
    uint16_t seen;                /* KP_SEEN_* */
    const char *end;              /* "idle", "evicted", "end" */
};

struct kp_event {
    enum kp_event_type type;
    const struct kp_flow_rec *flow;
    const struct kp_key_rec *key;
    const struct kp_anomaly *anomaly;
    const struct kp_media_rec *media;
    const struct kp_session *session;
};

/* Recent key issuers per client, so that media flows can name the key
 * exchange they belong to (a Zoom client's multimedia router and its TLS
 * control channel). */
#define KP_LINKS 256
struct kp_link {
    struct kp_addr client;
    struct kp_addr issuer;
    uint16_t issuer_port;
    const char *service;
    const char *mechanism;
    uint64_t ts_us;
};

/* Media endpoints announced in SDP (c= and m=), to recognise the flows. */
#define KP_EXPECTS 256
struct kp_expect {
    struct kp_addr addr;
    uint16_t port;
    uint8_t used, srtp, sdes;
    uint64_t ts_us;
};

/* SDES key hashes already reported (a call's SDP repeats in re-INVITEs and
 * retransmissions). */
#define KP_SDES_SEEN 64

/* Summaries of recently seen certificates: servers send the same chain to
 * every client, and decoding one with OpenSSL is the most expensive thing
 * keyprov does per handshake (OpenSSL 3 decodes the public key through its
 * provider machinery).  KP_CERT_SETS sets of KP_CERT_WAYS entries, indexed by
 * a keyed hash of the DER, replaced round robin within a set; certificates
 * OpenSSL rejects are remembered too.  About 2 KiB per entry, touched only
 * when used. */
#define KP_CERT_SETS 256
#define KP_CERT_WAYS 4
#define KP_CERT_CACHE (KP_CERT_SETS * KP_CERT_WAYS)

struct kp_cert_slot {
    uint64_t hash;
    size_t len;        /* 0: empty */
    enum kp_res res;   /* what kp_x509_summarize() returned */
    struct kp_cert_info info;
};

struct kp_workers;
struct kp_worker;

/* Geolocation answers of recently seen addresses (direct-mapped by a keyed
 * hash): records of one server repeat, and a lookup walks two MaxMind
 * trees. */
#define KP_GEO_CACHE 512
struct kp_geo_slot {
    struct kp_addr addr;
    uint8_t used;
    struct kp_geo_info info;
};

struct kp_engine {
    struct kp_config cfg;
    struct kp_workers *workers; /* cfg.workers > 1: this engine dispatches and delivers */
    struct kp_worker *wctx;     /* set in a worker's engine: records go to the delivery stage */
    int rules_borrowed;         /* rules belong to another engine */
    struct kp_flow_table *flows;
    struct kp_rules *rules;
    struct kp_stats st;
    uint8_t *scratch; /* handshake reassembly scratch, KP_SCRATCH bytes */
    uint64_t now_us;        /* the capture's latest time */
    uint64_t next_sweep_us; /* kp_engine_tick(): next idle expiry sweep */
    struct kp_link links[KP_LINKS];
    unsigned next_link;
    struct kp_expect expects[KP_EXPECTS];
    unsigned next_expect;
    uint8_t sdes_seen[KP_SDES_SEEN][16];
    unsigned next_sdes;
    uint64_t media_flows;
    struct kp_sessions sessions;
    struct kp_geo_slot *geo_cache; /* KP_GEO_CACHE entries */
    struct kp_cert_slot *cert_cache;          /* KP_CERT_CACHE entries, allocated with the engine */
    uint8_t cert_next[KP_CERT_SETS]; /* next way to replace, per set */
};

#define KP_SCRATCH (1u << 17)

/* Per-flow analysis state, allocated when a flow may carry a handshake and
 * freed as soon as the analysis of the flow is over. */
enum kp_app_kind {
    KP_APP_NONE = 0,
    KP_APP_TLS = 1,   /* struct kp_tls_app (tls_flow.c) */
    KP_APP_UDP = 2,   /* struct kp_udp_app (udp_flow.c) */
    KP_APP_MEDIA = 3  /* a bypassed media flow's summary (udp_flow.c) */
};

/* Expire idle flows if the capture's time crossed a tick since the last
 * sweep. */
void kp_engine_tick(struct kp_engine *eng);

/* The packet path once a frame is decoded (kp_decode's result r and pkt):
 * count it and, for a TCP or UDP packet that is not a fragment, find its
 * flow by key (from kp_flow_key_make, src_is_a its result) and hash (the
 * table's kp_flow_table_hash of key) and analyse it.  key, hash and
 * src_is_a are ignored for other frames. */
void kp_engine_feed_decoded(struct kp_engine *eng, enum kp_res r, const struct kp_pkt *pkt,
                            uint64_t ts_us, size_t wirelen, const struct kp_flow_key *key,
                            uint32_t hash, bool src_is_a);
/* kp_engine_feed without workers, with the flow's hash when the caller
 * knows it already (have_hash). */
void kp_engine_feed_hashed(struct kp_engine *eng, int linktype, uint64_t ts_us,
                           const uint8_t *data, size_t caplen, size_t wirelen, bool have_hash,
                           uint32_t hash);

/* kp_geo_lookup_addr through the engine's cache (zeroed out if there is no
 * geolocation database). */
void kp_engine_geo(struct kp_engine *eng, const struct kp_addr *a, struct kp_geo_info *out);

/* kp_x509_summarize through the engine's cache (a keyed hash of the DER). */
enum kp_res kp_engine_cert(struct kp_engine *eng, const uint8_t *der, size_t len,
                           struct kp_cert_info *out);

/* Copy a view of packet bytes into a NUL-terminated buffer (cut to fit). */
size_t kp_copy_view(char *dst, size_t cap, struct kp_rd v);

/* The offered ALPN names as one comma-separated printable string. */
struct kp_tls_client_hello;
void kp_alpn_text(char *dst, size_t cap, const struct kp_tls_client_hello *ch);

/* Per-flow analysis state is allocated against cfg.mem_limit, so that a
 * flood of half-open handshakes cannot exhaust memory: NULL (and
 * st.mem_limited counted) when the budget or malloc says no. */
void *kp_engine_alloc(struct kp_engine *eng, size_t n);
void kp_engine_free_state(struct kp_engine *eng, void *p, size_t n);
/* Account for memory grown or shrunk elsewhere (reassembly buffers);
 * false if growing past the budget (nothing is accounted then). */
bool kp_engine_account(struct kp_engine *eng, int64_t delta);

/* Add evidence (static strings) to a record. */
void kp_key_add_evidence(struct kp_key_rec *k, const char *what);

/* Geolocate, apply the policy and deliver a key record. */
void kp_engine_emit_key(struct kp_engine *eng, struct kp_key_rec *k);

/* The service of a UDP server from the rules: certificate names, then the
 * server's network or AS, then its port (*how says which); NULL if none. */
const char *kp_engine_classify_server(struct kp_engine *eng, const struct kp_addr *server,
                                      uint16_t port, const struct kp_cert_info *cert,
                                      const char **how);

/* Resolve (see kp_media_rec) and deliver a media flow record. */
void kp_engine_emit_media(struct kp_engine *eng, struct kp_media_rec *m);
void kp_media_add_evidence(struct kp_media_rec *m, const char *what);

/* The most recent key record of `service` for `client` (NULL if none). */
const struct kp_link *kp_engine_find_link(const struct kp_engine *eng, const struct kp_addr *client,
                                          const char *service);

/* Remember media endpoints announced in SDP; look them up. */
void kp_engine_expect(struct kp_engine *eng, const struct kp_addr *a, uint16_t port, bool srtp,
                      bool sdes);
const struct kp_expect *kp_engine_expected(const struct kp_engine *eng, const struct kp_addr *a,
                                           uint16_t port);

/* True the first time an SDES key hash is seen (then remembered). */
bool kp_engine_sdes_first(struct kp_engine *eng, const uint8_t hash[16]);

/* Deliver an anomaly for a flow packet. */
void kp_engine_anomaly(struct kp_engine *eng, const struct kp_pkt *pkt, const char *name,
                       const char *detail);

/* UDP media plane flow glue (udp_flow.c). */
void kp_udp_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt);
void kp_udp_flow_release(struct kp_engine *eng, struct kp_flow *f);

/* Which side of a flow sent packets in direction dir. */
void kp_flow_endpoint(const struct kp_flow *f, int dir, struct kp_addr *a, uint16_t *port);

/* SIP messages from UDP or TCP (sip_flow.c): SDES key records and SDP
 * media expectations. */
struct kp_sip_msg;
void kp_sip_flow_message(struct kp_engine *eng, const struct kp_flow *f, int dir,
                         const struct kp_sip_msg *msg, bool over_tls);

/* TLS over TCP flow glue (tls_flow.c). */
void kp_tls_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt);
void kp_tls_flow_release(struct kp_engine *eng, struct kp_flow *f);

#endif
