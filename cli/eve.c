/* Suricata-EVE-compatible output, see eve.h and docs/events.md ("Suricata
 * EVE output").  Field names, types and the timestamp format follow
 * Suricata 7's EVE format (its userguide "Eve JSON Format" and etc/schema.json),
 * checked against real Suricata output by tests/eve/. */
#include "eve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ------------------------------------------------------------ line buffer */

/* A growable buffer for one line.  An allocation failure sets oom and turns
 * every later append into a no-op, so callers need no checks per append. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
    if (b->oom) {
        return false;
    }
    if (more <= b->cap - b->len) {
        return true;
    }
    size_t want = b->cap > 0 ? b->cap : 1024;
    while (want - b->len < more) {
        if (want > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        want *= 2;
    }
    char *np = realloc(b->p, want);
    if (np == NULL) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = want;
    return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static void sb_puts(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    /* only used for numbers and fixed words: always fits */
    if (n > 0 && (size_t)n < sizeof(tmp)) {
        sb_put(b, tmp, (size_t)n);
    }
}

/* ---------------------------------------------------------------- escaping */

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629 4, Unicode
 * table 3-7), or, as a negative number, the length of its maximal ill-formed
 * subpart (at least 1): the bytes that one U+FFFD replaces (Unicode 3.9,
 * "U+FFFD substitution of maximal subparts"). */
static long utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0) {
            lo = 0xa0; /* no overlong 3-byte forms */
        } else if (c == 0xed) {
            hi = 0x9f; /* no UTF-16 surrogates D800-DFFF */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0) {
            lo = 0x90; /* no overlong 4-byte forms */
        } else if (c == 0xf4) {
            hi = 0x8f; /* nothing above U+10FFFF */
        }
    } else {
        return -1; /* 80-C1 and F5-FF never start a sequence */
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
        if (s[i] < lo_i || s[i] > hi_i) {
            return -(long)i;
        }
    }
    return i == need ? (long)need : -(long)i;
}

static void sb_escape(struct sbuf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* copy the longest run that needs no escaping in one go */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\') {
            run++;
        }
        if (run > i) {
            sb_put(b, str + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
            size_t len = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default: /* other C0 controls and DEL (RFC 8259 7) */
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                len = 6;
                break;
            }
            sb_put(b, esc, len);
            i++;
            continue;
        }
        long l = utf8_seq(s + i, n - i);
        if (l < 0) {
            sb_puts(b, "\\ufffd");
            i += (size_t)-l;
        } else if (l == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
            /* U+2028/U+2029 are valid JSON but end lines in JavaScript */
            sb_puts(b, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            i += 3;
        } else {
            sb_put(b, str + i, (size_t)l);
            i += (size_t)l;
        }
    }
}

size_t kp_eve_escape(char *out, size_t outlen, const char *s, size_t n)
{
    struct sbuf b = {NULL, 0, 0, false};
    sb_escape(&b, s, n);
    size_t need = b.len;
    if (b.oom) {
        /* each input byte needs at most 6 output bytes: a safe upper bound */
        need = n <= SIZE_MAX / 6 ? n * 6 : SIZE_MAX;
    }
    if (outlen > 0) {
        size_t k = b.len < outlen ? b.len : outlen - 1;
        if (k > 0) {
            memcpy(out, b.p, k);
        }
        out[k] = '\0';
    }
    free(b.p);
    return need;
}

/* A "key":"value" member with the value escaped; a NULL value is skipped. */
static void sb_member_str(struct sbuf *b, const char *key, const char *val)
{
    if (val == NULL) {
        return;
    }
    sb_printf(b, ",\"%s\":\"", key);
    sb_escape(b, val, strlen(val));
    sb_put(b, "\"", 1);
}

/* ----------------------------------------------------------------- fields */

uint64_t kp_eve_flow_id(const char *proto, const char *ip_a, int64_t port_a, const char *ip_b,
                        int64_t port_b)
{
    /* Canonical order (lower endpoint first) so both directions agree, then
     * FNV-1a (64) over proto, endpoints and ports, finished with a
     * splitmix64 mix so nearby ports spread over all bits. */
    const char *ip1 = ip_a != NULL ? ip_a : "", *ip2 = ip_b != NULL ? ip_b : "";
    int64_t p1 = port_a, p2 = port_b;
    int c = strcmp(ip1, ip2);
    if (c > 0 || (c == 0 && p1 > p2)) {
        const char *t = ip1;
        ip1 = ip2;
        ip2 = t;
        int64_t tp = p1;
        p1 = p2;
        p2 = tp;
    }
    uint64_t h = 0xcbf29ce484222325u;
    const uint64_t prime = 0x100000001b3u;
    for (const char *s = proto != NULL ? proto : ""; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * prime;
    }
    const char *ips[2] = {ip1, ip2};
    int64_t ports[2] = {p1, p2};
    for (int k = 0; k < 2; k++) {
        h = (h ^ 0xffu) * prime; /* separator: no string byte is 0xff */
        for (const char *s = ips[k]; *s != '\0'; s++) {
            h = (h ^ (unsigned char)*s) * prime;
        }
        uint64_t port = (uint64_t)ports[k];
        for (int sh = 0; sh < 64; sh += 8) {
            h = (h ^ ((port >> sh) & 0xffu)) * prime;
        }
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    h &= (UINT64_C(1) << 53) - 1;
    return h != 0 ? h : 1;
}

int kp_eve_community_id(const char *proto, const char *src_ip, int64_t src_port,
                        const char *dst_ip, int64_t dst_port, char *out, size_t outlen)
{
    /* Community ID v1 (corelight/community-id-spec): SHA-1 over seed (16 bits,
     * here 0), both addresses, protocol number, a zero pad byte and both
     * ports, endpoints ordered so the lower (address, port) comes first;
     * "1:" + base64 of the digest. */
    uint8_t a[16], b[16];
    size_t alen;
    int proto_num;
    if (proto == NULL || src_ip == NULL || dst_ip == NULL || src_port < 0 || src_port > 65535 ||
        dst_port < 0 || dst_port > 65535 || outlen < 32) {
        return -1;
    }
    if (strcasecmp(proto, "tcp") == 0) {
        proto_num = 6;
    } else if (strcasecmp(proto, "udp") == 0) {
        proto_num = 17;
    } else {
        return -1;
    }
    if (inet_pton(AF_INET, src_ip, a) == 1 && inet_pton(AF_INET, dst_ip, b) == 1) {
        alen = 4;
    } else if (inet_pton(AF_INET6, src_ip, a) == 1 && inet_pton(AF_INET6, dst_ip, b) == 1) {
        alen = 16;
    } else {
        return -1;
    }
    uint16_t p1 = (uint16_t)src_port, p2 = (uint16_t)dst_port;
    int c = memcmp(a, b, alen);
    const uint8_t *lo = a, *hi = b;
    if (c > 0 || (c == 0 && p1 > p2)) {
        lo = b;
        hi = a;
        uint16_t t = p1;
        p1 = p2;
        p2 = t;
    }
    uint8_t msg[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    msg[n++] = 0; /* seed, network order */
    msg[n++] = 0;
    memcpy(msg + n, lo, alen);
    n += alen;
    memcpy(msg + n, hi, alen);
    n += alen;
    msg[n++] = (uint8_t)proto_num;
    msg[n++] = 0;
    msg[n++] = (uint8_t)(p1 >> 8);
    msg[n++] = (uint8_t)p1;
    msg[n++] = (uint8_t)(p2 >> 8);
    msg[n++] = (uint8_t)p2;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(msg, n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) {
        return -1;
    }
    memcpy(out, "1:", 2);
    EVP_EncodeBlock((unsigned char *)out + 2, md, (int)mdlen); /* 28 chars + NUL */
    return 0;
}

/* Suricata's timestamp: local time with a numeric offset and microseconds,
 * "2020-04-02T14:00:00.455150+0000"; keyprov always writes UTC (+0000) so
 * a line means the same wherever it was written. */
static void fmt_ts(int64_t ts_us, char *buf, size_t len)
{
    uint64_t us = ts_us > 0 ? (uint64_t)ts_us : 0;
    time_t secs = (time_t)(us / 1000000u);
    struct tm tm;
    char date[32];
    if (gmtime_r(&secs, &tm) == NULL || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(date, sizeof(date), "1970-01-01T00:00:00");
    }
    snprintf(buf, len, "%s.%06u+0000", date, (unsigned)(us % 1000000u));
}

/* Suricata's app_proto names where Suricata has the protocol (tls, quic,
 * sip); keyprov's own protocol names otherwise. */
static const char *app_proto_of(const struct kp_event *ev)
{
    static const struct {
        const char *mechanism, *app_proto;
    } by_mechanism[] = {
        {"tls-control-channel", "tls"}, {"sdes-tls", "tls"},     {"dtls-srtp", "dtls"},
        {"dtls", "dtls"},               {"quic", "quic"},        {"sdes-cleartext", "sip"},
        {"e2ee-endpoint", "zrtp"},
    };
    static const struct {
        const char *kind, *app_proto;
    } by_media_kind[] = {{"rtp", "rtp"}, {"srtp", "srtp"}, {"zoom", "zoom"}};
    enum kp_event_type t = kp_event_type(ev);
    if (t == KP_EV_KEY) {
        const char *m = kp_event_str(ev, KP_F_MECHANISM);
        for (size_t i = 0; m != NULL && i < sizeof(by_mechanism) / sizeof(by_mechanism[0]); i++) {
            if (strcmp(m, by_mechanism[i].mechanism) == 0) {
                return by_mechanism[i].app_proto;
            }
        }
    } else if (t == KP_EV_MEDIA) {
        const char *k = kp_event_str(ev, KP_F_MEDIA_KIND);
        for (size_t i = 0; k != NULL && i < sizeof(by_media_kind) / sizeof(by_media_kind[0]); i++) {
            if (strcmp(k, by_media_kind[i].kind) == 0) {
                return by_media_kind[i].app_proto;
            }
        }
    }
    return NULL;
}

/* Anomaly names are "<protocol>.<what>"; Suricata's anomaly object says
 * which layer found it.  Everything keyprov reports comes from a protocol
 * parser, except running out of reassembly memory (a stream matter). */
static void anomaly_shape(const char *name, const char **type, const char **layer,
                          const char **app_proto)
{
    static const struct {
        const char *prefix, *app_proto;
    } parsers[] = {{"tls.", "tls"},   {"dtls.", "dtls"}, {"quic.", "quic"},
                   {"sip.", "sip"},   {"stun.", "stun"}, {"zrtp.", "zrtp"},
                   {"rtp.", "rtp"}};
    *type = "applayer";
    *layer = "proto_parser";
    *app_proto = NULL;
    if (name == NULL) {
        return;
    }
    if (strncmp(name, "memory.", 7) == 0) {
        *type = "stream";
        *layer = NULL;
        return;
    }
    for (size_t i = 0; i < sizeof(parsers) / sizeof(parsers[0]); i++) {
        if (strncmp(name, parsers[i].prefix, strlen(parsers[i].prefix)) == 0) {
            *app_proto = parsers[i].app_proto;
            return;
        }
    }
}

/* ------------------------------------------------------------------ rules */

struct eve_rule {
    uint32_t sid;
    int severity;         /* 1 most severe, as Suricata's priority */
    const char *category; /* a classification.config description */
};

/* Categories are descriptions from Suricata's classification.config, so
 * dashboards group them with other IDS alerts: policy-violation ("Potential
 * Corporate Privacy Violation") for where keys come from;
 * successful-recon-limited ("Information Leak") for a key sent in clear. */
static const struct eve_rule eve_rules[] = {
    {KP_EVE_SID_FLAGGED, 2, "Potential Corporate Privacy Violation"},
    {KP_EVE_SID_JURISDICTION, 2, "Potential Corporate Privacy Violation"},
    {KP_EVE_SID_ASN, 2, "Potential Corporate Privacy Violation"},
    {KP_EVE_SID_OUTSIDE_ALLOW, 2, "Potential Corporate Privacy Violation"},
    {KP_EVE_SID_SDES_EXPOSED, 1, "Information Leak"},
    {KP_EVE_SID_SESSION, 2, "Potential Corporate Privacy Violation"},
};

static const struct eve_rule *rule_of(uint32_t sid)
{
    for (size_t i = 0; i < sizeof(eve_rules) / sizeof(eve_rules[0]); i++) {
        if (eve_rules[i].sid == sid) {
            return &eve_rules[i];
        }
    }
    return &eve_rules[0];
}

static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

static bool contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(s + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

/* One clause of a reason (analyze/policy.c and analyze/engine.c write them). */
static uint32_t classify_clause(const char *s, size_t n)
{
    if (starts(s, n, "SRTP key exposed")) {
        return KP_EVE_SID_SDES_EXPOSED;
    }
    if (starts(s, n, "issuer network AS")) {
        return KP_EVE_SID_ASN;
    }
    if (starts(s, n, "issuer country ")) {
        if (contains(s, n, " outside allowed ") || contains(s, n, " allowed only ")) {
            return KP_EVE_SID_OUTSIDE_ALLOW;
        }
        if (contains(s, n, " flagged")) {
            return KP_EVE_SID_JURISDICTION;
        }
    }
    return KP_EVE_SID_FLAGGED;
}

static size_t add_sid(uint32_t *out, size_t have, size_t max, uint32_t sid)
{
    for (size_t i = 0; i < have; i++) {
        if (out[i] == sid) {
            return have;
        }
    }
    if (have < max) {
        out[have++] = sid;
    }
    return have;
}

size_t kp_eve_classify(const char *mechanism, const char *reason, uint32_t *out, size_t max)
{
    size_t n = 0;
    bool exposed = mechanism != NULL && strcmp(mechanism, "sdes-cleartext") == 0;
    if (exposed) {
        n = add_sid(out, n, max, KP_EVE_SID_SDES_EXPOSED);
    }
    const char *s = reason != NULL ? reason : "";
    while (*s != '\0') {
        const char *end = strstr(s, "; ");
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        if (len > 0) {
            uint32_t sid = classify_clause(s, len);
            /* an unrecognised clause next to recognised ones adds nothing */
            if (sid != KP_EVE_SID_FLAGGED) {
                n = add_sid(out, n, max, sid);
            }
        }
        s += len;
        while (*s == ';' || *s == ' ') {
            s++;
        }
    }
    if (n == 0) {
        n = add_sid(out, n, max, KP_EVE_SID_FLAGGED);
    }
    return n;
}

/* Which event types get alerts.  Session-level violations: add the session
 * type here and a case in write_signature() (KP_EVE_SID_SESSION is
 * reserved and documented for it). */
static bool alerts_for(const struct kp_event *ev)
{
    return kp_event_type(ev) == KP_EV_KEY && kp_event_int(ev, KP_F_FLAGGED) != 0;
}

static const char *or_unknown(const char *s) { return s != NULL && s[0] != '\0' ? s : "unknown"; }

/* The signature text: what fired, then (service, mechanism). */
static void write_signature(struct sbuf *b, uint32_t sid, const struct kp_event *ev)
{
    const char *cc = kp_event_str(ev, KP_F_ISSUER_COUNTRY);
    switch (sid) {
    case KP_EVE_SID_JURISDICTION:
        sb_puts(b, "KEYPROV key issued in flagged jurisdiction ");
        sb_escape(b, or_unknown(cc), strlen(or_unknown(cc)));
        break;
    case KP_EVE_SID_ASN:
        sb_printf(b, "KEYPROV key issued from flagged network AS%" PRId64,
                  kp_event_int(ev, KP_F_ISSUER_ASN));
        break;
    case KP_EVE_SID_OUTSIDE_ALLOW:
        sb_puts(b, "KEYPROV key issued outside allowed jurisdictions: ");
        sb_escape(b, or_unknown(cc), strlen(or_unknown(cc)));
        break;
    case KP_EVE_SID_SDES_EXPOSED:
        sb_puts(b, "KEYPROV SRTP key exposed in cleartext SDP");
        break;
    case KP_EVE_SID_SESSION:
        sb_puts(b, "KEYPROV session policy violation");
        break;
    default:
        sb_puts(b, "KEYPROV key flagged by policy");
        break;
    }
    const char *svc = or_unknown(kp_event_str(ev, KP_F_SERVICE));
    const char *mech = or_unknown(kp_event_str(ev, KP_F_MECHANISM));
    sb_puts(b, " (");
    sb_escape(b, svc, strlen(svc));
    sb_puts(b, ", ");
    sb_escape(b, mech, strlen(mech));
    sb_puts(b, ")");
}

/* ------------------------------------------------------------------ lines */

struct kp_eve {
    int fd;
    bool own_fd;
    char *name;  /* for messages: the path, or "standard output" */
    int err;     /* first errno of a failed write, 0 if none */
    bool oom;    /* a line was dropped for lack of memory */
    struct sbuf line;
};

/* Common head: {"timestamp":..,"flow_id":..,"event_type":..,5-tuple.  An
 * event about one flow (key, media, anomaly) has the full 5-tuple and a
 * flow_id; one about a client (a session) only src_ip. */
static void write_head(struct sbuf *b, const struct kp_event *ev, const char *event_type)
{
    char ts[48];
    fmt_ts(kp_event_int(ev, KP_F_TS_US), ts, sizeof(ts));
    const char *proto = kp_event_str(ev, KP_F_PROTO);
    const char *src = kp_event_str(ev, KP_F_CLIENT_IP);
    const char *dst = kp_event_str(ev, KP_F_ISSUER_IP);
    int64_t sport = kp_event_int(ev, KP_F_CLIENT_PORT), dport = kp_event_int(ev, KP_F_ISSUER_PORT);
    bool has_src = src != NULL && src[0] != '\0', has_dst = dst != NULL && dst[0] != '\0';
    bool flow = has_src && has_dst;

    sb_printf(b, "{\"timestamp\":\"%s\"", ts);
    if (flow) {
        sb_printf(b, ",\"flow_id\":%" PRIu64, kp_eve_flow_id(proto, src, sport, dst, dport));
    }
    sb_printf(b, ",\"event_type\":\"%s\"", event_type);
    if (has_src) {
        sb_member_str(b, "src_ip", src);
    }
    if (flow) {
        sb_printf(b, ",\"src_port\":%" PRId64, sport);
        sb_member_str(b, "dest_ip", dst);
        sb_printf(b, ",\"dest_port\":%" PRId64, dport);
    }
    if (proto != NULL && proto[0] != '\0') {
        /* Suricata writes the IANA protocol name in capitals: TCP, UDP */
        char up[16];
        size_t i = 0;
        for (; proto[i] != '\0' && i + 1 < sizeof(up); i++) {
            char ch = proto[i];
            up[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
        }
        up[i] = '\0';
        sb_member_str(b, "proto", up);
    }
    char cid[40];
    if (flow && kp_eve_community_id(proto, src, sport, dst, dport, cid, sizeof(cid)) == 0) {
        sb_printf(b, ",\"community_id\":\"%s\"", cid);
    }
}

/* Suricata's tls object, with the members whose format is the same as
 * Suricata's (sni; version, e.g. "TLS 1.2"), for TLS-based records. */
static void write_tls(struct sbuf *b, const struct kp_event *ev, const char *app_proto)
{
    if (app_proto == NULL || strcmp(app_proto, "tls") != 0) {
        return;
    }
    const char *sni = kp_event_str(ev, KP_F_SNI), *ver = kp_event_str(ev, KP_F_TLS_VERSION);
    bool has_sni = sni != NULL && sni[0] != '\0', has_ver = ver != NULL && ver[0] != '\0';
    if (!has_sni && !has_ver) {
        return;
    }
    sb_puts(b, ",\"tls\":{");
    if (has_sni) {
        sb_puts(b, "\"sni\":\"");
        sb_escape(b, sni, strlen(sni));
        sb_puts(b, has_ver ? "\"," : "\"");
    }
    if (has_ver) {
        sb_puts(b, "\"version\":\"");
        sb_escape(b, ver, strlen(ver));
        sb_puts(b, "\"");
    }
    sb_puts(b, "}");
}

/* Tail: "keyprov": the event's own JSON object, then the line's end. */
static void write_tail(struct sbuf *b, const struct kp_event *ev)
{
    sb_puts(b, ",\"keyprov\":");
    size_t room = 4096;
    if (!sb_reserve(b, room)) {
        return;
    }
    size_t need = kp_event_json(ev, b->p + b->len, b->cap - b->len);
    if (need >= b->cap - b->len) {
        if (need == SIZE_MAX || !sb_reserve(b, need + 1)) {
            b->oom = true;
            return;
        }
        (void)kp_event_json(ev, b->p + b->len, b->cap - b->len);
    }
    b->len += need;
    sb_puts(b, "}\n");
}

static void write_alert(struct sbuf *b, const struct kp_event *ev, uint32_t sid)
{
    const struct eve_rule *r = rule_of(sid);
    const char *app = app_proto_of(ev);
    write_head(b, ev, "alert");
    sb_printf(b, ",\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":%" PRIu32
                 ",\"rev\":1,\"signature\":\"",
              sid);
    write_signature(b, sid, ev);
    sb_printf(b, "\",\"category\":\"%s\",\"severity\":%d}", r->category, r->severity);
    write_tls(b, ev, app);
    sb_member_str(b, "app_proto", app);
    /* the key travels from the issuer, but the flow is the client's: the
     * alert is about the direction the client opened */
    sb_puts(b, ",\"direction\":\"to_server\"");
    write_tail(b, ev);
}

static void write_record(struct sbuf *b, const struct kp_event *ev)
{
    const char *app = app_proto_of(ev);
    write_head(b, ev, "keyprov");
    write_tls(b, ev, app);
    sb_member_str(b, "app_proto", app);
    write_tail(b, ev);
}

static void write_anomaly(struct sbuf *b, const struct kp_event *ev)
{
    const char *name = kp_event_str(ev, KP_F_ANOMALY);
    const char *type, *layer, *app;
    anomaly_shape(name, &type, &layer, &app);
    write_head(b, ev, "anomaly");
    sb_member_str(b, "app_proto", app);
    sb_printf(b, ",\"anomaly\":{\"type\":\"%s\"", type);
    sb_member_str(b, "event", name != NULL ? name : "unknown");
    sb_member_str(b, "layer", layer);
    sb_member_str(b, "app_proto", app);
    sb_puts(b, "}");
    write_tail(b, ev);
}

/* One write(2) per line: a tailing shipper never reads half a line, and
 * errors (ENOSPC, EPIPE) show at once. */
static void flush_line(struct kp_eve *e)
{
    struct sbuf *b = &e->line;
    if (b->oom) {
        e->oom = true;
        return;
    }
    if (!e->own_fd) {
        fflush(stdout); /* keep order with anything else on standard output */
    }
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(e->fd, b->p + off, b->len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            e->err = errno;
            return;
        }
        if (w == 0) {
            e->err = EIO;
            return;
        }
        off += (size_t)w;
    }
}

struct kp_eve *kp_eve_open(const char *path, char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "--eve needs a file name ('-' for standard output)");
        return NULL;
    }
    struct kp_eve *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "eve: out of memory");
        return NULL;
    }
    bool to_stdout = strcmp(path, "-") == 0;
    e->name = strdup(to_stdout ? "standard output" : path);
    if (e->name == NULL) {
        snprintf(err, errlen, "eve: out of memory");
        goto fail_free;
    }
    if (to_stdout) {
        e->fd = STDOUT_FILENO;
        e->own_fd = false;
    } else {
        e->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (e->fd < 0) {
            snprintf(err, errlen, "eve: %s: %s", path, strerror(errno));
            goto fail_free_name;
        }
        e->own_fd = true;
    }
    return e;

fail_free_name:
    free(e->name);
fail_free:
    free(e);
    return NULL;
}

void kp_eve_event(struct kp_eve *e, const struct kp_event *ev)
{
    if (e == NULL || ev == NULL || e->err != 0) {
        return;
    }
    struct sbuf *b = &e->line;
    b->len = 0;
    b->oom = false;
    if (alerts_for(ev)) {
        uint32_t sids[8];
        size_t n = kp_eve_classify(kp_event_str(ev, KP_F_MECHANISM), kp_event_str(ev, KP_F_REASON),
                                   sids, sizeof(sids) / sizeof(sids[0]));
        for (size_t i = 0; i < n; i++) {
            write_alert(b, ev, sids[i]);
        }
    }
    switch (kp_event_type(ev)) {
    case KP_EV_ANOMALY:
        write_anomaly(b, ev);
        break;
    case KP_EV_KEY:
    case KP_EV_MEDIA:
    default: /* session and types added later: a keyprov record */
        write_record(b, ev);
        break;
    }
    /* the alert(s) and the record of one event go out together */
    flush_line(e);
}

int kp_eve_failed(const struct kp_eve *e) { return e != NULL && e->err != 0; }

int kp_eve_close(struct kp_eve *e, char *err, size_t errlen)
{
    if (e == NULL) {
        return 0;
    }
    int rc = 0;
    if (e->own_fd) {
        if (close(e->fd) != 0 && e->err == 0 && errno != EINTR) {
            e->err = errno;
        }
    }
    if (e->err != 0) {
        snprintf(err, errlen, "eve: %s: %s", e->name, strerror(e->err));
        rc = -1;
    } else if (e->oom) {
        snprintf(err, errlen, "eve: %s: out of memory, events were dropped", e->name);
        rc = -1;
    }
    free(e->line.p);
    free(e->name);
    free(e);
    return rc;
}
