/*
 * The local cluster of --local DIR: the same layout production gets, on
 * one machine.  DIR holds data/ (PGDATA), tls/ (CA and server certificate),
 * run/ (the unix socket), log/ and the credential files.  Run as root, the
 * server belongs to the postgres OS user (or --os-user), as Debian's
 * pg_createcluster does, and pg_ident maps the invoking user to the admin.
 *
 * Every file pgp-create writes here is regenerated on each run and
 * compared with what is there: a run that changes nothing reports it.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "create.h"
#include "log.h"
#include "spawn.h"

#define SOCKET_PATH_MAX 107	/* sun_path, less the terminating NUL */

const char *
cluster_bindir(void)
{
	const char *env = getenv("PG_BINDIR");

	return env && *env ? env : "/usr/lib/postgresql/15/bin";
}

int
create_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= size)
		return pgp_fail("path too long: %s", buf);
	return 0;
}

/* mkdir with mode, owned by the server's user when we are root. */
static int
make_dir(struct create_ctx *ctx, const char *path, mode_t mode)
{
	uid_t uid;
	gid_t gid;

	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return pgp_fail("cannot create directory \"%s\": %s", path, strerror(errno));
	if (ctx->os_user) {
		if (pgp_os_user(ctx->os_user, &uid, &gid) < 0)
			return -1;
		if (chown(path, uid, gid) != 0)
			return pgp_fail("cannot give \"%s\" to %s: %s", path, ctx->os_user, strerror(errno));
	}
	return 0;
}

int
cluster_run(struct create_ctx *ctx, char *const argv[])
{
	char log[600];

	if (create_path(log, sizeof(log), "%s/log/pgp-create.log", ctx->local_dir) < 0)
		return -1;
	return pgp_spawn(argv, ctx->os_user, log);
}

/* Replace a file when its content differs; *changed set when it did. */
static int
write_if_changed(struct create_ctx *ctx, const char *path, const char *text, mode_t mode,
		 int *changed)
{
	char *old = NULL;
	size_t len;
	uid_t uid;
	gid_t gid;

	if (access(path, F_OK) == 0) {
		int same;

		if (pgp_read_file(path, &old, &len) < 0)
			return -1;
		same = strcmp(old, text) == 0;
		free(old);
		if (same)
			return 0;
	}
	if (ctx->dry_run) {
		printf("-- would write %s\n", path);
		*changed = 1;
		return 0;
	}
	if (pgp_atomic_write(path, text, strlen(text), mode) < 0)
		return -1;
	if (ctx->os_user && (pgp_os_user(ctx->os_user, &uid, &gid) < 0 || chown(path, uid, gid) != 0))
		return pgp_fail("cannot give \"%s\" to %s", path, ctx->os_user);
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
	char *argv[] = {(char *) "pg_ctl", (char *) "status", (char *) "-D", (char *) data, NULL};
	char ctl[600];

	snprintf(ctl, sizeof(ctl), "%s/pg_ctl", cluster_bindir());
	argv[0] = ctl;
	return cluster_run(ctx, argv) == 0;
}

static int
pg_ctl(struct create_ctx *ctx, const char *action, const char *data, const char *log)
{
	char ctl[600];
	char *argv[] = {ctl, (char *) action, (char *) "-D", (char *) data, (char *) "-w",
		(char *) "-t", (char *) "60", (char *) "-m", (char *) "fast", (char *) "-l", (char *) log, NULL};
	int rc;

	snprintf(ctl, sizeof(ctl), "%s/pg_ctl", cluster_bindir());
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
initdb(struct create_ctx *ctx, const char *data)
{
	char bin[600];
	char *argv[] = {bin, (char *) "-D", (char *) data, (char *) "-U", ctx->admin_role,
		(char *) "--data-checksums", (char *) "-E", (char *) "UTF8",
		(char *) "--locale=C.UTF-8", (char *) "--auth-local=peer",
		(char *) "--auth-host=scram-sha-256", NULL};
	int rc;

	snprintf(bin, sizeof(bin), "%s/initdb", cluster_bindir());
	if (access(bin, X_OK) != 0)
		return pgp_fail("cannot find initdb at %s (install postgresql-15, or set PG_BINDIR)", bin);
	if (ctx->dry_run) {
		printf("-- would run initdb in %s\n", data);
		return 0;
	}
	pgp_info("initdb %s (data checksums, UTF-8, scram-sha-256)", data);
	rc = cluster_run(ctx, argv);
	if (rc != 0) {
		pgp_error("initdb failed (exit %d) in %s", rc, data);
		pgp_hint("see %s/log/pgp-create.log; the OS user %s must be able to reach %s",
			 ctx->local_dir, ctx->os_user ? ctx->os_user : "running pgp-create", ctx->local_dir);
		return -1;
	}
	ctx->changed = 1;
	return 0;
}

/* postgresql.conf includes our file and conf.d, once. */
static int
ensure_includes(struct create_ctx *ctx, const char *data)
{
	char path[600], *text, *joined;
	static const char add[] = "\n# Added by pgp-create\ninclude_if_exists = 'pgp-create.conf'\n"
		"include_dir = 'conf.d'\n";
	int changed = 0, rc;

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
	rc = write_if_changed(ctx, path, joined, 0600, &changed);
	free(text);
	free(joined);
	return rc;
}

static int
setup_paths(struct create_ctx *ctx)
{
	char abs[PATH_MAX];

	if (mkdir(ctx->local_dir, 0755) != 0 && errno != EEXIST)
		return pgp_fail("cannot create \"%s\": %s", ctx->local_dir, strerror(errno));
	if (!realpath(ctx->local_dir, abs))
		return pgp_fail("cannot resolve \"%s\": %s", ctx->local_dir, strerror(errno));
	/* The server's OS user must enter DIR; its secrets stay 0600 inside. */
	if (ctx->os_user) {
		struct stat st;

		if (stat(abs, &st) == 0 && (st.st_mode & 0005) != 0005 && st.st_uid == geteuid()) {
			if (chmod(abs, (st.st_mode & 07777) | 0755) != 0)
				return pgp_fail("cannot open \"%s\" to %s: %s", abs, ctx->os_user, strerror(errno));
			pgp_info("made %s enterable by %s (mode 0755)", abs, ctx->os_user);
		}
	}
	if (create_path(ctx->local_dir_abs, sizeof(ctx->local_dir_abs), "%s", abs) < 0)
		return -1;
	ctx->local_dir = ctx->local_dir_abs;
	if (create_path(ctx->socket_dir, sizeof(ctx->socket_dir), "%s/run", ctx->local_dir) < 0 ||
	    create_path(ctx->ca_file, sizeof(ctx->ca_file), "%s/tls/ca.crt", ctx->local_dir) < 0 ||
	    create_path(ctx->pooler_dir, sizeof(ctx->pooler_dir), "%s/pgbouncer", ctx->local_dir) < 0)
		return -1;
	/* The socket is run/.s.PGSQL.PORT: its path must fit in sun_path. */
	if (strlen(ctx->socket_dir) + strlen("/.s.PGSQL.65535") > SOCKET_PATH_MAX)
		return pgp_fail("\"%s\" is too long for a unix socket path (at most %d bytes); "
				"choose a shorter --local directory", ctx->socket_dir, SOCKET_PATH_MAX);
	snprintf(ctx->host, sizeof(ctx->host), "127.0.0.1");
	return 0;
}

int
cluster_prepare(struct create_ctx *ctx)
{
	char data[600], path[600], log[600], pgv[600];
	char *text;
	int conf_changed = 0, hba_changed = 0, tls_changed = 0;

	if (setup_paths(ctx) < 0)
		return -1;
	if (create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0 ||
	    create_path(log, sizeof(log), "%s/log/postgresql.log", ctx->local_dir) < 0 ||
	    create_path(pgv, sizeof(pgv), "%s/PG_VERSION", data) < 0)
		return -1;
	if (!ctx->dry_run) {
		char logdir[600];

		snprintf(logdir, sizeof(logdir), "%s/log", ctx->local_dir);
		if (make_dir(ctx, logdir, 0755) < 0 || make_dir(ctx, ctx->socket_dir, 0755) < 0)
			return -1;
		snprintf(path, sizeof(path), "%s/tls", ctx->local_dir);
		if (tls_ensure(path, ctx->os_user, &tls_changed) < 0)
			return -1;
	}
	ctx->changed |= tls_changed;
	if (access(pgv, F_OK) != 0) {
		if (!ctx->dry_run && make_dir(ctx, data, 0700) < 0)
			return -1;
		if (initdb(ctx, data) < 0)
			return -1;
		if (ctx->dry_run)
			return 0;
	}
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
	if (write_if_changed(ctx, path, text, 0600, &conf_changed) < 0 || ensure_includes(ctx, data) < 0) {
		free(text);
		return -1;
	}
	free(text);
	snprintf(path, sizeof(path), "%s/conf.d", data);
	if (!ctx->dry_run && make_dir(ctx, path, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/pg_hba.conf", data);
	if (!(text = hba_conf(ctx)) || write_if_changed(ctx, path, text, 0600, &hba_changed) < 0) {
		free(text);
		return -1;
	}
	free(text);
	snprintf(path, sizeof(path), "%s/pg_ident.conf", data);
	if (!(text = ident_conf(ctx)) || write_if_changed(ctx, path, text, 0600, &hba_changed) < 0) {
		free(text);
		return -1;
	}
	free(text);
	ctx->changed |= conf_changed | hba_changed;
	if (ctx->dry_run)
		return 0;

	if (!is_running(ctx, data)) {
		pgp_info("starting PostgreSQL on port %s (log %s)", ctx->tcp_port, log);
		ctx->changed = 1;
		return pg_ctl(ctx, "start", data, log);
	}
	/* Ports, TLS files and preload libraries need a restart; hba a reload. */
	if (conf_changed || tls_changed) {
		pgp_info("restarting the local cluster: its configuration changed");
		return pg_ctl(ctx, "restart", data, log);
	}
	if (hba_changed)
		return pg_ctl(ctx, "reload", data, log);
	return 0;
}

int
cluster_status(struct create_ctx *ctx)
{
	char data[600];

	if (setup_paths(ctx) < 0 || create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0)
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

	if (setup_paths(ctx) < 0 || create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0 ||
	    create_path(log, sizeof(log), "%s/log/postgresql.log", ctx->local_dir) < 0)
		return -1;
	pooler_stop(ctx);
	if (access(data, F_OK) != 0 || !is_running(ctx, data)) {
		pgp_info("%s is not running", ctx->local_dir);
		return 0;
	}
	return pg_ctl(ctx, "stop", data, log);
}
