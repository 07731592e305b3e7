/*
 * host.h - the script host: one lua_State per agent, the embedded modules,
 * the global `lia`, and the one protected entry point from C into Lua.
 *
 * Every call from C into Lua is host_spawn(): the function runs in a
 * coroutine of its own under lua_resume (a fresh one, or one a handler
 * that returned left in the host's small pool), its arguments pushed
 * inside the protection.
 * An error logs one line ("file:line: message", plus a traceback when
 * verbose) and the agent goes on. A coroutine may yield only through a
 * waiter (lia.sleep, tok:wait, ...): C code keeps the waiter and resumes
 * the coroutine later from a loop callback with host_wake().
 *
 * Only lua/ includes lua.h; main.c uses the "for main" part below with the
 * opaque struct lua_State.
 */
#ifndef LIA_HOST_H
#define LIA_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lua_State;
struct loop;
struct host;
struct host_waiter;
struct lia_args;

/* ---- for main.c ---- */

/* A state with the standard libraries, package.preload for lia.mqtt,
 * lia.timer and every embedded lia.* module, and the global `lia`.
 * verbose: tracebacks with error lines. NULL when out of memory. */
struct host *host_new(struct loop *l, bool verbose);
/* Closes every native object (clients, timers), then the state. The loop
 * is the caller's and is freed after this. */
void host_free(struct host *h);

/* lia check, and the check before a reload: the script loaded in a state
 * of its own the way lia run loads it (package.path, the default client,
 * the main chunk run up to its end or first wait, with every module it
 * requires) on a loop that never runs. 0, or -1 with the first error as
 * "file:line: message" in err. */
int host_check(const char *path, const struct lia_args *a, char *err, size_t errlen);
/* lia check --compile: the file compiled only; 0, or -1 with
 * "file:line: message" in err. */
int host_compile(const char *path, char *err, size_t errlen);
/* The scripts' memory limit in bytes (0: none); see lua/lalloc.h. */
void host_set_memory_limit(struct host *h, size_t bytes);

/* lia run: the default client from the command line (global `mqtt`,
 * global-handler mode), then the script's main chunk as a coroutine, then
 * connect the default client if the script wants it (see CONTRACT.md).
 * Returns 0, or -1 with "file:line: message" in err when the script does
 * not compile or its main chunk fails before its first yield. */
int host_run_script(struct host *h, const char *path, const struct lia_args *a,
	char *err, size_t errlen);
/* lia pub / lia sub: runs fn of the embedded module "lia.cli" with the
 * parsed command line as a table. Errors as host_run_script. */
int host_run_cli(struct host *h, const char *fn, const struct lia_args *a,
	char *err, size_t errlen);
/* Run the loop until lia.stop(), SIGINT or SIGTERM; then every native
 * object drains (clients send DISCONNECT) for at most a few seconds.
 * Returns the exit status (lia.stop(n) sets it, default 0). */
int host_loop(struct host *h);
/* After host_loop: true when it ended on SIGHUP (lia run only, and only
 * when the script still compiles). main.c then frees the host and
 * re-executes /proc/self/exe with the same arguments: a full reload of
 * scripts, configuration and clients (clients disconnect cleanly first). */
bool host_reload_requested(const struct host *h);
/* The live reload of lia run (lua/lreload.c decides when): the scripts
 * at path are checked in a state of their own (host_check); when that
 * fails the running ones go on and -1 is returned with the error. Else
 * the MQTT clients are parked, the old state closes (its handlers, timers
 * and hardware handles go), a new one runs path, adopts the clients and
 * diffs their subscriptions. 0, or -2 with the error when the new main
 * chunk failed for real (the caller rolls back). */
int host_reload(struct host *h, const char *path, char *err, size_t errlen);
/* End the loop for a full restart: main.c re-executes lia (a changed
 * configuration file is only read that way). */
void host_reexec(struct host *h);
struct loop *host_event_loop(const struct host *h);

/* ---- for lcheck.c ---- */

struct lua_State *host_main_state(struct host *h);
/* Errors are not logged but the first one is kept in buf (lia check). */
void host_capture_errors(struct host *h, char *buf, size_t len);
/* The main chunk of path (after the default client) up to its end or
 * first wait; as host_run_script without starting anything. */
int host_run_main(struct host *h, const char *path, const struct lia_args *a, char *err,
	size_t errlen);

/* ---- for bindings ---- */

struct host *host_of(struct lua_State *L);
/* Push "file:line: " of the innermost Lua function running in L ("" when
 * none). Raises on out of memory. */
void host_push_where(struct lua_State *L);
struct loop *host_get_loop(struct lua_State *L);
bool host_verbose(struct lua_State *L);
/* Ask the loop to end (as lia.stop); status is the exit status. */
void host_stop(struct host *h, int status);
/* A client gave up (reconnect = false) after a refusal retrying cannot
 * heal; why is "mqtt ID: not_authorized (0x05)" or NULL when a client
 * connected since. When lia run then ends because nothing is left, it
 * exits 1 and logs why, instead of 0. */
void host_refused(struct host *h, const char *why);

/* Pushes the function to run and its arguments onto L (inside the
 * protection: it may raise); returns the number of arguments (not counting
 * the function). */
typedef int host_push_fn(struct lua_State *L, void *ud);

/* Run a Lua function in a coroutine of its own. Never raises, never longjmps
 * through the caller: errors are logged. Must not be called while Lua code
 * runs (use it from loop callbacks and from C API callers only). Returns
 * 0 when the coroutine finished or yielded, -1 when it failed. */
int host_spawn(struct host *h, host_push_fn *push, void *ud);
/* True while Lua code of this host runs (host_spawn or host_wake). */
bool host_busy(const struct host *h);
/* Bytes the scripts' lua_State holds now (the fleet status). */
size_t host_memory_used(const struct host *h);

/* A waiter parks the running coroutine until C code wakes it.
 * From a lua_CFunction: w = host_waiter_new(L, timeout_ms, on_timeout, ud);
 * keep w; then `return host_yield(L);`. timeout_ms < 0: no timeout. On
 * timeout the host calls on_timeout(L, ud) inside the protection to push
 * the results (it must forget w: w is gone when it returns; NULL pushes
 * nothing). Raises when L is not a host coroutine that can yield (a
 * metamethod, a C call, a coroutine the script made itself). */
struct host_waiter *host_waiter_new(struct lua_State *L, int64_t timeout_ms,
	host_push_fn *on_timeout, void *ud);
int host_yield(struct lua_State *L);
/* The optional timeout argument at idx for host_waiter_new: nil or
 * negative -> -1 (none), else milliseconds capped at 1e12. */
int64_t host_opt_timeout(struct lua_State *L, int idx);
/* Resume the parked coroutine with the values push(L, ud) puts on the
 * stack (push NULL: no values); w is freed. When Lua runs right now (a
 * binding wakes from inside a method), the resume is deferred to a
 * zero-delay timer, so push and ud must then stay valid until it runs:
 * pass static data (push_closed-like functions, ud NULL) in that case. */
void host_wake(struct host_waiter *w, host_push_fn *push, void *ud);

/* Anchoring: a registry reference that keeps the value at idx alive while
 * the loop may call into it. host_unref(L, &ref) is idempotent. */
int host_ref(struct lua_State *L, int idx);
void host_unref(struct lua_State *L, int *ref);
void host_push_ref(struct lua_State *L, int ref);

/* Drains run when the loop ends: fn(ud, first) starts (first) or checks a
 * clean stop and returns true when done. Used by lia.mqtt to flush
 * DISCONNECT; hardware bindings may use it to release lines. */
typedef bool host_drain_fn(void *ud, bool first);
int host_drain_add(struct host *h, host_drain_fn *fn, void *ud);
void host_drain_remove(struct host *h, host_drain_fn *fn, void *ud);

/* Register a userdata type once: metatable `name` with the meta functions
 * (__gc, __close, __tostring...) and the methods as its __index. Leaves
 * the stack as it was. */
struct luaL_Reg;
void host_class(struct lua_State *L, const char *name, const struct luaL_Reg *meta,
	const struct luaL_Reg *methods);

/* Module openers registered in package.preload (defined by each binding). */
int luaopen_lia_mqtt(struct lua_State *L);
int luaopen_lia_clijson(struct lua_State *L);   /* lia sub's JSON (libcjson) */
int luaopen_lia_timer(struct lua_State *L);
int luaopen_lia_stdin(struct lua_State *L);
int luaopen_lia_gpio(struct lua_State *L);
int luaopen_lia_serial(struct lua_State *L);
int luaopen_lia_i2c(struct lua_State *L);
int luaopen_lia_sim(struct lua_State *L);
int luaopen_lia_http(struct lua_State *L);
/* lia run --sim models.lua: run the file (raises on an error). */
int lsim_load_models(struct lua_State *L, const char *path);

#endif
