/*
 * pgp-create's shared state: what was asked, what was found, and the
 * names derived from the database.  Each module of bin/create/ takes a
 * struct create_ctx and does one part of the job; run() in bin/pgp-create.c
 * calls the steps in their order.  The modules depend on each other as a
 * tree, leaves last:
 *
 *   pgp-create.c ── cluster.c ── tls.c ── fs.c
 *                ├─ secrets.c ── fs.c
 *                ├─ provision.c ── stmt.c, secrets.c (SCRAM check)
 *                ├─ pooler.c ── stmt.c, tls.c, fs.c, secrets.c (SCRAM check)
 *                ├─ report.c
 *                └─ fs.c (the --local and --out directories)
 *
 * fs.c (paths and files) and stmt.c (running SQL) call no other module.
 */
#ifndef PGP_CREATE_H
#define PGP_CREATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "conn.h"
#include "opt.h"

/* The group and login roles of the layout, in a fixed order. */
enum role_kind {
	ROLE_OWNER, ROLE_RW, ROLE_RO,			/* NOLOGIN groups */
	ROLE_MIGRATOR, ROLE_APP, ROLE_READONLY, ROLE_MONITOR, ROLE_BACKUP,
	ROLE_POOLER,					/* PgBouncer's auth user */
	ROLE_COUNT
};
#define FIRST_LOGIN_ROLE ROLE_MIGRATOR

/* "owner", "rw", ..., "pooler": suffixes of role names and service kinds. */
extern const char *const role_kind_names[ROLE_COUNT];

struct role_spec {
	char name[64];
	int login;
	long long connection_limit;	/* -1: none */
	char password[128];		/* plaintext, login roles only */
	int password_known;		/* from the pgpass or an operator's file */
	int password_new;		/* generated or rotated in this run */
	int wanted;			/* part of this run (pooler only with --pooler) */
	int exists;			/* on the server before this run */
};

#define MAX_LIST 32

struct create_ctx {
	/* asked */
	const struct pgp_common *common;
	const struct pgp_conf *conf;
	const struct pgp_connspec *admin_spec;	/* how to reach the server as admin */
	const char *database;
	const char *local_dir;		/* --local DIR, or NULL in server mode */
	const char *out_dir;		/* --out DIR, or NULL */
	const char *os_user;		/* local mode, as root: the server's OS user */
	const char *sslrootcert;	/* server mode: the provider's CA */
	const char *listen;		/* listen_addresses in local mode */
	int port;			/* local mode; 0: keep or pick a free one */
	int pooler;			/* --pooler pgbouncer */
	int pooler_port;
	int audit;
	const char *archive;		/* --archive REPO: WAL to pgp-backup wal-push, or NULL */
	const char *config_path;	/* -c, for the archive_command */
	int dry_run;
	int rotate_passwords;
	int show_secrets;
	const char *extensions[MAX_LIST];
	int n_extensions;
	const char *optional_extensions[MAX_LIST];
	int n_optional;
	const char *allow[MAX_LIST];	/* CIDRs allowed over hostssl */
	int n_allow;
	const char *password_files[ROLE_COUNT];	/* --password-file KIND=FILE */
	const char *statement_timeout, *readonly_statement_timeout, *monitor_statement_timeout;
	const char *idle_in_transaction_session_timeout, *lock_timeout;
	const char *pg_bindir;		/* configured: PostgreSQL's programs */
	const char *pgbouncer_program;	/* configured: PgBouncer */

	/* derived and found */
	struct role_spec roles[ROLE_COUNT];
	char admin_role[64];
	int server_version;		/* server_version_num */
	int is_superuser;
	char flavour[32];		/* "superuser", "rds_superuser", ... */
	char host[256];			/* what TCP clients use */
	char tcp_port[16];
	char socket_dir[512];		/* local mode: the admin's socket */
	char ca_file[512];		/* sslrootcert for the TCP services */
	char service_file[512];
	char passfile[512];
	char pooler_dir[512];
	char local_dir_abs[512];	/* --local DIR, resolved */
	char out_dir_abs[512];		/* --out DIR, resolved */
	int changed;
	int uses_rls;
	char witness_tls[32];		/* TLS version the witness saw */
	char witness_via[32];		/* "direct" or "pgbouncer" */
	char pooler_tls_dir[512];	/* PgBouncer's certificate for clients */
	char pooler_ca_file[512];	/* sslrootcert of the pooled service */
	int lock_fd;			/* local mode: DIR's lock, or -1 */
	int pending;			/* cluster.c: what the server still needs */
	char initdb[512], pg_ctl[512];	/* local mode: the programs found */
	char pgbouncer[512];		/* local mode with --pooler */
	char *snapshot, *db_snapshot;	/* provision.c: the catalogs before the run */
};

/* fs.c: paths and files (a leaf) */
/* Build a path from a format; -1 (logged) when too long. */
int create_path(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Give path to os_user (nothing when NULL): 0, or -1 (logged). */
int create_give(const char *path, const char *os_user);
/* mkdir with mode (an existing one is fine), given to os_user. */
int create_mkdir(const char *path, mode_t mode, const char *os_user);
/* 1 when path is absent or holds other than text, 0 when the same, -1 (logged). */
int create_differs(const char *path, const char *text);
/* Replace path by text (atomic, durable), given to os_user. */
int create_write(const char *path, const char *text, mode_t mode, const char *os_user);
/*
 * Before anything is written: abs gets dir made absolute, and the check
 * that os_user (we ourselves when NULL) can reach it once create_dir_make
 * has made what is missing.  0, or -1 after logging the reason and a fix.
 */
int create_dir_check(const char *dir, const char *os_user, char *abs, size_t size);
/*
 * Make abs (from create_dir_check) and its missing parents (0755), abs
 * itself with mode; an existing abs of ours gains mode's bits when
 * os_user must enter it.  0, or -1 (logged).
 */
int create_dir_make(const char *abs, mode_t mode, const char *os_user);

/* stmt.c: SQL (a leaf) */
/*
 * Run one statement built from fmt (pgp_sql_build's %I %L %s %d), or print
 * it under --dry-run; shown, when not NULL, is printed instead (secrets).
 * 0, or -1 after logging the server's message and the statement.
 */
int create_sql(struct create_ctx *ctx, PGconn *conn, const char *shown, const char *fmt, ...);
/* A one-row, one-column query with up to two text parameters: malloc'd, "" for none, NULL (logged). */
char *create_value(PGconn *conn, const char *q, const char *p1, const char *p2);

/* tls.c: a local CA and a server certificate for 127.0.0.1, localhost, host name */
int tls_ensure(const char *dir, const char *os_user, int *changed);
/* Are the CA certificate and the server's pair there, the key os_user's? */
int tls_complete(const char *dir, const char *os_user);

/* cluster.c: the local cluster (--local DIR, ctx->local_dir absolute) */
/* The paths inside DIR into ctx; nothing is written.  0, or -1 (logged). */
int cluster_paths(struct create_ctx *ctx);
/* Take DIR's lock: PGP_EXIT_OK (ctx->lock_fd set), PGP_EXIT_BUSY or PGP_EXIT_FAILED. */
int cluster_lock(struct create_ctx *ctx);
/* initdb when needed, the configuration files, TLS, a started server. */
int cluster_prepare(struct create_ctx *ctx);
/* Print whether it runs: 0 running, 1 not, -1 (logged). */
int cluster_status(struct create_ctx *ctx);
int cluster_stop(struct create_ctx *ctx);

/* secrets.c: passwords and the credential files */
/* Where the files go, and each login role's password: known, given or new. */
int secrets_load(struct create_ctx *ctx);
int secrets_verify_scram(const char *password, const char *verifier);
int secrets_random_password(char *buf, size_t size);
/* The service file and the pgpass, before the server learns a password. */
int secrets_write_files(struct create_ctx *ctx);

/* provision.c: the roles, the database, grants, extensions, UUID v7 */
/* The admin's powers and which roles exist; a role with no known password is an error. */
int provision_check(struct create_ctx *ctx, PGconn *admin);
/* The roles, their memberships and settings, and the database. */
int provision_roles(struct create_ctx *ctx, PGconn *admin);
/* 1 when the database exists, 0 not, -1 (logged). */
int provision_has_database(struct create_ctx *ctx, PGconn *admin);
/* Inside the database (db: the admin connected to it): schemas, extensions, privileges. */
int provision_database(struct create_ctx *ctx, PGconn *db);
/* Compare the catalogs with those provision_roles and provision_database saw: ctx->changed. */
int provision_compare(struct create_ctx *ctx, PGconn *admin, PGconn *db);
/* Free what provision_* kept. */
void provision_free(struct create_ctx *ctx);

/* pooler.c: PgBouncer configuration, auth user and lookup function */
int pooler_setup(struct create_ctx *ctx, PGconn *db_conn);
int pooler_stop(struct create_ctx *ctx);

/* report.c: the witness, URIs and the human or JSON output */
int report_witness(struct create_ctx *ctx);
int report_print(struct create_ctx *ctx);

#endif
