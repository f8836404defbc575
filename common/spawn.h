/*
 * Running helper programs (initdb, pg_ctl, pgbouncer, pg_dump...) without a
 * shell: argv is passed as is, so no quoting bugs and no secrets in a
 * command line built by string formatting.  The child gets an environment
 * built from an allowlist (PATH, HOME, LANG, LANGUAGE, LC_*, TZ, TMPDIR)
 * plus what the caller adds, so our credentials (PGPASSWORD, AWS_*...)
 * never leak into it, and none of our file descriptors but its stdin,
 * stdout and stderr.  As root, servers that refuse root run as another OS
 * user.
 */
#ifndef PGP_SPAWN_H
#define PGP_SPAWN_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Where a child's stdin or stdout goes. */
enum pgp_spawn_stream {
	PGP_SPAWN_NULL = 0,	/* /dev/null */
	PGP_SPAWN_PIPE,		/* a pipe to or from us */
	PGP_SPAWN_FILE		/* stdout only: appended to out_path, created 0600 */
};

struct pgp_spawn_opts {
	enum pgp_spawn_stream in;	/* NULL or PIPE */
	enum pgp_spawn_stream out;	/* NULL, PIPE or FILE */
	const char *out_path;		/* for out = PGP_SPAWN_FILE */
	int err_to_out;			/* stderr joins stdout (a log file) instead of
					 * being kept for the error message */
	const char *os_user;		/* run as this OS user (needs root), or NULL */
	const char *const *env;		/* "NAME=value" to add (or override), NULL-ended */
};

/* A running child; only through the functions below. */
struct pgp_child;

/*
 * Start argv (argv[0] a path, or a name looked up in PATH).  opts may be
 * NULL (all defaults: stdin and stdout /dev/null, stderr kept).  Returns
 * NULL after logging when it could not be started, exec failures included.
 */
struct pgp_child *pgp_spawn_start(char *const argv[], const struct pgp_spawn_opts *opts);

/* The child's pid. */
pid_t pgp_spawn_pid(const struct pgp_child *c);
/* Our end of its stdin pipe (to hand to code that writes an fd), or -1. */
int pgp_spawn_stdin(const struct pgp_child *c);
/* Our end of its stdout pipe, or -1. */
int pgp_spawn_stdout(const struct pgp_child *c);

/*
 * Write all of data to the child's stdin.  SIGPIPE is held off around the
 * write, so a child that exits early costs an error, not our life.
 * 0, or -1 after logging.
 */
int pgp_spawn_write(struct pgp_child *c, const void *data, size_t len);

/* Read from the child's stdout: bytes read, 0 at its end, -1 after logging. */
ssize_t pgp_spawn_read(struct pgp_child *c, void *buf, size_t size);

/* End the child's input (it sees end of file).  0, or -1 after logging. */
int pgp_spawn_close_stdin(struct pgp_child *c);

/*
 * Ask the child to stop (SIGTERM), after our side of the job failed and
 * was logged: pgp_spawn_finish then returns -1 without another message.
 */
void pgp_spawn_stop(struct pgp_child *c);

/*
 * Close our ends, wait for the child and free it.  Returns its exit
 * status, 128+signal, or -1 when the wait failed (logged); a non-zero exit
 * is not logged (pg_ctl status answers with one).  NULL gives -1.
 */
int pgp_spawn_wait(struct pgp_child *c);

/*
 * Like pgp_spawn_wait, but 0 only for exit 0; else -1 after logging
 * "NAME failed (exit N): <first line of its stderr>" or "NAME was killed
 * by signal N", with further stderr lines as detail.  NULL gives -1.
 */
int pgp_spawn_finish(struct pgp_child *c);

/* pgp_spawn_start then pgp_spawn_finish: 0, or -1 after logging. */
int pgp_spawn_run(char *const argv[], const struct pgp_spawn_opts *opts);

/*
 * Run argv, as os_user when not NULL (needs root), with stdin from
 * /dev/null and stdout+stderr appended to output_path (or discarded when
 * NULL).  Returns the exit status, 128+signal, or -1 when it could not be
 * started (logged).
 */
int pgp_spawn(char *const argv[], const char *os_user, const char *output_path);

/* uid and gid of an OS user; 0 or -1 (logged). */
int pgp_os_user(const char *name, uid_t *uid, gid_t *gid);
/* s as one /bin/sh word onto f: single-quoted, each ' as '\''. */
void pgp_shell_word(FILE *f, const char *s);

/* The name of OS user uid into buf ("uid N" when it has none): buf. */
const char *pgp_os_user_name(uid_t uid, char *buf, size_t size);

#endif
