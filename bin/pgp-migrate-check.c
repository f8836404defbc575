/*
 * pgp-migrate-check: prove an application's migrations apply and roll
 * back on a copy of the target, and lint them for lock hazards and pooler
 * traps.  This version parses its command line and configuration; the
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
		"pgp-migrate-check proves migrations apply and lints them.\n"
		"\n"
		"Usage:\n"
		"  pgp-migrate-check [OPTION]... [MIGRATION]...\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"  -c, --config=FILE        configuration file (default " PGP_CONF_DEFAULT_PATH ")\n"
		"      --format=FORMAT      output format: text or json\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-migrate-check(1) and pgp(7).\n");
}

int
main(int argc, char **argv)
{
	static const char *const formats[] = {"text", "json", NULL};
	static const struct option options[] = {PGP_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct pgp_common common;
	struct pgp_conf *conf = NULL;
	int opt, rc;

	pgp_log_init(argv[0]);
	pgp_opt_init(&common, argv, help, formats);
	rc = PGP_OPT_GO;
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1)
		rc = pgp_opt_handle(&common, opt, optarg);
	if (rc == PGP_OPT_GO)
		rc = pgp_opt_check(&common);
	if (rc != PGP_OPT_GO)
		return rc;

	rc = pgp_setup(&common, &conf);
	if (rc == 0)
		rc = pgp_not_implemented("migration checking", PGP_EXIT_FAILED);
	pgp_conf_free(conf);
	return rc;
}
