/*
 * pgp-alert: one pass of health checks against thresholds, printed as a
 * Nagios status line (default), Prometheus text (stdout, or a textfile
 * for node_exporter written atomically) or JSON.  One read-only
 * connection per target; --all checks every configured target at once
 * over libpq's non-blocking API.  Counter checks are deltas since the
 * previous run, kept in a state file per target; --pgbouncer (or a
 * target whose dbname is pgbouncer) asks PgBouncer's admin console.  It
 * speaks the Nagios plugin codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN;
 * a usage or configuration error is UNKNOWN, never CRITICAL.  With
 * --notify (alert.notify) the changes of state go to a webhook, Slack or
 * Alertmanager; one that cannot be delivered waits in the state file for
 * the next run, and the exit status stays the checks'.  The work is in
 * bin/alert/: configure, collect, evaluate, keep state, notify, output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"

enum {
	OPT_ALL = PGP_OPT_FIRST_PRIVATE, OPT_CHECK, OPT_WARNING, OPT_CRITICAL, OPT_STATE_DIR,
	OPT_NO_STATE, OPT_TEXTFILE_DIR, OPT_MAX_PARALLEL, OPT_EXCLUDE_IDLE, OPT_DAILY, OPT_PGBOUNCER,
	OPT_EXPECT_STANDBYS, OPT_NOTIFY, OPT_NO_NOTIFY, OPT_REPEAT_INTERVAL
};

struct opts {
	struct pgp_common common;
	struct alert_cli cli;
};

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-alert checks PostgreSQL servers against thresholds.\n"
		"\n"
		"Usage:\n"
		"  pgp-alert [-d CONNINFO | -t TARGET | --all] [--pgbouncer CONNINFO] [OPTION]...\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"      --all                every target of the configuration, concurrently\n"
		"      --pgbouncer=CONNINFO also check PgBouncer's admin console\n"
		"  -c, --config=FILE        configuration file (default /etc/pgp/pgp.conf)\n"
		"      --check=NAME[,NAME]  run only these checks\n"
		"      --daily              also the slow checks (bloat)\n"
		"      --warning=VALUE      warning threshold of the one --check (5m, 1GB, 90%%)\n"
		"      --critical=VALUE     critical threshold of the one --check\n"
		"      --format=FORMAT      nagios (default), prometheus or json\n"
		"      --textfile-dir=DIR   write pgp_alert_TARGET.prom there (prometheus)\n"
		"      --state-dir=DIR      keep counters between runs here (/var/lib/pgp)\n"
		"      --no-state           keep no state (counter checks are not judged)\n"
		"      --max-parallel=N     connections at once with --all (default 16)\n"
		"      --exclude-idle       backends: count only sessions that are not idle\n"
		"      --expect-standbys=N  replication: a primary with fewer is CRITICAL\n"
		"      --notify=CHANNEL[,CHANNEL]\n"
		"                           send changes of state: webhook, slack, alertmanager\n"
		"      --no-notify          send nothing (whatever alert.notify says)\n"
		"      --repeat-interval=DURATION\n"
		"                           send a still-bad check again after this (4h; 0 never)\n"
		"  -q, --quiet              print nothing when every check is OK\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
		"See pgp-alert(1) and pgp(7).\n");
}

static int
parse_options(int argc, char **argv, struct opts *o)
{
	static const char *const formats[] = {"nagios", "prometheus", "json", NULL};
	static const struct option options[] = {
		PGP_COMMON_OPTIONS,
		{"all", no_argument, NULL, OPT_ALL},
		{"check", required_argument, NULL, OPT_CHECK},
		{"warning", required_argument, NULL, OPT_WARNING},
		{"critical", required_argument, NULL, OPT_CRITICAL},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"no-state", no_argument, NULL, OPT_NO_STATE},
		{"textfile-dir", required_argument, NULL, OPT_TEXTFILE_DIR},
		{"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},
		{"exclude-idle", no_argument, NULL, OPT_EXCLUDE_IDLE},
		{"daily", no_argument, NULL, OPT_DAILY},
		{"pgbouncer", required_argument, NULL, OPT_PGBOUNCER},
		{"expect-standbys", required_argument, NULL, OPT_EXPECT_STANDBYS},
		{"notify", required_argument, NULL, OPT_NOTIFY},
		{"no-notify", no_argument, NULL, OPT_NO_NOTIFY},
		{"repeat-interval", required_argument, NULL, OPT_REPEAT_INTERVAL},
		{NULL, 0, NULL, 0}
	};
	int opt, rc = PGP_OPT_GO;
	long long n;

	pgp_opt_init(&o->common, argv, help, formats);
	o->common.usage_exit = PGP_NAGIOS_UNKNOWN;
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_ALL: o->cli.all = 1; break;
		case OPT_CHECK: o->cli.checks = optarg; break;
		case OPT_WARNING: o->cli.warning = optarg; break;
		case OPT_CRITICAL: o->cli.critical = optarg; break;
		case OPT_STATE_DIR: o->cli.state_dir = optarg; break;
		case OPT_NO_STATE: o->cli.no_state = 1; break;
		case OPT_EXCLUDE_IDLE: o->cli.exclude_idle = 1; break;
		case OPT_DAILY: o->cli.daily = 1; break;
		case OPT_PGBOUNCER: o->cli.pgbouncer = optarg; break;
		case OPT_EXPECT_STANDBYS:
			rc = pgp_opt_number(&o->common, optarg, "--expect-standbys", 1, 1000, &n);
			o->cli.expect_standbys = (int) n;
			break;
		case OPT_TEXTFILE_DIR: o->cli.textfile_dir = optarg; break;
		case OPT_NOTIFY: o->cli.notify = optarg; break;
		case OPT_NO_NOTIFY: o->cli.no_notify = 1; break;
		case OPT_REPEAT_INTERVAL: o->cli.repeat_interval = optarg; break;
		case OPT_MAX_PARALLEL:
			rc = pgp_opt_number(&o->common, optarg, "--max-parallel", 1, 1024, &n);
			o->cli.max_parallel = (int) n;
			break;
		default: rc = pgp_opt_handle(&o->common, opt, optarg);
		}
	}
	if (rc != PGP_OPT_GO)
		return rc;
	if (optind < argc)
		return pgp_opt_fail(&o->common, "too many arguments (first is \"%s\")", argv[optind]);
	if ((rc = pgp_opt_check(&o->common)) != PGP_OPT_GO)
		return rc;
	if (o->cli.all && (o->common.conninfo || o->common.target))
		return pgp_opt_fail(&o->common, "--all cannot be used with -d or -t");
	if ((o->cli.warning || o->cli.critical) && !o->cli.checks)
		return pgp_opt_fail(&o->common, "--warning and --critical need --check NAME");
	if (o->cli.notify && o->cli.no_notify)
		return pgp_opt_fail(&o->common, "--notify and --no-notify cannot be used together");
	if (o->cli.textfile_dir && o->common.format && strcmp(o->common.format, "prometheus") != 0)
		return pgp_opt_fail(&o->common, "--textfile-dir writes Prometheus text: not with --format %s",
				    o->common.format);
	return PGP_OPT_GO;
}

static int
output(const struct opts *o, const struct alert_run *r)
{
	const char *format = o->cli.textfile_dir ? "prometheus" : o->common.format ? o->common.format : "nagios";
	char *text;
	int rc;

	if (strcmp(format, "json") == 0)
		return output_json(r, stdout);
	if (strcmp(format, "nagios") == 0)
		return output_nagios(r, stdout, o->common.verbosity < 0);
	if (o->cli.textfile_dir)
		return output_textfiles(r, o->cli.textfile_dir);
	text = output_prometheus(r, -1);
	if (!text)
		return -1;
	rc = fputs(text, stdout) < 0 || fflush(stdout) != 0 ? -1 : 0;
	free(text);
	return rc;
}

/* A target is answered: judge it and carry its states over. */
static void
judge(const struct alert_run *r, struct alert_target *t)
{
	if (t->judged)
		return;
	evaluate_target(r, t);
	state_track(r, t);
	t->judged = 1;
}

/*
 * Called as each target is answered, while the others are still being
 * asked: without notifications nothing else goes into its state file,
 * so it is written now and its fsyncs overlap the network instead of
 * following it (50 targets are 100 fsyncs).
 */
static void
target_done(const struct alert_run *r, struct alert_target *t)
{
	judge(r, t);
	if (r->notifying)
		return;
	state_save(r, t);
	t->saved = 1;
}

static int
run(const struct opts *o, const struct pgp_conf *conf)
{
	struct alert_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (alert_configure(conf, &o->common, &o->cli, &r) < 0) {
		alert_run_free(&r);
		return PGP_NAGIOS_UNKNOWN;
	}
	collect_all(&r, target_done);
	for (int i = 0; i < r.n_targets; i++) {
		judge(&r, &r.targets[i]);	/* those never started */
		notify_target(&r, &r.targets[i]);
	}
	/* Before the state is saved: what is not delivered stays pending. */
	notify_send(&r);
	for (int i = 0; i < r.n_targets; i++)
		if (!r.targets[i].saved)
			state_save(&r, &r.targets[i]);
	rc = (int) run_state(&r);
	/* Results that could not be written are not a clean bill of health. */
	if (output(o, &r) < 0)
		rc = (int) alert_worse((enum alert_state) rc, ST_UNKNOWN);
	alert_run_free(&r);
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
	rc = parse_options(argc, argv, &o);
	if (rc != PGP_OPT_GO)
		return rc;
	rc = pgp_setup(&o.common, &conf);
	if (rc == 0)
		rc = run(&o, conf);
	pgp_conf_free(conf);
	return rc;
}
