/*
 * lmqtt.c - require "lia.mqtt": the client and token types over
 * core/mqtt_client.h.
 *
 * A client userdata keeps its Lua side in user values: the event handlers
 * (name -> function), the per-filter handlers (filter -> function, routed
 * with a topic_tree) and the tokens still waiting for their ack (mid ->
 * token). One registry reference anchors it from connect() until no
 * reconnect is due, so the loop can always reach it while it may emit.
 * Core events reach Lua only through host_spawn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "db.h"
#include "host.h"
#include "lmqtt.h"
#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "mqtt_store.h"
#include "topic_tree.h"
#include "xalloc.h"

#define CLIENT_MT "lia.mqtt.client"


/* Every open client of the state, for the drain at exit. */
static struct lclient *open_clients;

/* ---- helpers ---- */

/* The client at idx. The methods and metamethods carry the clients'
 * metatable as their first upvalue, and comparing with it is a pointer
 * check where luaL_checkudata finds the metatable by name in the registry
 * (twice per c:publish with __index, a seventh of a QoS 0 publish). Any
 * other caller, or anything else at idx, takes luaL_checkudata and its
 * error. */
static struct lclient *to_client(lua_State *L, int idx)
{
	void *p = lua_touserdata(L, idx);
	if (p && lua_getmetatable(L, idx)) {
		bool ours = lua_rawequal(L, -1, lua_upvalueindex(1));
		lua_pop(L, 1);
		if (ours)
			return p;
	}
	return luaL_checkudata(L, idx, CLIENT_MT);
}

static struct lclient *check_open(lua_State *L, int idx)
{
	struct lclient *lc = to_client(L, idx);
	if (!lc->c)
		luaL_error(L, "attempt to use a closed MQTT client");
	return lc;
}

void lmqtt_push_uv(lua_State *L, int idx, int n)
{
	lua_getiuservalue(L, idx, n);
}

static int fail(lua_State *L, int err)
{
	lua_pushnil(L);
	lua_pushstring(L, mqtt_client_strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

static void anchor(lua_State *L, struct lclient *lc, int idx)
{
	if (lc->ref == LUA_NOREF)
		lc->ref = host_ref(L, idx);
}

/* The first use of the default client after the main chunk connects it. */
static void touch(lua_State *L, struct lclient *lc, int idx)
{
	lc->touched = true;
	if (lc->is_default && lc->started && lc->c && lc->ref == LUA_NOREF) {
		anchor(L, lc, idx);
		mqtt_client_connect(lc->c);
	}
}
/* ---- the client ---- */

struct lclient *lmqtt_first(void)
{
	return open_clients;
}

void lmqtt_detach(struct lclient *lc)
{
	lc->c = NULL;
	xfree(lc->farewell);
	lc->farewell = NULL;
	lc->farewell_len = 0;
	topic_tree_free(lc->filters);
	lc->filters = NULL;
	lmqtt_free_live(lc);
	if (lc->prev)
		lc->prev->next = lc->next;
	else if (open_clients == lc)
		open_clients = lc->next;
	if (lc->next)
		lc->next->prev = lc->prev;
	lc->prev = lc->next = NULL;
	lmqtt_unanchor(lc);
}

static void close_client(lua_State *L, int idx)
{
	struct lclient *lc = to_client(L, idx);
	if (!lc->c)
		return;
	mqtt_client_free(lc->c);
	lmqtt_detach(lc);
	lmqtt_fail_pending(L, idx);
}

static int l_close(lua_State *L)
{
	close_client(L, 1);
	return 0;
}

static int l_gc(lua_State *L)
{
	close_client(L, 1);
	return 0;
}

/* c.method, or the read-only fields client_id, uri, protocol. A method
 * is found without looking at the userdata: only the fields need the
 * client, and to_client checks it there. */
static int l_index(lua_State *L)
{
	lua_settop(L, 2);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	struct lclient *lc = to_client(L, 1);
	if (lc->c && lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "client_id") == 0) {
		/* live: a v5 broker may have assigned it */
		lua_pushstring(L, mqtt_client_id(lc->c));
		return 1;
	}
	if (lc->c && lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "uri") == 0) {
		/* live: the failover list or a server reference may have moved it */
		lua_pushstring(L, mqtt_client_uri(lc->c));
		return 1;
	}
	lmqtt_push_uv(L, 1, UV_INFO);
	lua_pushvalue(L, 2);
	lua_rawget(L, -2);
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct lclient *lc = to_client(L, 1);
	lua_pushfstring(L, "lia.mqtt.client (%s, %s)", lc->uri,
		!lc->c ? "closed" : mqtt_client_connected(lc->c) ? "connected" : "not connected");
	return 1;
}

/* lia.reload.fingerprint(opts at t), pushed */
static void push_fingerprint(lua_State *L, int t)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.reload");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "fingerprint");
	lua_pushvalue(L, t);
	lua_call(L, 1, 1);
	lua_remove(L, -2);
}

/* The session store for opts at 1: the process's database when there is
 * one and the client has a stable id (a generated id never comes back, so
 * its store would only pile up), unless persist = false. NULL: memory. */
static struct mqtt_store *client_store(lua_State *L, const struct mqtt_client_opts *o)
{
	char err[4400];
	int type = lua_getfield(L, 1, "persist");
	bool given = type != LUA_TNIL, want = !given || lua_toboolean(L, -1);
	lua_pop(L, 1);
	bool has_id = lua_getfield(L, 1, "client_id") == LUA_TSTRING && lua_rawlen(L, -1) > 0;
	lua_pop(L, 1);
	if (!want)
		return NULL;
	if (!has_id || !db_process()) {     /* no id: the store is not even opened */
		if (given)
			log_warn("mqtt.client: persist: %s; messages are kept in memory only",
				has_id ? "no data directory" : "needs a client_id");
		return NULL;
	}
	struct mqtt_store *st = mqtt_store_sqlite_new(db_process(), o->client_id, o->uri,
		err, sizeof err);
	if (!st)
		log_error("mqtt.client: %s; messages are kept in memory only", err);
	return st;
}

/* mqtt.client(opts) */
/* opts.disconnect_properties (v5): what the DISCONNECTs lia sends by
 * itself carry (at exit, c:disconnect() without properties, mqtt.close),
 * as mosquitto_sub -D disconnect does on ^C. Encoded (and so checked)
 * before the client exists: a bad table raises with nothing to undo.
 * Pushes the encoded block or nil; returns its index. */
static int push_farewell(lua_State *L, int version)
{
	if (lua_getfield(L, 1, "disconnect_properties") != LUA_TNIL && version == MQTT_V5)
		lmqtt_encode_props(L, -1, MQTT_DISCONNECT, "disconnect_properties");
	else
		lua_pushnil(L);
	lua_remove(L, -2);
	return lua_gettop(L);
}

static void keep_farewell(lua_State *L, struct lclient *lc, int idx)
{
	size_t n = 0;
	const char *p = lua_tolstring(L, idx, &n);
	if (p && n) {
		lc->farewell = xmemdup(p, n);
		lc->farewell_len = n;
	}
}

static int l_client(lua_State *L)
{
	struct mqtt_client_opts o = { 0 };
	char err[256];
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	struct lclient *lc = lua_newuserdatauv(L, sizeof *lc, UV_COUNT);
	*lc = (struct lclient){ .ref = LUA_NOREF, .L = NULL };
	luaL_setmetatable(L, CLIENT_MT);
	int ud = lua_gettop(L);
	for (int i = 1; i <= UV_COUNT; i++) {
		lua_newtable(L);
		lua_setiuservalue(L, ud, i);
	}
	bool explicit_id = lua_getfield(L, 1, "client_id") != LUA_TNIL;
	lua_pop(L, 1);
	lmqtt_read_opts(L, 1, &o);
	push_fingerprint(L, 1);
	int fp = lua_gettop(L);
	int fw = push_farewell(L, o.version);
	lc->h = host_of(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	lc->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	snprintf(lc->uri, sizeof lc->uri, "%s", o.uri);
	lc->filters = topic_tree_new();
	if (!lc->filters)
		return luaL_error(L, "out of memory");
	lc->c = lmqtt_adopt(L, lc, ud, explicit_id, o.client_id, o.uri, lua_tostring(L, fp));
	if (!lc->c)
		lc->c = mqtt_client_new(host_get_loop(L), &o, client_store(L, &o), err, sizeof err);
	if (!lc->c) {
		topic_tree_free(lc->filters);
		lc->filters = NULL;
		return luaL_error(L, "mqtt.client: %s", err);
	}
	mqtt_client_set_handler(lc->c, lmqtt_on_event, lc);
	keep_farewell(L, lc, fw);
	if (lua_getfield(L, 1, "auth") == LUA_TTABLE) {
		lmqtt_push_uv(L, ud, UV_HANDLERS);
		lua_getfield(L, -2, "on_challenge");
		lua_setfield(L, -2, "on_challenge");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lmqtt_push_uv(L, ud, UV_INFO);
	lua_pushstring(L, o.client_id);
	lua_setfield(L, -2, "client_id");
	lua_pushstring(L, o.uri);
	lua_setfield(L, -2, "uri");
	lua_pushinteger(L, o.version);
	lua_setfield(L, -2, "protocol");
	lua_pushvalue(L, fp);
	lua_setfield(L, -2, "fingerprint");
	lua_pop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lmqtt_clients_key);
	lua_pushvalue(L, ud);
	lua_rawsetp(L, -2, lc);
	lua_pop(L, 1);
	lc->next = open_clients;
	if (lc->next)
		lc->next->prev = lc;
	open_clients = lc;
	lua_settop(L, ud);
	return 1;
}

static int l_on(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	int ev = luaL_checkoption(L, 2, NULL, lmqtt_event_names);
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 3);
	lmqtt_push_uv(L, 1, UV_HANDLERS);
	lua_pushvalue(L, 3);
	lua_setfield(L, -2, lmqtt_event_names[ev]);
	if (lua_isnil(L, 3))
		lc->handlers &= ~(1u << ev);
	else
		lc->handlers |= 1u << ev;
	touch(L, lc, 1);
	lua_settop(L, 1);
	return 1;
}

static int l_connect(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	lc->touched = true;
	lc->connects++;
	anchor(L, lc, 1);
	int r = mqtt_client_connect(lc->c);
	if (r < 0)
		return fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

/* c:disconnect([reason [, properties]]) */
static int l_disconnect(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	lua_Integer reason = luaL_optinteger(L, 2, 0);
	const char *props = NULL;
	size_t plen = 0;
	luaL_argcheck(L, reason >= 0 && reason <= 255, 2, "reason code 0..255 expected");
	if (!lua_isnoneornil(L, 3) && mqtt_client_version(lc->c) == MQTT_V5) {
		lmqtt_encode_props(L, 3, MQTT_DISCONNECT, "properties");
		props = lua_tolstring(L, -1, &plen);
	} else if (lua_isnoneornil(L, 3)) {
		props = (const char *)lc->farewell;
		plen = lc->farewell_len;
	}
	lc->touched = true;
	int r = mqtt_client_disconnect(lc->c, (uint8_t)reason, (const uint8_t *)props, plen);
	if (r < 0)
		return fail(L, r);
	if (mqtt_client_idle(lc->c))
		lmqtt_unanchor(lc);     /* nothing more will come */
	lua_pushboolean(L, 1);
	return 1;
}

static int l_is_connected(lua_State *L)
{
	struct lclient *lc = to_client(L, 1);
	lua_pushboolean(L, lc->c && mqtt_client_connected(lc->c));
	return 1;
}

/* A table payload goes out as JSON: cjson.encode replaces it in place
 * (a value JSON cannot hold, such as a function, raises: misuse). */
static void json_payload(lua_State *L, int idx)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "cjson");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "encode");
	lua_pushvalue(L, idx);
	lua_call(L, 1, 1);
	lua_replace(L, idx);
	lua_pop(L, 1);
}

/* properties.topic_alias = 0 (or out of range) is a runtime mistake a
 * caller may compute, so it returns nil, message like a refused publish;
 * true when the table at idx is fine. */
static bool alias_ok(lua_State *L, int idx)
{
	bool ok = true;
	if (!lua_istable(L, idx))
		return true;
	if (lua_getfield(L, idx, "topic_alias") != LUA_TNIL) {
		lua_Integer a = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
		ok = a >= 1 && a <= 65535;
	}
	lua_pop(L, 1);
	return ok;
}

/* The publish just made: its token (tracked until the event completes
 * it), or true for one made without a token. */
static int push_published(lua_State *L, struct lclient *lc, bool token, uint8_t qos, uint32_t mid)
{
	if (!token) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lmqtt_new_token(L, TOK_PUBLISH, mid);
	if (qos == 0)
		lmqtt_token_not_stored(L, "not stored: QoS 0 messages are kept in memory only");
	else if (!mqtt_client_persistent(lc->c))
		lmqtt_token_not_stored(L, "not stored: this client has no store (persist = false, "
			"no client_id or no data directory)");
	lmqtt_track_token(L, 1, UV_PUBS, mid);
	return 1;
}

static bool key_is(const char *k, size_t n, const char *name, size_t len)
{
	return n == len && memcmp(k, name, len) == 0;
}

/* The value on top is t[k]: misuse unless of type (the lmqtt_field message). */
static void want_type(lua_State *L, const char *k, int type)
{
	if (lua_type(L, -1) == type)
		return;
	luaL_where(L, 1);
	lua_pushfstring(L, "c:publish: %s must be a %s, got %s", k, lua_typename(L, type),
		luaL_typename(L, -2));
	lua_concat(L, 2);
	lua_error(L);
}

/* c:publish's opts table (at 4) in one pass: a publishing loop calls this
 * per message, and lookups by C string (lua_getfield, lmqtt_check_keys)
 * cost a string-cache probe and a strcmp each. Same checks and messages
 * as lmqtt_check_keys and lmqtt_field. True when opts.properties is set. */
static bool read_pub_opts(lua_State *L, lua_Integer *qos, bool *retain, int *token)
{
	bool props = false;
	lua_pushnil(L);
	while (lua_next(L, 4)) {
		size_t n = 0;
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : "";
		if (key_is(k, n, "qos", 3)) {
			want_type(L, "qos", LUA_TNUMBER);
			luaL_argcheck(L, lua_isinteger(L, -1), 4, "qos must be 0, 1 or 2");
			*qos = lua_tointeger(L, -1);
		} else if (key_is(k, n, "retain", 6)) {
			want_type(L, "retain", LUA_TBOOLEAN);
			*retain = lua_toboolean(L, -1);
		} else if (key_is(k, n, "token", 5)) {
			want_type(L, "token", LUA_TBOOLEAN);
			*token = lua_toboolean(L, -1);
		} else if (key_is(k, n, "properties", 10)) {
			want_type(L, "properties", LUA_TTABLE);
			props = true;
		} else {
			luaL_error(L, "c:publish: unknown option '%s'", luaL_tolstring(L, -2, NULL));
		}
		lua_pop(L, 1);
	}
	return props;
}

/* c:publish(topic, payload [, opts | qos [, retain]]) -> token | true | nil, msg, code
 * payload: a string, a number, or a table (sent as JSON). opts.token:
 * return a token (default: QoS 1 and 2); without one the publish costs no
 * Lua object and no completion call, and returns true. */
static int l_publish(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	struct mqtt_pub_req r = { 0 };
	size_t plen = 0;
	uint32_t mid = 0;
	lua_Integer qos = 0;
	int token = -1;             /* -1: the default for the QoS */
	r.topic = luaL_checklstring(L, 2, &r.topic_len);
	if (lua_istable(L, 3))
		json_payload(L, 3);
	if (!lua_isnoneornil(L, 3)) {
		luaL_argexpected(L, lua_type(L, 3) == LUA_TSTRING || lua_type(L, 3) == LUA_TNUMBER,
			3, "string payload");
		r.payload = (const uint8_t *)lua_tolstring(L, 3, &plen);
		r.payload_len = plen;
	}
	lua_settop(L, 5);
	if (lua_istable(L, 4)) {
		bool props = read_pub_opts(L, &qos, &r.retain, &token);
		if (props && mqtt_client_version(lc->c) == MQTT_V5) {
			lua_getfield(L, 4, "properties");
			if (!alias_ok(L, -1)) {
				lua_pushnil(L);
				lua_pushliteral(L, "topic_alias must be an integer 1..65535");
				lua_pushinteger(L, MQTT_E_INVALID);
				return 3;
			}
			lmqtt_encode_props(L, -1, MQTT_PUBLISH, "properties");
			r.props = (const uint8_t *)lua_tolstring(L, -1, &r.props_len);
		}
	} else {
		qos = luaL_optinteger(L, 4, 0);
		r.retain = lua_toboolean(L, 5);
	}
	luaL_argcheck(L, qos >= 0 && qos <= 2, 4, "qos must be 0, 1 or 2");
	r.qos = (uint8_t)qos;
	if (token < 0)
		token = qos > 0;
	/* no token and no "publish" handler: nobody to tell, no event at all */
	r.quiet = !token && !(lc->handlers & (1u << EV_PUBLISH));
	touch(L, lc, 1);
	int err = mqtt_client_publish(lc->c, &r, &mid);
	if (err < 0)
		return fail(L, err);
	return push_published(L, lc, token, r.qos, mid);
}

/* c:drain([timeout_ms]) -> true | nil, reason */
static int l_drain(lua_State *L)
{
	return lmqtt_drain(L, check_open(L, 1));
}

/* Subscription options: qos, or { qos, no_local, retain_as_published, retain_handling } */
static uint8_t sub_options(lua_State *L, int idx, int arg)
{
	lua_Integer qos = 0, rh = 0;
	uint8_t o = 0;
	idx = lua_absindex(L, idx);
	if (lua_istable(L, idx)) {
		static const char *const keys[] = { "qos", "no_local", "retain_as_published",
			"retain_handling", "properties", NULL };
		lmqtt_check_keys(L, idx, keys, "c:subscribe");
		lmqtt_field(L, idx, "qos", LUA_TNUMBER, "c:subscribe");
		qos = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : lua_isnil(L, -1) ? 0 : -1;
		lmqtt_field(L, idx, "retain_handling", LUA_TNUMBER, "c:subscribe");
		rh = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : lua_isnil(L, -1) ? 0 : -1;
		if (lmqtt_field(L, idx, "no_local", LUA_TBOOLEAN, "c:subscribe"), lua_toboolean(L, -1))
			o |= MQTT_SUB_NO_LOCAL;
		if (lmqtt_field(L, idx, "retain_as_published", LUA_TBOOLEAN, "c:subscribe"),
				lua_toboolean(L, -1))
			o |= MQTT_SUB_RAP;
		lua_pop(L, 4);
	} else if (!lua_isnoneornil(L, idx)) {
		qos = luaL_checkinteger(L, idx);
	}
	luaL_argcheck(L, qos >= 0 && qos <= 2, arg, "qos must be 0, 1 or 2");
	luaL_argcheck(L, rh >= 0 && rh <= 2, arg, "retain_handling must be 0, 1 or 2");
	return o | (uint8_t)qos | (uint8_t)(rh << MQTT_SUB_RH_SHIFT);
}

/* Record (or drop) the per-filter handler of filter: fn at idx or nil. */
static void set_filter_handler(lua_State *L, struct lclient *lc, const char *filter, int fn)
{
	lmqtt_push_uv(L, 1, UV_FILTERS);
	lua_pushvalue(L, fn);
	lua_setfield(L, -2, filter);
	lua_pop(L, 1);
	if (lua_isfunction(L, fn)) {
		if (topic_tree_insert(lc->filters, filter, (void *)1) < 0)
			luaL_error(L, "out of memory");
	} else {
		topic_tree_remove(lc->filters, filter);
	}
}

/* The v5 properties of a SUBSCRIBE: opts.properties of the single filter,
 * or of the first list item that has some (one packet, one set). Pushes
 * the encoded block (or nil) and returns its subscription identifier. */
static uint32_t push_sub_props(lua_State *L, struct lclient *lc, bool list, size_t n)
{
	int t = 0;
	struct mqtt_prop pr;
	size_t len;
	if (!list && lua_istable(L, 3) && lua_getfield(L, 3, "properties") != LUA_TNIL)
		t = lua_gettop(L);
	for (size_t i = 0; list && !t && i < n; i++) {
		if (lua_rawgeti(L, 2, (lua_Integer)i + 1) == LUA_TTABLE &&
				lua_rawgeti(L, -1, 2) == LUA_TTABLE &&
				lua_getfield(L, -1, "properties") != LUA_TNIL) {
			t = lua_gettop(L);
			break;
		}
		lua_settop(L, 4);
	}
	if (!t || mqtt_client_version(lc->c) != MQTT_V5) {
		lua_settop(L, 4);
		lua_pushnil(L);
		return 0;
	}
	lmqtt_encode_props(L, t, MQTT_SUBSCRIBE, "properties");
	lua_replace(L, 5);
	lua_settop(L, 5);
	const char *b = lua_tolstring(L, 5, &len);
	struct mqtt_str block = { (const uint8_t *)b, len };
	return mqtt_props_find(block, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &pr) == 1 ? pr.num : 0;
}

/* filters[subscription id] = filter and filters[0][filter] = id, so
 * messages carrying the id find the handler without a second topic match
 * (lmqtt_events.c route). */
static void set_sub_id(lua_State *L, uint32_t id, const char *filter, bool has_fn)
{
	lmqtt_push_uv(L, 1, UV_FILTERS);
	if (lua_rawgeti(L, -1, 0) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawseti(L, -3, 0);
	}
	if (lua_getfield(L, -1, filter) == LUA_TNUMBER) {   /* the filter's old id */
		lua_pushnil(L);
		lua_rawseti(L, -4, lua_tointeger(L, -2));
	}
	lua_pop(L, 1);
	if (id && has_fn)
		lua_pushinteger(L, (lua_Integer)id);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, filter);
	lua_pop(L, 1);
	if (id && has_fn) {
		lua_pushstring(L, filter);
		lua_rawseti(L, -2, (lua_Integer)id);
	}
	lua_pop(L, 1);
}

/* c:subscribe(filter, qos|opts [, fn]) or c:subscribe({ {filter, qos|opts [, fn]} | filter, ... } [, fn]) */
static int l_subscribe(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	bool list = lua_istable(L, 2);
	int fnarg = list ? 3 : lua_isfunction(L, 3) ? 3 : 4;
	size_t n = list ? lua_rawlen(L, 2) : 1;
	uint32_t mid = 0;
	if (!list)
		luaL_checkstring(L, 2);
	luaL_argcheck(L, n > 0, 2, "empty list of filters");
	if (!lua_isnoneornil(L, fnarg))
		luaL_checktype(L, fnarg, LUA_TFUNCTION);
	lua_settop(L, 4);
	luaL_checkstack(L, (int)n + LUA_MINSTACK, "too many filters");
	uint32_t sub_id = push_sub_props(L, lc, list, n);     /* at 5 */
	size_t props_len = 0;
	const uint8_t *props = (const uint8_t *)lua_tolstring(L, 5, &props_len);
	struct mqtt_sub_item *items = lua_newuserdatauv(L, n * sizeof *items, 0);
	int fns = lua_gettop(L) + 1;
	lua_createtable(L, (int)n, 0);      /* the handler of each item */
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *f;
		int opt_idx, fn_idx;
		if (!list) {
			f = lua_tolstring(L, 2, &len);
			opt_idx = fnarg == 3 ? 0 : 3;
			fn_idx = fnarg;
		} else {
			int type = lua_rawgeti(L, 2, (lua_Integer)i + 1);
			if (type == LUA_TSTRING) {
				lua_pushnil(L);
				lua_pushnil(L);
			} else {
				luaL_argexpected(L, type == LUA_TTABLE, 2, "list of filters or {filter, qos}");
				lua_rawgeti(L, -1, 2);
				lua_rawgeti(L, -2, 3);
				lua_rawgeti(L, -3, 1);
				lua_replace(L, -4);
				luaL_argexpected(L, lua_type(L, -3) == LUA_TSTRING, 2, "{filter, qos} with a string filter");
			}
			f = lua_tolstring(L, -3, &len);
			opt_idx = lua_gettop(L) - 1;
			fn_idx = lua_isnil(L, -1) ? 3 : lua_gettop(L);
		}
		items[i].filter = (struct mqtt_str){ (const uint8_t *)f, len };
		items[i].options = opt_idx ? sub_options(L, opt_idx, list ? 2 : 3) : 0;
		lua_pushvalue(L, fn_idx);
		lua_rawseti(L, fns, (lua_Integer)i + 1);
		if (list)
			lua_pop(L, 2);          /* filter string stays in the list table */
	}
	touch(L, lc, 1);
	/* after a reload, a filter the live client already has is not sent */
	struct mqtt_sub_item *out = items;
	size_t send = n;
	if (lc->reloading) {
		out = lua_newuserdatauv(L, n * sizeof *out, 0);
		send = lmqtt_reload_filter(lc, items, n, out);
	}
	int err = send ? mqtt_client_subscribe(lc->c, out, send, props, props_len, &mid) : 0;
	if (err < 0)
		return fail(L, err);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, fns, (lua_Integer)i + 1);
		set_filter_handler(L, lc, (const char *)items[i].filter.ptr, lua_gettop(L));
		set_sub_id(L, sub_id, (const char *)items[i].filter.ptr, lua_isfunction(L, -1));
		lua_pop(L, 1);
	}
	if (send == 0) {
		struct ltoken *t = lmqtt_new_token(L, TOK_SUBSCRIBE, 0);
		t->done = t->ok = true;
		return 1;
	}
	lmqtt_new_token(L, TOK_SUBSCRIBE, mid);
	lmqtt_track_token(L, 1, UV_SUBS, mid);
	return 1;
}

/* c:unsubscribe(filter | {filter, ...} [, { properties = {...} }]) -> token */
static int l_unsubscribe(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	bool list = lua_istable(L, 2);
	size_t n = list ? lua_rawlen(L, 2) : 1;
	uint32_t mid = 0;
	size_t props_len = 0;
	const uint8_t *props = NULL;
	if (!list)
		luaL_checkstring(L, 2);
	luaL_argcheck(L, n > 0, 2, "empty list of filters");
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	if (lua_istable(L, 3) && lua_getfield(L, 3, "properties") != LUA_TNIL &&
			mqtt_client_version(lc->c) == MQTT_V5) {
		lmqtt_encode_props(L, -1, MQTT_UNSUBSCRIBE, "properties");
		props = (const uint8_t *)lua_tolstring(L, -1, &props_len);
	}
	luaL_checkstack(L, (int)n + LUA_MINSTACK, "too many filters");
	struct mqtt_str *f = lua_newuserdatauv(L, n * sizeof *f, 0);
	for (size_t i = 0; i < n; i++) {
		if (list && lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TSTRING)
			luaL_argexpected(L, 0, 2, "list of filter strings");
		f[i].ptr = (const uint8_t *)lua_tolstring(L, list ? -1 : 2, &f[i].len);
	}
	touch(L, lc, 1);
	int err = mqtt_client_unsubscribe(lc->c, f, n, props, props_len, &mid);
	if (err < 0)
		return fail(L, err);
	lua_pushnil(L);
	for (size_t i = 0; i < n; i++) {
		set_filter_handler(L, lc, (const char *)f[i].ptr, lua_gettop(L));
		if (lc->reloading)
			lmqtt_reload_forget(lc, (const char *)f[i].ptr);
		set_sub_id(L, 0, (const char *)f[i].ptr, false);
	}
	lua_pop(L, 1);
	lmqtt_new_token(L, TOK_UNSUBSCRIBE, mid);
	lmqtt_track_token(L, 1, UV_SUBS, mid);
	return 1;
}

/* c:ack(msg | mid): manual acknowledgement (opts.manual_ack) */
static int l_ack(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	lua_Integer id;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "mid");
		id = luaL_checkinteger(L, -1);
	} else {
		id = luaL_checkinteger(L, 2);
	}
	if (id == 0) {              /* QoS 0: nothing to acknowledge */
		lua_pushboolean(L, 1);
		return 1;
	}
	luaL_argcheck(L, id > 0 && id <= 65535, 2, "packet id 1..65535 expected");
	int err = mqtt_client_ack(lc->c, (uint16_t)id);
	if (err < 0)
		return fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* c:reload_tls(): re-read certificate, key and CA files and reconnect now;
 * true, or nil + message when the client has no TLS or the files are bad. */
static int l_reload_tls(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	int r = mqtt_client_reload_tls(lc->c);
	if (r < 0) {
		lua_pushnil(L);
		lua_pushstring(L, r == MQTT_E_STATE ? "not a TLS client" : mqtt_client_strerror(r));
		lua_pushinteger(L, r);
		return 3;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* c:reauthenticate(): v5 re-authentication with the auth method of the
 * options; true (the end is the "auth" event), or nil, message. */
static int l_reauthenticate(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	int r = mqtt_client_reauthenticate(lc->c);
	if (r < 0) {
		lua_pushnil(L);
		lua_pushstring(L, r == MQTT_E_STATE ?
			"cannot re-authenticate now (not connected, no auth method, or one running)" :
			mqtt_client_strerror(r));
		lua_pushinteger(L, r);
		return 3;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* c:auth_continue(data | nil): the answer to the waiting challenge (what
 * on_challenge returns goes here); nil gives up. */
static int l_auth_continue(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	size_t len = 0;
	const char *d = luaL_optlstring(L, 2, NULL, &len);
	int r = mqtt_client_auth_continue(lc->c, (const uint8_t *)d, len);
	if (r < 0)
		return fail(L, r);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_stats(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	struct mqtt_client_stats st;
	mqtt_client_stats(lc->c, &st);
	lua_createtable(L, 0, 18);
	lmqtt_set_int(L, "inflight", st.inflight);
	lmqtt_set_int(L, "queued", st.queued);
	lmqtt_set_int(L, "subscriptions", st.subscriptions);
	lmqtt_set_int(L, "sent_packets", (lua_Integer)st.sent_packets);
	lmqtt_set_int(L, "recv_packets", (lua_Integer)st.recv_packets);
	lmqtt_set_int(L, "connects", st.connects);
	lmqtt_set_int(L, "sent_bytes", (lua_Integer)st.sent_bytes);
	lmqtt_set_int(L, "recv_bytes", (lua_Integer)st.recv_bytes);
	lmqtt_set_int(L, "alias_bytes_saved", (lua_Integer)st.alias_bytes_saved);
	lmqtt_set_int(L, "alias_out", (lua_Integer)st.alias_out);
	lmqtt_set_int(L, "alias_in", (lua_Integer)st.alias_in);
	lmqtt_set_int(L, "alias_out_max", st.alias_out_max);
	lmqtt_set_int(L, "alias_in_max", st.alias_in_max);
	lmqtt_set_int(L, "queued_bytes", (lua_Integer)st.queued_bytes);
	lmqtt_set_int(L, "dropped", (lua_Integer)st.dropped);
	lmqtt_set_int(L, "expired", (lua_Integer)st.expired);
	lmqtt_set_int(L, "ack_waits", (lua_Integer)st.ack_waits);
	lmqtt_set_int(L, "ack_waits_cut", (lua_Integer)st.ack_waits_cut);
	lmqtt_set_int(L, "stream_waits", (lua_Integer)st.stream_waits);
	lmqtt_set_int(L, "stream_waits_cut", (lua_Integer)st.stream_waits_cut);
	lua_pushboolean(L, st.persistent);
	lua_setfield(L, -2, "persistent");
	return 1;
}

/* mqtt.matches(filter, topic) */
static int l_matches(lua_State *L)
{
	size_t flen, tlen;
	const char *f = luaL_checklstring(L, 1, &flen);
	const char *t = luaL_checklstring(L, 2, &tlen);
	lua_pushboolean(L, mqtt_topic_filter_valid((const uint8_t *)f, flen) &&
		mqtt_topic_matches((const uint8_t *)f, flen, (const uint8_t *)t, tlen));
	return 1;
}

/* ---- default client and exit ---- */

static struct lclient *default_client(lua_State *L)
{
	for (struct lclient *lc = open_clients; lc; lc = lc->next)
		if (lc->is_default && lc->L == L)
			return lc;
	return NULL;
}

void lmqtt_set_default(lua_State *L, int idx)
{
	struct lclient *lc = to_client(L, idx);
	lc->is_default = true;
}

void lmqtt_start_default(lua_State *L, bool force)
{
	struct lclient *lc = default_client(L);
	bool globals = false;
	if (!lc)
		return;
	lc->started = true;
	if (lc->adopted && lc->ref != LUA_NOREF)
		return;                 /* a kept connection */
	for (int i = 0; i < 3; i++) {
		lua_getglobal(L, lmqtt_global_names[i]);
		globals = globals || lua_isfunction(L, -1);
		lua_pop(L, 1);
	}
	if (force || globals || lc->touched) {
		lmqtt_push_client(L, lc);
		anchor(L, lc, -1);
		lua_pop(L, 1);
		lc->connects++;
		mqtt_client_connect(lc->c);
	}
}

/* At exit: every client sends DISCONNECT; done when all are idle. */
static bool drain(void *ud, bool first)
{
	bool idle = lmqtt_leaving_drain(first);
	(void)ud;
	for (struct lclient *lc = open_clients; lc; lc = lc->next) {
		if (first)
			mqtt_client_disconnect(lc->c, 0, lc->farewell, lc->farewell_len);
		idle = idle && mqtt_client_idle(lc->c);
	}
	return idle;
}

int luaopen_lia_mqtt(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "on", l_on },
		{ "connect", l_connect },
		{ "disconnect", l_disconnect },
		{ "close", l_close },
		{ "is_connected", l_is_connected },
		{ "publish", l_publish },
		{ "drain", l_drain },
		{ "subscribe", l_subscribe },
		{ "unsubscribe", l_unsubscribe },
		{ "ack", l_ack },
		{ "stats", l_stats },
		{ "reload_tls", l_reload_tls },
		{ "reauthenticate", l_reauthenticate },
		{ "auth_continue", l_auth_continue },
		{ NULL, NULL }
	};
	static const luaL_Reg meta[] = {
		{ "__gc", l_gc },
		{ "__close", l_gc },
		{ "__tostring", l_tostring },
		{ NULL, NULL }
	};
	static const luaL_Reg funcs[] = {
		{ "client", l_client },
		{ "matches", l_matches },
		{ NULL, NULL }
	};
	if (luaL_newmetatable(L, CLIENT_MT)) {
		lua_pushvalue(L, -1);
		luaL_setfuncs(L, meta, 1);          /* upvalue: the metatable (to_client) */
		luaL_newlibtable(L, methods);
		lua_pushvalue(L, -2);
		luaL_setfuncs(L, methods, 1);
		lua_pushcclosure(L, l_index, 1);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	lmqtt_open_token(L);
	/* on_challenge runs in its own coroutine; its return value is the reply */
	static const char trampoline[] =
		"return function(fn, c, data, props)\n"
		"  local ok, r = pcall(fn, c, data, props)\n"
		"  if not ok then c:auth_continue(nil) error(r, 0) end\n"
		"  if r ~= nil and type(r) ~= 'string' then c:auth_continue(nil)\n"
		"    error('on_challenge must return a string or nil, got ' .. type(r), 0) end\n"
		"  c:auth_continue(r)\n"
		"end\n";
	if (luaL_loadbuffer(L, trampoline, sizeof trampoline - 1, "=lia.mqtt auth") != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, 1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lmqtt_auth_key);
	/* weak map lc -> client userdata, so events find a live client */
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "v");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &lmqtt_clients_key);
	host_drain_remove(host_of(L), drain, NULL);
	if (host_drain_add(host_of(L), drain, NULL) < 0)
		return luaL_error(L, "out of memory");
	luaL_newlib(L, funcs);
	/* error codes as returned third by publish & co: mqtt.E_QUEUE_FULL ... */
#define MQTT_X_ERR(name, value, text) lua_pushinteger(L, value); lua_setfield(L, -2, #name + 5);
	MQTT_ERROR_LIST(MQTT_X_ERR)
#undef MQTT_X_ERR
	/* the one-shot helpers are Lua code: lia.mqtt.helpers(M, message
	 * methods) adds them, and the messages' methods (msg:json()) */
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.mqtt.helpers");
	lua_call(L, 1, 1);
	lua_pushvalue(L, -2);
	lmqtt_message_class(L);
	lua_call(L, 2, 0);
	return 1;
}
