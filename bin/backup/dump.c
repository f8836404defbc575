/*
 * Taking a backup.  pg_dump -Fc -Z0 runs in a snapshot this process
 * exported, its output streams through the compressor (compress.c) and
 * SHA-256 into the repository with no full-size temporary file, and the
 * per-table row counts are taken in the same snapshot.  The manifest is
 * written last: until it exists the backup does not, so a failure at any
 * step leaves nothing that list, restore or prune would take for a backup.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive.h"
#include "childconn.h"
#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "pgbin.h"
#include "log.h"
#include "spawn.h"
#include "stream.h"
#include "sql.h"
#include "version.h"

const char *
pg_tool(const struct backup_ctx *ctx, const char *name, int server_version)
{
	static char path[1024];
	struct pgp_pgbin where = {NULL, ctx->pg_bindir, NULL, server_version / 10000};

	/* pg_dump must be at least the server's version: its major's directory first. */
	return pgp_pgbin_find(&where, name, path, sizeof(path)) == 0 ? path : NULL;
}

static int
stream_out(void *arg, const void *data, size_t len)
{
	return stream_feed(arg, data, len);
}

/*
 * Run argv with its stdout into a stream to the repository object name;
 * the child connects through cc (a private service file), so no secret
 * is in its argv or environment.  0, or -1 (logged).
 */
static int
stream_command(struct backup_ctx *ctx, char *const argv[], const struct pgp_childconn *cc, const char *name,
	       struct object_info *info, struct archive_scan *scan)
{
	const char *env[] = {cc->env, NULL};
	struct pgp_spawn_opts opts = {.out = PGP_SPAWN_PIPE, .env = env};
	struct pgp_child *child;
	struct stream s;
	char buf[65536];
	ssize_t n;
	int failed = 0;

	if (stream_open(ctx, &s, name, ctx->compression, ctx->compress_level, 0) < 0)
		return -1;
	child = pgp_spawn_start(argv, &opts);
	if (!child) {
		stream_close(&s, 0, info);
		return -1;
	}
	/* A bigger pipe: fewer switches between pg_dump's writes and our reads. */
	fcntl(pgp_spawn_stdout(child), F_SETPIPE_SZ, 1 << 20);
	/* The scan passes the archive on with its rows merged into 64 KiB chunks. */
	if (scan)
		archive_scan_rewrite(scan, stream_out, &s);
	while ((n = pgp_spawn_read(child, buf, sizeof(buf))) > 0) {
		if (failed)
			continue;	/* pg_dump is being stopped: drain its pipe */
		if ((scan ? archive_scan_feed(scan, buf, (size_t) n) : stream_feed(&s, buf, (size_t) n)) < 0) {
			failed = 1;
			/* Stop the producer: nothing it writes can be stored. */
			pgp_spawn_stop(child);
		}
	}
	if (n < 0 && !failed) {
		failed = 1;
		pgp_spawn_stop(child);
	}
	if (!failed && scan && archive_scan_end(scan) < 0)
		failed = 1;
	if (pgp_spawn_finish(child) < 0)
		failed = 1;
	return stream_close(&s, !failed, info);
}

/* The role pgp-create's backup role dumps as: <db>_owner, for <db>_backup. */
static char *
detect_role(PGconn *conn)
{
	PGresult *res = PQexec(conn,
		"SELECT g.rolname FROM pg_catalog.pg_auth_members m"
		" JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
		" JOIN pg_catalog.pg_roles u ON u.oid = m.member"
		" WHERE u.rolname = current_user AND current_user::text LIKE '%\\_backup'"
		" AND g.rolname = regexp_replace(current_user::text, '_backup$', '_owner')");
	char *role = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		role = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return role;
}

/* Row counts of every table, in the dump's snapshot. */
static struct json_object *
count_rows(PGconn *conn)
{
	PGresult *res = pgp_conn_query(conn,
		"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
		" AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
		" ORDER BY 1, 2", 0, NULL);
	struct json_object *tables = json_object_new_array();

	if (!res)
		return NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		char *sql = pgp_sql_build(conn, "SELECT count(*) FROM %I.%I", PQgetvalue(res, i, 0),
					  PQgetvalue(res, i, 1));
		PGresult *c = sql ? pgp_conn_query(conn, sql, 0, NULL) : NULL;
		struct json_object *t = json_object_new_object();

		free(sql);
		if (!c) {
			json_object_put(t);
			json_object_put(tables);
			PQclear(res);
			return NULL;
		}
		json_object_object_add(t, "schema", pgp_json_cstring(PQgetvalue(res, i, 0)));
		json_object_object_add(t, "table", pgp_json_cstring(PQgetvalue(res, i, 1)));
		json_object_object_add(t, "rows", json_object_new_int64(atoll(PQgetvalue(c, 0, 0))));
		json_object_array_add(tables, t);
		PQclear(c);
	}
	PQclear(res);
	return tables;
}

static void
rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct json_object *
object_json(const struct object_info *o)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "name", pgp_json_cstring(o->name));
	json_object_object_add(j, "size", json_object_new_int64((long long) o->size));
	json_object_object_add(j, "raw_size", json_object_new_int64((long long) o->raw_size));
	json_object_object_add(j, "sha256", pgp_json_cstring(o->sha256));
	return j;
}

static const char *
dump_format(const struct backup_ctx *ctx)
{
	static const char *const names[3][2] = {
		{"pg_dump -Fc -Z0, zstd-compressed", "pg_dump -Fc -Z0, zstd-compressed, age-encrypted"},
		{"pg_dump -Fc -Z0, gzip-compressed", "pg_dump -Fc -Z0, gzip-compressed, age-encrypted"},
		{"pg_dump -Fc -Z0, not compressed", "pg_dump -Fc -Z0, not compressed, age-encrypted"},
	};

	return names[ctx->compression][ctx->nrecipients > 0];
}

/* The contents object's text: what an unencrypted manifest says of the tables. */
static char *
contents_text(struct json_object *tables, const char *rows_from)
{
	struct json_object *c = json_object_new_object();
	char *text;

	json_object_object_add(c, "format", pgp_json_cstring(CONTENTS_FORMAT));
	json_object_object_add(c, "tables", json_object_get(tables));
	/* "archive": counted in the dump as it streamed; "sql": count(*) in its snapshot. */
	json_object_object_add(c, "rows_counted_from", pgp_json_cstring(rows_from));
	if (asprintf(&text, "%s\n", json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		text = NULL;
	json_object_put(c);
	return text;
}

static char *
manifest_text(const struct backup_ctx *ctx, PGconn *conn, const char *id, const char *db,
	      time_t start, time_t end, const struct object_info *objs, int nobjs,
	      struct json_object *tables, const char *role, const char *rows_from)
{
	struct json_object *m = json_object_new_object(), *list = json_object_new_array();
	struct json_object *comp = json_object_new_object();
	char t[32];
	char *text;

	json_object_object_add(m, "format", pgp_json_cstring("pgp-backup/1"));
	json_object_object_add(m, "id", pgp_json_cstring(id));
	json_object_object_add(m, "database", pgp_json_cstring(db));
	json_object_object_add(m, "server_version", pgp_json_cstring(PQparameterStatus(conn, "server_version")));
	rfc3339(start, t, sizeof(t));
	json_object_object_add(m, "start_time", pgp_json_cstring(t));
	rfc3339(end, t, sizeof(t));
	json_object_object_add(m, "end_time", pgp_json_cstring(t));
	json_object_object_add(m, "duration_s", json_object_new_int64((long long) (end - start)));
	json_object_object_add(m, "tool", pgp_json_cstring("pgp-backup " PGP_VERSION));
	json_object_object_add(comp, "algorithm", pgp_json_cstring(compression_name(ctx->compression)));
	json_object_object_add(comp, "level", json_object_new_int(ctx->compress_level));
	json_object_object_add(m, "compression", comp);
	json_object_object_add(m, "dump_format", pgp_json_cstring(dump_format(ctx)));
	json_object_object_add(m, "encryption", keys_encryption_json(ctx));
	json_object_object_add(m, "role", pgp_json_cstring(role));
	for (int i = 0; i < nobjs; i++)
		json_object_array_add(list, object_json(&objs[i]));
	json_object_object_add(m, "objects", list);
	/* Encrypted: the tables are in the contents object, never in the clear. */
	if (!ctx->nrecipients) {
		json_object_object_add(m, "tables", json_object_get(tables));
		json_object_object_add(m, "rows_counted_from", pgp_json_cstring(rows_from));
	}
	json_object_object_add(m, "status", pgp_json_cstring("ok"));
	if (asprintf(&text, "%s\n", json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		text = NULL;
	json_object_put(m);
	return text;
}

/* A new id: the UTC time, one second later when that one is taken. */
static void
new_id(struct backup_ctx *ctx, const char *db, time_t *when, char *id, size_t size)
{
	for (;;) {
		struct tm tm;
		char name[256];
		char *data;
		size_t len;

		*when = time(NULL);
		gmtime_r(when, &tm);
		strftime(id, size, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(name, sizeof(name), "%s/%s/%s", db, id, MANIFEST);
		if (repo_read_all(ctx->repo, name, &data, &len) != 0)
			return;
		free(data);
		sleep(1);
	}
}

/* The name of this backup's object of kind, as its compression has it. */
static const char *
object_name(const struct backup_ctx *ctx, enum object_kind kind)
{
	return manifest_object_for(kind, compression_name(ctx->compression), ctx->nrecipients > 0)->name;
}

/* Remove the objects of a failed backup: nothing partial stays visible. */
static void
remove_objects(struct backup_ctx *ctx, const char *db, const char *id)
{
	/* The manifest first: a PUT that timed out may still have stored it. */
	const char *names[] = {MANIFEST, object_name(ctx, OBJECT_DUMP), object_name(ctx, OBJECT_GLOBALS),
		ctx->nrecipients ? object_name(ctx, OBJECT_CONTENTS) : NULL};
	char name[256];

	repo_cleanup(ctx->repo, 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && names[i]; i++) {
		snprintf(name, sizeof(name), "%s/%s/%s", db, id, names[i]);
		repo_delete(ctx->repo, name);
	}
	repo_cleanup(ctx->repo, 0);
}

/*
 * Before the manifest makes them a backup: are the objects still there,
 * whole?  A prune from another host (or state directory) may have taken
 * them for leftovers.  0, or -1 (logged).
 */
static int
objects_present(struct backup_ctx *ctx, const char *db, const char *id, const struct object_info *objs, int n)
{
	struct repo_entry *entries;
	size_t count;
	char prefix[256];
	int found = 0;

	snprintf(prefix, sizeof(prefix), "%s/%s", db, id);
	if (repo_list(ctx->repo, prefix, &entries, &count) < 0)
		return -1;
	for (int k = 0; k < n; k++)
		for (size_t i = 0; i < count; i++) {
			const char *slash = strrchr(entries[i].name, '/');

			if (slash && !strcmp(slash + 1, objs[k].name) && entries[i].size == objs[k].size) {
				found++;
				break;
			}
		}
	repo_entries_free(entries, count);
	if (found != n)
		return pgp_fail("backup %s: its objects vanished while it ran (a prune of another host or "
				"state directory?): no manifest is written", id);
	return 0;
}

static int
take(struct backup_ctx *ctx, PGconn *conn, const char *db, char *error, size_t esize)
{
	char id[32], snapshot[128], name[256];
	struct pgp_childconn cc = {0};
	struct object_info objs[3];
	struct json_object *tables = NULL;
	struct archive_scan *scan = archive_scan_new();
	char *role = ctx->role ? strdup(ctx->role) : detect_role(conn), *manifest = NULL, *contents = NULL;
	int version = PQserverVersion(conn), rc = -1, nobjs = 2;
	const char *rows_from = "sql";
	time_t start, end;
	PGresult *res;

	new_id(ctx, db, &start, id, sizeof(id));
	if (pgp_conn_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") < 0)
		goto done;
	if (role) {
		char *sql = pgp_sql_build(conn, "SET LOCAL ROLE %I", role);

		if (!sql || pgp_conn_exec(conn, sql) < 0) {
			free(sql);
			goto done;
		}
		free(sql);
	}
	res = pgp_conn_query(conn, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
	if (!res)
		goto done;
	snprintf(snapshot, sizeof(snapshot), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (pgp_childconn_write(conn, NULL, &cc) < 0)
		goto done;
	pgp_info("backup %s of %s into %s%s%s", id, db, repo_url(ctx->repo), role ? " as role " : "",
		 role ? role : "");
	{
		char snaparg[160], rolearg[200];
		char *argv[] = {(char *) pg_tool(ctx, "pg_dump", version), (char *) "-Fc", (char *) "-Z0",
			snaparg, (char *) "-d", cc.conninfo, role ? rolearg : NULL, NULL};

		if (!argv[0])
			goto fail;
		snprintf(snaparg, sizeof(snaparg), "--snapshot=%s", snapshot);
		snprintf(rolearg, sizeof(rolearg), "--role=%s", role ? role : "");
		snprintf(name, sizeof(name), "%s/%s/%s", db, id, object_name(ctx, OBJECT_DUMP));
		if (stream_command(ctx, argv, &cc, name, &objs[0], scan) < 0)
			goto fail;
	}
	/* Rows as dumped, read from the archive; SQL in the same snapshot otherwise. */
	rows_from = scan && !archive_scan_failed(scan) ? "archive" : "sql";
	tables = *rows_from == 'a' ? archive_scan_tables(scan) : count_rows(conn);
	if (!tables)
		goto fail;
	pgp_conn_exec(conn, "COMMIT");
	{
		char *argv[] = {(char *) pg_tool(ctx, "pg_dumpall", version), (char *) "--globals-only",
			(char *) "--no-role-passwords", (char *) "-d", cc.conninfo, (char *) "-l", (char *) db, NULL};

		if (!argv[0])
			goto fail;
		/* pg_dumpall reads globals through the database pg_hba lets us into. */
		snprintf(name, sizeof(name), "%s/%s/%s", db, id, object_name(ctx, OBJECT_GLOBALS));
		if (stream_command(ctx, argv, &cc, name, &objs[1], NULL) < 0)
			goto fail;
	}
	if (ctx->nrecipients) {
		snprintf(name, sizeof(name), "%s/%s/%s", db, id, object_name(ctx, OBJECT_CONTENTS));
		contents = contents_text(tables, rows_from);
		if (!contents || stream_text(ctx, name, contents, &objs[nobjs++]) < 0)
			goto fail;
	}
	end = time(NULL);
	if (objects_present(ctx, db, id, objs, nobjs) < 0)
		goto fail;
	manifest = manifest_text(ctx, conn, id, db, start, end, objs, nobjs, tables, role, rows_from);
	snprintf(name, sizeof(name), "%s/%s/%s", db, id, MANIFEST);
	if (!manifest || repo_put(ctx->repo, name, manifest, strlen(manifest)) < 0)
		goto fail;
	if (!ctx->common->format || strcmp(ctx->common->format, "json") != 0) {
		if (pgp_log_enabled(PGP_LOG_INFO))
			printf("backup %s of %s: %llu bytes (%llu before compression) in %lld s%s\n", id, db,
			       objs[0].size + objs[1].size, objs[0].raw_size + objs[1].raw_size,
			       (long long) (end - start), ctx->nrecipients ? ", encrypted" : "");
	} else
		printf("%s\n", manifest);
	/* pgp-alert reads the state file: a stale one must not pass silently. */
	if (state_write(ctx, db, "ok", id, NULL) < 0) {
		pgp_error("backup %s is stored and complete, but the state file was not updated", id);
		ctx->state_failed = 1;
	}
	rc = 0;
	goto done;
fail:
	remove_objects(ctx, db, id);
done:
	if (rc < 0)
		snprintf(error, esize, "%s", *pgp_log_last_error() ? pgp_log_last_error() : "backup failed");
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	pgp_childconn_remove(&cc);
	json_object_put(tables);
	archive_scan_free(scan);
	free(manifest);
	free(contents);
	free(role);
	return rc;
}

/*
 * The database a connection spec names, found as libpq finds it
 * (services, PGDATABASE, the user name) without waiting for a server, once
 * pgp_conn_open has set up the environment: a run that cannot connect
 * still knows whose state file to write.  0 or -1.
 */
static int
spec_database(const struct backup_ctx *ctx, char *db, size_t size)
{
	PGconn *c;

	if (ctx->database) {
		snprintf(db, size, "%s", ctx->database);
		return 0;
	}
	c = PQconnectStart(ctx->spec.conninfo);
	snprintf(db, size, "%s", c && PQdb(c) ? PQdb(c) : "");
	PQfinish(c);
	return *db ? 0 : -1;
}

/* A failure before or during the dump: recorded, and its exit status. */
static int
record_failure(struct backup_ctx *ctx, const char *db, int status)
{
	const char *error = *pgp_log_last_error() ? pgp_log_last_error() : "backup failed";

	if (state_write(ctx, db, "failed", NULL, error) < 0)
		pgp_error("the state file of %s was not updated either", db);
	return status;
}

int
backup_run(struct backup_ctx *ctx)
{
	PGconn *conn;
	char db[128], error[256] = "", probe[256];
	int lock, rc;

	if (!ctx->have_spec) {
		pgp_error("backup needs a database: -d CONNINFO, -t TARGET or backup.target");
		return PGP_EXIT_USAGE;
	}
	conn = pgp_conn_open(&ctx->spec, ctx->database);
	if (!conn)
		return spec_database(ctx, db, sizeof(db)) == 0 ? record_failure(ctx, db, PGP_EXIT_UNREACHABLE)
			: PGP_EXIT_UNREACHABLE;
	snprintf(db, sizeof(db), "%s", PQdb(conn));
	/* A cron overlap: the second run stops at once. */
	rc = lock_take(ctx, db, "backup", 0, &lock);
	if (rc != PGP_EXIT_OK) {
		pgp_conn_close(conn);
		return rc;
	}
	/* Know that the repository takes writes before a long dump. */
	snprintf(probe, sizeof(probe), "%s/.pgp-write-test", db);
	if (repo_probe(ctx->repo, probe) < 0) {
		pgp_conn_close(conn);
		close(lock);
		return record_failure(ctx, db, repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED);
	}
	rc = take(ctx, conn, db, error, sizeof(error));
	pgp_conn_close(conn);
	if (rc < 0) {
		state_write(ctx, db, "failed", NULL, error);
		close(lock);
		return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
	}
	/* Retention runs only after a good backup, never after a failed one.
	 * Its findings (a manifest it cannot trust) are this run's exit status:
	 * the backup itself is good and recorded so. */
	rc = ctx->prune_after ? catalog_prune(ctx, db) : PGP_EXIT_OK;
	close(lock);
	return ctx->state_failed ? PGP_EXIT_FAILED : rc;
}
