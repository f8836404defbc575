/*
 * pgp-backup: logical backups a cron job can trust, into a local
 * directory or any S3-compatible store.  Subcommands: backup, list,
 * verify, restore, prune.  A backup exists once its manifest does; a
 * partial one never gets a manifest; retention never deletes the newest
 * backup and never runs after a failed one.  Modules are in bin/backup/.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup.h"
#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"

enum {
	OPT_REPO = PGP_OPT_FIRST_PRIVATE, OPT_S3_ENDPOINT, OPT_S3_REGION, OPT_ROLE, OPT_COMPRESS_LEVEL,
	OPT_STATE_DIR, OPT_JOBS, OPT_CLEAN, OPT_NO_OWNER, OPT_RESTORE_TEST, OPT_DRY_RUN, OPT_KEEP_LAST,
	OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY, OPT_MAX_AGE, OPT_NO_PRUNE, OPT_FROM, OPT_IN_PLACE,
	OPT_KEEP_OLD, OPT_TERMINATE
};

struct opts {
	struct pgp_common common;
	const char *subcommand, *id;
	const char *repo, *endpoint, *region, *role, *state_dir, *from;
	int compress_level, jobs, clean, no_owner, restore_test, dry_run, no_prune;
	int in_place, keep_old, terminate;
	long long keep[5];		/* last, daily, weekly, monthly, max age: -1 unset */
};

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-backup takes, lists, verifies, restores and prunes backups.\n"
		"\n"
		"Usage:\n"
		"  pgp-backup backup  -d CONNINFO | -t TARGET [--repo REPO] [OPTION]...\n"
		"  pgp-backup list    [--repo REPO] [--database NAME] [--format json]\n"
		"  pgp-backup verify  ID|latest [--restore-test -d CONNINFO]\n"
		"  pgp-backup restore ID|latest -d CONNINFO --database NAME [--clean]\n"
		"  pgp-backup prune   [--database NAME] [--dry-run]\n"
		"\n"
		"Repository:\n"
		"      --repo=REPO          a directory, or s3://bucket/prefix\n"
		"      --s3-endpoint=URL    S3-compatible endpoint (implies path style)\n"
		"      --s3-region=REGION   default us-east-1\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"      --database=NAME      database (restore: the one to restore into)\n"
		"  -c, --config=FILE        configuration file (default /etc/pgp/pgp.conf)\n"
		"      --format=FORMAT      output format: text or json\n"
		"      --role=ROLE          pg_dump --role (default: <db>_owner for <db>_backup)\n"
		"      --compress-level=N   zlib level 0-9 (default 1)\n"
		"      --state-dir=DIR      state and lock files (default /var/lib/pgp)\n"
		"      --no-prune           backup: skip retention afterwards\n"
		"      --jobs=N             restore: download first, pg_restore -j N\n"
		"      --from=NAME          restore: the backed-up database to take\n"
		"      --clean              restore: replace a database that is not empty\n"
		"      --terminate          restore: end the sessions on the database replaced\n"
		"      --keep-old           restore: keep the replaced database (pgp_old_...)\n"
		"      --in-place           restore: verify first, then restore over the target\n"
		"                           (no room for a second copy; no swap)\n"
		"      --no-owner           restore: do not set object owners\n"
		"      --restore-test       verify: restore into a scratch database too\n"
		"      --dry-run            prune: list what would go\n"
		"      --keep-last=N        keep the newest N backups (24)\n"
		"      --keep-daily=N       keep one backup a day for N days (7)\n"
		"      --keep-weekly=N      keep one a week for N weeks (4)\n"
		"      --keep-monthly=N     keep one a month for N months (6)\n"
		"      --max-age=DAYS       keep everything younger than DAYS\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-backup(1) and pgp(7).\n");
}

static void
parse_options(int argc, char **argv, struct opts *o)
{
	static const char *const formats[] = {"text", "json", NULL};
	static const char *const subcommands[] = {"backup", "list", "verify", "restore", "prune", NULL};
	static const struct option options[] = {
		PGP_COMMON_OPTIONS,
		{"repo", required_argument, NULL, OPT_REPO},
		{"s3-endpoint", required_argument, NULL, OPT_S3_ENDPOINT},
		{"s3-region", required_argument, NULL, OPT_S3_REGION},
		{"role", required_argument, NULL, OPT_ROLE},
		{"compress-level", required_argument, NULL, OPT_COMPRESS_LEVEL},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"jobs", required_argument, NULL, OPT_JOBS},
		{"clean", no_argument, NULL, OPT_CLEAN},
		{"no-owner", no_argument, NULL, OPT_NO_OWNER},
		{"restore-test", no_argument, NULL, OPT_RESTORE_TEST},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"keep-last", required_argument, NULL, OPT_KEEP_LAST},
		{"keep-daily", required_argument, NULL, OPT_KEEP_DAILY},
		{"keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY},
		{"keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY},
		{"max-age", required_argument, NULL, OPT_MAX_AGE},
		{"no-prune", no_argument, NULL, OPT_NO_PRUNE},
		{"from", required_argument, NULL, OPT_FROM},
		{"in-place", no_argument, NULL, OPT_IN_PLACE},
		{"keep-old", no_argument, NULL, OPT_KEEP_OLD},
		{"terminate", no_argument, NULL, OPT_TERMINATE},
		{NULL, 0, NULL, 0}
	};
	int opt, known = 0;

	o->compress_level = -1;
	for (int i = 0; i < 5; i++)
		o->keep[i] = -1;
	pgp_opt_init(&o->common, argv, help, formats);
	while ((opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_REPO: o->repo = optarg; break;
		case OPT_S3_ENDPOINT: o->endpoint = optarg; break;
		case OPT_S3_REGION: o->region = optarg; break;
		case OPT_ROLE: o->role = optarg; break;
		case OPT_COMPRESS_LEVEL:
			o->compress_level = (int) pgp_opt_int(&o->common, optarg, "--compress-level", 0, 9);
			break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_JOBS: o->jobs = (int) pgp_opt_int(&o->common, optarg, "--jobs", 1, 64); break;
		case OPT_CLEAN: o->clean = 1; break;
		case OPT_NO_OWNER: o->no_owner = 1; break;
		case OPT_RESTORE_TEST: o->restore_test = 1; break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_KEEP_LAST: case OPT_KEEP_DAILY: case OPT_KEEP_WEEKLY: case OPT_KEEP_MONTHLY:
		case OPT_MAX_AGE:
			o->keep[opt - OPT_KEEP_LAST] = pgp_opt_int(&o->common, optarg, "retention", 0, 100000);
			break;
		case OPT_NO_PRUNE: o->no_prune = 1; break;
		case OPT_FROM: o->from = optarg; break;
		case OPT_IN_PLACE: o->in_place = 1; break;
		case OPT_KEEP_OLD: o->keep_old = 1; break;
		case OPT_TERMINATE: o->terminate = 1; break;
		default: pgp_opt_common(&o->common, opt, optarg);
		}
	}
	if (optind >= argc)
		pgp_usage_error(&o->common, "no subcommand given (backup, list, verify, restore or prune)");
	o->subcommand = argv[optind++];
	for (const char *const *s = subcommands; *s; s++)
		known |= strcmp(*s, o->subcommand) == 0;
	if (!known)
		pgp_usage_error(&o->common, "unknown subcommand \"%s\"", o->subcommand);
	if (!strcmp(o->subcommand, "verify") || !strcmp(o->subcommand, "restore")) {
		if (optind >= argc)
			pgp_usage_error(&o->common, "%s needs a backup ID or \"latest\"", o->subcommand);
		o->id = argv[optind++];
	}
	if (optind < argc)
		pgp_usage_error(&o->common, "too many arguments (first is \"%s\")", argv[optind]);
	pgp_opt_finish(&o->common);
}

/* Command line, else config, else default, for the retention numbers. */
static long long
retention(long long given, const struct pgp_conf *conf, const char *key)
{
	long long v = 0;

	if (given >= 0)
		return given;
	pgp_conf_get_int(conf, key, &v);
	return v;
}

static int
configure(struct opts *o, const struct pgp_conf *conf, struct backup_ctx *ctx)
{
	const char *repo = o->repo, *endpoint = o->endpoint, *region = o->region, *s = NULL;
	long long v;

	memset(ctx, 0, sizeof(*ctx));
	ctx->common = &o->common;
	ctx->conf = conf;
	ctx->database = o->common.database;
	ctx->role = o->role;
	ctx->state_dir = o->state_dir;
	ctx->jobs = o->jobs;
	ctx->clean = o->clean;
	ctx->no_owner = o->no_owner;
	ctx->restore_test = o->restore_test;
	ctx->dry_run = o->dry_run;
	ctx->in_place = o->in_place;
	ctx->keep_old = o->keep_old;
	ctx->terminate = o->terminate;
	if ((!repo && pgp_conf_get_string(conf, "backup.repo", &repo) < 0) ||
	    (!endpoint && pgp_conf_get_string(conf, "backup.s3_endpoint", &endpoint) < 0) ||
	    (!region && pgp_conf_get_string(conf, "backup.s3_region", &region) < 0) ||
	    (!ctx->role && pgp_conf_get_string(conf, "backup.role", &ctx->role) < 0) ||
	    (!ctx->state_dir && pgp_conf_get_string(conf, "backup.state_dir", &ctx->state_dir) < 0) ||
	    pgp_conf_get_string(conf, "backup.pg_bindir", &ctx->pg_bindir) < 0 ||
	    pgp_conf_get_string(conf, "backup.tmp_dir", &s) < 0)
		return -1;
	ctx->tmp_dir = s ? s : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	if (!repo)
		pgp_usage_error(&o->common, "no repository: give --repo or set backup.repo");
	ctx->compress_level = o->compress_level;
	if (ctx->compress_level < 0) {
		if (pgp_conf_get_int(conf, "backup.compress_level", &v) < 0)
			return -1;
		ctx->compress_level = v < 0 || v > 9 ? 1 : (int) v;
	}
	ctx->keep_last = retention(o->keep[0], conf, "backup.keep_last");
	ctx->keep_daily = retention(o->keep[1], conf, "backup.keep_daily");
	ctx->keep_weekly = retention(o->keep[2], conf, "backup.keep_weekly");
	ctx->keep_monthly = retention(o->keep[3], conf, "backup.keep_monthly");
	ctx->max_age_days = retention(o->keep[4], conf, "backup.max_age_days");
	ctx->prune_after = !o->no_prune;
	if (o->common.conninfo || o->common.target ||
	    pgp_conf_get_string(conf, "backup.target", &s) == 1) {
		if (pgp_conn_spec(conf, &o->common, "backup.target", &ctx->spec) < 0)
			return -1;
		ctx->have_spec = 1;
	}
	/* Which backed-up database: restore's --database is its target, so
	 * --from; list and prune may take the connection's database. */
	if (!strcmp(o->subcommand, "restore"))
		ctx->database = o->from;
	else if (!ctx->database && ctx->have_spec && (!strcmp(o->subcommand, "list") ||
						      !strcmp(o->subcommand, "prune"))) {
		static char dbname[128];
		const char *ci = ctx->spec.conninfo;
		/* libpq's rule: a string without "=" that is not a URI is a database name. */
		int bare = !strchr(ci, '=') && strncmp(ci, "postgresql://", 13) && strncmp(ci, "postgres://", 11);
		PQconninfoOption *opts = bare ? NULL : PQconninfoParse(ci, NULL);

		if (bare && *ci) {
			snprintf(dbname, sizeof(dbname), "%s", ci);
			ctx->database = dbname;
		}
		for (PQconninfoOption *p = opts; p && p->keyword; p++)
			if (!strcmp(p->keyword, "dbname") && p->val && *p->val) {
				snprintf(dbname, sizeof(dbname), "%s", p->val);
				ctx->database = dbname;
			}
		PQconninfoFree(opts);
	}
	ctx->repo = repo_open(repo, conf, endpoint, region);
	return ctx->repo ? 0 : -1;
}

static int
run(struct opts *o, const struct pgp_conf *conf)
{
	struct backup_ctx ctx;
	const char *sub = o->subcommand;
	int rc;

	if (configure(o, conf, &ctx) < 0) {
		repo_close(ctx.repo);
		return PGP_EXIT_USAGE;
	}
	if (!strcmp(sub, "backup"))
		rc = backup_run(&ctx);
	else if (!strcmp(sub, "list"))
		rc = catalog_print(&ctx);
	else if (!strcmp(sub, "verify"))
		rc = verify_backup(&ctx, o->id);
	else if (!strcmp(sub, "restore"))
		rc = restore_backup(&ctx, o->id, o->common.database);
	else
		rc = prune_run(&ctx);
	repo_close(ctx.repo);
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
	parse_options(argc, argv, &o);
	/* A reader that died (pg_restore) must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pgp_error("cannot initialise libcurl");
		return PGP_EXIT_FAILED;
	}
	rc = pgp_setup(&o.common, &conf);
	if (rc == 0)
		rc = run(&o, conf);
	pgp_conf_free(conf);
	curl_global_cleanup();
	return rc;
}
