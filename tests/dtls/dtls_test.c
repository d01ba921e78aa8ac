/* Unit tests of analyze/dtls.c: the record layer (DTLS 1.0/1.2 headers,
 * RFC 9146 CID records, RFC 9147 unified headers), handshake fragments and
 * their reassembly, HelloVerifyRequest, the connection_id extension and the
 * DTLS-SRTP profile names; on hand-built datagrams and on datagrams taken
 * from real captures (cut from ../shared/pcaps at test time by extract.py,
 * never stored in the tree: see capture_vectors.h; expected values read with
 * tshark 4.0.17, quoted next to each assertion).  Without the captures the
 * capture-derived cases are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_vectors.h"
#include "dtls.h"
#include "tls.h"
#include "x509.h"

/* The environment variable naming the folder of capture-derived vectors. */
#define VECTORS "KP_DTLS_VECTORS"

/* ---- Test vectors ------------------------------------------------------- */

#define MAX_DGRAMS 64

struct dgram {
    char dir;       /* 'c' client, 's' server */
    unsigned frame; /* frame number in the capture */
    uint8_t *p;     /* exactly len bytes (malloc'd), so ASan sees over-reads */
    size_t len;
};

struct vec {
    struct dgram d[MAX_DGRAMS];
    size_t n;
};

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

static uint8_t *exact_copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    if (len > 0) {
        memcpy(c, p, len);
    }
    return c;
}

/* Decode hex (no separators) into a malloc'd buffer of exactly the size. */
static uint8_t *unhex(const char *h, size_t n_chars, size_t *len)
{
    assert_true(n_chars % 2 == 0);
    uint8_t *b = malloc(n_chars / 2 > 0 ? n_chars / 2 : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n_chars / 2; i++) {
        int hi = hexval((unsigned char)h[2 * i]), lo = hexval((unsigned char)h[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n_chars / 2;
    return b;
}

/* Load <KP_DTLS_VECTORS>/<name> (made by extract.py): "# frame N: ..."
 * comments, then "c HEX" or "s HEX" lines, one datagram each.  Skips the
 * test if the captures are missing (cv_need_captures). */
static void vec_load(struct vec *v, const char *name)
{
    FILE *f = cv_open(VECTORS, name);
    memset(v, 0, sizeof *v);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned frame = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) {
            line[--got] = '\0';
        }
        if (line[0] == '#') {
            unsigned fr;
            if (sscanf(line, "# frame %u:", &fr) == 1) {
                frame = fr;
            }
            continue;
        }
        if (got == 0) {
            continue;
        }
        assert_true(got > 2 && (line[0] == 'c' || line[0] == 's') && line[1] == ' ');
        assert_true(v->n < MAX_DGRAMS);
        struct dgram *d = &v->d[v->n++];
        d->dir = line[0];
        d->frame = frame;
        d->p = unhex(line + 2, (size_t)got - 2, &d->len);
    }
    free(line);
    fclose(f);
}

static void vec_free(struct vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->d[i].p);
    }
    v->n = 0;
}

static const struct dgram *vec_frame(const struct vec *v, unsigned frame)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->d[i].frame == frame) {
            return &v->d[i];
        }
    }
    fail_msg("no frame %u in the vector", frame);
    return NULL;
}

/* True if v is empty or lies inside base[0..len). */
static bool inside(struct kp_rd v, const void *base, size_t len)
{
    const uint8_t *b = base;
    if (v.len == 0) {
        return true;
    }
    return v.p >= b && v.p <= b + len && v.len <= (size_t)(b + len - v.p);
}

/* ---- Collecting delivered messages -------------------------------------- */

#define MAX_MSGS 64

struct msg_rec {
    uint8_t type;
    uint16_t seq;
    bool reassembled;
    uint8_t *body;
    size_t len;
};

struct coll {
    struct msg_rec m[MAX_MSGS];
    size_t n;
    const uint8_t *buf; /* the datagram being scanned */
    size_t buf_len;
    const struct kp_dtls_hs *hs; /* or NULL */
};

static void coll_free(struct coll *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->m[i].body);
    }
    c->n = 0;
}

static void collect(const struct kp_dtls_msg *msg, void *user)
{
    struct coll *c = user;
    bool ok = inside(msg->body, c->buf, c->buf_len);
    if (!ok && c->hs != NULL) {
        ok = inside(msg->body, c->hs, sizeof *c->hs);
    }
    assert_true(ok);
    assert_true(c->n < MAX_MSGS);
    struct msg_rec *r = &c->m[c->n++];
    r->type = msg->msg_type;
    r->seq = msg->message_seq;
    r->reassembled = msg->reassembled;
    r->body = exact_copy(msg->body.p, msg->body.len);
    r->len = msg->body.len;
}

static const struct msg_rec *coll_find(const struct coll *c, uint8_t type, size_t nth)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->m[i].type == type) {
            if (nth == 0) {
                return &c->m[i];
            }
            nth--;
        }
    }
    fail_msg("no handshake message of type %u (nth %zu)", type, nth);
    return NULL;
}

static size_t coll_count(const struct coll *c, uint8_t type)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        k += c->m[i].type == type;
    }
    return k;
}

/* Both directions of one association. */
struct assoc {
    struct kp_dtls_hs hs_c, hs_s; /* reassembly of client / server messages */
    struct coll c, s;
};

static struct assoc *assoc_new(void)
{
    struct assoc *a = calloc(1, sizeof *a);
    assert_non_null(a);
    return a;
}

static void assoc_free(struct assoc *a)
{
    coll_free(&a->c);
    coll_free(&a->s);
    free(a);
}

/* Scan one datagram of a vector into the association; returns the scan
 * result and fills *dg. */
static enum kp_res assoc_scan(struct assoc *a, const struct dgram *d, size_t cid_len,
                              struct kp_dtls_dgram *dg)
{
    struct kp_dtls_hs *hs = d->dir == 'c' ? &a->hs_c : &a->hs_s;
    struct coll *c = d->dir == 'c' ? &a->c : &a->s;
    c->buf = d->p;
    c->buf_len = d->len;
    c->hs = hs;
    return kp_dtls_scan(dg, kp_rd_make(d->p, d->len), cid_len, hs, collect, c);
}

static void assoc_scan_all(struct assoc *a, const struct vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        struct kp_dtls_dgram dg;
        enum kp_res r = assoc_scan(a, &v->d[i], KP_DTLS_CID_UNKNOWN, &dg);
        if (r != KP_RES_OK) {
            fail_msg("frame %u: scan returned %d", v->d[i].frame, (int)r);
        }
    }
}

static bool rd_is(struct kp_rd v, const char *s)
{
    return kp_rd_eq(&v, s, strlen(s));
}

static void cert_summary(const struct msg_rec *m, size_t i, struct kp_cert_info *info,
                         size_t *der_len)
{
    struct kp_tls_certificate cert;
    assert_int_equal(kp_tls_parse_certificate(&cert, kp_rd_make(m->body, m->len), false),
                     KP_RES_OK);
    assert_true(i < cert.n_certs);
    *der_len = cert.certs[i].len;
    assert_int_equal(kp_x509_summarize(cert.certs[i].p, cert.certs[i].len, info), KP_RES_OK);
}

/* ---- Byte builder ------------------------------------------------------- */

struct bld {
    uint8_t b[70000];
    size_t len;
};

static void b_u8(struct bld *b, uint8_t v)
{
    assert_true(b->len < sizeof b->b);
    b->b[b->len++] = v;
}

static void b_u16(struct bld *b, uint16_t v)
{
    b_u8(b, (uint8_t)(v >> 8));
    b_u8(b, (uint8_t)v);
}

static void b_u24(struct bld *b, uint32_t v)
{
    b_u8(b, (uint8_t)(v >> 16));
    b_u16(b, (uint16_t)v);
}

static void b_bytes(struct bld *b, const void *p, size_t n)
{
    assert_true(n <= sizeof b->b - b->len);
    if (n > 0) {
        memcpy(b->b + b->len, p, n);
    }
    b->len += n;
}

/* A DTLSPlaintext record header (RFC 6347 4.1). */
static void b_record(struct bld *b, uint8_t ct, uint16_t version, uint16_t epoch, uint64_t seq,
                     uint16_t len)
{
    b_u8(b, ct);
    b_u16(b, version);
    b_u16(b, epoch);
    b_u16(b, (uint16_t)(seq >> 32));
    b_u16(b, (uint16_t)(seq >> 16));
    b_u16(b, (uint16_t)seq);
    b_u16(b, len);
}

/* A handshake fragment header (RFC 6347 4.2.2) and its bytes. */
static void b_frag(struct bld *b, uint8_t type, uint32_t length, uint16_t seq, uint32_t off,
                   const uint8_t *frag, uint32_t flen)
{
    b_u8(b, type);
    b_u24(b, length);
    b_u16(b, seq);
    b_u24(b, off);
    b_u24(b, flen);
    b_bytes(b, frag, flen);
}

/* One record holding one fragment. */
static void b_frag_record(struct bld *b, uint8_t type, uint32_t length, uint16_t seq,
                          uint32_t off, const uint8_t *frag, uint32_t flen)
{
    b_record(b, KP_TLS_CT_HANDSHAKE, KP_TLS_V_DTLS12, 0, seq, (uint16_t)(12 + flen));
    b_frag(b, type, length, seq, off, frag, flen);
}

static struct kp_dtls_hs_frag mk_frag(uint8_t type, uint32_t length, uint16_t seq,
                                      uint32_t off, const uint8_t *p, size_t n)
{
    struct kp_dtls_hs_frag f = {type, length, seq, off, kp_rd_make(p, n)};
    return f;
}

/* Deterministic pseudo-random numbers for the fuzz loops (xorshift32). */
static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* ---- Names -------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(kp_srtp_profile_name(0x0001), "SRTP_AES128_CM_HMAC_SHA1_80");
    assert_string_equal(kp_srtp_profile_name(0x0002), "SRTP_AES128_CM_HMAC_SHA1_32");
    assert_string_equal(kp_srtp_profile_name(0x0005), "SRTP_NULL_HMAC_SHA1_80");
    assert_string_equal(kp_srtp_profile_name(0x0006), "SRTP_NULL_HMAC_SHA1_32");
    assert_string_equal(kp_srtp_profile_name(0x0007), "SRTP_AEAD_AES_128_GCM");
    assert_string_equal(kp_srtp_profile_name(0x0008), "SRTP_AEAD_AES_256_GCM");
    assert_string_equal(kp_srtp_profile_name(0x0010), "SRTP_AEAD_ARIA_256_GCM");
    assert_null(kp_srtp_profile_name(0x0000));
    assert_null(kp_srtp_profile_name(0x0003));
    assert_null(kp_srtp_profile_name(0x0004));
    assert_null(kp_srtp_profile_name(0x0011));
    assert_null(kp_srtp_profile_name(0xffff));
    assert_string_equal(kp_dtls_version_name(KP_DTLS_V_BAD), "DTLS 1.0 (OpenSSL pre 0.9.8f)");
    assert_string_equal(kp_dtls_version_name(KP_TLS_V_DTLS12), "DTLS 1.2");
    assert_string_equal(kp_dtls_version_name(KP_TLS_V_DTLS13), "DTLS 1.3");
    assert_null(kp_dtls_version_name(0x1234));
}

/* ---- Record layer ------------------------------------------------------- */

static void test_record_plaintext(void **state)
{
    (void)state;
    static struct bld b;
    b.len = 0;
    b_record(&b, KP_TLS_CT_HANDSHAKE, KP_TLS_V_DTLS12, 0, 0x0000a1b2c3d4ull, 3);
    b_bytes(&b, "abc", 3);
    b_record(&b, KP_TLS_CT_APPLICATION_DATA, KP_TLS_V_DTLS12, 1, 7, 2);
    b_bytes(&b, "xy", 2);
    uint8_t *p = exact_copy(b.b, b.len);
    struct kp_rd d = kp_rd_make(p, b.len);
    struct kp_dtls_record r;
    assert_int_equal(kp_dtls_parse_record(&r, &d, KP_DTLS_CID_UNKNOWN), KP_RES_OK);
    assert_false(r.unified);
    assert_int_equal(r.content_type, KP_TLS_CT_HANDSHAKE);
    assert_int_equal(r.version, KP_TLS_V_DTLS12);
    assert_int_equal(r.epoch, 0);
    assert_true(r.seq == 0xa1b2c3d4ull);
    assert_false(r.encrypted);
    assert_true(rd_is(r.payload, "abc"));
    assert_int_equal(r.wire_len, 16);
    assert_int_equal(d.len, 15);
    assert_int_equal(kp_dtls_parse_record(&r, &d, KP_DTLS_CID_UNKNOWN), KP_RES_OK);
    assert_int_equal(r.content_type, KP_TLS_CT_APPLICATION_DATA);
    assert_int_equal(r.epoch, 1);
    assert_true(r.encrypted);
    assert_true(rd_is(r.payload, "xy"));
    assert_int_equal(d.len, 0);
    assert_int_equal(kp_dtls_parse_record(&r, &d, KP_DTLS_CID_UNKNOWN), KP_RES_TRUNCATED);

    /* Every prefix of the first record is TRUNCATED and leaves d alone. */
    for (size_t n = 0; n < 16; n++) {
        struct kp_rd t = kp_rd_make(p, n);
        assert_int_equal(kp_dtls_parse_record(&r, &t, KP_DTLS_CID_UNKNOWN), KP_RES_TRUNCATED);
        assert_true(t.p == p && t.len == n);
    }
    free(p);

    /* 48-bit sequence numbers keep every bit. */
    b.len = 0;
    b_record(&b, KP_TLS_CT_ALERT, KP_TLS_V_DTLS10, 0xffff, 0xffffffffffffull, 0);
    d = kp_rd_make(b.b, b.len);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    assert_true(r.seq == 0xffffffffffffull);
    assert_int_equal(r.epoch, 0xffff);
}

static void test_record_not_mine(void **state)
{
    (void)state;
    struct kp_dtls_record r;
    /* RFC 7983: first bytes outside 20..63 are not DTLS. */
    static const uint8_t firsts[] = {0x00, 0x01, 0x03, 0x10, 0x13, 0x1b, 0x1f, 0x40, 0x80, 0xff};
    for (size_t i = 0; i < sizeof firsts; i++) {
        uint8_t p[20] = {firsts[i], 0xfe, 0xfd};
        struct kp_rd d = kp_rd_make(p, sizeof p);
        assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_NOT_MINE);
        assert_int_equal(d.len, sizeof p);
    }
    /* A TLS record version is not DTLS. */
    static const uint16_t versions[] = {0x0303, 0x0301, 0xfefe, 0xfe00, 0x0101, 0x0000};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        uint8_t p[13] = {22, (uint8_t)(versions[i] >> 8), (uint8_t)versions[i]};
        struct kp_rd d = kp_rd_make(p, sizeof p);
        assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_NOT_MINE);
    }
    /* Accepted versions, including OpenSSL's 0x0100. */
    static const uint16_t ok[] = {0xfeff, 0xfefd, 0xfefc, 0x0100};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t p[13] = {23, (uint8_t)(ok[i] >> 8), (uint8_t)ok[i]};
        struct kp_rd d = kp_rd_make(p, sizeof p);
        assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
        assert_int_equal(r.version, ok[i]);
        assert_int_equal(r.payload.len, 0);
    }
    /* Content types 20..26. */
    for (uint8_t ct = 20; ct <= 26; ct++) {
        uint8_t p[14] = {ct, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        struct kp_rd d = kp_rd_make(p, 13);
        assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    }
}

static void test_record_lengths(void **state)
{
    (void)state;
    struct kp_dtls_record r;
    static struct bld b;
    /* The largest record accepted, and one byte more. */
    b.len = 0;
    b_record(&b, KP_TLS_CT_APPLICATION_DATA, KP_TLS_V_DTLS12, 1, 1, KP_DTLS_MAX_RECORD_LEN);
    b.len += KP_DTLS_MAX_RECORD_LEN;
    uint8_t *p = exact_copy(b.b, b.len);
    struct kp_rd d = kp_rd_make(p, b.len);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    assert_int_equal(r.payload.len, KP_DTLS_MAX_RECORD_LEN);
    p[11] = (uint8_t)((KP_DTLS_MAX_RECORD_LEN + 1) >> 8);
    p[12] = (uint8_t)(KP_DTLS_MAX_RECORD_LEN + 1);
    d = kp_rd_make(p, b.len);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_MALFORMED);
    assert_int_equal(d.len, b.len);
    /* 0xffff. */
    p[11] = 0xff;
    p[12] = 0xff;
    d = kp_rd_make(p, b.len);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_MALFORMED);
    free(p);

    /* Length field +-1 around the truth: one more runs past the datagram
     * (TRUNCATED), one less leaves a byte that is not a record. */
    b.len = 0;
    b_record(&b, KP_TLS_CT_HANDSHAKE, KP_TLS_V_DTLS12, 0, 0, 4);
    b_bytes(&b, "\x0e\x00\x00\x00", 4);
    p = exact_copy(b.b, b.len);
    p[12] = 5;
    d = kp_rd_make(p, b.len);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_TRUNCATED);
    struct kp_dtls_dgram dg;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(p, b.len), 0, NULL, NULL, NULL),
                     KP_RES_TRUNCATED);
    p[12] = 3;
    d = kp_rd_make(p, b.len);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    assert_int_equal(d.len, 1);
    /* The left-over byte 0x00 is not a record. */
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(p, b.len), 0, NULL, NULL, NULL),
                     KP_RES_MALFORMED);
    free(p);
}

static void test_record_cid12(void **state)
{
    (void)state;
    /* RFC 9146 4: type 25, version, epoch, sequence, cid, length. */
    static const uint8_t rec[] = {25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9,
                                  'C', 'I', 'D', 0, 2, 0xaa, 0xbb};
    struct kp_dtls_record r;
    struct kp_rd d = kp_rd_make(rec, sizeof rec);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 3), KP_RES_OK);
    assert_true(r.has_cid && r.encrypted && !r.cid_unknown);
    assert_true(rd_is(r.cid, "CID"));
    assert_int_equal(r.payload.len, 2);
    assert_int_equal(r.wire_len, sizeof rec);
    /* Unknown CID length: the rest of the datagram. */
    d = kp_rd_make(rec, sizeof rec);
    assert_int_equal(kp_dtls_parse_record(&r, &d, KP_DTLS_CID_UNKNOWN), KP_RES_OK);
    assert_true(r.cid_unknown);
    assert_int_equal(r.wire_len, sizeof rec);
    assert_int_equal(d.len, 0);
    /* A wrong CID length makes the length field land elsewhere. */
    d = kp_rd_make(rec, sizeof rec);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 4), KP_RES_TRUNCATED);
    /* RFC 9146: never in epoch 0. */
    uint8_t copy[sizeof rec];
    memcpy(copy, rec, sizeof rec);
    copy[4] = 0;
    d = kp_rd_make(copy, sizeof copy);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 3), KP_RES_MALFORMED);
    /* Every prefix. */
    for (size_t n = 0; n < sizeof rec; n++) {
        d = kp_rd_make(rec, n);
        enum kp_res res = kp_dtls_parse_record(&r, &d, 3);
        assert_int_equal(res, KP_RES_TRUNCATED);
    }
}

static void test_record_unified(void **state)
{
    (void)state;
    struct kp_dtls_record r;
    /* 001 C=0 S=1 L=1 EE=10: 16-bit sequence, length, epoch 2. */
    static const uint8_t u1[] = {0x2e, 0x12, 0x34, 0x00, 0x03, 'a', 'b', 'c', 0x2f, 0x01, 0x02,
                                 0x00, 0x01, 'z'};
    struct kp_rd d = kp_rd_make(u1, sizeof u1);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    assert_true(r.unified && r.encrypted && !r.has_cid && !r.length_implicit);
    assert_int_equal(r.content_type, 0);
    assert_int_equal(r.version, 0);
    assert_int_equal(r.epoch, 2);
    assert_true(r.seq == 0x1234);
    assert_true(rd_is(r.payload, "abc"));
    assert_int_equal(r.wire_len, 8);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    assert_int_equal(r.epoch, 3);
    assert_true(rd_is(r.payload, "z"));
    assert_int_equal(d.len, 0);

    /* 001 C=0 S=0 L=0 EE=11: 8-bit sequence, runs to the end. */
    static const uint8_t u2[] = {0x23, 0x07, 'r', 'e', 's', 't'};
    d = kp_rd_make(u2, sizeof u2);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
    assert_true(r.length_implicit);
    assert_true(r.seq == 7);
    assert_true(rd_is(r.payload, "rest"));
    assert_int_equal(d.len, 0);

    /* 001 C=1 S=1 L=1: CID of 3 bytes. */
    static const uint8_t u3[] = {0x3d, 'c', 'i', 'd', 0x00, 0x05, 0x00, 0x02, 'h', 'i'};
    d = kp_rd_make(u3, sizeof u3);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 3), KP_RES_OK);
    assert_true(r.has_cid);
    assert_true(rd_is(r.cid, "cid"));
    assert_int_equal(r.epoch, 1);
    assert_true(rd_is(r.payload, "hi"));
    d = kp_rd_make(u3, sizeof u3);
    assert_int_equal(kp_dtls_parse_record(&r, &d, KP_DTLS_CID_UNKNOWN), KP_RES_OK);
    assert_true(r.cid_unknown);
    assert_int_equal(r.payload.len, sizeof u3 - 1);
    assert_int_equal(d.len, 0);
    /* Prefixes: the ones before the payload ends are TRUNCATED. */
    for (size_t n = 0; n < sizeof u3; n++) {
        d = kp_rd_make(u3, n);
        assert_int_equal(kp_dtls_parse_record(&r, &d, 3), KP_RES_TRUNCATED);
    }
    /* Length field above the maximum. */
    static const uint8_t u4[] = {0x2c, 0x00, 0x00, 0xff, 0xff};
    d = kp_rd_make(u4, sizeof u4);
    assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_MALFORMED);
    /* Every first byte 0x20..0x3f is a unified header. */
    for (unsigned b0 = 0x20; b0 <= 0x3f; b0++) {
        uint8_t p[64] = {(uint8_t)b0};
        d = kp_rd_make(p, sizeof p);
        assert_int_equal(kp_dtls_parse_record(&r, &d, 4), KP_RES_OK);
        assert_true(r.unified);
        assert_int_equal(r.epoch, b0 & 3);
    }
}

/* ---- Fragments ---------------------------------------------------------- */

static void test_frag_parse(void **state)
{
    (void)state;
    static struct bld b;
    b.len = 0;
    b_frag(&b, KP_TLS_HS_CERTIFICATE, 10, 3, 4, (const uint8_t *)"456789", 6);
    b_frag(&b, KP_TLS_HS_SERVER_HELLO_DONE, 0, 4, 0, NULL, 0);
    uint8_t *p = exact_copy(b.b, b.len);
    struct kp_rd d = kp_rd_make(p, b.len);
    struct kp_dtls_hs_frag f;
    assert_int_equal(kp_dtls_parse_hs_frag(&f, &d), KP_RES_OK);
    assert_int_equal(f.msg_type, KP_TLS_HS_CERTIFICATE);
    assert_int_equal(f.length, 10);
    assert_int_equal(f.message_seq, 3);
    assert_int_equal(f.fragment_offset, 4);
    assert_true(rd_is(f.fragment, "456789"));
    assert_int_equal(kp_dtls_parse_hs_frag(&f, &d), KP_RES_OK);
    assert_int_equal(f.length, 0);
    assert_int_equal(f.fragment.len, 0);
    assert_int_equal(d.len, 0);
    /* Every shorter payload: MALFORMED (fragments do not span records),
     * input untouched. */
    for (size_t n = 0; n < 18; n++) {
        d = kp_rd_make(p, n);
        assert_int_equal(kp_dtls_parse_hs_frag(&f, &d), KP_RES_MALFORMED);
        assert_int_equal(d.len, n);
    }
    free(p);

    /* Every length field +-1 (bytes 1..3 length, 6..8 offset, 9..11
     * fragment length). */
    b.len = 0;
    b_frag(&b, KP_TLS_HS_CERTIFICATE, 10, 3, 4, (const uint8_t *)"456789", 6);
    struct {
        size_t pos;
        int delta;
        enum kp_res want;
    } cases[] = {
        {3, +1, KP_RES_OK},        /* length 11: still inside */
        {3, -1, KP_RES_MALFORMED}, /* length 9 < 4 + 6 */
        {8, +1, KP_RES_MALFORMED}, /* offset 5: 5 + 6 > 10 */
        {8, -1, KP_RES_OK},        /* offset 3 */
        {11, +1, KP_RES_MALFORMED}, /* fragment_length 7: runs past the payload */
        {11, -1, KP_RES_OK},       /* fragment_length 5: one byte left over */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *q = exact_copy(b.b, b.len);
        q[cases[i].pos] = (uint8_t)(q[cases[i].pos] + cases[i].delta);
        d = kp_rd_make(q, b.len);
        assert_int_equal(kp_dtls_parse_hs_frag(&f, &d), cases[i].want);
        if (cases[i].want == KP_RES_OK) {
            assert_true(inside(f.fragment, q, b.len));
        }
        free(q);
    }
    /* offset + fragment_length > length with huge values (no overflow). */
    b.len = 0;
    b_u8(&b, 1);
    b_u24(&b, 0xffffff);
    b_u16(&b, 0);
    b_u24(&b, 0xffffff);
    b_u24(&b, 1);
    b_u8(&b, 0);
    d = kp_rd_make(b.b, b.len);
    assert_int_equal(kp_dtls_parse_hs_frag(&f, &d), KP_RES_MALFORMED);
}

/* ---- Reassembly --------------------------------------------------------- */

static struct kp_dtls_hs *hs_new(void)
{
    struct kp_dtls_hs *hs = malloc(sizeof *hs);
    assert_non_null(hs);
    /* Poisoned: reset must clear everything that is read before written
     * (the slot buffers it leaves alone are garbage here). */
    memset(hs, 0xa5, sizeof *hs);
    kp_dtls_hs_reset(hs);
    return hs;
}

static void test_reasm_out_of_order(void **state)
{
    (void)state;
    struct kp_dtls_hs *hs = hs_new();
    struct coll c = {0};
    c.hs = hs;
    uint8_t body[1000];
    for (size_t i = 0; i < sizeof body; i++) {
        body[i] = (uint8_t)(i * 7 + 3);
    }
    /* Fragments of message 2 in reverse order, message 1 whole, then the
     * first fragment of message 2. */
    struct kp_dtls_hs_frag f;
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 1000, 2, 600, body + 600, 400);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 1000, 2, 300, body + 300, 300);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 0);
    c.buf = body;
    c.buf_len = sizeof body;
    f = mk_frag(KP_TLS_HS_SERVER_HELLO, 50, 1, 0, body, 50);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.m[0].type, KP_TLS_HS_SERVER_HELLO);
    assert_false(c.m[0].reassembled);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 1000, 2, 0, body, 300);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.m[1].type, KP_TLS_HS_CERTIFICATE);
    assert_int_equal(c.m[1].seq, 2);
    assert_true(c.m[1].reassembled);
    assert_int_equal(c.m[1].len, 1000);
    assert_memory_equal(c.m[1].body, body, 1000);
    /* Seq 0 never came: base stays 0, 1 and 2 are done. */
    assert_int_equal(hs->base, 0);
    assert_int_equal(hs->delivered, 2);
    /* Retransmissions of both messages: not delivered again. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 1000, 2, 0, body, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    f = mk_frag(KP_TLS_HS_SERVER_HELLO, 50, 1, 0, body, 50);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 2);
    /* Seq 0 arrives: the window slides past 0, 1, 2. */
    f = mk_frag(KP_TLS_HS_HELLO_VERIFY_REQUEST, 3, 0, 0, body, 3);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(hs->base, 3);
    assert_true(hs->done == 0);
    f = mk_frag(KP_TLS_HS_HELLO_VERIFY_REQUEST, 3, 0, 0, body, 3);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(hs->anomalies, 0);
    assert_int_equal(hs->dropped, 0);
    for (size_t i = 0; i < KP_DTLS_HS_SLOTS; i++) {
        assert_false(hs->slot[i].used);
    }
    coll_free(&c);
    free(hs);
}

/* The slot buffers are never cleared wholesale (kp_dtls_hs_reset leaves
 * them, a slot taken clears only the have bits of its message length):
 * messages in several fragments still reassemble exactly, whether the slot
 * holds malloc garbage or the bytes of a longer message delivered before,
 * and no stale byte counts as an overlap. */
static void test_reasm_slot_reuse(void **state)
{
    (void)state;
    struct kp_dtls_hs *hs = hs_new();
    struct coll c = {0};
    c.hs = hs;
    uint8_t a[3000], b[700];
    for (size_t i = 0; i < sizeof a; i++) {
        a[i] = (uint8_t)(i * 13 + 1);
    }
    for (size_t i = 0; i < sizeof b; i++) {
        b[i] = (uint8_t)(0xa5 ^ (i * 3)); /* some bytes equal the poison */
    }
    /* Message 0: three fragments, last one first, into a poisoned slot. */
    struct kp_dtls_hs_frag f;
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 0, 2000, a + 2000, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 0, 0, a, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 0);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 0, 1000, a + 1000, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.m[0].reassembled);
    assert_int_equal(c.m[0].len, sizeof a);
    assert_memory_equal(c.m[0].body, a, sizeof a);
    /* Message 1, shorter, reuses the slot over message 0's bytes; its
     * fragments overlap each other (same bytes: no anomaly). */
    f = mk_frag(KP_TLS_HS_SERVER_KEY_EXCHANGE, 700, 1, 300, b + 300, 400);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    f = mk_frag(KP_TLS_HS_SERVER_KEY_EXCHANGE, 700, 1, 0, b, 350);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 2);
    assert_true(c.m[1].reassembled);
    assert_int_equal(c.m[1].len, sizeof b);
    assert_memory_equal(c.m[1].body, b, sizeof b);
    assert_int_equal(hs->anomalies, 0);
    assert_int_equal(hs->base, 2);
    /* A reset in the middle of a message forgets its fragments: after it,
     * the message needs all of its bytes again. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 2, 0, a, 2000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    kp_dtls_hs_reset(hs);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 2, 2000, a + 2000, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 2);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 2, 0, a, 1999);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 2);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 3000, 2, 1999, a + 1999, 1);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 3);
    assert_memory_equal(c.m[2].body, a, sizeof a);
    assert_int_equal(hs->anomalies, 0);
    coll_free(&c);
    free(hs);
}

static void test_reasm_overlap(void **state)
{
    (void)state;
    struct kp_dtls_hs *hs = hs_new();
    struct coll c = {0};
    c.hs = hs;
    uint8_t a[100], b2[100];
    memset(a, 'A', sizeof a);
    memset(b2, 'B', sizeof b2);
    struct kp_dtls_hs_frag f;
    /* 0..59 from A, then 40..99 from B: bytes 40..59 overlap and differ;
     * the first copy (A) wins. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0, 0, a, 60);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0, 40, b2, 60);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    for (size_t i = 0; i < 60; i++) {
        assert_int_equal(c.m[0].body[i], 'A');
    }
    for (size_t i = 60; i < 100; i++) {
        assert_int_equal(c.m[0].body[i], 'B');
    }
    assert_true(hs->anomalies & KP_DTLS_ANOM_OVERLAP_MISMATCH);

    /* Identical overlaps and exact retransmissions raise no anomaly. */
    kp_dtls_hs_reset(hs);
    coll_free(&c);
    for (int rep = 0; rep < 3; rep++) {
        f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0, 10, a, 50);
        assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
        f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0, 30, a, 20);
        assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    }
    assert_int_equal(c.n, 0);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0, 0, a, 10);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 0);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0, 60, a, 40);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    assert_memory_equal(c.m[0].body, a, 100);
    assert_int_equal(hs->anomalies, 0);

    /* A whole copy arriving while fragments are pending: merged, first
     * bytes kept. */
    kp_dtls_hs_reset(hs);
    coll_free(&c);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 5, 0, a, 30);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    c.buf = b2;
    c.buf_len = sizeof b2;
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 5, 0, b2, 100);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.m[0].reassembled);
    assert_int_equal(c.m[0].body[0], 'A');
    assert_int_equal(c.m[0].body[99], 'B');
    coll_free(&c);
    free(hs);
}

static void test_reasm_inconsistent(void **state)
{
    (void)state;
    struct kp_dtls_hs *hs = hs_new();
    struct coll c = {0};
    c.hs = hs;
    uint8_t a[64] = {0};
    struct kp_dtls_hs_frag f;
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 64, 1, 0, a, 32);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    /* Same seq, other length or type: dropped. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 65, 1, 32, a, 32);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_MALFORMED);
    f = mk_frag(KP_TLS_HS_SERVER_KEY_EXCHANGE, 64, 1, 32, a, 32);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_MALFORMED);
    assert_true(hs->anomalies & KP_DTLS_ANOM_FRAG_INCONSISTENT);
    assert_int_equal(hs->dropped, 2);
    assert_int_equal(c.n, 0);
    /* fragment_offset + fragment_length > length. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 64, 1, 40, a, 32);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_MALFORMED);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 64, 1, 0xffffff, a, 1);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_MALFORMED);
    /* The consistent rest completes it. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 64, 1, 32, a, 32);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.m[0].len, 64);
    coll_free(&c);
    free(hs);
}

static void test_reasm_bounds(void **state)
{
    (void)state;
    struct kp_dtls_hs *hs = hs_new();
    struct coll c = {0};
    c.hs = hs;
    static uint8_t big[KP_DTLS_HS_MAX_MSG + 2];
    memset(big, 0x5a, sizeof big);
    c.buf = big;
    c.buf_len = sizeof big;
    struct kp_dtls_hs_frag f;

    /* message_seq far ahead: dropped, nothing stored. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 0xffff, 0, big, 10);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_NOMEM);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, KP_DTLS_HS_WINDOW, 0, big, 100);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_NOMEM);
    assert_true(hs->anomalies & KP_DTLS_ANOM_SEQ_WINDOW);
    for (size_t i = 0; i < KP_DTLS_HS_SLOTS; i++) {
        assert_false(hs->slot[i].used);
    }
    /* The last seq inside the window is fine. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, KP_DTLS_HS_WINDOW - 1, 0, big, 100);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);

    /* A fragmented message over the capacity: dropped; exactly the capacity:
     * reassembled. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, KP_DTLS_HS_MAX_MSG + 1, 1, 0, big, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_NOMEM);
    assert_true(hs->anomalies & KP_DTLS_ANOM_MSG_TOO_LONG);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, KP_DTLS_HS_MAX_MSG, 1, 1000, big,
                KP_DTLS_HS_MAX_MSG - 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, KP_DTLS_HS_MAX_MSG, 1, 0, big, 1000);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.m[1].len, KP_DTLS_HS_MAX_MSG);
    /* A whole message over the capacity in one fragment: delivered without
     * copying. */
    f = mk_frag(KP_TLS_HS_CERTIFICATE, KP_DTLS_HS_MAX_MSG + 2, 2, 0, big, sizeof big);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.m[2].len, sizeof big);
    assert_false(c.m[2].reassembled);

    /* All slots busy: the next partial message is dropped. */
    for (uint16_t s = 10; s < 10 + KP_DTLS_HS_SLOTS; s++) {
        f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, s, 0, big, 50);
        assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    }
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 20, 0, big, 50);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_NOMEM);
    assert_true(hs->anomalies & KP_DTLS_ANOM_NO_SLOT);
    /* ... but whole messages still pass, and finishing one frees a slot. */
    f = mk_frag(KP_TLS_HS_FINISHED, 12, 21, 0, big, 12);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 4);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 10, 50, big, 50);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 5);
    f = mk_frag(KP_TLS_HS_CERTIFICATE, 100, 20, 0, big, 50);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    coll_free(&c);

    /* A long run of messages slides the window along: all delivered once. */
    kp_dtls_hs_reset(hs);
    for (uint32_t s = 0; s < 1000; s++) {
        f = mk_frag(KP_TLS_HS_FINISHED, 2, (uint16_t)s, 0, big, 1);
        assert_int_equal(kp_dtls_hs_add(hs, &f, NULL, NULL), KP_RES_OK);
        f = mk_frag(KP_TLS_HS_FINISHED, 2, (uint16_t)s, 1, big, 1);
        assert_int_equal(kp_dtls_hs_add(hs, &f, NULL, NULL), KP_RES_OK);
        f = mk_frag(KP_TLS_HS_FINISHED, 2, (uint16_t)s, 0, big, 2);
        assert_int_equal(kp_dtls_hs_add(hs, &f, NULL, NULL), KP_RES_OK);
    }
    assert_int_equal(hs->delivered, 1000);
    assert_int_equal(hs->base, 1000);
    /* The top of the message_seq space. */
    kp_dtls_hs_reset(hs);
    hs->base = 0xfff0;
    for (uint32_t s = 0xfff0; s <= 0xffff; s++) {
        f = mk_frag(KP_TLS_HS_FINISHED, 1, (uint16_t)s, 0, big, 1);
        assert_int_equal(kp_dtls_hs_add(hs, &f, NULL, NULL), KP_RES_OK);
    }
    assert_int_equal(hs->delivered, 16);
    f = mk_frag(KP_TLS_HS_FINISHED, 1, 0xffff, 0, big, 1);
    assert_int_equal(kp_dtls_hs_add(hs, &f, NULL, NULL), KP_RES_OK);
    assert_int_equal(hs->delivered, 16);
    /* Zero-length messages complete at once. */
    kp_dtls_hs_reset(hs);
    c.buf = big;
    c.buf_len = sizeof big;
    f = mk_frag(KP_TLS_HS_SERVER_HELLO_DONE, 0, 0, 0, big, 0);
    assert_int_equal(kp_dtls_hs_add(hs, &f, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.m[0].len, 0);
    coll_free(&c);
    free(hs);
}

/* ---- Scan of hand-built datagrams --------------------------------------- */

static void test_scan_built(void **state)
{
    (void)state;
    static struct bld b;
    uint8_t body[300];
    for (size_t i = 0; i < sizeof body; i++) {
        body[i] = (uint8_t)i;
    }
    /* Datagram 1: two records; the second holds two fragments. */
    b.len = 0;
    b_frag_record(&b, KP_TLS_HS_SERVER_HELLO, 40, 1, 0, body, 40);
    b_record(&b, KP_TLS_CT_HANDSHAKE, KP_TLS_V_DTLS12, 0, 2, (uint16_t)(12 + 100 + 12 + 0));
    b_frag(&b, KP_TLS_HS_CERTIFICATE, 300, 2, 0, body, 100);
    b_frag(&b, KP_TLS_HS_SERVER_HELLO_DONE, 0, 3, 0, NULL, 0);
    uint8_t *d1 = exact_copy(b.b, b.len);
    size_t d1_len = b.len;
    /* Datagram 2: the rest of the certificate out of order, a CCS, an alert
     * in clear, an epoch-1 record and a unified-header record. */
    b.len = 0;
    b_frag_record(&b, KP_TLS_HS_CERTIFICATE, 300, 2, 200, body + 200, 100);
    b_frag_record(&b, KP_TLS_HS_CERTIFICATE, 300, 2, 100, body + 100, 100);
    b_record(&b, KP_TLS_CT_CHANGE_CIPHER_SPEC, KP_TLS_V_DTLS12, 0, 5, 1);
    b_u8(&b, 1);
    b_record(&b, KP_TLS_CT_ALERT, KP_TLS_V_DTLS12, 0, 6, 2);
    b_u8(&b, 2);
    b_u8(&b, 40);
    b_record(&b, KP_TLS_CT_HANDSHAKE, KP_TLS_V_DTLS12, 1, 0, 4);
    b_bytes(&b, "\xff\xff\xff\xff", 4);
    b_bytes(&b, "\x2c\x00\x00\x00\x02zz", 7);
    uint8_t *d2 = exact_copy(b.b, b.len);
    size_t d2_len = b.len;

    struct kp_dtls_hs *hs = hs_new();
    struct coll c = {0};
    c.hs = hs;
    struct kp_dtls_dgram dg;
    c.buf = d1;
    c.buf_len = d1_len;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(d1, d1_len), 0, hs, collect, &c), KP_RES_OK);
    assert_int_equal(dg.n_records, 2);
    assert_int_equal(dg.n_fragments, 3);
    assert_int_equal(dg.version, KP_TLS_V_DTLS12);
    assert_true(dg.handshake);
    assert_false(dg.encrypted || dg.ccs || dg.alert || dg.unified);
    assert_int_equal(c.n, 2); /* ServerHello, ServerHelloDone */
    c.buf = d2;
    c.buf_len = d2_len;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(d2, d2_len), 0, hs, collect, &c), KP_RES_OK);
    assert_int_equal(dg.n_records, 6);
    assert_true(dg.ccs && dg.alert && dg.encrypted && dg.unified);
    assert_int_equal(dg.alert_level, 2);
    assert_int_equal(dg.alert_description, 40);
    assert_int_equal(c.n, 3);
    const struct msg_rec *cert = coll_find(&c, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(cert->len, 300);
    assert_memory_equal(cert->body, body, 300);
    /* The same datagrams again: nothing new. */
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(d2, d2_len), 0, hs, collect, &c), KP_RES_OK);
    c.buf = d1;
    c.buf_len = d1_len;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(d1, d1_len), 0, hs, collect, &c), KP_RES_OK);
    assert_int_equal(c.n, 3);
    coll_free(&c);

    /* Without reassembly state: only whole messages. */
    c.hs = NULL;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(d1, d1_len), 0, NULL, collect, &c),
                     KP_RES_OK);
    assert_int_equal(c.n, 2);
    coll_free(&c);

    /* A malformed fragment in the second record: MALFORMED, the first
     * record's message was delivered. */
    uint8_t *bad = exact_copy(d1, d1_len);
    bad[13 + 12 + 40 + 13 + 9 + 2] = 101; /* fragment_length 100 -> 101 */
    kp_dtls_hs_reset(hs);
    c.hs = hs;
    c.buf = bad;
    c.buf_len = d1_len;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(bad, d1_len), 0, hs, collect, &c),
                     KP_RES_MALFORMED);
    assert_int_equal(c.n, 1);
    coll_free(&c);
    free(bad);

    /* Empty records are anomalies, not errors. */
    b.len = 0;
    b_record(&b, KP_TLS_CT_HANDSHAKE, KP_TLS_V_DTLS12, 0, 0, 0);
    b_record(&b, KP_TLS_CT_CHANGE_CIPHER_SPEC, KP_TLS_V_DTLS12, 0, 1, 0);
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(b.b, b.len), 0, hs, NULL, NULL), KP_RES_OK);
    assert_true(dg.anomalies & KP_DTLS_ANOM_EMPTY_RECORD);
    /* Not DTLS, empty. */
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make((const uint8_t *)"\x80\x00", 2), 0, hs,
                                  NULL, NULL),
                     KP_RES_NOT_MINE);
    assert_int_equal(dg.n_records, 0);
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(NULL, 0), 0, hs, NULL, NULL),
                     KP_RES_TRUNCATED);
    /* A reassembly refusal is recorded but does not stop the scan. */
    b.len = 0;
    b_frag_record(&b, KP_TLS_HS_CERTIFICATE, 100, 0x7fff, 0, body, 10);
    b_frag_record(&b, KP_TLS_HS_FINISHED, 1, 0, 0, body, 1);
    kp_dtls_hs_reset(hs);
    c.buf = b.b;
    c.buf_len = b.len;
    assert_int_equal(kp_dtls_scan(&dg, kp_rd_make(b.b, b.len), 0, hs, collect, &c), KP_RES_OK);
    assert_true(dg.anomalies & KP_DTLS_ANOM_SEQ_WINDOW);
    assert_int_equal(c.n, 1);
    coll_free(&c);
    free(hs);
    free(d1);
    free(d2);
}

static void test_hello_verify_request(void **state)
{
    (void)state;
    static const uint8_t hvr[] = {0xfe, 0xff, 3, 'a', 'b', 'c'};
    struct kp_dtls_hello_verify_request h;
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(hvr, sizeof hvr)),
                     KP_RES_OK);
    assert_int_equal(h.server_version, 0xfeff);
    assert_true(rd_is(h.cookie, "abc"));
    for (size_t n = 0; n < sizeof hvr; n++) {
        assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(hvr, n)),
                         KP_RES_MALFORMED);
    }
    uint8_t longer[sizeof hvr + 1];
    memcpy(longer, hvr, sizeof hvr);
    longer[sizeof hvr] = 0;
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(longer, sizeof longer)),
                     KP_RES_MALFORMED);
    /* Cookie length +-1. */
    uint8_t m[sizeof hvr];
    memcpy(m, hvr, sizeof hvr);
    m[2] = 4;
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(m, sizeof m)),
                     KP_RES_MALFORMED);
    m[2] = 2;
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(m, sizeof m)),
                     KP_RES_MALFORMED);
    /* An empty cookie is allowed. */
    static const uint8_t empty[] = {0xfe, 0xff, 0};
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(empty, sizeof empty)),
                     KP_RES_OK);
    assert_int_equal(h.cookie.len, 0);
}

static void test_hello_cid_built(void **state)
{
    (void)state;
    static struct bld b;
    /* A minimal DTLS ServerHello with connection_id and one other
     * extension. */
    b.len = 0;
    b_u16(&b, KP_TLS_V_DTLS12);
    for (int i = 0; i < 32; i++) {
        b_u8(&b, 0);
    }
    b_u8(&b, 0);          /* session id */
    b_u16(&b, 0xc02f);    /* cipher */
    b_u8(&b, 0);          /* compression */
    b_u16(&b, 4 + 0 + 4 + 4);
    b_u16(&b, 0xff01);
    b_u16(&b, 0);
    b_u16(&b, KP_DTLS_EXT_CONNECTION_ID);
    b_u16(&b, 4);
    b_u8(&b, 3);
    b_bytes(&b, "xyz", 3);
    bool present;
    struct kp_rd cid;
    uint8_t *p = exact_copy(b.b, b.len);
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(p, b.len), KP_TLS_HS_SERVER_HELLO, &present,
                                       &cid),
                     KP_RES_OK);
    assert_true(present);
    assert_true(rd_is(cid, "xyz"));
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(p, b.len), KP_TLS_HS_CERTIFICATE, &present,
                                       &cid),
                     KP_RES_NOT_MINE);
    /* Every prefix: MALFORMED, or OK without extensions at exactly 38. */
    for (size_t n = 0; n < b.len; n++) {
        enum kp_res r = kp_dtls_hello_cid(kp_rd_make(p, n), KP_TLS_HS_SERVER_HELLO, &present,
                                          &cid);
        if (n == 38) {
            assert_int_equal(r, KP_RES_OK);
            assert_false(present);
        } else {
            assert_int_equal(r, KP_RES_MALFORMED);
        }
    }
    /* The cid length +-1 (the byte before "xyz"). */
    uint8_t *cid_len_byte = p + (b.len - 4);
    assert_int_equal(*cid_len_byte, 3);
    *cid_len_byte = 4;
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(p, b.len), KP_TLS_HS_SERVER_HELLO, &present,
                                       &cid),
                     KP_RES_MALFORMED);
    *cid_len_byte = 2;
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(p, b.len), KP_TLS_HS_SERVER_HELLO, &present,
                                       &cid),
                     KP_RES_MALFORMED);
    free(p);
}

/* ---- Real captures ------------------------------------------------------ */

/* dtls12_zeek.pcap: fragmented ClientHello (tshark: frames 1-2, seq 0, 203 +
 * 84 of 287 bytes), HelloVerifyRequest, second ClientHello (frames 4-5, seq
 * 1, 307 bytes), ServerHello (57 bytes, DTLS 1.2, cipher 0xc030),
 * Certificate (874 bytes in 5 fragments, one 868-byte certificate,
 * O=Internet Widgits Pty Ltd, ST=Some-State, C=AU, serial
 * 0x0087aaffbca26e44bf), ServerKeyExchange (329 bytes in 3 fragments),
 * ServerHelloDone, ClientKeyExchange (66), NewSessionTicket (166). */
static void test_capture_dtls12(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls12_zeek.hex");
    assert_int_equal(v.n, 16);
    struct assoc *a = assoc_new();
    assoc_scan_all(a, &v);

    assert_int_equal(coll_count(&a->c, KP_TLS_HS_CLIENT_HELLO), 2);
    const struct msg_rec *ch0 = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 0);
    const struct msg_rec *ch1 = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 1);
    assert_int_equal(ch0->len, 287);
    assert_int_equal(ch0->seq, 0);
    assert_true(ch0->reassembled);
    assert_int_equal(ch1->len, 307);
    assert_int_equal(ch1->seq, 1);
    static struct kp_tls_client_hello ch;
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(ch1->body, ch1->len), true),
                     KP_RES_OK);
    assert_int_equal(ch.legacy_version, KP_TLS_V_DTLS12);
    assert_int_equal(ch.cookie_len, 20);
    assert_int_equal(ch.ciphers[0], 0xc030);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(ch0->body, ch0->len), true),
                     KP_RES_OK);
    assert_int_equal(ch.cookie_len, 0);

    const struct msg_rec *hvr = coll_find(&a->s, KP_TLS_HS_HELLO_VERIFY_REQUEST, 0);
    struct kp_dtls_hello_verify_request h;
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(hvr->body, hvr->len)),
                     KP_RES_OK);
    assert_int_equal(h.server_version, KP_TLS_V_DTLS10); /* tshark: 0xfeff */
    assert_int_equal(h.cookie.len, 20);
    /* The second ClientHello echoes the cookie (RFC 6347 4.2.1). */
    assert_true(ch1->len > 60);
    static struct kp_tls_client_hello ch1p;
    assert_int_equal(kp_tls_parse_client_hello(&ch1p, kp_rd_make(ch1->body, ch1->len), true),
                     KP_RES_OK);
    assert_memory_equal(ch1p.cookie.p, h.cookie.p, 20);

    const struct msg_rec *sh = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(sh->len, 57);
    static struct kp_tls_server_hello shp;
    assert_int_equal(kp_tls_parse_server_hello(&shp, kp_rd_make(sh->body, sh->len), true),
                     KP_RES_OK);
    assert_int_equal(shp.version, KP_TLS_V_DTLS12);
    assert_int_equal(shp.cipher_suite, 0xc030);

    const struct msg_rec *cert = coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(cert->len, 874);
    assert_true(cert->reassembled);
    struct kp_cert_info info;
    size_t der_len;
    cert_summary(cert, 0, &info, &der_len);
    assert_int_equal(der_len, 868);
    assert_string_equal(info.subject_o, "Internet Widgits Pty Ltd");
    assert_string_equal(info.subject_c, "AU");
    assert_string_equal(info.serial, "87aaffbca26e44bf");
    assert_true(info.self_signed);

    assert_int_equal(coll_find(&a->s, KP_TLS_HS_SERVER_KEY_EXCHANGE, 0)->len, 329);
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_SERVER_HELLO_DONE, 0)->len, 0);
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_NEW_SESSION_TICKET, 0)->len, 166);
    assert_int_equal(coll_find(&a->c, KP_TLS_HS_CLIENT_KEY_EXCHANGE, 0)->len, 66);
    assert_int_equal(a->c.n, 3);
    assert_int_equal(a->s.n, 6);
    assert_int_equal(a->hs_c.anomalies | a->hs_s.anomalies, 0);

    /* Frame 13: CKE, CCS, then an epoch-1 record (the Finished). */
    struct kp_dtls_dgram dg;
    struct assoc *b2 = assoc_new();
    assert_int_equal(assoc_scan(b2, vec_frame(&v, 13), 0, &dg), KP_RES_OK);
    assert_int_equal(dg.n_records, 3);
    assert_true(dg.ccs && dg.encrypted && dg.handshake);
    /* Frame 16: encrypted alert (epoch 1): not read as an alert. */
    assert_int_equal(assoc_scan(b2, vec_frame(&v, 16), 0, &dg), KP_RES_OK);
    assert_true(dg.encrypted);
    assert_false(dg.alert);
    assoc_free(b2);
    assoc_free(a);
    vec_free(&v);
}

/* dtls10_zeek.pcap: DTLS 1.0 (0xfeff); frame 6 holds ServerHello (54),
 * Certificate (761: one 755-byte certificate, CN=bro, serial
 * 0x00e8e48e456c32945f), ServerKeyExchange (327), ServerHelloDone; cipher
 * 0xc014; frames 9-10 application data in epoch 1. */
static void test_capture_dtls10(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls10_zeek.hex");
    assert_int_equal(v.n, 11);
    struct assoc *a = assoc_new();
    assoc_scan_all(a, &v);
    const struct msg_rec *sh = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    static struct kp_tls_server_hello shp;
    assert_int_equal(kp_tls_parse_server_hello(&shp, kp_rd_make(sh->body, sh->len), true),
                     KP_RES_OK);
    assert_int_equal(shp.version, KP_TLS_V_DTLS10);
    assert_int_equal(shp.cipher_suite, 0xc014);
    const struct msg_rec *cert = coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(cert->len, 761);
    assert_false(cert->reassembled);
    struct kp_cert_info info;
    size_t der_len;
    cert_summary(cert, 0, &info, &der_len);
    assert_int_equal(der_len, 755);
    assert_string_equal(info.subject_cn, "bro");
    assert_string_equal(info.issuer_cn, "bro");
    assert_string_equal(info.serial, "e8e48e456c32945f");
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_SERVER_KEY_EXCHANGE, 0)->len, 327);
    static struct kp_tls_client_hello ch;
    const struct msg_rec *c1 = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 1);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(c1->body, c1->len), true),
                     KP_RES_OK);
    assert_int_equal(ch.legacy_version, KP_TLS_V_DTLS10);
    assert_int_equal(ch.ciphers[0], 0xc014);
    /* Frames 9 and 10: application data. */
    struct kp_dtls_dgram dg;
    assert_int_equal(assoc_scan(a, vec_frame(&v, 9), 0, &dg), KP_RES_OK);
    assert_true(dg.app_data && dg.encrypted);
    assert_int_equal(dg.version, KP_TLS_V_DTLS10);
    assoc_free(a);
    vec_free(&v);
}

/* dtls_srtp_ndpi.pcap: ClientHello with use_srtp SRTP_AES128_CM_HMAC_SHA1_80
 * (tshark: dtls.use_srtp.protection_profile 0x0001), the same inside GTP-U
 * (frame 3), a fatal unexpected_message alert (frame 6: tshark "Alert
 * (Level: Fatal, Description: Unexpected Message)"), then a DTLS 1.3
 * ClientHello (supported_versions 0xfefc) and HelloRetryRequest. */
static void test_capture_srtp(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls_srtp_ndpi.hex");
    struct kp_dtls_dgram dg;
    static struct kp_tls_client_hello ch;
    for (unsigned fr = 1; fr <= 3; fr += 2) {
        struct assoc *a = assoc_new();
        assert_int_equal(assoc_scan(a, vec_frame(&v, fr), 0, &dg), KP_RES_OK);
        assert_int_equal(dg.version, KP_TLS_V_DTLS10);
        const struct msg_rec *m = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 0);
        assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m->body, m->len), true),
                         KP_RES_OK);
        assert_int_equal(ch.legacy_version, KP_TLS_V_DTLS12);
        assert_true(ch.has_use_srtp);
        assert_int_equal(ch.n_srtp_profiles, 1);
        assert_int_equal(ch.srtp_profiles[0], 0x0001);
        assert_string_equal(kp_srtp_profile_name(ch.srtp_profiles[0]),
                            "SRTP_AES128_CM_HMAC_SHA1_80");
        assoc_free(a);
    }
    struct assoc *a = assoc_new();
    assert_int_equal(assoc_scan(a, vec_frame(&v, 6), 0, &dg), KP_RES_OK);
    assert_true(dg.alert);
    assert_int_equal(dg.alert_level, 2);
    assert_int_equal(dg.alert_description, 10);
    assert_int_equal(assoc_scan(a, vec_frame(&v, 7), 0, &dg), KP_RES_OK);
    assert_int_equal(assoc_scan(a, vec_frame(&v, 8), 0, &dg), KP_RES_OK);
    const struct msg_rec *m = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 0);
    assert_int_equal(m->len, 497);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_true(ch.has_supported_versions);
    bool has13 = false;
    for (size_t i = 0; i < ch.n_versions; i++) {
        has13 |= ch.versions[i] == KP_TLS_V_DTLS13;
    }
    assert_true(has13);
    const struct msg_rec *hrr = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    static struct kp_tls_server_hello sh;
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(hrr->body, hrr->len), true),
                     KP_RES_OK);
    assert_true(sh.is_hrr);
    assert_int_equal(sh.selected_version, KP_TLS_V_DTLS13);
    assert_int_equal(sh.cipher_suite, 0x1301);
    assoc_free(a);
    vec_free(&v);
}

/* meet_stun_dtls_srtp_ndpi.pcapng: Chrome's ClientHello offers use_srtp
 * 0x0001, 0x0008, 0x0007 (tshark); Google's server (port 19305) answers with
 * ServerHello (use_srtp 0x0008, cipher 0xc02f), Certificate (689 bytes: one
 * 683-byte certificate CN=hangouts, serial 0x00be723641b3ef32f4),
 * ServerKeyExchange (296), CertificateRequest (25), ServerHelloDone; the
 * client sends Certificate (CN=WebRTC, 281 bytes), CKE (33), CertificateVerify
 * (75); NewSessionTicket (470); then epoch-1 application data. */
static void test_capture_meet(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "meet_dtls.hex");
    struct assoc *a = assoc_new();
    assoc_scan_all(a, &v);
    static struct kp_tls_client_hello ch;
    const struct msg_rec *m = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 0);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_int_equal(ch.n_srtp_profiles, 3);
    assert_int_equal(ch.srtp_profiles[0], 0x0001);
    assert_int_equal(ch.srtp_profiles[1], 0x0008);
    assert_int_equal(ch.srtp_profiles[2], 0x0007);
    static struct kp_tls_server_hello sh;
    m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_true(sh.has_use_srtp);
    assert_int_equal(sh.srtp_profile, 0x0008);
    assert_string_equal(kp_srtp_profile_name(sh.srtp_profile), "SRTP_AEAD_AES_256_GCM");
    assert_int_equal(sh.cipher_suite, 0xc02f);
    assert_int_equal(sh.version, KP_TLS_V_DTLS12);
    struct kp_cert_info info;
    size_t der_len;
    m = coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(m->len, 689);
    cert_summary(m, 0, &info, &der_len);
    assert_int_equal(der_len, 683);
    assert_string_equal(info.subject_cn, "hangouts");
    assert_string_equal(info.serial, "be723641b3ef32f4");
    m = coll_find(&a->c, KP_TLS_HS_CERTIFICATE, 0);
    cert_summary(m, 0, &info, &der_len);
    assert_int_equal(der_len, 281);
    assert_string_equal(info.subject_cn, "WebRTC");
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_SERVER_KEY_EXCHANGE, 0)->len, 296);
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_CERTIFICATE_REQUEST, 0)->len, 25);
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_NEW_SESSION_TICKET, 0)->len, 470);
    assert_int_equal(coll_find(&a->c, KP_TLS_HS_CLIENT_KEY_EXCHANGE, 0)->len, 33);
    assert_int_equal(coll_find(&a->c, KP_TLS_HS_CERTIFICATE_VERIFY, 0)->len, 75);
    struct kp_dtls_dgram dg;
    assert_int_equal(assoc_scan(a, vec_frame(&v, 29), 0, &dg), KP_RES_OK);
    assert_true(dg.app_data && dg.encrypted);
    assoc_free(a);
    vec_free(&v);
}

/* dtls_certificate_fragments_ndpi.pcap, first association: DTLS 1.0 server
 * (cipher 0x0035); the Certificate (1547 bytes) is split over frames 4 and
 * 5 (tshark: offsets 0 and 1308, lengths 1308 and 239); its first
 * certificate (1541 bytes, serial 0x010e) is CN=*.opera-mini.net, O=Opera
 * Software ASA, C=NO, issued by CN=Opera Max CA. */
static void test_capture_cert_frag_opera(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls_cert_frag_opera.hex");
    struct assoc *a = assoc_new();
    /* Frame 4 alone does not deliver the certificate. */
    struct kp_dtls_dgram dg;
    assert_int_equal(assoc_scan(a, vec_frame(&v, 4), 0, &dg), KP_RES_OK);
    assert_int_equal(a->s.n, 1); /* the ServerHello */
    assert_int_equal(assoc_scan(a, vec_frame(&v, 5), 0, &dg), KP_RES_OK);
    const struct msg_rec *m = coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(m->len, 1547);
    assert_true(m->reassembled);
    struct kp_cert_info info;
    size_t der_len;
    cert_summary(m, 0, &info, &der_len);
    assert_int_equal(der_len, 1541);
    assert_string_equal(info.subject_cn, "*.opera-mini.net");
    assert_string_equal(info.subject_o, "Opera Software ASA");
    assert_string_equal(info.subject_c, "NO");
    assert_string_equal(info.issuer_cn, "Opera Max CA");
    assert_string_equal(info.serial, "010e");
    static struct kp_tls_server_hello sh;
    m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_int_equal(sh.version, KP_TLS_V_DTLS10);
    assert_int_equal(sh.cipher_suite, 0x0035);
    /* The rest of the vector, including the retransmission of frame 5. */
    assoc_scan_all(a, &v);
    assert_int_equal(assoc_scan(a, vec_frame(&v, 5), 0, &dg), KP_RES_OK);
    assert_int_equal(coll_count(&a->s, KP_TLS_HS_CERTIFICATE), 1);
    assert_int_equal(coll_count(&a->s, KP_TLS_HS_HELLO_VERIFY_REQUEST), 1);
    assoc_free(a);

    /* Frame 5 before frame 4 gives the same certificate. */
    a = assoc_new();
    assert_int_equal(assoc_scan(a, vec_frame(&v, 5), 0, &dg), KP_RES_OK);
    assert_int_equal(coll_count(&a->s, KP_TLS_HS_CERTIFICATE), 0);
    assert_int_equal(assoc_scan(a, vec_frame(&v, 4), 0, &dg), KP_RES_OK);
    m = coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0);
    cert_summary(m, 0, &info, &der_len);
    assert_string_equal(info.subject_cn, "*.opera-mini.net");
    assoc_free(a);
    vec_free(&v);
}

/* dtls_certificate_fragments_ndpi.pcap, second association (a Discord voice
 * server, 104.153.87.149:50001): the ClientHello is sent twice (frames 21,
 * 22: delivered once); ServerHello (use_srtp 0x0001, cipher 0xc02f), a
 * 1712-byte Certificate in 8 fragments over frames 23 and 24 (leaf
 * certificate 1706 bytes, CN=*.discord.gg, serial
 * 0x4ce157a9b085e1bba0e5360de8150cac, issuer CN=Sectigo RSA Domain
 * Validation Secure Server CA, SAN *.discord.gg, discord.gg),
 * ServerKeyExchange (329 in 3 fragments), CertificateRequest (38),
 * ServerHelloDone; the client's Certificate (CN=WebRTC, 282 bytes), and a
 * NewSessionTicket (454 bytes) in two fragments in one datagram (frame
 * 26). */
static void test_capture_cert_frag_discord(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls_cert_frag_discord.hex");
    struct assoc *a = assoc_new();
    assoc_scan_all(a, &v);
    assert_int_equal(coll_count(&a->c, KP_TLS_HS_CLIENT_HELLO), 1);
    static struct kp_tls_server_hello sh;
    const struct msg_rec *m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_int_equal(sh.srtp_profile, 0x0001);
    assert_int_equal(sh.cipher_suite, 0xc02f);
    m = coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(m->len, 1712);
    assert_true(m->reassembled);
    struct kp_cert_info info;
    size_t der_len;
    cert_summary(m, 0, &info, &der_len);
    assert_int_equal(der_len, 1706);
    assert_string_equal(info.subject_cn, "*.discord.gg");
    assert_string_equal(info.issuer_cn, "Sectigo RSA Domain Validation Secure Server CA");
    assert_string_equal(info.issuer_c, "GB");
    assert_string_equal(info.serial, "4ce157a9b085e1bba0e5360de8150cac");
    assert_string_equal(info.san, "*.discord.gg,discord.gg");
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_SERVER_KEY_EXCHANGE, 0)->len, 329);
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_CERTIFICATE_REQUEST, 0)->len, 38);
    assert_int_equal(coll_find(&a->s, KP_TLS_HS_SERVER_HELLO_DONE, 0)->len, 0);
    m = coll_find(&a->s, KP_TLS_HS_NEW_SESSION_TICKET, 0);
    assert_int_equal(m->len, 454);
    assert_true(m->reassembled);
    m = coll_find(&a->c, KP_TLS_HS_CERTIFICATE, 0);
    assert_int_equal(m->len, 288);
    cert_summary(m, 0, &info, &der_len);
    assert_int_equal(der_len, 282);
    assert_string_equal(info.subject_cn, "WebRTC");
    assert_int_equal(a->hs_c.anomalies | a->hs_s.anomalies, 0);
    assoc_free(a);

    /* The datagrams of the server flight in every order, the second one
     * twice: the same messages, once each. */
    const struct dgram *f23 = vec_frame(&v, 23), *f24 = vec_frame(&v, 24);
    const struct dgram *orders[][3] = {{f24, f23, f24}, {f23, f23, f24}, {f24, f24, f23}};
    for (size_t o = 0; o < 3; o++) {
        a = assoc_new();
        struct kp_dtls_dgram dg;
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(assoc_scan(a, orders[o][i], 0, &dg), KP_RES_OK);
        }
        assert_int_equal(a->s.n, 5);
        assert_int_equal(coll_find(&a->s, KP_TLS_HS_CERTIFICATE, 0)->len, 1712);
        assoc_free(a);
    }
    vec_free(&v);
}

/* dtls_fragmented_client_hello_mercury.pcap: one ClientHello (message_seq
 * 1, 307 bytes) in fragments of 203 and 104 bytes; tshark: DTLS 1.2, cookie
 * of 20 bytes, first cipher 0xc030. */
static void test_capture_frag_client_hello(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls_frag_ch_mercury.hex");
    assert_int_equal(v.n, 2);
    for (int order = 0; order < 2; order++) {
        struct assoc *a = assoc_new();
        struct kp_dtls_dgram dg;
        assert_int_equal(assoc_scan(a, &v.d[order], 0, &dg), KP_RES_OK);
        assert_int_equal(a->c.n, 0);
        assert_int_equal(assoc_scan(a, &v.d[1 - order], 0, &dg), KP_RES_OK);
        assert_int_equal(a->c.n, 1);
        const struct msg_rec *m = &a->c.m[0];
        assert_int_equal(m->seq, 1);
        assert_int_equal(m->len, 307);
        static struct kp_tls_client_hello ch;
        assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m->body, m->len), true),
                         KP_RES_OK);
        assert_int_equal(ch.legacy_version, KP_TLS_V_DTLS12);
        assert_int_equal(ch.cookie_len, 20);
        assert_int_equal(ch.ciphers[0], 0xc030);
        assoc_free(a);
    }
    vec_free(&v);
}

/* dtls13_wolfssl_zeek.pcap: ClientHello (supported_versions with 0xfefc),
 * HelloRetryRequest, ClientHello, ServerHello selecting 0xfefc, then 11
 * datagrams of unified-header records (first bytes 0x2e: epoch 2, 0x2f:
 * epoch 3), which tshark 4.0 shows as plain UDP. */
static void test_capture_dtls13(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls13_wolfssl.hex");
    assert_int_equal(v.n, 15);
    struct assoc *a = assoc_new();
    struct kp_dtls_dgram dg;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(assoc_scan(a, &v.d[i], 0, &dg), KP_RES_OK);
        assert_false(dg.unified);
    }
    static struct kp_tls_server_hello sh;
    const struct msg_rec *m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 1);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_false(sh.is_hrr);
    assert_int_equal(sh.version, KP_TLS_V_DTLS13);
    assert_true(kp_tls_version_is_13(sh.version));
    m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_true(sh.is_hrr);
    size_t unified_records = 0;
    for (size_t i = 4; i < v.n; i++) {
        assert_int_equal(assoc_scan(a, &v.d[i], 0, &dg), KP_RES_OK);
        assert_true(dg.unified && dg.encrypted);
        assert_false(dg.handshake || dg.cid);
        unified_records += dg.n_records;
        /* Walk it by hand: the records fill the datagram exactly. */
        struct kp_rd d = kp_rd_make(v.d[i].p, v.d[i].len);
        while (d.len > 0) {
            struct kp_dtls_record r;
            assert_int_equal(kp_dtls_parse_record(&r, &d, 0), KP_RES_OK);
            assert_true(r.unified);
            assert_true(r.epoch == 2 || r.epoch == 3);
            assert_true(inside(r.payload, v.d[i].p, v.d[i].len));
        }
    }
    assert_true(unified_records >= 11);
    assert_int_equal(a->c.n, 2);
    assert_int_equal(a->s.n, 2);
    assoc_free(a);
    vec_free(&v);
}

/* dtls13_cid_zeek.pcap: the ClientHello's connection_id is "I am a client
 * CID", the ServerHello's "fancy server CID" (tshark: dtls.connection_id);
 * the server's records carry the client's CID and the other way round
 * (RFC 9146 3). */
static void test_capture_dtls13_cid(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls13_cid.hex");
    struct assoc *a = assoc_new();
    struct kp_dtls_dgram dg;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(assoc_scan(a, &v.d[i], 0, &dg), KP_RES_OK);
    }
    bool present;
    struct kp_rd ccid, scid;
    const struct msg_rec *m = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 1);
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(m->body, m->len), KP_TLS_HS_CLIENT_HELLO,
                                       &present, &ccid),
                     KP_RES_OK);
    assert_true(present);
    assert_true(rd_is(ccid, "I am a client CID"));
    m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 1);
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(m->body, m->len), KP_TLS_HS_SERVER_HELLO,
                                       &present, &scid),
                     KP_RES_OK);
    assert_true(present);
    assert_true(rd_is(scid, "fancy server CID"));
    /* The HelloRetryRequest carries none. */
    m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(kp_dtls_hello_cid(kp_rd_make(m->body, m->len), KP_TLS_HS_SERVER_HELLO,
                                       &present, &scid),
                     KP_RES_OK);
    assert_false(present);

    for (size_t i = 4; i < v.n; i++) {
        const struct dgram *d = &v.d[i];
        size_t cid_len = d->dir == 's' ? 17 : 16;
        const char *cid = d->dir == 's' ? "I am a client CID" : "fancy server CID";
        assert_int_equal(assoc_scan(a, d, cid_len, &dg), KP_RES_OK);
        assert_true(dg.unified && dg.cid);
        assert_false(dg.cid_unknown);
        struct kp_rd w = kp_rd_make(d->p, d->len);
        while (w.len > 0) {
            struct kp_dtls_record r;
            assert_int_equal(kp_dtls_parse_record(&r, &w, cid_len), KP_RES_OK);
            assert_true(r.has_cid);
            assert_true(rd_is(r.cid, cid));
        }
        /* Without the length, one record to the end. */
        assert_int_equal(assoc_scan(a, d, KP_DTLS_CID_UNKNOWN, &dg), KP_RES_OK);
        assert_true(dg.cid_unknown);
        assert_int_equal(dg.n_records, 1);
    }
    assoc_free(a);
    vec_free(&v);
}

/* dtls_old_version_ndpi.pcapng: OpenSSL before 0.9.8f, version 0x0100 on
 * records and in hellos (tshark: "DTLS 1.0 (OpenSSL pre 0.9.8f)");
 * HelloVerifyRequest cookie of 20 bytes; frame 7 holds ServerHello (cipher
 * 0x0035), a 3-byte ChangeCipherSpec and an epoch-1 Finished. */
static void test_capture_old_version(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct vec v;
    vec_load(&v, "dtls_old_version.hex");
    assert_int_equal(v.n, 7);
    struct assoc *a = assoc_new();
    struct kp_dtls_dgram dg;
    for (size_t i = 0; i < v.n; i++) {
        assert_int_equal(assoc_scan(a, &v.d[i], 0, &dg), KP_RES_OK);
        assert_int_equal(dg.version, KP_DTLS_V_BAD);
    }
    assert_true(dg.ccs && dg.encrypted);
    assert_int_equal(dg.n_records, 3);
    /* Frames 1, 2 and 4 are the same ClientHello (seq 0): delivered once. */
    assert_int_equal(coll_count(&a->c, KP_TLS_HS_CLIENT_HELLO), 2);
    assert_int_equal(coll_count(&a->s, KP_TLS_HS_HELLO_VERIFY_REQUEST), 1);
    const struct msg_rec *m = coll_find(&a->s, KP_TLS_HS_HELLO_VERIFY_REQUEST, 0);
    struct kp_dtls_hello_verify_request h;
    assert_int_equal(kp_dtls_parse_hello_verify_request(&h, kp_rd_make(m->body, m->len)),
                     KP_RES_OK);
    assert_int_equal(h.server_version, KP_DTLS_V_BAD);
    assert_int_equal(h.cookie.len, 20);
    static struct kp_tls_client_hello ch;
    m = coll_find(&a->c, KP_TLS_HS_CLIENT_HELLO, 1);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_int_equal(ch.legacy_version, KP_DTLS_V_BAD);
    assert_int_equal(ch.cookie_len, 20);
    assert_int_equal(ch.n_ciphers, 1);
    assert_int_equal(ch.ciphers[0], 0x0035);
    static struct kp_tls_server_hello sh;
    m = coll_find(&a->s, KP_TLS_HS_SERVER_HELLO, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(m->body, m->len), true),
                     KP_RES_OK);
    assert_int_equal(sh.version, KP_DTLS_V_BAD);
    assert_int_equal(sh.cipher_suite, 0x0035);
    assoc_free(a);
    vec_free(&v);
}

/* ---- Robustness --------------------------------------------------------- */

static const char *const all_vectors[] = {
    "dtls12_zeek.hex",          "dtls10_zeek.hex",       "dtls_srtp_ndpi.hex",
    "meet_dtls.hex",            "dtls_cert_frag_opera.hex", "dtls_cert_frag_discord.hex",
    "dtls_frag_ch_mercury.hex", "dtls13_wolfssl.hex",    "dtls13_cid.hex",
    "dtls_old_version.hex",
};

/* Collector that only checks where bodies point. */
struct where {
    const uint8_t *buf;
    size_t len;
    const struct kp_dtls_hs *hs;
    size_t n;
};

static void check_where(const struct kp_dtls_msg *msg, void *user)
{
    struct where *w = user;
    assert_true(inside(msg->body, w->buf, w->len) ||
                (w->hs != NULL && inside(msg->body, w->hs, sizeof *w->hs)));
    w->n++;
}

/* Every datagram of every vector cut at every length: no crash, every view
 * inside the prefix, OK only when the whole records are there. */
static void test_truncation(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct kp_dtls_hs *hs = hs_new();
    for (size_t f = 0; f < sizeof all_vectors / sizeof all_vectors[0]; f++) {
        struct vec v;
        vec_load(&v, all_vectors[f]);
        for (size_t i = 0; i < v.n; i++) {
            const struct dgram *d = &v.d[i];
            size_t cid_len = strcmp(all_vectors[f], "dtls13_cid.hex") == 0
                                 ? (d->dir == 's' ? 17 : 16)
                                 : 0;
            /* Record boundaries of the whole datagram. */
            size_t ends[64], n_ends = 0;
            struct kp_rd w = kp_rd_make(d->p, d->len);
            while (w.len > 0 && n_ends < 64) {
                struct kp_dtls_record r;
                assert_int_equal(kp_dtls_parse_record(&r, &w, cid_len), KP_RES_OK);
                ends[n_ends++] = d->len - w.len;
            }
            kp_dtls_hs_reset(hs);
            for (size_t n = 0; n <= d->len; n++) {
                uint8_t *p = exact_copy(d->p, n);
                struct where wh = {p, n, hs, 0};
                struct kp_dtls_dgram dg;
                enum kp_res r = kp_dtls_scan(&dg, kp_rd_make(p, n), cid_len, hs, check_where,
                                             &wh);
                bool at_end = false;
                for (size_t k = 0; k < n_ends; k++) {
                    at_end |= ends[k] == n;
                }
                /* A unified header without L runs to the end, so any cut of
                 * it is a (shorter) whole record. */
                if (r == KP_RES_OK && !at_end) {
                    assert_true(dg.unified || dg.cid_unknown);
                }
                if (at_end) {
                    assert_int_equal(r, KP_RES_OK);
                } else {
                    assert_true(r == KP_RES_OK || r == KP_RES_TRUNCATED);
                }
                struct kp_rd t = kp_rd_make(p, n);
                struct kp_dtls_record rec;
                if (kp_dtls_parse_record(&rec, &t, cid_len) == KP_RES_OK) {
                    assert_true(inside(rec.payload, p, n));
                    assert_true(inside(rec.cid, p, n));
                    assert_true(rec.wire_len <= n);
                }
                free(p);
            }
        }
        vec_free(&v);
    }
    free(hs);
}

/* Every record length and handshake length field of every real datagram
 * moved by -1 and +1: no crash, every view inside the buffer. */
static void test_length_fields(void **state)
{
    (void)state;
    cv_need_captures(VECTORS);
    struct kp_dtls_hs *hs = hs_new();
    size_t mutations = 0;
    for (size_t f = 0; f < sizeof all_vectors / sizeof all_vectors[0]; f++) {
        struct vec v;
        vec_load(&v, all_vectors[f]);
        for (size_t i = 0; i < v.n; i++) {
            const struct dgram *d = &v.d[i];
            /* Offsets of 16/24-bit length fields: record lengths, and for
             * epoch-0 handshake records the message length, offset and
             * fragment length of each fragment. */
            size_t pos[256], width[256], n_pos = 0;
            struct kp_rd w = kp_rd_make(d->p, d->len);
            while (w.len > 0 && n_pos < 250) {
                size_t at = d->len - w.len;
                struct kp_dtls_record r;
                if (kp_dtls_parse_record(&r, &w, 0) != KP_RES_OK) {
                    break;
                }
                if (r.unified || r.cid_unknown) {
                    continue;
                }
                pos[n_pos] = at + 11;
                width[n_pos++] = 2;
                if (r.content_type != KP_TLS_CT_HANDSHAKE || r.encrypted) {
                    continue;
                }
                struct kp_rd pl = r.payload;
                while (pl.len > 0 && n_pos < 250) {
                    size_t fat = (size_t)(pl.p - d->p);
                    struct kp_dtls_hs_frag fr;
                    if (kp_dtls_parse_hs_frag(&fr, &pl) != KP_RES_OK) {
                        break;
                    }
                    pos[n_pos] = fat + 1;
                    width[n_pos++] = 3;
                    pos[n_pos] = fat + 6;
                    width[n_pos++] = 3;
                    pos[n_pos] = fat + 9;
                    width[n_pos++] = 3;
                }
            }
            for (size_t k = 0; k < n_pos; k++) {
                for (int delta = -1; delta <= 1; delta += 2) {
                    uint8_t *p = exact_copy(d->p, d->len);
                    uint32_t val = 0;
                    for (size_t b = 0; b < width[k]; b++) {
                        val = val << 8 | p[pos[k] + b];
                    }
                    val = (uint32_t)((int64_t)val + delta);
                    for (size_t b = 0; b < width[k]; b++) {
                        p[pos[k] + width[k] - 1 - b] = (uint8_t)(val >> (8 * b));
                    }
                    kp_dtls_hs_reset(hs);
                    struct where wh = {p, d->len, hs, 0};
                    struct kp_dtls_dgram dg;
                    enum kp_res r = kp_dtls_scan(&dg, kp_rd_make(p, d->len), 0, hs,
                                                 check_where, &wh);
                    assert_true(r == KP_RES_OK || r == KP_RES_TRUNCATED ||
                                r == KP_RES_MALFORMED);
                    mutations++;
                    free(p);
                }
            }
        }
        vec_free(&v);
    }
    assert_true(mutations > 200);
    free(hs);
}

/* Random datagrams made of plausible headers and random bytes, fed to one
 * reassembly state: no crash, views inside, state bounded. */
static void test_fuzz(void **state)
{
    (void)state;
    struct kp_dtls_hs *hs = hs_new();
    static struct bld b;
    uint32_t seed = 0x1234567u;
    for (int iter = 0; iter < 20000; iter++) {
        b.len = 0;
        int n_rec = 1 + (int)(rnd(&seed) % 4);
        for (int k = 0; k < n_rec; k++) {
            uint32_t x = rnd(&seed);
            if (x % 7 == 0) {
                /* A unified header with random flags. */
                b_u8(&b, (uint8_t)(0x20 | (rnd(&seed) & 0x1f)));
                int extra = (int)(rnd(&seed) % 24);
                for (int j = 0; j < extra; j++) {
                    b_u8(&b, (uint8_t)rnd(&seed));
                }
                continue;
            }
            uint16_t flen = (uint16_t)(rnd(&seed) % 64);
            uint16_t rlen = (uint16_t)(12 + flen + (rnd(&seed) % 3) - 1);
            uint8_t ct = (uint8_t)(20 + rnd(&seed) % 7);
            b_record(&b, ct == 25 ? 22 : ct, KP_TLS_V_DTLS12, (uint16_t)(rnd(&seed) % 4 == 0),
                     rnd(&seed), rlen);
            uint32_t len = rnd(&seed) % 200;
            uint32_t off = rnd(&seed) % 200;
            b_frag(&b, (uint8_t)(rnd(&seed) % 4 == 0 ? 11 : 2), len,
                   (uint16_t)(rnd(&seed) % 80), off, NULL, 0);
            b.b[b.len - 3] = (uint8_t)(flen >> 16);
            b.b[b.len - 2] = (uint8_t)(flen >> 8);
            b.b[b.len - 1] = (uint8_t)flen;
            for (uint16_t j = 0; j < flen; j++) {
                b_u8(&b, (uint8_t)rnd(&seed));
            }
        }
        if (rnd(&seed) % 5 == 0) {
            b.b[rnd(&seed) % b.len] ^= (uint8_t)rnd(&seed);
        }
        size_t cut = rnd(&seed) % 4 == 0 ? rnd(&seed) % (b.len + 1) : b.len;
        uint8_t *p = exact_copy(b.b, cut);
        struct where wh = {p, cut, hs, 0};
        struct kp_dtls_dgram dg;
        (void)kp_dtls_scan(&dg, kp_rd_make(p, cut), rnd(&seed) % 3 == 0 ? 4 : KP_DTLS_CID_UNKNOWN,
                           hs, check_where, &wh);
        free(p);
        if (iter % 500 == 0) {
            kp_dtls_hs_reset(hs);
        }
        size_t used = 0;
        for (size_t i = 0; i < KP_DTLS_HS_SLOTS; i++) {
            used += hs->slot[i].used;
            if (hs->slot[i].used) {
                assert_true(hs->slot[i].length <= KP_DTLS_HS_MAX_MSG);
                assert_true(hs->slot[i].received <= hs->slot[i].length);
            }
        }
        assert_true(used <= KP_DTLS_HS_SLOTS);
    }
    free(hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_record_plaintext),
        cmocka_unit_test(test_record_not_mine),
        cmocka_unit_test(test_record_lengths),
        cmocka_unit_test(test_record_cid12),
        cmocka_unit_test(test_record_unified),
        cmocka_unit_test(test_frag_parse),
        cmocka_unit_test(test_reasm_out_of_order),
        cmocka_unit_test(test_reasm_slot_reuse),
        cmocka_unit_test(test_reasm_overlap),
        cmocka_unit_test(test_reasm_inconsistent),
        cmocka_unit_test(test_reasm_bounds),
        cmocka_unit_test(test_scan_built),
        cmocka_unit_test(test_hello_verify_request),
        cmocka_unit_test(test_hello_cid_built),
        cmocka_unit_test(test_capture_dtls12),
        cmocka_unit_test(test_capture_dtls10),
        cmocka_unit_test(test_capture_srtp),
        cmocka_unit_test(test_capture_meet),
        cmocka_unit_test(test_capture_cert_frag_opera),
        cmocka_unit_test(test_capture_cert_frag_discord),
        cmocka_unit_test(test_capture_frag_client_hello),
        cmocka_unit_test(test_capture_dtls13),
        cmocka_unit_test(test_capture_dtls13_cid),
        cmocka_unit_test(test_capture_old_version),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_length_fields),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
