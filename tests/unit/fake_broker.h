/*
 * fake_broker.h - a scripted fake broker for unit tests, in the test's own
 * process: a listening loopback socket the test reads and writes byte by
 * byte while it turns the client's event loop. Header-only (static
 * functions) so each test binary stays one file plus this.
 */
#ifndef LIA_FAKE_BROKER_H
#define LIA_FAKE_BROKER_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "mqtt_codec.h"
#include "test.h"
#include "xalloc.h"

struct fake {
	int lfd, fd;
	uint16_t port;
	uint8_t buf[65536];
	size_t len;
	uint8_t pkt[65536];     /* last packet returned by expect() */
	struct mqtt_packet p;
	uint8_t version;        /* learnt from CONNECT */
};

struct events {
	int connects, disconnects, messages, published_ok, published_fail, subscribed, unsubscribed;
	uint32_t last_mid;
	char last_topic[128];
	char last_payload[128];
	char last_disconnect[256];
	char last_reason_name[64];
	bool last_session_present, last_by_server;
	uint8_t last_reason;
	struct mqtt_client *free_me_on_message;
};

static struct loop *L;
static struct fake F;
static struct events E;

static inline void on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	(void)ud;
	switch (ev->type) {
	case MQTT_EV_CONNECT:
		E.connects++;
		E.last_session_present = ev->u.connect.session_present;
		E.last_reason = ev->u.connect.reason;
		break;
	case MQTT_EV_DISCONNECT:
		E.disconnects++;
		E.last_by_server = ev->u.disconnect.by_server;
		E.last_reason = ev->u.disconnect.reason;
		snprintf(E.last_reason_name, sizeof E.last_reason_name, "%s", ev->u.disconnect.reason_name);
		snprintf(E.last_disconnect, sizeof E.last_disconnect, "%s", ev->u.disconnect.message);
		break;
	case MQTT_EV_MESSAGE:
		E.messages++;
		snprintf(E.last_topic, sizeof E.last_topic, "%.*s", (int)ev->u.message.msg->topic.len,
			(const char *)ev->u.message.msg->topic.ptr);
		snprintf(E.last_payload, sizeof E.last_payload, "%.*s", (int)ev->u.message.msg->payload.len,
			(const char *)ev->u.message.msg->payload.ptr);
		if (E.free_me_on_message == c)
			mqtt_client_free(c);
		break;
	case MQTT_EV_PUBLISHED:
		if (ev->u.published.ok)
			E.published_ok++;
		else
			E.published_fail++;
		E.last_mid = ev->u.published.mid;
		break;
	case MQTT_EV_SUBSCRIBED: E.subscribed++; break;
	case MQTT_EV_UNSUBSCRIBED: E.unsubscribed++; break;
	default: break;
	}
}

static inline void fake_listen(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	memset(&F, 0, sizeof F);
	F.fd = -1;
	F.version = MQTT_V311;
	F.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bind(F.lfd, (struct sockaddr *)&sa, sizeof sa);
	listen(F.lfd, 4);
	getsockname(F.lfd, (struct sockaddr *)&sa, &len);
	F.port = ntohs(sa.sin_port);
}

static inline void fake_close_conn(void)
{
	if (F.fd >= 0)
		close(F.fd);
	F.fd = -1;
	F.len = 0;
}

static inline void fake_stop(void)
{
	fake_close_conn();
	close(F.lfd);
}

static inline void turn(int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	while (loop_clock_ns() / 1000000 < end)
		loop_run_once(L, 5);
}

/* Turn the loop until cond holds, or ms pass (a failure guard: the CHECK
 * that follows decides). For what must have happened; turn(ms) stays for
 * what must NOT happen within a while. */
#define TURN_UNTIL(cond, ms) do { \
	uint64_t end_ = loop_clock_ns() / 1000000 + (uint64_t)(ms); \
	while (!(cond) && loop_clock_ns() / 1000000 < end_) \
		loop_run_once(L, 5); \
} while (0)

/* Run the loop until the client connects to the fake broker. */
static inline bool fake_accept(int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	fake_close_conn();
	while (loop_clock_ns() / 1000000 < end) {
		F.fd = accept4(F.lfd, NULL, NULL, SOCK_NONBLOCK);
		if (F.fd >= 0)
			return true;
		loop_run_once(L, 5);
	}
	return false;
}

/* Run the loop until the client sent a whole packet; decode it into F.p
 * (from a copy, so its views stay valid while more bytes arrive). Returns
 * the packet type, 0 when the client closed, -1 on timeout, -2 malformed. */
static inline int fake_expect(int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	for (;;) {
		size_t used = 0;
		struct mqtt_packet p;
		if (F.len) {
			int r = mqtt_decode(F.buf, F.len, F.version, 0, &p, &used);
			if (r == MQTT_MALFORMED)
				return -2;
			if (r == MQTT_OK) {
				memcpy(F.pkt, F.buf, used);
				mqtt_decode(F.pkt, used, F.version, 0, &F.p, &used);
				memmove(F.buf, F.buf + used, F.len - used);
				F.len -= used;
				if (F.p.type == MQTT_CONNECT)
					F.version = F.p.u.connect.version;
				return F.p.type;
			}
		}
		if (loop_clock_ns() / 1000000 >= end)
			return -1;
		ssize_t n = F.fd >= 0 ? recv(F.fd, F.buf + F.len, sizeof F.buf - F.len, 0) : -1;
		if (n > 0)
			F.len += (size_t)n;
		else if (n == 0)
			return 0;
		loop_run_once(L, 0);    /* spin: the fake socket is not in the loop */
	}
}

static inline void fake_send(const void *bytes, size_t n)
{
	CHECK(send(F.fd, bytes, n, MSG_NOSIGNAL) == (ssize_t)n);
}

static inline void fake_send_packet(const struct mqtt_packet *p)
{
	uint8_t b[4096];
	size_t n = mqtt_encode(p, F.version, b, sizeof b);
	CHECK(n > 0);
	fake_send(b, n);
}

static inline void fake_ack(int type, uint16_t id)
{
	struct mqtt_packet p = { .type = (uint8_t)type };
	p.u.ack.packet_id = id;
	fake_send_packet(&p);
}

static inline void fake_connack(bool session_present, const uint8_t *props, size_t plen)
{
	struct mqtt_packet p = { .type = MQTT_CONNACK };
	p.u.connack.session_present = session_present;
	p.u.connack.props = (struct mqtt_str){ props, plen };
	fake_send_packet(&p);
}

/* store NULL: the memory store (a test passes its own to start from a
 * given state, e.g. store->next_id). */
static inline struct mqtt_client *new_client_store(uint8_t version,
	void (*tweak)(struct mqtt_client_opts *), struct mqtt_store *store)
{
	char uri[64], err[200];
	struct mqtt_client_opts o = { 0 };
	int stale;
	/* drop connections a previous test's client made before it was freed */
	fake_close_conn();
	while ((stale = accept4(F.lfd, NULL, NULL, 0)) >= 0)
		close(stale);
	snprintf(uri, sizeof uri, "mqtt://127.0.0.1:%u", (unsigned)F.port);
	o.uri = uri;
	o.client_id = "test-client";
	o.version = version;
	o.clean = true;
	o.keepalive = 60;
	o.reconnect = true;
	o.reconnect_min_ms = 10;
	o.reconnect_max_ms = 20;
	if (tweak)
		tweak(&o);
	struct mqtt_client *c = mqtt_client_new(L, &o, store, err, sizeof err);
	if (!c)
		fprintf(stderr, "mqtt_client_new: %s\n", err);
	CHECK(c != NULL);
	memset(&E, 0, sizeof E);
	mqtt_client_set_handler(c, on_event, NULL);
	return c;
}

static inline struct mqtt_client *new_client(uint8_t version, void (*tweak)(struct mqtt_client_opts *))
{
	return new_client_store(version, tweak, NULL);
}

/* Connect c to the fake broker and complete the handshake. */
static inline void handshake(struct mqtt_client *c, bool session_present, const uint8_t *props, size_t plen)
{
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_connack(session_present, props, plen);
	for (int i = 0; i < 200 && !mqtt_client_connected(c); i++)
		loop_run_once(L, 5);
	CHECK(mqtt_client_connected(c));
	turn(10);
}

static inline uint32_t publish(struct mqtt_client *c, const char *topic, const char *payload, int qos)
{
	struct mqtt_pub_req r = { topic, strlen(topic), (const uint8_t *)payload, strlen(payload),
		(uint8_t)qos, false, NULL, 0, false };
	uint32_t mid = 0;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
	return mid;
}

static inline bool str_is(struct mqtt_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}


static inline void send_publish(int qos, uint16_t id, bool dup, const char *topic, const char *payload)
{
	struct mqtt_packet p = { .type = MQTT_PUBLISH };
	p.u.publish.qos = (uint8_t)qos;
	p.u.publish.packet_id = id;
	p.u.publish.dup = dup;
	p.u.publish.topic = (struct mqtt_str){ (const uint8_t *)topic, strlen(topic) };
	p.u.publish.payload = (struct mqtt_str){ (const uint8_t *)payload, strlen(payload) };
	fake_send_packet(&p);
}

#endif
