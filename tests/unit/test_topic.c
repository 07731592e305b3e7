/*
 * test_topic.c - UTF-8 validation (MQTT 1.5.4), topic name and filter
 * validation and matching (MQTT 4.7), shared subscriptions (4.8.2).
 */
#include <stdlib.h>

#include "mqtt_codec.h"
#include "test.h"

/* Run f over an exact-size heap copy so ASan sees any overread. */
static bool on_heap(bool (*f)(const uint8_t *, size_t), const char *s, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);
	memcpy(b, s, len);
	bool r = f(len ? b : NULL, len);
	free(b);
	return r;
}

static void test_utf8(void)
{
	static const struct { const char *s; size_t len; bool ok; } cases[] = {
		{ "", 0, true },
		{ "plain/ascii", 11, true },
		{ "\xC2\xA9", 2, true },                 /* U+00A9 */
		{ "\xC2\x9F", 2, true },                 /* U+009F: a SHOULD NOT, allowed */
		{ "\x01\x1F\x7F", 3, true },             /* controls: SHOULD NOT, allowed */
		{ "\xE2\x82\xAC", 3, true },             /* U+20AC */
		{ "\xEF\xBF\xBF", 3, true },             /* U+FFFF noncharacter: allowed */
		{ "\xED\x9F\xBF", 3, true },             /* U+D7FF */
		{ "\xEE\x80\x80", 3, true },             /* U+E000 */
		{ "\xF0\x9F\x98\x80", 4, true },         /* U+1F600 */
		{ "\xF4\x8F\xBF\xBF", 4, true },         /* U+10FFFF */
		{ "a\0b", 3, false },                    /* U+0000 [MQTT-1.5.4-2] */
		{ "\xC0\x80", 2, false },                /* overlong U+0000 */
		{ "\xC1\xBF", 2, false },                /* overlong */
		{ "\xE0\x80\xAF", 3, false },            /* overlong '/' */
		{ "\xE0\x9F\xBF", 3, false },            /* overlong U+07FF */
		{ "\xF0\x8F\xBF\xBF", 4, false },        /* overlong U+FFFF */
		{ "\xED\xA0\x80", 3, false },            /* U+D800 [MQTT-1.5.4-1] */
		{ "\xED\xBF\xBF", 3, false },            /* U+DFFF */
		{ "\xF4\x90\x80\x80", 4, false },        /* U+110000 */
		{ "\xF5\x80\x80\x80", 4, false },
		{ "\xF8\x88\x80\x80\x80", 5, false },    /* 5-byte form */
		{ "\xFF", 1, false },
		{ "\x80", 1, false },                    /* lone continuation */
		{ "\xC2", 1, false },                    /* truncated */
		{ "\xE2\x82", 2, false },
		{ "\xF0\x9F\x98", 3, false },
		{ "\xC2\x41", 2, false },                /* bad continuation */
		{ "\xE2\x28\xA1", 3, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = on_heap(mqtt_utf8_valid, cases[i].s, cases[i].len);
		if (got != cases[i].ok)
			fprintf(stderr, "  utf8 case %zu\n", i);
		CHECK(got == cases[i].ok);
	}
	/* the same cases inside ASCII, at every place in and across the
	 * eight-byte words that the ASCII runs are read by */
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (size_t pre = 0; pre <= 17; pre++) {
			for (size_t post = 0; post <= 9; post++) {
				char b[40];
				memset(b, 'a', sizeof b);
				memcpy(b + pre, cases[i].s, cases[i].len);
				bool got = on_heap(mqtt_utf8_valid, b, pre + cases[i].len + post);
				if (got != cases[i].ok)
					fprintf(stderr, "  utf8 case %zu after %zu, before %zu bytes\n", i, pre, post);
				CHECK(got == cases[i].ok);
			}
		}
	}
}

static void test_topic_names(void)
{
	static const struct { const char *s; bool ok; } cases[] = {
		{ "a", true }, { "/", true }, { "a/b/c", true }, { "//", true }, { "$SYS/x", true },
		{ "sport/tennis player1", true }, { "", false }, { "+", false }, { "a/+/b", false },
		{ "#", false }, { "a/#", false }, { "a#", false }, { "a+", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK(on_heap(mqtt_topic_name_valid, cases[i].s, strlen(cases[i].s)) == cases[i].ok);
	CHECK(!on_heap(mqtt_topic_name_valid, "a\0b", 3));
	CHECK(!on_heap(mqtt_topic_name_valid, "\xED\xA0\x80", 3));
	char *big = malloc(65536);
	memset(big, 'a', 65536);
	CHECK(mqtt_topic_name_valid((const uint8_t *)big, 65535));
	CHECK(!mqtt_topic_name_valid((const uint8_t *)big, 65536));
	free(big);
}

static void test_topic_filters(void)
{
	static const struct { const char *s; bool ok; } cases[] = {
		{ "a", true }, { "#", true }, { "+", true }, { "a/#", true }, { "+/+", true },
		{ "/+", true }, { "+/", true }, { "a/+/b", true }, { "sport/+/player1", true },
		{ "/", true }, { "$SYS/#", true },
		{ "", false }, { "a#", false }, { "a/#/b", false }, { "#/", false }, { "a+", false },
		{ "a/b+", false }, { "+a/b", false }, { "##", false }, { "a/++", false },
		{ "$share/g/a/b", true }, { "$share/g/#", true }, { "$share/g/+/x", true },
		{ "$share//a", false }, { "$share/g", false }, { "$share/g/", false },
		{ "$share/+/a", false }, { "$share/#/a", false }, { "$share/g+/a", false },
		{ "$share/g/a#", false }, { "$shared/g/a", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = on_heap(mqtt_topic_filter_valid, cases[i].s, strlen(cases[i].s));
		if (got != cases[i].ok)
			fprintf(stderr, "  filter '%s'\n", cases[i].s);
		CHECK(got == cases[i].ok);
	}
	CHECK(!on_heap(mqtt_topic_filter_valid, "a/\0", 3));
}

static bool match(const char *f, const char *t)
{
	size_t fl = strlen(f), tl = strlen(t);
	uint8_t *fb = malloc(fl ? fl : 1), *tb = malloc(tl ? tl : 1);
	memcpy(fb, f, fl);
	memcpy(tb, t, tl);
	bool r = mqtt_topic_matches(fb, fl, tb, tl);
	free(fb);
	free(tb);
	return r;
}

static void test_matching(void)
{
	static const struct { const char *f, *t; bool ok; } cases[] = {
		{ "a/b", "a/b", true }, { "a/b", "a/c", false }, { "a/b", "a/bc", false },
		{ "a/bc", "a/b", false }, { "a/b", "a", false }, { "a", "a/b", false },
		{ "#", "a", true }, { "#", "a/b/c", true }, { "#", "/", true },
		{ "a/#", "a", true },                   /* parent level [MQTT-4.7.1-2] */
		{ "a/#", "a/", true }, { "a/#", "a/b/c", true }, { "a/#", "ab", false },
		{ "a/#", "b/a", false }, { "a/b/#", "a", false },
		{ "+", "a", true }, { "+", "a/b", false }, { "+", "/", false }, { "+/+", "/", true },
		{ "/+", "/a", true }, { "+/a", "x/a", true }, { "a/+", "a/", true }, { "a/+", "a", false },
		{ "a/+/c", "a/b/c", true }, { "a/+/c", "a/b/d", false }, { "a/+/c", "a//c", true },
		{ "+/#", "a", true }, { "+/#", "a/b/c", true },
		{ "sport/tennis/+", "sport/tennis/player1", true },
		{ "sport/tennis/+", "sport/tennis/player1/ranking", false },
		{ "sport/+", "sport", false }, { "sport/+", "sport/", true },
		/* '$' topics and first-level wildcards [MQTT-4.7.2-1] */
		{ "#", "$SYS/x", false }, { "+/x", "$SYS/x", false }, { "+", "$SYS", false },
		{ "$SYS/#", "$SYS/x", true }, { "$SYS/+", "$SYS/x", true }, { "a/#", "a/$x", true },
		/* shared subscriptions match as their filter */
		{ "$share/g/a/+", "a/b", true }, { "$share/g/#", "x/y", true },
		{ "$share/g/a", "$share/g/a", false }, { "$share/g", "g", false },
		{ "$share/g/#", "$SYS/x", false },
		/* invalid filters never match */
		{ "a+", "ab", false }, { "+a", "ba", false }, { "#/a", "x/a", false }, { "", "", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = match(cases[i].f, cases[i].t);
		if (got != cases[i].ok)
			fprintf(stderr, "  '%s' vs '%s': %d\n", cases[i].f, cases[i].t, got);
		CHECK(got == cases[i].ok);
	}
}

int main(void)
{
	RUN(test_utf8);
	RUN(test_topic_names);
	RUN(test_topic_filters);
	RUN(test_matching);
	return test_report("topic");
}
