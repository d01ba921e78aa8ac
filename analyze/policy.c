/* --flag / --allow policy, see keyprov.h and data/groups.txt. */
#include "policy.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char kp_builtin_groups[];
extern const size_t kp_builtin_groups_len;

#define NCC (26 * 26)
#define MAX_ASNS 1024
#define ORIGIN_LEN 24
#define MAX_GROUP_DEPTH 4

#define MAX_SERVICE_RULES 32

/* An allow-list: keys only from these countries. */
struct allow_list {
    uint8_t cc[NCC];
    int used;
    char service[24];   /* "" for the list that applies to every service */
    char spec[256];     /* as written, for reasons */
};

struct kp_policy {
    /* For a flagged country: the token that named it ("CN", "@CN"). */
    char flag_origin[NCC][ORIGIN_LEN];
    struct allow_list allow;                       /* --allow / "allow" */
    struct allow_list svc[MAX_SERVICE_RULES];      /* "service NAME allow ..." */
    size_t nsvc;
    uint32_t asns[MAX_ASNS];
    size_t nasns;
    enum kp_policy_action cleartext;  /* keys exposed in clear (SDES over plain SIP) */
    enum kp_policy_action unknown;    /* sessions whose key exchange is not visible */
    char source[64];                  /* where the rules came from, for reasons */
};

static int cc_index(const char *s, size_t n)
{
    if (n != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1])) {
        return -1;
    }
    return (toupper((unsigned char)s[0]) - 'A') * 26 + (toupper((unsigned char)s[1]) - 'A');
}

int kp_policy_new(struct kp_policy **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return KP_ENOMEM;
    }
    (*out)->cleartext = KP_POLICY_VIOLATION; /* RFC 4568 8.3: never acceptable */
    (*out)->unknown = KP_POLICY_REVIEW;
    return KP_OK;
}

void kp_policy_free(struct kp_policy *pol) { free(pol); }

/* Find the members of group `name` (with '@') in the groups text. */
static bool find_group(const char *name, size_t nlen, const char **members, size_t *mlen)
{
    const char *t = kp_builtin_groups;
    const char *end = t + kp_builtin_groups_len;
    while (t < end) {
        const char *eol = memchr(t, '\n', (size_t)(end - t));
        if (eol == NULL) {
            eol = end;
        }
        if (*t == '@') {
            const char *ne = t;
            while (ne < eol && *ne != ' ' && *ne != '\t') {
                ne++;
            }
            if ((size_t)(ne - t) == nlen && strncasecmp(t, name, nlen) == 0) {
                *members = ne;
                *mlen = (size_t)(eol - ne);
                return true;
            }
        }
        t = eol + 1;
    }
    return false;
}

/* Apply fn to every country a token names (expanding groups). */
typedef void (*cc_fn)(struct kp_policy *pol, struct allow_list *al, int cc, const char *origin);

static int apply_token(struct kp_policy *pol, struct allow_list *al, const char *tok, size_t n,
                       const char *origin, cc_fn fn, int depth, char *err, size_t errlen)
{
    if (n > 0 && tok[0] == '@') {
        const char *m;
        size_t ml;
        if (depth >= MAX_GROUP_DEPTH || !find_group(tok, n, &m, &ml)) {
            snprintf(err, errlen, "unknown group '%.*s' (see data/groups.txt: @CN, @EU, @EEA, @FVEY, @NATO, @RU)",
                     (int)(n > 40 ? 40 : n), tok);
            return KP_EINVAL;
        }
        size_t i = 0;
        while (i < ml) {
            while (i < ml && (m[i] == ' ' || m[i] == '\t' || m[i] == '\r')) {
                i++;
            }
            size_t s = i;
            while (i < ml && m[i] != ' ' && m[i] != '\t' && m[i] != '\r') {
                i++;
            }
            if (i > s) {
                int rc = apply_token(pol, al, m + s, i - s, origin, fn, depth + 1, err, errlen);
                if (rc != KP_OK) {
                    return rc;
                }
            }
        }
        return KP_OK;
    }
    int cc = cc_index(tok, n);
    if (cc < 0) {
        snprintf(err, errlen, "'%.*s' is not a two-letter country code, @GROUP or ASn",
                 (int)(n > 40 ? 40 : n), tok);
        return KP_EINVAL;
    }
    fn(pol, al, cc, origin);
    return KP_OK;
}

static void set_flag(struct kp_policy *pol, struct allow_list *al, int cc, const char *origin)
{
    (void)al;
    if (pol->flag_origin[cc][0] == '\0') {
        snprintf(pol->flag_origin[cc], ORIGIN_LEN, "%s", origin);
    }
}

static void set_allow(struct kp_policy *pol, struct allow_list *al, int cc, const char *origin)
{
    (void)pol;
    (void)origin;
    al->cc[cc] = 1;
}

static bool parse_asn(const char *tok, size_t n, uint32_t *asn)
{
    if (n < 3 || (tok[0] != 'A' && tok[0] != 'a') || (tok[1] != 'S' && tok[1] != 's')) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 2; i < n; i++) {
        if (!isdigit((unsigned char)tok[i]) || n - 2 > 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(tok[i] - '0');
    }
    if (v == 0 || v > UINT32_MAX) {
        return false;
    }
    *asn = (uint32_t)v;
    return true;
}

/* Add a comma- (or space-) separated list.  al == NULL: flag rules; else
 * countries and groups of an allow-list. */
static int add_spec(struct kp_policy *pol, const char *spec, struct allow_list *al, char *err,
                    size_t errlen)
{
    bool allow = al != NULL;
    if (pol == NULL || spec == NULL) {
        snprintf(err, errlen, "no policy");
        return KP_EINVAL;
    }
    const char *p = spec;
    int ntok = 0;
    for (;;) {
        const char *s = p;
        while (*p != '\0' && *p != ',') {
            p++;
        }
        size_t n = (size_t)(p - s);
        while (n > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
            n--;
        }
        if (n == 0) {
            snprintf(err, errlen, "empty entry in '%s'", spec);
            return KP_EINVAL;
        }
        uint32_t asn;
        if (parse_asn(s, n, &asn)) {
            if (allow) {
                snprintf(err, errlen, "allow takes countries and groups, not '%.*s'",
                         (int)(n > 40 ? 40 : n), s);
                return KP_EINVAL;
            }
            if (pol->nasns == MAX_ASNS) {
                snprintf(err, errlen, "more than %d ASNs", MAX_ASNS);
                return KP_EINVAL;
            }
            pol->asns[pol->nasns++] = asn;
        } else {
            char origin[ORIGIN_LEN];
            snprintf(origin, sizeof(origin), "%.*s", (int)n, s);
            for (char *o = origin; *o != '\0'; o++) {
                *o = (char)toupper((unsigned char)*o);
            }
            int rc = apply_token(pol, al, s, n, origin, allow ? set_allow : set_flag, 0, err, errlen);
            if (rc != KP_OK) {
                return rc;
            }
        }
        ntok++;
        if (*p == '\0') {
            break;
        }
        p++;
    }
    if (allow) {
        size_t used = strlen(al->spec);
        snprintf(al->spec + used, sizeof(al->spec) - used, "%s%s", used ? "," : "", spec);
        al->used = 1;
    }
    return ntok > 0 ? KP_OK : KP_EINVAL;
}

KP_API int kp_policy_flag(struct kp_policy *pol, const char *spec, char *err, size_t errlen)
{
    return add_spec(pol, spec, NULL, err, errlen);
}

KP_API int kp_policy_allow(struct kp_policy *pol, const char *spec, char *err, size_t errlen)
{
    if (pol == NULL) {
        snprintf(err, errlen, "no policy");
        return KP_EINVAL;
    }
    return add_spec(pol, spec, &pol->allow, err, errlen);
}

static const struct allow_list *allow_for(const struct kp_policy *pol, const char *service)
{
    for (size_t i = 0; service != NULL && i < pol->nsvc; i++) {
        if (strcmp(pol->svc[i].service, service) == 0) {
            return &pol->svc[i];
        }
    }
    return pol->allow.used ? &pol->allow : NULL;
}

int kp_policy_eval(const struct kp_policy *pol, const char *service, const char *country,
                   uint32_t asn, bool local, char *reason, size_t len)
{
    if (pol == NULL) {
        return 0;
    }
    int cc = cc_index(country, strlen(country));
    if (cc >= 0 && pol->flag_origin[cc][0] != '\0') {
        if (pol->flag_origin[cc][0] == '@') {
            snprintf(reason, len, "issuer country %s is in flagged group %s", country,
                     pol->flag_origin[cc]);
        } else {
            snprintf(reason, len, "issuer country %s is flagged", country);
        }
        return 1;
    }
    for (size_t i = 0; i < pol->nasns; i++) {
        if (asn != 0 && pol->asns[i] == asn) {
            snprintf(reason, len, "issuer network AS%u is flagged", asn);
            return 1;
        }
    }
    const struct allow_list *al = allow_for(pol, service);
    if (al != NULL && !local) {
        const char *who = al->service[0] != '\0' ? al->service : NULL;
        if (cc < 0) {
            snprintf(reason, len, "issuer country unknown, %s%sallowed only %s", who ? who : "",
                     who ? " keys " : "", al->spec);
            return 1;
        }
        if (!al->cc[cc]) {
            if (who != NULL) {
                snprintf(reason, len, "issuer country %s is outside allowed %s for %s", country,
                         al->spec, who);
            } else {
                snprintf(reason, len, "issuer country %s is outside allowed %s", country, al->spec);
            }
            return 1;
        }
    }
    return 0;
}

enum kp_policy_action kp_policy_cleartext(const struct kp_policy *pol)
{
    return pol != NULL ? pol->cleartext : KP_POLICY_VIOLATION;
}

enum kp_policy_action kp_policy_unknown(const struct kp_policy *pol)
{
    return pol != NULL ? pol->unknown : KP_POLICY_REVIEW;
}

/* ------------------------------------------------------------ policy file */

/* The next whitespace-separated word of a line; *col is its 1-based column. */
static bool next_word(const char **p, const char *end, const char **w, size_t *n)
{
    const char *q = *p;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\r')) {
        q++;
    }
    if (q >= end || *q == '#') {
        *p = q;
        return false;
    }
    *w = q;
    while (q < end && *q != ' ' && *q != '\t' && *q != '\r' && *q != '#') {
        q++;
    }
    *n = (size_t)(q - *w);
    *p = q;
    return true;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(w, lit, n) == 0;
}

static int parse_action(const char *w, size_t n, enum kp_policy_action *a)
{
    if (word_is(w, n, "violation")) {
        *a = KP_POLICY_VIOLATION;
    } else if (word_is(w, n, "review")) {
        *a = KP_POLICY_REVIEW;
    } else if (word_is(w, n, "allow") || word_is(w, n, "ignore")) {
        *a = KP_POLICY_ALLOW;
    } else {
        return -1;
    }
    return 0;
}

/* The rest of the line (up to a comment), as one list "A,B C" → "A,B,C". */
static void rest_as_list(const char *p, const char *end, char *out, size_t cap)
{
    size_t o = 0;
    bool sep = false;
    while (p < end && *p != '#' && o + 2 < cap) {
        char c = *p++;
        if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
            sep = o > 0;
            continue;
        }
        if (sep) {
            out[o++] = ',';
            sep = false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

KP_API int kp_policy_load(struct kp_policy *pol, const char *path, char *err, size_t errlen)
{
    if (pol == NULL || path == NULL) {
        snprintf(err, errlen, "no policy or path");
        return KP_EINVAL;
    }
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open policy file", path);
        return KP_EIO;
    }
    char line[1024];
    int lineno = 0, rc = KP_OK;
    snprintf(pol->source, sizeof(pol->source), "%s", path);
    while (fgets(line, sizeof(line), fp) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%d:1: line longer than %zu characters", path, lineno,
                     sizeof(line) - 2);
            rc = KP_EFORMAT;
            break;
        }
        const char *p = line, *end = line + len, *w;
        size_t n;
        while (end > line && (end[-1] == '\n' || end[-1] == '\r')) {
            end--;
        }
        if (!next_word(&p, end, &w, &n)) {
            continue;
        }
        int col = (int)(w - line) + 1;
        char list[512], e2[256];
        if (word_is(w, n, "flag") || word_is(w, n, "allow")) {
            bool allow = word_is(w, n, "allow");
            const char *after = p;
            rest_as_list(after, end, list, sizeof(list));
            if (list[0] == '\0') {
                snprintf(err, errlen, "%s:%d:%d: '%.*s' needs a list of countries, @GROUPs%s",
                         path, lineno, (int)(p - line) + 1, (int)n, w, allow ? "" : " or ASns");
                rc = KP_EFORMAT;
                break;
            }
            if (add_spec(pol, list, allow ? &pol->allow : NULL, e2, sizeof(e2)) != KP_OK) {
                const char *q = after;
                while (q < end && (*q == ' ' || *q == '\t')) {
                    q++;
                }
                snprintf(err, errlen, "%s:%d:%d: %s", path, lineno, (int)(q - line) + 1, e2);
                rc = KP_EFORMAT;
                break;
            }
        } else if (word_is(w, n, "service")) {
            const char *sv, *kw;
            size_t svn, kwn;
            if (!next_word(&p, end, &sv, &svn) || svn >= sizeof(pol->svc[0].service)) {
                snprintf(err, errlen, "%s:%d:%d: expected 'service NAME allow LIST'", path, lineno,
                         (int)(p - line) + 1);
                rc = KP_EFORMAT;
                break;
            }
            bool got = next_word(&p, end, &kw, &kwn);
            if (!got || !word_is(kw, kwn, "allow")) {
                snprintf(err, errlen, "%s:%d:%d: expected 'allow' after the service name", path,
                         lineno, (int)((got ? kw : p) - line) + 1);
                rc = KP_EFORMAT;
                break;
            }
            struct allow_list *al = NULL;
            for (size_t i = 0; i < pol->nsvc; i++) {
                if (strlen(pol->svc[i].service) == svn &&
                    strncmp(pol->svc[i].service, sv, svn) == 0) {
                    al = &pol->svc[i];
                }
            }
            if (al == NULL) {
                if (pol->nsvc == MAX_SERVICE_RULES) {
                    snprintf(err, errlen, "%s:%d:%d: more than %d service rules", path, lineno,
                             col, MAX_SERVICE_RULES);
                    rc = KP_EFORMAT;
                    break;
                }
                al = &pol->svc[pol->nsvc++];
                memcpy(al->service, sv, svn);
                al->service[svn] = '\0';
            }
            const char *after = p;
            rest_as_list(after, end, list, sizeof(list));
            if (list[0] == '\0' || add_spec(pol, list, al, e2, sizeof(e2)) != KP_OK) {
                while (after < end && (*after == ' ' || *after == '\t')) {
                    after++;
                }
                snprintf(err, errlen, "%s:%d:%d: %s", path, lineno, (int)(after - line) + 1,
                         list[0] == '\0' ? "'allow' needs a list of countries or @GROUPs" : e2);
                rc = KP_EFORMAT;
                break;
            }
        } else if (word_is(w, n, "cleartext-keys") || word_is(w, n, "unknown-keys")) {
            const char *a;
            size_t an;
            enum kp_policy_action act;
            bool clear = word_is(w, n, "cleartext-keys");
            bool got = next_word(&p, end, &a, &an);
            if (!got || parse_action(a, an, &act) != 0) {
                snprintf(err, errlen, "%s:%d:%d: '%.*s' takes violation, review or allow", path,
                         lineno, (int)((got ? a : p) - line) + 1, (int)n, w);
                rc = KP_EFORMAT;
                break;
            }
            if (clear) {
                pol->cleartext = act;
            } else {
                pol->unknown = act;
            }
            if (next_word(&p, end, &a, &an)) {
                snprintf(err, errlen, "%s:%d:%d: unexpected '%.*s'", path, lineno,
                         (int)(a - line) + 1, (int)(an > 40 ? 40 : an), a);
                rc = KP_EFORMAT;
                break;
            }
        } else {
            snprintf(err, errlen,
                     "%s:%d:%d: unknown rule '%.*s' (flag, allow, service, cleartext-keys, unknown-keys)",
                     path, lineno, col, (int)(n > 40 ? 40 : n), w);
            rc = KP_EFORMAT;
            break;
        }
    }
    if (rc == KP_OK && ferror(fp)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = KP_EIO;
    }
    fclose(fp);
    return rc;
}
