/* keyprov byte reader: the only code that touches packet memory.
 *
 * A struct kp_rd is a borrowed, bounds-checked view of bytes.  Every read
 * returns true on success and advances the view; on failure it returns false
 * and leaves the view exactly as it was (the stronger promise of OpenSSL's
 * PACKET), so callers can chain reads with && and bail out on the first
 * false.  Sub-views borrow the same memory: they are valid only as long as
 * the bytes they were cut from.
 */
#ifndef KP_RD_H
#define KP_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KP_WUR __attribute__((warn_unused_result))

struct kp_rd {
    const uint8_t *p;
    size_t len;
};

static inline struct kp_rd kp_rd_make(const uint8_t *p, size_t len)
{
    struct kp_rd r = {p, p != NULL ? len : 0};
    return r;
}

static inline size_t kp_rd_left(const struct kp_rd *r) { return r->len; }

KP_WUR static inline bool kp_rd_skip(struct kp_rd *r, size_t n)
{
    if (r->len < n) {
        return false;
    }
    r->p += n;
    r->len -= n;
    return true;
}

KP_WUR static inline bool kp_rd_u8(struct kp_rd *r, uint8_t *v)
{
    if (r->len < 1) {
        return false;
    }
    *v = r->p[0];
    r->p += 1;
    r->len -= 1;
    return true;
}

KP_WUR static inline bool kp_rd_u16(struct kp_rd *r, uint16_t *v)
{
    if (r->len < 2) {
        return false;
    }
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->len -= 2;
    return true;
}

KP_WUR static inline bool kp_rd_u24(struct kp_rd *r, uint32_t *v)
{
    if (r->len < 3) {
        return false;
    }
    *v = ((uint32_t)r->p[0] << 16) | ((uint32_t)r->p[1] << 8) | r->p[2];
    r->p += 3;
    r->len -= 3;
    return true;
}

KP_WUR static inline bool kp_rd_u32(struct kp_rd *r, uint32_t *v)
{
    if (r->len < 4) {
        return false;
    }
    *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) |
         r->p[3];
    r->p += 4;
    r->len -= 4;
    return true;
}

/* Little-endian 16/32-bit reads (pcap headers, BSD loopback family). */
KP_WUR static inline bool kp_rd_u16le(struct kp_rd *r, uint16_t *v)
{
    if (r->len < 2) {
        return false;
    }
    *v = (uint16_t)(r->p[0] | (r->p[1] << 8));
    r->p += 2;
    r->len -= 2;
    return true;
}

KP_WUR static inline bool kp_rd_u32le(struct kp_rd *r, uint32_t *v)
{
    if (r->len < 4) {
        return false;
    }
    *v = (uint32_t)r->p[0] | ((uint32_t)r->p[1] << 8) | ((uint32_t)r->p[2] << 16) |
         ((uint32_t)r->p[3] << 24);
    r->p += 4;
    r->len -= 4;
    return true;
}

/* Copy n bytes out. */
KP_WUR static inline bool kp_rd_copy(struct kp_rd *r, void *dst, size_t n)
{
    if (r->len < n) {
        return false;
    }
    if (n > 0) {
        memcpy(dst, r->p, n);
    }
    r->p += n;
    r->len -= n;
    return true;
}

/* Cut the next n bytes off as a sub-view. */
KP_WUR static inline bool kp_rd_sub(struct kp_rd *r, struct kp_rd *sub, size_t n)
{
    if (r->len < n) {
        return false;
    }
    sub->p = r->p;
    sub->len = n;
    r->p += n;
    r->len -= n;
    return true;
}

/* Length-prefixed sub-views (1, 2 or 3 byte big-endian prefix). On failure
 * neither the prefix nor the body is consumed. */
KP_WUR static inline bool kp_rd_vec8(struct kp_rd *r, struct kp_rd *sub)
{
    struct kp_rd t = *r;
    uint8_t n;
    if (!kp_rd_u8(&t, &n) || !kp_rd_sub(&t, sub, n)) {
        return false;
    }
    *r = t;
    return true;
}

KP_WUR static inline bool kp_rd_vec16(struct kp_rd *r, struct kp_rd *sub)
{
    struct kp_rd t = *r;
    uint16_t n;
    if (!kp_rd_u16(&t, &n) || !kp_rd_sub(&t, sub, n)) {
        return false;
    }
    *r = t;
    return true;
}

KP_WUR static inline bool kp_rd_vec24(struct kp_rd *r, struct kp_rd *sub)
{
    struct kp_rd t = *r;
    uint32_t n;
    if (!kp_rd_u24(&t, &n) || !kp_rd_sub(&t, sub, n)) {
        return false;
    }
    *r = t;
    return true;
}

/* QUIC variable-length integer (RFC 9000 section 16). */
KP_WUR static inline bool kp_rd_varint(struct kp_rd *r, uint64_t *v)
{
    if (r->len < 1) {
        return false;
    }
    size_t n = (size_t)1 << (r->p[0] >> 6);
    if (r->len < n) {
        return false;
    }
    uint64_t x = r->p[0] & 0x3f;
    for (size_t i = 1; i < n; i++) {
        x = (x << 8) | r->p[i];
    }
    *v = x;
    r->p += n;
    r->len -= n;
    return true;
}

/* Peek without consuming. */
KP_WUR static inline bool kp_rd_peek_u8(const struct kp_rd *r, size_t off, uint8_t *v)
{
    if (r->len <= off) {
        return false;
    }
    *v = r->p[off];
    return true;
}

/* A line ending in CRLF (or a bare LF): *line excludes the terminator.
 * Fails, consuming nothing, if no terminator is present. */
KP_WUR static inline bool kp_rd_line(struct kp_rd *r, struct kp_rd *line)
{
    for (size_t i = 0; i < r->len; i++) {
        if (r->p[i] == '\n') {
            size_t end = (i > 0 && r->p[i - 1] == '\r') ? i - 1 : i;
            line->p = r->p;
            line->len = end;
            r->p += i + 1;
            r->len -= i + 1;
            return true;
        }
    }
    return false;
}

/* True if the view equals the given bytes exactly. */
static inline bool kp_rd_eq(const struct kp_rd *r, const char *s, size_t n)
{
    return r->len == n && (n == 0 || memcmp(r->p, s, n) == 0);
}

#endif
