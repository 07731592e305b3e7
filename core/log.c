/*
 * log.c - one line per event. Lines are built in a fixed stack buffer so
 * logging works when memory has run out, which is exactly when it matters.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024
#define LOG_ELLIPSIS "..."

static int cur_level = LOG_INFO;
static int timestamps = 1;
static int journal;
static log_sink_fn *sink;
static void *sink_ud;
static log_sink_fn *tap;
static void *tap_ud;
static int in_tap;

void log_set_level(int level)
{
	cur_level = level;
}

int log_get_level(void)
{
	return cur_level;
}

void log_set_sink(log_sink_fn *fn, void *ud)
{
	sink = fn;
	sink_ud = ud;
}

void log_set_tap(log_sink_fn *fn, void *ud)
{
	tap = fn;
	tap_ud = ud;
}

void log_set_timestamps(int on)
{
	timestamps = on != 0;
}

void log_set_journal(int on)
{
	journal = on != 0;
}

int log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* syslog has eight levels and we name four: the unnamed ones fold into the
 * nearest named one (crit/alert/emerg are errors, notice is info). */
const char *log_level_name(int level)
{
	if (level <= LOG_ERROR)
		return "error";
	if (level == LOG_WARN)
		return "warn";
	if (level < LOG_DEBUG)
		return "info";
	return "debug";
}

int log_level_by_name(const char *name)
{
	static const struct { const char *name; int level; } names[] = {
		{ "error", LOG_ERROR }, { "warn", LOG_WARN }, { "warning", LOG_WARN },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].level;
	return -1;
}

/* One writev so concurrent writers to the same stderr (other processes under
 * a supervisor) do not interleave halves of lines. */
static void sink_stderr(const char *line)
{
	struct iovec iov[2] = {
		{ (void *)line, strlen(line) },
		{ "\n", 1 },
	};
	ssize_t r;

	do
		r = writev(STDERR_FILENO, iov, 2);
	while (r < 0 && errno == EINTR);
}

static size_t format_timestamp(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm))
		return 0;
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	n += (size_t)snprintf(out + n, size - n, ".%03ld ", ts.tv_nsec / 1000000);
	return n < size ? n : size - 1;
}

/* A line must stay one line: embedded newlines (Lua error messages carry
 * them) become spaces, trailing ones are dropped. */
static void flatten(char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	for (; len > 0; len--, s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

void log_msg(int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n = 0, msg_at;
	va_list ap;
	int r;

	if (level > cur_level)
		return;
	if (journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>", level < 0 ? 0 : level > 7 ? 7 : level);
	else if (timestamps)
		n = format_timestamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s ", log_level_name(level));
	msg_at = n;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	if ((size_t)r >= sizeof(line) - n) {
		memcpy(line + sizeof(line) - sizeof(LOG_ELLIPSIS), LOG_ELLIPSIS, sizeof(LOG_ELLIPSIS));
		r = (int)(sizeof(line) - 1 - n);
	}
	flatten(line + msg_at, (size_t)r);
	if (sink)
		sink(level, line, sink_ud);
	else
		sink_stderr(line);
	if (tap && !in_tap) {
		in_tap = 1;
		tap(level, line + msg_at, tap_ud);
		in_tap = 0;
	}
}
