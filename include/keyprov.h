/* keyprov.h: the public API of libkeyprov, keyprov's key-provenance engine.
 *
 * keyprov watches packets, recognises the handshakes of conferencing
 * services, works out which server issued or negotiated each session key,
 * geolocates that server and applies a policy of flagged jurisdictions.
 *
 * Objects
 *   struct kp_geo     geolocation databases; opened once, read-only, may be
 *                     shared by any number of engines and threads.
 *   struct kp_policy  flag/allow rules; immutable once built, shareable.
 *   struct kp_engine  one analysis context (flow table, reassembly).  Not
 *                     thread-safe: use one engine per thread (an engine
 *                     may run its own worker threads: kp_config.workers).
 *   struct kp_event   an event handed to the callback; valid only during the
 *                     callback.
 *
 * Conventions: functions returning int return KP_OK (0) or a negative
 * KP_E* code; kp_strerror() names it.  Every *_free(NULL) is a no-op.  The
 * library never prints, exits or aborts.
 */
#ifndef KEYPROV_H
#define KEYPROV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KP_BUILDING_LIB)
#define KP_API __attribute__((visibility("default")))
#else
#define KP_API
#endif

/* Version of this header and of the JSON event schema. */
#define KP_VERSION_STRING "0.1.0"
#define KP_EVENT_SCHEMA_VERSION 1

/* Error codes. */
enum {
    KP_OK = 0,
    KP_EINVAL = -1,   /* bad argument or syntax */
    KP_ENOMEM = -2,   /* allocation failed */
    KP_EIO = -3,      /* file could not be read */
    KP_EFORMAT = -4,  /* file content is not what was expected */
    KP_ELINKTYPE = -5 /* unsupported link type */
};

/* Describe an error code; never NULL. */
KP_API const char *kp_strerror(int err);

/* The library's version string. */
KP_API const char *kp_version(void);

/* ---------------------------------------------------------------- geo */

struct kp_geo;

/* Open a country database and an ASN database (MaxMind DB format).  Either
 * path may be NULL to do without that database.  On failure returns a
 * negative code and writes a one-line message naming the file to err. */
KP_API int kp_geo_open(struct kp_geo **out, const char *country_path, const char *asn_path,
                       char *err, size_t errlen);
KP_API void kp_geo_free(struct kp_geo *geo);

/* Result of a lookup; strings are NUL-terminated copies. */
struct kp_geo_info {
    char country[3];  /* ISO 3166-1 alpha-2, "" if unknown */
    uint32_t asn;     /* 0 if unknown */
    char as_org[128]; /* "" if unknown */
};

/* Look up a textual IPv4 or IPv6 address (IPv4-mapped IPv6 is looked up as
 * IPv4).  Returns KP_OK (fields empty when nothing is known) or KP_EINVAL
 * for an unparsable address. */
KP_API int kp_geo_lookup(const struct kp_geo *geo, const char *ip, struct kp_geo_info *out);

/* Describe database n (0 country, 1 ASN): its type, build date (UTC,
 * YYYY-MM-DD) and description. Returns KP_EINVAL if there is no such db. */
KP_API int kp_geo_describe(const struct kp_geo *geo, int n, char *buf, size_t len);

/* ------------------------------------------------------------- policy */

struct kp_policy;

KP_API int kp_policy_new(struct kp_policy **out);
KP_API void kp_policy_free(struct kp_policy *pol);

/* Add rules from a --flag argument: comma-separated ISO country codes
 * ("CN,HK"), groups ("@EU", "@FVEY", "@CN") and ASNs ("AS55960"). */
KP_API int kp_policy_flag(struct kp_policy *pol, const char *spec, char *err, size_t errlen);

/* Add an allow-list (same syntax as kp_policy_flag, ASNs excepted):
 * keys issued outside the listed countries are flagged. */
KP_API int kp_policy_allow(struct kp_policy *pol, const char *spec, char *err, size_t errlen);

/* Add the rules of a policy file (format: docs/policy.md; example:
 * samples/policy-example.conf): flag and allow lists, per-service allowed
 * regions, and what to make of keys exposed in clear or not visible.  On a
 * bad line returns KP_EFORMAT with "FILE:LINE:COLUMN: what is wrong" in err;
 * KP_EIO if the file cannot be read. */
KP_API int kp_policy_load(struct kp_policy *pol, const char *path, char *err, size_t errlen);

/* What a policy makes of a finding. */
enum kp_policy_action { KP_POLICY_ALLOW = 0, KP_POLICY_REVIEW = 1, KP_POLICY_VIOLATION = 2 };

/* ------------------------------------------------------------- engine */

struct kp_engine;
struct kp_event;

typedef void (*kp_event_cb)(const struct kp_event *ev, void *user);

/* Engine options.  Always initialise with kp_config_init(), which sets
 * cfg->size; new fields are only ever appended, so an older caller keeps
 * working against a newer library. */
struct kp_config {
    size_t size;                /* sizeof(struct kp_config) as the caller knows it */
    uint32_t max_flows;         /* flow table capacity (default 262144) */
    uint32_t idle_timeout_s;    /* flow idle timeout (default 120 s) */
    uint32_t reasm_limit;       /* bytes buffered per TCP direction (default 65536) */
    int report_all;             /* nonzero: key records for unknown services too */
    const struct kp_geo *geo;   /* borrowed, may be NULL */
    const struct kp_policy *policy; /* borrowed, may be NULL */
    const char *rules_path;     /* service rules file; NULL: built-in rules */
    kp_event_cb on_event;       /* may be NULL */
    void *user;                 /* passed to on_event */
    uint64_t hash_seed;         /* flow hash seed; 0: chosen at random */
    uint64_t mem_limit;         /* bytes of per-flow analysis state (reassembly, handshake
                                   buffers) at most; flows beyond it are counted, not analysed
                                   (default 512 MiB) */
    int report_flows;           /* nonzero: a KP_EV_FLOW event for every TCP/UDP flow when it
                                   leaves the flow table */
    unsigned workers;           /* 0 or 1: analyse in the thread that calls kp_engine_feed.
                                   N > 1: N flow-affine workers, the calling thread and N-1
                                   threads (packets go to the worker of their flow's hash;
                                   the calling thread takes a smaller share); events are
                                   still delivered in
                                   the calling thread, during kp_engine_feed, kp_engine_poll
                                   or kp_engine_finish, and are the same, in the same order,
                                   as with one worker, unless the flow table fills or
                                   mem_limit is reached (max_flows and mem_limit are divided
                                   among the workers in proportion to their shares).  Not
                                   with kp_engine_feed_flow. */
};

KP_API void kp_config_init(struct kp_config *cfg);

/* Create an engine; on failure writes a one-line message to err. */
KP_API int kp_engine_new(struct kp_engine **out, const struct kp_config *cfg, char *err,
                         size_t errlen);
KP_API void kp_engine_free(struct kp_engine *eng);

/* Feed one captured frame.  linktype is a libpcap DLT_/LINKTYPE_ value
 * (Ethernet, Linux SLL/SLL2, raw IP, BSD null/loopback); ts_us is the
 * capture time in microseconds since the epoch.  Returns KP_OK, or
 * KP_ELINKTYPE if the link type is not supported.  Undecodable packets are
 * counted, not errors.  Events are delivered through the callback before
 * this returns. */
KP_API int kp_engine_feed(struct kp_engine *eng, int linktype, uint64_t ts_us,
                          const uint8_t *data, size_t caplen, size_t wirelen);

/* A frame for kp_engine_feed_batch. */
struct kp_frame {
    uint64_t ts_us;
    const uint8_t *data;
    size_t caplen, wirelen;
};

/* The same as kp_engine_feed on each of n frames in turn (all of one link
 * type), and faster: while one frame is analysed, the flow-table memory of
 * the next few is fetched.  A host that can hold 16 or more frames at a
 * time (copying them out of libpcap's buffer, say) gains about 10% on
 * traffic with many flows.  Returns the first error, after feeding all. */
KP_API int kp_engine_feed_batch(struct kp_engine *eng, int linktype,
                                const struct kp_frame *frames, size_t n);

/* Host-owned flow state, for an IDS that keeps its own flow table (as
 * Suricata's nDPI integration does): the host reserves
 * kp_flow_state_size() bytes, aligned for any type, in each flow it
 * tracks, calls kp_flow_state_init() when the flow starts, feeds the flow's
 * packets from the IP header on with kp_engine_feed_flow(), and calls
 * kp_flow_state_release() when the flow ends (pending key records are
 * emitted then).  The engine's own flow table is not used for these
 * packets.  A state belongs to one engine (one thread) at a time.
 * kp_engine_feed_flow returns KP_EINVAL if the packet's 5-tuple is not the
 * flow's. */
KP_API size_t kp_flow_state_size(void);
KP_API void kp_flow_state_init(void *state);
KP_API int kp_engine_feed_flow(struct kp_engine *eng, void *state, uint64_t ts_us,
                               const uint8_t *ip, size_t caplen, size_t wirelen);
KP_API void kp_flow_state_release(struct kp_engine *eng, void *state);

/* Whether the engine can decode a link type. */
KP_API int kp_linktype_supported(int linktype);

/* End of input: flush pending state and emit remaining events.  With
 * workers, the engine takes no more packets afterwards. */
KP_API void kp_engine_finish(struct kp_engine *eng);

/* With workers: deliver the events the workers have ready (a live capture
 * calls it when no packet has come for a while).  A no-op otherwise. */
KP_API void kp_engine_poll(struct kp_engine *eng);

/* Counters.  Set `size` to sizeof(struct kp_stats) before calling
 * kp_engine_stats (KP_STATS_INIT does): fields are only ever appended, and
 * the library fills no more than the caller's struct holds. */
struct kp_stats {
    size_t size;
    uint64_t packets, bytes;
    uint64_t ipv4, ipv6, tcp, udp, other;
    uint64_t ip_fragments;       /* IPv4/IPv6 fragments (not reassembled) */
    uint64_t undecodable;        /* truncated or malformed lower layers */
    uint64_t flows_created, flows_evicted_idle, flows_evicted_full, flows_active;
    uint64_t tls_handshakes, tls_malformed;
    uint64_t reasm_overflow;     /* TCP directions that hit reasm_limit */
    uint64_t key_records, flagged;
    uint64_t media_flows;        /* media flows reported (Zoom media, RTP, SRTP) */
    uint64_t sessions, sessions_violation, sessions_evicted;
    uint64_t mem_limited;        /* analyses skipped because mem_limit was reached */
    uint64_t mem_used, mem_peak; /* bytes of per-flow analysis state now, and at most */
    uint64_t reasm_dropped;      /* TCP segments dropped: more holes than reassembly keeps */
    uint64_t certs_decoded;      /* server certificates decoded with OpenSSL */
    uint64_t cert_cache_hits;    /* server certificates found in the summary cache */
};
#define KP_STATS_INIT {.size = sizeof(struct kp_stats)}
KP_API void kp_engine_stats(const struct kp_engine *eng, struct kp_stats *out);

/* ------------------------------------------------------------- events */

enum kp_event_type {
    KP_EV_KEY = 1,
    KP_EV_ANOMALY = 2,
    KP_EV_MEDIA = 3,
    KP_EV_SESSION = 4,
    KP_EV_FLOW = 5        /* only with kp_config.report_flows */
};

enum kp_field {
    KP_F_SERVICE = 1,      /* str */
    KP_F_MECHANISM,        /* str */
    KP_F_CONFIDENCE,       /* str: high, medium, low */
    KP_F_CLIENT_IP,        /* str */
    KP_F_CLIENT_PORT,      /* int */
    KP_F_ISSUER_IP,        /* str */
    KP_F_ISSUER_PORT,      /* int */
    KP_F_ISSUER_COUNTRY,   /* str, "" unknown */
    KP_F_ISSUER_ASN,       /* int, 0 unknown */
    KP_F_ISSUER_AS_ORG,    /* str */
    KP_F_SNI,              /* str (raw bytes from the packet, may be any bytes) */
    KP_F_CERT_SUBJECT,     /* str */
    KP_F_CERT_COUNTRY,     /* str */
    KP_F_FLAGGED,          /* int 0/1 */
    KP_F_REASON,           /* str, "" unless flagged */
    KP_F_TLS_VERSION,      /* str */
    KP_F_JA4,              /* str */
    KP_F_ANOMALY,          /* str: the anomaly's name */
    KP_F_TS_US,            /* int */
    KP_F_PROTO,            /* str: tcp, udp */
    KP_F_ISSUER_SCOPE,     /* str: "private", "loopback", ... (not geolocated); "" if global */
    KP_F_MEDIA_KIND,       /* str, media events: "zoom", "rtp", "srtp" (issuer fields = server) */
    KP_F_PACKETS,          /* int, media events */
    KP_F_LINKED_ISSUER_IP, /* str, media events: the key issuer the flow belongs to, "" if none */
    KP_F_VERDICT,          /* str, session events: "violation", "review", "ok" */
    KP_F_HOLDER,           /* str, session events: "server", "endpoints", "anyone-on-path", "unknown" */
    KP_F_SESSION_ID,       /* int, session events */
    KP_F_KEYS,             /* int, session events: key records in the session */
    KP_F_MEDIA,            /* int, session events: media flows in the session */
    KP_F_HOLDERS_N,        /* int, session events: key holders (see kp_event_holder_str) */
    KP_F_REASONS_N         /* int, session events: reasons (see kp_event_reason) */
};

KP_API enum kp_event_type kp_event_type(const struct kp_event *ev);

/* A string field, NULL if the event has no such field. */
KP_API const char *kp_event_str(const struct kp_event *ev, enum kp_field f);

/* An integer field, 0 if absent. */
KP_API int64_t kp_event_int(const struct kp_event *ev, enum kp_field f);

/* Session events describe key holders: kp_event_holder_str/int read holder
 * i (0 <= i < kp_event_int(ev, KP_F_HOLDERS_N)) with the KP_F_ISSUER_*,
 * KP_F_MECHANISM, KP_F_CONFIDENCE, KP_F_SNI, KP_F_FLAGGED and KP_F_REASON
 * fields; NULL / 0 outside a session or out of range. */
KP_API const char *kp_event_holder_str(const struct kp_event *ev, size_t i, enum kp_field f);
KP_API int64_t kp_event_holder_int(const struct kp_event *ev, size_t i, enum kp_field f);

/* Session events: reason i (0 <= i < kp_event_int(ev, KP_F_REASONS_N)), the
 * rule or finding behind the verdict; NULL out of range. */
KP_API const char *kp_event_reason(const struct kp_event *ev, size_t i);

/* Serialise the event as one JSON object (no newline) into buf.  Returns the
 * length the full text needs (excluding NUL), like snprintf. */
KP_API size_t kp_event_json(const struct kp_event *ev, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
