/* test_uri.c - broker URI parsing. */
#include "test.h"
#include "uri.h"

static struct uri U;
static char err[200];

static int parse(const char *s)
{
	return uri_parse(s, &U, err, sizeof err);
}

static void test_plain(void)
{
	CHECK_EQ_INT(parse("mqtt://broker.local:1884"), 0);
	CHECK(strcmp(U.scheme, "mqtt") == 0);
	CHECK(strcmp(U.host, "broker.local") == 0);
	CHECK_EQ_INT(U.port, 1884);
	CHECK(!U.has_user && !U.tls);
}

static void test_defaults(void)
{
	CHECK_EQ_INT(parse("mqtt://h"), 0);
	CHECK_EQ_INT(U.port, 1883);
	CHECK_EQ_INT(parse("mqtts://h"), 0);
	CHECK_EQ_INT(U.port, 8883);
	CHECK(U.tls);
	CHECK_EQ_INT(parse("tcp://h"), 0);
	CHECK(strcmp(U.scheme, "mqtt") == 0);
	CHECK_EQ_INT(parse("h:99"), 0);            /* bare host:port means mqtt:// */
	CHECK_EQ_INT(U.port, 99);
	CHECK_EQ_INT(parse("wss://h/mqtt"), 0);
	CHECK_EQ_INT(U.port, 443);
	CHECK(strcmp(U.path, "/mqtt") == 0);
}

static void test_userinfo(void)
{
	CHECK_EQ_INT(parse("mqtt://ann:s3cret@10.0.0.1:1883"), 0);
	CHECK(U.has_user && U.has_pass);
	CHECK(strcmp(U.user, "ann") == 0);
	CHECK(strcmp(U.pass, "s3cret") == 0);
	CHECK(strcmp(U.host, "10.0.0.1") == 0);
	CHECK_EQ_INT(parse("mqtt://bob@h"), 0);
	CHECK(U.has_user && !U.has_pass);
}

static void test_ipv6_and_unix(void)
{
	CHECK_EQ_INT(parse("mqtt://[::1]:2000"), 0);
	CHECK(strcmp(U.host, "::1") == 0);
	CHECK_EQ_INT(U.port, 2000);
	CHECK_EQ_INT(parse("unix:///run/mosquitto.sock"), 0);
	CHECK(strcmp(U.scheme, "unix") == 0);
	CHECK(strcmp(U.path, "/run/mosquitto.sock") == 0);
}

static void test_errors(void)
{
	CHECK_EQ_INT(parse("gopher://h"), -1);
	CHECK(strstr(err, "unknown scheme") != NULL);
	CHECK_EQ_INT(parse("mqtt://h:0"), -1);
	CHECK_EQ_INT(parse("mqtt://h:70000"), -1);
	CHECK_EQ_INT(parse("mqtt://h:12ab"), -1);
	CHECK_EQ_INT(parse("mqtt://"), -1);
	CHECK_EQ_INT(parse("mqtt://[::1"), -1);
	CHECK_EQ_INT(parse("unix://"), -1);
	char longhost[400];
	memset(longhost, 'a', sizeof longhost);
	memcpy(longhost, "mqtt://", 7);
	longhost[sizeof longhost - 1] = '\0';
	CHECK_EQ_INT(parse(longhost), -1);
	CHECK(strstr(err, "too long") != NULL);
}

int main(void)
{
	RUN(test_plain);
	RUN(test_defaults);
	RUN(test_userinfo);
	RUN(test_ipv6_and_unix);
	RUN(test_errors);
	return test_report("uri");
}
