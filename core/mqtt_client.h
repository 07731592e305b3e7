/*
 * mqtt_client.h - one MQTT client session on the event loop: connection,
 * keep-alive, QoS 0/1/2 state machines both ways, in-flight window, offline
 * queue, reconnect with backoff, remembered subscriptions.
 *
 * The core owns the connection, session and subscriptions; the host (Lua)
 * only receives events through one callback, which it may swap at any time
 * (mqtt_client_set_handler), so scripts can be reloaded without dropping
 * the session. No Lua here.
 */
#ifndef LIA_MQTT_CLIENT_H
#define LIA_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_codec.h"
#include "transport.h"

struct loop;
struct mqtt_client;
struct mqtt_store;

/* Errors returned by the API (negative), one X-macro list. */
#define MQTT_ERROR_LIST(X) \
	X(MQTT_E_NOMEM, -1, "out of memory") \
	X(MQTT_E_INVALID, -2, "invalid argument") \
	X(MQTT_E_TOPIC, -3, "invalid topic") \
	X(MQTT_E_QOS, -4, "invalid QoS") \
	X(MQTT_E_TOO_BIG, -5, "packet too big") \
	X(MQTT_E_QUEUE_FULL, -6, "offline queue full") \
	X(MQTT_E_STATE, -7, "not allowed in this state") \
	X(MQTT_E_UNKNOWN_ID, -8, "unknown packet id") \
	X(MQTT_E_URI, -9, "bad broker URI") \
	X(MQTT_E_ALIAS, -10, "topic alias has no topic yet (publish once with topic and alias)")
enum mqtt_error {
#define MQTT_X_ERR(name, value, text) name = value,
	MQTT_ERROR_LIST(MQTT_X_ERR)
#undef MQTT_X_ERR
};
const char *mqtt_client_strerror(int err);

struct mqtt_client_opts {
	const char *uri;            /* "mqtt://[user[:pass]@]host[:port]", "tcp://", "unix:///path" */
	/* Failover: n_uris > 0 replaces uri by this list, tried in order with
	 * no delay inside a round and the reconnect backoff between rounds;
	 * a lost connection starts a round at the URI it used. Credentials
	 * come from the first URI (or username/password). */
	const char *const *uris;
	size_t n_uris;
	/* v5: follow a Server Reference on CONNACK or DISCONNECT 0x9C (use
	 * another server) / 0x9D (server moved), same scheme */
	bool follow_redirect;
	const char *client_id;      /* NULL or "": empty id (v5: server assigns one) */
	uint8_t version;            /* MQTT_V31, MQTT_V311, MQTT_V5; 0 = MQTT_V311 */
	bool clean;                 /* clean session / clean start */
	uint32_t session_expiry;    /* v5 seconds; 0xFFFFFFFF = never */
	uint16_t keepalive;         /* seconds; 0 = off */
	const char *username;       /* NULL: none (overrides the URI's) */
	const uint8_t *password;    /* NULL: none */
	size_t password_len;
	bool has_will;
	const char *will_topic;
	const uint8_t *will_payload;
	size_t will_payload_len;
	uint8_t will_qos;
	bool will_retain;
	const uint8_t *will_props;  /* encoded v5 will properties block */
	size_t will_props_len;
	const uint8_t *connect_props; /* encoded v5 CONNECT properties (user, ...) */
	size_t connect_props_len;
	bool reconnect;             /* reconnect after loss (default on in hosts) */
	uint32_t reconnect_min_ms;  /* first delay; 0 = 1000 */
	uint32_t reconnect_max_ms;  /* cap; 0 = 120000 */
	uint16_t max_inflight;      /* QoS>0 publishes awaiting ack; 0 = 20 */
	uint32_t max_queued;        /* messages waiting to be sent; 0 = 1000 */
	uint64_t max_queued_bytes;  /* their encoded bytes; 0 = no limit */
	uint64_t max_age_ms;        /* older queued messages are dropped unsent; 0 = keep */
	uint32_t drain_rate;        /* queued messages sent per second; 0 = no limit */
	uint8_t queue_drop;         /* MQTT_DROP_OLDEST (default) or MQTT_DROP_NEW */
	uint32_t connect_timeout_ms;/* TCP + CONNACK; 0 = 10000 */
	uint32_t max_packet_size;   /* inbound limit (announced in v5); 0 = 1 MiB */
	bool manual_ack;            /* inbound QoS>0 acked only by mqtt_client_ack */
	bool trace;                 /* every packet as a debug log line (mosquitto -d), also
	                             * below the debug level; at debug they are traced anyway */
	bool topic_aliases_auto;    /* v5: alias the most used topics (mqtt_alias.h) */
	/* v5 enhanced authentication (mqtt_auth.c). auth_method NULL: none.
	 * "SCRAM-SHA-256" without auth_external: built in, with auth_user and
	 * auth_password (never sent in clear). Otherwise every challenge is an
	 * MQTT_EV_AUTH event answered with mqtt_client_auth_continue. */
	const char *auth_method;
	const uint8_t *auth_data;   /* initial data in CONNECT (and re-auth) */
	size_t auth_data_len;
	bool auth_external;
	const char *auth_user;
	const uint8_t *auth_password;
	size_t auth_password_len;
	/* Secure and alternative transports (transport.h has the field docs).
	 * Any TLS field set turns TLS on: mqtt:// becomes mqtts:// (port 8883
	 * unless the URI names one), ws:// becomes wss://. */
	struct transport_tls_opts tls;
	struct transport_ws_opts ws;  /* ws:// and wss:// only */
	/* "socks5://[user:pass@]host[:port]", "http://[user:pass@]host[:port]";
	 * "" or "none": direct even when the environment names a proxy; NULL:
	 * the environment (all_proxy, https_proxy, http_proxy, no_proxy: see
	 * transport_proxy.c), read once by mqtt_client_new. */
	const char *proxy;
	/* the local address to connect from (mosquitto's -A); NULL: any */
	const char *bind_address;
};

/* When the queue is full: drop the oldest queued (unsent) message, its
 * publish failing with "dropped: queue full", or refuse the new one with
 * MQTT_E_QUEUE_FULL. */
enum { MQTT_DROP_OLDEST, MQTT_DROP_NEW };

enum mqtt_event_type {
	MQTT_EV_CONNECT,      /* CONNACK received (reason != 0: refused) */
	MQTT_EV_DISCONNECT,   /* connection lost, closed by us, or refused */
	MQTT_EV_MESSAGE,      /* inbound PUBLISH to deliver */
	MQTT_EV_PUBLISHED,    /* outbound publish completed or failed (mid) */
	MQTT_EV_SUBSCRIBED,   /* SUBACK for mid */
	MQTT_EV_UNSUBSCRIBED, /* UNSUBACK for mid */
	MQTT_EV_LOG,          /* a log line about this client */
	MQTT_EV_STORED,       /* a QoS 1/2 publish is durable in the store, or cannot be */
	MQTT_EV_AUTH,         /* v5 AUTH: a challenge to answer, or re-auth done */
	MQTT_EV_DRAINED       /* the offline queue is empty (mqtt_client_want_drained) */
};

struct mqtt_event {
	int type;
	union {
		struct {
			bool session_present;
			const char *uri;            /* the broker this connection uses */
			uint8_t reason;             /* 3.x return code or v5 reason */
			const char *reason_name;
			struct mqtt_str props;
		} connect;
		struct {
			uint8_t reason;             /* v5 reason (0x80 for network errors) */
			const char *reason_name;
			bool by_server;             /* server sent DISCONNECT */
			bool will_reconnect;        /* a reconnect is scheduled */
			bool connected;             /* false: a connect attempt failed */
			const char *message;        /* one human line: why */
			struct mqtt_str props;
		} disconnect;
		struct {
			const struct mqtt_publish *msg; /* topic resolved from alias */
			uint16_t packet_id;
		} message;
		struct {
			uint32_t mid;
			bool ok;                    /* false: dropped or refused */
			uint8_t reason;             /* PUBACK/PUBREC/PUBCOMP reason */
			const char *reason_name;
			struct mqtt_str props;
		} published;
		struct {
			uint32_t mid;
			struct mqtt_str codes;      /* one reason code per filter */
			struct mqtt_str props;
		} subscribed;                       /* also UNSUBSCRIBED */
		struct {
			int level;
			const char *line;
		} log;
		struct {
			uint32_t mid;
			bool ok;
			const char *why;            /* !ok: static or the store's, valid during the call */
		} stored;
		struct {
			uint8_t reason;             /* 0x18 continue, 0 success */
			bool done;                  /* false: answer with mqtt_client_auth_continue */
			bool reauth;                /* during c:reauthenticate, not CONNECT */
			struct mqtt_str data, props;
		} auth;
	} u;
};

typedef void mqtt_event_fn(struct mqtt_client *c, const struct mqtt_event *ev, void *ud);

/* Create a client (not connected). All options are copied. store == NULL
 * uses the memory store; the client owns the store either way. Returns NULL
 * with a message in err on bad options. */
struct mqtt_client *mqtt_client_new(struct loop *l, const struct mqtt_client_opts *o,
	struct mqtt_store *store, char *err, size_t errlen);
/* Closes the connection (no DISCONNECT), cancels timers, frees everything;
 * no events are delivered after this. Safe inside the client's own handler
 * (the memory is released when the handler returns to the loop). */
void mqtt_client_free(struct mqtt_client *c);
void mqtt_client_set_handler(struct mqtt_client *c, mqtt_event_fn *fn, void *ud);

/* Start connecting (and reconnecting after losses, if enabled). */
int mqtt_client_connect(struct mqtt_client *c);
/* Clean shutdown: DISCONNECT (reason, v5 props) is flushed, the will is
 * not published, no reconnect. Queued messages stay queued. */
int mqtt_client_disconnect(struct mqtt_client *c, uint8_t reason,
	const uint8_t *props, size_t props_len);
bool mqtt_client_connected(const struct mqtt_client *c);
/* Use new TLS material now: the CA, certificate and key files are loaded
 * again, and an open (or opening) connection is closed and reopened at
 * once, from the loop (MQTT_EV_DISCONNECT, then MQTT_EV_CONNECT). When the
 * socket is idle a DISCONNECT (normal) is written first, best effort, so
 * the broker does not publish the will for a planned reconnect. The session
 * survives when clean is false (v5: with a session expiry): in-flight
 * messages are resent, queued ones stay queued. Files that changed on disk
 * are also picked up by any ordinary reconnect, without this call.
 * Returns 0, or MQTT_E_STATE when the client does not use TLS. */
int mqtt_client_reload_tls(struct mqtt_client *c);
/* True when no socket is open and none is being opened or closed (after a
 * disconnect has been flushed, or while waiting to reconnect). A host that
 * wants a clean exit runs the loop until every client is idle. */
bool mqtt_client_idle(const struct mqtt_client *c);
/* The URI in use (or being tried), without a password. Never NULL. */
const char *mqtt_client_uri(const struct mqtt_client *c);
/* Protocol level actually in use (after CONNACK) or configured. */
uint8_t mqtt_client_version(const struct mqtt_client *c);
/* The client id in use: the one configured, generated (3.1) or, after a
 * v5 CONNACK to an empty id, the one the server assigned. Never NULL. */
const char *mqtt_client_id(const struct mqtt_client *c);

struct mqtt_pub_req {
	const char *topic;
	size_t topic_len;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t qos;
	bool retain;
	const uint8_t *props;       /* encoded v5 PUBLISH properties */
	size_t props_len;
	/* no MQTT_EV_PUBLISHED (nor MQTT_EV_STORED) for this message, and *mid
	 * is 0: fire and forget (lia's QoS 0 publish without a token). A
	 * refusal or a drop is still logged. */
	bool quiet;
};
/* Queue a publish; *mid identifies it in MQTT_EV_PUBLISHED. QoS 0 completes
 * once written to the socket. Errors: MQTT_E_TOPIC, MQTT_E_QOS,
 * MQTT_E_TOO_BIG, MQTT_E_QUEUE_FULL (never silently dropped), MQTT_E_NOMEM. */
int mqtt_client_publish(struct mqtt_client *c, const struct mqtt_pub_req *r, uint32_t *mid);
/* Ask for one MQTT_EV_DRAINED when the offline queue is next empty (every
 * queued message written to the socket or dropped); posted at once when it
 * is empty now. Back-pressure without a token per message: a loop that got
 * MQTT_E_QUEUE_FULL waits for it. Asking again while one is due is a no-op. */
void mqtt_client_want_drained(struct mqtt_client *c);

/* Subscribe to filters (remembered and re-sent after a reconnect without
 * session). Sent now when connected, else on connect. */
int mqtt_client_subscribe(struct mqtt_client *c, const struct mqtt_sub_item *items,
	size_t n, const uint8_t *props, size_t props_len, uint32_t *mid);
int mqtt_client_unsubscribe(struct mqtt_client *c, const struct mqtt_str *filters,
	size_t n, const uint8_t *props, size_t props_len, uint32_t *mid);

/* Each remembered subscription: fn(filter, options, ud). A host reloading
 * its scripts diffs the new ones against these. */
typedef void mqtt_sub_fn(const char *filter, uint8_t options, void *ud);
void mqtt_client_subscriptions(const struct mqtt_client *c, mqtt_sub_fn *fn, void *ud);
/* v5 enhanced authentication: answer a challenge (MQTT_EV_AUTH, done
 * false) with data; data NULL gives up (the connection is closed, 0x87).
 * MQTT_E_STATE when no challenge is waiting. */
int mqtt_client_auth_continue(struct mqtt_client *c, const uint8_t *data, size_t len);
/* Start re-authentication on the open connection (AUTH 0x19 with the
 * method and its initial data); its end is an MQTT_EV_AUTH with done true,
 * a failure a disconnect. MQTT_E_STATE when not connected, no auth
 * method, or one is already running. */
int mqtt_client_reauthenticate(struct mqtt_client *c);

/* Manual acknowledgement of an inbound QoS 1/2 message (opts.manual_ack). */
int mqtt_client_ack(struct mqtt_client *c, uint16_t packet_id);

/* True when the client's store survives the process (mqtt_store.h). */
bool mqtt_client_persistent(const struct mqtt_client *c);

struct mqtt_client_stats {
	uint32_t inflight;   /* sent, awaiting ack */
	uint32_t queued;     /* waiting to be sent */
	uint32_t subscriptions;
	uint64_t sent_packets, recv_packets;
	uint64_t sent_bytes;    /* every byte written (queued for the socket) */
	uint64_t recv_bytes;    /* every byte read (after TLS and WebSocket framing) */
	uint32_t connects;   /* successful CONNACKs */
	/* v5 topic aliases (mqtt_alias.h) */
	int64_t alias_bytes_saved;
	uint64_t alias_out, alias_in;   /* PUBLISH sent / received by alias only */
	uint16_t alias_out_max, alias_in_max;
	uint64_t queued_bytes;
	uint64_t dropped;    /* queued messages dropped for max_queued / max_queued_bytes */
	uint64_t expired;    /* queued messages dropped for max_age */
	bool persistent;     /* the store survives the process */
	/* client_lowat.c: sleeps that waited for a batch of acknowledgements
	 * while the window was full, and those its guard cut short; the same
	 * for a batch of a stream that only comes in */
	uint64_t ack_waits, ack_waits_cut;
	uint64_t stream_waits, stream_waits_cut;
};
void mqtt_client_stats(const struct mqtt_client *c, struct mqtt_client_stats *st);

#endif
