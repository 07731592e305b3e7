/*
 * test.h - a tiny unit-test harness. A test is a function run with RUN();
 * it passes when none of its checks failed. Each test binary ends by
 * printing "<name>: N passed, N failed" (tests, not checks) and exits
 * non-zero when something failed; the Makefile adds the counts up.
 */
#ifndef LIA_TEST_H
#define LIA_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_check_failures;
static const char *test_current = "";

#define CHECK(cond) do { \
	if (!(cond)) { test_check_failures++; fprintf(stderr, "%s:%d: %s: check failed: %s\n", \
		__FILE__, __LINE__, test_current, #cond); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long test_a_ = (long long)(a), test_b_ = (long long)(b); \
	if (test_a_ != test_b_) { test_check_failures++; \
		fprintf(stderr, "%s:%d: %s: %s == %lld, expected %lld\n", \
		__FILE__, __LINE__, test_current, #a, test_a_, test_b_); } \
} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define RUN(fn) do { \
	int test_before_ = test_check_failures; \
	test_current = #fn; fn(); \
	if (test_check_failures == test_before_) test_passed++; else test_failed++; \
} while (0)

static inline int test_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
