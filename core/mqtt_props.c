/*
 * mqtt_props.c - MQTT 5 properties: names, the per-packet rules of the spec's
 * table 2.2.2.2, validation, iteration and encoding of property blocks.
 */
#include <string.h>

#include "mqtt_codec.h"
#include "mqtt_cursor.h"

/* Packet types (and the will pseudo type) as bits of an "allowed in" mask. */
#define IN(t) (1u << (t))
#define IN_WILL (1u << 16)
#define IN_ACKS (IN(MQTT_PUBACK) | IN(MQTT_PUBREC) | IN(MQTT_PUBREL) | IN(MQTT_PUBCOMP))
#define IN_MSG (IN(MQTT_PUBLISH) | IN_WILL)
#define IN_ALL ((0xFFFEu & ~(IN(MQTT_PINGREQ) | IN(MQTT_PINGRESP))) | IN_WILL)
#define MAX_PROP_ID 0x2A

struct prop_info {
	const char *name;   /* NULL: no such property */
	uint32_t allowed;
};

/* Names are the X-macro names in lower case (a unit test checks that). */
static const struct prop_info props_info[MAX_PROP_ID + 1] = {
	[0x01] = { "payload_format_indicator", IN_MSG },
	[0x02] = { "message_expiry_interval", IN_MSG },
	[0x03] = { "content_type", IN_MSG },
	[0x08] = { "response_topic", IN_MSG },
	[0x09] = { "correlation_data", IN_MSG },
	[0x0B] = { "subscription_identifier", IN(MQTT_PUBLISH) | IN(MQTT_SUBSCRIBE) },
	[0x11] = { "session_expiry_interval", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_DISCONNECT) },
	[0x12] = { "assigned_client_identifier", IN(MQTT_CONNACK) },
	[0x13] = { "server_keep_alive", IN(MQTT_CONNACK) },
	[0x15] = { "authentication_method", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_AUTH) },
	[0x16] = { "authentication_data", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) | IN(MQTT_AUTH) },
	[0x17] = { "request_problem_information", IN(MQTT_CONNECT) },
	[0x18] = { "will_delay_interval", IN_WILL },
	[0x19] = { "request_response_information", IN(MQTT_CONNECT) },
	[0x1A] = { "response_information", IN(MQTT_CONNACK) },
	[0x1C] = { "server_reference", IN(MQTT_CONNACK) | IN(MQTT_DISCONNECT) },
	[0x1F] = { "reason_string", IN(MQTT_CONNACK) | IN_ACKS | IN(MQTT_SUBACK) |
		IN(MQTT_UNSUBACK) | IN(MQTT_DISCONNECT) | IN(MQTT_AUTH) },
	[0x21] = { "receive_maximum", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) },
	[0x22] = { "topic_alias_maximum", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) },
	[0x23] = { "topic_alias", IN(MQTT_PUBLISH) },
	[0x24] = { "maximum_qos", IN(MQTT_CONNACK) },
	[0x25] = { "retain_available", IN(MQTT_CONNACK) },
	[0x26] = { "user_property", IN_ALL },
	[0x27] = { "maximum_packet_size", IN(MQTT_CONNECT) | IN(MQTT_CONNACK) },
	[0x28] = { "wildcard_subscription_available", IN(MQTT_CONNACK) },
	[0x29] = { "subscription_identifier_available", IN(MQTT_CONNACK) },
	[0x2A] = { "shared_subscription_available", IN(MQTT_CONNACK) },
};

static const struct { const char *alias; uint8_t id; } prop_aliases[] = {
	{ "payload_format", MQTT_PROP_PAYLOAD_FORMAT_INDICATOR },
	{ "message_expiry", MQTT_PROP_MESSAGE_EXPIRY_INTERVAL },
	{ "session_expiry", MQTT_PROP_SESSION_EXPIRY_INTERVAL },
	{ "will_delay", MQTT_PROP_WILL_DELAY_INTERVAL },
	{ "subscription_id", MQTT_PROP_SUBSCRIPTION_IDENTIFIER },
	{ "user", MQTT_PROP_USER_PROPERTY },
};

int mqtt_prop_kind(uint8_t id)
{
	switch (id) {
#define MQTT_X_KIND(name, pid, kind) case pid: return MQTT_PK_##kind;
	MQTT_PROP_LIST(MQTT_X_KIND)
#undef MQTT_X_KIND
	default: return -1;
	}
}

const char *mqtt_prop_name(uint8_t id)
{
	return id <= MAX_PROP_ID ? props_info[id].name : NULL;
}

uint8_t mqtt_prop_id_by_name(const char *name)
{
	if (!name)
		return 0;
	for (uint8_t id = 1; id <= MAX_PROP_ID; id++)
		if (props_info[id].name && strcmp(props_info[id].name, name) == 0)
			return id;
	for (size_t i = 0; i < sizeof prop_aliases / sizeof prop_aliases[0]; i++)
		if (strcmp(prop_aliases[i].alias, name) == 0)
			return prop_aliases[i].id;
	return 0;
}

/* Read the value of one property of a known kind. */
static int read_value(struct mqtt_cursor *c, int kind, struct mqtt_prop *out)
{
	uint8_t b;
	uint16_t h;
	switch (kind) {
	case MQTT_PK_BYTE:
		if (mqtt_cur_u8(c, &b) != MQTT_OK)
			return MQTT_MALFORMED;
		out->num = b;
		return MQTT_OK;
	case MQTT_PK_U16:
		if (mqtt_cur_u16(c, &h) != MQTT_OK)
			return MQTT_MALFORMED;
		out->num = h;
		return MQTT_OK;
	case MQTT_PK_U32: return mqtt_cur_u32(c, &out->num);
	case MQTT_PK_VARINT: return mqtt_cur_varint(c, &out->num);
	case MQTT_PK_BINARY: return mqtt_cur_bin(c, &out->str);
	case MQTT_PK_STRING: return mqtt_cur_utf8(c, &out->str);
	default:
		if (mqtt_cur_utf8(c, &out->str) != MQTT_OK)
			return MQTT_MALFORMED;
		return mqtt_cur_utf8(c, &out->val);
	}
}

/* The identifier is a variable byte integer on the wire, but every defined
 * one is below 0x80: a first byte with the continuation bit names an unknown
 * property (or a non-minimal encoding of a known one) - malformed either way. */
int mqtt_props_next(struct mqtt_str block, size_t *off, struct mqtt_prop *out)
{
	struct mqtt_cursor c;
	if (*off > block.len)
		return MQTT_MALFORMED;
	if (*off == block.len)
		return 0;
	c = (struct mqtt_cursor){ block.ptr + *off, block.len - *off };
	memset(out, 0, sizeof *out);
	if (mqtt_cur_u8(&c, &out->id) != MQTT_OK)
		return MQTT_MALFORMED;
	int kind = mqtt_prop_kind(out->id);
	if (kind < 0 || read_value(&c, kind, out) != MQTT_OK)
		return MQTT_MALFORMED;
	*off = block.len - c.left;
	return 1;
}

int mqtt_props_find(struct mqtt_str block, uint8_t id, struct mqtt_prop *out)
{
	size_t off = 0;
	struct mqtt_prop p;
	while (mqtt_props_next(block, &off, &p) == 1) {
		if (p.id == id) {
			*out = p;
			return 1;
		}
	}
	return 0;
}

/* Value rules: byte properties are all booleans (MAXIMUM_QOS 0/1 too), the
 * listed integers must not be 0, a response topic is a topic name
 * [MQTT-3.3.2-14]. */
static bool value_valid(const struct mqtt_prop *p)
{
	switch (p->id) {
	case MQTT_PROP_RECEIVE_MAXIMUM:
	case MQTT_PROP_MAXIMUM_PACKET_SIZE:
	case MQTT_PROP_TOPIC_ALIAS:
	case MQTT_PROP_SUBSCRIPTION_IDENTIFIER:
		return p->num != 0;
	case MQTT_PROP_RESPONSE_TOPIC:
		return mqtt_topic_name_valid(p->str.ptr, p->str.len);
	default:
		return mqtt_prop_kind(p->id) != MQTT_PK_BYTE || p->num <= 1;
	}
}

static bool repeat_allowed(int packet_type, uint8_t id)
{
	return id == MQTT_PROP_USER_PROPERTY ||
		(id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER && packet_type == MQTT_PUBLISH);
}

static uint32_t type_bit(int packet_type)
{
	if (packet_type == MQTT_PROPS_WILL)
		return IN_WILL;
	return packet_type >= MQTT_CONNECT && packet_type <= MQTT_AUTH ? IN(packet_type) : 0;
}

bool mqtt_prop_allowed(int packet_type, uint8_t id)
{
	return id <= MAX_PROP_ID && (props_info[id].allowed & type_bit(packet_type));
}

int mqtt_props_validate(int packet_type, const uint8_t *p, size_t len)
{
	struct mqtt_str block = { p, len };
	struct mqtt_prop pr;
	uint64_t seen = 0;
	size_t off = 0;
	int r;
	while ((r = mqtt_props_next(block, &off, &pr)) == 1) {
		uint64_t bit = (uint64_t)1 << pr.id;
		if (!(props_info[pr.id].allowed & type_bit(packet_type)) || !value_valid(&pr))
			return MQTT_MALFORMED;
		if ((seen & bit) && !repeat_allowed(packet_type, pr.id))
			return MQTT_MALFORMED;
		seen |= bit;
	}
	if (r < 0)
		return MQTT_MALFORMED;
	/* "It is a Protocol Error to include Authentication Data if there is no
	 * Authentication Method" (3.1.2.11.10). Only CONNECT: the corpus case
	 * "20 with authentication-data (binary data)" accepts it in CONNACK. */
	if (packet_type == MQTT_CONNECT && (seen >> MQTT_PROP_AUTHENTICATION_DATA & 1) &&
			!(seen >> MQTT_PROP_AUTHENTICATION_METHOD & 1))
		return MQTT_MALFORMED;
	return MQTT_OK;
}

/* Serialize one property; integer values must fit their kind. */
static void write_prop(struct mqtt_writer *w, const struct mqtt_prop *p)
{
	int kind = mqtt_prop_kind(p->id);
	static const uint32_t max_num[] = { [MQTT_PK_BYTE] = 0xFF, [MQTT_PK_U16] = 0xFFFF,
		[MQTT_PK_U32] = 0xFFFFFFFFu, [MQTT_PK_VARINT] = MQTT_MAX_VARINT };
	if (kind < 0 || (kind <= MQTT_PK_VARINT && p->num > max_num[kind])) {
		w->bad = true;
		return;
	}
	mqtt_wr_u8(w, p->id);
	switch (kind) {
	case MQTT_PK_BYTE: mqtt_wr_u8(w, (uint8_t)p->num); break;
	case MQTT_PK_U16: mqtt_wr_u16(w, (uint16_t)p->num); break;
	case MQTT_PK_U32: mqtt_wr_u32(w, p->num); break;
	case MQTT_PK_VARINT: mqtt_wr_varint(w, p->num); break;
	case MQTT_PK_STRING:
	case MQTT_PK_BINARY: mqtt_wr_bin(w, p->str); break;
	default:
		mqtt_wr_bin(w, p->str);
		mqtt_wr_bin(w, p->val);
	}
}

long mqtt_props_encode(const struct mqtt_prop *props, size_t n, uint8_t *buf, size_t cap)
{
	struct mqtt_writer w = { 0 };
	for (size_t i = 0; i < n && !w.bad; i++)
		write_prop(&w, &props[i]);
	if (w.bad || w.len > MQTT_MAX_VARINT)
		return MQTT_MALFORMED;
	if (!buf)
		return (long)w.len;
	if (cap < w.len)
		return MQTT_NOSPACE;
	size_t size = w.len;
	w = (struct mqtt_writer){ .p = buf };
	for (size_t i = 0; i < n; i++)
		write_prop(&w, &props[i]);
	return (long)size;
}
