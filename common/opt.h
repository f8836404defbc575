/*
 * The command-line contract every pgp program keeps (pgp(7)):
 *   -d, --conninfo CONNINFO   libpq connection string or URI
 *   -t, --target NAME         a target from the config (not with -d)
 *   -c, --config FILE         else $PGP_CONFIG, else /etc/pgp/pgp.conf
 *   --database NAME           a database to create, restore into...
 *   -q, --quiet / -v, --verbose
 *   --format FORMAT           where the output is data
 *   --help, --version
 * A program lists PGP_COMMON_OPTIONS in its long option table, passes
 * every option it does not know itself to pgp_opt_handle(), then calls
 * pgp_opt_check(); each returns PGP_OPT_GO or the status to exit with.
 */
#ifndef PGP_OPT_H
#define PGP_OPT_H

#include <getopt.h>
#include <stdio.h>

enum {
	PGP_OPT_HELP = 0x1000,
	PGP_OPT_VERSION,
	PGP_OPT_FORMAT,
	PGP_OPT_DATABASE,
	PGP_OPT_FIRST_PRIVATE = 0x1100	/* programs number their own from here */
};

/* The leading ":" makes getopt tell a missing value from an unknown option. */
#define PGP_COMMON_SHORTOPTS ":d:t:c:qv"
#define PGP_COMMON_OPTIONS \
	{"conninfo", required_argument, NULL, 'd'}, \
	{"target", required_argument, NULL, 't'}, \
	{"config", required_argument, NULL, 'c'}, \
	{"quiet", no_argument, NULL, 'q'}, \
	{"verbose", no_argument, NULL, 'v'}, \
	{"format", required_argument, NULL, PGP_OPT_FORMAT}, \
	{"database", required_argument, NULL, PGP_OPT_DATABASE}, \
	{"help", no_argument, NULL, PGP_OPT_HELP}, \
	{"version", no_argument, NULL, PGP_OPT_VERSION}

struct pgp_common {
	const char *conninfo;		/* -d */
	const char *target;		/* -t */
	const char *config_path;	/* -c */
	const char *database;		/* --database */
	const char *format;		/* --format, NULL: the program's default */
	int verbosity;			/* -q: -1, -v: +1 each */
	/* Set by the program before parsing: */
	void (*help)(FILE *out);	/* prints the usage text */
	const char *const *formats;	/* NULL-terminated; NULL: no --format */
	int usage_exit;			/* exit status for usage errors (2) */
	char **argv;			/* for naming an unknown option */
};

/*
 * Option parsers return a status to main, which alone calls exit():
 * PGP_OPT_GO to go on, anything else is the status main returns (0
 * after --help and --version, the usage status after an error).
 */
#define PGP_OPT_GO (-1)

/* Initialise with the program's help function and accepted formats. */
void pgp_opt_init(struct pgp_common *c, char **argv, void (*help)(FILE *),
		  const char *const *formats);

/*
 * Handle one getopt_long result that is not the program's own: a common
 * option, --help, --version, an unknown option or a missing value.
 * Returns PGP_OPT_GO or the status main returns.
 */
int pgp_opt_handle(struct pgp_common *c, int opt, const char *arg);

/* After the loop: check conflicts (-d with -t), set verbosity. */
int pgp_opt_check(struct pgp_common *c);

/*
 * Print "prog: error: ..." and the --help pointer; returns the usage
 * status (c->usage_exit) for the parser to return.
 */
int pgp_opt_fail(const struct pgp_common *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * An integer option value in [min, max] into *out (for options without a
 * config key; those go through pgp_conf_int).  PGP_OPT_GO, or the usage
 * status after the message.
 */
int pgp_opt_number(const struct pgp_common *c, const char *arg, const char *optname,
		   long long min, long long max, long long *out);

/*
 * Parse a size with an optional PostgreSQL-style unit (B, kB, MB, GB, TB;
 * case-insensitive, "K/M/G/T" accepted) into bytes.  Returns 0 or -1.
 */
int pgp_parse_size(const char *s, unsigned long long *bytes);

#endif
