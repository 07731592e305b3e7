/*
 * cli_bundle.h - lia keygen, lia bundle sign|push, lia fleet (docs/fleet.md).
 * keygen and sign are done here (OpenSSL, lfleet_bundle.h); push and fleet
 * need MQTT and run as lia.cli functions (lua/lib/fleet_cli.lua).
 */
#ifndef LIA_CLI_BUNDLE_H
#define LIA_CLI_BUNDLE_H

#include <stdbool.h>

struct lia_args;

/* True for the commands below. */
bool cli_bundle_is(const char *cmd);
/* argv[0] is the command. Returns the exit status with *fn NULL when done,
 * or sets *fn to the lia.cli function to run with a (its argv holds the
 * options). */
int cli_bundle_main(int argc, char **argv, struct lia_args *a, const char **fn);

#endif
