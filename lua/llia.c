/*
 * llia.c - the global table `lia`: sleep, now, time, log, stop.
 */
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "log.h"
#include "loop.h"

int luaopen_lia(lua_State *L);

/* lia.sleep(ms): park this coroutine; the loop goes on meanwhile. */
static int l_sleep(lua_State *L)
{
	lua_Number ms = luaL_checknumber(L, 1);
	luaL_argcheck(L, ms == ms, 1, "not a number");
	if (ms < 0)
		ms = 0;
	if (ms > 1e12)
		ms = 1e12;
	host_waiter_new(L, (int64_t)ms, NULL, NULL);
	return host_yield(L);
}

static int l_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)loop_now_fresh(host_get_loop(L)));
	return 1;
}

/* Microseconds for measuring short intervals (round trips, bench/): lia.now()
 * is the loop's cached millisecond clock, too coarse for that. */
static int l_now_us(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)(loop_clock_ns() / 1000));
	return 1;
}

static int l_time(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/* lia.stop([status]): leave the loop as on SIGTERM. */
static int l_stop(lua_State *L)
{
	host_stop(host_of(L), (int)luaL_optinteger(L, 1, 0));
	return 0;
}

static int log_at(lua_State *L, int level)
{
	luaL_Buffer b;
	int n = lua_gettop(L);
	if (level > log_get_level())
		return 0;
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_msg(level, "%s", lua_tostring(L, -1));
	return 0;
}

static int l_error(lua_State *L) { return log_at(L, LOG_ERROR); }
static int l_warn(lua_State *L) { return log_at(L, LOG_WARN); }
static int l_info(lua_State *L) { return log_at(L, LOG_INFO); }
static int l_debug(lua_State *L) { return log_at(L, LOG_DEBUG); }

/* ---- lia.cond(): a latch one coroutine waits on, others signal ----
 * The signalled values wait in the registry under the cond's address
 * until the waiter (or the next wait) takes them. */

#define COND_MT "lia.cond"

struct lcond {
	struct host_waiter *w;
	bool pending;               /* signalled with nobody waiting */
};

static int push_signal(lua_State *L, void *ud)
{
	struct lcond *c = ud;
	int base = lua_gettop(L);
	c->pending = false;
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, c) != LUA_TTABLE) {
		lua_pop(L, 1);
		return 0;
	}
	int n = (int)lua_rawlen(L, -1);
	lua_getfield(L, -1, "n");
	n = (int)luaL_optinteger(L, -1, n);
	lua_pop(L, 1);
	luaL_checkstack(L, n, "too many values");
	for (int i = 1; i <= n; i++)
		lua_rawgeti(L, base + 1, i);
	lua_remove(L, base + 1);
	lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, c);
	return n;
}

static int push_cond_timeout(lua_State *L, void *ud)
{
	struct lcond *c = ud;
	c->w = NULL;
	lua_pushnil(L);
	lua_pushliteral(L, "timeout");
	return 2;
}

/* cond:wait([ms]) -> the values of signal(...) | nil, "timeout" */
static int cond_wait(lua_State *L)
{
	struct lcond *c = luaL_checkudata(L, 1, COND_MT);
	int64_t ms = host_opt_timeout(L, 2);
	if (c->pending)
		return push_signal(L, c);
	luaL_argcheck(L, !c->w, 1, "another coroutine already waits on this cond");
	c->w = host_waiter_new(L, ms, push_cond_timeout, c);
	return host_yield(L);
}

/* cond:signal(...): wake the waiter with these values (or keep them for
 * the next wait); a later signal replaces values not yet taken. */
static int cond_signal(lua_State *L)
{
	struct lcond *c = luaL_checkudata(L, 1, COND_MT);
	int n = lua_gettop(L) - 1;
	lua_createtable(L, n, 1);
	for (int i = 1; i <= n; i++) {
		lua_pushvalue(L, i + 1);
		lua_rawseti(L, -2, i);
	}
	lua_pushinteger(L, n);
	lua_setfield(L, -2, "n");
	lua_rawsetp(L, LUA_REGISTRYINDEX, c);
	/* the waiting coroutine holds the cond (self), so c outlives the wake */
	if (c->w) {
		struct host_waiter *w = c->w;
		c->w = NULL;
		host_wake(w, push_signal, c);
	} else {
		c->pending = true;
	}
	return 0;
}

static int cond_gc(lua_State *L)
{
	struct lcond *c = luaL_checkudata(L, 1, COND_MT);
	lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, c);
	return 0;
}

static int l_cond(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "wait", cond_wait },
		{ "signal", cond_signal },
		{ NULL, NULL }
	};
	struct lcond *c = lua_newuserdatauv(L, sizeof *c, 0);
	*c = (struct lcond){ 0 };
	if (luaL_newmetatable(L, COND_MT)) {
		lua_pushcfunction(L, cond_gc);
		lua_setfield(L, -2, "__gc");
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
	}
	lua_setmetatable(L, -2);
	return 1;
}

int luaopen_lia(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "sleep", l_sleep },
		{ "now", l_now },
		{ "now_us", l_now_us },
		{ "time", l_time },
		{ "stop", l_stop },
		{ "cond", l_cond },
		{ NULL, NULL }
	};
	static const luaL_Reg logf[] = {
		{ "error", l_error },
		{ "warn", l_warn },
		{ "info", l_info },
		{ "debug", l_debug },
		{ NULL, NULL }
	};
	luaL_newlib(L, funcs);
	luaL_newlib(L, logf);
	lua_setfield(L, -2, "log");
	lua_pushliteral(L, LIA_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
