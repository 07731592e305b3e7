/*
 * client_uris.c - which broker a client tries next: the failover list
 * (opts.uris, in order, no delay inside a round, the backoff between
 * rounds) and MQTT 5 Server References (CONNACK or DISCONNECT 0x9C "use
 * another server" / 0x9D "server moved") when follow_redirect is on.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mqtt_client_impl.h"
#include "xalloc.h"

/* a broker that keeps redirecting (or two that redirect to each other)
 * must not keep us from the list for ever */
#define MAX_REDIRECTS 5

struct client_uris {
	char **v;
	size_t n, index, tried;     /* tried: failed attempts in this round */
	char redirect[300];         /* pending Server Reference, as a URI */
	bool on_redirect;           /* the current URI came from a reference */
	unsigned redirects;         /* followed since the last CONNACK ok */
	char display[300];
};

int client_uris_init(struct mqtt_client *c, const struct mqtt_client_opts *o, char *err, size_t errlen)
{
	struct client_uris *u = xcalloc(1, sizeof *u);
	struct uri tmp;
	if (!u)
		return snprintf(err, errlen, "out of memory"), -1;
	c->uris = u;
	if (!o->n_uris)
		return 0;
	if (!(u->v = xcalloc(o->n_uris, sizeof *u->v)))
		return snprintf(err, errlen, "out of memory"), -1;
	for (size_t i = 0; i < o->n_uris; i++) {
		if (!o->uris[i] || uri_parse(o->uris[i], &tmp, err, errlen) < 0)
			return -1;
		if (!(u->v[i] = xstrdup(o->uris[i])))
			return snprintf(err, errlen, "out of memory"), -1;
		u->n++;
	}
	return 0;
}

void client_uris_free(struct mqtt_client *c)
{
	struct client_uris *u = c->uris;
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		xfree(u->v[i]);
	xfree(u->v);
	xfree(u);
	c->uris = NULL;
}

static bool use(struct mqtt_client *c, const char *text)
{
	char err[256];
	if (client_options_set_uri(c, text, err, sizeof err) == 0)
		return true;
	client_log(c, LOG_ERROR, "cannot use broker %s: %s", text, err);
	return false;
}

bool client_uris_next(struct mqtt_client *c, bool was_connected)
{
	struct client_uris *u = c->uris;
	if (u->redirect[0]) {
		bool ok = use(c, u->redirect);
		u->redirect[0] = '\0';
		if (ok) {
			client_log(c, LOG_INFO, "following the server reference to %s", c->uri_text);
			u->on_redirect = true;
			return true;
		}
	}
	if (was_connected) {
		u->tried = 0;               /* a new round, from the URI that worked */
		return false;
	}
	if (u->on_redirect) {           /* the reference failed: back to the list */
		u->on_redirect = false;
		if (u->n)
			use(c, u->v[u->index]);
		return false;
	}
	if (u->n < 2)
		return false;
	u->index = (u->index + 1) % u->n;
	use(c, u->v[u->index]);
	if (++u->tried < u->n)
		return true;
	u->tried = 0;
	return false;
}

/* "host[:port]" or "[v6]:port" (the first of a space-separated list) on
 * our scheme; without a port, the one in use */
static int reference_uri(const struct mqtt_client *c, struct mqtt_str ref, char *out, size_t cap)
{
	size_t n = 0;
	char port[8] = "";
	while (n < ref.len && ref.ptr[n] != ' ')
		n++;
	if (n == 0 || n > 255 || memchr(ref.ptr, '/', n) || memchr(ref.ptr, '@', n))
		return -1;
	const uint8_t *close = ref.ptr[0] == '[' ? memchr(ref.ptr, ']', n) : NULL;
	bool has_port = close ? (size_t)(close - ref.ptr) + 1 < n && close[1] == ':' :
		memchr(ref.ptr, ':', n) != NULL;
	if (!has_port)
		snprintf(port, sizeof port, ":%u", (unsigned)c->uri.port);
	int w = snprintf(out, cap, "%s://%.*s%s", c->uri.scheme, (int)n, (const char *)ref.ptr, port);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

void client_uris_redirect(struct mqtt_client *c, uint8_t reason, struct mqtt_str props)
{
	struct client_uris *u = c->uris;
	struct mqtt_prop ref;
	if (c->o.version != MQTT_V5 || (reason != 0x9C && reason != 0x9D) ||
			mqtt_props_find(props, MQTT_PROP_SERVER_REFERENCE, &ref) != 1)
		return;
	if (!c->o.follow_redirect) {
		client_log(c, LOG_WARN, "broker names another server (%.*s); follow_redirect is off",
			(int)(ref.str.len > 200 ? 200 : ref.str.len), (const char *)ref.str.ptr);
		return;
	}
	if (u->redirects >= MAX_REDIRECTS) {
		client_log(c, LOG_WARN, "not following server reference %.*s: %d redirects in a row",
			(int)(ref.str.len > 200 ? 200 : ref.str.len), (const char *)ref.str.ptr, MAX_REDIRECTS);
		return;
	}
	if (reference_uri(c, ref.str, u->redirect, sizeof u->redirect) < 0) {
		u->redirect[0] = '\0';
		client_log(c, LOG_WARN, "unusable server reference '%.*s'",
			(int)(ref.str.len > 200 ? 200 : ref.str.len), (const char *)ref.str.ptr);
		return;
	}
	u->redirects++;
}

void client_uris_connected(struct mqtt_client *c)
{
	c->uris->tried = 0;
	c->uris->redirects = 0;
}

/* The URI without user:password@ */
const char *client_uris_display(const struct mqtt_client *c)
{
	struct client_uris *u = c->uris;
	const char *sep = strstr(c->uri_text, "://");
	const char *at = sep ? strchr(sep + 3, '@') : NULL;
	if (!at)
		return c->uri_text;
	snprintf(u->display, sizeof u->display, "%.*s%s", (int)(sep + 3 - c->uri_text), c->uri_text, at + 1);
	return u->display;
}
