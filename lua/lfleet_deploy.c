/*
 * lfleet_deploy.c - the agent's side of a deploy (docs/fleet.md): a bundle
 * from lia/<id>/deploy, lia/all/deploy or lia/group/<g>/deploy is checked
 * (size, format, Ed25519 signature against --trusted-dir), written to
 * DATA/bundles/<id>-<hash> atomically (a new folder, every file and the
 * folder fsync'ed, then one rename), loaded by the live reload
 * (lreload_deploy) and judged by its health window: "good" commits it,
 * "rolled_back" or "refused" ends it. Every outcome is one retained JSON
 * on lia/<id>/deploy/result with the bundle id and hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>

#include "lcjson.h"

#include "args.h"
#include "lfleet.h"
#include "lfleet_bundle.h"
#include "lreload.h"
#include "log.h"

#define TRUSTED_DEFAULT "/etc/lia/trusted.d"

static struct {
	struct host *h;
	const struct lia_args *a;
	char data[1024];
	/* what runs (committed or on probation) and what was handled last */
	char id[129], version[65], hash[65];
	char handled[65];
	/* the deploy on probation: its main file and the script before it */
	bool pending;
	char p_id[129], p_version[65], p_hash[65];
	char p_main[1500], prev_origin[PATH_MAX];
} dp;

static void result(const char *id, const char *version, const char *hash, const char *what,
	const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char *text;
	if (!o)
		return;
	cJSON_AddStringToObject(o, "id", lfleet_id());
	if (id && id[0])
		cJSON_AddStringToObject(o, "bundle", id);
	else
		cJSON_AddNullToObject(o, "bundle");
	if (version && version[0])
		cJSON_AddStringToObject(o, "version", version);
	if (hash && hash[0])
		cJSON_AddStringToObject(o, "hash", hash);
	cJSON_AddStringToObject(o, "result", what);
	if (reason)
		cJSON_AddStringToObject(o, "reason", reason);
	if ((text = cJSON_PrintUnformatted(o))) {
		lfleet_publish("deploy/result", text, true);
		free(text);
	}
	cJSON_Delete(o);
	if (strcmp(what, "committed") == 0)
		log_info("deploy: bundle %s %s (%.12s) committed", id, version, hash);
	else
		log_error("deploy: bundle %s %s: %s", id && id[0] ? id : "?", what, reason ? reason : "");
}

/* ---- the bundle on disk ---- */

static int write_file(const char *path, const unsigned char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;
	if (fd < 0)
		return -1;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -1 : fsync(fd);
	if (fd >= 0)
		close(fd);
	return r;
}

static void remove_dir(const char *dir, const struct bundle *b)
{
	char p[PATH_MAX + 128];
	for (size_t i = 0; i < b->nfiles; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, b->files[i].name);
		unlink(p);
	}
	rmdir(dir);
}

/* DATA/bundles/<id>-<hash 16> holding the files; 0 and its path in dir. */
static int store(const struct bundle *b, char *dir, size_t n, char *why, size_t whylen)
{
	char root[1100], tmp[1200], p[1400];
	snprintf(root, sizeof root, "%s/bundles", dp.data);
	snprintf(dir, n, "%s/%s-%.16s", root, b->id, b->hash);
	if (access(dir, F_OK) == 0)
		return 0;       /* the same bytes (the hash says so) are there already */
	snprintf(tmp, sizeof tmp, "%s/.new-%.16s", root, b->hash);
	if ((mkdir(root, 0700) < 0 && errno != EEXIST))
		goto fail;
	remove_dir(tmp, b);
	if (mkdir(tmp, 0700) < 0)
		goto fail;
	for (size_t i = 0; i < b->nfiles; i++) {
		snprintf(p, sizeof p, "%s/%s", tmp, b->files[i].name);
		if (write_file(p, b->files[i].data, b->files[i].len) < 0)
			goto fail;
	}
	if (fsync_dir(tmp) < 0 || rename(tmp, dir) < 0 || fsync_dir(root) < 0)
		goto fail;
	return 0;
fail:
	snprintf(why, whylen, "%.300s: %s", root, strerror(errno));
	remove_dir(tmp, b);
	return -1;
}

/* DATA/fleet/current: the committed bundle (lines: main file, id,
 * version, hash), run by the next start. */
static void remember(const char *main_path)
{
	char d[1100], p[1200], tmp[1300], text[PATH_MAX + 300];
	int n = snprintf(text, sizeof text, "%s\n%s\n%s\n%s\n", main_path, dp.id, dp.version,
		dp.hash);
	snprintf(d, sizeof d, "%s/fleet", dp.data);
	snprintf(p, sizeof p, "%s/current", d);
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	if ((mkdir(d, 0700) < 0 && errno != EEXIST) || n < 0 || (size_t)n >= sizeof text ||
			write_file(tmp, (const unsigned char *)text, (size_t)n) < 0 ||
			rename(tmp, p) < 0 || fsync_dir(d) < 0)
		log_warn("%s: %s: the next start runs the command line's script", p, strerror(errno));
}

static void read_line(FILE *f, char *out, size_t n)
{
	if (!fgets(out, (int)n, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

const char *lfleet_deploy_script(const struct lia_args *a)
{
	static char main_path[PATH_MAX];
	char p[PATH_MAX + 16];
	FILE *f;
	if (!a->fleet || !a->data_dir)
		return a->script;
	snprintf(p, sizeof p, "%s/fleet/current", a->data_dir);
	if (!(f = fopen(p, "r")))
		return a->script;
	read_line(f, main_path, sizeof main_path);
	read_line(f, dp.id, sizeof dp.id);
	read_line(f, dp.version, sizeof dp.version);
	read_line(f, dp.hash, sizeof dp.hash);
	fclose(f);
	if (!main_path[0] || access(main_path, R_OK) < 0) {
		dp.id[0] = dp.version[0] = dp.hash[0] = '\0';
		return a->script;
	}
	log_info("fleet: running the deployed bundle %s %s (%s)", dp.id, dp.version, p);
	snprintf(dp.handled, sizeof dp.handled, "%s", dp.hash);
	return main_path;
}

/* ---- a deploy message ---- */

static int check(struct bundle *b, const char *json, size_t len, char *why, size_t whylen)
{
	char key[256];
	size_t clen;
	unsigned char *c;
	const char *dir = dp.a->trusted_dir ? dp.a->trusted_dir : TRUSTED_DEFAULT;
	if (bundle_parse(json, len, b, why, whylen) < 0)
		return -1;
	if (!(c = bundle_canonical(b, &clen)))
		return snprintf(why, whylen, "out of memory"), -1;
	free(c);
	if (strcmp(b->hash, dp.handled) == 0 || strcmp(b->hash, dp.hash) == 0)
		return 1;       /* handled or running already (a retained deploy again) */
	if (dp.pending)
		return snprintf(why, whylen, "bundle %s is still in its health window", dp.p_id), -1;
	if (bundle_verify(b, dir, key, sizeof key, why, whylen) < 0)
		return -1;      /* not remembered: the same files properly signed may follow */
	snprintf(dp.handled, sizeof dp.handled, "%s", b->hash);
	if (!dp.data[0])
		return snprintf(why, whylen, "no data directory to keep bundles in"), -1;
	log_info("deploy: bundle %s %s (%.12s) signed by %s", b->id, b->version, b->hash, key);
	return 0;
}

void lfleet_deploy_message(const char *topic, const char *json, size_t len)
{
	struct bundle b;
	char why[512], dir[1300];
	int r;
	if (len == 0)
		return;         /* a retained deploy was cleared */
	log_info("deploy: %zu bytes on %s", len, topic);
	r = check(&b, json, len, why, sizeof why);
	if (r == 0 && store(&b, dir, sizeof dir, why, sizeof why) < 0)
		r = -1;
	if (r < 0) {
		result(b.id, b.version, b.hash, "refused", why);
	} else if (r == 0) {
		dp.pending = true;
		snprintf(dp.p_id, sizeof dp.p_id, "%s", b.id);
		snprintf(dp.p_version, sizeof dp.p_version, "%s", b.version);
		snprintf(dp.p_hash, sizeof dp.p_hash, "%s", b.hash);
		snprintf(dp.p_main, sizeof dp.p_main, "%s/%s", dir, b.main);
		snprintf(dp.prev_origin, sizeof dp.prev_origin, "%s", lreload_origin());
		lreload_deploy(dp.h, dp.p_main);
	}
	bundle_free(&b);
}

/* lreload's changes of state, for the deploy on probation. */
void lfleet_deploy_status(const char *state, const char *detail)
{
	char why[1024];
	if (!dp.pending)
		return;
	if (strcmp(state, "good") == 0 && strcmp(detail, dp.p_main) == 0) {
		dp.pending = false;
		snprintf(dp.id, sizeof dp.id, "%s", dp.p_id);
		snprintf(dp.version, sizeof dp.version, "%s", dp.p_version);
		snprintf(dp.hash, sizeof dp.hash, "%s", dp.p_hash);
		remember(dp.p_main);
		result(dp.p_id, dp.p_version, dp.p_hash, "committed", NULL);
	} else if (strcmp(state, "refused") == 0 || strcmp(state, "rolled_back") == 0) {
		bool refused = strcmp(state, "refused") == 0;
		dp.pending = false;
		if (refused)
			snprintf(why, sizeof why, "the new scripts do not load: %s", detail);
		else
			snprintf(why, sizeof why, "rolled back to %s after %s", detail,
				lfleet_last_error()[0] ? lfleet_last_error() : "errors in the health window");
		/* the scripts before the bundle are the user's again */
		lreload_deploy_restore(dp.prev_origin);
		result(dp.p_id, dp.p_version, dp.p_hash, state, why);
	}
}

void lfleet_deploy_describe(cJSON *status)
{
	cJSON *b = cJSON_AddObjectToObject(status, "bundle");
	if (!b)
		return;
	if (dp.id[0]) {
		cJSON_AddStringToObject(b, "id", dp.id);
		cJSON_AddStringToObject(b, "version", dp.version);
		cJSON_AddStringToObject(b, "hash", dp.hash);
	}
	if (dp.pending) {
		cJSON_AddStringToObject(b, "pending", dp.p_id);
	}
}

void lfleet_deploy_init(struct host *h, const struct lia_args *a)
{
	dp.h = h;
	dp.a = a;
	snprintf(dp.data, sizeof dp.data, "%s", a->data_dir ? a->data_dir : "");
}
