/*
 * lstdin.c - require "lia.stdin": read standard input line by line through
 * the loop, so a script (lia pub -l) waits for input without blocking
 * MQTT traffic.
 *
 *   for line in stdin.lines() do ... end   -- yields until a line is there
 *   stdin.read_line() -> line | nil at end of input
 *
 * Pipes and terminals are watched by the loop; a regular file cannot be
 * (epoll refuses it) and never blocks, so it is read directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define CHUNK 4096

/* One standard input per process. */
static struct {
	char *buf;
	size_t len, cap;
	bool eof, watched, direct;
	int saved_flags;            /* fcntl flags to restore, -1: untouched */
	struct loop *loop;
	struct host_waiter *w;
} in = { .saved_flags = -1 };

/* Read what is available; false when nothing more can come now. */
static bool fill(void)
{
	if (in.cap - in.len < CHUNK) {
		size_t cap = in.cap ? in.cap * 2 : CHUNK * 2;
		char *b = xrealloc(in.buf, cap);
		if (!b) {
			log_error("stdin: out of memory");
			in.eof = true;
			return false;
		}
		in.buf = b;
		in.cap = cap;
	}
	ssize_t n = read(0, in.buf + in.len, in.cap - in.len);
	if (n > 0) {
		in.len += (size_t)n;
		return true;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n < 0)
		log_error("stdin: %s", strerror(errno));
	in.eof = true;
	return false;
}

static bool have_line(void)
{
	return (in.len && memchr(in.buf, '\n', in.len)) || (in.eof && in.len > 0);
}

/* Push the next line (without "\n", and without a "\r" before it) or nil. */
static int push_line(lua_State *L, void *ud)
{
	(void)ud;
	char *nl = in.len ? memchr(in.buf, '\n', in.len) : NULL;
	size_t len = nl ? (size_t)(nl - in.buf) : in.len, used = nl ? len + 1 : len;
	if (!nl && !in.eof) {
		lua_pushnil(L);
		return 1;
	}
	if (!nl && in.len == 0) {
		lua_pushnil(L);
		return 1;
	}
	if (len && in.buf[len - 1] == '\r')
		len--;
	lua_pushlstring(L, in.buf, len);
	if (in.len > used)
		memmove(in.buf, in.buf + used, in.len - used);
	in.len -= used;
	return 1;
}

/* Give the terminal or pipe back as we found it (blocking), at end of
 * input and when the agent stops. */
static void stop_watching(void)
{
	if (in.watched) {
		loop_unwatch(in.loop, 0);
		in.watched = false;
	}
	if (in.saved_flags >= 0) {
		fcntl(0, F_SETFL, in.saved_flags);
		in.saved_flags = -1;
	}
}

static bool restore(void *ud, bool first)
{
	(void)ud;
	(void)first;
	stop_watching();
	return true;
}

static void readable(struct loop *l, int fd, int events, void *ud)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)ud;
	while (fill())
		if (have_line())
			break;
	if (in.eof)
		stop_watching();
	if (in.w && (have_line() || in.eof)) {
		struct host_waiter *w = in.w;
		in.w = NULL;
		host_wake(w, push_line, NULL);
	}
}

static int l_read_line(lua_State *L)
{
	if (have_line() || in.eof)
		return push_line(L, NULL);
	luaL_argcheck(L, !in.w, 1, "another coroutine already reads stdin");
	if (!in.watched && !in.direct) {
		int flags = fcntl(0, F_GETFL);
		in.loop = host_get_loop(L);
		if (loop_watch(in.loop, 0, LOOP_READ, readable, NULL) == 0) {
			in.watched = true;
			if (flags >= 0 && !(flags & O_NONBLOCK) &&
					fcntl(0, F_SETFL, flags | O_NONBLOCK) == 0) {
				in.saved_flags = flags;
				host_drain_remove(host_of(L), restore, NULL);
				host_drain_add(host_of(L), restore, NULL);
			}
		} else {
			in.direct = true;
		}
	}
	if (in.direct) {
		while (!have_line() && !in.eof)
			fill();
		return push_line(L, NULL);
	}
	in.w = host_waiter_new(L, -1, NULL, NULL);
	return host_yield(L);
}

static int l_lines(lua_State *L)
{
	lua_pushcfunction(L, l_read_line);
	return 1;
}

int luaopen_lia_stdin(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "read_line", l_read_line },
		{ "lines", l_lines },
		{ NULL, NULL }
	};
	luaL_newlib(L, funcs);
	return 1;
}
