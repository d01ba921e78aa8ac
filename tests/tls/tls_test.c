/* Unit tests of analyze/tls.c: the record walk (kp_tls_scan) and the
 * ClientHello / ServerHello / Certificate parsers, on hand-built messages
 * and on handshake bytes cut from the real captures in ../shared/pcaps at
 * test time (extract.py via ../vectors_run.py, see tls_test_util.h;
 * expected values checked with tshark 4.0.17 -V). */
#include "tls_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

static bool rd_is(struct kp_rd v, const char *s)
{
    return kp_rd_eq(&v, s, strlen(s));
}

static void assert_u16s(const uint16_t *got, size_t n, const uint16_t *want, size_t wn)
{
    assert_int_equal(n, wn);
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("entry %zu: got 0x%04x, want 0x%04x", i, got[i], want[i]);
        }
    }
}
#define ASSERT_U16S(got, n, ...)                                                       \
    do {                                                                               \
        static const uint16_t want_[] = {__VA_ARGS__};                                 \
        assert_u16s((got), (n), want_, sizeof want_ / sizeof want_[0]);                \
    } while (0)

/* Every view of a parsed ClientHello lies inside base[0..len). */
static void assert_ch_views_in(const struct kp_tls_client_hello *ch, const uint8_t *base,
                               size_t len)
{
    assert_true(tt_in(ch->session_id, base, len));
    assert_true(tt_in(ch->cookie, base, len));
    assert_true(tt_in(ch->sni, base, len));
    assert_true(ch->n_alpn <= KP_TLS_MAX_ALPN);
    for (size_t i = 0; i < ch->n_alpn; i++) {
        assert_true(tt_in(ch->alpn[i], base, len));
    }
    assert_true(ch->n_ciphers <= KP_TLS_MAX_CIPHERS && ch->n_ciphers <= ch->ciphers_total);
    assert_true(ch->n_exts <= KP_TLS_MAX_EXTS && ch->n_exts <= ch->exts_total);
    assert_true(ch->n_versions <= ch->versions_total && ch->n_sigalgs <= ch->sigalgs_total);
    assert_true(ch->n_groups <= ch->groups_total && ch->n_key_shares <= ch->key_shares_total);
    assert_true(ch->n_srtp_profiles <= ch->srtp_profiles_total);
}

static void assert_sh_views_in(const struct kp_tls_server_hello *sh, const uint8_t *base,
                               size_t len)
{
    assert_true(tt_in(sh->session_id, base, len));
    assert_true(tt_in(sh->alpn, base, len));
    assert_true(sh->n_exts <= KP_TLS_MAX_EXTS && sh->n_exts <= sh->exts_total);
}

static void assert_cert_views_in(const struct kp_tls_certificate *c, const uint8_t *base,
                                 size_t len)
{
    assert_true(tt_in(c->context, base, len));
    assert_true(c->n_certs <= KP_TLS_MAX_CERTS && c->n_certs <= c->certs_total);
    for (size_t i = 0; i < c->n_certs; i++) {
        assert_true(tt_in(c->certs[i], base, len));
    }
}

enum msg_kind { K_CH, K_CH_DTLS, K_SH, K_SH_DTLS, K_CERT, K_CERT13 };

/* Parse one message body of the given kind from an exact-size copy; check
 * that the result is OK or MALFORMED (never TRUNCATED / NOT_MINE) and that
 * every view of an OK result lies in the copy. */
static enum kp_res parse_checked(enum msg_kind kind, const uint8_t *p, size_t len)
{
    static struct kp_tls_client_hello ch;
    static struct kp_tls_server_hello sh;
    static struct kp_tls_certificate cert;
    uint8_t *copy = tt_exact_copy(p, len);
    struct kp_rd body = kp_rd_make(copy, len);
    enum kp_res r;
    switch (kind) {
    case K_CH:
    case K_CH_DTLS:
        r = kp_tls_parse_client_hello(&ch, body, kind == K_CH_DTLS);
        if (r == KP_RES_OK) {
            assert_ch_views_in(&ch, copy, len);
        }
        break;
    case K_SH:
    case K_SH_DTLS:
        r = kp_tls_parse_server_hello(&sh, body, kind == K_SH_DTLS);
        if (r == KP_RES_OK) {
            assert_sh_views_in(&sh, copy, len);
        }
        break;
    default:
        r = kp_tls_parse_certificate(&cert, body, kind == K_CERT13);
        if (r == KP_RES_OK) {
            assert_cert_views_in(&cert, copy, len);
        }
        break;
    }
    free(copy);
    assert_true(r == KP_RES_OK || r == KP_RES_MALFORMED);
    return r;
}

/* Every strict prefix of a valid body: never a crash, never a view outside
 * the prefix, and OK at most at `max_ok_prefixes` lengths (a ClientHello or
 * ServerHello cut right after its compression method is a valid message
 * without extensions). */
static void check_every_prefix(enum msg_kind kind, const uint8_t *p, size_t len,
                               size_t max_ok_prefixes)
{
    size_t ok = 0;
    assert_int_equal(parse_checked(kind, p, len), KP_RES_OK);
    for (size_t n = 0; n < len; n++) {
        if (parse_checked(kind, p, n) == KP_RES_OK) {
            ok++;
        }
    }
    assert_true(ok <= max_ok_prefixes);
}

/* Each byte +1, -1 and inverted: OK or MALFORMED, views inside. */
static void check_byte_flips(enum msg_kind kind, const uint8_t *p, size_t len)
{
    static const int deltas[] = {1, -1, 0x100};
    uint8_t *m = tt_exact_copy(p, len);
    for (size_t i = 0; i < len; i++) {
        for (size_t d = 0; d < 3; d++) {
            uint8_t saved = m[i];
            m[i] = deltas[d] == 0x100 ? (uint8_t)~saved : (uint8_t)(saved + deltas[d]);
            (void)parse_checked(kind, m, len);
            m[i] = saved;
        }
    }
    free(m);
}

/* ---- helpers of tls.h ---------------------------------------------------- */

static void test_grease(void **state)
{
    (void)state;
    int n = 0;
    for (uint32_t v = 0; v <= 0xffff; v++) {
        if (kp_tls_is_grease((uint16_t)v)) {
            assert_int_equal(v >> 8, v & 0xff);
            assert_int_equal(v & 0x0f, 0x0a);
            n++;
        }
    }
    assert_int_equal(n, 16);
    assert_true(kp_tls_is_grease(0x0a0a));
    assert_true(kp_tls_is_grease(0xfafa));
    assert_false(kp_tls_is_grease(0x0a1a));
    assert_false(kp_tls_is_grease(0x1301));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(kp_tls_version_name(0x0303), "TLS 1.2");
    assert_string_equal(kp_tls_version_name(0x0304), "TLS 1.3");
    assert_string_equal(kp_tls_version_name(0x0301), "TLS 1.0");
    assert_string_equal(kp_tls_version_name(0x0302), "TLS 1.1");
    assert_string_equal(kp_tls_version_name(0x0300), "SSL 3.0");
    assert_string_equal(kp_tls_version_name(0x0002), "SSL 2.0");
    assert_string_equal(kp_tls_version_name(0xfeff), "DTLS 1.0");
    assert_string_equal(kp_tls_version_name(0xfefd), "DTLS 1.2");
    assert_string_equal(kp_tls_version_name(0xfefc), "DTLS 1.3");
    assert_string_equal(kp_tls_version_name(0x7f12), "TLS 1.3 draft");
    assert_null(kp_tls_version_name(0x0305));
    assert_null(kp_tls_version_name(0xfefe));
    assert_null(kp_tls_version_name(0));
    assert_true(kp_tls_version_is_13(0x0304));
    assert_true(kp_tls_version_is_13(0xfefc));
    assert_true(kp_tls_version_is_13(0x7f1c));
    assert_false(kp_tls_version_is_13(0x0303));
    assert_false(kp_tls_version_is_13(0xfefd));
    assert_false(kp_tls_version_is_13(0));

    assert_string_equal(kp_tls_hs_type_name(1), "ClientHello");
    assert_string_equal(kp_tls_hs_type_name(2), "ServerHello");
    assert_string_equal(kp_tls_hs_type_name(11), "Certificate");
    assert_string_equal(kp_tls_hs_type_name(12), "ServerKeyExchange");
    assert_string_equal(kp_tls_hs_type_name(14), "ServerHelloDone");
    assert_string_equal(kp_tls_hs_type_name(20), "Finished");
    assert_null(kp_tls_hs_type_name(6));
    assert_null(kp_tls_hs_type_name(99));
}

/* ---- kp_tls_scan on real streams ---------------------------------------- */

struct stream_vec {
    const char *file;
    uint16_t version_in;        /* st->version preset by the caller */
    enum kp_res res;
    enum kp_tls_stop stop;
    size_t offset;
    uint16_t version_out;
    uint16_t record_version;
    uint8_t types[8];
    size_t n_types;
};

/* Expected from the record structure shown by tshark for each capture. */
static const struct stream_vec stream_vecs[] = {
    {"tls12_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 589, 0, 0x0301, {1, 16}, 2},
    {"tls12_zeek_server.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 3927, 0x0303, 0x0303, {2, 11, 14}, 3},
    {"tls13_curl_arkime_client.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 517, 0, 0x0301, {1}, 1},
    {"tls13_curl_arkime_client.hex", 0x0304, KP_RES_OK, KP_TLS_STOP_APPDATA, 523, 0x0304, 0x0301,
     {1}, 1},
    {"tls13_curl_arkime_server.hex", 0, KP_RES_OK, KP_TLS_STOP_TLS13, 127, 0x0304, 0x0303, {2}, 1},
    {"tls13_hrr_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 236, 0, 0x0301, {1}, 1},
    {"tls13_hrr_zeek_client.hex", 0x0304, KP_RES_OK, KP_TLS_STOP_APPDATA, 486, 0x0304, 0x0301,
     {1, 1}, 2},
    {"tls13_hrr_zeek_server.hex", 0, KP_RES_OK, KP_TLS_STOP_TLS13, 259, 0x0304, 0x0303, {2, 2}, 2},
    {"tls13_ech_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 517, 0, 0x0301, {1}, 1},
    {"tls13_kyber_chrome_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 1756, 0, 0x0301, {1}, 1},
    {"tls13_arkime_client.hex", 0, KP_RES_OK, KP_TLS_STOP_NONE, 517, 0, 0x0301, {1}, 1},
    {"tls13_arkime_server.hex", 0, KP_RES_OK, KP_TLS_STOP_TLS13, 87, 0x7f12, 0x0301, {2}, 1},
    {"tls_client_certificate_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_NONE, 517, 0, 0x0301,
     {1}, 1},
    {"tls_dhe_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_NONE, 100, 0, 0x0301, {1}, 1},
    {"tls_ecdsa_cert_zeek_server.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 2416, 0x0303, 0x0303,
     {2, 11, 12, 14, 4}, 5},
    {"tls13_psk_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_CCS, 407, 0, 0x0301, {1}, 1},
    {"tls13_psk_zeek_server.hex", 0, KP_RES_OK, KP_TLS_STOP_TLS13, 133, 0x0304, 0x0303, {2}, 1},
    {"tls_ocsp_stapling_zeek_client.hex", 0, KP_RES_OK, KP_TLS_STOP_NONE, 237, 0, 0x0301, {1}, 1},
    {"skype_ndpi_hist_client.hex", 0, KP_RES_OK, KP_TLS_STOP_NONE, 94, 0, 0x0301, {1}, 1},
};
#define N_STREAM_VECS (sizeof stream_vecs / sizeof stream_vecs[0])

static enum kp_res scan_with(const uint8_t *p, size_t len, uint16_t version,
                             struct kp_tls_scan_state *st, struct tt_msgs *msgs)
{
    static uint8_t scratch[TT_SCRATCH];
    uint8_t *copy = tt_exact_copy(p, len);
    struct kp_rd s = kp_rd_make(copy, len);
    memset(st, 0, sizeof *st);
    st->version = version;
    tt_msgs_init(msgs, copy, len, scratch, sizeof scratch);
    enum kp_res r = kp_tls_scan(&s, scratch, sizeof scratch, st, tt_collect, msgs);
    free(copy);
    return r;
}

static void test_scan_real_streams(void **state)
{
    (void)state;
    tt_need_captures();
    for (size_t v = 0; v < N_STREAM_VECS; v++) {
        const struct stream_vec *e = &stream_vecs[v];
        size_t len;
        uint8_t *p = tt_load_hex(e->file, &len);
        struct kp_tls_scan_state st;
        struct tt_msgs msgs;
        enum kp_res r = scan_with(p, len, e->version_in, &st, &msgs);
        if (r != e->res || st.stop != e->stop || st.offset != e->offset ||
            st.version != e->version_out || msgs.n != e->n_types) {
            fail_msg("%s (version %04x): res %d stop %d offset %zu version %04x msgs %zu", e->file,
                     e->version_in, r, st.stop, st.offset, st.version, msgs.n);
        }
        assert_int_equal(st.record_version, e->record_version);
        assert_int_equal(st.encrypted, e->stop == KP_TLS_STOP_CCS ||
                                           e->stop == KP_TLS_STOP_APPDATA ||
                                           e->stop == KP_TLS_STOP_TLS13);
        assert_int_equal(st.delivered, e->n_types);
        assert_int_equal(st.messages, e->n_types);
        assert_int_equal(st.oversized, 0);
        assert_false(st.sslv2);
        for (size_t i = 0; i < msgs.n; i++) {
            assert_int_equal(msgs.m[i].type, e->types[i]);
        }
        tt_msgs_free(&msgs);
        free(p);
    }
}

/* Test-side record boundaries: offsets where a record ends and no
 * handshake message is left incomplete (one spanning records is not). */
static size_t record_ends(const uint8_t *p, size_t len, size_t *ends, size_t cap)
{
    size_t off = 0, n = 0, hdr_n = 0, body_left = 0;
    uint32_t hdr_len = 0;
    while (off + 5 <= len && n < cap) {
        size_t rl = (size_t)p[off + 3] << 8 | p[off + 4];
        if (off + 5 + rl > len) {
            break;
        }
        for (size_t i = 0; p[off] == KP_TLS_CT_HANDSHAKE && i < rl; i++) {
            if (body_left > 0) {
                body_left--;
            } else if (++hdr_n == 4) {
                body_left = hdr_len << 8 | p[off + 5 + i];
                hdr_n = 0;
                hdr_len = 0;
            } else if (hdr_n > 1) {
                hdr_len = hdr_len << 8 | p[off + 5 + i];
            }
        }
        off += 5 + rl;
        if (hdr_n == 0 && body_left == 0) {
            ends[n++] = off;
        }
    }
    return n;
}

/* Every prefix of every stream: TRUNCATED unless it ends on a record
 * boundary before the stop (OK) or reaches the point where the walk stops
 * (OK); delivered messages are always a prefix of the full list. */
static void check_every_stream_prefix(const char *name, const uint8_t *p, size_t len,
                                      uint16_t version)
{
    struct kp_tls_scan_state full, st;
    struct tt_msgs all, some;
    assert_int_equal(scan_with(p, len, version, &full, &all), KP_RES_OK);
    size_t ok_from = full.stop == KP_TLS_STOP_CCS || full.stop == KP_TLS_STOP_APPDATA
                         ? full.offset + 5
                         : full.offset;
    size_t ends[64];
    size_t n_ends = record_ends(p, len, ends, 64);
    for (size_t n = 0; n <= len; n++) {
        bool boundary = false;
        for (size_t i = 0; i < n_ends; i++) {
            boundary = boundary || (ends[i] == n && n <= full.offset);
        }
        enum kp_res want = (boundary || n >= ok_from) ? KP_RES_OK : KP_RES_TRUNCATED;
        enum kp_res r = scan_with(p, n, version, &st, &some);
        if (r != want) {
            fail_msg("%s prefix %zu/%zu: got %d want %d", name, n, len, r, want);
        }
        assert_true(some.n <= all.n);
        for (size_t i = 0; i < some.n; i++) {
            assert_int_equal(some.m[i].type, all.m[i].type);
            assert_int_equal(some.m[i].len, all.m[i].len);
            assert_memory_equal(some.m[i].body, all.m[i].body, all.m[i].len);
        }
        if (n >= ok_from) {
            assert_int_equal(some.n, all.n);
            assert_int_equal(st.offset, full.offset);
        }
        tt_msgs_free(&some);
    }
    tt_msgs_free(&all);
}

static void test_scan_every_prefix(void **state)
{
    (void)state;
    tt_need_captures();
    for (size_t v = 0; v < N_STREAM_VECS; v++) {
        const struct stream_vec *e = &stream_vecs[v];
        size_t len;
        uint8_t *p = tt_load_hex(e->file, &len);
        check_every_stream_prefix(e->file, p, len, e->version_in);
        free(p);
    }
}

/* Feed growing prefixes to one state: each message arrives exactly once, in
 * order, whatever the step. */
static void feed_incrementally(const uint8_t *p, size_t len, uint16_t version, size_t step,
                               const struct tt_msgs *all)
{
    static uint8_t scratch[TT_SCRATCH];
    struct kp_tls_scan_state st;
    struct tt_msgs got;
    memset(&st, 0, sizeof st);
    st.version = version;
    tt_msgs_init(&got, NULL, 0, scratch, sizeof scratch);
    size_t n = 0;
    for (;;) {
        uint8_t *copy = tt_exact_copy(p, n);
        struct kp_rd s = kp_rd_make(copy, n);
        got.stream = copy;
        got.stream_len = n;
        enum kp_res r = kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got);
        free(copy);
        assert_true(r == KP_RES_OK || r == KP_RES_TRUNCATED);
        assert_int_equal(st.delivered, got.n);
        if (n == len) {
            break;
        }
        n = n + step < len ? n + step : len;
    }
    assert_int_equal(got.n, all->n);
    for (size_t i = 0; i < got.n; i++) {
        assert_int_equal(got.m[i].type, all->m[i].type);
        assert_int_equal(got.m[i].len, all->m[i].len);
        assert_memory_equal(got.m[i].body, all->m[i].body, all->m[i].len);
    }
    tt_msgs_free(&got);
}

static void check_stream_incremental(const uint8_t *p, size_t len, uint16_t version)
{
    static const size_t steps[] = {1, 2, 5, 13, 100, 1400, 100000};
    struct kp_tls_scan_state full;
    struct tt_msgs all;
    assert_int_equal(scan_with(p, len, version, &full, &all), KP_RES_OK);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        feed_incrementally(p, len, version, steps[s], &all);
    }
    tt_msgs_free(&all);
}

static void test_scan_incremental(void **state)
{
    (void)state;
    tt_need_captures();
    for (size_t v = 0; v < N_STREAM_VECS; v++) {
        const struct stream_vec *e = &stream_vecs[v];
        size_t len;
        uint8_t *p = tt_load_hex(e->file, &len);
        check_stream_incremental(p, len, e->version_in);
        free(p);
    }
}

/* The client side of a HelloRetryRequest exchange: without the version the
 * walk stops at the compatibility CCS; once the caller learns TLS 1.3 from
 * the server, the same state walks on and delivers only the second
 * ClientHello. */
static void test_scan_hrr_client_learns_version(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t scratch[TT_SCRATCH];
    size_t len;
    uint8_t *p = tt_load_hex("tls13_hrr_zeek_client.hex", &len);
    struct kp_tls_scan_state st;
    struct tt_msgs got;
    memset(&st, 0, sizeof st);
    tt_msgs_init(&got, p, len, scratch, sizeof scratch);
    struct kp_rd s = kp_rd_make(p, len);
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_CCS);
    assert_int_equal(got.n, 1);
    st.version = KP_TLS_V_TLS13;
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_APPDATA);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.m[1].type, KP_TLS_HS_CLIENT_HELLO);
    assert_int_equal(got.m[1].len, 239 - 4);
    /* Once more: nothing new. */
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got), KP_RES_OK);
    assert_int_equal(got.n, 2);
    tt_msgs_free(&got);
    free(p);
}

/* ---- kp_tls_scan on re-recorded handshake bytes ------------------------- */

/* The handshake byte stream (headers + bodies) of a message list. */
static size_t hs_bytes(const struct tt_msgs *m, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        assert_true(n + 4 + m->m[i].len <= cap);
        out[n++] = m->m[i].type;
        out[n++] = (uint8_t)(m->m[i].len >> 16);
        out[n++] = (uint8_t)(m->m[i].len >> 8);
        out[n++] = (uint8_t)m->m[i].len;
        memcpy(out + n, m->m[i].body, m->m[i].len);
        n += m->m[i].len;
    }
    return n;
}

static void assert_same_msgs(const struct tt_msgs *a, const struct tt_msgs *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->m[i].type, b->m[i].type);
        assert_int_equal(a->m[i].len, b->m[i].len);
        assert_memory_equal(a->m[i].body, b->m[i].body, a->m[i].len);
    }
}

static void test_scan_rerecorded(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t hs[65536];
    static struct tt_bld out;
    static const size_t chunks[] = {1, 2, 3, 7, 255, 4096, 16384};
    size_t len;
    uint8_t *p = tt_load_hex("tls12_zeek_server.hex", &len);
    struct kp_tls_scan_state st;
    struct tt_msgs all, got;
    assert_int_equal(tt_scan(p, len, &st, &all), KP_RES_OK);
    size_t n = hs_bytes(&all, hs, sizeof hs);
    assert_int_equal(n, 81 + 3827 + 4);
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        tt_init(&out);
        /* chunk 16384: all three messages in one record. */
        tt_records(&out, KP_TLS_CT_HANDSHAKE, hs, n, chunks[c]);
        assert_int_equal(tt_scan(out.b, out.len, &st, &got), KP_RES_OK);
        assert_int_equal(st.stop, KP_TLS_STOP_NONE);
        assert_int_equal(st.offset, out.len);
        assert_int_equal(st.records, (n + chunks[c] - 1) / chunks[c]);
        assert_same_msgs(&all, &got);
        tt_msgs_free(&got);
        /* Cut one byte short: the last record is incomplete, so only the
         * messages that end before it arrive. */
        size_t last_start = (n - 1) / chunks[c] * chunks[c];
        size_t want = 0, end = 0;
        for (size_t i = 0; i < all.n; i++) {
            end += 4 + all.m[i].len;
            want += end <= last_start ? 1 : 0;
        }
        assert_int_equal(tt_scan(out.b, out.len - 1, &st, &got), KP_RES_TRUNCATED);
        assert_int_equal(got.n, want);
        tt_msgs_free(&got);
    }
    tt_msgs_free(&all);
    free(p);
}

/* A ClientHello + ClientKeyExchange split into two records at every point. */
static void test_scan_split_everywhere(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t hs[4096];
    static struct tt_bld out;
    size_t len;
    uint8_t *p = tt_load_hex("tls12_zeek_client.hex", &len);
    struct kp_tls_scan_state st;
    struct tt_msgs all, got;
    assert_int_equal(tt_scan(p, len, &st, &all), KP_RES_OK);
    size_t n = hs_bytes(&all, hs, sizeof hs);
    for (size_t k = 1; k < n; k++) {
        tt_init(&out);
        tt_records(&out, KP_TLS_CT_HANDSHAKE, hs, k, k);
        tt_records(&out, KP_TLS_CT_HANDSHAKE, hs + k, n - k, n - k);
        assert_int_equal(tt_scan(out.b, out.len, &st, &got), KP_RES_OK);
        assert_same_msgs(&all, &got);
        tt_msgs_free(&got);
    }
    tt_msgs_free(&all);
    free(p);
}

/* One message spread over 1-byte records, fed one byte at a time. */
static void test_scan_one_byte_records_incremental(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t hs[4096];
    static struct tt_bld out;
    size_t len;
    uint8_t *p = tt_load_hex("tls13_curl_arkime_client.hex", &len);
    struct kp_tls_scan_state st;
    struct tt_msgs all;
    assert_int_equal(tt_scan(p, len, &st, &all), KP_RES_OK);
    size_t n = hs_bytes(&all, hs, sizeof hs);
    tt_init(&out);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, hs, n, 1);
    assert_int_equal(out.len, 6 * n);
    feed_incrementally(out.b, out.len, 0, 1, &all);
    feed_incrementally(out.b, out.len, 0, 6, &all);
    tt_msgs_free(&all);
    free(p);
}

/* ---- kp_tls_scan resuming where the previous call stopped --------------- */

/* Deterministic chunk sizes (xorshift32): the same sequence on every run. */
static uint32_t xs_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Every output of a call, to compare two walks. */
static void assert_same_scan(const struct kp_tls_scan_state *a, const struct kp_tls_scan_state *b,
                             const char *what, size_t n)
{
    if (a->delivered != b->delivered || a->version != b->version || a->offset != b->offset ||
        a->records != b->records || a->messages != b->messages ||
        a->oversized != b->oversized || a->record_version != b->record_version ||
        a->stop != b->stop || a->encrypted != b->encrypted || a->sslv2 != b->sslv2 ||
        a->alert_seen != b->alert_seen || a->alert_level != b->alert_level ||
        a->alert_description != b->alert_description) {
        fail_msg("%s, prefix %zu: resumed delivered %u version %04x offset %zu records %u "
                 "messages %u oversized %u stop %d; from the first byte delivered %u version "
                 "%04x offset %zu records %u messages %u oversized %u stop %d",
                 what, n, a->delivered, a->version, a->offset, a->records, a->messages,
                 a->oversized, a->stop, b->delivered, b->version, b->offset, b->records,
                 b->messages, b->oversized, b->stop);
    }
}

/* Feed growing prefixes of p to two states, calling after every chunk
 * (chunk 0: random sizes 1..max_chunk from `seed`).  One state resumes, as
 * kp_tls_scan does; the other has its resume point wiped before each call,
 * which makes kp_tls_scan walk from the first byte as it did before it
 * could resume.  Every result, every output and every delivered message
 * must be the same.  Like tls_flow.c, the caller sets `learn` as the
 * version when a walk stops at a ChangeCipherSpec with no version known.
 * Each prefix is an exact-size copy at a new address (ASan sees any read
 * past it, and a resume point that kept a pointer would break) and scratch
 * is clobbered between calls (its contents do not survive).  Returns the
 * resumed state's messages in *got (free with tt_msgs_free). */
static void feed_two_ways(const char *what, const uint8_t *p, size_t len, uint16_t version,
                          uint16_t learn, size_t chunk, size_t max_chunk, uint32_t seed,
                          size_t scratch_cap, struct tt_msgs *got)
{
    static uint8_t scratch[TT_SCRATCH];
    assert_true(scratch_cap <= sizeof scratch);
    struct kp_tls_scan_state st, ref;
    struct tt_msgs ref_got;
    memset(&st, 0, sizeof st);
    memset(&ref, 0, sizeof ref);
    st.version = ref.version = version;
    tt_msgs_init(got, NULL, 0, scratch, scratch_cap);
    tt_msgs_init(&ref_got, NULL, 0, scratch, scratch_cap);
    uint32_t x = seed != 0 ? seed : 1;
    size_t n = 0;
    for (;;) {
        uint8_t *copy = tt_exact_copy(p, n);
        struct kp_rd s = kp_rd_make(copy, n);
        got->stream = ref_got.stream = copy;
        got->stream_len = ref_got.stream_len = n;
        /* Messages are assembled from scratch[0] on: clobbering the start
         * is enough to catch a walk that expects what it left there. */
        memset(scratch, 0xa5, 256);
        enum kp_res r = kp_tls_scan(&s, scratch, scratch_cap, &st, tt_collect, got);
        memset(scratch, 0x5a, 256);
        memset(&ref.resume, 0, sizeof ref.resume);
        enum kp_res rr = kp_tls_scan(&s, scratch, scratch_cap, &ref, tt_collect, &ref_got);
        free(copy);
        if (r != rr) {
            fail_msg("%s, prefix %zu/%zu: resumed %d, from the first byte %d", what, n, len, r,
                     rr);
        }
        assert_same_scan(&st, &ref, what, n);
        if (st.delivered != got->n + st.oversized) {
            fail_msg("%s, prefix %zu/%zu: delivered %u, got %zu, oversized %u", what, n, len,
                     st.delivered, got->n, st.oversized);
        }
        if (r == KP_RES_OK && st.stop == KP_TLS_STOP_CCS && st.version == 0 && learn != 0) {
            st.version = ref.version = learn;
            continue; /* the same prefix again, as scan_dir does for the other side */
        }
        if (n == len) {
            break;
        }
        size_t step = chunk != 0 ? chunk : 1 + xs_next(&x) % max_chunk;
        n = n + step < len ? n + step : len;
    }
    got->stream = NULL;
    got->stream_len = 0;
    assert_same_msgs(got, &ref_got);
    tt_msgs_free(&ref_got);
}

/* Byte by byte and in random chunks, against the walk from the first byte
 * at every step and against one walk over the whole stream at the end. */
static void check_resume(const char *what, const uint8_t *p, size_t len, uint16_t version,
                         uint16_t learn, size_t scratch_cap, bool like_one_walk)
{
    static uint8_t scratch[TT_SCRATCH];
    struct kp_tls_scan_state one;
    struct tt_msgs all, got;
    memset(&one, 0, sizeof one);
    one.version = learn != 0 ? learn : version;
    uint8_t *copy = tt_exact_copy(p, len);
    struct kp_rd s = kp_rd_make(copy, len);
    tt_msgs_init(&all, copy, len, scratch, scratch_cap);
    (void)kp_tls_scan(&s, scratch, scratch_cap, &one, tt_collect, &all);
    free(copy);
    static const size_t maxes[] = {3, 17, 300, 5000};
    for (size_t i = 0; i < 1 + sizeof maxes / sizeof maxes[0]; i++) {
        size_t chunk = i == 0 ? 1 : 0;
        size_t max_chunk = i == 0 ? 1 : maxes[i - 1];
        feed_two_ways(what, p, len, version, learn, chunk, max_chunk, (uint32_t)(i * 7919 + 1),
                      scratch_cap, &got);
        if (like_one_walk) {
            /* The whole stream at once (with the learnt version from the
             * start) delivers the same messages. */
            assert_same_msgs(&all, &got);
        }
        tt_msgs_free(&got);
    }
    tt_msgs_free(&all);
}

static void test_scan_resume_real_streams(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t hs[65536];
    static struct tt_bld out;
    static const size_t records[] = {1, 5, 1000};
    for (size_t v = 0; v < N_STREAM_VECS; v++) {
        const struct stream_vec *e = &stream_vecs[v];
        size_t len;
        uint8_t *p = tt_load_hex(e->file, &len);
        char what[128];
        snprintf(what, sizeof what, "%s version %04x", e->file, e->version_in);
        check_resume(what, p, len, e->version_in, 0, TT_SCRATCH, true);
        /* The caller learns TLS 1.3 from the other side, as tls_flow.c. */
        check_resume(what, p, len, e->version_in, KP_TLS_V_TLS13, TT_SCRATCH, true);
        /* The same messages re-recorded as tiny records, so that messages
         * span records and resume points fall inside them; a scratch buffer
         * too small for the largest message. */
        struct kp_tls_scan_state st;
        struct tt_msgs all;
        (void)scan_with(p, len, e->version_in, &st, &all);
        size_t n = hs_bytes(&all, hs, sizeof hs);
        for (size_t c = 0; c < sizeof records / sizeof records[0]; c++) {
            tt_init(&out);
            tt_records(&out, KP_TLS_CT_HANDSHAKE, hs, n, records[c]);
            snprintf(what, sizeof what, "%s in %zu-byte records", e->file, records[c]);
            check_resume(what, out.b, out.len, 0, 0, TT_SCRATCH, true);
            check_resume(what, out.b, out.len, 0, 0, 300, true);
        }
        tt_msgs_free(&all);
        free(p);
    }
}

/* One handshake message with its header. */
static size_t hs_message_bytes(const struct tt_msg *m, uint8_t *out, size_t cap)
{
    assert_true(4 + m->len <= cap);
    out[0] = m->type;
    out[1] = (uint8_t)(m->len >> 16);
    out[2] = (uint8_t)(m->len >> 8);
    out[3] = (uint8_t)m->len;
    memcpy(out + 4, m->body, m->len);
    return 4 + m->len;
}

/* Streams built to reach every branch of the resume logic: heartbeat and
 * alert records, a message larger than scratch, a TLS 1.3 ChangeCipherSpec
 * skipped on the caller's version and then a TLS 1.2 ServerHello that
 * changes the version (a walk from the first byte then stops at that
 * ChangeCipherSpec: the resume point past it must not be used), and record
 * errors after resume points. */
static void test_scan_resume_built(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t ch[4096], sh[4096];
    static struct tt_bld out;
    size_t clen, slen;
    uint8_t *cp = tt_load_hex("tls12_zeek_client.hex", &clen);
    uint8_t *sp = tt_load_hex("tls12_zeek_server.hex", &slen);
    struct kp_tls_scan_state st;
    struct tt_msgs cm, sm;
    assert_int_equal(tt_scan(cp, clen, &st, &cm), KP_RES_OK);
    assert_int_equal(tt_scan(sp, slen, &st, &sm), KP_RES_OK);
    /* The ClientHello and the ServerHello (first messages), with headers. */
    size_t chn = hs_message_bytes(&cm.m[0], ch, sizeof ch);
    size_t shn = hs_message_bytes(&sm.m[0], sh, sizeof sh);
    static const uint8_t ccs[] = {0x01};
    static const uint8_t hb[] = {0x01, 0x00, 0x00};
    static const uint8_t alert[] = {0x02, 0x28};

    for (int variant = 0; variant < 6; variant++) {
        tt_init(&out);
        tt_records(&out, KP_TLS_CT_HANDSHAKE, ch, chn, 1);
        tt_records(&out, KP_TLS_CT_HEARTBEAT, hb, sizeof hb, sizeof hb);
        tt_records(&out, KP_TLS_CT_CHANGE_CIPHER_SPEC, ccs, 1, 1);
        tt_records(&out, KP_TLS_CT_HANDSHAKE, sh, shn, 7);
        tt_records(&out, KP_TLS_CT_HANDSHAKE, ch, chn, 3);
        switch (variant) {
        case 0: /* the TLS 1.2 ChangeCipherSpec, then encrypted bytes */
            tt_records(&out, KP_TLS_CT_CHANGE_CIPHER_SPEC, ccs, 1, 1);
            tt_records(&out, KP_TLS_CT_APPLICATION_DATA, hb, sizeof hb, sizeof hb);
            break;
        case 1: /* an alert */
            tt_records(&out, KP_TLS_CT_ALERT, alert, sizeof alert, sizeof alert);
            break;
        case 2: /* a bad content type after many resume points */
            tt_records(&out, 0x30, alert, sizeof alert, sizeof alert);
            break;
        case 3: /* another record type inside a fragmented message */
            tt_records(&out, KP_TLS_CT_HANDSHAKE, ch, 10, 10);
            tt_records(&out, KP_TLS_CT_HEARTBEAT, hb, sizeof hb, sizeof hb);
            break;
        case 4: /* a fragmented message cut off */
            tt_records(&out, KP_TLS_CT_HANDSHAKE, ch, chn - 1, 2);
            break;
        default: /* the ServerHello again, in 1-byte records: the version set again */
            tt_records(&out, KP_TLS_CT_HANDSHAKE, sh, shn, 1);
            break;
        }
        char what[64];
        snprintf(what, sizeof what, "built stream %d", variant);
        /* A ServerHello of this stream changes the version the caller
         * gave: one walk over the whole stream is not the reference then,
         * the walk from the first byte on every call is. */
        check_resume(what, out.b, out.len, KP_TLS_V_TLS13, 0, TT_SCRATCH, false);
        check_resume(what, out.b, out.len, 0, KP_TLS_V_TLS13, TT_SCRATCH, false);
        check_resume(what, out.b, out.len, KP_TLS_V_TLS13, 0, 64, false);
        check_resume(what, out.b, out.len, 0, 0, 0, true);
    }

    /* The pathological case by hand: with TLS 1.3 from the caller the walk
     * passes the ChangeCipherSpec and the ServerHello sets TLS 1.2; the next
     * call starts from TLS 1.2 and, like a walk from the first byte, stops
     * at the ChangeCipherSpec. */
    tt_init(&out);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, ch, chn, chn);
    size_t ccs_at = out.len;
    tt_records(&out, KP_TLS_CT_CHANGE_CIPHER_SPEC, ccs, 1, 1);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, sh, shn, shn);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, ch, chn, 100);
    static uint8_t scratch[TT_SCRATCH];
    struct kp_rd s = kp_rd_make(out.b, out.len - 1);
    struct tt_msgs got;
    memset(&st, 0, sizeof st);
    st.version = KP_TLS_V_TLS13;
    tt_msgs_init(&got, out.b, out.len, scratch, sizeof scratch);
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got),
                     KP_RES_TRUNCATED);
    assert_int_equal(st.version, KP_TLS_V_TLS12);
    assert_int_equal(got.n, 2);
    s = kp_rd_make(out.b, out.len);
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_CCS);
    assert_int_equal(st.offset, ccs_at);
    assert_int_equal(got.n, 2);
    tt_msgs_free(&got);

    tt_msgs_free(&cm);
    tt_msgs_free(&sm);
    free(cp);
    free(sp);
}

/* The cost of feeding a handshake of 1-byte records a byte at a time: each
 * call starts at the record in progress, so the records walked over all
 * calls stay within a small multiple of the records in the stream (a walk
 * from the first byte on every call walks about n^2/2). */
static void test_scan_resume_linear(void **state)
{
    (void)state;
    static uint8_t hs[4000];
    static struct tt_bld out;
    static uint8_t scratch[TT_SCRATCH];
    hs[0] = KP_TLS_HS_CLIENT_HELLO;
    hs[1] = 0;
    hs[2] = (uint8_t)((sizeof hs - 4) >> 8);
    hs[3] = (uint8_t)(sizeof hs - 4);
    memset(hs + 4, 0x11, sizeof hs - 4);
    tt_init(&out);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, hs, sizeof hs, 1);
    struct kp_tls_scan_state st;
    memset(&st, 0, sizeof st);
    uint64_t walked = 0;
    for (size_t n = 1; n <= out.len; n++) {
        struct kp_rd s = kp_rd_make(out.b, n);
        uint32_t before = st.resume.records;
        enum kp_res r = kp_tls_scan(&s, scratch, sizeof scratch, &st, NULL, NULL);
        assert_int_equal(r, n == out.len ? KP_RES_OK : KP_RES_TRUNCATED);
        walked += st.records - before;
    }
    assert_int_equal(st.records, sizeof hs);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.delivered, 1);
    assert_true(walked <= 2 * sizeof hs);
}

/* A message spanning records and larger than the scratch buffer is counted
 * but not delivered; one inside a record needs no scratch at all. */
static void test_scan_scratch_limits(void **state)
{
    (void)state;
    tt_need_captures();
    static uint8_t hs[65536];
    static uint8_t scratch[1024];
    static struct tt_bld out;
    size_t len;
    uint8_t *p = tt_load_hex("tls12_zeek_server.hex", &len);
    struct kp_tls_scan_state st;
    struct tt_msgs all, got;
    assert_int_equal(tt_scan(p, len, &st, &all), KP_RES_OK);
    size_t n = hs_bytes(&all, hs, sizeof hs);

    tt_init(&out);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, hs, n, 100);
    struct kp_rd s = kp_rd_make(out.b, out.len);
    memset(&st, 0, sizeof st);
    tt_msgs_init(&got, out.b, out.len, scratch, sizeof scratch);
    assert_int_equal(kp_tls_scan(&s, scratch, sizeof scratch, &st, tt_collect, &got), KP_RES_OK);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.oversized, 1);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.m[0].type, KP_TLS_HS_SERVER_HELLO);
    assert_int_equal(got.m[1].type, KP_TLS_HS_SERVER_HELLO_DONE);
    tt_msgs_free(&got);

    /* The original records (one message each) with no scratch at all. */
    s = kp_rd_make(p, len);
    memset(&st, 0, sizeof st);
    tt_msgs_init(&got, p, len, NULL, 0);
    assert_int_equal(kp_tls_scan(&s, NULL, 0, &st, tt_collect, &got), KP_RES_OK);
    assert_same_msgs(&all, &got);
    tt_msgs_free(&got);

    /* A NULL callback only counts. */
    memset(&st, 0, sizeof st);
    assert_int_equal(kp_tls_scan(&s, NULL, 0, &st, NULL, NULL), KP_RES_OK);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.delivered, 3);

    /* An empty message (ServerHelloDone) split across 1-byte records with
     * no scratch. */
    static const uint8_t shd[] = {14, 0, 0, 0};
    tt_init(&out);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, shd, sizeof shd, 1);
    s = kp_rd_make(out.b, out.len);
    memset(&st, 0, sizeof st);
    tt_msgs_init(&got, out.b, out.len, NULL, 0);
    assert_int_equal(kp_tls_scan(&s, NULL, 0, &st, tt_collect, &got), KP_RES_OK);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.m[0].len, 0);
    tt_msgs_free(&got);

    tt_msgs_free(&all);
    free(p);
}

static enum kp_res scan_bytes(const void *p, size_t len, struct kp_tls_scan_state *st)
{
    struct tt_msgs msgs;
    enum kp_res r = tt_scan(p, len, st, &msgs);
    tt_msgs_free(&msgs);
    return r;
}

static void test_scan_not_tls(void **state)
{
    (void)state;
    struct kp_tls_scan_state st;
    assert_int_equal(scan_bytes("", 0, &st), KP_RES_TRUNCATED);
    assert_int_equal(scan_bytes("GET / HTTP/1.1\r\n", 16, &st), KP_RES_NOT_MINE);
    assert_false(st.sslv2);
    assert_int_equal(scan_bytes("\x16", 1, &st), KP_RES_TRUNCATED);
    assert_int_equal(scan_bytes("\x16\x03", 2, &st), KP_RES_TRUNCATED);
    assert_int_equal(scan_bytes("\x16\x03\x01\x00", 4, &st), KP_RES_TRUNCATED);
    assert_int_equal(scan_bytes("\x16\x02", 2, &st), KP_RES_NOT_MINE);
    assert_int_equal(scan_bytes("\x13\x03\x01\x00\x01", 5, &st), KP_RES_NOT_MINE);
    assert_int_equal(scan_bytes("\x19\x03\x01\x00\x01", 5, &st), KP_RES_NOT_MINE);
    assert_int_equal(scan_bytes("\x00\x00", 2, &st), KP_RES_NOT_MINE);

    /* SSLv2-compatible ClientHello (RFC 5246 E.2): recognised, not parsed. */
    static const uint8_t v2[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00,
                                 0x00, 0x10};
    assert_int_equal(scan_bytes(v2, sizeof v2, &st), KP_RES_NOT_MINE);
    assert_true(st.sslv2);
    static const uint8_t v2b[] = {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00};
    assert_int_equal(scan_bytes(v2b, sizeof v2b, &st), KP_RES_NOT_MINE);
    assert_true(st.sslv2);
    assert_int_equal(scan_bytes(v2, 3, &st), KP_RES_TRUNCATED);
    static const uint8_t notv2[] = {0x80, 0x2e, 0x05, 0x03, 0x01};
    assert_int_equal(scan_bytes(notv2, sizeof notv2, &st), KP_RES_NOT_MINE);
    assert_false(st.sslv2);
}

static void test_scan_record_errors(void **state)
{
    (void)state;
    struct kp_tls_scan_state st;
    /* RFC 8446 5.1: no zero-length handshake fragments. */
    assert_int_equal(scan_bytes("\x16\x03\x03\x00\x00", 5, &st), KP_RES_MALFORMED);
    /* Longer than 2^14 + 2048: the header alone is enough to say so. */
    assert_int_equal(scan_bytes("\x16\x03\x03\x48\x01", 5, &st), KP_RES_MALFORMED);
    assert_int_equal(scan_bytes("\x17\x03\x03\xff\xff", 5, &st), KP_RES_MALFORMED);

    /* Exactly 2^14 + 2048 is accepted: one message filling the record. */
    static uint8_t big[5 + 18432];
    memset(big, 0, sizeof big);
    memcpy(big, "\x16\x03\x03\x48\x00\x63\x00\x47\xfc", 9);
    struct tt_msgs msgs;
    assert_int_equal(tt_scan(big, sizeof big, &st, &msgs), KP_RES_OK);
    assert_int_equal(msgs.n, 1);
    assert_int_equal(msgs.m[0].type, 0x63);
    assert_int_equal(msgs.m[0].len, 18428);
    tt_msgs_free(&msgs);

    /* A valid first record, then garbage: MALFORMED, first message kept. */
    static const uint8_t bad_ct[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00,
                                     0x30, 0x03, 0x03, 0x00, 0x01, 0x00};
    assert_int_equal(tt_scan(bad_ct, sizeof bad_ct, &st, &msgs), KP_RES_MALFORMED);
    assert_int_equal(msgs.n, 1);
    tt_msgs_free(&msgs);
    static const uint8_t bad_ver[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00,
                                      0x16, 0x04, 0x03, 0x00, 0x01, 0x00};
    assert_int_equal(scan_bytes(bad_ver, sizeof bad_ver, &st), KP_RES_MALFORMED);
    assert_int_equal(scan_bytes(bad_ver, 10, &st), KP_RES_TRUNCATED);
    assert_int_equal(scan_bytes(bad_ver, 11, &st), KP_RES_MALFORMED);

    /* RFC 8446 5.1: no other record type inside a fragmented message. */
    static const uint8_t ccs_mid[] = {0x16, 0x03, 0x03, 0x00, 0x02, 0x0e, 0x00,
                                      0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
    assert_int_equal(scan_bytes(ccs_mid, sizeof ccs_mid, &st), KP_RES_MALFORMED);
    static const uint8_t alert_mid[] = {0x16, 0x03, 0x03, 0x00, 0x02, 0x0e, 0x00,
                                        0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    assert_int_equal(scan_bytes(alert_mid, sizeof alert_mid, &st), KP_RES_MALFORMED);
    static const uint8_t hb_mid[] = {0x16, 0x03, 0x03, 0x00, 0x02, 0x0e, 0x00,
                                     0x18, 0x03, 0x03, 0x00, 0x01, 0x01,
                                     0x16, 0x03, 0x03, 0x00, 0x02, 0x00, 0x00};
    assert_int_equal(scan_bytes(hb_mid, sizeof hb_mid, &st), KP_RES_MALFORMED);

    /* In TLS 1.3 mode a ChangeCipherSpec must be the byte 0x01. */
    struct tt_msgs m2;
    static const uint8_t ccs2[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x02};
    assert_int_equal(scan_with(ccs2, sizeof ccs2, KP_TLS_V_TLS13, &st, &m2), KP_RES_MALFORMED);
    tt_msgs_free(&m2);
    static const uint8_t ccs1[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
    assert_int_equal(scan_with(ccs1, sizeof ccs1, KP_TLS_V_TLS13, &st, &m2), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_NONE);
    assert_int_equal(st.records, 1);
    tt_msgs_free(&m2);
    assert_int_equal(scan_with(ccs1, 5, KP_TLS_V_TLS13, &st, &m2), KP_RES_TRUNCATED);
    tt_msgs_free(&m2);
    /* Without a version, the header is enough to stop. */
    assert_int_equal(scan_with(ccs1, 5, 0, &st, &m2), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_CCS);
    assert_true(st.encrypted);
    tt_msgs_free(&m2);
}

static void test_scan_stops(void **state)
{
    (void)state;
    struct kp_tls_scan_state st;
    struct tt_msgs msgs;
    /* Handshake, heartbeat (skipped), handshake, alert (stop), then bytes
     * that must not be read as records. */
    static const uint8_t s1[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00,
                                 0x18, 0x03, 0x03, 0x00, 0x03, 0x01, 0x00, 0x00,
                                 0x16, 0x03, 0x03, 0x00, 0x05, 0x14, 0x00, 0x00, 0x01, 0xaa,
                                 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28,
                                 0xff, 0xff, 0xff};
    assert_int_equal(tt_scan(s1, sizeof s1, &st, &msgs), KP_RES_OK);
    assert_int_equal(msgs.n, 2);
    assert_int_equal(msgs.m[1].type, KP_TLS_HS_FINISHED);
    assert_int_equal(st.stop, KP_TLS_STOP_ALERT);
    assert_false(st.encrypted);
    assert_true(st.alert_seen);
    assert_int_equal(st.alert_level, 2);
    assert_int_equal(st.alert_description, 40);
    assert_int_equal(st.offset, 27);
    assert_int_equal(st.records, 3);
    tt_msgs_free(&msgs);
    /* The alert needs its two bytes. */
    assert_int_equal(scan_bytes(s1, 33, &st), KP_RES_TRUNCATED);
    /* An encrypted alert (not 2 bytes): stop, but no level/description. */
    static const uint8_t s2[] = {0x15, 0x03, 0x03, 0x00, 0x03, 0x11, 0x22, 0x33};
    assert_int_equal(scan_bytes(s2, sizeof s2, &st), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_ALERT);
    assert_false(st.alert_seen);
    /* Application data first (a connection picked up mid-stream). */
    static const uint8_t s3[] = {0x17, 0x03, 0x03, 0x40, 0x00};
    assert_int_equal(scan_bytes(s3, sizeof s3, &st), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_APPDATA);
    assert_true(st.encrypted);
    assert_int_equal(st.offset, 0);
    assert_int_equal(st.record_version, 0x0303);
    /* Several messages in one record. */
    static const uint8_t s4[] = {0x16, 0x03, 0x03, 0x00, 0x0c, 0x0e, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00};
    assert_int_equal(tt_scan(s4, sizeof s4, &st, &msgs), KP_RES_OK);
    assert_int_equal(msgs.n, 3);
    assert_int_equal(msgs.m[1].type, KP_TLS_HS_HELLO_REQUEST);
    assert_int_equal(msgs.m[2].type, KP_TLS_HS_NEW_SESSION_TICKET);
    tt_msgs_free(&msgs);
    /* A message whose header is complete but whose body is cut: TRUNCATED. */
    static const uint8_t s5[] = {0x16, 0x03, 0x03, 0x00, 0x06, 0x0b, 0x00, 0x00, 0x05, 0x01,
                                 0x02};
    assert_int_equal(scan_bytes(s5, sizeof s5, &st), KP_RES_TRUNCATED);
    assert_int_equal(st.offset, sizeof s5);
    assert_int_equal(st.records, 1);
}

/* Byte flips over whole streams: never a crash or an out-of-bounds view. */
static void test_scan_flips(void **state)
{
    (void)state;
    tt_need_captures();
    static const char *files[] = {"tls12_zeek_server.hex", "tls13_hrr_zeek_server.hex",
                                  "tls13_hrr_zeek_client.hex", "tls_ecdsa_cert_zeek_server.hex"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        uint8_t *p = tt_load_hex(files[f], &len);
        for (size_t i = 0; i < len; i++) {
            for (int d = 0; d < 2; d++) {
                uint8_t saved = p[i];
                p[i] = (uint8_t)(saved + (d == 0 ? 1 : 0xff));
                struct kp_tls_scan_state st;
                struct tt_msgs msgs;
                (void)tt_scan(p, len, &st, &msgs);
                assert_true(st.offset <= len);
                tt_msgs_free(&msgs);
                p[i] = saved;
            }
        }
        free(p);
    }
}

/* ---- ClientHello: hand-built -------------------------------------------- */

/* A ClientHello body with every extension this module reads.  The GREASE
 * extension goes last but one, pre_shared_key last (RFC 8446 4.2.11). */
static void build_ch(struct tt_bld *b, bool dtls)
{
    tt_init(b);
    tt_u16(b, dtls ? KP_TLS_V_DTLS12 : KP_TLS_V_TLS12);
    for (int i = 0; i < 32; i++) {
        tt_u8(b, (uint8_t)i);
    }
    tt_open(b, 1); /* session id */
    for (int i = 0; i < 32; i++) {
        tt_u8(b, 0xee);
    }
    tt_close(b);
    if (dtls) {
        tt_open(b, 1); /* cookie */
        tt_str(b, "cookie!");
        tt_close(b);
    }
    tt_open(b, 2);
    tt_u16(b, 0x0a0a);
    tt_u16(b, 0x1301);
    tt_u16(b, 0x1302);
    tt_u16(b, 0xc02b);
    tt_close(b);
    tt_open(b, 1);
    tt_u8(b, 0);
    tt_close(b);
    tt_open(b, 2); /* extensions */

    tt_u16(b, KP_TLS_EXT_SERVER_NAME);
    tt_open(b, 2);
    tt_open(b, 2);
    tt_u8(b, 0);
    tt_open(b, 2);
    tt_str(b, "example.com");
    tt_close(b);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_ALPN);
    tt_open(b, 2);
    tt_open(b, 2);
    tt_open(b, 1);
    tt_str(b, "h2");
    tt_close(b);
    tt_open(b, 1);
    tt_str(b, "http/1.1");
    tt_close(b);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_SUPPORTED_VERSIONS);
    tt_open(b, 2);
    tt_open(b, 1);
    tt_u16(b, 0x2a2a);
    tt_u16(b, dtls ? KP_TLS_V_DTLS13 : KP_TLS_V_TLS13);
    tt_u16(b, dtls ? KP_TLS_V_DTLS12 : KP_TLS_V_TLS12);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_SIGNATURE_ALGORITHMS);
    tt_open(b, 2);
    tt_open(b, 2);
    tt_u16(b, 0x0403);
    tt_u16(b, 0x0804);
    tt_u16(b, 0x0401);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_SUPPORTED_GROUPS);
    tt_open(b, 2);
    tt_open(b, 2);
    tt_u16(b, 0x001d);
    tt_u16(b, 0x0017);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_EC_POINT_FORMATS);
    tt_open(b, 2);
    tt_open(b, 1);
    tt_u8(b, 0);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_KEY_SHARE);
    tt_open(b, 2);
    tt_open(b, 2);
    tt_u16(b, 0x001d);
    tt_open(b, 2);
    for (int i = 0; i < 32; i++) {
        tt_u8(b, 0x55);
    }
    tt_close(b);
    tt_u16(b, 0x0017);
    tt_open(b, 2);
    tt_u8(b, 4);
    tt_close(b);
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_USE_SRTP);
    tt_open(b, 2);
    tt_open(b, 2);
    tt_u16(b, 0x0001);
    tt_u16(b, 0x0007);
    tt_close(b);
    tt_open(b, 1);
    tt_str(b, "mk");
    tt_close(b);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_ECH);
    tt_open(b, 2);
    tt_u8(b, 0); /* outer; the rest opaque here */
    tt_str(b, "\x01\x02\x03");
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_PADDING);
    tt_open(b, 2);
    for (int i = 0; i < 10; i++) {
        tt_u8(b, 0);
    }
    tt_close(b);

    tt_u16(b, 0x3a3a); /* GREASE extension, empty */
    tt_open(b, 2);
    tt_close(b);

    tt_u16(b, KP_TLS_EXT_PRE_SHARED_KEY);
    tt_open(b, 2);
    tt_str(b, "opaque-psk");
    tt_close(b);

    tt_close(b); /* extensions */
    assert_int_equal(b->depth, 0);
}

static void check_built_ch(const struct kp_tls_client_hello *ch, bool dtls)
{
    assert_int_equal(ch->legacy_version, dtls ? KP_TLS_V_DTLS12 : KP_TLS_V_TLS12);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(ch->random[i], i);
    }
    assert_int_equal(ch->session_id_len, 32);
    assert_int_equal(ch->session_id.len, 32);
    if (dtls) {
        assert_int_equal(ch->cookie_len, 7);
        assert_true(rd_is(ch->cookie, "cookie!"));
    } else {
        assert_int_equal(ch->cookie_len, 0);
        assert_int_equal(ch->cookie.len, 0);
    }
    ASSERT_U16S(ch->ciphers, ch->n_ciphers, 0x0a0a, 0x1301, 0x1302, 0xc02b);
    assert_int_equal(ch->ciphers_total, 4);
    assert_int_equal(ch->compression_count, 1);
    assert_true(ch->compression_null);
    ASSERT_U16S(ch->exts, ch->n_exts, 0x0000, 0x0010, 0x002b, 0x000d, 0x000a, 0x000b, 0x0033,
                0x000e, 0xfe0d, 0x0015, 0x3a3a, 0x0029);
    assert_int_equal(ch->exts_total, 12);
    assert_true(ch->has_sni);
    assert_true(rd_is(ch->sni, "example.com"));
    assert_true(ch->has_alpn);
    assert_int_equal(ch->n_alpn, 2);
    assert_int_equal(ch->alpn_total, 2);
    assert_true(rd_is(ch->alpn[0], "h2"));
    assert_true(rd_is(ch->alpn[1], "http/1.1"));
    assert_true(ch->has_supported_versions);
    if (dtls) {
        ASSERT_U16S(ch->versions, ch->n_versions, 0x2a2a, 0xfefc, 0xfefd);
    } else {
        ASSERT_U16S(ch->versions, ch->n_versions, 0x2a2a, 0x0304, 0x0303);
    }
    assert_true(ch->has_sigalgs);
    ASSERT_U16S(ch->sigalgs, ch->n_sigalgs, 0x0403, 0x0804, 0x0401);
    assert_true(ch->has_groups);
    ASSERT_U16S(ch->groups, ch->n_groups, 0x001d, 0x0017);
    assert_true(ch->has_ec_point_formats);
    assert_int_equal(ch->ec_point_formats_count, 1);
    assert_true(ch->has_key_share);
    ASSERT_U16S(ch->key_share_groups, ch->n_key_shares, 0x001d, 0x0017);
    assert_true(ch->has_use_srtp);
    ASSERT_U16S(ch->srtp_profiles, ch->n_srtp_profiles, 0x0001, 0x0007);
    assert_int_equal(ch->srtp_mki_len, 2);
    assert_true(ch->has_ech);
    assert_int_equal(ch->ech_type, 0);
    assert_true(ch->has_padding);
    assert_int_equal(ch->padding_len, 10);
    assert_true(ch->has_psk);
    assert_false(ch->has_early_data);
    assert_false(ch->has_session_ticket);
    assert_false(ch->has_quic_tp);
    assert_int_equal(ch->anomalies, 0);
}

static void test_ch_built(void **state)
{
    (void)state;
    static struct tt_bld b;
    struct kp_tls_client_hello ch;
    for (int dtls = 0; dtls < 2; dtls++) {
        build_ch(&b, dtls);
        assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b.b, b.len), dtls), KP_RES_OK);
        check_built_ch(&ch, dtls);
        assert_ch_views_in(&ch, b.b, b.len);
        /* With the other layout it does not parse as the same message. */
        enum kp_res r = kp_tls_parse_client_hello(&ch, kp_rd_make(b.b, b.len), !dtls);
        assert_int_equal(r, KP_RES_MALFORMED);
    }
}

/* The stream checks of the capture-derived vectors on a hand-built client
 * flight, so that they run without ../shared/pcaps: the ClientHello of
 * build_ch() and a ClientKeyExchange in 100-byte handshake records, a
 * ChangeCipherSpec, then 16 bytes of (encrypted) Finished. */
static void test_scan_built_stream(void **state)
{
    (void)state;
    static struct tt_bld ch, hs, out;
    build_ch(&ch, false);
    tt_init(&hs);
    tt_u8(&hs, KP_TLS_HS_CLIENT_HELLO);
    tt_u24(&hs, (uint32_t)ch.len);
    tt_bytes(&hs, ch.b, ch.len);
    tt_u8(&hs, 16); /* client_key_exchange */
    tt_u24(&hs, 33);
    tt_u8(&hs, 32);
    for (int i = 0; i < 32; i++) {
        tt_u8(&hs, 0x42);
    }
    tt_init(&out);
    tt_records(&out, KP_TLS_CT_HANDSHAKE, hs.b, hs.len, 100);
    size_t ccs_at = out.len;
    tt_records(&out, KP_TLS_CT_CHANGE_CIPHER_SPEC, (const uint8_t *)"\x01", 1, 1);
    static const uint8_t fin[16] = {0xde, 0xad, 0xbe, 0xef};
    tt_records(&out, KP_TLS_CT_HANDSHAKE, fin, sizeof fin, sizeof fin);

    struct kp_tls_scan_state st;
    struct tt_msgs msgs;
    assert_int_equal(scan_with(out.b, out.len, 0, &st, &msgs), KP_RES_OK);
    assert_int_equal(st.stop, KP_TLS_STOP_CCS);
    assert_int_equal(st.offset, ccs_at);
    assert_int_equal(msgs.n, 2);
    assert_int_equal(msgs.m[0].type, KP_TLS_HS_CLIENT_HELLO);
    assert_int_equal(msgs.m[0].len, ch.len);
    assert_memory_equal(msgs.m[0].body, ch.b, ch.len);
    assert_int_equal(msgs.m[1].type, 16);
    tt_msgs_free(&msgs);
    check_every_stream_prefix("built client flight", out.b, out.len, 0);
    check_stream_incremental(out.b, out.len, 0);
}

/* +1 and -1 on every length field the builder wrote: MALFORMED. */
static void test_ch_length_off_by_one(void **state)
{
    (void)state;
    static struct tt_bld b;
    struct kp_tls_client_hello ch;
    for (int dtls = 0; dtls < 2; dtls++) {
        build_ch(&b, dtls);
        assert_true(b.n_lens >= 30);
        for (size_t i = 0; i < b.n_lens; i++) {
            uint32_t v = tt_len_get(&b, i);
            uint32_t max = (1u << (8 * b.len_w[i])) - 1;
            for (int d = -1; d <= 1; d += 2) {
                if ((d < 0 && v == 0) || (d > 0 && v == max)) {
                    continue;
                }
                tt_len_set(&b, i, (uint32_t)((int64_t)v + d));
                enum kp_res r = parse_checked(dtls ? K_CH_DTLS : K_CH, b.b, b.len);
                if (r != KP_RES_MALFORMED) {
                    fail_msg("length field %zu at %zu (%u%+d, dtls %d): result %d", i,
                             b.len_pos[i], v, d, dtls, r);
                }
                tt_len_set(&b, i, v);
            }
        }
        assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b.b, b.len), dtls), KP_RES_OK);
    }
}

static void test_ch_built_truncation_and_flips(void **state)
{
    (void)state;
    static struct tt_bld b;
    for (int dtls = 0; dtls < 2; dtls++) {
        build_ch(&b, dtls);
        /* The cut right after the compression methods is a valid hello. */
        check_every_prefix(dtls ? K_CH_DTLS : K_CH, b.b, b.len, 1);
        check_byte_flips(dtls ? K_CH_DTLS : K_CH, b.b, b.len);
    }
}

/* A minimal ClientHello: version, random, empty session id, the given
 * cipher bytes, null compression, then `exts` (a whole extensions block,
 * length included) if exts_len > 0. */
static size_t mini_ch(uint8_t *out, const uint8_t *exts, size_t exts_len)
{
    struct tt_bld *b = malloc(sizeof *b);
    assert_non_null(b);
    tt_init(b);
    tt_u16(b, 0x0303);
    for (int i = 0; i < 32; i++) {
        tt_u8(b, 0);
    }
    tt_u8(b, 0);
    tt_u16(b, 2);
    tt_u16(b, 0x1301);
    tt_u8(b, 1);
    tt_u8(b, 0);
    tt_bytes(b, exts, exts_len);
    size_t n = b->len;
    memcpy(out, b->b, n);
    free(b);
    return n;
}

/* The exact-size copy the last parse_*_exts() parsed: its views stay valid
 * until the next call (or keep_copy(NULL)). */
static uint8_t *kept_copy;

static uint8_t *keep_copy(uint8_t *copy)
{
    free(kept_copy);
    kept_copy = copy;
    return copy;
}

static enum kp_res parse_ch_exts(const uint8_t *exts, size_t exts_len,
                                 struct kp_tls_client_hello *ch)
{
    static uint8_t buf[70000];
    size_t n = mini_ch(buf, exts, exts_len);
    uint8_t *copy = keep_copy(tt_exact_copy(buf, n));
    enum kp_res r = kp_tls_parse_client_hello(ch, kp_rd_make(copy, n), false);
    if (r == KP_RES_OK) {
        assert_ch_views_in(ch, copy, n);
    }
    return r;
}
#define EXTS(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static void test_ch_structure_rules(void **state)
{
    (void)state;
    struct kp_tls_client_hello ch;
    /* No extensions at all (RFC 5246 7.4.1.2). */
    assert_int_equal(parse_ch_exts(NULL, 0, &ch), KP_RES_OK);
    assert_int_equal(ch.n_exts, 0);
    assert_false(ch.has_sni);
    /* An empty extensions block. */
    assert_int_equal(parse_ch_exts(EXTS(0, 0), &ch), KP_RES_OK);
    assert_int_equal(ch.exts_total, 0);
    /* A lone byte where the block length should be, or a trailing byte. */
    assert_int_equal(parse_ch_exts(EXTS(0), &ch), KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 0, 0), &ch), KP_RES_MALFORMED);
    /* Duplicate extension (RFC 8446 4.2), also among unknown types. */
    assert_int_equal(parse_ch_exts(EXTS(0, 8, 0, 23, 0, 0, 0, 23, 0, 0), &ch), KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 8, 0x77, 0x77, 0, 0, 0x77, 0x77, 0, 0), &ch),
                     KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 8, 0x77, 0x77, 0, 0, 0x77, 0x78, 0, 0), &ch),
                     KP_RES_OK);
    /* An extension running past the block. */
    assert_int_equal(parse_ch_exts(EXTS(0, 4, 0, 23, 0, 1), &ch), KP_RES_MALFORMED);
    /* SNI: two host_names (RFC 6066 3), inner length disagreeing with the
     * extension length, other name types. */
    assert_int_equal(parse_ch_exts(EXTS(0, 14, 0, 0, 0, 10, 0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b'),
                                   &ch),
                     KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 10, 0, 0, 0, 6, 0, 3, 0, 0, 1, 'a'), &ch),
                     KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 14, 0, 0, 0, 10, 0, 8, 5, 0, 1, 'x', 0, 0, 1, 'b'),
                                   &ch),
                     KP_RES_OK);
    assert_true(rd_is(ch.sni, "b"));
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_SNI_OTHER_TYPE);
    assert_int_equal(parse_ch_exts(EXTS(0, 4, 0, 0, 0, 0), &ch), KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 6, 0, 0, 0, 2, 0, 0), &ch), KP_RES_OK);
    assert_true(ch.has_sni);
    assert_int_equal(ch.sni.len, 0);
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_EMPTY_VECTOR);
    /* SNI bytes outside printable ASCII are kept and flagged. */
    assert_int_equal(parse_ch_exts(EXTS(0, 11, 0, 0, 0, 7, 0, 5, 0, 0, 2, 'a', 0), &ch),
                     KP_RES_OK);
    assert_int_equal(ch.sni.len, 2);
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_SNI_CHARS);
    /* Odd-length 16-bit lists. */
    assert_int_equal(parse_ch_exts(EXTS(0, 7, 0, 10, 0, 3, 0, 1, 0), &ch), KP_RES_MALFORMED);
    assert_int_equal(parse_ch_exts(EXTS(0, 6, 0, 43, 0, 2, 1, 3), &ch), KP_RES_MALFORMED);
    /* ALPN: empty list and empty name are anomalies, not errors. */
    assert_int_equal(parse_ch_exts(EXTS(0, 6, 0, 16, 0, 2, 0, 0), &ch), KP_RES_OK);
    assert_true(ch.has_alpn);
    assert_int_equal(ch.n_alpn, 0);
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_EMPTY_VECTOR);
    assert_int_equal(parse_ch_exts(EXTS(0, 9, 0, 16, 0, 5, 0, 3, 0, 1, 'x'), &ch), KP_RES_OK);
    assert_int_equal(ch.n_alpn, 2);
    assert_int_equal(ch.alpn[0].len, 0);
    /* An ALPN name running past its list. */
    assert_int_equal(parse_ch_exts(EXTS(0, 8, 0, 16, 0, 4, 0, 2, 2, 'x'), &ch), KP_RES_MALFORMED);
    /* use_srtp with bytes after the MKI. */
    assert_int_equal(parse_ch_exts(EXTS(0, 10, 0, 14, 0, 6, 0, 2, 0, 1, 0, 9), &ch),
                     KP_RES_MALFORMED);
    /* key_share entry running past its list. */
    assert_int_equal(parse_ch_exts(EXTS(0, 10, 0, 51, 0, 6, 0, 4, 0, 29, 0, 3), &ch),
                     KP_RES_MALFORMED);
    /* Padding with non-zero bytes; pre_shared_key not last; ECH inner. */
    assert_int_equal(parse_ch_exts(EXTS(0, 6, 0, 21, 0, 2, 0, 1), &ch), KP_RES_OK);
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_PADDING_NONZERO);
    assert_int_equal(parse_ch_exts(EXTS(0, 8, 0, 41, 0, 0, 0, 42, 0, 0), &ch), KP_RES_OK);
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_PSK_NOT_LAST);
    assert_true(ch.has_early_data);
    assert_int_equal(parse_ch_exts(EXTS(0, 5, 0xfe, 0x0d, 0, 1, 1), &ch), KP_RES_OK);
    assert_int_equal(ch.ech_type, 1);
    assert_int_equal(parse_ch_exts(EXTS(0, 4, 0xfe, 0x0d, 0, 0), &ch), KP_RES_OK);
    assert_true(ch.has_ech);
    assert_int_equal(ch.ech_type, 0xff);
    assert_int_equal(parse_ch_exts(EXTS(0, 8, 0, 57, 0, 0, 0, 35, 0, 0), &ch), KP_RES_OK);
    assert_true(ch.has_quic_tp);
    assert_true(ch.has_session_ticket);
    keep_copy(NULL);
}

static void test_ch_header_rules(void **state)
{
    (void)state;
    struct kp_tls_client_hello ch;
    uint8_t buf[128];
    size_t n = mini_ch(buf, NULL, 0);
    /* Session id of 32 bytes, and of 33 (RFC 8446 4.1.2: <0..32>). */
    static uint8_t big[128];
    for (uint8_t sl = 32; sl <= 33; sl++) {
        memcpy(big, buf, 34);
        big[34] = sl;
        memset(big + 35, 0x5a, sl);
        memcpy(big + 35 + sl, buf + 35, n - 35);
        assert_int_equal(parse_checked(K_CH, big, n + sl),
                         sl == 32 ? KP_RES_OK : KP_RES_MALFORMED);
    }
    /* Odd cipher suite length. */
    memcpy(big, buf, n);
    big[36] = 3;
    assert_int_equal(parse_checked(K_CH, big, n), KP_RES_MALFORMED);
    /* No cipher suites, no compression methods, no null method. */
    static const uint8_t head[34] = {3, 3};
    uint8_t m[64];
    memcpy(m, head, 34);
    memcpy(m + 34, "\x00\x00\x00\x00", 4);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m, 38), false), KP_RES_OK);
    assert_int_equal(ch.ciphers_total, 0);
    assert_int_equal(ch.compression_count, 0);
    assert_int_equal(ch.anomalies, KP_TLS_ANOM_EMPTY_VECTOR | KP_TLS_ANOM_NO_NULL_COMPRESSION);
    /* A DTLS version in a TLS hello is flagged. */
    m[0] = 0xfe;
    m[1] = 0xfd;
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(m, 38), false), KP_RES_OK);
    assert_true(ch.anomalies & KP_TLS_ANOM_VERSION_FAMILY);
    /* Empty body. */
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(NULL, 0), false),
                     KP_RES_MALFORMED);
}

static void test_ch_caps(void **state)
{
    (void)state;
    static struct tt_bld b;
    struct kp_tls_client_hello ch;
    tt_init(&b);
    tt_u16(&b, 0x0303);
    for (int i = 0; i < 32; i++) {
        tt_u8(&b, 0);
    }
    tt_u8(&b, 0);
    tt_open(&b, 2);
    for (int i = 0; i < 300; i++) {
        tt_u16(&b, (uint16_t)(0x1000 + i));
    }
    tt_close(&b);
    tt_u8(&b, 1);
    tt_u8(&b, 0);
    tt_open(&b, 2);
    tt_u16(&b, KP_TLS_EXT_ALPN);
    tt_open(&b, 2);
    tt_open(&b, 2);
    for (int i = 0; i < 20; i++) {
        tt_open(&b, 1);
        tt_u8(&b, (uint8_t)('a' + i));
        tt_close(&b);
    }
    tt_close(&b);
    tt_close(&b);
    for (int i = 0; i < 70; i++) {
        tt_u16(&b, (uint16_t)(0x7000 + i));
        tt_open(&b, 2);
        tt_close(&b);
    }
    tt_close(&b);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b.b, b.len), false), KP_RES_OK);
    assert_int_equal(ch.n_ciphers, KP_TLS_MAX_CIPHERS);
    assert_int_equal(ch.ciphers_total, 300);
    assert_int_equal(ch.ciphers[255], 0x1000 + 255);
    assert_int_equal(ch.n_alpn, KP_TLS_MAX_ALPN);
    assert_int_equal(ch.alpn_total, 20);
    assert_true(rd_is(ch.alpn[15], "p"));
    assert_int_equal(ch.n_exts, KP_TLS_MAX_EXTS);
    assert_int_equal(ch.exts_total, 71);
    assert_ch_views_in(&ch, b.b, b.len);
}

/* ---- ClientHello: real ones --------------------------------------------- */

static const char *ch_files[] = {
    "tls12_zeek_client.hex",        "tls13_curl_arkime_client.hex",
    "tls13_hrr_zeek_client.hex",    "tls13_ech_zeek_client.hex",
    "tls13_kyber_chrome_zeek_client.hex", "tls13_arkime_client.hex",
    "tls_client_certificate_zeek_client.hex", "tls_dhe_zeek_client.hex",
    "tls13_psk_zeek_client.hex",    "tls_ocsp_stapling_zeek_client.hex",
    "skype_ndpi_hist_client.hex",
};

/* The first ClientHello of a stream vector, copied into *body (malloc'd). */
static uint8_t *real_ch(const char *file, size_t nth, size_t *len)
{
    size_t n;
    uint8_t *p = tt_load_hex(file, &n);
    struct kp_tls_scan_state st;
    struct tt_msgs msgs;
    (void)scan_with(p, n, KP_TLS_V_TLS13, &st, &msgs);
    const struct tt_msg *m = tt_find(&msgs, KP_TLS_HS_CLIENT_HELLO, nth);
    uint8_t *body = tt_exact_copy(m->body, m->len);
    *len = m->len;
    tt_msgs_free(&msgs);
    free(p);
    return body;
}

static void test_ch_real_fields(void **state)
{
    (void)state;
    tt_need_captures();
    struct kp_tls_client_hello ch;
    size_t len;
    uint8_t *b;

    /* tls13_curl_arkime.pcap: curl, TLS 1.3. */
    b = real_ch("tls13_curl_arkime_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(ch.legacy_version, 0x0303);
    assert_int_equal(ch.session_id_len, 32);
    ASSERT_U16S(ch.ciphers, ch.n_ciphers, 0x1302, 0x1303, 0x1301, 0x00ff);
    ASSERT_U16S(ch.exts, ch.n_exts, 0, 11, 10, 13172, 16, 22, 23, 49, 13, 43, 45, 51, 21);
    assert_true(rd_is(ch.sni, "enabled.tls13.com"));
    assert_int_equal(ch.n_alpn, 2);
    assert_true(rd_is(ch.alpn[0], "h2"));
    assert_true(rd_is(ch.alpn[1], "http/1.1"));
    ASSERT_U16S(ch.versions, ch.n_versions, 0x0304);
    ASSERT_U16S(ch.sigalgs, ch.n_sigalgs, 0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a,
                0x080b, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601);
    ASSERT_U16S(ch.groups, ch.n_groups, 0x001d, 0x0017, 0x001e, 0x0019, 0x0018);
    ASSERT_U16S(ch.key_share_groups, ch.n_key_shares, 0x001d);
    assert_true(ch.has_padding);
    assert_int_equal(ch.padding_len, 250);
    assert_true(ch.has_ec_point_formats);
    assert_false(ch.has_ech);
    assert_int_equal(ch.anomalies, 0);
    free(b);

    /* tls12_zeek.pcap: 80 suites, no SNI, no ALPN. */
    b = real_ch("tls12_zeek_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(ch.ciphers_total, 80);
    assert_int_equal(ch.ciphers[0], 0xc030);
    assert_int_equal(ch.ciphers[79], 0x00ff);
    ASSERT_U16S(ch.exts, ch.n_exts, 11, 10, 35, 13, 15);
    assert_false(ch.has_sni);
    assert_false(ch.has_alpn);
    assert_false(ch.has_supported_versions);
    assert_int_equal(ch.sigalgs_total, 16);
    assert_int_equal(ch.groups_total, 25);
    assert_int_equal(ch.session_id_len, 0);
    free(b);

    /* tls13_kyber_chrome_zeek.pcap: Chrome with GREASE, Kyber, ECH GREASE. */
    b = real_ch("tls13_kyber_chrome_zeek_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(ch.ciphers_total, 16);
    assert_int_equal(ch.ciphers[0], 0xeaea);
    ASSERT_U16S(ch.exts, ch.n_exts, 27242, 35, 13, 11, 10, 27, 17513, 51, 16, 43, 23, 65281, 5,
                45, 65037, 18, 0, 19018);
    ASSERT_U16S(ch.key_share_groups, ch.n_key_shares, 0xcaca, 0x6399, 0x001d);
    ASSERT_U16S(ch.versions, ch.n_versions, 0x8a8a, 0x0304, 0x0303);
    assert_true(rd_is(ch.sni, "lh3.google.com"));
    assert_true(ch.has_ech);
    assert_int_equal(ch.ech_type, 0);
    free(b);

    /* tls13_ech_zeek.pcap: real ECH, outer SNI is the public name. */
    b = real_ch("tls13_ech_zeek_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    assert_true(ch.has_ech);
    assert_int_equal(ch.ech_type, 0);
    assert_true(rd_is(ch.sni, "cloudflare-ech.com"));
    assert_int_equal(ch.exts_total, 19);
    ASSERT_U16S(ch.key_share_groups, ch.n_key_shares, 0x1a1a, 0x001d);
    free(b);

    /* tls13_hrr_zeek.pcap: both ClientHellos; the second has the key share
     * the HelloRetryRequest asked for. */
    b = real_ch("tls13_hrr_zeek_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    ASSERT_U16S(ch.key_share_groups, ch.n_key_shares, 0x0015);
    ASSERT_U16S(ch.groups, ch.n_groups, 0x0015, 0x0017, 0x0018);
    assert_false(ch.has_sni);
    free(b);
    b = real_ch("tls13_hrr_zeek_client.hex", 1, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    ASSERT_U16S(ch.key_share_groups, ch.n_key_shares, 0x0017);
    free(b);

    /* tls13_arkime.pcap: draft 18 offered. */
    b = real_ch("tls13_arkime_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    ASSERT_U16S(ch.versions, ch.n_versions, 0xcaca, 0x7f12, 0x0303, 0x0302, 0x0301);
    assert_true(rd_is(ch.sni, "blog.cloudflare.com"));
    assert_int_equal(ch.session_id_len, 0);
    free(b);

    /* tls13_psk_zeek.pcap: pre_shared_key last, as required. */
    b = real_ch("tls13_psk_zeek_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    assert_true(ch.has_psk);
    assert_int_equal(ch.exts[ch.n_exts - 1], KP_TLS_EXT_PRE_SHARED_KEY);
    assert_int_equal(ch.anomalies, 0);
    assert_int_equal(ch.ciphers_total, 57);
    free(b);

    /* tls_client_certificate_zeek.pcap: delegated_credentials (34) carries
     * its own algorithm list; signature_algorithms is separate. */
    b = real_ch("tls_client_certificate_zeek_client.hex", 0, &len);
    assert_int_equal(kp_tls_parse_client_hello(&ch, kp_rd_make(b, len), false), KP_RES_OK);
    ASSERT_U16S(ch.sigalgs, ch.n_sigalgs, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401,
                0x0501, 0x0601, 0x0203, 0x0201);
    ASSERT_U16S(ch.groups, ch.n_groups, 0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101);
    free(b);
}

static void test_ch_real_truncation_and_flips(void **state)
{
    (void)state;
    tt_need_captures();
    for (size_t f = 0; f < sizeof ch_files / sizeof ch_files[0]; f++) {
        size_t len;
        uint8_t *b = real_ch(ch_files[f], 0, &len);
        check_every_prefix(K_CH, b, len, 1);
        check_byte_flips(K_CH, b, len);
        free(b);
    }
}

/* ---- DTLS ClientHello / ServerHello / Certificate ----------------------- */

static void test_dtls_real(void **state)
{
    (void)state;
    tt_need_captures();
    struct kp_tls_client_hello ch;
    struct kp_tls_server_hello sh;
    struct kp_tls_certificate cert;
    struct kp_rd body;
    size_t len;
    uint8_t *p;

    /* dtls_srtp_ndpi.pcap frame 3: use_srtp SRTP_AES128_CM_HMAC_SHA1_80. */
    p = tt_load_hex("dtls_srtp_ndpi_ch.hex", &len);
    assert_true(tt_dtls_message(p, len, KP_TLS_HS_CLIENT_HELLO, &body));
    assert_int_equal(kp_tls_parse_client_hello(&ch, body, true), KP_RES_OK);
    assert_int_equal(ch.legacy_version, KP_TLS_V_DTLS12);
    assert_int_equal(ch.cookie_len, 0);
    assert_int_equal(ch.ciphers_total, 16);
    ASSERT_U16S(ch.exts, ch.n_exts, 11, 10, 35, 14, 22, 23, 13);
    assert_true(ch.has_use_srtp);
    ASSERT_U16S(ch.srtp_profiles, ch.n_srtp_profiles, 0x0001);
    assert_int_equal(ch.srtp_mki_len, 0);
    assert_int_equal(ch.sigalgs_total, 23);
    assert_int_equal(ch.anomalies, 0);
    check_every_prefix(K_CH_DTLS, body.p, body.len, 1);
    check_byte_flips(K_CH_DTLS, body.p, body.len);
    /* Read as TLS, the cookie byte shifts everything. */
    assert_int_not_equal(kp_tls_parse_client_hello(&ch, body, false), KP_RES_OK);
    free(p);

    /* dtls_srtp_ndpi.pcap frame 9: DTLS 1.3 ClientHello with a cookie
     * extension. */
    p = tt_load_hex("dtls13_ndpi_ch.hex", &len);
    assert_true(tt_dtls_message(p, len, KP_TLS_HS_CLIENT_HELLO, &body));
    assert_int_equal(kp_tls_parse_client_hello(&ch, body, true), KP_RES_OK);
    ASSERT_U16S(ch.versions, ch.n_versions, KP_TLS_V_DTLS13);
    assert_int_equal(ch.exts[0], KP_TLS_EXT_SUPPORTED_VERSIONS);
    assert_int_equal(ch.exts[1], KP_TLS_EXT_COOKIE);
    assert_int_equal(ch.ciphers_total, 27);
    assert_int_equal(ch.sigalgs_total, 13);
    check_every_prefix(K_CH_DTLS, body.p, body.len, 1);
    free(p);

    /* meet_stun_dtls_srtp_ndpi.pcapng: Google Meet. */
    p = tt_load_hex("meet_dtls_client.hex", &len);
    assert_true(tt_dtls_message(p, len, KP_TLS_HS_CLIENT_HELLO, &body));
    assert_int_equal(kp_tls_parse_client_hello(&ch, body, true), KP_RES_OK);
    ASSERT_U16S(ch.srtp_profiles, ch.n_srtp_profiles, 0x0001, 0x0008, 0x0007);
    ASSERT_U16S(ch.exts, ch.n_exts, 23, 65281, 10, 11, 35, 13, 14);
    ASSERT_U16S(ch.ciphers, ch.n_ciphers, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc009, 0xc013,
                0xc00a, 0xc014, 0x009c, 0x002f, 0x0035);
    free(p);

    p = tt_load_hex("meet_dtls_server.hex", &len);
    assert_true(tt_dtls_message(p, len, KP_TLS_HS_SERVER_HELLO, &body));
    assert_int_equal(kp_tls_parse_server_hello(&sh, body, true), KP_RES_OK);
    assert_int_equal(sh.version, KP_TLS_V_DTLS12);
    assert_int_equal(sh.cipher_suite, 0xc02f);
    ASSERT_U16S(sh.exts, sh.n_exts, 23, 65281, 11, 35, 14);
    assert_true(sh.has_use_srtp);
    assert_int_equal(sh.srtp_profile, 0x0008);
    assert_int_equal(sh.srtp_mki_len, 0);
    assert_true(sh.has_extended_master_secret);
    assert_true(sh.has_renegotiation_info);
    assert_int_equal(sh.anomalies, 0);
    check_every_prefix(K_SH_DTLS, body.p, body.len, 1);
    check_byte_flips(K_SH_DTLS, body.p, body.len);
    assert_true(tt_dtls_message(p, len, KP_TLS_HS_CERTIFICATE, &body));
    assert_int_equal(kp_tls_parse_certificate(&cert, body, false), KP_RES_OK);
    assert_int_equal(cert.certs_total, 1);
    assert_int_equal(cert.certs[0].len, 683);
    check_every_prefix(K_CERT, body.p, body.len, 0);
    free(p);
}

/* ---- ServerHello -------------------------------------------------------- */

static uint8_t *real_msg(const char *file, uint16_t version, uint8_t type, size_t nth,
                         size_t *len)
{
    size_t n;
    uint8_t *p = tt_load_hex(file, &n);
    struct kp_tls_scan_state st;
    struct tt_msgs msgs;
    (void)scan_with(p, n, version, &st, &msgs);
    const struct tt_msg *m = tt_find(&msgs, type, nth);
    uint8_t *body = tt_exact_copy(m->body, m->len);
    *len = m->len;
    tt_msgs_free(&msgs);
    free(p);
    return body;
}

static void test_sh_real(void **state)
{
    (void)state;
    tt_need_captures();
    struct kp_tls_server_hello sh;
    size_t len;
    uint8_t *b;

    b = real_msg("tls12_zeek_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 0, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(sh.legacy_version, 0x0303);
    assert_int_equal(sh.version, 0x0303);
    assert_int_equal(sh.session_id_len, 32);
    assert_int_equal(sh.cipher_suite, 0x0004);
    assert_int_equal(sh.compression, 0);
    ASSERT_U16S(sh.exts, sh.n_exts, 0xff01);
    assert_true(sh.has_renegotiation_info);
    assert_false(sh.is_hrr);
    assert_false(sh.has_supported_versions);
    assert_int_equal(sh.downgrade, 0);
    check_every_prefix(K_SH, b, len, 1);
    check_byte_flips(K_SH, b, len);
    free(b);

    b = real_msg("tls13_curl_arkime_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 0, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(sh.version, 0x0304);
    assert_int_equal(sh.selected_version, 0x0304);
    assert_int_equal(sh.cipher_suite, 0x1302);
    assert_true(sh.has_key_share);
    assert_int_equal(sh.key_share_group, 0x001d);
    ASSERT_U16S(sh.exts, sh.n_exts, 51, 43);
    check_every_prefix(K_SH, b, len, 1);
    check_byte_flips(K_SH, b, len);
    free(b);

    /* tls13_hrr_zeek.pcap: the HelloRetryRequest, then the ServerHello. */
    b = real_msg("tls13_hrr_zeek_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 0, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_true(sh.is_hrr);
    assert_int_equal(sh.version, 0x0304);
    assert_int_equal(sh.cipher_suite, 0x1302);
    assert_true(sh.has_key_share);
    assert_int_equal(sh.key_share_group, 0x0017);
    ASSERT_U16S(sh.exts, sh.n_exts, 43, 51);
    check_every_prefix(K_SH, b, len, 1);
    check_byte_flips(K_SH, b, len);
    free(b);
    b = real_msg("tls13_hrr_zeek_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 1, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_false(sh.is_hrr);
    assert_int_equal(sh.version, 0x0304);
    assert_int_equal(sh.key_share_group, 0x0017);
    free(b);

    b = real_msg("tls13_psk_zeek_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 0, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(sh.cipher_suite, 0x1303);
    assert_true(sh.has_psk);
    assert_int_equal(sh.psk_identity, 0);
    ASSERT_U16S(sh.exts, sh.n_exts, 43, 51, 41);
    free(b);

    /* tls13_arkime.pcap: draft-18 layout (no session id, no compression). */
    b = real_msg("tls13_arkime_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 0, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(sh.legacy_version, 0x7f12);
    assert_int_equal(sh.version, 0x7f12);
    assert_int_equal(sh.cipher_suite, 0x1301);
    assert_int_equal(sh.session_id_len, 0);
    ASSERT_U16S(sh.exts, sh.n_exts, 40);
    assert_int_equal(sh.anomalies, 0);
    check_every_prefix(K_SH, b, len, 1);
    free(b);

    b = real_msg("tls_ecdsa_cert_zeek_server.hex", 0, KP_TLS_HS_SERVER_HELLO, 0, &len);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(sh.cipher_suite, 0xc02b);
    ASSERT_U16S(sh.exts, sh.n_exts, 65281, 11, 35, 15);
    assert_true(sh.has_session_ticket);
    free(b);
}

/* Every ServerHello and Certificate message of the stream vectors, cut at
 * every length and with every byte flipped. */
static void test_sh_cert_real_truncation_and_flips(void **state)
{
    (void)state;
    tt_need_captures();
    static const struct {
        const char *file;
        uint8_t type;
        size_t nth;
    } msgs[] = {
        {"tls12_zeek_server.hex", KP_TLS_HS_SERVER_HELLO, 0},
        {"tls13_curl_arkime_server.hex", KP_TLS_HS_SERVER_HELLO, 0},
        {"tls13_hrr_zeek_server.hex", KP_TLS_HS_SERVER_HELLO, 0},
        {"tls13_hrr_zeek_server.hex", KP_TLS_HS_SERVER_HELLO, 1},
        {"tls13_arkime_server.hex", KP_TLS_HS_SERVER_HELLO, 0},
        {"tls_ecdsa_cert_zeek_server.hex", KP_TLS_HS_SERVER_HELLO, 0},
        {"tls13_psk_zeek_server.hex", KP_TLS_HS_SERVER_HELLO, 0},
        {"tls12_zeek_server.hex", KP_TLS_HS_CERTIFICATE, 0},
        {"tls_ecdsa_cert_zeek_server.hex", KP_TLS_HS_CERTIFICATE, 0},
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        size_t len;
        uint8_t *b = real_msg(msgs[i].file, 0, msgs[i].type, msgs[i].nth, &len);
        enum msg_kind kind = msgs[i].type == KP_TLS_HS_SERVER_HELLO ? K_SH : K_CERT;
        check_every_prefix(kind, b, len, kind == K_SH ? 1 : 0);
        check_byte_flips(kind, b, len);
        free(b);
    }
    /* The DTLS ones. */
    static const struct {
        const char *file;
        uint8_t type;
        enum msg_kind kind;
    } dgrams[] = {
        {"dtls_srtp_ndpi_ch.hex", KP_TLS_HS_CLIENT_HELLO, K_CH_DTLS},
        {"dtls13_ndpi_ch.hex", KP_TLS_HS_CLIENT_HELLO, K_CH_DTLS},
        {"meet_dtls_client.hex", KP_TLS_HS_CLIENT_HELLO, K_CH_DTLS},
        {"meet_dtls_server.hex", KP_TLS_HS_SERVER_HELLO, K_SH_DTLS},
        {"meet_dtls_server.hex", KP_TLS_HS_CERTIFICATE, K_CERT},
    };
    for (size_t i = 0; i < sizeof dgrams / sizeof dgrams[0]; i++) {
        size_t len;
        struct kp_rd body;
        uint8_t *p = tt_load_hex(dgrams[i].file, &len);
        assert_true(tt_dtls_message(p, len, dgrams[i].type, &body));
        check_every_prefix(dgrams[i].kind, body.p, body.len, dgrams[i].kind == K_CERT ? 0 : 1);
        check_byte_flips(dgrams[i].kind, body.p, body.len);
        free(p);
    }
}

/* A ServerHello with the given random tail, session id, compression and
 * extensions block bytes (length included; none if n == 0). */
static size_t mini_sh(uint8_t *out, const uint8_t random[32], uint8_t compression,
                      const uint8_t *exts, size_t n)
{
    size_t k = 0;
    out[k++] = 3;
    out[k++] = 3;
    memcpy(out + k, random, 32);
    k += 32;
    out[k++] = 0; /* session id */
    out[k++] = 0x13;
    out[k++] = 0x01;
    out[k++] = compression;
    if (n > 0) {
        memcpy(out + k, exts, n);
    }
    return k + n;
}

static enum kp_res parse_sh_exts(const uint8_t *exts, size_t n, struct kp_tls_server_hello *sh,
                                 bool hrr)
{
    /* RFC 8446 4.1.3: the special Random value of a HelloRetryRequest,
     * SHA-256("HelloRetryRequest"), copied from the RFC. */
    static const uint8_t hrr_random[32] = {
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
        0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
        0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    };
    static const uint8_t zero[32];
    uint8_t buf[256];
    size_t len = mini_sh(buf, hrr ? hrr_random : zero, 0, exts, n);
    uint8_t *copy = keep_copy(tt_exact_copy(buf, len));
    enum kp_res r = kp_tls_parse_server_hello(sh, kp_rd_make(copy, len), false);
    if (r == KP_RES_OK) {
        assert_sh_views_in(sh, copy, len);
    }
    return r;
}

static void test_sh_rules(void **state)
{
    (void)state;
    struct kp_tls_server_hello sh;
    uint8_t buf[128];
    uint8_t rnd[32] = {0};
    /* Downgrade sentinels (RFC 8446 4.1.3). */
    memcpy(rnd + 24, "DOWNGRD\x01", 8);
    size_t n = mini_sh(buf, rnd, 0, NULL, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(buf, n), false), KP_RES_OK);
    assert_int_equal(sh.downgrade, KP_TLS_V_TLS12);
    rnd[31] = 0;
    n = mini_sh(buf, rnd, 0, NULL, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(buf, n), false), KP_RES_OK);
    assert_int_equal(sh.downgrade, KP_TLS_V_TLS11);
    rnd[31] = 2;
    n = mini_sh(buf, rnd, 0, NULL, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(buf, n), false), KP_RES_OK);
    assert_int_equal(sh.downgrade, 0);
    /* Session id of 33 bytes. */
    buf[34] = 33;
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(buf, n), false), KP_RES_MALFORMED);
    /* TLS 1.3 with a compression method: anomaly. */
    memset(rnd, 0, sizeof rnd);
    n = mini_sh(buf, rnd, 1, EXTS(0, 6, 0, 43, 0, 2, 3, 4));
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(buf, n), false), KP_RES_OK);
    assert_int_equal(sh.version, 0x0304);
    assert_int_equal(sh.anomalies, KP_TLS_ANOM_NO_NULL_COMPRESSION);
    /* supported_versions must be exactly 2 bytes. */
    assert_int_equal(parse_sh_exts(EXTS(0, 7, 0, 43, 0, 3, 3, 4, 0), &sh, false),
                     KP_RES_MALFORMED);
    assert_int_equal(parse_sh_exts(EXTS(0, 5, 0, 43, 0, 1, 3), &sh, false), KP_RES_MALFORMED);
    /* Duplicates. */
    assert_int_equal(parse_sh_exts(EXTS(0, 8, 0xff, 1, 0, 0, 0xff, 1, 0, 0), &sh, false),
                     KP_RES_MALFORMED);
    /* Trailing byte after the extensions. */
    assert_int_equal(parse_sh_exts(EXTS(0, 0, 0), &sh, false), KP_RES_MALFORMED);
    /* ALPN: one name expected; two are an anomaly, the first is kept. */
    assert_int_equal(parse_sh_exts(EXTS(0, 11, 0, 16, 0, 7, 0, 5, 2, 'h', '2', 1, 'x'), &sh,
                                   false),
                     KP_RES_OK);
    assert_true(rd_is(sh.alpn, "h2"));
    assert_int_equal(sh.anomalies, KP_TLS_ANOM_ALPN_COUNT);
    assert_int_equal(parse_sh_exts(EXTS(0, 9, 0, 16, 0, 5, 0, 3, 2, 'h', '2'), &sh, false),
                     KP_RES_OK);
    assert_int_equal(sh.anomalies, 0);
    assert_int_equal(parse_sh_exts(EXTS(0, 9, 0, 16, 0, 5, 0, 4, 2, 'h', '2'), &sh, false),
                     KP_RES_MALFORMED);
    /* use_srtp with two profiles: anomaly, first kept. */
    assert_int_equal(parse_sh_exts(EXTS(0, 11, 0, 14, 0, 7, 0, 4, 0, 7, 0, 1, 0), &sh, false),
                     KP_RES_OK);
    assert_int_equal(sh.srtp_profile, 7);
    assert_int_equal(sh.anomalies, KP_TLS_ANOM_SRTP_COUNT);
    /* key_share: a group alone in a HelloRetryRequest, an entry otherwise. */
    assert_int_equal(parse_sh_exts(EXTS(0, 6, 0, 51, 0, 2, 0, 23), &sh, true), KP_RES_OK);
    assert_true(sh.is_hrr);
    assert_int_equal(sh.key_share_group, 23);
    assert_int_equal(parse_sh_exts(EXTS(0, 6, 0, 51, 0, 2, 0, 23), &sh, false), KP_RES_MALFORMED);
    assert_int_equal(parse_sh_exts(EXTS(0, 9, 0, 51, 0, 5, 0, 29, 0, 1, 7), &sh, false),
                     KP_RES_OK);
    assert_int_equal(sh.key_share_group, 29);
    assert_int_equal(parse_sh_exts(EXTS(0, 9, 0, 51, 0, 5, 0, 29, 0, 1, 7), &sh, true),
                     KP_RES_MALFORMED);
    /* pre_shared_key: exactly a u16. */
    assert_int_equal(parse_sh_exts(EXTS(0, 6, 0, 41, 0, 2, 0, 1), &sh, false), KP_RES_OK);
    assert_int_equal(sh.psk_identity, 1);
    assert_int_equal(parse_sh_exts(EXTS(0, 5, 0, 41, 0, 1, 0), &sh, false), KP_RES_MALFORMED);
    /* Non-empty server_name / extended_master_secret acknowledgements. */
    assert_int_equal(parse_sh_exts(EXTS(0, 5, 0, 0, 0, 1, 0), &sh, false), KP_RES_OK);
    assert_true(sh.has_sni_ack);
    assert_int_equal(sh.anomalies, KP_TLS_ANOM_SERVER_EXT_LEN);
    assert_int_equal(parse_sh_exts(EXTS(0, 4, 0, 0, 0, 0), &sh, false), KP_RES_OK);
    assert_int_equal(sh.anomalies, 0);
    /* TLS version in a DTLS ServerHello. */
    n = mini_sh(buf, rnd, 0, NULL, 0);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(buf, n), true), KP_RES_OK);
    assert_int_equal(sh.anomalies, KP_TLS_ANOM_VERSION_FAMILY);
    assert_int_equal(kp_tls_parse_server_hello(&sh, kp_rd_make(NULL, 0), false),
                     KP_RES_MALFORMED);
    keep_copy(NULL);
}

/* ---- Certificate -------------------------------------------------------- */

static void test_cert_real(void **state)
{
    (void)state;
    tt_need_captures();
    struct kp_tls_certificate c;
    size_t len;
    uint8_t *b = real_msg("tls12_zeek_server.hex", 0, KP_TLS_HS_CERTIFICATE, 0, &len);
    assert_int_equal(len, 3823);
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(c.certs_total, 3);
    assert_int_equal(c.n_certs, 3);
    assert_int_equal(c.certs[0].len, 1449);
    assert_int_equal(c.certs[1].len, 1280);
    assert_int_equal(c.certs[2].len, 1082);
    assert_int_equal(c.context.len, 0);
    /* A DER SEQUENCE with a 2-byte length. */
    assert_int_equal(c.certs[0].p[0], 0x30);
    assert_int_equal(c.certs[0].p[1], 0x82);
    check_every_prefix(K_CERT, b, len, 0);
    /* Read as TLS 1.3, the layout does not fit. */
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(b, len), true), KP_RES_MALFORMED);
    free(b);

    b = real_msg("tls_ecdsa_cert_zeek_server.hex", 0, KP_TLS_HS_CERTIFICATE, 0, &len);
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(b, len), false), KP_RES_OK);
    assert_int_equal(c.certs_total, 2);
    assert_int_equal(c.certs[0].len, 982);
    assert_int_equal(c.certs[1].len, 929);
    check_every_prefix(K_CERT, b, len, 0);
    free(b);
}

static void build_cert13(struct tt_bld *b, int n_certs)
{
    tt_init(b);
    tt_open(b, 1);
    tt_str(b, "ctx");
    tt_close(b);
    tt_open(b, 3);
    for (int i = 0; i < n_certs; i++) {
        tt_open(b, 3);
        tt_u8(b, 0x30);
        tt_u8(b, (uint8_t)i);
        tt_close(b);
        tt_open(b, 2);
        if (i == 0) {
            tt_u16(b, 5); /* status_request with an empty body */
            tt_open(b, 2);
            tt_close(b);
        }
        tt_close(b);
    }
    tt_close(b);
}

static void test_cert_built(void **state)
{
    (void)state;
    static struct tt_bld b;
    struct kp_tls_certificate c;
    build_cert13(&b, 2);
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(b.b, b.len), true), KP_RES_OK);
    assert_true(rd_is(c.context, "ctx"));
    assert_int_equal(c.certs_total, 2);
    assert_int_equal(c.certs[1].len, 2);
    assert_int_equal(c.certs[1].p[1], 1);
    check_every_prefix(K_CERT13, b.b, b.len, 0);
    check_byte_flips(K_CERT13, b.b, b.len);
    for (size_t i = 0; i < b.n_lens; i++) {
        uint32_t v = tt_len_get(&b, i);
        for (int d = -1; d <= 1; d += 2) {
            if (d < 0 && v == 0) {
                continue;
            }
            tt_len_set(&b, i, (uint32_t)((int64_t)v + d));
            assert_int_equal(parse_checked(K_CERT13, b.b, b.len), KP_RES_MALFORMED);
            tt_len_set(&b, i, v);
        }
    }
    /* More than KP_TLS_MAX_CERTS. */
    build_cert13(&b, 12);
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(b.b, b.len), true), KP_RES_OK);
    assert_int_equal(c.n_certs, KP_TLS_MAX_CERTS);
    assert_int_equal(c.certs_total, 12);
    assert_int_equal(c.certs[9].p[1], 9);
    /* TLS 1.2: an empty list, a zero-length certificate, a trailing byte. */
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make((const uint8_t *)"\0\0\0", 3), false),
                     KP_RES_OK);
    assert_int_equal(c.certs_total, 0);
    assert_int_equal(
        kp_tls_parse_certificate(&c, kp_rd_make((const uint8_t *)"\0\0\3\0\0\0", 6), false),
        KP_RES_OK);
    assert_int_equal(c.certs_total, 1);
    assert_int_equal(c.anomalies, KP_TLS_ANOM_EMPTY_VECTOR);
    assert_int_equal(
        kp_tls_parse_certificate(&c, kp_rd_make((const uint8_t *)"\0\0\0\0", 4), false),
        KP_RES_MALFORMED);
    assert_int_equal(kp_tls_parse_certificate(&c, kp_rd_make(NULL, 0), false), KP_RES_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grease),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_scan_real_streams),
        cmocka_unit_test(test_scan_every_prefix),
        cmocka_unit_test(test_scan_incremental),
        cmocka_unit_test(test_scan_hrr_client_learns_version),
        cmocka_unit_test(test_scan_rerecorded),
        cmocka_unit_test(test_scan_split_everywhere),
        cmocka_unit_test(test_scan_one_byte_records_incremental),
        cmocka_unit_test(test_scan_resume_real_streams),
        cmocka_unit_test(test_scan_resume_built),
        cmocka_unit_test(test_scan_resume_linear),
        cmocka_unit_test(test_scan_scratch_limits),
        cmocka_unit_test(test_scan_not_tls),
        cmocka_unit_test(test_scan_record_errors),
        cmocka_unit_test(test_scan_stops),
        cmocka_unit_test(test_scan_flips),
        cmocka_unit_test(test_ch_built),
        cmocka_unit_test(test_scan_built_stream),
        cmocka_unit_test(test_ch_length_off_by_one),
        cmocka_unit_test(test_ch_built_truncation_and_flips),
        cmocka_unit_test(test_ch_structure_rules),
        cmocka_unit_test(test_ch_header_rules),
        cmocka_unit_test(test_ch_caps),
        cmocka_unit_test(test_ch_real_fields),
        cmocka_unit_test(test_ch_real_truncation_and_flips),
        cmocka_unit_test(test_dtls_real),
        cmocka_unit_test(test_sh_real),
        cmocka_unit_test(test_sh_rules),
        cmocka_unit_test(test_sh_cert_real_truncation_and_flips),
        cmocka_unit_test(test_cert_real),
        cmocka_unit_test(test_cert_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
