/*
 * Connection resolution without a server: -d is checked as libpq reads
 * it before any connection is tried; quoting for conninfo strings; what
 * counts as a local host.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "tap.h"
#include "testutil.h"

static char *dir;

/* pgp_conn_spec with -d (or -t); stderr's first line in errbuf. */
static int
spec_for(const struct pgp_conf *conf, const char *d, const char *t, struct pgp_connspec *spec,
	 char *errbuf, size_t errsize)
{
	struct pgp_common c;
	FILE *ef = tmpfile();
	int saved = dup(2), rc;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.conninfo = d;
	c.target = t;
	dup2(fileno(ef), 2);
	rc = pgp_conn_spec(conf, &c, NULL, spec);
	dup2(saved, 2);
	close(saved);
	rewind(ef);
	n = fread(errbuf, 1, errsize - 1, ef);
	errbuf[n] = '\0';
	errbuf[strcspn(errbuf, "\n")] = '\0';
	fclose(ef);
	return rc;
}

static void
test_spec(void)
{
	struct pgp_connspec spec;
	struct pgp_conf *conf = NULL;
	char err[1024], path[512];

	ok(spec_for(NULL, "dbname=x host=/tmp", NULL, &spec, err, sizeof(err)) == 0 &&
	   strcmp(spec.conninfo, "dbname=x host=/tmp") == 0 && !*err, "a valid -d is kept: %s", err);
	ok(spec_for(NULL, "mydb", NULL, &spec, err, sizeof(err)) == 0 && !*err,
	   "a plain database name is fine: %s", err);
	ok(spec_for(NULL, "postgresql://u:pw@h/db", NULL, &spec, err, sizeof(err)) == 0 && !*err,
	   "a URI is fine: %s", err);
	is_int(spec_for(NULL, "bogus=1", NULL, &spec, err, sizeof(err)), -1, "-d bogus=1 refused");
	is_str(err, "pgp-test: error: invalid connection string (-d): invalid connection option \"bogus\"",
	       "libpq's reason, one line");
	is_int(spec_for(NULL, "postgresql://u:hunt%zzer2@h/db", NULL, &spec, err, sizeof(err)), -1,
	       "an invalid URI refused");
	is_str(err, "pgp-test: error: invalid connection string (-d): invalid percent-encoded token: \"***\"",
	       "with its password masked");

	/* A loaded target's conninfo was checked by the loader: it passes. */
	put_file(dir, "pgp.conf", "targets = { prod = { conninfo = \"host=db\"; }; };\n");
	snprintf(path, sizeof(path), "%s/pgp.conf", dir);
	ok(pgp_conf_load(path, 1, &conf) == 0, "config with a target loads");
	ok(spec_for(conf, NULL, "prod", &spec, err, sizeof(err)) == 0 && strcmp(spec.conninfo, "host=db") == 0 &&
	   strcmp(spec.target, "prod") == 0, "target resolved: %s", err);
	pgp_conf_free(conf);

	ok(pgp_conn_check_option(NULL) == 0, "no -d is fine");
}

/* What pgp_conninfo_append writes, libpq reads back unchanged. */
static void
test_append(void)
{
	static const char *const values[] = {"plain", "it's", "back\\slash", "sp ace", "", "'\\'"};
	char buf[256], small[8] = "";

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		PQconninfoOption *opts;
		const char *got = NULL;

		buf[0] = '\0';
		ok(pgp_conninfo_append(buf, sizeof(buf), "host", "h") == 0 &&
		   pgp_conninfo_append(buf, sizeof(buf), "user", values[i]) == 0, "append \"%s\"", values[i]);
		opts = PQconninfoParse(buf, NULL);
		for (PQconninfoOption *o = opts; o && o->keyword; o++)
			if (strcmp(o->keyword, "user") == 0)
				got = o->val ? o->val : "";
		is_str(got, values[i], "libpq reads back \"%s\" from %s", values[i], buf);
		PQconninfoFree(opts);
	}
	is_int(pgp_conninfo_append(small, sizeof(small), "host", "longer"), -1, "a value that does not fit");
}

static void
test_local(void)
{
	ok(pgp_host_is_local(NULL) && pgp_host_is_local("") && pgp_host_is_local("/run/postgresql") &&
	   pgp_host_is_local("localhost") && pgp_host_is_local("127.0.0.2") && pgp_host_is_local("::1"),
	   "local hosts");
	ok(!pgp_host_is_local("db.example.com") && !pgp_host_is_local("10.0.0.1") &&
	   !pgp_host_is_local("128.0.0.1"), "remote hosts");
}

int
main(void)
{
	pgp_log_init("pgp-test");
	dir = make_tmpdir();
	test_spec();
	test_append();
	test_local();
	rm_rf(dir);
	free(dir);
	return done_testing();
}
