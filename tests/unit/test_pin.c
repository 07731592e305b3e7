/*
 * test_pin.c - a large PUBLISH written from the message's own bytes
 * (client_pin.c), against the fake broker: the packet arrives whole and in
 * order with what was sent after it while the output buffer stays small; a
 * broker that acknowledges before it has read it all still gets all of it;
 * a connection lost halfway resends it whole; a DISCONNECT waits for the
 * rest of it.
 */
#include "fake_broker.h"
#include "mqtt_client_impl.h"

/* more than loopback's socket buffers take at once, so the write is partial */
#define BIG (6u * 1024 * 1024)

static uint8_t *big_payload(void)
{
	uint8_t *p = malloc(BIG);
	CHECK(p != NULL);
	for (size_t i = 0; p && i < BIG; i++)
		p[i] = (uint8_t)(i * 7 + i / 251);
	return p;
}

static uint32_t publish_big(struct mqtt_client *c, const uint8_t *payload)
{
	struct mqtt_pub_req r = { "big", 3, payload, BIG, 1, false, NULL, 0, false };
	uint32_t mid = 0;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
	return mid;
}

/* Turn the loop until the client has written part of the pinned message
 * and the socket took no more (the fake broker reads nothing meanwhile). */
static void until_partial(struct mqtt_client *c)
{
	size_t last = (size_t)-1;
	for (int quiet = 0, i = 0; i < 2000 && quiet < 20; i++) {
		loop_run_once(L, 1);
		quiet = c->pin_off == last ? quiet + 1 : 0;
		last = c->pin_off;
	}
	CHECK(c->pin_msg != NULL);
	CHECK(c->pin_off > 0 && c->pin_msg && c->pin_off < c->pin_msg->len);
}

/* The next packet, however large, read from F.buf and the socket while the
 * loop turns; its bytes in *pkt (malloc'ed), their number returned, 0 when
 * none came within ms. */
static size_t read_packet(uint8_t **pkt, int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	size_t have = F.len, cap = have > 16 ? have : 16, need = 0;
	uint8_t *b = malloc(cap);
	memcpy(b, F.buf, F.len);
	F.len = 0;
	for (;;) {
		if (!need && have >= 2) {
			size_t len = 0, i = 1;
			for (unsigned shift = 0; i < have && i < 5; i++, shift += 7) {
				len |= (size_t)(b[i] & 0x7f) << shift;
				if (!(b[i] & 0x80))
					break;
			}
			if (i < have && i < 5)
				need = i + 1 + len;
		}
		if (need && have >= need)
			break;
		if (loop_clock_ns() / 1000000 >= end) {
			free(b);
			return 0;
		}
		if (have == cap)
			b = realloc(b, cap *= 2);
		ssize_t n = recv(F.fd, b + have, cap - have, 0);
		if (n > 0)
			have += (size_t)n;
		loop_run_once(L, 0);
	}
	/* what came after it goes back for fake_expect */
	CHECK(have - need <= sizeof F.buf);
	memcpy(F.buf, b + need, have - need);
	F.len = have - need;
	*pkt = b;
	return need;
}

/* The big PUBLISH, whole: its topic, packet id and every payload byte. */
static uint16_t check_big(const uint8_t *payload, bool dup)
{
	uint8_t *pkt = NULL;
	struct mqtt_packet p;
	size_t used, n = read_packet(&pkt, 10000);
	CHECK(n > BIG);
	if (n <= BIG)
		return 0;
	CHECK_EQ_INT(mqtt_decode(pkt, n, F.version, 0, &p, &used), MQTT_OK);
	CHECK_EQ_INT(used, n);
	CHECK_EQ_INT(p.type, MQTT_PUBLISH);
	CHECK(str_is(p.u.publish.topic, "big"));
	CHECK_EQ_INT(p.u.publish.dup, dup);
	CHECK_EQ_INT(p.u.publish.payload.len, BIG);
	CHECK(p.u.publish.payload.len == BIG && memcmp(p.u.publish.payload.ptr, payload, BIG) == 0);
	uint16_t id = p.u.publish.packet_id;
	free(pkt);
	return id;
}

static void test_whole_and_in_order(void)
{
	uint8_t *payload = big_payload();
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	publish_big(c, payload);
	until_partial(c);
	/* what comes after it is gathered behind it, not copied around it */
	publish(c, "after/1", "one", 1);
	publish(c, "after/0", "zero", 0);
	turn(20);
	CHECK(c->out.cap < 1024 * 1024);
	uint16_t id = check_big(payload, false);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.topic, "after/1"));
	uint16_t id1 = F.p.u.publish.packet_id;
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.topic, "after/0"));
	CHECK(c->pin_msg == NULL);
	fake_ack(MQTT_PUBACK, id);
	fake_ack(MQTT_PUBACK, id1);
	/* the QoS 0 message's event came once it was written */
	TURN_UNTIL(E.published_ok == 3, 5000);
	CHECK_EQ_INT(E.published_ok, 3);
	struct mqtt_client_stats st;
	mqtt_client_stats(c, &st);
	CHECK_EQ_INT(st.inflight, 0);
	mqtt_client_free(c);
	free(payload);
}

/* Bytes already waiting in the output go first: a message published
 * behind them is copied after them, not pinned ahead. */
static void test_behind_waiting_bytes(void)
{
	uint8_t *payload = big_payload();
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	publish(c, "zeroth", "0", 1);   /* a turn's first publish is written at once */
	publish(c, "first", "1", 1);    /* this one waits in the output */
	CHECK(buf_len(&c->out) > 0);
	publish_big(c, payload);
	CHECK(c->pin_msg == NULL);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.topic, "zeroth"));
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.topic, "first"));
	check_big(payload, false);
	mqtt_client_free(c);
	free(payload);
}

/* A broker may acknowledge once it has the packet id, before the payload:
 * the message is complete and freed, and what was still to go is written
 * from a copy. (Under ASan a write from the freed message fails here.) */
static void test_acked_before_read(void)
{
	uint8_t *payload = big_payload();
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	publish_big(c, payload);
	until_partial(c);
	uint16_t id = c->pin_msg ? c->pin_msg->data[c->pin_msg->id_offset] << 8 |
		c->pin_msg->data[c->pin_msg->id_offset + 1] : 0;
	publish(c, "after", "x", 0);
	fake_ack(MQTT_PUBACK, id);
	TURN_UNTIL(c->pin_msg == NULL, 5000);
	CHECK(c->pin_msg == NULL);
	CHECK(E.published_ok >= 1);
	CHECK_EQ_INT(check_big(payload, false), id);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.topic, "after"));
	CHECK(mqtt_client_connected(c));
	mqtt_client_free(c);
	free(payload);
}

static void keep_session(struct mqtt_client_opts *o)
{
	o->clean = false;
}

/* Lost halfway: the next connection sends the message again, whole, with
 * DUP set (the broker kept the session). */
static void test_lost_halfway(void)
{
	uint8_t *payload = big_payload();
	struct mqtt_client *c = new_client(MQTT_V311, keep_session);
	handshake(c, false, NULL, 0);
	publish_big(c, payload);
	until_partial(c);
	fake_close_conn();
	TURN_UNTIL(E.disconnects == 1, 5000);
	CHECK(c->pin_msg == NULL);
	CHECK(fake_accept(5000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_connack(true, NULL, 0);
	uint16_t id = check_big(payload, true);
	fake_ack(MQTT_PUBACK, id);
	TURN_UNTIL(E.published_ok == 1, 5000);
	CHECK_EQ_INT(E.published_ok, 1);
	mqtt_client_free(c);
	free(payload);
}

/* A DISCONNECT asked for halfway follows the rest of the packet, never
 * cuts into it. */
static void test_disconnect_waits(void)
{
	uint8_t *payload = big_payload();
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	handshake(c, false, NULL, 0);
	publish_big(c, payload);
	until_partial(c);
	CHECK_EQ_INT(mqtt_client_disconnect(c, 0, NULL, 0), 0);
	check_big(payload, false);
	CHECK_EQ_INT(fake_expect(5000), MQTT_DISCONNECT);
	mqtt_client_free(c);
	free(payload);
}

static void test_no_leaks(void)
{
	CHECK_EQ_INT(xalloc_live(), 0);
}

int main(void)
{
	log_set_level(getenv("LIA_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR - 1);
	L = loop_new();
	fake_listen();
	RUN(test_whole_and_in_order);
	RUN(test_behind_waiting_bytes);
	RUN(test_acked_before_read);
	RUN(test_lost_halfway);
	RUN(test_disconnect_waits);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("pin");
}
