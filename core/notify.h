/*
 * notify.h - the systemd notify protocol (sd_notify, libsystemd): READY=1,
 * RELOADING=1, WATCHDOG=1, STATUS=. Without $NOTIFY_SOCKET every call is a
 * no-op, so lia behaves the same outside systemd. Plain C, no Lua.
 */
#ifndef LIA_NOTIFY_H
#define LIA_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS= line (status may be NULL). */
void notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, as Type=notify-reload wants). */
void notify_reloading(void);
void notify_status(const char *status);
void notify_watchdog(void);
/* The watchdog period systemd asks for (WatchdogSec=) in microseconds;
 * 0 when none. */
uint64_t notify_watchdog_usec(void);

#endif
