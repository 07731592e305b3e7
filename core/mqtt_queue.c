/*
 * mqtt_queue.c - the offline queue's policy: bounded by messages and bytes
 * (max_queued, max_queued_bytes; the oldest unsent message goes first, or
 * the new one is refused: queue_drop), by age (max_age: dropped unsent),
 * drained at a paced rate after a reconnect (drain_rate), counted in the
 * stats and logged when the depth doubles.
 */
#include <time.h>

#include "log.h"
#include "mqtt_client_impl.h"

#define QUEUE_LOG_FIRST 1000    /* depth that is worth a line, then each doubling */

int64_t queue_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Offline, a growing queue is news (the broker is away and messages pile
 * up); connected, it is only a script publishing faster than the broker
 * acknowledges, which a loop does at every refill: a debug line. The line
 * that says it drained has the level of the one that said it grew. */
static void log_depth(struct mqtt_client *c)
{
	if (c->queued >= QUEUE_LOG_FIRST && c->queued >= c->queue_logged * 2) {
		c->queue_logged = c->queued;
		c->queue_logged_offline = c->state != ST_CONNECTED;
		client_log(c, c->queue_logged_offline ? LOG_INFO : LOG_DEBUG, "%s: %u messages, %llu bytes",
			c->queue_logged_offline ? "offline queue" : "queue", (unsigned)c->queued,
			(unsigned long long)c->queued_bytes);
	} else if (c->queued < c->queue_logged / 4) {
		c->queue_logged = c->queued < QUEUE_LOG_FIRST ? 0 : c->queued;
		if (!c->queued)
			client_log(c, c->queue_logged_offline ? LOG_INFO : LOG_DEBUG, "%s drained",
				c->queue_logged_offline ? "offline queue" : "queue");
	}
}

/* One MQTT_EV_DRAINED for mqtt_client_want_drained, posted: the queue
 * empties inside API calls too (a publish written at once). */
static void check_drained(struct mqtt_client *c)
{
	if (c->queued || !c->want_drained)
		return;
	c->want_drained = false;
	struct mqtt_event ev = { .type = MQTT_EV_DRAINED };
	client_post(c, &ev);
}

void mqtt_client_want_drained(struct mqtt_client *c)
{
	c->want_drained = true;
	check_drained(c);
}

/* m joins (delta 1) or leaves (-1) the queued, unsent part of the store */
void queue_count(struct mqtt_client *c, const struct mqtt_msg *m, int delta)
{
	if (delta > 0) {
		c->queued++;
		c->queued_bytes += m->len;
	} else {
		c->queued--;
		c->queued_bytes -= m->len <= c->queued_bytes ? m->len : c->queued_bytes;
		check_drained(c);
	}
	log_depth(c);
}

static bool full(const struct mqtt_client *c, size_t len)
{
	return c->queued >= c->o.max_queued ||
		(c->o.max_queued_bytes && c->queued_bytes + len > c->o.max_queued_bytes);
}

static struct mqtt_msg *oldest_queued(struct mqtt_client *c)
{
	return c->qhead;
}

/* Room for a new message of len bytes: 0, or MQTT_E_QUEUE_FULL. */
int queue_admit(struct mqtt_client *c, size_t len)
{
	if (c->o.max_queued_bytes && len > c->o.max_queued_bytes)
		return MQTT_E_QUEUE_FULL;
	while (full(c, len)) {
		struct mqtt_msg *m = c->o.queue_drop == MQTT_DROP_OLDEST ? oldest_queued(c) : NULL;
		if (!m)
			return MQTT_E_QUEUE_FULL;
		if (c->dropped % 1000 == 0)
			client_log(c, LOG_WARN, "offline queue full (%u messages, %llu bytes): dropping "
				"the oldest (%llu dropped so far)", (unsigned)c->queued,
				(unsigned long long)c->queued_bytes, (unsigned long long)c->dropped + 1);
		c->dropped++;
		session_drop(c, m, "dropped: queue full");
	}
	return 0;
}

/* max_age: m waited too long; it is dropped instead of sent. */
bool queue_expired(struct mqtt_client *c, const struct mqtt_msg *m)
{
	if (!c->o.max_age_ms || !m->created || queue_wall_ms() - m->created <= (int64_t)c->o.max_age_ms)
		return false;
	if (c->expired % 1000 == 0)
		client_log(c, LOG_WARN, "publish %u older than max_age: dropped (%llu so far)",
			(unsigned)m->mid, (unsigned long long)c->expired + 1);
	c->expired++;
	return true;
}

static int64_t drain_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->drain_timer = NULL;
	client_enter(c);
	session_pump(c);
	client_leave(c);
	return LOOP_TIMER_STOP;
}

/* drain_rate: true when the next queued message must wait (a timer will
 * pump again); false when it may go now (and counts against the rate). */
bool queue_paced(struct mqtt_client *c)
{
	if (!c->o.drain_rate)
		return false;
	uint64_t now = loop_now_fresh(c->loop);
	uint64_t step = 1000 / c->o.drain_rate ? 1000 / c->o.drain_rate : 1;
	if (now >= c->drain_next_ms) {
		/* no burst after a pause: the backlog goes out evenly */
		c->drain_next_ms = now + step;
		return false;
	}
	if (!c->drain_timer)
		c->drain_timer = loop_timer_start(c->loop, c->drain_next_ms - now, drain_due, c);
	return true;
}

void queue_free(struct mqtt_client *c)
{
	if (c->drain_timer) {
		loop_timer_cancel(c->loop, c->drain_timer);
		c->drain_timer = NULL;
	}
}
