/*
 * BASE_BACKUP over libpq, as pg_basebackup's BaseBackup() and
 * ReceiveArchiveStreamChunk() read it: a result with the start LSN and
 * timeline, a result with the tablespaces, the COPY stream ('n' new
 * archive: name and tablespace location; 'd' data; 'p' progress: a
 * 64-bit big-endian byte count; 'm' the manifest follows), a result with
 * the end LSN and timeline, and the command's completion (SQLSTATE
 * XX001 there: a page checksum failure during the backup).
 *
 * Reads are non-blocking under poll() when a timeout is set, so that a
 * server that stops sending is an error after idle_timeout seconds
 * rather than a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basebackup.h"
#include "conn.h"
#include "log.h"
#include "walname.h"

/* Where the server is, for messages: host:port, never the conninfo. */
struct run {
	PGconn *conn;
	const struct basebackup_options *o;
	const struct basebackup_callbacks *cb;
	void *arg;
	struct basebackup_info *info;
	char where[256];
	int in_archive, in_manifest;
};

/* libpq's message without its trailing newline. */
static const char *
trimmed(const char *msg)
{
	static __thread char buf[512];
	size_t l;

	snprintf(buf, sizeof(buf), "%s", msg ? msg : "");
	l = strlen(buf);
	while (l && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
		buf[--l] = '\0';
	return *buf ? buf : "connection lost";
}

static const char *
reason(PGconn *conn)
{
	return trimmed(PQerrorMessage(conn));
}

static int
valid_label(const char *s)
{
	size_t l = s ? strlen(s) : 0;

	if (l == 0 || l >= 1024)
		return 0;
	for (; *s; s++)
		if ((unsigned char) *s < ' ' || *s == 127)
			return 0;	/* a newline would break backup_label */
	return 1;
}

static int
valid_word(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

int
basebackup_command(const struct basebackup_options *o, int server_version, char *buf, size_t size)
{
	char label[2 * 1024 + 1], *q = label, rate[64] = "";
	const char *sums = o->manifest_checksums ? o->manifest_checksums : "CRC32C";
	int n;

	if (!valid_label(o->label) || !valid_word(sums))
		return -1;
	/* The replication grammar's strings: '' is a quote, no backslash escapes. */
	for (const char *p = o->label; *p; p++) {
		if (*p == '\'')
			*q++ = '\'';
		*q++ = *p;
	}
	*q = '\0';
	if (server_version >= 150000) {
		if (o->max_rate_kb)
			snprintf(rate, sizeof(rate), ", MAX_RATE %lld", o->max_rate_kb);
		n = snprintf(buf, size,
			     "BASE_BACKUP (LABEL '%s', CHECKPOINT '%s', WAL false, WAIT true, "
			     "MANIFEST '%s', MANIFEST_CHECKSUMS '%s', TARGET 'client', PROGRESS false%s%s%s)",
			     label, o->fast_checkpoint ? "fast" : "spread",
			     o->manifest_force_encode ? "force-encode" : "yes", sums,
			     o->tablespace_map ? ", TABLESPACE_MAP true" : "",
			     o->no_verify_checksums ? ", VERIFY_CHECKSUMS false" : "", rate);
	} else {
		/* 13 and 14: the old syntax; without WAL and NOWAIT it waits, as above. */
		if (o->max_rate_kb)
			snprintf(rate, sizeof(rate), " MAX_RATE %lld", o->max_rate_kb);
		n = snprintf(buf, size, "BASE_BACKUP LABEL '%s'%s%s%s%s MANIFEST '%s' MANIFEST_CHECKSUMS '%s'",
			     label, o->fast_checkpoint ? " FAST" : "", rate,
			     o->tablespace_map ? " TABLESPACE_MAP" : "",
			     o->no_verify_checksums ? " NOVERIFY_CHECKSUMS" : "",
			     o->manifest_force_encode ? "force-encode" : "yes", sums);
	}
	return n > 0 && (size_t) n < size ? 0 : -1;
}

/* Wait until the socket is readable: 0, or -1 (logged) on timeout. */
static int
wait_readable(struct run *r, int timeout, const char *what)
{
	struct pollfd p = {.fd = PQsocket(r->conn), .events = POLLIN};
	int rc;

	if (p.fd < 0)
		return pgp_fail("base backup from %s: %s", r->where, reason(r->conn));
	do
		rc = poll(&p, 1, timeout * 1000);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return pgp_fail("base backup from %s: no answer in %d s %s", r->where, timeout, what);
	if (rc < 0)
		return pgp_fail("base backup from %s: poll: %s", r->where, strerror(errno));
	return 0;
}

/* The next result, waiting at most timeout seconds (0: forever): NULL
 * after logging when it timed out; else PQgetResult's. */
static PGresult *
next_result(struct run *r, int timeout, const char *what, int *timed_out)
{
	/* A deadline, not an idle time: the server sends a WARNING every minute
	 * while it waits for WAL to be archived, and that must not wait forever. */
	time_t end = time(NULL) + timeout;

	*timed_out = 0;
	if (timeout > 0)
		while (PQisBusy(r->conn)) {
			time_t left = end - time(NULL);

			if (left <= 0 || wait_readable(r, (int) left, what) < 0) {
				if (left <= 0)
					pgp_error("base backup from %s: no answer in %d s %s", r->where, timeout, what);
				*timed_out = 1;
				return NULL;
			}
			if (!PQconsumeInput(r->conn))
				break;
		}
	return PQgetResult(r->conn);
}

/* A result of status want, else NULL after logging. */
static PGresult *
expect(struct run *r, ExecStatusType want, int timeout, const char *what)
{
	int timed_out;
	PGresult *res = next_result(r, timeout, what, &timed_out);

	if (timed_out)
		return NULL;
	if (PQresultStatus(res) == want)
		return res;
	if (!res)
		pgp_error("base backup from %s: the server ended the command %s", r->where, what);
	else if (PQresultStatus(res) == PGRES_FATAL_ERROR &&
		 !strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "", "XX001"))
		pgp_error("base backup from %s: checksum failure in a data file: %s", r->where,
			  trimmed(PQresultErrorMessage(res)));
	else
		pgp_error("base backup from %s: %s: %s", r->where, what,
			  PQresultStatus(res) == PGRES_FATAL_ERROR ? trimmed(PQresultErrorMessage(res)) :
			  PQresStatus(PQresultStatus(res)));
	PQclear(res);
	return NULL;
}

/* One COPY message: its length, -1 at the COPY's end, -2 on error (logged). */
static int
copy_message(struct run *r, char **buf)
{
	int timeout = r->o->idle_timeout, n;

	for (;;) {
		n = PQgetCopyData(r->conn, buf, timeout > 0);
		if (n > 0 || n == -1)
			return n;
		if (n == -2) {
			pgp_error("base backup from %s: could not read COPY data: %s", r->where,
				  reason(r->conn));
			return -2;
		}
		if (wait_readable(r, timeout, "during the backup stream") < 0)
			return -2;
		if (!PQconsumeInput(r->conn)) {
			pgp_error("base backup from %s: could not read COPY data: %s", r->where,
				  reason(r->conn));
			return -2;
		}
	}
}

static unsigned
oid_of(struct run *r, const char *name, const char *location)
{
	for (size_t i = 0; i < r->info->ntablespaces; i++)
		if (r->info->tablespaces[i].location && !strcmp(r->info->tablespaces[i].location, location))
			return r->info->tablespaces[i].oid;
	return (unsigned) strtoul(name, NULL, 10);
}

static int
malformed(struct run *r, const char *msg, int len)
{
	return pgp_fail("base backup from %s: malformed COPY message of type '%c', length %d",
			r->where, len > 0 && msg[0] >= ' ' && msg[0] < 127 ? msg[0] : '?', len);
}

/* A 15+ stream message. */
static int
stream_message(struct run *r, const char *m, int len)
{
	const char *name, *loc, *end;

	switch (m[0]) {
	case 'n':
		name = m + 1;
		end = memchr(name, '\0', (size_t) (len - 1));
		if (!end)
			return malformed(r, m, len);
		loc = end + 1;
		if (loc >= m + len || !(end = memchr(loc, '\0', (size_t) (m + len - loc))) ||
		    end != m + len - 1)
			return malformed(r, m, len);
		if (r->in_manifest)
			return pgp_fail("base backup from %s: an archive after the manifest", r->where);
		if (!*name || *name == '.' || strchr(name, '/') || strchr(name, '\\'))
			return pgp_fail("base backup from %s: invalid archive name \"%s\"", r->where, name);
		r->in_archive = 1;
		if (r->cb->on_archive &&
		    r->cb->on_archive(r->arg, name, *loc ? oid_of(r, name, loc) : 0, *loc ? loc : NULL) < 0)
			return -1;
		return 0;
	case 'd':
		if (!r->in_archive && !r->in_manifest)
			return pgp_fail("base backup from %s: data before any archive", r->where);
		if (r->cb->on_data && len > 1 && r->cb->on_data(r->arg, m + 1, (size_t) (len - 1)) < 0)
			return -1;
		return 0;
	case 'p':
		if (len != 9)
			return malformed(r, m, len);
		if (r->cb->on_progress) {
			uint64_t v = 0;

			for (int i = 1; i < 9; i++)
				v = v << 8 | (unsigned char) m[i];
			if (r->cb->on_progress(r->arg, v) < 0)
				return -1;
		}
		return 0;
	case 'm':
		if (len != 1)
			return malformed(r, m, len);
		if (r->in_manifest)
			return pgp_fail("base backup from %s: a second manifest", r->where);
		r->in_archive = 0;
		r->in_manifest = 1;
		return r->cb->on_manifest_begin ? r->cb->on_manifest_begin(r->arg) : 0;
	default:
		return malformed(r, m, len);
	}
}

/* Read one COPY stream, each message to handle (or all as data). */
static int
read_copy(struct run *r, int typed)
{
	PGresult *res = expect(r, PGRES_COPY_OUT, r->o->idle_timeout, "starting the COPY stream");
	char *buf;
	int n, rc = 0;

	if (!res)
		return -1;
	PQclear(res);
	while ((n = copy_message(r, &buf)) > 0) {
		if (typed)
			rc = stream_message(r, buf, n);
		else if (r->cb->on_data)
			rc = r->cb->on_data(r->arg, buf, (size_t) n);
		PQfreemem(buf);
		if (rc < 0)
			return -1;
	}
	return n == -1 ? 0 : -1;
}

/*
 * 13 and 14 (untested here): one COPY per tablespace in the order of the
 * tablespace result, each an unterminated tar, then one for the manifest.
 */
static int
read_old_streams(struct run *r)
{
	static const char zeros[1024];
	char name[32];

	for (size_t i = 0; i < r->info->ntablespaces; i++) {
		const struct basebackup_tablespace *t = &r->info->tablespaces[i];

		if (t->location)
			snprintf(name, sizeof(name), "%u.tar", t->oid);
		else
			snprintf(name, sizeof(name), "base.tar");
		if (r->cb->on_archive && r->cb->on_archive(r->arg, name, t->oid, t->location) < 0)
			return -1;
		if (read_copy(r, 0) < 0)
			return -1;
		/* What pg_basebackup's tar terminator adds for servers before 15. */
		if (r->cb->on_data && r->cb->on_data(r->arg, zeros, sizeof(zeros)) < 0)
			return -1;
	}
	if (r->cb->on_manifest_begin && r->cb->on_manifest_begin(r->arg) < 0)
		return -1;
	return read_copy(r, 0);
}

/* An "LSN", "tli" row into lsn and tli. */
static int
lsn_row(struct run *r, PGresult *res, const char *what, uint64_t *lsn, uint32_t *tli)
{
	char *end;
	unsigned long t;

	if (PQntuples(res) != 1 || PQnfields(res) < 2 ||
	    walname_lsn_parse(PQgetvalue(res, 0, 0), lsn) < 0)
		return pgp_fail("base backup from %s: unexpected %s result", r->where, what);
	t = strtoul(PQgetvalue(res, 0, 1), &end, 10);
	if (*end || t == 0 || t > UINT32_MAX)
		return pgp_fail("base backup from %s: unexpected timeline in the %s result", r->where, what);
	*tli = (uint32_t) t;
	return 0;
}

static int
tablespaces(struct run *r, PGresult *res)
{
	int n = PQntuples(res);

	if (PQnfields(res) < 3 || n < 1)
		return pgp_fail("base backup from %s: unexpected tablespace list", r->where);
	r->info->tablespaces = calloc((size_t) n, sizeof(*r->info->tablespaces));
	if (!r->info->tablespaces)
		return pgp_fail("out of memory");
	for (int i = 0; i < n; i++) {
		struct basebackup_tablespace *t = &r->info->tablespaces[i];

		t->size_kb = PQgetisnull(res, i, 2) ? -1 : atoll(PQgetvalue(res, i, 2));
		r->info->ntablespaces = (size_t) i + 1;
		if (PQgetisnull(res, i, 0))
			continue;
		t->oid = (unsigned) strtoul(PQgetvalue(res, i, 0), NULL, 10);
		if (!(t->location = strdup(PQgetvalue(res, i, 1))))
			return pgp_fail("out of memory");
	}
	return 0;
}

/* "16MB" or "1GB", as SHOW prints wal_segment_size. */
static uint64_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (!strcmp(end, "kB"))
		return v << 10;
	if (!strcmp(end, "MB"))
		return v << 20;
	if (!strcmp(end, "GB"))
		return v << 30;
	if (!*end || !strcmp(end, "B"))
		return v;
	return 0;
}

/* IDENTIFY_SYSTEM and SHOW wal_segment_size: what the caller's manifest needs. */
static int
identify(struct run *r)
{
	PGresult *res = PQexec(r->conn, "IDENTIFY_SYSTEM");

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3) {
		pgp_error("base backup from %s: IDENTIFY_SYSTEM failed: %s", r->where,
			  PQresultStatus(res) == PGRES_TUPLES_OK ? "unexpected result" : reason(r->conn));
		pgp_hint("is it a replication connection (replication=true) as a role WITH REPLICATION?");
		PQclear(res);
		return -1;
	}
	snprintf(r->info->system_identifier, sizeof(r->info->system_identifier), "%s",
		 PQgetvalue(res, 0, 0));
	PQclear(res);
	res = PQexec(r->conn, "SHOW wal_segment_size");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    !walname_segsize_valid(r->info->wal_segment_size = parse_size(PQgetvalue(res, 0, 0)))) {
		pgp_error("base backup from %s: SHOW wal_segment_size failed: %s", r->where,
			  PQresultStatus(res) == PGRES_TUPLES_OK ? "unexpected value" : reason(r->conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* After the streams: the end position, then the command's completion. */
static int
finish(struct run *r)
{
	PGresult *res = expect(r, PGRES_TUPLES_OK, r->o->idle_timeout, "at the end of the backup");
	int timed_out;

	if (!res)
		return -1;
	if (lsn_row(r, res, "end", &r->info->end_lsn, &r->info->end_tli) < 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (!(res = expect(r, PGRES_COMMAND_OK, r->o->idle_timeout, "completing the backup")))
		return -1;
	PQclear(res);
	res = next_result(r, r->o->idle_timeout, "after the backup", &timed_out);
	if (timed_out)
		return -1;
	if (res) {
		pgp_error("base backup from %s: unexpected result after the backup: %s", r->where,
			  PQresStatus(PQresultStatus(res)));
		PQclear(res);
		return -1;
	}
	return 0;
}

int
basebackup_run(PGconn *conn, const struct basebackup_options *o,
	       const struct basebackup_callbacks *cb, void *arg, struct basebackup_info *info)
{
	struct run r = {.conn = conn, .o = o, .cb = cb, .arg = arg, .info = info};
	char cmd[4096];
	PGresult *res;

	memset(info, 0, sizeof(*info));
	pgp_conn_where(conn, r.where, sizeof(r.where));
	info->server_version = PQserverVersion(conn);
	if (info->server_version < 130000)
		return pgp_fail("base backup from %s: server version %d has no backup_manifest (13 or later needed)",
				r.where, info->server_version);
	if (basebackup_command(o, info->server_version, cmd, sizeof(cmd)) < 0)
		return pgp_fail("base backup from %s: invalid label or manifest checksum algorithm", r.where);
	if (identify(&r) < 0)
		return -1;
	if (!PQsendQuery(conn, cmd))
		return pgp_fail("base backup from %s: could not send BASE_BACKUP: %s", r.where, reason(conn));
	if (!(res = expect(&r, PGRES_TUPLES_OK, o->start_timeout, "starting the backup (checkpoint)")))
		return -1;
	if (lsn_row(&r, res, "start", &info->start_lsn, &info->start_tli) < 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (!(res = expect(&r, PGRES_TUPLES_OK, o->idle_timeout, "reading the tablespace list")))
		return -1;
	if (tablespaces(&r, res) < 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (cb->on_begin && cb->on_begin(arg, info) < 0)
		return -1;
	if (info->server_version >= 150000 ? read_copy(&r, 1) : read_old_streams(&r))
		return -1;
	if (info->server_version >= 150000 && !r.in_manifest)
		return pgp_fail("base backup from %s: the stream ended without a manifest", r.where);
	if (finish(&r) < 0)
		return -1;
	return cb->on_end ? cb->on_end(arg, info) : 0;
}

void
basebackup_info_free(struct basebackup_info *info)
{
	for (size_t i = 0; i < info->ntablespaces; i++)
		free(info->tablespaces[i].location);
	free(info->tablespaces);
	info->tablespaces = NULL;
	info->ntablespaces = 0;
}
