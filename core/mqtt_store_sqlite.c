/*
 * mqtt_store_sqlite.c - the crash-safe session store: a memory store kept
 * as the working copy (reads never touch the disk) with every change also
 * written into the database's turn transaction (db.h). What a turn adds and
 * removes is written at its end, just before the commit (flush): a message
 * published and sent in one turn is one INSERT with its final state, the
 * packet id counter one UPDATE per turn, and the rows acknowledged in a turn
 * one DELETE per run of consecutive rows, not one per message. What an earlier
 * process left is loaded at creation. After a failed commit (a full disk)
 * the database no longer matches memory: the store stops writing, says so
 * once, and the client runs on from memory; every later message reports
 * that it is not stored.
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "mqtt_store.h"
#include "xalloc.h"

struct sql_store {
	struct mqtt_store base;
	struct mqtt_store *mem;
	struct db *db;
	int64_t session;
	bool failed;
	char why[200];
	uint32_t *pending;      /* mids written this turn, reported at commit */
	size_t npending, cap;
	/* deferred to the flush: messages added this turn are the list's tail
	 * from unwritten on (the memory store appends); the rows of messages
	 * removed this turn; the packet id counter */
	struct mqtt_msg *unwritten;
	uint64_t *gone;
	size_t ngone, gone_cap;
	bool id_dirty;
	uint16_t next_id;
};

static const char SQL_OUT_ADD[] = "INSERT INTO outbox(session, qos, state, packet_id,"
	" id_offset, flags, created, data) VALUES(?,?,?,?,?,?,?,?)";
static const char SQL_OUT_UPDATE[] = "UPDATE outbox SET state=?, packet_id=?, flags=? WHERE seq=?";
static const char SQL_OUT_DEL[] = "DELETE FROM outbox WHERE seq BETWEEN ? AND ?";
static const char SQL_OUT_LOAD[] = "SELECT seq, qos, state, packet_id, id_offset, flags, created,"
	" data FROM outbox WHERE session=? ORDER BY seq";
static const char SQL_IN_ADD[] = "INSERT OR REPLACE INTO inbound(session, packet_id, state, hash)"
	" VALUES(?,?,?,?)";
static const char SQL_IN_DEL[] = "DELETE FROM inbound WHERE session=? AND packet_id=?";
static const char SQL_IN_CLEAR[] = "DELETE FROM inbound WHERE session=?";
static const char SQL_IN_LOAD[] = "SELECT packet_id, state, hash FROM inbound WHERE session=?";
static const char SQL_SESS_GET[] = "SELECT id, next_id, synced FROM session WHERE client_id=? AND broker=?";
static const char SQL_SESS_ADD[] = "INSERT INTO session(client_id, broker) VALUES(?,?)";
static const char SQL_SESS_ID[] = "UPDATE session SET next_id=? WHERE id=?";
static const char SQL_SESS_SYNC[] = "UPDATE session SET synced=1 WHERE id=? AND synced=0";
static const char SQL_SUB_PUT[] = "INSERT OR REPLACE INTO subscription(session, filter, options,"
	" props) VALUES(?,?,?,?)";
static const char SQL_SUB_DEL[] = "DELETE FROM subscription WHERE session=? AND filter=?";
static const char SQL_SUB_LOAD[] = "SELECT filter, options, props FROM subscription WHERE session=?"
	" ORDER BY filter";

static struct sql_store *S(struct mqtt_store *s)
{
	return (struct sql_store *)s;
}

/* The turn's transaction and a reset statement for sql; NULL when the store
 * has failed (memory only from then on). */
static sqlite3_stmt *begin(struct sql_store *ss, const char *sql)
{
	if (ss->failed || db_write(ss->db) < 0)
		return NULL;
	return db_stmt(ss->db, sql);
}

static void fail(struct sql_store *ss, const char *why)
{
	if (ss->failed)
		return;
	ss->failed = true;
	snprintf(ss->why, sizeof ss->why, "%s", why ? why : "write failed");
	log_error("store %s: %s; this client keeps its messages in memory only until lia restarts",
		db_path(ss->db), ss->why);
}

static void step(struct sql_store *ss, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		fail(ss, sqlite3_errmsg(db_handle(ss->db)));
	sqlite3_reset(st);
}

/* arr with room for element n (capacity *cap, doubled when full), or NULL
 * when out of memory (the store fails; arr is left as it was). */
static void *reserve(struct sql_store *ss, void *arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return arr;
	size_t more = *cap ? *cap * 2 : 64;
	void *p = xrealloc(arr, more * size);
	if (!p) {
		fail(ss, "out of memory");
		return NULL;
	}
	*cap = more;
	return p;
}

static void note_pending(struct sql_store *ss, uint32_t mid)
{
	uint32_t *p = reserve(ss, ss->pending, &ss->cap, ss->npending, sizeof *p);
	if (p) {
		ss->pending = p;
		ss->pending[ss->npending++] = mid;
	}
}

static void note_gone(struct sql_store *ss, uint64_t key)
{
	uint64_t *p = reserve(ss, ss->gone, &ss->gone_cap, ss->ngone, sizeof *p);
	if (p) {
		ss->gone = p;
		ss->gone[ss->ngone++] = key;
	}
}

static void report(struct sql_store *ss, bool ok, const char *why)
{
	size_t n = ss->npending;
	ss->npending = 0;
	for (size_t i = 0; i < n && ss->base.on_stored; i++)
		ss->base.on_stored(ss->base.ud, ss->pending[i], ok, why);
}

static void on_commit(void *ud, bool ok, const char *why)
{
	struct sql_store *ss = ud;
	if (!ok)
		fail(ss, why);
	report(ss, ok && !ss->failed, ss->failed ? ss->why : NULL);
}

static int sql_add(struct mqtt_store *s, struct mqtt_msg *m)
{
	struct sql_store *ss = S(s);
	if (ss->mem->ops->add(ss->mem, m) < 0)
		return -1;
	if (m->qos == 0)
		return 0;       /* at most once: not worth a disk write */
	/* open the turn's transaction now, so it commits this turn; the row
	 * itself is written by the flush, with the state the turn left */
	if (!ss->failed && db_write(ss->db) < 0)
		fail(ss, "cannot begin a transaction");
	if (ss->failed) {
		if (s->on_stored)
			s->on_stored(s->ud, m->mid, false, ss->why);
		return 0;
	}
	if (!ss->unwritten)
		ss->unwritten = m;
	note_pending(ss, m->mid);
	return 0;
}

static void write_msg(struct sql_store *ss, struct mqtt_msg *m)
{
	sqlite3_stmt *st = begin(ss, SQL_OUT_ADD);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, ss->session);
	sqlite3_bind_int(st, 2, m->qos);
	sqlite3_bind_int(st, 3, m->state);
	sqlite3_bind_int(st, 4, m->packet_id);
	sqlite3_bind_int64(st, 5, m->id_offset);
	sqlite3_bind_int(st, 6, m->data[0]);
	sqlite3_bind_int64(st, 7, m->created);
	sqlite3_bind_blob64(st, 8, m->data, m->len, SQLITE_STATIC);
	step(ss, st);
	m->key = (uint64_t)sqlite3_last_insert_rowid(db_handle(ss->db));
}

/* The rows removed this turn, one DELETE per run of consecutive seqs
 * (acknowledgements come in publish order, so a turn's are one run). */
static void delete_gone(struct sql_store *ss)
{
	size_t i = 0;
	while (i < ss->ngone) {
		uint64_t lo = ss->gone[i], hi = lo;
		while (++i < ss->ngone && ss->gone[i] == hi + 1)
			hi++;
		sqlite3_stmt *st = begin(ss, SQL_OUT_DEL);
		if (!st)
			break;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)lo);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)hi);
		step(ss, st);
	}
	ss->ngone = 0;
}

static void save_next_id(struct sql_store *ss)
{
	sqlite3_stmt *st = begin(ss, SQL_SESS_ID);
	if (st) {
		sqlite3_bind_int(st, 1, ss->next_id);
		sqlite3_bind_int64(st, 2, ss->session);
		step(ss, st);
	}
	ss->id_dirty = false;
}

/* db.h's flush: the turn's deferred rows, inside its transaction */
static void flush(void *ud)
{
	struct sql_store *ss = ud;
	delete_gone(ss);
	for (struct mqtt_msg *m = ss->unwritten; m; m = ss->mem->ops->next(ss->mem, m))
		if (m->qos > 0)
			write_msg(ss, m);
	ss->unwritten = NULL;
	if (ss->id_dirty)
		save_next_id(ss);
}

static void sql_update(struct mqtt_store *s, struct mqtt_msg *m)
{
	struct sql_store *ss = S(s);
	/* no row yet: the flush writes the state as it is then */
	sqlite3_stmt *st = m->key ? begin(ss, SQL_OUT_UPDATE) : NULL;
	if (!st)
		return;
	sqlite3_bind_int(st, 1, m->state);
	sqlite3_bind_int(st, 2, m->packet_id);
	sqlite3_bind_int(st, 3, m->data[0]);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->key);
	step(ss, st);
}

static void sql_remove(struct mqtt_store *s, struct mqtt_msg *m)
{
	struct sql_store *ss = S(s);
	if (m == ss->unwritten)
		ss->unwritten = ss->mem->ops->next(ss->mem, m);
	if (m->key && !ss->failed) {
		/* the row goes in this turn's transaction, as an immediate DELETE
		 * would: opened here in case nothing else opened it */
		if (db_write(ss->db) < 0)
			fail(ss, "cannot begin a transaction");
		else
			note_gone(ss, m->key);
	}
	ss->mem->ops->remove(ss->mem, m);
}

static struct mqtt_msg *sql_first(struct mqtt_store *s)
{
	return S(s)->mem->ops->first(S(s)->mem);
}

static struct mqtt_msg *sql_next(struct mqtt_store *s, struct mqtt_msg *m)
{
	return S(s)->mem->ops->next(S(s)->mem, m);
}

static void sql_in_set(struct mqtt_store *s, uint16_t id, int state, uint32_t hash)
{
	struct sql_store *ss = S(s);
	uint32_t h;
	int was = ss->mem->ops->in_get(ss->mem, id, &h);
	if (was == state && h == hash)
		return;
	ss->mem->ops->in_set(ss->mem, id, state, hash);
	sqlite3_stmt *st = begin(ss, state == MQTT_IN_NONE ? SQL_IN_DEL : SQL_IN_ADD);
	if (st) {
		sqlite3_bind_int64(st, 1, ss->session);
		sqlite3_bind_int(st, 2, id);
		if (state != MQTT_IN_NONE) {
			sqlite3_bind_int(st, 3, state);
			sqlite3_bind_int64(st, 4, hash);
		}
		step(ss, st);
	}
}

static int sql_in_get(struct mqtt_store *s, uint16_t id, uint32_t *hash)
{
	return S(s)->mem->ops->in_get(S(s)->mem, id, hash);
}

static void sql_in_clear_all(struct mqtt_store *s)
{
	struct sql_store *ss = S(s);
	ss->mem->ops->in_clear_all(ss->mem);
	sqlite3_stmt *st = begin(ss, SQL_IN_CLEAR);
	if (st) {
		sqlite3_bind_int64(st, 1, ss->session);
		step(ss, st);
	}
}

static void sql_sync(struct mqtt_store *s)
{
	db_commit(S(s)->db);
}

static bool sql_unsynced(const struct mqtt_store *s)
{
	return db_in_txn(((const struct sql_store *)s)->db);
}

static void sql_save_next_id(struct mqtt_store *s, uint16_t next_id)
{
	struct sql_store *ss = S(s);
	ss->next_id = next_id;
	ss->id_dirty = true;
	if (!ss->failed && db_write(ss->db) < 0)
		fail(ss, "cannot begin a transaction");
}

static void sql_sub_save(struct mqtt_store *s, const char *filter, uint8_t options,
	const uint8_t *props, size_t props_len)
{
	struct sql_store *ss = S(s);
	sqlite3_stmt *st = begin(ss, SQL_SUB_PUT);
	if (st) {
		sqlite3_bind_int64(st, 1, ss->session);
		sqlite3_bind_text(st, 2, filter, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, options);
		if (props && props_len)
			sqlite3_bind_blob64(st, 4, props, props_len, SQLITE_STATIC);
		step(ss, st);
	}
}

static void sql_sub_forget(struct mqtt_store *s, const char *filter)
{
	struct sql_store *ss = S(s);
	sqlite3_stmt *st = begin(ss, SQL_SUB_DEL);
	if (st) {
		sqlite3_bind_int64(st, 1, ss->session);
		sqlite3_bind_text(st, 2, filter, -1, SQLITE_STATIC);
		step(ss, st);
	}
}

static void sql_sub_each(struct mqtt_store *s, mqtt_store_sub_fn *fn, void *ud)
{
	struct sql_store *ss = S(s);
	sqlite3_stmt *st = db_stmt(ss->db, SQL_SUB_LOAD);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, ss->session);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(st, 0);
		const uint8_t *props = sqlite3_column_blob(st, 2);
		size_t plen = (size_t)sqlite3_column_bytes(st, 2);
		if (f)
			fn(ud, f, (uint8_t)sqlite3_column_int(st, 1), props, plen);
	}
	sqlite3_reset(st);
}

static void sql_session_synced(struct mqtt_store *s)
{
	struct sql_store *ss = S(s);
	if (s->known_session)
		return;
	sqlite3_stmt *st = begin(ss, SQL_SESS_SYNC);
	if (st) {
		sqlite3_bind_int64(st, 1, ss->session);
		step(ss, st);
	}
	s->known_session = true;
}

static void sql_destroy(struct mqtt_store *s)
{
	struct sql_store *ss = S(s);
	s->on_stored = NULL;    /* the client is going: nobody to tell */
	db_commit(ss->db);      /* what this client wrote this turn */
	db_unlisten(ss->db, on_commit, ss);
	ss->mem->ops->destroy(ss->mem);
	xfree(ss->pending);
	xfree(ss->gone);
	xfree(ss);
}

static const struct mqtt_store_ops sql_ops = {
	.add = sql_add, .update = sql_update, .remove = sql_remove, .first = sql_first,
	.next = sql_next, .in_set = sql_in_set, .in_get = sql_in_get,
	.in_clear_all = sql_in_clear_all, .destroy = sql_destroy, .sync = sql_sync,
	.unsynced = sql_unsynced, .save_next_id = sql_save_next_id, .sub_save = sql_sub_save,
	.sub_forget = sql_sub_forget, .sub_each = sql_sub_each,
	.session_synced = sql_session_synced
};

/* This client's session row, created when missing. 0 or -1. */
static int find_session(struct sql_store *ss, const char *client_id, const char *broker)
{
	sqlite3_stmt *st = db_stmt(ss->db, SQL_SESS_GET);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, broker, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		ss->session = sqlite3_column_int64(st, 0);
		ss->base.next_id = (uint16_t)sqlite3_column_int(st, 1);
		ss->base.known_session = sqlite3_column_int(st, 2) != 0;
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (!(st = begin(ss, SQL_SESS_ADD)))
		return -1;
	sqlite3_bind_text(st, 1, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, broker, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	ss->session = sqlite3_last_insert_rowid(db_handle(ss->db));
	return 0;
}

/* One outbox row back into memory; a row that makes no sense is dropped
 * (logged) rather than sent. */
static void load_row(struct sql_store *ss, sqlite3_stmt *st)
{
	const uint8_t *data = sqlite3_column_blob(st, 7);
	size_t len = (size_t)sqlite3_column_bytes(st, 7);
	int64_t off = sqlite3_column_int64(st, 4);
	int qos = sqlite3_column_int(st, 1), state = sqlite3_column_int(st, 2);
	if (!data || len < 4 || qos < 1 || qos > 2 || state < MQTT_MSG_QUEUED ||
			state > MQTT_MSG_RELEASED || off < 2 || (uint64_t)off + 2 > len) {
		log_warn("store %s: dropping an unreadable outbox row %lld", db_path(ss->db),
			(long long)sqlite3_column_int64(st, 0));
		return;
	}
	struct mqtt_msg *m = mqtt_msg_new(len);
	if (!m)
		return;
	memcpy(m->data, data, len);
	m->key = (uint64_t)sqlite3_column_int64(st, 0);
	m->qos = (uint8_t)qos;
	m->state = (uint8_t)state;
	m->packet_id = (uint16_t)sqlite3_column_int(st, 3);
	m->id_offset = (uint32_t)off;
	m->data[0] = (uint8_t)sqlite3_column_int(st, 5);
	m->created = sqlite3_column_int64(st, 6);
	m->data[m->id_offset] = (uint8_t)(m->packet_id >> 8);
	m->data[m->id_offset + 1] = (uint8_t)m->packet_id;
	ss->mem->ops->add(ss->mem, m);
}

static void load(struct sql_store *ss)
{
	sqlite3_stmt *st = db_stmt(ss->db, SQL_OUT_LOAD);
	if (st) {
		sqlite3_bind_int64(st, 1, ss->session);
		while (sqlite3_step(st) == SQLITE_ROW)
			load_row(ss, st);
		sqlite3_reset(st);
	}
	if ((st = db_stmt(ss->db, SQL_IN_LOAD))) {
		sqlite3_bind_int64(st, 1, ss->session);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int state = sqlite3_column_int(st, 1);
			if (state == MQTT_IN_RECEIVED || state == MQTT_IN_RELEASED)
				ss->mem->ops->in_set(ss->mem, (uint16_t)sqlite3_column_int(st, 0), state,
					(uint32_t)sqlite3_column_int64(st, 2));
		}
		sqlite3_reset(st);
	}
}

struct mqtt_store *mqtt_store_sqlite_new(struct db *db, const char *client_id,
	const char *broker, char *err, size_t errlen)
{
	struct sql_store *ss = xcalloc(1, sizeof *ss);
	if (!ss || !(ss->mem = mqtt_store_mem_new())) {
		xfree(ss);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ss->base.ops = &sql_ops;
	ss->base.persistent = true;
	ss->db = db;
	if (find_session(ss, client_id, broker) < 0 || db_listen(db, flush, on_commit, ss) < 0) {
		snprintf(err, errlen, "store %s: %s", db_path(db), sqlite3_errmsg(db_handle(db)));
		ss->mem->ops->destroy(ss->mem);
		xfree(ss);
		return NULL;
	}
	load(ss);
	return &ss->base;
}
