/*
 * cli_args.h - the command line of lia run | pub | sub | check (no Lua).
 */
#ifndef LIA_CLI_ARGS_H
#define LIA_CLI_ARGS_H

#include <stdio.h>

struct lia_args;

/* "usage: lia run ..." (lia with no command, lia --help) on f. */
void cli_args_main_help(FILE *f);

/* The --help text of cmd (NULL: the main one) on stdout. */
void cli_args_usage(const char *cmd);

/* "lia CMD: <fmt with what> (see lia CMD --help)" on stderr; returns -1. */
int cli_args_bad(const char *cmd, const char *fmt, const char *what);

/* Parse the arguments after the command into a (args_init first).
 * 0 ok, -1 error (reported on stderr), 1 help printed. Selects the
 * hardware backend when --hw / --sim was given. */
int cli_args_parse(const char *cmd, struct lia_args *a, int argc, char **argv);

#endif
