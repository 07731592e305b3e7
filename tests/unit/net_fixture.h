/*
 * net_fixture.h - real peers for the transport tests, started by the test
 * itself on free loopback ports: mosquitto (with TLS listeners), the
 * WebSocket bridge, proxies. Also a client driver: an event recorder and
 * "run the loop until" helpers. Header-only, like fake_broker.h.
 *
 * Everything a test starts is killed by its pid (fx_stop / fx_cleanup);
 * files live in one temp directory removed at the end.
 */
#ifndef LIA_NET_FIXTURE_H
#define LIA_NET_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "mqtt_client.h"
#include "test.h"

#define FX_MAX_PROCS 16

static char fx_dir[256];            /* temp dir: certs, configs, logs */
static char fx_root[512] = ".";     /* the source tree (tests/tls/...) */
static pid_t fx_pids[FX_MAX_PROCS];
static struct loop *FL;

/* ---- processes ---- */

/* A loopback port nobody listens on, and one this process has not handed
 * out before: bind(0) may give a port just closed again, and two peers
 * told the same port leave the second dead and the first answering for
 * it (a ws:// test talking to the wss:// bridge: "connection reset"). */
static inline int fx_free_port(void)
{
	static int given[64];
	static size_t ngiven;
	for (int attempt = 0; attempt < 100; attempt++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof sa;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		bind(fd, (struct sockaddr *)&sa, sizeof sa);
		getsockname(fd, (struct sockaddr *)&sa, &len);
		close(fd);
		int port = ntohs(sa.sin_port);
		bool seen = false;
		for (size_t i = 0; i < ngiven; i++)
			seen |= given[i] == port;
		if (seen)
			continue;
		if (ngiven < sizeof given / sizeof given[0])
			given[ngiven++] = port;
		return port;
	}
	return 0;
}

/* Whether process pid holds the socket listening on port: 1 yes, 0 no (or
 * nothing listens yet), -1 when /proc cannot tell (not Linux, another
 * user's process). Between fx_free_port closing its probe and the peer
 * binding, a test running beside this one may take the port; the peer
 * then dies of EADDRINUSE while the other answers on its port. */
static inline int fx_listens(pid_t pid, int port)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	unsigned long inodes[8];
	size_t n = 0;
	char line[512], path[64], link[64];
	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			unsigned lport, state;
			unsigned long inode;
			if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
					&lport, &state, &inode) == 3 && (int)lport == port && state == 0x0A &&
					n < sizeof inodes / sizeof inodes[0])
				inodes[n++] = inode;
		}
		fclose(f);
	}
	if (n == 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int found = 0;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char fdpath[64 + sizeof e->d_name];
		unsigned long inode;
		snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
		ssize_t k = readlink(fdpath, link, sizeof link - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) == 1)
			for (size_t i = 0; i < n; i++)
				found |= inodes[i] == inode;
	}
	closedir(d);
	return found;
}

static inline bool fx_port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		.sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

static inline bool fx_path_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!path || strlen(path) >= sizeof sa.sun_path)
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* Start argv (NULL-terminated) with output to fx_dir/<log>; its pid. */
static inline pid_t fx_spawn(const char *log, char *const argv[])
{
	char path[512];
	pid_t pid;
	snprintf(path, sizeof path, "%s/%s", fx_dir, log);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < FX_MAX_PROCS; i++)
		if (!fx_pids[i]) {
			fx_pids[i] = pid;
			break;
		}
	return pid;
}

static inline void fx_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < FX_MAX_PROCS; i++)
		if (fx_pids[i] == pid)
			fx_pids[i] = 0;
}

/* Wait until port (or unix path) accepts connections, the process's own
 * listener (fx_listens), or the process died. */
static inline bool fx_wait_ready(pid_t pid, int port, const char *path)
{
	for (int i = 0; i < 1500; i++) {    /* 15 s: a guard for a loaded machine */
		if (port ? fx_port_open(port) && fx_listens(pid, port) != 0 : fx_path_open(path))
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	return false;
}

static inline void fx_write(const char *name, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	snprintf(path, sizeof path, "%s/%s", fx_dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* Path of a file in the temp dir (a rotating set of static buffers). */
static inline const char *fx_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ & 7];
	snprintf(b, 512, "%s/%s", fx_dir, name);
	return b;
}

/* The last lines of a log, indented, to stderr: why a peer did not start
 * (a port taken in the meantime, a refused certificate) is in its log,
 * which fx_cleanup removes. */
static inline void fx_print_tail(const char *path, int lines)
{
	char ring[8][256];
	int n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (n < 1000000 && fgets(ring[n % 8], sizeof ring[0], f))
		n++;
	fclose(f);
	if (lines > 8)
		lines = 8;
	for (int i = n > lines ? n - lines : 0; i < n; i++)
		fprintf(stderr, "    %s", ring[i % 8]);
}

/* mosquitto with config text conf (written to <name>.conf); waits for
 * wait_port. 0 when mosquitto is missing or would not start. */
static inline pid_t fx_mosquitto(const char *name, int wait_port, const char *conf)
{
	char cfile[64], log[64];
	snprintf(cfile, sizeof cfile, "%s.conf", name);
	snprintf(log, sizeof log, "%s.log", name);
	fx_write(cfile, "%s", conf);
	char *argv[] = { "mosquitto", "-c", (char *)fx_path(cfile), NULL };
	pid_t pid = fx_spawn(log, argv);
	if (!fx_wait_ready(pid, wait_port, NULL)) {
		fprintf(stderr, "mosquitto %s did not start; log %s:\n", name, fx_path(log));
		fx_stop(pid);
		fx_print_tail(fx_path(log), 8);   /* the directory goes at the end */
		return 0;
	}
	return pid;
}

static inline bool fx_have(const char *prog)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Temp dir (readable by mosquitto after it drops to its own user) and the
 * certificates from tests/tls/mkcerts.sh. */
static inline bool fx_setup(const char *argv0, bool certs)
{
	char cmd[1200], exe[512];
	signal(SIGPIPE, SIG_IGN);
	snprintf(fx_dir, sizeof fx_dir, "/tmp/lia-net-XXXXXX");
	if (!mkdtemp(fx_dir))
		return false;
	chmod(fx_dir, 0777);
	if (access("tests/tls/mkcerts.sh", R_OK) != 0) {
		/* run from elsewhere: BUILD/tests/test_x -> the tree two levels up */
		snprintf(exe, sizeof exe, "%s", argv0);
		snprintf(fx_root, sizeof fx_root, "%s/../..", dirname(exe));
	}
	FL = loop_new();
	if (!certs)
		return true;
	snprintf(cmd, sizeof cmd, "sh '%s/tests/tls/mkcerts.sh' '%s' >'%s/mkcerts.log' 2>&1",
		fx_root, fx_dir, fx_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "mkcerts.sh failed, see %s/mkcerts.log\n", fx_dir);
		return false;
	}
	return true;
}

static inline void fx_cleanup(void)
{
	char cmd[400];
	for (int i = 0; i < FX_MAX_PROCS; i++)
		if (fx_pids[i])
			fx_stop(fx_pids[i]);
	if (fx_dir[0] && !getenv("LIA_KEEP_TMP")) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", fx_dir);
	}
	if (FL)
		loop_free(FL);
}

/* ---- client driver ---- */

struct fx_events {
	int connects, disconnects, messages, published, subscribed;
	bool session_present;
	char disconnect[512];       /* last disconnect message */
	char logs[4096];            /* every log line, '\n' separated (truncated) */
	char topic[128], payload[256];
	size_t payload_len;
};

static struct fx_events FE;

static inline void fx_on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	(void)c;
	(void)ud;
	switch (ev->type) {
	case MQTT_EV_CONNECT:
		if (ev->u.connect.reason == 0)
			FE.connects++;
		FE.session_present = ev->u.connect.session_present;
		break;
	case MQTT_EV_DISCONNECT:
		FE.disconnects++;
		snprintf(FE.disconnect, sizeof FE.disconnect, "%s", ev->u.disconnect.message);
		break;
	case MQTT_EV_MESSAGE:
		FE.messages++;
		snprintf(FE.topic, sizeof FE.topic, "%.*s", (int)ev->u.message.msg->topic.len,
			(const char *)ev->u.message.msg->topic.ptr);
		FE.payload_len = ev->u.message.msg->payload.len;
		snprintf(FE.payload, sizeof FE.payload, "%.*s", (int)ev->u.message.msg->payload.len,
			(const char *)ev->u.message.msg->payload.ptr);
		break;
	case MQTT_EV_PUBLISHED:
		if (ev->u.published.ok)
			FE.published++;
		break;
	case MQTT_EV_SUBSCRIBED:
		FE.subscribed++;
		break;
	case MQTT_EV_LOG: {
		size_t n = strlen(FE.logs);
		snprintf(FE.logs + n, sizeof FE.logs - n, "%s\n", ev->u.log.line);
		break;
	}
	default:
		break;
	}
}

static inline void fx_reset_events(void)
{
	memset(&FE, 0, sizeof FE);
}

/* Turn the loop until *counter reaches want or ms pass; true if reached. */
static inline bool fx_until(const int *counter, int want, int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	while (*counter < want && loop_clock_ns() / 1000000 < end)
		loop_run_once(FL, 10);
	return *counter >= want;
}

static inline void fx_turn(int ms)
{
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	while (loop_clock_ns() / 1000000 < end)
		loop_run_once(FL, 5);
}

/* A client for uri with opts tweaked by the caller; NULL with err printed. */
static inline struct mqtt_client *fx_client(struct mqtt_client_opts *o, char *err, size_t errlen)
{
	struct mqtt_client *c;
	if (!o->client_id)
		o->client_id = "lia-net-test";
	if (!o->keepalive)
		o->keepalive = 30;
	if (!o->connect_timeout_ms)
		o->connect_timeout_ms = 3000;
	c = mqtt_client_new(FL, o, NULL, err, errlen);
	if (c)
		mqtt_client_set_handler(c, fx_on_event, NULL);
	return c;
}

/* Connect and wait: 1 connected, 0 a disconnect (message in FE), -1 timeout. */
static inline int fx_connect(struct mqtt_client *c, int ms)
{
	int d0 = FE.disconnects, c0 = FE.connects;
	uint64_t end = loop_clock_ns() / 1000000 + (uint64_t)ms;
	mqtt_client_connect(c);
	while (loop_clock_ns() / 1000000 < end) {
		if (FE.connects > c0)
			return 1;
		if (FE.disconnects > d0)
			return 0;
		loop_run_once(FL, 10);
	}
	return -1;
}

/* Subscribe to topic, publish payload at qos, wait for it to come back. */
static inline bool fx_round_trip(struct mqtt_client *c, const char *topic, const char *payload,
	size_t len, uint8_t qos)
{
	struct mqtt_sub_item it = { .filter = { (const uint8_t *)topic, strlen(topic) }, .options = qos };
	struct mqtt_pub_req r = { .topic = topic, .topic_len = strlen(topic),
		.payload = (const uint8_t *)payload, .payload_len = len, .qos = qos };
	uint32_t mid;
	int s0 = FE.subscribed, m0 = FE.messages;
	if (mqtt_client_subscribe(c, &it, 1, NULL, 0, &mid) != 0 || !fx_until(&FE.subscribed, s0 + 1, 3000))
		return false;
	if (mqtt_client_publish(c, &r, &mid) != 0 || !fx_until(&FE.messages, m0 + 1, 3000))
		return false;
	return FE.payload_len == len && strcmp(FE.topic, topic) == 0;
}

#endif
