/*
 * The target now, read-only: sessions that would make the pending DDL
 * queue (and every query behind it), and the timeouts the migrating role
 * gets by default.
 */
#ifndef PGP_MIGRATE_LIVE_H
#define PGP_MIGRATE_LIVE_H

#include <libpq-fe.h>

#include "migrate.h"

/*
 * For every table a pending migration locks (the trace's locks, else the
 * static lock table), the target's sessions holding a conflicting lock
 * or an old snapshot on it: blocked-by findings naming pid, user,
 * application, state and age.  Returns 0, or 5 after pgp_error.
 */
int mc_live_check(PGconn *target, const struct mc_set *set, struct mc_report *r);

/*
 * Whether this role's fresh sessions on the target get a non-zero
 * lock_timeout / statement_timeout (ALTER ROLE or DATABASE ... SET, or the
 * server's default): read from pg_db_role_setting and pg_settings, not
 * from this session (which pgp-migrate-check sets itself).
 */
int mc_live_timeouts(PGconn *target, int *lock_timeout_set, int *statement_timeout_set);

#endif
