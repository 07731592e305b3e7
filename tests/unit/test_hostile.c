/*
 * test_hostile.c - a broker that misbehaves on purpose, byte by byte: each
 * case must end in the spec's answer (usually a closed connection and a
 * reconnect with backoff), never a crash, a hang, a leak or a message
 * delivered that should not be.
 */
#include "fake_broker.h"

static void expect_closed_and_reconnect(void)
{
	int t = fake_expect(1000);
	if (t == MQTT_DISCONNECT)                   /* v5 may say why first */
		t = fake_expect(1000);
	CHECK_EQ_INT(t, 0);                         /* the client closed */
	TURN_UNTIL(E.disconnects >= 1, 5000);
	CHECK_EQ_INT(E.disconnects, 1);
	CHECK(fake_accept(2000));                   /* and comes back */
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
}

/* Bytes may arrive one at a time. */
static void test_trickle(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	static const uint8_t stream[] = {
		0x20, 0x03, 0x00, 0x00, 0x00,                           /* CONNACK */
		0x32, 0x0b, 0x00, 0x03, 't', '/', '1', 0x00, 0x05, 0x00, 'a', 'b', 'c' /* PUBLISH q1 */
	};
	for (size_t i = 0; i < sizeof stream; i++) {
		fake_send(stream + i, 1);
		turn(2);
	}
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBACK);
	CHECK_EQ_INT(F.p.u.ack.packet_id, 5);
	CHECK_EQ_INT(E.connects, 1);
	CHECK_EQ_INT(E.messages, 1);
	CHECK(strcmp(E.last_payload, "abc") == 0);
	mqtt_client_free(c);
}

/* 1 000 packets in one write: all delivered, all acknowledged in order. */
static void test_thousand_in_one_read(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	static uint8_t burst[1000 * 12];
	size_t n = 0;
	handshake(c, false, NULL, 0);
	for (int i = 1; i <= 1000; i++) {
		uint8_t p[] = { 0x32, 0x0a, 0x00, 0x04, 'b', '/', 'u', 'r', 0, 0, 'x', 'y' };
		p[8] = (uint8_t)(i >> 8);
		p[9] = (uint8_t)i;
		memcpy(burst + n, p, sizeof p);
		n += sizeof p;
	}
	fake_send(burst, n);
	int acks = 0, in_order = 1;
	for (int i = 1; i <= 1000; i++) {
		if (fake_expect(1000) != MQTT_PUBACK)
			break;
		acks++;
		if (F.p.u.ack.packet_id != i)
			in_order = 0;
	}
	CHECK_EQ_INT(acks, 1000);
	CHECK(in_order);
	CHECK_EQ_INT(E.messages, 1000);
	mqtt_client_free(c);
}

static void test_remaining_length_five_bytes(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	fake_send("\x30\xff\xff\xff\xff\x01", 6);
	expect_closed_and_reconnect();
	mqtt_client_free(c);
}

/* v5 requires the minimal length encoding [MQTT-1.5.5-1]. */
static void test_non_minimal_length_v5(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	handshake(c, false, NULL, 0);
	fake_send("\xd0\x80\x00", 3);               /* PINGRESP, length 0 in two bytes */
	expect_closed_and_reconnect();
	mqtt_client_free(c);
}

static void test_topic_length_past_packet(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	/* topic claims 200 bytes in a 7-byte packet */
	fake_send("\x30\x07\x00\xc8t/1abc", 9);
	expect_closed_and_reconnect();
	CHECK_EQ_INT(E.messages, 0);
	mqtt_client_free(c);
}

static void test_unsuback_wrong_count_v5(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	struct mqtt_str f[2] = { { (const uint8_t *)"a", 1 }, { (const uint8_t *)"b", 1 } };
	uint32_t mid;
	handshake(c, false, NULL, 0);
	CHECK_EQ_INT(mqtt_client_unsubscribe(c, f, 2, NULL, 0, &mid), 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_UNSUBSCRIBE);
	uint8_t unsuback[] = { 0xb0, 0x04, 0, 0, 0x00, 0x00 };     /* one code for two filters */
	unsuback[2] = (uint8_t)(F.p.u.unsubscribe.packet_id >> 8);
	unsuback[3] = (uint8_t)F.p.u.unsubscribe.packet_id;
	fake_send(unsuback, sizeof unsuback);
	CHECK_EQ_INT(fake_expect(5000), MQTT_DISCONNECT);   /* v5 says why first */
	CHECK_EQ_INT(F.p.u.disconnect.reason, 0x82);
	expect_closed_and_reconnect();
	mqtt_client_free(c);
}

static void test_packet_id_zero(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	fake_send("\x32\x06\x00\x01t\x00\x00x", 8);  /* QoS 1 with packet id 0 */
	expect_closed_and_reconnect();
	CHECK_EQ_INT(E.messages, 0);
	mqtt_client_free(c);
}

static void test_pubrel_unknown_id(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	handshake(c, false, NULL, 0);
	fake_ack(MQTT_PUBREL, 4242);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBCOMP);
	CHECK_EQ_INT(F.p.u.ack.packet_id, 4242);
	CHECK_EQ_INT(F.p.u.ack.reason, 0x92);       /* packet identifier not found */
	turn(20);
	CHECK(mqtt_client_connected(c));
	mqtt_client_free(c);
}

static void max_packet_64(struct mqtt_client_opts *o)
{
	o->max_packet_size = 64;
}

/* Our Maximum Packet Size is announced, and a larger packet closes the
 * connection with reason 0x95 [MQTT-3.1.2-25]. */
static void test_max_packet_inbound(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, max_packet_64);
	struct mqtt_prop pr;
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	CHECK_EQ_INT(mqtt_props_find(F.p.u.connect.props, MQTT_PROP_MAXIMUM_PACKET_SIZE, &pr), 1);
	CHECK_EQ_INT(pr.num, 64);
	fake_connack(false, NULL, 0);
	turn(20);
	uint8_t big[80] = { 0x30, 78, 0x00, 0x01, 't', 0x00 };
	fake_send(big, sizeof big);
	CHECK_EQ_INT(fake_expect(5000), MQTT_DISCONNECT);
	CHECK_EQ_INT(F.p.u.disconnect.reason, 0x95);
	expect_closed_and_reconnect();
	CHECK_EQ_INT(E.messages, 0);
	mqtt_client_free(c);
}

/* The broker's Maximum Packet Size bounds what we send [MQTT-3.2.2-15]. */
static void test_max_packet_outbound(void)
{
	struct mqtt_client *c = new_client(MQTT_V5, NULL);
	uint8_t props[] = { 0x27, 0x00, 0x00, 0x00, 0x32 };   /* 50 bytes */
	char payload[100];
	uint32_t mid;
	memset(payload, 'p', sizeof payload);
	struct mqtt_pub_req r = { "t", 1, (const uint8_t *)payload, sizeof payload, 1, false, NULL, 0, false };
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);  /* queued before the limit is known */
	handshake(c, false, props, sizeof props);
	TURN_UNTIL(E.published_fail >= 1, 5000);
	CHECK_EQ_INT(E.published_fail, 1);          /* dropped visibly, not sent */
	CHECK_EQ_INT(fake_expect(100), -1);
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_TOO_BIG);
	r.payload_len = 10;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), 0);
	CHECK_EQ_INT(fake_expect(5000), MQTT_PUBLISH);
	mqtt_client_free(c);
}

static void test_bad_utf8_topic(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	fake_send("\x30\x05\x00\x02\xc3\x28x", 7);   /* invalid 2-byte sequence */
	expect_closed_and_reconnect();
	CHECK_EQ_INT(E.messages, 0);
	mqtt_client_free(c);
}

static void test_nul_in_topic(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	struct mqtt_pub_req r = { "a\0b", 3, (const uint8_t *)"x", 1, 0, false, NULL, 0, false };
	uint32_t mid;
	CHECK_EQ_INT(mqtt_client_publish(c, &r, &mid), MQTT_E_TOPIC);
	handshake(c, false, NULL, 0);
	fake_send("\x30\x06\x00\x03" "a\0b" "x", 8);  /* U+0000 [MQTT-1.5.3-2] */
	expect_closed_and_reconnect();
	CHECK_EQ_INT(E.messages, 0);
	mqtt_client_free(c);
}

static void test_second_connack(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	handshake(c, false, NULL, 0);
	fake_connack(false, NULL, 0);
	expect_closed_and_reconnect();
	mqtt_client_free(c);
}

static void test_refused_then_backoff(void)
{
	struct mqtt_client *c = new_client(MQTT_V311, NULL);
	mqtt_client_connect(c);
	CHECK(fake_accept(2000));
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
	fake_send("\x20\x02\x00\x05", 4);          /* not authorized */
	TURN_UNTIL(E.connects >= 1, 5000);
	CHECK_EQ_INT(E.connects, 1);
	CHECK_EQ_INT(E.last_reason, 5);
	CHECK(!mqtt_client_connected(c));
	CHECK(fake_accept(2000));                   /* retried after a backoff */
	CHECK_EQ_INT(fake_expect(5000), MQTT_CONNECT);
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
	RUN(test_trickle);
	RUN(test_thousand_in_one_read);
	RUN(test_remaining_length_five_bytes);
	RUN(test_non_minimal_length_v5);
	RUN(test_topic_length_past_packet);
	RUN(test_unsuback_wrong_count_v5);
	RUN(test_packet_id_zero);
	RUN(test_pubrel_unknown_id);
	RUN(test_max_packet_inbound);
	RUN(test_max_packet_outbound);
	RUN(test_bad_utf8_topic);
	RUN(test_nul_in_topic);
	RUN(test_second_connack);
	RUN(test_refused_then_backoff);
	fake_stop();
	loop_free(L);
	RUN(test_no_leaks);
	return test_report("hostile");
}
