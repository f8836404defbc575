/*
 * The applied state: the target's bookkeeping table read as the tool
 * reads it, compared with the files.
 */
#ifndef PGP_MIGRATE_APPLIED_H
#define PGP_MIGRATE_APPLIED_H

#include <libpq-fe.h>

#include "migrate.h"

/*
 * Reads set->table on the target (read-only queries), sets every
 * migration's state, and adds findings: drift (checksum differs), dirty,
 * failed-migration, missing-file (applied, file gone), out-of-order
 * (pending but sorting before the last applied), duplicate-version,
 * stuck-lock (a held migration lock).  No bookkeeping table: everything is
 * pending.  Returns 0, or 5 after pgp_error when a query fails for another
 * reason than the table's absence (the role may not read it: named).
 */
int mc_applied_read(PGconn *target, struct mc_set *set, struct mc_report *r);

#endif
