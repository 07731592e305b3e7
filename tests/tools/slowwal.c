/*
 * slowwal.c - an LD_PRELOAD shim for tests/spec/durability_spec.lua: every
 * write SQLite makes to a "-wal" file waits SLOWWAL_US microseconds
 * (default 2000) before it happens, and every fdatasync of it as long after
 * it returned, as on a slow SD card.
 *
 * Why: kill -9 keeps what reached the page cache, so for a kill the window
 * in which a wrongly ordered client loses state is the time between its
 * socket write and SQLite's write of the WAL frames - microseconds on a
 * fast disk, which random kills almost never hit; the same holds for the
 * time between a commit and the packets it allows (a build that kept no
 * inbound QoS 2 "received" state in the store passed 60 kills). With the
 * WAL held back, those windows are milliseconds and the kill tests catch
 * what falls into them, while a client that commits before it sends
 * (write-ahead) and stores what it must loses nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static int (*real_fdatasync)(int);
static long delay_us = -1;

static int is_wal(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 4)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 4, "-wal") == 0;
}

static void wait_if_wal(int fd)
{
	if (delay_us < 0) {
		const char *s = getenv("SLOWWAL_US");
		delay_us = s ? atol(s) : 2000;
	}
	if (delay_us > 0 && is_wal(fd)) {
		struct timespec ts = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* before the write: the time in which what the client sent is not yet
 * written anywhere */
ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	if (!real_pwrite64)
		real_pwrite64 = (ssize_t (*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");
	wait_if_wal(fd);
	return real_pwrite64(fd, buf, len, off);
}

/* after the sync: the time in which a commit that a kill -9 cannot undo
 * any more (it is in the page cache) has not yet been followed by the
 * packets it allows (a PUBREC, a PUBACK) */
int fdatasync(int fd)
{
	if (!real_fdatasync)
		real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	int r = real_fdatasync(fd);
	wait_if_wal(fd);
	return r;
}
