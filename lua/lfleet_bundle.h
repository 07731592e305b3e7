/*
 * lfleet_bundle.h - the signed script bundle of the fleet (docs/fleet.md
 * "The bundle format"): JSON {format, id, version, main, files: {name:
 * base64}, sig: base64}, the Ed25519 signature over a canonical byte
 * string (never over the JSON, whose key order and escapes may vary).
 * No Lua, no MQTT: shared by the agent (lfleet_deploy.c) and lia bundle.
 */
#ifndef LIA_LFLEET_BUNDLE_H
#define LIA_LFLEET_BUNDLE_H

#include <stddef.h>

#define BUNDLE_FORMAT "lia-bundle-1"
#define BUNDLE_MAX_BYTES (1024 * 1024)  /* the JSON message, as sent */
#define BUNDLE_MAX_FILES 64
#define BUNDLE_NAME_MAX 100

struct bundle_file {
	char name[BUNDLE_NAME_MAX + 1];
	unsigned char *data;
	size_t len;
};

struct bundle {
	char id[129], version[65], main[BUNDLE_NAME_MAX + 1];
	struct bundle_file files[BUNDLE_MAX_FILES];   /* sorted by name */
	size_t nfiles;
	unsigned char *sig;
	size_t siglen;
	char hash[65];          /* SHA-256 (hex) of the canonical bytes */
};

/* Parse and check a bundle message (size, format, names, base64); b is
 * filled (free it with bundle_free, also after a failure). 0, or -1 with
 * a reason in why. A missing signature is not an error here (sig NULL). */
int bundle_parse(const char *json, size_t len, struct bundle *b, char *why, size_t whylen);
void bundle_free(struct bundle *b);
/* Add a file (lia bundle sign); 0 or -1 with why. Keeps the order. */
int bundle_add(struct bundle *b, const char *name, const unsigned char *data, size_t len,
	char *why, size_t whylen);
/* The canonical bytes (malloc'd, *len set) and b->hash; NULL: no memory. */
unsigned char *bundle_canonical(struct bundle *b, size_t *len);
/* Verify b->sig against every *.pub (PEM Ed25519 public key) in dir. 0 and
 * the key's file name in key, or -1 with why ("no signature", "signed by
 * no key in DIR", "DIR: No such file or directory"). */
int bundle_verify(struct bundle *b, const char *dir, char *key, size_t keylen, char *why,
	size_t whylen);
/* Sign with the PEM private key in keyfile; 0 or -1 with why. */
int bundle_sign(struct bundle *b, const char *keyfile, char *why, size_t whylen);
/* The JSON message (malloc'd), NULL when out of memory. */
char *bundle_json(const struct bundle *b);
/* Make an Ed25519 key pair: base.key (0600) and base.pub; 0 or -1 with why. */
int bundle_keygen(const char *base, char *why, size_t whylen);
/* A name a bundle file may have: [A-Za-z0-9_.-], ending in .lua, not
 * starting with a dot, at most BUNDLE_NAME_MAX bytes. */
int bundle_name_ok(const char *name);

#endif
