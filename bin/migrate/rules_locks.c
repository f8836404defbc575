/*
 * The static lock table: which table-level lock each statement takes, as
 * tablecmds.c (AlterTableGetLockLevel) and the statements' own code take
 * them in PostgreSQL 15, checked against pg_locks where the research note
 * measured it (§1.3).  It speaks for statements the trace could not watch
 * from inside a transaction (CREATE INDEX CONCURRENTLY, autocommit files)
 * and for the live-traffic check when there was no trace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"
#include "sqlparse.h"

static const char *const mode_names[] = {
	"", "AccessShareLock", "RowShareLock", "RowExclusiveLock",
	"ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock",
	"ExclusiveLock", "AccessExclusiveLock"
};

/* PostgreSQL's conflict table (lock.c LockConflicts), one bit per mode. */
static const int conflicts[] = {
	0,
	1 << RL_ACCESS_EXCLUSIVE,
	(1 << RL_EXCLUSIVE) | (1 << RL_ACCESS_EXCLUSIVE),
	(1 << RL_SHARE) | (1 << RL_SHARE_ROW_EXCLUSIVE) | (1 << RL_EXCLUSIVE) |
		(1 << RL_ACCESS_EXCLUSIVE),
	(1 << RL_SHARE_UPDATE_EXCLUSIVE) | (1 << RL_SHARE) | (1 << RL_SHARE_ROW_EXCLUSIVE) |
		(1 << RL_EXCLUSIVE) | (1 << RL_ACCESS_EXCLUSIVE),
	(1 << RL_ROW_EXCLUSIVE) | (1 << RL_SHARE_UPDATE_EXCLUSIVE) |
		(1 << RL_SHARE_ROW_EXCLUSIVE) | (1 << RL_EXCLUSIVE) | (1 << RL_ACCESS_EXCLUSIVE),
	(1 << RL_ROW_EXCLUSIVE) | (1 << RL_SHARE_UPDATE_EXCLUSIVE) | (1 << RL_SHARE) |
		(1 << RL_SHARE_ROW_EXCLUSIVE) | (1 << RL_EXCLUSIVE) | (1 << RL_ACCESS_EXCLUSIVE),
	(1 << RL_ROW_SHARE) | (1 << RL_ROW_EXCLUSIVE) | (1 << RL_SHARE_UPDATE_EXCLUSIVE) |
		(1 << RL_SHARE) | (1 << RL_SHARE_ROW_EXCLUSIVE) | (1 << RL_EXCLUSIVE) |
		(1 << RL_ACCESS_EXCLUSIVE),
	0x1fe
};

const char *
rl_mode_name(int mode)
{
	return mode > 0 && mode <= RL_ACCESS_EXCLUSIVE ? mode_names[mode] : "";
}

int
rl_mode_from_name(const char *name)
{
	if (!name)
		return RL_NONE;
	for (int m = 1; m <= RL_ACCESS_EXCLUSIVE; m++)
		if (strcmp(name, mode_names[m]) == 0)
			return m;
	return RL_NONE;
}

int
mc_lock_rank(const char *mode)
{
	return mode ? rl_mode_from_name(mode) : 0;
}

int
mc_lock_conflicts(const char *a, const char *b)
{
	int ma = rl_mode_from_name(a), mb = rl_mode_from_name(b);

	return ma && mb && (conflicts[ma] & (1 << mb)) != 0;
}

struct locks {
	struct mc_lock *v;
	size_t n;
};

/* Adds rel at mode, keeping the strongest mode per relation. */
static void
add(struct locks *l, const char *rel, int mode)
{
	struct mc_lock *nv;

	if (!rel || !*rel || mode == RL_NONE)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].relation, rel) == 0) {
			char *m;

			if (mode > rl_mode_from_name(l->v[i].mode) && (m = strdup(rl_mode_name(mode)))) {
				free(l->v[i].mode);
				l->v[i].mode = m;
			}
			return;
		}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return;
	l->v = nv;
	l->v[l->n].relation = strdup(rel);
	l->v[l->n].mode = strdup(rl_mode_name(mode));
	if (l->v[l->n].relation && l->v[l->n].mode)
		l->n++;
	else {
		free(l->v[l->n].relation);
		free(l->v[l->n].mode);
	}
}

static void
add_rangevar(struct locks *l, json_object *rv, int mode)
{
	char buf[256];

	if (rv && mc_jstr(rv, "relname"))
		add(l, mc_rangevar_name(rv, buf, sizeof(buf)), mode);
}

const char *
rl_list_name(json_object *list, int drop_last, char *buf, size_t size)
{
	json_object *items = mc_jget(list, "List", "items", NULL);
	size_t n = items ? json_object_array_length(items) : 0, used = 0;

	buf[0] = '\0';
	if (drop_last && n > 0)
		n--;
	for (size_t i = 0; i < n && used < size; i++) {
		const char *sv = mc_jstr(mc_jget(json_object_array_get_idx(items, i), "String", NULL), "sval");

		if (!sv)
			continue;
		used += snprintf(buf + used, size - used, "%s%s", used ? "." : "", sv);
	}
	return buf;
}

/* A Constraint node's own lock on the referenced table (FOREIGN KEY). */
static void
constraint_refs(struct locks *l, json_object *con)
{
	if (con && strcmp(mc_jstr(con, "contype") ? mc_jstr(con, "contype") : "", "CONSTR_FOREIGN") == 0)
		add_rangevar(l, mc_jget(con, "pktable", NULL), RL_SHARE_ROW_EXCLUSIVE);
}

static void
coldef_refs(struct locks *l, json_object *coldef)
{
	json_object *cons = mc_jget(coldef, "constraints", NULL);

	for (size_t i = 0; cons && i < json_object_array_length(cons); i++)
		constraint_refs(l, mc_node_body(json_object_array_get_idx(cons, i)));
}

/* AlterTableGetLockLevel for one subcommand; refs added to l. */
static int
subcmd_mode(struct locks *l, json_object *cmd)
{
	const char *st = mc_jstr(cmd, "subtype");
	json_object *def = mc_jget(cmd, "def", NULL);

	if (!st)
		return RL_ACCESS_EXCLUSIVE;
	if (strcmp(st, "AT_AddConstraint") == 0) {
		json_object *con = mc_jget(def, "Constraint", NULL);
		const char *ct = mc_jstr(con, "contype");

		if (ct && strcmp(ct, "CONSTR_FOREIGN") == 0) {
			constraint_refs(l, con);
			return RL_SHARE_ROW_EXCLUSIVE;
		}
		return RL_ACCESS_EXCLUSIVE;
	}
	if (strcmp(st, "AT_AddColumn") == 0) {
		coldef_refs(l, mc_jget(def, "ColumnDef", NULL));
		return RL_ACCESS_EXCLUSIVE;
	}
	if (strcmp(st, "AT_ValidateConstraint") == 0 || strcmp(st, "AT_SetStatistics") == 0 ||
	    strcmp(st, "AT_SetRelOptions") == 0 || strcmp(st, "AT_ResetRelOptions") == 0 ||
	    strcmp(st, "AT_SetOptions") == 0 || strcmp(st, "AT_ResetOptions") == 0 ||
	    strcmp(st, "AT_ClusterOn") == 0 || strcmp(st, "AT_DropCluster") == 0 ||
	    strcmp(st, "AT_DetachPartitionFinalize") == 0)
		return RL_SHARE_UPDATE_EXCLUSIVE;
	if (strncmp(st, "AT_EnableTrig", 13) == 0 || strncmp(st, "AT_EnableAlwaysTrig", 19) == 0 ||
	    strncmp(st, "AT_EnableReplicaTrig", 20) == 0 || strncmp(st, "AT_DisableTrig", 14) == 0)
		return RL_SHARE_ROW_EXCLUSIVE;
	if (strcmp(st, "AT_AttachPartition") == 0) {
		add_rangevar(l, mc_jget(def, "PartitionCmd", "name", NULL), RL_ACCESS_EXCLUSIVE);
		return RL_SHARE_UPDATE_EXCLUSIVE;
	}
	if (strcmp(st, "AT_DetachPartition") == 0) {
		/* CONCURRENTLY: its second transaction still takes ACCESS
		 * EXCLUSIVE on the partition (ALTER TABLE's documentation) */
		add_rangevar(l, mc_jget(def, "PartitionCmd", "name", NULL), RL_ACCESS_EXCLUSIVE);
		return mc_jbool(mc_jget(def, "PartitionCmd", NULL), "concurrent") ?
			RL_SHARE_UPDATE_EXCLUSIVE : RL_ACCESS_EXCLUSIVE;
	}
	return RL_ACCESS_EXCLUSIVE;
}

static void
alter_table(struct locks *l, json_object *b)
{
	json_object *cmds = mc_jget(b, "cmds", NULL);
	int mode = RL_NONE;

	for (size_t i = 0; cmds && i < json_object_array_length(cmds); i++) {
		int m = subcmd_mode(l, mc_node_body(json_object_array_get_idx(cmds, i)));

		if (m > mode)
			mode = m;
	}
	add_rangevar(l, mc_jget(b, "relation", NULL), mode ? mode : RL_ACCESS_EXCLUSIVE);
}

static void
drop(struct locks *l, json_object *b)
{
	const char *type = mc_jstr(b, "removeType");
	json_object *objs = mc_jget(b, "objects", NULL);
	int mode = RL_ACCESS_EXCLUSIVE, on_table = 0;
	char buf[256];

	if (!type)
		return;
	if (strcmp(type, "OBJECT_INDEX") == 0)
		mode = mc_jbool(b, "concurrent") ? RL_SHARE_UPDATE_EXCLUSIVE : RL_ACCESS_EXCLUSIVE;
	else if (strcmp(type, "OBJECT_TRIGGER") == 0 || strcmp(type, "OBJECT_POLICY") == 0 ||
		 strcmp(type, "OBJECT_RULE") == 0)
		on_table = 1;	/* [table, name]: the lock is on the table */
	else if (strcmp(type, "OBJECT_TABLE") != 0 && strcmp(type, "OBJECT_VIEW") != 0 &&
		 strcmp(type, "OBJECT_MATVIEW") != 0 && strcmp(type, "OBJECT_SEQUENCE") != 0 &&
		 strcmp(type, "OBJECT_FOREIGN_TABLE") != 0)
		return;
	for (size_t i = 0; objs && i < json_object_array_length(objs); i++)
		add(l, rl_list_name(json_object_array_get_idx(objs, i), on_table, buf, sizeof(buf)), mode);
}

static void
comment(struct locks *l, json_object *b)
{
	const char *type = mc_jstr(b, "objtype");
	char buf[256];

	if (!type)
		return;
	if (strcmp(type, "OBJECT_TABLE") == 0 || strcmp(type, "OBJECT_MATVIEW") == 0 ||
	    strcmp(type, "OBJECT_VIEW") == 0)
		add(l, rl_list_name(mc_jget(b, "object", NULL), 0, buf, sizeof(buf)), RL_SHARE_UPDATE_EXCLUSIVE);
	else if (strcmp(type, "OBJECT_COLUMN") == 0)
		add(l, rl_list_name(mc_jget(b, "object", NULL), 1, buf, sizeof(buf)), RL_SHARE_UPDATE_EXCLUSIVE);
}

static void
rangevars(struct locks *l, json_object *arr, const char *wrap, int mode)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		add_rangevar(l, wrap ? mc_jget(e, wrap, NULL) : e, mode);
	}
}

static void
vacuum(struct locks *l, json_object *b)
{
	json_object *opts = mc_jget(b, "options", NULL), *rels = mc_jget(b, "rels", NULL);
	int full = 0;

	for (size_t i = 0; opts && i < json_object_array_length(opts); i++) {
		const char *n = mc_jstr(mc_jget(json_object_array_get_idx(opts, i), "DefElem", NULL), "defname");

		if (n && strcmp(n, "full") == 0)
			full = 1;
	}
	for (size_t i = 0; rels && i < json_object_array_length(rels); i++)
		add_rangevar(l, mc_jget(json_object_array_get_idx(rels, i), "VacuumRelation", "relation", NULL),
			     full ? RL_ACCESS_EXCLUSIVE : RL_SHARE_UPDATE_EXCLUSIVE);
}

static int
has_defelem(json_object *list, const char *name)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		const char *n = mc_jstr(mc_jget(json_object_array_get_idx(list, i), "DefElem", NULL), "defname");

		if (n && strcmp(n, name) == 0)
			return 1;
	}
	return 0;
}

static void
create_table(struct locks *l, json_object *b)
{
	json_object *elts = mc_jget(b, "tableElts", NULL);

	for (size_t i = 0; elts && i < json_object_array_length(elts); i++) {
		json_object *e = json_object_array_get_idx(elts, i);

		coldef_refs(l, mc_jget(e, "ColumnDef", NULL));
		constraint_refs(l, mc_jget(e, "Constraint", NULL));
	}
	/* PARTITION OF: the parent is locked while the partition is added */
	if (mc_jget(b, "partbound", NULL))
		rangevars(l, mc_jget(b, "inhRelations", NULL), "RangeVar", RL_ACCESS_EXCLUSIVE);
}

static void
locks_of(struct locks *l, const char *type, json_object *b)
{
	if (strcmp(type, "IndexStmt") == 0)
		add_rangevar(l, mc_jget(b, "relation", NULL),
			     mc_jbool(b, "concurrent") ? RL_SHARE_UPDATE_EXCLUSIVE : RL_SHARE);
	else if (strcmp(type, "AlterTableStmt") == 0)
		alter_table(l, b);
	else if (strcmp(type, "RenameStmt") == 0)
		add_rangevar(l, mc_jget(b, "relation", NULL), RL_ACCESS_EXCLUSIVE);
	else if (strcmp(type, "DropStmt") == 0)
		drop(l, b);
	else if (strcmp(type, "TruncateStmt") == 0)
		rangevars(l, mc_jget(b, "relations", NULL), "RangeVar", RL_ACCESS_EXCLUSIVE);
	else if (strcmp(type, "VacuumStmt") == 0)
		vacuum(l, b);
	else if (strcmp(type, "ClusterStmt") == 0)
		add_rangevar(l, mc_jget(b, "relation", NULL), RL_ACCESS_EXCLUSIVE);
	else if (strcmp(type, "ReindexStmt") == 0) {
		const char *k = mc_jstr(b, "kind");
		int conc = has_defelem(mc_jget(b, "params", NULL), "concurrently");

		/* REINDEX INDEX: AccessExclusiveLock on the index (and SHARE on its table) */
		add_rangevar(l, mc_jget(b, "relation", NULL), conc ? RL_SHARE_UPDATE_EXCLUSIVE :
			     k && strcmp(k, "REINDEX_OBJECT_INDEX") == 0 ? RL_ACCESS_EXCLUSIVE : RL_SHARE);
	} else if (strcmp(type, "RefreshMatViewStmt") == 0)
		add_rangevar(l, mc_jget(b, "relation", NULL),
			     mc_jbool(b, "concurrent") ? RL_EXCLUSIVE : RL_ACCESS_EXCLUSIVE);
	else if (strcmp(type, "LockStmt") == 0)
		rangevars(l, mc_jget(b, "relations", NULL), "RangeVar", mc_jint(b, "mode", RL_ACCESS_EXCLUSIVE));
	else if (strcmp(type, "CreateTrigStmt") == 0)
		add_rangevar(l, mc_jget(b, "relation", NULL), RL_SHARE_ROW_EXCLUSIVE);
	else if (strcmp(type, "CommentStmt") == 0)
		comment(l, b);
	else if (strcmp(type, "UpdateStmt") == 0 || strcmp(type, "DeleteStmt") == 0 ||
		 strcmp(type, "InsertStmt") == 0 || strcmp(type, "MergeStmt") == 0)
		add_rangevar(l, mc_jget(b, "relation", NULL), RL_ROW_EXCLUSIVE);
	else if (strcmp(type, "CreateStmt") == 0)
		create_table(l, b);
	else if (strcmp(type, "CreatePolicyStmt") == 0 || strcmp(type, "AlterPolicyStmt") == 0)
		add_rangevar(l, mc_jget(b, "table", NULL), RL_ACCESS_EXCLUSIVE);
	else if (strcmp(type, "CreateStatsStmt") == 0)
		rangevars(l, mc_jget(b, "relations", NULL), "RangeVar", RL_SHARE_UPDATE_EXCLUSIVE);
}

size_t
mc_static_locks(const struct mc_stmt *s, struct mc_lock **out)
{
	struct locks l = {NULL, 0};

	*out = NULL;
	if (!s || !s->tree)
		return 0;
	locks_of(&l, mc_node_type(s->tree), mc_node_body(s->tree));
	*out = l.v;
	return l.n;
}

void
mc_locks_free(struct mc_lock *locks, size_t n)
{
	for (size_t i = 0; locks && i < n; i++) {
		free(locks[i].relation);
		free(locks[i].mode);
	}
	free(locks);
}
