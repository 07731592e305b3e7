/*
 * lreload.c - reload triggers, the health window, rollback, the last good
 * copy, the crash counter and safe mode (see lreload.h). The reload itself
 * (new state, clients kept) is host_reload() in host.c.
 *
 * Every reload runs from a loop timer, never from inside a handler: an
 * error report (lreload_error) may come from deep inside lmqtt's event
 * dispatch, where the old state must not be closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "lreload.h"
#include "notify.h"

static struct {
	struct host *h;
	struct loop *l;
	const struct lia_args *a;
	char origin[PATH_MAX];      /* the user's main script */
	char running[PATH_MAX];     /* what runs: origin, the good copy's main, "" */
	char dir[PATH_MAX];         /* origin's folder (watched), with a final '/' */
	char state[PATH_MAX / 2];   /* DATA/scripts/<hash>; "" without a data dir */
	struct timespec config_mtime;
	int ifd;
	struct loop_timer *pending, *health, *dog;
	uint64_t asked_ns;
	const char *why;
	unsigned errors;
	bool probation, safe, rollback_due;
	lreload_status_fn *status_fn;
	void *status_ud;
} rl = { .ifd = -1 };

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lreload_on_status(lreload_status_fn *fn, void *ud)
{
	rl.status_fn = fn;
	rl.status_ud = ud;
}

static void status(const char *state, const char *detail)
{
	char line[PATH_MAX + 64];
	snprintf(line, sizeof line, "%s: %s", state, detail);
	notify_status(line);
	if (rl.status_fn)
		rl.status_fn(state, detail, rl.status_ud);
}

/* ---- the per-script state directory ---- */

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", rl.state, name);
}

static unsigned read_crashes(void)
{
	char p[PATH_MAX + 16];
	unsigned n = 0;
	if (!rl.state[0])
		return 0;
	path_in(p, sizeof p, "crashes");
	FILE *f = fopen(p, "r");
	if (f) {
		if (fscanf(f, "%u", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static void write_crashes(unsigned n)
{
	char p[PATH_MAX + 16], tmp[PATH_MAX + 32];
	if (!rl.state[0])
		return;
	path_in(p, sizeof p, "crashes");
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", n) < 0 || fclose(f) != 0 || rename(tmp, p) < 0)
		log_warn("%s: %s", p, strerror(errno));
}

/* DATA/scripts/<hash>/probation exists while reloaded scripts are in their
 * health window: a process that dies then (a crash, the OOM killer, an
 * os.exit) leaves it behind, and the next start-up rolls back at once. */
static void set_probation(bool on)
{
	char p[PATH_MAX + 16];
	if (!rl.state[0])
		return;
	path_in(p, sizeof p, "probation");
	if (!on) {
		unlink(p);
		return;
	}
	FILE *f = fopen(p, "w");
	if (!f || fprintf(f, "%s\n", rl.running) < 0 || fclose(f) != 0)
		log_warn("%s: %s", p, strerror(errno));
}

/* Did the last run die within the health window of a reload? Forgotten
 * once asked: if the good copy dies too, the crash counter goes on. */
static bool died_on_probation(void)
{
	char p[PATH_MAX + 16];
	if (!rl.state[0])
		return false;
	path_in(p, sizeof p, "probation");
	return access(p, F_OK) == 0 && unlink(p) == 0;
}

/* DATA/scripts/<hash of the script's real path>, made to exist. */
static void resolve_state(const char *data_dir, const char *path)
{
	char real[PATH_MAX], p[PATH_MAX + 16];
	rl.state[0] = '\0';
	if (!data_dir)
		return;
	if (!realpath(path, real))
		snprintf(real, sizeof real, "%s", path);
	snprintf(p, sizeof p, "%s/scripts", data_dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return;
	snprintf(rl.state, sizeof rl.state, "%s/scripts/%016llx", data_dir, fnv1a(real));
	if (mkdir(rl.state, 0700) < 0 && errno != EEXIST) {
		log_warn("%s: %s; no last good copy is kept", rl.state, strerror(errno));
		rl.state[0] = '\0';
		return;
	}
	path_in(p, sizeof p, "origin");
	FILE *f = fopen(p, "w");
	if (f) {
		fprintf(f, "%s\n", real);
		fclose(f);
	}
}

/* The good copy's main script, or NULL when there is none. */
static const char *good_main(void)
{
	static char p[PATH_MAX / 2 + PATH_MAX + 16];
	char name[NAME_MAX + 1] = "";
	const char *base = strrchr(rl.origin, '/');
	FILE *f;
	if (!rl.state[0])
		return NULL;
	/* the good copy's own main (a deployed bundle's main may have another
	 * name than the script now running), else the origin's name */
	path_in(p, sizeof p, "good-main");
	if ((f = fopen(p, "r"))) {
		if (!fgets(name, sizeof name, f))
			name[0] = '\0';
		name[strcspn(name, "\n")] = '\0';
		fclose(f);
	}
	snprintf(p, sizeof p, "%s/good/%s", rl.state, name[0] ? name : base ? base + 1 : rl.origin);
	return access(p, R_OK) == 0 ? p : NULL;
}

/* good-main: the basename of the main script of the good copy. */
static void write_good_main(void)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];
	const char *base = strrchr(rl.origin, '/');
	FILE *f;
	path_in(p, sizeof p, "good-main");
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", base ? base + 1 : rl.origin) < 0 ||
			fclose(f) != 0 || rename(tmp, p) < 0)
		log_warn("%s: %s", p, strerror(errno));
}

/* ---- saving the good copy: the folder's .lua files, subfolders too ---- */

static char copy_to[PATH_MAX];
static size_t copy_root_len;

static int copy_file(const char *from, const char *to)
{
	char buf[8192];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC), out, r = 0;
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			r = -1;
	if (n < 0 || fsync(out) < 0)
		r = -1;
	close(in);
	return close(out) < 0 ? -1 : r;
}

static int copy_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	char to[PATH_MAX * 2];
	size_t n = strlen(p);
	(void)st;
	if (ftw->level > 4 || n <= copy_root_len)
		return type == FTW_D && ftw->level > 4 ? FTW_SKIP_SUBTREE : 0;
	snprintf(to, sizeof to, "%s/%s", copy_to, p + copy_root_len);
	if (type == FTW_D) {
		/* the data directory may live under the script folder: not copied;
		 * nor are hidden folders (.git) */
		if ((strncmp(p, rl.state, n) == 0 && (rl.state[n] == '/' || !rl.state[n])) ||
				p[copy_root_len] == '.')
			return FTW_SKIP_SUBTREE;
		return mkdir(to, 0700) < 0 && errno != EEXIST ? FTW_STOP : 0;
	}
	if (type != FTW_F || n < 5 || strcmp(p + n - 4, ".lua") != 0)
		return 0;
	return copy_file(p, to) < 0 ? FTW_STOP : 0;
}

static int remove_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(p) < 0 ? FTW_STOP : 0;
}

static void remove_tree(const char *p)
{
	if (access(p, F_OK) == 0)
		nftw(p, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* good.new filled, then swapped in by two renames. */
static void save_good(void)
{
	char good[PATH_MAX + 16], old[PATH_MAX + 16];
	if (!rl.state[0])
		return;
	path_in(copy_to, sizeof copy_to, "good.new");
	path_in(good, sizeof good, "good");
	path_in(old, sizeof old, "good.old");
	remove_tree(copy_to);
	remove_tree(old);
	copy_root_len = strlen(rl.dir);
	if (mkdir(copy_to, 0700) < 0 ||
			nftw(rl.dir, copy_one, 16, FTW_PHYS | FTW_ACTIONRETVAL) != 0) {
		log_warn("%s: cannot save the last good copy: %s", copy_to, strerror(errno));
		remove_tree(copy_to);
		return;
	}
	if (access(good, F_OK) == 0 && rename(good, old) < 0) {
		log_warn("%s: %s", good, strerror(errno));
		return;
	}
	if (rename(copy_to, good) < 0)
		log_warn("%s: %s", good, strerror(errno));
	else
		write_good_main();
	remove_tree(old);
	log_info("health: %s is good; a copy is kept in %s", rl.origin, good);
	status("good", rl.origin);
}

/* ---- the health window ---- */

static int64_t health_over(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)l;
	(void)t;
	(void)ud;
	rl.health = NULL;
	rl.probation = false;
	set_probation(false);
	write_crashes(0);
	if (!rl.safe && strcmp(rl.running, rl.origin) == 0)
		save_good();
	return LOOP_TIMER_STOP;
}

static void start_window(void)
{
	if (rl.health)
		loop_timer_cancel(rl.l, rl.health);
	rl.errors = 0;
	rl.probation = true;
	rl.health = loop_timer_start(rl.l, (uint64_t)rl.a->health_window_s * 1000, health_over, NULL);
	loop_timer_unref(rl.l, rl.health);
}

static void arm(unsigned delay_ms);

void lreload_error(void)
{
	if (!rl.probation || rl.rollback_due || !rl.h)
		return;
	if (++rl.errors < (unsigned)rl.a->health_errors)
		return;
	rl.rollback_due = true;
	arm(0);
}

/* ---- reloading ---- */

static bool config_changed(void)
{
	struct stat st;
	if (!rl.a->config || stat(rl.a->config, &st) < 0)
		return false;
	return st.st_mtim.tv_sec != rl.config_mtime.tv_sec ||
		st.st_mtim.tv_nsec != rl.config_mtime.tv_nsec;
}

static void switch_to(const char *path, const char *why)
{
	char err[2048];
	uint64_t t0 = rl.asked_ns ? rl.asked_ns : now_ns();
	notify_reloading();
	int r = host_reload(rl.h, path, err, sizeof err);
	if (r == -1) {
		log_error("%s: reload refused, the running scripts go on: %s", why, err);
		status("refused", err);
		notify_ready(NULL);
		return;
	}
	snprintf(rl.running, sizeof rl.running, "%s", path);
	if (r < 0) {
		log_error("%s: the new scripts failed: %s", why, err);
		if (!rl.probation)
			start_window();
		rl.errors = (unsigned)rl.a->health_errors;  /* a failed main chunk rolls back */
		rl.rollback_due = true;
		arm(0);
		return;
	}
	log_info("%s: %s running in %.1f ms", why, path, (double)(now_ns() - t0) / 1e6);
	notify_ready(NULL);
	status("reloaded", path);
	start_window();
	set_probation(strcmp(path, rl.origin) == 0 && good_main() != NULL);
}

static void rollback(void)
{
	const char *good = good_main();
	char why[128];
	snprintf(why, sizeof why, "health: %u errors within %d s", rl.errors, rl.a->health_window_s);
	if (!good || strcmp(rl.running, good) == 0) {
		log_error("%s; no last good copy to go back to: the new scripts go on", why);
		return;
	}
	log_error("%s of the reload: rolling back to the last good copy %s", why, good);
	status("rolled_back", good);
	rl.asked_ns = now_ns();
	switch_to(good, "rollback");
	rl.probation = false;       /* the good copy is not on probation */
	set_probation(false);
}

static int64_t run_pending(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)l;
	(void)t;
	(void)ud;
	rl.pending = NULL;
	if (host_busy(rl.h)) {
		arm(10);
		return LOOP_TIMER_STOP;
	}
	if (rl.rollback_due) {
		rl.rollback_due = false;
		rollback();
		return LOOP_TIMER_STOP;
	}
	if (config_changed()) {
		log_info("%s: %s changed: restarting lia to read it", rl.why, rl.a->config);
		set_probation(false);   /* a re-exec is no death */
		host_reexec(rl.h);
		return LOOP_TIMER_STOP;
	}
	rl.safe = false;
	switch_to(rl.origin, rl.why);
	rl.asked_ns = 0;
	return LOOP_TIMER_STOP;
}

static void arm(unsigned delay_ms)
{
	if (rl.pending)
		loop_timer_cancel(rl.l, rl.pending);
	rl.pending = loop_timer_start(rl.l, delay_ms, run_pending, NULL);
	if (!rl.pending)
		log_error("reload: out of memory");
}

void lreload_request(struct host *h, const char *why, unsigned delay_ms)
{
	if (!rl.h || rl.h != h)
		return;
	rl.why = why;
	rl.asked_ns = now_ns() + (uint64_t)delay_ms * 1000000ull;
	arm(delay_ms);
}

void lreload_deploy_restore(const char *main_path)
{
	const char *slash = strrchr(main_path, '/');
	snprintf(rl.origin, sizeof rl.origin, "%s", main_path);
	snprintf(rl.dir, sizeof rl.dir, "%.*s", slash ? (int)(slash - main_path) + 1 : 2,
		slash ? main_path : "./");
}

void lreload_deploy(struct host *h, const char *main_path)
{
	lreload_deploy_restore(main_path);
	lreload_request(h, "deploy", 0);
}

void lreload_rollback(struct host *h)
{
	if (!rl.h || rl.h != h)
		return;
	rl.rollback_due = true;
	arm(0);
}

const char *lreload_origin(void)
{
	return rl.origin;
}

/* ---- inotify on the script folder ---- */

static void on_inotify(struct loop *l, int fd, int events, void *ud)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	bool lua = false;
	(void)l;
	(void)events;
	(void)ud;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			size_t len = ev->len ? strlen(ev->name) : 0;
			if (len > 4 && strcmp(ev->name + len - 4, ".lua") == 0)
				lua = true;
			p += sizeof *ev + ev->len;
		}
	}
	if (lua)
		lreload_request(rl.h, "change", LRELOAD_DEBOUNCE_MS);
}

static void watch_folder(void)
{
	rl.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rl.ifd < 0 || inotify_add_watch(rl.ifd, rl.dir,
			IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0 ||
			loop_watch(rl.l, rl.ifd, LOOP_READ, on_inotify, NULL) < 0) {
		log_warn("%s: cannot watch for changes (%s); reload with SIGHUP", rl.dir, strerror(errno));
		if (rl.ifd >= 0)
			close(rl.ifd);
		rl.ifd = -1;
		return;
	}
	loop_watch_unref(rl.l, rl.ifd);     /* the script's own work keeps lia up, not this */
}

/* ---- the watchdog ---- */

static int64_t watchdog_tick(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)l;
	(void)t;
	(void)ud;
	notify_watchdog();
	return (int64_t)(notify_watchdog_usec() / 2000);
}

/* ---- start-up ---- */

const char *lreload_prepare(struct host *h, const struct lia_args *a, const char *path)
{
	struct stat st;
	const char *slash = strrchr(path, '/');
	rl.h = h;
	rl.l = host_event_loop(h);
	rl.a = a;
	snprintf(rl.origin, sizeof rl.origin, "%s", path);
	snprintf(rl.dir, sizeof rl.dir, "%.*s", slash ? (int)(slash - path) + 1 : 2,
		slash ? path : "./");
	if (a->config && stat(a->config, &st) == 0)
		rl.config_mtime = st.st_mtim;
	resolve_state(a->data_dir, path);
	/* watched before the main chunk runs: a file saved while lia starts
	 * is a change too (handled once the loop runs) */
	if (!a->no_watch)
		watch_folder();
	unsigned crashes = read_crashes();
	write_crashes(crashes + 1);
	snprintf(rl.running, sizeof rl.running, "%s", path);
	const char *good = good_main();
	if (died_on_probation() && a->safe_mode_after && good) {
		log_error("health: lia died within %d s of a reload: rolling back to the last good copy %s",
			a->health_window_s, good);
		status("rolled_back", good);
		snprintf(rl.running, sizeof rl.running, "%s", good);
		return rl.running;
	}
	if (!a->safe_mode_after || crashes < (unsigned)a->safe_mode_after)
		return path;
	rl.safe = true;
	char why[PATH_MAX + 128];
	snprintf(why, sizeof why, "%u start-ups in a row did not last %d s: safe mode, %s%s", crashes,
		a->health_window_s, good ? "running the last good copy " : "running no script (no good "
		"copy yet); the default client stays connected", good ? good : "");
	log_error("%s", why);
	status("safe_mode", why);
	snprintf(rl.running, sizeof rl.running, "%s", good ? good : "");
	return rl.running;
}

const char *lreload_start_failed(const char *err)
{
	const char *good = good_main();
	if (!good || strcmp(good, rl.running) == 0)
		return NULL;
	if (err[0])
		log_error("%s", err);
	log_error("start-up: %s failed: running the last good copy %s", rl.running, good);
	status("rolled_back", good);
	snprintf(rl.running, sizeof rl.running, "%s", good);
	return rl.running;
}

void lreload_started(struct host *h, const char *running)
{
	uint64_t dog = notify_watchdog_usec();
	(void)h;
	snprintf(rl.running, sizeof rl.running, "%s", running);
	if (dog) {
		rl.dog = loop_timer_start(rl.l, dog / 2000, watchdog_tick, NULL);
		loop_timer_unref(rl.l, rl.dog);
	}
	start_window();
	notify_ready(running[0] ? running : "safe mode: no script");
	status("running", running[0] ? running : "no script");
}

void lreload_reexec(void)
{
	set_probation(false);
}

/* A clean stop: not a crash. A script that never made a good copy leaves
 * no directory behind (short runs, tests). */
void lreload_stopped(void)
{
	char p[PATH_MAX];
	if (!rl.h || !rl.state[0])
		return;
	set_probation(false);
	path_in(p, sizeof p, "good");
	if (access(p, F_OK) == 0) {
		write_crashes(0);
		return;
	}
	path_in(p, sizeof p, "crashes");
	unlink(p);
	path_in(p, sizeof p, "origin");
	unlink(p);
	rmdir(rl.state);
}
