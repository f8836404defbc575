/*
 * Catalog invariants, read with one query each so that reading them
 * before and after every migration stays cheap.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "invariants.h"
#include "log.h"

/* Schemas that are not the application's. */
#define USER_NS "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"

static char **target_invalid;

/* Column 0 of every row as a NULL-ended list; NULL after logging. */
static char **
query_list(PGconn *conn, const char *sql)
{
	PGresult *res = pgp_conn_query(conn, sql, 0, NULL);
	char **v;
	int n;

	if (!res)
		return NULL;
	n = PQntuples(res);
	v = calloc((size_t) n + 1, sizeof(*v));
	for (int i = 0; v && i < n; i++)
		if (!(v[i] = strdup(PQgetvalue(res, i, 0)))) {
			mc_strv_free(v);
			v = NULL;
		}
	if (!v)
		pgp_error("out of memory");
	PQclear(res);
	return v;
}

char **
mc_inv_invalid_indexes(PGconn *conn)
{
	return query_list(conn,
		"SELECT n.nspname || '.' || ci.relname || E'\\t' || nt.nspname || '.' || ct.relname "
		"FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace "
		"JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid "
		"JOIN pg_catalog.pg_namespace nt ON nt.oid = ct.relnamespace "
		"WHERE NOT i.indisvalid AND " USER_NS " ORDER BY 1");
}

char **
mc_inv_not_valid(PGconn *conn)
{
	return query_list(conn,
		"SELECT n.nspname || '.' || c.relname || E'\\t' || con.conname "
		"FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE NOT con.convalidated AND " USER_NS " ORDER BY 1");
}

char **
mc_inv_fingerprint(PGconn *conn)
{
	return query_list(conn,
		"SELECT x FROM ("
		"SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text AS x "
		" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " USER_NS
		" UNION ALL SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || "
		" pg_catalog.format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END "
		" || COALESCE(' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') "
		" FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		" LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
		" WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND " USER_NS
		" UNION ALL SELECT 'constraint ' || n.nspname || '.' || c.relname || '.' || con.conname || ' ' || "
		" pg_catalog.pg_get_constraintdef(con.oid) "
		" FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid "
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " USER_NS
		" UNION ALL SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid) || "
		" CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END "
		" FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " USER_NS
		" UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text || COALESCE(' ' || "
		" (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e "
		"  WHERE e.enumtypid = t.oid), '') "
		" FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
		" WHERE t.typtype IN ('e', 'd', 'r', 'm') AND " USER_NS
		" UNION ALL SELECT 'function ' || p.oid::pg_catalog.regprocedure::text "
		" FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE " USER_NS
		") s ORDER BY 1");
}

int
mc_inv_target_read(PGconn *target)
{
	mc_strv_free(target_invalid);
	target_invalid = mc_inv_invalid_indexes(target);
	return target_invalid ? 0 : -1;
}

char *const *
mc_inv_target_invalid(void)
{
	static char *none[1];

	return target_invalid ? target_invalid : none;
}

int
mc_strv_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return 1;
	return 0;
}

size_t
mc_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

void
mc_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
