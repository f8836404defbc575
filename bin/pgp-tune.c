/*
 * pgp-tune: settings from hardware and workload: recommend, explain, apply,
 * and catch drift from cron.  This version parses its command line and
 * configuration; tuning arrives with its own issue.
 */
#include <stdio.h>
#include <stdlib.h>

#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-tune recommends, applies and checks PostgreSQL settings.\n"
		"\n"
		"Usage:\n"
		"  pgp-tune [OPTION]...\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"  -c, --config=FILE        configuration file (default /etc/pgp/pgp.conf)\n"
		"      --format=FORMAT      conf, sql, json or pgbouncer\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-tune(1) and pgp(7).\n");
}

int
main(int argc, char **argv)
{
	static const char *const formats[] = {"conf", "sql", "json", "pgbouncer", NULL};
	static const struct option options[] = {PGP_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct pgp_common common;
	struct pgp_conf *conf = NULL;
	int opt, rc;

	pgp_log_init(argv[0]);
	pgp_opt_init(&common, argv, help, formats);
	while ((opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1)
		pgp_opt_common(&common, opt, optarg);
	if (optind < argc)
		pgp_usage_error(&common, "too many arguments (first is \"%s\")", argv[optind]);
	pgp_opt_finish(&common);

	rc = pgp_setup(&common, &conf);
	if (rc == 0)
		rc = pgp_not_implemented("tuning", PGP_EXIT_FAILED);
	pgp_conf_free(conf);
	return rc;
}
