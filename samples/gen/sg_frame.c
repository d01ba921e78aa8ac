#include "sg_frame.h"

#include <arpa/inet.h>
#include <string.h>

void sg_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void sg_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t sg_cksum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	/* RFC 1071 section 4.1: sum 16-bit words, deferring carries. */
	for (i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)p[i] << 8 | p[i + 1];
		if (sum & 0x80000000u) {
			sum = (sum & 0xffffu) + (sum >> 16);
		}
	}
	if (len & 1u) {
		sum += (uint32_t)p[len - 1] << 8;
	}
	return sum;
}

uint16_t sg_cksum_finish(uint32_t sum)
{
	while (sum >> 16) {
		sum = (sum & 0xffffu) + (sum >> 16);
	}
	return (uint16_t)~sum;
}

uint16_t sg_ipv4_cksum(const uint8_t *hdr, size_t len)
{
	return sg_cksum_finish(sg_cksum_add(0, hdr, len));
}

uint16_t sg_l4_cksum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg, size_t len)
{
	uint8_t pseudo[12];
	uint32_t sum;

	sg_put32(pseudo, src);
	sg_put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = proto;
	sg_put16(pseudo + 10, (uint16_t)len);
	sum = sg_cksum_add(0, pseudo, sizeof(pseudo));
	return sg_cksum_finish(sg_cksum_add(sum, seg, len));
}

/* Ethernet II + IPv4 header for an l4_len-byte transport segment. */
static void put_eth_ipv4(uint8_t *out, const struct sg_l3 *l3, uint8_t proto, size_t l4_len)
{
	uint8_t *ip = out + SG_ETH_HLEN;

	memcpy(out, l3->dst_mac, 6);
	memcpy(out + 6, l3->src_mac, 6);
	sg_put16(out + 12, 0x0800);

	ip[0] = 0x45; /* version 4, IHL 5 */
	ip[1] = 0;
	sg_put16(ip + 2, (uint16_t)(SG_IPV4_HLEN + l4_len));
	sg_put16(ip + 4, l3->ip_id);
	sg_put16(ip + 6, 0x4000); /* DF, offset 0 */
	ip[8] = l3->ttl;
	ip[9] = proto;
	sg_put16(ip + 10, 0);
	sg_put32(ip + 12, l3->src_ip);
	sg_put32(ip + 16, l3->dst_ip);
	sg_put16(ip + 10, sg_ipv4_cksum(ip, SG_IPV4_HLEN));
}

static size_t pad_frame(uint8_t *out, size_t len)
{
	if (len < SG_ETH_MIN_FRAME) {
		memset(out + len, 0, SG_ETH_MIN_FRAME - len);
		len = SG_ETH_MIN_FRAME;
	}
	return len;
}

size_t sg_frame_tcp(uint8_t *out, size_t cap, const struct sg_l3 *l3, const struct sg_tcp_hdr *tcp,
		    const uint8_t *payload, size_t len)
{
	size_t thl = SG_TCP_HLEN + tcp->opts_len;
	size_t total = SG_ETH_HLEN + SG_IPV4_HLEN + thl + len;
	uint8_t *th;

	if (tcp->opts_len > 40 || tcp->opts_len % 4 != 0 || total > SG_FRAME_MAX ||
	    (total < SG_ETH_MIN_FRAME ? SG_ETH_MIN_FRAME : total) > cap) {
		return 0;
	}
	put_eth_ipv4(out, l3, SG_IPPROTO_TCP, thl + len);
	th = out + SG_ETH_HLEN + SG_IPV4_HLEN;
	sg_put16(th, tcp->sport);
	sg_put16(th + 2, tcp->dport);
	sg_put32(th + 4, tcp->seq);
	sg_put32(th + 8, tcp->ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = tcp->flags;
	sg_put16(th + 14, tcp->window);
	sg_put16(th + 16, 0);
	sg_put16(th + 18, 0); /* urgent pointer */
	if (tcp->opts_len > 0) {
		memcpy(th + SG_TCP_HLEN, tcp->opts, tcp->opts_len);
	}
	if (len > 0) {
		memcpy(th + thl, payload, len);
	}
	sg_put16(th + 16, sg_l4_cksum(l3->src_ip, l3->dst_ip, SG_IPPROTO_TCP, th, thl + len));
	return pad_frame(out, total);
}

size_t sg_frame_udp(uint8_t *out, size_t cap, const struct sg_l3 *l3, uint16_t sport, uint16_t dport,
		    const uint8_t *payload, size_t len)
{
	size_t total = SG_ETH_HLEN + SG_IPV4_HLEN + SG_UDP_HLEN + len;
	uint8_t *uh;
	uint16_t ck;

	if (total > SG_FRAME_MAX || (total < SG_ETH_MIN_FRAME ? SG_ETH_MIN_FRAME : total) > cap) {
		return 0;
	}
	put_eth_ipv4(out, l3, SG_IPPROTO_UDP, SG_UDP_HLEN + len);
	uh = out + SG_ETH_HLEN + SG_IPV4_HLEN;
	sg_put16(uh, sport);
	sg_put16(uh + 2, dport);
	sg_put16(uh + 4, (uint16_t)(SG_UDP_HLEN + len));
	sg_put16(uh + 6, 0);
	if (len > 0) {
		memcpy(uh + SG_UDP_HLEN, payload, len);
	}
	ck = sg_l4_cksum(l3->src_ip, l3->dst_ip, SG_IPPROTO_UDP, uh, SG_UDP_HLEN + len);
	/* RFC 768: a computed zero is transmitted as all ones. */
	sg_put16(uh + 6, ck == 0 ? 0xffff : ck);
	return pad_frame(out, total);
}

bool sg_frame_set_ip_id(uint8_t *frame, size_t len, uint16_t id)
{
	uint8_t *ip = frame + SG_ETH_HLEN;

	if (len < SG_ETH_HLEN + SG_IPV4_HLEN) {
		return false;
	}
	sg_put16(ip + 4, id);
	sg_put16(ip + 10, 0);
	sg_put16(ip + 10, sg_ipv4_cksum(ip, SG_IPV4_HLEN));
	return true;
}

bool sg_parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		return false;
	}
	*out = ntohl(a.s_addr);
	return true;
}
