/*
 * A restored server started (pg_ctl, as the data directory's owner),
 * waited for until recovery ends or, a standby, until it streams, and
 * the point it reached: from the server (pg_last_wal_replay_lsn, the
 * timeline of its current WAL) and its log ("recovery stopping ...").
 * A server that stops instead is reported with its log's FATAL lines.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "pgbin.h"
#include "physical.h"
#include "spawn.h"

/* The server: pg_ctl as the data directory's owner. */
struct server {
	const char *dir;
	char log[PATH_MAX], pg_ctl[PATH_MAX], owner[64];
	char sockdir[PATH_MAX], port[16];
	const struct backup_ctx *ctx;
};

static int
pg_ctl(struct server *s, const char *action, const char *extra_opts)
{
	char *argv[12];
	int n = 0;

	argv[n++] = s->pg_ctl;
	argv[n++] = (char *) "-D";
	argv[n++] = (char *) s->dir;
	argv[n++] = (char *) "-l";
	argv[n++] = s->log;
	argv[n++] = (char *) "-w";
	argv[n++] = (char *) "-t";
	argv[n++] = (char *) "600";
	if (extra_opts) {
		argv[n++] = (char *) "-o";
		argv[n++] = (char *) extra_opts;
	}
	if (!strcmp(action, "stop"))
		argv[n++] = (char *) "-mfast";
	argv[n++] = (char *) action;
	argv[n] = NULL;
	return pgp_spawn(argv, geteuid() == 0 ? s->owner : NULL, NULL);
}

/* The port and socket directory the running server wrote into postmaster.pid. */
static int
read_pidfile(struct server *s)
{
	char path[PATH_MAX], line[PATH_MAX];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/postmaster.pid", s->dir);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (++n == 4)
			snprintf(s->port, sizeof(s->port), "%s", line);
		else if (n == 5)
			snprintf(s->sockdir, sizeof(s->sockdir), "%s", line);
	}
	fclose(f);
	return n >= 5 && *s->port ? 0 : -1;
}

static PGconn *
server_connect(struct server *s, const char *user)
{
	const char *keys[] = {"host", "port", "user", "dbname", "connect_timeout", "fallback_application_name", NULL};
	const char *vals[] = {*s->sockdir ? s->sockdir : "localhost", s->port, user, "postgres", "10",
			      "pgp-backup", NULL};
	PGconn *conn;

	if (read_pidfile(s) < 0)
		return NULL;
	vals[0] = *s->sockdir ? s->sockdir : "localhost";
	conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static char *
query1(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	char *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* The server's log lines that say why recovery stopped or failed. */
static void
log_lines(const struct server *s, const char *const *pats, char *found, size_t size, int print)
{
	char line[2048];
	FILE *f = fopen(s->log, "r");

	if (found)
		*found = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		for (const char *const *p = pats; *p; p++)
			if (strstr(line, *p)) {
				if (print)
					pgp_detail("server log: %s", line);
				if (found)
					snprintf(found, size, "%s", strstr(line, *p));
				break;
			}
	}
	fclose(f);
}

static int
server_failed(struct server *s, const char *what)
{
	static const char *const pats[] = {"FATAL:", "PANIC:", "pgp-backup: error", "recovery ended before", NULL};

	pgp_error("the restored server %s: recovery did not complete (see %s)", what, s->log);
	log_lines(s, pats, NULL, 0, 1);
	return PGP_EXIT_FAILED;
}

/* Wait until recovery ended (or, a standby, until it streams); report the point reached. */
static int
wait_recovery(struct backup_ctx *ctx, struct server *s, const char *user, const struct phys_info *b, int test)
{
	static const char *const stop_pats[] = {"recovery stopping", NULL};
	static const char *const end_pats[] = {"archive recovery complete", "redo done at",
					       "consistent recovery state reached", NULL};
	char stop[512], *v = NULL, *lsn = NULL, *tli = NULL, *when = NULL;
	PGconn *conn = NULL;
	int rc = PGP_EXIT_OK;

	/* Recovery of a long archive may take an hour; a standby streams within two minutes or never. */
	for (int i = 0; i < (ctx->standby ? 240 : 7200); i++) {
		if (!conn && !(conn = server_connect(s, user))) {
			if (read_pidfile(s) < 0)
				return server_failed(s, "stopped");
		} else {
			free(v);
			v = query1(conn, ctx->standby ? "SELECT status FROM pg_catalog.pg_stat_wal_receiver"
				   : "SELECT pg_catalog.pg_is_in_recovery()::text");
			if (!v && PQstatus(conn) != CONNECTION_OK) {
				PQfinish(conn);
				conn = NULL;
			} else if (v && !strcmp(v, ctx->standby ? "streaming" : "false"))
				break;
		}
		usleep(500000);
	}
	if (!conn || !v || strcmp(v, ctx->standby ? "streaming" : "false") != 0) {
		free(v);
		PQfinish(conn);
		return server_failed(s, ctx->standby ? "does not stream from its primary" : "is still in recovery");
	}
	free(v);
	/* After promotion it stays at the last record recovery applied. */
	lsn = query1(conn, "SELECT pg_catalog.pg_last_wal_replay_lsn()::text");
	tli = query1(conn, ctx->standby ? "SELECT received_tli::text FROM pg_catalog.pg_stat_wal_receiver"
		     : "SELECT ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))"
		     "::bit(32)::int::text");
	when = query1(conn, "SELECT to_char(pg_catalog.pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
		      "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
	if (test) {
		char *one = query1(conn, "SELECT 1"), *n = query1(conn, "SELECT count(*) FROM pg_catalog.pg_class");

		if (!one || !n || strcmp(one, "1") != 0) {
			pgp_error("base backup %s: the restored server does not answer queries", b->id);
			rc = PGP_EXIT_FOUND;
		} else
			pgp_info("base backup %s: restored server answers, %s relations in pg_class", b->id, n);
		free(one);
		free(n);
	}
	/* Why it stopped: the target's line, else how recovery ended. */
	log_lines(s, stop_pats, stop, sizeof(stop), 0);
	if (!*stop)
		log_lines(s, end_pats, stop, sizeof(stop), 0);
	if (!test) {
		if (ctx->common->format && !strcmp(ctx->common->format, "json")) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "base_backup", pgp_json_cstring(b->id));
			json_object_object_add(o, "data_dir", pgp_json_cstring(s->dir));
			json_object_object_add(o, "standby", json_object_new_boolean(ctx->standby));
			json_object_object_add(o, "lsn", pgp_json_cstring(lsn));
			json_object_object_add(o, "last_transaction_time", pgp_json_cstring(when));
			json_object_object_add(o, "timeline", tli ? json_object_new_int64(atoll(tli)) : NULL);
			json_object_object_add(o, "recovery", pgp_json_cstring(*stop ? stop : NULL));
			pgp_json_print(stdout, o, 1);
			json_object_put(o);
		} else
			printf("%s %s: %s %s, timeline %s, last transaction %s%s%s\n",
			       ctx->standby ? "standby" : "restored", s->dir,
			       ctx->standby ? "streaming, replayed to" : "recovery ended at WAL", lsn ? lsn : "?",
			       tli ? tli : "?", when ? when : "none", *stop ? "; " : "", stop);
	}
	free(lsn);
	free(tli);
	free(when);
	PQfinish(conn);
	return rc;
}

/* Start the restored server and wait; the restore test stops it again. */
int
phys_start_server(struct backup_ctx *ctx, const struct phys_info *b, const char *dir, int test, const struct phys_listen *l)
{
	struct server s = {.dir = dir, .ctx = ctx};
	char opts[PATH_MAX + 128], user[64];
	struct pgp_pgbin where = {NULL, ctx->pg_bindir, NULL, pgp_pgbin_data_major(dir)};
	struct stat st;
	struct passwd *pw;
	int rc;

	if (stat(dir, &st) < 0 || !(pw = getpwuid(st.st_uid)))
		return pgp_fail("cannot find the owner of %s", dir);
	snprintf(s.owner, sizeof(s.owner), "%s", pw->pw_name);
	if (geteuid() == 0 && st.st_uid == 0) {
		pgp_error("%s belongs to root: PostgreSQL does not run as root", dir);
		pgp_hint("restore into a directory the server's OS user owns (mkdir; chown postgres), or as that user");
		return PGP_EXIT_USAGE;
	}
	if (pgp_pgbin_find(&where, "pg_ctl", s.pg_ctl, sizeof(s.pg_ctl)) < 0)
		return PGP_EXIT_FAILED;
	snprintf(s.log, sizeof(s.log), "%s/pgp-restore.log", dir);
	snprintf(user, sizeof(user), "%s", *l->user ? l->user : s.owner);
	/* A test server of its own: only a unix socket in its own directory. */
	/* ... that archives nothing: its new timeline is no one's to restore. */
	snprintf(opts, sizeof(opts), "-c listen_addresses='' -c unix_socket_directories='%s' -c port=5432 "
		 "-c archive_mode=off", dir);
	if (pg_ctl(&s, "start", test ? opts : NULL) != 0 && read_pidfile(&s) < 0)
		return server_failed(&s, "did not start");
	rc = wait_recovery(ctx, &s, user, b, test);
	/* A copy that failed is not left running behind an error. */
	if (test || rc != PGP_EXIT_OK) {
		pg_ctl(&s, "stop", NULL);
		if (!test)
			pgp_detail("the restored server was stopped");
	}
	return rc;
}

