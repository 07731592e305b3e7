/*
 * idmap.c - packet id -> pointer (idmap.h). Deletion shifts the following
 * entries of the run back (no tombstones), so a long life of puts and
 * deletes never slows lookups down.
 */
#include <string.h>

#include "idmap.h"
#include "xalloc.h"

#define IDMAP_MIN_CAP 16u

static uint32_t slot_of(const struct idmap *m, uint16_t id)
{
	return id & (m->cap - 1);
}

/* Only from grow: the table has room and id is not in it. */
static void insert_new(struct idmap *m, uint16_t id, void *value)
{
	uint32_t i = slot_of(m, id);
	while (m->slots[i].id)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].id = id;
	m->slots[i].value = value;
	m->n++;
}

static int grow(struct idmap *m)
{
	uint32_t cap = m->cap ? m->cap * 2 : IDMAP_MIN_CAP;
	struct idmap_slot *old = m->slots;
	uint32_t old_cap = m->cap;
	struct idmap_slot *slots = xcalloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	m->slots = slots;
	m->cap = cap;
	m->n = 0;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].id)
			insert_new(m, old[i].id, old[i].value);
	xfree(old);
	return 0;
}

/* The slot holding id, or -1. */
static int64_t find(const struct idmap *m, uint16_t id)
{
	if (!m->cap || !id)
		return -1;
	for (uint32_t i = slot_of(m, id); m->slots[i].id; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].id == id)
			return i;
	return -1;
}

int idmap_put(struct idmap *m, uint16_t id, void *value)
{
	if (!id || !value)
		return -1;
	int64_t at = find(m, id);
	if (at >= 0) {
		m->slots[at].value = value;
		return 0;
	}
	/* at most half full: runs stay short, and an empty slot always ends one */
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	insert_new(m, id, value);
	return 0;
}

void *idmap_get(const struct idmap *m, uint16_t id)
{
	int64_t at = find(m, id);
	return at >= 0 ? m->slots[at].value : NULL;
}

/* Slot i was emptied: move back each later entry of the run that may live
 * at or before i (its home slot is not between i and itself, cyclically). */
static void close_gap(struct idmap *m, uint32_t i)
{
	uint32_t mask = m->cap - 1;
	for (uint32_t j = (i + 1) & mask; m->slots[j].id; j = (j + 1) & mask) {
		uint32_t home = slot_of(m, m->slots[j].id);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].id = 0;
			m->slots[j].value = NULL;
			i = j;
		}
	}
}

void *idmap_del(struct idmap *m, uint16_t id)
{
	int64_t at = find(m, id);
	if (at < 0)
		return NULL;
	void *value = m->slots[at].value;
	m->slots[at].id = 0;
	m->slots[at].value = NULL;
	m->n--;
	close_gap(m, (uint32_t)at);
	return value;
}

void idmap_clear(struct idmap *m)
{
	if (m->slots)
		memset(m->slots, 0, (size_t)m->cap * sizeof *m->slots);
	m->n = 0;
}

void idmap_free(struct idmap *m)
{
	xfree(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
