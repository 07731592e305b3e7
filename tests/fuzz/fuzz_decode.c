/*
 * fuzz_decode.c - libFuzzer target over the MQTT decoder. The first byte
 * picks the protocol level (3, 4, 5) and the size limit; the rest is fed to
 * mqtt_decode packet after packet. Every packet that decodes must also walk
 * its property block and lists, and re-encode to a packet that decodes to
 * the same type: the decoder's views must be in bounds and self-consistent.
 * Each is also formatted as the -d packet trace (core/mqtt_trace.c).
 */
#include <stdlib.h>
#include <string.h>

#include "mqtt_codec.h"
#include "mqtt_trace.h"

static void walk(const struct mqtt_packet *p)
{
	struct mqtt_prop pr;
	struct mqtt_sub_item it;
	struct mqtt_str f;
	size_t off = 0;
	struct mqtt_str props = { 0 };
	switch (p->type) {
	case MQTT_CONNECT: props = p->u.connect.props; break;
	case MQTT_CONNACK: props = p->u.connack.props; break;
	case MQTT_PUBLISH: props = p->u.publish.props; break;
	case MQTT_SUBACK: case MQTT_UNSUBACK: props = p->u.suback.props; break;
	case MQTT_DISCONNECT: case MQTT_AUTH: props = p->u.disconnect.props; break;
	case MQTT_SUBSCRIBE:
		props = p->u.subscribe.props;
		while (mqtt_sub_next(p->u.subscribe.list, &off, &it) == 1)
			(void)mqtt_topic_filter_valid(it.filter.ptr, it.filter.len);
		off = 0;
		break;
	case MQTT_UNSUBSCRIBE:
		props = p->u.unsubscribe.props;
		while (mqtt_unsub_next(p->u.unsubscribe.list, &off, &f) == 1)
			;
		off = 0;
		break;
	default:
		if (p->type >= MQTT_PUBACK && p->type <= MQTT_PUBCOMP)
			props = p->u.ack.props;
	}
	while (mqtt_props_next(props, &off, &pr) == 1)
		(void)mqtt_prop_name(pr.id);
	/* the -d trace of every packet, both directions: views read in bounds */
	char line[512];
	(void)mqtt_trace_format(p, true, line, sizeof line);
	(void)mqtt_trace_format(p, false, line, sizeof line);
}

static void reencode(const struct mqtt_packet *p, uint8_t version)
{
	static uint8_t out[1 << 20];
	struct mqtt_packet back;
	size_t used, n = mqtt_encoded_size(p, version);
	if (!n || n > sizeof out)
		return;
	if (mqtt_encode(p, version, out, sizeof out) != n)
		abort();
	if (mqtt_decode(out, n, version, 0, &back, &used) == MQTT_OK && back.type != p->type)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t versions[] = { MQTT_V31, MQTT_V311, MQTT_V5, MQTT_V5 };
	if (size < 1)
		return 0;
	uint8_t version = versions[data[0] & 3];
	uint32_t max = (data[0] & 4) ? 64 : 0;
	data++;
	size--;
	while (size) {
		struct mqtt_packet p;
		size_t used = 0;
		int r = mqtt_decode(data, size, version, max, &p, &used);
		if (r != MQTT_OK)
			break;
		if (used == 0 || used > size)
			abort();
		walk(&p);
		reencode(&p, version);
		data += used;
		size -= used;
	}
	return 0;
}
