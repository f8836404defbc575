/*
 * Types and expressions as the rules need them: a column type in one
 * canonical spelling, which type changes are binary coercible (no
 * rewrite: tablecmds.c ATColumnChangeRequiresRewrite and the types'
 * support functions), whether a DEFAULT is volatile (a volatile default
 * rewrites the table even on PostgreSQL 11+), and the style rules on
 * column types.  The column types the earlier scripts declared are kept
 * so that an ALTER COLUMN TYPE can be judged against the old type.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"
#include "sqlparse.h"

/* Volatile functions a migration plausibly uses as a DEFAULT. */
static const char *const volatile_funcs[] = {
	"random", "random_normal", "clock_timestamp", "timeofday", "gen_random_uuid",
	"uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7",
	"gen_random_bytes", "nextval", "currval", "lastval", "setval", "txid_current",
	"txid_current_if_assigned", "pg_current_xact_id", "setseed", "pg_sleep", NULL
};

/* Built-ins known to be STABLE or IMMUTABLE: their defaults are stored once. */
static const char *const stable_funcs[] = {
	"now", "transaction_timestamp", "statement_timestamp", "lower", "upper", "initcap",
	"btrim", "ltrim", "rtrim", "trim", "concat", "concat_ws", "length", "char_length",
	"substr", "substring", "replace", "left", "right", "lpad", "rpad", "md5", "sha256",
	"to_char", "to_date", "to_timestamp", "to_number", "date_trunc", "date_part",
	"make_date", "make_time", "make_timestamp", "make_timestamptz", "make_interval",
	"abs", "round", "trunc", "floor", "ceil", "ceiling", "greatest", "least",
	"jsonb_build_object", "jsonb_build_array", "json_build_object", "json_build_array",
	"to_jsonb", "to_json", "array_fill", "current_setting", "format", "timezone",
	"current_database", "current_schema", "current_user", "session_user", "age",
	"int4", "int8", "text", "numeric", "float8", "bool", "inet", "interval", NULL
};

static int
in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

const char *
rl_func_name(json_object *call)
{
	json_object *names = mc_jget(call, "funcname", NULL);
	size_t n = names ? json_object_array_length(names) : 0;

	return n ? mc_jstr(mc_jget(json_object_array_get_idx(names, n - 1), "String", NULL), "sval") : NULL;
}

static void
vol_walk(json_object *node, enum rl_vol *v, char *fn, size_t fnsize)
{
	if (!node)
		return;
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			vol_walk(json_object_array_get_idx(node, i), v, fn, fnsize);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	json_object_object_foreach(node, key, val) {
		if (strcmp(key, "FuncCall") == 0) {
			const char *name = rl_func_name(val);
			enum rl_vol this = !name ? RL_UNKNOWN : in_list(volatile_funcs, name) ? RL_VOLATILE :
				in_list(stable_funcs, name) ? RL_NONVOLATILE : RL_UNKNOWN;

			if (this > *v) {
				*v = this;
				snprintf(fn, fnsize, "%s", name ? name : "?");
			}
		} else if (strcmp(key, "SubLink") == 0 && *v < RL_UNKNOWN) {
			*v = RL_UNKNOWN;
			snprintf(fn, fnsize, "a subquery");
		}
		vol_walk(val, v, fn, fnsize);
	}
}

enum rl_vol
rl_volatility(json_object *expr, char *fn, size_t fnsize)
{
	enum rl_vol v = RL_NONVOLATILE;

	fn[0] = '\0';
	vol_walk(expr, &v, fn, fnsize);
	return v;
}

static int
aconst_int(json_object *c)
{
	return mc_jint(mc_jget(c, "A_Const", "ival", NULL), "ival", 0);
}

void
rl_type_of(json_object *tn, char *buf, size_t size, int *mod1, int *mod2)
{
	json_object *names = mc_jget(tn, "names", NULL), *mods = mc_jget(tn, "typmods", NULL);
	size_t n = names ? json_object_array_length(names) : 0;
	const char *t = n ? mc_jstr(mc_jget(json_object_array_get_idx(names, n - 1), "String", NULL), "sval") : NULL;
	size_t nm = mods ? json_object_array_length(mods) : 0;

	if (!t)
		t = "?";
	if (strcmp(t, "integer") == 0 || strcmp(t, "int") == 0)
		t = "int4";
	else if (strcmp(t, "bigint") == 0)
		t = "int8";
	else if (strcmp(t, "smallint") == 0)
		t = "int2";
	else if (strcmp(t, "decimal") == 0)
		t = "numeric";
	snprintf(buf, size, "%s%s", t, mc_jget(tn, "arrayBounds", NULL) ? "[]" : "");
	*mod1 = nm > 0 ? aconst_int(json_object_array_get_idx(mods, 0)) : -1;
	*mod2 = nm > 1 ? aconst_int(json_object_array_get_idx(mods, 1)) : -1;
}

/* A limit raised or removed: varchar(n), varbit(n), timestamp(p)... */
static int
widened(int old, int new)
{
	return new == -1 || (old != -1 && new >= old);
}

int
rl_binary_coercible(const struct rl_col *old, const char *type, int mod1, int mod2)
{
	const char *ot = old->type;

	if (strcmp(ot, type) == 0) {
		if (strcmp(type, "varchar") == 0 || strcmp(type, "varbit") == 0 ||
		    strcmp(type, "timestamp") == 0 || strcmp(type, "timestamptz") == 0 ||
		    strcmp(type, "time") == 0 || strcmp(type, "timetz") == 0 ||
		    strcmp(type, "interval") == 0)
			return widened(old->mod1, mod1);
		if (strcmp(type, "numeric") == 0)
			return mod1 == -1 || (old->mod1 != -1 && mod1 >= old->mod1 &&
					      (mod2 == -1 ? 0 : mod2) == (old->mod2 == -1 ? 0 : old->mod2));
		return old->mod1 == mod1 && old->mod2 == mod2;
	}
	if (strcmp(ot, "varchar") == 0 && strcmp(type, "text") == 0)
		return 1;
	if (strcmp(ot, "text") == 0 && strcmp(type, "varchar") == 0)
		return mod1 == -1;
	if (strcmp(ot, "cidr") == 0 && strcmp(type, "inet") == 0)
		return 1;
	if ((strcmp(ot, "timestamp") == 0 && strcmp(type, "timestamptz") == 0) ||
	    (strcmp(ot, "timestamptz") == 0 && strcmp(type, "timestamp") == 0))
		return -1;
	return 0;
}

const char *
rl_type_str(const char *type, int mod1, int mod2, char *buf, size_t size)
{
	if (mod1 == -1)
		snprintf(buf, size, "%s", type);
	else if (mod2 == -1)
		snprintf(buf, size, "%s(%d)", type, mod1);
	else
		snprintf(buf, size, "%s(%d,%d)", type, mod1, mod2);
	return buf;
}

struct rl_col *
rl_col_find(struct rl *rc, const char *table, const char *col)
{
	for (size_t i = rc->ncols; i-- > 0;)
		if (strcmp(rc->cols[i].name, col) == 0 && rl_same_rel(rc->cols[i].table, table))
			return &rc->cols[i];
	return NULL;
}

void
rl_col_set(struct rl *rc, const char *table, const char *col, const char *type, int m1, int m2)
{
	struct rl_col *c = rl_col_find(rc, table, col);

	if (!c) {
		if (rc->ncols == rc->capcols) {
			size_t cap = rc->capcols ? 2 * rc->capcols : 32;
			struct rl_col *nv = realloc(rc->cols, cap * sizeof(*nv));

			if (!nv)
				return;
			rc->cols = nv;
			rc->capcols = cap;
		}
		c = &rc->cols[rc->ncols];
		c->table = strdup(table);
		c->name = strdup(col);
		if (!c->table || !c->name) {
			free(c->table);
			free(c->name);
			return;
		}
		rc->ncols++;
	}
	snprintf(c->type, sizeof(c->type), "%s", type);
	c->mod1 = m1;
	c->mod2 = m2;
}

/*
 * The parser has already cut identifiers to 63 bytes (NAMEDATALEN - 1),
 * so a name of 63 bytes is looked up in the statement's text for the
 * length it was written with.
 */
static size_t
written_length(const struct mc_stmt *s, const char *ident)
{
	size_t n = strlen(ident), best = n;
	const char *p = s->sql;

	if (n < 63 || !p)
		return n;
	for (; (p = strcasestr(p, ident)); p++) {
		size_t k = n;

		if (p > s->sql && (isalnum((unsigned char) p[-1]) || p[-1] == '_'))
			continue;
		while (isalnum((unsigned char) p[k]) || p[k] == '_' || p[k] == '$')
			k++;
		if (k > best)
			best = k;
	}
	return best;
}

void
rl_style_ident(struct rl *rc, const struct mc_stmt *s, const char *ident)
{
	size_t n = ident ? written_length(s, ident) : 0;

	if (n > 63)
		rl_find(rc, s, MC_SEV_INFO, "style", "identifier-too-long", ident,
			"shorten it to at most 63 bytes",
			"identifier \"%.20s...\" is %zu bytes: PostgreSQL truncates it to 63 (NOTICE only)", ident, n);
}

/* The style rules on one column's type (CREATE TABLE, ADD COLUMN, ALTER TYPE). */
void
rl_style_column(struct rl *rc, const struct mc_stmt *s, const char *table, const char *name, json_object *coldef)
{
	char type[64], obj[256];
	int m1, m2;
	const char *col = name ? name : mc_jstr(coldef, "colname");

	rl_style_ident(rc, s, mc_jstr(coldef, "colname"));
	if (!mc_jget(coldef, "typeName", NULL))
		return;
	rl_type_of(mc_jget(coldef, "typeName", NULL), type, sizeof(type), &m1, &m2);
	snprintf(obj, sizeof(obj), "%s%s%s", table, col ? "." : "", col ? col : "");
	if (strcmp(type, "bpchar") == 0)
		rl_find(rc, s, MC_SEV_INFO, "style", "ban-char-field", obj, "use text (or varchar) instead of char(n)",
			"char(n) pads with spaces and is no faster than text");
	else if (strcmp(type, "varchar") == 0 && m1 != -1)
		rl_find(rc, s, MC_SEV_INFO, "style", "prefer-text-field", obj,
			"use text with CHECK (length(col) <= n): a CHECK can be replaced NOT VALID, a shorter varchar(n) rewrites",
			"varchar(%d): changing the limit later takes an ACCESS EXCLUSIVE lock", m1);
	else if (strcmp(type, "timestamp") == 0)
		rl_find(rc, s, MC_SEV_INFO, "style", "prefer-timestamptz", obj, "use timestamptz",
			"timestamp without time zone loses the offset of every value");
	else if (strcmp(type, "json") == 0)
		rl_find(rc, s, MC_SEV_INFO, "style", "prefer-jsonb", obj, "use jsonb",
			"json has no equality operator (SELECT DISTINCT, UNION fail) and is reparsed on every access");
	if (strcmp(type, "int4") == 0 || strcmp(type, "serial") == 0 || strcmp(type, "serial4") == 0)
		rl_find(rc, s, MC_SEV_INFO, "style", "prefer-bigint-over-int", obj, "use bigint (bigint identity for keys)",
			"a 32-bit integer overflows at 2147483647");
	else if (strcmp(type, "int2") == 0 || strcmp(type, "smallserial") == 0 || strcmp(type, "serial2") == 0)
		rl_find(rc, s, MC_SEV_INFO, "style", "prefer-bigint-over-smallint", obj, "use bigint",
			"a 16-bit integer overflows at 32767");
	if (strncmp(type, "serial", 6) == 0 || strcmp(type, "bigserial") == 0 || strcmp(type, "smallserial") == 0)
		rl_find(rc, s, MC_SEV_INFO, "style", "prefer-identity", obj,
			"use bigint GENERATED BY DEFAULT AS IDENTITY",
			"%s makes a sequence with its own owner and permissions", type);
}
