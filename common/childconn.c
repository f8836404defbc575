/*
 * A connection's options as a one-service pg_service.conf for a child.
 *
 * libpq reads a service file line by line (parseServiceFile in
 * fe-connect.c): white space at both ends of a line is dropped, a line
 * starting with '#' is a comment, the key runs to the first '=' and the
 * value is the rest of the line, taken literally: no quoting, no escapes.
 * So spaces, quotes, '=', '#' and backslashes inside a value survive, but
 * a newline or trailing white space cannot be written, and libpq up to 17
 * refuses a line of 1023 bytes or more (it reads into a 1024-byte buffer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "childconn.h"
#include "log.h"

#define SERVICE_NAME "pgp"
/* "key=value" without its newline: libpq's fgets buffer less newline and NUL. */
#define MAX_LINE 1021
/* About 45 options of one line each, with room to spare. */
#define MAX_TEXT (64 * MAX_LINE)

struct text {
	char *buf;
	size_t len;
};

static int
value_ok(const char *key, const char *val)
{
	size_t len = strlen(val);

	/* Name the option, never show the value: it may be the password. */
	if (strchr(val, '\n'))
		return pgp_fail("connection option \"%s\" holds a newline, which a service file cannot carry", key);
	if (len && strchr(" \t\v\f\r", val[len - 1]))
		return pgp_fail("connection option \"%s\" ends in white space, which a service file would drop", key);
	if (strlen(key) + 1 + len > MAX_LINE)
		return pgp_fail("connection option \"%s\" is too long for a service file line (%d bytes at most)",
				key, MAX_LINE);
	return 0;
}

static int
add_line(struct text *t, const char *key, const char *val)
{
	int n;

	if (value_ok(key, val) < 0)
		return -1;
	n = snprintf(t->buf + t->len, MAX_TEXT - t->len, "%s=%s\n", key, val);
	if (n < 0 || (size_t) n >= MAX_TEXT - t->len)
		return pgp_fail("connection options too long for a service file");
	t->len += (size_t) n;
	return 0;
}

/*
 * With several hosts (host=a,b), a child could land on another server than
 * ours, where pg_dump --snapshot cannot import our snapshot: give it the
 * one we are connected to.  NULL when val stands as it is.
 */
static const char *
pinned(PGconn *conn, const char *key, int multi_host)
{
	if (!multi_host || PQstatus(conn) != CONNECTION_OK)
		return NULL;
	if (strcmp(key, "host") == 0)
		return PQhost(conn);
	if (strcmp(key, "hostaddr") == 0)
		return PQhostaddr(conn);
	if (strcmp(key, "port") == 0)
		return PQport(conn);
	return NULL;
}

static int
is_multi_host(const PQconninfoOption *opts)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && strchr(o->val, ',') &&
		    (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0))
			return 1;
	return 0;
}

/*
 * Every non-empty option but service (libpq refuses a nested one) and
 * dbname (ours).  A password libpq found in the passfile is not among the
 * options but is in PQpass: the child needs it as well, since a .pgpass
 * line for our database may not match the one it is given.
 */
static int
service_text(PGconn *conn, const char *dbname, struct text *t)
{
	PQconninfoOption *opts = PQconninfo(conn);
	int rc = -1, multi, have_password = 0;

	if (!opts)
		return pgp_fail("out of memory");
	multi = is_multi_host(opts);
	t->len = (size_t) snprintf(t->buf, MAX_TEXT, "# one child's connection, from pgp; removed after it\n[%s]\n",
				   SERVICE_NAME);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *val = o->val && *o->val ? pinned(conn, o->keyword, multi) : NULL;

		if (!val)
			val = o->val;
		if (!val || !*val || strcmp(o->keyword, "service") == 0 || strcmp(o->keyword, "dbname") == 0)
			continue;
		if (add_line(t, o->keyword, val) < 0)
			goto cleanup;
		have_password |= strcmp(o->keyword, "password") == 0;
	}
	if (!have_password && PQpass(conn) && *PQpass(conn) && add_line(t, "password", PQpass(conn)) < 0)
		goto cleanup;
	rc = add_line(t, "dbname", dbname ? dbname : PQdb(conn));
cleanup:
	PQconninfoFree(opts);
	return rc;
}

static int
make_dir(struct pgp_childconn *cc)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(cc->dir, sizeof(cc->dir), "%s/pgp-conn.XXXXXX", tmp);
	/* mkdtemp makes it 0700: no one else may even list it. */
	if (!mkdtemp(cc->dir)) {
		cc->dir[0] = '\0';
		return pgp_fail("cannot create a private directory in %s: %s", tmp, strerror(errno));
	}
	return 0;
}

static int
write_file(struct pgp_childconn *cc, const struct text *t)
{
	size_t done = 0;
	int fd, rc = 0;

	snprintf(cc->path, sizeof(cc->path), "%s/pg_service.conf", cc->dir);
	fd = open(cc->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		cc->path[0] = '\0';
		return pgp_fail("cannot create a service file in %s: %s", cc->dir, strerror(errno));
	}
	while (rc == 0 && done < t->len) {
		ssize_t n = write(fd, t->buf + done, t->len - done);

		if (n < 0 && errno != EINTR)
			rc = pgp_fail("cannot write %s: %s", cc->path, strerror(errno));
		else if (n > 0)
			done += (size_t) n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = pgp_fail("cannot write %s: %s", cc->path, strerror(errno));
	return rc;
}

/* The files that exist now, for pgp_childconn_remove_all() in a signal handler. */
#define MAX_LIVE 8
static struct pgp_childconn *volatile live[MAX_LIVE];

static void
track(struct pgp_childconn *cc, int on)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (on ? !live[i] : live[i] == cc) {
			live[i] = on ? cc : NULL;
			return;
		}
}

void
pgp_childconn_remove_all(void)
{
	/* unlink and rmdir only: safe in a signal handler. */
	for (int i = 0; i < MAX_LIVE; i++) {
		struct pgp_childconn *cc = live[i];

		if (!cc)
			continue;
		if (cc->path[0])
			unlink(cc->path);
		if (cc->dir[0])
			rmdir(cc->dir);
	}
}

int
pgp_childconn_write(PGconn *conn, const char *dbname, struct pgp_childconn *cc)
{
	struct text t = {malloc(MAX_TEXT), 0};
	int rc = -1;

	memset(cc, 0, sizeof(*cc));
	if (!t.buf) {
		pgp_error("out of memory");
		goto cleanup;
	}
	/* Check every value before anything reaches the disk. */
	if (service_text(conn, dbname, &t) < 0 || make_dir(cc) < 0)
		goto cleanup;
	track(cc, 1);
	if (write_file(cc, &t) < 0)
		goto cleanup;
	snprintf(cc->env, sizeof(cc->env), "PGSERVICEFILE=%s", cc->path);
	snprintf(cc->conninfo, sizeof(cc->conninfo), "service=%s", SERVICE_NAME);
	rc = 0;
cleanup:
	if (t.buf) {
		/* It held the password. */
		explicit_bzero(t.buf, MAX_TEXT);
		free(t.buf);
	}
	if (rc < 0)
		pgp_childconn_remove(cc);
	return rc;
}

void
pgp_childconn_remove(struct pgp_childconn *cc)
{
	if (!cc)
		return;
	track(cc, 0);
	if (cc->path[0] && unlink(cc->path) != 0 && errno != ENOENT)
		pgp_warning("cannot remove %s: %s", cc->path, strerror(errno));
	if (cc->dir[0] && rmdir(cc->dir) != 0 && errno != ENOENT)
		pgp_warning("cannot remove %s: %s", cc->dir, strerror(errno));
	memset(cc, 0, sizeof(*cc));
}
