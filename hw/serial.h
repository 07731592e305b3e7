/*
 * serial.h - serial ports: the ops table of a backend (serial_linux.c:
 * libserialport; serial_sim.c: pseudo-terminals driven by tests and Lua
 * models). A port is an fd the loop watches; reads and writes never block.
 */
#ifndef LIA_SERIAL_H
#define LIA_SERIAL_H

#include <sys/types.h>

#include "hw.h"

enum serial_parity { SERIAL_PARITY_NONE, SERIAL_PARITY_ODD, SERIAL_PARITY_EVEN,
	SERIAL_PARITY_MARK, SERIAL_PARITY_SPACE };
enum serial_flow { SERIAL_FLOW_NONE, SERIAL_FLOW_XONXOFF, SERIAL_FLOW_RTSCTS,
	SERIAL_FLOW_DTRDSR };

struct serial_config {
	const char *path;
	int baud;
	int data_bits;          /* 5..8 */
	enum serial_parity parity;
	int stop_bits;          /* 1, 2 */
	enum serial_flow flow;
};

struct serial_port {
	const struct serial_ops *ops;
	char path[128];
	struct hw_error err;
};

struct serial_port_info {
	char path[128];
	char description[128];
	char transport[16];     /* "native", "usb", "bluetooth", "sim" */
	int vid, pid;           /* -1 when not USB */
	char manufacturer[64], product[64], serial[64];
};

struct serial_ops {
	/* The open port (non-blocking), or NULL with e filled (ENODEV: no
	 * such port). */
	struct serial_port *(*open)(const struct serial_config *c, struct hw_error *e);
	void (*close)(struct serial_port *p);
	int (*fd)(struct serial_port *p);
	/* Bytes read (0: end of file), -EAGAIN when nothing waits, -errno. */
	ssize_t (*read)(struct serial_port *p, void *buf, size_t n);
	/* Bytes written, possibly fewer than n; -EAGAIN when full, -errno. */
	ssize_t (*write)(struct serial_port *p, const void *buf, size_t n);
	int (*ports)(struct serial_port_info *out, int max, struct hw_error *e);
};

extern const struct serial_ops serial_linux_ops;
extern const struct serial_ops serial_sim_ops;

#endif
