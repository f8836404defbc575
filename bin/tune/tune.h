/*
 * pgp-tune's model: inputs (hardware, workload, version) in, a list of
 * settings out, each with a value in postgresql.conf syntax and a reason
 * in words.  tune_recommend() is a pure function, so golden tests pin it.
 */
#ifndef PGP_TUNE_H
#define PGP_TUNE_H

#include <libpq-fe.h>

enum tune_workload { TUNE_WL_WEB, TUNE_WL_OLTP, TUNE_WL_DW, TUNE_WL_DESKTOP, TUNE_WL_MIXED, TUNE_WL_COUNT };
enum tune_storage { TUNE_ST_SSD, TUNE_ST_HDD, TUNE_ST_SAN, TUNE_ST_COUNT };

extern const char *const tune_workload_names[TUNE_WL_COUNT];
extern const char *const tune_storage_names[TUNE_ST_COUNT];

struct tune_inputs {
	unsigned long long memory_bytes;
	int cpus;
	enum tune_storage storage;
	enum tune_workload workload;
	int connections;		/* 0: from the workload */
	int pg_version;			/* major: 13 .. 18 */
	/* where each came from: "detected", "given", "config", "default" */
	const char *memory_source, *cpus_source, *storage_source;
	const char *workload_source, *connections_source, *version_source;
	int lz4;			/* the server was built with lz4 (known live) */
};

/* How a value compares with a live one. */
enum tune_value_kind { TUNE_VK_BYTES, TUNE_VK_MS, TUNE_VK_INT, TUNE_VK_REAL, TUNE_VK_TEXT };

#define TUNE_MAX_SETTINGS 48

struct tune_setting {
	const char *name;
	char value[32];			/* postgresql.conf syntax: "4GB", "0.9", "try" */
	const char *unit;		/* pg_settings' unit, or NULL */
	enum tune_value_kind kind;
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
	struct tune_setting settings[TUNE_MAX_SETTINGS];
	int count;
	unsigned long long budget_bytes;	/* shared_buffers + connections x work_mem + ... */
	char warnings[4][256];
	int n_warnings;
};

/* formulas.c */
void tune_recommend(const struct tune_inputs *in, struct tune_result *out);
struct tune_setting *tune_find_setting(struct tune_result *r, const char *name);
/* "13617kB", "4GB": the largest unit that divides exactly, as PostgreSQL prints. */
void tune_format_bytes(unsigned long long bytes, char *buf, unsigned long size);
/* A live value with its pg_settings unit into bytes, ms or a number. */
double tune_live_number(const char *setting, const char *unit, enum tune_value_kind kind);
/*
 * A live value as --check prints it: "128MB", "200ms"; a special value
 * such as -1 as the server shows it, never converted.
 */
void tune_describe_live(const char *setting, const char *unit, enum tune_value_kind kind, char *buf,
			unsigned long size);

/* live.c: a server's settings, --apply and --check */
int tune_live_fetch(PGconn *conn, struct tune_result *r);
int tune_live_apply(PGconn *conn, struct tune_result *r);
int tune_live_check(const struct tune_result *r, double tolerance, int quiet);

/* output.c */
int tune_print_conf(const struct tune_inputs *in, const struct tune_result *r, int explain);
int tune_print_sql(const struct tune_inputs *in, const struct tune_result *r, int explain);
int tune_print_json(const struct tune_inputs *in, const struct tune_result *r);
int tune_print_pgbouncer(const struct tune_inputs *in, const struct tune_result *r);

#endif
