/*
 * waivers.h - the conformance waivers file (tests/conformance/WAIVERS.md),
 * header-only, since each tool (tests/tools/NAME.c) builds into its own binary. A waiver
 * is a Markdown table row
 *
 *   | file | group | test | [MQTT-x.y.z-n] ... | why |
 *
 * Cells are trimmed and runs of blanks compare equal ("v5.0   CONNACK" ==
 * "v5.0 CONNACK"); cells cannot contain '|'. The header row (first cell
 * "file") and separator rows are skipped, other text is prose. A row whose
 * fourth cell does not start with "[MQTT-" is refused with a warning on
 * stderr: a waiver must cite the spec statement that makes us right.
 */
#ifndef LIA_TOOLS_WAIVERS_H
#define LIA_TOOLS_WAIVERS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

struct waiver {
	char *file, *group, *test, *cite;
	int line;               /* in the waivers file */
	bool used;              /* matched a case that ran */
};

struct waivers {
	struct waiver *v;
	size_t n;
};

/* Runs of blanks to one space, none at either end (in place). */
static inline void waiver_words(char *s)
{
	char *o = s, *start = s;
	bool sp = true;    /* also trims the front */
	for (; *s; s++) {
		bool is = *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n';
		if (is && sp)
			continue;
		*o++ = is ? ' ' : *s;
		sp = is;
	}
	if (o > start && o[-1] == ' ')
		o--;
	*o = '\0';
}

static inline bool waiver_same(const char *a, const char *b)
{
	char x[512], y[512];
	snprintf(x, sizeof x, "%s", a);
	snprintf(y, sizeof y, "%s", b);
	waiver_words(x);
	waiver_words(y);
	return strcmp(x, y) == 0;
}

/* Next '|'-terminated cell of a row, trimmed; NULL when there is none. */
static inline char *waiver_cell(char **p)
{
	char *s = *p, *bar = strchr(s, '|');
	if (!bar)
		return NULL;
	*bar = '\0';
	*p = bar + 1;
	waiver_words(s);
	return s;
}

static inline int waiver_add(struct waivers *w, char **c, int line)
{
	struct waiver *nv = xrealloc(w->v, (w->n + 1) * sizeof *nv);
	if (!nv)
		return -1;
	w->v = nv;
	w->v[w->n++] = (struct waiver){ xstrdup(c[0]), xstrdup(c[1]), xstrdup(c[2]),
		xstrdup(c[3]), line, false };
	return 0;
}

/* Load path; a missing file is no waivers. Returns 0 or -1 (errno). */
static inline int waivers_load(struct waivers *w, const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return errno == ENOENT ? 0 : -1;
	char *line = NULL, *c[4];
	size_t cap = 0;
	int lineno = 0;
	while (getline(&line, &cap, fp) > 0) {
		char *p = line + strspn(line, " \t");
		int i;
		lineno++;
		if (*p++ != '|')
			continue;
		for (i = 0; i < 4 && (c[i] = waiver_cell(&p)); i++)
			;
		if (i < 4 || strcasecmp(c[0], "file") == 0 || c[0][0] == '-' || c[0][0] == ':')
			continue;
		if (strncmp(c[3], "[MQTT-", 6) != 0)
			fprintf(stderr, "%s:%d: waiver without an [MQTT-x.y.z-n] citation: ignored\n",
				path, lineno);
		else if (waiver_add(w, c, lineno) < 0)
			break;
	}
	free(line);
	fclose(fp);
	return 0;
}

static inline struct waiver *waivers_find(struct waivers *w, const char *file, const char *group,
	const char *test)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->v[i].file, file) == 0 && waiver_same(w->v[i].group, group)
			&& waiver_same(w->v[i].test, test))
			return &w->v[i];
	return NULL;
}

static inline void waivers_free(struct waivers *w)
{
	for (size_t i = 0; i < w->n; i++) {
		xfree(w->v[i].file);
		xfree(w->v[i].group);
		xfree(w->v[i].test);
		xfree(w->v[i].cite);
	}
	xfree(w->v);
	w->v = NULL;
	w->n = 0;
}

#endif
