/*
 * lbudget.c - handler budgets, signals while a handler is stuck, and
 * quarantine (see lbudget.h).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "lbudget.h"
#include "lchunk.h"
#include "log.h"

#define SIGCHECK_NS 20000000ull     /* sigpending() at most every 20 ms */

static struct {
	unsigned ms, quarantine;
	uint64_t deadline, started, next_sigcheck;  /* ns; deadline 0: idle */
} budget = { 1000, 5, 0, 0, 0 };

static const char ORIGIN = 'o';     /* registry: light co -> its function */
static const char FAILS = 'f';      /* registry, weak keys: function -> {n, t0} */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lbudget_configure(unsigned budget_ms, unsigned quarantine)
{
	budget.ms = budget_ms;
	budget.quarantine = quarantine;
}

unsigned lbudget_budget_ms(void)
{
	return budget.ms;
}

void lbudget_begin(void)
{
	budget.started = now_ns();
	budget.next_sigcheck = budget.started + SIGCHECK_NS;
	budget.deadline = budget.ms ? budget.started + (uint64_t)budget.ms * 1000000ull : UINT64_MAX;
}

void lbudget_end(void)
{
	budget.deadline = 0;
}

/* SIGTERM or SIGINT waiting for the loop (they are blocked for signalfd). */
static int stop_signal(void)
{
	sigset_t set;
	if (sigpending(&set) < 0)
		return 0;
	if (sigismember(&set, SIGTERM))
		return SIGTERM;
	if (sigismember(&set, SIGINT))
		return SIGINT;
	return 0;
}

static void hook(lua_State *L, lua_Debug *ar)
{
	uint64_t now;
	int sig = 0;
	(void)ar;
	if (!budget.deadline)
		return;
	now = now_ns();
	if (now >= budget.next_sigcheck) {
		budget.next_sigcheck = now + SIGCHECK_NS;
		sig = stop_signal();
	}
	if (sig) {
		host_push_where(L);
		lua_pushfstring(L, "handler stopped: %s is pending", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	} else if (now >= budget.deadline) {
		host_push_where(L);
		lua_pushfstring(L, "handler exceeded its %d ms budget", (int)budget.ms);
	} else {
		return;
	}
	lua_concat(L, 2);
	lua_error(L);
}

void lbudget_install(lua_State *L)
{
	lua_sethook(L, hook, LUA_MASKCOUNT, LBUDGET_COUNT);
}

/* ---- quarantine ---- */

static void push_table(lua_State *L, const void *key, bool weak)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	lua_newtable(L);
	if (weak) {
		lua_createtable(L, 0, 1);
		lua_pushliteral(L, "k");
		lua_setfield(L, -2, "__mode");
		lua_setmetatable(L, -2);
	}
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

bool lbudget_allowed(lua_State *L, int idx)
{
	bool ok = true;
	if (!budget.quarantine)
		return true;
	idx = lua_absindex(L, idx);
	push_table(L, &FAILS, true);
	lua_pushvalue(L, idx);
	if (lua_rawget(L, -2) == LUA_TTABLE) {
		lua_getfield(L, -1, "off");
		ok = !lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return ok;
}

void lbudget_spawned(lua_State *L, lua_State *co, int idx)
{
	idx = lua_absindex(L, idx);
	push_table(L, &ORIGIN, false);
	lua_pushvalue(L, idx);
	lua_rawsetp(L, -2, co);
	lua_pop(L, 1);
}

static int count_failure(lua_State *L)
{
	int fn = 1;
	lua_Integer t = (lua_Integer)(now_ns() / 1000000ull), n;
	push_table(L, &FAILS, true);
	lua_pushvalue(L, fn);
	if (lua_rawget(L, -2) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_createtable(L, 0, 3);
		lua_pushvalue(L, fn);
		lua_pushvalue(L, -2);
		lua_rawset(L, -4);
	}
	lua_getfield(L, -1, "t0");
	lua_getfield(L, -2, "n");
	n = lua_tointeger(L, -1);
	if (t - lua_tointeger(L, -2) > LBUDGET_WINDOW_MS) {
		n = 0;
		lua_pushinteger(L, t);
		lua_setfield(L, -4, "t0");
	}
	lua_pop(L, 2);
	lua_pushinteger(L, ++n);
	lua_setfield(L, -2, "n");
	if (n < (lua_Integer)budget.quarantine)
		return 0;
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "off");
	lua_Debug ar;
	lua_pushvalue(L, fn);
	lua_getinfo(L, ">S", &ar);
	lua_pushfstring(L, "%s:%d: handler disabled: it failed %d times within a minute "
		"(--quarantine %d); a reload enables it again", ar.short_src, ar.linedefined,
		(int)n, (int)budget.quarantine);
	log_error("%s", lchunk_fix(L, lua_tostring(L, -1)));
	return 0;
}

void lbudget_finished(lua_State *L, lua_State *co, bool failed)
{
	int top = lua_gettop(L);
	push_table(L, &ORIGIN, false);
	lua_rawgetp(L, -1, co);
	if (failed && budget.quarantine && lua_isfunction(L, -1)) {
		lua_pushcfunction(L, count_failure);
		lua_pushvalue(L, -2);
		if (lua_pcall(L, 1, 0, 0) != LUA_OK)
			lua_pop(L, 1);
	}
	lua_pushnil(L);
	lua_rawsetp(L, top + 1, co);
	lua_settop(L, top);
}
