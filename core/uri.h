/*
 * uri.h - broker addresses: "mqtt://[user[:pass]@]host[:port]", "tcp://...",
 * "mqtts://", "ssl://", "ws://", "wss://" (parsed; transports come later),
 * "unix:///path/to/socket". IPv6 hosts in brackets: "mqtt://[::1]:1883".
 * A bare "host[:port]" means mqtt://.
 */
#ifndef LIA_URI_H
#define LIA_URI_H

#include <stdbool.h>
#include <stdint.h>

struct uri {
	char scheme[8];         /* "mqtt", "mqtts", "ws", "wss", "unix" */
	char host[256];
	uint16_t port;          /* default per scheme */
	char path[256];         /* unix socket path, or ws path ("/mqtt") */
	char user[128];
	char pass[128];
	bool has_user, has_pass;
	bool tls;
};

/* 0, or -1 with a one-line reason in err. */
int uri_parse(const char *s, struct uri *u, char *err, size_t errlen);

#endif
