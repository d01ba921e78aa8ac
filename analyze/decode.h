/* Link, network and transport decoding of one captured frame. */
#ifndef KP_DECODE_H
#define KP_DECODE_H

#include "kp.h"

#define KP_PROTO_TCP 6
#define KP_PROTO_UDP 17

#define KP_TCP_FIN 0x01
#define KP_TCP_SYN 0x02
#define KP_TCP_RST 0x04
#define KP_TCP_ACK 0x10

/* A decoded packet; payload borrows the frame's bytes. */
struct kp_pkt {
    struct kp_addr src, dst;
    uint16_t sport, dport;
    uint8_t proto;     /* KP_PROTO_TCP, KP_PROTO_UDP, or another IP protocol */
    uint8_t ipver;     /* 4 or 6 */
    uint8_t tcp_flags;
    uint8_t fragment;  /* 1: an IP fragment (not reassembled; not decoded further) */
    uint8_t tunnel_depth; /* 1: decapsulated from GTP-U (UDP 2152) */
    uint32_t seq, ack;
    struct kp_rd payload;
};

/* Decode a frame of the given libpcap link type.  Returns OK when the packet
 * was decoded down to TCP/UDP (or is a fragment / another IP protocol, with
 * proto saying so), NOT_MINE for non-IP frames (ARP, ...), TRUNCATED when the
 * capture cut a header short, MALFORMED for impossible header values. */
enum kp_res kp_decode(int linktype, const uint8_t *data, size_t caplen, struct kp_pkt *out);

/* Whether kp_decode understands the link type. */
bool kp_decode_linktype_ok(int linktype);

#endif
