/*
 * li2c.c - require "lia.i2c": I2C buses and devices of the backend chosen
 * by lia run --hw (hw/i2c.h).
 *
 *   local bus = i2c.open("/dev/i2c-1")          -- or i2c.open(1, { timeout_ms = 100 })
 *   local dev = bus:device(0x48)
 *   local raw = dev:read_reg(0x00, 2)           -- 2 bytes, as the device sent them
 *   dev:write_reg(0x01, "\x60\xA0")
 *   local a, b = dev:transfer{ { write = "\x00" }, { read = 2 } }   -- repeated start
 *   for _, addr in ipairs(bus:scan()) do ... end
 *
 * Transfers are synchronous and short, bounded by the adapter timeout.
 * Runtime failures return nil, message, code ("ENXIO" for a NACK,
 * "ETIMEDOUT", "EOPNOTSUPP" when an SMBus-only adapter cannot do it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "hw/i2c.h"

#define BUS_MT "lia.i2c.bus"
#define DEV_MT "lia.i2c.device"
#define MAX_LEN 4096
#define MAX_MSGS 8

struct li2c_bus {
	struct i2c_bus *b;      /* NULL once closed */
};

struct li2c_dev {
	uint16_t addr;          /* uservalue 1: the bus */
};

static int fail(lua_State *L, const struct hw_error *e)
{
	lua_pushnil(L);
	lua_pushstring(L, e->msg);
	lua_pushstring(L, hw_errname(e->code));
	return 3;
}

static struct i2c_bus *check_bus(lua_State *L, int idx)
{
	struct li2c_bus *lb = luaL_checkudata(L, idx, BUS_MT);
	if (!lb->b)
		luaL_error(L, "attempt to use a closed I2C bus");
	return lb->b;
}

/* The device at 1 and its open bus. */
static struct i2c_bus *check_dev(lua_State *L, uint16_t *addr)
{
	struct li2c_dev *d = luaL_checkudata(L, 1, DEV_MT);
	lua_getiuservalue(L, 1, 1);
	struct li2c_bus *lb = lua_touserdata(L, -1);
	lua_pop(L, 1);              /* the device keeps the bus alive */
	if (!lb || !lb->b)
		luaL_error(L, "attempt to use a device of a closed I2C bus");
	*addr = d->addr;
	return lb->b;
}

static int check_len(lua_State *L, int idx)
{
	lua_Integer n = luaL_checkinteger(L, idx);
	luaL_argcheck(L, n >= 1 && n <= MAX_LEN, idx, "length 1..4096 expected");
	return (int)n;
}

static uint8_t check_reg(lua_State *L, int idx)
{
	lua_Integer r = luaL_checkinteger(L, idx);
	luaL_argcheck(L, r >= 0 && r <= 255, idx, "register 0..255 expected");
	return (uint8_t)r;
}

static int l_open(lua_State *L)
{
	struct hw_error e = { 0 };
	const char *path;
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_pushfstring(L, "/dev/i2c-%d", (int)luaL_checkinteger(L, 1));
		lua_replace(L, 1);
	}
	path = luaL_checkstring(L, 1);
	int timeout = 1000;
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "timeout_ms");
		timeout = (int)luaL_optinteger(L, -1, 1000);
		lua_pop(L, 1);
		luaL_argcheck(L, timeout >= 10 && timeout <= 60000, 2, "timeout_ms 10..60000 expected");
	}
	struct li2c_bus *lb = lua_newuserdatauv(L, sizeof *lb, 0);
	lb->b = NULL;
	luaL_setmetatable(L, BUS_MT);
	lb->b = hw_get()->i2c->open(path, timeout, &e);
	if (!lb->b)
		return fail(L, &e);
	return 1;
}

static int l_bus_close(lua_State *L)
{
	struct li2c_bus *lb = luaL_checkudata(L, 1, BUS_MT);
	if (lb->b) {
		lb->b->ops->close(lb->b);
		lb->b = NULL;
	}
	return 0;
}

static int l_device(lua_State *L)
{
	check_bus(L, 1);
	lua_Integer a = luaL_checkinteger(L, 2);
	luaL_argcheck(L, a >= 0 && a <= 0x7f, 2, "7-bit address 0x00..0x7f expected");
	struct li2c_dev *d = lua_newuserdatauv(L, sizeof *d, 1);
	d->addr = (uint16_t)a;
	luaL_setmetatable(L, DEV_MT);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	return 1;
}

static int l_scan(lua_State *L)
{
	struct i2c_bus *b = check_bus(L, 1);
	int n = 0;
	lua_newtable(L);
	for (uint16_t a = 0x03; a <= 0x77; a++) {
		if (b->ops->probe(b, a) == 0) {
			lua_pushinteger(L, a);
			lua_rawseti(L, -2, ++n);
		}
	}
	return 1;
}

/* transfer{ { addr = a, write = s } | { addr = a, read = n }, ... } */
static int do_transfer(lua_State *L, struct i2c_bus *b, int t, int default_addr)
{
	struct i2c_msg_desc m[MAX_MSGS];
	luaL_checktype(L, t, LUA_TTABLE);
	luaL_checkstack(L, 4 * MAX_MSGS + 8, "transfer");
	int n = (int)luaL_len(L, t), nread = 0;
	luaL_argcheck(L, n >= 1 && n <= MAX_MSGS, t, "1 to 8 messages expected");
	for (int i = 0; i < n; i++) {
		lua_rawgeti(L, t, i + 1);
		luaL_argcheck(L, lua_istable(L, -1), t, "each message is a table");
		int mi = lua_gettop(L);
		lua_getfield(L, mi, "addr");
		lua_Integer a = luaL_optinteger(L, -1, default_addr);
		luaL_argcheck(L, a >= 0 && a <= 0x7f, t, "message addr 0x00..0x7f expected");
		lua_getfield(L, mi, "write");
		lua_getfield(L, mi, "read");
		m[i].addr = (uint16_t)a;
		m[i].read = !lua_isnil(L, -1);
		luaL_argcheck(L, m[i].read != !lua_isnil(L, -2), t, "each message has write or read");
		if (m[i].read) {
			m[i].len = (uint16_t)check_len(L, -1);
			m[i].buf = lua_newuserdatauv(L, m[i].len, 0);  /* kept on the stack */
			nread++;
		} else {
			size_t len;
			const char *s = luaL_checklstring(L, -2, &len);
			luaL_argcheck(L, len <= MAX_LEN, t, "at most 4096 bytes a message");
			m[i].len = (uint16_t)len;
			m[i].buf = (uint8_t *)s;        /* anchored by the table */
		}
	}
	if (b->ops->transfer(b, m, n) < 0)
		return fail(L, &b->err);
	for (int i = 0; i < n; i++)
		if (m[i].read)
			lua_pushlstring(L, (const char *)m[i].buf, m[i].len);
	if (!nread)
		lua_pushboolean(L, 1);
	return nread ? nread : 1;
}

static int l_bus_transfer(lua_State *L)
{
	return do_transfer(L, check_bus(L, 1), 2, -1);
}

static int l_tostring_bus(lua_State *L)
{
	struct li2c_bus *lb = luaL_checkudata(L, 1, BUS_MT);
	if (lb->b)
		lua_pushfstring(L, "lia.i2c.bus (%s%s)", lb->b->path,
			lb->b->plain_i2c ? "" : ", SMBus only");
	else
		lua_pushliteral(L, "lia.i2c.bus (closed)");
	return 1;
}

static int l_bus_info(lua_State *L)
{
	struct i2c_bus *b = check_bus(L, 1);
	lua_createtable(L, 0, 2);
	lua_pushstring(L, b->path);
	lua_setfield(L, -2, "path");
	lua_pushboolean(L, b->plain_i2c);
	lua_setfield(L, -2, "plain_i2c");
	return 1;
}

/* ---- devices ---- */

static int done(lua_State *L, struct i2c_bus *b, int r, const uint8_t *buf, int n)
{
	if (r < 0)
		return fail(L, &b->err);
	if (buf)
		lua_pushlstring(L, (const char *)buf, (size_t)n);
	else
		lua_pushboolean(L, 1);
	return 1;
}

static int l_read(lua_State *L)
{
	uint16_t a;
	struct i2c_bus *b = check_dev(L, &a);
	int n = check_len(L, 2);
	uint8_t *buf = lua_newuserdatauv(L, (size_t)n, 0);
	return done(L, b, b->ops->read(b, a, buf, (uint16_t)n), buf, n);
}

static int l_write(lua_State *L)
{
	uint16_t a;
	size_t n;
	struct i2c_bus *b = check_dev(L, &a);
	const char *s = luaL_checklstring(L, 2, &n);
	luaL_argcheck(L, n <= MAX_LEN, 2, "at most 4096 bytes");
	return done(L, b, b->ops->write(b, a, (const uint8_t *)s, (uint16_t)n), NULL, 0);
}

static int l_read_reg(lua_State *L)
{
	uint16_t a;
	struct i2c_bus *b = check_dev(L, &a);
	uint8_t reg = check_reg(L, 2);
	int n = lua_isnoneornil(L, 3) ? 1 : check_len(L, 3);
	uint8_t *buf = lua_newuserdatauv(L, (size_t)n, 0);
	return done(L, b, b->ops->read_reg(b, a, reg, buf, (uint16_t)n), buf, n);
}

static int l_write_reg(lua_State *L)
{
	uint16_t a;
	size_t n;
	struct i2c_bus *b = check_dev(L, &a);
	uint8_t reg = check_reg(L, 2);
	const char *s;
	char byte;
	if (lua_type(L, 3) == LUA_TNUMBER) {        /* one byte given as a number */
		lua_Integer v = luaL_checkinteger(L, 3);
		luaL_argcheck(L, v >= 0 && v <= 255, 3, "byte 0..255 expected");
		byte = (char)v;
		s = &byte;
		n = 1;
	} else {
		s = luaL_checklstring(L, 3, &n);
	}
	luaL_argcheck(L, n <= 32, 3, "at most 32 bytes to a register");
	return done(L, b, b->ops->write_reg(b, a, reg, (const uint8_t *)s, (uint16_t)n), NULL, 0);
}

static int l_dev_transfer(lua_State *L)
{
	uint16_t a;
	struct i2c_bus *b = check_dev(L, &a);
	return do_transfer(L, b, 2, a);
}

static int l_tostring_dev(lua_State *L)
{
	struct li2c_dev *d = luaL_checkudata(L, 1, DEV_MT);
	lua_getiuservalue(L, 1, 1);
	struct li2c_bus *lb = lua_touserdata(L, -1);
	char addr[8];
	snprintf(addr, sizeof addr, "0x%02x", (unsigned)d->addr);
	lua_pushfstring(L, "lia.i2c.device (%s %s)", lb && lb->b ? lb->b->path : "closed bus", addr);
	return 1;
}

int luaopen_lia_i2c(lua_State *L)
{
	static const luaL_Reg bus_methods[] = {
		{ "device", l_device },
		{ "scan", l_scan },
		{ "transfer", l_bus_transfer },
		{ "info", l_bus_info },
		{ "close", l_bus_close },
		{ NULL, NULL }
	};
	static const luaL_Reg bus_meta[] = {
		{ "__gc", l_bus_close },
		{ "__close", l_bus_close },
		{ "__tostring", l_tostring_bus },
		{ NULL, NULL }
	};
	static const luaL_Reg dev_methods[] = {
		{ "read", l_read },
		{ "write", l_write },
		{ "read_reg", l_read_reg },
		{ "write_reg", l_write_reg },
		{ "transfer", l_dev_transfer },
		{ NULL, NULL }
	};
	static const luaL_Reg dev_meta[] = {
		{ "__tostring", l_tostring_dev },
		{ NULL, NULL }
	};
	static const luaL_Reg funcs[] = {
		{ "open", l_open },
		{ NULL, NULL }
	};
	host_class(L, BUS_MT, bus_meta, bus_methods);
	host_class(L, DEV_MT, dev_meta, dev_methods);
	luaL_newlib(L, funcs);
	return 1;
}
