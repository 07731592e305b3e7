/*
 * mqtt_options.c - a client's options: defaults, validation with a message a
 * person can act on, and private copies of every string and block, so the
 * caller's memory can go away after mqtt_client_new.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqtt_client_impl.h"
#include "xalloc.h"

#define DEFAULT_MIN_MS 1000
#define DEFAULT_MAX_MS 120000
/* Measured (make bench, 2 cores, loopback mosquitto, 64-byte messages,
 * Lua loop): CPU per QoS 1 message 16 us at 20, 10 us at 100, 10 us at
 * 1000; QoS 2: 26, 14, 15 us. Yet 20: mosquitto's default quota. Over
 * 3.1.1 a broker cannot say "quota exceeded", and mosquitto answers the
 * QoS 2 publishes past it with PUBREC and drops them (the fault tier lost
 * messages at 100). v5 Receive Maximum caps it too (session_window). */
#define DEFAULT_INFLIGHT 20
#define DEFAULT_QUEUED 1000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_PACKET (1024 * 1024)

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static uint8_t *memdup_or_null(const uint8_t *p, size_t n)
{
	return p ? xmemdup(p, n ? n : 1) : NULL;
}

static void apply_defaults(struct mqtt_client_opts *o)
{
	if (!o->version)
		o->version = MQTT_V311;
	if (!o->reconnect_min_ms)
		o->reconnect_min_ms = DEFAULT_MIN_MS;
	if (!o->reconnect_max_ms)
		o->reconnect_max_ms = DEFAULT_MAX_MS;
	if (o->reconnect_max_ms < o->reconnect_min_ms)
		o->reconnect_max_ms = o->reconnect_min_ms;
	if (!o->max_inflight)
		o->max_inflight = DEFAULT_INFLIGHT;
	if (!o->max_queued)
		o->max_queued = DEFAULT_QUEUED;
	if (!o->connect_timeout_ms)
		o->connect_timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!o->max_packet_size || o->max_packet_size > MQTT_MAX_REMAINING + 5)
		o->max_packet_size = DEFAULT_MAX_PACKET;
}

static const char *check_opts(const struct mqtt_client_opts *o)
{
	if (o->version != MQTT_V31 && o->version != MQTT_V311 && o->version != MQTT_V5)
		return "protocol version must be 3 (3.1), 4 (3.1.1) or 5";
	if (o->has_will) {
		if (!o->will_topic || !mqtt_topic_name_valid((const uint8_t *)o->will_topic, strlen(o->will_topic)))
			return "will topic is not a valid topic name";
		if (o->will_qos > 2)
			return "will QoS must be 0, 1 or 2";
		if (o->version == MQTT_V5 && o->will_props &&
				mqtt_props_validate(MQTT_PROPS_WILL, o->will_props, o->will_props_len) != MQTT_OK)
			return "will properties are not valid will properties";
	}
	if (o->version == MQTT_V5 && o->connect_props &&
			mqtt_props_validate(MQTT_CONNECT, o->connect_props, o->connect_props_len) != MQTT_OK)
		return "properties are not valid CONNECT properties";
	if (o->client_id && strlen(o->client_id) > 65535)
		return "client id too long";
	if (o->version == MQTT_V311 && (!o->client_id || !o->client_id[0]) && !o->clean)
		return "MQTT 3.1.1 needs a client id when clean session is off [MQTT-3.1.3-7]";
	return NULL;
}

/* The CONNECT properties: the caller's block plus session expiry and our
 * maximum packet size, unless the caller set them. */
static int build_connect_props(struct mqtt_client *c)
{
	struct mqtt_str user = { c->o.connect_props, c->o.connect_props_len };
	struct mqtt_prop extra[2], found;
	size_t n = 0;
	if (c->o.version != MQTT_V5)
		return 0;
	if (c->o.session_expiry && mqtt_props_find(user, MQTT_PROP_SESSION_EXPIRY_INTERVAL, &found) != 1)
		extra[n++] = (struct mqtt_prop){ .id = MQTT_PROP_SESSION_EXPIRY_INTERVAL, .num = c->o.session_expiry };
	if (mqtt_props_find(user, MQTT_PROP_MAXIMUM_PACKET_SIZE, &found) != 1)
		extra[n++] = (struct mqtt_prop){ .id = MQTT_PROP_MAXIMUM_PACKET_SIZE, .num = c->o.max_packet_size };
	long elen = mqtt_props_encode(extra, n, NULL, 0);
	if (elen < 0)
		return -1;
	c->connect_props_len = user.len + (size_t)elen;
	c->connect_props = xmalloc(c->connect_props_len + 1);
	if (!c->connect_props)
		return -1;
	if (user.len)
		memcpy(c->connect_props, user.ptr, user.len);
	mqtt_props_encode(extra, n, c->connect_props + user.len, (size_t)elen);
	return 0;
}

static int copy_strings(struct mqtt_client *c, const struct mqtt_client_opts *o)
{
	const char *user = o->username ? o->username : (c->uri.has_user ? c->uri.user : NULL);
	c->client_id = xstrdup(o->client_id ? o->client_id : "");
	c->username = dup_or_null(user);
	if (o->password) {
		c->password = memdup_or_null(o->password, o->password_len);
	} else if (c->uri.has_pass) {
		c->o.password_len = strlen(c->uri.pass);
		c->password = memdup_or_null((const uint8_t *)c->uri.pass, c->o.password_len);
	}
	if (o->has_will) {
		c->will_topic = xstrdup(o->will_topic);
		c->will_payload = memdup_or_null(o->will_payload ? o->will_payload : (const uint8_t *)"",
			o->will_payload_len);
		c->will_props = memdup_or_null(o->will_props, o->will_props_len);
		if (!c->will_topic || !c->will_payload)
			return -1;
	}
	return c->client_id ? build_connect_props(c) : -1;
}

/* MQTT 3.1 servers require a 1-23 character client id. */
static int ensure_v31_id(struct mqtt_client *c)
{
	char id[24];
	if (c->o.version != MQTT_V31 || c->client_id[0])
		return 0;
	snprintf(id, sizeof id, "lia-%08x%04x", (unsigned)loop_clock_ns(), (unsigned)getpid() & 0xffff);
	xfree(c->client_id);
	c->client_id = xstrdup(id);
	return c->client_id ? 0 : -1;
}


static bool tls_wanted(const struct transport_tls_opts *t)
{
	return t->enabled || t->insecure || t->ca_file || t->ca_path || t->cert || t->key ||
		t->key_password || t->alpn || t->ciphers || t->min_version || t->server_name;
}

/* TLS options on mqtt:// or ws://: the same URI with the TLS scheme, so an
 * omitted port becomes the TLS default (8883, 443) as in mosquitto_pub. */
static int upgrade_uri(struct mqtt_client *c, char *err, size_t errlen)
{
	char text[sizeof c->uri_text];
	const char *sep = strstr(c->uri_text, "://");
	const char *rest = sep ? sep + 3 : c->uri_text;
	bool ws = strcmp(c->uri.scheme, "ws") == 0;
	if (c->uri.tls || (strcmp(c->uri.scheme, "mqtt") != 0 && !ws))
		return 0;
	if ((size_t)snprintf(text, sizeof text, "%s://%s", ws ? "wss" : "mqtts", rest) >= sizeof text)
		return snprintf(err, errlen, "broker URI too long"), -1;
	memcpy(c->uri_text, text, sizeof text);
	return uri_parse(c->uri_text, &c->uri, err, errlen);
}

static void transport_log(void *ud, int level, const char *line)
{
	client_log(ud, level, "%s", line);
}

static int dup_opt(const char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = xstrdup(src)))
		return -1;
	return 0;
}

static int copy_transport(struct mqtt_client *c, const struct mqtt_client_opts *o)
{
	struct transport_tls_opts *t = &c->tcfg.tls;
	*t = (struct transport_tls_opts){ .enabled = o->tls.enabled, .insecure = o->tls.insecure,
		.expiry_warn_days = o->tls.expiry_warn_days };
	if (dup_opt(&t->ca_file, o->tls.ca_file) || dup_opt(&t->ca_path, o->tls.ca_path) ||
			dup_opt(&t->cert, o->tls.cert) || dup_opt(&t->key, o->tls.key) ||
			dup_opt(&t->key_password, o->tls.key_password) || dup_opt(&t->alpn, o->tls.alpn) ||
			dup_opt(&t->ciphers, o->tls.ciphers) || dup_opt(&t->min_version, o->tls.min_version) ||
			dup_opt(&t->server_name, o->tls.server_name) ||
			dup_opt(&c->tcfg.ws.path, o->ws.path) || dup_opt(&c->tcfg.ws.headers, o->ws.headers))
		return -1;
	return 0;
}

/* The transport stack and what it needs: TLS material loaded now (a bad
 * file fails here, not at every reconnect), the proxy resolved once. */
static int transport_init(struct mqtt_client *c, const struct mqtt_client_opts *o,
	char *err, size_t errlen)
{
	c->tls_forced = tls_wanted(&o->tls);
	c->proxy_env = !o->proxy;
	if (o->proxy && !(c->proxy_opt = xstrdup(o->proxy)))
		return snprintf(err, errlen, "out of memory"), -1;
	if (c->tls_forced && upgrade_uri(c, err, errlen) < 0)
		return -1;
	if (copy_transport(c, o) < 0)
		return snprintf(err, errlen, "out of memory"), -1;
	c->tcfg.tls.enabled = c->uri.tls;
	c->tcfg.max_frame = (size_t)c->o.max_packet_size + 1024 * 1024;
	c->tcfg.log = transport_log;
	c->tcfg.log_ud = c;
	if (c->uri.scheme[0] == 'w' && transport_ws_check(&c->tcfg.ws, err, errlen) < 0)
		return -1;
	if (proxy_resolve(o->proxy, &c->uri, c->proxy, sizeof c->proxy, err, errlen) < 0)
		return -1;
	c->tcfg.proxy = c->proxy[0] ? c->proxy : NULL;
	if (o->bind_address && snprintf(c->tcfg.bind_address, sizeof c->tcfg.bind_address, "%s",
			o->bind_address) >= (int)sizeof c->tcfg.bind_address)
		return snprintf(err, errlen, "bind address too long: %s", o->bind_address), -1;
	if (c->uri.tls && tls_cache_prepare(&c->tcfg, err, errlen) < 0)
		return -1;
	c->tops = transport_for_cfg(&c->uri, &c->tcfg, err, errlen);
	return c->tops ? 0 : -1;
}

int client_options_set_uri(struct mqtt_client *c, const char *text, char *err, size_t errlen)
{
	struct uri u;
	char old_text[sizeof c->uri_text];
	struct uri old = c->uri;
	if (uri_parse(text, &u, err, errlen) < 0)
		return -1;
	memcpy(old_text, c->uri_text, sizeof old_text);
	snprintf(c->uri_text, sizeof c->uri_text, "%s", text);
	c->uri = u;
	if ((c->tls_forced && upgrade_uri(c, err, errlen) < 0) ||
			(c->uri.scheme[0] == 'w' && transport_ws_check(&c->tcfg.ws, err, errlen) < 0) ||
			proxy_resolve(c->proxy_env ? NULL : c->proxy_opt, &c->uri, c->proxy, sizeof c->proxy,
				err, errlen) < 0) {
		memcpy(c->uri_text, old_text, sizeof old_text);
		c->uri = old;
		return -1;
	}
	c->tcfg.proxy = c->proxy[0] ? c->proxy : NULL;
	c->tcfg.tls.enabled = c->uri.tls;
	if ((c->uri.tls && !c->tcfg.tls_cache && tls_cache_prepare(&c->tcfg, err, errlen) < 0) ||
			!(c->tops = transport_for_cfg(&c->uri, &c->tcfg, err, errlen))) {
		memcpy(c->uri_text, old_text, sizeof old_text);
		c->uri = old;
		c->tcfg.tls.enabled = c->uri.tls;
		c->tops = transport_for_cfg(&c->uri, &c->tcfg, err, errlen);
		return -1;
	}
	return 0;
}

int client_options_init(struct mqtt_client *c, const struct mqtt_client_opts *opts,
	char *err, size_t errlen)
{
	const char *why;
	c->o = *opts;
	apply_defaults(&c->o);
	if ((why = check_opts(&c->o))) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	snprintf(c->uri_text, sizeof c->uri_text, "%s", opts->n_uris ? opts->uris[0] :
		opts->uri ? opts->uri : "mqtt://localhost:1883");
	if (uri_parse(c->uri_text, &c->uri, err, errlen) < 0 || transport_init(c, opts, err, errlen) < 0)
		return -1;
	if (copy_strings(c, &c->o) < 0 || ensure_v31_id(c) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* only the copies are used from here on */
	c->o.uri = c->o.client_id = c->o.username = c->o.will_topic = NULL;
	c->o.password = c->o.will_payload = c->o.will_props = c->o.connect_props = NULL;
	c->o.tls = (struct transport_tls_opts){ 0 };
	c->o.ws = (struct transport_ws_opts){ 0 };
	c->o.proxy = NULL;
	c->o.uris = NULL;
	c->o.bind_address = NULL;
	return 0;
}

void client_options_free(struct mqtt_client *c)
{
	struct transport_tls_opts *t = &c->tcfg.tls;
	xfree(c->client_id);
	xfree(c->username);
	xfree(c->password);
	xfree(c->will_topic);
	xfree(c->will_payload);
	xfree(c->will_props);
	xfree(c->connect_props);
	xfree(c->proxy_opt);
	tls_cache_free(&c->tcfg);
	const char *strs[] = { t->ca_file, t->ca_path, t->cert, t->key, t->key_password, t->alpn,
		t->ciphers, t->min_version, t->server_name, c->tcfg.ws.path, c->tcfg.ws.headers };
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		xfree((void *)strs[i]);
	memset(&c->tcfg, 0, sizeof c->tcfg);
}
