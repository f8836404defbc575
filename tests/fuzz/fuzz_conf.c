/*
 * AFL++ harness for the configuration loader (common/conf.c).  Each input
 * is written to one private (0600) temporary file, loaded with
 * pgp_conf_load(path, 1, &conf), read through the getters and freed.
 *
 * A file the loader accepts is read again here with libconfig and checked
 * against the key table independently: every group must lead to a key of
 * conf_keys.def and every leaf must be a key of the right type, every
 * target with a conninfo must be found by pgp_conf_target, and every key
 * the file sets must come back from its getter.  A violation, or an
 * exit() from inside the loader, aborts, so AFL records a crash.
 *
 * With file arguments it loads each once and prints "OK" or "rejected"
 * (the loader's own message on stderr); without, it runs AFL's
 * persistent loop with stderr sent to /dev/null (the log module has no
 * level below "error"; PGP_FUZZ_STDERR=1 keeps it).  The temporary file is
 * $PGP_FUZZ_CONF_FILE, else a mkstemp file in $TMPDIR or /tmp.
 */
#include "afl_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

__AFL_FUZZ_INIT();

static char tmp_path[4096];
static int tmp_fd = -1;
static int tmp_is_ours;		/* made by mkstemp: unlinked at exit */
static volatile int in_load;	/* inside pgp_conf_load and the checks */

static void
violated(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_conf: invariant violated: %s%s%s\n", what, path ? ": " : "", path ? path : "");
	abort();
}

static int
open_tmp(void)
{
	const char *want = getenv("PGP_FUZZ_CONF_FILE");
	const char *dir = getenv("TMPDIR");

	if (want && *want) {
		snprintf(tmp_path, sizeof(tmp_path), "%s", want);
		tmp_fd = open(tmp_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	} else {
		snprintf(tmp_path, sizeof(tmp_path), "%s/pgp-fuzz-conf-XXXXXX", dir && *dir ? dir : "/tmp");
		tmp_fd = mkstemp(tmp_path);
		tmp_is_ours = tmp_fd >= 0;
	}
	if (tmp_fd < 0 || fchmod(tmp_fd, 0600) != 0) {
		fprintf(stderr, "fuzz_conf: cannot create %s: %s\n", tmp_path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
write_tmp(const unsigned char *data, size_t len)
{
	size_t done = 0;

	if (ftruncate(tmp_fd, 0) != 0)
		violated("harness: cannot truncate the temporary file", tmp_path);
	while (done < len) {
		ssize_t n = pwrite(tmp_fd, data + done, len - done, (off_t) done);

		if (n <= 0)
			violated("harness: cannot write the temporary file", tmp_path);
		done += (size_t) n;
	}
}

/* One component of a dotted path against one of a key ("*": any name). */
static int
component_matches(const char *pat, size_t plen, const char *name, size_t nlen)
{
	return (plen == 1 && pat[0] == '*') || (plen == nlen && memcmp(pat, name, nlen) == 0);
}

/*
 * Does the path of names[0..depth) match the first depth components of
 * key, and does key have exactly depth components (whole) or more (group)?
 */
static int
key_matches(const char *key, const char *const *names, int depth, int whole)
{
	const char *p = key;

	for (int i = 0; i < depth; i++) {
		size_t plen = strcspn(p, ".");

		if (!component_matches(p, plen, names[i], strlen(names[i])))
			return 0;
		p += plen;
		if (*p == '\0')
			return whole && i == depth - 1;
		p++;
	}
	return !whole;
}

static int
leaf_type_ok(enum pgp_conf_type want, const config_setting_t *s)
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

static void
path_text(const char *const *names, int depth, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < depth && o < size; i++)
		o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? "." : "", names[i]);
}

#define MAX_DEPTH 8

/* The accepted file, walked without the loader's fixed-size buffers. */
static void
check_tree(const struct pgp_conf *conf, const config_setting_t *group, const char **names, int depth)
{
	int nkeys, n = config_setting_length(group);
	const struct pgp_conf_key *keys = pgp_conf_keys(&nkeys);
	char where[1024];

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
		const struct pgp_conf_key *key = NULL;

		if (depth >= MAX_DEPTH)
			violated("accepted a file nested deeper than any key", NULL);
		names[depth] = config_setting_name(s);
		if (!names[depth])
			violated("accepted a setting without a name", NULL);
		path_text(names, depth + 1, where, sizeof(where));
		if (config_setting_is_group(s)) {
			int known = 0;

			for (int k = 0; k < nkeys && !known; k++)
				known = key_matches(keys[k].path, names, depth + 1, 0);
			if (!known)
				violated("accepted an unknown section", where);
			check_tree(conf, s, names, depth + 1);
			continue;
		}
		for (int k = 0; k < nkeys && !key; k++)
			if (key_matches(keys[k].path, names, depth + 1, 1))
				key = &keys[k];
		if (!key)
			violated("accepted an unknown key", where);
		if (!leaf_type_ok(key->type, s))
			violated("accepted a key of the wrong type", where);
	}
}

/* Every target that has a conninfo is found, with that conninfo. */
static void
check_targets(const struct pgp_conf *conf, const config_t *cfg)
{
	const config_setting_t *targets = config_lookup(cfg, "targets");

	for (int i = 0; targets && i < config_setting_length(targets); i++) {
		const config_setting_t *t = config_setting_get_elem(targets, (unsigned) i);
		const char *want = NULL;
		struct pgp_target out;

		if (!config_setting_is_group(t) || !config_setting_lookup_string(t, "conninfo", &want))
			continue;
		if (pgp_conf_target(conf, config_setting_name(t), &out) != 0 || !out.conninfo ||
		    strcmp(out.conninfo, want) != 0 || strcmp(out.name, config_setting_name(t)) != 0)
			violated("pgp_conf_target does not return an accepted target", config_setting_name(t));
	}
}

/* Every key without "*" through its getter; a key the file sets must be found. */
static void
check_getters(const struct pgp_conf *conf, const config_t *cfg)
{
	int nkeys;
	const struct pgp_conf_key *keys = pgp_conf_keys(&nkeys);

	for (int k = 0; k < nkeys; k++) {
		const char *path = keys[k].path;
		int set = config_lookup(cfg, path) != NULL, r = 0;
		const char *s = NULL;
		const char **list = NULL;
		long long ll;
		double d;
		int b;

		if (strchr(path, '*'))
			continue;
		switch (keys[k].type) {
		case PGP_CONF_STRING:
			r = pgp_conf_get_string(conf, path, &s);
			if (r == 1 && !s)
				violated("string getter returned 1 and NULL", path);
			break;
		case PGP_CONF_INT:
			r = pgp_conf_get_int(conf, path, &ll);
			break;
		case PGP_CONF_BOOL:
			r = pgp_conf_get_bool(conf, path, &b);
			if (r == 1 && b != 0 && b != 1)
				violated("bool getter returned neither 0 nor 1", path);
			break;
		case PGP_CONF_FLOAT:
			r = pgp_conf_get_float(conf, path, &d);
			break;
		case PGP_CONF_LIST:
			/* A default is split into storage kept for the process
			 * (16 slots): only lists the file sets, or without one. */
			if (!set && keys[k].default_value)
				continue;
			r = pgp_conf_get_list(conf, path, &list);
			if (r == 1) {
				if (!list)
					violated("list getter returned 1 and NULL", path);
				for (const char **e = list; *e; e++)
					(void) strlen(*e);
				free(list);
			}
			break;
		}
		if (set && r != 1)
			violated("a key set in the file is not returned by its getter", path);
	}
}

/*
 * A library that calls exit() (flex's YY_FATAL_ERROR in libconfig's
 * scanner does) ends the program with its own message instead of an
 * error of the loader: to AFL that is a crash.
 */
static void
exit_guard(void)
{
	if (in_load)
		violated("exit() called while loading the file", NULL);
}

/* Load the temporary file; 0 when accepted (and checked), -1 when rejected. */
static int
load_one(void)
{
	struct pgp_conf *conf = NULL;
	struct pgp_target t;
	int rc;

	in_load = 1;
	rc = pgp_conf_load(tmp_path, 1, &conf);

	if (rc == 0) {
		config_t cfg;
		FILE *fp = fopen(tmp_path, "r");
		const char *names[MAX_DEPTH];

		if (!fp)
			violated("harness: cannot reopen the temporary file", tmp_path);
		config_init(&cfg);
		if (!config_read(&cfg, fp))
			violated("accepted a file libconfig cannot read", config_error_text(&cfg));
		fclose(fp);
		if (!pgp_conf_file(conf) || strcmp(pgp_conf_file(conf), tmp_path) != 0)
			violated("pgp_conf_file is not the loaded path", NULL);
		check_tree(conf, config_root_setting(&cfg), names, 0);
		check_targets(conf, &cfg);
		check_getters(conf, &cfg);
		/* Absent names go through the "known targets" message. */
		if (pgp_conf_target(conf, "prod", &t) == 0 && !t.conninfo)
			violated("target prod without conninfo", NULL);
		(void) pgp_conf_target(conf, "no-such-target", &t);
		config_destroy(&cfg);
	} else if (rc != -1)
		violated("pgp_conf_load returned neither 0 nor -1", NULL);
	pgp_conf_free(conf);
	in_load = 0;
	return rc;
}

static int
replay(int argc, char **argv)
{
	int failures = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf = NULL;
		size_t len = 0, cap = 0, n;

		if (!f) {
			perror(argv[i]);
			failures++;
			continue;
		}
		do {
			if (len == cap) {
				unsigned char *bigger = realloc(buf, cap = cap ? cap * 2 : 65536);

				if (!bigger) {
					fprintf(stderr, "%s: out of memory\n", argv[i]);
					exit(2);
				}
				buf = bigger;
			}
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		write_tmp(buf, len);
		free(buf);
		fflush(stdout);
		if (load_one() == 0)
			printf("%s: OK\n", argv[i]);
		else {
			printf("%s: rejected\n", argv[i]);
			failures++;
		}
		fflush(stdout);
	}
	return failures ? 1 : 0;
}

/* The getters read PGP_<KEY> first: the input alone must decide. */
static void
clear_pgp_environment(void)
{
	extern char **environ;

	for (int again = 1; again;) {
		again = 0;
		for (char **e = environ; e && *e; e++) {
			if (strncmp(*e, "PGP_", 4) == 0 && strncmp(*e, "PGP_FUZZ_", 9) != 0) {
				char name[256];
				size_t n = strcspn(*e, "=");

				snprintf(name, sizeof(name), "%.*s", (int) n, *e);
				unsetenv(name);
				again = 1;
				break;
			}
		}
	}
}

int
main(int argc, char **argv)
{
	const char *keep = getenv("PGP_FUZZ_STDERR");
	unsigned char *buf;
	int rc;

	pgp_log_init("fuzz_conf");
	atexit(exit_guard);
	clear_pgp_environment();
	if (open_tmp() < 0)
		return 2;
	if (argc > 1) {
		rc = replay(argc, argv);
		goto done;
	}
	if (!(keep && *keep == '1')) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 2);
			close(null);
		}
	}

	__AFL_INIT();
	buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(10000)) {
		write_tmp(buf, (size_t) __AFL_FUZZ_TESTCASE_LEN);
		(void) load_one();
	}
	rc = 0;
done:
	close(tmp_fd);
	if (tmp_is_ours)
		unlink(tmp_path);
	return rc;
}
