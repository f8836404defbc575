/*
 * PgBouncer pool sizes consistent with a server's max_connections: one
 * function, used by pgp-create (pgbouncer.ini) and pgp-tune
 * (--format pgbouncer), so the two never disagree.
 */
#ifndef PGP_POOL_H
#define PGP_POOL_H

struct pgp_pool_sizes {
	int default_pool_size;	/* server connections per user/database pair */
	int reserve_pool_size;	/* extra connections under load */
	int max_db_connections;	/* hard cap per database */
	int max_client_conn;	/* clients PgBouncer accepts */
	int headroom;		/* server connections left outside the pooler */
};

/*
 * Transaction pooling in front of a server with max_connections and
 * superuser_reserved_connections, on cpus CPUs.  The pooler takes at most
 * what is left after the reserved slots and a headroom for the admin,
 * migrator, monitor and backup roles, which connect directly.
 */
void pgp_pool_sizes(int max_connections, int superuser_reserved, int cpus,
		    struct pgp_pool_sizes *out);

#endif
