/*
 * lmqtt_opts.c - the options table of mqtt.client{...} as struct
 * mqtt_client_opts. Misuse (unknown option, wrong type, out of range)
 * raises with the option's name.
 */
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lmqtt.h"
#include "loop.h"
#include "mqtt_client.h"


static const char *const opt_names[] = { "uri", "host", "port", "client_id", "protocol",
	"clean", "session_expiry", "keepalive", "username", "password", "will", "reconnect",
	"max_inflight", "max_queued", "properties", "manual_ack", "connect_timeout",
	"max_packet_size", "tls", "ws", "proxy", "persist", "trace",
	"topic_aliases", "auth", "follow_redirect", "bind_address",
	"max_queued_bytes", "max_age", "drain_rate", "drop", "disconnect_properties", NULL };


void lmqtt_check_keys(lua_State *L, int t, const char *const *names, const char *what)
{
	t = lua_absindex(L, t);
	lua_pushnil(L);
	while (lua_next(L, t)) {
		bool known = false;
		if (lua_type(L, -2) == LUA_TSTRING)
			for (int i = 0; names[i]; i++)
				known = known || strcmp(names[i], lua_tostring(L, -2)) == 0;
		if (!known)
			luaL_error(L, "%s: unknown option '%s'", what, luaL_tolstring(L, -2, NULL));
		lua_pop(L, 1);
	}
}

int lmqtt_field(lua_State *L, int t, const char *k, int type, const char *what)
{
	int got = lua_getfield(L, t, k);
	if (got != LUA_TNIL && got != type) {
		/* level 1: the script's line that called the method */
		luaL_where(L, 1);
		lua_pushfstring(L, "%s: %s must be a %s, got %s", what, k, lua_typename(L, type),
			luaL_typename(L, -2));
		lua_concat(L, 2);
		lua_error(L);
	}
	return got;
}

/* opts.k as a string (or NULL); the value stays in the table, so valid. */
static const char *opt_str(lua_State *L, int t, const char *k, size_t *len)
{
	const char *s = NULL;
	int type = lua_getfield(L, t, k);
	if (type != LUA_TNIL) {
		if (type != LUA_TSTRING)
			luaL_error(L, "mqtt.client: option '%s': string expected, got %s", k,
				luaL_typename(L, -1));
		s = lua_tolstring(L, -1, len);
	}
	lua_pop(L, 1);
	return s;
}

static lua_Number opt_num(lua_State *L, int t, const char *k, lua_Number dflt,
	lua_Number min, lua_Number max)
{
	lua_Number n = dflt;
	if (lua_getfield(L, t, k) != LUA_TNIL) {
		if (!lua_isnumber(L, -1))
			luaL_error(L, "mqtt.client: option '%s': number expected, got %s", k,
				luaL_typename(L, -1));
		n = lua_tonumber(L, -1);
		if (!(n >= min && n <= max))
			luaL_error(L, "mqtt.client: option '%s': %f out of range", k, n);
	}
	lua_pop(L, 1);
	return n;
}

static bool opt_bool(lua_State *L, int t, const char *k, bool dflt)
{
	bool b = dflt;
	int type = lua_getfield(L, t, k);
	if (type != LUA_TNIL) {
		if (type != LUA_TBOOLEAN)
			luaL_error(L, "mqtt.client: option '%s': boolean expected, got %s", k,
				luaL_typename(L, -1));
		b = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	return b;
}

static uint8_t opt_protocol(lua_State *L, int t)
{
	lua_Integer p = (lua_Integer)opt_num(L, t, "protocol", 4, 3, 311);
	switch (p) {
	case 3: case 31: return MQTT_V31;
	case 4: case 311: return MQTT_V311;
	case 5: return MQTT_V5;
	default:
		luaL_error(L, "mqtt.client: option 'protocol': 3, 31, 4, 311 or 5 expected");
		return 0;
	}
}

/* opts.will = { topic, payload, qos, retain, properties } */
static void opt_will(lua_State *L, int t, struct mqtt_client_opts *o, uint8_t version)
{
	size_t len = 0;
	if (lua_getfield(L, t, "will") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	luaL_argexpected(L, lua_istable(L, -1), 1, "table as opts.will");
	int w = lua_gettop(L);      /* stays on the stack: its strings are used */
	o->has_will = true;
	o->will_topic = opt_str(L, w, "topic", NULL);
	if (!o->will_topic)
		luaL_error(L, "mqtt.client: option 'will' needs a topic");
	o->will_payload = (const uint8_t *)opt_str(L, w, "payload", &len);
	o->will_payload_len = len;
	o->will_qos = (uint8_t)opt_num(L, w, "qos", 0, 0, 2);
	o->will_retain = opt_bool(L, w, "retain", false);
	if (lua_getfield(L, w, "properties") != LUA_TNIL && version == MQTT_V5) {
		lmqtt_encode_props(L, -1, MQTT_PROPS_WILL, "will.properties");
		o->will_props = (const uint8_t *)lua_tolstring(L, -1, &o->will_props_len);
	}
}

/* reconnect = false | true | { min = s, max = s } */
static void opt_reconnect(lua_State *L, int t, struct mqtt_client_opts *o)
{
	int type = lua_getfield(L, t, "reconnect");
	o->reconnect = type != LUA_TBOOLEAN || lua_toboolean(L, -1);
	if (type == LUA_TTABLE) {
		int r = lua_gettop(L);
		o->reconnect_min_ms = (uint32_t)(opt_num(L, r, "min", 1, 0.001, 86400) * 1000);
		o->reconnect_max_ms = (uint32_t)(opt_num(L, r, "max", 120, 0.001, 86400) * 1000);
	} else if (type != LUA_TNIL && type != LUA_TBOOLEAN) {
		luaL_error(L, "mqtt.client: option 'reconnect': false or {min=, max=} expected");
	}
	lua_pop(L, 1);
}

static const char *const tls_names[] = { "ca_file", "ca_path", "cert", "key", "key_password",
	"alpn", "ciphers", "min_version", "server_name", "insecure", "expiry_warn_days", NULL };

static void check_names(lua_State *L, int t, const char *what, const char *const *names)
{
	lua_pushnil(L);
	while (lua_next(L, t)) {
		bool known = false;
		if (lua_type(L, -2) == LUA_TSTRING)
			for (int i = 0; names[i]; i++)
				known = known || strcmp(names[i], lua_tostring(L, -2)) == 0;
		if (!known)
			luaL_error(L, "mqtt.client: unknown option '%s.%s'", what, luaL_tolstring(L, -2, NULL));
		lua_pop(L, 1);
	}
}

/* tls = true | { ca_file, ca_path, cert, key, key_password, alpn, ciphers,
 * min_version, server_name, insecure, expiry_warn_days }: any of them turns
 * TLS on, as in mosquitto_pub. The table stays on the stack (its strings). */
static void opt_tls(lua_State *L, int t, struct transport_tls_opts *tls)
{
	int type = lua_getfield(L, t, "tls");
	if (type == LUA_TNIL || type == LUA_TBOOLEAN) {
		tls->enabled = lua_toboolean(L, -1);
		lua_pop(L, 1);
		return;
	}
	if (type != LUA_TTABLE)
		luaL_error(L, "mqtt.client: option 'tls': true or a table expected, got %s",
			luaL_typename(L, -1));
	int x = lua_gettop(L);
	check_names(L, x, "tls", tls_names);
	tls->enabled = true;
	tls->ca_file = opt_str(L, x, "ca_file", NULL);
	tls->ca_path = opt_str(L, x, "ca_path", NULL);
	tls->cert = opt_str(L, x, "cert", NULL);
	tls->key = opt_str(L, x, "key", NULL);
	tls->key_password = opt_str(L, x, "key_password", NULL);
	tls->alpn = opt_str(L, x, "alpn", NULL);
	tls->ciphers = opt_str(L, x, "ciphers", NULL);
	tls->min_version = opt_str(L, x, "min_version", NULL);
	tls->server_name = opt_str(L, x, "server_name", NULL);
	tls->insecure = opt_bool(L, x, "insecure", false);
	tls->expiry_warn_days = (unsigned)opt_num(L, x, "expiry_warn_days", 0, 0, 36500);
}

/* ws = { path = "/mqtt", headers = { Name = "value", ... } }; the headers
 * become one "Name: value\n..." string left on the stack. */
static void opt_ws(lua_State *L, int t, struct transport_ws_opts *ws)
{
	static const char *const names[] = { "path", "headers", NULL };
	if (lua_getfield(L, t, "ws") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	luaL_argexpected(L, lua_istable(L, -1), 1, "table as opts.ws");
	int x = lua_gettop(L);
	check_names(L, x, "ws", names);
	ws->path = opt_str(L, x, "path", NULL);
	if (lua_getfield(L, x, "headers") == LUA_TNIL)
		return;
	luaL_argexpected(L, lua_istable(L, -1), 1, "table as opts.ws.headers");
	int h = lua_gettop(L);
	lua_pushliteral(L, "");
	int acc = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, h)) {
		if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "mqtt.client: option 'ws.headers': string names and values expected");
		const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
		if (strpbrk(k, ":\r\n") || strpbrk(v, "\r\n"))
			luaL_error(L, "mqtt.client: option 'ws.headers': bad header '%s'", k);
		lua_pushvalue(L, acc);
		lua_pushfstring(L, "%s: %s\n", k, v);
		lua_concat(L, 2);
		lua_replace(L, acc);
		lua_pop(L, 1);
	}
	ws->headers = lua_tostring(L, -1);
}

/* drop = "oldest" (default) | "new" */
static uint8_t opt_drop(lua_State *L, int t)
{
	const char *d = opt_str(L, t, "drop", NULL);
	if (!d || strcmp(d, "oldest") == 0)
		return MQTT_DROP_OLDEST;
	if (strcmp(d, "new") == 0)
		return MQTT_DROP_NEW;
	return (uint8_t)luaL_error(L, "mqtt.client: option 'drop': \"oldest\" or \"new\" expected, got '%s'", d);
}

/* uri = { "mqtt://a:1883", "mqtt://b:1883", ... }: the failover list, as
 * an array in a userdata left on the stack; returns the first. */
static const char *opt_uri_list(lua_State *L, int t, struct mqtt_client_opts *o)
{
	lua_getfield(L, t, "uri");
	int list = lua_gettop(L);      /* stays: its strings are used */
	size_t n = lua_rawlen(L, list);
	if (n == 0 || n > 64)
		luaL_error(L, "mqtt.client: option 'uri': a URI or a list of 1 to 64 URIs expected");
	const char **v = lua_newuserdatauv(L, n * sizeof *v, 0);
	for (size_t i = 0; i < n; i++) {
		if (lua_rawgeti(L, list, (lua_Integer)i + 1) != LUA_TSTRING)
			luaL_error(L, "mqtt.client: option 'uri': entry %d is not a string", (int)i + 1);
		v[i] = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	o->uris = v;
	o->n_uris = n;
	return v[0];
}

/* The broker URI: opts.uri, or mqtt://host:port. */
static const char *opt_uri(lua_State *L, int t, struct mqtt_client_opts *o)
{
	lua_getfield(L, t, "uri");
	bool list = lua_istable(L, -1);
	lua_pop(L, 1);
	if (list)
		return opt_uri_list(L, t, o);
	const char *uri = opt_str(L, t, "uri", NULL);
	const char *host = opt_str(L, t, "host", NULL);
	lua_Integer port = (lua_Integer)opt_num(L, t, "port", 1883, 1, 65535);
	if (uri)
		return uri;
	if (!host)
		host = "localhost";
	lua_getfield(L, t, "port");
	bool has_port = !lua_isnil(L, -1);
	lua_pop(L, 1);
	if (!has_port)  /* the scheme's default: 1883, or 8883 once TLS is on */
		return lua_pushfstring(L, strchr(host, ':') ? "mqtt://[%s]" : "mqtt://%s", host);
	return lua_pushfstring(L, strchr(host, ':') ? "mqtt://[%s]:%d" : "mqtt://%s:%d",
		host, (int)port);
}

/* topic_aliases = "auto" | "off" (default): let lia alias the topics it
 * publishes most (MQTT 5, up to the broker's Topic Alias Maximum). */
static void opt_topic_aliases(lua_State *L, int t, struct mqtt_client_opts *o)
{
	const char *v = opt_str(L, t, "topic_aliases", NULL);
	if (v && strcmp(v, "auto") != 0 && strcmp(v, "off") != 0)
		luaL_error(L, "mqtt.client: option 'topic_aliases': \"auto\" or \"off\" expected, got \"%s\"", v);
	o->topic_aliases_auto = v && strcmp(v, "auto") == 0;
}

/* auth = { method = "...", data = "...", on_challenge = fn } or
 * { method = "SCRAM-SHA-256", username = "...", password = "..." } (built
 * in, unless on_challenge is given). The table stays on the stack. */
static void opt_auth(lua_State *L, int t, struct mqtt_client_opts *o)
{
	static const char *const names[] = { "method", "data", "on_challenge", "username",
		"password", NULL };
	size_t len = 0;
	if (lua_getfield(L, t, "auth") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	luaL_argexpected(L, lua_istable(L, -1), 1, "table as opts.auth");
	int a = lua_gettop(L);
	check_names(L, a, "auth", names);
	o->auth_method = opt_str(L, a, "method", NULL);
	if (!o->auth_method)
		luaL_error(L, "mqtt.client: option 'auth' needs a method (e.g. \"SCRAM-SHA-256\")");
	o->auth_data = (const uint8_t *)opt_str(L, a, "data", &len);
	o->auth_data_len = len;
	o->auth_user = opt_str(L, a, "username", NULL);
	o->auth_password = (const uint8_t *)opt_str(L, a, "password", &len);
	o->auth_password_len = len;
	int type = lua_getfield(L, a, "on_challenge");
	if (type != LUA_TNIL && type != LUA_TFUNCTION)
		luaL_error(L, "mqtt.client: option 'auth.on_challenge': function expected");
	o->auth_external = type == LUA_TFUNCTION || strcmp(o->auth_method, "SCRAM-SHA-256") != 0;
	lua_pop(L, 1);
	if (!o->auth_external && (!(o->auth_user || o->username) || !o->auth_password))
		luaL_error(L, "mqtt.client: option 'auth': SCRAM-SHA-256 needs auth.username and auth.password");
	if (o->version != MQTT_V5)
		luaL_error(L, "mqtt.client: option 'auth' (enhanced authentication) needs protocol = 5");
}

/* Fill o from the table at t; strings stay valid while the values this
 * pushes stay on the stack. */
void lmqtt_read_opts(lua_State *L, int t, struct mqtt_client_opts *o)
{
	size_t len = 0;
	lmqtt_check_keys(L, t, opt_names, "mqtt.client");
	o->uri = opt_uri(L, t, o);
	o->follow_redirect = opt_bool(L, t, "follow_redirect", false);
	o->client_id = opt_str(L, t, "client_id", NULL);
	if (!o->client_id) {
		/* as mosquitto_pub/sub do: a fresh id, so scripts can read it back */
		static unsigned seq;
		uint64_t ns = loop_clock_ns();
		o->client_id = lua_pushfstring(L, "lia-%d-%d", (int)(getpid() & 0xfffff),
			(int)((ns / 1000 + seq++) & 0xfffff));
	}
	o->version = opt_protocol(L, t);
	o->clean = opt_bool(L, t, "clean", true);
	o->session_expiry = (uint32_t)opt_num(L, t, "session_expiry", 0, 0, 4294967295.0);
	o->keepalive = (uint16_t)opt_num(L, t, "keepalive", 60, 0, 65535);
	o->username = opt_str(L, t, "username", NULL);
	o->password = (const uint8_t *)opt_str(L, t, "password", &len);
	o->password_len = len;
	o->max_inflight = (uint16_t)opt_num(L, t, "max_inflight", 0, 0, 65535);
	o->max_queued = (uint32_t)opt_num(L, t, "max_queued", 0, 0, 1e9);
	o->max_queued_bytes = (uint64_t)opt_num(L, t, "max_queued_bytes", 0, 0, 1e15);
	o->max_age_ms = (uint64_t)(opt_num(L, t, "max_age", 0, 0, 1e10) * 1000);
	o->drain_rate = (uint32_t)opt_num(L, t, "drain_rate", 0, 0, 1e6);
	o->queue_drop = opt_drop(L, t);
	o->connect_timeout_ms = (uint32_t)(opt_num(L, t, "connect_timeout", 0, 0, 86400) * 1000);
	o->max_packet_size = (uint32_t)opt_num(L, t, "max_packet_size", 0, 0, 268435460.0);
	o->manual_ack = opt_bool(L, t, "manual_ack", false);
	o->trace = opt_bool(L, t, "trace", false);
	opt_topic_aliases(L, t, o);
	opt_auth(L, t, o);
	o->bind_address = opt_str(L, t, "bind_address", NULL);
	opt_reconnect(L, t, o);
	o->proxy = opt_str(L, t, "proxy", NULL);
	opt_tls(L, t, &o->tls);
	opt_ws(L, t, &o->ws);
	opt_will(L, t, o, o->version);
	if (lua_getfield(L, t, "properties") != LUA_TNIL && o->version == MQTT_V5) {
		lmqtt_encode_props(L, -1, MQTT_CONNECT, "properties");
		o->connect_props = (const uint8_t *)lua_tolstring(L, -1, &o->connect_props_len);
	}
}

