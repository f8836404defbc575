/*
 * Physical base backups: BASE_BACKUP on a replication connection
 * (basebackup.c), each archive streamed straight into its object
 * (stream.c: compressed, encrypted, hashed, no temporary file) and at
 * the same time through a tar reader and the verifier, which keeps each
 * file's size and CRC-32C until PostgreSQL's backup_manifest arrives
 * last and then checks every file against it.  The backup's WAL is not
 * in it: BASE_BACKUP WAIT waits until the server archived it (so
 * archiving must be on), and the archive's chain from the start LSN is
 * checked before the backup is called good.  manifest.json is written
 * last: until then the backup does not exist.
 *
 * Also list and prune (retention of base backups, and then of the WAL
 * older than the oldest kept one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basebackup.h"
#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "pgmanifest.h"
#include "physical.h"
#include "stream.h"
#include "tarstream.h"
#include "walname.h"

/* One base backup being taken. */
struct take {
	struct backup_ctx *ctx;
	struct cluster c;
	int cluster_ready;
	char id[32], dir[192];
	struct stream s;
	int streaming;			/* s is open */
	char sname[320];
	struct tarstream *tar;
	struct pgm_verifier *v;
	struct pgm_parser *parser;
	int in_manifest;
	struct phys_manifest m;
	long problems;
	int status;			/* an exit status a callback chose */
};

/* libpq's first line, for a message. */
static const char *
first_line(const char *msg, char *buf, size_t size)
{
	snprintf(buf, size, "%s", msg ? msg : "");
	buf[strcspn(buf, "\n")] = '\0';
	return *buf ? buf : "connection lost";
}

/*
 * A replication connection as the spec says, with the timeouts a
 * walsender needs (pgp_conn_open runs SQL a walsender refuses).
 */
static PGconn *
repl_open(struct backup_ctx *ctx, char *where, size_t wsize)
{
	const char *keys[9], *vals[9];
	char timeout[32], why[512];
	int n = 0;
	PGconn *conn;

	if (ctx->spec.service_file)
		setenv("PGSERVICEFILE", ctx->spec.service_file, 1);
	if (ctx->spec.passfile)
		setenv("PGPASSFILE", ctx->spec.passfile, 1);
	snprintf(timeout, sizeof(timeout), "%lld", ctx->spec.connect_timeout > 0 ? ctx->spec.connect_timeout : 10);
	/* Before dbname: defaults the connection string may override. */
	keys[n] = "connect_timeout", vals[n++] = timeout;
	keys[n] = "fallback_application_name", vals[n++] = "pgp-backup";
	keys[n] = "keepalives", vals[n++] = "1";
	keys[n] = "keepalives_idle", vals[n++] = "30";
	keys[n] = "tcp_user_timeout", vals[n++] = "60000";
	keys[n] = "dbname", vals[n++] = ctx->spec.conninfo;
	/* After: a physical replication connection whatever it says. */
	keys[n] = "replication", vals[n++] = "true";
	keys[n] = NULL, vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	pgp_conn_where(conn, where, wsize);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		pgp_error("cannot open a replication connection to %s%s%s%s: %s", where,
			  ctx->spec.target ? " (target \"" : "", ctx->spec.target ? ctx->spec.target : "",
			  ctx->spec.target ? "\")" : "", first_line(conn ? PQerrorMessage(conn) : "out of memory",
								   why, sizeof(why)));
		pgp_hint("a base backup needs a role WITH REPLICATION and a \"replication\" line in pg_hba.conf");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* A one-row command on the replication connection: its value (malloc'd) or NULL (logged). */
static char *
repl_value(PGconn *conn, const char *where, const char *cmd, int col)
{
	PGresult *res = PQexec(conn, cmd);
	char why[512], *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) > col)
		v = strdup(PQgetvalue(res, 0, col));
	else
		pgp_error("%s on %s: %s", cmd, where, first_line(PQerrorMessage(conn), why, sizeof(why)));
	PQclear(res);
	return v;
}

/* Archiving must be on: a base backup without its WAL cannot be restored. */
static int
check_archiving(PGconn *conn, const char *where)
{
	char *mode = repl_value(conn, where, "SHOW archive_mode", 0);
	int rc = PGP_EXIT_OK;

	if (!mode)
		return PGP_EXIT_FAILED;
	if (!strcmp(mode, "off")) {
		pgp_error("WAL archiving is off on %s: a base backup without its WAL cannot be restored; set "
			  "archive_command to pgp-backup wal-push", where);
		pgp_hint("archive_mode = on, archive_command = 'pgp-backup -c CONFIG wal-push %%p', then a restart");
		rc = PGP_EXIT_USAGE;
	}
	free(mode);
	return rc;
}

static void
set_id(time_t when, char *id, size_t size)
{
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(id, size, "%Y%m%dT%H%M%SZ", &tm);
}

/* A new id: the UTC time, one second later while anything is stored under it. */
static int
new_id(struct take *t)
{
	for (;;) {
		struct repo_entry *e;
		size_t n;

		t->m.start_time = time(NULL);
		set_id(t->m.start_time, t->id, sizeof(t->id));
		cluster_base_prefix(&t->c, t->id, t->dir, sizeof(t->dir));
		if (repo_list(t->ctx->repo, t->dir, &e, &n) < 0)
			return -1;
		repo_entries_free(e, n);
		if (n == 0)
			return 0;
		sleep(1);
	}
}

static void
report(void *arg, const char *path, const char *problem)
{
	struct take *t = arg;

	pgp_error("base backup %s: %s: %s", t->id, path, problem);
	t->problems++;
}

/* The object being written ends: stored whole, recorded for the manifest. */
static int
end_object(struct take *t, int ok)
{
	struct phys_object *o;
	struct object_info info;
	int rc = 0;

	if (t->tar) {
		if (ok && tarstream_finish(t->tar) < 0) {
			if (tarstream_error(t->tar))
				pgp_error("base backup %s: %s: %s", t->id, t->sname, tarstream_error(t->tar));
			ok = 0;
			rc = -1;
		}
		tarstream_free(t->tar);
		t->tar = NULL;
	}
	if (!t->streaming)
		return rc;
	t->streaming = 0;
	if (stream_close(&t->s, ok, &info) < 0 || !ok)
		return -1;
	if (t->m.nobjects == PHYS_MAX_OBJECTS)
		return pgp_fail("base backup %s: too many tablespaces", t->id);
	o = &t->m.objects[t->m.nobjects++];
	snprintf(o->name, sizeof(o->name), "%s", info.name);
	o->size = info.size;
	o->raw_size = info.raw_size;
	snprintf(o->sha256, sizeof(o->sha256), "%s", info.sha256);
	return 0;
}

static int
begin_object(struct take *t, const char *base)
{
	snprintf(t->sname, sizeof(t->sname), "%s/%s%s%s", t->dir, base, compression_suffix(t->ctx->compression),
		 t->ctx->nrecipients ? ".age" : "");
	if (stream_open(t->ctx, &t->s, t->sname, t->ctx->compression, t->ctx->compress_level, 0) < 0)
		return -1;
	t->streaming = 1;
	return 0;
}

static int
on_begin(void *arg, const struct basebackup_info *info)
{
	struct take *t = arg;
	struct cluster c;

	if (cluster_init(t->ctx, info->system_identifier, info->wal_segment_size, &c) != PGP_EXIT_OK ||
	    (t->status = cluster_check(t->ctx, &c, 1)) != PGP_EXIT_OK)
		return -1;
	if (strcmp(c.name, t->c.name) != 0 || strcmp(c.sysid, t->c.sysid) != 0)
		return pgp_fail("base backup %s: the server's system identifier changed under us", t->id);
	t->c = c;
	t->cluster_ready = 1;
	t->m.tli = info->start_tli;
	t->m.start_lsn = info->start_lsn;
	t->m.segsize = info->wal_segment_size;
	for (size_t i = 0; i < info->ntablespaces; i++) {
		struct phys_tablespace *ts;

		if (!info->tablespaces[i].oid)
			continue;
		if (t->m.ntablespaces == PHYS_MAX_TABLESPACES)
			return pgp_fail("base backup %s: more than %d tablespaces", t->id, PHYS_MAX_TABLESPACES);
		ts = &t->m.tablespaces[t->m.ntablespaces++];
		ts->oid = info->tablespaces[i].oid;
		snprintf(ts->location, sizeof(ts->location), "%s", info->tablespaces[i].location ?
			 info->tablespaces[i].location : "");
	}
	return 0;
}

static int
on_archive(void *arg, const char *name, unsigned oid, const char *location)
{
	struct take *t = arg;
	struct tar_callbacks cb;
	char prefix[64] = "";

	(void) location;
	if (end_object(t, 1) < 0 || begin_object(t, name) < 0)
		return -1;
	if (oid)
		snprintf(prefix, sizeof(prefix), "pg_tblspc/%u", oid);
	pgm_verifier_tar_callbacks(&cb);
	if (pgm_verifier_archive(t->v, prefix) < 0 || !(t->tar = tarstream_new(&cb, t->v)))
		return pgp_fail("out of memory");
	return 0;
}

static int
on_data(void *arg, const void *buf, size_t len)
{
	struct take *t = arg;

	if (!t->streaming)
		return pgp_fail("base backup %s: data before any archive", t->id);
	if (stream_feed(&t->s, buf, len) < 0)
		return -1;
	if (t->in_manifest) {
		if (pgm_parser_feed(t->parser, buf, len) < 0)
			return pgp_fail("base backup %s: backup_manifest: %s", t->id, pgm_parser_error(t->parser));
	} else if (tarstream_feed(t->tar, buf, len) < 0) {
		if (tarstream_error(t->tar))
			pgp_error("base backup %s: %s: %s", t->id, t->sname, tarstream_error(t->tar));
		return -1;
	}
	return 0;
}

static int
on_manifest_begin(void *arg)
{
	struct take *t = arg;

	if (end_object(t, 1) < 0 || begin_object(t, "backup_manifest") < 0)
		return -1;
	t->in_manifest = 1;
	return 0;
}

static int
on_end(void *arg, const struct basebackup_info *info)
{
	struct take *t = arg;

	t->m.end_lsn = info->end_lsn;
	t->m.end_tli = info->end_tli;
	return 0;
}

/* The server's notices, e.g. WAIT's "still waiting for ... to be archived". */
static void
notice(void *arg, const char *message)
{
	size_t l = strlen(message);

	(void) arg;
	pgp_info("server: %.*s", (int) (l && message[l - 1] == '\n' ? l - 1 : l), message);
}

/* The archive holds the backup's WAL from its start to at least its end. */
static int
check_wal(struct take *t)
{
	struct wal_chain chain;
	char end[WALNAME_LSN_SIZE];
	int rc;

	memset(&chain, 0, sizeof(chain));
	rc = wal_check_chain(t->ctx, &t->c, t->m.tli, t->m.start_lsn, 0, &chain);
	walname_lsn_format(t->m.end_lsn, end);
	if (rc != PGP_EXIT_OK) {
		pgp_error("base backup %s: its WAL (%s to %s) is not whole in the archive", t->id, t->m.start_wal,
			  t->m.end_wal);
		return -1;
	}
	if (chain.end_lsn < t->m.end_lsn)
		return pgp_fail("base backup %s: the archive's WAL ends before the backup's end %s (newest %s)",
				t->id, end, chain.last);
	return 0;
}

/* Are the objects still there, whole, before the manifest makes them a backup? */
static int
objects_present(struct take *t)
{
	struct repo_entry *e;
	size_t n, found = 0;

	if (repo_list(t->ctx->repo, t->dir, &e, &n) < 0)
		return -1;
	for (size_t k = 0; k < t->m.nobjects; k++)
		for (size_t i = 0; i < n; i++) {
			const char *slash = strrchr(e[i].name, '/');

			if (slash && !strcmp(slash + 1, t->m.objects[k].name) && e[i].size == t->m.objects[k].size) {
				found++;
				break;
			}
		}
	repo_entries_free(e, n);
	if (found != t->m.nobjects)
		return pgp_fail("base backup %s: its objects vanished while it ran: no manifest is written", t->id);
	return 0;
}

/* Remove what a failed backup stored, the manifest first. */
static void
remove_backup(struct backup_ctx *ctx, const char *dir)
{
	struct repo_entry *e;
	size_t n;
	char name[320];

	repo_cleanup(ctx->repo, 1);
	snprintf(name, sizeof(name), "%s/%s", dir, MANIFEST);
	repo_delete(ctx->repo, name);
	if (repo_list(ctx->repo, dir, &e, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!e[i].is_dir)
				repo_delete(ctx->repo, e[i].name);
		repo_entries_free(e, n);
	}
	repo_cleanup(ctx->repo, 0);
}

/* The stream of a backup, after the connection is open and the lock taken. */
static int
stream_backup(struct take *t, PGconn *conn)
{
	struct basebackup_options o = {.label = "pgp-backup", .fast_checkpoint = 1, .tablespace_map = 1,
				       .start_timeout = 600, .idle_timeout = 600};
	struct basebackup_callbacks cb = {.on_begin = on_begin, .on_archive = on_archive, .on_data = on_data,
					  .on_manifest_begin = on_manifest_begin, .on_end = on_end};
	struct basebackup_info info;
	struct pgmanifest *pm = NULL;
	char label[64];
	int rc;

	snprintf(label, sizeof(label), "pgp-backup %s", t->id);
	o.label = label;
	t->v = pgm_verifier_new(NULL, PGM_CRC32C, report, t);
	t->parser = pgm_parser_new();
	if (!t->v || !t->parser)
		return pgp_fail("out of memory");
	PQsetNoticeProcessor(conn, notice, NULL);
	rc = basebackup_run(conn, &o, &cb, t, &info);
	snprintf(t->m.server_version, sizeof(t->m.server_version), "%s",
		 PQparameterStatus(conn, "server_version") ? PQparameterStatus(conn, "server_version") : "");
	basebackup_info_free(&info);
	if (end_object(t, rc == 0) < 0 || rc < 0)
		return -1;
	if (!(pm = pgm_parser_finish(t->parser)))
		return pgp_fail("base backup %s: backup_manifest: %s", t->id, pgm_parser_error(t->parser));
	rc = (int) pgm_verifier_finish(t->v, pm);
	pgmanifest_free(pm);
	if (rc != 0)
		return pgp_fail("base backup %s: %s", t->id, rc < 0 ? "the verifier failed" :
				"files do not match backup_manifest (named above)");
	return 0;
}

static void
fill_wal_names(struct phys_manifest *m)
{
	walname_segment_format(m->tli, walname_segno(m->start_lsn, m->segsize), m->segsize, m->start_wal);
	walname_segment_format(m->end_tli, walname_segno(m->end_lsn, m->segsize), m->segsize, m->end_wal);
}

/* The state file: the last base backup, and the oldest point a restore can reach. */
struct state_arg {
	const char *result, *id, *error;
	const struct phys_info *oldest;
};

static void
state_update(struct json_object *s, void *arg)
{
	const struct state_arg *a = arg;
	char t[32], lsn[WALNAME_LSN_SIZE];

	phys_rfc3339(time(NULL), t, sizeof(t));
	json_object_object_add(s, "last_base_backup_run_time", pgp_json_cstring(t));
	json_object_object_add(s, "last_base_backup_result", pgp_json_cstring(a->result));
	json_object_object_add(s, "last_base_backup_error", pgp_json_cstring(a->error));
	if (a->id) {
		json_object_object_add(s, "last_base_backup_id", pgp_json_cstring(a->id));
		json_object_object_add(s, "last_base_backup_time", pgp_json_cstring(t));
	}
	if (a->oldest) {
		struct json_object *o = json_object_new_object();

		phys_rfc3339(a->oldest->m.end_time, t, sizeof(t));
		walname_lsn_format(a->oldest->m.end_lsn, lsn);
		json_object_object_add(o, "base_backup_id", pgp_json_cstring(a->oldest->id));
		json_object_object_add(o, "time", pgp_json_cstring(t));
		json_object_object_add(o, "lsn", pgp_json_cstring(lsn));
		json_object_object_add(o, "timeline", json_object_new_int64(a->oldest->m.end_tli));
		json_object_object_add(s, "oldest_recoverable", o);
	}
}

/* The oldest good base backup in list, or NULL. */
static const struct phys_info *
oldest_good(const struct phys_info *list, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (list[i].state == BACKUP_OK)
			return &list[i];
	return NULL;
}

static int
record_state(struct backup_ctx *ctx, const struct cluster *c, const char *result, const char *id)
{
	struct phys_info *list = NULL;
	size_t n = 0;
	struct state_arg a = {result, id, id ? NULL : (*pgp_log_last_error() ? pgp_log_last_error()
						     : "base backup failed"), NULL};
	int rc;

	if (id && phys_load(ctx, c, &list, &n) == 0)
		a.oldest = oldest_good(list, n);
	rc = cluster_state_update(ctx, c, state_update, &a);
	free(list);
	return rc;
}

static void
print_result(struct backup_ctx *ctx, const struct phys_manifest *m, const char *text)
{
	unsigned long long size = 0, raw = 0;
	char s[WALNAME_LSN_SIZE], e[WALNAME_LSN_SIZE];

	if (ctx->common->format && !strcmp(ctx->common->format, "json")) {
		printf("%s", text);
		return;
	}
	if (!pgp_log_enabled(PGP_LOG_INFO))
		return;
	for (size_t i = 0; i < m->nobjects; i++)
		size += m->objects[i].size, raw += m->objects[i].raw_size;
	walname_lsn_format(m->start_lsn, s);
	walname_lsn_format(m->end_lsn, e);
	printf("base backup %s of cluster %s: %llu bytes (%llu before compression) in %lld s, WAL %s..%s "
	       "timeline %u%s\n", m->id, m->cluster, size, raw, (long long) (m->end_time - m->start_time), s, e,
	       m->tli, ctx->nrecipients ? ", encrypted" : "");
}

static int
take_backup(struct take *t, PGconn *conn)
{
	struct backup_ctx *ctx = t->ctx;
	char name[320], *text = NULL;

	if (new_id(t) < 0)
		return phys_repo_status(ctx);
	pgp_info("base backup %s of cluster %s into %s", t->id, t->c.name, repo_url(ctx->repo));
	if (stream_backup(t, conn) < 0)
		goto fail;
	t->m.end_time = time(NULL);
	fill_wal_names(&t->m);
	if (check_wal(t) < 0 || objects_present(t) < 0)
		goto fail;
	snprintf(t->m.id, sizeof(t->m.id), "%s", t->id);
	snprintf(t->m.cluster, sizeof(t->m.cluster), "%s", t->c.name);
	snprintf(t->m.sysid, sizeof(t->m.sysid), "%s", t->c.sysid);
	t->m.compression = ctx->compression;
	t->m.level = ctx->compress_level;
	t->m.encrypted = ctx->nrecipients > 0;
	t->m.ok = 1;
	snprintf(name, sizeof(name), "%s/%s", t->dir, MANIFEST);
	if (!(text = phys_manifest_text(ctx, &t->m)) || repo_put(ctx->repo, name, text, strlen(text)) < 0)
		goto fail;
	print_result(ctx, &t->m, text);
	free(text);
	return PGP_EXIT_OK;
fail:
	free(text);
	remove_backup(ctx, t->dir);
	if (t->status != PGP_EXIT_OK)
		return t->status;
	return repo_unreachable(ctx->repo) || PQstatus(conn) != CONNECTION_OK ? PGP_EXIT_UNREACHABLE
		: PGP_EXIT_FAILED;
}

static void
take_free(struct take *t)
{
	if (t->streaming)
		stream_close(&t->s, 0, NULL);
	tarstream_free(t->tar);
	pgm_verifier_free(t->v);
	pgm_parser_free(t->parser);
}

int
physical_backup(struct backup_ctx *ctx)
{
	struct take t;
	char where[256], lockname[CLUSTER_NAME_MAX + 16];
	char *sysid;
	PGconn *conn;
	int lock = -1, rc;

	if (!ctx->have_spec) {
		pgp_error("backup --physical needs a server: -d CONNINFO, -t TARGET or backup.target");
		return PGP_EXIT_USAGE;
	}
	memset(&t, 0, sizeof(t));
	t.ctx = ctx;
	if (!(conn = repl_open(ctx, where, sizeof(where))))
		return PGP_EXIT_UNREACHABLE;
	if ((rc = check_archiving(conn, where)) != PGP_EXIT_OK) {
		PQfinish(conn);
		return rc;
	}
	if (!(sysid = repl_value(conn, where, "IDENTIFY_SYSTEM", 0))) {
		PQfinish(conn);
		return PGP_EXIT_FAILED;
	}
	cluster_init(ctx, sysid, 0, &t.c);
	free(sysid);
	if (!cluster_name_valid(t.c.name)) {
		pgp_error("\"%s\" is not a cluster name pgp takes ([A-Za-z0-9_.-], up to 63)", t.c.name);
		PQfinish(conn);
		return PGP_EXIT_USAGE;
	}
	snprintf(lockname, sizeof(lockname), "cluster-%s", t.c.name);
	if ((rc = lock_take(ctx, lockname, "backup", 0, &lock)) != PGP_EXIT_OK) {
		PQfinish(conn);
		return rc;
	}
	rc = take_backup(&t, conn);
	take_free(&t);
	PQfinish(conn);
	if (rc != PGP_EXIT_OK) {
		if (t.cluster_ready && record_state(ctx, &t.c, "failed", NULL) < 0)
			pgp_error("the state file of cluster %s was not updated either", t.c.name);
		close(lock);
		return rc;
	}
	/* Retention only after a good backup; its findings are this run's status. */
	rc = ctx->prune_after ? physical_prune_locked(ctx, &t.c) : PGP_EXIT_OK;
	if (record_state(ctx, &t.c, "ok", t.id) < 0) {
		pgp_error("base backup %s is stored and complete, but the state file was not updated", t.id);
		rc = PGP_EXIT_FAILED;
	}
	close(lock);
	return rc;
}
