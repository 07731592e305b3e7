/*
 * client_acks.c - wake for acknowledgements in batches while the in-flight
 * window is full.
 *
 * A publisher that keeps its window full against a fast broker wakes for
 * every few PUBACKs (the broker writes each one on its own), and on a
 * 2-core machine a sleep and a wake-up cost more than everything lia does
 * for the messages they carry. Nothing useful happens between those
 * wake-ups anyway: the window opens by one or two slots at a time. So
 * while the window is full, with messages queued behind it, the socket's
 * SO_RCVLOWAT asks the kernel to wake us only once the acknowledgements
 * for half the window (at most ACKS_PER_WAKE of them) can have arrived.
 * Every message in flight owes us at least one packet of at least
 * ACK_MIN_BYTES (PUBACK, PUBREC, PUBCOMP), and TLS or WebSocket framing
 * only adds bytes, so that many bytes are owed and the wait ends.
 *
 * The guard: owed is not sent. A broker with Nagle's algorithm on (no
 * TCP_NODELAY), or with a small congestion window, sends one small segment
 * and holds the rest until our kernel acknowledges it, which the kernel
 * delays (40 ms on Linux) while nothing reads; a broker can also just be
 * slow for a moment. A timer GUARD_MS after the last packet that came in
 * clears the threshold (a cut). A moment's slowness costs a cut now and
 * then; a link that needs them (CUTS_TRIP in CUTS_WINDOW waits) turns
 * batching off for OFF_MIN_MS, doubling each time it trips again up to
 * OFF_MAX_MS: such a link pays CUTS_TRIP x GUARD_MS per OFF_MAX_MS at most. A
 * PINGREQ in flight, output the socket has not taken, or a window with
 * room all mean "wake for any byte" (SO_RCVLOWAT 1, the default).
 */
#include <sys/socket.h>

#include "mqtt_client_impl.h"

#define ACK_MIN_BYTES 4     /* fixed header + packet id, v5 reason 0 omitted */
/* TCP's initial congestion window is 10 segments (RFC 6928): a broker
 * that writes each acknowledgement on its own can send this many before
 * it needs our ACK */
#define ACKS_PER_WAKE 10
#define GUARD_MS 5
#define CUTS_WINDOW 8
#define CUTS_TRIP 3
#define OFF_MIN_MS 1000
#define OFF_MAX_MS 60000

static int64_t guard_due(struct loop *l, struct loop_timer *t, void *ud);

static void set_lowat(struct mqtt_client *c, int bytes)
{
	if (bytes == c->acks_lowat)
		return;
	/* a socket that refuses (not TCP, say) just keeps waking for any byte */
	if (setsockopt(c->tr.fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0)
		c->acks_lowat = bytes;
}

/* Bytes the acknowledgements now owed must reach before a wake-up is worth
 * it; 1 when any byte may matter. */
static int wanted(struct mqtt_client *c)
{
	uint32_t acks;
	if (c->state != ST_CONNECTED || c->tr.fd < 0 || c->ping_outstanding ||
			(c->watch_mask & LOOP_WRITE) || !c->qhead || c->qhead->qos == 0 ||
			c->inflight < session_window(c) || loop_now(c->loop) < c->acks_off_until)
		return 1;
	acks = c->inflight / 2;
	if (acks > ACKS_PER_WAKE)
		acks = ACKS_PER_WAKE;
	return acks < 2 ? 1 : (int)(acks * ACK_MIN_BYTES);
}

static void stop_guard(struct mqtt_client *c)
{
	if (c->acks_guard)
		loop_timer_cancel(c->loop, c->acks_guard);
	c->acks_guard = NULL;
}

/* A wait ended, by itself or cut: count it, and trip when cuts pile up. */
static void wait_ended(struct mqtt_client *c, bool cut)
{
	if (cut) {
		c->st.ack_waits_cut++;
		c->acks_window_cuts++;
	} else {
		c->st.ack_waits++;
	}
	if (c->acks_window_cuts >= CUTS_TRIP) {
		c->acks_off_until = loop_now(c->loop) + c->acks_off_ms;
		c->acks_off_ms = c->acks_off_ms * 2 > OFF_MAX_MS ? OFF_MAX_MS : c->acks_off_ms * 2;
		c->acks_window_waits = c->acks_window_cuts = 0;
	} else if (++c->acks_window_waits >= CUTS_WINDOW) {
		if (!c->acks_window_cuts)
			c->acks_off_ms = OFF_MIN_MS;    /* a clean window forgives */
		c->acks_window_waits = c->acks_window_cuts = 0;
	}
}

void client_acks_before_sleep(struct mqtt_client *c)
{
	bool came_in = c->st.recv_packets != c->acks_seen;
	if (c->acks_cut) {
		/* the guard fired: wake for whatever is waiting before a new threshold */
		if (!came_in)
			return;
		c->acks_cut = false;
	} else if (came_in && c->acks_lowat > 1) {
		wait_ended(c, false);
	}
	c->acks_seen = c->st.recv_packets;
	set_lowat(c, wanted(c));
	if (c->acks_lowat == 1) {
		stop_guard(c);
		return;
	}
	/* the guard counts from the last packet that came in, not from the
	 * last turn of the loop: other clients and timers turn it too */
	if (c->acks_guard && !came_in)
		return;
	if (c->acks_guard)
		loop_timer_reset(c->loop, c->acks_guard, GUARD_MS);
	else if ((c->acks_guard = loop_timer_start(c->loop, GUARD_MS, guard_due, c)))
		loop_timer_unref(c->loop, c->acks_guard);
	else
		set_lowat(c, 1);    /* no timer, no threshold */
}

static int64_t guard_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	(void)l;
	(void)t;
	c->acks_guard = NULL;
	c->acks_cut = true;
	wait_ended(c, true);
	set_lowat(c, 1);    /* whatever is waiting now makes the fd readable */
	return LOOP_TIMER_STOP;
}

/* A new socket starts at the kernel's default; the old one's timer goes.
 * What the last link taught (acks_off_*) stays: it is the same broker. */
void client_acks_reset(struct mqtt_client *c)
{
	stop_guard(c);
	c->acks_lowat = 1;
	c->acks_cut = false;
	c->acks_window_waits = c->acks_window_cuts = 0;
	if (!c->acks_off_ms)
		c->acks_off_ms = OFF_MIN_MS;
}
