/*
 * notify.c - sd_notify for the service manager (see notify.h).
 *
 * libsystemd is loaded (dlopen, core/dynlib.h) only when $NOTIFY_SOCKET
 * says a service manager listens: outside systemd every call is a no-op
 * anyway, and the library with what it loads (libgcrypt, liblz4, liblzma,
 * libzstd, libcap) is ~1 MB of resident memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "dynlib.h"
#include "log.h"
#include "notify.h"

#define NOTIFY_API(X) X(sd_notify) X(sd_notifyf) X(sd_watchdog_enabled)
DYNLIB_TABLE(notify_sd, NOTIFY_API)
struct notify_sd_table notify_sd;

#define DYNLIB_API notify_sd
static int fill(struct dynlib *d)
{
	NOTIFY_API(DYNLIB_FILL)
	return 0;
}

/* libsystemd when a service manager listens; false otherwise, or when it
 * is missing (said once: the unit's Type=notify would then time out). */
static bool loaded(void)
{
	static struct dynlib lib = { .soname = "libsystemd.so.0", .package = "libsystemd0" };
	static bool told;
	if (!getenv("NOTIFY_SOCKET"))
		return false;
	if (dynlib_load(&lib, fill) == 0)
		return true;
	if (!told)
		log_error("notify: %s", lib.err);
	told = true;
	return false;
}

void notify_ready(const char *status)
{
	if (!loaded())
		return;
	if (status)
		notify_sd.p_sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	else
		notify_sd.p_sd_notify(0, "READY=1");
}

void notify_reloading(void)
{
	struct timespec ts;
	if (!loaded())
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_sd.p_sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		(unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

void notify_status(const char *status)
{
	if (loaded())
		notify_sd.p_sd_notifyf(0, "STATUS=%s", status);
}

void notify_watchdog(void)
{
	if (loaded())
		notify_sd.p_sd_notify(0, "WATCHDOG=1");
}

uint64_t notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	return loaded() && notify_sd.p_sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
