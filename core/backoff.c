/*
 * backoff.c - exponential backoff with full jitter (see backoff.h). The
 * PRNG is splitmix64 over the seed field: any state value works (including
 * 0), and a fleet of devices seeded differently spreads its reconnects.
 */
#include "backoff.h"

#include <time.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->attempt = 0;
	/* Devices booting together share the clock closely; the pid and one
	 * mixing round keep their sequences apart. */
	if (seed == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec)
			^ ((uint64_t)getpid() << 32);
	}
	b->seed = seed;
	splitmix64(&b->seed);
}

/* min * 2^attempt, clamped to [min, max]: shifting a 32-bit value by at
 * most 31 fits in 64 bits, and anything larger is past max anyway. */
static uint32_t ceiling(const struct backoff *b)
{
	uint64_t c;

	if (b->max_ms <= b->min_ms)
		return b->min_ms;
	if (b->attempt >= 32)
		return b->max_ms;
	c = (uint64_t)b->min_ms << b->attempt;
	return c > b->max_ms ? b->max_ms : (uint32_t)c;
}

uint32_t backoff_next(struct backoff *b)
{
	uint32_t hi = ceiling(b);
	uint64_t span = (uint64_t)hi - b->min_ms + 1;   /* <= 2^32 */
	uint64_t r = splitmix64(&b->seed) >> 32;

	if (b->attempt < UINT32_MAX)
		b->attempt++;
	/* (r * span) >> 32 maps 32 random bits onto [0, span) without a
	 * division; span fits in 33 bits so the product cannot overflow. */
	return b->min_ms + (uint32_t)((r * span) >> 32);
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
