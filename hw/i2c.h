/*
 * i2c.h - I2C buses: the ops table of a backend (i2c_linux.c: /dev/i2c-N,
 * I2C_RDWR or SMBus ioctls by what the adapter can do; i2c_sim.c: devices
 * modelled by register maps or Lua functions).
 *
 * Transfers are short and synchronous, like the kernel's: the adapter's
 * timeout (I2C_TIMEOUT, a bus option) bounds how long the loop stalls.
 * Errors: ENXIO for a NACK, ETIMEDOUT, EOPNOTSUPP when the adapter cannot
 * do it (an SMBus-only adapter asked for a combined transfer).
 */
#ifndef LIA_I2C_H
#define LIA_I2C_H

#include <stdint.h>

#include "hw.h"

struct i2c_msg_desc {
	uint16_t addr;
	bool read;
	uint16_t len;
	uint8_t *buf;           /* len bytes: written, or filled by a read */
};

struct i2c_bus {
	const struct i2c_ops *ops;
	char path[64];          /* "/dev/i2c-1" */
	bool plain_i2c;         /* combined transfers (I2C_RDWR) work */
	struct hw_error err;
};

struct i2c_ops {
	/* The bus, or NULL with e filled (ENODEV: no such bus). */
	struct i2c_bus *(*open)(const char *path, int timeout_ms, struct hw_error *e);
	void (*close)(struct i2c_bus *b);
	/* Each returns 0 or -errno with b->err filled. */
	int (*read)(struct i2c_bus *b, uint16_t addr, uint8_t *buf, uint16_t len);
	int (*write)(struct i2c_bus *b, uint16_t addr, const uint8_t *buf, uint16_t len);
	int (*read_reg)(struct i2c_bus *b, uint16_t addr, uint8_t reg, uint8_t *buf, uint16_t len);
	int (*write_reg)(struct i2c_bus *b, uint16_t addr, uint8_t reg, const uint8_t *buf,
		uint16_t len);
	/* Combined messages with repeated starts. */
	int (*transfer)(struct i2c_bus *b, struct i2c_msg_desc *msgs, int n);
	/* 0 when a device acknowledges addr, -ENXIO when none does. */
	int (*probe)(struct i2c_bus *b, uint16_t addr);
};

extern const struct i2c_ops i2c_linux_ops;
extern const struct i2c_ops i2c_sim_ops;

/* "/dev/i2c-1" for "/dev/i2c-1", "i2c-1" and "1"; false otherwise. */
bool i2c_bus_path(const char *in, char out[64]);

#endif
