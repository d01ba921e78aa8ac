/* Fuzz target: frame decoding (analyze/decode.c) under every link type
 * keyprov supports, and a few it does not. */
#include <string.h>

#include "decode.h"
#include "fuzz.h"

/* libpcap LINKTYPE_ values: NULL, EN10MB, PPP, RAW (12, 14, 101), PPP_HDLC
 * serial (50), LOOP, LINUX_SLL, IPV4, IPV6, LINUX_SLL2; 105 (802.11) and
 * 127 (radiotap) are not supported. */
static const int k_linktypes[] = {0, 1, 9, 12, 14, 50, 101, 108, 113, 228, 229, 276, 105, 127};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof(k_linktypes) / sizeof(k_linktypes[0]); i++) {
        struct kp_pkt pkt;
        (void)kp_decode_linktype_ok(k_linktypes[i]);
        if (kp_decode(k_linktypes[i], data, size, &pkt) == KP_RES_OK && pkt.payload.len > 0) {
            /* The payload must lie inside the frame. */
            if (pkt.payload.p < data || pkt.payload.p + pkt.payload.len > data + size) {
                __builtin_trap();
            }
        }
    }
    return 0;
}
