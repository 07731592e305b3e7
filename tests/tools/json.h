/*
 * json.h - a small JSON reader for test tools (header-only: the Makefile
 * builds every .c in tests/tools/ into its own binary, so shared tool code
 * lives in headers). Objects, arrays, strings (all escapes, \u surrogate
 * pairs to UTF-8), numbers, true/false/null. Enough for data files such as
 * the conformance corpus; not a general library (no streaming, whole text
 * in memory, nesting capped at JSON_MAX_DEPTH).
 *
 * json_parse() returns a tree owned by the caller (json_free) or NULL with
 * "line N: what" in err. Strings are NUL-terminated copies; a string with
 * an embedded \u0000 keeps its length in .len.
 */
#ifndef LIA_TOOLS_JSON_H
#define LIA_TOOLS_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define JSON_MAX_DEPTH 64

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY,
	JSON_OBJECT };

struct json {
	enum json_type type;
	double num;             /* JSON_NUMBER */
	char *str;              /* JSON_STRING */
	size_t len;
	char *key;              /* member name when the parent is an object */
	struct json *child;     /* first element or member (ARRAY, OBJECT) */
	struct json *next;      /* next sibling */
};

struct json_reader {
	const char *p, *end;
	int line;
	char *err;
	size_t errlen;
	int depth;
};

static inline void json_free(struct json *j)
{
	while (j) {
		struct json *next = j->next;
		json_free(j->child);
		xfree(j->str);
		xfree(j->key);
		xfree(j);
		j = next;
	}
}

static inline struct json *json_fail(struct json_reader *r, const char *what)
{
	if (r->err && !r->err[0])
		snprintf(r->err, r->errlen, "line %d: %s", r->line, what);
	return NULL;
}

static inline void json_skip_ws(struct json_reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
		if (*r->p == '\n')
			r->line++;
		r->p++;
	}
}

static inline int json_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static inline size_t json_put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* \uXXXX at r->p (after the backslash and 'u'), with a following low
 * surrogate when the first is a high one. */
static inline int json_unicode(struct json_reader *r, unsigned *cp)
{
	unsigned hi, lo;
	if (r->end - r->p < 4 || json_hex4(r->p, &hi) < 0)
		return -1;
	r->p += 4;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return -1;
	if (hi < 0xD800 || hi > 0xDBFF) {
		*cp = hi;
		return 0;
	}
	if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || json_hex4(r->p + 2, &lo) < 0
		|| lo < 0xDC00 || lo > 0xDFFF)
		return -1;
	r->p += 6;
	*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	return 0;
}

/* A string at r->p (on the opening quote). Escapes never make the text
 * longer, so the raw span bounds the output. */
static inline char *json_string(struct json_reader *r, size_t *len)
{
	const char *s = ++r->p;
	while (s < r->end && *s != '"')
		s += (*s == '\\' && s + 1 < r->end) ? 2 : 1;
	if (s >= r->end)
		return (char *)json_fail(r, "unterminated string");
	char *out = xmalloc((size_t)(s - r->p) + 1), *o = out;
	if (!out)
		return (char *)json_fail(r, "out of memory");
	while (r->p < s) {
		unsigned char c = (unsigned char)*r->p++;
		if (c < 0x20) {
			xfree(out);
			return (char *)json_fail(r, "control character in string");
		}
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		unsigned cp;
		switch (*r->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (json_unicode(r, &cp) == 0) {
				o += json_put_utf8(o, cp);
				break;
			}
			/* fall through */
		default:
			xfree(out);
			return (char *)json_fail(r, "bad escape in string");
		}
	}
	r->p = s + 1;
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

static inline int json_number(struct json_reader *r, double *out)
{
	const char *s = r->p;
	if (s < r->end && *s == '-')
		s++;
	if (s >= r->end || *s < '0' || *s > '9')
		return -1;
	if (*s == '0')
		s++;    /* no leading zeros: "01" is two tokens, an error */
	else
		while (s < r->end && *s >= '0' && *s <= '9')
			s++;
	if (s < r->end && *s == '.') {
		if (++s >= r->end || *s < '0' || *s > '9')
			return -1;
		while (s < r->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < r->end && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < r->end && (*s == '+' || *s == '-'))
			s++;
		if (s >= r->end || *s < '0' || *s > '9')
			return -1;
		while (s < r->end && *s >= '0' && *s <= '9')
			s++;
	}
	char tmp[64];
	if ((size_t)(s - r->p) >= sizeof tmp)
		return -1;
	memcpy(tmp, r->p, (size_t)(s - r->p));
	tmp[s - r->p] = '\0';
	*out = strtod(tmp, NULL);
	r->p = s;
	return 0;
}

static inline struct json *json_value(struct json_reader *r);

/* Elements of an array or members of an object, after the opening bracket. */
static inline struct json *json_container(struct json_reader *r, struct json *j, char close)
{
	struct json **tail = &j->child;
	json_skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		json_skip_ws(r);
		if (close == '}') {
			if (r->p >= r->end || *r->p != '"')
				return json_fail(r, "expected a member name");
			if (!(key = json_string(r, &klen)))
				return NULL;
			json_skip_ws(r);
			if (r->p >= r->end || *r->p != ':') {
				xfree(key);
				return json_fail(r, "expected ':'");
			}
			r->p++;
		}
		struct json *v = json_value(r);
		if (!v) {
			xfree(key);
			return NULL;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		json_skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return j;
		}
		return json_fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static inline int json_word(struct json_reader *r, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return 0;
	r->p += n;
	return 1;
}

static inline struct json *json_value(struct json_reader *r)
{
	json_skip_ws(r);
	if (r->p >= r->end)
		return json_fail(r, "unexpected end of text");
	if (r->depth >= JSON_MAX_DEPTH)
		return json_fail(r, "nested too deeply");
	struct json *j = xcalloc(1, sizeof *j);
	if (!j)
		return json_fail(r, "out of memory");
	struct json *ok = j;
	char c = *r->p;
	if (c == '{' || c == '[') {
		r->p++;
		r->depth++;
		j->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
		ok = json_container(r, j, c == '{' ? '}' : ']');
		r->depth--;
	} else if (c == '"') {
		j->type = JSON_STRING;
		if (!(j->str = json_string(r, &j->len)))
			ok = NULL;
	} else if (json_word(r, "true")) {
		j->type = JSON_TRUE;
	} else if (json_word(r, "false")) {
		j->type = JSON_FALSE;
	} else if (json_word(r, "null")) {
		j->type = JSON_NULL;
	} else {
		j->type = JSON_NUMBER;
		if (json_number(r, &j->num) < 0)
			ok = json_fail(r, "unexpected character");
	}
	if (!ok)
		json_free(j);
	return ok;
}

static inline struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct json_reader r = { text, text + len, 1, err, errlen, 0 };
	if (err && errlen)
		err[0] = '\0';
	struct json *j = json_value(&r);
	if (!j)
		return NULL;
	json_skip_ws(&r);
	if (r.p != r.end) {
		json_free(j);
		return json_fail(&r, "trailing characters after the value");
	}
	return j;
}

/* Member of an object by name (the first one), or NULL. */
static inline const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json *m = obj->child; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

/* Typed accessors: def when absent or of another type. */
static inline const char *json_get_str(const struct json *obj, const char *key, const char *def)
{
	const struct json *m = json_get(obj, key);
	return m && m->type == JSON_STRING ? m->str : def;
}

static inline int json_get_bool(const struct json *obj, const char *key, int def)
{
	const struct json *m = json_get(obj, key);
	if (m && (m->type == JSON_TRUE || m->type == JSON_FALSE))
		return m->type == JSON_TRUE;
	return def;
}

static inline double json_get_num(const struct json *obj, const char *key, double def)
{
	const struct json *m = json_get(obj, key);
	return m && m->type == JSON_NUMBER ? m->num : def;
}

#endif
