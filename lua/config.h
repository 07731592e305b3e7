/*
 * config.h - the agent's configuration file (/etc/lia/lia.conf) under the
 * command line of lia run and lia check.
 *
 * Format: one "key = value" per line; blank lines and lines whose first
 * non-blank character is '#' are ignored. The value is the rest of the
 * line with the blanks around it removed; "double quotes" keep blanks and
 * a leading '#' (no escapes). Keys are listed in docs/cli.md. Plain
 * key = value rather than Lua: the file holds credentials and is read by
 * root before any script runs, so it must not run code, and every mistake
 * in it is reported as "file:line: message".
 *
 * The command line wins: config_load() sets only the fields of the
 * lia_args that the command line left unset, and none of broker, host and
 * port when the command line named a broker (-h, -p or -L).
 */
#ifndef LIA_CONFIG_H
#define LIA_CONFIG_H

#include <stddef.h>

struct lia_args;

#define CONFIG_DEFAULT_PATH "/etc/lia/lia.conf"

/* The file lia run reads when --config is not given: $LIA_CONFIG, else
 * CONFIG_DEFAULT_PATH when it exists, else NULL (no configuration). */
const char *config_default_path(void);

/* The file lia pub and lia sub read when --config is not given:
 * $LIA_CONFIG, else the user's $XDG_CONFIG_HOME/lia/lia.conf (default
 * ~/.config/lia/lia.conf) when it exists, else CONFIG_DEFAULT_PATH when it
 * exists and can be read, else NULL. The returned string is static. */
const char *config_user_path(void);

/* Read path into the unset fields of a. Strings point into *storage (one
 * allocation, the caller frees it after the last use of a; NULL on error).
 * Returns 0, or -1 with "path:line: message" (or "path: reason") in err;
 * a is then left partly filled. */
int config_load(const char *path, struct lia_args *a, char **storage,
	char *err, size_t errlen);

#endif
