/*
 * The formulas.  They start from PGTune's (25% of RAM to shared_buffers,
 * 75% as effective cache, work_mem from what is left per connection) and
 * go further where operators were bitten: headroom for background workers,
 * no maintenance memory VACUUM cannot use before PostgreSQL 17, JIT off for
 * short queries, never wal_level = minimal, never huge_pages = on, parameters
 * only on versions that have them, and a memory budget that is checked.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tune.h"

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)

const char *const tune_workload_names[TUNE_WL_COUNT] = {"web", "oltp", "dw", "desktop", "mixed"};
const char *const tune_storage_names[TUNE_ST_COUNT] = {"ssd", "hdd", "san"};

void
tune_format_bytes(unsigned long long bytes, char *buf, unsigned long size)
{
	unsigned long long kb = bytes / KB;

	if (kb && kb % (1024ULL * 1024 * 1024) == 0)
		snprintf(buf, size, "%lluTB", kb / (1024ULL * 1024 * 1024));
	else if (kb && kb % (1024ULL * 1024) == 0)
		snprintf(buf, size, "%lluGB", kb / (1024ULL * 1024));
	else if (kb && kb % 1024 == 0)
		snprintf(buf, size, "%lluMB", kb / 1024);
	else
		snprintf(buf, size, "%llukB", kb);
}

static struct tune_setting *
add(struct tune_result *r, const char *name, enum tune_value_kind kind, const char *unit, int restart)
{
	struct tune_setting *s = &r->settings[r->count++];

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->kind = kind;
	s->unit = unit;
	s->restart = restart;
	return s;
}

/* A memory setting, rounded down to what its unit can hold. */
static struct tune_setting *
add_bytes(struct tune_result *r, const char *name, const char *unit, int restart,
	  unsigned long long bytes)
{
	struct tune_setting *s = add(r, name, TUNE_VK_BYTES, unit, restart);
	unsigned long long step = unit && !strcmp(unit, "8kB") ? 8 * KB : unit && !strcmp(unit, "MB") ? MB : KB;

	bytes -= bytes % step;
	s->number = (double) bytes;
	tune_format_bytes(bytes, s->value, sizeof(s->value));
	return s;
}

static struct tune_setting *
add_int(struct tune_result *r, const char *name, int restart, long long v)
{
	struct tune_setting *s = add(r, name, TUNE_VK_INT, NULL, restart);

	s->number = (double) v;
	snprintf(s->value, sizeof(s->value), "%lld", v);
	return s;
}

static struct tune_setting *
add_real(struct tune_result *r, const char *name, double v)
{
	struct tune_setting *s = add(r, name, TUNE_VK_REAL, NULL, 0);

	s->number = v;
	snprintf(s->value, sizeof(s->value), "%g", v);
	return s;
}

static struct tune_setting *
add_text(struct tune_result *r, const char *name, int restart, const char *v)
{
	struct tune_setting *s = add(r, name, TUNE_VK_TEXT, NULL, restart);

	snprintf(s->value, sizeof(s->value), "%s", v);
	return s;
}

static struct tune_setting *
add_ms(struct tune_result *r, const char *name, long long ms, const char *text)
{
	struct tune_setting *s = add(r, name, TUNE_VK_MS, "ms", 0);

	s->number = (double) ms;
	snprintf(s->value, sizeof(s->value), "%s", text);
	return s;
}

#define WHY(s, ...) snprintf((s)->reason, sizeof((s)->reason), __VA_ARGS__)

static int
clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void
warn(struct tune_result *r, const char *text)
{
	if (r->n_warnings < 4)
		snprintf(r->warnings[r->n_warnings++], sizeof(r->warnings[0]), "%s", text);
}

void
tune_recommend(const struct tune_inputs *in, struct tune_result *r)
{
	static const int default_connections[TUNE_WL_COUNT] = {200, 300, 40, 20, 100};
	static const unsigned long long min_wal[TUNE_WL_COUNT] = {1 * GB, 2 * GB, 4 * GB, 100 * MB, 1 * GB};
	static const unsigned long long max_wal[TUNE_WL_COUNT] = {4 * GB, 8 * GB, 16 * GB, 2 * GB, 4 * GB};
	unsigned long long ram = in->memory_bytes, sb, mwm, wm, avwm, wal;
	enum tune_workload w = in->workload;
	int n = in->connections > 0 ? in->connections : default_connections[w];
	int cpus = in->cpus > 0 ? in->cpus : 1, workers, gather, pworkers, maint, avw;
	char ram_s[32], buf[32];
	struct tune_setting *s;
	double base;

	memset(r, 0, sizeof(*r));
	tune_format_bytes(ram - ram % MB, ram_s, sizeof(ram_s));

	s = add_int(r, "max_connections", 1, n);
	WHY(s, in->connections > 0 ? "as given (%d); put PgBouncer in front rather than raising it"
	    : "%d for a %s workload; more clients belong in a pooler, not in backends", n, tune_workload_names[w]);

	/* A quarter of RAM (a sixteenth on a desktop); past 64GB the OS cache
	 * serves as well and checkpoints only get longer. */
	sb = w == TUNE_WL_DESKTOP ? ram / 16 : ram / 4;
	if (sb > 64 * GB)
		sb = 64 * GB;
	if (sb < 128 * KB)
		sb = 128 * KB;
	s = add_bytes(r, "shared_buffers", "8kB", 1, sb);
	sb = (unsigned long long) s->number;
	WHY(s, "%s of %s RAM%s", w == TUNE_WL_DESKTOP ? "1/16" : "25%", ram_s,
	    ram / 4 > 64 * GB ? ", capped at 64GB: the OS page cache serves the rest as well" : "");

	s = add_bytes(r, "effective_cache_size", "8kB", 0, w == TUNE_WL_DESKTOP ? ram / 4 : ram * 3 / 4);
	WHY(s, "what shared_buffers and the OS cache hold together (%s of RAM); a planner hint, "
	    "no memory is allocated", w == TUNE_WL_DESKTOP ? "1/4" : "3/4");

	/* Before PostgreSQL 17, VACUUM uses at most 1GB of it; index builds more. */
	mwm = w == TUNE_WL_DW ? ram / 8 : ram / 16;
	if (mwm > (in->pg_version >= 17 ? 4 * GB : 2 * GB))
		mwm = in->pg_version >= 17 ? 4 * GB : 2 * GB;
	if (mwm < 64 * MB)
		mwm = 64 * MB;
	s = add_bytes(r, "maintenance_work_mem", "kB", 0, mwm);
	WHY(s, "1/%d of RAM for VACUUM and index builds, capped at %s", w == TUNE_WL_DW ? 8 : 16,
	    in->pg_version >= 17 ? "4GB" : "2GB");

	/* Each autovacuum worker may take this much at once: all of them
	 * together stay within 1/8 of RAM. */
	avw = clamp(cpus / 4, 3, 8);
	avwm = mwm > GB && in->pg_version < 17 ? GB : mwm;
	if (avwm > ram / 8 / (unsigned long long) avw)
		avwm = ram / 8 / (unsigned long long) avw;
	if (avwm < 32 * MB)
		avwm = 32 * MB;
	s = add_bytes(r, "autovacuum_work_mem", "kB", 0, avwm);
	avwm = (unsigned long long) s->number;
	WHY(s, "for each of %d autovacuum workers: maintenance_work_mem%s, all of them within 1/8 of RAM",
	    avw, in->pg_version < 17 ? " up to 1GB, what VACUUM can use before PostgreSQL 17" : "");

	/* Parallelism: every core, with headroom for replication and extensions. */
	workers = cpus + 4 < 8 ? 8 : cpus + 4;
	pworkers = cpus < 2 ? 2 : cpus;
	gather = clamp((cpus + 1) / 2, 1, w == TUNE_WL_DW ? 8 : 4);
	maint = clamp((cpus + 1) / 2, 1, 4);
	s = add_int(r, "max_worker_processes", 1, workers);
	WHY(s, "%d CPUs plus 4 for logical replication and extensions' workers (at least 8)", cpus);
	s = add_int(r, "max_parallel_workers", 0, pworkers);
	WHY(s, "one per CPU (%d)", cpus);
	s = add_int(r, "max_parallel_workers_per_gather", 0, gather);
	WHY(s, "half the CPUs, at most %d for a %s workload", w == TUNE_WL_DW ? 8 : 4, tune_workload_names[w]);
	s = add_int(r, "max_parallel_maintenance_workers", 0, maint);
	WHY(s, "half the CPUs, at most 4, for CREATE INDEX and VACUUM");

	/* work_mem: what shared_buffers leaves, shared by every connection and
	 * parallel worker, three sorts or hashes each (PGTune's divisor). */
	base = (double) (ram - sb) / ((double) (n + pworkers) * 3.0);
	if (w == TUNE_WL_DW || w == TUNE_WL_MIXED)
		base /= 2;
	else if (w == TUNE_WL_DESKTOP)
		base /= 6;
	wm = (unsigned long long) floor(base);
	if (wm < 64 * KB)
		wm = 64 * KB;
	s = add_bytes(r, "work_mem", "kB", 0, wm);
	wm = (unsigned long long) s->number;
	WHY(s, "(RAM - shared_buffers) / ((%d connections + %d parallel workers) x 3)%s", n, pworkers,
	    w == TUNE_WL_DW || w == TUNE_WL_MIXED ? " / 2" : w == TUNE_WL_DESKTOP ? " / 6" : "");

	wal = sb * 3 / 100;
	if (wal > 16 * MB)
		wal = 16 * MB;
	if (wal < 32 * KB)
		wal = 32 * KB;
	s = add_bytes(r, "wal_buffers", "8kB", 1, wal);
	WHY(s, "3%% of shared_buffers, at most one 16MB WAL segment");

	s = add_bytes(r, "min_wal_size", "MB", 0, min_wal[w]);
	WHY(s, "WAL kept for reuse on a %s workload", tune_workload_names[w]);
	s = add_bytes(r, "max_wal_size", "MB", 0, max_wal[w]);
	WHY(s, "room between checkpoints, so they come from checkpoint_timeout, not WAL volume");
	s = add_real(r, "checkpoint_completion_target", 0.9);
	WHY(s, "spread checkpoint writes over 90%% of the interval");
	s = add_text(r, "wal_compression", 0, in->lz4 && in->pg_version >= 15 ? "lz4" : "on");
	WHY(s, "full-page images compressed: less WAL to write, archive and replicate%s",
	    in->lz4 && in->pg_version >= 15 ? " (lz4: cheap on CPU)" : "");

	s = add_real(r, "random_page_cost", in->storage == TUNE_ST_HDD ? 4.0 : 1.1);
	WHY(s, in->storage == TUNE_ST_HDD ? "spinning disk: random reads cost about 4 sequential ones"
	    : "%s: random reads cost about what sequential ones do", tune_storage_names[in->storage]);
	s = add_int(r, "effective_io_concurrency", 0, in->storage == TUNE_ST_HDD ? 2 : in->storage == TUNE_ST_SAN ? 300 : 200);
	WHY(s, "concurrent prefetch requests the %s can serve", tune_storage_names[in->storage]);

	s = add_int(r, "default_statistics_target", 0, w == TUNE_WL_DW ? 500 : 100);
	WHY(s, w == TUNE_WL_DW ? "finer statistics for the big, skewed queries of a data warehouse"
	    : "PostgreSQL's default: enough for short queries");

	/* "try" uses reserved huge pages and starts without them; "on" would
	 * keep the server from starting when none are reserved. */
	s = add_text(r, "huge_pages", 1, "try");
	WHY(s, "use huge pages when vm.nr_hugepages reserves them (about %llu 2MB pages for this "
	    "shared_buffers); never \"on\", which stops the server from starting without them",
	    (sb + sb / 10) / (2 * MB) + 1);

	s = add_int(r, "autovacuum_max_workers", 1, avw);
	WHY(s, "a quarter of the CPUs, between 3 and 8");
	s = add_real(r, "autovacuum_vacuum_scale_factor", w == TUNE_WL_DW ? 0.1 : 0.05);
	WHY(s, "vacuum after %s%% of a table changed (default 20%%): big tables no longer wait for "
	    "millions of dead rows", w == TUNE_WL_DW ? "10" : "5");
	s = add_real(r, "autovacuum_analyze_scale_factor", w == TUNE_WL_DW ? 0.05 : 0.02);
	WHY(s, "analyze after %s%% changed (default 10%%) so plans follow the data",
	    w == TUNE_WL_DW ? "5" : "2");
	if (in->pg_version >= 13) {
		s = add_real(r, "autovacuum_vacuum_insert_scale_factor", w == TUNE_WL_DW ? 0.1 : 0.05);
		WHY(s, "insert-only tables get vacuumed (visibility map, freezing) sooner");
	}
	s = add_int(r, "autovacuum_vacuum_cost_limit", 0, in->storage == TUNE_ST_HDD ? 400 : 2000);
	WHY(s, in->storage == TUNE_ST_HDD ? "twice the default throttle: a disk that spins has little to spare"
	    : "ten times the default throttle: SSDs absorb vacuum I/O, and slow vacuum means bloat");

	if (w == TUNE_WL_DESKTOP) {
		s = add_ms(r, "idle_in_transaction_session_timeout", 0, "0");
		WHY(s, "off on a desktop: sessions are interactive");
	} else {
		long long ms = w == TUNE_WL_DW ? 3600000 : 600000;

		s = add_ms(r, "idle_in_transaction_session_timeout", ms, w == TUNE_WL_DW ? "1h" : "10min");
		WHY(s, "a forgotten open transaction holds locks and blocks vacuum: end it after %s "
		    "(pgp-create sets tighter values per role)", w == TUNE_WL_DW ? "an hour" : "10 minutes");
	}
	if (w == TUNE_WL_WEB || w == TUNE_WL_OLTP) {
		s = add_text(r, "jit", 0, "off");
		WHY(s, "JIT compilation costs more than short %s queries gain", tune_workload_names[w]);
	}
	if (in->pg_version >= 18) {
		s = add_text(r, "io_method", 1, "worker");
		WHY(s, "asynchronous I/O through worker processes, available on every build "
		    "(io_uring needs a build with liburing)");
		s = add_int(r, "io_workers", 1, clamp(cpus / 4, 3, 32));
		WHY(s, "a quarter of the CPUs, at least 3");
	}

	/* The budget: what the settings may take at once. */
	r->budget_bytes = sb + (unsigned long long) n * wm + (unsigned long long) avw * avwm;
	if (r->budget_bytes > ram) {
		tune_format_bytes(r->budget_bytes - r->budget_bytes % MB, buf, sizeof(buf));
		snprintf(r->warnings[r->n_warnings++], sizeof(r->warnings[0]),
			 "memory oversubscribed: shared_buffers + %d connections x work_mem + autovacuum "
			 "need %s of %s RAM; lower --connections or add a pooler", n, buf, ram_s);
	}
	if (ram < 1 * GB)
		warn(r, "less than 1GB of RAM: these settings are a floor, not a recommendation");
}

struct tune_setting *
tune_find_setting(struct tune_result *r, const char *name)
{
	for (int i = 0; i < r->count; i++)
		if (strcmp(r->settings[i].name, name) == 0)
			return &r->settings[i];
	return NULL;
}

double
tune_live_number(const char *setting, const char *unit, enum tune_value_kind kind)
{
	double v = 0;

	if (sscanf(setting, "%lf", &v) != 1)
		return 0;
	/* -1 and the like are not amounts ("use maintenance_work_mem",
	 * "no limit"): never scaled by the unit, never shown as bytes. */
	if (v < 0)
		return v;
	if (kind == TUNE_VK_BYTES && unit) {
		if (!strcmp(unit, "8kB"))
			v *= 8192;
		else if (!strcmp(unit, "kB"))
			v *= 1024;
		else if (!strcmp(unit, "MB"))
			v *= 1024 * 1024;
	}
	if (kind == TUNE_VK_MS && unit) {
		if (!strcmp(unit, "s"))
			v *= 1000;
		else if (!strcmp(unit, "min"))
			v *= 60000;
	}
	return v;
}

void
tune_describe_live(const char *setting, const char *unit, enum tune_value_kind kind, char *buf,
		   unsigned long size)
{
	double v = tune_live_number(setting, unit, kind);

	if (v < 0 || (kind != TUNE_VK_BYTES && kind != TUNE_VK_MS) || (kind == TUNE_VK_MS && v == 0))
		snprintf(buf, size, "%s", setting);
	else if (kind == TUNE_VK_BYTES)
		tune_format_bytes((unsigned long long) v, buf, size);
	else
		snprintf(buf, size, "%s%s", setting, unit ? unit : "");
}
