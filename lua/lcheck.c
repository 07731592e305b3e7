/*
 * lcheck.c - lia check and the check before a live reload (host_check),
 * and lia check --compile (host_compile): the scripts loaded in a state of
 * their own on a loop that never runs, with print silenced and the
 * hardware modules replaced by lia.dry's stand-ins.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "args.h"
#include "host.h"
#include "lchunk.h"
#include "log.h"
#include "loop.h"

/* Protected: the message of a chunk that does not compile, or nothing. */
static int compile_k(lua_State *L)
{
	const char *path = lua_touserdata(L, 1);
	luaL_openlibs(L);
	lchunk_set_root(L, path);
	if (lchunk_load(L, path) != LUA_OK) {
		lchunk_fix(L, lua_tostring(L, -1));
		return 1;
	}
	return 0;
}

int host_compile(const char *path, char *err, size_t errlen)
{
	lua_State *L = luaL_newstate();
	int r = 0;
	if (!L) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	lua_pushcfunction(L, compile_k);
	lua_pushlightuserdata(L, (void *)path);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isnil(L, -1)) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "out of memory");
		r = -1;
	}
	lua_close(L);
	return r;
}

static int silent(lua_State *L)
{
	(void)L;
	return 0;
}

/* package.preload["lia.gpio"] & co. in a check: lia.dry's stand-in */
static int open_dry(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lia.dry");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "module");
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	return 1;
}

static void dry_hardware(lua_State *L)
{
	static const char *const mods[] = { "lia.gpio", "lia.serial", "lia.i2c" };
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		lua_pushcfunction(L, open_dry);
		lua_setfield(L, -2, mods[i]);
	}
	lua_pop(L, 1);
}

/* lia check: a state of its own on a loop that never runs (nothing is
 * sent), the main chunk run up to its first wait, with every module it
 * requires; the first error is the result. */
int host_check(const char *path, const struct lia_args *a, char *err, size_t errlen)
{
	struct loop *l = loop_new();
	struct host *h = l ? host_new(l, false) : NULL;
	int r;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		loop_free(l);
		return -1;
	}
	err[0] = '\0';
	host_set_memory_limit(h, (size_t)a->memory_limit_mb << 20);
	/* "ok" is lia check's only output */
	lua_State *L = host_main_state(h);
	lua_pushcfunction(L, silent);
	lua_setglobal(L, "print");
	dry_hardware(L);
	/* lia.checking: library code that talks to hardware while the main
	 * chunk runs (lia.device's sensors) leaves it alone in a check */
	lua_getglobal(L, "lia");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "checking");
	lua_pop(L, 1);
	host_capture_errors(h, err, errlen);
	/* the check's own lia.log lines would read as the running scripts' */
	int level = log_get_level();
	log_set_level(LOG_ERROR);
	r = host_run_main(h, path, a, err, errlen);
	log_set_level(level);
	if (r < 0 && !err[0])
		snprintf(err, errlen, "%s: the main chunk failed", path);
	host_free(h);
	loop_free(l);
	return r < 0 ? -1 : 0;
}

