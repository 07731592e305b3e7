/*
 * config.c - /etc/lia/lia.conf: "key = value" lines onto struct lia_args.
 * The file is read whole into one buffer and parsed in place: values are
 * NUL-terminated where they stand, and the args point into the buffer.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "log.h"
#include "xalloc.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

struct cfg {
	const char *path;
	int line;
	char *err;
	size_t errlen;
	bool cli_broker;        /* the command line named a broker: ignore ours */
};

static int fail(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cfg *c, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s:%d: ", c->path, c->line);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

const char *config_default_path(void)
{
	const char *env = getenv("LIA_CONFIG");
	if (env && *env)
		return env;
	return access(CONFIG_DEFAULT_PATH, F_OK) == 0 ? CONFIG_DEFAULT_PATH : NULL;
}

const char *config_user_path(void)
{
	static char path[4096];
	const char *env = getenv("LIA_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n = -1;
	if (env && *env)
		return env;
	if (xdg && *xdg)
		n = snprintf(path, sizeof path, "%s/lia/lia.conf", xdg);
	else if (home && *home)
		n = snprintf(path, sizeof path, "%s/.config/lia/lia.conf", home);
	if (n > 0 && (size_t)n < sizeof path && access(path, F_OK) == 0)
		return path;
	/* a user who cannot read the agent's file still gets a working lia pub */
	return access(CONFIG_DEFAULT_PATH, R_OK) == 0 ? CONFIG_DEFAULT_PATH : NULL;
}

static int number(struct cfg *c, const char *key, const char *v, long long *out)
{
	char why[128];
	if (args_check_number(key, v, out, why, sizeof why) < 0)
		return fail(c, "%s: %s", key, why);
	return 0;
}

static int boolean(struct cfg *c, const char *key, const char *v, bool *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
		*out = false;
	else
		return fail(c, "%s: '%s' is not true or false", key, v);
	return 0;
}

/* Fields that only the file can set, filled when the command line did not. */
static void str(const char **field, const char *v)
{
	if (!*field)
		*field = v;
}

static void num(int *field, long long v)
{
	if (*field < 0)
		*field = (int)v;
}

static const char *const string_keys[] = {
	"broker", "host", "client_id", "username", "password", "will.topic", "will.payload",
	"tls.cafile", "tls.capath", "tls.cert", "tls.key", "tls.keypass", "tls.alpn",
	"tls.ciphers", "tls.version", "proxy", "script", "data_dir", "fleet_prefix", "fleet_group", "trusted_dir", NULL,
};

static const char **string_field(struct lia_args *a, int i)
{
	const char **fields[] = {
		&a->uri, &a->host, &a->id, &a->username, &a->password, &a->will_topic,
		&a->will_payload, &a->cafile, &a->capath, &a->cert, &a->key, &a->keypass,
		&a->alpn, &a->ciphers, &a->tls_version, &a->proxy, &a->script, &a->data_dir,
		&a->fleet_prefix, &a->fleet_groups, &a->trusted_dir,
	};
	return fields[i];
}

/* The value checks of args_check.c for the string keys that have one. */
static int check_string(struct cfg *c, const char *k, const char *v)
{
	static const struct { const char *key; int (*fn)(const char *, char *, size_t); } checks[] = {
		{ "broker", args_check_broker }, { "will.topic", args_check_topic },
		{ "tls.cafile", args_check_file }, { "tls.capath", args_check_dir },
		{ "tls.cert", args_check_file }, { "tls.key", args_check_file },
		{ "tls.version", args_check_tls_version }, { "proxy", args_check_proxy },
	};
	char why[700];
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
		if (strcmp(k, checks[i].key) == 0 && checks[i].fn(v, why, sizeof why) < 0)
			return fail(c, "%s: %s", k, why);
	return 0;
}

/* The numeric keys and where each goes; ranges: args_check_number. */
static int set_number(struct cfg *c, struct lia_args *a, const char *k, const char *v)
{
	const struct { const char *key; int *field; } ints[] = {
		{ "port", &a->port }, { "keepalive", &a->keepalive }, { "qos", &a->qos },
		{ "will.qos", &a->will_qos }, { "handler_budget", &a->handler_budget_ms },
		{ "memory_limit", &a->memory_limit_mb }, { "quarantine", &a->quarantine },
		{ "health_window", &a->health_window_s }, { "safe_mode_after", &a->safe_mode_after },
		{ "health_errors", &a->health_errors }, { "status_interval", &a->status_interval_s },
	};
	long long n;
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		if (strcmp(k, ints[i].key) != 0)
			continue;
		if (number(c, k, v, &n) < 0)
			return -1;
		num(ints[i].field, n);
		return 0;
	}
	if (strcmp(k, "session_expiry") == 0) {
		if (number(c, k, v, &n) < 0)
			return -1;
		if (a->session_expiry < 0)
			a->session_expiry = n;
		return 0;
	}
	return 1;
}

/* Options with named values; the names: args_check_choice. */
static int set_choice(struct cfg *c, struct lia_args *a, const char *k, const char *v)
{
	char why[128];
	int n;
	bool level = strcmp(k, "log_level") == 0 || strcmp(k, "fleet_log_level") == 0;
	if (!level && strcmp(k, "protocol") != 0 && strcmp(k, "hw") != 0 && strcmp(k, "log_format") != 0)
		return 1;
	if (args_check_choice(k, v, &n, why, sizeof why) < 0)
		return fail(c, "%s: %s", k, why);
	if (strcmp(k, "protocol") == 0)
		num(&a->protocol, n);
	else if (strcmp(k, "hw") == 0)
		str(&a->hw, v);
	else if (strcmp(k, "log_format") == 0)
		str(&a->log_format, v);
	else
		num(k[0] == 'f' ? &a->fleet_log_level : &a->log_level, n);
	return 0;
}

static int set_bool(struct cfg *c, struct lia_args *a, const char *k, const char *v)
{
	bool b = false;
	bool *field = strcmp(k, "will.retain") == 0 ? &a->will_retain :
		strcmp(k, "tls.insecure") == 0 ? &a->insecure : NULL;
	bool watch = strcmp(k, "watch") == 0, fleet = strcmp(k, "fleet") == 0;
	if (!field && !watch && !fleet && strcmp(k, "clean") != 0)
		return 1;
	if (boolean(c, k, v, &b) < 0)
		return -1;
	if (fleet)
		a->fleet = a->fleet || b;
	else if (watch)
		a->no_watch = a->no_watch || !b;
	else if (!field)
		a->no_clean = a->no_clean || !b;
	else
		*field = *field || b;
	return 0;
}

static int set(struct cfg *c, struct lia_args *a, const char *k, const char *v)
{
	int r;
	bool broker = strcmp(k, "broker") == 0 || strcmp(k, "host") == 0 || strcmp(k, "port") == 0;
	struct lia_args ignored;
	if (broker && c->cli_broker) {
		/* -h, -p or -L replace the file's whole broker; still check it */
		args_init(&ignored);
		a = &ignored;
	}
	for (int i = 0; string_keys[i]; i++) {
		if (strcmp(k, string_keys[i]) == 0) {
			if (check_string(c, k, v) < 0)
				return -1;
			str(string_field(a, i), v);
			return 0;
		}
	}
	if ((r = set_number(c, a, k, v)) <= 0)
		return r;
	if ((r = set_choice(c, a, k, v)) <= 0)
		return r;
	if ((r = set_bool(c, a, k, v)) <= 0)
		return r;
	return fail(c, "unknown key '%s'", k);
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* A '#' after blanks starts a comment (`port = 1883  # the default`); one
 * inside a value (`password = a#b`) does not. after_quote: s follows a
 * closing quote, where '#' needs no blank before it. */
static bool comment_at(const char *s, bool after_quote)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '#' || (after_quote && *s == '\0');
}

static void strip_comment(char *v)
{
	for (char *p = v; *p; p++) {
		if (*p == '#' && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
			trim(v, p);
			return;
		}
	}
}

/* One line, NUL-terminated in place. */
static int parse_line(struct cfg *c, struct lia_args *a, char *s)
{
	char *eq, *k, *v;
	size_t n;
	s = trim(s, s + strlen(s));
	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return fail(c, "expected key = value, got '%s'", s);
	*eq = '\0';
	k = trim(s, eq);
	v = trim(eq + 1, eq + 1 + strlen(eq + 1));
	if (*k == '\0')
		return fail(c, "%s", "missing key before '='");
	if (*v == '"') {
		char *close = strchr(v + 1, '"');
		if (!close)
			return fail(c, "%s: unterminated \"", k);
		if (*trim(close + 1, close + 1 + strlen(close + 1)) && !comment_at(close + 1, true))
			return fail(c, "%s: junk after the closing \"", k);
		*close = '\0';
		v++;
		return set(c, a, k, v);
	}
	strip_comment(v);
	n = strlen(v);
	if (n == 0) {
		return fail(c, "%s: missing value (use \"\" for an empty one)", k);
	}
	return set(c, a, k, v);
}

static char *read_all(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf, *s;
	size_t n;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(CONFIG_MAX_SIZE + 1);
	n = buf ? fread(buf, 1, CONFIG_MAX_SIZE + 1, f) : 0;
	if (!buf || ferror(f) || n > CONFIG_MAX_SIZE) {
		snprintf(err, errlen, "%s: %s", path, !buf ? "out of memory" :
			n > CONFIG_MAX_SIZE ? "larger than 1 MiB" : strerror(errno));
		xfree(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	s = xrealloc(buf, n + 1);     /* it lives as long as the args */
	buf = s ? s : buf;
	if (memchr(buf, '\0', n)) {
		snprintf(err, errlen, "%s: not a text file", path);
		xfree(buf);
		return NULL;
	}
	return buf;
}

int config_load(const char *path, struct lia_args *a, char **storage, char *err, size_t errlen)
{
	struct cfg c = { .path = path, .err = err, .errlen = errlen,
		.cli_broker = args_broker_given(a) };
	char *buf = read_all(path, err, errlen), *s, *nl;
	*storage = NULL;
	if (!buf)
		return -1;
	for (s = buf; *s; s = nl + 1) {
		c.line++;
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		if (parse_line(&c, a, s) < 0) {
			xfree(buf);
			return -1;
		}
		if (!nl)
			break;
	}
	*storage = buf;
	return 0;
}
