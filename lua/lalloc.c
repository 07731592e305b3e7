/*
 * lalloc.c - the scripts' allocator: realloc/free with a byte count and a
 * limit. Lua passes the old size of every block, so the count is exact.
 */
#include <stdlib.h>

#include "lalloc.h"

void *lalloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lalloc *a = ud;
	size_t old = ptr ? osize : 0;
	void *p;
	if (nsize == 0) {
		free(ptr);
		a->used -= old;
		return NULL;
	}
	/* only growth is refused: Lua assumes a shrink never fails */
	if (a->limit && nsize > old && a->used - old + nsize > a->limit) {
		a->hit = true;
		return NULL;
	}
	/* most blocks are new ones: malloc skips realloc's own dispatch */
	p = ptr ? realloc(ptr, nsize) : malloc(nsize);
	if (!p)
		return NULL;
	a->used = a->used - old + nsize;
	if (a->used > a->peak)
		a->peak = a->used;
	return p;
}

bool lalloc_take_hit(struct lalloc *a)
{
	bool hit = a->hit;
	a->hit = false;
	return hit;
}
