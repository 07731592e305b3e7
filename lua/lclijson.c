/*
 * lclijson.c - require "lia.clijson": lia sub's %j / %J / --pretty JSON,
 * built with libcjson as mosquitto_sub builds it, so the output is the
 * same byte for byte (field order, number format, cJSON_Print's tabs).
 *
 *   clijson.message(msg, escaped, pretty, sec, nsec) -> text | nil, err
 *   clijson.now() -> { sec =, nsec = }          (CLOCK_REALTIME)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lcjson.h"
#include <lauxlib.h>
#include <lua.h>

#include "host.h"

/* "2020-05-06T22:12:00.000000Z+0100": mosquitto's own spelling */
static void timestamp(char *buf, size_t len, time_t sec, long nsec)
{
	struct tm tm;
	char zone[16];
	localtime_r(&sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof zone, "%z", &tm);
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, ".%06ldZ%s", nsec / 1000, zone);
}

/* Table field k of the table at idx as a cJSON value added to obj. */
static void add_field(lua_State *L, int idx, const char *k, const char *name, cJSON *obj)
{
	int t = lua_getfield(L, idx, k);
	if (t == LUA_TNUMBER)
		cJSON_AddNumberToObject(obj, name, lua_tonumber(L, -1));
	else if (t == LUA_TSTRING)
		cJSON_AddStringToObject(obj, name, lua_tostring(L, -1));
	lua_pop(L, 1);
}

/* The MQTT 5 properties mosquitto_sub prints, in its order. */
static void add_properties(lua_State *L, int msg, cJSON *root)
{
	static const char *const names[][2] = {
		{ "content_type", "content-type" },
		{ "payload_format_indicator", "payload-format-indicator" },
		{ "response_topic", "response-topic" },
		{ "correlation_data", "correlation-data" },
		{ "subscription_identifier", "subscription-identifier" },
		{ "topic_alias", "topic-alias" },
	};
	cJSON *props = cJSON_CreateObject();
	if (lua_getfield(L, msg, "properties") == LUA_TTABLE) {
		int p = lua_gettop(L);
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			add_field(L, p, names[i][0], names[i][1], props);
		if (lua_getfield(L, p, "user_list") == LUA_TTABLE) {
			cJSON *user = cJSON_AddObjectToObject(props, "user-properties");
			for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
				lua_rawgeti(L, -1, 1);
				lua_rawgeti(L, -2, 2);
				cJSON_AddStringToObject(user, lua_tostring(L, -2), lua_tostring(L, -1));
				lua_pop(L, 3);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		add_field(L, p, "message_expiry_interval", "message-expiry-interval", props);
	}
	lua_pop(L, 1);
	if (props->child)
		cJSON_AddItemToObject(root, "properties", props);
	else
		cJSON_Delete(props);
}

/* The object, or NULL when escaped is false and the payload is no JSON. */
static cJSON *build(lua_State *L, bool escaped, time_t sec, long nsec)
{
	char tst[64];
	size_t plen;
	cJSON *root = cJSON_CreateObject(), *payload;
	lua_getfield(L, 1, "payload");
	const char *p = luaL_checklstring(L, -1, &plen);
	timestamp(tst, sizeof tst, sec, nsec);
	cJSON_AddStringToObject(root, "tst", tst);
	add_field(L, 1, "topic", "topic", root);
	add_field(L, 1, "qos", "qos", root);
	lua_getfield(L, 1, "retain");
	cJSON_AddNumberToObject(root, "retain", lua_toboolean(L, -1));
	lua_pop(L, 1);
	cJSON_AddNumberToObject(root, "payloadlen", (double)plen);
	lua_getfield(L, 1, "qos");
	if (lua_tointeger(L, -1) > 0)
		add_field(L, 1, "mid", "mid", root);
	lua_pop(L, 1);
	add_properties(L, 1, root);
	if (escaped && plen == 0) {
		cJSON_AddNullToObject(root, "payload");       /* as mosquitto_sub */
		return root;
	}
	if (escaped) {
		cJSON_AddStringToObject(root, "payload", p);
		return root;
	}
	const char *end = NULL;
	payload = cJSON_ParseWithOpts(p, &end, 1);
	if (!payload || end != p + plen) {
		cJSON_Delete(payload);
		cJSON_Delete(root);
		return NULL;
	}
	cJSON_AddItemToObject(root, "payload", payload);
	return root;
}

static int l_message(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	bool escaped = lua_toboolean(L, 2), pretty = lua_toboolean(L, 3);
	time_t sec = (time_t)luaL_checkinteger(L, 4);
	long nsec = (long)luaL_checkinteger(L, 5);
	cJSON *root = build(L, escaped, sec, nsec);
	if (!root) {
		lua_getfield(L, 1, "topic");
		lua_pushnil(L);
		lua_pushfstring(L, "Error: Message payload is not valid JSON on topic %s.",
			lua_tostring(L, -2));
		return 2;
	}
	char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!s)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, s);
	cJSON_free(s);
	return 1;
}

static int l_now(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, (lua_Integer)ts.tv_sec);
	lua_setfield(L, -2, "sec");
	lua_pushinteger(L, ts.tv_nsec);
	lua_setfield(L, -2, "nsec");
	return 1;
}

int luaopen_lia_clijson(lua_State *L)
{
	static const luaL_Reg fns[] = { { "message", l_message }, { "now", l_now }, { NULL, NULL } };
	const char *why = lcjson_load();
	if (why)
		return luaL_error(L, "%s", why);
	luaL_newlib(L, fns);
	return 1;
}
