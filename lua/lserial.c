/*
 * lserial.c - require "lia.serial": serial ports of the backend chosen by
 * lia run --hw (hw/serial.h), read and written through the loop.
 *
 *   local port = serial.open{ path = "/dev/ttyUSB0", baud = 9600 }
 *   port:on_line(function(line) end)        -- split at the delimiter ("\n")
 *   port:on_data(function(bytes) end, { length = 8 } or { timeout = 50 })
 *   port:write("AT\r\n")                    -- queued; nil, msg, "EAGAIN" when full
 *   local reply = port:read_line{ timeout = 1000 }   -- yields
 *
 * Received bytes go to on_data (raw, or framed by length or by a silence
 * of `timeout` ms) and to the line buffer, which feeds a waiting
 * read_line first and on_line next. Writes the fd does not take at once
 * wait in an output buffer (back-pressure: `buffer` bytes at most;
 * port:drain() waits until it is empty).
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "hw/serial.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define PORT_MT "lia.serial.port"
#define LINE_MAX_BYTES 65536
#define DEFAULT_BUFFER 65536
#define UV_DATA 1
#define UV_LINE 2

struct bytes {
	char *p;
	size_t len, cap;
};

struct lserial {
	struct serial_port *p;      /* NULL once closed */
	struct host *h;
	lua_State *L;
	struct loop *loop;
	int ref;                    /* anchor while handlers are set or output waits */
	int fd, mask;
	bool has_data, has_line, failed;
	char delim[16];
	size_t dlen;
	size_t frame_len;           /* on_data framing: fixed length ... */
	int frame_ms;               /* ... or a silence of frame_ms */
	struct loop_timer *frame_timer;
	struct loop_timer *lines_timer;  /* on_line set while Lua runs: deliver from the loop */
	struct bytes in, frame, out;
	size_t limit;               /* output buffer */
	struct host_waiter *w_line, *w_drain;
	const char *deliver;        /* for push_data */
	size_t deliver_len;
	int deliver_uv;
};

static int fail(lua_State *L, const struct hw_error *e)
{
	lua_pushnil(L);
	lua_pushstring(L, e->msg);
	lua_pushstring(L, hw_errname(e->code));
	return 3;
}

static int fail_msg(lua_State *L, const char *path, const char *what, const char *code)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", path, what);
	lua_pushstring(L, code);
	return 3;
}

static bool append(struct bytes *b, const char *p, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap - b->len < n)
			cap *= 2;
		char *q = xrealloc(b->p, cap);
		if (!q)
			return false;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return true;
}

static void consume(struct bytes *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static struct lserial *check_open(lua_State *L)
{
	struct lserial *s = luaL_checkudata(L, 1, PORT_MT);
	if (!s->p)
		luaL_error(L, "attempt to use a closed serial port");
	return s;
}

/* Anchored while the loop may call into the port. */
static void update_anchor(struct lserial *s, lua_State *L, int idx)
{
	bool need = s->p && (s->has_data || s->has_line || s->out.len);
	if (need && s->ref == LUA_NOREF && idx)
		s->ref = host_ref(L, idx);
	else if (!need)
		host_unref(s->L, &s->ref);
}

static void on_io(struct loop *l, int fd, int events, void *ud);

static void set_mask(struct lserial *s)
{
	int mask = (s->failed ? 0 : LOOP_READ) | (s->out.len ? LOOP_WRITE : 0);
	if (s->fd >= 0 && mask != s->mask) {
		loop_watch(s->loop, s->fd, mask, on_io, s);
		s->mask = mask;
	}
}

static int push_closed(lua_State *L, void *ud)
{
	(void)ud;
	lua_pushnil(L);
	lua_pushliteral(L, "serial port closed");
	lua_pushliteral(L, "ECANCELED");
	return 3;
}

static void close_port(struct lserial *s)
{
	if (s->frame_timer) {
		loop_timer_cancel(s->loop, s->frame_timer);
		s->frame_timer = NULL;
	}
	if (s->lines_timer) {
		loop_timer_cancel(s->loop, s->lines_timer);
		s->lines_timer = NULL;
	}
	if (s->fd >= 0) {
		loop_unwatch(s->loop, s->fd);
		s->fd = -1;
	}
	if (s->p) {
		s->p->ops->close(s->p);
		s->p = NULL;
	}
	if (s->w_line) {
		struct host_waiter *w = s->w_line;
		s->w_line = NULL;
		host_wake(w, push_closed, NULL);
	}
	if (s->w_drain) {
		struct host_waiter *w = s->w_drain;
		s->w_drain = NULL;
		host_wake(w, push_closed, NULL);
	}
	xfree(s->in.p);
	xfree(s->frame.p);
	xfree(s->out.p);
	s->in = s->frame = s->out = (struct bytes){ 0 };
	if (s->L)
		host_unref(s->L, &s->ref);
}

/* ---- input ---- */

static int push_data(lua_State *L, void *ud)
{
	struct lserial *s = ud;
	host_push_ref(L, s->ref);
	lua_getiuservalue(L, -1, s->deliver_uv);
	lua_remove(L, -2);
	lua_pushlstring(L, s->deliver, s->deliver_len);
	return 1;
}

static void spawn(struct lserial *s, int uv, const char *p, size_t n)
{
	s->deliver = p;
	s->deliver_len = n;
	s->deliver_uv = uv;
	host_spawn(s->h, push_data, s);
}

/* The length of the next line in s->in (*used: with its delimiter), or -1. */
static long next_line(struct lserial *s, size_t *used)
{
	char *hit = s->in.len >= s->dlen ? memmem(s->in.p, s->in.len, s->delim, s->dlen) : NULL;
	if (!hit)
		return -1;
	size_t len = (size_t)(hit - s->in.p);
	*used = len + s->dlen;
	if (s->dlen == 1 && s->delim[0] == '\n' && len && s->in.p[len - 1] == '\r')
		len--;
	return (long)len;
}

static int push_line(lua_State *L, void *ud)
{
	struct lserial *s = ud;
	size_t used;
	long len = s->p ? next_line(s, &used) : -1;
	if (len < 0)
		return push_closed(L, NULL);
	lua_pushlstring(L, s->in.p, (size_t)len);
	consume(&s->in, used);
	return 1;
}

static void lines_out(struct lserial *s)
{
	size_t used;
	long len;
	while (s->p && (s->w_line || s->has_line) && (len = next_line(s, &used)) >= 0) {
		if (s->w_line) {
			struct host_waiter *w = s->w_line;
			s->w_line = NULL;
			host_wake(w, push_line, s);
			continue;
		}
		char *line = xmemdup(s->in.p, (size_t)len);
		consume(&s->in, used);
		if (line)
			spawn(s, UV_LINE, line, (size_t)len);
		xfree(line);
	}
}

static int64_t frame_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct lserial *s = ud;
	lua_State *L = s->L;
	int top = lua_gettop(L);
	(void)l;
	(void)t;
	s->frame_timer = NULL;
	if (s->frame.len && s->has_data) {
		struct bytes f = s->frame;
		s->frame = (struct bytes){ 0 };
		host_push_ref(L, s->ref);
		spawn(s, UV_DATA, f.p, f.len);
		xfree(f.p);
		lua_settop(L, top);
	}
	return LOOP_TIMER_STOP;
}

static void data_out(struct lserial *s, const char *p, size_t n)
{
	if (!s->frame_len && !s->frame_ms) {
		spawn(s, UV_DATA, p, n);
		return;
	}
	if (!append(&s->frame, p, n))
		return;
	if (s->frame_ms) {
		if (s->frame_timer)
			loop_timer_reset(s->loop, s->frame_timer, (uint64_t)s->frame_ms);
		else
			s->frame_timer = loop_timer_start(s->loop, (uint64_t)s->frame_ms, frame_due, s);
		return;
	}
	while (s->p && s->has_data && s->frame.len >= s->frame_len) {
		char *f = xmemdup(s->frame.p, s->frame_len);
		consume(&s->frame, s->frame_len);
		if (f)
			spawn(s, UV_DATA, f, s->frame_len);
		xfree(f);
	}
}

static void got(struct lserial *s, const char *p, size_t n)
{
	if (s->has_data)
		data_out(s, p, n);
	if (!s->p || (s->has_data && !s->has_line && !s->w_line))
		return;
	if (s->in.len + n > LINE_MAX_BYTES) {
		log_warn("serial %s: no line end in %d bytes; dropped", s->p->path, LINE_MAX_BYTES);
		s->in.len = 0;
	}
	append(&s->in, p, n);
	lines_out(s);
}

static void read_failed(struct lserial *s, const char *why)
{
	log_error("serial %s: %s; reading stops", s->p->path, why);
	s->failed = true;
	set_mask(s);
}

static void readable(struct lserial *s)
{
	char buf[4096];
	for (int i = 0; i < 16 && s->p && !s->failed; i++) {
		ssize_t n = s->p->ops->read(s->p, buf, sizeof buf);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			read_failed(s, n == 0 ? "end of file" : s->p->err.msg);
			return;
		}
		got(s, buf, (size_t)n);
	}
}

static int push_true(lua_State *L, void *ud)
{
	(void)ud;
	lua_pushboolean(L, 1);
	return 1;
}

/* Write what the fd takes; -errno on a hard error. */
static int flush(struct lserial *s)
{
	while (s->out.len) {
		ssize_t n = s->p->ops->write(s->p, s->out.p, s->out.len);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		consume(&s->out, (size_t)n);
	}
	if (!s->out.len && s->w_drain) {
		struct host_waiter *w = s->w_drain;
		s->w_drain = NULL;
		host_wake(w, push_true, NULL);
	}
	return 0;
}

static void on_io(struct loop *l, int fd, int events, void *ud)
{
	struct lserial *s = ud;
	lua_State *L = s->L;
	int top = lua_gettop(L);
	(void)l;
	(void)fd;
	host_push_ref(L, s->ref);
	if ((events & LOOP_WRITE) && s->p && s->out.len && flush(s) < 0) {
		log_error("serial %s: %s; output dropped", s->p->path, s->p->err.msg);
		s->out.len = 0;
	}
	if ((events & (LOOP_READ | LOOP_ERROR)) && s->p)
		readable(s);
	if (s->p) {
		set_mask(s);
		update_anchor(s, L, 0);
	}
	lua_settop(L, top);
}

/* ---- opening ---- */

static int opt_int(lua_State *L, const char *k, int def, int lo, int hi)
{
	lua_getfield(L, 1, k);
	lua_Integer v = def;
	if (!lua_isnil(L, -1)) {
		int ok;
		v = lua_tointegerx(L, -1, &ok);
		if (!ok || v < lo || v > hi)
			luaL_error(L, "serial: %s must be an integer in %d..%d", k, lo, hi);
	}
	lua_pop(L, 1);
	return (int)v;
}

static int opt_enum(lua_State *L, const char *k, const char *def, const char *const names[])
{
	lua_getfield(L, 1, k);
	const char *v = luaL_optstring(L, -1, def);
	for (int i = 0; names[i]; i++) {
		if (strcmp(names[i], v) == 0) {
			lua_pop(L, 1);
			return i;
		}
	}
	return luaL_error(L, "serial: invalid %s '%s'", k, v);
}

static void set_delim(lua_State *L, struct lserial *s, int idx)
{
	size_t n;
	const char *d = luaL_optlstring(L, idx, "\n", &n);
	luaL_argcheck(L, n >= 1 && n < sizeof s->delim, idx, "delimiter of 1 to 15 bytes expected");
	memcpy(s->delim, d, n);
	s->dlen = n;
}

static int l_open(lua_State *L)
{
	static const char *const parity[] = { "none", "odd", "even", "mark", "space", NULL };
	static const char *const flow[] = { "none", "xonxoff", "rtscts", "dtrdsr", NULL };
	struct serial_config c;
	struct hw_error e = { 0 };
	if (lua_type(L, 1) == LUA_TSTRING) {        /* serial.open(path) */
		lua_createtable(L, 0, 1);
		lua_pushvalue(L, 1);
		lua_setfield(L, -2, "path");
		lua_replace(L, 1);
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "path");
	c.path = lua_tostring(L, -1);
	luaL_argcheck(L, c.path != NULL, 1, "path expected");
	lua_pop(L, 1);
	c.baud = opt_int(L, "baud", 9600, 50, 4000000);
	c.data_bits = opt_int(L, "data_bits", 8, 5, 8);
	c.parity = opt_enum(L, "parity", "none", parity);
	c.stop_bits = opt_int(L, "stop_bits", 1, 1, 2);
	c.flow = opt_enum(L, "flow", "none", flow);
	int limit = opt_int(L, "buffer", DEFAULT_BUFFER, 1, 1 << 26);
	lua_getfield(L, 1, "delimiter");
	int didx = lua_gettop(L);
	struct lserial *s = lua_newuserdatauv(L, sizeof *s, 2);
	*s = (struct lserial){ .ref = LUA_NOREF, .fd = -1, .limit = (size_t)limit };
	luaL_setmetatable(L, PORT_MT);
	set_delim(L, s, didx);
	s->h = host_of(L);
	s->loop = host_get_loop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	s->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	s->p = hw_get()->serial->open(&c, &e);
	if (!s->p)
		return fail(L, &e);
	int fd = s->p->ops->fd(s->p), r = loop_watch(s->loop, fd, LOOP_READ, on_io, s);
	if (r < 0) {
		hw_fail(&e, -r, c.path, NULL);
		close_port(s);
		return fail(L, &e);
	}
	s->fd = fd;
	s->mask = LOOP_READ;
	return 1;
}

/* ---- methods ---- */

static int set_handler(lua_State *L, int uv, bool *flag)
{
	struct lserial *s = check_open(L);
	if (!lua_isnil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_setiuservalue(L, 1, uv);
	*flag = !lua_isnil(L, 2);
	update_anchor(s, L, 1);
	lua_settop(L, 1);
	return 1;
}

static int l_on_data(lua_State *L)
{
	struct lserial *s = check_open(L);
	int len = 0, ms = 0;
	if (lua_istable(L, 3)) {
		lua_getfield(L, 3, "length");
		len = (int)luaL_optinteger(L, -1, 0);
		lua_getfield(L, 3, "timeout");
		ms = (int)luaL_optinteger(L, -1, 0);
		lua_pop(L, 2);
		luaL_argcheck(L, len >= 0 && ms >= 0 && !(len && ms), 3,
			"one of length (bytes) or timeout (ms) expected");
	} else if (!lua_isnoneornil(L, 3)) {
		luaL_typeerror(L, 3, "table");
	}
	s->frame_len = (size_t)len;
	s->frame_ms = ms;
	lua_settop(L, 2);
	return set_handler(L, UV_DATA, &s->has_data);
}

/* Lines that were buffered before on_line was set: handlers cannot start
 * while Lua runs, so they go out from the loop. */
static int64_t lines_due(struct loop *l, struct loop_timer *t, void *ud)
{
	struct lserial *s = ud;
	lua_State *L = s->L;
	int top = lua_gettop(L);
	(void)l;
	(void)t;
	s->lines_timer = NULL;
	host_push_ref(L, s->ref);
	lines_out(s);
	lua_settop(L, top);
	return LOOP_TIMER_STOP;
}

static int l_on_line(lua_State *L)
{
	struct lserial *s = check_open(L);
	if (!lua_isnoneornil(L, 3))
		set_delim(L, s, 3);
	lua_settop(L, 2);
	set_handler(L, UV_LINE, &s->has_line);
	size_t used;
	if (s->has_line && !s->lines_timer && next_line(s, &used) >= 0)
		s->lines_timer = loop_timer_start(s->loop, 0, lines_due, s);
	return 1;
}

static int l_write(lua_State *L)
{
	struct lserial *s = check_open(L);
	size_t n;
	const char *p = luaL_checklstring(L, 2, &n);
	if (s->out.len + n > s->limit)
		return fail_msg(L, s->p->path, "output buffer full", "EAGAIN");
	if (!append(&s->out, p, n))
		return luaL_error(L, "out of memory");
	if (flush(s) < 0) {
		s->out.len = 0;
		return fail(L, &s->p->err);
	}
	set_mask(s);
	update_anchor(s, L, 1);
	lua_pushboolean(L, 1);
	return 1;
}

static int64_t opt_timeout(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return -1;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_getfield(L, idx, "timeout");
	lua_Integer ms = luaL_optinteger(L, -1, -1);
	lua_pop(L, 1);
	return ms;
}

static int line_timeout(lua_State *L, void *ud)
{
	struct lserial *s = ud;
	s->w_line = NULL;
	return fail_msg(L, s->p ? s->p->path : "serial", "timed out", "ETIMEDOUT");
}

static int l_read_line(lua_State *L)
{
	struct lserial *s = check_open(L);
	int64_t ms = opt_timeout(L, 2);
	size_t used;
	if (next_line(s, &used) >= 0)
		return push_line(L, s);
	if (s->failed)
		return fail_msg(L, s->p->path, "reading stopped", "EIO");
	luaL_argcheck(L, !s->w_line, 1, "another coroutine already waits for a line");
	s->w_line = host_waiter_new(L, ms, line_timeout, s);
	return host_yield(L);
}

static int drain_timeout(lua_State *L, void *ud)
{
	struct lserial *s = ud;
	s->w_drain = NULL;
	return fail_msg(L, s->p ? s->p->path : "serial", "timed out", "ETIMEDOUT");
}

static int l_drain(lua_State *L)
{
	struct lserial *s = check_open(L);
	int64_t ms = opt_timeout(L, 2);
	if (!s->out.len) {
		lua_pushboolean(L, 1);
		return 1;
	}
	luaL_argcheck(L, !s->w_drain, 1, "another coroutine already waits for the drain");
	s->w_drain = host_waiter_new(L, ms, drain_timeout, s);
	return host_yield(L);
}

static int l_pending(lua_State *L)
{
	struct lserial *s = check_open(L);
	lua_pushinteger(L, (lua_Integer)s->out.len);
	return 1;
}

static int l_close(lua_State *L)
{
	close_port(luaL_checkudata(L, 1, PORT_MT));
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lserial *s = luaL_checkudata(L, 1, PORT_MT);
	if (s->p)
		lua_pushfstring(L, "lia.serial.port (%s)", s->p->path);
	else
		lua_pushliteral(L, "lia.serial.port (closed)");
	return 1;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
	if (v && *v) {
		lua_pushstring(L, v);
		lua_setfield(L, -2, k);
	}
}

static int l_ports(lua_State *L)
{
	static struct serial_port_info info[128];       /* single-threaded */
	struct hw_error e = { 0 };
	int n = hw_get()->serial->ports(info, 128, &e);
	if (n < 0)
		return fail(L, &e);
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_createtable(L, 0, 8);
		set_str(L, "path", info[i].path);
		set_str(L, "description", info[i].description);
		set_str(L, "transport", info[i].transport);
		set_str(L, "manufacturer", info[i].manufacturer);
		set_str(L, "product", info[i].product);
		set_str(L, "serial", info[i].serial);
		if (info[i].vid >= 0) {
			lua_pushinteger(L, info[i].vid);
			lua_setfield(L, -2, "vid");
			lua_pushinteger(L, info[i].pid);
			lua_setfield(L, -2, "pid");
		}
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

int luaopen_lia_serial(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "on_data", l_on_data },
		{ "on_line", l_on_line },
		{ "write", l_write },
		{ "read_line", l_read_line },
		{ "drain", l_drain },
		{ "pending", l_pending },
		{ "close", l_close },
		{ NULL, NULL }
	};
	static const luaL_Reg meta[] = {
		{ "__gc", l_close },
		{ "__close", l_close },
		{ "__tostring", l_tostring },
		{ NULL, NULL }
	};
	static const luaL_Reg funcs[] = {
		{ "open", l_open },
		{ "ports", l_ports },
		{ NULL, NULL }
	};
	host_class(L, PORT_MT, meta, methods);
	luaL_newlib(L, funcs);
	return 1;
}
