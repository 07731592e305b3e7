/*
 * test_idmap.c - packet id -> pointer: put/get/del, ids that share a home
 * slot, deletion inside a run and across the table's end, growth, the ids
 * around 65535, id 0, allocation failure, and a long random walk checked
 * against a plain array.
 */
#include "idmap.h"
#include "xalloc.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static int vals[65536];

static void *V(uint16_t id)
{
	return &vals[id];
}

static void test_put_get_del(void)
{
	struct idmap m = IDMAP_INIT;
	CHECK(idmap_get(&m, 1) == NULL);        /* empty, nothing allocated */
	CHECK(idmap_del(&m, 1) == NULL);
	for (uint16_t id = 1; id <= 20; id++)
		CHECK_EQ_INT(idmap_put(&m, id, V(id)), 0);
	CHECK_EQ_INT(idmap_count(&m), 20);
	for (uint16_t id = 1; id <= 20; id++)
		CHECK(idmap_get(&m, id) == V(id));
	CHECK(idmap_get(&m, 21) == NULL);
	CHECK(idmap_del(&m, 7) == V(7));
	CHECK(idmap_get(&m, 7) == NULL);
	CHECK(idmap_del(&m, 7) == NULL);        /* twice: not there */
	CHECK_EQ_INT(idmap_count(&m), 19);
	/* replacing keeps one entry */
	CHECK_EQ_INT(idmap_put(&m, 8, V(9)), 0);
	CHECK(idmap_get(&m, 8) == V(9));
	CHECK_EQ_INT(idmap_count(&m), 19);
	/* sized to what it holds, not to 65536 ids */
	CHECK(m.cap >= 40 && m.cap <= 64);
	idmap_free(&m);
	CHECK(m.slots == NULL && idmap_count(&m) == 0);
}

static void test_zero_and_null_refused(void)
{
	struct idmap m = IDMAP_INIT;
	CHECK_EQ_INT(idmap_put(&m, 0, V(1)), -1);
	CHECK_EQ_INT(idmap_put(&m, 1, NULL), -1);
	CHECK(idmap_get(&m, 0) == NULL);
	CHECK_EQ_INT(idmap_count(&m), 0);
	idmap_free(&m);
}

/* ids that differ by the table size share a home slot: each is found, and
 * deleting the first of the run keeps the others reachable */
static void test_collisions(void)
{
	struct idmap m = IDMAP_INIT;
	CHECK_EQ_INT(idmap_put(&m, 3, V(3)), 0);
	uint32_t cap = m.cap;
	uint16_t same[] = { 3, (uint16_t)(3 + cap), (uint16_t)(3 + 2 * cap), 4 };
	for (int i = 1; i < 4; i++)
		CHECK_EQ_INT(idmap_put(&m, same[i], V(same[i])), 0);
	CHECK_EQ_INT(m.cap, cap);               /* no growth: the run is what is tested */
	for (int i = 0; i < 4; i++)
		CHECK(idmap_get(&m, same[i]) == V(same[i]));
	CHECK(idmap_get(&m, (uint16_t)(3 + 3 * cap)) == NULL);
	CHECK(idmap_del(&m, 3) == V(3));
	for (int i = 1; i < 4; i++)
		CHECK(idmap_get(&m, same[i]) == V(same[i]));
	CHECK(idmap_del(&m, same[2]) == V(same[2]));
	CHECK(idmap_get(&m, same[1]) == V(same[1]));
	CHECK(idmap_get(&m, 4) == V(4));
	CHECK_EQ_INT(idmap_count(&m), 2);
	idmap_free(&m);
}

/* a run that wraps from the last slot to the first, then a delete at its
 * start: the entries past the end move back across it */
static void test_run_across_table_end(void)
{
	struct idmap m = IDMAP_INIT;
	CHECK_EQ_INT(idmap_put(&m, 5, V(5)), 0);   /* allocates: the size is known */
	CHECK(idmap_del(&m, 5) == V(5));
	uint32_t cap = m.cap;
	uint16_t last = (uint16_t)(cap - 1);
	uint16_t ids[] = { last, (uint16_t)(last + cap), (uint16_t)(last + 2 * cap) };
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(idmap_put(&m, ids[i], V(ids[i])), 0);
	/* slots last, 0 and 1 are the run; 1's home is taken: it goes to 2 */
	CHECK_EQ_INT(idmap_put(&m, 1, V(1)), 0);
	CHECK_EQ_INT(m.cap, cap);
	CHECK(idmap_del(&m, last) == V(last));
	CHECK(idmap_get(&m, ids[1]) == V(ids[1]));
	CHECK(idmap_get(&m, ids[2]) == V(ids[2]));
	CHECK(idmap_get(&m, 1) == V(1));
	CHECK(m.slots[1].id == 1);              /* moved back to its home */
	CHECK(m.slots[2].id == 0);
	CHECK(idmap_del(&m, ids[1]) == V(ids[1]));
	CHECK(idmap_get(&m, ids[2]) == V(ids[2]));
	CHECK(idmap_get(&m, 1) == V(1));
	CHECK_EQ_INT(idmap_count(&m), 2);
	idmap_free(&m);
}

/* the window over the wrap of packet ids: 65500..65535, then 1..60 */
static void test_wraparound_ids(void)
{
	struct idmap m = IDMAP_INIT;
	uint16_t id = 65500;
	for (int i = 0; i < 96; i++) {
		CHECK_EQ_INT(idmap_put(&m, id, V(id)), 0);
		id = (uint16_t)(id == 65535 ? 1 : id + 1);
	}
	CHECK_EQ_INT(idmap_count(&m), 96);
	CHECK(idmap_get(&m, 65535) == V(65535));
	CHECK(idmap_get(&m, 1) == V(1));
	CHECK(idmap_get(&m, 60) == V(60));
	CHECK(idmap_get(&m, 61) == NULL);
	CHECK(idmap_get(&m, 65499) == NULL);
	for (uint32_t k = 65500; k <= 65535; k++)
		CHECK(idmap_del(&m, (uint16_t)k) == V((uint16_t)k));
	for (uint16_t k = 1; k <= 60; k++)
		CHECK(idmap_get(&m, k) == V(k));
	idmap_free(&m);
}

/* every packet id at once: the table stays correct at its largest */
static void test_all_ids(void)
{
	struct idmap m = IDMAP_INIT;
	int bad = 0;
	for (uint32_t id = 1; id <= 65535; id++)
		bad += idmap_put(&m, (uint16_t)id, V((uint16_t)id)) != 0;
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(idmap_count(&m), 65535);
	for (uint32_t id = 1; id <= 65535; id++)
		bad += idmap_get(&m, (uint16_t)id) != V((uint16_t)id);
	for (uint32_t id = 1; id <= 65535; id += 2)
		bad += idmap_del(&m, (uint16_t)id) != V((uint16_t)id);
	for (uint32_t id = 1; id <= 65535; id++)
		bad += idmap_get(&m, (uint16_t)id) != (id % 2 ? NULL : V((uint16_t)id));
	CHECK_EQ_INT(bad, 0);
	idmap_clear(&m);
	CHECK_EQ_INT(idmap_count(&m), 0);
	CHECK(idmap_get(&m, 2) == NULL);
	idmap_free(&m);
}

/* a failed growth leaves the map as it was */
static void test_grow_fails(void)
{
	struct idmap m = IDMAP_INIT;
	uint16_t id = 1;
	while (idmap_count(&m) * 2 + 2 <= m.cap || m.cap == 0) {
		CHECK_EQ_INT(idmap_put(&m, id, V(id)), 0);
		id++;
	}
	uint32_t cap = m.cap, n = idmap_count(&m);
	xalloc_fail_after(0);
	CHECK_EQ_INT(idmap_put(&m, id, V(id)), -1);
	xalloc_fail_after(-1);
	CHECK_EQ_INT(m.cap, cap);
	CHECK_EQ_INT(idmap_count(&m), n);
	CHECK(idmap_get(&m, id) == NULL);
	for (uint16_t k = 1; k < id; k++)
		CHECK(idmap_get(&m, k) == V(k));
	CHECK_EQ_INT(idmap_put(&m, id, V(id)), 0);   /* memory back: it grows */
	CHECK(idmap_get(&m, id) == V(id));
	idmap_free(&m);
}

/* puts and deletes in random order against a plain array of 65536 */
static void test_random_walk(void)
{
	static void *ref[65536];
	struct idmap m = IDMAP_INIT;
	uint32_t seed = 12345, n = 0;
	int bad = 0;
	for (int step = 0; step < 200000; step++) {
		seed = seed * 1103515245u + 12345u;
		/* ids from a narrow band, so runs and collisions are common */
		uint16_t id = (uint16_t)(1 + (seed >> 8) % 300 * 97 % 65535);
		if ((seed >> 28) & 1) {
			bad += idmap_put(&m, id, V(id)) != 0;
			n += ref[id] == NULL;
			ref[id] = V(id);
		} else {
			bad += idmap_del(&m, id) != ref[id];
			n -= ref[id] != NULL;
			ref[id] = NULL;
		}
		if (step % 10000 == 0)
			for (uint32_t k = 1; k <= 65535; k++)
				bad += idmap_get(&m, (uint16_t)k) != ref[k];
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(idmap_count(&m), n);
	idmap_free(&m);
}

static void test_no_leaks(void)
{
	CHECK_EQ_INT(xalloc_live(), 0);
}

int main(void)
{
	RUN(test_put_get_del);
	RUN(test_zero_and_null_refused);
	RUN(test_collisions);
	RUN(test_run_across_table_end);
	RUN(test_wraparound_ids);
	RUN(test_all_ids);
	RUN(test_grow_fails);
	RUN(test_random_walk);
	RUN(test_no_leaks);
	return test_report("idmap");
}
