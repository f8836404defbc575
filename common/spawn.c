/*
 * The one process runner.  Everything the child needs (its program's path,
 * its environment, its descriptors, its groups) is made before fork, so the
 * child runs only async-signal-safe calls between fork and exec: pgp-backup
 * may have libcurl's resolver threads, and a malloc lock held by one of
 * them would hang a child that called malloc.  An exec failure comes back
 * through a close-on-exec pipe, so it is reported by the start, not
 * mistaken for the program's own exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"

extern char **environ;

struct pgp_child {
	pid_t pid;			/* -1 once reaped */
	int in_fd, out_fd;		/* our ends of its pipes, or -1 */
	int err_fd;			/* the unlinked file holding its stderr, or -1 */
	int stopped;			/* pgp_spawn_stop was called */
	char name[64];			/* basename of argv[0], for messages */
};

/* What the child needs, made before fork. */
struct launch {
	char path[PATH_MAX];
	char **envp;
	size_t nenv;
	char home[PATH_MAX + 8];	/* "HOME=..." of os_user */
	int fds[3];			/* the child's stdin, stdout, stderr */
	int as_user;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
};

/* Which step failed in the child, sent back with errno. */
enum child_step { STEP_IO = 1, STEP_USER, STEP_EXEC };
struct child_report {
	int step;
	int err;
};

/*
 * The variables a child inherits from us; LC_* too.  Kerberos's point to
 * a credentials cache and a configuration (a GSSAPI login of pg_dump
 * needs them), never hold a secret themselves.
 */
static const char *const env_allowlist[] = {
	"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "KRB5CCNAME", "KRB5_CONFIG", NULL
};

int
pgp_os_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);

	if (!pw)
		return pgp_fail("no OS user \"%s\"", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

void
pgp_shell_word(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

const char *
pgp_os_user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "uid %ld", (long) uid);
	return buf;
}

static size_t
name_len(const char *entry)
{
	return strcspn(entry, "=");
}

static int
env_allowed(const char *entry)
{
	size_t len = name_len(entry);

	if (!entry[len])
		return 0;
	if (strncmp(entry, "LC_", 3) == 0 && len > 3)
		return 1;
	for (const char *const *n = env_allowlist; *n; n++)
		if (strlen(*n) == len && strncmp(entry, *n, len) == 0)
			return 1;
	return 0;
}

/* Add "NAME=value" unless NAME is there already (the first one wins). */
static void
env_add(struct launch *l, char *entry)
{
	size_t len = name_len(entry);

	for (size_t i = 0; i < l->nenv; i++)
		if (name_len(l->envp[i]) == len && strncmp(l->envp[i], entry, len) == 0)
			return;
	l->envp[l->nenv++] = entry;
}

/* The caller's additions first, then os_user's HOME, then our allowlisted ones. */
static int
build_env(struct launch *l, const struct pgp_spawn_opts *opts)
{
	size_t max = 2;

	for (char **e = environ; e && *e; e++)
		max++;
	for (const char *const *x = opts->env; x && *x; x++) {
		if (name_len(*x) == 0 || !(*x)[name_len(*x)])
			return pgp_fail("bad environment entry for a child: \"%.*s\"", (int) name_len(*x), *x);
		max++;
	}
	l->envp = calloc(max, sizeof(char *));
	if (!l->envp)
		return pgp_fail("out of memory");
	for (const char *const *x = opts->env; x && *x; x++)
		env_add(l, (char *) *x);
	if (l->as_user)
		env_add(l, l->home);
	for (char **e = environ; e && *e; e++)
		if (env_allowed(*e))
			env_add(l, *e);
	return 0;
}

static const char *
env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* execvp's search, done here so that "not found" is a clear message. */
static int
find_program(struct launch *l, const char *name)
{
	const char *path = env_get(l->envp, "PATH");
	struct stat st;

	if (!*name)
		return pgp_fail("no program to run");
	if (strchr(name, '/')) {
		snprintf(l->path, sizeof(l->path), "%s", name);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (;;) {
		size_t len = strcspn(path, ":");

		/* An empty element is the current directory, as for execvp. */
		snprintf(l->path, sizeof(l->path), "%.*s/%s", len ? (int) len : 1, len ? path : ".", name);
		if (access(l->path, X_OK) == 0 && stat(l->path, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
		if (!path[len])
			return pgp_fail("cannot run %s: not found in PATH", name);
		path += len + 1;
	}
}

/* uid, gid, supplementary groups and HOME of os_user. */
static int
prepare_user(struct launch *l, const char *os_user)
{
	struct passwd *pw;
	int n = 32;

	if (!os_user)
		return 0;
	pw = getpwnam(os_user);
	if (!pw)
		return pgp_fail("no OS user \"%s\"", os_user);
	l->as_user = 1;
	l->uid = pw->pw_uid;
	l->gid = pw->pw_gid;
	snprintf(l->home, sizeof(l->home), "HOME=%s", pw->pw_dir);
	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(l->groups, (size_t) n * sizeof(gid_t));

		if (!g)
			return pgp_fail("out of memory");
		l->groups = g;
		if (getgrouplist(os_user, l->gid, l->groups, &n) >= 0) {
			l->ngroups = n;
			return 0;
		}
	}
	return pgp_fail("cannot list the groups of OS user \"%s\"", os_user);
}

/* An unlinked file for the child's stderr: unbounded, and readable after it exits. */
static int
stderr_file(const char *what)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/pgp-stderr.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return pgp_fail("cannot create a file for the errors of %s in %s: %s", what,
				dir && *dir ? dir : "/tmp", strerror(errno));
	unlink(path);
	return fd;
}

static int
open_null(int flags)
{
	int fd = open("/dev/null", flags | O_CLOEXEC);

	if (fd < 0)
		pgp_error("cannot open /dev/null: %s", strerror(errno));
	return fd;
}

/* The child's stdin: /dev/null, or a pipe whose write end is ours. */
static int
open_stdin(struct launch *l, struct pgp_child *c, const struct pgp_spawn_opts *opts)
{
	int p[2];

	if (opts->in != PGP_SPAWN_PIPE)
		return (l->fds[0] = open_null(O_RDONLY)) < 0 ? -1 : 0;
	if (pipe2(p, O_CLOEXEC) != 0)
		return pgp_fail("cannot make a pipe for %s: %s", c->name, strerror(errno));
	l->fds[0] = p[0];
	c->in_fd = p[1];
	return 0;
}

/* The child's stdout: /dev/null, a pipe whose read end is ours, or a file. */
static int
open_stdout(struct launch *l, struct pgp_child *c, const struct pgp_spawn_opts *opts)
{
	int p[2];

	if (opts->out == PGP_SPAWN_PIPE) {
		if (pipe2(p, O_CLOEXEC) != 0)
			return pgp_fail("cannot make a pipe for %s: %s", c->name, strerror(errno));
		c->out_fd = p[0];
		l->fds[1] = p[1];
		return 0;
	}
	if (opts->out != PGP_SPAWN_FILE)
		return (l->fds[1] = open_null(O_WRONLY)) < 0 ? -1 : 0;
	if (!opts->out_path)
		return pgp_fail("no output file given for %s", c->name);
	l->fds[1] = open(opts->out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (l->fds[1] < 0)
		return pgp_fail("cannot open \"%s\": %s", opts->out_path, strerror(errno));
	/* The server's user writes its own lines there later. */
	if (l->as_user && fchown(l->fds[1], l->uid, l->gid) != 0)
		return pgp_fail("cannot give \"%s\" to %s: %s", opts->out_path, opts->os_user, strerror(errno));
	return 0;
}

/* The child's stderr: where its stdout goes, or a file we read when it fails. */
static int
open_stderr(struct launch *l, struct pgp_child *c, const struct pgp_spawn_opts *opts)
{
	if (!opts->err_to_out && (c->err_fd = stderr_file(c->name)) < 0)
		return -1;
	l->fds[2] = fcntl(opts->err_to_out ? l->fds[1] : c->err_fd, F_DUPFD_CLOEXEC, 0);
	if (l->fds[2] < 0)
		return pgp_fail("cannot set up %s: %s", c->name, strerror(errno));
	return 0;
}

static void
launch_free(struct launch *l)
{
	for (int i = 0; i < 3; i++)
		if (l->fds[i] >= 0)
			close(l->fds[i]);
	free(l->envp);
	free(l->groups);
}

/*
 * Mark every descriptor above stderr close-on-exec (not closed: the report
 * pipe must live until exec): pipes of other children, repository files and
 * the libpq socket are none of the child's business.
 */
static void
cloexec_from_3(void)
{
	struct rlimit rl;
	int max = 1 << 20;

#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t) max)
		max = (int) rl.rlim_cur;
	for (int fd = 3; fd < max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* In the child: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const struct launch *l, char *const argv[], int report)
{
	struct child_report r = {STEP_IO, 0};
	struct sigaction dfl;
	sigset_t none;
	int moved[3];

	/* An ignored SIGPIPE (pgp-backup's) would survive exec. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGXFSZ, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Above 2 first, so that no dup2 below clobbers another source. */
	for (int i = 0; i < 3; i++)
		if ((moved[i] = fcntl(l->fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
			goto fail;
	for (int i = 0; i < 3; i++)
		if (dup2(moved[i], i) < 0)
			goto fail;
	r.step = STEP_USER;
	if (l->as_user && (setgroups((size_t) l->ngroups, l->groups) != 0 || setgid(l->gid) != 0 ||
			   setuid(l->uid) != 0))
		goto fail;
	cloexec_from_3();
	r.step = STEP_EXEC;
	execve(l->path, argv, l->envp);
fail:
	r.err = errno;
	if (write(report, &r, sizeof(r)) < 0)
		_exit(126);
	_exit(127);
}

static void
child_free(struct pgp_child *c)
{
	if (!c)
		return;
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	free(c);
}

/* Wait for pid, retrying on EINTR; the wait status, or -1 (logged). */
static int
reap(pid_t pid, const char *name)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return pgp_fail("cannot wait for %s: %s", name, strerror(errno));
	}
	return status;
}

/* After fork: did exec happen?  0, or -1 after logging what failed. */
static int
check_exec(struct pgp_child *c, const struct launch *l, const char *os_user, int report)
{
	struct child_report r;
	ssize_t n;

	do
		n = read(report, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	reap(c->pid, c->name);
	c->pid = -1;
	if (n != (ssize_t) sizeof(r))
		return pgp_fail("cannot start %s", c->name);
	if (r.step == STEP_USER)
		return pgp_fail("cannot run %s as %s: %s", c->name, os_user, strerror(r.err));
	if (r.step == STEP_EXEC)
		return pgp_fail("cannot run %s: %s", l->path, strerror(r.err));
	return pgp_fail("cannot set up %s: %s", c->name, strerror(r.err));
}

static struct pgp_child *
child_new(const char *argv0)
{
	struct pgp_child *c = calloc(1, sizeof(*c));
	const char *slash = strrchr(argv0, '/');

	if (!c) {
		pgp_error("out of memory");
		return NULL;
	}
	c->pid = -1;
	c->in_fd = c->out_fd = c->err_fd = -1;
	snprintf(c->name, sizeof(c->name), "%s", slash ? slash + 1 : argv0);
	return c;
}

struct pgp_child *
pgp_spawn_start(char *const argv[], const struct pgp_spawn_opts *opts)
{
	static const struct pgp_spawn_opts defaults;
	struct launch l = {.fds = {-1, -1, -1}};
	struct pgp_child *c = NULL;
	int report[2] = {-1, -1}, ok = 0;

	if (!argv || !argv[0]) {
		pgp_error("no program to run");
		return NULL;
	}
	if (!opts)
		opts = &defaults;
	c = child_new(argv[0]);
	if (!c || prepare_user(&l, opts->os_user) < 0 || build_env(&l, opts) < 0 ||
	    find_program(&l, argv[0]) < 0 || open_stdin(&l, c, opts) < 0 || open_stdout(&l, c, opts) < 0 ||
	    open_stderr(&l, c, opts) < 0)
		goto cleanup;
	if (pipe2(report, O_CLOEXEC) != 0) {
		pgp_error("cannot set up %s: %s", c->name, strerror(errno));
		goto cleanup;
	}
	fflush(stdout);
	c->pid = fork();
	if (c->pid == 0)
		child_exec(&l, argv, report[1]);
	close(report[1]);
	if (c->pid < 0)
		pgp_error("cannot fork for %s: %s", c->name, strerror(errno));
	else
		ok = check_exec(c, &l, opts->os_user, report[0]) == 0;
	close(report[0]);
cleanup:
	launch_free(&l);
	if (!ok) {
		child_free(c);
		c = NULL;
	}
	return c;
}

pid_t
pgp_spawn_pid(const struct pgp_child *c)
{
	return c ? c->pid : -1;
}

int
pgp_spawn_stdin(const struct pgp_child *c)
{
	return c ? c->in_fd : -1;
}

int
pgp_spawn_stdout(const struct pgp_child *c)
{
	return c ? c->out_fd : -1;
}

static int
sigpipe_pending(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
}

/*
 * As libpq does for its socket: block SIGPIPE, write, and take back the
 * SIGPIPE our own EPIPE raised, so the caller's disposition (even the
 * default, which kills) never sees it.
 */
int
pgp_spawn_write(struct pgp_child *c, const void *data, size_t len)
{
	const char *p = data;
	sigset_t pipe_set, old;
	struct timespec zero = {0, 0};
	int err = 0, was_pending;

	if (!c || c->in_fd < 0)
		return pgp_fail("%s has no input pipe", c ? c->name : "child");
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpipe_pending();
	while (len > 0) {
		ssize_t n = write(c->in_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		p += n;
		len -= (size_t) n;
	}
	if (err == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == EPIPE)
		return pgp_fail("%s stopped reading its input", c->name);
	if (err)
		return pgp_fail("cannot write to %s: %s", c->name, strerror(err));
	return 0;
}

ssize_t
pgp_spawn_read(struct pgp_child *c, void *buf, size_t size)
{
	if (!c || c->out_fd < 0)
		return pgp_fail("%s has no output pipe", c ? c->name : "child");
	for (;;) {
		ssize_t n = read(c->out_fd, buf, size);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return pgp_fail("cannot read from %s: %s", c->name, strerror(errno));
	}
}

int
pgp_spawn_close_stdin(struct pgp_child *c)
{
	int rc;

	if (!c || c->in_fd < 0)
		return 0;
	rc = close(c->in_fd);
	c->in_fd = -1;
	if (rc != 0 && errno != EINTR)
		return pgp_fail("cannot close the input of %s: %s", c->name, strerror(errno));
	return 0;
}

void
pgp_spawn_stop(struct pgp_child *c)
{
	if (!c || c->pid <= 0)
		return;
	c->stopped = 1;
	kill(c->pid, SIGTERM);
}

/*
 * Close our pipe ends first: a child blocked writing output we no longer
 * read gets EPIPE and exits instead of hanging the wait.
 */
static int
close_and_reap(struct pgp_child *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->in_fd = c->out_fd = -1;
	return reap(c->pid, c->name);
}

int
pgp_spawn_wait(struct pgp_child *c)
{
	int status, rc;

	if (!c)
		return -1;
	status = close_and_reap(c);
	if (status < 0)
		rc = -1;
	else
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	child_free(c);
	return rc;
}

/* The start of the child's stderr, NUL-terminated, in buf. */
static void
read_stderr(const struct pgp_child *c, char *buf, size_t size)
{
	ssize_t n = c->err_fd >= 0 ? pread(c->err_fd, buf, size - 1, 0) : -1;

	buf[n > 0 ? n : 0] = '\0';
}

/* One error line quoting the first stderr line, a few more as detail. */
static void
report_failure(const struct pgp_child *c, int status)
{
	char text[4096], *line = text, *next;
	int shown = 0;

	read_stderr(c, text, sizeof(text));
	while (*line == '\n')
		line++;
	next = line + strcspn(line, "\n");
	if (*next)
		*next++ = '\0';
	if (WIFSIGNALED(status))
		pgp_error("%s was killed by signal %d%s%s", c->name, WTERMSIG(status), *line ? ": " : "", line);
	else
		pgp_error("%s failed (exit %d)%s%s", c->name, WEXITSTATUS(status), *line ? ": " : "", line);
	for (line = next; *line && shown < 4; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (*line) {
			pgp_detail("%s", line);
			shown++;
		}
	}
}

int
pgp_spawn_finish(struct pgp_child *c)
{
	char text[512];
	int status, rc = -1;

	if (!c)
		return -1;
	status = close_and_reap(c);
	if (status >= 0 && !c->stopped) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			rc = 0;
			read_stderr(c, text, sizeof(text));
			if (*text)
				pgp_debug("%s said: %.*s", c->name, (int) strcspn(text, "\n"), text);
		} else
			report_failure(c, status);
	}
	child_free(c);
	return rc;
}

int
pgp_spawn_run(char *const argv[], const struct pgp_spawn_opts *opts)
{
	return pgp_spawn_finish(pgp_spawn_start(argv, opts));
}

int
pgp_spawn(char *const argv[], const char *os_user, const char *output_path)
{
	struct pgp_spawn_opts opts = {
		.out = output_path ? PGP_SPAWN_FILE : PGP_SPAWN_NULL,
		.out_path = output_path,
		.err_to_out = 1,
		.os_user = os_user,
	};

	return pgp_spawn_wait(pgp_spawn_start(argv, &opts));
}
