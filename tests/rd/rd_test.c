/* Byte reader: every read bounds-checked, failures leave the view unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rd.h"

static void test_fixed_reads(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
    struct kp_rd r = kp_rd_make(b, sizeof(b));
    uint8_t u8;
    uint16_t u16;
    uint32_t u24, u32;
    assert_true(kp_rd_u8(&r, &u8));
    assert_int_equal(u8, 0x01);
    assert_true(kp_rd_u16(&r, &u16));
    assert_int_equal(u16, 0x0203);
    assert_true(kp_rd_u24(&r, &u24));
    assert_int_equal(u24, 0x040506);
    assert_true(kp_rd_u32(&r, &u32));
    assert_int_equal(u32, 0x0708090a);
    assert_int_equal(kp_rd_left(&r), 0);
    assert_false(kp_rd_u8(&r, &u8));
}

static void test_failure_leaves_view(void **state)
{
    (void)state;
    static const uint8_t b[] = {0xaa, 0xbb, 0xcc};
    struct kp_rd r = kp_rd_make(b, sizeof(b));
    uint32_t v = 0x12345678;
    assert_false(kp_rd_u32(&r, &v));
    assert_int_equal(v, 0x12345678);
    assert_ptr_equal(r.p, b);
    assert_int_equal(r.len, 3);
    struct kp_rd sub;
    assert_false(kp_rd_sub(&r, &sub, 4));
    assert_int_equal(r.len, 3);
    assert_false(kp_rd_skip(&r, 4));
    assert_int_equal(r.len, 3);
}

/* Length-prefixed vectors at every truncation length: never partially consumed. */
static void test_vectors_truncated(void **state)
{
    (void)state;
    static const uint8_t v8[] = {0x03, 'a', 'b', 'c', 0xff};
    static const uint8_t v16[] = {0x00, 0x03, 'a', 'b', 'c'};
    static const uint8_t v24[] = {0x00, 0x00, 0x03, 'a', 'b', 'c'};
    for (size_t n = 0; n <= sizeof(v8); n++) {
        struct kp_rd r = kp_rd_make(v8, n), sub;
        bool ok = kp_rd_vec8(&r, &sub);
        assert_int_equal(ok, n >= 4);
        assert_int_equal(r.len, ok ? n - 4 : n);
        if (ok) {
            assert_true(kp_rd_eq(&sub, "abc", 3));
        }
    }
    for (size_t n = 0; n <= sizeof(v16); n++) {
        struct kp_rd r = kp_rd_make(v16, n), sub;
        bool ok = kp_rd_vec16(&r, &sub);
        assert_int_equal(ok, n == sizeof(v16));
        assert_int_equal(r.len, ok ? 0 : n);
    }
    for (size_t n = 0; n <= sizeof(v24); n++) {
        struct kp_rd r = kp_rd_make(v24, n), sub;
        bool ok = kp_rd_vec24(&r, &sub);
        assert_int_equal(ok, n == sizeof(v24));
        assert_int_equal(r.len, ok ? 0 : n);
    }
}

/* RFC 9000 A.1 example encodings. */
static void test_varint(void **state)
{
    (void)state;
    static const struct {
        uint8_t b[8];
        size_t n;
        uint64_t v;
    } vec[] = {
        {{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}, 8, 151288809941952652ULL},
        {{0x9d, 0x7f, 0x3e, 0x7d}, 4, 494878333},
        {{0x7b, 0xbd}, 2, 15293},
        {{0x25}, 1, 37},
        {{0x40, 0x25}, 2, 37},
    };
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        for (size_t n = 0; n < vec[i].n; n++) {
            struct kp_rd r = kp_rd_make(vec[i].b, n);
            uint64_t v = 7;
            assert_false(kp_rd_varint(&r, &v));
            assert_int_equal(r.len, n);
            assert_int_equal(v, 7);
        }
        struct kp_rd r = kp_rd_make(vec[i].b, vec[i].n);
        uint64_t v;
        assert_true(kp_rd_varint(&r, &v));
        assert_true(v == vec[i].v);
        assert_int_equal(r.len, 0);
    }
}

static void test_lines(void **state)
{
    (void)state;
    static const char t[] = "INVITE sip:a@b SIP/2.0\r\nVia: x\nlast";
    struct kp_rd r = kp_rd_make((const uint8_t *)t, sizeof(t) - 1), line = {NULL, 0};
    assert_true(kp_rd_line(&r, &line));
    assert_true(kp_rd_eq(&line, "INVITE sip:a@b SIP/2.0", 22));
    assert_true(kp_rd_line(&r, &line));
    assert_true(kp_rd_eq(&line, "Via: x", 6));
    size_t before = r.len;
    assert_false(kp_rd_line(&r, &line));
    assert_int_equal(r.len, before);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    struct kp_rd r = kp_rd_make(NULL, 100);
    uint8_t v;
    assert_int_equal(r.len, 0);
    assert_false(kp_rd_u8(&r, &v));
    assert_false(kp_rd_peek_u8(&r, 0, &v));
    uint16_t le;
    static const uint8_t b[] = {0x34, 0x12};
    r = kp_rd_make(b, 2);
    assert_true(kp_rd_u16le(&r, &le));
    assert_int_equal(le, 0x1234);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_reads),
        cmocka_unit_test(test_failure_leaves_view),
        cmocka_unit_test(test_vectors_truncated),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_empty_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
