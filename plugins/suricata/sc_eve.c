/* EVE alerts and Community ID, see sc_eve.h. */
#include "sc_eve.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct sc_rule {
    uint32_t sid;
    int severity;         /* 1 most severe, as Suricata's priority */
    const char *category; /* a description from Suricata's classification.config */
};

/* Where keys come from is a privacy-policy matter (policy-violation); a key
 * written in clear is an information leak (successful-recon-limited). */
static const struct sc_rule sc_rules[] = {
    {KP_SC_SID_FLAGGED, 2, "Potential Corporate Privacy Violation"},
    {KP_SC_SID_JURISDICTION, 2, "Potential Corporate Privacy Violation"},
    {KP_SC_SID_ASN, 2, "Potential Corporate Privacy Violation"},
    {KP_SC_SID_OUTSIDE_ALLOW, 2, "Potential Corporate Privacy Violation"},
    {KP_SC_SID_SDES_EXPOSED, 1, "Information Leak"},
    {KP_SC_SID_SESSION, 2, "Potential Corporate Privacy Violation"},
};

static const struct sc_rule *rule_of(uint32_t sid)
{
    for (size_t i = 0; i < sizeof(sc_rules) / sizeof(sc_rules[0]); i++) {
        if (sc_rules[i].sid == sid) {
            return &sc_rules[i];
        }
    }
    return &sc_rules[0];
}

const char *kp_sc_alert_category(uint32_t sid) { return rule_of(sid)->category; }

int kp_sc_alert_severity(uint32_t sid) { return rule_of(sid)->severity; }

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static bool has_infix(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k > n) {
        return false;
    }
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

/* One clause, as analyze/policy.c (kp_policy_eval) and analyze/engine.c
 * (SDES exposure) word it. */
static uint32_t sid_of_clause(const char *s, size_t n)
{
    if (has_prefix(s, n, "SRTP key exposed")) {
        return KP_SC_SID_SDES_EXPOSED;
    }
    if (has_prefix(s, n, "issuer network AS")) {
        return KP_SC_SID_ASN;
    }
    if (has_prefix(s, n, "issuer country ")) {
        /* "... is outside allowed US,CA [for svc]", "unknown, [svc keys ]allowed only ..." */
        if (has_infix(s, n, " outside allowed ") || has_infix(s, n, "allowed only ")) {
            return KP_SC_SID_OUTSIDE_ALLOW;
        }
        /* "... is flagged", "... is in flagged group @CN" */
        if (has_infix(s, n, " flagged")) {
            return KP_SC_SID_JURISDICTION;
        }
    }
    return KP_SC_SID_FLAGGED;
}

static size_t push_sid(uint32_t *out, size_t n, size_t max, uint32_t sid)
{
    for (size_t i = 0; i < n; i++) {
        if (out[i] == sid) {
            return n;
        }
    }
    if (n < max) {
        out[n++] = sid;
    }
    return n;
}

size_t kp_sc_alert_sids(const char *mechanism, const char *reason, uint32_t *out, size_t max)
{
    size_t n = 0;
    if (max == 0) {
        return 0;
    }
    if (mechanism != NULL && strcmp(mechanism, "sdes-cleartext") == 0) {
        n = push_sid(out, n, max, KP_SC_SID_SDES_EXPOSED);
    }
    const char *s = reason != NULL ? reason : "";
    while (*s != '\0') {
        const char *sep = strstr(s, "; ");
        size_t len = sep != NULL ? (size_t)(sep - s) : strlen(s);
        uint32_t sid = sid_of_clause(s, len);
        /* an unrecognised clause beside recognised ones adds no alert */
        if (len > 0 && sid != KP_SC_SID_FLAGGED) {
            n = push_sid(out, n, max, sid);
        }
        s += len;
        while (*s == ';' || *s == ' ') {
            s++;
        }
    }
    if (n == 0) {
        n = push_sid(out, n, max, KP_SC_SID_FLAGGED);
    }
    return n;
}

static const char *or_unknown(const char *s) { return s != NULL && s[0] != '\0' ? s : "unknown"; }

size_t kp_sc_alert_signature(uint32_t sid, const char *country, int64_t asn, const char *service,
                             const char *mechanism, char *buf, size_t len)
{
    char what[96];
    switch (sid) {
    case KP_SC_SID_JURISDICTION:
        snprintf(what, sizeof(what), "key issued in flagged jurisdiction %.8s", or_unknown(country));
        break;
    case KP_SC_SID_ASN:
        snprintf(what, sizeof(what), "key issued from flagged network AS%" PRId64, asn);
        break;
    case KP_SC_SID_OUTSIDE_ALLOW:
        snprintf(what, sizeof(what), "key issued outside allowed jurisdictions: %.8s",
                 or_unknown(country));
        break;
    case KP_SC_SID_SDES_EXPOSED:
        snprintf(what, sizeof(what), "SRTP key exposed in cleartext SDP");
        break;
    case KP_SC_SID_SESSION:
        snprintf(what, sizeof(what), "session policy violation");
        break;
    default:
        snprintf(what, sizeof(what), "key flagged by policy");
        break;
    }
    int n = snprintf(buf, len, "KEYPROV %s (%s, %s)", what, or_unknown(service),
                     or_unknown(mechanism));
    return n > 0 ? (size_t)n : 0;
}

/* ------------------------------------------------------------ Community ID */

static bool parse_ip(const char *s, uint8_t out[16], size_t *n)
{
    if (s == NULL) {
        return false;
    }
    if (inet_pton(AF_INET, s, out) == 1) {
        *n = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *n = 16;
        return true;
    }
    return false;
}

bool kp_sc_community_id(uint16_t seed, const char *proto, const char *ip_a, int64_t port_a,
                        const char *ip_b, int64_t port_b, char *out, size_t len)
{
    if (out == NULL || len < 32) {
        return false;
    }
    out[0] = '\0';
    uint8_t ipnum;
    if (proto != NULL && strcasecmp(proto, "tcp") == 0) {
        ipnum = 6;
    } else if (proto != NULL && strcasecmp(proto, "udp") == 0) {
        ipnum = 17;
    } else {
        return false;
    }
    uint8_t a[16], b[16];
    size_t na, nb;
    if (!parse_ip(ip_a, a, &na) || !parse_ip(ip_b, b, &nb) || na != nb || port_a < 0 ||
        port_a > 65535 || port_b < 0 || port_b > 65535) {
        return false;
    }
    /* canonical order: the lower address first, the lower port on a tie,
     * so both directions of a flow hash alike */
    int c = memcmp(a, b, na);
    bool swap = c > 0 || (c == 0 && port_a > port_b);
    const uint8_t *x = swap ? b : a, *y = swap ? a : b;
    uint16_t px = (uint16_t)(swap ? port_b : port_a), py = (uint16_t)(swap ? port_a : port_b);

    /* seed (2, network order), src, dst, protocol, one zero byte of
     * padding, src port, dst port (2 each, network order) */
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t k = 0;
    buf[k++] = (uint8_t)(seed >> 8);
    buf[k++] = (uint8_t)seed;
    memcpy(buf + k, x, na);
    k += na;
    memcpy(buf + k, y, na);
    k += na;
    buf[k++] = ipnum;
    buf[k++] = 0;
    buf[k++] = (uint8_t)(px >> 8);
    buf[k++] = (uint8_t)px;
    buf[k++] = (uint8_t)(py >> 8);
    buf[k++] = (uint8_t)py;

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, k, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) {
        return false;
    }
    /* "1:" + base64 of 20 bytes (28 characters) + NUL = 31 */
    out[0] = '1';
    out[1] = ':';
    if (EVP_EncodeBlock((unsigned char *)out + 2, md, (int)mdlen) != 28) {
        out[0] = '\0';
        return false;
    }
    return true;
}
