/*
 * sg_frame: Internet checksums and Ethernet/IPv4/TCP/UDP framing for the
 * sample generator (kp-samplegen). Pure functions over caller buffers; no
 * allocation, no global state.
 */
#ifndef SG_FRAME_H
#define SG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_ETH_HLEN 14u
#define SG_IPV4_HLEN 20u
#define SG_TCP_HLEN 20u
#define SG_UDP_HLEN 8u
/* Shortest Ethernet frame without FCS; shorter frames are zero-padded. */
#define SG_ETH_MIN_FRAME 60u
/* Largest frame the generator builds (IPv4 MTU 1500 + Ethernet header). */
#define SG_FRAME_MAX 1514u

#define SG_TCP_FIN 0x01u
#define SG_TCP_SYN 0x02u
#define SG_TCP_RST 0x04u
#define SG_TCP_PSH 0x08u
#define SG_TCP_ACK 0x10u

#define SG_IPPROTO_TCP 6u
#define SG_IPPROTO_UDP 17u

/*
 * Adds len bytes to a running RFC 1071 one's-complement sum of big-endian
 * 16-bit words. An odd trailing byte is padded with a zero byte, so only the
 * last call for one checksum may pass an odd length.
 */
uint32_t sg_cksum_add(uint32_t sum, const uint8_t *p, size_t len);

/* Folds the carries of a running sum and returns its one's complement. */
uint16_t sg_cksum_finish(uint32_t sum);

/* The IPv4 header checksum (RFC 791) of hdr[0..len), checksum field included as is. */
uint16_t sg_ipv4_cksum(const uint8_t *hdr, size_t len);

/*
 * The TCP (RFC 9293 section 3.1) or UDP (RFC 768) checksum of seg[0..len) with
 * the IPv4 pseudo-header (src, dst, zero, proto, length). src and dst are in
 * host byte order. The checksum field inside seg is summed as is: zero it
 * first to compute, leave it to verify (a correct segment then yields 0).
 * For UDP, a computed value of 0 must be sent as 0xffff (RFC 768).
 */
uint16_t sg_l4_cksum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg, size_t len);

/* Link and network fields shared by every frame. Addresses in host byte order. */
struct sg_l3 {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t ip_id;
	uint8_t ttl;
};

struct sg_tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t window;
	const uint8_t *opts; /* options, padded by the caller to a multiple of 4 */
	size_t opts_len;     /* at most 40 */
};

/*
 * Writes an Ethernet II / IPv4 (DF set, no options) / TCP frame carrying
 * payload[0..len) into out[0..cap), with both checksums. Returns the frame
 * length (padded to SG_ETH_MIN_FRAME), or 0 when it does not fit or the
 * options are malformed in length.
 */
size_t sg_frame_tcp(uint8_t *out, size_t cap, const struct sg_l3 *l3, const struct sg_tcp_hdr *tcp,
		    const uint8_t *payload, size_t len);

/* As sg_frame_tcp for a UDP datagram from sport to dport. */
size_t sg_frame_udp(uint8_t *out, size_t cap, const struct sg_l3 *l3, uint16_t sport, uint16_t dport,
		    const uint8_t *payload, size_t len);

/*
 * Rewrites the IPv4 identification of an Ethernet/IPv4 frame built above and
 * recomputes the header checksum (TCP/UDP checksums do not cover it). Returns
 * false, changing nothing, if frame is not long enough to hold the headers.
 */
bool sg_frame_set_ip_id(uint8_t *frame, size_t len, uint16_t id);

/* Parses a dotted-quad IPv4 address into host byte order. */
bool sg_parse_ipv4(const char *s, uint32_t *out);

/* Big-endian stores. */
void sg_put16(uint8_t *p, uint16_t v);
void sg_put32(uint8_t *p, uint32_t v);

#endif
