/*
 * test_proxy.c - tunnels through real proxies started by the test:
 * tinyproxy (HTTP CONNECT, with and without Basic auth, and one that only
 * allows port 443) and microsocks (SOCKS5, without and with
 * username/password), in front of mosquitto (plain and TLS) and the
 * WebSocket bridge; plus which environment variable applies to which
 * scheme (proxy_resolve).
 */
#include "net_fixture.h"

static int mqtt_port, tls_port, ws_port;
static int http_port, http_auth_port, http_443_port, socks_port, socks_auth_port;

static bool tinyproxy(const char *name, int port, const char *extra)
{
	char file[64];
	snprintf(file, sizeof file, "%s.conf", name);
	fx_write(file, "Port %d\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 20\n"
		"LogLevel Info\n%s", port, extra);
	char log[64];
	snprintf(log, sizeof log, "%s.log", name);
	char *argv[] = { "tinyproxy", "-d", "-c", (char *)fx_path(file), NULL };
	return fx_wait_ready(fx_spawn(log, argv), port, NULL);
}

static bool microsocks(int port, bool auth)
{
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	char *plain[] = { "microsocks", "-i", "127.0.0.1", "-p", p, NULL };
	char *with_auth[] = { "microsocks", "-i", "127.0.0.1", "-p", p, "-u", "lia", "-P", "s3cret", NULL };
	return fx_wait_ready(fx_spawn("microsocks.log", auth ? with_auth : plain), port, NULL);
}

static bool start_peers(void)
{
	char conf[1024], cmd[1200], wp[16], mp[16];
	mqtt_port = fx_free_port();
	tls_port = fx_free_port();
	snprintf(conf, sizeof conf, "allow_anonymous true\nlistener %d 127.0.0.1\n"
		"listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", mqtt_port, tls_port,
		fx_path("ca.crt"), fx_path("server.crt"), fx_path("server.key"));
	pid_t b = fx_mosquitto("broker", mqtt_port, conf);
	if (!b || !fx_wait_ready(b, tls_port, NULL))
		return false;
	snprintf(cmd, sizeof cmd, "cp '%s/tests/tls/ws_bridge.py' '%s/'", fx_root, fx_dir);
	if (system(cmd) != 0)
		return false;
	ws_port = fx_free_port();
	snprintf(wp, sizeof wp, "%d", ws_port);
	snprintf(mp, sizeof mp, "%d", mqtt_port);
	char *argv[] = { "/usr/bin/python3", (char *)fx_path("ws_bridge.py"), wp, mp, NULL };
	if (!fx_wait_ready(fx_spawn("bridge.log", argv), ws_port, NULL))
		return false;
	http_port = fx_free_port();
	http_auth_port = fx_free_port();
	http_443_port = fx_free_port();
	socks_port = fx_free_port();
	socks_auth_port = fx_free_port();
	return tinyproxy("http", http_port, "") &&
		tinyproxy("http_auth", http_auth_port, "BasicAuth lia s3cret\n") &&
		tinyproxy("http_443", http_443_port, "ConnectPort 443\n") &&
		microsocks(socks_port, false) && microsocks(socks_auth_port, true);
}

/* Connect uri (a %d for port) through proxy (a %d for proxy_port); with
 * round trips when it connects. 1 connected, 0 failed (FE.disconnect). */
static int via(const char *uri_fmt, int port, const char *proxy_fmt, int proxy_port)
{
	char uri[128], proxy[128], err[256];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	snprintf(uri, sizeof uri, uri_fmt, port);
	if (proxy_fmt) {
		snprintf(proxy, sizeof proxy, proxy_fmt, proxy_port);
		o.proxy = proxy;
	}
	if (strncmp(uri, "mqtts", 5) == 0 || strncmp(uri, "wss", 3) == 0)
		o.tls.ca_file = fx_path("ca.crt");
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	if (!c) {
		fprintf(stderr, "    %s\n", err);
		return -2;
	}
	int r = fx_connect(c, 3000);
	if (r == 1) {
		CHECK(fx_round_trip(c, "lia/proxy/1", "through", 7, 1));
		CHECK(fx_round_trip(c, "lia/proxy/2", "through", 7, 2));
	}
	mqtt_client_free(c);
	return r;
}

static bool has(const char *word)
{
	if (strstr(FE.disconnect, word))
		return true;
	fprintf(stderr, "    expected \"%s\" in: %s\n", word, FE.disconnect);
	return false;
}

static void test_http_connect(void)
{
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "http://127.0.0.1:%d", http_port), 1);
	CHECK_EQ_INT(via("mqtts://localhost:%d", tls_port, "http://127.0.0.1:%d", http_port), 1);
	CHECK_EQ_INT(via("ws://127.0.0.1:%d/mqtt", ws_port, "http://127.0.0.1:%d", http_port), 1);
}

static void test_http_auth(void)
{
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "http://lia:s3cret@127.0.0.1:%d",
		http_auth_port), 1);
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "http://127.0.0.1:%d", http_auth_port), 0);
	CHECK(has("refused CONNECT to 127.0.0.1:"));
	CHECK(has(": 407"));
}

static void test_http_refused(void)
{
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "http://127.0.0.1:%d", http_443_port), 0);
	CHECK(has("HTTP proxy 127.0.0.1:"));
	CHECK(has("refused CONNECT"));
	CHECK(has(": 403"));
}

static void test_socks5(void)
{
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "socks5://127.0.0.1:%d", socks_port), 1);
	CHECK_EQ_INT(via("mqtt://localhost:%d", mqtt_port, "socks5h://127.0.0.1:%d", socks_port), 1);
	CHECK_EQ_INT(via("mqtts://localhost:%d", tls_port, "socks5://127.0.0.1:%d", socks_port), 1);
	CHECK_EQ_INT(via("ws://localhost:%d", ws_port, "socks5://127.0.0.1:%d", socks_port), 1);
}

static void test_socks5_auth(void)
{
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "socks5://lia:s3cret@127.0.0.1:%d",
		socks_auth_port), 1);
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "socks5://lia:wrong@127.0.0.1:%d",
		socks_auth_port), 0);
	CHECK(has("username/password rejected"));
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "socks5://127.0.0.1:%d", socks_auth_port), 0);
	CHECK(has("accepts none of our authentication methods"));
}

static void test_socks5_refused(void)
{
	int closed = fx_free_port();
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", closed, "socks5://127.0.0.1:%d", socks_port), 0);
	CHECK(has("SOCKS5 proxy 127.0.0.1:"));
	CHECK(has("connection refused (reply 5)"));
}

static void test_proxy_down(void)
{
	int closed = fx_free_port();
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "socks5://127.0.0.1:%d", closed), 0);
	CHECK(has("SOCKS5 proxy 127.0.0.1:"));
	CHECK(has("Connection refused"));
}

static void test_bad_proxy_option(void)
{
	char err[256];
	struct mqtt_client_opts o = { .uri = "mqtt://127.0.0.1:1883", .proxy = "ftp://x:1" };
	CHECK(fx_client(&o, err, sizeof err) == NULL);
	CHECK(strstr(err, "scheme must be http://, socks5:// or socks5h://"));
}

/* ---- environment ---- */

static const char *const env_names[] = { "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY",
	"https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY" };

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
		unsetenv(env_names[i]);
}

static const char *resolve(const char *opt, const char *uri)
{
	static char out[300];
	char err[200];
	struct uri u;
	CHECK(uri_parse(uri, &u, err, sizeof err) == 0);
	if (proxy_resolve(opt, &u, out, sizeof out, err, sizeof err) < 0)
		snprintf(out, sizeof out, "error: %s", err);
	return out;
}

static void test_env_rules(void)
{
	clear_env();
	CHECK(strcmp(resolve(NULL, "mqtt://b:1883"), "") == 0);
	setenv("HTTP_PROXY", "http://h:3128", 1);
	setenv("HTTPS_PROXY", "http://s:3128", 1);
	CHECK(strcmp(resolve(NULL, "mqtt://b"), "") == 0);             /* HTTP ones: not for MQTT */
	CHECK(strcmp(resolve(NULL, "mqtts://b"), "") == 0);
	CHECK(strcmp(resolve(NULL, "ws://b"), "http://h:3128") == 0);
	CHECK(strcmp(resolve(NULL, "wss://b"), "http://s:3128") == 0);
	setenv("http_proxy", "socks5://lower:1080", 1);                 /* lower case first */
	CHECK(strcmp(resolve(NULL, "ws://b"), "socks5://lower:1080") == 0);
	setenv("ALL_PROXY", "socks5://all:1080", 1);
	CHECK(strcmp(resolve(NULL, "mqtt://b"), "socks5://all:1080") == 0);
	CHECK(strcmp(resolve(NULL, "mqtts://b"), "socks5://all:1080") == 0);
	CHECK(strcmp(resolve(NULL, "unix:///tmp/s"), "") == 0);        /* never */
	CHECK(strcmp(resolve("none", "mqtt://b"), "") == 0);            /* option beats env */
	CHECK(strcmp(resolve("", "mqtt://b"), "") == 0);
	CHECK(strcmp(resolve("http://opt:8080", "mqtt://b"), "http://opt:8080") == 0);
	setenv("NO_PROXY", "localhost, .example.com,10.0.0.1", 1);
	CHECK(strcmp(resolve(NULL, "mqtt://localhost"), "") == 0);
	CHECK(strcmp(resolve(NULL, "mqtt://a.example.com"), "") == 0);
	CHECK(strcmp(resolve(NULL, "mqtt://example.com"), "") == 0);
	CHECK(strcmp(resolve(NULL, "mqtt://badexample.com"), "socks5://all:1080") == 0);
	CHECK(strcmp(resolve(NULL, "mqtt://10.0.0.1"), "") == 0);
	CHECK(strcmp(resolve(NULL, "mqtt://10.0.0.10"), "socks5://all:1080") == 0);
	setenv("no_proxy", "*", 1);
	CHECK(strcmp(resolve(NULL, "wss://anything"), "") == 0);
	unsetenv("no_proxy");
	setenv("ALL_PROXY", "gopher://x", 1);
	CHECK(strncmp(resolve(NULL, "mqtt://b"), "error: bad proxy", 16) == 0);
	clear_env();
}

/* The environment is used at mqtt_client_new: ALL_PROXY to the SOCKS
 * proxy works; NO_PROXY bypasses a dead one; proxy "none" overrides. */
static void test_env_end_to_end(void)
{
	char p[64];
	clear_env();
	snprintf(p, sizeof p, "socks5://127.0.0.1:%d", socks_port);
	setenv("ALL_PROXY", p, 1);
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, NULL, 0), 1);
	snprintf(p, sizeof p, "socks5://127.0.0.1:%d", fx_free_port());
	setenv("ALL_PROXY", p, 1);
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, NULL, 0), 0);
	CHECK(has("SOCKS5 proxy"));
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, "none", 0), 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	CHECK_EQ_INT(via("mqtt://127.0.0.1:%d", mqtt_port, NULL, 0), 1);
	clear_env();
}

int main(int argc, char **argv)
{
	(void)argc;
	clear_env();    /* a proxy in the caller's environment must not leak in */
	RUN(test_env_rules);
	if (!fx_have("mosquitto") || !fx_have("tinyproxy") || !fx_have("microsocks")) {
		fprintf(stderr, "test_proxy needs mosquitto, tinyproxy and microsocks\n");
		test_failed++;
		return test_report("proxy");
	}
	if (!fx_setup(argv[0], true) || !start_peers()) {
		fprintf(stderr, "cannot start the proxies or the broker (see %s)\n", fx_dir);
		test_failed++;
		fx_cleanup();
		return test_report("proxy");
	}
	RUN(test_bad_proxy_option);
	RUN(test_http_connect);
	RUN(test_http_auth);
	RUN(test_http_refused);
	RUN(test_socks5);
	RUN(test_socks5_auth);
	RUN(test_socks5_refused);
	RUN(test_proxy_down);
	RUN(test_env_end_to_end);
	fx_cleanup();
	return test_report("proxy");
}
