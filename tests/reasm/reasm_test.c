/* TCP handshake reassembly: in order, out of order, retransmissions,
 * overlaps (first copy wins), sequence wrap, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

static struct kp_rd bytes(const char *s) { return kp_rd_make((const uint8_t *)s, strlen(s)); }

static void assert_contig(const struct kp_reasm *r, const char *want)
{
    struct kp_rd c = kp_reasm_contig(r);
    assert_int_equal(c.len, strlen(want));
    assert_memory_equal(c.p, want, c.len);
}

static void test_in_order_with_syn(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    kp_reasm_syn(&r, 999);
    assert_true(kp_reasm_add(&r, 1000, bytes("hello ")));
    assert_true(kp_reasm_add(&r, 1006, bytes("world")));
    assert_contig(&r, "hello world");
    kp_reasm_free(&r);
}

static void test_out_of_order(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    kp_reasm_syn(&r, 0);
    assert_true(kp_reasm_add(&r, 7, bytes("world")));
    assert_true(kp_reasm_add(&r, 12, bytes("!")));
    struct kp_rd c = kp_reasm_contig(&r);
    assert_int_equal(c.len, 0);
    assert_true(kp_reasm_add(&r, 1, bytes("hello ")));
    assert_contig(&r, "hello world!");
    kp_reasm_free(&r);
}

static void test_every_permutation_of_segments(void **state)
{
    (void)state;
    const char *text = "0123456789abcdefghij";
    /* 4 segments of 5 bytes, all 24 orders */
    int perm[4] = {0, 1, 2, 3};
    int count = 0;
    for (int a = 0; a < 4; a++) {
        for (int b = 0; b < 4; b++) {
            for (int c = 0; c < 4; c++) {
                for (int d = 0; d < 4; d++) {
                    if (a == b || a == c || a == d || b == c || b == d || c == d) {
                        continue;
                    }
                    perm[0] = a;
                    perm[1] = b;
                    perm[2] = c;
                    perm[3] = d;
                    struct kp_reasm r;
                    kp_reasm_init(&r, 1024);
                    kp_reasm_syn(&r, 41);
                    for (int i = 0; i < 4; i++) {
                        struct kp_rd seg = kp_rd_make((const uint8_t *)text + perm[i] * 5, 5);
                        assert_true(kp_reasm_add(&r, 42 + (uint32_t)perm[i] * 5, seg));
                    }
                    assert_contig(&r, text);
                    assert_int_equal(r.nranges, 1);
                    kp_reasm_free(&r);
                    count++;
                }
            }
        }
    }
    assert_int_equal(count, 24);
}

static void test_overlap_first_wins(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    kp_reasm_syn(&r, 0);
    assert_true(kp_reasm_add(&r, 3, bytes("CDE")));
    /* a retransmission that disagrees with bytes already held */
    assert_true(kp_reasm_add(&r, 1, bytes("abcdefg")));
    assert_contig(&r, "abCDEfg");
    /* exact retransmission and one before the ISN change nothing */
    assert_true(kp_reasm_add(&r, 1, bytes("XXXXXXX")));
    assert_contig(&r, "abCDEfg");
    kp_reasm_free(&r);
}

static void test_before_isn_and_wrap(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    kp_reasm_syn(&r, 0xfffffffd); /* stream starts at 0xfffffffe */
    assert_true(kp_reasm_add(&r, 0xfffffffc, bytes("zzab"))); /* starts 2 before the ISN */
    assert_true(kp_reasm_add(&r, 0, bytes("cd"))); /* after the wrap */
    assert_contig(&r, "abcd");
    kp_reasm_free(&r);
}

static void test_no_syn_first_segment_starts(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    assert_true(kp_reasm_add(&r, 5000, bytes("mid")));
    assert_true(kp_reasm_add(&r, 5003, bytes("stream")));
    assert_contig(&r, "midstream");
    kp_reasm_free(&r);
}

static void test_limit(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    kp_reasm_syn(&r, 0);
    uint8_t big[1500];
    memset(big, 'x', sizeof(big));
    assert_true(kp_reasm_add(&r, 1, kp_rd_make(big, sizeof(big))));
    assert_true(r.overflow);
    assert_int_equal(kp_reasm_contig(&r).len, 1024);
    assert_true(r.cap <= 1024);
    assert_true(kp_reasm_add(&r, 5000, kp_rd_make(big, 10))); /* far beyond: dropped */
    assert_int_equal(kp_reasm_contig(&r).len, 1024);
    kp_reasm_free(&r);
}

static void test_hole_list_full(void **state)
{
    (void)state;
    struct kp_reasm r;
    kp_reasm_init(&r, 4096);
    kp_reasm_syn(&r, 0);
    /* 1-byte segments with 1-byte holes: more holes than ranges */
    for (uint32_t i = 0; i < 40; i++) {
        assert_true(kp_reasm_add(&r, 3 + 2 * i, bytes("x")));
    }
    assert_true(r.nranges <= KP_REASM_MAX_RANGES);
    assert_true(r.gaps_full);
    kp_reasm_free(&r);
}

static void test_one_byte_segments_reverse(void **state)
{
    (void)state;
    const char *text = "The quick brown fox";
    size_t n = strlen(text);
    struct kp_reasm r;
    kp_reasm_init(&r, 1024);
    kp_reasm_syn(&r, 99);
    /* last byte first, then the rest from the front: at most 2 ranges alive */
    assert_true(kp_reasm_add(&r, 100 + (uint32_t)n - 1, kp_rd_make((const uint8_t *)text + n - 1, 1)));
    for (size_t i = 0; i + 1 < n; i++) {
        assert_true(kp_reasm_add(&r, 100 + (uint32_t)i, kp_rd_make((const uint8_t *)text + i, 1)));
    }
    assert_contig(&r, text);
    kp_reasm_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_with_syn),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_every_permutation_of_segments),
        cmocka_unit_test(test_overlap_first_wins),
        cmocka_unit_test(test_before_isn_and_wrap),
        cmocka_unit_test(test_no_syn_first_segment_starts),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_hole_list_full),
        cmocka_unit_test(test_one_byte_segments_reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
