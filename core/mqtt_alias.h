/*
 * mqtt_alias.h - MQTT 5 topic aliases, both ways, for one client.
 *
 * Inbound: the broker may replace a topic by a number up to the Topic Alias
 * Maximum we announced in CONNECT; the table lives for one connection.
 * Outbound: explicit aliases (the PUBLISH carries a TOPIC_ALIAS property)
 * and, in auto mode, aliases chosen here for the topics published most
 * often, up to the server's Topic Alias Maximum, least recently used one
 * replaced. Stored messages always keep their full topic: the alias is
 * applied when a packet is written (mqtt_alias_wire), so a message resent
 * on a new connection, where the broker forgot every alias, is correct.
 * No I/O, no logging.
 */
#ifndef LIA_MQTT_ALIAS_H
#define LIA_MQTT_ALIAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_codec.h"

struct mqtt_alias;

/* in_max: what we announce (0: none accepted); auto_out: pick aliases. */
struct mqtt_alias *mqtt_alias_new(uint16_t in_max, bool auto_out);
void mqtt_alias_free(struct mqtt_alias *a);

/* A new connection: both tables empty; out_max is the server's maximum. */
void mqtt_alias_connected(struct mqtt_alias *a, uint16_t out_max);

/* Inbound PUBLISH: resolves p->topic in place (a view into the table, valid
 * until the next call). Returns 0, or the v5 reason code of the protocol
 * error: 0x94 (alias 0 or over our maximum), 0x82 (unknown alias, empty
 * topic without an alias). */
int mqtt_alias_resolve(struct mqtt_alias *a, struct mqtt_publish *p);

/* Publish time, explicit alias without a topic: the topic last published
 * with that alias by the caller (kept across connections), or NULL. */
const char *mqtt_alias_user_topic(const struct mqtt_alias *a, uint16_t alias, size_t *len);
/* Publish time, explicit alias with a topic: remember the caller's choice.
 * -1 when out of memory. */
int mqtt_alias_user_set(struct mqtt_alias *a, uint16_t alias, const uint8_t *topic, size_t len);

/* Write time: the bytes to put on the wire for the encoded PUBLISH pkt.
 * Returns pkt itself (no alias applies: *out_len = len) or a new buffer the
 * caller frees with xfree. full: keep the topic (a DUP resend). NULL when
 * out of memory. */
uint8_t *mqtt_alias_wire(struct mqtt_alias *a, uint8_t version, const uint8_t *pkt,
	size_t len, bool full, size_t *out_len);

struct mqtt_alias_stats {
	int64_t bytes_saved;        /* wire bytes saved (negative: alias cost) */
	uint64_t out_aliased;       /* PUBLISH sent with an empty topic */
	uint64_t in_aliased;        /* PUBLISH received by alias */
	uint16_t out_max, in_max;
};
void mqtt_alias_stats(const struct mqtt_alias *a, struct mqtt_alias_stats *st);

#endif
