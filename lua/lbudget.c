/*
 * lbudget.c - handler budgets, signals while a handler is stuck, and
 * quarantine (see lbudget.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "lbudget.h"
#include "lchunk.h"
#include "log.h"

#define PERIOD_MS 250              /* SIGTERM/SIGINT seen within this while stuck */
#define GAP_NS 20000000ull         /* CPU time with no instruction: a C call ran */
#define CONFIRM_NS 20000000ull     /* CPU time of instructions back to back: a runaway */

/* The hook is installed only when a run is over its budget (or a stop
 * signal waits): any hook at all makes Lua 5.4 trap every instruction
 * (twice the run time measured), so a SIGALRM timer, armed lazily when
 * Lua starts and left to expire, checks the clock instead. The handler
 * only reads these and calls lua_sethook, which is safe from a signal
 * handler (lua.c's own SIGINT handling does the same). */
static struct {
	unsigned ms, quarantine;
	lua_State *volatile running;        /* the coroutine resumed now */
	volatile uint64_t started;          /* ns */
	volatile uint64_t hooked;           /* CPU ns: when the alarm installed the hook */
	uint64_t confirm, last;             /* CPU ns: runaway() watching since, last hook */
	bool confirmed;                     /* a runaway: every instruction raises */
	volatile sig_atomic_t armed;
	bool installed;
	bool disabled;                      /* a handler was ever quarantined */
} budget = { 1000, 5, NULL, 0, 0, 0, 0, false, 0, false, false };

static const char ORIGIN = 'o';     /* registry: light co -> its function */
static const char FAILS = 'f';      /* registry, weak keys: function -> {n, t0} */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The CPU time of this thread: what tells a C call (it burns CPU between
 * two instructions) from the process being descheduled on a busy machine
 * (no CPU passes), which wall-clock gaps cannot. Async-signal-safe. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

static bool over_budget(uint64_t now)
{
	return budget.ms && now - budget.started >= (uint64_t)budget.ms * 1000000ull;
}

static void arm(uint64_t ms)
{
	struct itimerval it = { { 0, 0 }, { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 } };
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1000;
	budget.armed = setitimer(ITIMER_REAL, &it, NULL) == 0;
}

/* Until the next check: the rest of the budget, at most PERIOD_MS. */
static uint64_t next_check_ms(uint64_t now)
{
	uint64_t left = PERIOD_MS;
	if (budget.ms) {
		uint64_t end = budget.started + (uint64_t)budget.ms * 1000000ull;
		uint64_t rest = end > now ? (end - now) / 1000000ull + 1 : 1;
		left = rest < left ? rest : left;
	}
	return left;
}

static void hook(lua_State *L, lua_Debug *ar);

static void on_alarm(int sig)
{
	int saved = errno;
	lua_State *L = budget.running;
	uint64_t now = now_ns();
	(void)sig;
	budget.armed = 0;
	if (L && (over_budget(now) || stop_signal())) {
		budget.hooked = cpu_ns();
		lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	}
	else if (L)
		arm(next_check_ms(now));
	errno = saved;
}

/* Is this Lua running away, or did a C call take the time? The alarm's
 * hook is called at the next instruction: long after the alarm, or after
 * a gap between two instructions, the time went into one C call (an SSL
 * context being built on a slow board, a blocking os.execute), and the
 * budget starts again. Only Lua instructions seen back to back for
 * CONFIRM_NS past the budget are a runaway. */
static bool runaway(uint64_t now)
{
	uint64_t cpu = cpu_ns();
	if (budget.confirmed)
		return true;
	if (!budget.confirm) {
		bool late = cpu - budget.hooked > GAP_NS;
		budget.confirm = budget.last = cpu;
		return late ? (budget.confirm = 0, budget.started = now, false) : false;
	}
	if (cpu - budget.last > GAP_NS) {
		budget.confirm = 0;
		budget.started = now;
		return false;
	}
	budget.last = cpu;
	budget.confirmed = cpu - budget.confirm >= CONFIRM_NS;
	return budget.confirmed;
}

static void hook(lua_State *L, lua_Debug *ar)
{
	uint64_t now = now_ns();
	int sig = stop_signal();
	(void)ar;
	if (L == budget.running && !sig && over_budget(now) && !runaway(now)) {
		if (budget.confirm)
			return;         /* watching: the hook stays */
	}
	if (L != budget.running || (!sig && !over_budget(now)) || (!sig && !budget.confirmed)) {
		/* stale (a coroutine resumed again, a fresh run) or a C call */
		lua_sethook(L, NULL, 0, 0);
		budget.confirm = 0;
		if (L == budget.running && !budget.armed)
			arm(next_check_ms(now));
		return;
	}
	/* the hook stays until the run ends: every instruction raises, so
	 * code that catches the error (pcall in a loop) cannot go on */
	if (sig) {
		host_push_where(L);
		lua_pushfstring(L, "handler stopped: %s is pending", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	} else {
		host_push_where(L);
		lua_pushfstring(L, "handler exceeded its %d ms budget", (int)budget.ms);
	}
	lua_concat(L, 2);
	/* the coroutine that resumed this one gets the hook when the error
	 * reaches it (follow_hook) */
	lua_error(L);
}

void lbudget_begin(lua_State *co)
{
	budget.started = now_ns();
	budget.confirm = 0;
	budget.confirmed = false;
	budget.running = co;
	if (budget.installed && !budget.armed)
		arm(next_check_ms(budget.started));
}

void lbudget_end(void)
{
	/* the timer is left to expire: no system call per handler */
	budget.running = NULL;
}

void lbudget_install(lua_State *L)
{
	struct sigaction sa;
	(void)L;
	/* LIA_BUDGET_HOOK=0: no budget at all, for tests/bench.sh to compare */
	const char *e = getenv("LIA_BUDGET_HOOK");
	if (budget.installed || (e && strcmp(e, "0") == 0))
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	budget.installed = sigaction(SIGALRM, &sa, NULL) == 0;
}

/* ---- coroutines the scripts make ----
 * coroutine.resume and coroutine.wrap as in lcorolib.c, except that the
 * resumed coroutine is the running one for the budget: a handler stuck in
 * a coroutine it made itself is stopped there. */

/* The alarm puts the hook on the coroutine running when it fires; control
 * may leave that one before its next instruction (it returns, yields, or
 * is a dead one being resumed in vain), and then nothing would check the
 * budget again: the alarm is spent and the hook is on a thread that does
 * not run. So the hook follows control from thread to thread. */
static void follow_hook(lua_State *from, lua_State *to)
{
	if (lua_gethook(from) == hook && lua_gethook(to) != hook)
		lua_sethook(to, hook, LUA_MASKCOUNT, 1);
}

static int auxresume(lua_State *L, lua_State *co, int narg)
{
	int status, nres;
	lua_State *prev = budget.running;
	if (!lua_checkstack(co, narg)) {
		lua_pushliteral(L, "too many arguments to resume");
		return -1;
	}
	lua_xmove(L, co, narg);
	if (prev)
		budget.running = co;
	follow_hook(L, co);
	status = lua_resume(co, L, narg, &nres);
	budget.running = prev;
	follow_hook(co, L);
	if (status == LUA_OK || status == LUA_YIELD) {
		if (!lua_checkstack(L, nres + 1)) {
			lua_pop(co, nres);
			lua_pushliteral(L, "too many results to resume");
			return -1;
		}
		lua_xmove(co, L, nres);
		return nres;
	}
	lua_xmove(co, L, 1);
	return -1;
}

static int co_resume(lua_State *L)
{
	lua_State *co = lua_tothread(L, 1);
	luaL_argexpected(L, co, 1, "coroutine");
	int r = auxresume(L, co, lua_gettop(L) - 1);
	if (r < 0) {
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	lua_pushboolean(L, 1);
	lua_insert(L, -(r + 1));
	return r + 1;
}

static int auxwrap(lua_State *L)
{
	lua_State *co = lua_tothread(L, lua_upvalueindex(1));
	int r = auxresume(L, co, lua_gettop(L));
	if (r >= 0)
		return r;
	int st = lua_status(co);
	if (st != LUA_OK && st != LUA_YIELD) {
		lua_resetthread(co);    /* close its variables, as lcorolib does */
		lua_xmove(co, L, 1);
	}
	if (lua_type(L, -1) == LUA_TSTRING) {
		luaL_where(L, 1);
		lua_insert(L, -2);
		lua_concat(L, 2);
	}
	return lua_error(L);
}

static int co_wrap(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_State *co = lua_newthread(L);
	lua_pushvalue(L, 1);
	lua_xmove(L, co, 1);
	lua_pushcclosure(L, auxwrap, 1);
	return 1;
}

void lbudget_open(lua_State *L)
{
	lua_getglobal(L, "coroutine");
	if (lua_istable(L, -1)) {
		lua_pushcfunction(L, co_resume);
		lua_setfield(L, -2, "resume");
		lua_pushcfunction(L, co_wrap);
		lua_setfield(L, -2, "wrap");
	}
	lua_pop(L, 1);
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
	/* until a handler is disabled (in any state of this process: a flag
	 * that never goes back is safe) no lookup per handler run */
	if (!budget.quarantine || !budget.disabled)
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
	budget.disabled = true;
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
