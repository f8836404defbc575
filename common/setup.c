/*
 * Program start-up shared by all pgp programs.
 */
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "log.h"
#include "setup.h"

static int
parse_level(const char *s, enum pgp_log_level *level)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*level = (enum pgp_log_level) i;
			return 0;
		}
	}
	return -1;
}

int
pgp_setup(const struct pgp_common *c, struct pgp_conf **conf)
{
	int must_exist, use_syslog = 0;
	const char *path = pgp_conf_choose_path(c->config_path, &must_exist);
	const char *facility = "user", *level_name = "info";
	enum pgp_log_level level;

	*conf = NULL;
	/* Every program takes -d, also those that connect late or not yet. */
	if (pgp_conn_check_option(c->conninfo) < 0)
		return c->usage_exit;
	if (pgp_conf_load(path, must_exist, conf) < 0)
		return c->usage_exit;
	/* The loader checked every value: these cannot fail but by a bug. */
	if (pgp_conf_bool(*conf, "log.syslog", NULL, NULL, &use_syslog) < 0 ||
	    pgp_conf_string(*conf, "log.syslog_facility", NULL, NULL, &facility) < 0 ||
	    pgp_conf_string(*conf, "log.syslog_level", NULL, NULL, &level_name) < 0)
		return c->usage_exit;
	if (!use_syslog)
		return 0;
	if (parse_level(level_name, &level) < 0) {
		pgp_error("log.syslog_level: \"%s\" is not one of error, warning, info, debug", level_name);
		return c->usage_exit;
	}
	if (pgp_log_open_syslog(facility, level) < 0) {
		pgp_error("log.syslog_facility: unknown facility \"%s\"", facility);
		return c->usage_exit;
	}
	return 0;
}

int
pgp_not_implemented(const char *job, int status)
{
	pgp_error("%s is not implemented in this version of pgp", job);
	return status;
}
