/*
 * serial_sim.c - simulated serial ports (lia run --hw sim): each port is a
 * pseudo-terminal. The script's port is the master side; the device side
 * (the slave, /dev/pts/N) is where tests and Lua models feed bytes and
 * read what the script wrote, or where a person attaches a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "serial.h"
#include "sim.h"
#include "xalloc.h"

struct sim_port {
	char path[128];
	char pty[64];
	int master, slave;
	struct serial_sim_opts o;
	char *strs[4];          /* owned copies of the option strings */
	bool open;
	char *log;              /* what the script wrote */
	size_t loglen, logcap;
	size_t fresh;           /* bytes the last drain added */
	struct sim_port *next;
};

struct ssim {
	struct serial_port head;
	struct sim_port *port;
	int fd;
};

static struct sim_port *ports;

static struct sim_port *find(const char *path)
{
	for (struct sim_port *p = ports; p; p = p->next)
		if (strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

bool serial_sim_exists(const char *path)
{
	return find(path) != NULL;
}

const char *serial_sim_pty(const char *path)
{
	struct sim_port *p = find(path);
	return p ? p->pty : NULL;
}

static const char *own(struct sim_port *p, int i, const char *s)
{
	p->strs[i] = s ? xstrdup(s) : NULL;
	return p->strs[i];
}

int serial_sim_add(const char *path, const struct serial_sim_opts *o, char *pty,
	struct hw_error *e)
{
	struct termios t;
	if (find(path))
		return hw_fail(e, EEXIST, path, "already simulated");
	struct sim_port *p = xcalloc(1, sizeof *p);
	if (!p)
		return hw_fail(e, ENOMEM, path, NULL);
	if (openpty(&p->master, &p->slave, p->pty, NULL, NULL) < 0) {
		int err = errno;
		xfree(p);
		return hw_fail(e, err, path, "cannot make a pty: %s", strerror(err));
	}
	tcgetattr(p->slave, &t);
	cfmakeraw(&t);
	tcsetattr(p->slave, TCSANOW, &t);
	fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK);
	fcntl(p->slave, F_SETFL, fcntl(p->slave, F_GETFL) | O_NONBLOCK);
	fcntl(p->master, F_SETFD, FD_CLOEXEC);
	fcntl(p->slave, F_SETFD, FD_CLOEXEC);
	snprintf(p->path, sizeof p->path, "%s", path);
	p->o = *o;
	p->o.description = own(p, 0, o->description);
	p->o.manufacturer = own(p, 1, o->manufacturer);
	p->o.product = own(p, 2, o->product);
	p->o.serial = own(p, 3, o->serial);
	p->next = ports;
	ports = p;
	if (pty)
		snprintf(pty, 64, "%s", p->pty);
	log_info("sim: serial port %s is the pty %s%s", path, p->pty,
		o->attach ? " (attach a terminal to it)" : "");
	return 0;
}

ssize_t serial_sim_feed(const char *path, const void *buf, size_t n)
{
	struct sim_port *p = find(path);
	size_t done = 0;
	if (!p)
		return -ENODEV;
	while (done < n) {
		ssize_t r = write(p->slave, (const char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int serial_sim_peer_fd(const char *path)
{
	struct sim_port *p = find(path);
	return p && !p->o.attach ? p->slave : -1;
}

const char *serial_sim_drain(const char *path, size_t *n)
{
	struct sim_port *p = find(path);
	size_t start;
	*n = 0;
	if (!p || p->o.attach)
		return NULL;
	start = p->loglen;
	for (;;) {
		if (p->logcap - p->loglen < 4096) {
			size_t cap = p->logcap ? p->logcap * 2 : 8192;
			char *b = xrealloc(p->log, cap);
			if (!b)
				break;
			p->log = b;
			p->logcap = cap;
		}
		ssize_t r = read(p->slave, p->log + p->loglen, p->logcap - p->loglen);
		if (r <= 0)
			break;
		p->loglen += (size_t)r;
	}
	*n = p->loglen - start;
	return *n ? p->log + start : NULL;
}

const char *serial_sim_written(const char *path, size_t *n, bool clear)
{
	struct sim_port *p = find(path);
	const char *s;
	size_t ignored;
	*n = 0;
	if (!p)
		return NULL;
	serial_sim_drain(path, &ignored);
	s = p->log ? p->log : "";
	*n = p->loglen;
	if (clear)
		p->loglen = 0;          /* the bytes stay valid until the next drain */
	return s;
}

/* ---- the ops ---- */

static struct serial_port *sim_open(const struct serial_config *c, struct hw_error *e)
{
	struct sim_port *p = find(c->path);
	if (!p) {
		hw_fail(e, ENODEV, c->path, "no such device");
		return NULL;
	}
	if (p->open) {
		hw_fail(e, EBUSY, c->path, "already open");
		return NULL;
	}
	struct ssim *s = xcalloc(1, sizeof *s);
	if (!s || (s->fd = fcntl(p->master, F_DUPFD_CLOEXEC, 0)) < 0) {
		hw_fail(e, s ? errno : ENOMEM, c->path, NULL);
		xfree(s);
		return NULL;
	}
	s->head.ops = &serial_sim_ops;
	snprintf(s->head.path, sizeof s->head.path, "%s", c->path);
	s->port = p;
	p->open = true;
	return &s->head;
}

static void sim_close(struct serial_port *sp)
{
	struct ssim *s = (struct ssim *)sp;
	s->port->open = false;
	close(s->fd);
	xfree(s);
}

static int sim_fd(struct serial_port *sp)
{
	return ((struct ssim *)sp)->fd;
}

static ssize_t sim_read(struct serial_port *sp, void *buf, size_t n)
{
	ssize_t r = read(((struct ssim *)sp)->fd, buf, n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	if (r < 0)
		return hw_fail(&sp->err, errno, sp->path, NULL);
	return r;
}

static ssize_t sim_write(struct serial_port *sp, const void *buf, size_t n)
{
	ssize_t r = write(((struct ssim *)sp)->fd, buf, n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	if (r < 0)
		return hw_fail(&sp->err, errno, sp->path, NULL);
	return r;
}

static int sim_ports(struct serial_port_info *out, int max, struct hw_error *e)
{
	int n = 0;
	(void)e;
	for (struct sim_port *p = ports; p && n < max; p = p->next, n++) {
		struct serial_port_info *o = &out[n];
		*o = (struct serial_port_info){ .vid = p->o.vid, .pid = p->o.pid };
		snprintf(o->path, sizeof o->path, "%s", p->path);
		snprintf(o->transport, sizeof o->transport, "%s", p->o.vid >= 0 ? "usb" : "sim");
		if (p->o.description)
			snprintf(o->description, sizeof o->description, "%s", p->o.description);
		else
			snprintf(o->description, sizeof o->description, "lia simulated port (%s)", p->pty);
		snprintf(o->manufacturer, sizeof o->manufacturer, "%s",
			p->o.manufacturer ? p->o.manufacturer : "");
		snprintf(o->product, sizeof o->product, "%s", p->o.product ? p->o.product : "");
		snprintf(o->serial, sizeof o->serial, "%s", p->o.serial ? p->o.serial : "");
	}
	return n;
}

const struct serial_ops serial_sim_ops = {
	.open = sim_open,
	.close = sim_close,
	.fd = sim_fd,
	.read = sim_read,
	.write = sim_write,
	.ports = sim_ports,
};
