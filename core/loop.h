/*
 * loop.h - the event loop: epoll fd watchers, monotonic timers in a min-heap,
 * before-sleep hooks. Modelled on Redis ae.c. Single-threaded.
 *
 * Lifetimes: a callback may unwatch its own fd, close it, cancel its own
 * timer or any other; deletion is deferred so nothing is freed under a
 * running callback. Poll errors are logged and retried, never fatal.
 */
#ifndef LIA_LOOP_H
#define LIA_LOOP_H

#include <stdint.h>

struct loop;
struct loop_timer;

#define LOOP_READ 1
#define LOOP_WRITE 2
/* Reported in events (never requested): hang-up or error on the fd. */
#define LOOP_ERROR 4

typedef void loop_io_fn(struct loop *l, int fd, int events, void *ud);
/* Return the delay in ms until the next run, or LOOP_TIMER_STOP to end the
 * timer (it is freed after the callback returns). */
typedef int64_t loop_timer_fn(struct loop *l, struct loop_timer *t, void *ud);
typedef void loop_hook_fn(struct loop *l, void *ud);

#define LOOP_TIMER_STOP (-1)

struct loop *loop_new(void);
/* Frees the loop; watchers and timers still registered are dropped without
 * calling them. */
void loop_free(struct loop *l);

/* Milliseconds (and nanoseconds) of CLOCK_MONOTONIC. loop_now() is cached
 * per iteration; loop_now_fresh() reads the clock. */
uint64_t loop_now(struct loop *l);
uint64_t loop_now_fresh(struct loop *l);
uint64_t loop_clock_ns(void);

/* Watch fd for mask (LOOP_READ|LOOP_WRITE), replacing an earlier mask and
 * callback for the same fd. mask 0 keeps the registration but stops events.
 * Returns 0 or -errno. */
int loop_watch(struct loop *l, int fd, int mask, loop_io_fn *fn, void *ud);
/* Stop watching fd (before closing it). Safe inside any callback. */
void loop_unwatch(struct loop *l, int fd);

/* Start a timer that fires after delay_ms; returns NULL when out of memory.
 * The handle is valid until the timer is cancelled or its callback returns
 * LOOP_TIMER_STOP. From inside a callback the delay counts from loop_now(),
 * elsewhere from the clock. Equal due times fire in start order; a timer
 * started (or re-armed) while timers run waits for the next iteration. */
struct loop_timer *loop_timer_start(struct loop *l, uint64_t delay_ms,
	loop_timer_fn *fn, void *ud);
/* Cancel a timer; safe from inside its own callback (the return value of
 * that callback is then ignored). */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
/* Move a pending timer so it fires delay_ms from now. Called from the
 * timer's own callback it re-arms the timer and the return value of that
 * callback is ignored (unless the timer is also cancelled). */
void loop_timer_reset(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
/* Number of live timers (for tests and leak checks). */
unsigned loop_timer_count(const struct loop *l);
/* The fds watched for callers (the loop's own signalfd not counted). With
 * loop_timer_count() 0 too, nothing outside can wake the loop again. */
unsigned loop_watch_count(const struct loop *l);
/* As libuv's uv_unref: a timer or watched fd of the agent's own (a reload
 * watcher, the systemd watchdog, a health window) that must not keep the
 * loop alive by itself. loop_ref_count() is what is left once those are
 * taken out: 0 means nothing a script waits for can happen any more. */
void loop_timer_unref(struct loop *l, struct loop_timer *t);
void loop_watch_unref(struct loop *l, int fd);
unsigned loop_ref_count(const struct loop *l);

/* Deliver signo through the loop (signalfd): the signal is blocked for the
 * process and fn runs from the loop like any other event. One fn per signo;
 * fn NULL stops watching and unblocks it. Returns 0 or -errno. */
typedef void loop_signal_fn(struct loop *l, int signo, void *ud);
int loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *ud);

/* Hooks run before every sleep in registration order (flush queued writes). */
int loop_hook_add(struct loop *l, loop_hook_fn *fn, void *ud);
void loop_hook_remove(struct loop *l, loop_hook_fn *fn, void *ud);

/* Run until loop_stop(). Returns 0. loop_run_once waits at most timeout_ms
 * (-1: until the next timer or event) and processes what is ready; it
 * returns the number of fd and timer callbacks run. */
int loop_run(struct loop *l);
/* loop_stop before loop_run makes that run return at once. */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_stop(struct loop *l);

#endif
