/*
 * sg_udp: the UDP flows of a scenario: a DNS lookup and a Zoom
 * multimedia-router media flow (encapsulation per Michel et al., IMC 2022;
 * see shared NOTES). Payloads come from the flow's deterministic PRNG.
 */
#ifndef SG_UDP_H
#define SG_UDP_H

#include "sg_cap.h"
#include "sg_rng.h"

#include <stdint.h>

struct sg_udp_ends {
	uint8_t client_mac[6];
	uint8_t server_mac[6];
	uint32_t client_ip;
	uint32_t server_ip;
	uint16_t client_port;
	uint16_t server_port;
	uint8_t client_ttl;
	uint8_t server_ttl;
	uint32_t rtt_us;
};

/* A query for name's A record at t0 and the answer answer_ip one RTT later. Returns 0 or -1 (memory). */
int sg_dns_run(struct sg_cap *cap, const struct sg_udp_ends *e, uint64_t t0, const char *name,
	       uint32_t answer_ip, struct sg_rng *rng);

/*
 * A Zoom server media flow starting at t0: the client's and the server's
 * first packets (01 00 02 ... / 02 00 02 ...), then audio (type 15, 50
 * packets/s) for audio_ms and video (type 16, 10 frames/s of two packets)
 * for video_ms in each direction, inside the 8-byte outer header (type 0x05,
 * sequence, direction 0x00 to Zoom / 0x04 from Zoom). Returns 0 or -1.
 */
int sg_zoom_media_run(struct sg_cap *cap, const struct sg_udp_ends *e, uint64_t t0, uint32_t audio_ms,
		      uint32_t video_ms, struct sg_rng *rng);

/* Zoom media layout constants, shared with the tests. */
#define SG_ZOOM_OUTER_LEN 8u
#define SG_ZOOM_TYPE_MEDIA 0x05u
#define SG_ZOOM_DIR_TO_ZOOM 0x00u
#define SG_ZOOM_DIR_FROM_ZOOM 0x04u
#define SG_ZOOM_AUDIO 15u
#define SG_ZOOM_VIDEO 16u
#define SG_ZOOM_AUDIO_RTP_OFF 19u
#define SG_ZOOM_VIDEO_RTP_OFF 24u /* when inner byte 20 is 0x02 */

#endif
