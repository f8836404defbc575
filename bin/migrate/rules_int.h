/*
 * The static rules' private parts, shared by rules.c (the walk over the
 * pending set: transactions, timeouts, what exists), rules_ddl.c (the
 * per-statement lock, rewrite and scan rules), rules_learn.c (what the
 * statements before taught them), rules_types.c (types,
 * volatility, style), rules_locks.c (the lock table) and rules_pooler.c
 * (PgBouncer transaction-mode traps).
 */
#ifndef PGP_MIGRATE_RULES_INT_H
#define PGP_MIGRATE_RULES_INT_H

#include "migrate.h"
#include "rules.h"

/* Lock modes in PostgreSQL's order (lockdefs.h): 1..8, 0 none. */
enum rl_mode {
	RL_NONE = 0, RL_ACCESS_SHARE, RL_ROW_SHARE, RL_ROW_EXCLUSIVE,
	RL_SHARE_UPDATE_EXCLUSIVE, RL_SHARE, RL_SHARE_ROW_EXCLUSIVE,
	RL_EXCLUSIVE, RL_ACCESS_EXCLUSIVE
};
const char *rl_mode_name(int mode);	/* "AccessExclusiveLock" */
int rl_mode_from_name(const char *name);	/* 0 when unknown */

/* A growing list of strings ("table", "table.column"). */
struct rl_names {
	char **v;
	size_t n, cap;
};
void rl_names_add(struct rl_names *l, const char *s);
int rl_names_has(const struct rl_names *l, const char *s);	/* rl_same_rel */
void rl_names_del(struct rl_names *l, const char *s);
void rl_names_free(struct rl_names *l);
/* Two relation names as written ("t", "s.t") may be the same relation. */
int rl_same_rel(const char *a, const char *b);

/* A column whose type the earlier scripts tell. */
struct rl_col {
	char *table, *name;
	char type[64];		/* canonical: "int4", "varchar", ... */
	int mod1, mod2;		/* typmods, -1 none */
};

/* A foreign key, judged after the run for an index on its columns. */
struct rl_fk {
	const struct mc_script *sc;
	int line, migration;
	char *table, *cols;	/* "a,b" */
};

/* A session setting's scope (lock_timeout, statement_timeout). */
struct rl_guc {
	int session;		/* -1: the role's default, 0 off, 1 on */
	long session_txn;	/* the transaction the session SET ran in */
	long saved_txn;		/* session value at the transaction's start */
	int saved;
	int local;		/* SET LOCAL in transaction local_txn */
	long local_txn;
	int reported;		/* require-* said once per script */
};

/* The walk's state. */
struct rl {
	const struct mc_rules_ctx *ctx;
	struct mc_report *r;
	const struct mc_script *sc;
	int migration;
	int lint;		/* 0: an applied script read only for what it creates */
	int own_path;		/* sc->path is not in the migrations directory (--app-dir) */

	struct rl_names created;	/* relations created earlier in the pending run */
	size_t created_keep;		/* created[0..keep): by PENDING migrations */
	struct rl_names notnull;	/* "table.col" proven not null */
	struct rl_names checks;		/* "table.conname=col": CHECK (col IS NOT NULL) NOT VALID */
	struct rl_names indexes;	/* "table\tindex=col1,col2" */
	struct rl_names known;		/* tables created by applied scripts */
	struct rl_col *cols;
	size_t ncols, capcols;
	struct rl_fk *fks;		/* foreign keys, checked for an index at the end */
	size_t nfks;

	/* per script */
	int wrapped;		/* the tool wraps the script in one transaction */
	int explicit_txn;	/* inside the script's own BEGIN */
	int begin_line;
	long txn;		/* transaction counter: a new id per transaction */
	struct rl_guc lt, st;	/* lock_timeout, statement_timeout */
	struct rl_names txn_not_valid;	/* constraints added NOT VALID in txn */
	struct rl_names txn_enum;	/* enum values added in txn */
	long enum_txn, not_valid_txn;
	char ae_table[128];	/* AccessExclusiveLock taken in txn ae_txn */
	long ae_txn;
	int ae_said;
	int nsql;		/* SQL statements in the script */
	struct rl_names altered;	/* tables altered by this script (W12) */
};

/* rules_locks.c: a List of String nodes ({"List": {"items": [...]}}) as "s.t",
 * without its last item when drop_last (a column, a trigger's name). */
const char *rl_list_name(json_object *list, int drop_last, char *buf, size_t size);

/* Findings. */
void rl_find(struct rl *rc, const struct mc_stmt *s, enum mc_severity sev, const char *kind,
	     const char *rule, const char *object, const char *advice, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
/* " (static judgement)" unless the trace ran this statement. */
const char *rl_static_note(const struct rl *rc, const struct mc_stmt *s);
int rl_traced(const struct rl *rc, const struct mc_stmt *s);
int rl_in_block(const struct rl *rc);
int rl_exists(const struct rl *rc, const char *rel);	/* not created in the run */
/* Whether the trace saw a rewrite / scan of rel; -1: no evidence. */
int rl_ev_rewrote(const struct rl *rc, const struct mc_stmt *s, const char *rel);
int rl_ev_scanned(const struct rl *rc, const struct mc_stmt *s, const char *rel);
int rl_failed(const struct mc_stmt *s);

/* rules_ddl.c: one statement's lock, rewrite and scan rules. */
void rl_ddl(struct rl *rc, const struct mc_stmt *s);
/* rules_learn.c: what a statement creates or proves (also for applied scripts). */
void rl_learn(struct rl *rc, const struct mc_stmt *s);
/* "table\tname" pairs, the table matched with rl_same_rel; find returns the index or -1. */
void rl_pair_add(struct rl_names *l, const char *table, const char *name);
int rl_pair_find(const struct rl_names *l, const char *table, const char *name, size_t namelen);
void rl_pair_del(struct rl_names *l, const char *table, const char *name);
/* A Constraint's contype ("" when absent); the column of CHECK (col IS NOT NULL). */
const char *rl_contype(json_object *con);
const char *rl_not_null_check(json_object *con);
json_object *rl_con_of(json_object *cons, size_t i);	/* cons[i]'s Constraint */
/* The columns ("a,b") of an index the scripts created, or NULL. */
const char *rl_index_cols(const struct rl *rc, const char *index);
/* rules_learn.c: foreign keys without an index on their columns, after the run. */
void rl_fk_check(struct rl *rc);
void rl_fk_free(struct rl *rc);

/* rules_types.c */
enum rl_vol { RL_NONVOLATILE = 0, RL_UNKNOWN, RL_VOLATILE };
enum rl_vol rl_volatility(json_object *expr, char *fn, size_t fnsize);
void rl_type_of(json_object *typename, char *buf, size_t size, int *mod1, int *mod2);
/* 1: old -> new needs no rewrite; 0: rewrites; -1: depends (TimeZone). */
int rl_binary_coercible(const struct rl_col *old, const char *type, int mod1, int mod2);
/* name: the column when coldef has none (ALTER COLUMN TYPE), else NULL. */
void rl_style_column(struct rl *rc, const struct mc_stmt *s, const char *table, const char *name,
		     json_object *coldef);
/* "varchar(20)", "numeric(12,2)", "text" */
const char *rl_type_str(const char *type, int mod1, int mod2, char *buf, size_t size);
void rl_style_ident(struct rl *rc, const struct mc_stmt *s, const char *ident);
struct rl_col *rl_col_find(struct rl *rc, const char *table, const char *col);
void rl_col_set(struct rl *rc, const char *table, const char *col, const char *type, int m1, int m2);

/* rules_pooler.c: the PgBouncer transaction-mode traps of one statement. */
void rl_pooler(struct rl *rc, const struct mc_stmt *s);
/* Calls fn on every FuncCall node under node. */
void rl_walk_funcs(json_object *node, void (*fn)(json_object *call, void *arg), void *arg);
/* The last name of a FuncCall ("pg_advisory_lock"). */
const char *rl_func_name(json_object *call);
/* A constant argument: string, or for booleans "true"/"false"; NULL. */
const char *rl_const_str(json_object *aconst, char *buf, size_t size);

#endif
