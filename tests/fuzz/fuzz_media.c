/* Fuzz target: media recognition (analyze/rtp.c, zoom.c, zrtp.c).
 *
 * The input is one UDP payload, given to the RTP/RTCP demultiplexer, the
 * RTP and RTCP parsers (and the multi-packet validator, fed the result),
 * the Zoom parser on a server port and on a peer-to-peer flow, and the ZRTP
 * parser with and without the CRC check.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rtp.h"
#include "zoom.h"
#include "zrtp.h"

struct state {
    struct kp_rtp rtp;
    struct kp_rtcp rtcp;
    struct kp_rtp_track track;
    struct kp_zoom_pkt zoom;
    struct kp_zrtp zrtp;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state *s = malloc(sizeof(*s));
    if (s == NULL) {
        return 0;
    }
    struct kp_rd in = kp_rd_make(data, size);
    kp_rtp_track_init(&s->track);
    (void)kp_rtp_demux(in);
    if (kp_rtp_parse(&s->rtp, in) == KP_RES_OK) {
        (void)kp_rtp_track_rtp(&s->track, &s->rtp);
        (void)kp_rtp_track_rtp(&s->track, &s->rtp);
    }
    if (kp_rtcp_parse(&s->rtcp, in) == KP_RES_OK) {
        for (size_t i = 0; i < s->rtcp.n_pkts; i++) {
            (void)kp_rtcp_type_name(s->rtcp.pkts[i].pt);
        }
        (void)kp_rtp_track_rtcp(&s->track, &s->rtcp);
    }
    for (int server = 0; server <= 1; server++) {
        if (kp_zoom_parse(&s->zoom, in, server != 0) == KP_RES_OK) {
            (void)kp_zoom_kind_name(s->zoom.kind);
        }
    }
    (void)kp_zoom_is_server_port((uint16_t)size);
    if (kp_zrtp_parse(&s->zrtp, in, true) == KP_RES_OK) {
        (void)kp_zrtp_type_name(s->zrtp.type);
    }
    (void)kp_zrtp_parse(&s->zrtp, in, false);
    free(s);
    return 0;
}
