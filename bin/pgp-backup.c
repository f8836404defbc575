/*
 * pgp-backup: logical backups a cron job can trust, into a local
 * directory or any S3-compatible store.  Subcommands: backup, list,
 * verify, restore, prune, keygen.  A backup exists once its manifest does; a
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
#include "childconn.h"
#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"

enum {
	OPT_REPO = PGP_OPT_FIRST_PRIVATE, OPT_S3_ENDPOINT, OPT_S3_REGION, OPT_ROLE, OPT_COMPRESSION, OPT_COMPRESS_LEVEL,
	OPT_STATE_DIR, OPT_JOBS, OPT_CLEAN, OPT_NO_OWNER, OPT_RESTORE_TEST, OPT_DRY_RUN, OPT_KEEP_LAST,
	OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY, OPT_MAX_AGE, OPT_NO_PRUNE, OPT_FROM, OPT_IN_PLACE,
	OPT_KEEP_OLD, OPT_TERMINATE, OPT_ENCRYPT_TO, OPT_IDENTITY, OPT_PHYSICAL, OPT_CLUSTER, OPT_DATA_DIR,
	OPT_TARGET_TIME, OPT_TARGET_LSN, OPT_TARGET_XID, OPT_TARGET, OPT_START, OPT_STANDBY, OPT_PRIMARY,
	OPT_TABLESPACE_MAP, OPT_NO_ARCHIVE
};

#define MAX_ENCRYPT_TO 64

struct opts {
	struct pgp_common common;
	const char *subcommand, *id;
	const char *repo, *endpoint, *region, *role, *state_dir, *from;
	/* As given (NULL: not given), checked by the config getters with the
	 * rule of their key, as a PGP_BACKUP_* variable or the file would be. */
	const char *compression, *compress_level, *keep[5];	/* last, daily, weekly, monthly, max age */
	const char *encrypt_to[MAX_ENCRYPT_TO + 1], *identity;	/* encrypt_to NULL-terminated */
	int nencrypt_to;
	const char *arg2;			/* wal-fetch's second argument */
	/* physical */
	int physical, start, standby, ntargets, nmaps, no_archive;
	const char *cluster, *data_dir, *target_kind, *target_value, *primary, *maps[64];
	int jobs, clean, no_owner, restore_test, dry_run, no_prune;
	int in_place, keep_old, terminate;
};

/* The retention keys and their options, in the order of opts.keep. */
static const char *const keep_keys[5] = {
	"backup.keep_last", "backup.keep_daily", "backup.keep_weekly", "backup.keep_monthly",
	"backup.max_age_days"
};
static const char *const keep_options[5] = {
	"--keep-last", "--keep-daily", "--keep-weekly", "--keep-monthly", "--max-age"
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
		"  pgp-backup keygen  FILE   (a new identity file; prints its public key)\n"
		"Physical backups and the WAL archive (per cluster):\n"
		"  pgp-backup backup  --physical -d CONNINFO   (a replication connection)\n"
		"  pgp-backup list|verify|prune --physical [ID|latest]\n"
		"  pgp-backup restore --physical ID|latest --data-dir DIR [--target-time T |\n"
		"                     --target-lsn L | --target-xid X |\n"
		"                     --recovery-target immediate|latest]\n"
		"                     [--start] [--standby --primary CONNINFO]\n"
		"  pgp-backup wal-push %%p        (archive_command)\n"
		"  pgp-backup wal-fetch %%f %%p    (restore_command)\n"
		"\n"
		"Repository:\n"
		"      --repo=REPO          a directory, or s3://bucket/prefix\n"
		"      --s3-endpoint=URL    S3-compatible endpoint (implies path style)\n"
		"      --s3-region=REGION   default us-east-1\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI (restore --physical: where\n"
		"                           the restored server listens: host=, port=)\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"      --database=NAME      database (restore: the one to restore into)\n"
		"  -c, --config=FILE        configuration file (default " PGP_CONF_DEFAULT_PATH ")\n"
		"      --format=FORMAT      output format: text or json\n"
		"      --role=ROLE          pg_dump --role (default: <db>_owner for <db>_backup)\n"
		"      --compression=HOW    zstd (default), gzip or none\n"
		"      --compress-level=N   zstd -7..19 (default 1), gzip 0..9 (default 1)\n"
		"      --encrypt-to=KEY     backup: encrypt to this public key (age1...) or the\n"
		"                           keys in this file; repeatable\n"
		"      --identity=FILE      restore, verify --restore-test: the identity (private\n"
		"                           key) file that decrypts an encrypted backup\n"
		"      --state-dir=DIR      state and lock files (default " PGP_STATE_DIR_DEFAULT ")\n"
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
		"      --physical           base backups of the cluster, not logical dumps\n"
		"      --cluster=NAME       the cluster's name in the repository (default: its\n"
		"                           system identifier)\n"
		"      --data-dir=DIR       restore --physical: an empty or new directory\n"
		"      --target-time=TIME   restore --physical: recover to this time\n"
		"      --target-lsn=LSN     ... to this WAL position\n"
		"      --target-xid=XID     ... to this transaction\n"
		"      --recovery-target=WHAT  immediate (the backup's end) or latest (default)\n"
		"      --start              restore --physical: start the server, wait for the\n"
		"                           end of recovery, report the point reached\n"
		"      --standby            restore --physical: a streaming standby of --primary\n"
		"      --primary=CONNINFO   the standby's primary (no password: a pgpass file)\n"
		"      --tablespace-map=OID=DIR  restore --physical: put tablespace OID in DIR\n"
		"      --no-archive         restore --physical: the copy does not archive its WAL\n"
		"                           (a test restore; default: into the same repository)\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-backup(1) and pgp(7).\n");
}

static int
parse_options(int argc, char **argv, struct opts *o)
{
	static const char *const formats[] = {"text", "json", NULL};
	static const char *const subcommands[] = {"backup", "list", "verify", "restore", "prune", "keygen",
		"wal-push", "wal-fetch", NULL};
	static const struct option options[] = {
		PGP_COMMON_OPTIONS,
		{"repo", required_argument, NULL, OPT_REPO},
		{"s3-endpoint", required_argument, NULL, OPT_S3_ENDPOINT},
		{"s3-region", required_argument, NULL, OPT_S3_REGION},
		{"role", required_argument, NULL, OPT_ROLE},
		{"compression", required_argument, NULL, OPT_COMPRESSION},
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
		{"encrypt-to", required_argument, NULL, OPT_ENCRYPT_TO},
		{"identity", required_argument, NULL, OPT_IDENTITY},
		{"physical", no_argument, NULL, OPT_PHYSICAL},
		{"cluster", required_argument, NULL, OPT_CLUSTER},
		{"data-dir", required_argument, NULL, OPT_DATA_DIR},
		{"target-time", required_argument, NULL, OPT_TARGET_TIME},
		{"target-lsn", required_argument, NULL, OPT_TARGET_LSN},
		{"target-xid", required_argument, NULL, OPT_TARGET_XID},
		{"recovery-target", required_argument, NULL, OPT_TARGET},
		{"start", no_argument, NULL, OPT_START},
		{"standby", no_argument, NULL, OPT_STANDBY},
		{"primary", required_argument, NULL, OPT_PRIMARY},
		{"tablespace-map", required_argument, NULL, OPT_TABLESPACE_MAP},
		{"no-archive", no_argument, NULL, OPT_NO_ARCHIVE},
		{NULL, 0, NULL, 0}
	};
	int opt, known = 0, rc = PGP_OPT_GO;
	long long jobs;

	pgp_opt_init(&o->common, argv, help, formats);
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_REPO: o->repo = optarg; break;
		case OPT_S3_ENDPOINT: o->endpoint = optarg; break;
		case OPT_S3_REGION: o->region = optarg; break;
		case OPT_ROLE: o->role = optarg; break;
		case OPT_COMPRESSION: o->compression = optarg; break;
		case OPT_COMPRESS_LEVEL: o->compress_level = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_JOBS:
			rc = pgp_opt_number(&o->common, optarg, "--jobs", 1, 64, &jobs);
			o->jobs = (int) jobs;
			break;
		case OPT_CLEAN: o->clean = 1; break;
		case OPT_NO_OWNER: o->no_owner = 1; break;
		case OPT_RESTORE_TEST: o->restore_test = 1; break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_KEEP_LAST: case OPT_KEEP_DAILY: case OPT_KEEP_WEEKLY: case OPT_KEEP_MONTHLY:
		case OPT_MAX_AGE:
			o->keep[opt - OPT_KEEP_LAST] = optarg;
			break;
		case OPT_NO_PRUNE: o->no_prune = 1; break;
		case OPT_FROM: o->from = optarg; break;
		case OPT_IN_PLACE: o->in_place = 1; break;
		case OPT_KEEP_OLD: o->keep_old = 1; break;
		case OPT_TERMINATE: o->terminate = 1; break;
		case OPT_ENCRYPT_TO:
			if (o->nencrypt_to == MAX_ENCRYPT_TO)
				rc = pgp_opt_fail(&o->common, "--encrypt-to: at most %d", MAX_ENCRYPT_TO);
			else
				o->encrypt_to[o->nencrypt_to++] = optarg;
			break;
		case OPT_IDENTITY: o->identity = optarg; break;
		case OPT_PHYSICAL: o->physical = 1; break;
		case OPT_CLUSTER: o->cluster = optarg; break;
		case OPT_DATA_DIR: o->data_dir = optarg; break;
		case OPT_TARGET_TIME: case OPT_TARGET_LSN: case OPT_TARGET_XID: case OPT_TARGET:
			o->ntargets++;
			o->target_kind = opt == OPT_TARGET_TIME ? "time" : opt == OPT_TARGET_LSN ? "lsn"
				: opt == OPT_TARGET_XID ? "xid" : optarg;
			o->target_value = opt == OPT_TARGET ? NULL : optarg;
			if (opt == OPT_TARGET && strcmp(optarg, "immediate") && strcmp(optarg, "latest"))
				rc = pgp_opt_fail(&o->common, "--recovery-target is \"%s\": immediate or latest", optarg);
			break;
		case OPT_START: o->start = 1; break;
		case OPT_NO_ARCHIVE: o->no_archive = 1; break;
		case OPT_STANDBY: o->standby = 1; break;
		case OPT_PRIMARY: o->primary = optarg; break;
		case OPT_TABLESPACE_MAP:
			if (o->nmaps == 63 || !strchr(optarg, '='))
				rc = pgp_opt_fail(&o->common, "--tablespace-map is \"%s\": OID=DIR (at most 63)", optarg);
			else
				o->maps[o->nmaps++] = optarg;
			break;
		default: rc = pgp_opt_handle(&o->common, opt, optarg);
		}
	}
	if (rc != PGP_OPT_GO)
		return rc;
	if (optind >= argc)
		return pgp_opt_fail(&o->common, "no subcommand given (backup, list, verify, restore, prune or keygen)");
	o->subcommand = argv[optind++];
	for (const char *const *s = subcommands; *s; s++)
		known |= strcmp(*s, o->subcommand) == 0;
	if (!known)
		return pgp_opt_fail(&o->common, "unknown subcommand \"%s\"", o->subcommand);
	if (!strcmp(o->subcommand, "verify") || !strcmp(o->subcommand, "restore")) {
		if (optind >= argc)
			return pgp_opt_fail(&o->common, "%s needs a backup ID or \"latest\"", o->subcommand);
		o->id = argv[optind++];
	}
	if (!strcmp(o->subcommand, "keygen")) {
		if (optind >= argc)
			return pgp_opt_fail(&o->common, "keygen needs the FILE to write the identity to");
		o->id = argv[optind++];
	}
	if (!strcmp(o->subcommand, "wal-push") || !strcmp(o->subcommand, "wal-fetch")) {
		int two = o->subcommand[4] == 'f';

		if (argc - optind < 1 + two)
			return pgp_opt_fail(&o->common, two ? "wal-fetch needs the WAL file's name and where to put it "
					    "(%%f %%p)" : "wal-push needs the WAL file's path (%%p)");
		o->id = argv[optind++];
		o->arg2 = two ? argv[optind++] : NULL;
	}
	if (o->ntargets > 1)
		return pgp_opt_fail(&o->common, "give one recovery target: --target-time, --target-lsn, --target-xid "
				    "or --recovery-target");
	if ((o->ntargets || o->data_dir || o->start || o->standby || o->nmaps || o->no_archive) &&
	    (strcmp(o->subcommand, "restore") || !o->physical))
		return pgp_opt_fail(&o->common, "--data-dir, the recovery targets, --start, --standby, "
				    "--tablespace-map and --no-archive are for restore --physical");
	if (o->standby != !!o->primary)
		return pgp_opt_fail(&o->common, "--standby and --primary go together");
	if (optind < argc)
		return pgp_opt_fail(&o->common, "too many arguments (first is \"%s\")", argv[optind]);
	return pgp_opt_check(&o->common);
}

/*
 * Command line, else environment, else config, else default, every one
 * checked: a retention number nobody gave is never used (a cron job must
 * not prune with keep_last = 0 because PGP_BACKUP_KEEP_LAST was "abc").
 */
static int
numbers(const struct opts *o, const struct pgp_conf *conf, struct backup_ctx *ctx)
{
	long long *keep[5] = {&ctx->keep_last, &ctx->keep_daily, &ctx->keep_weekly, &ctx->keep_monthly,
			      &ctx->max_age_days};

	for (int i = 0; i < 5; i++)
		if (pgp_conf_int(conf, keep_keys[i], keep_options[i], o->keep[i], keep[i]) < 0)
			return -1;
	return 0;
}

/*
 * The compression and its level (unset: the compression's default).  The
 * key's own check ranges a level by the compression of the file or the
 * environment; --compression may choose another, so the level is checked
 * once more against the one chosen.
 */
static int
compression(const struct opts *o, const struct pgp_conf *conf, struct backup_ctx *ctx)
{
	const char *name;
	long long level, lo, hi;
	int src;

	if (pgp_conf_string(conf, "backup.compression", "--compression", o->compression, &name) < 0 ||
	    compression_parse(name, &ctx->compression) < 0)
		return -1;
	src = pgp_conf_int(conf, "backup.compress_level", "--compress-level", o->compress_level, &level);
	if (src < 0)
		return -1;
	if (src == PGP_CONF_UNSET)
		level = compression_default_level(ctx->compression);
	compression_level_range(ctx->compression, &lo, &hi);
	if (level < lo || level > hi)
		return pgp_fail("option --compression %s: compression level %lld is out of range (allowed: "
				"%lld..%lld for %s)", name, level, lo, hi, name);
	ctx->compress_level = (int) level;
	return 0;
}

/* Physical backups and WAL: the cluster, the spool, restore's target. */
static int
physical(const struct opts *o, const struct pgp_conf *conf, struct backup_ctx *ctx)
{
	static char spool[4096];
	long long push, prefetch;

	if (pgp_conf_string(conf, "backup.cluster", "--cluster", o->cluster, &ctx->cluster_name) < 0 ||
	    pgp_conf_get_string(conf, "backup.spool_dir", &ctx->spool_dir) < 0 ||
	    pgp_conf_get_int(conf, "backup.wal_push_parallel", &push) < 0 ||
	    pgp_conf_get_int(conf, "backup.wal_fetch_prefetch", &prefetch) < 0)
		return -1;
	if (!ctx->spool_dir) {
		snprintf(spool, sizeof(spool), "%s/spool", ctx->state_dir);
		ctx->spool_dir = spool;
	}
	ctx->wal_push_parallel = (int) push;
	ctx->wal_fetch_prefetch = (int) prefetch;
	ctx->config_path = o->common.config_path;
	ctx->physical = o->physical || !strncmp(o->subcommand, "wal-", 4);
	ctx->data_dir = o->data_dir;
	ctx->target_kind = o->target_kind ? o->target_kind : "latest";
	ctx->target_value = o->target_value;
	ctx->start_server = o->start;
	ctx->standby = o->standby;
	ctx->no_archive = o->no_archive;
	ctx->primary_conninfo = o->primary;
	for (int i = 0; i < o->nmaps; i++)
		ctx->tablespace_maps[i] = o->maps[i];
	return 0;
}

/* The public keys a backup is encrypted to (none: stored in the clear). */
static int
recipients(const struct opts *o, const struct pgp_conf *conf, struct backup_ctx *ctx)
{
	const char **list = NULL;
	int rc;

	if (pgp_conf_list(conf, "backup.encrypt_recipients", "--encrypt-to", o->encrypt_to, &list) < 0)
		return -1;
	rc = keys_recipients(list, &ctx->recipients, &ctx->nrecipients);
	free(list);
	return rc;
}

static int
configure(struct opts *o, const struct pgp_conf *conf, struct backup_ctx *ctx)
{
	const char *repo = NULL, *endpoint = NULL, *region = NULL, *s = NULL;

	memset(ctx, 0, sizeof(*ctx));
	ctx->common = &o->common;
	ctx->conf = conf;
	ctx->database = o->common.database;
	ctx->jobs = o->jobs;
	ctx->clean = o->clean;
	ctx->no_owner = o->no_owner;
	ctx->restore_test = o->restore_test;
	ctx->dry_run = o->dry_run;
	ctx->in_place = o->in_place;
	ctx->keep_old = o->keep_old;
	ctx->terminate = o->terminate;
	if (pgp_conf_string(conf, "backup.repo", "--repo", o->repo, &repo) < 0 ||
	    pgp_conf_string(conf, "backup.s3_endpoint", "--s3-endpoint", o->endpoint, &endpoint) < 0 ||
	    pgp_conf_string(conf, "backup.s3_region", "--s3-region", o->region, &region) < 0 ||
	    pgp_conf_string(conf, "backup.role", "--role", o->role, &ctx->role) < 0 ||
	    pgp_conf_string(conf, "backup.state_dir", "--state-dir", o->state_dir, &ctx->state_dir) < 0 ||
	    pgp_conf_get_string(conf, "backup.pg_bindir", &ctx->pg_bindir) < 0 ||
	    (!ctx->pg_bindir && pgp_conf_get_string(conf, "programs.pg_bindir", &ctx->pg_bindir) < 0) ||
	    pgp_conf_get_string(conf, "backup.tmp_dir", &s) < 0 ||
	    pgp_conf_string(conf, "backup.identity_file", "--identity", o->identity, &ctx->identity_file) < 0 ||
	    numbers(o, conf, ctx) < 0 || compression(o, conf, ctx) < 0 ||
	    ((!strcmp(o->subcommand, "backup") || !strcmp(o->subcommand, "wal-push")) &&
	     recipients(o, conf, ctx) < 0))
		return -1;
	ctx->tmp_dir = s ? s : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	if (physical(o, conf, ctx) < 0)
		return -1;
	if (!repo) {
		pgp_opt_fail(&o->common, "no repository: give --repo or set backup.repo");
		return -1;
	}
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
	/* The server waits on wal-push and wal-fetch: their deadline is short. */
	ctx->repo = repo_open(repo, conf, endpoint, region,
			      !strncmp(o->subcommand, "wal-", 4) ? "backup.wal_timeout" : "backup.s3_timeout");
	return ctx->repo ? 0 : -1;
}

static int
run(struct opts *o, const struct pgp_conf *conf)
{
	struct backup_ctx ctx;
	const char *sub = o->subcommand;
	int rc;

	/* keygen needs no repository: it writes a key file on the host that restores. */
	if (!strcmp(sub, "keygen"))
		return keys_keygen(&o->common, o->id);
	if (configure(o, conf, &ctx) < 0) {
		repo_close(ctx.repo);
		free(ctx.recipients);
		return PGP_EXIT_USAGE;
	}
	if (!strcmp(sub, "wal-push"))
		rc = wal_push(&ctx, o->id);
	else if (!strcmp(sub, "wal-fetch"))
		rc = wal_fetch(&ctx, o->id, o->arg2);
	else if (ctx.physical)
		rc = !strcmp(sub, "backup") ? physical_backup(&ctx) : !strcmp(sub, "list") ? physical_list(&ctx)
			: !strcmp(sub, "verify") ? physical_verify(&ctx, o->id)
			: !strcmp(sub, "restore") ? physical_restore(&ctx, o->id) : physical_prune(&ctx);
	else if (!strcmp(sub, "backup"))
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
	free(ctx.recipients);
	pgp_age_identities_free(ctx.identities, ctx.nidentities);
	return rc;
}

/* Stopped (a systemd timeout, kill from cron, ^C): no service file with a password stays behind. */
static void
on_stop(int sig)
{
	pgp_childconn_remove_all();
	signal(sig, SIG_DFL);
	raise(sig);
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
	/* A reader that died (pg_restore) must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGHUP, on_stop);
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
