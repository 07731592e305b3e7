/*
 * mqtt_alias.c - topic aliases (see mqtt_alias.h). Tables are small arrays
 * indexed by alias, grown on demand, so an announced maximum of 65535 costs
 * nothing until the broker uses it.
 */
#include <string.h>

#include "mqtt_alias.h"
#include "xalloc.h"

/* auto mode never uses more aliases than this, whatever the server allows:
 * a linear search over them per publish stays cheap */
#define ALIAS_AUTO_MAX 64
/* topics published once recently (hashes): a topic gets an alias only when
 * it comes back, so one-off topics never evict frequent ones */
#define ALIAS_SEEN 128

struct slot {
	char *topic;
	size_t len;
	uint64_t used;
	bool explicit;
};

struct table {
	struct slot *v;     /* v[alias], v[0] unused */
	size_t cap;
};

struct mqtt_alias {
	uint16_t in_max, out_max;
	bool auto_out;
	struct table in, out, user;
	uint32_t seen[ALIAS_SEEN];
	unsigned seen_pos;
	uint64_t tick;
	struct mqtt_alias_stats st;
};

static void table_clear(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		xfree(t->v[i].topic);
		t->v[i] = (struct slot){ 0 };
	}
}

static void table_free(struct table *t)
{
	table_clear(t);
	xfree(t->v);
	*t = (struct table){ 0 };
}

/* The slot of alias i, growing the table; NULL when out of memory. */
static struct slot *table_at(struct table *t, uint16_t i)
{
	if (i >= t->cap) {
		size_t cap = t->cap ? t->cap : 8;
		while (cap <= i)
			cap *= 2;
		struct slot *v = xrealloc(t->v, cap * sizeof *v);
		if (!v)
			return NULL;
		memset(v + t->cap, 0, (cap - t->cap) * sizeof *v);
		t->v = v;
		t->cap = cap;
	}
	return &t->v[i];
}

static int slot_set(struct slot *s, const uint8_t *topic, size_t len)
{
	char *copy = xmalloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, topic, len);
	copy[len] = '\0';
	xfree(s->topic);
	s->topic = copy;
	s->len = len;
	return 0;
}

static bool slot_is(const struct slot *s, const uint8_t *topic, size_t len)
{
	return s->topic && s->len == len && memcmp(s->topic, topic, len) == 0;
}

struct mqtt_alias *mqtt_alias_new(uint16_t in_max, bool auto_out)
{
	struct mqtt_alias *a = xcalloc(1, sizeof *a);
	if (a) {
		a->in_max = in_max;
		a->auto_out = auto_out;
		a->st.in_max = in_max;
	}
	return a;
}

void mqtt_alias_free(struct mqtt_alias *a)
{
	if (!a)
		return;
	table_free(&a->in);
	table_free(&a->out);
	table_free(&a->user);
	xfree(a);
}

void mqtt_alias_connected(struct mqtt_alias *a, uint16_t out_max)
{
	table_clear(&a->in);
	table_clear(&a->out);
	a->out_max = out_max;
	a->st.out_max = out_max;
}

/* ---- inbound ---- */

int mqtt_alias_resolve(struct mqtt_alias *a, struct mqtt_publish *p)
{
	struct mqtt_prop pr;
	if (mqtt_props_find(p->props, MQTT_PROP_TOPIC_ALIAS, &pr) != 1)
		return p->topic.len ? 0 : 0x82;
	if (pr.num == 0 || pr.num > a->in_max)
		return 0x94;
	struct slot *s = table_at(&a->in, (uint16_t)pr.num);
	if (!s)
		return 0x97;    /* quota exceeded: we could not keep the mapping */
	if (p->topic.len)
		return slot_set(s, p->topic.ptr, p->topic.len) < 0 ? 0x97 : 0;
	if (!s->topic)
		return 0x82;
	p->topic = (struct mqtt_str){ (const uint8_t *)s->topic, s->len };
	a->st.in_aliased++;
	return 0;
}

/* ---- the caller's explicit aliases ---- */

const char *mqtt_alias_user_topic(const struct mqtt_alias *a, uint16_t alias, size_t *len)
{
	if (alias >= a->user.cap || !a->user.v[alias].topic)
		return NULL;
	*len = a->user.v[alias].len;
	return a->user.v[alias].topic;
}

int mqtt_alias_user_set(struct mqtt_alias *a, uint16_t alias, const uint8_t *topic, size_t len)
{
	struct slot *s = table_at(&a->user, alias);
	if (!s)
		return -1;
	return slot_is(s, topic, len) ? 0 : slot_set(s, topic, len);
}

/* ---- outbound ---- */

static uint32_t hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h ? h : 1;
}

/* True when the topic was published recently; records it otherwise. */
static bool seen_before(struct mqtt_alias *a, const uint8_t *topic, size_t len)
{
	uint32_t h = hash(topic, len);
	for (unsigned i = 0; i < ALIAS_SEEN; i++)
		if (a->seen[i] == h)
			return true;
	a->seen[a->seen_pos] = h;
	a->seen_pos = (a->seen_pos + 1) % ALIAS_SEEN;
	return false;
}

/* Auto mode: the alias for this topic, a free one, or the least recently
 * used one (not one the caller chose explicitly); 0 for none. */
static uint16_t auto_pick(struct mqtt_alias *a, const uint8_t *topic, size_t len)
{
	uint16_t n = a->out_max < ALIAS_AUTO_MAX ? a->out_max : ALIAS_AUTO_MAX;
	uint16_t free_i = 0, lru = 0;
	uint64_t oldest = UINT64_MAX;
	for (uint16_t i = 1; i <= n; i++) {
		struct slot *s = i < a->out.cap ? &a->out.v[i] : NULL;
		if (s && slot_is(s, topic, len)) {
			s->used = ++a->tick;
			return i;
		}
		if (!s || !s->topic) {
			if (!free_i)
				free_i = i;
		} else if (!s->explicit && s->used < oldest) {
			oldest = s->used;
			lru = i;
		}
	}
	if (n == 0 || !seen_before(a, topic, len))
		return 0;
	uint16_t best = free_i ? free_i : lru;
	struct slot *s = best ? table_at(&a->out, best) : NULL;
	if (!s)
		return 0;
	s->used = ++a->tick;
	return best;
}

/* props without any TOPIC_ALIAS, plus TOPIC_ALIAS alias when != 0 */
static uint8_t *rebuild_props(struct mqtt_str props, uint16_t alias, size_t *out_len)
{
	uint8_t *b = xmalloc(props.len + 3 + 1);
	size_t off = 0, prev = 0, n = 0;
	struct mqtt_prop pr;
	if (!b)
		return NULL;
	while (mqtt_props_next(props, &off, &pr) == 1) {
		if (pr.id != MQTT_PROP_TOPIC_ALIAS) {
			memcpy(b + n, props.ptr + prev, off - prev);
			n += off - prev;
		}
		prev = off;
	}
	if (alias) {
		b[n++] = MQTT_PROP_TOPIC_ALIAS;
		b[n++] = (uint8_t)(alias >> 8);
		b[n++] = (uint8_t)alias;
	}
	*out_len = n;
	return b;
}

static uint8_t *encode_variant(const struct mqtt_packet *orig, struct mqtt_str topic,
	uint16_t alias, size_t *out_len)
{
	struct mqtt_packet p = *orig;
	size_t plen;
	uint8_t *props = rebuild_props(orig->u.publish.props, alias, &plen);
	uint8_t *out = NULL;
	if (!props)
		return NULL;
	p.u.publish.topic = topic;
	p.u.publish.props = (struct mqtt_str){ props, plen };
	size_t size = mqtt_encoded_size(&p, MQTT_V5);
	if (size && (out = xmalloc(size)))
		*out_len = mqtt_encode(&p, MQTT_V5, out, size);
	xfree(props);
	return out;
}

uint8_t *mqtt_alias_wire(struct mqtt_alias *a, uint8_t version, const uint8_t *pkt,
	size_t len, bool full, size_t *out_len)
{
	struct mqtt_packet p;
	struct mqtt_prop pr;
	size_t used;
	uint16_t alias = 0;
	bool explicit;
	*out_len = len;
	if (version != MQTT_V5 || mqtt_decode(pkt, len, version, 0, &p, &used) != MQTT_OK ||
			p.type != MQTT_PUBLISH)
		return (uint8_t *)pkt;
	struct mqtt_str topic = p.u.publish.topic;
	explicit = mqtt_props_find(p.u.publish.props, MQTT_PROP_TOPIC_ALIAS, &pr) == 1;
	if (explicit && pr.num <= a->out_max)
		alias = (uint16_t)pr.num;
	else if (!explicit && a->auto_out)
		alias = auto_pick(a, topic.ptr, topic.len);
	if (!alias && !explicit)
		return (uint8_t *)pkt;
	struct slot *s = alias ? table_at(&a->out, alias) : NULL;
	if (alias && !s)
		return NULL;
	bool known = s && slot_is(s, topic.ptr, topic.len);
	if (s) {
		s->explicit = s->explicit || explicit;
		if (!known && slot_set(s, topic.ptr, topic.len) < 0)
			return NULL;
	}
	/* an explicit alias over the server's maximum is dropped: full topic */
	bool empty = s && known && !full;
	uint8_t *out = encode_variant(&p, empty ? (struct mqtt_str){ (const uint8_t *)"", 0 } : topic,
		alias, out_len);
	if (out) {
		a->st.bytes_saved += (int64_t)len - (int64_t)*out_len;
		a->st.out_aliased += empty;
	}
	return out;
}

void mqtt_alias_stats(const struct mqtt_alias *a, struct mqtt_alias_stats *st)
{
	*st = a->st;
}
