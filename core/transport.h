/*
 * transport.h - byte streams under the MQTT session, as a small ops table:
 * TCP and unix sockets now; TLS and WebSockets plug in the same way. All
 * non-blocking: the session drives them from loop events.
 */
#ifndef LIA_TRANSPORT_H
#define LIA_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "uri.h"

/* open/handshake results besides 0 (done) and -1 (error in t->err). */
#define TRANSPORT_WANT_READ 1
#define TRANSPORT_WANT_WRITE 2

struct transport;
struct transport_ops {
	const char *name;
	/* Begin connecting; sets t->fd. 0 when connected, WANT_* in progress. */
	int (*open)(struct transport *t, const struct uri *u);
	/* Continue after the fd became ready; same results as open. */
	int (*handshake)(struct transport *t);
	/* > 0 bytes, 0 end of stream, -1 error (errno EAGAIN: try later). */
	ssize_t (*read)(struct transport *t, void *buf, size_t n);
	ssize_t (*write)(struct transport *t, const void *buf, size_t n);
	void (*close)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	int fd;
	char err[512];      /* last error, one line */
	void *priv;
};

/* The transport for a URI's scheme, or NULL (with err) when unsupported. */
const struct transport_ops *transport_for(const struct uri *u, char *err, size_t errlen);

extern const struct transport_ops transport_tcp;
extern const struct transport_ops transport_unix;

#endif
