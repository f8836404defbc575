/*
 * The static rules' walk over the pending set: every script in the
 * order the tool applies them, with the transaction each statement runs
 * in (the tool's wrapping, the script's own BEGIN/COMMIT/ROLLBACK), the
 * lock_timeout and statement_timeout in effect at each statement (SET,
 * SET LOCAL, set_config, RESET, a ROLLBACK undoing a SET, a transaction
 * pooler dropping session state between transactions), and what the
 * earlier statements created or proved.  The per-statement DDL rules are
 * in rules_ddl.c, the pooler traps in rules_pooler.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"
#include "sqlparse.h"

/* ---- small lists ---- */

int
rl_same_rel(const char *a, const char *b)
{
	const char *da, *db;

	if (!a || !b)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	da = strchr(a, '.');
	db = strchr(b, '.');
	if (da && db)
		return 0;
	return strcmp(da ? da + 1 : a, db ? db + 1 : b) == 0;
}

void
rl_names_add(struct rl_names *l, const char *s)
{
	if (!s)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return;
		l->v = nv;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(s)))
		l->n++;
}

int
rl_names_has(const struct rl_names *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (rl_same_rel(l->v[i], s))
			return 1;
	return 0;
}

void
rl_names_del(struct rl_names *l, const char *s)
{
	for (size_t i = 0; i < l->n;)
		if (rl_same_rel(l->v[i], s)) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
		} else
			i++;
}

void
rl_names_free(struct rl_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- findings and evidence ---- */

void
rl_find(struct rl *rc, const struct mc_stmt *s, enum mc_severity sev, const char *kind,
	const char *rule, const char *object, const char *advice, const char *fmt, ...)
{
	struct mc_where w = {rc->sc->path, s ? s->line : 0, object, NULL, rule, rc->migration, rc->own_path};
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mc_find(rc->r, sev, kind, &w, advice, "%s", msg);
}

int
rl_traced(const struct rl *rc, const struct mc_stmt *s)
{
	return rc->ctx->traced && s->ev.traced;
}

const char *
rl_static_note(const struct rl *rc, const struct mc_stmt *s)
{
	return rl_traced(rc, s) ? " (seen on the copy)" : " (static judgement: not traced)";
}

int
rl_failed(const struct mc_stmt *s)
{
	return s->ev.traced && s->ev.sqlstate[0] != '\0';
}

int
rl_in_block(const struct rl *rc)
{
	return rc->wrapped || rc->explicit_txn;
}

int
rl_exists(const struct rl *rc, const char *rel)
{
	return !rl_names_has(&rc->created, rel);
}

static int
ev_lists(char *const *v, size_t n, const char *rel)
{
	for (size_t i = 0; i < n; i++)
		if (mc_rel_matches(v[i], rel))
			return 1;
	return 0;
}

int
rl_ev_rewrote(const struct rl *rc, const struct mc_stmt *s, const char *rel)
{
	return rl_traced(rc, s) ? ev_lists(s->ev.rewrote, s->ev.nrewrote, rel) : -1;
}

int
rl_ev_scanned(const struct rl *rc, const struct mc_stmt *s, const char *rel)
{
	return rl_traced(rc, s) ? ev_lists(s->ev.scanned, s->ev.nscanned, rel) : -1;
}

/* ---- transactions ---- */

/* How the tool runs this script, for messages. */
static const char *
txn_how(const struct rl *rc)
{
	if (rc->explicit_txn)
		return "after the BEGIN on line %d";
	switch (rc->sc->txn) {
	case MC_TXN_FILE:
		return "the tool runs the whole file in one transaction";
	case MC_TXN_RUN:
		return "the tool runs every pending migration in one transaction";
	case MC_TXN_IMPLICIT:
		return "the tool sends the file as one query: one implicit transaction for its statements";
	default:
		return "in a transaction block";
	}
}

static void
txn_end(struct rl *rc, int rollback)
{
	if (rollback) {
		rc->lt.session = rc->lt.saved;
		rc->st.session = rc->st.saved;
	}
	rc->lt.local = rc->st.local = -1;
	rc->txn++;
	rc->lt.saved = rc->lt.session;
	rc->st.saved = rc->st.session;
	rl_names_free(&rc->txn_not_valid);
	rl_names_free(&rc->txn_enum);
	rc->ae_table[0] = '\0';
}

static void
transaction_stmt(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	const char *k = mc_jstr(b, "kind");
	const char *fix = "leave transaction control to the tool, or run the file without its transaction "
		"(Flyway: a separate non-transactional migration; dbmate: -- migrate:up transaction:false)";

	if (!k)
		return;
	if (strcmp(k, "TRANS_STMT_BEGIN") == 0 || strcmp(k, "TRANS_STMT_START") == 0) {
		if (rc->explicit_txn)
			rl_find(rc, s, MC_SEV_WARN, "transaction", "transaction-nesting", NULL, "remove the inner BEGIN",
				"BEGIN inside the transaction begun on line %d: PostgreSQL only warns, and the first COMMIT ends both",
				rc->begin_line);
		else if (rc->sc->txn == MC_TXN_FILE || rc->sc->txn == MC_TXN_RUN)
			rl_find(rc, s, MC_SEV_WARN, "transaction", "transaction-nesting", NULL, fix,
				"BEGIN although %s: its COMMIT ends the tool's transaction early", txn_how(rc));
		if (!rc->explicit_txn)
			rc->begin_line = s->line;
		rc->explicit_txn = 1;
		return;
	}
	if (strcmp(k, "TRANS_STMT_COMMIT") == 0 || strcmp(k, "TRANS_STMT_ROLLBACK") == 0) {
		int rollback = k[11] == 'R';

		if (!rc->explicit_txn && (rc->sc->txn == MC_TXN_FILE || rc->sc->txn == MC_TXN_RUN))
			rl_find(rc, s, MC_SEV_WARN, "transaction", "transaction-nesting", NULL, fix,
				"%s although %s: the tool's transaction ends here and its own COMMIT only warns",
				rollback ? "ROLLBACK" : "COMMIT", txn_how(rc));
		else if (!rc->explicit_txn && rc->sc->txn == MC_TXN_NONE)
			rl_find(rc, s, MC_SEV_WARN, "transaction", "transaction-nesting", NULL,
				"remove it, or add the BEGIN it belongs to",
				"%s without a BEGIN: there is no transaction in progress", rollback ? "ROLLBACK" : "COMMIT");
		rc->explicit_txn = 0;
		txn_end(rc, rollback);
	}
}

/* ---- lock_timeout / statement_timeout ---- */

static int
guc_on(const struct rl *rc, const struct rl_guc *g, int role_default)
{
	if (g->local != -1 && g->local_txn == rc->txn)
		return g->local;
	if (g->session != -1) {
		/* through a transaction pooler the next transaction may get
		 * another server connection, without this SET */
		if (rc->ctx->pooler_transaction && g->session_txn != rc->txn)
			return role_default;
		return g->session;
	}
	return role_default;
}

static struct rl_guc *
guc_of(struct rl *rc, const char *name)
{
	if (!name)
		return NULL;
	if (strcmp(name, "lock_timeout") == 0)
		return &rc->lt;
	if (strcmp(name, "statement_timeout") == 0)
		return &rc->st;
	return NULL;
}

/* A timeout value: 0 (or "0", "0s") disables it. */
static int
value_on(const char *v)
{
	return v && strtod(v, NULL) != 0;
}

static void
guc_set(struct rl *rc, const struct mc_stmt *s, struct rl_guc *g, int local, int on)
{
	if (local) {
		if (!rl_in_block(rc))
			rl_find(rc, s, MC_SEV_WARN, "lock-timeout", "set-local-outside-transaction", NULL,
				"put SET LOCAL after BEGIN, in the transaction it is for",
				"SET LOCAL outside a transaction block has no effect on the statements after it");
		g->local = on;
		g->local_txn = rc->txn;
	} else {
		g->session = on;
		g->session_txn = rc->txn;
	}
}

static void
variable_set(struct rl *rc, const struct mc_stmt *s, json_object *b)
{
	const char *k = mc_jstr(b, "kind");
	struct rl_guc *g = guc_of(rc, mc_jstr(b, "name"));
	char buf[64];

	if (!k)
		return;
	if (strcmp(k, "VAR_RESET_ALL") == 0) {
		rc->lt.session = rc->st.session = -1;
		return;
	}
	if (!g)
		return;
	if (strcmp(k, "VAR_SET_VALUE") == 0) {
		json_object *args = mc_jget(b, "args", NULL);
		json_object *a = args ? json_object_array_get_idx(args, 0) : NULL;

		guc_set(rc, s, g, mc_jbool(b, "is_local"), value_on(rl_const_str(a, buf, sizeof(buf))));
	} else if (strcmp(k, "VAR_SET_DEFAULT") == 0 || strcmp(k, "VAR_RESET") == 0) {
		if (mc_jbool(b, "is_local"))
			g->local = -1;
		else
			g->session = -1;
	}
}

static void
set_config_call(json_object *call, void *arg)
{
	struct rl *rc = arg;
	const char *fn = rl_func_name(call);
	json_object *args = mc_jget(call, "args", NULL);
	char n[64], v[64], l[16];
	const char *name, *val, *local;
	struct rl_guc *g;

	if (!fn || strcmp(fn, "set_config") != 0 || !args || json_object_array_length(args) != 3)
		return;
	name = rl_const_str(json_object_array_get_idx(args, 0), n, sizeof(n));
	val = rl_const_str(json_object_array_get_idx(args, 1), v, sizeof(v));
	local = rl_const_str(json_object_array_get_idx(args, 2), l, sizeof(l));
	if (!(g = guc_of(rc, name)) || !local)
		return;
	if (strcmp(local, "true") == 0) {
		g->local = value_on(val);
		g->local_txn = rc->txn;
	} else {
		g->session = value_on(val);
		g->session_txn = rc->txn;
	}
}

/* require-lock-timeout / require-statement-timeout: once per script. */
static void
timeouts(struct rl *rc, const struct mc_stmt *s)
{
	struct mc_lock *locks = s->ev.locks, *own = NULL;
	size_t n = s->ev.nlocks;
	const char *rel = NULL;
	int mode = 0;
	const char *pooler = rc->ctx->pooler_transaction ?
		" (through the transaction pooler a session SET does not reach later transactions)" : "";

	if (!(rl_traced(rc, s) && s->ev.locks_known))
		n = mc_static_locks(s, &own), locks = own;
	for (size_t i = 0; i < n; i++) {
		int m = rl_mode_from_name(locks[i].mode);

		if (m >= RL_SHARE && m > mode && rl_exists(rc, locks[i].relation)) {
			mode = m;
			rel = locks[i].relation;
		}
	}
	if (rel && !rc->lt.reported && !guc_on(rc, &rc->lt, rc->ctx->lock_timeout_in_effect)) {
		rc->lt.reported = 1;
		rl_find(rc, s, MC_SEV_WARN, "lock-timeout", "require-lock-timeout", rel,
			rc->wrapped ? "SET LOCAL lock_timeout = '2s'; at the top of the file, and retry on SQLSTATE 55P03"
			: "BEGIN; SET LOCAL lock_timeout = '2s'; ... COMMIT; or ALTER ROLE ... SET lock_timeout = '2s', and retry on SQLSTATE 55P03",
			"%s on %s without a lock_timeout: while it waits for the lock every query on the table queues behind it%s",
			rl_mode_name(mode), rel, pooler);
	}
	if (rel && !rc->st.reported && !guc_on(rc, &rc->st, rc->ctx->statement_timeout_in_effect)) {
		rc->st.reported = 1;
		rl_find(rc, s, MC_SEV_WARN, "lock-timeout", "require-statement-timeout", rel,
			"SET LOCAL statement_timeout = '5min'; (or ALTER ROLE ... SET statement_timeout)",
			"%s on %s without a statement_timeout: a slow statement holds the lock as long as it runs%s",
			rl_mode_name(mode), rel, pooler);
	}
	/* Eugene E4: the lock is held until COMMIT, whatever runs after it */
	if (mode == RL_ACCESS_EXCLUSIVE && rl_in_block(rc) && !rc->ae_table[0]) {
		snprintf(rc->ae_table, sizeof(rc->ae_table), "%s", rel);
		rc->ae_txn = rc->txn;
		rc->ae_said = 0;
	}
	mc_locks_free(own, own ? n : 0);
}

static int
is_slow(const char *type)
{
	return strcmp(type, "UpdateStmt") == 0 || strcmp(type, "DeleteStmt") == 0 ||
		strcmp(type, "InsertStmt") == 0 || strcmp(type, "IndexStmt") == 0 ||
		strcmp(type, "RefreshMatViewStmt") == 0 || strcmp(type, "MergeStmt") == 0;
}

static void
after_access_exclusive(struct rl *rc, const struct mc_stmt *s, const char *type)
{
	if (!rc->ae_table[0] || rc->ae_txn != rc->txn || rc->ae_said || !rl_in_block(rc) ||
	    strcmp(type, "TransactionStmt") == 0 || strcmp(type, "VariableSetStmt") == 0 ||
	    strcmp(type, "CommentStmt") == 0)
		return;
	rc->ae_said = 1;
	rl_find(rc, s, is_slow(type) ? MC_SEV_WARN : MC_SEV_INFO, "lock", "statements-after-access-exclusive",
		rc->ae_table, "COMMIT right after the statement that takes the ACCESS EXCLUSIVE lock; put the rest in another transaction",
		"this statement runs while the transaction still holds ACCESS EXCLUSIVE on %s: every query on it waits until COMMIT",
		rc->ae_table);
}

/* ---- statements that cannot run in a transaction block ---- */

static const char *
non_transactional(int pg_version, const char *type, json_object *b)
{
	const char *kind;

	if (strcmp(type, "DropStmt") == 0 && mc_jbool(b, "concurrent"))
		return "DROP INDEX CONCURRENTLY";
	if (strcmp(type, "ReindexStmt") == 0) {
		json_object *p = mc_jget(b, "params", NULL);

		for (size_t i = 0; p && i < json_object_array_length(p); i++) {
			const char *n = mc_jstr(mc_jget(json_object_array_get_idx(p, i), "DefElem", NULL), "defname");

			if (n && strcmp(n, "concurrently") == 0)
				return "REINDEX CONCURRENTLY";
		}
	}
	if (strcmp(type, "VacuumStmt") == 0 && mc_jbool(b, "is_vacuumcmd"))
		return "VACUUM";
	if (strcmp(type, "CreatedbStmt") == 0)
		return "CREATE DATABASE";
	if (strcmp(type, "DropdbStmt") == 0)
		return "DROP DATABASE";
	if (strcmp(type, "AlterSystemStmt") == 0)
		return "ALTER SYSTEM";
	if (strcmp(type, "CreateTableSpaceStmt") == 0)
		return "CREATE TABLESPACE";
	if (strcmp(type, "AlterEnumStmt") == 0 && !mc_jstr(b, "oldVal") && pg_version < 120000)
		return "ALTER TYPE ... ADD VALUE (before PostgreSQL 12)";
	if (strcmp(type, "DropTableSpaceStmt") == 0)
		return "DROP TABLESPACE";
	if (strcmp(type, "ReindexStmt") == 0 && (kind = mc_jstr(b, "kind")) &&
	    (strcmp(kind, "REINDEX_OBJECT_DATABASE") == 0 || strcmp(kind, "REINDEX_OBJECT_SYSTEM") == 0 ||
	     strcmp(kind, "REINDEX_OBJECT_SCHEMA") == 0))
		return "REINDEX SCHEMA / DATABASE / SYSTEM";
	if (strcmp(type, "DiscardStmt") == 0 && (kind = mc_jstr(b, "target")) && strcmp(kind, "DISCARD_ALL") == 0)
		return "DISCARD ALL";
	if (strcmp(type, "ClusterStmt") == 0 && !mc_jget(b, "relation", NULL))
		return "CLUSTER without a table";
	if (strcmp(type, "CreateSubscriptionStmt") == 0 || strcmp(type, "DropSubscriptionStmt") == 0)
		return "CREATE / DROP SUBSCRIPTION";
	if (strcmp(type, "AlterTableStmt") == 0) {
		json_object *cmds = mc_jget(b, "cmds", NULL);

		for (size_t i = 0; cmds && i < json_object_array_length(cmds); i++) {
			json_object *c = mc_node_body(json_object_array_get_idx(cmds, i));

			if (strcmp(mc_jstr(c, "subtype") ? mc_jstr(c, "subtype") : "", "AT_DetachPartition") == 0 &&
			    mc_jbool(mc_jget(c, "def", "PartitionCmd", NULL), "concurrent"))
				return "DETACH PARTITION CONCURRENTLY";
		}
	}
	return NULL;
}

static void
in_transaction(struct rl *rc, const struct mc_stmt *s, const char *type, json_object *b)
{
	const char *what = NULL, *rule = "ban-non-transactional-in-transaction";
	char how[160];

	/* traced: it failed there (the trace said so) or it did not fail */
	if (!rl_in_block(rc) || rl_traced(rc, s))
		return;
	if (strcmp(type, "IndexStmt") == 0 && mc_jbool(b, "concurrent")) {
		what = "CREATE INDEX CONCURRENTLY";
		rule = "ban-concurrent-index-creation-in-transaction";
	} else
		what = non_transactional(rc->ctx->pg_version, type, b);
	if (!what)
		return;
	snprintf(how, sizeof(how), txn_how(rc), rc->begin_line);
	rl_find(rc, s, MC_SEV_FAIL, "transaction", rule, NULL,
		"put it alone in a migration the tool runs outside a transaction (Flyway detects CONCURRENTLY; golang-migrate and "
		"Prisma: the only statement of its file; dbmate: transaction:false; psql: no BEGIN around it)",
		"%s cannot run inside a transaction block (SQLSTATE 25001): %s", what, how);
}

/* ---- enum values added in this transaction ---- */

static void
enum_use_walk(struct rl *rc, const struct mc_stmt *s, json_object *node, int *said)
{
	if (*said || !node)
		return;
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			enum_use_walk(rc, s, json_object_array_get_idx(node, i), said);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	json_object_object_foreach(node, key, val) {
		if (strcmp(key, "A_Const") == 0) {
			const char *sv = mc_jstr(mc_jget(val, "sval", NULL), "sval");

			for (size_t i = 0; sv && i < rc->txn_enum.n; i++)
				if (strcmp(strchr(rc->txn_enum.v[i], '=') + 1, sv) == 0) {
					char type[256];

					snprintf(type, sizeof(type), "%.*s", (int) (strchr(rc->txn_enum.v[i], '=') - rc->txn_enum.v[i]),
						 rc->txn_enum.v[i]);
					*said = 1;
					rl_find(rc, s, MC_SEV_FAIL, "error", "enum-value-used-in-transaction", type,
						"add the value in its own migration (or COMMIT after ALTER TYPE ... ADD VALUE), use it in the next",
						"enum value '%s' is used in the transaction that added it: \"unsafe use of new value\" "
						"(SQLSTATE 55P04)", sv);
					return;
				}
		}
		enum_use_walk(rc, s, val, said);
	}
}

static void
enums(struct rl *rc, const struct mc_stmt *s, const char *type, json_object *b)
{
	int said = 0;

	if (!rl_in_block(rc))
		return;
	if (strcmp(type, "AlterEnumStmt") == 0) {
		char name[256], buf[320];
		json_object *tn = mc_jget(b, "typeName", NULL);
		size_t n = tn ? json_object_array_length(tn) : 0;
		const char *t = n ? mc_jstr(mc_jget(json_object_array_get_idx(tn, n - 1), "String", NULL), "sval") : "?";

		if (mc_jstr(b, "oldVal") || !mc_jstr(b, "newVal"))
			return;
		snprintf(name, sizeof(name), "%s", t ? t : "?");
		snprintf(buf, sizeof(buf), "%s=%s", name, mc_jstr(b, "newVal"));
		rl_names_add(&rc->txn_enum, buf);
		return;
	}
	/* a string equal to the new value is only a guess at a use: the trace knows */
	if (rc->txn_enum.n && !rl_traced(rc, s))
		enum_use_walk(rc, s, s->tree, &said);
}

/* ---- the walk ---- */

static void
statement(struct rl *rc, const struct mc_stmt *s)
{
	const char *type = mc_node_type(s->tree);
	json_object *b = mc_node_body(s->tree);

	if (!rc->lint) {
		rl_learn(rc, s);
		return;
	}
	if (strcmp(type, "TransactionStmt") == 0) {
		transaction_stmt(rc, s, b);
		return;
	}
	if (strcmp(type, "VariableSetStmt") == 0)
		variable_set(rc, s, b);
	rl_walk_funcs(s->tree, set_config_call, rc);
	after_access_exclusive(rc, s, type);
	in_transaction(rc, s, type, b);
	enums(rc, s, type, b);
	rl_ddl(rc, s);
	if (rc->ctx->pooler_transaction)
		rl_pooler(rc, s);
	timeouts(rc, s);
	rl_learn(rc, s);
}

static void
script_begin(struct rl *rc, const struct mc_script *sc, int keep)
{
	rc->sc = sc;
	rc->nsql = 0;
	rl_names_free(&rc->altered);
	for (size_t i = 0; i < sc->nstmts; i++)
		if (sc->stmts[i].tree)
			rc->nsql++;
	rc->wrapped = sc->txn == MC_TXN_FILE || sc->txn == MC_TXN_RUN ||
		(sc->txn == MC_TXN_IMPLICIT && rc->nsql > 1);
	if (keep)
		return;
	rc->explicit_txn = 0;
	txn_end(rc, 0);
	rc->lt.session = rc->st.session = -1;
	rc->lt.saved = rc->st.saved = -1;
	rc->lt.reported = rc->st.reported = 0;
}

static void
script(struct rl *rc, const struct mc_script *sc, int lint)
{
	int keep = rc->sc && rc->sc->txn == MC_TXN_RUN && sc->txn == MC_TXN_RUN;

	if (!sc->path)
		return;
	rc->lint = lint;
	script_begin(rc, sc, keep);
	if (sc->parse_error) {
		if (lint) {
			struct mc_stmt at = {0};

			at.line = sc->parse_error_line;
			if (rc->ctx->pg_version < 160000)
				rl_find(rc, &at, MC_SEV_FAIL, "parse", "parse", NULL, "fix the syntax",
					"syntax error: %s", sc->parse_error);
			else
				rl_find(rc, &at, MC_SEV_WARN, "parse", "parse", NULL,
					"review the statement by hand: the trace's result on this server stands",
					"the static rules could not read this statement (PostgreSQL 15 grammar); the trace still ran it: %s",
					sc->parse_error);
		}
		/* The statements that did parse keep their trees: one unknown statement must not hide the rest. */
	}
	for (size_t i = 0; i < sc->nstmts; i++) {
		const struct mc_stmt *s = &sc->stmts[i];

		if (!s->tree)
			continue;
		statement(rc, s);
		if (!rl_in_block(rc))
			txn_end(rc, 0);	/* autocommit: the statement was its own transaction */
	}
	if (lint && rc->explicit_txn) {
		struct mc_stmt at = {0};

		at.line = rc->begin_line;
		rl_find(rc, &at, MC_SEV_FAIL, "transaction", "ban-uncommitted-transaction", NULL,
			"end the transaction with COMMIT",
			"BEGIN without COMMIT: the migration reports success and its changes are rolled back when the session ends");
	}
}

/*
 * What a pending migration created is new for the rest of the run.  With
 * no applied state read (--static: UNKNOWN) any earlier migration may
 * already be applied, so what it created is new only within itself.
 */
static void
created_scope(struct rl *rc, const struct mc_migration *m)
{
	if (m->state == MC_STATE_PENDING) {
		rc->created_keep = rc->created.n;
		return;
	}
	while (rc->created.n > rc->created_keep)
		free(rc->created.v[--rc->created.n]);
}

static void
rl_free(struct rl *rc)
{
	rl_names_free(&rc->created);
	rl_names_free(&rc->notnull);
	rl_names_free(&rc->checks);
	rl_names_free(&rc->txn_not_valid);
	rl_names_free(&rc->txn_enum);
	rl_names_free(&rc->indexes);
	rl_names_free(&rc->known);
	rl_names_free(&rc->altered);
	rl_fk_free(rc);
	for (size_t i = 0; i < rc->ncols; i++) {
		free(rc->cols[i].table);
		free(rc->cols[i].name);
	}
	free(rc->cols);
}

void
mc_rules_run(const struct mc_set *set, const struct mc_rules_ctx *ctx, struct mc_report *r)
{
	struct mc_rules_ctx c = *ctx;
	struct rl_names *own = calloc(set->n ? set->n : 1, sizeof(*own));
	struct rl rc;

	if (!own)
		return;
	if (c.pg_version <= 0)
		c.pg_version = 150000;	/* no version known: judge for the parser's own */
	memset(&rc, 0, sizeof(rc));
	rc.ctx = &c;
	rc.r = r;
	for (size_t i = 0; i < set->n; i++) {
		const struct mc_migration *m = &set->m[i];
		int pending = m->state == MC_STATE_PENDING || m->state == MC_STATE_UNKNOWN;

		rc.migration = (int) i;
		script(&rc, &m->up, pending);
		/* what this up created is new for its own down */
		for (size_t k = rc.created_keep; k < rc.created.n; k++)
			rl_names_add(&own[i], rc.created.v[k]);
		created_scope(&rc, m);
	}
	/* the downs run after every up, newest first */
	for (size_t i = set->n; i-- > 0;) {
		const struct mc_migration *m = &set->m[i];

		if (m->state != MC_STATE_PENDING && m->state != MC_STATE_UNKNOWN)
			continue;
		rc.migration = (int) i;
		for (size_t k = 0; m->state == MC_STATE_UNKNOWN && k < own[i].n; k++)
			rl_names_add(&rc.created, own[i].v[k]);
		script(&rc, &m->down, 1);
		created_scope(&rc, m);
	}
	rl_fk_check(&rc);
	rl_free(&rc);
	for (size_t i = 0; i < set->n; i++)
		rl_names_free(&own[i]);
	free(own);
}

int
mc_stmt_transaction_safe(json_object *tree)
{
	const char *type = mc_node_type(tree);
	json_object *b = mc_node_body(tree);

	if (!tree || non_transactional(180000, type, b))
		return 0;
	if (strcmp(type, "IndexStmt") == 0 && mc_jbool(b, "concurrent"))
		return 0;
	/* these behave otherwise inside a block: transaction control, a LOCK
	 * or cursor that outside one is an error, procedures and DO blocks
	 * that may COMMIT themselves */
	return strcmp(type, "TransactionStmt") != 0 && strcmp(type, "LockStmt") != 0 &&
	       strcmp(type, "DeclareCursorStmt") != 0 && strcmp(type, "CallStmt") != 0 &&
	       strcmp(type, "DoStmt") != 0 && strcmp(type, "VariableSetStmt") != 0;
}
