/*
 * fuzz_alias.c - libFuzzer target over the topic alias tables
 * (core/mqtt_alias.c): the input is a stream of MQTT 5 packets; every
 * PUBLISH that decodes is resolved as an inbound one (against a maximum of
 * 8) and then written back out through the outbound tables (auto mode, a
 * server maximum of 4), whose bytes must decode again to a PUBLISH.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_alias.h"
#include "mqtt_codec.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_alias *a = mqtt_alias_new(8, true);
	if (!a)
		return 0;
	mqtt_alias_connected(a, 4);
	while (size) {
		struct mqtt_packet p, q;
		size_t used = 0, out_len, u2;
		if (mqtt_decode(data, size, MQTT_V5, 4096, &p, &used) != MQTT_OK || !used)
			break;
		if (p.type == MQTT_PUBLISH) {
			struct mqtt_publish pub = p.u.publish;
			if (mqtt_alias_resolve(a, &pub) == 0 && pub.topic.len) {
				uint8_t *w = mqtt_alias_wire(a, MQTT_V5, data, used, data[0] & 0x08, &out_len);
				if (w && mqtt_decode(w, out_len, MQTT_V5, 0, &q, &u2) != MQTT_OK)
					abort();
				if (w && w != data)
					xfree(w);
			}
		}
		if (p.type == MQTT_CONNACK)
			mqtt_alias_connected(a, 4);
		data += used;
		size -= used;
	}
	mqtt_alias_free(a);
	return 0;
}
