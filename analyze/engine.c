/* The engine: frames in, events out.  See keyprov.h for the contract. */
#include "engine.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "classify.h"
#include "geo.h"
#include "policy.h"
#include "session.h"
#include "tls.h"
#include "workers.h"

#define DEFAULT_MAX_FLOWS 262144u
#define DEFAULT_IDLE_S 120u
#define DEFAULT_REASM 65536u
#define MAX_REASM (1u << 20)
#define DEFAULT_MEM_LIMIT (512ull << 20)

KP_API const char *kp_version(void) { return KP_VERSION_STRING; }

KP_API const char *kp_strerror(int err)
{
    switch (err) {
    case KP_OK: return "success";
    case KP_EINVAL: return "invalid argument";
    case KP_ENOMEM: return "out of memory";
    case KP_EIO: return "cannot read file";
    case KP_EFORMAT: return "unexpected file format";
    case KP_ELINKTYPE: return "unsupported link type";
    default: return "unknown error";
    }
}

KP_API int kp_linktype_supported(int linktype) { return kp_decode_linktype_ok(linktype) ? 1 : 0; }

KP_API void kp_config_init(struct kp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->max_flows = DEFAULT_MAX_FLOWS;
    cfg->idle_timeout_s = DEFAULT_IDLE_S;
    cfg->reasm_limit = DEFAULT_REASM;
    cfg->mem_limit = DEFAULT_MEM_LIMIT;
}

static void flow_release(struct kp_flow *f, enum kp_flow_release why, void *user)
{
    struct kp_engine *eng = user;
    if (eng->wctx != NULL) {
        kp_worker_flow_release_begin(eng, f);
    }
    /* Whatever a flow still holds is finalised before its slot is reused:
     * eviction never loses a key record. */
    if (f->app_kind == KP_APP_TLS) {
        kp_tls_flow_release(eng, f);
    } else if (f->app_kind == KP_APP_UDP || f->app_kind == KP_APP_MEDIA) {
        kp_udp_flow_release(eng, f);
    }
    if (eng->cfg.report_flows && (eng->cfg.on_event != NULL || eng->wctx != NULL)) {
        struct kp_flow_rec r;
        memset(&r, 0, sizeof(r));
        struct kp_addr c, sv;
        kp_flow_endpoint(f, 0, &c, &r.client_port);
        kp_flow_endpoint(f, 1, &sv, &r.server_port);
        kp_addr_str(&c, r.client_ip, sizeof(r.client_ip));
        kp_addr_str(&sv, r.server_ip, sizeof(r.server_ip));
        r.ts_us = f->first_us;
        r.last_us = f->last_us;
        r.proto = f->key.proto == KP_PROTO_TCP ? "tcp" : "udp";
        memcpy(r.pkts, f->pkts, sizeof(r.pkts));
        memcpy(r.bytes, f->bytes, sizeof(r.bytes));
        r.seen = f->seen;
        r.end = why == KP_FLOW_IDLE ? "idle" : why == KP_FLOW_EVICTED ? "evicted" : "end";
        if (eng->wctx != NULL) {
            kp_worker_put(eng, KP_REC_FLOW, &r, sizeof(r));
        } else {
            struct kp_event ev = {.type = KP_EV_FLOW, .flow = &r};
            eng->cfg.on_event(&ev, eng->cfg.user);
        }
    }
    if (eng->wctx != NULL) {
        kp_worker_flow_release_end(eng, f);
    }
}

KP_API int kp_engine_new(struct kp_engine **out, const struct kp_config *cfg, char *err,
                         size_t errlen)
{
    *out = NULL;
    if (cfg == NULL || cfg->size == 0) {
        snprintf(err, errlen, "configuration not initialised (call kp_config_init)");
        return KP_EINVAL;
    }
    struct kp_engine *eng = calloc(1, sizeof(*eng));
    if (eng == NULL) {
        snprintf(err, errlen, "out of memory");
        return KP_ENOMEM;
    }
    /* Copy only the part of the configuration the caller knows about. */
    kp_config_init(&eng->cfg);
    size_t n = cfg->size < sizeof(eng->cfg) ? cfg->size : sizeof(eng->cfg);
    memcpy(&eng->cfg, cfg, n);
    eng->cfg.size = sizeof(eng->cfg);
    if (eng->cfg.mem_limit == 0) {
        eng->cfg.mem_limit = DEFAULT_MEM_LIMIT;
    }
    if (eng->cfg.max_flows == 0) {
        snprintf(err, errlen, "max_flows must be at least 1");
        kp_engine_free(eng);
        return KP_EINVAL;
    }
    if (eng->cfg.reasm_limit < 1024 || eng->cfg.reasm_limit > MAX_REASM) {
        snprintf(err, errlen, "reassembly limit must be between 1024 and %u bytes", MAX_REASM);
        kp_engine_free(eng);
        return KP_EINVAL;
    }
    uint64_t seed = eng->cfg.hash_seed;
    if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        seed = (uint64_t)(uintptr_t)eng ^ 0x9e3779b97f4a7c15ULL;
    }
    /* with workers the flows live in the workers' tables: this one only
     * provides the hash keys and the tick */
    uint32_t table_cap = eng->cfg.workers > 1 ? 1 : eng->cfg.max_flows;
    eng->flows = kp_flow_table_new(table_cap, (uint64_t)eng->cfg.idle_timeout_s * 1000000u,
                                   seed, flow_release, eng);
    eng->scratch = malloc(KP_SCRATCH);
    eng->cert_cache = calloc(KP_CERT_CACHE, sizeof(*eng->cert_cache));
    eng->geo_cache = calloc(KP_GEO_CACHE, sizeof(*eng->geo_cache));
    if (eng->flows == NULL || eng->scratch == NULL || eng->cert_cache == NULL ||
        eng->geo_cache == NULL) {
        snprintf(err, errlen, "out of memory for %u flows", eng->cfg.max_flows);
        kp_engine_free(eng);
        return KP_ENOMEM;
    }
    if (eng->cfg.rules_path != NULL) {
        FILE *fp = fopen(eng->cfg.rules_path, "rb");
        if (fp == NULL) {
            snprintf(err, errlen, "%s: cannot open rules file", eng->cfg.rules_path);
            kp_engine_free(eng);
            return KP_EIO;
        }
        char *text = malloc(1u << 20);
        size_t len = text != NULL ? fread(text, 1, 1u << 20, fp) : 0;
        bool too_big = text != NULL && len == (1u << 20);
        fclose(fp);
        if (text == NULL || too_big) {
            snprintf(err, errlen, "%s: %s", eng->cfg.rules_path,
                     text == NULL ? "out of memory" : "rules file larger than 1 MiB");
            free(text);
            kp_engine_free(eng);
            return text == NULL ? KP_ENOMEM : KP_EFORMAT;
        }
        eng->rules = kp_rules_parse(text, len, eng->cfg.rules_path, err, errlen);
        free(text);
    } else {
        eng->rules = kp_rules_builtin(err, errlen);
    }
    eng->cfg.rules_path = NULL; /* borrowed only for the duration of this call */
    if (eng->rules == NULL) {
        kp_engine_free(eng);
        return KP_EFORMAT;
    }
    if (eng->cfg.workers > 1) {
        if (eng->cfg.workers > 256) {
            snprintf(err, errlen, "at most 256 workers");
            kp_engine_free(eng);
            return KP_EINVAL;
        }
        int rc = kp_workers_start(eng, eng->cfg.workers, err, errlen);
        if (rc != KP_OK) {
            kp_engine_free(eng);
            return rc;
        }
    }
    *out = eng;
    return KP_OK;
}

KP_API void kp_engine_free(struct kp_engine *eng)
{
    if (eng == NULL) {
        return;
    }
    kp_workers_free(eng);
    if (eng->flows != NULL) {
        /* free per-flow state without emitting (kp_engine_finish emits) */
        eng->cfg.on_event = NULL;
        kp_flow_table_flush(eng->flows);
        kp_flow_table_free(eng->flows);
    }
    kp_session_free_all(eng);
    if (!eng->rules_borrowed) {
        kp_rules_free(eng->rules);
    }
    free(eng->cert_cache);
    free(eng->geo_cache);
    free(eng->scratch);
    free(eng);
}

/* Idle expiry, once per tick of the flow table's wheel, at the capture's
 * latest time: the sweep points depend on the packets' times only, so that
 * flow-affine workers given the same ticks expire the same flows. */
void kp_engine_tick(struct kp_engine *eng)
{
    if (eng->now_us >= eng->next_sweep_us) {
        kp_flow_table_expire(eng->flows, eng->now_us);
        uint64_t g = kp_flow_table_grain(eng->flows);
        eng->next_sweep_us = (eng->now_us / g + 1) * g;
    }
}

/* Decode a frame and count it; false when there is nothing more to do. */
static bool count_decoded(struct kp_engine *eng, enum kp_res r, uint64_t ts_us, size_t wirelen,
                          const struct kp_pkt *pkt)
{
    eng->st.packets++;
    eng->st.bytes += wirelen;
    if (ts_us > eng->now_us) {
        eng->now_us = ts_us;
    }
    if (r == KP_RES_NOT_MINE) {
        eng->st.other++;
        return false;
    }
    if (r != KP_RES_OK) {
        eng->st.undecodable++;
        return false;
    }
    if (pkt->ipver == 4) {
        eng->st.ipv4++;
    } else {
        eng->st.ipv6++;
    }
    if (pkt->fragment) {
        eng->st.ip_fragments++;
        return false;
    }
    if (pkt->proto == KP_PROTO_TCP) {
        eng->st.tcp++;
    } else if (pkt->proto == KP_PROTO_UDP) {
        eng->st.udp++;
    } else {
        return false;
    }
    return true;
}

static bool decode_counted(struct kp_engine *eng, int linktype, uint64_t ts_us,
                           const uint8_t *data, size_t caplen, size_t wirelen, struct kp_pkt *pkt)
{
    return count_decoded(eng, kp_decode(linktype, data, caplen, pkt), ts_us, wirelen, pkt);
}

static void process(struct kp_engine *eng, struct kp_flow *f, int dir, const struct kp_pkt *pkt,
                    size_t wirelen)
{
    f->pkts[dir]++;
    f->bytes[dir] += wirelen;
    if (f->bypass) {
        return;
    }
    if (pkt->proto == KP_PROTO_TCP) {
        kp_tls_flow_packet(eng, f, dir, pkt);
    } else {
        kp_udp_flow_packet(eng, f, dir, pkt);
    }
}

KP_API int kp_engine_feed(struct kp_engine *eng, int linktype, uint64_t ts_us,
                          const uint8_t *data, size_t caplen, size_t wirelen)
{
    if (!kp_decode_linktype_ok(linktype)) {
        return KP_ELINKTYPE;
    }
    if (eng->workers != NULL) {
        return kp_workers_feed(eng, linktype, ts_us, data, caplen, wirelen);
    }
    kp_engine_feed_hashed(eng, linktype, ts_us, data, caplen, wirelen, false, 0);
    return KP_OK;
}

void kp_engine_feed_decoded(struct kp_engine *eng, enum kp_res r, const struct kp_pkt *pkt,
                            uint64_t ts_us, size_t wirelen, const struct kp_flow_key *key,
                            uint32_t hash, bool src_is_a)
{
    if (!count_decoded(eng, r, ts_us, wirelen, pkt)) {
        return;
    }
    int dir;
    bool created;
    if (eng->wctx == NULL) {
        kp_engine_tick(eng); /* a worker is told when to sweep */
    }
    struct kp_flow *f = kp_flow_lookup_key(eng->flows, key, hash, src_is_a, ts_us, &dir, &created);
    if (created && eng->wctx != NULL) {
        kp_worker_flow_open(eng, f);
    }
    process(eng, f, dir, pkt, wirelen);
}

/* A frame decoded, with its flow's key and hash if it has a flow. */
struct decoded {
    struct kp_pkt pkt;
    struct kp_flow_key key;
    uint32_t hash;
    enum kp_res res;
    bool flow;      /* a TCP or UDP packet, not a fragment: it has a flow */
    bool src_is_a;
};

/* Decoding is pure: its result does not depend on what was processed
 * before, so a frame may be decoded ahead of its turn.  The hash is
 * computed unless the caller has it (have_hash). */
static void decode_frame(const struct kp_engine *eng, int linktype, const uint8_t *data,
                         size_t caplen, bool have_hash, uint32_t hash, struct decoded *d)
{
    d->res = kp_decode(linktype, data, caplen, &d->pkt);
    d->hash = 0;
    d->src_is_a = false;
    d->flow = d->res == KP_RES_OK && !d->pkt.fragment &&
              (d->pkt.proto == KP_PROTO_TCP || d->pkt.proto == KP_PROTO_UDP);
    if (d->flow) {
        d->src_is_a = kp_flow_key_make(&d->key, &d->pkt.src, d->pkt.sport, &d->pkt.dst,
                                       d->pkt.dport, d->pkt.proto);
        d->hash = have_hash ? hash : kp_flow_table_hash(eng->flows, &d->key);
    }
}

void kp_engine_feed_hashed(struct kp_engine *eng, int linktype, uint64_t ts_us,
                           const uint8_t *data, size_t caplen, size_t wirelen, bool have_hash,
                           uint32_t hash)
{
    struct decoded d;
    decode_frame(eng, linktype, data, caplen, have_hash, hash, &d);
    kp_engine_feed_decoded(eng, d.res, &d.pkt, ts_us, wirelen, &d.key, d.hash, d.src_is_a);
}

/* How far ahead of the packet being processed the batch loop asks for a
 * flow's hash bucket, and for the flow itself (once its bucket is in). */
#define AHEAD_BUCKET 8
#define AHEAD_FLOW 4

static void look_ahead(const struct kp_engine *eng, int linktype, const struct kp_frame *fr,
                       struct decoded *d)
{
    decode_frame(eng, linktype, fr->data, fr->caplen, false, 0, d);
    if (d->flow) {
        kp_flow_prefetch_bucket(eng->flows, d->hash);
    }
}

/* kp_engine_feed on each frame in turn; meanwhile the flow-table memory of
 * the frames ahead is brought into cache.  The frames are decoded once, a
 * few ahead of the one being processed. */
KP_API int kp_engine_feed_batch(struct kp_engine *eng, int linktype, const struct kp_frame *frames,
                                size_t n)
{
    if (!kp_decode_linktype_ok(linktype)) {
        return KP_ELINKTYPE;
    }
    if (frames == NULL && n > 0) {
        return KP_EINVAL;
    }
    if (eng->workers != NULL) {
        int rc = KP_OK;
        for (size_t i = 0; i < n; i++) {
            int r = kp_workers_feed(eng, linktype, frames[i].ts_us, frames[i].data,
                                    frames[i].caplen, frames[i].wirelen);
            rc = rc != KP_OK ? rc : r;
        }
        return rc;
    }
    struct decoded ring[AHEAD_BUCKET + 1];
    size_t filled = 0;
    for (; filled < n && filled < AHEAD_BUCKET; filled++) {
        look_ahead(eng, linktype, &frames[filled], &ring[filled % (AHEAD_BUCKET + 1)]);
    }
    for (size_t i = 0; i < n; i++) {
        if (filled < n) {
            look_ahead(eng, linktype, &frames[filled], &ring[filled % (AHEAD_BUCKET + 1)]);
            filled++;
        }
        if (i + AHEAD_FLOW < filled) {
            const struct decoded *b = &ring[(i + AHEAD_FLOW) % (AHEAD_BUCKET + 1)];
            if (b->flow) {
                kp_flow_prefetch_flow(eng->flows, b->hash);
            }
        }
        const struct kp_frame *fr = &frames[i];
        const struct decoded *a = &ring[i % (AHEAD_BUCKET + 1)];
        kp_engine_feed_decoded(eng, a->res, &a->pkt, fr->ts_us, fr->wirelen, &a->key, a->hash,
                               a->src_is_a);
    }
    return KP_OK;
}

/* ------------------------------------------------ host-owned flow state */

KP_API size_t kp_flow_state_size(void) { return sizeof(struct kp_flow); }

KP_API void kp_flow_state_init(void *state) { memset(state, 0, sizeof(struct kp_flow)); }

#define LINKTYPE_RAW 101

KP_API int kp_engine_feed_flow(struct kp_engine *eng, void *state, uint64_t ts_us,
                               const uint8_t *ip, size_t caplen, size_t wirelen)
{
    struct kp_flow *f = state;
    struct kp_pkt pkt;
    if (eng->workers != NULL) {
        return KP_EINVAL;
    }
    if (f == NULL || !decode_counted(eng, LINKTYPE_RAW, ts_us, ip, caplen, wirelen, &pkt)) {
        return f == NULL ? KP_EINVAL : KP_OK;
    }
    struct kp_flow_key k;
    bool src_is_a = kp_flow_key_make(&k, &pkt.src, pkt.sport, &pkt.dst, pkt.dport, pkt.proto);
    if (!f->in_use) {
        f->key = k;
        f->in_use = 1;
        f->init_is_a = src_is_a ? 1 : 0;
        f->first_us = f->last_us = ts_us;
    } else if (memcmp(&f->key, &k, sizeof(k)) != 0) {
        return KP_EINVAL; /* a packet of another flow: the host's flow table disagrees */
    }
    if (ts_us > f->last_us) {
        f->last_us = ts_us;
    }
    int dir = (src_is_a == (f->init_is_a != 0)) ? 0 : 1;
    process(eng, f, dir, &pkt, wirelen);
    return KP_OK;
}

KP_API void kp_flow_state_release(struct kp_engine *eng, void *state)
{
    struct kp_flow *f = state;
    if (f == NULL || !f->in_use) {
        return;
    }
    flow_release(f, KP_FLOW_FINISH, eng);
    memset(f, 0, sizeof(*f));
}

KP_API void kp_engine_finish(struct kp_engine *eng)
{
    if (eng->workers != NULL) {
        kp_workers_finish(eng);
    } else {
        kp_flow_table_flush(eng->flows);
    }
    kp_session_finish(eng);
}

KP_API void kp_engine_poll(struct kp_engine *eng)
{
    if (eng->workers != NULL) {
        kp_workers_poll(eng);
    }
}

KP_API void kp_engine_stats(const struct kp_engine *eng, struct kp_stats *out)
{
    struct kp_stats st = eng->st;
    struct kp_flow_counts c;
    kp_flow_table_counts(eng->flows, &c);
    st.flows_created = c.created;
    st.flows_evicted_idle = c.idle;
    st.flows_evicted_full = c.evicted;
    st.flows_active = c.active;
    if (eng->workers != NULL) {
        kp_workers_stats(eng, &st);
    }
    size_t n = out->size != 0 && out->size < sizeof(st) ? out->size : sizeof(st);
    st.size = n;
    memcpy(out, &st, n);
}

void kp_flow_endpoint(const struct kp_flow *f, int dir, struct kp_addr *a, uint16_t *port)
{
    /* dir 0 is the initiator's direction: its sender is key.a if init_is_a */
    bool sender_is_a = (dir == 0) == (f->init_is_a != 0);
    *a = sender_is_a ? f->key.a : f->key.b;
    *port = sender_is_a ? f->key.pa : f->key.pb;
}

/* The country a host name points to: its ccTLD (RFC 1591), or a location
 * label (airport code) as operators put in server names
 * ("media-mxp1-1.cdn.whatsapp.net": Milan).  Generic-use ccTLDs say
 * nothing and are skipped. */
static const struct {
    const char *label;
    const char *cc;
} region_labels[] = {
    {"sjc", "US"}, {"iad", "US"}, {"dfw", "US"}, {"ord", "US"}, {"lax", "US"}, {"sea", "US"},
    {"atl", "US"}, {"mia", "US"}, {"ewr", "US"}, {"yyz", "CA"}, {"yul", "CA"}, {"yvr", "CA"},
    {"lhr", "GB"}, {"ams", "NL"}, {"fra", "DE"}, {"cdg", "FR"}, {"mad", "ES"}, {"mxp", "IT"},
    {"arn", "SE"}, {"hel", "FI"}, {"waw", "PL"}, {"zrh", "CH"}, {"vie", "AT"}, {"dub", "IE"},
    {"hkg", "HK"}, {"sin", "SG"}, {"nrt", "JP"}, {"kix", "JP"}, {"icn", "KR"}, {"syd", "AU"},
    {"mel", "AU"}, {"bom", "IN"}, {"maa", "IN"}, {"gru", "BR"}, {"pek", "CN"}, {"pvg", "CN"},
    {"can", "CN"}, {"szx", "CN"}, {"tpe", "TW"}, {"jnb", "ZA"}, {"dxb", "AE"},
};

static const char *const generic_cctlds[] = {"io", "co", "me", "tv", "ai", "ly", "fm", "gg", "so",
                                              "to", "cc", "ws", "la", "am", "im", "sh", "vc", "gl",
                                              "us", "eu", "ac", "ag", "bz", "nu", "tk", "ms", "st"};

static bool name_country(const char *name, char out[3], const char **how)
{
    size_t n = strlen(name);
    const char *dot = strrchr(name, '.');
    if (dot != NULL && n - (size_t)(dot + 1 - name) == 2) {
        const char *tld = dot + 1;
        bool generic = false;
        for (size_t i = 0; i < sizeof(generic_cctlds) / sizeof(generic_cctlds[0]); i++) {
            generic |= strncasecmp(tld, generic_cctlds[i], 2) == 0;
        }
        if (!generic && isalpha((unsigned char)tld[0]) && isalpha((unsigned char)tld[1])) {
            out[0] = (char)toupper((unsigned char)tld[0]);
            out[1] = (char)toupper((unsigned char)tld[1]);
            out[2] = '\0';
            if (out[0] == 'U' && out[1] == 'K') {
                out[1] = 'B', out[0] = 'G';
            }
            *how = "cctld";
            return true;
        }
    }
    /* labels split at '.' and '-', trailing digits dropped */
    const char *p = name;
    while (*p != '\0') {
        const char *s = p;
        while (*p != '\0' && *p != '.' && *p != '-') {
            p++;
        }
        size_t len = (size_t)(p - s);
        while (len > 0 && isdigit((unsigned char)s[len - 1])) {
            len--;
        }
        for (size_t i = 0; len == 3 && i < sizeof(region_labels) / sizeof(region_labels[0]); i++) {
            if (strncasecmp(s, region_labels[i].label, 3) == 0) {
                memcpy(out, region_labels[i].cc, 3);
                *how = "region-label";
                return true;
            }
        }
        if (*p != '\0') {
            p++;
        }
    }
    return false;
}

/* Besides IP geolocation, what the wire says about where the issuer is:
 * the certificate's C= and the server name.  A disagreement is reported,
 * never silently resolved (the IP decides the policy). */
static void corroborate(struct kp_key_rec *k)
{
    const char *ip = k->geo.country;
    k->name_country[0] = '\0';
    k->name_country_how = NULL;
    k->corroboration_note[0] = '\0';
    if (k->sni_len > 0 && k->sni_len == strlen(k->sni)) {
        (void)name_country(k->sni, k->name_country, &k->name_country_how);
    }
    if (ip[0] == '\0') {
        return;
    }
    if (k->cert_country[0] != '\0' && strcasecmp(k->cert_country, ip) != 0) {
        snprintf(k->corroboration_note, sizeof(k->corroboration_note),
                 "IP in %s, certificate C=%s", ip, k->cert_country);
    } else if (k->name_country[0] != '\0' && strcmp(k->name_country, ip) != 0) {
        snprintf(k->corroboration_note, sizeof(k->corroboration_note),
                 "IP in %s, server name %s suggests %s", ip,
                 strcmp(k->name_country_how, "cctld") == 0 ? "domain" : "label", k->name_country);
    }
}

void *kp_engine_alloc(struct kp_engine *eng, size_t n)
{
    if (!kp_engine_account(eng, (int64_t)n)) {
        return NULL;
    }
    void *p = calloc(1, n);
    if (p == NULL) {
        kp_engine_account(eng, -(int64_t)n);
        eng->st.mem_limited++;
    }
    return p;
}

void kp_engine_free_state(struct kp_engine *eng, void *p, size_t n)
{
    if (p != NULL) {
        free(p);
        kp_engine_account(eng, -(int64_t)n);
    }
}

bool kp_engine_account(struct kp_engine *eng, int64_t delta)
{
    if (delta > 0 && eng->st.mem_used + (uint64_t)delta > eng->cfg.mem_limit) {
        eng->st.mem_limited++;
        return false;
    }
    eng->st.mem_used = (uint64_t)((int64_t)eng->st.mem_used + delta);
    if (eng->st.mem_used > eng->st.mem_peak) {
        eng->st.mem_peak = eng->st.mem_used;
    }
    return true;
}

void kp_engine_geo(struct kp_engine *eng, const struct kp_addr *a, struct kp_geo_info *out)
{
    memset(out, 0, sizeof(*out));
    if (eng->cfg.geo == NULL) {
        return;
    }
    uint64_t k0, k1;
    kp_flow_table_keys(eng->flows, &k0, &k1);
    struct kp_geo_slot *s =
        &eng->geo_cache[kp_siphash13(a->b, sizeof(a->b), k0 ^ 0x67656fu, k1) % KP_GEO_CACHE];
    if (s->used && memcmp(&s->addr, a, sizeof(*a)) == 0) {
        *out = s->info;
        return;
    }
    kp_geo_lookup_addr(eng->cfg.geo, a, out);
    s->addr = *a;
    s->info = *out;
    s->used = 1;
}

enum kp_res kp_engine_cert(struct kp_engine *eng, const uint8_t *der, size_t len,
                           struct kp_cert_info *out)
{
    uint64_t k0, k1;
    kp_flow_table_keys(eng->flows, &k0, &k1);
    /* keyed with the engine's secret seed: a sender cannot make two
     * certificates collide on purpose */
    uint64_t h = kp_siphash13(der, len, k0 ^ 0x63657274u, k1);
    size_t set = (size_t)(h >> 32) % KP_CERT_SETS;
    for (size_t w = 0; w < KP_CERT_WAYS && len > 0; w++) {
        const struct kp_cert_slot *c = &eng->cert_cache[set * KP_CERT_WAYS + w];
        if (c->len == len && c->hash == h) {
            if (c->res == KP_RES_OK) {
                *out = c->info;
            }
            eng->st.cert_cache_hits++;
            return c->res;
        }
    }
    enum kp_res r = kp_x509_summarize(der, len, out);
    eng->st.certs_decoded++;
    if (len > 0) {
        unsigned way = eng->cert_next[set]++ % KP_CERT_WAYS;
        struct kp_cert_slot *c = &eng->cert_cache[set * KP_CERT_WAYS + way];
        c->hash = h;
        c->len = len;
        c->res = r;
        if (r == KP_RES_OK) {
            c->info = *out;
        }
    }
    return r;
}

size_t kp_copy_view(char *dst, size_t cap, struct kp_rd v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n > 0) {
        memcpy(dst, v.p, n);
    }
    dst[n] = '\0';
    return n;
}

void kp_alpn_text(char *dst, size_t cap, const struct kp_tls_client_hello *ch)
{
    size_t used = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < ch->n_alpn; i++) {
        size_t n = ch->alpn[i].len;
        if (used + n + 2 >= cap) {
            break;
        }
        if (used > 0) {
            dst[used++] = ',';
        }
        for (size_t j = 0; j < n; j++) {
            uint8_t c = ch->alpn[i].p[j];
            dst[used++] = (c >= 0x20 && c < 0x7f && c != ',') ? (char)c : '?';
        }
        dst[used] = '\0';
    }
}

void kp_key_add_evidence(struct kp_key_rec *k, const char *what)
{
    if (k->n_evidence < KP_MAX_EVIDENCE) {
        k->evidence[k->n_evidence++] = what;
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void kp_engine_emit_key(struct kp_engine *eng, struct kp_key_rec *k)
{
    if (eng->wctx != NULL) {
        kp_worker_put(eng, KP_REC_KEY, k, sizeof(*k));
        return;
    }
    if (k->sdes_key_sha256[0] != '\0') {
        /* an SDES key already reported (retransmission, re-INVITE) */
        uint8_t h[16] = {0};
        for (size_t i = 0; i < 32 && k->sdes_key_sha256[i] != '\0'; i++) {
            int v = hexval(k->sdes_key_sha256[i]);
            h[i / 2] = (uint8_t)(h[i / 2] << 4 | (v < 0 ? 0 : v));
        }
        if (!kp_engine_sdes_first(eng, h)) {
            return;
        }
    }
    kp_addr_str(&k->client, k->client_ip, sizeof(k->client_ip));
    kp_addr_str(&k->issuer, k->issuer_ip, sizeof(k->issuer_ip));
    memset(&k->geo, 0, sizeof(k->geo));
    k->issuer_scope = kp_addr_scope(&k->issuer);
    if (k->issuer_scope == NULL) {
        kp_engine_geo(eng, &k->issuer, &k->geo);
    }
    if (k->has_relay) {
        kp_addr_str(&k->relay, k->relay_ip, sizeof(k->relay_ip));
        memset(&k->relay_geo, 0, sizeof(k->relay_geo));
        if (kp_addr_scope(&k->relay) == NULL) {
            kp_engine_geo(eng, &k->relay, &k->relay_geo);
        }
    }
    k->flagged = kp_policy_eval(eng->cfg.policy, k->service, k->geo.country, k->geo.asn,
                                k->issuer_scope != NULL, k->reason, sizeof(k->reason));
    if (!k->flagged) {
        k->reason[0] = '\0';
    }
    if (strcmp(k->mechanism, "sdes-cleartext") == 0 &&
        kp_policy_cleartext(eng->cfg.policy) == KP_POLICY_VIOLATION) {
        /* RFC 4568 8.3: SDES keys must only travel in encrypted signalling.
         * In clear, anyone on the path can decrypt the media: always a
         * violation, whatever the policy says about places. */
        static const char exposed[] = "SRTP key exposed in cleartext SDP (a=crypto)";
        size_t have = strlen(k->reason);
        if (have > 0 && have + sizeof(exposed) + 2 < sizeof(k->reason)) {
            memmove(k->reason + sizeof(exposed) + 1, k->reason, have + 1);
            memcpy(k->reason, exposed, sizeof(exposed) - 1);
            k->reason[sizeof(exposed) - 1] = ';';
            k->reason[sizeof(exposed)] = ' ';
        } else {
            memcpy(k->reason, exposed, sizeof(exposed));
        }
        k->flagged = 1;
    }
    corroborate(k);
    struct kp_link *l = &eng->links[eng->next_link++ % KP_LINKS];
    l->client = k->client;
    l->issuer = k->issuer;
    l->issuer_port = k->issuer_port;
    l->service = k->service;
    l->mechanism = k->mechanism;
    l->ts_us = k->ts_us;
    eng->st.key_records++;
    eng->st.flagged += k->flagged ? 1 : 0;
    if (eng->cfg.on_event != NULL) {
        struct kp_event ev = {.type = KP_EV_KEY, .key = k};
        eng->cfg.on_event(&ev, eng->cfg.user);
    }
    kp_session_add_key(eng, k);
}

void kp_media_add_evidence(struct kp_media_rec *m, const char *what)
{
    if (m->n_evidence < KP_MAX_EVIDENCE) {
        m->evidence[m->n_evidence++] = what;
    }
}

/* The parts of a media record that depend on other flows. */
static void media_resolve(struct kp_engine *eng, struct kp_media_rec *m)
{
    const struct kp_expect *e = NULL;
    if (!m->zoom) {
        const struct kp_expect *e1 = kp_engine_expected(eng, &m->ep[1], m->ep_port[1]);
        const struct kp_expect *e0 = kp_engine_expected(eng, &m->ep[0], m->ep_port[0]);
        e = e1 != NULL ? e1 : e0;
        int sdir = e1 == NULL && e0 != NULL ? 0 : 1;
        bool srtp = (e != NULL && e->srtp) || m->srtcp || m->dtls_keyed;
        m->kind = srtp ? "srtp" : "rtp";
        kp_media_add_evidence(m, "rtp.validated_stream");
        if (m->srtcp) {
            kp_media_add_evidence(m, "srtcp.index_sequence");
        }
        if (e != NULL) {
            kp_media_add_evidence(m, e->sdes ? "sdp.announced.sdes" : "sdp.announced");
            if (!e->srtp) {
                /* RFC 3551 RTP/AVP: the announced media is not encrypted */
                kp_media_add_evidence(m, "sdp.rtp_avp.unencrypted");
            }
        }
        m->server = m->ep[sdir];
        m->server_port = m->ep_port[sdir];
        m->client = m->ep[1 - sdir];
        m->client_port = m->ep_port[1 - sdir];
    }
    if (m->service == NULL) {
        const char *how = NULL;
        m->service = e != NULL ? "sip" : m->relay_service;
        if (m->service == NULL) {
            m->service = kp_engine_classify_server(eng, &m->server, m->server_port, NULL, &how);
        }
        if (m->service == NULL) {
            m->service = m->stun_or_dtls ? "webrtc" : "unknown";
        }
    }
    const struct kp_link *l = kp_engine_find_link(eng, &m->client, m->service);
    if (l != NULL) {
        kp_addr_str(&l->issuer, m->linked_issuer_ip, sizeof(m->linked_issuer_ip));
        m->linked_issuer_port = l->issuer_port;
        m->linked_mechanism = l->mechanism;
        kp_media_add_evidence(m, "link.same_client_and_service");
    }
}

void kp_engine_emit_media(struct kp_engine *eng, struct kp_media_rec *m)
{
    if (eng->wctx != NULL) {
        kp_worker_put(eng, KP_REC_MEDIA, m, sizeof(*m));
        return;
    }
    media_resolve(eng, m);
    kp_addr_str(&m->client, m->client_ip, sizeof(m->client_ip));
    kp_addr_str(&m->server, m->server_ip, sizeof(m->server_ip));
    memset(&m->geo, 0, sizeof(m->geo));
    m->server_scope = kp_addr_scope(&m->server);
    if (m->server_scope == NULL) {
        kp_engine_geo(eng, &m->server, &m->geo);
    }
    eng->st.media_flows++;
    if (eng->cfg.on_event != NULL) {
        struct kp_event ev = {.type = KP_EV_MEDIA, .media = m};
        eng->cfg.on_event(&ev, eng->cfg.user);
    }
    kp_session_add_media(eng, m);
}

const struct kp_link *kp_engine_find_link(const struct kp_engine *eng, const struct kp_addr *client,
                                          const char *service)
{
    const struct kp_link *best = NULL;
    for (size_t i = 0; i < KP_LINKS; i++) {
        const struct kp_link *l = &eng->links[i];
        if (l->service != NULL && strcmp(l->service, service) == 0 &&
            memcmp(&l->client, client, sizeof(*client)) == 0 &&
            (best == NULL || l->ts_us > best->ts_us)) {
            best = l;
        }
    }
    return best;
}

void kp_engine_expect(struct kp_engine *eng, const struct kp_addr *a, uint16_t port, bool srtp,
                      bool sdes)
{
    if (port == 0) {
        return; /* RFC 3264 6: port 0 rejects the stream */
    }
    if (eng->wctx != NULL) {
        kp_worker_expect(eng, a, port, srtp, sdes);
        return;
    }
    struct kp_expect *e = &eng->expects[eng->next_expect++ % KP_EXPECTS];
    e->addr = *a;
    e->port = port;
    e->used = 1;
    e->srtp = srtp;
    e->sdes = sdes;
    e->ts_us = eng->now_us;
}

const struct kp_expect *kp_engine_expected(const struct kp_engine *eng, const struct kp_addr *a,
                                           uint16_t port)
{
    for (size_t i = 0; i < KP_EXPECTS; i++) {
        const struct kp_expect *e = &eng->expects[i];
        if (e->used && e->port == port && memcmp(&e->addr, a, sizeof(*a)) == 0) {
            return e;
        }
    }
    return NULL;
}

bool kp_engine_sdes_first(struct kp_engine *eng, const uint8_t hash[16])
{
    for (size_t i = 0; i < KP_SDES_SEEN && i < eng->next_sdes; i++) {
        if (memcmp(eng->sdes_seen[i], hash, 16) == 0) {
            return false;
        }
    }
    memcpy(eng->sdes_seen[eng->next_sdes++ % KP_SDES_SEEN], hash, 16);
    return true;
}

void kp_engine_anomaly(struct kp_engine *eng, const struct kp_pkt *pkt, const char *name,
                       const char *detail)
{
    if (eng->cfg.on_event == NULL && eng->wctx == NULL) {
        return;
    }
    struct kp_anomaly a;
    memset(&a, 0, sizeof(a));
    a.ts_us = eng->now_us;
    a.name = name;
    a.proto = pkt->proto == KP_PROTO_TCP ? "tcp" : "udp";
    kp_addr_str(&pkt->src, a.src_ip, sizeof(a.src_ip));
    kp_addr_str(&pkt->dst, a.dst_ip, sizeof(a.dst_ip));
    a.src_port = pkt->sport;
    a.dst_port = pkt->dport;
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    if (eng->wctx != NULL) {
        kp_worker_put(eng, KP_REC_ANOMALY, &a, sizeof(a));
        return;
    }
    struct kp_event ev = {.type = KP_EV_ANOMALY, .anomaly = &a};
    eng->cfg.on_event(&ev, eng->cfg.user);
}
