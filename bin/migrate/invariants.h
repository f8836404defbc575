/*
 * Catalog invariants of a database: invalid indexes, NOT VALID
 * constraints, and a fingerprint of the catalog (relations, columns,
 * constraints, indexes, types, functions) to tell whether a failed
 * migration left it as it was.  Lists are NULL-ended arrays of malloc'd
 * strings (mc_strv_free).
 */
#ifndef PGP_MIGRATE_INVARIANTS_H
#define PGP_MIGRATE_INVARIANTS_H

#include <libpq-fe.h>

/*
 * Reads the target's invalid indexes (read-only) and keeps them: pg_dump
 * leaves invalid indexes out, so the copy cannot show them.  0, or -1.
 */
int mc_inv_target_read(PGconn *target);
/* What mc_inv_target_read found: "schema.index\tschema.table" entries. */
char *const *mc_inv_target_invalid(void);

/* "schema.index\tschema.table" of every index with indisvalid = false. */
char **mc_inv_invalid_indexes(PGconn *conn);
/* "schema.table\tconstraint" of every constraint with convalidated = false. */
char **mc_inv_not_valid(PGconn *conn);
/* One sorted line per catalog object, for comparing before and after. */
char **mc_inv_fingerprint(PGconn *conn);

int mc_strv_has(char *const *v, const char *s);
size_t mc_strv_len(char *const *v);
void mc_strv_free(char **v);

#endif
