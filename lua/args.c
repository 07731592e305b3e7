/*
 * args.c - the parsed command line as a Lua table for lia.cli and the
 * default client of lia run.
 */
#include <lauxlib.h>
#include <lua.h>

#include "args.h"

void args_init(struct lia_args *a)
{
	*a = (struct lia_args){ 0 };
	a->port = -1;
	a->keepalive = -1;
	a->protocol = -1;
	a->qos = -1;
	a->session_expiry = -1;
	a->will_qos = -1;
	a->repeat = -1;
	a->count = -1;
	a->timeout = -1;
	a->log_level = -1;
	a->handler_budget_ms = -1;
	a->memory_limit_mb = -1;
	a->quarantine = -1;
	a->health_window_s = -1;
	a->health_errors = -1;
	a->safe_mode_after = -1;
	a->status_interval_s = -1;
	a->fleet_log_level = -1;
	a->max_inflight = -1;
	a->repeat_delay_ms = -1;
}

static void or_default(int *field, int v)
{
	if (*field < 0)
		*field = v;
}

void args_field_defaults(struct lia_args *a)
{
	or_default(&a->handler_budget_ms, 1000);
	or_default(&a->memory_limit_mb, 64);
	or_default(&a->quarantine, 5);
	or_default(&a->health_window_s, 30);
	or_default(&a->health_errors, 3);
	or_default(&a->safe_mode_after, 3);
	or_default(&a->status_interval_s, 60);
}

bool args_broker_given(const struct lia_args *a)
{
	return a->host || a->port >= 0 || a->uri;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
	if (v) {
		lua_pushstring(L, v);
		lua_setfield(L, -2, k);
	}
}

static void set_int(lua_State *L, const char *k, long long v)
{
	if (v >= 0) {
		lua_pushinteger(L, v);
		lua_setfield(L, -2, k);
	}
}

static void set_bool(lua_State *L, const char *k, bool v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

static void set_list(lua_State *L, const char *k, const char *const *v, int n)
{
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushstring(L, v[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, k);
}

/* props = { { cmd, name, value [, value2] }, ... } as -D gave them */
static void set_props(lua_State *L, const struct lia_args *a)
{
	lua_createtable(L, a->nprops, 0);
	for (int i = 0; i < a->nprops; i++) {
		const struct args_prop *p = &a->props[i];
		const char *v[4] = { p->cmd, p->name, p->value, p->value2 };
		lua_createtable(L, 4, 0);
		for (int j = 0; j < 4 && v[j]; j++) {
			lua_pushstring(L, v[j]);
			lua_rawseti(L, -2, j + 1);
		}
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "props");
}

/* The tool options of lia pub / lia sub (mosquitto_pub / mosquitto_sub). */
static void push_tool(lua_State *L, const struct lia_args *a)
{
	set_bool(L, "retry", a->retry);
	set_bool(L, "quiet", a->quiet);
	set_str(L, "id_prefix", a->id_prefix);
	set_str(L, "bind_address", a->bind_address);
	set_str(L, "unix_path", a->unix_path);
	set_int(L, "max_inflight", a->max_inflight);
	set_int(L, "repeat_delay_ms", a->repeat_delay_ms);
	set_str(L, "format", a->format);
	set_bool(L, "pretty", a->pretty);
	set_bool(L, "exit_on_suback", a->exit_on_suback);
	set_bool(L, "retained_only", a->retained_only);
	set_bool(L, "remove_retained", a->remove_retained);
	set_list(L, "filter_out", a->filter_out, a->nfilter_out);
	set_list(L, "unsub", a->unsub, a->nunsub);
	set_props(L, a);
}

void args_push(lua_State *L, const struct lia_args *a)
{
	char mode[2] = { a->mode, 0 };
	lua_createtable(L, 0, 56);
	set_str(L, "host", a->host);
	set_int(L, "port", a->port);
	set_str(L, "uri", a->uri);
	set_str(L, "id", a->id);
	set_str(L, "username", a->username);
	set_str(L, "password", a->password);
	set_int(L, "keepalive", a->keepalive);
	set_int(L, "protocol", a->protocol);
	set_int(L, "qos", a->qos);
	set_bool(L, "clean", !a->no_clean);
	set_int(L, "session_expiry", a->session_expiry);
	set_str(L, "will_topic", a->will_topic);
	set_str(L, "will_payload", a->will_payload);
	set_int(L, "will_qos", a->will_qos);
	set_bool(L, "will_retain", a->will_retain);
	set_str(L, "cafile", a->cafile);
	set_str(L, "capath", a->capath);
	set_str(L, "cert", a->cert);
	set_str(L, "key", a->key);
	set_str(L, "keypass", a->keypass);
	set_str(L, "alpn", a->alpn);
	set_str(L, "ciphers", a->ciphers);
	set_str(L, "tls_version", a->tls_version);
	set_bool(L, "insecure", a->insecure);
	set_str(L, "proxy", a->proxy);
	set_bool(L, "debug", a->debug);
	set_bool(L, "verbose", a->verbose);
	set_str(L, "message", a->message);
	set_str(L, "mode", a->mode ? mode : NULL);
	set_str(L, "file", a->file);
	set_bool(L, "retain", a->retain);
	set_int(L, "rep", a->repeat);
	set_int(L, "count", a->count);
	set_int(L, "timeout", a->timeout);
	set_bool(L, "no_newline", a->no_newline);
	set_bool(L, "skip_retained", a->skip_retained);
	set_bool(L, "broker_given", args_broker_given(a));
	set_str(L, "script", a->script);
	set_str(L, "data_dir", a->data_dir);
	set_list(L, "topics", a->topics, a->ntopics);
	push_tool(L, a);
	/* lia bundle push / lia fleet parse their own options (lua/lib/fleet_cli.lua) */
	set_list(L, "argv", (const char *const *)a->script_argv, a->script_argc);
	set_bool(L, "tty", a->tty);
}

void args_set_script_arg(lua_State *L, const struct lia_args *a)
{
	lua_createtable(L, a->script_argc, 1);
	lua_pushstring(L, a->script ? a->script : "");
	lua_rawseti(L, -2, 0);
	for (int i = 0; i < a->script_argc; i++) {
		lua_pushstring(L, a->script_argv[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setglobal(L, "arg");
}
