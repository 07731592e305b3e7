/*
 * test_ws.c - MQTT over WebSocket: the frame codec on byte vectors; the
 * client against an in-process scripted WebSocket server (handshake checks,
 * ping/pong, fragmented frames with a ping in between, close, oversize and
 * text frames); QoS 0/1/2 round trips over ws:// and wss:// through a real
 * WebSocket peer (tests/tls/ws_bridge.py, python3-websockets) in front of
 * mosquitto, fragmenting and pinging; and unix:// to mosquitto's unix
 * socket listener.
 */
#include <poll.h>

#include "net_fixture.h"
#include "ws_frame.h"

/* ---- codec ---- */

static void test_header_lengths(void)
{
	static const struct { uint64_t len; size_t hlen; uint8_t b1; } v[] = {
		{ 0, 2, 0 }, { 125, 2, 125 }, { 126, 4, 126 }, { 65535, 4, 126 }, { 65536, 10, 127 },
		{ 0x123456789ull, 10, 127 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t h[WS_MAX_HEADER];
		struct ws_frame f;
		size_t n = ws_frame_header(h, true, WS_OP_BINARY, v[i].len, NULL);
		CHECK_EQ_INT(n, v[i].hlen);
		CHECK_EQ_INT(h[0], 0x82);
		CHECK_EQ_INT(h[1], v[i].b1);
		CHECK_EQ_INT(ws_frame_decode(h, n, UINT64_MAX >> 1, &f), (int)n);
		CHECK(f.len == v[i].len && f.fin && !f.masked && f.opcode == WS_OP_BINARY);
		for (size_t k = 0; k < n; k++)     /* every prefix is incomplete */
			CHECK_EQ_INT(ws_frame_decode(h, k, UINT64_MAX >> 1, &f), WS_INCOMPLETE);
	}
	uint8_t h[WS_MAX_HEADER];
	CHECK_EQ_INT(ws_frame_header(h, false, WS_OP_CONT, 256, (const uint8_t *)"\1\2\3\4"), 8);
	CHECK_MEM(h, "\x00\xFE\x01\x00\1\2\3\4", 8);
}

static void test_decode_rejects(void)
{
	struct ws_frame f;
	static const struct { const char *b; size_t n; int want; } v[] = {
		{ "\xC2\x00", 2, WS_MALFORMED },              /* RSV1 */
		{ "\x83\x00", 2, WS_MALFORMED },              /* opcode 3 */
		{ "\x8B\x00", 2, WS_MALFORMED },              /* opcode 0xB */
		{ "\x89\x7E\x00\x7E", 4, WS_MALFORMED },      /* ping of 126 bytes */
		{ "\x09\x00", 2, WS_MALFORMED },              /* fragmented ping */
		{ "\x82\x7E\x00\x10", 4, WS_MALFORMED },      /* 16 in 16 bits: not minimal */
		{ "\x82\x7F\x00\x00\x00\x00\x00\x00\xFF\xFF", 10, WS_MALFORMED },  /* 64-bit, not minimal */
		{ "\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x00", 10, WS_MALFORMED },  /* top bit */
		{ "\x82\x7F\x00\x00\x01\x00\x00\x00\x00\x00", 10, WS_TOO_BIG },    /* 1 TiB */
		{ "\x82\x7E\x10\x00", 4, WS_TOO_BIG },        /* 4096 > cap 1000 */
		{ "\x8A\x82\x01\x02\x03\x04", 6, 6 },         /* masked pong, header only */
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		CHECK_EQ_INT(ws_frame_decode((const uint8_t *)v[i].b, v[i].n, 1000, &f), v[i].want);
	CHECK(f.masked && f.len == 2 && !memcmp(f.mask, "\1\2\3\4", 4));
}

static void test_mask_in_pieces(void)
{
	uint8_t whole[11] = "hello world", parts[11];
	const uint8_t m[4] = { 0x11, 0x22, 0x33, 0x44 };
	memcpy(parts, whole, 11);
	ws_mask(whole, 11, m, 0);
	ws_mask(parts, 3, m, 0);
	ws_mask(parts + 3, 8, m, 3);
	CHECK_MEM(whole, parts, 11);
	CHECK_EQ_INT(whole[0], 'h' ^ 0x11);
	CHECK_EQ_INT(whole[5], ' ' ^ 0x22);
	ws_mask(whole, 11, m, 0);
	CHECK_MEM(whole, "hello world", 11);
}

static void test_accept_key(void)
{
	char out[29];
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);     /* RFC 6455 section 1.3 */
	CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

/* ---- in-process scripted server ---- */

static int srv_lfd, srv_fd = -1, srv_port;
static uint8_t srv_buf[65536];
static size_t srv_len;

static void srv_listen(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	srv_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bind(srv_lfd, (struct sockaddr *)&sa, sizeof sa);
	listen(srv_lfd, 4);
	getsockname(srv_lfd, (struct sockaddr *)&sa, &len);
	srv_port = ntohs(sa.sin_port);
}

static bool srv_accept(void)
{
	for (int i = 0; i < 300 && srv_fd < 0; i++) {
		srv_fd = accept4(srv_lfd, NULL, NULL, SOCK_NONBLOCK);
		loop_run_once(FL, 10);
	}
	srv_len = 0;
	return srv_fd >= 0;
}

static void srv_close(void)
{
	if (srv_fd >= 0)
		close(srv_fd);
	srv_fd = -1;
	srv_len = 0;
}

/* Turn the loop and read until pred says the buffer is complete. */
static bool srv_read_until(bool (*done)(void), int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	while (!done()) {
		if (loop_clock_ns() / 1000000 >= end)
			return false;
		ssize_t n = recv(srv_fd, srv_buf + srv_len, sizeof srv_buf - srv_len - 1, 0);
		if (n > 0)
			srv_len += (size_t)n;
		else if (n == 0)
			return false;
		loop_run_once(FL, 2);
	}
	return true;
}

static bool have_request(void)
{
	srv_buf[srv_len] = '\0';
	return strstr((char *)srv_buf, "\r\n\r\n") != NULL;
}

static struct ws_frame srv_frame;
static uint8_t srv_payload[4096];

static bool have_frame(void)
{
	int h = ws_frame_decode(srv_buf, srv_len, sizeof srv_payload, &srv_frame);
	return h > 0 && srv_len >= (size_t)h + srv_frame.len;
}

/* Next frame from the client, unmasked into srv_payload; its opcode or -1. */
static int srv_expect_frame(void)
{
	if (!srv_read_until(have_frame, 2000))
		return -1;
	int h = ws_frame_decode(srv_buf, srv_len, sizeof srv_payload, &srv_frame);
	CHECK(srv_frame.masked);
	memcpy(srv_payload, srv_buf + h, (size_t)srv_frame.len);
	ws_mask(srv_payload, (size_t)srv_frame.len, srv_frame.mask, 0);
	srv_len -= (size_t)h + (size_t)srv_frame.len;
	memmove(srv_buf, srv_buf + (size_t)h + srv_frame.len, srv_len);
	return srv_frame.opcode;
}

static void srv_send(const void *p, size_t n)
{
	CHECK(send(srv_fd, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}

static void srv_send_frame(bool fin, uint8_t op, const void *p, size_t n)
{
	uint8_t h[WS_MAX_HEADER];
	srv_send(h, ws_frame_header(h, fin, op, n, NULL));
	if (n)
		srv_send(p, n);
}

/* Answer the upgrade request; extra goes before the blank line. */
static void srv_upgrade(const char *status, const char *extra, bool good_accept)
{
	char key[64] = "", accept[29], resp[512];
	CHECK(srv_read_until(have_request, 2000));
	const char *k = strstr((char *)srv_buf, "Sec-WebSocket-Key: ");
	if (k)
		sscanf(k + 19, "%63[^\r]", key);
	ws_accept_key(key, accept);
	if (!good_accept)
		accept[3] ^= 1;
	snprintf(resp, sizeof resp, "HTTP/1.1 %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: %s\r\n%s\r\n", status, accept, extra);
	srv_len = 0;
	srv_send(resp, strlen(resp));
}

static struct mqtt_client *ws_client(const char *headers)
{
	char uri[64], err[256];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	o.ws.headers = headers;
	snprintf(uri, sizeof uri, "ws://127.0.0.1:%d/mqtt", srv_port);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK(c != NULL);
	mqtt_client_connect(c);
	CHECK(srv_accept());
	return c;
}

static void test_handshake_and_frames(void)
{
	struct mqtt_client *c = ws_client("X-Token: abc\nX-Other: 1\r\n");
	CHECK(srv_read_until(have_request, 2000));
	const char *req = (const char *)srv_buf;
	CHECK(strncmp(req, "GET /mqtt HTTP/1.1\r\n", 20) == 0);
	CHECK(strstr(req, "\r\nSec-WebSocket-Protocol: mqtt\r\n"));
	CHECK(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
	CHECK(strstr(req, "\r\nUpgrade: websocket\r\n"));
	CHECK(strstr(req, "\r\nX-Token: abc\r\nX-Other: 1\r\n"));
	srv_upgrade("101 Switching Protocols", "Sec-WebSocket-Protocol: mqtt\r\n", true);
	CHECK_EQ_INT(srv_expect_frame(), WS_OP_BINARY);
	CHECK_EQ_INT(srv_payload[0], 0x10);     /* CONNECT */

	srv_send_frame(true, WS_OP_PING, "hi", 2);
	CHECK_EQ_INT(srv_expect_frame(), WS_OP_PONG);
	CHECK(srv_frame.len == 2 && !memcmp(srv_payload, "hi", 2));

	/* CONNACK in three fragments, a ping between them, and a PINGRESP
	 * packed into the same final frame: framing is independent of packets */
	srv_send_frame(false, WS_OP_BINARY, "\x20", 1);
	srv_send_frame(true, WS_OP_PING, "", 0);
	srv_send_frame(false, WS_OP_CONT, "\x02\x00", 2);
	srv_send_frame(true, WS_OP_CONT, "\x00", 1);
	CHECK(fx_until(&FE.connects, 1, 2000));
	CHECK_EQ_INT(srv_expect_frame(), WS_OP_PONG);

	/* a 16-bit length frame: a 300-byte PUBLISH to us */
	uint8_t pub[300] = { 0x30, 0xA9, 0x02, 0x00, 0x01, 't' };
	memset(pub + 6, 'x', sizeof pub - 6);
	srv_send_frame(true, WS_OP_BINARY, pub, sizeof pub);
	CHECK(fx_until(&FE.messages, 1, 2000));
	CHECK_EQ_INT(FE.payload_len, 294);

	srv_send_frame(true, WS_OP_CLOSE, "\x03\xE9going away", 12);
	CHECK(fx_until(&FE.disconnects, 1, 2000));
	CHECK(strstr(FE.disconnect, "closed by broker: code 1001 going away"));
	CHECK_EQ_INT(srv_expect_frame(), WS_OP_CLOSE);
	CHECK(srv_frame.len == 2 && srv_payload[0] == 0x03 && srv_payload[1] == 0xE9);
	mqtt_client_free(c);
	srv_close();
}

/* Connected client; the server then sends raw bytes; the disconnect message. */
static void after_connack(const void *bytes, size_t n, const char *want)
{
	struct mqtt_client *c = ws_client(NULL);
	srv_upgrade("101 Switching Protocols", "", true);
	CHECK_EQ_INT(srv_expect_frame(), WS_OP_BINARY);
	srv_send_frame(true, WS_OP_BINARY, "\x20\x02\x00\x00", 4);
	CHECK(fx_until(&FE.connects, 1, 2000));
	srv_send(bytes, n);
	CHECK(fx_until(&FE.disconnects, 1, 2000));
	if (!strstr(FE.disconnect, want)) {
		fprintf(stderr, "    expected \"%s\" in: %s\n", want, FE.disconnect);
		CHECK(0);
	}
	mqtt_client_free(c);
	srv_close();
}

static void test_bad_frames(void)
{
	after_connack("\x82\x7F\x00\x00\x01\x00\x00\x00\x00\x00", 10, "over the limit");
	after_connack("\x81\x01x", 3, "text frame");
	after_connack("\x80\x01x", 3, "continuation frame without a message");
	after_connack("\x82\x81\x01\x02\x03\x04x", 7, "masked frame");
	after_connack("\xF2\x00", 2, "malformed frame");
}

static void refused(const char *status, const char *extra, bool good_accept, const char *want)
{
	struct mqtt_client *c = ws_client(NULL);
	srv_upgrade(status, extra, good_accept);
	CHECK(fx_until(&FE.disconnects, 1, 2000));
	if (!strstr(FE.disconnect, want)) {
		fprintf(stderr, "    expected \"%s\" in: %s\n", want, FE.disconnect);
		CHECK(0);
	}
	CHECK_EQ_INT(FE.connects, 0);
	mqtt_client_free(c);
	srv_close();
}

static void test_bad_upgrades(void)
{
	refused("404 Not Found", "", true, "upgrade refused: HTTP 404 Not Found");
	refused("101 Switching Protocols", "", false, "Sec-WebSocket-Accept");
	refused("101 Switching Protocols", "Sec-WebSocket-Protocol: chat\r\n", true, "subprotocol \"chat\"");
}

static void test_bad_ws_options(void)
{
	char err[256];
	struct mqtt_client_opts o = { .uri = "ws://127.0.0.1:1", .clean = true };
	o.ws.headers = "no colon here";
	CHECK(fx_client(&o, err, sizeof err) == NULL);
	CHECK(strstr(err, "bad WebSocket header line"));
	o.ws.headers = NULL;
	o.ws.path = "mqtt";
	CHECK(fx_client(&o, err, sizeof err) == NULL);
}

/* ---- a real WebSocket peer ---- */

static int mqtt_port, ws_port, wss_port, wsfrag_port;
static pid_t ws_pid, wss_pid, wsfrag_pid;

static pid_t bridge(int port, bool tls, const char *extra1, const char *extra2)
{
	char wp[16], mp[16];
	snprintf(wp, sizeof wp, "%d", port);
	snprintf(mp, sizeof mp, "%d", mqtt_port);
	char *argv[12] = { "/usr/bin/python3", (char *)fx_path("ws_bridge.py"), wp, mp };
	int n = 4;
	if (tls) {
		argv[n++] = "--cert";
		argv[n++] = (char *)fx_path("server.crt");
		argv[n++] = "--key";
		argv[n++] = (char *)fx_path("server.key");
	}
	if (extra1)
		argv[n++] = (char *)extra1;
	if (extra2)
		argv[n++] = (char *)extra2;
	argv[n] = NULL;
	pid_t pid = fx_spawn("bridge.log", argv);
	return fx_wait_ready(pid, port, NULL) ? pid : 0;
}

static bool start_peers(void)
{
	char conf[512], cmd[1200];
	mqtt_port = fx_free_port();
	snprintf(conf, sizeof conf, "allow_anonymous true\nlistener %d 127.0.0.1\nlistener 0 %s\n",
		mqtt_port, fx_path("mqtt.sock"));
	if (!fx_mosquitto("broker", mqtt_port, conf))
		return false;
	snprintf(cmd, sizeof cmd, "cp '%s/tests/tls/ws_bridge.py' '%s/'", fx_root, fx_dir);
	if (system(cmd) != 0)
		return false;
	ws_port = fx_free_port();
	wss_port = fx_free_port();
	wsfrag_port = fx_free_port();
	return (ws_pid = bridge(ws_port, false, "--ping", "0.05")) &&
		(wss_pid = bridge(wss_port, true, NULL, NULL)) &&
		(wsfrag_pid = bridge(wsfrag_port, false, "--fragment", "3"));
}

/* Each bridge answers on its own port and no other's: fx_free_port hands
 * out a port once, and fx_wait_ready waits for the peer's own listener
 * (once, the fragmenting bridge's port answered with the TLS one's). */
static void test_bridges_own_their_ports(void)
{
	const int port[] = { ws_port, wss_port, wsfrag_port };
	const pid_t pid[] = { ws_pid, wss_pid, wsfrag_pid };
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			CHECK(i == j || port[i] != port[j]);
			CHECK_EQ_INT(fx_listens(pid[i], port[j]), i == j);
		}
}

static void round_trips(const char *uri_fmt, int port, bool tls)
{
	char uri[96], err[256], big[3000];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	if (tls)
		o.tls.ca_file = fx_path("ca.crt");
	snprintf(uri, sizeof uri, uri_fmt, port);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	if (!c) {
		fprintf(stderr, "    %s\n", err);
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(fx_connect(c, 3000), 1);
	CHECK(fx_round_trip(c, "lia/ws/0", "qos zero", 8, 0));
	CHECK(fx_round_trip(c, "lia/ws/1", "qos one", 7, 1));
	CHECK(fx_round_trip(c, "lia/ws/2", "qos two", 7, 2));
	memset(big, 'b', sizeof big);       /* a 16-bit length frame each way */
	CHECK(fx_round_trip(c, "lia/ws/big", big, sizeof big, 1));
	fx_turn(400);                       /* pings every 50 ms: unanswered, the bridge drops us after 200 */
	CHECK(mqtt_client_connected(c));
	CHECK_EQ_INT(FE.disconnects, 0);
	mqtt_client_free(c);
}

static void test_ws_round_trips(void)
{
	round_trips("ws://127.0.0.1:%d/mqtt", ws_port, false);
}

static void test_wss_round_trips(void)
{
	round_trips("wss://localhost:%d/mqtt", wss_port, true);
}

static void test_ws_fragmented_round_trips(void)
{
	round_trips("ws://127.0.0.1:%d", wsfrag_port, false);
}

static void test_wss_verifies(void)
{
	char uri[96], err[256];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	o.tls.ca_file = fx_path("ca2.crt");
	snprintf(uri, sizeof uri, "wss://localhost:%d/mqtt", wss_port);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK_EQ_INT(fx_connect(c, 3000), 0);
	CHECK(strstr(FE.disconnect, "unknown CA"));
	mqtt_client_free(c);
}

static void test_unix_round_trip(void)
{
	char uri[300], err[256];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	snprintf(uri, sizeof uri, "unix://%s", fx_path("mqtt.sock"));
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK(c != NULL);
	CHECK_EQ_INT(fx_connect(c, 3000), 1);
	CHECK(fx_round_trip(c, "lia/unix/1", "over unix", 9, 1));
	CHECK(fx_round_trip(c, "lia/unix/2", "over unix", 9, 2));
	mqtt_client_free(c);
}

int main(int argc, char **argv)
{
	(void)argc;
	RUN(test_header_lengths);
	RUN(test_decode_rejects);
	RUN(test_mask_in_pieces);
	RUN(test_accept_key);
	if (!fx_setup(argv[0], true)) {
		test_failed++;
		return test_report("ws");
	}
	srv_listen();
	RUN(test_handshake_and_frames);
	RUN(test_bad_frames);
	RUN(test_bad_upgrades);
	RUN(test_bad_ws_options);
	close(srv_lfd);
	if (!fx_have("mosquitto") || system("/usr/bin/python3 -c 'import websockets' 2>/dev/null") != 0) {
		fprintf(stderr, "test_ws needs mosquitto and python3-websockets\n");
		test_failed++;
	} else if (!start_peers()) {
		fprintf(stderr, "cannot start mosquitto or the WebSocket bridge (see %s)\n", fx_dir);
		test_failed++;
	} else {
		RUN(test_bridges_own_their_ports);
		RUN(test_ws_round_trips);
		RUN(test_wss_round_trips);
		RUN(test_ws_fragmented_round_trips);
		RUN(test_wss_verifies);
		RUN(test_unix_round_trip);
	}
	fx_cleanup();
	return test_report("ws");
}
