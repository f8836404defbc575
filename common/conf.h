/*
 * The one configuration file (libconfig syntax), pgp.conf(5).
 * Precedence, highest first: command line (the caller's), environment
 * (PGP_<KEY>), the file, the built-in default of common/conf_keys.def.
 * Loading validates the whole file and every PGP_* variable: unknown keys,
 * wrong types and values outside a key's rule (conf_keys.def) are errors
 * naming file and line (or the variable), the key and what is allowed; a
 * file holding a secret must be private.
 */
#ifndef PGP_CONF_H
#define PGP_CONF_H

#include <stddef.h>

enum pgp_conf_type {
	PGP_CONF_STRING,
	PGP_CONF_INT,
	PGP_CONF_BOOL,
	PGP_CONF_FLOAT,
	PGP_CONF_LIST		/* list or array of strings */
};

#define PGP_CONF_SECRET 0x1	/* a value that must stay private */

#include "paths.h"	/* PGP_CONF_DEFAULT_PATH, from the Makefile's SYSCONFDIR */

struct pgp_conf;

/* A named database server from the targets section. */
struct pgp_target {
	const char *name;
	const char *conninfo;
	const char *service_file;	/* NULL: libpq's default */
	const char *passfile;		/* NULL: libpq's default */
};

/*
 * Choose the file: explicit (-c), else $PGP_CONFIG, else the default path.
 * Sets *must_exist: a file the user named must exist; the default may not.
 */
const char *pgp_conf_choose_path(const char *explicit_path, int *must_exist);

/*
 * Load and validate a file.  A missing optional file gives an empty config
 * (defaults only).  Only a regular file or /dev/null is read (never a
 * directory, FIFO or device), and only that one file: @include is refused
 * (libconfig would open the file itself); every conninfo must parse as
 * libpq reads it; every value, in the file and in the environment, must
 * keep its key's rule.  Returns 0, or -1 after logging "FILE:LINE: ..." (or the variable).
 */
int pgp_conf_load(const char *path, int must_exist, struct pgp_conf **out);
void pgp_conf_free(struct pgp_conf *conf);

/* Path of the file that was loaded, or NULL when none was. */
const char *pgp_conf_file(const struct pgp_conf *conf);

/*
 * Where a value came from.  The getters return one of these (UNSET: no
 * value and no default), or -1 after logging a bad value; a program that
 * gets -1 stops with its usage status (2; pgp-alert 3) before any work.
 */
enum pgp_conf_source {
	PGP_CONF_UNSET = 0,
	PGP_CONF_DEFAULT,		/* conf_keys.def */
	PGP_CONF_FILE,
	PGP_CONF_ENV,			/* PGP_<KEY> */
	PGP_CONF_OPTION			/* the command line */
};

/*
 * The one way to read a setting: the option's text when it was given
 * (given non-NULL; opt, e.g. "--keep-last", names it in messages), else
 * the environment, else the file, else the default, each checked against
 * the key's rule in conf_keys.def ("option --keep-last is \"abc\", not an
 * integer (allowed: 0..100000)").  Strings stay owned by the conf, the
 * environment or the caller; a WORDS key's string is the table's word.
 */
int pgp_conf_int(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
		 long long *out);
int pgp_conf_float(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
		   double *out);
int pgp_conf_bool(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
		  int *out);
int pgp_conf_string(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
		    const char **out);
/* A SIZE key ("8GB") in bytes. */
int pgp_conf_size(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
		  unsigned long long *out);
/*
 * A list: given is a NULL-terminated array (NULL or empty: not given);
 * *out is a malloc'd NULL-terminated array of borrowed strings.
 */
int pgp_conf_list(const struct pgp_conf *conf, const char *key, const char *opt,
		  const char *const *given, const char ***out);

/*
 * The same without a command line: 1 when a value was found, 0 when
 * unset, -1 on a bad value (logged).
 */
int pgp_conf_get_string(const struct pgp_conf *conf, const char *key, const char **out);
int pgp_conf_get_int(const struct pgp_conf *conf, const char *key, long long *out);
int pgp_conf_get_bool(const struct pgp_conf *conf, const char *key, int *out);
int pgp_conf_get_float(const struct pgp_conf *conf, const char *key, double *out);
int pgp_conf_get_list(const struct pgp_conf *conf, const char *key, const char ***out);

/*
 * Parse a PostgreSQL duration as the server does for a setting whose
 * unit is ms: a number (fractions allowed), optional spaces, an optional
 * unit us, ms, s, min, h or d (case matters).  0, or -1 when not one.
 */
int pgp_conf_parse_duration(const char *s, double *ms);

/* Look up targets.NAME; -1 (logged, naming the known targets) if absent. */
int pgp_conf_target(const struct pgp_conf *conf, const char *name, struct pgp_target *out);

/*
 * Check a connection string or URI the way libpq will read it (a string
 * with no "=" and no URI prefix is a database name, and fine).  Returns
 * 0 when it parses; 1 when it parses and holds a secret, with libpq's
 * keyword for it ("password") in buf; -1 when it does not parse, with
 * libpq's reason in buf, any secret of the string masked as "***".
 */
int pgp_conf_check_conninfo(const char *conninfo, char *buf, size_t size);

/* What a value must be beyond its type (conf_keys.def explains each). */
enum pgp_conf_check_kind {
	PGP_CHECK_ANY,
	PGP_CHECK_RANGE,
	PGP_CHECK_RANGE_BY,
	PGP_CHECK_WORDS,
	PGP_CHECK_DURATION,
	PGP_CHECK_SIZE,
	PGP_CHECK_TEXT
};

struct pgp_conf_check {
	enum pgp_conf_check_kind kind;
	long long lo, hi;		/* RANGE; DURATION in ms; SIZE in bytes */
	const char *const *words;	/* WORDS: NULL-terminated */
	/*
	 * RANGE_BY: the range for this configuration (a zstd level is not a
	 * zlib level); returns what it depends on, for messages ("zlib").
	 */
	const char *(*range)(const struct pgp_conf *conf, long long *lo, long long *hi);
	/* TEXT: 0 when s is fine, else -1 with what is allowed in buf. */
	int (*text)(const char *s, char *buf, size_t size);
};

/* The key table, for tests and documentation checks. */
struct pgp_conf_key {
	const char *path;
	enum pgp_conf_type type;
	const char *default_value;
	int flags;
	const char *description;
	struct pgp_conf_check check;
};
const struct pgp_conf_key *pgp_conf_keys(int *count);
/*
 * What a key allows, in words, for this configuration: "0..9 (zlib)",
 * "user, daemon, ...", "0..2147483647ms".  Empty for ANY.
 */
void pgp_conf_allowed(const struct pgp_conf *conf, const struct pgp_conf_key *key, char *buf, size_t size);
/* Environment variable that overrides key ("log.syslog" -> PGP_LOG_SYSLOG). */
void pgp_conf_env_name(const char *key, char *buf, unsigned long size);

#endif
