/*
 * lreload.h - when lia run reloads its scripts and what happens when new
 * scripts fail (docs/field.md):
 *   - triggers: SIGHUP (systemctl reload), a change of a .lua file in the
 *     main script's folder (inotify, debounced 200 ms; --no-watch: off);
 *   - the health window (--health-window S, --health-errors N): new scripts
 *     that raise N errors within S seconds of a switch are replaced by the
 *     last good copy;
 *   - the last good copy and the crash counter, per main script, under the
 *     data directory (DATA/scripts/<hash>/good/, .../crashes);
 *   - safe mode after three start-ups in a row that did not end cleanly
 *     nor reach the end of their health window;
 *   - systemd: READY=1, RELOADING=1, WATCHDOG=1, STATUS= (core/notify.h).
 * Process-level state: one lia run per process.
 */
#ifndef LIA_LRELOAD_H
#define LIA_LRELOAD_H

struct host;
struct lia_args;

#define LRELOAD_DEBOUNCE_MS 200

/* Before the first run: the crash counter is read and bumped. Returns the
 * script to run: path, the last good copy's main (safe mode), or "" (safe
 * mode without a good copy: no script, the default client only). */
const char *lreload_prepare(struct host *h, const struct lia_args *a, const char *path);
/* The first main chunk failed (err: its message when it did not compile,
 * else "" as the error is logged already): the last good copy's main to
 * run instead (err is then logged), or NULL (the caller reports err). */
const char *lreload_start_failed(const char *err);
/* The first run succeeded with `running`: READY=1, the watchdog, the
 * start-up health window (the script folder is watched from
 * lreload_prepare on). */
void lreload_started(struct host *h, const char *running);
/* Ask for a reload (SIGHUP: now; a file change: debounced). */
void lreload_request(struct host *h, const char *why, unsigned delay_ms);
/* An error was reported (host.c): counted in the health window. */
void lreload_error(void);
/* lia run ended by a stop it asked for (signal, lia.stop): not a crash. */
/* A re-execution asked for (the fleet's restart command): not a death
 * within a reload's health window, so the next start does not roll back. */
void lreload_reexec(void);
void lreload_stopped(void);

/* The fleet's deploy (lua/lfleet_deploy.c): from now on main_path (a
 * bundle's main file) is the user's script, reloaded at once like an
 * edit; its health window decides (status "good" or "rolled_back"). */
void lreload_deploy(struct host *h, const char *main_path);
/* After a deploy that failed: main_path is the user's script again (no
 * reload: the rollback already runs the last good copy). */
void lreload_deploy_restore(const char *main_path);
/* The fleet's rollback command: back to the last good copy now. */
void lreload_rollback(struct host *h);
/* The user's main script now (the command line's, or a deployed one). */
const char *lreload_origin(void);

/* A hook for the status topic (issue #11): called with "running",
 * "reloaded", "refused", "rolled_back" or "safe_mode" and one line that
 * says why; "good" with the script when a health window ended well and
 * its copy was kept. */
typedef void lreload_status_fn(const char *state, const char *detail, void *ud);
void lreload_on_status(lreload_status_fn *fn, void *ud);

#endif
