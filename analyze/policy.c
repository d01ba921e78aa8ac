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

struct kp_policy {
    /* For a flagged country: the token that named it ("CN", "@CN"). */
    char flag_origin[NCC][ORIGIN_LEN];
    uint8_t allow[NCC];
    int has_allow;
    char allow_spec[256];
    uint32_t asns[MAX_ASNS];
    size_t nasns;
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
    return *out != NULL ? KP_OK : KP_ENOMEM;
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
typedef void (*cc_fn)(struct kp_policy *pol, int cc, const char *origin);

static int apply_token(struct kp_policy *pol, const char *tok, size_t n, const char *origin,
                       cc_fn fn, int depth, char *err, size_t errlen)
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
                int rc = apply_token(pol, m + s, i - s, origin, fn, depth + 1, err, errlen);
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
    fn(pol, cc, origin);
    return KP_OK;
}

static void set_flag(struct kp_policy *pol, int cc, const char *origin)
{
    if (pol->flag_origin[cc][0] == '\0') {
        snprintf(pol->flag_origin[cc], ORIGIN_LEN, "%s", origin);
    }
}

static void set_allow(struct kp_policy *pol, int cc, const char *origin)
{
    (void)origin;
    pol->allow[cc] = 1;
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

static int add_spec(struct kp_policy *pol, const char *spec, bool allow, char *err, size_t errlen)
{
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
        while (n > 0 && (*s == ' ')) {
            s++;
            n--;
        }
        while (n > 0 && s[n - 1] == ' ') {
            n--;
        }
        if (n == 0) {
            snprintf(err, errlen, "empty entry in '%s'", spec);
            return KP_EINVAL;
        }
        uint32_t asn;
        if (parse_asn(s, n, &asn)) {
            if (allow) {
                snprintf(err, errlen, "--allow takes countries and groups, not '%.*s'",
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
            int rc = apply_token(pol, s, n, origin, allow ? set_allow : set_flag, 0, err, errlen);
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
        size_t used = strlen(pol->allow_spec);
        snprintf(pol->allow_spec + used, sizeof(pol->allow_spec) - used, "%s%s",
                 used ? "," : "", spec);
        pol->has_allow = 1;
    }
    return ntok > 0 ? KP_OK : KP_EINVAL;
}

KP_API int kp_policy_flag(struct kp_policy *pol, const char *spec, char *err, size_t errlen)
{
    return add_spec(pol, spec, false, err, errlen);
}

KP_API int kp_policy_allow(struct kp_policy *pol, const char *spec, char *err, size_t errlen)
{
    return add_spec(pol, spec, true, err, errlen);
}

int kp_policy_eval(const struct kp_policy *pol, const char *country, uint32_t asn, bool local,
                   char *reason, size_t len)
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
    if (pol->has_allow && !local) {
        if (cc < 0) {
            snprintf(reason, len, "issuer country unknown, allowed only %s", pol->allow_spec);
            return 1;
        }
        if (!pol->allow[cc]) {
            snprintf(reason, len, "issuer country %s is outside allowed %s", country,
                     pol->allow_spec);
            return 1;
        }
    }
    return 0;
}
