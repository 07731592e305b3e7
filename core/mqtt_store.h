/*
 * mqtt_store.h - where a session's outbound messages and inbound QoS 2 state
 * live. The client only talks to this small ops table, so a crash-safe disk
 * store can replace the memory one (mqtt_store_mem_new) without touching the
 * session logic.
 *
 * Messages are kept in publish order. A message is owned by the store from
 * add() until remove(); the client may change packet_id/state/data[0..] and
 * then calls update() so a persistent store can record it.
 *
 * A persistent store (mqtt_store_sqlite.c) writes every change into the
 * loop turn's transaction and reports each QoS > 0 message it has made
 * durable through on_stored, after the commit. The client calls sync()
 * before any byte leaves for the broker, so the broker never learns of a
 * packet id, a PUBREC or a PUBREL that a crash could make us forget
 * (write-ahead). Optional ops may be NULL (the memory store has none).
 */
#ifndef LIA_MQTT_STORE_H
#define LIA_MQTT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqtt_msg_state {
	MQTT_MSG_QUEUED,    /* not sent on this connection yet */
	MQTT_MSG_SENT,      /* PUBLISH sent, waiting for PUBACK / PUBREC */
	MQTT_MSG_RELEASED   /* QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP */
};

/* An inbound QoS 2 packet id is RECEIVED from its PUBLISH to its PUBREL,
 * then RELEASED until the id brings a new message: a broker that resends a
 * PUBLISH it had already released (mosquitto 2.0.11 does after a broken
 * connection, against [MQTT-4.3.3]) would otherwise get it delivered twice.
 * The hash tells such a resend (DUP=1, same message) from a new message that
 * reuses the id. */
enum mqtt_in_state { MQTT_IN_NONE, MQTT_IN_RECEIVED, MQTT_IN_RELEASED };

struct mqtt_msg {
	uint32_t mid;           /* the caller's token */
	uint16_t packet_id;     /* 0 until sent */
	uint8_t qos;
	uint8_t state;          /* enum mqtt_msg_state */
	uint32_t id_offset;     /* offset of the packet id in data (QoS > 0) */
	int64_t created;        /* wall clock ms when published (max_age) */
	uint64_t key;           /* store-private: the row */
	size_t len;
	uint8_t *data;          /* the encoded PUBLISH, in the same allocation (mqtt_msg_new) */
	struct mqtt_msg *prev, *next;   /* store-private */
};

struct mqtt_store;
/* A message (mid) is durable (ok), or cannot be made so (why). */
typedef void mqtt_store_stored_fn(void *ud, uint32_t mid, bool ok, const char *why);
typedef void mqtt_store_sub_fn(void *ud, const char *filter, uint8_t options,
	const uint8_t *props, size_t props_len);

struct mqtt_store_ops {
	/* Take ownership of m (allocated with mqtt_msg_new). 0 or -1. */
	int (*add)(struct mqtt_store *s, struct mqtt_msg *m);
	void (*update)(struct mqtt_store *s, struct mqtt_msg *m);
	/* Unlink and free m. */
	void (*remove)(struct mqtt_store *s, struct mqtt_msg *m);
	struct mqtt_msg *(*first)(struct mqtt_store *s);
	struct mqtt_msg *(*next)(struct mqtt_store *s, struct mqtt_msg *m);
	/* Inbound QoS 2 packet ids (enum mqtt_in_state) with a hash of their
	 * message; in_get returns the state and fills *hash. */
	void (*in_set)(struct mqtt_store *s, uint16_t id, int state, uint32_t hash);
	int (*in_get)(struct mqtt_store *s, uint16_t id, uint32_t *hash);
	void (*in_clear_all)(struct mqtt_store *s);
	void (*destroy)(struct mqtt_store *s);
	/* ---- optional (NULL: nothing to do) ---- */
	/* Make everything written so far durable now (before bytes leave). */
	void (*sync)(struct mqtt_store *s);
	/* Whether sync would commit anything now (NULL with a sync: always). */
	bool (*unsynced)(const struct mqtt_store *s);
	void (*save_next_id)(struct mqtt_store *s, uint16_t next_id);
	/* Remembered subscriptions (re-sent when the broker lost the session). */
	void (*sub_save)(struct mqtt_store *s, const char *filter, uint8_t options,
		const uint8_t *props, size_t props_len);
	void (*sub_forget)(struct mqtt_store *s, const char *filter);
	void (*sub_each)(struct mqtt_store *s, mqtt_store_sub_fn *fn, void *ud);
	/* The broker's session and ours now agree (a CONNACK was accepted). */
	void (*session_synced)(struct mqtt_store *s);
};
struct mqtt_store {
	const struct mqtt_store_ops *ops;
	bool persistent;        /* survives the process */
	bool known_session;     /* holds this client's half of a broker session */
	uint16_t next_id;       /* restored next packet id; 0: none */
	mqtt_store_stored_fn *on_stored;    /* set by the client */
	void *ud;
};

struct mqtt_store *mqtt_store_mem_new(void);

/* The persistent store of one client (client_id at broker) in db, with what
 * an earlier process left in it loaded. NULL with err on failure. */
struct db;
struct mqtt_store *mqtt_store_sqlite_new(struct db *db, const char *client_id,
	const char *broker, char *err, size_t errlen);

/* A message with room for len bytes of data; NULL when out of memory. */
struct mqtt_msg *mqtt_msg_new(size_t len);
void mqtt_msg_free(struct mqtt_msg *m);

#endif
