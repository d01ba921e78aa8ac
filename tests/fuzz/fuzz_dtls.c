/* Fuzz target: DTLS records, handshake fragments and their reassembly
 * (analyze/dtls.c), and the TLS message parsers behind them in their DTLS
 * layouts.
 *
 * The input is a sequence of UDP datagrams, each behind a 2-byte big-endian
 * length (a last, shorter piece is used as it is), scanned in order with one
 * kp_dtls_hs reassembly state, as one direction of an association; the
 * messages delivered go to the ClientHello / ServerHello / Certificate /
 * HelloVerifyRequest parsers and kp_dtls_hello_cid.  The whole input is
 * also scanned as one datagram without reassembly, with the connection ID
 * length unknown and then 8, and cut as a single record.
 */
#include <stdlib.h>
#include <string.h>

#include "dtls.h"
#include "fuzz.h"
#include "ja4.h"
#include "tls.h"

struct state {
    struct kp_dtls_hs hs;
    struct kp_tls_client_hello ch;
    struct kp_tls_server_hello sh;
    struct kp_tls_certificate cert;
};

static void on_msg(const struct kp_dtls_msg *m, void *user)
{
    struct state *s = user;
    bool present;
    struct kp_rd cid;
    switch (m->msg_type) {
    case KP_TLS_HS_CLIENT_HELLO:
        (void)kp_dtls_hello_cid(m->body, m->msg_type, &present, &cid);
        if (kp_tls_parse_client_hello(&s->ch, m->body, true) == KP_RES_OK) {
            char ja4[KP_JA4_LEN + 1];
            (void)kp_ja4(&s->ch, 'd', ja4);
            for (size_t i = 0; i < s->ch.n_srtp_profiles; i++) {
                (void)kp_srtp_profile_name(s->ch.srtp_profiles[i]);
            }
        }
        break;
    case KP_TLS_HS_SERVER_HELLO:
        (void)kp_dtls_hello_cid(m->body, m->msg_type, &present, &cid);
        if (kp_tls_parse_server_hello(&s->sh, m->body, true) == KP_RES_OK) {
            (void)kp_dtls_version_name(s->sh.version);
        }
        break;
    case KP_TLS_HS_HELLO_VERIFY_REQUEST: {
        struct kp_dtls_hello_verify_request hvr;
        (void)kp_dtls_parse_hello_verify_request(&hvr, m->body);
        break;
    }
    case KP_TLS_HS_CERTIFICATE:
        (void)kp_tls_parse_certificate(&s->cert, m->body, false);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state *s = malloc(sizeof(*s));
    if (s == NULL) {
        return 0;
    }
    kp_dtls_hs_reset(&s->hs);
    struct kp_dtls_dgram dg;

    /* Length-prefixed datagrams through one reassembly state. */
    struct kp_rd in = kp_rd_make(data, size);
    while (kp_rd_left(&in) > 0) {
        uint16_t len;
        struct kp_rd dgram, rest = in;
        if (!kp_rd_u16(&in, &len) || !kp_rd_sub(&in, &dgram, len)) {
            dgram = rest;
            in.len = 0;
        }
        (void)kp_dtls_scan(&dg, dgram, KP_DTLS_CID_UNKNOWN, &s->hs, on_msg, s);
    }

    /* The whole input as one datagram. */
    struct kp_rd all = kp_rd_make(data, size);
    (void)kp_dtls_scan(&dg, all, KP_DTLS_CID_UNKNOWN, NULL, on_msg, s);
    (void)kp_dtls_scan(&dg, all, 8, NULL, on_msg, s);
    struct kp_dtls_record rec;
    struct kp_rd r = all;
    if (kp_dtls_parse_record(&rec, &r, 0) == KP_RES_OK) {
        struct kp_dtls_hs_frag frag;
        struct kp_rd payload = rec.payload;
        while (kp_dtls_parse_hs_frag(&frag, &payload) == KP_RES_OK) {
            (void)kp_tls_hs_type_name(frag.msg_type);
        }
    }
    free(s);
    return 0;
}
