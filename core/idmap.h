/*
 * idmap.h - packet id (1..65535) -> pointer in O(1): the session finds the
 * in-flight message a PUBACK, PUBREC or PUBCOMP names without walking the
 * window. An open-addressing table with linear probing, a power of two at
 * least twice the ids it holds; it grows on demand, so its memory follows
 * the largest window really used (1 KiB at 20 in flight on 64-bit), not
 * 65536 slots. Order is not its business: the store keeps publish order.
 *
 * Ids are mostly allocated in sequence, and the slot is the id masked to
 * the table: ids in a window shorter than the table never collide.
 */
#ifndef LIA_IDMAP_H
#define LIA_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint16_t id;        /* 0: empty (0 is never a packet id) */
	void *value;
};

struct idmap {
	struct idmap_slot *slots;   /* NULL until the first put */
	uint32_t cap, n;            /* cap: a power of two, or 0 */
};

#define IDMAP_INIT { NULL, 0, 0 }

/* id -> value (value not NULL); replaces an existing entry. 0, or -1 when
 * the table cannot grow (the map is unchanged). id 0 is refused (-1). */
int idmap_put(struct idmap *m, uint16_t id, void *value);
/* The value for id, or NULL. */
void *idmap_get(const struct idmap *m, uint16_t id);
/* Remove id; returns its value, or NULL when it was not there. */
void *idmap_del(struct idmap *m, uint16_t id);
/* Forget every entry, keep the memory. */
void idmap_clear(struct idmap *m);
/* Release the memory; the map is empty and usable again. */
void idmap_free(struct idmap *m);
static inline uint32_t idmap_count(const struct idmap *m)
{
	return m->n;
}

#endif
