/* Helpers shared by the tls, ja4 and x509 tests; see tls_test_util.h. */
#include "tls_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0';
}

void tt_need_captures(void)
{
    if (env_set("KP_TLS_VECTORS")) {
        return;
    }
    const char *what = env_set("KP_TLS_VECTORS_MISSING")
                           ? getenv("KP_TLS_VECTORS_MISSING")
                           : "KP_TLS_VECTORS unset (run through meson test)";
    if (env_set("CI")) {
        fail_msg("%s — capture-derived vectors are required when CI is set", what);
    }
    printf("SKIP: %s — capture-derived vectors not tested\n", what);
    fflush(stdout);
    skip();
}

uint8_t *tt_load_hex(const char *name, size_t *len)
{
    char path[1024];
    tt_need_captures();
    int w = snprintf(path, sizeof path, "%s/%s", getenv("KP_TLS_VECTORS"), name);
    assert_true(w > 0 && (size_t)w < sizeof path);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open test vector %s", path);
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#') {
            continue;
        }
        int hi = -1;
        for (char *c = line; *c != '\0'; c++) {
            if (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t') {
                continue;
            }
            int v = hexval((unsigned char)*c);
            if (v < 0) {
                fail_msg("bad hex in %s", path);
            }
            if (hi < 0) {
                hi = v;
                continue;
            }
            if (n == cap) {
                cap *= 2;
                buf = realloc(buf, cap);
                assert_non_null(buf);
            }
            buf[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
        if (hi >= 0) {
            fail_msg("odd hex digit count in a line of %s", path);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

uint8_t *tt_exact_copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    if (len > 0) {
        memcpy(c, p, len);
    }
    return c;
}

bool tt_in(struct kp_rd v, const uint8_t *base, size_t len)
{
    if (v.len == 0) {
        return true;
    }
    return v.p >= base && v.p <= base + len && v.len <= (size_t)(base + len - v.p);
}

void tt_msgs_init(struct tt_msgs *m, const uint8_t *stream, size_t stream_len,
                  const uint8_t *scratch, size_t scratch_len)
{
    memset(m, 0, sizeof *m);
    m->stream = stream;
    m->stream_len = stream_len;
    m->scratch = scratch;
    m->scratch_len = scratch_len;
}

void tt_msgs_free(struct tt_msgs *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->m[i].body);
    }
    m->n = 0;
}

void tt_collect(uint8_t type, struct kp_rd body, void *user)
{
    struct tt_msgs *m = user;
    assert_true(tt_in(body, m->stream, m->stream_len) ||
                (m->scratch != NULL && tt_in(body, m->scratch, m->scratch_len)));
    assert_true(m->n < TT_MAX_MSGS);
    m->m[m->n].type = type;
    m->m[m->n].body = tt_exact_copy(body.p, body.len);
    m->m[m->n].len = body.len;
    m->n++;
}

enum kp_res tt_scan(const uint8_t *p, size_t len, struct kp_tls_scan_state *st,
                    struct tt_msgs *msgs)
{
    static uint8_t scratch[TT_SCRATCH];
    uint8_t *copy = tt_exact_copy(p, len);
    struct kp_rd s = kp_rd_make(copy, len);
    memset(st, 0, sizeof *st);
    tt_msgs_init(msgs, copy, len, scratch, sizeof scratch);
    enum kp_res r = kp_tls_scan(&s, scratch, sizeof scratch, st, tt_collect, msgs);
    free(copy);
    msgs->stream = NULL;
    msgs->stream_len = 0;
    return r;
}

const struct tt_msg *tt_find(const struct tt_msgs *m, uint8_t type, size_t nth)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->m[i].type == type) {
            if (nth == 0) {
                return &m->m[i];
            }
            nth--;
        }
    }
    fail_msg("no handshake message of type %u", type);
    return NULL;
}

bool tt_dtls_message(const uint8_t *dgram, size_t len, uint8_t type, struct kp_rd *body)
{
    struct kp_rd d = kp_rd_make(dgram, len);
    while (d.len > 0) {
        /* DTLSPlaintext: type, version, epoch, sequence_number(48), length. */
        uint8_t ct;
        uint16_t ver, epoch;
        struct kp_rd frag;
        if (!kp_rd_u8(&d, &ct) || !kp_rd_u16(&d, &ver) || !kp_rd_u16(&d, &epoch) ||
            !kp_rd_skip(&d, 6) || !kp_rd_vec16(&d, &frag)) {
            return false;
        }
        while (ct == KP_TLS_CT_HANDSHAKE && frag.len > 0) {
            /* msg_type, length, message_seq, fragment_offset, fragment_length. */
            uint8_t mt;
            uint16_t seq;
            uint32_t mlen, off;
            struct kp_rd b;
            if (!kp_rd_u8(&frag, &mt) || !kp_rd_u24(&frag, &mlen) || !kp_rd_u16(&frag, &seq) ||
                !kp_rd_u24(&frag, &off) || !kp_rd_vec24(&frag, &b)) {
                return false;
            }
            if (mt == type && off == 0 && b.len == mlen) {
                *body = b;
                return true;
            }
        }
    }
    return false;
}

void tt_init(struct tt_bld *b)
{
    b->len = 0;
    b->depth = 0;
    b->n_lens = 0;
}

void tt_u8(struct tt_bld *b, uint8_t v)
{
    assert_true(b->len < sizeof b->b);
    b->b[b->len++] = v;
}

void tt_u16(struct tt_bld *b, uint16_t v)
{
    tt_u8(b, (uint8_t)(v >> 8));
    tt_u8(b, (uint8_t)v);
}

void tt_u24(struct tt_bld *b, uint32_t v)
{
    tt_u8(b, (uint8_t)(v >> 16));
    tt_u8(b, (uint8_t)(v >> 8));
    tt_u8(b, (uint8_t)v);
}

void tt_bytes(struct tt_bld *b, const void *p, size_t n)
{
    assert_true(n <= sizeof b->b - b->len);
    if (n > 0) {
        memcpy(b->b + b->len, p, n);
    }
    b->len += n;
}

void tt_str(struct tt_bld *b, const char *s)
{
    tt_bytes(b, s, strlen(s));
}

void tt_open(struct tt_bld *b, uint8_t width)
{
    assert_true(b->depth < 16 && width >= 1 && width <= 3);
    b->open_pos[b->depth] = b->len;
    b->open_w[b->depth] = width;
    b->depth++;
    for (uint8_t i = 0; i < width; i++) {
        tt_u8(b, 0);
    }
}

uint32_t tt_len_get(const struct tt_bld *b, size_t i)
{
    uint32_t v = 0;
    for (uint8_t k = 0; k < b->len_w[i]; k++) {
        v = v << 8 | b->b[b->len_pos[i] + k];
    }
    return v;
}

void tt_len_set(struct tt_bld *b, size_t i, uint32_t v)
{
    uint8_t w = b->len_w[i];
    for (uint8_t k = 0; k < w; k++) {
        b->b[b->len_pos[i] + w - 1 - k] = (uint8_t)(v >> (8 * k));
    }
}

void tt_close(struct tt_bld *b)
{
    assert_true(b->depth > 0);
    b->depth--;
    size_t pos = b->open_pos[b->depth];
    uint8_t w = b->open_w[b->depth];
    size_t n = b->len - pos - w;
    assert_true(n < ((size_t)1 << (8 * w)));
    assert_true(b->n_lens < 256);
    b->len_pos[b->n_lens] = pos;
    b->len_w[b->n_lens] = w;
    tt_len_set(b, b->n_lens, (uint32_t)n);
    b->n_lens++;
}

void tt_records(struct tt_bld *out, uint8_t ct, const uint8_t *p, size_t n, size_t chunk)
{
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;
        tt_u8(out, ct);
        tt_u16(out, KP_TLS_V_TLS12);
        tt_u16(out, (uint16_t)k);
        tt_bytes(out, p + off, k);
        off += k;
    }
}
