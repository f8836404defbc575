/*
 * pgp-migrate-check's shared model: a migration set read from a directory
 * (layout.c), its files split into statements by PostgreSQL's own parser
 * (sqlparse.c), what running them on a scratch copy showed (trace.c), and
 * the findings every step adds to one report (report.c).
 *
 * The steps, in the order main() runs them:
 *   layout    directory -> struct mc_set (tool, migrations, scripts' text)
 *   sqlparse  each script's text -> statements with file lines and trees
 *   applied   the target's bookkeeping table -> which are pending, drift
 *   trace     pending migrations on a scratch copy -> evidence per statement
 *   rules     static rules on the trees, the evidence deciding where it ran
 *   live      the target's sessions that would block the pending DDL
 *   report    text, JSON or GitHub annotations; the verdict and exit status
 */
#ifndef PGP_MIGRATE_H
#define PGP_MIGRATE_H

#include <json-c/json.h>
#include <stddef.h>

/* ---- the tool whose migrations these are ---- */
enum mc_tool {
	MC_TOOL_UNKNOWN = 0,
	MC_TOOL_PLAIN,		/* ordered *.sql files applied with psql */
	MC_TOOL_FLYWAY,
	MC_TOOL_GOLANG_MIGRATE,
	MC_TOOL_DBMATE,
	MC_TOOL_SQITCH,
	MC_TOOL_PRISMA,
	MC_TOOL_DRIZZLE,
	MC_TOOL_KNEX,		/* JavaScript migrations: bookkeeping only */
	MC_TOOL_ALEMBIC,	/* Python migrations: bookkeeping only */
	MC_TOOL_RAILS		/* Ruby migrations: bookkeeping only */
};

/* "plain", "flyway", "golang-migrate", ...; NULL for UNKNOWN. */
const char *mc_tool_name(enum mc_tool tool);
/* The tool named (as --tool spells it), or MC_TOOL_UNKNOWN. */
enum mc_tool mc_tool_from_name(const char *name);

/*
 * How the tool sends a script to the server, which decides what may run
 * in it and what a failure part way leaves behind.
 */
enum mc_txn {
	MC_TXN_NONE = 0,	/* statement by statement, autocommit: the
				 * file brings its own BEGIN/COMMIT (psql,
				 * sqitch, golang-migrate x-multi-statement) */
	MC_TXN_FILE,		/* the tool wraps the script in BEGIN/COMMIT
				 * (Flyway, dbmate's default) */
	MC_TXN_IMPLICIT,	/* the script goes as one simple-protocol
				 * query: one implicit transaction when it
				 * has more than one statement (golang-migrate,
				 * dbmate transaction:false, Prisma) */
	MC_TXN_RUN		/* every pending script in one transaction
				 * (Drizzle) */
};

/* ---- what running a statement on the scratch copy showed (trace.c) ---- */
struct mc_lock {
	char *relation;		/* schema-qualified: "public.orders" */
	char *mode;		/* pg_locks.mode: "AccessExclusiveLock" */
};

struct mc_evidence {
	int traced;		/* 1: the statement ran on the copy */
	int locks_known;	/* 1: locks read from pg_locks inside the
				 * statement's transaction; 0: it ran outside a
				 * transaction block, so the static lock table
				 * (rules.c) speaks for it */
	struct mc_lock *locks;	/* relation locks it held (strongest per
				 * relation), tables and indexes */
	size_t nlocks;
	char **rewrote;		/* relations (tables, indexes) that existed
				 * before and got a new relfilenode */
	size_t nrewrote;
	char **scanned;		/* tables the server said it verified
				 * (DEBUG1 "verifying table") */
	size_t nscanned;
	char **created;		/* relations that did not exist before */
	size_t ncreated;
	char sqlstate[6];	/* "" when it succeeded */
	char *error;		/* the server's message when it failed */
	double ms;		/* its duration on the copy */
};

/* ---- one statement of a script (sqlparse.c) ---- */
struct mc_stmt {
	char *sql;		/* the text as the server gets it (psql
				 * variables substituted), without leading
				 * comments and without the final ';' */
	size_t offset;		/* byte offset of its first token in the script
				 * text */
	size_t len;		/* bytes from offset to its end (without ';') */
	int line;		/* 1-based line of its first token in the file */
	char *meta;		/* a psql meta-command line ("\set x 1"), not
				 * SQL: sql and tree are NULL; or NULL */
	json_object *tree;	/* the parse tree's statement node: the
				 * object inside {"stmt": ...}, e.g.
				 * {"AlterTableStmt": {...}}; NULL when this
				 * statement did not parse (15's grammar) */
	struct mc_evidence ev;	/* zeroed until the trace runs it */
};

/* ---- one runnable script: an up or down file, or a dbmate section ---- */
struct mc_script {
	char *path;		/* the file, relative to the set's directory,
				 * as messages name it; NULL: no such script */
	char *text;		/* what the tool runs: the whole file, or for
				 * dbmate the section after its directive */
	size_t text_len;
	int first_line;		/* line of the file on which text starts (1) */
	enum mc_txn txn;
	int psql;		/* run by psql: meta-commands allowed */

	/* Filled by mc_script_parse(): */
	struct mc_stmt *stmts;
	size_t nstmts;
	json_object *parsed;	/* owns every stmts[i].tree */
	char *parse_error;	/* the first statement's parser message, or
				 * NULL; nstmts 0 when not even the scanner
				 * could cut the text (see sqlparse.h) */
	int parse_error_line;	/* its file line */
};

/* ---- one migration ---- */
enum mc_state {
	MC_STATE_UNKNOWN = 0,	/* no server read (--static) */
	MC_STATE_PENDING,	/* not in the bookkeeping table: will run */
	MC_STATE_APPLIED,	/* recorded as applied */
	MC_STATE_FAILED		/* recorded as failed, dirty or unfinished */
};

struct mc_migration {
	char *version;		/* as the tool shows it ("1.2", "20240101120000",
				 * a sqitch change name, a Drizzle tag) */
	char *name;		/* its description */
	struct mc_script up;	/* up.path is the migration's file */
	struct mc_script down;	/* down.path NULL: no down migration */
	char *checksum;		/* the tool's own checksum of the file, as it
				 * would record it, or NULL (a tool without) */
	int repeatable;		/* Flyway R__: re-applied when it changes */
	enum mc_state state;	/* set by applied.c */
	long long order_key;	/* for Drizzle: the journal's "when" */
};

struct mc_set {
	enum mc_tool tool;
	char *dir;		/* the directory given */
	char *table;		/* the bookkeeping table, schema-qualified
				 * ("public.flyway_schema_history") */
	int sql_known;		/* 0: the migrations are code (knex, Alembic,
				 * Rails): only the bookkeeping can be checked */
	struct mc_migration *m;	/* in the tool's order of applying */
	size_t n;
};

/* ---- findings (report.c) ---- */
enum mc_severity {
	MC_SEV_INFO = 0,	/* said, never changes the verdict */
	MC_SEV_WARN,		/* WARN: exit 0 unless --fail-on warn */
	MC_SEV_FAIL		/* FAIL: exit 1 */
};

/*
 * Where a finding is.  Every member may be NULL / 0 / -1.  kind is one word
 * of the documented vocabulary (pgp-migrate-check(1)):
 *   rewrite scan lock blocked-by lock-timeout error invalid-index
 *   not-valid partial not-rerunnable roundtrip drift dirty
 *   failed-migration missing-file out-of-order duplicate-version order
 *   stuck-lock pooler parse transaction style
 */
struct mc_where {
	const char *file;	/* relative to the set's directory */
	int line;		/* 1-based file line, 0: none */
	const char *object;	/* the table, index, constraint, version... */
	const char *sqlstate;	/* the server's SQLSTATE, or NULL */
	const char *rule;	/* the static rule's name, or NULL */
	int migration;		/* index in set->m, -1: the run itself */
	int own_path;		/* file is a path of its own (an --app-dir
				 * file), not relative to the set's directory */
};

struct mc_finding {
	enum mc_severity severity;
	char *kind;
	char *rule;
	char *file;
	int line;
	char *object;
	char *sqlstate;
	int migration;
	int own_path;
	char *message;
	char *advice;		/* the safe way, or NULL */
};

struct mc_report {
	struct mc_finding *f;
	size_t n, cap;
	/* Said in the report's header; set by main() and the steps. */
	const char *tool;
	int server_version;	/* server_version_num, 0: none read */
	char *copy_note;	/* how the scratch copy was made, or NULL */
	int verbose;		/* text: the trace of every statement, not
				 * only of those that locked, rewrote, scanned,
				 * failed or took a second */
};

/*
 * Memory for the run: out of memory is an error of the run (exit 5), not
 * something each step handles again.  mc_strdup(NULL) is "".
 */
void mc_oom(void) __attribute__((noreturn));
char *mc_strdup(const char *s);
char *mc_strndup(const char *s, size_t n);
void *mc_calloc(size_t n, size_t size);

/* Adds a finding; advice may be NULL.  Out of memory exits (5). */
void mc_find(struct mc_report *r, enum mc_severity sev, const char *kind,
	     const struct mc_where *w, const char *advice, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
