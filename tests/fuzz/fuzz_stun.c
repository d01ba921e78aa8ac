/* Fuzz target: STUN / TURN messages, ChannelData and STUN over TCP
 * (analyze/stun.c).
 *
 * The input is parsed as one UDP datagram (kp_stun_parse, every attribute
 * as an address, MESSAGE-INTEGRITY with the RFC 5769 password, the names),
 * as ChannelData over UDP and TCP, and as a TCP stream cut into frames by
 * kp_stun_tcp_next with the framing unknown, bare and RFC 4571; every frame
 * is parsed as what it says it is.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "stun.h"

/* RFC 5769 2.1: the short-term password of the test vectors. */
static const char k_password[] = "VOkJxbRl1RmTxUk/WvJxBt";

static void parse_msg(struct kp_stun_msg *m, struct kp_rd dgram)
{
    if (kp_stun_parse(m, dgram) != KP_RES_OK) {
        return;
    }
    (void)kp_stun_method_name(m->method);
    (void)kp_stun_class_name(m->cls);
    struct kp_stun_addr a;
    for (size_t i = 0; i < m->n_attrs; i++) {
        (void)kp_stun_attr_name(m->attrs[i].type);
        (void)kp_stun_attr_address(m, i, &a);
    }
    (void)kp_stun_attr_address(m, m->n_attrs, &a); /* out of range: must say no */
    (void)kp_stun_check_integrity(m, (const uint8_t *)k_password, sizeof(k_password) - 1);
}

static void walk_tcp(struct kp_stun_msg *m, struct kp_rd stream, enum kp_stun_framing framing)
{
    struct kp_stun_tcp_frame fr;
    for (int i = 0; i < 64 && kp_stun_tcp_next(&fr, &stream, &framing) == KP_RES_OK; i++) {
        struct kp_stun_channel_data cd;
        switch (fr.kind) {
        case KP_STUN_FRAME_STUN:
            parse_msg(m, fr.msg);
            break;
        case KP_STUN_FRAME_CHANNEL_DATA:
            (void)kp_stun_parse_channel_data(&cd, fr.msg, false);
            break;
        default:
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kp_stun_msg *m = malloc(sizeof(*m));
    if (m == NULL) {
        return 0;
    }
    struct kp_rd in = kp_rd_make(data, size);
    parse_msg(m, in);

    struct kp_stun_channel_data cd;
    (void)kp_stun_parse_channel_data(&cd, in, false);
    (void)kp_stun_parse_channel_data(&cd, in, true);

    walk_tcp(m, in, KP_STUN_FRAMING_UNKNOWN);
    walk_tcp(m, in, KP_STUN_FRAMING_BARE);
    walk_tcp(m, in, KP_STUN_FRAMING_RFC4571);

    (void)kp_stun_crc32(data, size);
    free(m);
    return 0;
}
