/*
 * fuzz_bundle.c - libFuzzer target over the fleet's bundle parser
 * (lua/lfleet_bundle.c): the input is a deploy message. A parse that
 * succeeds must give NUL-terminated names that pass bundle_name_ok, the
 * main among the files, and a canonical form that survives a round trip
 * through bundle_json and bundle_parse byte for byte; a failure must leave
 * a NUL-terminated reason. Verification runs against a folder without keys.
 */
#include <stdlib.h>
#include <string.h>

#include "lfleet_bundle.h"

static void round_trip(struct bundle *b, const unsigned char *c1, size_t n1)
{
	char why[600];
	char *json = bundle_json(b);
	struct bundle again;
	size_t n2;
	unsigned char *c2;
	if (!json)
		return;
	if (bundle_parse(json, strlen(json), &again, why, sizeof why) < 0)
		abort();        /* what we write we must read */
	c2 = bundle_canonical(&again, &n2);
	if (c2 && (n1 != n2 || memcmp(c1, c2, n1) != 0 || strcmp(b->hash, again.hash) != 0))
		abort();
	free(c2);
	bundle_free(&again);
	free(json);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct bundle b;
	char why[600], key[64];
	size_t n;
	unsigned char *c;
	memset(why, 'x', sizeof why);
	if (bundle_parse((const char *)data, size, &b, why, sizeof why) < 0) {
		if (!memchr(why, '\0', sizeof why))
			abort();
		bundle_free(&b);
		return 0;
	}
	for (size_t i = 0; i < b.nfiles; i++)
		if (!bundle_name_ok(b.files[i].name))
			abort();
	if ((c = bundle_canonical(&b, &n))) {
		round_trip(&b, c, n);
		free(c);
	}
	if (bundle_verify(&b, "/nonexistent-lia-keys", key, sizeof key, why, sizeof why) == 0)
		abort();
	bundle_free(&b);
	return 0;
}
