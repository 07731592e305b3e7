/*
 * test_backoff.c - delays stay within [min, min(max, min * 2^attempt)],
 * grow, cap, reset, never overflow, and really are random.
 */
#include "backoff.h"
#include "test.h"

static void test_bounds_and_growth(void)
{
	struct backoff b;

	backoff_init(&b, 100, 10000, 42);
	for (uint32_t a = 0; a < 20; a++) {
		uint64_t ceil = 100ull << a;
		uint32_t d = backoff_next(&b);

		if (ceil > 10000)
			ceil = 10000;
		CHECK(d >= 100);
		CHECK(d <= ceil);
	}
	CHECK_EQ_INT(b.attempt, 20);
}

static void test_first_delay_is_min(void)
{
	struct backoff b;

	backoff_init(&b, 250, 60000, 7);
	CHECK_EQ_INT(backoff_next(&b), 250);
}

/* Over many draws the ceiling really is reached for: the largest draw of
 * attempt 5 sits well above attempt 1's ceiling. */
static void test_grows(void)
{
	struct backoff b;
	uint32_t best = 0;

	for (uint64_t s = 1; s <= 200; s++) {
		backoff_init(&b, 10, 100000, s);
		for (int a = 0; a < 5; a++)
			backoff_next(&b);
		uint32_t d = backoff_next(&b);   /* attempt 5: [10, 320] */
		if (d > best)
			best = d;
		CHECK(d <= 320);
	}
	CHECK(best > 250);
}

static void test_cap_and_reset(void)
{
	struct backoff b;
	int at_cap_range = 0;

	backoff_init(&b, 1000, 5000, 99);
	for (int i = 0; i < 200; i++) {
		uint32_t d = backoff_next(&b);

		CHECK(d >= 1000 && d <= 5000);
		at_cap_range += d > 4000;
	}
	CHECK(at_cap_range > 0);
	backoff_reset(&b);
	CHECK_EQ_INT(b.attempt, 0);
	CHECK_EQ_INT(backoff_next(&b), 1000);
}

static void test_no_overflow(void)
{
	struct backoff b;

	backoff_init(&b, UINT32_MAX - 5, UINT32_MAX, 3);
	for (int i = 0; i < 100; i++) {
		uint32_t d = backoff_next(&b);

		CHECK(d >= UINT32_MAX - 5);
	}
	backoff_init(&b, 3, UINT32_MAX, 3);
	b.attempt = UINT32_MAX - 2;
	for (int i = 0; i < 10; i++) {
		uint32_t d = backoff_next(&b);

		CHECK(d >= 3);
	}
	CHECK_EQ_INT(b.attempt, UINT32_MAX);
	/* max below min: min wins, never a negative span */
	backoff_init(&b, 500, 100, 3);
	CHECK_EQ_INT(backoff_next(&b), 500);
	CHECK_EQ_INT(backoff_next(&b), 500);
	/* min 0 and max 0 are degenerate but defined */
	backoff_init(&b, 0, 0, 3);
	CHECK_EQ_INT(backoff_next(&b), 0);
}

static void test_jitter_varies(void)
{
	struct backoff a, b;
	uint32_t seen[64];
	int distinct = 0, same = 0;

	backoff_init(&a, 100, 100000, 1);
	backoff_init(&b, 100, 100000, 2);
	for (int i = 0; i < 64; i++) {
		a.attempt = b.attempt = 10;      /* ceiling 100000: wide range */
		seen[i] = backoff_next(&a);
		same += seen[i] == backoff_next(&b);
		int dup = 0;
		for (int j = 0; j < i; j++)
			dup |= seen[j] == seen[i];
		distinct += !dup;
	}
	CHECK(distinct > 55);
	CHECK(same < 4);
	/* the same seed gives the same sequence; seed 0 draws its own */
	backoff_init(&a, 100, 100000, 5);
	backoff_init(&b, 100, 100000, 5);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(backoff_next(&a), backoff_next(&b));
	backoff_init(&a, 100, 100000, 0);
	a.attempt = 10;
	CHECK(backoff_next(&a) <= 100000);
}

int main(void)
{
	RUN(test_bounds_and_growth);
	RUN(test_first_delay_is_min);
	RUN(test_grows);
	RUN(test_cap_and_reset);
	RUN(test_no_overflow);
	RUN(test_jitter_varies);
	return test_report("backoff");
}
