/*
 * Config loading: errors name file, line and key; types; secrets; the
 * environment > file > default precedence; targets; connection strings
 * checked as libpq reads them; only regular files read; every key's rule
 * (range, words, duration, size, text) from the file, the environment and
 * the command line.
 */
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "tap.h"
#include "testutil.h"

static char *dir;

/* Load path; return rc, and stderr's text folded onto one line in errbuf. */
static int
load_path(const char *path, struct pgp_conf **conf, char *errbuf, size_t errsize)
{
	char errpath[512];
	int saved = dup(2), rc;
	FILE *ef;
	size_t n;

	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	ef = fopen(errpath, "w+");
	dup2(fileno(ef), 2);
	rc = pgp_conf_load(path, 1, conf);
	dup2(saved, 2);
	close(saved);
	rewind(ef);
	n = fread(errbuf, 1, errsize - 1, ef);
	/* One TAP line per result: fold the message onto one line. */
	while (n > 0 && errbuf[n - 1] == '\n')
		n--;
	errbuf[n] = '\0';
	for (char *c = errbuf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	fclose(ef);
	return rc;
}

/* Load text as a config file dir/pgp.conf of the given mode. */
static int
load_text(const char *text, mode_t mode, struct pgp_conf **conf, char *errbuf, size_t errsize)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/pgp.conf", dir);
	put_file(dir, "pgp.conf", text);
	chmod(path, mode);
	return load_path(path, conf, errbuf, errsize);
}

/* Does err start with "pgp-test: error: DIR/pgp.conf" followed by rest? */
static int
starts(const char *err, const char *rest)
{
	char want[1024];

	snprintf(want, sizeof(want), "pgp-test: error: %s/pgp.conf%s", dir, rest);
	return strncmp(err, want, strlen(want)) == 0;
}

/*
 * Every key of conf_keys.def against its rule, from the file and from the
 * environment: too low, too high, not a number, a wrong word, a bad text,
 * the wrong type, and a valid value accepted and returned.  A key whose
 * check has no case here fails the test, so a new rule brings its test.
 */

/* Samples for the TEXT checks: one value refused, one accepted. */
static const struct {
	const char *key, *bad, *good;
} text_samples[] = {
	{"alert.notify", "pager", "slack"},
	{"alert.alertmanager_url", "localhost:9093", "http://127.0.0.1:9093"},
	{"create.allow", "10.0.0.0/33", "10.0.0.0/8"},
	{"create.allow", "10.0.0.1", "::1/128"},
	{"create.allow", "all", "192.168.1.0/24"},
	{"create.extensions", "pg trgm", "uuid-ossp"},
	{"create.optional_extensions", "x;drop", "pg_stat_statements"},
	{"create.os_user", "Post gres", "postgres"},
	{"create.role_prefix", "1shop", "shop_app"},
	{"create.role_prefix", "Shop", "_shop"},
	{"backup.s3_endpoint", "localhost:9000", "http://127.0.0.1:9000"},
	{"backup.s3_endpoint", "ftp://x", "https://s3.example.com"},
	{"backup.s3_region", "US East", "eu-west-1"},
	{"programs.pg_bindir", "bin", "/usr/lib/postgresql/15/bin"},
	{"programs.pg_bindir", "./bin", "/opt/pg/bin"},
	{"programs.pgbouncer", "sbin/pgbouncer", "/usr/sbin/pgbouncer"},
	{"programs.pgbouncer", "./pgbouncer", "pgbouncer"},
	{"backup.pg_bindir", "pg/bin", "/usr/lib/postgresql/16/bin"},
	{"backup.cluster", "a/b", "prod-1"},
	{"backup.cluster", ".hidden", "6936142312931462000"},
	{"backup.spool_dir", "spool", "/var/lib/pgp/spool"},
	{"backup.encrypt_recipients", "age1notakey", "age1q88x7gud2j74ag4tpl54pfuqu9rsesn0y24slau0a70m3wl389ssy6mmgk"},
	{"backup.encrypt_recipients", "age1qqqq", "/etc/pgp/backup-recipients.txt"},
};

struct key_case {
	const char *file_value;		/* libconfig syntax; NULL: no file form */
	const char *env_value;		/* NULL: no environment form */
	const char *want;		/* in the message; NULL: the value must be accepted */
};

/* Load SECTION = { LEAF = VALUE; } (line 2) for key; the message in err. */
static int
load_key(const struct pgp_conf_key *k, const char *value, struct pgp_conf **conf, char *err, size_t size)
{
	char text[2048], path[256], *parts[16], *save = NULL;
	size_t at = 0;
	int n = 0;

	/* The groups on line 1, the key on line 2 (the line messages name), every
	 * "*" a name "t"; a target gets the conninfo it needs. */
	snprintf(path, sizeof(path), "%s", k->path);
	for (char *p = strtok_r(path, ".", &save); p && n < 16; p = strtok_r(NULL, ".", &save))
		parts[n++] = !strcmp(p, "*") ? (char *) "t" : p;
	for (int i = 0; i < n - 1; i++)
		at += (size_t) snprintf(text + at, sizeof(text) - at, "%s = { ", parts[i]);
	at += (size_t) snprintf(text + at, sizeof(text) - at, "\n  %s = %s;\n", parts[n - 1], value);
	for (int i = n - 2; i >= 0; i--) {
		int target = i == 1 && !strcmp(parts[0], "targets") && strcmp(k->path, "targets.*.conninfo");

		at += (size_t) snprintf(text + at, sizeof(text) - at, "%s}; ", target ? "conninfo = \"host=/tmp\"; " : "");
	}
	snprintf(text + at, sizeof(text) - at, "\n");
	return load_text(text, 0600, conf, err, size);
}

static int
load_env(const struct pgp_conf_key *k, const char *value, struct pgp_conf **conf, char *err, size_t size)
{
	char name[128];
	int rc;

	pgp_conf_env_name(k->path, name, sizeof(name));
	setenv(name, value, 1);
	rc = load_text("", 0600, conf, err, size);
	unsetenv(name);
	return rc;
}

/* One case from the file and from the environment. */
static void
try_case(const struct pgp_conf_key *k, const struct key_case *c, const char *allowed)
{
	struct pgp_conf *conf = NULL;
	char err[2048], want[1024], name[128], shown[128];
	int rc;

	/* A target's keys are tried in the target "t". */
	snprintf(shown, sizeof(shown), "%s", k->path);
	for (char *p = shown; *p; p++)
		if (*p == '*')
			*p = 't';
	rc = c->file_value ? load_key(k, c->file_value, &conf, err, sizeof(err)) : 0;
	if (c->file_value && c->want) {
		snprintf(want, sizeof(want), ":2: key \"%s\"", shown);
		ok(rc == -1 && starts(err, want) && strstr(err, c->want) &&
		   (!*allowed || strstr(err, allowed) || strstr(c->want, "must be")),
		   "%s = %s in the file: refused with line, key, %s and the allowed values: %s",
		   k->path, c->file_value, c->want, err);
	} else if (c->file_value)
		ok(rc == 0 && !*err, "%s = %s in the file: accepted %s", k->path, c->file_value, err);
	pgp_conf_free(conf);
	conf = NULL;
	if (!c->env_value || strchr(k->path, '*'))
		return;
	pgp_conf_env_name(k->path, name, sizeof(name));
	rc = load_env(k, c->env_value, &conf, err, sizeof(err));
	if (c->want && strstr(c->want, "must be")) {
		pgp_conf_free(conf);
		return;		/* a type error exists only in the file */
	}
	if (c->want) {
		snprintf(want, sizeof(want), "pgp-test: error: environment variable %s is ", name);
		ok(rc == -1 && strncmp(err, want, strlen(want)) == 0 && strstr(err, c->want) &&
		   (!*allowed || strstr(err, allowed)),
		   "%s=%s: refused naming the variable, %s and the allowed values: %s", name, c->env_value,
		   c->want, err);
	} else
		ok(rc == 0 && !*err, "%s=%s: accepted %s", name, c->env_value, err);
	pgp_conf_free(conf);
}

/* After an accepted value, the getter returns it with its source. */
static void
check_returned(const struct pgp_conf_key *k, const char *file_value, const char *env_value)
{
	struct pgp_conf *conf = NULL;
	char err[2048], name[128];
	long long n = 0;
	double d = 0;
	const char *s = NULL;
	int src_file = -9, src_env = -9;

	if (strchr(k->path, '*'))
		return;
	pgp_conf_env_name(k->path, name, sizeof(name));
	load_key(k, file_value, &conf, err, sizeof(err));
	switch (k->type) {
	case PGP_CONF_INT:
		src_file = pgp_conf_int(conf, k->path, NULL, NULL, &n);
		setenv(name, env_value, 1);
		src_env = pgp_conf_int(conf, k->path, NULL, NULL, &n);
		ok(n == strtoll(env_value, NULL, 10), "%s: the environment's %lld returned", k->path, n);
		break;
	case PGP_CONF_FLOAT:
		src_file = pgp_conf_float(conf, k->path, NULL, NULL, &d);
		setenv(name, env_value, 1);
		src_env = pgp_conf_float(conf, k->path, NULL, NULL, &d);
		ok(d == strtod(env_value, NULL), "%s: the environment's %g returned", k->path, d);
		break;
	case PGP_CONF_STRING:
		src_file = pgp_conf_string(conf, k->path, NULL, NULL, &s);
		setenv(name, env_value, 1);
		src_env = pgp_conf_string(conf, k->path, NULL, NULL, &s);
		ok(s && strcasecmp(s, env_value) == 0, "%s: the environment's \"%s\" returned", k->path, s);
		break;
	default:
		setenv(name, env_value, 1);
		src_file = PGP_CONF_FILE;
		src_env = PGP_CONF_ENV;
	}
	unsetenv(name);
	ok(src_file == PGP_CONF_FILE && src_env == PGP_CONF_ENV, "%s: sources file then environment (%d, %d)",
	   k->path, src_file, src_env);
	pgp_conf_free(conf);
}

static void
test_every_key(void)
{
	int nkeys, untested = 0;
	const struct pgp_conf_key *keys = pgp_conf_keys(&nkeys);
	struct pgp_conf *empty = NULL;

	ok(load_text("", 0600, &empty, (char[256]) {0}, 256) == 0, "an empty file loads");
	for (int i = 0; i < nkeys; i++) {
		const struct pgp_conf_key *k = &keys[i];
		const struct pgp_conf_check *c = &k->check;
		char allowed[512], lo[64], hi[64], lo1[64], hi1[64], flo[64], fhi[64];
		long long l = c->lo, h = c->hi;
		int samples = 0;

		pgp_conf_allowed(empty, k, allowed, sizeof(allowed));
		if (c->kind == PGP_CHECK_RANGE_BY) {
			c->range(empty, &l, &h);
			ok(strstr(allowed, "for ") != NULL, "%s: the allowed range says what it depends on: %s",
			   k->path, allowed);
		}
		/* Defaults keep their own rule. */
		if (k->default_value && !strchr(k->path, '*')) {
			long long n;
			double d;
			const char *s;
			const char **list = NULL;
			int b, src = k->type == PGP_CONF_INT ? pgp_conf_int(empty, k->path, NULL, NULL, &n)
				: k->type == PGP_CONF_FLOAT ? pgp_conf_float(empty, k->path, NULL, NULL, &d)
				: k->type == PGP_CONF_BOOL ? pgp_conf_bool(empty, k->path, NULL, NULL, &b)
				: k->type == PGP_CONF_STRING ? pgp_conf_string(empty, k->path, NULL, NULL, &s)
				: pgp_conf_list(empty, k->path, NULL, NULL, &list);

			free(list);
			is_int(src, PGP_CONF_DEFAULT, "%s: its default \"%s\" keeps its rule", k->path, k->default_value);
		}
		snprintf(lo, sizeof(lo), "%lld", l);
		snprintf(hi, sizeof(hi), "%lld", h);
		snprintf(lo1, sizeof(lo1), "%lld", l - 1);
		snprintf(hi1, sizeof(hi1), "%lld", h + 1);
		switch (k->type) {
		case PGP_CONF_INT:
			if (c->kind != PGP_CHECK_RANGE && c->kind != PGP_CHECK_RANGE_BY) {
				ok(0, "%s: an integer key without a range", k->path);
				break;
			}
			try_case(k, &(struct key_case) {lo1, lo1, "out of range"}, allowed);
			try_case(k, &(struct key_case) {hi1, hi1, "out of range"}, allowed);
			try_case(k, &(struct key_case) {"\"abc\"", "abc", "must be an integer"}, allowed);
			try_case(k, &(struct key_case) {NULL, "abc", "not an integer"}, allowed);
			try_case(k, &(struct key_case) {NULL, "12x", "not an integer"}, allowed);
			try_case(k, &(struct key_case) {lo, lo, NULL}, allowed);
			try_case(k, &(struct key_case) {hi, hi, NULL}, allowed);
			check_returned(k, lo, hi);
			break;
		case PGP_CONF_FLOAT:
			if (c->kind != PGP_CHECK_RANGE) {
				ok(0, "%s: a number key without a range", k->path);
				break;
			}
			snprintf(flo, sizeof(flo), "%.17g", (double) l - 0.5);
			snprintf(fhi, sizeof(fhi), "%.17g", (double) h + 0.5);
			try_case(k, &(struct key_case) {flo, flo, "out of range"}, allowed);
			try_case(k, &(struct key_case) {fhi, fhi, "out of range"}, allowed);
			try_case(k, &(struct key_case) {"\"abc\"", "abc", "must be a number"}, allowed);
			try_case(k, &(struct key_case) {NULL, "abc", "not a number"}, allowed);
			try_case(k, &(struct key_case) {NULL, "nan", "not a number"}, allowed);
			try_case(k, &(struct key_case) {"2.5", "2.5", NULL}, allowed);
			/* in the file as a float literal: libconfig's integers are 32 bits */
			snprintf(fhi, sizeof(fhi), "%s%s", hi, strpbrk(hi, ".eE") ? "" : ".0");
			try_case(k, &(struct key_case) {fhi, hi, NULL}, allowed);
			check_returned(k, "2.5", lo);
			break;
		case PGP_CONF_BOOL:
			try_case(k, &(struct key_case) {"\"maybe\"", "maybe", "must be true or false"}, allowed);
			try_case(k, &(struct key_case) {NULL, "maybe", "not true or false"}, "true or false");
			try_case(k, &(struct key_case) {"true", "off", NULL}, allowed);
			check_returned(k, "true", "off");
			break;
		case PGP_CONF_STRING:
		case PGP_CONF_LIST: {
			int list = k->type == PGP_CONF_LIST;
			char fv[256], upper[64];

#define FILEV(v) (snprintf(fv, sizeof(fv), list ? "[ \"%s\" ]" : "\"%s\"", v), fv)
			try_case(k, &(struct key_case) {list ? "[ 5 ]" : "5", NULL,
							 list ? "must be a list of strings" : "must be a string"},
				 allowed);
			switch (c->kind) {
			case PGP_CHECK_ANY:
				try_case(k, &(struct key_case) {"\"host=/tmp\"", "anything at all", NULL}, allowed);
				break;
			case PGP_CHECK_WORDS:
				try_case(k, &(struct key_case) {FILEV("nonsense"), "nonsense", "\"nonsense\""}, allowed);
				try_case(k, &(struct key_case) {list ? "[ \"\" ]" : "\"\"", NULL,
								 list ? "\"\"" : NULL}, allowed);
				for (const char *const *w = c->words; *w; w++)
					try_case(k, &(struct key_case) {FILEV(*w), *w, NULL}, allowed);
				snprintf(upper, sizeof(upper), "%s", c->words[0]);
				for (char *p = upper; *p; p++)
					*p = (char) toupper((unsigned char) *p);
				try_case(k, &(struct key_case) {FILEV(upper), upper, NULL}, allowed);
				check_returned(k, FILEV(c->words[0]), c->words[1]);
				{
					struct pgp_conf *conf = NULL;
					const char *s = NULL;
					char err[512];

					load_key(k, FILEV(upper), &conf, err, sizeof(err));
					pgp_conf_string(conf, k->path, NULL, NULL, &s);
					is_str(s, c->words[0], "%s: \"%s\" is returned as the table's word", k->path, upper);
					pgp_conf_free(conf);
				}
				break;
			case PGP_CHECK_DURATION:
				snprintf(hi1, sizeof(hi1), "%lldms", h + 1);
				try_case(k, &(struct key_case) {FILEV("30x"), "30x", "not a duration"}, allowed);
				try_case(k, &(struct key_case) {FILEV("30S"), "30S", "not a duration"}, allowed);
				try_case(k, &(struct key_case) {FILEV("abc"), "abc", "not a duration"}, allowed);
				try_case(k, &(struct key_case) {FILEV("-1s"), "-1s", "out of range"}, allowed);
				try_case(k, &(struct key_case) {FILEV(hi1), hi1, "out of range"}, allowed);
				try_case(k, &(struct key_case) {FILEV("25d"), "25d", "out of range"}, allowed);
				try_case(k, &(struct key_case) {FILEV("30s"), "5 min", NULL}, allowed);
				try_case(k, &(struct key_case) {FILEV("0"), "250", NULL}, allowed);
				try_case(k, &(struct key_case) {FILEV("1.5h"), "100us", NULL}, allowed);
				check_returned(k, FILEV("30s"), "2min");
				break;
			case PGP_CHECK_SIZE:
				try_case(k, &(struct key_case) {FILEV("255MB"), "255MB", "out of range"}, allowed);
				try_case(k, &(struct key_case) {FILEV("65TB"), "65TB", "out of range"}, allowed);
				try_case(k, &(struct key_case) {FILEV("lots"), "lots", "not a size"}, allowed);
				try_case(k, &(struct key_case) {FILEV("8 parsecs"), "8 parsecs", "not a size"}, allowed);
				try_case(k, &(struct key_case) {FILEV("8GB"), "512MB", NULL}, allowed);
				check_returned(k, FILEV("8GB"), "16GB");
				break;
			case PGP_CHECK_TEXT:
				for (size_t t = 0; t < sizeof(text_samples) / sizeof(text_samples[0]); t++) {
					char want[300], env[300];

					if (strcmp(text_samples[t].key, k->path) != 0)
						continue;
					samples++;
					snprintf(want, sizeof(want), "\"%s\"", text_samples[t].bad);
					try_case(k, &(struct key_case) {FILEV(text_samples[t].bad), text_samples[t].bad, want},
						 allowed);
					try_case(k, &(struct key_case) {FILEV(text_samples[t].good), text_samples[t].good,
									NULL}, allowed);
					if (list) {
						/* Each element of a list counts, from the file and the environment. */
						snprintf(fv, sizeof(fv), "[ \"%s\", \"%s\" ]", text_samples[t].good,
							 text_samples[t].bad);
						snprintf(env, sizeof(env), "%s, %s", text_samples[t].good, text_samples[t].bad);
						try_case(k, &(struct key_case) {fv, env, want}, allowed);
					} else
						check_returned(k, FILEV(text_samples[t].good), text_samples[t].good);
				}
				ok(samples > 0, "%s: its TEXT check has samples in this test", k->path);
				break;
			default:
				ok(0, "%s: a string key with a numeric check", k->path);
			}
#undef FILEV
			break;
		}
		}
		untested += k->type == PGP_CONF_INT && c->kind == PGP_CHECK_ANY;
	}
	is_int(untested, 0, "every integer key has a range");
	pgp_conf_free(empty);
}

/* The command line through the same getter: its rule, its name, its precedence. */
static void
test_given(void)
{
	struct pgp_conf *conf = NULL;
	char err[2048];
	long long n = -7;
	const char *s;
	int rc, saved, src;
	FILE *ef;

	load_text("backup = {\n  keep_last = 3;\n};\n", 0600, &conf, err, sizeof(err));
	setenv("PGP_BACKUP_KEEP_LAST", "5", 1);
	src = pgp_conf_int(conf, "backup.keep_last", "--keep-last", "7", &n);
	ok(src == PGP_CONF_OPTION && n == 7, "an option beats the environment and the file");
	src = pgp_conf_int(conf, "backup.keep_last", "--keep-last", NULL, &n);
	ok(src == PGP_CONF_ENV && n == 5, "the environment beats the file");
	unsetenv("PGP_BACKUP_KEEP_LAST");
	src = pgp_conf_int(conf, "backup.keep_last", "--keep-last", NULL, &n);
	ok(src == PGP_CONF_FILE && n == 3, "the file beats the default");
	src = pgp_conf_int(conf, "backup.keep_daily", "--keep-daily", NULL, &n);
	ok(src == PGP_CONF_DEFAULT && n == 7, "else the default");
	src = pgp_conf_int(conf, "tune.cpus", "--cpus", NULL, &n);
	is_int(src, PGP_CONF_UNSET, "a key without default and value is unset");

	saved = dup(2);
	ef = tmpfile();
	dup2(fileno(ef), 2);
	n = -7;
	rc = pgp_conf_int(conf, "backup.keep_last", "--keep-last", "abc", &n);
	rc += pgp_conf_int(conf, "backup.compress_level", "--compress-level", "42", &n);
	rc += pgp_conf_string(conf, "tune.workload", "--workload", "batch", &s);
	dup2(saved, 2);
	close(saved);
	rewind(ef);
	err[fread(err, 1, sizeof(err) - 1, ef)] = '\0';
	fclose(ef);
	is_int(rc, -3, "bad option values are errors");
	is_int(n, -7, "and nothing is stored");
	ok(strstr(err, "option --keep-last is \"abc\", not an integer (allowed: 0..100000)") != NULL,
	   "an option's message names it and the range: %s", err);
	ok(strstr(err, "option --compress-level is 42, out of range (allowed: -7..19 for zstd)") != NULL,
	   "a level out of range: the range of the compressor (zstd by default)");
	ok(strstr(err, "option --workload is \"batch\" (allowed: web, oltp, dw, desktop, mixed)") != NULL,
	   "a word not allowed: the words");
	pgp_conf_free(conf);
}

/* key = "" (as the sample config shows an unset key) and PGP_KEY= are unset. */
static void
test_empty(void)
{
	struct pgp_conf *conf = NULL;
	char err[1024];
	const char *s = "x";
	int rc;

	rc = load_text("create = {\n  os_user = \"\";\n  role_prefix = \"\";\n  pooler = \"\";\n};\n"
		       "backup = { s3_endpoint = \"\"; };\ntune = { memory = \"\"; storage = \"\"; };\n",
		       0600, &conf, err, sizeof(err));
	ok(rc == 0 && !*err, "empty strings load: %s", err);
	ok(pgp_conf_string(conf, "create.os_user", NULL, NULL, &s) == PGP_CONF_DEFAULT && !strcmp(s, "postgres"),
	   "an empty string in the file gives the default");
	is_int(pgp_conf_string(conf, "backup.s3_endpoint", NULL, NULL, &s), PGP_CONF_UNSET,
	       "and a key without default is unset");
	setenv("PGP_CREATE_POOLER", "", 1);
	is_int(pgp_conf_string(conf, "create.pooler", NULL, NULL, &s), PGP_CONF_DEFAULT, "so is an empty variable");
	unsetenv("PGP_CREATE_POOLER");
	pgp_conf_free(conf);
}

static void
test_duration(void)
{
	double ms = -1;

	ok(pgp_conf_parse_duration("30s", &ms) == 0 && ms == 30000, "30s is 30000ms");
	ok(pgp_conf_parse_duration(" 5 min ", &ms) == 0 && ms == 300000, "5 min with spaces");
	ok(pgp_conf_parse_duration("250", &ms) == 0 && ms == 250, "no unit: ms");
	ok(pgp_conf_parse_duration("1.5h", &ms) == 0 && ms == 5400000, "fractions");
	ok(pgp_conf_parse_duration("1d", &ms) == 0 && ms == 86400000, "days");
	ok(pgp_conf_parse_duration("30S", &ms) == -1, "units are case-sensitive, as in PostgreSQL");
	ok(pgp_conf_parse_duration("s", &ms) == -1, "a unit alone is no duration");
	ok(pgp_conf_parse_duration("0x10", &ms) == -1, "no hexadecimal");
	ok(pgp_conf_parse_duration("inf", &ms) == -1, "no infinity");
	ok(pgp_conf_parse_duration("10 s x", &ms) == -1, "nothing after the unit");
}

/* pgp_conf_check_conninfo: libpq's reading, secrets found and masked. */
static void
test_check_conninfo(void)
{
	static const struct {
		const char *conninfo;
		int rc;
		const char *buf;
	} cases[] = {
		{"", 0, ""},
		{"mydb", 0, ""},	/* no "=": a database name, as for psql */
		{"this is not a conninfo", 0, ""},
		{"host=db user=password_admin dbname=password", 0, ""},
		{"postgresql://u@h/db", 0, ""},
		{"host=db password=hunter2", 1, "password"},
		{"host=db password = 'hunter 2'", 1, "password"},
		{"host=db sslpassword=hunter2", 1, "sslpassword"},
		{"postgresql://u:hunter2@h/db", 1, "password"},
		{"postgres://u:hunter2@h/db", 1, "password"},
		{"postgresql://u:hun%74er2@h/db", 1, "password"},
		{"postgresql://h/db?%70assword=hunter2", 1, "password"},
		{"postgresql://h/db?sslpassword=hunter2", 1, "sslpassword"},
		{"postgresql://u:@h/db", 0, ""},	/* an empty password is none */
		{"bogus=1", -1, "invalid connection option \"bogus\""},
		{"host='unterminated", -1, "unterminated quoted string in connection info string"},
		{"postgresql://h/db?bogus=1", -1, "invalid URI query parameter: \"bogus\""},
		{"postgresql://h/db?x", -1, "missing key/value separator \"=\" in URI query parameter: \"x\""},
		/* libpq's messages quote the input: the secret must not pass. */
		{"postgresql://u:hunt%zzer2@h/db", -1, "invalid percent-encoded token: \"***\""},
		{"postgresql://u:hunter2@[::1/db", -1,
		 "end of string reached when looking for matching \"]\" in IPv6 host address"
		 " in URI: \"postgresql://u:***@[::1/db\""},
		{"postgresql://h/db?%70assword=hunt%zzer2", -1, "invalid percent-encoded token: \"***\""},
		{"host=db password=hunter 2", -1, "missing \"=\" after \"***\" in connection info string"},
		{"host=db password='hunter2' hunter3", -1,
		 "missing \"=\" after \"hunter3\" in connection info string"},
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = pgp_conf_check_conninfo(cases[i].conninfo, buf, sizeof(buf));

		ok(rc == cases[i].rc && strcmp(buf, cases[i].buf) == 0,
		   "check_conninfo \"%s\": %d \"%s\"", cases[i].conninfo, rc, buf);
	}
	ok(pgp_conf_check_conninfo("postgresql://u:s3cr%zzt@h/db", buf, sizeof(buf)) == -1 &&
	   !strstr(buf, "s3cr"), "no part of a URI's password in the message: %s", buf);
}

/* A secret in a shared file is refused, found by libpq's reading. */
static void
test_secrets(void)
{
	static const char *const secret[] = {
		"host=db password=hunter2",
		"postgresql://u:hunter2@h/db",
		"postgres://u:hunter2@h/db",
		"postgresql://u:hun%74er2@h/db",
		"postgresql://h/db?%70assword=hunter2",
		"host=db sslpassword=hunter2",
	};
	struct pgp_conf *conf;
	char text[512], err[2048];
	int rc;

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		snprintf(text, sizeof(text), "targets = {\n prod = { conninfo = \"%s\"; };\n};\n", secret[i]);
		rc = load_text(text, 0644, &conf, err, sizeof(err));
		is_int(rc, -1, "0644 with conninfo \"%s\" refused", secret[i]);
		ok(starts(err, ":2: key \"targets.prod.conninfo\" holds a secret (") &&
		   strstr(err, "password) but the file is readable by group or others (mode 0644)") &&
		   !strstr(err, "hunter2") && !strstr(err, "hun%74er2"),
		   "names file, line and key, not the secret: %s", err);
		pgp_conf_free(conf);
		rc = load_text(text, 0600, &conf, err, sizeof(err));
		ok(rc == 0 && !*err, "the same file at 0600 loads: %s", err);
		pgp_conf_free(conf);
	}
	rc = load_text("targets = {\n a = { conninfo = \"postgresql://u@h/db\"; };\n"
		       " b = { conninfo = \"host=db user=password_admin dbname=password\"; };\n};\n",
		       0644, &conf, err, sizeof(err));
	ok(rc == 0 && !*err, "no secret at 0644: a URI without password, \"password\" as a value: %s", err);
	pgp_conf_free(conf);
}

/* A target's conninfo that libpq cannot parse: file, line, key, reason. */
static void
test_invalid_conninfo(void)
{
	static const struct {
		const char *conninfo, *reason;
	} cases[] = {
		{"bogus=1", "invalid connection option \\\"bogus\\\""},
		{"host='unterminated", "unterminated quoted string in connection info string"},
		{"postgresql://u:hunter2@h/db?bogus=1", "invalid URI query parameter: \\\"bogus\\\""},
		{"postgresql://u:hunt%zzer2@h/db", "invalid percent-encoded token: \\\"***\\\""},
	};
	struct pgp_conf *conf;
	char text[512], want[512], err[2048];
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "targets = {\n  x = { conninfo = \"host=a\"; };\n"
			 "  prod = {\n    conninfo = \"%s\";\n  };\n};\n", cases[i].conninfo);
		rc = load_text(text, 0600, &conf, err, sizeof(err));
		/* The test's strings are C-escaped for the file; unescape. */
		snprintf(want, sizeof(want), ":4: key \"targets.prod.conninfo\": %s", cases[i].reason);
		for (char *r = want, *w = want; (*w = *r); r++, w++)
			if (r[0] == '\\' && r[1] == '"')
				*w = *++r;
		ok(rc == -1 && starts(err, want) && !strstr(err, "hunter2") && !strstr(err, "hunt%zz"),
		   "conninfo \"%s\" refused with line 4: %s", cases[i].conninfo, err);
		pgp_conf_free(conf);
	}
}

/* Only a regular file (or /dev/null) is read: no "Success", no hang. */
static void
test_file_kinds(void)
{
	struct pgp_conf *conf;
	char path[512], want[1024], err[2048];
	int rc;

	rc = load_path(dir, &conf, err, sizeof(err));
	snprintf(want, sizeof(want), "pgp-test: error: cannot read configuration file \"%s\": is a directory", dir);
	ok(rc == -1 && strcmp(err, want) == 0, "a directory: %s", err);
	pgp_conf_free(conf);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	mkfifo(path, 0600);
	rc = load_path(path, &conf, err, sizeof(err));
	snprintf(want, sizeof(want), "pgp-test: error: cannot read configuration file \"%s\": not a regular file", path);
	ok(rc == -1 && strcmp(err, want) == 0, "a FIFO, without waiting for a writer: %s", err);
	pgp_conf_free(conf);

	rc = load_path("/dev/zero", &conf, err, sizeof(err));
	ok(rc == -1 && strcmp(err, "pgp-test: error: cannot read configuration file \"/dev/zero\": "
			      "not a regular file") == 0, "/dev/zero, without reading forever: %s", err);
	pgp_conf_free(conf);

	rc = load_path("/dev/null", &conf, err, sizeof(err));
	ok(rc == 0 && !*err && pgp_conf_file(conf) && strcmp(pgp_conf_file(conf), "/dev/null") == 0,
	   "/dev/null is an empty configuration: %s", err);
	pgp_conf_free(conf);

	rc = load_text("", 0644, &conf, err, sizeof(err));
	ok(rc == 0 && !*err, "an empty file is an empty configuration: %s", err);
	pgp_conf_free(conf);

	snprintf(path, sizeof(path), "%s/none.conf", dir);
	rc = load_path(path, &conf, err, sizeof(err));
	snprintf(want, sizeof(want), "pgp-test: error: cannot read configuration file \"%s\": "
		 "No such file or directory", path);
	ok(rc == -1 && strcmp(err, want) == 0, "a missing named file: %s", err);
	pgp_conf_free(conf);
}

/* An input AFL++ found, in tests/fuzz/repro (tests/run sets PGP_SRC). */
static const char *
repro(const char *name)
{
	static char path[1024];
	const char *src = getenv("PGP_SRC");

	snprintf(path, sizeof(path), "%s/tests/fuzz/repro/%s", src && *src ? src : ".", name);
	return path;
}

/*
 * A key path longer than validate()'s buffer is refused, never matched cut
 * short (AFL++: tests/fuzz/repro/conf-path-truncation.conf).  Target names
 * of 494 characters make "targets.NAME.conninfo" exactly 511 bytes, the
 * most the buffer holds, and "targets.NAME.conninfo_typo" 516.
 */
static void
test_long_paths(void)
{
	struct pgp_conf *conf = NULL;
	char name[700], text[2048], err[2048];
	int rc;

	memset(name, 'a', 494);
	name[494] = '\0';
	snprintf(text, sizeof(text), "targets = {\n  %s = {\n    conninfo = \"host=db\";\n"
		 "    conninfo_typo = \"anything\";\n  };\n};\n", name);
	rc = load_text(text, 0600, &conf, err, sizeof(err));
	ok(rc == -1 && starts(err, ":4: key path too long (516 bytes, at most 511)"),
	   "a typo'd key whose path is cut to a known one is refused at its line: %s", err);
	pgp_conf_free(conf);

	snprintf(text, sizeof(text), "targets = {\n  %s = {\n    conninfo = \"host=db\";\n  };\n};\n", name);
	rc = load_text(text, 0600, &conf, err, sizeof(err));
	ok(rc == 0 && !*err, "the same target with a path of exactly 511 bytes loads: %s", err);
	pgp_conf_free(conf);

	memset(name, 'b', 600);
	name[600] = '\0';
	snprintf(text, sizeof(text), "targets = {\n  %s = { conninfo = \"host=db\"; };\n};\n", name);
	rc = load_text(text, 0600, &conf, err, sizeof(err));
	ok(rc == -1 && starts(err, ":2: key path too long (608 bytes, at most 511)"),
	   "a section whose path does not fit is refused: %s", err);
	pgp_conf_free(conf);

	/* The repro file itself, as the fuzzer found it. */
	rc = load_path(repro("conf-path-truncation.conf"), &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "key path too long") && strstr(err, "conf-path-truncation.conf:"),
	   "tests/fuzz/repro/conf-path-truncation.conf is refused: %s", err);
	pgp_conf_free(conf);
}

/*
 * pgp's configuration is one file: @include is refused before libconfig
 * sees it, since libconfig would open the file itself, past open_file()'s
 * checks (AFL++: tests/fuzz/repro/conf-include-dir.conf).  A directory
 * made libconfig's scanner exit(2) ("input in flex scanner failed"), a
 * FIFO made it wait forever (main's alarm fails the test then).
 */
static void
test_include(void)
{
	struct pgp_conf *conf = NULL;
	char text[1024], err[2048], fifo[600];
	int rc;

	rc = load_text("log = { syslog = true; };\n@include \".\"\n", 0600, &conf, err, sizeof(err));
	ok(rc == -1 && starts(err, ":2: @include is not supported"),
	   "@include of a directory is refused at its line, the process alive: %s", err);
	pgp_conf_free(conf);

	snprintf(fifo, sizeof(fifo), "%s/include.fifo", dir);
	mkfifo(fifo, 0600);
	snprintf(text, sizeof(text), "\n\n \t@include \"%s\"\n", fifo);
	rc = load_text(text, 0600, &conf, err, sizeof(err));
	ok(rc == -1 && starts(err, ":3: @include is not supported"),
	   "@include of a FIFO, after blanks, is refused without waiting: %s", err);
	pgp_conf_free(conf);

	put_file(dir, "other.conf", "log = { syslog = true; };\n");
	snprintf(text, sizeof(text), "@include \"%s/other.conf\"\n", dir);
	rc = load_text(text, 0600, &conf, err, sizeof(err));
	ok(rc == -1 && starts(err, ":1: @include is not supported") && strstr(err, "one file"),
	   "and so is @include of a regular file: %s", err);
	pgp_conf_free(conf);

	rc = load_text("# an @include \"x\" in a comment is text\n"
		       "targets = { t = { conninfo = \"dbname=x application_name=@include\"; }; };\n",
		       0600, &conf, err, sizeof(err));
	ok(rc == 0 && !*err, "@include that does not begin a line is not a directive: %s", err);
	pgp_conf_free(conf);

	/* Text after a NUL byte would be out of sight of the check and of libconfig. */
	snprintf(fifo, sizeof(fifo), "%s/nul.conf", dir);
	{
		static const char nul[] = "log = { syslog = true; };\n# \0\n@include \".\"\n";
		FILE *f = fopen(fifo, "w");

		fwrite(nul, 1, sizeof(nul) - 1, f);
		fclose(f);
	}
	rc = load_path(fifo, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "nul.conf:2: a NUL byte"), "a NUL byte is refused at its line: %s", err);
	pgp_conf_free(conf);

	/* libconfig 1.5 wraps a 32-bit overflow: 4294967297 would read as 1. */
	rc = load_text("backup = {\n  keep_last = 4294967297;\n};\n", 0600, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, ":2: the integer 4294967297 does not fit libconfig's 32-bit integers"),
	   "an integer libconfig would wrap is refused: %s", err);
	pgp_conf_free(conf);
	rc = load_text("backup = {\n  keep_last = 2147483647; # 99999999999 in a comment\n  role = \"r99999999999\";\n};\n",
		       0600, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "is 2147483647, out of range") && !strstr(err, "does not fit"),
	   "the largest 32-bit integer reads as itself (then its range applies), big numbers in comments "
	   "and strings are text: %s", err);
	pgp_conf_free(conf);

	rc = load_path(repro("conf-include-dir.conf"), &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "conf-include-dir.conf:3: @include is not supported"),
	   "tests/fuzz/repro/conf-include-dir.conf is refused: %s", err);
	pgp_conf_free(conf);
}

/* backup.compress_level's range follows backup.compression, from the file or the environment. */
static void
test_compress_level(void)
{
	struct pgp_conf *conf = NULL;
	char err[1024];
	long long n = 0;
	int rc;

	rc = load_text("backup = {\n  compression = \"gzip\";\n  compress_level = 20;\n};\n", 0600, &conf, err,
		       sizeof(err));
	ok(rc < 0 && starts(err, ":3: key \"backup.compress_level\" is 20, out of range (allowed: 0..9 for gzip)"),
	   "20 with gzip: file:line and gzip's range: %s", err);
	pgp_conf_free(conf);
	conf = NULL;
	rc = load_text("backup = {\n  compress_level = 20;\n  compression = \"zstd\";\n};\n", 0600, &conf, err,
		       sizeof(err));
	ok(rc < 0 && starts(err, ":2: key \"backup.compress_level\" is 20, out of range (allowed: -7..19 for zstd)"),
	   "20 with zstd, set after it: zstd's range: %s", err);
	pgp_conf_free(conf);
	conf = NULL;
	rc = load_text("backup = {\n  compress_level = 19;\n  compression = \"ZSTD\";\n};\n", 0600, &conf, err,
		       sizeof(err));
	ok(rc == 0 && pgp_conf_get_int(conf, "backup.compress_level", &n) == 1 && n == 19, "19 with zstd (any case)");
	pgp_conf_free(conf);
	conf = NULL;
	setenv("PGP_BACKUP_COMPRESSION", "none", 1);
	rc = load_text("backup = {\n  compress_level = 1;\n};\n", 0600, &conf, err, sizeof(err));
	unsetenv("PGP_BACKUP_COMPRESSION");
	ok(rc < 0 && starts(err, ":2: key \"backup.compress_level\" is 1, out of range (allowed: 0..0 for none)"),
	   "the environment's compression sets the range too: %s", err);
	pgp_conf_free(conf);
	conf = NULL;
	rc = load_text("backup = {\n  compress_level = -7;\n  compression = 5;\n};\n", 0600, &conf, err,
		       sizeof(err));
	ok(rc < 0 && strstr(err, "backup.compression") != NULL, "a compression of the wrong type is its own error: %s",
	   err);
	pgp_conf_free(conf);
	conf = NULL;
	rc = load_text("", 0600, &conf, err, sizeof(err));
	ok(rc == 0 && pgp_conf_get_int(conf, "backup.compress_level", &n) == 0,
	   "no default level: the compression's own applies");
	pgp_conf_free(conf);
}

int
main(void)
{
	struct pgp_conf *conf;
	char err[2048];
	const char *s;
	long long i;
	int b, rc;
	double d;
	const char **list;
	struct pgp_target t;

	pgp_log_init("pgp-test");
	dir = make_tmpdir();
	/* A FIFO or a device that hangs the loader fails the test, not CI. */
	alarm(60);
	test_check_conninfo();
	test_secrets();
	test_invalid_conninfo();
	test_file_kinds();
	test_every_key();
	test_given();
	test_duration();
	test_empty();
	test_long_paths();
	test_include();
	test_compress_level();

	rc = load_text("log = {\n  syslog = true;\n  syslog_facility = \"local3\"\n};\n", 0644, &conf, err, sizeof(err));
	is_int(rc, 0, "valid file loads");
	ok(pgp_conf_get_bool(conf, "log.syslog", &b) == 1 && b == 1, "bool from file");
	ok(pgp_conf_get_string(conf, "log.syslog_facility", &s) == 1 && strcmp(s, "local3") == 0,
	   "string from file");
	ok(pgp_conf_get_string(conf, "log.syslog_level", &s) == 1 && strcmp(s, "info") == 0,
	   "default when the file is silent");
	ok(pgp_conf_get_int(conf, "connection.connect_timeout", &i) == 1 && i == 10, "int default");
	ok(pgp_conf_get_string(conf, "backup.target", &s) == 0, "a key without default is unset");
	setenv("PGP_LOG_SYSLOG_FACILITY", "daemon", 1);
	ok(pgp_conf_get_string(conf, "log.syslog_facility", &s) == 1 && strcmp(s, "daemon") == 0,
	   "environment beats the file");
	unsetenv("PGP_LOG_SYSLOG_FACILITY");
	setenv("PGP_CONNECTION_CONNECT_TIMEOUT", "abc", 1);
	ok(pgp_conf_get_int(conf, "connection.connect_timeout", &i) == -1, "bad integer in environment is an error");
	setenv("PGP_CONNECTION_CONNECT_TIMEOUT", "3", 1);
	ok(pgp_conf_get_int(conf, "connection.connect_timeout", &i) == 1 && i == 3, "integer from environment");
	unsetenv("PGP_CONNECTION_CONNECT_TIMEOUT");
	ok(pgp_conf_get_float(conf, "connection.connect_timeout", &d) == 1 && d == 10.0, "int read as float");
	ok(pgp_conf_file(conf) && strstr(pgp_conf_file(conf), "pgp.conf"), "file path kept");
	pgp_conf_free(conf);

	rc = load_text("log = {\n  syslog = true;\n  sylog_level = \"info\";\n};\n", 0644, &conf, err, sizeof(err));
	is_int(rc, -1, "unknown key refused");
	ok(strstr(err, "pgp.conf:3:") != NULL, "error names file and line 3: %s", err);
	ok(strstr(err, "log.sylog_level") != NULL, "error names the key");
	pgp_conf_free(conf);

	rc = load_text("\n\nconnection = { connect_timeout = \"ten\"; };\n", 0644, &conf, err, sizeof(err));
	is_int(rc, -1, "wrong type refused");
	ok(strstr(err, "pgp.conf:3:") && strstr(err, "connection.connect_timeout") &&
	   strstr(err, "an integer"), "type error names line, key and type: %s", err);
	pgp_conf_free(conf);

	rc = load_text("log = {\n  syslog = true\n  syslog_level = ;\n};\n", 0644, &conf, err, sizeof(err));
	is_int(rc, -1, "syntax error refused");
	ok(strstr(err, "pgp.conf:3:") != NULL, "syntax error names file and line: %s", err);
	pgp_conf_free(conf);

	rc = load_text("bogus = { a = 1; };\n", 0644, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "pgp.conf:1:") && strstr(err, "bogus"), "unknown section refused: %s", err);
	pgp_conf_free(conf);

	rc = load_text("targets = {\n prod = { conninfo = \"host=db password=hunter2\"; };\n};\n",
		       0644, &conf, err, sizeof(err));
	is_int(rc, -1, "secret in a world-readable file refused");
	ok(starts(err, ":2: key \"targets.prod.conninfo\" holds a secret (password) but the file is"
		  " readable by group or others (mode 0644)") && !strstr(err, "hunter2"),
	   "message says why and does not print the secret: %s", err);
	pgp_conf_free(conf);

	rc = load_text("targets = {\n prod = { conninfo = \"host=db password=hunter2\"; };\n};\n",
		       0600, &conf, err, sizeof(err));
	is_int(rc, 0, "the same file at 0600 loads");
	pgp_conf_free(conf);

	rc = load_text("targets = {\n"
		       "  prod = { conninfo = \"service=app\"; service_file = \"/etc/pgp/svc\";"
		       " passfile = \"/etc/pgp/pass\"; };\n"
		       "  dev = { conninfo = \"host=/tmp\"; };\n"
		       "};\n"
		       "backup = { target = \"prod\"; };\n", 0644, &conf, err, sizeof(err));
	is_int(rc, 0, "targets load");
	ok(pgp_conf_target(conf, "prod", &t) == 0 && strcmp(t.conninfo, "service=app") == 0 &&
	   strcmp(t.service_file, "/etc/pgp/svc") == 0 && strcmp(t.passfile, "/etc/pgp/pass") == 0,
	   "target prod with its files");
	ok(pgp_conf_target(conf, "dev", &t) == 0 && t.service_file == NULL, "target dev without files");
	ok(pgp_conf_get_string(conf, "backup.target", &s) == 1 && strcmp(s, "prod") == 0,
	   "per-program default target");
	{
		int saved = dup(2);
		FILE *devnull = fopen("/dev/null", "w");

		dup2(fileno(devnull), 2);
		rc = pgp_conf_target(conf, "staging", &t);
		dup2(saved, 2);
		close(saved);
		fclose(devnull);
	}
	is_int(rc, -1, "unknown target is an error");
	pgp_conf_free(conf);

	rc = load_text("targets = { x = { conninfo = 5; }; };\n", 0644, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "targets.x.conninfo"), "target key type checked: %s", err);
	pgp_conf_free(conf);

	ok(pgp_conf_load("/nonexistent/pgp.conf", 0, &conf) == 0 && pgp_conf_file(conf) == NULL,
	   "missing default file gives defaults");
	ok(pgp_conf_get_string(conf, "log.syslog_level", &s) == 1 && strcmp(s, "info") == 0,
	   "defaults without a file");
	setenv("PGP_LOG_SYSLOG_LEVEL", "debug", 1);
	ok(pgp_conf_get_string(conf, "log.syslog_level", &s) == 1 && strcmp(s, "debug") == 0,
	   "environment without a file");
	unsetenv("PGP_LOG_SYSLOG_LEVEL");
	pgp_conf_free(conf);
	{
		int saved = dup(2);
		FILE *devnull = fopen("/dev/null", "w");

		dup2(fileno(devnull), 2);
		rc = pgp_conf_load("/nonexistent/pgp.conf", 1, &conf);
		dup2(saved, 2);
		close(saved);
		fclose(devnull);
	}
	is_int(rc, -1, "missing named file is an error");
	pgp_conf_free(conf);

	{
		char env[64];
		int must;

		pgp_conf_env_name("migrate_check.target", env, sizeof(env));
		is_str(env, "PGP_MIGRATE_CHECK_TARGET", "environment variable name");
		unsetenv("PGP_CONFIG");
		is_str(pgp_conf_choose_path(NULL, &must), "/etc/pgp/pgp.conf", "default path");
		is_int(must, 0, "default path may be missing");
		setenv("PGP_CONFIG", "/x/y.conf", 1);
		is_str(pgp_conf_choose_path(NULL, &must), "/x/y.conf", "PGP_CONFIG chosen");
		is_str(pgp_conf_choose_path("/a.conf", &must), "/a.conf", "-c beats PGP_CONFIG");
		is_int(must, 1, "a named file must exist");
		unsetenv("PGP_CONFIG");
	}
	(void) list;
	rm_rf(dir);
	free(dir);
	return done_testing();
}
