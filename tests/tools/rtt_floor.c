/*
 * rtt_floor.c - the round trip no client can beat through this broker on
 * this machine, for tests/bench.py: one blocking socket, lia's codec, no
 * event loop, no timers, no language runtime. It publishes, sleeps in
 * recv until its own message comes back (acknowledging a QoS 1 one after
 * the sample is taken, as a handler runs before the PUBACK is sent), and
 * prints the median and 99th percentile in microseconds the way the
 * bench's Lua client does:
 *
 *   rtt_floor PORT N QOS SIZE [epoll]   ->   "rtt P50 P99"
 *
 * What is left is the kernel's (two writes, two wake-ups) and the
 * broker's; what a client adds shows as its distance from this row.
 * With "epoll" the socket is non-blocking and each wait is an epoll_wait
 * before the recv, as in an event loop (lia's, Redis's, libuv's): the
 * floor of a client that must also watch other sockets and timers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mqtt_codec.h"

#define TOPIC "bench/rtt/floor"
#define BUF_BYTES 65536

static int fd = -1;
static int ep = -1;            /* epoll mode: the set fd is in */
static uint8_t in[BUF_BYTES];
static size_t have;

static void die(const char *what)
{
	fprintf(stderr, "rtt_floor: %s\n", what);
	exit(1);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void send_packet(const struct mqtt_packet *p)
{
	uint8_t out[BUF_BYTES];
	size_t n = mqtt_encode(p, MQTT_V311, out, sizeof out);
	if (n == 0)
		die("cannot encode a packet");
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, out + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			die("send failed");
		off += (size_t)w;
	}
}

/* The next whole packet, read as it comes; it points into in[] until the
 * next call. */
static void next_packet(struct mqtt_packet *p)
{
	static size_t used;
	memmove(in, in + used, have - used);
	have -= used;
	used = 0;
	for (;;) {
		int rc = have ? mqtt_decode(in, have, MQTT_V311, BUF_BYTES, p, &used) : MQTT_INCOMPLETE;
		if (rc == MQTT_OK)
			return;
		if (rc != MQTT_INCOMPLETE)
			die(mqtt_result_name(rc));
		if (have == sizeof in)
			die("packet larger than the buffer");
		if (ep >= 0) {
			struct epoll_event ev;
			if (epoll_wait(ep, &ev, 1, -1) < 0)
				die("epoll_wait failed");
		}
		ssize_t r = recv(fd, in + have, sizeof in - have, 0);
		if (r < 0 && ep >= 0 && errno == EAGAIN)
			continue;
		if (r <= 0)
			die("the broker closed the connection");
		have += (size_t)r;
	}
}

static void await(uint8_t type)
{
	struct mqtt_packet p;
	do
		next_packet(&p);
	while (p.type != type);
}

static void session(int port, int qos, bool use_epoll)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("cannot connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (use_epoll) {
		struct epoll_event ev = { .events = EPOLLIN };
		ep = epoll_create1(0);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ||
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			die("cannot set up epoll");
	}

	struct mqtt_packet p = { .type = MQTT_CONNECT };
	p.u.connect.version = MQTT_V311;
	p.u.connect.clean = true;
	p.u.connect.keepalive = 60;
	p.u.connect.client_id = (struct mqtt_str){ (const uint8_t *)"bench-floor-rtt", 15 };
	send_packet(&p);
	await(MQTT_CONNACK);

	struct mqtt_sub_item item = { { (const uint8_t *)TOPIC, sizeof TOPIC - 1 }, (uint8_t)qos };
	memset(&p, 0, sizeof p);
	p.type = MQTT_SUBSCRIBE;
	p.u.subscribe.packet_id = 1;
	p.u.subscribe.items = &item;
	p.u.subscribe.count = 1;
	send_packet(&p);
	await(MQTT_SUBACK);
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "epoll") != 0)) {
		fprintf(stderr, "usage: rtt_floor PORT N QOS SIZE [epoll]\n");
		return 2;
	}
	int port = atoi(argv[1]), qos = atoi(argv[3]);
	long n = atol(argv[2]), size = atol(argv[4]);
	if (n < 1 || n > 10000000 || (qos != 0 && qos != 1) || size < 0 || size > BUF_BYTES / 2)
		die("bad arguments");
	uint8_t *payload = malloc((size_t)size + 1);
	uint64_t *samples = malloc((size_t)n * sizeof *samples);
	if (!payload || !samples)
		die("out of memory");
	memset(payload, 'x', (size_t)size);
	session(port, qos, argc == 6);

	for (long i = 0; i < n; i++) {
		struct mqtt_packet p = { .type = MQTT_PUBLISH, .flags = (uint8_t)(qos << 1) };
		p.u.publish.qos = (uint8_t)qos;
		p.u.publish.packet_id = qos ? (uint16_t)(i % 65535 + 1) : 0;
		p.u.publish.topic = (struct mqtt_str){ (const uint8_t *)TOPIC, sizeof TOPIC - 1 };
		p.u.publish.payload = (struct mqtt_str){ payload, (size_t)size };
		uint64_t t0 = now_us();
		send_packet(&p);
		do
			next_packet(&p);    /* our PUBACK may come first */
		while (p.type != MQTT_PUBLISH);
		samples[i] = now_us() - t0;
		if (p.u.publish.qos == 1) {
			struct mqtt_packet ack = { .type = MQTT_PUBACK };
			ack.u.ack.packet_id = p.u.publish.packet_id;
			send_packet(&ack);
		}
	}
	qsort(samples, (size_t)n, sizeof *samples, cmp);
	/* as the Lua client: the (n/2+1)th and the ceil(0.99 n)th, 1-based */
	long p99 = (n * 99 + 99) / 100;
	printf("rtt %llu %llu\n", (unsigned long long)samples[n / 2],
		(unsigned long long)samples[(p99 < 1 ? 1 : p99) - 1]);
	close(fd);
	free(payload);
	free(samples);
	return 0;
}
