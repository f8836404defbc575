/*
 * Logging to stderr and optionally syslog.  A message's trailing newline is
 * dropped, so libpq's PQerrorMessage() can be passed straight through, and
 * a multi-line libpq message keeps only what follows on one line each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"

static const char *progname = "pgp";
static int stderr_threshold = PGP_LOG_INFO;
static int syslog_threshold = -1;	/* -1: syslog off */
static enum pgp_log_level last_level = PGP_LOG_ERROR;
static char last_error[512];

static const char *const level_words[] = {"error", "warning", "info", "debug"};
static const int syslog_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void
pgp_log_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		progname = slash ? slash + 1 : argv0;
	/* A message must reach the terminal even if the program dies next. */
	setvbuf(stderr, NULL, _IONBF, 0);
}

const char *
pgp_progname(void)
{
	return progname;
}

void
pgp_log_set_verbosity(int verbosity)
{
	if (verbosity < 0)
		stderr_threshold = PGP_LOG_ERROR;
	else if (verbosity == 0)
		stderr_threshold = PGP_LOG_INFO;
	else
		stderr_threshold = PGP_LOG_DEBUG;
}

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{"user", LOG_USER}, {"daemon", LOG_DAEMON}, {"local0", LOG_LOCAL0},
	{"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
	{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
	{"local7", LOG_LOCAL7},
};

int
pgp_log_open_syslog(const char *facility_name, enum pgp_log_level level)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcasecmp(facilities[i].name, facility_name) == 0) {
			openlog(progname, LOG_PID, facilities[i].facility);
			syslog_threshold = (int) level;
			return 0;
		}
	}
	return -1;
}

int
pgp_log_enabled(enum pgp_log_level level)
{
	return (int) level <= stderr_threshold;
}

static void
emit(int level_for_filter, const char *word, int syslog_prio, const char *fmt, va_list ap)
{
	char buf[4096];
	size_t len;
	int saved_errno = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';

	if (level_for_filter == PGP_LOG_ERROR && strcmp(word, "error") == 0)
		snprintf(last_error, sizeof(last_error), "%s", buf);
	if (level_for_filter <= stderr_threshold) {
		/* Data printed so far comes before the diagnostic. */
		fflush(stdout);
		fprintf(stderr, "%s: %s: %s\n", progname, word, buf);
	}
	if (syslog_threshold >= 0 && level_for_filter <= syslog_threshold)
		syslog(syslog_prio, "%s: %s", word, buf);
	errno = saved_errno;
}

static void
vlog(enum pgp_log_level level, const char *fmt, va_list ap)
{
	last_level = level;
	emit((int) level, level_words[level], syslog_priorities[level], fmt, ap);
}

void
pgp_log(enum pgp_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

#define DEFINE_LEVEL(fn, level) \
void \
fn(const char *fmt, ...) \
{ \
	va_list ap; \
	va_start(ap, fmt); \
	vlog(level, fmt, ap); \
	va_end(ap); \
}
DEFINE_LEVEL(pgp_error, PGP_LOG_ERROR)
DEFINE_LEVEL(pgp_warning, PGP_LOG_WARNING)
DEFINE_LEVEL(pgp_info, PGP_LOG_INFO)
DEFINE_LEVEL(pgp_debug, PGP_LOG_DEBUG)

void
pgp_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit((int) last_level, "detail", syslog_priorities[last_level], fmt, ap);
	va_end(ap);
}

void
pgp_hint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit((int) last_level, "hint", syslog_priorities[last_level], fmt, ap);
	va_end(ap);
}

const char *
pgp_log_last_error(void)
{
	return last_error;
}

int
pgp_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(PGP_LOG_ERROR, fmt, ap);
	va_end(ap);
	return -1;
}
