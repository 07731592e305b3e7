/*
 * mqtt_events.c - how a client's events reach its handler. Events raised
 * from loop callbacks are delivered at once (client_emit: the caller
 * re-checks client_alive() afterwards); events caused by API calls, and log
 * lines, are copied and delivered from a zero-delay timer (client_post), so
 * a handler never runs inside e.g. mqtt_client_publish.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mqtt_client_impl.h"
#include "xalloc.h"

void client_log(struct mqtt_client *c, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (level > log_get_level() && !c->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_msg(level, "mqtt %s: %s", c->client_id && c->client_id[0] ? c->client_id : "-", line);
	struct mqtt_event ev = { .type = MQTT_EV_LOG };
	ev.u.log.level = level;
	ev.u.log.line = line;
	client_post(c, &ev);
}

void client_emit(struct mqtt_client *c, const struct mqtt_event *ev)
{
	if (c->fn && !c->freeing)
		c->fn(c, ev, c->ud);
}

bool client_alive(const struct mqtt_client *c, unsigned gen)
{
	return !c->freeing && c->gen == gen;
}

/* Views an event points to, copied into one allocation for posting. */
static size_t event_views(struct mqtt_event *ev, struct mqtt_str **views, const char ***strs)
{
	*strs = NULL;
	switch (ev->type) {
	case MQTT_EV_PUBLISHED:
		views[0] = &ev->u.published.props;
		return 1;
	case MQTT_EV_SUBSCRIBED:
	case MQTT_EV_UNSUBSCRIBED:
		views[0] = &ev->u.subscribed.codes;
		views[1] = &ev->u.subscribed.props;
		return 2;
	case MQTT_EV_DISCONNECT:
		views[0] = &ev->u.disconnect.props;
		*strs = &ev->u.disconnect.message;
		return 1;
	case MQTT_EV_LOG:
		*strs = &ev->u.log.line;
		return 0;
	default:
		return 0;
	}
}

static int64_t dispatch_posted(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->post_timer = NULL;
	client_enter(c);
	/* Deliver only what was posted before this run; handlers may post more. */
	struct posted *p = c->posted;
	c->posted = c->posted_tail = NULL;
	while (p) {
		struct posted *next = p->next;
		client_emit(c, &p->ev);
		xfree(p);
		p = next;
	}
	client_leave(c);
	return LOOP_TIMER_STOP;
}

void client_post(struct mqtt_client *c, const struct mqtt_event *src)
{
	struct mqtt_str *views[2];
	const char **str;
	struct mqtt_event ev = *src;
	size_t n = event_views(&ev, views, &str), total = 0, slen = 0;
	if (!c->fn || c->freeing)
		return;
	for (size_t i = 0; i < n; i++)
		total += views[i]->len;
	if (str && *str)
		slen = strlen(*str) + 1;
	struct posted *p = xmalloc(sizeof *p + total + slen);
	if (!p)
		return;     /* an event lost to ENOMEM is logged by nobody: nothing left */
	p->next = NULL;
	p->ev = ev;
	uint8_t *w = p->blob;
	n = event_views(&p->ev, views, &str);
	for (size_t i = 0; i < n; i++) {
		if (views[i]->len)
			memcpy(w, views[i]->ptr, views[i]->len);
		views[i]->ptr = views[i]->ptr ? w : NULL;
		w += views[i]->len;
	}
	if (str && *str) {
		memcpy(w, *str, slen);
		*str = (const char *)w;
	}
	if (c->posted_tail)
		c->posted_tail->next = p;
	else
		c->posted = p;
	c->posted_tail = p;
	if (!c->post_timer)
		c->post_timer = loop_timer_start(c->loop, 0, dispatch_posted, c);
}

