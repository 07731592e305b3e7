/*
 * mqtt_codec.c - decode and encode MQTT 3.1, 3.1.1 and 5.0 packets.
 *
 * Decoding walks a bounded cursor (mqtt_cursor.h) over exactly the packet's
 * remaining length, so no field can run past the packet, and every decoder
 * ends by demanding that the fields filled the packet exactly. Where the spec
 * names the rule being enforced, its statement id is cited.
 *
 * "version" selects the layout: MQTT_V5 the 5.0 one, anything else the 3.x
 * one (3.1 and 3.1.1 differ only in CONNECT, which carries its own protocol
 * level: decoding a CONNECT ignores the version argument, so a broker can
 * decode it before it knows the version).
 *
 * Encoding runs each packet's serializer twice over a writer: once counting
 * (the size), once writing. The writer refuses what cannot be encoded.
 */
#include <string.h>

#include "mqtt_codec.h"
#include "mqtt_cursor.h"

#define CF_CLEAN 0x02
#define CF_WILL 0x04
#define CF_WILL_QOS_SHIFT 3
#define CF_WILL_RETAIN 0x20
#define CF_PASSWORD 0x40
#define CF_USERNAME 0x80

const char *mqtt_result_name(int result)
{
	switch (result) {
#define MQTT_X_NAME(name, value, text) case value: return text;
	MQTT_RESULT_LIST(MQTT_X_NAME)
#undef MQTT_X_NAME
	default: return "unknown result";
	}
}

size_t mqtt_varint_size(uint32_t v)
{
	if (v < 128u)
		return 1;
	if (v < 16384u)
		return 2;
	if (v < 2097152u)
		return 3;
	return v <= MQTT_MAX_VARINT ? 4 : 0;
}

size_t mqtt_varint_encode(uint32_t v, uint8_t *out)
{
	size_t n = mqtt_varint_size(v);
	for (size_t i = 0; i < n; i++) {
		out[i] = (uint8_t)((v & 0x7F) | (i + 1 < n ? 0x80 : 0));
		v >>= 7;
	}
	return n;
}

/* Bytes missing from the length are INCOMPLETE; a fourth length byte that
 * still has the continuation bit is MALFORMED whatever follows. */
int mqtt_decode_fixed_header(const uint8_t *buf, size_t len, uint8_t *first,
	uint32_t *remaining, size_t *header_len)
{
	uint32_t v = 0;
	for (size_t i = 0; i < 4; i++) {
		if (len < i + 2)
			return MQTT_INCOMPLETE;
		uint8_t b = buf[i + 1];
		v |= (uint32_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80)) {
			*first = buf[0];
			*remaining = v;
			*header_len = i + 2;
			return MQTT_OK;
		}
	}
	return MQTT_MALFORMED;
}

/* ---- decoding ----
 * Readers and decoders return MQTT_OK (0) or MQTT_MALFORMED, so a chain of
 * steps reads as "if (a || b || c) return MQTT_MALFORMED". */

static bool is_v5(uint8_t version)
{
	return version == MQTT_V5;
}

/* Fixed-header flags [MQTT-2.2.2-1, -2]; PUBLISH QoS 3 [MQTT-3.3.1-4] and
 * DUP on QoS 0 [MQTT-3.3.1-2]; AUTH exists only in v5; type 0 is reserved. */
static int check_first_byte(uint8_t b, uint8_t version)
{
	uint8_t type = b >> 4, flags = b & 0x0F;
	if (type == 0 || (type == MQTT_AUTH && !is_v5(version)))
		return MQTT_MALFORMED;
	if (type == MQTT_PUBLISH)
		return ((flags & 0x06) == 0x06 || (flags & 0x0E) == 0x08) ? MQTT_MALFORMED : MQTT_OK;
	bool two = type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE;
	return flags == (two ? 0x02 : 0x00) ? MQTT_OK : MQTT_MALFORMED;
}

static int dec_end(const struct mqtt_cursor *c)
{
	return c->left ? MQTT_MALFORMED : MQTT_OK;
}

static int dec_packet_id(struct mqtt_cursor *c, uint16_t *id)
{
	if (mqtt_cur_u16(c, id) != MQTT_OK || *id == 0)
		return MQTT_MALFORMED;
	return MQTT_OK;
}

/* Property length then the block, validated for the packet type. */
static int dec_props(struct mqtt_cursor *c, int type, struct mqtt_str *out)
{
	uint32_t n;
	if (mqtt_cur_varint(c, &n) || mqtt_cur_take(c, n, out))
		return MQTT_MALFORMED;
	return mqtt_props_validate(type, out->ptr, out->len) == MQTT_OK ? MQTT_OK : MQTT_MALFORMED;
}

/* v5 reason code and properties, each optional at the end of the packet
 * (PUBACK..PUBCOMP 3.4.2.1, DISCONNECT 3.14.2.1, AUTH 3.15.2.1). */
static int dec_reason_tail(struct mqtt_cursor *c, int type, uint8_t *reason, struct mqtt_str *props)
{
	if (c->left == 0)
		return MQTT_OK;
	if (mqtt_cur_u8(c, reason) || !mqtt_reason_valid(MQTT_V5, type, *reason))
		return MQTT_MALFORMED;
	if (c->left == 0)
		return MQTT_OK;
	if (dec_props(c, type, props))
		return MQTT_MALFORMED;
	return dec_end(c);
}

static bool str_is(struct mqtt_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Protocol name and level must agree [MQTT-3.1.2-1]; unknown levels are
 * refused here as we cannot know the layout of the rest. */
static int dec_protocol(struct mqtt_cursor *c, uint8_t *level)
{
	struct mqtt_str name;
	if (mqtt_cur_bin(c, &name) || mqtt_cur_u8(c, level))
		return MQTT_MALFORMED;
	if (*level == MQTT_V31)
		return str_is(name, "MQIsdp") ? MQTT_OK : MQTT_MALFORMED;
	if (*level == MQTT_V311 || *level == MQTT_V5)
		return str_is(name, "MQTT") ? MQTT_OK : MQTT_MALFORMED;
	return MQTT_MALFORMED;
}

static int dec_connect_flags(uint8_t f, struct mqtt_connect *k)
{
	uint8_t wqos = (f >> CF_WILL_QOS_SHIFT) & 3;
	if ((f & 0x01) || wqos == 3)            /* [MQTT-3.1.2-3], [MQTT-3.1.2-14] */
		return MQTT_MALFORMED;
	if (!(f & CF_WILL) && (wqos || (f & CF_WILL_RETAIN)))  /* [MQTT-3.1.2-11, -13, -15] */
		return MQTT_MALFORMED;
	/* [MQTT-3.1.2-22]; 3.1 and 5.0 allow a password without a user name */
	if (k->version == MQTT_V311 && (f & CF_PASSWORD) && !(f & CF_USERNAME))
		return MQTT_MALFORMED;
	k->clean = f & CF_CLEAN;
	k->has_will = f & CF_WILL;
	k->will.qos = wqos;
	k->will.retain = f & CF_WILL_RETAIN;
	return MQTT_OK;
}

static int dec_will(struct mqtt_cursor *c, uint8_t level, struct mqtt_will *w)
{
	if (is_v5(level) && dec_props(c, MQTT_PROPS_WILL, &w->props))
		return MQTT_MALFORMED;
	if (mqtt_cur_utf8(c, &w->topic) || !mqtt_topic_name_valid(w->topic.ptr, w->topic.len))
		return MQTT_MALFORMED;
	return mqtt_cur_bin(c, &w->payload);
}

static int dec_connect(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_connect *k = &out->u.connect;
	uint8_t f;
	(void)version;
	if (dec_protocol(c, &k->version) || mqtt_cur_u8(c, &f) || dec_connect_flags(f, k) ||
			mqtt_cur_u16(c, &k->keepalive))
		return MQTT_MALFORMED;
	if (is_v5(k->version) && dec_props(c, MQTT_CONNECT, &k->props))
		return MQTT_MALFORMED;
	if (mqtt_cur_utf8(c, &k->client_id) || (k->has_will && dec_will(c, k->version, &k->will)))
		return MQTT_MALFORMED;
	if ((f & CF_USERNAME) && mqtt_cur_utf8(c, &k->username))
		return MQTT_MALFORMED;
	if ((f & CF_PASSWORD) && mqtt_cur_bin(c, &k->password))
		return MQTT_MALFORMED;
	return dec_end(c);
}

static int dec_connack(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_connack *a = &out->u.connack;
	uint8_t f;
	if (mqtt_cur_u8(c, &f) || mqtt_cur_u8(c, &a->reason))
		return MQTT_MALFORMED;
	a->session_present = f & 0x01;
	if ((f & 0xFE) || !mqtt_reason_valid(version, MQTT_CONNACK, a->reason))  /* [MQTT-3.2.2-1] */
		return MQTT_MALFORMED;
	if (a->session_present && a->reason)    /* [MQTT-3.2.2-4], v5 [MQTT-3.2.2-6] */
		return MQTT_MALFORMED;
	if (!is_v5(version))
		return dec_end(c);
	/* Bytes after the properties are tolerated in v5 CONNACK only: the
	 * conformance corpus (CONNACK.json, "v5.0 CONNACK" / "20 long",
	 * 20 04 00 00 00 00) expects the client to stay connected, while the
	 * same trailing byte in a v5 PUBACK ("40 long") must disconnect. */
	return dec_props(c, MQTT_CONNACK, &a->props);
}

/* An empty topic is only legal in v5 with a Topic Alias (3.3.2.1); names
 * must be UTF-8 [MQTT-1.5.3-1] without wildcards [MQTT-3.3.2-2]. */
static bool publish_topic_ok(uint8_t version, const struct mqtt_publish *m)
{
	struct mqtt_prop alias;
	if (m->topic.len)
		return mqtt_topic_name_valid(m->topic.ptr, m->topic.len);
	return is_v5(version) && mqtt_props_find(m->props, MQTT_PROP_TOPIC_ALIAS, &alias) == 1;
}

static int dec_publish(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_publish *m = &out->u.publish;
	m->qos = (out->flags >> 1) & 3;
	m->dup = out->flags & 0x08;
	m->retain = out->flags & 0x01;
	/* the topic's UTF-8 is checked once, with its wildcards, below */
	if (mqtt_cur_bin(c, &m->topic) || (m->qos && dec_packet_id(c, &m->packet_id)))
		return MQTT_MALFORMED;
	if (is_v5(version) && dec_props(c, MQTT_PUBLISH, &m->props))
		return MQTT_MALFORMED;
	if (!publish_topic_ok(version, m))
		return MQTT_MALFORMED;
	return mqtt_cur_take(c, c->left, &m->payload);
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
static int dec_ack(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_ack *a = &out->u.ack;
	if (dec_packet_id(c, &a->packet_id))
		return MQTT_MALFORMED;
	if (!is_v5(version))
		return dec_end(c);
	return dec_reason_tail(c, out->type, &a->reason, &a->props);
}

int mqtt_sub_next(struct mqtt_str list, size_t *off, struct mqtt_sub_item *out)
{
	struct mqtt_cursor c;
	if (*off > list.len)
		return MQTT_MALFORMED;
	if (*off == list.len)
		return 0;
	c = (struct mqtt_cursor){ list.ptr + *off, list.len - *off };
	if (mqtt_cur_utf8(&c, &out->filter) || mqtt_cur_u8(&c, &out->options))
		return MQTT_MALFORMED;
	*off = list.len - c.left;
	return 1;
}

int mqtt_unsub_next(struct mqtt_str list, size_t *off, struct mqtt_str *out)
{
	struct mqtt_cursor c;
	if (*off > list.len)
		return MQTT_MALFORMED;
	if (*off == list.len)
		return 0;
	c = (struct mqtt_cursor){ list.ptr + *off, list.len - *off };
	if (mqtt_cur_utf8(&c, out))
		return MQTT_MALFORMED;
	*off = list.len - c.left;
	return 1;
}

static bool filter_is_shared(struct mqtt_str f)
{
	return f.len >= 7 && memcmp(f.ptr, "$share/", 7) == 0;
}

/* Subscription options: QoS 3 [MQTT-3.8.3-4 (3.1.1)]; 3.x reserved bits
 * [MQTT-3.8.3-4]; v5 reserved bits [MQTT-3.8.3-5], retain handling 3, and
 * no-local on a shared subscription [MQTT-3.8.3-4 (5.0)]. */
static bool sub_options_ok(uint8_t version, const struct mqtt_sub_item *it)
{
	uint8_t o = it->options;
	if ((o & 3) == 3)
		return false;
	if (!is_v5(version))
		return !(o & 0xFC);
	if ((o & 0xC0) || ((o >> MQTT_SUB_RH_SHIFT) & 3) == 3)
		return false;
	return !((o & MQTT_SUB_NO_LOCAL) && filter_is_shared(it->filter));
}

static int dec_subscribe(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_subscribe *s = &out->u.subscribe;
	struct mqtt_sub_item it;
	size_t off = 0;
	int r;
	if (dec_packet_id(c, &s->packet_id))
		return MQTT_MALFORMED;
	if (is_v5(version) && dec_props(c, MQTT_SUBSCRIBE, &s->props))
		return MQTT_MALFORMED;
	mqtt_cur_take(c, c->left, &s->list);
	while ((r = mqtt_sub_next(s->list, &off, &it)) == 1) {
		if (!mqtt_topic_filter_valid(it.filter.ptr, it.filter.len) || !sub_options_ok(version, &it))
			return MQTT_MALFORMED;
		s->count++;
	}
	return r == 0 && s->count ? MQTT_OK : MQTT_MALFORMED;  /* [MQTT-3.8.3-3] */
}

static int dec_unsubscribe(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_unsubscribe *s = &out->u.unsubscribe;
	struct mqtt_str f;
	size_t off = 0;
	int r;
	if (dec_packet_id(c, &s->packet_id))
		return MQTT_MALFORMED;
	if (is_v5(version) && dec_props(c, MQTT_UNSUBSCRIBE, &s->props))
		return MQTT_MALFORMED;
	mqtt_cur_take(c, c->left, &s->list);
	while ((r = mqtt_unsub_next(s->list, &off, &f)) == 1) {
		if (!mqtt_topic_filter_valid(f.ptr, f.len))
			return MQTT_MALFORMED;
		s->count++;
	}
	return r == 0 && s->count ? MQTT_OK : MQTT_MALFORMED;  /* [MQTT-3.10.3-2] */
}

/*
 * SUBACK and UNSUBACK. A SUBACK carries at least one valid code. A v5
 * UNSUBACK's codes are passed through unchecked, and may be absent: the
 * conformance corpus (UNSUBACK.json, "v5.0 UNSUBACK" cases "B0" =
 * B0 03 0001 00 and "B0 reason code 0xFF unknown" = B0 04 0001 00 FF) expects
 * a client to stay connected on both. The session layer judges the count.
 */
static int dec_suback(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_suback *a = &out->u.suback;
	if (dec_packet_id(c, &a->packet_id))
		return MQTT_MALFORMED;
	if (is_v5(version) && dec_props(c, out->type, &a->props))
		return MQTT_MALFORMED;
	mqtt_cur_take(c, c->left, &a->codes);
	if (out->type == MQTT_UNSUBACK)
		return is_v5(version) || a->codes.len == 0 ? MQTT_OK : MQTT_MALFORMED;
	if (a->codes.len == 0)
		return MQTT_MALFORMED;
	for (size_t i = 0; i < a->codes.len; i++)
		if (!mqtt_reason_valid(version, MQTT_SUBACK, a->codes.ptr[i]))
			return MQTT_MALFORMED;
	return MQTT_OK;
}

static int dec_empty(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	(void)version;
	(void)out;
	return dec_end(c);
}

/* DISCONNECT and AUTH (AUTH never reaches here outside v5). */
static int dec_disconnect(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out)
{
	struct mqtt_disconnect *d = &out->u.disconnect;
	if (!is_v5(version))
		return dec_end(c);
	return dec_reason_tail(c, out->type, &d->reason, &d->props);
}

typedef int decode_fn(struct mqtt_cursor *c, uint8_t version, struct mqtt_packet *out);

static decode_fn *const decoders[16] = {
	[MQTT_CONNECT] = dec_connect, [MQTT_CONNACK] = dec_connack,
	[MQTT_PUBLISH] = dec_publish, [MQTT_PUBACK] = dec_ack, [MQTT_PUBREC] = dec_ack,
	[MQTT_PUBREL] = dec_ack, [MQTT_PUBCOMP] = dec_ack, [MQTT_SUBSCRIBE] = dec_subscribe,
	[MQTT_SUBACK] = dec_suback, [MQTT_UNSUBSCRIBE] = dec_unsubscribe,
	[MQTT_UNSUBACK] = dec_suback, [MQTT_PINGREQ] = dec_empty, [MQTT_PINGRESP] = dec_empty,
	[MQTT_DISCONNECT] = dec_disconnect, [MQTT_AUTH] = dec_disconnect,
};

/* The first byte is judged as soon as it arrives; the size before the body
 * is needed; in v5 the remaining length must be minimal [MQTT-1.5.5-1]. */
int mqtt_decode(const uint8_t *buf, size_t len, uint8_t version, uint32_t max_size,
	struct mqtt_packet *out, size_t *consumed)
{
	uint8_t first;
	uint32_t rem;
	size_t hl;
	int r;
	if (len && check_first_byte(buf[0], version))
		return MQTT_MALFORMED;
	if ((r = mqtt_decode_fixed_header(buf, len, &first, &rem, &hl)) != MQTT_OK)
		return r;
	if (is_v5(version) && hl != 1 + mqtt_varint_size(rem))
		return MQTT_MALFORMED;
	if (max_size && hl + rem > max_size)
		return MQTT_TOO_BIG;
	if (len - hl < rem)
		return MQTT_INCOMPLETE;
	memset(out, 0, sizeof *out);
	out->type = first >> 4;
	out->flags = first & 0x0F;
	struct mqtt_cursor c = { buf + hl, rem };
	if (decoders[out->type](&c, version, out) != MQTT_OK)
		return MQTT_MALFORMED;
	*consumed = hl + rem;
	return MQTT_OK;
}

/* ---- encoding ---- */

static void enc_props(struct mqtt_writer *w, struct mqtt_str props)
{
	if (props.len > MQTT_MAX_VARINT) {
		w->bad = true;
		return;
	}
	mqtt_wr_varint(w, (uint32_t)props.len);
	mqtt_wr_bytes(w, props.ptr, props.len);
}

static void enc_packet_id(struct mqtt_writer *w, uint16_t id)
{
	if (id == 0)
		w->bad = true;
	mqtt_wr_u16(w, id);
}

/* v5 short forms: nothing when the reason is 0 without properties, the
 * reason alone when there are no properties. */
static void enc_reason_tail(struct mqtt_writer *w, uint8_t reason, struct mqtt_str props)
{
	if (reason == 0 && props.len == 0)
		return;
	mqtt_wr_u8(w, reason);
	if (props.len)
		enc_props(w, props);
}

static uint8_t connect_flags(const struct mqtt_connect *k)
{
	uint8_t f = k->clean ? CF_CLEAN : 0;
	if (k->has_will)
		f |= (uint8_t)(CF_WILL | k->will.qos << CF_WILL_QOS_SHIFT | (k->will.retain ? CF_WILL_RETAIN : 0));
	if (k->username.ptr)
		f |= CF_USERNAME;
	if (k->password.ptr)
		f |= CF_PASSWORD;
	return f;
}

static void enc_connect(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	static const struct mqtt_str mqisdp = { (const uint8_t *)"MQIsdp", 6 };
	static const struct mqtt_str mqtt = { (const uint8_t *)"MQTT", 4 };
	const struct mqtt_connect *k = &p->u.connect;
	if ((k->has_will && k->will.qos > 2) ||
			(version == MQTT_V311 && k->password.ptr && !k->username.ptr))  /* [MQTT-3.1.2-22] */
		w->bad = true;
	mqtt_wr_bin(w, version == MQTT_V31 ? mqisdp : mqtt);
	mqtt_wr_u8(w, version);
	mqtt_wr_u8(w, connect_flags(k));
	mqtt_wr_u16(w, k->keepalive);
	if (is_v5(version))
		enc_props(w, k->props);
	mqtt_wr_bin(w, k->client_id);
	if (k->has_will) {
		if (is_v5(version))
			enc_props(w, k->will.props);
		mqtt_wr_bin(w, k->will.topic);
		mqtt_wr_bin(w, k->will.payload);
	}
	if (k->username.ptr)
		mqtt_wr_bin(w, k->username);
	if (k->password.ptr)
		mqtt_wr_bin(w, k->password);
}

static void enc_connack(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	mqtt_wr_u8(w, p->u.connack.session_present ? 1 : 0);
	mqtt_wr_u8(w, p->u.connack.reason);
	if (is_v5(version))
		enc_props(w, p->u.connack.props);
}

static void enc_publish(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	const struct mqtt_publish *m = &p->u.publish;
	if (m->qos > 2)
		w->bad = true;
	mqtt_wr_bin(w, m->topic);
	if (m->qos)
		enc_packet_id(w, m->packet_id);
	if (is_v5(version))
		enc_props(w, m->props);
	mqtt_wr_bytes(w, m->payload.ptr, m->payload.len);
}

static void enc_ack(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	enc_packet_id(w, p->u.ack.packet_id);
	if (is_v5(version))
		enc_reason_tail(w, p->u.ack.reason, p->u.ack.props);
}

/* 3.x sends only the QoS bits of the options; v5 refuses reserved bits,
 * retain handling 3 and QoS 3 rather than send what a server must reject. */
static void enc_sub_options(struct mqtt_writer *w, uint8_t o, uint8_t version)
{
	if ((o & 3) == 3 || (is_v5(version) && ((o & 0xC0) || ((o >> MQTT_SUB_RH_SHIFT) & 3) == 3)))
		w->bad = true;
	mqtt_wr_u8(w, is_v5(version) ? o : (uint8_t)(o & 3));
}

static void enc_subscribe(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	const struct mqtt_subscribe *s = &p->u.subscribe;
	if (s->count == 0 || !s->items)
		w->bad = true;
	enc_packet_id(w, s->packet_id);
	if (is_v5(version))
		enc_props(w, s->props);
	for (size_t i = 0; i < s->count && !w->bad; i++) {
		mqtt_wr_bin(w, s->items[i].filter);
		enc_sub_options(w, s->items[i].options, version);
	}
}

static void enc_unsubscribe(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	const struct mqtt_unsubscribe *s = &p->u.unsubscribe;
	if (s->count == 0 || !s->filters)
		w->bad = true;
	enc_packet_id(w, s->packet_id);
	if (is_v5(version))
		enc_props(w, s->props);
	for (size_t i = 0; i < s->count && !w->bad; i++)
		mqtt_wr_bin(w, s->filters[i]);
}

/* SUBACK needs a code per filter; a 3.x UNSUBACK has none to send. */
static void enc_suback(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	const struct mqtt_suback *a = &p->u.suback;
	if (p->type == MQTT_SUBACK && a->codes.len == 0)
		w->bad = true;
	enc_packet_id(w, a->packet_id);
	if (is_v5(version))
		enc_props(w, a->props);
	if (is_v5(version) || p->type == MQTT_SUBACK)
		mqtt_wr_bytes(w, a->codes.ptr, a->codes.len);
}

static void enc_empty(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	(void)w;
	(void)p;
	(void)version;
}

static void enc_disconnect(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version)
{
	if (is_v5(version))
		enc_reason_tail(w, p->u.disconnect.reason, p->u.disconnect.props);
}

typedef void encode_fn(struct mqtt_writer *w, const struct mqtt_packet *p, uint8_t version);

static encode_fn *const encoders[16] = {
	[MQTT_CONNECT] = enc_connect, [MQTT_CONNACK] = enc_connack,
	[MQTT_PUBLISH] = enc_publish, [MQTT_PUBACK] = enc_ack, [MQTT_PUBREC] = enc_ack,
	[MQTT_PUBREL] = enc_ack, [MQTT_PUBCOMP] = enc_ack, [MQTT_SUBSCRIBE] = enc_subscribe,
	[MQTT_SUBACK] = enc_suback, [MQTT_UNSUBSCRIBE] = enc_unsubscribe,
	[MQTT_UNSUBACK] = enc_suback, [MQTT_PINGREQ] = enc_empty, [MQTT_PINGRESP] = enc_empty,
	[MQTT_DISCONNECT] = enc_disconnect, [MQTT_AUTH] = enc_disconnect,
};

static encode_fn *encoder_for(const struct mqtt_packet *p, uint8_t version)
{
	if (version < MQTT_V31 || version > MQTT_V5 || p->type >= 16)
		return NULL;
	if (p->type == MQTT_AUTH && !is_v5(version))
		return NULL;
	return encoders[p->type];
}

static uint8_t first_byte(const struct mqtt_packet *p)
{
	const struct mqtt_publish *m = &p->u.publish;
	uint8_t flags = 0;
	if (p->type == MQTT_PUBLISH)
		flags = (uint8_t)((m->dup ? 0x08 : 0) | m->qos << 1 | (m->retain ? 0x01 : 0));
	else if (p->type == MQTT_PUBREL || p->type == MQTT_SUBSCRIBE || p->type == MQTT_UNSUBSCRIBE)
		flags = 0x02;
	return (uint8_t)(p->type << 4 | flags);
}

/* Remaining length of p, or -1 when it cannot be encoded. */
static long body_size(encode_fn *fn, const struct mqtt_packet *p, uint8_t version)
{
	struct mqtt_writer w = { 0 };
	if (!fn)
		return -1;
	fn(&w, p, version);
	return w.bad ? -1 : (long)w.len;
}

size_t mqtt_encoded_size(const struct mqtt_packet *p, uint8_t version)
{
	long body = body_size(encoder_for(p, version), p, version);
	if (body < 0)
		return 0;
	return 1 + mqtt_varint_size((uint32_t)body) + (size_t)body;
}

size_t mqtt_encode(const struct mqtt_packet *p, uint8_t version, uint8_t *buf, size_t cap)
{
	encode_fn *fn = encoder_for(p, version);
	long body = body_size(fn, p, version);
	if (body < 0 || !buf)
		return 0;
	size_t hl = 1 + mqtt_varint_size((uint32_t)body);
	if (cap < hl || cap - hl < (size_t)body)
		return 0;
	buf[0] = first_byte(p);
	mqtt_varint_encode((uint32_t)body, buf + 1);
	struct mqtt_writer w = { .p = buf + hl };
	fn(&w, p, version);
	return hl + (size_t)body;
}
