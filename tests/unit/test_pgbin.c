/*
 * The program locator against fabricated roots: the configured place,
 * Debian's per-version directories (the server's major, else the newest),
 * PATH, and what "not found" says.
 *
 * Run with arguments it is the tests' own door to the locator, so the
 * integration scripts find programs exactly as pgp does:
 *   test_pgbin --find NAME [BINDIR]   prints the path (exit 0), or says why not (exit 1)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pgbin.h"
#include "tap.h"
#include "testutil.h"

static void
program(const char *root, const char *rel, mode_t mode)
{
	char path[PATH_MAX];

	put_file(root, rel, "#!/bin/sh\n");
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	chmod(path, mode);
}

/* Find name; the path below root (without it) or "" when not found. */
static const char *
find(const char *root, const char *bindir, const char *pgbouncer, int major, const char *name)
{
	static char rel[PATH_MAX];
	struct pgp_pgbin where = {root, bindir, pgbouncer, major};
	char buf[PATH_MAX];
	size_t n = strlen(root);

	if (pgp_pgbin_find(&where, name, buf, sizeof(buf)) < 0)
		return "";
	snprintf(rel, sizeof(rel), "%s", strncmp(buf, root, n) == 0 ? buf + n : buf);
	return rel;
}

static int
cli(int argc, char **argv)
{
	struct pgp_pgbin where = {NULL, argc > 3 ? argv[3] : NULL, NULL, 0};
	char buf[PATH_MAX];

	pgp_log_init("pgp-locate");
	if (argc < 3 || argc > 4 || strcmp(argv[1], "--find") != 0) {
		fprintf(stderr, "usage: %s --find NAME [BINDIR]\n", argv[0]);
		return 2;
	}
	if (pgp_pgbin_find(&where, argv[2], buf, sizeof(buf)) < 0)
		return 1;
	printf("%s\n", buf);
	return 0;
}

int
main(int argc, char **argv)
{
	char *root, path[PATH_MAX], small[8];
	struct pgp_pgbin where;
	char *saved_path;

	if (argc > 1)
		return cli(argc, argv);
	pgp_log_init("pgp-test");
	saved_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	root = make_tmpdir();
	program(root, "usr/lib/postgresql/13/bin/initdb", 0755);
	program(root, "usr/lib/postgresql/15/bin/initdb", 0755);
	program(root, "usr/lib/postgresql/15/bin/pg_ctl", 0755);
	program(root, "usr/lib/postgresql/16/bin/pg_dump", 0755);
	program(root, "usr/lib/postgresql/17/bin/initdb", 0644);	/* not executable */
	mkdirs(strcat(strcpy(path, root), "/usr/lib/postgresql/18/bin/initdb"));	/* a directory */
	program(root, "usr/lib/postgresql/9.6/bin/initdb", 0755);	/* not a major of ours */
	program(root, "usr/lib/postgresql/latest/bin/initdb", 0755);
	program(root, "path1/initdb", 0755);
	program(root, "path2/pg_restore", 0755);
	program(root, "path2/pgbouncer", 0755);
	program(root, "conf/bin/initdb", 0755);
	program(root, "opt/pgbouncer/bin/pgbouncer", 0755);
	snprintf(path, sizeof(path), "%s/path1:%s/path2", root, root);
	setenv("PATH", path, 1);

	/* The server's major version. */
	is_str(find(root, NULL, NULL, 15, "initdb"), "/usr/lib/postgresql/15/bin/initdb", "major 15: Debian's 15");
	is_str(find(root, NULL, NULL, 13, "initdb"), "/usr/lib/postgresql/13/bin/initdb", "major 13: Debian's 13");
	is_str(find(root, NULL, NULL, 16, "pg_dump"), "/usr/lib/postgresql/16/bin/pg_dump", "major 16: pg_dump 16");
	is_str(find(root, NULL, NULL, 14, "initdb"), "/path1/initdb", "major 14 not installed: PATH");
	is_str(find(root, NULL, NULL, 17, "initdb"), "/path1/initdb", "a file without x is no program");
	is_str(find(root, NULL, NULL, 18, "initdb"), "/path1/initdb", "a directory is no program");
	is_str(find(root, NULL, NULL, 15, "pg_restore"), "/path2/pg_restore", "every PATH entry is tried, in order");

	/* No major: the newest installed, numbers compared as numbers. */
	is_str(find(root, NULL, NULL, 0, "initdb"), "/usr/lib/postgresql/15/bin/initdb",
	       "no major: the newest version that has it (not 17's file, 18's directory, 9.6 or latest)");
	is_str(find(root, NULL, NULL, 0, "pg_dump"), "/usr/lib/postgresql/16/bin/pg_dump", "no major: pg_dump from 16");
	is_str(find(root, NULL, NULL, 0, "pg_ctl"), "/usr/lib/postgresql/15/bin/pg_ctl", "no major: pg_ctl from 15");

	/* The configured directory wins, and is then the only place. */
	snprintf(path, sizeof(path), "%s/conf/bin", root);
	is_str(find(root, path, NULL, 15, "initdb"), "/conf/bin/initdb", "configured directory first");
	is_str(find(root, "", NULL, 15, "initdb"), "/usr/lib/postgresql/15/bin/initdb", "an empty one is none");
	is_str(find(root, path, NULL, 15, "pg_ctl"), "", "a program missing there is not found elsewhere");
	ok(strstr(pgp_log_last_error(), "cannot find pg_ctl in ") &&
	   strstr(pgp_log_last_error(), "/conf/bin, the configured directory"),
	   "which names the configured directory: %s", pgp_log_last_error());

	/* Not found names what and every place. */
	is_str(find(root, NULL, NULL, 14, "pg_dumpall"), "", "not found");
	ok(strstr(pgp_log_last_error(), "cannot find pg_dumpall: looked in ") &&
	   strstr(pgp_log_last_error(), "/usr/lib/postgresql/14/bin and in PATH (") &&
	   strstr(pgp_log_last_error(), "/path1:"),
	   "naming the version's directory and PATH: %s", pgp_log_last_error());
	is_str(find(root, NULL, NULL, 0, "pg_dumpall"), "", "not found without a major");
	ok(strstr(pgp_log_last_error(), "/usr/lib/postgresql/*/bin and in PATH"),
	   "naming every version's directory: %s", pgp_log_last_error());

	/* PgBouncer: configured, Debian's /usr/sbin, PATH. */
	is_str(find(root, NULL, NULL, 15, "pgbouncer"), "/path2/pgbouncer", "pgbouncer from PATH without /usr/sbin's");
	program(root, "usr/sbin/pgbouncer", 0755);
	is_str(find(root, NULL, NULL, 15, "pgbouncer"), "/usr/sbin/pgbouncer", "Debian's /usr/sbin/pgbouncer before PATH");
	snprintf(path, sizeof(path), "%s/opt/pgbouncer/bin/pgbouncer", root);
	is_str(find(root, NULL, path, 15, "pgbouncer"), "/opt/pgbouncer/bin/pgbouncer", "the configured one first");
	is_str(find(root, NULL, "pgbouncer", 15, "pgbouncer"), "/path2/pgbouncer", "a configured bare name is looked up in PATH");
	snprintf(path, sizeof(path), "%s/opt/none", root);
	is_str(find(root, NULL, path, 15, "pgbouncer"), "", "a configured one that is not there");
	ok(strstr(pgp_log_last_error(), "/opt/none\" is not an executable program"),
	   "is an error naming it: %s", pgp_log_last_error());
	snprintf(path, sizeof(path), "%s/usr/sbin/pgbouncer", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/path2/pgbouncer", root);
	unlink(path);
	is_str(find(root, NULL, NULL, 15, "pgbouncer"), "", "no pgbouncer anywhere");
	ok(strstr(pgp_log_last_error(), "cannot find pgbouncer: looked for ") &&
	   strstr(pgp_log_last_error(), "/usr/sbin/pgbouncer and in PATH ("),
	   "naming /usr/sbin/pgbouncer and PATH: %s", pgp_log_last_error());

	/* An empty PATH is execvp's default, not "nowhere". */
	unsetenv("PATH");
	ok(strcmp(find(root, NULL, NULL, 14, "sh"), "/usr/bin/sh") == 0 || strcmp(find(root, NULL, NULL, 14, "sh"), "/bin/sh") == 0,
	   "no PATH: /usr/local/bin:/usr/bin:/bin");

	/* A buffer too small is an error, never a truncated path. */
	where = (struct pgp_pgbin) {root, NULL, NULL, 15};
	ok(pgp_pgbin_find(&where, "initdb", small, sizeof(small)) < 0, "a path longer than the buffer is an error");

	/* A data directory's major version. */
	put_file(root, "d15/PG_VERSION", "15\n");
	put_file(root, "d96/PG_VERSION", "9.6\n");
	put_file(root, "dbad/PG_VERSION", "15beta\n");
	snprintf(path, sizeof(path), "%s/d15", root);
	is_int(pgp_pgbin_data_major(path), 15, "PG_VERSION 15");
	snprintf(path, sizeof(path), "%s/d96", root);
	is_int(pgp_pgbin_data_major(path), 0, "PG_VERSION 9.6 is no major of ours");
	snprintf(path, sizeof(path), "%s/dbad", root);
	is_int(pgp_pgbin_data_major(path), 0, "a malformed PG_VERSION");
	snprintf(path, sizeof(path), "%s/none", root);
	is_int(pgp_pgbin_data_major(path), 0, "no data directory");

	if (saved_path)
		setenv("PATH", saved_path, 1);
	free(saved_path);
	rm_rf(root);
	free(root);
	return done_testing();
}
