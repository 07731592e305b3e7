/*
 * gpio_linux.c - GPIO through the Linux character device, uAPI v2
 * (linux/gpio.h: GPIO_V2_GET_LINE_IOCTL and friends). Never sysfs.
 *
 * Each handle is one line request: its fd carries the edge events with the
 * kernel's timestamps (CLOCK_MONOTONIC) and sequence numbers. Debounce is
 * asked of the kernel (which falls back to its own software debounce when
 * the chip has none); kernels that refuse it leave it to the caller.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "gpio.h"
#include "xalloc.h"

struct glinux {
	struct gpio_line head;
	int fd;                 /* the line request */
};

bool gpio_chip_name(const char *in, char out[GPIO_NAME_MAX])
{
	const char *p = in;
	char *end;
	if (strncmp(p, "/dev/", 5) == 0)
		p += 5;
	if (strncmp(p, "gpiochip", 8) == 0)
		p += 8;
	if (!*p || *p == '-' || *p == '+')
		return false;
	unsigned long n = strtoul(p, &end, 10);
	if (*end || n > 9999)
		return false;
	snprintf(out, GPIO_NAME_MAX, "gpiochip%lu", n);
	return true;
}

/* Open /dev/<chip>; -ENODEV when there is no such chip. */
static int chip_open(const char *chip, struct hw_error *e)
{
	char path[64];
	snprintf(path, sizeof path, "/dev/%s", chip);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENXIO || errno == ENODEV))
		return hw_fail(e, ENODEV, chip, "no such device");
	if (fd < 0)
		return hw_fail(e, errno, chip, NULL);
	return fd;
}

static int chip_lines(int fd, unsigned *n)
{
	struct gpiochip_info ci;
	memset(&ci, 0, sizeof ci);
	if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &ci) < 0)
		return -errno;
	*n = ci.lines;
	return 0;
}

static int line_info(int fd, unsigned off, struct gpio_v2_line_info *li)
{
	memset(li, 0, sizeof *li);
	li->offset = off;
	return ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, li) < 0 ? -errno : 0;
}

/* The chip names under /dev, sorted; the count. */
static int list_chips(char names[][GPIO_NAME_MAX], int max)
{
	DIR *d = opendir("/dev");
	struct dirent *de;
	int n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char nm[GPIO_NAME_MAX];
		if (strncmp(de->d_name, "gpiochip", 8) == 0 && gpio_chip_name(de->d_name, nm))
			snprintf(names[n++], GPIO_NAME_MAX, "%s", nm);
	}
	closedir(d);
	for (int i = 1; i < n; i++) {           /* by number: gpiochip2 before gpiochip10 */
		for (int j = i; j > 0 && atoi(names[j] + 8) < atoi(names[j - 1] + 8); j--) {
			char t[GPIO_NAME_MAX];
			memcpy(t, names[j], sizeof t);
			memcpy(names[j], names[j - 1], sizeof t);
			memcpy(names[j - 1], t, sizeof t);
		}
	}
	return n;
}

/* Find the chip and offset of a line; chip_fd is left open on success. */
static int resolve(const struct gpio_config *c, char chip[GPIO_NAME_MAX], unsigned *off,
	struct hw_error *e)
{
	char names[64][GPIO_NAME_MAX];
	int n = 1, fd;
	if (c->chip && !gpio_chip_name(c->chip, chip))
		return hw_fail(e, ENODEV, c->chip, "no such device");
	if (c->chip)
		snprintf(names[0], GPIO_NAME_MAX, "%s", chip);
	else
		n = list_chips(names, 64);
	for (int i = 0; i < n; i++) {
		unsigned lines = 0;
		if ((fd = chip_open(names[i], e)) < 0) {
			if (c->chip)
				return fd;
			continue;
		}
		if (chip_lines(fd, &lines) < 0) {
			close(fd);
			continue;
		}
		for (unsigned k = 0; k < lines; k++) {
			struct gpio_v2_line_info li;
			bool hit = c->offset >= 0 ? (unsigned)c->offset == k
				: (line_info(fd, k, &li) == 0 && strcmp(li.name, c->name) == 0);
			if (hit) {
				memcpy(chip, names[i], GPIO_NAME_MAX);
				*off = k;
				return fd;
			}
		}
		close(fd);
	}
	if (c->offset >= 0)
		return hw_fail(e, ENODEV, chip, "no line %d", c->offset);
	return hw_fail(e, ENODEV, c->name ? c->name : "?", "no such line");
}

static uint64_t flags_of(const struct gpio_config *c)
{
	static const uint64_t bias[] = { 0, GPIO_V2_LINE_FLAG_BIAS_DISABLED,
		GPIO_V2_LINE_FLAG_BIAS_PULL_UP, GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN };
	static const uint64_t drive[] = { 0, GPIO_V2_LINE_FLAG_OPEN_DRAIN,
		GPIO_V2_LINE_FLAG_OPEN_SOURCE };
	uint64_t f = c->active_low ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0;
	f |= bias[c->bias];
	if (c->output)
		return f | GPIO_V2_LINE_FLAG_OUTPUT | drive[c->drive];
	f |= GPIO_V2_LINE_FLAG_INPUT;
	if (c->edge & GPIO_EDGE_RISING)
		f |= GPIO_V2_LINE_FLAG_EDGE_RISING;
	if (c->edge & GPIO_EDGE_FALLING)
		f |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
	return f;
}

static int request(int chip_fd, const struct gpio_config *c, unsigned off, bool debounce)
{
	struct gpio_v2_line_request req;
	memset(&req, 0, sizeof req);
	req.offsets[0] = off;
	req.num_lines = 1;
	snprintf(req.consumer, sizeof req.consumer, "%s", c->consumer ? c->consumer : "lia");
	req.config.flags = flags_of(c);
	if (c->output) {
		struct gpio_v2_line_config_attribute *a = &req.config.attrs[req.config.num_attrs++];
		a->attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
		a->attr.values = c->initial ? 1 : 0;
		a->mask = 1;
	}
	if (debounce) {
		struct gpio_v2_line_config_attribute *a = &req.config.attrs[req.config.num_attrs++];
		a->attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
		a->attr.debounce_period_us = c->debounce_us;
		a->mask = 1;
	}
	if (ioctl(chip_fd, GPIO_V2_GET_LINE_IOCTL, &req) < 0)
		return -errno;
	return req.fd;
}

static struct gpio_line *linux_open(const struct gpio_config *c, struct hw_error *e)
{
	char chip[GPIO_NAME_MAX] = "";
	char dev[64];
	unsigned off = 0;
	int cfd = resolve(c, chip, &off, e), fd;
	if (cfd < 0)
		return NULL;
	bool debounce = !c->output && c->debounce_us > 0;
	fd = request(cfd, c, off, debounce);
	if (fd < 0 && debounce && (fd == -EINVAL || fd == -ENOTSUP || fd == -ENOTTY)) {
		debounce = false;       /* an old kernel: the caller debounces */
		fd = request(cfd, c, off, false);
	}
	struct gpio_v2_line_info li;
	int r = line_info(cfd, off, &li);
	close(cfd);
	snprintf(dev, sizeof dev, "%s:%u", chip, off);
	if (fd < 0 && fd == -EBUSY && r == 0 && li.consumer[0]) {
		hw_fail(e, EBUSY, dev, "line busy (held by \"%s\")", li.consumer);
		return NULL;
	}
	if (fd < 0) {
		hw_fail(e, -fd, dev, fd == -EBUSY ? "line busy" : NULL);
		return NULL;
	}
	struct glinux *g = xcalloc(1, sizeof *g);
	if (!g) {
		close(fd);
		hw_fail(e, ENOMEM, dev, NULL);
		return NULL;
	}
	g->head = (struct gpio_line){ .ops = &gpio_linux_ops, .offset = off, .output = c->output,
		.hw_debounce = debounce };
	snprintf(g->head.chip, GPIO_NAME_MAX, "%s", chip);
	if (r == 0)
		snprintf(g->head.name, GPIO_NAME_MAX, "%s", li.name);
	g->fd = fd;
	return &g->head;
}

static void linux_close(struct gpio_line *l)
{
	struct glinux *g = (struct glinux *)l;
	close(g->fd);
	xfree(g);
}

static int linux_read(struct gpio_line *l)
{
	struct glinux *g = (struct glinux *)l;
	struct gpio_v2_line_values v = { .mask = 1 };
	if (ioctl(g->fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v) < 0)
		return hw_fail(&l->err, errno, l->chip, NULL);
	return (int)(v.bits & 1);
}

static int linux_write(struct gpio_line *l, int value)
{
	struct glinux *g = (struct glinux *)l;
	struct gpio_v2_line_values v = { .bits = value ? 1 : 0, .mask = 1 };
	if (ioctl(g->fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v) < 0)
		return hw_fail(&l->err, errno, l->chip, NULL);
	return 0;
}

static int linux_fd(struct gpio_line *l)
{
	return l->output ? -1 : ((struct glinux *)l)->fd;
}

static int linux_events(struct gpio_line *l, struct gpio_event *ev, int max)
{
	struct glinux *g = (struct glinux *)l;
	struct gpio_v2_line_event buf[16];
	if (max > 16)
		max = 16;
	ssize_t r = read(g->fd, buf, sizeof buf[0] * (size_t)max);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r < 0)
		return hw_fail(&l->err, errno, l->chip, NULL);
	int n = (int)(r / (ssize_t)sizeof buf[0]);
	for (int i = 0; i < n; i++) {
		ev[i] = (struct gpio_event){
			.edge = buf[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE ? GPIO_EDGE_RISING
				: GPIO_EDGE_FALLING,
			.timestamp_ns = buf[i].timestamp_ns, .seqno = buf[i].seqno,
			.line_seqno = buf[i].line_seqno };
	}
	return n;
}

static int linux_chips(struct gpio_chip_info *out, int max, struct hw_error *e)
{
	char names[64][GPIO_NAME_MAX];
	int n = list_chips(names, max < 64 ? max : 64), k = 0;
	for (int i = 0; i < n; i++) {
		struct gpiochip_info ci;
		int fd = chip_open(names[i], e);
		if (fd < 0)
			continue;
		memset(&ci, 0, sizeof ci);
		if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &ci) == 0) {
			snprintf(out[k].name, GPIO_NAME_MAX, "%s", ci.name);
			snprintf(out[k].label, GPIO_NAME_MAX, "%s", ci.label);
			out[k++].lines = ci.lines;
		}
		close(fd);
	}
	return k;
}

static int linux_lines(const char *chip, struct gpio_line_info *out, int max, struct hw_error *e)
{
	char name[GPIO_NAME_MAX];
	unsigned lines = 0;
	int fd, n = 0;
	if (!gpio_chip_name(chip, name))
		return hw_fail(e, ENODEV, chip, "no such device");
	if ((fd = chip_open(name, e)) < 0)
		return fd;
	if (chip_lines(fd, &lines) < 0) {
		close(fd);
		return hw_fail(e, errno, name, NULL);
	}
	for (unsigned k = 0; k < lines && n < max; k++) {
		struct gpio_v2_line_info li;
		if (line_info(fd, k, &li) < 0)
			continue;
		out[n] = (struct gpio_line_info){ .offset = k,
			.used = (li.flags & GPIO_V2_LINE_FLAG_USED) != 0,
			.output = (li.flags & GPIO_V2_LINE_FLAG_OUTPUT) != 0,
			.active_low = (li.flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW) != 0 };
		snprintf(out[n].name, GPIO_NAME_MAX, "%s", li.name);
		snprintf(out[n++].consumer, GPIO_NAME_MAX, "%s", li.consumer);
	}
	close(fd);
	return n;
}

const struct gpio_ops gpio_linux_ops = {
	.open = linux_open,
	.close = linux_close,
	.read = linux_read,
	.write = linux_write,
	.fd = linux_fd,
	.events = linux_events,
	.chips = linux_chips,
	.lines = linux_lines,
};
