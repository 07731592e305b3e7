/*
 * buf.h - a growable byte buffer with a read offset, used for socket input
 * and output queues. Growth is capped by the owner through buf_reserve's
 * limit, so a peer can never make us allocate without bound.
 */
#ifndef LIA_BUF_H
#define LIA_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t start;   /* first unread byte */
	size_t end;     /* one past the last byte */
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0, 0 }

static inline size_t buf_len(const struct buf *b) { return b->end - b->start; }
static inline uint8_t *buf_head(const struct buf *b) { return b->data + b->start; }

/* Make room for n more bytes at the end without growing past limit total
 * bytes held; returns 0 or -1 (ENOMEM or over the limit). Compacts first. */
int buf_reserve(struct buf *b, size_t n, size_t limit);
/* Append n bytes (reserving with limit). Returns 0 or -1. */
int buf_append(struct buf *b, const void *p, size_t n, size_t limit);
/* Drop n bytes from the front (n <= buf_len). */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

#endif
