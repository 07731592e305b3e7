/* test_trace.c - packets as mosquitto 2.0.11's clients trace them with -d
 * (the expected lines are copied from mosquitto_pub/mosquitto_sub -d). */
#include "test.h"
#include "mqtt_trace.h"

static char line[1024];

#define S(lit) ((struct mqtt_str){ (const uint8_t *)(lit), sizeof(lit) - 1 })

static const char *fmt(const struct mqtt_packet *p, bool sending)
{
	mqtt_trace_format(p, sending, line, sizeof line);
	return line;
}

#define EXPECT(p, sending, text) CHECK(strcmp(fmt(p, sending), text) == 0)

static void test_connect_publish(void)
{
	struct mqtt_packet p = { .type = MQTT_CONNECT };
	EXPECT(&p, true, "sending CONNECT");
	p = (struct mqtt_packet){ .type = MQTT_CONNACK };
	EXPECT(&p, false, "received CONNACK (0)");
	p.u.connack.reason = 5;
	EXPECT(&p, false, "received CONNACK (5)");
	p = (struct mqtt_packet){ .type = MQTT_PUBLISH };
	p.u.publish = (struct mqtt_publish){ .qos = 1, .packet_id = 1, .topic = S("a/b"),
		.payload = S("hello") };
	EXPECT(&p, true, "sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))");
	p.u.publish.retain = true;
	p.u.publish.dup = true;
	EXPECT(&p, false, "received PUBLISH (d1, q1, r1, m1, 'a/b', ... (5 bytes))");
}

static void test_acks(void)
{
	struct mqtt_packet p = { .type = MQTT_PUBACK, .u.ack = { .packet_id = 7 } };
	EXPECT(&p, true, "sending PUBACK (m7, rc0)");
	EXPECT(&p, false, "received PUBACK (Mid: 7, RC:0)");
	p.type = MQTT_PUBREC;
	EXPECT(&p, false, "received PUBREC (Mid: 7)");
	EXPECT(&p, true, "sending PUBREC (m7, rc0)");
	p.type = MQTT_PUBREL;
	EXPECT(&p, true, "sending PUBREL (m7)");
	EXPECT(&p, false, "received PUBREL (Mid: 7)");
	p.type = MQTT_PUBCOMP;
	EXPECT(&p, false, "received PUBCOMP (Mid: 7, RC:0)");
	EXPECT(&p, true, "sending PUBCOMP (m7)");
}

static void test_subscribe(void)
{
	struct mqtt_sub_item items[2] = { { S("a"), 1 }, { S("b/#"), 2 | MQTT_SUB_NO_LOCAL } };
	struct mqtt_packet p = { .type = MQTT_SUBSCRIBE };
	p.u.subscribe = (struct mqtt_subscribe){ .packet_id = 1, .items = items, .count = 2 };
	EXPECT(&p, true, "sending SUBSCRIBE (Mid: 1, Topic: a, QoS: 1, Options: 0x00)\n"
		"sending SUBSCRIBE (Mid: 1, Topic: b/#, QoS: 2, Options: 0x04)");
	p = (struct mqtt_packet){ .type = MQTT_SUBACK };
	EXPECT(&p, false, "received SUBACK");
	struct mqtt_str f[1] = { S("a") };
	p = (struct mqtt_packet){ .type = MQTT_UNSUBSCRIBE };
	p.u.unsubscribe = (struct mqtt_unsubscribe){ .packet_id = 2, .filters = f, .count = 1 };
	EXPECT(&p, true, "sending UNSUBSCRIBE (Mid: 2, Topic: a)");
	p = (struct mqtt_packet){ .type = MQTT_PINGREQ };
	EXPECT(&p, true, "sending PINGREQ");
	p = (struct mqtt_packet){ .type = MQTT_DISCONNECT };
	EXPECT(&p, true, "sending DISCONNECT");
}

static void test_truncation(void)
{
	char small[8];
	struct mqtt_packet p = { .type = MQTT_CONNECT };
	size_t n = mqtt_trace_format(&p, true, small, sizeof small);
	CHECK_EQ_INT((int)n, 7);
	CHECK(strcmp(small, "sending") == 0);
}

int main(void)
{
	RUN(test_connect_publish);
	RUN(test_acks);
	RUN(test_subscribe);
	RUN(test_truncation);
	return test_report("trace");
}
