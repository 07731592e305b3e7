/*
 * lbudget.h - limits on how scripts use the one thread: a time budget per
 * run of Lua code (--handler-budget), stopping a stuck handler when
 * SIGTERM/SIGINT is pending, and quarantine of a handler that keeps
 * failing (--quarantine N errors within a minute).
 *
 * No hook runs normally (any Lua 5.4 hook traps every VM instruction): a
 * SIGALRM timer checks the monotonic clock against the deadline set when
 * the host resumed the coroutine, and only a run over its budget, or one
 * running while SIGTERM/SIGINT wait, gets a count hook that raises the
 * error at its next instruction. Process-level state: one piece of Lua
 * code runs at a time. SIGALRM is lia's.
 */
#ifndef LIA_LBUDGET_H
#define LIA_LBUDGET_H

#include <stdbool.h>

struct lua_State;

#define LBUDGET_WINDOW_MS 60000

/* budget_ms 0: no budget (signals are still honoured); quarantine 0: never. */
void lbudget_configure(unsigned budget_ms, unsigned quarantine);
unsigned lbudget_budget_ms(void);
/* In a new state: coroutine.resume / coroutine.wrap that keep the budget
 * on the coroutine they resume. Raises on out of memory. */
void lbudget_open(struct lua_State *L);
/* The SIGALRM handler (once per process; L is unused). */
void lbudget_install(struct lua_State *L);
/* Around every resume of co: the deadline starts; a SIGALRM timer is
 * armed when none is (it is left to expire after the run). */
void lbudget_begin(struct lua_State *co);
void lbudget_end(void);

/* Quarantine. The function at idx of L: may it run? (false: disabled) */
bool lbudget_allowed(struct lua_State *L, int idx);
/* The coroutine co starts the function at idx: remember it. Raises on
 * out of memory, except for a co remembered before (a new value for an
 * existing entry allocates nothing). */
void lbudget_spawned(struct lua_State *L, struct lua_State *co, int idx);
/* co ended; failed: count the failure against its function and disable
 * it at the limit (one error line). Never raises. A coroutine that
 * returned and that the host keeps for reuse needs no call: its next
 * lbudget_spawned replaces what was remembered. */
void lbudget_finished(struct lua_State *L, struct lua_State *co, bool failed);

#endif
