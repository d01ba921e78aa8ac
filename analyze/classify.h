/* Service classification from a rules file (data/services.rules). */
#ifndef KP_CLASSIFY_H
#define KP_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kp.h"

struct kp_rules;

/* Parse rules text (name is used in error messages).  On a bad line, returns
 * NULL and writes "NAME:LINE:COL: what is wrong" to err. */
struct kp_rules *kp_rules_parse(const char *text, size_t len, const char *name, char *err,
                                size_t errlen);
/* The rules compiled into the library (data/services.rules at build time). */
struct kp_rules *kp_rules_builtin(char *err, size_t errlen);
void kp_rules_free(struct kp_rules *r);

/* What matched. */
#define KP_MATCH_SNI 1u
#define KP_MATCH_CERT 2u
#define KP_MATCH_PREFIX 4u
#define KP_MATCH_ASN 8u

/* The service a server name belongs to, or NULL. name need not be
 * NUL-terminated; it is compared case-insensitively. */
const char *kp_rules_match_sni(const struct kp_rules *r, const char *name, size_t len);

/* The service of a certificate, from its subject CN, its DNS SANs (a list of
 * names separated by ',' or ' ') and its subject O; or NULL. */
const char *kp_rules_match_cert(const struct kp_rules *r, const char *cn, const char *sans,
                                const char *org);

/* The service named by STUN: a SOFTWARE substring, a REALM domain, or one
 * of the attribute types; NULL-terminated strings or NULL. */
const char *kp_rules_match_stun(const struct kp_rules *r, const char *software, const char *realm,
                                const uint16_t *attrs, size_t nattrs);

/* The service owning an address: by network prefix (then *how =
 * KP_MATCH_PREFIX) or else by ASN (KP_MATCH_ASN; asn 0 = unknown). */
const char *kp_rules_match_addr(const struct kp_rules *r, const struct kp_addr *a, uint32_t asn,
                                unsigned *how);

/* The service a well-known port belongs to (the weakest signal). */
const char *kp_rules_match_port(const struct kp_rules *r, bool udp, uint16_t port);

/* Whether the domain `name` is `suffix` or a subdomain of it (case-insensitive);
 * a leading "*." on name is ignored. */
bool kp_domain_match(const char *name, size_t len, const char *suffix);

#endif
