/* The UDP media plane: flow glue between the per-packet demultiplexer and
 * the pure parsers (QUIC, DTLS, ...), and the key records they lead to.
 *
 * A UDP flow gets analysis state on its first packet.  Each datagram is
 * routed by its first byte (RFC 7983, updated by RFC 9443 for QUIC): 0-3
 * STUN, 16-19 ZRTP, 20-63 DTLS, 64-79 TURN ChannelData, 128-191 RTP/RTCP,
 * 192-255 a QUIC long header.  Heavy state (DTLS reassembly, QUIC CRYPTO
 * streams) is allocated only when a handshake starts and freed as soon as
 * its key record is out; a flow that shows nothing worth keeping after
 * KP_UDP_INSPECT packets is bypassed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "dtls.h"
#include "engine.h"
#include "geo.h"
#include "ja4.h"
#include "quic.h"
#include "rtp.h"
#include "sip.h"
#include "stun.h"
#include "zoom.h"
#include "zrtp.h"
#include "tls.h"
#include "x509.h"

/* Packets looked at in a flow that shows no handshake before bypassing it. */
#define KP_UDP_INSPECT 64

enum {
    SEEN_STUN = 1u << 0,
    SEEN_DTLS = 1u << 1,
    SEEN_QUIC = 1u << 2,
    SEEN_GQUIC = 1u << 3,
    SEEN_RTP = 1u << 4,
    SEEN_ZRTP = 1u << 5,
    SEEN_CHANNEL = 1u << 6,
    SEEN_SIP = 1u << 7,
    SEEN_ZOOM = 1u << 8
};

struct dtls_state {
    /* Fragment reassembly (about 74 KiB a direction) is allocated only for a
     * direction that actually sends a message in several fragments: most
     * WebRTC handshakes never do. */
    struct kp_dtls_hs *hs[2];
    uint8_t relayed;       /* the handshake runs inside TURN (ChannelData or Send/Data) */
    struct kp_addr peer;   /* then: the far peer behind the relay */
    uint16_t peer_port;
    uint8_t have_ch, have_sh, have_cert, have_done, hvr;
    int8_t client_dir, server_dir;
    uint16_t version;
    uint16_t offered[8];
    size_t n_offered;
    uint16_t selected;
    char ja4[40];
    char sni[256];
    size_t sni_len;
    uint64_t ts_us;
    struct kp_cert_info cert; /* last, left uninitialised (alloc_state): valid when have_cert */
};

struct quic_state {
    uint8_t key_dcid[KP_QUIC_MAX_CID];
    size_t key_dcid_len;
    int8_t client_dir;
    uint8_t server_replied;
    uint32_t version;
    uint64_t ts_us;
    struct kp_quic_key_cache keys; /* the client's Initial keys, derived once per flow */
    struct kp_quic_crypto crypto;  /* the client's Initial CRYPTO stream: last, its 16 KiB of
                                      data are left uninitialised (kp_quic_crypto_init) */
};

#define TURN_CHANNELS 8

/* What STUN/TURN taught about this flow. */
struct turn_state {
    const char *svc;          /* service named by STUN attributes/SOFTWARE/REALM */
    const char *how;          /* which signal */
    uint8_t allocated;        /* an Allocate success response (RFC 8656 7.3) */
    uint8_t server_known;     /* server_dir is set */
    uint8_t server_dir;       /* direction of the TURN server's messages */
    uint8_t nchan;
    struct {
        uint16_t number;
        uint16_t port;
        struct kp_addr peer;
    } chan[TURN_CHANNELS];    /* ChannelBind requests (RFC 8656 11) */
};

/* Media seen on the flow: counters only, no payload. */
struct media_state {
    struct kp_rtp_track track;
    uint32_t rtp, rtcp, zoom, zoom_media;
    int8_t zoom_server_dir;   /* direction of packets from the Zoom server, -1 unknown */
    uint8_t zrtp_types;       /* bit per ZRTP message kind seen (hello, commit, dh, confirm) */
    uint8_t emitted_zrtp;
    char zrtp_client[20];
    uint64_t first_media_us;
};

struct kp_udp_app {
    uint32_t seen;        /* SEEN_* bits */
    struct turn_state turn;
    struct media_state media;
    uint32_t inspected;   /* datagrams looked at */
    uint8_t emitted_dtls, emitted_quic;
    struct dtls_state *dtls;
    struct quic_state *quic;
};

struct dtls_ctx {
    struct kp_engine *eng;
    struct dtls_state *d;
    int dir;
    size_t delivered;
};

/* kp_engine_alloc without the zeroing, for the big states whose tail is
 * read only where it was written (a CRYPTO stream, DTLS reassembly slots, a
 * certificate summary): zeroing them cost more than the analysis of most
 * flows, and faulted in pages a handshake never reaches.  The caller zeroes
 * the head (up to `zero` bytes).  Accounted like kp_engine_alloc; freed with
 * kp_engine_free_state. */
static void *alloc_state(struct kp_engine *eng, size_t n, size_t zero)
{
    if (!kp_engine_account(eng, (int64_t)n)) {
        return NULL;
    }
    void *p = malloc(n);
    if (p == NULL) {
        kp_engine_account(eng, -(int64_t)n);
        eng->st.mem_limited++;
        return NULL;
    }
    memset(p, 0, zero);
    return p;
}

static void free_dtls(struct kp_engine *eng, struct kp_udp_app *app)
{
    if (app->dtls != NULL) {
        kp_engine_free_state(eng, app->dtls->hs[0], sizeof(struct kp_dtls_hs));
        kp_engine_free_state(eng, app->dtls->hs[1], sizeof(struct kp_dtls_hs));
    }
    kp_engine_free_state(eng, app->dtls, sizeof(*app->dtls));
    app->dtls = NULL;
}

static void free_quic(struct kp_engine *eng, struct kp_udp_app *app)
{
    if (app->quic != NULL) {
        kp_quic_key_cache_clear(&app->quic->keys);
    }
    kp_engine_free_state(eng, app->quic, sizeof(*app->quic));
    app->quic = NULL;
}

static void free_app(struct kp_engine *eng, struct kp_flow *f)
{
    struct kp_udp_app *app = f->app;
    if (app != NULL) {
        free_dtls(eng, app);
        free_quic(eng, app);
        kp_engine_free_state(eng, app, sizeof(*app));
    }
    f->app = NULL;
    f->app_kind = KP_APP_NONE;
}

/* The service of a UDP server, from the strongest signal available:
 * certificate names, then the server's network or AS, then its port. */
const char *kp_engine_classify_server(struct kp_engine *eng, const struct kp_addr *server,
                                      uint16_t port, const struct kp_cert_info *cert,
                                      const char **how)
{
    const struct kp_rules *r = eng->rules;
    const char *svc = NULL;
    if (cert != NULL) {
        svc = kp_rules_match_cert(r, cert->subject_cn, cert->san, cert->subject_o);
        if (svc != NULL) {
            *how = "rule.certificate";
            return svc;
        }
    }
    struct kp_geo_info gi;
    memset(&gi, 0, sizeof(gi));
    if (kp_addr_scope(server) == NULL) {
        kp_engine_geo(eng, server, &gi);
    }
    unsigned m = 0;
    svc = kp_rules_match_addr(r, server, gi.asn, &m);
    if (svc != NULL) {
        *how = m == KP_MATCH_PREFIX ? "rule.server_network" : "rule.server_asn";
        return svc;
    }
    svc = kp_rules_match_port(r, true, port);
    if (svc != NULL) {
        *how = "rule.server_port";
    }
    return svc;
}

/* ---------------------------------------------------------------- DTLS */

static void on_dtls_msg(const struct kp_dtls_msg *msg, void *user)
{
    struct dtls_ctx *x = user;
    struct dtls_state *d = x->d;
    x->delivered++;
    if (d->ts_us == 0) {
        d->ts_us = x->eng->now_us;
    }
    switch (msg->msg_type) {
    case KP_TLS_HS_CLIENT_HELLO: {
        struct kp_tls_client_hello ch;
        if (kp_tls_parse_client_hello(&ch, msg->body, true) != KP_RES_OK) {
            return;
        }
        if (!d->have_ch) {
            /* the first ClientHello's sender is the client (both peers of a
             * misconfigured WebRTC call may send one) */
            d->client_dir = (int8_t)x->dir;
        }
        d->have_ch = 1;
        d->n_offered = 0;
        for (size_t i = 0; i < ch.n_srtp_profiles && d->n_offered < 8; i++) {
            d->offered[d->n_offered++] = ch.srtp_profiles[i];
        }
        d->sni_len = kp_copy_view(d->sni, sizeof(d->sni), ch.sni);
        (void)kp_ja4(&ch, 'd', d->ja4);
        break;
    }
    case KP_TLS_HS_HELLO_VERIFY_REQUEST:
        d->hvr = 1;
        d->server_dir = (int8_t)x->dir;
        break;
    case KP_TLS_HS_SERVER_HELLO: {
        struct kp_tls_server_hello sh;
        if (kp_tls_parse_server_hello(&sh, msg->body, true) != KP_RES_OK) {
            return;
        }
        d->have_sh = 1;
        d->server_dir = (int8_t)x->dir;
        d->version = sh.version;
        d->selected = sh.has_use_srtp ? sh.srtp_profile : 0;
        break;
    }
    case KP_TLS_HS_CERTIFICATE: {
        if (d->have_cert || (d->server_dir >= 0 && x->dir != d->server_dir)) {
            return; /* the client's certificate (WebRTC sends both): not the issuer's */
        }
        struct kp_tls_certificate c;
        if (kp_tls_parse_certificate(&c, msg->body, false) == KP_RES_OK && c.n_certs > 0 &&
            kp_engine_cert(x->eng, c.certs[0].p, c.certs[0].len, &d->cert) == KP_RES_OK) {
            d->have_cert = 1;
        }
        break;
    }
    case KP_TLS_HS_SERVER_HELLO_DONE:
        d->have_done = 1;
        break;
    default:
        break;
    }
}

static void srtp_text(char *buf, size_t len, const uint16_t *p, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < len; i++) {
        const char *name = kp_srtp_profile_name(p[i]);
        int w = name != NULL ? snprintf(buf + used, len - used, "%s%s", used ? "," : "", name)
                             : snprintf(buf + used, len - used, "%s0x%04x", used ? "," : "", p[i]);
        if (w < 0 || (size_t)w >= len - used) {
            break;
        }
        used += (size_t)w;
    }
}

static void emit_dtls(struct kp_engine *eng, struct kp_flow *f)
{
    struct kp_udp_app *app = f->app;
    struct dtls_state *d = app->dtls;
    if (app->emitted_dtls || d == NULL || (!d->have_ch && !d->have_sh)) {
        return;
    }
    bool srtp = d->selected != 0 || (!d->have_sh && d->n_offered > 0);
    if (d->have_sh && d->selected == 0 && d->n_offered > 0) {
        srtp = false; /* offered, but the server declined: no SRTP keys from this handshake */
    }
    struct kp_key_rec k;
    memset(&k, 0, sizeof(k));
    /* RFC 5764 4.1: the DTLS server is the party the SRTP keys are
     * negotiated with (an SFU, or the far peer). */
    int sdir = d->server_dir >= 0 ? d->server_dir : d->client_dir >= 0 ? 1 - d->client_dir : 1;
    kp_flow_endpoint(f, sdir, &k.issuer, &k.issuer_port);
    kp_flow_endpoint(f, 1 - sdir, &k.client, &k.client_port);
    if (d->relayed) {
        /* Through a TURN relay the far side of this flow is the relay; the
         * DTLS peer is the address the channel or indication named.  The
         * relay only forwards: it is context, not the issuer. */
        struct kp_addr near;
        uint16_t near_port;
        int relay_dir = app->turn.server_known ? app->turn.server_dir : 1;
        kp_flow_endpoint(f, relay_dir, &k.relay, &k.relay_port);
        kp_flow_endpoint(f, 1 - relay_dir, &near, &near_port);
        k.has_relay = 1;
        bool far_is_server = sdir == relay_dir;
        k.issuer = far_is_server ? d->peer : near;
        k.issuer_port = far_is_server ? d->peer_port : near_port;
        k.client = far_is_server ? near : d->peer;
        k.client_port = far_is_server ? near_port : d->peer_port;
    }
    const char *how = NULL;
    const char *svc = kp_engine_classify_server(eng, &k.issuer, k.issuer_port, d->have_cert ? &d->cert : NULL,
                                      &how);
    if (svc == NULL && app->turn.svc != NULL) {
        svc = app->turn.svc;
        how = app->turn.how;
    }
    if (svc == NULL && d->sni_len > 0) {
        svc = kp_rules_match_sni(eng->rules, d->sni, d->sni_len);
        how = "rule.sni";
    }
    if (svc == NULL) {
        if (!srtp && !eng->cfg.report_all) {
            return; /* a DTLS tunnel (VPN, CAPWAP) that keys no media */
        }
        svc = srtp ? "webrtc" : "unknown";
    }
    app->emitted_dtls = 1;
    k.ts_us = d->ts_us != 0 ? d->ts_us : f->first_us;
    k.service = svc;
    k.mechanism = srtp ? "dtls-srtp" : "dtls";
    k.proto = "udp";
    k.cert_self_signed = -1;
    kp_key_add_evidence(&k, d->have_ch ? "dtls.client_hello" : "dtls.client_hello.not_seen");
    if (d->have_sh) {
        kp_key_add_evidence(&k, d->selected != 0 ? "dtls.server_hello.use_srtp" : "dtls.server_hello");
        const char *vn = kp_tls_version_name(d->version);
        snprintf(k.tls_version, sizeof(k.tls_version), "%s", vn != NULL ? vn : "unknown");
        srtp_text(k.srtp, sizeof(k.srtp), &d->selected, d->selected != 0 ? 1 : 0);
    } else {
        kp_key_add_evidence(&k, "dtls.server_hello.not_seen");
        srtp_text(k.srtp, sizeof(k.srtp), d->offered, d->n_offered);
    }
    if (d->sni_len > 0) {
        memcpy(k.sni, d->sni, d->sni_len + 1);
        k.sni_len = d->sni_len;
    }
    snprintf(k.ja4, sizeof(k.ja4), "%s", d->ja4);
    if (d->have_cert) {
        kp_key_add_evidence(&k, "dtls.certificate");
        snprintf(k.cert_subject, sizeof(k.cert_subject), "%s", d->cert.subject_dn);
        snprintf(k.cert_issuer, sizeof(k.cert_issuer), "%s", d->cert.issuer_dn);
        snprintf(k.cert_sans, sizeof(k.cert_sans), "%s", d->cert.san);
        snprintf(k.cert_sha256, sizeof(k.cert_sha256), "%s", d->cert.sha256);
        if (strlen(d->cert.subject_c) == 2) {
            memcpy(k.cert_country, d->cert.subject_c, 3);
        }
        k.cert_self_signed = d->cert.self_signed ? 1 : 0;
        if (d->cert.self_signed) {
            /* WebRTC certificates are made up per call (RFC 8827 6.5): the
             * fingerprint in the signalling, not the name, binds them. */
            kp_key_add_evidence(&k, "dtls.certificate.self_signed_identifies_nobody");
        }
    }
    if (d->relayed) {
        kp_key_add_evidence(&k, "turn.relayed");
    }
    if (how != NULL) {
        kp_key_add_evidence(&k, how);
    } else {
        kp_key_add_evidence(&k, "rule.none_generic_webrtc");
    }
    bool strong = how != NULL && (strcmp(how, "rule.certificate") == 0 ||
                                  strcmp(how, "rule.server_network") == 0 ||
                                  strcmp(how, "rule.sni") == 0 || strncmp(how, "stun.", 5) == 0);
    if (d->have_sh && strong) {
        k.confidence = "high";
    } else if (d->have_sh || strong) {
        k.confidence = "medium";
    } else {
        k.confidence = "low";
    }
    kp_engine_emit_key(eng, &k);
}

static void dtls_datagram(struct kp_engine *eng, struct kp_flow *f, int dir,
                          const struct kp_pkt *pkt, struct kp_rd dgram,
                          const struct kp_addr *peer, uint16_t peer_port)
{
    struct kp_udp_app *app = f->app;
    if (app->emitted_dtls) {
        return;
    }
    if (app->dtls == NULL) {
        app->dtls = alloc_state(eng, sizeof(*app->dtls), offsetof(struct dtls_state, cert));
        if (app->dtls == NULL) {
            return;
        }
        app->dtls->client_dir = app->dtls->server_dir = -1;
    }
    if (peer != NULL && !app->dtls->relayed) {
        app->dtls->relayed = 1;
        app->dtls->peer = *peer;
        app->dtls->peer_port = peer_port;
    }
    struct dtls_ctx x = {eng, app->dtls, dir, 0};
    struct kp_dtls_dgram info;
    struct kp_dtls_hs *hs = app->dtls->hs[dir];
    enum kp_res r = kp_dtls_scan(&info, dgram, KP_DTLS_CID_UNKNOWN, hs, on_dtls_msg, &x);
    if (r == KP_RES_NOT_MINE) {
        return;
    }
    if (hs == NULL && x.delivered < info.n_fragments) {
        /* a message in pieces: from now on this direction reassembles (the
         * messages already delivered are handled idempotently) */
        hs = app->dtls->hs[dir] = alloc_state(eng, sizeof(*hs), 0);
        if (hs != NULL) {
            kp_dtls_hs_reset(hs);
            r = kp_dtls_scan(&info, dgram, KP_DTLS_CID_UNKNOWN, hs, on_dtls_msg, &x);
        }
    }
    app->seen |= SEEN_DTLS;
    if (r == KP_RES_MALFORMED) {
        kp_engine_anomaly(eng, pkt, "dtls.malformed", "DTLS record or handshake fragment violates RFC 6347");
    }
    struct dtls_state *d = app->dtls;
    /* Done once the server's flight is in (its certificate or
     * ServerHelloDone), or once either side starts encrypting. */
    if ((d->have_sh && (d->have_cert || d->have_done || kp_tls_version_is_13(d->version))) ||
        (d->have_sh && (info.ccs || info.encrypted))) {
        emit_dtls(eng, f);
        free_dtls(eng, app);
    }
}

/* ---------------------------------------------------------------- QUIC */

/* The common part of a QUIC key record (IETF or Google QUIC): the server
 * the client addressed, named by its server name or else by its address.
 * Returns false when the record is not to be reported. */
static bool quic_record(struct kp_engine *eng, struct kp_flow *f, int client_dir,
                        struct kp_rd sni, uint32_t version, struct kp_key_rec *k)
{
    memset(k, 0, sizeof(*k));
    kp_flow_endpoint(f, 1 - client_dir, &k->issuer, &k->issuer_port);
    kp_flow_endpoint(f, client_dir, &k->client, &k->client_port);
    const char *svc = sni.len > 0 ? kp_rules_match_sni(eng->rules, (const char *)sni.p, sni.len) : NULL;
    const char *how = svc != NULL ? "rule.sni" : NULL;
    if (svc == NULL) {
        svc = kp_engine_classify_server(eng, &k->issuer, k->issuer_port, NULL, &how);
    }
    if (svc == NULL && !eng->cfg.report_all) {
        return false;
    }
    k->service = svc != NULL ? svc : "unknown";
    k->mechanism = "quic";
    k->proto = "udp";
    k->cert_self_signed = -1;
    k->sni_len = kp_copy_view(k->sni, sizeof(k->sni), sni);
    char vbuf[KP_QUIC_VERSION_NAME_LEN];
    snprintf(k->quic_version, sizeof(k->quic_version), "%s", kp_quic_version_name(version, vbuf));
    /* TLS 1.3 hides the certificate: the name alone cannot make it high */
    k->confidence = how != NULL && strcmp(how, "rule.sni") == 0 ? "medium" : "low";
    if (how != NULL) {
        kp_key_add_evidence(k, how);
    }
    return true;
}

static void emit_quic(struct kp_engine *eng, struct kp_flow *f, struct kp_rd body)
{
    struct kp_udp_app *app = f->app;
    struct quic_state *q = app->quic;
    struct kp_tls_client_hello ch;
    app->emitted_quic = 1; /* one record per connection, malformed or not */
    if (kp_tls_parse_client_hello(&ch, body, false) != KP_RES_OK) {
        eng->st.tls_malformed++;
        return;
    }
    eng->st.tls_handshakes++;
    struct kp_key_rec k;
    if (!quic_record(eng, f, q->client_dir, ch.sni, q->version, &k)) {
        return;
    }
    k.ts_us = q->ts_us;
    kp_key_add_evidence(&k, "quic.initial.client_hello");
    kp_key_add_evidence(&k, ch.sni.len > 0 ? "tls.client_hello.sni" : "tls.client_hello.no_sni");
    kp_key_add_evidence(&k, "tls.certificate.encrypted");
    kp_alpn_text(k.alpn, sizeof(k.alpn), &ch);
    (void)kp_ja4(&ch, 'q', k.ja4);
    snprintf(k.tls_version, sizeof(k.tls_version), "TLS 1.3");
    kp_engine_emit_key(eng, &k);
}

static void quic_datagram(struct kp_engine *eng, struct kp_flow *f, int dir,
                          const struct kp_pkt *pkt)
{
    struct kp_udp_app *app = f->app;
    if (app->emitted_quic) {
        return;
    }
    struct kp_quic_long_hdr h;
    if (kp_quic_parse_long_header(&h, pkt->payload) != KP_RES_OK) {
        return;
    }
    struct quic_state *q = app->quic;
    if (q != NULL && dir != q->client_dir) {
        q->server_replied = 1;
        return; /* the server's Initial holds only its ServerHello */
    }
    if (q == NULL) {
        if (!kp_quic_is_supported_version(h.version)) {
            return;
        }
        q = app->quic = alloc_state(eng, sizeof(*q), offsetof(struct quic_state, crypto));
        if (q == NULL) {
            return;
        }
        kp_quic_crypto_init(&q->crypto);
        q->client_dir = (int8_t)dir;
        q->version = h.version;
        q->ts_us = eng->now_us;
        /* RFC 9001 5.2: Initial keys come from the DCID of the client's
         * first Initial, whatever later packets carry. */
        q->key_dcid_len = h.dcid.len <= KP_QUIC_MAX_CID ? h.dcid.len : KP_QUIC_MAX_CID;
        memcpy(q->key_dcid, h.dcid.p, q->key_dcid_len);
    }
    app->seen |= SEEN_QUIC;
    struct kp_rd kd = kp_rd_make(q->key_dcid, q->key_dcid_len);
    struct kp_quic_dgram_info info;
    enum kp_res r = kp_quic_feed_datagram_cached(&q->crypto, pkt->payload, &kd, false, &q->keys,
                                                 eng->scratch, KP_SCRATCH, &info);
    if (r == KP_RES_MALFORMED) {
        kp_engine_anomaly(eng, pkt, "quic.initial_undecryptable",
                          "client Initial failed authentication (RFC 9001 5.3)");
    }
    if (r == KP_RES_MALFORMED && q->crypto.frames == 0) {
        /* Nothing decrypted: keep no state for it, or a flood of bogus
         * Initials from many sources would hold the memory budget hostage. */
        app->emitted_quic = 1;
        free_quic(eng, app);
        return;
    }
    struct kp_rd body;
    enum kp_res cr = kp_quic_crypto_client_hello(&q->crypto, &body);
    if (cr == KP_RES_OK) {
        emit_quic(eng, f, body);
        free_quic(eng, app);
    } else if (cr == KP_RES_NOT_MINE || cr == KP_RES_NOMEM) {
        app->emitted_quic = 1;
        free_quic(eng, app);
    }
}

static void gquic_datagram(struct kp_engine *eng, struct kp_flow *f, int dir,
                           const struct kp_pkt *pkt)
{
    struct kp_udp_app *app = f->app;
    struct kp_gquic_info g;
    if (app->emitted_quic ||
        kp_gquic_parse_decrypt(&g, pkt->payload, eng->scratch, KP_SCRATCH) != KP_RES_OK) {
        return;
    }
    app->seen |= SEEN_GQUIC;
    if (g.chlo != KP_RES_OK && !g.ietf_layout) {
        return; /* wait for the packet with the CHLO */
    }
    app->emitted_quic = 1;
    struct kp_key_rec k;
    if (!quic_record(eng, f, dir, g.has_sni ? g.sni : kp_rd_make(NULL, 0), g.version, &k)) {
        return;
    }
    k.ts_us = eng->now_us;
    kp_key_add_evidence(&k, g.ietf_layout ? "gquic.initial.encrypted" : "gquic.chlo");
    kp_engine_emit_key(eng, &k);
}

/* ---------------------------------------------------------- STUN/TURN */

/* A datagram relayed through TURN: hand its payload to the parser its first
 * byte names (only DTLS carries a key exchange worth following here). */
static void relayed_payload(struct kp_engine *eng, struct kp_flow *f, int dir,
                            const struct kp_pkt *pkt, struct kp_rd data,
                            const struct kp_addr *peer, uint16_t port)
{
    struct kp_udp_app *app = f->app;
    uint8_t b0;
    app->seen |= SEEN_CHANNEL;
    if (kp_rd_peek_u8(&data, 0, &b0) && b0 >= 20 && b0 <= 63) {
        dtls_datagram(eng, f, dir, pkt, data, peer, port);
    }
}

static void stun_classify(struct kp_engine *eng, struct turn_state *t, const struct kp_stun_msg *m)
{
    if (t->svc != NULL) {
        return;
    }
    /* vendor attributes the parser recognised (NOTES.md) */
    if (m->vendor_zoom) {
        t->svc = "zoom";
    } else if (m->vendor_microsoft) {
        t->svc = "teams";
    } else if (m->vendor_google) {
        t->svc = "meet";
    } else if (m->vendor_whatsapp) {
        t->svc = "whatsapp";
    } else if (m->vendor_cisco) {
        t->svc = "webex";
    }
    if (t->svc != NULL) {
        t->how = "stun.vendor_attribute";
        return;
    }
    char software[128], realm[128];
    size_t n = m->software.len < sizeof(software) - 1 ? m->software.len : sizeof(software) - 1;
    memcpy(software, m->software.p != NULL ? m->software.p : (const uint8_t *)"", n);
    software[n] = '\0';
    n = m->realm.len < sizeof(realm) - 1 ? m->realm.len : sizeof(realm) - 1;
    memcpy(realm, m->realm.p != NULL ? m->realm.p : (const uint8_t *)"", n);
    realm[n] = '\0';
    uint16_t types[KP_STUN_MAX_ATTRS];
    for (size_t i = 0; i < m->n_attrs; i++) {
        types[i] = m->attrs[i].type;
    }
    t->svc = kp_rules_match_stun(eng->rules, software, realm, types, m->n_attrs);
    if (t->svc != NULL) {
        t->how = "stun.rule";
    }
}

static void stun_datagram(struct kp_engine *eng, struct kp_flow *f, int dir,
                          const struct kp_pkt *pkt)
{
    struct kp_udp_app *app = f->app;
    struct kp_stun_msg m;
    if (kp_stun_parse(&m, pkt->payload) != KP_RES_OK) {
        return;
    }
    app->seen |= SEEN_STUN;
    struct turn_state *t = &app->turn;
    stun_classify(eng, t, &m);
    if (!t->server_known) {
        /* responses and Data indications come from the server (RFC 8656 10) */
        bool from_server = m.cls == KP_STUN_CLASS_SUCCESS || m.cls == KP_STUN_CLASS_ERROR ||
                           (m.cls == KP_STUN_CLASS_INDICATION && m.method == 0x007);
        t->server_dir = (uint8_t)(from_server ? dir : 1 - dir);
        t->server_known = 1;
    }
    /* RFC 8656 7.3: an Allocate success response names the relayed address */
    if (m.method == 0x003 && m.cls == KP_STUN_CLASS_SUCCESS && m.xor_relayed.present) {
        t->allocated = 1;
    }
    /* RFC 8656 11.1: ChannelBind binds a channel number to a peer */
    if (m.method == 0x009 && m.cls == KP_STUN_CLASS_REQUEST && m.channel_number != 0 &&
        m.xor_peer.present && t->nchan < TURN_CHANNELS) {
        bool known = false;
        for (size_t i = 0; i < t->nchan; i++) {
            known |= t->chan[i].number == m.channel_number;
        }
        if (!known) {
            t->chan[t->nchan].number = m.channel_number;
            t->chan[t->nchan].peer = m.xor_peer.addr;
            t->chan[t->nchan].port = m.xor_peer.port;
            t->nchan++;
        }
    }
    /* RFC 8656 10: Send and Data indications carry a peer's datagram */
    if ((m.method == 0x006 || m.method == 0x007) && m.cls == KP_STUN_CLASS_INDICATION &&
        m.xor_peer.present) {
        if (m.has_data) {
            relayed_payload(eng, f, dir, pkt, m.data, &m.xor_peer.addr, m.xor_peer.port);
        }
    }
}

static void channel_datagram(struct kp_engine *eng, struct kp_flow *f, int dir,
                             const struct kp_pkt *pkt)
{
    struct kp_udp_app *app = f->app;
    struct kp_stun_channel_data cd;
    if (app->turn.nchan == 0 || kp_stun_parse_channel_data(&cd, pkt->payload, false) != KP_RES_OK) {
        return;
    }
    for (size_t i = 0; i < app->turn.nchan; i++) {
        if (app->turn.chan[i].number == cd.channel) {
            relayed_payload(eng, f, dir, pkt, cd.data, &app->turn.chan[i].peer,
                            app->turn.chan[i].port);
            return;
        }
    }
}

/* --------------------------------------------------------------- media */

static void rtp_datagram(struct kp_udp_app *app, struct kp_engine *eng, const struct kp_pkt *pkt)
{
    struct media_state *m = &app->media;
    enum kp_rtp_demux d = kp_rtp_demux(pkt->payload);
    if (d == KP_RTP_DEMUX_RTP) {
        struct kp_rtp h;
        if (kp_rtp_parse(&h, pkt->payload) == KP_RES_OK) {
            m->rtp++;
            if (kp_rtp_track_rtp(&m->track, &h)) {
                app->seen |= SEEN_RTP;
                if (m->first_media_us == 0) {
                    m->first_media_us = eng->now_us;
                }
            }
        }
    } else if (d == KP_RTP_DEMUX_RTCP) {
        struct kp_rtcp c;
        if (kp_rtcp_parse(&c, pkt->payload) == KP_RES_OK) {
            m->rtcp++;
            (void)kp_rtp_track_rtcp(&m->track, &c);
        }
    }
}

static void zoom_datagram(struct kp_udp_app *app, struct kp_engine *eng, int dir,
                          const struct kp_pkt *pkt, bool server_port)
{
    struct media_state *m = &app->media;
    struct kp_zoom_pkt z;
    if (kp_zoom_parse(&z, pkt->payload, server_port) != KP_RES_OK) {
        return;
    }
    m->zoom++;
    if (z.kind >= KP_ZOOM_AUDIO && z.kind <= KP_ZOOM_RTCP) {
        m->zoom_media++;
        if (m->first_media_us == 0) {
            m->first_media_us = eng->now_us;
        }
    }
    if (z.dir == KP_ZOOM_DIR_FROM_ZOOM) {
        m->zoom_server_dir = (int8_t)dir;
    } else if (z.dir == KP_ZOOM_DIR_TO_ZOOM) {
        m->zoom_server_dir = (int8_t)(1 - dir);
    }
    if (m->zoom >= 3) {
        app->seen |= SEEN_ZOOM;
    }
}

/* ZRTP (RFC 6189): the endpoints agree the SRTP keys by Diffie-Hellman;
 * no server ever holds them. */
static void zrtp_datagram(struct kp_engine *eng, struct kp_flow *f, int dir,
                          const struct kp_pkt *pkt)
{
    struct kp_udp_app *app = f->app;
    struct media_state *m = &app->media;
    struct kp_zrtp z;
    if (kp_zrtp_parse(&z, pkt->payload, false) != KP_RES_OK) {
        return;
    }
    app->seen |= SEEN_ZRTP;
    switch (z.type) {
    case KP_ZRTP_HELLO:
        m->zrtp_types |= 1;
        if (m->zrtp_client[0] == '\0' && z.client_id.len > 0) {
            size_t n = z.client_id.len < sizeof(m->zrtp_client) - 1 ? z.client_id.len
                                                                     : sizeof(m->zrtp_client) - 1;
            for (size_t i = 0; i < n; i++) {
                uint8_t c = z.client_id.p[i];
                m->zrtp_client[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
            }
            m->zrtp_client[n] = '\0';
        }
        break;
    case KP_ZRTP_COMMIT:
        m->zrtp_types |= 2;
        break;
    case KP_ZRTP_DHPART1:
    case KP_ZRTP_DHPART2:
        m->zrtp_types |= 4;
        break;
    case KP_ZRTP_CONFIRM1:
    case KP_ZRTP_CONFIRM2:
    case KP_ZRTP_CONF2ACK:
        m->zrtp_types |= 8;
        break;
    default:
        break;
    }
    if (m->emitted_zrtp || !(m->zrtp_types & 4)) {
        return;
    }
    m->emitted_zrtp = 1;
    struct kp_key_rec k;
    memset(&k, 0, sizeof(k));
    k.ts_us = eng->now_us;
    /* Who sent DHPart2 is the ZRTP initiator; both ends derive the keys,
     * so the "issuer" is the far endpoint as seen from the flow's initiator. */
    kp_flow_endpoint(f, 1, &k.issuer, &k.issuer_port);
    kp_flow_endpoint(f, 0, &k.client, &k.client_port);
    (void)dir;
    const char *how = NULL;
    k.service = kp_engine_classify_server(eng, &k.issuer, k.issuer_port, NULL, &how);
    if (k.service == NULL) {
        k.service = "sip";
    }
    k.mechanism = "e2ee-endpoint";
    k.proto = "udp";
    k.cert_self_signed = -1;
    if (m->zrtp_types & 1) {
        kp_key_add_evidence(&k, "zrtp.hello");
    }
    if (m->zrtp_types & 2) {
        kp_key_add_evidence(&k, "zrtp.commit");
    }
    kp_key_add_evidence(&k, "zrtp.dhpart");
    kp_key_add_evidence(&k, "keys.endpoints_only");
    k.confidence = "high";
    kp_engine_emit_key(eng, &k);
}

static void sip_datagram(struct kp_engine *eng, struct kp_flow *f, int dir, const struct kp_pkt *pkt)
{
    struct kp_sip_msg msg;
    if (kp_sip_parse(&msg, pkt->payload, false) != KP_RES_OK) {
        return;
    }
    ((struct kp_udp_app *)f->app)->seen |= SEEN_SIP;
    kp_sip_flow_message(eng, f, dir, &msg, false);
}

/* What a media flow keeps once it is bypassed: exactly what its media
 * event (at the flow's end) is made of, 32 bytes instead of the 464-byte
 * analysis state, so that a bypassed call-media flow costs its flow entry
 * and this. */
struct media_summary {
    uint64_t first_media_us;
    const char *relay_service; /* static rule text or NULL */
    uint32_t ssrc;
    uint32_t seen;             /* SEEN_* bits */
    int8_t zoom_server_dir;
    uint8_t zoom_media;        /* Zoom media packets were seen */
    uint8_t srtcp, dtls_keyed;
    uint8_t is_rtp, rtp_pt, ssrc_count;
};

static void summarize(const struct kp_udp_app *app, struct media_summary *sum)
{
    const struct media_state *ms = &app->media;
    memset(sum, 0, sizeof(*sum));
    sum->first_media_us = ms->first_media_us;
    sum->relay_service = app->turn.svc;
    sum->ssrc = ms->track.rtp_ssrc;
    sum->seen = app->seen;
    sum->zoom_server_dir = ms->zoom_server_dir;
    sum->zoom_media = ms->zoom_media > 0;
    sum->srtcp = ms->track.is_srtcp;
    sum->dtls_keyed = app->emitted_dtls;
    sum->is_rtp = ms->track.is_rtp;
    sum->rtp_pt = ms->track.rtp_pt;
    for (size_t i = 0; i < KP_RTP_TRACK_SLOTS; i++) {
        sum->ssrc_count = (uint8_t)(sum->ssrc_count + (ms->track.slot[i].used ? 1 : 0));
    }
}

/* The media record of a flow, at its end.  What depends on other flows
 * (the SDP that announced it, the key exchange it belongs to) is resolved
 * by kp_engine_emit_media(). */
static void emit_media(struct kp_engine *eng, struct kp_flow *f, const struct media_summary *ms)
{
    bool zoom = (ms->seen & SEEN_ZOOM) && ms->zoom_media;
    bool rtp = (ms->seen & SEEN_RTP) != 0;
    if (!zoom && !rtp) {
        return;
    }
    struct kp_media_rec m;
    memset(&m, 0, sizeof(m));
    m.ts_us = ms->first_media_us != 0 ? ms->first_media_us : f->first_us;
    m.last_us = f->last_us;
    m.packets = f->pkts[0] + f->pkts[1];
    m.bytes = f->bytes[0] + f->bytes[1];
    kp_flow_endpoint(f, 0, &m.ep[0], &m.ep_port[0]);
    kp_flow_endpoint(f, 1, &m.ep[1], &m.ep_port[1]);
    if (zoom) {
        m.zoom = 1;
        m.kind = "zoom";
        m.service = "zoom";
        /* the multimedia router is the side on 8801-8810 */
        int sdir = kp_zoom_is_server_port(m.ep_port[0]) ? 0
                   : ms->zoom_server_dir >= 0            ? ms->zoom_server_dir
                                                         : 1;
        kp_media_add_evidence(&m, "zoom.media_encapsulation");
        m.server = m.ep[sdir];
        m.server_port = m.ep_port[sdir];
        m.client = m.ep[1 - sdir];
        m.client_port = m.ep_port[1 - sdir];
    }
    m.srtcp = ms->srtcp;
    m.dtls_keyed = ms->dtls_keyed;
    m.relay_service = ms->relay_service;
    m.stun_or_dtls = (ms->seen & (SEEN_STUN | SEEN_DTLS)) != 0;
    m.ssrc = ms->ssrc;
    m.payload_type = ms->is_rtp ? ms->rtp_pt : -1;
    m.ssrc_count = ms->ssrc_count;
    kp_engine_emit_media(eng, &m);
}

/* --------------------------------------------------------------- demux */

/* The flow entry outlives the analysis state: note what was recognised. */
static void note_seen(struct kp_flow *f, const struct kp_udp_app *app)
{
    static const struct {
        uint32_t app;
        uint16_t flow;
    } map[] = {{SEEN_STUN, KP_SEEN_STUN}, {SEEN_DTLS, KP_SEEN_DTLS}, {SEEN_QUIC, KP_SEEN_QUIC},
               {SEEN_GQUIC, KP_SEEN_QUIC}, {SEEN_RTP, KP_SEEN_RTP}, {SEEN_ZRTP, KP_SEEN_ZRTP},
               {SEEN_CHANNEL, KP_SEEN_TURN}, {SEEN_SIP, KP_SEEN_SIP}, {SEEN_ZOOM, KP_SEEN_ZOOM}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (app->seen & map[i].app) {
            f->seen |= map[i].flow;
        }
    }
}

static bool worth_keeping(const struct kp_udp_app *app)
{
    /* a handshake in progress, or a TURN allocation whose channels may
     * carry one later */
    return app->dtls != NULL || app->quic != NULL ||
           (app->turn.nchan > 0 && !app->emitted_dtls);
}

void kp_udp_flow_packet(struct kp_engine *eng, struct kp_flow *f, int dir,
                        const struct kp_pkt *pkt)
{
    struct kp_udp_app *app = f->app;
    if (app == NULL) {
        app = kp_engine_alloc(eng, sizeof(*app));
        if (app == NULL) {
            f->bypass = 1; /* memory budget reached: counted, not analysed */
            return;
        }
        f->app = app;
        f->app_kind = KP_APP_UDP;
    }
    if (app->inspected == 0) {
        app->media.zoom_server_dir = -1;
        kp_rtp_track_init(&app->media.track);
    }
    app->inspected++;
    uint8_t b0;
    bool zoom_port = kp_zoom_is_server_port(pkt->sport) || kp_zoom_is_server_port(pkt->dport);
    if (zoom_port) {
        zoom_datagram(app, eng, dir, pkt, true);
    } else if (app->media.zoom > 0 ||
               (app->inspected == 1 && pkt->payload.len >= 3 && pkt->payload.p[0] == 0x1f)) {
        /* a Zoom peer-to-peer flow opens with a hello (1f 02 01), then
         * carries the inner media header at offset 0 */
        zoom_datagram(app, eng, dir, pkt, false);
    }
    if (kp_rd_peek_u8(&pkt->payload, 0, &b0)) {
        /* RFC 7983 5 / RFC 9443 3: the first byte decides */
        if (b0 == 0x01 && (pkt->sport == 5246 || pkt->dport == 5246)) {
            /* CAPWAP control (RFC 5415 4.2): a 4-byte DTLS preamble, then DTLS */
            struct kp_rd inner = pkt->payload;
            if (kp_rd_skip(&inner, 4)) {
                dtls_datagram(eng, f, dir, pkt, inner, NULL, 0);
            }
        } else if (b0 <= 3) {
            stun_datagram(eng, f, dir, pkt);
        } else if (b0 >= 64 && b0 <= 79 && app->turn.nchan > 0) {
            channel_datagram(eng, f, dir, pkt);
        } else if (b0 >= 'A' && b0 <= 'Z') {
            sip_datagram(eng, f, dir, pkt);
        } else if (b0 >= 16 && b0 <= 19) {
            zrtp_datagram(eng, f, dir, pkt);
        } else if (b0 >= 128 && b0 <= 191 && !(app->seen & SEEN_ZOOM)) {
            rtp_datagram(app, eng, pkt);
        } else if (b0 >= 20 && b0 <= 63) {
            dtls_datagram(eng, f, dir, pkt, pkt->payload, NULL, 0);
        } else if (b0 >= 192) {
            quic_datagram(eng, f, dir, pkt);
            if (!(app->seen & SEEN_QUIC)) {
                gquic_datagram(eng, f, dir, pkt);
            }
        } else if (b0 >= 8 && b0 <= 15) {
            gquic_datagram(eng, f, dir, pkt); /* gQUIC public header flags (Q043 and older) */
        }
    }
    if (f->app == NULL) {
        return;
    }
    if (app->inspected >= KP_UDP_INSPECT && !worth_keeping(app)) {
        note_seen(f, app);
        emit_dtls(eng, f);
        struct media_summary *sum = NULL;
        if (app->seen & (SEEN_ZOOM | SEEN_RTP)) {
            /* a media flow: stop looking, keep only what the media event
             * is made of at the flow's end */
            sum = kp_engine_alloc(eng, sizeof(*sum));
        }
        if (sum != NULL) {
            summarize(app, sum);
            free_app(eng, f);
            f->app = sum;
            f->app_kind = KP_APP_MEDIA;
        } else if (app->seen & (SEEN_ZOOM | SEEN_RTP)) {
            free_dtls(eng, app); /* no memory for the summary: keep the state */
            free_quic(eng, app);
        } else {
            free_app(eng, f);
        }
        f->bypass = 1;
    }
}

void kp_udp_flow_release(struct kp_engine *eng, struct kp_flow *f)
{
    if (f->app_kind == KP_APP_MEDIA) {
        emit_media(eng, f, f->app);
        kp_engine_free_state(eng, f->app, sizeof(struct media_summary));
        f->app = NULL;
        f->app_kind = KP_APP_NONE;
        return;
    }
    struct kp_udp_app *app = f->app;
    if (app != NULL) {
        note_seen(f, app);
        emit_dtls(eng, f);
        struct media_summary sum;
        summarize(app, &sum);
        emit_media(eng, f, &sum);
    }
    free_app(eng, f);
}
