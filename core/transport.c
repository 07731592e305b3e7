/*
 * transport.c - which stack of transport layers carries a broker URI (see
 * the table in transport.h).
 */
#include <stdio.h>
#include <string.h>

#include "transport.h"

const struct transport_ops *transport_stream_ops(const struct transport_cfg *cfg)
{
	return cfg && cfg->proxy && cfg->proxy[0] ? &transport_proxy : &transport_tcp;
}

const struct transport_ops *transport_for_cfg(const struct uri *u, const struct transport_cfg *cfg,
	char *err, size_t errlen)
{
	if (strcmp(u->scheme, "mqtt") == 0)
		return transport_stream_ops(cfg);
	if (strcmp(u->scheme, "mqtts") == 0)
		return &transport_tls;
	if (strcmp(u->scheme, "ws") == 0 || strcmp(u->scheme, "wss") == 0)
		return &transport_ws;
	if (strcmp(u->scheme, "unix") == 0)
		return &transport_unix;
	snprintf(err, errlen, "%s:// is not supported", u->scheme);
	return NULL;
}

const struct transport_ops *transport_for(const struct uri *u, char *err, size_t errlen)
{
	return transport_for_cfg(u, NULL, err, errlen);
}
