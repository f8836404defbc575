/*
 * The run on the copy.  Every pending migration goes to the server as its
 * tool sends it (enum mc_txn), statement by statement so that each one can
 * be traced: the user relations' relfilenodes before and after (a new one
 * is a rewrite), this backend's relation locks inside a transaction, the
 * server's DEBUG1 "verifying table" / "rewriting table" messages, SQLSTATE
 * and duration.  A failure stops the run, as the tools stop; what it left
 * behind is judged (rolled back cleanly, or partly applied and whether
 * re-running the file would work).  Catalog invariants are read before
 * and after, then the round trip runs where every migration has a down.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "exitcodes.h"
#include "failure.h"
#include "invariants.h"
#include "log.h"
#include "roundtrip.h"
#include "rules.h"
#include "sql.h"
#include "sqlparse.h"
#include "trace.h"

#define USER_NS "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"

struct rel {
	char *oid;
	char *filenode;
	char *name;
};

struct relsnap {
	struct rel *r;
	size_t n;
};

struct run {
	PGconn *c;
	struct mc_set *set;
	struct mc_report *r;
	int record;		/* write evidence into stmt->ev */
	struct mc_stmt *cur;	/* the statement running, for the notices */
	struct relsnap before;	/* relations before the current statement */
	int fatal;		/* the server went away, or a signal */
	char **fk;		/* "validating foreign key constraint" names seen */
	size_t nfk;
	char *last_error;	/* the last failure's message, for the round trip */
	int last_line;
};


static void
strv_add(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v)
		mc_oom();
	(*v)[(*n)++] = mc_strdup(s);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- relations and locks ---- */

static void
snap_free(struct relsnap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].oid);
		free(s->r[i].filenode);
		free(s->r[i].name);
	}
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

/*
 * The user relations and their relfilenodes; -1 when it failed.  Also
 * those without storage of their own (views, partitioned parents) and
 * sequences: what a statement creates (an identity's sequence) must be
 * known as new, or its lock would look like one on a relation others use.
 */
static int
snap_take(PGconn *c, struct relsnap *s)
{
	PGresult *res = PQexec(c,
		"SELECT c.oid, c.relfilenode, n.nspname || '.' || c.relname FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relkind IN ('r', 'm', 'i', 'S', 'v', 'p', 'I', 'f') AND " USER_NS);

	snap_free(s);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return -1;
	}
	s->n = (size_t) PQntuples(res);
	s->r = mc_calloc(s->n, sizeof(*s->r));
	for (size_t i = 0; i < s->n; i++) {
		s->r[i].oid = mc_strdup(PQgetvalue(res, (int) i, 0));
		s->r[i].filenode = mc_strdup(PQgetvalue(res, (int) i, 1));
		s->r[i].name = mc_strdup(PQgetvalue(res, (int) i, 2));
	}
	PQclear(res);
	return 0;
}

static const struct rel *
snap_find(const struct relsnap *s, const char *oid)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->r[i].oid, oid) == 0)
			return &s->r[i];
	return NULL;
}

/* A relation the server named without its schema, qualified if unique. */
static const char *
qualify(const struct relsnap *s, const char *relname)
{
	const char *hit = NULL;

	for (size_t i = 0; i < s->n; i++) {
		const char *dot = strchr(s->r[i].name, '.');

		if (dot && strcmp(dot + 1, relname) == 0) {
			if (hit)
				return relname;
			hit = s->r[i].name;
		}
	}
	return hit ? hit : relname;
}

/* This backend's relation locks, strongest per relation. */
static size_t
locks_take(PGconn *c, struct mc_lock **out)
{
	PGresult *res = PQexec(c,
		"SELECT n.nspname || '.' || c.relname, l.mode FROM pg_catalog.pg_locks l "
		"JOIN pg_catalog.pg_class c ON c.oid = l.relation "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE l.locktype = 'relation' AND l.granted AND l.pid = pg_catalog.pg_backend_pid() "
		"AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) "
		"AND " USER_NS " ORDER BY 1");
	struct mc_lock *v;
	size_t n = 0;

	*out = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	v = mc_calloc((size_t) PQntuples(res), sizeof(*v));
	for (int i = 0; i < PQntuples(res); i++) {
		const char *rel = PQgetvalue(res, i, 0), *mode = PQgetvalue(res, i, 1);

		if (n > 0 && strcmp(v[n - 1].relation, rel) == 0) {
			if (mc_lock_rank(mode) > mc_lock_rank(v[n - 1].mode)) {
				free(v[n - 1].mode);
				v[n - 1].mode = mc_strdup(mode);
			}
			continue;
		}
		v[n].relation = mc_strdup(rel);
		v[n++].mode = mc_strdup(mode);
	}
	PQclear(res);
	*out = v;
	return n;
}

static void
locks_free(struct mc_lock *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].relation);
		free(l[i].mode);
	}
	free(l);
}

/* ---- the server's messages ---- */

static int
quoted_after(const char *msg, const char *prefix, char *buf, size_t size)
{
	size_t pl = strlen(prefix), len;
	const char *end;

	if (strncmp(msg, prefix, pl) != 0)
		return 0;
	end = strchr(msg + pl, '"');
	if (!end)
		return 0;
	len = (size_t) (end - (msg + pl));
	if (len >= size)
		len = size - 1;
	memcpy(buf, msg + pl, len);
	buf[len] = '\0';
	return 1;
}

static void
on_notice(void *arg, const PGresult *res)
{
	struct run *run = arg;
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	struct mc_evidence *ev;
	char rel[256];

	if (!msg || !run->cur || !run->record)
		return;
	ev = &run->cur->ev;
	/* PG 15 tablecmds.c ATRewriteTable(): DEBUG1, errmsg_internal. */
	if (quoted_after(msg, "verifying table \"", rel, sizeof(rel)))
		strv_add(&ev->scanned, &ev->nscanned, qualify(&run->before, rel));
	else if (quoted_after(msg, "validating foreign key constraint \"", rel, sizeof(rel)))
		strv_add(&run->fk, &run->nfk, rel);	/* its table, once the statement is done */
	else if (quoted_after(msg, "rewriting table \"", rel, sizeof(rel)))
		strv_add(&ev->rewrote, &ev->nrewrote, qualify(&run->before, rel));
	else if (strncmp(PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) ?
			 PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : "DEBUG", "DEBUG", 5) != 0)
		pgp_debug("server: %s", msg);
}

/* ---- running one statement ---- */

static int
is_txn_stmt(const struct mc_stmt *st, const char *kind)
{
	json_object *body;
	const char *k;

	if (!st || !st->tree || strcmp(mc_node_type(st->tree), "TransactionStmt") != 0)
		return 0;
	if (!kind)
		return 1;
	body = mc_node_body(st->tree);
	k = body ? mc_jstr(body, "kind") : NULL;
	return k && strcmp(k, kind) == 0;
}

/* Our own BEGIN / COMMIT / ROLLBACK: 0, or -1 with the message in *err. */
static int
control(struct run *run, const char *sql, char *sqlstate, char **err)
{
	PGresult *res = PQexec(run->c, sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc < 0 && sqlstate) {
		const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		snprintf(sqlstate, 6, "%s", ss ? ss : "");
		*err = mc_strdup(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
			       PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(run->c));
	}
	PQclear(res);
	if (PQstatus(run->c) != CONNECTION_OK || mc_signalled())
		run->fatal = 1;
	return rc;
}

/* Compare relations after a statement with before it. */
static void
diff_relations(struct run *run, struct mc_evidence *ev)
{
	struct relsnap after = {0};

	if (snap_take(run->c, &after) < 0)
		return;
	for (size_t i = 0; i < after.n; i++) {
		const struct rel *b = snap_find(&run->before, after.r[i].oid);

		if (!b)
			strv_add(&ev->created, &ev->ncreated, after.r[i].name);
		else if (strcmp(b->filenode, after.r[i].filenode) != 0)
			strv_add(&ev->rewrote, &ev->nrewrote, after.r[i].name);
	}
	snap_free(&after);
}

static void
fk_clear(struct run *run)
{
	for (size_t i = 0; i < run->nfk; i++)
		free(run->fk[i]);
	free(run->fk);
	run->fk = NULL;
	run->nfk = 0;
}

/* The tables whose foreign keys the statement validated (it scanned them). */
static void
fk_tables(struct run *run, struct mc_evidence *ev)
{
	for (size_t i = 0; i < run->nfk; i++) {
		PGresult *res = PQexecParams(run->c,
			"SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_constraint con "
			"JOIN pg_catalog.pg_class c ON c.oid = con.conrelid "
			"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
			"WHERE con.contype = 'f' AND con.conname = $1", 1, NULL,
			(const char *const[]) {run->fk[i]}, NULL, NULL, 0);

		for (int j = 0; PQresultStatus(res) == PGRES_TUPLES_OK && j < PQntuples(res); j++)
			strv_add(&ev->scanned, &ev->nscanned, PQgetvalue(res, j, 0));
		PQclear(res);
	}
	fk_clear(run);
}

/* Locks held after minus those held before (the transaction's earlier ones). */
static void
new_locks(struct mc_evidence *ev, struct mc_lock *before, size_t nb, struct mc_lock *after, size_t na)
{
	ev->locks = mc_calloc(na, sizeof(*ev->locks));
	for (size_t i = 0; i < na; i++) {
		int had = 0;

		for (size_t j = 0; j < nb; j++)
			if (strcmp(before[j].relation, after[i].relation) == 0 &&
			    mc_lock_rank(before[j].mode) >= mc_lock_rank(after[i].mode))
				had = 1;
		for (size_t j = 0; j < ev->ncreated; j++)
			if (strcmp(ev->created[j], after[i].relation) == 0)
				had = 1;
		if (had)
			continue;
		ev->locks[ev->nlocks].relation = mc_strdup(after[i].relation);
		ev->locks[ev->nlocks++].mode = mc_strdup(after[i].mode);
	}
}

/*
 * Send one statement (sql: st->sql, or a whole script).  0 when it
 * succeeded, 1 when the server refused it (out filled), -1 when the run
 * cannot go on.
 */
static int
run_stmt(struct run *run, struct mc_stmt *st, const char *sql, int line, struct outcome *out)
{
	struct mc_evidence *ev = &st->ev;
	struct mc_lock *lb = NULL, *la = NULL;
	size_t nlb = 0, nla = 0;
	int in_txn = PQtransactionStatus(run->c) == PQTRANS_INTRANS, ok, after_txn, wrapped = 0;
	PGresult *res;
	double t0;

	if (mc_signalled()) {
		run->fatal = 1;
		return -1;
	}
	/*
	 * A statement on its own (autocommit) that does the same inside a
	 * block runs in BEGIN ... COMMIT of ours, so that pg_locks can show
	 * what it took before the locks go.
	 */
	if (run->record && !in_txn && st->tree && mc_stmt_transaction_safe(st->tree) &&
	    control(run, "BEGIN", NULL, NULL) == 0)
		in_txn = wrapped = 1;
	if (run->record) {
		snap_take(run->c, &run->before);
		if (in_txn)
			nlb = locks_take(run->c, &lb);
	}
	fk_clear(run);		/* what a failed statement left */
	run->cur = st;
	t0 = now_ms();
	res = PQexec(run->c, sql);
	/* psql feeds COPY ... FROM STDIN from the file; we have no rows for it. */
	while (PQresultStatus(res) == PGRES_COPY_IN || PQresultStatus(res) == PGRES_COPY_OUT) {
		if (PQresultStatus(res) == PGRES_COPY_IN)
			PQputCopyEnd(run->c, NULL);
		else {
			char *buf;

			while (PQgetCopyData(run->c, &buf, 0) > 0)
				PQfreemem(buf);
		}
		PQclear(res);
		res = PQgetResult(run->c);
		if (res) {
			PGresult *more;

			while ((more = PQgetResult(run->c)))
				PQclear(more);
		}
	}
	run->cur = NULL;
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK ||
	     PQresultStatus(res) == PGRES_EMPTY_QUERY;
	if (run->record) {
		ev->traced = 1;
		ev->ms = now_ms() - t0;
	}
	if (PQstatus(run->c) != CONNECTION_OK) {
		/* sql may be a whole script: its start says which */
		pgp_error("the scratch server went away while running %.*s%s", (int) strcspn(sql, "\n") < 80 ?
			  (int) strcspn(sql, "\n") : 80, sql, sql[strcspn(sql, "\n")] || strlen(sql) > 80 ? " ..." : "");
		PQclear(res);
		locks_free(lb, nlb);
		run->fatal = 1;
		return -1;
	}
	if (!ok) {
		const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		out->failed = 1;
		out->at = st;
		out->line = line;
		out->in_txn = in_txn || PQtransactionStatus(run->c) == PQTRANS_INERROR;
		snprintf(out->sqlstate, sizeof(out->sqlstate), "%s", ss ? ss : "");
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

		if (msg && detail) {
			if (asprintf(&out->error, "%s (%s)", msg, detail) < 0)
				mc_oom();
		} else
			out->error = mc_strdup(msg ? msg : PQerrorMessage(run->c));
		if (run->record) {
			snprintf(ev->sqlstate, sizeof(ev->sqlstate), "%s", out->sqlstate);
			ev->error = mc_strdup(out->error);
		}
		PQclear(res);
		locks_free(lb, nlb);
		if (wrapped) {
			/* as on its own: nothing of it stays, and no transaction is open */
			out->in_txn = 0;
			control(run, "ROLLBACK", NULL, NULL);
		}
		if (mc_signalled())
			run->fatal = 1;
		return run->fatal ? -1 : 1;
	}
	PQclear(res);
	after_txn = PQtransactionStatus(run->c) == PQTRANS_INTRANS;
	if (run->record) {
		diff_relations(run, ev);
		fk_tables(run, ev);
		if (in_txn && after_txn) {
			nla = locks_take(run->c, &la);
			new_locks(ev, lb, nlb, la, nla);
			ev->locks_known = 1;
		}
	}
	locks_free(lb, nlb);
	locks_free(la, nla);
	if (wrapped && control(run, "COMMIT", out->sqlstate, &out->error) < 0) {
		/* a deferred constraint fails at COMMIT, as it would have on its own */
		out->failed = 1;
		out->at = st;
		out->line = line;
		if (run->record) {
			snprintf(ev->sqlstate, sizeof(ev->sqlstate), "%s", out->sqlstate);
			ev->error = mc_strdup(out->error ? out->error : "COMMIT failed");
		}
		return run->fatal ? -1 : 1;
	}
	return 0;
}

/* ---- scripts, as each tool sends them ---- */

static size_t
runnable(const struct mc_script *sc)
{
	size_t n = 0;

	for (size_t i = 0; i < sc->nstmts; i++)
		if (!sc->stmts[i].meta && sc->stmts[i].sql)
			n++;
	return n;
}

/* After statement i succeeded: what is committed now. */
static void
track(struct run *run, const struct mc_script *sc, size_t i, struct outcome *out)
{
	PGTransactionStatusType ts = PQtransactionStatus(run->c);

	if (ts == PQTRANS_INTRANS) {
		out->open[i] = 1;
		return;
	}
	if (is_txn_stmt(&sc->stmts[i], "TRANS_STMT_ROLLBACK")) {
		memset(out->open, 0, sc->nstmts);
		return;
	}
	for (size_t j = 0; j < sc->nstmts; j++)
		if (out->open[j])
			out->persisted[j] = 1;
	memset(out->open, 0, sc->nstmts);
	if (!is_txn_stmt(&sc->stmts[i], NULL))
		out->persisted[i] = 1;
}

static void
commit_open(const struct mc_script *sc, struct outcome *out)
{
	for (size_t j = 0; j < sc->nstmts; j++)
		if (out->open[j])
			out->persisted[j] = 1;
	memset(out->open, 0, sc->nstmts);
}

/*
 * Roles, databases, tablespaces, subscriptions and the server's own
 * settings are not in the copy: the copy shares them with the target's
 * server, so running such a statement would change the target (ALTER ROLE
 * app, DROP DATABASE shop WITH (FORCE), a subscription that opens a slot
 * on the publisher).  What it is, or NULL for a statement of the copy.
 */
static const char *
shared_object(const struct mc_stmt *st)
{
	static const char *const types[] = { "CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt", "DropRoleStmt",
		"GrantRoleStmt", "CreatedbStmt", "DropdbStmt", "AlterDatabaseStmt", "AlterDatabaseSetStmt",
		"AlterDatabaseRefreshCollStmt", "CreateTableSpaceStmt", "DropTableSpaceStmt",
		"AlterTableSpaceOptionsStmt", "AlterSystemStmt", "CreateSubscriptionStmt", "AlterSubscriptionStmt",
		"DropSubscriptionStmt", "ReassignOwnedStmt", "DropOwnedStmt", NULL };
	static const char *const words[] = { "CREATE ROLE", "CREATE USER", "CREATE GROUP", "CREATE DATABASE",
		"CREATE TABLESPACE", "CREATE SUBSCRIPTION", "ALTER ROLE", "ALTER USER", "ALTER GROUP", "ALTER DATABASE",
		"ALTER TABLESPACE", "ALTER SUBSCRIPTION", "ALTER SYSTEM", "DROP ROLE", "DROP USER", "DROP GROUP",
		"DROP DATABASE", "DROP TABLESPACE", "DROP SUBSCRIPTION", "GRANT", "REVOKE", "REASSIGN", "DROP OWNED",
		NULL };
	/* Functions that act on the whole server: the target's sessions, its slots, its configuration. */
	static const char *const funcs[] = { "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
		"replication_slot", "pg_switch_wal", "dblink", NULL };
	const char *type = mc_node_type(st->tree), *kind;
	json_object *b = mc_node_body(st->tree);

	for (int i = 0; st->sql && funcs[i]; i++)
		if (strcasestr(st->sql, funcs[i]))
			return "the server's sessions, slots or configuration (a server function)";
	if (!st->tree) {
		/* A grammar newer than 15 (GRANT ... WITH INHERIT): judged by its first words. */
		for (int i = 0; st->sql && words[i]; i++)
			if (strncasecmp(st->sql, words[i], strlen(words[i])) == 0 &&
			    (strncasecmp(words[i], "GRANT", 5) != 0 && strncasecmp(words[i], "REVOKE", 6) != 0 ?
			     1 : !strcasestr(st->sql, " ON ")))
				return "a role, database or tablespace";
		return NULL;
	}
	for (int i = 0; types[i]; i++)
		if (strcmp(type, types[i]) == 0)
			return "a role, database, tablespace, subscription or server setting";
	kind = mc_jstr(b, strcmp(type, "RenameStmt") == 0 ? "renameType" :
		       strcmp(type, "AlterOwnerStmt") == 0 ? "objectType" : "objtype");
	if (kind && (strcmp(type, "RenameStmt") == 0 || strcmp(type, "AlterOwnerStmt") == 0 ||
		     strcmp(type, "CommentStmt") == 0 || strcmp(type, "SecLabelStmt") == 0 ||
		     strcmp(type, "GrantStmt") == 0) &&
	    (strcmp(kind, "OBJECT_ROLE") == 0 || strcmp(kind, "OBJECT_DATABASE") == 0 ||
	     strcmp(kind, "OBJECT_TABLESPACE") == 0 || strcmp(kind, "OBJECT_PARAMETER_ACL") == 0))
		return "a role, database, tablespace or server parameter";
	return NULL;
}

static void
not_run_shared(struct run *run, const struct mc_script *sc, const struct mc_stmt *st, const char *what)
{
	struct mc_where w = {sc->path, st->line, NULL, NULL, NULL, -1, 0};

	for (size_t i = 0; i < run->set->n; i++)
		if (&run->set->m[i].up == sc || &run->set->m[i].down == sc)
			w.migration = (int) i;
	mc_find(run->r, MC_SEV_WARN, "error", &w,
		"check it by hand: run on the copy it would change the server the copy lives on",
		"not run on the copy: it changes %s, which the copy shares with the target's server, so it "
		"would change the target; statements after it that rely on it may fail on the copy", what);
}

/*
 * Run script sc as its tool would.  wrap: BEGIN before it and COMMIT
 * after (MC_TXN_FILE, and a multi-statement MC_TXN_IMPLICIT whose
 * implicit block BEGIN stands in for); in_run: inside the run's own
 * transaction (MC_TXN_RUN), committed by the caller.  Returns 0, 1 (out
 * says what failed), or -1.
 */
static int
run_script(struct run *run, struct mc_script *sc, struct outcome *out, int in_run)
{
	size_t nrun = runnable(sc);
	int implicit = sc->txn == MC_TXN_IMPLICIT && nrun > 1;
	int wrap = !in_run && (sc->txn == MC_TXN_FILE || implicit);
	int rc = 0;
	const char *what;

	out->persisted = mc_calloc(sc->nstmts, 1);
	out->open = mc_calloc(sc->nstmts, 1);
	if (sc->nstmts == 0) {
		/* The parser refused it: the server gets the whole text, as the tool sends it. */
		struct mc_stmt whole = {0};

		if (wrap && control(run, "BEGIN", NULL, NULL) < 0)
			return -1;
		rc = run_stmt(run, &whole, sc->text, sc->first_line, out);
		free(whole.ev.error);
		out->at = NULL;		/* whole lives on this stack frame only */
		if (rc == 0 && wrap && control(run, "COMMIT", out->sqlstate, &out->error) < 0)
			rc = run->fatal ? -1 : (out->failed = 1);
		goto end;
	}
	if (wrap && control(run, "BEGIN", NULL, NULL) < 0)
		return -1;
	for (size_t i = 0; i < sc->nstmts && rc == 0; i++) {
		struct mc_stmt *st = &sc->stmts[i];

		if (st->meta || !st->sql)
			continue;
		if ((what = shared_object(st))) {
			not_run_shared(run, sc, st, what);
			continue;
		}
		/* A multi-statement query opens a new implicit block after a COMMIT in it. */
		if (implicit && PQtransactionStatus(run->c) == PQTRANS_IDLE && !is_txn_stmt(st, NULL) &&
		    control(run, "BEGIN", NULL, NULL) < 0)
			return -1;
		rc = run_stmt(run, st, st->sql, st->line, out);
		if (rc == 0)
			track(run, sc, i, out);
	}
	if (rc == 0 && wrap && PQtransactionStatus(run->c) == PQTRANS_INTRANS) {
		if (control(run, "COMMIT", out->sqlstate, &out->error) < 0) {
			out->failed = 1;
			out->in_txn = 1;
			out->line = sc->first_line;
			rc = run->fatal ? -1 : 1;
		} else
			commit_open(sc, out);
	}
	if (rc == 0 && !wrap && !in_run && PQtransactionStatus(run->c) == PQTRANS_INTRANS) {
		/* psql, sqitch...: the session ends, and with it the transaction. */
		out->left_open = 1;
		control(run, "ROLLBACK", NULL, NULL);
		memset(out->open, 0, sc->nstmts);
	}
end:
	if (rc != 0 && !in_run && PQtransactionStatus(run->c) != PQTRANS_IDLE)
		control(run, "ROLLBACK", NULL, NULL);
	if (rc != 0 && !in_run)
		memset(out->open, 0, sc->nstmts);
	return run->fatal ? -1 : rc;
}

static void
outcome_free(struct outcome *o)
{
	free(o->error);
	free(o->persisted);
	free(o->open);
	memset(o, 0, sizeof(*o));
}

/* ---- invariants ---- */

static void
index_name(const char *entry, char *idx, size_t isz, char *tbl, size_t tsz)
{
	const char *tab = strchr(entry, '\t');

	snprintf(idx, isz, "%.*s", tab ? (int) (tab - entry) : (int) strlen(entry), entry);
	snprintf(tbl, tsz, "%s", tab ? tab + 1 : "");
}

/* Pending statements that create an index IF NOT EXISTS over an invalid one of the target. */
static void
check_target_invalid(const struct mc_set *set, struct mc_report *r)
{
	char *const *inv = mc_inv_target_invalid();
	char idx[256], tbl[256];

	for (size_t k = 0; inv[k]; k++) {
		const char *dot;
		struct mc_where w = {NULL, 0, idx, NULL, NULL, -1, 0};
		int hit = 0;

		index_name(inv[k], idx, sizeof(idx), tbl, sizeof(tbl));
		dot = strchr(idx, '.');
		for (size_t i = 0; i < set->n; i++) {
			const struct mc_script *sc = &set->m[i].up;

			if (set->m[i].state != MC_STATE_PENDING)
				continue;
			for (size_t j = 0; j < sc->nstmts; j++) {
				json_object *b = sc->stmts[j].tree ? mc_node_body(sc->stmts[j].tree) : NULL;
				const char *name = b ? mc_jstr(b, "idxname") : NULL;
				struct mc_where sw = {sc->path, sc->stmts[j].line, idx, NULL, NULL, (int) i, 0};

				if (!name || strcmp(mc_node_type(sc->stmts[j].tree), "IndexStmt") != 0 ||
				    !mc_jbool(b, "if_not_exists") || strcmp(name, dot ? dot + 1 : idx) != 0)
					continue;
				hit = 1;
				mc_find(r, MC_SEV_FAIL, "invalid-index", &sw,
					"DROP INDEX CONCURRENTLY IF EXISTS the invalid index first, then CREATE INDEX "
					"CONCURRENTLY without IF NOT EXISTS, and check pg_index.indisvalid afterwards",
					"on the target, %s \"succeeds\" without building anything: index %s exists there, "
					"invalid (indisvalid = false), left by an earlier failed CREATE INDEX CONCURRENTLY; "
					"IF NOT EXISTS skips it and it stays invalid", sc->path, idx);
			}
		}
		if (!hit)
			mc_find(r, MC_SEV_FAIL, "invalid-index", &w,
				"DROP INDEX CONCURRENTLY the invalid index and build it again (CONCURRENTLY)",
				"index %s on %s is invalid on the target (indisvalid = false): a CREATE INDEX "
				"CONCURRENTLY failed there; queries do not use it, yet it is maintained on every write "
				"(a unique one still rejects duplicates)", idx, tbl);
	}
}

/* Invalid indexes and NOT VALID constraints that migration mi brought. */
static void
check_after(struct run *run, int mi, char ***inv_seen, char ***nv_seen, char ***nv_owner)
{
	char **inv = mc_inv_invalid_indexes(run->c), **nv = mc_inv_not_valid(run->c);
	const struct mc_script *sc = &run->set->m[mi].up;
	char idx[256], tbl[256];

	for (size_t i = 0; inv && inv[i]; i++) {
		struct mc_where w = {sc->path, 0, idx, NULL, NULL, mi, 0};

		if (mc_strv_has(*inv_seen, inv[i]))
			continue;
		index_name(inv[i], idx, sizeof(idx), tbl, sizeof(tbl));
		mc_find(run->r, MC_SEV_FAIL, "invalid-index", &w,
			"DROP INDEX CONCURRENTLY it and build it again; check pg_index.indisvalid after every "
			"CREATE INDEX CONCURRENTLY",
			"after %s, index %s on %s is invalid (indisvalid = false)", sc->path, idx, tbl);
	}
	mc_strv_free(*inv_seen);
	*inv_seen = inv;
	for (size_t i = 0; nv && nv[i]; i++) {
		size_t k = mc_strv_len(*nv_owner);
		char *e;

		if (mc_strv_has(*nv_seen, nv[i]))
			continue;
		/* Remember who created it: "<constraint entry>\n<migration index>". */
		*nv_owner = realloc(*nv_owner, (k + 2) * sizeof(char *));
		if (!*nv_owner || asprintf(&e, "%s\n%d", nv[i], mi) < 0)
			mc_oom();
		(*nv_owner)[k] = e;
		(*nv_owner)[k + 1] = NULL;
	}
	mc_strv_free(*nv_seen);
	*nv_seen = nv;
}

/* NOT VALID constraints the run created and left unvalidated. */
static void
check_not_valid(struct run *run, char **nv_now, char **nv_owner)
{
	for (size_t i = 0; nv_owner && nv_owner[i]; i++) {
		char entry[512], *nl, *tab;
		int mi;

		snprintf(entry, sizeof(entry), "%s", nv_owner[i]);
		nl = strrchr(entry, '\n');
		if (!nl)
			continue;
		*nl = '\0';
		mi = atoi(nl + 1);
		if (!mc_strv_has(nv_now, entry))
			continue;
		tab = strchr(entry, '\t');
		if (tab)
			*tab = '\0';
		{
			struct mc_where w = {run->set->m[mi].up.path, 0, tab ? tab + 1 : entry, NULL, NULL, mi, 0};

			mc_find(run->r, MC_SEV_WARN, "not-valid", &w,
				"VALIDATE CONSTRAINT in a later migration (it takes SHARE UPDATE EXCLUSIVE: reads "
				"and writes go on); until then existing rows are not checked",
				"constraint %s on %s is left NOT VALID after the run: %s added it and no migration "
				"validates it", tab ? tab + 1 : entry, entry, run->set->m[mi].up.path);
		}
	}
}

/* ---- the whole run ---- */

static int
session_setup(PGconn *c, const struct mc_trace_opts *o)
{
	char *sql;
	int rc = 0;

	if (o->lock_timeout) {
		sql = pgp_sql_build(c, "SET lock_timeout = %L", o->lock_timeout);
		rc |= sql ? pgp_conn_exec(c, sql) : -1;
		free(sql);
	}
	if (o->statement_timeout) {
		sql = pgp_sql_build(c, "SET statement_timeout = %L", o->statement_timeout);
		rc |= sql ? pgp_conn_exec(c, sql) : -1;
		free(sql);
	}
	/* DEBUG1 "verifying table" / "rewriting table": the server's own word on scans. */
	rc |= pgp_conn_exec(c, "SET client_min_messages = debug1");
	return rc ? -1 : 0;
}

/* Which migrations are pending, in order. */
static size_t
pending_list(const struct mc_set *set, int **out)
{
	size_t n = 0;

	*out = mc_calloc(set->n, sizeof(int));
	for (size_t i = 0; i < set->n; i++)
		if (set->m[i].state == MC_STATE_PENDING && set->m[i].up.path)
			(*out)[n++] = (int) i;
	return n;
}

static void
report_not_run(struct mc_report *r, const struct mc_set *set, const int *pend, size_t from, size_t n,
	       const char *why)
{
	char list[1024] = "";
	size_t len = 0;

	if (from >= n)
		return;
	for (size_t k = from; k < n && len < sizeof(list); k++)
		len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
					 set->m[pend[k]].up.path);
	{
		struct mc_where w = {NULL, 0, NULL, NULL, NULL, -1, 0};

		mc_find(r, MC_SEV_INFO, "error", &w, NULL, "%zu later migration%s did not run on the copy (%s): %s",
			n - from, n - from == 1 ? "" : "s", why, list);
	}
}

/* Up every pending migration (traced).  Returns how many succeeded, -1 fatal. */
static long
run_up(struct run *run, const int *pend, size_t npend, int report, char ***inv_seen, char ***nv_seen,
       char ***nv_owner)
{
	int in_run = run->set->tool == MC_TOOL_DRIZZLE || (npend && run->set->m[pend[0]].up.txn == MC_TXN_RUN);
	size_t k;

	if (in_run && control(run, "BEGIN", NULL, NULL) < 0)
		return -1;
	for (k = 0; k < npend; k++) {
		struct mc_script *sc = &run->set->m[pend[k]].up;
		char **fp = report ? mc_inv_fingerprint(run->c) : NULL;
		struct outcome out = {0};
		int rc = run_script(run, sc, &out, in_run);

		if (rc < 0) {
			mc_strv_free(fp);
			outcome_free(&out);
			return -1;
		}
		if (rc == 0 && in_run && k + 1 == npend &&
		    control(run, "COMMIT", out.sqlstate, &out.error) < 0) {
			out.failed = 1;
			rc = run->fatal ? -1 : 1;
		}
		if (rc == 1 && in_run && PQtransactionStatus(run->c) != PQTRANS_IDLE)
			control(run, "ROLLBACK", NULL, NULL);
		if (rc == 1 && report)
			mc_failure_report(run->c, run->r, sc, pend[k], &out, fp);
		/* A file ending inside its BEGIN: rules.c's ban-uncommitted-transaction says it. */
		if (rc == 0 && out.left_open)
			pgp_debug("%s ended inside a transaction: rolled back, as the tool's session end would", sc->path);
		if (rc == 1) {
			free(run->last_error);
			run->last_error = mc_strdup(out.error);
			run->last_line = out.line;
		}
		mc_strv_free(fp);
		outcome_free(&out);
		if (rc == 1) {
			/* A failed CREATE INDEX CONCURRENTLY leaves its invalid index behind. */
			if (report && !in_run)
				check_after(run, pend[k], inv_seen, nv_seen, nv_owner);
			if (report)
				report_not_run(run->r, run->set, pend, k + 1, npend,
					       in_run ? "the run's one transaction was rolled back" :
					       "the tool stops at the first failure");
			return (long) k;
		}
		if (report && !in_run)
			check_after(run, pend[k], inv_seen, nv_seen, nv_owner);
	}
	if (report && in_run && npend)
		check_after(run, pend[npend - 1], inv_seen, nv_seen, nv_owner);
	return (long) k;
}

/* Down in reverse order; 1 when one failed (reported), -1 fatal. */
static int
run_down(struct run *run, const int *pend, size_t npend)
{
	for (size_t k = npend; k-- > 0;) {
		struct mc_script *sc = &run->set->m[pend[k]].down;
		struct outcome out = {0};
		int rc = run_script(run, sc, &out, 0);

		if (rc == 1) {
			struct mc_where w = {sc->path, out.line, NULL, out.sqlstate[0] ? out.sqlstate : NULL, NULL,
					     pend[k], 0};

			mc_find(run->r, MC_SEV_FAIL, "roundtrip", &w,
				"a down migration must undo its up exactly, on the schema the up left",
				"down migration %s failed after the up migrations: %s", sc->path, out.error);
		}
		outcome_free(&out);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
roundtrip(struct run *run, struct mc_scratch *s, const int *pend, size_t npend, struct mc_schema *s0)
{
	struct mc_schema s1 = {0}, s2 = {0}, s3 = {0};
	int rc = 0, saved = run->record;
	long up;

	if (mc_rt_dump(s, run->set, &s1) < 0)
		return -1;
	rc = run_down(run, pend, npend);
	if (rc == 0 && mc_rt_dump(s, run->set, &s2) < 0)
		rc = -1;
	if (rc == 0)
		mc_rt_compare(s0, &s2, run->set, pend, npend, 1, run->r);
	if (rc == 0) {
		run->record = 0;
		up = run_up(run, pend, npend, 0, NULL, NULL, NULL);
		run->record = saved;
		if (up < 0)
			rc = -1;
		else if ((size_t) up < npend) {
			struct mc_where w = {run->set->m[pend[up]].up.path, run->last_line, NULL, NULL, NULL, pend[up], 0};

			mc_find(run->r, MC_SEV_FAIL, "roundtrip", &w,
				"the down migrations must leave the schema the up migrations expect",
				"%s failed when applied again after the down migrations: %s", w.file,
				run->last_error ? run->last_error : "?");
		} else if (mc_rt_dump(s, run->set, &s3) < 0)
			rc = -1;
		else
			mc_rt_compare(&s1, &s3, run->set, pend, npend, 0, run->r);
	}
	mc_rt_free(&s1);
	mc_rt_free(&s2);
	mc_rt_free(&s3);
	return rc < 0 ? -1 : 0;
}

static int
can_roundtrip(const struct mc_set *set, const int *pend, size_t npend)
{
	if (npend == 0)
		return 0;
	for (size_t k = 0; k < npend; k++)
		if (!set->m[pend[k]].down.path)
			return 0;
	return 1;
}

int
mc_trace_run(struct mc_scratch *s, struct mc_set *set, const struct mc_trace_opts *o, struct mc_report *r)
{
	struct run run = {s->conn, set, r, 1, NULL, {0}, 0, NULL, 0, NULL, 0};
	PQnoticeReceiver old_receiver;
	struct mc_schema s0 = {0};
	char **inv_seen = NULL, **nv_seen = NULL, **nv_owner = NULL;
	int *pend, rc = 0, rt;
	size_t npend = pending_list(set, &pend);
	long up;

	if (!s->conn || session_setup(s->conn, o) < 0) {
		free(pend);
		return PGP_EXIT_FAILED;
	}
	old_receiver = PQsetNoticeReceiver(s->conn, on_notice, &run);
	check_target_invalid(set, r);
	inv_seen = mc_inv_invalid_indexes(s->conn);
	nv_seen = mc_inv_not_valid(s->conn);
	rt = o->roundtrip && can_roundtrip(set, pend, npend);
	if (rt && mc_rt_dump(s, set, &s0) < 0)
		rc = PGP_EXIT_FAILED;
	up = rc ? -1 : run_up(&run, pend, npend, 1, &inv_seen, &nv_seen, &nv_owner);
	if (up < 0)
		rc = PGP_EXIT_FAILED;
	if (rc == 0) {
		char **nv = mc_inv_not_valid(s->conn);

		check_not_valid(&run, nv, nv_owner);
		mc_strv_free(nv);
	}
	if (rc == 0 && rt && (size_t) up == npend && roundtrip(&run, s, pend, npend, &s0) < 0)
		rc = PGP_EXIT_FAILED;
	if (run.fatal || mc_signalled()) {
		if (mc_signalled())
			pgp_error("interrupted: the run on the copy stops");
		rc = PGP_EXIT_FAILED;
	}
	/* libpq's default receiver ignores its argument. */
	PQsetNoticeReceiver(s->conn, old_receiver, NULL);
	snap_free(&run.before);
	fk_clear(&run);
	free(run.last_error);
	mc_rt_free(&s0);
	mc_strv_free(inv_seen);
	mc_strv_free(nv_seen);
	mc_strv_free(nv_owner);
	free(pend);
	return rc;
}
