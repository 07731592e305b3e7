/*
 * lhttp.c - require "lia.http": http.request{ url, method, headers, body,
 * timeout, ... } -> status, body, headers | nil, message, kind.
 *
 * libcurl's multi-socket interface driven by lia's loop: curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it
 * back (CURLMOPT_TIMERFUNCTION); the loop's fd events and one loop timer
 * feed curl_multi_socket_action. No thread, no blocking call (curl resolves
 * names in its own resolver thread). The calling handler waits through a
 * host waiter; every other handler, timer and MQTT client keeps running.
 *
 * One struct lhttp per Lua state, a userdata in the registry whose __gc
 * (at lua_close, before the loop is freed) ends every transfer.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "lhttp_curl.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define HTTP_MT "lia.http.state"
#define HTTP_DEFAULT_TIMEOUT_MS 30000
#define HTTP_DEFAULT_MAX_SIZE (16u << 20)
#define HTTP_MAX_HEADERS_SIZE (256u << 10)

struct lhttp_buf {
	char *p;
	size_t len, cap, max;
	bool too_big;
};

struct xfer {
	struct xfer *next;
	struct lhttp *m;
	CURL *easy;
	struct host_waiter *w;      /* NULL once woken (or the host closed) */
	struct curl_slist *req_headers;
	struct lhttp_buf body, head;
	CURLcode result;
	bool added;                 /* in the multi handle (options all set) */
	long timeout_ms;
	char url[512];              /* for messages */
	char err[CURL_ERROR_SIZE];
};

struct lhttp {
	CURLM *multi;
	struct loop *loop;
	struct loop_timer *timer;
	struct xfer *xfers;
};

static const char HTTP_KEY = 0;

/* ---- buffers (capped before they grow) ---- */

static bool buf_add(struct lhttp_buf *b, const char *p, size_t n)
{
	if (n > b->max - b->len) {
		b->too_big = true;
		return false;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *q = xrealloc(b->p, cap);
		if (!q)
			return false;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	return buf_add(&x->body, p, size * n) ? size * n : 0;
}

/* Header lines of the last response only (a redirect or a 100 Continue
 * starts again with its status line). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	if (size * n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		x->head.len = 0;
	return buf_add(&x->head, p, size * n) ? size * n : 0;
}

/* ---- the loop drives curl ---- */

static void check_done(struct lhttp *m);

static void on_io(struct loop *l, int fd, int events, void *ud)
{
	struct lhttp *m = ud;
	int running, mask = 0;
	(void)l;
	if (events & LOOP_READ)
		mask |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		mask |= CURL_CSELECT_OUT;
	if (events & LOOP_ERROR)
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(m->multi, fd, mask, &running);
	check_done(m);
}

static int64_t on_timer(struct loop *l, struct loop_timer *t, void *ud)
{
	struct lhttp *m = ud;
	int running;
	(void)l;
	(void)t;
	m->timer = NULL;            /* curl's timer callback arms a new one */
	curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(m);
	return LOOP_TIMER_STOP;
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
	struct lhttp *m = ud;
	(void)e;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		loop_unwatch(m->loop, s);
		return 0;
	}
	int mask = (what & CURL_POLL_IN ? LOOP_READ : 0) | (what & CURL_POLL_OUT ? LOOP_WRITE : 0);
	if (loop_watch(m->loop, s, mask, on_io, m) < 0)
		return -1;
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *ud)
{
	struct lhttp *m = ud;
	(void)multi;
	if (m->timer) {
		loop_timer_cancel(m->loop, m->timer);
		m->timer = NULL;
	}
	if (timeout_ms < 0)
		return 0;
	m->timer = loop_timer_start(m->loop, (uint64_t)timeout_ms, on_timer, m);
	return m->timer ? 0 : -1;
}

/* ---- results ---- */

static void xfer_free(struct xfer *x)
{
	struct lhttp *m = x->m;
	for (struct xfer **p = &m->xfers; *p; p = &(*p)->next) {
		if (*p == x) {
			*p = x->next;
			break;
		}
	}
	if (x->easy) {
		curl_multi_remove_handle(m->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->req_headers);
	xfree(x->body.p);
	xfree(x->head.p);
	xfree(x);
}

/* "name: value" lines into t[lower-case name]; repeats joined by ", ". */
static void push_headers(lua_State *L, const struct lhttp_buf *b)
{
	lua_newtable(L);
	const char *p = b->p, *end = b->p + b->len;
	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol : end;
		const char *colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon && colon > p) {
			luaL_Buffer name;
			luaL_buffinit(L, &name);
			for (const char *q = p; q < colon; q++)
				luaL_addchar(&name, (char)tolower((unsigned char)*q));
			luaL_pushresult(&name);
			const char *v = colon + 1, *ve = line_end;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			lua_pushvalue(L, -1);
			if (lua_rawget(L, -3) == LUA_TSTRING) {
				lua_pushliteral(L, ", ");
				lua_pushlstring(L, v, (size_t)(ve - v));
				lua_concat(L, 3);
			} else {
				lua_pop(L, 1);
				lua_pushlstring(L, v, (size_t)(ve - v));
			}
			lua_rawset(L, -3);
		}
		p = eol ? eol + 1 : end;
	}
}

static const char *error_kind(CURLcode r)
{
	switch (r) {
	case CURLE_OPERATION_TIMEDOUT: return "timeout";
	case CURLE_COULDNT_CONNECT: return "connect";
	case CURLE_COULDNT_RESOLVE_HOST: return "resolve";
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM: return "tls";
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT: return "url";
	default: return "http";
	}
}

/* Resume the caller with status, body, headers or nil, message, kind;
 * the transfer is freed once the values are on the stack. */
static int push_result(lua_State *L, void *ud)
{
	struct xfer *x = ud;
	int n;
	if (x->result == CURLE_OK) {
		long status = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		lua_pushinteger(L, status);
		lua_pushlstring(L, x->body.p ? x->body.p : "", x->body.len);
		push_headers(L, &x->head);
		n = 3;
	} else {
		lua_pushnil(L);
		if (x->body.too_big)
			lua_pushfstring(L, "%s: response larger than max_size (%d bytes)", x->url,
				(int)x->body.max);
		else if (x->result == CURLE_OPERATION_TIMEDOUT)
			lua_pushfstring(L, "%s: timeout after %d ms", x->url, (int)x->timeout_ms);
		else
			lua_pushfstring(L, "%s: %s", x->url, x->err[0] ? x->err : curl_easy_strerror(x->result));
		lua_pushstring(L, x->body.too_big ? "too_big" : error_kind(x->result));
		n = 3;
	}
	xfer_free(x);
	return n;
}

static void check_done(struct lhttp *m)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		x->result = msg->data.result;
		curl_multi_remove_handle(m->multi, x->easy);
		struct host_waiter *w = x->w;
		x->w = NULL;
		if (w)
			host_wake(w, push_result, x);   /* push_result frees x */
		else
			xfer_free(x);
	}
}

/* ---- http.request ---- */

static void opt_headers(lua_State *L, struct xfer *x, bool json)
{
	if (json)
		x->req_headers = curl_slist_append(x->req_headers, "Content-Type: application/json");
	if (lua_getfield(L, 1, "headers") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	luaL_argexpected(L, lua_istable(L, -1), 1, "headers table");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		/* { Name = "value" } or a list of "Name: value" */
		bool named = lua_type(L, -2) == LUA_TSTRING;
		const char *v = luaL_tolstring(L, -1, NULL);
		if (named)
			lua_pushfstring(L, "%s: %s", lua_tostring(L, -3), v);
		struct curl_slist *l = curl_slist_append(x->req_headers, lua_tostring(L, -1));
		if (!l)
			luaL_error(L, "out of memory");
		x->req_headers = l;
		lua_pop(L, named ? 3 : 2);
	}
	lua_pop(L, 1);
}

/* The body: a string, or a table sent as JSON (cjson.encode). Returns
 * BODY_NONE, BODY_STRING or BODY_JSON. */
enum { BODY_NONE, BODY_STRING, BODY_JSON };
static int opt_body(lua_State *L, struct xfer *x)
{
	int t = lua_getfield(L, 1, "body");
	bool json = t == LUA_TTABLE;
	if (json) {
		lua_getglobal(L, "require");
		lua_pushliteral(L, "cjson");
		lua_call(L, 1, 1);
		lua_getfield(L, -1, "encode");
		lua_pushvalue(L, -3);
		lua_call(L, 1, 1);
		lua_replace(L, -3);
		lua_pop(L, 1);
	} else if (t != LUA_TNIL) {
		luaL_argexpected(L, t == LUA_TSTRING, 1, "body string or table");
	}
	int kind = json ? BODY_JSON : BODY_NONE;
	if (!lua_isnil(L, -1)) {
		size_t n;
		const char *b = lua_tolstring(L, -1, &n);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, b);
		if (!json)
			kind = BODY_STRING;
	}
	lua_pop(L, 1);
	return kind;
}

static void opt_method(lua_State *L, struct xfer *x, bool has_body)
{
	lua_getfield(L, 1, "method");
	const char *method = luaL_optstring(L, -1, has_body ? "POST" : "GET");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") == 0)
		curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0 || !has_body)
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
	lua_pop(L, 1);
}

static bool opt_bool(lua_State *L, const char *k, bool def)
{
	int t = lua_getfield(L, 1, k);
	bool v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static void opt_tls(lua_State *L, struct xfer *x)
{
	if (opt_bool(L, "insecure", false)) {
		log_warn("lia.http: %s: TLS certificate checks are off (insecure = true)", x->url);
		curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (lua_getfield(L, 1, "ca_file") != LUA_TNIL)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, luaL_checkstring(L, -1));
	lua_pop(L, 1);
}

static void set_options(lua_State *L, struct xfer *x, const char *url)
{
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "lia/" LIA_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, opt_bool(L, "follow", true) ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	lua_getfield(L, 1, "max_size");
	lua_Integer max = luaL_optinteger(L, -1, HTTP_DEFAULT_MAX_SIZE);
	luaL_argcheck(L, max > 0 && max <= (1 << 30), 1, "max_size: 1 byte to 1 GiB");
	lua_pop(L, 1);
	x->body.max = (size_t)max;
	x->head.max = HTTP_MAX_HEADERS_SIZE;
	int body = opt_body(L, x);
	opt_method(L, x, body != BODY_NONE);
	opt_headers(L, x, body == BODY_JSON);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
	opt_tls(L, x);
}

static struct lhttp *state(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &HTTP_KEY);
	struct lhttp *m = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return m;
}

/* Transfers whose options raised (misuse) never reached curl: free them. */
static void sweep(struct lhttp *m)
{
	struct xfer *x = m->xfers, *next;
	for (; x; x = next) {
		next = x->next;
		if (!x->added)
			xfer_free(x);
	}
}

/* http.request{ url = ..., method, headers, body, timeout (s), follow,
 * max_size, insecure, ca_file } -> status, body, headers | nil, msg, kind */
static int l_request(lua_State *L)
{
	struct lhttp *m = state(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "url");
	const char *url = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "timeout");
	lua_Number t = luaL_optnumber(L, -1, HTTP_DEFAULT_TIMEOUT_MS / 1000.0);
	luaL_argcheck(L, t > 0 && t <= 86400, 1, "timeout: seconds, more than 0, at most a day");
	lua_pop(L, 1);
	/* checked here, before anything is allocated: the waiter raises otherwise */
	if (!lua_isyieldable(L))
		return luaL_error(L, "http.request: cannot wait here (call it from the main "
			"chunk, a handler or a timer)");
	sweep(m);
	struct xfer *x = xcalloc(1, sizeof *x);
	if (!x)
		return luaL_error(L, "out of memory");
	x->m = m;
	x->next = m->xfers;
	m->xfers = x;
	x->timeout_ms = (long)(t * 1000);
	x->result = CURLE_OK;
	snprintf(x->url, sizeof x->url, "%s", url);
	x->easy = curl_easy_init();
	if (!x->easy)
		return luaL_error(L, "out of memory");
	set_options(L, x, url);
	CURLMcode mc = curl_multi_add_handle(m->multi, x->easy);
	if (mc != CURLM_OK) {
		xfer_free(x);
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", url, curl_multi_strerror(mc));
		lua_pushliteral(L, "http");
		return 3;
	}
	x->added = true;
	x->w = host_waiter_new(L, -1, NULL, NULL);
	return host_yield(L);
}

/* The state goes with the Lua state: every transfer ends, the watchers
 * and the timer leave the loop (still alive at lua_close). */
static int l_state_gc(lua_State *L)
{
	struct lhttp *m = lua_touserdata(L, 1);
	while (m->xfers)
		xfer_free(m->xfers);
	if (m->timer)
		loop_timer_cancel(m->loop, m->timer);
	m->timer = NULL;
	if (m->multi)
		curl_multi_cleanup(m->multi);
	m->multi = NULL;
	return 0;
}

static void open_state(lua_State *L)
{
	if (state(L))
		return;
	const char *why = lhttp_curl_load();
	if (why)
		luaL_error(L, "lia.http: %s", why);
	static bool global_done;
	if (!global_done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		luaL_error(L, "lia.http: libcurl failed to initialise");
	global_done = true;
	struct lhttp *m = lua_newuserdatauv(L, sizeof *m, 0);
	*m = (struct lhttp){ .loop = host_get_loop(L) };
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, l_state_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	m->multi = curl_multi_init();
	if (!m->multi)
		luaL_error(L, "out of memory");
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &HTTP_KEY);
}

int luaopen_lia_http(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "request", l_request },
		{ NULL, NULL }
	};
	open_state(L);
	luaL_newlib(L, funcs);
	lua_pushstring(L, curl_version());
	lua_setfield(L, -2, "curl_version");
	return 1;
}
