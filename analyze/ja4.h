/* JA4 TLS client fingerprint (FoxIO JA4 specification, technical_details/
 * JA4.md; JA4 itself is BSD-3-Clause, the other JA4+ methods are not and are
 * not implemented here).
 *
 *   {proto}{ver}{sni}{nc}{ne}{alpn}_{hash(ciphers)}_{hash(exts_sigalgs)}
 *
 * proto  't' TLS over TCP, 'q' QUIC, 'd' DTLS (chosen by the caller);
 * ver    highest non-GREASE supported_versions entry, else legacy_version:
 *        13 12 11 10 s3 s2, DTLS d1 d2 d3, "00" for anything else (TLS 1.3
 *        drafts included).  "Highest" is numeric for TLS; DTLS versions count
 *        down (0xfefc DTLS 1.3 > 0xfefd DTLS 1.2 > 0xfeff DTLS 1.0) and are
 *        ranked by protocol order, not by number;
 * sni    'd' if the server_name extension is present, else 'i';
 * nc ne  non-GREASE cipher and extension counts (SNI and ALPN included), two
 *        digits, capped at 99;
 * alpn   first and last byte of the first ALPN name if both are ASCII
 *        alphanumeric, else the first hex digit of the first byte and the last
 *        hex digit of the last byte; "00" without ALPN, with an empty list or
 *        an empty first name;
 * hashes first 12 lowercase hex digits of SHA-256 of: the sorted non-GREASE
 *        ciphers as 4-digit hex joined by ','; the sorted non-GREASE
 *        extensions without 0x0000 and 0x0010, then (only if there are any)
 *        '_' and the non-GREASE signature algorithms in wire order.
 *        "000000000000" when the sorted list is empty.
 */
#ifndef KP_JA4_H
#define KP_JA4_H

#include "tls.h"

#define KP_JA4_LEN 36 /* "t13d1516h2_8daaf6152771_e5627efa2ab1" */

/* Write the JA4 fingerprint of `ch` (parsed by kp_tls_parse_client_hello)
 * into out, NUL-terminated.  proto: 't', 'q' or 'd' (anything else is
 * written as 't').  Returns true if the fingerprint is exact; false if a
 * list of `ch` was capped (n_x < x_total: the hashes then cover the stored
 * entries only and the counts treat the missing ones as non-GREASE) or
 * SHA-256 failed (its hash written as "000000000000").  Reads only `ch`'s
 * arrays and views; the views must still be valid. */
bool kp_ja4(const struct kp_tls_client_hello *ch, char proto, char out[KP_JA4_LEN + 1]);

/* The raw form JA4_r: the same first part, then the two lists before
 * hashing ("t13d1516h2_002f,0035,..._0005,000a,..._0403,0804,...").  Writes
 * at most cap bytes including the NUL (nothing if cap is 0) and returns the
 * length the full string has, like snprintf. */
size_t kp_ja4_raw(const struct kp_tls_client_hello *ch, char proto, char *buf, size_t cap);

#endif
