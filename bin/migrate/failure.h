/*
 * What a migration that failed on the copy says: the error with advice
 * for its SQLSTATE, whether its failure left the catalog as before (a
 * transactional failure must), and, when statements of it had been
 * committed, which (partial) and whether running the file again would
 * fail or duplicate rows (not-rerunnable).
 */
#ifndef PGP_MIGRATE_FAILURE_H
#define PGP_MIGRATE_FAILURE_H

#include <libpq-fe.h>

#include "migrate.h"

/* What a failed script left: which statements had been committed. */
struct outcome {
	int failed;			/* 1: a statement (or COMMIT) failed */
	struct mc_stmt *at;		/* the statement that failed, or NULL */
	int line;
	char sqlstate[6];
	char *error;
	char *persisted;		/* per statement: committed before the failure */
	char *open;			/* per statement: done in the open transaction */
	int in_txn;			/* the failure happened inside a transaction */
	int left_open;			/* the script ended inside its own BEGIN */
};

/*
 * Findings for script sc (migration mi) that failed as out says;
 * fp_before: the catalog fingerprint before it ran (mc_inv_fingerprint),
 * compared with conn's now.
 */
void mc_failure_report(PGconn *conn, struct mc_report *r, const struct mc_script *sc, int mi,
		       const struct outcome *out, char **fp_before);

#endif
