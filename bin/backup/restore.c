/*
 * Reading backups back.  verify re-reads every object and checks its size
 * and SHA-256 against the manifest (with --restore-test it also restores
 * into a scratch database and compares row counts).  restore never lets
 * the target see data it has not verified: it restores into a scratch
 * database beside the target, checks every object's SHA-256 and the
 * manifest's row counts there, applies the archive's database-level
 * entries, and only then swaps the scratch in by ALTER DATABASE RENAME.
 * On any failure the target is untouched and the scratch is dropped.
 * (--in-place, for a server without room for two copies, verifies every
 * object in a full read pass first and then restores over the target.)
 * Both hold a shared "read" lock, so prune never deletes what they read.
 *
 * Every function here returns an exit status (exitcodes.h); 0 is success.
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

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "archive.h"
#include "backup.h"
#include "childconn.h"
#include "exitcodes.h"
#include "log.h"
#include "spawn.h"
#include "sql.h"
#include "stream.h"

/* None of our identities is one the backup was encrypted to: say who can read it. */
static void
no_identity_matches(const struct backup_ctx *ctx, const struct backup_info *b)
{
	pgp_error("backup %s is encrypted to %zu key(s), and no identity in %s is one of them", b->id,
		  b->m.nrecipients, ctx->identity_file);
	for (size_t i = 0; i < b->m.nrecipients; i++)
		pgp_detail("encrypted to %s", b->m.recipients[i]);
	pgp_hint("give the identity (private key) file of one of those public keys with --identity");
}

/*
 * Before reading encrypted backup b: the identity file loaded (once), and
 * one of its keys among those the manifest says b was encrypted to.  0,
 * or the exit status (logged): usage (2) when there is no such identity.
 */
static int
backup_identities(struct backup_ctx *ctx, const struct backup_info *b)
{
	if (!ctx->identity_file) {
		pgp_error("backup %s is encrypted: reading it needs an identity (private key) file", b->id);
		for (size_t i = 0; i < b->m.nrecipients; i++)
			pgp_detail("encrypted to %s", b->m.recipients[i]);
		pgp_hint("give --identity FILE or set backup.identity_file");
		return PGP_EXIT_USAGE;
	}
	if (keys_identities(ctx) < 0)
		return PGP_EXIT_USAGE;
	for (size_t i = 0; i < ctx->nidentities; i++) {
		struct pgp_age_recipient pub;
		char key[PGP_AGE_RECIPIENT_SIZE];

		pgp_age_identity_recipient(&ctx->identities[i], &pub);
		pgp_age_recipient_format(&pub, key);
		for (size_t k = 0; k < b->m.nrecipients; k++)
			if (!strcmp(key, b->m.recipients[k]))
				return PGP_EXIT_OK;
	}
	no_identity_matches(ctx, b);
	return PGP_EXIT_USAGE;
}

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

/* Where a decoded object goes: the archive scan, a file or pipe, memory. */
struct object_out {
	int fd;				/* -1: none */
	FILE *mem;			/* NULL: none */
	struct archive_scan *scan;	/* NULL: none */
};

static int
fd_out(void *arg, const void *data, size_t len)
{
	if (write_fd(*(int *) arg, data, len) < 0)
		return pgp_fail("cannot pass the dump on: %s", strerror(errno));
	return 0;
}

static int
object_out(void *arg, const void *data, size_t len)
{
	struct object_out *o = arg;

	if (o->mem && fwrite(data, 1, len, o->mem) != len)
		return pgp_fail("out of memory");
	/* A dump to pg_restore goes through the scan, which merges its rows' chunks. */
	if (o->scan && o->fd >= 0)
		return archive_scan_feed(o->scan, data, len);
	if (o->scan)
		archive_scan_feed(o->scan, data, len);
	return o->fd >= 0 ? fd_out(&o->fd, data, len) : 0;
}

/*
 * Read one object of a backup and compare it with its manifest entry,
 * decoding into out_fd (-1: none), out_mem and scan (NULL: none) on the
 * way.  0, FOUND on a mismatch, USAGE without an identity that opens it,
 * FAILED on an error (each logged).
 */
static int
check_object(struct backup_ctx *ctx, const struct backup_info *b, const struct manifest_object *obj,
	     int out_fd, FILE *out_mem, struct archive_scan *scan)
{
	struct object_out out = {out_fd, out_mem, scan};
	struct stream_expect x = {COMPRESS_NONE, obj->what->encrypted, 1, obj->size, obj->sha256};
	struct stream_result res;
	char name[256], label[128];
	int decode = out_fd >= 0 || out_mem || scan, rc;

	snprintf(name, sizeof(name), "%s/%s/%s", b->database, b->id, obj->what->name);
	snprintf(label, sizeof(label), "backup %s: object %s", b->id, obj->what->name);
	if (decode && obj->what->compression && compression_parse(b->m.compression, &x.compression) < 0) {
		pgp_error("backup %s: compression \"%s\" is not one this pgp-backup reads", b->id, b->m.compression);
		return PGP_EXIT_FAILED;
	}
	if (decode && obj->what->encrypted && (rc = backup_identities(ctx, b)) != 0)
		return rc;
	/* Backups made before pgp-backup merged chunks restore as fast as newer ones. */
	if (scan && out_fd >= 0)
		archive_scan_rewrite(scan, fd_out, &out.fd);
	rc = stream_read(ctx, name, label, &x, decode ? object_out : NULL, &out, 0, &res);
	if (scan && out_fd >= 0 && archive_scan_end(scan) < 0 && rc == 0)
		rc = PGP_EXIT_FAILED;
	if (rc == PGP_EXIT_USAGE && obj->what->encrypted)
		no_identity_matches(ctx, b);
	return rc;
}

/*
 * Every object of b but those of kind skip (-1: none), read in full:
 * 0, FOUND (a bad one, named) or FAILED.
 */
static int
check_objects(struct backup_ctx *ctx, const struct backup_info *b, int skip)
{
	int found = 0;

	for (size_t k = 0; k < b->m.nobjects; k++) {
		int rc;

		if ((int) b->m.objects[k].what->kind == skip)
			continue;
		rc = check_object(ctx, b, &b->m.objects[k], -1, NULL, NULL);
		if (rc == PGP_EXIT_FAILED)
			return rc;
		found |= rc == PGP_EXIT_FOUND;
	}
	return found ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}

/*
 * An encrypted backup's tables and row counts, from its contents object
 * (decrypted and checked like any object): 0, or the exit status.
 */
static int
load_contents(struct backup_ctx *ctx, struct backup_info *b)
{
	const struct manifest_object *obj = manifest_find(&b->m, OBJECT_CONTENTS);
	char *text = NULL, why[256];
	size_t len = 0;
	FILE *mem;
	int rc;

	if (!b->m.encrypted || b->m.have_tables)
		return PGP_EXIT_OK;
	rc = backup_identities(ctx, b);
	if (rc != 0)
		return rc;
	if (obj->raw_size > CONTENTS_MAX_BYTES) {
		pgp_error("backup %s: object %s is too large (%llu bytes)", b->id, obj->what->name, obj->raw_size);
		return PGP_EXIT_FOUND;
	}
	mem = open_memstream(&text, &len);
	if (!mem) {
		pgp_error("out of memory");
		return PGP_EXIT_FAILED;
	}
	rc = check_object(ctx, b, obj, -1, mem, NULL);
	if (fclose(mem) != 0 && rc == 0) {
		pgp_error("out of memory");
		rc = PGP_EXIT_FAILED;
	}
	if (rc == 0 && manifest_parse_contents(text, len, &b->m, why, sizeof(why)) < 0) {
		pgp_error("backup %s: object %s: %s", b->id, obj->what->name, why);
		rc = PGP_EXIT_FOUND;
	}
	free(text);
	return rc;
}

/* The admin connection, never to the database that is to be renamed. */
static PGconn *
admin_connection(struct backup_ctx *ctx, const char *target)
{
	PGconn *admin;

	if (!ctx->have_spec) {
		pgp_error("this needs a server: -d CONNINFO or -t TARGET");
		return NULL;
	}
	admin = pgp_conn_open(&ctx->spec, NULL);
	if (admin && target && !strcmp(PQdb(admin), target)) {
		pgp_conn_close(admin);
		admin = pgp_conn_open(&ctx->spec, "postgres");
	}
	return admin;
}

static int
exec_sql(PGconn *conn, const char *fmt, const char *a, const char *b)
{
	char *sql = pgp_sql_build(conn, fmt, a, b);
	int rc = sql ? pgp_conn_exec(conn, sql) : -1;

	free(sql);
	return rc;
}

/* Does database exist?  1, 0, or -1 (logged). */
static int
db_exists(PGconn *admin, const char *database)
{
	const char *params[1] = {database};
	PGresult *res = pgp_conn_query(admin, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, params);
	int exists = res ? PQntuples(res) > 0 : -1;

	PQclear(res);
	return exists;
}

/* Does database exist; its relation count in *relations.  1, 0, or -1 (logged). */
static int
database_state(struct backup_ctx *ctx, PGconn *admin, const char *database, long long *relations)
{
	PGresult *res;
	PGconn *db;
	int exists = db_exists(admin, database);

	*relations = 0;
	if (exists <= 0)
		return exists;
	db = pgp_conn_open(&ctx->spec, database);
	if (!db)
		return -1;
	res = pgp_conn_query(db, "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
			     " ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog',"
			     " 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'", 0, NULL);
	if (res)
		*relations = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	pgp_conn_close(db);
	return res ? 1 : -1;
}

static PGresult *
sessions_on(PGconn *admin, const char *database, int terminate)
{
	const char *params[2] = {database, terminate ? "true" : "false"};

	/* Autovacuum workers are the server's to stop: a rename waits for them. */
	return pgp_conn_query(admin,
		"SELECT pid, coalesce(usename, ''), coalesce(application_name, ''),"
		" coalesce(client_addr::text, 'local'), coalesce(state, ''),"
		" CASE WHEN $2::bool THEN pg_catalog.pg_terminate_backend(pid) END"
		" FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()"
		" AND backend_type IS DISTINCT FROM 'autovacuum worker' ORDER BY pid", 2, params);
}

/*
 * Sessions on database other than ours.  With terminate, end them;
 * otherwise name them and return BUSY.  0, BUSY or FAILED.
 */
static int
clear_sessions(PGconn *admin, const char *database, int terminate)
{
	PGresult *res = sessions_on(admin, database, terminate);

	/* A client that just disconnected is gone from the list a moment later. */
	for (int i = 0; res && !terminate && PQntuples(res) > 0 && i < 20; i++) {
		PQclear(res);
		usleep(100000);
		res = sessions_on(admin, database, 0);
	}
	if (!res)
		return PGP_EXIT_FAILED;
	if (PQntuples(res) == 0 || terminate) {
		if (PQntuples(res) > 0)
			pgp_info("terminated %d session(s) on %s", PQntuples(res), database);
		PQclear(res);
		return PGP_EXIT_OK;
	}
	pgp_error("busy: %d session(s) on database \"%s\"; it cannot be replaced while in use", PQntuples(res),
		  database);
	for (int i = 0; i < PQntuples(res); i++)
		pgp_detail("pid %s, user %s, application \"%s\", from %s, %s", PQgetvalue(res, i, 0),
			   PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
	pgp_hint("stop them (a PgBouncer holds server connections: PAUSE or RECONNECT it), or give --terminate");
	PQclear(res);
	return PGP_EXIT_BUSY;
}

/*
 * Start pg_restore into database, reading the archive from file, or from
 * its stdin when file is NULL; it connects through cc.  NULL (logged).
 */
static struct pgp_child *
start_pg_restore(struct backup_ctx *ctx, PGconn *admin, const char *database, const char *file, int clean,
		 struct pgp_childconn *cc)
{
	const char *env[] = {cc->env, NULL};
	struct pgp_spawn_opts opts = {.in = file ? PGP_SPAWN_NULL : PGP_SPAWN_PIPE, .env = env};
	char jobs[16];
	char *argv[16];
	int n = 0;

	if (pgp_childconn_write(admin, database, cc) < 0)
		return NULL;
	argv[n++] = (char *) pg_tool(ctx, "pg_restore", PQserverVersion(admin));
	if (!argv[0])
		return NULL;
	argv[n++] = (char *) "--exit-on-error";
	argv[n++] = (char *) "-d";
	argv[n++] = cc->conninfo;
	if (clean) {
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
	return pgp_spawn_start(argv, &opts);
}

/* Download, check and decompress the dump into a file in tmp_dir (--jobs). */
static int
download(struct backup_ctx *ctx, const struct backup_info *b, struct archive_scan *scan, char *path, size_t size)
{
	const struct manifest_object *dump = manifest_find(&b->m, OBJECT_DUMP);
	struct statvfs vfs;
	int fd, rc;

	snprintf(path, size, "%s/pgp-restore.XXXXXX", ctx->tmp_dir);
	if (statvfs(ctx->tmp_dir, &vfs) == 0 &&
	    (unsigned long long) vfs.f_bavail * vfs.f_frsize < dump->raw_size + dump->raw_size / 10) {
		pgp_error("not enough room in %s for the %llu-byte dump (--jobs downloads it first); "
			  "set TMPDIR or restore without --jobs", ctx->tmp_dir, dump->raw_size);
		return PGP_EXIT_FAILED;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		pgp_error("cannot create a file in %s: %s", ctx->tmp_dir, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	rc = check_object(ctx, b, dump, fd, NULL, scan);
	if (close(fd) != 0 && rc == 0) {
		pgp_error("cannot write \"%s\": %s", path, strerror(errno));
		rc = PGP_EXIT_FAILED;
	}
	if (rc != 0)
		unlink(path);
	return rc;
}

/*
 * pg_restore b's dump into database, checking the SHA-256 of what it
 * reads; scan sees the archive too.  0, FOUND (corrupt) or FAILED.
 */
static int
restore_dump(struct backup_ctx *ctx, PGconn *admin, const struct backup_info *b, const char *database,
	     int clean, struct archive_scan *scan)
{
	const struct manifest_object *dump = manifest_find(&b->m, OBJECT_DUMP);
	struct pgp_childconn cc = {0};
	struct pgp_child *child;
	char file[1024] = "";
	int rc = PGP_EXIT_OK;

	if (ctx->jobs > 1)
		rc = download(ctx, b, scan, file, sizeof(file));
	child = rc == 0 ? start_pg_restore(ctx, admin, database, *file ? file : NULL, clean, &cc) : NULL;
	if (rc == 0 && !child)
		rc = PGP_EXIT_FAILED;
	if (child && !*file) {
		rc = check_object(ctx, b, dump, pgp_spawn_stdin(child), NULL, scan);
		if (rc != 0)
			pgp_spawn_stop(child);
	}
	if (child && pgp_spawn_finish(child) < 0 && rc == 0)
		rc = PGP_EXIT_FAILED;
	if (*file)
		unlink(file);
	pgp_childconn_remove(&cc);
	return rc;
}

/* Row counts of the restored copy against the manifest's: 0, FOUND or FAILED. */
static int
compare_rows(struct backup_ctx *ctx, const struct backup_info *b, const char *database)
{
	PGconn *db = pgp_conn_open(&ctx->spec, database);
	int bad = 0;

	if (!db)
		return PGP_EXIT_FAILED;
	for (size_t i = 0; i < b->m.ntables; i++) {
		const struct manifest_table *t = &b->m.tables[i];
		char *sql = pgp_sql_build(db, "SELECT count(*) FROM %I.%I", t->schema, t->table);
		PGresult *res = sql ? pgp_conn_query(db, sql, 0, NULL) : NULL;

		free(sql);
		if (!res || atoll(PQgetvalue(res, 0, 0)) != t->rows) {
			pgp_error("backup %s: table %s.%s has %s rows after the restore, the manifest says %lld",
				  b->id, t->schema, t->table, res ? PQgetvalue(res, 0, 0) : "no", t->rows);
			bad++;
		}
		PQclear(res);
	}
	pgp_conn_close(db);
	return bad ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}

/*
 * Replace "DATABASE <archived>" by "DATABASE <database>" in the archive's
 * database-level SQL (pg_dump names the database as an identifier, quoted
 * only when it must be).  A malloc'd string, or NULL.
 */
/* Copy a quoted literal ('...', E'...', $tag$...$tag$) at *p through to f; 1 if one was there. */
static int
copy_literal(FILE *f, const char **p)
{
	const char *q = *p, *end;
	int escapes = (*q == 'E' || *q == 'e') && q[1] == '\'';

	if (escapes)
		q++;
	if (*q == '\'') {
		for (end = q + 1; *end; end++) {
			if (escapes && *end == '\\' && end[1])
				end++;
			else if (*end == '\'' && end[1] == '\'')
				end++;
			else if (*end == '\'')
				break;
		}
	} else if (*q == '$') {
		size_t tag = 1 + strspn(q + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		const char *close;

		if (q[tag] != '$')
			return 0;
		tag++;
		for (close = q + tag; *close && strncmp(close, q, tag) != 0; close++)
			;
		end = *close ? close + tag - 1 : close;
	} else
		return 0;
	if (*end)
		end++;
	fwrite(*p, 1, (size_t) (end - *p), f);
	*p = end;
	return 1;
}

static char *
retarget_sql(PGconn *conn, const char *sql, const char *archived, const char *database)
{
	char *quoted_old = pgp_sql_ident(conn, archived), *quoted_new = pgp_sql_ident(conn, database);
	char *out = NULL;
	size_t size = 0;
	FILE *f = quoted_old && quoted_new ? open_memstream(&out, &size) : NULL;

	for (const char *p = sql; f && *p;) {
		const char *forms[2] = {archived, quoted_old};
		int hit = 0;

		/* A literal (a comment's text) is never rewritten. */
		if (copy_literal(f, &p))
			continue;
		for (int k = 0; k < 2 && !hit && !strncmp(p, "DATABASE ", 9); k++) {
			size_t l = strlen(forms[k]);

			hit = !strncmp(p + 9, forms[k], l) && strchr(" ;\n", p[9 + l]) && p[9 + l];
			if (hit) {
				fprintf(f, "DATABASE %s", quoted_new);
				p += 9 + l;
			}
		}
		if (!hit)
			fputc(*p++, f);
	}
	if (f && fclose(f) != 0) {
		free(out);
		out = NULL;
	}
	PQfreemem(quoted_old);
	PQfreemem(quoted_new);
	return out;
}

/*
 * The archive's database-level entries (owner, DATABASE PROPERTIES such as
 * per-database settings, the database's grants and comment), which
 * pg_restore without --create skips, applied to database.  0 or FAILED.
 */
static int
apply_database_entries(struct backup_ctx *ctx, PGconn *admin, struct archive_scan *scan, const char *database)
{
	const char *owner = NULL, *archived = archive_scan_database(scan, &owner);
	char *sql, *retargeted;
	int rc = PGP_EXIT_OK;

	if (!archived) {
		/* Never a database open to PUBLIC because its grants were not read. */
		pgp_error("cannot read the archive's database entry (its grants, owner and settings): "
			  "pg_dump %s's archive format is not one this pgp-backup reads",
			  archive_scan_failed(scan) ? "of another version" : "without one");
		pgp_hint("restore with --in-place into a database you prepared, or with pg_restore by hand "
			 "(pgp-backup(1), RESTORE WITHOUT PGP)");
		return PGP_EXIT_FAILED;
	}
	if (owner && *owner && !ctx->no_owner && exec_sql(admin, "ALTER DATABASE %I OWNER TO %I", database, owner) < 0)
		return PGP_EXIT_FAILED;
	sql = archive_scan_database_sql(scan);
	retargeted = sql ? retarget_sql(admin, sql, archived, database) : NULL;
	if (!retargeted) {
		pgp_error("out of memory");
		rc = PGP_EXIT_FAILED;
	} else if (*retargeted) {
		pgp_debug("database-level entries: %s", retargeted);
		if (pgp_conn_exec(admin, retargeted) < 0) {
			pgp_detail("while applying the archive's database-level entries (grants, settings)");
			rc = PGP_EXIT_FAILED;
		}
	}
	free(sql);
	free(retargeted);
	return rc;
}

/*
 * pgp's own database name for a restore of id into target: prefix, the id,
 * and a short hash of the target's name (any length, any characters).
 */
static void
work_name(char *buf, size_t size, const char *prefix, const char *id, const char *target)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	if (target) {
		SHA256((const unsigned char *) target, strlen(target), d);
		snprintf(buf, size, "%s_%s_%02x%02x%02x%02x", prefix, id, d[0], d[1], d[2], d[3]);
	} else
		snprintf(buf, size, "%s_%s", prefix, id);
	for (char *p = buf; *p; p++)
		*p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
}

/*
 * CREATE DATABASE name, with the encoding, locale and tablespace of like
 * (the database it will replace) when there is one.  0 or -1 (logged).
 */
static int
create_like(PGconn *admin, const char *name, const char *like)
{
	const char *params[1] = {like};
	PGresult *res = like ? pgp_conn_query(admin,
		PQserverVersion(admin) >= 150000 ?
		"SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, t.spcname,"
		" d.datlocprovider::text, coalesce(d.daticulocale, '')"
		" FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
		" WHERE d.datname = $1" :
		"SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, t.spcname, 'c', ''"
		" FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
		" WHERE d.datname = $1", 1, params) : NULL;
	char *sql;
	int rc;

	if (like && !res)
		return -1;
	if (res && PQntuples(res) == 1)
		sql = !strcmp(PQgetvalue(res, 0, 4), "i") ?
			pgp_sql_build(admin, "CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L"
				      " LC_CTYPE %L LOCALE_PROVIDER icu ICU_LOCALE %L TABLESPACE %I", name,
				      PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
				      PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 3)) :
			pgp_sql_build(admin, "CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L"
				      " LC_CTYPE %L TABLESPACE %I", name, PQgetvalue(res, 0, 0),
				      PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	else
		sql = pgp_sql_build(admin, "CREATE DATABASE %I TEMPLATE template0", name);
	PQclear(res);
	rc = sql ? pgp_conn_exec(admin, sql) : -1;
	free(sql);
	return rc;
}

/*
 * Restore b into a new database scratch (dropped first if a killed run
 * left it), verified: the SHA-256 of the dump as it streams into
 * pg_restore (and of the other objects first, unless the caller checked
 * them), the row counts, the database-level entries.  On failure scratch
 * is dropped.
 */
static int
restore_verified(struct backup_ctx *ctx, PGconn *admin, const struct backup_info *b, const char *scratch,
		 const char *like, int check_others)
{
	struct archive_scan *scan = archive_scan_new();
	int rc;

	if (!scan) {
		pgp_error("out of memory");
		return PGP_EXIT_FAILED;
	}
	if (exec_sql(admin, "DROP DATABASE IF EXISTS %I", scratch, NULL) < 0 ||
	    create_like(admin, scratch, like) < 0) {
		archive_scan_free(scan);
		return PGP_EXIT_FAILED;
	}
	rc = check_others ? check_objects(ctx, b, OBJECT_DUMP) : PGP_EXIT_OK;
	if (rc == 0)
		rc = restore_dump(ctx, admin, b, scratch, 0, scan);
	if (rc == 0)
		rc = compare_rows(ctx, b, scratch);
	if (rc == 0)
		rc = apply_database_entries(ctx, admin, scan, scratch);
	archive_scan_free(scan);
	if (rc != 0 && exec_sql(admin, "DROP DATABASE IF EXISTS %I", scratch, NULL) < 0)
		pgp_warning("the scratch database \"%s\" could not be dropped", scratch);
	return rc;
}

/*
 * Put scratch in target's place: target (if any) becomes old, scratch
 * becomes target.  A failed second rename puts the old one back.
 */
static int
swap_in(struct backup_ctx *ctx, PGconn *admin, const char *scratch, const char *target, const char *old,
	int target_exists)
{
	for (int attempt = 0; target_exists; attempt++) {
		int rc = clear_sessions(admin, target, ctx->terminate);

		if (rc != 0)
			return rc;
		if (exec_sql(admin, "ALTER DATABASE %I RENAME TO %I", target, old) == 0)
			break;
		/* A session that connected after the check: once more, then give up. */
		if (!ctx->terminate || attempt == 3)
			return PGP_EXIT_BUSY;
	}
	/* The scratch is pgp's own: whoever connected to it (a monitor) is ended. */
	if (clear_sessions(admin, scratch, 1) != 0 ||
	    exec_sql(admin, "ALTER DATABASE %I RENAME TO %I", scratch, target) < 0) {
		if (target_exists && exec_sql(admin, "ALTER DATABASE %I RENAME TO %I", old, target) < 0)
			pgp_error("the old database is now \"%s\": rename it back to \"%s\" by hand", old, target);
		return PGP_EXIT_FAILED;
	}
	return PGP_EXIT_OK;
}

/* --in-place: every object verified in a read pass, then pg_restore over the target. */
static int
restore_in_place(struct backup_ctx *ctx, PGconn *admin, const struct backup_info *b, const char *target,
		 int target_exists)
{
	struct archive_scan *scan = archive_scan_new();
	int rc = scan ? check_objects(ctx, b, -1) : PGP_EXIT_FAILED;

	if (rc == 0 && !target_exists && exec_sql(admin, "CREATE DATABASE %I TEMPLATE template0", target, NULL) < 0)
		rc = PGP_EXIT_FAILED;
	if (rc == 0)
		rc = restore_dump(ctx, admin, b, target, ctx->clean, scan);
	if (rc == 0)
		rc = compare_rows(ctx, b, target);
	if (rc == 0)
		rc = apply_database_entries(ctx, admin, scan, target);
	archive_scan_free(scan);
	/* A database this run made holds nothing verified: it goes. */
	if (rc != 0 && !target_exists && exec_sql(admin, "DROP DATABASE IF EXISTS %I", target, NULL) < 0)
		pgp_warning("the database \"%s\" this restore created could not be dropped", target);
	return rc;
}

/*
 * Find backup id: 0 with its index in *i, or the exit status: no such
 * backup is the caller's mistake (2), an unreadable manifest a finding
 * (1), an unreachable repository 3, an unreadable one a failure (5).
 */
static int
load_one(struct backup_ctx *ctx, const char *id, struct backup_info **list, size_t *n, size_t *i)
{
	int rc;

	if (catalog_load(ctx, ctx->database, list, n) < 0)
		return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
	rc = catalog_find(*list, *n, id, i);
	if (rc != PGP_EXIT_OK)
		catalog_free(*list, *n);
	return rc;
}

int
verify_backup(struct backup_ctx *ctx, const char *id)
{
	struct backup_info *list;
	size_t n, i;
	int lock, rc;

	rc = load_one(ctx, id, &list, &n, &i);
	if (rc != 0)
		return rc;
	rc = lock_take(ctx, list[i].database, "read", 1, &lock);
	if (rc != PGP_EXIT_OK) {
		catalog_free(list, n);
		return rc;
	}
	rc = check_objects(ctx, &list[i], -1);
	if (rc == PGP_EXIT_OK && ctx->restore_test)
		rc = load_contents(ctx, &list[i]);
	if (rc == PGP_EXIT_OK && ctx->restore_test) {
		PGconn *admin = admin_connection(ctx, NULL);
		char scratch[64];

		work_name(scratch, sizeof(scratch), "pgp_verify", list[i].id, NULL);
		rc = !admin ? PGP_EXIT_UNREACHABLE : restore_verified(ctx, admin, &list[i], scratch, NULL, 0);
		if (rc == 0 && exec_sql(admin, "DROP DATABASE IF EXISTS %I", scratch, NULL) < 0)
			rc = PGP_EXIT_FAILED;
		pgp_conn_close(admin);
	}
	if (rc == PGP_EXIT_OK)
		printf("backup %s of %s: %zu objects match their sizes and SHA-256%s\n", list[i].id,
		       list[i].database, list[i].m.nobjects,
		       ctx->restore_test ? "; restored and every table's row count matches" : "");
	close(lock);
	catalog_free(list, n);
	return rc;
}

/* Checks before anything is created: 0, or the exit status of a refusal. */
static int
check_target(struct backup_ctx *ctx, PGconn *admin, const struct backup_info *b, const char *target, int *exists)
{
	char old[64];
	long long relations;
	int rc = database_state(ctx, admin, target, &relations), old_exists;

	if (rc < 0)
		return PGP_EXIT_FAILED;
	*exists = rc;
	/* A restore replaces the database whole (functions, types, large objects too). */
	if (*exists && !ctx->clean) {
		if (relations > 0)
			pgp_error("database \"%s\" is not empty (%lld relations): refusing to replace it", target,
				  relations);
		else
			pgp_error("database \"%s\" exists: a restore replaces it whole", target);
		pgp_hint("give --clean to replace it, or restore into a new database");
		return PGP_EXIT_USAGE;
	}
	work_name(old, sizeof(old), "pgp_old", b->id, target);
	old_exists = ctx->in_place ? 0 : db_exists(admin, old);
	if (old_exists < 0)
		return PGP_EXIT_FAILED;
	if (old_exists && *exists) {
		pgp_error("database \"%s\" exists (kept by an earlier restore): drop or rename it first", old);
		return PGP_EXIT_USAGE;
	}
	if (old_exists) {
		pgp_error("database \"%s\" is missing and \"%s\" exists: an earlier restore was interrupted "
			  "after setting it aside", target, old);
		pgp_hint("rename it back (ALTER DATABASE \"%s\" RENAME TO \"%s\") and restore again", old, target);
		return PGP_EXIT_USAGE;
	}
	/* Fail before a long restore, not after it; --terminate ends them at the swap. */
	if (*exists && !ctx->in_place && !ctx->terminate)
		return clear_sessions(admin, target, 0);
	return PGP_EXIT_OK;
}

static int
restore_swap(struct backup_ctx *ctx, PGconn *admin, const struct backup_info *b, const char *target, int exists)
{
	char scratch[64], old[64];
	int rc;

	work_name(scratch, sizeof(scratch), "pgp_restore", b->id, target);
	work_name(old, sizeof(old), "pgp_old", b->id, target);
	rc = restore_verified(ctx, admin, b, scratch, exists ? target : NULL, 1);
	if (rc != 0)
		return rc;
	rc = swap_in(ctx, admin, scratch, target, old, exists);
	if (rc != 0) {
		if (exec_sql(admin, "DROP DATABASE IF EXISTS %I", scratch, NULL) < 0)
			pgp_warning("the scratch database \"%s\" could not be dropped", scratch);
		return rc;
	}
	if (!exists)
		return PGP_EXIT_OK;
	if (ctx->keep_old) {
		printf("the database replaced is kept as \"%s\"\n", old);
		return PGP_EXIT_OK;
	}
	if (exec_sql(admin, "DROP DATABASE %I", old, NULL) < 0) {
		pgp_error("restored, but the old database, now \"%s\", could not be dropped", old);
		return PGP_EXIT_FAILED;
	}
	return PGP_EXIT_OK;
}

int
restore_backup(struct backup_ctx *ctx, const char *id, const char *target)
{
	struct backup_info *list;
	size_t n, i;
	PGconn *admin;
	time_t start = time(NULL);
	int lock, exists = 0, rc;

	if (!target) {
		pgp_error("restore needs --database NAME, the database to restore into");
		return PGP_EXIT_USAGE;
	}
	rc = load_one(ctx, id, &list, &n, &i);
	if (rc != 0)
		return rc;
	admin = admin_connection(ctx, target);
	if (!admin) {
		catalog_free(list, n);
		return PGP_EXIT_UNREACHABLE;
	}
	rc = lock_take(ctx, list[i].database, "read", 1, &lock);
	if (rc != PGP_EXIT_OK) {
		pgp_conn_close(admin);
		catalog_free(list, n);
		return rc;
	}
	/* An encrypted backup: the identity and its table list before anything is created. */
	rc = load_contents(ctx, &list[i]);
	if (rc == 0)
		rc = check_target(ctx, admin, &list[i], target, &exists);
	if (rc == 0)
		rc = ctx->in_place ? restore_in_place(ctx, admin, &list[i], target, exists)
			: restore_swap(ctx, admin, &list[i], target, exists);
	if (rc == PGP_EXIT_OK)
		printf("restored backup %s of %s into %s: %zu tables, %llu bytes from the repository, %lld s\n",
		       list[i].id, list[i].database, target, list[i].m.ntables, list[i].m.size,
		       (long long) (time(NULL) - start));
	close(lock);
	pgp_conn_close(admin);
	catalog_free(list, n);
	return rc;
}
