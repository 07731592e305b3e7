/*
 * transport_ws.c - MQTT over WebSocket (RFC 6455 client; MQTT 5.0 section
 * 6): ws:// over TCP or a proxy, wss:// over the TLS transport.
 *
 * The handshake is an HTTP/1.1 Upgrade offering the "mqtt" subprotocol; the
 * Sec-WebSocket-Accept answer is checked, and a server that picks another
 * subprotocol is refused (one that picks none, like websockify, is taken).
 *
 * Reading streams the payload of binary frames (and their continuations)
 * out as it arrives: MQTT packets may span frames and a frame may hold many
 * packets, so frames are not reassembled and nothing is allocated per
 * frame. Control frames are answered in place: ping with pong, close with
 * close (then the read fails with the broker's code and reason).
 *
 * Writing frames each write call's bytes as one masked binary frame. When
 * the socket takes only part of a frame, the rest stays in st->out and the
 * payload bytes not yet on the wire are "owed": the write reports only what
 * was sent, the caller retries with the same bytes, and the retry flushes
 * the rest and reports the owed bytes (so nothing waits unseen in here
 * while the session believes it was written). A pong queued by a read goes
 * out with the next write when the socket is full (keep-alive sends soon).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ossl.h"

#include "buf.h"
#include "transport.h"
#include "ws_frame.h"
#include "xalloc.h"

#define WS_READ_CHUNK 16384
#define WS_WRITE_CHUNK 65536
#define WS_MAX_RESPONSE 8192
#define WS_OUT_LIMIT (WS_WRITE_CHUNK + 4096)
#define WS_DEFAULT_MAX_FRAME (16u * 1024 * 1024)

enum ws_phase { WS_LOWER, WS_UPGRADE, WS_OPEN };

struct ws_state {
	struct transport low;       /* tcp, proxy or tls */
	enum ws_phase phase;
	char host[256];
	unsigned port;
	char path[256];
	char key[32];
	struct buf in, out;
	size_t owed;                /* payload bytes framed into out, not yet reported */
	uint64_t data_left;         /* payload of the current data frame still to deliver */
	bool in_message;            /* a fragmented message is open */
};

int transport_ws_check(const struct transport_ws_opts *o, char *err, size_t errlen)
{
	const char *p = o->headers;
	if (o->path && o->path[0] != '/')
		return snprintf(err, errlen, "WebSocket path must start with '/': %s", o->path), -1;
	if (o->path && strpbrk(o->path, " \r\n"))
		return snprintf(err, errlen, "WebSocket path may not contain spaces or line breaks"), -1;
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		size_t k = n && p[n - 1] == '\r' ? n - 1 : n;
		const char *colon = memchr(p, ':', k);
		if (k && (!colon || colon == p || memchr(p, '\r', k)))
			return snprintf(err, errlen, "bad WebSocket header line \"%.*s\" (want \"Name: value\")",
				(int)(k > 60 ? 60 : k), p), -1;
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* ---- handshake ---- */

static int ws_fail(struct transport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ws_fail(struct transport *t, const char *fmt, ...)
{
	struct ws_state *st = t->priv;
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(t->err, sizeof t->err, "WebSocket %.100s:%u%.100s: %.290s", st->host, st->port, st->path, msg);
	errno = EPROTO;
	return -1;
}

static void append_headers(struct ws_state *st, const char *p)
{
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		size_t k = n && p[n - 1] == '\r' ? n - 1 : n;
		if (k) {
			buf_append(&st->out, p, k, WS_OUT_LIMIT);
			buf_append(&st->out, "\r\n", 2, WS_OUT_LIMIT);
		}
		p += n + (p[n] == '\n');
	}
}

static int build_request(struct transport *t, bool tls)
{
	struct ws_state *st = t->priv;
	unsigned char nonce[16];
	char req[1024];
	bool v6 = strchr(st->host, ':') != NULL, dflt = st->port == (tls ? 443u : 80u);
	char port[8] = "";
	if (RAND_bytes(nonce, sizeof nonce) != 1)
		return ws_fail(t, "no random bytes for the handshake key");
	EVP_EncodeBlock((unsigned char *)st->key, nonce, sizeof nonce);
	if (!dflt)
		snprintf(port, sizeof port, ":%u", st->port);
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n",
		st->path, v6 ? "[" : "", st->host, v6 ? "]" : "", port, st->key);
	if (n < 0 || (size_t)n >= sizeof req || buf_append(&st->out, req, (size_t)n, WS_OUT_LIMIT) < 0)
		return ws_fail(t, "request too long");
	append_headers(st, t->cfg ? t->cfg->ws.headers : NULL);
	if (buf_append(&st->out, "\r\n", 2, WS_OUT_LIMIT) < 0)
		return ws_fail(t, "request too long");
	return 0;
}

/* The value of header name in the response block, or NULL; *len set. */
static const char *header(const char *resp, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(resp, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			v += strspn(v, " \t");
			*len = strcspn(v, "\r");
			while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
				(*len)--;
			return v;
		}
	}
	return NULL;
}

static bool has_token(const char *v, size_t len, const char *token)
{
	size_t tl = strlen(token);
	for (size_t i = 0; i + tl <= len; i++)
		if (!strncasecmp(v + i, token, tl))
			return true;
	return false;
}

static int check_response(struct transport *t, char *resp)
{
	struct ws_state *st = t->priv;
	char accept[32];
	unsigned code = 0;
	char reason[100] = "";
	size_t len;
	const char *v;
	if (sscanf(resp, "HTTP/1.%*1[01] %3u %99[^\r\n]", &code, reason) < 1)
		return ws_fail(t, "not an HTTP response to the upgrade request");
	if (code != 101)
		return ws_fail(t, "upgrade refused: HTTP %u %s", code, reason);
	if (!(v = header(resp, "Upgrade", &len)) || !has_token(v, len, "websocket"))
		return ws_fail(t, "response lacks \"Upgrade: websocket\"");
	if (!(v = header(resp, "Connection", &len)) || !has_token(v, len, "upgrade"))
		return ws_fail(t, "response lacks \"Connection: Upgrade\"");
	ws_accept_key(st->key, accept);
	if (!(v = header(resp, "Sec-WebSocket-Accept", &len)) || len != strlen(accept) ||
			memcmp(v, accept, len) != 0)
		return ws_fail(t, "wrong or missing Sec-WebSocket-Accept");
	if ((v = header(resp, "Sec-WebSocket-Protocol", &len)) && (len != 4 || strncasecmp(v, "mqtt", 4)))
		return ws_fail(t, "server chose subprotocol \"%.*s\", not mqtt", (int)(len > 40 ? 40 : len), v);
	return 0;
}

/* 1 all written, 0 the socket is full, -1 error (t->err). */
static int flush(struct transport *t)
{
	struct ws_state *st = t->priv;
	while (buf_len(&st->out)) {
		ssize_t w = st->low.ops->write(&st->low, buf_head(&st->out), buf_len(&st->out));
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0) {
			snprintf(t->err, sizeof t->err, "%s", st->low.err[0] ? st->low.err : "write failed");
			return -1;
		}
		buf_consume(&st->out, (size_t)w);
	}
	return 1;
}

/* Read from below into st->in; > 0 bytes, 0 EOF, -1 (errno; t->err). */
static ssize_t fill(struct transport *t)
{
	struct ws_state *st = t->priv;
	if (buf_reserve(&st->in, WS_READ_CHUNK, WS_READ_CHUNK + WS_MAX_RESPONSE) < 0)
		return ws_fail(t, "out of memory");
	ssize_t r = st->low.ops->read(&st->low, st->in.data + st->in.end, st->in.cap - st->in.end);
	if (r > 0)
		st->in.end += (size_t)r;
	else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		snprintf(t->err, sizeof t->err, "%s", st->low.err);
	return r;
}

static int upgrade(struct transport *t)
{
	struct ws_state *st = t->priv;
	int f = flush(t);
	if (f <= 0)
		return f < 0 ? -1 : TRANSPORT_WANT_WRITE;
	for (;;) {
		uint8_t *end = buf_len(&st->in) >= 4 ?
			memmem(buf_head(&st->in), buf_len(&st->in), "\r\n\r\n", 4) : NULL;
		if (end) {
			size_t hlen = (size_t)(end - buf_head(&st->in)) + 4;
			char resp[WS_MAX_RESPONSE + 1];
			memcpy(resp, buf_head(&st->in), hlen);
			resp[hlen] = '\0';
			buf_consume(&st->in, hlen);     /* what follows is frames */
			if (check_response(t, resp) < 0)
				return -1;
			st->phase = WS_OPEN;
			return 0;
		}
		if (buf_len(&st->in) >= WS_MAX_RESPONSE)
			return ws_fail(t, "upgrade response over %d bytes", WS_MAX_RESPONSE);
		ssize_t r = fill(t);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TRANSPORT_WANT_READ;
		if (r < 0)
			return -1;
		if (r == 0)
			return ws_fail(t, "connection closed during the upgrade (not a WebSocket endpoint?)");
	}
}

static int after_lower(struct transport *t, int r)
{
	struct ws_state *st = t->priv;
	t->fd = st->low.fd;
	if (r < 0)
		return snprintf(t->err, sizeof t->err, "%s", st->low.err), -1;
	if (r > 0)
		return r;
	st->phase = WS_UPGRADE;
	if (build_request(t, st->low.ops == &transport_tls) < 0)
		return -1;
	return upgrade(t);
}

static int ws_open(struct transport *t, const struct uri *u)
{
	struct ws_state *st = xcalloc(1, sizeof *st);
	const char *path = t->cfg && t->cfg->ws.path ? t->cfg->ws.path : u->path[0] ? u->path : "/mqtt";
	const char *why = ossl_crypto_load();  /* the handshake key and every frame's mask */
	t->fd = -1;
	if (why) {
		xfree(st);
		return snprintf(t->err, sizeof t->err, "WebSocket: %s", why), -1;
	}
	if (!st)
		return snprintf(t->err, sizeof t->err, "out of memory"), -1;
	t->priv = st;
	snprintf(st->host, sizeof st->host, "%s", u->host);
	snprintf(st->path, sizeof st->path, "%s", path);
	st->port = u->port;
	st->low.fd = -1;
	st->low.cfg = t->cfg;
	st->low.ops = u->tls ? &transport_tls : transport_stream_ops(t->cfg);
	return after_lower(t, st->low.ops->open(&st->low, u));
}

static int ws_handshake(struct transport *t)
{
	struct ws_state *st = t->priv;
	if (st->phase == WS_LOWER)
		return after_lower(t, st->low.ops->handshake(&st->low));
	return upgrade(t);
}

/* ---- frames ---- */

static int queue_frame(struct transport *t, uint8_t op, const uint8_t *p, size_t n)
{
	struct ws_state *st = t->priv;
	uint8_t hdr[WS_MAX_HEADER], mask[4];
	if (RAND_bytes(mask, sizeof mask) != 1)
		return ws_fail(t, "no random bytes for a frame mask");
	size_t h = ws_frame_header(hdr, true, op, n, mask);
	if (buf_reserve(&st->out, h + n, WS_OUT_LIMIT + WS_MAX_HEADER) < 0)
		return ws_fail(t, "out of memory for an outgoing frame");
	buf_append(&st->out, hdr, h, WS_OUT_LIMIT + WS_MAX_HEADER);
	uint8_t *body = st->out.data + st->out.end;
	buf_append(&st->out, p, n, WS_OUT_LIMIT + WS_MAX_HEADER);
	ws_mask(body, n, mask, 0);
	return (int)h;
}

/* A whole control frame at the head of st->in: answer it. -1 on close. */
static int control(struct transport *t, const struct ws_frame *f, const uint8_t *p)
{
	if (f->opcode == WS_OP_PING) {
		if (queue_frame(t, WS_OP_PONG, p, (size_t)f->len) < 0 || flush(t) < 0)
			return -1;
		return 0;
	}
	if (f->opcode == WS_OP_PONG)
		return 0;
	unsigned code = f->len >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;
	char reason[WS_MAX_CONTROL + 1];
	size_t rl = f->len > 2 ? (size_t)f->len - 2 : 0;
	memcpy(reason, p + (f->len >= 2 ? 2 : 0), rl);
	reason[rl] = '\0';
	(void)queue_frame(t, WS_OP_CLOSE, p, f->len >= 2 ? 2 : 0);
	(void)flush(t);
	ws_fail(t, "closed by broker: code %u%s%s", code, rl ? " " : "", reason);
	errno = ECONNRESET;
	return -1;
}

/* One frame header at the head of st->in: 1 consumed, 0 need more, -1 error. */
static int next_frame(struct transport *t)
{
	struct ws_state *st = t->priv;
	struct ws_frame f;
	uint64_t cap = t->cfg && t->cfg->max_frame ? t->cfg->max_frame : WS_DEFAULT_MAX_FRAME;
	int h = ws_frame_decode(buf_head(&st->in), buf_len(&st->in), cap, &f);
	if (h == WS_INCOMPLETE)
		return 0;
	if (h == WS_TOO_BIG)
		return ws_fail(t, "frame of %llu bytes over the limit of %llu", (unsigned long long)f.len,
			(unsigned long long)cap);
	if (h < 0 || f.masked)
		return ws_fail(t, "%s frame from broker", h < 0 ? "malformed" : "masked");
	if (f.opcode >= WS_OP_CLOSE) {
		if (buf_len(&st->in) < (size_t)h + f.len)
			return 0;
		int r = control(t, &f, buf_head(&st->in) + h);
		buf_consume(&st->in, (size_t)h + (size_t)f.len);
		return r < 0 ? -1 : 1;
	}
	if (f.opcode == WS_OP_TEXT)
		return ws_fail(t, "text frame from broker (MQTT needs binary frames)");
	if ((f.opcode == WS_OP_CONT) != st->in_message)
		return ws_fail(t, "%s", st->in_message ? "new message inside a fragmented one" :
			"continuation frame without a message");
	st->in_message = !f.fin;
	st->data_left = f.len;
	buf_consume(&st->in, (size_t)h);
	return 1;
}

static ssize_t ws_read(struct transport *t, void *buf, size_t n)
{
	struct ws_state *st = t->priv;
	for (;;) {
		if (st->data_left && buf_len(&st->in)) {
			size_t k = buf_len(&st->in);
			if (k > n)
				k = n;
			if (k > st->data_left)
				k = (size_t)st->data_left;
			memcpy(buf, buf_head(&st->in), k);
			buf_consume(&st->in, k);
			st->data_left -= k;
			return (ssize_t)k;
		}
		if (!st->data_left && buf_len(&st->in)) {
			int r = next_frame(t);
			if (r < 0)
				return -1;
			if (r > 0)
				continue;
		}
		ssize_t r = fill(t);
		if (r <= 0)
			return r;
	}
}

static ssize_t ws_write(struct transport *t, const void *buf, size_t n)
{
	struct ws_state *st = t->priv;
	if (buf_len(&st->out)) {
		int f = flush(t);
		if (f <= 0)
			return f < 0 ? -1 : (errno = EAGAIN, -1);
		if (st->owed) {
			size_t r = st->owed < n ? st->owed : n;
			st->owed = 0;
			return (ssize_t)r;
		}
	}
	size_t chunk = n < WS_WRITE_CHUNK ? n : WS_WRITE_CHUNK;
	int h = queue_frame(t, WS_OP_BINARY, buf, chunk);
	if (h < 0)
		return -1;
	size_t frame = (size_t)h + chunk;
	int f = flush(t);
	if (f < 0)
		return -1;
	size_t sent = frame - buf_len(&st->out);
	size_t done = sent > (size_t)h ? sent - (size_t)h : 0;
	st->owed = chunk - done;
	if (done)
		return (ssize_t)done;
	errno = EAGAIN;
	return -1;
}

static size_t ws_pending(struct transport *t)
{
	struct ws_state *st = t->priv;
	if (!st || st->phase != WS_OPEN)
		return 0;
	return buf_len(&st->in) + (st->low.ops->pending ? st->low.ops->pending(&st->low) : 0);
}

static void ws_close(struct transport *t)
{
	struct ws_state *st = t->priv;
	if (st) {
		if (st->phase == WS_OPEN && !buf_len(&st->out) &&
				queue_frame(t, WS_OP_CLOSE, (const uint8_t[]){ 0x03, 0xE8 }, 2) > 0)
			(void)flush(t);     /* one try: a polite 1000 close, never waits */
		if (st->low.ops)
			st->low.ops->close(&st->low);
		buf_free(&st->in);
		buf_free(&st->out);
		xfree(st);
	}
	t->priv = NULL;
	t->fd = -1;
}

const struct transport_ops transport_ws = {
	"ws", ws_open, ws_handshake, ws_read, ws_write, ws_close, ws_pending
};
