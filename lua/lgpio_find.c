/*
 * lgpio_find.c - GPIO lines by name: gpio.line("GPIO17") and
 * gpio.line{ chip = "pinctrl-rp1", line = "GPIO17" } find a line by its
 * kernel name on any chip, or on the chip named by its gpiochipN name or
 * its label, so a script survives the Pi 5's other chip numbering (the
 * header pins are on "pinctrl-rp1", gpiochip4 or gpiochip0 depending on
 * the kernel) and the kernel renumbering chips. The answer says who holds
 * the line (its consumer string) when it is in use.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lgpio.h"
#include "hw/hw.h"

#define MAX_CHIPS 64
#define MAX_LINES 512

bool lgpio_chip_by_label(const char *label, char out[GPIO_NAME_MAX])
{
	struct gpio_chip_info info[MAX_CHIPS];
	struct hw_error e = { 0 };
	int n = hw_get()->gpio->chips(info, MAX_CHIPS, &e);
	for (int i = 0; i < n; i++) {
		if (strcmp(info[i].label, label) == 0) {
			memcpy(out, info[i].name, GPIO_NAME_MAX);
			return true;
		}
	}
	return false;
}

/* Does chip i match the chip asked for (NULL: any)? By name or label. */
static bool chip_matches(const struct gpio_chip_info *c, const char *want)
{
	char n[GPIO_NAME_MAX];
	if (!want)
		return true;
	if (gpio_chip_name(want, n) && strcmp(n, c->name) == 0)
		return true;
	return strcmp(c->label, want) == 0;
}

static void push_info(lua_State *L, const struct gpio_chip_info *c, const struct gpio_line_info *l)
{
	lua_createtable(L, 0, 8);
	lua_pushstring(L, c->name);
	lua_setfield(L, -2, "chip");
	lua_pushstring(L, c->label);
	lua_setfield(L, -2, "label");
	lua_pushinteger(L, l->offset);
	lua_setfield(L, -2, "line");
	lua_pushstring(L, l->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, l->consumer);
	lua_setfield(L, -2, "consumer");
	lua_pushboolean(L, l->used);
	lua_setfield(L, -2, "used");
	lua_pushstring(L, l->output ? "output" : "input");
	lua_setfield(L, -2, "direction");
	lua_pushboolean(L, l->active_low);
	lua_setfield(L, -2, "active_low");
}

static int not_found(lua_State *L, const char *chip, const char *name, int off, bool chip_seen)
{
	lua_pushnil(L);
	if (chip && !chip_seen)
		lua_pushfstring(L, "%s: no such chip (neither a gpiochip name nor a label)", chip);
	else if (name)
		lua_pushfstring(L, "%s%s%s: no such line", chip ? chip : "", chip ? ":" : "", name);
	else
		lua_pushfstring(L, "%s: no line %d", chip, off);
	lua_pushliteral(L, "ENODEV");
	return 3;
}

int lgpio_l_line(lua_State *L)
{
	static struct gpio_line_info lines[MAX_LINES];     /* single-threaded */
	struct gpio_chip_info chips[MAX_CHIPS];
	struct hw_error e = { 0 };
	const char *chip = NULL, *name = NULL;
	int off = -1;
	if (lua_type(L, 1) == LUA_TSTRING) {
		name = lua_tostring(L, 1);
	} else {
		luaL_argexpected(L, lua_istable(L, 1), 1, "line name or { chip, line }");
		lua_getfield(L, 1, "chip");
		chip = lua_type(L, -1) == LUA_TNUMBER
			? lua_pushfstring(L, "gpiochip%d", (int)lua_tointeger(L, -1)) : luaL_optstring(L, -1, NULL);
		lua_getfield(L, 1, "line");
		if (lua_type(L, -1) == LUA_TNUMBER)
			off = (int)luaL_checkinteger(L, -1);
		else
			name = luaL_checkstring(L, -1);
		luaL_argcheck(L, name || chip, 1, "a line offset needs a chip");
	}
	int n = hw_get()->gpio->chips(chips, MAX_CHIPS, &e);
	bool chip_seen = false;
	for (int i = 0; i < n; i++) {
		if (!chip_matches(&chips[i], chip))
			continue;
		chip_seen = true;
		int k = hw_get()->gpio->lines(chips[i].name, lines, MAX_LINES, &e);
		for (int j = 0; j < k; j++) {
			if (name ? strcmp(lines[j].name, name) == 0 : (int)lines[j].offset == off) {
				push_info(L, &chips[i], &lines[j]);
				return 1;
			}
		}
	}
	return not_found(L, chip, name, off, chip_seen);
}
