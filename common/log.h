/*
 * Diagnostics on stderr (and optionally syslog), in the shape PostgreSQL's
 * client programs use: "pgp-x: error: what failed", then optional
 * "pgp-x: detail: ..." and "pgp-x: hint: ..." lines.  stdout is for data.
 */
#ifndef PGP_LOG_H
#define PGP_LOG_H

#include <stdarg.h>

enum pgp_log_level {
	PGP_LOG_ERROR = 0,
	PGP_LOG_WARNING,
	PGP_LOG_INFO,
	PGP_LOG_DEBUG
};

/* Remember the program name (basename of argv0) for every message. */
void pgp_log_init(const char *argv0);
/* The program name given to pgp_log_init. */
const char *pgp_progname(void);
/* -q lowers, -v raises: 0 = default (info), <0 errors only, >0 debug. */
void pgp_log_set_verbosity(int verbosity);
/* Also send messages at or above level to syslog (ident = program name). */
int pgp_log_open_syslog(const char *facility_name, enum pgp_log_level level);
/* Is a message of this level printed on stderr? */
int pgp_log_enabled(enum pgp_log_level level);

void pgp_log(enum pgp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pgp_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pgp_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pgp_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pgp_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Follow-up lines to the last message; printed when that one was. */
void pgp_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pgp_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The text of the last error message (for state files); "" if none. */
const char *pgp_log_last_error(void);

/* git's idiom: log an error and return -1 in one line. */
int pgp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
