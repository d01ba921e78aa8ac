/* kpws.c: the analysis core of keyprov's Wireshark plugin (see kpws.h).
 *
 * Events arrive in engine order: a key record when its handshake is done, a
 * media flow when it ends, a session once it has been idle for five minutes
 * or at the end of input, so the key records and media flows of a session
 * are always known when the session event lists its flows.  The session's
 * flows (docs/events.md: proto, client_port, server) are read from the
 * event's JSON text, the only place the public API gives them. */
#include "kpws.h"

#include <arpa/inet.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A flow key, client side first; padding zeroed so it hashes as bytes. */
struct tuple {
    uint8_t proto;
    uint8_t pad[3];
    uint16_t cport, sport;
    struct kpws_addr c, s;
};

struct media {
    const char *service, *kind, *client_ip, *server_ip, *linked_issuer;
    struct tuple t;
    int64_t ts_us, last_us;
    const struct kpws_key *key;
    int covered;
};

struct kpws {
    enum kpws_mode mode;
    struct kp_engine *eng;
    GStringChunk *strings;
    GPtrArray *sessions, *keys, *media; /* own their elements */
    GHashTable *flows;       /* struct tuple * -> struct kpws_flow * (list, owned) */
    GHashTable *key_by_flow; /* struct tuple * -> struct kpws_key * (newest) */
    GHashTable *key_by_port; /* "proto|client ip|client port" -> struct kpws_key * */
    GHashTable *keys_by_pair;/* "client ip|issuer ip" -> GPtrArray of struct kpws_key * */
    GHashTable *media_by_flow; /* struct tuple * -> struct media * */
    GHashTable *sessions_by_client; /* "client ip|service" -> GPtrArray of struct kpws_session * */
    uint32_t frame;
    struct kpws_counts n;
    char *json;
    size_t json_cap;
};

/* ------------------------------------------------------------ helpers */

void kpws_printable(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (outlen == 0) {
        return;
    }
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
            if (o + 1 >= outlen) {
                break;
            }
            out[o++] = (char)*p;
        } else {
            if (o + 4 >= outlen) {
                break;
            }
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 0xf];
        }
    }
    out[o] = '\0';
}

/* Interned printable copy of a string from an event. */
static const char *keep(struct kpws *w, const char *s)
{
    char buf[1024];
    kpws_printable(s, buf, sizeof(buf));
    return g_string_chunk_insert_const(w->strings, buf);
}

int kpws_parse_addr(const char *text, struct kpws_addr *addr, uint16_t *port)
{
    char host[64];
    const char *colon = NULL;
    size_t hlen;
    memset(addr, 0, sizeof(*addr));
    if (port != NULL) {
        *port = 0;
    }
    if (text == NULL) {
        return -1;
    }
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (end == NULL) {
            return -1;
        }
        hlen = (size_t)(end - text - 1);
        text++;
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] != '\0' && colon == NULL) {
            return -1;
        }
    } else {
        const char *first = strchr(text, ':');
        if (first != NULL && strchr(first + 1, ':') == NULL && port != NULL) {
            colon = first; /* IPv4 with a port */
            hlen = (size_t)(first - text);
        } else {
            hlen = strlen(text); /* IPv4 or bare IPv6 */
        }
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, addr->b) == 1) {
        addr->family = 4;
    } else if (inet_pton(AF_INET6, host, addr->b) == 1) {
        addr->family = 6;
    } else {
        return -1;
    }
    if (colon != NULL) {
        char *end = NULL;
        unsigned long v = strtoul(colon + 1, &end, 10);
        if (port == NULL || end == colon + 1 || *end != '\0' || v > 65535) {
            return -1;
        }
        *port = (uint16_t)v;
    }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (civil calendar:
 * count whole 400-year eras from 0000-03-01, then the day within the era). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int kpws_parse_time(const char *text, int64_t *us)
{
    int y, mo, d, h, mi, s, n = 0;
    if (text == NULL ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 19) {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
        return -1;
    }
    const char *p = text + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
            }
            digits++;
        }
        if (digits == 0) {
            return -1;
        }
        for (; digits < 6; digits++) {
            frac *= 10;
        }
    }
    if (strcmp(p, "Z") != 0) {
        return -1;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    *us = secs * 1000000 + frac;
    return 0;
}

/* ------------------------------------------------------ a small JSON reader
 * Enough JSON (RFC 8259) to walk keyprov's event objects: it skips what it
 * does not need and decodes the strings it keeps. */

struct jr {
    const char *p, *end;
    int depth;
};

static void j_ws(struct jr *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static bool j_lit(struct jr *j, char c)
{
    j_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void put_byte(char *out, size_t outlen, size_t *o, unsigned char c)
{
    if (out != NULL && *o + 1 < outlen) {
        out[(*o)++] = (char)c;
    }
}

static void put_utf8(char *out, size_t outlen, size_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        put_byte(out, outlen, o, (unsigned char)cp);
    } else if (cp < 0x800) {
        put_byte(out, outlen, o, (unsigned char)(0xc0 | (cp >> 6)));
        put_byte(out, outlen, o, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        put_byte(out, outlen, o, (unsigned char)(0xe0 | (cp >> 12)));
        put_byte(out, outlen, o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        put_byte(out, outlen, o, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        put_byte(out, outlen, o, (unsigned char)(0xf0 | (cp >> 18)));
        put_byte(out, outlen, o, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        put_byte(out, outlen, o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        put_byte(out, outlen, o, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

static bool j_u4(struct jr *j, uint32_t *v)
{
    if (j->end - j->p < 4) {
        return false;
    }
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0) {
            return false;
        }
        *v = *v << 4 | (uint32_t)h;
    }
    j->p += 4;
    return true;
}

/* A string (RFC 8259 section 7); out may be NULL to skip it.  Longer
 * strings are truncated. */
static bool j_str(struct jr *j, char *out, size_t outlen)
{
    size_t o = 0;
    if (!j_lit(j, '"')) {
        return false;
    }
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') {
            if (out != NULL && outlen > 0) {
                out[o] = '\0';
            }
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (c != '\\') {
            put_byte(out, outlen, &o, c);
            continue;
        }
        if (j->p >= j->end) {
            return false;
        }
        char e = *j->p++;
        uint32_t cp;
        switch (e) {
        case '"': case '\\': case '/': put_byte(out, outlen, &o, (unsigned char)e); break;
        case 'b': put_byte(out, outlen, &o, '\b'); break;
        case 'f': put_byte(out, outlen, &o, '\f'); break;
        case 'n': put_byte(out, outlen, &o, '\n'); break;
        case 'r': put_byte(out, outlen, &o, '\r'); break;
        case 't': put_byte(out, outlen, &o, '\t'); break;
        case 'u':
            if (!j_u4(j, &cp)) {
                return false;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                struct jr save = *j;
                uint32_t lo;
                j->p += 2;
                if (j_u4(j, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else {
                    *j = save;
                }
            }
            if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd; /* a lone surrogate */
            }
            put_utf8(out, outlen, &o, cp);
            break;
        default:
            return false;
        }
    }
    return false;
}

static bool j_num(struct jr *j, long *v)
{
    j_ws(j);
    const char *start = j->p;
    while (j->p < j->end && strchr("+-0123456789.eE", *j->p) != NULL) {
        j->p++;
    }
    if (j->p == start) {
        return false;
    }
    if (v != NULL) {
        char buf[32];
        size_t n = (size_t)(j->p - start);
        if (n >= sizeof(buf)) {
            n = sizeof(buf) - 1;
        }
        memcpy(buf, start, n);
        buf[n] = '\0';
        *v = strtol(buf, NULL, 10);
    }
    return true;
}

static bool j_skip(struct jr *j);

/* Walk an object; for each member, call member(j, name, user), which must
 * consume the value (or return false). */
typedef bool (*j_member_fn)(struct jr *j, const char *name, void *user);

static bool j_object(struct jr *j, j_member_fn member, void *user)
{
    if (!j_lit(j, '{')) {
        return false;
    }
    if (++j->depth > 32) {
        return false;
    }
    if (j_lit(j, '}')) {
        j->depth--;
        return true;
    }
    for (;;) {
        char name[64];
        if (!j_str(j, name, sizeof(name)) || !j_lit(j, ':')) {
            return false;
        }
        if (!(member != NULL ? member(j, name, user) : j_skip(j))) {
            return false;
        }
        if (j_lit(j, ',')) {
            continue;
        }
        if (j_lit(j, '}')) {
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool j_skip_member(struct jr *j, const char *name, void *user)
{
    (void)name;
    (void)user;
    return j_skip(j);
}

static bool j_skip(struct jr *j)
{
    j_ws(j);
    if (j->p >= j->end) {
        return false;
    }
    switch (*j->p) {
    case '"':
        return j_str(j, NULL, 0);
    case '{':
        return j_object(j, j_skip_member, NULL);
    case '[':
        j->p++;
        if (++j->depth > 32) {
            return false;
        }
        if (j_lit(j, ']')) {
            j->depth--;
            return true;
        }
        for (;;) {
            if (!j_skip(j)) {
                return false;
            }
            if (j_lit(j, ',')) {
                continue;
            }
            if (j_lit(j, ']')) {
                j->depth--;
                return true;
            }
            return false;
        }
    case 't':
    case 'f':
    case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
                j->p += n;
                return true;
            }
        }
        return false;
    }
    default:
        return j_num(j, NULL);
    }
}

/* A string member, or null (left empty). */
static bool j_str_or_null(struct jr *j, char *out, size_t outlen)
{
    j_ws(j);
    if (j->p < j->end && *j->p == 'n') {
        out[0] = '\0';
        return j_skip(j);
    }
    return j_str(j, out, outlen);
}

static bool flow_member(struct jr *j, const char *name, void *user)
{
    struct kpws_json_flow *f = user;
    if (strcmp(name, "proto") == 0) {
        return j_str_or_null(j, f->proto, sizeof(f->proto));
    }
    if (strcmp(name, "client_port") == 0) {
        return j_num(j, &f->client_port);
    }
    if (strcmp(name, "server") == 0) {
        return j_str_or_null(j, f->server, sizeof(f->server));
    }
    if (strcmp(name, "role") == 0) {
        return j_str_or_null(j, f->role, sizeof(f->role));
    }
    if (strcmp(name, "link") == 0) {
        return j_str_or_null(j, f->link, sizeof(f->link));
    }
    return j_skip(j);
}

struct session_walk {
    kpws_json_flow_cb cb;
    void *user;
    char *last_ts, *client_ip;
    size_t last_ts_len, client_ip_len;
};

static bool client_member(struct jr *j, const char *name, void *user)
{
    struct session_walk *sw = user;
    if (strcmp(name, "ip") == 0 && sw->client_ip != NULL) {
        return j_str_or_null(j, sw->client_ip, sw->client_ip_len);
    }
    return j_skip(j);
}

static bool session_member(struct jr *j, const char *name, void *user)
{
    struct session_walk *sw = user;
    if (strcmp(name, "last_ts") == 0 && sw->last_ts != NULL) {
        return j_str_or_null(j, sw->last_ts, sw->last_ts_len);
    }
    if (strcmp(name, "client") == 0) {
        j_ws(j);
        if (j->p < j->end && *j->p == '{') {
            return j_object(j, client_member, sw);
        }
        return j_skip(j);
    }
    if (strcmp(name, "flows") == 0) {
        if (!j_lit(j, '[')) {
            return j_skip(j);
        }
        if (j_lit(j, ']')) {
            return true;
        }
        for (;;) {
            struct kpws_json_flow f;
            memset(&f, 0, sizeof(f));
            f.client_port = -1;
            j_ws(j);
            if (j->p < j->end && *j->p == '{') {
                if (!j_object(j, flow_member, &f)) {
                    return false;
                }
                if (sw->cb != NULL) {
                    sw->cb(&f, sw->user);
                }
            } else if (!j_skip(j)) {
                return false;
            }
            if (j_lit(j, ',')) {
                continue;
            }
            return j_lit(j, ']');
        }
    }
    return j_skip(j);
}

int kpws_parse_session_json(const char *json, size_t len, kpws_json_flow_cb cb, void *user,
                            char *last_ts, size_t last_ts_len, char *client_ip,
                            size_t client_ip_len)
{
    struct jr j = {json, json + len, 0};
    struct session_walk sw = {cb, user, last_ts, client_ip, last_ts_len, client_ip_len};
    if (last_ts != NULL && last_ts_len > 0) {
        last_ts[0] = '\0';
    }
    if (client_ip != NULL && client_ip_len > 0) {
        client_ip[0] = '\0';
    }
    if (json == NULL || !j_object(&j, session_member, &sw)) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the table */

static guint tuple_hash(gconstpointer p)
{
    /* FNV-1a over the key's bytes (padding is zeroed) */
    const uint8_t *b = p;
    guint h = 2166136261u;
    for (size_t i = 0; i < sizeof(struct tuple); i++) {
        h = (h ^ b[i]) * 16777619u;
    }
    return h;
}

static gboolean tuple_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(struct tuple)) == 0;
}

static int ipproto_of(const char *proto)
{
    if (proto == NULL) {
        return 0;
    }
    if (strcmp(proto, "tcp") == 0) {
        return 6;
    }
    if (strcmp(proto, "udp") == 0) {
        return 17;
    }
    return 0;
}

static bool make_tuple(struct tuple *t, int proto, const char *cip, long cport, const char *sip,
                       long sport)
{
    memset(t, 0, sizeof(*t));
    if (proto == 0 || cport < 0 || cport > 65535 || sport < 0 || sport > 65535 ||
        kpws_parse_addr(cip, &t->c, NULL) != 0 || kpws_parse_addr(sip, &t->s, NULL) != 0) {
        return false;
    }
    t->proto = (uint8_t)proto;
    t->cport = (uint16_t)cport;
    t->sport = (uint16_t)sport;
    return true;
}

static void free_flow_list(gpointer p)
{
    struct kpws_flow *f = p;
    while (f != NULL) {
        struct kpws_flow *next = f->next;
        g_free(f);
        f = next;
    }
}

static struct kpws_flow *add_flow(struct kpws *w, const struct tuple *t)
{
    struct kpws_flow *f = g_new0(struct kpws_flow, 1);
    struct kpws_flow *head = g_hash_table_lookup(w->flows, t);
    f->from_frame = w->mode == KPWS_INCREMENTAL ? w->frame : 0;
    f->service = f->role = f->link = f->media_kind = "";
    if (head != NULL) {
        /* append, so that older results come first */
        while (head->next != NULL) {
            head = head->next;
        }
        head->next = f;
    } else {
        g_hash_table_insert(w->flows, g_memdup2(t, sizeof(*t)), f);
    }
    w->n.flows++;
    return f;
}

static bool has_flow(const struct kpws *w, const struct tuple *t,
                     const struct kpws_session *s)
{
    for (const struct kpws_flow *f = g_hash_table_lookup(w->flows, t); f != NULL; f = f->next) {
        if (s == NULL || f->session == s) {
            return true;
        }
    }
    return false;
}

static char *pair_key(const char *a, const char *b)
{
    return g_strconcat(a, "|", b, NULL);
}

static void push_to(GHashTable *h, char *k, gpointer v)
{
    GPtrArray *a = g_hash_table_lookup(h, k);
    if (a == NULL) {
        a = g_ptr_array_new();
        g_hash_table_insert(h, k, a);
    } else {
        g_free(k);
    }
    g_ptr_array_add(a, v);
}

/* The key record a media flow belongs to: the same client's key exchange
 * with the issuer the engine linked it to; of several, one of the same
 * service, then one made before the media ended, then the latest. */
static const struct kpws_key *linked_key(struct kpws *w, const struct media *m)
{
    if (m->linked_issuer[0] == '\0') {
        return NULL;
    }
    char *k = pair_key(m->client_ip, m->linked_issuer);
    GPtrArray *a = g_hash_table_lookup(w->keys_by_pair, k);
    g_free(k);
    const struct kpws_key *best = NULL;
    int best_rank = -1;
    for (guint i = 0; a != NULL && i < a->len; i++) {
        const struct kpws_key *key = g_ptr_array_index(a, i);
        int rank = (strcmp(key->service, m->service) == 0 ? 2 : 0) + (key->ts_us <= m->last_us);
        if (rank > best_rank || (rank == best_rank && key->ts_us >= best->ts_us)) {
            best = key;
            best_rank = rank;
        }
    }
    return best;
}

static void fill_from_key(struct kpws_flow *f, const struct kpws_key *k)
{
    f->key = k;
    f->key_flagged = k->flagged;
    if (f->session == NULL) {
        f->flagged = k->flagged;
    }
}

static void on_key(struct kpws *w, const struct kp_event *ev)
{
    struct kpws_key *k = g_new0(struct kpws_key, 1);
    k->service = keep(w, kp_event_str(ev, KP_F_SERVICE));
    k->mechanism = keep(w, kp_event_str(ev, KP_F_MECHANISM));
    k->proto = keep(w, kp_event_str(ev, KP_F_PROTO));
    k->confidence = keep(w, kp_event_str(ev, KP_F_CONFIDENCE));
    k->client_ip = keep(w, kp_event_str(ev, KP_F_CLIENT_IP));
    k->issuer_ip = keep(w, kp_event_str(ev, KP_F_ISSUER_IP));
    k->country = keep(w, kp_event_str(ev, KP_F_ISSUER_COUNTRY));
    k->scope = keep(w, kp_event_str(ev, KP_F_ISSUER_SCOPE));
    k->as_org = keep(w, kp_event_str(ev, KP_F_ISSUER_AS_ORG));
    k->sni = keep(w, kp_event_str(ev, KP_F_SNI));
    k->reason = keep(w, kp_event_str(ev, KP_F_REASON));
    k->client_port = (uint16_t)kp_event_int(ev, KP_F_CLIENT_PORT);
    k->issuer_port = (uint16_t)kp_event_int(ev, KP_F_ISSUER_PORT);
    k->asn = (uint32_t)kp_event_int(ev, KP_F_ISSUER_ASN);
    k->flagged = kp_event_int(ev, KP_F_FLAGGED) != 0;
    k->ts_us = kp_event_int(ev, KP_F_TS_US);
    g_ptr_array_add(w->keys, k);
    w->n.keys++;
    w->n.flagged_keys += k->flagged ? 1 : 0;

    struct tuple t;
    if (make_tuple(&t, ipproto_of(k->proto), k->client_ip, k->client_port, k->issuer_ip,
                   k->issuer_port)) {
        g_hash_table_insert(w->key_by_flow, g_memdup2(&t, sizeof(t)), k);
    }
    g_hash_table_insert(w->key_by_port,
                        g_strdup_printf("%s|%s|%u", k->proto, k->client_ip, k->client_port), k);
    push_to(w->keys_by_pair, pair_key(k->client_ip, k->issuer_ip), k);

    if (w->mode == KPWS_INCREMENTAL && t.proto != 0) {
        struct kpws_flow *f = add_flow(w, &t);
        f->service = k->service;
        f->role = "key-exchange";
        f->first_us = f->last_us = k->ts_us;
        fill_from_key(f, k);
    }
}

static void on_media(struct kpws *w, const struct kp_event *ev, const char *json, size_t len)
{
    struct media *m = g_new0(struct media, 1);
    char last[40];
    m->service = keep(w, kp_event_str(ev, KP_F_SERVICE));
    m->kind = keep(w, kp_event_str(ev, KP_F_MEDIA_KIND));
    m->client_ip = keep(w, kp_event_str(ev, KP_F_CLIENT_IP));
    m->server_ip = keep(w, kp_event_str(ev, KP_F_ISSUER_IP));
    m->linked_issuer = keep(w, kp_event_str(ev, KP_F_LINKED_ISSUER_IP));
    m->ts_us = m->last_us = kp_event_int(ev, KP_F_TS_US);
    if (kpws_parse_session_json(json, len, NULL, NULL, last, sizeof(last), NULL, 0) == 0) {
        (void)kpws_parse_time(last, &m->last_us);
    }
    const char *proto = kp_event_str(ev, KP_F_PROTO);
    if (!make_tuple(&m->t, proto != NULL && proto[0] != '\0' ? ipproto_of(proto) : 17,
                    m->client_ip, (long)kp_event_int(ev, KP_F_CLIENT_PORT), m->server_ip,
                    (long)kp_event_int(ev, KP_F_ISSUER_PORT))) {
        g_free(m);
        return;
    }
    m->key = linked_key(w, m);
    g_ptr_array_add(w->media, m);
    g_hash_table_insert(w->media_by_flow, &m->t, m);
    w->n.media++;

    if (w->mode == KPWS_INCREMENTAL) {
        struct kpws_flow *f = add_flow(w, &m->t);
        f->service = m->service;
        f->role = "media";
        f->media_kind = m->kind;
        f->first_us = m->ts_us;
        f->last_us = m->last_us;
        if (m->key != NULL) {
            fill_from_key(f, m->key);
            f->key_flagged = 0; /* the key is another flow's */
        }
        m->covered = 1;
    }
}

struct session_ctx {
    struct kpws *w;
    struct kpws_session *s;
};

static void on_session_flow(const struct kpws_json_flow *jf, void *user)
{
    struct session_ctx *c = user;
    struct kpws *w = c->w;
    struct kpws_session *s = c->s;
    struct kpws_addr sa;
    uint16_t sport;
    char sip[64];
    struct tuple t;
    int proto = ipproto_of(jf->proto);

    if (kpws_parse_addr(jf->server, &sa, &sport) != 0 ||
        inet_ntop(sa.family == 4 ? AF_INET : AF_INET6, sa.b, sip, sizeof(sip)) == NULL ||
        !make_tuple(&t, proto, s->client_ip, jf->client_port, sip, sport) ||
        has_flow(w, &t, s)) {
        return;
    }
    struct kpws_flow *f = add_flow(w, &t);
    f->session = s;
    f->service = s->service;
    f->role = keep(w, jf->role);
    f->link = keep(w, jf->link);
    f->first_us = s->first_us;
    f->last_us = s->last_us;
    f->flagged = strcmp(s->verdict, "violation") == 0;

    /* which key protects this flow: its own key record (a key exchange, or
     * DTLS-SRTP media on the same 5-tuple), its media's linked key, or the
     * key exchanged from the same client port (through a TURN relay) */
    const struct kpws_key *k = g_hash_table_lookup(w->key_by_flow, &t);
    struct media *m = g_hash_table_lookup(w->media_by_flow, &t);
    if (m != NULL) {
        f->media_kind = m->kind;
        m->covered = 1;
    }
    if (k != NULL) {
        fill_from_key(f, k);
    } else if (m != NULL && m->key != NULL) {
        fill_from_key(f, m->key);
        f->key_flagged = 0;
    } else {
        char *pk = g_strdup_printf("%s|%s|%ld", jf->proto, s->client_ip, jf->client_port);
        k = g_hash_table_lookup(w->key_by_port, pk);
        g_free(pk);
        if (k != NULL) {
            fill_from_key(f, k);
        }
    }
}

static void on_session(struct kpws *w, const struct kp_event *ev, const char *json, size_t len)
{
    struct kpws_session *s = g_new0(struct kpws_session, 1);
    char last[40];
    char cip[64];
    s->id = (uint32_t)kp_event_int(ev, KP_F_SESSION_ID);
    s->service = keep(w, kp_event_str(ev, KP_F_SERVICE));
    s->verdict = keep(w, kp_event_str(ev, KP_F_VERDICT));
    s->holder = keep(w, kp_event_str(ev, KP_F_HOLDER));
    s->reason = keep(w, kp_event_int(ev, KP_F_REASONS_N) > 0 ? kp_event_reason(ev, 0) : "");
    s->keys = (uint32_t)kp_event_int(ev, KP_F_KEYS);
    s->media = (uint32_t)kp_event_int(ev, KP_F_MEDIA);
    s->first_us = s->last_us = kp_event_int(ev, KP_F_TS_US);
    g_ptr_array_add(w->sessions, s);
    w->n.sessions++;
    w->n.violations += strcmp(s->verdict, "violation") == 0 ? 1 : 0;

    /* the client address, the grouping key (also in the JSON text) */
    const char *acc = kp_event_str(ev, KP_F_CLIENT_IP);
    struct session_ctx c = {w, s};
    if (kpws_parse_session_json(json, len, NULL, NULL, last, sizeof(last), cip, sizeof(cip)) != 0) {
        cip[0] = '\0';
    }
    s->client_ip = keep(w, acc != NULL && acc[0] != '\0' ? acc : cip);
    (void)kpws_parse_time(last, &s->last_us);
    push_to(w->sessions_by_client, pair_key(s->client_ip, s->service), s);
    (void)kpws_parse_session_json(json, len, on_session_flow, &c, NULL, 0, NULL, 0);
}

static void on_event(const struct kp_event *ev, void *user)
{
    struct kpws *w = user;
    enum kp_event_type type = kp_event_type(ev);
    if (type == KP_EV_KEY) {
        on_key(w, ev);
        return;
    }
    if (type != KP_EV_MEDIA && type != KP_EV_SESSION) {
        return;
    }
    size_t need = kp_event_json(ev, w->json, w->json_cap);
    if (need >= w->json_cap) {
        w->json_cap = need + 1;
        w->json = g_realloc(w->json, w->json_cap);
        (void)kp_event_json(ev, w->json, w->json_cap);
    }
    if (type == KP_EV_MEDIA) {
        on_media(w, ev, w->json, need);
    } else {
        on_session(w, ev, w->json, need);
    }
}

/* ------------------------------------------------------------- the API */

int kpws_new(struct kpws **out, enum kpws_mode mode, const struct kp_geo *geo,
             const struct kp_policy *policy, int report_all, char *err, size_t errlen)
{
    struct kp_config cfg;
    struct kpws *w = g_new0(struct kpws, 1);
    *out = NULL;
    w->mode = mode;
    kp_config_init(&cfg);
    cfg.geo = geo;
    cfg.policy = policy;
    cfg.report_all = report_all;
    cfg.on_event = on_event;
    cfg.user = w;
    int rc = kp_engine_new(&w->eng, &cfg, err, errlen);
    if (rc != KP_OK) {
        g_free(w);
        return rc;
    }
    w->strings = g_string_chunk_new(4096);
    w->sessions = g_ptr_array_new_with_free_func(g_free);
    w->keys = g_ptr_array_new_with_free_func(g_free);
    w->media = g_ptr_array_new_with_free_func(g_free);
    w->flows = g_hash_table_new_full(tuple_hash, tuple_equal, g_free, free_flow_list);
    w->key_by_flow = g_hash_table_new_full(tuple_hash, tuple_equal, g_free, NULL);
    w->media_by_flow = g_hash_table_new(tuple_hash, tuple_equal);
    w->key_by_port = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->keys_by_pair = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify)g_ptr_array_unref);
    w->sessions_by_client = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                  (GDestroyNotify)g_ptr_array_unref);
    *out = w;
    return KP_OK;
}

void kpws_free(struct kpws *w)
{
    if (w == NULL) {
        return;
    }
    kp_engine_free(w->eng);
    g_hash_table_destroy(w->flows);
    g_hash_table_destroy(w->key_by_flow);
    g_hash_table_destroy(w->media_by_flow);
    g_hash_table_destroy(w->key_by_port);
    g_hash_table_destroy(w->keys_by_pair);
    g_hash_table_destroy(w->sessions_by_client);
    g_ptr_array_unref(w->sessions);
    g_ptr_array_unref(w->keys);
    g_ptr_array_unref(w->media);
    g_string_chunk_free(w->strings);
    g_free(w->json);
    g_free(w);
}

int kpws_feed(struct kpws *w, int linktype, uint64_t ts_us, const uint8_t *data, size_t caplen,
              size_t wirelen, uint32_t frame)
{
    if (w->eng == NULL) {
        return KP_EINVAL; /* finished */
    }
    w->frame = frame;
    w->n.frames++;
    int rc = kp_engine_feed(w->eng, linktype, ts_us, data, caplen, wirelen);
    if (rc == KP_ELINKTYPE) {
        w->n.unsupported_linktype++;
    }
    return rc;
}

/* The session a key record or media flow that no session event listed
 * belongs to (sessions list at most 16 flows): same client and service,
 * nearest in time. */
static const struct kpws_session *session_for(struct kpws *w, const char *client_ip,
                                              const char *service, int64_t ts_us)
{
    char *k = pair_key(client_ip, service);
    GPtrArray *a = g_hash_table_lookup(w->sessions_by_client, k);
    g_free(k);
    const struct kpws_session *best = NULL;
    int64_t best_d = INT64_MAX;
    for (guint i = 0; a != NULL && i < a->len; i++) {
        const struct kpws_session *s = g_ptr_array_index(a, i);
        int64_t d = ts_us < s->first_us ? s->first_us - ts_us
                    : ts_us > s->last_us ? ts_us - s->last_us : 0;
        if (d < best_d) {
            best = s;
            best_d = d;
        }
    }
    return best;
}

void kpws_finish(struct kpws *w)
{
    if (w->eng == NULL) {
        return;
    }
    kp_engine_finish(w->eng);
    w->frame = 0;
    if (w->mode == KPWS_INCREMENTAL) {
        return;
    }
    /* everything needed is copied out: the flow table can go */
    kp_engine_free(w->eng);
    w->eng = NULL;
    /* key records and media flows that no session event listed */
    for (guint i = 0; i < w->keys->len; i++) {
        const struct kpws_key *k = g_ptr_array_index(w->keys, i);
        struct tuple t;
        if (!make_tuple(&t, ipproto_of(k->proto), k->client_ip, k->client_port, k->issuer_ip,
                        k->issuer_port) ||
            has_flow(w, &t, NULL)) {
            continue;
        }
        const struct kpws_session *s = session_for(w, k->client_ip, k->service, k->ts_us);
        struct kpws_flow *f = add_flow(w, &t);
        f->session = s;
        f->service = k->service;
        f->role = "key-exchange";
        f->link = s != NULL ? "same client and service" : "";
        f->flagged = s != NULL && strcmp(s->verdict, "violation") == 0;
        f->first_us = s != NULL ? s->first_us : k->ts_us;
        f->last_us = s != NULL ? s->last_us : k->ts_us;
        fill_from_key(f, k);
    }
    for (guint i = 0; i < w->media->len; i++) {
        struct media *m = g_ptr_array_index(w->media, i);
        if (m->covered || has_flow(w, &m->t, NULL)) {
            continue;
        }
        const struct kpws_session *s = session_for(w, m->client_ip, m->service, m->ts_us);
        struct kpws_flow *f = add_flow(w, &m->t);
        f->session = s;
        f->service = m->service;
        f->role = "media";
        f->media_kind = m->kind;
        f->link = s != NULL ? "same client and service" : "";
        f->flagged = s != NULL && strcmp(s->verdict, "violation") == 0;
        f->first_us = m->ts_us;
        f->last_us = m->last_us;
        if (m->key != NULL) {
            fill_from_key(f, m->key);
            f->key_flagged = 0;
        }
    }
}

static void candidates(const struct kpws *w, const struct tuple *t, int64_t ts_us, uint32_t frame,
                       const struct kpws_flow **best, int64_t *best_d)
{
    for (const struct kpws_flow *f = g_hash_table_lookup(w->flows, t); f != NULL; f = f->next) {
        if (w->mode == KPWS_INCREMENTAL && f->from_frame > frame) {
            continue;
        }
        int64_t d = ts_us < f->first_us ? f->first_us - ts_us
                    : ts_us > f->last_us ? ts_us - f->last_us : 0;
        /* nearest in time; among equals the later result (e.g. the session
         * that followed an incremental key record) */
        if (*best == NULL || d <= *best_d) {
            *best = f;
            *best_d = d;
        }
    }
}

const struct kpws_flow *kpws_lookup(const struct kpws *w, int ipproto, const struct kpws_addr *src,
                                    uint16_t sport, const struct kpws_addr *dst, uint16_t dport,
                                    int64_t ts_us, uint32_t frame)
{
    struct tuple t;
    const struct kpws_flow *best = NULL;
    int64_t best_d = 0;
    if (w == NULL || (ipproto != 6 && ipproto != 17) || src->family == 0 || dst->family == 0) {
        return NULL;
    }
    memset(&t, 0, sizeof(t));
    t.proto = (uint8_t)ipproto;
    t.c = *src;
    t.cport = sport;
    t.s = *dst;
    t.sport = dport;
    candidates(w, &t, ts_us, frame, &best, &best_d);
    t.c = *dst;
    t.cport = dport;
    t.s = *src;
    t.sport = sport;
    candidates(w, &t, ts_us, frame, &best, &best_d);
    return best;
}

void kpws_counts(const struct kpws *w, struct kpws_counts *out)
{
    *out = w->n;
}
