/*
 * Pool sizing.  In transaction mode a server connection is busy only
 * while a transaction runs, so a pool of a few connections per core keeps
 * the CPUs busy (PgBouncer's and PostgreSQL's wiki advice: about twice the
 * cores); more only adds contention.  Clients queue in PgBouncer instead.
 */
#include <stdlib.h>

#include "conn.h"
#include "pool.h"
#include "sysinfo.h"

int
pgp_pool_input_server(PGconn *conn, const char *root, struct pgp_pool_input *in)
{
	/* reserved_connections (16+) is absent before: missing_ok gives NULL. */
	PGresult *res = pgp_conn_query(conn, "SELECT current_setting('max_connections')::int,"
				       " current_setting('superuser_reserved_connections')::int"
				       " + coalesce(current_setting('reserved_connections', true), '0')::int",
				       0, NULL);
	const char *source;

	if (!res)
		return -1;
	in->max_connections = atoi(PQgetvalue(res, 0, 0));
	in->reserved = atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
	return pgp_sys_cpus(root ? root : "/", &in->cpus, &source);
}

void
pgp_pool_plan(const struct pgp_pool_input *in, struct pgp_pool_sizes *out)
{
	int usable, headroom, cpus = in->cpus < 1 ? 1 : in->cpus;

	/* Direct connections: admin, migrator, monitor and backup (pg_dump -j). */
	headroom = in->max_connections / 10;
	if (headroom < 5)
		headroom = 5;
	usable = in->max_connections - in->reserved - headroom;
	if (usable < 2)
		usable = 2;
	out->headroom = headroom;
	out->max_db_connections = usable;
	out->default_pool_size = cpus * 2 + 1;
	if (out->default_pool_size < 5)
		out->default_pool_size = 5;
	out->reserve_pool_size = out->default_pool_size / 4;
	if (out->reserve_pool_size < 1)
		out->reserve_pool_size = 1;
	/* Pool and reserve together never exceed what the server allows. */
	if (out->default_pool_size + out->reserve_pool_size > usable) {
		out->reserve_pool_size = usable >= 4 ? usable / 4 : 0;
		out->default_pool_size = usable - out->reserve_pool_size;
	}
	out->max_client_conn = usable * 10 < 100 ? 100 : usable * 10;
}
