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

/* n zeroed bytes whose pages become resident only once written, for the
 * tables indexed by packet id (64 Ki entries) that most clients never fill.
 * calloc gives that only while glibc serves the size with mmap, and glibc
 * raises that threshold to the largest mmap'd block freed so far: after one
 * client was closed, every later client's tables came from the heap and
 * were cleared, all of their pages resident. Freed with xfree_pages(p, n),
 * the same n. Only for data without pointers to heap blocks: LeakSanitizer
 * does not look for references in these pages, so a block only they point
 * to would be reported as leaked. */
void *xzalloc_pages(size_t n);
void xfree_pages(void *p, size_t n);

/* Testing: fail every allocation after n more succeed (-1: never fail). */
void xalloc_fail_after(long n);
/* Testing: allocations minus frees since start. */
long xalloc_live(void);

#endif
