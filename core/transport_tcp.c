/*
 * transport_tcp.c - TCP (IPv4/IPv6, every address the name resolves to, in
 * order) and unix-domain stream sockets, non-blocking.
 *
 * Name resolution uses getaddrinfo, which blocks: acceptable for IP
 * literals and /etc/hosts names; a resolver that can stall the loop is
 * noted as a known limit in the README.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport.h"
#include "xalloc.h"

struct tcp_state {
	struct addrinfo *list;
	struct addrinfo *cur;
	char host[256];
	unsigned port;
};

static struct tcp_state *state_of(struct transport *t)
{
	return t->priv;
}

static void close_fd(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

/* -A: bind to the local address before connecting (of ai's family; an
 * address of the other family skips this destination address). */
static int bind_local(struct transport *t, const struct addrinfo *ai)
{
	const char *addr = t->cfg ? t->cfg->bind_address : "";
	struct addrinfo hints = { .ai_family = ai->ai_family, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE }, *local;
	int r;
	if (!addr[0] || ai->ai_family == AF_UNIX)
		return 0;
	if (getaddrinfo(addr, NULL, &hints, &local) != 0) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	r = bind(t->fd, local->ai_addr, local->ai_addrlen);
	freeaddrinfo(local);
	return r;
}

/* Start connecting to ai; 0 connected, WANT_WRITE in progress, -1 failed. */
static int try_addr(struct transport *t, const struct addrinfo *ai)
{
	int one = 1;
	t->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		ai->ai_protocol);
	if (t->fd < 0)
		return -1;
	if (ai->ai_family != AF_UNIX)
		setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bind_local(t, ai) < 0)
		return -1;
	if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno == EINPROGRESS)
		return TRANSPORT_WANT_WRITE;
	return -1;
}

static int tcp_next(struct transport *t, int last_errno)
{
	struct tcp_state *st = state_of(t);
	for (; st->cur; st->cur = st->cur->ai_next) {
		int r = try_addr(t, st->cur);
		if (r >= 0)
			return r;
		last_errno = errno;
		close_fd(t);
	}
	snprintf(t->err, sizeof t->err, "cannot connect to %s:%u: %s", st->host, st->port,
		strerror(last_errno));
	return -1;
}

static int tcp_open(struct transport *t, const struct uri *u)
{
	struct addrinfo hints = { 0 };
	char port[8];
	struct tcp_state *st = xcalloc(1, sizeof *st);
	int rc;
	t->fd = -1;
	if (!st)
		return snprintf(t->err, sizeof t->err, "out of memory"), -1;
	t->priv = st;
	snprintf(st->host, sizeof st->host, "%s", u->host);
	st->port = u->port;
	snprintf(port, sizeof port, "%u", (unsigned)u->port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(u->host, port, &hints, &st->list);
	if (rc != 0) {
		snprintf(t->err, sizeof t->err, "cannot resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	st->cur = st->list;
	return tcp_next(t, ECONNREFUSED);
}

/* The socket became writable: connected, or failed (then try the next address). */
static int tcp_handshake(struct transport *t)
{
	struct tcp_state *st = state_of(t);
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		return 0;
	close_fd(t);
	if (st && st->cur)
		st->cur = st->cur->ai_next;
	if (!st)
		return snprintf(t->err, sizeof t->err, "cannot connect: %s", strerror(err)), -1;
	return tcp_next(t, err);
}

static ssize_t tcp_read(struct transport *t, void *buf, size_t n)
{
	ssize_t r;
	do
		r = recv(t->fd, buf, n, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		snprintf(t->err, sizeof t->err, "read: %s", strerror(errno));
	return r;
}

static ssize_t tcp_write(struct transport *t, const void *buf, size_t n)
{
	ssize_t r;
	do
		r = send(t->fd, buf, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		snprintf(t->err, sizeof t->err, "write: %s", strerror(errno));
	return r;
}

static void tcp_close(struct transport *t)
{
	struct tcp_state *st = state_of(t);
	close_fd(t);
	if (st) {
		if (st->list)
			freeaddrinfo(st->list);
		xfree(st);
	}
	t->priv = NULL;
}

static int unix_open(struct transport *t, const struct uri *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct addrinfo ai = { .ai_family = AF_UNIX, .ai_socktype = SOCK_STREAM };
	int r;
	t->fd = -1;
	t->priv = NULL;
	if (strlen(u->path) >= sizeof sa.sun_path)
		return snprintf(t->err, sizeof t->err, "unix socket path too long: %s", u->path), -1;
	strcpy(sa.sun_path, u->path);
	ai.ai_addr = (struct sockaddr *)&sa;
	ai.ai_addrlen = sizeof sa;
	r = try_addr(t, &ai);
	if (r < 0) {
		snprintf(t->err, sizeof t->err, "cannot connect to %s: %s", u->path, strerror(errno));
		close_fd(t);
	}
	return r;
}

const struct transport_ops transport_tcp = {
	"tcp", tcp_open, tcp_handshake, tcp_read, tcp_write, tcp_close, NULL
};

const struct transport_ops transport_unix = {
	"unix", unix_open, tcp_handshake, tcp_read, tcp_write, tcp_close, NULL
};
