/* sc_eve.h: the parts of the plugin's EVE lines that need no Suricata
 * header, unit-tested without Suricata (tests/plugins/suricata_eve_test.c):
 * which alerts a flagged key record raises and what they say, and the
 * Community ID of a flow.
 *
 * The signature ids, texts, categories and severities are the ones of
 * keyprov's own EVE output (`keyprov --eve`, docs/events.md "Suricata EVE
 * output"), so a SIEM rule written for one matches the other:
 *
 *   9810001  issuer country flagged (--flag CN, @GROUP)
 *   9810002  issuer network flagged (--flag AS55960)
 *   9810003  issuer country outside the allow list (or unknown)
 *   9810004  SDES key sent in cleartext SDP (mechanism sdes-cleartext)
 *   9810005  reserved: session-level violation
 *   9810000  flagged, reason not recognised (a rule added later)
 */
#ifndef KP_SC_EVE_H
#define KP_SC_EVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kp_sc_sid {
    KP_SC_SID_FLAGGED = 9810000,
    KP_SC_SID_JURISDICTION = 9810001,
    KP_SC_SID_ASN = 9810002,
    KP_SC_SID_OUTSIDE_ALLOW = 9810003,
    KP_SC_SID_SDES_EXPOSED = 9810004,
    KP_SC_SID_SESSION = 9810005
};

/* The rules behind a flagged record, from its mechanism and its reason (the
 * "; "-separated clauses that analyze/policy.c and analyze/engine.c write):
 * writes up to max distinct sids to out, clause order, and returns how many.
 * Mechanism "sdes-cleartext" always yields KP_SC_SID_SDES_EXPOSED first; a
 * record whose clauses are all unrecognised yields KP_SC_SID_FLAGGED.
 * Either string may be NULL; max 0 returns 0. */
size_t kp_sc_alert_sids(const char *mechanism, const char *reason, uint32_t *out, size_t max);

/* Suricata's classification.config description for sid ("Potential
 * Corporate Privacy Violation", "Information Leak") and its severity
 * (1 most severe).  An unknown sid gets KP_SC_SID_FLAGGED's. */
const char *kp_sc_alert_category(uint32_t sid);
int kp_sc_alert_severity(uint32_t sid);

/* The signature text, e.g. "KEYPROV key issued in flagged jurisdiction CN
 * (zoom, tls-control-channel)", into buf (snprintf-like: returns the length
 * the whole text needs, writes at most len-1 bytes and a NUL when len > 0).
 * country, service and mechanism may be NULL or "" ("unknown"); asn is
 * used by KP_SC_SID_ASN only.  The text is not JSON-escaped. */
size_t kp_sc_alert_signature(uint32_t sid, const char *country, int64_t asn, const char *service,
                             const char *mechanism, char *buf, size_t len);

/* The Community ID (version 1) of a flow, the value Suricata writes as
 * "community_id" when its eve-log has `community-id: yes` (with the same
 * `community-id-seed`), and Zeek's: "1:" and the base64 of the SHA-1 of
 * seed, addresses, protocol and ports in canonical order (Corelight's
 * community-id-spec).  proto is "tcp" or "udp" (case-insensitive); the
 * addresses are IPv4 or IPv6 text, both of the same family.  Writes the
 * NUL-terminated text (at most 31 bytes) to out and returns true, or returns
 * false (out = "") for an unknown protocol, a bad address, mixed families
 * or len < 32. */
bool kp_sc_community_id(uint16_t seed, const char *proto, const char *ip_a, int64_t port_a,
                        const char *ip_b, int64_t port_b, char *out, size_t len);

#endif
