/*
 * The run on the copy: catalog invariants before; every pending migration
 * as its tool would run it, with lock_timeout and statement_timeout set,
 * each statement traced (locks from pg_locks inside its transaction,
 * relfilenode before/after, the server's DEBUG1 scan and rewrite messages,
 * SQLSTATE, duration) into stmt->ev; invariants after; what a failure part
 * way left behind; then, where every pending migration has a down, the
 * round trip: down in reverse, schema compared with before, up again,
 * compared with the first up.
 */
#ifndef PGP_MIGRATE_TRACE_H
#define PGP_MIGRATE_TRACE_H

#include "migrate.h"
#include "scratch.h"

struct mc_trace_opts {
	const char *lock_timeout;	/* "5s": migrate_check.lock_timeout */
	const char *statement_timeout;	/* migrate_check.statement_timeout */
	int roundtrip;			/* 0: --no-roundtrip */
};

/*
 * Returns 0 (migrations that fail are findings, not errors of the run),
 * or 5 after pgp_error when the run on the copy cannot go on (its server
 * went away, a signal).
 */
int mc_trace_run(struct mc_scratch *s, struct mc_set *set, const struct mc_trace_opts *o,
		 struct mc_report *r);

#endif
