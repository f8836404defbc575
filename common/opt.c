/*
 * Common option handling: the contract of pgp(7) written once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "version.h"

void
pgp_opt_init(struct pgp_common *c, char **argv, void (*help)(FILE *),
	     const char *const *formats)
{
	memset(c, 0, sizeof(*c));
	c->argv = argv;
	c->help = help;
	c->formats = formats;
	c->usage_exit = PGP_EXIT_USAGE;
	/* getopt_long prints nothing itself: our message names the program. */
	opterr = 0;
}

static int
vfail(const struct pgp_common *c, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pgp_error("%s", buf);
	fprintf(stderr, "Try \"%s --help\" for more information.\n", pgp_progname());
	return c->usage_exit;
}

int
pgp_opt_fail(const struct pgp_common *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(c, fmt, ap);
	va_end(ap);
	return rc;
}

static int
check_format(const struct pgp_common *c, const char *arg)
{
	char allowed[256] = "";

	if (!c->formats)
		return pgp_opt_fail(c, "%s has no --format option", pgp_progname());
	for (const char *const *f = c->formats; *f; f++) {
		size_t len = strlen(allowed);

		if (strcmp(*f, arg) == 0)
			return PGP_OPT_GO;
		snprintf(allowed + len, sizeof(allowed) - len, "%s%s", len ? ", " : "", *f);
	}
	return pgp_opt_fail(c, "invalid --format \"%s\" (expected one of: %s)", arg, allowed);
}

int
pgp_opt_handle(struct pgp_common *c, int opt, const char *arg)
{
	int printable = optopt > 0 && optopt < 0x100 && isprint(optopt);

	switch (opt) {
	case 'd':
		c->conninfo = arg;
		return PGP_OPT_GO;
	case 't':
		c->target = arg;
		return PGP_OPT_GO;
	case 'c':
		c->config_path = arg;
		return PGP_OPT_GO;
	case 'q':
		c->verbosity = -1;
		return PGP_OPT_GO;
	case 'v':
		c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1;
		return PGP_OPT_GO;
	case PGP_OPT_FORMAT:
		c->format = arg;
		return check_format(c, arg);
	case PGP_OPT_DATABASE:
		c->database = arg;
		return PGP_OPT_GO;
	case PGP_OPT_HELP:
		c->help(stdout);
		return fflush(stdout) == 0 ? PGP_EXIT_OK : PGP_EXIT_FAILED;
	case PGP_OPT_VERSION:
		printf("%s (pgp) %s\n", pgp_progname(), PGP_VERSION);
		return fflush(stdout) == 0 ? PGP_EXIT_OK : PGP_EXIT_FAILED;
	case ':':
		if (printable)
			return pgp_opt_fail(c, "option -%c needs a value", optopt);
		return pgp_opt_fail(c, "option \"%s\" needs a value", c->argv[optind - 1]);
	default:
		/* getopt_long leaves an unknown long option at argv[optind - 1]. */
		if (printable)
			return pgp_opt_fail(c, "invalid option -%c", optopt);
		return pgp_opt_fail(c, "invalid option \"%s\"", c->argv[optind - 1]);
	}
}

int
pgp_opt_check(struct pgp_common *c)
{
	if (c->conninfo && c->target)
		return pgp_opt_fail(c, "-d/--conninfo and -t/--target cannot be used together");
	if (c->database && !*c->database)
		return pgp_opt_fail(c, "--database needs a name");
	pgp_log_set_verbosity(c->verbosity);
	return PGP_OPT_GO;
}

int
pgp_opt_number(const struct pgp_common *c, const char *arg, const char *optname,
	       long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || isspace((unsigned char) *arg))
		return pgp_opt_fail(c, "invalid value \"%s\" for option %s (allowed: %lld..%lld)", arg,
				    optname, min, max);
	if (v < min || v > max)
		return pgp_opt_fail(c, "%s must be in range %lld..%lld", optname, min, max);
	*out = v;
	return PGP_OPT_GO;
}

int
pgp_parse_size(const char *s, unsigned long long *bytes)
{
	static const struct {
		const char *unit;
		unsigned long long mult;
	} units[] = {
		{"", 1}, {"b", 1}, {"k", 1ULL << 10}, {"kb", 1ULL << 10},
		{"m", 1ULL << 20}, {"mb", 1ULL << 20}, {"g", 1ULL << 30},
		{"gb", 1ULL << 30}, {"t", 1ULL << 40}, {"tb", 1ULL << 40},
	};
	char *end;
	double v;

	if (!s || !isdigit((unsigned char) *s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			double b = v * (double) units[i].mult;

			if (b > 1.8e19)
				return -1;
			*bytes = (unsigned long long) b;
			return 0;
		}
	}
	return -1;
}
