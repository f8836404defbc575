/*
 * Every configuration read of pgp-alert, in one place.  Keys are read
 * only when common/conf_keys.def knows them, so the program works (on
 * built-in defaults) before its keys are added, and picks them up after:
 *
 *   alert.max_parallel, alert.state_dir, alert.statement_timeout,
 *   alert.lock_timeout, alert.slow_queries_top,
 *   alert.notify, alert.repeat_interval, alert.notify_timeout,
 *   alert.webhook_url_file, alert.webhook_token_file, alert.slack_url_file,
 *   alert.alertmanager_url, alert.alertmanager_url_file,
 *   alert.checks.<check>.{warning,critical,include,exclude,enabled,
 *                         confirm,min_activity}
 *   targets.<target>.alert.checks.<check>.{the same}
 *
 * Precedence: --warning/--critical > the target's alert.checks > the
 * alert section > the built-in default of catalog.c.
 *
 * A key of the notifications the table does not know yet is read from
 * its environment variable (PGP_ALERT_NOTIFY...), as the table would.
 * Webhook URLs and tokens are secrets: from the environment
 * (PGP_ALERT_WEBHOOK_URL, PGP_ALERT_SLACK_URL, PGP_ALERT_WEBHOOK_TOKEN)
 * or from a private file a *_file key names, never from the command
 * line, never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"
#include "paths.h"

/* Does the key table know this path ("*" matching one component)? */
static int
key_known(const char *path)
{
	int n;
	const struct pgp_conf_key *keys = pgp_conf_keys(&n);

	for (int i = 0; i < n; i++) {
		const char *k = keys[i].path, *p = path;

		while (*k && *p) {
			if (*k == '*') {
				k++;
				while (*p && *p != '.')
					p++;
				continue;
			}
			if (*k != *p)
				break;
			k++;
			p++;
		}
		if (!*k && !*p)
			return 1;
	}
	return 0;
}

static int
get_string(const struct pgp_conf *conf, const char *key, const char **out)
{
	return key_known(key) ? pgp_conf_get_string(conf, key, out) : 0;
}

static int
get_int(const struct pgp_conf *conf, const char *key, long long *out)
{
	return key_known(key) ? pgp_conf_get_int(conf, key, out) : 0;
}

static int
get_bool(const struct pgp_conf *conf, const char *key, int *out)
{
	return key_known(key) ? pgp_conf_get_bool(conf, key, out) : 0;
}

static int
get_float(const struct pgp_conf *conf, const char *key, double *out)
{
	return key_known(key) ? pgp_conf_get_float(conf, key, out) : 0;
}

static int
set_threshold(const struct check_def *def, const char *text, const char *where, struct threshold *t)
{
	char why[300];

	if (threshold_parse(text, def->kind, (def->flags & CF_PCT_OF_MAX) != 0, t, why, sizeof(why)) < 0)
		return pgp_fail("%s: %s", where, why);
	return 0;
}

static int
set_regex(const char *text, const char *where, char **out)
{
	regex_t rx;

	if (regcomp(&rx, text, REG_EXTENDED | REG_NOSUB) != 0)
		return pgp_fail("%s: invalid regular expression \"%s\"", where, text);
	regfree(&rx);
	free(*out);
	*out = strdup(text);
	return *out ? 0 : pgp_fail("out of memory");
}

/*
 * The file as libconfig reads it, held while the configuration is read,
 * to know which groups exist: looking every check's seven keys up for
 * every target, each a search of the key table, was most of the start
 * of a 50-target run.  Only for the keys with a "*", which come from
 * the file alone (no environment variable, and their defaults are the
 * values a check starts from).
 */
static config_t raw_cfg;
static int raw_state;		/* 0: not read, 1: read, -1: no file */

static void
raw_open(const struct pgp_conf *conf)
{
	const char *path = pgp_conf_file(conf);

	raw_state = 0;
	if (!path || strcmp(path, "/dev/null") == 0) {
		raw_state = -1;
		return;
	}
	config_init(&raw_cfg);
	if (config_read_file(&raw_cfg, path))
		raw_state = 1;
	else
		config_destroy(&raw_cfg);	/* then every key is looked up */
}

static void
raw_close(void)
{
	if (raw_state == 1)
		config_destroy(&raw_cfg);
	raw_state = 0;
}

/* May the file hold a setting at path?  1 when it is not known. */
static int
raw_has(const char *path)
{
	return raw_state == 0 || (raw_state == 1 && config_lookup(&raw_cfg, path) != NULL);
}

/* One check's keys below prefix ("alert.checks" or "targets.T.alert.checks"). */
static int
read_check_keys(const struct pgp_conf *conf, const char *prefix, const struct check_def *def,
		struct check_conf *cc)
{
	char key[400], where[600];
	const char *s, *file = pgp_conf_file(conf) ? pgp_conf_file(conf) : "configuration";
	long long n;
	double f;
	int b, r;

	snprintf(key, sizeof(key), "%s.%s", prefix, def->name);
	if (!raw_has(key))
		return 0;	/* none of its keys is set: the defaults stand */

#define KEY(leaf) (snprintf(key, sizeof(key), "%s.%s.%s", prefix, def->name, leaf), \
		   (void) snprintf(where, sizeof(where), "%s: %s", file, key), key)
	if ((r = get_string(conf, KEY("warning"), &s)) < 0 || (r == 1 && set_threshold(def, s, where, &cc->warn) < 0))
		return -1;
	if ((r = get_string(conf, KEY("critical"), &s)) < 0 || (r == 1 && set_threshold(def, s, where, &cc->crit) < 0))
		return -1;
	if ((r = get_string(conf, KEY("include"), &s)) < 0 || (r == 1 && set_regex(s, where, &cc->include) < 0))
		return -1;
	if ((r = get_string(conf, KEY("exclude"), &s)) < 0 || (r == 1 && set_regex(s, where, &cc->exclude) < 0))
		return -1;
	if ((r = get_bool(conf, KEY("enabled"), &b)) < 0)
		return -1;
	if (r == 1)
		cc->enabled = b;
	if ((r = get_int(conf, KEY("confirm"), &n)) < 0)
		return -1;
	if (r == 1) {
		if (n < 1 || n > 100)
			return pgp_fail("%s: confirm must be in range 1..100", where);
		cc->confirm = (int) n;
	}
	if ((r = get_float(conf, KEY("min_activity"), &f)) < 0)
		return -1;
	if (r == 1)
		cc->floor = f;
#undef KEY
	return 0;
}

/*
 * Names below a group of the file (the targets, the checks configured):
 * the key table has no way to list them, so read the file again with
 * libconfig for its group names.  *names is malloc'd, NULL-terminated.
 */
static int
group_names(const struct pgp_conf *conf, const char *group, char ***names)
{
	const char *path = pgp_conf_file(conf);
	config_t cfg;
	const config_setting_t *g;
	int n = 0;

	*names = calloc(1, sizeof(**names));
	if (!*names)
		return pgp_fail("out of memory");
	if (!path || strcmp(path, "/dev/null") == 0)
		return 0;
	config_init(&cfg);
	if (!config_read_file(&cfg, path)) {
		config_destroy(&cfg);
		return pgp_fail("%s: cannot read it again: %s", path, config_error_text(&cfg));
	}
	g = config_lookup(&cfg, group);
	for (int i = 0; g && config_setting_is_group(g) && i < config_setting_length(g); i++) {
		const config_setting_t *e = config_setting_get_elem(g, (unsigned) i);
		char **bigger = realloc(*names, (size_t) (n + 2) * sizeof(**names));

		if (!bigger || !e || !config_setting_name(e)) {
			if (bigger)
				*names = bigger;
			continue;
		}
		*names = bigger;
		(*names)[n] = strdup(config_setting_name(e));
		(*names)[++n] = NULL;
	}
	config_destroy(&cfg);
	return n;
}

static void
free_names(char **names)
{
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

/* A check named in the config must exist: a typo must not silently do nothing. */
static int
check_group_names(const struct pgp_conf *conf, const char *group)
{
	char **names;
	int n = group_names(conf, group, &names), rc = 0;

	for (int i = 0; n > 0 && names[i]; i++) {
		if (!check_find(names[i]) || strcmp(check_find(names[i])->name, names[i]) != 0) {
			pgp_error("%s: %s.%s: no such check", pgp_conf_file(conf), group, names[i]);
			rc = -1;
		}
	}
	free_names(names);
	return n < 0 ? -1 : rc;
}

/* A name for a target given by -d or the defaults: host, port and database. */
static char *
derive_name(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = NULL, *port = NULL, *db = NULL, *service = NULL;
	char buf[400];

	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "dbname"))
			db = o->val;
		else if (!strcmp(o->keyword, "service"))
			service = o->val;
	}
	if (!service)
		service = getenv("PGSERVICE");
	if (service && !host && !db)
		snprintf(buf, sizeof(buf), "%s", service);
	else {
		if (!host)
			host = getenv("PGHOST");
		if (!port)
			port = getenv("PGPORT");
		if (!db)
			db = getenv("PGDATABASE");
		/* A socket directory says nothing to a reader: it is this machine. */
		if (host && (*host == '/' || *host == '@'))
			host = "local";
		snprintf(buf, sizeof(buf), "%s-%s%s%s", host && *host ? host : "local", port && *port ? port : "5432",
			 db ? "-" : "", db ? db : "");
	}
	PQconninfoFree(opts);
	return strdup(buf);
}

/* targets.NAME.type: "postgresql" (the default) or "pgbouncer"; 1, 0 or -1 (logged). */
static int
target_is_pgbouncer(const struct pgp_conf *conf, const char *name)
{
	char key[300];
	const char *type = NULL;
	int r;

	if (!name)
		return 0;
	snprintf(key, sizeof(key), "targets.%s.type", name);
	if ((r = get_string(conf, key, &type)) <= 0 || !type)
		return r;
	if (strcasecmp(type, "pgbouncer") == 0)
		return 1;
	if (strcasecmp(type, "postgresql") == 0)
		return 0;
	return pgp_fail("%s: %s: \"%s\" is not postgresql or pgbouncer",
			pgp_conf_file(conf) ? pgp_conf_file(conf) : "configuration", key, type);
}

/* A PostgreSQL duration, as the key table's DURATION reads it ("5s", "250" = ms). */
static int
parse_ms(const char *text, const char *key, long long *ms)
{
	double v;

	if (pgp_conf_parse_duration(text, &v) < 0 || v < 1 || v > 2147483647.0)
		return pgp_fail("%s: \"%s\" is not a duration from 1ms (e.g. 5s, 500ms, 1min)", key, text);
	*ms = (long long) v;
	return 0;
}

/* replication: alert.checks.replication.standbys, the target's, --expect-standbys. */
static int
read_standbys(const struct pgp_conf *conf, const char *conf_name, const struct alert_cli *cli,
	      struct check_conf *cc)
{
	char key[300];
	long long n = 0;

	if (get_int(conf, "alert.checks.replication.standbys", &n) < 0)
		return -1;
	cc->expect_standbys = (int) n;
	snprintf(key, sizeof(key), "targets.%s.alert.checks.replication.standbys", conf_name ? conf_name : "");
	if (conf_name && get_int(conf, key, &n) < 0)
		return -1;
	if (conf_name && n)
		cc->expect_standbys = (int) n;
	if (cli->expect_standbys)
		cc->expect_standbys = cli->expect_standbys;
	return 0;
}

static int
configure_target(const struct pgp_conf *conf, const struct alert_cli *cli, const struct alert_run *run,
		 struct alert_target *t, const char *conf_name)
{
	char prefix[300];
	int b = 0;

	for (int id = 0; id < CK_COUNT; id++) {
		const struct check_def *def = &check_defs[id];
		struct check_conf *cc = &t->conf[id];

		memset(cc, 0, sizeof(*cc));
		cc->enabled = 1;
		cc->confirm = 1;
		cc->floor = def->floor;
		if (set_threshold(def, def->warning, "built-in default", &cc->warn) < 0 ||
		    set_threshold(def, def->critical, "built-in default", &cc->crit) < 0)
			return -1;
		if (read_check_keys(conf, "alert.checks", def, cc) < 0)
			return -1;
		if (id == CK_BACKENDS && get_bool(conf, "alert.checks.backends.exclude_idle", &b) < 0)
			return -1;
		if (id == CK_BACKENDS)
			cc->exclude_idle = b;
		if (conf_name) {
			snprintf(prefix, sizeof(prefix), "targets.%s.alert.checks", conf_name);
			if (read_check_keys(conf, prefix, def, cc) < 0)
				return -1;
			snprintf(prefix, sizeof(prefix), "targets.%s.alert.checks.backends.exclude_idle", conf_name);
			if (id == CK_BACKENDS && get_bool(conf, prefix, &cc->exclude_idle) < 0)
				return -1;
		}
		if (id == CK_BACKENDS && cli->exclude_idle)
			cc->exclude_idle = 1;
		if (id == CK_REPLICATION && read_standbys(conf, conf_name, cli, cc) < 0)
			return -1;
		/* A check named with --check runs even when the config disables it. */
		if (run->wanted[id] == 2)
			cc->enabled = 1;
		if (run->wanted[id] == 2 && (cli->warning || cli->critical)) {
			if (cli->warning && set_threshold(def, cli->warning, "--warning", &cc->warn) < 0)
				return -1;
			if (cli->critical && set_threshold(def, cli->critical, "--critical", &cc->crit) < 0)
				return -1;
		}
	}
	return 0;
}

static int
choose_checks(const struct alert_cli *cli, struct alert_run *run)
{
	char *list, *tok, *save = NULL;
	int n = 0;

	if (!cli->checks) {
		for (int id = 0; id < CK_COUNT; id++)
			run->wanted[id] = !(check_defs[id].flags & CF_DAILY) || cli->daily;
		return 0;
	}
	list = strdup(cli->checks);
	if (!list)
		return pgp_fail("out of memory");
	for (char *p = list; (tok = strtok_r(p, ",", &save)); p = NULL) {
		const struct check_def *def = check_find(tok);

		if (!def) {
			pgp_error("unknown check \"%s\"", tok);
			pgp_hint("pgp-alert(1) lists the checks; --format json names them");
			free(list);
			return -1;
		}
		run->wanted[def->id] = 2;
		n++;
	}
	free(list);
	if (!n)
		return pgp_fail("--check needs a check name");
	if ((cli->warning || cli->critical) && n != 1)
		return pgp_fail("--warning and --critical apply to one check: name exactly one with --check");
	/* Without a connection nothing else can be answered: keep its line. */
	run->wanted[CK_CONNECTION] = run->wanted[CK_CONNECTION] ? 2 : 1;
	return 0;
}

/* A key the table may not know yet: then its environment variable. */
static int
setting(const struct pgp_conf *conf, const char *key, const char **out)
{
	char env[160];
	const char *v;

	if (key_known(key))
		return pgp_conf_get_string(conf, key, out);
	pgp_conf_env_name(key, env, sizeof(env));
	v = getenv(env);
	if (!v || !*v)
		return 0;
	*out = v;
	return 1;
}

/*
 * A secret from a file: a regular file that neither group nor others may
 * read (libpq's rule for .pgpass), one line.  Its content is never put in
 * a message.  1 with *out malloc'd, or -1 (logged).
 */
static int
secret_file(const char *key, const char *path, char **out)
{
	struct stat st;
	char buf[8192];
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pgp_fail("%s: cannot open \"%s\": %s", key, path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pgp_fail("%s: \"%s\" is not a regular file", key, path);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		pgp_error("%s: \"%s\" holds a secret but is readable by group or others (mode %04o)", key, path,
			  (unsigned) (st.st_mode & 07777));
		pgp_hint("chmod 600 %s", path);
		return -1;
	}
	while (len + 1 < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t) n;
	close(fd);
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (!len || strchr(buf, '\n')) {
		explicit_bzero(buf, sizeof(buf));
		return pgp_fail("%s: \"%s\" must hold one line", key, path);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 1 : pgp_fail("out of memory");
}

/* The secret of env, else of the file key names: 1, 0 (none) or -1. */
static int
secret(const struct pgp_conf *conf, const char *env, const char *file_key, char **out)
{
	const char *v = getenv(env), *path = NULL;
	int r;

	*out = NULL;
	if (v && *v)
		return (*out = strdup(v)) ? 1 : pgp_fail("out of memory");
	if ((r = setting(conf, file_key, &path)) <= 0)
		return r;
	return secret_file(file_key, path, out);
}

static int
check_url(const char *url, const char *from)
{
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return pgp_fail("%s: not an http:// or https:// URL", from);
	return 0;
}

/* The channels, the URLs and the timings of notifications. */
static int
configure_notify(const struct pgp_conf *conf, const struct alert_cli *cli, struct alert_run *run)
{
	static const char *const url_env[NC_COUNT] = {"PGP_ALERT_WEBHOOK_URL", "PGP_ALERT_SLACK_URL", NULL};
	static const char *const url_key[NC_COUNT] = {"alert.webhook_url_file", "alert.slack_url_file",
						      "alert.alertmanager_url_file"};
	struct notify_conf *nc = &run->notify;
	const char *s = NULL, **list = NULL;
	char *copy, *tok, *save = NULL, from[300];
	double ms;
	int r, any = 0;

	if (cli->notify)
		s = cli->notify;
	else if (key_known("alert.notify")) {
		if (pgp_conf_get_list(conf, "alert.notify", &list) < 0)
			return -1;
	} else if (setting(conf, "alert.notify", &s) < 0)
		return -1;
	/* One comma-separated text for --notify and the variable, a list in the file. */
	for (int i = 0; list && list[i]; i++) {
		int ch = notify_channel_find(list[i]);

		if (ch < 0) {
			free(list);
			return pgp_fail("alert.notify: unknown channel \"%s\" (webhook, slack, alertmanager)", list[i]);
		}
		nc->on[ch] = any = 1;
	}
	free(list);
	if (s) {
		if (!(copy = strdup(s)))
			return pgp_fail("out of memory");
		for (char *p = copy; (tok = strtok_r(p, ", ", &save)); p = NULL) {
			int ch = notify_channel_find(tok);

			if (ch < 0) {
				pgp_error("%s: unknown channel \"%s\"", cli->notify ? "--notify" : "alert.notify", tok);
				pgp_hint("the channels are webhook, slack and alertmanager");
				free(copy);
				return -1;
			}
			nc->on[ch] = any = 1;
		}
		free(copy);
	}
	nc->repeat_s = 4 * 3600;
	nc->timeout_ms = 10000;
	s = cli->repeat_interval;
	if (!s && (r = setting(conf, "alert.repeat_interval", &s)) < 0)
		return -1;
	if (s) {
		if (pgp_conf_parse_duration(s, &ms) < 0 || ms < 0 || ms > 2147483647.0)
			return pgp_fail("%s: \"%s\" is not a duration (e.g. 4h, 30min, 0 for never)",
					cli->repeat_interval ? "--repeat-interval" : "alert.repeat_interval", s);
		nc->repeat_s = ms > 0 && ms < 1000 ? 1 : (long long) (ms / 1000);
	}
	s = NULL;
	if ((r = setting(conf, "alert.notify_timeout", &s)) < 0)
		return -1;
	if (s && (pgp_conf_parse_duration(s, &ms) < 0 || ms < 1 || ms > 300000))
		return pgp_fail("alert.notify_timeout: \"%s\" is not a duration from 1ms to 5min", s);
	if (s)
		nc->timeout_ms = (long long) ms;
	nc->connect_timeout_ms = nc->timeout_ms < 5000 ? nc->timeout_ms : 5000;
	run->notifying = any && !cli->no_notify;
	if (!run->notifying)
		return 0;
	if (!run->state_dir)
		return pgp_fail("notifications need the state file: --notify cannot be used with --no-state");
	for (int ch = 0; ch < NC_COUNT; ch++) {
		if (!nc->on[ch])
			continue;
		if (ch == NC_ALERTMANAGER) {
			/* Not a secret in itself, but a password in it would be. */
			r = key_known("alert.alertmanager_url")
				? (int) pgp_conf_string(conf, "alert.alertmanager_url", NULL, NULL, &s)
				: setting(conf, "alert.alertmanager_url", &s);
			if (r < 0)
				return -1;
			if (r == PGP_CONF_FILE && strchr(s, '@'))
				return pgp_fail("alert.alertmanager_url: a URL with a user or password belongs in "
						"alert.alertmanager_url_file (mode 0600), not in %s",
						pgp_conf_file(conf) ? pgp_conf_file(conf) : "the configuration");
			if (r > 0 && !(nc->url[ch] = strdup(s)))
				return pgp_fail("out of memory");
			snprintf(from, sizeof(from), "alert.alertmanager_url");
			if (!nc->url[ch]) {
				if ((r = secret(conf, "PGP_ALERT_ALERTMANAGER_URL", url_key[ch], &nc->url[ch])) < 0)
					return -1;
				snprintf(from, sizeof(from), "%s", url_key[ch]);
			}
		} else {
			if ((r = secret(conf, url_env[ch], url_key[ch], &nc->url[ch])) < 0)
				return -1;
			snprintf(from, sizeof(from), "%s", getenv(url_env[ch]) && *getenv(url_env[ch]) ? url_env[ch]
				 : url_key[ch]);
		}
		if (!nc->url[ch]) {
			pgp_error("notification channel %s has no URL", notify_channel_name((enum notify_channel) ch));
			if (ch == NC_ALERTMANAGER)
				pgp_hint("set alert.alertmanager_url (or PGP_ALERT_ALERTMANAGER_URL)");
			else
				pgp_hint("set %s (a file of mode 0600 holding the URL) or the environment variable %s",
					 url_key[ch], url_env[ch]);
			return -1;
		}
		if (check_url(nc->url[ch], from) < 0)
			return -1;
		notify_mask_url(nc->url[ch], nc->shown[ch], sizeof(nc->shown[ch]));
	}
	if (nc->on[NC_WEBHOOK] && secret(conf, "PGP_ALERT_WEBHOOK_TOKEN", "alert.webhook_token_file", &nc->token) < 0)
		return -1;
	return 0;
}

static int
configure(const struct pgp_conf *conf, const struct pgp_common *c,
	  const struct alert_cli *cli, struct alert_run *run)
{
	long long n = 0;
	const char *s;
	char **names = NULL;
	int count;

	run->max_parallel = 16;
	run->statement_timeout_ms = 5000;
	run->lock_timeout_ms = 1000;
	run->state_dir = PGP_STATE_DIR_DEFAULT;
	run->backup_state_dir = PGP_STATE_DIR_DEFAULT;
	run->top_n = 5;
	run->verbose = c->verbosity;
	run->database = c->database;
	run->now = time(NULL);

	if (choose_checks(cli, run) < 0)
		return -1;
	if (get_int(conf, "alert.max_parallel", &n) < 0)
		return -1;
	if (n > 0 && key_known("alert.max_parallel"))
		run->max_parallel = (int) n;
	if (cli->max_parallel > 0)
		run->max_parallel = cli->max_parallel;
	if (get_string(conf, "alert.statement_timeout", &s) == 1 &&
	    parse_ms(s, "alert.statement_timeout", &run->statement_timeout_ms) < 0)
		return -1;
	if (get_string(conf, "alert.lock_timeout", &s) == 1 && parse_ms(s, "alert.lock_timeout", &run->lock_timeout_ms) < 0)
		return -1;
	if (get_int(conf, "alert.slow_queries_top", &n) == 1 && n > 0)
		run->top_n = (int) n;
	if (get_string(conf, "alert.state_dir", &s) == 1)
		run->state_dir = s;
	if (cli->state_dir) {
		run->state_dir = cli->state_dir;
		run->create_state_dir = 1;
	}
	if (cli->no_state)
		run->state_dir = NULL;
	if (get_string(conf, "backup.state_dir", &s) == 1)
		run->backup_state_dir = s;
	run->backup_configured = get_string(conf, "backup.repo", &s) == 1;
	if (check_group_names(conf, "alert.checks") < 0)
		return -1;
	if (configure_notify(conf, cli, run) < 0)
		return -1;

	if (cli->all) {
		count = group_names(conf, "targets", &names);
		if (count < 0)
			return -1;
		if (count == 0) {
			free_names(names);
			return pgp_fail("--all: no targets in %s", pgp_conf_file(conf) ? pgp_conf_file(conf)
					: "the configuration (no file loaded)");
		}
	} else
		count = cli->pgbouncer && !c->conninfo && !c->target ? 0 : 1;
	run->targets = calloc((size_t) count + 1, sizeof(*run->targets));
	if (!run->targets) {
		free_names(names);
		return pgp_fail("out of memory");
	}
	for (int i = 0; i < count; i++) {
		struct alert_target *t = &run->targets[i];
		const char *conf_name = NULL;

		t->lock_fd = -1;
		run->n_targets = i + 1;
		if (cli->all) {
			struct pgp_target pt;

			if (pgp_conf_target(conf, names[i], &pt) < 0 ||
			    pgp_conf_get_int(conf, "connection.connect_timeout", &t->spec.connect_timeout) < 0) {
				free_names(names);
				return -1;
			}
			t->spec.conninfo = pt.conninfo;
			t->spec.service_file = pt.service_file;
			t->spec.passfile = pt.passfile;
			t->spec.target = pt.name;
			conf_name = pt.name;
		} else {
			if (pgp_conn_spec(conf, c, "alert.target", &t->spec) < 0)
				return -1;
			conf_name = t->spec.target;
		}
		if (getenv("PGCONNECT_TIMEOUT"))
			t->spec.connect_timeout = 0;
		t->name = conf_name ? strdup(conf_name) : derive_name(t->spec.conninfo);
		if (!t->name) {
			free_names(names);
			return pgp_fail("out of memory");
		}
		t->pgbouncer = target_is_pgbouncer(conf, conf_name);
		if (t->pgbouncer < 0) {
			free_names(names);
			return -1;
		}
		t->pgbouncer |= pgb_is_console(t->spec.conninfo);
		if (configure_target(conf, cli, run, t, conf_name) < 0) {
			free_names(names);
			return -1;
		}
	}
	free_names(names);
	if (cli->pgbouncer) {
		struct alert_target *t = &run->targets[run->n_targets++];

		t->lock_fd = -1;
		t->pgbouncer = 1;
		t->spec.conninfo = cli->pgbouncer;
		if (pgp_conn_check_option(cli->pgbouncer) < 0 ||
		    get_int(conf, "connection.connect_timeout", &t->spec.connect_timeout) < 0)
			return -1;
		if (getenv("PGCONNECT_TIMEOUT"))
			t->spec.connect_timeout = 0;
		t->name = derive_name(cli->pgbouncer);
		if (!t->name)
			return pgp_fail("out of memory");
		if (configure_target(conf, cli, run, t, NULL) < 0)
			return -1;
	}
	return 0;
}

int
alert_configure(const struct pgp_conf *conf, const struct pgp_common *c,
		const struct alert_cli *cli, struct alert_run *run)
{
	int rc;

	raw_open(conf);
	rc = configure(conf, c, cli, run);
	raw_close();
	return rc;
}

void
alert_run_free(struct alert_run *run)
{
	for (int i = 0; i < run->n_targets; i++)
		target_free(&run->targets[i]);
	free(run->targets);
	run->targets = NULL;
	run->n_targets = 0;
	notify_conf_free(&run->notify);
}
