/*
 * mqtt_store.h - where a session's outbound messages and inbound QoS 2 state
 * live. The client only talks to this small ops table, so a crash-safe disk
 * store can replace the memory one (mqtt_store_mem_new) without touching the
 * session logic.
 *
 * Messages are kept in publish order. A message is owned by the store from
 * add() until remove(); the client may change packet_id/state/data[0..] and
 * then calls update() so a persistent store can record it.
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

struct mqtt_msg {
	uint32_t mid;           /* the caller's token */
	uint16_t packet_id;     /* 0 until sent */
	uint8_t qos;
	uint8_t state;          /* enum mqtt_msg_state */
	uint32_t id_offset;     /* offset of the packet id in data (QoS > 0) */
	size_t len;
	uint8_t *data;          /* the encoded PUBLISH */
	struct mqtt_msg *prev, *next;   /* store-private */
};

struct mqtt_store;
struct mqtt_store_ops {
	/* Take ownership of m (allocated with mqtt_msg_new). 0 or -1. */
	int (*add)(struct mqtt_store *s, struct mqtt_msg *m);
	void (*update)(struct mqtt_store *s, struct mqtt_msg *m);
	/* Unlink and free m. */
	void (*remove)(struct mqtt_store *s, struct mqtt_msg *m);
	struct mqtt_msg *(*first)(struct mqtt_store *s);
	struct mqtt_msg *(*next)(struct mqtt_store *s, struct mqtt_msg *m);
	/* Inbound QoS 2 packet ids received and not yet released. */
	void (*in_mark)(struct mqtt_store *s, uint16_t id, bool on);
	bool (*in_has)(struct mqtt_store *s, uint16_t id);
	void (*in_clear_all)(struct mqtt_store *s);
	void (*destroy)(struct mqtt_store *s);
};
struct mqtt_store {
	const struct mqtt_store_ops *ops;
};

struct mqtt_store *mqtt_store_mem_new(void);

/* A message with room for len bytes of data; NULL when out of memory. */
struct mqtt_msg *mqtt_msg_new(size_t len);
void mqtt_msg_free(struct mqtt_msg *m);

#endif
