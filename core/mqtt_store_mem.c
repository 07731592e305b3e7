/*
 * mqtt_store_mem.c - the memory session store: a doubly linked list in
 * publish order and the state of each inbound QoS 2 packet id.
 */
#include <stdint.h>
#include <string.h>

#include "mqtt_store.h"
#include "xalloc.h"

/* 320 KiB by packet id, touched only where inbound QoS 2 ids were used:
 * pages of their own (xzalloc_pages); they hold no pointers, which the
 * store's list does, so that stays on the heap where LeakSanitizer sees it. */
struct mem_tables {
	uint8_t state[65536];           /* enum mqtt_in_state */
	uint32_t hash[65536];
};

struct mem_store {
	struct mqtt_store base;
	struct mqtt_msg *head, *tail;
	bool in_dirty;                  /* t->state has had a non-zero entry since cleared */
	struct mem_tables *t;
};

/* One allocation for the header and the packet: a publish costs one
 * malloc and one free, not two of each. */
struct mqtt_msg *mqtt_msg_new(size_t len)
{
	if (len > SIZE_MAX - sizeof(struct mqtt_msg))
		return NULL;
	struct mqtt_msg *m = xmalloc(sizeof *m + (len ? len : 1));
	if (!m)
		return NULL;
	memset(m, 0, sizeof *m);
	m->data = (uint8_t *)(m + 1);
	m->len = len;
	return m;
}

void mqtt_msg_free(struct mqtt_msg *m)
{
	xfree(m);
}

static int mem_add(struct mqtt_store *s, struct mqtt_msg *m)
{
	struct mem_store *ms = (struct mem_store *)s;
	m->next = NULL;
	m->prev = ms->tail;
	if (ms->tail)
		ms->tail->next = m;
	else
		ms->head = m;
	ms->tail = m;
	return 0;
}

static void mem_update(struct mqtt_store *s, struct mqtt_msg *m)
{
	(void)s;
	(void)m;   /* memory is the record: nothing to write */
}

static void mem_remove(struct mqtt_store *s, struct mqtt_msg *m)
{
	struct mem_store *ms = (struct mem_store *)s;
	if (m->prev)
		m->prev->next = m->next;
	else
		ms->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		ms->tail = m->prev;
	mqtt_msg_free(m);
}

static struct mqtt_msg *mem_first(struct mqtt_store *s)
{
	return ((struct mem_store *)s)->head;
}

static struct mqtt_msg *mem_next(struct mqtt_store *s, struct mqtt_msg *m)
{
	(void)s;
	return m->next;
}

static void mem_in_set(struct mqtt_store *s, uint16_t id, int state, uint32_t hash)
{
	struct mem_store *ms = (struct mem_store *)s;
	ms->t->state[id] = (uint8_t)state;
	ms->in_dirty |= state != 0;
	ms->t->hash[id] = hash;
}

static int mem_in_get(struct mqtt_store *s, uint16_t id, uint32_t *hash)
{
	struct mem_store *ms = (struct mem_store *)s;
	*hash = ms->t->hash[id];
	return ms->t->state[id];
}

static void mem_in_clear_all(struct mqtt_store *s)
{
	struct mem_store *ms = (struct mem_store *)s;
	/* every clean start clears: a table never written stays untouched
	 * (64 KiB that would otherwise become resident per client) */
	if (ms->in_dirty)
		memset(ms->t->state, 0, sizeof ms->t->state);
	ms->in_dirty = false;
}

static void mem_destroy(struct mqtt_store *s)
{
	struct mem_store *ms = (struct mem_store *)s;
	while (ms->head)
		mem_remove(s, ms->head);
	xfree_pages(ms->t, sizeof *ms->t);
	xfree(ms);
}

static const struct mqtt_store_ops mem_ops = {
	.add = mem_add, .update = mem_update, .remove = mem_remove, .first = mem_first,
	.next = mem_next, .in_set = mem_in_set, .in_get = mem_in_get,
	.in_clear_all = mem_in_clear_all, .destroy = mem_destroy
};

struct mqtt_store *mqtt_store_mem_new(void)
{
	struct mem_store *ms = xcalloc(1, sizeof *ms);
	if (ms && !(ms->t = xzalloc_pages(sizeof *ms->t))) {
		xfree(ms);
		ms = NULL;
	}
	if (!ms)
		return NULL;
	ms->base.ops = &mem_ops;
	return &ms->base;
}
