/*
 * mqtt_reason.c - names of MQTT reason / return codes, and which codes each
 * packet type may carry (MQTT 5.0 section 2.4 and the per-packet tables,
 * MQTT 3.1.1 table 3.1 for CONNACK and 3.9.3 for SUBACK).
 */
#include <string.h>

#include "mqtt_codec.h"

static const char *const v5_names[256] = {
	[0x00] = "success",
	[0x04] = "disconnect_with_will_message",
	[0x10] = "no_matching_subscribers",
	[0x11] = "no_subscription_existed",
	[0x18] = "continue_authentication",
	[0x19] = "re_authenticate",
	[0x80] = "unspecified_error",
	[0x81] = "malformed_packet",
	[0x82] = "protocol_error",
	[0x83] = "implementation_specific_error",
	[0x84] = "unsupported_protocol_version",
	[0x85] = "client_identifier_not_valid",
	[0x86] = "bad_user_name_or_password",
	[0x87] = "not_authorized",
	[0x88] = "server_unavailable",
	[0x89] = "server_busy",
	[0x8A] = "banned",
	[0x8B] = "server_shutting_down",
	[0x8C] = "bad_authentication_method",
	[0x8D] = "keep_alive_timeout",
	[0x8E] = "session_taken_over",
	[0x8F] = "topic_filter_invalid",
	[0x90] = "topic_name_invalid",
	[0x91] = "packet_identifier_in_use",
	[0x92] = "packet_identifier_not_found",
	[0x93] = "receive_maximum_exceeded",
	[0x94] = "topic_alias_invalid",
	[0x95] = "packet_too_large",
	[0x96] = "message_rate_too_high",
	[0x97] = "quota_exceeded",
	[0x98] = "administrative_action",
	[0x99] = "payload_format_invalid",
	[0x9A] = "retain_not_supported",
	[0x9B] = "qos_not_supported",
	[0x9C] = "use_another_server",
	[0x9D] = "server_moved",
	[0x9E] = "shared_subscriptions_not_supported",
	[0x9F] = "connection_rate_exceeded",
	[0xA0] = "maximum_connect_time",
	[0xA1] = "subscription_identifiers_not_supported",
	[0xA2] = "wildcard_subscriptions_not_supported",
};

static const char *const v3_connack_names[] = {
	"accepted", "unacceptable_protocol_version", "identifier_rejected",
	"server_unavailable", "bad_username_or_password", "not_authorized",
};

static const char *const granted_names[] = { "granted_qos_0", "granted_qos_1", "granted_qos_2" };

const char *mqtt_reason_name(uint8_t version, int packet_type, uint8_t code)
{
	const char *name;
	if (version < MQTT_V5 && packet_type == MQTT_CONNACK)
		return code < 6 ? v3_connack_names[code] : "unknown";
	if (packet_type == MQTT_SUBACK && code <= 2)
		return granted_names[code];
	if (version < MQTT_V5 && packet_type == MQTT_SUBACK && code == 0x80)
		return "failure";
	if (packet_type == MQTT_DISCONNECT && code == 0)
		return "normal_disconnection";
	name = v5_names[code];
	return name ? name : "unknown";
}

/* Codes each v5 packet type may carry. */
static const uint8_t connack_codes[] = { 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
	0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F };
static const uint8_t puback_codes[] = { 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99 };
static const uint8_t pubrel_codes[] = { 0x00, 0x92 };
static const uint8_t suback_codes[] = { 0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91,
	0x97, 0x9E, 0xA1, 0xA2 };
static const uint8_t unsuback_codes[] = { 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91 };
static const uint8_t disconnect_codes[] = { 0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87,
	0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A,
	0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2 };
static const uint8_t auth_codes[] = { 0x00, 0x18, 0x19 };
static const uint8_t v3_suback_codes[] = { 0x00, 0x01, 0x02, 0x80 };

#define CODES(a) { a, sizeof a }
static const struct { const uint8_t *codes; size_t n; } v5_codes[MQTT_AUTH + 1] = {
	[MQTT_CONNACK] = CODES(connack_codes),
	[MQTT_PUBACK] = CODES(puback_codes),
	[MQTT_PUBREC] = CODES(puback_codes),
	[MQTT_PUBREL] = CODES(pubrel_codes),
	[MQTT_PUBCOMP] = CODES(pubrel_codes),
	[MQTT_SUBACK] = CODES(suback_codes),
	[MQTT_UNSUBACK] = CODES(unsuback_codes),
	[MQTT_DISCONNECT] = CODES(disconnect_codes),
	[MQTT_AUTH] = CODES(auth_codes),
};

bool mqtt_reason_valid(uint8_t version, int packet_type, uint8_t code)
{
	if (packet_type < 0 || packet_type > MQTT_AUTH)
		return false;
	if (version < MQTT_V5) {
		if (packet_type == MQTT_CONNACK)
			return code <= 5;
		if (packet_type == MQTT_SUBACK)
			return memchr(v3_suback_codes, code, sizeof v3_suback_codes) != NULL;
		return false;
	}
	return v5_codes[packet_type].n && memchr(v5_codes[packet_type].codes, code,
		v5_codes[packet_type].n) != NULL;
}

bool mqtt_reason_permanent(uint8_t version, uint8_t code)
{
	static const uint8_t v5_permanent[] = { 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C };
	if (version < MQTT_V5)
		return code == 1 || code == 2 || code == 4 || code == 5;
	return memchr(v5_permanent, code, sizeof v5_permanent) != NULL;
}
