/*
 * test_buf.c - byte buffer: append/consume, growth within the limit,
 * compaction, size arithmetic at the edges, allocation failure.
 */
#include "buf.h"
#include "xalloc.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>

static void test_append_consume(void)
{
	long live = xalloc_live();
	struct buf b = BUF_INIT;

	CHECK_EQ_INT(buf_len(&b), 0);
	CHECK_EQ_INT(buf_append(&b, "hello ", 6, 1024), 0);
	CHECK_EQ_INT(buf_append(&b, "world", 5, 1024), 0);
	CHECK_EQ_INT(buf_len(&b), 11);
	CHECK_MEM(buf_head(&b), "hello world", 11);
	buf_consume(&b, 6);
	CHECK_EQ_INT(buf_len(&b), 5);
	CHECK_MEM(buf_head(&b), "world", 5);
	buf_consume(&b, 5);
	/* empty again: offsets go back to the front */
	CHECK_EQ_INT(b.start, 0);
	CHECK_EQ_INT(b.end, 0);
	CHECK_EQ_INT(buf_append(&b, NULL, 0, 1024), 0);
	CHECK_EQ_INT(buf_append(&b, "x", 1, 1024), 0);
	buf_clear(&b);
	CHECK_EQ_INT(buf_len(&b), 0);
	CHECK(b.data != NULL);    /* clear keeps the memory */
	buf_free(&b);
	CHECK(b.data == NULL && b.cap == 0);
	buf_free(&b);             /* twice is harmless */
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_growth_keeps_bytes(void)
{
	long live = xalloc_live();
	struct buf b = BUF_INIT;
	uint8_t chunk[97];
	size_t i, total = 0, bad = 0;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	for (i = 0; i < 500; i++) {
		CHECK_EQ_INT(buf_append(&b, chunk, sizeof(chunk), SIZE_MAX), 0);
		total += sizeof(chunk);
		if (i % 3 == 0) {
			buf_consume(&b, 50);
			total -= 50;
		}
	}
	CHECK_EQ_INT(buf_len(&b), total);
	/* the stream is chunk repeated, shifted by what was consumed */
	for (i = 0; i < buf_len(&b); i++) {
		size_t pos = i + (500 * sizeof(chunk) - total);

		bad += buf_head(&b)[i] != (uint8_t)(pos % sizeof(chunk));
	}
	CHECK_EQ_INT(bad, 0);
	buf_free(&b);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_limit(void)
{
	struct buf b = BUF_INIT;
	char big[300] = { 0 };

	CHECK_EQ_INT(buf_append(&b, big, 200, 250), 0);
	errno = 0;
	CHECK_EQ_INT(buf_append(&b, big, 51, 250), -1);
	CHECK_EQ_INT(errno, ENOBUFS);
	CHECK_EQ_INT(buf_len(&b), 200);          /* refused appends change nothing */
	CHECK_EQ_INT(buf_append(&b, big, 50, 250), 0);
	CHECK(b.cap <= 250);
	/* consumed bytes no longer count against the limit */
	buf_consume(&b, 100);
	CHECK_EQ_INT(buf_append(&b, big, 100, 250), 0);
	CHECK_EQ_INT(buf_len(&b), 250);
	CHECK(b.cap <= 250);
	CHECK_EQ_INT(buf_append(&b, big, 1, 250), -1);
	CHECK_EQ_INT(buf_reserve(&b, 0, 250), 0);
	buf_free(&b);

	CHECK_EQ_INT(buf_append(&b, big, 10, 0), -1);
	CHECK_EQ_INT(buf_reserve(&b, 0, 0), 0);
	CHECK(b.data == NULL);
}

static void test_no_size_overflow(void)
{
	struct buf b = BUF_INIT;

	CHECK_EQ_INT(buf_append(&b, "abc", 3, 1024), 0);
	CHECK_EQ_INT(buf_reserve(&b, SIZE_MAX, SIZE_MAX), -1);
	CHECK_EQ_INT(buf_reserve(&b, SIZE_MAX - 2, SIZE_MAX), -1);
	CHECK_EQ_INT(buf_reserve(&b, SIZE_MAX, 1024), -1);
	CHECK_EQ_INT(buf_len(&b), 3);
	CHECK_MEM(buf_head(&b), "abc", 3);
	buf_free(&b);
}

static void test_compaction(void)
{
	struct buf b = BUF_INIT;
	char data[256];
	uint8_t *before;
	size_t cap;

	memset(data, 'x', sizeof(data));
	data[200] = 'A';
	CHECK_EQ_INT(buf_append(&b, data, 256, 256), 0);
	cap = b.cap;
	before = b.data;
	buf_consume(&b, 200);                    /* start past half */
	CHECK_EQ_INT(buf_reserve(&b, 1, 256), 0);
	CHECK_EQ_INT(b.start, 0);
	CHECK_EQ_INT(buf_len(&b), 56);
	CHECK(buf_head(&b)[0] == 'A');
	CHECK(b.data == before && b.cap == cap); /* reused, not regrown */
	/* room made by compacting even when start is below half */
	buf_clear(&b);
	CHECK_EQ_INT(buf_append(&b, data, 256, 256), 0);
	buf_consume(&b, 100);
	CHECK_EQ_INT(buf_append(&b, data, 100, 256), 0);
	CHECK_EQ_INT(b.cap, cap);
	CHECK_EQ_INT(buf_len(&b), 256);
	buf_free(&b);
}

static void test_oom(void)
{
	long live = xalloc_live();
	struct buf b = BUF_INIT;
	char data[1000] = { 1 };

	CHECK_EQ_INT(buf_append(&b, "keep", 4, 4096), 0);
	xalloc_fail_after(0);
	CHECK_EQ_INT(buf_append(&b, data, sizeof(data), 4096), -1);
	xalloc_fail_after(-1);
	CHECK_EQ_INT(buf_len(&b), 4);
	CHECK_MEM(buf_head(&b), "keep", 4);
	CHECK_EQ_INT(buf_append(&b, data, sizeof(data), 4096), 0);
	buf_free(&b);
	CHECK_EQ_INT(xalloc_live(), live);
}

int main(void)
{
	RUN(test_append_consume);
	RUN(test_growth_keeps_bytes);
	RUN(test_limit);
	RUN(test_no_size_overflow);
	RUN(test_compaction);
	RUN(test_oom);
	return test_report("buf");
}
