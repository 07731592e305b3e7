/*
 * topic_tree.c - trie of topic filters (see topic_tree.h).
 *
 * Each node is one level. Literal children sit in an array sorted by level
 * text and are found by binary search; the '+' and '#' children hang off
 * their own pointers so matching never searches for them. A node holds a
 * short list of entries because several filters can end at the same node:
 * "a/b", "$share/g1/a/b" and "$share/g2/a/b" are different keys (the full
 * string, handed back to the callback) stored where "a/b" ends.
 *
 * Insert, remove and free walk with parent pointers, without recursion;
 * match recurses once per level, bounded by the deepest filter inserted
 * (our own subscriptions), never by the length of a received topic.
 */
#include "topic_tree.h"
#include "xalloc.h"

#include <errno.h>
#include <string.h>

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN (sizeof(SHARE_PREFIX) - 1)

enum node_kind { NODE_LITERAL, NODE_PLUS, NODE_HASH };

struct tt_entry {
	struct tt_entry *next;
	void *value;
	char filter[];       /* the full filter, "$share/..." included */
};

struct tt_node {
	struct tt_node *parent;
	struct tt_node **kids;  /* literal children sorted by (len, bytes) */
	size_t nkids, kids_cap;
	struct tt_node *plus, *hash;
	struct tt_entry *entries;
	enum node_kind kind;
	size_t len;
	char level[];        /* literal level text, not NUL-terminated */
};

struct topic_tree {
	struct tt_node *root;
	size_t count;
};

/* One level of a topic or filter: [p, p+len), then next or NULL at the end. */
struct level {
	const char *p;
	size_t len;
	const char *next;
};

static struct level level_at(const char *p)
{
	struct level lv = { p, strcspn(p, "/"), NULL };

	if (p[lv.len] == '/')
		lv.next = p + lv.len + 1;
	return lv;
}

/* ---- filter syntax ---- */

/* '+' and '#' fill a whole level and '#' comes last; empty levels are fine. */
static int filter_valid(const char *f)
{
	const char *p = f;

	if (!*f)
		return 0;
	for (;;) {
		struct level lv = level_at(p);
		const char *w = memchr(lv.p, '+', lv.len);

		if (!w)
			w = memchr(lv.p, '#', lv.len);
		if (w && lv.len != 1)
			return 0;
		if (lv.len == 1 && lv.p[0] == '#' && lv.next)
			return 0;
		if (!lv.next)
			return 1;
		p = lv.next;
	}
}

/* The part of a filter the trie is keyed on: "$share/group/f" gives f.
 * NULL when the filter (or the shared form) is malformed. */
static const char *filter_key(const char *filter)
{
	const char *group, *slash;

	if (strncmp(filter, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return filter_valid(filter) ? filter : NULL;
	group = filter + SHARE_PREFIX_LEN;
	slash = strchr(group, '/');
	if (!slash || slash == group || strcspn(group, "+#") < (size_t)(slash - group))
		return NULL;
	return filter_valid(slash + 1) ? slash + 1 : NULL;
}

/* ---- nodes ---- */

static struct tt_node *node_new(struct tt_node *parent, enum node_kind kind,
	const char *level, size_t len)
{
	struct tt_node *n = xcalloc(1, sizeof(*n) + len);

	if (!n)
		return NULL;
	n->parent = parent;
	n->kind = kind;
	n->len = len;
	if (len)
		memcpy(n->level, level, len);
	return n;
}

static int level_cmp(const struct tt_node *n, const char *p, size_t len)
{
	if (n->len != len)
		return n->len < len ? -1 : 1;
	return memcmp(n->level, p, len);
}

/* Index of the literal child for the level, or where it would go. */
static size_t kid_search(const struct tt_node *n, const char *p, size_t len, int *found)
{
	size_t lo = 0, hi = n->nkids;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = level_cmp(n->kids[mid], p, len);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct tt_node *child_find(const struct tt_node *n, struct level lv, int wild)
{
	int found;
	size_t i;

	if (wild && lv.len == 1 && lv.p[0] == '+')
		return n->plus;
	if (wild && lv.len == 1 && lv.p[0] == '#')
		return n->hash;
	i = kid_search(n, lv.p, lv.len, &found);
	return found ? n->kids[i] : NULL;
}

static int kids_insert(struct tt_node *n, size_t at, struct tt_node *kid)
{
	if (n->nkids == n->kids_cap) {
		size_t cap = n->kids_cap ? n->kids_cap * 2 : 2;
		struct tt_node **p = xrealloc(n->kids, cap * sizeof(*p));

		if (!p)
			return -1;
		n->kids = p;
		n->kids_cap = cap;
	}
	memmove(n->kids + at + 1, n->kids + at, (n->nkids - at) * sizeof(*n->kids));
	n->kids[at] = kid;
	n->nkids++;
	return 0;
}

static struct tt_node *child_get_or_add(struct tt_node *n, struct level lv)
{
	struct tt_node **slot = NULL, *kid;
	enum node_kind kind = NODE_LITERAL;
	size_t at = 0;
	int found;

	if (lv.len == 1 && lv.p[0] == '+') {
		slot = &n->plus;
		kind = NODE_PLUS;
	} else if (lv.len == 1 && lv.p[0] == '#') {
		slot = &n->hash;
		kind = NODE_HASH;
	} else {
		at = kid_search(n, lv.p, lv.len, &found);
		if (found)
			return n->kids[at];
	}
	if (slot && *slot)
		return *slot;
	kid = node_new(n, kind, lv.p, kind == NODE_LITERAL ? lv.len : 0);
	if (!kid)
		return NULL;
	if (slot)
		*slot = kid;
	else if (kids_insert(n, at, kid) < 0) {
		xfree(kid);
		return NULL;
	}
	return kid;
}

static int node_empty(const struct tt_node *n)
{
	return !n->nkids && !n->plus && !n->hash && !n->entries;
}

static void node_detach(struct tt_node *n)
{
	struct tt_node *p = n->parent;
	size_t i;
	int found;

	if (n->kind == NODE_PLUS) {
		p->plus = NULL;
		return;
	}
	if (n->kind == NODE_HASH) {
		p->hash = NULL;
		return;
	}
	i = kid_search(p, n->level, n->len, &found);
	if (!found)
		return;
	memmove(p->kids + i, p->kids + i + 1, (p->nkids - i - 1) * sizeof(*p->kids));
	if (--p->nkids == 0) {
		/* the root never goes away: do not let it keep a stale array */
		xfree(p->kids);
		p->kids = NULL;
		p->kids_cap = 0;
	}
}

static void node_release(struct tt_node *n)
{
	struct tt_entry *e = n->entries, *next;

	for (; e; e = next) {
		next = e->next;
		xfree(e);
	}
	xfree(n->kids);
	xfree(n);
}

/* Drop n and every ancestor left empty, stopping at the root. */
static void prune(struct tt_node *n)
{
	while (n->parent && node_empty(n)) {
		struct tt_node *p = n->parent;

		node_detach(n);
		node_release(n);
		n = p;
	}
}

/* ---- tree ---- */

struct topic_tree *topic_tree_new(void)
{
	struct topic_tree *t = xcalloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->root = node_new(NULL, NODE_LITERAL, NULL, 0);
	if (!t->root) {
		xfree(t);
		return NULL;
	}
	return t;
}

/* Post-order without recursion: descend to a childless node, free it, climb. */
void topic_tree_free(struct topic_tree *t)
{
	struct tt_node *n;

	if (!t)
		return;
	n = t->root;
	while (n) {
		struct tt_node *next;

		if (n->nkids)
			next = n->kids[--n->nkids];
		else if (n->plus)
			next = n->plus, n->plus = NULL;
		else if (n->hash)
			next = n->hash, n->hash = NULL;
		else {
			next = n->parent;
			node_release(n);
		}
		n = next;
	}
	xfree(t);
}

static struct tt_node *node_lookup(const struct tt_node *n, const char *key)
{
	struct level lv;

	for (lv = level_at(key); n; lv = level_at(lv.next)) {
		n = child_find(n, lv, 1);
		if (!lv.next)
			break;
	}
	return (struct tt_node *)n;
}

static struct tt_entry **entry_slot(struct tt_node *n, const char *filter)
{
	struct tt_entry **e;

	for (e = &n->entries; *e; e = &(*e)->next)
		if (strcmp((*e)->filter, filter) == 0)
			return e;
	return NULL;
}

static int entry_add(struct tt_node *n, const char *filter, void *value)
{
	size_t len = strlen(filter) + 1;
	struct tt_entry *e = xmalloc(sizeof(*e) + len);

	if (!e)
		return -1;
	memcpy(e->filter, filter, len);
	e->value = value;
	e->next = n->entries;
	n->entries = e;
	return 0;
}

int topic_tree_insert(struct topic_tree *t, const char *filter, void *value)
{
	const char *key = filter_key(filter);
	struct tt_node *n = t->root, *kid;
	struct tt_entry **slot;
	struct level lv;

	if (!key) {
		errno = EINVAL;
		return -1;
	}
	for (lv = level_at(key);; lv = level_at(lv.next)) {
		kid = child_get_or_add(n, lv);
		if (!kid)
			goto nomem;
		n = kid;
		if (!lv.next)
			break;
	}
	slot = entry_slot(n, filter);
	if (slot) {
		(*slot)->value = value;
		return 0;
	}
	if (entry_add(n, filter, value) < 0)
		goto nomem;
	t->count++;
	return 0;
nomem:
	prune(n);     /* nodes made on the way down may hold nothing */
	errno = ENOMEM;
	return -1;
}

void *topic_tree_remove(struct topic_tree *t, const char *filter)
{
	const char *key = filter_key(filter);
	struct tt_node *n = key ? node_lookup(t->root, key) : NULL;
	struct tt_entry **slot, *e;
	void *value;

	if (!n || !(slot = entry_slot(n, filter)))
		return NULL;
	e = *slot;
	*slot = e->next;
	value = e->value;
	xfree(e);
	t->count--;
	prune(n);
	return value;
}

void *topic_tree_get(const struct topic_tree *t, const char *filter)
{
	const char *key = filter_key(filter);
	struct tt_node *n = key ? node_lookup(t->root, key) : NULL;
	struct tt_entry **slot;

	if (!n || !(slot = entry_slot(n, filter)))
		return NULL;
	return (*slot)->value;
}

size_t topic_tree_count(const struct topic_tree *t)
{
	return t->count;
}

/* ---- matching ---- */

struct match {
	topic_match_fn *fn;
	void *ud;
	size_t count;
};

static void emit(const struct tt_node *n, struct match *m)
{
	const struct tt_entry *e;

	for (e = n->entries; e; e = e->next) {
		m->fn(e->filter, e->value, m->ud);
		m->count++;
	}
}

/* n matched the levels before rest; rest NULL means the topic is used up.
 * Wildcards do not match a first level starting with '$' (MQTT 4.7.2). */
static void match_from(const struct tt_node *n, const char *rest, int first, struct match *m)
{
	struct level lv;
	const struct tt_node *kid;
	int wild_ok;

	if (!rest) {
		emit(n, m);
		if (n->hash)             /* "a/#" also matches "a" */
			emit(n->hash, m);
		return;
	}
	lv = level_at(rest);
	wild_ok = !(first && rest[0] == '$');
	if (n->hash && wild_ok)
		emit(n->hash, m);
	kid = child_find(n, lv, 0);
	if (kid)
		match_from(kid, lv.next, 0, m);
	if (n->plus && wild_ok)
		match_from(n->plus, lv.next, 0, m);
}

size_t topic_tree_match(const struct topic_tree *t, const char *topic,
	topic_match_fn *fn, void *ud)
{
	struct match m = { fn, ud, 0 };

	/* A topic name is non-empty and holds no wildcards. */
	if (!*topic || strpbrk(topic, "+#"))
		return 0;
	match_from(t->root, topic, 1, &m);
	return m.count;
}
