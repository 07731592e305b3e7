/*
 * bench.c - throughput and latency of the lia MQTT core against a real
 * broker: one client publishes N messages of SIZE bytes at QoS Q to a topic
 * another client (same loop, same process) subscribes to. Each payload
 * carries its send time, so the subscriber measures end-to-end latency.
 * Prints one line of results; exits 1 when messages were lost (QoS > 0).
 *
 *   bench -p PORT [-h HOST] [-n N] [-q QOS] [-s SIZE] [-V 4|5] [-w INFLIGHT]
 *         [-W WINDOW] [-t SECONDS] [-T TOPIC] [-A]
 *
 * -T names the topic (a long one shows what topic aliases save), -A turns
 * on automatic topic aliases (v5); the line then ends with the publisher's
 * wire bytes per message (every packet it wrote, divided by N).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "mqtt_store.h"

struct bench {
	struct loop *loop;
	struct mqtt_client *pub, *sub;
	char topic[256];
	long n, sent, acked, received, size, window;
	int qos, inflight;
	bool subscribed, connected;
	uint64_t t_start, t_end;
	uint64_t *lat;
	uint8_t *payload;
};

static uint64_t now_ns(void)
{
	return loop_clock_ns();
}

/* Keep at most `window` messages between publisher and subscriber: a
 * broker drops what overflows its per-client queue (mosquitto: 1000), and
 * latency should measure the path, not our own queue. */
static void publish_more(struct bench *b)
{
	while (b->sent < b->n && b->sent - b->received < b->window) {
		uint64_t t = now_ns();
		memcpy(b->payload, &t, sizeof t);
		struct mqtt_pub_req r = { b->topic, strlen(b->topic), b->payload, (size_t)b->size,
			(uint8_t)b->qos, false, NULL, 0, false };
		uint32_t mid;
		int rc = mqtt_client_publish(b->pub, &r, &mid);
		if (rc == MQTT_E_QUEUE_FULL)
			return;     /* resumes as completions free room */
		if (rc < 0) {
			fprintf(stderr, "bench: publish: %s\n", mqtt_client_strerror(rc));
			exit(2);
		}
		if (b->sent++ == 0)
			b->t_start = t;
	}
}

static void maybe_start(struct bench *b)
{
	if (b->subscribed && b->connected && b->sent == 0)
		publish_more(b);
}

static void on_pub(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	struct bench *b = ud;
	(void)c;
	if (ev->type == MQTT_EV_CONNECT && ev->u.connect.reason == 0) {
		b->connected = true;
		maybe_start(b);
	} else if (ev->type == MQTT_EV_PUBLISHED) {
		b->acked++;
		publish_more(b);
	}
}

static void on_sub(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	struct bench *b = ud;
	if (ev->type == MQTT_EV_CONNECT && ev->u.connect.reason == 0) {
		struct mqtt_sub_item it = { { (const uint8_t *)b->topic, strlen(b->topic) }, (uint8_t)b->qos };
		uint32_t mid;
		mqtt_client_subscribe(c, &it, 1, NULL, 0, &mid);
	} else if (ev->type == MQTT_EV_SUBSCRIBED) {
		b->subscribed = true;
		maybe_start(b);
	} else if (ev->type == MQTT_EV_MESSAGE) {
		uint64_t t0;
		const struct mqtt_publish *m = ev->u.message.msg;
		if (m->payload.len >= sizeof t0 && b->received < b->n) {
			memcpy(&t0, m->payload.ptr, sizeof t0);
			b->lat[b->received] = now_ns() - t0;
		}
		if (++b->received == b->n) {
			b->t_end = now_ns();
			loop_stop(b->loop);
		}
		publish_more(b);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static bool auto_alias;

/* -S DIR: the publisher keeps its session in DIR/lia.db (mqtt_store_sqlite) */
static struct db *store_db;

static struct mqtt_store *bench_store(const char *uri, const char *id)
{
	char err[4400];
	struct mqtt_store *st;
	if (!store_db)
		return NULL;
	if (!(st = mqtt_store_sqlite_new(store_db, id, uri, err, sizeof err))) {
		fprintf(stderr, "bench: %s\n", err);
		exit(2);
	}
	return st;
}

static struct mqtt_client *make_client(struct bench *b, const char *uri, const char *id,
	int version, int inflight, mqtt_event_fn *fn, bool stored)
{
	char err[200];
	struct mqtt_client_opts o = { .uri = uri, .client_id = id, .version = (uint8_t)version,
		.clean = true, .keepalive = 60, .max_inflight = (uint16_t)inflight, .max_queued = 10000,
		.topic_aliases_auto = auto_alias };
	struct mqtt_client *c = mqtt_client_new(b->loop, &o, stored ? bench_store(uri, id) : NULL,
		err, sizeof err);
	if (!c) {
		fprintf(stderr, "bench: %s\n", err);
		exit(2);
	}
	mqtt_client_set_handler(c, fn, b);
	mqtt_client_connect(c);
	return c;
}

static int64_t give_up(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)t;
	(void)ud;
	loop_stop(l);
	return LOOP_TIMER_STOP;
}

static void report(struct bench *b, int version)
{
	double secs = (double)(b->t_end - b->t_start) / 1e9;
	long got = b->received < b->n ? b->received : b->n;
	qsort(b->lat, (size_t)got, sizeof *b->lat, cmp_u64);
	struct rusage ru;
	struct db_stats ds = { 0 };
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	if (store_db)
		db_get_stats(store_db, &ds);
	printf("lia   qos=%d v=%d size=%ld n=%ld w=%d store=%s: %.0f msg/s, %.1f MB/s, latency p50 %.0f us "
		"p99 %.0f us, CPU %.1f us/msg (pub+sub), %.3f commits/msg, received %ld, peak RSS %ld KiB\n",
		b->qos, version, b->size, b->n, b->inflight, store_db ? "sqlite" : "memory",
		secs > 0 ? (double)got / secs : 0.0, secs > 0 ? (double)got * (double)b->size / secs / 1e6 : 0.0,
		got ? (double)b->lat[got / 2] / 1e3 : 0.0, got ? (double)b->lat[got * 99 / 100] / 1e3 : 0.0,
		got ? cpu * 1e6 / (double)got : 0.0, got ? (double)ds.commits / (double)got : 0.0,
		b->received, peak_rss_kb());
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 10000, .size = 64, .qos = 0, .window = 500 };
	const char *host = "127.0.0.1";
	int port = 1883, version = 4, inflight = 20, opt, timeout_s = 60;
	char uri[300], id[2][64];
	const char *topic = NULL;
	const char *store_dir = NULL;
	while ((opt = getopt(argc, argv, "h:p:n:q:s:V:w:W:t:T:AS:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': b.n = atol(optarg); break;
		case 'q': b.qos = atoi(optarg); break;
		case 's': b.size = atol(optarg); break;
		case 'V': version = atoi(optarg); break;
		case 'w': inflight = atoi(optarg); break;
		case 't': timeout_s = atoi(optarg); break;
		case 'W': b.window = atol(optarg); break;
		case 'T': topic = optarg; break;
		case 'A': auto_alias = true; break;
		case 'S': store_dir = optarg; break;
		default:
			fprintf(stderr, "usage: bench -p PORT [-h HOST] [-n N] [-q QOS] [-s SIZE] [-V 4|5] [-w INFLIGHT] [-W WINDOW] [-t SECS] [-S STORE_DIR]\n");
			return 2;
		}
	}
	if (b.size < 8)
		b.size = 8;
	log_set_level(LOG_WARN);
	b.loop = loop_new();
	b.inflight = inflight;
	if (store_dir) {
		char err[4400];
		if (!(store_db = db_open(store_dir, err, sizeof err))) {
			fprintf(stderr, "bench: %s\n", err);
			return 2;
		}
		db_attach(store_db, b.loop);
	}
	b.lat = calloc((size_t)b.n + 1, sizeof *b.lat);
	b.payload = calloc(1, (size_t)b.size);
	if (topic)
		snprintf(b.topic, sizeof b.topic, "%s/%d", topic, (int)getpid());
	else
		snprintf(b.topic, sizeof b.topic, "bench/%d", (int)getpid());
	snprintf(uri, sizeof uri, "mqtt://%s:%d", host, port);
	snprintf(id[0], sizeof id[0], "bench-pub-%d", (int)getpid());
	snprintf(id[1], sizeof id[1], "bench-sub-%d", (int)getpid());
	b.sub = make_client(&b, uri, id[1], version, inflight, on_sub, false);
	b.pub = make_client(&b, uri, id[0], version, inflight, on_pub, true);
	loop_timer_start(b.loop, (uint64_t)timeout_s * 1000, give_up, NULL);
	loop_run(b.loop);
	if (!b.t_end)
		b.t_end = now_ns();
	report(&b, version);
	if (topic || auto_alias) {
		struct mqtt_client_stats ps;
		mqtt_client_stats(b.pub, &ps);
		printf("lia   qos=%d v=%d topic=%zu bytes, aliases %s: %.1f wire bytes/msg (%llu aliased, "
			"%lld bytes saved)\n", b.qos, version, strlen(b.topic), auto_alias ? "auto" : "off",
			(double)ps.sent_bytes / (double)b.n, (unsigned long long)ps.alias_out,
			(long long)ps.alias_bytes_saved);
	}
	if (b.received < b.n) {
		struct mqtt_client_stats ps, ss;
		mqtt_client_stats(b.pub, &ps);
		mqtt_client_stats(b.sub, &ss);
		fprintf(stderr, "bench: incomplete: sent %ld acked %ld; publisher inflight %u queued %u "
			"sent %llu recv %llu; subscriber sent %llu recv %llu\n", b.sent, b.acked,
			ps.inflight, ps.queued, (unsigned long long)ps.sent_packets,
			(unsigned long long)ps.recv_packets, (unsigned long long)ss.sent_packets,
			(unsigned long long)ss.recv_packets);
	}
	mqtt_client_free(b.pub);
	mqtt_client_free(b.sub);
	db_close(store_db);
	loop_free(b.loop);
	free(b.lat);
	free(b.payload);
	return b.qos > 0 && b.received < b.n ? 1 : 0;
}
