/*
 * fuzz_client.c - libFuzzer target over the client state machine. A fake
 * broker in the same process (unix socket) accepts the client, reads its
 * CONNECT, answers CONNACK and then sends the fuzz input as the broker's
 * byte stream, while the client has a QoS 1 and a QoS 2 publish and a
 * subscription in flight. Whatever arrives, the client must neither crash
 * nor leak; it either keeps the session or closes the connection.
 *
 * Input: byte 0 picks the version (bit 0-1) and manual ack (bit 2); the
 * rest is the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "xalloc.h"

static struct loop *L;
static int lfd = -1;
static char path[108];

static void on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	(void)ud;
	/* exercise the re-entrant paths a script would take */
	if (ev->type == MQTT_EV_MESSAGE && ev->u.message.msg->qos > 0)
		mqtt_client_ack(c, ev->u.message.packet_id);
	if (ev->type == MQTT_EV_MESSAGE && ev->u.message.msg->payload.len == 7) {
		struct mqtt_pub_req r = { "echo", 4, ev->u.message.msg->payload.ptr, 7, 1, false, NULL, 0 };
		uint32_t mid;
		mqtt_client_publish(c, &r, &mid);
	}
}

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	log_set_level(0);
	L = loop_new();
	snprintf(path, sizeof path, "/tmp/lia-fuzz-%d.sock", (int)getpid());
	unlink(path);
	strcpy(sa.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 8) < 0)
		abort();
}

static int accept_one(void)
{
	for (int i = 0; i < 1000; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fd >= 0)
			return fd;
		loop_run_once(L, 1);
	}
	return -1;
}

/* Read until the client's CONNECT has arrived (its size is in byte 1..). */
static void read_connect(int fd)
{
	uint8_t b[512];
	for (int i = 0; i < 1000; i++) {
		if (recv(fd, b, sizeof b, 0) > 0)
			return;
		loop_run_once(L, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t versions[] = { 4, 5, 3, 5 };
	static const uint8_t connack4[] = { 0x20, 0x02, 0x00, 0x00 };
	static const uint8_t connack5[] = { 0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x02 };
	char uri[128], err[200];
	if (!L)
		setup();
	if (size < 1)
		return 0;
	struct mqtt_client_opts o = { 0 };
	snprintf(uri, sizeof uri, "unix://%s", path);
	o.uri = uri;
	o.client_id = "fuzz";
	o.version = versions[data[0] & 3];
	o.clean = true;
	o.keepalive = 60;
	o.manual_ack = data[0] & 4;
	o.max_packet_size = 4096;
	struct mqtt_client *c = mqtt_client_new(L, &o, NULL, err, sizeof err);
	if (!c)
		abort();
	mqtt_client_set_handler(c, on_event, NULL);
	struct mqtt_pub_req r1 = { "t/1", 3, (const uint8_t *)"one", 3, 1, false, NULL, 0 };
	struct mqtt_pub_req r2 = { "t/2", 3, (const uint8_t *)"two", 3, 2, true, NULL, 0 };
	struct mqtt_sub_item it = { { (const uint8_t *)"t/#", 3 }, 2 };
	uint32_t mid;
	mqtt_client_publish(c, &r1, &mid);
	mqtt_client_publish(c, &r2, &mid);
	mqtt_client_subscribe(c, &it, 1, NULL, 0, &mid);
	mqtt_client_connect(c);
	int fd = accept_one();
	if (fd >= 0) {
		read_connect(fd);
		if (o.version == 5)
			(void)!send(fd, connack5, sizeof connack5, MSG_NOSIGNAL);
		else
			(void)!send(fd, connack4, sizeof connack4, MSG_NOSIGNAL);
		(void)!send(fd, data + 1, size - 1, MSG_NOSIGNAL);
		for (int i = 0; i < 8; i++) {
			uint8_t sink[4096];
			loop_run_once(L, 0);
			while (recv(fd, sink, sizeof sink, 0) > 0)
				;
		}
		close(fd);
	}
	mqtt_client_free(c);
	loop_run_once(L, 0);    /* lets the loop release cancelled timers */
	/* The loop keeps its fd table and hook array once grown; after the
	 * first run every client must give back all it took. */
	static long base = -1;
	if (base < 0)
		base = xalloc_live();
	if (xalloc_live() != base)
		abort();    /* something outlived the client */
	return 0;
}
