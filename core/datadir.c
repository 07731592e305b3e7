/*
 * datadir.c - the data directory: choose it (datadir.h) and make it exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datadir.h"

/* The default when nothing was given: 0, or -1 when there is no home. */
static int default_dir(char *out, size_t outlen)
{
	const char *state = getenv("STATE_DIRECTORY");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (state && *state) {
		size_t len = strcspn(state, ":");
		n = snprintf(out, outlen, "%.*s", (int)len, state);
	} else if (xdg && *xdg == '/') {
		n = snprintf(out, outlen, "%s/lia", xdg);
	} else if (home && *home) {
		n = snprintf(out, outlen, "%s/.local/state/lia", home);
	} else {
		return -1;
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* mkdir -p with mode 0700 for what it creates; 0 or -1 with errno. */
static int make_dirs(char *path)
{
	struct stat st;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0700);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int datadir_resolve(const char *given, char *out, size_t outlen, char *err, size_t errlen)
{
	int n;
	if (given && *given) {
		n = snprintf(out, outlen, "%s", given);
		if (n < 0 || (size_t)n >= outlen) {
			snprintf(err, errlen, "%.64s...: data directory path too long", given);
			return -1;
		}
	} else if (default_dir(out, outlen) < 0) {
		snprintf(err, errlen, "no data directory: set --data-dir (or data_dir = in the "
			"configuration), $STATE_DIRECTORY or $HOME");
		return -1;
	}
	n = (int)strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	if (make_dirs(out) < 0) {
		snprintf(err, errlen, "%s: data directory: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}
