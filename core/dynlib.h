/*
 * dynlib.h - a system library loaded when it is first needed (dlopen), not
 * when lia starts: an agent that never makes a TLS connection or an HTTP
 * request does not carry OpenSSL or libcurl (and what they load) in its
 * resident memory. Plain C, no Lua.
 *
 * A user lists the functions it calls once, as an X-macro LIST(X), declares
 * their table with DYNLIB_TABLE(api, LIST) right after the library's own
 * header, then maps every name to its slot with a plain
 *     #define curl_easy_init (*curl_api.p_curl_easy_init)
 * so the calling code reads as ordinary library code, the library header's
 * own function-like macros (SSL_CTX_set_mode -> SSL_CTX_ctrl) included.
 * lia is not linked with the library, so the linker proves the list
 * complete: a function missing from it is an undefined reference.
 * DYNLIB_LOAD fills the table on the first call; one line says what is
 * missing and which Debian package has it.
 */
#ifndef LIA_DYNLIB_H
#define LIA_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

struct dynlib {
	const char *soname;     /* "libcurl.so.4" */
	const char *package;    /* the Debian package with it: "libcurl4" */
	void *handle;           /* NULL until opened */
	bool ready;             /* opened and every function found */
	bool failed;            /* tried and failed: err says why, for every later caller */
	char err[200];
};

#define DYNLIB_SLOT(fn) __typeof__(fn) *p_##fn;
/* struct api##_table and its one instance, named api */
#define DYNLIB_TABLE(api, LIST) \
	struct api##_table { LIST(DYNLIB_SLOT) }; \
	extern struct api##_table api;

/* Fills a table from an opened library: 0, or -1 when a function is
 * missing (dynlib_sym said which). */
typedef int dynlib_fill_fn(struct dynlib *d);

/* Open d and fill its table with fill, once: later calls answer from the
 * first. 0, or -1 with d->err: "SONAME not found: apt install PACKAGE". */
int dynlib_load(struct dynlib *d, dynlib_fill_fn *fill);
/* fn's address in the opened d, or NULL with d->err saying it is missing. */
void *dynlib_sym(struct dynlib *d, const char *fn);

/* One line of a fill function, LIST(DYNLIB_FILL) with d in scope and
 * DYNLIB_API #defined as the table's name: DYNLIB_API.p_fn from d, or
 * return -1. (The name is pasted and stringized at the first level, so
 * the #defines that redirect it never expand it here.) */
#define DYNLIB_FILL(fn) \
	if (!(DYNLIB_API.p_##fn = (__typeof__(DYNLIB_API.p_##fn))dynlib_sym(d, #fn))) \
		return -1;

#endif
