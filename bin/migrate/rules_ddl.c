/*
 * One statement's lock, rewrite and scan rules (what the statements
 * before it created or proved is in rules_learn.c).  A rewrite rule
 * fires on the trace's relfilenode evidence where the statement ran, a
 * scan rule on the server's "verifying table" message; elsewhere the
 * static guess fires and says so.  Tables created earlier in the
 * pending run are exempt from the lock, rewrite and scan rules: nobody
 * uses them yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"
#include "sqlparse.h"

#define NAMELEN 256

static int
is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

/* ---- evidence ---- */

/*
 * Whether a rewrite (scan) rule fires for rel: 1 the trace saw it, 0 the
 * trace ran it and saw none, 2 the static guess (no trace, or it failed).
 */
static int
rewrite_fires(struct rl *rc, const struct mc_stmt *s, const char *rel, int scan)
{
	int ev;

	if (rl_failed(s))
		return 2;
	ev = scan ? rl_ev_scanned(rc, s, rel) : rl_ev_rewrote(rc, s, rel);
	return ev < 0 ? 2 : ev;
}

static const char *
proof(int fires, int scan)
{
	if (fires == 1)
		return scan ? " (the copy's server verified the table)" : " (the copy's relfilenode changed)";
	return " (static judgement: not traced)";
}

/* ---- ALTER TABLE ---- */

/* 1 when this run added the column (so dropping it again breaks nobody). */
static int
column_added(const struct rl *rc, const char *table, const char *col)
{
	char key[2 * NAMELEN + 2];

	snprintf(key, sizeof(key), "%s\t%s", table, col ? col : "?");
	return rl_names_has(&rc->created, key);
}

static void
add_column(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *cd)
{
	json_object *cons = mc_jget(cd, "constraints", NULL), *dflt = NULL;
	const char *col = mc_jstr(cd, "colname");
	int notnull = 0, auto_inc = 0, generated = 0, fires;
	char type[64], obj[2 * NAMELEN], fn[64];
	int m1, m2;

	rl_style_column(rc, s, table, NULL, cd);
	/* a column this run adds is new: its own down may drop it (a tab cannot be in a name here) */
	snprintf(obj, sizeof(obj), "%s\t%s", table, col ? col : "?");
	rl_names_add(&rc->created, obj);
	if (!rl_exists(rc, table))
		return;
	snprintf(obj, sizeof(obj), "%s.%s", table, col ? col : "?");
	rl_type_of(mc_jget(cd, "typeName", NULL), type, sizeof(type), &m1, &m2);
	auto_inc = strstr(type, "serial") != NULL;
	for (size_t i = 0; cons && i < json_object_array_length(cons); i++) {
		json_object *con = rl_con_of(cons, i);
		const char *t = rl_contype(con);

		if (is(t, "CONSTR_DEFAULT"))
			dflt = mc_jget(con, "raw_expr", NULL);
		else if (is(t, "CONSTR_NOTNULL") || is(t, "CONSTR_PRIMARY"))
			notnull = 1;
		else if (is(t, "CONSTR_IDENTITY"))
			auto_inc = 1;
		else if (is(t, "CONSTR_GENERATED"))
			generated = 1;
		if (is(t, "CONSTR_UNIQUE") || is(t, "CONSTR_PRIMARY"))
			rl_find(rc, s, MC_SEV_FAIL, "lock", "disallowed-unique-constraint", obj,
				"add the column, then CREATE UNIQUE INDEX CONCURRENTLY and ADD CONSTRAINT ... UNIQUE USING INDEX",
				"an inline %s builds its index while holding ACCESS EXCLUSIVE on %s",
				is(t, "CONSTR_UNIQUE") ? "UNIQUE" : "PRIMARY KEY", table);
		if (is(t, "CONSTR_FOREIGN"))
			rl_find(rc, s, MC_SEV_FAIL, "lock", "adding-foreign-key-constraint", obj,
				"add the column, then ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID; "
				"VALIDATE CONSTRAINT in a later transaction",
				"an inline REFERENCES takes SHARE ROW EXCLUSIVE on %s and the referenced table", table);
	}
	if (generated || auto_inc || dflt) {
		enum rl_vol v = RL_VOLATILE;
		const char *why = generated ? "a STORED generated column" : auto_inc ? "a serial or identity column" : NULL;
		char whybuf[128];

		fn[0] = '\0';
		if (!why && rc->ctx->pg_version < 110000)
			why = "a DEFAULT before PostgreSQL 11";
		if (!why && (v = rl_volatility(dflt, fn, sizeof(fn))) == RL_NONVOLATILE)
			goto required;
		if (!why) {
			snprintf(whybuf, sizeof(whybuf), "a DEFAULT calling %s%s%s", fn, strchr(fn, ' ') ? "" : "()",
				 v == RL_VOLATILE ? ", a volatile function," : " (not a known stable built-in)");
			why = whybuf;
		}
		fires = rewrite_fires(rc, s, table, 0);
		if (fires)
			rl_find(rc, s, fires == 2 && v == RL_UNKNOWN ? MC_SEV_WARN : MC_SEV_FAIL, "rewrite",
				generated || !auto_inc ? "adding-field-with-default" : "adding-serial-field", obj,
				generated ? "a plain column kept up to date by a trigger, backfilled in batches" :
				auto_inc ? "add a nullable bigint, CREATE SEQUENCE and SET DEFAULT nextval(...), backfill in "
				"batches, then make it NOT NULL the safe way (CHECK NOT VALID, VALIDATE, SET NOT NULL)" :
				"add the column without the default (nullable), then ALTER COLUMN ... SET DEFAULT, "
				"and backfill existing rows in batches",
				"%s %s %s while holding ACCESS EXCLUSIVE%s", why,
				fires == 2 && v == RL_UNKNOWN ? "may rewrite" : "rewrites", table, proof(fires, 0));
		return;
	}
required:
	if (notnull && !dflt && !rl_failed(s))
		rl_find(rc, s, MC_SEV_FAIL, "error", "adding-required-field", obj,
			"add it nullable, or NOT NULL with a constant DEFAULT (no rewrite since PostgreSQL 11)",
			"ADD COLUMN ... NOT NULL without a DEFAULT fails on a table with rows (SQLSTATE 23502) "
			"and breaks inserts of the code running now");
}

static void
alter_type(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *c)
{
	const char *col = mc_jstr(c, "name");
	json_object *cd = mc_jget(c, "def", "ColumnDef", NULL);
	struct rl_col *old = col ? rl_col_find(rc, table, col) : NULL;
	char type[64], obj[2 * NAMELEN], oldtype[96], newtype[96], buf[96];
	int m1, m2, co, fires;
	enum mc_severity sev = MC_SEV_FAIL;
	const char *what = "rewrites";

	rl_style_column(rc, s, table, col, cd);
	if (!rl_exists(rc, table))
		return;
	snprintf(obj, sizeof(obj), "%s.%s", table, col ? col : "?");
	rl_type_of(mc_jget(cd, "typeName", NULL), type, sizeof(type), &m1, &m2);
	rl_type_str(type, m1, m2, newtype, sizeof(newtype));
	co = mc_jget(cd, "raw_default", NULL) ? 0 : old ? rl_binary_coercible(old, type, m1, m2) : -2;
	if (co == -1 && rc->ctx->pg_version < 120000)
		co = 0;
	fires = rewrite_fires(rc, s, table, 0);
	if (fires == 2 && co == 1)
		return;
	if (fires == 2 && co < 0) {
		sev = MC_SEV_WARN;
		what = co == -1 ? "rewrites unless the session TimeZone is UTC:" : "may rewrite";
	}
	if (old)
		snprintf(oldtype, sizeof(oldtype), " from %s", rl_type_str(old->type, old->mod1, old->mod2, buf, sizeof(buf)));
	else
		oldtype[0] = '\0';
	if (fires)
		rl_find(rc, s, sev, "rewrite", "changing-column-type", obj,
			"add a new column, write both, backfill in batches, then swap (binary-coercible changes such as "
			"varchar(n) to a longer varchar or text need no rewrite)",
			"ALTER COLUMN %s TYPE %s%s %s %s and its indexes while holding ACCESS EXCLUSIVE%s",
			col ? col : "?", newtype, oldtype, what, table, proof(fires, 0));
}

static void
set_not_null(struct rl *rc, const struct mc_stmt *s, const char *table, const char *col)
{
	char obj[2 * NAMELEN];
	int fires;

	if (!col || !rl_exists(rc, table))
		return;
	if (rc->ctx->pg_version >= 120000 && rl_pair_find(&rc->notnull, table, col, strlen(col)) >= 0)
		return;
	fires = rewrite_fires(rc, s, table, 1);
	if (!fires)
		return;
	snprintf(obj, sizeof(obj), "%s.%s", table, col);
	rl_find(rc, s, MC_SEV_FAIL, "scan", "adding-not-nullable-field", obj,
		rc->ctx->pg_version >= 120000 ?
		"ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c (another transaction); "
		"then SET NOT NULL skips the scan; then DROP CONSTRAINT c" :
		"before PostgreSQL 12 SET NOT NULL always scans: use a CHECK (col IS NOT NULL) NOT VALID constraint instead",
		"SET NOT NULL scans all of %s while holding ACCESS EXCLUSIVE%s", table, proof(fires, 1));
}

/* Eugene W14: PRIMARY KEY USING INDEX sets its columns NOT NULL, with a scan. */
static void
pk_using_index(struct rl *rc, const struct mc_stmt *s, const char *table, const char *index)
{
	const char *cols = rl_index_cols(rc, index);
	char buf[2 * NAMELEN], *col, *save = NULL;
	int fires;

	if (!cols)
		return;
	snprintf(buf, sizeof(buf), "%s", cols);
	for (col = strtok_r(buf, ",", &save); col; col = strtok_r(NULL, ",", &save))
		if (rl_pair_find(&rc->notnull, table, col, strlen(col)) < 0 && (fires = rewrite_fires(rc, s, table, 1))) {
			char obj[2 * NAMELEN];

			snprintf(obj, sizeof(obj), "%s.%s", table, col);
			rl_find(rc, s, MC_SEV_FAIL, "scan", "primary-key-using-index-not-null", obj,
				"make the columns NOT NULL first the safe way: CHECK (col IS NOT NULL) NOT VALID, VALIDATE, "
				"SET NOT NULL; then ADD PRIMARY KEY USING INDEX",
				"ADD PRIMARY KEY USING INDEX %s makes %s NOT NULL: a scan of %s under ACCESS EXCLUSIVE%s",
				index, col, table, proof(fires, 1));
			return;
		}
}

static void
add_constraint(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *con)
{
	const char *t = rl_contype(con), *name = mc_jstr(con, "conname");
	char obj[2 * NAMELEN], ref[NAMELEN];
	int not_valid = mc_jbool(con, "skip_validation"), fires;

	snprintf(obj, sizeof(obj), "%s%s%s", table, name ? "." : "", name ? name : "");
	rl_style_ident(rc, s, name);
	if (not_valid && name && rl_in_block(rc))
		rl_pair_add(&rc->txn_not_valid, table, name);
	if (!rl_exists(rc, table) || not_valid)
		return;
	if (is(t, "CONSTR_CHECK") && (fires = rewrite_fires(rc, s, table, 1)))
		rl_find(rc, s, MC_SEV_FAIL, "scan", "constraint-missing-not-valid", obj,
			"ADD CONSTRAINT ... CHECK (...) NOT VALID; then VALIDATE CONSTRAINT in another transaction "
			"(SHARE UPDATE EXCLUSIVE: reads and writes go on)",
			"ADD CHECK without NOT VALID scans all of %s while holding ACCESS EXCLUSIVE%s", table, proof(fires, 1));
	else if (is(t, "CONSTR_FOREIGN"))
		rl_find(rc, s, MC_SEV_FAIL, "lock", "adding-foreign-key-constraint", obj,
			"ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID; then VALIDATE CONSTRAINT in another transaction",
			"ADD FOREIGN KEY without NOT VALID scans %s while holding SHARE ROW EXCLUSIVE on it and on %s: "
			"writes to both wait", table, mc_rangevar_name(mc_jget(con, "pktable", NULL), ref, sizeof(ref)));
	else if (is(t, "CONSTR_PRIMARY") && mc_jstr(con, "indexname"))
		pk_using_index(rc, s, table, mc_jstr(con, "indexname"));
	else if ((is(t, "CONSTR_PRIMARY") || is(t, "CONSTR_UNIQUE")) && !mc_jstr(con, "indexname"))
		rl_find(rc, s, MC_SEV_FAIL, "lock",
			is(t, "CONSTR_PRIMARY") ? "adding-serial-primary-key-field" : "disallowed-unique-constraint", obj,
			"CREATE UNIQUE INDEX CONCURRENTLY i ON t (...); then ADD CONSTRAINT ... %s USING INDEX i",
			"ADD %s builds its index while holding ACCESS EXCLUSIVE on %s: reads and writes wait",
			is(t, "CONSTR_PRIMARY") ? "PRIMARY KEY" : "UNIQUE", table);
	else if (is(t, "CONSTR_EXCLUSION"))
		rl_find(rc, s, MC_SEV_FAIL, "lock", "adding-exclusion-constraint", obj,
			"there is no online way: add it while the table is small or in a maintenance window",
			"ADD EXCLUDE builds its index while holding ACCESS EXCLUSIVE on %s", table);
}

static void
detach(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *pc)
{
	char part[NAMELEN];
	int conc = mc_jbool(pc, "concurrent");

	mc_rangevar_name(mc_jget(pc, "name", NULL), part, sizeof(part));
	if (conc && rc->ctx->pg_version < 140000 && !rl_failed(s))
		rl_find(rc, s, MC_SEV_FAIL, "error", "detach-partition-concurrently-version", part,
			"drop CONCURRENTLY on this server, with a lock_timeout", "DETACH PARTITION ... CONCURRENTLY needs PostgreSQL 14");
	else if (!conc && rc->ctx->pg_version >= 140000 && rl_exists(rc, table))
		rl_find(rc, s, MC_SEV_FAIL, "lock", "require-concurrent-partition-detach", part,
			"ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, alone outside a transaction block",
			"DETACH PARTITION takes ACCESS EXCLUSIVE on %s and %s", table, part);
}

/* Eugene W12: another ALTER TABLE taking ACCESS EXCLUSIVE on a table this script altered. */
static void
multiple_alter(struct rl *rc, const struct mc_stmt *s, const char *table)
{
	struct mc_lock *l;
	size_t n = mc_static_locks(s, &l);
	int ae = 0, seen = 0;

	for (size_t i = 0; i < n; i++)
		ae |= rl_same_rel(l[i].relation, table) && strcmp(l[i].mode, "AccessExclusiveLock") == 0;
	mc_locks_free(l, n);
	if (!ae || !rl_exists(rc, table))
		return;
	for (size_t i = 0; i < rc->altered.n; i++)
		seen += rl_same_rel(rc->altered.v[i], table);
	if (seen == 1)
		rl_find(rc, s, MC_SEV_INFO, "lock", "multiple-alter-table", table,
			"combine the subcommands into one ALTER TABLE (one lock, at most one scan or rewrite)",
			"another ALTER TABLE on %s in this migration: each takes ACCESS EXCLUSIVE again and may scan again", table);
	if (seen < 2)
		rl_names_add(&rc->altered, table);
}

static void
alter_table(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	json_object *cmds = mc_jget(b, "cmds", NULL);
	char table[NAMELEN], obj[2 * NAMELEN];

	mc_rangevar_name(mc_jget(b, "relation", NULL), table, sizeof(table));
	multiple_alter(rc, s, table);
	for (size_t i = 0; cmds && i < json_object_array_length(cmds); i++) {
		json_object *c = mc_node_body(json_object_array_get_idx(cmds, i));
		const char *st = mc_jstr(c, "subtype"), *name = mc_jstr(c, "name");
		json_object *def = mc_jget(c, "def", NULL);

		snprintf(obj, sizeof(obj), "%s.%s", table, name ? name : "?");
		if (is(st, "AT_AddColumn"))
			add_column(rc, s, table, mc_jget(def, "ColumnDef", NULL));
		else if (is(st, "AT_AlterColumnType"))
			alter_type(rc, s, table, c);
		else if (is(st, "AT_SetNotNull"))
			set_not_null(rc, s, table, name);
		else if (is(st, "AT_AddConstraint"))
			add_constraint(rc, s, table, mc_jget(def, "Constraint", NULL));
		else if (is(st, "AT_ValidateConstraint") && name &&
			 rl_pair_find(&rc->txn_not_valid, table, name, strlen(name)) >= 0)
			rl_find(rc, s, MC_SEV_WARN, "lock", "constraint-missing-not-valid", obj,
				"COMMIT after ADD CONSTRAINT ... NOT VALID; VALIDATE CONSTRAINT in the next transaction (or migration)",
				"NOT VALID and VALIDATE CONSTRAINT in one transaction: the lock ADD CONSTRAINT took is kept through the scan");
		else if (is(st, "AT_DropColumn") && rl_exists(rc, table) && !column_added(rc, table, name))
			rl_find(rc, s, MC_SEV_WARN, "lock", "ban-drop-column", obj,
				"deploy code that no longer reads or writes the column first, then drop it",
				"DROP COLUMN breaks the code running now if it still uses %s", name ? name : "the column");
		else if (is(st, "AT_DropNotNull") && rl_exists(rc, table))
			rl_find(rc, s, MC_SEV_WARN, "lock", "ban-drop-not-null", obj,
				"make sure every reader handles NULL first",
				"DROP NOT NULL: code reading %s may not expect NULL", name ? name : "the column");
		else if (is(st, "AT_DetachPartition"))
			detach(rc, s, table, mc_jget(def, "PartitionCmd", NULL));
		else if ((is(st, "AT_SetLogged") || is(st, "AT_SetUnLogged")) && rl_exists(rc, table)) {
			int fires = rewrite_fires(rc, s, table, 0);

			if (fires)
				rl_find(rc, s, MC_SEV_FAIL, "rewrite", "changing-table-persistence", table,
					"avoid it on a live table; create the new table and copy in batches",
					"SET %s rewrites %s while holding ACCESS EXCLUSIVE%s",
					is(st, "AT_SetLogged") ? "LOGGED" : "UNLOGGED", table, proof(fires, 0));
		}
	}
}

/* ---- other statements ---- */

static void
index_stmt(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	char table[NAMELEN];
	int v = rc->ctx->pg_version;

	mc_rangevar_name(mc_jget(b, "relation", NULL), table, sizeof(table));
	rl_style_ident(rc, s, mc_jstr(b, "idxname"));
	if (mc_jget(b, "indexParams", NULL) && json_object_array_length(mc_jget(b, "indexParams", NULL)) > 3)
		rl_find(rc, s, MC_SEV_INFO, "style", "index-too-many-columns", table,
			"index at most three columns; more rarely helps and costs on every write",
			"an index of %zu columns", json_object_array_length(mc_jget(b, "indexParams", NULL)));
	if (mc_jbool(b, "concurrent")) {
		if (v >= 140000 && v < 140004)
			rl_find(rc, s, MC_SEV_FAIL, "error", "concurrent-index-corruption-14", table,
				"upgrade to PostgreSQL 14.4 or later before building indexes concurrently",
				"CREATE INDEX CONCURRENTLY on PostgreSQL 14.0 to 14.3 can silently corrupt the index");
		return;
	}
	if (rl_exists(rc, table))
		rl_find(rc, s, MC_SEV_FAIL, "lock", "require-concurrent-index-creation", table,
			"CREATE INDEX CONCURRENTLY, alone outside a transaction block; check indisvalid afterwards",
			"CREATE INDEX without CONCURRENTLY holds SHARE on %s for the whole build: writes wait", table);
}

static void
drop_stmt(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	const char *rt = mc_jstr(b, "removeType");
	json_object *objs = mc_jget(b, "objects", NULL);

	for (size_t i = 0; objs && i < json_object_array_length(objs); i++) {
		char name[NAMELEN];

		rl_list_name(json_object_array_get_idx(objs, i), 0, name, sizeof(name));
		if (!rl_exists(rc, name))
			continue;
		if (is(rt, "OBJECT_INDEX") && !mc_jbool(b, "concurrent"))
			rl_find(rc, s, MC_SEV_FAIL, "lock", "require-concurrent-index-deletion", name,
				"DROP INDEX CONCURRENTLY, alone outside a transaction block",
				"DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table: reads and writes wait");
		else if (is(rt, "OBJECT_TABLE"))
			rl_find(rc, s, MC_SEV_WARN, "lock", "ban-drop-table", name,
				"deploy code that no longer uses the table first; keep it renamed for a while if in doubt",
				"DROP TABLE breaks the code running now if it still uses %s", name);
	}
}

static int
has_option(json_object *list, const char *name)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++)
		if (is(mc_jstr(mc_jget(json_object_array_get_idx(list, i), "DefElem", NULL), "defname"), name))
			return 1;
	return 0;
}

static void
repack(struct rl *rc, const struct mc_stmt *s, const char *what, json_object *rv)
{
	char table[NAMELEN];
	int fires;

	mc_rangevar_name(rv, table, sizeof(table));
	if (!rv || !rl_exists(rc, table) || !(fires = rewrite_fires(rc, s, table, 0)))
		return;
	rl_find(rc, s, MC_SEV_FAIL, "rewrite", "prefer-repack", table,
		rc->ctx->pg_version >= 190000 ? "REPACK (CONCURRENTLY)" : "pg_repack, outside the migration",
		"%s rewrites %s while holding ACCESS EXCLUSIVE: reads and writes wait%s", what, table, proof(fires, 0));
}

static void
duplicate_targets(struct rl *rc, const struct mc_stmt *s, json_object *list, const char *wrap, const char *key)
{
	size_t n = list ? json_object_array_length(list) : 0;

	if (rl_failed(s))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *a = mc_jstr(mc_jget(json_object_array_get_idx(list, i), wrap, NULL), key);

		for (size_t k = i + 1; a && k < n; k++)
			if (is(mc_jstr(mc_jget(json_object_array_get_idx(list, k), wrap, NULL), key), a)) {
				rl_find(rc, s, MC_SEV_FAIL, "error", "ban-duplicate-column-assignments", a,
					"name each column once", "column \"%s\" appears twice (SQLSTATE 42701)", a);
				return;
			}
	}
}

static void
create_table(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	json_object *elts = mc_jget(b, "tableElts", NULL);
	char table[NAMELEN];

	mc_rangevar_name(mc_jget(b, "relation", NULL), table, sizeof(table));
	rl_style_ident(rc, s, mc_jstr(mc_jget(b, "relation", NULL), "relname"));
	for (size_t i = 0; elts && i < json_object_array_length(elts); i++)
		if (mc_jget(json_object_array_get_idx(elts, i), "ColumnDef", NULL))
			rl_style_column(rc, s, table, NULL, mc_jget(json_object_array_get_idx(elts, i), "ColumnDef", NULL));
	duplicate_targets(rc, s, elts, "ColumnDef", "colname");
}

static void
rename_stmt(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	const char *rt = mc_jstr(b, "renameType");
	char table[NAMELEN], obj[2 * NAMELEN];

	mc_rangevar_name(mc_jget(b, "relation", NULL), table, sizeof(table));
	rl_style_ident(rc, s, mc_jstr(b, "newname"));
	if (!rl_exists(rc, table))
		return;
	if (is(rt, "OBJECT_COLUMN")) {
		snprintf(obj, sizeof(obj), "%s.%s", table, mc_jstr(b, "subname") ? mc_jstr(b, "subname") : "?");
		rl_find(rc, s, MC_SEV_WARN, "lock", "renaming-column", obj,
			"keep the column name and rename in the application, or add the new column and keep both in step",
			"RENAME COLUMN breaks the code running now, which still uses the old name");
	} else if (is(rt, "OBJECT_TABLE"))
		rl_find(rc, s, MC_SEV_WARN, "lock", "renaming-table", table,
			"create a view with the new name, deploy, then drop the view and rename in one transaction",
			"RENAME TO breaks the code running now, which still uses %s", table);
}

static void
alter_enum(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	const char *nv = mc_jstr(b, "newVal");

	if (mc_jstr(b, "oldVal"))
		rl_find(rc, s, MC_SEV_WARN, "lock", "renaming-enum-value", nv,
			"add the new value, move the rows, stop using the old one",
			"RENAME VALUE breaks the code running now, which still writes '%s'", mc_jstr(b, "oldVal"));
	else if (!mc_jstr(b, "newValNeighbor"))
		rl_find(rc, s, MC_SEV_INFO, "style", "require-enum-value-ordering", nv,
			"ALTER TYPE ... ADD VALUE '...' BEFORE / AFTER 'existing'",
			"ADD VALUE without BEFORE or AFTER puts '%s' last: comparisons with < and > follow that order", nv ? nv : "?");
}

static void
dml(struct rl *rc, const struct mc_stmt *s, const char *type, json_object *b)
{
	char table[NAMELEN];

	mc_rangevar_name(mc_jget(b, "relation", NULL), table, sizeof(table));
	if (is(type, "UpdateStmt"))
		duplicate_targets(rc, s, mc_jget(b, "targetList", NULL), "ResTarget", "name");
	if (!mc_jget(b, "whereClause", NULL) && rl_exists(rc, table))
		rl_find(rc, s, MC_SEV_WARN, "lock", "unbatched-backfill", table,
			"backfill in batches (WHERE id BETWEEN ...), each in its own transaction, outside the DDL's transaction",
			"%s of every row of %s in one statement: row locks on all of them until COMMIT, and a long transaction",
			is(type, "UpdateStmt") ? "UPDATE" : "DELETE", table);
}

void
rl_ddl(struct rl *rc, const struct mc_stmt *s)
{
	const char *type = mc_node_type(s->tree);
	json_object *b = mc_node_body(s->tree);
	char rel[NAMELEN];

	if (is(type, "AlterTableStmt"))
		alter_table(rc, s, b);
	else if (is(type, "IndexStmt"))
		index_stmt(rc, s, b);
	else if (is(type, "DropStmt"))
		drop_stmt(rc, s, b);
	else if (is(type, "CreateStmt"))
		create_table(rc, s, b);
	else if (is(type, "RenameStmt"))
		rename_stmt(rc, s, b);
	else if (is(type, "AlterEnumStmt"))
		alter_enum(rc, s, b);
	else if (is(type, "UpdateStmt") || is(type, "DeleteStmt"))
		dml(rc, s, type, b);
	else if (is(type, "DropdbStmt"))
		rl_find(rc, s, MC_SEV_FAIL, "lock", "ban-drop-database", mc_jstr(b, "dbname"), "never drop a database in a migration",
			"DROP DATABASE in a migration");
	else if (is(type, "TruncateStmt") && is(mc_jstr(b, "behavior"), "DROP_CASCADE"))
		rl_find(rc, s, MC_SEV_WARN, "lock", "ban-truncate-cascade", NULL, "name every table to truncate",
			"TRUNCATE ... CASCADE also empties every table with a foreign key to these");
	else if (is(type, "ReindexStmt") && has_option(mc_jget(b, "params", NULL), "concurrently") &&
		 rc->ctx->pg_version >= 140000 && rc->ctx->pg_version < 140004)
		rl_find(rc, s, MC_SEV_FAIL, "error", "concurrent-index-corruption-14", NULL,
			"upgrade to PostgreSQL 14.4 or later before rebuilding indexes concurrently",
			"REINDEX CONCURRENTLY on PostgreSQL 14.0 to 14.3 can silently corrupt the index");
	else if (is(type, "ReindexStmt") && !has_option(mc_jget(b, "params", NULL), "concurrently") &&
		 mc_jget(b, "relation", NULL) &&
		 rl_exists(rc, mc_rangevar_name(mc_jget(b, "relation", NULL), rel, sizeof(rel))))
		rl_find(rc, s, rc->ctx->pg_version >= 120000 ? MC_SEV_FAIL : MC_SEV_WARN, "lock", "require-concurrent-reindex", rel,
			"REINDEX ... CONCURRENTLY (PostgreSQL 12+), alone outside a transaction block",
			"REINDEX without CONCURRENTLY holds SHARE on the table (writes wait) and ACCESS EXCLUSIVE on the index");
	else if (is(type, "VacuumStmt") && has_option(mc_jget(b, "options", NULL), "full")) {
		json_object *rels = mc_jget(b, "rels", NULL);

		for (size_t i = 0; rels && i < json_object_array_length(rels); i++)
			repack(rc, s, "VACUUM FULL", mc_jget(json_object_array_get_idx(rels, i), "VacuumRelation", "relation", NULL));
	} else if (is(type, "ClusterStmt"))
		repack(rc, s, "CLUSTER", mc_jget(b, "relation", NULL));
	else if (is(type, "RefreshMatViewStmt") && !mc_jbool(b, "concurrent") &&
		 rl_exists(rc, mc_rangevar_name(mc_jget(b, "relation", NULL), rel, sizeof(rel))))
		rl_find(rc, s, MC_SEV_FAIL, "lock", "require-concurrent-refresh", rel,
			"REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view)",
			"REFRESH MATERIALIZED VIEW holds ACCESS EXCLUSIVE on %s while it recomputes: reads wait", rel);
	else if (is(type, "AlterDomainStmt") && is(mc_jstr(b, "subtype"), "C") &&
		 !mc_jbool(mc_jget(b, "def", "Constraint", NULL), "skip_validation"))
		rl_find(rc, s, MC_SEV_WARN, "scan", "ban-alter-domain-with-add-constraint", NULL,
			"put the CHECK on the columns (NOT VALID, then VALIDATE), or add it NOT VALID",
			"ALTER DOMAIN ... ADD CONSTRAINT checks every column of the domain in every table, under lock");
	else if (is(type, "CreateDomainStmt") && mc_jget(b, "constraints", NULL))
		rl_find(rc, s, MC_SEV_INFO, "style", "ban-create-domain-with-constraint", NULL,
			"put the CHECK on the columns that use it",
			"a domain CHECK cannot be changed later without checking every column of the domain");
}
