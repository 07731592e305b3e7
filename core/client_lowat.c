/*
 * client_lowat.c - wake for fewer, larger reads: for the acknowledgements
 * of a full in-flight window, and for a stream that only comes in.
 *
 * On a 2-core machine a sleep and a wake-up cost more than everything lia
 * does for the few packets each one brings, and a fast peer makes every
 * packet a wake-up. The socket's SO_RCVLOWAT asks the kernel to wake us
 * only once a number of bytes have arrived. Two rules choose it, and the
 * larger wins:
 *
 * Acknowledgements. A publisher that keeps its window full wakes for every
 * few PUBACKs (the broker writes each one on its own), and nothing useful
 * happens between those wake-ups: the window opens by one or two slots at
 * a time. So while the window is full, with messages queued behind it, the
 * threshold is the bytes the acknowledgements for half the window (at most
 * ACKS_PER_WAKE) must reach. Every message in flight owes us at least one
 * packet of at least ACK_MIN_BYTES (PUBACK, PUBREC, PUBCOMP), and TLS or
 * WebSocket framing only adds bytes, so that many bytes are owed.
 *
 * A stream. A subscriber fed QoS 0 messages faster than it wakes reads one
 * or two per wake-up, and the kernel's share (the read, the wait, the ACK
 * each read sends) is several times lia's own. While packets keep coming
 * in and we send nothing back (no PUBACK, no reply: a round trip waits for
 * every packet, and a broker's window for QoS 1 and 2 waits for our acks),
 * the threshold is what the stream's measured rate brings in
 * STREAM_TARGET_US, so a wake-up carries that much at the cost of as much
 * latency. A rate too low to fill STREAM_MIN_BYTES in that time keeps the
 * default: such a stream costs little anyway.
 *
 * The guard: owed or expected is not sent. A broker with Nagle's algorithm
 * on (no TCP_NODELAY), or with a small congestion window, sends one small
 * segment and holds the rest until our kernel acknowledges it, which the
 * kernel delays (40 ms on Linux) while nothing reads; a broker can also
 * just be slow for a moment, and a stream ends. A timer after the last
 * packet that came in (GUARD_MS for acknowledgements, STREAM_GUARD_MS for
 * a stream, which bounds the latency it adds) clears the threshold (a cut).
 * A moment's slowness costs a cut now and then; a link that needs them
 * (CUTS_TRIP in CUTS_WINDOW waits) turns batching off for OFF_MIN_MS,
 * doubling each time it trips again up to OFF_MAX_MS: such a link pays
 * CUTS_TRIP guards per OFF_MAX_MS at most. A PINGREQ in flight or output
 * the socket has not taken mean "wake for any byte" (SO_RCVLOWAT 1, the
 * default).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "mqtt_client_impl.h"

#define ACK_MIN_BYTES 4     /* fixed header + packet id, v5 reason 0 omitted */
/* TCP's initial congestion window is 10 segments (RFC 6928): a broker
 * that writes each acknowledgement on its own can send this many before
 * it needs our ACK */
#define ACKS_PER_WAKE 10
#define GUARD_MS 5
/* a stream: wake-ups in a row, each within STREAM_GAP_US of the last,
 * before it counts as one */
#define STREAM_RUNS 4
#define STREAM_GAP_US 2000
#define STREAM_TARGET_US 500
#define STREAM_MIN_BYTES 256
/* below READ_CHUNK: one read takes what woke us */
#define STREAM_MAX_BYTES 8192
#define STREAM_GUARD_MS 2
#define CUTS_WINDOW 8
#define CUTS_TRIP 3
#define OFF_MIN_MS 1000
#define OFF_MAX_MS 60000

static int64_t guard_due(struct loop *l, struct loop_timer *t, void *ud);

static void set_lowat(struct mqtt_client *c, int bytes)
{
	if (bytes == c->lowat)
		return;
	/* a socket that refuses (not TCP, say) just keeps waking for any byte */
	if (setsockopt(c->tr.fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0)
		c->lowat = bytes;
}

/* Follow the rate of a stream: called at a sleep after packets came in. */
static void measure_stream(struct mqtt_client *c)
{
	uint64_t now = loop_clock_ns() / 1000u;
	uint64_t dt = now - c->stream_at, db = c->st.recv_bytes - c->stream_bytes;
	bool quiet = c->st.sent_packets == c->stream_sent;
	if (c->stream_at && quiet && dt <= STREAM_GAP_US) {
		/* bytes per millisecond, smoothed over the last few wake-ups */
		uint64_t sample = db * 1000u / (dt ? dt : 1);
		c->stream_rate = c->stream_runs ? (c->stream_rate * 3 + sample) / 4 : sample;
		if (c->stream_runs < STREAM_RUNS)
			c->stream_runs++;
	} else {
		c->stream_runs = 0;
		c->stream_rate = 0;
	}
	c->stream_at = now;
	c->stream_bytes = c->st.recv_bytes;
	c->stream_sent = c->st.sent_packets;
}

static int stream_wanted(struct mqtt_client *c)
{
	uint64_t bytes;
	if (c->stream_runs < STREAM_RUNS)
		return 1;
	bytes = c->stream_rate * STREAM_TARGET_US / 1000u;
	if (bytes > (uint64_t)c->stream_ceiling)
		bytes = (uint64_t)c->stream_ceiling;
	/* worth it only for a few packets at a time */
	if (bytes < STREAM_MIN_BYTES || !c->st.recv_packets || bytes < 2 * c->st.recv_bytes / c->st.recv_packets)
		return 1;
	return (int)bytes;
}

static int acks_wanted(struct mqtt_client *c)
{
	uint32_t acks;
	if (!c->qhead || c->qhead->qos == 0 || c->inflight < session_window(c))
		return 1;
	acks = c->inflight / 2;
	if (acks > ACKS_PER_WAKE)
		acks = ACKS_PER_WAKE;
	return acks < 2 ? 1 : (int)(acks * ACK_MIN_BYTES);
}

/* Bytes worth waking for now; 1 when any byte may matter. Sets
 * lowat_acks when the acknowledgements' rule chose it. */
static int wanted(struct mqtt_client *c)
{
	int acks, stream;
	if (c->state != ST_CONNECTED || c->tr.fd < 0 || c->ping_outstanding ||
			(c->watch_mask & LOOP_WRITE) || loop_now(c->loop) < c->lowat_off_until)
		return 1;
	acks = acks_wanted(c);
	stream = stream_wanted(c);
	c->lowat_acks = acks >= stream;
	return c->lowat_acks ? acks : stream;
}

static void stop_guard(struct mqtt_client *c)
{
	if (c->lowat_guard)
		loop_timer_cancel(c->loop, c->lowat_guard);
	c->lowat_guard = NULL;
}

/* A wait ended, by itself or cut: count it, and trip when cuts pile up. */
static void wait_ended(struct mqtt_client *c, bool cut)
{
	uint64_t *n = c->lowat_acks ? (cut ? &c->st.ack_waits_cut : &c->st.ack_waits)
		: (cut ? &c->st.stream_waits_cut : &c->st.stream_waits);
	(*n)++;
	if (cut)
		c->lowat_window_cuts++;
	if (c->lowat_window_cuts >= CUTS_TRIP) {
		c->lowat_off_until = loop_now(c->loop) + c->lowat_off_ms;
		c->lowat_off_ms = c->lowat_off_ms * 2 > OFF_MAX_MS ? OFF_MAX_MS : c->lowat_off_ms * 2;
		c->lowat_window_waits = c->lowat_window_cuts = 0;
	} else if (++c->lowat_window_waits >= CUTS_WINDOW) {
		if (!c->lowat_window_cuts) {
			c->lowat_off_ms = OFF_MIN_MS;    /* a clean window forgives */
			/* and probes for a larger congestion window */
			c->stream_ceiling += c->stream_ceiling / 16;
			if (c->stream_ceiling > STREAM_MAX_BYTES)
				c->stream_ceiling = STREAM_MAX_BYTES;
		}
		c->lowat_window_waits = c->lowat_window_cuts = 0;
	}
}

void client_lowat_before_sleep(struct mqtt_client *c)
{
	bool came_in = c->st.recv_packets != c->lowat_seen;
	if (came_in)
		measure_stream(c);
	if (c->lowat_cut) {
		/* the guard fired: wake for whatever is waiting before a new threshold */
		if (!came_in)
			return;
		c->lowat_cut = false;
	} else if (came_in && c->lowat > 1) {
		wait_ended(c, false);
	}
	c->lowat_seen = c->st.recv_packets;
	set_lowat(c, wanted(c));
	if (c->lowat == 1) {
		stop_guard(c);
		return;
	}
	/* the guard counts from the last packet that came in, not from the
	 * last turn of the loop: other clients and timers turn it too */
	if (c->lowat_guard && !came_in)
		return;
	if (c->lowat_guard)
		loop_timer_reset(c->loop, c->lowat_guard, c->lowat_acks ? GUARD_MS : STREAM_GUARD_MS);
	else if ((c->lowat_guard = loop_timer_start(c->loop, c->lowat_acks ? GUARD_MS : STREAM_GUARD_MS,
			guard_due, c)))
		loop_timer_unref(c->loop, c->lowat_guard);
	else
		set_lowat(c, 1);    /* no timer, no threshold */
}

static int64_t guard_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct mqtt_client *c = ud;
	int queued;
	(void)l;
	(void)t;
	c->lowat_guard = NULL;
	if (ioctl(c->tr.fd, FIONREAD, &queued) < 0)
		queued = 0;
	/* the wait ended all the same: this turn read it (fds run before
	 * timers), or the next one will */
	if (c->st.recv_packets != c->lowat_seen || queued >= c->lowat)
		return LOOP_TIMER_STOP;
	c->lowat_cut = true;
	wait_ended(c, true);
	/* a stream stalled there: the broker sends that much and waits for
	 * our kernel's ACK (its congestion window), which comes when we read */
	if (!c->lowat_acks)
		c->stream_ceiling = queued * 3 / 4 > STREAM_MIN_BYTES ? queued * 3 / 4 : STREAM_MIN_BYTES;
	set_lowat(c, 1);    /* whatever is waiting now makes the fd readable */
	return LOOP_TIMER_STOP;
}

/* A new socket starts at the kernel's default; the old one's timer and
 * stream go. What the last link taught (lowat_off_*) stays: it is the
 * same broker. */
void client_lowat_reset(struct mqtt_client *c)
{
	stop_guard(c);
	c->lowat = 1;
	c->lowat_cut = false;
	c->lowat_window_waits = c->lowat_window_cuts = 0;
	c->stream_at = 0;
	c->stream_runs = 0;
	c->stream_rate = 0;
	c->stream_ceiling = STREAM_MAX_BYTES;
	if (!c->lowat_off_ms)
		c->lowat_off_ms = OFF_MIN_MS;
}
