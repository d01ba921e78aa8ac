#include "sg_udp.h"

#include "sg_frame.h"

#include <stdbool.h>
#include <string.h>

#define C 0
#define S 1

static int put_udp(struct sg_cap *cap, const struct sg_udp_ends *e, int from, uint64_t t, const uint8_t *payload,
		   size_t len)
{
	uint8_t frame[SG_FRAME_MAX];
	struct sg_l3 l3;
	size_t n;

	memcpy(l3.src_mac, from == C ? e->client_mac : e->server_mac, 6);
	memcpy(l3.dst_mac, from == C ? e->server_mac : e->client_mac, 6);
	l3.src_ip = from == C ? e->client_ip : e->server_ip;
	l3.dst_ip = from == C ? e->server_ip : e->client_ip;
	l3.ip_id = 0; /* numbered in capture order by sg_cap_write */
	l3.ttl = from == C ? e->client_ttl : e->server_ttl;
	n = sg_frame_udp(frame, sizeof(frame), &l3, from == C ? e->client_port : e->server_port,
			 from == C ? e->server_port : e->client_port, payload, len);
	if (n == 0) {
		return -1;
	}
	return sg_cap_add(cap, t, frame, n);
}

/* RFC 1035 section 3.1: a name as length-prefixed labels. Returns the length written, 0 if it does not fit. */
static size_t put_qname(uint8_t *out, size_t cap, const char *name)
{
	size_t o = 0;

	while (*name != '\0') {
		size_t l = strcspn(name, ".");

		if (l == 0 || l > 63 || o + 1 + l + 1 > cap) {
			return 0;
		}
		out[o++] = (uint8_t)l;
		memcpy(out + o, name, l);
		o += l;
		name += l;
		if (*name == '.') {
			name++;
		}
	}
	if (o + 1 > cap) {
		return 0;
	}
	out[o++] = 0;
	return o;
}

int sg_dns_run(struct sg_cap *cap, const struct sg_udp_ends *e, uint64_t t0, const char *name,
	       uint32_t answer_ip, struct sg_rng *rng)
{
	uint8_t m[512];
	size_t q;
	size_t len;
	uint16_t id = (uint16_t)sg_rng_u32(rng);

	/* RFC 1035 section 4.1.1: ID, RD set, one question. */
	memset(m, 0, 12);
	sg_put16(m, id);
	sg_put16(m + 2, 0x0100);
	sg_put16(m + 4, 1);
	q = put_qname(m + 12, sizeof(m) - 12 - 4 - 16, name);
	if (q == 0) {
		return -1;
	}
	len = 12 + q;
	sg_put16(m + len, 1); /* QTYPE A */
	sg_put16(m + len + 2, 1); /* QCLASS IN */
	len += 4;
	if (put_udp(cap, e, C, t0, m, len) != 0) {
		return -1;
	}

	/* The answer: QR, RD, RA; one A record pointing back at the question's name. */
	sg_put16(m + 2, 0x8180);
	sg_put16(m + 6, 1);
	sg_put16(m + len, 0xc00c);
	sg_put16(m + len + 2, 1);
	sg_put16(m + len + 4, 1);
	sg_put32(m + len + 6, 60);
	sg_put16(m + len + 10, 4);
	sg_put32(m + len + 12, answer_ip);
	len += 16;
	return put_udp(cap, e, S, t0 + e->rtt_us + 400, m, len);
}

/* One direction of the media flow. */
struct stream_dir {
	uint16_t outer_seq;
	uint8_t dir;
	uint32_t audio_id;
	uint32_t audio_ssrc;
	uint16_t audio_seq;
	uint32_t audio_ts;
	uint32_t video_id;
	uint32_t video_ssrc;
	uint16_t video_seq;
	uint32_t video_ts;
	uint8_t video_frame;
};

static void stream_init(struct stream_dir *d, uint8_t dir, struct sg_rng *rng)
{
	memset(d, 0, sizeof(*d));
	d->dir = dir;
	d->outer_seq = (uint16_t)sg_rng_u32(rng);
	d->audio_id = sg_rng_u32(rng);
	d->audio_ssrc = sg_rng_u32(rng);
	d->audio_seq = (uint16_t)sg_rng_u32(rng);
	d->audio_ts = sg_rng_u32(rng);
	d->video_id = sg_rng_u32(rng);
	d->video_ssrc = sg_rng_u32(rng);
	d->video_seq = (uint16_t)sg_rng_u32(rng);
	d->video_ts = sg_rng_u32(rng);
}

static size_t put_outer(uint8_t *p, struct stream_dir *d, uint32_t flow_id)
{
	p[0] = SG_ZOOM_TYPE_MEDIA;
	sg_put16(p + 1, d->outer_seq++);
	sg_put32(p + 3, flow_id);
	p[7] = d->dir;
	return SG_ZOOM_OUTER_LEN;
}

/* RFC 3550 section 5.1 fixed header, version 2, no padding, extension or CSRC. */
static void put_rtp(uint8_t *p, bool marker, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	sg_put16(p + 2, seq);
	sg_put32(p + 4, ts);
	sg_put32(p + 8, ssrc);
}

#define AUDIO_PT 112u
#define VIDEO_PT 98u
#define AUDIO_STEP_US 20000u
#define AUDIO_TS_STEP 960u   /* 20 ms at 48 kHz */
#define VIDEO_STEP_US 100000u
#define VIDEO_TS_STEP 9000u  /* 100 ms at 90 kHz */

static int audio_packet(struct sg_cap *cap, const struct sg_udp_ends *e, int from, uint64_t t,
			struct stream_dir *d, uint32_t flow_id, struct sg_rng *rng)
{
	uint8_t m[SG_FRAME_MAX];
	size_t o = put_outer(m, d, flow_id);
	uint8_t *in = m + o;
	size_t plen = sg_rng_range(rng, 60, 140);

	/* Inner audio header: type, stream id, sequence at +9, timestamp at +11, RTP at +19. */
	memset(in, 0, SG_ZOOM_AUDIO_RTP_OFF);
	in[0] = SG_ZOOM_AUDIO;
	sg_put32(in + 1, d->audio_id);
	sg_put16(in + 9, d->audio_seq);
	sg_put32(in + 11, d->audio_ts);
	in[16] = 0x01;
	sg_put16(in + 17, (uint16_t)(12 + plen));
	put_rtp(in + SG_ZOOM_AUDIO_RTP_OFF, false, AUDIO_PT, d->audio_seq, d->audio_ts, d->audio_ssrc);
	o += SG_ZOOM_AUDIO_RTP_OFF + 12;
	/* Stands in for the encrypted media. */
	sg_rng_fill(rng, m + o, plen);
	o += plen;
	d->audio_seq++;
	d->audio_ts += AUDIO_TS_STEP;
	return put_udp(cap, e, from, t, m, o);
}

#define VIDEO_PKTS_PER_FRAME 2u

/* Packet k of the current video frame; the frame's last packet carries the RTP marker. */
static int video_packet(struct sg_cap *cap, const struct sg_udp_ends *e, int from, uint64_t t,
			struct stream_dir *d, uint32_t flow_id, unsigned k, struct sg_rng *rng)
{
	uint8_t m[SG_FRAME_MAX];
	size_t o = put_outer(m, d, flow_id);
	uint8_t *in = m + o;
	size_t plen = sg_rng_range(rng, 900, 1000);
	bool last = k + 1 == VIDEO_PKTS_PER_FRAME;

	/* Inner video header: type, stream id, sequence at +9, timestamp at +11; byte 20 = 0x02 puts RTP at +24. */
	memset(in, 0, SG_ZOOM_VIDEO_RTP_OFF);
	in[0] = SG_ZOOM_VIDEO;
	sg_put32(in + 1, d->video_id);
	sg_put16(in + 9, d->video_seq);
	sg_put32(in + 11, d->video_ts);
	in[16] = d->video_frame;
	in[20] = 0x02;
	in[21] = (uint8_t)k;
	in[22] = (uint8_t)VIDEO_PKTS_PER_FRAME;
	put_rtp(in + SG_ZOOM_VIDEO_RTP_OFF, last, VIDEO_PT, d->video_seq, d->video_ts, d->video_ssrc);
	o += SG_ZOOM_VIDEO_RTP_OFF + 12;
	sg_rng_fill(rng, m + o, plen);
	o += plen;
	d->video_seq++;
	if (last) {
		d->video_ts += VIDEO_TS_STEP;
		d->video_frame++;
	}
	return put_udp(cap, e, from, t, m, o);
}

/*
 * One direction's audio and video, merged in time order so that the outer
 * sequence number grows with capture time.
 */
static int media_dir(struct sg_cap *cap, const struct sg_udp_ends *e, int from, uint64_t start,
		     struct stream_dir *d, uint32_t flow_id, uint32_t audio_ms, uint32_t video_ms,
		     struct sg_rng *rng)
{
	uint32_t jitter_max = from == C ? 400u : 3000u;
	uint32_t na = audio_ms / 20u;
	uint32_t nv = video_ms / 100u * VIDEO_PKTS_PER_FRAME;
	uint32_t ia = 0;
	uint32_t iv = 0;
	uint64_t ta = start + sg_rng_range(rng, 0, jitter_max);
	uint64_t tv = start + 7000u + sg_rng_range(rng, 0, jitter_max);

	while (ia < na || iv < nv) {
		if (iv >= nv || (ia < na && ta <= tv)) {
			if (audio_packet(cap, e, from, ta, d, flow_id, rng) != 0) {
				return -1;
			}
			ia++;
			ta = start + (uint64_t)ia * AUDIO_STEP_US + sg_rng_range(rng, 0, jitter_max);
		} else {
			unsigned k = iv % VIDEO_PKTS_PER_FRAME;

			if (video_packet(cap, e, from, tv, d, flow_id, k, rng) != 0) {
				return -1;
			}
			iv++;
			if (k + 1 < VIDEO_PKTS_PER_FRAME) {
				tv += 250u;
			} else {
				tv = start + 7000u + (uint64_t)(iv / VIDEO_PKTS_PER_FRAME) * VIDEO_STEP_US +
				     sg_rng_range(rng, 0, jitter_max);
			}
		}
	}
	return 0;
}

int sg_zoom_media_run(struct sg_cap *cap, const struct sg_udp_ends *e, uint64_t t0, uint32_t audio_ms,
		      uint32_t video_ms, struct sg_rng *rng)
{
	struct stream_dir dir[2];
	uint8_t m[128];
	uint8_t token[16];
	uint32_t flow_id = sg_rng_u32(rng);
	uint64_t start[2];
	int from;

	stream_init(&dir[C], SG_ZOOM_DIR_TO_ZOOM, rng);
	stream_init(&dir[S], SG_ZOOM_DIR_FROM_ZOOM, rng);
	sg_rng_fill(rng, token, sizeof(token));

	/* The flow's opening exchange: 01 00 02 from the client, 02 00 02 from the server. */
	memset(m, 0, sizeof(m));
	m[0] = 0x01;
	m[2] = 0x02;
	memcpy(m + 3, token, sizeof(token));
	sg_put32(m + 19, flow_id);
	sg_rng_fill(rng, m + 40, 64);
	if (put_udp(cap, e, C, t0, m, 104) != 0) {
		return -1;
	}
	memset(m, 0, sizeof(m));
	m[0] = 0x02;
	m[2] = 0x02;
	memcpy(m + 3, token, sizeof(token));
	sg_put32(m + 19, flow_id);
	if (put_udp(cap, e, S, t0 + e->rtt_us + 300, m, 40) != 0) {
		return -1;
	}

	/* The client starts sending once answered; the server's media arrive one RTT after. */
	start[C] = t0 + e->rtt_us + 2000;
	start[S] = start[C] + e->rtt_us;
	for (from = C; from <= S; from++) {
		if (media_dir(cap, e, from, start[from], &dir[from], flow_id, audio_ms, video_ms, rng) != 0) {
			return -1;
		}
	}
	return 0;
}
