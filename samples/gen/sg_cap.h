/*
 * sg_cap: the generator's packet sink. Frames are collected with their
 * capture time, sorted (stable) by time, given per-sender incrementing IPv4
 * identifications in that order, and written as a microsecond pcap
 * (DLT_EN10MB).
 */
#ifndef SG_CAP_H
#define SG_CAP_H

#include <stddef.h>
#include <stdint.h>

struct sg_pkt {
	uint64_t t_us;  /* capture time, microseconds since the Unix epoch */
	uint64_t order; /* insertion order, the tie-break of the sort */
	size_t len;
	uint8_t *data;
};

struct sg_cap {
	struct sg_pkt *pkts;
	size_t n;
	size_t cap;
	uint64_t seed; /* seeds each sender's first IPv4 identification */
};

void sg_cap_init(struct sg_cap *cap, uint64_t seed);
/* Frees every frame; the sink may be initialised again. */
void sg_cap_free(struct sg_cap *cap);
/* Copies frame[0..len) in. Returns 0, or -1 when out of memory. */
int sg_cap_add(struct sg_cap *cap, uint64_t t_us, const uint8_t *frame, size_t len);
/*
 * Sorts, numbers IPv4 identifications and writes path ("-" = stdout).
 * Returns 0, or -1 with a message in err[0..errlen).
 */
int sg_cap_write(struct sg_cap *cap, const char *path, char *err, size_t errlen);

#endif
