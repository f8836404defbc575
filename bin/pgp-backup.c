/*
 * pgp-backup: logical backups to a local directory or an S3-compatible
 * store: backup, list, verify, restore, prune.  This version parses its
 * command line and configuration; the jobs arrive with their own issue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"

static const char *const subcommands[] = {"backup", "list", "verify", "restore", "prune", NULL};

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-backup takes, lists, verifies, restores and prunes backups.\n"
		"\n"
		"Usage:\n"
		"  pgp-backup backup  [OPTION]...\n"
		"  pgp-backup list    [OPTION]...\n"
		"  pgp-backup verify  [OPTION]... ID|latest\n"
		"  pgp-backup restore [OPTION]... ID|latest --database NAME\n"
		"  pgp-backup prune   [OPTION]...\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"      --database=NAME      database to restore into\n"
		"  -c, --config=FILE        configuration file (default /etc/pgp/pgp.conf)\n"
		"      --format=FORMAT      output format: text or json\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-backup(1) and pgp(7).\n");
}

int
main(int argc, char **argv)
{
	static const char *const formats[] = {"text", "json", NULL};
	static const struct option options[] = {PGP_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct pgp_common common;
	struct pgp_conf *conf = NULL;
	const char *subcommand;
	int opt, rc, known = 0;

	pgp_log_init(argv[0]);
	pgp_opt_init(&common, argv, help, formats);
	while ((opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1)
		pgp_opt_common(&common, opt, optarg);
	if (optind >= argc)
		pgp_usage_error(&common, "no subcommand given (backup, list, verify, restore or prune)");
	subcommand = argv[optind];
	for (const char *const *s = subcommands; *s; s++)
		known |= strcmp(*s, subcommand) == 0;
	if (!known)
		pgp_usage_error(&common, "unknown subcommand \"%s\"", subcommand);
	pgp_opt_finish(&common);

	rc = pgp_setup(&common, &conf);
	if (rc == 0)
		rc = pgp_not_implemented(subcommand, PGP_EXIT_FAILED);
	pgp_conf_free(conf);
	return rc;
}
