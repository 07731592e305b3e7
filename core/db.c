/*
 * db.c - the process's SQLite database: open with recovery, kept prepared
 * statements, one transaction per loop turn (see db.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define DB_MAX_STMTS 48
#define DB_BUSY_MS 5000         /* how long another process's lock is waited for */
/* SQLite's default page cache may grow to 2 MB; lia's hot pages are the
 * outbox's tail and a few index and session pages, so 128 KiB (32 pages of
 * 4 KiB) bounds what a long backlog makes resident. (It does not change the
 * idle footprint: a fresh store's cache holds a few pages either way.) */
#define DB_CACHE_PRAGMA "PRAGMA cache_size=-128"
#define DB_MAX_LISTENERS 32

struct db_listener {
	db_flush_fn *flush;
	db_commit_fn *fn;
	void *ud;
};

struct db {
	sqlite3 *h;
	char path[4200];
	bool in_txn;
	struct loop *loop;
	struct { const char *sql; sqlite3_stmt *st; } stmts[DB_MAX_STMTS];
	size_t nstmts;
	struct db_listener listeners[DB_MAX_LISTENERS];
	size_t nlisteners;
	struct db_stats st;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS session("
	" id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, broker TEXT NOT NULL,"
	" next_id INTEGER NOT NULL DEFAULT 1, synced INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(client_id, broker));"
	"CREATE TABLE IF NOT EXISTS outbox("
	" seq INTEGER PRIMARY KEY, session INTEGER NOT NULL, qos INTEGER NOT NULL,"
	" state INTEGER NOT NULL, packet_id INTEGER NOT NULL, id_offset INTEGER NOT NULL,"
	" flags INTEGER NOT NULL, created INTEGER NOT NULL, data BLOB NOT NULL);"
	/* no index on (session, seq): it doubled the cost of every insert and
	 * delete, and only the load at start-up reads by session (a scan of
	 * the outbox in seq order is as good there); dropped from older files */
	"DROP INDEX IF EXISTS outbox_session;"
	"CREATE TABLE IF NOT EXISTS inbound("
	" session INTEGER NOT NULL, packet_id INTEGER NOT NULL, state INTEGER NOT NULL,"
	" hash INTEGER NOT NULL, PRIMARY KEY(session, packet_id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS subscription("
	" session INTEGER NOT NULL, filter TEXT NOT NULL, options INTEGER NOT NULL,"
	" props BLOB, PRIMARY KEY(session, filter)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state("
	" key TEXT PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;";

static int exec(sqlite3 *h, const char *sql)
{
	return sqlite3_exec(h, sql, NULL, NULL, NULL);
}

static int pragma_int(sqlite3 *h, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Is rc a verdict on the file (not a database, corrupt), not on the
 * moment (another process holds a lock, a full disk, no permission, out
 * of memory)? Only a bad file is moved aside: a store that is merely
 * locked is another process's, and moving it would lose what it keeps. */
static bool bad_file(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static void say(char *why, size_t len, int rc)
{
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		snprintf(why, len, "%s for over %d s: another process holds it (a second lia on "
			"this state directory?)", sqlite3_errstr(rc), DB_BUSY_MS / 1000);
	else
		snprintf(why, len, "%s", sqlite3_errstr(rc));
}

/* 0 when the file is sound and of a version we know; else why not, and
 * *bad when the file itself is at fault. */
static int check_file(sqlite3 *h, bool *bad, char *why, size_t len)
{
	sqlite3_stmt *st;
	int ver = 0;
	int rc = pragma_int(h, "PRAGMA user_version", &ver);
	if (rc != SQLITE_OK)
		return *bad = bad_file(rc), say(why, len, rc), -1;
	if (ver > DB_SCHEMA_VERSION)
		return *bad = true, snprintf(why, len, "schema version %d is newer than this "
			"lia's %d", ver, DB_SCHEMA_VERSION), -1;
	rc = sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return *bad = bad_file(rc), say(why, len, rc), -1;
	rc = sqlite3_step(st);
	const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int r = 0;
	if (res && strcmp(res, "ok") != 0) {
		*bad = true;            /* the check ran and found damage */
		snprintf(why, len, "%s", res);
		r = -1;
	} else if (!res) {
		*bad = bad_file(rc);
		say(why, len, rc);
		r = -1;
	}
	sqlite3_finalize(st);
	return r;
}

/* Rename path (and its -wal) to path.bad-TIME; the -shm is only an index. */
static void move_aside(const char *path, char *to, size_t len)
{
	char from[4300], dst[4500];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(to, len, "%s.bad-%04d%02d%02d-%02d%02d%02d", path, tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (rename(path, to) < 0 && errno != ENOENT)
		unlink(path);
	snprintf(from, sizeof from, "%s-wal", path);
	snprintf(dst, sizeof dst, "%s-wal", to);
	if (rename(from, dst) < 0 && errno != ENOENT)
		unlink(from);
	snprintf(from, sizeof from, "%s-shm", path);
	unlink(from);
}

static int setup(sqlite3 *h)
{
	int rc;
	if ((rc = exec(h, "PRAGMA journal_mode=WAL")) != SQLITE_OK ||
			(rc = exec(h, "PRAGMA synchronous=FULL")) != SQLITE_OK ||
			(rc = exec(h, DB_CACHE_PRAGMA)) != SQLITE_OK ||
			(rc = exec(h, schema)) != SQLITE_OK)
		return rc;
	return exec(h, "PRAGMA user_version=1");
}

/* The handle, or NULL with why (and *bad when the file is at fault). The
 * busy timeout comes first: a lock held by another process for a moment
 * (its commit, or the checkpoint of a lia that is exiting) is waited for,
 * including by the checks. */
static sqlite3 *open_file(const char *path, bool *bad, char *why, size_t len)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		SQLITE_OPEN_NOMUTEX, NULL);
	*bad = false;
	why[0] = '\0';
	if (rc != SQLITE_OK) {
		snprintf(why, len, "%s", h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, DB_BUSY_MS);
	if (check_file(h, bad, why, len) < 0) {
		sqlite3_close(h);
		return NULL;
	}
	if ((rc = setup(h)) != SQLITE_OK) {
		*bad = bad_file(rc);
		say(why, len, rc);
		sqlite3_close(h);
		return NULL;
	}
	return h;
}

struct db *db_open(const char *dir, char *err, size_t errlen)
{
	char why[512], aside[4400];
	const char *missing = db_sqlite_load();
	if (missing) {
		snprintf(err, errlen, "%s", missing);
		return NULL;
	}
	struct db *db = xcalloc(1, sizeof *db);
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(db->path, sizeof db->path, "%s/%s", dir, DB_FILE);
	bool bad;
	db->h = open_file(db->path, &bad, why, sizeof why);
	if (!db->h && bad && access(db->path, F_OK) == 0) {
		/* there is a file and it is not one we can use: keep it for a
		 * post-mortem, start afresh */
		move_aside(db->path, aside, sizeof aside);
		log_error("store %s unusable (%s): moved to %s, starting with an empty store",
			db->path, why, aside);
		db->st.moved_aside++;
		db->h = open_file(db->path, &bad, why, sizeof why);
	}
	if (!db->h) {
		snprintf(err, errlen, "%s: %s", db->path, why);
		xfree(db);
		return NULL;
	}
	return db;
}

sqlite3 *db_handle(struct db *db)
{
	return db->h;
}

const char *db_path(const struct db *db)
{
	return db->path;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql)
{
	for (size_t i = 0; i < db->nstmts; i++)
		if (db->stmts[i].sql == sql) {
			sqlite3_reset(db->stmts[i].st);
			sqlite3_clear_bindings(db->stmts[i].st);
			return db->stmts[i].st;
		}
	if (db->nstmts == DB_MAX_STMTS) {
		log_error("store: too many prepared statements");
		return NULL;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_error("store: %s: %s", sql, sqlite3_errmsg(db->h));
		return NULL;
	}
	db->stmts[db->nstmts].sql = sql;
	db->stmts[db->nstmts++].st = st;
	return st;
}

int db_write(struct db *db)
{
	if (db->in_txn)
		return 0;
	int rc = exec(db->h, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK) {
		log_error("store %s: cannot begin a transaction: %s", db->path, sqlite3_errmsg(db->h));
		return -1;
	}
	db->in_txn = true;
	return 0;
}

bool db_in_txn(const struct db *db)
{
	return db->in_txn;
}

static void tell(struct db *db, bool ok, const char *why)
{
	/* a listener may unlisten itself: walk a copy */
	struct db_listener copy[DB_MAX_LISTENERS];
	size_t n = db->nlisteners;
	memcpy(copy, db->listeners, n * sizeof copy[0]);
	for (size_t i = 0; i < n; i++)
		copy[i].fn(copy[i].ud, ok, why);
}

int db_commit(struct db *db)
{
	static char why[300];
	if (!db->in_txn)
		return 0;
	for (size_t i = 0; i < db->nlisteners; i++)
		if (db->listeners[i].flush)
			db->listeners[i].flush(db->listeners[i].ud);
	db->in_txn = false;
	for (size_t i = 0; i < db->nstmts; i++)
		sqlite3_reset(db->stmts[i].st);     /* no statement may hold the txn open */
	int rc = exec(db->h, "COMMIT");
	if (rc == SQLITE_OK) {
		db->st.commits++;
		tell(db, true, NULL);
		return 0;
	}
	snprintf(why, sizeof why, "%s", sqlite3_errmsg(db->h));
	exec(db->h, "ROLLBACK");
	db->st.failed_commits++;
	log_error("store %s: commit failed: %s", db->path, why);
	tell(db, false, why);
	return -1;
}

int db_listen(struct db *db, db_flush_fn *flush, db_commit_fn *committed, void *ud)
{
	if (db->nlisteners == DB_MAX_LISTENERS)
		return -1;
	db->listeners[db->nlisteners++] = (struct db_listener){ flush, committed, ud };
	return 0;
}

void db_unlisten(struct db *db, db_commit_fn *fn, void *ud)
{
	for (size_t i = 0; i < db->nlisteners; i++)
		if (db->listeners[i].fn == fn && db->listeners[i].ud == ud) {
			memmove(&db->listeners[i], &db->listeners[i + 1],
				(db->nlisteners - i - 1) * sizeof db->listeners[0]);
			db->nlisteners--;
			return;
		}
}

static void commit_hook(struct loop *l, void *ud)
{
	(void)l;
	db_commit(ud);
}

int db_attach(struct db *db, struct loop *l)
{
	if (db->loop)
		return 0;
	db->loop = l;
	return loop_hook_add(l, commit_hook, db);
}

void db_get_stats(const struct db *db, struct db_stats *st)
{
	*st = db->st;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	db_commit(db);
	if (db->loop)
		loop_hook_remove(db->loop, commit_hook, db);
	for (size_t i = 0; i < db->nstmts; i++)
		sqlite3_finalize(db->stmts[i].st);
	sqlite3_close(db->h);
	xfree(db);
}

/* ---- the process's database ---- */

/* Opened on first use, not at start: a script that keeps nothing (no
 * lia.state, clients with persist = false or without an id) never pays
 * for SQLite's code and page cache in its resident memory. */
static struct db *process_db;
static struct {
	char *dir;
	struct loop *loop;
	bool tried;
} process;

void db_process_open(const char *dir, struct loop *l)
{
	if (process.dir || !dir)
		return;
	if (!(process.dir = xstrdup(dir)))
		log_error("store: out of memory; nothing is kept across restarts");
	process.loop = l;
}

struct db *db_process(void)
{
	char err[4400];
	if (process_db || process.tried || !process.dir)
		return process_db;
	process.tried = true;   /* one attempt, one log line */
	process_db = db_open(process.dir, err, sizeof err);
	if (!process_db) {
		log_error("store: %s; nothing is kept across restarts", err);
		return NULL;
	}
	if (process.loop && db_attach(process_db, process.loop) < 0)
		log_error("store: out of memory");
	return process_db;
}

void db_process_close(void)
{
	db_close(process_db);
	process_db = NULL;
	xfree(process.dir);
	process.dir = NULL;
	process.tried = false;
}
