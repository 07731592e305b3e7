/*
 * test_datadir.c - the data directory: what was given wins, then
 * $STATE_DIRECTORY (its first entry), $XDG_STATE_HOME/lia, $HOME/.local/state/lia;
 * it is created with its parents, and what cannot be had is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "test.h"

static char root[64];

static void unset_all(void)
{
	unsetenv("STATE_DIRECTORY");
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
}

static int is_dir(const char *p, mode_t mode)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == mode;
}

static void test_given_created_with_parents(void)
{
	char want[128], out[256], err[256];
	snprintf(want, sizeof want, "%s/a/b/c", root);
	CHECK_EQ_INT(datadir_resolve(want, out, sizeof out, err, sizeof err), 0);
	CHECK(strcmp(out, want) == 0);
	CHECK(is_dir(want, 0700));
	/* trailing slashes go; an existing directory is fine */
	snprintf(want, sizeof want, "%s/a/b/c//", root);
	CHECK_EQ_INT(datadir_resolve(want, out, sizeof out, err, sizeof err), 0);
	CHECK(out[strlen(out) - 1] == 'c');
}

static void test_defaults_in_order(void)
{
	char env[200], want[200], out[256], err[256];
	unset_all();
	snprintf(env, sizeof env, "%s/home", root);
	setenv("HOME", env, 1);
	CHECK_EQ_INT(datadir_resolve(NULL, out, sizeof out, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/home/.local/state/lia", root);
	CHECK(strcmp(out, want) == 0);
	snprintf(env, sizeof env, "%s/xdg", root);
	setenv("XDG_STATE_HOME", env, 1);
	CHECK_EQ_INT(datadir_resolve("", out, sizeof out, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/xdg/lia", root);
	CHECK(strcmp(out, want) == 0);
	snprintf(env, sizeof env, "%s/state:%s/other", root, root);
	setenv("STATE_DIRECTORY", env, 1);
	CHECK_EQ_INT(datadir_resolve(NULL, out, sizeof out, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/state", root);
	CHECK(strcmp(out, want) == 0);
}

static void test_errors(void)
{
	char file[128], out[256], err[256];
	unset_all();
	CHECK_EQ_INT(datadir_resolve(NULL, out, sizeof out, err, sizeof err), -1);
	CHECK(strstr(err, "--data-dir") != NULL);
	snprintf(file, sizeof file, "%s/file", root);
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_EQ_INT(datadir_resolve(file, out, sizeof out, err, sizeof err), -1);
	CHECK(strstr(err, "Not a directory") != NULL);
	CHECK(strncmp(err, file, strlen(file)) == 0);
	CHECK_EQ_INT(datadir_resolve(file, out, 8, err, sizeof err), -1);
	CHECK(strstr(err, "too long") != NULL);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/lia-datadir-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	RUN(test_given_created_with_parents);
	RUN(test_defaults_in_order);
	RUN(test_errors);
	char cmd[96];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return test_report("datadir");
}
