/*
 * test_stream.c - waking for a stream that only comes in in batches
 * (client_lowat.c), against the fake broker: a fast QoS 0 stream raises the
 * socket's SO_RCVLOWAT and wake-ups then carry many messages, every one
 * delivered in order; the guard fetches what a stream that stops leaves
 * below the threshold and learns how much the broker sends unacknowledged;
 * a client that sends (a reply, or the PUBACKs of QoS 1) keeps waking for
 * any byte.
 */
#include <netinet/tcp.h>

#include "fake_broker.h"
#include "mqtt_client_impl.h"

#define PAYLOAD 100                 /* ~110 bytes a packet */

static int lowat(struct mqtt_client *c)
{
	int v = -1;
	socklen_t n = sizeof v;
	getsockopt(c->tr.fd, SOL_SOCKET, SO_RCVLOWAT, &v, &n);
	return v;
}

static int sent;        /* messages the fake broker sent */
static int max_lowat;   /* the highest threshold seen */
/* turns of the loop that began with a threshold and delivered, and the
 * messages they delivered */
static int batched_turns, batched_msgs;

/* Message k: its number, padded to PAYLOAD bytes. */
static void send_msg(int qos)
{
	char p[PAYLOAD + 1];
	snprintf(p, sizeof p, "%-*d", PAYLOAD, ++sent);
	send_publish(qos, qos ? (uint16_t)(sent % 60000 + 1) : 0, false, "s", p);
}

static bool in_order(void)
{
	return E.messages == 0 || atoi(E.last_payload) == E.messages;
}

/* A steady stream: one message, one turn of the loop that does not wait,
 * until stop() holds, n messages went or ms passed (a loaded machine
 * may trip batching off for a while: the deadline is generous). */
static void stream(struct mqtt_client *c, int qos, bool (*stop)(struct mqtt_client *), int n, int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	for (int k = 0; k < n && !stop(c) && loop_clock_ns() / 1000000 < end; k++) {
		int had = E.messages, waiting = lowat(c) > 1;
		send_msg(qos);
		loop_run_once(L, 0);
		if (waiting && E.messages > had) {
			batched_turns++;
			batched_msgs += E.messages - had;
		}
		if (lowat(c) > max_lowat)
			max_lowat = lowat(c);
		if (!in_order())
			break;
		while (qos && recv(F.fd, F.buf, sizeof F.buf, MSG_DONTWAIT) > 0)
			;       /* the PUBACKs, unread, would fill the fake's buffer */
	}
}

static bool waits_ended(struct mqtt_client *c)
{
	struct mqtt_client_stats st;
	mqtt_client_stats(c, &st);
	return st.stream_waits >= 20 && lowat(c) > PAYLOAD + 20;
}

static bool never(struct mqtt_client *c)
{
	(void)c;
	return false;
}

/* nodelay: as a broker set for latency (mosquitto's set_tcp_nodelay) */
static struct mqtt_client *connected(bool nodelay)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	int one = 1;
	handshake(c, false, NULL, 0);
	if (nodelay)
		CHECK(setsockopt(F.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
	sent = max_lowat = batched_turns = batched_msgs = 0;
	CHECK_EQ_INT(lowat(c), 1);
	return c;
}

/* The stream engages batching: waits that ended by themselves, with
 * several messages each, and every message delivered in order. Then the
 * stream stops below the threshold: the guard fetches the rest, counts a
 * cut and lowers the ceiling to 3/4 of what had come. */
static void test_stream_batches(void)
{
	struct mqtt_client *c = connected(true);
	struct mqtt_client_stats st;
	uint64_t cuts;
	int before;
	stream(c, 0, waits_ended, 1000000, 20000);
	mqtt_client_stats(c, &st);
	CHECK(st.stream_waits >= 20);
	CHECK(max_lowat >= 256);
	CHECK(in_order());
	/* a wait brings several messages (a loaded machine that trips
	 * batching off for a while delivers the rest one by one) */
	CHECK(batched_turns >= 10);
	CHECK(batched_msgs >= 2 * batched_turns);

	/* the stream stops, with the client waiting for a batch */
	mqtt_client_stats(c, &st);
	cuts = st.stream_waits_cut;
	before = lowat(c);
	CHECK(before > PAYLOAD + 20);
	TURN_UNTIL(E.messages == sent && lowat(c) == 1, 5000);
	CHECK_EQ_INT(E.messages, sent);
	CHECK(in_order());
	CHECK_EQ_INT(lowat(c), 1);
	mqtt_client_stats(c, &st);
	CHECK(st.stream_waits_cut >= cuts + 1);
	/* what the guard found below the threshold is the new ceiling (3/4 of
	 * it, at least STREAM_MIN_BYTES, 256) */
	CHECK(c->stream_ceiling < before || c->stream_ceiling == 256);
	CHECK_EQ_INT(E.disconnects, 0);
	mqtt_client_free(c);
}

/* A stream the client answers (stop() sends, or QoS 1 acknowledges):
 * every message arrives, and no wait for a batch ever began. */
static void never_batched(int qos, bool (*stop)(struct mqtt_client *))
{
	struct mqtt_client *c = connected(true);
	struct mqtt_client_stats st;
	stream(c, qos, stop, 5000, 20000);
	TURN_UNTIL(E.messages == sent, 5000);
	CHECK_EQ_INT(E.messages, sent);
	CHECK(in_order());
	mqtt_client_stats(c, &st);
	CHECK_EQ_INT(st.stream_waits + st.stream_waits_cut, 0);
	CHECK_EQ_INT(max_lowat, 1);
	mqtt_client_free(c);
}

/* A client that replies to the stream never waits for a batch: the broker
 * may be waiting for the reply. */
static bool replied(struct mqtt_client *c)
{
	publish(c, "r", "x", 0);
	return false;
}

static void test_reply_wakes_for_any_byte(void)
{
	never_batched(0, replied);
}

/* QoS 1: every message is acknowledged, which is sending: no batches (the
 * broker's own window waits for those PUBACKs). */
static void test_qos1_wakes_for_any_byte(void)
{
	never_batched(1, never);
}

/* A broker with Nagle's algorithm on holds its small segments until our
 * kernel acknowledges, which it delays while nothing reads: some waits
 * need the guard (the trip that follows when they pile up is the acks'
 * and is tested in test_acks.c). Every message still arrives, in order. */
static void test_nagle_delivers(void)
{
	struct mqtt_client *c = connected(false);
	stream(c, 0, never, 5000, 20000);
	TURN_UNTIL(E.messages == sent, 5000);
	CHECK_EQ_INT(E.messages, sent);
	CHECK(in_order());
	CHECK_EQ_INT(E.disconnects, 0);
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
	RUN(test_stream_batches);
	RUN(test_reply_wakes_for_any_byte);
	RUN(test_qos1_wakes_for_any_byte);
	RUN(test_nagle_delivers);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("stream");
}
