/*
 * mqtt_codec.h - MQTT 3.1, 3.1.1 and 5.0 packets as pure functions over buffers.
 *
 * No sockets, no malloc, no logging. Decoded strings, payloads and property
 * blocks are views ({ptr, len}) into the caller's buffer and live as long as it.
 * Encoders are size-then-serialize: mqtt_encoded_size() then mqtt_encode().
 *
 * Errors: every decoder returns MQTT_OK, MQTT_INCOMPLETE (need more bytes),
 * MQTT_MALFORMED (the peer broke the protocol: close the connection) or
 * MQTT_TOO_BIG (the packet is larger than the caller's limit).
 */
#ifndef LIA_MQTT_CODEC_H
#define LIA_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol levels as they appear in CONNECT. */
enum mqtt_version { MQTT_V31 = 3, MQTT_V311 = 4, MQTT_V5 = 5 };

enum mqtt_type {
	MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC,
	MQTT_PUBREL, MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE,
	MQTT_UNSUBACK, MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT, MQTT_AUTH
};

/* Codec results, one X-macro list so names and values never drift apart. */
#define MQTT_RESULT_LIST(X) \
	X(MQTT_OK, 0, "ok") \
	X(MQTT_INCOMPLETE, -1, "incomplete packet") \
	X(MQTT_MALFORMED, -2, "malformed packet") \
	X(MQTT_TOO_BIG, -3, "packet too big") \
	X(MQTT_NOSPACE, -4, "buffer too small")
enum mqtt_result {
#define MQTT_X_ENUM(name, value, text) name = value,
	MQTT_RESULT_LIST(MQTT_X_ENUM)
#undef MQTT_X_ENUM
};
const char *mqtt_result_name(int result);

/* Largest remaining length a 4-byte varint can carry (268 435 455). */
#define MQTT_MAX_REMAINING 268435455u
#define MQTT_MAX_VARINT 268435455u

/* A view into a buffer. ptr == NULL means "absent" (distinct from empty). */
struct mqtt_str {
	const uint8_t *ptr;
	size_t len;
};

/* MQTT 5 property identifiers. */
#define MQTT_PROP_LIST(X) \
	X(PAYLOAD_FORMAT_INDICATOR, 0x01, BYTE) \
	X(MESSAGE_EXPIRY_INTERVAL, 0x02, U32) \
	X(CONTENT_TYPE, 0x03, STRING) \
	X(RESPONSE_TOPIC, 0x08, STRING) \
	X(CORRELATION_DATA, 0x09, BINARY) \
	X(SUBSCRIPTION_IDENTIFIER, 0x0B, VARINT) \
	X(SESSION_EXPIRY_INTERVAL, 0x11, U32) \
	X(ASSIGNED_CLIENT_IDENTIFIER, 0x12, STRING) \
	X(SERVER_KEEP_ALIVE, 0x13, U16) \
	X(AUTHENTICATION_METHOD, 0x15, STRING) \
	X(AUTHENTICATION_DATA, 0x16, BINARY) \
	X(REQUEST_PROBLEM_INFORMATION, 0x17, BYTE) \
	X(WILL_DELAY_INTERVAL, 0x18, U32) \
	X(REQUEST_RESPONSE_INFORMATION, 0x19, BYTE) \
	X(RESPONSE_INFORMATION, 0x1A, STRING) \
	X(SERVER_REFERENCE, 0x1C, STRING) \
	X(REASON_STRING, 0x1F, STRING) \
	X(RECEIVE_MAXIMUM, 0x21, U16) \
	X(TOPIC_ALIAS_MAXIMUM, 0x22, U16) \
	X(TOPIC_ALIAS, 0x23, U16) \
	X(MAXIMUM_QOS, 0x24, BYTE) \
	X(RETAIN_AVAILABLE, 0x25, BYTE) \
	X(USER_PROPERTY, 0x26, PAIR) \
	X(MAXIMUM_PACKET_SIZE, 0x27, U32) \
	X(WILDCARD_SUBSCRIPTION_AVAILABLE, 0x28, BYTE) \
	X(SUBSCRIPTION_IDENTIFIER_AVAILABLE, 0x29, BYTE) \
	X(SHARED_SUBSCRIPTION_AVAILABLE, 0x2A, BYTE)

enum mqtt_prop_id {
#define MQTT_X_PROP(name, id, kind) MQTT_PROP_##name = id,
	MQTT_PROP_LIST(MQTT_X_PROP)
#undef MQTT_X_PROP
};

enum mqtt_prop_kind { MQTT_PK_BYTE, MQTT_PK_U16, MQTT_PK_U32, MQTT_PK_VARINT,
	MQTT_PK_STRING, MQTT_PK_BINARY, MQTT_PK_PAIR };

/* One property. Integer kinds use .num; STRING/BINARY use .str; PAIR uses
 * .str (name) and .val (value). */
struct mqtt_prop {
	uint8_t id;
	uint32_t num;
	struct mqtt_str str;
	struct mqtt_str val;
};

/* Kind of a property id, or -1 when the id is unknown. Lower-case name
 * ("receive_maximum") for logs and the Lua binding, NULL when unknown. */
int mqtt_prop_kind(uint8_t id);
const char *mqtt_prop_name(uint8_t id);
/* Reverse lookup of mqtt_prop_name; 0 when unknown. */
uint8_t mqtt_prop_id_by_name(const char *name);

/*
 * Property blocks are kept encoded (without their length prefix) in packets:
 * the decoder validates the whole block for the packet type (known ids, the
 * right kind, allowed in this packet, no duplicates except USER_PROPERTY and,
 * in PUBLISH, SUBSCRIPTION_IDENTIFIER; UTF-8 strings valid; values in range
 * such as RECEIVE_MAXIMUM != 0, MAXIMUM_PACKET_SIZE != 0, byte flags 0/1,
 * SUBSCRIPTION_IDENTIFIER != 0) so consumers can iterate without checks.
 * "Packet type" for will properties is the pseudo type MQTT_PROPS_WILL.
 */
#define MQTT_PROPS_WILL 0x100
int mqtt_props_validate(int packet_type, const uint8_t *p, size_t len);
/* May property id appear in this packet type (or MQTT_PROPS_WILL)? */
bool mqtt_prop_allowed(int packet_type, uint8_t id);

/* Iterate over a validated block: *off starts at 0; returns 1 and fills *out
 * while there is a property, 0 at the end, MQTT_MALFORMED on bad bytes. */
int mqtt_props_next(struct mqtt_str block, size_t *off, struct mqtt_prop *out);
/* Find the first property with this id; returns 1 found, 0 not. */
int mqtt_props_find(struct mqtt_str block, uint8_t id, struct mqtt_prop *out);

/* Encode an array of properties into an encoded block (no length prefix).
 * Returns the block size; writes only when buf != NULL and cap is enough
 * (returns MQTT_NOSPACE otherwise). MQTT_MALFORMED for an unknown id. */
long mqtt_props_encode(const struct mqtt_prop *props, size_t n, uint8_t *buf, size_t cap);

/* ---- packets ---- */

struct mqtt_will {
	struct mqtt_str topic, payload, props;
	uint8_t qos;
	bool retain;
};

struct mqtt_connect {
	uint8_t version;        /* enum mqtt_version */
	bool clean;             /* clean session (3.x) / clean start (5) */
	uint16_t keepalive;     /* seconds */
	struct mqtt_str client_id;
	struct mqtt_str username;  /* ptr NULL: absent */
	struct mqtt_str password;  /* ptr NULL: absent */
	struct mqtt_str props;     /* v5 only */
	bool has_will;
	struct mqtt_will will;
};

struct mqtt_connack {
	bool session_present;
	uint8_t reason;         /* 3.x return code or v5 reason code */
	struct mqtt_str props;
};

struct mqtt_publish {
	uint8_t qos;
	bool dup, retain;
	uint16_t packet_id;     /* 0 for QoS 0 */
	struct mqtt_str topic;  /* may be empty in v5 when a TOPIC_ALIAS is set */
	struct mqtt_str props;
	struct mqtt_str payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. In v5 reason/props are optional on the
 * wire; the decoder fills reason 0 and empty props when absent and the
 * encoder omits them when reason == 0 and props are empty. */
struct mqtt_ack {
	uint16_t packet_id;
	uint8_t reason;
	struct mqtt_str props;
};

/* Subscription options byte: QoS in bits 0-1; v5 adds no-local (bit 2),
 * retain-as-published (bit 3), retain handling (bits 4-5). */
#define MQTT_SUB_NO_LOCAL 0x04
#define MQTT_SUB_RAP 0x08
#define MQTT_SUB_RH_SHIFT 4

struct mqtt_sub_item {
	struct mqtt_str filter;
	uint8_t options;
};

/* SUBSCRIBE / UNSUBSCRIBE. For encoding, items/filters point to arrays of
 * count entries. For decoding (tests, fake brokers) the arrays are NULL and
 * list is a view of the payload, walked with mqtt_sub_next/mqtt_unsub_next. */
struct mqtt_subscribe {
	uint16_t packet_id;
	struct mqtt_str props;
	const struct mqtt_sub_item *items;
	size_t count;
	struct mqtt_str list;
};
struct mqtt_unsubscribe {
	uint16_t packet_id;
	struct mqtt_str props;
	const struct mqtt_str *filters;
	size_t count;
	struct mqtt_str list;
};
int mqtt_sub_next(struct mqtt_str list, size_t *off, struct mqtt_sub_item *out);
int mqtt_unsub_next(struct mqtt_str list, size_t *off, struct mqtt_str *out);

/* SUBACK / UNSUBACK: one reason code per filter, as a view (codes.len
 * entries). UNSUBACK in 3.x has no codes (codes.len == 0). */
struct mqtt_suback {
	uint16_t packet_id;
	struct mqtt_str props;
	struct mqtt_str codes;
};

/* DISCONNECT and AUTH (v5: reason + props, both optional on the wire). */
struct mqtt_disconnect {
	uint8_t reason;
	struct mqtt_str props;
};

struct mqtt_packet {
	uint8_t type;           /* enum mqtt_type */
	uint8_t flags;          /* low nibble of the first byte, as received */
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_ack ack;            /* PUBACK PUBREC PUBREL PUBCOMP */
		struct mqtt_subscribe subscribe;
		struct mqtt_suback suback;      /* SUBACK UNSUBACK */
		struct mqtt_unsubscribe unsubscribe;
		struct mqtt_disconnect disconnect; /* DISCONNECT AUTH */
	} u;
};

/*
 * Fixed header: on MQTT_OK *first is the first byte, *remaining the
 * remaining length and *header_len the bytes of the fixed header (2..5).
 * A fifth length byte with continuation, or a non-minimal encoding is
 * MALFORMED only where the spec requires; more than 4 length bytes always.
 */
int mqtt_decode_fixed_header(const uint8_t *buf, size_t len, uint8_t *first,
	uint32_t *remaining, size_t *header_len);

/*
 * Decode one whole packet from buf. version: the protocol level in use (it
 * changes the layout of most packets). max_size: largest total packet size
 * accepted (0 = protocol maximum); larger gives MQTT_TOO_BIG before any byte
 * of the body is looked at. On MQTT_OK *consumed is the packet's total size.
 * Checks everything the receiver must check: fixed-header flags per type,
 * QoS 3, lengths that run past the packet, trailing bytes, UTF-8 strings,
 * reason codes valid for the packet and version, properties (see above),
 * packet id != 0 where one is required.
 */
int mqtt_decode(const uint8_t *buf, size_t len, uint8_t version, uint32_t max_size,
	struct mqtt_packet *out, size_t *consumed);

/* Total encoded size of p (fixed header included) for this version, or 0 when
 * p cannot be encoded (remaining length over the maximum, string over 65535,
 * QoS out of range). */
size_t mqtt_encoded_size(const struct mqtt_packet *p, uint8_t version);
/* Serialize p into buf; returns bytes written, 0 when cap is too small or p
 * cannot be encoded. */
size_t mqtt_encode(const struct mqtt_packet *p, uint8_t version, uint8_t *buf, size_t cap);

/* Variable byte integer helpers (exposed for tests and the session). */
size_t mqtt_varint_size(uint32_t v);            /* 1..4, 0 if v > max */
size_t mqtt_varint_encode(uint32_t v, uint8_t *out); /* out >= 4 bytes */

/* ---- reason codes ---- */

/* Name of a v5 reason code in the context of a packet type ("success",
 * "granted_qos_1", "no_matching_subscribers", "not_authorized"...), or of a
 * 3.x CONNACK return code when version < 5. Never NULL. */
const char *mqtt_reason_name(uint8_t version, int packet_type, uint8_t code);
/* May a packet of this type carry this code in this version? (v5 tables per
 * packet; 3.x: CONNACK 0-5, SUBACK 0, 1, 2, 0x80; other 3.x packets carry no
 * code, so false.) mqtt_decode rejects invalid codes as MQTT_MALFORMED, except
 * in v5 UNSUBACK, whose codes it passes through (see mqtt_codec.c). */
bool mqtt_reason_valid(uint8_t version, int packet_type, uint8_t code);
/* A CONNACK refusal that retrying cannot heal: bad protocol version,
 * identifier rejected, bad credentials, not authorized, banned, bad
 * authentication method. */
bool mqtt_reason_permanent(uint8_t version, uint8_t connack_code);

/* ---- UTF-8 and topics ---- */

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and no U+0000. */
bool mqtt_utf8_valid(const uint8_t *s, size_t len);
/* A topic name for PUBLISH: valid UTF-8, 1..65535 bytes, no '+' or '#'. */
bool mqtt_topic_name_valid(const uint8_t *s, size_t len);
/* A topic filter: valid UTF-8, 1..65535 bytes, '+' alone in its level, '#'
 * alone in the last level. */
bool mqtt_topic_filter_valid(const uint8_t *s, size_t len);
/* Does the filter match the topic name? Wildcards at the first level do not
 * match topics starting with '$' [MQTT-4.7.2-1]. Shared subscriptions
 * ("$share/group/filter") match as their filter part. */
bool mqtt_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
