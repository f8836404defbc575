/*
 * pgp-create's SQL, a leaf the steps share: one statement at a time,
 * printed instead under --dry-run, and the server's message, the
 * statement and a hint about privileges when it fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "create.h"
#include "log.h"
#include "sql.h"

int
create_sql(struct create_ctx *ctx, PGconn *conn, const char *shown, const char *fmt, ...)
{
	va_list ap;
	char *stmt;
	PGresult *res;
	int rc = 0;

	va_start(ap, fmt);
	stmt = pgp_sql_vbuild(conn, fmt, ap);
	va_end(ap);
	if (!stmt)
		return -1;
	if (ctx->dry_run) {
		printf("%s;\n", shown ? shown : stmt);
		free(stmt);
		return 0;
	}
	pgp_debug("%s", shown ? shown : stmt);
	res = PQexec(conn, stmt);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		pgp_error("%s", PQresultErrorMessage(res));
		pgp_detail("statement: %s", shown ? shown : stmt);
		if (state && strcmp(state, "42501") == 0)
			pgp_hint("the admin role \"%s\" (%s) lacks the privilege this statement needs",
				 ctx->admin_role, ctx->flavour);
		rc = -1;
	}
	PQclear(res);
	free(stmt);
	return rc;
}

char *
create_value(PGconn *conn, const char *q, const char *p1, const char *p2)
{
	const char *params[2] = {p1, p2};
	PGresult *res = pgp_conn_query(conn, q, p2 ? 2 : p1 ? 1 : 0, params);
	char *value = NULL;

	if (!res)
		return NULL;
	value = strdup(PQntuples(res) && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	if (!value)
		pgp_error("out of memory");
	return value;
}
