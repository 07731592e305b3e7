/*
 * lmqtt_reload.c - MQTT clients that outlive a lua_State (see lmqtt.h).
 *
 * The parked list is process-level: it holds core clients between the old
 * state's close and the new state's mqtt.client{} calls, all within one
 * loop turn (no event can arrive meanwhile). The leaving list holds the
 * clients the new scripts did not create again while they flush their
 * DISCONNECT.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "lmqtt.h"
#include "log.h"
#include "loop.h"
#include "mqtt_client.h"
#include "xalloc.h"

#define LEAVE_MS 3000

struct parked {
	struct mqtt_client *c;
	char *id;                   /* NULL: the options named none */
	char *uri, *fp;
	bool anchored;              /* connected or reconnecting */
	struct lmqtt_live *live;
	size_t nlive, cap;
	struct parked *next;
};

static struct parked *parked, *leaving;
static struct loop_timer *leave_timer;
static uint64_t leave_deadline;

static void parked_free(struct parked *p)
{
	for (size_t i = 0; i < p->nlive; i++)
		xfree(p->live[i].filter);
	xfree(p->live);
	xfree(p->id);
	xfree(p->uri);
	xfree(p->fp);
	xfree(p);
}

void lmqtt_free_live(struct lclient *lc)
{
	for (size_t i = 0; i < lc->nlive; i++)
		xfree(lc->live[i].filter);
	xfree(lc->live);
	lc->live = NULL;
	lc->nlive = 0;
	lc->reloading = false;
}

/* No Lua side while parked: events are dropped (none can come in the one
 * loop turn a reload takes; a leaving client's are of no interest). */
static void parked_event(struct mqtt_client *c, const struct mqtt_event *ev, void *ud)
{
	(void)c;
	(void)ev;
	(void)ud;
}

static void snapshot(const char *filter, uint8_t options, void *ud)
{
	struct parked *p = ud;
	if (p->nlive == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct lmqtt_live *v = xrealloc(p->live, cap * sizeof *v);
		if (!v)
			return;
		p->live = v;
		p->cap = cap;
	}
	char *f = xstrdup(filter);
	if (f)
		p->live[p->nlive++] = (struct lmqtt_live){ f, options, false };
}

static char *info_str(lua_State *L, int ud, const char *k)
{
	lmqtt_push_uv(L, ud, UV_INFO);
	lua_getfield(L, -1, k);
	const char *s = lua_tostring(L, -1);
	char *copy = s ? xstrdup(s) : NULL;
	lua_pop(L, 2);
	return copy;
}

/* Move lc's core client to the parked list; false when out of memory (the
 * client then closes with the old state and the new one reconnects). */
static bool park(lua_State *L, struct lclient *lc)
{
	struct parked *p = xcalloc(1, sizeof *p);
	int top = lua_gettop(L);
	if (!p || !lmqtt_push_client(L, lc)) {
		xfree(p);
		lua_settop(L, top);
		return false;
	}
	lmqtt_push_uv(L, -1, UV_INFO);
	bool explicit_id = lua_getfield(L, -1, "explicit_id") == LUA_TBOOLEAN && lua_toboolean(L, -1);
	lua_settop(L, top + 1);
	p->id = explicit_id ? info_str(L, top + 1, "client_id") : NULL;
	p->uri = info_str(L, top + 1, "uri");
	p->fp = info_str(L, top + 1, "fingerprint");
	lua_settop(L, top);
	if ((explicit_id && !p->id) || !p->uri || !p->fp) {
		parked_free(p);
		return false;
	}
	p->c = lc->c;
	p->anchored = lc->ref != LUA_NOREF;
	mqtt_client_subscriptions(p->c, snapshot, p);
	mqtt_client_set_handler(p->c, parked_event, NULL);
	lmqtt_detach(lc);
	p->next = parked;
	parked = p;
	return true;
}

void lmqtt_park_all(lua_State *L)
{
	struct lclient *next;
	for (struct lclient *lc = lmqtt_first(); lc; lc = next) {
		next = lc->next;
		if (lc->L == L && lc->c)
			park(L, lc);
	}
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

struct mqtt_client *lmqtt_adopt(lua_State *L, struct lclient *lc, int ud, bool explicit_id,
	const char *id, const char *uri, const char *fp)
{
	lmqtt_push_uv(L, ud, UV_INFO);
	lua_pushboolean(L, explicit_id);
	lua_setfield(L, -2, "explicit_id");
	lua_pop(L, 1);
	for (struct parked **pp = &parked; *pp; pp = &(*pp)->next) {
		struct parked *p = *pp;
		if (!same(p->id, explicit_id ? id : NULL) || strcmp(p->uri, uri) != 0 ||
				strcmp(p->fp, fp) != 0)
			continue;
		struct mqtt_client *c = p->c;
		*pp = p->next;
		lc->live = p->live;
		lc->nlive = p->nlive;
		p->live = NULL;
		p->nlive = 0;
		lc->adopted = lc->reloading = true;
		if (p->anchored && lc->ref == LUA_NOREF)
			lc->ref = host_ref(L, ud);
		parked_free(p);
		return c;
	}
	return NULL;
}

size_t lmqtt_reload_filter(struct lclient *lc, const struct mqtt_sub_item *items, size_t n,
	struct mqtt_sub_item *out)
{
	size_t send = 0;
	for (size_t i = 0; i < n; i++) {
		bool kept = false;
		for (size_t j = 0; j < lc->nlive && !kept; j++) {
			struct lmqtt_live *lv = &lc->live[j];
			if (strlen(lv->filter) == items[i].filter.len &&
					memcmp(lv->filter, items[i].filter.ptr, items[i].filter.len) == 0) {
				lv->kept = true;
				kept = lv->options == items[i].options;
			}
		}
		if (!kept)
			out[send++] = items[i];
	}
	return send;
}

void lmqtt_reload_forget(struct lclient *lc, const char *filter)
{
	/* unsubscribed by the script itself: nothing left to do for it */
	for (size_t j = 0; j < lc->nlive; j++)
		if (strcmp(lc->live[j].filter, filter) == 0)
			lc->live[j].kept = true;
}

/* Unsubscribe what the new scripts did not subscribe again. */
static void unsubscribe_dropped(struct lclient *lc)
{
	struct mqtt_str *f = lc->nlive ? xcalloc(lc->nlive, sizeof *f) : NULL;
	size_t n = 0, kept = 0;
	for (size_t j = 0; f && j < lc->nlive; j++) {
		if (lc->live[j].kept)
			kept++;
		else
			f[n++] = (struct mqtt_str){ (const uint8_t *)lc->live[j].filter,
				strlen(lc->live[j].filter) };
	}
	if (n && mqtt_client_unsubscribe(lc->c, f, n, NULL, 0, NULL) < 0)
		log_warn("reload: mqtt %s: cannot unsubscribe the dropped filters", lc->uri);
	log_debug("reload: mqtt %s: %zu subscriptions kept, %zu dropped", lc->uri, kept, n);
	xfree(f);
}

static bool leaving_free(bool force);

static int64_t leave_tick(struct loop *l, struct loop_timer *t, void *ud)
{
	(void)t;
	(void)ud;
	if (leaving_free(loop_now(l) >= leave_deadline)) {
		leave_timer = NULL;
		return LOOP_TIMER_STOP;
	}
	return 50;
}

/* The parked clients nobody adopted: DISCONNECT, freed once idle. */
static void leave(struct loop *l)
{
	while (parked) {
		struct parked *p = parked;
		parked = p->next;
		log_info("reload: mqtt %s: no longer created by the scripts: disconnecting", p->uri);
		mqtt_client_disconnect(p->c, 0, NULL, 0);
		p->next = leaving;
		leaving = p;
	}
	leave_deadline = loop_now(l) + LEAVE_MS;
	if (leaving && !leave_timer)
		leave_timer = loop_timer_start(l, 50, leave_tick, NULL);
}

/* force: free them all, idle or not (their time is up) */
static bool leaving_free(bool force)
{
	for (struct parked **pp = &leaving; *pp;) {
		struct parked *p = *pp;
		if (!force && !mqtt_client_idle(p->c)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		mqtt_client_free(p->c);
		parked_free(p);
	}
	return leaving == NULL;
}

bool lmqtt_leaving_drain(bool first)
{
	(void)first;            /* their DISCONNECT is on its way already */
	return leaving_free(false);
}

void lmqtt_reload_done(lua_State *L)
{
	for (struct lclient *lc = lmqtt_first(); lc; lc = lc->next)
		if (lc->L == L && lc->reloading && lc->c && mqtt_client_connected(lc->c))
			lmqtt_emit_reloaded(lc);
	for (struct lclient *lc = lmqtt_first(); lc; lc = lc->next) {
		if (lc->L != L || !lc->reloading || !lc->c)
			continue;
		unsubscribe_dropped(lc);
		lmqtt_free_live(lc);
	}
	leave(host_get_loop(L));
}
