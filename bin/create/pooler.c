/*
 * PgBouncer in front of the database, in transaction mode, TLS on both
 * sides.  The auth file holds the auth user's credentials and the
 * monitor role's SCRAM verifier (the server's own, so PgBouncer can pass
 * its SCRAM proof on); every application role is looked up with
 * auth_query through a SECURITY DEFINER function that returns the role's
 * SCRAM verifier, so PgBouncer can pass the client's SCRAM proof on to
 * the server.  The monitor is a stats user: pgp-alert reads SHOW POOLS
 * on the admin console as it (Debian's PgBouncer 1.18 lets a role that
 * is neither in stats_users nor in the auth file hang until its timeout).
 *
 * Local mode starts PgBouncer; server mode only writes its files (in
 * --out DIR/pgbouncer, with a local CA for its clients): starting a
 * pooler, maybe on another host, is the operator's part.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "create.h"
#include "log.h"
#include "pool.h"
#include "spawn.h"
#include "conn.h"

static int
lookup_function(struct create_ctx *ctx, PGconn *db)
{
	const char *pooler = ctx->roles[ROLE_POOLER].name;

	/* Reading pg_authid takes a superuser: managed services bring their own pooler. */
	if (!ctx->is_superuser)
		return pgp_fail("--pooler pgbouncer needs a superuser admin: its auth_query reads "
				"pg_authid through a SECURITY DEFINER function; on a managed service "
				"use the provider's connection pooler");
	if (create_sql(ctx, db, NULL, "CREATE SCHEMA IF NOT EXISTS pgbouncer") < 0 ||
	    create_sql(ctx, db, NULL, "REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC") < 0 ||
	    create_sql(ctx, db, NULL, "GRANT USAGE ON SCHEMA pgbouncer TO %I", pooler) < 0 ||
	    create_sql(ctx, db, NULL,
		       "CREATE OR REPLACE FUNCTION pgbouncer.user_lookup(p_user text, OUT uname text,"
		       " OUT phash text) RETURNS record LANGUAGE sql STABLE SECURITY DEFINER"
		       " SET search_path = pg_catalog AS $fn$"
		       " SELECT rolname::text, rolpassword::text FROM pg_catalog.pg_authid"
		       " WHERE rolname = p_user AND rolcanlogin"
		       " AND (rolvaliduntil IS NULL OR rolvaliduntil > now())"
		       " AND rolname IN (%L, %L) $fn$",
		       ctx->roles[ROLE_APP].name, ctx->roles[ROLE_READONLY].name) < 0 ||
	    create_sql(ctx, db, NULL, "REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC") < 0 ||
	    create_sql(ctx, db, NULL, "GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO %I", pooler) < 0)
		return -1;
	return 0;
}

static char *
ini_text(struct create_ctx *ctx, PGconn *db)
{
	struct pgp_pool_input in;
	struct pgp_pool_sizes sz;
	char *text = NULL;
	size_t size;
	FILE *f;

	/* The inputs pgp-tune's --format pgbouncer uses too: the CPUs a process here gets. */
	if (pgp_pool_input_server(db, "/", &in) < 0 || !(f = open_memstream(&text, &size)))
		return NULL;
	pgp_pool_plan(&in, &sz);
	fprintf(f, ";; Written by pgp-create: changes here are overwritten on its next run.\n"
		";; Transaction pooling for %s; sizes follow the server's max_connections (%d).\n"
		"[databases]\n%s = host=%s port=%s dbname=%s\n\n[pgbouncer]\n"
		"listen_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
		"auth_type = scram-sha-256\nauth_file = %s/userlist.txt\nauth_user = %s\n"
		"auth_query = SELECT uname, phash FROM pgbouncer.user_lookup($1)\n"
		"stats_users = %s, %s\n"
		"pool_mode = transaction\ndefault_pool_size = %d\nreserve_pool_size = %d\n"
		"max_db_connections = %d\nmax_client_conn = %d\n"
		"ignore_startup_parameters = extra_float_digits\n"
		"client_tls_sslmode = require\nclient_tls_cert_file = %s/server.crt\n"
		"client_tls_key_file = %s/server.key\n"
		"logfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n",
		ctx->database, in.max_connections, ctx->database, ctx->host, ctx->tcp_port, ctx->database,
		ctx->pooler_port, ctx->pooler_dir, ctx->roles[ROLE_POOLER].name, ctx->roles[ROLE_POOLER].name,
		ctx->roles[ROLE_MONITOR].name, sz.default_pool_size, sz.reserve_pool_size, sz.max_db_connections,
		sz.max_client_conn,
		ctx->pooler_tls_dir, ctx->pooler_tls_dir, ctx->pooler_dir, ctx->pooler_dir);
	/* Without the provider's CA (server mode, no --sslrootcert) TLS cannot verify. */
	if (*ctx->ca_file)
		fprintf(f, "server_tls_sslmode = verify-full\nserver_tls_ca_file = %s\n", ctx->ca_file);
	else
		fprintf(f, "server_tls_sslmode = require\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Write when different, owned by the server's OS user; *changed if so. */
static int
put(struct create_ctx *ctx, const char *path, const char *text, int *changed)
{
	int differs = create_differs(path, text);

	if (differs <= 0)
		return differs;
	if (create_write(path, text, 0600, ctx->os_user) < 0)
		return -1;
	*changed = 1;
	return 0;
}

static pid_t
running_pid(const struct create_ctx *ctx)
{
	char path[600], *text;
	pid_t pid = 0;

	snprintf(path, sizeof(path), "%s/pgbouncer.pid", ctx->pooler_dir);
	if (access(path, F_OK) != 0 || pgp_read_file(path, &text, NULL) < 0)
		return 0;
	pid = (pid_t) atoi(text);
	free(text);
	return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

/* The local pgbouncer: start it, or make it reread a changed config. */
static int
start(struct create_ctx *ctx, int changed)
{
	char ini[600], log[600];
	char *argv[] = {ctx->pgbouncer, (char *) "-d", ini, NULL};
	pid_t pid = running_pid(ctx);
	int rc;

	snprintf(ini, sizeof(ini), "%s/pgbouncer.ini", ctx->pooler_dir);
	snprintf(log, sizeof(log), "%s/start.log", ctx->pooler_dir);
	if (pid) {
		if (changed && kill(pid, SIGHUP) != 0)
			return pgp_fail("cannot signal pgbouncer (pid %d): %s", (int) pid, strerror(errno));
		return 0;
	}
	/* pgbouncer refuses to run as root, like the server. */
	rc = pgp_spawn(argv, ctx->os_user, log);
	if (rc != 0) {
		pgp_error("pgbouncer did not start (exit %d)", rc);
		pgp_hint("see %s and %s/pgbouncer.log", log, ctx->pooler_dir);
		return -1;
	}
	/* -d returns once daemonized; wait for its port to accept. */
	for (int i = 0; i < 50 && !running_pid(ctx); i++)
		usleep(100000);
	ctx->changed = 1;
	return 0;
}

/*
 * The monitor's line of the auth file: the server's SCRAM verifier (read
 * by the superuser --pooler needs), so the file changes only with the
 * password.  The pgpass holds its password for the console.
 */
static int
monitor_auth_line(struct create_ctx *ctx, PGconn *db, char *buf, size_t size)
{
	const struct role_spec *m = &ctx->roles[ROLE_MONITOR];
	char *verifier = create_value(db, "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1",
				      m->name, NULL);
	int rc = 0;

	if (!verifier)
		return -1;
	if (secrets_verify_scram(m->password, verifier) != 1)
		rc = pgp_fail("the server's verifier of %s is not the SCRAM-SHA-256 one of its password in %s",
			      m->name, ctx->passfile);
	else if ((size_t) snprintf(buf, size, "\"%s\" \"%s\"\n", m->name, verifier) >= size)
		rc = pgp_fail("the SCRAM verifier of %s is too long", m->name);
	explicit_bzero(verifier, strlen(verifier));
	free(verifier);
	return rc;
}

int
pooler_setup(struct create_ctx *ctx, PGconn *db)
{
	char path[600], *text, auth[1024];
	int changed = 0, rc;
	size_t n;

	if (lookup_function(ctx, db) < 0)
		return -1;
	if (ctx->dry_run) {
		printf("-- would write %s/pgbouncer.ini and userlist.txt\n", ctx->pooler_dir);
		return 0;
	}
	if (create_mkdir(ctx->pooler_dir, 0700, ctx->os_user) < 0)
		return -1;
	/* Server mode: PgBouncer runs on this host, with a local CA of its own. */
	if (!ctx->local_dir && tls_ensure(ctx->pooler_tls_dir, ctx->os_user, &changed) < 0)
		return -1;
	/* The auth user's password (it logs in to the server with it; ours
	 * have no quotes, which would be doubled), then the monitor's verifier. */
	n = (size_t) snprintf(auth, sizeof(auth), "\"%s\" \"%s\"\n", ctx->roles[ROLE_POOLER].name,
			      ctx->roles[ROLE_POOLER].password);
	rc = n < sizeof(auth) ? monitor_auth_line(ctx, db, auth + n, sizeof(auth) - n) : -1;
	snprintf(path, sizeof(path), "%s/userlist.txt", ctx->pooler_dir);
	if (rc == 0)
		rc = put(ctx, path, auth, &changed);
	explicit_bzero(auth, sizeof(auth));
	if (rc < 0 || !(text = ini_text(ctx, db)))
		return -1;
	snprintf(path, sizeof(path), "%s/pgbouncer.ini", ctx->pooler_dir);
	rc = put(ctx, path, text, &changed);
	free(text);
	if (rc < 0)
		return -1;
	ctx->changed |= changed;
	return ctx->local_dir ? start(ctx, changed) : 0;
}

int
pooler_stop(struct create_ctx *ctx)
{
	pid_t pid = running_pid(ctx);

	if (!pid)
		return 0;
	if (kill(pid, SIGTERM) != 0)
		return pgp_fail("cannot stop pgbouncer (pid %d): %s", (int) pid, strerror(errno));
	for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
		usleep(100000);
	return 0;
}
