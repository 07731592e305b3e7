/*
 * fuzz_config.c - libFuzzer target over the configuration parser
 * (lua/config.c, plain C): the input is the file. It goes through the real
 * entry point, config_load(), from a memfd (config_load reads a path, as
 * lia does). Half the runs start with a command line that named a broker,
 * which config_load must then leave alone. On success every string field
 * that was set must point into the returned storage; on failure err must
 * be one NUL-terminated line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lua/args.h"
#include "lua/config.h"
#include "log.h"
#include "xalloc.h"

static void in_storage(const char *s, const char *storage, size_t len)
{
	if (s && (s < storage || s > storage + len))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[64], err[1024];
	char *storage = NULL;
	struct lia_args a;
	int fd = memfd_create("lia.conf", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	args_init(&a);
	bool cli_broker = size && (data[0] & 1);
	if (cli_broker)
		a.host = "cli-host";
	if (config_load(path, &a, &storage, err, sizeof err) == 0) {
		if (!storage)
			abort();
		in_storage(a.uri, storage, size);
		in_storage(a.id, storage, size);
		in_storage(a.username, storage, size);
		in_storage(a.password, storage, size);
		in_storage(a.script, storage, size);
		if (cli_broker && (strcmp(a.host, "cli-host") != 0 || a.uri || a.port != -1))
			abort();
		if (!cli_broker)
			in_storage(a.host, storage, size);
	} else if (!memchr(err, '\0', sizeof err) || strchr(err, '\n')) {
		abort();
	}
	xfree(storage);
	close(fd);
	return 0;
}
