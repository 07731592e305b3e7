/* test_alias.c - topic alias tables (core/mqtt_alias.c): inbound resolve
 * and its protocol errors, outbound explicit and automatic aliases on the
 * wire, the reset per connection and the full topic on resends. */
#include <stdio.h>
#include <string.h>

#include "mqtt_alias.h"
#include "mqtt_codec.h"
#include "test.h"
#include "xalloc.h"

static size_t enc_publish(uint8_t *buf, size_t cap, const char *topic, uint16_t alias)
{
	uint8_t props[3] = { MQTT_PROP_TOPIC_ALIAS, (uint8_t)(alias >> 8), (uint8_t)alias };
	struct mqtt_packet p = { .type = MQTT_PUBLISH };
	p.u.publish.qos = 1;
	p.u.publish.packet_id = 7;
	p.u.publish.topic = (struct mqtt_str){ (const uint8_t *)topic, strlen(topic) };
	p.u.publish.props = (struct mqtt_str){ props, alias ? 3 : 0 };
	p.u.publish.payload = (struct mqtt_str){ (const uint8_t *)"x", 1 };
	return mqtt_encode(&p, MQTT_V5, buf, cap);
}

/* decode the wire bytes: topic and alias (0: none) */
static void wire_of(const uint8_t *w, size_t n, char *topic, uint16_t *alias)
{
	struct mqtt_packet p;
	struct mqtt_prop pr;
	size_t used;
	CHECK(mqtt_decode(w, n, MQTT_V5, 0, &p, &used) == MQTT_OK);
	memcpy(topic, p.u.publish.topic.ptr, p.u.publish.topic.len);
	topic[p.u.publish.topic.len] = '\0';
	*alias = mqtt_props_find(p.u.publish.props, MQTT_PROP_TOPIC_ALIAS, &pr) == 1 ? (uint16_t)pr.num : 0;
	CHECK(p.u.publish.packet_id == 7);
}

static void send_one(struct mqtt_alias *a, const char *topic, uint16_t alias, bool full,
	char *got, uint16_t *got_alias)
{
	uint8_t buf[256];
	size_t n = enc_publish(buf, sizeof buf, topic, alias), out;
	uint8_t *w = mqtt_alias_wire(a, MQTT_V5, buf, n, full, &out);
	CHECK(w != NULL);
	wire_of(w, out, got, got_alias);
	if (w != buf)
		xfree(w);
}

static struct mqtt_publish in_pub(const char *topic, uint8_t *props, uint16_t alias)
{
	struct mqtt_publish p = { .qos = 0 };
	props[0] = MQTT_PROP_TOPIC_ALIAS;
	props[1] = (uint8_t)(alias >> 8);
	props[2] = (uint8_t)alias;
	p.topic = (struct mqtt_str){ (const uint8_t *)topic, strlen(topic) };
	p.props = (struct mqtt_str){ props, 3 };
	return p;
}

static void inbound(void)
{
	struct mqtt_alias *a = mqtt_alias_new(4, false);
	uint8_t props[3];
	struct mqtt_publish p = in_pub("a/b", props, 1);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0);
	p = in_pub("", props, 1);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0);
	CHECK(p.topic.len == 3 && memcmp(p.topic.ptr, "a/b", 3) == 0);
	p = in_pub("", props, 2);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0x82);     /* never given a topic */
	p = in_pub("x", props, 5);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0x94);     /* over our maximum */
	p = in_pub("x", props, 0);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0x94);
	mqtt_alias_connected(a, 0);                         /* a new connection forgets */
	p = in_pub("", props, 1);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0x82);
	mqtt_alias_free(a);
	a = mqtt_alias_new(0, false);                       /* none announced: every alias is an error */
	p = in_pub("a", props, 1);
	CHECK_EQ_INT(mqtt_alias_resolve(a, &p), 0x94);
	mqtt_alias_free(a);
}

static void explicit_out(void)
{
	struct mqtt_alias *a = mqtt_alias_new(0, false);
	char t[128];
	uint16_t al;
	mqtt_alias_connected(a, 5);
	send_one(a, "s/t", 2, false, t, &al);
	CHECK(strcmp(t, "s/t") == 0 && al == 2);            /* first: topic + alias */
	send_one(a, "s/t", 2, false, t, &al);
	CHECK(strcmp(t, "") == 0 && al == 2);               /* then by alias only */
	send_one(a, "s/t", 2, true, t, &al);
	CHECK(strcmp(t, "s/t") == 0 && al == 2);            /* a resend: full */
	send_one(a, "s/t", 9, false, t, &al);
	CHECK(strcmp(t, "s/t") == 0 && al == 0);            /* over the server's max: dropped */
	mqtt_alias_connected(a, 5);
	send_one(a, "s/t", 2, false, t, &al);
	CHECK(strcmp(t, "s/t") == 0 && al == 2);            /* new connection: topic again */
	struct mqtt_alias_stats st;
	mqtt_alias_stats(a, &st);
	CHECK_EQ_INT(st.out_aliased, 1);
	mqtt_alias_free(a);
}

static void auto_out(void)
{
	struct mqtt_alias *a = mqtt_alias_new(0, true);
	char t[128], name[32];
	uint16_t al;
	mqtt_alias_connected(a, 2);
	send_one(a, "t/1", 0, false, t, &al);
	CHECK(al == 0);                                      /* seen once: no alias */
	send_one(a, "t/1", 0, false, t, &al);
	CHECK(al == 1 && strcmp(t, "t/1") == 0);
	send_one(a, "t/1", 0, false, t, &al);
	CHECK(al == 1 && strcmp(t, "") == 0);
	for (int i = 0; i < 2; i++)
		send_one(a, "t/2", 0, false, t, &al);
	CHECK(al == 2);
	/* a third frequent topic replaces the least recently used (t/1) */
	send_one(a, "t/2", 0, false, t, &al);
	for (int i = 0; i < 2; i++)
		send_one(a, "t/3", 0, false, t, &al);
	CHECK(al == 1 && strcmp(t, "t/3") == 0);
	send_one(a, "t/2", 0, false, t, &al);
	CHECK(al == 2 && strcmp(t, "") == 0);
	/* one-off topics never evict */
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "once/%d", i);
		send_one(a, name, 0, false, t, &al);
		CHECK(al == 0);
	}
	send_one(a, "t/3", 0, false, t, &al);
	CHECK(al == 1 && strcmp(t, "") == 0);
	mqtt_alias_connected(a, 0);                           /* the server allows none */
	send_one(a, "t/3", 0, false, t, &al);
	CHECK(al == 0 && strcmp(t, "t/3") == 0);
	mqtt_alias_free(a);
}

static void user_mapping(void)
{
	struct mqtt_alias *a = mqtt_alias_new(0, false);
	size_t len;
	CHECK(mqtt_alias_user_topic(a, 3, &len) == NULL);
	CHECK(mqtt_alias_user_set(a, 3, (const uint8_t *)"x/y", 3) == 0);
	const char *t = mqtt_alias_user_topic(a, 3, &len);
	CHECK(t && len == 3 && memcmp(t, "x/y", 3) == 0);
	mqtt_alias_connected(a, 10);                          /* the user's choice survives */
	CHECK(mqtt_alias_user_topic(a, 3, &len) != NULL);
	mqtt_alias_free(a);
}

int main(void)
{
	RUN(inbound);
	RUN(explicit_out);
	RUN(auto_out);
	RUN(user_mapping);
	return test_report("alias");
}
