/*
 * test_client.c - the MQTT client session against the scripted fake broker
 * of fake_broker.h. Every check is on the packets the client really sent,
 * decoded by the codec.
 */
#include <poll.h>

#include "db.h"
#include "fake_broker.h"
#include "mqtt_store.h"

/* ---- tests ---- */

static void test_connect_v311(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	CHECK_EQ_INT(F.p.u.connect.version, MQTT_V311);
	CHECK(str_is(F.p.u.connect.client_id, "test-client"));
	CHECK(F.p.u.connect.clean);
	CHECK_EQ_INT(F.p.u.connect.keepalive, 60);
	CHECK_EQ_INT(E.connects, 0);
	fake_connack(false, NULL, 0);
	TURN_UNTIL(E.connects >= 1, 5000);
	CHECK_EQ_INT(E.connects, 1);
	CHECK(mqtt_client_connected(c));
	mqtt_client_free(c);
	CHECK_EQ_INT(fake_expect(500), 0);    /* free closes without DISCONNECT */
}

static void test_qos1_out(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	uint32_t mid = publish(c, "a/b", "hello", 1);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK_EQ_INT(F.p.u.publish.qos, 1);
	CHECK(F.p.u.publish.packet_id != 0);
	CHECK(!F.p.u.publish.dup);
	CHECK(str_is(F.p.u.publish.topic, "a/b"));
	CHECK(str_is(F.p.u.publish.payload, "hello"));
	turn(20);
	CHECK_EQ_INT(E.published_ok, 0);
	fake_ack(MQTT_PUBACK, F.p.u.publish.packet_id);
	TURN_UNTIL(E.published_ok >= 1, 5000);
	CHECK_EQ_INT(E.published_ok, 1);
	CHECK_EQ_INT(E.last_mid, mid);
	mqtt_client_free(c);
}

static void test_qos2_out(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	publish(c, "q2", "x", 2);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	uint16_t id = F.p.u.publish.packet_id;
	fake_ack(MQTT_PUBREC, id);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREL);
	CHECK_EQ_INT(F.p.u.ack.packet_id, id);
	CHECK_EQ_INT(F.p.flags, 2);
	turn(20);
	CHECK_EQ_INT(E.published_ok, 0);
	fake_ack(MQTT_PUBCOMP, id);
	TURN_UNTIL(E.published_ok >= 1, 5000);
	CHECK_EQ_INT(E.published_ok, 1);
	mqtt_client_free(c);
}

/* Inbound QoS 2: a redelivery with DUP before PUBREL is acknowledged again
 * but delivered once; PUBREL (not PUBLISH) completes it. */
static void test_qos2_in_exactly_once(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	send_publish(2, 7, false, "in/2", "once");
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREC);
	CHECK_EQ_INT(F.p.u.ack.packet_id, 7);
	send_publish(2, 7, true, "in/2", "once");
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREC);
	CHECK_EQ_INT(E.messages, 1);
	CHECK(strcmp(E.last_payload, "once") == 0);
	fake_ack(MQTT_PUBREL, 7);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBCOMP);
	CHECK_EQ_INT(F.p.u.ack.packet_id, 7);
	/* after release the same id is a new message */
	send_publish(2, 7, false, "in/2", "twice");
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREC);
	CHECK_EQ_INT(E.messages, 2);
	mqtt_client_free(c);
}

static void test_qos1_in(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	send_publish(1, 300, false, "in/1", "p");
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBACK);
	CHECK_EQ_INT(F.p.u.ack.packet_id, 300);
	CHECK_EQ_INT(E.messages, 1);
	CHECK(strcmp(E.last_topic, "in/1") == 0);
	mqtt_client_free(c);
}

/* A handler that wakes a coroutine, as lia.cond's signal does from inside
 * Lua: the coroutine runs from a 0 ms timer, after the read, and replies. */
static ssize_t acked_before_reply = -1;
static struct mqtt_client *replier;

static int64_t reply_later(struct loop *l, struct loop_timer *t, void *ud)
{
	uint8_t b[64];
	(void)l;
	(void)t;
	(void)ud;
	acked_before_reply = recv(F.fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
	publish(replier, "out/reply", "r", 0);
	return LOOP_TIMER_STOP;
}

static void wake_on_message(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	on_event(c, ev, ud);
	if (ev->type == MQTT_EV_MESSAGE)
		CHECK(loop_timer_start(L, 0, reply_later, NULL) != NULL);
}

/* The PUBACK of a message has left by the time the coroutine its handler
 * woke runs: it does not wait to go out with that coroutine's reply (a
 * request/response round trip would hold the broker's window slot, and
 * wake the broker later, for the PUBACK's sake). */
static void test_qos1_in_acked_before_timers(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	mqtt_client_set_handler(c, wake_on_message, NULL);
	replier = c;
	acked_before_reply = -1;
	send_publish(1, 301, false, "in/1", "p");
	TURN_UNTIL(acked_before_reply >= 0 && E.messages == 1, 5000);
	CHECK_EQ_INT(E.messages, 1);
	CHECK_EQ_INT((int)acked_before_reply, 4);   /* the PUBACK, alone */
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBACK);
	CHECK_EQ_INT(F.p.u.ack.packet_id, 301);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.topic, "out/reply"));
	mqtt_client_free(c);
}

/* The next packet from the client, read without turning its loop: what
 * arrives was written by the call that just returned. */
static int expect_unturned(int ms)
{
	struct pollfd pfd = { .fd = F.fd, .events = POLLIN };
	struct mqtt_packet p;
	size_t used;
	while (!(F.len && mqtt_decode(F.buf, F.len, F.version, 0, &p, &used) == MQTT_OK)) {
		if (poll(&pfd, 1, ms) <= 0)
			return -1;
		ssize_t n = recv(F.fd, F.buf + F.len, sizeof F.buf - F.len, 0);
		if (n <= 0)
			return 0;
		F.len += (size_t)n;
	}
	return fake_expect(0);      /* a whole packet is there: decoded, no turn */
}

static bool fake_readable(void)
{
	struct pollfd pfd = { .fd = F.fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1;
}

/* A script's first publish in a turn of the loop leaves at once (a
 * request does not wait for the script to yield and the loop to get to
 * sleep); what follows in that turn is gathered into before_sleep's write. */
static void test_first_publish_of_a_turn_written_at_once(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	publish(c, "t", "first", 0);
	CHECK_EQ_INT(expect_unturned(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "first"));
	publish(c, "t", "second", 0);
	publish(c, "t", "third", 1);
	CHECK(!fake_readable());
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "second"));
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "third"));
	fake_ack(MQTT_PUBACK, F.p.u.publish.packet_id);
	TURN_UNTIL(E.published_ok >= 3, 5000);
	CHECK_EQ_INT(E.published_ok, 3);
	publish(c, "t", "fourth", 1);           /* a new turn: QoS 1 the same */
	CHECK_EQ_INT(expect_unturned(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "fourth"));
	mqtt_client_free(c);
}

/* A write-through that fails raises no event inside the publish call (a
 * script's call must not run handlers); the loop reports the loss. */
static void test_write_through_failure_left_to_the_loop(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	handshake(c, false, NULL, 0);
	int lost = E.disconnects;
	setsockopt(F.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
	fake_close_conn();                      /* an RST, not a FIN */
	publish(c, "t", "into the void", 0);
	CHECK_EQ_INT(E.disconnects, lost);
	TURN_UNTIL(E.disconnects > lost, 5000);
	CHECK_EQ_INT(E.disconnects, lost + 1);
	mqtt_client_free(c);
}

static void clean_session_off(struct mqtt_client_opts *o)
{
	o->clean = false;
}

/* A persistent client: a QoS 0 publish, which leaves the store nothing to
 * commit, is written at once as with the memory store; a QoS 1 one is
 * stored and leaves after the turn's commit (write-ahead, one commit for
 * whatever the turn stored). */
static void test_write_through_with_a_store(void)
{
	char dir[] = "/tmp/lia-client-XXXXXX", err[256] = "", cmd[64];
	CHECK(mkdtemp(dir) != NULL);
	struct db *db = db_open(dir, err, sizeof err);
	CHECK(db != NULL);
	CHECK(db && db_attach(db, L) == 0);          /* as lia run does: a commit per turn */
	struct mqtt_store *st = db ? mqtt_store_sqlite_new(db, "test-client", "fake", err, sizeof err) : NULL;
	if (!st) {
		fprintf(stderr, "store: %s\n", err);
		CHECK(st != NULL);
		db_close(db);
		return;
	}
	struct mqtt_client *c = new_client_store(MQTT_V311, clean_session_off, st);
	handshake(c, false, NULL, 0);
	publish(c, "t", "zero", 0);
	CHECK_EQ_INT(expect_unturned(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "zero"));
	loop_run_once(L, 0);                   /* a new turn: the first publish again */
	publish(c, "t", "one", 1);
	CHECK(db_in_txn(db));
	CHECK(!fake_readable());
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "one"));
	CHECK(!db_in_txn(db));                  /* committed before it left */
	mqtt_client_free(c);
	db_close(db);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void window_2(struct mqtt_client_opts *o)
{
	o->max_inflight = 2;
}

static void test_inflight_window(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, window_2);
	uint16_t ids[5];
	handshake(c, false, NULL, 0);
	for (int i = 0; i < 5; i++)
		publish(c, "w", "m", 1);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	ids[0] = F.p.u.publish.packet_id;
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	ids[1] = F.p.u.publish.packet_id;
	CHECK_EQ_INT(fake_expect(150), -1);    /* window full: nothing more */
	fake_ack(MQTT_PUBACK, ids[0]);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	ids[2] = F.p.u.publish.packet_id;
	CHECK(ids[2] != ids[1]);
	CHECK(ids[0] && ids[1] && ids[2]);
	mqtt_client_free(c);
}

/* A QoS 0 publish that goes straight out (nothing queued ahead) and one
 * that must wait its turn: order, payloads, mids and "publish" events are
 * those of the queue. */
static void test_qos0_now_and_queued(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, window_2);
	char big[3000];
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	handshake(c, false, NULL, 0);
	int ok0 = E.published_ok;
	uint32_t now = publish(c, "z", "now", 0);
	CHECK(now != 0);                        /* not quiet: it has a mid */
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "now"));
	CHECK_EQ_INT(F.p.u.publish.qos, 0);
	TURN_UNTIL(E.published_ok > ok0, 5000);
	CHECK_EQ_INT(E.published_ok, ok0 + 1);
	CHECK_EQ_INT((int)E.last_mid, (int)now);
	publish(c, "z", big, 0);                /* larger than the stack buffer */
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, big));
	struct mqtt_pub_req quiet = { "z", 1, (const uint8_t *)"q", 1, 0, false, NULL, 0, true };
	uint32_t mid = 99;
	CHECK_EQ_INT(mqtt_client_publish(c, &quiet, &mid), 0);
	CHECK_EQ_INT((int)mid, 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "q"));
	/* the window takes two QoS 1, the third is queued: QoS 0 waits behind it */
	publish(c, "w", "1", 1);
	publish(c, "w", "2", 1);
	publish(c, "w", "3", 1);
	publish(c, "z", "after", 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	uint16_t id = F.p.u.publish.packet_id;
	CHECK(str_is(F.p.u.publish.payload, "1"));
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "2"));
	CHECK_EQ_INT(fake_expect(150), -1);
	fake_ack(MQTT_PUBACK, id);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "3"));
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "after"));
	mqtt_client_free(c);
}

static void bytes_10(struct mqtt_client_opts *o)
{
	o->max_queued_bytes = 10;
}

/* The queue's byte limit refuses a message larger than it also when it
 * could be sent at once, as it does offline. */
static void test_qos0_now_queue_limit(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, bytes_10);
	struct mqtt_pub_req r = { "t", 1, (const uint8_t *)"0123456789", 10, 0, false, NULL, 0, false };
	uint32_t mid;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_QUEUE_FULL);
	handshake(c, false, NULL, 0);
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_QUEUE_FULL);
	r.payload_len = 2;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "01"));
	mqtt_client_free(c);
}

static void queue_3(struct mqtt_client_opts *o)
{
	o->max_queued = 3;
	o->queue_drop = MQTT_DROP_NEW;
}

static void test_offline_queue_bound(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, queue_3);
	struct mqtt_pub_req r = { "t", 1, (const uint8_t *)"x", 1, 1, false, NULL, 0, false };
	uint32_t mid;
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_QUEUE_FULL);
	/* once connected, the queue drains in order */
	handshake(c, false, NULL, 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	mqtt_client_free(c);
}

static void test_invalid_publish(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	struct mqtt_pub_req r = { "a/+", 3, (const uint8_t *)"x", 1, 0, false, NULL, 0, false };
	uint32_t mid;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_TOPIC);
	r.topic = "ok";
	r.topic_len = 2;
	r.qos = 3;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_QOS);
	mqtt_client_free(c);
}

static void persistent(struct mqtt_client_opts *o)
{
	o->clean = false;
}

/* Unacknowledged messages go out again with DUP=1 and the same ids, in
 * order, when the broker kept the session; unreleased QoS 2 gets PUBREL. */
static void test_resend_with_session(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, persistent);
	handshake(c, false, NULL, 0);
	publish(c, "r", "one", 1);
	publish(c, "r", "two", 2);
	publish(c, "r", "three", 2);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	uint16_t id1 = F.p.u.publish.packet_id;
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	uint16_t id2 = F.p.u.publish.packet_id;
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	uint16_t id3 = F.p.u.publish.packet_id;
	fake_ack(MQTT_PUBREC, id3);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREL);
	fake_close_conn();
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_connack(true, NULL, 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(F.p.u.publish.dup);
	CHECK_EQ_INT(F.p.u.publish.packet_id, id1);
	CHECK(str_is(F.p.u.publish.payload, "one"));
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(F.p.u.publish.dup);
	CHECK_EQ_INT(F.p.u.publish.packet_id, id2);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREL);
	CHECK_EQ_INT(F.p.u.ack.packet_id, id3);
	mqtt_client_free(c);
}

/* Without a session: in-flight messages are sent again as new (DUP=0),
 * released QoS 2 completes, and remembered subscriptions are re-sent. */
static void test_restart_without_session(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	struct mqtt_sub_item it = { { (const uint8_t *)"s/#", 3 }, 1 };
	uint32_t mid;
	handshake(c, false, NULL, 0);
	CHECK_EQ_INT(mqtt_client_subscribe(c, &it, 1, NULL, 0, &mid), 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_SUBSCRIBE);
	uint8_t suback[] = { 0x90, 0x03, 0, 0, 0x01 };
	suback[2] = (uint8_t)(F.p.u.subscribe.packet_id >> 8);
	suback[3] = (uint8_t)F.p.u.subscribe.packet_id;
	fake_send(suback, sizeof suback);
	publish(c, "r", "one", 1);
	publish(c, "r", "two", 2);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	fake_ack(MQTT_PUBREC, F.p.u.publish.packet_id);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBREL);
	TURN_UNTIL(E.subscribed >= 1, 5000);
	CHECK_EQ_INT(E.subscribed, 1);
	fake_close_conn();
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_connack(false, NULL, 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_SUBSCRIBE);
	struct mqtt_sub_item got;
	size_t off = 0;
	CHECK_EQ_INT(mqtt_sub_next(F.p.u.subscribe.list, &off, &got), 1);
	CHECK(str_is(got.filter, "s/#"));
	CHECK_EQ_INT(got.options & 3, 1);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(!F.p.u.publish.dup);
	CHECK(str_is(F.p.u.publish.payload, "one"));
	CHECK_EQ_INT(fake_expect(150), -1);    /* "two" was released: done */
	TURN_UNTIL(E.published_ok >= 1, 5000);
	CHECK_EQ_INT(E.published_ok, 1);
	mqtt_client_free(c);
}

static void keepalive_1(struct mqtt_client_opts *o)
{
	o->keepalive = 1;
}

/* PINGREQ after a keep-alive of silence; no PINGRESP: dead half a
 * keep-alive after the unanswered PINGREQ. The waits are failure guards
 * (a busy machine runs the timers late, never early or out of order). */
static void test_keepalive_dead_link(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, keepalive_1);
	handshake(c, false, NULL, 0);
	uint64_t t0 = loop_clock_ns() / 1000000;
	CHECK_EQ_INT(fake_expect(10000), MQTT_PINGREQ);
	fake_send("\xd0\x00", 2);
	CHECK_EQ_INT(fake_expect(10000), MQTT_PINGREQ);  /* answered: pings go on */
	uint64_t t1 = loop_clock_ns() / 1000000;
	CHECK(t1 - t0 >= 1500);
	while (E.disconnects == 0 && loop_clock_ns() / 1000000 - t1 < 10000)
		loop_run_once(L, 5);
	uint64_t t2 = loop_clock_ns() / 1000000;
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(t2 - t1 < 10000);
	CHECK(strstr(E.last_disconnect, "PINGRESP") != NULL);
	CHECK(fake_expect(100) != MQTT_PINGREQ);       /* closed, no PINGREQ again */
	mqtt_client_free(c);
}

/* A client that keeps publishing into a silent broker (a half-open link)
 * still finds it dead: the keep-alive counts from the last byte received
 * too, not only from the last one sent (which never gets a keep-alive old). */
static void test_keepalive_while_publishing(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, keepalive_1);
	handshake(c, false, NULL, 0);
	uint64_t t0 = loop_clock_ns() / 1000000, t1;
	int t, pings = 0;
	/* 10 s is only the guard: counting from the last byte sent alone, the
	 * client would never ping, never give up. It pings once (1 s after
	 * the last byte received) and gives up half a keep-alive later. */
	while (E.disconnects == 0 && loop_clock_ns() / 1000000 - t0 < 10000) {
		publish(c, "busy", "x", 0);
		while ((t = fake_expect(50)) > 0)
			pings += t == MQTT_PINGREQ;
	}
	t1 = loop_clock_ns() / 1000000;
	CHECK_EQ_INT(pings, 1);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(strstr(E.last_disconnect, "PINGRESP") != NULL);
	CHECK(t1 - t0 < 10000);
	mqtt_client_free(c);
}

static void test_receive_maximum(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	uint8_t props[] = { 0x21, 0x00, 0x01 };     /* Receive Maximum = 1 */
	handshake(c, false, props, sizeof props);
	publish(c, "rm", "1", 1);
	publish(c, "rm", "2", 1);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK_EQ_INT(fake_expect(150), -1);
	fake_ack(MQTT_PUBACK, F.p.u.publish.packet_id);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	CHECK(str_is(F.p.u.publish.payload, "2"));
	mqtt_client_free(c);
}

/* A clean start cannot find a session: "present" is a broker bug. */
static void test_session_present_after_clean_start(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	publish(c, "q", "1", 1);
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_connack(true, NULL, 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_DISCONNECT);
	CHECK_EQ_INT(F.p.u.disconnect.reason, 0x82);
	CHECK_EQ_INT(fake_expect(1000), 0);
	CHECK_EQ_INT(E.connects, 0);
	mqtt_client_free(c);
}

static void no_id(struct mqtt_client_opts *o)
{
	o->client_id = "";
}

/* v5: an empty client id gets one assigned, and reconnects reuse it; a
 * broker that renames a client that has an id breaks the protocol. */
static void test_assigned_client_id(void)
{
	uint8_t props[] = { 0x12, 0x00, 0x03, 'a', 'b', 'c' };
	struct mqtt_client *c = new_client(MQTT_V5, no_id);
	handshake(c, false, props, sizeof props);
	fake_close_conn();
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	CHECK(str_is(F.p.u.connect.client_id, "abc"));
	mqtt_client_free(c);

	c = new_client(MQTT_V5, NULL);
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_connack(false, props, sizeof props);
	CHECK_EQ_INT(fake_expect(5000), MQTT_DISCONNECT);
	CHECK_EQ_INT(fake_expect(1000), 0);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	CHECK(str_is(F.p.u.connect.client_id, "test-client"));
	mqtt_client_free(c);
}

static void test_suback_wrong_count(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	struct mqtt_sub_item it = { { (const uint8_t *)"x", 1 }, 0 };
	uint32_t mid;
	handshake(c, false, NULL, 0);
	mqtt_client_subscribe(c, &it, 1, NULL, 0, &mid);
	CHECK_EQ_INT(fake_expect(5000), MQTT_SUBSCRIBE);
	uint8_t suback[] = { 0x90, 0x04, 0, 0, 0x00, 0x00 };
	suback[2] = (uint8_t)(F.p.u.subscribe.packet_id >> 8);
	suback[3] = (uint8_t)F.p.u.subscribe.packet_id;
	fake_send(suback, sizeof suback);
	CHECK_EQ_INT(fake_expect(500), 0);          /* client closed the connection */
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(strstr(E.last_disconnect, "reason codes") != NULL);
	mqtt_client_free(c);
}

static void test_server_disconnect_v5(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	handshake(c, false, NULL, 0);
	/* DISCONNECT 0x8B server shutting down, reason string "bye" */
	uint8_t d[] = { 0xe0, 0x08, 0x8b, 0x06, 0x1f, 0x00, 0x03, 'b', 'y', 'e' };
	fake_send(d, sizeof d);
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(E.last_by_server);
	CHECK_EQ_INT(E.last_reason, 0x8b);
	CHECK(strstr(E.last_disconnect, "bye") != NULL);
	/* and it reconnects */
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	mqtt_client_free(c);
}

static void timeout_200(struct mqtt_client_opts *o)
{
	o->connect_timeout_ms = 200;
}

static void test_connect_timeout(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, timeout_200);
	mqtt_client_connect(c);
	CHECK(fake_accept(1000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(strstr(E.last_disconnect, "CONNACK") != NULL);
	mqtt_client_free(c);
}

static void test_malformed_closes(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	fake_send("\x40\x03\x00\x01\x00", 5);       /* PUBACK too long */
	CHECK_EQ_INT(fake_expect(500), 0);
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK_EQ_INT(E.disconnects, 1);
	mqtt_client_free(c);
}

static void test_clean_disconnect(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	mqtt_client_disconnect(c, 0, NULL, 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_DISCONNECT);
	for (int i = 0; i < 100 && !mqtt_client_idle(c); i++)
		loop_run_once(L, 5);
	CHECK(mqtt_client_idle(c));
	CHECK_EQ_INT(E.disconnects, 1);
	turn(50);
	CHECK(!fake_accept(100));                   /* no reconnect after a disconnect */
	mqtt_client_free(c);
}

/* A handler may free its own client; the rest of the read is dropped. */
static void test_free_inside_handler(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	E.free_me_on_message = c;
	send_publish(0, 0, false, "bye", "1");
	send_publish(0, 0, false, "bye", "2");
	TURN_UNTIL(E.messages >= 1, 5000);
	CHECK_EQ_INT(E.messages, 1);
}

static void test_packet_ids_skip_in_use(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	uint16_t first = 0, prev = 0;
	/* keep the first message in flight while 66 000 others come and go */
	publish(c, "id", "keep", 1);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	first = F.p.u.publish.packet_id;
	int seen_wrap = 0, bad = 0;
	for (int i = 0; i < 66000; i++) {
		publish(c, "id", "x", 1);
		if (fake_expect(500) != MQTT_PUBLISH) {
			bad++;
			break;
		}
		uint16_t id = F.p.u.publish.packet_id;
		if (id == 0 || id == first)
			bad++;
		if (id < prev)
			seen_wrap++;
		prev = id;
		fake_ack(MQTT_PUBACK, id);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(seen_wrap >= 1);
	mqtt_client_free(c);
}

/* A refused CONNACK (3.1.1 code 5): the disconnect carries the CONNACK
 * code's own name, not a v5 DISCONNECT name ("unknown"), and the client
 * retries (issue #9). */
static void test_refused_connack_v311(void)
{
	static const uint8_t refused[] = { 0x20, 0x02, 0x00, 0x05 };
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_send(refused, sizeof refused);
	for (int i = 0; i < 200 && !E.disconnects; i++)
		loop_run_once(L, 5);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK_EQ_INT(E.last_reason, 5);
	CHECK(E.last_by_server);
	CHECK(strcmp(E.last_reason_name, "not_authorized") == 0);
	CHECK(!mqtt_client_connected(c));
	fake_close_conn();
	CHECK(fake_accept(2000));       /* it tries again */
	mqtt_client_free(c);
}

/* The remembered subscriptions, as a reload diffs them. */
static void count_sub(const char *filter, uint8_t options, void *ud)
{
	int *n = ud;
	if ((strcmp(filter, "a/#") == 0 && options == 1) || (strcmp(filter, "b") == 0 && options == 0))
		(*n)++;
}

static void test_subscriptions_listed(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	struct mqtt_sub_item items[] = {
		{ { (const uint8_t *)"a/#", 3 }, 1 },
		{ { (const uint8_t *)"b", 1 }, 0 },
	};
	int n = 0;
	CHECK_EQ_INT(mqtt_client_subscribe(c, items, 2, NULL, 0, NULL), 0);
	mqtt_client_subscriptions(c, count_sub, &n);
	CHECK_EQ_INT(n, 2);
	mqtt_client_free(c);
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
	RUN(test_connect_v311);
	RUN(test_qos1_out);
	RUN(test_qos2_out);
	RUN(test_qos1_in);
	RUN(test_qos1_in_acked_before_timers);
	RUN(test_first_publish_of_a_turn_written_at_once);
	RUN(test_write_through_failure_left_to_the_loop);
	RUN(test_write_through_with_a_store);
	RUN(test_qos2_in_exactly_once);
	RUN(test_inflight_window);
	RUN(test_qos0_now_and_queued);
	RUN(test_qos0_now_queue_limit);
	RUN(test_offline_queue_bound);
	RUN(test_invalid_publish);
	RUN(test_resend_with_session);
	RUN(test_restart_without_session);
	RUN(test_keepalive_dead_link);
	RUN(test_keepalive_while_publishing);
	RUN(test_receive_maximum);
	RUN(test_session_present_after_clean_start);
	RUN(test_assigned_client_id);
	RUN(test_suback_wrong_count);
	RUN(test_server_disconnect_v5);
	RUN(test_connect_timeout);
	RUN(test_malformed_closes);
	RUN(test_clean_disconnect);
	RUN(test_free_inside_handler);
	RUN(test_packet_ids_skip_in_use);
	RUN(test_refused_connack_v311);
	RUN(test_subscriptions_listed);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("client");
}
