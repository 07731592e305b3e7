/*
 * host.c - the script host: the state, the embedded modules, coroutines
 * and waiters, and the run loop of lia run / pub / sub.
 *
 * Coroutines are anchored in one registry table (THREADS: light userdata
 * co -> the thread) from their first resume until they end, and that
 * table also tells which threads are ours: only they may park on a waiter,
 * because only the host resumes them.
 *
 * A coroutine that returned is kept (still in THREADS) in a small pool for
 * the next handler: making one per message was a tenth of a delivery. One
 * that yielded goes back only once it returns; one that failed is dropped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "args.h"
#include "host.h"
#include "lalloc.h"
#include "lfleet.h"
#include "lbudget.h"
#include "lchunk.h"
#include "lreload.h"
#include "lmqtt.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define DRAIN_MS 3000
#define POOL_MAX 8                      /* idle coroutines kept for reuse */

struct drain {
	host_drain_fn *fn;
	void *ud;
	unsigned pass;
	struct drain *next;
};

struct host_waiter {
	struct host *h;
	lua_State *co;
	struct loop_timer *timer;       /* timeout, or the deferred wake */
	host_push_fn *on_timeout;
	void *ud;
	host_push_fn *push;             /* deferred wake */
	void *push_ud;
	struct host_waiter *prev, *next;
};

struct host {
	lua_State *L;
	struct loop *loop;
	bool verbose;
	int busy;                       /* Lua code is running */
	bool stop;
	bool closing;
	bool signals;                   /* SIGINT/SIGTERM/SIGHUP are ours */
	bool reload;                    /* SIGHUP: stop, then main re-executes lia */
	const char *script;             /* lia run's script (SIGHUP reloads it) */
	const struct lia_args *args;    /* lia run's command line */
	int status;
	char refused[300];              /* host_refused: why no client is left ("": none) */
	lua_State *parked;              /* the coroutine that made the last waiter */
	struct host_waiter *waiters;
	struct drain *drains;
	unsigned drain_pass;
	struct lalloc mem;              /* the state's allocator and its limit */
	char *capture;                  /* lia check: the first error goes here */
	size_t capture_len;
	lua_State *pool[POOL_MAX];      /* returned coroutines, anchored in THREADS */
	int pooled;
};

static const char THREADS = 't';        /* registry key of the coroutine table */

struct lia_embedded { const char *name; const unsigned char *src; size_t len; };
extern const struct lia_embedded lia_embedded[];

int luaopen_lia(lua_State *L);

struct host *host_of(lua_State *L)
{
	return *(struct host **)lua_getextraspace(L);
}

struct loop *host_get_loop(lua_State *L)
{
	return host_of(L)->loop;
}

bool host_verbose(lua_State *L)
{
	return host_of(L)->verbose;
}

bool host_busy(const struct host *h)
{
	return h->busy > 0;
}

void host_stop(struct host *h, int status)
{
	h->stop = true;
	h->status = status;
	loop_stop(h->loop);
}

void host_refused(struct host *h, const char *why)
{
	snprintf(h->refused, sizeof h->refused, "%s", why ? why : "");
}

/* ---- references ---- */

int host_ref(lua_State *L, int idx)
{
	lua_pushvalue(L, idx);
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

void host_unref(lua_State *L, int *ref)
{
	if (*ref != LUA_NOREF && *ref != LUA_REFNIL) {
		luaL_unref(L, LUA_REGISTRYINDEX, *ref);
		*ref = LUA_NOREF;
	}
}

void host_push_ref(lua_State *L, int ref)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

/* ---- coroutines ---- */

static void push_threads(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &THREADS);
}

static bool is_ours(lua_State *L, lua_State *co)
{
	push_threads(L);
	bool ours = lua_rawgetp(L, -1, co) == LUA_TTHREAD;
	lua_pop(L, 2);
	return ours;
}

/* Never raises: removing a key does not allocate. */
static void forget_thread(lua_State *L, lua_State *co)
{
	push_threads(L);
	lua_pushnil(L);
	lua_rawsetp(L, -2, co);
	lua_pop(L, 1);
}

/* Builds the message of a failed coroutine (inside a protected call, since
 * the traceback allocates): arg 1 the thread. */
static int error_text(lua_State *L)
{
	lua_State *co = lua_tothread(L, 1);
	struct host *h = host_of(L);
	const char *msg = lua_tostring(co, -1);
	size_t limit = (size_t)lua_tointeger(L, 3);
	if (lua_tointeger(L, 2) == LUA_ERRMEM && limit) {
		/* Lua's memory error carries no position: add the allocating line */
		host_push_where(co);
		lua_xmove(co, L, 1);
		msg = lua_pushfstring(L, "%snot enough memory (limit %d MB)", lua_tostring(L, -1),
			(int)(limit >> 20));
	}
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
	msg = lchunk_fix(L, msg);
	if (h->capture && !h->capture[0])
		snprintf(h->capture, h->capture_len, "%s", msg);
	if (host_verbose(L)) {
		luaL_traceback(L, co, msg, 0);
		lchunk_fix(L, lua_tostring(L, -1));
	}
	return 1;
}

/* Out of memory with no limit of ours (the system's): the message carries
 * no position, and nothing may be allocated: the line the coroutine stopped
 * at says where. */
static void report_oom(lua_State *co)
{
	lua_Debug ar;
	for (int level = 0; lua_getstack(co, level, &ar); level++) {
		if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0) {
			log_error("%s:%d: out of memory", ar.short_src, ar.currentline);
			return;
		}
	}
	log_error("lia: out of memory");
}

/* The limit is lifted while the error is reported: the report allocates. */
static void report(lua_State *L, lua_State *co, int status)
{
	struct host *h = host_of(L);
	size_t limit = h->mem.limit;
	if (status == LUA_ERRMEM && !limit) {
		report_oom(co);
		if (!h->capture)
			lreload_error();
		return;
	}
	h->mem.limit = 0;
	lua_pushcfunction(L, error_text);
	lua_pushthread(co);
	lua_xmove(co, L, 1);
	lua_pushinteger(L, status);
	lua_pushinteger(L, (lua_Integer)limit);
	if (lua_pcall(L, 3, 1, 0) != LUA_OK)
		log_error("lia: cannot report an error: out of memory");
	else if (!h->capture) {
		log_error("%s", lua_tostring(L, -1));
		lfleet_error(lua_tostring(L, -1));
	}
	if (!h->capture)
		lreload_error();
	lua_pop(L, 1);
	h->mem.limit = limit;
}

void host_push_where(lua_State *L)
{
	lua_Debug ar;
	for (int level = 0; lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
			return;
		}
	}
	lua_pushliteral(L, "");
}

/* A coroutine that returned, made ready to start the next handler: the
 * stack emptied (a dead coroutine is one with nothing but arguments on
 * it, so a script resuming a pooled one it kept gets "cannot resume dead
 * coroutine") and no budget hook left on it. False when the pool is full. */
static bool pool_put(struct host *h, lua_State *co)
{
	if (h->pooled == POOL_MAX || h->closing)
		return false;
	lua_settop(co, 0);
	if (lua_gethook(co))
		lua_sethook(co, NULL, 0, 0);
	h->pool[h->pooled++] = co;
	return true;
}

/* A coroutine for a new handler, anchored in THREADS: from the pool, or a
 * new one. Raises on out of memory. */
static lua_State *pool_take(lua_State *L, struct host *h)
{
	if (h->pooled)
		return h->pool[--h->pooled];
	lua_State *co = lua_newthread(L);
	push_threads(L);
	lua_pushvalue(L, -2);
	lua_rawsetp(L, -2, co);
	lua_pop(L, 2);
	return co;
}

/* After a resume: the coroutine ended (ok or failed) or parked. */
static int finish(struct host *h, lua_State *co, int status)
{
	lua_State *L = h->L;
	bool parked = h->parked == co;
	h->parked = NULL;
	if (status == LUA_YIELD && parked)
		return 0;
	if (status == LUA_YIELD) {
		lua_Debug ar;
		if (!lua_getstack(co, 1, &ar) || !lua_getinfo(co, "Sl", &ar)) {
			snprintf(ar.short_src, sizeof ar.short_src, "?");
			ar.currentline = 0;
		}
		lua_pushfstring(L, "%s:%d: coroutine.yield() outside a coroutine the script made; "
			"use lia.sleep or tok:wait", ar.short_src, ar.currentline);
		log_error("%s", lchunk_fix(L, lua_tostring(L, -1)));
		lua_pop(L, 2);
	} else if (status != LUA_OK) {
		report(L, co, status);
	}
	if (status != LUA_OK || !pool_put(h, co)) {
		lbudget_finished(L, co, status != LUA_OK);
		forget_thread(L, co);
		lua_resetthread(co);
	}
	if (status == LUA_ERRMEM || lalloc_take_hit(&h->mem))
		lua_gc(L, LUA_GCCOLLECT);       /* give the garbage back before the next handler */
	return status == LUA_OK ? 0 : -1;
}

struct resume_req {
	struct host *h;
	lua_State *co;          /* NULL: spawn a new one */
	host_push_fn *push;
	void *ud;
	int status;
	bool resumed;
};

/* Protected part: make the coroutine, push function and arguments (or the
 * wake values), move them over, resume. */
static int resume_k(lua_State *L)
{
	struct resume_req *r = lua_touserdata(L, 1);
	bool fresh = r->co == NULL;
	int base = lua_gettop(L), n, nres;
	if (r->push)
		r->push(L, r->ud);
	n = lua_gettop(L) - base;
	if (fresh && n < 1)
		return 0;               /* no handler: nothing to run */
	if (fresh && !lbudget_allowed(L, base + 1))
		return 0;               /* quarantined */
	/* The quarantine wants each coroutine's function once it fails. A new
	 * coroutine is entered in that table before it runs (which may raise);
	 * a pooled one already has its entry, and most handlers return at
	 * their first resume: its function is kept here and the entry, which
	 * then needs no allocation, is updated only if it yields or fails. */
	bool reused = fresh && r->h->pooled > 0;
	if (fresh) {
		r->co = pool_take(L, r->h);
		if (reused) {
			lua_pushvalue(L, base + 1);
			lua_insert(L, base + 1);
		} else {
			lbudget_spawned(L, r->co, base + 1);
		}
	}
	if (!lua_checkstack(r->co, n + LUA_MINSTACK))
		return luaL_error(L, "coroutine stack overflow");
	lua_xmove(L, r->co, n);
	lbudget_begin(r->co);
	r->status = lua_resume(r->co, L, fresh ? n - 1 : n, &nres);
	lbudget_end();
	if (r->status == LUA_YIELD)
		lua_pop(r->co, nres);
	if (reused && r->status != LUA_OK)
		lbudget_spawned(L, r->co, base + 1);
	r->resumed = true;
	return 0;
}

static int do_resume(struct host *h, lua_State *co, host_push_fn *push, void *ud)
{
	lua_State *L = h->L;
	struct resume_req r = { h, co, push, ud, LUA_OK, false };
	int top = lua_gettop(L);
	h->busy++;
	lua_pushcfunction(L, resume_k);
	lua_pushlightuserdata(L, &r);
	int st = lua_pcall(L, 1, 0, 0);
	lbudget_end();          /* also when resume_k raised */
	h->busy--;
	if (st != LUA_OK) {
		log_error("lia: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
		lua_settop(L, top);
		if (r.co && !co)
			forget_thread(L, r.co);
		return -1;
	}
	lua_settop(L, top);
	if (!r.resumed)
		return 0;
	return finish(h, r.co, r.status);
}

int host_spawn(struct host *h, host_push_fn *push, void *ud)
{
	if (h->busy || h->closing) {
		log_error("lia: internal: a handler was started while Lua runs; dropped");
		return -1;
	}
	return do_resume(h, NULL, push, ud);
}

/* ---- waiters ---- */

static void waiter_unlink(struct host_waiter *w)
{
	struct host *h = w->h;
	if (w->timer)
		loop_timer_cancel(h->loop, w->timer);
	if (w->prev)
		w->prev->next = w->next;
	else
		h->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static int64_t waiter_timeout(struct loop *l, struct loop_timer *t, void *ud)
{
	struct host_waiter *w = ud;
	struct host *h = w->h;
	lua_State *co = w->co;
	host_push_fn *push = w->push ? w->push : w->on_timeout;
	void *pud = w->push ? w->push_ud : w->ud;
	(void)l;
	(void)t;
	w->timer = NULL;
	waiter_unlink(w);
	xfree(w);
	if (!h->closing)
		do_resume(h, co, push, pud);
	return LOOP_TIMER_STOP;
}

struct host_waiter *host_waiter_new(lua_State *L, int64_t timeout_ms,
	host_push_fn *on_timeout, void *ud)
{
	struct host *h = host_of(L);
	struct host_waiter *w;
	if (!is_ours(L, L))
		luaL_error(L, "cannot wait here: only handlers, timers and the main chunk may "
			"wait (not a coroutine the script made itself)");
	if (!lua_isyieldable(L))
		luaL_error(L, "cannot wait here: attempt to yield across a C-call boundary "
			"(inside a metamethod, iterator or C function)");
	w = xcalloc(1, sizeof *w);
	if (!w)
		luaL_error(L, "out of memory");
	w->h = h;
	w->co = L;
	w->on_timeout = on_timeout;
	w->ud = ud;
	if (timeout_ms >= 0) {
		w->timer = loop_timer_start(h->loop, (uint64_t)timeout_ms, waiter_timeout, w);
		if (!w->timer) {
			xfree(w);
			luaL_error(L, "out of memory");
		}
	}
	w->next = h->waiters;
	if (w->next)
		w->next->prev = w;
	h->waiters = w;
	h->parked = L;
	return w;
}

int host_yield(lua_State *L)
{
	return lua_yield(L, 0);
}

void host_wake(struct host_waiter *w, host_push_fn *push, void *ud)
{
	struct host *h = w->h;
	lua_State *co = w->co;
	if (h->closing) {
		waiter_unlink(w);
		xfree(w);
		return;
	}
	if (h->busy) {
		/* Lua runs now: resume from the loop instead, on a fresh C stack. */
		if (w->timer)
			loop_timer_cancel(h->loop, w->timer);
		w->push = push;
		w->push_ud = ud;
		w->timer = loop_timer_start(h->loop, 0, waiter_timeout, w);
		if (w->timer)
			return;
		log_error("lia: out of memory: a waiting coroutine is dropped");
		waiter_unlink(w);
		xfree(w);
		return;
	}
	waiter_unlink(w);
	xfree(w);
	do_resume(h, co, push, ud);
}

/* ---- drains ---- */

int host_drain_add(struct host *h, host_drain_fn *fn, void *ud)
{
	struct drain *d = xcalloc(1, sizeof *d);
	if (!d)
		return -1;
	d->fn = fn;
	d->ud = ud;
	d->next = h->drains;
	h->drains = d;
	return 0;
}

void host_drain_remove(struct host *h, host_drain_fn *fn, void *ud)
{
	for (struct drain **p = &h->drains; *p; p = &(*p)->next) {
		if ((*p)->fn == fn && (*p)->ud == ud) {
			struct drain *d = *p;
			*p = d->next;
			xfree(d);
			return;
		}
	}
}

/* One pass over the drains; true when all are done. A drain may remove
 * itself (or others) while we walk, so restart after every call and skip
 * those already asked in this pass. */
static bool drain_pass(struct host *h, bool first)
{
	bool all = true, again = true;
	unsigned pass = ++h->drain_pass;
	while (again) {
		again = false;
		for (struct drain *d = h->drains; d; d = d->next) {
			if (d->pass == pass)
				continue;
			d->pass = pass;
			all = d->fn(d->ud, first) && all;
			again = true;
			break;
		}
	}
	return all;
}

/* ---- the state ---- */

static int load_embedded(lua_State *L)
{
	const struct lia_embedded *e = &lia_embedded[lua_tointeger(L, lua_upvalueindex(1))];
	char chunk[128];
	snprintf(chunk, sizeof chunk, "=%s", e->name);
	if (luaL_loadbufferx(L, (const char *)e->src, e->len, chunk, "t") != LUA_OK)
		return lua_error(L);
	lua_pushstring(L, e->name);
	lua_call(L, 1, 1);
	return 1;
}

/* lua-cjson, linked in statically (Debian's liblua5.4-cjson.a) */
int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);
int luaopen_lia_state_db(lua_State *L);    /* lstate.c, under lua/lib/state.lua */

static int open_state(lua_State *L)
{
	static const luaL_Reg preload[] = {
		{ "lia.mqtt", luaopen_lia_mqtt },
		{ "lia.timer", luaopen_lia_timer },
		{ "lia.stdin", luaopen_lia_stdin },
		{ "lia.gpio", luaopen_lia_gpio },
		{ "lia.serial", luaopen_lia_serial },
		{ "lia.i2c", luaopen_lia_i2c },
		{ "lia.sim", luaopen_lia_sim },
		{ "lia.http", luaopen_lia_http },
		{ "cjson", luaopen_cjson },
		{ "cjson.safe", luaopen_cjson_safe },
		{ "lia.clijson", luaopen_lia_clijson },
		{ "lia.state.db", luaopen_lia_state_db },
		{ NULL, NULL }
	};
	luaL_openlibs(L);
	lbudget_open(L);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &THREADS);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	for (const luaL_Reg *r = preload; r->name; r++) {
		lua_pushcfunction(L, r->func);
		lua_setfield(L, -2, r->name);
	}
	for (int i = 0; lia_embedded[i].name; i++) {
		lua_pushinteger(L, i);
		lua_pushcclosure(L, load_embedded, 1);
		lua_setfield(L, -2, lia_embedded[i].name);
	}
	lua_pop(L, 1);
	luaL_requiref(L, "lia", luaopen_lia, 1);
	lua_pop(L, 1);
	return 0;
}

/* h->L: a new state with the host's allocator, hook and modules; -1 when
 * out of memory. */
static int new_state(struct host *h)
{
	lua_State *L = luaL_newstate();
	if (!L)
		return -1;
	/* luaL_newstate's allocator is realloc/free too: take over its blocks
	 * with the count Lua keeps of them */
	h->mem.used = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
	lua_setallocf(L, lalloc_fn, &h->mem);
	/* Every message delivered makes a table and strings that die with its
	 * handler: the generational collector leaves the long-lived heap
	 * (modules, handlers) alone in its minor collections, where the
	 * incremental one marks all of it each cycle (a fifth of delivery's
	 * CPU in Lua at 100 000 msg/s). A script may switch back with
	 * collectgarbage("incremental"). */
	lua_gc(L, LUA_GCGEN, 0, 0);
	lbudget_install(L);
	*(struct host **)lua_getextraspace(L) = h;
	lua_pushcfunction(L, open_state);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		lua_close(L);
		return -1;
	}
	h->L = L;
	return 0;
}

/* Closes every native object of the state (clients, timers, lines), then
 * the state; the waiters and drains go with it. */
static void close_state(struct host *h)
{
	h->closing = true;
	lua_close(h->L);
	h->L = NULL;
	h->parked = NULL;
	h->pooled = 0;
	while (h->waiters) {
		struct host_waiter *w = h->waiters;
		waiter_unlink(w);
		xfree(w);
	}
	while (h->drains) {
		struct drain *d = h->drains;
		h->drains = d->next;
		xfree(d);
	}
	h->closing = false;
}

struct host *host_new(struct loop *l, bool verbose)
{
	struct host *h = xcalloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->loop = l;
	h->verbose = verbose;
	if (new_state(h) < 0) {
		xfree(h);
		return NULL;
	}
	return h;
}

void host_set_memory_limit(struct host *h, size_t bytes)
{
	h->mem.limit = bytes;
}

size_t host_memory_used(const struct host *h)
{
	return h->mem.used;
}

void host_free(struct host *h)
{
	if (!h)
		return;
	if (h->L)
		close_state(h);
	xfree(h);
}

/* ---- running a script ---- */

struct main_req {
	const char *path;           /* lia run: the script */
	const char *fn;             /* lia pub/sub: the function of lia.cli */
	const struct lia_args *a;
	int fn_ref, arg_ref;
	char *err;
	size_t errlen;
};

static int push_main(lua_State *L, void *ud)
{
	struct main_req *m = ud;
	host_push_ref(L, m->fn_ref);
	if (m->arg_ref != LUA_NOREF)
		host_push_ref(L, m->arg_ref);
	return 0;
}

/* The default client of lia run: global `mqtt`, global-handler mode. */
static void make_default_client(lua_State *L, const struct lia_args *a)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.cli.opts");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "client_opts");
	args_push(L, a);
	lua_call(L, 1, 1);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.mqtt");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "client");
	lua_pushvalue(L, -3);
	lua_call(L, 1, 1);
	lmqtt_set_default(L, -1);
	lua_setglobal(L, "mqtt");
	lua_pop(L, 3);
}

static int prepare_main(lua_State *L)
{
	struct main_req *m = lua_touserdata(L, 1);
	if (m->path) {
		if (m->path[0])
			lchunk_set_root(L, m->path);
		make_default_client(L, m->a);
		args_set_script_arg(L, m->a);
		if (m->a->sim_models)
			lsim_load_models(L, m->a->sim_models);
		if (!m->path[0]) {      /* safe mode without a good copy: no script */
			luaL_loadstring(L, "");
		} else if (lchunk_load(L, m->path) != LUA_OK) {
			snprintf(m->err, m->errlen, "%s", lchunk_fix(L, lua_tostring(L, -1)));
			return 0;
		}
		m->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return 0;
	}
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.cli");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, m->fn);
	m->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	args_push(L, m->a);
	m->arg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static int start_default(lua_State *L)
{
	lmqtt_start_default(L, lua_toboolean(L, 1));
	return 0;
}

/* After a reload's main chunk: the kept clients' "connect" handlers run,
 * subscriptions are diffed, the clients nobody made again leave. */
static int reload_done(lua_State *L)
{
	lmqtt_reload_done(L);
	return 0;
}

static int run_main(struct host *h, struct main_req *m)
{
	lua_State *L = h->L;
	int r;
	m->fn_ref = m->arg_ref = LUA_NOREF;
	m->err[0] = '\0';
	lua_pushcfunction(L, prepare_main);
	lua_pushlightuserdata(L, m);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		snprintf(m->err, m->errlen, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	if (m->err[0] || m->fn_ref == LUA_NOREF) {
		host_unref(L, &m->fn_ref);
		host_unref(L, &m->arg_ref);
		return -1;
	}
	r = host_spawn(h, push_main, m);
	host_unref(L, &m->fn_ref);
	host_unref(L, &m->arg_ref);
	return r;
}

static void watch_signals(struct host *h);

/* The script's main chunk, then the default client (lia run, a reload). */
static int run_script(struct host *h, const char *path, char *err, size_t errlen)
{
	struct main_req m = { .path = path, .a = h->args, .err = err, .errlen = errlen };
	const struct lia_args *a = h->args;
	if (run_main(h, &m) < 0)
		return -1;
	lua_pushcfunction(h->L, start_default);
	lua_pushboolean(h->L, args_broker_given(a) || !path[0]);
	if (lua_pcall(h->L, 1, 0, 0) != LUA_OK) {
		log_error("lia: %s", lua_tostring(h->L, -1));
		lua_pop(h->L, 1);
	}
	return 0;
}

int host_run_script(struct host *h, const char *path, const struct lia_args *a,
	char *err, size_t errlen)
{
	const char *run, *good;
	h->script = path;
	h->args = a;
	watch_signals(h);
	run = lreload_prepare(h, a, path);
	if (run_script(h, run, err, errlen) < 0) {
		if (!(good = lreload_start_failed(err)) || host_reload(h, good, err, errlen) < 0)
			return -1;
		run = good;
	}
	lreload_started(h, run);
	return 0;
}

int host_reload(struct host *h, const char *path, char *err, size_t errlen)
{
	size_t limit = h->mem.limit;
	int r;
	if (h->busy || h->stop) {
		snprintf(err, errlen, "lia: a reload while Lua runs or lia stops");
		return -1;
	}
	if (host_check(path, h->args, err, errlen) < 0)
		return -1;
	lmqtt_park_all(h->L);
	close_state(h);
	if (new_state(h) < 0) {
		/* no state to run anything in: let systemd start us again */
		snprintf(err, errlen, "lia: out of memory making the new state");
		host_stop(h, 1);
		return -2;
	}
	h->mem.limit = limit;
	r = run_script(h, path, err, errlen);
	lua_pushcfunction(h->L, reload_done);
	if (lua_pcall(h->L, 0, 0, 0) != LUA_OK) {
		log_error("lia: %s", lua_tostring(h->L, -1));
		lua_pop(h->L, 1);
	}
	return r < 0 ? -2 : 0;
}

struct lua_State *host_main_state(struct host *h)
{
	return h->L;
}

void host_capture_errors(struct host *h, char *buf, size_t len)
{
	h->capture = buf;
	h->capture_len = len;
}

int host_run_main(struct host *h, const char *path, const struct lia_args *a, char *err,
	size_t errlen)
{
	struct main_req m = { .path = path, .a = a, .err = err, .errlen = errlen };
	return run_main(h, &m);
}

int host_run_cli(struct host *h, const char *fn, const struct lia_args *a,
	char *err, size_t errlen)
{
	struct main_req m = { .fn = fn, .a = a, .err = err, .errlen = errlen };
	return run_main(h, &m);
}

static void on_signal(struct loop *l, int signo, void *ud)
{
	struct host *h = ud;
	(void)l;
	if (h->stop) {
		/* a second ^C while draining: give up on the clean stop */
		log_warn("signal %d while stopping: exiting now", signo);
		h->status = 1;
		h->closing = true;
		return;
	}
	log_info("signal %d: stopping", signo);
	host_stop(h, 0);
}

/* SIGHUP: a full reload. A script that no longer compiles is refused and
 * the running one goes on. */
static void on_hup(struct loop *l, int signo, void *ud)
{
	struct host *h = ud;
	(void)l;
	(void)signo;
	if (!h->stop)
		lreload_request(h, "SIGHUP", 0);
}

void host_reexec(struct host *h)
{
	h->reload = true;
	host_stop(h, 0);
}

struct loop *host_event_loop(const struct host *h)
{
	return h->loop;
}

bool host_reload_requested(const struct host *h)
{
	return h->reload;
}

/* lia run ends with 0, as node does, once the main chunk has returned (or
 * waits) and nothing can ever run again: no timer and no watched fd (a
 * client, a device handler, stdin) is left to call back, so no coroutine
 * can be woken either. The loop keeps the count: every binding that can
 * call back holds a timer or fd. The agent's own (the reload watcher, the
 * health window, the watchdog) are unref'd: they do not keep lia running. */
static bool nothing_left(const struct host *h)
{
	return loop_ref_count(h->loop) == 0;
}

/* From before the main chunk runs: a stuck one sees SIGTERM pending
 * (lbudget.c) instead of dying without a word. */
static void watch_signals(struct host *h)
{
	if (h->signals)
		return;
	h->signals = true;
	loop_signal(h->loop, SIGINT, on_signal, h);
	loop_signal(h->loop, SIGTERM, on_signal, h);
	if (h->script)
		loop_signal(h->loop, SIGHUP, on_hup, h);
}

int host_loop(struct host *h)
{
	uint64_t deadline;
	watch_signals(h);
	while (!h->stop) {
		if (h->script && nothing_left(h)) {
			/* the script stopped because the broker refuses it for good:
			 * under systemd (Restart=on-failure) and in shell scripts
			 * that is a failure, not a job done */
			h->status = h->refused[0] ? 1 : 0;
			if (h->refused[0])
				log_error("nothing left to run: the broker refused %s, which retrying "
					"will not heal", h->refused);
			break;
		}
		loop_run_once(h->loop, -1);
	}
	deadline = loop_now_fresh(h->loop) + DRAIN_MS;
	if (!drain_pass(h, true)) {
		while (!h->closing && loop_now_fresh(h->loop) < deadline) {
			loop_run_once(h->loop, 50);
			if (drain_pass(h, false))
				break;
		}
	}
	if (!h->reload)
		lreload_stopped();
	return h->status;
}

void host_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
	if (luaL_newmetatable(L, name)) {
		luaL_setfuncs(L, meta, 0);
		lua_newtable(L);
		luaL_setfuncs(L, methods, 0);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
}

int64_t host_opt_timeout(lua_State *L, int idx)
{
	lua_Number ms = luaL_optnumber(L, idx, -1);
	luaL_argcheck(L, ms == ms, idx, "not a number");
	if (ms < 0)
		return -1;
	return ms > 1e12 ? (int64_t)1e12 : (int64_t)ms;
}
