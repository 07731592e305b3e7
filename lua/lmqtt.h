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

#endif
