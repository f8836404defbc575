/*
 * Message format and verbosity; size parsing; option helpers that return
 * a status instead of exiting.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opt.h"
#include "tap.h"

static char captured[4096];

/* Run fn with stderr captured into `captured`. */
static void
capture(void (*fn)(void))
{
	int saved = dup(2);
	FILE *f = tmpfile();
	size_t n;

	dup2(fileno(f), 2);
	fn();
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(captured, 1, sizeof(captured) - 1, f);
	captured[n] = '\0';
	fclose(f);
}

static void
say_error(void)
{
	pgp_error("cannot open \"%s\": %s\n", "x.conf", "No such file");
	pgp_hint("create it");
}

static void
say_info(void)
{
	pgp_info("took 3 s");
	pgp_detail("more");
}

static void
say_debug(void)
{
	pgp_debug("details");
}

static int capture_rc;

static void
try_number_bad(void)
{
	static char *argv[] = {"pgp-test", NULL};
	struct pgp_common c;
	long long v;

	pgp_opt_init(&c, argv, NULL, NULL);
	c.usage_exit = 3;
	capture_rc = pgp_opt_number(&c, "12x", "--jobs", 1, 64, &v);
}

static void
try_range_bad(void)
{
	static char *argv[] = {"pgp-test", NULL};
	struct pgp_common c;
	long long v;

	pgp_opt_init(&c, argv, NULL, NULL);
	c.usage_exit = 3;
	capture_rc = pgp_opt_number(&c, "65", "--jobs", 1, 64, &v);
}

static void
try_conflict(void)
{
	static char *argv[] = {"pgp-test", NULL};
	struct pgp_common c;

	pgp_opt_init(&c, argv, NULL, NULL);
	c.usage_exit = 3;
	c.conninfo = "dbname=x";
	c.target = "prod";
	capture_rc = pgp_opt_check(&c);
}

int
main(void)
{
	unsigned long long b;

	pgp_log_init("/usr/local/bin/pgp-backup");
	is_str(pgp_progname(), "pgp-backup", "program name is the basename");

	capture(say_error);
	is_str(captured, "pgp-backup: error: cannot open \"x.conf\": No such file\n"
	       "pgp-backup: hint: create it\n", "error then hint, trailing newline dropped");
	capture(say_info);
	is_str(captured, "pgp-backup: info: took 3 s\npgp-backup: detail: more\n", "info shown by default");
	capture(say_debug);
	is_str(captured, "", "debug hidden by default");
	pgp_log_set_verbosity(1);
	capture(say_debug);
	is_str(captured, "pgp-backup: debug: details\n", "debug shown with -v");
	pgp_log_set_verbosity(-1);
	capture(say_info);
	is_str(captured, "", "info and its detail hidden with -q");
	capture(say_error);
	ok(strstr(captured, "error: cannot open") != NULL, "errors still shown with -q");
	is_int(pgp_fail("x"), -1, "pgp_fail returns -1");

	ok(pgp_parse_size("8GB", &b) == 0 && b == 8ULL << 30, "8GB");
	ok(pgp_parse_size("512MB", &b) == 0 && b == 512ULL << 20, "512MB");
	ok(pgp_parse_size("1.5gb", &b) == 0 && b == 3ULL << 29, "1.5gb");
	ok(pgp_parse_size("64kB", &b) == 0 && b == 65536, "64kB");
	ok(pgp_parse_size("4096", &b) == 0 && b == 4096, "plain bytes");
	ok(pgp_parse_size("1T", &b) == 0 && b == 1ULL << 40, "1T");
	ok(pgp_parse_size("GB", &b) == -1, "no number refused");
	ok(pgp_parse_size("8 parsecs", &b) == -1, "unknown unit refused");
	ok(pgp_parse_size("-1GB", &b) == -1, "negative refused");
	ok(pgp_parse_size(NULL, &b) == -1, "NULL refused");

	/* Option parsers return a status: only main exits. */
	{
		static char *argv[] = {"pgp-test", NULL};
		struct pgp_common c;
		long long v = -5;

		pgp_opt_init(&c, argv, NULL, NULL);
		c.usage_exit = 3;
		capture_rc = -9;
		capture(try_number_bad);
		is_int(capture_rc, 3, "a bad number returns the usage status, it does not exit");
		ok(strstr(captured, "invalid value \"12x\" for option --jobs (allowed: 1..64)") &&
		   strstr(captured, "Try \"pgp-backup --help\""), "and says why, with the --help pointer");
		is_int(pgp_opt_number(&c, "7", "--jobs", 1, 64, &v), PGP_OPT_GO, "a good number: go on");
		is_int(v, 7, "and stored");
		capture(try_range_bad);
		is_int(capture_rc, 3, "out of range: the usage status");
		ok(strstr(captured, "--jobs must be in range 1..64") != NULL, "naming the range");
		capture(try_conflict);
		is_int(capture_rc, 3, "-d with -t: the usage status from pgp_opt_check");
	}
	return done_testing();
}
