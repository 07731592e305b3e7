/*
 * lgpio.c - require "lia.gpio": GPIO lines of the backend chosen by
 * lia run --hw (hw/gpio.h).
 *
 *   local led = gpio.output{ chip = "gpiochip0", line = 17, initial = 0 }
 *   local btn = gpio.input{ chip = "gpiochip0", line = "GPIO27", bias = "pull-up",
 *                           edge = "falling", debounce_ms = 20 }
 *   btn:on_edge(function(ev) ... end)   -- ev.edge, ev.timestamp_ns, ev.seqno, ev.line
 *
 * Edge events come from the line's fd through the loop; each runs the
 * handler in its own coroutine. Debounce is the kernel's when the backend
 * has it, else done here on the event timestamps (an edge counts only
 * after debounce_ms without edges). A rate limit (rate_limit events per
 * second, by timestamp) drops the excess of an edge storm and reports
 * the count in the next event delivered (ev.dropped).
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "hw/gpio.h"
#include "lgpio.h"
#include "log.h"
#include "loop.h"

#define LINE_MT "lia.gpio.line"
#define BATCH 64
#define DEFAULT_RATE 1000

struct lgpio {
	struct gpio_line *g;        /* NULL once closed */
	struct host *h;
	lua_State *L;               /* the main state */
	struct loop *loop;
	int ref;                    /* anchor while an edge handler is set */
	int fd;                     /* watched, or -1 */
	int value;                  /* an output's last value */
	int edge;
	uint64_t debounce_ns;       /* done here (the backend does not) */
	uint64_t last_ns;
	bool have_last;
	unsigned rate;
	uint64_t win_start;
	unsigned win_count;
	unsigned long dropped, dropped_total;
	struct gpio_event cur;      /* the event being delivered */
};

static int fail(lua_State *L, const struct hw_error *e)
{
	lua_pushnil(L);
	lua_pushstring(L, e->msg);
	lua_pushstring(L, hw_errname(e->code));
	return 3;
}

static struct lgpio *check_open(lua_State *L)
{
	struct lgpio *lg = luaL_checkudata(L, 1, LINE_MT);
	if (!lg->g)
		luaL_error(L, "attempt to use a closed GPIO line");
	return lg;
}

static void close_line(struct lgpio *lg)
{
	if (lg->fd >= 0) {
		loop_unwatch(lg->loop, lg->fd);
		lg->fd = -1;
	}
	if (lg->g) {
		lg->g->ops->close(lg->g);
		lg->g = NULL;
	}
	if (lg->L)
		host_unref(lg->L, &lg->ref);
}

/* ---- edge events ---- */

static bool pass(struct lgpio *lg, const struct gpio_event *ev)
{
	uint64_t ts = ev->timestamp_ns;
	if (lg->debounce_ns) {
		bool bounce = lg->have_last && ts - lg->last_ns < lg->debounce_ns;
		lg->last_ns = ts;
		lg->have_last = true;
		if (bounce)
			return false;
	}
	if (lg->rate) {
		if (lg->win_count == 0 || ts - lg->win_start >= 1000000000ull) {
			lg->win_start = ts;
			lg->win_count = 0;
		}
		if (lg->win_count >= lg->rate) {
			lg->dropped++;
			lg->dropped_total++;
			return false;
		}
		lg->win_count++;
	}
	return true;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static int push_edge(lua_State *L, void *ud)
{
	struct lgpio *lg = ud;
	host_push_ref(L, lg->ref);
	lua_getiuservalue(L, -1, 1);
	lua_remove(L, -2);
	lua_createtable(L, 0, 9);
	lua_pushstring(L, lg->cur.edge == GPIO_EDGE_RISING ? "rising" : "falling");
	lua_setfield(L, -2, "edge");
	set_int(L, "value", lg->cur.edge == GPIO_EDGE_RISING);
	set_int(L, "timestamp_ns", (lua_Integer)lg->cur.timestamp_ns);
	set_int(L, "seqno", lg->cur.seqno);
	set_int(L, "line_seqno", lg->cur.line_seqno);
	set_int(L, "line", lg->g->offset);
	lua_pushstring(L, lg->g->chip);
	lua_setfield(L, -2, "chip");
	lua_pushstring(L, lg->g->name);
	lua_setfield(L, -2, "name");
	if (lg->dropped)
		set_int(L, "dropped", (lua_Integer)lg->dropped);
	lg->dropped = 0;
	return 1;
}

static void readable(struct loop *l, int fd, int events, void *ud)
{
	struct lgpio *lg = ud;
	struct gpio_event ev[BATCH];
	lua_State *L = lg->L;
	int top = lua_gettop(L);
	(void)l;
	(void)fd;
	(void)events;
	int n = lg->g->ops->events(lg->g, ev, BATCH);
	if (n < 0) {
		log_error("gpio %s: %s; edge events stop", lg->g->name, lg->g->err.msg);
		loop_unwatch(lg->loop, lg->fd);
		lg->fd = -1;
		return;
	}
	host_push_ref(L, lg->ref);      /* alive while handlers run (one may close us) */
	for (int i = 0; i < n && lg->g && lg->ref != LUA_NOREF; i++) {
		if (!pass(lg, &ev[i]))
			continue;
		lg->cur = ev[i];
		host_spawn(lg->h, push_edge, lg);
	}
	lua_settop(L, top);
}

/* ---- opening ---- */

static int opt_int(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo,
	lua_Integer hi)
{
	lua_getfield(L, t, k);
	lua_Integer v = def;
	if (!lua_isnil(L, -1)) {
		int ok;
		v = lua_tointegerx(L, -1, &ok);
		if (!ok && lua_isboolean(L, -1))
			v = lua_toboolean(L, -1), ok = 1;
		if (!ok || v < lo || v > hi)
			luaL_error(L, "gpio: %s must be an integer in %d..%d", k, (int)lo, (int)hi);
	}
	lua_pop(L, 1);
	return (int)v;
}

static int opt_enum(lua_State *L, int t, const char *k, const char *def,
	const char *const names[])
{
	lua_getfield(L, t, k);
	const char *s = luaL_optstring(L, -1, def);
	for (int i = 0; names[i]; i++) {
		if (strcmp(names[i], s) == 0) {
			lua_pop(L, 1);
			return i;
		}
	}
	return luaL_error(L, "gpio: invalid %s '%s'", k, s);
}

static void parse_line(lua_State *L, struct gpio_config *c, char *chipbuf)
{
	lua_getfield(L, 1, "chip");
	if (lua_type(L, -1) == LUA_TNUMBER) {
		lua_Integer n = luaL_checkinteger(L, -1);
		luaL_argcheck(L, n >= 0 && n < 10000, 1, "chip number out of range");
		lua_pushfstring(L, "gpiochip%d", (int)n);
		memcpy(chipbuf, lua_tostring(L, -1), strlen(lua_tostring(L, -1)) + 1);
		lua_pop(L, 1);
		c->chip = chipbuf;
	} else if (!lua_isnil(L, -1)) {
		c->chip = luaL_checkstring(L, -1);
		if (!gpio_chip_name(c->chip, chipbuf) && lgpio_chip_by_label(c->chip, chipbuf))
			c->chip = chipbuf;      /* a label: "pinctrl-rp1" */
	}
	lua_pop(L, 1);              /* the string stays referenced by the table */
	lua_getfield(L, 1, "line");
	if (lua_type(L, -1) == LUA_TNUMBER) {
		lua_Integer n = luaL_checkinteger(L, -1);
		luaL_argcheck(L, n >= 0 && n < 65536, 1, "line offset out of range");
		luaL_argcheck(L, c->chip != NULL, 1, "a line offset needs a chip");
		c->offset = (int)n;
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		c->name = lua_tostring(L, -1);
	} else {
		luaL_argerror(L, 1, "line (an offset or a name) expected");
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "consumer");
	c->consumer = lua_tostring(L, -1);
	lua_pop(L, 1);
	c->active_low = opt_int(L, 1, "active_low", 0, 0, 1);
}

static int open_line(lua_State *L, bool output)
{
	static const char *const bias[] = { "as-is", "disable", "pull-up", "pull-down", NULL };
	static const char *const drive[] = { "push-pull", "open-drain", "open-source", NULL };
	static const char *const edge[] = { "none", "rising", "falling", "both", NULL };
	struct gpio_config c = { .offset = -1 };
	struct hw_error e = { 0 };
	char chipbuf[GPIO_NAME_MAX];
	luaL_checktype(L, 1, LUA_TTABLE);
	parse_line(L, &c, chipbuf);
	c.output = output;
	c.bias = opt_enum(L, 1, "bias", "as-is", bias);
	if (output) {
		c.initial = opt_int(L, 1, "initial", 0, 0, 1);
		c.drive = opt_enum(L, 1, "drive", "push-pull", drive);
	} else {
		c.edge = opt_enum(L, 1, "edge", "none", edge);
		c.debounce_us = (unsigned)opt_int(L, 1, "debounce_ms", 0, 0, 60000) * 1000;
	}
	int rate = output ? 0 : opt_int(L, 1, "rate_limit", DEFAULT_RATE, 0, 1000000);
	struct lgpio *lg = lua_newuserdatauv(L, sizeof *lg, 1);
	*lg = (struct lgpio){ .ref = LUA_NOREF, .fd = -1 };
	luaL_setmetatable(L, LINE_MT);
	lg->h = host_of(L);
	lg->loop = host_get_loop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	lg->L = lua_tothread(L, -1);
	lua_pop(L, 1);
	lg->g = hw_get()->gpio->open(&c, &e);
	if (!lg->g)
		return fail(L, &e);
	lg->value = c.initial;
	lg->edge = c.edge;
	lg->rate = (unsigned)rate;
	if (!lg->g->hw_debounce)
		lg->debounce_ns = (uint64_t)c.debounce_us * 1000;
	int fd = lg->g->ops->fd(lg->g);
	if (c.edge && fd >= 0) {
		int r = loop_watch(lg->loop, fd, LOOP_READ, readable, lg);
		if (r < 0) {
			close_line(lg);
			hw_fail(&e, -r, c.chip ? c.chip : "gpio", NULL);
			return fail(L, &e);
		}
		lg->fd = fd;
	}
	return 1;
}

static int l_output(lua_State *L)
{
	return open_line(L, true);
}

static int l_input(lua_State *L)
{
	return open_line(L, false);
}

/* ---- methods ---- */

static int check_value(lua_State *L, int idx)
{
	if (lua_isboolean(L, idx))
		return lua_toboolean(L, idx);
	lua_Integer v = luaL_checkinteger(L, idx);
	luaL_argcheck(L, v == 0 || v == 1, idx, "0 or 1 expected");
	return (int)v;
}

static int do_write(lua_State *L, struct lgpio *lg, int v)
{
	if (!lg->g->output)
		return luaL_error(L, "gpio %s:%d is an input", lg->g->chip, (int)lg->g->offset);
	if (lg->g->ops->write(lg->g, v) < 0)
		return fail(L, &lg->g->err);
	lg->value = v;
	lua_pushboolean(L, 1);
	return 1;
}

static int l_write(lua_State *L)
{
	struct lgpio *lg = check_open(L);
	return do_write(L, lg, check_value(L, 2));
}

static int l_toggle(lua_State *L)
{
	struct lgpio *lg = check_open(L);
	return do_write(L, lg, !lg->value);
}

static int l_read(lua_State *L)
{
	struct lgpio *lg = check_open(L);
	int v = lg->g->ops->read(lg->g);
	if (v < 0)
		return fail(L, &lg->g->err);
	lua_pushinteger(L, v);
	return 1;
}

static int l_on_edge(lua_State *L)
{
	struct lgpio *lg = check_open(L);
	if (!lua_isnil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	if (!lg->edge)
		return luaL_error(L, "gpio %s:%d: on_edge needs edge = \"rising\", \"falling\" "
			"or \"both\" when the line is opened", lg->g->chip, (int)lg->g->offset);
	lua_settop(L, 2);
	lua_pushvalue(L, 2);
	lua_setiuservalue(L, 1, 1);
	if (lua_isnil(L, 2))
		host_unref(L, &lg->ref);
	else if (lg->ref == LUA_NOREF)
		lg->ref = host_ref(L, 1);
	lua_settop(L, 1);
	return 1;
}

static int l_close(lua_State *L)
{
	close_line(luaL_checkudata(L, 1, LINE_MT));
	return 0;
}

static int l_info(lua_State *L)
{
	struct lgpio *lg = check_open(L);
	lua_createtable(L, 0, 8);
	lua_pushstring(L, lg->g->chip);
	lua_setfield(L, -2, "chip");
	set_int(L, "line", lg->g->offset);
	lua_pushstring(L, lg->g->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, lg->g->output ? "output" : "input");
	lua_setfield(L, -2, "direction");
	lua_pushstring(L, lg->g->hw_debounce ? "kernel" : lg->debounce_ns ? "lia" : "none");
	lua_setfield(L, -2, "debounce");
	set_int(L, "dropped", (lua_Integer)lg->dropped_total);
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct lgpio *lg = luaL_checkudata(L, 1, LINE_MT);
	if (!lg->g)
		lua_pushliteral(L, "lia.gpio.line (closed)");
	else
		lua_pushfstring(L, "lia.gpio.line (%s:%d%s%s %s)", lg->g->chip, (int)lg->g->offset,
			lg->g->name[0] ? " " : "", lg->g->name, lg->g->output ? "output" : "input");
	return 1;
}

/* ---- discovery ---- */

static int l_chips(lua_State *L)
{
	struct gpio_chip_info info[64];
	struct hw_error e = { 0 };
	int n = hw_get()->gpio->chips(info, 64, &e);
	if (n < 0)
		return fail(L, &e);
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_createtable(L, 0, 3);
		lua_pushstring(L, info[i].name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, info[i].label);
		lua_setfield(L, -2, "label");
		set_int(L, "lines", info[i].lines);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static int l_lines(lua_State *L)
{
	static struct gpio_line_info info[512];         /* single-threaded */
	struct hw_error e = { 0 };
	const char *chip = lua_type(L, 1) == LUA_TNUMBER
		? lua_pushfstring(L, "gpiochip%d", (int)luaL_checkinteger(L, 1)) : luaL_checkstring(L, 1);
	int n = hw_get()->gpio->lines(chip, info, 512, &e);
	if (n < 0)
		return fail(L, &e);
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_createtable(L, 0, 6);
		set_int(L, "line", info[i].offset);
		lua_pushstring(L, info[i].name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, info[i].consumer);
		lua_setfield(L, -2, "consumer");
		lua_pushboolean(L, info[i].used);
		lua_setfield(L, -2, "used");
		lua_pushstring(L, info[i].output ? "output" : "input");
		lua_setfield(L, -2, "direction");
		lua_pushboolean(L, info[i].active_low);
		lua_setfield(L, -2, "active_low");
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

int luaopen_lia_gpio(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "write", l_write },
		{ "toggle", l_toggle },
		{ "read", l_read },
		{ "on_edge", l_on_edge },
		{ "info", l_info },
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
		{ "output", l_output },
		{ "input", l_input },
		{ "chips", l_chips },
		{ "lines", l_lines },
		{ "line", lgpio_l_line },
		{ NULL, NULL }
	};
	host_class(L, LINE_MT, meta, methods);
	luaL_newlib(L, funcs);
	lua_pushstring(L, hw_get()->name);
	lua_setfield(L, -2, "backend");
	return 1;
}
