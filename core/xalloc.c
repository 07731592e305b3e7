/*
 * xalloc.c - the counting allocator wrapper. Counters are plain longs: lia is
 * single-threaded, and the counts only matter to tests.
 */
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long live;           /* allocations minus frees */
static long fail_after = -1;  /* successes left before failing; -1: never */

/* One place decides whether the next allocation is allowed to succeed. */
static int may_allocate(void)
{
	if (fail_after < 0)
		return 1;
	if (fail_after == 0) {
		errno = ENOMEM;
		return 0;
	}
	fail_after--;
	return 1;
}

/* malloc(0) may return NULL, which callers would take for a failure; one
 * byte keeps "NULL means out of memory" true for every size. */
static size_t nonzero(size_t n)
{
	return n ? n : 1;
}

void *xmalloc(size_t n)
{
	void *p;

	if (!may_allocate())
		return NULL;
	p = malloc(nonzero(n));
	if (p)
		live++;
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p;

	if (!may_allocate())
		return NULL;
	p = (n && size) ? calloc(n, size) : calloc(1, 1);
	if (p)
		live++;
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q;

	if (!p)
		return xmalloc(n);
	if (!may_allocate())
		return NULL;
	q = realloc(p, nonzero(n));
	/* On failure the old block stays allocated and still counted. */
	return q;
}

void xfree(void *p)
{
	if (!p)
		return;
	live--;
	free(p);
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

void *xmemdup(const void *p, size_t n)
{
	void *q = xmalloc(n);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

void *xzalloc_pages(size_t n)
{
	void *p;

	if (!may_allocate())
		return NULL;
	/* an anonymous private mapping reads as zeros and takes no page
	 * until written */
	p = mmap(NULL, nonzero(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	live++;
	return p;
}

void xfree_pages(void *p, size_t n)
{
	if (!p)
		return;
	live--;
	munmap(p, nonzero(n));
}

void xalloc_fail_after(long n)
{
	fail_after = n < 0 ? -1 : n;
}

long xalloc_live(void)
{
	return live;
}
