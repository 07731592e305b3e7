/*
 * main.c - the command line: lia run | pub | sub | check, --version, --help.
 * Argument parsing and sub-commands only; the work is in lua/host.c and
 * the embedded lia.cli module.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua/args.h"
#include "lua/cli_args.h"
#include "lua/config.h"
#include "lua/host.h"
#include "hw/hw.h"
#include "log.h"
#include "loop.h"
#include "datadir.h"
#include "xalloc.h"


/* lia run: the data directory made to exist. One that was asked for and
 * cannot be had is an error; when the default cannot be had, lia runs
 * without one (what needs it says so). 0, or -1 with the error reported. */
static int data_dir(struct lia_args *a)
{
	static char dir[4096];
	char err[4200];
	if (datadir_resolve(a->data_dir, dir, sizeof dir, err, sizeof err) == 0) {
		a->data_dir = dir;
		return 0;
	}
	if (a->data_dir) {
		fprintf(stderr, "lia run: %s\n", err);
		return -1;
	}
	log_warn("%s; nothing is kept across restarts", err);
	return 0;
}

/* The configuration file under the command line: --config, else for lia run
 * config_default_path(). With a configuration, the default client's id
 * defaults to the host name (one agent per device); without one it stays
 * generated, as in mosquitto_pub. 0, or -1 with the error reported. */
static int configure(const char *cmd, struct lia_args *a, char **storage)
{
	static char hostname[256];
	char err[1024];
	const char *path = a->config;
	if (!path && strcmp(cmd, "run") == 0)
		path = config_default_path();
	if (a->sim_models && !a->hw)
		a->hw = "sim";          /* --sim implies it: the file's hw must not win */
	if (path && config_load(path, a, storage, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (path && !a->id && gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0])
		a->id = hostname;
	if (!a->script && strcmp(cmd, "run") == 0)
		return cli_args_bad(cmd, "%s", path ? "missing script.lua (nor script = in the configuration)" :
			"missing script.lua");
	if (a->hw)
		hw_select(a->hw);
	return strcmp(cmd, "run") == 0 ? data_dir(a) : 0;
}

static int check(const struct lia_args *a)
{
	char err[1024];
	const char *path = a->script;
	if (!path) {            /* a configuration without a script: it parsed */
		puts("ok");
		return 0;
	}
	if (host_check(path, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	puts("ok");
	return 0;
}

static bool reload;              /* lia run ended on SIGHUP */

static int run(const char *cmd, const struct lia_args *a)
{
	char err[1024] = "";
	int status = 1, r;
	bool run = strcmp(cmd, "run") == 0;
	struct loop *l = loop_new();
	struct host *h = l ? host_new(l, run && a->verbose) : NULL;
	if (!h) {
		fprintf(stderr, "lia: out of memory\n");
		loop_free(l);
		return 1;
	}
	if (a->debug || (run && a->verbose))
		log_set_level(LOG_DEBUG);
	else if (!run)
		log_set_level(LOG_ERROR);   /* pub/sub say themselves what went wrong */
	else if (a->log_level >= 0)
		log_set_level(a->log_level);
	if (run && (a->log_format ? strcmp(a->log_format, "journal") == 0 : log_stderr_is_journal()))
		log_set_journal(1);
	r = run ? host_run_script(h, a->script, a, err, sizeof err)
		: host_run_cli(h, cmd, a, err, sizeof err);
	if (r < 0) {
		if (err[0])
			fprintf(stderr, "%s\n", err);
	} else {
		status = host_loop(h);
		reload = host_reload_requested(h);
	}
	host_free(h);
	loop_free(l);
	return status;
}

int main(int argc, char **argv)
{
	static const char *const cmds[] = { "run", "pub", "sub", "check", NULL };
	struct lia_args a;
	const char *cmd = argc > 1 ? argv[1] : NULL;
	if (!cmd) {
		cli_args_main_help(stderr);
		return 1;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("lia %s\n", LIA_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0) {
		cli_args_usage(NULL);
		return 0;
	}
	bool known = false;
	for (int i = 0; cmds[i]; i++)
		known = known || strcmp(cmds[i], cmd) == 0;
	if (!known) {
		fprintf(stderr, "lia: unknown command '%s' (see lia --help)\n", cmd);
		return 1;
	}
	int r = cli_args_parse(cmd, &a, argc - 2, argv + 2);
	if (r)
		return r < 0 ? 1 : 0;
	char *config = NULL;
	if (strcmp(cmd, "pub") != 0 && strcmp(cmd, "sub") != 0 && configure(cmd, &a, &config) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "check") == 0)
		r = check(&a);
	else
		r = run(cmd, &a);
	if (reload) {
		/* A full reload: a new process image with the same arguments
		 * (same pid, so systemd keeps tracking it) re-reads the
		 * configuration and the scripts. */
		fflush(NULL);
		execv("/proc/self/exe", argv);
		log_error("SIGHUP: cannot re-execute lia: %s", strerror(errno));
		r = 1;          /* under systemd, Restart=on-failure starts it again */
	}
	xfree(config);
	return r;
}
