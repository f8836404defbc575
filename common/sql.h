/*
 * Building SQL that cannot take parameters (CREATE ROLE, ALTER SYSTEM...)
 * safely: identifiers and literals always go through libpq's
 * PQescapeIdentifier / PQescapeLiteral, which know the connection's
 * encoding.  Values that can be parameters should be ($1, PQexecParams).
 */
#ifndef PGP_SQL_H
#define PGP_SQL_H

#include <libpq-fe.h>
#include <stdarg.h>

/* Quoted identifier / literal, malloc'd; NULL after logging on error. */
char *pgp_sql_ident(PGconn *conn, const char *name);
char *pgp_sql_literal(PGconn *conn, const char *value);

/*
 * printf-like builder: %I an identifier, %L a literal, %s raw trusted
 * text (SQL keywords of our own), %d an int, %% a percent sign.
 * Returns a malloc'd statement, or NULL after logging.
 */
char *pgp_sql_build(PGconn *conn, const char *fmt, ...);
char *pgp_sql_vbuild(PGconn *conn, const char *fmt, va_list ap);

#endif
