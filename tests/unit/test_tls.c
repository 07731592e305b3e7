/*
 * test_tls.c - mqtts:// against a real mosquitto with TLS listeners, using
 * certificates made at test time by tests/tls/mkcerts.sh: every way
 * verification can fail names its reason, client certificates, encrypted
 * keys, insecure mode, verification repeated after a reconnect, and
 * certificate rotation with mqtt_client_reload_tls.
 */
#include "net_fixture.h"

enum { P_GOOD, P_CLIENTCERT, P_EXPIRED, P_WRONGNAME, P_SELFSIGNED, P_PLAIN, P_N };
static int port[P_N];
static pid_t broker;

static bool port_repeats(int i)
{
	for (int j = 0; j < i; j++)
		if (port[j] == port[i])
			return true;
	return false;
}

static bool start_broker_once(void)
{
	char conf[4096];
	const char *cert[] = { "server", "server", "expired", "wrongname", "selfsigned" };
	size_t n = 0;
	for (int i = 0; i < P_N; i++)
		do
			port[i] = fx_free_port();
		while (port_repeats(i));
	n += (size_t)snprintf(conf + n, sizeof conf - n, "allow_anonymous true\nlog_type all\n");
	for (int i = 0; i < P_PLAIN; i++) {
		n += (size_t)snprintf(conf + n, sizeof conf - n,
			"listener %d 127.0.0.1\ncafile %s\ncertfile %s/%s.crt\nkeyfile %s/%s.key\n", port[i],
			fx_path("ca.crt"), fx_dir, cert[i], fx_dir, cert[i]);
		if (i == P_CLIENTCERT)
			n += (size_t)snprintf(conf + n, sizeof conf - n,
				"require_certificate true\nuse_identity_as_username true\n");
	}
	snprintf(conf + n, sizeof conf - n, "listener %d 127.0.0.1\n", port[P_PLAIN]);
	broker = fx_mosquitto("broker", port[P_PLAIN], conf);
	for (int i = 0; broker && i < P_PLAIN; i++)
		if (!fx_wait_ready(broker, port[i], NULL))
			return false;
	return broker != 0;
}

/* Six listeners on ports found free one by one: another test's outgoing
 * connection can take one of them (from the same ephemeral range) before
 * mosquitto binds it, and mosquitto then exits. Such a start is tried
 * again on new ports; a broker that stays down fails the test as before. */
static bool start_broker(void)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (start_broker_once())
			return true;
		fx_stop(broker);
		broker = 0;
	}
	return false;
}

struct result {
	int connected;      /* 1, 0 refused/failed, -1 timeout, -2 mqtt_client_new failed */
	char msg[512];      /* the disconnect message or the creation error */
};

/* One connection attempt with tls options, then the client is freed. */
static struct result try_tls(const char *host, int p, const struct transport_tls_opts *tls)
{
	char uri[128];
	struct result res = { 0 };
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	snprintf(uri, sizeof uri, "mqtts://%s:%d", host, p);
	o.tls = *tls;
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, res.msg, sizeof res.msg);
	if (!c) {
		res.connected = -2;
		return res;
	}
	res.connected = fx_connect(c, 3000);
	if (res.connected == 1)
		fx_turn(50);    /* TLS 1.3: a refused client certificate arrives after CONNACK? */
	if (FE.disconnects)
		res.connected = 0;
	snprintf(res.msg, sizeof res.msg, "%s", FE.disconnect);
	mqtt_client_free(c);
	return res;
}

static bool has(const char *msg, const char *word)
{
	if (strstr(msg, word))
		return true;
	fprintf(stderr, "    expected \"%s\" in: %s\n", word, msg);
	return false;
}

/* ---- verification ---- */

static void test_right_ca(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt") };
	struct result r = try_tls("localhost", port[P_GOOD], &t);
	CHECK_EQ_INT(r.connected, 1);
	r = try_tls("127.0.0.1", port[P_GOOD], &t);    /* IP SAN */
	CHECK_EQ_INT(r.connected, 1);
}

static void test_ca_path(void)
{
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/capath' && cp '%s' '%s/capath/' && openssl rehash '%s/capath'",
		fx_dir, fx_path("ca.crt"), fx_dir, fx_dir);
	CHECK(system(cmd) == 0);
	struct transport_tls_opts t = { .ca_path = fx_path("capath") };
	CHECK_EQ_INT(try_tls("localhost", port[P_GOOD], &t).connected, 1);
}

static void test_wrong_ca(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca2.crt") };
	struct result r = try_tls("localhost", port[P_GOOD], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "certificate verify failed: unknown CA"));
}

static void test_system_store_rejects_test_ca(void)
{
	struct transport_tls_opts t = { .enabled = true };
	struct result r = try_tls("localhost", port[P_GOOD], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "unknown CA"));
}

static void test_self_signed(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt") };
	struct result r = try_tls("localhost", port[P_SELFSIGNED], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "self-signed certificate"));
}

static void test_expired(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt") };
	struct result r = try_tls("localhost", port[P_EXPIRED], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "certificate has expired"));
}

static void test_name_mismatch(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt") };
	struct result r = try_tls("localhost", port[P_WRONGNAME], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "hostname mismatch (certificate is not for localhost)"));
	r = try_tls("127.0.0.1", port[P_WRONGNAME], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "IP address mismatch"));
	/* server_name names what to verify (and send as SNI) */
	t.server_name = "other.example";
	CHECK_EQ_INT(try_tls("127.0.0.1", port[P_WRONGNAME], &t).connected, 1);
}

static void test_insecure_connects_and_warns(void)
{
	struct transport_tls_opts t = { .insecure = true };
	struct result r = try_tls("localhost", port[P_WRONGNAME], &t);
	CHECK_EQ_INT(r.connected, 1);
	CHECK(has(FE.logs, "NOT verified (insecure)"));
	r = try_tls("localhost", port[P_SELFSIGNED], &t);
	CHECK_EQ_INT(r.connected, 1);
	CHECK(has(FE.logs, "NOT verified (insecure)"));
}

/* ---- client certificates ---- */

static void test_client_cert_given(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt"), .cert = fx_path("client.crt"),
		.key = fx_path("client.key") };
	CHECK_EQ_INT(try_tls("localhost", port[P_CLIENTCERT], &t).connected, 1);
	CHECK(!strstr(FE.logs, "expires"));
}

static void test_client_cert_missing(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt") };
	struct result r = try_tls("localhost", port[P_CLIENTCERT], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "certificate required"));
}

static void test_client_cert_untrusted(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt"), .cert = fx_path("client_bad.crt"),
		.key = fx_path("client_bad.key") };
	struct result r = try_tls("localhost", port[P_CLIENTCERT], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "unknown ca"));
}

static void test_encrypted_key(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt"), .cert = fx_path("client.crt"),
		.key = fx_path("client_enc.key"), .key_password = "secret" };
	CHECK_EQ_INT(try_tls("localhost", port[P_CLIENTCERT], &t).connected, 1);
	t.key_password = "wrong";
	struct result r = try_tls("localhost", port[P_CLIENTCERT], &t);
	CHECK_EQ_INT(r.connected, -2);
	CHECK(has(r.msg, "wrong key password?"));
	t.key_password = NULL;
	r = try_tls("localhost", port[P_CLIENTCERT], &t);
	CHECK_EQ_INT(r.connected, -2);
	CHECK(has(r.msg, "without key_password"));
}

static void test_bad_options(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("nope.crt") };
	struct result r = try_tls("localhost", port[P_GOOD], &t);
	CHECK_EQ_INT(r.connected, -2);
	CHECK(has(r.msg, "cannot read CA file"));
	t = (struct transport_tls_opts){ .min_version = "tlsv9" };
	CHECK_EQ_INT(try_tls("localhost", port[P_GOOD], &t).connected, -2);
	t = (struct transport_tls_opts){ .cert = fx_path("client.crt"), .key = fx_path("client2.key") };
	r = try_tls("localhost", port[P_GOOD], &t);
	CHECK_EQ_INT(r.connected, -2);
	CHECK(has(r.msg, "does not match"));
}

static void test_expiry_warning(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt"), .cert = fx_path("client_soon.crt"),
		.key = fx_path("client_soon.key") };
	CHECK_EQ_INT(try_tls("localhost", port[P_CLIENTCERT], &t).connected, 1);
	CHECK(has(FE.logs, "expires in 4 days") || has(FE.logs, "expires in 5 days"));
}

static void test_versions_alpn_ciphers(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt"), .min_version = "tlsv1.3",
		.alpn = "mqtt,x-amzn-mqtt-ca" };
	CHECK_EQ_INT(try_tls("localhost", port[P_GOOD], &t).connected, 1);
	t = (struct transport_tls_opts){ .ca_file = fx_path("ca.crt"), .ciphers = "no-such-cipher" };
	CHECK_EQ_INT(try_tls("localhost", port[P_GOOD], &t).connected, -2);
}

/* ---- wrong ports ---- */

static void test_tls_to_plain_port(void)
{
	struct transport_tls_opts t = { .ca_file = fx_path("ca.crt") };
	struct result r = try_tls("localhost", port[P_PLAIN], &t);
	CHECK_EQ_INT(r.connected, 0);
	CHECK(has(r.msg, "TLS handshake with localhost"));
}

static void test_plain_to_tls_port(void)
{
	char uri[64], err[256];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	snprintf(uri, sizeof uri, "mqtt://127.0.0.1:%d", port[P_GOOD]);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK(c != NULL);
	CHECK_EQ_INT(fx_connect(c, 3000), 0);
	CHECK(FE.disconnect[0] != '\0');
	mqtt_client_free(c);
}

/* TLS options on mqtt:// turn TLS on (and the default port to 8883). */
static void test_tls_option_upgrades_scheme(void)
{
	char uri[64], err[256];
	struct mqtt_client_opts o = { .uri = uri, .clean = true };
	o.tls.ca_file = fx_path("ca.crt");
	snprintf(uri, sizeof uri, "mqtt://localhost:%d", port[P_GOOD]);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK(c != NULL);
	CHECK_EQ_INT(fx_connect(c, 3000), 1);
	CHECK(fx_round_trip(c, "lia/tls/t", "over tls", 8, 1));
	CHECK(fx_round_trip(c, "lia/tls/t2", "over tls 2", 10, 2));
	mqtt_client_free(c);
}

/* ---- reconnects ---- */

/* The broker comes back with a certificate for another name: the automatic
 * reconnect must verify again and refuse. */
static void test_verify_repeated_on_reconnect(void)
{
	char uri[64], err[256], conf[1024];
	int p = fx_free_port();
	const char *fmt = "listener %d 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s/%s.crt\nkeyfile %s/%s.key\n";
	snprintf(conf, sizeof conf, fmt, p, fx_path("ca.crt"), fx_dir, "server", fx_dir, "server");
	pid_t b = fx_mosquitto("rebroker", p, conf);
	CHECK(b != 0);
	struct mqtt_client_opts o = { .uri = uri, .reconnect = true, .reconnect_min_ms = 50,
		.reconnect_max_ms = 100 };
	o.tls.ca_file = fx_path("ca.crt");
	snprintf(uri, sizeof uri, "mqtts://localhost:%d", p);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK_EQ_INT(fx_connect(c, 3000), 1);
	fx_stop(b);
	CHECK(fx_until(&FE.disconnects, 1, 3000));
	snprintf(conf, sizeof conf, fmt, p, fx_path("ca.crt"), fx_dir, "wrongname", fx_dir, "wrongname");
	b = fx_mosquitto("rebroker", p, conf);
	CHECK(b != 0);
	/* several attempts fail: either refused while down or on verification */
	uint64_t end = loop_clock_ns() / 1000000 + 3000;
	while (!strstr(FE.disconnect, "hostname mismatch") && loop_clock_ns() / 1000000 < end)
		loop_run_once(FL, 10);
	CHECK(has(FE.disconnect, "hostname mismatch"));
	CHECK_EQ_INT(FE.connects, 1);
	mqtt_client_free(c);
	fx_stop(b);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1200];
	/* write a new file and rename: a new inode, as deployment tools do */
	snprintf(cmd, sizeof cmd, "cp '%s' '%s.new' && mv '%s.new' '%s'", from, to, to, to);
	CHECK(system(cmd) == 0);
}

/* Rotation: the broker maps the certificate CN to the username and an ACL
 * lets only client2 publish to id/client2, so a message coming back proves
 * the new identity; clean=false keeps the session across the reload. */
static void test_rotation(void)
{
	char uri[64], err[256], conf[1024];
	int p = fx_free_port();
	fx_write("rot.acl", "user client1\ntopic read id/#\nuser client2\ntopic read id/#\n"
		"topic write id/client2\n");
	snprintf(conf, sizeof conf, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
		"require_certificate true\nuse_identity_as_username true\nacl_file %s\n", p,
		fx_path("ca.crt"), fx_path("server.crt"), fx_path("server.key"), fx_path("rot.acl"));
	pid_t b = fx_mosquitto("rotbroker", p, conf);
	CHECK(b != 0);
	copy_file(fx_path("client.crt"), fx_path("id.crt"));
	copy_file(fx_path("client.key"), fx_path("id.key"));
	struct mqtt_client_opts o = { .uri = uri, .clean = false, .client_id = "lia-rot",
		.reconnect = true, .reconnect_min_ms = 50, .reconnect_max_ms = 100 };
	o.tls = (struct transport_tls_opts){ .ca_file = fx_path("ca.crt"), .cert = fx_path("id.crt"),
		.key = fx_path("id.key") };
	snprintf(uri, sizeof uri, "mqtts://localhost:%d", p);
	fx_reset_events();
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK_EQ_INT(fx_connect(c, 3000), 1);
	/* as client1: subscribed, but publishing to id/client2 is denied */
	struct mqtt_sub_item it = { .filter = { (const uint8_t *)"id/#", 4 }, .options = 1 };
	struct mqtt_pub_req pr = { .topic = "id/client2", .topic_len = 10,
		.payload = (const uint8_t *)"who", .payload_len = 3, .qos = 1 };
	uint32_t mid;
	CHECK(mqtt_client_subscribe(c, &it, 1, NULL, 0, &mid) == 0);
	CHECK(fx_until(&FE.subscribed, 1, 3000));
	CHECK(mqtt_client_publish(c, &pr, &mid) == 0);
	fx_turn(300);
	CHECK_EQ_INT(FE.messages, 0);

	/* an untrusted certificate on disk: the reload must use it and fail */
	copy_file(fx_path("client_bad.crt"), fx_path("id.crt"));
	copy_file(fx_path("client_bad.key"), fx_path("id.key"));
	CHECK_EQ_INT(mqtt_client_reload_tls(c), 0);
	uint64_t end = loop_clock_ns() / 1000000 + 3000;
	while (!strstr(FE.disconnect, "unknown ca") && loop_clock_ns() / 1000000 < end)
		loop_run_once(FL, 10);
	CHECK(has(FE.disconnect, "unknown ca"));
	CHECK_EQ_INT(FE.connects, 1);

	/* client2's certificate: picked up by the next automatic reconnect */
	copy_file(fx_path("client2.crt"), fx_path("id.crt"));
	copy_file(fx_path("client2.key"), fx_path("id.key"));
	CHECK(fx_until(&FE.connects, 2, 3000));
	CHECK(FE.session_present);
	CHECK(mqtt_client_publish(c, &pr, &mid) == 0);
	CHECK(fx_until(&FE.messages, 1, 3000));
	CHECK(strcmp(FE.topic, "id/client2") == 0);

	/* reload while connected with unchanged files: a clean reconnect */
	int d0 = FE.disconnects;
	CHECK_EQ_INT(mqtt_client_reload_tls(c), 0);
	CHECK(fx_until(&FE.connects, 3, 3000));
	CHECK_EQ_INT(FE.disconnects, d0 + 1);
	CHECK(FE.session_present);
	mqtt_client_free(c);
	fx_stop(b);
}

static void test_reload_without_tls(void)
{
	char err[256];
	struct mqtt_client_opts o = { .uri = "mqtt://127.0.0.1:1", .clean = true };
	struct mqtt_client *c = fx_client(&o, err, sizeof err);
	CHECK_EQ_INT(mqtt_client_reload_tls(c), MQTT_E_STATE);
	mqtt_client_free(c);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (!fx_have("mosquitto") || !fx_have("openssl")) {
		fprintf(stderr, "test_tls needs mosquitto and openssl\n");
		test_failed++;
		return test_report("tls");
	}
	if (!fx_setup(argv[0], true) || !start_broker()) {
		test_failed++;
		fx_cleanup();
		return test_report("tls");
	}
	RUN(test_right_ca);
	RUN(test_ca_path);
	RUN(test_wrong_ca);
	RUN(test_system_store_rejects_test_ca);
	RUN(test_self_signed);
	RUN(test_expired);
	RUN(test_name_mismatch);
	RUN(test_insecure_connects_and_warns);
	RUN(test_client_cert_given);
	RUN(test_client_cert_missing);
	RUN(test_client_cert_untrusted);
	RUN(test_encrypted_key);
	RUN(test_bad_options);
	RUN(test_expiry_warning);
	RUN(test_versions_alpn_ciphers);
	RUN(test_tls_to_plain_port);
	RUN(test_plain_to_tls_port);
	RUN(test_tls_option_upgrades_scheme);
	RUN(test_verify_repeated_on_reconnect);
	RUN(test_rotation);
	RUN(test_reload_without_tls);
	fx_cleanup();
	return test_report("tls");
}
