/* Helpers shared by the media tests; see media_test_util.h. */
#include "media_test_util.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#ifndef KP_MEDIA_TEST_EXPECTED
#define KP_MEDIA_TEST_EXPECTED "tests/media/expected"
#endif

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0';
}

/* Same contract as tests/quic need_captures() and tests/tls
 * tt_need_captures(); see media_test_util.h. */
void mt_need_captures(void)
{
    if (env_set("KP_MEDIA_VECTORS")) {
        return;
    }
    const char *what = env_set("KP_MEDIA_VECTORS_MISSING")
                           ? getenv("KP_MEDIA_VECTORS_MISSING")
                           : "KP_MEDIA_VECTORS unset (run through meson test)";
    if (env_set("CI")) {
        fail_msg("%s — capture-derived vectors are required when CI is set", what);
    }
    printf("SKIP: %s — capture-derived vectors not tested\n", what);
    fflush(stdout);
    skip();
}

/* ../vectors_run.py --samples always sets KP_MEDIA_SAMPLE_VECTORS (samples/
 * is in the tree), so this only skips an executable run by hand. */
static void need_samples(void)
{
    if (env_set("KP_MEDIA_SAMPLE_VECTORS")) {
        return;
    }
    const char *what = "KP_MEDIA_SAMPLE_VECTORS unset (run through meson test)";
    if (env_set("CI")) {
        fail_msg("%s — sample-derived vectors are required when CI is set", what);
    }
    printf("SKIP: %s — sample-derived vectors not tested\n", what);
    fflush(stdout);
    skip();
}

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

static char *dupstr(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    assert_non_null(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Read one file of records ('@ NAME', '# comment', '= KEY VALUE', hex). */
static void parse_file(struct mt_vec *v, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open test vectors %s", path);
    }
    memset(v, 0, sizeof(*v));
    size_t cap_rec = 0, cap_data = 0;
    struct mt_rec *r = NULL;
    char line[8192];
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (n == 0 || line[0] == '#') {
            continue;
        }
        if (line[0] == '@') {
            if (v->n == cap_rec) {
                cap_rec = cap_rec ? cap_rec * 2 : 16;
                v->rec = realloc(v->rec, cap_rec * sizeof(*v->rec));
                assert_non_null(v->rec);
            }
            r = &v->rec[v->n++];
            memset(r, 0, sizeof(*r));
            size_t nl = strlen(line + 2) < sizeof r->name - 1 ? strlen(line + 2)
                                                                : sizeof r->name - 1;
            memcpy(r->name, line + 2, nl);
            r->name[nl] = '\0';
            cap_data = 0;
            continue;
        }
        if (r == NULL) {
            fail_msg("%s: data before the first record", path);
        }
        if (line[0] == '=') {
            const char *k = line + 2, *sp = strchr(k, ' ');
            if (sp == NULL || r->n_exp == MT_MAX_EXP) {
                fail_msg("%s: bad expectation line in %s", path, r->name);
            }
            r->key[r->n_exp] = dupstr(k, (size_t)(sp - k));
            r->val[r->n_exp] = dupstr(sp + 1, strlen(sp + 1));
            r->n_exp++;
            continue;
        }
        for (size_t i = 0; i < n; i += 2) {
            int hi = hexval((unsigned char)line[i]);
            int lo = i + 1 < n ? hexval((unsigned char)line[i + 1]) : -1;
            if (hi < 0 || lo < 0) {
                fail_msg("%s: bad hex in %s", path, r->name);
            }
            if (r->len == cap_data) {
                cap_data = cap_data ? cap_data * 2 : 256;
                r->data = realloc(r->data, cap_data);
                assert_non_null(r->data);
            }
            r->data[r->len++] = (uint8_t)(hi << 4 | lo);
        }
    }
    fclose(f);
    if (v->n == 0) {
        fail_msg("%s: no records", path);
    }
}

/* expected/<name>.exp (values, no bytes) paired record by record with
 * <vec_dir>/<name>.vec (bytes, no values). */
static void load_pair(struct mt_vec *v, const char *name, const char *vec_dir)
{
    char exp_path[1024], vec_path[1024];
    const char *src = getenv("KP_SRCDIR");
    int w;
    if (src != NULL && src[0] != '\0') {
        w = snprintf(exp_path, sizeof exp_path, "%s/tests/media/expected/%s.exp", src, name);
    } else {
        w = snprintf(exp_path, sizeof exp_path, "%s/%s.exp", KP_MEDIA_TEST_EXPECTED, name);
    }
    assert_true(w > 0 && (size_t)w < sizeof exp_path);
    w = snprintf(vec_path, sizeof vec_path, "%s/%s.vec", vec_dir, name);
    assert_true(w > 0 && (size_t)w < sizeof vec_path);
    struct mt_vec bytes;
    parse_file(v, exp_path);
    parse_file(&bytes, vec_path);
    if (bytes.n != v->n) {
        fail_msg("%s: %zu records, %s: %zu", exp_path, v->n, vec_path, bytes.n);
    }
    for (size_t i = 0; i < v->n; i++) {
        struct mt_rec *r = &v->rec[i], *b = &bytes.rec[i];
        if (strcmp(r->name, b->name) != 0) {
            fail_msg("record %zu is %s in %s but %s in %s", i, r->name, exp_path, b->name,
                     vec_path);
        }
        if (r->len != 0 || b->n_exp != 0) {
            fail_msg("%s: bytes in %s or values in %s", r->name, exp_path, vec_path);
        }
        r->data = b->data;
        r->len = b->len;
        b->data = NULL;
        b->len = 0;
    }
    mt_free(&bytes);
}

void mt_load(struct mt_vec *v, const char *name)
{
    mt_need_captures();
    load_pair(v, name, getenv("KP_MEDIA_VECTORS"));
}

void mt_load_samples(struct mt_vec *v, const char *name)
{
    need_samples();
    load_pair(v, name, getenv("KP_MEDIA_SAMPLE_VECTORS"));
}

void mt_free(struct mt_vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        for (size_t j = 0; j < v->rec[i].n_exp; j++) {
            free(v->rec[i].key[j]);
            free(v->rec[i].val[j]);
        }
        free(v->rec[i].data);
    }
    free(v->rec);
    memset(v, 0, sizeof(*v));
}

const char *mt_get(const struct mt_rec *r, const char *key)
{
    for (size_t i = 0; i < r->n_exp; i++) {
        if (strcmp(r->key[i], key) == 0) {
            return r->val[i];
        }
    }
    return NULL;
}

size_t mt_split(const char *val, char out[][256], size_t max)
{
    size_t n = 0;
    const char *p = val;
    while (n < max) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len > 255) {
            len = 255;
        }
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        n++;
        if (bar == NULL) {
            break;
        }
        p = bar + 1;
    }
    return n;
}

uint64_t mt_num(const char *s)
{
    char *end = NULL;
    assert_non_null(s);
    unsigned long long x = strtoull(s, &end, 0);
    if (end == s || *end != '\0') {
        fail_msg("not a number: %s", s);
    }
    return (uint64_t)x;
}

uint8_t *mt_copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    if (len > 0) {
        memcpy(c, p, len);
    }
    return c;
}

bool mt_in(struct kp_rd v, const uint8_t *base, size_t len)
{
    if (v.len == 0) {
        return true;
    }
    uintptr_t p = (uintptr_t)v.p, b = (uintptr_t)base;
    return p >= b && p - b <= len && v.len <= len - (p - b);
}

const char *mt_str(struct kp_rd v, char *buf, size_t cap)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n > 0) {
        memcpy(buf, v.p, n);
    }
    buf[n] = '\0';
    return buf;
}

void mt_assert_view(struct kp_rd v, const char *want, const char *what)
{
    char buf[1024];
    mt_str(v, buf, sizeof buf);
    if (v.len >= sizeof buf || strcmp(buf, want) != 0) {
        fail_msg("%s: got \"%s\", want \"%s\"", what, buf, want);
    }
}

static uint32_t rnd(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed >> 8;
}

void mt_mutate(uint8_t *p, size_t n, uint32_t *seed)
{
    static const uint8_t special[] = {0x00, 0xff, '\r', '\n', ':', ' ', '|', ';', 0x80, 0x7f};
    if (n == 0) {
        return;
    }
    uint32_t k = 1 + rnd(seed) % 4;
    for (uint32_t i = 0; i < k; i++) {
        size_t at = rnd(seed) % n;
        uint32_t how = rnd(seed) % 3;
        if (how == 0) {
            p[at] = (uint8_t)rnd(seed);
        } else if (how == 1) {
            p[at] = special[rnd(seed) % sizeof special];
        } else {
            p[at] ^= (uint8_t)(1u << (rnd(seed) % 8));
        }
    }
}

void mt_init(struct mt_bld *b)
{
    b->len = 0;
}

void mt_u8(struct mt_bld *b, uint8_t v)
{
    assert_true(b->len < sizeof(b->b));
    b->b[b->len++] = v;
}

void mt_u16(struct mt_bld *b, uint16_t v)
{
    mt_u8(b, (uint8_t)(v >> 8));
    mt_u8(b, (uint8_t)v);
}

void mt_u32(struct mt_bld *b, uint32_t v)
{
    mt_u16(b, (uint16_t)(v >> 16));
    mt_u16(b, (uint16_t)v);
}

void mt_bytes(struct mt_bld *b, const void *p, size_t n)
{
    assert_true(n <= sizeof(b->b) - b->len);
    memcpy(b->b + b->len, p, n);
    b->len += n;
}

void mt_str_add(struct mt_bld *b, const char *s)
{
    mt_bytes(b, s, strlen(s));
}

void mt_zeros(struct mt_bld *b, size_t n)
{
    assert_true(n <= sizeof(b->b) - b->len);
    memset(b->b + b->len, 0, n);
    b->len += n;
}

void mt_walk(const char *path, bool shared, mt_pkt_fn fn, void *user)
{
    char full[1024], err[PCAP_ERRBUF_SIZE];
    if (shared) {
        mt_need_captures();
    }
    const char *dir = shared ? getenv("KP_SHARED_PCAPS") : getenv("KP_SRCDIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = shared ? "../shared/pcaps" : ".";
    }
    int w = snprintf(full, sizeof full, "%s/%s", dir, path);
    assert_true(w > 0 && (size_t)w < sizeof full);
    pcap_t *p = pcap_open_offline(full, err);
    if (p == NULL) {
        fail_msg("cannot open capture %s: %s", full, err);
    }
    int lt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        struct kp_pkt pkt;
        if (kp_decode(lt, data, h->caplen, &pkt) != KP_RES_OK || pkt.fragment) {
            continue;
        }
        if (pkt.proto != KP_PROTO_UDP && pkt.proto != KP_PROTO_TCP) {
            continue;
        }
        uint8_t *copy = mt_copy(pkt.payload.p, pkt.payload.len);
        fn(copy, pkt.payload.len, pkt.sport, pkt.dport, pkt.proto, user);
        free(copy);
    }
    pcap_close(p);
}
