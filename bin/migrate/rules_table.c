/*
 * Every static rule, for --list-rules and pgp-migrate-check(1): its name
 * (squawk's where squawk has the rule, so that the two can be compared
 * side by side), the finding's kind, the lock it is about, what proves it
 * and the safe way.  The rules themselves are in rules*.c.
 */
#include <stddef.h>

#include "rules.h"

#define AE "AccessExclusiveLock"
#define SRE "ShareRowExclusiveLock"
#define STATIC "static (parse tree)"
#define REWRITE "trace: relfilenode changed; else static"
#define SCAN "trace: DEBUG1 verifying table; else static"

const struct mc_rule_info mc_rule_table[] = {
	{"adding-field-with-default", "rewrite", AE, REWRITE,
	 "ADD COLUMN with a volatile DEFAULT (random(), clock_timestamp(), gen_random_uuid(), nextval()...), any DEFAULT "
	 "before PostgreSQL 11, or GENERATED ... STORED: add the column nullable, SET DEFAULT, backfill in batches"},
	{"adding-serial-field", "rewrite", AE, REWRITE,
	 "ADD COLUMN serial / GENERATED AS IDENTITY rewrites the table: add a nullable bigint, attach a sequence, "
	 "backfill in batches"},
	{"adding-required-field", "error", AE, STATIC,
	 "ADD COLUMN ... NOT NULL without DEFAULT fails on a table with rows: add it nullable, or with a constant DEFAULT"},
	{"changing-column-type", "rewrite", AE, REWRITE " (binary-coercible changes known: varchar widening, "
	 "varchar to text, numeric precision up at the same scale, cidr to inet, timestamp precision up)",
	 "add a new column, write both, backfill, swap"},
	{"adding-not-nullable-field", "scan", AE, SCAN " (a validated CHECK (col IS NOT NULL) earlier proves it, PG 12+)",
	 "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; SET NOT NULL; DROP CONSTRAINT c"},
	{"constraint-missing-not-valid", "scan", AE, SCAN " ; NOT VALID + VALIDATE in one transaction: static",
	 "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in another transaction (ShareUpdateExclusiveLock)"},
	{"adding-foreign-key-constraint", "lock", SRE, STATIC " (the server prints no message for an FK check)",
	 "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in another transaction"},
	{"adding-serial-primary-key-field", "lock", AE, STATIC,
	 "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX"},
	{"disallowed-unique-constraint", "lock", AE, STATIC,
	 "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX"},
	{"adding-exclusion-constraint", "lock", AE, STATIC,
	 "no online way: a maintenance window, or while the table is small"},
	{"require-concurrent-index-creation", "lock", "ShareLock", STATIC,
	 "CREATE INDEX CONCURRENTLY, alone outside a transaction block; check indisvalid afterwards"},
	{"require-concurrent-index-deletion", "lock", AE, STATIC, "DROP INDEX CONCURRENTLY"},
	{"require-concurrent-reindex", "lock", "ShareLock", STATIC, "REINDEX ... CONCURRENTLY (PG 12+)"},
	{"require-concurrent-partition-detach", "lock", AE, STATIC,
	 "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PG 14+), outside a transaction block"},
	{"detach-partition-concurrently-version", "error", "", STATIC,
	 "DETACH PARTITION CONCURRENTLY needs PostgreSQL 14: detach without it, with a lock_timeout"},
	{"require-concurrent-refresh", "lock", AE, STATIC,
	 "REFRESH MATERIALIZED VIEW CONCURRENTLY (ExclusiveLock: reads go on; needs a unique index)"},
	{"changing-table-persistence", "rewrite", AE, REWRITE, "SET LOGGED / UNLOGGED rewrites: avoid on a live table"},
	{"prefer-repack", "rewrite", AE, REWRITE,
	 "VACUUM FULL / CLUSTER rewrite under ACCESS EXCLUSIVE: pg_repack, or REPACK (CONCURRENTLY) on PG 19+"},
	{"ban-concurrent-index-creation-in-transaction", "transaction", "", STATIC " (the tool's transaction semantics)",
	 "CREATE INDEX CONCURRENTLY alone in a migration the tool runs outside a transaction"},
	{"ban-non-transactional-in-transaction", "transaction", "", STATIC,
	 "DROP INDEX / REINDEX / DETACH ... CONCURRENTLY, VACUUM, CREATE DATABASE, ALTER SYSTEM (and ADD VALUE before "
	 "PG 12) alone outside a transaction block"},
	{"concurrent-index-corruption-14", "error", "", "static (server version)",
	 "CREATE INDEX CONCURRENTLY on 14.0-14.3 can corrupt the index: upgrade to 14.4+"},
	{"enum-value-used-in-transaction", "error", "", STATIC,
	 "add the enum value in its own migration; use it in the next"},
	{"require-enum-value-ordering", "style", "", STATIC, "ADD VALUE ... BEFORE / AFTER"},
	{"renaming-enum-value", "lock", "", STATIC, "add the new value, move the rows, retire the old one"},
	{"ban-drop-column", "lock", AE, STATIC, "stop using the column in the code first, then drop it"},
	{"ban-drop-not-null", "lock", AE, STATIC, "make every reader handle NULL first"},
	{"ban-drop-table", "lock", AE, STATIC, "stop using the table first"},
	{"ban-drop-database", "lock", "", STATIC, "never in a migration"},
	{"ban-truncate-cascade", "lock", AE, STATIC, "name every table to truncate"},
	{"renaming-column", "lock", AE, STATIC, "rename in the application, or new column + dual writes"},
	{"renaming-table", "lock", AE, STATIC, "a view with the new name, deploy, then rename"},
	{"ban-alter-domain-with-add-constraint", "scan", "ShareLock", STATIC, "CHECKs on the columns, NOT VALID"},
	{"ban-create-domain-with-constraint", "style", "", STATIC, "CHECKs on the columns"},
	{"ban-duplicate-column-assignments", "error", "", STATIC, "name each column once"},
	{"unbatched-backfill", "lock", "RowExclusiveLock", STATIC,
	 "UPDATE/DELETE without WHERE: backfill in batches, each in its own transaction"},
	{"primary-key-using-index-not-null", "scan", AE, SCAN,
	 "ADD PRIMARY KEY USING INDEX sets the columns NOT NULL: prove them NOT NULL first (CHECK NOT VALID, VALIDATE, "
	 "SET NOT NULL)"},
	{"multiple-alter-table", "lock", AE, STATIC, "one ALTER TABLE with several subcommands: one lock, one scan"},
	{"foreign-key-without-index", "scan", "", "static (the indexes the migrations create)",
	 "an index whose leading columns are the foreign key's"},
	{"index-too-many-columns", "style", "", STATIC, "at most three columns"},
	{"transaction-nesting", "transaction", "", STATIC " (the tool's transaction semantics)",
	 "no BEGIN/COMMIT in a file the tool wraps in a transaction; no COMMIT without BEGIN"},
	{"ban-uncommitted-transaction", "transaction", "", STATIC, "end every BEGIN with COMMIT"},
	{"statements-after-access-exclusive", "lock", AE, "trace: pg_locks; else static",
	 "COMMIT right after the statement that takes ACCESS EXCLUSIVE"},
	{"require-lock-timeout", "lock-timeout", "ShareLock or stronger", "trace: pg_locks; else static; the role's settings",
	 "SET LOCAL lock_timeout = '2s' in the transaction (or ALTER ROLE ... SET), and retry on 55P03"},
	{"require-statement-timeout", "lock-timeout", "ShareLock or stronger", "as require-lock-timeout",
	 "SET LOCAL statement_timeout (or ALTER ROLE ... SET)"},
	{"set-local-outside-transaction", "lock-timeout", "", STATIC, "SET LOCAL after BEGIN"},
	{"prefer-bigint-over-int", "style", "", STATIC, "bigint"},
	{"prefer-bigint-over-smallint", "style", "", STATIC, "bigint"},
	{"prefer-identity", "style", "", STATIC, "GENERATED BY DEFAULT AS IDENTITY instead of serial"},
	{"prefer-timestamptz", "style", "", STATIC, "timestamptz"},
	{"ban-char-field", "style", "", STATIC, "text or varchar"},
	{"prefer-text-field", "style", "", STATIC, "text with a CHECK (length(col) <= n)"},
	{"prefer-jsonb", "style", "", STATIC, "jsonb"},
	{"identifier-too-long", "style", "", STATIC, "at most 63 bytes"},
	{"pooler-session-set", "pooler", "", STATIC " (with --pooler transaction, and --app-dir)",
	 "SET LOCAL, set_config(..., true), ALTER ROLE ... SET, or a direct connection"},
	{"pooler-advisory-lock", "pooler", "", STATIC, "pg_advisory_xact_lock()"},
	{"pooler-listen", "pooler", "", STATIC, "LISTEN on a direct connection"},
	{"pooler-with-hold", "pooler", "", STATIC, "cursors WITHOUT HOLD inside one transaction"},
	{"pooler-prepare", "pooler", "", STATIC, "protocol-level prepared statements (PgBouncer 1.21+)"},
	{"pooler-temp-table", "pooler", "", STATIC, "CREATE TEMP TABLE ... ON COMMIT DROP"},
	{"pooler-load", "pooler", "", STATIC, "session_preload_libraries, or a direct connection"},
	{"parse", "parse", "", "libpg_query (PostgreSQL 15 grammar)",
	 "fix the syntax (FAIL up to PG 15; on a newer server a WARN: the trace still runs the statement)"},
	{NULL, NULL, NULL, NULL, NULL}
};
