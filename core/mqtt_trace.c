/*
 * mqtt_trace.c - packets as mosquitto_pub / mosquitto_sub -d trace them
 * (libmosquitto 2.0's log lines), so `lia sub -d` reads like
 * `mosquitto_sub -d`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mqtt_trace.h"

struct out {
	char *buf;
	size_t len, n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;
	if (o->n + 1 >= o->len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->n, o->len - o->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r < o->len - o->n ? (size_t)r : o->len - o->n - 1;
}

static const char *const names[] = { "?", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH" };

static void publish(struct out *o, const struct mqtt_publish *m, const char *dir)
{
	int tl = m->topic.len > 256 ? 256 : (int)m->topic.len;
	put(o, "%s PUBLISH (d%d, q%d, r%d, m%u, '%.*s', ... (%zu bytes))", dir, m->dup, m->qos,
		m->retain, (unsigned)m->packet_id, tl, m->topic.ptr ? (const char *)m->topic.ptr : "",
		m->payload.len);
}

/* mosquitto spells acks differently in each direction */
static void ack(struct out *o, uint8_t type, const struct mqtt_ack *a, bool sending)
{
	const char *n = names[type];
	unsigned mid = a->packet_id;
	if (sending && (type == MQTT_PUBACK || type == MQTT_PUBREC))
		put(o, "sending %s (m%u, rc%u)", n, mid, (unsigned)a->reason);
	else if (sending)
		put(o, "sending %s (m%u)", n, mid);
	else if (type == MQTT_PUBACK || type == MQTT_PUBCOMP)
		put(o, "received %s (Mid: %u, RC:%u)", n, mid, (unsigned)a->reason);
	else
		put(o, "received %s (Mid: %u)", n, mid);
}

static void subscribe(struct out *o, const struct mqtt_subscribe *s)
{
	struct mqtt_sub_item it;
	size_t off = 0;
	bool first = true;
	for (size_t i = 0; s->items ? i < s->count : mqtt_sub_next(s->list, &off, &it) == 1; i++) {
		if (s->items)
			it = s->items[i];
		put(o, "%ssending SUBSCRIBE (Mid: %u, Topic: %.*s, QoS: %u, Options: 0x%02x)",
			first ? "" : "\n", (unsigned)s->packet_id, (int)(it.filter.len > 256 ? 256 : it.filter.len),
			(const char *)it.filter.ptr, (unsigned)(it.options & 3), (unsigned)(it.options & ~3u));
		first = false;
	}
}

static void unsubscribe(struct out *o, const struct mqtt_unsubscribe *s)
{
	struct mqtt_str f;
	size_t off = 0;
	bool first = true;
	for (size_t i = 0; s->filters ? i < s->count : mqtt_unsub_next(s->list, &off, &f) == 1; i++) {
		if (s->filters)
			f = s->filters[i];
		put(o, "%ssending UNSUBSCRIBE (Mid: %u, Topic: %.*s)", first ? "" : "\n",
			(unsigned)s->packet_id, (int)(f.len > 256 ? 256 : f.len), (const char *)f.ptr);
		first = false;
	}
}

size_t mqtt_trace_format(const struct mqtt_packet *p, bool sending, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	const char *dir = sending ? "sending" : "received";
	uint8_t t = p->type <= MQTT_AUTH ? p->type : 0;
	if (len)
		buf[0] = '\0';
	switch (t) {
	case MQTT_CONNACK:
		put(&o, "%s CONNACK (%u)", dir, (unsigned)p->u.connack.reason);
		break;
	case MQTT_PUBLISH:
		publish(&o, &p->u.publish, dir);
		break;
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
		ack(&o, t, &p->u.ack, sending);
		break;
	case MQTT_SUBSCRIBE:
		subscribe(&o, &p->u.subscribe);
		break;
	case MQTT_UNSUBSCRIBE:
		unsubscribe(&o, &p->u.unsubscribe);
		break;
	case MQTT_DISCONNECT:
		if (!sending && p->u.disconnect.reason) {
			put(&o, "received DISCONNECT (%u)", (unsigned)p->u.disconnect.reason);
			break;
		}
		/* fall through */
	default:
		put(&o, "%s %s", dir, names[t]);
		break;
	}
	return o.n;
}
