/*
 * The static rules: what each statement of a pending migration locks,
 * rewrites or scans, judged from its parse tree for the server's version
 * and the tool's transaction semantics, with the trace's evidence deciding
 * wherever the statement ran on the copy (a rule fires only when the
 * statement really rewrites, scans or blocks there).  Also the PgBouncer
 * transaction-mode traps, in the migrations and in an application's SQL.
 */
#ifndef PGP_MIGRATE_RULES_H
#define PGP_MIGRATE_RULES_H

#include "migrate.h"

struct mc_rules_ctx {
	int pg_version;			/* server_version_num judged for (150000) */
	int pooler_transaction;		/* migrations go through a transaction pooler */
	int lock_timeout_in_effect;	/* the role or database sets lock_timeout
					 * (ALTER ROLE/DATABASE ... SET): in effect
					 * before the first statement */
	int statement_timeout_in_effect;
	int traced;			/* the trace ran: stmt->ev is evidence */
};

/*
 * Runs every rule over the scripts (up, and down where one exists) of the
 * migrations whose state is PENDING or UNKNOWN, in the set's order, and
 * adds findings to r.  A script with a parse_error gets one finding (kind
 * parse): FAIL when ctx->pg_version < 160000, else WARN.
 */
void mc_rules_run(const struct mc_set *set, const struct mc_rules_ctx *ctx, struct mc_report *r);

/*
 * The pooler rules over every *.sql file under dir (recursively, without
 * following symbolic links), an application's own SQL.  Returns 0, or 2
 * after pgp_error when dir cannot be read.
 */
int mc_rules_app_dir(const char *dir, const struct mc_rules_ctx *ctx, struct mc_report *r);

/*
 * The static lock table: the relations statement s locks and the mode of
 * each (pg_locks spelling: "AccessExclusiveLock"), names as written
 * ("t" or "s.t").  Returns the count; *out is malloc'd (mc_locks_free).
 * Used for statements that ran outside a transaction block, and by the
 * live-traffic check when there was no trace.
 */
size_t mc_static_locks(const struct mc_stmt *s, struct mc_lock **out);
void mc_locks_free(struct mc_lock *locks, size_t n);

/*
 * 1 when statement tree does exactly the same inside a transaction block
 * as on its own: the trace then runs a lone statement in BEGIN ... COMMIT
 * to read its locks from pg_locks.  0 for what may not run in a block
 * (CREATE INDEX CONCURRENTLY, VACUUM, ...), for transaction control,
 * LOCK, cursors, SET, CALL and DO, and for a statement without a tree.
 */
int mc_stmt_transaction_safe(json_object *tree);

/* A lock mode's strength: 1 (AccessShareLock) to 8 (AccessExclusiveLock), 0 unknown. */
int mc_lock_rank(const char *mode);
/* 1 when lock modes a and b (pg_locks spelling) conflict. */
int mc_lock_conflicts(const char *a, const char *b);

/* Every rule, for --list-rules and pgp-migrate-check(1). */
struct mc_rule_info {
	const char *name;	/* squawk's name where squawk has the rule */
	const char *kind;	/* the finding's kind */
	const char *lock;	/* the lock it is about, or "" */
	const char *proof;	/* what proves it: "trace: relfilenode", "static" */
	const char *advice;
};
extern const struct mc_rule_info mc_rule_table[];	/* ends with name NULL */

#endif
