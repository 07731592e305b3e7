/*
 * mqtt_topic.c - UTF-8 validation, topic name / filter validation and
 * matching (MQTT 3.1.1 and 5.0 section 4.7).
 */
#include <string.h>

#include "mqtt_codec.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

/* Length of the well-formed sequence at s (1..4), 0 when it is not one:
 * truncated, bad continuation, overlong, surrogate, > U+10FFFF or U+0000. */
static size_t utf8_seq(const uint8_t *s, size_t left)
{
	static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint8_t c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return c ? 1 : 0;
	if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1Fu; }
	else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0Fu; }
	else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07u; }
	else return 0;
	if (n > left)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3Fu);
	}
	if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Bytes at s that are ASCII and not U+0000, eight at a time: topics are
 * nearly always ASCII, and every message in and out is checked. */
static size_t ascii_run(const uint8_t *s, size_t len)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		/* a byte >= 0x80, or a zero byte (the classic haszero test) */
		if ((v | ((v - ones) & ~v)) & highs)
			break;
	}
	while (i < len && s[i] - 1u < 0x7Fu)
		i++;
	return i;
}

bool mqtt_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		i += ascii_run(s + i, len - i);
		if (i == len)
			break;
		size_t n = utf8_seq(s + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

static bool topic_common_valid(const uint8_t *s, size_t len)
{
	return s && len >= 1 && len <= 0xFFFF && mqtt_utf8_valid(s, len);
}

bool mqtt_topic_name_valid(const uint8_t *s, size_t len)
{
	return topic_common_valid(s, len) && !memchr(s, '+', len) && !memchr(s, '#', len);
}

static bool is_shared(const uint8_t *s, size_t len)
{
	return len >= SHARE_PREFIX_LEN && memcmp(s, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

/* Wildcards: '+' fills a whole level, '#' fills the whole last level. */
static bool wildcards_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		bool starts = i == 0 || s[i - 1] == '/';
		bool ends = i + 1 == len || s[i + 1] == '/';
		if (s[i] == '+' && !(starts && ends))
			return false;
		if (s[i] == '#' && !(starts && i + 1 == len))
			return false;
	}
	return true;
}

/*
 * "$share/{name}/{filter}" [MQTT-4.8.2-1, -2]: the share name is at least one
 * character without '/', '+' or '#', and a filter follows. Applied in every
 * version: in 3.x such a filter is legal but would mean something else to the
 * brokers that support shared subscriptions there, so we refuse it.
 */
static bool shared_valid(const uint8_t *s, size_t len)
{
	const uint8_t *name = s + SHARE_PREFIX_LEN;
	size_t rest = len - SHARE_PREFIX_LEN;
	const uint8_t *slash = memchr(name, '/', rest);
	if (!slash || slash == name)
		return false;
	size_t nlen = (size_t)(slash - name);
	if (memchr(name, '+', nlen) || memchr(name, '#', nlen))
		return false;
	return nlen + 1 < rest && wildcards_valid(slash + 1, rest - nlen - 1);
}

bool mqtt_topic_filter_valid(const uint8_t *s, size_t len)
{
	if (!topic_common_valid(s, len))
		return false;
	if (is_shared(s, len))
		return shared_valid(s, len);
	return wildcards_valid(s, len);
}

/* One level of a filter at f[*i] against the topic at t[*j]; both end on the
 * next '/' or at their end. */
static bool level_matches(const uint8_t *f, size_t flen, size_t *i,
	const uint8_t *t, size_t tlen, size_t *j)
{
	if (*i < flen && f[*i] == '+') {
		(*i)++;
		while (*j < tlen && t[*j] != '/')
			(*j)++;
		return *i == flen || f[*i] == '/';
	}
	while (*i < flen && *j < tlen && f[*i] != '/' && f[*i] == t[*j]) {
		(*i)++;
		(*j)++;
	}
	return (*i == flen || f[*i] == '/') && (*j == tlen || t[*j] == '/');
}

bool mqtt_topic_matches(const uint8_t *f, size_t flen, const uint8_t *t, size_t tlen)
{
	size_t i = 0, j = 0;
	if (is_shared(f, flen)) {
		const uint8_t *slash = memchr(f + SHARE_PREFIX_LEN, '/', flen - SHARE_PREFIX_LEN);
		if (!slash)
			return false;
		flen -= (size_t)(slash + 1 - f);
		f = slash + 1;
	}
	if (!f || !t || flen == 0 || (tlen && t[0] == '$' && (f[0] == '+' || f[0] == '#')))
		return false;
	for (;;) {
		if (i < flen && f[i] == '#')
			return i + 1 == flen;
		if (!level_matches(f, flen, &i, t, tlen, &j))
			return false;
		if (i == flen || j == tlen)
			break;
		i++;        /* both are on a '/' */
		j++;
	}
	/* "a/#" also matches its parent "a" [MQTT-4.7.1-2] */
	if (i < flen && j == tlen)
		return flen - i == 2 && f[i + 1] == '#';
	return i == flen && j == tlen;
}
