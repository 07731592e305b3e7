/*
 * transport.h - byte streams under the MQTT session, as a small ops table:
 * TCP and unix sockets (transport_tcp.c), TLS (transport_tls.c), WebSockets
 * (transport_ws.c) and HTTP CONNECT / SOCKS5 proxies (transport_proxy.c).
 * All non-blocking: the session drives them from loop events.
 *
 * Layers stack inside open/handshake: a layer keeps the transport below it
 * in its private state and mirrors its fd, so the session only ever sees
 * the top one. The stacks are
 *     mqtt://   tcp | proxy(tcp)
 *     mqtts://  tls(tcp | proxy(tcp))
 *     ws://     ws(tcp | proxy(tcp))
 *     wss://    ws(tls(tcp | proxy(tcp)))
 *     unix://   unix (never proxied)
 */
#ifndef LIA_TRANSPORT_H
#define LIA_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "uri.h"

/* open/handshake results besides 0 (done) and -1 (error in t->err). */
#define TRANSPORT_WANT_READ 1
#define TRANSPORT_WANT_WRITE 2

struct transport;
struct transport_ops {
	const char *name;
	/* Begin connecting; sets t->fd. 0 when connected, WANT_* in progress. */
	int (*open)(struct transport *t, const struct uri *u);
	/* Continue after the fd became ready; same results as open. */
	int (*handshake)(struct transport *t);
	/* > 0 bytes, 0 end of stream, -1 error (errno EAGAIN: try later). */
	ssize_t (*read)(struct transport *t, void *buf, size_t n);
	ssize_t (*write)(struct transport *t, const void *buf, size_t n);
	void (*close)(struct transport *t);
	/* Bytes already received and buffered inside the transport (TLS
	 * records, decoded WebSocket frames) that a read returns without the
	 * fd becoming readable again; NULL for plain sockets. The session
	 * keeps reading while this is non-zero. */
	size_t (*pending)(struct transport *t);
};

/* TLS options (strings are borrowed: the client keeps private copies).
 * Any of them set turns TLS on, as in mosquitto_pub. */
struct transport_tls_opts {
	bool enabled;               /* TLS even on mqtt:// or ws:// */
	const char *ca_file;        /* PEM CA bundle */
	const char *ca_path;        /* directory of hashed CA certs (c_rehash) */
	                            /* neither: the system store */
	const char *cert;           /* client certificate (chain), PEM */
	const char *key;            /* its private key, PEM; NULL: in cert */
	const char *key_password;   /* for an encrypted key */
	const char *alpn;           /* comma-separated, e.g. "x-amzn-mqtt-ca" */
	const char *ciphers;        /* TLS <= 1.2 cipher list, OpenSSL syntax */
	const char *min_version;    /* "tlsv1.2" (default) or "tlsv1.3" ("1.2", "1.3") */
	const char *server_name;    /* SNI and the name verified; NULL: URI host */
	bool insecure;              /* no certificate/name check: warns at every connect */
	unsigned expiry_warn_days;  /* warn when the client cert expires sooner; 0 = 30 */
};

/* MQTT over WebSocket options. */
struct transport_ws_opts {
	const char *path;           /* request path; NULL: the URI's, else "/mqtt" */
	const char *headers;        /* extra request headers, "Name: value" lines
	                               separated by "\n" or "\r\n"; NULL: none */
};

/* Log sink for transports (warnings at connect): the client forwards to
 * its own log and events. */
typedef void transport_log_fn(void *ud, int level, const char *line);

struct tls_cache;

/* What the layers need besides the URI; owned by the client, shared by
 * every connection it makes (t->cfg). */
struct transport_cfg {
	struct transport_tls_opts tls;
	struct transport_ws_opts ws;
	const char *proxy;          /* resolved "socks5://..." / "http://..."; NULL: direct */
	char bind_address[256];     /* local address (or host name) to connect from; "": any */
	size_t max_frame;           /* WebSocket: largest frame payload accepted */
	transport_log_fn *log;
	void *log_ud;
	struct tls_cache *tls_cache;/* SSL_CTX kept while its files are unchanged */
};

struct transport {
	const struct transport_ops *ops;
	int fd;
	char err[512];      /* last error, one line */
	void *priv;
	const struct transport_cfg *cfg;    /* NULL: defaults, no TLS material, no proxy */
};

/* The transport for a URI's scheme, or NULL (with err) when unsupported.
 * mqtt:// is direct TCP; use transport_for_cfg for proxies. */
const struct transport_ops *transport_for(const struct uri *u, char *err, size_t errlen);
/* The same, choosing the proxy layer when cfg->proxy is set (not for unix). */
const struct transport_ops *transport_for_cfg(const struct uri *u, const struct transport_cfg *cfg,
	char *err, size_t errlen);
/* What carries a TLS or WebSocket layer: the proxy or plain TCP. */
const struct transport_ops *transport_stream_ops(const struct transport_cfg *cfg);

extern const struct transport_ops transport_tcp;
extern const struct transport_ops transport_unix;
extern const struct transport_ops transport_tls;
extern const struct transport_ops transport_ws;
extern const struct transport_ops transport_proxy;

/* transport_tls.c. Check the TLS options and load the material now, so a
 * bad file or password fails mqtt_client_new with one line; 0 or -1. */
int tls_cache_prepare(struct transport_cfg *cfg, char *err, size_t errlen);
/* Forget the loaded material: the next connection reloads every file. */
void tls_cache_invalidate(struct transport_cfg *cfg);
void tls_cache_free(struct transport_cfg *cfg);

/* transport_ws.c: check a path and extra header lines; 0 or -1 with err. */
int transport_ws_check(const struct transport_ws_opts *o, char *err, size_t errlen);

/* transport_proxy.c. The proxy for a connection to u: opts_proxy when not
 * NULL ("" or "none": direct), else the environment (see transport_proxy.c
 * for which variable applies to which scheme). Writes the proxy URL to out
 * (empty: direct); -1 with err when opts_proxy is malformed. */
int proxy_resolve(const char *opts_proxy, const struct uri *u, char *out, size_t outlen,
	char *err, size_t errlen);

#endif
