/*
 * mqtt_client_impl.h - the client's private state, shared by the files that
 * implement it: mqtt_client.c (connection lifecycle, I/O, keep-alive,
 * reconnect, events) and mqtt_session.c (packets in and out: QoS state
 * machines, queue, subscriptions). Not for use outside core/.
 */
#ifndef LIA_MQTT_CLIENT_IMPL_H
#define LIA_MQTT_CLIENT_IMPL_H

#include <stdarg.h>

#include "backoff.h"
#include "buf.h"
#include "idmap.h"
#include "loop.h"
#include "mqtt_alias.h"
#include "mqtt_client.h"
#include "mqtt_store.h"
#include "transport.h"
#include "uri.h"

enum client_state {
	ST_IDLE,            /* not connected, not trying */
	ST_CONNECTING,      /* transport connecting / handshaking */
	ST_WAIT_CONNACK,    /* CONNECT sent */
	ST_CONNECTED,
	ST_DISCONNECTING,   /* DISCONNECT queued, flushing before close */
	ST_BACKOFF          /* waiting to reconnect */
};

/* A remembered subscription, re-sent after a reconnect without session. */
struct sub {
	struct sub *next;
	char *filter;
	uint8_t options;
	uint8_t *props;
	size_t props_len;
};

/* A SUBSCRIBE or UNSUBSCRIBE waiting to be sent or acknowledged. The packet
 * is kept encoded; its packet id (2 bytes at id_offset) is patched at send. */
struct ctl {
	struct ctl *next;
	uint32_t mid;       /* 0: internal (re-subscribe), no event */
	uint8_t type;       /* MQTT_SUBSCRIBE or MQTT_UNSUBSCRIBE */
	uint16_t packet_id; /* 0 while unsent */
	size_t nfilters;
	size_t id_offset;
	size_t len;
	uint8_t *data;
};

/* An event whose delivery waits for a safe point (see post_event). */
struct posted {
	struct posted *next;
	struct mqtt_event ev;
	uint8_t blob[];     /* copies of the event's views */
};

#define CLIENT_OUT_HIGH_WATER (64 * 1024)

/* A client whose store holds no state for its broker session (a first run,
 * persist = false, a store moved aside) must not resume a session the
 * broker kept: that session's open QoS 2 flows and packet ids belong to a
 * process that is gone. It connects as configured (PROBE); when the broker
 * says a session is present it reconnects once with a clean start
 * (DISCARD), and under MQTT 3.1.1, where a clean session ends with its
 * connection, once more with clean session off. */
enum { FRESH_NONE, FRESH_PROBE, FRESH_DISCARD };

/* One bit per packet id. 24 KiB that a client mostly never writes (ids
 * are taken in sequence; the manual tables only with manual_ack): in a
 * block of their own pages (xzalloc_pages), not in the client, whose
 * pointers LeakSanitizer must still see on the heap. */
struct id_bits {
	uint8_t used[65536 / 8];
	uint8_t manual_pending[65536 / 8];  /* inbound awaiting mqtt_client_ack */
	uint8_t manual_qos2[65536 / 8];
};

struct mqtt_client {
	struct loop *loop;
	struct mqtt_client_opts o;      /* strings below owned */
	char *client_id, *username, *will_topic, *assigned_id;
	uint8_t *password, *will_payload, *will_props, *connect_props;
	size_t connect_props_len;
	char uri_text[300];
	struct uri uri;
	struct transport_cfg tcfg;      /* tls/ws strings owned (copies), cache owned */
	char proxy[600];                /* resolved proxy URL, "" direct */
	char *proxy_opt;                /* the proxy option (copy), for other URIs */
	bool proxy_env, tls_forced;     /* proxy from the environment; TLS options given */

	enum client_state state;
	bool want_connected;
	unsigned gen;                   /* bumped whenever a connection ends */
	struct transport tr;
	const struct transport_ops *tops;
	int watch_mask;
	struct buf in, out;
	/* client_pin.c: a large PUBLISH written from its own bytes ahead of
	 * out; pin_off of them are written */
	struct mqtt_msg *pin_msg;
	size_t pin_off;

	struct loop_timer *conn_timer, *ka_timer, *retry_timer, *post_timer, *close_timer;
	struct loop_timer *reload_timer;    /* mqtt_client_reload_tls, from the loop */
	struct backoff backoff;
	uint64_t connected_at, last_sent;
	uint8_t last_refusal;           /* last permanent CONNACK refusal logged (0: none) */
	uint64_t last_recv;             /* bytes last came in (keep-alive) */
	bool ping_outstanding;
	/* client_lowat.c: the socket's SO_RCVLOWAT, its guard timer (lowat_cut:
	 * it fired, nothing read since), recv_packets at the last sleep,
	 * whether the acknowledgements' rule chose the threshold, waits and
	 * cuts in the current window of waits, batching off until, and for how
	 * long next time; a stream's last wake-up (µs), recv_bytes and
	 * sent_packets then, wake-ups in a row and its rate (bytes per ms) */
	int lowat;
	struct loop_timer *lowat_guard;
	bool lowat_cut, lowat_acks;
	uint64_t lowat_seen;
	uint32_t lowat_window_waits, lowat_window_cuts;
	uint64_t lowat_off_until, lowat_off_ms;
	uint64_t stream_at, stream_bytes, stream_sent, stream_rate;
	uint32_t stream_runs;
	int stream_ceiling;     /* bytes the broker sends us before it needs our ACK */
	uint64_t ping_sent;
	uint16_t keepalive;             /* in use (server may override) */

	/* limits learned from CONNACK (v5) */
	uint16_t server_receive_max;
	uint32_t server_max_packet;
	uint8_t server_max_qos;
	bool server_retain;

	struct mqtt_store *store;
	uint8_t fresh;                  /* FRESH_*: no state of ours for a broker session yet */
	struct mqtt_alias *alias;       /* topic aliases, both ways */
	struct client_auth *auth;       /* enhanced authentication, NULL: none */
	struct client_uris *uris;       /* failover list and redirection */
	uint32_t inflight, queued, next_mid;
	/* The store keeps publish order: the messages in flight first, then
	 * the queued ones (sent strictly in order). qhead is the first queued
	 * one (NULL: none), where the pump starts; inflight_ids finds a message
	 * in flight by its packet id. Both keep acks and publishes O(1) in the
	 * window. */
	struct mqtt_msg *qhead;
	struct idmap inflight_ids;
	bool want_drained;              /* post MQTT_EV_DRAINED when queued drops to 0 */
	uint64_t queued_bytes, dropped, expired;
	uint32_t queue_logged;          /* depth last logged (mqtt_queue.c) */
	bool queue_logged_offline;      /* ... while not connected (at info level) */
	uint64_t drain_next_ms;         /* drain_rate: earliest next send */
	struct loop_timer *drain_timer;
	uint16_t next_id;
	struct id_bits *bits;           /* xzalloc_pages: only the pages written are resident */
	bool manual_used;               /* manual_pending has had a bit set since cleared */

	struct sub *subs;
	struct ctl *ctls;
	struct posted *posted, *posted_tail;

	mqtt_event_fn *fn;
	void *ud;
	int depth;                      /* loop callbacks on the stack */
	bool turn_written;              /* client_write_through ran since the loop last slept */
	bool freeing;
	bool replacing;        /* reconnect_now: the lost connection is replaced at once,
				 * even with reconnect = false (its DISCONNECT event says so) */

	struct mqtt_client_stats st;
};

/* mqtt_client.c: every loop callback is bracketed by enter/leave, so a
 * handler may free the client (released on the outermost leave). */
void client_enter(struct mqtt_client *c);
void client_leave(struct mqtt_client *c);
/* After a publish made outside the client's callbacks: write what is
 * queued now if it is the first such write since the loop last slept. */
void client_write_through(struct mqtt_client *c);

/* mqtt_client.c, mqtt_events.c */
void client_log(struct mqtt_client *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void client_emit(struct mqtt_client *c, const struct mqtt_event *ev);
void client_post(struct mqtt_client *c, const struct mqtt_event *ev);
int client_send(struct mqtt_client *c, const uint8_t *data, size_t len);
/* The counters and the -d trace of a packet handed to the output. */
void client_sent(struct mqtt_client *c, const uint8_t *data, size_t len);
int client_send_packet(struct mqtt_client *c, const struct mqtt_packet *p);
void client_lost(struct mqtt_client *c, uint8_t reason, bool by_server,
	struct mqtt_str props, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void client_protocol_error(struct mqtt_client *c, uint8_t reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void client_connack(struct mqtt_client *c, const struct mqtt_connack *ack);
bool client_alive(const struct mqtt_client *c, unsigned gen);

/* mqtt_options.c: defaults, checks, private copies; -1 with err */
int client_options_init(struct mqtt_client *c, const struct mqtt_client_opts *o,
	char *err, size_t errlen);
void client_options_free(struct mqtt_client *c);

/* client_alias.c: the client's side of mqtt_alias.h */
struct mqtt_alias *client_alias_new(struct mqtt_client *c);
void client_alias_connected(struct mqtt_client *c, struct mqtt_str connack_props);
void client_alias_stats(const struct mqtt_client *c, struct mqtt_client_stats *st);
/* Write an encoded PUBLISH with the alias that applies; full: a resend. */
int client_alias_send(struct mqtt_client *c, const uint8_t *data, size_t len, bool full);
/* The same for a message kept until acknowledged: its own bytes when no
 * alias rewrites them (client_send_msg). */
int client_alias_send_msg(struct mqtt_client *c, struct mqtt_msg *m, bool full);
/* Inbound: resolve the alias; false after a protocol error (connection dropped). */
bool client_alias_resolve(struct mqtt_client *c, struct mqtt_publish *p);
/* Outbound at publish time: explicit alias without topic -> its topic. */
int client_alias_publish(struct mqtt_client *c, struct mqtt_pub_req *r);

/* client_pin.c: send a message's encoded PUBLISH (m->data), pinned when
 * large; write the pinned bytes (0, or -1 with errno from the transport);
 * m is going: keep its unwritten bytes ahead of out. */
int client_send_msg(struct mqtt_client *c, struct mqtt_msg *m);
int client_pin_write(struct mqtt_client *c);
void client_pin_release(struct mqtt_client *c, const struct mqtt_msg *m);

/* Bytes handed to the output that the socket has not taken. */
static inline size_t client_out_len(const struct mqtt_client *c)
{
	return buf_len(&c->out) + (c->pin_msg ? c->pin_msg->len - c->pin_off : 0);
}

/* client_lowat.c: wake for fewer, larger reads while the window is full
 * or a stream comes in (before each sleep), and forget a closed socket's
 * state */
void client_lowat_before_sleep(struct mqtt_client *c);
void client_lowat_reset(struct mqtt_client *c);

/* client_uris.c: the failover list and server references */
int client_uris_init(struct mqtt_client *c, const struct mqtt_client_opts *o, char *err, size_t errlen);
void client_uris_free(struct mqtt_client *c);
/* After a failed attempt or a lost connection: switch to the URI to try
 * next; true when it should be tried at once (same round, or redirect). */
bool client_uris_next(struct mqtt_client *c, bool was_connected);
/* A CONNACK refusal or DISCONNECT with reason and properties: remember a
 * Server Reference to follow (when follow_redirect is on). */
void client_uris_redirect(struct mqtt_client *c, uint8_t reason, struct mqtt_str props);
void client_uris_connected(struct mqtt_client *c);
const char *client_uris_display(const struct mqtt_client *c);

/* mqtt_options.c: point the client at another URI (parse, TLS upgrade,
 * proxy, transport); 0 or -1 with err, the old one kept. */
int client_options_set_uri(struct mqtt_client *c, const char *text, char *err, size_t errlen);

/* mqtt_auth.c: v5 enhanced authentication */
int client_auth_init(struct mqtt_client *c, const struct mqtt_client_opts *o);
void client_auth_free(struct mqtt_client *c);
/* CONNECT properties with the method and first data: *props replaced by a
 * block the return value owns (xfree it after sending); NULL: unchanged. */
uint8_t *client_auth_connect_props(struct mqtt_client *c, struct mqtt_str *props);
void client_auth_packet(struct mqtt_client *c, const struct mqtt_disconnect *a);
/* A successful CONNACK: false after a protocol error (server not proven). */
bool client_auth_connack(struct mqtt_client *c, const struct mqtt_connack *ack);
void client_auth_lost(struct mqtt_client *c);

/* mqtt_queue.c: the offline queue's limits, age and drain pace */
int queue_admit(struct mqtt_client *c, size_t len);
void queue_count(struct mqtt_client *c, const struct mqtt_msg *m, int delta);
bool queue_expired(struct mqtt_client *c, const struct mqtt_msg *m);
bool queue_paced(struct mqtt_client *c);
void queue_free(struct mqtt_client *c);
int64_t queue_wall_ms(void);

/* mqtt_session.c */
void session_drop(struct mqtt_client *c, struct mqtt_msg *m, const char *why);
/* Remove m from the store (every removal goes through here: qhead). */
void session_remove(struct mqtt_client *c, struct mqtt_msg *m);
void session_handle(struct mqtt_client *c, const struct mqtt_packet *p);
void session_on_connack(struct mqtt_client *c, bool session_present);
void session_pump(struct mqtt_client *c);
int session_alloc_id(struct mqtt_client *c, uint16_t *id);
void session_free_id(struct mqtt_client *c, uint16_t id);
void session_free_all(struct mqtt_client *c);
uint16_t session_window(const struct mqtt_client *c);
/* Take over what a persistent store brought from an earlier process. */
void session_adopt_store(struct mqtt_client *c);

static inline bool bit_get(const uint8_t *map, uint16_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}
static inline void bit_set(uint8_t *map, uint16_t i, bool on)
{
	if (on)
		map[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		map[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

#endif
