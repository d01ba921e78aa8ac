/* SIP messages and SDP (analyze/sip.c). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media_test_util.h"
#include "sip.h"

/* ---- Field comparison against tshark -------------------------------------------- */

static void check_view(const char *name, const char *key, struct kp_rd got, const char *want)
{
    char buf[2048];
    mt_str(got, buf, sizeof buf);
    if (strcmp(buf, want) != 0) {
        fail_msg("%s: %s = \"%s\", tshark says \"%s\"", name, key, buf, want);
    }
}

static const char *get(const struct mt_rec *r, const char *prefix, const char *key)
{
    char k[256];
    snprintf(k, sizeof k, "%s%s", prefix, key);
    return mt_get(r, k);
}

static void check_sdp(const struct mt_rec *r, const char *pfx, const struct kp_sdp *s)
{
    char parts[32][256];
    const char *v = get(r, pfx, "sdp.connection_info.address");
    if (v != NULL) {
        /* tshark lists the session c= then the media ones, in order. */
        size_t n = mt_split(v, parts, 32), k = 0;
        if (s->conn.present) {
            check_view(r->name, "c=", s->conn.addr_text, parts[k++]);
        }
        for (size_t i = 0; i < s->n_media && k < n; i++) {
            if (s->media[i].conn.present) {
                check_view(r->name, "media c=", s->media[i].conn.addr_text, parts[k++]);
            }
        }
        assert_int_equal(k, n);
    }
    v = get(r, pfx, "sdp.media.media");
    if (v != NULL) {
        size_t n = mt_split(v, parts, 32);
        assert_int_equal(n, s->n_media);
        for (size_t i = 0; i < n; i++) {
            check_view(r->name, "m= media", s->media[i].media, parts[i]);
        }
        mt_split(get(r, pfx, "sdp.media.port"), parts, 32);
        for (size_t i = 0; i < n; i++) {
            assert_true(s->media[i].port_ok);
            assert_int_equal(mt_num(parts[i]), s->media[i].port);
        }
        mt_split(get(r, pfx, "sdp.media.proto"), parts, 32);
        for (size_t i = 0; i < n; i++) {
            check_view(r->name, "m= proto", s->media[i].proto, parts[i]);
        }
    } else {
        assert_int_equal(s->n_media, 0);
    }
    v = get(r, pfx, "sdp.crypto.crypto_suite");
    if (v != NULL) {
        size_t n = mt_split(v, parts, 32);
        assert_int_equal(n, s->n_crypto);
        for (size_t i = 0; i < n; i++) {
            check_view(r->name, "crypto suite", s->crypto[i].suite, parts[i]);
        }
        mt_split(get(r, pfx, "sdp.crypto.tag"), parts, 32);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(mt_num(parts[i]), s->crypto[i].tag);
        }
    } else {
        assert_int_equal(s->crypto_total, 0);
    }
    v = get(r, pfx, "sdp.attr");
    if (v != NULL) {
        size_t n = mt_split(v, parts, 32);
        for (size_t i = 0; i < n; i++) {
            const struct kp_sdp_attrs *a = parts[i][0] == 's' ? &s->attrs : &s->media[0].attrs;
            const char *attr = parts[i] + 2;
            if (strncmp(attr, "ice-ufrag", 9) == 0) {
                assert_true(a->ice_ufrag);
            } else if (strcmp(attr, "rtcp-mux") == 0) {
                assert_true(a->rtcp_mux);
            } else if (strncmp(attr, "setup:", 6) == 0) {
                check_view(r->name, "setup", a->setup, attr + 6);
            }
        }
    }
}

static void check_sip(const struct mt_rec *r, const char *pfx, const struct kp_sip_msg *m)
{
    char parts[32][256];
    const char *v;
    if ((v = get(r, pfx, "sip.Method")) != NULL) {
        assert_true(m->is_request);
        check_view(r->name, "method", m->method, v);
        check_view(r->name, "r-uri", m->request_uri, get(r, pfx, "sip.r-uri"));
    } else {
        assert_false(m->is_request);
        assert_int_equal(m->status_code, mt_num(get(r, pfx, "sip.Status-Code")));
    }
    static const struct {
        const char *key;
        size_t off;
    } views[] = {
        {"sip.Call-ID", offsetof(struct kp_sip_msg, call_id)},
        {"sip.From", offsetof(struct kp_sip_msg, from)},
        {"sip.To", offsetof(struct kp_sip_msg, to)},
        {"sip.CSeq", offsetof(struct kp_sip_msg, cseq)},
        {"sip.CSeq.method", offsetof(struct kp_sip_msg, cseq_method)},
        {"sip.Contact", offsetof(struct kp_sip_msg, contact)},
        {"sip.Content-Type", offsetof(struct kp_sip_msg, content_type)},
        {"sip.User-Agent", offsetof(struct kp_sip_msg, user_agent)},
        {"sip.Server", offsetof(struct kp_sip_msg, user_agent)},
    };
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        if ((v = get(r, pfx, views[i].key)) != NULL) {
            struct kp_rd got;
            memcpy(&got, (const char *)m + views[i].off, sizeof got);
            if (strcmp(views[i].key, "sip.Contact") == 0) {
                /* tshark lists every Contact; the first is kept. */
                mt_split(v, parts, 32);
                v = parts[0];
            }
            check_view(r->name, views[i].key, got, v);
        }
    }
    if ((v = get(r, pfx, "sip.CSeq.seq")) != NULL) {
        assert_true(m->has_cseq_num);
        assert_int_equal(mt_num(v), m->cseq_num);
    }
    if ((v = get(r, pfx, "sip.Content-Length")) != NULL) {
        assert_true(m->has_content_length);
        assert_int_equal(mt_num(v), m->content_length);
        assert_int_equal(m->body.len, m->content_length);
    }
    if ((v = get(r, pfx, "sip.Via")) != NULL) {
        size_t n = mt_split(v, parts, 32);
        assert_int_equal(n, m->via_total);
        for (size_t i = 0; i < n && i < m->n_via; i++) {
            check_view(r->name, "via", m->via[i], parts[i]);
        }
    }
}

static void sip_views_inside(const struct kp_sip_msg *m, const uint8_t *p, size_t n)
{
    const struct kp_rd v[] = {m->method, m->request_uri, m->reason, m->version, m->call_id,
                              m->from, m->to, m->cseq, m->cseq_method, m->contact,
                              m->content_type, m->user_agent, m->body};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_true(mt_in(v[i], p, n));
    }
    for (size_t i = 0; i < m->n_via; i++) {
        assert_true(mt_in(m->via[i], p, n));
    }
    assert_true(m->msg_len <= n);
}

/* Every view an SDP result holds, for the containment and key checks. */
static size_t sdp_views(const struct kp_sdp *s, struct kp_rd *out, size_t cap)
{
    size_t n = 0;
#define ADD(x)                                                                                    \
    do {                                                                                          \
        assert_true(n < cap);                                                                     \
        out[n++] = (x);                                                                           \
    } while (0)
#define ADD_ATTRS(a)                                                                              \
    do {                                                                                          \
        ADD((a).setup);                                                                           \
        ADD((a).fp_hash);                                                                         \
        ADD((a).fp_value);                                                                        \
        ADD((a).zrtp_version);                                                                    \
        ADD((a).zrtp_hash);                                                                       \
    } while (0)
    ADD(s->origin);
    ADD(s->session_name);
    ADD(s->conn.addr_text);
    ADD_ATTRS(s->attrs);
    for (size_t i = 0; i < s->n_media; i++) {
        ADD(s->media[i].media);
        ADD(s->media[i].proto);
        ADD(s->media[i].fmts);
        ADD(s->media[i].conn.addr_text);
        ADD_ATTRS(s->media[i].attrs);
    }
    for (size_t i = 0; i < s->n_crypto; i++) {
        ADD(s->crypto[i].suite);
        ADD(s->crypto[i].lifetime);
        ADD(s->crypto[i].mki);
        ADD(s->crypto[i].session_params);
    }
#undef ADD
#undef ADD_ATTRS
    return n;
}

static void sdp_views_inside(const struct kp_sdp *s, const uint8_t *p, size_t n)
{
    struct kp_rd v[512];
    size_t k = sdp_views(s, v, 512);
    for (size_t i = 0; i < k; i++) {
        assert_true(mt_in(v[i], p, n));
    }
}

static bool is_sdp(const struct kp_sip_msg *m)
{
    static const char ct[] = "application/sdp";
    return m->content_type.len >= sizeof ct - 1 && strncasecmp((const char *)m->content_type.p,
                                                                ct, sizeof ct - 1) == 0;
}

static void test_sip_udp_vectors(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "sip");
    size_t with_sdp = 0;
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        uint8_t *p = mt_copy(r->data, r->len);
        struct kp_sip_msg m;
        if (kp_sip_parse(&m, kp_rd_make(p, r->len), false) != KP_RES_OK) {
            fail_msg("%s: not parsed", r->name);
        }
        sip_views_inside(&m, p, r->len);
        check_sip(r, "", &m);
        if (is_sdp(&m)) {
            static struct kp_sdp s;
            assert_int_equal(kp_sdp_parse(&s, m.body), KP_RES_OK);
            sdp_views_inside(&s, m.body.p, m.body.len);
            check_sdp(r, "", &s);
            with_sdp++;
        }
        free(p);
    }
    assert_true(with_sdp >= 8);
    mt_free(&v);
}

/* Every prefix of every datagram: TRUNCATED or OK, views inside it. */
static void test_sip_udp_truncated(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "sip");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        struct kp_sip_msg full;
        assert_int_equal(kp_sip_parse(&full, kp_rd_make(r->data, r->len), false), KP_RES_OK);
        for (size_t n = 0; n <= r->len; n++) {
            uint8_t *p = mt_copy(r->data, n);
            struct kp_sip_msg m;
            enum kp_res res = kp_sip_parse(&m, kp_rd_make(p, n), false);
            if (n < full.header_len || (full.has_content_length && n < full.msg_len)) {
                assert_int_equal(res, KP_RES_TRUNCATED);
                if (n >= full.header_len) {
                    assert_int_equal(m.need, full.msg_len);
                } else {
                    assert_int_equal(m.need, 0);
                }
            } else {
                assert_int_equal(res, KP_RES_OK);
                sip_views_inside(&m, p, n);
                if (is_sdp(&m)) {
                    static struct kp_sdp s;
                    if (kp_sdp_parse(&s, m.body) == KP_RES_OK) {
                        sdp_views_inside(&s, p, n);
                    }
                }
            }
            free(p);
        }
    }
    mt_free(&v);
}

/* SIP over TCP: walk the messages of each direction, then every prefix. */
static void test_sip_tcp_stream(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "sip_tcp");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        uint8_t *p = mt_copy(r->data, r->len);
        size_t off = 0, k = 0, ends[64];
        while (off < r->len) {
            struct kp_sip_msg m;
            struct kp_rd rest = kp_rd_make(p, r->len);
            assert_true(kp_rd_skip(&rest, off));
            enum kp_res res = kp_sip_parse(&m, rest, true);
            assert_int_equal(res, KP_RES_OK);
            sip_views_inside(&m, rest.p, rest.len);
            char pfx[16];
            snprintf(pfx, sizeof pfx, "m%zu.", k);
            check_sip(r, pfx, &m);
            if (is_sdp(&m)) {
                static struct kp_sdp s;
                assert_int_equal(kp_sdp_parse(&s, m.body), KP_RES_OK);
                check_sdp(r, pfx, &s);
            }
            assert_true(k < 64);
            ends[k++] = off + m.msg_len;
            off += m.msg_len;
        }
        assert_int_equal(k, mt_num(mt_get(r, "stream.messages")));
        /* Every prefix: the first message is OK exactly from its end on. */
        for (size_t n = 0; n <= r->len; n++) {
            uint8_t *q = mt_copy(p, n);
            struct kp_sip_msg m;
            enum kp_res res = kp_sip_parse(&m, kp_rd_make(q, n), true);
            if (n < ends[0]) {
                assert_int_equal(res, KP_RES_TRUNCATED);
                assert_true(m.need == 0 || m.need == ends[0]);
            } else {
                assert_int_equal(res, KP_RES_OK);
                assert_int_equal(m.msg_len, ends[0]);
                sip_views_inside(&m, q, n);
            }
            free(q);
        }
        free(p);
    }
    mt_free(&v);
}

/* ---- SIP stream framing (kp_sip_frame) -------------------------------------------- */

static uint32_t fr_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Feed growing prefixes of p[0..len) the way tls_flow.c's sip_stream does,
 * a byte at a time (max_chunk 1), in random chunks of 1..max_chunk, or
 * (max_chunk 0) a byte at a time only around KP_SIP_MAX_HEADER_BYTES: after
 * every chunk, kp_sip_frame must say TRUNCATED exactly when kp_sip_parse
 * does, for each message in turn.  Each prefix is an exact-size copy at a
 * new address.  Returns how often kp_sip_frame said "parse now" (*parses),
 * the messages framed and the last result of kp_sip_parse. */
static enum kp_res frame_walk(const char *what, const uint8_t *p, size_t len, size_t max_chunk,
                              uint32_t seed, size_t *msgs, size_t *parses)
{
    struct kp_sip_frame_state fs;
    memset(&fs, 0, sizeof fs);
    size_t off = 0, n = 0;
    uint32_t x = seed != 0 ? seed : 1;
    enum kp_res res = KP_RES_TRUNCATED;
    *msgs = 0;
    *parses = 0;
    for (;;) {
        uint8_t *q = mt_copy(p, n);
        for (;;) {
            struct kp_rd rest = kp_rd_make(q, n);
            assert_true(kp_rd_skip(&rest, off));
            enum kp_res fr = kp_sip_frame(&fs, rest);
            struct kp_sip_msg m;
            res = kp_sip_parse(&m, rest, true);
            if ((fr == KP_RES_TRUNCATED) != (res == KP_RES_TRUNCATED)) {
                fail_msg("%s: message at %zu, prefix %zu/%zu: kp_sip_frame %d, kp_sip_parse %d",
                         what, off, n, len, fr, res);
            }
            *parses += fr != KP_RES_TRUNCATED;
            if (res != KP_RES_OK) {
                break;
            }
            (*msgs)++;
            off += m.msg_len;
            memset(&fs, 0, sizeof fs);
        }
        free(q);
        if (n == len || (res != KP_RES_OK && res != KP_RES_TRUNCATED)) {
            return res;
        }
        size_t step = max_chunk <= 1 ? 1 : 1 + fr_next(&x) % max_chunk;
        if (max_chunk == 0) {
            /* Byte by byte only around KP_SIP_MAX_HEADER_BYTES, where
             * kp_sip_parse changes how it reads the prefix. */
            size_t lo = KP_SIP_MAX_HEADER_BYTES - 300, hi = KP_SIP_MAX_HEADER_BYTES + 300;
            step = n + 1 < lo ? lo - n : n >= hi ? 4096 : 1;
        }
        n = n + step < len ? n + step : len;
    }
}

/* Every chunking of one stream, and 40 mutants of it byte by byte. */
static void frame_check(const char *what, const uint8_t *p, size_t len)
{
    size_t msgs, parses;
    static const size_t small[] = {1, 7, 300};
    static const size_t large[] = {0, 4096, 20000};
    bool big = len > 8192;
    const size_t *chunks = big ? large : small;
    size_t n_chunks = big ? sizeof large / sizeof large[0] : sizeof small / sizeof small[0];
    /* (Results may differ between chunkings: a prefix can be judged
     * before its line is complete, e.g. "INVITX" is not SIP-shaped while
     * "INVITX sip:x SIP/2.0" is an extension method.  kp_sip_parse decides
     * that; kp_sip_frame only has to agree with it on every prefix.) */
    for (size_t c = 0; c < n_chunks; c++) {
        (void)frame_walk(what, p, len, chunks[c], (uint32_t)(c * 7919 + 11), &msgs, &parses);
        /* One parse per message, one more for an error. */
        assert_true(parses <= msgs + 1);
    }
    if (big) {
        return;
    }
    uint32_t seed = 77;
    for (int k = 0; k < 40; k++) {
        uint8_t *q = mt_copy(p, len);
        mt_mutate(q, len, &seed);
        (void)frame_walk(what, q, len, 1, 1, &msgs, &parses);
        free(q);
    }
}

static void frame_check_str(const char *text)
{
    frame_check(text, (const uint8_t *)text, strlen(text));
}

static void test_sip_frame_built(void **state)
{
    (void)state;
    /* Two messages, the first with a body; compact Content-Length. */
    frame_check_str("INVITE sip:a SIP/2.0\r\nVia: x\r\nContent-Length: 5\r\n\r\nhello"
                    "OPTIONS sip:b SIP/2.0\r\nl: 0\r\n\r\n");
    /* Leading CRLFs, bare LFs, no Content-Length (RFC 3261 20.14). */
    frame_check_str("\r\n\r\n\nBYE sip:x SIP/2.0\nCSeq: 2 BYE\n\nSIP/2.0 200 OK\nTo: x\n\n");
    frame_check_str("\r\n\r\n");
    /* A folded Content-Length; one with blanks around it. */
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length:\r\n  3\r\nTo: y\r\n\r\nabc");
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length:  4 \r\n\r\nabcd");
    /* Repeated: equal (an anomaly), different, not a number, too large. */
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length: 2\r\nl: 2\r\n\r\nab");
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length: 2\r\nContent-Length: 3\r\n"
                    "To: x\r\n\r\nabc");
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length: x\r\nTo: x\r\n\r\n");
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length: 70000\r\n\r\n");
    frame_check_str("MESSAGE sip:x SIP/2.0\r\nContent-Length: 2\r\n\r\na");
    /* Bad header lines: orphan continuation, no colon, bad name, empty name. */
    frame_check_str("OPTIONS sip:x SIP/2.0\r\n orphan\r\nnocolon\r\nbad name: v\r\n: e\r\n"
                    " more\r\nl: 1\r\n\r\nz");
    /* Start lines: not SIP, implausible, known method without version, bad
     * status, unknown method. */
    frame_check_str("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    frame_check_str("INVITX sip:x SIP/2.0\r\n\r\n");
    frame_check_str("INVITE sip:x\r\n\r\n");
    frame_check_str("SIP/2.0 99 Low\r\n\r\n");
    frame_check_str("FOO sip:x SIP/2.0\r\n\r\n");
    frame_check_str("sip/2.0 200 OK\r\n\r\n");

    /* Around KP_SIP_MAX_HEADER_BYTES: headers that end exactly at the cap
     * and one byte past it, a header line across it, a start line longer
     * than it, leading CRLFs beyond it. */
    static char big[3 * KP_SIP_MAX_HEADER_BYTES];
    for (size_t extra = 0; extra < 2; extra++) {
        size_t o = (size_t)snprintf(big, sizeof big, "INVITE sip:x SIP/2.0\r\nl: 3\r\n");
        while (o + 60 < KP_SIP_MAX_HEADER_BYTES) {
            o += (size_t)snprintf(big + o, sizeof big - o, "X-Pad: %040d\r\n", 0);
        }
        size_t pad = KP_SIP_MAX_HEADER_BYTES + extra - o - 4 - 2;
        memcpy(big + o, "X:", 2);
        memset(big + o + 2, 'h', pad);
        o += 2 + pad;
        o += (size_t)snprintf(big + o, sizeof big - o, "\r\n\r\nabcOPTIONS sip:y SIP/2.0\r\n\r\n");
        assert_int_equal(strstr(big, "\r\n\r\n") + 4 - big, KP_SIP_MAX_HEADER_BYTES + extra);
        frame_check("headers at the cap", (const uint8_t *)big, o);
    }
    size_t o = (size_t)snprintf(big, sizeof big, "INVITE sip:x SIP/2.0\r\nX: ");
    memset(big + o, 'a', KP_SIP_MAX_HEADER_BYTES + 100);
    frame_check("a header line across the cap", (const uint8_t *)big,
                o + KP_SIP_MAX_HEADER_BYTES + 100);
    o = (size_t)snprintf(big, sizeof big, "INVITE ");
    memset(big + o, 'a', KP_SIP_MAX_HEADER_BYTES + 100);
    frame_check("a start line across the cap", (const uint8_t *)big,
                o + KP_SIP_MAX_HEADER_BYTES + 100);
    for (size_t k = 0; k < 2; k++) {
        size_t crlf = KP_SIP_MAX_HEADER_BYTES + k;
        memset(big, '\n', crlf);
        o = crlf + (size_t)snprintf(big + crlf, sizeof big - crlf, "BYE sip:x SIP/2.0\r\n\r\n");
        frame_check("leading LFs up to the cap", (const uint8_t *)big, o);
    }
}

/* The captured SIP over TCP streams, whole and mutated. */
static void test_sip_frame_vectors(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "sip_tcp");
    for (size_t i = 0; i < v.n; i++) {
        frame_check(v.rec[i].name, v.rec[i].data, v.rec[i].len);
    }
    mt_free(&v);
}

/* Why it exists: one message of 60000 bytes of headers arriving a byte at a
 * time is never worth a parse until its empty line (tls_flow.c then parses
 * once instead of 60000 times over a growing prefix). */
static void test_sip_frame_linear(void **state)
{
    (void)state;
    static char big[KP_SIP_MAX_HEADER_BYTES];
    size_t o = (size_t)snprintf(big, sizeof big, "INVITE sip:x SIP/2.0\r\n");
    while (o + 60 < 60000) {
        o += (size_t)snprintf(big + o, sizeof big - o, "X-Kp-Pad: %040d\r\n", 0);
    }
    struct kp_sip_frame_state fs;
    memset(&fs, 0, sizeof fs);
    for (size_t n = 0; n <= o; n++) {
        assert_int_equal(kp_sip_frame(&fs, kp_rd_make((const uint8_t *)big, n)),
                         KP_RES_TRUNCATED);
    }
    memcpy(big + o, "\r\n", 2);
    assert_int_equal(kp_sip_frame(&fs, kp_rd_make((const uint8_t *)big, o + 1)),
                     KP_RES_TRUNCATED);
    assert_int_equal(kp_sip_frame(&fs, kp_rd_make((const uint8_t *)big, o + 2)), KP_RES_OK);
    struct kp_sip_msg m;
    assert_int_equal(kp_sip_parse(&m, kp_rd_make((const uint8_t *)big, o + 2), true), KP_RES_OK);
    assert_int_equal(m.msg_len, o + 2);
}

/* ---- SDES: the hash, and no trace of the key ------------------------------------- */

/* Reference hash with OpenSSL's own base64 decoder. */
static void ref_hash(const char *b64, size_t len, char hex[33])
{
    unsigned char raw[256], md[32];
    unsigned int mdlen;
    char in[256];
    assert_true(len < sizeof in);
    memcpy(in, b64, len);
    size_t pad = 0;
    while (len % 4 != 0) {
        in[len++] = '=';
        pad++;
    }
    in[len] = '\0';
    for (size_t i = len; i > 0 && in[i - 1] == '='; i--) {
        pad = len - i + 1;
    }
    int n = EVP_DecodeBlock(raw, (const unsigned char *)in, (int)len);
    assert_true(n > 0);
    assert_int_equal(EVP_Digest(raw, (size_t)n - pad, md, &mdlen, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
}

/* Where each inline key (key||salt base64) lies in the message. */
struct key_span {
    size_t off, len;
};

static size_t find_keys(const uint8_t *p, size_t n, struct key_span *ks, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i + 7 <= n; i++) {
        if (memcmp(p + i, "inline:", 7) != 0) {
            continue;
        }
        size_t j = i + 7;
        while (j < n && p[j] != '|' && p[j] != ';' && p[j] != ' ' && p[j] != '\r' &&
               p[j] != '\n') {
            j++;
        }
        assert_true(k < cap);
        ks[k].off = i + 7;
        ks[k].len = j - (i + 7);
        k++;
    }
    return k;
}

static bool contains(const void *hay, size_t hn, const void *needle, size_t nn)
{
    const uint8_t *h = hay;
    for (size_t i = 0; i + nn <= hn; i++) {
        if (memcmp(h + i, needle, nn) == 0) {
            return true;
        }
    }
    return false;
}

/* No byte of the struct spells the key (text or decoded), and no view of it
 * overlaps the key text in the message. */
static void assert_no_key(const struct kp_sdp *s, const uint8_t *msg, size_t n,
                          const struct key_span *ks, size_t nk)
{
    struct kp_rd v[512];
    size_t nv = sdp_views(s, v, 512);
    for (size_t i = 0; i < nk; i++) {
        const uint8_t *kp = msg + ks[i].off;
        if (contains(s, sizeof(*s), kp, ks[i].len)) {
            fail_msg("key text %zu found in struct kp_sdp", i);
        }
        unsigned char raw[128];
        char in[200];
        if (ks[i].len < sizeof in && ks[i].len % 4 == 0) {
            memcpy(in, kp, ks[i].len);
            int rn = EVP_DecodeBlock(raw, (const unsigned char *)in, (int)ks[i].len);
            if (rn > 8 && contains(s, sizeof(*s), raw, 8)) {
                fail_msg("decoded key %zu found in struct kp_sdp", i);
            }
        }
        for (size_t j = 0; j < nv; j++) {
            if (v[j].len == 0) {
                continue;
            }
            uintptr_t a = (uintptr_t)v[j].p, b = (uintptr_t)kp;
            if (a < b + ks[i].len && b < a + v[j].len) {
                fail_msg("view %zu overlaps key %zu", j, i);
            }
        }
    }
    (void)n;
}

static void test_sdes_tls(void **state)
{
    (void)state;
    struct mt_vec v;
    char parts[16][256];
    mt_load(&v, "sip_tls");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        uint8_t *p = mt_copy(r->data, r->len);
        struct kp_sip_msg m;
        assert_int_equal(kp_sip_parse(&m, kp_rd_make(p, r->len), true), KP_RES_OK);
        assert_int_equal(m.msg_len, r->len);
        check_sip(r, "", &m);
        static struct kp_sdp s;
        assert_int_equal(kp_sdp_parse(&s, m.body), KP_RES_OK);
        check_sdp(r, "", &s);
        assert_true(s.n_crypto > 0);
        assert_true(strncmp((const char *)s.media[0].proto.p, "RTP/SAVP", 8) == 0);
        size_t n = mt_split(mt_get(r, "key.sha256_16"), parts, 16);
        assert_int_equal(n, s.n_crypto);
        for (size_t k = 0; k < n; k++) {
            char *colon = strchr(parts[k], ':');
            assert_non_null(colon);
            *colon = '\0';
            assert_int_equal(mt_num(parts[k]), s.crypto[k].tag);
            assert_true(s.crypto[k].key_b64_ok);
            assert_int_equal(s.crypto[k].n_keys, 1);
            /* Only hashes are compared and printed, never the key. */
            if (strcmp(s.crypto[k].key_hash_hex, colon + 1) != 0) {
                fail_msg("%s: tag %s: key hash %s, expected %s", r->name, parts[k],
                         s.crypto[k].key_hash_hex, colon + 1);
            }
            assert_int_equal(s.crypto[k].key_len, strncmp((const char *)s.crypto[k].suite.p,
                                                          "AES_256", 7) == 0 ? 46 : 30);
        }
        struct key_span ks[16];
        size_t nk = find_keys(p, r->len, ks, 16);
        assert_int_equal(nk, s.n_crypto);
        assert_no_key(&s, p, r->len, ks, nk);
        free(p);
    }
    mt_free(&v);
}

/* ---- Hand-built SIP -------------------------------------------------------------- */

/* Parses an exact-size copy, kept until the next call so that the views
 * can be checked. */
static enum kp_res sip(const char *text, bool stream, struct kp_sip_msg *m)
{
    static uint8_t *p;
    size_t n = strlen(text);
    free(p);
    p = mt_copy((const uint8_t *)text, n);
    enum kp_res res = kp_sip_parse(m, kp_rd_make(p, n), stream);
    if (res == KP_RES_OK) {
        sip_views_inside(m, p, n);
    }
    return res;
}

static void test_sip_headers(void **state)
{
    (void)state;
    struct kp_sip_msg m;
    /* Compact forms, odd case, space before the colon, a folded From. */
    assert_int_equal(sip("MESSAGE sip:bob@example.com SIP/2.0\r\n"
                         "v: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n"
                         "V : SIP/2.0/UDP h2;branch=z9hG4bK2, SIP/2.0/UDP h3\r\n"
                         "f: <sip:alice@example.com>\r\n"
                         "\t;tag=77\r\n"
                         "T:<sip:bob@example.com>\r\n"
                         "i: abc@host\r\n"
                         "cseq: 9 MESSAGE\r\n"
                         "m: <sip:alice@192.0.2.1>\r\n"
                         "c: text/plain\r\n"
                         "L: 5\r\n"
                         "\r\n"
                         "hello",
                         false, &m),
                     KP_RES_OK);
    assert_true(m.is_request);
    mt_assert_view(m.method, "MESSAGE", "method");
    mt_assert_view(m.call_id, "abc@host", "call-id");
    mt_assert_view(m.to, "<sip:bob@example.com>", "to");
    mt_assert_view(m.from, "<sip:alice@example.com>\r\n\t;tag=77", "folded from");
    assert_int_equal(m.folded_total, 1);
    assert_int_equal(m.via_total, 2);
    assert_int_equal(m.n_via, 2);
    assert_int_equal(m.cseq_num, 9);
    assert_int_equal(m.content_length, 5);
    assert_int_equal(m.body.len, 5);
    assert_int_equal(m.headers_total, 9);
    assert_int_equal(m.anomalies, 0);

    /* Response with an empty reason; duplicate Call-ID kept first. */
    assert_int_equal(sip("SIP/2.0 180\r\nCall-ID: one\r\ncall-id: two\r\n\r\n", false, &m),
                     KP_RES_OK);
    assert_false(m.is_request);
    assert_int_equal(m.status_code, 180);
    assert_int_equal(m.reason.len, 0);
    mt_assert_view(m.call_id, "one", "first call-id");
    assert_true(m.anomalies & KP_SIP_ANOM_DUP_HEADER);

    /* A line without a colon and an orphan continuation: skipped. */
    assert_int_equal(sip("OPTIONS sip:x SIP/2.0\r\n continuation\r\nnocolon\r\nTo: y\r\n\r\n", false,
                         &m),
                     KP_RES_OK);
    assert_true(m.anomalies & KP_SIP_ANOM_BAD_HEADER_LINE);
    mt_assert_view(m.to, "y", "to");

    /* Bare LF line ends, leading CRLFs. */
    assert_int_equal(sip("\r\n\r\nBYE sip:x SIP/2.0\nCSeq: 2 BYE\n\n", false, &m), KP_RES_OK);
    assert_true(m.anomalies & KP_SIP_ANOM_BARE_LF);
    assert_true(m.anomalies & KP_SIP_ANOM_LEADING_CRLF);
    assert_int_equal(m.start, 4);
    /* Bad CSeq and version. */
    assert_int_equal(sip("ACK sip:x SIP/3.1\r\nCSeq: x ACK\r\n\r\n", false, &m), KP_RES_OK);
    assert_true(m.anomalies & KP_SIP_ANOM_BAD_CSEQ);
    assert_true(m.anomalies & KP_SIP_ANOM_VERSION);
    assert_false(m.has_cseq_num);
}

static void test_sip_start_line(void **state)
{
    (void)state;
    struct kp_sip_msg m;
    static const struct {
        const char *text;
        enum kp_res res;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", KP_RES_NOT_MINE},
        {"HTTP/1.1 200 OK\r\n\r\n", KP_RES_NOT_MINE},
        {"SIP/2.0 2000 OK\r\n\r\n", KP_RES_MALFORMED},
        {"SIP/2.0 099 Low\r\n\r\n", KP_RES_MALFORMED},
        {"SIP/2.0 20 OK\r\n\r\n", KP_RES_MALFORMED},
        {"SIP/x 200 OK\r\n\r\n", KP_RES_MALFORMED},
        {"INVITE sip:x SIP/2.0 extra\r\n\r\n", KP_RES_MALFORMED},
        {"INVITE sip:x\r\n\r\n", KP_RES_MALFORMED},
        {"FOO sip:x SIP/2.0\r\n\r\n", KP_RES_OK},
        {"FOO sip:x HTTP/1.1\r\n\r\n", KP_RES_NOT_MINE},
        {"F(O sip:x SIP/2.0\r\n\r\n", KP_RES_NOT_MINE},
        {"\x16\x03\x01\x02\x00\x01", KP_RES_NOT_MINE},
        {"INV", KP_RES_TRUNCATED},
        {"INVITE", KP_RES_TRUNCATED},
        {"INVITE sip:bob@exa", KP_RES_TRUNCATED},
        {"INVITEX", KP_RES_NOT_MINE},
        {"invite sip:x", KP_RES_NOT_MINE},
        {"SI", KP_RES_TRUNCATED},
        {"sip/2.0 200", KP_RES_TRUNCATED},
        {"FOO sip:x", KP_RES_NOT_MINE},
        {"", KP_RES_TRUNCATED},
        {"\r\n\r\n", KP_RES_TRUNCATED},
        {"REGISTER sip:x SIP/2.0\r\nTo: a\r\n", KP_RES_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum kp_res res = sip(cases[i].text, false, &m);
        if (res != cases[i].res) {
            fail_msg("case %zu: result %d, want %d", i, res, cases[i].res);
        }
    }
    /* CRLF keep-alives alone: msg_len says how many may be dropped. */
    assert_int_equal(sip("\r\n\r\n", true, &m), KP_RES_TRUNCATED);
    assert_int_equal(m.msg_len, 4);
}

static void test_sip_content_length(void **state)
{
    (void)state;
    struct kp_sip_msg m;
    const char *hdr = "NOTIFY sip:x SIP/2.0\r\nContent-Length: 4\r\n\r\n";
    size_t hl = strlen(hdr);
    char buf[256];
    /* Datagram: body shorter than announced -> TRUNCATED with need. */
    snprintf(buf, sizeof buf, "%sab", hdr);
    assert_int_equal(sip(buf, false, &m), KP_RES_TRUNCATED);
    assert_int_equal(m.need, hl + 4);
    /* Longer: extra bytes discarded (RFC 3261 18.3). */
    snprintf(buf, sizeof buf, "%sabcdEXTRA", hdr);
    assert_int_equal(sip(buf, false, &m), KP_RES_OK);
    assert_int_equal(m.body.len, 4);
    assert_true(m.anomalies & KP_SIP_ANOM_TRAILING_BYTES);
    assert_int_equal(m.msg_len, hl + 4);
    /* Stream: the next message starts right after. */
    assert_int_equal(sip(buf, true, &m), KP_RES_OK);
    assert_false(m.anomalies & KP_SIP_ANOM_TRAILING_BYTES);
    /* No Content-Length: datagram body = rest; stream body = empty. */
    assert_int_equal(sip("MESSAGE sip:x SIP/2.0\r\n\r\nhi there", false, &m), KP_RES_OK);
    assert_int_equal(m.body.len, 8);
    assert_int_equal(sip("MESSAGE sip:x SIP/2.0\r\n\r\nhi there", true, &m), KP_RES_OK);
    assert_int_equal(m.body.len, 0);
    assert_true(m.anomalies & KP_SIP_ANOM_NO_CONTENT_LENGTH);
    /* Bad, conflicting, duplicate-equal, hostile lengths. */
    static const struct {
        const char *cl;
        enum kp_res res;
    } cases[] = {
        {"Content-Length: x\r\n", KP_RES_MALFORMED},
        {"Content-Length: -1\r\n", KP_RES_MALFORMED},
        {"Content-Length: 1 2\r\n", KP_RES_MALFORMED},
        {"Content-Length: 0\r\nl: 1\r\n", KP_RES_MALFORMED},
        {"Content-Length: 0\r\nl: 0\r\n", KP_RES_OK},
        {"Content-Length: 99999999999\r\n", KP_RES_MALFORMED},
        {"Content-Length: 4294967295\r\n", KP_RES_MALFORMED},
        {"Content-Length: 65537\r\n", KP_RES_MALFORMED},
        {"Content-Length: 65536\r\n", KP_RES_TRUNCATED},
        {"Content-Length:   0  \r\n", KP_RES_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "INFO sip:x SIP/2.0\r\n%s\r\n", cases[i].cl);
        enum kp_res res = sip(buf, true, &m);
        if (res != cases[i].res) {
            fail_msg("case %zu (%s): result %d", i, cases[i].cl, res);
        }
    }
}

/* Thousands of header lines and enormous lines: bounded, counted. */
static void test_sip_bounds(void **state)
{
    (void)state;
    static char big[200000];
    struct kp_sip_msg m;
    size_t o = (size_t)snprintf(big, sizeof big, "INVITE sip:x SIP/2.0\r\n");
    for (int i = 0; i < 1500; i++) {
        o += (size_t)snprintf(big + o, sizeof big - o, "Via: SIP/2.0/UDP h%d\r\n", i);
    }
    o += (size_t)snprintf(big + o, sizeof big - o, "X-Long: ");
    memset(big + o, 'a', 20000);
    o += 20000;
    o += (size_t)snprintf(big + o, sizeof big - o, "\r\nContent-Length: 0\r\n\r\n");
    assert_true(o < KP_SIP_MAX_HEADER_BYTES);
    assert_int_equal(sip(big, true, &m), KP_RES_OK);
    assert_int_equal(m.via_total, 1500);
    assert_int_equal(m.n_via, KP_SIP_MAX_VIA);
    assert_int_equal(m.headers_total, 1502);
    assert_int_equal(m.msg_len, o);

    /* Headers past the cap: MALFORMED in a stream, however much arrives. */
    o = (size_t)snprintf(big, sizeof big, "INVITE sip:x SIP/2.0\r\n");
    while (o < 100000) {
        o += (size_t)snprintf(big + o, sizeof big - o, "X-Pad: %0100d\r\n", 0);
    }
    assert_int_equal(sip(big, true, &m), KP_RES_MALFORMED);
    big[60000] = '\0';
    assert_int_equal(sip(big, true, &m), KP_RES_TRUNCATED);
    /* One line without an end, beyond the cap. */
    o = (size_t)snprintf(big, sizeof big, "INVITE sip:");
    memset(big + o, 'u', 70000);
    big[o + 70000] = '\0';
    assert_int_equal(sip(big, true, &m), KP_RES_MALFORMED);
    big[o + 1000] = '\0';
    assert_int_equal(sip(big, true, &m), KP_RES_TRUNCATED);
    /* Leading CRLFs (keep-alives) beyond the cap: all droppable while alone,
     * MALFORMED once a message follows them. */
    for (size_t i = 0; i < 70000; i += 2) {
        big[i] = '\r';
        big[i + 1] = '\n';
    }
    big[70000] = '\0';
    assert_int_equal(sip(big, true, &m), KP_RES_TRUNCATED);
    assert_int_equal(m.msg_len, 70000);
    snprintf(big + 70000, sizeof big - 70000, "BYE sip:x SIP/2.0\r\n\r\n");
    assert_int_equal(sip(big, true, &m), KP_RES_MALFORMED);
}

/* ---- Hand-built SDP ----------------------------------------------------------------- */

/* Parses an exact-size copy, kept until the next call so that the views
 * can be checked. */
static enum kp_res sdp(const char *text, struct kp_sdp *s)
{
    static uint8_t *p;
    size_t n = strlen(text);
    free(p);
    p = mt_copy((const uint8_t *)text, n);
    enum kp_res res = kp_sdp_parse(s, kp_rd_make(p, n));
    if (res == KP_RES_OK) {
        sdp_views_inside(s, p, n);
        static struct key_span ks[1024];
        size_t nk = find_keys(p, n, ks, 1024);
        assert_no_key(s, p, n, ks, nk);
    }
    return res;
}

/* RFC 4568 9.1 / 6.1 example key and variants. */
static void test_sdp_crypto(void **state)
{
    (void)state;
    static struct kp_sdp s;
    char want[33];
    const char *k1 = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    const char *k2 = "QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5";
    char text[2048];
    snprintf(text, sizeof text,
             "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
             "a=crypto:9 AES_CM_128_HMAC_SHA1_32 inline:%s\r\n"
             "m=audio 49170 RTP/SAVP 0\r\n"
             "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:32\r\n"
             "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:%s|1:4;inline:%s|2^20 "
             "UNENCRYPTED_SRTCP KDR=1\r\n"
             "a=crypto:3 F8_128_HMAC_SHA1_80 inline:%.38s\r\n"
             "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:not*base64!\r\n"
             "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
             "a=crypto:5 AES_CM_128_HMAC_SHA1_80 key:%s\r\n"
             "a=crypto:6 AES_CM_128_HMAC_SHA1_80\r\n",
             k2, k1, k1, k2, k2, k1, k1);
    assert_int_equal(sdp(text, &s), KP_RES_OK);
    assert_int_equal(s.crypto_total, 8);
    assert_int_equal(s.n_crypto, 5);
    assert_true(s.anomalies & KP_SDP_ANOM_BAD_CRYPTO);
    assert_int_equal(s.attrs.crypto_total, 1);
    assert_int_equal(s.media[0].attrs.crypto_total, 7);

    assert_true(s.crypto[0].session_level);
    assert_int_equal(s.crypto[0].tag, 9);
    ref_hash(k2, strlen(k2), want);
    assert_string_equal(s.crypto[0].key_hash_hex, want);

    assert_false(s.crypto[1].session_level);
    assert_int_equal(s.crypto[1].media, 0);
    ref_hash(k1, strlen(k1), want);
    assert_string_equal(s.crypto[1].key_hash_hex, want);
    assert_int_equal(s.crypto[1].key_len, 30);
    assert_true(s.crypto[1].key_b64_ok);
    mt_assert_view(s.crypto[1].lifetime, "2^20", "lifetime");
    mt_assert_view(s.crypto[1].mki, "1:32", "mki");
    for (int i = 0; i < KP_SDP_KEY_HASH_LEN; i++) {
        char h[3];
        snprintf(h, sizeof h, "%02x", s.crypto[1].key_hash[i]);
        assert_memory_equal(h, s.crypto[1].key_hash_hex + 2 * i, 2);
    }

    /* Two keys: the first is hashed, both counted; MKI without lifetime. */
    assert_int_equal(s.crypto[2].n_keys, 2);
    assert_string_equal(s.crypto[2].key_hash_hex, want);
    mt_assert_view(s.crypto[2].mki, "1:4", "mki only");
    assert_int_equal(s.crypto[2].lifetime.len, 0);
    mt_assert_view(s.crypto[2].session_params, "UNENCRYPTED_SRTCP KDR=1", "session params");

    /* Unpadded base64 decodes (38 chars -> 28 bytes). */
    assert_true(s.crypto[3].key_b64_ok);
    assert_int_equal(s.crypto[3].key_len, 28);
    ref_hash(k2, 38, want);
    assert_string_equal(s.crypto[3].key_hash_hex, want);

    /* Not base64: hashed as text, flagged. */
    assert_false(s.crypto[4].key_b64_ok);
    assert_int_equal(s.crypto[4].key_len, 0);
    unsigned char md[32];
    unsigned int mdlen;
    assert_int_equal(EVP_Digest("not*base64!", 11, md, &mdlen, EVP_sha256(), NULL), 1);
    assert_memory_equal(s.crypto[4].key_hash, md, 16);
}

static void test_sdp_attributes(void **state)
{
    (void)state;
    static struct kp_sdp s;
    /* Session-level fingerprint/setup/ice, media-level zrtp-hash etc.
     * (RFC 8122 5, RFC 4145 4, RFC 6189 8.1, RFC 5761 5.1.1). */
    assert_int_equal(
        sdp("v=0\r\n"
            "o=- 20518 0 IN IP6 2001:db8::1\r\n"
            "s=keyprov\r\n"
            "c=IN IP6 2001:db8::1\r\n"
            "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n"
            "a=fingerprint:sha-1 00:11\r\n"
            "a=setup:actpass\r\n"
            "a=ice-ufrag:F7gI\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
            "c=IN IP4 224.2.36.42/127/3\r\n"
            "a=rtcp-mux\r\n"
            "a=setup:active\r\n"
            "a=zrtp-hash:1.10 fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df\r\n"
            "m=video 51372/2 RTP/AVP 99\r\n"
            "c=IN IP4 media.example.com\r\n"
            "m=application 99999 UDP/DTLS/SCTP webrtc-datachannel\r\n"
            "m=broken\r\n"
            "c=IN IP5 x\r\n"
            "bogus line\r\n"
            "a=end",
            &s),
        KP_RES_OK);
    mt_assert_view(s.session_name, "keyprov", "s=");
    assert_true(s.conn.present && s.conn.ip6 && s.conn.addr_ok);
    assert_int_equal(s.conn.addr.b[0], 0x20);
    assert_int_equal(s.conn.addr.b[15], 0x01);
    mt_assert_view(s.attrs.fp_hash, "sha-256", "fingerprint hash");
    mt_assert_view(s.attrs.fp_value,
                   "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB", "fingerprint");
    assert_int_equal(s.attrs.fp_total, 2);
    mt_assert_view(s.attrs.setup, "actpass", "setup");
    assert_true(s.attrs.ice_ufrag);
    assert_false(s.attrs.rtcp_mux);

    assert_int_equal(s.n_media, 4);
    const struct kp_sdp_media *a = &s.media[0];
    mt_assert_view(a->media, "audio", "m=");
    assert_int_equal(a->port, 9);
    mt_assert_view(a->proto, "UDP/TLS/RTP/SAVPF", "proto");
    mt_assert_view(a->fmts, "111 0", "fmts");
    assert_true(a->attrs.rtcp_mux);
    mt_assert_view(a->attrs.setup, "active", "media setup");
    mt_assert_view(a->attrs.zrtp_version, "1.10", "zrtp version");
    mt_assert_view(a->attrs.zrtp_hash,
                   "fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df", "zrtp");
    assert_true(a->conn.addr_ok && !a->conn.ip6);
    mt_assert_view(a->conn.addr_text, "224.2.36.42", "multicast c=");
    assert_true(kp_addr_is_v4(&a->conn.addr));
    assert_int_equal(a->conn.addr.b[12], 224);

    assert_int_equal(s.media[1].n_ports, 2);
    assert_int_equal(s.media[1].port, 51372);
    assert_false(s.media[1].conn.addr_ok);
    mt_assert_view(s.media[1].conn.addr_text, "media.example.com", "fqdn");
    assert_false(s.media[2].port_ok);
    assert_true(s.anomalies & KP_SDP_ANOM_BAD_MEDIA);
    assert_true(s.anomalies & KP_SDP_ANOM_BAD_CONN);
    assert_true(s.anomalies & KP_SDP_ANOM_BAD_LINE);
    assert_int_equal(s.lines_total, 20);

    /* Not SDP; bare LF; empty. */
    assert_int_equal(sdp("o=- 1 1 IN IP4 x\r\nv=0\r\n", &s), KP_RES_NOT_MINE);
    assert_int_equal(sdp("", &s), KP_RES_NOT_MINE);
    assert_int_equal(sdp("\r\nv=0\r\n", &s), KP_RES_NOT_MINE);
    assert_int_equal(sdp("v=1\nm=audio 1 RTP/AVP 0\n", &s), KP_RES_OK);
    assert_true(s.anomalies & KP_SDP_ANOM_BARE_LF);
    assert_true(s.anomalies & KP_SDP_ANOM_VERSION);
    assert_int_equal(s.n_media, 1);
}

/* Thousands of lines: every one walked, storage capped. */
static void test_sdp_bounds(void **state)
{
    (void)state;
    static char big[400000];
    static struct kp_sdp s;
    size_t o = (size_t)snprintf(big, sizeof big, "v=0\r\ns=-\r\n");
    for (int i = 0; i < 100; i++) {
        o += (size_t)snprintf(big + o, sizeof big - o, "m=audio %d RTP/SAVP 0\r\n", 1000 + i);
        for (int k = 0; k < 3; k++) {
            o += (size_t)snprintf(big + o, sizeof big - o,
                                  "a=crypto:%d AES_CM_128_HMAC_SHA1_80 "
                                  "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5\r\n",
                                  k + 1);
        }
        for (int k = 0; k < 50; k++) {
            o += (size_t)snprintf(big + o, sizeof big - o, "a=candidate:%d 1 UDP 1 h %d typ host\r\n",
                                  k, k);
        }
    }
    assert_int_equal(sdp(big, &s), KP_RES_OK);
    assert_int_equal(s.media_total, 100);
    assert_int_equal(s.n_media, KP_SDP_MAX_MEDIA);
    assert_int_equal(s.crypto_total, 300);
    assert_int_equal(s.n_crypto, KP_SDP_MAX_CRYPTO);
    assert_int_equal(s.crypto[KP_SDP_MAX_CRYPTO - 1].media, (KP_SDP_MAX_CRYPTO - 1) / 3);
    assert_true(s.anomalies & KP_SDP_ANOM_CAPPED);
    assert_int_equal(s.lines_total, 2 + 100 * 54);
    assert_int_equal(s.media[15].port, 1015);
}

/* Mutated real messages: no crash, no view outside the bytes. */
static void test_sip_mutations(void **state)
{
    (void)state;
    const char *files[] = {"sip", "sip_tcp", "sip_tls"};
    uint32_t seed = 2024;
    size_t ok = 0;
    for (size_t f = 0; f < 3; f++) {
        struct mt_vec v;
        mt_load(&v, files[f]);
        for (size_t i = 0; i < v.n; i++) {
            const struct mt_rec *r = &v.rec[i];
            for (int k = 0; k < 300; k++) {
                uint8_t *p = mt_copy(r->data, r->len);
                mt_mutate(p, r->len, &seed);
                struct kp_sip_msg m;
                bool stream = k % 2 == 0;
                if (kp_sip_parse(&m, kp_rd_make(p, r->len), stream) == KP_RES_OK) {
                    ok++;
                    sip_views_inside(&m, p, r->len);
                    static struct kp_sdp s;
                    if (kp_sdp_parse(&s, m.body) == KP_RES_OK) {
                        sdp_views_inside(&s, p, r->len);
                    }
                }
                free(p);
            }
        }
        mt_free(&v);
    }
    assert_true(ok > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_udp_vectors),
        cmocka_unit_test(test_sip_udp_truncated),
        cmocka_unit_test(test_sip_tcp_stream),
        cmocka_unit_test(test_sip_frame_built),
        cmocka_unit_test(test_sip_frame_vectors),
        cmocka_unit_test(test_sip_frame_linear),
        cmocka_unit_test(test_sdes_tls),
        cmocka_unit_test(test_sip_headers),
        cmocka_unit_test(test_sip_start_line),
        cmocka_unit_test(test_sip_content_length),
        cmocka_unit_test(test_sip_bounds),
        cmocka_unit_test(test_sdp_crypto),
        cmocka_unit_test(test_sdp_attributes),
        cmocka_unit_test(test_sdp_bounds),
        cmocka_unit_test(test_sip_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
