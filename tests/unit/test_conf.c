/*
 * Config loading: errors name file, line and key; types; secrets; the
 * environment > file > default precedence; targets; connection strings
 * checked as libpq reads them; only regular files read.
 */
#include <stdlib.h>
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
