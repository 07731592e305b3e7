/*
 * mqtt_client.c - the connection lifecycle of an MQTT client: options,
 * transport connect, CONNECT/CONNACK, reading and framing, the output queue
 * flushed before the loop sleeps, keep-alive, reconnection with backoff and
 * event delivery. Packet handling lives in mqtt_session.c.
 *
 * Re-entrancy: event handlers may call any API function, including
 * mqtt_client_disconnect and mqtt_client_free. Events raised from loop
 * callbacks are delivered at once (client_emit) and the caller re-checks
 * client_alive() afterwards; events caused by API calls are posted and
 * delivered from a zero-delay timer (client_post), so a handler never runs
 * inside e.g. mqtt_client_publish.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mqtt_client_impl.h"
#include "mqtt_trace.h"
#include "xalloc.h"

#define STABLE_MS 10000         /* connected this long: backoff starts over */
#define CLOSE_GRACE_MS 2000     /* how long a DISCONNECT may take to flush */
#define READ_CHUNK 16384

static const char *const error_text[] = {
#define MQTT_X_ERR(name, value, text) [-(value)] = text,
	MQTT_ERROR_LIST(MQTT_X_ERR)
#undef MQTT_X_ERR
};

const char *mqtt_client_strerror(int err)
{
	if (err < 0 && (size_t)-err < sizeof error_text / sizeof error_text[0] && error_text[-err])
		return error_text[-err];
	return err == 0 ? "ok" : "unknown error";
}

/* ---- re-entrancy ---- */

void client_enter(struct mqtt_client *c)
{
	c->depth++;
}

static void client_destroy(struct mqtt_client *c);

/* Leave a loop callback; frees the client if a handler asked for it. */
void client_leave(struct mqtt_client *c)
{
	if (--c->depth == 0 && c->freeing)
		client_destroy(c);
}

/* ---- output ---- */

static void set_watch(struct mqtt_client *c, int mask);

/* Write what is queued; when the socket takes it all, refill from the
 * session queue (back-pressure: the queue is only drained this fast). */
static void flush_out(struct mqtt_client *c)
{
	for (;;) {
		/* write-ahead: what these bytes announce (a packet id, a PUBREC, a
		 * PUBREL) is durable before the broker can act on it */
		if (client_out_len(c) && c->store->ops->sync)
			c->store->ops->sync(c->store);
		if (client_pin_write(c) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_watch(c, LOOP_READ | LOOP_WRITE);
				return;
			}
			client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s",
				c->tr.err[0] ? c->tr.err : "write failed");
			return;
		}
		while (buf_len(&c->out)) {
			ssize_t w = c->tops->write(&c->tr, buf_head(&c->out), buf_len(&c->out));
			if (w > 0) {
				buf_consume(&c->out, (size_t)w);
				c->last_sent = loop_now(c->loop);
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				set_watch(c, LOOP_READ | LOOP_WRITE);
				return;
			}
			client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s",
				c->tr.err[0] ? c->tr.err : "write failed");
			return;
		}
		if (c->state == ST_DISCONNECTING) {
			client_lost(c, 0, false, (struct mqtt_str){ 0 }, "disconnected");
			return;
		}
		if (c->state != ST_CONNECTED || !c->queued)
			break;
		session_pump(c);
		if (!client_out_len(c))
			break;
	}
	set_watch(c, LOOP_READ);
}

/* -d: each packet, sent or received, as mosquitto's clients trace it. */
static void trace(struct mqtt_client *c, const struct mqtt_packet *p, bool sending)
{
	char line[1024];
	const char *id = c->assigned_id ? c->assigned_id : c->client_id;
	if (!c->o.trace && log_get_level() < LOG_DEBUG)
		return;
	mqtt_trace_format(p, sending, line, sizeof line);
	for (char *s = line, *nl; s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		client_log(c, LOG_DEBUG, "Client %s %s", id && id[0] ? id : "(null)", s);
	}
}

static void trace_bytes(struct mqtt_client *c, const uint8_t *data, size_t len)
{
	struct mqtt_packet p;
	size_t used;
	if ((c->o.trace || log_get_level() >= LOG_DEBUG) &&
			mqtt_decode(data, len, c->o.version, 0, &p, &used) == MQTT_OK)
		trace(c, &p, true);
}

int client_send(struct mqtt_client *c, const uint8_t *data, size_t len)
{
	/* The output buffer is bounded by the queue limits that feed it; this cap
	 * only guards against a broker that stops reading for good. */
	size_t limit = CLIENT_OUT_HIGH_WATER + (size_t)c->server_max_packet + 16 * 1024 * 1024;
	if (buf_append(&c->out, data, len, limit) < 0) {
		client_log(c, LOG_ERROR, "output buffer full (%zu bytes): broker not reading", buf_len(&c->out));
		return MQTT_E_NOMEM;
	}
	client_sent(c, data, len);
	return 0;
}

void client_sent(struct mqtt_client *c, const uint8_t *data, size_t len)
{
	c->st.sent_packets++;
	trace_bytes(c, data, len);
	c->st.sent_bytes += len;
}

int client_send_packet(struct mqtt_client *c, const struct mqtt_packet *p)
{
	uint8_t small[256];
	uint8_t version = c->o.version;
	size_t n = mqtt_encoded_size(p, version);
	if (n == 0)
		return MQTT_E_TOO_BIG;
	uint8_t *b = n <= sizeof small ? small : xmalloc(n);
	if (!b)
		return MQTT_E_NOMEM;
	mqtt_encode(p, version, b, n);
	int r = client_send(c, b, n);
	if (b != small)
		xfree(b);
	return r;
}

/* Write what is queued, unless the socket is not up yet or a flush
 * already waits for it to take more. */
static void flush_queued(struct mqtt_client *c)
{
	if (client_out_len(c) && (c->state == ST_CONNECTED || c->state == ST_WAIT_CONNACK ||
			c->state == ST_DISCONNECTING) && !(c->watch_mask & LOOP_WRITE)) {
		client_enter(c);
		flush_out(c);
		client_leave(c);
	}
}

/* A request/response script publishes, then waits: written when the loop
 * is about to sleep, the request would first sit through the wait, the
 * coroutine's yield and the loop's timers, a few microseconds of each
 * round trip. So the first publish of a turn goes out at once, and what
 * follows in the same turn is gathered for before_sleep as before: a loop
 * of publishes still costs one write per turn, plus this one.
 *
 * Only the plain case: a publish from a handler inside on_io is flushed
 * after the read; a pinned large message, and a store with something to
 * commit first (a QoS 1/2 message a persistent client stored: its
 * write-ahead stays one commit per turn), wait for before_sleep. A
 * script's call must not emit events, so a failed write is left to the
 * loop: watching for writability, on_io's flush_out meets the error
 * again and reports the connection lost. */
void client_write_through(struct mqtt_client *c)
{
	const struct mqtt_store_ops *so = c->store->ops;
	if (c->depth || c->turn_written || c->state != ST_CONNECTED || c->pin_msg ||
			(c->watch_mask & LOOP_WRITE) || (so->sync && (!so->unsynced || so->unsynced(c->store))))
		return;
	c->turn_written = true;
	while (buf_len(&c->out)) {
		ssize_t w = c->tops->write(&c->tr, buf_head(&c->out), buf_len(&c->out));
		if (w <= 0) {
			set_watch(c, LOOP_READ | LOOP_WRITE);
			return;
		}
		buf_consume(&c->out, (size_t)w);
		c->last_sent = loop_now(c->loop);
	}
}

static void before_sleep(struct loop *l, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	c->turn_written = false;
	flush_queued(c);
	client_lowat_before_sleep(c);
}

/* ---- connection lifecycle ---- */

static void on_io(struct loop *l, int fd, int events, void *ud);

static void set_watch(struct mqtt_client *c, int mask)
{
	if (c->tr.fd < 0 || mask == c->watch_mask)
		return;
	if (loop_watch(c->loop, c->tr.fd, mask, on_io, c) == 0)
		c->watch_mask = mask;
}

static void stop_timer(struct mqtt_client *c, struct loop_timer **t)
{
	if (*t)
		loop_timer_cancel(c->loop, *t);
	*t = NULL;
}

static void close_transport(struct mqtt_client *c)
{
	if (c->tr.fd >= 0)
		loop_unwatch(c->loop, c->tr.fd);
	if (c->tops && (c->tr.fd >= 0 || c->tr.priv))
		c->tops->close(&c->tr);
	c->tr.fd = -1;
	c->watch_mask = 0;
	client_lowat_reset(c);
	/* clear, not free: a packet being handled may still point into it */
	buf_clear(&c->in);
	buf_clear(&c->out);
	c->pin_msg = NULL;
}

static int64_t retry_due(struct loop *l, struct loop_timer *t, void *ud);

static void schedule_reconnect(struct mqtt_client *c, bool had_session, uint32_t *delay)
{
	*delay = 0;
	bool at_once = c->want_connected && client_uris_next(c, had_session);
	if (!c->want_connected || (!c->o.reconnect && !at_once)) {
		c->state = ST_IDLE;
		return;
	}
	/* the next URI of a round (or a server reference) at once; a
	 * failover to the next node is not slowed down by the backoff */
	*delay = at_once ? 0 : backoff_next(&c->backoff);
	c->state = ST_BACKOFF;
	c->retry_timer = loop_timer_start(c->loop, *delay, retry_due, c);
}

/* A refusal retrying cannot heal is an error, logged once per change of
 * its code; the same refusal again only at debug level. */
static int refused_level(struct mqtt_client *c, bool refused, uint8_t reason)
{
	if (!refused || !mqtt_reason_permanent(c->o.version, reason))
		return LOG_WARN;
	if (c->last_refusal == reason)
		return LOG_DEBUG;
	c->last_refusal = reason;
	return LOG_ERROR;
}

void client_lost(struct mqtt_client *c, uint8_t reason, bool by_server,
	struct mqtt_str props, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	uint32_t delay;
	bool had_session = c->state == ST_CONNECTED || c->state == ST_DISCONNECTING;
	bool by_request = c->state == ST_DISCONNECTING;
	/* a refused CONNACK: its code is a CONNACK code (5 on 3.1.1 is
	 * not_authorized), not a v5 DISCONNECT reason */
	bool refused = c->state == ST_WAIT_CONNACK && by_server && reason;
	const char *name = refused ? mqtt_reason_name(c->o.version, MQTT_CONNACK, reason) :
		mqtt_reason_name(MQTT_V5, MQTT_DISCONNECT, reason);
	int level = refused_level(c, refused, reason);
	uint64_t now = loop_now(c->loop);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	close_transport(c);
	stop_timer(c, &c->conn_timer);
	stop_timer(c, &c->ka_timer);
	stop_timer(c, &c->close_timer);
	client_auth_lost(c);
	c->gen++;
	c->ping_outstanding = false;
	if (had_session && now - c->connected_at >= STABLE_MS)
		backoff_reset(&c->backoff);
	if (!by_request)
		client_uris_redirect(c, reason, props);
	schedule_reconnect(c, had_session, &delay);
	if (by_request)
		client_log(c, LOG_INFO, "disconnected");
	else if (c->state == ST_BACKOFF)
		client_log(c, level, "%s%s; reconnecting in %u ms", msg,
			level == LOG_ERROR ? ", which retrying will not heal" : "", (unsigned)delay);
	else
		client_log(c, level, "%s", msg);

	struct mqtt_event ev = { .type = MQTT_EV_DISCONNECT };
	ev.u.disconnect.reason = reason;
	ev.u.disconnect.reason_name = name;
	ev.u.disconnect.by_server = by_server;
	ev.u.disconnect.will_reconnect = c->state == ST_BACKOFF || c->replacing;
	ev.u.disconnect.connected = had_session;
	ev.u.disconnect.message = msg;
	ev.u.disconnect.props = props;
	client_emit(c, &ev);
}

/* Best effort, just before a close: one write of DISCONNECT (and whatever
 * is queued before it), no waiting for the socket. */
static void disconnect_now(struct mqtt_client *c, uint8_t reason)
{
	struct mqtt_packet p = { .type = MQTT_DISCONNECT };
	p.u.disconnect.reason = reason;
	if (client_send_packet(c, &p) == 0) {
		/* write-ahead, as in flush_out: what is queued before it may carry
		 * packet ids the store has not committed yet */
		if (c->store->ops->sync)
			c->store->ops->sync(c->store);
		/* half a pinned packet cannot be followed by anything */
		if (client_pin_write(c) == 0)
			(void)c->tops->write(&c->tr, buf_head(&c->out), buf_len(&c->out));
	}
}

void client_protocol_error(struct mqtt_client *c, uint8_t reason, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	client_log(c, LOG_ERROR, "protocol error: %s (%s)", msg,
		mqtt_reason_name(MQTT_V5, MQTT_DISCONNECT, reason));
	if (c->o.version == MQTT_V5 && c->state == ST_CONNECTED) {
		/* tell the broker why before closing [MQTT-4.13.1-1] */
		buf_clear(&c->out);
		disconnect_now(c, reason);
	}
	client_lost(c, reason, false, (struct mqtt_str){ 0 }, "protocol error: %s", msg);
}

static int64_t conn_timeout(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->conn_timer = NULL;
	client_enter(c);
	client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s %s:%u: no CONNACK within %u ms",
		c->state == ST_CONNECTING ? "connect to" : "broker at", c->uri.host,
		(unsigned)c->uri.port, (unsigned)c->o.connect_timeout_ms);
	client_leave(c);
	return LOOP_TIMER_STOP;
}

static void send_connect(struct mqtt_client *c)
{
	struct mqtt_packet p = { .type = MQTT_CONNECT };
	struct mqtt_connect *k = &p.u.connect;
	const char *id = c->assigned_id ? c->assigned_id : c->client_id;
	k->version = c->o.version;
	k->clean = c->o.clean || c->fresh == FRESH_DISCARD;
	k->keepalive = c->o.keepalive;
	k->client_id = (struct mqtt_str){ (const uint8_t *)id, strlen(id) };
	if (c->username)
		k->username = (struct mqtt_str){ (const uint8_t *)c->username, strlen(c->username) };
	if (c->password)
		k->password = (struct mqtt_str){ c->password, c->o.password_len };
	k->props = (struct mqtt_str){ c->connect_props, c->connect_props_len };
	uint8_t *auth_block = client_auth_connect_props(c, &k->props);
	if (c->o.has_will) {
		k->has_will = true;
		k->will.topic = (struct mqtt_str){ (const uint8_t *)c->will_topic, strlen(c->will_topic) };
		k->will.payload = (struct mqtt_str){ c->will_payload, c->o.will_payload_len };
		k->will.props = (struct mqtt_str){ c->will_props, c->o.will_props_len };
		k->will.qos = c->o.will_qos;
		k->will.retain = c->o.will_retain;
	}
	int r = client_send_packet(c, &p);
	xfree(auth_block);
	if (r < 0)
		client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "cannot encode CONNECT");
}

static void transport_ready(struct mqtt_client *c)
{
	c->state = ST_WAIT_CONNACK;
	set_watch(c, LOOP_READ);
	send_connect(c);
}

static void connect_start(struct mqtt_client *c)
{
	int r;
	memset(&c->tr, 0, sizeof c->tr);
	c->tr.fd = -1;
	c->tr.cfg = &c->tcfg;
	c->state = ST_CONNECTING;
	c->conn_timer = loop_timer_start(c->loop, c->o.connect_timeout_ms, conn_timeout, c);
	client_log(c, LOG_DEBUG, "connecting to %s", c->uri_text);
	r = c->tops->open(&c->tr, &c->uri);
	if (r < 0)
		client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s", c->tr.err);
	else if (r == 0)
		transport_ready(c);
	else
		set_watch(c, r == TRANSPORT_WANT_READ ? LOOP_READ : LOOP_WRITE);
}

static int64_t retry_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->retry_timer = NULL;
	client_enter(c);
	if (c->state == ST_BACKOFF)
		connect_start(c);
	client_leave(c);
	return LOOP_TIMER_STOP;
}

/* ---- input ---- */

static void process_input(struct mqtt_client *c)
{
	unsigned gen = c->gen;
	while (client_alive(c, gen) && buf_len(&c->in)) {
		struct mqtt_packet p;
		size_t used = 0;
		const uint8_t *head = buf_head(&c->in);
		int r = mqtt_decode(head, buf_len(&c->in), c->o.version, c->o.max_packet_size, &p, &used);
		if (r == MQTT_INCOMPLETE)
			return;
		if (r == MQTT_TOO_BIG) {
			client_protocol_error(c, 0x95, "broker sent a packet over our maximum of %u bytes",
				(unsigned)c->o.max_packet_size);
			return;
		}
		if (r != MQTT_OK) {
			client_protocol_error(c, 0x81, "malformed packet of type %u from broker",
				(unsigned)(head[0] >> 4));
			return;
		}
		c->st.recv_packets++;
		trace(c, &p, false);
		session_handle(c, &p);
		if (!client_alive(c, gen))
			return;
		buf_consume(&c->in, used);
	}
}

/* One read; true when it got bytes. */
static bool read_once(struct mqtt_client *c)
{
	size_t limit = (size_t)c->o.max_packet_size + READ_CHUNK;
	ssize_t r;
	if (buf_reserve(&c->in, READ_CHUNK, limit) < 0) {
		client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "out of memory for input");
		return false;
	}
	r = c->tops->read(&c->tr, c->in.data + c->in.end, c->in.cap - c->in.end);
	if (r == 0) {
		/* EOF says only that the other end closed: the broker, or a proxy,
		 * NAT box or relay in between when the network went away */
		if (c->tr.err[0])
			client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s", c->tr.err);
		else
			client_lost(c, 0x80, false, (struct mqtt_str){ 0 },
				"connection to %s:%u closed (by the broker or the network in between)",
				c->uri.host[0] ? c->uri.host : c->uri.path, (unsigned)c->uri.port);
		return false;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s", c->tr.err);
		return false;
	}
	c->in.end += (size_t)r;
	c->st.recv_bytes += (uint64_t)r;
	c->last_recv = loop_now(c->loop);
	process_input(c);
	return true;
}

/* Bytes a TLS or WebSocket layer already holds never make the fd readable
 * again: keep reading while the transport says it has some. */
static void do_read(struct mqtt_client *c)
{
	unsigned gen = c->gen;
	while (read_once(c) && client_alive(c, gen) && c->tops->pending && c->tops->pending(&c->tr))
		;
}

static void on_io(struct loop *l, int fd, int events, void *ud)
{
	struct mqtt_client *c = ud;
	unsigned gen = c->gen;
	(void)l;
	(void)fd;
	client_enter(c);
	if (c->state == ST_CONNECTING) {
		int r = c->tops->handshake(&c->tr);
		if (r < 0)
			client_lost(c, 0x80, false, (struct mqtt_str){ 0 }, "%s", c->tr.err);
		else if (r == 0)
			transport_ready(c);
		else {
			/* A layer may have moved to a new socket (the next address),
			 * possibly under the same number: register it afresh. */
			if (c->tr.fd != fd)
				loop_unwatch(c->loop, fd);
			c->watch_mask = 0;
			set_watch(c, r == TRANSPORT_WANT_READ ? LOOP_READ : LOOP_WRITE);
		}
		client_leave(c);
		return;
	}
	if (events & LOOP_WRITE)
		flush_out(c);
	if (client_alive(c, gen) && (events & (LOOP_READ | LOOP_ERROR))) {
		do_read(c);
		/* The acknowledgements of what came in, and what its handlers
		 * sent, leave now rather than after the loop's timers and other
		 * sockets: a coroutine a handler woke runs from a timer, and its
		 * reply would otherwise carry the PUBACK with it, a broker's
		 * window slot and one wake-up of the broker later. Everything one
		 * read produced still goes out in one write. */
		if (client_alive(c, gen))
			flush_queued(c);
	}
	client_leave(c);
}

/* ---- keep-alive ---- */

/* PINGREQ once nothing was sent, or nothing came in, for a keep-alive
 * period; the link is dead when the PINGRESP is not back within half a
 * period. Counting from what came in too means a half-open link is found
 * within 1.5 x keep-alive of the last byte the broker sent, even while we
 * keep writing into it (a publisher: last_sent alone would push the PINGREQ
 * past every PUBLISH). */
static int64_t keepalive_tick(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	uint64_t ka = (uint64_t)c->keepalive * 1000, now = loop_now(l);
	uint64_t grace = ka / 2 ? ka / 2 : 1;
	uint64_t quiet = c->last_sent < c->last_recv ? c->last_sent : c->last_recv;
	(void)t;
	if (c->ping_outstanding) {
		if (now - c->ping_sent < grace)
			return (int64_t)(c->ping_sent + grace - now);
		c->ka_timer = NULL;
		client_enter(c);
		client_lost(c, 0x8D, false, (struct mqtt_str){ 0 },
			"no PINGRESP within %llu ms: broker unreachable", (unsigned long long)grace);
		client_leave(c);
		return LOOP_TIMER_STOP;
	}
	if (now - quiet < ka)
		return (int64_t)(quiet + ka - now);
	struct mqtt_packet p = { .type = MQTT_PINGREQ };
	if (client_send_packet(c, &p) == 0) {
		c->ping_outstanding = true;
		c->ping_sent = now;
		c->last_sent = now;
	}
	return (int64_t)grace;
}

/* ---- CONNACK ---- */

static void learn_limits(struct mqtt_client *c, struct mqtt_str props)
{
	struct mqtt_prop pr;
	size_t off = 0;
	c->server_receive_max = 65535;
	c->server_max_packet = MQTT_MAX_REMAINING + 5;
	c->server_max_qos = 2;
	c->server_retain = true;
	c->keepalive = c->o.keepalive;
	while (mqtt_props_next(props, &off, &pr) == 1) {
		switch (pr.id) {
		case MQTT_PROP_RECEIVE_MAXIMUM: c->server_receive_max = (uint16_t)pr.num; break;
		case MQTT_PROP_MAXIMUM_PACKET_SIZE: c->server_max_packet = pr.num; break;
		case MQTT_PROP_MAXIMUM_QOS: c->server_max_qos = (uint8_t)pr.num; break;
		case MQTT_PROP_RETAIN_AVAILABLE: c->server_retain = pr.num != 0; break;
		case MQTT_PROP_SERVER_KEEP_ALIVE: c->keepalive = (uint16_t)pr.num; break;
		case MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER: {
			char *id = xmalloc(pr.str.len + 1);
			if (id) {
				memcpy(id, pr.str.ptr, pr.str.len);
				id[pr.str.len] = '\0';
				xfree(c->assigned_id);
				c->assigned_id = id;
			}
			break;
		}
		default: break;
		}
	}
}

static void emit_connect(struct mqtt_client *c, const struct mqtt_connack *ack)
{
	struct mqtt_event ev = { .type = MQTT_EV_CONNECT };
	ev.u.connect.session_present = ack->session_present;
	ev.u.connect.uri = client_uris_display(c);
	ev.u.connect.reason = ack->reason;
	ev.u.connect.reason_name = mqtt_reason_name(c->o.version, MQTT_CONNACK, ack->reason);
	ev.u.connect.props = ack->props;
	client_emit(c, &ev);
}

/* Close this connection at once and open the next one (see FRESH_*). */
static void reconnect_now(struct mqtt_client *c, const char *why)
{
	client_log(c, LOG_INFO, "%s", why);
	disconnect_now(c, 0);
	/* the script must not take this for the end of the client (with
	 * reconnect = false lia.mqtt would let go of it and its tokens) */
	c->replacing = true;
	client_lost(c, 0, false, (struct mqtt_str){ 0 }, "%s", why);
	c->replacing = false;
	if (!c->freeing && c->want_connected && (c->state == ST_BACKOFF || c->state == ST_IDLE)) {
		stop_timer(c, &c->retry_timer);
		connect_start(c);
	}
}

/* true when the connection is being replaced (see FRESH_*) */
static bool settle_fresh(struct mqtt_client *c, bool session_present)
{
	if (c->fresh == FRESH_NONE)
		return false;
	if (c->fresh == FRESH_PROBE && session_present) {
		c->fresh = FRESH_DISCARD;
		c->state = ST_CONNECTED;
		reconnect_now(c, "the broker holds a session lia has no state for: "
			"reconnecting with a clean start");
		return true;
	}
	bool v3_discard = c->fresh == FRESH_DISCARD && c->o.version != MQTT_V5;
	c->fresh = FRESH_NONE;
	if (c->store->ops->session_synced)
		c->store->ops->session_synced(c->store);
	if (v3_discard) {
		/* MQTT 3.1.1 ends a clean session with its connection */
		c->state = ST_CONNECTED;
		reconnect_now(c, "stale session discarded: reconnecting with a persistent session");
		return true;
	}
	return false;
}

void client_connack(struct mqtt_client *c, const struct mqtt_connack *ack)
{
	unsigned gen = c->gen;
	stop_timer(c, &c->conn_timer);
	if (ack->reason != 0) {
		const char *name = mqtt_reason_name(c->o.version, MQTT_CONNACK, ack->reason);
		emit_connect(c, ack);
		if (client_alive(c, gen))
			client_lost(c, ack->reason, true, ack->props,
				"connection refused by broker: %s (0x%02x)", name, ack->reason);
		return;
	}
	if (ack->session_present && (c->o.clean || c->fresh == FRESH_DISCARD)) {
		/* v5 [MQTT-3.2.2-4]: no session state here, so a present one is a
		 * broker bug; 3.1.1 [MQTT-3.2.2-1] forbids it too. Resuming would
		 * resend packets under ids the broker never saw. */
		c->state = ST_CONNECTED;
		client_protocol_error(c, 0x82, "CONNACK says session present after a clean start");
		return;
	}
	if (c->client_id[0] && mqtt_props_find(ack->props, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER,
			&(struct mqtt_prop){ 0 }) == 1) {
		/* the broker may only assign an id when we sent none (MQTT 5 3.2.2.3.7) */
		c->state = ST_CONNECTED;
		client_protocol_error(c, 0x82, "CONNACK assigns a client id although we sent one");
		return;
	}
	c->state = ST_CONNECTED;
	if (!client_auth_connack(c, ack))
		return;
	learn_limits(c, ack->props);
	client_alias_connected(c, ack->props);
	client_uris_connected(c);
	c->last_refusal = 0;
	if (settle_fresh(c, ack->session_present))
		return;
	c->connected_at = loop_now(c->loop);
	c->last_recv = c->connected_at;
	c->st.connects++;
	client_log(c, LOG_INFO, "connected to %s%s", c->uri_text,
		ack->session_present ? " (session present)" : "");
	if (c->keepalive)
		c->ka_timer = loop_timer_start(c->loop, (uint64_t)c->keepalive * 1000, keepalive_tick, c);
	session_on_connack(c, ack->session_present);
	if (!client_alive(c, gen))
		return;
	emit_connect(c, ack);
	if (client_alive(c, gen))
		session_pump(c);
}

/* ---- creation ---- */

struct mqtt_client *mqtt_client_new(struct loop *l, const struct mqtt_client_opts *opts,
	struct mqtt_store *store, char *err, size_t errlen)
{
	struct mqtt_client *c = xcalloc(1, sizeof *c);
	if (c && !(c->bits = xzalloc_pages(sizeof *c->bits))) {
		xfree(c);
		c = NULL;
	}
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = l;
	c->tr.fd = -1;
	client_lowat_reset(c);
	c->store = store;
	if (client_options_init(c, opts, err, errlen) < 0) {
		client_destroy(c);  /* the store too: the client owns it either way */
		return NULL;
	}
	if ((!c->store && !(c->store = mqtt_store_mem_new())) || loop_hook_add(l, before_sleep, c) < 0) {
		snprintf(err, errlen, "out of memory");
		client_destroy(c);
		return NULL;
	}
	if (client_uris_init(c, opts, err, errlen) < 0) {
		client_destroy(c);
		return NULL;
	}
	if (!(c->alias = client_alias_new(c)) || client_auth_init(c, opts) < 0) {
		snprintf(err, errlen, "out of memory");
		client_destroy(c);
		return NULL;
	}
	/* the auth strings were copied; the caller's may go */
	c->o.auth_method = c->o.auth_user = NULL;
	c->o.auth_data = c->o.auth_password = NULL;
	c->next_id = 1;
	c->next_mid = 1;
	session_adopt_store(c);
	c->server_receive_max = 65535;
	c->server_max_packet = MQTT_MAX_REMAINING + 5;
	c->server_max_qos = 2;
	c->server_retain = true;
	backoff_init(&c->backoff, c->o.reconnect_min_ms, c->o.reconnect_max_ms, 0);
	return c;
}

static void client_destroy(struct mqtt_client *c)
{
	close_transport(c);
	stop_timer(c, &c->conn_timer);
	stop_timer(c, &c->ka_timer);
	stop_timer(c, &c->retry_timer);
	stop_timer(c, &c->post_timer);
	stop_timer(c, &c->close_timer);
	stop_timer(c, &c->reload_timer);
	queue_free(c);
	loop_hook_remove(c->loop, before_sleep, c);
	session_free_all(c);
	mqtt_alias_free(c->alias);
	client_auth_free(c);
	client_uris_free(c);
	if (c->store)
		c->store->ops->destroy(c->store);
	while (c->posted) {
		struct posted *p = c->posted;
		c->posted = p->next;
		xfree(p);
	}
	buf_free(&c->in);
	buf_free(&c->out);
	client_options_free(c);
	xfree(c->assigned_id);
	xfree_pages(c->bits, sizeof *c->bits);
	xfree(c);
}

void mqtt_client_free(struct mqtt_client *c)
{
	if (!c)
		return;
	if (c->depth > 0) {
		/* inside one of our callbacks: stop everything, free on the way out */
		c->freeing = true;
		close_transport(c);
		stop_timer(c, &c->conn_timer);
		stop_timer(c, &c->ka_timer);
		stop_timer(c, &c->retry_timer);
		stop_timer(c, &c->post_timer);
		stop_timer(c, &c->close_timer);
		stop_timer(c, &c->reload_timer);
		return;
	}
	client_destroy(c);
}

void mqtt_client_set_handler(struct mqtt_client *c, mqtt_event_fn *fn, void *ud)
{
	c->fn = fn;
	c->ud = ud;
}

/* ---- connect / disconnect ---- */

int mqtt_client_connect(struct mqtt_client *c)
{
	c->want_connected = true;
	if (c->state != ST_IDLE)
		return 0;
	/* Start from the loop, so connection events never fire inside this call. */
	backoff_reset(&c->backoff);
	c->state = ST_BACKOFF;
	c->retry_timer = loop_timer_start(c->loop, 0, retry_due, c);
	return c->retry_timer ? 0 : MQTT_E_NOMEM;
}

static int64_t close_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->close_timer = NULL;
	client_enter(c);
	client_lost(c, 0, false, (struct mqtt_str){ 0 }, "disconnected (DISCONNECT not flushed in time)");
	client_leave(c);
	return LOOP_TIMER_STOP;
}

int mqtt_client_disconnect(struct mqtt_client *c, uint8_t reason, const uint8_t *props, size_t props_len)
{
	c->want_connected = false;
	stop_timer(c, &c->retry_timer);
	if (c->state == ST_CONNECTED) {
		struct mqtt_packet p = { .type = MQTT_DISCONNECT };
		p.u.disconnect.reason = reason;
		p.u.disconnect.props = (struct mqtt_str){ props, props ? props_len : 0 };
		stop_timer(c, &c->ka_timer);
		c->state = ST_DISCONNECTING;
		if (client_send_packet(c, &p) < 0)
			return MQTT_E_INVALID;
		/* flushed by before_sleep; the close completes in flush_out */
		c->close_timer = loop_timer_start(c->loop, CLOSE_GRACE_MS, close_due, c);
		return 0;
	}
	if (c->state == ST_CONNECTING || c->state == ST_WAIT_CONNACK) {
		close_transport(c);
		stop_timer(c, &c->conn_timer);
		c->gen++;
	}
	if (c->state != ST_DISCONNECTING)
		c->state = ST_IDLE;
	return 0;
}

static int64_t reload_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->reload_timer = NULL;
	if (c->state != ST_CONNECTING && c->state != ST_WAIT_CONNACK && c->state != ST_CONNECTED)
		return LOOP_TIMER_STOP;
	client_enter(c);
	if (c->state == ST_CONNECTED && !client_out_len(c)) {
		/* so the broker does not publish the will */
		disconnect_now(c, 0);
	}
	client_lost(c, 0, false, (struct mqtt_str){ 0 }, "closing to use new TLS material");
	if (!c->freeing && c->want_connected && (c->state == ST_BACKOFF || c->state == ST_IDLE)) {
		stop_timer(c, &c->retry_timer);
		connect_start(c);
	}
	client_leave(c);
	return LOOP_TIMER_STOP;
}

int mqtt_client_reload_tls(struct mqtt_client *c)
{
	if (!c->uri.tls)
		return MQTT_E_STATE;
	tls_cache_invalidate(&c->tcfg);
	if (!c->reload_timer)
		c->reload_timer = loop_timer_start(c->loop, 0, reload_due, c);
	return c->reload_timer ? 0 : MQTT_E_NOMEM;
}

bool mqtt_client_connected(const struct mqtt_client *c)
{
	return c->state == ST_CONNECTED;
}

bool mqtt_client_idle(const struct mqtt_client *c)
{
	return c->state == ST_IDLE || c->state == ST_BACKOFF;
}

const char *mqtt_client_uri(const struct mqtt_client *c)
{
	return client_uris_display(c);
}

const char *mqtt_client_id(const struct mqtt_client *c)
{
	return c->assigned_id ? c->assigned_id : c->client_id;
}

uint8_t mqtt_client_version(const struct mqtt_client *c)
{
	return c->o.version;
}

bool mqtt_client_persistent(const struct mqtt_client *c)
{
	return c->store->persistent;
}

void mqtt_client_stats(const struct mqtt_client *c, struct mqtt_client_stats *st)
{
	*st = c->st;
	st->inflight = c->inflight;
	st->queued = c->queued;
	st->queued_bytes = c->queued_bytes;
	st->dropped = c->dropped;
	st->expired = c->expired;
	st->persistent = c->store->persistent;
	st->subscriptions = 0;
	for (const struct sub *s = c->subs; s; s = s->next)
		st->subscriptions++;
	client_alias_stats(c, st);
}
