/*
 * db_sqlite.c - SQLite's functions, looked up on first use (see db_sqlite.h).
 */
#include "db_sqlite.h"

struct db_sqlite_table db_sqlite;

#define DYNLIB_API db_sqlite
static int fill(struct dynlib *d)
{
	DB_SQLITE_API(DYNLIB_FILL)
	return 0;
}

const char *db_sqlite_load(void)
{
	static struct dynlib lib = { .soname = "libsqlite3.so.0", .package = "libsqlite3-0" };
	return dynlib_load(&lib, fill) == 0 ? NULL : lib.err;
}
