/* Policy: --flag countries, groups, ASNs, --allow lists, errors, reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "policy.h"

static int eval(const struct kp_policy *p, const char *cc, uint32_t asn, char *reason)
{
    return kp_policy_eval(p, cc, asn, false, reason, 200);
}

static void test_flag_countries(void **state)
{
    (void)state;
    struct kp_policy *p;
    char err[256], reason[200];
    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_flag(p, "CN,hk", err, sizeof(err)), KP_OK);
    assert_int_equal(eval(p, "CN", 55960, reason), 1);
    assert_string_equal(reason, "issuer country CN is flagged");
    assert_int_equal(eval(p, "HK", 0, reason), 1);
    assert_int_equal(eval(p, "US", 16509, reason), 0);
    assert_int_equal(eval(p, "", 0, reason), 0);
    assert_int_equal(eval(p, "MO", 0, reason), 0);
    kp_policy_free(p);
}

static void test_groups(void **state)
{
    (void)state;
    struct kp_policy *p;
    char err[256], reason[200];
    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_flag(p, "@CN", err, sizeof(err)), KP_OK);
    assert_int_equal(eval(p, "MO", 0, reason), 1);
    assert_string_equal(reason, "issuer country MO is in flagged group @CN");
    assert_int_equal(eval(p, "TW", 0, reason), 0);
    kp_policy_free(p);

    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_flag(p, "@eea", err, sizeof(err)), KP_OK); /* nested group */
    assert_int_equal(eval(p, "NO", 0, reason), 1);
    assert_int_equal(eval(p, "DE", 0, reason), 1);
    assert_string_equal(reason, "issuer country DE is in flagged group @EEA");
    assert_int_equal(eval(p, "CH", 0, reason), 0);
    kp_policy_free(p);
}

static void test_asn(void **state)
{
    (void)state;
    struct kp_policy *p;
    char err[256], reason[200];
    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_flag(p, "AS55960, as135629", err, sizeof(err)), KP_OK);
    assert_int_equal(eval(p, "CN", 55960, reason), 1);
    assert_string_equal(reason, "issuer network AS55960 is flagged");
    assert_int_equal(eval(p, "CN", 135629, reason), 1);
    assert_int_equal(eval(p, "CN", 4134, reason), 0);
    assert_int_equal(eval(p, "", 0, reason), 0);
    kp_policy_free(p);
}

static void test_allow(void **state)
{
    (void)state;
    struct kp_policy *p;
    char err[256], reason[200];
    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_allow(p, "US,CA", err, sizeof(err)), KP_OK);
    assert_int_equal(eval(p, "US", 0, reason), 0);
    assert_int_equal(eval(p, "CA", 0, reason), 0);
    assert_int_equal(eval(p, "CN", 0, reason), 1);
    assert_string_equal(reason, "issuer country CN is outside allowed US,CA");
    assert_int_equal(eval(p, "", 0, reason), 1);
    assert_string_equal(reason, "issuer country unknown, allowed only US,CA");
    /* a private (local) issuer has no country and is not flagged for it */
    assert_int_equal(kp_policy_eval(p, "", 0, true, reason, sizeof(reason)), 0);
    /* an explicit flag wins over the allow-list */
    assert_int_equal(kp_policy_flag(p, "CA", err, sizeof(err)), KP_OK);
    assert_int_equal(eval(p, "CA", 0, reason), 1);
    kp_policy_free(p);
}

static void test_errors(void **state)
{
    (void)state;
    struct kp_policy *p;
    char err[256];
    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_flag(p, "CHN", err, sizeof(err)), KP_EINVAL);
    assert_string_equal(err, "'CHN' is not a two-letter country code, @GROUP or ASn");
    assert_int_equal(kp_policy_flag(p, "@ASIA", err, sizeof(err)), KP_EINVAL);
    assert_non_null(strstr(err, "unknown group '@ASIA'"));
    assert_int_equal(kp_policy_flag(p, "CN,,HK", err, sizeof(err)), KP_EINVAL);
    assert_int_equal(kp_policy_flag(p, "", err, sizeof(err)), KP_EINVAL);
    assert_int_equal(kp_policy_flag(p, "AS12x", err, sizeof(err)), KP_EINVAL);
    assert_int_equal(kp_policy_flag(p, "AS", err, sizeof(err)), KP_OK); /* American Samoa */
    assert_int_equal(kp_policy_flag(p, "AS99999999999", err, sizeof(err)), KP_EINVAL);
    assert_int_equal(kp_policy_flag(p, "C1", err, sizeof(err)), KP_EINVAL);
    assert_int_equal(kp_policy_allow(p, "AS55960", err, sizeof(err)), KP_EINVAL);
    assert_non_null(strstr(err, "--allow takes countries"));
    char reason[200];
    assert_int_equal(kp_policy_eval(NULL, "CN", 1, false, reason, sizeof(reason)), 0);
    kp_policy_free(p);
    kp_policy_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_countries),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_asn),
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
