/*
 * fuzz_uri.c - libFuzzer target over the broker URI parser (core/uri.c):
 * the input is the URI (cut at its first NUL). A parse that succeeds must
 * leave every field NUL-terminated inside its array, a known scheme and a
 * port; a failure must leave a NUL-terminated message in err.
 */
#include <stdlib.h>
#include <string.h>

#include "uri.h"

static void check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	char err[256];
	struct uri u;
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(err, 'x', sizeof err);
	if (uri_parse(s, &u, err, sizeof err) == 0) {
		check_str(u.scheme, sizeof u.scheme);
		check_str(u.host, sizeof u.host);
		check_str(u.path, sizeof u.path);
		check_str(u.user, sizeof u.user);
		check_str(u.pass, sizeof u.pass);
		if (strcmp(u.scheme, "unix") != 0 && u.port == 0)
			abort();
	} else {
		check_str(err, sizeof err);
	}
	free(s);
	return 0;
}
