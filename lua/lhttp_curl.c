/*
 * lhttp_curl.c - libcurl's functions, looked up on first use (see lhttp_curl.h).
 */
#include "lhttp_curl.h"

struct lhttp_curl_table lhttp_curl;

#define DYNLIB_API lhttp_curl
static int fill(struct dynlib *d)
{
	LHTTP_CURL_API(DYNLIB_FILL)
	return 0;
}

const char *lhttp_curl_load(void)
{
	static struct dynlib lib = { .soname = "libcurl.so.4", .package = "libcurl4" };
	return dynlib_load(&lib, fill) == 0 ? NULL : lib.err;
}
