/*
 * fuzz_scram.c - libFuzzer target over what a server sends a SCRAM-SHA-256
 * client (core/scram.c): the input up to the first NUL is the
 * server-first-message, the rest the server-final-message. A low
 * iteration count is prepended half of the time so the PBKDF2 path runs
 * fast and often; every outcome must be a clean 0 / -1.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scram s;
	char out[SCRAM_MAX_MSG], first[SCRAM_MAX_MSG + 64];
	const char *err;
	if (scram_first(&s, "user", "fuzznonce", out, sizeof out, &err) < 0)
		return 0;
	const uint8_t *nul = memchr(data, 0, size);
	size_t n1 = nul ? (size_t)(nul - data) : size;
	size_t flen = n1;
	const uint8_t *sf = data;
	if (size && (data[0] & 1) && n1 < SCRAM_MAX_MSG) {
		/* a well-formed prefix: our nonce, a salt, 2 iterations */
		int w = snprintf(first, sizeof first, "r=fuzznonce%.*s,s=c2FsdA==,i=2", (int)n1, (const char *)data);
		if (w > 0 && (size_t)w < sizeof first) {
			sf = (const uint8_t *)first;
			flen = (size_t)w;
		}
	}
	if (scram_final(&s, sf, flen, (const uint8_t *)"pencil", 6, out, sizeof out, &err) < 0)
		return 0;
	if (nul)
		(void)scram_verify(&s, nul + 1, size - n1 - 1, &err);
	return 0;
}
