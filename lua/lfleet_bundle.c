/*
 * lfleet_bundle.c - parse, canonicalise, sign and verify fleet bundles
 * (lfleet_bundle.h). JSON with libcjson, crypto with OpenSSL's EVP API
 * (EVP_PKEY_ED25519 and EVP_DigestSign/EVP_DigestVerify: Ed25519 hashes the
 * message itself, so no digest is named).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lcjson.h"
#include "ossl.h"

#include "lfleet_bundle.h"

int bundle_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 5 || n > BUNDLE_NAME_MAX || name[0] == '.' || strcmp(name + n - 4, ".lua") != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* id and version: printable ASCII without spaces (they are lines of the
 * canonical form and parts of file names). */
static int label_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
			return 0;
	return 1;
}

void bundle_free(struct bundle *b)
{
	for (size_t i = 0; i < b->nfiles; i++)
		free(b->files[i].data);
	free(b->sig);
	memset(b, 0, sizeof *b);
}

/* ---- base64 (OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock) ---- */

static unsigned char *unbase64(const char *s, size_t *out)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *p;
	int r;
	if (n % 4 != 0)
		return NULL;
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	if (!(p = malloc(n / 4 * 3 + 1)))
		return NULL;
	r = n ? EVP_DecodeBlock(p, (const unsigned char *)s, (int)n) : 0;
	if (r < 0 || (size_t)r < pad) {
		free(p);
		return NULL;
	}
	*out = (size_t)r - pad;
	return p;
}

static char *base64(const unsigned char *p, size_t n)
{
	char *s = malloc((n + 2) / 3 * 4 + 1);
	if (s)
		EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* ---- parse ---- */

static int fail(char *why, size_t n, const char *msg, const char *arg)
{
	snprintf(why, n, msg, arg);
	return -1;
}

/* Every bundle starts in bundle_parse, bundle_add or bundle_keygen: they
 * load libcrypto (base64, SHA-256, Ed25519) for what follows. */
static int need_crypto(char *why, size_t whylen)
{
	const char *e = ossl_crypto_load();
	return e ? fail(why, whylen, "%s", e) : 0;
}

static int cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct bundle_file *)a)->name, ((const struct bundle_file *)b)->name);
}

int bundle_add(struct bundle *b, const char *name, const unsigned char *data, size_t len,
	char *why, size_t whylen)
{
	struct bundle_file *f;
	if (need_crypto(why, whylen) < 0)
		return -1;
	if (!bundle_name_ok(name))
		return fail(why, whylen, "file name '%s' is not allowed (letters, digits, _ . -, "
			"ending in .lua)", name);
	for (size_t i = 0; i < b->nfiles; i++)
		if (strcmp(b->files[i].name, name) == 0)
			return fail(why, whylen, "file '%s' is twice in the bundle", name);
	if (b->nfiles == BUNDLE_MAX_FILES)
		return fail(why, whylen, "more than %s files", "64");
	f = &b->files[b->nfiles];
	snprintf(f->name, sizeof f->name, "%s", name);
	if (!(f->data = malloc(len + 1)))
		return fail(why, whylen, "%s", "out of memory");
	memcpy(f->data, data, len);
	f->len = len;
	b->nfiles++;
	qsort(b->files, b->nfiles, sizeof b->files[0], cmp_files);
	return 0;
}

static int get_label(const cJSON *o, const char *k, char *out, size_t n, char *why,
	size_t whylen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsString(v) || !label_ok(v->valuestring, n - 1))
		return fail(why, whylen, "'%s' is missing or not a short word", k);
	snprintf(out, n, "%s", v->valuestring);
	return 0;
}

static int parse_files(const cJSON *files, struct bundle *b, char *why, size_t whylen)
{
	const cJSON *f;
	if (!cJSON_IsObject(files))
		return fail(why, whylen, "%s", "'files' is missing or not an object");
	cJSON_ArrayForEach(f, files) {
		size_t len;
		unsigned char *data;
		int r;
		if (!cJSON_IsString(f) || !(data = unbase64(f->valuestring, &len)))
			return fail(why, whylen, "file '%s' is not base64", f->string);
		r = bundle_add(b, f->string, data, len, why, whylen);
		free(data);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int parse_object(const cJSON *o, struct bundle *b, char *why, size_t whylen)
{
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(o, "sig");
	int found = 0;
	if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, BUNDLE_FORMAT) != 0)
		return fail(why, whylen, "not a bundle: 'format' is not \"%s\"", BUNDLE_FORMAT);
	if (get_label(o, "id", b->id, sizeof b->id, why, whylen) < 0 ||
			get_label(o, "version", b->version, sizeof b->version, why, whylen) < 0 ||
			get_label(o, "main", b->main, sizeof b->main, why, whylen) < 0 ||
			parse_files(cJSON_GetObjectItemCaseSensitive(o, "files"), b, why, whylen) < 0)
		return -1;
	for (size_t i = 0; i < b->nfiles; i++)
		found = found || strcmp(b->files[i].name, b->main) == 0;
	if (!found)
		return fail(why, whylen, "the main file '%s' is not in the bundle", b->main);
	if (cJSON_IsString(sig) && !(b->sig = unbase64(sig->valuestring, &b->siglen)))
		return fail(why, whylen, "%s", "'sig' is not base64");
	return 0;
}

int bundle_parse(const char *json, size_t len, struct bundle *b, char *why, size_t whylen)
{
	cJSON *o;
	int r;
	memset(b, 0, sizeof *b);
	if (need_crypto(why, whylen) < 0)
		return -1;
	if (len > BUNDLE_MAX_BYTES) {
		snprintf(why, whylen, "the bundle is %zu bytes, more than the limit of %d (1 MiB)",
			len, BUNDLE_MAX_BYTES);
		return -1;
	}
	if (!(o = cJSON_ParseWithLength(json, len)) || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return fail(why, whylen, "%s", "not a bundle: the message is not a JSON object");
	}
	r = parse_object(o, b, why, whylen);
	cJSON_Delete(o);
	return r;
}

/* ---- the canonical form ---- */

unsigned char *bundle_canonical(struct bundle *b, size_t *len)
{
	size_t cap = 512, off;
	unsigned char *p, md[32];
	unsigned mdlen = 0;
	for (size_t i = 0; i < b->nfiles; i++)
		cap += b->files[i].len + BUNDLE_NAME_MAX + 48;
	if (!(p = malloc(cap)))
		return NULL;
	off = (size_t)snprintf((char *)p, cap, "%s\nid %s\nversion %s\nmain %s\n", BUNDLE_FORMAT,
		b->id, b->version, b->main);
	for (size_t i = 0; i < b->nfiles; i++) {
		off += (size_t)snprintf((char *)p + off, cap - off, "file %s %zu\n", b->files[i].name,
			b->files[i].len);
		memcpy(p + off, b->files[i].data, b->files[i].len);
		off += b->files[i].len;
		p[off++] = '\n';
	}
	*len = off;
	EVP_Digest(p, off, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(b->hash + 2 * i, 3, "%02x", md[i]);
	return p;
}

/* ---- keys, sign, verify ---- */

static int verify_with(const char *path, const unsigned char *msg, size_t len,
	const struct bundle *b)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;
	if (f)
		fclose(f);
	if (k && ctx && EVP_PKEY_id(k) == EVP_PKEY_ED25519 &&
			EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1)
		ok = EVP_DigestVerify(ctx, b->sig, b->siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

int bundle_verify(struct bundle *b, const char *dir, char *key, size_t keylen, char *why,
	size_t whylen)
{
	if (need_crypto(why, whylen) < 0)
		return -1;
	size_t len;
	unsigned char *msg;
	DIR *d;
	struct dirent *e;
	int ok = 0;
	if (!b->sig)
		return fail(why, whylen, "%s", "the bundle has no signature");
	if (!(d = opendir(dir))) {
		snprintf(why, whylen, "%s: %s (no trusted keys)", dir, strerror(errno));
		return -1;
	}
	if (!(msg = bundle_canonical(b, &len))) {
		closedir(d);
		return fail(why, whylen, "%s", "out of memory");
	}
	while (!ok && (e = readdir(d))) {
		char path[4096];
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".pub") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if ((ok = verify_with(path, msg, len, b)))
			snprintf(key, keylen, "%s", e->d_name);
	}
	closedir(d);
	free(msg);
	if (!ok)
		return fail(why, whylen, "the signature does not verify with any key in %s", dir);
	return 0;
}

int bundle_sign(struct bundle *b, const char *keyfile, char *why, size_t whylen)
{
	if (need_crypto(why, whylen) < 0)   /* a bundle of no files saw no bundle_add */
		return -1;
	FILE *f = fopen(keyfile, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len, siglen = 64;
	unsigned char *msg = bundle_canonical(b, &len);
	int r = -1;
	if (f)
		fclose(f);
	free(b->sig);
	b->sig = malloc(64);
	if (!k || EVP_PKEY_id(k) != EVP_PKEY_ED25519)
		snprintf(why, whylen, "%s: not an Ed25519 private key (make one with lia keygen)",
			keyfile);
	else if (!msg || !ctx || !b->sig || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
			EVP_DigestSign(ctx, b->sig, &siglen, msg, len) != 1)
		snprintf(why, whylen, "%s: cannot sign", keyfile);
	else
		r = 0;
	b->siglen = r == 0 ? siglen : 0;
	free(msg);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return r;
}

char *bundle_json(const struct bundle *b)
{
	cJSON *o = cJSON_CreateObject(), *files = NULL;
	char *text = NULL, *s;
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "format", BUNDLE_FORMAT);
	cJSON_AddStringToObject(o, "id", b->id);
	cJSON_AddStringToObject(o, "version", b->version);
	cJSON_AddStringToObject(o, "main", b->main);
	files = cJSON_AddObjectToObject(o, "files");
	for (size_t i = 0; files && i < b->nfiles; i++) {
		if ((s = base64(b->files[i].data, b->files[i].len)))
			cJSON_AddStringToObject(files, b->files[i].name, s);
		free(s);
	}
	if (b->sig && (s = base64(b->sig, b->siglen))) {
		cJSON_AddStringToObject(o, "sig", s);
		free(s);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static int write_key(const char *path, EVP_PKEY *k, int private, char *why, size_t whylen)
{
	FILE *f = fopen(path, "wx");
	int ok;
	if (!f)
		return fail(why, whylen, "%s: cannot create it (it must not exist yet)", path);
	if (private)
		fchmod(fileno(f), 0600);
	ok = private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
		: PEM_write_PUBKEY(f, k);
	if (fclose(f) != 0 || !ok)
		return fail(why, whylen, "%s: cannot write the key", path);
	return 0;
}

int bundle_keygen(const char *base, char *why, size_t whylen)
{
	char priv[4096], pub[4096];
	EVP_PKEY *k = NULL;
	if (need_crypto(why, whylen) < 0)
		return -1;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	int r = -1;
	snprintf(priv, sizeof priv, "%s.key", base);
	snprintf(pub, sizeof pub, "%s.pub", base);
	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1)
		fail(why, whylen, "%s", "cannot make an Ed25519 key");
	else if (write_key(priv, k, 1, why, whylen) == 0)
		r = write_key(pub, k, 0, why, whylen);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	return r;
}
