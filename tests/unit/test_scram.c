/* test_scram.c - SCRAM-SHA-256 client against RFC 7677's test vector, and
 * the server messages a hostile or broken server could send. */
#include <string.h>

#include "scram.h"
#include "test.h"

#define CHECK_STR(a, b) do { CHECK(strcmp((a), (b)) == 0); \
	if (strcmp((a), (b))) fprintf(stderr, "  got %s\n", (a)); } while (0)

#define SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

static void rfc7677_vector(void)
{
	struct scram s;
	char out[1024];
	const char *err = NULL;
	CHECK(scram_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", out, sizeof out, &err) == 0);
	CHECK_STR(out, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
	CHECK(scram_final(&s, (const uint8_t *)SERVER_FIRST, strlen(SERVER_FIRST),
		(const uint8_t *)"pencil", 6, out, sizeof out, &err) == 0);
	CHECK_STR(out, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	const char *fin = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
	CHECK(scram_verify(&s, (const uint8_t *)fin, strlen(fin), &err) == 0);
}

static void wrong_server_signature(void)
{
	struct scram s;
	char out[1024];
	const char *err = NULL;
	scram_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", out, sizeof out, &err);
	scram_final(&s, (const uint8_t *)SERVER_FIRST, strlen(SERVER_FIRST),
		(const uint8_t *)"pencil", 6, out, sizeof out, &err);
	const char *fin = "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
	CHECK(scram_verify(&s, (const uint8_t *)fin, strlen(fin), &err) < 0);
	CHECK(strstr(err, "server signature") != NULL);
}

static int final_of(const char *server_first, const char **err)
{
	struct scram s;
	char out[1024];
	scram_first(&s, "user", "rOprNGfwEbeRWgbNEkqO", out, sizeof out, err);
	return scram_final(&s, (const uint8_t *)server_first, strlen(server_first),
		(const uint8_t *)"pencil", 6, out, sizeof out, err);
}

static void hostile_server_first(void)
{
	const char *err = NULL;
	CHECK(final_of("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", &err) < 0);
	CHECK(strstr(err, "nonce") != NULL);
	CHECK(final_of("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", &err) < 0);
	CHECK(final_of("r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096", &err) < 0);
	CHECK(strstr(err, "salt") != NULL);
	CHECK(final_of("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", &err) < 0);
	CHECK(strstr(err, "iteration") != NULL);
	CHECK(final_of("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", &err) < 0);
	CHECK(final_of("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==", &err) < 0);
	CHECK(final_of("", &err) < 0);
}

static void escaping_and_random_nonce(void)
{
	struct scram s, t;
	char a[1024], b[1024];
	const char *err = NULL;
	CHECK(scram_first(&s, "a,b=c", NULL, a, sizeof a, &err) == 0);
	CHECK(strncmp(a, "n,,n=a=2Cb=3Dc,r=", 17) == 0);
	CHECK(scram_first(&t, "a,b=c", NULL, b, sizeof b, &err) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(strlen(a) >= 17 + 24);
	/* out of turn */
	CHECK(scram_verify(&t, (const uint8_t *)"v=AAAA", 6, &err) < 0);
}

int main(void)
{
	RUN(rfc7677_vector);
	RUN(wrong_server_signature);
	RUN(hostile_server_first);
	RUN(escaping_and_random_nonce);
	return test_report("scram");
}
