/*
 * lalloc.h - the scripts' Lua allocator with a limit (--memory-limit).
 *
 * When an allocation would pass the limit it fails: Lua then runs a full
 * garbage collection and tries again (lua's own emergency GC), and when
 * that does not help raises "not enough memory" in the coroutine that
 * allocated. The host turns that into "file:line: not enough memory
 * (limit N MB)" and the agent goes on.
 */
#ifndef LIA_LALLOC_H
#define LIA_LALLOC_H

#include <stdbool.h>
#include <stddef.h>

struct lalloc {
	size_t used;            /* bytes the state holds now */
	size_t limit;           /* 0: none */
	size_t peak;
	bool hit;               /* an allocation was refused since the last lalloc_take_hit */
};

/* A lua_Alloc; ud is a struct lalloc. */
void *lalloc_fn(void *ud, void *ptr, size_t osize, size_t nsize);
/* Was the limit hit since the last call? Clears the flag. */
bool lalloc_take_hit(struct lalloc *a);

#endif
