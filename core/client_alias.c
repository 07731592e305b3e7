/*
 * client_alias.c - where a client meets its topic alias tables
 * (mqtt_alias.h): the maximum we announce, the server's on each CONNACK,
 * aliases resolved on PUBLISH in, applied on PUBLISH out, and the figures
 * for mqtt_client_stats.
 */
#include <string.h>

#include "log.h"
#include "mqtt_client_impl.h"
#include "xalloc.h"

struct mqtt_alias *client_alias_new(struct mqtt_client *c)
{
	struct mqtt_prop pr;
	uint16_t in_max = 0;
	bool v5 = c->o.version == MQTT_V5;
	struct mqtt_str props = { c->connect_props, c->connect_props_len };
	/* the Topic Alias Maximum the user put in CONNECT's properties */
	if (v5 && props.ptr && mqtt_props_find(props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, &pr) == 1)
		in_max = (uint16_t)pr.num;
	return mqtt_alias_new(in_max, v5 && c->o.topic_aliases_auto);
}

void client_alias_connected(struct mqtt_client *c, struct mqtt_str connack_props)
{
	struct mqtt_prop pr;
	uint16_t out_max = 0;
	if (c->o.version == MQTT_V5 &&
			mqtt_props_find(connack_props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, &pr) == 1)
		out_max = (uint16_t)pr.num;
	mqtt_alias_connected(c->alias, out_max);
}

int client_alias_send(struct mqtt_client *c, const uint8_t *data, size_t len, bool full)
{
	size_t n;
	uint8_t *w = mqtt_alias_wire(c->alias, c->o.version, data, len, full, &n);
	if (!w)
		return MQTT_E_NOMEM;
	int r = client_send(c, w, n);
	if (w != data)
		xfree(w);
	return r;
}

int client_alias_send_msg(struct mqtt_client *c, struct mqtt_msg *m, bool full)
{
	size_t n;
	uint8_t *w = mqtt_alias_wire(c->alias, c->o.version, m->data, m->len, full, &n);
	if (!w)
		return MQTT_E_NOMEM;
	if (w == m->data)
		return client_send_msg(c, m);
	int r = client_send(c, w, n);
	xfree(w);
	return r;
}

static unsigned client_alias_in_max(const struct mqtt_client *c)
{
	struct mqtt_alias_stats a;
	mqtt_alias_stats(c->alias, &a);
	return a.in_max;
}

bool client_alias_resolve(struct mqtt_client *c, struct mqtt_publish *p)
{
	struct mqtt_prop pr;
	if (c->o.version != MQTT_V5)
		return true;
	int reason = mqtt_alias_resolve(c->alias, p);
	if (reason == 0)
		return true;
	bool has = mqtt_props_find(p->props, MQTT_PROP_TOPIC_ALIAS, &pr) == 1;
	if (reason == 0x94)
		client_protocol_error(c, 0x94, "broker used topic alias %u; our Topic Alias Maximum is %u",
			has ? (unsigned)pr.num : 0u, (unsigned)client_alias_in_max(c));
	else if (reason == 0x82)
		client_protocol_error(c, 0x82, "broker used topic alias %u before giving its topic",
			has ? (unsigned)pr.num : 0u);
	else
		client_protocol_error(c, (uint8_t)reason, "cannot keep topic alias %u: out of memory",
			has ? (unsigned)pr.num : 0u);
	return false;
}

int client_alias_publish(struct mqtt_client *c, struct mqtt_pub_req *r)
{
	struct mqtt_prop pr;
	struct mqtt_str props = { r->props, r->props ? r->props_len : 0 };
	if (c->o.version != MQTT_V5 || !props.len ||
			mqtt_props_find(props, MQTT_PROP_TOPIC_ALIAS, &pr) != 1)
		return 0;
	uint16_t alias = (uint16_t)pr.num;
	if (r->topic && r->topic_len)
		return mqtt_alias_user_set(c->alias, alias, (const uint8_t *)r->topic, r->topic_len) < 0 ?
			MQTT_E_NOMEM : 0;
	const char *t = mqtt_alias_user_topic(c->alias, alias, &r->topic_len);
	if (!t)
		return MQTT_E_ALIAS;
	r->topic = t;
	return 0;
}

void client_alias_stats(const struct mqtt_client *c, struct mqtt_client_stats *st)
{
	struct mqtt_alias_stats a;
	mqtt_alias_stats(c->alias, &a);
	st->alias_bytes_saved = a.bytes_saved;
	st->alias_out = a.out_aliased;
	st->alias_in = a.in_aliased;
	st->alias_out_max = a.out_max;
	st->alias_in_max = a.in_max;
}
