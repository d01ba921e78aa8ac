#include "sg_rng.h"

void sg_rng_init(struct sg_rng *rng, uint64_t seed, uint64_t stream)
{
	rng->state = seed ^ (stream * 0xd1342543de82ef95u);
	(void)sg_rng_next(rng);
}

uint64_t sg_rng_next(struct sg_rng *rng)
{
	uint64_t z = (rng->state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint32_t sg_rng_u32(struct sg_rng *rng)
{
	return (uint32_t)(sg_rng_next(rng) >> 32);
}

uint32_t sg_rng_range(struct sg_rng *rng, uint32_t lo, uint32_t hi)
{
	uint64_t span = (uint64_t)hi - lo + 1;

	/* The modulo bias is irrelevant for sample data. */
	return lo + (uint32_t)(sg_rng_next(rng) % span);
}

void sg_rng_fill(struct sg_rng *rng, uint8_t *p, size_t len)
{
	size_t i;
	uint64_t v = 0;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			v = sg_rng_next(rng);
		}
		p[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}
