/*
 * i2c_sim.c - simulated I2C buses (lia run --hw sim). A device is a
 * register map with a pointer, as most sensors are: a write sets the
 * pointer from its first byte and stores the rest in that register; a read
 * returns the register the pointer names. A hook (a Lua model) may take
 * any message first. NACKs and delays are injected per device.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "i2c.h"
#include "sim.h"
#include "xalloc.h"

struct i2c_sim_dev {
	uint16_t addr;
	struct {
		uint8_t len;
		uint8_t v[32];
	} regs[256];
	uint8_t ptr;
	int nack;
	unsigned delay_ms;
	unsigned long count;
	i2c_sim_hook_fn *hook;
	void *hook_ud;
	struct i2c_sim_dev *next;
};

struct sim_bus {
	char path[64];
	struct i2c_sim_dev *devs;
	struct sim_bus *next;
};

struct isim {
	struct i2c_bus head;
	struct sim_bus *bus;
	int timeout_ms;
};

static struct sim_bus *buses;
static bool defaults_made;

static struct sim_bus *bus_find(const char *name)
{
	char path[64];
	if (!defaults_made) {
		defaults_made = true;
		i2c_sim_add_bus("/dev/i2c-1");
	}
	if (!i2c_bus_path(name, path))
		return NULL;
	for (struct sim_bus *b = buses; b; b = b->next)
		if (strcmp(b->path, path) == 0)
			return b;
	return NULL;
}

int i2c_sim_add_bus(const char *name)
{
	char path[64];
	if (!i2c_bus_path(name, path))
		return -EINVAL;
	if (bus_find(path))
		return 0;
	struct sim_bus *b = xcalloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	snprintf(b->path, sizeof b->path, "%s", path);
	b->next = buses;
	buses = b;
	return 0;
}

struct i2c_sim_dev *i2c_sim_find(const char *bus, uint16_t addr)
{
	struct sim_bus *b = bus_find(bus);
	for (struct i2c_sim_dev *d = b ? b->devs : NULL; d; d = d->next)
		if (d->addr == addr)
			return d;
	return NULL;
}

struct i2c_sim_dev *i2c_sim_device(const char *bus, uint16_t addr)
{
	struct i2c_sim_dev *d = i2c_sim_find(bus, addr);
	if (d)
		return d;
	if (i2c_sim_add_bus(bus) < 0)
		return NULL;
	struct sim_bus *b = bus_find(bus);
	if (!b || !(d = xcalloc(1, sizeof *d)))
		return NULL;
	d->addr = addr;
	d->next = b->devs;
	b->devs = d;
	return d;
}

int i2c_sim_set_reg(struct i2c_sim_dev *d, uint8_t reg, const void *v, size_t n)
{
	if (n > sizeof d->regs[0].v)
		return -EINVAL;
	memcpy(d->regs[reg].v, v, n);
	d->regs[reg].len = (uint8_t)n;
	return 0;
}

size_t i2c_sim_get_reg(struct i2c_sim_dev *d, uint8_t reg, uint8_t out[32])
{
	memcpy(out, d->regs[reg].v, d->regs[reg].len);
	return d->regs[reg].len;
}

void i2c_sim_nack(struct i2c_sim_dev *d, int n)
{
	d->nack = n;
}

void i2c_sim_delay(struct i2c_sim_dev *d, unsigned delay_ms)
{
	d->delay_ms = delay_ms;
}

void i2c_sim_hook(struct i2c_sim_dev *d, i2c_sim_hook_fn *fn, void *ud)
{
	d->hook = fn;
	d->hook_ud = ud;
}

unsigned long i2c_sim_count(const struct i2c_sim_dev *d)
{
	return d->count;
}

/* ---- the ops: everything is a list of messages ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int one_msg(struct isim *s, struct i2c_msg_desc *m)
{
	struct i2c_bus *b = &s->head;
	struct i2c_sim_dev *d = i2c_sim_find(s->bus->path, m->addr);
	char dev[80];
	snprintf(dev, sizeof dev, "%s: 0x%02x", b->path, m->addr);
	if (!d)
		return hw_fail(&b->err, ENXIO, dev, "no acknowledge (no device)");
	if (d->nack) {
		if (d->nack > 0)
			d->nack--;
		return hw_fail(&b->err, ENXIO, dev, "no acknowledge");
	}
	if (d->delay_ms > (unsigned)s->timeout_ms) {
		sleep_ms((unsigned)s->timeout_ms);
		return hw_fail(&b->err, ETIMEDOUT, dev, "timed out after %d ms", s->timeout_ms);
	}
	if (d->delay_ms)
		sleep_ms(d->delay_ms);
	int r = d->hook ? d->hook(d->hook_ud, m->read, m->buf, m->len, d->ptr) : 1;
	if (r < 0)
		return hw_fail(&b->err, -r, dev, r == -ENXIO ? "no acknowledge" : NULL);
	d->count++;
	if (m->read && r == 1) {
		size_t have = d->regs[d->ptr].len;
		memset(m->buf, 0, m->len);
		memcpy(m->buf, d->regs[d->ptr].v, have < m->len ? have : m->len);
	} else if (!m->read && m->len > 0) {
		d->ptr = m->buf[0];
		if (r == 1 && m->len > 1)
			i2c_sim_set_reg(d, d->ptr, m->buf + 1,
				m->len - 1 > 32 ? 32 : (size_t)m->len - 1);
	}
	return 0;
}

static int sim_transfer(struct i2c_bus *b, struct i2c_msg_desc *msgs, int n)
{
	for (int i = 0; i < n; i++) {
		int r = one_msg((struct isim *)b, &msgs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static struct i2c_bus *sim_open(const char *path, int timeout_ms, struct hw_error *e)
{
	struct sim_bus *sb = bus_find(path);
	if (!sb) {
		hw_fail(e, ENODEV, path, "no such device");
		return NULL;
	}
	struct isim *s = xcalloc(1, sizeof *s);
	if (!s) {
		hw_fail(e, ENOMEM, path, NULL);
		return NULL;
	}
	s->head.ops = &i2c_sim_ops;
	s->head.plain_i2c = true;
	snprintf(s->head.path, sizeof s->head.path, "%s", sb->path);
	s->bus = sb;
	s->timeout_ms = timeout_ms;
	return &s->head;
}

static void sim_close(struct i2c_bus *b)
{
	xfree(b);
}

static int sim_read(struct i2c_bus *b, uint16_t addr, uint8_t *buf, uint16_t len)
{
	struct i2c_msg_desc m = { addr, true, len, buf };
	return sim_transfer(b, &m, 1);
}

static int sim_write(struct i2c_bus *b, uint16_t addr, const uint8_t *buf, uint16_t len)
{
	struct i2c_msg_desc m = { addr, false, len, (uint8_t *)buf };
	return sim_transfer(b, &m, 1);
}

static int sim_read_reg(struct i2c_bus *b, uint16_t addr, uint8_t reg, uint8_t *buf,
	uint16_t len)
{
	struct i2c_msg_desc m[2] = { { addr, false, 1, &reg }, { addr, true, len, buf } };
	return sim_transfer(b, m, 2);
}

static int sim_write_reg(struct i2c_bus *b, uint16_t addr, uint8_t reg, const uint8_t *buf,
	uint16_t len)
{
	uint8_t tmp[33];
	if (len > 32)
		return hw_fail(&b->err, EINVAL, b->path, "at most 32 bytes to a register");
	tmp[0] = reg;
	memcpy(tmp + 1, buf, len);
	return sim_write(b, addr, tmp, (uint16_t)(len + 1));
}

static int sim_probe(struct i2c_bus *b, uint16_t addr)
{
	struct isim *s = (struct isim *)b;
	struct i2c_sim_dev *d = i2c_sim_find(s->bus->path, addr);
	return d && d->nack == 0 ? 0 : -ENXIO;
}

const struct i2c_ops i2c_sim_ops = {
	.open = sim_open,
	.close = sim_close,
	.read = sim_read,
	.write = sim_write,
	.read_reg = sim_read_reg,
	.write_reg = sim_write_reg,
	.transfer = sim_transfer,
	.probe = sim_probe,
};
