/*
 * lgpio.h - what lia.gpio's files share (lgpio.c: lines and events;
 * lgpio_find.c: finding chips by label and lines by name).
 */
#ifndef LIA_LGPIO_H
#define LIA_LGPIO_H

#include <stdbool.h>

#include "hw/gpio.h"

struct lua_State;

/* The chip ("gpiochip4") whose label is label ("pinctrl-rp1"), on the
 * backend in use: true and out filled, or false. */
bool lgpio_chip_by_label(const char *label, char out[GPIO_NAME_MAX]);
/* gpio.line(name | { chip, line }) -> { chip, label, line, name, consumer,
 * used, direction, active_low } | nil, message, code */
int lgpio_l_line(struct lua_State *L);

#endif
