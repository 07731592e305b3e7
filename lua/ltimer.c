/*
 * ltimer.c - require "lia.timer": timer.every(ms, fn), timer.after(ms, fn)
 * and t:stop(). Each firing runs fn(t) in its own coroutine; an error is
 * logged and an `every` timer keeps running. timer.cron and timer.at (wall
 * clock schedules) are Lua: lua/lib/cron.lua.
 */
#include <string.h>
#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "loop.h"

#define TIMER_MT "lia.timer"

struct ltimer {
	struct loop_timer *t;       /* NULL once stopped or done */
	struct host *h;
	lua_State *L;               /* the main state */
	struct loop *loop;
	int ref;                    /* anchor while armed */
	uint64_t ms;
	bool repeat;
};

static int push_fire(lua_State *L, void *ud)
{
	struct ltimer *lt = ud;
	host_push_ref(L, lt->ref);
	lua_getiuservalue(L, -1, 1);
	lua_insert(L, -2);              /* fn, timer */
	return 1;
}

static void stop_timer(struct ltimer *lt)
{
	if (lt->t) {
		loop_timer_cancel(lt->loop, lt->t);
		lt->t = NULL;
	}
	host_unref(lt->L, &lt->ref);
}

static int64_t fire(struct loop *l, struct loop_timer *t, void *ud)
{
	struct ltimer *lt = ud;
	lua_State *L = lt->L;
	int top = lua_gettop(L);
	(void)l;
	(void)t;
	if (!lt->repeat)
		lt->t = NULL;           /* this run ends it: stop() must not cancel */
	/* keep the userdata alive while fn runs: it may stop (unanchor) us */
	host_push_ref(L, lt->ref);
	host_spawn(lt->h, push_fire, lt);
	int64_t next = lt->repeat && lt->t ? (int64_t)lt->ms : LOOP_TIMER_STOP;
	if (next == LOOP_TIMER_STOP)
		host_unref(L, &lt->ref);
	lua_settop(L, top);
	return next;
}

static int start(lua_State *L, bool repeat)
{
	lua_Number ms = luaL_checknumber(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_argcheck(L, ms >= 0 && ms <= 1e12, 1, "milliseconds 0..1e12 expected");
	struct ltimer *lt = lua_newuserdatauv(L, sizeof *lt, 1);
	*lt = (struct ltimer){ .ref = LUA_NOREF, .repeat = repeat };
	luaL_setmetatable(L, TIMER_MT);
	lua_pushvalue(L, 2);
	lua_setiuservalue(L, -2, 1);
	lt->h = host_of(L);
	lt->loop = host_get_loop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	lt->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	lt->ms = (uint64_t)ms;
	if (repeat && lt->ms == 0)
		lt->ms = 1;             /* every 0 ms would starve the loop */
	lt->ref = host_ref(L, -1);
	lt->t = loop_timer_start(lt->loop, lt->ms, fire, lt);
	if (!lt->t) {
		host_unref(L, &lt->ref);
		return luaL_error(L, "out of memory");
	}
	return 1;
}

static int l_every(lua_State *L)
{
	return start(L, true);
}

static int l_after(lua_State *L)
{
	return start(L, false);
}

static int l_stop(lua_State *L)
{
	stop_timer(luaL_checkudata(L, 1, TIMER_MT));
	return 0;
}

static int l_active(lua_State *L)
{
	struct ltimer *lt = luaL_checkudata(L, 1, TIMER_MT);
	lua_pushboolean(L, lt->t != NULL);
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct ltimer *lt = luaL_checkudata(L, 1, TIMER_MT);
	lua_pushfstring(L, "lia.timer (%s %d ms, %s)", lt->repeat ? "every" : "after",
		(int)lt->ms, lt->t ? "active" : "stopped");
	return 1;
}

/* timer.cron and timer.at are Lua (lia.cron, installed on top of
 * timer.after). A script that uses neither never loads it: the module's
 * __index installs them at the first look-up of either. */
static int lazy_cron(lua_State *L)
{
	const char *k = lua_tostring(L, 2);
	if (!k || (strcmp(k, "cron") != 0 && strcmp(k, "at") != 0))
		return 0;
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.cron");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "install");
	lua_pushvalue(L, 1);
	lua_call(L, 1, 0);
	lua_pushvalue(L, 2);
	lua_rawget(L, 1);
	return 1;
}

int luaopen_lia_timer(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "stop", l_stop },
		{ "active", l_active },
		{ NULL, NULL }
	};
	static const luaL_Reg meta[] = {
		{ "__gc", l_stop },
		{ "__close", l_stop },
		{ "__tostring", l_tostring },
		{ NULL, NULL }
	};
	static const luaL_Reg funcs[] = {
		{ "every", l_every },
		{ "after", l_after },
		{ NULL, NULL }
	};
	host_class(L, TIMER_MT, meta, methods);
	luaL_newlib(L, funcs);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, lazy_cron);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	return 1;
}
