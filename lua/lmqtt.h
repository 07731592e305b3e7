/*
 * lmqtt.h - what the lia.mqtt binding shares with the host and between
 * its own files (lmqtt.c: client and tokens; lmqtt_props.c: v5
 * properties <-> Lua tables).
 */
#ifndef LIA_LMQTT_H
#define LIA_LMQTT_H

#include <stdbool.h>

#include "mqtt_codec.h"

struct lua_State;

/* The metatable of received messages (plain tables with msg:json()). */
#define LMQTT_MESSAGE_MT "lia.mqtt.message"
/* Makes it (once per state) and pushes the table of its methods. Raises
 * on out of memory. */
void lmqtt_message_class(struct lua_State *L);

/* lia run: the client at idx is the default one (global-handler mode:
 * the globals on_connect, on_message, on_disconnect are called too). */
void lmqtt_set_default(struct lua_State *L, int idx);
/* After the main chunk's first run: connect the default client when force
 * (a broker was named on the command line), when the script defines one
 * of the global handlers or when it used the global `mqtt`; from then on
 * the first use of `mqtt` connects it. */
void lmqtt_start_default(struct lua_State *L, bool force);

/* Push a table for an encoded v5 property block (see CONTRACT.md for the
 * names); an empty table when the block is empty or absent. */
void lmqtt_push_props(struct lua_State *L, struct mqtt_str block);
/* Encode the properties table at idx for packet_type (MQTT_PUBLISH,
 * MQTT_CONNECT, MQTT_PROPS_WILL, ...) and push the block as a string.
 * Raises on misuse: unknown name, wrong value type, out of range, a
 * property not allowed in that packet. what names the argument in the
 * message ("properties", "will.properties"). */
void lmqtt_encode_props(struct lua_State *L, int idx, int packet_type, const char *what);

/* ---- shared by lmqtt.c, lmqtt_token.c, lmqtt_opts.c ---- */

struct host;
struct host_waiter;
struct mqtt_client;
struct mqtt_client_opts;
struct topic_tree;

/* User values of a client userdata. */
enum { UV_HANDLERS = 1, UV_FILTERS, UV_PUBS, UV_SUBS, UV_INFO, UV_COUNT = UV_INFO };

struct lclient {
	struct mqtt_client *c;      /* NULL once closed */
	struct host *h;
	struct lua_State *L;        /* the main state */
	struct topic_tree *filters;
	int ref;                    /* anchor while the loop may call us */
	unsigned handlers;          /* bit per EV_* with an on() handler */
	unsigned connects;          /* connect() calls, to see one from a handler */
	bool is_default, touched, started;
	bool adopted;               /* took over a live client at a reload */
	bool reloading;             /* subscribe() is diffed against live[] */
	bool refused;               /* the last CONNACK refused for good */
	char refused_why[200];      /* "mqtt ID: not_authorized (0x05)" */
	struct host_waiter *drain_w;    /* c:drain() waiting for MQTT_EV_DRAINED */
	struct lmqtt_live *live;    /* the adopted client's subscriptions */
	size_t nlive;
	char uri[256];
	uint8_t *farewell;          /* v5 DISCONNECT properties lia sends by itself */
	size_t farewell_len;
	struct lclient *prev, *next;
};

/* ---- lmqtt_reload.c: live reload keeps the connections ----
 * Before the old state closes, lmqtt_park_all() takes every core client
 * out of its Lua object into a process-level list (the clients outlive
 * the lua_State). The new state's mqtt.client{} adopts a parked client
 * with the same client id (or none given), broker and options
 * (lia.reload.fingerprint); the adopted client's subscribe() calls are
 * diffed against the live subscriptions until lmqtt_reload_done(), which
 * runs its "connect" handlers with ack.reloaded = true, unsubscribes
 * what the new scripts no longer subscribe and disconnects the parked
 * clients nobody adopted. */
struct lmqtt_live {
	char *filter;
	uint8_t options;
	bool kept;                  /* subscribed again by the new scripts */
};
void lmqtt_park_all(struct lua_State *L);
/* In mqtt.client{}: the parked core client for these options, or NULL.
 * explicit_id: the options named a client_id. ud: the new userdata. */
struct mqtt_client *lmqtt_adopt(struct lua_State *L, struct lclient *lc, int ud,
	bool explicit_id, const char *id, const char *uri, const char *fp);
/* subscribe() of a reloading client: the items that must really be sent
 * (new filters, changed options) copied to out[]; returns their number
 * (0: all kept, nothing to send). */
size_t lmqtt_reload_filter(struct lclient *lc, const struct mqtt_sub_item *items, size_t n,
	struct mqtt_sub_item *out);
void lmqtt_reload_forget(struct lclient *lc, const char *filter);
void lmqtt_free_live(struct lclient *lc);
void lmqtt_reload_done(struct lua_State *L);
/* Disconnecting clients nobody adopted: at exit (first: start), true when
 * all are gone. */
bool lmqtt_leaving_drain(bool first);
/* lmqtt.c: the open clients of every state; detach lc from its core
 * client (which the caller now owns) */
struct lclient *lmqtt_first(void);
void lmqtt_detach(struct lclient *lc);
/* lmqtt_events.c: run lc's "connect" handlers (and on_connect) for a kept
 * connection after a reload */
void lmqtt_emit_reloaded(struct lclient *lc);

enum { TOK_PUBLISH, TOK_SUBSCRIBE, TOK_UNSUBSCRIBE };

/* ltoken.stored */
enum { TOK_STORE_PENDING, TOK_STORED, TOK_STORE_FAILED, TOK_STORE_NONE };

struct ltoken {
	uint32_t mid;
	int kind;
	bool done, ok;
	const char *reason;         /* static: a reason name, "timeout", "closed" */
	struct host_waiter *w;
	int stored;                 /* TOK_STORE_*: publishes only */
	struct host_waiter *ws;     /* :wait("stored") */
	const char *why_lit;        /* not stored: why, a literal (the common case) */
	char why[120];              /* or why, formatted, when why_lit is NULL */
};

/* The completion of pending[mid] in user value uv, from an event. */
struct lmqtt_complete {
	struct lclient *lc;
	int uv;                     /* UV_PUBS or UV_SUBS */
	uint32_t mid;
	bool ok;
	const char *reason;
	struct mqtt_str codes;      /* SUBACK / UNSUBACK */
	struct ltoken *tok;         /* filled: the token, alive on its waiter's stack */
	struct host_waiter *w, *ws;
};

void lmqtt_push_uv(struct lua_State *L, int idx, int n);

/* lmqtt_events.c: core events into Lua (each handler through host_spawn) */
enum { EV_CONNECT, EV_DISCONNECT, EV_MESSAGE, EV_PUBLISH, EV_SUBSCRIBE, EV_UNSUBSCRIBE,
	EV_LOG, EV_CONNECT_FAILED, EV_AUTH, EV_NAMES };
extern const char lmqtt_clients_key;             /* registry: weak lc -> userdata */
extern const char lmqtt_auth_key;               /* registry: the on_challenge trampoline */
extern const char *const lmqtt_event_names[];   /* c:on names, NULL-terminated */
extern const char *const lmqtt_global_names[];  /* on_connect, on_disconnect, on_message */
struct mqtt_event;
void lmqtt_on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud);
bool lmqtt_push_client(struct lua_State *L, struct lclient *lc);
void lmqtt_set_int(struct lua_State *L, const char *k, long long v);
/* Drop the anchor once no event can come any more. */
void lmqtt_unanchor(struct lclient *lc);
void lmqtt_open_token(struct lua_State *L);
/* Push a new token (kind, mid). */
struct ltoken *lmqtt_new_token(struct lua_State *L, int kind, uint32_t mid);
/* pending[mid] = the token on top (client at index client); leaves it there. */
void lmqtt_track_token(struct lua_State *L, int client, int uv, uint32_t mid);
/* Complete a token from a loop callback and wake its waiter. Never raises. */
void lmqtt_complete(struct lclient *lc, struct lmqtt_complete *r);
/* ok / reason of a SUBACK or UNSUBACK from its codes. */
void lmqtt_sub_outcome(struct lmqtt_complete *r, uint8_t version, int type);
/* A publish token (on top, just made) that will never be stored, and why
 * (a string literal: kept, not copied, once per publish). */
void lmqtt_token_not_stored(struct lua_State *L, const char *why);
/* The store reported on pending[mid] (UV_PUBS); wakes :wait("stored"). */
void lmqtt_stored(struct lclient *lc, uint32_t mid, bool ok, const char *why);
/* c:drain([ms]) for the open client lc at index 1 (lmqtt_token.c). */
int lmqtt_drain(struct lua_State *L, struct lclient *lc);
/* MQTT_EV_DRAINED: wake c:drain(). */
void lmqtt_drained(struct lclient *lc);
/* A client closes: every waiting token (and c:drain) returns nil, "closed". */
void lmqtt_fail_pending(struct lua_State *L, int idx);
/* The options table at t; strings stay valid while what it pushes stays. */
void lmqtt_read_opts(struct lua_State *L, int t, struct mqtt_client_opts *o);
/* Option tables of the methods (c:publish's { qos, retain, properties } ...):
 * a key not in names raises "what: unknown option 'k'"; lmqtt_field pushes
 * t[k] and returns its type, raising "what: k must be a boolean, got string"
 * when it is neither nil nor of the type asked for. */
void lmqtt_check_keys(struct lua_State *L, int t, const char *const *names, const char *what);
int lmqtt_field(struct lua_State *L, int t, const char *k, int type, const char *what);

#endif
