/* Policy: --flag countries, groups, ASNs, --allow lists, errors, reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

static int eval(const struct kp_policy *p, const char *cc, uint32_t asn, char *reason)
{
    return kp_policy_eval(p, "zoom", cc, asn, false, reason, 200);
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
    assert_int_equal(kp_policy_eval(p, "zoom", "", 0, true, reason, sizeof(reason)), 0);
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
    assert_non_null(strstr(err, "allow takes countries"));
    char reason[200];
    assert_int_equal(kp_policy_eval(NULL, "zoom", "CN", 1, false, reason, sizeof(reason)), 0);
    kp_policy_free(p);
    kp_policy_free(NULL);
}

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/kp-policy-test-%d.conf", (int)getpid());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void test_policy_file(void **state)
{
    (void)state;
    char err[256], reason[200];
    struct kp_policy *p;
    assert_int_equal(kp_policy_new(&p), KP_OK);
    const char *path = write_tmp("# comment\n\nflag @RU, AS55960   # trailing\nallow US CA @EU\n"
                                 "service zoom allow US, CA\nSERVICE teams ALLOW @eu\n"
                                 "cleartext-keys review\nunknown-keys violation\n");
    assert_int_equal(kp_policy_load(p, path, err, sizeof(err)), KP_OK);
    assert_int_equal(kp_policy_eval(p, "zoom", "DE", 0, false, reason, sizeof(reason)), 1);
    assert_string_equal(reason, "issuer country DE is outside allowed US,CA for zoom");
    assert_int_equal(kp_policy_eval(p, "zoom", "CA", 0, false, reason, sizeof(reason)), 0);
    assert_int_equal(kp_policy_eval(p, "teams", "DE", 0, false, reason, sizeof(reason)), 0);
    assert_int_equal(kp_policy_eval(p, "teams", "US", 0, false, reason, sizeof(reason)), 1);
    assert_int_equal(kp_policy_eval(p, "meet", "FR", 0, false, reason, sizeof(reason)), 0);
    assert_int_equal(kp_policy_eval(p, "meet", "CN", 0, false, reason, sizeof(reason)), 1);
    assert_string_equal(reason, "issuer country CN is outside allowed US,CA,@EU");
    assert_int_equal(kp_policy_eval(p, "meet", "US", 55960, false, reason, sizeof(reason)), 1);
    assert_int_equal(kp_policy_eval(p, "meet", "RU", 0, false, reason, sizeof(reason)), 1);
    assert_string_equal(reason, "issuer country RU is in flagged group @RU");
    assert_int_equal(kp_policy_cleartext(p), KP_POLICY_REVIEW);
    assert_int_equal(kp_policy_unknown(p), KP_POLICY_VIOLATION);
    kp_policy_free(p);
    assert_int_equal(kp_policy_cleartext(NULL), KP_POLICY_VIOLATION);
    unlink(path);
}

static void test_policy_file_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* after "PATH:" */
    } bad[] = {
        {"flag CN\nflag CHN\n", "2:6: 'CHN' is not a two-letter country code"},
        {"allow\n", "1:6: 'allow' needs a list"},
        {"\n   deny CN\n", "2:4: unknown rule 'deny'"},
        {"service zoom US\n", "1:14: expected 'allow' after the service name"},
        {"service zoom allow @MARS\n", "1:20: unknown group '@MARS'"},
        {"cleartext-keys maybe\n", "1:16: 'cleartext-keys' takes violation, review or allow"},
        {"unknown-keys review now\n", "1:21: unexpected 'now'"},
        {"allow AS55960\n", "1:7: allow takes countries and groups"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kp_policy *p;
        char err[256];
        assert_int_equal(kp_policy_new(&p), KP_OK);
        const char *path = write_tmp(bad[i].text);
        assert_int_equal(kp_policy_load(p, path, err, sizeof(err)), KP_EFORMAT);
        char want[300];
        snprintf(want, sizeof(want), "%s:%s", path, bad[i].want);
        if (strncmp(err, want, strlen(want)) != 0) {
            fail_msg("policy error %zu: got \"%s\", want prefix \"%s\"", i, err, want);
        }
        kp_policy_free(p);
        unlink(path);
    }
    struct kp_policy *p;
    char err[256];
    assert_int_equal(kp_policy_new(&p), KP_OK);
    assert_int_equal(kp_policy_load(p, "/nonexistent/policy.conf", err, sizeof(err)), KP_EIO);
    assert_string_equal(err, "/nonexistent/policy.conf: cannot open policy file");
    kp_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_countries),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_asn),
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_policy_file),
        cmocka_unit_test(test_policy_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
