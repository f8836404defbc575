/*
 * The process runner and the child connection file: what a child gets
 * (environment, argv, descriptors), what we get back (status, stderr,
 * pipes), and a service file libpq reads back into the same options.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "atomicfile.h"
#include "childconn.h"
#include "log.h"
#include "spawn.h"
#include "tap.h"
#include "testutil.h"

/* Run argv with stdout into out (NUL-terminated); pgp_spawn_finish's result. */
static int
capture(char *const argv[], const char *const *env, char *out, size_t size)
{
	struct pgp_spawn_opts o = {.out = PGP_SPAWN_PIPE, .env = env};
	struct pgp_child *c = pgp_spawn_start(argv, &o);
	size_t len = 0;
	ssize_t n = 1;

	out[0] = '\0';
	if (!c)
		return -2;
	while (len < size - 1 && (n = pgp_spawn_read(c, out + len, size - 1 - len)) > 0)
		len += (size_t) n;
	out[len] = '\0';
	return pgp_spawn_finish(c);
}

/* Is every line NAME=value of env's output a name the child may see? */
static int
env_names_allowed(const char *text)
{
	static const char *const ok_names[] = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
		"PGSERVICEFILE", NULL};

	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "=");
		int hit = strncmp(line, "LC_", 3) == 0;

		for (const char *const *n = ok_names; *n && !hit; n++)
			hit = strlen(*n) == len && strncmp(line, *n, len) == 0;
		if (!hit) {
			printf("#   unexpected: %.*s\n", (int) strcspn(line, "\n"), line);
			return 0;
		}
	}
	return 1;
}

static int
count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		n += strncmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

static void
test_environment(void)
{
	char out[65536];
	char *argv[] = {(char *) "/usr/bin/env", NULL};
	const char *extra[] = {"PGSERVICEFILE=/tmp/x dir/pg_service.conf", "TZ=Europe/Paris", NULL};

	setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-aws", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAPOISON", 1);
	setenv("PGPASSWORD", "s3cr3t-pg", 1);
	setenv("PGHOST", "poison-host", 1);
	setenv("FOO", "bar", 1);
	setenv("LC_ALL", "C", 1);
	setenv("TZ", "UTC", 1);
	is_int(capture(argv, extra, out, sizeof(out)), 0, "env runs");
	ok(env_names_allowed(out), "the child sees only allowlisted names and what we added");
	ok(!strstr(out, "s3cr3t") && !strstr(out, "AKIA") && !strstr(out, "poison"), "no secret of ours reaches it");
	ok(!strstr(out, "FOO=") && !strstr(out, "PGPASSWORD") && !strstr(out, "PGHOST"), "no FOO, no PG* of ours");
	ok(strstr(out, "PGSERVICEFILE=/tmp/x dir/pg_service.conf\n") != NULL, "an added variable arrives intact");
	is_int(count_lines_starting(out, "TZ="), 1, "an added variable overrides ours, once");
	ok(strstr(out, "TZ=Europe/Paris\n") != NULL, "with the added value");
	ok(strstr(out, "LC_ALL=C\n") && count_lines_starting(out, "PATH=") == 1, "LC_* and PATH pass");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("PGPASSWORD");
	unsetenv("PGHOST");
	unsetenv("FOO");
}

/* The child's argv, as the kernel holds it, against ours. */
static void
test_argv(void)
{
	char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) "read x; exit 0", (char *) "sh",
		(char *) "a b", (char *) "", (char *) "'single'", (char *) "\"double\"", (char *) "$HOME *",
		(char *) "back\\slash", (char *) "tab\there", (char *) "new\nline", (char *) "\xc3\xa9", NULL};
	struct pgp_spawn_opts o = {.in = PGP_SPAWN_PIPE};
	struct pgp_child *c = pgp_spawn_start(argv, &o);
	char path[64], got[4096], want[4096];
	size_t wlen = 0, glen = 0;
	FILE *f;

	for (char **a = argv; *a; a++) {
		memcpy(want + wlen, *a, strlen(*a) + 1);
		wlen += strlen(*a) + 1;
	}
	ok(c != NULL, "sh starts");
	if (!c)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pgp_spawn_pid(c));
	f = fopen(path, "r");
	if (f) {
		glen = fread(got, 1, sizeof(got), f);
		fclose(f);
	}
	ok(glen == wlen && memcmp(got, want, wlen) == 0, "argv arrives byte for byte (spaces, quotes, empty, newline)");
	is_int(pgp_spawn_close_stdin(c), 0, "close its stdin");
	is_int(pgp_spawn_finish(c), 0, "and it ends well");
}

static void
test_status(void)
{
	char *fail[] = {(char *) "/bin/sh", (char *) "-c",
		(char *) "echo 'boom: it \"broke\"' >&2; echo second line >&2; exit 3", NULL};
	char *killed[] = {(char *) "/bin/sh", (char *) "-c", (char *) "echo dying >&2; kill -9 $$", NULL};
	char *quiet[] = {(char *) "/bin/sh", (char *) "-c", (char *) "kill -9 $$", NULL};
	char *missing[] = {(char *) "no-such-program-pgp", NULL};
	char *badpath[] = {(char *) "/nonexistent/pgp-tool", NULL};
	char *notexec[] = {(char *) "/etc/passwd", NULL};

	is_int(pgp_spawn_run(fail, NULL), -1, "exit 3 is a failure");
	is_str(pgp_log_last_error(), "sh failed (exit 3): boom: it \"broke\"", "message quotes the first stderr line");
	is_int(pgp_spawn_wait(pgp_spawn_start(fail, NULL)), 3, "pgp_spawn_wait gives the exit status");
	is_int(pgp_spawn_run(killed, NULL), -1, "a kill is a failure");
	is_str(pgp_log_last_error(), "sh was killed by signal 9: dying", "message names the signal");
	is_int(pgp_spawn_run(quiet, NULL), -1, "a silent kill too");
	is_str(pgp_log_last_error(), "sh was killed by signal 9", "message without stderr");
	is_int(pgp_spawn_wait(pgp_spawn_start(quiet, NULL)), 128 + 9, "pgp_spawn_wait gives 128+signal");
	ok(pgp_spawn_start(missing, NULL) == NULL, "a program not in PATH does not start");
	is_str(pgp_log_last_error(), "cannot run no-such-program-pgp: not found in PATH", "and says so");
	ok(pgp_spawn_start(badpath, NULL) == NULL, "a missing path does not start");
	is_str(pgp_log_last_error(), "cannot run /nonexistent/pgp-tool: No such file or directory",
	       "exec's errno comes back to the parent");
	ok(pgp_spawn_start(notexec, NULL) == NULL, "a file that is not executable does not start");
	is_int(pgp_spawn_finish(NULL), -1, "finish(NULL) is a failure, quietly");
}

static void
test_stop(void)
{
	char *argv[] = {(char *) "cat", NULL};
	struct pgp_spawn_opts o = {.in = PGP_SPAWN_PIPE};
	struct pgp_child *c = pgp_spawn_start(argv, &o);

	pgp_error("marker");
	pgp_spawn_stop(c);
	is_int(pgp_spawn_finish(c), -1, "a child we stopped is a failure");
	is_str(pgp_log_last_error(), "marker", "with no second message");
}

static void
test_pipes(void)
{
	char *cat[] = {(char *) "cat", NULL};
	char *truth[] = {(char *) "/bin/true", NULL};
	struct pgp_spawn_opts o = {.in = PGP_SPAWN_PIPE, .out = PGP_SPAWN_PIPE};
	static char data[50000], back[60000], big[1 << 20];
	struct pgp_child *c;
	size_t len = 0;
	ssize_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char) (i * 7);
	c = pgp_spawn_start(cat, &o);
	is_int(pgp_spawn_write(c, data, sizeof(data)), 0, "write 50000 bytes to cat");
	is_int(pgp_spawn_close_stdin(c), 0, "close its input");
	while ((n = pgp_spawn_read(c, back + len, sizeof(back) - len)) > 0)
		len += (size_t) n;
	ok(len == sizeof(data) && memcmp(back, data, len) == 0, "the same bytes come back (NULs included)");
	is_int(pgp_spawn_finish(c), 0, "cat ends well");

	/* SIGPIPE at its default: were it raised, this test would die here. */
	signal(SIGPIPE, SIG_DFL);
	c = pgp_spawn_start(truth, &o);
	is_int(pgp_spawn_write(c, big, sizeof(big)), -1, "writing to a child that exits fails");
	is_str(pgp_log_last_error(), "true stopped reading its input", "reported as EPIPE");
	ok(1, "and we are still alive");
	is_int(pgp_spawn_finish(c), 0, "the child itself exited 0");
}

/* The descriptors of a running process, as "0 1 2". */
static void
fds_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	int fds[64], n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	buf[0] = '\0';
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) && n < 64)
		if (e->d_name[0] != '.')
			fds[n++] = atoi(e->d_name);
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (fds[j] < fds[i]) {
				int t = fds[i];

				fds[i] = fds[j];
				fds[j] = t;
			}
	for (int i = 0; i < n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%d", i ? " " : "", fds[i]);
}

/* A line through cat: once it answers, it is past its start-up. */
static int
ping(struct pgp_child *c)
{
	char buf[8];

	return pgp_spawn_write(c, "x\n", 2) == 0 && pgp_spawn_read(c, buf, sizeof(buf)) == 2;
}

static void
test_fd_hygiene(void)
{
	char *cat[] = {(char *) "cat", NULL};
	struct pgp_spawn_opts o = {.in = PGP_SPAWN_PIPE, .out = PGP_SPAWN_PIPE};
	struct pgp_child *a, *b;
	int file = open("/etc/passwd", O_RDONLY), p[2], sock = socket(AF_UNIX, SOCK_STREAM, 0);
	char fds[256];

	/* Descriptors without close-on-exec, as a careless library leaves them. */
	if (pipe(p) != 0)
		p[0] = p[1] = -1;
	a = pgp_spawn_start(cat, &o);
	b = pgp_spawn_start(cat, &o);
	ok(a && b && ping(a) && ping(b), "two cats running side by side");
	fds_of(pgp_spawn_pid(b), fds, sizeof(fds));
	is_str(fds, "0 1 2", "the second holds only its stdin, stdout, stderr");
	fds_of(pgp_spawn_pid(a), fds, sizeof(fds));
	is_str(fds, "0 1 2", "so does the first");
	pgp_spawn_close_stdin(a);
	is_int(pgp_spawn_finish(a), 0, "the first sees its end of input (no copy of its pipe elsewhere)");
	is_int(pgp_spawn_finish(b), 0, "the second ends too");
	close(file);
	close(sock);
	close(p[0]);
	close(p[1]);
}

static void
test_legacy(const char *dir)
{
	char log[600], *text;
	size_t len;
	struct stat st;
	char *argv[] = {(char *) "sh", (char *) "-c", (char *) "echo out; echo err >&2; exit 4", NULL};
	char *killed[] = {(char *) "sh", (char *) "-c", (char *) "kill -9 $$", NULL};
	char *missing[] = {(char *) "/nonexistent/initdb", NULL};
	char *ok_argv[] = {(char *) "true", NULL};

	snprintf(log, sizeof(log), "%s/spawn.log", dir);
	is_int(pgp_spawn(argv, NULL, log), 4, "pgp_spawn returns the exit status");
	is_int(pgp_spawn(argv, NULL, log), 4, "twice");
	ok(pgp_read_file(log, &text, &len) == 0 && strcmp(text, "out\nerr\nout\nerr\n") == 0,
	   "stdout and stderr appended to the log");
	free(text);
	ok(stat(log, &st) == 0 && (st.st_mode & 0777) == 0600, "the log is created 0600");
	is_int(pgp_spawn(killed, NULL, NULL), 128 + 9, "128+signal for a kill");
	is_int(pgp_spawn(missing, NULL, log), -1, "-1 when it cannot start");
	is_int(pgp_spawn(ok_argv, NULL, NULL), 0, "0 for success, output discarded");
}

static void
test_os_user(void)
{
	struct passwd *pw = getpwnam("postgres");
	char *id[] = {(char *) "id", (char *) "-u", NULL};
	char *env[] = {(char *) "/usr/bin/env", NULL};
	struct pgp_spawn_opts o = {.out = PGP_SPAWN_PIPE, .os_user = "postgres"};
	char out[4096], want[600];
	struct pgp_child *c;
	ssize_t n;

	if (geteuid() != 0 || !pw) {
		ok(1, "# SKIP switching user needs root and a postgres user");
		ok(1, "# SKIP switching user needs root and a postgres user");
		return;
	}
	c = pgp_spawn_start(id, &o);
	n = c ? pgp_spawn_read(c, out, sizeof(out) - 1) : -1;
	out[n > 0 ? n : 0] = '\0';
	pgp_spawn_finish(c);
	snprintf(want, sizeof(want), "%d\n", (int) pw->pw_uid);
	is_str(out, want, "runs as the OS user");
	c = pgp_spawn_start(env, &o);
	n = c ? pgp_spawn_read(c, out, sizeof(out) - 1) : -1;
	out[n > 0 ? n : 0] = '\0';
	pgp_spawn_finish(c);
	snprintf(want, sizeof(want), "HOME=%s\n", pw->pw_dir);
	ok(strstr(out, want) != NULL, "with that user's HOME");
}

/* Same non-empty options in both, dbname apart; prints the first difference. */
static int
same_options(PGconn *a, PGconn *b, const char *dbname)
{
	PQconninfoOption *oa = PQconninfo(a), *ob = PQconninfo(b);
	int same = oa && ob;

	for (int i = 0; same && oa[i].keyword; i++) {
		const char *va = oa[i].val ? oa[i].val : "", *vb = "";

		for (int j = 0; ob[j].keyword; j++)
			if (strcmp(ob[j].keyword, oa[i].keyword) == 0)
				vb = ob[j].val ? ob[j].val : "";
		if (strcmp(oa[i].keyword, "service") == 0)
			continue;
		if (strcmp(oa[i].keyword, "dbname") == 0)
			va = dbname;
		if (strcmp(va, vb) != 0) {
			printf("#   %s: \"%s\" became \"%s\"\n", oa[i].keyword, va, vb);
			same = 0;
		}
	}
	PQconninfoFree(oa);
	PQconninfoFree(ob);
	return same;
}

static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* No server: PQconnectStart parses options (and the service file) and fails to connect. */
static PGconn *
unconnected(const char *conninfo)
{
	return PQconnectStart(conninfo);
}

static void
test_childconn_roundtrip(const char *tmp)
{
	PGconn *c1 = unconnected("host=/nonexistent-pgp port=5999 dbname=orig user='u s\"er' "
				 "password='p a#s=s\\'w\"d\\\\x' sslpassword=' lead #x=y' "
				 "application_name='#app=1' options='-c search_path=' connect_timeout=3");
	struct pgp_childconn cc;
	struct stat st;
	char *text = NULL, want[600];
	size_t len;
	PGconn *c2;

	is_int(pgp_childconn_write(c1, "tar get'db", &cc), 0, "write the service file");
	is_str(cc.conninfo, "service=pgp", "the child's connection string names only the service");
	snprintf(want, sizeof(want), "PGSERVICEFILE=%s", cc.path);
	is_str(cc.env, want, "and its environment the file");
	ok(strncmp(cc.dir, tmp, strlen(tmp)) == 0, "inside $TMPDIR");
	ok(stat(cc.dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "in a 0700 directory");
	ok(stat(cc.path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600 &&
	   st.st_uid == geteuid(), "the file is ours, 0600");
	ok(pgp_read_file(cc.path, &text, &len) == 0 && strstr(text, "\npassword=p a#s=s'w\"d\\x\n") &&
	   strstr(text, "\nsslpassword= lead #x=y\n") && strstr(text, "\ndbname=tar get'db\n"),
	   "it holds the password and sslpassword literally");
	free(text);
	setenv("PGSERVICEFILE", cc.path, 1);
	c2 = unconnected(cc.conninfo);
	unsetenv("PGSERVICEFILE");
	ok(!strstr(PQerrorMessage(c2), "service"), "libpq reads the service file");
	if (strstr(PQerrorMessage(c2), "service"))
		printf("#   %s", PQerrorMessage(c2));
	ok(same_options(c1, c2, "tar get'db"), "and gets every option back exactly (spaces, quotes, '=', '#')");
	PQfinish(c2);
	pgp_childconn_remove(&cc);
	ok(stat(cc.path, &st) != 0 && entries(tmp) == 0, "remove leaves nothing behind");
	pgp_childconn_remove(&cc);
	pgp_childconn_remove(NULL);
	memset(&cc, 0, sizeof(cc));
	pgp_childconn_remove(&cc);
	ok(1, "remove is safe twice, on NULL and on a zeroed struct");
	is_int(pgp_childconn_write(c1, NULL, &cc), 0, "dbname NULL: the connection's own");
	ok(pgp_read_file(cc.path, &text, &len) == 0 && strstr(text, "\ndbname=orig\n"), "is dbname=orig");
	free(text);
	pgp_childconn_remove(&cc);
	PQfinish(c1);
}

/* The child can read the file through the variable it is given, and nothing else. */
static void
test_childconn_child(void)
{
	PGconn *c1 = unconnected("host=/nonexistent-pgp password=childsecret");
	struct pgp_childconn cc;
	char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) "cat \"$PGSERVICEFILE\"; env", NULL};
	const char *env[2] = {NULL, NULL};
	char out[65536];

	pgp_childconn_write(c1, "db", &cc);
	env[0] = cc.env;
	is_int(capture(argv, env, out, sizeof(out)), 0, "a child reads its service file");
	ok(strstr(out, "password=childsecret\n") && strstr(out, "[pgp]\n"), "through PGSERVICEFILE");
	pgp_childconn_remove(&cc);
	PQfinish(c1);
}

static void
refused(const char *conninfo, const char *dbname, const char *what, const char *message, const char *tmp)
{
	PGconn *c = unconnected(conninfo);
	struct pgp_childconn cc;

	is_int(pgp_childconn_write(c, dbname, &cc), -1, "refuse %s", what);
	ok(strstr(pgp_log_last_error(), message) && !strstr(pgp_log_last_error(), "s3cr"),
	   "names the option, not the value: %s", pgp_log_last_error());
	ok(cc.dir[0] == '\0' && entries(tmp) == 0, "and writes nothing");
	PQfinish(c);
}

static void
test_childconn_refusals(const char *tmp)
{
	char conninfo[2400], *p;
	PGconn *c, *back;
	struct pgp_childconn cc;

	refused("host=/nonexistent-pgp password='s3cr\net'", "db", "a newline in a value",
		"\"password\" holds a newline", tmp);
	refused("host=/nonexistent-pgp sslpassword='s3cr '", "db", "trailing white space",
		"\"sslpassword\" ends in white space", tmp);
	/* libpq reads "password=" + 1012 bytes, not one more. */
	p = conninfo + snprintf(conninfo, sizeof(conninfo), "host=/nonexistent-pgp password=s3cr");
	memset(p, 'x', 1009);
	p[1009] = '\0';
	refused(conninfo, "db", "a line libpq cannot read", "\"password\" is too long", tmp);
	p[1008] = '\0';
	c = unconnected(conninfo);
	is_int(pgp_childconn_write(c, "db", &cc), 0, "a 1012-byte password fits");
	setenv("PGSERVICEFILE", cc.path, 1);
	back = unconnected(cc.conninfo);
	unsetenv("PGSERVICEFILE");
	is_int(strlen(PQpass(back) ? PQpass(back) : ""), 1012, "and libpq reads all of it back");
	PQfinish(back);
	pgp_childconn_remove(&cc);
	PQfinish(c);
	refused("host=/nonexistent-pgp", "d\nb", "a dbname with a newline", "\"dbname\" holds a newline", tmp);
}

int
main(void)
{
	char *dir = make_tmpdir(), *tmp;
	char sub[600];

	pgp_log_init("pgp-test");
	pgp_log_set_verbosity(-1);
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	mkdir(sub, 0700);
	tmp = sub;
	setenv("TMPDIR", tmp, 1);
	test_environment();
	test_argv();
	test_status();
	test_stop();
	test_pipes();
	test_fd_hygiene();
	test_legacy(dir);
	test_os_user();
	test_childconn_roundtrip(tmp);
	test_childconn_child();
	test_childconn_refusals(tmp);
	ok(entries(tmp) == 0, "no stderr file left in $TMPDIR");
	rm_rf(dir);
	free(dir);
	return done_testing();
}
