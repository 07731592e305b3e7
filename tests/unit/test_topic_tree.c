/*
 * test_topic_tree.c - filter trie: exact operations, pruning, MQTT matching
 * rules (wildcards, '$' topics, "a/#" vs "a", shared subscriptions).
 */
#include "topic_tree.h"
#include "xalloc.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

/* Collects matched filters as one sorted, space-separated string. */
struct hits {
	char *names[64];
	size_t n;
	char joined[1024];
};

static void hit_cb(const char *filter, void *value, void *ud)
{
	struct hits *h = ud;

	(void)value;
	if (h->n < 64)
		h->names[h->n++] = (char *)filter;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *match(struct topic_tree *t, const char *topic)
{
	static struct hits h;
	size_t i, off = 0, r;

	h.n = 0;
	h.joined[0] = '\0';
	r = topic_tree_match(t, topic, hit_cb, &h);
	CHECK_EQ_INT(r, h.n);
	qsort(h.names, h.n, sizeof(h.names[0]), cmp_str);
	for (i = 0; i < h.n; i++)
		off += (size_t)snprintf(h.joined + off, sizeof(h.joined) - off, "%s%s",
			i ? " " : "", h.names[i]);
	return h.joined;
}

#define CHECK_MATCH(t, topic, want) do { \
	const char *got_ = match((t), (topic)); \
	if (strcmp(got_, (want)) != 0) { test_check_failures++; \
		fprintf(stderr, "%s:%d: %s: match(\"%s\") gave \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, test_current, (topic), got_, (want)); } \
} while (0)

static int v1 = 1, v2 = 2, v3 = 3;

static void test_insert_get_remove(void)
{
	long live = xalloc_live();
	struct topic_tree *t = topic_tree_new();

	CHECK_EQ_INT(topic_tree_insert(t, "a/b", &v1), 0);
	CHECK_EQ_INT(topic_tree_insert(t, "a/+", &v2), 0);
	CHECK_EQ_INT(topic_tree_insert(t, "a/#", &v3), 0);
	CHECK_EQ_INT(topic_tree_count(t), 3);
	CHECK(topic_tree_get(t, "a/b") == &v1);
	CHECK(topic_tree_get(t, "a/+") == &v2);
	CHECK(topic_tree_get(t, "a/#") == &v3);
	CHECK(topic_tree_get(t, "a") == NULL);
	CHECK(topic_tree_get(t, "a/c") == NULL);
	/* replace keeps the count */
	CHECK_EQ_INT(topic_tree_insert(t, "a/b", &v3), 0);
	CHECK(topic_tree_get(t, "a/b") == &v3);
	CHECK_EQ_INT(topic_tree_count(t), 3);
	CHECK(topic_tree_remove(t, "a/b") == &v3);
	CHECK(topic_tree_remove(t, "a/b") == NULL);
	CHECK(topic_tree_remove(t, "nope/x") == NULL);
	CHECK_EQ_INT(topic_tree_count(t), 2);
	topic_tree_free(t);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_prune(void)
{
	long live = xalloc_live();
	struct topic_tree *t = topic_tree_new();
	long empty = xalloc_live();

	CHECK_EQ_INT(topic_tree_insert(t, "a/b/c/d", &v1), 0);
	CHECK_EQ_INT(topic_tree_insert(t, "a/b", &v2), 0);
	CHECK_EQ_INT(topic_tree_insert(t, "a/+/c/#", &v3), 0);
	CHECK(topic_tree_remove(t, "a/b/c/d") == &v1);
	/* "a/b" still holds a value: its node stays, c and d go */
	CHECK(topic_tree_get(t, "a/b") == &v2);
	CHECK(topic_tree_remove(t, "a/b") == &v2);
	CHECK(topic_tree_remove(t, "a/+/c/#") == &v3);
	CHECK_EQ_INT(topic_tree_count(t), 0);
	/* every node made by the inserts is gone again */
	CHECK_EQ_INT(xalloc_live(), empty);
	CHECK_MATCH(t, "a/b/c/d", "");
	topic_tree_free(t);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_invalid_filters(void)
{
	struct topic_tree *t = topic_tree_new();
	const char *bad[] = { "", "a/#/b", "a+/b", "a/b#", "#/", "$share/g", "$share//a",
		"$share/g+/a", "$share/g/", "$share/g/a/#/b" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(topic_tree_insert(t, bad[i], &v1), -1);
		CHECK(topic_tree_get(t, bad[i]) == NULL);
		CHECK(topic_tree_remove(t, bad[i]) == NULL);
	}
	CHECK_EQ_INT(topic_tree_count(t), 0);
	topic_tree_free(t);
}

static struct topic_tree *tree_of(const char *const *filters, size_t n)
{
	struct topic_tree *t = topic_tree_new();

	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(topic_tree_insert(t, filters[i], &v1), 0);
	return t;
}

static void test_match_plus(void)
{
	static const char *const f[] = { "a/+", "+/b", "+/+", "a/b", "+", "a/+/c" };
	struct topic_tree *t = tree_of(f, 6);

	CHECK_MATCH(t, "a/b", "+/+ +/b a/+ a/b");
	CHECK_MATCH(t, "a/x", "+/+ a/+");
	CHECK_MATCH(t, "a", "+");
	CHECK_MATCH(t, "a/b/c", "a/+/c");
	CHECK_MATCH(t, "a/", "+/+ a/+");          /* empty level matched by + */
	CHECK_MATCH(t, "x/y/z", "");
	topic_tree_free(t);
}

static void test_match_hash(void)
{
	static const char *const f[] = { "#", "a/#", "a/b/#", "+/#", "a/+/#" };
	struct topic_tree *t = tree_of(f, 5);

	CHECK_MATCH(t, "a", "# +/# a/#");          /* "a/#" matches its parent */
	CHECK_MATCH(t, "a/b", "# +/# a/# a/+/# a/b/#");
	CHECK_MATCH(t, "a/b/c/d", "# +/# a/# a/+/# a/b/#");
	CHECK_MATCH(t, "b", "# +/#");
	topic_tree_free(t);
}

static void test_match_dollar(void)
{
	static const char *const f[] = { "#", "+/monitor/#", "$SYS/#", "$SYS/+/x", "+", "a/$b" };
	struct topic_tree *t = tree_of(f, 6);

	CHECK_MATCH(t, "$SYS/monitor/x", "$SYS/# $SYS/+/x");
	CHECK_MATCH(t, "$SYS", "$SYS/#");
	CHECK_MATCH(t, "a/$b", "# a/$b");          /* '$' only counts at level one */
	CHECK_MATCH(t, "x/monitor/y", "# +/monitor/#");
	topic_tree_free(t);
}

static void test_empty_levels(void)
{
	static const char *const f[] = { "a//b", "/a", "+/a", "/", "a/+/b" };
	struct topic_tree *t = tree_of(f, 5);

	CHECK_MATCH(t, "a//b", "a/+/b a//b");
	CHECK_MATCH(t, "/a", "+/a /a");
	CHECK_MATCH(t, "/", "/");
	CHECK_MATCH(t, "a/b", "");
	topic_tree_free(t);
}

static void test_shared(void)
{
	long live = xalloc_live();
	struct topic_tree *t = topic_tree_new();

	CHECK_EQ_INT(topic_tree_insert(t, "$share/g/a/+", &v1), 0);
	CHECK_EQ_INT(topic_tree_insert(t, "$share/h/a/+", &v2), 0);
	CHECK_EQ_INT(topic_tree_insert(t, "a/+", &v3), 0);
	CHECK_EQ_INT(topic_tree_count(t), 3);
	CHECK(topic_tree_get(t, "$share/g/a/+") == &v1);
	CHECK(topic_tree_get(t, "$share/h/a/+") == &v2);
	CHECK(topic_tree_get(t, "a/+") == &v3);
	CHECK(topic_tree_get(t, "$share/x/a/+") == NULL);
	CHECK_MATCH(t, "a/b", "$share/g/a/+ $share/h/a/+ a/+");
	CHECK_MATCH(t, "$share/g/a/b", "");
	CHECK(topic_tree_remove(t, "$share/g/a/+") == &v1);
	CHECK_MATCH(t, "a/b", "$share/h/a/+ a/+");
	CHECK(topic_tree_remove(t, "a/+") == &v3);
	CHECK(topic_tree_remove(t, "$share/h/a/+") == &v2);
	CHECK_EQ_INT(topic_tree_count(t), 0);
	topic_tree_free(t);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_invalid_topics(void)
{
	static const char *const f[] = { "#", "+" };
	struct topic_tree *t = tree_of(f, 2);

	CHECK_MATCH(t, "", "");
	CHECK_MATCH(t, "a/+", "");
	CHECK_MATCH(t, "#", "");
	topic_tree_free(t);
}

/* Many literal siblings exercise the sorted child arrays; every filter
 * must still be found exactly once, and removal in another order prunes
 * back to nothing. */
static void test_many(void)
{
	long live = xalloc_live();
	struct topic_tree *t = topic_tree_new();
	char f[64];
	int i, bad = 0;

	for (i = 0; i < 2000; i++) {
		snprintf(f, sizeof(f), "dev/%d/sensor/%d", i % 97, i);
		CHECK_EQ_INT(topic_tree_insert(t, f, (void *)(long)(i + 1)), 0);
	}
	CHECK_EQ_INT(topic_tree_insert(t, "dev/+/sensor/#", &v1), 0);
	CHECK_EQ_INT(topic_tree_count(t), 2001);
	for (i = 0; i < 2000; i++) {
		snprintf(f, sizeof(f), "dev/%d/sensor/%d", i % 97, i);
		bad += topic_tree_get(t, f) != (void *)(long)(i + 1);
		bad += topic_tree_match(t, f, hit_cb, &(struct hits){ .n = 0 }) != 2;
	}
	CHECK_EQ_INT(bad, 0);
	for (i = 1999; i >= 0; i -= 2) {
		snprintf(f, sizeof(f), "dev/%d/sensor/%d", i % 97, i);
		bad += topic_tree_remove(t, f) != (void *)(long)(i + 1);
	}
	for (i = 0; i < 2000; i += 2) {
		snprintf(f, sizeof(f), "dev/%d/sensor/%d", i % 97, i);
		bad += topic_tree_remove(t, f) != (void *)(long)(i + 1);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(topic_tree_count(t), 1);
	CHECK(topic_tree_remove(t, "dev/+/sensor/#") == &v1);
	topic_tree_free(t);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* Out of memory at every possible point of an insert: no leak, and the
 * tree is as before. */
static void test_insert_oom(void)
{
	long live = xalloc_live();
	struct topic_tree *t = topic_tree_new();
	long before;

	CHECK_EQ_INT(topic_tree_insert(t, "a/b", &v1), 0);
	before = xalloc_live();
	for (long n = 0; n < 10; n++) {
		xalloc_fail_after(n);
		int r = topic_tree_insert(t, "a/c/d/e", &v2);
		xalloc_fail_after(-1);
		if (r == 0) {
			CHECK(topic_tree_remove(t, "a/c/d/e") == &v2);
			break;
		}
		CHECK_EQ_INT(xalloc_live(), before);
		CHECK_EQ_INT(topic_tree_count(t), 1);
	}
	CHECK_EQ_INT(xalloc_live(), before);
	CHECK(topic_tree_get(t, "a/b") == &v1);
	topic_tree_free(t);
	CHECK_EQ_INT(xalloc_live(), live);
}

int main(void)
{
	RUN(test_insert_get_remove);
	RUN(test_prune);
	RUN(test_invalid_filters);
	RUN(test_match_plus);
	RUN(test_match_hash);
	RUN(test_match_dollar);
	RUN(test_empty_levels);
	RUN(test_shared);
	RUN(test_invalid_topics);
	RUN(test_many);
	RUN(test_insert_oom);
	return test_report("topic_tree");
}
