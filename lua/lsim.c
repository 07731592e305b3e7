/*
 * lsim.c - require "lia.sim" (only with lia run --hw sim): the test
 * instrument's side of the simulated backend (hw/sim.h).
 *
 *   sim.chip{ name = "gpiochip1", label = "expander", lines = 8 }   -- or lines = { "A", "B" }
 *   local b = sim.gpio("gpiochip0", 27)     -- or sim.gpio("GPIO27")
 *   b:set(0); b:pulse{ count = 3, width_ms = 5, period_ms = 20 }; b:get(); b:writes()
 *   local gps = sim.serial("/dev/ttyUSB0", { vid = 0x1546, pid = 0x01a7 })
 *   gps:feed("$GPGGA,...\r\n"); gps:written(); gps:on_write(function(bytes) end); gps:pty()
 *   local t = sim.i2c("/dev/i2c-1", 0x48, { [0x00] = "\x19\x00", read = fn, write = fn })
 *   t:reg(0x00, "\x19\x20"); t:reg(0x01); t:nack(1); t:delay(50); t:count()
 *
 * Models written in Lua (I2C read/write functions) run synchronously
 * inside the script's transfer, on a thread of their own, protected: an
 * error is logged and the transfer fails with EIO.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "hw/gpio.h"
#include "hw/i2c.h"
#include "hw/serial.h"
#include "hw/sim.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define GPIO_MT "lia.sim.gpio"
#define SERIAL_MT "lia.sim.serial"
#define I2C_MT "lia.sim.i2c"

struct sgpio {
	char chip[GPIO_NAME_MAX];
	unsigned off;
};

struct sserial {
	char path[128];
};

struct si2c {
	struct i2c_sim_dev *d;
	char bus[64];
	unsigned addr;
};

/* ---- GPIO ---- */

static int l_chip(lua_State *L)
{
	const char *names[512];
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "name");
	const char *name = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "label");
	const char *label = luaL_optstring(L, -1, "lia-sim");
	lua_getfield(L, 1, "lines");
	lua_Integer n;
	bool named = lua_istable(L, -1);
	if (named) {
		n = luaL_len(L, -1);
		luaL_argcheck(L, n >= 1 && n <= 512, 1, "1 to 512 line names expected");
		luaL_checkstack(L, (int)n + 8, "sim.chip");
		for (lua_Integer i = 0; i < n; i++) {
			lua_rawgeti(L, -1 - (int)i, i + 1);
			names[i] = luaL_checkstring(L, -1);     /* kept on the stack */
		}
	} else {
		n = luaL_checkinteger(L, -1);
		luaL_argcheck(L, n >= 1 && n <= 512, 1, "1 to 512 lines expected");
	}
	int r = gpio_sim_add_chip(name, label, (unsigned)n, named ? names : NULL);
	if (r == -EEXIST)
		return luaL_error(L, "sim.chip: %s exists already", name);
	if (r < 0)
		return luaL_error(L, "sim.chip: invalid chip name '%s'", name);
	return 0;
}

static struct sgpio *check_gpio(lua_State *L)
{
	return luaL_checkudata(L, 1, GPIO_MT);
}

/* sim.gpio(chip, line) or sim.gpio(name) */
static int l_gpio(lua_State *L)
{
	struct sgpio *g = lua_newuserdatauv(L, sizeof *g, 0);
	const char *chip = NULL, *name = NULL;
	int off = -1;
	if (lua_gettop(L) >= 3) {
		chip = luaL_checkstring(L, 1);
		if (lua_type(L, 2) == LUA_TNUMBER)
			off = (int)luaL_checkinteger(L, 2);
		else
			name = luaL_checkstring(L, 2);
	} else {
		name = luaL_checkstring(L, 1);
	}
	if (gpio_sim_find(chip, off, name, g->chip, &g->off) < 0)
		return luaL_error(L, "sim.gpio: no simulated line %s%s%s", chip ? chip : "",
			chip ? ":" : "", name ? name : lua_tostring(L, 2));
	luaL_setmetatable(L, GPIO_MT);
	return 1;
}

static int level_arg(lua_State *L, int idx)
{
	if (lua_isnil(L, idx))
		return -1;
	if (lua_isboolean(L, idx))
		return lua_toboolean(L, idx);
	lua_Integer v = luaL_checkinteger(L, idx);
	luaL_argcheck(L, v == 0 || v == 1, idx, "0, 1 or nil (float) expected");
	return (int)v;
}

static int l_gpio_set(lua_State *L)
{
	struct sgpio *g = check_gpio(L);
	luaL_checkany(L, 2);
	uint64_t ns = (uint64_t)luaL_optinteger(L, 3, 0);
	gpio_sim_set(g->chip, g->off, level_arg(L, 2), ns);
	lua_settop(L, 1);
	return 1;
}

static int l_gpio_get(lua_State *L)
{
	struct sgpio *g = check_gpio(L);
	lua_pushinteger(L, gpio_sim_get(g->chip, g->off));
	return 1;
}

static lua_Number opt_num(lua_State *L, int t, const char *k, lua_Number def)
{
	lua_getfield(L, t, k);
	lua_Number v = luaL_optnumber(L, -1, def);
	lua_pop(L, 1);
	return v;
}

/* A pulse train, queued at once with timestamps spaced as asked (from
 * now, or from start_ns): count pulses of width_ms every period_ms. */
static int l_gpio_pulse(lua_State *L)
{
	struct sgpio *g = check_gpio(L);
	if (lua_isnoneornil(L, 2))
		lua_newtable(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_Number count = opt_num(L, 2, "count", 1), width = opt_num(L, 2, "width_ms", 10);
	lua_Number period = opt_num(L, 2, "period_ms", 2 * width);
	luaL_argcheck(L, count >= 1 && count <= 1e6, 2, "count 1..1e6 expected");
	luaL_argcheck(L, width > 0 && period > width, 2, "0 < width_ms < period_ms expected");
	int rest = gpio_sim_get(g->chip, g->off);
	lua_getfield(L, 2, "level");
	int level = lua_isnil(L, -1) ? !rest : level_arg(L, -1);
	uint64_t t0 = (uint64_t)opt_num(L, 2, "start_ns", (lua_Number)loop_clock_ns());
	for (long i = 0; i < (long)count; i++) {
		uint64_t at = t0 + (uint64_t)(i * period * 1e6);
		gpio_sim_set(g->chip, g->off, level, at);
		gpio_sim_set(g->chip, g->off, rest, at + (uint64_t)(width * 1e6));
	}
	lua_settop(L, 1);
	return 1;
}

static int l_gpio_writes(lua_State *L)
{
	struct sgpio *g = check_gpio(L);
	const struct gpio_sim_write *w;
	size_t n;
	gpio_sim_writes(g->chip, g->off, &w, &n);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushinteger(L, w[i].level);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int l_gpio_requested(lua_State *L)
{
	struct sgpio *g = check_gpio(L);
	lua_pushboolean(L, gpio_sim_requested(g->chip, g->off) == 1);
	return 1;
}

static int l_gpio_tostring(lua_State *L)
{
	struct sgpio *g = check_gpio(L);
	lua_pushfstring(L, "lia.sim.gpio (%s:%d)", g->chip, (int)g->off);
	return 1;
}

/* ---- serial ---- */

struct port_watch {
	char path[128];
	struct host *h;
	lua_State *L;
	struct loop *loop;
	int fn_ref, fd;
	const char *data;
	size_t len;
	struct port_watch *next;
};

static struct port_watch *watches;

static struct sserial *check_serial(lua_State *L)
{
	struct sserial *s = luaL_checkudata(L, 1, SERIAL_MT);
	return s;
}

static const char *opt_str(lua_State *L, int t, const char *k)
{
	lua_getfield(L, t, k);
	const char *s = lua_tostring(L, -1);        /* the table keeps it */
	lua_pop(L, 1);
	return s;
}

static int l_serial(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	luaL_argcheck(L, strlen(path) < 128, 1, "path too long");
	if (!serial_sim_exists(path)) {
		struct serial_sim_opts o = { .vid = -1, .pid = -1 };
		struct hw_error e = { 0 };
		if (lua_istable(L, 2)) {
			o.vid = (int)opt_num(L, 2, "vid", -1);
			o.pid = (int)opt_num(L, 2, "pid", -1);
			o.description = opt_str(L, 2, "description");
			o.manufacturer = opt_str(L, 2, "manufacturer");
			o.product = opt_str(L, 2, "product");
			o.serial = opt_str(L, 2, "serial");
			lua_getfield(L, 2, "attach");
			o.attach = lua_toboolean(L, -1);
			lua_pop(L, 1);
		}
		if (serial_sim_add(path, &o, NULL, &e) < 0)
			return luaL_error(L, "sim.serial: %s", e.msg);
	}
	struct sserial *s = lua_newuserdatauv(L, sizeof *s, 0);
	memcpy(s->path, path, strlen(path) + 1);
	luaL_setmetatable(L, SERIAL_MT);
	return 1;
}

static int l_serial_feed(lua_State *L)
{
	struct sserial *s = check_serial(L);
	size_t n;
	const char *p = luaL_checklstring(L, 2, &n);
	ssize_t r = serial_sim_feed(s->path, p, n);
	if (r < 0)
		return luaL_error(L, "sim.serial %s: feed: %s", s->path, strerror((int)-r));
	lua_settop(L, 1);
	return 1;
}

static int l_serial_written(lua_State *L)
{
	struct sserial *s = check_serial(L);
	size_t n;
	const char *p = serial_sim_written(s->path, &n, lua_toboolean(L, 2));
	lua_pushlstring(L, p ? p : "", n);
	return 1;
}

static int l_serial_pty(lua_State *L)
{
	lua_pushstring(L, serial_sim_pty(check_serial(L)->path));
	return 1;
}

static int push_written(lua_State *L, void *ud)
{
	struct port_watch *w = ud;
	host_push_ref(L, w->fn_ref);
	lua_pushlstring(L, w->data, w->len);
	return 1;
}

static void peer_readable(struct loop *l, int fd, int events, void *ud)
{
	struct port_watch *w = ud;
	(void)l;
	(void)fd;
	(void)events;
	w->data = serial_sim_drain(w->path, &w->len);
	if (w->data && w->len)
		host_spawn(w->h, push_written, w);
}

static int l_serial_on_write(lua_State *L)
{
	struct sserial *s = check_serial(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	struct port_watch *w;
	for (w = watches; w && strcmp(w->path, s->path) != 0; w = w->next)
		;
	if (!w) {
		int fd = serial_sim_peer_fd(s->path);
		luaL_argcheck(L, fd >= 0, 1, "an attached port cannot have on_write");
		if (!(w = xcalloc(1, sizeof *w)))
			return luaL_error(L, "out of memory");
		memcpy(w->path, s->path, sizeof w->path);
		w->h = host_of(L);
		w->loop = host_get_loop(L);
		w->fd = fd;
		w->fn_ref = LUA_NOREF;
		if (loop_watch(w->loop, fd, LOOP_READ, peer_readable, w) < 0) {
			xfree(w);
			return luaL_error(L, "sim.serial %s: cannot watch the pty", s->path);
		}
		w->next = watches;
		watches = w;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	w->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	host_unref(L, &w->fn_ref);
	w->fn_ref = host_ref(L, 2);
	lua_settop(L, 1);
	return 1;
}

static int l_serial_tostring(lua_State *L)
{
	struct sserial *s = check_serial(L);
	lua_pushfstring(L, "lia.sim.serial (%s on %s)", s->path, serial_sim_pty(s->path));
	return 1;
}

/* ---- I2C ---- */

struct model {
	lua_State *T;           /* a thread of its own: the script's is inside a C call */
	int thread_ref, model_ref;
};

static int run_model(void *ud, bool read, uint8_t *buf, uint16_t len, uint8_t ptr)
{
	struct model *m = ud;
	lua_State *T = m->T;
	int top = lua_gettop(T), r = 1;
	host_push_ref(T, m->model_ref);
	lua_getfield(T, -1, read ? "read" : "write");
	if (!lua_isfunction(T, -1)) {
		lua_settop(T, top);
		return 1;
	}
	if (read) {
		lua_pushinteger(T, len);
		lua_pushinteger(T, ptr);
	} else {
		lua_pushlstring(T, (const char *)buf, len);
	}
	if (lua_pcall(T, read ? 2 : 1, 1, 0) != LUA_OK) {
		log_error("sim i2c model: %s", lua_tostring(T, -1) ? lua_tostring(T, -1) : "error");
		lua_settop(T, top);
		return -EIO;
	}
	if (read && lua_type(T, -1) == LUA_TSTRING) {
		size_t n;
		const char *s = lua_tolstring(T, -1, &n);
		memset(buf, 0, len);
		memcpy(buf, s, n < len ? n : len);
		r = 0;
	} else if (read && lua_isnil(T, -1)) {
		r = 1;                  /* the register map answers */
	} else if (lua_isboolean(T, -1) && !lua_toboolean(T, -1)) {
		r = -ENXIO;             /* false: NACK */
	}
	lua_settop(T, top);
	return r;
}

static struct si2c *check_i2c(lua_State *L)
{
	return luaL_checkudata(L, 1, I2C_MT);
}

static void set_reg(lua_State *L, struct i2c_sim_dev *d, lua_Integer reg, int idx)
{
	size_t n;
	const char *v;
	char byte;
	luaL_argcheck(L, reg >= 0 && reg <= 255, idx - 1, "register 0..255 expected");
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer b = luaL_checkinteger(L, idx);
		luaL_argcheck(L, b >= 0 && b <= 255, idx, "byte 0..255 expected");
		byte = (char)b;
		v = &byte;
		n = 1;
	} else {
		v = luaL_checklstring(L, idx, &n);
	}
	luaL_argcheck(L, n <= 32, idx, "at most 32 bytes a register");
	i2c_sim_set_reg(d, (uint8_t)reg, v, n);
}

static void set_model(lua_State *L, struct i2c_sim_dev *d, int t)
{
	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (lua_type(L, -2) == LUA_TNUMBER)
			set_reg(L, d, lua_tointeger(L, -2), lua_gettop(L));
		lua_pop(L, 1);
	}
	lua_getfield(L, t, "read");
	lua_getfield(L, t, "write");
	bool hooked = !lua_isnil(L, -1) || !lua_isnil(L, -2);
	lua_pop(L, 2);
	if (!hooked)
		return;
	struct model *m = xcalloc(1, sizeof *m);
	if (!m)
		luaL_error(L, "out of memory");
	m->T = lua_newthread(L);
	m->thread_ref = host_ref(L, -1);
	lua_pop(L, 1);
	m->model_ref = host_ref(L, t);
	i2c_sim_hook(d, run_model, m);      /* for the life of the process */
}

static int l_i2c(lua_State *L)
{
	char bus[64];
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_pushfstring(L, "/dev/i2c-%d", (int)luaL_checkinteger(L, 1));
		lua_replace(L, 1);
	}
	const char *name = luaL_checkstring(L, 1);
	luaL_argcheck(L, i2c_bus_path(name, bus), 1, "I2C bus name expected (\"/dev/i2c-1\" or 1)");
	lua_Integer addr = luaL_checkinteger(L, 2);
	luaL_argcheck(L, addr >= 0 && addr <= 0x7f, 2, "7-bit address expected");
	struct i2c_sim_dev *d = i2c_sim_device(bus, (uint16_t)addr);
	if (!d)
		return luaL_error(L, "out of memory");
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		set_model(L, d, 3);
	}
	struct si2c *s = lua_newuserdatauv(L, sizeof *s, 0);
	s->d = d;
	memcpy(s->bus, bus, sizeof s->bus);
	s->addr = (unsigned)addr;
	luaL_setmetatable(L, I2C_MT);
	return 1;
}

static int l_i2c_bus(lua_State *L)
{
	char bus[64];
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_pushfstring(L, "/dev/i2c-%d", (int)luaL_checkinteger(L, 1));
		lua_replace(L, 1);
	}
	const char *name = luaL_checkstring(L, 1);
	luaL_argcheck(L, i2c_bus_path(name, bus), 1, "I2C bus name expected (\"/dev/i2c-1\" or 1)");
	if (i2c_sim_add_bus(bus) < 0)
		return luaL_error(L, "out of memory");
	return 0;
}

static int l_i2c_reg(lua_State *L)
{
	struct si2c *s = check_i2c(L);
	lua_Integer reg = luaL_checkinteger(L, 2);
	luaL_argcheck(L, reg >= 0 && reg <= 255, 2, "register 0..255 expected");
	if (!lua_isnoneornil(L, 3)) {
		set_reg(L, s->d, reg, 3);
		lua_settop(L, 1);
		return 1;
	}
	uint8_t v[32];
	size_t n = i2c_sim_get_reg(s->d, (uint8_t)reg, v);
	lua_pushlstring(L, (const char *)v, n);
	return 1;
}

static int l_i2c_nack(lua_State *L)
{
	struct si2c *s = check_i2c(L);
	int n = lua_isboolean(L, 2) ? (lua_toboolean(L, 2) ? -1 : 0) : (int)luaL_optinteger(L, 2, 1);
	i2c_sim_nack(s->d, n);
	lua_settop(L, 1);
	return 1;
}

static int l_i2c_delay(lua_State *L)
{
	struct si2c *s = check_i2c(L);
	lua_Integer ms = luaL_checkinteger(L, 2);
	luaL_argcheck(L, ms >= 0 && ms <= 60000, 2, "0..60000 ms expected");
	i2c_sim_delay(s->d, (unsigned)ms);
	lua_settop(L, 1);
	return 1;
}

static int l_i2c_count(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)i2c_sim_count(check_i2c(L)->d));
	return 1;
}

static int l_i2c_tostring(lua_State *L)
{
	struct si2c *s = check_i2c(L);
	char addr[8];
	snprintf(addr, sizeof addr, "0x%02x", s->addr);
	lua_pushfstring(L, "lia.sim.i2c (%s %s)", s->bus, addr);
	return 1;
}

/* ---- the module ---- */

static void new_type(lua_State *L, const char *name, const luaL_Reg *m, lua_CFunction ts)
{
	if (luaL_newmetatable(L, name)) {
		lua_pushcfunction(L, ts);
		lua_setfield(L, -2, "__tostring");
		lua_newtable(L);
		luaL_setfuncs(L, m, 0);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
}

int luaopen_lia_sim(lua_State *L)
{
	static const luaL_Reg gpio_m[] = {
		{ "set", l_gpio_set }, { "get", l_gpio_get }, { "pulse", l_gpio_pulse },
		{ "writes", l_gpio_writes }, { "requested", l_gpio_requested }, { NULL, NULL }
	};
	static const luaL_Reg serial_m[] = {
		{ "feed", l_serial_feed }, { "written", l_serial_written }, { "pty", l_serial_pty },
		{ "on_write", l_serial_on_write }, { NULL, NULL }
	};
	static const luaL_Reg i2c_m[] = {
		{ "reg", l_i2c_reg }, { "nack", l_i2c_nack }, { "delay", l_i2c_delay },
		{ "count", l_i2c_count }, { NULL, NULL }
	};
	static const luaL_Reg funcs[] = {
		{ "chip", l_chip }, { "gpio", l_gpio }, { "serial", l_serial }, { "i2c", l_i2c },
		{ "i2c_bus", l_i2c_bus }, { NULL, NULL }
	};
	if (!hw_is_sim())
		return luaL_error(L, "lia.sim needs the simulated hardware: lia run --hw sim");
	new_type(L, GPIO_MT, gpio_m, l_gpio_tostring);
	new_type(L, SERIAL_MT, serial_m, l_serial_tostring);
	new_type(L, I2C_MT, i2c_m, l_i2c_tostring);
	luaL_newlib(L, funcs);
	return 1;
}

/* lia run --sim models.lua: run the models file before the script. */
int lsim_load_models(lua_State *L, const char *path)
{
	if (luaL_loadfile(L, path) != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, 0);
	return 0;
}
