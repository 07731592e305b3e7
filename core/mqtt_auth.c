/*
 * mqtt_auth.c - MQTT 5 enhanced authentication (section 4.12): the method
 * and first data in CONNECT, AUTH 0x18 rounds until CONNACK, and
 * re-authentication on an open connection (AUTH 0x19 ... AUTH 0x00).
 * SCRAM-SHA-256 is built in (scram.c); any other method hands each
 * challenge to the host as MQTT_EV_AUTH.
 */
#include <string.h>

#include "log.h"
#include "mqtt_client_impl.h"
#include "scram.h"
#include "xalloc.h"

struct client_auth {
	char *method;
	uint8_t *data;
	size_t data_len;
	bool scram_builtin;
	char *user;
	uint8_t *password;
	size_t password_len;
	struct scram scram;
	bool running;       /* an exchange waits for the server or the host */
	bool waiting_host;  /* a challenge went to the host */
	bool reauth;
	struct loop_timer *abort_timer;     /* the host gave up: close from the loop */
	unsigned abort_gen;
};

int client_auth_init(struct mqtt_client *c, const struct mqtt_client_opts *o)
{
	if (!o->auth_method || c->o.version != MQTT_V5)
		return 0;
	struct client_auth *a = xcalloc(1, sizeof *a);
	if (!a)
		return -1;
	c->auth = a;
	a->scram_builtin = !o->auth_external && strcmp(o->auth_method, "SCRAM-SHA-256") == 0;
	if (!(a->method = xstrdup(o->auth_method)) ||
			(o->auth_data && !(a->data = xmemdup(o->auth_data, o->auth_data_len ? o->auth_data_len : 1))) ||
			(o->auth_user && !(a->user = xstrdup(o->auth_user))) ||
			(o->auth_password && !(a->password = xmemdup(o->auth_password,
				o->auth_password_len ? o->auth_password_len : 1))))
		return -1;
	a->data_len = o->auth_data ? o->auth_data_len : 0;
	a->password_len = o->auth_password ? o->auth_password_len : 0;
	return 0;
}

void client_auth_free(struct mqtt_client *c)
{
	struct client_auth *a = c->auth;
	if (!a)
		return;
	if (a->abort_timer)
		loop_timer_cancel(c->loop, a->abort_timer);
	if (a->password)
		memset(a->password, 0, a->password_len);
	xfree(a->method);
	xfree(a->data);
	xfree(a->user);
	xfree(a->password);
	memset(&a->scram, 0, sizeof a->scram);
	xfree(a);
	c->auth = NULL;
}

/* The first data of an exchange: SCRAM's client-first, or the user's. */
static int first_data(struct mqtt_client *c, char *buf, size_t cap, struct mqtt_str *out)
{
	struct client_auth *a = c->auth;
	const char *err;
	if (!a->scram_builtin) {
		*out = (struct mqtt_str){ a->data, a->data_len };
		return 0;
	}
	if (scram_first(&a->scram, a->user ? a->user : c->username, NULL, buf, cap, &err) < 0) {
		client_log(c, LOG_ERROR, "%s", err);
		return -1;
	}
	*out = (struct mqtt_str){ (const uint8_t *)buf, strlen(buf) };
	return 0;
}

/* method (+ data) as a property block appended to base; xfree the result */
static uint8_t *auth_props(struct client_auth *a, struct mqtt_str base, struct mqtt_str data,
	size_t *len)
{
	struct mqtt_prop p[2] = { { .id = MQTT_PROP_AUTHENTICATION_METHOD,
		.str = { (const uint8_t *)a->method, strlen(a->method) } } };
	size_t n = 1;
	if (data.ptr) {
		p[1] = (struct mqtt_prop){ .id = MQTT_PROP_AUTHENTICATION_DATA, .str = data };
		n = 2;
	}
	long size = mqtt_props_encode(p, n, NULL, 0);
	uint8_t *b = size > 0 ? xmalloc(base.len + (size_t)size) : NULL;
	if (!b)
		return NULL;
	if (base.len)
		memcpy(b, base.ptr, base.len);
	mqtt_props_encode(p, n, b + base.len, (size_t)size);
	*len = base.len + (size_t)size;
	return b;
}

uint8_t *client_auth_connect_props(struct mqtt_client *c, struct mqtt_str *props)
{
	char buf[SCRAM_MAX_MSG];
	struct mqtt_str data;
	size_t len;
	if (!c->auth)
		return NULL;
	c->auth->running = c->auth->waiting_host = c->auth->reauth = false;
	if (first_data(c, buf, sizeof buf, &data) < 0)
		return NULL;
	uint8_t *b = auth_props(c->auth, *props, data, &len);
	if (b) {
		*props = (struct mqtt_str){ b, len };
		c->auth->running = true;
	}
	return b;
}

static int send_auth(struct mqtt_client *c, uint8_t reason, struct mqtt_str data)
{
	struct mqtt_packet p = { .type = MQTT_AUTH };
	size_t len;
	uint8_t *props = auth_props(c->auth, (struct mqtt_str){ 0 }, data, &len);
	if (!props)
		return MQTT_E_NOMEM;
	p.u.disconnect.reason = reason;
	p.u.disconnect.props = (struct mqtt_str){ props, len };
	int r = client_send_packet(c, &p);
	xfree(props);
	return r;
}

static bool same_method(struct client_auth *a, struct mqtt_str props)
{
	struct mqtt_prop m;
	return mqtt_props_find(props, MQTT_PROP_AUTHENTICATION_METHOD, &m) == 1 &&
		m.str.len == strlen(a->method) && memcmp(m.str.ptr, a->method, m.str.len) == 0;
}

static struct mqtt_str auth_data(struct mqtt_str props)
{
	struct mqtt_prop d;
	if (mqtt_props_find(props, MQTT_PROP_AUTHENTICATION_DATA, &d) == 1)
		return d.str;
	return (struct mqtt_str){ (const uint8_t *)"", 0 };
}

static void emit_auth(struct mqtt_client *c, const struct mqtt_disconnect *a, bool done)
{
	struct mqtt_event ev = { .type = MQTT_EV_AUTH };
	ev.u.auth.reason = a->reason;
	ev.u.auth.done = done;
	ev.u.auth.reauth = c->auth->reauth;
	ev.u.auth.data = auth_data(a->props);
	ev.u.auth.props = a->props;
	client_emit(c, &ev);
}

static void scram_continue(struct mqtt_client *c, struct mqtt_str server_first)
{
	char out[SCRAM_MAX_MSG];
	const char *err;
	struct client_auth *a = c->auth;
	if (scram_final(&a->scram, server_first.ptr, server_first.len, a->password,
			a->password_len, out, sizeof out, &err) < 0) {
		client_protocol_error(c, 0x87, "%s", err);
		return;
	}
	send_auth(c, 0x18, (struct mqtt_str){ (const uint8_t *)out, strlen(out) });
}

/* The server's last word: SCRAM checks it proves the password. */
static bool finish(struct mqtt_client *c, struct mqtt_str props)
{
	struct client_auth *a = c->auth;
	const char *err;
	struct mqtt_str d = auth_data(props);
	a->running = a->waiting_host = false;
	if (a->scram_builtin && scram_verify(&a->scram, d.ptr, d.len, &err) < 0) {
		client_protocol_error(c, 0x87, "%s", err);
		return false;
	}
	return true;
}

void client_auth_packet(struct mqtt_client *c, const struct mqtt_disconnect *p)
{
	struct client_auth *a = c->auth;
	if (!a || !a->running || a->waiting_host) {
		client_protocol_error(c, 0x82, "broker sent AUTH unasked");
		return;
	}
	if (!same_method(a, p->props)) {
		client_protocol_error(c, 0x82, "AUTH with another authentication method than %s", a->method);
		return;
	}
	if (p->reason == 0x18) {
		if (a->scram_builtin) {
			scram_continue(c, auth_data(p->props));
		} else {
			a->waiting_host = true;
			emit_auth(c, p, false);
		}
	} else if (p->reason == 0x00 && a->reauth && c->state == ST_CONNECTED) {
		if (finish(c, p->props)) {
			client_log(c, LOG_INFO, "re-authenticated (%s)", a->method);
			emit_auth(c, p, true);
		}
	} else {
		client_protocol_error(c, 0x82, "AUTH with reason 0x%02x out of turn", p->reason);
	}
}

bool client_auth_connack(struct mqtt_client *c, const struct mqtt_connack *ack)
{
	struct client_auth *a = c->auth;
	if (!a)
		return true;
	if (!same_method(a, ack->props)) {
		client_protocol_error(c, 0x82, "CONNACK without our authentication method %s", a->method);
		return false;
	}
	return finish(c, ack->props);
}

void client_auth_lost(struct mqtt_client *c)
{
	if (c->auth)
		c->auth->running = c->auth->waiting_host = false;
}

static int64_t abort_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->auth->abort_timer = NULL;
	client_enter(c);
	if (client_alive(c, c->auth->abort_gen))
		client_protocol_error(c, 0x87, "authentication given up: on_challenge returned nothing");
	client_leave(c);
	return LOOP_TIMER_STOP;
}

int mqtt_client_auth_continue(struct mqtt_client *c, const uint8_t *data, size_t len)
{
	struct client_auth *a = c->auth;
	if (!a || !a->waiting_host || (c->state != ST_WAIT_CONNACK && c->state != ST_CONNECTED))
		return MQTT_E_STATE;
	a->waiting_host = false;
	if (!data) {
		/* not from inside this call: events never fire in API calls */
		a->abort_gen = c->gen;
		if (!a->abort_timer)
			a->abort_timer = loop_timer_start(c->loop, 0, abort_due, c);
		return a->abort_timer ? 0 : MQTT_E_NOMEM;
	}
	return send_auth(c, 0x18, (struct mqtt_str){ data, len });
}

int mqtt_client_reauthenticate(struct mqtt_client *c)
{
	char buf[SCRAM_MAX_MSG];
	struct mqtt_str data;
	struct client_auth *a = c->auth;
	if (!a || a->running || c->state != ST_CONNECTED)
		return MQTT_E_STATE;
	if (first_data(c, buf, sizeof buf, &data) < 0)
		return MQTT_E_INVALID;
	a->running = true;
	a->reauth = true;
	return send_auth(c, 0x19, data);
}
