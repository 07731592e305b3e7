/*
 * test_loop.c - the event loop: timer order and lifetimes, fd watchers
 * (including events made stale by an earlier callback), hooks, signals.
 * Real time, but only a few milliseconds per test.
 */
#include "loop.h"
#include "xalloc.h"
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- helpers ---- */

#define MAX_FIRED 1024

struct record {
	int fired[MAX_FIRED];
	int n;
	int want;           /* stop the loop once this many have fired */
};

static int64_t stop_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)t;
	(void)ud;
	loop_stop(l);
	return LOOP_TIMER_STOP;
}

/* Run the loop for about ms milliseconds. */
static void run_for(struct loop *l, uint64_t ms)
{
	loop_timer_start(l, ms, stop_cb, NULL);
	loop_run(l);
}

static int guard_fired;

static int64_t guard_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)t;
	(void)ud;
	guard_fired = 1;
	loop_stop(l);
	return LOOP_TIMER_STOP;
}

/* Run until a callback stops the loop; the guard only ends a hung test.
 * Tests that check ordering stop from the callbacks, so a slow machine
 * (valgrind, a loaded CI box) cannot make them flaky. */
static void run_until_stopped(struct loop *l)
{
	struct loop_timer *guard;

	guard_fired = 0;
	guard = loop_timer_start(l, 2000, guard_cb, NULL);
	loop_run(l);
	CHECK(!guard_fired);
	if (!guard_fired)
		loop_timer_cancel(l, guard);
}

struct tag {
	struct record *rec;
	int id;
};

static int64_t record_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	struct tag *tag = ud;

	(void)t;
	if (tag->rec->n < MAX_FIRED)
		tag->rec->fired[tag->rec->n++] = tag->id;
	if (tag->rec->n == tag->rec->want)
		loop_stop(l);
	return LOOP_TIMER_STOP;
}

/* ---- timers ---- */

static void test_timers_in_order(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct record rec = { .n = 0 };
	struct tag tags[5] = { { &rec, 3 }, { &rec, 1 }, { &rec, 2 }, { &rec, 4 }, { &rec, 5 } };

	loop_timer_start(l, 6, record_cb, &tags[0]);
	loop_timer_start(l, 1, record_cb, &tags[1]);
	loop_timer_start(l, 3, record_cb, &tags[2]);
	/* equal delays: start order */
	loop_timer_start(l, 8, record_cb, &tags[3]);
	loop_timer_start(l, 8, record_cb, &tags[4]);
	CHECK_EQ_INT(loop_timer_count(l), 5);
	run_for(l, 12);
	CHECK_EQ_INT(rec.n, 5);
	for (int i = 0; i < rec.n; i++)
		CHECK_EQ_INT(rec.fired[i], i + 1);
	CHECK_EQ_INT(loop_timer_count(l), 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

struct many {
	struct record rec;
	struct tag tags[500];
	int delay[500];
};

/* Started from one callback so every timer shares the same base time and
 * the expected order is exactly (delay, start order). */
static int64_t start_many_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	struct many *m = ud;

	(void)t;
	for (int i = 0; i < 500; i++) {
		m->tags[i].rec = &m->rec;
		m->tags[i].id = i;
		m->delay[i] = rand() % 15;
		CHECK(loop_timer_start(l, (uint64_t)m->delay[i], record_cb, &m->tags[i]) != NULL);
	}
	return LOOP_TIMER_STOP;
}

static void test_heap_random(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct many *m = calloc(1, sizeof(*m));

	srand(12345);
	m->rec.want = 500;
	loop_timer_start(l, 0, start_many_cb, m);
	run_until_stopped(l);
	CHECK_EQ_INT(m->rec.n, 500);
	for (int i = 1; i < m->rec.n; i++) {
		int a = m->rec.fired[i - 1], b = m->rec.fired[i];

		CHECK(m->delay[a] < m->delay[b] || (m->delay[a] == m->delay[b] && a < b));
	}
	CHECK_EQ_INT(loop_timer_count(l), 0);
	free(m);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static int self_cancel_runs;

static int64_t cancel_self_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)ud;
	self_cancel_runs++;
	loop_timer_cancel(l, t);
	loop_timer_cancel(l, t);     /* twice is harmless while running */
	return 1;                    /* ignored: the timer is cancelled */
}

static void test_cancel_self(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();

	self_cancel_runs = 0;
	loop_timer_start(l, 1, cancel_self_cb, NULL);
	run_for(l, 6);
	CHECK_EQ_INT(self_cancel_runs, 1);
	CHECK_EQ_INT(loop_timer_count(l), 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

struct victim {
	struct loop_timer *t;
	struct record rec;
};

static int64_t cancel_other_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	struct victim *v = ud;

	(void)t;
	loop_timer_cancel(l, v->t);
	v->t = NULL;
	return LOOP_TIMER_STOP;
}

static void test_cancel_other(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct victim v = { .t = NULL };
	struct tag later = { &v.rec, 1 }, same = { &v.rec, 2 };
	struct victim v2 = { .t = NULL };

	/* the victim is due in the same timer pass, right behind the killer */
	loop_timer_start(l, 2, cancel_other_cb, &v);
	v.t = loop_timer_start(l, 2, record_cb, &same);
	/* and one due later */
	loop_timer_start(l, 1, cancel_other_cb, &v2);
	v2.t = loop_timer_start(l, 5, record_cb, &later);
	CHECK_EQ_INT(loop_timer_count(l), 4);
	run_for(l, 8);
	CHECK_EQ_INT(v.rec.n, 0);
	CHECK(v.t == NULL && v2.t == NULL);
	CHECK_EQ_INT(loop_timer_count(l), 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_cancel_pending_outside(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct record rec = { .n = 0 };
	struct tag tag = { &rec, 1 };
	struct loop_timer *t[3];

	for (int i = 0; i < 3; i++)
		t[i] = loop_timer_start(l, (uint64_t)i + 1, record_cb, &tag);
	loop_timer_cancel(l, t[1]);
	loop_timer_cancel(l, t[0]);
	CHECK_EQ_INT(loop_timer_count(l), 1);
	run_for(l, 5);
	CHECK_EQ_INT(rec.n, 1);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static int64_t rearm_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	int *runs = ud;

	(void)t;
	if (++*runs < 4)
		return 1;
	loop_stop(l);
	return LOOP_TIMER_STOP;
}

static void test_rearm_by_return(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	int runs = 0;

	loop_timer_start(l, 1, rearm_cb, &runs);
	run_until_stopped(l);
	CHECK_EQ_INT(runs, 4);
	CHECK_EQ_INT(loop_timer_count(l), 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* Each run starts a fresh delay-0 timer: without the per-pass bound this
 * would run forever inside one iteration. */
static int64_t chain_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	int *runs = ud;

	(void)t;
	if (++*runs < 1000)
		loop_timer_start(l, 0, chain_cb, runs);
	return LOOP_TIMER_STOP;
}

/* Re-arming with 0 forever must not starve anything either. */
static int64_t spin_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	int *runs = ud;

	(void)l;
	(void)t;
	++*runs;
	return 0;
}

static void test_start_in_callback(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	int chain = 0, spin = 0;
	struct loop_timer *s;

	loop_timer_start(l, 0, chain_cb, &chain);
	s = loop_timer_start(l, 0, spin_cb, &spin);
	for (int i = 1; i <= 3; i++) {
		CHECK_EQ_INT(loop_run_once(l, 0), 2);
		CHECK_EQ_INT(chain, i);
		CHECK_EQ_INT(spin, i);
	}
	CHECK_EQ_INT(loop_timer_count(l), 2);
	loop_timer_cancel(l, s);
	loop_free(l);          /* drops the pending chain timer */
	CHECK_EQ_INT(xalloc_live(), live);
}

struct resetter {
	int runs;
	uint64_t at[3];
};

static int64_t reset_self_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	struct resetter *r = ud;

	r->at[r->runs++] = loop_now(l);
	if (r->runs == 1)
		loop_timer_reset(l, t, 3);   /* wins over the STOP below */
	return LOOP_TIMER_STOP;
}

static void test_reset(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct record rec = { .n = 0 };
	struct tag a = { &rec, 1 }, b = { &rec, 2 };
	struct loop_timer *ta;
	struct resetter r = { .runs = 0 };

	ta = loop_timer_start(l, 1, record_cb, &a);
	loop_timer_start(l, 3, record_cb, &b);
	loop_timer_reset(l, ta, 6);        /* now due after b */
	loop_timer_start(l, 1, reset_self_cb, &r);
	for (int i = 0; i < 200 && loop_timer_count(l) > 0; i++)
		loop_run_once(l, 10);
	CHECK_EQ_INT(rec.n, 2);
	CHECK_EQ_INT(rec.fired[0], 2);
	CHECK_EQ_INT(rec.fired[1], 1);
	CHECK_EQ_INT(r.runs, 2);
	CHECK(r.at[1] >= r.at[0] + 3);
	CHECK_EQ_INT(loop_timer_count(l), 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_timer_oom(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct record rec = { .n = 0 };
	struct tag tag = { &rec, 1 };
	int ok = 0;

	/* Fail somewhere in the middle of heap growth: no leak, no crash. */
	xalloc_fail_after(3);
	for (int i = 0; i < 100; i++)
		ok += loop_timer_start(l, 1, record_cb, &tag) != NULL;
	xalloc_fail_after(-1);
	CHECK(ok < 100);
	CHECK_EQ_INT(loop_timer_count(l), ok);
	run_for(l, 3);
	CHECK_EQ_INT(rec.n, ok);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);

	xalloc_fail_after(0);
	CHECK(loop_new() == NULL);
	xalloc_fail_after(-1);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* ---- fd watchers ---- */

struct io {
	int calls;
	int events;
	char data[16];
	ssize_t got;
	int other;          /* fd to close from the callback, or -1 */
	int fresh[2];       /* pipe opened to take the closed fd's number */
};

static void read_cb(struct loop *l, int fd, int events, void *ud)
{
	struct io *io = ud;

	(void)l;
	io->calls++;
	io->events |= events;
	io->got = read(fd, io->data, sizeof(io->data));
}

static void test_fd_read(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct io io = { .calls = 0 };
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_EQ_INT(loop_watch(l, sv[0], LOOP_READ, read_cb, &io), 0);
	CHECK_EQ_INT(loop_run_once(l, 0), 0);
	CHECK_EQ_INT(write(sv[1], "ping", 4), 4);
	CHECK_EQ_INT(loop_run_once(l, 50), 1);
	CHECK_EQ_INT(io.calls, 1);
	CHECK_EQ_INT(io.events, LOOP_READ);
	CHECK_EQ_INT(io.got, 4);
	CHECK_MEM(io.data, "ping", 4);
	/* EOF arrives as a read event too */
	close(sv[1]);
	loop_run_once(l, 50);
	CHECK(io.events & LOOP_READ);
	CHECK_EQ_INT(io.got, 0);
	loop_unwatch(l, sv[0]);
	close(sv[0]);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void write_cb(struct loop *l, int fd, int events, void *ud)
{
	struct io *io = ud;

	io->calls++;
	io->events |= events;
	CHECK_EQ_INT(write(fd, "x", 1), 1);
	/* Stop asking for writability once written, keep the registration. */
	CHECK_EQ_INT(loop_watch(l, fd, 0, write_cb, ud), 0);
}

static void test_fd_write_and_mask_zero(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct io io = { .calls = 0 }, rd = { .calls = 0 };
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_EQ_INT(loop_watch(l, sv[0], LOOP_WRITE, write_cb, &io), 0);
	loop_run_once(l, 50);
	loop_run_once(l, 0);
	CHECK_EQ_INT(io.calls, 1);
	CHECK_EQ_INT(io.events, LOOP_WRITE);
	/* mask 0 on a readable, even hung-up, fd delivers nothing */
	CHECK_EQ_INT(loop_watch(l, sv[1], 0, read_cb, &rd), 0);
	close(sv[0]);
	CHECK_EQ_INT(loop_run_once(l, 0), 0);
	CHECK_EQ_INT(rd.calls, 0);
	CHECK_EQ_INT(loop_watch(l, sv[1], LOOP_READ, read_cb, &rd), 0);
	loop_run_once(l, 50);
	CHECK_EQ_INT(rd.calls, 1);
	CHECK_EQ_INT(rd.got, 1);
	loop_unwatch(l, sv[1]);
	close(sv[1]);
	CHECK(loop_watch(l, -1, LOOP_READ, read_cb, &rd) == -EBADF);
	CHECK(loop_watch(l, 0, 8, read_cb, &rd) == -EINVAL);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void hup_cb(struct loop *l, int fd, int events, void *ud)
{
	struct io *io = ud;

	io->calls++;
	io->events |= events;
	io->got = read(fd, io->data, sizeof(io->data));
	loop_unwatch(l, fd);
	close(fd);
}

static void test_hangup_is_error_and_read(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct io io = { .calls = 0 };
	int p[2];

	CHECK(pipe(p) == 0);
	CHECK_EQ_INT(loop_watch(l, p[0], LOOP_READ, hup_cb, &io), 0);
	close(p[1]);
	loop_run_once(l, 50);
	loop_run_once(l, 0);      /* closed its own fd: nothing more */
	CHECK_EQ_INT(io.calls, 1);
	CHECK_EQ_INT(io.events, LOOP_READ | LOOP_ERROR);
	CHECK_EQ_INT(io.got, 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void close_self_cb(struct loop *l, int fd, int events, void *ud)
{
	struct io *io = ud;

	(void)events;
	io->calls++;
	loop_unwatch(l, fd);
	close(fd);
}

static void test_unwatch_close_self(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct io io = { .calls = 0 };
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_EQ_INT(loop_watch(l, sv[0], LOOP_READ | LOOP_WRITE, close_self_cb, &io), 0);
	CHECK_EQ_INT(write(sv[1], "abc", 3), 3);
	loop_run_once(l, 50);
	loop_run_once(l, 0);
	CHECK_EQ_INT(io.calls, 1);
	close(sv[1]);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* Whichever of the two fires first closes the other and opens a pipe that
 * is likely to reuse its number; the other's event, already in the batch,
 * must reach neither the old watcher nor the new one. */
static void fresh_cb(struct loop *l, int fd, int events, void *ud)
{
	struct io *io = ud;

	(void)l;
	(void)fd;
	(void)events;
	io->calls += 100;
}

static void kill_other_cb(struct loop *l, int fd, int events, void *ud)
{
	struct io *io = ud;

	(void)events;
	io->calls++;
	io->got = read(fd, io->data, sizeof(io->data));
	if (io->other < 0)
		return;
	loop_unwatch(l, io->other);
	close(io->other);
	CHECK(pipe(io->fresh) == 0);
	CHECK_EQ_INT(loop_watch(l, io->fresh[0], LOOP_READ, fresh_cb, io), 0);
	io->other = -1;
}

static void test_stale_event_after_close(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct io ia = { .fresh = { -1, -1 } }, ib = { .fresh = { -1, -1 } };
	struct io *first;
	int a[2], b[2], survivor;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
	ia.other = b[0];
	ib.other = a[0];
	/* Both readable before the wait, so both events arrive in one batch. */
	CHECK_EQ_INT(write(a[1], "a", 1), 1);
	CHECK_EQ_INT(write(b[1], "b", 1), 1);
	CHECK_EQ_INT(loop_watch(l, a[0], LOOP_READ, kill_other_cb, &ia), 0);
	CHECK_EQ_INT(loop_watch(l, b[0], LOOP_READ, kill_other_cb, &ib), 0);
	CHECK_EQ_INT(loop_run_once(l, 50), 1);
	CHECK_EQ_INT(ia.calls + ib.calls, 1);
	first = ia.calls ? &ia : &ib;
	survivor = ia.calls ? a[0] : b[0];
	CHECK(first->fresh[0] >= 0);
	loop_run_once(l, 0);
	CHECK_EQ_INT(ia.calls + ib.calls, 1);
	loop_unwatch(l, survivor);
	loop_unwatch(l, first->fresh[0]);
	close(survivor);
	close(first->fresh[0]);
	close(first->fresh[1]);
	close(a[1]);
	close(b[1]);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* ---- hooks, stop, signals ---- */

struct trace {
	char s[32];
	int n;
};

static void hook_cb(struct loop *l, void *ud)
{
	struct trace *tr = ud;

	(void)l;
	if (tr->n < 31)
		tr->s[tr->n++] = 'h';
}

static void hook_once_cb(struct loop *l, void *ud)
{
	struct trace *tr = ud;

	if (tr->n < 31)
		tr->s[tr->n++] = 'o';
	loop_hook_remove(l, hook_once_cb, ud);
}

static int64_t trace_timer_cb(struct loop *l, struct loop_timer *t, void *ud)
{
	struct trace *tr = ud;

	(void)l;
	(void)t;
	if (tr->n < 31)
		tr->s[tr->n++] = 't';
	return LOOP_TIMER_STOP;
}

static void test_hooks_before_sleep(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	struct trace tr = { .n = 0 };

	CHECK_EQ_INT(loop_hook_add(l, hook_once_cb, &tr), 0);
	CHECK_EQ_INT(loop_hook_add(l, hook_cb, &tr), 0);
	loop_timer_start(l, 1, trace_timer_cb, &tr);
	loop_run_once(l, 50);      /* hooks, sleep, timer */
	loop_run_once(l, 0);       /* hooks only, the once-hook is gone */
	CHECK_EQ_INT(tr.n, 4);
	CHECK_MEM(tr.s, "ohth", 4);
	loop_hook_remove(l, hook_cb, &tr);
	loop_run_once(l, 0);
	CHECK_EQ_INT(tr.n, 4);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void test_loop_stop(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	uint64_t t0 = loop_now_fresh(l);

	loop_timer_start(l, 2, stop_cb, NULL);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(loop_now(l) >= t0 + 2);
	CHECK(loop_now(l) < t0 + 5000);    /* it ends: a guard, not a timing claim */
	/* run_once honours its timeout when nothing is pending */
	t0 = loop_clock_ns();
	CHECK_EQ_INT(loop_run_once(l, 3), 0);
	CHECK(loop_clock_ns() - t0 >= 2000000);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

static void signal_cb(struct loop *l, int signo, void *ud)
{
	int *got = ud;

	(void)l;
	*got = signo;
}

static void test_signal(void)
{
	long live = xalloc_live();
	struct loop *l = loop_new();
	int got = 0;

	CHECK_EQ_INT(loop_signal(l, SIGUSR1, signal_cb, &got), 0);
	CHECK(loop_signal(l, SIGKILL, signal_cb, &got) == -EINVAL);
	raise(SIGUSR1);            /* blocked: waits in the signalfd */
	CHECK_EQ_INT(got, 0);
	loop_run_once(l, 50);
	CHECK_EQ_INT(got, SIGUSR1);
	CHECK_EQ_INT(loop_signal(l, SIGUSR1, NULL, NULL), 0);
	loop_free(l);
	CHECK_EQ_INT(xalloc_live(), live);
}

/* A watched signal still pending when the loop is freed (SIGTERM again
 * while stopping) is taken, not delivered with its default action: this
 * process would die here with SIGUSR1's (termination) otherwise. */
static void test_pending_signal_at_free(void)
{
	struct loop *l = loop_new();
	int got = 0;
	sigset_t set;

	CHECK_EQ_INT(loop_signal(l, SIGUSR1, signal_cb, &got), 0);
	raise(SIGUSR1);
	loop_free(l);
	CHECK_EQ_INT(got, 0);
	sigpending(&set);
	CHECK(!sigismember(&set, SIGUSR1));
}

/* A stop asked for before the run is not lost, and is spent by it. */
static void test_stop_before_run(void)
{
	struct loop *l = loop_new();
	loop_stop(l);
	CHECK_EQ_INT(loop_run(l), 0);       /* returns at once instead of hanging */
	CHECK_EQ_INT(loop_run_once(l, 0), 0);
	loop_free(l);
}

static void nop_io(struct loop *l, int fd, int events, void *ud)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)ud;
}

/* Unref'd timers and fds (the agent's own: reload watcher, watchdog) do
 * not count in loop_ref_count; cancelling, a timer's end and unwatching
 * take them out of both counts. */
static void test_unref(void)
{
	struct loop *l = loop_new();
	int p[2];
	CHECK(l != NULL && pipe(p) == 0);
	struct loop_timer *a = loop_timer_start(l, 10000, stop_cb, NULL);
	struct loop_timer *b = loop_timer_start(l, 10000, stop_cb, NULL);
	CHECK_EQ_INT(loop_ref_count(l), 2);
	loop_timer_unref(l, a);
	loop_timer_unref(l, a);             /* idempotent */
	CHECK_EQ_INT(loop_ref_count(l), 1);
	CHECK_EQ_INT(loop_timer_count(l), 2);
	CHECK_EQ_INT(loop_watch(l, p[0], LOOP_READ, nop_io, NULL), 0);
	CHECK_EQ_INT(loop_ref_count(l), 2);
	loop_watch_unref(l, p[0]);
	CHECK_EQ_INT(loop_ref_count(l), 1);
	CHECK_EQ_INT(loop_watch(l, p[0], LOOP_READ | LOOP_WRITE, nop_io, NULL), 0);
	CHECK_EQ_INT(loop_ref_count(l), 1); /* a new mask keeps it unref'd */
	loop_unwatch(l, p[0]);
	CHECK_EQ_INT(loop_watch(l, p[0], LOOP_READ, nop_io, NULL), 0);
	CHECK_EQ_INT(loop_ref_count(l), 2); /* a new watch counts again */
	loop_unwatch(l, p[0]);
	loop_timer_cancel(l, a);
	CHECK_EQ_INT(loop_ref_count(l), 1);
	loop_timer_unref(l, b);
	CHECK_EQ_INT(loop_ref_count(l), 0);
	loop_timer_reset(l, b, 0);          /* it ends by returning STOP */
	loop_run(l);
	CHECK_EQ_INT(loop_timer_count(l), 0);
	CHECK_EQ_INT(loop_ref_count(l), 0);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

int main(void)
{
	RUN(test_timers_in_order);
	RUN(test_heap_random);
	RUN(test_cancel_self);
	RUN(test_cancel_other);
	RUN(test_cancel_pending_outside);
	RUN(test_rearm_by_return);
	RUN(test_start_in_callback);
	RUN(test_reset);
	RUN(test_timer_oom);
	RUN(test_fd_read);
	RUN(test_fd_write_and_mask_zero);
	RUN(test_hangup_is_error_and_read);
	RUN(test_unwatch_close_self);
	RUN(test_stale_event_after_close);
	RUN(test_hooks_before_sleep);
	RUN(test_loop_stop);
	RUN(test_stop_before_run);
	RUN(test_signal);
	RUN(test_pending_signal_at_free);
	RUN(test_unref);
	return test_report("loop");
}
