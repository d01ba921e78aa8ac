/* Data-driven service classification, see classify.h and data/services.rules. */
#include "classify.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char kp_builtin_services_rules[];
extern const size_t kp_builtin_services_rules_len;

enum rule_kind {
    RULE_SNI,
    RULE_CERT,
    RULE_CERT_ORG,
    RULE_STUN_SOFTWARE, /* substring of the STUN SOFTWARE attribute */
    RULE_STUN_REALM,    /* domain match on the STUN REALM attribute */
    RULE_STUN_ATTR,     /* a STUN attribute type (vendor attributes) */
    RULE_PREFIX,        /* an IPv4 or IPv6 network */
    RULE_ASN,           /* an autonomous system number */
    RULE_UDP_PORT,      /* a UDP port range (weakest signal) */
    RULE_TCP_PORT
};

static const struct {
    const char *name;
    enum rule_kind kind;
} kinds[] = {
    {"sni", RULE_SNI},
    {"cert", RULE_CERT},
    {"cert-org", RULE_CERT_ORG},
    {"stun-software", RULE_STUN_SOFTWARE},
    {"stun-realm", RULE_STUN_REALM},
    {"stun-attr", RULE_STUN_ATTR},
    {"prefix", RULE_PREFIX},
    {"asn", RULE_ASN},
    {"udp-port", RULE_UDP_PORT},
    {"tcp-port", RULE_TCP_PORT},
};

#define MAX_RULES 4096
#define MAX_TOKEN 128

struct rule {
    enum rule_kind kind;
    char service[24];
    char value[MAX_TOKEN];
    struct kp_addr net;   /* RULE_PREFIX: network, IPv4 stored IPv4-mapped */
    uint8_t bits;         /* RULE_PREFIX: prefix length over the 128-bit form */
    uint32_t lo, hi;      /* RULE_ASN, RULE_*_PORT, RULE_STUN_ATTR: a range */
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

/* "N" or "N-M", decimal or 0x hex, each at most max. */
static bool parse_range(const char *v, uint32_t max, uint32_t *lo, uint32_t *hi)
{
    char *end;
    errno = 0;
    unsigned long a = strtoul(v, &end, 0);
    unsigned long b = a;
    if (end == v || errno != 0 || v[0] == '-') {
        return false;
    }
    if (*end == '-') {
        const char *v2 = end + 1;
        b = strtoul(v2, &end, 0);
        if (end == v2 || errno != 0 || v2[0] == '-') {
            return false;
        }
    }
    if (*end != '\0' || a > max || b > max || a > b) {
        return false;
    }
    *lo = (uint32_t)a;
    *hi = (uint32_t)b;
    return true;
}

static bool parse_prefix(struct rule *r, const char *v)
{
    char addr[64];
    const char *slash = strchr(v, '/');
    size_t n = slash != NULL ? (size_t)(slash - v) : strlen(v);
    if (n == 0 || n >= sizeof(addr)) {
        return false;
    }
    memcpy(addr, v, n);
    addr[n] = '\0';
    uint32_t bits, unused;
    memset(&r->net, 0, sizeof(r->net));
    uint8_t b4[4];
    if (inet_pton(AF_INET, addr, b4) == 1) {
        if (!parse_range(slash != NULL ? slash + 1 : "32", 32, &bits, &unused)) {
            return false;
        }
        r->net.b[10] = r->net.b[11] = 0xff;
        memcpy(r->net.b + 12, b4, 4);
        bits += 96;
    } else if (inet_pton(AF_INET6, addr, r->net.b) == 1) {
        if (!parse_range(slash != NULL ? slash + 1 : "128", 128, &bits, &unused)) {
            return false;
        }
    } else {
        return false;
    }
    r->bits = (uint8_t)bits;
    return true;
}

static bool parse_value(struct rule *r, const char *v)
{
    switch (r->kind) {
    case RULE_PREFIX:
        return parse_prefix(r, v);
    case RULE_ASN:
        return parse_range(v, UINT32_MAX, &r->lo, &r->hi) && r->lo > 0;
    case RULE_UDP_PORT:
    case RULE_TCP_PORT:
    case RULE_STUN_ATTR:
        return parse_range(v, 0xffff, &r->lo, &r->hi);
    default:
        strcpy(r->value, v);
        return true;
    }
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
            size_t k = 0;
            while (k < sizeof(kinds) / sizeof(kinds[0]) && strcmp(tok[1], kinds[k].name) != 0) {
                k++;
            }
            if (k == sizeof(kinds) / sizeof(kinds[0])) {
                snprintf(err, errlen,
                         "%s:%zu:%zu: unknown rule kind '%s' (sni, cert, cert-org, stun-software, "
                         "stun-realm, stun-attr, prefix, asn, udp-port, tcp-port)",
                         name, line, col[1], tok[1]);
                goto fail;
            }
            r->kind = kinds[k].kind;
            if (!parse_value(r, tok[2])) {
                snprintf(err, errlen, "%s:%zu:%zu: bad %s value '%s'", name, line, col[2], tok[1],
                         tok[2]);
                goto fail;
            }
            strcpy(r->service, tok[0]);
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

const char *kp_rules_match_stun(const struct kp_rules *r, const char *software, const char *realm,
                                const uint16_t *attrs, size_t nattrs)
{
    if (r == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *x = &r->r[i];
        if (x->kind == RULE_STUN_SOFTWARE && software != NULL && ci_contains(software, x->value)) {
            return x->service;
        }
        if (x->kind == RULE_STUN_REALM && realm != NULL &&
            kp_domain_match(realm, strlen(realm), x->value)) {
            return x->service;
        }
        if (x->kind == RULE_STUN_ATTR) {
            for (size_t j = 0; j < nattrs; j++) {
                if (attrs[j] >= x->lo && attrs[j] <= x->hi) {
                    return x->service;
                }
            }
        }
    }
    return NULL;
}

static bool in_prefix(const struct kp_addr *a, const struct rule *x)
{
    size_t full = x->bits / 8;
    if (memcmp(a->b, x->net.b, full) != 0) {
        return false;
    }
    unsigned rest = x->bits % 8;
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->b[full] & mask) == (x->net.b[full] & mask);
}

const char *kp_rules_match_addr(const struct kp_rules *r, const struct kp_addr *a, uint32_t asn,
                                unsigned *how)
{
    if (r == NULL) {
        return NULL;
    }
    /* Address prefixes are stronger than ASNs (an ASN such as Amazon's
     * hosts many services), so they are tried first over the whole list. */
    for (size_t i = 0; i < r->n; i++) {
        if (r->r[i].kind == RULE_PREFIX && in_prefix(a, &r->r[i])) {
            *how = KP_MATCH_PREFIX;
            return r->r[i].service;
        }
    }
    for (size_t i = 0; i < r->n && asn != 0; i++) {
        if (r->r[i].kind == RULE_ASN && asn >= r->r[i].lo && asn <= r->r[i].hi) {
            *how = KP_MATCH_ASN;
            return r->r[i].service;
        }
    }
    return NULL;
}

const char *kp_rules_match_port(const struct kp_rules *r, bool udp, uint16_t port)
{
    if (r == NULL) {
        return NULL;
    }
    enum rule_kind k = udp ? RULE_UDP_PORT : RULE_TCP_PORT;
    for (size_t i = 0; i < r->n; i++) {
        if (r->r[i].kind == k && port >= r->r[i].lo && port <= r->r[i].hi) {
            return r->r[i].service;
        }
    }
    return NULL;
}
