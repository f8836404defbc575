/*
 * Connecting to PostgreSQL the same way in every program: a connection
 * string or URI from -d, a named target from -t (with its service and
 * password files), else the program's default target, else libpq's own
 * defaults (PGHOST, PGSERVICE...).  Every connection has a connect_timeout,
 * fallback_application_name = the program (PGAPPNAME wins), and an empty
 * search_path.
 */
#ifndef PGP_CONN_H
#define PGP_CONN_H

#include <libpq-fe.h>

#include "conf.h"
#include "opt.h"

struct pgp_connspec {
	const char *conninfo;		/* "" means libpq's defaults */
	const char *service_file;	/* exported as PGSERVICEFILE, or NULL */
	const char *passfile;		/* exported as PGPASSFILE, or NULL */
	const char *target;		/* target name, for messages, or NULL */
	long long connect_timeout;	/* seconds; 0: from PGCONNECT_TIMEOUT */
	int pooled;			/* through a transaction pooler: set no
					 * session state (search_path), since the
					 * server connection is shared */
};

/*
 * Refuse a -d value libpq cannot parse, before any connection is tried:
 * 0, or -1 after logging one line with libpq's reason (secrets masked).
 */
int pgp_conn_check_option(const char *conninfo);

/*
 * Resolve -d / -t / the default target key of the program's section
 * (e.g. "backup.target"); a connection string libpq cannot parse is
 * refused here.  Returns 0, or -1 after logging (a usage error).
 */
int pgp_conn_spec(const struct pgp_conf *conf, const struct pgp_common *c,
		  const char *default_target_key, struct pgp_connspec *spec);

/*
 * Connect (dbname, if not NULL, overrides the connection's database).
 * On failure logs one line naming host and port and returns NULL.
 */
PGconn *pgp_conn_open(const struct pgp_connspec *spec, const char *dbname);

/* "host:port" of a connection (socket directory for a unix socket). */
const char *pgp_conn_where(PGconn *conn, char *buf, unsigned long size);

/* Run a statement that returns no rows; -1 after logging on error. */
int pgp_conn_exec(PGconn *conn, const char *sql);

/*
 * Run a query with text parameters; returns the result (rows or command
 * ok), or NULL after logging the server's message.
 */
PGresult *pgp_conn_query(PGconn *conn, const char *sql, int nparams,
			 const char *const *params);

/* Close; NULL is fine. */
void pgp_conn_close(PGconn *conn);

/*
 * Append "key='value'" to a connection string buffer, quoting the value
 * as libpq wants (backslash before ' and \).  0, or -1 when it does not fit.
 */
int pgp_conninfo_append(char *buf, unsigned long size, const char *key, const char *value);


/*
 * What the connected role is: "superuser", a managed service's admin
 * ("rds_superuser", "cloudsqlsuperuser", "azure_pg_admin", "doadmin"), or
 * "createrole"/"plain".  Also server_version_num.  0, or -1 (logged).
 */
struct pgp_server_role {
	int version_num;
	int superuser;
	int createrole;
	char name[64];
	char flavour[32];
};
int pgp_conn_server_role(PGconn *conn, struct pgp_server_role *out);

/* Is host this machine: empty (libpq's default socket), a socket path,
 * localhost, 127.0.0.0/8 or ::1? */
int pgp_host_is_local(const char *host);

#endif
