/* HTML audit report, see html.h.
 *
 * Layout of the file written by kp_html_close():
 *   <head>   charset, a Content-Security-Policy that forbids every network
 *            load, inline CSS
 *   <body>   header, verdict banner, counts, violations table, world map
 *            (inline SVG) and per-country table: static HTML written here,
 *            so the summary reads without JavaScript;
 *            #kp-app, filled by the inline script from the JSON blocks
 *            kp-events (every kept event), kp-stats, kp-countries, kp-meta.
 *
 * Escaping, by context:
 *   HTML text and quoted attributes: put_text() (entities; control
 *     characters and invalid UTF-8 become U+FFFD);
 *   JSON inside <script type="application/json">: put_script_json() (no
 *     '<', '>' or '&' survives, so neither "</script>" nor "<!--" can end
 *     or change the element; U+2028/2029 are escaped too);
 *   SVG path data from the map file: only path-command characters pass.
 * The script inserts data with textContent and setAttribute only.
 */
#include "html.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENT_BYTES (64u * 1024u * 1024u) /* all kept events together */
#define MAX_ONE_EVENT (1024u * 1024u)
#define MAX_MAP_BYTES (4u * 1024u * 1024u)
#define MAX_COUNTRIES 300
#define MAX_ROWS 100 /* violations listed in the static summary */
#define COUNTRY_IPS 6
#define COUNTRY_ASNS 4
#define JSON_MAX_DEPTH 48

/* Colours shared by the static SVG and the CSS. */
#define COL_VIOLATION "#dc2626"
#define COL_ISSUER "#2563eb"
#define COL_LAND "#dfe4ea"

enum ev_type { T_KEY, T_MEDIA, T_ANOMALY, T_SESSION, T_STATS, T_OTHER, T_COUNT };
static const char *const type_names[T_COUNT] = {"key", "media", "anomaly", "session", "stats",
                                                "other"};
static const char *const type_plural[T_COUNT] = {"key records", "media flows", "anomalies",
                                                 "sessions", "stats", "other events"};

/* Kept events, by how much the report needs them: when full, a new event
 * evicts the newest event of a lower class. */
enum prio { P_LOW, P_MEDIA, P_KEY, P_KEY_FLAGGED, P_SESSION, P_SESSION_NOT_OK, P_COUNT };

struct kept {
    char *json;
    size_t len;
    enum ev_type type;
};

struct kept_list {
    struct kept *v;
    size_t n, cap;
};

struct country {
    char code[16]; /* "CN"; or a scope ("private", ...) or "unknown" */
    uint64_t keys, keys_flagged;
    uint64_t holders, holders_flagged;
    uint64_t sessions, sessions_flagged; /* sessions with a holder here; flagged ones */
    char ips[COUNTRY_IPS][48];
    size_t nips;
    bool more_ips;
    uint32_t asn[COUNTRY_ASNS];
    char org[COUNTRY_ASNS][96];
    size_t nasn;
    bool more_asn;
};

/* One violation in the static summary. */
struct row {
    char id[24];
    char ts[40];
    char service[64];
    char client[64];
    char holder[80];
    char country[16];
    char network[128];
    char mechanism[48];
    char reason[400];
};

struct jv {
    const char *p;
    size_t n;
};

struct kp_html {
    FILE *fp;
    char *path;

    char *map;
    size_t map_len;
    bool map_ok;
    char map_note[200];
    struct jv m_viewbox, m_outline, m_grat, m_countries, m_points, m_names, m_source;

    struct kept_list kept[P_COUNT];
    size_t nkept, nkept_anomalies, kept_bytes;
    uint64_t dropped[T_COUNT];
    uint64_t malformed;

    uint64_t count[T_COUNT];
    uint64_t keys_flagged, s_violation, s_review, s_ok;
    char first_ts[40], last_ts[40];
    char *stats_event;

    struct country countries[MAX_COUNTRIES];
    size_t ncountries;
    uint64_t countries_full;
    struct row srows[MAX_ROWS], krows[MAX_ROWS];
    size_t nsrows, nkrows;
};

/* ------------------------------------------------------------ output */

/* Where escaped text goes: a FILE, or a growing buffer (for tests). */
struct sink {
    FILE *fp;
    char *buf;
    size_t len, cap;
    bool failed;
    int err; /* errno of the first failure */
};

static void put(struct sink *s, const char *p, size_t n)
{
    if (s->failed || n == 0) {
        return;
    }
    if (s->fp != NULL) {
        if (fwrite(p, 1, n, s->fp) != n) {
            s->failed = true;
            s->err = errno;
        }
        return;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        char *nb = realloc(s->buf, cap);
        if (nb == NULL) {
            s->failed = true;
            s->err = ENOMEM;
            return;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void puts_(struct sink *s, const char *p) { put(s, p, strlen(p)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void putf(struct sink *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->failed = true;
    } else if ((size_t)n < sizeof(small)) {
        put(s, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big == NULL) {
            s->failed = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        put(s, big, (size_t)n);
        free(big);
    }
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 section 4: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < need) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return need;
}

static const char REPLACEMENT[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Code point of a valid sequence of length l. */
static uint32_t utf8_cp(const unsigned char *s, size_t l)
{
    if (l == 1) {
        return s[0];
    }
    uint32_t cp = s[0] & (l == 2 ? 0x1fu : l == 3 ? 0x0fu : 0x07u);
    for (size_t i = 1; i < l; i++) {
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    return cp;
}

/* Characters that must not reach the page as they are: C0/C1 controls
 * (but tab and newline), the line and paragraph separators, and the
 * bidirectional overrides and isolates that could make a hostile string
 * display as something else. */
static bool unsafe_cp(uint32_t cp)
{
    return (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) ||
           cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* HTML text or a double- or single-quoted attribute value. */
static void put_text(struct sink *s, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0, run = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t l = utf8_len(u + i, n - i);
        if (l == 0) {
            rep = REPLACEMENT;
            l = 1;
        } else if (l == 1) {
            switch (u[i]) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            default:
                if (unsafe_cp(u[i])) {
                    rep = REPLACEMENT;
                }
            }
        } else if (unsafe_cp(utf8_cp(u + i, l))) {
            rep = REPLACEMENT;
        }
        if (rep != NULL) {
            put(s, p + run, i - run);
            puts_(s, rep);
            run = i + l;
        }
        i += l;
    }
    put(s, p + run, n - run);
}

static void put_texts(struct sink *s, const char *p) { put_text(s, p, strlen(p)); }

/* JSON text for the inside of <script type="application/json"> (HTML
 * 13.1.2.6 restrictions for script contents): see html.h. */
static void put_script_json(struct sink *s, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0, run = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t l = utf8_len(u + i, n - i);
        if (l == 0) {
            rep = "\\ufffd";
            l = 1;
        } else if (l == 1) {
            switch (u[i]) {
            case '<': rep = "\\u003c"; break;
            case '>': rep = "\\u003e"; break;
            case '&': rep = "\\u0026"; break;
            default: break;
            }
        } else if (l == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 && u[i + 2] == 0xa8) {
            rep = "\\u2028";
        } else if (l == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 && u[i + 2] == 0xa9) {
            rep = "\\u2029";
        }
        if (rep != NULL) {
            put(s, p + run, i - run);
            puts_(s, rep);
            run = i + l;
        }
        i += l;
    }
    put(s, p + run, n - run);
}

/* A JSON string (RFC 8259 section 7) that is also safe inside <script>. */
static void put_json_str(struct sink *s, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    puts_(s, "\"");
    size_t i = 0, run = 0;
    while (i < n) {
        char esc[8];
        const char *rep = NULL;
        size_t l = utf8_len(u + i, n - i);
        if (l == 0) {
            rep = "\\ufffd";
            l = 1;
        } else if (l == 1) {
            unsigned char c = u[i];
            if (c == '"') {
                rep = "\\\"";
            } else if (c == '\\') {
                rep = "\\\\";
            } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                rep = esc;
            }
        } else if (l == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 && (u[i + 2] & 0xfe) == 0xa8) {
            rep = u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
        }
        if (rep != NULL) {
            put(s, p + run, i - run);
            puts_(s, rep);
            run = i + l;
        }
        i += l;
    }
    put(s, p + run, n - run);
    puts_(s, "\"");
}

static void put_json_strs(struct sink *s, const char *p) { put_json_str(s, p, strlen(p)); }

char *kp_html_script_json(const char *json, size_t len)
{
    struct sink s = {0};
    put_script_json(&s, json, len);
    if (!s.failed && s.buf == NULL) {
        s.buf = calloc(1, 1);
    }
    if (s.failed) {
        free(s.buf);
        return NULL;
    }
    return s.buf;
}

char *kp_html_text(const char *str, size_t len)
{
    struct sink s = {0};
    put_text(&s, str, len);
    if (!s.failed && s.buf == NULL) {
        s.buf = calloc(1, 1);
    }
    if (s.failed) {
        free(s.buf);
        return NULL;
    }
    return s.buf;
}

/* -------------------------------------------------------- JSON reader */

/* A small validating reader for the JSON keyprov writes (RFC 8259): scan
 * checks one value, then members are looked up in the checked text. */

static size_t j_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        i++;
    }
    return i;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* RFC 8259 section 7: no raw control characters, known escapes only. */
static bool j_scan_string(const char *s, size_t n, size_t *i)
{
    size_t k = *i;
    if (k >= n || s[k] != '"') {
        return false;
    }
    k++;
    while (k < n) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"') {
            *i = k + 1;
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (c != '\\') {
            k++;
            continue;
        }
        if (k + 1 >= n) {
            return false;
        }
        char e = s[k + 1];
        if (e == 'u') {
            if (k + 5 >= n || !is_hex(s[k + 2]) || !is_hex(s[k + 3]) || !is_hex(s[k + 4]) ||
                !is_hex(s[k + 5])) {
                return false;
            }
            k += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            k += 2;
        } else {
            return false;
        }
    }
    return false;
}

/* RFC 8259 section 6. */
static bool j_scan_number(const char *s, size_t n, size_t *i)
{
    size_t k = *i;
    if (k < n && s[k] == '-') {
        k++;
    }
    if (k >= n) {
        return false;
    }
    if (s[k] == '0') {
        k++;
    } else if (s[k] >= '1' && s[k] <= '9') {
        while (k < n && is_digit(s[k])) {
            k++;
        }
    } else {
        return false;
    }
    if (k < n && s[k] == '.') {
        k++;
        if (k >= n || !is_digit(s[k])) {
            return false;
        }
        while (k < n && is_digit(s[k])) {
            k++;
        }
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < n && (s[k] == '+' || s[k] == '-')) {
            k++;
        }
        if (k >= n || !is_digit(s[k])) {
            return false;
        }
        while (k < n && is_digit(s[k])) {
            k++;
        }
    }
    *i = k;
    return true;
}

static bool j_scan(const char *s, size_t n, size_t *i, int depth);

static bool j_scan_container(const char *s, size_t n, size_t *i, int depth)
{
    char close = s[*i] == '{' ? '}' : ']';
    bool object = close == '}';
    size_t k = j_ws(s, *i + 1, n);
    if (k < n && s[k] == close) {
        *i = k + 1;
        return true;
    }
    for (;;) {
        if (object) {
            k = j_ws(s, k, n);
            if (!j_scan_string(s, n, &k)) {
                return false;
            }
            k = j_ws(s, k, n);
            if (k >= n || s[k] != ':') {
                return false;
            }
            k++;
        }
        if (!j_scan(s, n, &k, depth + 1)) {
            return false;
        }
        k = j_ws(s, k, n);
        if (k >= n) {
            return false;
        }
        if (s[k] == ',') {
            k++;
            continue;
        }
        if (s[k] != close) {
            return false;
        }
        *i = k + 1;
        return true;
    }
}

/* Check one value from *i (after white space); on success *i is past it. */
static bool j_scan(const char *s, size_t n, size_t *i, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        return false;
    }
    size_t k = j_ws(s, *i, n);
    if (k >= n) {
        return false;
    }
    bool ok;
    switch (s[k]) {
    case '{':
    case '[': ok = j_scan_container(s, n, &k, depth); break;
    case '"': ok = j_scan_string(s, n, &k); break;
    case 't':
        ok = n - k >= 4 && memcmp(s + k, "true", 4) == 0;
        k += 4;
        break;
    case 'f':
        ok = n - k >= 5 && memcmp(s + k, "false", 5) == 0;
        k += 5;
        break;
    case 'n':
        ok = n - k >= 4 && memcmp(s + k, "null", 4) == 0;
        k += 4;
        break;
    default: ok = j_scan_number(s, n, &k); break;
    }
    if (ok) {
        *i = k;
    }
    return ok;
}

/* Whether text is exactly one JSON value of the given kind ('{' or 0 for any). */
static bool j_valid(const char *s, size_t n, char kind)
{
    size_t i = j_ws(s, 0, n);
    if (i >= n || (kind != 0 && s[i] != kind)) {
        return false;
    }
    if (!j_scan(s, n, &i, 0)) {
        return false;
    }
    return j_ws(s, i, n) == n;
}

/* Iterating over the members or elements of a checked object or array. */
struct jit {
    const char *s;
    size_t i, n;
    char close;
    bool first;
};

static bool j_iter(struct jv v, struct jit *it)
{
    if (v.p == NULL || v.n < 2 || (v.p[0] != '{' && v.p[0] != '[')) {
        return false;
    }
    it->s = v.p;
    it->n = v.n;
    it->i = 1;
    it->close = v.p[0] == '{' ? '}' : ']';
    it->first = true;
    return true;
}

/* Next member (key set for objects) or element; false at the end. */
static bool j_next(struct jit *it, struct jv *key, struct jv *val)
{
    size_t k = j_ws(it->s, it->i, it->n);
    if (k >= it->n || it->s[k] == it->close) {
        return false;
    }
    if (!it->first) {
        if (it->s[k] != ',') {
            return false;
        }
        k = j_ws(it->s, k + 1, it->n);
    }
    it->first = false;
    if (it->close == '}') {
        size_t start = k;
        if (!j_scan_string(it->s, it->n, &k)) {
            return false;
        }
        if (key != NULL) {
            key->p = it->s + start;
            key->n = k - start;
        }
        k = j_ws(it->s, k, it->n);
        if (k >= it->n || it->s[k] != ':') {
            return false;
        }
        k = j_ws(it->s, k + 1, it->n);
    }
    size_t vstart = k;
    if (!j_scan(it->s, it->n, &k, 0)) {
        return false;
    }
    val->p = it->s + vstart;
    val->n = k - vstart;
    it->i = k;
    return true;
}

/* Member name of a checked object (plain ASCII names only). */
static bool j_get(struct jv obj, const char *name, struct jv *out)
{
    struct jit it;
    struct jv k, v;
    size_t len = strlen(name);
    out->p = NULL;
    out->n = 0;
    if (!j_iter(obj, &it) || it.close != '}') {
        return false;
    }
    while (j_next(&it, &k, &v)) {
        if (k.n == len + 2 && memcmp(k.p + 1, name, len) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Append a code point as UTF-8 if it fits whole; false when full. */
static bool put_cp(char *out, size_t cap, size_t *len, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
        cp = 0xfffd;
    }
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (*len + n >= cap) {
        return false;
    }
    memcpy(out + *len, b, n);
    *len += n;
    return true;
}

/* Decode a checked JSON string into out (NUL-terminated, cut at a
 * character boundary).  False, with out = "", if v is not a string. */
static bool j_str(struct jv v, char *out, size_t cap)
{
    if (cap == 0) {
        return false;
    }
    out[0] = '\0';
    if (v.p == NULL || v.n < 2 || v.p[0] != '"') {
        return false;
    }
    size_t len = 0;
    const char *s = v.p + 1;
    size_t n = v.n - 2;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        if (s[i] == '\\') {
            char e = s[i + 1];
            i += 2;
            switch (e) {
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                cp = (uint32_t)(hexval(s[i]) << 12 | hexval(s[i + 1]) << 8 |
                                hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
                i += 4;
                /* RFC 8259 section 7: a surrogate pair is one character. */
                if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= n && s[i] == '\\' &&
                    s[i + 1] == 'u') {
                    uint32_t lo = (uint32_t)(hexval(s[i + 2]) << 12 | hexval(s[i + 3]) << 8 |
                                             hexval(s[i + 4]) << 4 | hexval(s[i + 5]));
                    if (lo >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        i += 6;
                    }
                }
                break;
            default: cp = (unsigned char)e; break;
            }
            if (!put_cp(out, cap, &len, cp)) {
                break;
            }
            continue;
        }
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0) {
            if (!put_cp(out, cap, &len, 0xfffd)) {
                break;
            }
            i++;
            continue;
        }
        if (len + l >= cap) {
            break;
        }
        memcpy(out + len, s + i, l);
        len += l;
        i += l;
    }
    out[len] = '\0';
    return true;
}

static bool j_int(struct jv v, int64_t *out)
{
    char tmp[32];
    if (v.p == NULL || v.n == 0 || v.n >= sizeof(tmp) || !(is_digit(v.p[0]) || v.p[0] == '-')) {
        return false;
    }
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = x;
    return true;
}

static bool j_true(struct jv v) { return v.p != NULL && v.n == 4 && memcmp(v.p, "true", 4) == 0; }

/* Shorthands: a member's string or integer, "" / 0 when absent. */
static void get_str(struct jv obj, const char *name, char *out, size_t cap)
{
    struct jv v;
    if (!j_get(obj, name, &v) || !j_str(v, out, cap)) {
        out[0] = '\0';
    }
}

static int64_t get_int(struct jv obj, const char *name)
{
    struct jv v;
    int64_t x = 0;
    if (j_get(obj, name, &v)) {
        (void)j_int(v, &x);
    }
    return x;
}

static bool get_true(struct jv obj, const char *name)
{
    struct jv v;
    return j_get(obj, name, &v) && j_true(v);
}

/* ------------------------------------------------------------ summary */

static bool is_cc(const char *s)
{
    return s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] == '\0';
}

/* A scope name from the library: short, lower-case letters and '-'. */
static bool is_scope(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 16) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-')) {
            return false;
        }
    }
    return true;
}

static struct country *country_get(struct kp_html *h, const char *cc, const char *scope)
{
    const char *code = is_cc(cc) ? cc : is_scope(scope) ? scope : "unknown";
    for (size_t i = 0; i < h->ncountries; i++) {
        if (strcmp(h->countries[i].code, code) == 0) {
            return &h->countries[i];
        }
    }
    if (h->ncountries == MAX_COUNTRIES) {
        h->countries_full++;
        return NULL;
    }
    struct country *c = &h->countries[h->ncountries++];
    memset(c, 0, sizeof(*c));
    snprintf(c->code, sizeof(c->code), "%s", code);
    return c;
}

static void country_note(struct country *c, const char *ip, int64_t asn, const char *org)
{
    if (ip[0] != '\0') {
        bool seen = false;
        for (size_t i = 0; i < c->nips && !seen; i++) {
            seen = strcmp(c->ips[i], ip) == 0;
        }
        if (!seen && c->nips < COUNTRY_IPS) {
            snprintf(c->ips[c->nips++], sizeof(c->ips[0]), "%s", ip);
        } else if (!seen) {
            c->more_ips = true;
        }
    }
    if (asn > 0 && asn <= UINT32_MAX) {
        bool seen = false;
        for (size_t i = 0; i < c->nasn && !seen; i++) {
            seen = c->asn[i] == (uint32_t)asn;
        }
        if (!seen && c->nasn < COUNTRY_ASNS) {
            c->asn[c->nasn] = (uint32_t)asn;
            snprintf(c->org[c->nasn], sizeof(c->org[0]), "%s", org);
            c->nasn++;
        } else if (!seen) {
            c->more_asn = true;
        }
    }
}

static void note_ts(struct kp_html *h, const char *ts)
{
    if (ts[0] == '\0') {
        return;
    }
    if (h->first_ts[0] == '\0' || strcmp(ts, h->first_ts) < 0) {
        snprintf(h->first_ts, sizeof(h->first_ts), "%s", ts);
    }
    if (strcmp(ts, h->last_ts) > 0) {
        snprintf(h->last_ts, sizeof(h->last_ts), "%s", ts);
    }
}

/* "192.0.2.1:443", "[2001:db8::1]:443", or the address alone. */
static void format_endpoint(char *out, size_t cap, const char *ip, int64_t port)
{
    if (port <= 0 || port > 65535) {
        snprintf(out, cap, "%s", ip);
    } else if (strchr(ip, ':') != NULL) {
        snprintf(out, cap, "[%s]:%" PRId64, ip, port);
    } else {
        snprintf(out, cap, "%s:%" PRId64, ip, port);
    }
}

static void format_network(char *out, size_t cap, int64_t asn, const char *org)
{
    if (asn > 0 && org[0] != '\0') {
        snprintf(out, cap, "AS%" PRId64 " %s", asn, org);
    } else if (asn > 0) {
        snprintf(out, cap, "AS%" PRId64, asn);
    } else {
        snprintf(out, cap, "%s", org);
    }
}

static void on_key(struct kp_html *h, struct jv ev)
{
    struct jv issuer, client;
    char cc[8], scope[24], ip[64], org[96], ts[40];
    bool flagged = get_true(ev, "flagged");
    h->keys_flagged += flagged ? 1 : 0;
    (void)j_get(ev, "issuer", &issuer);
    (void)j_get(ev, "client", &client);
    get_str(issuer, "country", cc, sizeof(cc));
    get_str(issuer, "scope", scope, sizeof(scope));
    get_str(issuer, "ip", ip, sizeof(ip));
    get_str(issuer, "as_org", org, sizeof(org));
    int64_t asn = get_int(issuer, "asn");
    get_str(ev, "ts", ts, sizeof(ts));
    note_ts(h, ts);
    struct country *c = country_get(h, cc, scope);
    if (c != NULL) {
        c->keys++;
        c->keys_flagged += flagged ? 1 : 0;
        country_note(c, ip, asn, org);
    }
    if (!flagged || h->nkrows == MAX_ROWS) {
        return;
    }
    struct row *r = &h->krows[h->nkrows++];
    memset(r, 0, sizeof(*r));
    snprintf(r->ts, sizeof(r->ts), "%s", ts);
    get_str(ev, "service", r->service, sizeof(r->service));
    get_str(client, "ip", r->client, sizeof(r->client));
    format_endpoint(r->holder, sizeof(r->holder), ip, get_int(issuer, "port"));
    snprintf(r->country, sizeof(r->country), "%s", c != NULL ? c->code : cc);
    format_network(r->network, sizeof(r->network), asn, org);
    get_str(ev, "mechanism", r->mechanism, sizeof(r->mechanism));
    get_str(ev, "reason", r->reason, sizeof(r->reason));
}

static void on_session(struct kp_html *h, struct jv ev)
{
    char verdict[24], ts[40];
    get_str(ev, "verdict", verdict, sizeof(verdict));
    get_str(ev, "ts", ts, sizeof(ts));
    note_ts(h, ts);
    get_str(ev, "last_ts", ts, sizeof(ts));
    note_ts(h, ts);
    bool violation = strcmp(verdict, "violation") == 0;
    if (violation) {
        h->s_violation++;
    } else if (strcmp(verdict, "ok") == 0) {
        h->s_ok++;
    } else {
        h->s_review++;
    }

    struct jv holders, hv, client;
    struct jit it;
    struct country *seen[16], *seen_flagged[16];
    size_t nseen = 0, nseen_flagged = 0;
    struct row *r = NULL;
    size_t nflagged = 0;
    if (violation && h->nsrows < MAX_ROWS) {
        r = &h->srows[h->nsrows++];
        memset(r, 0, sizeof(*r));
        int64_t id = get_int(ev, "session_id");
        if (id > 0) {
            snprintf(r->id, sizeof(r->id), "%" PRId64, id);
        }
        get_str(ev, "ts", r->ts, sizeof(r->ts));
        get_str(ev, "service", r->service, sizeof(r->service));
        (void)j_get(ev, "client", &client);
        get_str(client, "ip", r->client, sizeof(r->client));
    }
    if (j_get(ev, "key_holders", &holders) && j_iter(holders, &it)) {
        while (j_next(&it, NULL, &hv)) {
            char cc[8], scope[24], ip[64], org[96];
            get_str(hv, "country", cc, sizeof(cc));
            get_str(hv, "scope", scope, sizeof(scope));
            get_str(hv, "ip", ip, sizeof(ip));
            get_str(hv, "as_org", org, sizeof(org));
            int64_t asn = get_int(hv, "asn");
            bool flagged = get_true(hv, "flagged");
            struct country *c = country_get(h, cc, scope);
            if (c != NULL) {
                c->holders++;
                c->holders_flagged += flagged ? 1 : 0;
                country_note(c, ip, asn, org);
                /* Each session counts once per country. */
                bool dup = false;
                for (size_t i = 0; i < nseen && !dup; i++) {
                    dup = seen[i] == c;
                }
                if (!dup && nseen < sizeof(seen) / sizeof(seen[0])) {
                    seen[nseen++] = c;
                    c->sessions++;
                }
                dup = !flagged;
                for (size_t i = 0; i < nseen_flagged && !dup; i++) {
                    dup = seen_flagged[i] == c;
                }
                if (!dup && nseen_flagged < sizeof(seen_flagged) / sizeof(seen_flagged[0])) {
                    seen_flagged[nseen_flagged++] = c;
                    c->sessions_flagged++;
                }
            }
            /* The summary row names the first flagged holder (else the first). */
            if (r != NULL && (r->holder[0] == '\0' || (flagged && nflagged == 0))) {
                format_endpoint(r->holder, sizeof(r->holder), ip, get_int(hv, "port"));
                snprintf(r->country, sizeof(r->country), "%s", c != NULL ? c->code : cc);
                format_network(r->network, sizeof(r->network), asn, org);
                get_str(hv, "mechanism", r->mechanism, sizeof(r->mechanism));
            }
            nflagged += flagged ? 1 : 0;
        }
    }
    if (r == NULL) {
        return;
    }
    if (nflagged > 1) {
        size_t l = strlen(r->holder);
        snprintf(r->holder + l, sizeof(r->holder) - l, " (+%zu)", nflagged - 1);
    }
    /* reasons: joined with "; " */
    struct jv reasons, rv;
    size_t len = 0;
    if (j_get(ev, "reasons", &reasons) && j_iter(reasons, &it)) {
        while (j_next(&it, NULL, &rv) && len + 3 < sizeof(r->reason)) {
            if (len > 0) {
                memcpy(r->reason + len, "; ", 3);
                len += 2;
            }
            (void)j_str(rv, r->reason + len, sizeof(r->reason) - len);
            len += strlen(r->reason + len);
        }
    }
}

/* ------------------------------------------------------- kept events */

static void kept_drop_last(struct kp_html *h, enum prio p)
{
    struct kept_list *l = &h->kept[p];
    struct kept *k = &l->v[--l->n];
    h->dropped[k->type]++;
    h->nkept--;
    h->kept_bytes -= k->len;
    if (k->type == T_ANOMALY) {
        h->nkept_anomalies--;
    }
    free(k->json);
}

static void keep(struct kp_html *h, enum prio p, enum ev_type t, const char *json, size_t len)
{
    if (t == T_ANOMALY && h->nkept_anomalies >= KP_HTML_MAX_ANOMALIES) {
        h->dropped[t]++;
        return;
    }
    while (h->nkept >= KP_HTML_MAX_EVENTS || h->kept_bytes + len > MAX_EVENT_BYTES) {
        int victim = -1;
        for (int q = 0; q < (int)p && victim < 0; q++) {
            if (h->kept[q].n > 0) {
                victim = q;
            }
        }
        if (victim < 0) {
            h->dropped[t]++;
            return;
        }
        kept_drop_last(h, (enum prio)victim);
    }
    struct kept_list *l = &h->kept[p];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct kept *nv = realloc(l->v, cap * sizeof(*nv));
        if (nv == NULL) {
            h->dropped[t]++;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        h->dropped[t]++;
        return;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    l->v[l->n++] = (struct kept){copy, len, t};
    h->nkept++;
    h->kept_bytes += len;
    if (t == T_ANOMALY) {
        h->nkept_anomalies++;
    }
}

void kp_html_event_json(struct kp_html *h, const char *json, size_t len)
{
    if (h == NULL) {
        return;
    }
    if (json == NULL || len > MAX_ONE_EVENT || !j_valid(json, len, '{')) {
        h->malformed++;
        return;
    }
    struct jv ev = {json, len};
    char type[16];
    get_str(ev, "event_type", type, sizeof(type));
    enum ev_type t = T_OTHER;
    for (int i = 0; i < T_COUNT; i++) {
        if (strcmp(type, type_names[i]) == 0) {
            t = (enum ev_type)i;
        }
    }
    h->count[t]++;
    enum prio p = P_LOW;
    switch (t) {
    case T_KEY:
        on_key(h, ev);
        p = get_true(ev, "flagged") ? P_KEY_FLAGGED : P_KEY;
        break;
    case T_SESSION: {
        char verdict[24];
        get_str(ev, "verdict", verdict, sizeof(verdict));
        on_session(h, ev);
        p = strcmp(verdict, "ok") == 0 ? P_SESSION : P_SESSION_NOT_OK;
        break;
    }
    case T_MEDIA: {
        char ts[40];
        get_str(ev, "ts", ts, sizeof(ts));
        note_ts(h, ts);
        get_str(ev, "last_ts", ts, sizeof(ts));
        note_ts(h, ts);
        p = P_MEDIA;
        break;
    }
    case T_STATS:
        /* The run's stats: kept aside, written as kp-stats. */
        free(h->stats_event);
        h->stats_event = malloc(len + 1);
        if (h->stats_event != NULL) {
            memcpy(h->stats_event, json, len);
            h->stats_event[len] = '\0';
        }
        return;
    case T_ANOMALY:
    case T_OTHER:
    case T_COUNT: break;
    }
    keep(h, p, t, json, len);
}

void kp_html_event(struct kp_html *h, const struct kp_event *ev)
{
    if (h == NULL || ev == NULL) {
        return;
    }
    char buf[8192];
    size_t n = kp_event_json(ev, buf, sizeof(buf));
    if (n < sizeof(buf)) {
        kp_html_event_json(h, buf, n);
        return;
    }
    char *big = malloc(n + 1);
    if (big == NULL) {
        h->malformed++;
        return;
    }
    kp_event_json(ev, big, n + 1);
    kp_html_event_json(h, big, n);
    free(big);
}

/* ---------------------------------------------------------------- map */

static void load_map(struct kp_html *h, const char *map_path)
{
    if (map_path == NULL) {
        snprintf(h->map_note, sizeof(h->map_note),
                 "map data not installed (run geo/fetch-worldmap)");
        return;
    }
    FILE *fp = fopen(map_path, "rb");
    if (fp == NULL) {
        snprintf(h->map_note, sizeof(h->map_note),
                 "map data not installed (run geo/fetch-worldmap)");
        return;
    }
    char *buf = malloc(MAX_MAP_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_MAP_BYTES + 1, fp) : 0;
    bool read_error = buf == NULL || ferror(fp);
    fclose(fp);
    struct jv root = {buf, n};
    if (read_error || n > MAX_MAP_BYTES || !j_valid(buf, n, '{') ||
        !j_get(root, "viewBox", &h->m_viewbox) || !j_get(root, "countries", &h->m_countries) ||
        h->m_countries.p[0] != '{') {
        free(buf);
        snprintf(h->map_note, sizeof(h->map_note),
                 "map data unusable (rerun geo/fetch-worldmap)");
        return;
    }
    (void)j_get(root, "outline", &h->m_outline);
    (void)j_get(root, "graticule", &h->m_grat);
    (void)j_get(root, "points", &h->m_points);
    (void)j_get(root, "names", &h->m_names);
    (void)j_get(root, "source", &h->m_source);
    h->map = buf;
    h->map_len = n;
    h->map_ok = true;
}

/* Path data and viewBox values: numbers, separators and path commands. */
static bool safe_path(const char *s)
{
    for (; *s != '\0'; s++) {
        if (strchr("0123456789.,- eEMmLlHhVvZzCcSsQqTtAa", *s) == NULL) {
            return false;
        }
    }
    return true;
}

/* A decoded string member of the map (malloc'd), or NULL. */
static char *map_string(struct jv v)
{
    if (v.p == NULL || v.p[0] != '"') {
        return NULL;
    }
    char *out = malloc(v.n + 1);
    if (out != NULL && !j_str(v, out, v.n + 1)) {
        free(out);
        out = NULL;
    }
    return out;
}

static void country_name(const struct kp_html *h, const char *code, char *out, size_t cap)
{
    struct jv v;
    out[0] = '\0';
    if (h->map_ok && is_cc(code) && j_get(h->m_names, code, &v)) {
        (void)j_str(v, out, cap);
    }
}

static const struct country *find_country(const struct kp_html *h, const char *code)
{
    for (size_t i = 0; i < h->ncountries; i++) {
        if (strcmp(h->countries[i].code, code) == 0) {
            return &h->countries[i];
        }
    }
    return NULL;
}

static bool country_flagged(const struct country *c)
{
    return c->keys_flagged > 0 || c->holders_flagged > 0;
}

/* The hover text of a country: name, counts, issuers. */
static void put_country_title(struct sink *s, const struct kp_html *h, const char *code,
                              const struct country *c)
{
    char name[96];
    country_name(h, code, name, sizeof(name));
    puts_(s, "<title>");
    put_texts(s, name[0] != '\0' ? name : code);
    putf(s, " (%s)", code);
    if (c != NULL) {
        if (c->keys > 0) {
            putf(s, ": %" PRIu64 " key record%s, %" PRIu64 " flagged", c->keys,
                 c->keys == 1 ? "" : "s", c->keys_flagged);
        }
        if (c->holders > 0) {
            putf(s, "%s%" PRIu64 " session key holder%s, %" PRIu64 " flagged",
                 c->keys > 0 ? "; " : ": ", c->holders, c->holders == 1 ? "" : "s",
                 c->holders_flagged);
        }
        for (size_t i = 0; i < c->nips; i++) {
            puts_(s, i == 0 ? "\nissuers: " : ", ");
            put_texts(s, c->ips[i]);
        }
        if (c->more_ips) {
            puts_(s, ", \xe2\x80\xa6");
        }
        for (size_t i = 0; i < c->nasn; i++) {
            putf(s, "%sAS%" PRIu32 " ", i == 0 ? "\nnetworks: " : "; ", c->asn[i]);
            put_texts(s, c->org[i]);
        }
    }
    puts_(s, "</title>");
}

static void write_map_svg(struct sink *s, struct kp_html *h)
{
    char *vb = map_string(h->m_viewbox);
    if (vb == NULL || !safe_path(vb)) {
        free(vb);
        h->map_ok = false;
        snprintf(h->map_note, sizeof(h->map_note), "map data unusable (rerun geo/fetch-worldmap)");
        return;
    }
    puts_(s, "<svg class=\"worldmap\" id=\"worldmap\" xmlns=\"http://www.w3.org/2000/svg\" "
             "viewBox=\"");
    put_texts(s, vb);
    free(vb);
    puts_(s, "\" role=\"img\" aria-label=\"World map of the countries that issued keys\">\n");
    char *outline = map_string(h->m_outline);
    if (outline != NULL && safe_path(outline)) {
        puts_(s, "<path class=\"sphere\" d=\"");
        put_texts(s, outline);
        puts_(s, "\"/>\n");
    }
    free(outline);
    char *grat = map_string(h->m_grat);
    if (grat != NULL && safe_path(grat)) {
        puts_(s, "<path class=\"grat\" d=\"");
        put_texts(s, grat);
        puts_(s, "\"/>\n");
    }
    free(grat);

    /* Countries with no issuer first, so issuer outlines are drawn on top. */
    for (int pass = 0; pass < 2; pass++) {
        struct jit it;
        struct jv k, v;
        if (!j_iter(h->m_countries, &it)) {
            break;
        }
        while (j_next(&it, &k, &v)) {
            char code[8];
            if (!j_str(k, code, sizeof(code)) || !is_cc(code)) {
                continue;
            }
            const struct country *c = find_country(h, code);
            if ((c != NULL) != (pass == 1)) {
                continue;
            }
            char *d = map_string(v);
            if (d == NULL || !safe_path(d)) {
                free(d);
                continue;
            }
            const char *cls = c == NULL ? "ctry" : country_flagged(c) ? "ctry v" : "ctry i";
            const char *fill = c == NULL ? COL_LAND : country_flagged(c) ? COL_VIOLATION : COL_ISSUER;
            putf(s, "<path id=\"map-%s\" class=\"%s\" data-cc=\"%s\" fill=\"%s\" d=\"", code, cls,
                 code, fill);
            put_texts(s, d);
            puts_(s, "\">");
            put_country_title(s, h, code, c);
            puts_(s, "</path>\n");
            free(d);
        }
    }
    /* A marker at each issuer country's point: small countries (Hong Kong,
     * Singapore) have no shape at this scale. */
    for (size_t i = 0; i < h->ncountries; i++) {
        const struct country *c = &h->countries[i];
        struct jv pt, xv, yv;
        struct jit it;
        int64_t x, y;
        if (!is_cc(c->code) || !j_get(h->m_points, c->code, &pt) || !j_iter(pt, &it) ||
            !j_next(&it, NULL, &xv) || !j_next(&it, NULL, &yv) || !j_int(xv, &x) ||
            !j_int(yv, &y)) {
            continue;
        }
        bool v = country_flagged(c);
        putf(s, "<circle class=\"mark %s\" data-cc=\"%s\" cx=\"%" PRId64 "\" cy=\"%" PRId64
                "\" r=\"%s\" fill=\"%s\">",
             v ? "v" : "i", c->code, x, y, v ? "9" : "7", v ? COL_VIOLATION : COL_ISSUER);
        put_country_title(s, h, c->code, c);
        puts_(s, "</circle>\n");
    }
    puts_(s, "</svg>\n");
}

/* Without map data: an equirectangular graticule and a note. */
static void write_fallback_svg(struct sink *s, const struct kp_html *h)
{
    puts_(s, "<svg class=\"worldmap fallback\" id=\"worldmap\" xmlns=\"http://www.w3.org/2000/svg\" "
             "viewBox=\"0 0 360 180\" role=\"img\" aria-label=\"Map data not installed\">\n"
             "<rect class=\"sphere\" x=\"0\" y=\"0\" width=\"360\" height=\"180\"/>\n"
             "<path class=\"grat\" d=\"");
    for (int x = 30; x < 360; x += 30) {
        putf(s, "M%d,0V180", x);
    }
    for (int y = 30; y < 180; y += 30) {
        putf(s, "M0,%dH360", y);
    }
    puts_(s, "\"/>\n<text class=\"mapnote\" x=\"180\" y=\"94\" text-anchor=\"middle\">");
    put_texts(s, h->map_note);
    puts_(s, "</text>\n</svg>\n");
}

/* ------------------------------------------------------------- writer */

/* The page's CSS and script, one line per string (ISO C guarantees string
 * literals up to 4095 characters only).  Neither contains "</" or "<!--". */
/* ---- embedded assets: begin ---- */
static const char *const html_css[] = {
    ":root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;--card:#fff;--red:#dc2626;--red-bg:#fef2f2;--red-line:#fecaca;--blue:#2563eb;--blue-bg:#eff6ff;--green:#15803d;--green-bg:#f0fdf4;--amber:#b45309;--amber-bg:#fffbeb;--land:#dfe4ea;--sea:#f8fafc;",
    "--sans:system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Helvetica Neue\",Arial,\"Liberation Sans\",sans-serif;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,\"DejaVu Sans Mono\",\"Liberation Mono\",monospace}",
    "*{box-sizing:border-box}",
    "html{-webkit-text-size-adjust:100%}",
    "body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 var(--sans)}",
    ".wrap{max-width:1320px;margin:0 auto;padding:0 24px}",
    "header.top{background:#0f172a;color:#e2e8f0;padding:18px 0 16px}",
    ".brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#94a3b8}",
    ".brand .logo{font-weight:700;color:#fff;letter-spacing:.04em}",
    "header h1{margin:4px 0 6px;font-size:22px;font-weight:600;color:#fff;word-break:break-all}",
    ".meta{margin:0;color:#94a3b8;font-size:13px}",
    ".meta span+span:before{content:\"\\00b7\";margin:0 8px;color:#475569}",
    ".meta .bad{color:#fca5a5}",
    "main{padding-top:20px;padding-bottom:8px}",
    "h2{font-size:16px;font-weight:600;margin:0 0 12px}",
    "h2 .count{display:inline-block;min-width:22px;padding:0 7px;margin-left:6px;border-radius:11px;background:var(--line);color:var(--fg);font-size:12px;line-height:20px;text-align:center;vertical-align:1px}",
    "#violations h2 .count{background:var(--red);color:#fff}",
    ".verdict{display:flex;align-items:stretch;border-radius:10px;overflow:hidden;background:var(--card);box-shadow:0 1px 2px rgba(15,23,42,.08);border:1px solid var(--line);margin-bottom:16px}",
    ".verdict-label{flex:0 0 auto;display:flex;align-items:center;padding:18px 26px;font-size:20px;font-weight:700;letter-spacing:.02em;text-transform:uppercase;color:#fff;background:var(--muted)}",
    ".verdict-body{padding:14px 20px;flex:1}",
    ".verdict-text{margin:0;font-size:17px;font-weight:500}",
    ".verdict-countries{margin:8px 0 0;color:var(--muted)}",
    ".v-violation{border-color:var(--red-line);background:var(--red-bg)}",
    ".v-violation .verdict-label{background:var(--red)}",
    ".v-ok{border-color:#bbf7d0;background:var(--green-bg)}",
    ".v-ok .verdict-label{background:var(--green)}",
    ".v-review{border-color:#fde68a;background:var(--amber-bg)}",
    ".v-review .verdict-label{background:var(--amber)}",
    ".chip{display:inline-block;padding:1px 9px;margin:2px 2px;border-radius:12px;font:500 12.5px/20px var(--sans);background:var(--blue-bg);color:#1e40af;border:1px solid #bfdbfe;white-space:nowrap}",
    ".chip .code{font:700 12px var(--mono)}",
    ".chip.v{background:#fee2e2;color:#991b1b;border-color:var(--red-line)}",
    ".chip.o{background:#f1f5f9;color:#475569;border-color:var(--line)}",
    ".chip.s{padding:0 7px;font-size:11.5px;line-height:18px}",
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:16px}",
    ".card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px}",
    ".card-value{font-size:26px;font-weight:700;line-height:1.1;font-variant-numeric:tabular-nums}",
    ".card-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em;margin-top:2px}",
    ".card-detail{color:var(--muted);font-size:12px;margin-top:2px}",
    ".card.bad{border-color:var(--red-line);background:var(--red-bg)}",
    ".card.bad .card-value{color:var(--red)}",
    ".card.warn .card-value{color:var(--amber)}",
    ".panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin-bottom:16px}",
    ".note{color:var(--muted);margin:10px 0 0;font-size:13px}",
    ".warnnote{background:var(--amber-bg);border:1px solid #fde68a;color:#78350f;border-radius:8px;padding:8px 12px;margin:0 0 16px}",
    ".muted{color:var(--muted)}",
    ".mono{font-family:var(--mono);font-size:12.5px;overflow-wrap:break-word}",
    "table.data td.mono,table.data td.mech,table.data td.nowrap{overflow-wrap:break-word}",
    "table.data td.any{overflow-wrap:anywhere}",
    ".small{font-size:12.5px}",
    ".nowrap,.mech{white-space:nowrap}",
    ".mech{font-family:var(--mono);font-size:12px;color:var(--muted)}",
    ".svc{font-weight:600}",
    ".tablewrap{overflow-x:auto}",
    "table.data{width:100%;border-collapse:collapse;font-size:13px}",
    "table.data th{text-align:left;font-weight:600;font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);padding:7px 10px;border-bottom:2px solid var(--line);white-space:nowrap;background:var(--card);position:sticky;top:0}",
    "table.data td{padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}",
    "table.data tbody tr:nth-child(even of :not(.detail)){background:#fafbfc}",
    "table.data td.num,table.data th.num{text-align:right;font-variant-numeric:tabular-nums}",
    "table.data td.reason{color:#7f1d1d}",
    "table.data tr.violation td:first-child{box-shadow:inset 3px 0 0 var(--red)}",
    "table.data tr.review td:first-child{box-shadow:inset 3px 0 0 #f59e0b}",
    "td.cc{white-space:nowrap}",
    "td.cc .sw{margin-right:7px;vertical-align:0}",
    "td.cc .code{font-family:var(--mono);font-weight:700}",
    ".small.bad,.bad{color:var(--red);font-weight:600;white-space:nowrap}",
    "td.cc .cname{color:var(--muted)}",
    ".geo{display:grid;grid-template-columns:minmax(0,11fr) minmax(0,9fr);gap:20px;align-items:start}",
    "@media (max-width:1000px){.geo{grid-template-columns:1fr}}",
    "figure.map{margin:0}",
    ".mapbox{position:relative}",
    "svg.worldmap{display:block;width:100%;height:auto;background:#fff}",
    "svg.worldmap .sphere{fill:#f5f8fb;stroke:#cbd5e1;stroke-width:1.2}",
    "svg.worldmap .grat{fill:none;stroke:#e6ebf1;stroke-width:.8}",
    "svg.worldmap .ctry{stroke:#fff;stroke-width:.8;stroke-linejoin:round}",
    "svg.worldmap .ctry.i,svg.worldmap .ctry.v{stroke:#fff;stroke-width:1.2}",
    "svg.worldmap .ctry:hover{stroke:#0f172a;stroke-width:1.6}",
    "svg.worldmap .mark{stroke:#fff;stroke-width:2.5;cursor:default}",
    "svg.worldmap .mark.v{fill:var(--red)}",
    "svg.worldmap .mark:hover{stroke:#0f172a}",
    "svg.worldmap .mapnote{font:9px var(--sans);fill:var(--muted)}",
    "svg.fallback .sphere{fill:#f5f8fb;stroke:#cbd5e1}",
    ".legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin-top:10px;color:var(--muted);font-size:12.5px}",
    ".legend span{display:inline-flex;align-items:center;gap:6px}",
    ".sw{display:inline-block;width:14px;height:10px;border-radius:2px}",
    ".sw.v{background:var(--red)}.sw.i{background:var(--blue)}.sw.o{background:var(--land)}",
    ".dot{display:inline-block;width:10px;height:10px;border-radius:50%;background:var(--red);box-shadow:0 0 0 2px #fff,0 0 0 3px #cbd5e1}",
    ".maptip{position:absolute;pointer-events:none;background:#0f172a;color:#f8fafc;border-radius:6px;padding:8px 10px;font-size:12px;line-height:1.45;max-width:320px;box-shadow:0 4px 14px rgba(15,23,42,.25);z-index:5}",
    ".maptip b{font-size:13px}",
    ".maptip .tipv{color:#fca5a5;font-weight:600}",
    ".maptip .mono{color:#cbd5e1}",
    ".toolbar{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;margin:0 0 12px}",
    ".toolbar input[type=search]{font:inherit;padding:6px 10px;border:1px solid #cbd5e1;border-radius:6px;min-width:280px;background:#fff}",
    ".toolbar label{display:inline-flex;gap:6px;align-items:center;color:var(--fg)}",
    ".tabs{display:flex;gap:4px;border-bottom:1px solid var(--line);margin:-4px 0 12px}",
    ".pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:11.5px;font-weight:700;line-height:19px;letter-spacing:.03em;text-transform:uppercase;white-space:nowrap}",
    ".pill.violation,.pill.flagged{background:var(--red);color:#fff}",
    ".pill.ok{background:#dcfce7;color:var(--green)}",
    ".pill.review{background:#fef3c7;color:var(--amber)}",
    ".pill.conf-high{background:#e0e7ff;color:#3730a3}",
    ".pill.conf-medium{background:#f1f5f9;color:#475569}",
    ".pill.conf-low{background:#fef3c7;color:var(--amber)}",
    "tr.row{cursor:pointer}",
    "tr.row:hover td{background:#f1f5f9}",
    "tr.row td.tog{width:18px;color:var(--muted);padding-right:0}",
    "tr.row.open td.tog{color:var(--fg)}",
    "tr.detail td{background:#f8fafc;padding:12px 16px 16px 28px}",
    "tr.detail h4{margin:10px 0 4px;font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}",
    "tr.detail h4:first-child{margin-top:0}",
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0}",
    "dl.kv dt{color:var(--muted)}",
    "dl.kv dd{margin:0;font-family:var(--mono);font-size:12.5px;word-break:break-all}",
    "ul.ev{margin:0;padding-left:18px}",
    "ul.ev li{margin:1px 0}",
    "ul.ev code{font-family:var(--mono);font-size:12px;background:#eef2f7;padding:0 4px;border-radius:3px}",
    "pre.raw{margin:0;max-height:340px;overflow:auto;background:#0f172a;color:#e2e8f0;border-radius:6px;padding:10px 12px;font:12px/1.45 var(--mono);white-space:pre-wrap;word-break:break-all}",
    "details.rawbox summary{cursor:pointer;color:var(--muted);font-size:12px;margin-top:10px}",
    "table.sub{border-collapse:collapse;font-size:12.5px;margin:2px 0}",
    "table.sub th{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);text-align:left;padding:3px 10px 3px 0;font-weight:600}",
    "table.sub td{padding:3px 10px 3px 0;border:0;vertical-align:top}",
    ".holder+.holder{margin-top:4px}",
    ".more{margin-top:10px}",
    ".more button,.toolbar button{font:inherit;font-size:13px;padding:5px 12px;border-radius:6px;border:1px solid #cbd5e1;background:#fff;cursor:pointer}",
    ".empty{color:var(--muted);font-style:italic;margin:0}",
    "footer.foot{color:var(--muted);font-size:12px;padding-top:6px;padding-bottom:28px}",
    "@media print{body{background:#fff}header.top{background:#fff;color:#000}header h1{color:#000}.toolbar,.more{display:none}.panel,.card,.verdict{break-inside:avoid}}",
    NULL,
};

static const char *const html_js[] = {
    "(function () {",
    "  'use strict';",
    "  // Every string below comes from the embedded JSON, which comes from",
    "  // packets: it reaches the page through textContent only.",
    "  var BAD = /[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]/g;",
    "  function clean(v) { return v === null || v === undefined ? '' : String(v).replace(BAD, '\\ufffd'); }",
    "  function byId(id) { return document.getElementById(id); }",
    "  function data(id) {",
    "    var e = byId(id);",
    "    if (!e) { return null; }",
    "    try { return JSON.parse(e.textContent); } catch (x) { return null; }",
    "  }",
    "  function el(tag, cls, text) {",
    "    var e = document.createElement(tag);",
    "    if (cls) { e.className = cls; }",
    "    if (text !== undefined && text !== null && text !== '') { e.textContent = clean(text); }",
    "    return e;",
    "  }",
    "  function add(parent, child) { parent.appendChild(child); return child; }",
    "  function dash() { return el('span', 'muted', '\\u2014'); }",
    "  function has(v) { return v !== null && v !== undefined && v !== ''; }",
    "  function obj(v) { return v && typeof v === 'object' ? v : {}; }",
    "  function list(v) { return Array.isArray(v) ? v : []; }",
    "  var events = list(data('kp-events'));",
    "  var stats = data('kp-stats');",
    "  var countries = obj(data('kp-countries'));",
    "  var meta = obj(data('kp-meta'));",
    "  var app = byId('kp-app');",
    "  if (!app) { return; }",
    "  var byType = { session: [], key: [], media: [], anomaly: [] };",
    "  events.forEach(function (ev) {",
    "    if (ev && typeof ev === 'object' && byType[ev.event_type]) { byType[ev.event_type].push(ev); }",
    "  });",
    "  // ---- formatting",
    "  var days = {};",
    "  events.forEach(function (ev) { if (ev && has(ev.ts)) { days[String(ev.ts).slice(0, 10)] = 1; } });",
    "  var oneDay = Object.keys(days).length === 1 ? Object.keys(days)[0] : '';",
    "  var TIME = 'Time (UTC' + (oneDay ? ', ' + oneDay : '') + ')';",
    "  function ts(t) { return has(t) ? String(t).replace('T', ' ').replace('Z', '').slice(0, 23) : ''; }",
    "  function tshort(t) { return oneDay && has(t) ? ts(t).slice(11) : ts(t); }",
    "  function ep(ip, port) {",
    "    if (!has(ip)) { return ''; }",
    "    ip = String(ip);",
    "    if (!has(port) || port === 0) { return ip; }",
    "    return ip.indexOf(':') >= 0 ? '[' + ip + ']:' + port : ip + ':' + port;",
    "  }",
    "  function num(n) { return typeof n === 'number' ? n.toLocaleString('en-US') : clean(n); }",
    "  function bytes(n) {",
    "    if (typeof n !== 'number') { return ''; }",
    "    var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0;",
    "    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }",
    "    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];",
    "  }",
    "  function network(asn, org) {",
    "    var s = has(asn) && asn ? 'AS' + asn : '';",
    "    if (has(org)) { s += (s ? ' ' : '') + org; }",
    "    return s;",
    "  }",
    "  function countryName(cc) {",
    "    var c = countries[cc];",
    "    return c && c.name ? c.name : '';",
    "  }",
    "  function countryNode(cc, scope, flagged) {",
    "    if (!has(cc)) { return has(scope) ? el('span', 'muted', scope) : dash(); }",
    "    var s = el('span', 'chip s ' + (flagged ? 'v' : 'i'), cc);",
    "    var n = countryName(cc);",
    "    if (n) { s.title = clean(n); }",
    "    return s;",
    "  }",
    "  function pill(cls, text) { return el('span', 'pill ' + cls, text); }",
    "  function confPill(c) { return has(c) ? pill('conf-' + String(c).replace(/[^a-z]/g, ''), c) : dash(); }",
    "  var EVIDENCE = {",
    "    'tls.client_hello.sni': 'the TLS ClientHello named the server (SNI)',",
    "    'tls.server_hello': 'the TLS ServerHello was seen',",
    "    'tls.certificate': 'the server certificate was seen',",
    "    'tls.certificate.encrypted': 'the certificate was encrypted (TLS 1.3)',",
    "    'tls.client_hello.not_seen': 'the ClientHello was not in the capture',",
    "    'tls.server_hello.not_seen': 'the ServerHello was not in the capture',",
    "    'tls.hello_retry_request': 'the server asked for a new key share (HelloRetryRequest)',",
    "    'tls.malformed_message': 'a handshake message was malformed',",
    "    'rule.sni+certificate': 'server name and certificate both name the service',",
    "    'rule.sni': 'the server name names the service',",
    "    'rule.certificate': 'the certificate names the service',",
    "    'rule.certificate_does_not_match_sni': 'the certificate does not cover the server name',",
    "    'rule.sni_certificate_disagree': 'server name and certificate name different services',",
    "    'zoom.media_encapsulation': \"Zoom's media encapsulation\",",
    "    'rtp.validated_stream': 'RTP validated over several packets',",
    "    'srtcp.index_sequence': 'SRTCP indexes seen',",
    "    'sdp.announced': 'announced by SDP',",
    "    'sdp.announced.sdes': 'announced by SDP with SDES keys',",
    "    'sdp.rtp_avp.unencrypted': 'SDP offered unencrypted RTP/AVP',",
    "    'link.same_client_and_service': \"tied to the same client's key exchange with the same service\"",
    "  };",
    "  function evidenceList(items) {",
    "    var ul = el('ul', 'ev');",
    "    list(items).forEach(function (e) {",
    "      var li = add(ul, el('li'));",
    "      add(li, el('code', '', e));",
    "      if (EVIDENCE[e]) { li.appendChild(document.createTextNode(' ' + EVIDENCE[e])); }",
    "    });",
    "    return ul;",
    "  }",
    "  function kv(pairs) {",
    "    var dl = el('dl', 'kv');",
    "    pairs.forEach(function (p) {",
    "      if (!has(p[1]) && p[1] !== false) { return; }",
    "      add(dl, el('dt', '', p[0]));",
    "      add(dl, el('dd', '', typeof p[1] === 'boolean' ? (p[1] ? 'yes' : 'no') : p[1]));",
    "    });",
    "    return dl;",
    "  }",
    "  function subTable(heads, rows) {",
    "    var t = el('table', 'sub'), tr = add(add(t, el('thead')), el('tr'));",
    "    heads.forEach(function (h) { add(tr, el('th', '', h)); });",
    "    var tb = add(t, el('tbody'));",
    "    rows.forEach(function (r) {",
    "      var row = add(tb, el('tr'));",
    "      r.forEach(function (c) {",
    "        var td = add(row, el('td'));",
    "        if (c instanceof Node) { td.appendChild(c); } else if (has(c)) { td.textContent = clean(c); } else { td.appendChild(dash()); }",
    "      });",
    "    });",
    "    return t;",
    "  }",
    "  function rawBox(ev) {",
    "    var d = el('details', 'rawbox');",
    "    add(d, el('summary', '', 'Event JSON'));",
    "    add(d, el('pre', 'raw', JSON.stringify(ev, null, 2)));",
    "    return d;",
    "  }",
    "  function h4(parent, text) { add(parent, el('h4', '', text)); }",
    "  // ---- tables with expandable evidence rows, paging and filtering",
    "  var PAGE = 200;",
    "  var filters = { text: '', bad: false };",
    "  var tables = [];",
    "  function Table(opts) {",
    "    this.o = opts;",
    "    this.rows = opts.rows.map(function (ev) {",
    "      return { ev: ev, text: JSON.stringify(ev).toLowerCase(), bad: opts.isBad(ev) };",
    "    });",
    "    var panel = this.panel = el('section', 'panel');",
    "    panel.id = opts.id;",
    "    var h = add(panel, el('h2', '', opts.title + ' '));",
    "    this.countEl = add(h, el('span', 'count', String(this.rows.length)));",
    "    if (opts.note) { add(panel, el('p', 'note', opts.note)).style.marginTop = '-6px'; }",
    "    if (!this.rows.length) {",
    "      add(panel, el('p', 'empty', opts.empty));",
    "      return;",
    "    }",
    "    var wrap = add(panel, el('div', 'tablewrap'));",
    "    var t = add(wrap, el('table', 'data'));",
    "    t.id = opts.id + '-table';",
    "    var tr = add(add(t, el('thead')), el('tr'));",
    "    add(tr, el('th', ''));",
    "    opts.cols.forEach(function (c) { add(tr, el('th', c.cls || '', c.h)); });",
    "    this.tbody = add(t, el('tbody'));",
    "    this.more = add(panel, el('div', 'more'));",
    "    this.render();",
    "  }",
    "  Table.prototype.visible = function () {",
    "    return this.rows.filter(function (r) {",
    "      return (!filters.bad || r.bad) && (!filters.text || r.text.indexOf(filters.text) >= 0);",
    "    });",
    "  };",
    "  Table.prototype.render = function () {",
    "    if (!this.tbody) { return; }",
    "    var self = this, vis = this.visible();",
    "    this.tbody.textContent = '';",
    "    this.shown = 0;",
    "    this.vis = vis;",
    "    this.countEl.textContent = vis.length === this.rows.length ? String(vis.length) : vis.length + ' of ' + this.rows.length;",
    "    this.page(PAGE);",
    "    if (!vis.length) {",
    "      var tr = add(this.tbody, el('tr'));",
    "      var td = add(tr, el('td', 'muted', 'No row matches the filter.'));",
    "      td.colSpan = this.o.cols.length + 1;",
    "    }",
    "    void self;",
    "  };",
    "  Table.prototype.page = function (n) {",
    "    var self = this, end = Math.min(this.vis.length, this.shown + n);",
    "    for (var i = this.shown; i < end; i++) { this.addRow(this.vis[i].ev); }",
    "    this.shown = end;",
    "    this.more.textContent = '';",
    "    var left = this.vis.length - this.shown;",
    "    if (left > 0) {",
    "      var b = add(this.more, el('button', '', 'Show ' + Math.min(left, 1000) + ' more (' + left + ' not shown)'));",
    "      b.type = 'button';",
    "      b.addEventListener('click', function () { self.page(1000); });",
    "    }",
    "  };",
    "  Table.prototype.addRow = function (ev) {",
    "    var o = this.o, tr = add(this.tbody, el('tr', 'row ' + (o.rowClass(ev) || '')));",
    "    tr.tabIndex = 0;",
    "    add(tr, el('td', 'tog', '\\u25b8'));",
    "    o.cols.forEach(function (c) {",
    "      var td = add(tr, el('td', c.cls || ''));",
    "      var v = c.f(ev);",
    "      if (v instanceof Node) { td.appendChild(v); } else if (has(v)) { td.textContent = clean(v); } else { td.appendChild(dash()); }",
    "    });",
    "    var detail = null;",
    "    function toggle() {",
    "      if (detail) {",
    "        detail.remove();",
    "        detail = null;",
    "        tr.classList.remove('open');",
    "        tr.firstChild.textContent = '\\u25b8';",
    "        return;",
    "      }",
    "      detail = el('tr', 'detail');",
    "      var td = add(detail, el('td'));",
    "      td.colSpan = o.cols.length + 1;",
    "      td.appendChild(o.detail(ev));",
    "      td.appendChild(rawBox(ev));",
    "      tr.after(detail);",
    "      tr.classList.add('open');",
    "      tr.firstChild.textContent = '\\u25be';",
    "    }",
    "    tr.addEventListener('click', function (e) {",
    "      if (window.getSelection && String(window.getSelection())) { return; }",
    "      toggle(e);",
    "    });",
    "    tr.addEventListener('keydown', function (e) {",
    "      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(); }",
    "    });",
    "  };",
    "  // ---- sessions",
    "  var VRANK = { violation: 0, review: 1, ok: 2 };",
    "  function vrank(v) { return VRANK.hasOwnProperty(v) ? VRANK[v] : 1; }",
    "  function byTime(a, b) { return String(a.ts || '') < String(b.ts || '') ? -1 : String(a.ts || '') > String(b.ts || '') ? 1 : 0; }",
    "  var sessions = byType.session.slice().sort(function (a, b) { return vrank(a.verdict) - vrank(b.verdict) || byTime(a, b); });",
    "  var keys = byType.key.slice().sort(function (a, b) { return (b.flagged ? 1 : 0) - (a.flagged ? 1 : 0) || byTime(a, b); });",
    "  var media = byType.media.slice().sort(byTime);",
    "  var anomalies = byType.anomaly.slice().sort(byTime);",
    "  function verdictClass(v) { return VRANK.hasOwnProperty(v) ? v : 'review'; }",
    "  function uniq(a) { return a.filter(function (x, i) { return has(x) && a.indexOf(x) === i; }); }",
    "  function holderLine(k, flagged) {",
    "    var line = el('div', 'holder');",
    "    add(line, el('span', 'mono', ep(k.ip, k.port)));",
    "    line.appendChild(document.createTextNode(' '));",
    "    line.appendChild(countryNode(k.country, k.scope, flagged));",
    "    var n = network(k.asn, k.as_org);",
    "    if (n) { add(line, el('div', 'small muted', n)); }",
    "    return line;",
    "  }",
    "  function holdersNode(s) {",
    "    var d = el('div');",
    "    var hs = list(s.key_holders);",
    "    if (!hs.length) { d.appendChild(dash()); }",
    "    hs.forEach(function (k) { k = obj(k); d.appendChild(holderLine(k, k.flagged)); });",
    "    if (s.key_holders_total > hs.length) { add(d, el('div', 'small muted', 'and ' + (s.key_holders_total - hs.length) + ' more')); }",
    "    return d;",
    "  }",
    "  function svcNode(service, mech) {",
    "    var d = el('div');",
    "    add(d, el('div', 'svc', service));",
    "    if (has(mech)) { add(d, el('div', 'mech', mech)); }",
    "    return d;",
    "  }",
    "  function sessionDetail(s) {",
    "    var d = el('div'), c = obj(s.client);",
    "    h4(d, 'Verdict');",
    "    d.appendChild(kv([['verdict', s.verdict], ['who holds the keys', s.holder], ['session', s.session_id],",
    "      ['service', s.service], ['client', ep(c.ip, c.port)], ['first seen', ts(s.ts)], ['last seen', ts(s.last_ts)],",
    "      ['key records', s.keys], ['media flows', s.media]]));",
    "    if (list(s.reasons).length) {",
    "      h4(d, 'Reasons');",
    "      var ul = add(d, el('ul', 'ev'));",
    "      list(s.reasons).forEach(function (r) { add(ul, el('li', '', r)); });",
    "    }",
    "    var holders = list(s.key_holders), flows = list(s.flows);",
    "    if (holders.length) {",
    "      h4(d, 'Key holders' + (s.key_holders_total > holders.length ? ' (' + holders.length + ' of ' + s.key_holders_total + ')' : ''));",
    "      d.appendChild(subTable(['Address', 'Country', 'Network', 'Server name', 'Mechanism', 'Confidence', 'Flagged'],",
    "        holders.map(function (k) {",
    "          k = obj(k);",
    "          var f = k.flagged ? el('div') : 'no';",
    "          if (k.flagged) {",
    "            f.appendChild(pill('flagged', 'flagged'));",
    "            if (has(k.reason)) { add(f, el('div', 'small reason', k.reason)); }",
    "          }",
    "          return [ep(k.ip, k.port), countryNode(k.country, k.scope, k.flagged), network(k.asn, k.as_org),",
    "            k.sni, k.mechanism, confPill(k.confidence), f];",
    "        })));",
    "    }",
    "    if (flows.length) {",
    "      h4(d, 'Flows' + (s.flows_total > flows.length ? ' (' + flows.length + ' of ' + s.flows_total + ')' : ''));",
    "      d.appendChild(subTable(['Protocol', 'Client port', 'Server', 'Role', 'Why it belongs here'], flows.map(function (f) {",
    "        f = obj(f);",
    "        return [f.proto, has(f.client_port) ? String(f.client_port) : '', f.server, f.role, f.link];",
    "      })));",
    "    }",
    "    if (list(s.notes).length) {",
    "      h4(d, 'Notes');",
    "      var nl = add(d, el('ul', 'ev'));",
    "      list(s.notes).forEach(function (n) { add(nl, el('li', '', n)); });",
    "    }",
    "    return d;",
    "  }",
    "  // ---- key records",
    "  function keyDetail(k) {",
    "    var d = el('div'), i = obj(k.issuer), c = obj(k.client), t = obj(k.tls), m = obj(k.media), r = obj(k.relay), sd = obj(k.sdes);",
    "    h4(d, 'Key issuer');",
    "    d.appendChild(kv([['address', ep(i.ip, i.port)], ['country', has(i.country) ? i.country + (countryName(i.country) ? ' (' + countryName(i.country) + ')' : '') : ''],",
    "      ['scope', i.scope], ['network', network(i.asn, i.as_org)], ['server name (SNI)', i.sni], ['client', ep(c.ip, c.port)],",
    "      ['protocol', k.proto], ['mechanism', k.mechanism], ['confidence', k.confidence], ['flagged', k.flagged], ['reason', k.reason]]));",
    "    var cert = [['subject', i.cert_subject], ['issuer', i.cert_issuer], ['country (C=)', i.cert_country], ['SHA-256', i.cert_sha256],",
    "      ['names (SANs)', t.cert_sans], ['self-signed', t.cert_self_signed]];",
    "    if (cert.some(function (p) { return has(p[1]); })) { h4(d, 'Certificate'); d.appendChild(kv(cert)); }",
    "    var hs = [['version', t.version], ['cipher', t.cipher], ['ALPN offered', t.alpn], ['JA4', t.ja4],",
    "      ['SRTP profile', m.srtp_profile], ['QUIC version', m.quic_version]];",
    "    if (hs.some(function (p) { return has(p[1]); })) { h4(d, 'Handshake'); d.appendChild(kv(hs)); }",
    "    if (has(r.ip)) {",
    "      h4(d, 'TURN relay (context, not the issuer)');",
    "      d.appendChild(kv([['address', ep(r.ip, r.port)], ['country', r.country], ['network', network(r.asn, r.as_org)]]));",
    "    }",
    "    if (has(sd.suite) || has(sd.key_sha256_128)) {",
    "      h4(d, 'SDES');",
    "      d.appendChild(kv([['suite', sd.suite], ['key SHA-256 (first 128 bits)', sd.key_sha256_128], ['key exposed in clear', sd.key_exposed]]));",
    "    }",
    "    if (list(k.evidence).length) { h4(d, 'Evidence'); d.appendChild(evidenceList(k.evidence)); }",
    "    return d;",
    "  }",
    "  // ---- media, anomalies",
    "  function mediaDetail(m) {",
    "    var d = el('div'), c = obj(m.client), s = obj(m.server), kx = obj(m.key_exchange);",
    "    h4(d, 'Flow');",
    "    d.appendChild(kv([['service', m.service], ['kind', m.kind], ['protocol', m.proto], ['client', ep(c.ip, c.port)],",
    "      ['server', ep(s.ip, s.port)], ['server country', s.country], ['server scope', s.scope], ['server network', network(s.asn, s.as_org)],",
    "      ['first packet', ts(m.ts)], ['last packet', ts(m.last_ts)], ['packets', num(m.packets)], ['bytes', num(m.bytes)],",
    "      ['SSRCs', m.ssrc_count], ['payload type', m.payload_type]]));",
    "    h4(d, 'Key exchange');",
    "    if (has(kx.issuer_ip)) {",
    "      d.appendChild(kv([['mechanism', kx.mechanism], ['issuer', ep(kx.issuer_ip, kx.issuer_port)]]));",
    "    } else {",
    "      add(d, el('p', 'empty', 'No key exchange for this flow was seen in the capture.'));",
    "    }",
    "    if (list(m.evidence).length) { h4(d, 'Evidence'); d.appendChild(evidenceList(m.evidence)); }",
    "    return d;",
    "  }",
    "  function anomalyDetail(a) {",
    "    var d = el('div');",
    "    d.appendChild(kv([['anomaly', a.anomaly], ['protocol', a.proto], ['source', ep(a.src_ip, a.src_port)],",
    "      ['destination', ep(a.dest_ip, a.dest_port)], ['detail', a.detail], ['time', ts(a.ts)]]));",
    "    return d;",
    "  }",
    "  // ---- the page",
    "  var toolbar = el('div', 'toolbar panel');",
    "  var search = add(toolbar, el('input'));",
    "  search.type = 'search';",
    "  search.placeholder = 'Filter rows (address, country, service, name\\u2026)';",
    "  search.setAttribute('aria-label', 'Filter rows');",
    "  var lab = add(toolbar, el('label'));",
    "  var cb = add(lab, el('input'));",
    "  cb.type = 'checkbox';",
    "  lab.appendChild(document.createTextNode(' only violations and flagged keys'));",
    "  var expand = add(toolbar, el('button', '', 'Expand all shown'));",
    "  expand.type = 'button';",
    "  add(toolbar, el('span', 'muted small', 'Click a row for its evidence.'));",
    "  app.appendChild(toolbar);",
    "  if (sessions.length) {",
    "    tables.push(new Table({",
    "      id: 'sessions', title: 'Sessions', rows: sessions, empty: '',",
    "      isBad: function (s) { return s.verdict !== 'ok'; },",
    "      rowClass: function (s) { return verdictClass(s.verdict); },",
    "      cols: [",
    "        { h: 'Verdict', f: function (s) {",
    "          var d = el('div');",
    "          d.appendChild(pill(verdictClass(s.verdict), s.verdict || 'unknown'));",
    "          if (has(s.holder)) { add(d, el('div', 'small muted', 'keys: ' + s.holder)); }",
    "          return d;",
    "        } },",
    "        { h: '#', cls: 'num', f: function (s) { return has(s.session_id) ? String(s.session_id) : ''; } },",
    "        { h: TIME, cls: 'nowrap small', f: function (s) { return tshort(s.ts); } },",
    "        { h: 'Service', f: function (s) { return svcNode(s.service, uniq(list(s.key_holders).map(function (k) { return obj(k).mechanism; })).join(', ')); } },",
    "        { h: 'Client', cls: 'mono', f: function (s) { return obj(s.client).ip; } },",
    "        { h: 'Key holders', f: holdersNode },",
    "        { h: 'Confidence', f: function (s) {",
    "          var d = el('div');",
    "          uniq(list(s.key_holders).map(function (k) { return obj(k).confidence; })).forEach(function (c) { d.appendChild(confPill(c)); d.appendChild(document.createTextNode(' ')); });",
    "          return d.childNodes.length ? d : '';",
    "        } },",
    "        { h: 'Reason', cls: 'reason small', f: function (s) { return s.verdict === 'ok' ? '' : list(s.reasons).join('; '); } }",
    "      ],",
    "      detail: sessionDetail",
    "    }));",
    "  }",
    "  tables.push(new Table({",
    "    id: 'keys', title: 'Key records', rows: keys, empty: 'No key exchange was seen.',",
    "    note: sessions.length ? '' : 'No session events in this report: each key record is judged on its own.',",
    "    isBad: function (k) { return !!k.flagged; },",
    "    rowClass: function (k) { return k.flagged ? 'violation' : ''; },",
    "    cols: [",
    "      { h: 'Verdict', f: function (k) { return k.flagged ? pill('flagged', 'flagged') : pill('ok', 'ok'); } },",
    "      { h: TIME, cls: 'nowrap small', f: function (k) { return tshort(k.ts); } },",
    "      { h: 'Service', f: function (k) { return svcNode(k.service, k.mechanism); } },",
    "      { h: 'Client', cls: 'mono', f: function (k) { var c = obj(k.client); return ep(c.ip, c.port); } },",
    "      { h: 'Key issuer', f: function (k) { var i = obj(k.issuer); return holderLine(i, k.flagged); } },",
    "      { h: 'Server name', cls: 'mono small any', f: function (k) { return obj(k.issuer).sni; } },",
    "      { h: 'Confidence', f: function (k) { return confPill(k.confidence); } },",
    "      { h: 'Reason', cls: 'reason small', f: function (k) { return k.reason; } }",
    "    ],",
    "    detail: keyDetail",
    "  }));",
    "  tables.push(new Table({",
    "    id: 'media', title: 'Media flows', rows: media, empty: 'No media flow was seen.',",
    "    isBad: function () { return false; },",
    "    rowClass: function () { return ''; },",
    "    cols: [",
    "      { h: TIME, cls: 'nowrap small', f: function (m) { return tshort(m.ts); } },",
    "      { h: 'Service', f: function (m) { return svcNode(m.service, m.kind); } },",
    "      { h: 'Client', cls: 'mono', f: function (m) { var c = obj(m.client); return ep(c.ip, c.port); } },",
    "      { h: 'Server', f: function (m) { return holderLine(obj(m.server), false); } },",
    "      { h: 'Packets', cls: 'num', f: function (m) { return num(m.packets); } },",
    "      { h: 'Bytes', cls: 'num', f: function (m) { return bytes(m.bytes); } },",
    "      { h: 'Key exchange', cls: 'mono small', f: function (m) {",
    "        var kx = obj(m.key_exchange);",
    "        return has(kx.issuer_ip) ? kx.mechanism + ' @ ' + ep(kx.issuer_ip, kx.issuer_port) : el('span', 'muted', 'none seen');",
    "      } }",
    "    ],",
    "    detail: mediaDetail",
    "  }));",
    "  if (anomalies.length) {",
    "    tables.push(new Table({",
    "      id: 'anomalies', title: 'Anomalies', rows: anomalies, empty: '',",
    "      isBad: function () { return false; },",
    "      rowClass: function () { return ''; },",
    "      cols: [",
    "        { h: TIME, cls: 'nowrap small', f: function (a) { return tshort(a.ts); } },",
    "        { h: 'Anomaly', cls: 'mono small', f: function (a) { return a.anomaly; } },",
    "        { h: 'Protocol', f: function (a) { return a.proto; } },",
    "        { h: 'Source', cls: 'mono', f: function (a) { return ep(a.src_ip, a.src_port); } },",
    "        { h: 'Destination', cls: 'mono', f: function (a) { return ep(a.dest_ip, a.dest_port); } },",
    "        { h: 'Detail', cls: 'small', f: function (a) { return a.detail; } }",
    "      ],",
    "      detail: anomalyDetail",
    "    }));",
    "  }",
    "  tables.forEach(function (t) { app.appendChild(t.panel); });",
    "  if (stats && typeof stats === 'object') {",
    "    var sp = add(app, el('section', 'panel'));",
    "    sp.id = 'stats';",
    "    add(sp, el('h2', '', 'Run statistics'));",
    "    var pairs = [];",
    "    Object.keys(stats).forEach(function (k) {",
    "      if (k === 'event_type' || k === 'schema') { return; }",
    "      var v = stats[k];",
    "      pairs.push([k.replace(/_/g, ' '), typeof v === 'number' ? num(v) : typeof v === 'boolean' ? v : JSON.stringify(v)]);",
    "    });",
    "    var g = add(sp, kv(pairs));",
    "    g.style.gridTemplateColumns = 'repeat(auto-fill, minmax(150px, max-content) minmax(90px, 1fr))';",
    "  }",
    "  if (meta.dropped > 0) {",
    "    add(app, el('p', 'note', 'The tables hold the ' + num(meta.limit) + ' events this report keeps; ' + num(meta.dropped) + ' more were counted in the summary only.'));",
    "  }",
    "  var timer = null;",
    "  function refilter() { tables.forEach(function (t) { t.render(); }); }",
    "  search.addEventListener('input', function () {",
    "    clearTimeout(timer);",
    "    timer = setTimeout(function () { filters.text = search.value.trim().toLowerCase(); refilter(); }, 150);",
    "  });",
    "  cb.addEventListener('change', function () { filters.bad = cb.checked; refilter(); });",
    "  expand.addEventListener('click', function () {",
    "    app.querySelectorAll('tr.row:not(.open)').forEach(function (r) { r.click(); });",
    "  });",
    "  // ---- map hover",
    "  var map = byId('worldmap'), tip = byId('maptip');",
    "  if (map && tip) {",
    "    map.querySelectorAll('[data-cc]').forEach(function (p) {",
    "      var t = p.querySelector('title');",
    "      if (t) { p.setAttribute('data-label', t.textContent.split('\\n')[0]); t.remove(); }",
    "    });",
    "    var box = tip.parentNode;",
    "    map.addEventListener('mousemove', function (e) {",
    "      var target = e.target.closest ? e.target.closest('[data-cc]') : null;",
    "      if (!target) { tip.hidden = true; return; }",
    "      var cc = target.getAttribute('data-cc'), c = countries[cc];",
    "      tip.textContent = '';",
    "      add(tip, el('b', '', (c && c.name ? c.name : (target.getAttribute('data-label') || '').replace(/ \\(.*$/, '')) + ' (' + cc + ')'));",
    "      if (c) {",
    "        if (c.flagged) { add(tip, el('div', 'tipv', 'keys from a flagged jurisdiction')); }",
    "        if (c.keys) { add(tip, el('div', '', c.keys + ' key record' + (c.keys === 1 ? '' : 's') + ', ' + c.keys_flagged + ' flagged')); }",
    "        if (c.sessions) { add(tip, el('div', '', c.sessions + ' session' + (c.sessions === 1 ? '' : 's') + ', ' + c.sessions_flagged + ' with flagged keys here')); }",
    "        list(c.ips).forEach(function (ip) { add(tip, el('div', 'mono', ip)); });",
    "        if (c.more_ips) { add(tip, el('div', 'mono', '\\u2026')); }",
    "        list(c.networks).forEach(function (n) { add(tip, el('div', '', network(n.asn, n.org))); });",
    "      } else {",
    "        add(tip, el('div', '', 'no key issuer seen'));",
    "      }",
    "      var r = box.getBoundingClientRect();",
    "      var x = e.clientX - r.left + 14, y = e.clientY - r.top + 14;",
    "      tip.hidden = false;",
    "      if (x + tip.offsetWidth > r.width) { x = Math.max(0, e.clientX - r.left - tip.offsetWidth - 14); }",
    "      tip.style.left = x + 'px';",
    "      tip.style.top = y + 'px';",
    "    });",
    "    map.addEventListener('mouseleave', function () { tip.hidden = true; });",
    "  }",
    "})();",
    NULL,
};
/* ---- embedded assets: end ---- */

static void put_lines(struct sink *s, const char *const *lines)
{
    for (size_t i = 0; lines[i] != NULL; i++) {
        puts_(s, lines[i]);
        puts_(s, "\n");
    }
}

/* "2020-04-02T14:00:00.045150Z" -> "2020-04-02 14:00:00" */
static void short_ts(char *out, size_t cap, const char *ts)
{
    snprintf(out, cap, "%.19s", ts);
    char *t = strchr(out, 'T');
    if (t != NULL) {
        *t = ' ';
    }
}

static int cmp_country(const void *a, const void *b)
{
    const struct country *x = a, *y = b;
    int fx = country_flagged(x), fy = country_flagged(y);
    if (fx != fy) {
        return fy - fx;
    }
    uint64_t nx = x->keys + x->holders, ny = y->keys + y->holders;
    if (nx != ny) {
        return nx > ny ? -1 : 1;
    }
    return strcmp(x->code, y->code);
}

static void put_u64(struct sink *s, uint64_t v) { putf(s, "%" PRIu64, v); }

static void write_card(struct sink *s, const char *cls, const char *label, uint64_t value,
                       const char *detail)
{
    putf(s, "<div class=\"card%s%s\"><div class=\"card-value\">", cls[0] ? " " : "", cls);
    put_u64(s, value);
    puts_(s, "</div><div class=\"card-label\">");
    put_texts(s, label);
    puts_(s, "</div>");
    if (detail != NULL && detail[0] != '\0') {
        puts_(s, "<div class=\"card-detail\">");
        put_texts(s, detail);
        puts_(s, "</div>");
    }
    puts_(s, "</div>\n");
}

static void write_cell(struct sink *s, const char *cls, const char *text)
{
    if (cls != NULL) {
        putf(s, "<td class=\"%s\">", cls);
    } else {
        puts_(s, "<td>");
    }
    if (text[0] == '\0') {
        puts_(s, "<span class=\"muted\">\xe2\x80\x94</span>");
    } else {
        put_texts(s, text);
    }
    puts_(s, "</td>");
}

static void write_country_cell(struct sink *s, const struct kp_html *h, const char *code)
{
    char name[96];
    country_name(h, code, name, sizeof(name));
    const struct country *c = find_country(h, code);
    puts_(s, "<td class=\"cc\">");
    if (c != NULL) {
        putf(s, "<i class=\"sw %s\"></i>", country_flagged(c) ? "v" : "i");
    }
    if (is_cc(code)) {
        putf(s, "<span class=\"code\">%s</span>", code);
        if (name[0] != '\0') {
            puts_(s, " <span class=\"cname\">");
            put_texts(s, name);
            puts_(s, "</span>");
        }
    } else if (code[0] != '\0') {
        puts_(s, "<span class=\"muted\">");
        put_texts(s, code);
        puts_(s, "</span>");
    } else {
        puts_(s, "<span class=\"muted\">\xe2\x80\x94</span>");
    }
    puts_(s, "</td>");
}

static void write_violations(struct sink *s, const struct kp_html *h)
{
    bool sessions = h->count[T_SESSION] > 0;
    const struct row *rows = sessions ? h->srows : h->krows;
    size_t n = sessions ? h->nsrows : h->nkrows;
    uint64_t total = sessions ? h->s_violation : h->keys_flagged;
    if (total == 0) {
        return;
    }
    puts_(s, "<section class=\"panel\" id=\"violations\">\n<h2>");
    puts_(s, sessions ? "Sessions in violation" : "Flagged key records");
    putf(s, " <span class=\"count\">%" PRIu64 "</span></h2>\n", total);
    puts_(s, "<div class=\"tablewrap\"><table class=\"data\" id=\"violations-table\">\n<thead><tr>");
    if (sessions) {
        puts_(s, "<th>Session</th>");
    }
    puts_(s, "<th>Time (UTC)</th><th>Service</th><th>Client</th><th>Key issuer</th>"
             "<th>Country</th><th>Network</th><th>Mechanism</th><th>Reason</th></tr></thead>\n"
             "<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char ts[40];
        short_ts(ts, sizeof(ts), r->ts);
        puts_(s, "<tr class=\"violation\">");
        if (sessions) {
            write_cell(s, "num", r->id);
        }
        write_cell(s, "nowrap", ts);
        write_cell(s, NULL, r->service);
        write_cell(s, "mono", r->client);
        write_cell(s, "mono", r->holder);
        write_country_cell(s, h, r->country);
        write_cell(s, NULL, r->network);
        write_cell(s, "mech", r->mechanism);
        write_cell(s, "reason", r->reason);
        puts_(s, "</tr>\n");
    }
    puts_(s, "</tbody></table></div>\n");
    if (total > n) {
        putf(s, "<p class=\"note\">The first %zu of %" PRIu64 " are listed here; the tables below "
                "have the others.</p>\n",
             n, total);
    }
    puts_(s, "</section>\n");
}

static void put_count_pair(struct sink *s, uint64_t total, uint64_t bad, const char *what)
{
    putf(s, "<td class=\"num\">%" PRIu64, total);
    if (bad > 0) {
        putf(s, "<div class=\"small bad\">%" PRIu64 " %s</div>", bad, what);
    }
    puts_(s, "</td>");
}

static void write_countries_table(struct sink *s, const struct kp_html *h,
                                  const struct country *sorted, size_t n)
{
    bool sessions = h->count[T_SESSION] > 0;
    puts_(s, "<div class=\"tablewrap\"><table class=\"data countries\" id=\"country-table\">\n"
             "<thead><tr><th>Country</th>");
    if (sessions) {
        puts_(s, "<th class=\"num\">Sessions</th>");
    }
    puts_(s, "<th class=\"num\">Keys</th><th>Issuers</th></tr></thead>\n"
             "<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const struct country *c = &sorted[i];
        putf(s, "<tr class=\"%s\" data-cc=\"%s\">", country_flagged(c) ? "violation" : "ok",
             c->code);
        write_country_cell(s, h, c->code);
        if (sessions) {
            put_count_pair(s, c->sessions, c->sessions_flagged, "flagged");
        }
        put_count_pair(s, c->keys, c->keys_flagged, "flagged");
        puts_(s, "<td><div class=\"mono small\">");
        for (size_t k = 0; k < c->nips; k++) {
            if (k > 0) {
                puts_(s, ", ");
            }
            put_texts(s, c->ips[k]);
        }
        if (c->more_ips) {
            puts_(s, " <span class=\"muted\">and others</span>");
        }
        puts_(s, "</div>");
        for (size_t k = 0; k < c->nasn; k++) {
            putf(s, "<div class=\"small muted\">AS%" PRIu32 " ", c->asn[k]);
            put_texts(s, c->org[k]);
            puts_(s, "</div>");
        }
        if (c->more_asn) {
            puts_(s, "<div class=\"small muted\">and other networks</div>");
        }
        puts_(s, "</td></tr>\n");
    }
    if (n == 0) {
        putf(s, "<tr><td colspan=\"%d\" class=\"muted\">No key issuer seen.</td></tr>\n",
             sessions ? 4 : 3);
    }
    puts_(s, "</tbody></table></div>\n");
}

/* kp-countries: the per-country summary for the script (map hover). */
static void write_countries_json(struct sink *s, const struct kp_html *h)
{
    puts_(s, "<script type=\"application/json\" id=\"kp-countries\">{");
    for (size_t i = 0; i < h->ncountries; i++) {
        const struct country *c = &h->countries[i];
        char name[96];
        country_name(h, c->code, name, sizeof(name));
        if (i > 0) {
            puts_(s, ",");
        }
        put_json_strs(s, c->code);
        puts_(s, ":{\"name\":");
        put_json_strs(s, name);
        putf(s, ",\"keys\":%" PRIu64 ",\"keys_flagged\":%" PRIu64 ",\"holders\":%" PRIu64
                ",\"holders_flagged\":%" PRIu64 ",\"sessions\":%" PRIu64
                ",\"sessions_flagged\":%" PRIu64 ",\"ips\":[",
             c->keys, c->keys_flagged, c->holders, c->holders_flagged, c->sessions,
             c->sessions_flagged);
        for (size_t k = 0; k < c->nips; k++) {
            if (k > 0) {
                puts_(s, ",");
            }
            put_json_strs(s, c->ips[k]);
        }
        putf(s, "],\"more_ips\":%s,\"networks\":[", c->more_ips ? "true" : "false");
        for (size_t k = 0; k < c->nasn; k++) {
            putf(s, "%s{\"asn\":%" PRIu32 ",\"org\":", k > 0 ? "," : "", c->asn[k]);
            put_json_strs(s, c->org[k]);
            puts_(s, "}");
        }
        putf(s, "],\"flagged\":%s}", country_flagged(c) ? "true" : "false");
    }
    puts_(s, "}</script>\n");
}

static void write_meta_json(struct sink *s, const struct kp_html *h)
{
    uint64_t dropped = 0;
    for (int t = 0; t < T_COUNT; t++) {
        dropped += h->dropped[t];
    }
    putf(s, "<script type=\"application/json\" id=\"kp-meta\">{\"limit\":%d,\"anomaly_limit\":%d,"
            "\"dropped\":%" PRIu64 ",\"dropped_by_type\":{",
         KP_HTML_MAX_EVENTS, KP_HTML_MAX_ANOMALIES, dropped);
    for (int t = 0; t < T_COUNT; t++) {
        putf(s, "%s\"%s\":%" PRIu64, t > 0 ? "," : "", type_names[t], h->dropped[t]);
    }
    puts_(s, "},\"counts\":{");
    for (int t = 0; t < T_COUNT; t++) {
        putf(s, "%s\"%s\":%" PRIu64, t > 0 ? "," : "", type_names[t], h->count[t]);
    }
    putf(s, "},\"malformed\":%" PRIu64 ",\"map\":%s,\"version\":", h->malformed,
         h->map_ok ? "true" : "false");
    put_json_strs(s, kp_version());
    puts_(s, "}</script>\n");
}

static void write_events_json(struct sink *s, const struct kp_html *h)
{
    puts_(s, "<script type=\"application/json\" id=\"kp-events\">[\n");
    bool first = true;
    for (int p = P_COUNT - 1; p >= 0; p--) {
        const struct kept_list *l = &h->kept[p];
        for (size_t i = 0; i < l->n; i++) {
            if (!first) {
                puts_(s, ",\n");
            }
            first = false;
            put_script_json(s, l->v[i].json, l->v[i].len);
        }
    }
    puts_(s, "\n]</script>\n");
}

static void write_report(struct sink *s, struct kp_html *h, const char *title,
                         const char *stats_json)
{
    const char *ttl = title != NULL && title[0] != '\0' ? title : "capture";
    if (stats_json == NULL) {
        stats_json = h->stats_event;
    }
    struct jv stats = {NULL, 0};
    if (stats_json != NULL && j_valid(stats_json, strlen(stats_json), '{')) {
        stats.p = stats_json;
        stats.n = strlen(stats_json);
    }

    bool have_sessions = h->count[T_SESSION] > 0;
    uint64_t keys = h->count[T_KEY];
    const char *vclass, *vlabel;
    char vtext[400];
    if (have_sessions && h->s_violation > 0) {
        vclass = "violation";
        vlabel = "Violation";
        snprintf(vtext, sizeof(vtext),
                 "%" PRIu64 " of %" PRIu64 " session%s received keys from a flagged jurisdiction.",
                 h->s_violation, h->count[T_SESSION], h->count[T_SESSION] == 1 ? "" : "s");
    } else if (have_sessions && h->s_review > 0) {
        vclass = "review";
        vlabel = "Review";
        snprintf(vtext, sizeof(vtext),
                 "No session is in violation, but %" PRIu64 " of %" PRIu64
                 " need%s review: who holds their keys is not certain.",
                 h->s_review, h->count[T_SESSION], h->s_review == 1 ? "s" : "");
    } else if (have_sessions) {
        vclass = "ok";
        vlabel = "No violation";
        snprintf(vtext, sizeof(vtext),
                 "None of the %" PRIu64 " session%s received keys from a flagged jurisdiction.",
                 h->count[T_SESSION], h->count[T_SESSION] == 1 ? "" : "s");
    } else if (h->keys_flagged > 0) {
        vclass = "violation";
        vlabel = "Violation";
        snprintf(vtext, sizeof(vtext),
                 "%" PRIu64 " of %" PRIu64 " key record%s %s issued in a flagged jurisdiction.",
                 h->keys_flagged, keys, keys == 1 ? "" : "s", h->keys_flagged == 1 ? "was" : "were");
    } else if (keys > 0) {
        vclass = "ok";
        vlabel = "No violation";
        snprintf(vtext, sizeof(vtext),
                 "None of the %" PRIu64 " key record%s was issued in a flagged jurisdiction.", keys,
                 keys == 1 ? "" : "s");
    } else if (h->count[T_MEDIA] > 0) {
        vclass = "none";
        vlabel = "No key exchange seen";
        snprintf(vtext, sizeof(vtext),
                 "Only media (%" PRIu64 " flow%s): the keys were agreed outside this capture or "
                 "end to end.",
                 h->count[T_MEDIA], h->count[T_MEDIA] == 1 ? "" : "s");
    } else {
        vclass = "none";
        vlabel = "No key exchange seen";
        snprintf(vtext, sizeof(vtext), "No conferencing key exchange was seen in this capture.");
    }

    puts_(s, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
             "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
             "base-uri 'none'; form-action 'none'\">\n"
             "<meta name=\"referrer\" content=\"no-referrer\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<meta name=\"generator\" content=\"keyprov ");
    put_texts(s, kp_version());
    puts_(s, "\">\n<title>keyprov report: ");
    put_texts(s, ttl);
    puts_(s, "</title>\n<style>\n");
    put_lines(s, html_css);
    puts_(s, "</style>\n</head>\n<body>\n");

    /* header */
    puts_(s, "<header class=\"top\"><div class=\"wrap\">\n"
             "<div class=\"brand\"><span class=\"logo\">keyprov</span> "
             "<span class=\"sub\">key provenance audit</span></div>\n<h1 id=\"title\">");
    put_texts(s, ttl);
    puts_(s, "</h1>\n<p class=\"meta\">");
    if (h->first_ts[0] != '\0') {
        char a[40], b[40];
        short_ts(a, sizeof(a), h->first_ts);
        short_ts(b, sizeof(b), h->last_ts);
        puts_(s, "<span>");
        put_texts(s, a);
        if (strcmp(a, b) != 0) {
            puts_(s, " \xe2\x80\x93 ");
            put_texts(s, strncmp(a, b, 10) == 0 && strlen(b) > 11 ? b + 11 : b);
        }
        puts_(s, " UTC</span>");
    }
    if (stats.p != NULL) {
        putf(s, "<span>%" PRId64 " packets</span><span>%" PRId64 " flows</span>",
             get_int(stats, "packets"), get_int(stats, "flows"));
        if (get_true(stats, "truncated")) {
            puts_(s, "<span class=\"bad\">capture truncated</span>");
        }
        int64_t kd = get_int(stats, "kernel_dropped");
        if (kd > 0) {
            putf(s, "<span class=\"bad\">%" PRId64 " packets dropped by the kernel</span>", kd);
        }
    }
    puts_(s, "<span>keyprov ");
    put_texts(s, kp_version());
    puts_(s, "</span></p>\n</div></header>\n<main class=\"wrap\">\n");

    /* verdict banner */
    putf(s, "<section class=\"verdict v-%s\" id=\"verdict\" data-verdict=\"%s\">\n"
            "<div class=\"verdict-label\">",
         vclass, vclass);
    put_texts(s, vlabel);
    puts_(s, "</div>\n<div class=\"verdict-body\"><p class=\"verdict-text\">");
    put_texts(s, vtext);
    puts_(s, "</p>\n");

    struct country *sorted = NULL;
    size_t ncs = h->ncountries;
    if (ncs > 0) {
        sorted = malloc(ncs * sizeof(*sorted));
        if (sorted != NULL) {
            memcpy(sorted, h->countries, ncs * sizeof(*sorted));
            qsort(sorted, ncs, sizeof(*sorted), cmp_country);
        } else {
            ncs = 0;
        }
    }
    if (ncs > 0) {
        puts_(s, "<p class=\"verdict-countries\">Keys issued in: ");
        for (size_t i = 0; i < ncs; i++) {
            const struct country *c = &sorted[i];
            char name[96];
            country_name(h, c->code, name, sizeof(name));
            putf(s, "<span class=\"chip %s\"><span class=\"code\">",
                 country_flagged(c) ? "v" : is_cc(c->code) ? "i" : "o");
            put_texts(s, c->code);
            puts_(s, "</span>");
            if (name[0] != '\0') {
                puts_(s, " ");
                put_texts(s, name);
            }
            puts_(s, "</span> ");
        }
        puts_(s, "</p>\n");
    }
    puts_(s, "</div>\n</section>\n");

    /* counts */
    char detail[160];
    puts_(s, "<section class=\"cards\" id=\"counts\">\n");
    if (have_sessions) {
        snprintf(detail, sizeof(detail), "%" PRIu64 " ok, %" PRIu64 " to review", h->s_ok,
                 h->s_review);
        write_card(s, h->s_violation > 0 ? "bad" : "", "sessions in violation", h->s_violation,
                   "");
        write_card(s, "", "sessions", h->count[T_SESSION], detail);
    }
    snprintf(detail, sizeof(detail), "%" PRIu64 " flagged", h->keys_flagged);
    if (!have_sessions) {
        write_card(s, h->keys_flagged > 0 ? "bad" : "", "flagged key records", h->keys_flagged,
                   "");
    }
    write_card(s, "", "key records", keys, have_sessions ? detail : "");
    size_t ncountry_codes = 0;
    for (size_t i = 0; i < h->ncountries; i++) {
        ncountry_codes += is_cc(h->countries[i].code) ? 1 : 0;
    }
    write_card(s, "", "issuer countries", ncountry_codes, "");
    write_card(s, "", "media flows", h->count[T_MEDIA], "");
    write_card(s, h->count[T_ANOMALY] > 0 ? "warn" : "", "anomalies", h->count[T_ANOMALY], "");
    puts_(s, "</section>\n");

    uint64_t dropped = 0;
    for (int t = 0; t < T_COUNT; t++) {
        dropped += h->dropped[t];
    }
    if (dropped > 0 || h->malformed > 0 || h->countries_full > 0) {
        puts_(s, "<p class=\"note warnnote\" id=\"dropped\">");
        if (dropped > 0) {
            putf(s, "This report keeps at most %d events (%d anomalies); %" PRIu64
                    " were left out of the tables:",
                 KP_HTML_MAX_EVENTS, KP_HTML_MAX_ANOMALIES, dropped);
            bool first = true;
            for (int t = 0; t < T_COUNT; t++) {
                if (h->dropped[t] > 0) {
                    putf(s, "%s %" PRIu64 " %s", first ? "" : ",", h->dropped[t], type_plural[t]);
                    first = false;
                }
            }
            puts_(s, ". The counts above include them. ");
        }
        if (h->malformed > 0) {
            putf(s, "%" PRIu64 " event%s could not be read and %s left out. ", h->malformed,
                 h->malformed == 1 ? "" : "s", h->malformed == 1 ? "was" : "were");
        }
        if (h->countries_full > 0) {
            putf(s, "%" PRIu64 " issuers are not in the country counts (too many countries).",
                 h->countries_full);
        }
        puts_(s, "</p>\n");
    }

    write_violations(s, h);

    /* map and countries */
    puts_(s, "<section class=\"panel\" id=\"geo\">\n<h2>Where the keys came from</h2>\n"
             "<div class=\"geo\">\n<figure class=\"map\">\n<div class=\"mapbox\">\n");
    if (h->map_ok) {
        write_map_svg(s, h);
    }
    if (!h->map_ok) {
        write_fallback_svg(s, h);
    }
    puts_(s, "<div class=\"maptip\" id=\"maptip\" hidden></div>\n</div>\n"
             "<figcaption class=\"legend\">"
             "<span><i class=\"sw v\"></i>key issuer in a flagged jurisdiction</span>"
             "<span><i class=\"sw i\"></i>key issuer, not flagged</span>");
    if (h->map_ok) {
        puts_(s, "<span><i class=\"sw o\"></i>no key issuer seen</span>"
                 "<span><i class=\"dot\"></i>issuer country too small to see at this "
                 "scale</span>");
    } else {
        puts_(s, "<span class=\"muted\">");
        put_texts(s, h->map_note);
        puts_(s, "</span>");
    }
    puts_(s, "</figcaption>\n</figure>\n");
    write_countries_table(s, h, sorted, ncs);
    puts_(s, "</div>\n</section>\n");
    free(sorted);

    /* the script's part */
    puts_(s, "<div id=\"kp-app\"></div>\n<noscript><p class=\"note\">The tables of sessions, "
             "key records, media flows and anomalies, with the evidence of each row, need "
             "JavaScript. Every event is also embedded in this file as JSON (the script "
             "element with id kp-events).</p></noscript>\n</main>\n");

    puts_(s, "<footer class=\"wrap foot\"><p>Generated by keyprov ");
    put_texts(s, kp_version());
    puts_(s, " from ");
    put_texts(s, ttl);
    puts_(s, ". This file is self-contained: it loads nothing from the network.");
    if (h->map_ok) {
        char *src = map_string(h->m_source);
        puts_(s, " Map: ");
        put_texts(s, src != NULL && src[0] != '\0'
                         ? src
                         : "Natural Earth (public domain) via world-atlas");
        puts_(s, ".");
        free(src);
    }
    puts_(s, " Geolocation: see the CREDITS file of the databases used.</p></footer>\n");

    write_events_json(s, h);
    puts_(s, "<script type=\"application/json\" id=\"kp-stats\">");
    if (stats.p != NULL) {
        put_script_json(s, stats.p, stats.n);
    } else {
        puts_(s, "null");
    }
    puts_(s, "</script>\n");
    write_countries_json(s, h);
    write_meta_json(s, h);
    puts_(s, "<script>\n");
    put_lines(s, html_js);
    puts_(s, "</script>\n</body>\n</html>\n");
}

/* ------------------------------------------------------ open / close */

struct kp_html *kp_html_open(const char *path, const char *map_path, char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "--html: no file name");
        return NULL;
    }
    struct kp_html *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "--html: out of memory");
        return NULL;
    }
    h->path = strdup(path);
    h->fp = fopen(path, "w");
    if (h->path == NULL || h->fp == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path,
                 h->path == NULL ? "out of memory" : strerror(errno));
        if (h->fp != NULL) {
            fclose(h->fp);
        }
        free(h->path);
        free(h);
        return NULL;
    }
    load_map(h, map_path);
    return h;
}

static void free_html(struct kp_html *h)
{
    for (int p = 0; p < P_COUNT; p++) {
        for (size_t i = 0; i < h->kept[p].n; i++) {
            free(h->kept[p].v[i].json);
        }
        free(h->kept[p].v);
    }
    free(h->stats_event);
    free(h->map);
    free(h->path);
    free(h);
}

int kp_html_close(struct kp_html *h, const char *title, const char *stats_json, char *err,
                  size_t errlen)
{
    if (h == NULL) {
        snprintf(err, errlen, "--html: no report");
        return -1;
    }
    struct sink s = {0};
    s.fp = h->fp;
    write_report(&s, h, title, stats_json);
    int saved = s.err;
    bool failed = s.failed;
    if (!failed && (fflush(h->fp) != 0 || ferror(h->fp))) {
        failed = true;
        saved = errno;
    }
    if (fclose(h->fp) != 0 && !failed) {
        failed = true;
        saved = errno;
    }
    int rc = 0;
    if (failed) {
        snprintf(err, errlen, "cannot write %s: %s", h->path,
                 saved != 0 ? strerror(saved) : "write error");
        rc = -1;
    }
    free_html(h);
    return rc;
}
