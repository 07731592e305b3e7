/*
 * transport_proxy.c - a TCP tunnel through an HTTP CONNECT or SOCKS5 proxy,
 * set up inside open/handshake; after that reads and writes go straight to
 * the socket, so TLS and WebSockets run on top as on plain TCP.
 *
 * Proxy URLs: "http://[user:pass@]host[:port]" (CONNECT, Basic auth when a
 * user is given) and "socks5://[user:pass@]host[:port]" or "socks5h://"
 * (no auth, or RFC 1929 username/password). The port defaults to 1080, as
 * in curl. SOCKS5 always sends the broker's name (the proxy resolves it,
 * like socks5h), IP literals as addresses.
 *
 * Environment (read when the client is created, only when no proxy option
 * was given; lower case first, then upper case; the first non-empty wins):
 *     ws://            http_proxy,  HTTP_PROXY,  then all_proxy, ALL_PROXY
 *     wss://           https_proxy, HTTPS_PROXY, then all_proxy, ALL_PROXY
 *     mqtt://, mqtts:// all_proxy, ALL_PROXY (not the HTTP ones: MQTT is not HTTP)
 *     unix://          never proxied
 * no_proxy / NO_PROXY: comma- or space-separated names; "*" matches all, an
 * entry matches the host itself and its subdomains ("example.com" and
 * ".example.com" both match "a.example.com"); IP literals match exactly.
 * A proxy variable without a scheme means http://.
 *
 * Replies are read byte-exact (HTTP up to the blank line, SOCKS by its
 * length fields) so no byte of the tunnelled stream is swallowed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ossl.h"

#include "transport.h"
#include "xalloc.h"

#define PROXY_DEFAULT_PORT 1080

enum proxy_kind { PROXY_HTTP, PROXY_SOCKS5 };
enum socks_stage { SOCKS_GREETING, SOCKS_AUTH, SOCKS_CONNECT };
enum proxy_phase { PX_TCP, PX_TALK, PX_DONE };

struct proxy_url {
	enum proxy_kind kind;
	struct uri u;           /* host, port, user, pass */
};

struct proxy_state {
	struct transport low;
	struct proxy_url px;
	enum proxy_phase phase;
	enum socks_stage stage;
	char target[256];
	uint16_t target_port;
	uint8_t out[1024];
	size_t out_len, out_off;
	uint8_t in[4096];
	size_t in_len;
};

/* ---- URL and environment ---- */

static int parse_proxy(const char *s, struct proxy_url *p, char *err, size_t errlen)
{
	char text[600], why[300];
	const char *sep = strstr(s, "://");
	const char *rest = sep ? sep + 3 : s;
	size_t slen = sep ? (size_t)(sep - s) : 0;
	memset(p, 0, sizeof *p);
	if (!sep || (slen == 4 && !strncasecmp(s, "http", 4)))
		p->kind = PROXY_HTTP;
	else if ((slen == 6 && !strncasecmp(s, "socks5", 6)) || (slen == 7 && !strncasecmp(s, "socks5h", 7)))
		p->kind = PROXY_SOCKS5;
	else
		return snprintf(err, errlen, "bad proxy \"%s\": scheme must be http://, socks5:// or socks5h://", s), -1;
	/* the MQTT URI parser knows user:pass@host:port; mqtts:// tells an omitted port */
	snprintf(text, sizeof text, "mqtts://%s", rest);
	if (uri_parse(text, &p->u, why, sizeof why) < 0)
		return snprintf(err, errlen, "bad proxy \"%s\"", s), -1;
	uint16_t tls_default = p->u.port;
	snprintf(text, sizeof text, "mqtt://%s", rest);
	uri_parse(text, &p->u, why, sizeof why);
	if (p->u.port != tls_default)
		p->u.port = PROXY_DEFAULT_PORT;
	return 0;
}

static const char *env_first(const char *const *names)
{
	for (; *names; names++) {
		const char *v = getenv(*names);
		if (v && *v)
			return v;
	}
	return NULL;
}

static bool no_proxy_match(const char *list, const char *host)
{
	size_t hlen = strlen(host);
	while (*list) {
		size_t k;
		list += strspn(list, ", \t");
		k = strcspn(list, ", \t");
		const char *e = list;
		size_t n = k;
		if (n && e[0] == '.')
			e++, n--;
		if ((k == 1 && list[0] == '*') ||
				(n && n == hlen && !strncasecmp(e, host, n)) ||
				(n && hlen > n && host[hlen - n - 1] == '.' && !strncasecmp(e, host + hlen - n, n)))
			return true;
		list += k;
	}
	return false;
}

int proxy_resolve(const char *opts_proxy, const struct uri *u, char *out, size_t outlen,
	char *err, size_t errlen)
{
	static const char *const ws_vars[] = { "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", NULL };
	static const char *const wss_vars[] = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL };
	static const char *const mqtt_vars[] = { "all_proxy", "ALL_PROXY", NULL };
	static const char *const no_vars[] = { "no_proxy", "NO_PROXY", NULL };
	struct proxy_url p;
	const char *v = opts_proxy, *no;
	out[0] = '\0';
	if (strcmp(u->scheme, "unix") == 0)
		return 0;
	if (!v) {
		v = env_first(!strcmp(u->scheme, "ws") ? ws_vars : !strcmp(u->scheme, "wss") ? wss_vars : mqtt_vars);
		if (!v || ((no = env_first(no_vars)) && no_proxy_match(no, u->host)))
			return 0;
	}
	if (!*v || !strcmp(v, "none") || !strcmp(v, "direct"))
		return 0;
	if (parse_proxy(v, &p, err, errlen) < 0)
		return -1;
	if ((size_t)snprintf(out, outlen, "%s", v) >= outlen)
		return snprintf(err, errlen, "proxy URL too long"), -1;
	return 0;
}

/* ---- requests ---- */

static void put(struct proxy_state *st, const void *p, size_t n)
{
	if (n <= sizeof st->out - st->out_len) {
		memcpy(st->out + st->out_len, p, n);
		st->out_len += n;
	}
}

static void http_request(struct proxy_state *st)
{
	char req[900], auth[400] = "", cred[260];
	bool v6 = strchr(st->target, ':') != NULL;
	if (st->px.u.has_user) {
		unsigned char b64[360];
		int n = snprintf(cred, sizeof cred, "%s:%s", st->px.u.user, st->px.u.pass);
		EVP_EncodeBlock(b64, (const unsigned char *)cred, n < (int)sizeof cred ? n : (int)sizeof cred - 1);
		snprintf(auth, sizeof auth, "Proxy-Authorization: Basic %s\r\n", b64);
	}
	int n = snprintf(req, sizeof req, "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n%s\r\n",
		v6 ? "[" : "", st->target, v6 ? "]" : "", st->target_port,
		v6 ? "[" : "", st->target, v6 ? "]" : "", st->target_port, auth);
	put(st, req, (size_t)n < sizeof req ? (size_t)n : sizeof req - 1);
}

static void socks_greeting(struct proxy_state *st)
{
	uint8_t g[4] = { 5, 1, 0 };
	if (st->px.u.has_user)
		g[1] = 2, g[3] = 2;
	put(st, g, st->px.u.has_user ? 4 : 3);
	st->stage = SOCKS_GREETING;
}

static void socks_auth(struct proxy_state *st)
{
	uint8_t ul = (uint8_t)strlen(st->px.u.user), pl = (uint8_t)strlen(st->px.u.pass);
	put(st, (uint8_t[]){ 1, ul }, 2);
	put(st, st->px.u.user, ul);
	put(st, &pl, 1);
	put(st, st->px.u.pass, pl);
	st->stage = SOCKS_AUTH;
}

static void socks_connect(struct proxy_state *st)
{
	uint8_t a[16], port[2] = { (uint8_t)(st->target_port >> 8), (uint8_t)st->target_port };
	size_t n = strlen(st->target);
	put(st, (uint8_t[]){ 5, 1, 0 }, 3);
	if (inet_pton(AF_INET, st->target, a) == 1) {
		put(st, (uint8_t[]){ 1 }, 1);
		put(st, a, 4);
	} else if (inet_pton(AF_INET6, st->target, a) == 1) {
		put(st, (uint8_t[]){ 4 }, 1);
		put(st, a, 16);
	} else {
		put(st, (uint8_t[]){ 3, (uint8_t)n }, 2);
		put(st, st->target, n);
	}
	put(st, port, 2);
	st->stage = SOCKS_CONNECT;
}

/* ---- replies: -1 error, 0 need more (*want bytes), 1 done ---- */

static const char *socks_reply_text(unsigned rep)
{
	static const char *const text[] = { "succeeded", "general SOCKS server failure",
		"connection not allowed by ruleset", "network unreachable", "host unreachable",
		"connection refused", "TTL expired", "command not supported", "address type not supported" };
	return rep < sizeof text / sizeof text[0] ? text[rep] : "unknown reply";
}

static int proxy_fail(struct transport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int proxy_fail(struct transport *t, const char *fmt, ...)
{
	struct proxy_state *st = t->priv;
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(t->err, sizeof t->err, "%s proxy %.100s:%u: %.380s", st->px.kind == PROXY_HTTP ? "HTTP" : "SOCKS5",
		st->px.u.host, (unsigned)st->px.u.port, msg);
	return -1;
}

static int http_reply(struct transport *t, size_t *want)
{
	struct proxy_state *st = t->priv;
	unsigned code;
	char reason[120] = "";
	*want = st->in_len + 1;     /* byte by byte: never read past the blank line */
	if (st->in_len < 4 || memcmp(st->in + st->in_len - 4, "\r\n\r\n", 4) != 0)
		return st->in_len < sizeof st->in - 1 ? 0 : proxy_fail(t, "reply header too long");
	st->in[st->in_len] = '\0';
	if (sscanf((char *)st->in, "HTTP/1.%*1[01] %3u %119[^\r\n]", &code, reason) < 1)
		return proxy_fail(t, "not an HTTP reply to CONNECT");
	if (code < 200 || code > 299)
		return proxy_fail(t, "refused CONNECT to %s:%u: %u %s", st->target, st->target_port, code, reason);
	return 1;
}

static int socks_reply(struct transport *t, size_t *want)
{
	struct proxy_state *st = t->priv;
	const uint8_t *r = st->in;
	*want = st->stage == SOCKS_CONNECT ? 5 : 2;
	if (st->in_len < *want)
		return 0;
	if (st->stage == SOCKS_GREETING) {
		if (r[0] != 5)
			return proxy_fail(t, "not a SOCKS5 proxy (version %u)", r[0]);
		if (r[1] == 2 && st->px.u.has_user)
			socks_auth(st);
		else if (r[1] == 0)
			socks_connect(st);
		else
			return proxy_fail(t, "accepts none of our authentication methods%s",
				st->px.u.has_user ? "" : " (username and password needed?)");
		st->in_len = 0;
		return 0;
	}
	if (st->stage == SOCKS_AUTH) {
		if (r[1] != 0)
			return proxy_fail(t, "username/password rejected (status %u)", r[1]);
		socks_connect(st);
		st->in_len = 0;
		return 0;
	}
	if (r[1] != 0)
		return proxy_fail(t, "refused connection to %s:%u: %s (reply %u)", st->target,
			st->target_port, socks_reply_text(r[1]), r[1]);
	*want = 4 + (r[3] == 1 ? 4 : r[3] == 4 ? 16 : r[3] == 3 ? 1 + (size_t)r[4] : 0) + 2;
	if (*want == 6)
		return proxy_fail(t, "bad address type %u in reply", r[3]);
	return st->in_len < *want ? 0 : 1;
}

/* Write what is queued, read the reply; TRANSPORT_WANT_* until done. */
static int talk(struct transport *t)
{
	struct proxy_state *st = t->priv;
	for (;;) {
		while (st->out_off < st->out_len) {
			ssize_t w = st->low.ops->write(&st->low, st->out + st->out_off, st->out_len - st->out_off);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return TRANSPORT_WANT_WRITE;
			if (w <= 0)
				return proxy_fail(t, "%s", st->low.err);
			st->out_off += (size_t)w;
		}
		size_t want = 0;
		int r = st->px.kind == PROXY_HTTP ? http_reply(t, &want) : socks_reply(t, &want);
		if (r != 0)
			return r < 0 ? -1 : (st->phase = PX_DONE, 0);
		if (st->out_off < st->out_len)
			continue;       /* a SOCKS stage queued its next request */
		ssize_t n = st->low.ops->read(&st->low, st->in + st->in_len, want - st->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TRANSPORT_WANT_READ;
		if (n <= 0)
			return proxy_fail(t, "%s", n == 0 ? "closed the connection during the handshake" : st->low.err);
		st->in_len += (size_t)n;
	}
}

static int after_tcp(struct transport *t, int r)
{
	struct proxy_state *st = t->priv;
	t->fd = st->low.fd;
	if (r < 0)
		return proxy_fail(t, "%s", st->low.err);
	if (r > 0)
		return r;
	st->phase = PX_TALK;
	st->out_len = st->out_off = st->in_len = 0;
	if (st->px.kind == PROXY_HTTP)
		http_request(st);
	else
		socks_greeting(st);
	return talk(t);
}

static int proxy_open(struct transport *t, const struct uri *u)
{
	struct proxy_state *st = xcalloc(1, sizeof *st);
	t->fd = -1;
	if (!st)
		return snprintf(t->err, sizeof t->err, "out of memory"), -1;
	t->priv = st;
	st->low.fd = -1;
	st->low.ops = &transport_tcp;
	snprintf(st->target, sizeof st->target, "%s", u->host);
	st->target_port = u->port;
	if (!t->cfg || !t->cfg->proxy || parse_proxy(t->cfg->proxy, &st->px, t->err, sizeof t->err) < 0)
		return t->err[0] ? -1 : (snprintf(t->err, sizeof t->err, "no proxy configured"), -1);
	const char *why = st->px.u.has_user ? ossl_crypto_load() : NULL;   /* base64 */
	if (why)
		return snprintf(t->err, sizeof t->err, "proxy: %s", why), -1;
	return after_tcp(t, st->low.ops->open(&st->low, &st->px.u));
}

static int proxy_handshake(struct transport *t)
{
	struct proxy_state *st = t->priv;
	if (st->phase == PX_TCP)
		return after_tcp(t, st->low.ops->handshake(&st->low));
	return talk(t);
}

static ssize_t proxy_read(struct transport *t, void *buf, size_t n)
{
	struct proxy_state *st = t->priv;
	ssize_t r = st->low.ops->read(&st->low, buf, n);
	if (r < 0)
		memcpy(t->err, st->low.err, sizeof t->err);
	return r;
}

static ssize_t proxy_write(struct transport *t, const void *buf, size_t n)
{
	struct proxy_state *st = t->priv;
	ssize_t r = st->low.ops->write(&st->low, buf, n);
	if (r < 0)
		memcpy(t->err, st->low.err, sizeof t->err);
	return r;
}

static void proxy_close(struct transport *t)
{
	struct proxy_state *st = t->priv;
	if (st) {
		st->low.ops->close(&st->low);
		xfree(st);
	}
	t->priv = NULL;
	t->fd = -1;
}

const struct transport_ops transport_proxy = {
	"proxy", proxy_open, proxy_handshake, proxy_read, proxy_write, proxy_close, NULL
};
