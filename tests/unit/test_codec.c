/*
 * test_codec.c - MQTT packets: exact bytes from the encoder, decode(encode)
 * round trips, every prefix of a valid packet INCOMPLETE, TOO_BIG, and
 * malformed vectors (many taken from the mosquitto client conformance corpus
 * in /work/shared/conformance, named after their cases).
 *
 * Every decode runs over a heap copy of exactly the packet's size, so
 * AddressSanitizer catches any read past the end.
 */
#include <stdlib.h>

#include "mqtt_codec.h"
#include "test.h"

#define V31 MQTT_V31
#define V4 MQTT_V311
#define V5 MQTT_V5
#define S(lit) ((struct mqtt_str){ (const uint8_t *)(lit), sizeof(lit) - 1 })

static uint8_t *held;           /* buffer of the last decode, views point into it */
static size_t held_len;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex with optional spaces into a fresh exact-size heap buffer (held). */
static size_t hold_hex(const char *hex)
{
	size_t n = 0;
	free(held);
	held = malloc(strlen(hex) / 2 + 1);
	for (const char *s = hex; *s; s++) {
		if (*s == ' ')
			continue;
		held[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
		s++;
	}
	held = realloc(held, n ? n : 1);
	held_len = n;
	return n;
}

/* Decode hex; on MQTT_OK also demands that the whole input was consumed. */
static int dec_max(uint8_t ver, const char *hex, uint32_t max, struct mqtt_packet *p)
{
	size_t used = 0, n = hold_hex(hex);
	int r = mqtt_decode(held, n, ver, max, p, &used);
	if (r == MQTT_OK && used != n) {
		fprintf(stderr, "  consumed %zu of %zu: %s\n", used, n, hex);
		return 99;
	}
	return r;
}

static int dec(uint8_t ver, const char *hex, struct mqtt_packet *p)
{
	return dec_max(ver, hex, 0, p);
}

static bool str_eq(struct mqtt_str s, const char *lit)
{
	return s.ptr && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Encode p and compare with the expected hex, also through encoded_size. */
static void check_encode(const struct mqtt_packet *p, uint8_t ver, const char *hex)
{
	uint8_t out[512];
	size_t n = hold_hex(hex);
	size_t size = mqtt_encoded_size(p, ver);
	CHECK_EQ_INT(size, n);
	CHECK_EQ_INT(mqtt_encode(p, ver, out, sizeof out), n);
	if (size == n && n <= sizeof out && memcmp(out, held, n) != 0) {
		CHECK_MEM(out, held, n);
		fprintf(stderr, "  expected %s\n  got     ", hex);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%02X", out[i]);
		fprintf(stderr, "\n");
	}
	CHECK_EQ_INT(mqtt_encode(p, ver, out, n - 1), 0);     /* one byte short */
}

/* ---- valid packets: decode, re-encode to the same bytes, prefixes ---- */

struct vector {
	uint8_t ver;
	const char *hex;
	bool canonical;     /* our encoder produces exactly these bytes */
	const char *what;
};

static const struct vector valid[] = {
	{ V31, "10 0F 0006 4D5149736470 03 02 000A 0001 70", true, "CONNECT 3.1 (corpus '10 ok')" },
	{ V31, "10 13 0006 4D5149736470 03 42 000A 0001 70 0002 7077", true, "CONNECT 3.1 password only" },
	{ V4, "10 0D 0004 4D515454 04 02 000A 0001 70", true, "CONNECT (corpus '10 ok')" },
	{ V4, "10 13 0004 4D515454 04 C2 000A 0001 70 0001 70 0001 70", true, "CONNECT user+pass (corpus)" },
	{ V4, "10 13 0004 4D515454 04 06 000A 0001 70 0001 70 0001 70", true, "CONNECT will (corpus)" },
	{ V4, "10 0C 0004 4D515454 04 02 000A 0000", true, "CONNECT empty client id" },
	{ V5, "10 0E 0004 4D515454 05 02 000A 00 0001 70", true, "CONNECT v5 (corpus '10 ok')" },
	{ V5, "10 15 0004 4D515454 05 06 000A 00 0001 70 00 0001 70 0001 70", true, "CONNECT v5 will (corpus)" },
	{ V5, "10 1A 0004 4D515454 05 06 000A 00 0001 70 05 1800000001 0001 70 0001 70", true, "v5 will delay (corpus)" },
	{ V5, "10 23 0004 4D515454 05 02 000A 15 15000B756E737570706F7274656416000474657374 0001 70", true, "auth method+data" },
	{ V4, "20 02 00 00", true, "CONNACK" },
	{ V4, "20 02 01 00", true, "CONNACK session present" },
	{ V4, "20 02 00 05", true, "CONNACK not authorized" },
	{ V5, "20 03 00 00 00", true, "CONNACK v5" },
	{ V5, "20 06 00 00 03 21000A", true, "CONNACK v5 receive max (corpus)" },
	{ V5, "20 08 00 00 05 1100000001", true, "CONNACK session expiry (corpus)" },
	{ V5, "20 0A 00 00 07 26000170000171", true, "CONNACK user property (corpus)" },
	{ V5, "20 07 00 00 04 16000170", true, "CONNACK auth data without method (corpus STAY)" },
	{ V5, "20 03 00 87 00", true, "CONNACK v5 not authorized" },
	{ V5, "20 04 00 00 00 00", false, "CONNACK v5 trailing byte (corpus '20 long' STAY)" },
	{ V4, "30 07 0003 612F62 6869", true, "PUBLISH qos 0" },
	{ V4, "32 17 000C 746573742f7075626c697368 0001 6d657373616765", true, "PUBLISH qos 1 (corpus)" },
	{ V4, "3D 06 0001 61 FFFF 78", true, "PUBLISH qos 2 dup retain" },
	{ V4, "30 03 0001 61", true, "PUBLISH empty payload" },
	{ V5, "32 74 000c 746573742f7075626c697368 0001 5c 01 01 02 ffffffff 23 ffff 08 000e "
		"726573706f6e73652f746f706963 09 0024 37646561633563352d383830322d343466662d3836"
		"63652d313134373966333337343139 03 000a 746578742f706c61696e 26 0003 6b6579 0005 "
		"76616c7565 6d657373616765", true, "PUBLISH v5 with properties (corpus)" },
	{ V5, "30 07 0000 03 230001 78", true, "PUBLISH v5 empty topic + alias" },
	{ V5, "30 08 0001 61 04 0B01 0B02", true, "PUBLISH v5 two subscription ids" },
	{ V4, "40 02 0001", true, "PUBACK" },
	{ V4, "50 02 FFFF", true, "PUBREC" },
	{ V4, "62 02 0001", true, "PUBREL" },
	{ V4, "70 02 0001", true, "PUBCOMP" },
	{ V5, "40 02 0001", true, "PUBACK v5 short (corpus 'len=2')" },
	{ V5, "40 03 0001 00", false, "PUBACK v5 reason only (corpus 'len=3')" },
	{ V5, "40 03 0001 80", true, "PUBACK v5 failure (corpus 'len=3 fail')" },
	{ V5, "40 04 0001 00 00", false, "PUBACK v5 empty props (corpus 'len=4 ok')" },
	{ V5, "40 08 0001 00 04 1F000170", true, "PUBACK v5 reason string (corpus)" },
	{ V5, "40 12 0001 00 0E 26000170000171 26000170000171", true, "PUBACK 2*user (corpus)" },
	{ V5, "40 09 0001 00 05 26 0000 0000", true, "PUBACK user empty key,value (corpus)" },
	{ V5, "50 03 0001 10", true, "PUBREC v5 no matching subscribers" },
	{ V5, "62 03 0001 92", true, "PUBREL v5 id not found" },
	{ V5, "70 02 0001", true, "PUBCOMP v5" },
	{ V4, "82 06 1234 0001 70 00", true, "SUBSCRIBE (corpus 'single ok QoS 0')" },
	{ V4, "82 0A 1234 0001 70 00 0001 71 02", true, "SUBSCRIBE multiple" },
	{ V5, "82 07 1234 00 0001 70 2E", true, "SUBSCRIBE v5 options" },
	{ V5, "82 09 0001 02 0B01 0001 70 00", true, "SUBSCRIBE v5 subscription id (corpus)" },
	{ V5, "82 0C 0001 05 0BFFFFFF7F 0001 70 00", true, "SUBSCRIBE v5 max subscription id (corpus)" },
	{ V5, "82 10 0001 00 000A 2473686172652F672F61 01", true, "SUBSCRIBE v5 shared" },
	{ V4, "90 03 0001 01", true, "SUBACK" },
	{ V4, "90 06 0001 00 01 02 80", true, "SUBACK every code" },
	{ V5, "90 04 0001 00 A2", true, "SUBACK v5" },
	{ V5, "90 09 0001 04 1F000170 00 97", true, "SUBACK v5 reason string" },
	{ V4, "A2 12 0001 000E 746573742F737562736372696265", true, "UNSUBSCRIBE (corpus)" },
	{ V5, "A2 20 0001 0D 26 0003 6B6579 0005 76616C7565 000E 746573742F737562736372696265",
		true, "UNSUBSCRIBE v5 (corpus)" },
	{ V4, "B0 02 0001", true, "UNSUBACK" },
	{ V5, "B0 04 0001 00 11", true, "UNSUBACK v5 (corpus)" },
	{ V5, "B0 03 0001 00", true, "UNSUBACK v5 without codes (corpus 'B0' STAY)" },
	{ V5, "B0 04 0001 00 FF", true, "UNSUBACK v5 unknown code (corpus STAY)" },
	{ V5, "B0 08 0001 04 1F000170 00", true, "UNSUBACK v5 reason string (corpus)" },
	{ V4, "C0 00", true, "PINGREQ" },
	{ V5, "D0 00", true, "PINGRESP" },
	{ V4, "E0 00", true, "DISCONNECT" },
	{ V5, "E0 00", true, "DISCONNECT v5 short" },
	{ V5, "E0 01 04", true, "DISCONNECT v5 with will" },
	{ V5, "E0 02 82 00", false, "DISCONNECT v5 empty props (corpus)" },
	{ V5, "E0 06 00 04 1C000170", true, "DISCONNECT v5 server reference (corpus)" },
	{ V5, "F0 00", true, "AUTH" },
	{ V5, "F0 01 18", true, "AUTH continue" },
	{ V5, "F0 0C 19 0A 1500026D65 16000278 79", true, "AUTH re-authenticate" },
};

/* SUBSCRIBE/UNSUBSCRIBE decode into a list; encoding wants arrays. */
static size_t reencode(struct mqtt_packet *p, uint8_t ver, uint8_t *out, size_t cap)
{
	struct mqtt_sub_item items[8];
	struct mqtt_str filters[8];
	size_t off = 0, n = 0;
	if (p->type == MQTT_SUBSCRIBE) {
		while (n < 8 && mqtt_sub_next(p->u.subscribe.list, &off, &items[n]) == 1)
			n++;
		p->u.subscribe.items = items;
	} else if (p->type == MQTT_UNSUBSCRIBE) {
		while (n < 8 && mqtt_unsub_next(p->u.unsubscribe.list, &off, &filters[n]) == 1)
			n++;
		p->u.unsubscribe.filters = filters;
	}
	return mqtt_encode(p, ver, out, cap);
}

static void test_valid_round_trip(void)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		const struct vector *v = &valid[i];
		struct mqtt_packet p;
		uint8_t out[256];
		int r = dec(v->ver, v->hex, &p);
		if (r != MQTT_OK) {
			fprintf(stderr, "  %s: %s\n", v->what, mqtt_result_name(r));
			CHECK_EQ_INT(r, MQTT_OK);
			continue;
		}
		CHECK_EQ_INT(p.type, held[0] >> 4);
		if (!v->canonical)
			continue;
		size_t n = reencode(&p, v->ver, out, sizeof out);
		CHECK_EQ_INT(n, held_len);
		if (n != held_len || memcmp(out, held, n) != 0) {
			fprintf(stderr, "  re-encode differs: %s\n", v->what);
			CHECK(0);
		}
	}
}

static void test_every_prefix_incomplete(void)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		size_t n = hold_hex(valid[i].hex);
		uint8_t *whole = malloc(n);
		memcpy(whole, held, n);
		for (size_t k = 0; k < n; k++) {
			uint8_t *pre = malloc(k ? k : 1);
			struct mqtt_packet p;
			size_t used = 0;
			memcpy(pre, whole, k);
			int r = mqtt_decode(k ? pre : NULL, k, valid[i].ver, 0, &p, &used);
			if (r != MQTT_INCOMPLETE)
				fprintf(stderr, "  %s: prefix %zu gave %d\n", valid[i].what, k, r);
			CHECK_EQ_INT(r, MQTT_INCOMPLETE);
			free(pre);
		}
		free(whole);
	}
}

/* Two packets back to back: the first is decoded and consumed alone. */
static void test_stream_of_packets(void)
{
	struct mqtt_packet p;
	size_t used = 0, n = hold_hex("40 02 0001 D0 00");
	CHECK_EQ_INT(mqtt_decode(held, n, V4, 0, &p, &used), MQTT_OK);
	CHECK_EQ_INT(used, 4);
	CHECK_EQ_INT(p.type, MQTT_PUBACK);
	CHECK_EQ_INT(mqtt_decode(held + used, n - used, V4, 0, &p, &used), MQTT_OK);
	CHECK_EQ_INT(p.type, MQTT_PINGRESP);
}

/* ---- malformed packets ---- */

static const struct vector malformed[] = {
	/* fixed header and flags (corpus files, groups named by first byte) */
	{ V4, "00 00", 0, "reserved type 0 (FORBIDDEN '00')" },
	{ V4, "F0 00", 0, "AUTH in 3.1.1 (AUTH 'F0')" },
	{ V5, "F1 00", 0, "AUTH flags (AUTH 'F1')" },
	{ V4, "21 02 00 00", 0, "CONNACK flags (CONNACK '21')" },
	{ V4, "29 02 00 01", 0, "CONNACK flags (issue 2163 v4)" },
	{ V31, "29 02 00 01", 0, "CONNACK flags (issue 2163 v3)" },
	{ V5, "28 03 00 00 00", 0, "CONNACK flags v5 ('28')" },
	{ V4, "41 02 0001", 0, "PUBACK flags ('41')" },
	{ V4, "52 02 0001", 0, "PUBREC flags ('52')" },
	{ V4, "60 02 0001", 0, "PUBREL without 0b0010" },
	{ V4, "64 02 0001", 0, "PUBREL flags 0b0100" },
	{ V4, "71 02 0001", 0, "PUBCOMP flags" },
	{ V4, "80 06 1234 0001 70 00", 0, "SUBSCRIBE flags 0 (SUBSCRIBE '80')" },
	{ V4, "8A 06 1234 0001 70 00", 0, "SUBSCRIBE flags 0b1010 ('8A')" },
	{ V4, "91 03 0001 00", 0, "SUBACK flags" },
	{ V5, "A0 06 1234 00 0001 70", 0, "UNSUBSCRIBE flags ('A0')" },
	{ V4, "B8 02 0001", 0, "UNSUBACK flags ('B8')" },
	{ V4, "C1 00", 0, "PINGREQ flags ('C1')" },
	{ V5, "D2 00", 0, "PINGRESP flags ('D2')" },
	{ V4, "E1 00", 0, "DISCONNECT flags [MQTT-3.14.1-1]" },
	{ V4, "36 05 0001 61 0001", 0, "PUBLISH QoS 3" },
	{ V4, "38 03 0001 61", 0, "PUBLISH DUP on QoS 0 [MQTT-3.3.1-2]" },
	{ V4, "10 FFFFFFFF7F 0004 4D515454 06 00 000A 0001 70", 0, "remaining length 5 bytes (corpus)" },
	{ V5, "C0 80 00", 0, "v5 non-minimal remaining length [MQTT-1.5.5-1]" },
	/* lengths: short, long, strings running past the packet */
	{ V4, "20 03 00 00 00", 0, "CONNACK long (corpus '20 long')" },
	{ V4, "20 01 00", 0, "CONNACK short 1 (corpus)" },
	{ V4, "20 00", 0, "CONNACK short 0 (corpus)" },
	{ V5, "20 02 00 00", 0, "CONNACK v5 without property length (corpus 'short 2')" },
	{ V4, "40 03 0001 00", 0, "PUBACK long (corpus '40 long')" },
	{ V4, "40 01 01", 0, "PUBACK short 1 (corpus)" },
	{ V4, "40 00", 0, "PUBACK short 0 (corpus)" },
	{ V5, "40 05 0001 00 00 00", 0, "PUBACK v5 long (corpus)" },
	{ V5, "40 04 0001 00 01", 0, "PUBACK v5 props past end (corpus 'len=4 short')" },
	{ V5, "50 01 01", 0, "PUBREC v5 short 1 (corpus)" },
	{ V4, "D0 01 00", 0, "PINGRESP long (corpus 'D0 long')" },
	{ V4, "C0 01 00", 0, "PINGREQ long (corpus 'C0 long')" },
	{ V4, "E0 01 00", 0, "DISCONNECT 3.1.1 long (corpus 'E0 long')" },
	{ V4, "B0 00", 0, "UNSUBACK short 0 (corpus)" },
	{ V4, "B0 03 0001 00", 0, "UNSUBACK 3.1.1 with a code" },
	{ V5, "B0 02 0001", 0, "UNSUBACK v5 short 2 (corpus)" },
	{ V4, "30 04 0005 6162", 0, "PUBLISH topic past the packet" },
	{ V4, "30 01 00", 0, "PUBLISH topic length cut" },
	{ V4, "32 04 0001 61 00", 0, "PUBLISH packet id cut" },
	{ V4, "10 0C 0003 4D5154 04 02 000A 0001 70", 0, "CONNECT short proto (corpus)" },
	{ V4, "10 0E 0005 4D51545454 04 02 000A 0001 70", 0, "CONNECT long proto (corpus)" },
	{ V4, "10 08 0004 4D515454 04 02 000A", 0, "CONNECT missing client id (corpus)" },
	{ V4, "10 07 0004 4D515454 04 C2 003C 000B 746573742D707974686F6E 0005 61646d696E"
		" 0008 70617373776F7264", 0, "CONNECT NanoMQ CWE-119 (corpus)" },
	{ V4, "10 0E 0004 4D515454 04 02 000A 0001 70 00", 0, "CONNECT trailing byte" },
	{ V4, "82 07 1234 0001 70 00 00", 0, "SUBSCRIBE long (corpus)" },
	{ V4, "82 05 1234 0001 70", 0, "SUBSCRIBE missing options (corpus 'short 5')" },
	{ V4, "82 02 1234", 0, "SUBSCRIBE no topics [MQTT-3.8.3-3] (corpus)" },
	{ V5, "82 03 1234 00", 0, "SUBSCRIBE v5 no topics (corpus 'short 3')" },
	{ V4, "A2 02 1234", 0, "UNSUBSCRIBE no topics [MQTT-3.10.3-2] (corpus)" },
	{ V4, "A2 04 1234 0001", 0, "UNSUBSCRIBE topic cut (corpus 'short 4')" },
	{ V4, "90 02 0001", 0, "SUBACK without codes" },
	/* protocol fields */
	{ V4, "10 0D 0004 4D515455 04 02 000A 0001 70", 0, "CONNECT bad name [MQTT-3.1.2-1] (corpus)" },
	{ V4, "10 0D 0004 4D515454 06 00 000A 0001 70", 0, "CONNECT level 6 (corpus)" },
	{ V4, "10 0F 0006 4D5149736470 04 02 000A 0001 70", 0, "MQIsdp with level 4" },
	{ V4, "10 0D 0004 4D515454 04 01 000A 0001 70", 0, "CONNECT reserved flag [MQTT-3.1.2-3] (corpus)" },
	{ V4, "10 0D 0004 4D515454 04 0A 000A 0001 70", 0, "will QoS without will (corpus)" },
	{ V4, "10 0D 0004 4D515454 04 22 000A 0001 70", 0, "will retain without will" },
	{ V4, "10 13 0004 4D515454 04 1E 000A 0001 70 0001 70 0001 70", 0, "will QoS 3 (corpus)" },
	{ V4, "10 10 0004 4D515454 04 42 000A 0001 70 0001 70", 0, "password w/o user [MQTT-3.1.2-22] (corpus)" },
	{ V4, "10 0D 0004 4D515454 04 82 000A 0001 70", 0, "username flag without username (corpus)" },
	{ V4, "10 13 0004 4D515454 04 06 000A 0001 70 0001 2B 0001 70", 0, "will topic with '+'" },
	{ V4, "40 02 0000", 0, "PUBACK packet id 0 (corpus 'mid 0')" },
	{ V5, "50 03 0000 00", 0, "PUBREC v5 packet id 0 (corpus)" },
	{ V4, "32 05 0001 61 0000", 0, "PUBLISH QoS 1 packet id 0" },
	{ V4, "82 06 0000 0001 70 00", 0, "SUBSCRIBE packet id 0 (corpus)" },
	{ V4, "A2 08 0000 0001 70 0001 71", 0, "UNSUBSCRIBE packet id 0 (corpus)" },
	{ V4, "90 03 0000 00", 0, "SUBACK packet id 0" },
	{ V4, "B0 02 0000", 0, "UNSUBACK packet id 0" },
	{ V4, "82 06 1234 0001 70 03", 0, "SUBSCRIBE QoS 3 (corpus)" },
	{ V4, "82 06 1234 0001 70 04", 0, "SUBSCRIBE 3.1.1 reserved option bits (corpus)" },
	{ V5, "82 07 1234 00 0001 70 30", 0, "SUBSCRIBE retain handling 3 (corpus)" },
	{ V5, "82 07 1234 00 0001 70 40", 0, "SUBSCRIBE v5 reserved bit (corpus)" },
	{ V5, "82 10 0001 00 000A 2473686172652F672F61 04", 0, "no-local on shared [MQTT-3.8.3-4]" },
	{ V4, "82 05 1234 0000 00", 0, "SUBSCRIBE empty filter (corpus)" },
	{ V4, "82 09 1234 0001 71 00 0000 00", 0, "SUBSCRIBE 2nd filter empty (corpus)" },
	{ V4, "82 07 1234 0002 612B 00", 0, "SUBSCRIBE filter 'a+'" },
	{ V4, "A2 07 1234 0001 71 0000", 0, "UNSUBSCRIBE empty 2nd filter (corpus)" },
	{ V4, "30 04 0001 2B 78", 0, "PUBLISH topic '+'" },
	{ V4, "30 06 0003 612F23 78", 0, "PUBLISH topic 'a/#'" },
	{ V4, "30 03 0000 78", 0, "PUBLISH empty topic 3.1.1" },
	{ V5, "30 04 0000 00 78", 0, "PUBLISH v5 empty topic without alias" },
	/* UTF-8 */
	{ V4, "82 0A 1234 0005 746F700000 00", 0, "filter with U+0000 (corpus)" },
	{ V4, "82 0A 1234 0005 746FEDA080 00", 0, "filter with U+D800 (corpus)" },
	{ V4, "82 0A 1234 0005 746FEDBFBF 00", 0, "filter with U+DFFF (corpus 'U+FFFF')" },
	{ V4, "30 05 0002 C0AF 78", 0, "topic with overlong '/'" },
	{ V4, "30 06 0003 E08080 78", 0, "topic with overlong U+0000" },
	{ V4, "30 07 0004 F4908080 78", 0, "topic above U+10FFFF" },
	{ V4, "30 04 0001 80 78", 0, "topic with a lone continuation byte" },
	{ V4, "30 05 0002 61 E2 78", 0, "topic with a truncated sequence" },
	{ V5, "30 05 0001 80 00 78", 0, "v5 topic with a lone continuation byte" },
	{ V5, "32 07 0001 80 0001 00 78", 0, "v5 QoS 1 topic with a lone continuation byte" },
	{ V4, "10 11 0004 4D515454 04 02 000A 0005 746F700000", 0, "client id U+0000 (corpus)" },
	{ V4, "10 14 0004 4D515454 04 82 000A 0001 70 0005 746FEDA080", 0, "username U+D800 (corpus)" },
	{ V5, "E0 05 00 03 1F 00 C0", 0, "reason string overlong" },
	/* reason codes */
	{ V4, "20 02 00 06", 0, "CONNACK 3.1.1 return code 6" },
	{ V4, "20 02 01 05", 0, "session present with refusal [MQTT-3.2.2-4]" },
	{ V4, "20 02 02 00", 0, "CONNACK flag 0x02 (corpus 'CAF=0x02')" },
	{ V4, "20 02 80 00", 0, "CONNACK flag 0x80 (corpus 'CAF=0x80')" },
	{ V5, "20 03 00 01 00", 0, "CONNACK v5 RC 0x01 (corpus)" },
	{ V5, "20 03 00 FF 00", 0, "CONNACK v5 RC 0xFF (corpus)" },
	{ V5, "20 03 01 80 00", 0, "session present with refusal v5 [MQTT-3.2.2-6]" },
	{ V5, "40 04 0001 FF 00", 0, "PUBACK RC 0xFF (corpus 'len=4 rc=unknown')" },
	{ V5, "40 03 0001 92", 0, "PUBACK RC 0x92" },
	{ V5, "62 03 0001 80", 0, "PUBREL RC 0x80" },
	{ V5, "70 03 0001 10", 0, "PUBCOMP RC 0x10" },
	{ V4, "90 03 0001 03", 0, "SUBACK 3.1.1 code 3" },
	{ V4, "90 03 0001 87", 0, "SUBACK 3.1.1 code 0x87" },
	{ V5, "90 04 0001 00 10", 0, "SUBACK v5 code 0x10" },
	{ V5, "E0 01 01", 0, "DISCONNECT RC 0x01 (corpus)" },
	{ V5, "E0 01 05", 0, "DISCONNECT RC 0x05 (corpus)" },
	{ V5, "F0 01 01", 0, "AUTH RC 0x01" },
	/* properties */
	{ V5, "20 05 00 00 02 0100", 0, "CONNACK payload format (corpus DISALLOWED)" },
	{ V5, "20 06 00 00 03 230101", 0, "CONNACK topic alias (corpus DISALLOWED)" },
	{ V5, "20 05 00 00 02 0401", 0, "unknown property 0x04 (corpus)" },
	{ V5, "20 05 00 00 02 0001", 0, "invalid property 0x00 (corpus)" },
	{ V5, "20 06 00 00 03 800001", 0, "property id 0x8000 (corpus)" },
	{ V5, "20 08 00 00 05 8080800101", 0, "property id 0x80808001 (corpus)" },
	{ V5, "20 06 00 00 03 21 0000", 0, "receive maximum 0 (corpus)" },
	{ V5, "20 05 00 00 02 2402", 0, "maximum QoS 2 (corpus)" },
	{ V5, "20 05 00 00 02 2502", 0, "retain available 2" },
	{ V5, "20 08 00 00 05 2700000000", 0, "maximum packet size 0" },
	{ V5, "20 04 00 00 01 11", 0, "session expiry missing (corpus)" },
	{ V5, "20 07 00 00 04 26000170", 0, "user property missing value (corpus)" },
	{ V5, "20 09 00 00 06 21000A 21000A", 0, "receive maximum twice" },
	{ V5, "20 04 00 00 05 11", 0, "property length past the packet" },
	{ V5, "40 0C 0001 00 08 1F000170 1F000171", 0, "2*reason string (corpus)" },
	{ V5, "40 06 0001 00 02 1F 00", 0, "reason string incomplete (corpus)" },
	{ V5, "40 06 0001 00 02 0B01", 0, "PUBACK subscription id (corpus DISALLOWED)" },
	{ V5, "B0 05 0001 02 0B01", 0, "UNSUBACK subscription id (corpus DISALLOWED)" },
	{ V5, "E0 07 00 05 0200000001", 0, "DISCONNECT message expiry (corpus DISALLOWED)" },
	{ V5, "E0 0A 00 08 1C000170 1C000171", 0, "2*server reference (corpus)" },
	{ V5, "E0 03 00 01 00", 0, "DISCONNECT property 0 (corpus 'PL=1 P=0')" },
	{ V5, "82 09 0001 02 0B00 0001 70 00", 0, "subscription id 0 (corpus)" },
	{ V5, "82 0B 0001 04 0B010B01 0001 70 00", 0, "2*subscription id in SUBSCRIBE (corpus)" },
	{ V5, "82 0A 0001 03 0B8000 0001 70 00", 0, "non-minimal subscription id (corpus 0x8000)" },
	{ V5, "82 0D 0001 06 0B8080808001 0001 70 00", 0, "5-byte subscription id (corpus)" },
	{ V5, "82 09 0001 02 0100 0001 70 00", 0, "SUBSCRIBE payload format (corpus DISALLOWED)" },
	{ V5, "A2 08 0001 02 0B01 0001 70", 0, "UNSUBSCRIBE subscription id (corpus DISALLOWED)" },
	{ V5, "30 08 0001 61 03 230000 78", 0, "topic alias 0" },
	{ V5, "30 08 0001 61 04 01 02 78 78", 0, "payload format 2" },
	{ V5, "30 0A 0001 61 06 08 0002 612B 78", 0, "response topic with wildcard" },
	{ V5, "30 0A 0001 61 05 1100000000 78", 0, "PUBLISH session expiry" },
	{ V5, "10 11 0004 4D515454 05 02 000A 03 21 0000 0001 70", 0, "CONNECT receive max 0 (corpus)" },
	{ V5, "10 12 0004 4D515454 05 02 000A 04 16 0001 70 0001 70", 0, "auth data w/o method (corpus)" },
	{ V5, "10 10 0004 4D515454 05 02 000A 02 17 02 0001 70", 0, "request problem info 2 (corpus)" },
	{ V5, "10 13 0004 4D515454 05 02 000A 05 02 10000001 0001 70", 0, "CONNECT message expiry (corpus)" },
	{ V5, "10 18 0004 4D515454 05 06 000A 00 0001 70 03 21 0101 0001 70 0001 70", 0, "will receive max" },
};

static void test_malformed_vectors(void)
{
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		struct mqtt_packet p;
		int r = dec(malformed[i].ver, malformed[i].hex, &p);
		if (r != MQTT_MALFORMED)
			fprintf(stderr, "  %s: got %d\n", malformed[i].what, r);
		CHECK_EQ_INT(r, MQTT_MALFORMED);
	}
}

/* Bad flags are caught from the first byte, before the length arrives. */
static void test_first_byte_alone(void)
{
	struct mqtt_packet p;
	CHECK_EQ_INT(dec(V4, "41", &p), MQTT_MALFORMED);
	CHECK_EQ_INT(dec(V4, "36", &p), MQTT_MALFORMED);
	CHECK_EQ_INT(dec(V4, "F0", &p), MQTT_MALFORMED);
	CHECK_EQ_INT(dec(V5, "F0", &p), MQTT_INCOMPLETE);
	CHECK_EQ_INT(dec(V4, "40", &p), MQTT_INCOMPLETE);
}

static void test_fixed_header(void)
{
	uint8_t first;
	uint32_t rem;
	size_t hl;
	static const struct { const char *hex; int r; uint32_t rem; size_t hl; } cases[] = {
		{ "30 00", MQTT_OK, 0, 2 },
		{ "30 7F", MQTT_OK, 127, 2 },
		{ "30 80 01", MQTT_OK, 128, 3 },
		{ "30 FF 7F", MQTT_OK, 16383, 3 },
		{ "30 80 80 01", MQTT_OK, 16384, 4 },
		{ "30 FF FF FF 7F", MQTT_OK, 268435455, 5 },
		{ "30 80 00", MQTT_OK, 0, 3 },        /* non-minimal: left to mqtt_decode */
		{ "30 FF FF FF FF", MQTT_MALFORMED, 0, 0 },
		{ "30 FF FF FF FF 01", MQTT_MALFORMED, 0, 0 },
		{ "30 FF FF FF", MQTT_INCOMPLETE, 0, 0 },
		{ "30", MQTT_INCOMPLETE, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = hold_hex(cases[i].hex);
		int r = mqtt_decode_fixed_header(held, n, &first, &rem, &hl);
		CHECK_EQ_INT(r, cases[i].r);
		if (r == MQTT_OK) {
			CHECK_EQ_INT(first, 0x30);
			CHECK_EQ_INT(rem, cases[i].rem);
			CHECK_EQ_INT(hl, cases[i].hl);
		}
	}
	CHECK_EQ_INT(mqtt_decode_fixed_header(NULL, 0, &first, &rem, &hl), MQTT_INCOMPLETE);
}

/* A 3.1.1 peer may use a non-minimal length; MQTT 5 forbids it. */
static void test_non_minimal_length_by_version(void)
{
	struct mqtt_packet p;
	CHECK_EQ_INT(dec(V4, "C0 80 00", &p), MQTT_OK);
	CHECK_EQ_INT(dec(V5, "C0 80 00", &p), MQTT_MALFORMED);
	CHECK_EQ_INT(dec(V4, "40 82 00 0001", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.ack.packet_id, 1);
}

static void test_too_big(void)
{
	struct mqtt_packet p;
	/* known from the header alone: no body bytes needed */
	CHECK_EQ_INT(dec_max(V4, "30 FF FF FF 7F", 1000, &p), MQTT_TOO_BIG);
	CHECK_EQ_INT(dec_max(V4, "30 80 01", 130, &p), MQTT_TOO_BIG);
	CHECK_EQ_INT(dec_max(V4, "30 80 01", 131, &p), MQTT_INCOMPLETE);
	CHECK_EQ_INT(dec_max(V4, "40 02 0001", 4, &p), MQTT_OK);
	CHECK_EQ_INT(dec_max(V4, "40 02 0001", 3, &p), MQTT_TOO_BIG);
	CHECK_EQ_INT(dec_max(V4, "30 FF FF FF 7F", 0, &p), MQTT_INCOMPLETE);
	CHECK_EQ_INT(dec_max(V5, "32 17 000C 746573742f7075626c697368 0001 6d657373616765", 24, &p),
		MQTT_TOO_BIG);
}

/* ---- decoded fields ---- */

static void test_decode_connect_fields(void)
{
	struct mqtt_packet p;
	CHECK_EQ_INT(dec(V4, "10 1B 0004 4D515454 04 EE 003C 0002 6964 0001 74 0003 776D67"
		" 0001 75 0000", &p), MQTT_OK);
	struct mqtt_connect *k = &p.u.connect;
	CHECK_EQ_INT(k->version, V4);
	CHECK(k->clean);
	CHECK_EQ_INT(k->keepalive, 60);
	CHECK(str_eq(k->client_id, "id"));
	CHECK(k->has_will);
	CHECK_EQ_INT(k->will.qos, 1);
	CHECK(k->will.retain);
	CHECK(str_eq(k->will.topic, "t"));
	CHECK(str_eq(k->will.payload, "wmg"));
	CHECK(str_eq(k->username, "u"));
	CHECK(k->password.ptr != NULL);     /* present but empty */
	CHECK_EQ_INT(k->password.len, 0);

	CHECK_EQ_INT(dec(V5, "10 0D 0004 4D515454 04 02 000A 0001 70", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.connect.version, V4);  /* CONNECT defines its own level */
	CHECK(p.u.connect.username.ptr == NULL);
	CHECK(p.u.connect.password.ptr == NULL);
	CHECK(!p.u.connect.has_will);

	CHECK_EQ_INT(dec(V4, "10 1A 0004 4D515454 05 06 000A 03 210005 0001 70 02 0100 0001 74 0001 78",
		&p), MQTT_OK);
	CHECK_EQ_INT(p.u.connect.version, V5);
	CHECK_EQ_INT(p.u.connect.props.len, 3);
	CHECK_EQ_INT(p.u.connect.will.props.len, 2);
	CHECK(str_eq(p.u.connect.will.topic, "t"));
}

static void test_decode_publish_fields(void)
{
	struct mqtt_packet p;
	struct mqtt_prop pr;
	CHECK_EQ_INT(dec(V4, "3D 06 0001 61 FFFF 78", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.publish.qos, 2);
	CHECK(p.u.publish.dup);
	CHECK(p.u.publish.retain);
	CHECK_EQ_INT(p.u.publish.packet_id, 0xFFFF);
	CHECK(str_eq(p.u.publish.topic, "a"));
	CHECK(str_eq(p.u.publish.payload, "x"));
	CHECK_EQ_INT(p.flags, 0x0D);

	CHECK_EQ_INT(dec(V5, "30 07 0000 03 230007 78", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.publish.topic.len, 0);
	CHECK_EQ_INT(p.u.publish.packet_id, 0);
	CHECK_EQ_INT(mqtt_props_find(p.u.publish.props, MQTT_PROP_TOPIC_ALIAS, &pr), 1);
	CHECK_EQ_INT(pr.num, 7);
	CHECK(str_eq(p.u.publish.payload, "x"));
}

static void test_decode_ack_short_forms(void)
{
	struct mqtt_packet p;
	CHECK_EQ_INT(dec(V5, "40 02 0001", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.ack.reason, 0);
	CHECK_EQ_INT(p.u.ack.props.len, 0);
	CHECK_EQ_INT(dec(V5, "50 03 0009 80", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.ack.packet_id, 9);
	CHECK_EQ_INT(p.u.ack.reason, 0x80);
	CHECK_EQ_INT(dec(V5, "70 08 0001 92 04 1F000170", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.ack.reason, 0x92);
	CHECK_EQ_INT(p.u.ack.props.len, 4);
	CHECK_EQ_INT(dec(V5, "E0 00", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.disconnect.reason, 0);
	CHECK_EQ_INT(dec(V5, "E0 01 8B", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.disconnect.reason, 0x8B);
	CHECK_EQ_INT(dec(V5, "F0 01 19", &p), MQTT_OK);
	CHECK_EQ_INT(p.type, MQTT_AUTH);
	CHECK_EQ_INT(p.u.disconnect.reason, 0x19);
}

static void test_decode_sub_lists(void)
{
	struct mqtt_packet p;
	struct mqtt_sub_item it;
	struct mqtt_str f;
	size_t off = 0;
	CHECK_EQ_INT(dec(V5, "82 0D 1234 00 0001 70 2A 0003 612F23 01", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.subscribe.packet_id, 0x1234);
	CHECK_EQ_INT(p.u.subscribe.count, 2);
	CHECK(p.u.subscribe.items == NULL);
	CHECK_EQ_INT(mqtt_sub_next(p.u.subscribe.list, &off, &it), 1);
	CHECK(str_eq(it.filter, "p"));
	CHECK_EQ_INT(it.options, 0x2A);
	CHECK_EQ_INT(mqtt_sub_next(p.u.subscribe.list, &off, &it), 1);
	CHECK(str_eq(it.filter, "a/#"));
	CHECK_EQ_INT(it.options, 1);
	CHECK_EQ_INT(mqtt_sub_next(p.u.subscribe.list, &off, &it), 0);
	off = 99;
	CHECK_EQ_INT(mqtt_sub_next(p.u.subscribe.list, &off, &it), MQTT_MALFORMED);

	off = 0;
	CHECK_EQ_INT(dec(V4, "A2 09 0007 0001 70 0002 2F2B", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.unsubscribe.count, 2);
	CHECK_EQ_INT(mqtt_unsub_next(p.u.unsubscribe.list, &off, &f), 1);
	CHECK(str_eq(f, "p"));
	CHECK_EQ_INT(mqtt_unsub_next(p.u.unsubscribe.list, &off, &f), 1);
	CHECK(str_eq(f, "/+"));
	CHECK_EQ_INT(mqtt_unsub_next(p.u.unsubscribe.list, &off, &f), 0);

	CHECK_EQ_INT(dec(V5, "90 06 0001 00 00 01 02", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.suback.codes.len, 3);
	CHECK_EQ_INT(p.u.suback.codes.ptr[2], 2);
	CHECK_EQ_INT(dec(V4, "B0 02 0001", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.suback.codes.len, 0);
}

static void test_decode_connack_fields(void)
{
	struct mqtt_packet p;
	CHECK_EQ_INT(dec(V4, "20 02 01 00", &p), MQTT_OK);
	CHECK(p.u.connack.session_present);
	CHECK_EQ_INT(dec(V31, "20 02 00 02", &p), MQTT_OK);
	CHECK_EQ_INT(p.u.connack.reason, 2);
	CHECK_EQ_INT(dec(V5, "20 06 00 00 03 21000A", &p), MQTT_OK);
	CHECK(!p.u.connack.session_present);
	CHECK_EQ_INT(p.u.connack.props.len, 3);
}

/* ---- encoding: exact bytes per packet type ---- */

static void test_encode_connect(void)
{
	struct mqtt_packet p = { .type = MQTT_CONNECT };
	struct mqtt_connect *k = &p.u.connect;
	k->clean = true;
	k->keepalive = 10;
	k->client_id = S("p");
	check_encode(&p, V31, "10 0F 0006 4D5149736470 03 02 000A 0001 70");
	check_encode(&p, V4, "10 0D 0004 4D515454 04 02 000A 0001 70");
	check_encode(&p, V5, "10 0E 0004 4D515454 05 02 000A 00 0001 70");

	k->has_will = true;
	k->will = (struct mqtt_will){ .topic = S("t"), .payload = S("wmg"), .qos = 1, .retain = true };
	k->username = S("u");
	k->password = S("pw");
	check_encode(&p, V4, "10 1C 0004 4D515454 04 EE 000A 0001 70 0001 74 0003 776D67"
		" 0001 75 0002 7077");
	k->props = S("\x21\x00\x05");
	k->will.props = S("\x01\x01");
	check_encode(&p, V5, "10 23 0004 4D515454 05 EE 000A 03 210005 0001 70 02 0101 0001 74"
		" 0003 776D67 0001 75 0002 7077");

	/* password without username: 3.1 and 5.0 as given, 3.1.1 refused */
	k->has_will = false;
	k->props = (struct mqtt_str){ 0 };
	k->username = (struct mqtt_str){ 0 };
	k->keepalive = 0;
	check_encode(&p, V31, "10 13 0006 4D5149736470 03 42 0000 0001 70 0002 7077");
	check_encode(&p, V5, "10 12 0004 4D515454 05 42 0000 00 0001 70 0002 7077");
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
}

static void test_encode_connack(void)
{
	struct mqtt_packet p = { .type = MQTT_CONNACK };
	check_encode(&p, V4, "20 02 00 00");
	p.u.connack.session_present = true;
	check_encode(&p, V4, "20 02 01 00");
	p.u.connack.session_present = false;
	p.u.connack.reason = 5;
	check_encode(&p, V31, "20 02 00 05");
	p.u.connack.reason = 0;
	p.u.connack.props = S("\x21\x00\x14");
	check_encode(&p, V5, "20 06 00 00 03 21 00 14");     /* the corpus fake broker's */
}

static void test_encode_publish(void)
{
	struct mqtt_packet p = { .type = MQTT_PUBLISH };
	struct mqtt_publish *m = &p.u.publish;
	m->topic = S("test/publish");
	m->payload = S("message");
	m->qos = 1;
	m->packet_id = 1;
	check_encode(&p, V4, "32 17 000C 746573742f7075626c697368 0001 6d657373616765");
	check_encode(&p, V5, "32 18 000C 746573742f7075626c697368 0001 00 6d657373616765");
	m->qos = 0;
	m->retain = true;
	check_encode(&p, V4, "31 15 000C 746573742f7075626c697368 6d657373616765");
	m->qos = 2;
	m->dup = true;
	m->retain = false;
	m->packet_id = 0xABCD;
	m->topic = S("a");
	m->payload = (struct mqtt_str){ 0 };
	m->props = S("\x23\x00\x01");
	check_encode(&p, V5, "3C 09 0001 61 ABCD 03 230001");
	m->topic = S("");
	check_encode(&p, V5, "3C 08 0000 ABCD 03 230001");
}

static void test_encode_acks(void)
{
	static const struct { uint8_t type; const char *v4, *v5_short, *v5_reason, *v5_props; } cases[] = {
		{ MQTT_PUBACK, "40 02 0102", "40 02 0102", "40 03 0102 10", "40 08 0102 10 04 1F000170" },
		{ MQTT_PUBREC, "50 02 0102", "50 02 0102", "50 03 0102 10", "50 08 0102 10 04 1F000170" },
		{ MQTT_PUBREL, "62 02 0102", "62 02 0102", "62 03 0102 10", "62 08 0102 10 04 1F000170" },
		{ MQTT_PUBCOMP, "70 02 0102", "70 02 0102", "70 03 0102 10", "70 08 0102 10 04 1F000170" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mqtt_packet p = { .type = cases[i].type };
		p.u.ack.packet_id = 0x0102;
		check_encode(&p, V4, cases[i].v4);
		check_encode(&p, V5, cases[i].v5_short);
		p.u.ack.reason = 0x10;
		check_encode(&p, V5, cases[i].v5_reason);
		check_encode(&p, V4, cases[i].v4);   /* 3.x has no reason code */
		p.u.ack.props = S("\x1F\x00\x01p");
		check_encode(&p, V5, cases[i].v5_props);
		p.u.ack.reason = 0;
		p.u.ack.props = (struct mqtt_str){ 0 };
		p.u.ack.packet_id = 0;
		CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	}
	struct mqtt_packet p = { .type = MQTT_PUBACK, .u.ack = { .packet_id = 1, .props = S("\x1F\x00\x00") } };
	check_encode(&p, V5, "40 07 0001 00 03 1F0000");   /* props force the long form */
}

static void test_encode_subscribe(void)
{
	struct mqtt_sub_item items[] = { { S("p"), 0x00 }, { S("a/#"), 0x2E } };
	struct mqtt_packet p = { .type = MQTT_SUBSCRIBE };
	p.u.subscribe = (struct mqtt_subscribe){ .packet_id = 0x1234, .items = items, .count = 1 };
	check_encode(&p, V4, "82 06 1234 0001 70 00");
	check_encode(&p, V5, "82 07 1234 00 0001 70 00");
	p.u.subscribe.count = 2;
	check_encode(&p, V4, "82 0C 1234 0001 70 00 0003 612F23 02");   /* only the QoS bits */
	p.u.subscribe.props = S("\x0B\x01");
	check_encode(&p, V5, "82 0F 1234 02 0B01 0001 70 00 0003 612F23 2E");
	items[1].options = 0x03;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	items[1].options = 0x30;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V5), 0);
	items[1].options = 0x40;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V5), 0);
	p.u.subscribe.count = 0;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
}

static void test_encode_unsubscribe(void)
{
	struct mqtt_str filters[] = { S("test/subscribe"), S("q") };
	struct mqtt_packet p = { .type = MQTT_UNSUBSCRIBE };
	p.u.unsubscribe = (struct mqtt_unsubscribe){ .packet_id = 1, .filters = filters, .count = 1 };
	check_encode(&p, V4, "A2 12 0001 000E 746573742F737562736372696265");
	p.u.unsubscribe.props = S("\x26\x00\x03key\x00\x05value");
	check_encode(&p, V5, "A2 20 0001 0D 26 0003 6B6579 0005 76616C7565 000E 746573742F737562736372696265");
	p.u.unsubscribe.count = 2;
	p.u.unsubscribe.props = (struct mqtt_str){ 0 };
	check_encode(&p, V4, "A2 15 0001 000E 746573742F737562736372696265 0001 71");
	p.u.unsubscribe.filters = NULL;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
}

static void test_encode_suback_unsuback(void)
{
	struct mqtt_packet p = { .type = MQTT_SUBACK };
	p.u.suback = (struct mqtt_suback){ .packet_id = 7, .codes = S("\x00\x01\x80") };
	check_encode(&p, V4, "90 05 0007 00 01 80");
	check_encode(&p, V5, "90 06 0007 00 00 01 80");
	p.u.suback.codes = (struct mqtt_str){ 0 };
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.type = MQTT_UNSUBACK;
	check_encode(&p, V4, "B0 02 0007");
	p.u.suback.codes = S("\x00\x11");
	check_encode(&p, V4, "B0 02 0007");                 /* 3.x has no codes */
	check_encode(&p, V5, "B0 05 0007 00 00 11");
}

static void test_encode_empty_and_disconnect(void)
{
	struct mqtt_packet p = { .type = MQTT_PINGREQ };
	check_encode(&p, V4, "C0 00");
	check_encode(&p, V5, "C0 00");
	p.type = MQTT_PINGRESP;
	check_encode(&p, V4, "D0 00");
	p.type = MQTT_DISCONNECT;
	check_encode(&p, V4, "E0 00");
	check_encode(&p, V5, "E0 00");
	p.u.disconnect.reason = 0x04;
	check_encode(&p, V4, "E0 00");
	check_encode(&p, V5, "E0 01 04");
	p.u.disconnect.props = S("\x11\x00\x00\x00\x3C");
	check_encode(&p, V5, "E0 07 04 05 110000003C");
	p.type = MQTT_AUTH;
	p.u.disconnect.reason = 0x18;
	p.u.disconnect.props = S("\x15\x00\x01m");
	check_encode(&p, V5, "F0 06 18 04 1500016D");
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.u.disconnect = (struct mqtt_disconnect){ 0 };
	check_encode(&p, V5, "F0 00");
}

/* ---- what cannot be encoded ---- */

static void test_encode_refusals(void)
{
	static uint8_t small[4];
	struct mqtt_packet p = { .type = MQTT_PUBLISH };
	p.u.publish.topic = S("t");
	p.u.publish.qos = 3;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.u.publish.qos = 1;                                /* packet id 0 */
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.u.publish.qos = 0;
	p.u.publish.topic = (struct mqtt_str){ small, 65536 };  /* sizes never read the bytes */
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.u.publish.topic = (struct mqtt_str){ small, 65535 };
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 1 + 3 + 2 + 65535);
	p.u.publish.topic = S("t");
	p.u.publish.payload = (struct mqtt_str){ small, MQTT_MAX_REMAINING - 3 };
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 1 + 4 + MQTT_MAX_REMAINING);
	p.u.publish.payload.len++;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.u.publish.payload = (struct mqtt_str){ NULL, 3 };     /* bytes missing */
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	p.u.publish.payload = (struct mqtt_str){ 0 };
	p.u.publish.props = (struct mqtt_str){ small, MQTT_MAX_VARINT + 1u };
	CHECK_EQ_INT(mqtt_encoded_size(&p, V5), 0);
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 1 + 1 + 3);     /* 3.x ignores props */
	CHECK_EQ_INT(mqtt_encoded_size(&p, 6), 0);
	CHECK_EQ_INT(mqtt_encoded_size(&p, 2), 0);
	CHECK_EQ_INT(mqtt_encode(&p, V4, NULL, 100), 0);
	p.type = 0;
	CHECK_EQ_INT(mqtt_encoded_size(&p, V4), 0);
	struct mqtt_packet c = { .type = MQTT_CONNECT };
	c.u.connect.has_will = true;
	c.u.connect.will = (struct mqtt_will){ .topic = S("t"), .qos = 3 };
	CHECK_EQ_INT(mqtt_encoded_size(&c, V4), 0);
}

/* What we encode, we decode to the same fields. */
static void test_encode_decode_fields(void)
{
	uint8_t buf[128];
	struct mqtt_packet p = { .type = MQTT_PUBLISH }, q;
	size_t used;
	p.u.publish = (struct mqtt_publish){ .qos = 2, .retain = true, .packet_id = 513,
		.topic = S("x/y"), .props = S("\x02\x00\x00\x00\x3C"), .payload = S("hello") };
	size_t n = mqtt_encode(&p, V5, buf, sizeof buf);
	CHECK(n > 0);
	CHECK_EQ_INT(mqtt_decode(buf, n, V5, 0, &q, &used), MQTT_OK);
	CHECK_EQ_INT(used, n);
	CHECK_EQ_INT(q.u.publish.qos, 2);
	CHECK(q.u.publish.retain);
	CHECK(!q.u.publish.dup);
	CHECK_EQ_INT(q.u.publish.packet_id, 513);
	CHECK(str_eq(q.u.publish.topic, "x/y"));
	CHECK(str_eq(q.u.publish.payload, "hello"));
	CHECK_EQ_INT(q.u.publish.props.len, 5);
}

/* ---- result names and varints ---- */

static void test_result_names(void)
{
	CHECK(strcmp(mqtt_result_name(MQTT_OK), "ok") == 0);
	CHECK(strcmp(mqtt_result_name(MQTT_MALFORMED), "malformed packet") == 0);
	CHECK(strcmp(mqtt_result_name(MQTT_NOSPACE), "buffer too small") == 0);
	CHECK(mqtt_result_name(42) != NULL);
}

static void test_varint(void)
{
	static const struct { uint32_t v; size_t n; const char *hex; } cases[] = {
		{ 0, 1, "00" }, { 127, 1, "7F" }, { 128, 2, "8001" }, { 16383, 2, "FF7F" },
		{ 16384, 3, "808001" }, { 2097151, 3, "FFFF7F" }, { 2097152, 4, "80808001" },
		{ 268435455, 4, "FFFFFF7F" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t out[4];
		CHECK_EQ_INT(mqtt_varint_size(cases[i].v), cases[i].n);
		CHECK_EQ_INT(mqtt_varint_encode(cases[i].v, out), cases[i].n);
		hold_hex(cases[i].hex);
		CHECK_MEM(out, held, cases[i].n);
	}
	CHECK_EQ_INT(mqtt_varint_size(268435456u), 0);
	CHECK_EQ_INT(mqtt_varint_size(0xFFFFFFFFu), 0);
}

int main(void)
{
	RUN(test_valid_round_trip);
	RUN(test_every_prefix_incomplete);
	RUN(test_stream_of_packets);
	RUN(test_malformed_vectors);
	RUN(test_first_byte_alone);
	RUN(test_fixed_header);
	RUN(test_non_minimal_length_by_version);
	RUN(test_too_big);
	RUN(test_decode_connect_fields);
	RUN(test_decode_publish_fields);
	RUN(test_decode_ack_short_forms);
	RUN(test_decode_sub_lists);
	RUN(test_decode_connack_fields);
	RUN(test_encode_connect);
	RUN(test_encode_connack);
	RUN(test_encode_publish);
	RUN(test_encode_acks);
	RUN(test_encode_subscribe);
	RUN(test_encode_unsubscribe);
	RUN(test_encode_suback_unsuback);
	RUN(test_encode_empty_and_disconnect);
	RUN(test_encode_refusals);
	RUN(test_encode_decode_fields);
	RUN(test_result_names);
	RUN(test_varint);
	free(held);
	return test_report("codec");
}
