/*
 * scram.h - the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), for
 * MQTT 5 enhanced authentication. Every primitive is OpenSSL's: PBKDF2,
 * HMAC-SHA-256, SHA-256, the random nonce, base64. No I/O.
 *
 * One exchange: scram_first() -> client-first-message; the server's
 * server-first-message into scram_final() -> client-final-message (with
 * the proof); the server-final-message into scram_verify(), which proves
 * the server knew the password too. Messages are NUL-terminated text.
 */
#ifndef LIA_SCRAM_H
#define LIA_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#define SCRAM_MAX_MSG 1024
/* iteration counts above this are refused: a hostile server could
 * otherwise make us spin for minutes */
#define SCRAM_MAX_ITER 1000000

struct scram {
	char first_bare[SCRAM_MAX_MSG];     /* n=user,r=cnonce */
	char auth_message[3 * SCRAM_MAX_MSG];
	char nonce[64];
	uint8_t server_sig[32];
	int state;                          /* 0 none, 1 first sent, 2 final sent */
};

/* client-first-message for user into out (cap bytes). nonce: NULL for a
 * random one (the tests pass RFC 7677's). 0, or -1 with a reason in err. */
int scram_first(struct scram *s, const char *user, const char *nonce, char *out, size_t cap,
	const char **err);
/* server-first (len bytes, not NUL-terminated) -> client-final in out. */
int scram_final(struct scram *s, const uint8_t *server_first, size_t len,
	const uint8_t *password, size_t password_len, char *out, size_t cap, const char **err);
/* server-final (v=... or e=...): 0 when the server's signature is right. */
int scram_verify(struct scram *s, const uint8_t *server_final, size_t len, const char **err);

#endif
