/* JSON writer: escaping of hostile strings, invalid UTF-8, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json.h"

static void test_escape(void **state)
{
    (void)state;
    char out[128];
    const char in[] = "a\"b\\c\n\x01\x7f" "\xc3\xa9";
    size_t n = kp_json_escape(out, sizeof(out), in, sizeof(in) - 1);
    assert_string_equal(out, "a\\\"b\\\\c\\n\\u0001\\u007f\xc3\xa9");
    assert_int_equal(n, strlen(out));
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    char out[128];
    /* lone continuation, overlong '/', surrogate, truncated sequence, 0xff */
    const char in[] = "\x80" "\xc0\xaf" "\xed\xa0\x80" "\xe2\x82" "\xff" "ok";
    kp_json_escape(out, sizeof(out), in, sizeof(in) - 1);
    assert_string_equal(out, "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdok");
    const char nul[] = {'a', 0, 'b'};
    kp_json_escape(out, sizeof(out), nul, 3);
    assert_string_equal(out, "a\\u0000b");
}

static void write_sample(struct kp_jw *w)
{
    kp_jw_obj_open(w, NULL);
    kp_jw_str(w, "sni", "zc01.zoom.us");
    kp_jw_int(w, "asn", 55960);
    kp_jw_bool(w, "flagged", true);
    kp_jw_null(w, "x");
    kp_jw_arr_open(w, "evidence");
    kp_jw_str(w, NULL, "a");
    kp_jw_str(w, NULL, "b\"");
    kp_jw_arr_close(w);
    kp_jw_obj_open(w, "o");
    kp_jw_obj_close(w);
    kp_jw_obj_close(w);
}

static void test_writer_and_truncation(void **state)
{
    (void)state;
    char full[256];
    struct kp_jw w;
    kp_jw_init(&w, full, sizeof(full));
    write_sample(&w);
    size_t need = kp_jw_finish(&w);
    const char *want =
        "{\"sni\":\"zc01.zoom.us\",\"asn\":55960,\"flagged\":true,\"x\":null,"
        "\"evidence\":[\"a\",\"b\\\"\"],\"o\":{}}";
    assert_string_equal(full, want);
    assert_int_equal(need, strlen(want));
    /* the same text into every smaller buffer: prefix, NUL-terminated, same need */
    for (size_t cap = 0; cap < need + 1; cap++) {
        char small[256];
        memset(small, 'Z', sizeof(small));
        kp_jw_init(&w, small, cap);
        write_sample(&w);
        assert_int_equal(kp_jw_finish(&w), need);
        if (cap > 0) {
            assert_int_equal(strlen(small), cap - 1);
            assert_memory_equal(small, want, cap - 1);
        }
        assert_int_equal(small[cap], 'Z'); /* nothing written past cap */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_writer_and_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
