/*
 * pgp-create: turn a PostgreSQL server into a ready, locked-down home for
 * one application.  Local mode (--local DIR) makes the server too: initdb,
 * TLS from a local CA, a strict pg_hba, started as the postgres OS user.
 * Server mode (-d/-t) works through an admin connection, superuser or a
 * managed service's admin.  Both then provision the same role layout,
 * database, extensions and credential files, and prove the result by
 * connecting as the application would.  Idempotent: a second run changes
 * nothing and says so.  run() below holds the order of the steps; the
 * modules that do them are in bin/create/ (create.h draws their tree).
 */
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "create/create.h"
#include "exitcodes.h"
#include "lock.h"
#include "log.h"
#include "pgbin.h"
#include "setup.h"

const char *const role_kind_names[ROLE_COUNT] = {
	"owner", "rw", "ro", "migrator", "app", "readonly", "monitor", "backup", "pooler"
};

enum {
	OPT_LOCAL = PGP_OPT_FIRST_PRIVATE, OPT_PORT, OPT_OS_USER, OPT_ALLOW, OPT_LISTEN, OPT_OUT,
	OPT_EXTENSION, OPT_OPTIONAL_EXTENSION, OPT_AUDIT, OPT_POOLER, OPT_POOLER_PORT,
	OPT_SSLROOTCERT, OPT_ROLE_PREFIX, OPT_ROTATE, OPT_PASSWORD_FILE, OPT_SHOW_SECRETS,
	OPT_DRY_RUN, OPT_STATUS, OPT_STOP, OPT_ARCHIVE
};

struct opts {
	struct pgp_common common;
	struct create_ctx ctx;
	/* As given (NULL: not given); the config getters check them. */
	const char *role_prefix;
	const char *pooler_name;
	const char *pooler_port_arg;
	const char *archive;
	int status, stop;
	/* Repeatable options, NULL-terminated for pgp_conf_list. */
	const char *cli_allow[MAX_LIST + 1], *cli_ext[MAX_LIST + 1], *cli_opt_ext[MAX_LIST + 1];
	int n_cli_allow, n_cli_ext, n_cli_opt_ext;
};

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-create provisions a database for one application.\n"
		"\n"
		"Usage:\n"
		"  pgp-create --local DIR --database NAME [OPTION]...\n"
		"  pgp-create -d CONNINFO | -t TARGET --database NAME [OPTION]...\n"
		"  pgp-create --local DIR --status | --stop\n"
		"\n"
		"Where:\n"
		"      --local=DIR          make and run a local cluster in DIR\n"
		"  -d, --conninfo=CONNINFO  admin connection to an existing server\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"      --database=NAME      database to provision\n"
		"\n"
		"Options:\n"
		"      --allow=CIDR         clients allowed over TLS (repeatable;\n"
		"                           default 127.0.0.1/32)\n"
		"      --audit              log DDL and role changes with pgaudit\n"
		"      --archive=REPO       --local: archive WAL into REPO (pgp-backup wal-push)\n"
		"                           for point-in-time recovery; backup role: REPLICATION\n"
		"  -c, --config=FILE        configuration file (default /etc/pgp/pgp.conf)\n"
		"      --dry-run            print the SQL, change nothing\n"
		"      --extension=NAME     create an extension (repeatable)\n"
		"      --format=FORMAT      output format: text or json\n"
		"      --listen=ADDRESSES   local mode: listen_addresses\n"
		"      --optional-extension=NAME  create it when available\n"
		"      --os-user=USER       local mode as root: server user (postgres)\n"
		"      --out=DIR            write pg_service.conf and pgpass in DIR\n"
		"      --password-file=KIND=FILE  use the password in FILE for a role\n"
		"      --pooler=pgbouncer   put PgBouncer in front (transaction mode)\n"
		"      --pooler-port=PORT   PgBouncer's port (default 6432)\n"
		"      --port=PORT          local mode: the server's port\n"
		"      --role-prefix=NAME   role names start with NAME (default: database)\n"
		"      --rotate-passwords   set new passwords for every login role\n"
		"      --show-secrets       print the passwords\n"
		"      --sslrootcert=FILE   server mode: the provider's CA certificate\n"
		"      --status             local mode: is the cluster running?\n"
		"      --stop               local mode: stop the cluster\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print the SQL as it runs\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-create(1) and pgp(7).\n");
}

/* One more value of a repeatable option; the list stays NULL-terminated. */
static int
add(struct opts *o, const char **list, int *n, const char *optname, const char *value)
{
	if (*n >= MAX_LIST)
		return pgp_opt_fail(&o->common, "too many %s values (at most %d)", optname, MAX_LIST);
	list[(*n)++] = value;
	list[*n] = NULL;
	return PGP_OPT_GO;
}

static int
password_file_option(struct opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');

	for (int k = FIRST_LOGIN_ROLE; eq && k < ROLE_COUNT; k++) {
		if (strlen(role_kind_names[k]) == (size_t) (eq - arg) &&
		    strncmp(arg, role_kind_names[k], (size_t) (eq - arg)) == 0) {
			o->ctx.password_files[k] = eq + 1;
			return PGP_OPT_GO;
		}
	}
	return pgp_opt_fail(&o->common, "--password-file wants KIND=FILE with KIND one of migrator, app, "
			    "readonly, monitor, backup, pooler");
}

static int
parse_options(int argc, char **argv, struct opts *o)
{
	static const char *const formats[] = {"text", "json", NULL};
	static const struct option options[] = {
		PGP_COMMON_OPTIONS,
		{"local", required_argument, NULL, OPT_LOCAL},
		{"port", required_argument, NULL, OPT_PORT},
		{"os-user", required_argument, NULL, OPT_OS_USER},
		{"allow", required_argument, NULL, OPT_ALLOW},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"out", required_argument, NULL, OPT_OUT},
		{"extension", required_argument, NULL, OPT_EXTENSION},
		{"optional-extension", required_argument, NULL, OPT_OPTIONAL_EXTENSION},
		{"audit", no_argument, NULL, OPT_AUDIT},
		{"archive", required_argument, NULL, OPT_ARCHIVE},
		{"pooler", required_argument, NULL, OPT_POOLER},
		{"pooler-port", required_argument, NULL, OPT_POOLER_PORT},
		{"sslrootcert", required_argument, NULL, OPT_SSLROOTCERT},
		{"role-prefix", required_argument, NULL, OPT_ROLE_PREFIX},
		{"rotate-passwords", no_argument, NULL, OPT_ROTATE},
		{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
		{"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"status", no_argument, NULL, OPT_STATUS},
		{"stop", no_argument, NULL, OPT_STOP},
		{NULL, 0, NULL, 0}
	};
	struct create_ctx *ctx = &o->ctx;
	long long v;
	int opt, rc = PGP_OPT_GO;

	pgp_opt_init(&o->common, argv, help, formats);
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_LOCAL: ctx->local_dir = optarg; break;
		case OPT_PORT:
			if ((rc = pgp_opt_number(&o->common, optarg, "--port", 1, 65535, &v)) == PGP_OPT_GO)
				ctx->port = (int) v;
			break;
		case OPT_OS_USER: ctx->os_user = optarg; break;
		case OPT_ALLOW: rc = add(o, o->cli_allow, &o->n_cli_allow, "--allow", optarg); break;
		case OPT_LISTEN: ctx->listen = optarg; break;
		case OPT_OUT: ctx->out_dir = optarg; break;
		case OPT_EXTENSION: rc = add(o, o->cli_ext, &o->n_cli_ext, "--extension", optarg); break;
		case OPT_OPTIONAL_EXTENSION:
			rc = add(o, o->cli_opt_ext, &o->n_cli_opt_ext, "--optional-extension", optarg);
			break;
		case OPT_AUDIT: ctx->audit = 1; break;
		case OPT_ARCHIVE: o->archive = optarg; break;
		case OPT_POOLER: o->pooler_name = optarg; break;
		case OPT_POOLER_PORT: o->pooler_port_arg = optarg; break;
		case OPT_SSLROOTCERT: ctx->sslrootcert = optarg; break;
		case OPT_ROLE_PREFIX: o->role_prefix = optarg; break;
		case OPT_ROTATE: ctx->rotate_passwords = 1; break;
		case OPT_PASSWORD_FILE: rc = password_file_option(o, optarg); break;
		case OPT_SHOW_SECRETS: ctx->show_secrets = 1; break;
		case OPT_DRY_RUN: ctx->dry_run = 1; break;
		case OPT_STATUS: o->status = 1; break;
		case OPT_STOP: o->stop = 1; break;
		default: rc = pgp_opt_handle(&o->common, opt, optarg);
		}
	}
	if (rc != PGP_OPT_GO)
		return rc;
	if (optind < argc)
		return pgp_opt_fail(&o->common, "too many arguments (first is \"%s\")", argv[optind]);
	if ((rc = pgp_opt_check(&o->common)) != PGP_OPT_GO)
		return rc;
	if ((o->status || o->stop) && !ctx->local_dir)
		return pgp_opt_fail(&o->common, "--status and --stop manage a local cluster: give --local DIR");
	if (ctx->local_dir && (o->common.conninfo || o->common.target))
		return pgp_opt_fail(&o->common, "--local makes its own server: do not give -d or -t");
	if (!o->status && !o->stop && !o->common.database)
		return pgp_opt_fail(&o->common, "--database NAME is required");
	return PGP_OPT_GO;
}

static int
valid_name(const char *s)
{
	regex_t re;
	int ok;

	if (regcomp(&re, "^[a-z_][a-z0-9_]{0,62}$", REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/*
 * A list key (the option's values when given) into dst: -1 (logged) on a
 * bad value or one too many.
 */
static int
take_list(const struct pgp_conf *conf, const char *key, const char *opt, const char *const *given,
	  const char **dst, int *n)
{
	const char **list = NULL;
	int src = pgp_conf_list(conf, key, opt, given, &list), rc = 0;

	*n = 0;
	for (int i = 0; src > 0 && list[i] && rc == 0; i++) {
		if (*n == MAX_LIST)
			rc = pgp_fail("%s: too many values (at most %d)", key, MAX_LIST);
		else
			dst[(*n)++] = list[i];
	}
	free(list);
	return src < 0 ? -1 : rc;
}

/*
 * Everything the config file may set, command line first, each through
 * the getter that checks it: the one place pgp-create reads its
 * configuration.  PGP_OPT_GO, or the usage status.
 */
static int
apply_config(struct opts *o, const struct pgp_conf *conf)
{
	struct create_ctx *ctx = &o->ctx;
	static const char *const limit_keys[ROLE_COUNT] = {
		NULL, NULL, NULL, "create.migrator_connection_limit", "create.app_connection_limit",
		"create.readonly_connection_limit", "create.monitor_connection_limit",
		"create.backup_connection_limit", "create.pooler_connection_limit"
	};
	const char *pooler = NULL, *env = getenv("PG_BINDIR");
	long long v = 0;
	int b = 0;

	if (geteuid() == 0 &&
	    pgp_conf_string(conf, "create.os_user", "--os-user", ctx->os_user, &ctx->os_user) < 0)
		return PGP_EXIT_USAGE;
	/* Where PostgreSQL's programs and PgBouncer are: pgbin.h searches. */
	if (env && *env)
		ctx->pg_bindir = env;
	else if (pgp_conf_string(conf, "programs.pg_bindir", NULL, NULL, &ctx->pg_bindir) < 0)
		return PGP_EXIT_USAGE;
	if (pgp_conf_string(conf, "programs.pgbouncer", NULL, NULL, &ctx->pgbouncer_program) < 0 ||
	    pgp_conf_int(conf, "create.pooler_port", "--pooler-port", o->pooler_port_arg, &v) < 0)
		return PGP_EXIT_USAGE;
	ctx->pooler_port = (int) v;
	if (o->status || o->stop)
		return PGP_OPT_GO;
	if (take_list(conf, "create.allow", "--allow", o->cli_allow, ctx->allow, &ctx->n_allow) < 0 ||
	    take_list(conf, "create.extensions", "--extension", o->cli_ext, ctx->extensions,
		      &ctx->n_extensions) < 0 ||
	    take_list(conf, "create.optional_extensions", "--optional-extension", o->cli_opt_ext,
		      ctx->optional_extensions, &ctx->n_optional) < 0)
		return PGP_EXIT_USAGE;
	if (pgp_conf_bool(conf, "create.audit", "--audit", ctx->audit ? "true" : NULL, &b) < 0 ||
	    pgp_conf_string(conf, "create.pooler", "--pooler", o->pooler_name, &pooler) < 0 ||
	    pgp_conf_string(conf, "create.sslrootcert", "--sslrootcert", ctx->sslrootcert, &ctx->sslrootcert) < 0 ||
	    pgp_conf_string(conf, "create.role_prefix", "--role-prefix", o->role_prefix, &o->role_prefix) < 0 ||
	    pgp_conf_string(conf, "create.archive", "--archive", o->archive, &ctx->archive) < 0)
		return PGP_EXIT_USAGE;
	ctx->audit = b;
	ctx->config_path = o->common.config_path;
	if (ctx->archive && !ctx->local_dir) {
		pgp_error("--archive sets up a --local cluster; on an existing server set it yourself:");
		pgp_detail("ALTER SYSTEM SET archive_mode = on; ALTER SYSTEM SET archive_command = "
			   "'pgp-backup -c /etc/pgp/pgp.conf wal-push %%p'; then restart the server");
		return PGP_EXIT_USAGE;
	}
	/* WORDS: the getter gives "pgbouncer" or "none", whatever the case given. */
	ctx->pooler = pooler && strcmp(pooler, "pgbouncer") == 0;
	if (pgp_conf_get_string(conf, "create.statement_timeout", &ctx->statement_timeout) < 0 ||
	    pgp_conf_get_string(conf, "create.readonly_statement_timeout", &ctx->readonly_statement_timeout) < 0 ||
	    pgp_conf_get_string(conf, "create.monitor_statement_timeout", &ctx->monitor_statement_timeout) < 0 ||
	    pgp_conf_get_string(conf, "create.idle_in_transaction_session_timeout",
				&ctx->idle_in_transaction_session_timeout) < 0 ||
	    pgp_conf_get_string(conf, "create.lock_timeout", &ctx->lock_timeout) < 0)
		return PGP_EXIT_USAGE;
	for (int k = 0; k < ROLE_COUNT; k++) {
		ctx->roles[k].connection_limit = -1;
		if (limit_keys[k] && pgp_conf_get_int(conf, limit_keys[k], &ctx->roles[k].connection_limit) < 0)
			return PGP_EXIT_USAGE;
	}
	return PGP_OPT_GO;
}

/* Role names from the prefix; all must be valid identifiers.  PGP_OPT_GO or the usage status. */
static int
derive_roles(struct opts *o)
{
	struct create_ctx *ctx = &o->ctx;
	const char *prefix = o->role_prefix ? o->role_prefix : ctx->database;

	if (!valid_name(ctx->database))
		return pgp_opt_fail(&o->common, "invalid database name \"%s\" (want [a-z_][a-z0-9_]{0,62})",
				    ctx->database);
	for (int k = 0; k < ROLE_COUNT; k++) {
		struct role_spec *r = &ctx->roles[k];

		snprintf(r->name, sizeof(r->name), "%s_%s", prefix, k == ROLE_POOLER ? "pgbouncer" : role_kind_names[k]);
		if (strlen(prefix) + 1 + strlen(role_kind_names[k]) + 3 > 63 || !valid_name(prefix))
			return pgp_opt_fail(&o->common, "invalid role prefix \"%s\": role names must match "
					    "[a-z_][a-z0-9_]{0,62}", prefix);
		r->login = k >= FIRST_LOGIN_ROLE;
		r->wanted = k != ROLE_POOLER || ctx->pooler;
	}
	return PGP_OPT_GO;
}

/* Local mode: the admin over the cluster's own socket. */
static int
local_admin_spec(struct create_ctx *ctx, struct pgp_connspec *spec, char *buf, size_t size)
{
	memset(spec, 0, sizeof(*spec));
	buf[0] = '\0';
	if (pgp_conninfo_append(buf, size, "host", ctx->socket_dir) < 0 ||
	    pgp_conninfo_append(buf, size, "port", ctx->tcp_port) < 0 ||
	    pgp_conninfo_append(buf, size, "user", ctx->admin_role) < 0 ||
	    pgp_conninfo_append(buf, size, "dbname", "postgres") < 0)
		return pgp_fail("socket path too long");
	spec->conninfo = buf;
	spec->connect_timeout = 10;
	return 0;
}

/*
 * The TCP address of a server the admin reached through its unix socket:
 * the first of its listen_addresses, with the wildcards and "localhost"
 * as 127.0.0.1 ("localhost" may resolve to ::1 first, where the server
 * may not listen, and PgBouncer tries only the first address).
 */
static void
socket_server_address(PGconn *admin, char *buf, size_t size)
{
	PGresult *res = PQexec(admin, "SELECT current_setting('listen_addresses')");
	const char *list = PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "";
	size_t n = strcspn(list, ", ");

	snprintf(buf, size, "%.*s", (int) n, list);
	if (!*buf || !strcmp(buf, "*") || !strcmp(buf, "localhost") || !strcmp(buf, "0.0.0.0"))
		snprintf(buf, size, "127.0.0.1");
	else if (!strcmp(buf, "::"))
		snprintf(buf, size, "::1");
	PQclear(res);
}

/* Server mode: where TCP clients go, from the admin connection. */
static int
server_endpoints(struct create_ctx *ctx, PGconn *admin)
{
	const char *host = PQhost(admin), *port = PQport(admin);

	if (host && *host && *host != '/')
		snprintf(ctx->host, sizeof(ctx->host), "%s", host);
	else
		socket_server_address(admin, ctx->host, sizeof(ctx->host));
	snprintf(ctx->tcp_port, sizeof(ctx->tcp_port), "%s", port && *port ? port : "5432");
	if (ctx->sslrootcert) {
		char abs[PATH_MAX];

		if (!realpath(ctx->sslrootcert, abs))
			return pgp_fail("cannot find --sslrootcert \"%s\"", ctx->sslrootcert);
		snprintf(ctx->ca_file, sizeof(ctx->ca_file), "%s", abs);
	} else
		pgp_warning("no --sslrootcert: the services use sslmode=require, which does not verify "
			    "the server; give the provider's CA for verify-full");
	if (ctx->pooler && !ctx->out_dir)
		return pgp_fail("--pooler in server mode needs --out DIR for pgbouncer.ini");
	/* PgBouncer runs here, not on the server: it gets its own local CA. */
	if (ctx->out_dir &&
	    (create_path(ctx->pooler_dir, sizeof(ctx->pooler_dir), "%s/pgbouncer", ctx->out_dir) < 0 ||
	     create_path(ctx->pooler_tls_dir, sizeof(ctx->pooler_tls_dir), "%s/tls", ctx->pooler_dir) < 0 ||
	     create_path(ctx->pooler_ca_file, sizeof(ctx->pooler_ca_file), "%s/ca.crt", ctx->pooler_tls_dir) < 0))
		return -1;
	return 0;
}

/* A program of the local cluster's PostgreSQL (or PgBouncer) into buf. */
static int
local_program(struct create_ctx *ctx, const char *name, char *buf, size_t size)
{
	char data[600];
	struct pgp_pgbin where = {NULL, ctx->pg_bindir, ctx->pgbouncer_program, 0};

	/* An existing cluster needs its own version's programs; a new one gets the newest. */
	if (create_path(data, sizeof(data), "%s/data", ctx->local_dir) < 0)
		return -1;
	where.major = pgp_pgbin_data_major(data);
	return pgp_pgbin_find(&where, name, buf, size);
}

/*
 * --local DIR, before anything is written: absolute, reachable by the
 * server's OS user, its programs found; then made (a create run) and
 * locked.  An exit status.
 */
static int
local_setup(struct opts *o)
{
	struct create_ctx *ctx = &o->ctx;
	int make = !o->status && !o->stop;

	if (create_dir_check(ctx->local_dir, ctx->os_user, ctx->local_dir_abs, sizeof(ctx->local_dir_abs)) < 0)
		return PGP_EXIT_USAGE;
	ctx->local_dir = ctx->local_dir_abs;
	if (cluster_paths(ctx) < 0)
		return PGP_EXIT_USAGE;
	if (local_program(ctx, "pg_ctl", ctx->pg_ctl, sizeof(ctx->pg_ctl)) < 0 ||
	    (make && local_program(ctx, "initdb", ctx->initdb, sizeof(ctx->initdb)) < 0) ||
	    (make && ctx->pooler && local_program(ctx, "pgbouncer", ctx->pgbouncer, sizeof(ctx->pgbouncer)) < 0))
		return PGP_EXIT_FAILED;
	/* --status, --stop and a dry run make nothing. */
	if (access(ctx->local_dir, F_OK) != 0 && (!make || ctx->dry_run))
		return PGP_EXIT_OK;
	if (make && create_dir_make(ctx->local_dir, 0755, ctx->os_user) < 0)
		return PGP_EXIT_FAILED;
	/* One run at a time in DIR: a second one says who is working there. */
	return cluster_lock(ctx);
}

/* Server mode with --pooler: PgBouncer's OS user reads its files in --out DIR. */
static const char *
out_reader(const struct create_ctx *ctx)
{
	return !ctx->local_dir && ctx->pooler ? ctx->os_user : NULL;
}

/* --out DIR, before anything is written: absolute, reachable by whoever reads it. */
static int
out_check(struct create_ctx *ctx)
{
	if (create_dir_check(ctx->out_dir, out_reader(ctx), ctx->out_dir_abs, sizeof(ctx->out_dir_abs)) < 0)
		return -1;
	ctx->out_dir = ctx->out_dir_abs;
	return 0;
}

/* --out DIR made: 0700, or 0711 when PgBouncer's OS user must enter it. */
static int
out_make(struct create_ctx *ctx)
{
	const char *reader = out_reader(ctx);

	return ctx->dry_run ? 0 : create_dir_make(ctx->out_dir, reader ? 0711 : 0700, reader);
}

/*
 * The steps, in order: the server (made locally, or reached), what is
 * there, the credential files, the roles and the database, inside it,
 * the pooler, then the witness and the report.
 */
static int
create(struct opts *o, const struct pgp_conf *conf)
{
	struct create_ctx *ctx = &o->ctx;
	struct pgp_connspec spec;
	char conninfo[2048];
	PGconn *admin = NULL, *db = NULL;
	int rc = PGP_EXIT_FAILED, has_db;

	ctx->admin_spec = &spec;
	if (ctx->local_dir) {
		if (cluster_prepare(ctx) < 0)
			return PGP_EXIT_FAILED;
		if (ctx->dry_run && !*ctx->tcp_port) {
			printf("-- the cluster does not exist yet: the SQL follows on a real run\n");
			return PGP_EXIT_OK;
		}
		if (local_admin_spec(ctx, &spec, conninfo, sizeof(conninfo)) < 0)
			return PGP_EXIT_FAILED;
	} else if (pgp_conn_spec(conf, &o->common, "create.target", &spec) < 0)
		return PGP_EXIT_USAGE;

	admin = pgp_conn_open(&spec, NULL);
	if (!admin)
		return PGP_EXIT_UNREACHABLE;
	if (!ctx->local_dir && server_endpoints(ctx, admin) < 0)
		goto done;
	if (secrets_load(ctx) < 0 || provision_check(ctx, admin) < 0)
		goto done;
	/* Passwords reach the pgpass before the server: see secrets.c. */
	if ((ctx->out_dir && out_make(ctx) < 0) || secrets_write_files(ctx) < 0)
		goto done;
	if (provision_roles(ctx, admin) < 0 || (has_db = provision_has_database(ctx, admin)) < 0)
		goto done;
	if (ctx->dry_run && !has_db) {
		printf("-- the database does not exist yet: the statements inside it follow on a real run\n");
		rc = PGP_EXIT_OK;
		goto done;
	}
	/* The same admin, inside the application's database. */
	if (!(db = pgp_conn_open(ctx->admin_spec, ctx->database)))
		goto done;
	if (provision_database(ctx, db) < 0)
		goto done;
	if (ctx->pooler && pooler_setup(ctx, db) < 0)
		goto done;
	if (provision_compare(ctx, admin, db) < 0 || report_witness(ctx) < 0)
		goto done;
	report_print(ctx);
	rc = PGP_EXIT_OK;
done:
	pgp_conn_close(db);
	pgp_conn_close(admin);
	provision_free(ctx);
	for (int k = 0; k < ROLE_COUNT; k++)
		explicit_bzero(ctx->roles[k].password, sizeof(ctx->roles[k].password));
	return rc;
}

/* --stop: PgBouncer first, which holds server connections, then the cluster. */
static int
stop(struct create_ctx *ctx)
{
	if (access(ctx->local_dir, F_OK) != 0) {
		pgp_info("%s: no cluster", ctx->local_dir);
		return PGP_EXIT_OK;
	}
	if (pooler_stop(ctx) < 0)
		return PGP_EXIT_FAILED;
	return cluster_stop(ctx) == 0 ? PGP_EXIT_OK : PGP_EXIT_FAILED;
}

static int
run(struct opts *o, const struct pgp_conf *conf)
{
	struct create_ctx *ctx = &o->ctx;
	int rc;

	ctx->common = &o->common;
	ctx->conf = conf;
	ctx->database = o->common.database;
	ctx->lock_fd = -1;
	snprintf(ctx->admin_role, sizeof(ctx->admin_role), "postgres");
	if (ctx->os_user && geteuid() != 0)
		return pgp_opt_fail(&o->common, "--os-user needs root");
	if ((rc = apply_config(o, conf)) != PGP_OPT_GO)
		return rc;
	if (!o->status && !o->stop && (rc = derive_roles(o)) != PGP_OPT_GO)
		return rc;
	if (ctx->out_dir && out_check(ctx) < 0)
		return PGP_EXIT_USAGE;
	if (ctx->local_dir && (rc = local_setup(o)) != PGP_EXIT_OK)
		return rc;
	if (o->status)
		rc = cluster_status(ctx) == 0 ? PGP_EXIT_OK : PGP_EXIT_UNREACHABLE;
	else if (o->stop)
		rc = stop(ctx);
	else
		rc = create(o, conf);
	pgp_lock_release(ctx->lock_fd);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct pgp_conf *conf = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	pgp_log_init(argv[0]);
	if ((rc = parse_options(argc, argv, &o)) != PGP_OPT_GO)
		return rc;
	rc = pgp_setup(&o.common, &conf);
	if (rc == 0)
		rc = run(&o, conf);
	pgp_conf_free(conf);
	return rc;
}
