/*
 * pgp.conf: loading, validation against the key table, and typed getters
 * that apply the environment > file > default precedence.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "age.h"
#include "conf.h"
#include "log.h"
#include "opt.h"

struct pgp_conf {
	config_t cfg;
	char *path;		/* NULL when no file was loaded */
};

/*
 * The TEXT checks of conf_keys.def.  Each returns 0, or -1 with what is
 * allowed in buf.
 */

/* An address with a prefix length, as pg_hba.conf takes it: 10.0.0.0/8, ::1/128. */
static int
check_cidr(const char *s, char *buf, size_t size)
{
	const char *slash = strchr(s, '/');
	char addr[64];
	unsigned char bin[16];
	char *end;
	long bits;
	int v6;

	snprintf(buf, size, "an address with a prefix length, such as 10.0.0.0/8 or ::1/128");
	if (!slash || (size_t) (slash - s) >= sizeof(addr) || !isdigit((unsigned char) slash[1]))
		return -1;
	memcpy(addr, s, (size_t) (slash - s));
	addr[slash - s] = '\0';
	v6 = strchr(addr, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
		return -1;
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	return errno || *end || bits < 0 || bits > (v6 ? 128 : 32) ? -1 : 0;
}

static int
all_of(const char *s, const char *first, const char *rest, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strchr(first, s[0]) && strspn(s, rest) == n;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"

/* An extension's name as its control file spells it (uuid-ossp, pg_trgm). */
static int
check_extension(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "an extension name: letters, digits, _ and -");
	return all_of(s, LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "_",
		      LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "_-", 63) ? 0 : -1;
}

/* The role names are PREFIX_readonly and so on: 63 bytes at most. */
static int
check_role_prefix(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "[a-z_][a-z0-9_]*, at most 51 characters");
	return all_of(s, LOWER "_", LOWER DIGITS "_", 51) ? 0 : -1;
}

/* A user name as useradd(8) takes it. */
static int
check_os_user(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "a user name: [a-z_][a-z0-9_-]*");
	return all_of(s, LOWER "_", LOWER DIGITS "_-", 32) ? 0 : -1;
}

/*
 * A program or directory pgp runs from: absolute, since a cron job's or a
 * unit's working directory is nobody's choice.
 */
static int
check_absolute_path(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "an absolute path, starting with /");
	return s[0] == '/' ? 0 : -1;
}

/* A program: an absolute path, or a bare name looked for in PATH (pgbin.h). */
static int
check_program(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "an absolute path, or a program name to look for in PATH");
	return *s && (s[0] == '/' || !strchr(s, '/')) ? 0 : -1;
}

/* A notification channel of pgp-alert (alert.notify); any case. */
static int
check_alert_channel(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "webhook, slack or alertmanager");
	return strcasecmp(s, "webhook") && strcasecmp(s, "slack") && strcasecmp(s, "alertmanager") ? -1 : 0;
}

static int
check_url(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "a URL: http://HOST[:PORT] or https://HOST[:PORT]");
	if (!strncmp(s, "https://", 8))
		s += 8;
	else if (!strncmp(s, "http://", 7))
		s += 7;
	else
		return -1;
	return *s && *s != '/' && !strpbrk(s, " \t\r\n") ? 0 : -1;
}

/* backup.cluster: a name for clusters/NAME/ (bin/backup/cluster.c says the same). */
static int
check_cluster_name(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s);

	snprintf(buf, size, "1 to 63 of A-Z a-z 0-9 _ . -, not starting with .");
	return n > 0 && n < 64 && s[0] != '.' &&
		strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n ? 0 : -1;
}

/* backup.encrypt_recipients: a public key (age1...) or a file of them, never a secret key. */
static int
check_recipient(const char *s, char *buf, size_t size)
{
	struct pgp_age_recipient r;

	snprintf(buf, size, "an age public key (age1...) or a file of them");
	if (!strncasecmp(s, "age1", 4))
		return pgp_age_recipient_parse(s, &r);
	return *s && strncasecmp(s, "AGE-SECRET-KEY-", 15) ? 0 : -1;
}

/* Part of every request's signature (SigV4): lower case, digits and -. */
static int
check_region(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "a region name such as us-east-1: a-z, 0-9 and -");
	return all_of(s, LOWER DIGITS, LOWER DIGITS "-", 64) ? 0 : -1;
}

/* backup.compress_level: the range of backup.compression's compressor. */
static const char *compress_level_range(const struct pgp_conf *conf, long long *lo, long long *hi);

#define ANY {PGP_CHECK_ANY, 0, 0, NULL, NULL, NULL}
#define RANGE(lo, hi) {PGP_CHECK_RANGE, lo, hi, NULL, NULL, NULL}
#define RANGE_BY(fn) {PGP_CHECK_RANGE_BY, 0, 0, NULL, fn, NULL}
#define WORDS(...) {PGP_CHECK_WORDS, 0, 0, (const char *const[]) {__VA_ARGS__, NULL}, NULL, NULL}
#define DURATION(lo, hi) {PGP_CHECK_DURATION, lo, hi, NULL, NULL, NULL}
#define SIZE(lo, hi) {PGP_CHECK_SIZE, lo, hi, NULL, NULL, NULL}
#define TEXT(fn) {PGP_CHECK_TEXT, 0, 0, NULL, NULL, fn}

static const struct pgp_conf_key key_table[] = {
#define PGP_CONF_KEY(path, type, def, flags, check, desc) {path, type, def, flags, desc, check},
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

/* The first key found that holds a secret, for the permission check. */
struct found_secret {
	char key[512];			/* "" while none was found */
	char what[64];			/* libpq's keyword ("password"), or "" */
	int line;
};

/* Is this key a libpq connection string (targets.*.conninfo)? */
static int
is_conninfo_key(const struct pgp_conf_key *key)
{
	const char *dot = strrchr(key->path, '.');

	return key->type == PGP_CONF_STRING && strcmp(dot ? dot + 1 : key->path, "conninfo") == 0;
}

/*
 * Values: parsed from text (environment, command line, default) or taken
 * from the file, then checked against the key's rule.  A bad value is
 * reported as "WHERE is VALUE[, PROBLEM] (allowed: ...)", WHERE being
 * "FILE:LINE: key \"K\"", "environment variable PGP_K" or "option --k".
 */
struct value {
	long long n;			/* INT */
	double d;			/* FLOAT (and INT) */
	int b;				/* BOOL */
	const char *s;			/* STRING: WORDS give the table's word */
	unsigned long long bytes;	/* STRING with SIZE */
};

static int
parse_int(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && !isspace((unsigned char) *s) ? 0 : -1;
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

static int
parse_real(const char *s, double *out)
{
	char *end;

	/* strtod also reads "inf", "nan" and hexadecimal: not numbers here. */
	if (!*s || !strchr("+-.0123456789", *s) || strpbrk(s, "xXnN"))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && isfinite(*out) ? 0 : -1;
}

int
pgp_conf_parse_duration(const char *s, double *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
	char *end;
	double v;

	while (isspace((unsigned char) *s))
		s++;
	if (!*s || !strchr("+-.0123456789", *s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || memchr(s, 'x', (size_t) (end - s)) ||
	    memchr(s, 'X', (size_t) (end - s)))
		return -1;
	while (isspace((unsigned char) *end))
		end++;
	if (!*end) {
		*ms = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t ul = strlen(units[i].unit);
		const char *rest = end + ul;

		if (strncmp(end, units[i].unit, ul) != 0)
			continue;
		while (isspace((unsigned char) *rest))
			rest++;
		if (*rest)
			continue;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
}

/* "256MB", "64TB": the largest unit that divides exactly. */
static void
size_text(unsigned long long b, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	int u = 0;

	while (u < 4 && b && b % 1024 == 0) {
		b /= 1024;
		u++;
	}
	snprintf(buf, size, "%llu%s", b, units[u]);
}

void
pgp_conf_allowed(const struct pgp_conf *conf, const struct pgp_conf_key *key, char *buf, size_t size)
{
	const struct pgp_conf_check *c = &key->check;
	char lo[32], hi[32];
	long long l, h;
	const char *why;
	size_t n = 0;

	buf[0] = '\0';
	switch (c->kind) {
	case PGP_CHECK_ANY:
		break;
	case PGP_CHECK_RANGE:
		snprintf(buf, size, "%lld..%lld", c->lo, c->hi);
		break;
	case PGP_CHECK_RANGE_BY:
		why = c->range(conf, &l, &h);
		snprintf(buf, size, "%lld..%lld%s%s", l, h, why ? " for " : "", why ? why : "");
		break;
	case PGP_CHECK_WORDS:
		for (const char *const *w = c->words; *w && n < size; w++)
			n += (size_t) snprintf(buf + n, size - n, "%s%s", w == c->words ? "" : ", ", *w);
		break;
	case PGP_CHECK_DURATION:
		snprintf(buf, size, "%lld..%lldms, with a unit us, ms, s, min, h or d (no unit: ms)", c->lo, c->hi);
		break;
	case PGP_CHECK_SIZE:
		size_text((unsigned long long) c->lo, lo, sizeof(lo));
		size_text((unsigned long long) c->hi, hi, sizeof(hi));
		snprintf(buf, size, "%s..%s, with a unit B, kB, MB, GB or TB", lo, hi);
		break;
	case PGP_CHECK_TEXT:
		(void) c->text("", buf, size);
		break;
	}
}

/* Log "WHERE is SHOWN[, PROBLEM] (allowed: ...)" and return -1. */
static int
bad_value(const struct pgp_conf *conf, const struct pgp_conf_key *key, const char *where,
	  const char *shown, const char *problem, const char *allowed)
{
	char buf[512];

	if (!allowed) {
		pgp_conf_allowed(conf, key, buf, sizeof(buf));
		allowed = buf;
	}
	return pgp_fail("%s is %s%s%s%s%s%s", where, shown, problem ? ", " : "", problem ? problem : "",
			*allowed ? " (allowed: " : "", allowed, *allowed ? ")" : "");
}

static void
quoted(const char *s, char *buf, size_t size)
{
	/* A secret key put where a value goes is never echoed into a log. */
	if (!strncasecmp(s, "AGE-SECRET-KEY-", 15))
		snprintf(buf, size, "a secret key (not shown)");
	else
		snprintf(buf, size, "\"%s\"", s);
}

static int
check_number(const struct pgp_conf *conf, const struct pgp_conf_key *key, const char *where,
	     double v, const char *shown)
{
	long long lo = key->check.lo, hi = key->check.hi;

	if (key->check.kind == PGP_CHECK_RANGE_BY)
		(void) key->check.range(conf, &lo, &hi);
	else if (key->check.kind != PGP_CHECK_RANGE)
		return 0;
	return v < (double) lo || v > (double) hi ? bad_value(conf, key, where, shown, "out of range", NULL) : 0;
}

/* A string (or one element of a list) against the key's rule. */
static int
check_string(const struct pgp_conf *conf, const struct pgp_conf_key *key, const char *where,
	     const char *s, struct value *v)
{
	const struct pgp_conf_check *c = &key->check;
	char shown[300], allowed[256];
	double ms;

	v->s = s;
	if (!*s && key->type == PGP_CONF_STRING)
		return 0;	/* unset (look_up) */
	quoted(s, shown, sizeof(shown));
	switch (c->kind) {
	case PGP_CHECK_WORDS:
		for (const char *const *w = c->words; *w; w++) {
			if (strcasecmp(*w, s) == 0) {
				v->s = *w;
				return 0;
			}
		}
		return bad_value(conf, key, where, shown, NULL, NULL);
	case PGP_CHECK_DURATION:
		if (pgp_conf_parse_duration(s, &ms) < 0)
			return bad_value(conf, key, where, shown, "not a duration", NULL);
		return ms < (double) c->lo || ms > (double) c->hi
			? bad_value(conf, key, where, shown, "out of range", NULL) : 0;
	case PGP_CHECK_SIZE:
		if (pgp_parse_size(s, &v->bytes) < 0)
			return bad_value(conf, key, where, shown, "not a size", NULL);
		return v->bytes < (unsigned long long) c->lo || v->bytes > (unsigned long long) c->hi
			? bad_value(conf, key, where, shown, "out of range", NULL) : 0;
	case PGP_CHECK_TEXT:
		return c->text(s, allowed, sizeof(allowed)) < 0
			? bad_value(conf, key, where, shown, NULL, allowed) : 0;
	default:
		return 0;
	}
}

/* A value given as text: the environment, the command line, a default. */
static int
from_text(const struct pgp_conf *conf, const struct pgp_conf_key *key, const char *where,
	  const char *text, struct value *v)
{
	char shown[300];

	quoted(text, shown, sizeof(shown));
	switch (key->type) {
	case PGP_CONF_INT:
		if (parse_int(text, &v->n) < 0)
			return bad_value(conf, key, where, shown, "not an integer", NULL);
		v->d = (double) v->n;
		snprintf(shown, sizeof(shown), "%lld", v->n);
		return check_number(conf, key, where, v->d, shown);
	case PGP_CONF_FLOAT:
		if (parse_real(text, &v->d) < 0)
			return bad_value(conf, key, where, shown, "not a number", NULL);
		snprintf(shown, sizeof(shown), "%g", v->d);
		return check_number(conf, key, where, v->d, shown);
	case PGP_CONF_BOOL:
		return parse_bool(text, &v->b) < 0
			? bad_value(conf, key, where, shown, "not true or false", "true or false") : 0;
	case PGP_CONF_STRING:
		return check_string(conf, key, where, text, v);
	case PGP_CONF_LIST:
		break;		/* the list getter checks each element */
	}
	return 0;
}

/* A value from the file (of the right type: validate() checked). */
static int
from_setting(const struct pgp_conf *conf, const struct pgp_conf_key *key, const char *where,
	     const config_setting_t *s, struct value *v)
{
	char shown[64];

	switch (key->type) {
	case PGP_CONF_INT:
		v->n = config_setting_get_int64(s);
		v->d = (double) v->n;
		snprintf(shown, sizeof(shown), "%lld", v->n);
		return check_number(conf, key, where, v->d, shown);
	case PGP_CONF_FLOAT:
		v->d = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
			: (double) config_setting_get_int64(s);
		snprintf(shown, sizeof(shown), "%g", v->d);
		return check_number(conf, key, where, v->d, shown);
	case PGP_CONF_BOOL:
		v->b = config_setting_get_bool(s);
		return 0;
	case PGP_CONF_STRING:
		return check_string(conf, key, where, config_setting_get_string(s), v);
	case PGP_CONF_LIST:
		for (int i = 0; i < config_setting_length(s); i++) {
			struct value e;

			if (check_string(conf, key, where, config_setting_get_string_elem(s, i), &e) < 0)
				return -1;
		}
		return 0;
	}
	return 0;
}

static void
file_where(const config_setting_t *s, const char *fallback, const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%d: key \"%s\"", source_file(s, fallback), config_setting_source_line(s), path);
}

/* Each element of a comma-separated list (environment, command line). */
static int
check_list_text(const struct pgp_conf *conf, const struct pgp_conf_key *key, const char *where,
		const char *text)
{
	char *copy = strdup(text), *tok, *save = NULL, *p;
	int rc = 0;

	if (!copy)
		return pgp_fail("out of memory");
	for (p = copy; rc == 0 && (tok = strtok_r(p, ",", &save)); p = NULL) {
		struct value e;

		while (isspace((unsigned char) *tok))
			tok++;
		if (*tok)
			rc = check_string(conf, key, where, tok, &e);
	}
	free(copy);
	return rc;
}

/*
 * Checks of a value beyond its type: the key's rule; a connection string
 * must parse as libpq will parse it (the user learns of a typo now, with
 * file and line, not as "cannot connect" later), and it may carry a password.
 */
static int
check_value(const struct pgp_conf *conf, const struct pgp_conf_key *key, const config_setting_t *s,
	    const char *path, const char *file, struct found_secret *found)
{
	char why[512] = "", where[700];
	struct value v;
	int r = 0;

	file_where(s, file, path, where, sizeof(where));
	if (from_setting(conf, key, where, s, &v) < 0)
		return -1;
	if (is_conninfo_key(key)) {
		r = pgp_conf_check_conninfo(config_setting_get_string(s), why, sizeof(why));
		if (r < 0)
			return pgp_fail("%s:%d: key \"%s\": %s", source_file(s, file),
					config_setting_source_line(s), path, why);
	}
	if (*found->key || !(r > 0 || (key->flags & PGP_CONF_SECRET)))
		return 0;
	snprintf(found->key, sizeof(found->key), "%s", path);
	snprintf(found->what, sizeof(found->what), "%s", r > 0 ? why : "");
	found->line = config_setting_source_line(s);
	return 0;
}

/*
 * Walk the tree: every leaf must be a known key of the right type and
 * keep its rule.  Also note whether the file holds a secret, for the
 * permission check.
 */
static int
validate(const struct pgp_conf *conf, const config_setting_t *group, const char *prefix,
	 const char *file, struct found_secret *found)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
		const char *name = config_setting_name(s);
		char path[512];
		const struct pgp_conf_key *key;
		int len = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);

		/* A path cut short could match a key it is not: never matched. */
		if (len < 0 || (size_t) len >= sizeof(path))
			return pgp_fail("%s:%d: key path too long (%d bytes, at most %zu): \"%.40s...\"",
					source_file(s, file), config_setting_source_line(s), len,
					sizeof(path) - 1, path);
		if (config_setting_is_group(s)) {
			if (!is_known_group(path))
				return pgp_fail("%s:%d: unknown section \"%s\"",
						source_file(s, file), config_setting_source_line(s), path);
			if (validate(conf, s, path, file, found) < 0)
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
		if (check_value(conf, key, s, path, file, found) < 0)
			return -1;
	}
	return 0;
}

/* Every PGP_* variable that names a key, checked as the file is. */
static int
validate_environment(const struct pgp_conf *conf)
{
	for (int i = 0; i < NKEYS; i++) {
		const struct pgp_conf_key *k = &key_table[i];
		char name[128], where[160];
		const char *env;
		struct value v;

		if (strchr(k->path, '*'))
			continue;
		pgp_conf_env_name(k->path, name, sizeof(name));
		env = getenv(name);
		if (!env || !*env)
			continue;
		snprintf(where, sizeof(where), "environment variable %s", name);
		if (k->type == PGP_CONF_LIST ? check_list_text(conf, k, where, env) < 0
		    : from_text(conf, k, where, env, &v) < 0)
			return -1;
	}
	return 0;
}

/* /dev/null is the tests' and the examples' way to say "no settings". */
static int
is_dev_null(const struct stat *st)
{
	struct stat null;

	return S_ISCHR(st->st_mode) && stat("/dev/null", &null) == 0 &&
	       S_ISCHR(null.st_mode) && st->st_rdev == null.st_rdev;
}

/*
 * The configuration is one file: libconfig would open an @include's file
 * itself, past read_file()'s checks (a directory ends the process in its
 * scanner, a FIFO never ends), so any line that libconfig could read as
 * one is refused, as is a NUL byte, which would hide the rest of the text
 * from this check and from libconfig alike.  libconfig's rule is
 * ^[ \t]*@include; this one is wider (any case, any blank) on purpose.
 */
/*
 * libconfig 1.5 reads an integer literal without an L suffix as 32 bits
 * and wraps what does not fit (4294967297 becomes 1): such a literal is
 * refused, outside strings and comments.  p points at a digit; 0 or -1.
 */
static int
check_int_literal(const char *path, int line, const char *text, const char *p, const char **end)
{
	const char *q = p;
	unsigned long long v = 0;
	int big = 0;

	while (*q >= '0' && *q <= '9') {
		big |= v > 0x7fffffffULL;
		v = v * 10 + (unsigned long long) (*q - '0');
		q++;
	}
	*end = q;
	/* part of a name, a float, a hex number or an L-suffixed integer: fine */
	if ((p > text && (isalnum((unsigned char) p[-1]) || p[-1] == '_' || p[-1] == '.')) ||
	    *q == '.' || *q == 'e' || *q == 'E' || *q == 'x' || *q == 'X' || *q == 'L')
		return 0;
	if (big || v > 0x80000000ULL || (v == 0x80000000ULL && !(p > text && p[-1] == '-')))
		return pgp_fail("%s:%d: the integer %.*s does not fit libconfig's 32-bit integers: "
				"write it with an L suffix (%.*sL)", path, line, (int) (q - p), p, (int) (q - p), p);
	return 0;
}

static int
check_text(const char *path, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	int line = 1;

	if (nul) {
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		return pgp_fail("%s:%d: a NUL byte: not a text file", path, line);
	}
	for (const char *p = text; p < text + len; p++) {
		const char *end;

		/* strings and comments hold no numbers libconfig reads */
		if (*p == '"') {
			for (p++; p < text + len && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < text + len)
					p++;
				line += *p == '\n';
			}
			continue;
		}
		if (*p == '#' || (*p == '/' && p[1] == '/')) {
			while (p + 1 < text + len && p[1] != '\n')
				p++;
			continue;
		}
		if (*p == '/' && p[1] == '*') {
			for (p += 2; p + 1 < text + len && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p++;
			continue;
		}
		if (*p >= '0' && *p <= '9') {
			if (check_int_literal(path, line, text, p, &end) < 0)
				return -1;
			p = end - 1;
			continue;
		}
		if ((p == text || p[-1] == '\n') &&
		    strncasecmp(p + strspn(p, " \t\r\f\v"), "@include", 8) == 0) {
			pgp_error("%s:%d: @include is not supported: the configuration is one file", path, line);
			pgp_hint("copy the included settings into %s", path);
			return -1;
		}
		line += *p == '\n';
	}
	return 0;
}

/* Larger than any configuration: a file this big is a mistake. */
#define MAX_CONF_SIZE (16 << 20)

/*
 * Read the file to parse.  Only a regular file (or /dev/null) is read: a
 * directory reads as an I/O error, a FIFO or a device may never end.
 * O_NONBLOCK, since opening a FIFO would otherwise wait for a writer.
 * Returns 0 with *text set (malloc'd, NUL-terminated), 0 with *text NULL
 * for a missing optional file, or -1 after logging.
 */
static int
read_file(const char *path, int must_exist, char **text, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	const char *why = NULL;
	size_t len = 0, cap = 0;
	char *buf = NULL;

	*text = NULL;
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return pgp_fail("cannot read configuration file \"%s\": %s", path, strerror(errno));
	}
	if (fstat(fd, st) != 0)
		why = strerror(errno);
	else if (S_ISDIR(st->st_mode))
		why = "is a directory";
	else if (!S_ISREG(st->st_mode) && !is_dev_null(st))
		why = "not a regular file";
	while (!why) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *more = cap >= MAX_CONF_SIZE ? NULL : realloc(buf, cap ? cap * 2 : 8192);

			if (!more) {
				why = cap >= MAX_CONF_SIZE ? "larger than 16MB" : "out of memory";
				break;
			}
			buf = more;
			cap = cap ? cap * 2 : 8192;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			why = strerror(errno);
		else if (n == 0)
			break;
		else
			len += (size_t) n;
	}
	close(fd);		/* read only: nothing to lose */
	if (why) {
		free(buf);
		return pgp_fail("cannot read configuration file \"%s\": %s", path, why);
	}
	buf[len] = '\0';
	if (check_text(path, buf, len) < 0) {
		free(buf);
		return -1;
	}
	*text = buf;
	return 0;
}

/* Same rule as libpq's for .pgpass: secrets live in private files. */
static int
check_private(const char *path, const struct stat *st, const struct found_secret *found)
{
	if (!*found->key || !(st->st_mode & (S_IRWXG | S_IRWXO)))
		return 0;
	pgp_error("%s:%d: key \"%s\" holds a secret%s%s%s but the file is readable by group or others"
		  " (mode %04o)", path, found->line, found->key, *found->what ? " (" : "",
		  found->what, *found->what ? ")" : "", (unsigned) (st->st_mode & 07777));
	pgp_hint("chmod 600 %s, or move the secret to a file named by a *_file key", path);
	return -1;
}

int
pgp_conf_load(const char *path, int must_exist, struct pgp_conf **out)
{
	struct pgp_conf *conf = calloc(1, sizeof(*conf));
	struct found_secret found = {"", "", 0};
	struct stat st;
	char *text;
	int parsed;

	*out = conf;
	if (!conf)
		return pgp_fail("out of memory");
	config_init(&conf->cfg);
	if (read_file(path, must_exist, &text, &st) < 0)
		return -1;
	if (!text)
		return validate_environment(conf);
	conf->path = strdup(path);
	/* From memory: libconfig opens no file of its own (check_text). */
	parsed = config_read_string(&conf->cfg, text);
	free(text);
	if (!conf->path)
		return pgp_fail("out of memory");
	if (!parsed) {
		const char *efile = config_error_file(&conf->cfg);

		return pgp_fail("%s:%d: %s", efile ? efile : path,
				config_error_line(&conf->cfg), config_error_text(&conf->cfg));
	}
	if (validate(conf, config_root_setting(&conf->cfg), "", path, &found) < 0 ||
	    check_private(path, &st, &found) < 0)
		return -1;
	return validate_environment(conf);
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
	const struct pgp_conf_key *key;
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
	l->key = k;
	if (!strchr(k->path, '*')) {
		pgp_conf_env_name(key, l->env_name, sizeof(l->env_name));
		l->env = getenv(l->env_name);
		if (l->env && !*l->env)
			l->env = NULL;
	}
	if (conf && conf->path)
		l->setting = config_lookup(&conf->cfg, key);
	/* key = "" is the sample config's way to say "not set", as PGP_KEY= is. */
	if (l->setting && k->type == PGP_CONF_STRING && !*config_setting_get_string(l->setting))
		l->setting = NULL;
	l->def = k->default_value;
}

/*
 * The compression as the environment or the file set it (the option
 * --compression is pgp-backup's to check), zstd when unset.  Read
 * without checks or logging: a bad backup.compression is reported by its
 * own key's check.  The ranges are libzstd's (-7 as zstd --fast=7; 20 and
 * up need far more memory) and zlib's.
 */
static const char *
compress_level_range(const struct pgp_conf *conf, long long *lo, long long *hi)
{
	const config_setting_t *s = conf && conf->path ? config_lookup(&conf->cfg, "backup.compression") : NULL;
	const char *c = getenv("PGP_BACKUP_COMPRESSION");

	if ((!c || !*c) && s && config_setting_type(s) == CONFIG_TYPE_STRING)
		c = config_setting_get_string(s);
	if (c && !strcasecmp(c, "gzip")) {
		*lo = 0;
		*hi = 9;
		return "gzip";
	}
	if (c && !strcasecmp(c, "none")) {
		*lo = *hi = 0;
		return "none";
	}
	*lo = -7;
	*hi = 19;
	return "zstd";
}

/*
 * The precedence, once: option, environment, file, default; the value
 * checked wherever it came from.  Returns its source, UNSET or -1.
 */
static int
get_value(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
	  int type_a, int type_b, struct value *v)
{
	struct lookup l;
	char where[700];

	look_up(conf, key, &l);
	if ((int) l.key->type != type_a && (int) l.key->type != type_b) {
		fprintf(stderr, "pgp: internal error: key \"%s\" read as the wrong type\n", key);
		abort();
	}
	memset(v, 0, sizeof(*v));
	if (given) {
		snprintf(where, sizeof(where), "option %s", opt ? opt : key);
		return from_text(conf, l.key, where, given, v) < 0 ? -1 : PGP_CONF_OPTION;
	}
	if (l.env) {
		snprintf(where, sizeof(where), "environment variable %s", l.env_name);
		return from_text(conf, l.key, where, l.env, v) < 0 ? -1 : PGP_CONF_ENV;
	}
	if (l.setting) {
		file_where(l.setting, conf->path, key, where, sizeof(where));
		return from_setting(conf, l.key, where, l.setting, v) < 0 ? -1 : PGP_CONF_FILE;
	}
	if (l.def) {
		snprintf(where, sizeof(where), "the default of key \"%s\"", key);
		return from_text(conf, l.key, where, l.def, v) < 0 ? -1 : PGP_CONF_DEFAULT;
	}
	return PGP_CONF_UNSET;
}

int
pgp_conf_int(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
	     long long *out)
{
	struct value v;
	int src = get_value(conf, key, opt, given, PGP_CONF_INT, PGP_CONF_INT, &v);

	if (src > 0)
		*out = v.n;
	return src;
}

int
pgp_conf_float(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
	       double *out)
{
	struct value v;
	int src = get_value(conf, key, opt, given, PGP_CONF_FLOAT, PGP_CONF_INT, &v);

	if (src > 0)
		*out = v.d;
	return src;
}

int
pgp_conf_bool(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
	      int *out)
{
	struct value v;
	int src = get_value(conf, key, opt, given, PGP_CONF_BOOL, PGP_CONF_BOOL, &v);

	if (src > 0)
		*out = v.b;
	return src;
}

int
pgp_conf_string(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
		const char **out)
{
	struct value v;
	int src = get_value(conf, key, opt, given, PGP_CONF_STRING, PGP_CONF_STRING, &v);

	if (src > 0)
		*out = v.s;
	return src;
}

int
pgp_conf_size(const struct pgp_conf *conf, const char *key, const char *opt, const char *given,
	      unsigned long long *out)
{
	struct value v;
	int src;

	if (must_find(key)->check.kind != PGP_CHECK_SIZE) {
		fprintf(stderr, "pgp: internal error: key \"%s\" is not a size\n", key);
		abort();
	}
	src = get_value(conf, key, opt, given, PGP_CONF_STRING, PGP_CONF_STRING, &v);
	if (src > 0)
		*out = v.bytes;
	return src;
}

/* The getters without a command line: 1 found, 0 unset, -1 bad. */
static int
found(int src)
{
	return src < 0 ? -1 : src > 0;
}

int
pgp_conf_get_string(const struct pgp_conf *conf, const char *key, const char **out)
{
	return found(pgp_conf_string(conf, key, NULL, NULL, out));
}

int
pgp_conf_get_int(const struct pgp_conf *conf, const char *key, long long *out)
{
	return found(pgp_conf_int(conf, key, NULL, NULL, out));
}

int
pgp_conf_get_bool(const struct pgp_conf *conf, const char *key, int *out)
{
	return found(pgp_conf_bool(conf, key, NULL, NULL, out));
}

int
pgp_conf_get_float(const struct pgp_conf *conf, const char *key, double *out)
{
	return found(pgp_conf_float(conf, key, NULL, NULL, out));
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
		*storage = NULL;
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
pgp_conf_list(const struct pgp_conf *conf, const char *key, const char *opt,
	      const char *const *given, const char ***out)
{
	struct lookup l;
	const char *src = NULL;
	char where[700];
	int source;

	look_up(conf, key, &l);
	if (l.key->type != PGP_CONF_LIST) {
		fprintf(stderr, "pgp: internal error: key \"%s\" is not a list\n", key);
		abort();
	}
	if (given && *given) {
		size_t n = 0;
		const char **list;

		snprintf(where, sizeof(where), "option %s", opt ? opt : key);
		while (given[n])
			n++;
		for (size_t i = 0; i < n; i++) {
			struct value e;

			if (check_string(conf, l.key, where, given[i], &e) < 0)
				return -1;
		}
		if (!(list = calloc(n + 1, sizeof(*list))))
			return pgp_fail("out of memory");
		memcpy(list, given, n * sizeof(*list));
		*out = list;
		return PGP_CONF_OPTION;
	}
	if (l.env) {
		snprintf(where, sizeof(where), "environment variable %s", l.env_name);
		if (check_list_text(conf, l.key, where, l.env) < 0)
			return -1;
		src = l.env;
		source = PGP_CONF_ENV;
	} else if (l.setting) {
		int n = config_setting_length(l.setting);
		const char **list;
		struct value v;

		file_where(l.setting, conf->path, key, where, sizeof(where));
		if (from_setting(conf, l.key, where, l.setting, &v) < 0)
			return -1;
		if (!(list = calloc((size_t) n + 1, sizeof(*list))))
			return pgp_fail("out of memory");
		for (int i = 0; i < n; i++)
			list[i] = config_setting_get_string_elem(l.setting, i);
		*out = list;
		return PGP_CONF_FILE;
	} else if (l.def) {
		src = l.def;
		source = PGP_CONF_DEFAULT;
	} else
		return PGP_CONF_UNSET;
	for (size_t i = 0; i < sizeof(env_list_storage) / sizeof(env_list_storage[0]); i++) {
		if (!env_list_storage[i]) {
			*out = split_list(src, &env_list_storage[i]);
			return *out ? source : pgp_fail("out of memory");
		}
	}
	return pgp_fail("too many list settings read from the environment");
}

int
pgp_conf_get_list(const struct pgp_conf *conf, const char *key, const char ***out)
{
	return found(pgp_conf_list(conf, key, NULL, NULL, out));
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

/*
 * Connection strings.  libpq decides what a string means, so pgp asks it
 * (PQconninfoParse) instead of matching text: a URI's user info, a
 * percent-encoded "%70assword" query parameter and any keyword libpq marks
 * secret (dispchar "*": password, sslpassword) are all found the same way.
 */

/* libpq's uri_prefix_length(): the prefixes it reads as a URI. */
static size_t
uri_prefix_len(const char *s)
{
	if (strncmp(s, "postgresql://", 13) == 0)
		return 13;
	if (strncmp(s, "postgres://", 11) == 0)
		return 11;
	return 0;
}

/*
 * libpq's recognized_connection_string(): anything else given as a
 * connection string is a plain database name ("psql mydb").
 */
static int
is_connection_string(const char *s)
{
	return uri_prefix_len(s) != 0 || strchr(s, '=') != NULL;
}

/*
 * Pieces of a string libpq could not parse that may be secret.  libpq's
 * message quotes parts of its input ("invalid percent-encoded token:
 * "hunt%zzer"", or the whole URI), so these are masked in it.  Found by
 * reading the text, since libpq gave up; when in doubt, a piece too many.
 */
#define MAX_SPANS 32
struct spans {
	int n;
	int overflow;
	struct {
		const char *p;
		size_t len;
	} s[MAX_SPANS];
};

static void
add_span(struct spans *sp, const char *p, size_t len)
{
	if (len == 0)
		return;
	if (sp->n == MAX_SPANS) {
		sp->overflow = 1;
		return;
	}
	sp->s[sp->n].p = p;
	sp->s[sp->n++].len = len;
}

/*
 * A URI's password: libpq ends the user info at the first '@' before a
 * '/'; a person who forgot to encode an '@' meant the last one.  Both.
 */
static void
uri_password_spans(const char *uri, struct spans *sp)
{
	const char *start = uri + uri_prefix_len(uri);
	size_t len = strcspn(start, "/");
	const char *first = memchr(start, '@', len);
	const char *last = memrchr(start, '@', len);
	const char *colon;

	if (!first)
		return;
	colon = memchr(start, ':', (size_t) (last - start));
	if (!colon)
		return;
	if (colon < first)
		add_span(sp, colon + 1, (size_t) (first - colon - 1));
	add_span(sp, colon + 1, (size_t) (last - colon - 1));
}

/*
 * Every value of a URI's query: a keyword may be percent-encoded
 * ("%70assword"), so all of them, which costs only detail in a message.
 */
static void
query_spans(const char *uri, struct spans *sp)
{
	const char *q = strchr(uri, '?');

	while (q) {
		const char *end = q + 1 + strcspn(q + 1, "&");
		const char *eq = memchr(q + 1, '=', (size_t) (end - q - 1));

		if (eq)
			add_span(sp, eq + 1, (size_t) (end - eq - 1));
		q = *end ? end : NULL;
	}
}

/*
 * The value after "KEYWORD =" at q in a keyword/value string: quoted, or
 * each word up to the next "key=", since a forgotten pair of quotes turns
 * the rest of a password into keywords that libpq's message would name.
 */
static void
value_spans(const char *q, struct spans *sp)
{
	const char *w = q;

	if (*q == '\'') {
		for (w = ++q; *w && *w != '\''; w++)
			if (*w == '\\' && w[1])
				w++;
		add_span(sp, q, (size_t) (w - q));
		return;
	}
	while (*w) {
		size_t len = strcspn(w, " \t\n\r\f\v");

		if (w != q && memchr(w, '=', len))
			break;
		add_span(sp, w, len);
		w += len;
		w += strspn(w, " \t\n\r\f\v");
	}
}

/* Every "KEYWORD = value" of a secret keyword in a keyword/value string. */
static void
keyword_spans(const char *s, const char *keyword, struct spans *sp)
{
	size_t klen = strlen(keyword);

	for (const char *p = strstr(s, keyword); p; p = strstr(p + 1, keyword)) {
		const char *q = p + klen;

		if (p != s && !isspace((unsigned char) p[-1]))
			continue;
		q += strspn(q, " \t\n\r\f\v");
		if (*q != '=')
			continue;
		q++;
		value_spans(q + strspn(q, " \t\n\r\f\v"), sp);
	}
}

/* Copy libpq's message (its first line) with every span masked. */
static void
mask_copy(const char *msg, const struct spans *sp, char *buf, size_t size)
{
	size_t len = strcspn(msg, "\n"), o = 0;

	for (size_t i = 0; i < len && o + 4 < size;) {
		size_t best = 0;

		for (int k = 0; k < sp->n; k++)
			if (sp->s[k].len > best && sp->s[k].len <= len - i &&
			    memcmp(msg + i, sp->s[k].p, sp->s[k].len) == 0)
				best = sp->s[k].len;
		if (best) {
			memcpy(buf + o, "***", 3);
			o += 3;
			i += best;
		} else
			buf[o++] = msg[i++];
	}
	buf[o] = '\0';
}

/* libpq's reason a string does not parse, with secrets masked. */
static void
describe_error(const char *conninfo, const char *msg, char *buf, size_t size)
{
	PQconninfoOption *all = NULL;
	struct spans sp;

	sp.n = sp.overflow = 0;
	if (uri_prefix_len(conninfo)) {
		uri_password_spans(conninfo, &sp);
		query_spans(conninfo, &sp);
	} else {
		/* The empty string parses: every option libpq knows, unset. */
		all = PQconninfoParse("", NULL);
		for (PQconninfoOption *o = all; o && o->keyword; o++)
			if (o->dispchar && o->dispchar[0] == '*')
				keyword_spans(conninfo, o->keyword, &sp);
		sp.overflow |= !all;
	}
	if (!msg || sp.overflow)
		snprintf(buf, size, "cannot be parsed (libpq's message withheld: it may quote a secret)");
	else
		mask_copy(msg, &sp, buf, size);
	PQconninfoFree(all);
}

int
pgp_conf_check_conninfo(const char *conninfo, char *buf, size_t size)
{
	char *err = NULL;
	PQconninfoOption *opts;
	int rc = 0;

	buf[0] = '\0';
	if (!is_connection_string(conninfo))
		return 0;
	opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		describe_error(conninfo, err, buf, size);
		PQfreemem(err);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
		if (o->dispchar && o->dispchar[0] == '*' && o->val && *o->val) {
			snprintf(buf, size, "%s", o->keyword);
			rc = 1;
		}
	}
	PQconninfoFree(opts);
	return rc;
}
