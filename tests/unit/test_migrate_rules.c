/*
 * pgp-migrate-check's static rules: every rule on a case that must fire
 * and on a counterpart that must not, on scripts parsed by the real
 * parser; the tool's transaction semantics; the lock_timeout scope; the
 * trace's evidence overruling the static guess; the pooler rules in
 * migrations and an application's SQL directory; the static lock table
 * and PostgreSQL's lock conflict matrix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "../../bin/migrate/migrate.h"
#include "../../bin/migrate/report.h"
#include "../../bin/migrate/rules.h"
#include "../../bin/migrate/sqlparse.h"
#include "tap.h"
#include "testutil.h"

#define NMIG 4

static struct mc_migration mig[NMIG];
static size_t nmig;
static struct mc_report rep;
static struct mc_rules_ctx ctx;
static int unknown_rules;

static void
reset_ctx(void)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.pg_version = 150000;
}

static void
unload(void)
{
	for (size_t i = 0; i < nmig; i++) {
		struct mc_script *sc[2] = {&mig[i].up, &mig[i].down};

		for (int k = 0; k < 2; k++) {
			mc_script_free(sc[k]);
			free(sc[k]->path);
			free(sc[k]->text);
		}
	}
	memset(mig, 0, sizeof(mig));
	nmig = 0;
}

static void
load_script(struct mc_script *sc, const char *name, const char *sql, enum mc_txn txn)
{
	sc->path = strdup(name);
	sc->text = strdup(sql);
	sc->text_len = strlen(sql);
	sc->first_line = 1;
	sc->txn = txn;
	if (mc_script_parse(sc) != 0) {
		printf("Bail out! cannot parse\n");
		exit(2);
	}
}

/* Adds a pending (or applied) migration; returns its up script. */
static struct mc_script *
add(const char *sql, enum mc_txn txn, enum mc_state state)
{
	char name[32];

	snprintf(name, sizeof(name), "V%zu__m.sql", nmig + 1);
	mig[nmig].state = state;
	load_script(&mig[nmig].up, name, sql, txn);
	return &mig[nmig++].up;
}

static int
known_rule(const char *rule)
{
	for (const struct mc_rule_info *ri = mc_rule_table; ri->name; ri++)
		if (strcmp(ri->name, rule) == 0)
			return 1;
	return 0;
}

static void
run(void)
{
	struct mc_set set = {0};

	mc_report_free(&rep);
	set.m = mig;
	set.n = nmig;
	mc_rules_run(&set, &ctx, &rep);
	for (size_t i = 0; i < rep.n; i++)
		if (!rep.f[i].rule || !known_rule(rep.f[i].rule)) {
			unknown_rules++;
			printf("# rule not in mc_rule_table: %s\n", rep.f[i].rule ? rep.f[i].rule : "(null)");
		}
}

/* One pending migration of sql, linted. */
static void
lint(const char *sql, enum mc_txn txn)
{
	unload();
	add(sql, txn, MC_STATE_PENDING);
	run();
}

static const struct mc_finding *
find(const char *rule)
{
	for (size_t i = 0; i < rep.n; i++)
		if (rep.f[i].rule && strcmp(rep.f[i].rule, rule) == 0)
			return &rep.f[i];
	return NULL;
}

static int
count(const char *rule)
{
	int n = 0;

	for (size_t i = 0; i < rep.n; i++)
		n += rep.f[i].rule && strcmp(rep.f[i].rule, rule) == 0;
	return n;
}

static void
dump(void)
{
	for (size_t i = 0; i < rep.n; i++)
		printf("#   %s:%d %s [%s] %s\n", rep.f[i].file ? rep.f[i].file : "", rep.f[i].line,
		       mc_severity_name(rep.f[i].severity), rep.f[i].rule ? rep.f[i].rule : "", rep.f[i].message);
}

static void
fires_at(const char *sql, enum mc_txn txn, const char *rule, enum mc_severity sev, int line, const char *what)
{
	const struct mc_finding *f;

	lint(sql, txn);
	f = find(rule);
	ok(f && f->severity == sev && f->line == line && f->advice, "%s fires: %s", rule, what);
	if (!(f && f->severity == sev && f->line == line && f->advice))
		dump();
}

static void
quiet(const char *sql, enum mc_txn txn, const char *rule, const char *what)
{
	lint(sql, txn);
	ok(count(rule) == 0, "%s does not fire: %s", rule, what);
	if (count(rule))
		dump();
}

#define FIRES(sql, rule, sev, line, what) fires_at(sql, MC_TXN_NONE, rule, sev, line, what)
#define QUIET(sql, rule, what) quiet(sql, MC_TXN_NONE, rule, what)

static char **
names(const char *a)
{
	char **v = malloc(sizeof(*v));

	v[0] = strdup(a);
	return v;
}

/* ---- rewrites ---- */

static void
test_defaults(void)
{
	FIRES("ALTER TABLE t ADD COLUMN c float8 DEFAULT random()", "adding-field-with-default", MC_SEV_FAIL, 1,
	      "a volatile default rewrites");
	ok(strstr(find("adding-field-with-default")->message, "static") != NULL, "and says it is a static judgement");
	FIRES("SELECT 1;\nALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()", "adding-field-with-default",
	      MC_SEV_FAIL, 2, "gen_random_uuid() on line 2");
	QUIET("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()", "adding-field-with-default", "now() is stable");
	QUIET("ALTER TABLE t ADD COLUMN c text DEFAULT lower('X')", "adding-field-with-default",
	      "lower('X') is immutable (squawk's false positive)");
	QUIET("ALTER TABLE t ADD COLUMN c int DEFAULT 0", "adding-field-with-default", "a constant on PG 15");
	QUIET("ALTER TABLE t ADD COLUMN c jsonb DEFAULT '{}'::jsonb", "adding-field-with-default", "a cast constant");
	QUIET("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT current_timestamp", "adding-field-with-default",
	      "current_timestamp");
	ctx.pg_version = 100000;
	FIRES("ALTER TABLE t ADD COLUMN c int DEFAULT 0", "adding-field-with-default", MC_SEV_FAIL, 1,
	      "any default before PG 11");
	ctx.pg_version = 0;
	QUIET("ALTER TABLE t ADD COLUMN c int DEFAULT 0", "adding-field-with-default", "no version known: judged for 15");
	reset_ctx();
	FIRES("ALTER TABLE t ADD COLUMN c int DEFAULT my_func()", "adding-field-with-default", MC_SEV_WARN, 1,
	      "an unknown function may rewrite (WARN)");
	ok(strstr(find("adding-field-with-default")->message, "may rewrite") != NULL, "says 'may rewrite'");
	FIRES("ALTER TABLE t ADD COLUMN d int GENERATED ALWAYS AS (a * 2) STORED", "adding-field-with-default",
	      MC_SEV_FAIL, 1, "a stored generated column");
	QUIET("CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN c float8 DEFAULT random()", "adding-field-with-default",
	      "a table created earlier in the run");
	FIRES("ALTER TABLE t ADD COLUMN id bigserial", "adding-serial-field", MC_SEV_FAIL, 1, "bigserial rewrites");
	FIRES("ALTER TABLE t ADD COLUMN id bigint GENERATED BY DEFAULT AS IDENTITY", "adding-serial-field", MC_SEV_FAIL, 1,
	      "identity rewrites");
	QUIET("ALTER TABLE t ADD COLUMN n bigint", "adding-serial-field", "a plain bigint");
}

static void
test_evidence(void)
{
	struct mc_script *sc;

	unload();
	sc = add("ALTER TABLE t ADD COLUMN c float8 DEFAULT random()", MC_TXN_NONE, MC_STATE_PENDING);
	ctx.traced = 1;
	sc->stmts[0].ev.traced = 1;
	run();
	ok(count("adding-field-with-default") == 0, "traced, nothing rewritten: the rewrite rule does not fire");
	sc->stmts[0].ev.rewrote = names("public.t");
	sc->stmts[0].ev.nrewrote = 1;
	run();
	ok(find("adding-field-with-default") && find("adding-field-with-default")->severity == MC_SEV_FAIL,
	   "traced, public.t rewritten: it fires");
	ok(find("adding-field-with-default") && strstr(find("adding-field-with-default")->message, "relfilenode"),
	   "naming the evidence");

	/* an unknown function that did rewrite on the copy is a FAIL, not a guess */
	unload();
	sc = add("ALTER TABLE t ADD COLUMN c int DEFAULT my_func()", MC_TXN_NONE, MC_STATE_PENDING);
	sc->stmts[0].ev.traced = 1;
	sc->stmts[0].ev.rewrote = names("public.t");
	sc->stmts[0].ev.nrewrote = 1;
	run();
	ok(find("adding-field-with-default") && find("adding-field-with-default")->severity == MC_SEV_FAIL,
	   "an unknown default that rewrote on the copy is a FAIL");

	/* SET NOT NULL: the server's "verifying table" decides */
	unload();
	sc = add("ALTER TABLE t ALTER COLUMN c SET NOT NULL", MC_TXN_NONE, MC_STATE_PENDING);
	sc->stmts[0].ev.traced = 1;
	run();
	ok(count("adding-not-nullable-field") == 0, "traced without a scan: SET NOT NULL does not fire");
	sc->stmts[0].ev.scanned = names("public.t");
	sc->stmts[0].ev.nscanned = 1;
	run();
	ok(count("adding-not-nullable-field") == 1, "traced with a scan of public.t: it fires");

	/* a statement that failed on the copy: no duplicate error, lint kept */
	unload();
	sc = add("ALTER TABLE t ADD COLUMN c int NOT NULL", MC_TXN_NONE, MC_STATE_PENDING);
	sc->stmts[0].ev.traced = 1;
	memcpy(sc->stmts[0].ev.sqlstate, "23502", 6);
	run();
	ok(count("adding-required-field") == 0, "failed on the copy: the trace's error is not repeated");
	ok(count("prefer-bigint-over-int") == 1, "the style advice stays");

	/* the trace ran the file as the tool does: its result stands */
	unload();
	sc = add("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';\nINSERT INTO log (msg) VALUES ('meh');", MC_TXN_FILE,
		 MC_STATE_PENDING);
	run();
	ok(count("enum-value-used-in-transaction") == 1, "untraced: a string equal to the new value is taken for a use");
	sc->stmts[0].ev.traced = sc->stmts[1].ev.traced = 1;
	run();
	ok(count("enum-value-used-in-transaction") == 0, "traced without an error: it was not a use of the enum");
	unload();
	sc = add("CREATE INDEX CONCURRENTLY t_a ON t (a)", MC_TXN_FILE, MC_STATE_PENDING);
	sc->stmts[0].ev.traced = 1;
	memcpy(sc->stmts[0].ev.sqlstate, "25001", 6);
	run();
	ok(count("ban-concurrent-index-creation-in-transaction") == 0,
	   "CIC that failed on the copy with 25001: the trace's error is not repeated");

	/* locks read inside the transaction decide the timeout rule */
	unload();
	sc = add("ALTER TABLE t ADD COLUMN c bigint", MC_TXN_NONE, MC_STATE_PENDING);
	sc->stmts[0].ev.traced = 1;
	sc->stmts[0].ev.locks_known = 1;
	sc->stmts[0].ev.locks = calloc(1, sizeof(struct mc_lock));
	sc->stmts[0].ev.locks[0].relation = strdup("public.t");
	sc->stmts[0].ev.locks[0].mode = strdup("AccessShareLock");
	sc->stmts[0].ev.nlocks = 1;
	run();
	ok(count("require-lock-timeout") == 0, "pg_locks showed only AccessShareLock: no timeout finding");
	free(sc->stmts[0].ev.locks[0].mode);
	sc->stmts[0].ev.locks[0].mode = strdup("AccessExclusiveLock");
	run();
	ok(count("require-lock-timeout") == 1, "pg_locks showed AccessExclusiveLock: it fires");
	ctx.traced = 0;
}

static void
test_types(void)
{
	unload();
	add("CREATE TABLE t (a varchar(10), n numeric(10,2), i int, s text, c cidr)", MC_TXN_NONE, MC_STATE_APPLIED);
	add("ALTER TABLE t ALTER COLUMN a TYPE varchar(20)", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("changing-column-type") == 0, "varchar(10) -> varchar(20) is binary coercible");
	ok(count("require-concurrent-index-creation") == 0 && count("prefer-bigint-over-int") == 0,
	   "the applied migration is not linted");
#define TYPECASE(sql, want, what) do { \
	unload(); \
	add("CREATE TABLE t (a varchar(10), n numeric(10,2), i int, s text, c cidr)", MC_TXN_NONE, MC_STATE_APPLIED); \
	add(sql, MC_TXN_NONE, MC_STATE_PENDING); \
	run(); \
	ok(count("changing-column-type") == (want), "changing-column-type %s: %s", (want) ? "fires" : "quiet", what); \
} while (0)
	TYPECASE("ALTER TABLE t ALTER a TYPE varchar(5)", 1, "varchar shrinks");
	TYPECASE("ALTER TABLE t ALTER a TYPE text", 0, "varchar -> text");
	TYPECASE("ALTER TABLE t ALTER a TYPE varchar", 0, "the limit removed");
	TYPECASE("ALTER TABLE t ALTER n TYPE numeric(12,2)", 0, "numeric precision up at the same scale");
	TYPECASE("ALTER TABLE t ALTER n TYPE numeric(12,3)", 1, "numeric scale changes");
	TYPECASE("ALTER TABLE t ALTER i TYPE bigint", 1, "int -> bigint rewrites");
	TYPECASE("ALTER TABLE t ALTER c TYPE inet", 0, "cidr -> inet");
	TYPECASE("ALTER TABLE t ALTER s TYPE varchar(5)", 1, "text -> varchar(5) checks every value");
	TYPECASE("ALTER TABLE t ALTER a TYPE varchar(20) USING a || ''", 1, "a USING expression");
	unload();
	add("CREATE TABLE t (i int)", MC_TXN_NONE, MC_STATE_APPLIED);
	add("ALTER TABLE t ALTER i TYPE bigint", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(find("changing-column-type") && find("changing-column-type")->severity == MC_SEV_FAIL,
	   "a known rewrite is a FAIL");
	FIRES("ALTER TABLE u ALTER x TYPE bigint", "changing-column-type", MC_SEV_WARN, 1,
	      "an unknown old type: WARN, may rewrite");
}

/* ---- scans and constraints ---- */

static void
test_not_null(void)
{
	FIRES("ALTER TABLE t ALTER COLUMN c SET NOT NULL", "adding-not-nullable-field", MC_SEV_FAIL, 1, "SET NOT NULL scans");
	unload();
	add("ALTER TABLE t ADD CONSTRAINT t_c_nn CHECK (c IS NOT NULL) NOT VALID", MC_TXN_NONE, MC_STATE_PENDING);
	add("ALTER TABLE t VALIDATE CONSTRAINT t_c_nn", MC_TXN_NONE, MC_STATE_PENDING);
	add("ALTER TABLE t ALTER COLUMN c SET NOT NULL", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("adding-not-nullable-field") == 0, "a validated CHECK (c IS NOT NULL) earlier proves it");
	ctx.pg_version = 110000;
	run();
	ok(count("adding-not-nullable-field") == 1, "but not before PG 12");
	reset_ctx();
	unload();
	add("ALTER TABLE t ADD CONSTRAINT t_c_nn CHECK (c IS NOT NULL) NOT VALID", MC_TXN_NONE, MC_STATE_PENDING);
	add("ALTER TABLE t ALTER COLUMN c SET NOT NULL", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("adding-not-nullable-field") == 1, "a CHECK never validated proves nothing");
	QUIET("CREATE TABLE t (c int);\nALTER TABLE t ALTER COLUMN c SET NOT NULL", "adding-not-nullable-field",
	      "a new table");

	FIRES("ALTER TABLE t ADD COLUMN c int NOT NULL", "adding-required-field", MC_SEV_FAIL, 1, "NOT NULL, no default");
	QUIET("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0", "adding-required-field", "with a default");
	QUIET("ALTER TABLE t ADD COLUMN c int", "adding-required-field", "nullable");
}

static void
test_constraints(void)
{
	FIRES("ALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0)", "constraint-missing-not-valid", MC_SEV_FAIL, 1,
	      "a valid CHECK scans");
	QUIET("ALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0) NOT VALID", "constraint-missing-not-valid", "NOT VALID");
	QUIET("ALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT pos",
	      "constraint-missing-not-valid", "NOT VALID then VALIDATE in separate (autocommit) transactions");
	FIRES("BEGIN;\nALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT pos;\nCOMMIT;",
	      "constraint-missing-not-valid", MC_SEV_WARN, 3, "NOT VALID + VALIDATE in one transaction");
	fires_at("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id) NOT VALID;\n"
		 "ALTER TABLE t VALIDATE CONSTRAINT fk;", MC_TXN_FILE, "constraint-missing-not-valid", MC_SEV_WARN, 2,
		 "the same in a file Flyway wraps");

	FIRES("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id)", "adding-foreign-key-constraint",
	      MC_SEV_FAIL, 1, "an FK without NOT VALID");
	QUIET("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id) NOT VALID",
	      "adding-foreign-key-constraint", "NOT VALID");
	FIRES("ALTER TABLE t ADD COLUMN p bigint REFERENCES p (id)", "adding-foreign-key-constraint", MC_SEV_FAIL, 1,
	      "an inline REFERENCES");
	QUIET("CREATE TABLE c (id bigint, p bigint REFERENCES p (id))", "adding-foreign-key-constraint",
	      "a new table's FK");

	FIRES("ALTER TABLE t ADD PRIMARY KEY (id)", "adding-serial-primary-key-field", MC_SEV_FAIL, 1, "ADD PRIMARY KEY");
	QUIET("ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX t_id_idx", "adding-serial-primary-key-field",
	      "USING INDEX");
	FIRES("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)", "disallowed-unique-constraint", MC_SEV_FAIL, 1, "ADD UNIQUE");
	QUIET("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX t_a_idx", "disallowed-unique-constraint", "USING INDEX");
	FIRES("ALTER TABLE t ADD COLUMN e text UNIQUE", "disallowed-unique-constraint", MC_SEV_FAIL, 1,
	      "an inline UNIQUE on ADD COLUMN");
	FIRES("ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&)", "adding-exclusion-constraint",
	      MC_SEV_FAIL, 1, "ADD EXCLUDE");
	QUIET("CREATE TABLE t (r int4range);\nALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&)",
	      "adding-exclusion-constraint", "on a new table");

	FIRES("ALTER DOMAIN d ADD CONSTRAINT pos CHECK (VALUE > 0)", "ban-alter-domain-with-add-constraint",
	      MC_SEV_WARN, 1, "ALTER DOMAIN ADD CONSTRAINT");
	QUIET("ALTER DOMAIN d ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID", "ban-alter-domain-with-add-constraint",
	      "NOT VALID");
	FIRES("CREATE DOMAIN d AS int CHECK (VALUE > 0)", "ban-create-domain-with-constraint", MC_SEV_INFO, 1,
	      "CREATE DOMAIN ... CHECK");
	QUIET("CREATE DOMAIN d AS int", "ban-create-domain-with-constraint", "a domain without CHECK");
}

/* ---- locks ---- */

static void
test_index_and_locks(void)
{
	FIRES("CREATE INDEX t_a ON t (a)", "require-concurrent-index-creation", MC_SEV_FAIL, 1, "CREATE INDEX");
	QUIET("CREATE INDEX CONCURRENTLY t_a ON t (a)", "require-concurrent-index-creation", "CONCURRENTLY");
	QUIET("CREATE TABLE t2 (a int);\nCREATE INDEX t2_a ON t2 (a)", "require-concurrent-index-creation",
	      "a table created in the same migration");
	unload();
	add("CREATE TABLE public.t3 (a int)", MC_TXN_NONE, MC_STATE_PENDING);
	add("CREATE INDEX t3_a ON t3 (a)", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("require-concurrent-index-creation") == 0, "a table created in an earlier pending migration");
	unload();
	add("CREATE TABLE t3 (a int)", MC_TXN_NONE, MC_STATE_UNKNOWN);
	add("CREATE INDEX t3_a ON t3 (a)", MC_TXN_NONE, MC_STATE_UNKNOWN);
	run();
	ok(count("require-concurrent-index-creation") == 1,
	   "no applied state read (--static): an earlier migration's table may already exist");
	unload();
	add("CREATE TABLE t3 (a int);\nCREATE INDEX t3_a ON t3 (a)", MC_TXN_NONE, MC_STATE_UNKNOWN);
	run();
	ok(count("require-concurrent-index-creation") == 0, "but within one migration it is new");
	unload();
	add("CREATE TABLE t3 (a int)", MC_TXN_NONE, MC_STATE_APPLIED);
	add("CREATE INDEX t3_a ON t3 (a)", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("require-concurrent-index-creation") == 1, "a table created by an applied migration is not exempt");

	FIRES("DROP INDEX t_a", "require-concurrent-index-deletion", MC_SEV_FAIL, 1, "DROP INDEX");
	QUIET("DROP INDEX CONCURRENTLY t_a", "require-concurrent-index-deletion", "CONCURRENTLY");
	QUIET("CREATE INDEX CONCURRENTLY t_b ON t (b);\nDROP INDEX t_b", "require-concurrent-index-deletion",
	      "an index created in the run");
	FIRES("REINDEX TABLE t", "require-concurrent-reindex", MC_SEV_FAIL, 1, "REINDEX");
	QUIET("REINDEX TABLE CONCURRENTLY t", "require-concurrent-reindex", "CONCURRENTLY");
	FIRES("ALTER TABLE p DETACH PARTITION p1", "require-concurrent-partition-detach", MC_SEV_FAIL, 1, "DETACH");
	QUIET("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", "require-concurrent-partition-detach", "CONCURRENTLY");
	ctx.pg_version = 130000;
	FIRES("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", "detach-partition-concurrently-version", MC_SEV_FAIL, 1,
	      "CONCURRENTLY on PG 13");
	QUIET("ALTER TABLE p DETACH PARTITION p1", "require-concurrent-partition-detach", "no CONCURRENTLY before 14");
	reset_ctx();
	QUIET("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", "detach-partition-concurrently-version", "on PG 15");
	FIRES("REFRESH MATERIALIZED VIEW mv", "require-concurrent-refresh", MC_SEV_FAIL, 1, "REFRESH");
	QUIET("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "require-concurrent-refresh", "CONCURRENTLY");
	QUIET("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x WITH NO DATA;\nREFRESH MATERIALIZED VIEW mv",
	      "require-concurrent-refresh", "a view created in the run");
	FIRES("ALTER TABLE t SET UNLOGGED", "changing-table-persistence", MC_SEV_FAIL, 1, "SET UNLOGGED");
	QUIET("ALTER TABLE t SET (fillfactor = 70)", "changing-table-persistence", "a storage parameter");
	FIRES("VACUUM FULL t", "prefer-repack", MC_SEV_FAIL, 1, "VACUUM FULL");
	FIRES("CLUSTER t USING t_a", "prefer-repack", MC_SEV_FAIL, 1, "CLUSTER");
	QUIET("VACUUM t", "prefer-repack", "plain VACUUM");
	ctx.pg_version = 140002;
	FIRES("CREATE INDEX CONCURRENTLY t_a ON t (a)", "concurrent-index-corruption-14", MC_SEV_FAIL, 1, "on 14.2");
	ctx.pg_version = 140004;
	QUIET("CREATE INDEX CONCURRENTLY t_a ON t (a)", "concurrent-index-corruption-14", "on 14.4");
	reset_ctx();
}

static void
test_breaking(void)
{
	FIRES("ALTER TABLE t DROP COLUMN c", "ban-drop-column", MC_SEV_WARN, 1, "DROP COLUMN");
	QUIET("CREATE TABLE t (c int, d int);\nALTER TABLE t DROP COLUMN c", "ban-drop-column", "on a new table");
	FIRES("ALTER TABLE t ALTER c DROP NOT NULL", "ban-drop-not-null", MC_SEV_WARN, 1, "DROP NOT NULL");
	QUIET("ALTER TABLE t ALTER c SET DEFAULT 1", "ban-drop-not-null", "SET DEFAULT");
	FIRES("DROP TABLE t", "ban-drop-table", MC_SEV_WARN, 1, "DROP TABLE");
	QUIET("CREATE TABLE tmp_x (a int);\nDROP TABLE tmp_x", "ban-drop-table", "a table created in the run");
	FIRES("DROP DATABASE app", "ban-drop-database", MC_SEV_FAIL, 1, "DROP DATABASE");
	QUIET("DROP SCHEMA IF EXISTS old CASCADE", "ban-drop-database", "DROP SCHEMA");
	FIRES("TRUNCATE a, b CASCADE", "ban-truncate-cascade", MC_SEV_WARN, 1, "TRUNCATE CASCADE");
	QUIET("TRUNCATE a", "ban-truncate-cascade", "plain TRUNCATE");
	FIRES("ALTER TABLE t RENAME COLUMN a TO b", "renaming-column", MC_SEV_WARN, 1, "RENAME COLUMN");
	QUIET("CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b", "renaming-column", "on a new table");
	FIRES("ALTER TABLE t RENAME TO u", "renaming-table", MC_SEV_WARN, 1, "RENAME TO");
	QUIET("ALTER TABLE t RENAME CONSTRAINT a TO b", "renaming-table", "RENAME CONSTRAINT");
	QUIET("CREATE TABLE t_new (a int);\nALTER TABLE t_new RENAME TO t2;\nCREATE INDEX t2_a ON t2 (a);",
	      "require-concurrent-index-creation", "a new table renamed is still new");
	FIRES("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", "renaming-enum-value", MC_SEV_WARN, 1, "RENAME VALUE");
	QUIET("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'", "renaming-enum-value", "ADD VALUE");
	FIRES("ALTER TYPE mood ADD VALUE 'meh'", "require-enum-value-ordering", MC_SEV_INFO, 1, "without AFTER");
	QUIET("ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'", "require-enum-value-ordering", "with BEFORE");
	FIRES("UPDATE t SET a = 1, a = 2 WHERE id = 1", "ban-duplicate-column-assignments", MC_SEV_FAIL, 1,
	      "UPDATE a twice");
	QUIET("UPDATE t SET a = 1, b = 2 WHERE id = 1", "ban-duplicate-column-assignments", "two columns");
	FIRES("CREATE TABLE x (a int, a text)", "ban-duplicate-column-assignments", MC_SEV_FAIL, 1, "a column twice");
	FIRES("UPDATE t SET a = 0", "unbatched-backfill", MC_SEV_WARN, 1, "UPDATE every row");
	QUIET("UPDATE t SET a = 0 WHERE id BETWEEN 1 AND 1000", "unbatched-backfill", "a batch");
	QUIET("CREATE TABLE t (a int);\nDELETE FROM t", "unbatched-backfill", "a new table");
}

static void
test_more(void)
{
	FIRES("ALTER TABLE t ADD COLUMN a bigint;\nALTER TABLE t ADD COLUMN b bigint;", "multiple-alter-table",
	      MC_SEV_INFO, 2, "two ALTER TABLE on one table");
	is_int(count("multiple-alter-table"), 1, "said once");
	QUIET("ALTER TABLE t ADD COLUMN a bigint, ADD COLUMN b bigint;", "multiple-alter-table", "one ALTER TABLE");
	QUIET("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;",
	      "multiple-alter-table", "VALIDATE in its own ALTER TABLE is the safe way");
	QUIET("ALTER TABLE t ADD COLUMN a bigint;\nALTER TABLE u ADD COLUMN b bigint;", "multiple-alter-table",
	      "two tables");

	FIRES("CREATE INDEX CONCURRENTLY i ON t (a, b, c, d)", "index-too-many-columns", MC_SEV_INFO, 1, "four columns");
	QUIET("CREATE INDEX CONCURRENTLY i ON t (a, b, c)", "index-too-many-columns", "three columns");

	FIRES("CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id);\nALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX t_id;",
	      "primary-key-using-index-not-null", MC_SEV_FAIL, 2, "PK USING INDEX on a column not proven NOT NULL");
	unload();
	add("CREATE TABLE t (id bigint NOT NULL)", MC_TXN_NONE, MC_STATE_APPLIED);
	add("CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id);\nALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX t_id;",
	    MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("primary-key-using-index-not-null") == 0, "primary-key-using-index-not-null quiet: the column is NOT NULL");

	FIRES("CREATE TABLE c (id bigint PRIMARY KEY, p bigint REFERENCES p (id))", "foreign-key-without-index",
	      MC_SEV_INFO, 1, "an FK column without an index");
	QUIET("CREATE TABLE c (id bigint PRIMARY KEY, p bigint REFERENCES p (id));\nCREATE INDEX c_p ON c (p, id);",
	      "foreign-key-without-index", "an index created later in the run starts with it");
	FIRES("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a, b) REFERENCES p (x, y) NOT VALID;\n"
	      "CREATE INDEX CONCURRENTLY t_a ON t (a);", "foreign-key-without-index", MC_SEV_INFO, 1,
	      "an index on only part of the key");
	QUIET("CREATE TABLE c (p bigint, CONSTRAINT c_pk PRIMARY KEY (p, q), FOREIGN KEY (p) REFERENCES p (id))",
	      "foreign-key-without-index", "the primary key starts with it");

	unload();
	add("CREATE TABLE t (a bigint)", MC_TXN_NONE, MC_STATE_APPLIED);
	add("CREATE TABLE IF NOT EXISTS t (a bigint);\nCREATE INDEX t_a ON t (a);", MC_TXN_NONE, MC_STATE_PENDING);
	run();
	ok(count("require-concurrent-index-creation") == 1,
	   "CREATE TABLE IF NOT EXISTS over an applied table does not exempt it");
	QUIET("CREATE TABLE IF NOT EXISTS n (a bigint);\nCREATE INDEX n_a ON n (a);", "require-concurrent-index-creation",
	      "IF NOT EXISTS of a table nobody made before");
	ctx.pg_version = 140003;
	FIRES("REINDEX INDEX CONCURRENTLY t_a", "concurrent-index-corruption-14", MC_SEV_FAIL, 1, "REINDEX CONCURRENTLY on 14.3");
	reset_ctx();
	QUIET("REINDEX INDEX CONCURRENTLY t_a", "concurrent-index-corruption-14", "on 15");
}

/* ---- transactions ---- */

static void
test_transactions(void)
{
	fires_at("CREATE INDEX CONCURRENTLY t_a ON t (a)", MC_TXN_FILE, "ban-concurrent-index-creation-in-transaction",
		 MC_SEV_FAIL, 1, "Flyway wraps the file");
	quiet("CREATE INDEX CONCURRENTLY t_a ON t (a)", MC_TXN_NONE, "ban-concurrent-index-creation-in-transaction",
	      "psql autocommit");
	quiet("-- only this\nCREATE INDEX CONCURRENTLY t_a ON t (a);", MC_TXN_IMPLICIT,
	      "ban-concurrent-index-creation-in-transaction", "golang-migrate, the only statement of its file");
	fires_at("SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY t_a ON t (a);", MC_TXN_IMPLICIT,
		 "ban-concurrent-index-creation-in-transaction", MC_SEV_FAIL, 2,
		 "golang-migrate with two statements: one implicit transaction");
	fires_at("BEGIN;\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCOMMIT;", MC_TXN_NONE,
		 "ban-concurrent-index-creation-in-transaction", MC_SEV_FAIL, 2, "after an explicit BEGIN");
	quiet("BEGIN;\nSELECT 1;\nCOMMIT;\nCREATE INDEX CONCURRENTLY t_a ON t (a);", MC_TXN_NONE,
	      "ban-concurrent-index-creation-in-transaction", "after the COMMIT");
	fires_at("CREATE INDEX CONCURRENTLY t_a ON t (a)", MC_TXN_RUN, "ban-concurrent-index-creation-in-transaction",
		 MC_SEV_FAIL, 1, "Drizzle's one transaction");
	fires_at("DROP INDEX CONCURRENTLY t_a", MC_TXN_FILE, "ban-non-transactional-in-transaction", MC_SEV_FAIL, 1,
		 "DROP INDEX CONCURRENTLY in a wrapped file");
	fires_at("VACUUM t", MC_TXN_FILE, "ban-non-transactional-in-transaction", MC_SEV_FAIL, 1, "VACUUM");
	quiet("DROP INDEX CONCURRENTLY t_a", MC_TXN_NONE, "ban-non-transactional-in-transaction", "autocommit");

	fires_at("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';\nUPDATE t SET m = 'meh' WHERE id = 1;", MC_TXN_FILE,
		 "enum-value-used-in-transaction", MC_SEV_FAIL, 2, "the new value used in its transaction");
	quiet("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';\nUPDATE t SET m = 'meh' WHERE id = 1;", MC_TXN_NONE,
	      "enum-value-used-in-transaction", "autocommit commits the value first");
	quiet("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';\nUPDATE t SET m = 'ok' WHERE id = 1;", MC_TXN_FILE,
	      "enum-value-used-in-transaction", "another value");
	ctx.pg_version = 110000;
	fires_at("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'", MC_TXN_FILE, "ban-non-transactional-in-transaction",
		 MC_SEV_FAIL, 1, "ADD VALUE in a transaction before PG 12");
	reset_ctx();

	FIRES("BEGIN;\nBEGIN;\nCOMMIT;", "transaction-nesting", MC_SEV_WARN, 2, "BEGIN twice");
	fires_at("BEGIN;\nSELECT 1;\nCOMMIT;", MC_TXN_FILE, "transaction-nesting", MC_SEV_WARN, 1,
		 "BEGIN in a file the tool wraps");
	quiet("BEGIN;\nSELECT 1;\nCOMMIT;", MC_TXN_IMPLICIT, "transaction-nesting", "golang-migrate file with BEGIN/COMMIT");
	QUIET("BEGIN;\nSELECT 1;\nCOMMIT;", "transaction-nesting", "psql with BEGIN/COMMIT");
	FIRES("SELECT 1;\nCOMMIT;", "transaction-nesting", MC_SEV_WARN, 2, "COMMIT without BEGIN");
	FIRES("BEGIN;\nALTER TABLE t ADD COLUMN c bigint;", "ban-uncommitted-transaction", MC_SEV_FAIL, 1, "no COMMIT");
	QUIET("BEGIN;\nALTER TABLE t ADD COLUMN c bigint;\nCOMMIT;", "ban-uncommitted-transaction", "with COMMIT");
	QUIET("BEGIN;\nALTER TABLE t ADD COLUMN c bigint;\nROLLBACK;", "ban-uncommitted-transaction", "with ROLLBACK");

	FIRES("BEGIN;\nALTER TABLE t ADD COLUMN c bigint;\nUPDATE t SET c = 1 WHERE id < 100;\nCOMMIT;",
	      "statements-after-access-exclusive", MC_SEV_WARN, 3, "an UPDATE after ACCESS EXCLUSIVE");
	FIRES("BEGIN;\nALTER TABLE t ADD COLUMN c bigint;\nALTER TABLE u ADD COLUMN d bigint;\nCOMMIT;",
	      "statements-after-access-exclusive", MC_SEV_INFO, 3, "another DDL after ACCESS EXCLUSIVE");
	QUIET("ALTER TABLE t ADD COLUMN c bigint;\nUPDATE t SET c = 1 WHERE id < 100;", "statements-after-access-exclusive",
	      "autocommit: the lock is gone");
	QUIET("BEGIN;\nCREATE TABLE n (a int);\nALTER TABLE n ADD COLUMN c bigint;\nINSERT INTO n VALUES (1);\nCOMMIT;",
	      "statements-after-access-exclusive", "a new table");
}

static void
test_timeouts(void)
{
	FIRES("ALTER TABLE t ADD COLUMN c bigint;\nALTER TABLE t ADD COLUMN d bigint;", "require-lock-timeout",
	      MC_SEV_WARN, 1, "ACCESS EXCLUSIVE without lock_timeout");
	is_int(count("require-lock-timeout"), 1, "once per script");
	ok(find("require-statement-timeout") && find("require-statement-timeout")->line == 1,
	   "require-statement-timeout fires with it");
	QUIET("SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout", "a session SET");
	QUIET("SET statement_timeout = '5min';\nALTER TABLE t ADD COLUMN c bigint;", "require-statement-timeout",
	      "a session SET of statement_timeout");
	QUIET("BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c bigint;\nCOMMIT;",
	      "require-lock-timeout", "SET LOCAL in the transaction");
	FIRES("BEGIN;\nSET LOCAL lock_timeout = '2s';\nCOMMIT;\nALTER TABLE t ADD COLUMN c bigint;",
	      "require-lock-timeout", MC_SEV_WARN, 4, "COMMIT ended the SET LOCAL");
	FIRES("BEGIN;\nSET lock_timeout = '2s';\nROLLBACK;\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout",
	      MC_SEV_WARN, 4, "ROLLBACK undid the SET");
	FIRES("SET lock_timeout = '2s';\nRESET lock_timeout;\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout",
	      MC_SEV_WARN, 3, "RESET");
	FIRES("SET lock_timeout = 0;\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout", MC_SEV_WARN, 2,
	      "lock_timeout = 0 is none");
	QUIET("SELECT set_config('lock_timeout', '2s', false);\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout",
	      "set_config(..., false)");
	FIRES("SELECT set_config('lock_timeout', '2s', true);\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout",
	      MC_SEV_WARN, 2, "set_config(..., true) in autocommit ends with its statement");
	FIRES("SET LOCAL lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c bigint;", "set-local-outside-transaction",
	      MC_SEV_WARN, 1, "SET LOCAL in autocommit");
	QUIET("BEGIN;\nSET LOCAL lock_timeout = '2s';\nCOMMIT;", "set-local-outside-transaction", "SET LOCAL after BEGIN");
	quiet("SET LOCAL lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c bigint;", MC_TXN_FILE, "require-lock-timeout",
	      "SET LOCAL in a file Flyway wraps");
	ctx.lock_timeout_in_effect = ctx.statement_timeout_in_effect = 1;
	QUIET("ALTER TABLE t ADD COLUMN c bigint", "require-lock-timeout", "the role sets lock_timeout");
	QUIET("ALTER TABLE t ADD COLUMN c bigint", "require-statement-timeout", "the role sets statement_timeout");
	reset_ctx();
	QUIET("ALTER TABLE t ALTER c SET STATISTICS 500", "require-lock-timeout", "SHARE UPDATE EXCLUSIVE blocks no one");
	QUIET("CREATE INDEX CONCURRENTLY t_a ON t (a)", "require-lock-timeout", "CIC");
	QUIET("CREATE TABLE n (a int);\nCREATE INDEX n_a ON n (a);", "require-lock-timeout", "a new table");

	ctx.pooler_transaction = 1;
	FIRES("SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c bigint;", "require-lock-timeout", MC_SEV_WARN, 2,
	      "through a transaction pooler a session SET does not carry over");
	ok(find("require-lock-timeout") && strstr(find("require-lock-timeout")->message, "pooler"), "and says so");
	ok(find("pooler-session-set") && find("pooler-session-set")->line == 1, "pooler-session-set names the SET");
	quiet("SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c bigint;", MC_TXN_FILE, "require-lock-timeout",
	      "in one wrapped transaction the session SET still applies");
	reset_ctx();
}

/* ---- pooler ---- */

static void
pooler_case(const char *sql, const char *rule, int want, const char *what)
{
	ctx.pooler_transaction = 1;
	lint(sql, MC_TXN_NONE);
	ok(count(rule) == want, "%s %s: %s", rule, want ? "fires" : "does not fire", what);
	if (count(rule) != want)
		dump();
	if (want)
		ok(find(rule)->severity == MC_SEV_WARN && strcmp(find(rule)->kind, "pooler") == 0 && find(rule)->advice,
		   "a WARN of kind pooler with advice");
	reset_ctx();
}

static void
test_pooler(void)
{
	pooler_case("SET search_path TO app, public", "pooler-session-set", 1, "a session SET");
	pooler_case("BEGIN;\nSET LOCAL search_path TO app;\nCOMMIT;", "pooler-session-set", 0, "SET LOCAL");
	pooler_case("BEGIN;\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nCOMMIT;", "pooler-session-set", 0,
		    "SET TRANSACTION");
	pooler_case("SET CONSTRAINTS ALL DEFERRED", "pooler-session-set", 0, "SET CONSTRAINTS");
	pooler_case("SET application_name = 'x'", "pooler-session-set", 0, "a parameter PgBouncer tracks");
	pooler_case("RESET ALL", "pooler-session-set", 1, "RESET ALL");
	pooler_case("SELECT set_config('search_path', 'app', false)", "pooler-session-set", 1, "set_config(..., false)");
	pooler_case("SELECT set_config('search_path', 'app', true)", "pooler-session-set", 0, "set_config(..., true)");
	pooler_case("SELECT pg_advisory_lock(42)", "pooler-advisory-lock", 1, "pg_advisory_lock");
	pooler_case("SELECT 1 WHERE pg_try_advisory_lock_shared(1) AND true", "pooler-advisory-lock", 1,
		    "found deep in the tree");
	pooler_case("SELECT pg_advisory_unlock(42)", "pooler-advisory-lock", 1, "pg_advisory_unlock");
	pooler_case("SELECT pg_advisory_xact_lock(42)", "pooler-advisory-lock", 0, "pg_advisory_xact_lock");
	pooler_case("LISTEN jobs", "pooler-listen", 1, "LISTEN");
	pooler_case("NOTIFY jobs", "pooler-listen", 0, "NOTIFY");
	pooler_case("DECLARE c CURSOR WITH HOLD FOR SELECT 1", "pooler-with-hold", 1, "WITH HOLD");
	pooler_case("BEGIN;\nDECLARE c CURSOR FOR SELECT 1;\nCOMMIT;", "pooler-with-hold", 0, "WITHOUT HOLD");
	pooler_case("PREPARE q AS SELECT 1", "pooler-prepare", 1, "PREPARE");
	pooler_case("EXECUTE q", "pooler-prepare", 1, "EXECUTE");
	pooler_case("DEALLOCATE ALL", "pooler-prepare", 0, "DEALLOCATE ALL");
	pooler_case("CREATE TEMP TABLE scratch (a int)", "pooler-temp-table", 1, "a session temp table");
	pooler_case("BEGIN;\nCREATE TEMP TABLE scratch (a int) ON COMMIT DROP;\nCOMMIT;", "pooler-temp-table", 0,
		    "ON COMMIT DROP");
	pooler_case("LOAD 'auto_explain'", "pooler-load", 1, "LOAD");
	pooler_case("SELECT 'LOAD' AS x", "pooler-load", 0, "a string that says LOAD");
	QUIET("SET search_path TO app", "pooler-session-set", "no transaction pooler: no pooler rules");
	QUIET("SELECT pg_advisory_lock(1)", "pooler-advisory-lock", "no transaction pooler");
}

static void
test_app_dir(void)
{
	char *dir = make_tmpdir();
	int rc, listen = 0, lock = 0, parse = 0, other = 0;

	put_file(dir, "a.sql", "-- a query file\nSELECT 1;\n\nLISTEN jobs;\n");
	put_file(dir, "sub/b.sql", "SELECT pg_advisory_lock(1);\n");
	put_file(dir, "sub/ok.sql", "BEGIN;\nSET LOCAL statement_timeout = '1s';\nSELECT pg_advisory_xact_lock(1);\nCOMMIT;\n");
	put_file(dir, "bad.sql", "SELECT 1;\nSELEC 2;\n");
	put_file(dir, "notes.txt", "LISTEN x;\n");
	mc_report_free(&rep);
	reset_ctx();
	rc = mc_rules_app_dir(dir, &ctx, &rep);
	is_int(rc, 0, "mc_rules_app_dir reads the directory");
	for (size_t i = 0; i < rep.n; i++) {
		const struct mc_finding *f = &rep.f[i];
		/* named as under the directory given, which is not the migrations' */
		const char *file = f->file && strncmp(f->file, dir, strlen(dir)) == 0 && f->file[strlen(dir)] == '/' &&
				   f->own_path ? f->file + strlen(dir) + 1 : "";

		if (f->rule && strcmp(f->rule, "pooler-listen") == 0 && strcmp(file, "a.sql") == 0 && f->line == 4)
			listen++;
		else if (f->rule && strcmp(f->rule, "pooler-advisory-lock") == 0 && strcmp(file, "sub/b.sql") == 0 &&
			 f->line == 1)
			lock++;
		else if (f->severity == MC_SEV_WARN && f->rule && strcmp(f->rule, "parse") == 0 &&
			 strcmp(file, "bad.sql") == 0 && f->line == 2)
			parse++;
		else
			other++;
	}
	is_int(listen, 1, "LISTEN found in a.sql:4 (the file's own line)");
	is_int(lock, 1, "pg_advisory_lock found in DIR/sub/b.sql:1 (the path under the directory given)");
	is_int(parse, 1, "a file that does not parse is a WARN at its line");
	is_int(other, 0, "nothing else: SET LOCAL and xact locks are fine, notes.txt is not SQL");
	if (other)
		dump();
	mc_report_free(&rep);
	rm_rf(dir);
	is_int(mc_rules_app_dir(dir, &ctx, &rep), 2, "a directory that cannot be read is an error (2)");
	ok(strstr(pgp_log_last_error(), dir) != NULL, "naming it: %s", pgp_log_last_error());
	free(dir);
}

/* ---- parse errors, style, downs ---- */

static void
test_parse_and_style(void)
{
	FIRES("SELECT 1;\n\nALTER TABLE t ADD COLUMN;\n", "parse", MC_SEV_FAIL, 3, "a syntax error on PG 15: FAIL");
	ctx.pg_version = 170000;
	FIRES("SELECT 1;\n\nALTER TABLE t ADD COLUMN;\n", "parse", MC_SEV_WARN, 3, "on PG 17: WARN");
	ok(strstr(find("parse")->message, "trace still ran") != NULL, "saying the trace still ran it");
	reset_ctx();
	QUIET("SELECT 1;", "parse", "a good file");

	FIRES("CREATE TABLE s (a char(3))", "ban-char-field", MC_SEV_INFO, 1, "char(3)");
	QUIET("CREATE TABLE s (a text)", "ban-char-field", "text");
	FIRES("CREATE TABLE s (a varchar(30))", "prefer-text-field", MC_SEV_INFO, 1, "varchar(30)");
	QUIET("CREATE TABLE s (a varchar)", "prefer-text-field", "varchar without a limit");
	FIRES("CREATE TABLE s (a timestamp)", "prefer-timestamptz", MC_SEV_INFO, 1, "timestamp");
	QUIET("CREATE TABLE s (a timestamptz)", "prefer-timestamptz", "timestamptz");
	FIRES("CREATE TABLE s (a int)", "prefer-bigint-over-int", MC_SEV_INFO, 1, "int");
	QUIET("CREATE TABLE s (a bigint)", "prefer-bigint-over-int", "bigint");
	FIRES("CREATE TABLE s (a smallint)", "prefer-bigint-over-smallint", MC_SEV_INFO, 1, "smallint");
	QUIET("CREATE TABLE s (a int8)", "prefer-bigint-over-smallint", "int8");
	FIRES("CREATE TABLE s (id bigserial)", "prefer-identity", MC_SEV_INFO, 1, "bigserial");
	QUIET("CREATE TABLE s (id bigint GENERATED ALWAYS AS IDENTITY)", "prefer-identity", "identity");
	FIRES("CREATE TABLE s (a json)", "prefer-jsonb", MC_SEV_INFO, 1, "json");
	QUIET("CREATE TABLE s (a jsonb)", "prefer-jsonb", "jsonb");
	FIRES("CREATE TABLE s (a_column_name_that_is_much_too_long_for_postgresql_identifiers_xx bigint)",
	      "identifier-too-long", MC_SEV_INFO, 1, "65 bytes");
	QUIET("CREATE TABLE s (a_column_name_that_is_just_short_enough_for_postgresql_identifi bigint)",
	      "identifier-too-long", "63 bytes");
	FIRES("ALTER TABLE t ADD COLUMN c int", "prefer-bigint-over-int", MC_SEV_INFO, 1, "on ADD COLUMN too");
	FIRES("ALTER TABLE t ALTER COLUMN c TYPE varchar(200)", "prefer-text-field", MC_SEV_INFO, 1, "on ALTER COLUMN TYPE too");
	ok(strstr(find("prefer-text-field")->object, "t.c") != NULL, "naming the column");
	ok(find("changing-column-type") && strstr(find("changing-column-type")->message, "varchar(200)"),
	   "the type change says varchar(200)");

	unload();
	add("CREATE TABLE s (a bigint)", MC_TXN_NONE, MC_STATE_PENDING);
	load_script(&mig[0].down, "V1__m.down.sql", "DROP TABLE t", MC_TXN_NONE);
	run();
	ok(find("ban-drop-table") && strcmp(find("ban-drop-table")->file, "V1__m.down.sql") == 0,
	   "down scripts are linted and named");
	unload();
	add("CREATE TABLE s (a bigint)", MC_TXN_NONE, MC_STATE_UNKNOWN);
	load_script(&mig[0].down, "V1__m.down.sql", "DROP TABLE s", MC_TXN_NONE);
	add("CREATE TABLE u (a bigint)", MC_TXN_NONE, MC_STATE_UNKNOWN);
	load_script(&mig[1].down, "V2__m.down.sql", "DROP TABLE u;\nDROP TABLE s;", MC_TXN_NONE);
	run();
	is_int(count("ban-drop-table"), 1, "a down dropping what its own up created is fine, another's table is not");
	ok(find("ban-drop-table") && find("ban-drop-table")->line == 2 &&
	   strcmp(find("ban-drop-table")->file, "V2__m.down.sql") == 0, "naming V2's down, line 2");
	unload();
	add("ALTER TABLE orders ADD COLUMN note text", MC_TXN_NONE, MC_STATE_PENDING);
	load_script(&mig[0].down, "V1__m.down.sql", "ALTER TABLE orders DROP COLUMN note", MC_TXN_NONE);
	add("ALTER TABLE orders ADD COLUMN tag text", MC_TXN_NONE, MC_STATE_PENDING);
	load_script(&mig[1].down, "V2__m.down.sql", "ALTER TABLE orders DROP COLUMN tag;\nALTER TABLE orders DROP COLUMN total;",
		    MC_TXN_NONE);
	run();
	is_int(count("ban-drop-column"), 1, "a down dropping the column its up added is fine, an older column is not");
	ok(find("ban-drop-column") && find("ban-drop-column")->line == 2, "naming the older column's line");
	is_int(unknown_rules, 0, "every rule that fired is in mc_rule_table");
}

/* ---- the lock table ---- */

static const char *
lock_of(const char *sql, const char *rel)
{
	static char mode[64];
	struct mc_script sc = {0};
	struct mc_lock *l;
	size_t n;

	mode[0] = '\0';
	load_script(&sc, "x.sql", sql, MC_TXN_NONE);
	n = sc.nstmts ? mc_static_locks(&sc.stmts[0], &l) : 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].relation, rel) == 0)
			snprintf(mode, sizeof(mode), "%s", l[i].mode);
	if (n)
		mc_locks_free(l, n);
	mc_script_free(&sc);
	free(sc.path);
	free(sc.text);
	return mode;
}

static void
test_lock_table(void)
{
	static const char *const modes[] = {
		"AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
		"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"
	};
	/* PostgreSQL's documented conflict table, row by row (13.3.1) */
	static const char *const table[] = {
		"00000001", "00000011", "00001111", "00011111", "00110111", "00111111", "01111111", "11111111"
	};
	int bad = 0, asym = 0;

	is_str(lock_of("CREATE INDEX i ON t (a)", "t"), "ShareLock", "CREATE INDEX: ShareLock");
	is_str(lock_of("CREATE INDEX CONCURRENTLY i ON s.t (a)", "s.t"), "ShareUpdateExclusiveLock", "CIC");
	is_str(lock_of("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p (id)", "t"), "ShareRowExclusiveLock",
	       "ADD FOREIGN KEY on the table");
	is_str(lock_of("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p (id)", "p"), "ShareRowExclusiveLock",
	       "and on the referenced table");
	is_str(lock_of("ALTER TABLE t VALIDATE CONSTRAINT f", "t"), "ShareUpdateExclusiveLock", "VALIDATE CONSTRAINT");
	is_str(lock_of("ALTER TABLE t ALTER a SET STATISTICS 100", "t"), "ShareUpdateExclusiveLock", "SET STATISTICS");
	is_str(lock_of("ALTER TABLE t ALTER a SET STATISTICS 100, ADD COLUMN b int", "t"), "AccessExclusiveLock",
	       "the strongest subcommand");
	is_str(lock_of("ALTER TABLE t ENABLE TRIGGER tr", "t"), "ShareRowExclusiveLock", "ENABLE TRIGGER");
	is_str(lock_of("DROP INDEX i", "i"), "AccessExclusiveLock", "DROP INDEX");
	is_str(lock_of("DROP INDEX CONCURRENTLY i", "i"), "ShareUpdateExclusiveLock", "DROP INDEX CONCURRENTLY");
	is_str(lock_of("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "t"),
	       "ShareRowExclusiveLock", "CREATE TRIGGER");
	is_str(lock_of("REFRESH MATERIALIZED VIEW m", "m"), "AccessExclusiveLock", "REFRESH");
	is_str(lock_of("REFRESH MATERIALIZED VIEW CONCURRENTLY m", "m"), "ExclusiveLock", "REFRESH CONCURRENTLY");
	is_str(lock_of("LOCK TABLE a, b IN SHARE MODE", "b"), "ShareLock", "LOCK TABLE as stated");
	is_str(lock_of("LOCK t", "t"), "AccessExclusiveLock", "LOCK without a mode");
	is_str(lock_of("TRUNCATE t", "t"), "AccessExclusiveLock", "TRUNCATE");
	is_str(lock_of("VACUUM FULL t", "t"), "AccessExclusiveLock", "VACUUM FULL");
	is_str(lock_of("VACUUM t", "t"), "ShareUpdateExclusiveLock", "VACUUM");
	is_str(lock_of("CLUSTER t USING i", "t"), "AccessExclusiveLock", "CLUSTER");
	is_str(lock_of("UPDATE t SET a = 1", "t"), "RowExclusiveLock", "UPDATE");
	is_str(lock_of("DELETE FROM s.t", "s.t"), "RowExclusiveLock", "DELETE");
	is_str(lock_of("INSERT INTO t VALUES (1)", "t"), "RowExclusiveLock", "INSERT");
	is_str(lock_of("DROP TABLE t, u", "u"), "AccessExclusiveLock", "DROP TABLE");
	is_str(lock_of("ALTER TABLE t RENAME TO u", "t"), "AccessExclusiveLock", "RENAME");
	is_str(lock_of("COMMENT ON TABLE t IS 'x'", "t"), "ShareUpdateExclusiveLock", "COMMENT ON TABLE");
	is_str(lock_of("COMMENT ON COLUMN s.t.a IS 'x'", "s.t"), "ShareUpdateExclusiveLock", "COMMENT ON COLUMN");
	is_str(lock_of("REINDEX TABLE t", "t"), "ShareLock", "REINDEX TABLE");
	is_str(lock_of("ALTER TABLE p DETACH PARTITION c", "c"), "AccessExclusiveLock", "DETACH: the partition too");
	is_str(lock_of("ALTER TABLE p DETACH PARTITION c", "p"), "AccessExclusiveLock", "DETACH: and the parent");
	is_str(lock_of("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "p"), "ShareUpdateExclusiveLock",
	       "DETACH CONCURRENTLY: the parent stays readable and writable");
	is_str(lock_of("ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)", "p"), "ShareUpdateExclusiveLock",
	       "ATTACH PARTITION: ShareUpdateExclusiveLock on the parent");
	is_str(lock_of("ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)", "c"), "AccessExclusiveLock",
	       "and AccessExclusiveLock on the partition");
	is_str(lock_of("CREATE TABLE c PARTITION OF p FOR VALUES IN (1)", "p"), "AccessExclusiveLock",
	       "CREATE TABLE ... PARTITION OF locks the parent");
	is_str(lock_of("CREATE POLICY pol ON t USING (true)", "t"), "AccessExclusiveLock", "CREATE POLICY");
	is_str(lock_of("CREATE STATISTICS st ON a, b FROM t", "t"), "ShareUpdateExclusiveLock", "CREATE STATISTICS");
	is_str(lock_of("DROP TRIGGER tr ON t", "t"), "AccessExclusiveLock", "DROP TRIGGER locks its table");
	is_str(lock_of("ALTER TABLE t ALTER a SET DEFAULT 1", "t"), "AccessExclusiveLock", "SET DEFAULT");
	is_str(lock_of("CREATE TABLE c (p bigint REFERENCES p (id))", "p"), "ShareRowExclusiveLock",
	       "a new table's FK locks the referenced table");
	is_str(lock_of("SELECT 1", "t"), "", "SELECT 1 locks no table");

	for (int a = 0; a < 8; a++)
		for (int b = 0; b < 8; b++) {
			int want = table[a][b] == '1';

			if (mc_lock_conflicts(modes[a], modes[b]) != want)
				bad++;
			if (mc_lock_conflicts(modes[a], modes[b]) != mc_lock_conflicts(modes[b], modes[a]))
				asym++;
		}
	is_int(bad, 0, "mc_lock_conflicts is PostgreSQL's conflict table");
	is_int(asym, 0, "and symmetric");
	ok(!mc_lock_conflicts("NoSuchLock", "AccessExclusiveLock"), "an unknown mode conflicts with nothing");
}

static void
test_table(void)
{
	int n = 0, bad = 0;

	for (const struct mc_rule_info *ri = mc_rule_table; ri->name; ri++, n++)
		if (!ri->kind || !ri->lock || !ri->proof || !ri->advice || !*ri->advice)
			bad++;
	ok(n >= 50, "mc_rule_table lists %d rules", n);
	is_int(bad, 0, "each with kind, lock, proof and advice");
}

int
main(void)
{
	pgp_log_init("test_migrate_rules");
	reset_ctx();
	test_defaults();
	test_evidence();
	test_types();
	test_not_null();
	test_constraints();
	test_index_and_locks();
	test_breaking();
	test_more();
	test_transactions();
	test_timeouts();
	test_pooler();
	test_app_dir();
	test_parse_and_style();
	test_lock_table();
	test_table();
	unload();
	mc_report_free(&rep);
	return done_testing();
}
