/*
 * test_reason.c - reason code names per packet type and version, and the
 * per-packet validity tables the decoder enforces.
 */
#include "mqtt_codec.h"
#include "test.h"

#define V31 MQTT_V31
#define V4 MQTT_V311
#define V5 MQTT_V5

static void test_reason_names(void)
{
	static const struct { uint8_t ver; int type; uint8_t code; const char *name; } cases[] = {
		{ V4, MQTT_CONNACK, 0, "accepted" },
		{ V31, MQTT_CONNACK, 1, "unacceptable_protocol_version" },
		{ V4, MQTT_CONNACK, 2, "identifier_rejected" },
		{ V4, MQTT_CONNACK, 3, "server_unavailable" },
		{ V4, MQTT_CONNACK, 4, "bad_username_or_password" },
		{ V4, MQTT_CONNACK, 5, "not_authorized" },
		{ V4, MQTT_CONNACK, 6, "unknown" },
		{ V5, MQTT_CONNACK, 0, "success" },
		{ V5, MQTT_CONNACK, 0x87, "not_authorized" },
		{ V5, MQTT_CONNACK, 0x88, "server_unavailable" },
		{ V5, MQTT_DISCONNECT, 0, "normal_disconnection" },
		{ V5, MQTT_DISCONNECT, 0x8E, "session_taken_over" },
		{ V5, MQTT_SUBACK, 0, "granted_qos_0" },
		{ V4, MQTT_SUBACK, 1, "granted_qos_1" },
		{ V5, MQTT_SUBACK, 2, "granted_qos_2" },
		{ V4, MQTT_SUBACK, 0x80, "failure" },
		{ V5, MQTT_SUBACK, 0x80, "unspecified_error" },
		{ V5, MQTT_PUBACK, 0x10, "no_matching_subscribers" },
		{ V5, MQTT_PUBACK, 0x97, "quota_exceeded" },
		{ V5, MQTT_PUBREL, 0x92, "packet_identifier_not_found" },
		{ V5, MQTT_UNSUBACK, 0x11, "no_subscription_existed" },
		{ V5, MQTT_AUTH, 0x18, "continue_authentication" },
		{ V5, MQTT_PUBACK, 0x01, "unknown" },
		{ V5, MQTT_PUBACK, 0xFF, "unknown" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = mqtt_reason_name(cases[i].ver, cases[i].type, cases[i].code);
		if (!got || strcmp(got, cases[i].name) != 0) {
			fprintf(stderr, "  code 0x%02X: %s\n", cases[i].code, got ? got : "(null)");
			CHECK(0);
		}
	}
	for (int c = 0; c < 256; c++)
		for (int t = 0; t <= 16; t++)
			CHECK(mqtt_reason_name(V5, t, (uint8_t)c) != NULL && mqtt_reason_name(V4, t, (uint8_t)c) != NULL);
}

static void test_reason_valid(void)
{
	static const uint8_t puback[] = { 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99 };
	int count = 0;
	for (int c = 0; c < 256; c++)
		count += mqtt_reason_valid(V5, MQTT_PUBACK, (uint8_t)c);
	CHECK_EQ_INT(count, sizeof puback);
	for (size_t i = 0; i < sizeof puback; i++)
		CHECK(mqtt_reason_valid(V5, MQTT_PUBREC, puback[i]));
	CHECK(mqtt_reason_valid(V5, MQTT_PUBCOMP, 0x92));
	CHECK(!mqtt_reason_valid(V5, MQTT_PUBCOMP, 0x80));
	CHECK(mqtt_reason_valid(V5, MQTT_CONNACK, 0x9F));
	CHECK(!mqtt_reason_valid(V5, MQTT_CONNACK, 0x8B));
	CHECK(mqtt_reason_valid(V5, MQTT_DISCONNECT, 0xA2));
	CHECK(!mqtt_reason_valid(V5, MQTT_DISCONNECT, 0x84));
	CHECK(mqtt_reason_valid(V5, MQTT_SUBACK, 0xA1));
	CHECK(!mqtt_reason_valid(V5, MQTT_SUBACK, 0x11));
	CHECK(mqtt_reason_valid(V5, MQTT_UNSUBACK, 0x11));
	CHECK(!mqtt_reason_valid(V5, MQTT_AUTH, 0x80));
	CHECK(mqtt_reason_valid(V4, MQTT_CONNACK, 5));
	CHECK(!mqtt_reason_valid(V4, MQTT_CONNACK, 0x80));
	CHECK(mqtt_reason_valid(V4, MQTT_SUBACK, 0x80));
	CHECK(!mqtt_reason_valid(V4, MQTT_SUBACK, 0x87));
	CHECK(!mqtt_reason_valid(V5, MQTT_PUBLISH, 0));
	CHECK(!mqtt_reason_valid(V5, 99, 0));
}

/* Every code a packet may carry has a real name. */
static void test_valid_codes_are_named(void)
{
	for (int t = MQTT_CONNECT; t <= MQTT_AUTH; t++)
		for (int c = 0; c < 256; c++) {
			if (mqtt_reason_valid(V5, t, (uint8_t)c))
				CHECK(strcmp(mqtt_reason_name(V5, t, (uint8_t)c), "unknown") != 0);
			if (mqtt_reason_valid(V4, t, (uint8_t)c))
				CHECK(strcmp(mqtt_reason_name(V4, t, (uint8_t)c), "unknown") != 0);
		}
}

/* Refusals retrying cannot heal (issue #9: logged at error level). */
static void test_permanent_refusals(void)
{
	CHECK(!mqtt_reason_permanent(V4, 3));          /* server unavailable */
	CHECK(mqtt_reason_permanent(V4, 4));           /* bad user name or password */
	CHECK(mqtt_reason_permanent(V4, 5));           /* not authorized */
	CHECK(mqtt_reason_permanent(V4, 1));
	CHECK(!mqtt_reason_permanent(V5, 0x88));       /* server unavailable */
	CHECK(!mqtt_reason_permanent(V5, 0x89));       /* server busy */
	CHECK(mqtt_reason_permanent(V5, 0x86));
	CHECK(mqtt_reason_permanent(V5, 0x87));
	CHECK(mqtt_reason_permanent(V5, 0x8A));        /* banned */
	CHECK(strcmp(mqtt_reason_name(V4, MQTT_CONNACK, 5), "not_authorized") == 0);
}

int main(void)
{
	RUN(test_reason_names);
	RUN(test_permanent_refusals);
	RUN(test_reason_valid);
	RUN(test_valid_codes_are_named);
	return test_report("reason");
}
