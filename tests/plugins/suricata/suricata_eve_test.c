/* plugins/suricata/sc_eve.c: which alerts a flagged record raises, what they
 * say, and the Community ID of a flow.  No Suricata needed; the plugin's
 * lines inside Suricata are checked by suricata_plugin_test.py, which also
 * compares the community_id with the one Suricata writes for the same flow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sc_eve.h"

static size_t sids(const char *mechanism, const char *reason, uint32_t *out)
{
    return kp_sc_alert_sids(mechanism, reason, out, 8);
}

static void test_sids_per_reason(void **state)
{
    (void)state;
    uint32_t s[8];
    /* the clauses analyze/policy.c writes */
    assert_int_equal(sids("tls-control-channel", "issuer country CN is in flagged group @CN", s), 1);
    assert_int_equal(s[0], KP_SC_SID_JURISDICTION);
    assert_int_equal(sids("dtls-srtp", "issuer country RU is flagged", s), 1);
    assert_int_equal(s[0], KP_SC_SID_JURISDICTION);
    assert_int_equal(sids("quic", "issuer network AS55960 is flagged", s), 1);
    assert_int_equal(s[0], KP_SC_SID_ASN);
    assert_int_equal(sids("tls-control-channel", "issuer country CN is outside allowed US,CA", s), 1);
    assert_int_equal(s[0], KP_SC_SID_OUTSIDE_ALLOW);
    assert_int_equal(sids("tls-control-channel",
                          "issuer country DE is outside allowed US for zoom", s), 1);
    assert_int_equal(s[0], KP_SC_SID_OUTSIDE_ALLOW);
    assert_int_equal(sids("dtls-srtp", "issuer country unknown, allowed only US,CA", s), 1);
    assert_int_equal(s[0], KP_SC_SID_OUTSIDE_ALLOW);
    assert_int_equal(sids("dtls-srtp", "issuer country unknown, meet keys allowed only EU", s), 1);
    assert_int_equal(s[0], KP_SC_SID_OUTSIDE_ALLOW);
}

static void test_sids_sdes_and_combinations(void **state)
{
    (void)state;
    uint32_t s[8];
    /* SDES in clear: always 9810004, first, then the jurisdiction */
    assert_int_equal(sids("sdes-cleartext", "SRTP key exposed in cleartext SDP (a=crypto)", s), 1);
    assert_int_equal(s[0], KP_SC_SID_SDES_EXPOSED);
    assert_int_equal(sids("sdes-cleartext",
                          "SRTP key exposed in cleartext SDP (a=crypto); issuer country CN is "
                          "in flagged group @CN", s), 2);
    assert_int_equal(s[0], KP_SC_SID_SDES_EXPOSED);
    assert_int_equal(s[1], KP_SC_SID_JURISDICTION);
    assert_int_equal(sids("sdes-cleartext", NULL, s), 1);
    assert_int_equal(s[0], KP_SC_SID_SDES_EXPOSED);
    /* repeated rules give one alert each */
    assert_int_equal(sids("quic", "issuer network AS1 is flagged; issuer network AS1 is flagged", s),
                     1);
    /* unknown wording: the generic sid, and nothing extra beside known ones */
    assert_int_equal(sids("quic", "a rule from the future", s), 1);
    assert_int_equal(s[0], KP_SC_SID_FLAGGED);
    assert_int_equal(sids(NULL, NULL, s), 1);
    assert_int_equal(s[0], KP_SC_SID_FLAGGED);
    assert_int_equal(sids("quic", "a rule from the future; issuer country CN is flagged", s), 1);
    assert_int_equal(s[0], KP_SC_SID_JURISDICTION);
    /* room for one only */
    assert_int_equal(kp_sc_alert_sids("sdes-cleartext", "issuer country CN is flagged", s, 1), 1);
    assert_int_equal(s[0], KP_SC_SID_SDES_EXPOSED);
    assert_int_equal(kp_sc_alert_sids("quic", "issuer country CN is flagged", s, 0), 0);
}

static void test_signature_texts(void **state)
{
    (void)state;
    char b[256];
    kp_sc_alert_signature(KP_SC_SID_JURISDICTION, "CN", 55960, "zoom", "tls-control-channel", b,
                          sizeof(b));
    assert_string_equal(b, "KEYPROV key issued in flagged jurisdiction CN (zoom, tls-control-channel)");
    kp_sc_alert_signature(KP_SC_SID_ASN, "CN", 55960, "zoom", "tls-control-channel", b, sizeof(b));
    assert_string_equal(b, "KEYPROV key issued from flagged network AS55960 (zoom, tls-control-channel)");
    kp_sc_alert_signature(KP_SC_SID_OUTSIDE_ALLOW, "", 0, "meet", "dtls-srtp", b, sizeof(b));
    assert_string_equal(b, "KEYPROV key issued outside allowed jurisdictions: unknown (meet, dtls-srtp)");
    kp_sc_alert_signature(KP_SC_SID_SDES_EXPOSED, NULL, 0, "sip", "sdes-cleartext", b, sizeof(b));
    assert_string_equal(b, "KEYPROV SRTP key exposed in cleartext SDP (sip, sdes-cleartext)");
    kp_sc_alert_signature(KP_SC_SID_FLAGGED, NULL, 0, NULL, NULL, b, sizeof(b));
    assert_string_equal(b, "KEYPROV key flagged by policy (unknown, unknown)");
    /* snprintf-like: the full length, a truncated NUL-terminated text */
    char small[8];
    size_t need = kp_sc_alert_signature(KP_SC_SID_SDES_EXPOSED, NULL, 0, "sip", "sdes-cleartext",
                                        small, sizeof(small));
    assert_int_equal(need, strlen("KEYPROV SRTP key exposed in cleartext SDP (sip, sdes-cleartext)"));
    assert_string_equal(small, "KEYPROV");
    assert_int_equal(kp_sc_alert_signature(KP_SC_SID_ASN, NULL, 1, "a", "b", NULL, 0),
                     strlen("KEYPROV key issued from flagged network AS1 (a, b)"));

    assert_string_equal(kp_sc_alert_category(KP_SC_SID_SDES_EXPOSED), "Information Leak");
    assert_int_equal(kp_sc_alert_severity(KP_SC_SID_SDES_EXPOSED), 1);
    assert_string_equal(kp_sc_alert_category(KP_SC_SID_JURISDICTION),
                        "Potential Corporate Privacy Violation");
    assert_int_equal(kp_sc_alert_severity(KP_SC_SID_JURISDICTION), 2);
    assert_int_equal(kp_sc_alert_severity(12345), 2);
}

static void cid(uint16_t seed, const char *proto, const char *a, int pa, const char *b, int pb,
                const char *want)
{
    char out[40];
    assert_true(kp_sc_community_id(seed, proto, a, pa, b, pb, out, sizeof(out)));
    assert_string_equal(out, want);
    /* the same in the other direction */
    assert_true(kp_sc_community_id(seed, proto, b, pb, a, pa, out, sizeof(out)));
    assert_string_equal(out, want);
}

static void test_community_id(void **state)
{
    (void)state;
    /* the example of Corelight's community-id-spec README */
    cid(0, "tcp", "128.232.110.120", 34855, "66.35.250.204", 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    /* Suricata 7.0.10's community_id for flows of samples/citizenlab-2020.pcap
     * and ../shared/pcaps/meet_stun_dtls_srtp_ndpi.pcapng (flow records) */
    cid(0, "TCP", "142.150.190.10", 50415, "52.81.151.250", 443, "1:DmzxeoTvjetn9eJX7W3H25Zbdrg=");
    cid(0, "udp", "192.168.12.156", 38152, "142.250.82.76", 19305, "1:2l2CRDs7t8aNbqjnVXcWObJReDs=");
    cid(0, "udp", "2001:b07:a3d:c112:48a1:1094:1227:281e", 45572, "2001:4860:4864:6::81", 19305,
        "1:Gm5sbsm28cF+jIQSvmspB6zsj/g=");
    char out[40] = "x";
    assert_false(kp_sc_community_id(0, "icmp", "1.2.3.4", 0, "5.6.7.8", 0, out, sizeof(out)));
    assert_string_equal(out, "");
    assert_false(kp_sc_community_id(0, "tcp", "1.2.3.4", 1, "::1", 2, out, sizeof(out)));
    assert_false(kp_sc_community_id(0, "tcp", "1.2.3", 1, "1.2.3.4", 2, out, sizeof(out)));
    assert_false(kp_sc_community_id(0, "tcp", "1.2.3.4", 70000, "1.2.3.4", 2, out, sizeof(out)));
    assert_false(kp_sc_community_id(0, "tcp", NULL, 1, "1.2.3.4", 2, out, sizeof(out)));
    assert_false(kp_sc_community_id(0, "tcp", "1.2.3.4", 1, "1.2.3.5", 2, out, 31));
    /* the seed changes the value; equal addresses order by port */
    assert_true(kp_sc_community_id(1, "tcp", "128.232.110.120", 34855, "66.35.250.204", 80, out,
                                   sizeof(out)));
    assert_string_not_equal(out, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    char x[40], y[40];
    assert_true(kp_sc_community_id(0, "udp", "::1", 5, "::1", 9, x, sizeof(x)));
    assert_true(kp_sc_community_id(0, "udp", "::1", 9, "::1", 5, y, sizeof(y)));
    assert_string_equal(x, y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sids_per_reason),
        cmocka_unit_test(test_sids_sdes_and_combinations),
        cmocka_unit_test(test_signature_texts),
        cmocka_unit_test(test_community_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
