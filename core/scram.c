/*
 * scram.c - SCRAM-SHA-256 client (see scram.h). The message grammar is
 * RFC 5802 section 7; only what a client needs is parsed, and every
 * attribute is bounds-checked before use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ossl.h"

#include "scram.h"

#define KEY_LEN 32

/* saslname: ',' and '=' escaped as =2C and =3D (RFC 5802 5.1) */
static int escape_user(const char *user, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = user; *p; p++) {
		const char *rep = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
		size_t k = rep ? 3 : 1;
		if (n + k >= cap)
			return -1;
		memcpy(out + n, rep ? rep : p, k);
		n += k;
	}
	out[n] = '\0';
	return 0;
}

static int random_nonce(char *out, size_t cap)
{
	uint8_t raw[18];
	if (cap < 25 || RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw);   /* 24 chars, no ',' */
	return 0;
}

int scram_first(struct scram *s, const char *user, const char *nonce, char *out, size_t cap,
	const char **err)
{
	char esc[256];
	memset(s, 0, sizeof *s);
	const char *why = ossl_crypto_load();  /* the later steps need it only after this one */
	if (why)
		return *err = why, -1;
	if (!user || escape_user(user, esc, sizeof esc) < 0)
		return *err = "SCRAM: user name missing or too long", -1;
	if (nonce)
		snprintf(s->nonce, sizeof s->nonce, "%s", nonce);
	else if (random_nonce(s->nonce, sizeof s->nonce) < 0)
		return *err = "SCRAM: no random bytes for the nonce", -1;
	if ((size_t)snprintf(s->first_bare, sizeof s->first_bare, "n=%s,r=%s", esc, s->nonce) >=
			sizeof s->first_bare || (size_t)snprintf(out, cap, "n,,%s", s->first_bare) >= cap)
		return *err = "SCRAM: message too long", -1;
	s->state = 1;
	return 0;
}

/* The value of attribute "k=" in a comma-separated message, as a view. */
static int attr(const char *msg, char k, const char **v, size_t *len)
{
	for (const char *p = msg; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (p[0] == k && p[1] == '=') {
			const char *end = strchr(p + 2, ',');
			*v = p + 2;
			*len = end ? (size_t)(end - *v) : strlen(*v);
			return 0;
		}
	}
	return -1;
}

static int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *n)
{
	if (len == 0 || len % 4 || len / 4 * 3 > cap)
		return -1;
	int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (r < 0)
		return -1;
	size_t pad = (in[len - 1] == '=') + (in[len - 2] == '=');
	*n = (size_t)r - pad;
	return 0;
}

static void hmac(const uint8_t *key, const void *data, size_t len, uint8_t out[KEY_LEN])
{
	unsigned int n = KEY_LEN;
	HMAC(EVP_sha256(), key, KEY_LEN, data, len, out, &n);
}

/* r=, s=, i= of the server-first message, checked */
static int parse_server_first(struct scram *s, const char *msg, const char **nonce,
	size_t *nonce_len, uint8_t *salt, size_t *salt_len, long *iter, const char **err)
{
	const char *v;
	size_t len;
	char num[16];
	if (attr(msg, 'r', nonce, nonce_len) < 0 || *nonce_len <= strlen(s->nonce) ||
			strncmp(*nonce, s->nonce, strlen(s->nonce)) != 0)
		return *err = "SCRAM: server nonce does not extend ours", -1;
	if (attr(msg, 's', &v, &len) < 0 || b64_decode(v, len, salt, 128, salt_len) < 0)
		return *err = "SCRAM: bad salt from server", -1;
	if (attr(msg, 'i', &v, &len) < 0 || len == 0 || len >= sizeof num)
		return *err = "SCRAM: bad iteration count from server", -1;
	memcpy(num, v, len);
	num[len] = '\0';
	char *end;
	*iter = strtol(num, &end, 10);
	if (*end || *iter < 1 || *iter > SCRAM_MAX_ITER)
		return *err = "SCRAM: iteration count out of range", -1;
	return 0;
}

int scram_final(struct scram *s, const uint8_t *server_first, size_t len,
	const uint8_t *password, size_t password_len, char *out, size_t cap, const char **err)
{
	char msg[SCRAM_MAX_MSG], without_proof[SCRAM_MAX_MSG];
	uint8_t salt[128], salted[KEY_LEN], ckey[KEY_LEN], stored[KEY_LEN], csig[KEY_LEN];
	uint8_t proof[KEY_LEN], skey[KEY_LEN];
	char proof64[64];
	const char *nonce;
	size_t nonce_len, salt_len;
	long iter;
	if (s->state != 1)
		return *err = "SCRAM: server-first message out of turn", -1;
	if (len >= sizeof msg || memchr(server_first, 0, len))
		return *err = "SCRAM: server-first message too long or not text", -1;
	memcpy(msg, server_first, len);
	msg[len] = '\0';
	if (parse_server_first(s, msg, &nonce, &nonce_len, salt, &salt_len, &iter, err) < 0)
		return -1;
	/* c=biws: base64 of the GS2 header "n,," (no channel binding) */
	if ((size_t)snprintf(without_proof, sizeof without_proof, "c=biws,r=%.*s", (int)nonce_len,
			nonce) >= sizeof without_proof)
		return *err = "SCRAM: message too long", -1;
	if (!PKCS5_PBKDF2_HMAC((const char *)password, (int)password_len, salt, (int)salt_len,
			(int)iter, EVP_sha256(), KEY_LEN, salted))
		return *err = "SCRAM: PBKDF2 failed", -1;
	hmac(salted, "Client Key", 10, ckey);
	SHA256(ckey, KEY_LEN, stored);
	int n = snprintf(s->auth_message, sizeof s->auth_message, "%s,%s,%s", s->first_bare, msg,
		without_proof);
	if (n < 0 || (size_t)n >= sizeof s->auth_message)
		return *err = "SCRAM: message too long", -1;
	HMAC(EVP_sha256(), stored, KEY_LEN, (const uint8_t *)s->auth_message, (size_t)n, csig,
		&(unsigned int){ KEY_LEN });
	for (int i = 0; i < KEY_LEN; i++)
		proof[i] = ckey[i] ^ csig[i];
	hmac(salted, "Server Key", 10, skey);
	HMAC(EVP_sha256(), skey, KEY_LEN, (const uint8_t *)s->auth_message, (size_t)n,
		s->server_sig, &(unsigned int){ KEY_LEN });
	EVP_EncodeBlock((unsigned char *)proof64, proof, KEY_LEN);
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(ckey, sizeof ckey);
	if ((size_t)snprintf(out, cap, "%s,p=%s", without_proof, proof64) >= cap)
		return *err = "SCRAM: message too long", -1;
	s->state = 2;
	return 0;
}

int scram_verify(struct scram *s, const uint8_t *server_final, size_t len, const char **err)
{
	char msg[SCRAM_MAX_MSG];
	uint8_t sig[64];
	const char *v;
	size_t vlen, n;
	if (s->state != 2)
		return *err = "SCRAM: server-final message out of turn", -1;
	if (len >= sizeof msg || memchr(server_final, 0, len))
		return *err = "SCRAM: server-final message too long or not text", -1;
	memcpy(msg, server_final, len);
	msg[len] = '\0';
	s->state = 0;
	if (attr(msg, 'e', &v, &vlen) == 0)
		return *err = "SCRAM: the server refused the proof", -1;
	if (attr(msg, 'v', &v, &vlen) < 0 || b64_decode(v, vlen, sig, sizeof sig, &n) < 0 ||
			n != KEY_LEN || CRYPTO_memcmp(sig, s->server_sig, KEY_LEN) != 0)
		return *err = "SCRAM: wrong server signature (the server does not know the password)", -1;
	return 0;
}
