/* Event accessors and JSON serialisation (schema: docs/events.md). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "json.h"

KP_API enum kp_event_type kp_event_type(const struct kp_event *ev) { return ev->type; }

static const char *media_str(const struct kp_media_rec *m, enum kp_field f)
{
    switch (f) {
    case KP_F_SERVICE: return m->service;
    case KP_F_MEDIA_KIND: return m->kind;
    case KP_F_CLIENT_IP: return m->client_ip;
    case KP_F_ISSUER_IP: return m->server_ip;
    case KP_F_ISSUER_COUNTRY: return m->geo.country;
    case KP_F_ISSUER_AS_ORG: return m->geo.as_org;
    case KP_F_ISSUER_SCOPE: return m->server_scope != NULL ? m->server_scope : "";
    case KP_F_LINKED_ISSUER_IP: return m->linked_issuer_ip;
    case KP_F_PROTO: return "udp";
    default: return NULL;
    }
}

KP_API const char *kp_event_str(const struct kp_event *ev, enum kp_field f)
{
    if (ev->type == KP_EV_FLOW) {
        switch (f) {
        case KP_F_CLIENT_IP: return ev->flow->client_ip;
        case KP_F_ISSUER_IP: return ev->flow->server_ip;
        case KP_F_PROTO: return ev->flow->proto;
        default: return NULL;
        }
    }
    if (ev->type == KP_EV_MEDIA) {
        return media_str(ev->media, f);
    }
    if (ev->type == KP_EV_SESSION) {
        const struct kp_session *s = ev->session;
        switch (f) {
        case KP_F_SERVICE: return s->service;
        case KP_F_CLIENT_IP: return s->client_ip;
        case KP_F_VERDICT: return s->verdict;
        case KP_F_HOLDER: return s->holder;
        case KP_F_REASON: return s->nreasons > 0 ? s->reasons[0] : "";
        default: return NULL;
        }
    }
    if (ev->type == KP_EV_ANOMALY) {
        const struct kp_anomaly *a = ev->anomaly;
        switch (f) {
        case KP_F_ANOMALY: return a->name;
        case KP_F_CLIENT_IP: return a->src_ip;
        case KP_F_ISSUER_IP: return a->dst_ip;
        case KP_F_PROTO: return a->proto;
        case KP_F_REASON: return a->detail;
        default: return NULL;
        }
    }
    const struct kp_key_rec *k = ev->key;
    switch (f) {
    case KP_F_SERVICE: return k->service;
    case KP_F_MECHANISM: return k->mechanism;
    case KP_F_CONFIDENCE: return k->confidence;
    case KP_F_CLIENT_IP: return k->client_ip;
    case KP_F_ISSUER_IP: return k->issuer_ip;
    case KP_F_ISSUER_COUNTRY: return k->geo.country;
    case KP_F_ISSUER_AS_ORG: return k->geo.as_org;
    case KP_F_SNI: return k->sni;
    case KP_F_CERT_SUBJECT: return k->cert_subject;
    case KP_F_CERT_COUNTRY: return k->cert_country;
    case KP_F_REASON: return k->reason;
    case KP_F_TLS_VERSION: return k->tls_version;
    case KP_F_JA4: return k->ja4;
    case KP_F_PROTO: return k->proto;
    case KP_F_ISSUER_SCOPE: return k->issuer_scope != NULL ? k->issuer_scope : "";
    default: return NULL;
    }
}

KP_API int64_t kp_event_int(const struct kp_event *ev, enum kp_field f)
{
    if (ev->type == KP_EV_FLOW) {
        switch (f) {
        case KP_F_CLIENT_PORT: return ev->flow->client_port;
        case KP_F_ISSUER_PORT: return ev->flow->server_port;
        case KP_F_PACKETS: return (int64_t)(ev->flow->pkts[0] + ev->flow->pkts[1]);
        case KP_F_TS_US: return (int64_t)ev->flow->ts_us;
        default: return 0;
        }
    }
    if (ev->type == KP_EV_SESSION) {
        const struct kp_session *s = ev->session;
        switch (f) {
        case KP_F_SESSION_ID: return s->id;
        case KP_F_KEYS: return s->keys;
        case KP_F_MEDIA: return s->media;
        case KP_F_HOLDERS_N: return (int64_t)s->nholders;
        case KP_F_REASONS_N: return (int64_t)s->nreasons;
        case KP_F_FLAGGED: return s->flagged > 0 || strcmp(s->verdict, "violation") == 0;
        case KP_F_TS_US: return (int64_t)s->first_us;
        default: return 0;
        }
    }
    if (ev->type == KP_EV_MEDIA) {
        switch (f) {
        case KP_F_CLIENT_PORT: return ev->media->client_port;
        case KP_F_ISSUER_PORT: return ev->media->server_port;
        case KP_F_ISSUER_ASN: return ev->media->geo.asn;
        case KP_F_PACKETS: return (int64_t)ev->media->packets;
        case KP_F_TS_US: return (int64_t)ev->media->ts_us;
        default: return 0;
        }
    }
    if (ev->type == KP_EV_ANOMALY) {
        switch (f) {
        case KP_F_CLIENT_PORT: return ev->anomaly->src_port;
        case KP_F_ISSUER_PORT: return ev->anomaly->dst_port;
        case KP_F_TS_US: return (int64_t)ev->anomaly->ts_us;
        default: return 0;
        }
    }
    const struct kp_key_rec *k = ev->key;
    switch (f) {
    case KP_F_CLIENT_PORT: return k->client_port;
    case KP_F_ISSUER_PORT: return k->issuer_port;
    case KP_F_ISSUER_ASN: return k->geo.asn;
    case KP_F_FLAGGED: return k->flagged;
    case KP_F_TS_US: return (int64_t)k->ts_us;
    default: return 0;
    }
}

KP_API const char *kp_event_holder_str(const struct kp_event *ev, size_t i, enum kp_field f)
{
    if (ev->type != KP_EV_SESSION || i >= ev->session->nholders) {
        return NULL;
    }
    const struct kp_holder *h = &ev->session->holders[i];
    switch (f) {
    case KP_F_ISSUER_IP: return h->ip;
    case KP_F_ISSUER_COUNTRY: return h->geo.country;
    case KP_F_ISSUER_AS_ORG: return h->geo.as_org;
    case KP_F_ISSUER_SCOPE: return h->scope != NULL ? h->scope : "";
    case KP_F_MECHANISM: return h->mechanism;
    case KP_F_CONFIDENCE: return h->confidence;
    case KP_F_SNI: return h->sni;
    case KP_F_REASON: return h->reason;
    default: return NULL;
    }
}

KP_API int64_t kp_event_holder_int(const struct kp_event *ev, size_t i, enum kp_field f)
{
    if (ev->type != KP_EV_SESSION || i >= ev->session->nholders) {
        return 0;
    }
    const struct kp_holder *h = &ev->session->holders[i];
    switch (f) {
    case KP_F_ISSUER_PORT: return h->port;
    case KP_F_ISSUER_ASN: return h->geo.asn;
    case KP_F_FLAGGED: return h->flagged;
    default: return 0;
    }
}

KP_API const char *kp_event_reason(const struct kp_event *ev, size_t i)
{
    if (ev->type != KP_EV_SESSION || i >= ev->session->nreasons) {
        return NULL;
    }
    return ev->session->reasons[i];
}

/* RFC 3339 UTC with microseconds. */
static void fmt_ts(uint64_t us, char *buf, size_t len)
{
    time_t s = (time_t)(us / 1000000u);
    struct tm tm;
    if (gmtime_r(&s, &tm) == NULL) {
        snprintf(buf, len, "1970-01-01T00:00:00.000000Z");
        return;
    }
    char date[32];
    if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        date[0] = '\0';
    }
    snprintf(buf, len, "%s.%06uZ", date, (unsigned)(us % 1000000u));
}

static void str_or_null(struct kp_jw *w, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        kp_jw_null(w, key);
    } else {
        kp_jw_str(w, key, s);
    }
}

/* "ip" and "port" of an endpoint object the caller opened. */
static void ip_port(struct kp_jw *w, const char *ip, int64_t port)
{
    kp_jw_str(w, "ip", ip);
    kp_jw_int(w, "port", port);
}

/* What geolocation says of an address: country, scope, asn, as_org. */
static void geo_json(struct kp_jw *w, const struct kp_geo_info *g, const char *scope)
{
    str_or_null(w, "country", g->country);
    str_or_null(w, "scope", scope);
    if (g->asn != 0) {
        kp_jw_int(w, "asn", g->asn);
    } else {
        kp_jw_null(w, "asn");
    }
    str_or_null(w, "as_org", g->as_org);
}

static void key_json(struct kp_jw *w, const struct kp_key_rec *k)
{
    char ts[48];
    fmt_ts(k->ts_us, ts, sizeof(ts));
    kp_jw_str(w, "event_type", "key");
    kp_jw_int(w, "schema", KP_EVENT_SCHEMA_VERSION);
    kp_jw_str(w, "ts", ts);
    kp_jw_str(w, "service", k->service);
    kp_jw_str(w, "mechanism", k->mechanism);
    kp_jw_str(w, "proto", k->proto);
    kp_jw_obj_open(w, "client");
    ip_port(w, k->client_ip, k->client_port);
    kp_jw_obj_close(w);
    kp_jw_obj_open(w, "issuer");
    ip_port(w, k->issuer_ip, k->issuer_port);
    geo_json(w, &k->geo, k->issuer_scope);
    if (k->sni_len > 0) {
        kp_jw_strn(w, "sni", k->sni, k->sni_len);
    } else {
        kp_jw_null(w, "sni");
    }
    str_or_null(w, "cert_subject", k->cert_subject);
    str_or_null(w, "cert_issuer", k->cert_issuer);
    str_or_null(w, "cert_country", k->cert_country);
    str_or_null(w, "cert_sha256", k->cert_sha256);
    kp_jw_obj_close(w);
    if (k->tls_version[0] != '\0' || k->ja4[0] != '\0') {
        kp_jw_obj_open(w, "tls");
        str_or_null(w, "version", k->tls_version);
        str_or_null(w, "cipher", k->cipher);
        str_or_null(w, "alpn", k->alpn);
        str_or_null(w, "ja4", k->ja4);
        str_or_null(w, "cert_sans", k->cert_sans);
        if (k->cert_self_signed >= 0) {
            kp_jw_bool(w, "cert_self_signed", k->cert_self_signed != 0);
        }
        kp_jw_obj_close(w);
    }
    if (k->srtp[0] != '\0' || k->quic_version[0] != '\0') {
        kp_jw_obj_open(w, "media");
        str_or_null(w, "srtp_profile", k->srtp);
        str_or_null(w, "quic_version", k->quic_version);
        kp_jw_obj_close(w);
    }
    if (k->has_relay) {
        kp_jw_obj_open(w, "relay");
        kp_jw_str(w, "ip", k->relay_ip);
        kp_jw_int(w, "port", k->relay_port);
        str_or_null(w, "country", k->relay_geo.country);
        if (k->relay_geo.asn != 0) {
            kp_jw_int(w, "asn", k->relay_geo.asn);
        } else {
            kp_jw_null(w, "asn");
        }
        str_or_null(w, "as_org", k->relay_geo.as_org);
        kp_jw_obj_close(w);
    }
    if (k->sdes_suite[0] != '\0') {
        kp_jw_obj_open(w, "sdes");
        kp_jw_str(w, "suite", k->sdes_suite);
        kp_jw_str(w, "key_sha256_128", k->sdes_key_sha256);
        kp_jw_bool(w, "key_exposed", strcmp(k->mechanism, "sdes-cleartext") == 0);
        kp_jw_obj_close(w);
    }
    kp_jw_obj_open(w, "corroboration");
    str_or_null(w, "ip_country", k->geo.country);
    str_or_null(w, "cert_country", k->cert_country);
    str_or_null(w, "name_country", k->name_country);
    str_or_null(w, "name_hint", k->name_country_how);
    kp_jw_bool(w, "agree", k->corroboration_note[0] == '\0');
    str_or_null(w, "note", k->corroboration_note);
    kp_jw_obj_close(w);
    kp_jw_str(w, "confidence", k->confidence);
    kp_jw_arr_open(w, "evidence");
    for (size_t i = 0; i < k->n_evidence; i++) {
        kp_jw_str(w, NULL, k->evidence[i]);
    }
    kp_jw_arr_close(w);
    kp_jw_bool(w, "flagged", k->flagged != 0);
    if (k->flagged) {
        kp_jw_str(w, "reason", k->reason);
    }
}

static void anomaly_json(struct kp_jw *w, const struct kp_anomaly *a)
{
    char ts[48];
    fmt_ts(a->ts_us, ts, sizeof(ts));
    kp_jw_str(w, "event_type", "anomaly");
    kp_jw_int(w, "schema", KP_EVENT_SCHEMA_VERSION);
    kp_jw_str(w, "ts", ts);
    kp_jw_str(w, "anomaly", a->name);
    kp_jw_str(w, "proto", a->proto);
    kp_jw_str(w, "src_ip", a->src_ip);
    kp_jw_int(w, "src_port", a->src_port);
    kp_jw_str(w, "dest_ip", a->dst_ip);
    kp_jw_int(w, "dest_port", a->dst_port);
    kp_jw_str(w, "detail", a->detail);
}

static void media_json(struct kp_jw *w, const struct kp_media_rec *m)
{
    char ts[48], last[48];
    fmt_ts(m->ts_us, ts, sizeof(ts));
    fmt_ts(m->last_us, last, sizeof(last));
    kp_jw_str(w, "event_type", "media");
    kp_jw_int(w, "schema", KP_EVENT_SCHEMA_VERSION);
    kp_jw_str(w, "ts", ts);
    kp_jw_str(w, "last_ts", last);
    kp_jw_str(w, "service", m->service);
    kp_jw_str(w, "kind", m->kind);
    kp_jw_str(w, "proto", "udp");
    kp_jw_obj_open(w, "client");
    ip_port(w, m->client_ip, m->client_port);
    kp_jw_obj_close(w);
    kp_jw_obj_open(w, "server");
    ip_port(w, m->server_ip, m->server_port);
    geo_json(w, &m->geo, m->server_scope);
    kp_jw_obj_close(w);
    kp_jw_int(w, "packets", (int64_t)m->packets);
    kp_jw_int(w, "bytes", (int64_t)m->bytes);
    kp_jw_int(w, "ssrc_count", m->ssrc_count);
    if (m->payload_type >= 0) {
        kp_jw_int(w, "payload_type", m->payload_type);
    } else {
        kp_jw_null(w, "payload_type");
    }
    if (m->linked_issuer_ip[0] != '\0') {
        kp_jw_obj_open(w, "key_exchange");
        kp_jw_str(w, "mechanism", m->linked_mechanism);
        kp_jw_str(w, "issuer_ip", m->linked_issuer_ip);
        kp_jw_int(w, "issuer_port", m->linked_issuer_port);
        kp_jw_obj_close(w);
    } else {
        kp_jw_null(w, "key_exchange");
    }
    kp_jw_arr_open(w, "evidence");
    for (size_t i = 0; i < m->n_evidence; i++) {
        kp_jw_str(w, NULL, m->evidence[i]);
    }
    kp_jw_arr_close(w);
}

static void flow_json(struct kp_jw *w, const struct kp_flow_rec *f)
{
    static const struct {
        uint16_t bit;
        const char *name;
    } names[] = {{KP_SEEN_TLS, "tls"}, {KP_SEEN_DTLS, "dtls"}, {KP_SEEN_QUIC, "quic"},
                 {KP_SEEN_STUN, "stun"}, {KP_SEEN_TURN, "turn"}, {KP_SEEN_RTP, "rtp"},
                 {KP_SEEN_ZOOM, "zoom"}, {KP_SEEN_SIP, "sip"}, {KP_SEEN_ZRTP, "zrtp"}};
    char ts[48], last[48];
    fmt_ts(f->ts_us, ts, sizeof(ts));
    fmt_ts(f->last_us, last, sizeof(last));
    kp_jw_str(w, "event_type", "flow");
    kp_jw_int(w, "schema", KP_EVENT_SCHEMA_VERSION);
    kp_jw_str(w, "ts", ts);
    kp_jw_str(w, "last_ts", last);
    kp_jw_str(w, "proto", f->proto);
    kp_jw_obj_open(w, "client");
    ip_port(w, f->client_ip, f->client_port);
    kp_jw_obj_close(w);
    kp_jw_obj_open(w, "server");
    ip_port(w, f->server_ip, f->server_port);
    kp_jw_obj_close(w);
    kp_jw_int(w, "pkts_toserver", (int64_t)f->pkts[0]);
    kp_jw_int(w, "pkts_toclient", (int64_t)f->pkts[1]);
    kp_jw_int(w, "bytes_toserver", (int64_t)f->bytes[0]);
    kp_jw_int(w, "bytes_toclient", (int64_t)f->bytes[1]);
    kp_jw_arr_open(w, "protocols");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (f->seen & names[i].bit) {
            kp_jw_str(w, NULL, names[i].name);
        }
    }
    kp_jw_arr_close(w);
    kp_jw_str(w, "end", f->end);
}

static void session_json(struct kp_jw *w, const struct kp_session *s)
{
    char ts[48], last[48];
    fmt_ts(s->first_us, ts, sizeof(ts));
    fmt_ts(s->last_us, last, sizeof(last));
    kp_jw_str(w, "event_type", "session");
    kp_jw_int(w, "schema", KP_EVENT_SCHEMA_VERSION);
    kp_jw_str(w, "ts", ts);
    kp_jw_str(w, "last_ts", last);
    kp_jw_int(w, "session_id", s->id);
    kp_jw_str(w, "service", s->service);
    kp_jw_obj_open(w, "client");
    kp_jw_str(w, "ip", s->client_ip);
    kp_jw_obj_close(w);
    kp_jw_str(w, "verdict", s->verdict);
    kp_jw_arr_open(w, "reasons");
    for (size_t i = 0; i < s->nreasons; i++) {
        kp_jw_str(w, NULL, s->reasons[i]);
    }
    kp_jw_arr_close(w);
    kp_jw_str(w, "holder", s->holder);
    kp_jw_arr_open(w, "key_holders");
    for (size_t i = 0; i < s->nholders; i++) {
        const struct kp_holder *h = &s->holders[i];
        kp_jw_obj_open(w, NULL);
        ip_port(w, h->ip, h->port);
        geo_json(w, &h->geo, h->scope);
        str_or_null(w, "sni", h->sni);
        kp_jw_str(w, "mechanism", h->mechanism);
        kp_jw_str(w, "confidence", h->confidence);
        kp_jw_bool(w, "flagged", h->flagged != 0);
        if (h->flagged) {
            kp_jw_str(w, "reason", h->reason);
        }
        kp_jw_obj_close(w);
    }
    kp_jw_arr_close(w);
    if (s->holders_total > s->nholders) {
        kp_jw_int(w, "key_holders_total", (int64_t)s->holders_total);
    }
    kp_jw_arr_open(w, "flows");
    for (size_t i = 0; i < s->nflows; i++) {
        const struct kp_sess_flow *f = &s->flows[i];
        kp_jw_obj_open(w, NULL);
        kp_jw_str(w, "proto", f->proto);
        kp_jw_int(w, "client_port", f->client_port);
        kp_jw_str(w, "server", f->server);
        kp_jw_str(w, "role", f->role);
        kp_jw_str(w, "link", f->link);
        kp_jw_obj_close(w);
    }
    kp_jw_arr_close(w);
    kp_jw_int(w, "flows_total", (int64_t)s->flows_total);
    kp_jw_int(w, "keys", s->keys);
    kp_jw_int(w, "media", s->media);
    kp_jw_arr_open(w, "notes");
    for (size_t i = 0; i < s->nnotes; i++) {
        kp_jw_str(w, NULL, s->notes[i]);
    }
    kp_jw_arr_close(w);
}

KP_API size_t kp_event_json(const struct kp_event *ev, char *buf, size_t len)
{
    struct kp_jw w;
    kp_jw_init(&w, buf, len);
    kp_jw_obj_open(&w, NULL);
    if (ev->type == KP_EV_KEY) {
        key_json(&w, ev->key);
    } else if (ev->type == KP_EV_MEDIA) {
        media_json(&w, ev->media);
    } else if (ev->type == KP_EV_SESSION) {
        session_json(&w, ev->session);
    } else if (ev->type == KP_EV_FLOW) {
        flow_json(&w, ev->flow);
    } else {
        anomaly_json(&w, ev->anomaly);
    }
    kp_jw_obj_close(&w);
    return kp_jw_finish(&w);
}
