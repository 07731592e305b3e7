/*
 * gpio_sim.c - simulated GPIO chips (lia run --hw sim). A request gets an
 * eventfd; edges driven through sim.h queue events and make it readable,
 * so the script's edge handler runs from the loop as with real hardware.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gpio.h"
#include "loop.h"
#include "sim.h"
#include "xalloc.h"

#define QUEUE 1024              /* like the kernel's buffer: overflow drops */

struct sim_gline {
	char name[GPIO_NAME_MAX];
	int level;              /* driven physical level, -1 floating */
	uint64_t last_ns;       /* event timestamps never go back */
	struct gsim *req;       /* the script's request, if any */
	char consumer[GPIO_NAME_MAX];   /* the request's consumer string */
	struct gpio_sim_write *writes;
	size_t nwrites, cap;
};

struct sim_chip {
	char name[GPIO_NAME_MAX];
	char label[GPIO_NAME_MAX];
	unsigned n;
	struct sim_gline *lines;
	struct sim_chip *next;
};

struct gsim {
	struct gpio_line head;
	struct sim_gline *line;
	int efd;
	bool active_low;
	enum gpio_bias bias;
	int edge;
	int out;                /* an output's logical value */
	uint32_t seq;
	struct gpio_event q[QUEUE];
	unsigned qhead, qlen;
};

static struct sim_chip *chips;
static bool defaults_made;

static void make_defaults(void)
{
	if (defaults_made)
		return;
	defaults_made = true;
	gpio_sim_add_chip("gpiochip0", "lia-sim", 32, NULL);
}

static struct sim_chip *chip_find(const char *name)
{
	char n[GPIO_NAME_MAX];
	make_defaults();
	if (!name || !gpio_chip_name(name, n))
		return NULL;
	for (struct sim_chip *c = chips; c; c = c->next)
		if (strcmp(c->name, n) == 0)
			return c;
	return NULL;
}

int gpio_sim_add_chip(const char *chip, const char *label, unsigned nlines,
	const char *const *names)
{
	char n[GPIO_NAME_MAX];
	if (!gpio_chip_name(chip, n) || nlines == 0 || nlines > 512)
		return -EINVAL;
	make_defaults();
	if (chip_find(n))
		return -EEXIST;
	struct sim_chip *c = xcalloc(1, sizeof *c);
	if (!c || !(c->lines = xcalloc(nlines, sizeof *c->lines))) {
		xfree(c);
		return -ENOMEM;
	}
	snprintf(c->name, sizeof c->name, "%s", n);
	snprintf(c->label, sizeof c->label, "%s", label ? label : "lia-sim");
	c->n = nlines;
	for (unsigned i = 0; i < nlines; i++) {
		c->lines[i].level = -1;
		if (names && names[i])
			snprintf(c->lines[i].name, GPIO_NAME_MAX, "%s", names[i]);
		else if (!names)
			snprintf(c->lines[i].name, GPIO_NAME_MAX, "GPIO%u", i);
	}
	struct sim_chip **p = &chips;
	while (*p)
		p = &(*p)->next;
	*p = c;
	return 0;
}

int gpio_sim_find(const char *chip, int offset, const char *name, char *chip_out,
	unsigned *off)
{
	make_defaults();
	for (struct sim_chip *c = chips; c; c = c->next) {
		if (chip && c != chip_find(chip))
			continue;
		for (unsigned i = 0; i < c->n; i++) {
			if (offset >= 0 ? (unsigned)offset == i
					: (name && c->lines[i].name[0] && strcmp(c->lines[i].name, name) == 0)) {
				snprintf(chip_out, GPIO_NAME_MAX, "%s", c->name);
				*off = i;
				return 0;
			}
		}
	}
	return -ENODEV;
}

static struct sim_gline *line_at(const char *chip, unsigned off)
{
	struct sim_chip *c = chip_find(chip);
	return c && off < c->n ? &c->lines[off] : NULL;
}

/* The physical level an input sees. */
static int input_level(const struct sim_gline *ln, enum gpio_bias bias)
{
	if (ln->level >= 0)
		return ln->level;
	return bias == GPIO_BIAS_PULL_UP;
}

static int physical(const struct sim_gline *ln)
{
	const struct gsim *s = ln->req;
	if (s && s->head.output)
		return s->out ^ s->active_low;
	return input_level(ln, s ? s->bias : GPIO_BIAS_AS_IS);
}

static void push_event(struct gsim *s, int edge, uint64_t ns)
{
	uint64_t one = 1;
	if (!(s->edge & edge))
		return;
	s->seq++;
	if (s->qlen == QUEUE)
		return;                 /* overflow: the event is lost, as in the kernel */
	s->q[(s->qhead + s->qlen++) % QUEUE] = (struct gpio_event){
		.edge = edge, .timestamp_ns = ns, .seqno = s->seq, .line_seqno = s->seq };
	if (write(s->efd, &one, sizeof one) < 0)
		return;
}

int gpio_sim_set(const char *chip, unsigned off, int level, uint64_t ns)
{
	struct sim_gline *ln = line_at(chip, off);
	if (!ln)
		return -ENODEV;
	int before = physical(ln);
	ln->level = level < 0 ? -1 : level != 0;
	int after = physical(ln);
	struct gsim *s = ln->req;
	ns = ns ? ns : loop_clock_ns();
	if (ns < ln->last_ns)
		ns = ln->last_ns;
	ln->last_ns = ns;
	if (s && !s->head.output && before != after)
		push_event(s, (after ^ s->active_low) ? GPIO_EDGE_RISING : GPIO_EDGE_FALLING, ns);
	return 0;
}

int gpio_sim_get(const char *chip, unsigned off)
{
	struct sim_gline *ln = line_at(chip, off);
	return ln ? physical(ln) : -ENODEV;
}

int gpio_sim_writes(const char *chip, unsigned off, const struct gpio_sim_write **w,
	size_t *n)
{
	struct sim_gline *ln = line_at(chip, off);
	if (!ln)
		return -ENODEV;
	*w = ln->writes;
	*n = ln->nwrites;
	return 0;
}

int gpio_sim_requested(const char *chip, unsigned off)
{
	struct sim_gline *ln = line_at(chip, off);
	return ln ? ln->req != NULL : -ENODEV;
}

static int record(struct sim_gline *ln, int level)
{
	if (ln->nwrites == ln->cap) {
		size_t cap = ln->cap ? ln->cap * 2 : 16;
		struct gpio_sim_write *w = xrealloc(ln->writes, cap * sizeof *w);
		if (!w)
			return -ENOMEM;
		ln->writes = w;
		ln->cap = cap;
	}
	ln->writes[ln->nwrites++] = (struct gpio_sim_write){ level, loop_clock_ns() };
	return 0;
}

/* ---- the ops ---- */

static struct gpio_line *sim_open(const struct gpio_config *c, struct hw_error *e)
{
	char chip[GPIO_NAME_MAX];
	char dev[96];
	unsigned off;
	if (c->chip && !chip_find(c->chip)) {
		hw_fail(e, ENODEV, c->chip, "no such device");
		return NULL;
	}
	if (gpio_sim_find(c->chip, c->offset, c->name, chip, &off) < 0) {
		if (c->offset >= 0)
			hw_fail(e, ENODEV, c->chip, "no line %d", c->offset);
		else
			hw_fail(e, ENODEV, c->name ? c->name : "?", "no such line");
		return NULL;
	}
	struct sim_gline *ln = line_at(chip, off);
	snprintf(dev, sizeof dev, "%s:%u", chip, off);
	if (ln->req) {
		hw_fail(e, EBUSY, dev, "line busy (held by \"%s\")", ln->consumer);
		return NULL;
	}
	struct gsim *s = xcalloc(1, sizeof *s);
	if (!s) {
		hw_fail(e, ENOMEM, dev, NULL);
		return NULL;
	}
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		hw_fail(e, errno, dev, NULL);
		xfree(s);
		return NULL;
	}
	s->head = (struct gpio_line){ .ops = &gpio_sim_ops, .offset = off, .output = c->output };
	snprintf(s->head.chip, GPIO_NAME_MAX, "%s", chip);
	snprintf(s->head.name, GPIO_NAME_MAX, "%s", ln->name);
	s->line = ln;
	s->active_low = c->active_low;
	s->bias = c->bias;
	s->edge = c->output ? 0 : c->edge;
	s->out = c->initial != 0;
	ln->req = s;
	snprintf(ln->consumer, GPIO_NAME_MAX, "%s", c->consumer ? c->consumer : "lia");
	if (c->output && record(ln, physical(ln)) < 0) {
		ln->req = NULL;
		close(s->efd);
		xfree(s);
		hw_fail(e, ENOMEM, dev, NULL);
		return NULL;
	}
	return &s->head;
}

static void sim_close(struct gpio_line *g)
{
	struct gsim *s = (struct gsim *)g;
	if (s->line->req == s)
		s->line->req = NULL;
	close(s->efd);
	xfree(s);
}

static int sim_read(struct gpio_line *g)
{
	struct gsim *s = (struct gsim *)g;
	if (g->output)
		return s->out;
	return input_level(s->line, s->bias) ^ s->active_low;
}

static int sim_write(struct gpio_line *g, int value)
{
	struct gsim *s = (struct gsim *)g;
	if (!g->output)
		return hw_fail(&g->err, EPERM, g->chip, "line %u is an input", g->offset);
	s->out = value != 0;
	if (record(s->line, physical(s->line)) < 0)
		return hw_fail(&g->err, ENOMEM, g->chip, NULL);
	return 0;
}

static int sim_fd(struct gpio_line *g)
{
	struct gsim *s = (struct gsim *)g;
	return s->edge ? s->efd : -1;
}

static int sim_events(struct gpio_line *g, struct gpio_event *ev, int max)
{
	struct gsim *s = (struct gsim *)g;
	uint64_t v;
	int n = 0;
	while (n < max && s->qlen) {
		ev[n++] = s->q[s->qhead];
		s->qhead = (s->qhead + 1) % QUEUE;
		s->qlen--;
	}
	if (!s->qlen && read(s->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		return hw_fail(&g->err, errno, g->chip, NULL);
	if (s->qlen) {
		v = 1;                  /* more to come: stay readable */
		if (write(s->efd, &v, sizeof v) < 0)
			return n;
	}
	return n;
}

static int sim_chips(struct gpio_chip_info *out, int max, struct hw_error *e)
{
	int n = 0;
	(void)e;
	make_defaults();
	for (struct sim_chip *c = chips; c && n < max; c = c->next, n++) {
		snprintf(out[n].name, GPIO_NAME_MAX, "%s", c->name);
		snprintf(out[n].label, GPIO_NAME_MAX, "%s", c->label);
		out[n].lines = c->n;
	}
	return n;
}

static int sim_lines(const char *chip, struct gpio_line_info *out, int max, struct hw_error *e)
{
	struct sim_chip *c = chip_find(chip);
	if (!c)
		return hw_fail(e, ENODEV, chip, "no such device");
	int n = 0;
	for (unsigned i = 0; i < c->n && n < max; i++, n++) {
		struct sim_gline *ln = &c->lines[i];
		out[n] = (struct gpio_line_info){ .offset = i, .used = ln->req != NULL,
			.output = ln->req && ln->req->head.output,
			.active_low = ln->req && ln->req->active_low };
		snprintf(out[n].name, GPIO_NAME_MAX, "%s", ln->name);
		snprintf(out[n].consumer, GPIO_NAME_MAX, "%s", ln->req ? ln->consumer : "");
	}
	return n;
}

const struct gpio_ops gpio_sim_ops = {
	.open = sim_open,
	.close = sim_close,
	.read = sim_read,
	.write = sim_write,
	.fd = sim_fd,
	.events = sim_events,
	.chips = sim_chips,
	.lines = sim_lines,
};
