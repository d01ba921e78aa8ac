#include "sg_tcp.h"

#include <string.h>

/* How long after a segment arrives the receiver's immediate ACK leaves. */
#define QUICK_ACK_US 40u

void sg_tcp_init(struct sg_tcp *c, struct sg_cap *cap, const struct sg_tcp_end *client,
		 const struct sg_tcp_end *server, uint32_t rtt_us)
{
	memset(c, 0, sizeof(*c));
	c->cap = cap;
	c->end[SG_TCP_CLIENT] = *client;
	c->end[SG_TCP_SERVER] = *server;
	c->rtt_us = rtt_us;
	c->snd_nxt[SG_TCP_CLIENT] = client->isn;
	c->snd_nxt[SG_TCP_SERVER] = server->isn;
}

/* The capture time at which the peer of side would answer a segment side sends at t. */
static uint64_t arrival(const struct sg_tcp *c, int side, uint64_t t)
{
	return side == SG_TCP_CLIENT ? t + c->rtt_us : t;
}

static uint32_t tsval(const struct sg_tcp *c, int side, uint64_t t)
{
	/* A millisecond clock (RFC 7323 section 5.4 allows 1 ms to 1 s ticks). */
	return c->end[side].ts_base + (uint32_t)(t / 1000u);
}

static void emit(struct sg_tcp *c, int side, uint64_t t, uint8_t flags, const uint8_t *data, size_t len)
{
	const struct sg_tcp_end *me = &c->end[side];
	const struct sg_tcp_end *peer = &c->end[!side];
	uint8_t opts[20];
	size_t olen = 0;
	uint8_t frame[SG_FRAME_MAX];
	struct sg_l3 l3;
	struct sg_tcp_hdr th;
	size_t flen;
	uint32_t tsv = tsval(c, side, t);

	if (c->err != 0) {
		return;
	}
	if (flags & SG_TCP_SYN) {
		/* Linux's SYN option order: MSS, SACK permitted, timestamps, NOP, window scale. */
		opts[olen++] = 2;
		opts[olen++] = 4;
		sg_put16(opts + olen, 1460);
		olen += 2;
		opts[olen++] = 4;
		opts[olen++] = 2;
		opts[olen++] = 8;
		opts[olen++] = 10;
		sg_put32(opts + olen, tsv);
		sg_put32(opts + olen + 4, (flags & SG_TCP_ACK) ? c->ts_recent[side] : 0);
		olen += 8;
		opts[olen++] = 1;
		opts[olen++] = 3;
		opts[olen++] = 3;
		opts[olen++] = me->wscale;
	} else {
		opts[olen++] = 1;
		opts[olen++] = 1;
		opts[olen++] = 8;
		opts[olen++] = 10;
		sg_put32(opts + olen, tsv);
		sg_put32(opts + olen + 4, c->ts_recent[side]);
		olen += 8;
	}

	memcpy(l3.src_mac, me->mac, 6);
	memcpy(l3.dst_mac, peer->mac, 6);
	l3.src_ip = me->ip;
	l3.dst_ip = peer->ip;
	l3.ip_id = 0; /* numbered in capture order by sg_cap_write */
	l3.ttl = me->ttl;

	th.sport = me->port;
	th.dport = peer->port;
	th.seq = c->snd_nxt[side];
	th.ack = (flags & SG_TCP_ACK) ? c->rcv_nxt[side] : 0;
	th.flags = flags;
	th.window = (flags & SG_TCP_SYN) ? me->syn_window : me->window;
	th.opts = opts;
	th.opts_len = olen;

	flen = sg_frame_tcp(frame, sizeof(frame), &l3, &th, data, len);
	if (flen == 0 || sg_cap_add(c->cap, t, frame, flen) != 0) {
		c->err = -1;
		return;
	}

	c->snd_nxt[side] += (uint32_t)len + ((flags & (SG_TCP_SYN | SG_TCP_FIN)) ? 1u : 0u);
	if (t > c->now) {
		c->now = t;
	}
	/*
	 * Delivery: the peer now holds everything up to snd_nxt. Only segments
	 * that occupy sequence space move the peer's clock for replies and its
	 * TS.Recent, so a pure ACK the peer has not yet received is never echoed.
	 */
	c->rcv_nxt[!side] = c->snd_nxt[side];
	if (len > 0 || (flags & (SG_TCP_SYN | SG_TCP_FIN))) {
		c->ts_recent[!side] = tsv;
		c->rx_at[!side] = arrival(c, side, t);
	}
	if (flags & SG_TCP_ACK) {
		c->ack_owed[side] = false;
	}
}

void sg_tcp_open(struct sg_tcp *c, uint64_t t)
{
	emit(c, SG_TCP_CLIENT, t, SG_TCP_SYN, NULL, 0);
	emit(c, SG_TCP_SERVER, t + c->rtt_us, SG_TCP_SYN | SG_TCP_ACK, NULL, 0);
	emit(c, SG_TCP_CLIENT, t + c->rtt_us + QUICK_ACK_US, SG_TCP_ACK, NULL, 0);
}

uint64_t sg_tcp_reply_time(const struct sg_tcp *c, int side, uint32_t proc_us)
{
	return c->rx_at[side] + proc_us;
}

/* An ACK owed by side that a reply at t would come too late to carry goes out alone first. */
static void settle_owed_ack(struct sg_tcp *c, int side, uint64_t t)
{
	if (c->ack_owed[side] && t > c->ack_owed_at[side] + SG_TCP_DELACK_US) {
		emit(c, side, c->ack_owed_at[side] + SG_TCP_DELACK_US, SG_TCP_ACK, NULL, 0);
	}
}

void sg_tcp_send(struct sg_tcp *c, int side, uint64_t t, const uint8_t *data, size_t len)
{
	int peer = !side;
	size_t off = 0;
	unsigned nseg = 0;

	settle_owed_ack(c, side, t);
	while (off < len) {
		size_t seg = len - off < SG_TCP_SEG ? len - off : SG_TCP_SEG;
		bool last = off + seg == len;
		uint64_t wire = ((uint64_t)(seg + 66) * 8000u) / c->end[side].rate_kbps;

		emit(c, side, t, (uint8_t)(SG_TCP_ACK | (last ? SG_TCP_PSH : 0)), data + off, seg);
		nseg++;
		/* RFC 9293 section 3.8.6.3 / RFC 1122: ACK at least every second full segment. */
		if (nseg % 2 == 0) {
			emit(c, peer, c->rx_at[peer] + QUICK_ACK_US, SG_TCP_ACK, NULL, 0);
		} else {
			c->ack_owed[peer] = true;
			c->ack_owed_at[peer] = c->rx_at[peer];
		}
		off += seg;
		t += wire > 0 ? wire : 1;
	}
}

void sg_tcp_fin(struct sg_tcp *c, int side, uint64_t t)
{
	settle_owed_ack(c, side, t);
	emit(c, side, t, SG_TCP_FIN | SG_TCP_ACK, NULL, 0);
	c->ack_owed[!side] = true;
	c->ack_owed_at[!side] = c->rx_at[!side];
}

void sg_tcp_ack(struct sg_tcp *c, int side, uint64_t t)
{
	if (c->ack_owed[side]) {
		emit(c, side, t, SG_TCP_ACK, NULL, 0);
	}
}
