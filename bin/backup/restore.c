/*
 * Reading backups back: verify re-reads every object and checks its size
 * and SHA-256 against the manifest (and with --restore-test restores into
 * a scratch database and compares row counts); restore streams the dump
 * through decompression into pg_restore, or downloads it first when
 * pg_restore is to run in parallel.  Both hold a shared "read" lock, so
 * prune never deletes what they read.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "sql.h"

/* Reads an object: hash and count it, optionally inflate into fd. */
struct reader {
	EVP_MD_CTX *md;
	unsigned long long size;
	z_stream z;
	int inflating, out_fd, failed;
	unsigned char buf[256 * 1024];
};

static int
write_fd(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

static int
reader_sink(void *arg, const void *data, size_t len)
{
	struct reader *r = arg;

	EVP_DigestUpdate(r->md, data, len);
	r->size += len;
	if (!r->inflating)
		return 0;
	r->z.next_in = (unsigned char *) data;
	r->z.avail_in = (unsigned) len;
	while (r->z.avail_in > 0) {
		int zrc;

		r->z.next_out = r->buf;
		r->z.avail_out = sizeof(r->buf);
		zrc = inflate(&r->z, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END) {
			r->failed = 1;
			return pgp_fail("the dump does not decompress (%s): the object is corrupt",
					r->z.msg ? r->z.msg : "zlib error");
		}
		if (write_fd(r->out_fd, r->buf, sizeof(r->buf) - r->z.avail_out) < 0) {
			r->failed = 1;
			return pgp_fail("cannot pass the dump on: %s", strerror(errno));
		}
		if (zrc == Z_STREAM_END)
			break;
	}
	return 0;
}

static const char *
manifest_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Read one object of a backup, compare with its manifest entry; 0, 1 on mismatch, -1 error. */
static int
check_object(struct backup_ctx *ctx, const struct backup_info *b, struct json_object *entry, int out_fd)
{
	struct reader r;
	char name[256], hex[65];
	unsigned char d[32];
	const char *obj = manifest_string(entry, "name");
	unsigned long long want = (unsigned long long) json_object_get_int64(json_object_object_get(entry, "size"));
	int rc;

	memset(&r, 0, sizeof(r));
	r.md = EVP_MD_CTX_new();
	if (!r.md || !EVP_DigestInit_ex(r.md, EVP_sha256(), NULL))
		return pgp_fail("out of memory");
	if (out_fd >= 0) {
		r.inflating = 1;
		r.out_fd = out_fd;
		if (inflateInit2(&r.z, 15 + 16) != Z_OK) {
			EVP_MD_CTX_free(r.md);
			return pgp_fail("zlib: cannot start decompression");
		}
	}
	snprintf(name, sizeof(name), "%s/%s/%s", b->database, b->id, obj);
	rc = repo_read(ctx->repo, name, reader_sink, &r);
	EVP_DigestFinal_ex(r.md, d, NULL);
	EVP_MD_CTX_free(r.md);
	if (r.inflating)
		inflateEnd(&r.z);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	if (rc == 1) {
		pgp_error("backup %s: object %s is missing", b->id, obj);
		return 1;
	}
	if (rc < 0)
		return r.failed ? 1 : -1;
	if (r.size != want || strcmp(hex, manifest_string(entry, "sha256")) != 0) {
		pgp_error("backup %s: object %s does not match its manifest (%llu bytes, sha256 %.12s..., "
			  "manifest: %llu bytes, sha256 %.12s...)", b->id, obj, r.size, hex, want,
			  manifest_string(entry, "sha256"));
		return 1;
	}
	return 0;
}

static PGconn *
admin_connection(struct backup_ctx *ctx)
{
	if (!ctx->have_spec) {
		pgp_error("this needs a server: -d CONNINFO or -t TARGET");
		return NULL;
	}
	return pgp_conn_open(&ctx->spec, NULL);
}

/* Create target, or check that it is empty (unless --clean). */
static int
prepare_target(struct backup_ctx *ctx, PGconn *admin, const char *target)
{
	const char *params[1] = {target};
	PGresult *res = pgp_conn_query(admin, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, params);
	int exists, rc = 0;

	if (!res)
		return -1;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (!exists) {
		char *sql = pgp_sql_build(admin, "CREATE DATABASE %I TEMPLATE template0", target);

		rc = sql ? pgp_conn_exec(admin, sql) : -1;
		free(sql);
		return rc;
	}
	{
		PGconn *db = pgp_conn_open(&ctx->spec, target);
		long long objects = 0;

		if (!db)
			return -1;
		res = pgp_conn_query(db, "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
				     " ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog',"
				     " 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'", 0, NULL);
		if (res)
			objects = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		pgp_conn_close(db);
		if (!res)
			return -1;
		if (objects > 0 && !ctx->clean) {
			pgp_error("database \"%s\" is not empty (%lld relations): refusing to restore into it",
				  target, objects);
			pgp_hint("give --clean to drop and recreate its objects, or restore into a new database");
			return -2;
		}
	}
	return 0;
}

/* Start pg_restore reading from a pipe (file == NULL) or a file. */
static pid_t
start_pg_restore(struct backup_ctx *ctx, PGconn *admin, const char *target, const char *file, int *pipe_w)
{
	char conninfo[4096], jobs[16];
	char *argv[16];
	int n = 0, pfd[2] = {-1, -1}, needs_pw = child_env_for(admin, conninfo, sizeof(conninfo), target);
	const char *password = needs_pw > 0 ? PQpass(admin) : NULL;
	pid_t pid;

	if (needs_pw < 0 || (!file && pipe(pfd) != 0)) {
		pgp_error("cannot set up pg_restore");
		return -1;
	}
	argv[n++] = (char *) pg_tool(ctx, "pg_restore", PQserverVersion(admin));
	argv[n++] = (char *) "--exit-on-error";
	argv[n++] = (char *) "-d";
	argv[n++] = conninfo;
	if (ctx->clean) {
		argv[n++] = (char *) "--clean";
		argv[n++] = (char *) "--if-exists";
	}
	if (ctx->no_owner)
		argv[n++] = (char *) "--no-owner";
	if (file && ctx->jobs > 1) {
		snprintf(jobs, sizeof(jobs), "--jobs=%d", ctx->jobs);
		argv[n++] = jobs;
	}
	if (file)
		argv[n++] = (char *) file;
	argv[n] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (!file) {
			dup2(pfd[0], 0);
			close(pfd[1]);
		}
		if (password)
			setenv("PGPASSWORD", password, 1);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (!file)
		close(pfd[0]);
	if (pid < 0) {
		if (!file)
			close(pfd[1]);
		pgp_error("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (pipe_w)
		*pipe_w = pfd[1];
	return pid;
}

static int
wait_ok(pid_t pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return pgp_fail("%s failed (%s %d)", what, WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static struct json_object *
find_object(const struct backup_info *b, const char *name)
{
	struct json_object *objs = json_object_object_get(b->manifest, "objects");

	for (size_t i = 0; objs && i < json_object_array_length(objs); i++)
		if (!strcmp(manifest_string(json_object_array_get_idx(objs, i), "name"), name))
			return json_object_array_get_idx(objs, i);
	return NULL;
}

/* Download, check and decompress the dump into a file in tmp_dir (--jobs). */
static int
download(struct backup_ctx *ctx, const struct backup_info *b, char *path, size_t size)
{
	struct json_object *dump = find_object(b, DUMP_OBJECT);
	unsigned long long raw = (unsigned long long) json_object_get_int64(json_object_object_get(dump, "raw_size"));
	struct statvfs vfs;
	int fd, rc;

	snprintf(path, size, "%s/pgp-restore.XXXXXX", ctx->tmp_dir);
	if (statvfs(ctx->tmp_dir, &vfs) == 0 && (unsigned long long) vfs.f_bavail * vfs.f_frsize < raw + raw / 10)
		return pgp_fail("not enough room in %s for the %llu-byte dump (--jobs downloads it first); "
				"set TMPDIR or restore without --jobs", ctx->tmp_dir, raw);
	fd = mkstemp(path);
	if (fd < 0)
		return pgp_fail("cannot create a file in %s: %s", ctx->tmp_dir, strerror(errno));
	rc = check_object(ctx, b, dump, fd);
	if (close(fd) != 0 || rc != 0) {
		unlink(path);
		return rc == 1 ? 1 : -1;
	}
	return 0;
}

/* Restore b into target; 0, 1 when the backup is corrupt, -1, -2 refused. */
static int
restore_into(struct backup_ctx *ctx, PGconn *admin, const struct backup_info *b, const char *target)
{
	struct json_object *dump = find_object(b, DUMP_OBJECT);
	char file[1024];
	int pipe_w = -1, rc;
	pid_t pid;

	if (!dump)
		return pgp_fail("backup %s: the manifest lists no %s", b->id, DUMP_OBJECT);
	rc = prepare_target(ctx, admin, target);
	if (rc < 0)
		return rc;
	if (ctx->jobs > 1) {
		rc = download(ctx, b, file, sizeof(file));
		if (rc != 0)
			return rc;
		pid = start_pg_restore(ctx, admin, target, file, NULL);
		rc = pid < 0 ? -1 : wait_ok(pid, "pg_restore");
		unlink(file);
		return rc;
	}
	pid = start_pg_restore(ctx, admin, target, NULL, &pipe_w);
	if (pid < 0)
		return -1;
	rc = check_object(ctx, b, dump, pipe_w);
	close(pipe_w);
	if (wait_ok(pid, "pg_restore") < 0 && rc == 0)
		rc = -1;
	return rc;
}

/* Row counts of the restored copy against the manifest's. */
static int
compare_rows(struct backup_ctx *ctx, const struct backup_info *b, const char *target)
{
	struct json_object *tables = json_object_object_get(b->manifest, "tables");
	PGconn *db = pgp_conn_open(&ctx->spec, target);
	int bad = 0;

	if (!db)
		return -1;
	for (size_t i = 0; tables && i < json_object_array_length(tables); i++) {
		struct json_object *t = json_object_array_get_idx(tables, i);
		char *sql = pgp_sql_build(db, "SELECT count(*) FROM %I.%I", manifest_string(t, "schema"),
					  manifest_string(t, "table"));
		PGresult *res = sql ? pgp_conn_query(db, sql, 0, NULL) : NULL;
		long long want = json_object_get_int64(json_object_object_get(t, "rows"));

		free(sql);
		if (!res || atoll(PQgetvalue(res, 0, 0)) != want) {
			pgp_error("restore test of %s: table %s.%s has %s rows, the manifest says %lld", b->id,
				  manifest_string(t, "schema"), manifest_string(t, "table"),
				  res ? PQgetvalue(res, 0, 0) : "no", want);
			bad++;
		}
		PQclear(res);
	}
	pgp_conn_close(db);
	return bad ? 1 : 0;
}

/*
 * Find backup id: its index, or an exit status as a negative number: no
 * such backup is the caller's mistake (2), an unreadable repository a
 * failure (5).
 */
static int
load_one(struct backup_ctx *ctx, const char *id, struct backup_info **list, size_t *n)
{
	int i;

	if (catalog_load(ctx, ctx->database, list, n) < 0)
		return -PGP_EXIT_FAILED;
	i = catalog_find(*list, *n, id);
	if (i < 0) {
		catalog_free(*list, *n);
		return -PGP_EXIT_USAGE;
	}
	return i;
}

int
verify_backup(struct backup_ctx *ctx, const char *id)
{
	struct backup_info *list;
	size_t n;
	struct json_object *objs;
	int i, bad = 0, lock, rc = PGP_EXIT_OK;

	i = load_one(ctx, id, &list, &n);
	if (i < 0)
		return -i;
	lock = lock_take(ctx, list[i].database, "read", 1);
	if (lock < 0) {
		catalog_free(list, n);
		return PGP_EXIT_BUSY;
	}
	objs = json_object_object_get(list[i].manifest, "objects");
	for (size_t k = 0; objs && k < json_object_array_length(objs); k++) {
		int r = check_object(ctx, &list[i], json_object_array_get_idx(objs, k), -1);

		if (r < 0) {
			rc = PGP_EXIT_FAILED;
			break;
		}
		bad += r;
	}
	if (rc == PGP_EXIT_OK && bad)
		rc = PGP_EXIT_FOUND;
	if (rc == PGP_EXIT_OK && ctx->restore_test) {
		PGconn *admin = admin_connection(ctx);
		char scratch[64], *drop;

		snprintf(scratch, sizeof(scratch), "pgp_verify_%s", list[i].id);
		for (char *p = scratch; *p; p++)
			*p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		if (!admin)
			rc = PGP_EXIT_UNREACHABLE;
		else {
			int saved_clean = ctx->clean, r;

			ctx->clean = 0;
			r = restore_into(ctx, admin, &list[i], scratch);
			ctx->clean = saved_clean;
			if (r == 0)
				r = compare_rows(ctx, &list[i], scratch);
			rc = r == 0 ? PGP_EXIT_OK : r == 1 ? PGP_EXIT_FOUND : PGP_EXIT_FAILED;
			drop = pgp_sql_build(admin, "DROP DATABASE IF EXISTS %I", scratch);
			if (!drop || pgp_conn_exec(admin, drop) < 0)
				rc = rc ? rc : PGP_EXIT_FAILED;
			free(drop);
		}
		pgp_conn_close(admin);
	}
	if (rc == PGP_EXIT_OK)
		printf("backup %s of %s: %zu objects match their sizes and SHA-256%s\n", list[i].id,
		       list[i].database, objs ? json_object_array_length(objs) : 0,
		       ctx->restore_test ? "; restored and every table's row count matches" : "");
	close(lock);
	catalog_free(list, n);
	return rc;
}

int
restore_backup(struct backup_ctx *ctx, const char *id, const char *target)
{
	struct backup_info *list;
	size_t n;
	PGconn *admin;
	time_t start = time(NULL);
	int i, lock, r, rc;

	if (!target) {
		pgp_error("restore needs --database NAME, the database to restore into");
		return PGP_EXIT_USAGE;
	}
	i = load_one(ctx, id, &list, &n);
	if (i < 0)
		return -i;
	admin = admin_connection(ctx);
	if (!admin) {
		catalog_free(list, n);
		return PGP_EXIT_UNREACHABLE;
	}
	lock = lock_take(ctx, list[i].database, "read", 1);
	if (lock < 0) {
		pgp_conn_close(admin);
		catalog_free(list, n);
		return PGP_EXIT_BUSY;
	}
	r = restore_into(ctx, admin, &list[i], target);
	rc = r == 0 ? PGP_EXIT_OK : r == 1 ? PGP_EXIT_FOUND : r == -2 ? PGP_EXIT_USAGE : PGP_EXIT_FAILED;
	if (rc == PGP_EXIT_OK) {
		struct json_object *tables = json_object_object_get(list[i].manifest, "tables");

		printf("restored backup %s of %s into %s: %zu tables, %llu bytes from the repository, %lld s\n",
		       list[i].id, list[i].database, target, tables ? json_object_array_length(tables) : 0,
		       list[i].size, (long long) (time(NULL) - start));
	}
	close(lock);
	pgp_conn_close(admin);
	catalog_free(list, n);
	return rc;
}
