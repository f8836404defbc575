/*
 * The applied state: the target's bookkeeping table read as the tool
 * reads it (read-only SELECTs, values as parameters, identifiers quoted)
 * and compared with the files: which migrations are pending, applied or
 * failed, and what the tool itself would trip over — drift, a dirty or
 * unfinished row, an applied version whose file is gone, a pending file
 * that sorts before the last applied one, a held lock.
 *
 * Three tools keep public.schema_migrations: golang-migrate (version
 * bigint, dirty boolean), dbmate (version varchar) and Rails (version
 * varchar, and an ar_internal_metadata table beside it).  The columns tell
 * them apart; a table that is another tool's than the files' is said.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applied.h"
#include "checksum.h"
#include "layout_int.h"
#include "log.h"
#include "sql.h"

struct rd {
	PGconn *c;
	struct mc_set *set;
	struct mc_report *r;
	const char *table;	/* schema-qualified, for messages */
	int rc;			/* 5 once a query failed */
	size_t missing;		/* missing-file findings: past MISSING_SHOWN only counted */
	size_t nulls;		/* rows with a NULL version */
};

/* A table of 200000 foreign rows must not become a report of 200000 findings. */
#define MISSING_SHOWN 20

static void __attribute__((format(printf, 8, 9)))
say(struct rd *d, enum mc_severity sev, const char *kind, int mig, const char *object,
    const char *file, const char *advice, const char *fmt, ...)
{
	struct mc_where w = { .file = file, .object = object, .migration = mig };
	char msg[1024];
	va_list ap;

	if (strcmp(kind, "missing-file") == 0 && d->missing++ >= MISSING_SHOWN)
		return;
	if (mig >= 0 && !file)
		w.file = d->set->m[mig].up.path;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mc_find(d->r, sev, kind, &w, advice, "%s", msg);
}

/* "schema.table" quoted as an identifier pair (malloc'd), or NULL. */
static char *
quoted(PGconn *c, const char *qualified)
{
	const char *dot = strchr(qualified, '.');
	char schema[128];

	if (!dot)
		return pgp_sql_build(c, "%I", qualified);
	snprintf(schema, sizeof(schema), "%.*s", (int) (dot - qualified), qualified);
	return pgp_sql_build(c, "%I.%I", schema, dot + 1);
}

/*
 * Runs a read-only query; NULL and d->rc = 5 after pgp_error naming the
 * table and, for SQLSTATE 42501, the privilege the role lacks.
 */
static PGresult *
query(struct rd *d, const char *table, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(d->c, sql, n, NULL, params, NULL, NULL, 0);
	const char *state;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "42501") == 0) {
		pgp_error("cannot read the bookkeeping table %s: %s", table,
			  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		pgp_hint("grant the role USAGE on the schema and SELECT on %s", table);
	} else
		pgp_error("cannot read the bookkeeping table %s: %s", table, PQerrorMessage(d->c));
	PQclear(res);
	d->rc = 5;
	return NULL;
}

/* The oid of a table as text ("" when absent), -1 on error. */
static int
regclass(struct rd *d, const char *table, char *oid, size_t size)
{
	char *q = quoted(d->c, table);
	const char *p[1] = { q };
	PGresult *res;

	oid[0] = '\0';
	if (!q) {
		d->rc = 5;
		return -1;
	}
	res = query(d, table, "SELECT pg_catalog.to_regclass($1)::oid", 1, p);
	free(q);
	if (!res)
		return -1;
	if (!PQgetisnull(res, 0, 0))
		snprintf(oid, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* SELECT cols FROM table [tail]: the query built with the table quoted. */
static PGresult *
select_from(struct rd *d, const char *table, const char *cols, const char *tail, int n,
	    const char *const *params)
{
	char *q = quoted(d->c, table), *sql;
	PGresult *res;

	if (!q) {
		d->rc = 5;
		return NULL;
	}
	if (asprintf(&sql, "SELECT %s FROM %s %s", cols, q, tail ? tail : "") < 0) {
		free(q);
		d->rc = 5;
		return NULL;
	}
	res = query(d, table, sql, n, params);
	free(sql);
	free(q);
	return res;
}

static const char *
val(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A row whose version is NULL: no tool writes one; counted, said once at the end. */
static int
null_version(struct rd *d, PGresult *res, int row, int col)
{
	if (!PQgetisnull(res, row, col))
		return 0;
	d->nulls++;
	return 1;
}

static int
vnumcmp(const char *a, const char *b)
{
	return lay_numcmp(a, strlen(a), b, strlen(b));
}

/* Pending migrations sorting before the last applied one (set order). */
static void
out_of_order(struct rd *d, enum mc_severity sev, const char *what, const char *advice)
{
	size_t last = 0, i;
	int any = 0;

	for (i = 0; i < d->set->n; i++)
		if (d->set->m[i].state == MC_STATE_APPLIED && !d->set->m[i].repeatable) {
			last = i;
			any = 1;
		}
	for (i = 0; any && i < last; i++)
		if (d->set->m[i].state == MC_STATE_PENDING && !d->set->m[i].repeatable)
			say(d, sev, "out-of-order", (int) i, d->set->m[i].version, NULL, advice,
			    "pending, but it sorts before %s, which is applied: %s",
			    d->set->m[last].version, what);
}

/* ---- Flyway ---- */

static int
flyway_find(struct mc_set *s, const char *canon)
{
	for (size_t i = 0; i < s->n; i++) {
		char *c;
		int eq;

		if (s->m[i].repeatable)
			continue;
		c = lay_flyway_canon(s->m[i].version, strlen(s->m[i].version));
		eq = c && strcmp(c, canon) == 0;
		free(c);
		if (eq)
			return (int) i;
	}
	return -1;
}

static void
flyway_repeatable(struct rd *d, const char *desc, const char *sum)
{
	for (size_t i = 0; i < d->set->n; i++) {
		struct mc_migration *m = &d->set->m[i];

		if (!m->repeatable || strcmp(m->name, desc) != 0)
			continue;
		/* The last row of a description decides: re-applied when changed. */
		m->state = sum && m->checksum && strcmp(sum, m->checksum) == 0 ?
			MC_STATE_APPLIED : MC_STATE_PENDING;
	}
}

static void
flyway_row(struct rd *d, PGresult *res, int row, char **baseline)
{
	const char *ver = val(res, row, 0), *desc = val(res, row, 1), *type = val(res, row, 2);
	const char *script = val(res, row, 3), *sum = val(res, row, 4);
	int ok = val(res, row, 5) && val(res, row, 5)[0] == 't', i;
	char *canon;

	if (!ver) {
		if (ok && type && strcmp(type, "DELETE") != 0)
			flyway_repeatable(d, desc ? desc : "", sum);
		return;
	}
	if (type && (strcmp(type, "SCHEMA") == 0 || strcmp(type, "DELETE") == 0))
		return;
	canon = lay_flyway_canon(ver, strlen(ver));
	if (!canon)
		return;
	if (type && strcmp(type, "BASELINE") == 0) {
		free(*baseline);
		*baseline = canon;
		return;
	}
	i = flyway_find(d->set, canon);
	if (type && strncmp(type, "UNDO", 4) == 0) {
		if (i >= 0 && ok)
			d->set->m[i].state = MC_STATE_PENDING;
	} else if (i < 0) {
		say(d, MC_SEV_FAIL, "missing-file", -1, ver, script,
		    "restore the file, or run flyway repair to mark it deleted",
		    "version %s (%s) is applied but no file has it: Flyway's validate fails "
		    "(applied migration not resolved locally)", ver, script ? script : "?");
	} else if (!ok) {
		d->set->m[i].state = MC_STATE_FAILED;
		say(d, MC_SEV_FAIL, "failed-migration", i, ver, NULL,
		    "undo what the failed migration did, then run flyway repair and migrate again",
		    "version %s is recorded as failed (success = false): Flyway refuses to migrate "
		    "until it is repaired", ver);
	} else {
		struct mc_migration *m = &d->set->m[i];

		m->state = MC_STATE_APPLIED;
		if (sum && m->checksum && strcmp(sum, m->checksum) != 0)
			say(d, MC_SEV_FAIL, "drift", i, ver, NULL,
			    "restore the applied file and put the change in a new version "
			    "(or run flyway repair if the edit is intended)",
			    "the file changed after it was applied: Flyway recorded checksum %s, the file "
			    "has %s, so validate fails", sum, m->checksum);
	}
	free(canon);
}

static void
read_flyway(struct rd *d)
{
	PGresult *res = select_from(d, d->table,
		"version, description, type, script, checksum::text, success::text", "ORDER BY installed_rank", 0, NULL);
	char *baseline = NULL;

	if (!res)
		return;
	for (int row = 0; row < PQntuples(res); row++)
		flyway_row(d, res, row, &baseline);
	PQclear(res);
	for (size_t i = 0; baseline && i < d->set->n; i++) {
		struct mc_migration *m = &d->set->m[i];
		char *c = m->repeatable ? NULL : lay_flyway_canon(m->version, strlen(m->version));

		/* At or below the baseline: Flyway never runs it. */
		if (c && m->state == MC_STATE_PENDING && lay_flyway_cmp(c, baseline) <= 0)
			m->state = MC_STATE_APPLIED;
		free(c);
	}
	free(baseline);
	out_of_order(d, MC_SEV_FAIL, "Flyway ignores it and validate fails (outOfOrder is false by default)",
		     "give it a version above the last applied one, or run with -outOfOrder=true");
}

/* ---- schema_migrations: golang-migrate, dbmate, Rails ---- */

/* Whose schema_migrations this is, from its columns and its neighbour. */
static enum mc_tool
schema_migrations_tool(struct rd *d, const char *oid, int *has_dirty)
{
	const char *p[1] = { oid };
	PGresult *res = query(d, d->table,
		"SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)"
		" FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0"
		" AND NOT a.attisdropped", 1, p);
	char meta[32];
	int bigint = 0;

	*has_dirty = 0;
	if (!res)
		return MC_TOOL_UNKNOWN;
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "dirty") == 0)
			*has_dirty = 1;
		if (strcmp(PQgetvalue(res, i, 0), "version") == 0 && strcmp(PQgetvalue(res, i, 1), "bigint") == 0)
			bigint = 1;
	}
	PQclear(res);
	if (*has_dirty || bigint)
		return MC_TOOL_GOLANG_MIGRATE;
	if (regclass(d, "public.ar_internal_metadata", meta, sizeof(meta)) < 0)
		return MC_TOOL_UNKNOWN;
	return meta[0] ? MC_TOOL_RAILS : MC_TOOL_DBMATE;
}

static void
read_golang(struct rd *d, int has_dirty)
{
	PGresult *res = select_from(d, d->table, has_dirty ? "version::text, dirty::text" : "version::text, 'false'",
				    "LIMIT 1", 0, NULL);
	const char *v;
	int dirty, hit = -1;

	if (!res)
		return;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return;
	}
	v = PQgetvalue(res, 0, 0);
	dirty = PQgetvalue(res, 0, 1)[0] == 't';
	/* A text column may hold anything; golang-migrate scans an integer (and compared as one, "abc" would
	 * pass for a version above every file, so nothing would look pending). */
	if (PQgetisnull(res, 0, 0) || !((v[0] && !v[strspn(v, "0123456789")]) || strcmp(v, "-1") == 0)) {
		say(d, MC_SEV_FAIL, "drift", -1, PQgetisnull(res, 0, 0) ? "NULL" : v, NULL,
		    "set the row to the version of the last migration that ran (migrate force V)",
		    "%s holds version %s, which is not a number: golang-migrate cannot read it",
		    d->table, PQgetisnull(res, 0, 0) ? "NULL" : v);
		PQclear(res);
		return;
	}
	if (v[0] == '-') {	/* -1, NilVersion: only ever written dirty */
		if (dirty)
			say(d, MC_SEV_FAIL, "dirty", -1, v, NULL, "run `migrate force -1` once the schema is clean",
			    "the database is dirty at version -1: a migration from nothing failed part way and "
			    "golang-migrate refuses to run");
		PQclear(res);
		return;
	}
	/* One row, the current version: every file up to it counts as applied. */
	for (size_t i = 0; i < d->set->n; i++) {
		int c = vnumcmp(d->set->m[i].version, v);

		if (c <= 0)
			d->set->m[i].state = MC_STATE_APPLIED;
		if (c == 0)
			hit = (int) i;
	}
	if (hit < 0 && strcmp(v, "-1") != 0)
		say(d, MC_SEV_FAIL, "missing-file", -1, v, NULL,
		    "restore the migration files of that version",
		    "the database is at version %s, which no file has: golang-migrate cannot move from it", v);
	if (dirty) {
		char prev[64] = "the previous version";

		if (hit > 0)
			snprintf(prev, sizeof(prev), "%s", d->set->m[hit - 1].version);
		if (hit >= 0)
			d->set->m[hit].state = MC_STATE_FAILED;
		say(d, MC_SEV_FAIL, "dirty", hit, v, NULL, NULL,
		    "version %s is dirty: its migration failed part way and golang-migrate refuses to run "
		    "(\"Dirty database version %s. Fix and force version.\"); check what it left, fix the schema "
		    "by hand, then run `migrate force %s` if it completed or `migrate force %s` to re-run it",
		    v, v, v, prev);
	}
	PQclear(res);
}

static int
find_version(struct mc_set *s, const char *v, int numeric)
{
	for (size_t i = 0; i < s->n; i++)
		if (numeric ? vnumcmp(s->m[i].version, v) == 0 : strcmp(s->m[i].version, v) == 0)
			return (int) i;
	return -1;
}

/* dbmate (versions compared as strings) and Rails (as numbers). */
static void
read_versions(struct rd *d, int numeric)
{
	PGresult *res = select_from(d, d->table, "version::text", "ORDER BY 1", 0, NULL);
	const char *tool = numeric ? "Rails" : "dbmate";

	if (!res)
		return;
	for (int row = 0; row < PQntuples(res); row++) {
		const char *v = PQgetvalue(res, row, 0);
		int i = null_version(d, res, row, 0) ? -2 : find_version(d->set, v, numeric);

		if (i >= 0)
			d->set->m[i].state = MC_STATE_APPLIED;
		else if (i == -1)
			say(d, MC_SEV_WARN, "missing-file", -1, v, NULL,
			    "restore the file, so that it can be rolled back and rebuilt",
			    "version %s is applied but no file has it: %s cannot roll it back", v, tool);
	}
	PQclear(res);
	out_of_order(d, MC_SEV_WARN, numeric ? "Rails applies it anyway, out of order" :
		     "dbmate applies it out of order (and refuses it with --strict)",
		     "give it a version after the last applied one, so every database gets one order");
}

static void
read_schema_migrations(struct rd *d, const char *oid)
{
	int has_dirty;
	enum mc_tool t = schema_migrations_tool(d, oid, &has_dirty);

	if (d->rc)
		return;
	if (t != d->set->tool)
		say(d, MC_SEV_WARN, "drift", -1, d->table, NULL,
		    "check the table and the directory belong to one application, or name the tool with --tool",
		    "%s looks like %s's (%s), but the files are %s's: it is read as %s reads it",
		    d->table, mc_tool_name(t),
		    t == MC_TOOL_GOLANG_MIGRATE ? "version bigint, dirty boolean" :
		    t == MC_TOOL_RAILS ? "with ar_internal_metadata beside it" : "version varchar, no ar_internal_metadata",
		    mc_tool_name(d->set->tool), mc_tool_name(d->set->tool));
	if (d->set->tool == MC_TOOL_GOLANG_MIGRATE)
		read_golang(d, has_dirty);
	else
		read_versions(d, d->set->tool == MC_TOOL_RAILS);
}

/* ---- sqitch ---- */

static void
read_sqitch(struct rd *d)
{
	char *project = lay_sqitch_project(d->set->dir, d->set);
	const char *p[1] = { project };
	PGresult *res = select_from(d, d->table, "change, script_hash",
				    "WHERE ($1::text IS NULL OR project = $1) ORDER BY committed_at, change_id", 1, p), *ev;
	int *used;
	char oid[32];

	if (!res || !(used = calloc((size_t) PQntuples(res) + 1, sizeof(int)))) {
		PQclear(res);
		free(project);
		return;
	}
	/* The k-th occurrence of a change name in the plan is its k-th row:
	 * a reworked change is deployed once per occurrence. */
	for (size_t i = 0; i < d->set->n; i++) {
		struct mc_migration *m = &d->set->m[i];

		for (int row = 0; row < PQntuples(res); row++) {
			const char *hash = val(res, row, 1);

			if (used[row] || strcmp(PQgetvalue(res, row, 0), m->name) != 0)
				continue;
			used[row] = 1;
			m->state = MC_STATE_APPLIED;
			if (hash && m->checksum && strcmp(hash, m->checksum) != 0)
				say(d, MC_SEV_WARN, "drift", (int) i, m->version, NULL,
				    "restore the deployed script and change it with sqitch rework",
				    "the deploy script changed after it was deployed: sqitch recorded script_hash %s, "
				    "the file's SHA-1 is %s (sqitch hashes the raw bytes: line endings count)",
				    hash, m->checksum);
			break;
		}
	}
	for (int row = 0; row < PQntuples(res); row++)
		if (!used[row] && !null_version(d, res, row, 0))
			say(d, MC_SEV_WARN, "missing-file", -1, PQgetvalue(res, row, 0), NULL,
			    "restore the change in sqitch.plan and its scripts",
			    "change %s is deployed but the plan has no such change: sqitch cannot revert it",
			    PQgetvalue(res, row, 0));
	free(used);
	PQclear(res);
	if (regclass(d, "sqitch.events", oid, sizeof(oid)) < 0 || !oid[0]) {
		free(project);
		return;
	}
	ev = select_from(d, "sqitch.events", "DISTINCT ON (change) change, event",
			 "WHERE ($1::text IS NULL OR project = $1) ORDER BY change, committed_at DESC", 1, p);
	for (int row = 0; ev && row < PQntuples(ev); row++) {
		if (strcmp(PQgetvalue(ev, row, 1), "fail") != 0)
			continue;
		for (size_t i = 0; i < d->set->n; i++)
			if (d->set->m[i].state == MC_STATE_PENDING && strcmp(d->set->m[i].name, PQgetvalue(ev, row, 0)) == 0) {
				d->set->m[i].state = MC_STATE_FAILED;
				say(d, MC_SEV_WARN, "failed-migration", (int) i, d->set->m[i].version, NULL,
				    "check that its failed deploy left nothing behind (a script without BEGIN/COMMIT "
				    "keeps what ran), then deploy again",
				    "the last deploy of %s failed (sqitch.events: fail)", d->set->m[i].version);
				break;
			}
	}
	PQclear(ev);
	free(project);
	out_of_order(d, MC_SEV_WARN, "sqitch deploys the plan from the last deployed change onward, so it "
		     "would not deploy this one", "move the change after the deployed ones in sqitch.plan");
}

/* ---- Prisma ---- */

static void
read_prisma(struct rd *d)
{
	PGresult *res = select_from(d, d->table,
		"migration_name, checksum, (finished_at IS NOT NULL)::text, (rolled_back_at IS NOT NULL)::text",
		"ORDER BY started_at", 0, NULL);

	if (!res)
		return;
	for (int row = 0; row < PQntuples(res); row++) {
		const char *name = PQgetvalue(res, row, 0), *sum = val(res, row, 1);
		int finished = PQgetvalue(res, row, 2)[0] == 't', rolled = PQgetvalue(res, row, 3)[0] == 't';
		int i = find_version(d->set, name, 0);
		struct mc_migration *m;

		if (rolled || null_version(d, res, row, 0))
			continue;	/* resolved --rolled-back: Prisma applies it again */
		if (i < 0) {
			say(d, MC_SEV_WARN, "missing-file", -1, name, NULL,
			    "restore the migration folder from version control",
			    "migration %s is applied but has no folder: prisma migrate reports the history diverged", name);
			continue;
		}
		m = &d->set->m[i];
		if (!finished) {
			m->state = MC_STATE_FAILED;
			say(d, MC_SEV_FAIL, "failed-migration", i, name, NULL,
			    "undo what it did and run `prisma migrate resolve --rolled-back NAME`, or finish it by hand "
			    "and run `prisma migrate resolve --applied NAME`",
			    "migration %s failed (finished_at and rolled_back_at are NULL): prisma migrate deploy "
			    "refuses to run until it is resolved (P3009)", name);
			continue;
		}
		m->state = MC_STATE_APPLIED;
		if (m->up.text && mc_checksum_matches(MC_TOOL_PRISMA, m->up.text, m->up.text_len, sum) == 0)
			say(d, MC_SEV_WARN, "drift", i, name, NULL,
			    "restore the applied migration.sql and put the change in a new migration",
			    "migration.sql changed after it was applied (checksum %s recorded, %s now, line endings "
			    "aside): prisma migrate dev reports it modified and asks to reset the database",
			    sum ? sum : "NULL", m->checksum ? m->checksum : "?");
	}
	PQclear(res);
	out_of_order(d, MC_SEV_WARN, "prisma migrate deploy applies it anyway, out of order",
		     "recreate it with a newer timestamp so that every database gets one order");
}

/* ---- Drizzle ---- */

/*
 * drizzle-orm/src/pg-core/dialect.ts PgDialect.migrate() (read there):
 * "order by created_at desc limit 1", then every journal entry with
 * Number(last.created_at) < folderMillis runs, all in one transaction;
 * hashes of applied rows are never compared.
 */
static void
read_drizzle(struct rd *d)
{
	PGresult *res = select_from(d, d->table, "hash, created_at::text", "ORDER BY created_at DESC", 0, NULL);
	long long last = 0;
	int any, *used;

	if (!res)
		return;
	any = PQntuples(res) > 0;
	if (any)
		last = strtoll(PQgetvalue(res, 0, 1), NULL, 10);	/* NULL sorts first: Number(null) = 0 */
	used = calloc((size_t) PQntuples(res) + 1, sizeof(int));
	for (size_t i = 0; used && i < d->set->n; i++) {
		struct mc_migration *m = &d->set->m[i];
		int hit = -1;

		for (int row = 0; row < PQntuples(res) && hit < 0; row++)
			if (strtoll(PQgetvalue(res, row, 1), NULL, 10) == m->order_key ||
			    (m->checksum && strcmp(PQgetvalue(res, row, 0), m->checksum) == 0))
				hit = row;
		if (hit >= 0) {
			used[hit] = 1;
			m->state = MC_STATE_APPLIED;
			if (m->checksum && strcmp(PQgetvalue(res, hit, 0), m->checksum) != 0)
				say(d, MC_SEV_WARN, "drift", (int) i, m->version, NULL,
				    "restore the applied file and generate a new migration for the change",
				    "the file changed after it was applied (hash %.12s… recorded, %.12s… now): Drizzle "
				    "never re-checks applied hashes, so the edit will not run anywhere it ran",
				    PQgetvalue(res, hit, 0), m->checksum);
		} else if (any && m->order_key <= last) {
			m->state = MC_STATE_UNKNOWN;
			say(d, MC_SEV_FAIL, "out-of-order", (int) i, m->version, NULL,
			    "regenerate it so that its \"when\" is after the last applied migration's",
			    "not applied, and Drizzle silently skips it: its \"when\" %lld is not after the last "
			    "applied migration's %lld", m->order_key, last);
		}
	}
	for (int row = 0; used && row < PQntuples(res); row++)
		if (!used[row])
			say(d, MC_SEV_WARN, "missing-file", -1, PQgetvalue(res, row, 1), NULL,
			    "restore the migration and its journal entry",
			    "a migration applied at %s (hash %.12s…) is not in the journal", PQgetvalue(res, row, 1),
			    PQgetvalue(res, row, 0));
	free(used);
	PQclear(res);
}

/* ---- knex ---- */

static void
read_knex(struct rd *d)
{
	PGresult *res = select_from(d, d->table, "name", "ORDER BY id", 0, NULL);
	char oid[32];

	if (!res)
		return;
	for (int row = 0; row < PQntuples(res); row++) {
		const char *name = PQgetvalue(res, row, 0);
		int i = null_version(d, res, row, 0) ? -2 : find_version(d->set, name, 0);

		if (i >= 0)
			d->set->m[i].state = MC_STATE_APPLIED;
		else if (i == -1)
			say(d, MC_SEV_FAIL, "missing-file", -1, name, NULL,
			    "restore the file (or set disableMigrationsListValidation, knowing why)",
			    "%s is applied but not in the directory: knex refuses to migrate (\"The migration "
			    "directory is corrupt, the following files are missing\")", name);
	}
	PQclear(res);
	out_of_order(d, MC_SEV_WARN, "knex runs it in the next batch, out of order",
		     "rename it after the last applied migration");
	if (regclass(d, "public.knex_migrations_lock", oid, sizeof(oid)) < 0 || !oid[0])
		return;
	res = select_from(d, "public.knex_migrations_lock", "count(*)::text", "WHERE is_locked = 1", 0, NULL);
	if (res && strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		say(d, MC_SEV_FAIL, "stuck-lock", -1, "public.knex_migrations_lock", NULL,
		    "make sure no migration is running, then run `knex migrate:unlock`",
		    "knex_migrations_lock is held (is_locked = 1): knex refuses to migrate (\"Migration table "
		    "is already locked\"); a crashed run leaves it so");
	PQclear(res);
}

/* ---- Alembic ---- */

static void
mark_ancestors(struct rd *d, size_t i, int depth)
{
	char p[4096], *text = NULL, **downs;
	size_t n = 0, len = 0;
	FILE *f;

	if (depth > 10000 || d->set->m[i].state == MC_STATE_APPLIED)
		return;
	d->set->m[i].state = MC_STATE_APPLIED;
	snprintf(p, sizeof(p), "%s/%s", d->set->dir, d->set->m[i].up.path);
	if (!(f = fopen(p, "r")))
		return;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		fclose(f);
		return;
	}
	fclose(f);
	downs = lay_alembic_downs(text, &n);
	free(text);
	for (size_t k = 0; k < n; k++) {
		int j = find_version(d->set, downs[k], 0);

		if (j >= 0)
			mark_ancestors(d, (size_t) j, depth + 1);
	}
	lay_alembic_downs_free(downs, n);
}

/* version_num rows are the heads: each one and its ancestors are applied. */
static void
read_alembic(struct rd *d)
{
	PGresult *res = select_from(d, d->table, "version_num", "", 0, NULL);

	if (!res)
		return;
	for (int row = 0; row < PQntuples(res); row++) {
		const char *head = PQgetvalue(res, row, 0);
		int i = null_version(d, res, row, 0) ? -2 : find_version(d->set, head, 0);

		if (i >= 0)
			mark_ancestors(d, (size_t) i, 0);
		else if (i == -1)
			say(d, MC_SEV_FAIL, "missing-file", -1, head, NULL,
			    "restore that revision's file, or `alembic stamp` a revision that exists",
			    "the database is at revision %s, which no file has: Alembic stops "
			    "(\"Can't locate revision identified by '%s'\")", head, head);
	}
	PQclear(res);
}

/* What say() only counted: the applied versions past the first MISSING_SHOWN, the NULL rows. */
static void
applied_summary(struct rd *d)
{
	struct mc_where w = { .object = d->table, .migration = -1 };

	if (d->missing > MISSING_SHOWN)
		mc_find(d->r, MC_SEV_WARN, "missing-file", &w, "check that the table and the directory belong to one "
			"application", "and %zu more applied versions in %s that no file has (%zu in all; the first %d "
			"are above)", d->missing - MISSING_SHOWN, d->table, d->missing, MISSING_SHOWN);
	if (d->nulls)
		mc_find(d->r, MC_SEV_WARN, "drift", &w, "delete the rows, or set them to the versions they stand for",
			"%zu row%s of %s %s a NULL version: no tool writes one, so something else edited the table",
			d->nulls, d->nulls == 1 ? "" : "s", d->table, d->nulls == 1 ? "has" : "have");
}

int
mc_applied_read(PGconn *target, struct mc_set *set, struct mc_report *r)
{
	struct rd d = { .c = target, .set = set, .r = r, .table = set->table };
	char oid[32];

	for (size_t i = 0; i < set->n; i++)
		set->m[i].state = MC_STATE_PENDING;
	if (!set->table)
		return 0;	/* plain files: no bookkeeping, everything runs */
	if (regclass(&d, set->table, oid, sizeof(oid)) < 0)
		return d.rc;
	if (!oid[0])
		return 0;
	{
		const char *p[1] = { oid };
		PGresult *res = query(&d, set->table, "SELECT pg_catalog.has_table_privilege($1::oid, 'SELECT')", 1, p);

		if (!res)
			return d.rc;
		if (PQgetvalue(res, 0, 0)[0] != 't') {
			pgp_error("cannot read the bookkeeping table %s: the role %s lacks the SELECT privilege on it",
				  set->table, PQuser(target));
			pgp_hint("GRANT SELECT ON %s TO %s", set->table, PQuser(target));
			PQclear(res);
			return 5;
		}
		PQclear(res);
	}
	switch (set->tool) {
	case MC_TOOL_FLYWAY: read_flyway(&d); break;
	case MC_TOOL_GOLANG_MIGRATE:
	case MC_TOOL_DBMATE:
	case MC_TOOL_RAILS: read_schema_migrations(&d, oid); break;
	case MC_TOOL_SQITCH: read_sqitch(&d); break;
	case MC_TOOL_PRISMA: read_prisma(&d); break;
	case MC_TOOL_DRIZZLE: read_drizzle(&d); break;
	case MC_TOOL_KNEX: read_knex(&d); break;
	case MC_TOOL_ALEMBIC: read_alembic(&d); break;
	default: break;
	}
	applied_summary(&d);
	return d.rc;
}
