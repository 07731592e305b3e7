/*
 * lmqtt_props.c - MQTT 5 properties as Lua tables, both ways.
 *
 * Names are the spec's in lower snake case (mqtt_prop_name) plus the short
 * forms of CONTRACT.md: user, message_expiry, payload_format,
 * subscription_id. Inbound tables carry both forms for those.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lmqtt.h"

static const struct { const char *alias; uint8_t id; } aliases[] = {
	{ "message_expiry", MQTT_PROP_MESSAGE_EXPIRY_INTERVAL },
	{ "payload_format", MQTT_PROP_PAYLOAD_FORMAT_INDICATOR },
	{ "subscription_id", MQTT_PROP_SUBSCRIPTION_IDENTIFIER },
	{ "user", MQTT_PROP_USER_PROPERTY },
	{ "user_property", MQTT_PROP_USER_PROPERTY },
};

static const char *alias_of(uint8_t id)
{
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (aliases[i].id == id)
			return aliases[i].alias;
	return NULL;
}

static uint8_t id_of(const char *name)
{
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(aliases[i].alias, name) == 0)
			return aliases[i].id;
	return mqtt_prop_id_by_name(name);
}

static void push_str(lua_State *L, struct mqtt_str s)
{
	lua_pushlstring(L, s.ptr ? (const char *)s.ptr : "", s.len);
}

/* t.user[name] = value (the last one wins) and t.user_list[#+1] = {name, value} */
static void add_user(lua_State *L, int t, const struct mqtt_prop *p)
{
	if (lua_getfield(L, t, "user") != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, t, "user");
	}
	push_str(L, p->str);
	push_str(L, p->val);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	if (lua_getfield(L, t, "user_list") != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, t, "user_list");
	}
	lua_createtable(L, 2, 0);
	push_str(L, p->str);
	lua_rawseti(L, -2, 1);
	push_str(L, p->val);
	lua_rawseti(L, -2, 2);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	lua_pop(L, 1);
}

void lmqtt_push_props(lua_State *L, struct mqtt_str block)
{
	struct mqtt_prop p;
	size_t off = 0;
	lua_newtable(L);
	int t = lua_gettop(L);
	if (!block.ptr)
		return;
	while (mqtt_props_next(block, &off, &p) == 1) {
		const char *name = mqtt_prop_name(p.id), *alias = alias_of(p.id);
		int kind = mqtt_prop_kind(p.id);
		if (!name)
			continue;
		if (kind == MQTT_PK_PAIR) {
			add_user(L, t, &p);
			continue;
		}
		if (kind == MQTT_PK_STRING || kind == MQTT_PK_BINARY)
			push_str(L, p.str);
		else
			lua_pushinteger(L, (lua_Integer)p.num);
		if (alias) {
			lua_pushvalue(L, -1);
			lua_setfield(L, t, alias);
		}
		lua_setfield(L, t, name);
	}
}

/* ---- encoding ---- */

/* The properties being built: v is a userdata on the stack (collected
 * after a raise), anchor a table keeping converted strings alive. */
struct prop_vec {
	struct mqtt_prop *v;
	size_t n, cap;
	int anchor;
};

static struct mqtt_prop *vec_add(lua_State *L, struct prop_vec *pv)
{
	if (pv->n == pv->cap)
		luaL_error(L, "properties changed while being read");
	memset(&pv->v[pv->n], 0, sizeof pv->v[0]);
	return &pv->v[pv->n++];
}

/* A string (numbers converted) that stays valid until the encode ends. */
static struct mqtt_str check_bytes(lua_State *L, struct prop_vec *pv, int idx,
	const char *what, const char *name)
{
	size_t len;
	if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
		luaL_error(L, "%s.%s: string expected, got %s", what, name, luaL_typename(L, idx));
	lua_pushvalue(L, idx);
	const char *s = lua_tolstring(L, -1, &len);
	lua_rawseti(L, pv->anchor, (lua_Integer)lua_rawlen(L, pv->anchor) + 1);
	return (struct mqtt_str){ (const uint8_t *)s, len };
}

static void add_pair(lua_State *L, struct prop_vec *pv, int k, int v, const char *what)
{
	struct mqtt_prop *p = vec_add(L, pv);
	p->id = MQTT_PROP_USER_PROPERTY;
	p->str = check_bytes(L, pv, k, what, "user (name)");
	p->val = check_bytes(L, pv, v, what, "user (value)");
}

/* user = { name = value, ... } or { {name, value}, ... } */
static void add_user_props(lua_State *L, struct prop_vec *pv, int t, const char *what)
{
	if (!lua_istable(L, t))
		luaL_error(L, "%s.user: table expected, got %s", what, luaL_typename(L, t));
	lua_pushnil(L);
	while (lua_next(L, t)) {
		int top = lua_gettop(L);
		if (lua_type(L, -2) == LUA_TNUMBER && lua_istable(L, -1)) {
			lua_rawgeti(L, top, 1);
			lua_rawgeti(L, top, 2);
			add_pair(L, pv, top + 1, top + 2, what);
		} else {
			add_pair(L, pv, top - 1, top, what);
		}
		lua_settop(L, top - 1);
	}
}

static void add_prop(lua_State *L, struct prop_vec *pv, const char *name, int v, const char *what)
{
	uint8_t id = id_of(name);
	int kind = id ? mqtt_prop_kind(id) : -1;
	if (kind < 0)
		luaL_error(L, "%s: unknown property '%s'", what, name);
	if (kind == MQTT_PK_PAIR) {
		add_user_props(L, pv, v, what);
		return;
	}
	struct mqtt_prop *p = vec_add(L, pv);
	p->id = id;
	if (kind == MQTT_PK_STRING || kind == MQTT_PK_BINARY) {
		p->str = check_bytes(L, pv, v, what, name);
		return;
	}
	lua_Integer n;
	if (lua_isboolean(L, v))
		n = lua_toboolean(L, v);
	else if (lua_isinteger(L, v))
		n = lua_tointeger(L, v);
	else
		return (void)luaL_error(L, "%s.%s: integer expected, got %s", what, name,
			luaL_typename(L, v));
	lua_Integer max = kind == MQTT_PK_BYTE ? 0xFF : kind == MQTT_PK_U16 ? 0xFFFF :
		kind == MQTT_PK_VARINT ? (lua_Integer)MQTT_MAX_VARINT : (lua_Integer)0xFFFFFFFF;
	if (n < 0 || n > max)
		luaL_error(L, "%s.%s: %I out of range 0..%I", what, name, n, max);
	p->num = (uint32_t)n;
}

static const char *packet_name(int type)
{
	switch (type) {
	case MQTT_CONNECT: return "CONNECT";
	case MQTT_PUBLISH: return "PUBLISH";
	case MQTT_SUBSCRIBE: return "SUBSCRIBE";
	case MQTT_UNSUBSCRIBE: return "UNSUBSCRIBE";
	case MQTT_DISCONNECT: return "DISCONNECT";
	case MQTT_PROPS_WILL: return "the will";
	default: return "this packet";
	}
}

/* Upper bound of the number of properties: entries plus user pairs. */
static size_t count_props(lua_State *L, int t)
{
	size_t n = 0;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		n++;
		if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1) &&
				id_of(lua_tostring(L, -2)) == MQTT_PROP_USER_PROPERTY) {
			lua_pushnil(L);
			while (lua_next(L, -2)) {
				n++;
				lua_pop(L, 1);
			}
		}
		lua_pop(L, 1);
	}
	return n;
}

void lmqtt_encode_props(lua_State *L, int idx, int packet_type, const char *what)
{
	struct prop_vec pv = { 0 };
	int top = lua_gettop(L);
	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	pv.cap = count_props(L, idx);
	pv.v = lua_newuserdatauv(L, (pv.cap ? pv.cap : 1) * sizeof *pv.v, 0);
	lua_newtable(L);
	pv.anchor = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "%s: property names must be strings", what);
		add_prop(L, &pv, lua_tostring(L, -2), lua_gettop(L), what);
		lua_pop(L, 1);
	}
	long size = mqtt_props_encode(pv.v, pv.n, NULL, 0);
	if (size < 0)
		luaL_error(L, "%s: cannot encode (%s)", what, mqtt_result_name((int)size));
	luaL_Buffer b;
	uint8_t *out = (uint8_t *)luaL_buffinitsize(L, &b, (size_t)size + 1);
	mqtt_props_encode(pv.v, pv.n, out, (size_t)size);
	if (mqtt_props_validate(packet_type, out, (size_t)size) != MQTT_OK)
		luaL_error(L, "%s: a property is not allowed in %s, repeated or out of range",
			what, packet_name(packet_type));
	luaL_pushresultsize(&b, (size_t)size);
	lua_replace(L, top + 1);
	lua_settop(L, top + 1);
}
