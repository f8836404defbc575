/*
 * libpq connections: resolution of -d/-t, timeouts, hygiene, and one clear
 * error line when the server cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "conn.h"
#include "log.h"

int
pgp_conn_check_option(const char *conninfo)
{
	char why[512];

	if (!conninfo || pgp_conf_check_conninfo(conninfo, why, sizeof(why)) >= 0)
		return 0;
	return pgp_fail("invalid connection string (-d): %s", why);
}

/*
 * The loader checked every target's conninfo (with file and line); this
 * is for a spec that reached here some other way, before libpq would
 * turn the typo into "cannot connect".
 */
static int
check_target(const struct pgp_connspec *spec)
{
	char why[512];

	if (pgp_conf_check_conninfo(spec->conninfo, why, sizeof(why)) >= 0)
		return 0;
	return pgp_fail("target \"%s\": invalid connection string: %s", spec->target, why);
}

int
pgp_conn_spec(const struct pgp_conf *conf, const struct pgp_common *c,
	      const char *default_target_key, struct pgp_connspec *spec)
{
	const char *target_name = c->target;
	struct pgp_target t;

	memset(spec, 0, sizeof(*spec));
	if (pgp_conf_get_int(conf, "connection.connect_timeout", &spec->connect_timeout) < 0)
		return -1;
	/* The environment beats the file for libpq's own variable too. */
	if (getenv("PGCONNECT_TIMEOUT"))
		spec->connect_timeout = 0;

	if (c->conninfo) {
		spec->conninfo = c->conninfo;
		return pgp_conn_check_option(c->conninfo);
	}
	if (!target_name && default_target_key &&
	    pgp_conf_get_string(conf, default_target_key, &target_name) < 0)
		return -1;
	if (!target_name) {
		spec->conninfo = "";
		return 0;
	}
	if (pgp_conf_target(conf, target_name, &t) < 0)
		return -1;
	spec->conninfo = t.conninfo;
	spec->service_file = t.service_file;
	spec->passfile = t.passfile;
	spec->target = t.name;
	return check_target(spec);
}

const char *
pgp_conn_where(PGconn *conn, char *buf, unsigned long size)
{
	const char *host = conn ? PQhost(conn) : NULL;
	const char *port = conn ? PQport(conn) : NULL;

	snprintf(buf, size, "%s:%s", host && *host ? host : "(default)",
		 port && *port ? port : "5432");
	return buf;
}

/* The reason from libpq's message: its first line, after "failed: ". */
static void
short_reason(const char *msg, char *buf, size_t size)
{
	const char *p = strstr(msg, "failed: ");
	size_t len;

	p = p ? p + strlen("failed: ") : msg;
	len = strcspn(p, "\n");
	if (len >= size)
		len = size - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
}

/* Server NOTICEs ("already a member...") are chatter for -v, not output. */
static void
notice_to_debug(void *arg, const char *message)
{
	(void) arg;
	pgp_debug("server: %s", message);
}

PGconn *
pgp_conn_open(const struct pgp_connspec *spec, const char *dbname)
{
	const char *keys[6], *vals[6];
	char timeout[32], where[512], reason[512];
	int n = 0;
	PGconn *conn;
	PGresult *res;

	/* libpq 15 has no conninfo key for the service file: use its variable. */
	if (spec->service_file)
		setenv("PGSERVICEFILE", spec->service_file, 1);
	if (spec->passfile)
		setenv("PGPASSFILE", spec->passfile, 1);

	/* Keywords before dbname are defaults the connection string may override. */
	if (spec->connect_timeout > 0) {
		snprintf(timeout, sizeof(timeout), "%lld", spec->connect_timeout);
		keys[n] = "connect_timeout";
		vals[n++] = timeout;
	}
	/* A fallback, so that PGAPPNAME or the connection string's own wins. */
	keys[n] = "fallback_application_name";
	vals[n++] = pgp_progname();
	keys[n] = "dbname";
	vals[n++] = spec->conninfo;
	if (dbname) {
		/* A second dbname is a plain database name, never expanded. */
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	keys[n] = NULL;
	vals[n] = NULL;

	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		short_reason(conn ? PQerrorMessage(conn) : "out of memory", reason, sizeof(reason));
		pgp_error("cannot connect to server %s%s%s%s: %s",
			  pgp_conn_where(conn, where, sizeof(where)),
			  spec->target ? " (target \"" : "", spec->target ? spec->target : "",
			  spec->target ? "\")" : "", reason);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_to_debug, NULL);
	if (spec->pooled)
		return conn;
	/* A hostile schema must not capture unqualified names (CVE-2018-1058). */
	res = PQexec(conn, "SELECT pg_catalog.set_config('search_path', '', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgp_error("cannot set search_path on %s: %s",
			  pgp_conn_where(conn, where, sizeof(where)), PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

PGresult *
pgp_conn_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	pgp_error("%s", PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

int
pgp_conn_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		pgp_error("%s", PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

void
pgp_conn_close(PGconn *conn)
{
	if (conn)
		PQfinish(conn);
}

int
pgp_conninfo_append(char *buf, unsigned long size, const char *key, const char *value)
{
	size_t n = strlen(buf);
	const char *p = value;

	n += (size_t) snprintf(buf + n, size > n ? size - n : 0, "%s%s='", n ? " " : "", key);
	for (; *p && n + 3 < size; p++) {
		if (*p == '\'' || *p == '\\')
			buf[n++] = '\\';
		buf[n++] = *p;
	}
	/* A value cut short would name another host or socket: refuse. */
	if (*p || n + 2 > size)
		return -1;
	buf[n++] = '\'';
	buf[n] = '\0';
	return 0;
}

int
pgp_conn_server_role(PGconn *conn, struct pgp_server_role *out)
{
	PGresult *res = pgp_conn_query(conn,
		"SELECT current_setting('server_version_num')::int, r.rolsuper, r.rolcreaterole,"
		" current_user,"
		" (SELECT g.rolname FROM pg_catalog.pg_auth_members a"
		"   JOIN pg_catalog.pg_roles g ON g.oid = a.roleid"
		"   WHERE a.member = r.oid AND g.rolname IN ('rds_superuser', 'cloudsqlsuperuser',"
		"   'azure_pg_admin') LIMIT 1)"
		" FROM pg_catalog.pg_roles r WHERE r.rolname = current_user", 0, NULL);

	memset(out, 0, sizeof(*out));
	if (!res)
		return -1;
	out->version_num = atoi(PQgetvalue(res, 0, 0));
	out->superuser = PQgetvalue(res, 0, 1)[0] == 't';
	out->createrole = PQgetvalue(res, 0, 2)[0] == 't';
	snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(res, 0, 3));
	if (out->superuser)
		snprintf(out->flavour, sizeof(out->flavour), "superuser");
	else if (!PQgetisnull(res, 0, 4))
		snprintf(out->flavour, sizeof(out->flavour), "%s", PQgetvalue(res, 0, 4));
	else if (strcmp(out->name, "doadmin") == 0)
		snprintf(out->flavour, sizeof(out->flavour), "doadmin");
	else
		snprintf(out->flavour, sizeof(out->flavour), out->createrole ? "createrole" : "plain");
	PQclear(res);
	return 0;
}

int
pgp_host_is_local(const char *host)
{
	unsigned char buf[16];

	if (!host || !*host || *host == '/' || !strcmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, buf) == 1)
		return buf[0] == 127;
	return !strcmp(host, "::1");
}
