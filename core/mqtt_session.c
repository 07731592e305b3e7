/*
 * mqtt_session.c - the session state of an MQTT client: outbound publishes
 * (queue, in-flight window, QoS 1/2 state machines, resend after reconnect),
 * inbound QoS 1/2 (delivered exactly once for QoS 2), subscriptions that
 * are remembered and re-sent, packet ids. Connection handling is in
 * mqtt_client.c; messages live in the session store (mqtt_store.h).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mqtt_client_impl.h"
#include "xalloc.h"

/* ---- packet ids: never 0, never one still in use [MQTT-2.2.1-3] ---- */

int session_alloc_id(struct mqtt_client *c, uint16_t *id)
{
	for (unsigned tries = 0; tries < 65535; tries++) {
		uint16_t cand = c->next_id;
		c->next_id = (uint16_t)(cand == 65535 ? 1 : cand + 1);
		if (cand && !bit_get(c->bits->used, cand)) {
			bit_set(c->bits->used, cand, true);
			*id = cand;
			if (c->store->ops->save_next_id)
				c->store->ops->save_next_id(c->store, c->next_id);
			return 0;
		}
	}
	return -1;
}

void session_free_id(struct mqtt_client *c, uint16_t id)
{
	if (id)
		bit_set(c->bits->used, id, false);
}

uint16_t session_window(const struct mqtt_client *c)
{
	uint16_t w = c->o.max_inflight;
	if (c->o.version == MQTT_V5 && c->server_receive_max < w)
		w = c->server_receive_max;
	return w;
}

static void put_id(uint8_t *p, uint16_t id)
{
	p[0] = (uint8_t)(id >> 8);
	p[1] = (uint8_t)id;
}

/* ---- completion of outbound publishes ---- */

static void post_published(struct mqtt_client *c, uint32_t mid, bool ok, uint8_t reason,
	int type, struct mqtt_str props)
{
	struct mqtt_event ev = { .type = MQTT_EV_PUBLISHED };
	ev.u.published.mid = mid;
	ev.u.published.ok = ok;
	ev.u.published.reason = reason;
	ev.u.published.reason_name = mqtt_reason_name(MQTT_V5, type, reason);
	ev.u.published.props = props;
	client_post(c, &ev);
}

void session_remove(struct mqtt_client *c, struct mqtt_msg *m)
{
	if (m == c->qhead)
		c->qhead = c->store->ops->next(c->store, m);
	client_pin_release(c, m);
	c->store->ops->remove(c->store, m);
}

/* Finish an in-flight message: event, id released, window slot freed.
 * mid 0 (mqtt_pub_req.quiet) asked for no event. */
static void complete(struct mqtt_client *c, struct mqtt_msg *m, bool ok, uint8_t reason,
	int type, struct mqtt_str props)
{
	if (m->mid)
		post_published(c, m->mid, ok, reason, type, props);
	if (m->state != MQTT_MSG_QUEUED) {
		idmap_del(&c->inflight_ids, m->packet_id);
		session_free_id(c, m->packet_id);
		c->inflight--;
	} else {
		queue_count(c, m, -1);
	}
	session_remove(c, m);
}

void session_drop(struct mqtt_client *c, struct mqtt_msg *m, const char *why)
{
	struct mqtt_event ev = { .type = MQTT_EV_PUBLISHED };
	ev.u.published.mid = m->mid;
	ev.u.published.reason = 0x80;
	ev.u.published.reason_name = why;
	if (m->mid)
		client_post(c, &ev);
	queue_count(c, m, -1);
	session_remove(c, m);
}

static struct mqtt_msg *find_inflight(struct mqtt_client *c, uint16_t id)
{
	return idmap_get(&c->inflight_ids, id);
}

static void send_ack(struct mqtt_client *c, int type, uint16_t id, uint8_t reason)
{
	struct mqtt_packet p = { .type = (uint8_t)type };
	p.u.ack.packet_id = id;
	p.u.ack.reason = c->o.version == MQTT_V5 ? reason : 0;
	client_send_packet(c, &p);
}

/* ---- sending ---- */

/* A message the broker cannot take on this connection fails visibly. */
static const char *refuse_reason(struct mqtt_client *c, const struct mqtt_msg *m, uint8_t *code)
{
	bool retain = m->data[0] & 0x01;
	if (m->qos > c->server_max_qos)
		return *code = 0x9B, "QoS not supported by the broker";
	if (retain && !c->server_retain)
		return *code = 0x9A, "retain not supported by the broker";
	if (m->len > c->server_max_packet)
		return *code = 0x95, "larger than the broker's maximum packet size";
	return NULL;
}

static bool send_one(struct mqtt_client *c, struct mqtt_msg *m)
{
	uint8_t code;
	const char *why = refuse_reason(c, m, &code);
	if (why) {
		client_log(c, LOG_WARN, "publish %u dropped: %s", (unsigned)m->mid, why);
		complete(c, m, false, code, MQTT_PUBACK, (struct mqtt_str){ 0 });
		return true;
	}
	if (m->qos == 0) {
		if (client_alias_send(c, m->data, m->len, false) < 0)
			return false;
		complete(c, m, true, 0, MQTT_PUBACK, (struct mqtt_str){ 0 });
		return true;
	}
	if (session_alloc_id(c, &m->packet_id) < 0)
		return false;
	if (idmap_put(&c->inflight_ids, m->packet_id, m) < 0) {
		/* out of memory: it stays queued, the next pump tries again */
		session_free_id(c, m->packet_id);
		m->packet_id = 0;
		return false;
	}
	put_id(m->data + m->id_offset, m->packet_id);
	m->data[0] &= (uint8_t)~0x08;       /* first transmission: DUP = 0 */
	m->state = MQTT_MSG_SENT;
	c->store->ops->update(c->store, m);
	c->qhead = c->store->ops->next(c->store, m);
	queue_count(c, m, -1);
	c->inflight++;
	return client_alias_send_msg(c, m, false) == 0;
}

static void pump_ctls(struct mqtt_client *c)
{
	for (struct ctl *k = c->ctls; k; k = k->next) {
		if (k->packet_id)
			continue;
		if (session_alloc_id(c, &k->packet_id) < 0)
			return;
		put_id(k->data + k->id_offset, k->packet_id);
		client_send(c, k->data, k->len);
	}
}

void session_pump(struct mqtt_client *c)
{
	struct mqtt_store *s = c->store;
	struct mqtt_msg *m, *next;
	if (c->state != ST_CONNECTED)
		return;
	pump_ctls(c);
	uint16_t window = session_window(c);
	for (m = c->qhead; m; m = next) {
		next = s->ops->next(s, m);
		if (client_out_len(c) > CLIENT_OUT_HIGH_WATER)
			break;      /* resumes when the socket drains */
		if (m->state != MQTT_MSG_QUEUED)
			continue;
		if (m->qos > 0 && c->inflight >= window)
			break;      /* strict order: nothing overtakes a waiting message */
		if (queue_expired(c, m)) {
			session_drop(c, m, "expired: older than max_age");
			continue;
		}
		if (queue_paced(c))
			break;
		if (!send_one(c, m))
			break;
	}
}

/* ---- after CONNACK: resume or restart the session ---- */

static void ctl_free(struct ctl *k)
{
	xfree(k->data);
	xfree(k);
}

/* Broker kept the session: resend unacknowledged PUBLISH with DUP=1 and
 * PUBREL for released QoS 2, in the original order [MQTT-4.4.0-1]. */
static void resume_session(struct mqtt_client *c)
{
	struct mqtt_store *s = c->store;
	for (struct mqtt_msg *m = s->ops->first(s); m && m->state != MQTT_MSG_QUEUED; m = s->ops->next(s, m)) {
		if (m->state == MQTT_MSG_SENT) {
			m->data[0] |= 0x08;
			s->ops->update(s, m);
			/* the broker forgot our aliases with the connection */
			client_alias_send_msg(c, m, true);
		} else {
			send_ack(c, MQTT_PUBREL, m->packet_id, 0);
		}
	}
	for (struct ctl *k = c->ctls; k; k = k->next)
		if (k->packet_id)
			client_send(c, k->data, k->len);
}

static int queue_subscribe(struct mqtt_client *c, const struct mqtt_sub_item *items, size_t n,
	const uint8_t *props, size_t props_len, uint32_t mid);

/* Does SUBSCRIBE k carry filter f (or, with prefix, one starting with f)? */
static bool ctl_has_filter(struct mqtt_client *c, const struct ctl *k, const char *f, size_t n,
	bool prefix)
{
	struct mqtt_packet p;
	struct mqtt_sub_item it;
	size_t used, off = 0;
	if (k->type != MQTT_SUBSCRIBE || mqtt_decode(k->data, k->len, c->o.version, 0, &p, &used) != MQTT_OK)
		return false;
	while (mqtt_sub_next(p.u.subscribe.list, &off, &it) == 1)
		if ((prefix ? it.filter.len >= n : it.filter.len == n) && memcmp(it.filter.ptr, f, n) == 0)
			return true;
	return false;
}

/* A script's SUBSCRIBE for filter waits to go out (made before CONNACK):
 * re-subscribing it as well would send the filter twice (a broker without
 * $share support then disconnects twice). */
static bool user_subscribing(struct mqtt_client *c, const char *filter)
{
	size_t n = strlen(filter);
	for (const struct ctl *k = c->ctls; k; k = k->next)
		if (k->mid && ctl_has_filter(c, k, filter, n, false))
			return true;
	return false;
}

/* Broker has no session: what was in flight goes out again as new
 * messages with new ids; QoS 2 messages already PUBRECed were received by
 * the broker, so they complete. Subscriptions are sent again. */
static void restart_session(struct mqtt_client *c)
{
	struct mqtt_store *s = c->store;
	struct mqtt_msg *m, *next;
	for (m = s->ops->first(s); m && m->state != MQTT_MSG_QUEUED; m = next) {
		next = s->ops->next(s, m);
		if (m->state == MQTT_MSG_RELEASED) {
			complete(c, m, true, 0, MQTT_PUBCOMP, (struct mqtt_str){ 0 });
			continue;
		}
		session_free_id(c, m->packet_id);
		m->packet_id = 0;
		m->state = MQTT_MSG_QUEUED;
		m->data[0] &= (uint8_t)~0x08;
		s->ops->update(s, m);
		c->inflight--;
		queue_count(c, m, 1);
	}
	/* everything left is queued again, in publish order */
	idmap_clear(&c->inflight_ids);
	c->qhead = s->ops->first(s);
	s->ops->in_clear_all(s);
	/* a table never written stays untouched: 8 KiB fewer resident per client */
	if (c->manual_used)
		memset(c->bits->manual_pending, 0, sizeof c->bits->manual_pending);
	c->manual_used = false;
	/* user requests go out again; internal re-subscribes are rebuilt below */
	struct ctl **pp = &c->ctls;
	while (*pp) {
		struct ctl *k = *pp;
		session_free_id(c, k->packet_id);
		k->packet_id = 0;
		if (k->mid == 0) {
			*pp = k->next;
			ctl_free(k);
		} else {
			pp = &k->next;
		}
	}
	for (struct sub *sb = c->subs; sb; sb = sb->next) {
		struct mqtt_sub_item it = { { (const uint8_t *)sb->filter, strlen(sb->filter) }, sb->options };
		if (user_subscribing(c, sb->filter))
			continue;       /* the script's own SUBSCRIBE still goes out */
		if (queue_subscribe(c, &it, 1, sb->props, sb->props_len, 0) < 0)
			client_log(c, LOG_ERROR, "cannot re-subscribe to %s: out of memory", sb->filter);
	}
}

void session_on_connack(struct mqtt_client *c, bool session_present)
{
	if (session_present)
		resume_session(c);
	else
		restart_session(c);
}

/* ---- inbound packets ---- */

static void deliver(struct mqtt_client *c, const struct mqtt_publish *p)
{
	struct mqtt_event ev = { .type = MQTT_EV_MESSAGE };
	ev.u.message.msg = p;
	ev.u.message.packet_id = p->packet_id;
	client_emit(c, &ev);
}

static uint32_t msg_hash(const struct mqtt_publish *p)
{
	uint32_t h = 2166136261u;   /* FNV-1a over topic, 0, payload */
	for (size_t i = 0; i < p->topic.len; i++)
		h = (h ^ p->topic.ptr[i]) * 16777619u;
	h *= 16777619u;
	for (size_t i = 0; i < p->payload.len; i++)
		h = (h ^ p->payload.ptr[i]) * 16777619u;
	return h;
}

/* A QoS 2 PUBLISH we already have (received, or released and resent by a
 * broker that should not: see mqtt_store.h) is acknowledged, not
 * delivered; a new one is recorded as received before the script sees it. */
static bool inbound_seen(struct mqtt_client *c, const struct mqtt_publish *p)
{
	struct mqtt_store *s = c->store;
	uint32_t old, h = msg_hash(p);
	int st = s->ops->in_get(s, p->packet_id, &old);
	if (st == MQTT_IN_RECEIVED || (st == MQTT_IN_RELEASED && p->dup && old == h)) {
		if (st == MQTT_IN_RELEASED)
			client_log(c, LOG_DEBUG, "broker resent released message %u: not delivered again",
				(unsigned)p->packet_id);
		if (!bit_get(c->bits->manual_pending, p->packet_id))
			send_ack(c, MQTT_PUBREC, p->packet_id, 0);
		return true;
	}
	s->ops->in_set(s, p->packet_id, MQTT_IN_RECEIVED, h);
	return false;
}

static void handle_publish(struct mqtt_client *c, const struct mqtt_publish *in)
{
	struct mqtt_publish resolved = *in, *p = &resolved;
	unsigned gen = c->gen;
	if (!client_alias_resolve(c, p))
		return;
	if (p->qos == 2 && inbound_seen(c, p))
		return;
	if (p->qos > 0 && c->o.manual_ack) {
		bit_set(c->bits->manual_pending, p->packet_id, true);
		c->manual_used = true;
		bit_set(c->bits->manual_qos2, p->packet_id, p->qos == 2);
	}
	deliver(c, p);
	if (!client_alive(c, gen) || p->qos == 0 || c->o.manual_ack)
		return;
	send_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p->packet_id, 0);
}

static void handle_puback(struct mqtt_client *c, const struct mqtt_ack *a)
{
	struct mqtt_msg *m = find_inflight(c, a->packet_id);
	if (!m || m->qos != 1 || m->state != MQTT_MSG_SENT) {
		client_log(c, LOG_DEBUG, "ignoring PUBACK for unknown packet id %u", (unsigned)a->packet_id);
		return;
	}
	complete(c, m, a->reason < 0x80, a->reason, MQTT_PUBACK, a->props);
	session_pump(c);
}

static void handle_pubrec(struct mqtt_client *c, const struct mqtt_ack *a)
{
	struct mqtt_msg *m = find_inflight(c, a->packet_id);
	if (!m || m->qos != 2) {
		/* not ours: v5 answers "packet identifier not found"; 3.1.1 has no
		 * reason codes, and a PUBREL lets the broker finish its side */
		send_ack(c, MQTT_PUBREL, a->packet_id, 0x92);
		return;
	}
	if (a->reason >= 0x80) {
		complete(c, m, false, a->reason, MQTT_PUBREC, a->props);
		session_pump(c);
		return;
	}
	if (m->state == MQTT_MSG_SENT) {
		m->state = MQTT_MSG_RELEASED;
		c->store->ops->update(c->store, m);
	}
	send_ack(c, MQTT_PUBREL, a->packet_id, 0);
}

static void handle_pubrel(struct mqtt_client *c, const struct mqtt_ack *a)
{
	struct mqtt_store *s = c->store;
	uint32_t h;
	int st = s->ops->in_get(s, a->packet_id, &h);
	if (st == MQTT_IN_RECEIVED && bit_get(c->bits->manual_pending, a->packet_id)) {
		client_log(c, LOG_WARN, "PUBREL for packet id %u before it was acknowledged",
			(unsigned)a->packet_id);
		return;
	}
	if (st == MQTT_IN_RECEIVED)
		s->ops->in_set(s, a->packet_id, MQTT_IN_RELEASED, h);
	send_ack(c, MQTT_PUBCOMP, a->packet_id, st != MQTT_IN_NONE ? 0 : 0x92);
}

static void handle_pubcomp(struct mqtt_client *c, const struct mqtt_ack *a)
{
	struct mqtt_msg *m = find_inflight(c, a->packet_id);
	if (!m || m->state != MQTT_MSG_RELEASED) {
		client_log(c, LOG_DEBUG, "ignoring PUBCOMP for unknown packet id %u", (unsigned)a->packet_id);
		return;
	}
	complete(c, m, a->reason < 0x80, a->reason, MQTT_PUBCOMP, a->props);
	session_pump(c);
}

static struct ctl *take_ctl(struct mqtt_client *c, int type, uint16_t id)
{
	for (struct ctl **pp = &c->ctls; *pp; pp = &(*pp)->next) {
		struct ctl *k = *pp;
		if (k->packet_id == id && k->type == type) {
			*pp = k->next;
			return k;
		}
	}
	return NULL;
}

static struct sub *find_sub(struct mqtt_client *c, const uint8_t *f, size_t n, struct sub ***prev)
{
	for (struct sub **pp = &c->subs; *pp; pp = &(*pp)->next) {
		if (strlen((*pp)->filter) == n && memcmp((*pp)->filter, f, n) == 0) {
			if (prev)
				*prev = pp;
			return *pp;
		}
	}
	return NULL;
}

static void sub_free(struct sub *s)
{
	xfree(s->filter);
	xfree(s->props);
	xfree(s);
}

static void forget_sub(struct mqtt_client *c, const uint8_t *f, size_t n)
{
	struct sub **pp;
	struct sub *s = find_sub(c, f, n, &pp);
	if (s) {
		if (c->store->ops->sub_forget)
			c->store->ops->sub_forget(c->store, s->filter);
		*pp = s->next;
		sub_free(s);
	}
}

/* A refused filter is not re-sent after reconnects: forget it. */
static void forget_refused(struct mqtt_client *c, const struct ctl *k, struct mqtt_str codes)
{
	struct mqtt_packet p;
	struct mqtt_sub_item it;
	size_t used, off = 0, i = 0;
	if (mqtt_decode(k->data, k->len, c->o.version, 0, &p, &used) != MQTT_OK)
		return;
	while (mqtt_sub_next(p.u.subscribe.list, &off, &it) == 1 && i < codes.len) {
		if (codes.ptr[i++] >= 0x80) {
			client_log(c, LOG_WARN, "subscription to %.*s refused: %s", (int)it.filter.len,
				(const char *)it.filter.ptr,
				mqtt_reason_name(c->o.version, MQTT_SUBACK, codes.ptr[i - 1]));
			forget_sub(c, it.filter.ptr, it.filter.len);
		}
	}
}

static void handle_suback(struct mqtt_client *c, const struct mqtt_packet *p)
{
	const struct mqtt_suback *a = &p->u.suback;
	int req = p->type == MQTT_SUBACK ? MQTT_SUBSCRIBE : MQTT_UNSUBSCRIBE;
	struct ctl *k = take_ctl(c, req, a->packet_id);
	bool v3_unsuback = p->type == MQTT_UNSUBACK && c->o.version != MQTT_V5;
	if (!k) {
		client_log(c, LOG_DEBUG, "ignoring %s for unknown packet id %u",
			req == MQTT_SUBSCRIBE ? "SUBACK" : "UNSUBACK", (unsigned)a->packet_id);
		return;
	}
	session_free_id(c, k->packet_id);
	if (!v3_unsuback && a->codes.len != k->nfilters) {
		size_t want = k->nfilters;
		ctl_free(k);
		client_protocol_error(c, 0x82, "%s has %zu reason codes for %zu filters",
			req == MQTT_SUBSCRIBE ? "SUBACK" : "UNSUBACK", a->codes.len, want);
		return;
	}
	if (req == MQTT_SUBSCRIBE)
		forget_refused(c, k, a->codes);
	if (k->mid) {
		struct mqtt_event ev = { .type = req == MQTT_SUBSCRIBE ? MQTT_EV_SUBSCRIBED : MQTT_EV_UNSUBSCRIBED };
		ev.u.subscribed.mid = k->mid;
		ev.u.subscribed.codes = a->codes;
		ev.u.subscribed.props = a->props;
		client_post(c, &ev);
	}
	ctl_free(k);
}

/* DISCONNECT 0x9E: the broker has no shared subscriptions. Sending the
 * same $share filters again after every reconnect would only loop, so
 * they are forgotten, each with one line. */
static bool ctl_has_shared(struct mqtt_client *c, const struct ctl *k)
{
	return ctl_has_filter(c, k, "$share/", 7, true);
}

/* A SUBSCRIBE with a $share filter the broker answered by DISCONNECT
 * 0x9E: it fails (its token too), it is not sent again. */
static void fail_shared_ctls(struct mqtt_client *c)
{
	uint8_t refused[64];
	struct ctl **pp = &c->ctls;
	memset(refused, 0x9E, sizeof refused);
	while (*pp) {
		struct ctl *k = *pp;
		if (!ctl_has_shared(c, k)) {
			pp = &k->next;
			continue;
		}
		*pp = k->next;
		session_free_id(c, k->packet_id);
		if (k->mid) {
			struct mqtt_event ev = { .type = MQTT_EV_SUBSCRIBED };
			ev.u.subscribed.mid = k->mid;
			ev.u.subscribed.codes = (struct mqtt_str){ refused, k->nfilters < 64 ? k->nfilters : 64 };
			client_post(c, &ev);
		}
		ctl_free(k);
	}
}

static void forget_shared(struct mqtt_client *c)
{
	fail_shared_ctls(c);
	struct sub **pp = &c->subs;
	while (*pp) {
		struct sub *s = *pp;
		if (strncmp(s->filter, "$share/", 7) == 0) {
			client_log(c, LOG_ERROR, "subscription to %s dropped: the broker does not support "
				"shared subscriptions (0x9e)", s->filter);
			/* from the store too, or the next start would send it again */
			if (c->store->ops->sub_forget)
				c->store->ops->sub_forget(c->store, s->filter);
			*pp = s->next;
			sub_free(s);
		} else {
			pp = &s->next;
		}
	}
}

static void handle_disconnect(struct mqtt_client *c, const struct mqtt_disconnect *d)
{
	struct mqtt_prop rs;
	char why[200] = "";
	if (c->o.version != MQTT_V5) {
		client_protocol_error(c, 0x82, "broker sent DISCONNECT, which MQTT 3.1.1 servers never send");
		return;
	}
	if (d->reason == 0x9E)
		forget_shared(c);
	if (mqtt_props_find(d->props, MQTT_PROP_REASON_STRING, &rs) == 1)
		snprintf(why, sizeof why, ": %.*s", (int)(rs.str.len > 150 ? 150 : rs.str.len),
			(const char *)rs.str.ptr);
	client_lost(c, d->reason, true, d->props, "broker disconnected us: %s (0x%02x)%s",
		mqtt_reason_name(MQTT_V5, MQTT_DISCONNECT, d->reason), d->reason, why);
}

static const char *const type_names[16] = {
	"reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"
};

static void handle_connected(struct mqtt_client *c, const struct mqtt_packet *p)
{
	switch (p->type) {
	case MQTT_PUBLISH: handle_publish(c, &p->u.publish); break;
	case MQTT_PUBACK: handle_puback(c, &p->u.ack); break;
	case MQTT_PUBREC: handle_pubrec(c, &p->u.ack); break;
	case MQTT_PUBREL: handle_pubrel(c, &p->u.ack); break;
	case MQTT_PUBCOMP: handle_pubcomp(c, &p->u.ack); break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK: handle_suback(c, p); break;
	case MQTT_PINGRESP: c->ping_outstanding = false; break;
	case MQTT_DISCONNECT: handle_disconnect(c, &p->u.disconnect); break;
	case MQTT_AUTH: client_auth_packet(c, &p->u.disconnect); break;
	default:
		client_protocol_error(c, 0x82, "broker sent %s, which a server never sends%s",
			type_names[p->type & 15], p->type == MQTT_AUTH ? " unasked" : "");
	}
}

void session_handle(struct mqtt_client *c, const struct mqtt_packet *p)
{
	if (c->state == ST_WAIT_CONNACK) {
		if (p->type == MQTT_CONNACK)
			client_connack(c, &p->u.connack);
		else if (p->type == MQTT_AUTH)
			client_auth_packet(c, &p->u.disconnect);
		else
			client_protocol_error(c, 0x82, "expected CONNACK, got %s", type_names[p->type & 15]);
		return;
	}
	if (c->state != ST_CONNECTED && c->state != ST_DISCONNECTING)
		return;
	if (p->type == MQTT_CONNACK) {
		client_protocol_error(c, 0x82, "second CONNACK on one connection");
		return;
	}
	handle_connected(c, p);
}

/* ---- API: publish, subscribe, unsubscribe, ack ---- */

static uint32_t next_mid(struct mqtt_client *c)
{
	uint32_t mid = c->next_mid++;
	if (c->next_mid == 0)
		c->next_mid = 1;
	return mid;
}

static size_t header_len(const uint8_t *data, size_t len)
{
	uint8_t first;
	uint32_t rem;
	size_t hlen = 0;
	mqtt_decode_fixed_header(data, len, &first, &rem, &hlen);
	return hlen;
}

static int check_props(struct mqtt_client *c, int type, const uint8_t *props, size_t len)
{
	if (c->o.version != MQTT_V5 || !props || !len)
		return 0;
	return mqtt_props_validate(type, props, len) == MQTT_OK ? 0 : MQTT_E_INVALID;
}

/* The PUBLISH of r. */
static void pub_fill(const struct mqtt_client *c, const struct mqtt_pub_req *r,
	struct mqtt_packet *p)
{
	struct mqtt_publish *pub = &p->u.publish;
	memset(p, 0, sizeof *p);
	p->type = MQTT_PUBLISH;
	pub->qos = r->qos;
	pub->retain = r->retain;
	pub->packet_id = r->qos ? 1 : 0;    /* placeholder, patched when sent */
	pub->topic = (struct mqtt_str){ (const uint8_t *)r->topic, r->topic_len };
	if (c->o.version == MQTT_V5)
		pub->props = (struct mqtt_str){ r->props, r->props ? r->props_len : 0 };
	pub->payload = (struct mqtt_str){ r->payload, r->payload ? r->payload_len : 0 };
}

static struct mqtt_msg *encode_publish(struct mqtt_client *c, const struct mqtt_pub_req *r, int *err)
{
	struct mqtt_packet p;
	pub_fill(c, r, &p);
	size_t size = mqtt_encoded_size(&p, c->o.version);
	if (!size || (c->state == ST_CONNECTED && size > c->server_max_packet)) {
		*err = MQTT_E_TOO_BIG;
		return NULL;
	}
	struct mqtt_msg *m = mqtt_msg_new(size);
	if (!m) {
		*err = MQTT_E_NOMEM;
		return NULL;
	}
	mqtt_encode(&p, c->o.version, m->data, size);
	m->qos = r->qos;
	m->state = MQTT_MSG_QUEUED;
	/* the age only matters for max_age and for what a store keeps:
	 * a QoS 0 message without max_age saves the clock read */
	m->created = r->qos || c->o.max_age_ms ? queue_wall_ms() : 0;
	m->id_offset = (uint32_t)(header_len(m->data, size) + 2 + r->topic_len);
	return m;
}

/* Would the queue send r at once, ahead of nothing? A QoS 0 message when
 * connected, nothing queued, the output under its high-water mark, no
 * drain_rate pacing and nothing the broker refuses (session_pump and
 * send_one's conditions). */
static bool sendable_now(const struct mqtt_client *c, const struct mqtt_pub_req *r)
{
	return r->qos == 0 && c->state == ST_CONNECTED && !c->qhead && !c->o.drain_rate &&
		client_out_len(c) <= CLIENT_OUT_HIGH_WATER && !(r->retain && !c->server_retain);
}

/* Such a message goes straight to the output: no message object, store
 * entry or queue turn, about a tenth of a QoS 0 publish; what is
 * seen of it (the queue's limits, ctls first, the "publish" event after
 * the write) is as through the queue. 1: it could not be written (out of
 * memory), the queue takes it. */
static int publish_now(struct mqtt_client *c, const struct mqtt_pub_req *r, uint32_t *mid)
{
	uint8_t small[512], *b = small;
	struct mqtt_packet p;
	pub_fill(c, r, &p);
	/* a small packet is encoded in two passes (size, then write), not three */
	size_t size = mqtt_encode(&p, c->o.version, small, sizeof small);
	if (!size && (size = mqtt_encoded_size(&p, c->o.version)) > 0) {
		if (!(b = xmalloc(size)))
			return 1;
		mqtt_encode(&p, c->o.version, b, size);
	}
	int err = !size || size > c->server_max_packet ? MQTT_E_TOO_BIG : queue_admit(c, size);
	if (err < 0) {
		if (b != small)
			xfree(b);
		return err;
	}
	pump_ctls(c);
	err = client_alias_send(c, b, size, false);
	if (b != small)
		xfree(b);
	if (err < 0)
		return 1;
	uint32_t m = r->quiet ? 0 : next_mid(c);
	if (m)
		post_published(c, m, true, 0, MQTT_PUBACK, (struct mqtt_str){ 0 });
	if (mid)
		*mid = m;
	return 0;
}

int mqtt_client_publish(struct mqtt_client *c, const struct mqtt_pub_req *req, uint32_t *mid)
{
	int err = 0;
	struct mqtt_pub_req resolved = *req, *r = &resolved;
	if (r->qos > 2)
		return MQTT_E_QOS;
	if (check_props(c, MQTT_PUBLISH, r->props, r->props_len) < 0)
		return MQTT_E_INVALID;
	if ((err = client_alias_publish(c, r)) < 0)
		return err;
	if (r->qos > 2)
		return MQTT_E_QOS;
	if (!r->topic || !mqtt_topic_name_valid((const uint8_t *)r->topic, r->topic_len))
		return MQTT_E_TOPIC;
	if (check_props(c, MQTT_PUBLISH, r->props, r->props_len) < 0)
		return MQTT_E_INVALID;
	if (sendable_now(c, r) && (err = publish_now(c, r, mid)) <= 0) {
		if (err == 0)
			client_write_through(c);
		return err;
	}
	struct mqtt_msg *m = encode_publish(c, r, &err);
	if (!m)
		return err;
	if ((err = queue_admit(c, m->len)) < 0) {
		mqtt_msg_free(m);
		return err;
	}
	m->mid = r->quiet ? 0 : next_mid(c);
	if (c->store->ops->add(c->store, m) < 0) {
		mqtt_msg_free(m);
		return MQTT_E_NOMEM;
	}
	if (!c->qhead)
		c->qhead = m;   /* added last, and everything after qhead is queued */
	queue_count(c, m, 1);
	if (mid)
		*mid = m->mid;
	session_pump(c);
	client_write_through(c);
	return 0;
}

static int append_ctl(struct mqtt_client *c, const struct mqtt_packet *p, size_t nfilters, uint32_t mid)
{
	size_t size = mqtt_encoded_size(p, c->o.version);
	if (!size)
		return MQTT_E_TOO_BIG;
	struct ctl *k = xcalloc(1, sizeof *k);
	if (!k || !(k->data = xmalloc(size))) {
		xfree(k);
		return MQTT_E_NOMEM;
	}
	mqtt_encode(p, c->o.version, k->data, size);
	k->len = size;
	k->type = p->type;
	k->mid = mid;
	k->nfilters = nfilters;
	k->id_offset = header_len(k->data, size);
	struct ctl **pp = &c->ctls;
	while (*pp)
		pp = &(*pp)->next;
	*pp = k;
	return 0;
}

static int queue_subscribe(struct mqtt_client *c, const struct mqtt_sub_item *items, size_t n,
	const uint8_t *props, size_t props_len, uint32_t mid)
{
	struct mqtt_packet p = { .type = MQTT_SUBSCRIBE };
	p.u.subscribe.packet_id = 1;
	p.u.subscribe.items = items;
	p.u.subscribe.count = n;
	if (c->o.version == MQTT_V5)
		p.u.subscribe.props = (struct mqtt_str){ props, props ? props_len : 0 };
	return append_ctl(c, &p, n, mid);
}

static int remember_sub(struct mqtt_client *c, const struct mqtt_sub_item *it,
	const uint8_t *props, size_t props_len)
{
	struct sub *s = find_sub(c, it->filter.ptr, it->filter.len, NULL);
	if (!s) {
		s = xcalloc(1, sizeof *s);
		if (!s || !(s->filter = xmalloc(it->filter.len + 1))) {
			xfree(s);
			return MQTT_E_NOMEM;
		}
		memcpy(s->filter, it->filter.ptr, it->filter.len);
		s->filter[it->filter.len] = '\0';
		s->next = c->subs;
		c->subs = s;
	}
	s->options = it->options;
	xfree(s->props);
	s->props = NULL;
	s->props_len = 0;
	if (props && props_len) {
		if (!(s->props = xmemdup(props, props_len)))
			return MQTT_E_NOMEM;
		s->props_len = props_len;
	}
	if (c->store->ops->sub_save)
		c->store->ops->sub_save(c->store, s->filter, s->options, s->props, s->props_len);
	return 0;
}

static int check_filters(struct mqtt_client *c, const struct mqtt_sub_item *items, size_t n)
{
	if (!n)
		return MQTT_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (!items[i].filter.ptr || !mqtt_topic_filter_valid(items[i].filter.ptr, items[i].filter.len))
			return MQTT_E_TOPIC;
		if ((items[i].options & 3) > 2 || (items[i].options >> MQTT_SUB_RH_SHIFT) > 2)
			return MQTT_E_QOS;
		if (c->o.version != MQTT_V5 && (items[i].options & ~3))
			return MQTT_E_INVALID;
	}
	return 0;
}

int mqtt_client_subscribe(struct mqtt_client *c, const struct mqtt_sub_item *items, size_t n,
	const uint8_t *props, size_t props_len, uint32_t *mid)
{
	int r = check_filters(c, items, n);
	if (r == 0)
		r = check_props(c, MQTT_SUBSCRIBE, props, props_len);
	if (r < 0)
		return r;
	uint32_t id = next_mid(c);
	if ((r = queue_subscribe(c, items, n, props, props_len, id)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = remember_sub(c, &items[i], c->o.version == MQTT_V5 ? props : NULL, props_len)) < 0)
			return r;
	if (mid)
		*mid = id;
	session_pump(c);
	return 0;
}

int mqtt_client_unsubscribe(struct mqtt_client *c, const struct mqtt_str *filters, size_t n,
	const uint8_t *props, size_t props_len, uint32_t *mid)
{
	struct mqtt_packet p = { .type = MQTT_UNSUBSCRIBE };
	int r;
	if (!n)
		return MQTT_E_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!filters[i].ptr || !mqtt_topic_filter_valid(filters[i].ptr, filters[i].len))
			return MQTT_E_TOPIC;
	if ((r = check_props(c, MQTT_UNSUBSCRIBE, props, props_len)) < 0)
		return r;
	p.u.unsubscribe.packet_id = 1;
	p.u.unsubscribe.filters = filters;
	p.u.unsubscribe.count = n;
	if (c->o.version == MQTT_V5)
		p.u.unsubscribe.props = (struct mqtt_str){ props, props ? props_len : 0 };
	uint32_t id = next_mid(c);
	if ((r = append_ctl(c, &p, n, id)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		forget_sub(c, filters[i].ptr, filters[i].len);
	if (mid)
		*mid = id;
	session_pump(c);
	return 0;
}

void mqtt_client_subscriptions(const struct mqtt_client *c, mqtt_sub_fn *fn, void *ud)
{
	for (const struct sub *s = c->subs; s; s = s->next)
		fn(s->filter, s->options, ud);
}

int mqtt_client_ack(struct mqtt_client *c, uint16_t packet_id)
{
	if (!packet_id || !bit_get(c->bits->manual_pending, packet_id))
		return MQTT_E_UNKNOWN_ID;
	bit_set(c->bits->manual_pending, packet_id, false);
	if (c->state == ST_CONNECTED)
		send_ack(c, bit_get(c->bits->manual_qos2, packet_id) ? MQTT_PUBREC : MQTT_PUBACK, packet_id, 0);
	return 0;
}

void session_free_all(struct mqtt_client *c)
{
	idmap_free(&c->inflight_ids);
	c->qhead = NULL;
	while (c->subs) {
		struct sub *s = c->subs;
		c->subs = s->next;
		sub_free(s);
	}
	while (c->ctls) {
		struct ctl *k = c->ctls;
		c->ctls = k->next;
		ctl_free(k);
	}
}

/* ---- what a persistent store brings from an earlier process ---- */

static void on_stored(void *ud, uint32_t mid, bool ok, const char *why)
{
	struct mqtt_client *c = ud;
	struct mqtt_event ev = { .type = MQTT_EV_STORED };
	if (!mid)
		return;     /* a quiet publish: nobody asked */
	ev.u.stored.mid = mid;
	ev.u.stored.ok = ok;
	ev.u.stored.why = why;
	client_post(c, &ev);
}

static void adopt_sub(void *ud, const char *filter, uint8_t options, const uint8_t *props,
	size_t props_len)
{
	struct mqtt_client *c = ud;
	struct mqtt_sub_item it = { { (const uint8_t *)filter, strlen(filter) }, options };
	if (remember_sub(c, &it, props, props_len) < 0)
		client_log(c, LOG_ERROR, "cannot restore the subscription to %s: out of memory", filter);
}

/* Messages in flight keep their packet ids (the broker knows them); each
 * gets a new mid, which no token of this process waits for. */
void session_adopt_store(struct mqtt_client *c)
{
	struct mqtt_store *s = c->store;
	unsigned n = 0;
	s->on_stored = on_stored;
	s->ud = c;
	c->fresh = s->known_session || c->o.clean ? FRESH_NONE : FRESH_PROBE;
	if (s->next_id)
		c->next_id = s->next_id;
	for (struct mqtt_msg *m = s->ops->first(s); m; m = s->ops->next(s, m), n++) {
		m->mid = next_mid(c);
		if (m->state == MQTT_MSG_QUEUED) {
			if (!c->qhead)
				c->qhead = m;
			queue_count(c, m, 1);
		} else {
			c->inflight++;
			bit_set(c->bits->used, m->packet_id, true);
			if (idmap_put(&c->inflight_ids, m->packet_id, m) < 0)
				client_log(c, LOG_ERROR, "store: out of memory for in-flight message %u",
					(unsigned)m->packet_id);
		}
	}
	if (s->ops->sub_each)
		s->ops->sub_each(s, adopt_sub, c);
	if (n)
		client_log(c, LOG_INFO, "store: %u messages from an earlier run (%u in flight)",
			n, (unsigned)c->inflight);
}
