/*
 * hw.c - the backend in use and the shared error helpers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hw.h"
#include "gpio.h"
#include "i2c.h"
#include "serial.h"

static const struct hw_backend backends[] = {
	{ "linux", &gpio_linux_ops, &serial_linux_ops, &i2c_linux_ops },
	{ "sim", &gpio_sim_ops, &serial_sim_ops, &i2c_sim_ops },
};

static const struct hw_backend *current = &backends[0];

int hw_select(const char *name)
{
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		if (strcmp(backends[i].name, name) == 0) {
			current = &backends[i];
			return 0;
		}
	}
	return -1;
}

const struct hw_backend *hw_get(void)
{
	return current;
}

bool hw_is_sim(void)
{
	return current == &backends[1];
}

int hw_fail(struct hw_error *e, int err, const char *dev, const char *fmt, ...)
{
	char what[160];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(what, sizeof what, fmt, ap);
		va_end(ap);
	} else {
		snprintf(what, sizeof what, "%s", strerror(err));
		what[0] = (char)tolower((unsigned char)what[0]);
	}
	e->code = err;
	snprintf(e->msg, sizeof e->msg, "%s: %s", dev, what);
	return -err;
}

const char *hw_errname(int err)
{
	const char *n = strerrorname_np(err);
	return n ? n : "EIO";
}
