/*
 * mqtt_trace.h - one packet as the line mosquitto's clients print with -d:
 * "sending CONNECT", "received PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))",
 * "sending PUBACK (m1, rc0)". Pure: no I/O, no allocation.
 */
#ifndef LIA_MQTT_TRACE_H
#define LIA_MQTT_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#include "mqtt_codec.h"

/* Format p (sending: we send it, else we received it) into buf, one line
 * per SUBSCRIBE / UNSUBSCRIBE filter separated by '\n' ("Client ID " is
 * the caller's to add to each). Returns the length, truncated to len - 1. */
size_t mqtt_trace_format(const struct mqtt_packet *p, bool sending, char *buf, size_t len);

#endif
