/*
 * test_props.c - MQTT 5 properties: names and kinds from the X-macro list,
 * the spec's per-packet table 2.2.2.2, duplicates, value ranges, malformed
 * blocks, iteration, and encoding to exact bytes.
 */
#include <ctype.h>
#include <stdlib.h>

#include "mqtt_codec.h"
#include "test.h"

#define B(lit) (const uint8_t *)(lit), sizeof(lit) - 1
#define WILL MQTT_PROPS_WILL

static void test_names_follow_the_list(void)
{
	static const struct { const char *upper; uint8_t id; int kind; } list[] = {
#define MQTT_X_ROW(name, id, kind) { #name, id, MQTT_PK_##kind },
		MQTT_PROP_LIST(MQTT_X_ROW)
#undef MQTT_X_ROW
	};
	int known = 0;
	for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
		char lower[64];
		size_t k = 0;
		for (; list[i].upper[k] && k < sizeof lower - 1; k++)
			lower[k] = (char)tolower((unsigned char)list[i].upper[k]);
		lower[k] = 0;
		const char *name = mqtt_prop_name(list[i].id);
		CHECK(name && strcmp(name, lower) == 0);
		CHECK_EQ_INT(mqtt_prop_kind(list[i].id), list[i].kind);
		CHECK_EQ_INT(mqtt_prop_id_by_name(lower), list[i].id);
	}
	for (int id = 0; id < 256; id++) {
		CHECK((mqtt_prop_name((uint8_t)id) != NULL) == (mqtt_prop_kind((uint8_t)id) >= 0));
		known += mqtt_prop_kind((uint8_t)id) >= 0;
	}
	CHECK_EQ_INT(known, sizeof list / sizeof list[0]);
}

static void test_name_aliases(void)
{
	CHECK_EQ_INT(mqtt_prop_id_by_name("payload_format"), MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
	CHECK_EQ_INT(mqtt_prop_id_by_name("message_expiry"), MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
	CHECK_EQ_INT(mqtt_prop_id_by_name("session_expiry"), MQTT_PROP_SESSION_EXPIRY_INTERVAL);
	CHECK_EQ_INT(mqtt_prop_id_by_name("will_delay"), MQTT_PROP_WILL_DELAY_INTERVAL);
	CHECK_EQ_INT(mqtt_prop_id_by_name("subscription_id"), MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
	CHECK_EQ_INT(mqtt_prop_id_by_name("user"), MQTT_PROP_USER_PROPERTY);
	CHECK_EQ_INT(mqtt_prop_id_by_name("receive_maximum"), MQTT_PROP_RECEIVE_MAXIMUM);
	CHECK_EQ_INT(mqtt_prop_id_by_name("nope"), 0);
	CHECK_EQ_INT(mqtt_prop_id_by_name(""), 0);
	CHECK_EQ_INT(mqtt_prop_id_by_name("RECEIVE_MAXIMUM"), 0);
	CHECK_EQ_INT(mqtt_prop_id_by_name(NULL), 0);
	CHECK(mqtt_prop_name(0x00) == NULL);
	CHECK(mqtt_prop_name(0x04) == NULL);
	CHECK(mqtt_prop_name(0xFF) == NULL);
}

/* Spec table 2.2.2.2: for each property, the packets it may appear in. */
static const struct { uint8_t id; const char *value; int in[15]; } table[] = {
	{ 0x01, "\x01", { MQTT_PUBLISH, WILL } },
	{ 0x02, "\0\0\0\x01", { MQTT_PUBLISH, WILL } },
	{ 0x03, "\0\x01p", { MQTT_PUBLISH, WILL } },
	{ 0x08, "\0\x01p", { MQTT_PUBLISH, WILL } },
	{ 0x09, "\0\x01p", { MQTT_PUBLISH, WILL } },
	{ 0x0B, "\x01", { MQTT_PUBLISH, MQTT_SUBSCRIBE } },
	{ 0x11, "\0\0\0\x01", { MQTT_CONNECT, MQTT_CONNACK, MQTT_DISCONNECT } },
	{ 0x12, "\0\x01p", { MQTT_CONNACK } },
	{ 0x13, "\0\x01", { MQTT_CONNACK } },
	{ 0x15, "\0\x01p", { MQTT_CONNECT, MQTT_CONNACK, MQTT_AUTH } },
	{ 0x17, "\x01", { MQTT_CONNECT } },
	{ 0x18, "\0\0\0\x01", { WILL } },
	{ 0x19, "\x01", { MQTT_CONNECT } },
	{ 0x1A, "\0\x01p", { MQTT_CONNACK } },
	{ 0x1C, "\0\x01p", { MQTT_CONNACK, MQTT_DISCONNECT } },
	{ 0x1F, "\0\x01p", { MQTT_CONNACK, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP,
		MQTT_SUBACK, MQTT_UNSUBACK, MQTT_DISCONNECT, MQTT_AUTH } },
	{ 0x21, "\0\x01", { MQTT_CONNECT, MQTT_CONNACK } },
	{ 0x22, "\0\x01", { MQTT_CONNECT, MQTT_CONNACK } },
	{ 0x23, "\0\x01", { MQTT_PUBLISH } },
	{ 0x24, "\x01", { MQTT_CONNACK } },
	{ 0x25, "\x01", { MQTT_CONNACK } },
	{ 0x26, "\0\x01k\0\x01v", { MQTT_CONNECT, MQTT_CONNACK, MQTT_PUBLISH, WILL, MQTT_PUBACK,
		MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE,
		MQTT_UNSUBACK, MQTT_DISCONNECT, MQTT_AUTH } },
	{ 0x27, "\0\0\0\x01", { MQTT_CONNECT, MQTT_CONNACK } },
	{ 0x28, "\x01", { MQTT_CONNACK } },
	{ 0x29, "\x01", { MQTT_CONNACK } },
	{ 0x2A, "\x01", { MQTT_CONNACK } },
};

static size_t value_len(int kind)
{
	static const size_t lens[] = { [MQTT_PK_BYTE] = 1, [MQTT_PK_U16] = 2, [MQTT_PK_U32] = 4,
		[MQTT_PK_VARINT] = 1, [MQTT_PK_STRING] = 3, [MQTT_PK_BINARY] = 3, [MQTT_PK_PAIR] = 6 };
	return lens[kind];
}

static void test_allowed_per_packet(void)
{
	static const int types[] = { MQTT_CONNECT, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK,
		MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE,
		MQTT_UNSUBACK, MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT, MQTT_AUTH, WILL };
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		uint8_t block[16];
		size_t n = value_len(mqtt_prop_kind(table[i].id));
		block[0] = table[i].id;
		memcpy(block + 1, table[i].value, n);
		for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
			bool want = false;
			for (size_t k = 0; k < 15 && table[i].in[k]; k++)
				want |= table[i].in[k] == types[t];
			int r = mqtt_props_validate(types[t], block, n + 1);
			if (r != (want ? MQTT_OK : MQTT_MALFORMED))
				fprintf(stderr, "  property 0x%02X in type %d: %d\n", table[i].id, types[t], r);
			CHECK_EQ_INT(r, want ? MQTT_OK : MQTT_MALFORMED);
		}
	}
	/* authentication data alone: allowed in CONNACK and AUTH, needs a method in CONNECT */
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNACK, B("\x16\0\x01p")), MQTT_OK);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNECT, B("\x16\0\x01p")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNECT, B("\x16\0\x01p\x15\0\x01m")), MQTT_OK);
	CHECK_EQ_INT(mqtt_props_validate(0, B("\x26\0\0\0\0")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNECT, NULL, 0), MQTT_OK);
}

static void test_duplicates(void)
{
	CHECK_EQ_INT(mqtt_props_validate(MQTT_PUBACK, B("\x26\0\x01k\0\x01v\x26\0\x01k\0\x01v")), MQTT_OK);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_PUBLISH, B("\x0B\x01\x0B\x02")), MQTT_OK);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_SUBSCRIBE, B("\x0B\x01\x0B\x02")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_PUBACK, B("\x1F\0\x01p\x1F\0\x01q")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNACK, B("\x21\0\x01\x22\0\x01\x21\0\x02")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(WILL, B("\x18\0\0\0\0\x18\0\0\0\0")), MQTT_MALFORMED);
}

static void test_value_ranges(void)
{
	static const struct { int type; const char *block; size_t len; int r; } cases[] = {
		{ MQTT_CONNACK, "\x21\0\0", 3, MQTT_MALFORMED },            /* receive maximum 0 */
		{ MQTT_CONNACK, "\x21\xFF\xFF", 3, MQTT_OK },
		{ MQTT_CONNACK, "\x27\0\0\0\0", 5, MQTT_MALFORMED },        /* maximum packet size 0 */
		{ MQTT_CONNACK, "\x27\xFF\xFF\xFF\xFF", 5, MQTT_OK },
		{ MQTT_CONNACK, "\x24\x00", 2, MQTT_OK },
		{ MQTT_CONNACK, "\x24\x01", 2, MQTT_OK },
		{ MQTT_CONNACK, "\x24\x02", 2, MQTT_MALFORMED },            /* maximum QoS 2 */
		{ MQTT_CONNACK, "\x25\x02", 2, MQTT_MALFORMED },
		{ MQTT_CONNACK, "\x28\x02", 2, MQTT_MALFORMED },
		{ MQTT_CONNACK, "\x29\xFF", 2, MQTT_MALFORMED },
		{ MQTT_CONNACK, "\x2A\x02", 2, MQTT_MALFORMED },
		{ MQTT_CONNACK, "\x22\0\0", 3, MQTT_OK },                   /* topic alias maximum 0 */
		{ MQTT_CONNECT, "\x17\x02", 2, MQTT_MALFORMED },
		{ MQTT_CONNECT, "\x19\x02", 2, MQTT_MALFORMED },
		{ MQTT_PUBLISH, "\x01\x02", 2, MQTT_MALFORMED },            /* payload format 2 */
		{ MQTT_PUBLISH, "\x23\0\0", 3, MQTT_MALFORMED },            /* topic alias 0 */
		{ MQTT_PUBLISH, "\x0B\x00", 2, MQTT_MALFORMED },            /* subscription id 0 */
		{ MQTT_PUBLISH, "\x0B\xFF\xFF\xFF\x7F", 5, MQTT_OK },
		{ MQTT_PUBLISH, "\x0B\xFF\xFF\xFF\xFF\x01", 6, MQTT_MALFORMED }, /* 5-byte varint */
		{ MQTT_PUBLISH, "\x0B\x81\x00", 3, MQTT_MALFORMED },        /* non-minimal */
		{ MQTT_PUBLISH, "\x08\0\x03" "a/b", 6, MQTT_OK },
		{ MQTT_PUBLISH, "\x08\0\x03" "a/+", 6, MQTT_MALFORMED },       /* response topic wildcard */
		{ MQTT_PUBLISH, "\x08\0\0", 3, MQTT_MALFORMED },            /* empty response topic */
		{ MQTT_PUBLISH, "\x03\0\x02\xC0\x80", 5, MQTT_MALFORMED },  /* content type overlong */
		{ MQTT_PUBLISH, "\x03\0\x01\0", 4, MQTT_MALFORMED },        /* content type U+0000 */
		{ MQTT_PUBLISH, "\x09\0\x02\xC0\x80", 5, MQTT_OK },         /* binary: any bytes */
		{ MQTT_PUBACK, "\x26\0\x01k\0\x03\xED\xA0\x80", 9, MQTT_MALFORMED }, /* surrogate value */
		{ MQTT_PUBACK, "\x26\0\0\0\0", 5, MQTT_OK },                /* empty key, value */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = mqtt_props_validate(cases[i].type, (const uint8_t *)cases[i].block, cases[i].len);
		if (r != cases[i].r)
			fprintf(stderr, "  case %zu: %d\n", i, r);
		CHECK_EQ_INT(r, cases[i].r);
	}
}

/* Blocks that end inside a property (corpus "... missing" cases), each
 * copied to an exact-size heap buffer so ASan sees any overread. */
static void test_truncated_blocks(void)
{
	static const struct { const char *b; size_t len; } cut[] = {
		{ "\x11", 1 }, { "\x11\0\0\0", 4 }, { "\x21\0", 2 }, { "\x24", 1 }, { "\x1F", 1 },
		{ "\x1F\0", 2 }, { "\x1F\0\x02p", 4 }, { "\x26\0\x01p", 4 }, { "\x26\0\x01p\0", 5 },
		{ "\x0B", 1 }, { "\x0B\x80", 2 }, { "\x16\0\x05", 3 },
	};
	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		uint8_t *b = malloc(cut[i].len);
		memcpy(b, cut[i].b, cut[i].len);
		CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNACK, b, cut[i].len), MQTT_MALFORMED);
		free(b);
	}
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNACK, B("\x80\x00\x01")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNACK, B("\xFF\x7F\x01")), MQTT_MALFORMED);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_CONNACK, B("\x00\x01")), MQTT_MALFORMED);
}

static void test_iterate_and_find(void)
{
	static const uint8_t blk[] = { 0x01, 0x01, 0x02, 0, 0, 0x01, 0x00, 0x26, 0, 1, 'k', 0, 2,
		'v', 'w', 0x0B, 0x80, 0x01, 0x09, 0, 0 };
	struct mqtt_str block = { blk, sizeof blk };
	struct mqtt_prop p;
	size_t off = 0;
	CHECK_EQ_INT(mqtt_props_validate(MQTT_PUBLISH, blk, sizeof blk), MQTT_OK);
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), 1);
	CHECK_EQ_INT(p.id, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
	CHECK_EQ_INT(p.num, 1);
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), 1);
	CHECK_EQ_INT(p.num, 256);
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), 1);
	CHECK_EQ_INT(p.id, MQTT_PROP_USER_PROPERTY);
	CHECK(p.str.len == 1 && p.str.ptr[0] == 'k');
	CHECK(p.val.len == 2 && memcmp(p.val.ptr, "vw", 2) == 0);
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), 1);
	CHECK_EQ_INT(p.id, MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
	CHECK_EQ_INT(p.num, 128);
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), 1);
	CHECK_EQ_INT(p.id, MQTT_PROP_CORRELATION_DATA);
	CHECK(p.str.ptr != NULL && p.str.len == 0);
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), 0);
	CHECK_EQ_INT(off, sizeof blk);
	off = sizeof blk + 1;
	CHECK_EQ_INT(mqtt_props_next(block, &off, &p), MQTT_MALFORMED);

	CHECK_EQ_INT(mqtt_props_find(block, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &p), 1);
	CHECK_EQ_INT(p.num, 128);
	CHECK_EQ_INT(mqtt_props_find(block, MQTT_PROP_TOPIC_ALIAS, &p), 0);
	CHECK_EQ_INT(mqtt_props_find((struct mqtt_str){ 0 }, MQTT_PROP_TOPIC_ALIAS, &p), 0);
	/* find stops at bad bytes instead of reading on */
	CHECK_EQ_INT(mqtt_props_find((struct mqtt_str){ (const uint8_t *)"\x21\0", 2 },
		MQTT_PROP_RECEIVE_MAXIMUM, &p), 0);
}

static void test_encode_exact(void)
{
	struct mqtt_prop props[] = {
		{ .id = MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, .num = 1 },
		{ .id = MQTT_PROP_TOPIC_ALIAS, .num = 0x1234 },
		{ .id = MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, .num = 0xA0B0C0D0 },
		{ .id = MQTT_PROP_SUBSCRIPTION_IDENTIFIER, .num = 16384 },
		{ .id = MQTT_PROP_CONTENT_TYPE, .str = { (const uint8_t *)"t/p", 3 } },
		{ .id = MQTT_PROP_CORRELATION_DATA, .str = { (const uint8_t *)"\0\1", 2 } },
		{ .id = MQTT_PROP_USER_PROPERTY, .str = { (const uint8_t *)"k", 1 },
			.val = { (const uint8_t *)"vv", 2 } },
	};
	static const uint8_t want[] = { 0x01, 1, 0x23, 0x12, 0x34, 0x02, 0xA0, 0xB0, 0xC0, 0xD0,
		0x0B, 0x80, 0x80, 0x01, 0x03, 0, 3, 't', '/', 'p', 0x09, 0, 2, 0, 1,
		0x26, 0, 1, 'k', 0, 2, 'v', 'v' };
	uint8_t buf[64];
	size_t n = sizeof props / sizeof props[0];
	CHECK_EQ_INT(mqtt_props_encode(props, n, NULL, 0), sizeof want);
	CHECK_EQ_INT(mqtt_props_encode(props, n, buf, sizeof buf), sizeof want);
	CHECK_MEM(buf, want, sizeof want);
	CHECK_EQ_INT(mqtt_props_encode(props, n, buf, sizeof want - 1), MQTT_NOSPACE);
	CHECK_EQ_INT(mqtt_props_encode(props, 0, buf, 0), 0);
	CHECK_EQ_INT(mqtt_props_validate(MQTT_PUBLISH, buf, sizeof want), MQTT_OK);
}

static void test_encode_refusals(void)
{
	static uint8_t big[8];
	struct mqtt_prop p = { .id = 0x04, .num = 1 };
	uint8_t buf[16];
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, buf, sizeof buf), MQTT_MALFORMED);
	p = (struct mqtt_prop){ .id = MQTT_PROP_MAXIMUM_QOS, .num = 256 };
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, NULL, 0), MQTT_MALFORMED);
	p = (struct mqtt_prop){ .id = MQTT_PROP_RECEIVE_MAXIMUM, .num = 65536 };
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, NULL, 0), MQTT_MALFORMED);
	p = (struct mqtt_prop){ .id = MQTT_PROP_SUBSCRIPTION_IDENTIFIER, .num = MQTT_MAX_VARINT + 1 };
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, NULL, 0), MQTT_MALFORMED);
	p = (struct mqtt_prop){ .id = MQTT_PROP_REASON_STRING, .str = { big, 65536 } };
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, NULL, 0), MQTT_MALFORMED);
	p = (struct mqtt_prop){ .id = MQTT_PROP_REASON_STRING, .str = { NULL, 2 } };
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, NULL, 0), MQTT_MALFORMED);
	p = (struct mqtt_prop){ .id = MQTT_PROP_REASON_STRING };   /* absent = empty string */
	CHECK_EQ_INT(mqtt_props_encode(&p, 1, buf, sizeof buf), 3);
	CHECK_MEM(buf, "\x1F\0\0", 3);
}

int main(void)
{
	RUN(test_names_follow_the_list);
	RUN(test_name_aliases);
	RUN(test_allowed_per_packet);
	RUN(test_duplicates);
	RUN(test_value_ranges);
	RUN(test_truncated_blocks);
	RUN(test_iterate_and_find);
	RUN(test_encode_exact);
	RUN(test_encode_refusals);
	return test_report("props");
}
