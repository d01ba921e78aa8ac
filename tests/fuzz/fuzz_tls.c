/* Fuzz target: TLS handshake parsing (analyze/tls.c, ja4.c, x509.c).
 *
 * The input is used twice:
 *   - as the first bytes of one direction of a TCP stream: kp_tls_scan over
 *     a prefix and then the whole input with the same state (as the flow
 *     glue calls it while the stream grows), once more in TLS 1.3 mode if
 *     a ChangeCipherSpec stopped the walk; every message it delivers goes to
 *     the message parser of its type (ClientHello with JA4, ServerHello,
 *     Certificate and the X.509 summary of each certificate);
 *   - as one handshake message body: ClientHello, ServerHello and
 *     Certificate parsers, TLS and DTLS layouts (and both Certificate forms).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ja4.h"
#include "tls.h"
#include "x509.h"

/* Big enough for the ServerHello's many capped arrays; heap-allocated so
 * ASan sees overruns of every struct exactly. */
struct outs {
    struct kp_tls_client_hello ch;
    struct kp_tls_server_hello sh;
    struct kp_tls_certificate cert;
    struct kp_cert_info info;
};

static void use_client_hello(struct outs *o, struct kp_rd body, bool dtls)
{
    if (kp_tls_parse_client_hello(&o->ch, body, dtls) == KP_RES_OK) {
        char ja4[KP_JA4_LEN + 1];
        char raw[64];
        (void)kp_ja4(&o->ch, dtls ? 'd' : 't', ja4);
        (void)kp_ja4_raw(&o->ch, 'q', raw, sizeof(raw));
        (void)kp_tls_version_name(o->ch.legacy_version);
    }
}

static void use_certificate(struct outs *o, struct kp_rd body, bool tls13)
{
    if (kp_tls_parse_certificate(&o->cert, body, tls13) != KP_RES_OK) {
        return;
    }
    /* Summaries are slow (OpenSSL); two are enough to reach the code. */
    for (size_t i = 0; i < o->cert.n_certs && i < 2; i++) {
        (void)kp_x509_summarize(o->cert.certs[i].p, o->cert.certs[i].len, &o->info);
    }
}

static void on_message(uint8_t hs_type, struct kp_rd body, void *user)
{
    struct outs *o = user;
    (void)kp_tls_hs_type_name(hs_type);
    switch (hs_type) {
    case KP_TLS_HS_CLIENT_HELLO:
        use_client_hello(o, body, false);
        break;
    case KP_TLS_HS_SERVER_HELLO:
        if (kp_tls_parse_server_hello(&o->sh, body, false) == KP_RES_OK) {
            (void)kp_tls_version_is_13(o->sh.version);
        }
        break;
    case KP_TLS_HS_CERTIFICATE:
        use_certificate(o, body, false);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outs *o = malloc(sizeof(*o));
    /* A scratch buffer smaller than the largest message, so that the
     * "oversized" path is reachable too. */
    const size_t scratch_cap = 8192;
    uint8_t *scratch = malloc(scratch_cap);
    if (o == NULL || scratch == NULL) {
        goto free_all;
    }

    struct kp_tls_scan_state st;
    memset(&st, 0, sizeof(st));
    struct kp_rd half = kp_rd_make(data, size / 2);
    struct kp_rd all = kp_rd_make(data, size);
    (void)kp_tls_scan(&half, scratch, scratch_cap, &st, on_message, o);
    enum kp_res r = kp_tls_scan(&all, scratch, scratch_cap, &st, on_message, o);
    if (r == KP_RES_OK && st.stop == KP_TLS_STOP_CCS && st.version == 0) {
        st.version = KP_TLS_V_TLS13;
        (void)kp_tls_scan(&all, scratch, scratch_cap, &st, on_message, o);
    }

    for (int dtls = 0; dtls <= 1; dtls++) {
        use_client_hello(o, all, dtls != 0);
        (void)kp_tls_parse_server_hello(&o->sh, all, dtls != 0);
        use_certificate(o, all, dtls != 0);
    }

free_all:
    free(scratch);
    free(o);
    return 0;
}
