/*
 * i2c_linux.c - I2C through /dev/i2c-N. I2C_FUNCS tells what the adapter
 * can do: plain I2C adapters get I2C_RDWR (combined messages, repeated
 * starts); SMBus-only ones (many SoC and USB adapters, and i2c-stub) get
 * the SMBus ioctl that matches each call, and combined transfers fail
 * with EOPNOTSUPP. The kernel's adapter timeout (I2C_TIMEOUT) bounds how
 * long a transfer may stall the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "i2c.h"
#include "xalloc.h"

struct ilinux {
	struct i2c_bus head;
	int fd;
	unsigned long funcs;
};

bool i2c_bus_path(const char *in, char out[64])
{
	const char *p = in;
	char *end;
	if (strncmp(p, "/dev/", 5) == 0)
		p += 5;
	if (strncmp(p, "i2c-", 4) == 0)
		p += 4;
	if (!*p || *p == '-' || *p == '+')
		return false;
	unsigned long n = strtoul(p, &end, 10);
	if (*end || n > 9999)
		return false;
	snprintf(out, 64, "/dev/i2c-%lu", n);
	return true;
}

/* A failed transfer: NACKs come back as ENXIO, EREMOTEIO or ENODEV
 * depending on the driver; report them all as ENXIO. */
static int xfer_fail(struct i2c_bus *b, uint16_t addr, int err)
{
	char dev[80];
	snprintf(dev, sizeof dev, "%s: 0x%02x", b->path, addr);
	if (err == ENXIO || err == EREMOTEIO || err == ENODEV)
		return hw_fail(&b->err, ENXIO, dev, "no acknowledge");
	if (err == ETIMEDOUT)
		return hw_fail(&b->err, ETIMEDOUT, dev, "timed out");
	if (err == EOPNOTSUPP)
		return hw_fail(&b->err, EOPNOTSUPP, dev, "not supported by this adapter");
	return hw_fail(&b->err, err, dev, NULL);
}

static int rdwr(struct i2c_bus *b, struct i2c_msg_desc *msgs, int n)
{
	struct ilinux *s = (struct ilinux *)b;
	struct i2c_msg m[8];
	if (n < 1 || n > 8)
		return hw_fail(&b->err, EINVAL, b->path, "1 to 8 messages in a transfer");
	for (int i = 0; i < n; i++)
		m[i] = (struct i2c_msg){ .addr = msgs[i].addr, .flags = msgs[i].read ? I2C_M_RD : 0,
			.len = msgs[i].len, .buf = msgs[i].buf };
	struct i2c_rdwr_ioctl_data d = { m, (unsigned)n };
	if (ioctl(s->fd, I2C_RDWR, &d) < 0)
		return xfer_fail(b, msgs[0].addr, errno);
	return 0;
}

static int smbus(struct i2c_bus *b, uint16_t addr, char rw, uint8_t cmd, int size,
	union i2c_smbus_data *data)
{
	struct ilinux *s = (struct ilinux *)b;
	struct i2c_smbus_ioctl_data a = { .read_write = rw, .command = cmd, .size = (uint32_t)size,
		.data = data };
	if (ioctl(s->fd, I2C_SLAVE, addr) < 0) {
		char dev[80];
		snprintf(dev, sizeof dev, "%s: 0x%02x", b->path, addr);
		return hw_fail(&b->err, errno, dev, errno == EBUSY ? "claimed by a kernel driver" : NULL);
	}
	if (ioctl(s->fd, I2C_SMBUS, &a) < 0)
		return xfer_fail(b, addr, errno);
	return 0;
}

static int unsupported(struct i2c_bus *b, uint16_t addr)
{
	return xfer_fail(b, addr, EOPNOTSUPP);
}

static int linux_read(struct i2c_bus *b, uint16_t addr, uint8_t *buf, uint16_t len)
{
	union i2c_smbus_data d;
	if (b->plain_i2c) {
		struct i2c_msg_desc m = { addr, true, len, buf };
		return rdwr(b, &m, 1);
	}
	if (len != 1)
		return unsupported(b, addr);
	int r = smbus(b, addr, I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d);
	if (r == 0)
		buf[0] = d.byte;
	return r;
}

static int linux_write_reg(struct i2c_bus *b, uint16_t addr, uint8_t reg, const uint8_t *buf,
	uint16_t len);

static int linux_write(struct i2c_bus *b, uint16_t addr, const uint8_t *buf, uint16_t len)
{
	if (b->plain_i2c) {
		struct i2c_msg_desc m = { addr, false, len, (uint8_t *)buf };
		return rdwr(b, &m, 1);
	}
	if (len == 0)
		return smbus(b, addr, I2C_SMBUS_WRITE, 0, I2C_SMBUS_QUICK, NULL);
	return linux_write_reg(b, addr, buf[0], buf + 1, (uint16_t)(len - 1));
}

static int linux_read_reg(struct i2c_bus *b, uint16_t addr, uint8_t reg, uint8_t *buf,
	uint16_t len)
{
	union i2c_smbus_data d;
	int r;
	if (b->plain_i2c) {
		struct i2c_msg_desc m[2] = { { addr, false, 1, &reg }, { addr, true, len, buf } };
		return rdwr(b, m, 2);
	}
	if (len == 0 || len > I2C_SMBUS_BLOCK_MAX)
		return unsupported(b, addr);
	if (len == 1) {
		if ((r = smbus(b, addr, I2C_SMBUS_READ, reg, I2C_SMBUS_BYTE_DATA, &d)) == 0)
			buf[0] = d.byte;
	} else if (len == 2) {
		if ((r = smbus(b, addr, I2C_SMBUS_READ, reg, I2C_SMBUS_WORD_DATA, &d)) == 0) {
			buf[0] = (uint8_t)(d.word & 0xff);      /* SMBus words: first byte low */
			buf[1] = (uint8_t)(d.word >> 8);
		}
	} else {
		d.block[0] = (uint8_t)len;
		if ((r = smbus(b, addr, I2C_SMBUS_READ, reg, I2C_SMBUS_I2C_BLOCK_DATA, &d)) == 0)
			memcpy(buf, d.block + 1, len);
	}
	return r;
}

static int linux_write_reg(struct i2c_bus *b, uint16_t addr, uint8_t reg, const uint8_t *buf,
	uint16_t len)
{
	union i2c_smbus_data d;
	if (b->plain_i2c) {
		uint8_t tmp[1 + 64];
		if (len > 64)
			return hw_fail(&b->err, EINVAL, b->path, "at most 64 bytes to a register");
		tmp[0] = reg;
		memcpy(tmp + 1, buf, len);
		struct i2c_msg_desc m = { addr, false, (uint16_t)(len + 1), tmp };
		return rdwr(b, &m, 1);
	}
	if (len == 0)
		return smbus(b, addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_BYTE, NULL);
	if (len == 1) {
		d.byte = buf[0];
		return smbus(b, addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_BYTE_DATA, &d);
	}
	if (len == 2) {
		d.word = (uint16_t)(buf[0] | buf[1] << 8);
		return smbus(b, addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_WORD_DATA, &d);
	}
	if (len > I2C_SMBUS_BLOCK_MAX)
		return unsupported(b, addr);
	d.block[0] = (uint8_t)len;
	memcpy(d.block + 1, buf, len);
	return smbus(b, addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_I2C_BLOCK_DATA, &d);
}

static int linux_transfer(struct i2c_bus *b, struct i2c_msg_desc *msgs, int n)
{
	if (!b->plain_i2c)
		return unsupported(b, n > 0 ? msgs[0].addr : 0);
	return rdwr(b, msgs, n);
}

/* As i2cdetect: a quick write where the adapter can, else a byte read. */
static int linux_probe(struct i2c_bus *b, uint16_t addr)
{
	struct ilinux *s = (struct ilinux *)b;
	union i2c_smbus_data d;
	if (s->funcs & I2C_FUNC_SMBUS_QUICK)
		return smbus(b, addr, I2C_SMBUS_WRITE, 0, I2C_SMBUS_QUICK, NULL);
	if (s->funcs & I2C_FUNC_SMBUS_READ_BYTE)
		return smbus(b, addr, I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d);
	uint8_t byte;
	struct i2c_msg_desc m = { addr, true, 1, &byte };
	return rdwr(b, &m, 1);
}

static struct i2c_bus *linux_open(const char *name, int timeout_ms, struct hw_error *e)
{
	char path[64];
	int fd;
	if (!i2c_bus_path(name, path)) {
		hw_fail(e, ENODEV, name, "no such device");
		return NULL;
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		hw_fail(e, errno == ENOENT ? ENODEV : errno, path,
			errno == ENOENT ? "no such device" : NULL);
		return NULL;
	}
	struct ilinux *s = xcalloc(1, sizeof *s);
	if (!s) {
		close(fd);
		hw_fail(e, ENOMEM, path, NULL);
		return NULL;
	}
	if (ioctl(fd, I2C_FUNCS, &s->funcs) < 0)
		s->funcs = 0;
	ioctl(fd, I2C_TIMEOUT, (unsigned long)(timeout_ms + 9) / 10);   /* units of 10 ms */
	s->head.ops = &i2c_linux_ops;
	s->head.plain_i2c = (s->funcs & I2C_FUNC_I2C) != 0;
	snprintf(s->head.path, sizeof s->head.path, "%s", path);
	s->fd = fd;
	return &s->head;
}

static void linux_close(struct i2c_bus *b)
{
	close(((struct ilinux *)b)->fd);
	xfree(b);
}

const struct i2c_ops i2c_linux_ops = {
	.open = linux_open,
	.close = linux_close,
	.read = linux_read,
	.write = linux_write,
	.read_reg = linux_read_reg,
	.write_reg = linux_write_reg,
	.transfer = linux_transfer,
	.probe = linux_probe,
};
