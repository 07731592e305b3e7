/*
 * client_pin.c - a large PUBLISH written from the message's own bytes.
 *
 * A QoS 1 or 2 message is kept encoded (mqtt_msg.data) until the broker
 * acknowledges it, so copying it into the output buffer as well costs a
 * second copy of the payload and as much memory again: for a 10 MiB image,
 * 10 MiB more copied and resident per message. Instead, when nothing else
 * waits to be written, the client pins the message: its bytes go to the
 * socket straight from data, ahead of whatever the output buffer gathers
 * after them, so the order on the wire is the order the session sent.
 *
 * The message must outlive the pin. An acknowledgement cannot come before
 * the broker has the whole packet, but a broker may ack early and a
 * message may be dropped; then what is still to be written moves into the
 * output buffer first (client_pin_release). A connection that closes just
 * forgets the pin, as it forgets the output buffer.
 */
#include <errno.h>
#include <sys/socket.h>

#include "log.h"
#include "mqtt_client_impl.h"

/* below this the copy costs less than the second write a pin adds */
#define PIN_MIN_BYTES (64 * 1024)

int client_send_msg(struct mqtt_client *c, struct mqtt_msg *m)
{
	if (m->len < PIN_MIN_BYTES || c->pin_msg || buf_len(&c->out))
		return client_send(c, m->data, m->len);
	c->pin_msg = m;
	c->pin_off = 0;
	client_sent(c, m->data, m->len);
	return 0;
}

int client_pin_write(struct mqtt_client *c)
{
	while (c->pin_msg) {
		struct mqtt_msg *m = c->pin_msg;
		ssize_t w = c->tops->write(&c->tr, m->data + c->pin_off, m->len - c->pin_off);
		if (w <= 0) {
			if (w == 0)
				errno = EPIPE;  /* as flush_out reads it: lost, not "try later" */
			return -1;
		}
		c->pin_off += (size_t)w;
		c->last_sent = loop_now(c->loop);
		if (c->pin_off == m->len)
			c->pin_msg = NULL;
	}
	return 0;
}

void client_pin_release(struct mqtt_client *c, const struct mqtt_msg *m)
{
	struct buf b = BUF_INIT;
	if (m != c->pin_msg)
		return;
	c->pin_msg = NULL;
	if (buf_append(&b, m->data + c->pin_off, m->len - c->pin_off, SIZE_MAX) == 0 &&
			buf_append(&b, buf_head(&c->out), buf_len(&c->out), SIZE_MAX) == 0) {
		buf_free(&c->out);
		c->out = b;
		return;
	}
	/* Out of memory: the packet cannot be finished, and nothing may follow
	 * half a packet. Shut the socket; its next read or write fails and the
	 * connection ends the usual way (the session resends what it owes). */
	buf_free(&b);
	client_log(c, LOG_ERROR, "out of memory finishing a %zu-byte PUBLISH: closing the connection",
		m->len);
	buf_clear(&c->out);
	if (c->tr.fd >= 0)
		shutdown(c->tr.fd, SHUT_RDWR);
}
