/*
 * Judging a failure part way: the error finding, the catalog compared
 * with before the script, and for what had been committed, whether the
 * file can simply run again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "failure.h"
#include "invariants.h"
#include "sqlparse.h"

static const char *
advice_for(const char *sqlstate)
{
	static const struct {
		const char *code, *advice;
	} table[] = {
		{"25001", "CREATE INDEX CONCURRENTLY (and VACUUM, ALTER SYSTEM, ...) cannot run in a transaction "
			  "block, and a multi-statement file is one implicit transaction: put it alone in its own "
			  "migration file, or mark the file non-transactional (dbmate transaction:false, Flyway "
			  "executeInTransaction=false)"},
		{"55P03", "another session held a conflicting lock longer than lock_timeout: keep lock_timeout "
			  "short and retry the migration, and find the blocking sessions first"},
		{"57014", "the statement ran longer than statement_timeout on the copy: on the target it would "
			  "hold its locks that long; backfill in batches outside the DDL transaction"},
		{"23502", "existing rows have NULL there: add the column nullable (or with a non-volatile "
			  "DEFAULT), backfill in batches, then ADD CONSTRAINT ... CHECK (c IS NOT NULL) NOT VALID, "
			  "VALIDATE CONSTRAINT, SET NOT NULL"},
		{"55P04", "a new enum value cannot be used in the transaction that added it: commit ALTER TYPE "
			  "... ADD VALUE in a migration of its own first"},
		{"23505", "existing rows duplicate the key: remove the duplicates on the target first, then build "
			  "the unique index (CONCURRENTLY)"},
		{"23503", "existing rows violate the foreign key: add it NOT VALID, fix the rows, then VALIDATE "
			  "CONSTRAINT in a later migration"},
		{"23514", "existing rows violate the check: add it NOT VALID, fix the rows, then VALIDATE "
			  "CONSTRAINT in a later migration"},
		{"42P07", "it already exists on the target: was this migration applied by hand, or is the "
			  "bookkeeping table behind? (IF NOT EXISTS only hides the question)"},
		{"42701", "the column already exists on the target: was this migration applied by hand?"},
		{"42P01", "the relation does not exist on the target: an earlier migration is missing or "
			  "the schema is not the one the migrations expect"},
		{"42703", "the column does not exist on the target: an earlier migration is missing"},
		{"42501", "the migrating role lacks a privilege on the copy, where it owns what it restored: "
			  "on the target it has even less"},
		{"25P02", "an earlier statement of the transaction failed"},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].code, sqlstate) == 0)
			return table[i].advice;
	return NULL;
}

static void
stmt_head(const char *sql, char *buf, size_t size)
{
	size_t j = 0;

	for (size_t i = 0; sql && sql[i] && j + 4 < size && j < 70; i++) {
		if (sql[i] == '\n' || sql[i] == '\t' || sql[i] == '\r') {
			if (j && buf[j - 1] != ' ')
				buf[j++] = ' ';
		} else
			buf[j++] = sql[i];
	}
	if (sql && strlen(sql) > 70 && j + 4 < size) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
}

/* Whether a statement that persisted breaks or duplicates on a re-run. */
static const char *
rerun_problem(const struct mc_stmt *st)
{
	const char *type = mc_node_type(st->tree);
	json_object *body = mc_node_body(st->tree);

	if (!body)
		return NULL;
	if (!strcmp(type, "CreateStmt") || !strcmp(type, "IndexStmt") || !strcmp(type, "CreateSeqStmt") ||
	    !strcmp(type, "CreateSchemaStmt") || !strcmp(type, "CreateExtensionStmt") ||
	    !strcmp(type, "CreateTableAsStmt"))
		return mc_jbool(body, "if_not_exists") ? NULL : "fails: it exists now";
	if (!strcmp(type, "ViewStmt") || !strcmp(type, "CreateFunctionStmt") || !strcmp(type, "CreateTrigStmt"))
		return mc_jbool(body, "replace") ? NULL : "fails: it exists now";
	if (!strcmp(type, "CompositeTypeStmt") || !strcmp(type, "CreateEnumStmt") ||
	    !strcmp(type, "CreateDomainStmt") || !strcmp(type, "DefineStmt"))
		return "fails: the type exists now";
	if (!strcmp(type, "DropStmt") || !strcmp(type, "RenameStmt"))
		return mc_jbool(body, "missing_ok") ? NULL : "fails: it is gone now";
	if (!strcmp(type, "AlterEnumStmt"))
		return mc_jbool(body, "skipIfNewValExists") || mc_jstr(body, "oldVal") ? NULL :
		       "fails: the enum value exists now";
	if (!strcmp(type, "InsertStmt"))
		return mc_jget(body, "onConflictClause", NULL) ? NULL : "inserts its rows a second time";
	if (!strcmp(type, "AlterTableStmt")) {
		json_object *cmds = mc_jget(body, "cmds", NULL);

		for (size_t i = 0; cmds && i < json_object_array_length(cmds); i++) {
			json_object *cmd = mc_jget(json_object_array_get_idx(cmds, i), "AlterTableCmd", NULL);
			const char *sub = cmd ? mc_jstr(cmd, "subtype") : NULL;

			if (!sub)
				continue;
			if ((!strcmp(sub, "AT_AddColumn") || !strcmp(sub, "AT_DropColumn") ||
			     !strcmp(sub, "AT_DropConstraint")) && !mc_jbool(cmd, "missing_ok"))
				return "fails: the column or constraint is already changed";
			if (!strcmp(sub, "AT_AddConstraint") || !strcmp(sub, "AT_AddIndex"))
				return "fails: the constraint exists now";
		}
	}
	return NULL;
}

/* Lines that are in a and not in b, joined ("; "), at most a few. */
static char *
lines_diff(char **a, char **b)
{
	char *out = NULL;
	size_t len = 0, count = 0;

	for (size_t i = 0; a && a[i]; i++) {
		if (mc_strv_has(b, a[i]))
			continue;
		if (count++ < 4) {
			size_t add = strlen(a[i]) + 2;

			out = realloc(out, len + add + 1);
			if (!out)
				mc_oom();
			snprintf(out + len, add + 1, "%s%s", len ? "; " : "", a[i]);
			len = strlen(out);
		}
	}
	return out;
}

void
mc_failure_report(PGconn *c, struct mc_report *r, const struct mc_script *sc, int mi, const struct outcome *out,
		  char **fp_before)
{
	struct mc_where w = {sc->path, out->line, NULL, out->sqlstate[0] ? out->sqlstate : NULL, NULL, mi, 0};
	const char *kind = strcmp(out->sqlstate, "55P03") == 0 ? "lock-timeout" : "error";
	char **fp_after = mc_inv_fingerprint(c);
	char *gone = lines_diff(fp_before, fp_after), *added = lines_diff(fp_after, fp_before);
	size_t npersisted = 0;
	char head[128];

	for (size_t i = 0; i < sc->nstmts; i++)
		npersisted += out->persisted[i];
	stmt_head(out->at && out->at->sql ? out->at->sql : "", head, sizeof(head));
	mc_find(r, MC_SEV_FAIL, kind, &w, advice_for(out->sqlstate), "%s failed on the copy%s%s%s: %s%s",
		sc->path, *head ? " at \"" : "", head, *head ? "\"" : "", out->error ? out->error : "?",
		npersisted || gone || added || !fp_before ? "" : " (rolled back: the catalog is as before)");
	if (npersisted == 0 && (gone || added)) {
		struct mc_where pw = {sc->path, out->line, NULL, NULL, NULL, mi, 0};

		mc_find(r, MC_SEV_FAIL, "partial", &pw,
			"drop what the failed attempt left (DROP INDEX CONCURRENTLY for an invalid index) before "
			"running it again",
			"%s failed and left the catalog changed although nothing of it was committed: %s%s%s%s",
			sc->path, added ? "left " : "", added ? added : "", added && gone ? "; removed " : "",
			gone ? gone : "");
	}
	if (npersisted) {
		char list[1024] = "";
		size_t len = 0;

		for (size_t i = 0; i < sc->nstmts; i++) {
			if (!out->persisted[i])
				continue;
			stmt_head(sc->stmts[i].sql, head, sizeof(head));
			len += (size_t) snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
						 "%sline %d \"%s\"", len ? ", " : "", sc->stmts[i].line, head);
			if (len >= sizeof(list))
				break;
		}
		struct mc_where pw = {sc->path, out->line, NULL, NULL, NULL, mi, 0};
		mc_find(r, MC_SEV_FAIL, "partial", &pw,
			"run the file in one transaction (BEGIN ... COMMIT, or the tool's transactional mode) so "
			"that a failure leaves nothing behind",
			"%s is partially applied: %zu statement%s committed before the failure at line %d: %s",
			sc->path, npersisted, npersisted == 1 ? " was" : "s were", out->line, list);
		for (size_t i = 0; i < sc->nstmts; i++) {
			const char *why = out->persisted[i] ? rerun_problem(&sc->stmts[i]) : NULL;
			struct mc_where nw = {sc->path, sc->stmts[i].line, NULL, NULL, NULL, mi, 0};

			if (!why)
				continue;
			stmt_head(sc->stmts[i].sql, head, sizeof(head));
			mc_find(r, MC_SEV_FAIL, "not-rerunnable", &nw,
				"make every statement re-runnable (IF NOT EXISTS / IF EXISTS, INSERT ... ON CONFLICT "
				"DO NOTHING), or wrap the file in one transaction",
				"%s is not re-runnable after the failure: running it again, \"%s\" (line %d) %s",
				sc->path, head, sc->stmts[i].line, why);
		}
	}
	free(gone);
	free(added);
	mc_strv_free(fp_after);
}

