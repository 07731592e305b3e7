/*
 * loop.c - the event loop (see loop.h). One iteration is, as in Redis ae.c:
 * before-sleep hooks, epoll_wait bounded by the nearest timer, fd callbacks,
 * then expired timers.
 *
 * Lifetimes. fd watchers live in a table indexed by fd; every registration
 * with epoll gets a fresh generation number that travels in the epoll event,
 * so an event for an fd unwatched (or closed and reused) earlier in the same
 * batch is recognised as stale and dropped. Timers are popped from the heap
 * before their callback runs, so cancelling or re-arming from any callback
 * only touches the heap; a timer whose own callback is running is freed by
 * the dispatcher after the callback returns.
 */
#include "loop.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 64
#define LOOP_ERROR_BACKOFF_MS 100
#define TIMER_NOT_QUEUED ((size_t)-1)

struct loop_fd {
	loop_io_fn *fn;
	void *ud;
	int mask;
	uint32_t gen;        /* generation of the current epoll registration */
	unsigned char active;
	unsigned char in_epoll;
	unsigned char unref;  /* loop_watch_unref: does not keep the loop alive */
};

struct loop_timer {
	uint64_t due;        /* ms, CLOCK_MONOTONIC */
	uint64_t seq;        /* start order: breaks ties, bounds one pass */
	loop_timer_fn *fn;
	void *ud;
	size_t idx;          /* heap slot or TIMER_NOT_QUEUED */
	unsigned char running;
	unsigned char cancelled;
	unsigned char unref;  /* loop_timer_unref: does not keep the loop alive */
};

struct loop_hook {
	loop_hook_fn *fn;    /* NULL: removed while hooks were running */
	void *ud;
};

struct loop_sig {
	loop_signal_fn *fn;
	void *ud;
};

struct loop {
	int epfd;
	int stop;
	int running;         /* inside loop_run: stop means do not sleep */
	uint64_t now;
	int in_dispatch;     /* inside callbacks: timers count from now */

	struct loop_fd *fds;
	int nfds;            /* table size, not the number watched */
	uint32_t next_gen;

	struct loop_timer **heap;
	size_t heap_len, heap_cap;
	uint64_t next_seq;
	unsigned ntimers;
	unsigned unref_timers, unref_fds;   /* of ntimers / nwatched */
	size_t popped;       /* 1 while a timer callback runs: its slot is kept */

	struct loop_hook *hooks;
	size_t nhooks, hooks_cap;
	int hooks_running;

	unsigned nwatched;   /* active fd watchers, the signalfd included */
	int sigfd;
	sigset_t sigmask;
	struct loop_sig sigs[NSIG];

	struct epoll_event events[LOOP_MAX_EVENTS];
};

/* ---- clock ---- */

uint64_t loop_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t loop_now(struct loop *l)
{
	return l->now;
}

uint64_t loop_now_fresh(struct loop *l)
{
	l->now = loop_clock_ns() / 1000000u;
	return l->now;
}

/* ---- lifecycle ---- */

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		log_error("loop: epoll_create1: %s", strerror(errno));
		xfree(l);
		return NULL;
	}
	l->sigfd = -1;
	l->next_gen = 1;
	sigemptyset(&l->sigmask);
	loop_now_fresh(l);
	return l;
}

/* A watched signal still pending (a second SIGTERM while the agent was
 * already stopping) is taken first: unblocked, its default action would
 * kill the process on its way out, with status 143 instead of its own. */
static void unblock_signals(struct loop *l)
{
	const struct timespec now = { 0, 0 };
	int s;

	for (s = 1; s < NSIG; s++) {
		if (l->sigs[s].fn) {
			sigset_t one;

			sigemptyset(&one);
			sigaddset(&one, s);
			while (sigtimedwait(&one, NULL, &now) == s)
				;
			sigprocmask(SIG_UNBLOCK, &one, NULL);
		}
	}
}

void loop_free(struct loop *l)
{
	size_t i;

	if (!l)
		return;
	unblock_signals(l);
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	for (i = 0; i < l->heap_len; i++)
		xfree(l->heap[i]);
	xfree(l->heap);
	xfree(l->fds);
	xfree(l->hooks);
	xfree(l);
}

/* ---- fd watchers ---- */

/* Grow the table to cover fd; new slots are inactive. */
static int fds_cover(struct loop *l, int fd)
{
	struct loop_fd *p;
	int n = l->nfds ? l->nfds : 64;

	if (fd < l->nfds)
		return 0;
	while (n <= fd)
		n = n > INT_MAX / 2 ? fd + 1 : n * 2;
	p = xrealloc(l->fds, (size_t)n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*p));
	l->fds = p;
	l->nfds = n;
	return 0;
}

static uint32_t epoll_mask(int mask)
{
	return ((mask & LOOP_READ) ? EPOLLIN : 0) | ((mask & LOOP_WRITE) ? EPOLLOUT : 0);
}

static int epoll_add(struct loop *l, int fd, struct loop_fd *w, int mask)
{
	struct epoll_event ev = { .events = epoll_mask(mask) };
	uint32_t gen = l->next_gen++;

	ev.data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->gen = gen;
	w->in_epoll = 1;
	return 0;
}

static int epoll_mod(struct loop *l, int fd, struct loop_fd *w, int mask)
{
	struct epoll_event ev = { .events = epoll_mask(mask) };

	ev.data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void epoll_del(struct loop *l, int fd, struct loop_fd *w)
{
	/* EBADF/ENOENT mean the fd was closed first and epoll already forgot
	 * it: the state we want anyway. */
	if (w->in_epoll)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->in_epoll = 0;
}

/* Register mask with epoll. mask 0 leaves epoll entirely: epoll reports
 * EPOLLHUP even for an empty mask, which would spin the loop. */
static int epoll_sync(struct loop *l, int fd, struct loop_fd *w, int mask)
{
	int r;

	if (!mask) {
		epoll_del(l, fd, w);
		return 0;
	}
	if (!w->in_epoll)
		return epoll_add(l, fd, w, mask);
	r = epoll_mod(l, fd, w, mask);
	if (r == -ENOENT) {
		/* The caller closed the fd without unwatching and this is a
		 * new file with the same number. */
		w->in_epoll = 0;
		r = epoll_add(l, fd, w, mask);
	}
	return r;
}

int loop_watch(struct loop *l, int fd, int mask, loop_io_fn *fn, void *ud)
{
	struct loop_fd *w;
	int r;

	if (fd < 0)
		return -EBADF;
	if (!fn || (mask & ~(LOOP_READ | LOOP_WRITE)))
		return -EINVAL;
	r = fds_cover(l, fd);
	if (r < 0)
		return r;
	w = &l->fds[fd];
	if (!w->active)
		w->in_epoll = 0;
	r = epoll_sync(l, fd, w, mask);
	if (r < 0)
		return r;
	w->fn = fn;
	w->ud = ud;
	w->mask = mask;
	l->nwatched += !w->active;
	w->active = 1;
	return 0;
}

void loop_unwatch(struct loop *l, int fd)
{
	struct loop_fd *w;

	if (fd < 0 || fd >= l->nfds || !l->fds[fd].active)
		return;
	w = &l->fds[fd];
	epoll_del(l, fd, w);
	l->unref_fds -= w->unref;
	memset(w, 0, sizeof(*w));
	l->nwatched--;
}

void loop_watch_unref(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].active || l->fds[fd].unref)
		return;
	l->fds[fd].unref = 1;
	l->unref_fds++;
}

unsigned loop_watch_count(const struct loop *l)
{
	return l->nwatched - (l->sigfd >= 0 && l->sigfd < l->nfds && l->fds[l->sigfd].active);
}

/* epoll bits to LOOP_* for what the watcher asked. Hang-up and error are
 * reported with the requested directions so the reader reads EOF and the
 * writer gets the error from write(). */
static int loop_events(uint32_t ev, int mask)
{
	int events = 0;

	if ((ev & EPOLLIN) && (mask & LOOP_READ))
		events |= LOOP_READ;
	if ((ev & EPOLLOUT) && (mask & LOOP_WRITE))
		events |= LOOP_WRITE;
	if (ev & (EPOLLHUP | EPOLLERR))
		events |= LOOP_ERROR | (mask & (LOOP_READ | LOOP_WRITE));
	return events;
}

/* Callbacks may unwatch, close, re-watch or grow the table: re-read the slot
 * for every event and never hold a pointer across a callback. */
static int dispatch_fds(struct loop *l, int n)
{
	int i, ran = 0;

	for (i = 0; i < n; i++) {
		int fd = (int)(uint32_t)l->events[i].data.u64;
		uint32_t gen = (uint32_t)(l->events[i].data.u64 >> 32);
		struct loop_fd *w;
		int events;

		if (fd >= l->nfds)
			continue;
		w = &l->fds[fd];
		if (!w->active || !w->in_epoll || w->gen != gen)
			continue;
		events = loop_events(l->events[i].events, w->mask);
		if (!events)
			continue;
		w->fn(l, fd, events, w->ud);
		ran++;
	}
	return ran;
}

/* ---- timer heap, ordered by (due, seq) ---- */

static int timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->heap_len)
			break;
		if (c + 1 < l->heap_len && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

/* Keep room for every queued timer, the new one, and the running one (which
 * its dispatcher puts back after the callback), so pushing never fails. */
static int heap_reserve(struct loop *l)
{
	struct loop_timer **p;
	size_t cap;

	if (l->heap_len + l->popped < l->heap_cap)
		return 0;
	cap = l->heap_cap ? l->heap_cap * 2 : 16;
	p = xrealloc(l->heap, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->heap = p;
	l->heap_cap = cap;
	return 0;
}

/* The slot was reserved beforehand (see heap_reserve). */
static void heap_push(struct loop *l, struct loop_timer *t)
{
	heap_set(l, l->heap_len++, t);
	heap_up(l, t->idx);
}

static void heap_remove(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;
	struct loop_timer *last;

	if (i == TIMER_NOT_QUEUED)
		return;
	t->idx = TIMER_NOT_QUEUED;
	last = l->heap[--l->heap_len];
	if (last == t)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->idx);
}

/* Inside callbacks the delay counts from the iteration's cached time (as in
 * libuv); outside, from the clock, so a timer started after slow start-up
 * work does not fire early. */
static void timer_schedule(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	uint64_t base = l->in_dispatch ? l->now : loop_now_fresh(l);

	t->due = delay_ms > UINT64_MAX - base ? UINT64_MAX : base + delay_ms;
	t->seq = l->next_seq++;
	heap_push(l, t);
}

/* ---- timers ---- */

struct loop_timer *loop_timer_start(struct loop *l, uint64_t delay_ms,
	loop_timer_fn *fn, void *ud)
{
	struct loop_timer *t;

	if (!fn || heap_reserve(l) < 0)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fn = fn;
	t->ud = ud;
	timer_schedule(l, t, delay_ms);
	l->ntimers++;
	return t;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	if (!t || t->cancelled)
		return;
	heap_remove(l, t);
	l->ntimers--;
	l->unref_timers -= t->unref;
	if (t->running)
		t->cancelled = 1;    /* run_timer frees it after the callback */
	else
		xfree(t);
}

void loop_timer_reset(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	if (!t || t->cancelled)
		return;
	/* A pending timer goes back into its own slot, a running one into the
	 * slot kept for it: no allocation, so reset cannot fail. */
	heap_remove(l, t);
	timer_schedule(l, t, delay_ms);
}

unsigned loop_timer_count(const struct loop *l)
{
	return l->ntimers;
}

void loop_timer_unref(struct loop *l, struct loop_timer *t)
{
	if (!t || t->cancelled || t->unref)
		return;
	t->unref = 1;
	l->unref_timers++;
}

unsigned loop_ref_count(const struct loop *l)
{
	return loop_timer_count(l) - l->unref_timers + loop_watch_count(l) - l->unref_fds;
}

/* Run one popped timer and decide its fate: cancelled inside the callback
 * wins, then a loop_timer_reset from inside it, then the return value. */
static void run_timer(struct loop *l, struct loop_timer *t)
{
	int64_t next;

	t->running = 1;
	l->popped = 1;
	next = t->fn(l, t, t->ud);
	l->popped = 0;
	t->running = 0;
	if (t->cancelled) {
		xfree(t);
		return;
	}
	if (t->idx != TIMER_NOT_QUEUED)
		return;
	if (next < 0) {
		l->ntimers--;
		l->unref_timers -= t->unref;
		xfree(t);
		return;
	}
	timer_schedule(l, t, (uint64_t)next);
}

/* Timers started or re-armed during this pass get a seq at or past limit:
 * they wait for the next iteration even with delay 0, so a timer that keeps
 * re-arming itself cannot starve fd events. */
static int run_timers(struct loop *l)
{
	uint64_t limit = l->next_seq;
	int ran = 0;

	loop_now_fresh(l);
	while (l->heap_len > 0) {
		struct loop_timer *t = l->heap[0];

		if (t->due > l->now || t->seq >= limit)
			break;
		heap_remove(l, t);
		run_timer(l, t);
		ran++;
	}
	return ran;
}

/* ---- hooks ---- */

int loop_hook_add(struct loop *l, loop_hook_fn *fn, void *ud)
{
	if (!fn)
		return -EINVAL;
	if (l->nhooks == l->hooks_cap) {
		size_t cap = l->hooks_cap ? l->hooks_cap * 2 : 4;
		struct loop_hook *p = xrealloc(l->hooks, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->hooks = p;
		l->hooks_cap = cap;
	}
	l->hooks[l->nhooks].fn = fn;
	l->hooks[l->nhooks].ud = ud;
	l->nhooks++;
	return 0;
}

static void hooks_compact(struct loop *l)
{
	size_t i, j = 0;

	for (i = 0; i < l->nhooks; i++)
		if (l->hooks[i].fn)
			l->hooks[j++] = l->hooks[i];
	l->nhooks = j;
}

/* While hooks run, removal only blanks the entry so the running index
 * stays valid; the array is compacted afterwards. */
void loop_hook_remove(struct loop *l, loop_hook_fn *fn, void *ud)
{
	size_t i;

	for (i = 0; i < l->nhooks; i++) {
		if (l->hooks[i].fn == fn && l->hooks[i].ud == ud) {
			l->hooks[i].fn = NULL;
			break;
		}
	}
	if (!l->hooks_running)
		hooks_compact(l);
}

/* Hooks added by a hook run from the next sleep on. */
static void run_hooks(struct loop *l)
{
	size_t i, n = l->nhooks;

	l->hooks_running = 1;
	for (i = 0; i < n; i++)
		if (l->hooks[i].fn)
			l->hooks[i].fn(l, l->hooks[i].ud);
	l->hooks_running = 0;
	hooks_compact(l);
}

/* ---- signals ---- */

static void signal_readable(struct loop *l, int fd, int events, void *ud)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)ud;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int s = (int)si.ssi_signo;

		if (s > 0 && s < NSIG && l->sigs[s].fn)
			l->sigs[s].fn(l, s, l->sigs[s].ud);
	}
}

/* One signalfd per loop; its mask is replaced in place as signals come
 * and go. */
static int sigfd_update(struct loop *l)
{
	int fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	if (l->sigfd >= 0)
		return 0;
	r = loop_watch(l, fd, LOOP_READ, signal_readable, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	l->sigfd = fd;
	return 0;
}

int loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *ud)
{
	sigset_t one;
	int r;

	if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (fn) {
		sigaddset(&l->sigmask, signo);
		r = sigfd_update(l);
		if (r < 0) {
			if (!l->sigs[signo].fn)
				sigdelset(&l->sigmask, signo);
			return r;
		}
		/* Block only once the signalfd can take it, or it would be lost. */
		sigprocmask(SIG_BLOCK, &one, NULL);
	} else {
		if (!l->sigs[signo].fn)
			return 0;
		sigdelset(&l->sigmask, signo);
		sigfd_update(l);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
	}
	l->sigs[signo].fn = fn;
	l->sigs[signo].ud = ud;
	return 0;
}

/* ---- running ---- */

/* Milliseconds until the nearest timer, clipped to the caller's timeout. */
static int wait_timeout(struct loop *l, int timeout_ms)
{
	uint64_t now, wait;

	if (l->running && l->stop)
		return 0;
	if (l->heap_len == 0)
		return timeout_ms;
	now = loop_now_fresh(l);
	wait = l->heap[0]->due > now ? l->heap[0]->due - now : 0;
	if (wait > INT_MAX)
		wait = INT_MAX;
	if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait)
		return timeout_ms;
	return (int)wait;
}

/* A failing epoll_wait (EBADF after a stray close, ENOMEM) must not take the
 * agent down or spin a core: log it and pause before trying again. */
static void poll_failed(int err)
{
	struct timespec ts = { 0, LOOP_ERROR_BACKOFF_MS * 1000000L };

	log_error("loop: epoll_wait: %s; retrying in %d ms", strerror(err),
		LOOP_ERROR_BACKOFF_MS);
	nanosleep(&ts, NULL);
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	int n, ran = 0;

	l->in_dispatch = 1;
	run_hooks(l);
	l->in_dispatch = 0;
	n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, wait_timeout(l, timeout_ms));
	loop_now_fresh(l);
	l->in_dispatch = 1;
	if (n < 0) {
		if (errno != EINTR)
			poll_failed(errno);
		n = 0;
	}
	ran += dispatch_fds(l, n);
	ran += run_timers(l);
	l->in_dispatch = 0;
	return ran;
}

int loop_run(struct loop *l)
{
	/* A stop asked for before the run still counts; it is spent on return. */
	l->running = 1;
	while (!l->stop)
		loop_run_once(l, -1);
	l->running = 0;
	l->stop = 0;
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}
