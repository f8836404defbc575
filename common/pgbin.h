/*
 * Where the programs pgp runs are: PostgreSQL's (initdb, pg_ctl, pg_dump,
 * pg_restore, pg_dumpall, psql...) and PgBouncer.  One order for every
 * program and the tests: the configured place, then where Debian installs
 * them (/usr/lib/postgresql/MAJOR/bin, /usr/sbin/pgbouncer), then PATH.
 * A user's PATH rarely holds either (Debian keeps them out of it), so a
 * bare name is the last resort, never the first.  The caller reads the
 * configuration: this module only searches.
 */
#ifndef PGP_PGBIN_H
#define PGP_PGBIN_H

#include <stddef.h>

struct pgp_pgbin {
	const char *root;	/* "/" or NULL on a real system; tests fabricate one */
	const char *bindir;	/* configured directory of PostgreSQL's programs, or NULL */
	const char *pgbouncer;	/* configured PgBouncer program, or NULL */
	int major;		/* the server's major version (15); 0: not known */
};

/*
 * The path of program name into buf.  "pgbouncer" is PgBouncer: the
 * configured program, else /usr/sbin/pgbouncer, else PATH.  Any other name
 * is PostgreSQL's: in the configured directory (which then is the only
 * place looked in, so a configured version is never silently replaced),
 * else in /usr/lib/postgresql/MAJOR/bin (with no major, the newest version
 * installed there), else in PATH.  0, or -1 after logging what was looked
 * for and every place it was looked in, with a hint.
 */
int pgp_pgbin_find(const struct pgp_pgbin *where, const char *name, char *buf, size_t size);

/*
 * The major version of the server a data directory belongs to (its
 * PG_VERSION: "15"), or 0 when there is none or it cannot be read.
 */
int pgp_pgbin_data_major(const char *datadir);

#endif
