/*
 * Config loading: errors name file, line and key; types; secrets; the
 * environment > file > default precedence; targets.
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

/* Load text as a config file; return rc, and stderr's text in errbuf. */
static int
load_text(const char *text, mode_t mode, struct pgp_conf **conf, char *errbuf, size_t errsize)
{
	char path[512], errpath[512];
	int saved = dup(2), rc;
	FILE *ef;
	size_t n;

	snprintf(path, sizeof(path), "%s/pgp.conf", dir);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	put_file(dir, "pgp.conf", text);
	chmod(path, mode);
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
	ok(strstr(err, "readable by group or others") && !strstr(err, "hunter2"),
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
