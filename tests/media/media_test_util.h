/* Helpers shared by the media tests (rtp, zoom, sip, zrtp): the test
 * vectors (expected values from tests/media/expected, bytes cut at test time
 * by tests/media/extract.py), exact-size copies so that ASan sees any
 * over-read, view checks, a byte builder and a small capture walker. */
#ifndef KP_MEDIA_TEST_UTIL_H
#define KP_MEDIA_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kp.h"

/* One vector: a name, expected KEY VALUE pairs and bytes. */
#define MT_MAX_EXP 128
struct mt_rec {
    char name[128];
    size_t n_exp;
    char *key[MT_MAX_EXP];
    char *val[MT_MAX_EXP];
    uint8_t *data;
    size_t len;
};

struct mt_vec {
    struct mt_rec *rec;
    size_t n;
};

/* Capture-derived cases call this first, before allocating (a skip leaves
 * the test at once): it returns if KP_MEDIA_VECTORS is set; otherwise it
 * fails the test if CI is set, and else prints "SKIP: <what is missing> —
 * capture-derived vectors not tested" and skips the case (what is missing
 * comes from KP_MEDIA_VECTORS_MISSING, set by ../vectors_run.py).  Same
 * contract as tests/quic need_captures() and tests/tls tt_need_captures(). */
void mt_need_captures(void);

/* Load vector file name ("rtp", "sip_tls", ...): the expected values of
 * tests/media/expected/<name>.exp with, record by record, the bytes of
 * $KP_MEDIA_VECTORS/<name>.vec, cut from ../shared/pcaps at test time.
 * Calls mt_need_captures() first; fails the test when a file is missing or
 * bad or the two do not pair up. */
void mt_load(struct mt_vec *v, const char *name);

/* The same for a vector file cut from the project's samples/
 * ($KP_MEDIA_SAMPLE_VECTORS/<name>.vec): no captures needed. */
void mt_load_samples(struct mt_vec *v, const char *name);
void mt_free(struct mt_vec *v);

/* The expected value for key, NULL when the record has none. */
const char *mt_get(const struct mt_rec *r, const char *key);

/* Split a '|'-joined value: up to max parts of at most 255 characters. */
size_t mt_split(const char *val, char out[][256], size_t max);

/* Decimal / 0x-hex text to an integer (fails the test if not a number). */
uint64_t mt_num(const char *s);

/* A malloc'd copy of exactly len bytes (at least 1 byte allocated). */
uint8_t *mt_copy(const uint8_t *p, size_t len);

/* True if v is empty or lies inside base[0..len). */
bool mt_in(struct kp_rd v, const uint8_t *base, size_t len);

/* The view as a NUL-terminated string (truncated to cap - 1). */
const char *mt_str(struct kp_rd v, char *buf, size_t cap);

/* Assert the view equals the C string. */
void mt_assert_view(struct kp_rd v, const char *want, const char *what);

/* Deterministic mutation for fuzz-style loops: overwrite 1..4 bytes of
 * p[0..n) with random or boundary values (0x00, 0xff, CR, LF, ':', ' ',
 * '|', ';').  *seed is the PRNG state. */
void mt_mutate(uint8_t *p, size_t n, uint32_t *seed);

/* Byte builder. */
struct mt_bld {
    uint8_t b[65536];
    size_t len;
};
void mt_init(struct mt_bld *b);
void mt_u8(struct mt_bld *b, uint8_t v);
void mt_u16(struct mt_bld *b, uint16_t v);
void mt_u32(struct mt_bld *b, uint32_t v);
void mt_bytes(struct mt_bld *b, const void *p, size_t n);
void mt_str_add(struct mt_bld *b, const char *s);
void mt_zeros(struct mt_bld *b, size_t n);

/* Call fn for every UDP and TCP packet (an exact-size copy of the payload)
 * of a capture: path is in $KP_SHARED_PCAPS when shared (read at test time,
 * never copied; mt_need_captures() is called first), else relative to the
 * source tree ($KP_SRCDIR).  Fails the test if the file cannot be read. */
typedef void (*mt_pkt_fn)(const uint8_t *payload, size_t len, uint16_t sport, uint16_t dport,
                          uint8_t proto, void *user);
void mt_walk(const char *path, bool shared, mt_pkt_fn fn, void *user);

#endif
