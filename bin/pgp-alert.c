/*
 * pgp-alert: one pass of health checks against thresholds, printed as a
 * Nagios line, Prometheus text or JSON, with notifications on state change.
 * It speaks the Nagios plugin codes: 0 OK, 1 WARNING, 2 CRITICAL,
 * 3 UNKNOWN, and a usage or configuration error is UNKNOWN, never
 * CRITICAL.  This version parses its command line and configuration; the
 * checks arrive with their own issue.
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
		"pgp-alert checks a PostgreSQL server against thresholds.\n"
		"\n"
		"Usage:\n"
		"  pgp-alert [OPTION]...\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"  -c, --config=FILE        configuration file (default " PGP_CONF_DEFAULT_PATH ")\n"
		"      --format=FORMAT      nagios, prometheus or json\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
		"See pgp-alert(1) and pgp(7).\n");
}

int
main(int argc, char **argv)
{
	static const char *const formats[] = {"nagios", "prometheus", "json", NULL};
	static const struct option options[] = {PGP_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct pgp_common common;
	struct pgp_conf *conf = NULL;
	int opt, rc;

	pgp_log_init(argv[0]);
	pgp_opt_init(&common, argv, help, formats);
	common.usage_exit = PGP_NAGIOS_UNKNOWN;
	rc = PGP_OPT_GO;
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1)
		rc = pgp_opt_handle(&common, opt, optarg);
	if (rc == PGP_OPT_GO && optind < argc)
		rc = pgp_opt_fail(&common, "too many arguments (first is \"%s\")", argv[optind]);
	if (rc == PGP_OPT_GO)
		rc = pgp_opt_check(&common);
	if (rc != PGP_OPT_GO)
		return rc;

	rc = pgp_setup(&common, &conf);
	if (rc == 0) {
		printf("PGP-ALERT UNKNOWN - no checks in this version of pgp\n");
		rc = pgp_not_implemented("health checking", PGP_NAGIOS_UNKNOWN);
	}
	pgp_conf_free(conf);
	return rc;
}
