/*
 * Running helper programs (initdb, pg_ctl, pgbouncer, pg_dump...) without a
 * shell: argv is passed as is, so no quoting bugs and no secrets in a
 * command line built by string formatting.  As root, servers that refuse
 * root run as another OS user.
 */
#ifndef PGP_SPAWN_H
#define PGP_SPAWN_H

#include <sys/types.h>

/*
 * Run argv (argv[0] is a path or a name looked up in PATH), as os_user when
 * not NULL (needs root), with stdin from /dev/null and stdout+stderr
 * appended to output_path (or discarded when NULL).  Returns the exit
 * status, 128+signal, or -1 when it could not be started (logged).
 */
int pgp_spawn(char *const argv[], const char *os_user, const char *output_path);

/* uid and gid of an OS user; 0 or -1 (logged). */
int pgp_os_user(const char *name, uid_t *uid, gid_t *gid);

#endif
