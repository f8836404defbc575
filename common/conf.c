/*
 * pgp.conf: loading, validation against the key table, and typed getters
 * that apply the environment > file > default precedence.
 */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"

struct pgp_conf {
	config_t cfg;
	char *path;		/* NULL when no file was loaded */
};

static const struct pgp_conf_key key_table[] = {
#define PGP_CONF_KEY(path, type, def, flags, desc) {path, type, def, flags, desc},
#include "conf_keys.def"
#undef PGP_CONF_KEY
};
#define NKEYS ((int) (sizeof(key_table) / sizeof(key_table[0])))

static const char *const type_words[] = {
	"a string", "an integer", "true or false", "a number", "a list of strings"
};

const struct pgp_conf_key *
pgp_conf_keys(int *count)
{
	*count = NKEYS;
	return key_table;
}

void
pgp_conf_env_name(const char *key, char *buf, unsigned long size)
{
	size_t n = (size_t) snprintf(buf, size, "PGP_");

	for (const char *p = key; *p && n + 1 < size; p++)
		buf[n++] = *p == '.' ? '_' : (char) toupper((unsigned char) *p);
	buf[n < size ? n : size - 1] = '\0';
}

const char *
pgp_conf_choose_path(const char *explicit_path, int *must_exist)
{
	const char *env = getenv("PGP_CONFIG");

	*must_exist = 1;
	if (explicit_path)
		return explicit_path;
	if (env && *env)
		return env;
	*must_exist = 0;
	return PGP_CONF_DEFAULT_PATH;
}

/* Does a dotted path match a pattern where "*" stands for one component? */
static int
path_matches(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		if (*pattern == '*') {
			pattern++;
			while (*path && *path != '.')
				path++;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

static const struct pgp_conf_key *
find_key(const char *path)
{
	for (int i = 0; i < NKEYS; i++)
		if (path_matches(key_table[i].path, path))
			return &key_table[i];
	return NULL;
}

/* Is some key of the table below this group path (e.g. "targets.prod")? */
static int
is_known_group(const char *path)
{
	for (int i = 0; i < NKEYS; i++) {
		const char *k = key_table[i].path;
		char prefix[256];
		size_t klen = strlen(k);

		/* Compare the group path with each prefix of the key. */
		for (size_t j = 0; j < klen; j++) {
			if (k[j] != '.')
				continue;
			if (j >= sizeof(prefix))
				break;
			memcpy(prefix, k, j);
			prefix[j] = '\0';
			if (path_matches(prefix, path))
				return 1;
		}
	}
	return 0;
}

static int
type_ok(enum pgp_conf_type want, const config_setting_t *s)
{
	int t = config_setting_type(s);

	switch (want) {
	case PGP_CONF_STRING:
		return t == CONFIG_TYPE_STRING;
	case PGP_CONF_INT:
		return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
	case PGP_CONF_BOOL:
		return t == CONFIG_TYPE_BOOL;
	case PGP_CONF_FLOAT:
		return t == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
	case PGP_CONF_LIST:
		if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
			return 0;
		for (int i = 0; i < config_setting_length(s); i++)
			if (config_setting_type(config_setting_get_elem(s, (unsigned) i)) != CONFIG_TYPE_STRING)
				return 0;
		return 1;
	}
	return 0;
}

static const char *
source_file(const config_setting_t *s, const char *fallback)
{
	const char *f = config_setting_source_file(s);

	return f ? f : fallback;
}

/*
 * Walk the tree: every leaf must be a known key of the right type.  Also
 * note whether the file holds a secret, for the permission check.
 */
static int
validate(const config_setting_t *group, const char *prefix, const char *file,
	 char *secret_key, size_t secret_size)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
		const char *name = config_setting_name(s);
		char path[512];
		const struct pgp_conf_key *key;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
		if (config_setting_is_group(s)) {
			if (!is_known_group(path))
				return pgp_fail("%s:%d: unknown section \"%s\"",
						source_file(s, file), config_setting_source_line(s), path);
			if (validate(s, path, file, secret_key, secret_size) < 0)
				return -1;
			continue;
		}
		key = find_key(path);
		if (!key)
			return pgp_fail("%s:%d: unknown key \"%s\"",
					source_file(s, file), config_setting_source_line(s), path);
		if (!type_ok(key->type, s))
			return pgp_fail("%s:%d: key \"%s\" must be %s",
					source_file(s, file), config_setting_source_line(s), path,
					type_words[key->type]);
		/* A connection string can carry a password too. */
		if (!*secret_key && ((key->flags & PGP_CONF_SECRET) ||
				     (key->type == PGP_CONF_STRING && strstr(key->path, "conninfo") &&
				      strstr(config_setting_get_string(s), "password"))))
			snprintf(secret_key, secret_size, "%s", path);
	}
	return 0;
}

int
pgp_conf_load(const char *path, int must_exist, struct pgp_conf **out)
{
	struct pgp_conf *conf = calloc(1, sizeof(*conf));
	char secret_key[512] = "";
	struct stat st;

	if (!conf)
		return pgp_fail("out of memory");
	config_init(&conf->cfg);
	*out = conf;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return pgp_fail("cannot read configuration file \"%s\": %s", path, strerror(errno));
	}
	conf->path = strdup(path);
	if (!config_read_file(&conf->cfg, path)) {
		const char *efile = config_error_file(&conf->cfg);

		if (config_error_type(&conf->cfg) == CONFIG_ERR_FILE_IO)
			return pgp_fail("cannot read configuration file \"%s\": %s",
					efile ? efile : path, strerror(errno));
		return pgp_fail("%s:%d: %s", efile ? efile : path,
				config_error_line(&conf->cfg), config_error_text(&conf->cfg));
	}
	if (validate(config_root_setting(&conf->cfg), "", path, secret_key, sizeof(secret_key)) < 0)
		return -1;
	/* Same rule as libpq's for .pgpass: secrets live in private files. */
	if (*secret_key && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		pgp_error("%s: holds a secret (%s) but is readable by group or others (mode %04o)",
			  path, secret_key, (unsigned) (st.st_mode & 07777));
		pgp_hint("chmod 600 %s, or move the secret to a file named by a *_file key", path);
		return -1;
	}
	return 0;
}

void
pgp_conf_free(struct pgp_conf *conf)
{
	if (!conf)
		return;
	config_destroy(&conf->cfg);
	free(conf->path);
	free(conf);
}

const char *
pgp_conf_file(const struct pgp_conf *conf)
{
	return conf ? conf->path : NULL;
}

static const struct pgp_conf_key *
must_find(const char *key)
{
	const struct pgp_conf_key *k = find_key(key);

	if (!k) {
		/* A programming error: every key read must be in the table. */
		fprintf(stderr, "pgp: internal error: key \"%s\" is not in conf_keys.def\n", key);
		abort();
	}
	return k;
}

/* Where a value comes from: the environment, the file, or the default. */
struct lookup {
	const char *env;		/* environment string, or NULL */
	char env_name[128];
	const config_setting_t *setting;	/* from the file, or NULL */
	const char *def;		/* default from the table, or NULL */
};

static void
look_up(const struct pgp_conf *conf, const char *key, struct lookup *l)
{
	const struct pgp_conf_key *k = must_find(key);

	memset(l, 0, sizeof(*l));
	if (!strchr(k->path, '*')) {
		pgp_conf_env_name(key, l->env_name, sizeof(l->env_name));
		l->env = getenv(l->env_name);
		if (l->env && !*l->env)
			l->env = NULL;
	}
	if (conf && conf->path)
		l->setting = config_lookup(&conf->cfg, key);
	l->def = k->default_value;
}

int
pgp_conf_get_string(const struct pgp_conf *conf, const char *key, const char **out)
{
	struct lookup l;

	look_up(conf, key, &l);
	if (l.env)
		*out = l.env;
	else if (l.setting)
		*out = config_setting_get_string(l.setting);
	else if (l.def)
		*out = l.def;
	else
		return 0;
	return 1;
}

static int
parse_int(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' ? 0 : -1;
}

static int
parse_bool(const char *s, int *out)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcasecmp(s, "no") || !strcmp(s, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

int
pgp_conf_get_int(const struct pgp_conf *conf, const char *key, long long *out)
{
	struct lookup l;

	look_up(conf, key, &l);
	if (l.env) {
		if (parse_int(l.env, out) < 0)
			return pgp_fail("environment variable %s: \"%s\" is not an integer", l.env_name, l.env);
	} else if (l.setting)
		*out = config_setting_get_int64(l.setting);
	else if (l.def)
		(void) parse_int(l.def, out);
	else
		return 0;
	return 1;
}

int
pgp_conf_get_bool(const struct pgp_conf *conf, const char *key, int *out)
{
	struct lookup l;

	look_up(conf, key, &l);
	if (l.env) {
		if (parse_bool(l.env, out) < 0)
			return pgp_fail("environment variable %s: \"%s\" is not true or false", l.env_name, l.env);
	} else if (l.setting)
		*out = config_setting_get_bool(l.setting);
	else if (l.def)
		(void) parse_bool(l.def, out);
	else
		return 0;
	return 1;
}

int
pgp_conf_get_float(const struct pgp_conf *conf, const char *key, double *out)
{
	struct lookup l;
	char *end;

	look_up(conf, key, &l);
	if (l.env) {
		*out = strtod(l.env, &end);
		if (end == l.env || *end)
			return pgp_fail("environment variable %s: \"%s\" is not a number", l.env_name, l.env);
	} else if (l.setting) {
		*out = config_setting_type(l.setting) == CONFIG_TYPE_FLOAT
			? config_setting_get_float(l.setting)
			: (double) config_setting_get_int64(l.setting);
	} else if (l.def)
		*out = strtod(l.def, NULL);
	else
		return 0;
	return 1;
}

/* Split a comma-separated string (environment or default) into a list. */
static const char **
split_list(const char *s, char **storage)
{
	size_t n = 1;
	const char **list;
	char *p, *tok, *save = NULL;

	for (const char *c = s; *c; c++)
		n += *c == ',';
	list = calloc(n + 1, sizeof(*list));
	*storage = strdup(s);
	if (!list || !*storage) {
		free(list);
		free(*storage);
		return NULL;
	}
	n = 0;
	for (p = *storage; (tok = strtok_r(p, ",", &save)); p = NULL) {
		while (isspace((unsigned char) *tok))
			tok++;
		if (*tok)
			list[n++] = tok;
	}
	return list;
}

/* Comma lists from the environment live as long as the process. */
static char *env_list_storage[16];

int
pgp_conf_get_list(const struct pgp_conf *conf, const char *key, const char ***out)
{
	struct lookup l;
	const char *src = NULL;

	look_up(conf, key, &l);
	if (l.env)
		src = l.env;
	else if (l.setting) {
		int n = config_setting_length(l.setting);
		const char **list = calloc((size_t) n + 1, sizeof(*list));

		if (!list)
			return pgp_fail("out of memory");
		for (int i = 0; i < n; i++)
			list[i] = config_setting_get_string_elem(l.setting, i);
		*out = list;
		return 1;
	} else if (l.def)
		src = l.def;
	else
		return 0;
	for (size_t i = 0; i < sizeof(env_list_storage) / sizeof(env_list_storage[0]); i++) {
		if (!env_list_storage[i]) {
			*out = split_list(src, &env_list_storage[i]);
			return *out ? 1 : pgp_fail("out of memory");
		}
	}
	return pgp_fail("too many list settings read from the environment");
}

int
pgp_conf_target(const struct pgp_conf *conf, const char *name, struct pgp_target *out)
{
	const config_setting_t *targets = conf && conf->path
		? config_lookup(&conf->cfg, "targets") : NULL;
	const config_setting_t *t = targets ? config_setting_get_member(targets, name) : NULL;
	char known[512] = "";

	memset(out, 0, sizeof(*out));
	if (!t) {
		for (int i = 0; targets && i < config_setting_length(targets); i++) {
			const char *n = config_setting_name(config_setting_get_elem(targets, (unsigned) i));
			size_t len = strlen(known);

			snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", n);
		}
		pgp_error("no target \"%s\" in %s", name, conf && conf->path ? conf->path : "the configuration (no file loaded)");
		if (*known)
			pgp_hint("known targets: %s", known);
		return -1;
	}
	out->name = config_setting_name(t);
	if (!config_setting_lookup_string(t, "conninfo", &out->conninfo)) {
		return pgp_fail("%s:%d: target \"%s\" has no conninfo",
				source_file(t, conf->path), config_setting_source_line(t), name);
	}
	config_setting_lookup_string(t, "service_file", &out->service_file);
	config_setting_lookup_string(t, "passfile", &out->passfile);
	return 0;
}
