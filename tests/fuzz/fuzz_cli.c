/*
 * fuzz_cli.c - libFuzzer target over the command-line parser
 * (lua/cli_args.c): the first byte picks the command (run, pub, sub,
 * check), the rest is split at NUL bytes into argv. cli_args_parse must
 * return 0, 1 or -1, never read past argv, and leave the fields within
 * their documented ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/args.h"
#include "lua/cli_args.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Usage and error lines are the parser's output, not ours to read.
	 * The streams are swapped, not the fds: libFuzzer keeps the original
	 * stderr FILE for its own report, sanitizers write to fd 2. */
	FILE *null = fopen("/dev/null", "w");
	if (!null)
		abort();
	stdout = null;
	stderr = null;
	return 0;
}

static void check(const struct lia_args *a)
{
	if (a->port < -1 || a->port == 0 || a->port > 65535 || a->qos < -1 || a->qos > 2 ||
			a->keepalive < -1 || a->keepalive > 65535 || a->will_qos < -1 ||
			a->will_qos > 2 || a->ntopics < 0 || a->ntopics > ARGS_MAX_TOPICS ||
			(a->protocol != -1 && (a->protocol < 3 || a->protocol > 5)))
		abort();
	for (int i = 0; i < a->ntopics; i++)
		if (!a->topics[i])
			abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const cmds[] = { "run", "pub", "sub", "check" };
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	struct lia_args a;
	if (size < 1)
		return 0;
	/* the strings, each NUL-terminated, in one exact-size allocation */
	char *buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (char *p = buf; p < buf + size - 1 && argc < MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	int r = cli_args_parse(cmds[data[0] % 4], &a, argc, argv);
	if (r < -1 || r > 1)
		abort();
	if (r == 0)
		check(&a);
	free(buf);
	return 0;
}
