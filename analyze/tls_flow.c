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

/* One direction's stream while it is followed: allocated with its first
 * payload byte, freed as soon as the direction has nothing more to tell. */
struct tls_dir {
    struct kp_reasm rs;
    struct kp_tls_scan_state scan;
    uint32_t scanned;      /* contiguous bytes already scanned */
    uint32_t sip_off;      /* stream offset of the next SIP message */
    struct kp_sip_frame_state sip_frame; /* how far that message has been looked at */
};

/* What a flow keeps between packets.  A handshake waiting for its server
 * (one ClientHello seen) holds only this summary and the names it asked
 * for: about 150 bytes besides the flow entry, so a million half-open
 * handshakes fit in the default memory budget. */
struct kp_tls_app {
    struct tls_dir *d[2];  /* NULL before the first payload and once done */
    struct kp_cert_info *cert; /* the server's leaf certificate, once seen */
    char *names;           /* SNI, NUL, ALPN text, NUL (after the ClientHello) */
    uint32_t names_size;
    uint16_t sni_len;
    uint16_t version, cipher, ch_version;
    uint8_t done[2];       /* nothing more to learn from this direction */
    uint8_t tls[2];        /* this direction carried TLS records */
    uint8_t waiting_version[2]; /* stopped at a CCS that may be TLS 1.3's */
    uint8_t sip;           /* not TLS but SIP over TCP (RFC 3261 18.3) */
    int8_t client_dir;     /* direction of the ClientHello, -1 unknown */
    int8_t server_dir;     /* direction of the ServerHello, -1 unknown */
    uint8_t have_ch, have_sh, have_cert, hrr, server_done_msg, malformed;
    uint64_t ts_us;        /* first handshake message */
    char ja4[40];
};

struct scan_ctx {
    struct kp_engine *eng;
    struct kp_tls_app *app;
    int dir;
};

static const char *sni_of(const struct kp_tls_app *app)
{
    return app->names != NULL ? app->names : "";
}

static const char *alpn_of(const struct kp_tls_app *app)
{
    return app->names != NULL ? app->names + app->sni_len + 1 : "";
}

/* Keep the server name and ALPN text of a ClientHello in one allocation
 * of their own size. */
static void keep_names(struct kp_engine *eng, struct kp_tls_app *app,
                       const struct kp_tls_client_hello *ch)
{
    char sni[256], alpn[128];
    size_t sl = kp_copy_view(sni, sizeof(sni), ch->sni);
    kp_alpn_text(alpn, sizeof(alpn), ch);
    size_t al = strlen(alpn);
    if (sl == 0 && al == 0) {
        return;
    }
    char *names = kp_engine_alloc(eng, sl + al + 2);
    if (names == NULL) {
        return; /* memory budget reached: counted in mem_limited */
    }
    memcpy(names, sni, sl + 1);
    memcpy(names + sl + 1, alpn, al + 1);
    app->names = names;
    app->names_size = (uint32_t)(sl + al + 2);
    app->sni_len = (uint16_t)sl;
}

static struct tls_dir *dir_new(struct kp_engine *eng, struct kp_flow *f, int dir)
{
    struct tls_dir *d = kp_engine_alloc(eng, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    kp_reasm_init(&d->rs, eng->cfg.reasm_limit);
    if (f->syn_seen & (1u << dir)) {
        kp_reasm_syn(&d->rs, f->syn_seq[dir]);
    }
    return d;
}

static void dir_free(struct kp_engine *eng, struct kp_tls_app *app, int dir)
{
    struct tls_dir *d = app->d[dir];
    if (d != NULL) {
        kp_engine_account(eng, -(int64_t)d->rs.cap);
        kp_reasm_free(&d->rs);
        kp_engine_free_state(eng, d, sizeof(*d));
        app->d[dir] = NULL;
    }
}

/* This direction has nothing more to tell: release its stream. */
static void dir_done(struct kp_engine *eng, struct kp_tls_app *app, int dir)
{
    app->done[dir] = 1;
    dir_free(eng, app, dir);
}

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
        keep_names(x->eng, app, &ch);
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
        if (app->cert == NULL) {
            app->cert = kp_engine_alloc(x->eng, sizeof(*app->cert));
            if (app->cert == NULL) {
                return; /* memory budget reached: counted in mem_limited */
            }
        }
        if (kp_engine_cert(x->eng, c.certs[0].p, c.certs[0].len, app->cert) == KP_RES_OK) {
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
        dir_free(eng, app, 0);
        dir_free(eng, app, 1);
        kp_engine_free_state(eng, app->cert, sizeof(*app->cert));
        kp_engine_free_state(eng, app->names, app->names_size);
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
    const char *svc_sni = app->sni_len > 0 ? kp_rules_match_sni(rules, sni_of(app), app->sni_len) : NULL;
    const char *svc_cert = app->have_cert ? kp_rules_match_cert(rules, app->cert->subject_cn,
                                                                app->cert->san, app->cert->subject_o)
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
        memcpy(k.sni, sni_of(app), app->sni_len + 1u);
        k.sni_len = app->sni_len;
        snprintf(k.alpn, sizeof(k.alpn), "%s", alpn_of(app));
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
        snprintf(k.cert_subject, sizeof(k.cert_subject), "%s", app->cert->subject_dn);
        snprintf(k.cert_issuer, sizeof(k.cert_issuer), "%s", app->cert->issuer_dn);
        snprintf(k.cert_sans, sizeof(k.cert_sans), "%s", app->cert->san);
        snprintf(k.cert_cn, sizeof(k.cert_cn), "%s", app->cert->subject_cn);
        snprintf(k.cert_org, sizeof(k.cert_org), "%s", app->cert->subject_o);
        if (strlen(app->cert->subject_c) == 2) { /* ISO 3166 alpha-2, else not a country */
            memcpy(k.cert_country, app->cert->subject_c, 3);
        }
        snprintf(k.cert_sha256, sizeof(k.cert_sha256), "%s", app->cert->sha256);
        k.cert_self_signed = app->cert->self_signed ? 1 : 0;
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
    struct tls_dir *d = ((struct kp_tls_app *)f->app)->d[dir];
    struct kp_rd contig = kp_reasm_contig(&d->rs);
    for (int i = 0; i < 64; i++) {
        struct kp_rd rest = contig;
        if (!kp_rd_skip(&rest, d->sip_off) || rest.len == 0) {
            return true;
        }
        /* kp_sip_parse walks the message from its first byte: calling it
         * on every new segment would make a message that arrives a byte at
         * a time cost quadratic time.  kp_sip_frame, which looks at each
         * byte once, says when the parse can give something new. */
        if (kp_sip_frame(&d->sip_frame, rest) == KP_RES_TRUNCATED) {
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
        d->sip_off += (uint32_t)msg.msg_len;
        memset(&d->sip_frame, 0, sizeof(d->sip_frame));
    }
    return true;
}

/* Walk the contiguous prefix of one direction again.  Returns false when
 * the flow turned out not to be TLS (its state is then gone). */
static bool scan_dir(struct kp_engine *eng, struct kp_flow *f, int dir, const struct kp_pkt *pkt)
{
    struct kp_tls_app *app = f->app;
    struct tls_dir *d = app->d[dir];
    struct kp_rd contig = kp_reasm_contig(&d->rs);
    d->scanned = (uint32_t)contig.len;
    if (app->version != 0 && d->scan.version == 0) {
        d->scan.version = app->version; /* lets the client walk past a TLS 1.3 CCS */
    }
    struct scan_ctx x = {eng, app, dir};
    enum kp_res r = kp_tls_scan(&contig, eng->scratch, KP_SCRATCH, &d->scan, on_hs, &x);
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
        dir_done(eng, app, dir);
        /* Not TLS in this direction.  The flow is given up only when the
         * other direction is not TLS either: a single injected segment in
         * front of a ClientHello must not hide the server's certificate. */
        if (!app->tls[0] && !app->tls[1] && (app->done[1 - dir] || (app->d[1 - dir] != NULL && app->d[1 - dir]->scanned > 0))) {
            free_app(eng, f); /* not TLS: never look at this flow again */
            f->bypass = 1;
            return false;
        }
        break;
    }
    case KP_RES_MALFORMED:
        dir_done(eng, app, dir);
        app->malformed = 1;
        eng->st.tls_malformed++;
        kp_engine_anomaly(eng, pkt, "tls.malformed_record", "TLS record layer violates RFC 8446 5.1");
        break;
    case KP_RES_TRUNCATED:
        app->tls[dir] = 1;
        if (d->rs.overflow && contig.len >= d->rs.limit) {
            dir_done(eng, app, dir); /* the handshake is larger than we keep */
            eng->st.reasm_overflow++;
        }
        break;
    default:
        app->tls[dir] = 1;
        /* A ChangeCipherSpec before the version is known may be TLS 1.3's
         * middlebox-compatibility one (RFC 8446 D.4), after which a second
         * ClientHello can still come in clear: wait for the ServerHello. */
        app->waiting_version[dir] = d->scan.stop == KP_TLS_STOP_CCS && d->scan.version == 0;
        if (d->scan.encrypted && !app->waiting_version[dir]) {
            dir_done(eng, app, dir);
        }
        break;
    }
    if (app->have_ch && dir == app->client_dir && !app->done[dir]) {
        /* The client, once its ClientHello is read: what it sends next (a
         * second ClientHello after a HelloRetryRequest, its own
         * certificate, Finished) says nothing about who holds the key. */
        dir_done(eng, app, dir);
    }
    return true;
}

void kp_tls_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt)
{
    struct kp_tls_app *app = f->app;
    if (pkt->tcp_flags & KP_TCP_SYN) {
        /* Nothing is allocated for a SYN, so a SYN flood costs flow-table
         * slots only (which are bounded and recycled).  Before a payload
         * the latest SYN counts, afterwards the first (kp_reasm_syn). */
        if (app == NULL || !(f->syn_seen & (1u << dir))) {
            f->syn_seen |= (uint8_t)(1u << dir);
            f->syn_seq[dir] = pkt->seq;
        }
        if (app != NULL && app->d[dir] != NULL) {
            kp_reasm_syn(&app->d[dir]->rs, pkt->seq);
        }
    }
    if (pkt->payload.len == 0) {
        return;
    }
    if (app == NULL) {
        app = kp_engine_alloc(eng, sizeof(*app));
        if (app == NULL) {
            f->bypass = 1; /* memory budget reached: counted, not analysed */
            return;
        }
        f->app = app;
        f->app_kind = KP_APP_TLS;
        app->client_dir = app->server_dir = -1;
    }
    if (app->done[dir]) {
        return;
    }
    struct tls_dir *d = app->d[dir];
    if (d == NULL) {
        d = app->d[dir] = dir_new(eng, f, dir);
        if (d == NULL) {
            conclude(eng, f); /* memory budget reached: counted in mem_limited */
            return;
        }
    }
    /* the buffer may grow: at most to the reassembly limit, within budget */
    uint32_t cap_before = d->rs.cap;
    if (cap_before < d->rs.limit && !kp_engine_account(eng, d->rs.limit - cap_before)) {
        kp_engine_anomaly(eng, pkt, "memory.reassembly", "memory limit reached: handshake not followed");
        conclude(eng, f);
        return;
    }
    uint8_t gaps_before = d->rs.gaps_full;
    bool added = kp_reasm_add(&d->rs, pkt->seq, pkt->payload);
    if (d->rs.gaps_full && !gaps_before) {
        /* more holes than the reassembly keeps: a segment was dropped, and
         * the handshake may be lost unless it is retransmitted in order */
        eng->st.reasm_dropped++;
        kp_engine_anomaly(eng, pkt, "tcp.reassembly_holes",
                          "too many out-of-order segments: a segment was dropped");
    }
    kp_engine_account(eng, -(int64_t)(d->rs.limit - cap_before) + (int64_t)(d->rs.cap - cap_before));
    if (!added) {
        kp_engine_anomaly(eng, pkt, "memory.reassembly", "out of memory for reassembly");
        conclude(eng, f);
        return;
    }
    if (kp_reasm_contig(&d->rs).len <= d->scanned) {
        return;
    }
    if (!scan_dir(eng, f, dir, pkt)) {
        return;
    }
    int other = 1 - dir;
    if (app->version != 0 && app->waiting_version[other] && !app->done[other] &&
        app->d[other] != NULL) {
        scan_dir(eng, f, other, pkt); /* the version is known now */
    }
    if (handshake_understood(app) || (app->done[0] && app->done[1])) {
        conclude(eng, f);
    }
}
