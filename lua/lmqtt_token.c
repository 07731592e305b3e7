/*
 * lmqtt_token.c - the token of a publish, subscribe or unsubscribe: .mid,
 * :wait(ms), completed from the client's events (see lmqtt.c).
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "lmqtt.h"
#include "log.h"
#include "mqtt_client.h"

#define TOKEN_MT "lia.mqtt.token"


struct ltoken *lmqtt_new_token(lua_State *L, int kind, uint32_t mid)
{
	struct ltoken *t = lua_newuserdatauv(L, sizeof *t, 1);
	*t = (struct ltoken){ .mid = mid, .kind = kind };
	luaL_setmetatable(L, TOKEN_MT);
	return t;
}

/* pending[mid] = token (at top), leaves the token on the stack. */
void lmqtt_track_token(lua_State *L, int client, int uv, uint32_t mid)
{
	lmqtt_push_uv(L, client, uv);
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

static int push_stored_result(lua_State *L, void *ud)
{
	struct ltoken *t = ud;
	if (t->stored == TOK_STORED) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, t->why_lit ? t->why_lit : t->why[0] ? t->why : "not stored");
	return 2;
}

static int push_stored_timeout(lua_State *L, void *ud)
{
	struct ltoken *t = ud;
	t->ws = NULL;
	lua_pushnil(L);
	lua_pushliteral(L, "timeout");
	return 2;
}

/* tok:wait("stored" [, ms]): durable in the store (mqtt_store.h) */
static int tok_wait_stored(lua_State *L, struct ltoken *t)
{
	int64_t ms = host_opt_timeout(L, 3);
	luaL_argcheck(L, t->kind == TOK_PUBLISH, 2, "only a publish is stored");
	if (t->stored != TOK_STORE_PENDING)
		return push_stored_result(L, t);
	luaL_argcheck(L, !t->ws, 1, "another coroutine already waits on this token");
	t->ws = host_waiter_new(L, ms, push_stored_timeout, t);
	return host_yield(L);
}

/* tok:wait([ms]) -> true | nil, reason */
static int tok_wait(lua_State *L)
{
	struct ltoken *t = luaL_checkudata(L, 1, TOKEN_MT);
	if (lua_type(L, 2) == LUA_TSTRING) {
		luaL_argcheck(L, strcmp(lua_tostring(L, 2), "stored") == 0, 2,
			"\"stored\" or a timeout expected");
		return tok_wait_stored(L, t);
	}
	int64_t ms = host_opt_timeout(L, 2);
	if (t->done)
		return push_tok_result(L, t);
	luaL_argcheck(L, !t->w, 1, "another coroutine already waits on this token");
	t->w = host_waiter_new(L, ms, push_timeout, t);
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
	else if (strcmp(k, "stored") == 0)
		lua_pushboolean(L, t->stored == TOK_STORED);
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


static int complete_k(lua_State *L)
{
	struct lmqtt_complete *r = lua_touserdata(L, 1);
	host_push_ref(L, r->lc->ref);
	if (lua_isnil(L, -1))
		return 0;
	lmqtt_push_uv(L, -1, r->uv);
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
	if (t->kind == TOK_PUBLISH && t->stored == TOK_STORE_PENDING) {
		/* finished before the store reported: it never will now */
		t->stored = TOK_STORE_FAILED;
		t->why_lit = r->ok ? "completed before it was stored" : r->reason ? r->reason : "failed";
		r->ws = t->ws;
		t->ws = NULL;
	}
	lua_pushnil(L);
	lua_rawseti(L, -3, r->mid);
	return 0;
}

void lmqtt_complete(struct lclient *lc, struct lmqtt_complete *r)
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
	if (r->ws)
		host_wake(r->ws, push_stored_result, r->tok);
}

void lmqtt_token_not_stored(lua_State *L, const char *why)
{
	struct ltoken *t = lua_touserdata(L, -1);
	t->stored = TOK_STORE_NONE;
	t->why_lit = why;
}

struct stored_report {
	struct lclient *lc;
	uint32_t mid;
	bool ok;
	const char *why;
	struct ltoken *tok;
	struct host_waiter *w;
};

static int stored_k(lua_State *L)
{
	struct stored_report *r = lua_touserdata(L, 1);
	host_push_ref(L, r->lc->ref);
	if (lua_isnil(L, -1))
		return 0;
	lmqtt_push_uv(L, -1, UV_PUBS);
	if (lua_rawgeti(L, -1, r->mid) != LUA_TUSERDATA)
		return 0;
	struct ltoken *t = lua_touserdata(L, -1);
	if (t->stored != TOK_STORE_PENDING)
		return 0;
	t->stored = r->ok ? TOK_STORED : TOK_STORE_FAILED;
	if (!r->ok) {
		t->why_lit = NULL;
		snprintf(t->why, sizeof t->why, "not stored: %s", r->why ? r->why : "store failed");
	}
	r->tok = t;
	r->w = t->ws;
	t->ws = NULL;
	return 0;
}

void lmqtt_stored(struct lclient *lc, uint32_t mid, bool ok, const char *why)
{
	lua_State *L = lc->L;
	int top = lua_gettop(L);
	struct stored_report r = { lc, mid, ok, why, NULL, NULL };
	lua_pushcfunction(L, stored_k);
	lua_pushlightuserdata(L, &r);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK)
		log_error("lia.mqtt: %s", lua_tostring(L, -1));
	lua_settop(L, top);
	if (r.w)
		host_wake(r.w, push_stored_result, r.tok);
}

/* SUBACK codes: the subscription failed when every code is >= 0x80. */
void lmqtt_sub_outcome(struct lmqtt_complete *r, uint8_t version, int type)
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

static int push_true(lua_State *L, void *ud)
{
	(void)ud;
	lua_pushboolean(L, 1);
	return 1;
}

static int push_drain_timeout(lua_State *L, void *ud)
{
	struct lclient *lc = ud;
	lc->drain_w = NULL;
	lua_pushnil(L);
	lua_pushliteral(L, "timeout");
	return 2;
}

/* c:drain([ms]) -> true | nil, "timeout" | nil, "closed": the offline queue
 * is empty (everything written to the socket or dropped). The back-pressure
 * of a publishing loop whose QoS 0 publishes have no token. */
int lmqtt_drain(lua_State *L, struct lclient *lc)
{
	int64_t ms = host_opt_timeout(L, 2);
	struct mqtt_client_stats st;
	mqtt_client_stats(lc->c, &st);
	if (st.queued == 0)
		return push_true(L, NULL);
	luaL_argcheck(L, !lc->drain_w, 1, "another coroutine already waits in c:drain()");
	lc->drain_w = host_waiter_new(L, ms, push_drain_timeout, lc);
	mqtt_client_want_drained(lc->c);
	return host_yield(L);
}

void lmqtt_drained(struct lclient *lc)
{
	struct host_waiter *w = lc->drain_w;
	lc->drain_w = NULL;
	if (w)
		host_wake(w, push_true, NULL);
}

/* Wake every waiter of a closing client with nil, "closed". */
void lmqtt_fail_pending(lua_State *L, int idx)
{
	struct lclient *lc = lua_touserdata(L, idx);
	if (lc && lc->drain_w) {
		struct host_waiter *w = lc->drain_w;
		lc->drain_w = NULL;
		host_wake(w, push_closed, NULL);
	}
	for (int uv = UV_PUBS; uv <= UV_SUBS; uv++) {
		lmqtt_push_uv(L, idx, uv);
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
			if (t && t->ws) {
				struct host_waiter *w = t->ws;
				t->ws = NULL;
				host_wake(w, push_closed, NULL);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		lua_newtable(L);
		lua_setiuservalue(L, idx, uv);
	}
}

void lmqtt_open_token(lua_State *L)
{
	static const luaL_Reg tmeta[] = {
		{ "__index", tok_index },
		{ "__tostring", tok_tostring },
		{ NULL, NULL }
	};
	if (luaL_newmetatable(L, TOKEN_MT))
		luaL_setfuncs(L, tmeta, 0);
	lua_pop(L, 1);
}
