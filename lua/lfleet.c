/*
 * lfleet.c - the fleet agent of lia run --fleet (lfleet.h, docs/fleet.md):
 * its own MQTT 5 connection, the retained status JSON (libcjson: no
 * hand-built strings) and the command topic.
 *
 * Process-level state, like lreload.c: one lia run per process, and the
 * agent must outlive every lua_State the host closes at a reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcjson.h"

#include "args.h"
#include "db.h"
#include "host.h"
#include "lfleet.h"
#include "lfleet_bundle.h"
#include "lmqtt.h"
#include "lreload.h"
#include "log.h"
#include "loop.h"
#include "mqtt_client.h"

#define FLEET_MAX_FILES 32      /* per-script error counters kept */

static struct {
	struct host *h;
	struct loop *l;
	struct mqtt_client *c;
	struct loop_timer *tick;
	char id[256];
	char prefix[256], topic_status[400], topic_cmd[400];
	const struct lia_args *a;
	bool good;
	char state[32], detail[512];
	char last_error[512];
	struct { char file[256]; unsigned n; } errors[FLEET_MAX_FILES];
	unsigned nerrors_files, errors_total;
	uint64_t started_ns;
	int interval_s;
	bool draining;
} fl;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the status document ---- */

/* Queue depth and reconnects of the scripts' clients (lia.mqtt). */
static void clients_figures(cJSON *o)
{
	struct mqtt_client_stats st;
	double queued = 0, reconnects = 0;
	for (struct lclient *lc = lmqtt_first(); lc; lc = lc->next) {
		if (!lc->c)
			continue;
		mqtt_client_stats(lc->c, &st);
		queued += st.queued + st.inflight;
		reconnects += st.connects > 1 ? st.connects - 1 : 0;
	}
	cJSON_AddNumberToObject(o, "queue", queued);
	cJSON_AddNumberToObject(o, "reconnects", reconnects);
}

static void errors_figures(cJSON *o)
{
	cJSON *e = cJSON_AddObjectToObject(o, "errors");
	for (unsigned i = 0; e && i < fl.nerrors_files; i++)
		cJSON_AddNumberToObject(e, fl.errors[i].file, fl.errors[i].n);
	cJSON_AddNumberToObject(o, "errors_total", fl.errors_total);
	if (fl.last_error[0])
		cJSON_AddStringToObject(o, "last_error", fl.last_error);
	else
		cJSON_AddNullToObject(o, "last_error");
}

/* "groups": [...] of --fleet-group a,b */
static void groups(cJSON *o)
{
	cJSON *g = cJSON_AddArrayToObject(o, "groups");
	char name[128];
	for (const char *p = fl.a->fleet_groups; g && p && *p;) {
		size_t n = strcspn(p, ",");
		if (n && n < sizeof name) {
			snprintf(name, sizeof name, "%.*s", (int)n, p);
			cJSON_AddItemToArray(g, cJSON_CreateString(name));
		}
		p += n + (p[n] == ',');
	}
}

/* The JSON text (malloc'd) of the status; NULL when out of memory. */
static char *status_json(bool online)
{
	cJSON *o = cJSON_CreateObject();
	char *text;
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", fl.id);
	cJSON_AddBoolToObject(o, "online", online);
	cJSON_AddStringToObject(o, "version", LIA_VERSION);
	if (online) {
		cJSON_AddStringToObject(o, "state", fl.state);
		cJSON_AddStringToObject(o, "detail", fl.detail);
		cJSON_AddNumberToObject(o, "uptime", (double)((now_ns() - fl.started_ns) / 1000000000ull));
		cJSON_AddNumberToObject(o, "lua_memory", (double)host_memory_used(fl.h));
		cJSON_AddBoolToObject(o, "good", fl.good);
		clients_figures(o);
		errors_figures(o);
		lfleet_deploy_describe(o);
	}
	groups(o);      /* offline too: lia bundle push counts the group's offline devices */
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static void publish(const char *topic, const char *text, bool retain, const uint8_t *props,
	size_t props_len)
{
	struct mqtt_pub_req r = { .topic = topic, .topic_len = strlen(topic),
		.payload = (const uint8_t *)text, .payload_len = strlen(text), .qos = 1,
		.retain = retain, .props = props, .props_len = props_len };
	uint32_t mid;
	int e = mqtt_client_publish(fl.c, &r, &mid);
	if (e < 0)
		log_warn("fleet: cannot publish to %s: %s", topic, mqtt_client_strerror(e));
}

const char *lfleet_id(void)
{
	return fl.id;
}

bool lfleet_online(void)
{
	return fl.c && !fl.draining && mqtt_client_connected(fl.c);
}

const char *lfleet_last_error(void)
{
	return fl.last_error;
}

void lfleet_publish(const char *suffix, const char *text, bool retain)
{
	char topic[700];
	if (!fl.c)
		return;
	snprintf(topic, sizeof topic, "%s/%s/%s", fl.prefix, fl.id, suffix);
	publish(topic, text, retain, NULL, 0);
}

static void publish_status(void)
{
	char *text;
	if (!fl.c || fl.draining || !mqtt_client_connected(fl.c))
		return;
	if (!(text = status_json(true))) {
		log_error("fleet: out of memory: no status published");
		return;
	}
	publish(fl.topic_status, text, true, NULL, 0);
	free(text);
}

static int64_t tick(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)l, (void)t, (void)ud;
	publish_status();
	return (int64_t)fl.interval_s * 1000;
}

/* lreload's hook: every change of state is published at once. */
static void on_status(const char *state, const char *detail, void *ud)
{
	(void)ud;
	if (strcmp(state, "good") == 0) {
		fl.good = true;
	} else if (strcmp(state, "reloaded") == 0 && strcmp(fl.state, "rolled_back") == 0 &&
			strcmp(detail, fl.detail) == 0) {
		/* the rollback's own switch to the good copy: still rolled back */
	} else if (strcmp(state, "running") == 0 && (strcmp(fl.state, "safe_mode") == 0 ||
			strcmp(fl.state, "rolled_back") == 0)) {
		/* the start of what safe mode or a start-up rollback chose: the
		 * status keeps saying why it runs (it said "running" before) */
	} else {
		snprintf(fl.state, sizeof fl.state, "%s", state);
		snprintf(fl.detail, sizeof fl.detail, "%s", detail);
		fl.good = false;
	}
	lfleet_deploy_status(state, detail);
	publish_status();
}

void lfleet_error(const char *line)
{
	const char *colon = strchr(line, ':');
	size_t n = colon ? (size_t)(colon - line) : 0;
	unsigned i;
	if (!fl.c)
		return;
	snprintf(fl.last_error, sizeof fl.last_error, "%s", line);
	fl.errors_total++;
	if (n == 0 || n >= sizeof fl.errors[0].file)
		return;
	for (i = 0; i < fl.nerrors_files; i++)
		if (strlen(fl.errors[i].file) == n && memcmp(fl.errors[i].file, line, n) == 0)
			break;
	if (i == fl.nerrors_files) {
		if (i == FLEET_MAX_FILES)
			return;
		memcpy(fl.errors[i].file, line, n);
		fl.errors[i].file[n] = '\0';
		fl.nerrors_files++;
	}
	fl.errors[i].n++;
}

/* ---- commands ---- */

/* What a command names: v5 response topic and correlation data, else the
 * payload's reply_to (3.1.1 callers). */
struct request {
	char cmd[64], from[128], reply_to[400], key[256];
	long n;
	struct mqtt_str correlation;
};

static void reply(const struct request *rq, cJSON *answer)
{
	uint8_t props[600];
	long n = 0;
	char *text;
	if (!rq->reply_to[0])
		return;
	if (rq->correlation.len && rq->correlation.len < 512) {
		struct mqtt_prop p = { .id = MQTT_PROP_CORRELATION_DATA, .str = rq->correlation };
		n = mqtt_props_encode(&p, 1, props, sizeof props);
	}
	if ((text = cJSON_PrintUnformatted(answer))) {
		publish(rq->reply_to, text, false, n > 0 ? props : NULL, n > 0 ? (size_t)n : 0);
		free(text);
	}
}

static void copy_field(const cJSON *o, const char *k, char *buf, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (cJSON_IsString(v))
		snprintf(buf, n, "%s", v->valuestring);
}

/* The request of msg: a JSON object {"cmd": ..., "reply_to": ..., "from":
 * ...} or a bare command word. */
static void parse_request(const struct mqtt_publish *msg, struct request *rq)
{
	struct mqtt_prop p;
	cJSON *o = cJSON_ParseWithLength((const char *)msg->payload.ptr, msg->payload.len);
	memset(rq, 0, sizeof *rq);
	if (cJSON_IsObject(o)) {
		copy_field(o, "cmd", rq->cmd, sizeof rq->cmd);
		copy_field(o, "reply_to", rq->reply_to, sizeof rq->reply_to);
		copy_field(o, "from", rq->from, sizeof rq->from);
		copy_field(o, "key", rq->key, sizeof rq->key);
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "n");
		rq->n = cJSON_IsNumber(n) ? (long)n->valuedouble : 0;
	} else if (msg->payload.len < sizeof rq->cmd) {
		/* "log-tail 20", "state-get key" */
		char *sp;
		memcpy(rq->cmd, msg->payload.ptr, msg->payload.len);
		if ((sp = strchr(rq->cmd, ' '))) {
			*sp++ = '\0';
			snprintf(rq->key, sizeof rq->key, "%s", sp);
			rq->n = strtol(sp, NULL, 10);
		}
	}
	cJSON_Delete(o);
	if (mqtt_props_find(msg->props, MQTT_PROP_RESPONSE_TOPIC, &p) == 1 &&
		p.str.len < sizeof rq->reply_to) {
		memcpy(rq->reply_to, p.str.ptr, p.str.len);
		rq->reply_to[p.str.len] = '\0';
	}
	if (mqtt_props_find(msg->props, MQTT_PROP_CORRELATION_DATA, &p) == 1)
		rq->correlation = p.str;
}

/* state-get KEY: the value lia.state keeps under KEY (the process's
 * SQLite database, table state). */
static bool state_get(const char *key, cJSON *answer)
{
	struct db *db = db_process();
	sqlite3_stmt *st = db ? db_stmt(db, "SELECT kind, value FROM state WHERE key = ?1") : NULL;
	bool found = false;
	cJSON_AddStringToObject(answer, "key", key);
	if (!st) {
		cJSON_AddStringToObject(answer, "error", "no state database (no data directory)");
		return false;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = true;
		cJSON_AddStringToObject(answer, "kind", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddStringToObject(answer, "value", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_reset(st);
	if (!found)
		cJSON_AddStringToObject(answer, "error", "no such key");
	return found;
}

/* Run one command; false for an unknown one (the error is in answer). */
static bool run_command(const struct request *rq, cJSON *answer)
{
	if (strcmp(rq->cmd, "status") == 0) {
		char *text = status_json(true);
		cJSON *st = text ? cJSON_Parse(text) : NULL;
		free(text);
		if (st)
			cJSON_AddItemToObject(answer, "status", st);
		publish_status();
	} else if (strcmp(rq->cmd, "reload") == 0) {
		lreload_request(fl.h, "fleet", 0);
	} else if (strcmp(rq->cmd, "restart") == 0) {
		lreload_reexec();
		host_reexec(fl.h);
	} else if (strcmp(rq->cmd, "rollback") == 0) {
		lreload_rollback(fl.h);
	} else if (strcmp(rq->cmd, "log-tail") == 0) {
		cJSON *lines = cJSON_AddArrayToObject(answer, "lines");
		if (lines)
			lfleet_log_tail(lines, rq->n > 0 && rq->n <= 100 ? (unsigned)rq->n : 20);
	} else if (strcmp(rq->cmd, "state-get") == 0) {
		return state_get(rq->key, answer);
	} else {
		cJSON_AddStringToObject(answer, "error",
			"unknown command (status, reload, rollback, restart, log-tail N, state-get KEY)");
		return false;
	}
	return true;
}

static void on_command(const struct mqtt_publish *msg)
{
	struct request rq;
	cJSON *answer;
	bool ok;
	parse_request(msg, &rq);
	log_warn("fleet: command '%s' from %s", rq.cmd, rq.from[0] ? rq.from : "(caller unnamed)");
	if (!(answer = cJSON_CreateObject()))
		return;
	cJSON_AddStringToObject(answer, "id", fl.id);
	cJSON_AddStringToObject(answer, "cmd", rq.cmd);
	ok = run_command(&rq, answer);
	cJSON_AddBoolToObject(answer, "ok", ok);
	reply(&rq, answer);
	cJSON_Delete(answer);
}

/* ---- the connection ---- */

static void subscribe_one(const char *topic)
{
	struct mqtt_sub_item it = { { (const uint8_t *)topic, strlen(topic) }, 1 };
	uint32_t mid;
	if (mqtt_client_subscribe(fl.c, &it, 1, NULL, 0, &mid) < 0)
		log_warn("fleet: cannot subscribe to %s", topic);
}

/* The command topic and the deploy topics: lia/<id>/deploy, lia/all/deploy
 * and lia/group/<g>/deploy for each group. */
static void subscribe_cmd(void)
{
	char t[700], name[128];
	subscribe_one(fl.topic_cmd);
	snprintf(t, sizeof t, "%s/%s/deploy", fl.prefix, fl.id);
	subscribe_one(t);
	snprintf(t, sizeof t, "%s/all/deploy", fl.prefix);
	subscribe_one(t);
	for (const char *p = fl.a->fleet_groups; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n && n < sizeof name) {
			snprintf(name, sizeof name, "%.*s", (int)n, p);
			snprintf(t, sizeof t, "%s/group/%s/deploy", fl.prefix, name);
			subscribe_one(t);
		}
		p += n + (p[n] == ',');
	}
}

static bool ends_with(struct mqtt_str s, const char *tail)
{
	size_t n = strlen(tail);
	return s.len >= n && memcmp(s.ptr + s.len - n, tail, n) == 0;
}

static void on_message(const struct mqtt_publish *msg)
{
	char topic[700];
	if (ends_with(msg->topic, "/deploy")) {
		snprintf(topic, sizeof topic, "%.*s", (int)msg->topic.len, (const char *)msg->topic.ptr);
		lfleet_deploy_message(topic, (const char *)msg->payload.ptr, msg->payload.len);
	} else {
		on_command(msg);
	}
}

static void on_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	(void)c, (void)ud;
	if (ev->type == MQTT_EV_CONNECT && ev->u.connect.reason == 0) {
		log_info("fleet: %s connected as %s-fleet, status on %s", mqtt_client_uri(fl.c),
			fl.id, fl.topic_status);
		subscribe_cmd();
		publish_status();
	} else if (ev->type == MQTT_EV_CONNECT) {
		log_warn("fleet: %s refused the connection: %s", mqtt_client_uri(fl.c),
			ev->u.connect.reason_name);
	} else if (ev->type == MQTT_EV_MESSAGE) {
		on_message(ev->u.message.msg);
	} else if (ev->type == MQTT_EV_LOG && ev->u.log.level <= LOG_WARN) {
		log_msg(ev->u.log.level, "fleet: %s", ev->u.log.line);
	}
}

/* The host's drain: the last retained status says offline (a clean stop
 * sends no will), then DISCONNECT. */
static bool drain(void *ud, bool first)
{
	(void)ud;
	if (first && fl.c) {
		char *text = status_json(false);
		if (text && mqtt_client_connected(fl.c))
			publish(fl.topic_status, text, true, NULL, 0);
		free(text);
		fl.draining = true;
		mqtt_client_disconnect(fl.c, 0, NULL, 0);
	}
	return !fl.c || mqtt_client_idle(fl.c);
}

static void default_id(const struct lia_args *a)
{
	if (a->id && a->id[0]) {
		snprintf(fl.id, sizeof fl.id, "%s", a->id);
		return;
	}
	if (gethostname(fl.id, sizeof fl.id - 1) < 0 || !fl.id[0])
		snprintf(fl.id, sizeof fl.id, "lia");
	fl.id[sizeof fl.id - 1] = '\0';
}

static void broker_uri(const struct lia_args *a, char *uri, size_t n)
{
	if (a->uri)
		snprintf(uri, n, "%s", a->uri);
	else
		snprintf(uri, n, "mqtt://%s:%d", a->host ? a->host : "localhost",
			a->port > 0 ? a->port : 1883);
}

void lfleet_watch(void)
{
	snprintf(fl.state, sizeof fl.state, "starting");
	lreload_on_status(on_status, NULL);
}

int lfleet_start(struct host *h, const struct lia_args *a, char *err, size_t errlen)
{
	const char *prefix = a->fleet_prefix ? a->fleet_prefix : "lia";
	char uri[1024], cid[300];
	char *will;
	struct mqtt_client_opts o = { 0 };
	const char *why;
	if (!a->fleet)
		return 0;
	if ((why = lcjson_load()))
		return snprintf(err, errlen, "fleet: %s", why), -1;
	fl.h = h;
	fl.a = a;
	fl.l = host_event_loop(h);
	snprintf(fl.prefix, sizeof fl.prefix, "%s", prefix);
	lfleet_deploy_init(h, a);
	fl.started_ns = now_ns();
	fl.interval_s = a->status_interval_s > 0 ? a->status_interval_s : 60;
	default_id(a);
	snprintf(fl.topic_status, sizeof fl.topic_status, "%s/%s/status", prefix, fl.id);
	snprintf(fl.topic_cmd, sizeof fl.topic_cmd, "%s/%s/cmd", prefix, fl.id);
	snprintf(cid, sizeof cid, "%s-fleet", fl.id);
	broker_uri(a, uri, sizeof uri);
	if (!(will = status_json(false))) {
		snprintf(err, errlen, "fleet: out of memory");
		return -1;
	}
	o.uri = uri;
	o.client_id = cid;
	o.version = MQTT_V5;
	o.clean = true;
	o.keepalive = 30;
	o.username = a->username;
	o.password = (const uint8_t *)a->password;
	o.password_len = a->password ? strlen(a->password) : 0;
	o.has_will = true;
	o.will_topic = fl.topic_status;
	o.will_payload = (const uint8_t *)will;
	o.will_payload_len = strlen(will);
	o.will_qos = 1;
	o.will_retain = true;
	o.reconnect = true;
	/* larger than a bundle may be, so a too large one is refused with its
	 * size rather than dropped by the broker without a word */
	o.max_packet_size = 4 * BUNDLE_MAX_BYTES;
	o.tls.enabled = a->cafile || a->capath || a->cert || a->insecure;
	o.tls.ca_file = a->cafile;
	o.tls.ca_path = a->capath;
	o.tls.cert = a->cert;
	o.tls.key = a->key;
	o.tls.key_password = a->keypass;
	o.tls.insecure = a->insecure;
	fl.c = mqtt_client_new(fl.l, &o, NULL, err, errlen);
	free(will);
	if (!fl.c)
		return -1;
	mqtt_client_set_handler(fl.c, on_event, NULL);
	host_drain_add(h, drain, NULL);
	fl.tick = loop_timer_start(fl.l, (uint64_t)fl.interval_s * 1000, tick, NULL);
	lfleet_log_start(a->fleet_log_level >= 0 ? a->fleet_log_level : LOG_WARN);
	return mqtt_client_connect(fl.c) < 0 ? (snprintf(err, errlen, "fleet: cannot connect to %s",
		uri), -1) : 0;
}

void lfleet_free(void)
{
	lfleet_log_stop();
	if (fl.tick)
		loop_timer_cancel(fl.l, fl.tick);
	fl.tick = NULL;
	if (fl.c)
		mqtt_client_free(fl.c);
	fl.c = NULL;
	lreload_on_status(NULL, NULL);
}
