/* eve.h: Suricata-EVE-compatible output for the keyprov command (--eve FILE).
 *
 * Every event the engine hands the command is written as one EVE JSON line
 * (Suricata's "eve.json" format, docs/events.md "Suricata EVE output"), so a
 * SIEM pipeline that already ingests Suricata takes keyprov's events
 * unchanged:
 *
 *   key record       event_type "keyprov", plus one event_type "alert" line
 *                    per policy rule that fired when the record is flagged
 *   media flow       event_type "keyprov"
 *   anomaly          event_type "anomaly" with Suricata's anomaly object
 *   any other type   event_type "keyprov" (e.g. sessions)
 *
 * Every line has Suricata's common fields (timestamp, flow_id, src_ip,
 * src_port, dest_ip, dest_port, proto, community_id, app_proto) and a
 * "keyprov" object that is the event's kp_event_json() object, unchanged.
 * Links with OpenSSL's libcrypto (SHA-1 for community_id).
 *
 * This module uses only the public API (keyprov.h).  It is not thread-safe:
 * one struct kp_eve per engine callback.
 */
#ifndef KP_CLI_EVE_H
#define KP_CLI_EVE_H

#include <stddef.h>
#include <stdint.h>

#include "keyprov.h"

struct kp_eve;

/* Open the EVE output now.  path "-" is standard output; any other path is
 * created (mode 0640 before umask) or appended to, as Suricata appends to
 * eve.json, so a shipper tailing the file never sees it truncated.  Each
 * line reaches the file with one write(2) as soon as the event arrives (a
 * SIEM sees live alerts at once; concurrent appenders never interleave
 * within a line).  On failure returns NULL and writes a one-line message
 * naming the file to err. */
struct kp_eve *kp_eve_open(const char *path, char *err, size_t errlen);

/* Write the EVE line(s) for one event; call it from the engine callback for
 * every event.  Never fails loudly: the first write or allocation error is
 * remembered, later events are dropped, and kp_eve_close() reports it.
 * e == NULL is a no-op. */
void kp_eve_event(struct kp_eve *e, const struct kp_event *ev);

/* Nonzero once a line could not be written (the error kp_eve_close() will
 * report): a live capture can stop instead of analysing for nothing.
 * NULL: 0. */
int kp_eve_failed(const struct kp_eve *e);

/* Close (standard output is flushed, not closed) and free.  Returns 0, or
 * -1 with a one-line message naming the file in err when any line could not
 * be written (disk full, EPIPE, ...) or memory ran out.  NULL is a no-op
 * returning 0. */
int kp_eve_close(struct kp_eve *e, char *err, size_t errlen);

/* -------------------------------------------------------------------
 * Building blocks, exposed for the tests (tests/eve/). */

/* Signature ids of keyprov's alerts (gid 1), a private range kept clear of
 * Emerging Threats and Suricata's own rules. */
enum kp_eve_sid {
    KP_EVE_SID_FLAGGED = 9810000,      /* flagged, reason not recognised */
    KP_EVE_SID_JURISDICTION = 9810001, /* issuer country flagged (--flag CN, @GROUP) */
    KP_EVE_SID_ASN = 9810002,          /* issuer AS flagged (--flag AS55960) */
    KP_EVE_SID_OUTSIDE_ALLOW = 9810003, /* issuer country outside --allow (or unknown) */
    KP_EVE_SID_SDES_EXPOSED = 9810004, /* SDES key sent in cleartext SDP */
    KP_EVE_SID_SESSION = 9810005       /* session policy violation (reserved) */
};

/* The rules that fired for a flagged record, from its reason text (the
 * "; "-separated clauses of KP_F_REASON) and mechanism: writes up to max
 * distinct sids to out, in the order of the clauses, and returns how many.
 * A flagged record always yields at least one (KP_EVE_SID_FLAGGED when no
 * clause is recognised); mechanism "sdes-cleartext" always yields
 * KP_EVE_SID_SDES_EXPOSED.  Either string may be NULL. */
size_t kp_eve_classify(const char *mechanism, const char *reason, uint32_t *out, size_t max);

/* JSON-escape n bytes of s (RFC 8259 7, without the surrounding quotes) into
 * out, snprintf-like: returns the length the full text needs (excluding the
 * NUL) and writes at most outlen-1 bytes plus a NUL when outlen > 0.
 * Control bytes, '"' and '\' are escaped; bytes that are not well-formed
 * UTF-8 (RFC 3629: overlong forms, surrogates, > U+10FFFF, truncated
 * sequences) become \ufffd, one per maximal ill-formed subpart; U+2028 and
 * U+2029 are escaped too, so a line is also valid JavaScript. */
size_t kp_eve_escape(char *out, size_t outlen, const char *s, size_t n);

/* The EVE flow_id for a 5-tuple: a positive integer below 2^53 (exact in
 * any JSON parser), the same for both directions, so an alert, a keyprov
 * record and an anomaly of one flow share it.  proto is "tcp" or "udp"
 * (case-insensitive). */
uint64_t kp_eve_flow_id(const char *proto, const char *ip_a, int64_t port_a, const char *ip_b,
                        int64_t port_b);

/* The Community ID (v1, seed 0) of a TCP or UDP 5-tuple, as Suricata's
 * "community_id" (eve-log community-id: yes) and Zeek's community-id
 * package write it, e.g. "1:LQU9qZlK+B5F3KDmev6m5PMibrg=": the same for
 * both directions and across tools, so a SIEM joins keyprov's lines with
 * Suricata's and Zeek's for the same flow.  Writes it (NUL-terminated, 30
 * characters) to out (outlen >= 32) and returns 0; -1 for another protocol
 * or an unparsable address. */
int kp_eve_community_id(const char *proto, const char *src_ip, int64_t src_port,
                        const char *dst_ip, int64_t dst_port, char *out, size_t outlen);

#endif
