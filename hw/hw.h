/*
 * hw.h - what every device kind shares: the error kept per handle and the
 * backend (a set of ops tables) chosen at run time by `lia run --hw`.
 *
 * c-periphery's shape: an opaque handle per open device, open/close,
 * read/write, fd() for the loop, and errno + message kept per handle.
 * Backends are tables of function pointers (mongoose-style driver tables):
 * "linux" talks to the kernel, "sim" is a test instrument (gpio_sim.c, serial_sim.c, i2c_sim.c).
 */
#ifndef LIA_HW_H
#define LIA_HW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The last error: code is a positive errno (0: none), msg one line that
 * names the device ("gpiochip9: no such device"). */
struct hw_error {
	int code;
	char msg[192];
};

struct gpio_ops;
struct serial_ops;
struct i2c_ops;

struct hw_backend {
	const char *name;
	const struct gpio_ops *gpio;
	const struct serial_ops *serial;
	const struct i2c_ops *i2c;
};

/* Select the backend by name ("linux", "sim"); -1 when unknown. The
 * default is "linux". One backend per process. */
int hw_select(const char *name);
const struct hw_backend *hw_get(void);
bool hw_is_sim(void);

/* Fill e: code = err (a positive errno), msg = "<dev>: <fmt...>" or, with
 * fmt NULL, "<dev>: <strerror(err) in lower case>". Returns -err. */
int hw_fail(struct hw_error *e, int err, const char *dev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "ENOENT" for ENOENT; "EIO" when unknown. */
const char *hw_errname(int err);

#endif
