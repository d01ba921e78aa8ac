/* TLS over TCP: flow glue between reassembly, the pure TLS parsers and key
 * records.
 *
 * A TCP flow gets analysis state when it starts; the first bytes of each
 * direction decide whether it is TLS.  The flow stays under inspection until
 * its handshake is understood (the server's certificate, or a TLS 1.3
 * ServerHello after which everything is encrypted), then the key record is
 * emitted, all state is freed and the flow is bypassed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "engine.h"
#include "ja4.h"
#include "reasm.h"
#include "sip.h"
#include "tls.h"
#include "x509.h"

struct kp_tls_app {
    struct kp_reasm rs[2];
    struct kp_tls_scan_state scan[2];
    uint32_t scanned[2];   /* contiguous bytes already scanned */
    uint8_t done[2];       /* nothing more to learn from this direction */
    uint8_t tls[2];        /* this direction carried TLS records */
    uint8_t waiting_version[2]; /* stopped at a CCS that may be TLS 1.3's */
    uint8_t sip;           /* not TLS but SIP over TCP (RFC 3261 18.3) */
    uint32_t sip_off[2];   /* stream offset of the next SIP message per direction */
    struct kp_sip_frame_state sip_frame[2]; /* how far that message has been looked at */
    int8_t client_dir;     /* direction of the ClientHello, -1 unknown */
    int8_t server_dir;     /* direction of the ServerHello, -1 unknown */
    uint8_t have_ch, have_sh, have_cert, hrr, server_done_msg, malformed;
    uint16_t version, cipher, ch_version;
    uint64_t ts_us;        /* first handshake message */
    char sni[256];
    size_t sni_len;
    char alpn[128];
    char ja4[40];
    struct kp_cert_info cert;
};

struct scan_ctx {
    struct kp_engine *eng;
    struct kp_tls_app *app;
    int dir;
};

static void on_hs(uint8_t type, struct kp_rd body, void *user)
{
    struct scan_ctx *x = user;
    struct kp_tls_app *app = x->app;
    if (app->ts_us == 0) {
        app->ts_us = x->eng->now_us;
    }
    switch (type) {
    case KP_TLS_HS_CLIENT_HELLO: {
        if (app->have_ch) {
            return; /* the second ClientHello after a HelloRetryRequest */
        }
        struct kp_tls_client_hello ch;
        if (kp_tls_parse_client_hello(&ch, body, false) != KP_RES_OK) {
            app->malformed = 1;
            return;
        }
        app->have_ch = 1;
        app->client_dir = (int8_t)x->dir;
        app->ch_version = ch.legacy_version;
        app->sni_len = kp_copy_view(app->sni, sizeof(app->sni), ch.sni);
        kp_alpn_text(app->alpn, sizeof(app->alpn), &ch);
        (void)kp_ja4(&ch, 't', app->ja4);
        x->eng->st.tls_handshakes++;
        break;
    }
    case KP_TLS_HS_SERVER_HELLO: {
        struct kp_tls_server_hello sh;
        if (kp_tls_parse_server_hello(&sh, body, false) != KP_RES_OK) {
            app->malformed = 1;
            return;
        }
        app->server_dir = (int8_t)x->dir;
        if (sh.is_hrr) {
            app->hrr = 1; /* RFC 8446 4.1.4: the real ServerHello follows */
            return;
        }
        app->have_sh = 1;
        app->version = sh.version;
        app->cipher = sh.cipher_suite;
        break;
    }
    case KP_TLS_HS_CERTIFICATE: {
        if (app->have_cert || (app->server_dir >= 0 && x->dir != app->server_dir)) {
            return; /* a client certificate is not the issuer's */
        }
        struct kp_tls_certificate c;
        if (kp_tls_parse_certificate(&c, body, false) != KP_RES_OK || c.n_certs == 0) {
            app->malformed = 1;
            return;
        }
        if (kp_engine_cert(x->eng, c.certs[0].p, c.certs[0].len, &app->cert) == KP_RES_OK) {
            app->have_cert = 1;
        } else {
            app->malformed = 1;
        }
        break;
    }
    case KP_TLS_HS_SERVER_HELLO_DONE:
        app->server_done_msg = 1;
        break;
    default:
        break;
    }
}

static void free_app(struct kp_engine *eng, struct kp_flow *f)
{
    struct kp_tls_app *app = f->app;
    if (app != NULL) {
        f->seen |= (app->tls[0] || app->tls[1]) ? KP_SEEN_TLS : 0;
        f->seen |= app->sip ? KP_SEEN_SIP : 0;
        kp_engine_account(eng, -(int64_t)(app->rs[0].cap + app->rs[1].cap));
        kp_reasm_free(&app->rs[0]);
        kp_reasm_free(&app->rs[1]);
        kp_engine_free_state(eng, app, sizeof(*app));
    }
    f->app = NULL;
    f->app_kind = KP_APP_NONE;
}

static void emit(struct kp_engine *eng, struct kp_flow *f)
{
    struct kp_tls_app *app = f->app;
    if (!app->have_ch && !app->have_sh && !app->have_cert) {
        return;
    }
    const struct kp_rules *rules = eng->rules;
    const char *svc_sni = app->sni_len > 0 ? kp_rules_match_sni(rules, app->sni, app->sni_len) : NULL;
    const char *svc_cert = app->have_cert ? kp_rules_match_cert(rules, app->cert.subject_cn,
                                                                app->cert.san, app->cert.subject_o)
                                          : NULL;
    const char *service = svc_sni != NULL ? svc_sni : svc_cert;
    /* The server is the issuer: the side that sent the ServerHello, else the
     * side that received the ClientHello, else the flow's responder. */
    int sdir = app->server_dir >= 0 ? app->server_dir
               : app->client_dir >= 0 ? 1 - app->client_dir : 1;
    struct kp_key_rec k;
    memset(&k, 0, sizeof(k));
    kp_flow_endpoint(f, sdir, &k.issuer, &k.issuer_port);
    kp_flow_endpoint(f, 1 - sdir, &k.client, &k.client_port);
    /* SIP over TLS (RFC 3261 26.2, port 5061): the SDP inside, and any
     * a=crypto keys in it (RFC 4568), are readable by the TLS server. */
    bool sip_tls = k.issuer_port == 5061;
    if (service == NULL && sip_tls) {
        service = "sip";
    }
    if (service == NULL && !eng->cfg.report_all) {
        return;
    }
    k.ts_us = app->ts_us != 0 ? app->ts_us : f->first_us;
    k.service = service != NULL ? service : "unknown";
    k.mechanism = sip_tls ? "sdes-tls" : "tls-control-channel";
    k.proto = "tcp";
    k.cert_self_signed = -1;
    if (sip_tls) {
        kp_key_add_evidence(&k, "sip.tls_port_5061");
    }

    if (app->have_ch) {
        kp_key_add_evidence(&k, app->sni_len > 0 ? "tls.client_hello.sni" : "tls.client_hello.no_sni");
        memcpy(k.sni, app->sni, app->sni_len + 1);
        k.sni_len = app->sni_len;
        snprintf(k.alpn, sizeof(k.alpn), "%s", app->alpn);
        snprintf(k.ja4, sizeof(k.ja4), "%s", app->ja4);
    } else {
        kp_key_add_evidence(&k, "tls.client_hello.not_seen");
    }
    if (app->have_sh) {
        kp_key_add_evidence(&k, "tls.server_hello");
        const char *vn = kp_tls_version_name(app->version);
        snprintf(k.tls_version, sizeof(k.tls_version), "%s", vn != NULL ? vn : "unknown");
        snprintf(k.cipher, sizeof(k.cipher), "0x%04x", app->cipher);
    } else if (app->hrr) {
        kp_key_add_evidence(&k, "tls.hello_retry_request");
    } else {
        kp_key_add_evidence(&k, "tls.server_hello.not_seen");
    }
    if (app->hrr && app->have_sh) {
        kp_key_add_evidence(&k, "tls.hello_retry_request");
    }
    if (app->have_cert) {
        kp_key_add_evidence(&k, "tls.certificate");
        snprintf(k.cert_subject, sizeof(k.cert_subject), "%s", app->cert.subject_dn);
        snprintf(k.cert_issuer, sizeof(k.cert_issuer), "%s", app->cert.issuer_dn);
        snprintf(k.cert_sans, sizeof(k.cert_sans), "%s", app->cert.san);
        snprintf(k.cert_cn, sizeof(k.cert_cn), "%s", app->cert.subject_cn);
        snprintf(k.cert_org, sizeof(k.cert_org), "%s", app->cert.subject_o);
        if (strlen(app->cert.subject_c) == 2) { /* ISO 3166 alpha-2, else not a country */
            memcpy(k.cert_country, app->cert.subject_c, 3);
        }
        snprintf(k.cert_sha256, sizeof(k.cert_sha256), "%s", app->cert.sha256);
        k.cert_self_signed = app->cert.self_signed ? 1 : 0;
    } else if (app->have_sh && kp_tls_version_is_13(app->version)) {
        kp_key_add_evidence(&k, "tls.certificate.encrypted");
    }
    if (app->malformed) {
        kp_key_add_evidence(&k, "tls.malformed_message");
    }
    /* Confidence (docs/events.md): both the name the client asked for and
     * the certificate the server showed name the service: high; one of them
     * (the other hidden or absent): medium; they disagree, or the service is
     * unknown: low. */
    if (service == NULL) {
        k.confidence = "low";
    } else if (svc_sni != NULL && svc_cert != NULL) {
        k.confidence = strcmp(svc_sni, svc_cert) == 0 ? "high" : "low";
        kp_key_add_evidence(&k, strcmp(svc_sni, svc_cert) == 0 ? "rule.sni+certificate"
                                                                 : "rule.sni_certificate_disagree");
    } else if (svc_sni != NULL && app->have_cert) {
        k.confidence = "low";
        kp_key_add_evidence(&k, "rule.certificate_does_not_match_sni");
    } else {
        k.confidence = "medium";
        kp_key_add_evidence(&k, svc_sni != NULL ? "rule.sni" : "rule.certificate");
    }
    kp_engine_emit_key(eng, &k);
}

/* Finish the flow's analysis: emit and stop inspecting. */
static void conclude(struct kp_engine *eng, struct kp_flow *f)
{
    emit(eng, f);
    free_app(eng, f);
    f->bypass = 1;
}

void kp_tls_flow_release(struct kp_engine *eng, struct kp_flow *f)
{
    if (f->app != NULL) {
        emit(eng, f);
    }
    free_app(eng, f);
}

static bool handshake_understood(const struct kp_tls_app *app)
{
    if (app->client_dir < 0 && app->server_dir < 0) {
        return false;
    }
    if (app->have_cert || app->server_done_msg) {
        return true;
    }
    if (app->have_sh && kp_tls_version_is_13(app->version)) {
        return true; /* the certificate is encrypted: nothing more to see */
    }
    return app->server_dir >= 0 && app->done[app->server_dir] && app->have_sh;
}

/* SIP over TCP: hand every complete message to the SIP glue.  Returns
 * false when the stream stopped being SIP. */
static bool sip_stream(struct kp_engine *eng, struct kp_flow *f, int dir)
{
    struct kp_tls_app *app = f->app;
    struct kp_rd contig = kp_reasm_contig(&app->rs[dir]);
    for (int i = 0; i < 64; i++) {
        struct kp_rd rest = contig;
        if (!kp_rd_skip(&rest, app->sip_off[dir]) || rest.len == 0) {
            return true;
        }
        /* kp_sip_parse walks the message from its first byte: calling it
         * on every new segment would make a message that arrives a byte at
         * a time cost quadratic time.  kp_sip_frame, which looks at each
         * byte once, says when the parse can give something new. */
        if (kp_sip_frame(&app->sip_frame[dir], rest) == KP_RES_TRUNCATED) {
            return true;
        }
        struct kp_sip_msg msg;
        enum kp_res r = kp_sip_parse(&msg, rest, true);
        if (r == KP_RES_TRUNCATED) {
            return true;
        }
        if (r != KP_RES_OK) {
            return false;
        }
        kp_sip_flow_message(eng, f, dir, &msg, false);
        app->sip_off[dir] += (uint32_t)msg.msg_len;
        memset(&app->sip_frame[dir], 0, sizeof(app->sip_frame[dir]));
    }
    return true;
}

/* Walk the contiguous prefix of one direction again.  Returns false when
 * the flow turned out not to be TLS (its state is then gone). */
static bool scan_dir(struct kp_engine *eng, struct kp_flow *f, int dir, const struct kp_pkt *pkt)
{
    struct kp_tls_app *app = f->app;
    struct kp_rd contig = kp_reasm_contig(&app->rs[dir]);
    app->scanned[dir] = (uint32_t)contig.len;
    if (app->version != 0 && app->scan[dir].version == 0) {
        app->scan[dir].version = app->version; /* lets the client walk past a TLS 1.3 CCS */
    }
    struct scan_ctx x = {eng, app, dir};
    enum kp_res r = kp_tls_scan(&contig, eng->scratch, KP_SCRATCH, &app->scan[dir], on_hs, &x);
    switch (r) {
    case KP_RES_NOT_MINE: {
        struct kp_sip_msg msg;
        if (!app->tls[0] && !app->tls[1] &&
            (app->sip || kp_sip_parse(&msg, contig, true) != KP_RES_NOT_MINE)) {
            app->sip = 1;
            if (sip_stream(eng, f, dir)) {
                return true; /* keep following the SIP conversation */
            }
        }
        app->done[dir] = 1;
        /* Not TLS in this direction.  The flow is given up only when the
         * other direction is not TLS either: a single injected segment in
         * front of a ClientHello must not hide the server's certificate. */
        if (!app->tls[0] && !app->tls[1] && (app->done[1 - dir] || app->scanned[1 - dir] > 0)) {
            free_app(eng, f); /* not TLS: never look at this flow again */
            f->bypass = 1;
            return false;
        }
        break;
    }
    case KP_RES_MALFORMED:
        app->done[dir] = 1;
        app->malformed = 1;
        eng->st.tls_malformed++;
        kp_engine_anomaly(eng, pkt, "tls.malformed_record", "TLS record layer violates RFC 8446 5.1");
        break;
    case KP_RES_TRUNCATED:
        app->tls[dir] = 1;
        if (app->rs[dir].overflow && contig.len >= app->rs[dir].limit) {
            app->done[dir] = 1; /* the handshake is larger than we keep */
            eng->st.reasm_overflow++;
        }
        break;
    default:
        app->tls[dir] = 1;
        /* A ChangeCipherSpec before the version is known may be TLS 1.3's
         * middlebox-compatibility one (RFC 8446 D.4), after which a second
         * ClientHello can still come in clear: wait for the ServerHello. */
        app->waiting_version[dir] =
            app->scan[dir].stop == KP_TLS_STOP_CCS && app->scan[dir].version == 0;
        if (app->scan[dir].encrypted && !app->waiting_version[dir]) {
            app->done[dir] = 1;
        }
        break;
    }
    return true;
}

void kp_tls_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt)
{
    struct kp_tls_app *app = f->app;
    if (app == NULL) {
        /* Nothing is allocated before a payload arrives, so a SYN flood
         * costs flow-table slots only (which are bounded and recycled). */
        if (pkt->tcp_flags & KP_TCP_SYN) {
            f->syn_seen |= (uint8_t)(1u << dir);
            f->syn_seq[dir] = pkt->seq;
        }
        if (pkt->payload.len == 0) {
            return;
        }
        app = kp_engine_alloc(eng, sizeof(*app));
        if (app == NULL) {
            f->bypass = 1; /* memory budget reached: counted, not analysed */
            return;
        }
        f->app = app;
        f->app_kind = KP_APP_TLS;
        app->client_dir = app->server_dir = -1;
        kp_reasm_init(&app->rs[0], eng->cfg.reasm_limit);
        kp_reasm_init(&app->rs[1], eng->cfg.reasm_limit);
        for (int d = 0; d < 2; d++) {
            if (f->syn_seen & (1u << d)) {
                kp_reasm_syn(&app->rs[d], f->syn_seq[d]);
            }
        }
    }
    if (pkt->tcp_flags & KP_TCP_SYN) {
        kp_reasm_syn(&app->rs[dir], pkt->seq);
    }
    if (pkt->payload.len == 0 || app->done[dir]) {
        return;
    }
    /* the buffer may grow: at most to the reassembly limit, within budget */
    uint32_t cap_before = app->rs[dir].cap;
    if (cap_before < app->rs[dir].limit && !kp_engine_account(eng, app->rs[dir].limit - cap_before)) {
        kp_engine_anomaly(eng, pkt, "memory.reassembly", "memory limit reached: handshake not followed");
        conclude(eng, f);
        return;
    }
    uint8_t gaps_before = app->rs[dir].gaps_full;
    bool added = kp_reasm_add(&app->rs[dir], pkt->seq, pkt->payload);
    if (app->rs[dir].gaps_full && !gaps_before) {
        /* more holes than the reassembly keeps: a segment was dropped, and
         * the handshake may be lost unless it is retransmitted in order */
        eng->st.reasm_dropped++;
        kp_engine_anomaly(eng, pkt, "tcp.reassembly_holes",
                          "too many out-of-order segments: a segment was dropped");
    }
    kp_engine_account(eng, -(int64_t)(app->rs[dir].limit - cap_before) +
                               (int64_t)(app->rs[dir].cap - cap_before));
    if (!added) {
        kp_engine_anomaly(eng, pkt, "memory.reassembly", "out of memory for reassembly");
        conclude(eng, f);
        return;
    }
    if (kp_reasm_contig(&app->rs[dir]).len <= app->scanned[dir]) {
        return;
    }
    if (!scan_dir(eng, f, dir, pkt)) {
        return;
    }
    int other = 1 - dir;
    if (app->version != 0 && app->waiting_version[other] && !app->done[other]) {
        scan_dir(eng, f, other, pkt); /* the version is known now */
    }
    if (handshake_understood(app) || (app->done[0] && app->done[1])) {
        conclude(eng, f);
    }
}
