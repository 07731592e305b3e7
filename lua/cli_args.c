/*
 * cli_args.c - the command line of lia run | pub | sub | check parsed onto
 * struct lia_args, and the --help texts. Out of main.c so that the parser
 * can be linked into a fuzz target (tests/fuzz/fuzz_cli.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli_args.h"
#include "log.h"
#include "config.h"
#include "hw/hw.h"
#include "lbudget.h"
#include "mqtt_codec.h"


static const char common_help[] =
	"  -h, --host HOST          broker host (default localhost)\n"
	"  -p, --port PORT          broker port (default 1883)\n"
	"  -L, --broker URI         mqtt://[user[:pass]@]host[:port][/topic]\n"
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
	"  --tls-alpn P (--alpn P)  --ciphers C  --tls-version tlsv1.2|tlsv1.3 (minimum)\n"
	"  --insecure               TLS without certificate checks (warns at every connect)\n"
	"  --proxy URI              socks5://host:port, http://host:port or none\n"
	"                           (default: all_proxy / https_proxy / http_proxy)\n";

static const char main_help[] =
	"usage: lia run [options] [--config FILE] script.lua [args]   run a script\n"
	"       lia script.lua [args]                          the same (#!/usr/bin/env lia)\n"
	"       lia pub [options] -t topic (-m msg | -l | -n | -s | -f file)\n"
	"       lia sub [options] -t filter [-t filter ...] [-C n] [-W s] [-v] [-N] [-R]\n"
	"       lia check [--config FILE] [script.lua]          load as a reload would\n"
	"       lia keygen | lia bundle sign|push | lia fleet   the fleet (docs/fleet.md)\n"
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
		puts("usage: lia run [options] script.lua [args]   (or: lia script.lua [args])\n"
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
			"  --safe-mode-after N      start-ups in a row that did not last the health\n"
			"                           window before safe mode (default 3, 0: never)\n"
			"  --no-watch               reload on SIGHUP only, not on a changed .lua file\n"
			"  --fleet                  the fleet agent: lia/<id>/status, cmd (docs/fleet.md)\n"
			"  --fleet-prefix P         topic root of the fleet agent (default lia)\n"
			"  --status-interval S      seconds between status messages (default 60)\n"
			"  --fleet-group G[,G..]    groups this device is in (lia/group/G/deploy)\n"
			"  --trusted-dir DIR        public keys bundles are verified with (default\n"
			"                           /etc/lia/trusted.d)\n"
			"  --fleet-log-level L      lines sent to lia/<id>/log (default warn)");
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
			"  --repeat-delay S         seconds between repeats\n"
			"  -M N                     at most N QoS 1/2 messages in flight\n"
			"  -D CMD NAME VALUE        MQTT 5 property (CMD connect, publish or will)\n"
			"  -d, --debug              debug log");
	else
		puts("usage: lia sub [options] -t filter [-t filter ...]\n"
			"  -t, --topic F            filter to subscribe to (repeatable)\n"
			"  -v, --verbose            print \"topic payload\"\n"
			"  -C, --count N            exit after N messages\n"
			"  -W, --timeout S          exit after S seconds (status 27)\n"
			"  -N                       no newline after the payload\n"
			"  -R                       skip retained messages\n"
			"  --retained-only          only retained messages; exit at the first other\n"
			"  --remove-retained        clear the retained messages received\n"
			"  -T F                     filter topics matching F out (repeatable)\n"
			"  -U F                     unsubscribe from F (repeatable)\n"
			"  -E                       exit once subscribed\n"
			"  -F FORMAT                output format (man mosquitto_sub: %t %p %j %J @H ...)\n"
			"  --pretty                 indented JSON for %j and %J\n"
			"  -D CMD NAME VALUE        MQTT 5 property (CMD connect or will)\n"
			"  -d, --debug              debug log");
	if (strcmp(cmd, "pub") == 0 || strcmp(cmd, "sub") == 0)
		puts("  -I PREFIX                client id: PREFIX and the process id\n"
			"  -A ADDRESS               connect from this local address\n"
			"  --unix PATH              connect through a unix domain socket\n"
			"  --retry                  keep trying to connect (else exit 1)\n"
			"  --quiet                  no error messages\n"
			"  --config FILE            configuration: broker, credentials, TLS (default\n"
			"                           $LIA_CONFIG, ~/.config/lia/lia.conf, " CONFIG_DEFAULT_PATH ")");
	fputs(common_help, stdout);
}

static int bad(const char *cmd, const char *fmt, const char *what)
{
	fprintf(stderr, "lia%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, what);
	fprintf(stderr, " (see lia %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
	return -1;
}

/* A numeric option; its range is the configuration key's (args_check.c). */
static int number(const char *cmd, const char *opt, const char *key, const char *s, long long *out)
{
	char why[128];
	if (args_check_number(key, s, out, why, sizeof why) < 0) {
		fprintf(stderr, "lia %s: %s: %s\n", cmd, opt, why);
		return -1;
	}
	return 0;
}

/* An option with named values (-V, --hw, --log-format, --fleet-log-level);
 * the names are the configuration key's (args_check.c). */
static int choice(const char *cmd, const char *opt, const char *key, const char *s, int *out)
{
	char why[128];
	if (args_check_choice(key, s, out, why, sizeof why) < 0) {
		fprintf(stderr, "lia %s: %s: %s\n", cmd, opt, why);
		return -1;
	}
	return 0;
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
		{ "--tls-alpn", offsetof(struct lia_args, alpn) },
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

/* The value checks of lua/args_check.c, shared with the configuration
 * file: 0, or -1 with "lia CMD: OPTION: reason" printed. */
static int check_value(const char *cmd, const char *o, const char *val)
{
	static const struct { const char *names; int (*fn)(const char *, char *, size_t); } checks[] = {
		{ "-L|--broker", args_check_broker }, { "--will-topic", args_check_topic },
		{ "--cafile|--cert|--key", args_check_file }, { "--capath", args_check_dir },
		{ "--tls-version", args_check_tls_version }, { "--proxy", args_check_proxy },
	};
	char why[700];
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		if (is(o, checks[i].names) && checks[i].fn(val, why, sizeof why) < 0) {
			fprintf(stderr, "lia %s: %s: %s\n", cmd, o, why);
			return -1;
		}
	}
	return 0;
}

/* -L mqtt://[user[:pass]@]host[:port]/topic: as in mosquitto_pub/_sub, the
 * path of an mqtt:// or mqtts:// URL is the topic (lia sub: one more
 * filter); a ws:// path stays the WebSocket path. Cut in place in argv. */
static int broker_url(const char *cmd, struct lia_args *a, char *val)
{
	char *sep = strstr(val, "://");
	char *rest = sep ? sep + 3 : val;
	char *slash = strchr(rest, '/');
	bool ws = strncmp(val, "ws", 2) == 0 || strncmp(val, "unix", 4) == 0;
	a->uri = val;
	if (!slash || ws || strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0)
		return 1;
	*slash = '\0';
	if (slash[1] == '\0')
		return 1;
	if (a->ntopics == ARGS_MAX_TOPICS || (strcmp(cmd, "pub") == 0 && a->ntopics))
		return bad(cmd, "%s", "-L: one topic only");
	a->topics[a->ntopics++] = slash + 1;
	return 1;
}

/* Options every command with a client takes; 1 when taken, 0 when not
 * ours, -1 on error. *i is advanced past a value. */
static int common_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	long long v;
	static const char *const valued = "-h|--host|-p|--port|-L|--broker|-i|--id|-u|--username|"
		"-P|--pw|-k|--keepalive|-V|--protocol-version|-q|--qos|-x|--session-expiry|"
		"--will-topic|--will-payload|--will-qos|--cafile|--capath|--cert|--key|--keypass|"
		"--alpn|--tls-alpn|--ciphers|--tls-version|--proxy";
	const char *val = NULL;
	if (is(o, valued)) {
		if (*i + 1 >= argc)
			return bad(cmd, "option %s needs a value", o);
		val = argv[++*i];
		if (check_value(cmd, o, val) < 0)
			return -1;
	}
	if (is(o, "-h|--host"))
		a->host = val;
	else if (is(o, "-p|--port"))
		return number(cmd, o, "port", val, &v) < 0 ? -1 : (a->port = (int)v, 1);
	else if (is(o, "-L|--broker"))
		return broker_url(cmd, a, argv[*i]);
	else if (is(o, "-i|--id"))
		a->id = val;
	else if (is(o, "-u|--username"))
		a->username = val;
	else if (is(o, "-P|--pw"))
		a->password = val;
	else if (is(o, "-k|--keepalive"))
		return number(cmd, o, "keepalive", val, &v) < 0 ? -1 : (a->keepalive = (int)v, 1);
	else if (is(o, "-V|--protocol-version"))
		return choice(cmd, o, "protocol", val, &a->protocol) < 0 ? -1 : 1;
	else if (is(o, "-q|--qos"))
		return number(cmd, o, "qos", val, &v) < 0 ? -1 : (a->qos = (int)v, 1);
	else if (is(o, "-x|--session-expiry"))
		return number(cmd, o, "session_expiry", val, &v) < 0 ? -1 : (a->session_expiry = v, 1);
	else if (is(o, "--will-topic"))
		a->will_topic = val;
	else if (is(o, "--will-payload"))
		a->will_payload = val;
	else if (is(o, "--will-qos"))
		return number(cmd, o, "will.qos", val, &v) < 0 ? -1 : (a->will_qos = (int)v, 1);
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

/* The packets -D can name, and the type each stands for. */
static const struct { const char *name; int type; } prop_packets[] = {
	{ "connect", MQTT_CONNECT }, { "publish", MQTT_PUBLISH }, { "subscribe", MQTT_SUBSCRIBE },
	{ "unsubscribe", MQTT_UNSUBSCRIBE }, { "disconnect", MQTT_DISCONNECT },
	{ "will", MQTT_PROPS_WILL }, { "auth", MQTT_AUTH },
};

/* The packet type of -D's first word for this command, or 0 after saying
 * why not: lia pub sends no SUBSCRIBE, lia sub no PUBLISH. */
static int prop_packet(const char *cmd, const char *word)
{
	bool pub = strcmp(cmd, "pub") == 0;
	for (size_t i = 0; i < sizeof prop_packets / sizeof prop_packets[0]; i++) {
		int t = prop_packets[i].type;
		if (strcmp(word, prop_packets[i].name) != 0)
			continue;
		if ((pub && (t == MQTT_SUBSCRIBE || t == MQTT_UNSUBSCRIBE)) || (!pub && t == MQTT_PUBLISH))
			break;
		return t;
	}
	fprintf(stderr, "lia %s: -D: '%s' is not %s\n", cmd, word, pub
		? "connect, publish, disconnect, will or auth (the packets lia pub sends)"
		: "connect, subscribe, unsubscribe, disconnect, will or auth (the packets lia sub sends)");
	return 0;
}

/* A property's value as far as the command line can tell: numbers in the
 * range of their kind; AUTH carries only what enhanced authentication
 * takes (the method and its first data go into the `auth` option). */
static int prop_value(const char *cmd, const struct args_prop *p, int type, uint8_t id)
{
	static const unsigned long long max[] = { [MQTT_PK_BYTE] = 0xFF, [MQTT_PK_U16] = 0xFFFF,
		[MQTT_PK_U32] = 0xFFFFFFFFull, [MQTT_PK_VARINT] = 268435455 };
	int kind = mqtt_prop_kind(id);
	if (type == MQTT_AUTH && id != MQTT_PROP_AUTHENTICATION_METHOD &&
			id != MQTT_PROP_AUTHENTICATION_DATA) {
		fprintf(stderr, "lia %s: -D auth %s: lia sends AUTH only in an enhanced "
			"authentication exchange; -D auth takes authentication-method and "
			"authentication-data\n", cmd, p->name);
		return -1;
	}
	if (kind >= MQTT_PK_BYTE && kind <= MQTT_PK_VARINT) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p->value, &end, 10);
		if (errno || end == p->value || *end || p->value[0] == '-' || v > max[kind]) {
			fprintf(stderr, "lia %s: -D %s %s: '%s' is not a number in 0..%llu\n",
				cmd, p->cmd, p->name, p->value, max[kind]);
			return -1;
		}
	}
	return 0;
}

/* -D command identifier value [value]: the names as mosquitto spells them
 * (-D connect session-expiry-interval 60, -D publish user-property k v),
 * checked as mosquitto does: a packet this command sends, a property that
 * belongs in it, a value of its kind. */
static int prop_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	char name[64];
	struct args_prop *p;
	int type;
	uint8_t id;
	if (*i + 3 >= argc)
		return bad(cmd, "%s", "-D needs a command, a property name and a value");
	if (a->nprops == ARGS_MAX_PROPS)
		return bad(cmd, "%s", "too many -D");
	p = &a->props[a->nprops];
	p->cmd = argv[*i + 1];
	p->name = argv[*i + 2];
	p->value = argv[*i + 3];
	p->value2 = NULL;
	if (!(type = prop_packet(cmd, p->cmd)))
		return -1;
	snprintf(name, sizeof name, "%s", p->name);
	for (char *c = name; *c; c++)
		*c = *c == '-' ? '_' : *c;
	if (strlen(p->name) >= sizeof name || !(id = mqtt_prop_id_by_name(name)))
		return bad(cmd, "-D: '%s' is not an MQTT 5 property", p->name);
	if (!mqtt_prop_allowed(type, id)) {
		fprintf(stderr, "lia %s: -D %s %s: that property is not allowed in %s\n",
			cmd, p->cmd, p->name, p->cmd);
		return -1;
	}
	if (prop_value(cmd, p, type, id) < 0)
		return -1;
	*i += 3;
	if (id == MQTT_PROP_USER_PROPERTY) {
		if (*i + 1 >= argc)
			return bad(cmd, "%s", "-D ... user-property needs a name and a value");
		p->value2 = argv[++*i];
	}
	a->nprops++;
	return 1;
}

/* --repeat-delay S: seconds, fractions allowed, as mosquitto_pub takes them. */
static int seconds(const char *cmd, const char *opt, const char *s, long *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 86400.0 * 365)) {
		fprintf(stderr, "lia %s: %s: '%s' is not a number of seconds\n", cmd, opt, s);
		return -1;
	}
	*ms = (long)(v * 1000 + 0.5);
	return 0;
}

static int add_to(const char *cmd, const char *opt, const char **list, int *n, const char *t)
{
	if (*n == ARGS_MAX_TOPICS)
		return bad(cmd, "too many %s", opt);
	list[(*n)++] = t;
	return 1;
}

/* The options mosquitto_pub and mosquitto_sub have beyond the common ones;
 * same results as common_opt. */
static int tool_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	long long v;
	bool pub = strcmp(cmd, "pub") == 0, sub = strcmp(cmd, "sub") == 0;
	bool valued = ((pub || sub) && is(o, "-I|--id-prefix|-A|--unix")) ||
		(pub && is(o, "-M|--repeat-delay")) || (sub && is(o, "-F|-T|-U"));
	const char *val = NULL;
	if (!pub && !sub)
		return 0;
	if (valued && *i + 1 >= argc)
		return bad(cmd, "option %s needs a value", o);
	if (valued)
		val = argv[++*i];
	if (is(o, "-D|--property"))
		return prop_opt(cmd, a, argc, argv, i);
	if (is(o, "--retry"))
		a->retry = true;
	else if (is(o, "--quiet"))
		a->quiet = true;
	else if (is(o, "-I|--id-prefix"))
		a->id_prefix = val;
	else if (is(o, "-A"))
		a->bind_address = val;
	else if (is(o, "--unix"))
		a->unix_path = val;
	else if (pub && is(o, "-M"))
		return number(cmd, o, "max_inflight", val, &v) < 0 ? -1 : (a->max_inflight = (int)v, 1);
	else if (pub && is(o, "--repeat-delay"))
		return seconds(cmd, o, val, &a->repeat_delay_ms) < 0 ? -1 : 1;
	else if (sub && is(o, "-F"))
		a->format = val;
	else if (sub && is(o, "-T"))
		return add_to(cmd, o, a->filter_out, &a->nfilter_out, val);
	else if (sub && is(o, "-U"))
		return add_to(cmd, o, a->unsub, &a->nunsub, val);
	else if (sub && is(o, "--pretty"))
		a->pretty = true;
	else if (sub && is(o, "-E"))
		a->exit_on_suback = true;
	else if (sub && is(o, "--retained-only"))
		a->retained_only = true;
	else if (sub && is(o, "--remove-retained"))
		a->remove_retained = true;
	else
		return 0;
	return 1;
}

/* lia run's fleet options (docs/fleet.md); same results as common_opt. */
static int fleet_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	long long v;
	if (is(o, "--fleet")) {
		a->fleet = true;
		return 1;
	}
	if (!is(o, "--fleet-prefix|--status-interval|--fleet-group|--trusted-dir|--fleet-log-level"))
		return 0;
	if (!val)
		return bad(cmd, "option %s needs a value", o);
	++*i;
	if (is(o, "--fleet-log-level")) {
		return choice(cmd, o, "fleet_log_level", val, &a->fleet_log_level) < 0 ? -1 : 1;
	}
	if (is(o, "--trusted-dir")) {
		a->trusted_dir = val;
		return 1;
	}
	if (is(o, "--fleet-group")) {
		if (!val[0] || strpbrk(val, "+#/ "))
			return bad(cmd, "--fleet-group: '%s' is not a list of group names", val);
		a->fleet_groups = val;
		return 1;
	}
	if (is(o, "--status-interval"))
		return number(cmd, o, "status_interval", val, &v) < 0 ? -1 : (a->status_interval_s = (int)v, 1);
	if (!val[0] || strpbrk(val, "+#"))
		return bad(cmd, "--fleet-prefix: '%s' is not a topic root (no + or #, not empty)", val);
	a->fleet_prefix = val;
	return 1;
}

/* Options of one command; same results as common_opt. */
static int command_opt(const char *cmd, struct lia_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	long long v;
	int n;
	bool pub = strcmp(cmd, "pub") == 0, sub = strcmp(cmd, "sub") == 0;
	bool runs = strcmp(cmd, "run") == 0;
	bool valued = (pub && is(o, "-t|--topic|-m|--message|-f|--file|--repeat")) ||
		(sub && is(o, "-t|--topic|-C|--count|-W|--timeout")) || (runs && is(o, "--hw|--sim|--log-format|--data-dir|--handler-budget|--memory-limit|"
		"--quarantine|--health-window|--health-errors|--safe-mode-after"));
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
		return number(cmd, o, "repeat", val, &v) < 0 ? -1 : (a->repeat = (int)v, 1);
	} else if (sub && is(o, "-t|--topic")) {
		return add_topic(cmd, a, val);
	} else if (sub && is(o, "-C|--count")) {
		return number(cmd, o, "count", val, &v) < 0 ? -1 : (a->count = (int)v, 1);
	} else if (sub && is(o, "-W|--timeout")) {
		return number(cmd, o, "timeout", val, &v) < 0 ? -1 : (a->timeout = (int)v, 1);
	} else if (sub && is(o, "-N")) {
		a->no_newline = true;
	} else if (sub && is(o, "-R")) {
		a->skip_retained = true;
	} else if (runs && is(o, "--hw")) {
		if (choice(cmd, o, "hw", val, &n) < 0)
			return -1;
		a->hw = val;
	} else if (runs && is(o, "--data-dir")) {
		a->data_dir = val;
	} else if (runs && is(o, "--handler-budget")) {
		return number(cmd, o, "handler_budget", val, &v) < 0 ? -1 : (a->handler_budget_ms = (int)v, 1);
	} else if (runs && is(o, "--memory-limit")) {
		return number(cmd, o, "memory_limit", val, &v) < 0 ? -1 : (a->memory_limit_mb = (int)v, 1);
	} else if (runs && is(o, "--quarantine")) {
		return number(cmd, o, "quarantine", val, &v) < 0 ? -1 : (a->quarantine = (int)v, 1);
	} else if (runs && is(o, "--health-window")) {
		return number(cmd, o, "health_window", val, &v) < 0 ? -1 : (a->health_window_s = (int)v, 1);
	} else if (runs && is(o, "--safe-mode-after")) {
		return number(cmd, o, "safe_mode_after", val, &v) < 0 ? -1 : (a->safe_mode_after = (int)v, 1);
	} else if (runs && is(o, "--health-errors")) {
		return number(cmd, o, "health_errors", val, &v) < 0 ? -1 : (a->health_errors = (int)v, 1);
	} else if (runs && is(o, "--no-watch")) {
		a->no_watch = true;
	} else if (runs && is(o, "--sim")) {
		a->sim_models = val;
	} else if (runs && is(o, "--log-format")) {
		if (choice(cmd, o, "log_format", val, &n) < 0)
			return -1;
		a->log_format = val;
	} else {
		return runs ? fleet_opt(cmd, a, argc, argv, i) : 0;
	}
	return 1;
}

/* lia pub / lia sub after the command line: --unix as a unix:// URI, -I as
 * the id, and the options that contradict each other. */
static int tool_finish(const char *cmd, struct lia_args *a)
{
	static char unix_uri[300], id[300];
	char why[300];
	if (args_check_combination(a, why, sizeof why) < 0) {
		fprintf(stderr, "lia %s: %s\n", cmd, why);
		return -1;
	}
	if (a->unix_path) {
		snprintf(unix_uri, sizeof unix_uri, "unix://%s", a->unix_path);
		a->uri = unix_uri;
	}
	if (a->id_prefix) {
		snprintf(id, sizeof id, "%s%ld", a->id_prefix, (long)getpid());
		a->id = id;
	}
	return 0;
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
			if (strcmp(cmd, "run") == 0) {
				/* as lua and node do: what follows is the script's (arg) */
				a->script_argv = argv + i + 1;
				a->script_argc = argc - i - 1;
				break;
			}
			continue;
		}
		if (strcmp(cmd, "check") == 0 && strcmp(o, "--compile") == 0) {
			a->compile_only = true;
			continue;
		}
		if (strcmp(o, "--config") == 0) {
			if (i + 1 >= argc)
				return bad(cmd, "option %s needs a value", o);
			a->config = argv[++i];
			continue;
		}
		if (strcmp(cmd, "check") != 0 && (r = common_opt(cmd, a, argc, argv, &i)) == 0 &&
				(r = tool_opt(cmd, a, argc, argv, &i)) == 0)
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
	if ((strcmp(cmd, "pub") == 0 || strcmp(cmd, "sub") == 0) && tool_finish(cmd, a) < 0)
		return -1;
	if (a->sim_models && a->hw && strcmp(a->hw, "sim") != 0)
		return bad(cmd, "%s", "--sim needs --hw sim");
	if (a->hw || a->sim_models)
		hw_select(a->hw ? a->hw : "sim");
	return 0;
}


void cli_args_main_help(FILE *f)
{
	fputs(main_help, f);
}

void cli_args_usage(const char *cmd)
{
	usage(cmd);
}

int cli_args_bad(const char *cmd, const char *fmt, const char *what)
{
	return bad(cmd, fmt, what);
}

int cli_args_parse(const char *cmd, struct lia_args *a, int argc, char **argv)
{
	return parse(cmd, a, argc, argv);
}
