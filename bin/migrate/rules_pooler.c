/*
 * PgBouncer transaction mode: session state that does not survive the
 * pool (the research note §3, pgbouncer.org's SQL feature map).  A
 * server connection serves another client after every transaction, so
 * whatever a statement leaves in the session (a SET, a session advisory
 * lock, LISTEN, a WITH HOLD cursor, a prepared statement, a temp table,
 * a loaded library) leaks to strangers and is gone for the next
 * transaction.  Checked in the migrations when they go through such a
 * pooler, and in an application's own SQL files (--app-dir).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "rules_int.h"
#include "sqlparse.h"

static int
is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

void
rl_walk_funcs(json_object *node, void (*fn)(json_object *call, void *arg), void *arg)
{
	if (!node)
		return;
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			rl_walk_funcs(json_object_array_get_idx(node, i), fn, arg);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	json_object_object_foreach(node, key, val) {
		if (strcmp(key, "FuncCall") == 0)
			fn(val, arg);
		rl_walk_funcs(val, fn, arg);
	}
}

const char *
rl_const_str(json_object *n, char *buf, size_t size)
{
	json_object *c, *v;

	if (mc_jget(n, "TypeCast", NULL))
		n = mc_jget(n, "TypeCast", "arg", NULL);
	if (!(c = mc_jget(n, "A_Const", NULL)))
		return NULL;
	if ((v = mc_jget(c, "sval", NULL)))
		return mc_jstr(v, "sval") ? mc_jstr(v, "sval") : "";
	if ((v = mc_jget(c, "ival", NULL)))
		snprintf(buf, size, "%d", mc_jint(v, "ival", 0));
	else if ((v = mc_jget(c, "fval", NULL)))
		snprintf(buf, size, "%s", mc_jstr(v, "fval") ? mc_jstr(v, "fval") : "0");
	else if ((v = mc_jget(c, "boolval", NULL)))
		snprintf(buf, size, "%s", mc_jbool(v, "boolval") ? "true" : "false");
	else
		return NULL;
	return buf;
}

static void
trap(struct rl *rc, const struct mc_stmt *s, const char *rule, const char *object, const char *advice,
     const char *what)
{
	rl_find(rc, s, MC_SEV_WARN, "pooler", rule, object, advice,
		"%s: through PgBouncer in transaction mode the next transaction may run on another server "
		"connection, and this one serves other clients", what);
}

/* PgBouncer tracks these startup parameters itself. */
static int
tracked(const char *name)
{
	static const char *const p[] = {
		"client_encoding", "datestyle", "intervalstyle", "timezone",
		"standard_conforming_strings", "application_name", NULL
	};

	for (int i = 0; name && p[i]; i++)
		if (strcasecmp(name, p[i]) == 0)
			return 1;
	return 0;
}

static const char *
set_advice(const char *name)
{
	if (is(name, "lock_timeout") || is(name, "statement_timeout"))
		return "SET LOCAL inside the migration's transaction, or ALTER ROLE ... SET; or connect migrations "
			"directly to PostgreSQL (a session SET at the top of a file does not reach later transactions)";
	return "SET LOCAL inside the transaction, or ALTER ROLE/DATABASE ... SET; or connect directly";
}

static void
session_set(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	const char *k = mc_jstr(b, "kind"), *name = mc_jstr(b, "name");
	char what[200];

	if (!k || mc_jbool(b, "is_local") || tracked(name))
		return;
	/* SET TRANSACTION ... is for this transaction only */
	if (is(k, "VAR_SET_MULTI") && is(name, "TRANSACTION"))
		return;
	snprintf(what, sizeof(what), "%s %s is session state", is(k, "VAR_RESET") || is(k, "VAR_RESET_ALL") ? "RESET" : "SET",
		 is(k, "VAR_RESET_ALL") ? "ALL" : name ? name : "");
	trap(rc, s, "pooler-session-set", name, set_advice(name), what);
}

static void
func_trap(json_object *call, void *arg)
{
	void **a = arg;
	struct rl *rc = a[0];
	const struct mc_stmt *s = a[1];
	const char *fn = rl_func_name(call);
	json_object *args = mc_jget(call, "args", NULL);
	char buf[32], what[160];
	const char *local;

	if (!fn)
		return;
	if (is(fn, "set_config") && args && json_object_array_length(args) == 3 &&
	    (local = rl_const_str(json_object_array_get_idx(args, 2), buf, sizeof(buf))) && is(local, "false")) {
		const char *name = rl_const_str(json_object_array_get_idx(args, 0), what, sizeof(what));

		if (!tracked(name))
			trap(rc, s, "pooler-session-set", name, set_advice(name),
			     "set_config(..., false) sets a session value");
		return;
	}
	if (strncmp(fn, "pg_advisory_", 12) == 0 || strncmp(fn, "pg_try_advisory_", 16) == 0) {
		if (strstr(fn, "_xact_"))
			return;
		snprintf(what, sizeof(what), "%s() takes or releases a session-level advisory lock", fn);
		trap(rc, s, "pooler-advisory-lock", fn,
		     "pg_advisory_xact_lock() / pg_try_advisory_xact_lock(), released at COMMIT", what);
	}
}

void
rl_pooler(struct rl *rc, const struct mc_stmt *s)
{
	const char *type = mc_node_type(s->tree);
	json_object *b = mc_node_body(s->tree);
	void *arg[2] = {rc, (void *) s};

	if (is(type, "VariableSetStmt"))
		session_set(rc, s, b);
	else if (is(type, "ListenStmt") || is(type, "UnlistenStmt"))
		trap(rc, s, "pooler-listen", mc_jstr(b, "conditionname"),
		     "LISTEN on a direct connection (or a session-mode pool); NOTIFY itself is fine",
		     is(type, "ListenStmt") ? "LISTEN registers the session" : "UNLISTEN acts on the session");
	else if (is(type, "DeclareCursorStmt") && (mc_jint(b, "options", 0) & 0x0020))
		trap(rc, s, "pooler-with-hold", mc_jstr(b, "portalname"),
		     "a cursor WITHOUT HOLD, used and closed inside one transaction",
		     "a WITH HOLD cursor outlives its transaction");
	else if (is(type, "PrepareStmt") || is(type, "ExecuteStmt") || (is(type, "DeallocateStmt") && mc_jstr(b, "name")))
		trap(rc, s, "pooler-prepare", mc_jstr(b, "name"),
		     "protocol-level prepared statements (PgBouncer 1.21+ with max_prepared_statements > 0), or plain statements",
		     "SQL-level PREPARE/EXECUTE/DEALLOCATE name a prepared statement of the session (never supported by PgBouncer)");
	else if (is(type, "CreateStmt") && is(mc_jstr(mc_jget(b, "relation", NULL), "relpersistence"), "t") &&
		 !is(mc_jstr(b, "oncommit"), "ONCOMMIT_DROP"))
		trap(rc, s, "pooler-temp-table", mc_jstr(mc_jget(b, "relation", NULL), "relname"),
		     "CREATE TEMP TABLE ... ON COMMIT DROP, used inside one transaction",
		     "a temporary table lives as long as the session");
	else if (is(type, "CreateTableAsStmt") &&
		 is(mc_jstr(mc_jget(b, "into", "rel", NULL), "relpersistence"), "t") &&
		 !is(mc_jstr(mc_jget(b, "into", NULL), "onCommit"), "ONCOMMIT_DROP"))
		trap(rc, s, "pooler-temp-table", mc_jstr(mc_jget(b, "into", "rel", NULL), "relname"),
		     "CREATE TEMP TABLE ... ON COMMIT DROP AS ..., used inside one transaction",
		     "a temporary table lives as long as the session");
	else if (is(type, "LoadStmt"))
		trap(rc, s, "pooler-load", mc_jstr(b, "filename"),
		     "shared_preload_libraries / session_preload_libraries, or a direct connection",
		     "LOAD loads a library into the session");
	rl_walk_funcs(s->tree, func_trap, arg);
}

/* ---- an application's SQL files ---- */

static int
read_whole(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f)
		return -1;
	do {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? 2 * cap : 8192);

			if (!nb) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

static void
app_file(const char *full, const struct mc_rules_ctx *ctx, struct mc_report *r)
{
	struct mc_script sc;
	struct rl rc;

	memset(&sc, 0, sizeof(sc));
	memset(&rc, 0, sizeof(rc));
	rc.ctx = ctx;
	rc.r = r;
	rc.sc = &sc;
	rc.migration = -1;
	rc.lint = 1;
	rc.own_path = 1;	/* named as under the --app-dir given, not the migrations directory */
	if (read_whole(full, &sc.text, &sc.text_len) < 0) {
		struct mc_where w = {full, 0, NULL, NULL, NULL, -1, 1};

		mc_find(r, MC_SEV_WARN, "pooler", &w, NULL, "cannot read %s: %s", full, strerror(errno));
		return;
	}
	sc.path = (char *) full;
	sc.first_line = 1;
	sc.txn = MC_TXN_NONE;
	if (mc_script_parse(&sc) < 0 || sc.parse_error) {
		struct mc_where w = {full, sc.parse_error_line, NULL, NULL, "parse", -1, 1};

		mc_find(r, MC_SEV_WARN, "parse", &w, "check this file for session state by hand",
			"the pooler rules could not read this file (PostgreSQL 15 grammar): %s",
			sc.parse_error ? sc.parse_error : "out of memory");
	} else
		for (size_t i = 0; i < sc.nstmts; i++)
			if (sc.stmts[i].tree)
				rl_pooler(&rc, &sc.stmts[i]);
	mc_script_free(&sc);
	free(sc.text);
}

static int
has_sql_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcasecmp(name + n - 4, ".sql") == 0;
}

/* dir/rel in name order, without following symbolic links. */
static int
walk(const char *root, const char *rel, const struct mc_rules_ctx *ctx, struct mc_report *r)
{
	char dir[4096], full[4096], sub[4096];
	struct dirent **names;
	int n, rc = 0;

	snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		pgp_error("cannot read --app-dir %s: %s", dir, strerror(errno));
		return 2;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;
		const char *nm = names[i]->d_name;

		if (rc == 0 && nm[0] != '.') {
			/* A cut path would name another file (or this folder again, without end). */
			if (snprintf(full, sizeof(full), "%s/%s", dir, nm) >= (int) sizeof(full) ||
			    snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", nm) >= (int) sizeof(sub))
				pgp_warning("--app-dir: a path under %s is too long: not read", dir);
			else if (lstat(full, &st) == 0) {
				if (S_ISDIR(st.st_mode))
					rc = walk(root, sub, ctx, r);
				else if (S_ISREG(st.st_mode) && has_sql_suffix(nm))
					app_file(full, ctx, r);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
mc_rules_app_dir(const char *dir, const struct mc_rules_ctx *ctx, struct mc_report *r)
{
	return walk(dir, "", ctx, r);
}
