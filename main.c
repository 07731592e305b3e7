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
#include "lua/lbudget.h"
#include "hw/hw.h"
#include "mqtt_codec.h"
#include "log.h"
#include "loop.h"
#include "datadir.h"
#include "db.h"
#include "lua/lfleet.h"
#include "lua/cli_bundle.h"
#include "xalloc.h"

/* lia run keeps its state in the data directory, and so do lia pub and
 * lia sub with -c: a persistent session is resumed only with lia's half
 * of it (the store), else the core discards it (mqtt_client_impl.h's
 * FRESH_*) and what the broker kept for -c -i X would be lost. */
static bool keeps_state(const char *cmd, const struct lia_args *a)
{
	bool tool = strcmp(cmd, "pub") == 0 || strcmp(cmd, "sub") == 0;
	return strcmp(cmd, "run") == 0 || (tool && a->no_clean);
}

/* lia run: the data directory made to exist. One that was asked for and
 * cannot be had is an error; when the default cannot be had, lia runs
 * without one (what needs it says so). 0, or -1 with the error reported. */
static int data_dir(const char *cmd, struct lia_args *a)
{
	static char dir[4096];
	char err[4200];
	if (datadir_resolve(a->data_dir, dir, sizeof dir, err, sizeof err) == 0) {
		a->data_dir = dir;
		return 0;
	}
	if (a->data_dir) {
		fprintf(stderr, "lia %s: %s\n", cmd, err);
		return -1;
	}
	log_warn("%s; nothing is kept across restarts", err);
	return 0;
}

/* lia pub / lia sub take from the configuration what says where and how to
 * connect (broker, credentials, TLS, proxy, protocol, keep-alive), never the
 * agent's client id, will or session: a lia pub with the agent's id would
 * throw the agent off the broker. Command-line options win. */
static void take_connection(struct lia_args *a, const struct lia_args *f)
{
	const char **strs[] = { &a->username, &a->password, &a->cafile, &a->capath, &a->cert,
		&a->key, &a->keypass, &a->alpn, &a->ciphers, &a->tls_version, &a->proxy };
	const char *const fstrs[] = { f->username, f->password, f->cafile, f->capath, f->cert,
		f->key, f->keypass, f->alpn, f->ciphers, f->tls_version, f->proxy };
	if (!args_broker_given(a) && !a->unix_path) {
		a->uri = f->uri;
		a->host = f->host;
		a->port = f->port;
	}
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (!*strs[i])
			*strs[i] = fstrs[i];
	a->insecure = a->insecure || f->insecure;
	if (a->keepalive < 0)
		a->keepalive = f->keepalive;
	if (a->protocol < 0)
		a->protocol = f->protocol;
}

/* lia pub / lia sub: --config, else config_user_path(). 0, or -1 with the
 * error reported. */
static int configure_tool(const char *cmd, struct lia_args *a, char **storage)
{
	char err[1024];
	struct lia_args f;
	const char *path = a->config ? a->config : config_user_path();
	args_init(&f);
	if (path && config_load(path, &f, storage, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (path)
		take_connection(a, &f);
	return keeps_state(cmd, a) ? data_dir(cmd, a) : 0;
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
	if (args_check_combination(a, err, sizeof err) < 0) {
		fprintf(stderr, "lia %s: %s\n", cmd, err);
		return -1;
	}
	if (a->hw)
		hw_select(a->hw);
	args_field_defaults(a);
	return keeps_state(cmd, a) ? data_dir(cmd, a) : 0;
}

static int check(const struct lia_args *a)
{
	char err[1024];
	const char *path = a->script;
	if (!path) {            /* a configuration without a script: it parsed */
		puts("ok");
		return 0;
	}
	/* lia.gpio/serial/i2c are stand-ins in a check (lia.dry); lia.sim
	 * models still load */
	hw_select("sim");
	lbudget_configure((unsigned)a->handler_budget_ms, 0);
	if ((a->compile_only ? host_compile(path, err, sizeof err) : host_check(path, a, err, sizeof err)) < 0) {
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
	struct host *h;
	if (run)
		lbudget_configure((unsigned)a->handler_budget_ms, (unsigned)a->quarantine);
	h = l ? host_new(l, run && a->verbose) : NULL;
	if (!h) {
		fprintf(stderr, "lia: out of memory\n");
		loop_free(l);
		return 1;
	}
	if (run)
		host_set_memory_limit(h, (size_t)a->memory_limit_mb << 20);
	if (run && (a->debug || a->verbose))
		log_set_level(LOG_DEBUG);
	else if (!run)  /* pub/sub say every failure themselves, in one line as
			 * mosquitto_pub does, so not even the client's error lines
			 * (a permanent CONNACK refusal) show; -d: the packet trace
			 * on stdout (lia.cli) and the warnings on stderr */
		log_set_level(a->debug ? LOG_WARN : LOG_ERROR - 1);
	else if (a->log_level >= 0)
		log_set_level(a->log_level);
	if (run && (a->log_format ? strcmp(a->log_format, "journal") == 0 : log_stderr_is_journal()))
		log_set_journal(1);
	if (keeps_state(cmd, a))
		db_process_open(a->data_dir, l);    /* the process's, kept across script reloads */
	if (run && a->fleet)
		lfleet_watch();
	r = run ? host_run_script(h, lfleet_deploy_script(a), a, err, sizeof err)
		: host_run_cli(h, cmd, a, err, sizeof err);
	if (r < 0) {
		if (err[0])
			fprintf(stderr, "%s\n", err);
	} else if (run && lfleet_start(h, a, err, sizeof err) < 0) {
		fprintf(stderr, "lia: %s\n", err);
	} else {
		status = host_loop(h);
		reload = host_reload_requested(h);
	}
	lfleet_free();  /* the fleet client goes before the host and the loop */
	host_free(h);
	db_process_close();     /* after every client's store is gone */
	loop_free(l);
	return status;
}

/* `lia X` where X is no command: a script when it names a file or looks
 * like one (a path, or *.lua: then lia run reports it missing). */
static bool is_script(const char *s)
{
	size_t n = strlen(s);
	return s[0] != '-' && (strchr(s, '/') || (n > 4 && strcmp(s + n - 4, ".lua") == 0) ||
		access(s, F_OK) == 0);
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
	if (cli_bundle_is(cmd)) {
		/* lia keygen, lia bundle sign|push, lia fleet (docs/fleet.md) */
		const char *fn;
		int br = cli_bundle_main(argc - 1, argv + 1, &a, &fn);
		signal(SIGPIPE, SIG_IGN);
		setvbuf(stdout, NULL, _IOLBF, 0);
		return fn ? run(fn, &a) : br;
	}
	bool known = false;
	for (int i = 0; cmds[i]; i++)
		known = known || strcmp(cmds[i], cmd) == 0;
	int skip = 2;
	if (!known && is_script(cmd)) {
		/* lia script.lua [args], and so #!/usr/bin/env lia */
		cmd = "run";
		skip = 1;
	} else if (!known) {
		fprintf(stderr, "lia: unknown command '%s' (see lia --help)\n", cmd);
		return 1;
	}
	int r = cli_args_parse(cmd, &a, argc - skip, argv + skip);
	if (r)
		return r < 0 ? 1 : 0;
	char *config = NULL;
	if (strcmp(cmd, "pub") == 0 || strcmp(cmd, "sub") == 0 ? configure_tool(cmd, &a, &config) < 0 :
			configure(cmd, &a, &config) < 0)
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
