/*
 * test_dynlib.c - libraries loaded on first use: a missing library or
 * function fails in one line naming the library and the Debian package,
 * the first answer sticks, a present one fills its table; and lia itself
 * does not link what it loads this way (OpenSSL, libcurl, SQLite,
 * libsystemd stay out of memory until used).
 */
#include <link.h>
#include <stdlib.h>

#include "dynlib.h"
#include "ossl.h"
#include "test.h"

#define LIBC_API(X) X(strlen)
DYNLIB_TABLE(libc_api, LIBC_API)
struct libc_api_table libc_api;

#define DYNLIB_API libc_api
static int fill_libc(struct dynlib *d)
{
	LIBC_API(DYNLIB_FILL)
	return 0;
}
#undef DYNLIB_API

static int fill_missing(struct dynlib *d)
{
	return dynlib_sym(d, "no_such_function_in_libc") ? 0 : -1;
}

static int fills;
static int fill_count(struct dynlib *d)
{
	(void)d;
	return ++fills, 0;
}

static void test_missing_library(void)
{
	struct dynlib d = { .soname = "libnosuch-lia-test.so.9", .package = "libnosuch9" };
	CHECK_EQ_INT(dynlib_load(&d, fill_libc), -1);
	CHECK(strcmp(d.err, "libnosuch-lia-test.so.9 not found: apt install libnosuch9") == 0);
	CHECK_EQ_INT(dynlib_load(&d, fill_libc), -1);   /* the same answer, no second try */
	CHECK(strchr(d.err, '\n') == NULL);
}

static void test_missing_function(void)
{
	struct dynlib d = { .soname = "libc.so.6", .package = "libc6" };
	CHECK_EQ_INT(dynlib_load(&d, fill_missing), -1);
	CHECK(strcmp(d.err, "libc.so.6 has no no_such_function_in_libc (too old): apt install libc6") == 0);
	CHECK_EQ_INT(dynlib_load(&d, fill_missing), -1);
}

static void test_fills_once(void)
{
	struct dynlib d = { .soname = "libc.so.6", .package = "libc6" };
	CHECK_EQ_INT(dynlib_load(&d, fill_libc), 0);
	CHECK(libc_api.p_strlen != NULL);
	CHECK_EQ_INT(libc_api.p_strlen("four"), 4);
	struct dynlib e = { .soname = "libc.so.6", .package = "libc6" };
	CHECK_EQ_INT(dynlib_load(&e, fill_count), 0);
	CHECK_EQ_INT(dynlib_load(&e, fill_count), 0);
	CHECK_EQ_INT(fills, 1);
}

static int find_lib(struct dl_phdr_info *info, size_t size, void *ud)
{
	(void)size;
	return strstr(info->dlpi_name, (const char *)ud) != NULL;
}

static bool mapped(const char *name)
{
	return dl_iterate_phdr(find_lib, (void *)name) != 0;
}

/* This binary links core/ as lia does: nothing maps OpenSSL before the
 * first load, and the load maps it and answers with working functions. */
static void test_openssl_on_first_use(void)
{
	CHECK(!mapped("libssl.so"));
	CHECK(!mapped("libcrypto.so"));
	CHECK(!mapped("libsqlite3.so"));
	CHECK(!mapped("libsystemd.so"));
	CHECK(ossl_ssl_load() == NULL);
	CHECK(mapped("libssl.so.3"));
	CHECK(mapped("libcrypto.so.3"));
	unsigned char out[8];
	CHECK_EQ_INT(EVP_EncodeBlock(out, (const unsigned char *)"lia", 3), 4);
	CHECK(memcmp(out, "bGlh", 4) == 0);
}

int main(void)
{
	RUN(test_missing_library);
	RUN(test_missing_function);
	RUN(test_fills_once);
	RUN(test_openssl_on_first_use);
	return test_report("dynlib");
}
