/*
 * buf.c - growable byte buffer. Size arithmetic is written as comparisons
 * against what is left (limit - len), never as sums that could wrap.
 */
#include "buf.h"
#include "xalloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define BUF_MIN_CAP 256

/* Move the unread bytes to the front so the dead prefix can be reused. */
static void compact(struct buf *b)
{
	size_t len = buf_len(b);

	if (b->start == 0)
		return;
	if (len)
		memmove(b->data, b->data + b->start, len);
	b->start = 0;
	b->end = len;
}

/* Doubling from the current capacity, clamped to limit; need <= limit. */
static size_t grown_cap(size_t cap, size_t need, size_t limit)
{
	size_t c = cap ? cap : BUF_MIN_CAP;

	while (c < need)
		c = c > SIZE_MAX / 2 ? need : c * 2;
	return c > limit ? limit : c;
}

/* A fresh block holding only the unread bytes: copying them once is cheaper
 * than realloc copying the dead prefix and then compacting. */
static int grow(struct buf *b, size_t need, size_t limit)
{
	size_t cap = grown_cap(b->cap, need, limit);
	size_t len = buf_len(b);
	uint8_t *p = xmalloc(cap);

	if (!p)
		return -1;
	if (len)
		memcpy(p, b->data + b->start, len);
	xfree(b->data);
	b->data = p;
	b->start = 0;
	b->end = len;
	b->cap = cap;
	return 0;
}

int buf_reserve(struct buf *b, size_t n, size_t limit)
{
	size_t len = buf_len(b);

	if (n > limit || len > limit - n) {
		errno = ENOBUFS;
		return -1;
	}
	/* Past half, the live bytes are fewer than the dead ones: moving them
	 * is cheap and keeps a steady stream from creeping to the end. */
	if (b->start > b->cap / 2)
		compact(b);
	if (b->cap - b->end >= n)
		return 0;
	if (b->cap - len >= n) {
		compact(b);
		return 0;
	}
	return grow(b, len + n, limit);
}

int buf_append(struct buf *b, const void *p, size_t n, size_t limit)
{
	if (buf_reserve(b, n, limit) < 0)
		return -1;
	if (n) {
		memcpy(b->data + b->end, p, n);
		b->end += n;
	}
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n > buf_len(b))
		n = buf_len(b);
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

void buf_clear(struct buf *b)
{
	b->start = b->end = 0;
}

void buf_free(struct buf *b)
{
	xfree(b->data);
	b->data = NULL;
	b->start = b->end = b->cap = 0;
}
