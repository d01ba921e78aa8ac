/* Fuzz target: SIP messages and SDP bodies (analyze/sip.c).
 *
 * The input is parsed as one SIP datagram (and its body as SDP), as the
 * start of a SIP stream (messages back to back, each body as SDP), and as an
 * SDP description on its own.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sip.h"

struct state {
    struct kp_sip_msg msg;
    struct kp_sdp sdp;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state *s = malloc(sizeof(*s));
    if (s == NULL) {
        return 0;
    }
    struct kp_rd in = kp_rd_make(data, size);
    if (kp_sip_parse(&s->msg, in, false) == KP_RES_OK) {
        (void)kp_sdp_parse(&s->sdp, s->msg.body);
    }

    struct kp_rd stream = in;
    for (int i = 0; i < 32; i++) {
        enum kp_res r = kp_sip_parse(&s->msg, stream, true);
        if (r == KP_RES_TRUNCATED && s->msg.msg_len > 0 && s->msg.msg_len <= stream.len) {
            /* Keep-alive CRLFs the reader may drop. */
            if (!kp_rd_skip(&stream, s->msg.msg_len)) {
                break;
            }
            continue;
        }
        if (r != KP_RES_OK) {
            break;
        }
        (void)kp_sdp_parse(&s->sdp, s->msg.body);
        if (s->msg.msg_len == 0 || !kp_rd_skip(&stream, s->msg.msg_len)) {
            break;
        }
    }

    (void)kp_sdp_parse(&s->sdp, in);
    free(s);
    return 0;
}
