/* Conferencing sessions: one client, one service, the key exchanges and
 * media flows that belong to it, who holds its keys, and a verdict.
 *
 * Key records and media flows are grouped by (client address, service).
 * Evidence links them: a media flow names the key exchange of the same
 * client and service (Zoom's multimedia router and its TLS control
 * channel), the 5-tuple it shares with a DTLS handshake, or the SDP that
 * announced it; the session keeps the link each flow came with.  A session
 * ends when it has been idle for KP_SESSION_IDLE_US of capture time, or at
 * the end of input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "policy.h"
#include "session.h"
#include "workers.h"

#define KP_SESSION_IDLE_US (300ull * 1000000ull)

static bool same(const char *a, const char *b) { return a != NULL && b != NULL && strcmp(a, b) == 0; }

/* Services whose media keys are agreed end to end by the apps themselves:
 * their servers carry signalling only (DESIGN.md). */
static bool e2ee_by_design(const char *service)
{
    return same(service, "whatsapp") || same(service, "signal") || same(service, "facetime");
}

static bool server_mechanism(const char *m)
{
    return same(m, "tls-control-channel") || same(m, "dtls-srtp") || same(m, "dtls") ||
           same(m, "quic") || same(m, "sdes-tls");
}

/* FNV-1a of the session key (not keyed: a collision costs one comparison) */
static uint32_t session_tag(const struct kp_addr *client, const char *service)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof(client->b); i++) {
        h = (h ^ client->b[i]) * 16777619u;
    }
    for (const char *p = service; p != NULL && *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    return h;
}

static struct kp_session *find_or_create(struct kp_engine *eng, const struct kp_addr *client,
                                         const char *service, uint64_t ts)
{
    struct kp_sessions *ss = &eng->sessions;
    uint32_t tag = session_tag(client, service);
    for (size_t i = 0; i < KP_SESSIONS; i++) {
        struct kp_session *s = ss->s[i];
        if (ss->tag[i] == tag && s != NULL && same(s->service, service) &&
            memcmp(&s->client, client, sizeof(*client)) == 0) {
            return s;
        }
    }
    size_t slot = KP_SESSIONS;
    for (size_t i = 0; i < KP_SESSIONS; i++) {
        if (ss->s[i] == NULL) {
            slot = i;
            break;
        }
    }
    if (slot == KP_SESSIONS) {
        /* full: the session idle the longest ends now (it is reported) */
        size_t oldest = 0;
        for (size_t i = 1; i < KP_SESSIONS; i++) {
            if (ss->s[i]->last_us < ss->s[oldest]->last_us) {
                oldest = i;
            }
        }
        kp_session_emit(eng, ss->s[oldest]);
        free(ss->s[oldest]);
        ss->s[oldest] = NULL;
        slot = oldest;
        eng->st.sessions_evicted++;
    }
    struct kp_session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->id = ++ss->next_id;
    s->client = *client;
    kp_addr_str(client, s->client_ip, sizeof(s->client_ip));
    s->service = service;
    s->first_us = s->last_us = ts;
    ss->s[slot] = s;
    ss->tag[slot] = tag;
    return s;
}

static void add_flow(struct kp_session *s, const char *proto, uint16_t cport, const char *server,
                     const char *role, const char *link)
{
    for (size_t i = 0; i < s->nflows; i++) {
        struct kp_sess_flow *f = &s->flows[i];
        if (same(f->proto, proto) && f->client_port == cport && strcmp(f->server, server) == 0) {
            if (!same(f->role, role) && same(role, "media")) {
                f->role = "control+media";
            }
            return;
        }
    }
    s->flows_total++;
    if (s->nflows == KP_SESSION_FLOWS) {
        return;
    }
    struct kp_sess_flow *f = &s->flows[s->nflows++];
    f->proto = proto;
    f->client_port = cport;
    snprintf(f->server, sizeof(f->server), "%s", server);
    f->role = role;
    f->link = link;
}

static void add_reason(struct kp_session *s, const char *r)
{
    for (size_t i = 0; i < s->nreasons; i++) {
        if (strcmp(s->reasons[i], r) == 0) {
            return;
        }
    }
    if (s->nreasons < KP_SESSION_REASONS) {
        snprintf(s->reasons[s->nreasons++], sizeof(s->reasons[0]), "%s", r);
    }
}

static void add_note(struct kp_session *s, const char *n)
{
    for (size_t i = 0; i < s->nnotes; i++) {
        if (strcmp(s->notes[i], n) == 0) {
            return;
        }
    }
    if (s->nnotes < KP_SESSION_NOTES) {
        snprintf(s->notes[s->nnotes++], sizeof(s->notes[0]), "%s", n);
    }
}

static void endpoint_text(char *buf, size_t len, const char *ip, uint16_t port)
{
    snprintf(buf, len, strchr(ip, ':') != NULL ? "[%s]:%u" : "%s:%u", ip, port);
}

#define MAX_CANDIDATES 64

struct expiry {
    struct kp_session *cand[MAX_CANDIDATES];
    size_t n;
};

/* A session stays open while any flow of its client is still in the flow
 * table: a long call's media flow reports only when it ends, and must find
 * its session still there. */
static void still_active(const struct kp_flow *f, void *user)
{
    struct expiry *x = user;
    for (size_t i = 0; i < x->n; i++) {
        struct kp_session *s = x->cand[i];
        if (s != NULL && (memcmp(&f->key.a, &s->client, sizeof(s->client)) == 0 ||
                          memcmp(&f->key.b, &s->client, sizeof(s->client)) == 0)) {
            x->cand[i] = NULL;
        }
    }
}

static void expire(struct kp_engine *eng, uint64_t now)
{
    struct kp_sessions *ss = &eng->sessions;
    if (now < ss->last_sweep_us + 10000000ull) {
        return;
    }
    ss->last_sweep_us = now;
    struct expiry x = {.n = 0};
    for (size_t i = 0; i < KP_SESSIONS && x.n < MAX_CANDIDATES; i++) {
        struct kp_session *s = ss->s[i];
        if (s != NULL && s->last_us + KP_SESSION_IDLE_US < now) {
            x.cand[x.n++] = s;
        }
    }
    if (x.n == 0) {
        return;
    }
    if (eng->workers != NULL) {
        for (size_t i = 0; i < x.n; i++) {
            if (kp_workers_addr_active(eng, &x.cand[i]->client)) {
                x.cand[i] = NULL;
            }
        }
    } else {
        kp_flow_table_foreach(eng->flows, still_active, &x);
    }
    for (size_t i = 0; i < KP_SESSIONS; i++) {
        struct kp_session *s = ss->s[i];
        for (size_t j = 0; s != NULL && j < x.n; j++) {
            if (x.cand[j] == s) {
                kp_session_emit(eng, s);
                free(s);
                ss->s[i] = NULL;
                break;
            }
        }
    }
}

void kp_session_add_key(struct kp_engine *eng, const struct kp_key_rec *k)
{
    expire(eng, k->ts_us);
    struct kp_session *s = find_or_create(eng, &k->client, k->service, k->ts_us);
    if (s == NULL) {
        return;
    }
    if (k->ts_us > s->last_us) {
        s->last_us = k->ts_us;
    }
    if (k->ts_us < s->first_us) {
        s->first_us = k->ts_us;
    }
    s->keys++;
    char ep[64];
    endpoint_text(ep, sizeof(ep), k->issuer_ip, k->issuer_port);
    add_flow(s, k->proto, k->client_port, ep,
             k->has_relay ? "relayed-key-exchange" : "key-exchange", "key record");
    if (k->has_relay) {
        char rp[64];
        endpoint_text(rp, sizeof(rp), k->relay_ip, k->relay_port);
        add_flow(s, k->proto, k->client_port, rp, "relay", "TURN allocation");
    }
    if (same(k->mechanism, "sdes-cleartext")) {
        s->cleartext++;
    } else if (same(k->mechanism, "e2ee-endpoint")) {
        s->e2ee++;
    } else if (server_mechanism(k->mechanism)) {
        s->server_keys++;
    }
    if (same(k->confidence, "low")) {
        s->low_confidence++;
    }
    if (k->flagged) {
        s->flagged++;
        add_reason(s, k->reason);
    }
    if (k->corroboration_note[0] != '\0') {
        char note[200];
        snprintf(note, sizeof(note), "%s: %s", k->issuer_ip, k->corroboration_note);
        add_note(s, note);
        s->corroboration_conflict = 1;
    }
    /* the key holders: one entry per issuer */
    struct kp_holder *h = NULL;
    for (size_t i = 0; i < s->nholders; i++) {
        if (memcmp(&s->holders[i].addr, &k->issuer, sizeof(k->issuer)) == 0 &&
            s->holders[i].port == k->issuer_port && same(s->holders[i].mechanism, k->mechanism)) {
            h = &s->holders[i];
        }
    }
    if (h == NULL) {
        s->holders_total++;
        if (s->nholders == KP_SESSION_HOLDERS) {
            return;
        }
        h = &s->holders[s->nholders++];
        h->addr = k->issuer;
        h->port = k->issuer_port;
        snprintf(h->ip, sizeof(h->ip), "%s", k->issuer_ip);
        h->geo = k->geo;
        h->scope = k->issuer_scope;
        h->mechanism = k->mechanism;
        h->confidence = k->confidence;
        size_t n = strnlen(k->sni, sizeof(h->sni) - 1);
        memcpy(h->sni, k->sni, n);
        h->sni[n] = '\0';
    }
    if (k->flagged && !h->flagged) {
        h->flagged = 1;
        snprintf(h->reason, sizeof(h->reason), "%s", k->reason);
    }
}

void kp_session_add_media(struct kp_engine *eng, const struct kp_media_rec *m)
{
    expire(eng, m->last_us);
    struct kp_session *s = find_or_create(eng, &m->client, m->service, m->ts_us);
    if (s == NULL) {
        return;
    }
    if (m->last_us > s->last_us) {
        s->last_us = m->last_us;
    }
    if (m->ts_us < s->first_us) {
        s->first_us = m->ts_us;
    }
    s->media++;
    char ep[64];
    endpoint_text(ep, sizeof(ep), m->server_ip, m->server_port);
    const char *link = m->linked_issuer_ip[0] != '\0'
                           ? (same(m->kind, "zoom") ? "same client's control channel"
                                                    : "same client and service")
                           : "same client and service (time only)";
    for (size_t i = 0; i < m->n_evidence; i++) {
        if (strncmp(m->evidence[i], "sdp.announced", 13) == 0) {
            link = "announced by SDP";
        }
    }
    add_flow(s, "udp", m->client_port, ep, "media", link);
}

void kp_session_finish(struct kp_engine *eng)
{
    struct kp_sessions *ss = &eng->sessions;
    /* in the order the sessions began */
    for (;;) {
        size_t first = KP_SESSIONS;
        for (size_t i = 0; i < KP_SESSIONS; i++) {
            if (ss->s[i] != NULL && (first == KP_SESSIONS || ss->s[i]->id < ss->s[first]->id)) {
                first = i;
            }
        }
        if (first == KP_SESSIONS) {
            return;
        }
        kp_session_emit(eng, ss->s[first]);
        free(ss->s[first]);
        ss->s[first] = NULL;
    }
}

void kp_session_free_all(struct kp_engine *eng)
{
    for (size_t i = 0; i < KP_SESSIONS; i++) {
        free(eng->sessions.s[i]);
        eng->sessions.s[i] = NULL;
    }
}

/* Who can decrypt the session's media, and the verdict. */
static void judge(const struct kp_engine *eng, struct kp_session *s)
{
    const struct kp_policy *pol = eng->cfg.policy;
    if (s->cleartext > 0) {
        s->holder = "anyone-on-path";
    } else if (s->e2ee > 0 || (e2ee_by_design(s->service) && s->keys > 0)) {
        s->holder = "endpoints";
    } else if (s->server_keys > 0) {
        s->holder = "server";
    } else {
        s->holder = "unknown";
    }
    if (e2ee_by_design(s->service)) {
        add_note(s, "end-to-end encrypted by design: its servers carry signalling, the media keys "
                    "are agreed by the apps (not visible on the wire)");
    }
    if (same(s->service, "zoom") && same(s->holder, "server")) {
        add_note(s, "Zoom also has an end-to-end mode that is not distinguishable on the wire; "
                    "in that mode no server holds the media key");
    }
    if (s->flagged > 0) {
        s->verdict = "violation";
        return;
    }
    if (same(s->holder, "anyone-on-path")) {
        enum kp_policy_action a = kp_policy_cleartext(pol);
        s->verdict = a == KP_POLICY_VIOLATION ? "violation" : a == KP_POLICY_REVIEW ? "review" : "ok";
        if (a != KP_POLICY_ALLOW) {
            add_reason(s, "SRTP key exposed in cleartext SDP (a=crypto)");
        }
        return;
    }
    if (same(s->holder, "unknown")) {
        enum kp_policy_action a = kp_policy_unknown(pol);
        s->verdict = a == KP_POLICY_VIOLATION ? "violation" : a == KP_POLICY_REVIEW ? "review" : "ok";
        if (a != KP_POLICY_ALLOW) {
            add_reason(s, "no key exchange visible for this session (policy: unknown-keys)");
        }
        return;
    }
    if (s->low_confidence == s->keys && s->keys > 0) {
        s->verdict = "review";
        add_reason(s, "the service was recognised with low confidence only");
        return;
    }
    s->verdict = s->nnotes > 0 && s->corroboration_conflict ? "review" : "ok";
}

void kp_session_emit(struct kp_engine *eng, struct kp_session *s)
{
    judge(eng, s);
    eng->st.sessions++;
    if (same(s->verdict, "violation")) {
        eng->st.sessions_violation++;
    }
    if (eng->cfg.on_event != NULL) {
        struct kp_event ev = {.type = KP_EV_SESSION, .session = s};
        eng->cfg.on_event(&ev, eng->cfg.user);
    }
}
