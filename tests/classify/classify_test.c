/* Service rules: parsing, errors with line:column, domain matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "classify.h"

static const char *sni(const struct kp_rules *r, const char *s)
{
    return kp_rules_match_sni(r, s, strlen(s));
}

static void test_builtin_required_services(void **state)
{
    (void)state;
    char err[256];
    struct kp_rules *r = kp_rules_builtin(err, sizeof(err));
    assert_non_null(r);
    /* the names the foundation issue requires */
    static const struct {
        const char *name, *service;
    } want[] = {
        {"zoom.us", "zoom"}, {"us04web.zoom.us", "zoom"}, {"ZOOM.COM", "zoom"},
        {"x.zoomgov.com", "zoom"}, {"zoom.com.cn", "zoom"}, {"a.zoom.cn", "zoom"},
        {"teams.microsoft.com", "teams"}, {"api.asm.skype.com", "skype"},
        {"meet.google.com", "meet"}, {"radcom.webex.com", "webex"}, {"meet.jit.si", "jitsi"},
        {"global.gotomeeting.com", "goto"}, {"bluejeans.com", "bluejeans"},
        {"ringcentral.com", "ringcentral"}, {"voovmeeting.com", "tencent"},
        {"res.wx.qq.com", "wechat"}, {"static.dingtalk.com", "dingtalk"},
        {"www.feishu.cn", "lark"}, {"pps.whatsapp.net", "whatsapp"},
        {"textsecure-service.whispersystems.org", "signal"}, {"discord.com", "discord"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *got = sni(r, want[i].name);
        assert_non_null(got);
        assert_string_equal(got, want[i].service);
    }
    assert_null(sni(r, "notzoom.us"));
    assert_null(sni(r, "zoom.us.evil.example"));
    assert_null(sni(r, "www.google.com"));
    assert_null(sni(r, ""));
    assert_string_equal(kp_rules_match_cert(r, "*.zoom.us", "", ""), "zoom");
    assert_string_equal(kp_rules_match_cert(r, "x", "a.example, *.webex.com", ""), "webex");
    assert_string_equal(kp_rules_match_cert(r, "x", "", "Zoom Video Communications, Inc."), "zoom");
    assert_null(kp_rules_match_cert(r, "*.example.com", "example.com", "Example Ltd"));
    kp_rules_free(r);
}

static struct kp_addr addr(const char *s)
{
    struct kp_addr a;
    memset(&a, 0, sizeof(a));
    uint8_t b4[4];
    if (inet_pton(AF_INET, s, b4) == 1) {
        a.b[10] = a.b[11] = 0xff;
        memcpy(a.b + 12, b4, 4);
    } else {
        assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
    }
    return a;
}

static void test_media_rules(void **state)
{
    (void)state;
    char err[256];
    struct kp_rules *r = kp_rules_builtin(err, sizeof(err));
    assert_non_null(r);
    unsigned how = 0;
    struct kp_addr a = addr("74.125.250.129");
    assert_string_equal(kp_rules_match_addr(r, &a, 15169, &how), "meet");
    assert_int_equal(how, KP_MATCH_PREFIX);
    a = addr("2001:4860:4864:5::81");
    assert_string_equal(kp_rules_match_addr(r, &a, 0, &how), "meet");
    a = addr("2001:4860:4864:7::81");
    assert_null(kp_rules_match_addr(r, &a, 0, &how));
    a = addr("170.114.128.50");
    assert_string_equal(kp_rules_match_addr(r, &a, 0, &how), "zoom");
    a = addr("10.1.2.3");
    assert_string_equal(kp_rules_match_addr(r, &a, 30103, &how), "zoom");
    assert_int_equal(how, KP_MATCH_ASN);
    assert_null(kp_rules_match_addr(r, &a, 16509, &how)); /* Amazon: not a service */
    assert_string_equal(kp_rules_match_port(r, true, 8805), "zoom");
    assert_null(kp_rules_match_port(r, true, 8811));
    assert_string_equal(kp_rules_match_port(r, true, 19305), "meet");
    assert_null(kp_rules_match_port(r, false, 19305));
    uint16_t ms[2] = {0x0006, 0x8055};
    assert_string_equal(kp_rules_match_stun(r, NULL, NULL, ms, 2), "teams");
    uint16_t goog[1] = {0xff03};
    assert_string_equal(kp_rules_match_stun(r, NULL, NULL, goog, 1), "meet");
    assert_string_equal(kp_rules_match_stun(r, "Cisco-Spark/1.0", NULL, NULL, 0), "webex");
    assert_string_equal(kp_rules_match_stun(r, NULL, "turn.google.com", NULL, 0), "meet");
    assert_null(kp_rules_match_stun(r, "Coturn-4.5.0.5", "example.org", ms, 1));
    kp_rules_free(r);
}

static void test_parse_errors(void **state)
{
    (void)state;
    char err[256];
    const char *bad1 = "# comment\nzoom sni\n";
    assert_null(kp_rules_parse(bad1, strlen(bad1), "r.rules", err, sizeof(err)));
    assert_string_equal(err, "r.rules:2:6: expected SERVICE KIND VALUE");
    const char *bad2 = "zoom  regex  zoom.us\n";
    assert_null(kp_rules_parse(bad2, strlen(bad2), "r.rules", err, sizeof(err)));
    assert_non_null(strstr(err, "r.rules:1:7: unknown rule kind 'regex' (sni, cert, cert-org,"));
    const char *bad4 = "meet prefix 74.125.250.0/33\nmeet asn 0\n";
    assert_null(kp_rules_parse(bad4, strlen(bad4), "r.rules", err, sizeof(err)));
    assert_string_equal(err, "r.rules:1:13: bad prefix value '74.125.250.0/33'");
    const char *bad5 = "zoom udp-port 8810-8801\n";
    assert_null(kp_rules_parse(bad5, strlen(bad5), "r.rules", err, sizeof(err)));
    assert_string_equal(err, "r.rules:1:15: bad udp-port value '8810-8801'");
    const char *bad3 = "\n\nZoom sni zoom.us\n";
    assert_null(kp_rules_parse(bad3, strlen(bad3), "r.rules", err, sizeof(err)));
    assert_non_null(strstr(err, "r.rules:3:1: bad service name 'Zoom'"));
    const char *ok = "acme sni acme.example   # trailing comment is part of nothing\n";
    struct kp_rules *r = kp_rules_parse(ok, strlen(ok), "ok", err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(sni(r, "x.acme.example"), "acme");
    kp_rules_free(r);
    const char *ok2 = "\r\n  # only comments\n\t\nacme cert-org Acme Widgets, Inc.\r\n";
    r = kp_rules_parse(ok2, strlen(ok2), "ok2", err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(kp_rules_match_cert(r, "", "", "ACME WIDGETS, INC."), "acme");
    kp_rules_free(r);
}

static void test_domain_match(void **state)
{
    (void)state;
    assert_true(kp_domain_match("zoom.us", 7, "zoom.us"));
    assert_true(kp_domain_match("*.zoom.us", 9, "zoom.us"));
    assert_true(kp_domain_match("A.Zoom.US", 9, "zoom.us"));
    assert_false(kp_domain_match("xzoom.us", 8, "zoom.us"));
    assert_false(kp_domain_match("us", 2, "zoom.us"));
    assert_false(kp_domain_match("zoom.us", 7, ""));
    /* a name with a NUL inside is compared by its bytes */
    assert_false(kp_domain_match("zoom.us\0.x", 10, "zoom.us"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_required_services),
        cmocka_unit_test(test_media_rules),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_domain_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
