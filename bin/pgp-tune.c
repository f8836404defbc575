/*
 * pgp-tune: PostgreSQL settings from hardware and workload.  It detects
 * RAM and CPUs the way the server will really get them (cgroup limits,
 * CPU quotas), recommends settings with a reason each, prints them as a
 * conf fragment, ALTER SYSTEM statements, JSON or a PgBouncer section,
 * applies them to a live server (--apply), and reports drift from them
 * for a nightly cron line (--check, exit 1 on drift).  The formulas are
 * in bin/tune/formulas.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "exitcodes.h"
#include "log.h"
#include "opt.h"
#include "setup.h"
#include "sysinfo.h"
#include "tune/tune.h"

enum {
	OPT_MEMORY = PGP_OPT_FIRST_PRIVATE, OPT_CPUS, OPT_STORAGE, OPT_CONNECTIONS, OPT_WORKLOAD,
	OPT_PG_VERSION, OPT_EXPLAIN, OPT_APPLY, OPT_CHECK, OPT_TOLERANCE, OPT_DATA_DIR, OPT_SYS_ROOT
};

struct opts {
	struct pgp_common common;
	/* As given (NULL: not given); checked by the config getters, which
	 * apply the same rule to an option, a PGP_TUNE_* variable and the file. */
	const char *memory, *cpus, *storage, *connections, *workload, *pg_version, *tolerance;
	const char *data_dir, *sys_root;
	int explain, apply, check;
};

static void
help(FILE *out)
{
	fprintf(out,
		"pgp-tune recommends, applies and checks PostgreSQL settings.\n"
		"\n"
		"Usage:\n"
		"  pgp-tune [OPTION]...                  print recommended settings\n"
		"  pgp-tune -d CONNINFO | -t TARGET --apply\n"
		"  pgp-tune -d CONNINFO | -t TARGET --check\n"
		"\n"
		"Inputs (detected unless given):\n"
		"      --memory=SIZE        RAM for PostgreSQL (8GB, 512MB)\n"
		"      --cpus=N             CPUs\n"
		"      --storage=TYPE       ssd, hdd or san\n"
		"      --connections=N      max_connections (default: from the workload)\n"
		"      --workload=TYPE      web, oltp, dw, desktop or mixed (default web)\n"
		"      --pg-version=N       13 to 18 (default: the server's, else 15)\n"
		"\n"
		"Options:\n"
		"  -d, --conninfo=CONNINFO  connection string or URI\n"
		"  -t, --target=NAME        target from the configuration file\n"
		"  -c, --config=FILE        configuration file (default " PGP_CONF_DEFAULT_PATH ")\n"
		"      --format=FORMAT      conf (default), sql, json or pgbouncer\n"
		"      --explain            say why, for every setting\n"
		"      --apply              ALTER SYSTEM and reload; never restarts\n"
		"      --check              compare the live settings; exit 1 on drift\n"
		"      --tolerance=PCT      drift tolerance for --check (default 5)\n"
		"      --data-dir=PATH      detect storage from the disk holding PATH\n"
		"      --sys-root=DIR       read /proc and /sys below DIR (tests)\n"
		"  -q, --quiet              print errors only\n"
		"  -v, --verbose            print debugging messages\n"
		"      --help               show this help, then exit\n"
		"      --version            show the version, then exit\n"
		"\n"
		"See pgp-tune(1) and pgp(7).\n");
}

static int
parse_options(int argc, char **argv, struct opts *o)
{
	static const char *const formats[] = {"conf", "sql", "json", "pgbouncer", NULL};
	static const struct option options[] = {
		PGP_COMMON_OPTIONS,
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"cpus", required_argument, NULL, OPT_CPUS},
		{"storage", required_argument, NULL, OPT_STORAGE},
		{"connections", required_argument, NULL, OPT_CONNECTIONS},
		{"workload", required_argument, NULL, OPT_WORKLOAD},
		{"pg-version", required_argument, NULL, OPT_PG_VERSION},
		{"explain", no_argument, NULL, OPT_EXPLAIN},
		{"apply", no_argument, NULL, OPT_APPLY},
		{"check", no_argument, NULL, OPT_CHECK},
		{"tolerance", required_argument, NULL, OPT_TOLERANCE},
		{"data-dir", required_argument, NULL, OPT_DATA_DIR},
		{"sys-root", required_argument, NULL, OPT_SYS_ROOT},
		{NULL, 0, NULL, 0}
	};
	int opt, rc = PGP_OPT_GO;

	pgp_opt_init(&o->common, argv, help, formats);
	while (rc == PGP_OPT_GO && (opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_MEMORY: o->memory = optarg; break;
		case OPT_CPUS: o->cpus = optarg; break;
		case OPT_STORAGE: o->storage = optarg; break;
		case OPT_CONNECTIONS: o->connections = optarg; break;
		case OPT_WORKLOAD: o->workload = optarg; break;
		case OPT_PG_VERSION: o->pg_version = optarg; break;
		case OPT_EXPLAIN: o->explain = 1; break;
		case OPT_APPLY: o->apply = 1; break;
		case OPT_CHECK: o->check = 1; break;
		case OPT_TOLERANCE: o->tolerance = optarg; break;
		case OPT_DATA_DIR: o->data_dir = optarg; break;
		case OPT_SYS_ROOT: o->sys_root = optarg; break;
		default: rc = pgp_opt_handle(&o->common, opt, optarg);
		}
	}
	if (rc != PGP_OPT_GO)
		return rc;
	if (optind < argc)
		return pgp_opt_fail(&o->common, "too many arguments (first is \"%s\")", argv[optind]);
	if ((rc = pgp_opt_check(&o->common)) != PGP_OPT_GO)
		return rc;
	if (o->apply && o->check)
		return pgp_opt_fail(&o->common, "--apply and --check cannot be used together");
	return PGP_OPT_GO;
}

static int
lookup_name(const char *const *names, int count, const char *value)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], value) == 0)
			return i;
	return -1;
}

/* What pgp-tune's JSON calls a source: an option is "given", a PGP_* or the file "config". */
static const char *
source_name(int src, const char *otherwise)
{
	return src == PGP_CONF_OPTION ? "given" : src == PGP_CONF_ENV || src == PGP_CONF_FILE ? "config"
		: otherwise;
}

/*
 * The inputs the user gave (option, environment, file), all checked
 * before any connection; what is left is detected later.  -1 on a bad value.
 */
static int
given_inputs(const struct opts *o, const struct pgp_conf *conf, struct tune_inputs *in, double *tolerance)
{
	const char *w = NULL, *st = NULL;
	long long cpus = 0, conns = 0, version = 0;
	int src[7];

	memset(in, 0, sizeof(in[0]));
	src[0] = pgp_conf_size(conf, "tune.memory", "--memory", o->memory, &in->memory_bytes);
	src[1] = pgp_conf_int(conf, "tune.cpus", "--cpus", o->cpus, &cpus);
	src[2] = pgp_conf_string(conf, "tune.workload", "--workload", o->workload, &w);
	src[3] = pgp_conf_string(conf, "tune.storage", "--storage", o->storage, &st);
	src[4] = pgp_conf_int(conf, "tune.connections", "--connections", o->connections, &conns);
	src[5] = pgp_conf_int(conf, "tune.pg_version", "--pg-version", o->pg_version, &version);
	src[6] = pgp_conf_float(conf, "tune.tolerance", "--tolerance", o->tolerance, tolerance);
	for (int i = 0; i < 7; i++)
		if (src[i] < 0)
			return -1;
	in->memory_source = source_name(src[0], NULL);
	in->cpus = (int) cpus;
	in->cpus_source = source_name(src[1], NULL);
	in->workload = w ? (enum tune_workload) lookup_name(tune_workload_names, TUNE_WL_COUNT, w) : TUNE_WL_WEB;
	in->workload_source = source_name(src[2], "default");
	in->storage = st ? (enum tune_storage) lookup_name(tune_storage_names, TUNE_ST_COUNT, st) : TUNE_ST_SSD;
	in->storage_source = source_name(src[3], NULL);
	in->connections = (int) conns;
	in->connections_source = source_name(src[4], "default");
	in->pg_version = (int) version;
	in->version_source = source_name(src[5], NULL);
	*tolerance /= 100.0;
	return 0;
}

/* What was not given: from this machine and the server.  -1 on failure. */
static int
detect_inputs(const struct opts *o, PGconn *conn, struct tune_inputs *in)
{
	const char *root = o->sys_root ? o->sys_root : "/", *s;
	char data_dir[1024] = "";

	if (!in->memory_source) {
		if (pgp_sys_memory(root, &in->memory_bytes, &s) < 0)
			return -1;
		in->memory_source = "detected";
		pgp_debug("memory: %llu bytes from %s", in->memory_bytes, s);
	}
	if (!in->cpus_source) {
		if (pgp_sys_cpus(root, &in->cpus, &s) < 0)
			return -1;
		in->cpus_source = "detected";
		pgp_debug("CPUs: %d from %s", in->cpus, s);
	}
	if (conn) {
		struct pgp_server_role who;
		PGresult *res;

		if (pgp_conn_server_role(conn, &who) < 0)
			return -1;
		if (!in->version_source) {
			in->pg_version = who.version_num / 10000;
			in->version_source = "detected";
		}
		res = PQexec(conn, "SELECT 'lz4' = ANY (enumvals), current_setting('data_directory', true)"
			     " FROM pg_catalog.pg_settings WHERE name = 'wal_compression'");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
			in->lz4 = PQgetvalue(res, 0, 0)[0] == 't';
			if (pgp_host_is_local(PQhost(conn)))
				snprintf(data_dir, sizeof(data_dir), "%s", PQgetvalue(res, 0, 1));
		}
		PQclear(res);
	}
	if (!in->version_source) {
		in->pg_version = 15;
		in->version_source = "default";
	}
	if (!in->storage_source) {
		const char *path = o->data_dir ? o->data_dir : *data_dir ? data_dir : "/";
		int rot = pgp_sys_path_rotational(root, path);

		in->storage_source = "default";
		if (rot >= 0) {
			in->storage = rot ? TUNE_ST_HDD : TUNE_ST_SSD;
			in->storage_source = "detected";
		}
		pgp_debug("storage of %s: rotational flag %d", path, rot);
	}
	return 0;
}

/*
 * A server on another machine has hardware we cannot see: refuse before
 * connecting when the connection string names a remote host and the
 * hardware was not given.  (A service's host is known only once
 * connected: checked then.)
 */
static int
remote_without_hardware(const struct tune_inputs *in, const struct pgp_connspec *spec)
{
	PQconninfoOption *opts = PQconninfoParse(spec->conninfo, NULL);
	int remote = 0;

	for (PQconninfoOption *p = opts; p && p->keyword; p++)
		if (p->val && (!strcmp(p->keyword, "host") || !strcmp(p->keyword, "hostaddr")))
			remote |= !pgp_host_is_local(p->val);
	PQconninfoFree(opts);
	return remote && (!in->memory_source || !in->cpus_source);
}

static int
run(struct opts *o, const struct pgp_conf *conf)
{
	const char *format = o->common.format ? o->common.format : "conf";
	int wants_server = o->common.conninfo || o->common.target || o->apply || o->check;
	struct tune_inputs in;
	struct tune_result *r = NULL;
	struct pgp_connspec spec;
	PGconn *conn = NULL;
	double tolerance = 0;
	int rc = PGP_EXIT_USAGE;

	/* Every usage and config check before the connection. */
	if (given_inputs(o, conf, &in, &tolerance) < 0)
		return PGP_EXIT_USAGE;
	if (wants_server) {
		if (pgp_conn_spec(conf, &o->common, "tune.target", &spec) < 0)
			return PGP_EXIT_USAGE;
		if ((o->apply || o->check) && !*spec.conninfo && !o->common.target)
			return pgp_opt_fail(&o->common, "--apply and --check need a server: -d or -t");
		if (remote_without_hardware(&in, &spec))
			return pgp_opt_fail(&o->common, "the target is not this machine: give its --memory and "
					    "--cpus (or tune.memory and tune.cpus)");
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		pgp_error("out of memory");
		return PGP_EXIT_FAILED;
	}
	if (wants_server) {
		conn = pgp_conn_open(&spec, NULL);
		if (!conn) {
			rc = PGP_EXIT_UNREACHABLE;
			goto done;
		}
		if (!pgp_host_is_local(PQhost(conn)) && (!in.memory_source || !in.cpus_source)) {
			rc = pgp_opt_fail(&o->common, "%s is not this machine: give its --memory and --cpus "
					  "(or tune.memory and tune.cpus)", PQhost(conn));
			goto done;
		}
	}
	rc = PGP_EXIT_FAILED;
	if (detect_inputs(o, conn, &in) < 0)
		goto done;
	tune_recommend(&in, r);
	if (conn && tune_live_fetch(conn, r) < 0)
		goto done;

	if (o->check) {
		int drifted = tune_live_check(r, tolerance, o->common.verbosity < 0);

		rc = drifted ? PGP_EXIT_FOUND : PGP_EXIT_OK;
	} else if (o->apply) {
		struct pgp_server_role who;

		if (pgp_conn_server_role(conn, &who) < 0)
			goto done;
		if (!who.superuser) {
			pgp_error("ALTER SYSTEM is not allowed for %s (%s): a managed service takes these "
				  "values in its parameter group", who.name, who.flavour);
			pgp_hint("set them there: pgp-tune -t TARGET --format json lists name, value and unit");
			goto done;
		}
		rc = tune_live_apply(conn, r) < 0 ? PGP_EXIT_FAILED : PGP_EXIT_OK;
	} else {
		int out = !strcmp(format, "sql") ? tune_print_sql(&in, r, o->explain)
			: !strcmp(format, "json") ? tune_print_json(&in, r)
			: !strcmp(format, "pgbouncer") ? tune_print_pgbouncer(&in, r)
			: tune_print_conf(&in, r, o->explain);

		rc = out < 0 ? PGP_EXIT_FAILED : PGP_EXIT_OK;
	}
done:
	pgp_conn_close(conn);
	free(r);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct pgp_conf *conf = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	pgp_log_init(argv[0]);
	if ((rc = parse_options(argc, argv, &o)) != PGP_OPT_GO)
		return rc;
	rc = pgp_setup(&o.common, &conf);
	if (rc == 0)
		rc = run(&o, conf);
	pgp_conf_free(conf);
	return rc;
}
