/*
 * serial_linux.c - serial ports through libserialport: it opens the port
 * and sets the line (baud, bits, parity, stop bits, flow control), and we
 * take its fd into our loop and read and write it without blocking.
 *
 * libserialport only knows ports it finds under /sys/class/tty; a tty it
 * does not recognise (a pseudo-terminal: socat, a simulator, ssh) is
 * opened here and set up with termios instead, with the same settings.
 */
#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "serial.h"
#include "xalloc.h"

struct slinux {
	struct serial_port head;
	struct sp_port *sp;     /* NULL: a tty set up with termios */
	int fd;
};

static speed_t speed_of(int baud)
{
	static const struct { int baud; speed_t s; } t[] = {
		{ 50, B50 }, { 75, B75 }, { 110, B110 }, { 134, B134 }, { 150, B150 },
		{ 200, B200 }, { 300, B300 }, { 600, B600 }, { 1200, B1200 }, { 1800, B1800 },
		{ 2400, B2400 }, { 4800, B4800 }, { 9600, B9600 }, { 19200, B19200 },
		{ 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 }, { 230400, B230400 },
		{ 460800, B460800 }, { 500000, B500000 }, { 921600, B921600 },
		{ 1000000, B1000000 }, { 2000000, B2000000 }, { 4000000, B4000000 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].baud == baud)
			return t[i].s;
	return B0;
}

/* A tty libserialport does not list: raw mode and the line settings. */
static int termios_open(const struct serial_config *c, struct hw_error *e)
{
	static const tcflag_t size[] = { CS5, CS6, CS7, CS8 };
	struct termios t;
	speed_t sp = speed_of(c->baud);
	if (sp == B0 || c->flow == SERIAL_FLOW_DTRDSR)
		return hw_fail(e, ENOTSUP, c->path, "%s not supported by this tty",
			sp == B0 ? "baud rate" : "DTR/DSR flow control");
	int fd = open(c->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hw_fail(e, errno, c->path, NULL);
	if (tcgetattr(fd, &t) < 0) {
		int err = errno;
		close(fd);
		return hw_fail(e, err == ENOTTY ? ENOTTY : err, c->path, err == ENOTTY ? "not a tty" : NULL);
	}
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
	t.c_cflag |= size[c->data_bits - 5] | CLOCAL | CREAD;
	if (c->parity != SERIAL_PARITY_NONE)
		t.c_cflag |= PARENB;
	if (c->parity == SERIAL_PARITY_ODD || c->parity == SERIAL_PARITY_MARK)
		t.c_cflag |= PARODD;
	if (c->parity == SERIAL_PARITY_MARK || c->parity == SERIAL_PARITY_SPACE)
		t.c_cflag |= CMSPAR;
	if (c->stop_bits == 2)
		t.c_cflag |= CSTOPB;
	if (c->flow == SERIAL_FLOW_RTSCTS)
		t.c_cflag |= CRTSCTS;
	if (c->flow == SERIAL_FLOW_XONXOFF)
		t.c_iflag |= IXON | IXOFF;
	cfsetspeed(&t, sp);
	if (tcsetattr(fd, TCSANOW, &t) < 0) {
		int err = errno;
		close(fd);
		return hw_fail(e, err, c->path, NULL);
	}
	return fd;
}

/* A libserialport failure as an errno (its message when it has one). */
static int sp_fail(struct hw_error *e, enum sp_return r, const char *dev)
{
	if (r == SP_ERR_FAIL) {
		int err = sp_last_error_code();
		char *m = sp_last_error_message();
		if (err == ENOENT || err == ENXIO || err == ENODEV)
			hw_fail(e, ENODEV, dev, "no such device");
		else
			hw_fail(e, err ? err : EIO, dev, err ? NULL : "%s", m ? m : "failed");
		sp_free_error_message(m);
		return -e->code;
	}
	if (r == SP_ERR_MEM)
		return hw_fail(e, ENOMEM, dev, NULL);
	return hw_fail(e, r == SP_ERR_SUPP ? ENOTSUP : EINVAL, dev, "%s",
		r == SP_ERR_SUPP ? "not supported by this port" : "invalid setting");
}

static int configure(struct sp_port *sp, const struct serial_config *c, struct hw_error *e,
	const char *dev)
{
	static const enum sp_parity parity[] = { SP_PARITY_NONE, SP_PARITY_ODD, SP_PARITY_EVEN,
		SP_PARITY_MARK, SP_PARITY_SPACE };
	static const enum sp_flowcontrol flow[] = { SP_FLOWCONTROL_NONE, SP_FLOWCONTROL_XONXOFF,
		SP_FLOWCONTROL_RTSCTS, SP_FLOWCONTROL_DTRDSR };
	enum sp_return r;
	if ((r = sp_set_baudrate(sp, c->baud)) != SP_OK ||
			(r = sp_set_bits(sp, c->data_bits)) != SP_OK ||
			(r = sp_set_parity(sp, parity[c->parity])) != SP_OK ||
			(r = sp_set_stopbits(sp, c->stop_bits)) != SP_OK ||
			(r = sp_set_flowcontrol(sp, flow[c->flow])) != SP_OK)
		return sp_fail(e, r, dev);
	return 0;
}

static struct serial_port *linux_open(const struct serial_config *c, struct hw_error *e)
{
	struct sp_port *sp = NULL;
	struct stat st;
	enum sp_return r;
	int fd = -1;
	if (stat(c->path, &st) < 0) {
		hw_fail(e, errno == ENOENT ? ENODEV : errno, c->path,
			errno == ENOENT ? "no such device" : NULL);
		return NULL;
	}
	if ((r = sp_get_port_by_name(c->path, &sp)) == SP_ERR_ARG) {
		if ((fd = termios_open(c, e)) < 0)
			return NULL;
	} else if (r != SP_OK || (r = sp_open(sp, SP_MODE_READ_WRITE)) != SP_OK) {
		sp_fail(e, r, c->path);
		sp_free_port(sp);
		return NULL;
	}
	if (sp && (configure(sp, c, e, c->path) < 0 || sp_get_port_handle(sp, &fd) != SP_OK ||
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)) {
		if (!e->code)
			hw_fail(e, errno ? errno : EIO, c->path, NULL);
		sp_close(sp);
		sp_free_port(sp);
		return NULL;
	}
	struct slinux *s = xcalloc(1, sizeof *s);
	if (!s) {
		if (sp) {
			sp_close(sp);
			sp_free_port(sp);
		} else {
			close(fd);
		}
		hw_fail(e, ENOMEM, c->path, NULL);
		return NULL;
	}
	s->head.ops = &serial_linux_ops;
	snprintf(s->head.path, sizeof s->head.path, "%s", c->path);
	s->sp = sp;
	s->fd = fd;
	return &s->head;
}

static void linux_close(struct serial_port *p)
{
	struct slinux *s = (struct slinux *)p;
	if (s->sp) {
		sp_close(s->sp);
		sp_free_port(s->sp);
	} else {
		close(s->fd);
	}
	xfree(s);
}

static int linux_fd(struct serial_port *p)
{
	return ((struct slinux *)p)->fd;
}

static ssize_t linux_read(struct serial_port *p, void *buf, size_t n)
{
	ssize_t r = read(((struct slinux *)p)->fd, buf, n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	if (r < 0)
		return hw_fail(&p->err, errno, p->path, NULL);
	return r;
}

static ssize_t linux_write(struct serial_port *p, const void *buf, size_t n)
{
	ssize_t r = write(((struct slinux *)p)->fd, buf, n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	if (r < 0)
		return hw_fail(&p->err, errno, p->path, NULL);
	return r;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static int linux_ports(struct serial_port_info *out, int max, struct hw_error *e)
{
	struct sp_port **list = NULL;
	enum sp_return r = sp_list_ports(&list);
	int n = 0;
	if (r != SP_OK)
		return sp_fail(e, r, "serial ports");
	for (int i = 0; list[i] && n < max; i++, n++) {
		struct sp_port *sp = list[i];
		struct serial_port_info *o = &out[n];
		enum sp_transport t = sp_get_port_transport(sp);
		*o = (struct serial_port_info){ .vid = -1, .pid = -1 };
		copy(o->path, sizeof o->path, sp_get_port_name(sp));
		copy(o->description, sizeof o->description, sp_get_port_description(sp));
		copy(o->transport, sizeof o->transport, t == SP_TRANSPORT_USB ? "usb"
			: t == SP_TRANSPORT_BLUETOOTH ? "bluetooth" : "native");
		if (t == SP_TRANSPORT_USB && sp_get_port_usb_vid_pid(sp, &o->vid, &o->pid) != SP_OK)
			o->vid = o->pid = -1;
		copy(o->manufacturer, sizeof o->manufacturer, sp_get_port_usb_manufacturer(sp));
		copy(o->product, sizeof o->product, sp_get_port_usb_product(sp));
		copy(o->serial, sizeof o->serial, sp_get_port_usb_serial(sp));
	}
	sp_free_port_list(list);
	return n;
}

const struct serial_ops serial_linux_ops = {
	.open = linux_open,
	.close = linux_close,
	.fd = linux_fd,
	.read = linux_read,
	.write = linux_write,
	.ports = linux_ports,
};
