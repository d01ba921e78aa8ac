/*
 * sg_rng: a small deterministic PRNG (SplitMix64, Steele, Lea and Flood,
 * OOPSLA 2014) so that everything the generator chooses, other than what
 * OpenSSL randomises inside TLS, is the same on every run.
 */
#ifndef SG_RNG_H
#define SG_RNG_H

#include <stddef.h>
#include <stdint.h>

struct sg_rng {
	uint64_t state;
};

/* Seeds rng from a scenario seed and a stream number (e.g. the flow index). */
void sg_rng_init(struct sg_rng *rng, uint64_t seed, uint64_t stream);
uint64_t sg_rng_next(struct sg_rng *rng);
uint32_t sg_rng_u32(struct sg_rng *rng);
/* A value in [lo, hi]; lo <= hi. */
uint32_t sg_rng_range(struct sg_rng *rng, uint32_t lo, uint32_t hi);
void sg_rng_fill(struct sg_rng *rng, uint8_t *p, size_t len);

#endif
