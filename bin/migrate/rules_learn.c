/*
 * What the statements teach the rules about the ones after them: tables
 * and indexes created in the pending run (exempt from the lock rules),
 * the column types the scripts declared (for ALTER COLUMN TYPE), columns
 * proven NOT NULL (a NOT NULL column, a validated CHECK (col IS NOT NULL):
 * SET NOT NULL skips its scan), the indexes and their columns, and the
 * foreign keys, judged after the whole run for an index on their columns
 * (Eugene E15).  Applied scripts are read too, for what exists, but what
 * they create is not exempt.
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

/* ---- pairs "table\tname" matched with rl_same_rel on the table ---- */

void
rl_pair_add(struct rl_names *l, const char *table, const char *name)
{
	char buf[2 * NAMELEN];

	snprintf(buf, sizeof(buf), "%s\t%s", table, name);
	rl_names_add(l, buf);
}

/* The index of the pair, or -1. */
int
rl_pair_find(const struct rl_names *l, const char *table, const char *name, size_t namelen)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *tab = strchr(l->v[i], '\t');
		char t[NAMELEN];

		if (!tab || strncmp(tab + 1, name, namelen) != 0 || (tab[1 + namelen] != '\0' && tab[1 + namelen] != '='))
			continue;
		snprintf(t, sizeof(t), "%.*s", (int) (tab - l->v[i]), l->v[i]);
		if (rl_same_rel(t, table))
			return (int) i;
	}
	return -1;
}

void
rl_pair_del(struct rl_names *l, const char *table, const char *name)
{
	int i;

	while ((i = rl_pair_find(l, table, name, strlen(name))) >= 0) {
		free(l->v[i]);
		l->v[i] = l->v[--l->n];
	}
}

/* ---- tree helpers ---- */

const char *
rl_contype(json_object *con)
{
	const char *t = mc_jstr(con, "contype");

	return t ? t : "";
}

/* The column of CHECK (col IS NOT NULL), or NULL. */
const char *
rl_not_null_check(json_object *con)
{
	json_object *nt = mc_jget(con, "raw_expr", "NullTest", NULL), *f;

	if (!is(rl_contype(con), "CONSTR_CHECK") || !nt || !is(mc_jstr(nt, "nulltesttype"), "IS_NOT_NULL"))
		return NULL;
	f = mc_jget(nt, "arg", "ColumnRef", "fields", NULL);
	if (!f || json_object_array_length(f) != 1)
		return NULL;
	return mc_jstr(mc_jget(json_object_array_get_idx(f, 0), "String", NULL), "sval");
}

json_object *
rl_con_of(json_object *cons, size_t i)
{
	return mc_jget(json_object_array_get_idx(cons, i), "Constraint", NULL);
}

/* ---- learning ---- */

/* "a,b" from a list of String nodes (keys, fk_attrs) or IndexElems. */
static void
col_list(json_object *arr, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; arr && i < json_object_array_length(arr) && used < size; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *c = mc_jstr(mc_jget(e, "String", NULL), "sval");

		if (!c)
			c = mc_jstr(mc_jget(e, "IndexElem", NULL), "name");
		used += snprintf(buf + used, size - used, "%s%s", i ? "," : "", c ? c : "(expr)");
	}
}

static void
add_index(struct rl *rc, const char *table, const char *name, const char *cols)
{
	char buf[2 * NAMELEN];

	snprintf(buf, sizeof(buf), "%s=%s", name ? name : "?", cols);
	rl_pair_add(&rc->indexes, table, buf);
}

static void
add_fk(struct rl *rc, const struct mc_stmt *s, const char *table, const char *cols)
{
	struct rl_fk *nv;

	if (!rc->lint || !*cols)
		return;
	if (!(nv = realloc(rc->fks, (rc->nfks + 1) * sizeof(*nv))))
		return;
	rc->fks = nv;
	nv[rc->nfks].sc = rc->sc;
	nv[rc->nfks].line = s->line;
	nv[rc->nfks].migration = rc->migration;
	nv[rc->nfks].table = strdup(table);
	nv[rc->nfks].cols = strdup(cols);
	if (nv[rc->nfks].table && nv[rc->nfks].cols)
		rc->nfks++;
	else {
		free(nv[rc->nfks].table);
		free(nv[rc->nfks].cols);
	}
}

/* The columns of an index the scripts created, or NULL. */
const char *
rl_index_cols(const struct rl *rc, const char *index)
{
	const char *dot = strchr(index, '.');
	size_t n;

	if (dot)
		index = dot + 1;
	n = strlen(index);
	for (size_t i = 0; i < rc->indexes.n; i++) {
		const char *tab = strchr(rc->indexes.v[i], '\t');

		if (tab && strncmp(tab + 1, index, n) == 0 && tab[1 + n] == '=')
			return tab + 2 + n;
	}
	return NULL;
}

static void
learn_column(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *cd)
{
	const char *col = mc_jstr(cd, "colname");
	json_object *cons = mc_jget(cd, "constraints", NULL);
	char type[64];
	int m1, m2;

	if (!col)
		return;
	rl_type_of(mc_jget(cd, "typeName", NULL), type, sizeof(type), &m1, &m2);
	rl_col_set(rc, table, col, type, m1, m2);
	for (size_t i = 0; cons && i < json_object_array_length(cons); i++) {
		const char *t = rl_contype(rl_con_of(cons, i));

		if (is(t, "CONSTR_NOTNULL") || is(t, "CONSTR_PRIMARY"))
			rl_pair_add(&rc->notnull, table, col);
		if (is(t, "CONSTR_PRIMARY") || is(t, "CONSTR_UNIQUE"))
			add_index(rc, table, mc_jstr(rl_con_of(cons, i), "conname"), col);
		if (is(t, "CONSTR_FOREIGN"))
			add_fk(rc, s, table, col);
	}
}

static void
learn_constraint(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *con)
{
	const char *col = rl_not_null_check(con), *name = mc_jstr(con, "conname");
	json_object *keys = mc_jget(con, "keys", NULL);
	char buf[2 * NAMELEN];

	if ((is(rl_contype(con), "CONSTR_PRIMARY") || is(rl_contype(con), "CONSTR_UNIQUE")) && keys) {
		col_list(keys, buf, sizeof(buf));
		add_index(rc, table, name, buf);
	}
	if (is(rl_contype(con), "CONSTR_FOREIGN")) {
		col_list(mc_jget(con, "fk_attrs", NULL), buf, sizeof(buf));
		add_fk(rc, s, table, buf);
	}

	if (is(rl_contype(con), "CONSTR_PRIMARY"))
		for (size_t i = 0; keys && i < json_object_array_length(keys); i++)
			rl_pair_add(&rc->notnull, table, mc_jstr(mc_jget(json_object_array_get_idx(keys, i), "String", NULL), "sval"));
	if (!col)
		return;
	if (!mc_jbool(con, "skip_validation"))
		rl_pair_add(&rc->notnull, table, col);
	else if (name) {
		snprintf(buf, sizeof(buf), "%s=%s", name, col);
		rl_pair_add(&rc->checks, table, buf);
	}
}

static void
learn_validate(struct rl *rc, const char *table, const char *name)
{
	int i = name ? rl_pair_find(&rc->checks, table, name, strlen(name)) : -1;

	if (i >= 0)
		rl_pair_add(&rc->notnull, table, strchr(rc->checks.v[i], '=') + 1);
}

static void
learn_alter(struct rl *rc, const struct mc_stmt *s, const char *table, json_object *b)
{
	json_object *cmds = mc_jget(b, "cmds", NULL);

	for (size_t i = 0; cmds && i < json_object_array_length(cmds); i++) {
		json_object *c = mc_node_body(json_object_array_get_idx(cmds, i));
		const char *st = mc_jstr(c, "subtype"), *name = mc_jstr(c, "name");
		json_object *def = mc_jget(c, "def", NULL);

		if (is(st, "AT_AddColumn"))
			learn_column(rc, s, table, mc_jget(def, "ColumnDef", NULL));
		else if (is(st, "AT_AlterColumnType") && name) {
			char type[64];
			int m1, m2;

			rl_type_of(mc_jget(def, "ColumnDef", "typeName", NULL), type, sizeof(type), &m1, &m2);
			rl_col_set(rc, table, name, type, m1, m2);
		} else if (is(st, "AT_AddConstraint"))
			learn_constraint(rc, s, table, mc_jget(def, "Constraint", NULL));
		else if (is(st, "AT_ValidateConstraint"))
			learn_validate(rc, table, name);
		else if (is(st, "AT_SetNotNull") && name)
			rl_pair_add(&rc->notnull, table, name);
		else if (is(st, "AT_DropNotNull") && name)
			rl_pair_del(&rc->notnull, table, name);
		else if (is(st, "AT_DropConstraint") && name)
			rl_pair_del(&rc->checks, table, name);
	}
}

void
rl_learn(struct rl *rc, const struct mc_stmt *s)
{
	const char *type = mc_node_type(s->tree);
	json_object *b = mc_node_body(s->tree);
	char rel[NAMELEN];

	if (is(type, "CreateStmt")) {
		json_object *elts = mc_jget(b, "tableElts", NULL);

		mc_rangevar_name(mc_jget(b, "relation", NULL), rel, sizeof(rel));
		/* IF NOT EXISTS over a table the applied migrations made creates nothing */
		if (!rc->lint)
			rl_names_add(&rc->known, rel);
		else if (!(mc_jbool(b, "if_not_exists") && rl_names_has(&rc->known, rel)))
			rl_names_add(&rc->created, rel);
		for (size_t i = 0; elts && i < json_object_array_length(elts); i++) {
			json_object *e = json_object_array_get_idx(elts, i);

			if (mc_jget(e, "ColumnDef", NULL))
				learn_column(rc, s, rel, mc_jget(e, "ColumnDef", NULL));
			else if (mc_jget(e, "Constraint", NULL))
				learn_constraint(rc, s, rel, mc_jget(e, "Constraint", NULL));
		}
	} else if (is(type, "CreateTableAsStmt") && rc->lint)
		rl_names_add(&rc->created, mc_rangevar_name(mc_jget(b, "into", "rel", NULL), rel, sizeof(rel)));
	else if (is(type, "IndexStmt")) {
		char cols[2 * NAMELEN];

		col_list(mc_jget(b, "indexParams", NULL), cols, sizeof(cols));
		add_index(rc, mc_rangevar_name(mc_jget(b, "relation", NULL), rel, sizeof(rel)), mc_jstr(b, "idxname"), cols);
		if (rc->lint && mc_jstr(b, "idxname"))
			rl_names_add(&rc->created, mc_jstr(b, "idxname"));
	}
	else if (is(type, "RenameStmt") && is(mc_jstr(b, "renameType"), "OBJECT_TABLE") && mc_jstr(b, "newname") &&
		 rl_names_has(&rc->created, mc_rangevar_name(mc_jget(b, "relation", NULL), rel, sizeof(rel))))
		rl_names_add(&rc->created, mc_jstr(b, "newname"));	/* still nobody's table */
	else if (is(type, "AlterTableStmt"))
		learn_alter(rc, s, mc_rangevar_name(mc_jget(b, "relation", NULL), rel, sizeof(rel)), b);
	if (rc->lint && rl_traced(rc, s))
		for (size_t i = 0; i < s->ev.ncreated; i++)
			rl_names_add(&rc->created, s->ev.created[i]);
}

/* ---- foreign keys without an index (Eugene E15), judged after the run ---- */

static int
covered(const struct rl *rc, const struct rl_fk *fk)
{
	size_t n = strlen(fk->cols);

	for (size_t i = 0; i < rc->indexes.n; i++) {
		const char *tab = strchr(rc->indexes.v[i], '\t'), *eq = tab ? strchr(tab, '=') : NULL;
		char t[NAMELEN];

		if (!eq)
			continue;
		snprintf(t, sizeof(t), "%.*s", (int) (tab - rc->indexes.v[i]), rc->indexes.v[i]);
		if (rl_same_rel(t, fk->table) && strncmp(eq + 1, fk->cols, n) == 0 && (eq[1 + n] == '\0' || eq[1 + n] == ','))
			return 1;
	}
	return 0;
}

void
rl_fk_check(struct rl *rc)
{
	for (size_t i = 0; i < rc->nfks; i++) {
		struct mc_stmt at = {0};
		char obj[2 * NAMELEN];

		if (covered(rc, &rc->fks[i]))
			continue;
		rc->sc = rc->fks[i].sc;
		rc->migration = rc->fks[i].migration;
		at.line = rc->fks[i].line;
		snprintf(obj, sizeof(obj), "%s(%s)", rc->fks[i].table, rc->fks[i].cols);
		rl_find(rc, &at, MC_SEV_INFO, "scan", "foreign-key-without-index", obj,
			"CREATE INDEX CONCURRENTLY on the referencing columns",
			"no index in these migrations starts with %s of %s: every DELETE or key UPDATE on the referenced "
			"table scans %s", rc->fks[i].cols, rc->fks[i].table, rc->fks[i].table);
	}
}

void
rl_fk_free(struct rl *rc)
{
	for (size_t i = 0; i < rc->nfks; i++) {
		free(rc->fks[i].table);
		free(rc->fks[i].cols);
	}
	free(rc->fks);
	rc->fks = NULL;
	rc->nfks = 0;
}

