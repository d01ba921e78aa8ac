#include "sg_cap.h"

#include "sg_frame.h"
#include "sg_rng.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg_cap_init(struct sg_cap *cap, uint64_t seed)
{
	memset(cap, 0, sizeof(*cap));
	cap->seed = seed;
}

void sg_cap_free(struct sg_cap *cap)
{
	size_t i;

	for (i = 0; i < cap->n; i++) {
		free(cap->pkts[i].data);
	}
	free(cap->pkts);
	cap->pkts = NULL;
	cap->n = 0;
	cap->cap = 0;
}

int sg_cap_add(struct sg_cap *cap, uint64_t t_us, const uint8_t *frame, size_t len)
{
	struct sg_pkt *p;

	if (cap->n == cap->cap) {
		size_t ncap = cap->cap ? cap->cap * 2 : 256;
		struct sg_pkt *np = realloc(cap->pkts, ncap * sizeof(*np));

		if (np == NULL) {
			return -1;
		}
		cap->pkts = np;
		cap->cap = ncap;
	}
	p = &cap->pkts[cap->n];
	p->data = malloc(len);
	if (p->data == NULL) {
		return -1;
	}
	memcpy(p->data, frame, len);
	p->len = len;
	p->t_us = t_us;
	p->order = cap->n;
	cap->n++;
	return 0;
}

static int cmp_pkt(const void *a, const void *b)
{
	const struct sg_pkt *x = a;
	const struct sg_pkt *y = b;

	if (x->t_us != y->t_us) {
		return x->t_us < y->t_us ? -1 : 1;
	}
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* Per-sender IPv4 identification counters, assigned in capture order. */
struct ip_id_slot {
	uint32_t ip;
	uint16_t next;
};

static int number_ip_ids(struct sg_cap *cap)
{
	struct ip_id_slot *slots = NULL;
	size_t nslots = 0;
	size_t i;
	size_t j;

	for (i = 0; i < cap->n; i++) {
		struct sg_pkt *p = &cap->pkts[i];
		const uint8_t *ip = p->data + SG_ETH_HLEN;
		uint32_t src;

		if (p->len < SG_ETH_HLEN + SG_IPV4_HLEN) {
			continue;
		}
		src = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
		for (j = 0; j < nslots && slots[j].ip != src; j++) {
		}
		if (j == nslots) {
			struct ip_id_slot *ns = realloc(slots, (nslots + 1) * sizeof(*ns));
			struct sg_rng rng;

			if (ns == NULL) {
				free(slots);
				return -1;
			}
			slots = ns;
			sg_rng_init(&rng, cap->seed, src);
			slots[j].ip = src;
			slots[j].next = (uint16_t)sg_rng_u32(&rng);
			nslots++;
		}
		(void)sg_frame_set_ip_id(p->data, p->len, slots[j].next++);
	}
	free(slots);
	return 0;
}

int sg_cap_write(struct sg_cap *cap, const char *path, char *err, size_t errlen)
{
	pcap_t *pd = NULL;
	pcap_dumper_t *dump = NULL;
	size_t i;
	int rc = -1;

	if (cap->n > 0) {
		qsort(cap->pkts, cap->n, sizeof(*cap->pkts), cmp_pkt);
	}
	if (number_ip_ids(cap) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pd = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_MICRO);
	if (pd == NULL) {
		snprintf(err, errlen, "pcap_open_dead failed");
		goto out_close;
	}
	dump = pcap_dump_open(pd, path);
	if (dump == NULL) {
		snprintf(err, errlen, "%s", pcap_geterr(pd));
		goto out_close;
	}
	for (i = 0; i < cap->n; i++) {
		struct pcap_pkthdr h;

		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(cap->pkts[i].t_us / 1000000u);
		h.ts.tv_usec = (suseconds_t)(cap->pkts[i].t_us % 1000000u);
		h.caplen = (bpf_u_int32)cap->pkts[i].len;
		h.len = (bpf_u_int32)cap->pkts[i].len;
		pcap_dump((u_char *)dump, &h, cap->pkts[i].data);
	}
	if (pcap_dump_flush(dump) != 0) {
		snprintf(err, errlen, "%s: write failed", path);
		goto out_close;
	}
	rc = 0;
out_close:
	if (dump != NULL) {
		pcap_dump_close(dump);
	}
	if (pd != NULL) {
		pcap_close(pd);
	}
	return rc;
}
