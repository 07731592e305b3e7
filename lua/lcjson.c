/*
 * lcjson.c - libcjson's functions, looked up on first use (see lcjson.h).
 */
#include <stdlib.h>

#include "lcjson.h"
#include "log.h"

struct lcjson_table lcjson;

#define DYNLIB_API lcjson
static int fill(struct dynlib *d)
{
	LCJSON_API(DYNLIB_FILL)
	return 0;
}

const char *lcjson_load(void)
{
	static struct dynlib lib = { .soname = "libcjson.so.1", .package = "libcjson1" };
	return dynlib_load(&lib, fill) == 0 ? NULL : lib.err;
}

struct lcjson_table *lcjson_get(void)
{
	const char *err = lcjson_load();
	if (err) {
		log_error("%s", err);
		exit(70);   /* EX_SOFTWARE: an install without a library lia depends on */
	}
	return &lcjson;
}
