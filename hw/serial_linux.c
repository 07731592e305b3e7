/*
 * serial_linux.c - serial ports through libserialport: it opens the port
 * and sets the line (baud, bits, parity, stop bits, flow control), and we
 * take its fd into our loop and read and write it without blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serial.h"
#include "xalloc.h"

struct slinux {
	struct serial_port head;
	struct sp_port *sp;
	int fd;
};

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
	if ((r = sp_get_port_by_name(c->path, &sp)) != SP_OK ||
			(r = sp_open(sp, SP_MODE_READ_WRITE)) != SP_OK) {
		sp_fail(e, r, c->path);
		sp_free_port(sp);
		return NULL;
	}
	if (configure(sp, c, e, c->path) < 0 || sp_get_port_handle(sp, &fd) != SP_OK ||
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		if (!e->code)
			hw_fail(e, errno ? errno : EIO, c->path, NULL);
		sp_close(sp);
		sp_free_port(sp);
		return NULL;
	}
	struct slinux *s = xcalloc(1, sizeof *s);
	if (!s) {
		sp_close(sp);
		sp_free_port(sp);
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
	sp_close(s->sp);
	sp_free_port(s->sp);
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
