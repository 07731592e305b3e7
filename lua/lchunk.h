/*
 * lchunk.h - script chunks under short names (relative to the main
 * script's folder, so Lua never shortens them to ".../tail"), the folder
 * first on package.path, and messages mapped back to full paths.
 */
#ifndef LIA_LCHUNK_H
#define LIA_LCHUNK_H

struct lua_State;

/* The main script's folder becomes the root of short names and the first
 * entry of package.path (folder/?.lua;folder/?/init.lua); require's file
 * searcher, loadfile and dofile load through lchunk_load. Raises on out of memory. */
void lchunk_set_root(struct lua_State *L, const char *script);
/* luaL_loadfile under the short name: LUA_OK with the function pushed, or
 * an error status with the message pushed. */
int lchunk_load(struct lua_State *L, const char *path);
/* Push msg with every "short:" (at a word start) replaced by the full
 * path, and return it. Raises on out of memory. */
const char *lchunk_fix(struct lua_State *L, const char *msg);

#endif
