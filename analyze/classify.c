/* Data-driven service classification, see classify.h and data/services.rules. */
#include "classify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char kp_builtin_services_rules[];
extern const size_t kp_builtin_services_rules_len;

enum rule_kind { RULE_SNI, RULE_CERT, RULE_CERT_ORG };

#define MAX_RULES 4096
#define MAX_TOKEN 128

struct rule {
    enum rule_kind kind;
    char service[24];
    char value[MAX_TOKEN];
};

struct kp_rules {
    size_t n;
    struct rule r[];
};

bool kp_domain_match(const char *name, size_t len, const char *suffix)
{
    if (len >= 2 && name[0] == '*' && name[1] == '.') {
        name += 2;
        len -= 2;
    }
    size_t sl = strlen(suffix);
    if (sl == 0 || len < sl) {
        return false;
    }
    if (strncasecmp(name + (len - sl), suffix, sl) != 0) {
        return false;
    }
    /* RFC 1034 3.1: only whole labels match ("notzoom.us" is not zoom.us). */
    return len == sl || name[len - sl - 1] == '.';
}

static bool valid_service(const char *s)
{
    for (; *s != '\0'; s++) {
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-')) {
            return false;
        }
    }
    return true;
}

struct kp_rules *kp_rules_parse(const char *text, size_t len, const char *name, char *err,
                                size_t errlen)
{
    size_t cap = 0;
    for (size_t i = 0; i < len; i++) {
        cap += text[i] == '\n';
    }
    cap++;
    if (cap > MAX_RULES) {
        snprintf(err, errlen, "%s: more than %d lines", name, MAX_RULES);
        return NULL;
    }
    struct kp_rules *rs = calloc(1, sizeof(*rs) + cap * sizeof(struct rule));
    if (rs == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    size_t line = 0, pos = 0;
    while (pos < len) {
        line++;
        size_t end = pos;
        while (end < len && text[end] != '\n') {
            end++;
        }
        /* tokenise [pos, end) */
        char tok[3][MAX_TOKEN + 1];
        size_t col[3] = {0, 0, 0};
        int nt = 0;
        size_t i = pos;
        while (i < end) {
            while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) {
                i++;
            }
            if (i >= end || text[i] == '#') {
                break;
            }
            size_t ts = i;
            if (nt == 2) {
                /* the value is the rest of the line (cert-org values have spaces) */
                size_t te = ts;
                while (te < end && !(text[te] == '#' && (text[te - 1] == ' ' || text[te - 1] == '\t'))) {
                    te++;
                }
                while (te > ts && (text[te - 1] == ' ' || text[te - 1] == '\t' ||
                                   text[te - 1] == '\r')) {
                    te--;
                }
                i = te;
            } else {
                while (i < end && text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
                    i++;
                }
            }
            if (i - ts > MAX_TOKEN) {
                snprintf(err, errlen, "%s:%zu:%zu: token longer than %d characters", name, line,
                         ts - pos + 1, MAX_TOKEN);
                goto fail;
            }
            memcpy(tok[nt], text + ts, i - ts);
            tok[nt][i - ts] = '\0';
            col[nt] = ts - pos + 1;
            nt++;
            if (nt == 3) {
                break;
            }
        }
        if (nt != 0) {
            if (nt < 3) {
                snprintf(err, errlen, "%s:%zu:%zu: expected SERVICE KIND VALUE", name, line,
                         nt == 0 ? (size_t)1 : col[nt - 1]);
                goto fail;
            }
            struct rule *r = &rs->r[rs->n];
            if (strlen(tok[0]) >= sizeof(r->service) || !valid_service(tok[0])) {
                snprintf(err, errlen, "%s:%zu:%zu: bad service name '%s' (lower-case letters, digits, '-')",
                         name, line, col[0], tok[0]);
                goto fail;
            }
            if (strcmp(tok[1], "sni") == 0) {
                r->kind = RULE_SNI;
            } else if (strcmp(tok[1], "cert") == 0) {
                r->kind = RULE_CERT;
            } else if (strcmp(tok[1], "cert-org") == 0) {
                r->kind = RULE_CERT_ORG;
            } else {
                snprintf(err, errlen, "%s:%zu:%zu: unknown rule kind '%s' (sni, cert, cert-org)",
                         name, line, col[1], tok[1]);
                goto fail;
            }
            strcpy(r->service, tok[0]);
            strcpy(r->value, tok[2]);
            rs->n++;
        }
        pos = end + 1;
    }
    return rs;
fail:
    free(rs);
    return NULL;
}

struct kp_rules *kp_rules_builtin(char *err, size_t errlen)
{
    return kp_rules_parse(kp_builtin_services_rules, kp_builtin_services_rules_len,
                          "built-in services.rules", err, errlen);
}

void kp_rules_free(struct kp_rules *r) { free(r); }

const char *kp_rules_match_sni(const struct kp_rules *r, const char *name, size_t len)
{
    if (r == NULL || name == NULL || len == 0) {
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->r[i].kind == RULE_SNI && kp_domain_match(name, len, r->r[i].value)) {
            return r->r[i].service;
        }
    }
    return NULL;
}

static bool ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static bool sans_match(const char *sans, const char *suffix)
{
    const char *p = sans;
    while (*p != '\0') {
        while (*p == ',' || *p == ' ') {
            p++;
        }
        const char *s = p;
        while (*p != '\0' && *p != ',' && *p != ' ') {
            p++;
        }
        if (p > s && kp_domain_match(s, (size_t)(p - s), suffix)) {
            return true;
        }
    }
    return false;
}

const char *kp_rules_match_cert(const struct kp_rules *r, const char *cn, const char *sans,
                                const char *org)
{
    if (r == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *x = &r->r[i];
        if (x->kind == RULE_CERT) {
            if ((cn != NULL && kp_domain_match(cn, strlen(cn), x->value)) ||
                (sans != NULL && sans_match(sans, x->value))) {
                return x->service;
            }
        } else if (x->kind == RULE_CERT_ORG) {
            if (org != NULL && ci_contains(org, x->value)) {
                return x->service;
            }
        }
    }
    return NULL;
}
