/*
 * lmqtt_events.c - a client's core events into Lua: each handler (c:on,
 * per-filter, global on_*) runs in its own coroutine through host_spawn,
 * with the event turned into Lua values inside the protection. Messages go
 * to every matching per-filter handler, else to on("message").
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "lmqtt.h"
#include "log.h"
#include "mqtt_client.h"
#include "topic_tree.h"
#include "xalloc.h"

/* its address is the registry key of the weak table lc -> userdata */
const char lmqtt_clients_key = 'c';

const char *const lmqtt_event_names[] = { "connect", "disconnect", "message", "publish",
	"subscribe", "unsubscribe", "log", "connect_failed", "auth", NULL };
const char lmqtt_auth_key = 'a';
const char *const lmqtt_global_names[] = { "on_connect", "on_disconnect", "on_message" };
/* its address is the registry key of the messages' metatable */
static const char message_mt = 'm';



/* Push the client userdata of lc (nil once collected); never raises.
 * An anchored client (connected or connecting) is one array read away:
 * this runs twice per message. */
bool lmqtt_push_client(lua_State *L, struct lclient *lc)
{
	if (lc->ref != LUA_NOREF && lc->ref != LUA_REFNIL) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, lc->ref);
		return true;
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &lmqtt_clients_key);
	lua_rawgetp(L, -1, lc);
	lua_remove(L, -2);
	return !lua_isnil(L, -1);
}

void lmqtt_set_int(lua_State *L, const char *k, long long v)
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

static void set_bytes_top(lua_State *L, struct mqtt_str s)
{
	lua_pushlstring(L, s.ptr ? (const char *)s.ptr : "", s.len);
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

/* msg.subscription_ids: every id the broker sent (one per matching
 * subscription that has one), in order; an empty list when none. */
static void set_sub_ids(lua_State *L, struct mqtt_str props)
{
	struct mqtt_prop p;
	size_t off = 0;
	lua_Integer n = 0;
	lua_newtable(L);
	while (props.ptr && mqtt_props_next(props, &off, &p) == 1) {
		if (p.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
			lua_pushinteger(L, (lua_Integer)p.num);
			lua_rawseti(L, -2, ++n);
		}
	}
	lua_setfield(L, -2, "subscription_ids");
}

/* The keys of a message's fields, interned once in the messages'
 * metatable (its array part: found without hashing), so a message is
 * built with raw sets of ready strings: lua_setfield would look each C
 * string up in the string cache, then check the metatable for __newindex.
 * Building the table was a third of a delivery's CPU. */
enum { K_TOPIC = 1, K_PAYLOAD, K_QOS, K_RETAIN, K_DUP, K_MID, K_COUNT = K_MID };
static const char *const message_keys[K_COUNT] = { "topic", "payload", "qos", "retain", "dup", "mid" };

/* Only what the packet carried is built: a message without properties
 * (every 3.1.1 one) gets msg.properties and msg.subscription_ids from
 * message_index on first use, and a QoS 0 one (no packet id, DUP 0
 * [MQTT-3.3.1-2]) its dup and mid: two of six raw sets, and half the
 * table, on the commonest stream. Each field: its key from the
 * metatable, the value, a raw set. */
static void push_message(lua_State *L, const struct mqtt_publish *m)
{
	bool ided = m->packet_id || m->dup;
	lua_createtable(L, 0, ided || m->props.len ? 8 : 4);
	int t = lua_gettop(L), mt = t + 1;
	if (m->props.ptr && m->props.len) {
		set_sub_ids(L, m->props);
		set_props(L, m->props);
	}
	/* the metatable above the message, so nothing is moved at the end */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &message_mt);
	lua_rawgeti(L, mt, K_TOPIC);
	lua_pushlstring(L, m->topic.ptr ? (const char *)m->topic.ptr : "", m->topic.len);
	lua_rawset(L, t);
	lua_rawgeti(L, mt, K_PAYLOAD);
	lua_pushlstring(L, m->payload.ptr ? (const char *)m->payload.ptr : "", m->payload.len);
	lua_rawset(L, t);
	lua_rawgeti(L, mt, K_QOS);
	lua_pushinteger(L, m->qos);
	lua_rawset(L, t);
	lua_rawgeti(L, mt, K_RETAIN);
	lua_pushboolean(L, m->retain);
	lua_rawset(L, t);
	if (ided) {
		lua_rawgeti(L, mt, K_DUP);
		lua_pushboolean(L, m->dup);
		lua_rawset(L, t);
		lua_rawgeti(L, mt, K_MID);
		lua_pushinteger(L, m->packet_id);
		lua_rawset(L, t);
	}
	lua_setmetatable(L, t);     /* msg:json(), the lazy fields */
}

/* __index of messages: the methods; a QoS 0 message's dup (false) and mid
 * (0); and msg.properties / msg.subscription_ids of a message that had no
 * properties: a new empty table on first use, kept in the message (so it
 * may be changed, and is the same on the next read). */
static int message_index(lua_State *L)
{
	const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
	if (strcmp(k, "dup") == 0) {
		lua_pushboolean(L, false);
		return 1;
	}
	if (strcmp(k, "mid") == 0) {
		lua_pushinteger(L, 0);
		return 1;
	}
	if (strcmp(k, "properties") == 0 || strcmp(k, "subscription_ids") == 0) {
		lua_settop(L, 2);
		lua_newtable(L);
		lua_pushvalue(L, 2);
		lua_pushvalue(L, 3);
		lua_rawset(L, 1);       /* msg[k] = {} */
		return 1;
	}
	lua_settop(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

void lmqtt_message_class(lua_State *L)
{
	luaL_newmetatable(L, LMQTT_MESSAGE_MT);
	for (int k = 1; k <= K_COUNT; k++) {
		lua_pushstring(L, message_keys[k - 1]);
		lua_rawseti(L, -2, k);
	}
	lua_newtable(L);
	lua_pushvalue(L, -1);
	lua_pushcclosure(L, message_index, 1);
	lua_setfield(L, -3, "__index");
	lua_insert(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &message_mt);     /* found without a name */
}

static int push_args(lua_State *L, const struct mqtt_event *ev, uint8_t version, bool reloaded)
{
	switch (ev->type) {
	case MQTT_EV_CONNECT:
		lua_createtable(L, 0, 5);
		set_bool(L, "session_present", ev->u.connect.session_present);
		if (reloaded)
			set_bool(L, "reloaded", true);
		set_str(L, "uri", ev->u.connect.uri);
		lmqtt_set_int(L, "reason", ev->u.connect.reason);
		set_str(L, "reason_name", ev->u.connect.reason_name);
		if (ev->u.connect.reason)
			set_bool(L, "permanent", mqtt_reason_permanent(version, ev->u.connect.reason));
		set_props(L, ev->u.connect.props);
		return 1;
	case MQTT_EV_DISCONNECT:
		lua_createtable(L, 0, 7);
		lmqtt_set_int(L, "reason", ev->u.disconnect.reason);
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
	case MQTT_EV_AUTH:
		if (!ev->u.auth.done) {     /* on_challenge(c, data, props) */
			set_bytes_top(L, ev->u.auth.data);
			lmqtt_push_props(L, ev->u.auth.props);
			return 2;
		}
		lua_createtable(L, 0, 5);
		lmqtt_set_int(L, "reason", ev->u.auth.reason);
		set_str(L, "reason_name", mqtt_reason_name(MQTT_V5, MQTT_AUTH, ev->u.auth.reason));
		set_bool(L, "reauth", ev->u.auth.reauth);
		set_bytes(L, "data", ev->u.auth.data);
		set_props(L, ev->u.auth.props);
		return 1;
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
	bool reloaded;              /* a kept connection after a reload */
	const char *filter;         /* a per-filter handler */
};

/* Pushes handler, client, event arguments; nothing when no handler. */
static int push_event(lua_State *L, void *ud)
{
	struct ev_push *p = ud;
	int base = lua_gettop(L);
	if (!lmqtt_push_client(L, p->lc)) {
		lua_settop(L, base);
		return 0;
	}
	if (p->ev->type == MQTT_EV_AUTH && !p->ev->u.auth.done) {
		/* trampoline(on_challenge, c, data, props): the reply goes back */
		lmqtt_push_uv(L, base + 1, UV_HANDLERS);
		lua_getfield(L, -1, "on_challenge");
		lua_rawgetp(L, LUA_REGISTRYINDEX, &lmqtt_auth_key);
		lua_replace(L, base + 2);           /* client, trampoline, fn */
		lua_rotate(L, base + 1, -1);        /* trampoline, fn, client */
		return 2 + push_args(L, p->ev, p->lc->c ? mqtt_client_version(p->lc->c) : MQTT_V311, false);
	}
	if (p->filter) {
		lmqtt_push_uv(L, base + 1, UV_FILTERS);
		lua_getfield(L, -1, p->filter);
	} else if (p->global) {
		lua_pushglobaltable(L);
		lua_getfield(L, -1, lmqtt_global_names[p->which]);
	} else {
		lmqtt_push_uv(L, base + 1, UV_HANDLERS);
		lua_getfield(L, -1, lmqtt_event_names[p->which]);
	}
	if (!lua_isfunction(L, -1)) {
		lua_settop(L, base);
		return 0;
	}
	lua_replace(L, base + 2);
	lua_settop(L, base + 2);
	lua_insert(L, base + 1);            /* function, client */
	return 1 + push_args(L, p->ev, p->lc->c ? mqtt_client_version(p->lc->c) : MQTT_V311,
		p->reloaded);
}

static void spawn(struct lclient *lc, const struct mqtt_event *ev, int which, bool global,
	const char *filter, bool reloaded)
{
	struct ev_push p = { lc, ev, which, global, reloaded, filter };
	host_spawn(lc->h, push_event, &p);
}

static void dispatch_as(struct lclient *lc, const struct mqtt_event *ev, int which, bool reloaded)
{
	if (lc->handlers & (1u << which))
		spawn(lc, ev, which, false, NULL, reloaded);
	if (lc->c && lc->is_default && which <= EV_MESSAGE)
		spawn(lc, ev, which, true, NULL, reloaded);
}

static void dispatch(struct lclient *lc, const struct mqtt_event *ev, int which)
{
	dispatch_as(lc, ev, which, false);
}

void lmqtt_emit_reloaded(struct lclient *lc)
{
	struct mqtt_event ev = { .type = MQTT_EV_CONNECT };
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	ev.u.connect.session_present = true;
	ev.u.connect.reason_name = "success";
	lmqtt_push_client(L, lc);       /* alive while its handlers run */
	dispatch_as(lc, &ev, EV_CONNECT, true);
	lua_settop(L, top);
}

/* The filters a message matched, copied (a handler may unsubscribe):
 * into the arena on the C stack while they fit, so the usual message
 * allocates nothing here. */
#define MATCH_INLINE 8
#define MATCH_ARENA 512

struct matches {
	char **v;
	size_t n, cap;
	char *inl[MATCH_INLINE];
	size_t used;
	char arena[MATCH_ARENA];
};

static void matches_init(struct matches *m)
{
	m->v = m->inl;
	m->n = m->used = 0;
	m->cap = MATCH_INLINE;
}

static bool in_arena(const struct matches *m, const char *p)
{
	return (uintptr_t)p - (uintptr_t)m->arena < sizeof m->arena;
}

static void matches_free(struct matches *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!in_arena(m, m->v[i]))
			xfree(m->v[i]);
	if (m->v != m->inl)
		xfree(m->v);
}

static bool matches_grow(struct matches *m)
{
	size_t cap = m->cap * 2;
	char **v = m->v == m->inl ? xmalloc(cap * sizeof *v) : xrealloc(m->v, cap * sizeof *v);
	if (!v)
		return false;
	if (m->v == m->inl)
		memcpy(v, m->inl, sizeof m->inl);
	m->v = v;
	m->cap = cap;
	return true;
}

static void collect(const char *filter, void *value, void *ud)
{
	struct matches *m = ud;
	size_t len = strlen(filter) + 1;
	(void)value;
	if (m->n == m->cap && !matches_grow(m))
		return;
	if (len <= sizeof m->arena - m->used) {
		m->v[m->n] = memcpy(m->arena + m->used, filter, len);
		m->used += len;
		m->n++;
	} else if ((m->v[m->n] = xstrdup(filter))) {
		m->n++;
	}
}

/* The filters whose subscription identifiers the message carries (and
 * that still have a handler): the broker did the matching already. */
static void match_by_id(struct lclient *lc, const struct mqtt_publish *msg, struct matches *m)
{
	lua_State *L = lc->L;
	struct mqtt_prop p;
	size_t off = 0;
	int top = lua_gettop(L);
	if (!msg->props.ptr || !lmqtt_push_client(L, lc)) {
		lua_settop(L, top);
		return;
	}
	lmqtt_push_uv(L, top + 1, UV_FILTERS);
	while (mqtt_props_next(msg->props, &off, &p) == 1) {
		if (p.id != MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
			continue;
		if (lua_rawgeti(L, top + 2, (lua_Integer)p.num) == LUA_TSTRING &&
				lua_getfield(L, top + 2, lua_tostring(L, -1)) == LUA_TFUNCTION) {
			bool dup = false;
			for (size_t i = 0; i < m->n; i++)
				dup = dup || strcmp(m->v[i], lua_tostring(L, -2)) == 0;
			if (!dup)
				collect(lua_tostring(L, -2), NULL, m);
		}
		lua_settop(L, top + 2);
	}
	lua_settop(L, top);
}

/* True when filter was subscribed with a subscription identifier. */
static bool has_id(struct lclient *lc, const char *filter)
{
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	bool r = lmqtt_push_client(L, lc);
	if (r) {
		lmqtt_push_uv(L, top + 1, UV_FILTERS);
		r = lua_rawgeti(L, -1, 0) == LUA_TTABLE && lua_getfield(L, -1, filter) == LUA_TNUMBER;
	}
	lua_settop(L, top);
	return r;
}

/* Per-filter handlers take the message; on("message") gets it otherwise.
 * The matches are copied first: a handler may unsubscribe. */
static void route(struct lclient *lc, const struct mqtt_event *ev)
{
	const struct mqtt_publish *msg = ev->u.message.msg;
	struct matches m;
	char buf[256], *topic = buf;
	matches_init(&m);
	if (lc->filters && topic_tree_count(lc->filters))
		match_by_id(lc, msg, &m);
	size_t by_id = m.n;
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
		/* a filter with an id the message does not carry: the broker said no */
		bool skip = by_id && i >= by_id && has_id(lc, m.v[i]);
		if (lc->c && !skip)
			spawn(lc, ev, EV_MESSAGE, false, m.v[i], false);
	}
	matches_free(&m);
	if (m.n == 0)
		dispatch(lc, ev, EV_MESSAGE);
}

static bool has_challenge(struct lclient *lc)
{
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	bool r = lmqtt_push_client(L, lc);
	if (r) {
		lmqtt_push_uv(L, top + 1, UV_HANDLERS);
		r = lua_getfield(L, -1, "on_challenge") == LUA_TFUNCTION;
	}
	lua_settop(L, top);
	return r;
}

void lmqtt_unanchor(struct lclient *lc)
{
	host_unref(lc->L, &lc->ref);
}

/* A CONNACK that refuses for good is remembered until the next one: if
 * the client then gives up (reconnect = false), lia run's exit says so. */
static void note_refusal(struct lclient *lc, struct mqtt_client *c, uint8_t reason,
	const char *name)
{
	lc->refused = reason && mqtt_reason_permanent(mqtt_client_version(c), reason);
	if (lc->refused)
		snprintf(lc->refused_why, sizeof lc->refused_why, "mqtt %s: %s (0x%02x)",
			mqtt_client_id(c), name ? name : "unknown", reason);
	else if (!reason)
		host_refused(lc->h, NULL);
}

void lmqtt_on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	struct lclient *lc = ud;
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	struct lmqtt_complete r = { 0 };
	(void)c;
	/* keep the userdata alive on the main stack while handlers run: one
	 * of them may close the client and drop the last reference */
	lmqtt_push_client(L, lc);
	switch (ev->type) {
	case MQTT_EV_CONNECT:
		/* a refused CONNACK is no connection: "connect_failed", then the
		 * "disconnect" the core emits with the same reason */
		note_refusal(lc, c, ev->u.connect.reason, ev->u.connect.reason_name);
		dispatch(lc, ev, ev->u.connect.reason ? EV_CONNECT_FAILED : EV_CONNECT);
		break;
	case MQTT_EV_DISCONNECT: {
		unsigned connects = lc->connects;
		dispatch(lc, ev, EV_DISCONNECT);
		if (!ev->u.disconnect.will_reconnect && lc->connects == connects && lc->c &&
				mqtt_client_idle(lc->c)) {
			if (lc->refused)
				host_refused(lc->h, lc->refused_why);
			lmqtt_unanchor(lc);
		}
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
		lmqtt_complete(lc, &r);
		dispatch(lc, ev, EV_PUBLISH);
		break;
	case MQTT_EV_SUBSCRIBED:
	case MQTT_EV_UNSUBSCRIBED: {
		int type = ev->type == MQTT_EV_SUBSCRIBED ? MQTT_SUBACK : MQTT_UNSUBACK;
		r.uv = UV_SUBS;
		r.mid = ev->u.subscribed.mid;
		r.codes = ev->u.subscribed.codes;
		lmqtt_sub_outcome(&r, mqtt_client_version(c), type);
		lmqtt_complete(lc, &r);
		dispatch(lc, ev, type == MQTT_SUBACK ? EV_SUBSCRIBE : EV_UNSUBSCRIBE);
		break;
	}
	case MQTT_EV_LOG:
		dispatch(lc, ev, EV_LOG);
		break;
	case MQTT_EV_STORED:
		lmqtt_stored(lc, ev->u.stored.mid, ev->u.stored.ok, ev->u.stored.why);
		break;
	case MQTT_EV_DRAINED:
		lmqtt_drained(lc);
		break;
	case MQTT_EV_AUTH:
		if (ev->u.auth.done)
			dispatch(lc, ev, EV_AUTH);
		else if (has_challenge(lc))
			spawn(lc, ev, EV_AUTH, false, NULL, false);
		else
			mqtt_client_auth_continue(c, NULL, 0);  /* nobody to answer: give up */
		break;
	default:
		break;
	}
	lua_settop(L, top);
}

