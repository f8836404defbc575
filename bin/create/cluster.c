/*
 * The local cluster of --local DIR: the same layout production gets, on
 * one machine.  DIR holds data/ (PGDATA), tls/ (CA and server certificate),
 * run/ (the unix socket), log/ and the credential files.  Run as root, the
 * server belongs to the postgres OS user (or --os-user), as Debian's
 * pg_createcluster does, and pg_ident maps the invoking user to the admin.
 *
 * Every file pgp-create writes here is regenerated on each run and
 * compared with what is there: a run that changes nothing reports it.
 *
 * A run may die at any step (SIGKILL, a reboot), and the next one must
 * finish the job.  So the data directory is initdb's whole work or absent:
 * initdb runs in data.pgp-initdb.PID, renamed into place when done (an
 * initdb that outlived its pgp-create has a directory of its own, which
 * the next run removes, and renames nothing).  A change that needs a
 * restart or reload is recorded in DIR/.pgp-create.pending before it is
 * written, and forgotten once applied.  One run at a time works in DIR
 * (DIR/.pgp-create.lock).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "create.h"
#include "exitcodes.h"
#include "lock.h"
#include "log.h"
#include "spawn.h"

#define SOCKET_PATH_MAX 107	/* sun_path, less the terminating NUL */
#define INITDB_TMP "data.pgp-initdb."	/* and our pid: initdb's work until done */
#define LOCK_FILE ".pgp-create.lock"
#define PENDING_FILE ".pgp-create.pending"

/* What a written configuration change needs before the server uses it. */
enum apply { APPLY_NONE, APPLY_RELOAD, APPLY_RESTART };
static const char *const apply_names[] = {"none", "reload", "restart"};

static int
cluster_run(struct create_ctx *ctx, char *const argv[])
{
	char log[600];

	if (create_path(log, sizeof(log), "%s/log/pgp-create.log", ctx->local_dir) < 0)
		return -1;
	return pgp_spawn(argv, ctx->os_user, log);
}

/* The durable note of what the server still needs; 0, or -1 (logged). */
static int
pending_note(struct create_ctx *ctx, enum apply need)
{
	char path[600], text[16];

	if ((int) need <= ctx->pending)
		return 0;
	if (create_path(path, sizeof(path), "%s/%s", ctx->local_dir, PENDING_FILE) < 0)
		return -1;
	snprintf(text, sizeof(text), "%s\n", apply_names[need]);
	if (pgp_atomic_write(path, text, strlen(text), 0644) < 0)
		return -1;
	ctx->pending = need;
	return 0;
}

/* What an interrupted run wrote but did not apply. */
static int
pending_read(struct create_ctx *ctx)
{
	char path[600], *text;

	ctx->pending = APPLY_NONE;
	if (create_path(path, sizeof(path), "%s/%s", ctx->local_dir, PENDING_FILE) < 0)
		return -1;
	if (access(path, F_OK) != 0)
		return 0;
	if (pgp_read_file(path, &text, NULL) < 0)
		return -1;
	/* Unreadable content errs on the safe side: a restart. */
	ctx->pending = strncmp(text, "reload", 6) == 0 ? APPLY_RELOAD : APPLY_RESTART;
	free(text);
	return 0;
}

static int
pending_clear(struct create_ctx *ctx)
{
	char path[600];

	if (create_path(path, sizeof(path), "%s/%s", ctx->local_dir, PENDING_FILE) < 0)
		return -1;
	if (unlink(path) != 0 && errno != ENOENT)
		return pgp_fail("cannot remove \"%s\": %s", path, strerror(errno));
	ctx->pending = APPLY_NONE;
	return 0;
}

/*
 * Replace a file when its content differs; *changed set when it did.
 * need says what the server must do to see it, recorded before writing.
 */
static int
write_if_changed(struct create_ctx *ctx, const char *path, const char *text, mode_t mode,
		 enum apply need, int *changed)
{
	int differs = create_differs(path, text);

	if (differs <= 0)
		return differs;
	if (ctx->dry_run) {
		printf("-- would write %s\n", path);
		*changed = 1;
		return 0;
	}
	if (pending_note(ctx, need) < 0 || create_write(path, text, mode, ctx->os_user) < 0)
		return -1;
	*changed = 1;
	return 0;
}

/* A postgresql.conf string literal: quotes doubled. */
static void
conf_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int
is_loopback_cidr(const char *cidr)
{
	return strncmp(cidr, "127.", 4) == 0 || strncmp(cidr, "::1/", 4) == 0;
}

/* Libraries the requested extensions need preloaded. */
static void
preload_list(const struct create_ctx *ctx, char *buf, size_t size)
{
	static const char *const needs_preload[] = {"pg_stat_statements", "pgaudit", NULL};

	buf[0] = '\0';
	for (const char *const *lib = needs_preload; *lib; lib++) {
		int wanted = strcmp(*lib, "pgaudit") == 0 && ctx->audit;

		for (int i = 0; i < ctx->n_extensions; i++)
			wanted |= strcmp(ctx->extensions[i], *lib) == 0;
		for (int i = 0; i < ctx->n_optional; i++)
			wanted |= strcmp(ctx->optional_extensions[i], *lib) == 0;
		if (wanted)
			snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", *buf ? "," : "", *lib);
	}
}

/* path made absolute (against the working directory; it need not exist yet). */
static char *
absolute(const char *path, char *buf, size_t size)
{
	char cwd[4096];

	if (path[0] == '/') {
		snprintf(buf, size, "%s", path);
		return buf;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		pgp_error("cannot tell the working directory: %s", strerror(errno));
		return NULL;
	}
	snprintf(buf, size, "%s/%s", cwd, path);
	return buf;
}

/*
 * --archive REPO: the archive_command, pgp-backup (beside this program)
 * with the config given to pgp-create and a state directory in the
 * cluster's own directory.  A malloc'd string, or NULL (logged).
 */
static char *
archive_command(const struct create_ctx *ctx)
{
	char self[4096], conf[4096], dir[4096], repo[4096], *text = NULL, *slash;
	size_t size;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;

	if (n <= 0) {
		pgp_error("cannot find our own executable (for pgp-backup's path): %s", strerror(errno));
		return NULL;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	snprintf(slash ? slash : self, sizeof(self) - (size_t) (slash ? slash - self : 0), "/pgp-backup");
	/* The archiver runs in the data directory: every path absolute. */
	if (!absolute(ctx->local_dir, dir, sizeof(dir)) ||
	    (strncmp(ctx->archive, "s3://", 5) != 0 ? !absolute(ctx->archive, repo, sizeof(repo))
	     : snprintf(repo, sizeof(repo), "%s", ctx->archive) < 0))
		return NULL;
	f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	pgp_shell_word(f, self);
	if (ctx->config_path && strcmp(ctx->config_path, "/dev/null") != 0 && realpath(ctx->config_path, conf)) {
		fputs(" -c ", f);
		pgp_shell_word(f, conf);
	} else
		fputs(" -c /dev/null", f);
	fputs(" --repo ", f);
	pgp_shell_word(f, repo);
	fprintf(f, " --state-dir ");
	snprintf(conf, sizeof(conf), "%s/state", dir);
	pgp_shell_word(f, conf);
	fputs(" wal-push %p", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static char *
server_conf(const struct create_ctx *ctx)
{
	char *text = NULL, preload[256], path[600];
	size_t size;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	fprintf(f, "# Written by pgp-create: changes here are overwritten on its next run.\n"
		"# Put your own settings in conf.d/ (pgp-tune writes there too).\n");
	fprintf(f, "listen_addresses = ");
	conf_quote(f, ctx->listen);
	fprintf(f, "\nport = %s\nunix_socket_directories = ", ctx->tcp_port);
	conf_quote(f, ctx->socket_dir);
	fprintf(f, "\nssl = on\nssl_cert_file = ");
	snprintf(path, sizeof(path), "%s/tls/server.crt", ctx->local_dir);
	conf_quote(f, path);
	fprintf(f, "\nssl_key_file = ");
	snprintf(path, sizeof(path), "%s/tls/server.key", ctx->local_dir);
	conf_quote(f, path);
	fprintf(f, "\nssl_min_protocol_version = 'TLSv1.2'\n"
		"password_encryption = 'scram-sha-256'\n"
		"log_connections = on\nlog_disconnections = on\n"
		"log_line_prefix = '%%m [%%p] %%q%%u@%%d %%r '\n");
	preload_list(ctx, preload, sizeof(preload));
	if (*preload)
		fprintf(f, "shared_preload_libraries = '%s'\n", preload);
	if (ctx->audit)
		fprintf(f, "pgaudit.log = 'ddl,role'\npgaudit.log_relation = on\n"
			"pgaudit.log_parameter = off\npgaudit.log_catalog = off\n");
	if (ctx->archive) {
		char *cmd = archive_command(ctx);

		if (!cmd) {
			fclose(f);
			free(text);
			return NULL;
		}
		/* Point-in-time recovery: every WAL file to the repository (pgp-backup(1)). */
		fprintf(f, "wal_level = replica\narchive_mode = on\narchive_command = ");
		conf_quote(f, cmd);
		fputc('\n', f);
		free(cmd);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* First match wins: the admin on the socket, the roles over TLS, then no. */
static char *
hba_conf(const struct create_ctx *ctx)
{
	char *text = NULL;
	size_t size;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	fprintf(f, "# Written by pgp-create: changes here are overwritten on its next run.\n"
		"# TYPE    DATABASE  USER  ADDRESS  METHOD\n"
		"local     all       \"%s\"  peer map=pgp\n", ctx->admin_role);
	for (int i = 0; i < ctx->n_allow; i++) {
		fprintf(f, "hostssl   \"%s\"  ", ctx->database);
		for (int k = FIRST_LOGIN_ROLE, first = 1; k < ROLE_COUNT; k++) {
			if (!ctx->roles[k].wanted)
				continue;
			fprintf(f, "%s\"%s\"", first ? "" : ",", ctx->roles[k].name);
			first = 0;
		}
		fprintf(f, "  %s  scram-sha-256\n", ctx->allow[i]);
	}
	/* --archive: physical base backups as the backup role (pgp-backup backup --physical). */
	for (int i = 0; ctx->archive && i < ctx->n_allow; i++)
		fprintf(f, "hostssl   replication  \"%s\"  %s  scram-sha-256\n", ctx->roles[ROLE_BACKUP].name,
			ctx->allow[i]);
	if (ctx->pooler)
		fprintf(f, "hostssl   \"%s\"  \"%s\",\"%s\",\"%s\"  127.0.0.1/32  scram-sha-256\n",
			ctx->database, ctx->roles[ROLE_POOLER].name, ctx->roles[ROLE_APP].name,
			ctx->roles[ROLE_READONLY].name);
	fprintf(f, "local     all       all   reject\n"
		"hostnossl all       all   0.0.0.0/0  reject\n"
		"hostnossl all       all   ::/0       reject\n"
		"host      all       all   0.0.0.0/0  reject\n"
		"host      all       all   ::/0       reject\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* pg_ident: the OS users that may be the admin over the socket. */
static char *
ident_conf(const struct create_ctx *ctx)
{
	char *text = NULL;
	size_t size;
	FILE *f = open_memstream(&text, &size);
	struct passwd *me = getpwuid(getuid());

	if (!f)
		return NULL;
	fprintf(f, "# Written by pgp-create.\n# MAP  OS-USER  ROLE\n");
	if (me)
		fprintf(f, "pgp  %s  %s\n", me->pw_name, ctx->admin_role);
	if (ctx->os_user && (!me || strcmp(me->pw_name, ctx->os_user) != 0))
		fprintf(f, "pgp  %s  %s\n", ctx->os_user, ctx->admin_role);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int
port_is_free(int port)
{
	struct sockaddr_in sa;
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (s < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(s, (struct sockaddr *) &sa, sizeof(sa)) == 0;
	close(s);
	return ok;
}

/* --port, else the port of an earlier run, else the first free from 5432. */
static int
choose_port(struct create_ctx *ctx, const char *conf_path)
{
	char *old;
	int port = ctx->port;

	if (!port && access(conf_path, F_OK) == 0 && pgp_read_file(conf_path, &old, NULL) == 0) {
		const char *p = strstr(old, "\nport = ");

		if (p)
			port = atoi(p + strlen("\nport = "));
		free(old);
	}
	for (int p = 5432; !port && p < 5532; p++)
		if (port_is_free(p))
			port = p;
	if (!port)
		return pgp_fail("no free port between 5432 and 5531; give one with --port");
	snprintf(ctx->tcp_port, sizeof(ctx->tcp_port), "%d", port);
	return 0;
}

static int
is_running(struct create_ctx *ctx, const char *data)
{
	char *argv[] = {ctx->pg_ctl, (char *) "status", (char *) "-D", (char *) data, NULL};

	return cluster_run(ctx, argv) == 0;
}

static int
pg_ctl(struct create_ctx *ctx, const char *action, const char *data, const char *log)
{
	char *argv[] = {ctx->pg_ctl, (char *) action, (char *) "-D", (char *) data, (char *) "-w",
		(char *) "-t", (char *) "60", (char *) "-m", (char *) "fast", (char *) "-l", (char *) log, NULL};
	int rc;

	if (strcmp(action, "reload") == 0)
		argv[4] = NULL;
	rc = cluster_run(ctx, argv);
	if (rc != 0) {
		pgp_error("pg_ctl %s failed (exit %d) for %s", action, rc, data);
		pgp_hint("see %s and %s/log/pgp-create.log", log, ctx->local_dir);
		return -1;
	}
	return 0;
}

static int
initdb(struct create_ctx *ctx, const char *dir)
{
	char *argv[] = {ctx->initdb, (char *) "-D", (char *) dir, (char *) "-U", ctx->admin_role,
		(char *) "--data-checksums", (char *) "-E", (char *) "UTF8",
		(char *) "--locale=C.UTF-8", (char *) "--auth-local=peer",
		(char *) "--auth-host=scram-sha-256", NULL};
	int rc;

	if (ctx->dry_run) {
		printf("-- would run initdb in %s\n", dir);
		return 0;
	}
	pgp_info("initdb %s (data checksums, UTF-8, scram-sha-256)", dir);
	rc = cluster_run(ctx, argv);
	if (rc != 0) {
		pgp_error("initdb failed (exit %d) in %s", rc, dir);
		pgp_hint("see %s/log/pgp-create.log; the OS user %s must be able to reach %s",
			 ctx->local_dir, ctx->os_user ? ctx->os_user : "running pgp-create", ctx->local_dir);
		return -1;
	}
	ctx->changed = 1;
	return 0;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return pgp_fail("cannot open \"%s\": %s", path, strerror(errno));
	rc = fsync(fd);
	if (close(fd) != 0 || rc != 0)
		return pgp_fail("cannot sync \"%s\": %s", path, strerror(errno));
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void) st;
	(void) type;
	(void) ftw;
	return remove(path);
}

/* A temporary directory of a killed run; links in it are not followed. */
static int
remove_leftover(struct create_ctx *ctx, const char *tmp)
{
	if (ctx->dry_run) {
		printf("-- would remove %s, left by an interrupted run\n", tmp);
		return 0;
	}
	pgp_info("removing %s, left by an interrupted run", tmp);
	if (nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return pgp_fail("cannot remove \"%s\": %s", tmp, strerror(errno));
	return 0;
}

/* Is name one pgp-create chose for initdb: INITDB_TMP and digits? */
static int
is_initdb_tmp(const char *name)
{
	size_t n = strlen(INITDB_TMP);

	if (strncmp(name, INITDB_TMP, n) != 0 || !name[n])
		return 0;
	return strspn(name + n, "0123456789") == strlen(name + n);
}

/* Every temporary initdb directory in DIR: with the lock held, all are leftovers. */
static int
remove_leftovers(struct create_ctx *ctx)
{
	char path[600];
	struct dirent *e;
	DIR *d = opendir(ctx->local_dir);
	int rc = 0;

	if (!d)
		return pgp_fail("cannot open \"%s\": %s", ctx->local_dir, strerror(errno));
	while (rc == 0 && (e = readdir(d))) {
		if (!is_initdb_tmp(e->d_name))
			continue;
		rc = create_path(path, sizeof(path), "%s/%s", ctx->local_dir, e->d_name);
		if (rc == 0)
			rc = remove_leftover(ctx, path);
	}
	closedir(d);
	return rc;
}

/*
 * 1: initdb's whole work is in data; 0: nothing yet (absent or empty);
 * -1: something else, logged, which pgp-create never deletes.
 */
static int
data_state(const char *data)
{
	char pgv[600], control[600];
	struct dirent *e;
	DIR *d;
	int empty = 1;

	if (create_path(pgv, sizeof(pgv), "%s/PG_VERSION", data) < 0 ||
	    create_path(control, sizeof(control), "%s/global/pg_control", data) < 0)
		return -1;
	if (access(pgv, F_OK) == 0 && access(control, F_OK) == 0)
		return 1;
	d = opendir(data);
	if (!d)
		return errno == ENOENT ? 0 : pgp_fail("cannot open \"%s\": %s", data, strerror(errno));
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	if (empty)
		return 0;
	pgp_error("\"%s\" is not a complete data directory (no PG_VERSION or global/pg_control)", data);
	pgp_hint("an older pgp-create killed inside initdb leaves one; pgp-create never deletes it: "
		 "if it holds nothing you need, remove it and run again");
	return -1;
}

/* initdb into a temporary directory renamed into place: data is whole or absent. */
static int
make_data(struct create_ctx *ctx, const char *data)
{
	char tmp[600];

	if (create_path(tmp, sizeof(tmp), "%s/%s%ld", ctx->local_dir, INITDB_TMP, (long) getpid()) < 0)
		return -1;
	if (ctx->dry_run)
		return initdb(ctx, data);
	if (create_mkdir(tmp, 0700, ctx->os_user) < 0 || initdb(ctx, tmp) < 0)
		return -1;
	/* initdb synced its files; the rename is durable once DIR is synced. */
	if (rename(tmp, data) != 0)
		return pgp_fail("cannot rename \"%s\" to \"%s\": %s", tmp, data, strerror(errno));
	return fsync_dir(ctx->local_dir);
}

/* postgresql.conf includes our file and conf.d, once. */
static int
ensure_includes(struct create_ctx *ctx, const char *data, int *changed)
{
	char path[600], *text, *joined;
	static const char add[] = "\n# Added by pgp-create\ninclude_if_exists = 'pgp-create.conf'\n"
		"include_dir = 'conf.d'\n";
	int rc;

	if (create_path(path, sizeof(path), "%s/postgresql.conf", data) < 0 ||
	    pgp_read_file(path, &text, NULL) < 0)
		return -1;
	if (strstr(text, "include_if_exists = 'pgp-create.conf'")) {
		free(text);
		return 0;
	}
	joined = malloc(strlen(text) + sizeof(add));
	if (!joined) {
		free(text);
		return pgp_fail("out of memory");
	}
	strcpy(joined, text);
	strcat(joined, add);
	rc = write_if_changed(ctx, path, joined, 0600, APPLY_RESTART, changed);
	free(text);
	free(joined);
	return rc;
}

int
cluster_paths(struct create_ctx *ctx)
{
	if (create_path(ctx->socket_dir, sizeof(ctx->socket_dir), "%s/run", ctx->local_dir) < 0 ||
	    create_path(ctx->ca_file, sizeof(ctx->ca_file), "%s/tls/ca.crt", ctx->local_dir) < 0 ||
	    create_path(ctx->pooler_dir, sizeof(ctx->pooler_dir), "%s/pgbouncer", ctx->local_dir) < 0 ||
	    create_path(ctx->pooler_tls_dir, sizeof(ctx->pooler_tls_dir), "%s/tls", ctx->local_dir) < 0 ||
	    create_path(ctx->pooler_ca_file, sizeof(ctx->pooler_ca_file), "%s", ctx->ca_file) < 0)
		return -1;
	/* The socket is run/.s.PGSQL.PORT: its path must fit in sun_path. */
	if (strlen(ctx->socket_dir) + strlen("/.s.PGSQL.65535") > SOCKET_PATH_MAX)
		return pgp_fail("\"%s\" is too long for a unix socket path (at most %d bytes); "
				"choose a shorter --local directory", ctx->socket_dir, SOCKET_PATH_MAX);
	snprintf(ctx->host, sizeof(ctx->host), "127.0.0.1");
	return 0;
}

/*
 * One run at a time in DIR.  A flock goes with its process, so a killed
 * run never leaves it behind.
 * PGP_EXIT_OK with ctx->lock_fd set, PGP_EXIT_BUSY or PGP_EXIT_FAILED.
 */
int
cluster_lock(struct create_ctx *ctx)
{
	char path[600];
	pid_t holder = 0;

	if (create_path(path, sizeof(path), "%s/%s", ctx->local_dir, LOCK_FILE) < 0)
		return PGP_EXIT_FAILED;
	switch (pgp_lock_try(path, &ctx->lock_fd, &holder)) {
	case PGP_LOCK_TAKEN:
		return PGP_EXIT_OK;
	case PGP_LOCK_BUSY:
		pgp_error("busy: another pgp-create is working in %s (pid %ld)", ctx->local_dir, (long) holder);
		return PGP_EXIT_BUSY;
	default:
		return PGP_EXIT_FAILED;
	}
}

/* log/, run/ and tls/; a TLS change reaches a running server by a restart. */
static int
make_dirs(struct create_ctx *ctx, int *tls_changed)
{
	char path[600], state[600];

	if (create_path(path, sizeof(path), "%s/log", ctx->local_dir) < 0 ||
	    create_mkdir(path, 0755, ctx->os_user) < 0 || create_mkdir(ctx->socket_dir, 0755, ctx->os_user) < 0 ||
	    create_path(path, sizeof(path), "%s/tls", ctx->local_dir) < 0)
		return -1;
	if (!tls_complete(path, ctx->os_user) && pending_note(ctx, APPLY_RESTART) < 0)
		return -1;
	/* --archive: the archiver (the server's OS user) writes the state and a local repository. */
	if (ctx->archive && (create_path(state, sizeof(state), "%s/state", ctx->local_dir) < 0 ||
			     create_mkdir(state, 0700, ctx->os_user) < 0 ||
			     (strncmp(ctx->archive, "s3://", 5) != 0 && create_mkdir(ctx->archive, 0700, ctx->os_user) < 0)))
		return -1;
	return tls_ensure(path, ctx->os_user, tls_changed);
}

/* A generated file the server rereads on reload; text is ours to free. */
static int
write_generated(struct create_ctx *ctx, const char *data, const char *name, char *text, int *changed)
{
	char path[600];
	int rc;

	if (!text)
		return pgp_fail("out of memory");
	rc = create_path(path, sizeof(path), "%s/%s", data, name);
	if (rc == 0)
		rc = write_if_changed(ctx, path, text, 0600, APPLY_RELOAD, changed);
	free(text);
	return rc;
}

/* pgp-create.conf, the include lines, conf.d, pg_hba and pg_ident. */
static int
write_configs(struct create_ctx *ctx, const char *data, int *conf_changed, int *hba_changed)
{
	char path[600], *text;
	int rc;

	if (create_path(path, sizeof(path), "%s/pgp-create.conf", data) < 0 || choose_port(ctx, path) < 0)
		return -1;
	if (!ctx->listen) {
		ctx->listen = "127.0.0.1";
		for (int i = 0; i < ctx->n_allow; i++)
			if (!is_loopback_cidr(ctx->allow[i]))
				ctx->listen = "*";
	}
	if (!(text = server_conf(ctx)))
		return pgp_fail("out of memory");
	rc = write_if_changed(ctx, path, text, 0600, APPLY_RESTART, conf_changed);
	free(text);
	if (rc < 0 || ensure_includes(ctx, data, conf_changed) < 0 ||
	    create_path(path, sizeof(path), "%s/conf.d", data) < 0)
		return -1;
	if (!ctx->dry_run && create_mkdir(path, 0700, ctx->os_user) < 0)
		return -1;
	if (write_generated(ctx, data, "pg_hba.conf", hba_conf(ctx), hba_changed) < 0 ||
	    write_generated(ctx, data, "pg_ident.conf", ident_conf(ctx), hba_changed) < 0)
		return -1;
	return 0;
}

/* A server a killed run started may still be starting up: wait as pg_ctl -w does. */
static void
wait_ready(const struct create_ctx *ctx)
{
	char conninfo[1024] = "";

	if (pgp_conninfo_append(conninfo, sizeof(conninfo), "host", ctx->socket_dir) < 0 ||
	    pgp_conninfo_append(conninfo, sizeof(conninfo), "port", ctx->tcp_port) < 0 ||
	    pgp_conninfo_append(conninfo, sizeof(conninfo), "dbname", "postgres") < 0 ||
	    pgp_conninfo_append(conninfo, sizeof(conninfo), "connect_timeout", "5") < 0)
		return;
	/* The admin connection that follows says what is wrong, if anything. */
	for (int i = 0; i < 600 && PQping(conninfo) == PQPING_REJECT; i++)
		usleep(100000);
}

/* Start the server, or have it see what this run or an interrupted one wrote. */
static int
apply_changes(struct create_ctx *ctx, const char *data, int restart, int reload)
{
	char log[600];
	int rc = 0;

	if (create_path(log, sizeof(log), "%s/log/postgresql.log", ctx->local_dir) < 0)
		return -1;
	if (!is_running(ctx, data)) {
		pgp_info("starting PostgreSQL on port %s (log %s)", ctx->tcp_port, log);
		rc = pg_ctl(ctx, "start", data, log);
	} else if (restart || ctx->pending == APPLY_RESTART) {
		/* Ports, TLS files and preload libraries need a restart; hba a reload. */
		pgp_info("restarting the local cluster: %s", restart ? "its configuration changed"
			 : "an interrupted run changed its configuration");
		rc = pg_ctl(ctx, "restart", data, log);
	} else if (reload || ctx->pending == APPLY_RELOAD)
		rc = pg_ctl(ctx, "reload", data, log);
	else {
		wait_ready(ctx);
		return 0;
	}
	ctx->changed = 1;
	return rc < 0 ? -1 : pending_clear(ctx);
}

int
cluster_prepare(struct create_ctx *ctx)
{
	char data[600];
	int state, conf_changed = 0, hba_changed = 0, tls_changed = 0;

	if (create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0)
		return -1;
	/* A dry run makes nothing, DIR included. */
	if (ctx->dry_run && access(ctx->local_dir, F_OK) != 0) {
		printf("-- would create %s\n", ctx->local_dir);
		return make_data(ctx, data);
	}
	if (pending_read(ctx) < 0)
		return -1;
	if (!ctx->dry_run && make_dirs(ctx, &tls_changed) < 0)
		return -1;
	ctx->changed |= tls_changed;
	if (remove_leftovers(ctx) < 0 || (state = data_state(data)) < 0)
		return -1;
	if (state == 0) {
		if (make_data(ctx, data) < 0)
			return -1;
		if (ctx->dry_run)
			return 0;
	}
	if (write_configs(ctx, data, &conf_changed, &hba_changed) < 0)
		return -1;
	ctx->changed |= conf_changed | hba_changed;
	if (ctx->dry_run)
		return 0;
	return apply_changes(ctx, data, conf_changed || tls_changed, hba_changed);
}

int
cluster_status(struct create_ctx *ctx)
{
	char data[600];

	if (create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0)
		return -1;
	if (access(data, F_OK) != 0) {
		printf("%s: no cluster\n", ctx->local_dir);
		return 1;
	}
	if (!is_running(ctx, data)) {
		printf("%s: stopped\n", ctx->local_dir);
		return 1;
	}
	printf("%s: running (socket %s)\n", ctx->local_dir, ctx->socket_dir);
	return 0;
}

int
cluster_stop(struct create_ctx *ctx)
{
	char data[600], log[600];

	if (create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0 ||
	    create_path(log, sizeof(log), "%s/log/postgresql.log", ctx->local_dir) < 0)
		return -1;
	if (access(data, F_OK) != 0 || !is_running(ctx, data)) {
		pgp_info("%s is not running", ctx->local_dir);
		return 0;
	}
	return pg_ctl(ctx, "stop", data, log);
}
