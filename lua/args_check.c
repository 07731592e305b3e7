/*
 * args_check.c - the one place each option's value is checked, for the
 * command line (main.c, which names the option) and the configuration file
 * (config.c, which names file:line) alike, so that `lia check --config`
 * accepts exactly what `lia run` does. Plain C: no Lua.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "log.h"
#include "mqtt_codec.h"
#include "uri.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int args_check_broker(const char *v, char *err, size_t errlen)
{
	static const char *const schemes[] = { "mqtt", "tcp", "mqtts", "ssl", "tls", "ws", "wss",
		"unix", NULL };
	const char *sep = strstr(v, "://");
	struct uri u;
	char why[600];
	if (sep) {
		size_t n = (size_t)(sep - v);
		int i = 0;
		while (schemes[i] && !(strlen(schemes[i]) == n && strncmp(schemes[i], v, n) == 0))
			i++;
		if (!schemes[i])
			return fail(err, errlen, "unsupported scheme '%.*s' (mqtt, mqtts, ws, wss, unix)",
				(int)(n > 32 ? 32 : n), v);
	}
	if (uri_parse(v, &u, why, sizeof why) < 0)
		return fail(err, errlen, "%s", why);
	return 0;
}

int args_check_topic(const char *v, char *err, size_t errlen)
{
	if (!mqtt_topic_name_valid((const uint8_t *)v, strlen(v)))
		return fail(err, errlen, "'%s' is not a topic name (no + or #, not empty)", v);
	return 0;
}

static int check_path(const char *v, bool dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(v, &st) < 0 || access(v, R_OK) < 0)
		return fail(err, errlen, "%s: %s", v, strerror(errno));
	if (dir != S_ISDIR(st.st_mode))
		return fail(err, errlen, "%s: %s", v, dir ? "not a directory" : "is a directory");
	return 0;
}

int args_check_file(const char *v, char *err, size_t errlen)
{
	return check_path(v, false, err, errlen);
}

int args_check_dir(const char *v, char *err, size_t errlen)
{
	return check_path(v, true, err, errlen);
}

int args_check_tls_version(const char *v, char *err, size_t errlen)
{
	if (strcasecmp(v, "tlsv1.2") != 0 && strcasecmp(v, "tlsv1.3") != 0)
		return fail(err, errlen, "'%s' is not tlsv1.2 or tlsv1.3", v);
	return 0;
}

int args_check_proxy(const char *v, char *err, size_t errlen)
{
	const char *sep = strstr(v, "://");
	size_t n = sep ? (size_t)(sep - v) : 0;
	if (strcmp(v, "none") == 0 || !sep)
		return 0;
	if ((n == 4 && !strncasecmp(v, "http", 4)) || (n == 6 && !strncasecmp(v, "socks5", 6)) ||
			(n == 7 && !strncasecmp(v, "socks5h", 7)))
		return 0;
	return fail(err, errlen, "unsupported proxy scheme '%.*s' (http, socks5, socks5h or none)",
		(int)(n > 32 ? 32 : n), v);
}

/* Every numeric option's range, once: lia run's command line, lia
 * pub/sub's and the configuration file take it from here. */
static const struct range { const char *key; long long min, max; } ranges[] = {
	{ "port", 1, 65535 }, { "keepalive", 0, 65535 }, { "qos", 0, 2 }, { "will.qos", 0, 2 },
	{ "session_expiry", 0, 4294967295LL }, { "max_inflight", 1, 65535 },
	{ "handler_budget", 0, 3600000 }, { "memory_limit", 0, 65536 },
	{ "quarantine", 0, 1000000 }, { "health_window", 0, 86400 },
	{ "safe_mode_after", 0, 1000 }, { "health_errors", 1, 1000000 },
	{ "status_interval", 1, 86400 },
	/* lia pub --repeat, lia sub -C and -W: command line only */
	{ "repeat", 1, INT_MAX }, { "count", 1, INT_MAX }, { "timeout", 1, 86400 * 365 },
};

int args_check_number(const char *key, const char *v, long long *out, char *err, size_t errlen)
{
	const struct range *r = NULL;
	char *end;
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0] && !r; i++)
		if (strcmp(ranges[i].key, key) == 0)
			r = &ranges[i];
	if (!r)
		return fail(err, errlen, "'%s' is not a numeric option", key);
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < r->min || n > r->max)
		return fail(err, errlen, "'%s' is not a number in %lld..%lld", v, r->min, r->max);
	*out = n;
	return 0;
}

/* Every option with named values, once: the names each takes and the
 * number each stands for (-V 311 and protocol = 311 are both 4). */
struct choice { const char *name; int v; };
static const struct choice protocols[] = { { "31", 3 }, { "mqttv31", 3 }, { "3", 3 },
	{ "311", 4 }, { "mqttv311", 4 }, { "4", 4 }, { "5", 5 }, { "mqttv5", 5 }, { NULL, 0 } };
static const struct choice hws[] = { { "linux", 0 }, { "sim", 1 }, { NULL, 0 } };
static const struct choice formats[] = { { "text", 0 }, { "journal", 1 }, { NULL, 0 } };
static const struct { const char *key; const struct choice *names; const char *say; } choices[] = {
	{ "protocol", protocols, "31, 311 or 5" }, { "hw", hws, "linux or sim" },
	{ "log_format", formats, "text or journal" },
};

int args_check_choice(const char *key, const char *v, int *out, char *err, size_t errlen)
{
	if (strcmp(key, "log_level") == 0 || strcmp(key, "fleet_log_level") == 0) {
		if ((*out = log_level_by_name(v)) < 0)
			return fail(err, errlen, "'%s' is not error, warn, info or debug", v);
		return 0;
	}
	for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
		if (strcmp(choices[i].key, key) != 0)
			continue;
		for (const struct choice *c = choices[i].names; c->name; c++) {
			if (strcmp(c->name, v) == 0) {
				*out = c->v;
				return 0;
			}
		}
		return fail(err, errlen, "'%s' is not %s", v, choices[i].say);
	}
	return fail(err, errlen, "'%s' is not an option with named values", key);
}

int args_check_combination(const struct lia_args *a, char *err, size_t errlen)
{
	if (a->no_clean && !a->id && !a->id_prefix)
		return fail(err, errlen, "%s", "-c (clean = false) needs a client id: -i (client_id)");
	if (a->id && a->id_prefix)
		return fail(err, errlen, "%s", "-i and -I cannot both be given");
	if ((a->will_payload || a->will_qos >= 0 || a->will_retain) && !a->will_topic)
		return fail(err, errlen, "%s",
			"--will-payload, --will-qos or --will-retain need --will-topic (will.topic)");
	if (a->key && !a->cert)
		return fail(err, errlen, "%s", "--key (tls.key) needs --cert (tls.cert)");
	if (a->unix_path && (a->host || a->uri))
		return fail(err, errlen, "%s", "--unix cannot be combined with -h or -L");
	if (a->retained_only && a->skip_retained)
		return fail(err, errlen, "%s", "--retained-only and -R contradict each other");
	return 0;
}
