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
#include "lua/config.h"
#include "lua/host.h"
#include "lua/lbudget.h"
#include "hw/hw.h"
#include "log.h"
#include "loop.h"
#include "datadir.h"
#include "xalloc.h"

static const char common_help[] =
	"  -h, --host HOST          broker host (default localhost)\n"
	"  -p, --port PORT          broker port (default 1883)\n"
	"  -L, --broker URI         mqtt://[user[:pass]@]host[:port]\n"
	"  -i, --id ID              client id\n"
	"  -u, --username U         user name\n"
	"  -P, --pw PASSWORD        password\n"
	"  -k, --keepalive S        keep-alive in seconds (default 60)\n"
	"  -V, --protocol-version V 31, 311, 5, mqttv31, mqttv311 or mqttv5 (default 311)\n"
	"  -q, --qos N              quality of service 0, 1 or 2\n"
	"  -c, --disable-clean-session\n"
	"  -x, --session-expiry S   MQTT 5 session expiry interval\n"
	"  --will-topic T  --will-payload P  --will-qos N  --will-retain\n"
	"  --cafile F  --capath D   CA certificates (TLS; default: the system store)\n"
	"  --cert F  --key F  --keypass P   client certificate, key, key password\n"
	"  --alpn P  --ciphers C  --tls-version tlsv1.2|tlsv1.3 (minimum)\n"
	"  --insecure               TLS without certificate checks (warns at every connect)\n"
	"  --proxy URI              socks5://host:port, http://host:port or none\n"
	"                           (default: all_proxy / https_proxy / http_proxy)\n";

static const char main_help[] =
	"usage: lia run [options] [--config FILE] script.lua   run a script\n"
	"       lia pub [options] -t topic (-m msg | -l | -n | -s | -f file)\n"
	"       lia sub [options] -t filter [-t filter ...] [-C n] [-W s] [-v] [-N] [-R]\n"
	"       lia check [--config FILE] [script.lua]          load as a reload would\n"
	"       lia --version | --help | lia <command> --help\n";

static void usage(const char *cmd)
{
	if (!cmd) {
		fputs(main_help, stdout);
		return;
	}
	if (strcmp(cmd, "check") == 0) {
		puts("usage: lia check [--config FILE] [--compile] [script.lua]\n"
			"Load the script as a reload would (main chunk and required modules run, nothing\n"
			"is sent, hardware untouched): prints \"ok\" or \"file:line: message\" (exit 1).\n"
			"  --config FILE            validate FILE too (and its script when none is given)\n"
			"  --compile                only compile the script (no modules, nothing runs)");
		return;
	}
	if (strcmp(cmd, "run") == 0)
		puts("usage: lia run [options] script.lua\n"
			"Run a script; the options set up the default client (global `mqtt`).\n"
			"  -v, --verbose            verbose log, tracebacks with errors\n"
			"  -d, --debug              debug log\n"
			"  --config FILE            configuration (default $LIA_CONFIG, else " CONFIG_DEFAULT_PATH "\n"
			"                           when it exists); the command line overrides it\n"
			"  --log-format text|journal  journal: <N> level prefixes, no timestamps\n"
			"                           (default when stderr is systemd's journal)\n"
			"  --hw linux|sim           hardware backend for lia.gpio/serial/i2c (default linux)\n"
			"  --sim models.lua         simulated devices to load first (implies --hw sim)\n"
			"  --data-dir DIR           where state that outlives lia is kept (default\n"
			"                           $STATE_DIRECTORY, else ~/.local/state/lia)\n"
			"  --handler-budget MS      longest a handler may run without waiting (default\n"
			"                           1000, 0: no limit)\n"
			"  --memory-limit MB        the scripts' memory (default 64, 0: no limit)\n"
			"  --quarantine N           disable a handler after N errors within a minute\n"
			"                           (default 5, 0: never)\n"
			"  --health-window S        after a reload, seconds the new scripts are on\n"
			"                           probation (default 30)\n"
			"  --health-errors N        errors in the window that roll back (default 3)\n"
			"  --no-watch               reload on SIGHUP only, not on a changed .lua file");
	else if (strcmp(cmd, "pub") == 0)
		puts("usage: lia pub [options] -t topic (-m msg | -l | -n | -s | -f file)\n"
			"  -t, --topic T            topic to publish to\n"
			"  -m, --message M          the message\n"
			"  -l, --stdin-line         each line of stdin is a message\n"
			"  -n, --null-message       an empty message\n"
			"  -s, --stdin-file         all of stdin is one message\n"
			"  -f, --file F             the content of file F is the message\n"
			"  -r, --retain             retain the message\n"
			"  --repeat N               publish the message N times\n"
			"  -d, --debug              debug log");
	else
		puts("usage: lia sub [options] -t filter [-t filter ...]\n"
			"  -t, --topic F            filter to subscribe to (repeatable)\n"
			"  -v, --verbose            print \"topic payload\"\n"
			"  -C, --count N            exit after N messages\n"
			"  -W, --timeout S          exit after S seconds (status 27)\n"
			"  -N                       no newline after the payload\n"
			"  -R                       skip retained messages\n"
			"  -d, --debug              debug log");
	fputs(common_help, stdout);
}

static int bad(const char *cmd, const char *fmt, const char *what)
{
	fprintf(stderr, "lia%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, what);
	fprintf(stderr, " (see lia %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
	return -1;
}

static int number(const char *cmd, const char *opt, const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "lia %s: %s: '%s' is not a number in %ld..%ld\n", cmd, opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int protocol(const char *cmd, const char *s, int *out)
{
	static const struct { const char *name; int v; } names[] = {
		{ "31", 3 }, { "mqttv31", 3 }, { "3", 3 }, { "311", 4 }, { "mqttv311", 4 },
		{ "4", 4 }, { "5", 5 }, { "mqttv5", 5 },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(names[i].name, s) == 0) {
			*out = names[i].v;
			return 0;
		}
	}
	fprintf(stderr, "lia %s: -V: '%s' is not 31, 311 or 5\n", cmd, s);
	return -1;
}

/* Is arg one of the spellings in names ("-h|--host")? */
static bool is(const char *arg, const char *names)
{
	size_t n = strlen(arg);
	for (const char *p = names; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, arg, n) == 0)
			return true;
		p += len + (bar != NULL);
	}
	return false;
}

/* TLS and proxy options: true when o was one. */
static bool tls_opt(struct lia_args *a, const char *o, const char *val)
{
	static const struct { const char *name; size_t off; } opts[] = {
		{ "--cafile", offsetof(struct lia_args, cafile) },
		{ "--capath", offsetof(struct lia_args, capath) },
		{ "--cert", offsetof(struct lia_args, cert) },
		{ "--key", offsetof(struct lia_args, key) },
		{ "--keypass", offsetof(struct lia_args, keypass) },
		{ "--alpn", offsetof(struct lia_args, alpn) },
		{ "--ciphers", offsetof(struct lia_args, ciphers) },
		{ "--tls-version", offsetof(struct lia_args, tls_version) },
		{ "--proxy", offsetof(struct lia_args, proxy) },
	};
	if (strcmp(o, "--insecure") == 0)
		return a->insecure = true;
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		if (strcmp(o, opts[i].name) == 0) {
			*(const char **)((char *)a + opts[i].off) = val;
			return true;
		}
	}
	return false;
}

/* Options every command with a client takes; 1 when taken, 0 when not
 * ours, -1 on error. *i is advanced past a value. */
static int common_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	long v;
	static const char *const valued = "-h|--host|-p|--port|-L|--broker|-i|--id|-u|--username|"
		"-P|--pw|-k|--keepalive|-V|--protocol-version|-q|--qos|-x|--session-expiry|"
		"--will-topic|--will-payload|--will-qos|--cafile|--capath|--cert|--key|--keypass|"
		"--alpn|--ciphers|--tls-version|--proxy";
	const char *val = NULL;
	if (is(o, valued)) {
		if (*i + 1 >= argc)
			return bad(cmd, "option %s needs a value", o);
		val = argv[++*i];
	}
	if (is(o, "-h|--host"))
		a->host = val;
	else if (is(o, "-p|--port"))
		return number(cmd, o, val, 1, 65535, &v) < 0 ? -1 : (a->port = (int)v, 1);
	else if (is(o, "-L|--broker"))
		a->uri = val;
	else if (is(o, "-i|--id"))
		a->id = val;
	else if (is(o, "-u|--username"))
		a->username = val;
	else if (is(o, "-P|--pw"))
		a->password = val;
	else if (is(o, "-k|--keepalive"))
		return number(cmd, o, val, 0, 65535, &v) < 0 ? -1 : (a->keepalive = (int)v, 1);
	else if (is(o, "-V|--protocol-version"))
		return protocol(cmd, val, &a->protocol) < 0 ? -1 : 1;
	else if (is(o, "-q|--qos"))
		return number(cmd, o, val, 0, 2, &v) < 0 ? -1 : (a->qos = (int)v, 1);
	else if (is(o, "-x|--session-expiry"))
		return number(cmd, o, val, 0, 4294967295L, &v) < 0 ? -1 : (a->session_expiry = v, 1);
	else if (is(o, "--will-topic"))
		a->will_topic = val;
	else if (is(o, "--will-payload"))
		a->will_payload = val;
	else if (is(o, "--will-qos"))
		return number(cmd, o, val, 0, 2, &v) < 0 ? -1 : (a->will_qos = (int)v, 1);
	else if (is(o, "--will-retain"))
		a->will_retain = true;
	else if (tls_opt(a, o, val))
		return 1;
	else if (is(o, "-c|--disable-clean-session"))
		a->no_clean = true;
	else if (is(o, "-d|--debug"))
		a->debug = true;
	else
		return 0;
	return 1;
}

static int set_mode(const char *cmd, struct lia_args *a, char mode)
{
	if (a->mode && a->mode != mode)
		return bad(cmd, "%s", "only one of -m, -l, -n, -s, -f");
	a->mode = mode;
	return 1;
}

static int add_topic(const char *cmd, struct lia_args *a, const char *t)
{
	if (a->ntopics == ARGS_MAX_TOPICS)
		return bad(cmd, "%s", "too many -t");
	a->topics[a->ntopics++] = t;
	return 1;
}

/* Options of one command; same results as common_opt. */
static int command_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	long v;
	bool pub = strcmp(cmd, "pub") == 0, sub = strcmp(cmd, "sub") == 0;
	bool runs = strcmp(cmd, "run") == 0;
	bool valued = (pub && is(o, "-t|--topic|-m|--message|-f|--file|--repeat")) ||
		(sub && is(o, "-t|--topic|-C|--count|-W|--timeout")) || (runs && is(o, "--hw|--sim|--log-format|--data-dir|--handler-budget|--memory-limit|"
		"--quarantine|--health-window|--health-errors"));
	if (valued && !val)
		return bad(cmd, "option %s needs a value", o);
	if (valued)
		++*i;
	if (is(o, "-v|--verbose") && !pub) {
		a->verbose = true;
	} else if (pub && is(o, "-t|--topic")) {
		if (a->ntopics)
			return bad(cmd, "%s", "only one -t topic");
		return add_topic(cmd, a, val);
	} else if (pub && is(o, "-m|--message")) {
		a->message = val;
		return set_mode(cmd, a, 'm');
	} else if (pub && is(o, "-f|--file")) {
		a->file = val;
		return set_mode(cmd, a, 'f');
	} else if (pub && is(o, "-l|--stdin-line")) {
		return set_mode(cmd, a, 'l');
	} else if (pub && is(o, "-n|--null-message")) {
		return set_mode(cmd, a, 'n');
	} else if (pub && is(o, "-s|--stdin-file")) {
		return set_mode(cmd, a, 's');
	} else if (pub && is(o, "-r|--retain")) {
		a->retain = true;
	} else if (pub && is(o, "--repeat")) {
		return number(cmd, o, val, 1, INT_MAX, &v) < 0 ? -1 : (a->repeat = (int)v, 1);
	} else if (sub && is(o, "-t|--topic")) {
		return add_topic(cmd, a, val);
	} else if (sub && is(o, "-C|--count")) {
		return number(cmd, o, val, 1, INT_MAX, &v) < 0 ? -1 : (a->count = (int)v, 1);
	} else if (sub && is(o, "-W|--timeout")) {
		return number(cmd, o, val, 1, 86400 * 365, &v) < 0 ? -1 : (a->timeout = (int)v, 1);
	} else if (sub && is(o, "-N")) {
		a->no_newline = true;
	} else if (sub && is(o, "-R")) {
		a->skip_retained = true;
	} else if (runs && is(o, "--hw")) {
		if (strcmp(val, "linux") != 0 && strcmp(val, "sim") != 0)
			return bad(cmd, "--hw: '%s' is not linux or sim", val);
		a->hw = val;
	} else if (runs && is(o, "--data-dir")) {
		a->data_dir = val;
	} else if (runs && is(o, "--handler-budget")) {
		return number(cmd, o, val, 0, 3600000, &v) < 0 ? -1 : (a->handler_budget_ms = (int)v, 1);
	} else if (runs && is(o, "--memory-limit")) {
		return number(cmd, o, val, 0, 65536, &v) < 0 ? -1 : (a->memory_limit_mb = (int)v, 1);
	} else if (runs && is(o, "--quarantine")) {
		return number(cmd, o, val, 0, 1000000, &v) < 0 ? -1 : (a->quarantine = (int)v, 1);
	} else if (runs && is(o, "--health-window")) {
		return number(cmd, o, val, 0, 86400, &v) < 0 ? -1 : (a->health_window_s = (int)v, 1);
	} else if (runs && is(o, "--health-errors")) {
		return number(cmd, o, val, 1, 1000000, &v) < 0 ? -1 : (a->health_errors = (int)v, 1);
	} else if (runs && is(o, "--no-watch")) {
		a->no_watch = true;
	} else if (runs && is(o, "--sim")) {
		a->sim_models = val;
	} else if (runs && is(o, "--log-format")) {
		if (strcmp(val, "text") != 0 && strcmp(val, "journal") != 0)
			return bad(cmd, "--log-format: '%s' is not text or journal", val);
		a->log_format = val;
	} else {
		return 0;
	}
	return 1;
}

/* 0 ok, -1 error (reported), 1 help printed. */
static int parse(const char *cmd, struct lia_args *a, int argc, char **argv)
{
	bool script = strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0;
	args_init(a);
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i];
		int r = 0;
		if (strcmp(o, "--help") == 0) {
			usage(cmd);
			return 1;
		}
		if (o[0] != '-' || o[1] == '\0') {
			if (!script || a->script)
				return bad(cmd, "unexpected argument '%s'", o);
			a->script = o;
			continue;
		}
		if (strcmp(cmd, "check") == 0 && strcmp(o, "--compile") == 0) {
			a->compile_only = true;
			continue;
		}
		if (script && strcmp(o, "--config") == 0) {
			if (i + 1 >= argc)
				return bad(cmd, "option %s needs a value", o);
			a->config = argv[++i];
			continue;
		}
		if (strcmp(cmd, "check") != 0 && (r = common_opt(cmd, a, argc, argv, &i)) == 0)
			r = command_opt(cmd, a, argc, argv, &i);
		if (r < 0)
			return -1;
		if (r == 0)
			return bad(cmd, "unknown option '%s'", o);
	}
	/* lia run may take its script from the configuration (configure) */
	if (strcmp(cmd, "check") == 0 && !a->script && !a->config)
		return bad(cmd, "%s", "missing script.lua");
	if (strcmp(cmd, "pub") == 0 && (!a->ntopics || !a->mode))
		return bad(cmd, "%s", !a->ntopics ? "missing -t topic" :
			"missing the message: one of -m, -l, -n, -s, -f");
	if (strcmp(cmd, "sub") == 0 && !a->ntopics)
		return bad(cmd, "%s", "missing -t filter");
	if (a->sim_models && a->hw && strcmp(a->hw, "sim") != 0)
		return bad(cmd, "%s", "--sim needs --hw sim");
	if (a->hw || a->sim_models)
		hw_select(a->hw ? a->hw : "sim");
	return 0;
}

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
		return bad(cmd, "%s", path ? "missing script.lua (nor script = in the configuration)" :
			"missing script.lua");
	if (a->hw)
		hw_select(a->hw);
	args_field_defaults(a);
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
		fputs(main_help, stderr);
		return 1;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("lia %s\n", LIA_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0) {
		usage(NULL);
		return 0;
	}
	bool known = false;
	for (int i = 0; cmds[i]; i++)
		known = known || strcmp(cmds[i], cmd) == 0;
	if (!known) {
		fprintf(stderr, "lia: unknown command '%s' (see lia --help)\n", cmd);
		return 1;
	}
	int r = parse(cmd, &a, argc - 2, argv + 2);
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
