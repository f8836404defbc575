/*
 * What pgp-tune prints: a postgresql.conf fragment for include/conf.d,
 * ALTER SYSTEM statements, one JSON object, or a PgBouncer pool section.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "pool.h"
#include "tune.h"
#include "version.h"

static void
header(const struct tune_inputs *in, const struct tune_result *r, const char *c)
{
	char mem[32];

	tune_format_bytes(in->memory_bytes - in->memory_bytes % (1024 * 1024), mem, sizeof(mem));
	printf("%s Written by pgp-tune %s for PostgreSQL %d: %s RAM (%s), %d CPUs (%s),\n", c,
	       PGP_VERSION, in->pg_version, mem, in->memory_source, in->cpus, in->cpus_source);
	printf("%s %s storage (%s), %s workload (%s)", c, tune_storage_names[in->storage],
	       in->storage_source, tune_workload_names[in->workload], in->workload_source);
	if (in->connections > 0)
		printf(", %d connections (%s)", in->connections, in->connections_source);
	printf(".\n");
	for (int i = 0; i < r->n_warnings; i++)
		printf("%s WARNING: %s\n", c, r->warnings[i]);
}

static void
warn_stderr(const struct tune_result *r)
{
	for (int i = 0; i < r->n_warnings; i++)
		pgp_warning("%s", r->warnings[i]);
}

int
tune_print_conf(const struct tune_inputs *in, const struct tune_result *r, int explain)
{
	header(in, r, "#");
	printf("# Settings marked (restart) take effect only after a restart.\n\n");
	for (int i = 0; i < r->count; i++) {
		const struct tune_setting *s = &r->settings[i];

		if (explain)
			printf("# %s\n", s->reason);
		printf("%s = '%s'%s\n", s->name, s->value, s->restart ? "\t# (restart)" : "");
		if (explain && i + 1 < r->count)
			printf("\n");
	}
	warn_stderr(r);
	return ferror(stdout) ? -1 : 0;
}

int
tune_print_sql(const struct tune_inputs *in, const struct tune_result *r, int explain)
{
	header(in, r, "--");
	for (int i = 0; i < r->count; i++) {
		const struct tune_setting *s = &r->settings[i];

		if (explain)
			printf("-- %s\n", s->reason);
		/* Our values are digits, letters and dots: no quote can occur. */
		printf("ALTER SYSTEM SET %s = '%s';\n", s->name, s->value);
	}
	printf("SELECT pg_reload_conf();\n");
	warn_stderr(r);
	return ferror(stdout) ? -1 : 0;
}

static struct json_object *
input(long long number, const char *text, const char *source)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "value", text ? pgp_json_cstring(text) : json_object_new_int64(number));
	json_object_object_add(o, "source", pgp_json_cstring(source));
	return o;
}

int
tune_print_json(const struct tune_inputs *in, const struct tune_result *r)
{
	struct json_object *o = json_object_new_object(), *ins = json_object_new_object();
	struct json_object *list = json_object_new_array(), *warnings = json_object_new_array();
	int rc;

	json_object_object_add(ins, "memory_bytes", input((long long) in->memory_bytes, NULL, in->memory_source));
	json_object_object_add(ins, "cpus", input(in->cpus, NULL, in->cpus_source));
	json_object_object_add(ins, "storage", input(0, tune_storage_names[in->storage], in->storage_source));
	json_object_object_add(ins, "workload", input(0, tune_workload_names[in->workload], in->workload_source));
	json_object_object_add(ins, "connections",
			       input((long long) tune_find_setting((struct tune_result *) r, "max_connections")->number,
				     NULL, in->connections_source));
	json_object_object_add(ins, "pg_version", input(in->pg_version, NULL, in->version_source));
	json_object_object_add(o, "inputs", ins);
	for (int i = 0; i < r->count; i++) {
		const struct tune_setting *s = &r->settings[i];
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "name", pgp_json_cstring(s->name));
		json_object_object_add(e, "value", pgp_json_cstring(s->value));
		json_object_object_add(e, "unit", pgp_json_cstring(s->unit));
		json_object_object_add(e, "current", s->has_current ? pgp_json_cstring(s->current) : NULL);
		json_object_object_add(e, "restart", json_object_new_boolean(s->restart));
		json_object_object_add(e, "reason", pgp_json_cstring(s->reason));
		json_object_array_add(list, e);
	}
	json_object_object_add(o, "settings", list);
	json_object_object_add(o, "memory_budget_bytes", json_object_new_int64((long long) r->budget_bytes));
	for (int i = 0; i < r->n_warnings; i++)
		json_object_array_add(warnings, pgp_json_cstring(r->warnings[i]));
	json_object_object_add(o, "warnings", warnings);
	rc = pgp_json_print(stdout, o, 1);
	json_object_put(o);
	return rc;
}

int
tune_print_pgbouncer(const struct tune_inputs *in, const struct tune_result *r)
{
	struct pgp_pool_sizes sz;
	int max_connections = (int) tune_find_setting((struct tune_result *) r, "max_connections")->number;

	pgp_pool_plan(&(struct pgp_pool_input){.max_connections = max_connections,
						.reserved = PGP_POOL_RESERVED_DEFAULT, .cpus = in->cpus}, &sz);
	header(in, r, ";;");
	printf(";; Transaction pooling sized for max_connections = %d: %d server connections\n"
	       ";; stay outside the pooler for the admin, migrations, monitoring and backups.\n"
	       "[pgbouncer]\npool_mode = transaction\ndefault_pool_size = %d\nreserve_pool_size = %d\n"
	       "max_db_connections = %d\nmax_client_conn = %d\n",
	       max_connections, sz.headroom, sz.default_pool_size, sz.reserve_pool_size,
	       sz.max_db_connections, sz.max_client_conn);
	return ferror(stdout) ? -1 : 0;
}
