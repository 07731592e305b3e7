/*
 * lbudget.h - limits on how scripts use the one thread: a time budget per
 * run of Lua code (--handler-budget), stopping a stuck handler when
 * SIGTERM/SIGINT is pending, and quarantine of a handler that keeps
 * failing (--quarantine N errors within a minute).
 *
 * The budget is a count hook (every LBUDGET_COUNT VM instructions) that
 * compares the monotonic clock against the deadline the host set when it
 * resumed the coroutine; new coroutines inherit the hook from the main
 * thread. Process-level state: one piece of Lua code runs at a time.
 */
#ifndef LIA_LBUDGET_H
#define LIA_LBUDGET_H

#include <stdbool.h>

struct lua_State;

#define LBUDGET_COUNT 1000
#define LBUDGET_WINDOW_MS 60000

/* budget_ms 0: no budget (signals are still honoured); quarantine 0: never. */
void lbudget_configure(unsigned budget_ms, unsigned quarantine);
unsigned lbudget_budget_ms(void);
/* Install the hook on a new state's main thread. */
void lbudget_install(struct lua_State *L);
/* Around every resume: arm and disarm the deadline. */
void lbudget_begin(void);
void lbudget_end(void);

/* Quarantine. The function at idx of L: may it run? (false: disabled) */
bool lbudget_allowed(struct lua_State *L, int idx);
/* The coroutine co starts the function at idx: remember it. Raises on
 * out of memory. */
void lbudget_spawned(struct lua_State *L, struct lua_State *co, int idx);
/* co ended; failed: count the failure against its function and disable
 * it at the limit (one error line). Never raises. */
void lbudget_finished(struct lua_State *L, struct lua_State *co, bool failed);

#endif
