/* Policy: which key issuers are flagged (internal side of kp_policy_*). */
#ifndef KP_POLICY_H
#define KP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyprov.h"

/* Evaluate an issuer of a key of `service`: returns 1 and writes the rule
 * that fired to reason when it is flagged, else 0.  country is "" when
 * unknown, asn 0.  local: the issuer has a private/special-purpose address
 * (inside the network being watched), which an allow-list does not flag for
 * lacking a country.  A "service NAME allow" list replaces the general
 * allow-list for that service. */
int kp_policy_eval(const struct kp_policy *pol, const char *service, const char *country,
                   uint32_t asn, bool local, char *reason, size_t len);

/* What to make of keys exposed in clear, and of sessions whose key exchange
 * is not visible (NULL policy: violation, review). */
enum kp_policy_action kp_policy_cleartext(const struct kp_policy *pol);
enum kp_policy_action kp_policy_unknown(const struct kp_policy *pol);

#endif
