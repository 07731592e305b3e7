/*
 * lstate.c - "lia.state.db": the raw rows behind lia.state (lua/lib/state.lua
 * does the typing). Rows live in the process's database (core/db.h), in the
 * loop turn's transaction: each call is one statement, so atomic, and durable
 * at the end of the turn (state.flush() makes it so at once). The database
 * is found through db_process() on every call, so a new Lua state (a script
 * reload) sees the same rows.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "db.h"

int luaopen_lia_state_db(lua_State *L);

static const char SQL_GET[] = "SELECT kind, value FROM state WHERE key=?";
static const char SQL_SET[] = "INSERT OR REPLACE INTO state(key, kind, value) VALUES(?,?,?)";
static const char SQL_DEL[] = "DELETE FROM state WHERE key=?";
static const char SQL_KEYS[] = "SELECT key FROM state WHERE key >= ? ORDER BY key";

static struct db *check_db(lua_State *L)
{
	struct db *db = db_process();
	if (!db)
		luaL_error(L, "lia.state: no data directory (see --data-dir)");
	return db;
}

/* nil, message for a failed statement */
static int fail(lua_State *L, struct db *db)
{
	lua_pushnil(L);
	lua_pushfstring(L, "lia.state: %s", sqlite3_errmsg(db_handle(db)));
	return 2;
}

/* get(key) -> kind, value | nil */
static int l_get(lua_State *L)
{
	size_t klen;
	const char *k = luaL_checklstring(L, 1, &klen);
	struct db *db = check_db(L);
	sqlite3_stmt *st = db_stmt(db, SQL_GET);
	if (!st)
		return fail(L, db);
	sqlite3_bind_text(st, 1, k, (int)klen, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return fail(L, db);
		lua_pushnil(L);
		return 1;
	}
	lua_pushstring(L, (const char *)sqlite3_column_text(st, 0));
	lua_pushlstring(L, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
	sqlite3_reset(st);
	return 2;
}

static int run(lua_State *L, struct db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(L, db);
	lua_pushboolean(L, 1);
	return 1;
}

/* set(key, kind, value) -> true | nil, message */
static int l_set(lua_State *L)
{
	size_t klen, vlen;
	const char *k = luaL_checklstring(L, 1, &klen);
	const char *kind = luaL_checkstring(L, 2);
	const char *v = luaL_checklstring(L, 3, &vlen);
	struct db *db = check_db(L);
	sqlite3_stmt *st = db_write(db) == 0 ? db_stmt(db, SQL_SET) : NULL;
	if (!st)
		return fail(L, db);
	sqlite3_bind_text(st, 1, k, (int)klen, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, vlen ? v : "", (int)vlen, SQLITE_STATIC);
	return run(L, db, st);
}

static int l_delete(lua_State *L)
{
	size_t klen;
	const char *k = luaL_checklstring(L, 1, &klen);
	struct db *db = check_db(L);
	sqlite3_stmt *st = db_write(db) == 0 ? db_stmt(db, SQL_DEL) : NULL;
	if (!st)
		return fail(L, db);
	sqlite3_bind_text(st, 1, k, (int)klen, SQLITE_STATIC);
	return run(L, db, st);
}

/* keys([prefix]) -> { key, ... } sorted */
static int l_keys(lua_State *L)
{
	size_t plen = 0;
	const char *prefix = luaL_optlstring(L, 1, "", &plen);
	struct db *db = check_db(L);
	sqlite3_stmt *st = db_stmt(db, SQL_KEYS);
	if (!st)
		return fail(L, db);
	sqlite3_bind_text(st, 1, prefix, (int)plen, SQLITE_STATIC);
	lua_newtable(L);
	lua_Integer n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		size_t klen = (size_t)sqlite3_column_bytes(st, 0);
		if (klen < plen || memcmp(k, prefix, plen) != 0)
			break;          /* sorted: past the prefix */
		lua_pushlstring(L, k, klen);
		lua_rawseti(L, -2, ++n);
	}
	sqlite3_reset(st);
	return 1;
}

/* flush() -> true | nil, message: commit the turn's writes now */
static int l_flush(lua_State *L)
{
	struct db *db = check_db(L);
	if (db_commit(db) < 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "lia.state: commit failed (see the log)");
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* path() -> the database file, or nil without a data directory */
static int l_path(lua_State *L)
{
	struct db *db = db_process();
	if (!db)
		return 0;
	lua_pushstring(L, db_path(db));
	return 1;
}

int luaopen_lia_state_db(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "get", l_get }, { "set", l_set }, { "delete", l_delete }, { "keys", l_keys },
		{ "flush", l_flush }, { "path", l_path }, { NULL, NULL }
	};
	luaL_newlib(L, funcs);
	return 1;
}
