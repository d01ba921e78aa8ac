/* SIP messages, from UDP datagrams or TCP streams: SDES key records and the
 * media endpoints their SDP announces.
 *
 * RFC 4568: each side of a call writes, in its own SDP, the SRTP master key
 * it will send with (a=crypto ... inline:KEY).  Whoever reads that SDP can
 * decrypt that side's media, so the writer of the SDP is the key's issuer,
 * and SIP in clear exposes it to everyone on the path.  keyprov reports the
 * suite and a hash of the key, never the key.
 */
#include <stdio.h>
#include <string.h>

#include "classify.h"
#include "engine.h"
#include "sip.h"

static bool view_eq_ci(struct kp_rd v, const char *s)
{
    size_t n = strlen(s);
    if (v.len < n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t a = v.p[i], b = (uint8_t)s[i];
        if (a >= 'A' && a <= 'Z') {
            a = (uint8_t)(a + 32);
        }
        if (a != b) {
            return false;
        }
    }
    return true;
}

static bool proto_is_srtp(struct kp_rd proto)
{
    /* RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP(F) (RFC 3711, RFC 5764 8) */
    for (size_t i = 0; i + 4 <= proto.len; i++) {
        if (memcmp(proto.p + i, "SAVP", 4) == 0) {
            return true;
        }
    }
    return false;
}

static void copy_view(char *dst, size_t cap, struct kp_rd v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = v.p[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[n] = '\0';
}

void kp_sip_flow_message(struct kp_engine *eng, const struct kp_flow *f, int dir,
                         const struct kp_sip_msg *msg, bool over_tls)
{
    if (msg->body.len == 0 ||
        !(msg->content_type.len == 0 || view_eq_ci(msg->content_type, "application/sdp"))) {
        return;
    }
    struct kp_sdp sdp;
    if (kp_sdp_parse(&sdp, msg->body) != KP_RES_OK) {
        return;
    }
    struct kp_addr sender, receiver;
    uint16_t sport, rport;
    kp_flow_endpoint(f, dir, &sender, &sport);
    kp_flow_endpoint(f, 1 - dir, &receiver, &rport);

    /* The media this SDP announces (RFC 4566 5.7, 5.14): the flows that will
     * carry it are recognised when they start. */
    for (size_t i = 0; i < sdp.n_media; i++) {
        const struct kp_sdp_media *m = &sdp.media[i];
        const struct kp_sdp_conn *c = m->conn.present ? &m->conn : &sdp.conn;
        if (m->port_ok && c->present && c->addr_ok) {
            kp_engine_expect(eng, &c->addr, m->port, proto_is_srtp(m->proto),
                             m->attrs.crypto_total > 0 || sdp.attrs.crypto_total > 0);
        }
    }

    for (size_t i = 0; i < sdp.n_crypto; i++) {
        const struct kp_sdp_crypto *cr = &sdp.crypto[i];
        /* (kp_engine_emit_key drops the same key seen again: retransmission,
         * re-INVITE) */
        struct kp_key_rec k;
        memset(&k, 0, sizeof(k));
        k.ts_us = eng->now_us;
        k.service = "sip";
        k.mechanism = over_tls ? "sdes-tls" : "sdes-cleartext";
        k.proto = f->key.proto == KP_PROTO_TCP ? "tcp" : "udp";
        k.cert_self_signed = -1;
        k.issuer = sender;
        k.issuer_port = sport;
        k.client = receiver;
        k.client_port = rport;
        copy_view(k.sdes_suite, sizeof(k.sdes_suite), cr->suite);
        snprintf(k.sdes_key_sha256, sizeof(k.sdes_key_sha256), "%s", cr->key_hash_hex);
        kp_key_add_evidence(&k, msg->is_request ? "sip.request.sdp" : "sip.response.sdp");
        kp_key_add_evidence(&k, "sdp.crypto");
        if (!over_tls) {
            kp_key_add_evidence(&k, "sip.unencrypted");
        }
        k.confidence = "high";
        kp_engine_emit_key(eng, &k);
    }
}
