/*
 * sim.h - the instrument side of the simulated backend (lia run --hw sim):
 * what lua/lsim.c (require "lia.sim") uses to create simulated devices,
 * drive their inputs and look at what the script did to them. The script
 * side is the ordinary ops tables (gpio_sim_ops, ...).
 *
 * Simulated events reach the script the way real ones do: through an fd
 * the loop watches (an eventfd per GPIO request, a pty per serial port).
 * State lives for the whole process; names are copied.
 */
#ifndef LIA_SIM_H
#define LIA_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hw.h"

/* ---- GPIO: chips of named lines ---- */

/* A chip with nlines lines named names[i] (NULL or names NULL: "GPIOi").
 * "gpiochip0" (32 lines GPIO0..GPIO31, label "lia-sim") exists from the
 * start. 0, -EEXIST, -EINVAL or -ENOMEM. */
int gpio_sim_add_chip(const char *chip, const char *label, unsigned nlines,
	const char *const *names);
/* Find a line: by offset, or by name when offset < 0 (chip NULL: any
 * chip). Fills chip_out (GPIO_NAME_MAX bytes) and *off; -ENODEV. */
int gpio_sim_find(const char *chip, int offset, const char *name, char *chip_out,
	unsigned *off);
/* Drive an input's physical level (0, 1; -1 lets it float to its bias)
 * at time ns (0: now). An edge the script asked for becomes an event. */
int gpio_sim_set(const char *chip, unsigned off, int level, uint64_t ns);
/* The physical level now (an output's driven value, an input's level). */
int gpio_sim_get(const char *chip, unsigned off);
/* Physical levels the script wrote to an output, oldest first. */
struct gpio_sim_write {
	int level;
	uint64_t ns;
};
int gpio_sim_writes(const char *chip, unsigned off, const struct gpio_sim_write **w,
	size_t *n);
/* 1 while the script holds the line, 0 when free; -ENODEV. */
int gpio_sim_requested(const char *chip, unsigned off);

/* ---- serial: one pseudo-terminal per port ---- */

struct serial_sim_opts {
	int vid, pid;           /* -1: not USB */
	const char *description, *manufacturer, *product, *serial;
	bool attach;            /* a person attaches a terminal: never read the pty */
};
/* Create the port `path` (the name scripts open) on a new pty; its slave
 * path goes into pty (64 bytes) and is logged. 0 or -errno with e. */
int serial_sim_add(const char *path, const struct serial_sim_opts *o, char *pty,
	struct hw_error *e);
bool serial_sim_exists(const char *path);
const char *serial_sim_pty(const char *path);
/* Bytes for the script to read; -errno. */
ssize_t serial_sim_feed(const char *path, const void *buf, size_t n);
/* The device side: readable when the script wrote. -1 when no port. */
int serial_sim_peer_fd(const char *path);
/* Read what the script wrote since the last call into the log; returns the
 * new bytes (*n of them, valid until the next call) or NULL. */
const char *serial_sim_drain(const char *path, size_t *n);
/* Everything the script wrote (after serial_sim_drain); clear empties it. */
const char *serial_sim_written(const char *path, size_t *n, bool clear);

/* ---- I2C: buses of devices with a register map and an optional hook ---- */

struct i2c_sim_dev;
/* A hook sees every message to its device first: return 1 to let the
 * register map handle it, 0 when done (a read filled buf), -errno to fail
 * it (-ENXIO: NACK). */
typedef int i2c_sim_hook_fn(void *ud, bool read, uint8_t *buf, uint16_t len, uint8_t ptr);

/* The device at addr on bus (created, with the bus, if absent); NULL on a
 * bad bus name or out of memory. */
struct i2c_sim_dev *i2c_sim_device(const char *bus, uint16_t addr);
/* An existing device or NULL. */
struct i2c_sim_dev *i2c_sim_find(const char *bus, uint16_t addr);
/* Register contents (up to 32 bytes each); reading a register returns its
 * bytes, zero-padded. */
int i2c_sim_set_reg(struct i2c_sim_dev *d, uint8_t reg, const void *v, size_t n);
size_t i2c_sim_get_reg(struct i2c_sim_dev *d, uint8_t reg, uint8_t out[32]);
/* NACK the next n messages (n < 0: every message until set to 0). */
void i2c_sim_nack(struct i2c_sim_dev *d, int n);
/* Each message takes delay_ms; beyond the bus timeout it fails ETIMEDOUT. */
void i2c_sim_delay(struct i2c_sim_dev *d, unsigned delay_ms);
void i2c_sim_hook(struct i2c_sim_dev *d, i2c_sim_hook_fn *fn, void *ud);
/* Messages the device acknowledged (reads and writes). */
unsigned long i2c_sim_count(const struct i2c_sim_dev *d);
/* A bus with no devices yet ("/dev/i2c-1" exists from the start). */
int i2c_sim_add_bus(const char *bus);

#endif
