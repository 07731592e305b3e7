/*
 * db_sqlite.h - SQLite for the process's store (db.h), loaded when the
 * store is first opened (dlopen, see dynlib.h): a script that keeps nothing
 * never maps it. The store's files include db.h, which includes this
 * instead of <sqlite3.h>, and call SQLite by its usual names.
 */
#ifndef LIA_DB_SQLITE_H
#define LIA_DB_SQLITE_H

#include <sqlite3.h>

#include "dynlib.h"

#define DB_SQLITE_API(X) \
	X(sqlite3_open_v2) X(sqlite3_close) X(sqlite3_busy_timeout) X(sqlite3_exec) \
	X(sqlite3_errmsg) X(sqlite3_errstr) X(sqlite3_prepare_v2) X(sqlite3_prepare_v3) \
	X(sqlite3_step) X(sqlite3_reset) X(sqlite3_clear_bindings) X(sqlite3_finalize) \
	X(sqlite3_bind_blob) X(sqlite3_bind_blob64) X(sqlite3_bind_int) \
	X(sqlite3_bind_int64) X(sqlite3_bind_text) X(sqlite3_column_blob) \
	X(sqlite3_column_bytes) X(sqlite3_column_int) X(sqlite3_column_int64) \
	X(sqlite3_column_text) X(sqlite3_last_insert_rowid)

DYNLIB_TABLE(db_sqlite, DB_SQLITE_API)

/* Load libsqlite3 once: NULL, or the one-line reason it cannot be had
 * ("libsqlite3.so.0 not found: apt install libsqlite3-0"). */
const char *db_sqlite_load(void);

#define sqlite3_open_v2 (*db_sqlite.p_sqlite3_open_v2)
#define sqlite3_close (*db_sqlite.p_sqlite3_close)
#define sqlite3_busy_timeout (*db_sqlite.p_sqlite3_busy_timeout)
#define sqlite3_exec (*db_sqlite.p_sqlite3_exec)
#define sqlite3_errmsg (*db_sqlite.p_sqlite3_errmsg)
#define sqlite3_errstr (*db_sqlite.p_sqlite3_errstr)
#define sqlite3_prepare_v2 (*db_sqlite.p_sqlite3_prepare_v2)
#define sqlite3_prepare_v3 (*db_sqlite.p_sqlite3_prepare_v3)
#define sqlite3_step (*db_sqlite.p_sqlite3_step)
#define sqlite3_reset (*db_sqlite.p_sqlite3_reset)
#define sqlite3_clear_bindings (*db_sqlite.p_sqlite3_clear_bindings)
#define sqlite3_finalize (*db_sqlite.p_sqlite3_finalize)
#define sqlite3_bind_blob (*db_sqlite.p_sqlite3_bind_blob)
#define sqlite3_bind_blob64 (*db_sqlite.p_sqlite3_bind_blob64)
#define sqlite3_bind_int (*db_sqlite.p_sqlite3_bind_int)
#define sqlite3_bind_int64 (*db_sqlite.p_sqlite3_bind_int64)
#define sqlite3_bind_text (*db_sqlite.p_sqlite3_bind_text)
#define sqlite3_column_blob (*db_sqlite.p_sqlite3_column_blob)
#define sqlite3_column_bytes (*db_sqlite.p_sqlite3_column_bytes)
#define sqlite3_column_int (*db_sqlite.p_sqlite3_column_int)
#define sqlite3_column_int64 (*db_sqlite.p_sqlite3_column_int64)
#define sqlite3_column_text (*db_sqlite.p_sqlite3_column_text)
#define sqlite3_last_insert_rowid (*db_sqlite.p_sqlite3_last_insert_rowid)

#endif
