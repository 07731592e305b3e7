/*
 * mqtt_cursor.h - private to the codec (mqtt_codec.c, mqtt_props.c): a
 * bounded reader and a counting writer over byte buffers.
 *
 * Reader: every function checks that the bytes it needs are there (n <= left)
 * before it advances, and returns MQTT_MALFORMED when they are not: inside a
 * packet whose length is known, running short means the peer lied about it.
 *
 * Writer: with p == NULL it only counts, so one serializer both sizes and
 * writes a packet. It refuses (bad = true) anything that cannot be encoded.
 */
#ifndef LIA_MQTT_CURSOR_H
#define LIA_MQTT_CURSOR_H

#include <string.h>

#include "mqtt_codec.h"

struct mqtt_cursor {
	const uint8_t *ptr;
	size_t left;
};

static inline int mqtt_cur_take(struct mqtt_cursor *c, size_t n, struct mqtt_str *out)
{
	if (n > c->left)
		return MQTT_MALFORMED;
	out->ptr = c->ptr;
	out->len = n;
	if (n) {            /* NULL + 0 is undefined: an empty buffer may be NULL */
		c->ptr += n;
		c->left -= n;
	}
	return MQTT_OK;
}

static inline int mqtt_cur_u8(struct mqtt_cursor *c, uint8_t *out)
{
	if (c->left < 1)
		return MQTT_MALFORMED;
	*out = c->ptr[0];
	c->ptr++;
	c->left--;
	return MQTT_OK;
}

static inline int mqtt_cur_u16(struct mqtt_cursor *c, uint16_t *out)
{
	if (c->left < 2)
		return MQTT_MALFORMED;
	*out = (uint16_t)(c->ptr[0] << 8 | c->ptr[1]);
	c->ptr += 2;
	c->left -= 2;
	return MQTT_OK;
}

static inline int mqtt_cur_u32(struct mqtt_cursor *c, uint32_t *out)
{
	if (c->left < 4)
		return MQTT_MALFORMED;
	*out = (uint32_t)c->ptr[0] << 24 | (uint32_t)c->ptr[1] << 16 |
		(uint32_t)c->ptr[2] << 8 | c->ptr[3];
	c->ptr += 4;
	c->left -= 4;
	return MQTT_OK;
}

/* Variable byte integer inside a packet: at most 4 bytes and, as MQTT 5
 * requires [MQTT-1.5.5-1], minimal (a last byte of 0 after a continuation
 * encodes nothing). Only v5 fields use this reader. */
static inline int mqtt_cur_varint(struct mqtt_cursor *c, uint32_t *out)
{
	uint32_t v = 0;
	for (size_t i = 0; i < 4; i++) {
		uint8_t b;
		if (mqtt_cur_u8(c, &b) != MQTT_OK)
			return MQTT_MALFORMED;
		v |= (uint32_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80)) {
			if (i > 0 && b == 0)
				return MQTT_MALFORMED;
			*out = v;
			return MQTT_OK;
		}
	}
	return MQTT_MALFORMED;
}

/* Two-byte length then that many bytes (binary data). */
static inline int mqtt_cur_bin(struct mqtt_cursor *c, struct mqtt_str *out)
{
	uint16_t n;
	if (mqtt_cur_u16(c, &n) != MQTT_OK)
		return MQTT_MALFORMED;
	return mqtt_cur_take(c, n, out);
}

/* UTF-8 encoded string: binary data that must also be valid UTF-8. A present
 * empty string keeps a non-NULL ptr (just past its length), so it stays
 * distinct from "absent". */
static inline int mqtt_cur_utf8(struct mqtt_cursor *c, struct mqtt_str *out)
{
	if (mqtt_cur_bin(c, out) != MQTT_OK || !mqtt_utf8_valid(out->ptr, out->len))
		return MQTT_MALFORMED;
	return MQTT_OK;
}

struct mqtt_writer {
	uint8_t *p;         /* NULL: count only */
	size_t len;
	bool bad;
};

static inline void mqtt_wr_bytes(struct mqtt_writer *w, const uint8_t *src, size_t n)
{
	if (n > MQTT_MAX_REMAINING - w->len || (n && !src)) {
		w->bad = true;
		return;
	}
	if (w->p && n && !w->bad)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static inline void mqtt_wr_u8(struct mqtt_writer *w, uint8_t v)
{
	mqtt_wr_bytes(w, &v, 1);
}

static inline void mqtt_wr_u16(struct mqtt_writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	mqtt_wr_bytes(w, b, 2);
}

static inline void mqtt_wr_u32(struct mqtt_writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	mqtt_wr_bytes(w, b, 4);
}

static inline void mqtt_wr_varint(struct mqtt_writer *w, uint32_t v)
{
	uint8_t b[4];
	size_t n = mqtt_varint_encode(v, b);
	if (!n)
		w->bad = true;
	mqtt_wr_bytes(w, b, n);
}

/* Two-byte length prefix then the bytes; over 65535 cannot be encoded. */
static inline void mqtt_wr_bin(struct mqtt_writer *w, struct mqtt_str s)
{
	if (s.len > 0xFFFF) {
		w->bad = true;
		return;
	}
	mqtt_wr_u16(w, (uint16_t)s.len);
	mqtt_wr_bytes(w, s.ptr, s.len);
}

#endif
