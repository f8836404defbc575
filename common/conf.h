/*
 * The one configuration file (libconfig syntax), pgp.conf(5).
 * Precedence, highest first: command line (the caller's), environment
 * (PGP_<KEY>), the file, the built-in default of common/conf_keys.def.
 * Loading validates the whole file: unknown keys and wrong types are errors
 * naming file, line and key; a file holding a secret must be private.
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

#define PGP_CONF_DEFAULT_PATH "/etc/pgp/pgp.conf"

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
 * directory, FIFO or device); every conninfo must parse as libpq reads it.
 * Returns 0, or -1 after logging "FILE:LINE: ...".
 */
int pgp_conf_load(const char *path, int must_exist, struct pgp_conf **out);
void pgp_conf_free(struct pgp_conf *conf);

/* Path of the file that was loaded, or NULL when none was. */
const char *pgp_conf_file(const struct pgp_conf *conf);

/*
 * Getters for a key of conf_keys.def, environment over file over default.
 * Return 1 when a value was found, 0 when unset, -1 on a bad value (logged).
 * Strings stay owned by the conf (or the environment).
 */
int pgp_conf_get_string(const struct pgp_conf *conf, const char *key, const char **out);
int pgp_conf_get_int(const struct pgp_conf *conf, const char *key, long long *out);
int pgp_conf_get_bool(const struct pgp_conf *conf, const char *key, int *out);
int pgp_conf_get_float(const struct pgp_conf *conf, const char *key, double *out);
/* A list: *out is a malloc'd NULL-terminated array of borrowed strings. */
int pgp_conf_get_list(const struct pgp_conf *conf, const char *key, const char ***out);

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

/* The key table, for tests and documentation checks. */
struct pgp_conf_key {
	const char *path;
	enum pgp_conf_type type;
	const char *default_value;
	int flags;
	const char *description;
};
const struct pgp_conf_key *pgp_conf_keys(int *count);
/* Environment variable that overrides key ("log.syslog" -> PGP_LOG_SYSLOG). */
void pgp_conf_env_name(const char *key, char *buf, unsigned long size);

#endif
