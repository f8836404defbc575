/*
 * The scratch copy the migrations run on: a database made from the target
 * (streamed pg_dump | pg_restore, schema only or rows limited per table on
 * request, or pgp-backup's latest backup), on the target's server or a
 * server named for it, dropped at the end: after success, after failure,
 * after SIGINT/SIGTERM/SIGHUP.  Never the target itself.
 */
#ifndef PGP_MIGRATE_SCRATCH_H
#define PGP_MIGRATE_SCRATCH_H

#include <libpq-fe.h>

#include "conn.h"
#include "migrate.h"

struct mc_copy_opts {
	int schema_only;		/* --schema-only */
	long long row_limit;		/* --row-limit N per table; 0: every row */
	int from_backup;		/* --from-backup: pgp-backup's latest */
	const char *config_path;	/* for pgp-backup (-c), or NULL */
	const char *identity;		/* --identity for pgp-backup (an encrypted backup), or NULL */
	const char *scratch_conninfo;	/* --scratch / migrate_check.scratch;
					 * NULL: the target's server */
};

struct mc_scratch {
	PGconn *conn;			/* to the scratch database */
	PGconn *admin;			/* to its server, for CREATE/DROP DATABASE */
	char dbname[64];		/* "" until created */
	char server[256];		/* where it is, for messages (no secrets) */
};

/*
 * Creates the scratch database and fills it from the target (dbname: the
 * target's database).  Says in r->copy_note how (a malloc'd sentence).
 * Returns 0, or an exit status after pgp_error: 3 when the scratch server
 * cannot be reached, 5 when the copy fails (the half-made copy dropped).
 */
int mc_scratch_create(PGconn *target, const struct pgp_connspec *target_spec,
		      const struct mc_copy_opts *o, struct mc_scratch *s, struct mc_report *r);
/* Drops the scratch database and closes both connections; idempotent. */
void mc_scratch_drop(struct mc_scratch *s);

/*
 * SIGINT, SIGTERM, SIGHUP: the running query is cancelled and the run ends
 * through mc_scratch_drop (exit 5).  mc_signalled() is 1 once one arrived.
 */
void mc_signals_install(struct mc_scratch *s);
int mc_signalled(void);

#endif
