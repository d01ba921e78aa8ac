/* Zoom's UDP media encapsulation (Michel et al., "Enabling Passive
 * Measurement of Zoom Performance in Production Networks", IMC 2022; see
 * NOTES.md "Zoom on the wire").
 *
 * Server flows (a multimedia router on UDP 8801..8810) carry an 8-byte
 * outer header: byte 0 type (0x05 = media follows), bytes 1-2 a sequence
 * number, byte 7 the direction (0x00 to Zoom, 0x04 from Zoom).  A flow opens
 * with a client packet `01 00 0x` and a server answer `02 00 0x`.
 * Peer-to-peer flows carry the inner media header at offset 0 and open with
 * `1f 02 01` followed by a length-value list.
 *
 * The inner header's first byte is its type: 15 audio (RTP at +19), 16 video
 * (RTP at +24 when inner byte 20 is 0x02, else +20), 13 screen share through
 * the server (subtype 0x1e at +7, RTP at +27), 30 screen share P2P (RTP at
 * +20), 33..35 RTCP (at +16).  Audio and video carry a sequence number at
 * +9..10 and a timestamp at +11..14.
 *
 * The layout changed between client versions, so no offset is trusted: an
 * RTP (or RTCP) header must parse at the offset, and the table offset is
 * tried first, then the alternatives each type has been seen with:
 *   - video at the other of +20 / +24;
 *   - a type-7 wrapper that shifts the whole inner header by 7 bytes
 *     (reported by later measurement tools);
 *   - on server ports, a 1-byte outer header (`05` then the inner header at
 *     offset 1, no sequence or direction: zoom_ndpi.pcap).
 * Alternatives are accepted only with a stricter check than the table
 * offset (see kp_zoom_parse).  `rtp_off` and `rtp_alt` report what matched.
 *
 * Pure: no allocation, no state; views borrow udp_payload.
 */
#ifndef KP_ZOOM_H
#define KP_ZOOM_H

#include "kp.h"
#include "rtp.h"

#define KP_ZOOM_PORT_MIN 8801
#define KP_ZOOM_PORT_MAX 8810

/* Outer header (server flows). */
#define KP_ZOOM_OUTER_LEN 8
#define KP_ZOOM_OUTER_HELLO_CLIENT 0x01 /* 01 00 0x: the client opens the flow */
#define KP_ZOOM_OUTER_HELLO_SERVER 0x02 /* 02 00 0x: the server answers */
#define KP_ZOOM_OUTER_MEDIA 0x05        /* media follows */
#define KP_ZOOM_DIR_BYTE_TO 0x00        /* byte 7, to Zoom */
#define KP_ZOOM_DIR_BYTE_FROM 0x04      /* byte 7, from Zoom */

/* Inner header types. */
#define KP_ZOOM_T_WRAP 7        /* wrapper: the real inner header starts 7 bytes later */
#define KP_ZOOM_T_SCREEN 13     /* screen share via the server (subtype 0x1e at +7) */
#define KP_ZOOM_T_AUDIO 15
#define KP_ZOOM_T_VIDEO 16
#define KP_ZOOM_T_SCREEN_P2P 30
#define KP_ZOOM_T_RTCP_FIRST 33
#define KP_ZOOM_T_RTCP_LAST 35
#define KP_ZOOM_SCREEN_SUBTYPE 0x1e

/* Largest P2P hello list item kept (an address as text, a UUID). */
#define KP_ZOOM_P2P_MAX_ITEMS 4

enum kp_zoom_kind {
    KP_ZOOM_UNKNOWN = 0,   /* Zoom server framing (outer 0x05) around an inner header whose
                              type or RTP did not validate */
    KP_ZOOM_AUDIO,         /* inner type 15 with a valid RTP header */
    KP_ZOOM_VIDEO,         /* inner type 16 with a valid RTP header */
    KP_ZOOM_SCREEN,        /* inner type 13 (subtype 0x1e) or 30 with a valid RTP header */
    KP_ZOOM_RTCP,          /* inner type 33..35 with a valid RTCP header */
    KP_ZOOM_CONTROL,       /* server-flow set-up / keep-alive: outer type 0x01 or 0x02 with
                              `00 01..03` after it, or outer type 0x03, 0x04 or 0x07 */
    KP_ZOOM_P2P_HELLO      /* `1f 02 01` opening a peer-to-peer flow */
};

enum kp_zoom_dir {
    KP_ZOOM_DIR_UNKNOWN = 0, /* no direction byte, or a value not in the lists below */
    KP_ZOOM_DIR_TO_ZOOM,     /* outer byte 7 is 0x00 or 0x01; or an 01 00 0x hello */
    KP_ZOOM_DIR_FROM_ZOOM    /* outer byte 7 is 0x04 or 0x05; or an 02 00 0x hello */
};

struct kp_zoom_pkt {
    enum kp_zoom_kind kind;
    enum kp_zoom_dir dir;

    /* Outer header (server flows). */
    bool has_outer;         /* server_port was true */
    uint8_t outer_type;     /* byte 0 */
    bool has_outer_seq;     /* the 8-byte outer header was used */
    uint16_t outer_seq;     /* bytes 1-2 */
    uint8_t outer_dir;      /* byte 7 (raw) when has_outer_seq */
    uint8_t hello_version;  /* byte 2 of an 01/02 00 0x hello */

    /* Inner media header. */
    bool has_inner;
    size_t inner_off;       /* offset of the inner header in the UDP payload */
    uint8_t inner_type;
    bool wrapped;           /* found inside a type-7 wrapper */
    bool has_media_seq;     /* audio / video / P2P screen share */
    uint16_t media_seq;     /* inner +9..10 */
    uint32_t media_ts;      /* inner +11..14 */

    /* The media header that validated (kind AUDIO..RTCP). */
    size_t rtp_off;         /* offset of the RTP or RTCP header in the UDP payload */
    size_t rtp_rel;         /* the same, relative to the inner header */
    bool rtp_alt;           /* true if rtp_off is not the NOTES.md table offset for this type
                               in the standard layout (an alternative matched) */
    bool has_rtp;           /* AUDIO, VIDEO, SCREEN: rtp is valid */
    struct kp_rtp rtp;
    bool has_rtcp;          /* RTCP: rtcp is valid */
    struct kp_rtcp rtcp;

    /* P2P hello: the length-value list (4-byte big-endian lengths) that ends
     * in a zero length.  The items seen are an IP address as text and a
     * UUID-like identifier. */
    bool p2p_list_ok;       /* a list ending exactly at the end of the datagram was found */
    size_t p2p_list_off;    /* where it starts */
    uint32_t p2p_items_total;
    size_t n_p2p_items;
    struct kp_rd p2p_item[KP_ZOOM_P2P_MAX_ITEMS];
};

/* True for UDP 8801..8810 (Zoom's multimedia routers). */
bool kp_zoom_is_server_port(uint16_t port);

/* Recognise one UDP payload of a Zoom flow.  server_port: one end of the
 * flow is on UDP 8801..8810 (outer header expected); false for P2P flows
 * (inner header at 0).
 *
 * KP_RES_OK: a Zoom packet; out->kind says which.  On server ports, any
 * datagram with outer type 0x05 and an inner type byte (9 bytes or more) is
 * OK (kind UNKNOWN when nothing inside validates); on P2P flows only a hello
 * or a media type whose RTP/RTCP validates is OK.
 * KP_RES_NOT_MINE: nothing Zoom-shaped.
 * KP_RES_TRUNCATED: a prefix of something Zoom-shaped: a server-flow 0x05
 * of 8 bytes or less, a hello shorter than 3 bytes, a 0x03/0x04 shorter
 * than 13 (0x07: 5), or a media type whose RTP/RTCP header at the table
 * offset runs past the end (when no alternative matched).
 * The RTP/RTCP view is accepted at the table offset when kp_rtp_parse or
 * kp_rtcp_parse returns OK (for RTCP also: type 200..206); at an alternative
 * offset only if additionally the RTP header has no CSRC and an RFC 8285
 * extension block (as every Zoom RTP header seen has), or the RTCP compound
 * tiles the rest of the datagram. */
enum kp_res kp_zoom_parse(struct kp_zoom_pkt *out, struct kp_rd udp_payload, bool server_port);

/* "audio", "video", "screen", "rtcp", "control", "p2p-hello", "unknown". */
const char *kp_zoom_kind_name(enum kp_zoom_kind kind);

#endif
