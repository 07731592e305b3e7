/*
 * uri.c - parse broker URIs into fixed-size fields (no allocation: a URI
 * comes from a config file or a script, and a too-long part is an error
 * the user should see rather than something to truncate silently).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

struct scheme_info {
	const char *name;
	const char *canonical;
	uint16_t port;
	bool tls;
};

static const struct scheme_info schemes[] = {
	{ "mqtt", "mqtt", 1883, false }, { "tcp", "mqtt", 1883, false },
	{ "mqtts", "mqtts", 8883, true }, { "ssl", "mqtts", 8883, true },
	{ "tls", "mqtts", 8883, true }, { "ws", "ws", 80, false },
	{ "wss", "wss", 443, true }, { "unix", "unix", 0, false },
};

static int fail(char *err, size_t errlen, const char *what, const char *s)
{
	snprintf(err, errlen, "bad broker URI (%s): %s", what, s);
	return -1;
}

static int copy_part(char *dst, size_t cap, const char *p, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

static const struct scheme_info *find_scheme(const char *p, size_t n)
{
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strlen(schemes[i].name) == n && strncmp(schemes[i].name, p, n) == 0)
			return &schemes[i];
	return NULL;
}

static int parse_userinfo(struct uri *u, const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	size_t ulen = colon ? (size_t)(colon - p) : n;
	if (copy_part(u->user, sizeof u->user, p, ulen) < 0)
		return -1;
	u->has_user = true;
	if (colon) {
		if (copy_part(u->pass, sizeof u->pass, colon + 1, n - ulen - 1) < 0)
			return -1;
		u->has_pass = true;
	}
	return 0;
}

static int parse_port(const char *p, size_t n, uint16_t *port)
{
	char tmp[8];
	char *end;
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	long v = strtol(tmp, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* host[:port] or [v6]:port, n bytes at p. */
static int parse_hostport(struct uri *u, const char *p, size_t n, const char **why)
{
	const char *hend, *portp = NULL;
	if (n && p[0] == '[') {
		hend = memchr(p, ']', n);
		if (!hend)
			return *why = "unclosed '['", -1;
		if (copy_part(u->host, sizeof u->host, p + 1, (size_t)(hend - p - 1)) < 0)
			return *why = "host too long", -1;
		if ((size_t)(hend - p) + 1 < n) {
			if (hend[1] != ':')
				return *why = "junk after ']'", -1;
			portp = hend + 2;
		}
	} else {
		const char *colon = memchr(p, ':', n);
		hend = colon ? colon : p + n;
		if (copy_part(u->host, sizeof u->host, p, (size_t)(hend - p)) < 0)
			return *why = "host too long", -1;
		if (colon)
			portp = colon + 1;
	}
	if (!u->host[0])
		return *why = "no host", -1;
	if (portp && parse_port(portp, (size_t)(p + n - portp), &u->port) < 0)
		return *why = "port must be 1-65535", -1;
	return 0;
}

static int parse_authority(struct uri *u, const char *rest, const char **why)
{
	const char *slash = strchr(rest, '/');
	size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *at = memchr(rest, '@', alen);
	if (at) {
		if (parse_userinfo(u, rest, (size_t)(at - rest)) < 0)
			return *why = "user or password too long", -1;
		alen -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	if (parse_hostport(u, rest, alen, why) < 0)
		return -1;
	if (slash && copy_part(u->path, sizeof u->path, slash, strlen(slash)) < 0)
		return *why = "path too long", -1;
	return 0;
}

int uri_parse(const char *s, struct uri *u, char *err, size_t errlen)
{
	const char *sep = strstr(s, "://");
	const struct scheme_info *si = find_scheme("mqtt", 4);
	const char *rest = s, *why = NULL;
	memset(u, 0, sizeof *u);
	if (sep) {
		si = find_scheme(s, (size_t)(sep - s));
		if (!si)
			return fail(err, errlen, "unknown scheme (mqtt, mqtts, ws, wss, unix)", s);
		rest = sep + 3;
	}
	snprintf(u->scheme, sizeof u->scheme, "%s", si->canonical);
	u->port = si->port;
	u->tls = si->tls;
	if (strcmp(si->canonical, "unix") == 0) {
		if (!rest[0] || copy_part(u->path, sizeof u->path, rest, strlen(rest)) < 0)
			return fail(err, errlen, "unix socket path missing or too long", s);
		return 0;
	}
	if (parse_authority(u, rest, &why) < 0)
		return fail(err, errlen, why, s);
	return 0;
}
