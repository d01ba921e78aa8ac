/* kpws.h: the analysis core of keyprov's Wireshark plugin.
 *
 * It knows nothing of epan: it runs a keyprov engine (public API,
 * include/keyprov.h, only) over frames, collects the engine's key, media
 * and session events, and answers "what did keyprov conclude about the flow
 * this packet belongs to?" by 5-tuple.  packet-keyprov.c is the Wireshark
 * glue; tests call this module directly.
 *
 * Two ways to use it:
 *   read-ahead  (KPWS_READ_AHEAD): feed the whole capture, then kpws_finish();
 *               every packet of a flow then gets the final verdict of the
 *               session the flow belongs to (sessions are only known once
 *               their key exchanges are complete, often after the packet).
 *   incremental (KPWS_INCREMENTAL): feed frames as they are dissected; a
 *               result applies from the frame at which keyprov reported it
 *               (key records when the handshake completes; sessions after
 *               five minutes of idleness), so earlier packets stay unmarked.
 *
 * Objects returned by kpws_lookup() live as long as the struct kpws.
 * Strings are NUL-terminated, never NULL ("" when unknown) and printable
 * ASCII: other bytes from the wire appear as \xNN.
 */
#ifndef KPWS_H
#define KPWS_H

#include <stddef.h>
#include <stdint.h>

#include "keyprov.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kpws_mode { KPWS_READ_AHEAD = 0, KPWS_INCREMENTAL = 1 };

/* An IPv4 or IPv6 address in network byte order. */
struct kpws_addr {
    uint8_t family; /* 4 or 6; 0 = none */
    uint8_t b[16];  /* IPv4 uses the first 4 bytes */
};

/* A session event: one client, one service, one verdict. */
struct kpws_session {
    uint32_t id;
    const char *service, *client_ip;
    const char *verdict; /* violation, review, ok */
    const char *holder;  /* server, endpoints, anyone-on-path, unknown */
    const char *reason;  /* the deciding reason, "" if none */
    int64_t first_us, last_us;
    uint32_t keys, media;
};

/* A key record. */
struct kpws_key {
    const char *service, *mechanism, *proto, *confidence;
    const char *client_ip, *issuer_ip, *country, *scope, *as_org, *sni, *reason;
    uint16_t client_port, issuer_port;
    uint32_t asn;
    int flagged;
    int64_t ts_us;
};

/* What a packet of a flow gets. */
struct kpws_flow {
    const struct kpws_session *session; /* NULL: no session event covers the flow */
    const struct kpws_key *key;         /* the flow's own key record, or the one its
                                           media is linked to; NULL if none */
    const char *service;
    const char *role;       /* key-exchange, relayed-key-exchange, relay, media, control+media */
    const char *link;       /* why the flow is in its session ("" without a session) */
    const char *media_kind; /* zoom, rtp, srtp, or "" */
    int flagged;            /* the session's verdict is violation; without a
                               session, the flow's own key record is flagged */
    int key_flagged;        /* the key record of this flow itself is flagged */
    /* private */
    int64_t first_us, last_us;
    uint32_t from_frame;
    struct kpws_flow *next;
};

struct kpws;

/* Create an analysis over a new engine.  geo and policy are borrowed (may be
 * NULL) and must outlive the kpws.  On failure returns a KP_E* code and
 * writes a one-line message to err. */
int kpws_new(struct kpws **out, enum kpws_mode mode, const struct kp_geo *geo,
             const struct kp_policy *policy, int report_all, char *err, size_t errlen);
void kpws_free(struct kpws *w);

/* Feed one frame (frame: 1-based frame number in the host, used by the
 * incremental mode).  Returns kp_engine_feed()'s result; KP_EINVAL after
 * kpws_finish() in read-ahead mode. */
int kpws_feed(struct kpws *w, int linktype, uint64_t ts_us, const uint8_t *data, size_t caplen,
              size_t wirelen, uint32_t frame);

/* End of input: flush the engine and index what it reported.  In read-ahead
 * mode this also frees the engine (lookups keep working). */
void kpws_finish(struct kpws *w);

/* The flow a packet belongs to: ipproto 6 (TCP) or 17 (UDP), its source and
 * destination in either direction, its time and frame number.  NULL when
 * keyprov reported nothing for that flow (yet). */
const struct kpws_flow *kpws_lookup(const struct kpws *w, int ipproto, const struct kpws_addr *src,
                                    uint16_t sport, const struct kpws_addr *dst, uint16_t dport,
                                    int64_t ts_us, uint32_t frame);

/* Counters. */
struct kpws_counts {
    uint64_t frames, unsupported_linktype;
    uint64_t keys, flagged_keys, media, sessions, violations, flows;
};
void kpws_counts(const struct kpws *w, struct kpws_counts *out);

/* ---- exposed for unit tests ---- */

/* Parse "ip" or "ip:port" / "[ipv6]:port".  Returns 0 on success. */
int kpws_parse_addr(const char *text, struct kpws_addr *addr, uint16_t *port);

/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" to microseconds since the
 * epoch; returns 0 on success. */
int kpws_parse_time(const char *text, int64_t *us);

/* Calls cb for each element of the "flows" array of a session event's JSON
 * text, and returns the top-level "last_ts" and "client"."ip" (either out
 * pointer may be NULL).  Returns 0, or -1 if the text is not a JSON object. */
struct kpws_json_flow {
    char proto[8];
    long client_port;
    char server[64]; /* ip:port or [ipv6]:port */
    char role[32];
    char link[64];
};
typedef void (*kpws_json_flow_cb)(const struct kpws_json_flow *f, void *user);
int kpws_parse_session_json(const char *json, size_t len, kpws_json_flow_cb cb, void *user,
                            char *last_ts, size_t last_ts_len, char *client_ip,
                            size_t client_ip_len);

/* Copy s to out, bytes that are not printable ASCII (or a backslash) as \xNN;
 * always NUL-terminates (truncating at a whole escape). */
void kpws_printable(const char *s, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif

#endif
