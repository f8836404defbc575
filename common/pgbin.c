/*
 * Finding PostgreSQL's programs and PgBouncer (pgbin.h).  Debian installs
 * each server major version's programs in /usr/lib/postgresql/MAJOR/bin
 * and PgBouncer in /usr/sbin, neither on an ordinary user's PATH; its
 * /usr/bin holds only pg_wrapper's links (psql, pg_dump...), which pick a
 * version by themselves.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pgbin.h"

#define DEBIAN_PG "/usr/lib/postgresql"
#define DEBIAN_PGBOUNCER "/usr/sbin/pgbouncer"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static const char *
root_prefix(const struct pgp_pgbin *where)
{
	const char *root = where->root;

	return !root || !*root || strcmp(root, "/") == 0 ? "" : root;
}

/* A regular file we may execute. */
static int
is_program(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* dir/name into buf when it is a program there: 1, 0, or -1 (too long, logged). */
static int
try_in(const char *dir, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t) n >= size)
		return pgp_fail("path too long: %s/%s", dir, name);
	return is_program(buf) ? 1 : 0;
}

static const char *
search_path(void)
{
	const char *path = getenv("PATH");

	return path && *path ? path : DEFAULT_PATH;
}

/* name in one of PATH's directories (an empty entry is ".", as for execvp). */
static int
try_path(const char *name, char *buf, size_t size)
{
	const char *p = search_path();

	while (1) {
		size_t len = strcspn(p, ":");
		char dir[4096];
		int rc;

		snprintf(dir, sizeof(dir), "%.*s", (int) len, len ? p : ".");
		if ((rc = try_in(dir, name, buf, size)) != 0)
			return rc;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* The newest major version under DEBIAN_PG with name in its bin/: 1, 0 or -1. */
static int
try_debian_newest(const char *prefix, const char *name, char *buf, size_t size)
{
	char base[4096], dir[4096];
	struct dirent *e;
	DIR *d;
	long best = 0;

	snprintf(base, sizeof(base), "%s%s", prefix, DEBIAN_PG);
	if (!(d = opendir(base)))
		return 0;
	while ((e = readdir(d))) {
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end || v <= best || e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "%s/%ld/bin", base, v);
		if (try_in(dir, name, buf, size) == 1)
			best = v;
	}
	closedir(d);
	if (!best)
		return 0;
	snprintf(dir, sizeof(dir), "%s/%ld/bin", base, best);
	return try_in(dir, name, buf, size);
}

static int
find_pgbouncer(const struct pgp_pgbin *where, char *buf, size_t size)
{
	const char *prefix = root_prefix(where);
	char debian[4096];
	int rc;

	if (where->pgbouncer && *where->pgbouncer) {
		const char *c = where->pgbouncer;

		/* A bare name is looked for in PATH, as a shell would. */
		if (!strchr(c, '/'))
			rc = try_path(c, buf, size);
		else if ((rc = snprintf(buf, size, "%s", c)) < 0 || (size_t) rc >= size)
			return pgp_fail("path too long: %s", c);
		else
			rc = is_program(buf);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			pgp_error("cannot find PgBouncer: the configured \"%s\" is not an executable program", c);
			pgp_hint("correct programs.pgbouncer in the configuration, or remove it to use %s",
				 DEBIAN_PGBOUNCER);
			return -1;
		}
		return 0;
	}
	snprintf(debian, sizeof(debian), "%s%s", prefix, DEBIAN_PGBOUNCER);
	if (is_program(debian)) {
		snprintf(buf, size, "%s", debian);
		return strlen(debian) < size ? 0 : pgp_fail("path too long: %s", debian);
	}
	if ((rc = try_path("pgbouncer", buf, size)) != 0)
		return rc < 0 ? -1 : 0;
	pgp_error("cannot find pgbouncer: looked for %s and in PATH (%s)", debian, search_path());
	pgp_hint("install Debian's pgbouncer package, or name the program in the configuration "
		 "(programs.pgbouncer)");
	return -1;
}

int
pgp_pgbin_find(const struct pgp_pgbin *where, const char *name, char *buf, size_t size)
{
	const char *prefix = root_prefix(where);
	char dir[4096];
	int rc;

	if (strcmp(name, "pgbouncer") == 0)
		return find_pgbouncer(where, buf, size);
	if (where->bindir && *where->bindir) {
		if ((rc = try_in(where->bindir, name, buf, size)) != 0)
			return rc < 0 ? -1 : 0;
		pgp_error("cannot find %s in %s, the configured directory of PostgreSQL's programs",
			  name, where->bindir);
		pgp_hint("correct that setting, or remove it to use %s/MAJOR/bin", DEBIAN_PG);
		return -1;
	}
	if (where->major > 0) {
		snprintf(dir, sizeof(dir), "%s%s/%d/bin", prefix, DEBIAN_PG, where->major);
		rc = try_in(dir, name, buf, size);
	} else {
		snprintf(dir, sizeof(dir), "%s%s/*/bin", prefix, DEBIAN_PG);
		rc = try_debian_newest(prefix, name, buf, size);
	}
	if (rc == 0)
		rc = try_path(name, buf, size);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	pgp_error("cannot find %s: looked in %s and in PATH (%s)", name, dir, search_path());
	if (where->major > 0)
		pgp_hint("install Debian's postgresql-%d (the server's major version), or name the "
			 "directory of its programs in the configuration (programs.pg_bindir)", where->major);
	else
		pgp_hint("install Debian's postgresql-15 (or another version), or name the directory "
			 "of PostgreSQL's programs in the configuration (programs.pg_bindir)");
	return -1;
}

int
pgp_pgbin_data_major(const char *datadir)
{
	char path[4096], text[16] = "";
	FILE *f;
	int major;

	snprintf(path, sizeof(path), "%s/PG_VERSION", datadir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	/* "15", or "9.6" before PostgreSQL 10: its major is 9.6, never ours. */
	major = atoi(text);
	return major >= 10 && strspn(text, "0123456789") == strcspn(text, "\n") ? major : 0;
}
