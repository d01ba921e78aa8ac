/* keyprov-suricata.c: keyprov inside Suricata 7.0 (see README.md here).
 *
 * Mechanism.  Suricata 7.0's plugin API (suricata-plugin.h) offers EVE
 * file types and capture methods only: neither sees the packets Suricata
 * processes.  The suricata binary exports its internal symbols, so the plugin
 * registers, from its Init, what Suricata's own EVE loggers register:
 *
 *  - a packet sub-logger "eve-log.keyprov": the output set-up enables it when
 *    an eve-log lists `keyprov` under `types`; every Suricata packet thread
 *    gets its own keyprov engine, and every packet that thread handles - TCP,
 *    UDP (also the media plane Suricata does not parse: DTLS, STUN/TURN,
 *    Zoom, RTP, SIP on any port), decapsulated tunnel packets, reassembled IP
 *    fragments - is fed to it from the IP header on;
 *  - a flow storage slot: keyprov's per-flow state lives in Suricata's own
 *    flows (kp_engine_feed_flow), so Suricata's flow table, timeouts and
 *    memcaps decide what a flow is and when it ends, and every record of a
 *    flow carries Suricata's flow_id;
 *  - a flow sub-logger under the same name: when Suricata ends a flow,
 *    keyprov's state of it is released (pending key records and the media
 *    record are written then).
 *
 * keyprov's events become lines of that eve-log through Suricata's own EVE
 * writer (JsonBuilder + OutputJsonBuilderBuffer), so they share its file,
 * rotation, threading, unix socket, redis or file-type plugin.
 *
 * Threads.  An engine is used by the thread that owns it only.  A flow's
 * state is released by the engine that created it (its owner), so that a
 * flow's records stay in one engine's sessions; when Suricata ends the flow
 * in another thread (the flow recycler at shutdown, a flow evicted by
 * another thread), the state is queued to its owner, which releases it at
 * its next packet or when it stops.
 *
 * These internal functions and the Packet structure are not a stable API:
 * the plugin is built against the exact headers of the installed version
 * (get-headers), refuses any other version at load, and checks the Packet
 * layout it was compiled with against the running binary before it runs.
 */
#include "suricata-common.h"

#include "conf.h"
#include "decode.h"
#include "flow-storage.h"
#include "output-json.h"
#include "output.h"
#include "suricata-plugin.h"
#include "suricata.h"
#include "util-debug.h"
#include "util-device.h"
#include "util-print.h"
#include "util-time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keyprov.h"
#include "sc_eve.h"

#ifndef KP_SC_BUILT_FOR
#error "KP_SC_BUILT_FOR must name the Suricata version whose headers this is built with"
#endif
#ifndef KP_GEODATA_DIRS
#define KP_GEODATA_DIRS "/usr/local/share/keyprov/geodata"
#endif

/* LINKTYPE_RAW: packets are handed to keyprov from their IP header on. */
#define KP_SC_LINKTYPE_RAW 101

/* ------------------------------------------------------------ settings */

/* Shared by all threads, read-only once built: the settings, the
 * geolocation databases and the policy.  Freed when the output is torn
 * down and no engine uses it any more (refs). */
struct kp_sc_ctx {
    atomic_uint refs;           /* 1 for the output + 1 per thread */
    OutputJsonCtx *eve;         /* the parent eve-log output (borrowed) */
    uint16_t cid_seed;          /* the eve-log's community-id-seed */
    struct kp_geo *geo;         /* may be NULL: no geolocation */
    struct kp_policy *policy;   /* never NULL (may be empty) */
    char *rules_path;           /* NULL: built-in service rules */
    int report_all;             /* keyprov --all */
    bool alerts;                /* write alert lines for flagged records */
    uint32_t max_flows;         /* 0: keyprov's default */
    uint32_t idle_timeout_s;    /* 0: keyprov's default */
};

/* What the events being written are about: the flow of the packet being
 * fed, or of the state being released.  An event whose 5-tuple is that
 * flow's gets Suricata's flow_id. */
struct kp_sc_cur {
    bool set;
    uint8_t family, proto;    /* AF_INET/AF_INET6, IPPROTO_TCP/UDP */
    uint8_t a[16], b[16];     /* the two endpoints */
    uint16_t pa, pb;
    uint64_t flow_id;         /* Suricata's, 0: ask flow */
    const Flow *flow;         /* Suricata's flow, or NULL (then flow_id) */
    const char *in_iface;     /* may be NULL */
};

struct kp_sc_flow;

/* One per Suricata packet thread.  Only `lock` guards what other threads
 * touch: the orphan queue, refs and closed; the rest is the thread's own. */
struct kp_sc_thread {
    struct kp_sc_ctx *ctx;
    OutputJsonThreadCtx *out; /* this thread's EVE writer; NULL once closed */
    struct kp_engine *eng;    /* NULL: disabled (an error was logged) */
    struct kp_sc_cur cur;
    char *obj;                /* "\"keyprov\":{...}" of the current event */
    size_t obj_cap;
    /* this engine's flow states, least recently active first */
    struct kp_sc_flow *live_head, *live_tail;
    uint64_t idle_us, last_sweep_us;
    pthread_mutex_t lock;
    struct kp_sc_flow *orphans; /* states of ended flows, for this engine */
    atomic_uint pending;        /* orphans queued (read without the lock) */
    uint64_t refs;              /* 1 for the thread + 1 per flow state */
    bool closed;                /* the thread stopped: events are dropped */
    uint64_t fed, fed_flow, not_ip, tuple_mismatch, other_thread, flows, idle_released, late;
    uint64_t ended_here, ended_elsewhere;
    uint64_t lines, dropped, with_flow_id;
    uint64_t keys, flagged, alerts;
};

/* keyprov's state of one Suricata flow, in the flow's storage slot.  Only
 * its owner's thread touches it, except `next_orphan` (under the owner's
 * lock). */
struct kp_sc_flow {
    struct kp_sc_thread *owner;        /* the engine that feeds and releases it */
    struct kp_sc_flow *prev, *next;    /* the owner's live list */
    bool live;                         /* in the live list (state in use) */
    bool ended;                        /* Suricata ended the flow */
    struct kp_sc_flow *next_orphan;    /* the owner's orphan queue */
    uint64_t last_us;                  /* the flow's last packet */
    struct kp_sc_cur who;              /* the flow (flow_id, tuple) */
    alignas(max_align_t) unsigned char state[]; /* kp_flow_state_size() */
};

/* Host glue the Suricata 7.0 API leaves no other place for: the storage
 * slot registered at load, whether an eve-log already runs keyprov (one
 * does: the flow states are one engine's), and the current thread's packet
 * logger, for the flow logger of the same thread. */
static FlowStorageId kp_sc_storage = {.id = -1};
static atomic_bool kp_sc_enabled;
static _Thread_local struct kp_sc_thread *kp_sc_self;

/* The node of a setting: the eve-log type's own mapping first
 *   types: [ keyprov: { flag: "@CN" } ]
 * then the top-level section `keyprov:` (which `--set keyprov.flag=@CN` also
 * reaches). */
static ConfNode *setting_node(ConfNode *local, const char *name)
{
    ConfNode *n = NULL;
    if (local != NULL) {
        n = ConfNodeLookupChild(local, name);
    }
    if (n == NULL) {
        ConfNode *top = ConfGetNode("keyprov");
        if (top != NULL) {
            n = ConfNodeLookupChild(top, name);
        }
    }
    return n;
}

static const char *setting(ConfNode *local, const char *name)
{
    ConfNode *n = setting_node(local, name);
    return n != NULL ? n->val : NULL;
}

/* A list setting, as a scalar "CN,HK" or a YAML sequence [CN, HK]: joined
 * with commas into buf.  Returns false if absent; too long is an error. */
static bool setting_list(ConfNode *local, const char *name, char *buf, size_t len, bool *too_long)
{
    ConfNode *n = setting_node(local, name);
    *too_long = false;
    buf[0] = '\0';
    if (n == NULL) {
        return false;
    }
    if (n->val != NULL) {
        if (strlen(n->val) >= len) {
            *too_long = true;
        }
        snprintf(buf, len, "%s", n->val);
        return true;
    }
    size_t used = 0;
    ConfNode *c;
    TAILQ_FOREACH (c, &n->head, next) {
        if (c->val == NULL) {
            continue;
        }
        int w = snprintf(buf + used, len - used, "%s%s", used > 0 ? "," : "", c->val);
        if (w < 0 || (size_t)w >= len - used) {
            *too_long = true;
            return true;
        }
        used += (size_t)w;
    }
    return true;
}

/* yes/no; absent gives dflt.  A value that is neither is an error. */
static bool setting_bool(ConfNode *local, const char *name, bool dflt, bool *out)
{
    const char *v = setting(local, name);
    if (v == NULL) {
        *out = dflt;
        return true;
    }
    if (ConfValIsTrue(v)) {
        *out = true;
        return true;
    }
    if (ConfValIsFalse(v)) {
        *out = false;
        return true;
    }
    SCLogError("'%s: %s' is not yes or no", name, v);
    return false;
}

static bool setting_u32(ConfNode *local, const char *name, uint32_t min, uint32_t *out)
{
    const char *v = setting(local, name);
    *out = 0;
    if (v == NULL) {
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || x < min || x > UINT32_MAX) {
        SCLogError("'%s: %s' is not a number from %" PRIu32 " to %" PRIu32, name, v, min,
                   (uint32_t)UINT32_MAX);
        return false;
    }
    *out = (uint32_t)x;
    return true;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Geolocation, as the keyprov command finds it: geo-country / geo-asn
 * (env KEYPROV_GEO_COUNTRY / KEYPROV_GEO_ASN); else country.mmdb and
 * asn.mmdb in `geodata:` (which must hold them); else in $KEYPROV_GEODATA
 * or keyprov's default folders (a warning when none has them). */
static bool open_geo(ConfNode *local, struct kp_sc_ctx *ctx)
{
    bool no_geo = false;
    if (!setting_bool(local, "no-geo", false, &no_geo)) {
        return false;
    }
    if (no_geo) {
        SCLogConfig("geolocation off (no-geo)");
        return true;
    }
    const char *country = setting(local, "geo-country");
    const char *asn = setting(local, "geo-asn");
    if (country == NULL) {
        country = getenv("KEYPROV_GEO_COUNTRY");
    }
    if (asn == NULL) {
        asn = getenv("KEYPROV_GEO_ASN");
    }
    char cpath[PATH_MAX], apath[PATH_MAX];
    if (country == NULL && asn == NULL) {
        const char *dir = setting(local, "geodata");
        char dirs[4096];
        if (dir != NULL) {
            snprintf(cpath, sizeof(cpath), "%s/country.mmdb", dir);
            if (!is_file(cpath)) {
                SCLogError("geodata %s has no country.mmdb", dir);
                return false;
            }
            snprintf(dirs, sizeof(dirs), "%s", dir);
        } else {
            const char *env = getenv("KEYPROV_GEODATA");
            snprintf(dirs, sizeof(dirs), "%s%s%s", env != NULL ? env : "",
                     env != NULL ? ":" : "", KP_GEODATA_DIRS);
        }
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
            snprintf(cpath, sizeof(cpath), "%s/country.mmdb", d);
            if (is_file(cpath)) {
                country = cpath;
                snprintf(apath, sizeof(apath), "%s/asn.mmdb", d);
                asn = is_file(apath) ? apath : NULL;
                break;
            }
        }
        if (country == NULL) {
            SCLogWarning("no geolocation databases (country.mmdb, asn.mmdb) in "
                         "$KEYPROV_GEODATA or %s: countries are reported unknown; set "
                         "keyprov geodata, geo-country/geo-asn, or no-geo",
                         KP_GEODATA_DIRS);
            return true;
        }
    }
    char err[512];
    int rc = kp_geo_open(&ctx->geo, country, asn, err, sizeof(err));
    if (rc != KP_OK) {
        SCLogError("%s", err);
        return false;
    }
    for (int i = 0; i < 2; i++) {
        char desc[256];
        if (kp_geo_describe(ctx->geo, i, desc, sizeof(desc)) == KP_OK) {
            SCLogConfig("%s database: %s", i == 0 ? "country" : "ASN", desc);
        }
    }
    return true;
}

static bool build_policy(ConfNode *local, struct kp_sc_ctx *ctx)
{
    char err[512], list[1024];
    bool too_long = false;
    if (kp_policy_new(&ctx->policy) != KP_OK) {
        SCLogError("out of memory");
        return false;
    }
    const char *path = setting(local, "policy");
    if (path != NULL && kp_policy_load(ctx->policy, path, err, sizeof(err)) != KP_OK) {
        SCLogError("policy: %s", err);
        return false;
    }
    static const char *const kinds[] = {"flag", "allow"};
    for (size_t i = 0; i < 2; i++) {
        if (!setting_list(local, kinds[i], list, sizeof(list), &too_long)) {
            continue;
        }
        if (too_long) {
            SCLogError("'%s' is longer than %zu characters", kinds[i], sizeof(list) - 1);
            return false;
        }
        int rc = i == 0 ? kp_policy_flag(ctx->policy, list, err, sizeof(err))
                        : kp_policy_allow(ctx->policy, list, err, sizeof(err));
        if (rc != KP_OK) {
            SCLogError("%s: %s", kinds[i], err);
            return false;
        }
        SCLogConfig("%s %s", kinds[i], list);
    }
    return true;
}

static void ctx_free(struct kp_sc_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    kp_geo_free(ctx->geo);
    kp_policy_free(ctx->policy);
    free(ctx->rules_path);
    free(ctx);
}

static void ctx_unref(struct kp_sc_ctx *ctx)
{
    if (ctx != NULL && atomic_fetch_sub(&ctx->refs, 1) == 1) {
        ctx_free(ctx);
    }
}

/* ----------------------------------------------- version and layout checks */

/* The headers must be those of the running binary: 7.0 plugins have no ABI
 * check of their own.  GetProgramVersion() is "7.0.10 RELEASE". */
static bool version_ok(void)
{
    const char *running = GetProgramVersion();
    size_t n = strlen(KP_SC_BUILT_FOR);
    if (running != NULL && strncmp(running, KP_SC_BUILT_FOR, n) == 0 &&
        (running[n] == '\0' || running[n] == ' ')) {
        return true;
    }
    SCLogError("this plugin was built with the headers of Suricata " KP_SC_BUILT_FOR
               " but runs in Suricata %s: rebuild it against this version (see keyprov's "
               "plugins/suricata/README.md); not loaded",
               running != NULL ? running : "(unknown)");
    return false;
}

/* The plugin reads Packet fields (flags, ts, flow, ip4h/ip6h and the packet
 * data) at the offsets of the headers it was built with.  Ask the running
 * binary to fill packets and read them back through those offsets - the
 * data stored after the Packet (sizeof(Packet)) and the zero-copy pointer:
 * a binary built with another layout (other configure options, a patched
 * package) is refused instead of read wrongly. */
static bool layout_ok(void)
{
    uint8_t direct[40], ext[48];
    for (size_t i = 0; i < sizeof(direct); i++) {
        direct[i] = (uint8_t)(0xa5 ^ (i * 7));
    }
    for (size_t i = 0; i < sizeof(ext); i++) {
        ext[i] = (uint8_t)(0x3c ^ (i * 13));
    }
    /* AF_PACKET sets the packet size only after the outputs: until then
     * every packet would take the allocated path, and sizeof(Packet) would
     * go unchecked.  Start-up is single-threaded here. */
    uint32_t saved_size = default_packet_size;
    if (default_packet_size < sizeof(direct)) {
        default_packet_size = 64;
    }
    bool ok = false;
    Packet *p = PacketGetFromAlloc();
    if (p != NULL) {
        ok = p->flow == NULL && p->root == NULL && p->ip4h == NULL && p->ip6h == NULL &&
             p->ReleasePacket == PacketFree && PacketCopyData(p, direct, sizeof(direct)) == 0 &&
             GET_PKT_LEN(p) == sizeof(direct) && p->ext_pkt == NULL &&
             GET_PKT_DATA(p) == (uint8_t *)(p + 1) &&
             memcmp(GET_PKT_DATA(p), direct, sizeof(direct)) == 0;
        PacketFree(p);
    }
    default_packet_size = saved_size;
    p = ok ? PacketGetFromAlloc() : NULL;
    if (p != NULL) {
        ok = PacketSetData(p, ext, sizeof(ext)) == 0 && GET_PKT_LEN(p) == sizeof(ext) &&
             GET_PKT_DATA(p) == ext && (p->flags & PKT_ZERO_COPY) != 0;
        PacketFree(p); /* zero-copy data is not freed */
    }
    if (!ok) {
        SCLogError("the running Suricata's Packet layout differs from the headers this "
                   "plugin was built with (another build of " KP_SC_BUILT_FOR "?): rebuild the "
                   "plugin against this binary's source package; not enabled");
    }
    return ok;
}

/* ------------------------------------------------------------- EVE lines */

/* Suricata's app_proto names where Suricata has the protocol (tls, quic,
 * sip); keyprov's own names otherwise (as keyprov --eve). */
static const char *app_proto_of(const struct kp_event *ev)
{
    static const struct {
        const char *key, *app_proto;
    } by_mechanism[] = {
        {"tls-control-channel", "tls"}, {"sdes-tls", "tls"},  {"dtls-srtp", "dtls"},
        {"dtls", "dtls"},               {"quic", "quic"},     {"sdes-cleartext", "sip"},
        {"e2ee-endpoint", "zrtp"},
    },
      by_media_kind[] = {{"rtp", "rtp"}, {"srtp", "srtp"}, {"zoom", "zoom"}};
    const char *v;
    switch (kp_event_type(ev)) {
    case KP_EV_KEY:
        v = kp_event_str(ev, KP_F_MECHANISM);
        for (size_t i = 0; v != NULL && i < sizeof(by_mechanism) / sizeof(by_mechanism[0]); i++) {
            if (strcmp(v, by_mechanism[i].key) == 0) {
                return by_mechanism[i].app_proto;
            }
        }
        break;
    case KP_EV_MEDIA:
        v = kp_event_str(ev, KP_F_MEDIA_KIND);
        for (size_t i = 0; v != NULL && i < sizeof(by_media_kind) / sizeof(by_media_kind[0]);
             i++) {
            if (strcmp(v, by_media_kind[i].key) == 0) {
                return by_media_kind[i].app_proto;
            }
        }
        break;
    default:
        break;
    }
    return NULL;
}

static bool nonempty(const char *s) { return s != NULL && s[0] != '\0'; }

/* The flow a packet belongs to, as Suricata decoded it. */
static void cur_from_packet(struct kp_sc_cur *c, const Packet *p)
{
    memset(c, 0, sizeof(*c));
    int fam = p->src.family;
    if ((fam != AF_INET && fam != AF_INET6) || p->dst.family != fam ||
        (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)) {
        return;
    }
    size_t n = fam == AF_INET ? 4 : 16;
    c->set = true;
    c->family = (uint8_t)fam;
    c->proto = p->proto;
    memcpy(c->a, p->src.address.address_un_data8, n);
    memcpy(c->b, p->dst.address.address_un_data8, n);
    c->pa = p->sp;
    c->pb = p->dp;
    c->flow = p->flow;
    if (p->livedev != NULL) {
        c->in_iface = p->livedev->dev;
    }
}

/* Suricata's flow_id of f, as its own records write it (CreateEveFlowId
 * is the only exported way to it). */
static uint64_t flow_id_of(const Flow *f)
{
    uint64_t id = 0;
    JsonBuilder *js = jb_new_object();
    if (js == NULL) {
        return 0;
    }
    CreateEveFlowId(js, f);
    if (jb_close(js)) {
        /* {"flow_id":N...} */
        static const char key[] = "{\"flow_id\":";
        const char *txt = (const char *)jb_ptr(js);
        size_t len = (size_t)jb_len(js);
        if (len > sizeof(key) - 1 && memcmp(txt, key, sizeof(key) - 1) == 0) {
            for (size_t i = sizeof(key) - 1; i < len && txt[i] >= '0' && txt[i] <= '9'; i++) {
                id = id * 10 + (uint64_t)(txt[i] - '0');
            }
        }
    }
    jb_free(js);
    return id;
}

/* Whether an event's 5-tuple is the current flow's (either direction). */
static bool is_cur_flow(const struct kp_sc_cur *c, const char *proto, const char *a, int64_t pa,
                        const char *b, int64_t pb)
{
    if (!c->set || proto == NULL) {
        return false;
    }
    if (!((c->proto == IPPROTO_TCP && strcmp(proto, "tcp") == 0) ||
          (c->proto == IPPROTO_UDP && strcmp(proto, "udp") == 0))) {
        return false;
    }
    uint8_t x[16], y[16];
    size_t n = c->family == AF_INET ? 4 : 16;
    if (inet_pton(c->family, a, x) != 1 || inet_pton(c->family, b, y) != 1) {
        return false;
    }
    return (memcmp(x, c->a, n) == 0 && pa == c->pa && memcmp(y, c->b, n) == 0 && pb == c->pb) ||
           (memcmp(x, c->b, n) == 0 && pa == c->pb && memcmp(y, c->a, n) == 0 && pb == c->pa);
}

/* An address as Suricata's own records write it (IPv6 in full, e.g.
 * 2001:0b07:0a3d:...), so that joins on src_ip/dest_ip work; keyprov's
 * object keeps keyprov's RFC 5952 form. */
static const char *suricata_ip(const char *text, char *buf, size_t len)
{
    uint8_t a[16];
    int af = inet_pton(AF_INET, text, a) == 1 ? AF_INET
             : inet_pton(AF_INET6, text, a) == 1 ? AF_INET6
                                                 : 0;
    if (af == 0 || PrintInet(af, a, buf, (socklen_t)len) == NULL) {
        return text;
    }
    return buf;
}

/* timestamp, flow_id, in_iface, event_type, 5-tuple, community_id: the
 * head of every line, in Suricata's order.  flow_id (and in_iface) are
 * Suricata's own when the event is about the flow being handled (always for
 * records of a flow Suricata tracks); lines of no flow (sessions) or of a
 * flow Suricata did not hand over (GTP-U inner flows, packets without a
 * Suricata flow) have none and join Suricata's records on community_id. */
static JsonBuilder *line_head(struct kp_sc_thread *t, const struct kp_event *ev,
                              const char *event_type)
{
    JsonBuilder *js = jb_new_object();
    if (js == NULL) {
        return NULL;
    }
    int64_t us = kp_event_int(ev, KP_F_TS_US);
    struct timeval tv = {.tv_sec = (time_t)(us > 0 ? us / 1000000 : 0),
                         .tv_usec = (suseconds_t)(us > 0 ? us % 1000000 : 0)};
    char ts[64];
    CreateIsoTimeString(SCTIME_FROM_TIMEVAL(&tv), ts, sizeof(ts));
    jb_set_string(js, "timestamp", ts);

    const char *proto = kp_event_str(ev, KP_F_PROTO);
    const char *src = kp_event_str(ev, KP_F_CLIENT_IP), *dst = kp_event_str(ev, KP_F_ISSUER_IP);
    int64_t sport = kp_event_int(ev, KP_F_CLIENT_PORT), dport = kp_event_int(ev, KP_F_ISSUER_PORT);
    bool tuple = nonempty(src) && nonempty(dst);

    if (tuple && is_cur_flow(&t->cur, proto, src, sport, dst, dport)) {
        if (t->cur.flow != NULL) {
            CreateEveFlowId(js, t->cur.flow);
        } else if (t->cur.flow_id != 0) {
            jb_set_uint(js, "flow_id", t->cur.flow_id);
        }
        if (t->cur.in_iface != NULL) {
            jb_set_string(js, "in_iface", t->cur.in_iface);
        }
        t->with_flow_id++;
    }
    jb_set_string(js, "event_type", event_type);
    char ip[64];
    if (nonempty(src)) {
        jb_set_string(js, "src_ip", suricata_ip(src, ip, sizeof(ip)));
    }
    if (tuple) {
        jb_set_uint(js, "src_port", (uint64_t)sport);
        jb_set_string(js, "dest_ip", suricata_ip(dst, ip, sizeof(ip)));
        jb_set_uint(js, "dest_port", (uint64_t)dport);
    }
    if (nonempty(proto)) {
        /* Suricata writes the protocol in capitals: TCP, UDP */
        char up[8];
        size_t i = 0;
        for (; proto[i] != '\0' && i + 1 < sizeof(up); i++) {
            char ch = proto[i];
            up[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - ('a' - 'A') : ch);
        }
        up[i] = '\0';
        jb_set_string(js, "proto", up);
    }
    char cid[40];
    if (tuple &&
        kp_sc_community_id(t->ctx->cid_seed, proto, src, sport, dst, dport, cid, sizeof(cid))) {
        jb_set_string(js, "community_id", cid);
    }
    return js;
}

/* Suricata's tls object members with Suricata's format (sni, version), on
 * TLS-based records. */
static void add_tls(JsonBuilder *js, const struct kp_event *ev, const char *app_proto)
{
    if (app_proto == NULL || strcmp(app_proto, "tls") != 0) {
        return;
    }
    const char *sni = kp_event_str(ev, KP_F_SNI), *ver = kp_event_str(ev, KP_F_TLS_VERSION);
    if (!nonempty(sni) && !nonempty(ver)) {
        return;
    }
    jb_open_object(js, "tls");
    if (nonempty(sni)) {
        /* bytes from the wire: invalid UTF-8 is escaped by Suricata's builder */
        jb_set_string_from_bytes(js, "sni", (const uint8_t *)sni, (uint32_t)strlen(sni));
    }
    if (nonempty(ver)) {
        jb_set_string(js, "version", ver);
    }
    jb_close(js);
}

/* The line's end: "keyprov": the event's own JSON, then out it goes. */
static void line_finish(struct kp_sc_thread *t, JsonBuilder *js)
{
    if (jb_set_formatted(js, t->obj)) {
        OutputJsonBuilderBuffer(js, t->out);
        t->lines++;
    } else {
        t->dropped++;
    }
    jb_free(js);
}

/* "\"keyprov\":" + kp_event_json(ev) into t->obj. */
static bool format_object(struct kp_sc_thread *t, const struct kp_event *ev)
{
    static const char key[] = "\"keyprov\":";
    const size_t klen = sizeof(key) - 1;
    if (t->obj_cap == 0) {
        t->obj = malloc(8192);
        if (t->obj == NULL) {
            return false;
        }
        t->obj_cap = 8192;
    }
    size_t need = kp_event_json(ev, t->obj + klen, t->obj_cap - klen);
    if (need >= t->obj_cap - klen) {
        if (need > SIZE_MAX / 2) {
            return false;
        }
        char *bigger = realloc(t->obj, klen + need + 1);
        if (bigger == NULL) {
            return false;
        }
        t->obj = bigger;
        t->obj_cap = klen + need + 1;
        (void)kp_event_json(ev, t->obj + klen, t->obj_cap - klen);
    }
    memcpy(t->obj, key, klen);
    return true;
}

static void write_alert(struct kp_sc_thread *t, const struct kp_event *ev, uint32_t sid)
{
    JsonBuilder *js = line_head(t, ev, "alert");
    if (js == NULL) {
        t->dropped++;
        return;
    }
    const char *app = app_proto_of(ev);
    char sig[256];
    kp_sc_alert_signature(sid, kp_event_str(ev, KP_F_ISSUER_COUNTRY),
                          kp_event_int(ev, KP_F_ISSUER_ASN), kp_event_str(ev, KP_F_SERVICE),
                          kp_event_str(ev, KP_F_MECHANISM), sig, sizeof(sig));
    jb_open_object(js, "alert");
    jb_set_string(js, "action", "allowed");
    jb_set_uint(js, "gid", 1);
    jb_set_uint(js, "signature_id", sid);
    jb_set_uint(js, "rev", 1);
    jb_set_string_from_bytes(js, "signature", (const uint8_t *)sig, (uint32_t)strlen(sig));
    jb_set_string(js, "category", kp_sc_alert_category(sid));
    jb_set_uint(js, "severity", (uint64_t)kp_sc_alert_severity(sid));
    jb_close(js);
    add_tls(js, ev, app);
    if (app != NULL) {
        jb_set_string(js, "app_proto", app);
    }
    /* the key comes from the issuer, but the flow is the client's */
    jb_set_string(js, "direction", "to_server");
    line_finish(t, js);
    t->alerts++;
}

static void write_record(struct kp_sc_thread *t, const struct kp_event *ev)
{
    JsonBuilder *js = line_head(t, ev, "keyprov");
    if (js == NULL) {
        t->dropped++;
        return;
    }
    const char *app = app_proto_of(ev);
    add_tls(js, ev, app);
    if (app != NULL) {
        jb_set_string(js, "app_proto", app);
    }
    line_finish(t, js);
}

/* keyprov's anomalies as Suricata's anomaly object: names are
 * "<protocol>.<what>"; running out of reassembly memory is a stream matter. */
static void write_anomaly(struct kp_sc_thread *t, const struct kp_event *ev)
{
    static const char *const parsers[] = {"tls", "dtls", "quic", "sip", "stun", "zrtp", "rtp"};
    const char *name = kp_event_str(ev, KP_F_ANOMALY);
    const char *type = "applayer", *layer = "proto_parser", *app = NULL;
    if (name != NULL && strncmp(name, "memory.", 7) == 0) {
        type = "stream";
        layer = NULL;
    } else if (name != NULL) {
        for (size_t i = 0; i < sizeof(parsers) / sizeof(parsers[0]); i++) {
            size_t n = strlen(parsers[i]);
            if (strncmp(name, parsers[i], n) == 0 && name[n] == '.') {
                app = parsers[i];
                break;
            }
        }
    }
    JsonBuilder *js = line_head(t, ev, "anomaly");
    if (js == NULL) {
        t->dropped++;
        return;
    }
    if (app != NULL) {
        jb_set_string(js, "app_proto", app);
    }
    jb_open_object(js, "anomaly");
    jb_set_string(js, "type", type);
    const char *event = nonempty(name) ? name : "unknown";
    jb_set_string_from_bytes(js, "event", (const uint8_t *)event, (uint32_t)strlen(event));
    if (layer != NULL) {
        jb_set_string(js, "layer", layer);
    }
    if (app != NULL) {
        jb_set_string(js, "app_proto", app);
    }
    jb_close(js);
    line_finish(t, js);
}

/* The engine's callback: every event becomes EVE line(s) at once. */
static void on_event(const struct kp_event *ev, void *user)
{
    struct kp_sc_thread *t = user;
    if (t->out == NULL) {
        t->late++; /* a flow Suricata ended after this thread stopped */
        return;
    }
    if (!format_object(t, ev)) {
        t->dropped++;
        return;
    }
    enum kp_event_type type = kp_event_type(ev);
    if (type == KP_EV_KEY) {
        t->keys++;
        if (kp_event_int(ev, KP_F_FLAGGED) != 0) {
            t->flagged++;
            if (t->ctx->alerts) {
                uint32_t sids[8];
                size_t n = kp_sc_alert_sids(kp_event_str(ev, KP_F_MECHANISM),
                                            kp_event_str(ev, KP_F_REASON), sids,
                                            sizeof(sids) / sizeof(sids[0]));
                for (size_t i = 0; i < n; i++) {
                    write_alert(t, ev, sids[i]);
                }
            }
        }
    }
    if (type == KP_EV_ANOMALY) {
        write_anomaly(t, ev);
    } else {
        write_record(t, ev); /* key, media, session, and types added later */
    }
}

/* ------------------------------------------------------ flow states */

/* Drop one reference; the last one frees the thread's engine. */
static void thread_unref(struct kp_sc_thread *t)
{
    pthread_mutex_lock(&t->lock);
    bool last = --t->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last) {
        kp_engine_free(t->eng);
        pthread_mutex_destroy(&t->lock);
        ctx_unref(t->ctx); /* the engine used its geo and policy until now */
        free(t->obj);
        free(t);
    }
}

static void live_unlink(struct kp_sc_thread *t, struct kp_sc_flow *w)
{
    if (!w->live) {
        return;
    }
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        t->live_head = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    } else {
        t->live_tail = w->prev;
    }
    w->prev = w->next = NULL;
    w->live = false;
}

static void live_touch(struct kp_sc_thread *t, struct kp_sc_flow *w, uint64_t us)
{
    if (us > w->last_us) {
        w->last_us = us;
    }
    if (w->live && t->live_tail == w) {
        return;
    }
    live_unlink(t, w);
    w->prev = t->live_tail;
    w->next = NULL;
    if (t->live_tail != NULL) {
        t->live_tail->next = w;
    } else {
        t->live_head = w;
    }
    t->live_tail = w;
    w->live = true;
}

/* Release a state in the engine (its records are written, tagged with the
 * flow's flow_id); the state can start again on the flow's next packet. */
static void release_state(struct kp_sc_thread *t, struct kp_sc_flow *w)
{
    live_unlink(t, w);
    struct kp_sc_cur saved = t->cur;
    t->cur = w->who;
    kp_flow_state_release(t->eng, w->state);
    t->cur = saved;
}

/* Free a state whose flow Suricata ended. */
static void end_state(struct kp_sc_thread *t, struct kp_sc_flow *w)
{
    release_state(t, w);
    free(w);
    thread_unref(t);
}

/* Flows idle for keyprov's idle timeout (capture time) are released as the
 * keyprov command releases them, whatever Suricata's own flow timeouts:
 * keyprov's sessions (300 s idle) expect a flow's records by then. */
static void sweep_idle(struct kp_sc_thread *t, uint64_t now)
{
    if (now < t->last_sweep_us + 1000000u) {
        return;
    }
    t->last_sweep_us = now;
    while (t->live_head != NULL && t->live_head->last_us + t->idle_us < now) {
        release_state(t, t->live_head);
        t->idle_released++;
    }
}

/* Release the states of flows Suricata ended in other threads, least
 * recently active first (as they would have gone idle). */
static void drain_orphans(struct kp_sc_thread *t)
{
    pthread_mutex_lock(&t->lock);
    struct kp_sc_flow *q = t->orphans;
    t->orphans = NULL;
    atomic_store_explicit(&t->pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&t->lock);
    if (q == NULL) {
        return;
    }
    for (struct kp_sc_flow *w = q; w != NULL; w = w->next_orphan) {
        w->ended = true;
        t->ended_elsewhere++;
    }
    for (struct kp_sc_flow *w = t->live_head; w != NULL;) {
        struct kp_sc_flow *next = w->next;
        if (w->ended) {
            release_state(t, w); /* leaves the live list */
        }
        w = next;
    }
    while (q != NULL) {
        struct kp_sc_flow *next = q->next_orphan;
        end_state(t, q);
        q = next;
    }
}

/* A flow ended in a thread that is not its owner's (the flow recycler, a
 * flow evicted by another thread), or Suricata frees its memory: hand the
 * state to its owner. */
static void orphan_state(struct kp_sc_flow *w)
{
    struct kp_sc_thread *t = w->owner;
    pthread_mutex_lock(&t->lock);
    if (!t->closed) {
        w->next_orphan = t->orphans;
        t->orphans = w;
        atomic_fetch_add_explicit(&t->pending, 1, memory_order_relaxed);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    /* the owner stopped: free what the state holds; nothing is written */
    t->late++;
    release_state(t, w);
    pthread_mutex_unlock(&t->lock);
    free(w);
    thread_unref(t);
}

/* Suricata frees a flow's storage (FlowClearMemory) with our state still
 * in it: the flow logger did not see its end. */
static void kp_sc_storage_free(void *ptr)
{
    if (ptr != NULL) {
        orphan_state(ptr);
    }
}

/* The state of the flow of packet p, made on the flow's first packet. */
static struct kp_sc_flow *state_of(struct kp_sc_thread *t, const Packet *p)
{
    struct kp_sc_flow *w = FlowGetStorageById(p->flow, kp_sc_storage);
    if (w != NULL) {
        return w;
    }
    w = calloc(1, sizeof(*w) + kp_flow_state_size());
    if (w == NULL) {
        return NULL;
    }
    w->owner = t;
    cur_from_packet(&w->who, p);
    w->who.flow = NULL; /* the Flow may be gone when the state is released */
    w->who.in_iface = NULL;
    w->who.flow_id = flow_id_of(p->flow);
    kp_flow_state_init(w->state);
    if (FlowSetStorageById(p->flow, kp_sc_storage, w) != 0) {
        free(w);
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    t->refs++;
    pthread_mutex_unlock(&t->lock);
    t->flows++;
    return w;
}

/* --------------------------------------------------------- packet logger */

/* Pseudo packets (stream flushes, flow timeouts) carry no new bytes.  The
 * outer packet of a tunnel Suricata decapsulates (GRE, VXLAN, Geneve,
 * Teredo, IP in IP, ...) comes again as its inner packet(s), so only those
 * are fed; IP fragments come again as the reassembled packet.  Any packet,
 * pseudo ones too, lets the thread release the states queued for it. */
static int kp_sc_condition(ThreadVars *tv, void *data, const Packet *p)
{
    (void)tv;
    struct kp_sc_thread *t = data;
    if (t == NULL || t->eng == NULL) {
        return FALSE;
    }
    if (atomic_load_explicit(&t->pending, memory_order_relaxed) != 0) {
        drain_orphans(t);
    }
    return !PKT_IS_PSEUDOPKT(p) && !IS_TUNNEL_ROOT_PKT(p) ? TRUE : FALSE;
}

/* GTP-U (UDP 2152) carries many inner flows in one Suricata flow: keyprov
 * opens it itself and tracks the inner flows in its own table. */
static bool is_gtpu(const Packet *p)
{
    return p->proto == IPPROTO_UDP && (p->sp == 2152 || p->dp == 2152);
}

/* Every packet from its IP header on: Suricata has already taken the link
 * layer off (any of its link types, VLAN/QinQ, MPLS, PPPoE, ...), and for a
 * tunnel's inner packet the IP header is the only reliable start.  TCP and
 * UDP packets of a Suricata flow are fed with the state in that flow; the
 * rest (no flow, GTP-U) go through the engine's own flow table. */
static int kp_sc_log(ThreadVars *tv, void *data, const Packet *p)
{
    (void)tv;
    struct kp_sc_thread *t = data;
    const uint8_t *l3 = p->ip4h != NULL ? (const uint8_t *)p->ip4h : (const uint8_t *)p->ip6h;
    const uint8_t *start = GET_PKT_DATA(p);
    uint32_t len = GET_PKT_LEN(p);
    if (l3 == NULL || start == NULL || l3 < start || l3 >= start + len) {
        t->not_ip++;
        return 0;
    }
    size_t n = (size_t)(start + len - l3);
    /* byte counts as keyprov -r counts them: whole frames (Suricata keeps
     * the captured length only); a tunnel's inner packet counts itself */
    size_t wire = IS_TUNNEL_PKT(p) ? n : (size_t)len;
    uint64_t us = SCTIME_SECS(p->ts) * 1000000u + SCTIME_USECS(p->ts);
    cur_from_packet(&t->cur, p);
    struct kp_sc_flow *w = NULL;
    if (p->flow != NULL && kp_sc_storage.id >= 0 && t->cur.set && !is_gtpu(p)) {
        w = state_of(t, p);
        if (w != NULL && w->owner != t) {
            /* Suricata handed a packet of another thread's flow to this
             * thread (asymmetric load balancing): that state is the other
             * engine's to touch */
            t->other_thread++;
            w = NULL;
        }
    }
    if (w != NULL && kp_engine_feed_flow(t->eng, w->state, us, l3, n, wire) == KP_OK) {
        live_touch(t, w, us);
        t->fed_flow++;
    } else {
        if (w != NULL) {
            t->tuple_mismatch++; /* Suricata put it in a flow of another 5-tuple */
        }
        (void)kp_engine_feed(t->eng, KP_SC_LINKTYPE_RAW, us, l3, n, wire);
    }
    sweep_idle(t, us);
    t->cur.set = false;
    t->cur.flow = NULL;
    t->fed++;
    return 0;
}

/* Never fails: in 7.0 a logger whose ThreadInit fails shifts the other
 * loggers' thread data.  A thread whose engine cannot be made logs an
 * error and runs without keyprov. */
static TmEcode kp_sc_thread_init(ThreadVars *tv, const void *initdata, void **data)
{
    *data = NULL;
    const OutputCtx *oc = initdata;
    if (oc == NULL || oc->data == NULL) {
        return TM_ECODE_OK;
    }
    struct kp_sc_thread *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        SCLogError("out of memory; this thread runs without keyprov");
        return TM_ECODE_OK;
    }
    t->ctx = oc->data;
    t->refs = 1;
    atomic_init(&t->pending, 0);
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        SCLogError("cannot make a mutex; this thread runs without keyprov");
        free(t);
        return TM_ECODE_OK;
    }
    t->out = CreateEveThreadCtx(tv, t->ctx->eve);
    if (t->out == NULL) {
        SCLogError("cannot open the eve-log output; this thread runs without keyprov");
        pthread_mutex_destroy(&t->lock);
        free(t);
        return TM_ECODE_OK;
    }
    atomic_fetch_add(&t->ctx->refs, 1);
    struct kp_config cfg;
    kp_config_init(&cfg);
    if (t->ctx->max_flows != 0) {
        cfg.max_flows = t->ctx->max_flows;
    }
    if (t->ctx->idle_timeout_s != 0) {
        cfg.idle_timeout_s = t->ctx->idle_timeout_s;
    }
    cfg.report_all = t->ctx->report_all;
    cfg.geo = t->ctx->geo;
    cfg.policy = t->ctx->policy;
    cfg.rules_path = t->ctx->rules_path;
    cfg.on_event = on_event;
    cfg.user = t;
    t->idle_us = 1000000ull * cfg.idle_timeout_s;
    char err[512];
    if (kp_engine_new(&t->eng, &cfg, err, sizeof(err)) != KP_OK) {
        SCLogError("%s; this thread runs without keyprov", err);
        t->eng = NULL;
    }
    kp_sc_self = t;
    *data = t;
    return TM_ECODE_OK;
}

static TmEcode kp_sc_thread_deinit(ThreadVars *tv, void *data)
{
    (void)tv;
    struct kp_sc_thread *t = data;
    if (t == NULL) {
        return TM_ECODE_OK;
    }
    if (kp_sc_self == t) {
        kp_sc_self = NULL;
    }
    if (t->eng != NULL) {
        /* flows Suricata ended elsewhere (at shutdown: all of them, in the
         * flow recycler), flows still open, then what the engine holds:
         * written now, while the output is open */
        drain_orphans(t);
        while (t->live_head != NULL) {
            release_state(t, t->live_head);
        }
        kp_engine_finish(t->eng);
        struct kp_stats st = KP_STATS_INIT;
        kp_engine_stats(t->eng, &st);
        SCLogInfo("%" PRIu64 " packets (%" PRIu64 " in Suricata's flows, %" PRIu64
                  " not IP), %" PRIu64 " flow states (ended: %" PRIu64 " here, %" PRIu64
                  " in other threads; %" PRIu64 " idle), %" PRIu64 " key records (%" PRIu64
                  " flagged, %" PRIu64 " alerts), %" PRIu64 " EVE lines (%" PRIu64
                  " with Suricata's flow_id, %" PRIu64 " dropped)",
                  t->fed, t->fed_flow, t->not_ip, t->flows, t->ended_here, t->ended_elsewhere,
                  t->idle_released, t->keys, t->flagged, t->alerts, t->lines, t->with_flow_id,
                  t->dropped);
        if (t->other_thread != 0) {
            SCLogInfo("%" PRIu64 " packets of flows begun in other threads went through "
                      "keyprov's own flow table",
                      t->other_thread);
        }
        if (t->tuple_mismatch != 0) {
            SCLogInfo("%" PRIu64 " packets were not of their Suricata flow's 5-tuple and went "
                      "through keyprov's own flow table",
                      t->tuple_mismatch);
        }
    }
    /* from now on a state another thread hands back is only freed; states
     * queued since the drain above were released with the live ones */
    pthread_mutex_lock(&t->lock);
    t->closed = true;
    OutputJsonThreadCtx *out = t->out;
    t->out = NULL;
    struct kp_sc_flow *q = t->orphans;
    t->orphans = NULL;
    pthread_mutex_unlock(&t->lock);
    FreeEveThreadCtx(out);
    while (q != NULL) {
        struct kp_sc_flow *next = q->next_orphan;
        end_state(t, q);
        q = next;
    }
    thread_unref(t);
    return TM_ECODE_OK;
}

/* ----------------------------------------------------------- flow logger */

/* Suricata ends a flow: release keyprov's state of it - here if this
 * thread's engine made it, else by queuing it to that engine.  Suricata's
 * own flow loggers run at the same point. */
static int kp_sc_flow_log(ThreadVars *tv, void *data, Flow *f)
{
    (void)tv;
    (void)data;
    if (kp_sc_storage.id < 0) {
        return 0;
    }
    struct kp_sc_flow *w = FlowGetStorageById(f, kp_sc_storage);
    if (w == NULL) {
        return 0;
    }
    (void)FlowSetStorageById(f, kp_sc_storage, NULL);
    struct kp_sc_thread *self = kp_sc_self;
    if (w->owner == self) {
        self->ended_here++;
        end_state(self, w);
    } else {
        orphan_state(w);
    }
    return 0;
}

/* The flow logger needs no state of its own (its thread's packet logger, if
 * any, is kp_sc_self), but 7.0 keeps loggers and their thread data in step
 * only for loggers with a ThreadInit that succeeds. */
static TmEcode kp_sc_flow_thread_init(ThreadVars *tv, const void *initdata, void **data)
{
    (void)tv;
    (void)initdata;
    *data = NULL;
    return TM_ECODE_OK;
}

static TmEcode kp_sc_flow_thread_deinit(ThreadVars *tv, void *data)
{
    (void)tv;
    (void)data;
    return TM_ECODE_OK;
}

static void kp_sc_flow_ctx_deinit(OutputCtx *oc) { SCFree(oc); }

static OutputInitResult kp_sc_flow_init_sub(ConfNode *conf, OutputCtx *parent)
{
    (void)conf;
    OutputInitResult r = {NULL, false};
    OutputCtx *oc = SCCalloc(1, sizeof(*oc));
    if (parent == NULL || oc == NULL) {
        SCFree(oc);
        return r;
    }
    oc->data = parent->data;
    oc->DeInit = kp_sc_flow_ctx_deinit;
    r.ctx = oc;
    r.ok = true;
    return r;
}

static void kp_sc_ctx_deinit(OutputCtx *oc)
{
    if (oc == NULL) {
        return;
    }
    ctx_unref(oc->data);
    SCFree(oc);
    atomic_store(&kp_sc_enabled, false);
}

/* The eve-log set-up calls this for `- keyprov` under its types; conf is
 * that entry's own mapping (NULL for a bare `- keyprov`).  A bad setting
 * stops Suricata at start-up, with the reason logged. */
static OutputInitResult kp_sc_init_sub(ConfNode *conf, OutputCtx *parent)
{
    OutputInitResult r = {NULL, false};
    if (parent == NULL || parent->data == NULL || !layout_ok()) {
        return r;
    }
    if (atomic_exchange(&kp_sc_enabled, true)) {
        SCLogError("keyprov can run in one eve-log output only");
        return r;
    }
    struct kp_sc_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        SCLogError("out of memory");
        atomic_store(&kp_sc_enabled, false);
        return r;
    }
    atomic_init(&ctx->refs, 1);
    ctx->eve = parent->data;
    ctx->cid_seed = ctx->eve->cfg.community_id_seed;
    bool all = false;
    if (!setting_bool(conf, "all", false, &all) ||
        !setting_bool(conf, "alerts", true, &ctx->alerts) ||
        !setting_u32(conf, "max-flows", 1, &ctx->max_flows) ||
        !setting_u32(conf, "idle-timeout", 1, &ctx->idle_timeout_s) || !open_geo(conf, ctx) ||
        !build_policy(conf, ctx)) {
        goto fail;
    }
    ctx->report_all = all ? 1 : 0;
    const char *rules = setting(conf, "rules");
    if (rules != NULL && (ctx->rules_path = strdup(rules)) == NULL) {
        SCLogError("out of memory");
        goto fail;
    }

    /* one engine now, so that a bad rules file stops start-up rather than
     * every thread */
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.geo = ctx->geo;
    cfg.policy = ctx->policy;
    cfg.rules_path = ctx->rules_path;
    cfg.max_flows = 16;
    struct kp_engine *probe = NULL;
    char err[512];
    if (kp_engine_new(&probe, &cfg, err, sizeof(err)) != KP_OK) {
        SCLogError("%s", err);
        goto fail;
    }
    kp_engine_free(probe);

    OutputCtx *oc = SCCalloc(1, sizeof(*oc));
    if (oc == NULL) {
        SCLogError("out of memory");
        goto fail;
    }
    oc->data = ctx;
    oc->DeInit = kp_sc_ctx_deinit;
    SCLogConfig("keyprov %s: key provenance of every packet into eve-log (alerts %s%s)",
                kp_version(), ctx->alerts ? "on" : "off", all ? ", all TLS" : "");
    r.ctx = oc;
    r.ok = true;
    return r;

fail:
    ctx_free(ctx);
    atomic_store(&kp_sc_enabled, false);
    return r;
}

/* -------------------------------------------------------------- plugin */

static void kp_sc_plugin_init(void)
{
    if (!version_ok()) {
        return; /* an eve-log naming keyprov then stops Suricata: no module */
    }
    /* before Suricata closes storage registration (StorageFinalize) */
    kp_sc_storage = FlowStorageRegister("keyprov", sizeof(void *), NULL, kp_sc_storage_free);
    if (kp_sc_storage.id < 0) {
        SCLogWarning("no flow storage for keyprov: it tracks flows in its own table, and "
                     "records of flows ended by a timeout carry no flow_id");
    }
    /* the packet logger first: the eve-log set-up initialises modules of
     * one name in registration order */
    OutputRegisterPacketSubModule(LOGGER_UNDEFINED, "eve-log", "KeyprovLog", "eve-log.keyprov",
                                  kp_sc_init_sub, kp_sc_log, kp_sc_condition, kp_sc_thread_init,
                                  kp_sc_thread_deinit, NULL);
    if (kp_sc_storage.id >= 0) {
        OutputRegisterFlowSubModule(LOGGER_UNDEFINED, "eve-log", "KeyprovFlowLog",
                                    "eve-log.keyprov", kp_sc_flow_init_sub, kp_sc_flow_log,
                                    kp_sc_flow_thread_init, kp_sc_flow_thread_deinit, NULL);
    }
}

/* Suricata reads this descriptor once, at load; it is not written to. */
static SCPlugin kp_sc_plugin = {
    .name = "keyprov",
    .license = "BSD-2-Clause",
    .author = "keyprov developers",
    .Init = kp_sc_plugin_init,
};

SCPlugin *SCPluginRegister(void);

SCPlugin *SCPluginRegister(void) { return &kp_sc_plugin; }
