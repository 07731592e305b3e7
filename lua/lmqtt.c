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

#include "host.h"
#include "lmqtt.h"
#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "topic_tree.h"
#include "xalloc.h"

#define CLIENT_MT "lia.mqtt.client"
#define TOKEN_MT "lia.mqtt.token"

enum { UV_HANDLERS = 1, UV_FILTERS, UV_PUBS, UV_SUBS, UV_INFO, UV_COUNT = UV_INFO };

enum { EV_CONNECT, EV_DISCONNECT, EV_MESSAGE, EV_PUBLISH, EV_SUBSCRIBE, EV_UNSUBSCRIBE,
	EV_LOG, EV_NAMES };
static const char *const event_names[] = { "connect", "disconnect", "message", "publish",
	"subscribe", "unsubscribe", "log", NULL };
static const char *const global_names[] = { "on_connect", "on_disconnect", "on_message" };

struct lclient {
	struct mqtt_client *c;      /* NULL once closed */
	struct host *h;
	lua_State *L;               /* the main state */
	struct topic_tree *filters;
	int ref;                    /* anchor while the loop may call us */
	unsigned handlers;          /* bit per EV_* with an on() handler */
	unsigned connects;          /* connect() calls, to see one from a handler */
	bool is_default, touched, started;
	char uri[256];
	struct lclient *prev, *next;
};

enum { TOK_PUBLISH, TOK_SUBSCRIBE, TOK_UNSUBSCRIBE };

struct ltoken {
	uint32_t mid;
	int kind;
	bool done, ok;
	const char *reason;         /* static: a reason name, "timeout", "closed" */
	struct host_waiter *w;
};

/* Every open client of the state, for the drain at exit. */
static struct lclient *open_clients;

/* ---- helpers ---- */

static struct lclient *to_client(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, CLIENT_MT);
}

static struct lclient *check_open(lua_State *L, int idx)
{
	struct lclient *lc = to_client(L, idx);
	if (!lc->c)
		luaL_error(L, "attempt to use a closed MQTT client");
	return lc;
}

static void push_uv(lua_State *L, int idx, int n)
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

/* ---- tokens ---- */

static struct ltoken *new_token(lua_State *L, int kind, uint32_t mid)
{
	struct ltoken *t = lua_newuserdatauv(L, sizeof *t, 1);
	*t = (struct ltoken){ .mid = mid, .kind = kind };
	luaL_setmetatable(L, TOKEN_MT);
	return t;
}

/* pending[mid] = token (at top), leaves the token on the stack. */
static void track_token(lua_State *L, int client, int uv, uint32_t mid)
{
	push_uv(L, client, uv);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, mid);
	lua_pop(L, 1);
}

static int push_tok_result(lua_State *L, void *ud)
{
	struct ltoken *t = ud;
	if (t->ok) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, t->reason ? t->reason : "failed");
	return 2;
}

static int push_timeout(lua_State *L, void *ud)
{
	struct ltoken *t = ud;
	t->w = NULL;
	lua_pushnil(L);
	lua_pushliteral(L, "timeout");
	return 2;
}

static int push_closed(lua_State *L, void *ud)
{
	(void)ud;
	lua_pushnil(L);
	lua_pushliteral(L, "closed");
	return 2;
}

/* tok:wait([ms]) -> true | nil, reason */
static int tok_wait(lua_State *L)
{
	struct ltoken *t = luaL_checkudata(L, 1, TOKEN_MT);
	lua_Number ms = luaL_optnumber(L, 2, -1);
	if (t->done)
		return push_tok_result(L, t);
	luaL_argcheck(L, !t->w, 1, "another coroutine already waits on this token");
	if (ms > 1e12)
		ms = 1e12;
	t->w = host_waiter_new(L, ms < 0 ? -1 : (int64_t)ms, push_timeout, t);
	return host_yield(L);
}

static int tok_index(lua_State *L)
{
	struct ltoken *t = luaL_checkudata(L, 1, TOKEN_MT);
	const char *k = luaL_checkstring(L, 2);
	if (strcmp(k, "mid") == 0)
		lua_pushinteger(L, t->mid);
	else if (strcmp(k, "done") == 0)
		lua_pushboolean(L, t->done);
	else if (strcmp(k, "ok") == 0)
		t->done ? lua_pushboolean(L, t->ok) : lua_pushnil(L);
	else if (strcmp(k, "reason") == 0)
		t->done && !t->ok ? lua_pushstring(L, t->reason) : lua_pushnil(L);
	else if (strcmp(k, "wait") == 0)
		lua_pushcfunction(L, tok_wait);
	else if (strcmp(k, "codes") == 0)
		lua_getiuservalue(L, 1, 1);
	else
		lua_pushnil(L);
	return 1;
}

static int tok_tostring(lua_State *L)
{
	struct ltoken *t = luaL_checkudata(L, 1, TOKEN_MT);
	static const char *const kinds[] = { "publish", "subscribe", "unsubscribe" };
	lua_pushfstring(L, "lia.mqtt.token (%s mid %d, %s)", kinds[t->kind], (int)t->mid,
		!t->done ? "pending" : t->ok ? "ok" : t->reason);
	return 1;
}

/* Mark token pending[mid] complete (inside a protected call); returns the
 * waiter to wake after, with the token alive on its coroutine's stack. */
struct complete_req {
	struct lclient *lc;
	int uv;
	uint32_t mid;
	bool ok;
	const char *reason;
	struct mqtt_str codes;      /* SUBACK / UNSUBACK */
	uint8_t version;
	struct ltoken *tok;
	struct host_waiter *w;
};

static int complete_k(lua_State *L)
{
	struct complete_req *r = lua_touserdata(L, 1);
	host_push_ref(L, r->lc->ref);
	if (lua_isnil(L, -1))
		return 0;
	push_uv(L, -1, r->uv);
	if (lua_rawgeti(L, -1, r->mid) != LUA_TUSERDATA)
		return 0;
	struct ltoken *t = lua_touserdata(L, -1);
	t->done = true;
	t->ok = r->ok;
	t->reason = r->ok ? NULL : r->reason;
	if (r->codes.ptr) {
		lua_createtable(L, (int)r->codes.len, 0);
		for (size_t i = 0; i < r->codes.len; i++) {
			lua_pushinteger(L, r->codes.ptr[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_setiuservalue(L, -2, 1);
	}
	r->tok = t;
	r->w = t->w;
	t->w = NULL;
	lua_pushnil(L);
	lua_rawseti(L, -3, r->mid);
	return 0;
}

static void complete(struct lclient *lc, struct complete_req *r)
{
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	r->lc = lc;
	lua_pushcfunction(L, complete_k);
	lua_pushlightuserdata(L, r);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK)
		log_error("lia.mqtt: %s", lua_tostring(L, -1));
	lua_settop(L, top);
	if (r->w)
		host_wake(r->w, push_tok_result, r->tok);
}

/* SUBACK codes: the subscription failed when every code is >= 0x80. */
static void sub_outcome(struct complete_req *r, uint8_t version, int type)
{
	r->ok = true;
	r->reason = NULL;
	for (size_t i = 0; i < r->codes.len; i++) {
		if (r->codes.ptr[i] >= 0x80) {
			r->ok = false;
			r->reason = mqtt_reason_name(version, type, r->codes.ptr[i]);
		}
	}
}

/* Wake every waiter of a closing client with nil, "closed". */
static void fail_pending(lua_State *L, int idx)
{
	for (int uv = UV_PUBS; uv <= UV_SUBS; uv++) {
		push_uv(L, idx, uv);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			struct ltoken *t = lua_touserdata(L, -1);
			if (t && !t->done) {
				t->done = true;
				t->reason = "closed";
				if (t->w) {
					struct host_waiter *w = t->w;
					t->w = NULL;
					host_wake(w, push_closed, NULL);
				}
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		lua_newtable(L);
		lua_setiuservalue(L, idx, uv);
	}
}

/* ---- events into Lua ---- */

static const char CLIENTS = 'c';        /* registry: weak lc -> userdata */

/* Push the client userdata of lc (nil once collected); never raises. */
static bool push_client(lua_State *L, struct lclient *lc)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &CLIENTS);
	lua_rawgetp(L, -1, lc);
	lua_remove(L, -2);
	return !lua_isnil(L, -1);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, bool v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void set_bytes(lua_State *L, const char *k, struct mqtt_str s)
{
	lua_pushlstring(L, s.ptr ? (const char *)s.ptr : "", s.len);
	lua_setfield(L, -2, k);
}

static void set_props(lua_State *L, struct mqtt_str block)
{
	lmqtt_push_props(L, block);
	lua_setfield(L, -2, "properties");
}

static void push_codes(lua_State *L, struct mqtt_str codes)
{
	lua_createtable(L, (int)codes.len, 0);
	for (size_t i = 0; i < codes.len; i++) {
		lua_pushinteger(L, codes.ptr[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

static void push_message(lua_State *L, const struct mqtt_publish *m)
{
	lua_createtable(L, 0, 8);
	set_bytes(L, "topic", m->topic);
	set_bytes(L, "payload", m->payload);
	set_int(L, "qos", m->qos);
	set_bool(L, "retain", m->retain);
	set_bool(L, "dup", m->dup);
	set_int(L, "mid", m->packet_id);
	set_props(L, m->props);
}

static int push_args(lua_State *L, const struct mqtt_event *ev)
{
	switch (ev->type) {
	case MQTT_EV_CONNECT:
		lua_createtable(L, 0, 4);
		set_bool(L, "session_present", ev->u.connect.session_present);
		set_int(L, "reason", ev->u.connect.reason);
		set_str(L, "reason_name", ev->u.connect.reason_name);
		set_props(L, ev->u.connect.props);
		return 1;
	case MQTT_EV_DISCONNECT:
		lua_createtable(L, 0, 7);
		set_int(L, "reason", ev->u.disconnect.reason);
		set_str(L, "reason_name", ev->u.disconnect.reason_name);
		set_bool(L, "by_server", ev->u.disconnect.by_server);
		set_bool(L, "will_reconnect", ev->u.disconnect.will_reconnect);
		set_bool(L, "connected", ev->u.disconnect.connected);
		set_str(L, "message", ev->u.disconnect.message ? ev->u.disconnect.message : "");
		set_props(L, ev->u.disconnect.props);
		return 1;
	case MQTT_EV_MESSAGE:
		push_message(L, ev->u.message.msg);
		return 1;
	case MQTT_EV_PUBLISHED:
		lua_pushinteger(L, ev->u.published.mid);
		lua_pushboolean(L, ev->u.published.ok);
		lua_pushstring(L, ev->u.published.reason_name);
		return 3;
	case MQTT_EV_SUBSCRIBED:
	case MQTT_EV_UNSUBSCRIBED:
		lua_pushinteger(L, ev->u.subscribed.mid);
		push_codes(L, ev->u.subscribed.codes);
		lmqtt_push_props(L, ev->u.subscribed.props);
		return 3;
	case MQTT_EV_LOG:
		lua_pushstring(L, log_level_name(ev->u.log.level));
		lua_pushstring(L, ev->u.log.line);
		return 2;
	default:
		return 0;
	}
}

struct ev_push {
	struct lclient *lc;
	const struct mqtt_event *ev;
	int which;                  /* EV_* */
	bool global;                /* the global on_* function, not on()'s */
	const char *filter;         /* a per-filter handler */
};

/* Pushes handler, client, event arguments; nothing when no handler. */
static int push_event(lua_State *L, void *ud)
{
	struct ev_push *p = ud;
	int base = lua_gettop(L);
	if (!push_client(L, p->lc)) {
		lua_settop(L, base);
		return 0;
	}
	if (p->filter) {
		push_uv(L, base + 1, UV_FILTERS);
		lua_getfield(L, -1, p->filter);
	} else if (p->global) {
		lua_pushglobaltable(L);
		lua_getfield(L, -1, global_names[p->which]);
	} else {
		push_uv(L, base + 1, UV_HANDLERS);
		lua_getfield(L, -1, event_names[p->which]);
	}
	if (!lua_isfunction(L, -1)) {
		lua_settop(L, base);
		return 0;
	}
	lua_replace(L, base + 2);
	lua_settop(L, base + 2);
	lua_insert(L, base + 1);            /* function, client */
	return 1 + push_args(L, p->ev);
}

static void spawn(struct lclient *lc, const struct mqtt_event *ev, int which, bool global,
	const char *filter)
{
	struct ev_push p = { lc, ev, which, global, filter };
	host_spawn(lc->h, push_event, &p);
}

static void dispatch(struct lclient *lc, const struct mqtt_event *ev, int which)
{
	if (lc->handlers & (1u << which))
		spawn(lc, ev, which, false, NULL);
	if (lc->c && lc->is_default && which <= EV_MESSAGE)
		spawn(lc, ev, which, true, NULL);
}

struct matches {
	char **v;
	size_t n, cap;
};

static void collect(const char *filter, void *value, void *ud)
{
	struct matches *m = ud;
	(void)value;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		char **v = xrealloc(m->v, cap * sizeof *v);
		if (!v)
			return;
		m->v = v;
		m->cap = cap;
	}
	if ((m->v[m->n] = xstrdup(filter)))
		m->n++;
}

/* Per-filter handlers take the message; on("message") gets it otherwise.
 * The matches are copied first: a handler may unsubscribe. */
static void route(struct lclient *lc, const struct mqtt_event *ev)
{
	const struct mqtt_publish *msg = ev->u.message.msg;
	struct matches m = { 0 };
	char buf[256], *topic = buf;
	if (lc->filters && topic_tree_count(lc->filters)) {
		if (msg->topic.len >= sizeof buf)
			topic = xmalloc(msg->topic.len + 1);
		if (topic) {
			memcpy(topic, msg->topic.ptr, msg->topic.len);
			topic[msg->topic.len] = '\0';
			topic_tree_match(lc->filters, topic, collect, &m);
			if (topic != buf)
				xfree(topic);
		}
	}
	for (size_t i = 0; i < m.n; i++) {
		if (lc->c)
			spawn(lc, ev, EV_MESSAGE, false, m.v[i]);
		xfree(m.v[i]);
	}
	xfree(m.v);
	if (m.n == 0)
		dispatch(lc, ev, EV_MESSAGE);
}

static void unanchor(struct lclient *lc)
{
	host_unref(lc->L, &lc->ref);
}

static void on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	struct lclient *lc = ud;
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	struct complete_req r = { 0 };
	(void)c;
	/* keep the userdata alive on the main stack while handlers run: one
	 * of them may close the client and drop the last reference */
	push_client(L, lc);
	switch (ev->type) {
	case MQTT_EV_CONNECT:
		dispatch(lc, ev, EV_CONNECT);
		break;
	case MQTT_EV_DISCONNECT: {
		unsigned connects = lc->connects;
		dispatch(lc, ev, EV_DISCONNECT);
		if (!ev->u.disconnect.will_reconnect && lc->connects == connects && lc->c &&
				mqtt_client_idle(lc->c))
			unanchor(lc);
		break;
	}
	case MQTT_EV_MESSAGE:
		route(lc, ev);
		break;
	case MQTT_EV_PUBLISHED:
		r.uv = UV_PUBS;
		r.mid = ev->u.published.mid;
		r.ok = ev->u.published.ok;
		r.reason = ev->u.published.reason_name;
		complete(lc, &r);
		dispatch(lc, ev, EV_PUBLISH);
		break;
	case MQTT_EV_SUBSCRIBED:
	case MQTT_EV_UNSUBSCRIBED: {
		int type = ev->type == MQTT_EV_SUBSCRIBED ? MQTT_SUBACK : MQTT_UNSUBACK;
		r.uv = UV_SUBS;
		r.mid = ev->u.subscribed.mid;
		r.codes = ev->u.subscribed.codes;
		sub_outcome(&r, mqtt_client_version(c), type);
		complete(lc, &r);
		dispatch(lc, ev, type == MQTT_SUBACK ? EV_SUBSCRIBE : EV_UNSUBSCRIBE);
		break;
	}
	case MQTT_EV_LOG:
		dispatch(lc, ev, EV_LOG);
		break;
	default:
		break;
	}
	lua_settop(L, top);
}

/* ---- options ---- */

static const char *const opt_names[] = { "uri", "host", "port", "client_id", "protocol",
	"clean", "session_expiry", "keepalive", "username", "password", "will", "reconnect",
	"max_inflight", "max_queued", "properties", "manual_ack", "connect_timeout",
	"max_packet_size", NULL };

static void check_opt_names(lua_State *L, int t)
{
	lua_pushnil(L);
	while (lua_next(L, t)) {
		bool known = false;
		if (lua_type(L, -2) == LUA_TSTRING)
			for (int i = 0; opt_names[i]; i++)
				known = known || strcmp(opt_names[i], lua_tostring(L, -2)) == 0;
		if (!known)
			luaL_error(L, "mqtt.client: unknown option '%s'", luaL_tolstring(L, -2, NULL));
		lua_pop(L, 1);
	}
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

/* The broker URI: opts.uri, or mqtt://host:port. */
static const char *opt_uri(lua_State *L, int t)
{
	const char *uri = opt_str(L, t, "uri", NULL);
	const char *host = opt_str(L, t, "host", NULL);
	lua_Integer port = (lua_Integer)opt_num(L, t, "port", 1883, 1, 65535);
	if (uri)
		return uri;
	if (!host)
		host = "localhost";
	return lua_pushfstring(L, strchr(host, ':') ? "mqtt://[%s]:%d" : "mqtt://%s:%d",
		host, (int)port);
}

/* Fill o from the table at t; strings stay valid while the values this
 * pushes stay on the stack. */
static void read_opts(lua_State *L, int t, struct mqtt_client_opts *o)
{
	size_t len = 0;
	check_opt_names(L, t);
	o->uri = opt_uri(L, t);
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
	o->connect_timeout_ms = (uint32_t)(opt_num(L, t, "connect_timeout", 0, 0, 86400) * 1000);
	o->max_packet_size = (uint32_t)opt_num(L, t, "max_packet_size", 0, 0, 268435460.0);
	o->manual_ack = opt_bool(L, t, "manual_ack", false);
	opt_reconnect(L, t, o);
	opt_will(L, t, o, o->version);
	if (lua_getfield(L, t, "properties") != LUA_TNIL && o->version == MQTT_V5) {
		lmqtt_encode_props(L, -1, MQTT_CONNECT, "properties");
		o->connect_props = (const uint8_t *)lua_tolstring(L, -1, &o->connect_props_len);
	}
}

/* ---- the client ---- */

static void close_client(lua_State *L, int idx)
{
	struct lclient *lc = to_client(L, idx);
	if (!lc->c)
		return;
	mqtt_client_free(lc->c);
	lc->c = NULL;
	topic_tree_free(lc->filters);
	lc->filters = NULL;
	if (lc->prev)
		lc->prev->next = lc->next;
	else if (open_clients == lc)
		open_clients = lc->next;
	if (lc->next)
		lc->next->prev = lc->prev;
	lc->prev = lc->next = NULL;
	fail_pending(L, idx);
	unanchor(lc);
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

/* c.method, or the read-only fields client_id, uri, protocol */
static int l_index(lua_State *L)
{
	to_client(L, 1);
	lua_settop(L, 2);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	push_uv(L, 1, UV_INFO);
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

/* mqtt.client(opts) */
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
	read_opts(L, 1, &o);
	lc->h = host_of(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	lc->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	snprintf(lc->uri, sizeof lc->uri, "%s", o.uri);
	lc->filters = topic_tree_new();
	if (!lc->filters)
		return luaL_error(L, "out of memory");
	lc->c = mqtt_client_new(host_get_loop(L), &o, NULL, err, sizeof err);
	if (!lc->c) {
		topic_tree_free(lc->filters);
		lc->filters = NULL;
		return luaL_error(L, "mqtt.client: %s", err);
	}
	mqtt_client_set_handler(lc->c, on_event, lc);
	push_uv(L, ud, UV_INFO);
	lua_pushstring(L, o.client_id);
	lua_setfield(L, -2, "client_id");
	lua_pushstring(L, o.uri);
	lua_setfield(L, -2, "uri");
	lua_pushinteger(L, o.version);
	lua_setfield(L, -2, "protocol");
	lua_pop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &CLIENTS);
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
	int ev = luaL_checkoption(L, 2, NULL, event_names);
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 3);
	push_uv(L, 1, UV_HANDLERS);
	lua_pushvalue(L, 3);
	lua_setfield(L, -2, event_names[ev]);
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
	}
	lc->touched = true;
	int r = mqtt_client_disconnect(lc->c, (uint8_t)reason, (const uint8_t *)props, plen);
	if (r < 0)
		return fail(L, r);
	if (mqtt_client_idle(lc->c))
		unanchor(lc);     /* nothing more will come */
	lua_pushboolean(L, 1);
	return 1;
}

static int l_is_connected(lua_State *L)
{
	struct lclient *lc = to_client(L, 1);
	lua_pushboolean(L, lc->c && mqtt_client_connected(lc->c));
	return 1;
}

/* c:publish(topic, payload [, opts | qos [, retain]]) -> token | nil, msg, code */
static int l_publish(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	struct mqtt_pub_req r = { 0 };
	size_t plen = 0;
	uint32_t mid = 0;
	lua_Integer qos = 0;
	r.topic = luaL_checklstring(L, 2, &r.topic_len);
	if (!lua_isnoneornil(L, 3)) {
		luaL_argexpected(L, lua_type(L, 3) == LUA_TSTRING || lua_type(L, 3) == LUA_TNUMBER,
			3, "string payload");
		r.payload = (const uint8_t *)lua_tolstring(L, 3, &plen);
		r.payload_len = plen;
	}
	lua_settop(L, 5);
	if (lua_istable(L, 4)) {
		if (lua_getfield(L, 4, "qos") != LUA_TNIL)
			qos = luaL_checkinteger(L, -1);
		r.retain = lua_getfield(L, 4, "retain") != LUA_TNIL && lua_toboolean(L, -1);
		if (lua_getfield(L, 4, "properties") != LUA_TNIL &&
				mqtt_client_version(lc->c) == MQTT_V5) {
			lmqtt_encode_props(L, -1, MQTT_PUBLISH, "properties");
			r.props = (const uint8_t *)lua_tolstring(L, -1, &r.props_len);
		}
	} else {
		qos = luaL_optinteger(L, 4, 0);
		r.retain = lua_toboolean(L, 5);
	}
	luaL_argcheck(L, qos >= 0 && qos <= 2, 4, "qos must be 0, 1 or 2");
	r.qos = (uint8_t)qos;
	touch(L, lc, 1);
	int err = mqtt_client_publish(lc->c, &r, &mid);
	if (err < 0)
		return fail(L, err);
	new_token(L, TOK_PUBLISH, mid);
	track_token(L, 1, UV_PUBS, mid);
	return 1;
}

/* Subscription options: qos, or { qos, no_local, retain_as_published, retain_handling } */
static uint8_t sub_options(lua_State *L, int idx, int arg)
{
	lua_Integer qos = 0, rh = 0;
	uint8_t o = 0;
	idx = lua_absindex(L, idx);
	if (lua_istable(L, idx)) {
		lua_getfield(L, idx, "qos");
		qos = luaL_optinteger(L, -1, 0);
		lua_getfield(L, idx, "retain_handling");
		rh = luaL_optinteger(L, -1, 0);
		if (lua_getfield(L, idx, "no_local"), lua_toboolean(L, -1))
			o |= MQTT_SUB_NO_LOCAL;
		if (lua_getfield(L, idx, "retain_as_published"), lua_toboolean(L, -1))
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
	push_uv(L, 1, UV_FILTERS);
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
	int err = mqtt_client_subscribe(lc->c, items, n, NULL, 0, &mid);
	if (err < 0)
		return fail(L, err);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, fns, (lua_Integer)i + 1);
		set_filter_handler(L, lc, (const char *)items[i].filter.ptr, lua_gettop(L));
		lua_pop(L, 1);
	}
	new_token(L, TOK_SUBSCRIBE, mid);
	track_token(L, 1, UV_SUBS, mid);
	return 1;
}

/* c:unsubscribe(filter | {filter, ...}) -> token */
static int l_unsubscribe(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	bool list = lua_istable(L, 2);
	size_t n = list ? lua_rawlen(L, 2) : 1;
	uint32_t mid = 0;
	if (!list)
		luaL_checkstring(L, 2);
	luaL_argcheck(L, n > 0, 2, "empty list of filters");
	lua_settop(L, 2);
	luaL_checkstack(L, (int)n + LUA_MINSTACK, "too many filters");
	struct mqtt_str *f = lua_newuserdatauv(L, n * sizeof *f, 0);
	for (size_t i = 0; i < n; i++) {
		if (list && lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TSTRING)
			luaL_argexpected(L, 0, 2, "list of filter strings");
		f[i].ptr = (const uint8_t *)lua_tolstring(L, list ? -1 : 2, &f[i].len);
	}
	touch(L, lc, 1);
	int err = mqtt_client_unsubscribe(lc->c, f, n, NULL, 0, &mid);
	if (err < 0)
		return fail(L, err);
	lua_pushnil(L);
	for (size_t i = 0; i < n; i++)
		set_filter_handler(L, lc, (const char *)f[i].ptr, lua_gettop(L));
	lua_pop(L, 1);
	new_token(L, TOK_UNSUBSCRIBE, mid);
	track_token(L, 1, UV_SUBS, mid);
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

static int l_stats(lua_State *L)
{
	struct lclient *lc = check_open(L, 1);
	struct mqtt_client_stats st;
	mqtt_client_stats(lc->c, &st);
	lua_createtable(L, 0, 7);
	set_int(L, "inflight", st.inflight);
	set_int(L, "queued", st.queued);
	set_int(L, "subscriptions", st.subscriptions);
	set_int(L, "sent_packets", (lua_Integer)st.sent_packets);
	set_int(L, "recv_packets", (lua_Integer)st.recv_packets);
	set_int(L, "connects", st.connects);
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
	for (int i = 0; i < 3; i++) {
		lua_getglobal(L, global_names[i]);
		globals = globals || lua_isfunction(L, -1);
		lua_pop(L, 1);
	}
	if (force || globals || lc->touched) {
		push_client(L, lc);
		anchor(L, lc, -1);
		lua_pop(L, 1);
		lc->connects++;
		mqtt_client_connect(lc->c);
	}
}

/* At exit: every client sends DISCONNECT; done when all are idle. */
static bool drain(void *ud, bool first)
{
	bool idle = true;
	(void)ud;
	for (struct lclient *lc = open_clients; lc; lc = lc->next) {
		if (first)
			mqtt_client_disconnect(lc->c, 0, NULL, 0);
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
		{ "subscribe", l_subscribe },
		{ "unsubscribe", l_unsubscribe },
		{ "ack", l_ack },
		{ "stats", l_stats },
		{ NULL, NULL }
	};
	static const luaL_Reg meta[] = {
		{ "__gc", l_gc },
		{ "__close", l_gc },
		{ "__tostring", l_tostring },
		{ NULL, NULL }
	};
	static const luaL_Reg tmeta[] = {
		{ "__index", tok_index },
		{ "__tostring", tok_tostring },
		{ NULL, NULL }
	};
	static const luaL_Reg funcs[] = {
		{ "client", l_client },
		{ "matches", l_matches },
		{ NULL, NULL }
	};
	if (luaL_newmetatable(L, CLIENT_MT)) {
		luaL_setfuncs(L, meta, 0);
		luaL_newlib(L, methods);
		lua_pushcclosure(L, l_index, 1);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, TOKEN_MT))
		luaL_setfuncs(L, tmeta, 0);
	lua_pop(L, 1);
	/* weak map lc -> client userdata, so events find a live client */
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "v");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &CLIENTS);
	host_drain_remove(host_of(L), drain, NULL);
	if (host_drain_add(host_of(L), drain, NULL) < 0)
		return luaL_error(L, "out of memory");
	luaL_newlib(L, funcs);
	/* error codes as returned third by publish & co: mqtt.E_QUEUE_FULL ... */
#define MQTT_X_ERR(name, value, text) lua_pushinteger(L, value); lua_setfield(L, -2, #name + 5);
	MQTT_ERROR_LIST(MQTT_X_ERR)
#undef MQTT_X_ERR
	/* the one-shot helpers are Lua code: lia.mqtt.helpers(M) adds them */
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.mqtt.helpers");
	lua_call(L, 1, 1);
	lua_pushvalue(L, -2);
	lua_call(L, 1, 0);
	return 1;
}
