/*
 * lcjson.h - libcjson for the C side of the fleet (lfleet*.c) and of
 * lia sub's JSON output (lclijson.c), loaded on first use (dlopen, see
 * core/dynlib.h): an agent that runs no fleet and prints no JSON does not
 * map it. Those files include this instead of <cjson/cJSON.h> and call
 * cJSON by its usual names.
 *
 * Each call goes through lcjson_get(), which loads the library the first
 * time, so no path can call an empty slot. The package depends on
 * libcjson1: only a broken install lacks it, and then the first call logs
 * the one line that says which package is missing and exits. The entry
 * points that can refuse politely (lfleet_start, luaopen_lia_clijson,
 * `lia bundle`) ask lcjson_load() first and report it as their own error.
 * (Lua scripts' JSON is lua-cjson, `cjson`, linked in statically.)
 */
#ifndef LIA_LCJSON_H
#define LIA_LCJSON_H

#include <cjson/cJSON.h>

#include "dynlib.h"

#define LCJSON_API(X) \
	X(cJSON_Parse) X(cJSON_ParseWithLength) X(cJSON_ParseWithOpts) \
	X(cJSON_Print) X(cJSON_PrintUnformatted) X(cJSON_Delete) X(cJSON_free) \
	X(cJSON_CreateObject) X(cJSON_CreateString) X(cJSON_GetObjectItemCaseSensitive) \
	X(cJSON_IsNumber) X(cJSON_IsObject) X(cJSON_IsString) \
	X(cJSON_AddItemToArray) X(cJSON_AddItemToObject) X(cJSON_AddArrayToObject) \
	X(cJSON_AddBoolToObject) X(cJSON_AddNullToObject) X(cJSON_AddNumberToObject) \
	X(cJSON_AddObjectToObject) X(cJSON_AddStringToObject)

DYNLIB_TABLE(lcjson, LCJSON_API)

/* Load libcjson once: NULL, or the one-line reason it cannot be had
 * ("libcjson.so.1 not found: apt install libcjson1"). */
const char *lcjson_load(void);
/* The loaded table; logs the reason and exits when there is none. */
struct lcjson_table *lcjson_get(void);

#define cJSON_Parse (*lcjson_get()->p_cJSON_Parse)
#define cJSON_ParseWithLength (*lcjson_get()->p_cJSON_ParseWithLength)
#define cJSON_ParseWithOpts (*lcjson_get()->p_cJSON_ParseWithOpts)
#define cJSON_Print (*lcjson_get()->p_cJSON_Print)
#define cJSON_PrintUnformatted (*lcjson_get()->p_cJSON_PrintUnformatted)
#define cJSON_Delete (*lcjson_get()->p_cJSON_Delete)
#define cJSON_free (*lcjson_get()->p_cJSON_free)
#define cJSON_CreateObject (*lcjson_get()->p_cJSON_CreateObject)
#define cJSON_CreateString (*lcjson_get()->p_cJSON_CreateString)
#define cJSON_GetObjectItemCaseSensitive (*lcjson_get()->p_cJSON_GetObjectItemCaseSensitive)
#define cJSON_IsNumber (*lcjson_get()->p_cJSON_IsNumber)
#define cJSON_IsObject (*lcjson_get()->p_cJSON_IsObject)
#define cJSON_IsString (*lcjson_get()->p_cJSON_IsString)
#define cJSON_AddItemToArray (*lcjson_get()->p_cJSON_AddItemToArray)
#define cJSON_AddItemToObject (*lcjson_get()->p_cJSON_AddItemToObject)
#define cJSON_AddArrayToObject (*lcjson_get()->p_cJSON_AddArrayToObject)
#define cJSON_AddBoolToObject (*lcjson_get()->p_cJSON_AddBoolToObject)
#define cJSON_AddNullToObject (*lcjson_get()->p_cJSON_AddNullToObject)
#define cJSON_AddNumberToObject (*lcjson_get()->p_cJSON_AddNumberToObject)
#define cJSON_AddObjectToObject (*lcjson_get()->p_cJSON_AddObjectToObject)
#define cJSON_AddStringToObject (*lcjson_get()->p_cJSON_AddStringToObject)

#endif
