/*
 * Handing a connection to a child program (pg_dump, pg_dumpall,
 * pg_restore) without putting a secret in its argv or environment: every
 * option of a live connection, password and sslpassword included, goes
 * into a one-service pg_service.conf, mode 0600 in a private 0700
 * directory; the child gets "service=NAME" as its connection string and
 * PGSERVICEFILE in its environment, and nothing else.
 */
#ifndef PGP_CHILDCONN_H
#define PGP_CHILDCONN_H

#include <limits.h>

#include <libpq-fe.h>

struct pgp_childconn {
	char dir[PATH_MAX];		/* private directory; "" when none */
	char path[PATH_MAX];		/* its pg_service.conf */
	char env[PATH_MAX + 16];	/* "PGSERVICEFILE=<path>": for the child's environment */
	char conninfo[64];		/* "service=<name>": the child's -d */
};

/*
 * Write conn's options as one service, for database dbname (NULL: conn's
 * own).  Refuses a value the service file format cannot carry (a newline,
 * trailing white space, a line over libpq's 1 kB limit), naming the option
 * but never its value.  0, or -1 after logging with nothing left on disk.
 */
int pgp_childconn_write(PGconn *conn, const char *dbname, struct pgp_childconn *cc);

/*
 * Remove the file and its directory.  Safe on NULL, twice, and on a
 * struct zeroed (= {0}) and never written.
 */
void pgp_childconn_remove(struct pgp_childconn *cc);

/*
 * Remove every service file written and not yet removed: for a handler of
 * SIGTERM/SIGINT/SIGHUP (it calls only unlink and rmdir), so that a
 * password never outlives a run that was stopped.
 */
void pgp_childconn_remove_all(void);

#endif
