/*
 * test_xalloc.c - live counting and failure injection, which every other
 * unit test's leak checks rely on.
 */
#include "xalloc.h"
#include "test.h"

static void test_counts(void)
{
	long live = xalloc_live();
	char *a = xmalloc(10), *b = xcalloc(4, 4), *c = xstrdup("lia");
	void *d = xmemdup("abc", 3), *z = xmalloc(0);

	CHECK(a && b && c && d && z);
	CHECK_EQ_INT(xalloc_live(), live + 5);
	CHECK(strcmp(c, "lia") == 0);
	CHECK_MEM(d, "abc", 3);
	CHECK_EQ_INT(b[15], 0);
	a = xrealloc(a, 1000);                   /* a resize is not a new block */
	CHECK_EQ_INT(xalloc_live(), live + 5);
	xfree(a);
	xfree(b);
	xfree(c);
	xfree(d);
	xfree(z);
	xfree(NULL);
	CHECK_EQ_INT(xalloc_live(), live);
	a = xrealloc(NULL, 5);                   /* realloc(NULL) allocates */
	CHECK_EQ_INT(xalloc_live(), live + 1);
	xfree(a);
}

static void test_fail_after(void)
{
	long live = xalloc_live();
	void *p, *q;

	xalloc_fail_after(2);
	p = xmalloc(1);
	q = xstrdup("x");
	CHECK(p && q);
	CHECK(xmalloc(1) == NULL);
	CHECK(xcalloc(1, 1) == NULL);
	CHECK(xrealloc(p, 100) == NULL);         /* p stays valid and counted */
	xalloc_fail_after(-1);
	CHECK_EQ_INT(xalloc_live(), live + 2);
	p = xrealloc(p, 100);
	CHECK(p != NULL);
	xfree(p);
	xfree(q);
	CHECK_EQ_INT(xalloc_live(), live);
	xalloc_fail_after(0);
	CHECK(xmalloc(1) == NULL);
	xalloc_fail_after(-1);
	p = xmalloc(1);
	CHECK(p != NULL);
	xfree(p);
}

int main(void)
{
	RUN(test_counts);
	RUN(test_fail_after);
	return test_report("xalloc");
}
