/*
 * gpio.h - GPIO lines: one handle per requested line, the ops table of a
 * backend (gpio_linux.c: the character device uAPI v2; gpio_sim.c: the
 * simulated chips of lia run --hw sim).
 *
 * A handle starts with struct gpio_line (backends embed it first). Edge
 * events are read from fd() when the loop says it is readable; a backend
 * never calls back on its own.
 */
#ifndef LIA_GPIO_H
#define LIA_GPIO_H

#include <stdint.h>

#include "hw.h"

enum gpio_bias { GPIO_BIAS_AS_IS, GPIO_BIAS_DISABLE, GPIO_BIAS_PULL_UP, GPIO_BIAS_PULL_DOWN };
enum gpio_drive { GPIO_DRIVE_PUSH_PULL, GPIO_DRIVE_OPEN_DRAIN, GPIO_DRIVE_OPEN_SOURCE };
#define GPIO_EDGE_RISING 1
#define GPIO_EDGE_FALLING 2
#define GPIO_EDGE_BOTH 3

#define GPIO_NAME_MAX 32

struct gpio_config {
	const char *chip;       /* "gpiochip0" or "/dev/gpiochip0"; NULL: every chip (by name) */
	int offset;             /* < 0: look the line up by name */
	const char *name;       /* line name ("GPIO17") when offset < 0 */
	const char *consumer;   /* shown by gpioinfo; NULL: "lia" */
	bool output;
	int initial;            /* outputs: 0 or 1 (logical) */
	bool active_low;
	enum gpio_drive drive;
	enum gpio_bias bias;
	int edge;               /* inputs: 0 or GPIO_EDGE_* */
	unsigned debounce_us;   /* asked of the kernel; see gpio_line.hw_debounce */
};

struct gpio_event {
	int edge;               /* GPIO_EDGE_RISING or GPIO_EDGE_FALLING (logical) */
	uint64_t timestamp_ns;  /* CLOCK_MONOTONIC */
	uint32_t seqno;         /* per request */
	uint32_t line_seqno;    /* per line */
};

/* The common head of every backend's handle. */
struct gpio_line {
	const struct gpio_ops *ops;
	char chip[GPIO_NAME_MAX];       /* "gpiochip0" */
	char name[GPIO_NAME_MAX];       /* the line's name, "" when it has none */
	unsigned offset;
	bool output;
	bool hw_debounce;       /* the backend debounces; else the caller does */
	struct hw_error err;    /* the last error on this handle */
};

struct gpio_chip_info {
	char name[GPIO_NAME_MAX];
	char label[GPIO_NAME_MAX];
	unsigned lines;
};

struct gpio_line_info {
	unsigned offset;
	char name[GPIO_NAME_MAX];
	char consumer[GPIO_NAME_MAX];
	bool used, output, active_low;
};

struct gpio_ops {
	/* The requested line, or NULL with e filled (ENODEV: no such chip or
	 * line, EBUSY: line in use, EINVAL: a config the chip refuses). */
	struct gpio_line *(*open)(const struct gpio_config *c, struct hw_error *e);
	void (*close)(struct gpio_line *g);
	/* 0 or 1 (logical), or -errno with g->err filled. */
	int (*read)(struct gpio_line *g);
	int (*write)(struct gpio_line *g, int value);
	/* Readable when edge events wait; -1 when the line has none. */
	int (*fd)(struct gpio_line *g);
	/* Up to max pending events (0: none now), or -errno. Never blocks. */
	int (*events)(struct gpio_line *g, struct gpio_event *ev, int max);
	/* Discovery: up to max entries, the count, or -errno with e filled. */
	int (*chips)(struct gpio_chip_info *out, int max, struct hw_error *e);
	int (*lines)(const char *chip, struct gpio_line_info *out, int max, struct hw_error *e);
};

extern const struct gpio_ops gpio_linux_ops;
extern const struct gpio_ops gpio_sim_ops;

/* "gpiochip0" for "gpiochip0", "/dev/gpiochip0" and "0"; false when name
 * is none of these. */
bool gpio_chip_name(const char *in, char out[GPIO_NAME_MAX]);

#endif
