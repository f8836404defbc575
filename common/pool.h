/*
 * PgBouncer pool sizes consistent with a server's max_connections: one
 * function fed one set of inputs, used by pgp-create (pgbouncer.ini) and
 * pgp-tune (--format pgbouncer), so the two never disagree.
 */
#ifndef PGP_POOL_H
#define PGP_POOL_H

#include <libpq-fe.h>

struct pgp_pool_sizes {
	int default_pool_size;	/* server connections per user/database pair */
	int reserve_pool_size;	/* extra connections under load */
	int max_db_connections;	/* hard cap per database */
	int max_client_conn;	/* clients PgBouncer accepts */
	int headroom;		/* server connections left outside the pooler */
};

/* What the sizes depend on, and nothing else. */
struct pgp_pool_input {
	int max_connections;	/* the server's, or the one recommended for it */
	int reserved;		/* slots ordinary roles never get (see below) */
	int cpus;		/* CPUs the server can use, as pgp_sys_cpus counts them */
};

/* PostgreSQL's superuser_reserved_connections when nothing else is known. */
#define PGP_POOL_RESERVED_DEFAULT 3

/*
 * The inputs for a server this machine runs: max_connections and the
 * reserved slots (superuser_reserved_connections, plus reserved_connections
 * from PostgreSQL 16) read from conn, and the CPUs a process here really
 * gets (pgp_sys_cpus under root, "/" on a real system: cgroup quota,
 * cpuset and affinity, not merely the CPUs online).  0, or -1 (logged).
 */
int pgp_pool_input_server(PGconn *conn, const char *root, struct pgp_pool_input *in);

/*
 * Transaction pooling for in.  The pooler takes at most what is left after
 * the reserved slots and a headroom for the admin, migrator, monitor and
 * backup roles, which connect directly.
 */
void pgp_pool_plan(const struct pgp_pool_input *in, struct pgp_pool_sizes *out);

#endif
