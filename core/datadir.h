/*
 * datadir.h - where lia keeps what must outlive the process: the session
 * store, script state, the last good copy of the scripts. One directory per
 * agent, chosen once at start-up:
 *   --data-dir DIR / config data_dir      (the caller passes it as given)
 *   else $STATE_DIRECTORY                 (systemd's StateDirectory=; the
 *                                           first of a colon-separated list)
 *   else $XDG_STATE_HOME/lia, else $HOME/.local/state/lia
 * Plain C, no Lua: the core's store and the host both use it.
 */
#ifndef LIA_DATADIR_H
#define LIA_DATADIR_H

#include <stddef.h>

/* The directory for `given` (NULL: the defaults above), created with its
 * parents (mode 0700) when missing. 0 with the path in out, or -1 with
 * "DIR: reason" in err (no home, not a directory, permission, too long). */
int datadir_resolve(const char *given, char *out, size_t outlen, char *err, size_t errlen);

#endif
