/*
 * lfleet.h - the fleet agent of lia run --fleet (docs/fleet.md): a
 * process-level MQTT connection of its own (client id "<id>-fleet") that
 * publishes the retained lia/<id>/status JSON (online, offline through the
 * will) at connect, every --status-interval seconds and on every change of
 * state of the script host (reload, rollback, safe mode), and answers
 * commands on lia/<id>/cmd.
 *
 * It lives in C next to the host, not in the scripts' lua_State: a reload
 * or a rollback closes that state, and the device must stay visible and
 * manageable through exactly those moments.
 */
#ifndef LIA_LFLEET_H
#define LIA_LFLEET_H

#include <stdbool.h>
#include <stddef.h>

struct host;
struct lia_args;

/* Before the scripts start: the host's changes of state are recorded
 * (safe mode is decided before the first run). */
void lfleet_watch(void);
/* After the scripts started: connect and publish. 0 (also when --fleet is
 * off), or -1 with a reason in err (a bad broker URI, out of memory). */
int lfleet_start(struct host *h, const struct lia_args *a, char *err, size_t errlen);
/* An error line "file:line: message" was reported by the host: counted
 * per script file, kept as the last error. */
void lfleet_error(const char *line);
/* After host_loop, before host_free: the client is freed (the drain sent
 * the offline status and DISCONNECT already). */
void lfleet_free(void);

/* The script lia run starts: the committed bundle's main
 * (DATA/fleet/current) when --fleet, else a->script. */
const char *lfleet_deploy_script(const struct lia_args *a);

/* ---- inside the fleet agent (lfleet.c <-> lfleet_deploy.c) ---- */

struct cJSON;
const char *lfleet_id(void);
const char *lfleet_last_error(void);
/* Publish text (QoS 1) on <prefix>/<id>/<suffix>. */
void lfleet_publish(const char *suffix, const char *text, bool retain);
bool lfleet_online(void);
/* lfleet_log.c: the remote log and the log-tail ring */
void lfleet_log_start(int level);
void lfleet_log_stop(void);
void lfleet_log_tail(struct cJSON *lines, unsigned n);
void lfleet_deploy_init(struct host *h, const struct lia_args *a);
void lfleet_deploy_message(const char *topic, const char *json, size_t len);
void lfleet_deploy_status(const char *state, const char *detail);
/* Adds "bundle": {id, version, hash, pending} to a status object. */
void lfleet_deploy_describe(struct cJSON *status);

#endif
