/* Helpers shared by the tls, ja4 and x509 tests: capture-derived hex
 * vectors, exact-size copies (so that ASan sees any over-read), a collecting
 * kp_tls_scan callback, a DTLS walker for test vectors and a small byte
 * builder that remembers where it wrote length fields. */
#ifndef KP_TLS_TEST_UTIL_H
#define KP_TLS_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tls.h"

/* Capture-derived vectors are never stored in the tree (the captures in
 * ../shared/pcaps must not be copied into the project, not even in part):
 * ../vectors_run.py cuts them out with extract.py and tshark at test time
 * into the build folder and names that folder in KP_TLS_VECTORS.  To run a test
 * executable by hand, set KP_TLS_VECTORS=<build>/tests/tls/vectors after one
 * `meson test --suite tls`.
 *
 * Call tt_need_captures() first in every test case that uses them.  It
 * returns if KP_TLS_VECTORS is set; otherwise it fails the test if CI is set,
 * and else prints "SKIP: <what is missing> — capture-derived vectors not
 * tested" and skips the case (what is missing comes from
 * KP_TLS_VECTORS_MISSING, set by ../vectors_run.py).  Call it before
 * allocating: a skip leaves the test at once. */
void tt_need_captures(void);

/* Load <KP_TLS_VECTORS>/<name> (hex, '#' comment lines); calls
 * tt_need_captures() first.  Fails the test if the file is missing or not
 * hex.  The result is malloc'd: free() it. */
uint8_t *tt_load_hex(const char *name, size_t *len);

/* A malloc'd copy of exactly len bytes (at least 1 byte is allocated, so an
 * empty copy is still a valid pointer). */
uint8_t *tt_exact_copy(const uint8_t *p, size_t len);

/* True if v is empty or lies inside base[0..len). */
bool tt_in(struct kp_rd v, const uint8_t *base, size_t len);

/* Handshake messages collected from kp_tls_scan (bodies copied). */
#define TT_MAX_MSGS 64
struct tt_msg {
    uint8_t type;
    uint8_t *body;
    size_t len;
};
struct tt_msgs {
    struct tt_msg m[TT_MAX_MSGS];
    size_t n;
    /* Where delivered bodies may point: the stream or the scratch buffer. */
    const uint8_t *stream;
    size_t stream_len;
    const uint8_t *scratch;
    size_t scratch_len;
};
void tt_msgs_init(struct tt_msgs *m, const uint8_t *stream, size_t stream_len,
                  const uint8_t *scratch, size_t scratch_len);
void tt_msgs_free(struct tt_msgs *m);
/* kp_tls_scan callback: asserts the body lies in the stream or the scratch
 * buffer, then copies it. */
void tt_collect(uint8_t type, struct kp_rd body, void *user);

/* Scan p[0..len) once from a zeroed state (copy placed in an exact-size
 * buffer); fills *st and *msgs (msgs bodies are copies). */
#define TT_SCRATCH 65536
enum kp_res tt_scan(const uint8_t *p, size_t len, struct kp_tls_scan_state *st,
                    struct tt_msgs *msgs);

/* The body of the n-th handshake message (0-based) of the given type in a
 * collection; fails the test if absent. */
const struct tt_msg *tt_find(const struct tt_msgs *m, uint8_t type, size_t nth);

/* Test-side DTLS walk (RFC 6347 4.1, 4.2.2) over one datagram: the body of
 * the first unfragmented handshake message of the given type.  False if none. */
bool tt_dtls_message(const uint8_t *dgram, size_t len, uint8_t type, struct kp_rd *body);

/* Byte builder.  tt_open() starts a length-prefixed vector of width 1, 2 or 3
 * bytes, tt_close() fills in its length; every length field written is
 * remembered (len_pos, len_w) for off-by-one tests.  Large: use static or
 * heap instances. */
struct tt_bld {
    uint8_t b[131072];
    size_t len;
    size_t open_pos[16];
    uint8_t open_w[16];
    int depth;
    size_t len_pos[256];
    uint8_t len_w[256];
    size_t n_lens;
};
void tt_init(struct tt_bld *b);
void tt_u8(struct tt_bld *b, uint8_t v);
void tt_u16(struct tt_bld *b, uint16_t v);
void tt_u24(struct tt_bld *b, uint32_t v);
void tt_bytes(struct tt_bld *b, const void *p, size_t n);
void tt_str(struct tt_bld *b, const char *s);
void tt_open(struct tt_bld *b, uint8_t width);
void tt_close(struct tt_bld *b);
/* Read / write the length field number i as an integer. */
uint32_t tt_len_get(const struct tt_bld *b, size_t i);
void tt_len_set(struct tt_bld *b, size_t i, uint32_t v);

/* Wrap bytes into TLS records of at most `chunk` payload bytes each
 * (content type ct, version 0x0303), appended to out. */
void tt_records(struct tt_bld *out, uint8_t ct, const uint8_t *p, size_t n, size_t chunk);

#endif
