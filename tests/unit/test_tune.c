/*
 * pgp-tune's formulas: golden values worked out by hand, and invariants
 * over every workload, PostgreSQL 13 to 18 and RAM from 512MB to 1TB.
 */
#include <string.h>

#include "../../bin/tune/tune.h"
#include "conn.h"
#include "tap.h"

#define MB (1024ULL * 1024)
#define GB (1024ULL * MB)

static struct tune_result r;

static const char *
val(const char *name)
{
	struct tune_setting *s = tune_find_setting(&r, name);

	return s ? s->value : NULL;
}

static void
tune(unsigned long long ram, int cpus, enum tune_workload w, enum tune_storage st, int version)
{
	struct tune_inputs in;

	memset(&in, 0, sizeof(in));
	in.memory_bytes = ram;
	in.cpus = cpus;
	in.workload = w;
	in.storage = st;
	in.pg_version = version;
	tune_recommend(&in, &r);
}

int
main(void)
{
	char buf[32];
	int bad;

	tune_format_bytes(4 * GB, buf, sizeof(buf));
	is_str(buf, "4GB", "format: whole GB");
	tune_format_bytes(13617 * 1024ULL, buf, sizeof(buf));
	is_str(buf, "13617kB", "format: kB when MB does not divide");
	tune_format_bytes(1024 * GB, buf, sizeof(buf));
	is_str(buf, "1TB", "format: TB");

	/* 16GB, 8 CPUs, web, SSD, PostgreSQL 15. */
	tune(16 * GB, 8, TUNE_WL_WEB, TUNE_ST_SSD, 15);
	is_str(val("max_connections"), "200", "web: 200 connections");
	is_str(val("shared_buffers"), "4GB", "16GB: shared_buffers 4GB");
	is_str(val("effective_cache_size"), "12GB", "16GB: effective_cache_size 12GB");
	is_str(val("maintenance_work_mem"), "1GB", "16GB: maintenance_work_mem 1GB");
	/* (16GB - 4GB) / ((200 + 8) * 3) = 20648881 bytes -> 20164kB */
	is_str(val("work_mem"), "20164kB", "16GB web: work_mem 20164kB");
	is_str(val("wal_buffers"), "16MB", "wal_buffers capped at 16MB");
	is_str(val("max_worker_processes"), "12", "8 CPUs + 4 workers of headroom");
	is_str(val("max_parallel_workers_per_gather"), "4", "half of 8 CPUs");
	is_str(val("random_page_cost"), "1.1", "SSD random_page_cost");
	is_str(val("effective_io_concurrency"), "200", "SSD effective_io_concurrency");
	is_str(val("jit"), "off", "web: JIT off");
	is_str(val("huge_pages"), "try", "huge_pages try, never on");
	is_str(val("idle_in_transaction_session_timeout"), "10min", "idle-in-transaction 10min");
	ok(val("io_method") == NULL, "PostgreSQL 15 has no io_method");
	ok(val("wal_level") == NULL, "wal_level never emitted");
	is_int(r.n_warnings, 0, "16GB web: no warning");
	/* 3 workers within 16GB / 8: 715827882 bytes -> 699050kB */
	is_str(val("autovacuum_work_mem"), "699050kB", "autovacuum workers together within 1/8 of RAM");

	/* 512MB, 1 CPU: the low end. */
	tune(512 * MB, 1, TUNE_WL_WEB, TUNE_ST_SSD, 15);
	is_str(val("shared_buffers"), "128MB", "512MB: shared_buffers 128MB");
	/* 384MB / ((200 + 2) * 3) = 664444 bytes -> 648kB */
	is_str(val("work_mem"), "648kB", "512MB web: work_mem 648kB");
	is_str(val("maintenance_work_mem"), "64MB", "512MB: maintenance_work_mem floor 64MB");
	is_str(val("wal_buffers"), "3928kB", "512MB: wal_buffers 3%% of shared_buffers");
	is_str(val("max_worker_processes"), "8", "1 CPU: max_worker_processes stays 8");

	/* 1TB, 64 CPUs, data warehouse, PostgreSQL 15. */
	tune(1024 * GB, 64, TUNE_WL_DW, TUNE_ST_SAN, 15);
	is_str(val("max_connections"), "40", "dw: 40 connections");
	is_str(val("shared_buffers"), "64GB", "1TB: shared_buffers capped at 64GB");
	is_str(val("effective_cache_size"), "768GB", "1TB: effective_cache_size 768GB");
	is_str(val("maintenance_work_mem"), "2GB", "PG15: maintenance_work_mem capped at 2GB");
	is_str(val("autovacuum_work_mem"), "1GB", "PG15: autovacuum_work_mem 1GB, what VACUUM can use");
	is_str(val("work_mem"), "1613193kB", "1TB dw: work_mem (1TB - 64GB) / (104 x 3) / 2");
	is_str(val("max_parallel_workers_per_gather"), "8", "dw: per-gather up to 8");
	is_str(val("autovacuum_max_workers"), "8", "64 CPUs: 8 autovacuum workers");
	is_str(val("default_statistics_target"), "500", "dw: statistics target 500");
	is_str(val("effective_io_concurrency"), "300", "SAN effective_io_concurrency");
	ok(val("jit") == NULL, "dw keeps JIT");

	/* Versions. */
	tune(128 * GB, 16, TUNE_WL_DW, TUNE_ST_SSD, 17);
	is_str(val("maintenance_work_mem"), "4GB", "PG17: maintenance_work_mem capped at 4GB");
	is_str(val("autovacuum_work_mem"), "4GB", "PG17: VACUUM uses it all");
	tune(8 * GB, 4, TUNE_WL_OLTP, TUNE_ST_SSD, 18);
	is_str(val("io_method"), "worker", "PG18: io_method worker");
	is_str(val("io_workers"), "3", "PG18: io_workers at least 3");
	tune(8 * GB, 4, TUNE_WL_OLTP, TUNE_ST_HDD, 13);
	ok(val("io_method") == NULL && val("autovacuum_vacuum_insert_scale_factor") != NULL,
	   "PG13: insert scale factor, no io_method");
	is_str(val("random_page_cost"), "4", "HDD random_page_cost 4");
	is_str(val("effective_io_concurrency"), "2", "HDD effective_io_concurrency 2");
	is_str(val("max_connections"), "300", "oltp: 300 connections");
	is_str(val("max_wal_size"), "8GB", "oltp: max_wal_size 8GB");

	/* Desktop. */
	tune(8 * GB, 4, TUNE_WL_DESKTOP, TUNE_ST_SSD, 15);
	is_str(val("shared_buffers"), "512MB", "desktop: 1/16 of RAM");
	is_str(val("idle_in_transaction_session_timeout"), "0", "desktop: no idle timeout");

	/* Oversubscription is said, not hidden. */
	{
		struct tune_inputs in;

		memset(&in, 0, sizeof(in));
		in.memory_bytes = 512 * MB;
		in.cpus = 1;
		in.connections = 5000;
		in.pg_version = 15;
		tune_recommend(&in, &r);
		ok(r.n_warnings > 0 && strstr(r.warnings[0], "oversubscribed"),
		   "5000 connections on 512MB: oversubscription warned");
		is_str(val("work_mem"), "64kB", "work_mem never below the server's 64kB minimum");
	}

	/* Invariants everywhere. */
	bad = 0;
	for (int v = 13; v <= 18; v++)
		for (int w = 0; w < TUNE_WL_COUNT; w++)
			for (unsigned long long ram = 512 * MB; ram <= 1024 * GB; ram *= 2)
				for (int cpus = 1; cpus <= 128; cpus *= 4) {
					struct tune_setting *mw, *pw, *pg;

					tune(ram, cpus, (enum tune_workload) w, TUNE_ST_SSD, v);
					mw = tune_find_setting(&r, "max_worker_processes");
					pw = tune_find_setting(&r, "max_parallel_workers");
					pg = tune_find_setting(&r, "max_parallel_workers_per_gather");
					if (ram >= 1 * GB && r.n_warnings)
						bad++, printf("# warning at %lluMB %s v%d: %s\n", ram / MB,
							      tune_workload_names[w], v, r.warnings[0]);
					if (r.budget_bytes > ram && ram >= 1 * GB)
						bad++;
					if (pg->number > pw->number || pw->number > mw->number)
						bad++, printf("# parallel workers inconsistent at %d CPUs\n", cpus);
					if (tune_find_setting(&r, "work_mem")->number < 64 * 1024 ||
					    tune_find_setting(&r, "shared_buffers")->number < 128 * 1024)
						bad++;
					if ((v >= 18) != (tune_find_setting(&r, "io_method") != NULL))
						bad++;
					for (int i = 0; i < r.count; i++)
						if (!*r.settings[i].value || !*r.settings[i].reason ||
						    !strcmp(r.settings[i].name, "wal_level"))
							bad++;
				}
	is_int(bad, 0, "every workload, PG 13-18, 512MB-1TB, 1-64 CPUs: budget fits, values valid");

	ok(pgp_host_is_local("/var/run/postgresql") && pgp_host_is_local("127.0.0.1") &&
	   pgp_host_is_local("localhost") && pgp_host_is_local("::1") && pgp_host_is_local(""),
	   "sockets and loopback are this machine");
	ok(!pgp_host_is_local("db.example.com") && !pgp_host_is_local("10.0.0.5"),
	   "other hosts are not");
	/* --check's live values: -1 is a setting of its own, never -1kB as bytes. */
	tune_describe_live("-1", "kB", TUNE_VK_BYTES, buf, sizeof(buf));
	is_str(buf, "-1", "autovacuum_work_mem = -1 is shown as -1, not 18014398509481983kB");
	ok(tune_live_number("-1", "kB", TUNE_VK_BYTES) == -1, "and compares as -1, not -1024 bytes");
	tune_describe_live("-1", "ms", TUNE_VK_MS, buf, sizeof(buf));
	is_str(buf, "-1", "a -1 duration is shown as -1");
	tune_describe_live("16384", "8kB", TUNE_VK_BYTES, buf, sizeof(buf));
	is_str(buf, "128MB", "16384 x 8kB is 128MB");
	tune_describe_live("65536", "kB", TUNE_VK_BYTES, buf, sizeof(buf));
	is_str(buf, "64MB", "65536kB is 64MB");
	tune_describe_live("200", "ms", TUNE_VK_MS, buf, sizeof(buf));
	is_str(buf, "200ms", "durations keep their unit");
	tune_describe_live("0", "ms", TUNE_VK_MS, buf, sizeof(buf));
	is_str(buf, "0", "0 stays 0");
	tune_describe_live("1.1", NULL, TUNE_VK_REAL, buf, sizeof(buf));
	is_str(buf, "1.1", "numbers as they are");
	return done_testing();
}
