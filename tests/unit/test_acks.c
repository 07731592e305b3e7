/*
 * test_acks.c - waking for acknowledgements in batches (client_lowat.c),
 * against the fake broker: the socket's SO_RCVLOWAT while the window is
 * full, batched wake-ups that deliver every PUBACK, the guard that fetches
 * acknowledgements a broker left short of the threshold, batching turned
 * off for a broker that always does, and the default threshold back once
 * the window has room.
 */
#include "fake_broker.h"
#include "mqtt_client_impl.h"

#define WINDOW 20
#define NMSG 400

static uint16_t ids[NMSG + 1];     /* packet id of message k, by payload */
static int sent;                    /* PUBLISH packets the fake broker took */

static void window_20(struct mqtt_client_opts *o)
{
	o->max_inflight = WINDOW;
}

static int lowat(struct mqtt_client *c)
{
	int v = -1;
	socklen_t n = sizeof v;
	getsockopt(c->tr.fd, SOL_SOCKET, SO_RCVLOWAT, &v, &n);
	return v;
}

/* Take PUBLISH packets until n more arrived (or 5 s pass). */
static void take(int n)
{
	for (int got = 0; got < n && fake_expect(5000) == MQTT_PUBLISH; got++) {
		char b[16] = "";
		size_t len = F.p.u.publish.payload.len < 15 ? F.p.u.publish.payload.len : 15;
		memcpy(b, F.p.u.publish.payload.ptr, len);
		int k = atoi(b);
		CHECK(k >= 1 && k <= NMSG);
		if (k >= 1 && k <= NMSG)
			ids[k] = F.p.u.publish.packet_id;
		sent++;
	}
}

/* The acknowledgements for messages first..last, in one write. */
static void ack_run(int first, int last)
{
	uint8_t b[4 * NMSG];
	size_t n = 0;
	for (int k = first; k <= last; k++) {
		b[n++] = MQTT_PUBACK << 4;
		b[n++] = 2;
		b[n++] = (uint8_t)(ids[k] >> 8);
		b[n++] = (uint8_t)ids[k];
	}
	fake_send(b, n);
}

/* A client connected to the fake broker with n QoS 1 messages (payloads
 * "1".."n") published, the first window of them taken. */
static struct mqtt_client *connected_with(int n)
{
	struct mqtt_client *c = new_client(MQTT_V311, window_20);
	char p[16];
	handshake(c, false, NULL, 0);
	CHECK_EQ_INT(lowat(c), 1);      /* nothing in flight: any byte wakes us */
	memset(ids, 0, sizeof ids);
	sent = 0;
	for (int k = 1; k <= n; k++) {
		snprintf(p, sizeof p, "%d", k);
		publish(c, "a", p, 1);
	}
	take(WINDOW);
	return c;
}

/* The guard: two PUBACKs (8 bytes) are below the threshold of ten (40
 * bytes), and the broker sends nothing more; both complete all the same,
 * the guard fetching them. */
static void test_guard(void)
{
	struct mqtt_client *c = connected_with(30);
	struct mqtt_client_stats st;
	CHECK_EQ_INT(sent, WINDOW);
	ack_run(1, 2);
	TURN_UNTIL(E.published_ok == 2, 5000);
	CHECK_EQ_INT(E.published_ok, 2);
	mqtt_client_stats(c, &st);
	CHECK(st.ack_waits_cut >= 1);
	mqtt_client_free(c);
}

/* Batches: the broker acknowledges ten at a time, at once; every message
 * completes in order, and waits end by themselves. (On a loaded machine a
 * guard may still fire now and then, and 3 of them within 8 waits turn
 * batching off for a second: across 38 rounds on a fresh client one wait
 * at least ends without it.) */
static void test_batches(void)
{
	struct mqtt_client *c = connected_with(NMSG);
	struct mqtt_client_stats st;
	int next = 1;
	CHECK_EQ_INT(sent, WINDOW);
	while (next + 9 <= NMSG - WINDOW) {
		ack_run(next, next + 9);
		next += 10;
		take(10);
		TURN_UNTIL(E.published_ok == next - 1, 5000);
		if (E.published_ok != next - 1)
			break;
	}
	CHECK_EQ_INT(E.published_ok, next - 1);
	CHECK_EQ_INT(sent, NMSG);
	mqtt_client_stats(c, &st);
	CHECK(st.ack_waits >= 1);

	/* the rest with room in the window: back to waking for any byte */
	ack_run(next, NMSG);
	TURN_UNTIL(E.published_ok == NMSG, 5000);
	CHECK_EQ_INT(E.published_ok, NMSG);
	CHECK_EQ_INT(E.published_fail, 0);
	CHECK_EQ_INT(sent, NMSG);
	CHECK_EQ_INT(lowat(c), 1);
	CHECK_EQ_INT(loop_timer_count(L), 1);      /* the keep-alive alone */
	mqtt_client_free(c);
}

/* While the window is full the threshold holds; a PINGREQ in flight puts
 * it back to 1 (a 2-byte PINGRESP must wake us). */
static void test_threshold_while_full(void)
{
	struct mqtt_client *c = connected_with(30);
	/* 40 bytes (ten PUBACKs), unless the guard already fired on a slow
	 * machine, which leaves 1 and counts a cut */
	struct mqtt_client_stats st;
	mqtt_client_stats(c, &st);
	int v = lowat(c);
	CHECK(v == 4 * 10 || (v == 1 && st.ack_waits_cut > 0));
	c->ping_outstanding = true;
	loop_run_once(L, 0);
	CHECK_EQ_INT(lowat(c), 1);
	mqtt_client_free(c);
}

/* A broker that sends one acknowledgement at a time (Nagle's algorithm on
 * its side holds the rest until our kernel acknowledges, and nothing reads
 * below the threshold): each wait needs the guard, and after CUTS_TRIP (3)
 * of them batching is off, the threshold 1 with the window full, and no
 * more waits are cut. */
static void test_trip(void)
{
	struct mqtt_client *c = connected_with(40);
	struct mqtt_client_stats st;
	for (int k = 1; k <= 8; k++) {
		ack_run(k, k);
		TURN_UNTIL(E.published_ok == k, 5000);
		CHECK_EQ_INT(E.published_ok, k);
		take(1);
	}
	mqtt_client_stats(c, &st);
	CHECK_EQ_INT(st.ack_waits_cut, 3);
	CHECK_EQ_INT(lowat(c), 1);
	CHECK_EQ_INT(c->inflight, WINDOW);
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
	RUN(test_guard);
	RUN(test_batches);
	RUN(test_threshold_while_full);
	RUN(test_trip);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("acks");
}
