/*
 * conn-probe: a test tool over libpgp's connection and quoting modules.
 * It connects exactly as the programs do (-d/-t/-c/--database), prints
 * what the server sees of the session, then sends each remaining argument
 * through pgp_sql_build's %L and %I and checks the server hands it back
 * unchanged.  Exit status follows pgp(7): 3 when it cannot connect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"
#include "sql.h"

static void
help(FILE *out)
{
	fprintf(out, "Usage: conn-probe [-d CONNINFO | -t TARGET] [-c FILE] [STRING]...\n");
}

/* Round-trip one string as a literal and as an identifier. */
static int
roundtrip(PGconn *conn, const char *value)
{
	char *sql = pgp_sql_build(conn, "SELECT %L::text AS %I", value, value);
	PGresult *res;
	int same;

	if (!sql)
		return -1;
	res = pgp_conn_query(conn, sql, 0, NULL);
	free(sql);
	if (!res)
		return -1;
	same = strcmp(PQgetvalue(res, 0, 0), value) == 0 && strcmp(PQfname(res, 0), value) == 0;
	PQclear(res);
	printf("roundtrip %s\n", same ? "same" : "DIFFERENT");
	return same ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {PGP_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct pgp_common common;
	struct pgp_conf *conf = NULL;
	struct pgp_connspec spec;
	PGconn *conn = NULL;
	PGresult *res;
	int opt, rc = PGP_OPT_GO;

	pgp_log_init(argv[0]);
	pgp_opt_init(&common, argv, help, NULL);
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1)
		rc = pgp_opt_handle(&common, opt, optarg);
	if (rc != PGP_OPT_GO || (rc = pgp_opt_check(&common)) != PGP_OPT_GO)
		return rc;
	rc = pgp_setup(&common, &conf);
	if (rc != 0)
		goto done;
	rc = PGP_EXIT_USAGE;
	if (pgp_conn_spec(conf, &common, "alert.target", &spec) < 0)
		goto done;
	rc = PGP_EXIT_UNREACHABLE;
	conn = pgp_conn_open(&spec, common.database);
	if (!conn)
		goto done;
	rc = PGP_EXIT_FAILED;
	res = pgp_conn_query(conn, "SELECT current_setting('application_name'), "
			     "current_setting('search_path'), current_user, current_database()", 0, NULL);
	if (!res)
		goto done;
	printf("application_name=%s\nsearch_path=%s\nuser=%s\ndatabase=%s\n",
	       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	PQclear(res);
	for (int i = optind; i < argc; i++)
		if (roundtrip(conn, argv[i]) < 0)
			goto done;
	rc = PGP_EXIT_OK;
done:
	pgp_conn_close(conn);
	pgp_conf_free(conf);
	return rc;
}
