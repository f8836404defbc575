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
	const char *memory, *storage, *workload, *data_dir, *sys_root;
	int cpus, connections, pg_version;
	double tolerance;		/* fraction; <0: not given */
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
		"  -c, --config=FILE        configuration file (default /etc/pgp/pgp.conf)\n"
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

static void
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
	int opt;

	o->tolerance = -1;
	pgp_opt_init(&o->common, argv, help, formats);
	while ((opt = getopt_long(argc, argv, PGP_COMMON_SHORTOPTS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_MEMORY: o->memory = optarg; break;
		case OPT_CPUS: o->cpus = (int) pgp_opt_int(&o->common, optarg, "--cpus", 1, 4096); break;
		case OPT_STORAGE: o->storage = optarg; break;
		case OPT_CONNECTIONS:
			o->connections = (int) pgp_opt_int(&o->common, optarg, "--connections", 5, 262143);
			break;
		case OPT_WORKLOAD: o->workload = optarg; break;
		case OPT_PG_VERSION:
			o->pg_version = (int) pgp_opt_int(&o->common, optarg, "--pg-version", 13, 18);
			break;
		case OPT_EXPLAIN: o->explain = 1; break;
		case OPT_APPLY: o->apply = 1; break;
		case OPT_CHECK: o->check = 1; break;
		case OPT_TOLERANCE:
			o->tolerance = (double) pgp_opt_int(&o->common, optarg, "--tolerance", 0, 100) / 100.0;
			break;
		case OPT_DATA_DIR: o->data_dir = optarg; break;
		case OPT_SYS_ROOT: o->sys_root = optarg; break;
		default: pgp_opt_common(&o->common, opt, optarg);
		}
	}
	if (optind < argc)
		pgp_usage_error(&o->common, "too many arguments (first is \"%s\")", argv[optind]);
	pgp_opt_finish(&o->common);
	if (o->apply && o->check)
		pgp_usage_error(&o->common, "--apply and --check cannot be used together");
}

static int
lookup_name(const char *const *names, int count, const char *value)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], value) == 0)
			return i;
	return -1;
}

/* A value from the command line, else the config, else NULL; source set. */
static const char *
pick_string(const struct pgp_conf *conf, const char *given, const char *key, const char **source)
{
	const char *v = NULL;

	if (given) {
		*source = "given";
		return given;
	}
	if (pgp_conf_get_string(conf, key, &v) == 1) {
		*source = "config";
		return v;
	}
	return NULL;
}

static long long
pick_int(const struct pgp_conf *conf, long long given, const char *key, const char **source)
{
	long long v = 0;

	if (given) {
		*source = "given";
		return given;
	}
	if (pgp_conf_get_int(conf, key, &v) == 1 && v > 0) {
		*source = "config";
		return v;
	}
	return 0;
}

static int
gather_inputs(struct opts *o, const struct pgp_conf *conf, PGconn *conn, struct tune_inputs *in)
{
	const char *root = o->sys_root ? o->sys_root : "/", *s;
	struct pgp_common *c = &o->common;
	char data_dir[1024] = "";

	memset(in, 0, sizeof(in[0]));
	if ((s = pick_string(conf, o->memory, "tune.memory", &in->memory_source))) {
		if (pgp_parse_size(s, &in->memory_bytes) < 0 || in->memory_bytes < 256ULL << 20)
			pgp_usage_error(c, "invalid memory size \"%s\" (at least 256MB, e.g. 8GB)", s);
	}
	in->cpus = (int) pick_int(conf, o->cpus, "tune.cpus", &in->cpus_source);
	if (conn && !pgp_host_is_local(PQhost(conn)) && (!in->memory_bytes || !in->cpus))
		pgp_usage_error(c, "%s is not this machine: give its --memory and --cpus (or tune.memory "
				"and tune.cpus)", PQhost(conn));
	if (!in->memory_bytes) {
		if (pgp_sys_memory(root, &in->memory_bytes, &s) < 0)
			return -1;
		in->memory_source = "detected";
		pgp_debug("memory: %llu bytes from %s", in->memory_bytes, s);
	}
	if (!in->cpus) {
		if (pgp_sys_cpus(root, &in->cpus, &s) < 0)
			return -1;
		in->cpus_source = "detected";
		pgp_debug("CPUs: %d from %s", in->cpus, s);
	}

	in->workload_source = "default";
	in->workload = WL_WEB;
	if ((s = pick_string(conf, o->workload, "tune.workload", &in->workload_source))) {
		int w = lookup_name(workload_names, WL_COUNT, s);

		if (w < 0)
			pgp_usage_error(c, "invalid workload \"%s\" (web, oltp, dw, desktop or mixed)", s);
		in->workload = (enum workload) w;
	}
	in->connections_source = "default";
	in->connections = (int) pick_int(conf, o->connections, "tune.connections", &in->connections_source);

	in->version_source = "default";
	in->pg_version = (int) pick_int(conf, o->pg_version, "tune.pg_version", &in->version_source);
	if (conn) {
		struct pgp_server_role who;
		PGresult *res;

		if (pgp_conn_server_role(conn, &who) < 0)
			return -1;
		if (!in->pg_version) {
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
	if (!in->pg_version)
		in->pg_version = 15;

	in->storage = ST_SSD;
	in->storage_source = "default";
	if ((s = pick_string(conf, o->storage, "tune.storage", &in->storage_source))) {
		int st = lookup_name(storage_names, ST_COUNT, s);

		if (st < 0)
			pgp_usage_error(c, "invalid storage \"%s\" (ssd, hdd or san)", s);
		in->storage = (enum storage) st;
	} else {
		const char *path = o->data_dir ? o->data_dir : *data_dir ? data_dir : "/";
		int rot = pgp_sys_path_rotational(root, path);

		if (rot >= 0) {
			in->storage = rot ? ST_HDD : ST_SSD;
			in->storage_source = "detected";
		}
		pgp_debug("storage of %s: rotational flag %d", path, rot);
	}
	return 0;
}

/*
 * A server on another machine has hardware we cannot see: refuse before
 * connecting when the connection string names a remote host and the
 * hardware was not given.  (A service's host is checked after connecting.)
 */
static int
remote_without_hardware(const struct opts *o, const struct pgp_conf *conf, const struct pgp_connspec *spec)
{
	PQconninfoOption *opts = PQconninfoParse(spec->conninfo, NULL);
	const char *mem = NULL;
	long long cpus = 0;
	int remote = 0;

	for (PQconninfoOption *p = opts; p && p->keyword; p++)
		if (p->val && (!strcmp(p->keyword, "host") || !strcmp(p->keyword, "hostaddr")))
			remote |= !pgp_host_is_local(p->val);
	PQconninfoFree(opts);
	if (!remote)
		return 0;
	if (!o->memory)
		pgp_conf_get_string(conf, "tune.memory", &mem);
	if (!o->cpus)
		pgp_conf_get_int(conf, "tune.cpus", &cpus);
	return !(o->memory || mem) || !(o->cpus || cpus);
}

static int
run(struct opts *o, const struct pgp_conf *conf)
{
	const char *format = o->common.format ? o->common.format : "conf";
	int wants_server = o->common.conninfo || o->common.target || o->apply || o->check;
	struct tune_inputs in;
	struct tune_result *r = calloc(1, sizeof(*r));
	struct pgp_connspec spec;
	PGconn *conn = NULL;
	double tolerance = o->tolerance;
	int rc = PGP_EXIT_FAILED;

	if (!r)
		return PGP_EXIT_FAILED;
	if (tolerance < 0 && pgp_conf_get_float(conf, "tune.tolerance", &tolerance) == 1)
		tolerance /= 100.0;
	if (wants_server) {
		if (pgp_conn_spec(conf, &o->common, "tune.target", &spec) < 0) {
			rc = PGP_EXIT_USAGE;
			goto done;
		}
		if ((o->apply || o->check) && !*spec.conninfo && !o->common.target)
			pgp_usage_error(&o->common, "--apply and --check need a server: -d or -t");
		if (remote_without_hardware(o, conf, &spec))
			pgp_usage_error(&o->common, "the target is not this machine: give its --memory and "
					"--cpus (or tune.memory and tune.cpus)");
		conn = pgp_conn_open(&spec, NULL);
		if (!conn) {
			rc = PGP_EXIT_UNREACHABLE;
			goto done;
		}
	}
	if (gather_inputs(o, conf, conn, &in) < 0)
		goto done;
	recommend(&in, r);
	if (conn && live_fetch(conn, r) < 0)
		goto done;

	if (o->check) {
		int drifted = live_check(r, tolerance, o->common.verbosity < 0);

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
		rc = live_apply(conn, r) < 0 ? PGP_EXIT_FAILED : PGP_EXIT_OK;
	} else {
		int out = !strcmp(format, "sql") ? print_sql(&in, r, o->explain)
			: !strcmp(format, "json") ? print_json(&in, r)
			: !strcmp(format, "pgbouncer") ? print_pgbouncer(&in, r)
			: print_conf(&in, r, o->explain);

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
	parse_options(argc, argv, &o);
	rc = pgp_setup(&o.common, &conf);
	if (rc == 0)
		rc = run(&o, conf);
	pgp_conf_free(conf);
	return rc;
}
