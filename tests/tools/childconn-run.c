/*
 * childconn-run: a test tool over libpgp's child connection and process
 * runner, run the way pgp-backup runs pg_dump.  It connects with CONNINFO,
 * writes the connection's service file for DBNAME, runs PROGRAM with every
 * argument "@CONN@" replaced by "service=NAME" and only PGSERVICEFILE
 * added to its environment, and copies its stdout to ours.  While the
 * child runs it checks that the password is neither in the child's argv
 * nor in its environment (/proc/PID/cmdline and environ) and says so on
 * stderr.  Exit status: the child's, 3 when it cannot connect, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "childconn.h"
#include "log.h"
#include "spawn.h"

/* Does the NUL-separated /proc/PID/NAME hold needle?  -1: unreadable or gone. */
static int
proc_holds(pid_t pid, const char *name, const char *needle)
{
	char path[64], buf[1 << 16];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!buf[i])
			buf[i] = '\n';
	buf[len] = '\0';
	return strstr(buf, needle) != NULL;
}

static int
run_child(char **argv, const struct pgp_childconn *cc, const char *password)
{
	const char *env[] = {cc->env, NULL};
	struct pgp_spawn_opts opts = {.out = PGP_SPAWN_PIPE, .env = env};
	struct pgp_child *c = pgp_spawn_start(argv, &opts);
	char buf[65536];
	ssize_t n;

	if (!c)
		return 127;
	if (password && *password) {
		static const char *const words[] = {"unknown", "no", "yes"};

		fprintf(stderr, "childconn-run: password in argv: %s, in environment: %s\n",
			words[proc_holds(pgp_spawn_pid(c), "cmdline", password) + 1],
			words[proc_holds(pgp_spawn_pid(c), "environ", password) + 1]);
	}
	while ((n = pgp_spawn_read(c, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t) n, stdout) != (size_t) n)
			break;
	fflush(stdout);
	return pgp_spawn_wait(c);
}

int
main(int argc, char **argv)
{
	struct pgp_childconn cc = {0};
	PGconn *conn;
	int rc = 3;

	pgp_log_init(argv[0]);
	if (argc < 4) {
		fprintf(stderr, "Usage: childconn-run CONNINFO DBNAME PROGRAM [ARG|@CONN@]...\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		pgp_error("cannot connect: %s", PQerrorMessage(conn));
		goto cleanup;
	}
	rc = 1;
	if (pgp_childconn_write(conn, argv[2], &cc) < 0)
		goto cleanup;
	for (int i = 3; i < argc; i++)
		if (strcmp(argv[i], "@CONN@") == 0)
			argv[i] = cc.conninfo;
	rc = run_child(argv + 3, &cc, PQpass(conn));
cleanup:
	pgp_childconn_remove(&cc);
	PQfinish(conn);
	return rc;
}
