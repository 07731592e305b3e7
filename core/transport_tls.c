/*
 * transport_tls.c - TLS over TCP (or over a proxy tunnel) with OpenSSL,
 * non-blocking: SSL_connect/SSL_read/SSL_write are retried from loop
 * events, WANT_READ/WANT_WRITE become TRANSPORT_WANT_* or EAGAIN.
 *
 * Every connection gets a new SSL, so the certificate and the host name are
 * verified again on every reconnect. The SSL_CTX (CA store, client cert and
 * key) is cached in cfg->tls_cache and rebuilt when one of its files changes
 * on disk (inode, size or mtime), so rotated certificates are used from the
 * next connection on; tls_cache_invalidate forces the rebuild.
 *
 * The OpenSSL error queue is cleared before each SSL call and drained after
 * a failure into one line in t->err. OpenSSL writes with write(2): the host
 * must ignore SIGPIPE (main.c does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ossl.h"

#include "log.h"
#include "transport.h"
#include "xalloc.h"

#define TLS_DEFAULT_WARN_DAYS 30

enum { STAMP_CA_FILE, STAMP_CA_PATH, STAMP_CERT, STAMP_KEY, STAMP_N };

struct file_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct tls_cache {
	SSL_CTX *ctx;
	struct file_stamp stamps[STAMP_N];
};

enum tls_phase { PHASE_LOWER, PHASE_HANDSHAKE, PHASE_OPEN };

struct tls_state {
	struct transport low;       /* tcp or proxy */
	SSL *ssl;
	SSL_CTX *own_ctx;           /* when there is no cache to borrow from */
	enum tls_phase phase;
	char host[256];             /* the broker, for messages */
	unsigned port;
	char name[256];             /* verified name and SNI */
};

/* ---- errors ---- */

/* The most specific OpenSSL reason in the queue (the first one queued),
 * then the queue is empty. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e, first = 0;
	while ((e = ERR_get_error()) != 0)
		if (!first)
			first = e;
	if (!first)
		return NULL;
	const char *r = ERR_reason_error_string(first);
	if (r)
		snprintf(buf, len, "%s", r);
	else
		snprintf(buf, len, "OpenSSL error %lx", first);
	return buf;
}

static const char *verify_text(long v)
{
	switch (v) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "self-signed certificate (not issued by a trusted CA)";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "unknown CA (the chain ends in an untrusted self-signed CA)";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		return "unknown CA (unable to get issuer certificate)";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate is not yet valid";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "hostname mismatch";
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "IP address mismatch";
	default:
		return X509_verify_cert_error_string(v);
	}
}

static void handshake_error(struct transport *t, int ssl_err)
{
	struct tls_state *st = t->priv;
	long v = SSL_get_verify_result(st->ssl);
	char why[256], subj[256] = "";
	const char *r;
	if (v != X509_V_OK && !(t->cfg && t->cfg->tls.insecure)) {
		bool name = v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH;
		X509 *peer = SSL_get0_peer_certificate(st->ssl);
		if (peer)
			X509_NAME_oneline(X509_get_subject_name(peer), subj, sizeof subj);
		ERR_clear_error();
		snprintf(t->err, sizeof t->err, "TLS to %.100s:%u: certificate verify failed: %s%s%.100s%s%s%.150s",
			st->host, st->port, verify_text(v), name ? " (certificate is not for " : "",
			name ? st->name : "", name ? ")" : "", subj[0] ? "; server certificate " : "", subj);
		return;
	}
	r = ssl_reason(why, sizeof why);
	if (ssl_err == SSL_ERROR_SYSCALL && !r)
		snprintf(t->err, sizeof t->err, "TLS handshake with %s:%u failed: %s (not a TLS port?)",
			st->host, st->port, errno ? strerror(errno) : "connection closed by peer");
	else if (r && strstr(r, "wrong version number"))
		snprintf(t->err, sizeof t->err, "TLS handshake with %s:%u failed: %s (not a TLS port?)",
			st->host, st->port, r);
	else if (r && strstr(r, "alert"))
		snprintf(t->err, sizeof t->err, "TLS handshake with %s:%u failed: broker sent %s",
			st->host, st->port, r);
	else
		snprintf(t->err, sizeof t->err, "TLS handshake with %s:%u failed: %s", st->host, st->port,
			r ? r : "unknown error");
}

/* A write failed at the socket: when the broker refused us (TLS 1.3 sends
 * "certificate required" or "unknown ca" after our handshake completed),
 * its alert may still wait to be read, and says more than ECONNRESET. */
static const char *pending_alert(struct tls_state *st, char *buf, size_t len)
{
	char tmp[256];
	ERR_clear_error();
	int r = SSL_read(st->ssl, tmp, sizeof tmp);
	const char *why = r <= 0 && SSL_get_error(st->ssl, r) == SSL_ERROR_SSL ? ssl_reason(buf, len) : NULL;
	ERR_clear_error();
	return why && strstr(why, "alert") ? why : NULL;
}

/* After the handshake: a read or write that failed for good. */
static void io_error(struct transport *t, const char *op, int ssl_err)
{
	struct tls_state *st = t->priv;
	char why[256];
	const char *r = ssl_reason(why, sizeof why);
	int e = errno;
	if (ssl_err == SSL_ERROR_SYSCALL && !r && !strcmp(op, "write"))
		r = pending_alert(st, why, sizeof why);
	if (ssl_err == SSL_ERROR_SYSCALL && !r)
		snprintf(t->err, sizeof t->err, "TLS %s from %s:%u: %s", op, st->host, st->port,
			e ? strerror(e) : "connection closed without close_notify");
	else if (r && strstr(r, "alert"))
		snprintf(t->err, sizeof t->err, "TLS connection to %s:%u closed: broker sent %s%s", st->host,
			st->port, r, strstr(r, "certificate required") ? " (a client certificate is needed)" : "");
	else
		snprintf(t->err, sizeof t->err, "TLS %s from %s:%u: %s", op, st->host, st->port,
			r ? r : "unknown error");
	errno = e && e != EAGAIN && e != EWOULDBLOCK ? e : EPROTO;
}

/* ---- context: options, material, cache ---- */

static int parse_version(const char *s)
{
	if (!s || !*s)
		return TLS1_2_VERSION;
	if (!strcasecmp(s, "tlsv1.2") || !strcmp(s, "1.2"))
		return TLS1_2_VERSION;
	if (!strcasecmp(s, "tlsv1.3") || !strcmp(s, "1.3"))
		return TLS1_3_VERSION;
	return -1;
}

/* ALPN wire format: length-prefixed names from "a,b". */
static int alpn_wire(const char *list, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = 0;
	const char *p = list;
	while (*p) {
		size_t k = strcspn(p, ",");
		if (k == 0 || k > 255 || n + 1 + k > cap)
			return -1;
		out[n++] = (unsigned char)k;
		memcpy(out + n, p, k);
		n += k;
		p += k + (p[k] == ',');
	}
	*len = n;
	return n ? 0 : -1;
}

static int password_cb(char *buf, int size, int rwflag, void *ud)
{
	const char *pw = ud;
	size_t n;
	(void)rwflag;
	/* Without a password, fail instead of OpenSSL prompting on a terminal. */
	if (!pw || size <= 0)
		return 0;
	n = strlen(pw);
	if (n > (size_t)size)
		n = (size_t)size;
	memcpy(buf, pw, n);
	return (int)n;
}

static int fail_file(char *err, size_t errlen, const char *what, const char *file)
{
	char why[256];
	const char *r = ssl_reason(why, sizeof why);
	snprintf(err, errlen, "cannot load %s %s: %s", what, file, r ? r : "unknown error");
	return -1;
}

static int check_readable(const char *what, const char *file, char *err, size_t errlen)
{
	if (file && access(file, R_OK) < 0) {
		snprintf(err, errlen, "cannot read %s %s: %s", what, file, strerror(errno));
		return -1;
	}
	return 0;
}

static int load_verify(SSL_CTX *ctx, const struct transport_tls_opts *o, char *err, size_t errlen)
{
	if (check_readable("CA file", o->ca_file, err, errlen) < 0 ||
			check_readable("CA directory", o->ca_path, err, errlen) < 0)
		return -1;
	if (o->ca_file || o->ca_path) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_path) != 1)
			return fail_file(err, errlen, o->ca_file ? "CA file" : "CA directory",
				o->ca_file ? o->ca_file : o->ca_path);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return fail_file(err, errlen, "the system CA store", "");
	}
	SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	return 0;
}

static int load_identity(SSL_CTX *ctx, const struct transport_tls_opts *o, char *err, size_t errlen)
{
	const char *key = o->key ? o->key : o->cert;
	if (!o->cert)
		return 0;
	if (check_readable("client certificate", o->cert, err, errlen) < 0 ||
			check_readable("client key", key, err, errlen) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
		return fail_file(err, errlen, "client certificate", o->cert);
	SSL_CTX_set_default_passwd_cb(ctx, password_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)o->key_password);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		char why[256];
		const char *r = ssl_reason(why, sizeof why);
		if (r && strstr(r, "key values mismatch"))
			snprintf(err, errlen, "client key %s does not match certificate %s", key, o->cert);
		else
			snprintf(err, errlen, "cannot load client key %s: %s%s", key, r ? r : "unknown error",
				o->key_password ? " (wrong key password?)" : " (encrypted key without key_password?)");
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "client key %s does not match certificate %s", key, o->cert);
		return -1;
	}
	/* the password is only needed while loading; the options may go away */
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	return 0;
}

static SSL_CTX *ctx_build(const struct transport_tls_opts *o, char *err, size_t errlen)
{
	unsigned char alpn[256];
	size_t alpn_len;
	int ver = parse_version(o->min_version);
	SSL_CTX *ctx;
	const char *why = ossl_ssl_load();
	if (why)
		return snprintf(err, errlen, "TLS: %s", why), NULL;
	ERR_clear_error();
	if (ver < 0)
		return snprintf(err, errlen, "unknown TLS min_version \"%s\" (tlsv1.2 or tlsv1.3)",
			o->min_version), NULL;
	if (o->key && !o->cert)
		return snprintf(err, errlen, "a TLS key needs a client certificate (cert)"), NULL;
	if (!(ctx = SSL_CTX_new(TLS_client_method())))
		return fail_file(err, errlen, "TLS", "context"), NULL;
	SSL_CTX_set_min_proto_version(ctx, ver);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "no usable TLS cipher in \"%s\"", o->ciphers);
		goto fail;
	}
	if (o->alpn && (alpn_wire(o->alpn, alpn, sizeof alpn, &alpn_len) < 0 ||
			SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned)alpn_len) != 0)) {
		snprintf(err, errlen, "bad ALPN list \"%s\"", o->alpn);
		goto fail;
	}
	if (load_verify(ctx, o, err, errlen) < 0 || load_identity(ctx, o, err, errlen) < 0)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void stamp_file(const char *path, struct file_stamp *s)
{
	struct stat sb;
	memset(s, 0, sizeof *s);
	if (!path || stat(path, &sb) < 0)
		return;
	s->exists = true;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
	s->mtime = sb.st_mtim;
}

static void stamp_all(const struct transport_tls_opts *o, struct file_stamp *s)
{
	stamp_file(o->ca_file, &s[STAMP_CA_FILE]);
	stamp_file(o->ca_path, &s[STAMP_CA_PATH]);
	stamp_file(o->cert, &s[STAMP_CERT]);
	stamp_file(o->key, &s[STAMP_KEY]);
}

static bool stamps_equal(const struct file_stamp *a, const struct file_stamp *b)
{
	for (int i = 0; i < STAMP_N; i++)
		if (a[i].exists != b[i].exists || a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
				a[i].size != b[i].size || a[i].mtime.tv_sec != b[i].mtime.tv_sec ||
				a[i].mtime.tv_nsec != b[i].mtime.tv_nsec)
			return false;
	return true;
}

/* The cached context, rebuilt first when a file changed. Borrowed. */
static SSL_CTX *cache_get(struct tls_cache *tc, const struct transport_tls_opts *o,
	char *err, size_t errlen)
{
	struct file_stamp now[STAMP_N];
	stamp_all(o, now);
	if (tc->ctx && stamps_equal(now, tc->stamps))
		return tc->ctx;
	SSL_CTX *ctx = ctx_build(o, err, errlen);
	if (!ctx)
		return NULL;
	SSL_CTX_free(tc->ctx);      /* open connections hold their own reference */
	tc->ctx = ctx;
	memcpy(tc->stamps, now, sizeof now);
	return ctx;
}

int tls_cache_prepare(struct transport_cfg *cfg, char *err, size_t errlen)
{
	if (!cfg->tls_cache && !(cfg->tls_cache = xcalloc(1, sizeof *cfg->tls_cache)))
		return snprintf(err, errlen, "out of memory"), -1;
	return cache_get(cfg->tls_cache, &cfg->tls, err, errlen) ? 0 : -1;
}

void tls_cache_invalidate(struct transport_cfg *cfg)
{
	if (cfg->tls_cache && cfg->tls_cache->ctx) {    /* no ctx: OpenSSL may not be loaded */
		SSL_CTX_free(cfg->tls_cache->ctx);
		cfg->tls_cache->ctx = NULL;
	}
}

void tls_cache_free(struct transport_cfg *cfg)
{
	tls_cache_invalidate(cfg);
	xfree(cfg->tls_cache);
	cfg->tls_cache = NULL;
}

/* ---- connection ---- */

static void tlog(struct transport *t, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void tlog(struct transport *t, int level, const char *fmt, ...)
{
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (t->cfg && t->cfg->log)
		t->cfg->log(t->cfg->log_ud, level, line);
	else
		log_msg(level, "%s", line);
}

static void warn_expiry(struct transport *t)
{
	struct tls_state *st = t->priv;
	X509 *cert = SSL_get_certificate(st->ssl);
	unsigned warn = t->cfg && t->cfg->tls.expiry_warn_days ? t->cfg->tls.expiry_warn_days :
		TLS_DEFAULT_WARN_DAYS;
	int days = 0, secs = 0;
	char subj[200];
	if (!cert || !ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
		return;
	X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof subj);
	if (days < 0 || secs < 0)
		tlog(t, LOG_WARN, "TLS client certificate %s has expired", subj);
	else if ((unsigned)days < warn)
		tlog(t, LOG_WARN, "TLS client certificate %s expires in %d days", subj, days);
}

static int tls_step(struct transport *t)
{
	struct tls_state *st = t->priv;
	int r, e;
	ERR_clear_error();
	errno = 0;
	r = SSL_connect(st->ssl);
	if (r == 1) {
		st->phase = PHASE_OPEN;
		warn_expiry(t);
		return 0;
	}
	e = SSL_get_error(st->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return TRANSPORT_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TRANSPORT_WANT_WRITE;
	handshake_error(t, e);
	return -1;
}

static bool is_ip(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Names to check: DNS names and IP SANs, no partial wildcards. */
static int set_peer_name(struct tls_state *st)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(st->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip(st->name))
		return X509_VERIFY_PARAM_set1_ip_asc(vp, st->name) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(st->ssl, st->name) != 1)
		return -1;
	return X509_VERIFY_PARAM_set1_host(vp, st->name, 0) == 1 ? 0 : -1;
}

static int tls_start(struct transport *t)
{
	struct tls_state *st = t->priv;
	const struct transport_tls_opts *o = t->cfg ? &t->cfg->tls : &(struct transport_tls_opts){ 0 };
	SSL_CTX *ctx;
	if (t->cfg && t->cfg->tls_cache)
		ctx = cache_get(t->cfg->tls_cache, o, t->err, sizeof t->err);
	else
		ctx = st->own_ctx = ctx_build(o, t->err, sizeof t->err);
	if (!ctx)
		return -1;
	ERR_clear_error();
	if (!(st->ssl = SSL_new(ctx)) || SSL_set_fd(st->ssl, st->low.fd) != 1) {
		ERR_clear_error();
		return snprintf(t->err, sizeof t->err, "cannot create a TLS session (out of memory?)"), -1;
	}
	if (o->insecure) {
		tlog(t, LOG_WARN, "TLS to %s:%u: certificate and host name are NOT verified (insecure)",
			st->host, st->port);
	} else if (set_peer_name(st) < 0) {
		ERR_clear_error();
		return snprintf(t->err, sizeof t->err, "TLS: cannot verify name \"%s\"", st->name), -1;
	}
	SSL_set_connect_state(st->ssl);
	st->phase = PHASE_HANDSHAKE;
	return tls_step(t);
}

/* After a lower-layer step: mirror its fd, copy its error, go on with TLS. */
static int after_lower(struct transport *t, int r)
{
	struct tls_state *st = t->priv;
	t->fd = st->low.fd;
	if (r < 0)
		return snprintf(t->err, sizeof t->err, "%s", st->low.err), -1;
	return r > 0 ? r : tls_start(t);
}

static int tls_open(struct transport *t, const struct uri *u)
{
	struct tls_state *st = xcalloc(1, sizeof *st);
	const char *sn = t->cfg ? t->cfg->tls.server_name : NULL;
	const char *why = ossl_ssl_load();     /* before tls_close may call it */
	t->fd = -1;
	if (why) {
		xfree(st);
		return snprintf(t->err, sizeof t->err, "TLS: %s", why), -1;
	}
	if (!st)
		return snprintf(t->err, sizeof t->err, "out of memory"), -1;
	t->priv = st;
	snprintf(st->host, sizeof st->host, "%s", u->host);
	snprintf(st->name, sizeof st->name, "%s", sn && *sn ? sn : u->host);
	st->port = u->port;
	st->low.fd = -1;
	st->low.cfg = t->cfg;
	st->low.ops = transport_stream_ops(t->cfg);
	return after_lower(t, st->low.ops->open(&st->low, u));
}

static int tls_handshake(struct transport *t)
{
	struct tls_state *st = t->priv;
	if (st->phase == PHASE_LOWER)
		return after_lower(t, st->low.ops->handshake(&st->low));
	return tls_step(t);
}

static ssize_t io_result(struct transport *t, int r, const char *op)
{
	struct tls_state *st = t->priv;
	int e = SSL_get_error(st->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)
		return 0;   /* EOF without close_notify: a broker that just closed */
	io_error(t, op, e);
	return -1;
}

static ssize_t tls_read(struct transport *t, void *buf, size_t n)
{
	struct tls_state *st = t->priv;
	int r;
	ERR_clear_error();
	errno = 0;
	r = SSL_read(st->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	return r > 0 ? r : io_result(t, r, "read");
}

static ssize_t tls_write(struct transport *t, const void *buf, size_t n)
{
	struct tls_state *st = t->priv;
	int r;
	ERR_clear_error();
	errno = 0;
	r = SSL_write(st->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	return r > 0 ? r : io_result(t, r, "write");
}

static size_t tls_pending(struct transport *t)
{
	struct tls_state *st = t->priv;
	return st && st->ssl && st->phase == PHASE_OPEN ? (size_t)SSL_pending(st->ssl) : 0;
}

static void tls_close(struct transport *t)
{
	struct tls_state *st = t->priv;
	if (st) {
		if (st->ssl) {
			if (st->phase == PHASE_OPEN)
				(void)SSL_shutdown(st->ssl);   /* one try at close_notify, never waits */
			SSL_free(st->ssl);
		}
		SSL_CTX_free(st->own_ctx);
		ERR_clear_error();
		if (st->low.ops)
			st->low.ops->close(&st->low);
		xfree(st);
	}
	t->priv = NULL;
	t->fd = -1;
}

const struct transport_ops transport_tls = {
	"tls", tls_open, tls_handshake, tls_read, tls_write, tls_close, tls_pending
};
