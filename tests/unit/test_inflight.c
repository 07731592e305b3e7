/*
 * test_inflight.c - the in-flight window against the fake broker: a
 * window of 100 across the wrap of packet ids, acks in any order finding
 * their own message (idmap), acks for ids not in flight ignored, resend in
 * publish order after a reconnect with and without a session, and the
 * quiet QoS 0 publish with the drained notification.
 */
#include "fake_broker.h"
#include "mqtt_store.h"

#define NMSG 140
#define WINDOW 100

/* per publish k (1..NMSG, its payload): mid, qos, packet id, state seen */
struct sent {
	uint32_t mid;
	int qos;
	uint16_t id;
	bool released;      /* PUBREC given, PUBREL seen */
	int completed;      /* MQTT_EV_PUBLISHED ok for its mid */
};
static struct sent S[NMSG + 1];
static int drained, published_events, stray_events;

static void record(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	on_event(c, ev, ud);
	if (ev->type == MQTT_EV_DRAINED)
		drained++;
	if (ev->type != MQTT_EV_PUBLISHED)
		return;
	published_events++;
	for (int k = 1; k <= NMSG; k++) {
		if (S[k].mid == ev->u.published.mid) {
			S[k].completed += ev->u.published.ok ? 1 : 100;
			return;
		}
	}
	stray_events++;
}

static int payload_k(void)
{
	char b[16] = "";
	size_t n = F.p.u.publish.payload.len < 15 ? F.p.u.publish.payload.len : 15;
	memcpy(b, F.p.u.publish.payload.ptr, n);
	return atoi(b);
}

/* Read packets until the client is quiet: PUBLISH records its id by
 * payload, PUBREL marks its message released. Returns the PUBLISH count. */
static int take_packets(int first_ms)
{
	int n = 0, type, ms = first_ms;
	while ((type = fake_expect(ms)) > 0) {
		ms = 50;
		if (type == MQTT_PUBLISH) {
			int k = payload_k();
			CHECK(k >= 1 && k <= NMSG);
			if (k >= 1 && k <= NMSG)
				S[k].id = F.p.u.publish.packet_id;
			n++;
		} else if (type == MQTT_PUBREL) {
			int hit = 0;
			for (int k = 1; k <= NMSG; k++)
				if (S[k].id == F.p.u.ack.packet_id && S[k].qos == 2) {   /* no id reuse here */
					S[k].released = true;
					hit++;
				}
			CHECK_EQ_INT(hit, 1);
		}
	}
	return n;
}

static void window_100(struct mqtt_client_opts *o)
{
	o->max_inflight = WINDOW;
	o->clean = false;
}

static struct mqtt_client *client_at_id(uint16_t next_id, void (*tweak)(struct mqtt_client_opts *))
{
	struct mqtt_store *st = mqtt_store_mem_new();
	st->next_id = next_id;      /* as a store from an earlier run would say */
	struct mqtt_client *c = new_client_store(MQTT_V311, tweak, st);
	memset(S, 0, sizeof S);
	drained = published_events = stray_events = 0;
	mqtt_client_set_handler(c, record, NULL);
	return c;
}

static void publish_all(struct mqtt_client *c)
{
	char p[16];
	for (int k = 1; k <= NMSG; k++) {
		S[k].qos = k % 3 == 0 ? 2 : 1;
		snprintf(p, sizeof p, "%d", k);
		S[k].mid = publish(c, "w", p, S[k].qos);
	}
}

/* Phase A: PUBACK the QoS 1 and PUBREC the QoS 2 messages of 51..100,
 * newest first; the window refills with 101.. */
static int ack_upper_half(void)
{
	int acked = 0;
	for (int k = 100; k >= 51; k--) {
		if (S[k].qos == 1) {
			fake_ack(MQTT_PUBACK, S[k].id);
			acked++;
		} else {
			fake_ack(MQTT_PUBREC, S[k].id);
		}
	}
	return acked;
}

/* A window of 100 whose ids run 65490..65535, 1..54; acks in reverse order
 * each complete their own message; a reconnect with the session resends
 * what is in flight in publish order (PUBLISH DUP or PUBREL), same ids. */
static void test_window_across_wrap(void)
{
	struct mqtt_client *c = client_at_id(65490, window_100);
	handshake(c, false, NULL, 0);
	publish_all(c);
	CHECK_EQ_INT(take_packets(1000), WINDOW);
	int low = 0, high = 0;
	for (int k = 1; k <= WINDOW; k++) {
		low += S[k].id >= 1 && S[k].id < 1000;
		high += S[k].id >= 65490;
		for (int j = 1; j < k; j++)
			CHECK(S[j].id != S[k].id);
	}
	CHECK_EQ_INT(high, 46);
	CHECK_EQ_INT(low, 54);
	CHECK_EQ_INT(S[46].id, 65535);
	CHECK_EQ_INT(S[47].id, 1);

	int acked = ack_upper_half();
	CHECK_EQ_INT(take_packets(1000), acked);    /* one new PUBLISH per freed slot */
	TURN_UNTIL(published_events >= acked, 5000);
	CHECK_EQ_INT(published_events, acked);
	CHECK_EQ_INT(stray_events, 0);
	for (int k = 1; k <= NMSG; k++) {
		bool want_done = k >= 51 && k <= 100 && S[k].qos == 1;
		CHECK_EQ_INT(S[k].completed, want_done ? 1 : 0);
		CHECK(S[k].released == (k >= 51 && k <= 100 && S[k].qos == 2));
		CHECK(S[k].id != 0 || k > WINDOW + acked);
	}

	/* acks for ids not in flight (again, wrong kind) change nothing */
	fake_ack(MQTT_PUBACK, S[99].qos == 1 ? S[99].id : S[98].id);
	fake_ack(MQTT_PUBACK, S[99].qos == 2 ? S[99].id : S[96].id);   /* a released QoS 2 */
	fake_ack(MQTT_PUBCOMP, S[3].id);        /* QoS 2 not released yet */
	fake_ack(MQTT_PUBACK, 40000);           /* never used */
	turn(100);
	CHECK_EQ_INT(published_events, acked);
	CHECK_EQ_INT(take_packets(100), 0);

	fake_close_conn();
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(1000), MQTT_CONNECT);
	fake_connack(true, NULL, 0);
	/* the resend: every message in flight, in publish order */
	int resent = 0, order_bad = 0;
	for (int k = 1; k <= NMSG; k++) {
		if (!S[k].id || S[k].completed)
			continue;
		int type = fake_expect(1000);
		if (S[k].released) {
			order_bad += type != MQTT_PUBREL || F.p.u.ack.packet_id != S[k].id;
		} else {
			order_bad += type != MQTT_PUBLISH || !F.p.u.publish.dup ||
				F.p.u.publish.packet_id != S[k].id || payload_k() != k;
		}
		resent++;
	}
	CHECK_EQ_INT(order_bad, 0);
	CHECK_EQ_INT(resent, WINDOW);
	CHECK_EQ_INT(fake_expect(150), -1);     /* the window is still full */

	/* finish everything in publish order (PUBREC and PUBCOMP back to
	 * back: the client reads them in order); each completes once */
	for (int k = 1; k <= NMSG; k++) {
		if (S[k].completed)
			continue;
		for (int tries = 0; !S[k].id && tries < 5; tries++)
			take_packets(1000);
		CHECK(S[k].id != 0);
		if (S[k].qos == 1) {
			fake_ack(MQTT_PUBACK, S[k].id);
		} else {
			if (!S[k].released)
				fake_ack(MQTT_PUBREC, S[k].id);
			fake_ack(MQTT_PUBCOMP, S[k].id);
		}
	}
	take_packets(200);
	TURN_UNTIL(published_events >= NMSG, 5000);
	CHECK_EQ_INT(published_events, NMSG);
	CHECK_EQ_INT(stray_events, 0);
	int twice = 0;
	for (int k = 1; k <= NMSG; k++)
		twice += S[k].completed != 1;
	CHECK_EQ_INT(twice, 0);
	struct mqtt_client_stats st;
	mqtt_client_stats(c, &st);
	CHECK_EQ_INT(st.inflight, 0);
	CHECK_EQ_INT(st.queued, 0);
	mqtt_client_free(c);
}

static void window_10(struct mqtt_client_opts *o)
{
	o->max_inflight = 10;
}

/* Without a session: what was in flight goes out again as new messages
 * (DUP 0, new ids) in publish order, followed by what was queued. */
static void test_restart_order(void)
{
	struct mqtt_client *c = client_at_id(65530, window_10);
	char p[16];
	handshake(c, false, NULL, 0);
	for (int k = 1; k <= 15; k++) {
		S[k].qos = 1;
		snprintf(p, sizeof p, "%d", k);
		S[k].mid = publish(c, "r", p, 1);
	}
	CHECK_EQ_INT(take_packets(1000), 10);
	fake_ack(MQTT_PUBACK, S[7].id);
	fake_ack(MQTT_PUBACK, S[2].id);
	fake_ack(MQTT_PUBACK, S[9].id);
	CHECK_EQ_INT(take_packets(1000), 3);    /* 11..13 */
	TURN_UNTIL(published_events >= 3, 5000);
	fake_close_conn();
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(1000), MQTT_CONNECT);
	fake_connack(false, NULL, 0);
	int want[] = { 1, 3, 4, 5, 6, 8, 10, 11, 12, 13 }, bad = 0;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int type = fake_expect(1000);
		bad += type != MQTT_PUBLISH || F.p.u.publish.dup || payload_k() != want[i];
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(fake_expect(150), -1);     /* window full: 14, 15 wait */
	mqtt_client_free(c);
}

/* quiet: no event and no mid; MQTT_EV_DRAINED once the queue is empty,
 * at once when it is empty already */
static void test_quiet_and_drained(void)
{
	struct mqtt_client *c = client_at_id(1, NULL);
	struct mqtt_pub_req r = { "q", 1, (const uint8_t *)"x", 1, 0, false, NULL, 0, true };
	uint32_t mid = 99;
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
		CHECK_EQ_INT(mid, 0);
	}
	r.quiet = false;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
	CHECK(mid != 0);
	mqtt_client_want_drained(c);
	turn(50);
	CHECK_EQ_INT(drained, 0);               /* offline: six are queued */
	handshake(c, false, NULL, 0);
	int got = 0;
	while (fake_expect(500) == MQTT_PUBLISH)
		got++;
	CHECK_EQ_INT(got, 6);
	TURN_UNTIL(drained >= 1 && published_events >= 1, 5000);
	CHECK_EQ_INT(drained, 1);
	turn(20);
	CHECK_EQ_INT(published_events, 1);      /* only the one that was not quiet */
	CHECK_EQ_INT(E.last_mid, mid);
	mqtt_client_want_drained(c);
	TURN_UNTIL(drained >= 2, 5000);
	CHECK_EQ_INT(drained, 2);
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
	RUN(test_window_across_wrap);
	RUN(test_restart_order);
	RUN(test_quiet_and_drained);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("inflight");
}
