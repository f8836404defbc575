/*
 * Message format and verbosity; size parsing.
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
	return done_testing();
}
