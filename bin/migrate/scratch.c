/*
 * The scratch copy: a database pgp_mc_<unix time>_<pid> on the target's
 * server (or --scratch), filled from the target by pg_dump -Fc streamed
 * into pg_restore --no-owner --no-acl (schema only, rows limited per
 * table, or pgp-backup's latest backup), and dropped on every way out.
 *
 * A run killed with SIGKILL cannot drop its copy: the next run on that
 * server drops every pgp_mc_* database whose name says it is older than a
 * day (one still in use by a run that old would be a run gone wrong).
 *
 * Signals only set a flag, cancel the query in flight (PQcancel is
 * async-signal-safe) and stop our children, so the run ends through the
 * normal path, where main() calls mc_scratch_drop().
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "childconn.h"
#include "exitcodes.h"
#include "invariants.h"
#include "log.h"
#include "pgbin.h"
#include "scratch.h"
#include "spawn.h"
#include "sql.h"

#define SWEEP_AGE (24 * 3600)

static volatile sig_atomic_t got_signal;
static PGcancel *volatile cancel_handle;
static volatile pid_t child_pid[2];

static void
on_signal(int sig)
{
	char errbuf[256];
	PGcancel *c = cancel_handle;

	got_signal = sig;
	if (c)
		PQcancel(c, errbuf, sizeof(errbuf));
	for (int i = 0; i < 2; i++)
		if (child_pid[i] > 0)
			kill(child_pid[i], SIGTERM);
}

/* The query to cancel on a signal: conn's (NULL: none). */
static void
cancel_for(PGconn *conn)
{
	PGcancel *old = cancel_handle, *c = conn ? PQgetCancel(conn) : NULL;

	cancel_handle = c;
	if (old)
		PQfreeCancel(old);
}

void
mc_signals_install(struct mc_scratch *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (s && s->conn)
		cancel_for(s->conn);
}

int
mc_signalled(void)
{
	return got_signal != 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *
pg_program(const char *name, int server_version, char *buf, size_t size)
{
	struct pgp_pgbin where = {NULL, NULL, NULL, server_version / 10000};

	return pgp_pgbin_find(&where, name, buf, size) == 0 ? buf : NULL;
}

/* Run sql (no rows); -1 after logging. */
static int
exec_sql(PGconn *conn, char *sql)
{
	int rc = sql ? pgp_conn_exec(conn, sql) : -1;

	free(sql);
	return rc;
}

/* CREATEDB or superuser: 0; else -1 after saying what is missing. */
static int
check_createdb(PGconn *admin, const struct mc_copy_opts *o)
{
	PGresult *res = pgp_conn_query(admin,
		"SELECT rolcreatedb OR rolsuper, current_user FROM pg_catalog.pg_roles "
		"WHERE rolname = current_user", 0, NULL);
	int ok;

	if (!res)
		return -1;
	ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (!ok) {
		pgp_error("role \"%s\" may not create databases on %s, and the migrations run on a scratch copy",
			  PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "?", PQhost(admin) ? PQhost(admin) : "the server");
		if (o->scratch_conninfo)
			pgp_hint("give the role CREATEDB on the --scratch server (it never needs superuser)");
		else
			pgp_hint("ALTER ROLE ... CREATEDB (never superuser), or give --scratch CONNINFO naming a "
				 "server where it may create databases");
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/* Drop pgp_mc_* databases a SIGKILLed run left, older than a day. */
static void
sweep(PGconn *admin)
{
	PGresult *res = pgp_conn_query(admin,
		"SELECT datname FROM pg_catalog.pg_database WHERE datname ~ '^pgp_mc_[0-9]+_[0-9]+$' "
		"AND pg_catalog.split_part(datname, '_', 3)::bigint < "
		"pg_catalog.date_part('epoch', pg_catalog.now())::bigint - $1::bigint", 1,
		(const char *const[]) {"86400"});

	for (int i = 0; res && i < PQntuples(res); i++) {
		pgp_info("dropping scratch database %s left by an earlier run", PQgetvalue(res, i, 0));
		if (exec_sql(admin, pgp_sql_build(admin, "DROP DATABASE IF EXISTS %I", PQgetvalue(res, i, 0))) < 0)
			pgp_warning("could not drop the leftover scratch database %s", PQgetvalue(res, i, 0));
	}
	PQclear(res);
}

/* CREATE DATABASE with the target's encoding (and its locale when it can). */
static int
create_db(PGconn *target, PGconn *admin, const char *name)
{
	PGresult *res = pgp_conn_query(target,
		"SELECT pg_catalog.pg_encoding_to_char(encoding), datcollate, datctype "
		"FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()", 0, NULL);
	PGresult *r2;
	char *sql;
	int rc;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	sql = pgp_sql_build(admin, "CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L LC_CTYPE %L",
			    name, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	/* Another server may lack the locale: then its default. */
	r2 = sql ? PQexec(admin, sql) : NULL;
	free(sql);
	rc = PQresultStatus(r2) == PGRES_COMMAND_OK ? 0 : 1;
	if (rc) {
		pgp_debug("CREATE DATABASE with the target's locale: %s", PQerrorMessage(admin));
		rc = exec_sql(admin, pgp_sql_build(admin, "CREATE DATABASE %I TEMPLATE template0 ENCODING %L",
						   name, PQgetvalue(res, 0, 0)));
	}
	PQclear(r2);
	PQclear(res);
	return rc;
}

/* The children of one pg_dump | pg_restore, stoppable from the handler. */
static int
dump_restore(PGconn *target, PGconn *admin, const char *dbname, const char *section)
{
	struct pgp_childconn from = {0}, to = {0};
	struct pgp_child *dump = NULL, *restore = NULL;
	char dump_path[PATH_MAX], restore_path[PATH_MAX], buf[65536];
	const char *dump_env[2] = {NULL, NULL}, *restore_env[2] = {NULL, NULL};
	struct pgp_spawn_opts dopts = {.out = PGP_SPAWN_PIPE, .env = dump_env};
	struct pgp_spawn_opts ropts = {.in = PGP_SPAWN_PIPE, .env = restore_env};
	int rc = -1, failed = 0;
	ssize_t n;

	if (!pg_program("pg_dump", PQserverVersion(target), dump_path, sizeof(dump_path)) ||
	    /* It must read what the target's pg_dump wrote: the newer of the two majors. */
	    !pg_program("pg_restore", PQserverVersion(admin) > PQserverVersion(target) ? PQserverVersion(admin) :
			PQserverVersion(target), restore_path, sizeof(restore_path)) ||
	    pgp_childconn_write(target, NULL, &from) < 0 || pgp_childconn_write(admin, dbname, &to) < 0)
		goto out;
	dump_env[0] = from.env;
	restore_env[0] = to.env;
	{
		char *dargv[10], *rargv[] = {restore_path, (char *) "--no-owner", (char *) "--no-acl",
					    (char *) "--exit-on-error", (char *) "-d", to.conninfo, NULL};
		int k = 0;

		dargv[k++] = dump_path;
		dargv[k++] = (char *) "-Fc";
		dargv[k++] = (char *) "-Z0";
		dargv[k++] = (char *) "--no-subscriptions";
		/* A session holding ACCESS EXCLUSIVE on the target must not hang us. */
		dargv[k++] = (char *) "--lock-wait-timeout=60000";
		if (section)
			dargv[k++] = (char *) section;
		dargv[k++] = (char *) "-d";
		dargv[k++] = from.conninfo;
		dargv[k] = NULL;
		if (!(restore = pgp_spawn_start(rargv, &ropts)))
			goto out;
		child_pid[1] = pgp_spawn_pid(restore);
		if (!(dump = pgp_spawn_start(dargv, &dopts)))
			goto out;
		child_pid[0] = pgp_spawn_pid(dump);
	}
	while ((n = pgp_spawn_read(dump, buf, sizeof(buf))) > 0)
		if (!failed && pgp_spawn_write(restore, buf, (size_t) n) < 0) {
			failed = 1;
			pgp_spawn_stop(dump);
		}
	if (n < 0)
		failed = 1;
	pgp_spawn_close_stdin(restore);
	rc = 0;
out:
	if (dump && pgp_spawn_finish(dump) < 0)
		rc = -1;
	child_pid[0] = 0;
	if (restore && pgp_spawn_finish(restore) < 0)
		rc = -1;
	child_pid[1] = 0;
	if (failed)
		rc = -1;
	pgp_childconn_remove(&from);
	pgp_childconn_remove(&to);
	return rc;
}

/* COPY (SELECT cols FROM t LIMIT n) from the target into the copy's t. */
static int
copy_rows(PGconn *target, PGconn *scratch, const char *table, const char *cols, long long limit)
{
	char lim[32], *out_sql, *in_sql, *buf;
	PGresult *res;
	int rc = 0, n;

	snprintf(lim, sizeof(lim), "%lld", limit);
	out_sql = pgp_sql_build(target, "COPY (SELECT %s FROM %s LIMIT %s) TO STDOUT", cols, table, lim);
	in_sql = pgp_sql_build(scratch, "COPY %s (%s) FROM STDIN", table, cols);
	if (!out_sql || !in_sql) {
		free(out_sql);
		free(in_sql);
		return -1;
	}
	res = PQexec(target, out_sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		rc = pgp_fail("cannot read %s on the target: %s", table, PQerrorMessage(target));
	PQclear(res);
	if (rc == 0) {
		res = PQexec(scratch, in_sql);
		if (PQresultStatus(res) != PGRES_COPY_IN)
			rc = pgp_fail("cannot copy into %s on the copy: %s", table, PQerrorMessage(scratch));
		PQclear(res);
	}
	while ((n = PQgetCopyData(target, &buf, 0)) > 0) {
		if (rc == 0 && PQputCopyData(scratch, buf, n) != 1)
			rc = -1;
		PQfreemem(buf);
	}
	while ((res = PQgetResult(target)))
		PQclear(res);
	if (PQputCopyEnd(scratch, rc == 0 ? NULL : "aborted") == 1) {
		while ((res = PQgetResult(scratch))) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
				rc = pgp_fail("cannot copy into %s on the copy: %s", table, PQerrorMessage(scratch));
			PQclear(res);
		}
	}
	free(out_sql);
	free(in_sql);
	return rc;
}

/* Every table's first limit rows; the copy has its pre-data section. */
static int
copy_limited(PGconn *target, PGconn *scratch, long long limit)
{
	PGresult *res = pgp_conn_query(target,
		"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), "
		"(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) "
		" FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
		" AND NOT a.attisdropped AND a.attgenerated = '') "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
		"AND n.nspname !~ '^pg_toast' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
		" WHERE d.objid = c.oid AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'e') "
		"ORDER BY 1", 0, NULL);
	int rc = res ? 0 : -1;

	for (int i = 0; res && i < PQntuples(res) && rc == 0 && !got_signal; i++)
		if (!PQgetisnull(res, i, 1))
			rc = copy_rows(target, scratch, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), limit);
	PQclear(res);
	return got_signal ? -1 : rc;
}

/*
 * Limited rows need not satisfy the foreign keys: rows of a child whose
 * parent row was not copied are deleted (until none is left, for chains)
 * so that the post-data section adds every constraint as on the target.
 * Returns the rows deleted, or -1.
 */
static long long
prune_orphans(PGconn *target, PGconn *scratch)
{
	PGresult *res = pgp_conn_query(target,
		"SELECT pg_catalog.format('DELETE FROM %s c WHERE (%s) IS NOT NULL AND NOT EXISTS "
		"(SELECT 1 FROM %s p WHERE (%s) = (%s))', con.conrelid::pg_catalog.regclass, "
		" (SELECT pg_catalog.string_agg('c.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.i) "
		"  FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_catalog.pg_attribute a "
		"  ON a.attrelid = con.conrelid AND a.attnum = k.n), con.confrelid::pg_catalog.regclass, "
		" (SELECT pg_catalog.string_agg('p.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.i) "
		"  FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, i) JOIN pg_catalog.pg_attribute a "
		"  ON a.attrelid = con.confrelid AND a.attnum = k.n), "
		" (SELECT pg_catalog.string_agg('c.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.i) "
		"  FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_catalog.pg_attribute a "
		"  ON a.attrelid = con.conrelid AND a.attnum = k.n)) "
		"FROM pg_catalog.pg_constraint con WHERE con.contype = 'f' AND con.conparentid = 0", 0, NULL);
	long long total = 0, pass;

	if (!res)
		return -1;
	for (int round = 0; round < 20; round++) {
		pass = 0;
		for (int i = 0; i < PQntuples(res); i++) {
			PGresult *d = PQexec(scratch, PQgetvalue(res, i, 0));

			if (PQresultStatus(d) != PGRES_COMMAND_OK) {
				pgp_error("cannot remove rows without a parent on the copy: %s", PQerrorMessage(scratch));
				PQclear(d);
				PQclear(res);
				return -1;
			}
			pass += atoll(PQcmdTuples(d));
			PQclear(d);
		}
		total += pass;
		if (pass == 0)
			break;
	}
	PQclear(res);
	return total;
}

/* The sequences' positions (pg_dump's data section, which a row limit skips). */
static int
copy_sequences(PGconn *target, PGconn *scratch)
{
	PGresult *res = pgp_conn_query(target,
		"SELECT pg_catalog.format('SELECT pg_catalog.setval(%L, %s, true)', "
		" pg_catalog.format('%I.%I', schemaname, sequencename), last_value) "
		"FROM pg_catalog.pg_sequences WHERE last_value IS NOT NULL", 0, NULL);
	int rc = res ? 0 : -1;

	for (int i = 0; res && i < PQntuples(res) && rc == 0; i++) {
		PGresult *r2 = PQexec(scratch, PQgetvalue(res, i, 0));

		if (PQresultStatus(r2) != PGRES_TUPLES_OK)
			rc = pgp_fail("cannot set a sequence on the copy: %s", PQerrorMessage(scratch));
		PQclear(r2);
	}
	PQclear(res);
	return rc;
}

/* pgp-backup, next to our own executable: restore its latest backup. */
static int
restore_backup(PGconn *target, PGconn *admin, const char *dbname, const struct mc_copy_opts *o)
{
	struct pgp_childconn cc = {0};
	char self[PATH_MAX], prog[PATH_MAX + 16], *slash;
	const char *env[2] = {NULL, NULL};
	struct pgp_spawn_opts opts = {.env = env};
	struct pgp_child *child;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc;

	if (n <= 0)
		return pgp_fail("cannot find our own executable: %s", strerror(errno));
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return pgp_fail("cannot tell the directory of %s", self);
	*slash = '\0';
	snprintf(prog, sizeof(prog), "%s/pgp-backup", self);
	if (pgp_childconn_write(admin, NULL, &cc) < 0)
		return -1;
	env[0] = cc.env;
	{
		char *argv[16] = {prog, (char *) "restore", (char *) "latest", (char *) "-q", (char *) "--no-owner",
				  (char *) "-d", cc.conninfo, (char *) "--database", (char *) dbname,
				  (char *) "--from", PQdb(target)};
		int argc = 11;

		/* The identity's path, never the key: pgp-backup reads the file itself. */
		if (o->identity) {
			argv[argc++] = (char *) "--identity";
			argv[argc++] = (char *) o->identity;
		}
		if (o->config_path) {
			argv[argc++] = (char *) "-c";
			argv[argc++] = (char *) o->config_path;
		}
		argv[argc] = NULL;
		child = pgp_spawn_start(argv, &opts);
	}
	if (child)
		child_pid[0] = pgp_spawn_pid(child);
	rc = pgp_spawn_finish(child);
	child_pid[0] = 0;
	pgp_childconn_remove(&cc);
	if (rc < 0)
		pgp_hint("--from-backup restores pgp-backup's latest backup of database \"%s\" (pgp-backup list)",
			 PQdb(target));
	return rc;
}

static int
fill(PGconn *target, const struct pgp_connspec *spec, struct mc_scratch *s, const struct mc_copy_opts *o,
     char *how, size_t size)
{
	const char *db = PQdb(target);

	if (o->from_backup) {
		if (restore_backup(target, s->admin, s->dbname, o) < 0)
			return -1;
		snprintf(how, size, "pgp-backup's latest backup of database \"%s\" (schema and rows as backed up)", db);
		return 0;
	}
	if (o->schema_only) {
		snprintf(how, size, "schema only (no rows) of database \"%s\", pg_dump --schema-only | pg_restore", db);
		return dump_restore(target, s->admin, s->dbname, "--schema-only");
	}
	if (o->row_limit <= 0) {
		snprintf(how, size, "schema and every row of database \"%s\", pg_dump | pg_restore", db);
		return dump_restore(target, s->admin, s->dbname, NULL);
	}
	{
		PGconn *c = pgp_conn_open(spec, s->dbname);
		long long pruned;
		int rc;

		if (!c)
			return -1;
		rc = dump_restore(target, s->admin, s->dbname, "--section=pre-data");
		if (rc == 0)
			rc = copy_limited(target, c, o->row_limit);
		if (rc == 0)
			rc = copy_sequences(target, c);
		pruned = rc == 0 ? prune_orphans(target, c) : -1;
		PQfinish(c);
		if (pruned < 0)
			return -1;
		snprintf(how, size, "schema and at most %lld rows per table of database \"%s\" (%lld rows without "
			 "their parent row left out so that every foreign key holds)", o->row_limit, db, pruned);
		return dump_restore(target, s->admin, s->dbname, "--section=post-data");
	}
}

int
mc_scratch_create(PGconn *target, const struct pgp_connspec *target_spec, const struct mc_copy_opts *o,
		  struct mc_scratch *s, struct mc_report *r)
{
	struct pgp_connspec spec = *target_spec;
	char how[512], where[256];
	double t0 = now_s();
	int rc;

	memset(s, 0, sizeof(*s));
	if (o->scratch_conninfo) {
		spec.conninfo = o->scratch_conninfo;
		spec.target = NULL;
	}
	spec.pooled = 0;
	if (mc_inv_target_read(target) < 0)
		return PGP_EXIT_FAILED;
	if (!(s->admin = pgp_conn_open(&spec, NULL))) {
		if (o->scratch_conninfo)
			pgp_hint("that is the --scratch server (migrate_check.scratch), where the copy is made");
		return PGP_EXIT_UNREACHABLE;
	}
	snprintf(s->server, sizeof(s->server), "%s", pgp_conn_where(s->admin, where, sizeof(where)));
	if (check_createdb(s->admin, o) < 0) {
		mc_scratch_drop(s);
		return PGP_EXIT_USAGE;
	}
	sweep(s->admin);
	snprintf(s->dbname, sizeof(s->dbname), "pgp_mc_%lld_%ld", (long long) time(NULL), (long) getpid());
	/* pgp-backup restore creates the database itself. */
	if (!o->from_backup && create_db(target, s->admin, s->dbname) < 0) {
		s->dbname[0] = '\0';
		mc_scratch_drop(s);
		return PGP_EXIT_FAILED;
	}
	cancel_for(s->admin);
	rc = fill(target, &spec, s, o, how, sizeof(how));
	if (rc < 0 || got_signal) {
		pgp_error("could not make the scratch copy %s on %s%s", s->dbname, s->server,
			  got_signal ? ": interrupted" : "");
		mc_scratch_drop(s);
		return PGP_EXIT_FAILED;
	}
	if (!(s->conn = pgp_conn_open(&spec, s->dbname)) ||
	    /* The migrations see the role's and database's own search_path. */
	    pgp_conn_exec(s->conn, "RESET search_path") < 0) {
		mc_scratch_drop(s);
		return PGP_EXIT_FAILED;
	}
	cancel_for(s->conn);
	free(r->copy_note);
	if (asprintf(&r->copy_note, "%s into scratch database %s on %s, made in %.1f s", how, s->dbname,
		     s->server, now_s() - t0) < 0)
		r->copy_note = NULL;
	return 0;
}

void
mc_scratch_drop(struct mc_scratch *s)
{
	cancel_for(NULL);
	pgp_conn_close(s->conn);
	s->conn = NULL;
	if (s->admin && s->dbname[0]) {
		char *sql;

		if (PQstatus(s->admin) != CONNECTION_OK)
			PQreset(s->admin);
		/* FORCE: a connection of ours a cancel left behind must not keep it. */
		sql = pgp_sql_build(s->admin, PQserverVersion(s->admin) >= 130000 ?
				    "DROP DATABASE IF EXISTS %I WITH (FORCE)" : "DROP DATABASE IF EXISTS %I", s->dbname);
		if (exec_sql(s->admin, sql) < 0)
			pgp_warning("could not drop scratch database %s on %s: drop it by hand", s->dbname, s->server);
		else
			pgp_debug("dropped scratch database %s", s->dbname);
	}
	s->dbname[0] = '\0';
	pgp_conn_close(s->admin);
	s->admin = NULL;
}
