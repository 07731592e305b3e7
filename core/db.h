/*
 * db.h - the process's one SQLite database (DATADIR/lia.db): the MQTT
 * session stores (mqtt_store_sqlite.c) and the scripts' lia.state share it.
 * It belongs to the process, not to a Lua state or a client: main.c opens it
 * once (db_process_open) and every user finds it again with db_process().
 *
 * Writes are group-committed: a user calls db_write() before changing rows
 * (that opens the turn's transaction when none is open), and the loop's
 * before-sleep hook, or anyone about to let bytes that depend on those rows
 * leave the process (db_commit), ends it: one transaction and one fsync per
 * loop turn, never one per message. Listeners hear about every commit, good
 * or failed (a full disk), so they can tell their own callers.
 *
 * Recovery: a file that is not a database, fails its quick_check, or has a
 * user_version newer than this build knows is renamed aside (lia.db.bad-*),
 * one log line says so, and an empty database takes its place.
 */
#ifndef LIA_DB_H
#define LIA_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "db_sqlite.h"   /* SQLite, loaded by db_open */

struct db;
struct loop;

#define DB_FILE "lia.db"
#define DB_SCHEMA_VERSION 1

/* Open (creating) DIR/lia.db. NULL with err only when no database at all
 * can be had (directory unwritable, out of memory). */
struct db *db_open(const char *dir, char *err, size_t errlen);
/* Commits what is pending, finalizes statements, closes. NULL is fine. */
void db_close(struct db *db);

sqlite3 *db_handle(struct db *db);
const char *db_path(const struct db *db);
/* A statement prepared once and kept (finalized by db_close); NULL on a
 * programming error (logged). */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);

/* Open this turn's transaction if none is open: 0, or -1 (logged). */
int db_write(struct db *db);
/* End the open transaction now (COMMIT, or ROLLBACK when it fails):
 * 0 committed or nothing to do, -1 failed (listeners were told). */
int db_commit(struct db *db);
bool db_in_txn(const struct db *db);

/* A listener of the database's transactions. flush (may be NULL) runs
 * inside the open transaction just before it commits: a user that defers
 * its rows to the end of the turn (mqtt_store_sqlite.c: a message published
 * and sent in one turn is one INSERT, not an INSERT and an UPDATE) writes
 * them there; it must not commit. committed runs after every commit attempt:
 * ok, or false with SQLite's message (static or valid during the call). */
typedef void db_flush_fn(void *ud);
typedef void db_commit_fn(void *ud, bool ok, const char *why);
int db_listen(struct db *db, db_flush_fn *flush, db_commit_fn *committed, void *ud);
void db_unlisten(struct db *db, db_commit_fn *committed, void *ud);

/* Commit once per loop turn from a before-sleep hook. */
int db_attach(struct db *db, struct loop *l);

struct db_stats {
	uint64_t commits, failed_commits, moved_aside;
};
void db_get_stats(const struct db *db, struct db_stats *st);

/* The process's database: db_process_open names the data directory (NULL:
 * none) and the loop whose turns commit it; db_process() opens it the first
 * time it is asked for (one try, one log line when it fails) and keeps it
 * until db_process_close. NULL when there is none. */
void db_process_open(const char *dir, struct loop *l);
struct db *db_process(void);
void db_process_close(void);

#endif
