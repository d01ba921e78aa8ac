/* ZRTP packets (analyze/zrtp.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_test_util.h"
#include "zrtp.h"

static void check_num(const struct mt_rec *r, const char *key, uint64_t got)
{
    const char *want = mt_get(r, key);
    if (want != NULL && mt_num(want) != got) {
        fail_msg("%s: %s = %llu, tshark says %s", r->name, key, (unsigned long long)got, want);
    }
}

static void check_str(const struct mt_rec *r, const char *key, struct kp_rd got)
{
    const char *want = mt_get(r, key);
    if (want != NULL) {
        mt_assert_view(got, want, key);
    }
}

/* A tshark list field (occurrences joined with '|') against parsed views. */
static void check_list(const struct mt_rec *r, const char *key, const struct kp_zrtp *z,
                       enum kp_zrtp_alg alg)
{
    const char *want = mt_get(r, key);
    char parts[8][256];
    if (want == NULL) {
        return;
    }
    size_t n = mt_split(want, parts, 8);
    assert_int_equal(n, z->n_algs[alg]);
    for (size_t i = 0; i < n; i++) {
        mt_assert_view(z->algs[alg][i], parts[i], key);
    }
}

static void views_inside(const struct kp_zrtp *z, const uint8_t *p, size_t n)
{
    assert_true(mt_in(z->msg, p, n));
    assert_true(mt_in(z->type_block, p, n));
    assert_true(mt_in(z->version, p, n));
    assert_true(mt_in(z->client_id, p, n));
    assert_true(mt_in(z->hash_image, p, n));
    assert_true(mt_in(z->zid, p, n));
    for (int a = 0; a < KP_ZRTP_N_ALGS; a++) {
        for (int i = 0; i < z->n_algs[a]; i++) {
            assert_true(mt_in(z->algs[a][i], z->msg.p, z->msg.len));
        }
    }
}

static void test_zrtp_vectors(void **state)
{
    (void)state;
    struct mt_vec v;
    char hex[64];
    mt_load(&v, "zrtp");
    assert_int_equal(v.n, 10);
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        uint8_t *p = mt_copy(r->data, r->len);
        struct kp_zrtp z;
        if (kp_zrtp_parse(&z, kp_rd_make(p, r->len), true) != KP_RES_OK) {
            fail_msg("%s: not parsed", r->name);
        }
        views_inside(&z, p, r->len);
        check_num(r, "zrtp.sequence", z.seq);
        check_num(r, "zrtp.source_id", z.ssrc);
        check_num(r, "zrtp.length", z.msg_words);
        check_str(r, "zrtp.type", z.type_block);
        assert_non_null(kp_zrtp_type_name(z.type));
        /* tshark reads the CRC as a big-endian number; RFC 4960 B stores
         * the value byte-reversed, which is what crc holds. */
        uint32_t be = ((z.crc & 0xffu) << 24) | ((z.crc & 0xff00u) << 8) |
                      ((z.crc >> 8) & 0xff00u) | (z.crc >> 24);
        check_num(r, "zrtp.checksum", be);
        assert_true(z.crc_checked);
        assert_int_equal(z.crc_ok, mt_num(mt_get(r, "zrtp.checksum.status")) == 1);
        assert_true(z.crc_ok);
        if (z.type == KP_ZRTP_HELLO) {
            check_str(r, "zrtp.version", z.version);
            check_str(r, "zrtp.client_source_id", z.client_id);
            check_num(r, "zrtp.sigcap", z.sig_capable);
            check_num(r, "zrtp.mitm", z.mitm);
            check_num(r, "zrtp.passive", z.passive);
            check_num(r, "zrtp.hc", z.n_algs[KP_ZRTP_ALG_HASH]);
            check_num(r, "zrtp.cc", z.n_algs[KP_ZRTP_ALG_CIPHER]);
            check_num(r, "zrtp.ac", z.n_algs[KP_ZRTP_ALG_AUTH]);
            check_num(r, "zrtp.kc", z.n_algs[KP_ZRTP_ALG_KEY]);
            check_num(r, "zrtp.sc", z.n_algs[KP_ZRTP_ALG_SAS]);
        }
        if (z.type == KP_ZRTP_HELLO || z.type == KP_ZRTP_COMMIT) {
            for (size_t k = 0; k < z.zid.len; k++) {
                uint8_t b;
                assert_true(kp_rd_peek_u8(&z.zid, k, &b));
                snprintf(hex + 2 * k, 3, "%02x", b);
            }
            assert_int_equal(z.zid.len, 12);
            /* tshark prints bytes as hex, possibly with colons. */
            const char *want = mt_get(r, "zrtp.zid");
            char flat[64];
            size_t o = 0;
            for (const char *c = want; *c != '\0' && o < sizeof flat - 1; c++) {
                if (*c != ':') {
                    flat[o++] = *c;
                }
            }
            flat[o] = '\0';
            assert_string_equal(hex, flat);
            check_list(r, "zrtp.hash", &z, KP_ZRTP_ALG_HASH);
            check_list(r, "zrtp.cipher", &z, KP_ZRTP_ALG_CIPHER);
            check_list(r, "zrtp.at", &z, KP_ZRTP_ALG_AUTH);
            check_list(r, "zrtp.keya", &z, KP_ZRTP_ALG_KEY);
            check_list(r, "zrtp.sas", &z, KP_ZRTP_ALG_SAS);
        }
        /* A flipped bit anywhere is caught by the CRC. */
        p[r->len / 2] ^= 0x01;
        struct kp_zrtp z2;
        enum kp_res res = kp_zrtp_parse(&z2, kp_rd_make(p, r->len), true);
        assert_true(res != KP_RES_OK || !z2.crc_ok);
        free(p);
    }
    mt_free(&v);
}

/* Every prefix: TRUNCATED until the CRC is there, then OK. */
static void test_zrtp_truncated(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "zrtp");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        for (size_t n = 0; n <= r->len; n++) {
            uint8_t *p = mt_copy(r->data, n);
            struct kp_zrtp z;
            enum kp_res res = kp_zrtp_parse(&z, kp_rd_make(p, n), true);
            if (n < r->len) {
                assert_int_equal(res, KP_RES_TRUNCATED);
            } else {
                assert_int_equal(res, KP_RES_OK);
                views_inside(&z, p, n);
            }
            free(p);
        }
    }
    mt_free(&v);
}

static void set_crc(struct mt_bld *b)
{
    uint32_t c = kp_crc32c(kp_rd_make(b->b, b->len));
    mt_u8(b, (uint8_t)c);
    mt_u8(b, (uint8_t)(c >> 8));
    mt_u8(b, (uint8_t)(c >> 16));
    mt_u8(b, (uint8_t)(c >> 24));
}

static void zhdr(struct mt_bld *b, uint16_t words, const char *type)
{
    mt_init(b);
    mt_u16(b, 0x1000);
    mt_u16(b, 7);
    mt_u32(b, KP_ZRTP_MAGIC);
    mt_u32(b, 0xabcdef01);
    mt_u16(b, KP_ZRTP_PREAMBLE);
    mt_u16(b, words);
    mt_bytes(b, type, 8);
}

/* Parses an exact-size copy, kept until the next call so that the views
 * can be checked. */
static enum kp_res parse(const struct mt_bld *b, struct kp_zrtp *z)
{
    static uint8_t *p;
    free(p);
    p = mt_copy(b->b, b->len);
    enum kp_res res = kp_zrtp_parse(z, kp_rd_make(p, b->len), true);
    if (res == KP_RES_OK) {
        views_inside(z, p, b->len);
    }
    return res;
}

static void hello(struct mt_bld *b, uint32_t flags, size_t n_lists, int extra_words)
{
    zhdr(b, (uint16_t)(22 + n_lists + (size_t)extra_words), "Hello   ");
    mt_str_add(b, "1.10");
    mt_str_add(b, "keyprov-test    ");
    mt_zeros(b, 32);
    mt_str_add(b, "ZIDZIDZIDZID");
    mt_u32(b, flags);
    for (size_t i = 0; i < n_lists; i++) {
        mt_str_add(b, i == 0 ? "S384" : "EC25");
    }
    mt_zeros(b, 8);
    for (int i = 0; i < extra_words; i++) {
        mt_u32(b, 0);
    }
    set_crc(b);
}

static void test_zrtp_hand(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_zrtp z;
    /* S and P flags, one hash and one key agreement. */
    hello(&b, 0x50000000u | 0x00010010u, 2, 0);
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_int_equal(z.type, KP_ZRTP_HELLO);
    assert_true(z.crc_ok);
    assert_true(z.sig_capable);
    assert_false(z.mitm);
    assert_true(z.passive);
    assert_int_equal(z.n_algs[KP_ZRTP_ALG_HASH], 1);
    assert_int_equal(z.n_algs[KP_ZRTP_ALG_KEY], 1);
    mt_assert_view(z.algs[KP_ZRTP_ALG_KEY][0], "EC25", "key agreement");
    mt_assert_view(z.zid, "ZIDZIDZIDZID", "zid");
    mt_assert_view(z.client_id, "keyprov-test    ", "client id");
    assert_string_equal(kp_zrtp_type_name(z.type), "Hello");
    /* Longer than its lists need: anomaly. */
    hello(&b, 0x00010010u, 2, 1);
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_true(z.anomalies & KP_ZRTP_ANOM_LONG_MSG);
    /* Counts that need more words than the length gives. */
    hello(&b, 0x00077777u, 2, 0);
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    /* A count of 8. */
    hello(&b, 0x00080000u, 2, 6);
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    /* Length field ±1. */
    hello(&b, 0x00010010u, 2, 0);
    b.b[15] = 23;
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    b.b[15] = 25;
    assert_int_equal(parse(&b, &z), KP_RES_TRUNCATED);
    b.b[15] = 0xff;
    b.b[14] = 0xff;
    assert_int_equal(parse(&b, &z), KP_RES_TRUNCATED);
    b.b[14] = 0;
    b.b[15] = 2;
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    b.b[15] = 24;
    /* CRC off by one bit: still parsed, crc_ok false. */
    b.b[b.len - 1] ^= 0x80;
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_false(z.crc_ok);
    /* Bad preamble, bad magic, not ZRTP. */
    hello(&b, 0x00010010u, 2, 0);
    b.b[12] = 0x50;
    b.b[13] = 0x5b;
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    hello(&b, 0x00010010u, 2, 0);
    b.b[7] = 0x51;
    assert_int_equal(parse(&b, &z), KP_RES_NOT_MINE);
    b.b[7] = 0x50;
    b.b[0] = 0x80;
    assert_int_equal(parse(&b, &z), KP_RES_NOT_MINE);
    b.b[0] = 0x11;
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_true(z.anomalies & KP_ZRTP_ANOM_HDR_BITS);

    /* Commit in Multistream mode (16-byte nonce), Error, an unknown type. */
    zhdr(&b, 25, "Commit  ");
    mt_zeros(&b, 32);
    mt_str_add(&b, "ZIDZIDZIDZID");
    mt_str_add(&b, "S256AES3HS80MultB256");
    mt_zeros(&b, 16 + 8);
    set_crc(&b);
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_int_equal(z.type, KP_ZRTP_COMMIT);
    mt_assert_view(z.algs[KP_ZRTP_ALG_KEY][0], "Mult", "commit key agreement");
    mt_assert_view(z.algs[KP_ZRTP_ALG_CIPHER][0], "AES3", "commit cipher");
    zhdr(&b, 20, "Commit  ");
    mt_zeros(&b, 80 - 12);
    set_crc(&b);
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    zhdr(&b, 4, "Error   ");
    mt_u32(&b, 0x61); /* DH error: bad pvi */
    set_crc(&b);
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_int_equal(z.type, KP_ZRTP_ERROR);
    assert_int_equal(z.error_code, 0x61);
    zhdr(&b, 3, "Error   ");
    set_crc(&b);
    assert_int_equal(parse(&b, &z), KP_RES_MALFORMED);
    zhdr(&b, 3, "Frobnic8");
    set_crc(&b);
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_int_equal(z.type, KP_ZRTP_UNKNOWN);
    assert_null(kp_zrtp_type_name(z.type));
    /* Trailing bytes after the CRC. */
    mt_u8(&b, 0);
    assert_int_equal(parse(&b, &z), KP_RES_OK);
    assert_true(z.anomalies & KP_ZRTP_ANOM_TRAILING);
    /* Every type name round-trips. */
    static const char *const names[] = {"HelloACK", "DHPart1 ", "DHPart2 ", "Confirm1",
                                        "Confirm2", "Conf2ACK", "ErrorACK", "GoClear ",
                                        "ClearACK", "SASrelay", "RelayACK", "Ping    ",
                                        "PingACK "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        zhdr(&b, 3, names[i]);
        set_crc(&b);
        assert_int_equal(parse(&b, &z), KP_RES_OK);
        assert_int_not_equal(z.type, KP_ZRTP_UNKNOWN);
        char want[9];
        snprintf(want, sizeof want, "%s", names[i]);
        for (int k = 7; k >= 0 && want[k] == ' '; k--) {
            want[k] = '\0';
        }
        assert_string_equal(kp_zrtp_type_name(z.type), want);
    }
}

/* RFC 3720 B.4 / RFC 4960 test values for CRC-32C. */
static void test_crc32c(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    assert_int_equal(kp_crc32c(kp_rd_make(buf, 32)), 0x8a9136aa);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(kp_crc32c(kp_rd_make(buf, 32)), 0x62a8ab43);
    for (int i = 0; i < 32; i++) {
        buf[i] = (uint8_t)i;
    }
    assert_int_equal(kp_crc32c(kp_rd_make(buf, 32)), 0x46dd794e);
    assert_int_equal(kp_crc32c(kp_rd_make((const uint8_t *)"123456789", 9)), 0xe3069283);
}

/* The whole ZRTP call: every ZRTP packet parses with a good CRC. */
struct walk {
    size_t zrtp, hello, commit;
};

static void on_packet(const uint8_t *p, size_t n, uint16_t sport, uint16_t dport, uint8_t proto,
                      void *user)
{
    struct walk *w = user;
    struct kp_zrtp z;
    if (proto != 17) {
        return;
    }
    enum kp_res res = kp_zrtp_parse(&z, kp_rd_make(p, n), true);
    if (res == KP_RES_NOT_MINE) {
        return;
    }
    assert_int_equal(res, KP_RES_OK);
    assert_true(z.crc_ok);
    views_inside(&z, p, n);
    w->zrtp++;
    w->hello += z.type == KP_ZRTP_HELLO;
    w->commit += z.type == KP_ZRTP_COMMIT;
}

static void test_zrtp_capture(void **state)
{
    (void)state;
    struct walk w;
    memset(&w, 0, sizeof w);
    mt_walk("sip_zrtp_asterisk_zfone_wireshark.pcap", true, on_packet, &w);
    assert_int_equal(w.zrtp, 10);
    assert_int_equal(w.hello, 3);
    assert_int_equal(w.commit, 1);
}

/* Mutated real packets: no crash, no view outside the bytes. */
static void test_zrtp_mutations(void **state)
{
    (void)state;
    struct mt_vec v;
    uint32_t seed = 7;
    size_t ok = 0;
    mt_load(&v, "zrtp");
    for (size_t i = 0; i < v.n; i++) {
        for (int k = 0; k < 2000; k++) {
            uint8_t *p = mt_copy(v.rec[i].data, v.rec[i].len);
            mt_mutate(p, v.rec[i].len, &seed);
            struct kp_zrtp z;
            if (kp_zrtp_parse(&z, kp_rd_make(p, v.rec[i].len), true) == KP_RES_OK) {
                ok++;
                views_inside(&z, p, v.rec[i].len);
                /* A changed packet fails the CRC (else a 2^-32 coincidence). */
                if (memcmp(p, v.rec[i].data, v.rec[i].len) != 0) {
                    assert_false(z.crc_ok);
                }
            }
            free(p);
        }
    }
    assert_true(ok > 1000);
    mt_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zrtp_vectors),
        cmocka_unit_test(test_zrtp_truncated),
        cmocka_unit_test(test_zrtp_hand),
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_zrtp_capture),
        cmocka_unit_test(test_zrtp_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
