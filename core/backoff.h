/*
 * backoff.h - exponential backoff with full jitter (AWS architecture blog:
 * sleep = random(0, min(cap, base * 2^attempt))), floored at min so a
 * reconnect never spins. Reset after a connection has been stable.
 */
#ifndef LIA_BACKOFF_H
#define LIA_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint32_t min_ms, max_ms;
	uint32_t attempt;
	uint64_t seed;
};

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed);
/* Next delay in ms, in [min_ms, min(max_ms, min_ms * 2^attempt)]; advances attempt. */
uint32_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);

#endif
