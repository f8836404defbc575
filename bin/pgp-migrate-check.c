/*
 * pgp-migrate-check: prove an application's migrations apply, roll back
 * and are safe on this server, before the deploy.  It reads the
 * migrations directory as its tool does (Flyway, golang-migrate, dbmate,
 * sqitch, Prisma, Drizzle, knex, Alembic, Rails or plain psql files), the
 * target's bookkeeping table (pending, drifted, dirty), runs the pending
 * ones on a scratch copy of the target with a trace per statement (locks,
 * rewrites, scans, errors) and a down/up round trip, looks at the
 * target's live sessions that the DDL would queue behind, and judges every
 * statement with static rules read from PostgreSQL's own parse tree.  It
 * says PASS, WARN or FAIL: exit 0 (WARN too, unless --fail-on warn), 1
 * FAIL, 2 usage or config, 3 server unreachable, 5 it could not finish.
 * The steps are in bin/migrate/ (migrate.h has the map).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "migrate/applied.h"
#include "migrate/layout.h"
#include "migrate/live.h"
#include "migrate/report.h"
#include "migrate/rules.h"
#include "migrate/scratch.h"
#include "migrate/sqlparse.h"
#include "migrate/trace.h"
#include "opt.h"
#include "setup.h"

enum {
	OPT_TOOL = PGP_OPT_FIRST_PRIVATE, OPT_STATIC, OPT_NO_TRACE, OPT_NO_ROUNDTRIP, OPT_SCHEMA_ONLY,
	OPT_ROW_LIMIT, OPT_FROM_BACKUP, OPT_SCRATCH, OPT_PG_VERSION, OPT_POOLER, OPT_APP_DIR, OPT_FAIL_ON,
	OPT_LOCK_TIMEOUT, OPT_STATEMENT_TIMEOUT, OPT_LIST_RULES, OPT_IDENTITY
};

struct opts {
	struct pgp_common common;
	const char *dir;
	const char *tool;
	int static_only, no_trace, no_roundtrip, list_rules;
	struct mc_copy_opts copy;
	const char *pg_version;		/* --pg-version */
	const char *pooler;		/* --pooler */
	const char *app_dir;
	const char *fail_on;
	const char *lock_timeout, *statement_timeout;
};

/* What the settings and the server decided, for the steps. */
struct run {
	struct mc_set set;
	struct mc_report report;
	struct mc_rules_ctx rules;
	struct mc_trace_opts trace;
	struct mc_copy_opts copy;	/* --schema-only ..., with the config's scratch server */
	const char *pooler;		/* auto, none, session, transaction */
	int fail_on_warn;
	int unfinished;			/* a step could not finish: exit 5 */
};

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-migrate-check proves migrations apply, roll back and are safe.\n"
		"\n"
		"Usage:\n"
		"  pgp-migrate-check [-d CONNINFO | -t TARGET] [OPTION]... [DIRECTORY]\n"
		"  pgp-migrate-check --static [OPTION]... [DIRECTORY]\n"
		"\n"
		"DIRECTORY holds the migrations (default: the current directory).\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  the target: connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"      --database=NAME      the target's database (default: the conninfo's)\n"
		"  -c, --config=FILE        configuration file (default " PGP_CONF_DEFAULT_PATH ")\n"
		"      --tool=TOOL          plain, flyway, golang-migrate, dbmate, sqitch,\n"
		"                           prisma, drizzle, knex, alembic or rails\n"
		"                           (default: detected from the directory)\n"
		"      --static             only what needs no server: the files and the rules\n"
		"      --no-trace           do not run the migrations on a copy\n"
		"      --no-roundtrip       do not run the down migrations\n"
		"      --schema-only        copy the target's schema without its rows\n"
		"      --row-limit=N        copy at most N rows of each table\n"
		"      --from-backup        make the copy from pgp-backup's latest backup\n"
		"      --identity=FILE      --from-backup: the identity (private key) file of an\n"
		"                           encrypted backup (default: backup.identity_file)\n"
		"      --scratch=CONNINFO   a server where the copy may be created\n"
		"      --pg-version=VERSION judge for this PostgreSQL (default: the target's;\n"
		"                           15 with --static)\n"
		"      --pooler=MODE        what migrations connect through: auto, none, session,\n"
		"                           transaction (default auto)\n"
		"      --app-dir=DIR        also check the application's SQL for pooler traps\n"
		"      --lock-timeout=DURATION\n"
		"                           lock_timeout on the copy (default 5s)\n"
		"      --statement-timeout=DURATION\n"
		"                           statement_timeout on the copy (default 30min)\n"
		"      --fail-on=VERDICT    fail (default) or warn: the verdict that exits 1\n"
		"      --format=FORMAT      text (default), json or github\n"
		"      --list-rules         list the static rules, then exit\n"
		"  -q, --quiet              print only a FAIL or WARN report\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"Exit status: 0 PASS (and WARN), 1 FAIL, 2 usage or configuration error,\n"
		"3 server unreachable, 5 the check could not finish.\n"
		"See pgp-migrate-check(1) and pgp(7).\n");
}

static int
parse_options(int argc, char **argv, struct opts *o)
{
	static const char *const formats[] = {"text", "json", "github", NULL};
	static const struct option options[] = {
		PGP_COMMON_OPTIONS,
		{"tool", required_argument, NULL, OPT_TOOL},
		{"static", no_argument, NULL, OPT_STATIC},
		{"no-trace", no_argument, NULL, OPT_NO_TRACE},
		{"no-roundtrip", no_argument, NULL, OPT_NO_ROUNDTRIP},
		{"schema-only", no_argument, NULL, OPT_SCHEMA_ONLY},
		{"row-limit", required_argument, NULL, OPT_ROW_LIMIT},
		{"from-backup", no_argument, NULL, OPT_FROM_BACKUP},
		{"identity", required_argument, NULL, OPT_IDENTITY},
		{"scratch", required_argument, NULL, OPT_SCRATCH},
		{"pg-version", required_argument, NULL, OPT_PG_VERSION},
		{"pooler", required_argument, NULL, OPT_POOLER},
		{"app-dir", required_argument, NULL, OPT_APP_DIR},
		{"fail-on", required_argument, NULL, OPT_FAIL_ON},
		{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
		{"statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT},
		{"list-rules", no_argument, NULL, OPT_LIST_RULES},
		{NULL, 0, NULL, 0}
	};
	int opt, rc = PGP_OPT_GO;

	pgp_opt_init(&o->common, argv, help, formats);
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_TOOL: o->tool = optarg; break;
		case OPT_STATIC: o->static_only = 1; break;
		case OPT_NO_TRACE: o->no_trace = 1; break;
		case OPT_NO_ROUNDTRIP: o->no_roundtrip = 1; break;
		case OPT_SCHEMA_ONLY: o->copy.schema_only = 1; break;
		case OPT_ROW_LIMIT:
			rc = pgp_opt_number(&o->common, optarg, "--row-limit", 1, 1000000000000LL, &o->copy.row_limit);
			break;
		case OPT_FROM_BACKUP: o->copy.from_backup = 1; break;
		case OPT_IDENTITY: o->copy.identity = optarg; break;
		case OPT_SCRATCH: o->copy.scratch_conninfo = optarg; break;
		case OPT_PG_VERSION: o->pg_version = optarg; break;
		case OPT_POOLER: o->pooler = optarg; break;
		case OPT_APP_DIR: o->app_dir = optarg; break;
		case OPT_FAIL_ON: o->fail_on = optarg; break;
		case OPT_LOCK_TIMEOUT: o->lock_timeout = optarg; break;
		case OPT_STATEMENT_TIMEOUT: o->statement_timeout = optarg; break;
		case OPT_LIST_RULES: o->list_rules = 1; break;
		default: rc = pgp_opt_handle(&o->common, opt, optarg);
		}
	}
	if (rc != PGP_OPT_GO)
		return rc;
	if (optind < argc)
		o->dir = argv[optind++];
	if (optind < argc)
		return pgp_opt_fail(&o->common, "too many arguments (first is \"%s\"): one migrations directory",
				    argv[optind]);
	if ((rc = pgp_opt_check(&o->common)) != PGP_OPT_GO)
		return rc;
	if (o->tool && mc_tool_from_name(o->tool) == MC_TOOL_UNKNOWN)
		return pgp_opt_fail(&o->common, "--tool \"%s\" is not one of plain, flyway, golang-migrate, dbmate, "
				    "sqitch, prisma, drizzle, knex, alembic, rails", o->tool);
	if (o->static_only && (o->common.conninfo || o->common.target))
		return pgp_opt_fail(&o->common, "--static reads no server: not with -d or -t");
	if (o->copy.schema_only && o->copy.row_limit)
		return pgp_opt_fail(&o->common, "--schema-only and --row-limit cannot be used together");
	if (o->copy.from_backup && (o->copy.schema_only || o->copy.row_limit))
		return pgp_opt_fail(&o->common, "--from-backup restores the whole backup: not with --schema-only "
				    "or --row-limit");
	if ((o->static_only || o->no_trace) &&
	    (o->copy.schema_only || o->copy.row_limit || o->copy.from_backup || o->copy.scratch_conninfo))
		return pgp_opt_fail(&o->common, "the copy's options need the trace: not with --static or --no-trace");
	if (!o->dir)
		o->dir = ".";
	return PGP_OPT_GO;
}

/* "15", "16.2" or 150002: a server_version_num in 13..18. */
static int
pg_version_num(const struct opts *o, int *out)
{
	int major = 0, minor = 0, used = 0;

	if (sscanf(o->pg_version, "%d%n.%d%n", &major, &used, &minor, &used) < 1 ||
	    o->pg_version[used] != '\0')
		major = -1;
	if (major >= 130000 && minor == 0)
		*out = major;
	else
		*out = major * 10000 + minor;
	if (*out < 130000 || *out >= 190000)
		return pgp_opt_fail(&o->common, "--pg-version \"%s\" is not a PostgreSQL version 13 to 18",
				    o->pg_version);
	return 0;
}

static int
settings(const struct opts *o, const struct pgp_conf *conf, struct run *r)
{
	const char *fail_on, *repo;

	r->rules.pg_version = 150000;
	if (o->pg_version && pg_version_num(o, &r->rules.pg_version) != 0)
		return PGP_EXIT_USAGE;
	if (pgp_conf_string(conf, "migrate_check.lock_timeout", "--lock-timeout", o->lock_timeout,
			    &r->trace.lock_timeout) < 0 ||
	    pgp_conf_string(conf, "migrate_check.statement_timeout", "--statement-timeout", o->statement_timeout,
			    &r->trace.statement_timeout) < 0 ||
	    pgp_conf_string(conf, "migrate_check.pooler", "--pooler", o->pooler, &r->pooler) < 0 ||
	    pgp_conf_string(conf, "migrate_check.fail_on", "--fail-on", o->fail_on, &fail_on) < 0 ||
	    pgp_conf_string(conf, "migrate_check.scratch", "--scratch", o->copy.scratch_conninfo,
			    &r->copy.scratch_conninfo) < 0)
		return PGP_EXIT_USAGE;
	if (r->copy.scratch_conninfo) {
		char why[512];

		/* pgp_conn_check_option() would call it -d: name the option (or key) it came from. */
		if (pgp_conf_check_conninfo(r->copy.scratch_conninfo, why, sizeof(why)) < 0) {
			pgp_error("invalid connection string (%s): %s",
				  o->copy.scratch_conninfo ? "--scratch" : "migrate_check.scratch", why);
			return PGP_EXIT_USAGE;
		}
	}
	r->copy.schema_only = o->copy.schema_only;
	r->copy.row_limit = o->copy.row_limit;
	r->copy.from_backup = o->copy.from_backup;
	r->copy.config_path = o->common.config_path;
	r->copy.identity = o->copy.identity;
	if (o->copy.identity && !o->copy.from_backup)
		return pgp_opt_fail(&o->common, "--identity is for --from-backup (an encrypted backup)");
	if (r->copy.from_backup && pgp_conf_get_string(conf, "backup.repo", &repo) != 1)
		return pgp_opt_fail(&o->common, "--from-backup needs pgp-backup's repository: set backup.repo "
				    "(or PGP_BACKUP_REPO)");
	r->fail_on_warn = strcmp(fail_on, "warn") == 0;
	r->trace.roundtrip = !o->no_roundtrip;
	r->rules.pooler_transaction = strcmp(r->pooler, "transaction") == 0;
	return 0;
}

/* Every script into statements; a script the parser cannot read is the rules' finding. */
static int
parse_scripts(struct mc_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (mc_script_parse(&set->m[i].up) != 0 || mc_script_parse(&set->m[i].down) != 0) {
			pgp_error("out of memory");
			return PGP_EXIT_FAILED;
		}
	return 0;
}

/*
 * A pooler in front of the server: the port we reached is not the
 * server's own.  Its pool mode cannot be asked of it from here; pgp-create
 * sets PgBouncer up in transaction mode, so auto assumes that and says so.
 */
static void
detect_pooler(PGconn *target, struct run *r)
{
	PGresult *res;
	const char *port = PQport(target);

	if (strcmp(r->pooler, "auto") != 0)
		return;
	res = PQexec(target, "SELECT pg_catalog.current_setting('port')");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && port && *port &&
	    strcmp(PQgetvalue(res, 0, 0), port) != 0) {
		r->rules.pooler_transaction = 1;
		mc_find(&r->report, MC_SEV_INFO, "pooler", NULL,
			"name the mode with --pooler (migrate_check.pooler), or let migrations connect to the "
			"server directly",
			"the target's port %s is not the server's own (%s): a pooler sits in between; judged as "
			"PgBouncer in transaction mode", port, PQgetvalue(res, 0, 0));
	}
	PQclear(res);
}

/*
 * Our own reads of the target (its bookkeeping table, the row-limited
 * COPY) queue behind a session holding ACCESS EXCLUSIVE like any other
 * query: without a lock_timeout of the role's, wait at most 10 s and fail
 * (5) naming the table, rather than hang a cron job.  A SET leaves
 * reset_val, which the timeout rules read, as it was.
 */
static int
limit_lock_waits(PGconn *target)
{
	PGresult *res = PQexec(target, "SELECT pg_catalog.current_setting('lock_timeout') = '0'");
	int unset = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	return unset ? pgp_conn_exec(target, "SET lock_timeout = '10s'") : 0;
}

static size_t
pending_scripts(const struct mc_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		n += set->m[i].state == MC_STATE_PENDING && set->m[i].up.path;
	return n;
}

/* The target, read as the tool reads it; the copy; the live sessions. */
static int
server_steps(const struct opts *o, const struct pgp_conf *conf, struct run *r)
{
	struct pgp_connspec spec;
	struct mc_scratch scratch;
	PGconn *target;
	int rc;

	if (pgp_conn_spec(conf, &o->common, "migrate_check.target", &spec) < 0)
		return PGP_EXIT_USAGE;
	if (!*spec.conninfo && !o->common.target)
		return pgp_opt_fail(&o->common, "which server? give -d CONNINFO or -t TARGET "
				    "(or migrate_check.target), or --static for the files alone");
	if (!(target = pgp_conn_open(&spec, o->common.database)))
		return PGP_EXIT_UNREACHABLE;
	r->report.server_version = PQserverVersion(target);
	if (!o->pg_version)
		r->rules.pg_version = r->report.server_version;
	detect_pooler(target, r);
	/* Not through a transaction pooler: the SET would stay on a server connection others get. */
	rc = !r->rules.pooler_transaction && limit_lock_waits(target) < 0 ? PGP_EXIT_FAILED : 0;
	if (rc == 0)
		rc = mc_applied_read(target, &r->set, &r->report);
	if (rc == 0)
		rc = mc_live_timeouts(target, &r->rules.lock_timeout_in_effect,
				      &r->rules.statement_timeout_in_effect);
	if (rc == 0 && !o->no_trace && r->set.sql_known && pending_scripts(&r->set) == 0)
		pgp_info("no migration is pending: nothing to run on a copy");
	else if (rc == 0 && !o->no_trace && r->set.sql_known) {
		memset(&scratch, 0, sizeof(scratch));
		/* From here a signal cancels what runs and the copy is dropped. */
		mc_signals_install(&scratch);
		rc = mc_scratch_create(target, &spec, &r->copy, &scratch, &r->report);
		if (rc == 0) {
			rc = mc_trace_run(&scratch, &r->set, &r->trace, &r->report);
			r->rules.traced = rc == 0;
		}
		mc_scratch_drop(&scratch);
	}
	/* What the copy showed would still queue on the target: look even after a failed trace. */
	if (rc != PGP_EXIT_UNREACHABLE && !mc_signalled() && mc_live_check(target, &r->set, &r->report) != 0 &&
	    rc == 0)
		rc = PGP_EXIT_FAILED;
	pgp_conn_close(target);
	return rc;
}

/* 0, or 5 when the list could not be written (a full disk, a closed stdout). */
static int
list_rules(const char *format)
{
	if (format && strcmp(format, "json") == 0) {
		json_object *a = json_object_new_array();

		for (const struct mc_rule_info *ri = mc_rule_table; ri->name; ri++) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "rule", json_object_new_string(ri->name));
			json_object_object_add(o, "kind", json_object_new_string(ri->kind));
			json_object_object_add(o, "lock", *ri->lock ? json_object_new_string(ri->lock) : NULL);
			json_object_object_add(o, "proof", json_object_new_string(ri->proof));
			json_object_object_add(o, "advice", json_object_new_string(ri->advice));
			json_object_array_add(a, o);
		}
		pgp_json_print(stdout, a, 1);
		json_object_put(a);
	} else {
		printf("%-44s %-12s %-26s %s\n", "rule", "kind", "lock", "proved by");
		for (const struct mc_rule_info *ri = mc_rule_table; ri->name; ri++)
			printf("%-44s %-12s %-26s %s\n", ri->name, ri->kind, *ri->lock ? ri->lock : "-", ri->proof);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		pgp_error("cannot write the list of rules: %m");
		return PGP_EXIT_FAILED;
	}
	return PGP_EXIT_OK;
}

static int
exit_status(const struct run *r, int rc)
{
	enum mc_verdict v = mc_report_verdict(&r->report);

	if (rc != 0)
		return rc;
	return v == MC_FAIL || (v == MC_WARN && r->fail_on_warn) ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}

static int
run(const struct opts *o, const struct pgp_conf *conf)
{
	const char *format = o->common.format ? o->common.format : "text";
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = settings(o, conf, &r)) != 0)
		return rc;
	rc = mc_layout_load(o->dir, o->tool ? mc_tool_from_name(o->tool) : MC_TOOL_UNKNOWN, &r.set, &r.report);
	if (rc == 0)
		rc = parse_scripts(&r.set);
	if (rc != 0)
		goto done;
	mc_layout_after_parse(&r.set, &r.report);
	r.report.tool = mc_tool_name(r.set.tool);
	r.report.verbose = o->common.verbosity > 0;
	if (!o->static_only)
		rc = server_steps(o, conf, &r);
	if (rc == PGP_EXIT_USAGE || rc == PGP_EXIT_UNREACHABLE)
		goto done;
	/* The rules judge what the steps before could read, also after one stopped part way. */
	mc_rules_run(&r.set, &r.rules, &r.report);
	if (o->app_dir && mc_rules_app_dir(o->app_dir, &r.rules, &r.report) != 0 && rc == 0)
		rc = PGP_EXIT_USAGE;
	if (rc != 0)
		mc_find(&r.report, MC_SEV_FAIL, "error", NULL, NULL,
			"the check did not finish (%s): what is above is all it saw", pgp_log_last_error());
	rc = exit_status(&r, rc);
	if ((o->common.verbosity >= 0 || mc_report_verdict(&r.report) != MC_PASS) &&
	    mc_report_print(stdout, format, &r.report, &r.set) != 0) {
		pgp_error("cannot write the report: %m");
		if (rc == 0)
			rc = PGP_EXIT_FAILED;
	}
done:
	mc_set_free(&r.set);
	mc_report_free(&r.report);
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
	if (o.list_rules)
		return list_rules(o.common.format);
	rc = pgp_setup(&o.common, &conf);
	if (rc == 0)
		rc = run(&o, conf);
	mc_sqlparse_exit();
	pgp_conf_free(conf);
	return rc;
}
