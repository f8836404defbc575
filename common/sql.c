/*
 * SQL quoting over libpq's escaping functions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sql.h"

/* libpq's results must go back through PQfreemem: copy into malloc. */
static char *
to_malloc(PGconn *conn, char *escaped, const char *what)
{
	char *copy;

	if (!escaped) {
		pgp_error("cannot quote %s: %s", what, PQerrorMessage(conn));
		return NULL;
	}
	copy = strdup(escaped);
	PQfreemem(escaped);
	if (!copy)
		pgp_error("out of memory");
	return copy;
}

char *
pgp_sql_ident(PGconn *conn, const char *name)
{
	return to_malloc(conn, PQescapeIdentifier(conn, name, strlen(name)), "identifier");
}

char *
pgp_sql_literal(PGconn *conn, const char *value)
{
	return to_malloc(conn, PQescapeLiteral(conn, value, strlen(value)), "literal");
}

char *
pgp_sql_build(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = pgp_sql_vbuild(conn, fmt, ap);
	va_end(ap);
	return sql;
}

char *
pgp_sql_vbuild(PGconn *conn, const char *fmt, va_list ap)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	int failed = 0;

	if (!f) {
		pgp_error("out of memory");
		return NULL;
	}
	for (const char *p = fmt; *p && !failed; p++) {
		char *q;

		if (*p != '%') {
			fputc(*p, f);
			continue;
		}
		switch (*++p) {
		case 'I':
		case 'L':
			q = *p == 'I' ? pgp_sql_ident(conn, va_arg(ap, const char *))
				: pgp_sql_literal(conn, va_arg(ap, const char *));
			if (q)
				fputs(q, f);
			else
				failed = 1;
			free(q);
			break;
		case 's':
			fputs(va_arg(ap, const char *), f);
			break;
		case 'd':
			fprintf(f, "%d", va_arg(ap, int));
			break;
		case '%':
			fputc('%', f);
			break;
		default:
			pgp_error("internal error: bad SQL format \"%s\"", fmt);
			failed = 1;
			p--;	/* stay on the terminating character */
		}
	}
	if (fclose(f) != 0)
		failed = 1;
	if (failed) {
		free(out);
		return NULL;
	}
	return out;
}
