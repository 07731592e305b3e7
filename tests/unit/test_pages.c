/*
 * test_pages.c - memory that stays out of the resident set until written
 * (xzalloc_pages): zeroed, no page resident before a write, one per page
 * written, failure injection and the live count; and the client's and its
 * memory store's packet-id tables (24 KiB and 320 KiB) keep that after
 * glibc's mmap threshold was raised by a large free (before, every client
 * made after one was closed had all of those pages resident).
 */
#include "fake_broker.h"
#include "mqtt_client_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

static size_t page;

/* Resident pages of [p, p + n), counted by mincore on the pages it spans. */
static long resident(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
	size_t len = (uintptr_t)p + n - a, pages = (len + page - 1) / page;
	unsigned char *vec = malloc(pages);
	long count = 0;
	CHECK(vec != NULL);
	if (!vec)
		return -1;
	CHECK_EQ_INT(mincore((void *)a, len, vec), 0);
	for (size_t i = 0; i < pages; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

static void test_untouched_until_written(void)
{
	long live = xalloc_live();
	size_t n = 80 * page + 100;
	unsigned char *p = xzalloc_pages(n);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT((uintptr_t)p % page, 0);
	CHECK_EQ_INT(resident(p, n), 0);
	p[0] = 1;
	p[5 * page + 7] = 2;
	p[n - 1] = 3;
	CHECK_EQ_INT(resident(p, n), 3);
	CHECK(p[1] == 0 && p[page] == 0 && p[n - 2] == 0);
	CHECK_EQ_INT(xalloc_live(), live + 1);
	xfree_pages(p, n);
	xfree_pages(NULL, n);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_failure_injection(void)
{
	long live = xalloc_live();
	xalloc_fail_after(0);
	CHECK(xzalloc_pages(page) == NULL);
	xalloc_fail_after(-1);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* glibc serves a request with mmap only below a threshold that a free of a
 * larger mmap'd block raises to that block's size. */
static void raise_malloc_threshold(void)
{
	size_t n = 4u << 20;
	volatile char *big = malloc(n);
	CHECK(big != NULL);
	if (big)
		big[n - 1] = 1;
	free((void *)big);
}

/* Anonymous resident kB of this process (RssAnon), or -1. */
static long rss_anon_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void test_client_bits_stay_untouched(void)
{
	raise_malloc_threshold();
	struct mqtt_client *c = new_client(4, NULL);
	if (!c)
		return;
	CHECK_EQ_INT((uintptr_t)c->bits % page, 0);
	CHECK_EQ_INT(resident(c->bits, sizeof *c->bits), 0);
	uint16_t id = 0;
	CHECK_EQ_INT(session_alloc_id(c, &id), 0);
	CHECK_EQ_INT(resident(c->bits, sizeof *c->bits), 1);
	session_free_id(c, id);
	mqtt_client_free(c);
}

/* Clients made after one was freed and glibc's threshold rose (the old
 * bug: each then had its 344 KiB of tables cleared, all resident). */
#define NCLIENTS 20
static void test_clients_after_a_free(void)
{
	struct mqtt_client *cs[NCLIENTS], *warm = new_client(4, NULL);
	long before, after;
	if (!warm)
		return;
	mqtt_client_free(warm);
	raise_malloc_threshold();
	before = rss_anon_kb();
	CHECK(before > 0);
	for (int i = 0; i < NCLIENTS; i++)
		cs[i] = mqtt_client_new(L, &(struct mqtt_client_opts){ .uri = "mqtt://127.0.0.1:1",
			.client_id = "pages", .version = 4, .clean = true }, NULL, (char[64]){ 0 }, 64);
	after = rss_anon_kb();
	/* a client's own allocations are a few KiB; 64 each is a wide margin */
	if (after - before >= NCLIENTS * 64)
		fprintf(stderr, "%d clients: RssAnon %ld -> %ld kB\n", NCLIENTS, before, after);
	CHECK(after - before < NCLIENTS * 64);
	for (int i = 0; i < NCLIENTS; i++) {
		CHECK(cs[i] != NULL);
		mqtt_client_free(cs[i]);
	}
}

/* after loop_free: the loop keeps the hook table the first client grew */
static void test_no_leaks(void)
{
	CHECK_EQ_INT(xalloc_live(), 0);
}

int main(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	log_set_level(getenv("LIA_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR - 1);
	L = loop_new();
	fake_listen();
	RUN(test_untouched_until_written);
	RUN(test_failure_injection);
	RUN(test_client_bits_stay_untouched);
	RUN(test_clients_after_a_free);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("pages");
}
