/*
 * pgp-tune's model: inputs (hardware, workload, version) in, a list of
 * settings out, each with a value in postgresql.conf syntax and a reason
 * in words.  recommend() is a pure function, so golden tests pin it.
 */
#ifndef PGP_TUNE_H
#define PGP_TUNE_H

#include <libpq-fe.h>

enum workload { WL_WEB, WL_OLTP, WL_DW, WL_DESKTOP, WL_MIXED, WL_COUNT };
enum storage { ST_SSD, ST_HDD, ST_SAN, ST_COUNT };

extern const char *const workload_names[WL_COUNT];
extern const char *const storage_names[ST_COUNT];

struct tune_inputs {
	unsigned long long memory_bytes;
	int cpus;
	enum storage storage;
	enum workload workload;
	int connections;		/* 0: from the workload */
	int pg_version;			/* major: 13 .. 18 */
	/* where each came from: "detected", "given", "config", "default" */
	const char *memory_source, *cpus_source, *storage_source;
	const char *workload_source, *connections_source, *version_source;
	int lz4;			/* the server was built with lz4 (known live) */
};

/* How a value compares with a live one. */
enum value_kind { VK_BYTES, VK_MS, VK_INT, VK_REAL, VK_TEXT };

#define MAX_SETTINGS 48

struct setting {
	const char *name;
	char value[32];			/* postgresql.conf syntax: "4GB", "0.9", "try" */
	const char *unit;		/* pg_settings' unit, or NULL */
	enum value_kind kind;
	double number;			/* bytes, ms or the number itself */
	int restart;			/* takes effect only after a restart */
	char reason[256];
	/* filled from a live server (-d/-t) */
	char current[64];		/* pg_settings.setting with unit, or "" */
	char live[64];			/* pg_settings.setting as is */
	double live_number;		/* the live value in bytes, ms or itself */
	int has_current;
	int pending_restart;
};

struct tune_result {
	struct setting settings[MAX_SETTINGS];
	int count;
	unsigned long long budget_bytes;	/* shared_buffers + connections x work_mem + ... */
	char warnings[4][256];
	int n_warnings;
};

/* formulas.c */
void recommend(const struct tune_inputs *in, struct tune_result *out);
struct setting *find_setting(struct tune_result *r, const char *name);
/* "13617kB", "4GB": the largest unit that divides exactly, as PostgreSQL prints. */
void format_bytes(unsigned long long bytes, char *buf, unsigned long size);
/* A live value with its pg_settings unit into bytes, ms or a number. */
double live_number(const char *setting, const char *unit, enum value_kind kind);

/* live.c: a server's settings, --apply and --check */
int live_fetch(PGconn *conn, struct tune_result *r);
int live_apply(PGconn *conn, struct tune_result *r);
int live_check(const struct tune_result *r, double tolerance, int quiet);

/* output.c */
int print_conf(const struct tune_inputs *in, const struct tune_result *r, int explain);
int print_sql(const struct tune_inputs *in, const struct tune_result *r, int explain);
int print_json(const struct tune_inputs *in, const struct tune_result *r);
int print_pgbouncer(const struct tune_inputs *in, const struct tune_result *r);

#endif
