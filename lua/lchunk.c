/*
 * lchunk.c - script chunks: short names, the script folder on
 * package.path, and messages mapped back to full paths.
 *
 * Lua keeps at most LUA_IDSIZE (60) bytes of a chunk name and shortens a
 * longer one to ".../tail", so an error in /opt/a/long/checkout/bad.lua
 * would name a file nobody can find. Chunks whose path does not fit are
 * therefore named relative to the main script's folder ("bad.lua",
 * "lib/x.lua"), and every message
 * the host reports goes through lchunk_fix(), which puts the folder back.
 * The map short -> full path lives in the registry (CHUNKS) so a reload's
 * new state has its own.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lchunk.h"

static const char CHUNKS = 'c';     /* registry: short name -> full path */
static const char ROOT = 'r';       /* registry: the script folder + "/" */

static void push_chunks(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CHUNKS) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	lua_newtable(L);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &CHUNKS);
}

/* The name path gets: relative to the root when under it. */
static const char *short_name(lua_State *L, const char *path)
{
	const char *root = NULL;
	size_t n = 0;
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ROOT) == LUA_TSTRING)
		root = lua_tolstring(L, -1, &n);
	lua_pop(L, 1);
	/* a path Lua keeps whole stays as it was given: messages a script
	 * catches itself (pcall) then name the file as the user knows it */
	if (strlen(path) + 1 < LUA_IDSIZE)
		return path;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (root && n && strncmp(path, root, n) == 0 && path[n])
		return path + n;
	return path;
}

/* The file's bytes pushed as a string; 0, or -1 with the message pushed. */
static int read_file(lua_State *L, const char *path)
{
	luaL_Buffer b;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");
	if (!f) {
		lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	luaL_buffinit(L, &b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		luaL_addlstring(&b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	luaL_pushresult(&b);
	if (bad) {
		lua_pop(L, 1);
		lua_pushfstring(L, "cannot read %s", path);
		return -1;
	}
	return 0;
}

int lchunk_load(lua_State *L, const char *path)
{
	size_t len, skip = 0;
	const char *s = short_name(L, path);
	push_chunks(L);
	lua_pushstring(L, path);
	lua_setfield(L, -2, s);
	lua_pop(L, 1);
	lua_pushfstring(L, "@%s", s);
	if (read_file(L, path) < 0) {
		lua_remove(L, -2);
		return LUA_ERRFILE;
	}
	const char *src = lua_tolstring(L, -1, &len);
	/* a "#!" first line is skipped as luaL_loadfile does; its newline is
	 * kept so line numbers stay right */
	if (len && src[0] == '#')
		while (skip < len && src[skip] != '\n')
			skip++;
	int st = luaL_loadbufferx(L, src + skip, len - skip, lua_tostring(L, -2), NULL);
	lua_remove(L, -2);      /* the source */
	lua_remove(L, -2);      /* the name */
	return st;
}

/* package.searchers[2]: package.searchpath over package.path, loaded under
 * a short name. A file that does not compile raises its own
 * "file:line: message" (not wrapped), so the first error names the line. */
static int searcher(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	lua_getfield(L, lua_upvalueindex(1), "searchpath");
	lua_pushstring(L, name);
	lua_getfield(L, lua_upvalueindex(1), "path");
	lua_call(L, 2, 2);
	if (lua_isnil(L, -2))
		return 1;               /* the "no file ..." list */
	lua_pop(L, 1);
	const char *file = lua_tostring(L, -1);
	if (lchunk_load(L, file) != LUA_OK)
		return lua_error(L);
	lua_pushvalue(L, -2);
	return 2;
}

/* loadfile / dofile under short names too; stdin (no name) as before */
static int l_loadfile(lua_State *L)
{
	const char *f = luaL_optstring(L, 1, NULL);
	int env = !lua_isnone(L, 3) ? 3 : 0;
	if (!f) {
		lua_pushvalue(L, lua_upvalueindex(1));
		lua_insert(L, 1);
		lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
		return lua_gettop(L);
	}
	if (lchunk_load(L, f) != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (env) {
		lua_pushvalue(L, env);
		if (!lua_setupvalue(L, -2, 1))
			lua_pop(L, 1);
	}
	return 1;
}

static int dofile_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lua_gettop(L) - 1;
}

static int l_dofile(lua_State *L)
{
	const char *f = luaL_optstring(L, 1, NULL);
	lua_settop(L, 1);
	if (!f) {
		lua_pushvalue(L, lua_upvalueindex(1));
		lua_insert(L, 1);
		lua_callk(L, 1, LUA_MULTRET, 0, dofile_k);
		return lua_gettop(L);
	}
	if (lchunk_load(L, f) != LUA_OK)
		return lua_error(L);
	lua_callk(L, 0, LUA_MULTRET, 0, dofile_k);
	return dofile_k(L, 0, 0);
}

static void wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_getglobal(L, name);
	lua_pushcclosure(L, fn, 1);
	lua_setglobal(L, name);
}

void lchunk_set_root(lua_State *L, const char *script)
{
	const char *slash = strrchr(script, '/');
	size_t n = slash ? (size_t)(slash - script) + 1 : 0;
	lua_pushlstring(L, script, n);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &ROOT);
	lua_getglobal(L, "package");
	int pkg = lua_gettop(L);
	if (n)
		lua_pushlstring(L, script, n);
	else
		lua_pushliteral(L, "./");
	const char *dir = lua_tostring(L, -1);
	lua_getfield(L, pkg, "path");
	lua_pushfstring(L, "%s?.lua;%s?/init.lua;%s", dir, dir, lua_tostring(L, -1));
	lua_setfield(L, pkg, "path");
	lua_settop(L, pkg);
	lua_getfield(L, -1, "searchers");
	lua_pushvalue(L, -2);
	lua_pushcclosure(L, searcher, 1);
	lua_rawseti(L, -2, 2);
	lua_pop(L, 2);
	wrap_global(L, "loadfile", l_loadfile);
	wrap_global(L, "dofile", l_dofile);
}

/* Does a known short name start at m, followed by ':'? Its full path. */
static const char *match(lua_State *L, int chunks, const char *m, size_t *len)
{
	lua_pushnil(L);
	while (lua_next(L, chunks)) {
		size_t n;
		const char *k = lua_tolstring(L, -2, &n);
		if (lua_type(L, -2) == LUA_TSTRING && strncmp(m, k, n) == 0 && m[n] == ':') {
			const char *full = lua_tostring(L, -1);
			lua_pop(L, 2);
			*len = n;
			return full;    /* still referenced by the table */
		}
		lua_pop(L, 1);
	}
	return NULL;
}

const char *lchunk_fix(lua_State *L, const char *msg)
{
	luaL_Buffer b;
	push_chunks(L);
	int chunks = lua_gettop(L);
	luaL_buffinit(L, &b);
	for (const char *p = msg; *p;) {
		bool start = p == msg || strchr(" \t\n'\"(", p[-1]) != NULL;
		size_t n;
		const char *full = start ? match(L, chunks, p, &n) : NULL;
		if (full) {
			luaL_addstring(&b, full);
			p += n;
		} else {
			luaL_addchar(&b, *p++);
		}
	}
	luaL_pushresult(&b);
	lua_remove(L, chunks);
	return lua_tostring(L, -1);
}
