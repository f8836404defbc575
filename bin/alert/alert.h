/*
 * pgp-alert's model.  A run checks one or more targets; each target gives
 * a list of check results; each result holds the items it measured (one
 * per database, standby, slot, table... or a single one), each with a raw
 * value, optional cumulative counters (for deltas) and a state.
 *
 *   catalog.c   the checks: defaults, value kind, direction, metrics
 *   threshold.c check_postgres's threshold syntax, parsed and compared (pure)
 *   queries.c   the version-gated SQL, chosen by a pure function
 *   collect.c   connections and the non-blocking driver for many targets
 *   pgbouncer.c PgBouncer's admin console: SHOW commands into pools
 *   evaluate.c  raw values and deltas into states and text
 *   state.c     the per-target state file (previous counters, each
 *               check's state and what was notified), locked
 *   notify.c    the notification state machine and its channels:
 *               webhook, Slack, Alertmanager (libcurl)
 *   output.c    nagios, prometheus and json
 *   config.c    every configuration read of pgp-alert, in one place
 */
#ifndef PGP_ALERT_H
#define PGP_ALERT_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "conf.h"
#include "conn.h"

/* Nagios states, also the order of badness used (after OK): see worse(). */
enum alert_state { ST_OK = 0, ST_WARNING = 1, ST_CRITICAL = 2, ST_UNKNOWN = 3 };

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *alert_state_name(enum alert_state s);
/* The worse of two states: CRITICAL > WARNING > UNKNOWN > OK. */
enum alert_state alert_worse(enum alert_state a, enum alert_state b);

/* ---- threshold.c -------------------------------------------------------- */

/* What a check's value is, which decides the units a threshold may use. */
enum value_kind {
	VK_SECONDS,		/* "30s", "5m", "2h", "1d", or plain seconds */
	VK_BYTES,		/* "100MB", "1GB", or plain bytes */
	VK_PERCENT,		/* "90%" or plain percent: the value is a percentage */
	VK_COUNT		/* plain numbers (and "N%" where the check has a max) */
};

struct threshold {
	int set;		/* 0: no threshold */
	double value;		/* seconds, bytes, percent or a count */
	int percent;		/* given as "N%" (of the item's max, for counts) */
};

/*
 * Parse one threshold for a check of the given kind; pct_of_max says
 * whether "N%" is allowed for a count/bytes (of a maximum the check knows).
 * "" or "none" gives an unset threshold.  0, or -1 with a reason in why.
 */
int threshold_parse(const char *text, enum value_kind kind, int pct_of_max,
		    struct threshold *out, char *why, size_t whysize);

/* The absolute limit for an item whose maximum is max (0: none known). */
double threshold_limit(const struct threshold *t, double max);

/*
 * Compare a value with warning and critical limits (absolute), critical
 * first; lower_is_worse for ratios such as the cache hit ratio.
 */
enum alert_state threshold_compare(double value, int warn_set, double warn,
				   int crit_set, double crit, int lower_is_worse);

/*
 * Pure: a ratio check over deltas: part/(part+rest) in percent, or -1 when
 * part+rest is below floor (not enough activity to judge).
 */
double delta_ratio(double part, double rest, double floor);
/* Pure: a counter's delta, or -1 when it went backwards (stats reset). */
double counter_delta(double now, double before);

/* Format seconds for people: "75s", "12m5s", "3h2m", "2d4h". */
void format_duration(double seconds, char *buf, size_t size);
/* Format bytes for people: "512B", "1.5MB", "3.0GB". */
void format_bytes_h(double bytes, char *buf, size_t size);

/* ---- catalog.c ---------------------------------------------------------- */

enum check_id {
	CK_CONNECTION, CK_BACKENDS, CK_IDLE_IN_TRANSACTION, CK_TXN_TIME, CK_QUERY_TIME,
	CK_LOCKS, CK_HITRATIO, CK_ROLLBACK_RATIO, CK_TXN_WRAPAROUND, CK_MULTIXACT,
	CK_AUTOVAC_FREEZE, CK_LAST_VACUUM, CK_LAST_ANALYZE, CK_DEAD_TUPLES,
	CK_INVALID_INDEXES, CK_INVALID_CONSTRAINTS, CK_DATABASE_SIZE, CK_WAL_FILES,
	CK_ARCHIVER, CK_REPLICATION, CK_REPLICATION_SLOTS, CK_SEQUENCE, CK_CHECKPOINTS,
	CK_PREPARED_TXNS, CK_DEADLOCKS, CK_TEMP_BYTES, CK_CERTIFICATE, CK_BACKUP,
	CK_SLOW_QUERIES, CK_BLOAT,
	CK_PGB_CLIENTS, CK_PGB_WAITING, CK_PGB_MAXWAIT, CK_PGB_SATURATION, CK_DISK_SPACE, CK_COUNT
};

#define CF_DELTA	0x01	/* value is a delta between runs (state file) */
#define CF_PCT_OF_MAX	0x02	/* "N%" thresholds relative to an item's max */
#define CF_LOWER_WORSE	0x04	/* lower values are worse (ratios, days left) */
#define CF_SERVER	0x08	/* needs a query to the server */
#define CF_CURRENT_DB	0x10	/* reads the connected database only */
#define CF_DAILY	0x20	/* slow: only with --daily or when named */
#define CF_PGBOUNCER	0x40	/* asks a PgBouncer admin console */

struct check_def {
	enum check_id id;
	const char *name;
	enum value_kind kind;
	unsigned flags;
	const char *warning, *critical;	/* defaults, NULL: none */
	double floor;			/* deltas: minimum activity to judge */
	const char *uom;		/* Nagios UOM: "s", "B", "%", "" */
	const char *what;		/* one line for the man page and JSON */
	/* Prometheus: the gauge of the raw value (NULL: none), its label */
	const char *metric, *metric_help, *label;
	/* families from an item's c[0] and c[1]: counters (names end in
	 * _total, cumulative, for Prometheus to rate) or gauges */
	struct {
		const char *name, *help;
		int counter;
	} extra[2];
};

extern const struct check_def check_defs[CK_COUNT];

/* Look a check up by name (check_postgres aliases too); NULL if unknown. */
const struct check_def *check_find(const char *name);

/* ---- queries.c ---------------------------------------------------------- */

/* What the first round trip learns; the pure query choice reads it. */
struct server_facts {
	int version_num;	/* 150018 */
	int in_recovery;
	int has_pgss;		/* pg_stat_statements usable */
	char pgss_schema[128];	/* quoted identifier of its schema */
	int has_pgstattuple;	/* the pgstattuple extension exists */
	char pgstattuple_schema[128];
	/* the session as the server sees it (JSON shows them) */
	char read_only[8], statement_timeout[32], lock_timeout[32];
	int tls;		/* the session is over TLS */
};

#define MAX_QUERIES 16

/* One SQL statement and the checks it answers. */
struct query {
	const char *name;	/* for messages: "activity", "slots"... */
	char *sql;		/* malloc'd */
	enum check_id checks[CK_COUNT];
	int n_checks;
};

struct query_plan {
	struct query q[MAX_QUERIES];
	int n;
	/* checks this server cannot answer, with the reason */
	enum check_id unsupported[CK_COUNT];
	const char *unsupported_why[CK_COUNT];
	int n_unsupported;
};

/* The facts query: version-gated too. */
const char *facts_sql(int version_num);

/*
 * The facts a plan may depend on, as bits: whether the server is a
 * standby (replication, replication_slots) and the schemas of
 * pg_stat_statements (slow_queries) and pgstattuple (bloat).
 */
#define FACT_RECOVERY		0x01
#define FACT_PGSS		0x02
#define FACT_PGSTATTUPLE	0x04
/* Pure: the FACT_* bits the plan for the wanted checks depends on. */
unsigned plan_facts_used(int version_num, const int wanted[CK_COUNT]);
/* Pure: the FACT_* bits a connection reports before any query: 14 and
 * later send in_hot_standby at startup. */
unsigned facts_reported(int version_num);
/*
 * Pure: 1 when a and b agree on every fact in used (the plan chosen from
 * one is the plan of the other), else 0.
 */
int facts_agree(const struct server_facts *a, const struct server_facts *b, unsigned used);
/* Pure: is s what quote_ident() returns (a lower-case name, or one in
 * double quotes with inner quotes doubled)?  Cached schemas must be. */
int facts_ident_ok(const char *s);

/*
 * Choose the statements that answer the wanted checks on this server
 * (wanted[id] != 0).  Pure: depends only on its arguments.  Every
 * statement returns rows of (check, item, value, c1, c2, detail): see
 * queries.c.  0, or -1 when out of memory.
 */
int plan_queries(const struct server_facts *f, const int wanted[CK_COUNT], struct query_plan *p);
void plan_free(struct query_plan *p);

/* ---- results ------------------------------------------------------------- */

struct item {
	char *key;		/* database, standby, slot, table...; "" for one value */
	double value;
	int has_value;		/* 0: NULL from the server */
	double max;		/* for "N%" thresholds; 0: none */
	double c[2];		/* cumulative counters (delta checks) */
	double d[2];		/* their deltas since the previous run */
	int has_delta;
	char *detail;		/* "pid 123, user app, application psql" or NULL */
	int info;		/* shown, never judged (per-database backends) */
	int hidden;		/* judged, not shown (slow_queries past the top N) */
	enum alert_state floor_state;	/* at least this state (lost slot...) */
	enum alert_state state;
	double warn, crit;	/* effective absolute limits */
	int warn_set, crit_set;
};

struct check_result {
	const struct check_def *def;
	enum alert_state state;
	char text[600];		/* one line: what was found */
	struct item *items;
	int n_items, cap_items;
	int answered;		/* rows came (or the check ran) */
	int skip;		/* does not apply here (no TLS, no pgp-backup) */
	char *error;		/* why UNKNOWN (server error, not permitted...) */
	struct threshold warn, crit;
};

/* Per-check settings, from the config or the command line. */
struct check_conf {
	int enabled;
	struct threshold warn, crit;
	char *include, *exclude;	/* extended regexes over item keys, or NULL */
	double floor;
	int confirm;
	int exclude_idle;		/* backends: count only sessions not idle */
	int expect_standbys;		/* replication: standbys a primary must have */
};

/*
 * What the state file remembers of one check between runs: its state and
 * for how many runs in a row, and the state last notified (ST_OK: nothing
 * outstanding) with when, for the notification state machine.
 */
struct check_track {
	int known;			/* a record exists (from the file or this run) */
	enum alert_state state;
	long long since, count;		/* since when, consecutive runs */
	enum alert_state notified;	/* last notified; ST_OK: none outstanding */
	long long notified_at;		/* when it was last sent (or repeated) */
	long long notified_since;	/* the since of the notified state (startsAt) */
	char *text, *value;		/* what was notified (for re-sends), malloc'd */
};

/* The notification channels. */
enum notify_channel { NC_WEBHOOK, NC_SLACK, NC_ALERTMANAGER, NC_COUNT };

/* How notifications go out (config.c fills it, notify.c uses it). */
struct notify_conf {
	int on[NC_COUNT];
	char *url[NC_COUNT];		/* secrets: never printed, wiped on free */
	char *token;			/* webhook: Authorization: Bearer, a secret */
	char shown[NC_COUNT][300];	/* the URL masked, for messages */
	long long repeat_s;		/* re-notify a still-bad check; 0: never */
	long long timeout_ms;		/* a whole request */
	long long connect_timeout_ms;
};

enum target_phase { TP_IDLE, TP_CONNECTING, TP_FACTS, TP_CHECKS, TP_PGBOUNCER, TP_DONE };

/* A PgBouncer pool, from SHOW POOLS and SHOW DATABASES. */
struct pgb_pool {
	char database[128], user[128];
	double cl_active, cl_waiting, sv_active, sv_idle, sv_used, maxwait, pool_size;
};

struct alert_target {
	char *name;			/* for labels and the state file */
	struct pgp_connspec spec;
	int pgbouncer;			/* a PgBouncer admin console, not a server */
	struct check_conf conf[CK_COUNT];
	/* run state */
	enum target_phase phase;
	PGconn *conn;
	long long deadline_ms;		/* monotonic */
	long long start_ms, connected_ms;
	int poll_write;
	int up;
	char *conn_error;
	char where[256];
	char dbname[128];
	char user[128];			/* the role connected */
	struct server_facts facts;
	int facts_answered;		/* the facts query answered this run */
	/*
	 * The plan is chosen before the facts answer when what it depends on
	 * is known at connection time or from the previous run (state file):
	 * facts and checks then go in one pipeline.  A guess the facts
	 * contradict costs a second pipeline (replan), never a wrong answer.
	 */
	unsigned guess_used;		/* FACT_* bits the early plan rests on */
	struct server_facts guess;
	int planned, replan;
	struct query_plan plan;
	int next_result;		/* pipeline: index of the query being read;
					 * PgBouncer: of the SHOW command */
	double pgb_max_client_conn;
	struct pgb_pool *pgb_pools;
	int n_pgb_pools;
	int pending;			/* pipeline syncs still to come */
	struct check_result results[CK_COUNT];
	double cert_seconds_left;	/* CK_CERTIFICATE */
	int cert_known;
	int local;			/* the server is on this machine */
	char cert_subject[256];
	/* state file */
	struct json_object *prev;	/* previous run, or NULL */
	int lock_fd;
	struct check_track track[CK_COUNT];
	char instance[300];		/* host:port, kept across a down run */
	/* notifications still to deliver, per channel (JSON arrays of events) */
	struct json_object *outbox[NC_COUNT];
	int judged, saved;		/* evaluated and tracked; state file written */
};

struct alert_run {
	const char *database;		/* --database: overrides the targets' */
	struct alert_target *targets;
	int n_targets;
	int wanted[CK_COUNT];		/* checks to run */
	int max_parallel;
	long long statement_timeout_ms, lock_timeout_ms;
	const char *state_dir;		/* NULL/"" : no state kept */
	int create_state_dir;		/* given with --state-dir: make it if missing */
	const char *backup_state_dir;
	int backup_configured;		/* backup.repo is set */
	int top_n;			/* slow_queries: how many to show */
	int verbose;
	time_t now;
	int notifying;			/* --notify / alert.notify, not --no-notify */
	struct notify_conf notify;
};

/* Add an item to a result (copies key and detail). NULL when out of memory. */
struct item *result_add(struct check_result *r, const char *key, const char *detail);
void result_set_error(struct check_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void target_free(struct alert_target *t);

/* ---- config.c ------------------------------------------------------------ */

/* Command-line choices that beat the configuration. */
struct alert_cli {
	const char *checks;		/* --check NAME[,NAME] */
	const char *pgbouncer;		/* --pgbouncer CONNINFO */
	const char *warning, *critical;	/* --warning/--critical (one check) */
	const char *state_dir, *textfile_dir;
	int all, daily, max_parallel;
	int no_state;
	int exclude_idle;
	int expect_standbys;		/* --expect-standbys, 0: not given */
	const char *notify;		/* --notify CHANNEL[,CHANNEL] */
	int no_notify;			/* --no-notify */
	const char *repeat_interval;	/* --repeat-interval DURATION */
};

/*
 * Every configuration read of pgp-alert: the run's settings and each
 * target's per-check settings, with built-in defaults for keys the
 * configuration table does not know (yet).  0, or -1 (logged: a config
 * or usage error).
 */
int alert_configure(const struct pgp_conf *conf, const struct pgp_common *c,
		    const struct alert_cli *cli, struct alert_run *run);
void alert_run_free(struct alert_run *run);

/* ---- collect.c ----------------------------------------------------------- */

/*
 * Connect to every target, at most max_parallel at a time, and ask; done
 * (if not NULL) is called for each target as soon as it is answered or
 * given up, while the others are still being asked.
 */
void collect_all(struct alert_run *run, void (*done)(const struct alert_run *run, struct alert_target *t));

/* pgbouncer.c: the admin console's SHOW commands, and their checks. */
extern const char *const pgb_commands[];
void pgb_read(struct alert_target *t, int command, const PGresult *res);
void pgb_results(struct alert_target *t);
/* Is this connection string PgBouncer's admin console (dbname=pgbouncer)? */
int pgb_is_console(const char *conninfo);

/* Parse one result set of (check, item, value, c1, c2, detail) rows. */
void collect_rows(struct alert_target *t, const struct query *q, const PGresult *res);

/* ---- state.c ------------------------------------------------------------- */

/* Lock and read the target's previous state (missing: none).  Never fails
 * the run: a problem is logged and the run goes on without deltas. */
void state_load(const struct alert_run *run, struct alert_target *t);
/* Each check's state and its run count from the previous record and this
 * run's result (the tracks), and the pending notifications. */
void state_track(const struct alert_run *run, struct alert_target *t);
/* The facts the previous run learnt of the database dbname (schemas,
 * standby or not) into f: the FACT_* bits f now holds, 0 for none. */
unsigned state_facts(const struct alert_target *t, const char *dbname, struct server_facts *f);
/* Write this run's counters, tracks, facts and pending notifications,
 * then unlock.  0 or -1 (logged). */
int state_save(const struct alert_run *run, struct alert_target *t);
void track_free(struct check_track *tr);

/* ---- notify.c ------------------------------------------------------------ */

enum notify_reason { NR_NONE, NR_NEW, NR_CHANGED, NR_REPEAT, NR_RESOLVED };

/*
 * Pure: the state machine for one check.  tr holds this run's state and
 * its consecutive count (state_track); a state differing from the one
 * notified is sent once it has held confirm runs (to OK: RESOLVED, only
 * when something was notified); a still-bad notified state is sent again
 * after repeat_s seconds (0: never).  Updates tr's notified fields and
 * puts the state notified before in *was.  Not evaluated: NR_NONE.
 */
enum notify_reason notify_decide(struct check_track *tr, int evaluated, int confirm, long long repeat_s,
				 long long now, enum alert_state *was);
/* The state machine over a target's checks: new events into t->outbox. */
void notify_target(const struct alert_run *run, struct alert_target *t);
/* One message per channel for every target's pending events (and for
 * Alertmanager every firing alert); delivered events leave t->outbox,
 * the others stay for the next run (reported on stderr). */
void notify_send(const struct alert_run *run);
/*
 * Pure: the body for a channel from events (a JSON array of the events
 * notify_target makes); malloc'd JSON text, or NULL when out of memory.
 */
char *notify_payload(enum notify_channel ch, struct json_object *events, time_t now);
/* "webhook", "slack", "alertmanager"; and back (-1: unknown). */
const char *notify_channel_name(enum notify_channel ch);
int notify_channel_find(const char *name);
/* Pure: a URL for messages: scheme://host[:port] then "***" for a path
 * or query; never the user, password, path or query. */
void notify_mask_url(const char *url, char *out, size_t size);
/* Pure: remove every occurrence of secret (and of its path, for a URL)
 * from text, in place, replacing it with "***". */
void notify_scrub(char *text, const char *secret);
/* Pure: "PgIdleInTransaction" for "idle_in_transaction". */
void notify_alertname(const char *check, char *out, size_t size);
/* The answer of a channel: 0 delivered, 1 to retry (5xx, 429, no answer),
 * 2 refused for good (other statuses).  Pure. */
int notify_classify(long http_status, int transport_ok);
void notify_conf_free(struct notify_conf *nc);

/* ---- evaluate.c ---------------------------------------------------------- */
/* A check's value for people, by its kind ("12m5s", "1.5MB", "93.2%", "17"). */
void format_value(const struct check_def *def, double v, char *buf, size_t size);

/* Turn the collected values into states (backup read here too). */
void evaluate_target(const struct alert_run *run, struct alert_target *t);
/* The worst state of a target and of the whole run. */
enum alert_state target_state(const struct alert_run *run, const struct alert_target *t);
enum alert_state run_state(const struct alert_run *run);

/* ---- output.c ------------------------------------------------------------ */

int output_nagios(const struct alert_run *run, FILE *out, int quiet);
int output_json(const struct alert_run *run, FILE *out);
/* Prometheus text of the given targets (all when which < 0). */
char *output_prometheus(const struct alert_run *run, int which);
int output_textfiles(const struct alert_run *run, const char *dir);

/* Sanitize a name for labels, files and perfdata: [A-Za-z0-9_.-]. */
void alert_safe_name(const char *in, char *out, size_t size);

#endif
