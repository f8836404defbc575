/*
 * Pool sizing.  In transaction mode a server connection is busy only
 * while a transaction runs, so a pool of a few connections per core keeps
 * the CPUs busy (PgBouncer's and PostgreSQL's wiki advice: about twice the
 * cores); more only adds contention.  Clients queue in PgBouncer instead.
 */
#include "pool.h"

void
pgp_pool_sizes(int max_connections, int superuser_reserved, int cpus, struct pgp_pool_sizes *out)
{
	int usable, headroom;

	if (cpus < 1)
		cpus = 1;
	/* Direct connections: admin, migrator, monitor and backup (pg_dump -j). */
	headroom = max_connections / 10;
	if (headroom < 5)
		headroom = 5;
	usable = max_connections - superuser_reserved - headroom;
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
