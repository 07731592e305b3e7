/*
 * conformance.c - the mosquitto client-sequence corpus, played against our
 * client. For each case the runner is the fake broker on a loopback socket
 * in the same process and drives a fresh mqtt_client on a fresh loop:
 *
 *   [read CONNECT] [send CONNACK] [command] group_msgs msgs  verdict
 *
 * `send` writes the corpus bytes as they are (packet ids remapped, below).
 * `recv` reads one whole packet and compares it field by field (type,
 * flags, packet id, topic, payload, filters, options, reason code), never
 * byte by byte: our client's own choices (client id, keep-alive, the
 * properties it adds or omits) legitimately differ from the original's, so
 * properties are not compared.
 *
 * Packet ids: the corpus assumes the ids the original client picked (0001
 * for its first PUBLISH/UNSUBSCRIBE). When a `recv` shows the client chose
 * another id A where the corpus has E, E and A are swapped from then on in
 * the packet id of every acknowledgement the broker sends (PUBACK, PUBREC,
 * PUBCOMP, SUBACK, UNSUBACK: the client's id space; PUBLISH and PUBREL
 * carry the broker's own ids and are left alone) and in later expected
 * acks. Swapping, not replacing, keeps "an id the client did not use" an
 * unused id. The remap is applied to bytes of malformed packets too, at
 * the position a well-formed one would carry its id.
 *
 * Verdict (mosquitto's own check, made strict): the broker sends PUBLISH
 * QoS 1 id 65535 "alive check" and reads packets until a PUBACK for 65535
 * with reason 0 (connected) or the end of the stream / a reset
 * (disconnect). Anything else the client sends meanwhile (a v5 DISCONNECT
 * with a reason code) is noted. Neither within the verdict timeout: hang.
 * The client's connect timeout is longer than the verdict timeout, so a
 * client that ignores a bad packet while waiting for CONNACK is not mistaken
 * for one that closed because of it.
 *
 * "connect": false leaves the client's CONNECT unread, as the original
 * runner does; the verdict skips it. "publish" messages (a helper
 * publishing through a real broker) do not occur in the corpus and end
 * the case as an error if they ever do.
 *
 * Waivers: tests/conformance/WAIVERS.md (format in waivers.h). A waived
 * case that fails counts as passed and is listed as WAIVED; a waived case
 * that passes, or a waiver naming no case, is listed as STALE WAIVER.
 */
#include <errno.h>
#include <getopt.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "mqtt_codec.h"
#include "waivers.h"
#include "xalloc.h"

#define DEFAULT_DIR "../shared/conformance/mosquitto-client-sequences"
#define WAIVERS_PATH "tests/conformance/WAIVERS.md"
#define STEP_MS 2000            /* accept, CONNECT, one recv */
#define CONNECT_TIMEOUT_MS 6000 /* > verdict timeout, see above */
#define MAX_IDMAP 8
#define DETAIL 600

struct opts {
	const char *filter;
	int verdict_ms;
};

/* One case, resolved: group values overridden by the test's own. */
/* Typed members of a corpus object (Debian's libcjson): def when absent
 * or of another type. */
static const cJSON *json_get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static const char *json_get_str(const cJSON *obj, const char *key, const char *def)
{
	const cJSON *m = json_get(obj, key);
	return cJSON_IsString(m) ? m->valuestring : def;
}

static int json_get_bool(const cJSON *obj, const char *key, int def)
{
	const cJSON *m = json_get(obj, key);
	return cJSON_IsBool(m) ? cJSON_IsTrue(m) : def;
}

static double json_get_num(const cJSON *obj, const char *key, double def)
{
	const cJSON *m = json_get(obj, key);
	return cJSON_IsNumber(m) ? m->valuedouble : def;
}

/* "line N: bad JSON" for a document cJSON could not parse. */
static void json_error(const char *text, size_t len, char *err, size_t errlen)
{
	const char *at = cJSON_GetErrorPtr();
	int line = 1;
	if (!at || at < text || at > text + len)
		at = text;
	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	snprintf(err, errlen, "line %d: bad JSON", line);
}

struct tcase {
	const char *file, *group, *name, *command;
	uint8_t version;
	bool clean, connect, connack, expect_disconnect;
	const cJSON *msgs[2];     /* group_msgs, msgs (arrays or NULL) */
};

enum outcome { OUT_DISCONNECT, OUT_CONNECTED, OUT_HANG, OUT_ERROR };
static const char *const outcome_name[] = { "disconnect", "connected", "hang", "error" };

struct fake {
	struct loop *L;
	struct mqtt_client *c;
	int fd;
	bool eof;
	uint8_t version;
	uint8_t in[65536];
	size_t inlen;
	uint16_t map_from[MAX_IDMAP], map_to[MAX_IDMAP];
	int nmap;
	bool recv_failed;
	char detail[DETAIL];    /* what went wrong, "; "-separated */
	char client_said[256];  /* the client's own disconnect line */
};

static bool verbose;

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	return loop_clock_ns() / 1000000;
}

static void note(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct fake *f, const char *fmt, ...)
{
	size_t n = strlen(f->detail);
	va_list ap;
	if (n && n + 2 < sizeof f->detail) {
		memcpy(f->detail + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(f->detail + n, sizeof f->detail - n, fmt, ap);
	va_end(ap);
}

/* Hex text (spaces ignored) to bytes; -1 on a bad digit or overflow. */
static long hex_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int half = -1;
	for (; *s; s++) {
		int v;
		if (*s == ' ')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (half < 0) {
			half = v;
			continue;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)(half << 4 | v);
		half = -1;
	}
	return half < 0 ? (long)n : -1;
}

static void hex_format(const uint8_t *b, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%02X", i ? " " : "", b[i]);
	if (n && o + 4 >= cap)
		snprintf(out + (cap > 5 ? cap - 5 : 0), cap > 5 ? 5 : cap, "...");
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 > cap) {
			char *nb = xrealloc(buf, cap = cap * 2 + 8192);
			if (!nb)
				break;
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, fp);
		n += r;
		if (r == 0)
			break;
	}
	fclose(fp);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- the fake broker's socket ---- */

static void on_fake_read(struct loop *l, int fd, int events, void *ud)
{
	struct fake *f = ud;
	(void)events;
	for (;;) {
		if (f->inlen == sizeof f->in) {
			f->inlen = 0;    /* a client flooding us: drop, the verdict will tell */
			note(f, "more than %zu unread bytes from the client", sizeof f->in);
		}
		ssize_t n = recv(fd, f->in + f->inlen, sizeof f->in - f->inlen, 0);
		if (n > 0) {
			f->inlen += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		f->eof = true;   /* 0: closed; ECONNRESET and friends: closed too */
		loop_unwatch(l, fd);
		return;
	}
}

static void fake_send(struct fake *f, const uint8_t *b, size_t n)
{
	/* A client that already closed (as it should after a bad packet) makes
	 * this fail; the verdict reports the close. */
	if (!f->eof && send(f->fd, b, n, MSG_NOSIGNAL) != (ssize_t)n && verbose)
		printf("    send: %s\n", strerror(errno));
}

/* Turn the loop until the client sent one whole packet: 1 and *p decoded
 * from a copy in pkt; 0 on close; -1 timeout; -2 bytes our codec rejects
 * (skipped by their fixed header, reported in detail). */
static int fake_next(struct fake *f, int ms, struct mqtt_packet *p, uint8_t *pkt, size_t *plen)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		size_t used = 0;
		if (f->inlen) {
			int r = mqtt_decode(f->in, f->inlen, f->version, 0, p, &used);
			if (r == MQTT_OK) {
				memcpy(pkt, f->in, used);
				*plen = used;
				mqtt_decode(pkt, used, f->version, 0, p, &used);
				memmove(f->in, f->in + used, f->inlen - used);
				f->inlen -= used;
				return 1;
			}
			if (r != MQTT_INCOMPLETE) {
				uint8_t first;
				uint32_t rem;
				size_t hl;
				char hex[200];
				if (mqtt_decode_fixed_header(f->in, f->inlen, &first, &rem, &hl) == MQTT_OK
					&& hl + rem <= f->inlen)
					used = hl + rem;
				else
					used = f->inlen;
				hex_format(f->in, used, hex, sizeof hex);
				note(f, "client sent bytes our codec calls %s: %s", mqtt_result_name(r), hex);
				memmove(f->in, f->in + used, f->inlen - used);
				f->inlen -= used;
				return -2;
			}
		}
		if (f->eof)
			return 0;
		uint64_t t = now_ms();
		if (t >= end)
			return -1;
		loop_run_once(f->L, (int)(end - t < 10 ? end - t : 10));
	}
}

/* ---- packet ids ---- */

static uint16_t map_id(const struct fake *f, uint16_t id)
{
	for (int i = 0; i < f->nmap; i++) {
		if (id == f->map_from[i])
			return f->map_to[i];
		if (id == f->map_to[i])
			return f->map_from[i];
	}
	return id;
}

static void learn_id(struct fake *f, uint16_t corpus, uint16_t actual)
{
	if (corpus == actual || map_id(f, corpus) != corpus || f->nmap == MAX_IDMAP)
		return;
	f->map_from[f->nmap] = corpus;
	f->map_to[f->nmap++] = actual;
}

/* Remap the id of each broker-to-client acknowledgement in b. */
static void remap_send(const struct fake *f, uint8_t *b, size_t n)
{
	size_t off = 0;
	while (off < n) {
		uint8_t first;
		uint32_t rem;
		size_t hl;
		if (mqtt_decode_fixed_header(b + off, n - off, &first, &rem, &hl) != MQTT_OK)
			return;
		int type = first >> 4;
		bool ack = type == MQTT_PUBACK || type == MQTT_PUBREC || type == MQTT_PUBCOMP
			|| type == MQTT_SUBACK || type == MQTT_UNSUBACK;
		if (ack && rem >= 2 && off + hl + 2 <= n) {
			uint8_t *id = b + off + hl;
			uint16_t v = map_id(f, (uint16_t)(id[0] << 8 | id[1]));
			id[0] = (uint8_t)(v >> 8);
			id[1] = (uint8_t)v;
		}
		if (rem > n - off - hl)
			return;
		off += hl + rem;
	}
}

/* ---- recv: compare what the client sent with the corpus, field by field ---- */

static bool str_eq(struct mqtt_str a, struct mqtt_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Returns NULL when equal, else what differs. want's ids are corpus ids. */
static const char *packet_diff(struct fake *f, const struct mqtt_packet *want,
	const struct mqtt_packet *got)
{
	if (want->type != got->type)
		return "packet type";
	if (want->flags != got->flags)
		return "fixed-header flags";
	switch (want->type) {
	case MQTT_CONNECT:
		return want->u.connect.version != got->u.connect.version ? "protocol level" : NULL;
	case MQTT_PUBLISH:
		if (!str_eq(want->u.publish.topic, got->u.publish.topic))
			return "topic";
		if (!str_eq(want->u.publish.payload, got->u.publish.payload))
			return "payload";
		if (want->u.publish.qos)
			learn_id(f, want->u.publish.packet_id, got->u.publish.packet_id);
		return map_id(f, want->u.publish.packet_id) != got->u.publish.packet_id ? "packet id" : NULL;
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
		if (map_id(f, want->u.ack.packet_id) != got->u.ack.packet_id)
			return "packet id";
		return want->u.ack.reason != got->u.ack.reason ? "reason code" : NULL;
	case MQTT_SUBSCRIBE:
		learn_id(f, want->u.subscribe.packet_id, got->u.subscribe.packet_id);
		if (map_id(f, want->u.subscribe.packet_id) != got->u.subscribe.packet_id)
			return "packet id";
		return str_eq(want->u.subscribe.list, got->u.subscribe.list) ? NULL : "filters or options";
	case MQTT_UNSUBSCRIBE:
		learn_id(f, want->u.unsubscribe.packet_id, got->u.unsubscribe.packet_id);
		if (map_id(f, want->u.unsubscribe.packet_id) != got->u.unsubscribe.packet_id)
			return "packet id";
		return str_eq(want->u.unsubscribe.list, got->u.unsubscribe.list) ? NULL : "filters";
	case MQTT_DISCONNECT:
		return want->u.disconnect.reason != got->u.disconnect.reason ? "reason code" : NULL;
	default:
		return NULL;
	}
}

static void step_recv(struct fake *f, int k, const uint8_t *want_b, size_t want_n)
{
	struct mqtt_packet want, got;
	uint8_t pkt[sizeof f->in];
	size_t used, plen;
	char hex[200], ghex[200];
	hex_format(want_b, want_n, hex, sizeof hex);
	int r = mqtt_decode(want_b, want_n, f->version, 0, &want, &used);
	if (r != MQTT_OK || used != want_n) {
		f->recv_failed = true;
		note(f, "msg %d: corpus recv bytes do not decode (%s): %s", k, mqtt_result_name(r), hex);
		return;
	}
	r = fake_next(f, STEP_MS, &got, pkt, &plen);
	if (r != 1) {
		f->recv_failed = true;
		note(f, "msg %d: expected %s, got %s", k, hex,
			r == 0 ? "the connection closed" : r == -1 ? "nothing" : "undecodable bytes");
		return;
	}
	const char *diff = packet_diff(f, &want, &got);
	if (diff) {
		f->recv_failed = true;
		hex_format(pkt, plen, ghex, sizeof ghex);
		note(f, "msg %d: expected %s, got %s (%s differs)", k, hex, ghex, diff);
	}
}

/* ---- the client ---- */

static void on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	struct fake *f = ud;
	(void)c;
	if (ev->type == MQTT_EV_DISCONNECT && !f->client_said[0])
		snprintf(f->client_said, sizeof f->client_said, "%s",
			ev->u.disconnect.message ? ev->u.disconnect.message : "(no message)");
}

/* Core log lines go to stdout under -v (beside the case they belong to),
 * nowhere otherwise: the client's own reason reaches the report through
 * its disconnect event. */
static void on_log(int level, const char *line, void *ud)
{
	(void)level;
	(void)ud;
	if (verbose)
		printf("    %s\n", line);
}

/* The v5 properties the original client attached to its commands (see the
 * corpus's recv bytes), minus Topic Alias 65535: the fake CONNACK sets no
 * Topic Alias Maximum, so a client may not send one [MQTT-3.3.2-9]. */
#define V5_PUBLISH_PROPS "01 01 02 FFFFFFFF 08 000E 726573706F6E73652F746F706963 " \
	"09 0024 37646561633563352D383830322D343466662D383663652D313134373966333337343139 " \
	"03 000A 746578742F706C61696E 26 0003 6B6579 0005 76616C7565"
#define V5_UNSUB_PROPS "26 0003 6B6579 0005 76616C7565"

static int run_command(struct fake *f, const char *cmd)
{
	uint8_t props[256];
	long plen = 0;
	uint32_t mid;
	bool v5 = f->version == MQTT_V5;
	if (strncmp(cmd, "publish-", 8) == 0 && cmd[8] >= '0' && cmd[8] <= '2' && !cmd[9]) {
		if (v5)
			plen = hex_decode(V5_PUBLISH_PROPS, props, sizeof props);
		struct mqtt_pub_req r = { "test/publish", 12, (const uint8_t *)"message", 7,
			(uint8_t)(cmd[8] - '0'), false, v5 ? props : NULL, (size_t)plen, false };
		return mqtt_client_publish(f->c, &r, &mid);
	}
	if (strncmp(cmd, "subscribe-", 10) == 0 && cmd[10] >= '0' && cmd[10] <= '2' && !cmd[11]) {
		struct mqtt_sub_item it = { { (const uint8_t *)"test/subscribe", 14 },
			(uint8_t)(cmd[10] - '0') };
		return mqtt_client_subscribe(f->c, &it, 1, NULL, 0, &mid);
	}
	if (strcmp(cmd, "subscribe-multiple") == 0) {
		struct mqtt_sub_item it[2] = { { { (const uint8_t *)"test/subscribe1", 15 }, 2 },
			{ { (const uint8_t *)"test/subscribe2", 15 }, 2 } };
		return mqtt_client_subscribe(f->c, it, 2, NULL, 0, &mid);
	}
	if (strcmp(cmd, "unsubscribe") == 0) {
		struct mqtt_str flt = { (const uint8_t *)"test/subscribe", 14 };
		if (v5)
			plen = hex_decode(V5_UNSUB_PROPS, props, sizeof props);
		return mqtt_client_unsubscribe(f->c, &flt, 1, v5 ? props : NULL, (size_t)plen, &mid);
	}
	return MQTT_E_INVALID;
}

static struct mqtt_client *client_start(struct fake *f, const struct tcase *t, uint16_t port)
{
	char uri[64], err[256];
	struct mqtt_client_opts o = { 0 };
	snprintf(uri, sizeof uri, "mqtt://127.0.0.1:%u", (unsigned)port);
	o.uri = uri;
	o.client_id = "lia-conformance";
	o.version = t->version;
	o.clean = t->clean;
	o.keepalive = 60;
	o.reconnect = false;
	o.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	struct mqtt_client *c = mqtt_client_new(f->L, &o, NULL, err, sizeof err);
	if (!c) {
		note(f, "mqtt_client_new: %s", err);
		return NULL;
	}
	mqtt_client_set_handler(c, on_event, f);
	int r = mqtt_client_connect(c);
	if (r < 0) {
		note(f, "mqtt_client_connect: %s", mqtt_client_strerror(r));
		mqtt_client_free(c);
		return NULL;
	}
	return c;
}

static bool fake_accept(struct fake *f, int lfd)
{
	uint64_t end = now_ms() + STEP_MS;
	while (now_ms() < end) {
		f->fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (f->fd >= 0)
			return loop_watch(f->L, f->fd, LOOP_READ, on_fake_read, f) == 0;
		loop_run_once(f->L, 5);
	}
	note(f, "the client never connected to the fake broker");
	return false;
}

/* ---- one case ---- */

static void send_alive_check(struct fake *f)
{
	/* PUBLISH QoS 1, id 65535, "alive check", "payload" (v5: no properties). */
	static const uint8_t v3[] = { 0x32, 0x16, 0x00, 0x0B, 'a', 'l', 'i', 'v', 'e', ' ', 'c',
		'h', 'e', 'c', 'k', 0xFF, 0xFF, 'p', 'a', 'y', 'l', 'o', 'a', 'd' };
	static const uint8_t v5[] = { 0x32, 0x17, 0x00, 0x0B, 'a', 'l', 'i', 'v', 'e', ' ', 'c',
		'h', 'e', 'c', 'k', 0xFF, 0xFF, 0x00, 'p', 'a', 'y', 'l', 'o', 'a', 'd' };
	if (f->version == MQTT_V5)
		fake_send(f, v5, sizeof v5);
	else
		fake_send(f, v3, sizeof v3);
}

static enum outcome verdict(struct fake *f, int ms)
{
	struct mqtt_packet p;
	uint8_t pkt[sizeof f->in];
	size_t plen;
	char hex[120];
	uint64_t end = now_ms() + (uint64_t)ms;
	send_alive_check(f);
	for (;;) {
		uint64_t t = now_ms();
		int r = fake_next(f, t < end ? (int)(end - t) : 0, &p, pkt, &plen);
		if (r == 0)
			return OUT_DISCONNECT;
		if (r == -1)
			return OUT_HANG;
		if (r == -2)
			continue;
		if (p.type == MQTT_PUBACK && p.u.ack.packet_id == 65535 && p.u.ack.reason == 0)
			return OUT_CONNECTED;
		if (p.type == MQTT_CONNECT)
			continue;    /* never read when the case says "connect": false */
		hex_format(pkt, plen, hex, sizeof hex);
		note(f, "client sent %s", hex);
	}
}

static enum outcome run_case(struct fake *f, const struct tcase *t, int lfd, uint16_t port,
	const struct opts *o)
{
	static const uint8_t connack3[] = { 0x20, 0x02, 0x00, 0x00 };
	static const uint8_t connack5[] = { 0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x14 };
	struct mqtt_packet p;
	uint8_t pkt[sizeof f->in], b[4096];
	size_t plen;

	if (!(f->c = client_start(f, t, port)) || !fake_accept(f, lfd))
		return OUT_ERROR;
	if (t->connect) {
		int r = fake_next(f, STEP_MS, &p, pkt, &plen);
		if (r != 1 || p.type != MQTT_CONNECT) {
			note(f, "no CONNECT from the client");
			return OUT_ERROR;
		}
		if (p.u.connect.version != t->version) {
			f->recv_failed = true;
			note(f, "CONNECT has protocol level %u, expected %u", p.u.connect.version, t->version);
		}
	}
	if (t->connack) {
		if (t->version == MQTT_V5)
			fake_send(f, connack5, sizeof connack5);
		else
			fake_send(f, connack3, sizeof connack3);
	}
	if (t->command) {
		int r = run_command(f, t->command);
		if (r < 0) {
			note(f, "command %s: %s", t->command, mqtt_client_strerror(r));
			return OUT_ERROR;
		}
	}
	int k = 0;
	for (int i = 0; i < 2; i++) {
		for (const cJSON *m = t->msgs[i] ? t->msgs[i]->child : NULL; m; m = m->next) {
			const char *type = json_get_str(m, "type", "");
			long n = hex_decode(json_get_str(m, "payload", ""), b, sizeof b);
			k++;
			if (n < 0) {
				note(f, "msg %d: bad hex in the corpus", k);
				return OUT_ERROR;
			}
			if (strcmp(type, "send") == 0) {
				remap_send(f, b, (size_t)n);
				fake_send(f, b, (size_t)n);
			} else if (strcmp(type, "recv") == 0) {
				step_recv(f, k, b, (size_t)n);
			} else {
				note(f, "msg %d: message type \"%s\" is not supported", k, type);
				return OUT_ERROR;
			}
		}
	}
	return verdict(f, o->verdict_ms);
}

static void fake_reset(struct fake *f)
{
	if (f->c)
		mqtt_client_free(f->c);
	if (f->fd >= 0) {
		if (!f->eof)
			loop_unwatch(f->L, f->fd);
		close(f->fd);
	}
	if (f->L)
		loop_free(f->L);
	memset(f, 0, sizeof *f);
	f->fd = -1;
}

/* ---- the corpus ---- */

struct totals {
	int passed, failed, waived;
};

static void report(const struct tcase *t, enum outcome got, struct fake *f, struct waivers *w,
	struct totals *file, struct totals *all)
{
	enum outcome want = t->expect_disconnect ? OUT_DISCONNECT : OUT_CONNECTED;
	bool ok = got == want && !f->recv_failed;
	struct waiver *wv = waivers_find(w, t->file, t->group, t->name);
	char extra[DETAIL + 300] = "";
	if (f->client_said[0] && got != OUT_CONNECTED)
		snprintf(extra, sizeof extra, " [%s%sclient: %s]", f->detail, f->detail[0] ? "; " : "",
			f->client_said);
	else if (f->detail[0])
		snprintf(extra, sizeof extra, " [%s]", f->detail);
	const char *what = ok ? "PASS" : wv ? "WAIVED" : "MISMATCH";
	if (wv)
		wv->used = true;
	if (ok && wv)
		printf("STALE WAIVER %s %s / %s (WAIVERS.md:%d): the case passes\n", t->file, t->group,
			t->name, wv->line);
	if (!ok || verbose)
		printf("%s %s %s / %s: expected %s, got %s%s%s\n", what, t->file, t->group, t->name,
			outcome_name[want], outcome_name[got], got == want && !ok ? " but a recv differed" : "",
			extra);
	if (!ok && wv)
		printf("    waived by WAIVERS.md:%d %s\n", wv->line, wv->cite);
	if (ok || wv) {
		file->passed++;
		all->passed++;
		if (!ok) {
			file->waived++;
			all->waived++;
		}
	} else {
		file->failed++;
		all->failed++;
	}
}

static int version_of(double v)
{
	return v == 3 ? MQTT_V31 : v == 5 ? MQTT_V5 : MQTT_V311;
}

/* Value of key from the test, else the group, else def. */
static int pick_bool(const cJSON *t, const cJSON *g, const char *key, int def)
{
	return json_get_bool(t, key, json_get_bool(g, key, def));
}

static int run_file(const char *dir, const char *name, const struct opts *o, int lfd,
	uint16_t port, struct waivers *w, struct totals *all)
{
	char path[PATH_MAX], err[200];
	size_t len;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		path[0] = '\0';
	char *text = read_file(path, &len);
	int read_errno = errno;
	cJSON *doc = text ? cJSON_ParseWithLength(text, len) : NULL;
	if (text && !doc)
		json_error(text, len, err, sizeof err);
	bool readable = text != NULL;
	xfree(text);
	if (!doc || !cJSON_IsArray(doc)) {
		printf("MISMATCH %s: cannot read: %s\n", name, !readable ? strerror(read_errno)
			: doc ? "not a list" : err);
		cJSON_Delete(doc);
		all->failed++;
		return -1;
	}
	struct totals file = { 0, 0, 0 };
	for (const cJSON *g = doc->child; g; g = g->next) {
		const cJSON *tests = json_get(g, "tests");
		for (const cJSON *tj = tests ? tests->child : NULL; tj; tj = tj->next) {
			struct tcase t = { name, json_get_str(g, "group", "?"), json_get_str(tj, "name", "?"),
				json_get_str(tj, "command", json_get_str(g, "command", NULL)),
				(uint8_t)version_of(json_get_num(tj, "ver", json_get_num(g, "ver", 4))),
				pick_bool(tj, g, "clean_start", 1), pick_bool(tj, g, "connect", 1),
				pick_bool(tj, g, "connack", 1), pick_bool(tj, g, "expect_disconnect", 1),
				{ json_get(g, "group_msgs"), json_get(tj, "msgs") } };
			char full[600];
			snprintf(full, sizeof full, "%s %s / %s", t.file, t.group, t.name);
			if (o->filter && !strcasestr(full, o->filter))
				continue;
			struct fake *f = xcalloc(1, sizeof *f);
			f->fd = -1;
			f->L = loop_new();
			f->version = t.version;
			enum outcome got = f->L ? run_case(f, &t, lfd, port, o) : OUT_ERROR;
			report(&t, got, f, w, &file, all);
			fake_reset(f);
			xfree(f);
		}
	}
	cJSON_Delete(doc);
	if (file.passed + file.failed)
		printf("%s: %d passed, %d failed (%d waived)\n", name, file.passed, file.failed,
			file.waived);
	return 0;
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 8) < 0
		|| getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("conformance: fake broker socket");
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int json_only(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* rel under the repository root, found three levels above this binary
 * (build/tools/conformance); when that path does not exist, rel as given
 * (make runs from the root). */
static void repo_path(const char *rel, char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int i = 0; i < 3; i++) {
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = '\0';
		}
		if (snprintf(out, cap, "%s/%s", exe, rel) < (int)cap && access(out, F_OK) == 0)
			return;
	}
	snprintf(out, cap, "%s", rel);
}

static void usage(void)
{
	fprintf(stderr, "usage: conformance [-v] [-k filter] [-t verdict-ms] [-w waivers.md] [DIR]\n"
		"  DIR defaults to " DEFAULT_DIR " beside the repository\n");
}

int main(int argc, char **argv)
{
	struct opts o = { NULL, 2000 };
	char dir[PATH_MAX], wpath[PATH_MAX];
	int ch;
	repo_path(WAIVERS_PATH, wpath, sizeof wpath);
	while ((ch = getopt(argc, argv, "vk:t:w:h")) != -1) {
		switch (ch) {
		case 'v': verbose = true; break;
		case 'k': o.filter = optarg; break;
		case 't': o.verdict_ms = atoi(optarg) > 0 ? atoi(optarg) : 2000; break;
		case 'w': snprintf(wpath, sizeof wpath, "%s", optarg); break;
		default: usage(); return 2;
		}
	}
	if (optind < argc)
		snprintf(dir, sizeof dir, "%s", argv[optind]);
	else
		repo_path(DEFAULT_DIR, dir, sizeof dir);

	struct dirent **names;
	int n = scandir(dir, &names, json_only, by_name);
	if (n <= 0) {
		printf("conformance: no corpus at %s (%s)\n", dir, n < 0 ? strerror(errno) : "no .json files");
		return 2;
	}
	struct waivers w = { NULL, 0 };
	if (waivers_load(&w, wpath) < 0)
		printf("conformance: cannot read %s: %s\n", wpath, strerror(errno));
	log_set_sink(on_log, NULL);
	log_set_level(verbose ? LOG_DEBUG : LOG_ERROR);
	log_set_timestamps(0);
	uint16_t port;
	int lfd = listen_loopback(&port);
	if (lfd < 0)
		return 2;
	struct totals all = { 0, 0, 0 };
	for (int i = 0; i < n; i++) {
		run_file(dir, names[i]->d_name, &o, lfd, port, &w, &all);
		free(names[i]);
	}
	free(names);
	close(lfd);
	for (size_t i = 0; i < w.n && !o.filter; i++)
		if (!w.v[i].used)
			printf("STALE WAIVER WAIVERS.md:%d %s %s / %s: no such case\n", w.v[i].line,
				w.v[i].file, w.v[i].group, w.v[i].test);
	waivers_free(&w);
	printf("waived: %d\n", all.waived);
	printf("conformance: %d passed, %d failed\n", all.passed, all.failed);
	return all.failed ? 1 : 0;
}
