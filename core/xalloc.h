/*
 * xalloc.h - the one allocator wrapper. Every core allocation goes through
 * these so tests can inject failures (xalloc_fail_after) and count leaks.
 * They return NULL on failure like malloc; callers handle it.
 */
#ifndef LIA_XALLOC_H
#define LIA_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void xfree(void *p);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t n);

/* Testing: fail every allocation after n more succeed (-1: never fail). */
void xalloc_fail_after(long n);
/* Testing: allocations minus frees since start. */
long xalloc_live(void);

#endif
