/*
 * sg_tcp: one simulated TCP connection, seen from a capture point at the
 * client. Times are capture times in microseconds; a server "sends at t"
 * means its segment passes the capture point at t. The simulation keeps
 * sequence and acknowledgement numbers, RFC 7323 timestamps, delayed ACKs
 * (every second full segment at once, otherwise within SG_TCP_DELACK_US or
 * piggybacked on the reply) and per-side pacing, and appends frames to an
 * sg_cap. No losses, no retransmissions, no window limits.
 */
#ifndef SG_TCP_H
#define SG_TCP_H

#include "sg_cap.h"
#include "sg_frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_TCP_CLIENT 0
#define SG_TCP_SERVER 1

/* Payload per segment: MSS 1460 less the 12 bytes of the timestamps option. */
#define SG_TCP_SEG 1448u
#define SG_TCP_DELACK_US 40000u

struct sg_tcp_end {
	uint8_t mac[6];
	uint32_t ip;
	uint16_t port;
	uint8_t ttl;          /* as seen at the capture point */
	uint32_t rate_kbps;   /* sending rate, paces this side's back-to-back segments */
	uint32_t isn;         /* initial sequence number */
	uint32_t ts_base;     /* TSval clock at time 0 */
	uint16_t syn_window;  /* window in the SYN / SYN-ACK */
	uint8_t wscale;       /* window scale shift announced in the SYN */
	uint16_t window;      /* window field after the handshake (scaled) */
};

struct sg_tcp {
	struct sg_cap *cap;
	struct sg_tcp_end end[2];
	uint32_t rtt_us;
	uint32_t snd_nxt[2];
	uint32_t rcv_nxt[2];
	uint32_t ts_recent[2];  /* latest TSval each side received */
	uint64_t rx_at[2];      /* when each side received its latest segment */
	uint64_t now;           /* latest capture time used */
	bool ack_owed[2];       /* received data not acknowledged yet */
	uint64_t ack_owed_at[2];
	int err;                /* sticky: -1 after an out-of-memory or framing failure */
};

/* Sets up a connection between end[0] (client) and end[1] (server). */
void sg_tcp_init(struct sg_tcp *c, struct sg_cap *cap, const struct sg_tcp_end *client,
		 const struct sg_tcp_end *server, uint32_t rtt_us);

/* SYN at t, SYN-ACK one RTT later, ACK right after. */
void sg_tcp_open(struct sg_tcp *c, uint64_t t);

/*
 * When side can first answer what it has received, after proc_us of
 * processing: for the server, one RTT after the client's latest segment.
 */
uint64_t sg_tcp_reply_time(const struct sg_tcp *c, int side, uint32_t proc_us);

/* Sends data[0..len) from side starting at t, cut into SG_TCP_SEG segments. */
void sg_tcp_send(struct sg_tcp *c, int side, uint64_t t, const uint8_t *data, size_t len);

/* Sends a FIN from side at t. */
void sg_tcp_fin(struct sg_tcp *c, int side, uint64_t t);

/* Sends a pure ACK from side at t if it owes one. */
void sg_tcp_ack(struct sg_tcp *c, int side, uint64_t t);

#endif
