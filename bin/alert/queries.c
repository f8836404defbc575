/*
 * The SQL of the checks, chosen per server by plan_queries(), a pure
 * function of the server's version and role (primary or standby) and of
 * the checks wanted; tests/unit/test_alert.c covers PostgreSQL 13 to 18.
 *
 * Every statement returns rows of the same shape, so one parser reads
 * them all:
 *   check text, item text, value float8, max float8, c1 float8, c2 float8,
 *   detail text, flag text
 * "max" is what "N%" thresholds are a share of; c1 and c2 are cumulative
 * counters (deltas are taken between runs) or a second figure; flag is
 * 'critical', 'warning' or 'unknown' (the item is at least that bad) or
 * 'info' (shown, not judged).
 *
 * Checks that read the same view share a statement (UNION ALL), and the
 * statements go out in one pipeline with a sync after each, so a
 * statement the role may not run fails alone: its checks are UNKNOWN
 * with the server's reason, the others still answer.  Everything is
 * schema-qualified: the session's search_path is empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"

#define F8 "::pg_catalog.float8"
#define NOF8 "NULL" F8
#define NOTEXT "NULL::pg_catalog.text"
/* Never negative: a session that began after this statement's snapshot is 0s old. */
#define AGE(ts) "GREATEST(0, pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - " ts "))"

const char *
facts_sql(int version_num)
{
	(void) version_num;
	return "SELECT pg_catalog.pg_is_in_recovery(),"
	       " (SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
	       "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
	       "  WHERE e.extname = 'pg_stat_statements'),"
	       " pg_catalog.current_database(),"
	       " (SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
	       "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
	       "  WHERE e.extname = 'pgstattuple'),"
	       " pg_catalog.current_setting('transaction_read_only'),"
	       " pg_catalog.current_setting('statement_timeout'),"
	       " pg_catalog.current_setting('lock_timeout')";
}

unsigned
plan_facts_used(int version_num, const int wanted[CK_COUNT])
{
	unsigned used = 0;

	if (version_num < 130000)
		return 0;	/* nothing is asked */
	if (wanted[CK_REPLICATION] || wanted[CK_REPLICATION_SLOTS])
		used |= FACT_RECOVERY;
	if (wanted[CK_SLOW_QUERIES])
		used |= FACT_PGSS;
	if (wanted[CK_BLOAT])
		used |= FACT_PGSTATTUPLE;
	return used;
}

unsigned
facts_reported(int version_num)
{
	return version_num >= 140000 ? FACT_RECOVERY : 0;
}

int
facts_agree(const struct server_facts *a, const struct server_facts *b, unsigned used)
{
	if ((used & FACT_RECOVERY) && !a->in_recovery != !b->in_recovery)
		return 0;
	if ((used & FACT_PGSS) &&
	    (!a->has_pgss != !b->has_pgss || (a->has_pgss && strcmp(a->pgss_schema, b->pgss_schema) != 0)))
		return 0;
	if ((used & FACT_PGSTATTUPLE) &&
	    (!a->has_pgstattuple != !b->has_pgstattuple ||
	     (a->has_pgstattuple && strcmp(a->pgstattuple_schema, b->pgstattuple_schema) != 0)))
		return 0;
	return 1;
}

int
facts_ident_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return 0;
	if (s[0] == '"') {
		if (n < 3 || s[n - 1] != '"')
			return 0;
		for (size_t i = 1; i < n - 1; i++)
			if (s[i] == '"' && (i + 1 >= n - 1 || s[++i] != '"'))
				return 0;	/* a lone quote would end the name */
		return 1;
	}
	/* quote_ident leaves only these unquoted (keywords aside: harmless) */
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '$'))
			return 0;
	return 1;
}

/*
 * The sessions, once: backends and the age checks.  The functions under
 * pg_stat_activity rather than the view: a fresh backend pays for every
 * relation and view it plans (the view joins pg_authid), and a fleet
 * run is 50 fresh backends (tests/bench/alert.sh).  The same rows: the
 * view's joins are outer joins on the same keys.
 */
static const char activity_cte[] =
	"WITH a AS (SELECT s.pid, d.datname, pg_catalog.pg_get_userbyid(s.usesysid) AS usename,"
	" s.application_name, s.state, s.backend_type, s.xact_start, s.query_start, s.state_change,"
	" s.wait_event_type, s.query"
	" FROM pg_catalog.pg_stat_get_activity(NULL) s LEFT JOIN pg_catalog.pg_database d ON d.oid = s.datid) ";

#define WHO "pg_catalog.format('pid %s, user %s, application %s, database %s', a.pid, a.usename," \
	" COALESCE(NULLIF(a.application_name, ''), '-'), a.datname)"

/* c1: the connections that are not idle, for exclude_idle. */
#define NOT_IDLE "(SELECT pg_catalog.count(*) FROM a WHERE backend_type = 'client backend' AND state <> 'idle')" F8
static const char backends_total_13[] =
	"SELECT 'backends', '', (SELECT pg_catalog.count(*) FROM a WHERE backend_type = 'client backend')" F8 ","
	" (pg_catalog.current_setting('max_connections')::int"
	"  - pg_catalog.current_setting('superuser_reserved_connections')::int)" F8 ","
	" " NOT_IDLE ", " NOF8 ", " NOTEXT ", " NOTEXT;
/* 16 added reserved_connections (for pg_use_reserved_connections). */
static const char backends_total_16[] =
	"SELECT 'backends', '', (SELECT pg_catalog.count(*) FROM a WHERE backend_type = 'client backend')" F8 ","
	" (pg_catalog.current_setting('max_connections')::int"
	"  - pg_catalog.current_setting('superuser_reserved_connections')::int"
	"  - pg_catalog.current_setting('reserved_connections')::int)" F8 ","
	" " NOT_IDLE ", " NOF8 ", " NOTEXT ", " NOTEXT;
static const char backends_by_db[] =
	"SELECT 'backends', COALESCE(datname, ''), pg_catalog.count(*)" F8 ", " NOF8 ","
	" (pg_catalog.count(*) FILTER (WHERE state <> 'idle'))" F8 ", " NOF8 ","
	" " NOTEXT ", 'info' FROM a WHERE backend_type = 'client backend' GROUP BY datname";

static const char idle_in_transaction[] =
	"SELECT 'idle_in_transaction', '', " AGE("a.state_change") F8 ", " NOF8 ","
	" (pg_catalog.count(*) OVER ())" F8 ", " NOF8 ", " WHO ", " NOTEXT
	" FROM a WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)')"
	" AND a.pid <> pg_catalog.pg_backend_pid() ORDER BY a.state_change LIMIT 1";

static const char txn_time[] =
	"SELECT 'txn_time', '', " AGE("a.xact_start") F8 ", " NOF8 ", " NOF8 ", " NOF8 ","
	" " WHO " || ', ' || a.state, " NOTEXT
	" FROM a WHERE a.backend_type = 'client backend' AND a.xact_start IS NOT NULL"
	" AND a.pid <> pg_catalog.pg_backend_pid() ORDER BY a.xact_start LIMIT 1";

static const char query_time[] =
	"SELECT 'query_time', '', " AGE("a.query_start") F8 ", " NOF8 ", " NOF8 ", " NOF8 ","
	" " WHO " || ': ' || pg_catalog.left(pg_catalog.regexp_replace(a.query, '\\s+', ' ', 'g'), 80), " NOTEXT
	" FROM a WHERE a.backend_type = 'client backend' AND a.state = 'active'"
	" AND a.pid <> pg_catalog.pg_backend_pid() ORDER BY a.query_start LIMIT 1";

/* The blocker named with its user and application. */
#define BLOCKERS \
	"pg_catalog.format('pid %s (user %s, application %s, database %s) waiting for a %s lock, blocked by pid %s', a.pid," \
	" a.usename, COALESCE(NULLIF(a.application_name, ''), '-'), a.datname, w.mode," \
	" COALESCE((SELECT pg_catalog.format('%s (user %s, application %s)', b.pid, b.usename," \
	"   COALESCE(NULLIF(b.application_name, ''), '-')) FROM a b" \
	"   WHERE b.pid = (pg_catalog.pg_blocking_pids(a.pid))[1]), '?')" \
	" || CASE WHEN pg_catalog.cardinality(pg_catalog.pg_blocking_pids(a.pid)) > 1" \
	"   THEN ' and ' || (pg_catalog.cardinality(pg_catalog.pg_blocking_pids(a.pid)) - 1) || ' more' ELSE '' END)"

/* 14 added pg_locks.waitstart; before, the statement's start is the best guess. */
static const char locks_13[] =
	"SELECT 'locks', '', " AGE("a.state_change") F8 ", " NOF8 ", (pg_catalog.count(*) OVER ())" F8 ","
	" " NOF8 ", " BLOCKERS ", " NOTEXT
	" FROM (SELECT l.pid, pg_catalog.min(l.mode) AS mode FROM pg_catalog.pg_locks l"
	"  WHERE NOT l.granted GROUP BY l.pid) w JOIN a ON a.pid = w.pid ORDER BY a.state_change LIMIT 1";
static const char locks_14[] =
	"SELECT 'locks', '', " AGE("COALESCE(w.since, a.state_change)") F8 ", " NOF8 ","
	" (pg_catalog.count(*) OVER ())" F8 ", " NOF8 ", " BLOCKERS ", " NOTEXT
	" FROM (SELECT l.pid, pg_catalog.min(l.mode) AS mode, pg_catalog.min(l.waitstart) AS since"
	"  FROM pg_catalog.pg_locks l WHERE NOT l.granted GROUP BY l.pid) w JOIN a ON a.pid = w.pid"
	" ORDER BY COALESCE(w.since, a.state_change) LIMIT 1";

/* pg_database and its counters (pg_stat_database's functions, not the view). */
static const char db_cte[] =
	"WITH d AS (SELECT d.datname, d.datallowconn, d.datfrozenxid, d.datminmxid,"
	" pg_catalog.pg_stat_get_db_blocks_hit(d.oid) AS blks_hit,"
	" pg_catalog.pg_stat_get_db_blocks_fetched(d.oid) - pg_catalog.pg_stat_get_db_blocks_hit(d.oid) AS blks_read,"
	" pg_catalog.pg_stat_get_db_xact_commit(d.oid) AS xact_commit,"
	" pg_catalog.pg_stat_get_db_xact_rollback(d.oid) AS xact_rollback,"
	" pg_catalog.pg_stat_get_db_deadlocks(d.oid) AS deadlocks,"
	" pg_catalog.pg_stat_get_db_temp_bytes(d.oid) AS temp_bytes"
	" FROM pg_catalog.pg_database d) ";
static const char hitratio[] =
	"SELECT 'hitratio', datname, " NOF8 ", " NOF8 ", blks_hit" F8 ", blks_read" F8 ", " NOTEXT ", " NOTEXT
	" FROM d WHERE datallowconn";
static const char rollback_ratio[] =
	"SELECT 'rollback_ratio', datname, " NOF8 ", " NOF8 ", xact_rollback" F8 ", xact_commit" F8 ","
	" " NOTEXT ", " NOTEXT " FROM d WHERE datallowconn";
static const char deadlocks[] =
	"SELECT 'deadlocks', datname, " NOF8 ", " NOF8 ", deadlocks" F8 ", " NOF8 ", " NOTEXT ", " NOTEXT
	" FROM d WHERE datallowconn";
static const char temp_bytes[] =
	"SELECT 'temp_bytes', datname, " NOF8 ", " NOF8 ", temp_bytes" F8 ", " NOF8 ", " NOTEXT ", " NOTEXT
	" FROM d WHERE datallowconn";
static const char txn_wraparound[] =
	"SELECT 'txn_wraparound', datname, pg_catalog.age(datfrozenxid)" F8 ", 2147483648" F8 ","
	" " NOF8 ", " NOF8 ", " NOTEXT ", " NOTEXT " FROM d";
static const char multixact[] =
	"SELECT 'multixact', datname, pg_catalog.mxid_age(datminmxid)" F8 ", 2147483648" F8 ","
	" " NOF8 ", " NOF8 ", " NOTEXT ", " NOTEXT " FROM d";
static const char autovac_freeze[] =
	"SELECT 'autovac_freeze', datname, GREATEST("
	" 100.0 * pg_catalog.age(datfrozenxid) / pg_catalog.current_setting('autovacuum_freeze_max_age')::float8,"
	" 100.0 * pg_catalog.mxid_age(datminmxid)"
	"  / pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::float8)" F8 ", " NOF8 ","
	" " NOF8 ", " NOF8 ", pg_catalog.format('xid age %s, multixact age %s', pg_catalog.age(datfrozenxid),"
	" pg_catalog.mxid_age(datminmxid)), " NOTEXT " FROM d";

static const char database_size[] =
	"SELECT 'database_size', datname, pg_catalog.pg_database_size(oid)" F8 ", " NOF8 ", " NOF8 ","
	" " NOF8 ", " NOTEXT ", " NOTEXT " FROM pg_catalog.pg_database WHERE datallowconn";

/* The connected database's tables, against the autovacuum triggers. */
static const char tables_cte[] =
	"WITH s AS (SELECT pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8 AS vt,"
	" pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8 AS vs,"
	" pg_catalog.current_setting('autovacuum_analyze_threshold')::float8 AS at,"
	" pg_catalog.current_setting('autovacuum_analyze_scale_factor')::float8 AS asf,"
	" COALESCE(pg_catalog.pg_stat_get_db_stat_reset_time("
	"  (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())),"
	"  pg_catalog.pg_postmaster_start_time()) AS since),"
	" t AS (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,"
	" pg_catalog.pg_stat_get_live_tuples(c.oid) AS n_live_tup, pg_catalog.pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,"
	" pg_catalog.pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,"
	" GREATEST(pg_catalog.pg_stat_get_last_vacuum_time(c.oid), pg_catalog.pg_stat_get_last_autovacuum_time(c.oid)) AS lv,"
	" GREATEST(pg_catalog.pg_stat_get_last_analyze_time(c.oid),"
	"  pg_catalog.pg_stat_get_last_autoanalyze_time(c.oid)) AS la,"
	" GREATEST(c.reltuples, 0) AS reltuples"
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	/* pg_stat_user_tables' rows, without the view's join to pg_index */
	" WHERE c.relkind IN ('r', 't', 'm', 'p') AND n.nspname <> ALL ('{pg_catalog,information_schema}')"
	" AND n.nspname !~ '^pg_toast') ";
static const char last_vacuum[] =
	"SELECT 'last_vacuum', name, " AGE("COALESCE(lv, s.since)") F8 ", " NOF8 ", n_dead_tup" F8 ", " NOF8 ","
	" pg_catalog.format('%s dead tuples, last vacuum %s', n_dead_tup, COALESCE(lv::text, 'never')), " NOTEXT
	" FROM t, s WHERE n_dead_tup > s.vt + s.vs * reltuples ORDER BY COALESCE(lv, s.since) LIMIT 20";
static const char last_analyze[] =
	"SELECT 'last_analyze', name, " AGE("COALESCE(la, s.since)") F8 ", " NOF8 ", n_mod_since_analyze" F8 ","
	" " NOF8 ", pg_catalog.format('%s rows changed, last analyze %s', n_mod_since_analyze,"
	" COALESCE(la::text, 'never')), " NOTEXT
	" FROM t, s WHERE n_mod_since_analyze > s.at + s.asf * reltuples ORDER BY COALESCE(la, s.since) LIMIT 20";
static const char dead_tuples[] =
	"SELECT 'dead_tuples', name, (100.0 * n_dead_tup / NULLIF(n_live_tup + n_dead_tup, 0))" F8 ", " NOF8 ","
	" n_dead_tup" F8 ", " NOF8 ", pg_catalog.format('%s dead of %s tuples, last vacuum %s', n_dead_tup,"
	" n_live_tup + n_dead_tup, COALESCE(lv::text, 'never')), " NOTEXT
	" FROM t, s WHERE n_dead_tup > s.vt + s.vs * reltuples ORDER BY 3 DESC LIMIT 20";

static const char invalid_indexes[] =
	"SELECT 'invalid_indexes', '', pg_catalog.count(*)" F8 ", " NOF8 ", " NOF8 ", " NOF8 ","
	" pg_catalog.left(pg_catalog.string_agg(i.indexrelid::pg_catalog.regclass::text, ', '"
	"  ORDER BY i.indexrelid::pg_catalog.regclass::text), 300), " NOTEXT
	" FROM pg_catalog.pg_index i WHERE NOT i.indisvalid";
static const char invalid_constraints[] =
	"SELECT 'invalid_constraints', '', pg_catalog.count(*)" F8 ", " NOF8 ", " NOF8 ", " NOF8 ","
	" pg_catalog.left(pg_catalog.string_agg(pg_catalog.format('%I on %s', c.conname,"
	"  c.conrelid::pg_catalog.regclass), ', ' ORDER BY c.conname), 300), " NOTEXT
	" FROM pg_catalog.pg_constraint c WHERE NOT c.convalidated";

static const char wal_files[] =
	"SELECT 'wal_files', '', pg_catalog.count(*)" F8 ","
	" (pg_catalog.pg_size_bytes(pg_catalog.current_setting('max_wal_size'))"
	"  / pg_catalog.pg_size_bytes(pg_catalog.current_setting('wal_segment_size')))" F8 ","
	" COALESCE(pg_catalog.sum(size), 0)" F8 ", " NOF8 ", " NOTEXT ", " NOTEXT
	" FROM pg_catalog.pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'";

static const char archiver[] =
	"SELECT 'archiver', '', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_ls_archive_statusdir()"
	"  WHERE name ~ '[.]ready$')" F8 ", " NOF8 ", archived_count" F8 ", failed_count" F8 ","
	" CASE WHEN pg_catalog.current_setting('archive_mode') = 'off' THEN 'archive_mode is off'"
	"  WHEN last_failed_time > COALESCE(last_archived_time, '-infinity') THEN"
	"   pg_catalog.format('the last attempt failed at %s (%s)', last_failed_time, last_failed_wal)"
	"  WHEN last_archived_time IS NOT NULL THEN pg_catalog.format('last archived %s, %s ago', last_archived_wal,"
	"   pg_catalog.date_trunc('second', pg_catalog.now() - last_archived_time))"
	"  ELSE 'nothing archived yet' END,"
	" CASE WHEN pg_catalog.current_setting('archive_mode') <> 'off'"
	"  AND last_failed_time > COALESCE(last_archived_time, '-infinity') THEN 'warning' END"
	" FROM pg_catalog.pg_stat_archiver";

static const char replication_primary[] =
	"SELECT 'replication', COALESCE(NULLIF(application_name, ''), client_addr::text, pid::text),"
	" COALESCE(pg_catalog.date_part('epoch', replay_lag), 0)" F8 ", " NOF8 ","
	" pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)" F8 ", " NOF8 ","
	" pg_catalog.format('%s (%s): write lag %s, flush lag %s, replay lag %s', state, sync_state,"
	"  COALESCE(write_lag::text, '0'), COALESCE(flush_lag::text, '0'), COALESCE(replay_lag::text, '0')),"
	" CASE WHEN state <> 'streaming' THEN 'warning' END"
	" FROM pg_catalog.pg_stat_replication";
/* On a standby: the replay delay, 0 while caught up and streaming, so an
 * idle primary is not a lag. */
static const char replication_standby[] =
	"SELECT 'replication', '',"
	" CASE WHEN r.status = 'streaming' AND pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn()"
	"  THEN 0 ELSE COALESCE(" AGE("pg_catalog.pg_last_xact_replay_timestamp()") ", 0) END" F8 ", " NOF8 ","
	" COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn()), 0)" F8 ","
	" " NOF8 ", pg_catalog.format('standby: WAL receiver %s, replay %s, last replayed transaction %s',"
	"  COALESCE(r.status, 'not running'),"
	"  CASE WHEN pg_catalog.pg_is_wal_replay_paused() THEN 'paused' ELSE 'running' END,"
	"  COALESCE(pg_catalog.pg_last_xact_replay_timestamp()::text, 'none')),"
	" CASE WHEN r.status IS DISTINCT FROM 'streaming' THEN 'warning' END"
	" FROM (SELECT 1) x LEFT JOIN pg_catalog.pg_stat_wal_receiver r ON true";

#define SLOT_FLAG " CASE WHEN wal_status IN ('lost', 'unreserved') THEN 'critical' WHEN NOT active THEN 'warning' END"
#define SLOT_HEAD \
	"SELECT 'replication_slots', slot_name::text," \
	" pg_catalog.pg_wal_lsn_diff(@LSN@, restart_lsn)" F8 ", " NOF8 ", active::int" F8 ", " NOF8 "," \
	" pg_catalog.format('%s slot, %s, wal_status %s%s', slot_type," \
	"  CASE WHEN active THEN 'active' ELSE 'inactive' END, COALESCE(wal_status, '-')," \
	"  CASE WHEN safe_wal_size IS NOT NULL THEN ', safe_wal_size ' || pg_catalog.pg_size_pretty(safe_wal_size)" \
	"  ELSE '' END)"
/* 13 added wal_status and safe_wal_size; 17 inactive_since. */
static const char slots_13[] =
	SLOT_HEAD ", " SLOT_FLAG " FROM pg_catalog.pg_replication_slots";
static const char slots_17[] =
	SLOT_HEAD " || CASE WHEN inactive_since IS NOT NULL THEN ', inactive since ' || inactive_since ELSE '' END,"
	SLOT_FLAG " FROM pg_catalog.pg_replication_slots";

/* By oid, not by name: the monitor may lack USAGE on the schema, and
 * pg_sequence_last_value only runs where the role may read the sequence. */
static const char sequence[] =
	"SELECT 'sequence', pg_catalog.format('%I.%I', n.nspname, c.relname),"
	" CASE WHEN l.last_value IS NULL THEN 0"
	"  WHEN s.seqincrement > 0 THEN 100.0 * (l.last_value::numeric - s.seqmin) / NULLIF(s.seqmax::numeric - s.seqmin, 0)"
	"  ELSE 100.0 * (s.seqmax::numeric - l.last_value) / NULLIF(s.seqmax::numeric - s.seqmin, 0) END" F8 ","
	" " NOF8 ", " NOF8 ", " NOF8 ","
	" CASE WHEN p.ok THEN pg_catalog.format('%s of %s', COALESCE(l.last_value::text, 'unused'),"
	"  CASE WHEN s.seqincrement > 0 THEN s.seqmax ELSE s.seqmin END) ELSE 'not readable' END,"
	" CASE WHEN NOT p.ok THEN 'unknown' WHEN s.seqcycle THEN 'info' END"
	" FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,"
	" LATERAL (SELECT pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') AS ok) p,"
	" LATERAL (SELECT CASE WHEN p.ok THEN pg_catalog.pg_sequence_last_value(c.oid::pg_catalog.regclass) END AS last_value) l"
	" WHERE NOT pg_catalog.pg_is_other_temp_schema(n.oid)"
	" ORDER BY NOT p.ok DESC, 3 DESC LIMIT 50";

/* 17 moved the checkpoint counters to pg_stat_checkpointer. */
static const char checkpoints_13[] =
	"SELECT 'checkpoints', '', " NOF8 ", " NOF8 ", checkpoints_req" F8 ", checkpoints_timed" F8 ","
	" " NOTEXT ", " NOTEXT " FROM pg_catalog.pg_stat_bgwriter";
static const char checkpoints_17[] =
	"SELECT 'checkpoints', '', " NOF8 ", " NOF8 ", num_requested" F8 ", num_timed" F8 ","
	" " NOTEXT ", " NOTEXT " FROM pg_catalog.pg_stat_checkpointer";

static const char prepared_txns[] =
	"SELECT 'prepared_txns', '', " AGE("prepared") F8 ", " NOF8 ", (pg_catalog.count(*) OVER ())" F8 ","
	" " NOF8 ", pg_catalog.format('transaction %s (gid %s, owner %s, database %s)', transaction, gid, owner,"
	" database), " NOTEXT " FROM pg_catalog.pg_prepared_xacts ORDER BY prepared LIMIT 1";

/* pg_stat_statements in the schema it was created in; by queryid over
 * users and databases, so each queryid is one series. */
static const char slow_queries[] =
	"SELECT 'slow_queries', queryid::text, " NOF8 ", " NOF8 ", pg_catalog.sum(calls)" F8 ","
	" (pg_catalog.sum(total_exec_time) / 1000)" F8 ","
	" pg_catalog.left(pg_catalog.regexp_replace(pg_catalog.min(query), '\\s+', ' ', 'g'), 100), " NOTEXT
	" FROM @SCHEMA@.pg_stat_statements WHERE queryid IS NOT NULL GROUP BY queryid"
	" ORDER BY pg_catalog.sum(total_exec_time) DESC LIMIT 1000";

/*
 * Bloat, measured rather than estimated (pg_stats is not the monitor's to
 * read): pgstattuple_approx for tables and materialized views (dead tuples
 * and free space), pgstatindex for btree indexes (what the leaf density
 * leaves empty below the default fillfactor of 90).  Relations from 1MB;
 * pg_monitor may call both (pg_stat_scan_tables).
 */
static const char bloat[] =
	"SELECT 'bloat', pg_catalog.format('%I.%I', n.nspname, c.relname),"
	" CASE WHEN c.relkind IN ('r', 'm') THEN"
	"  (SELECT (s.dead_tuple_len + s.approx_free_space)::float8 FROM @SCHEMA@.pgstattuple_approx(c.oid::pg_catalog.regclass) s)"
	" ELSE (SELECT GREATEST(0, i.index_size * (1 - CASE WHEN i.avg_leaf_density = 'NaN' THEN 90"
	"  ELSE i.avg_leaf_density END / 90.0))::float8 FROM @SCHEMA@.pgstatindex(c.oid::pg_catalog.regclass) i) END" F8 ","
	" " NOF8 ", pg_catalog.pg_relation_size(c.oid)" F8 ", " NOF8 ","
	" CASE WHEN c.relkind = 'i' THEN 'btree index' ELSE 'table' END"
	"  || ' of ' || pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(c.oid)), " NOTEXT
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam"
	" WHERE (c.relkind IN ('r', 'm') OR (c.relkind = 'i' AND am.amname = 'btree'))"
	" AND c.relpersistence <> 't' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
	" AND pg_catalog.pg_relation_size(c.oid) >= 1048576"
	" ORDER BY 3 DESC";

/* Where the files are: statvfs is done by the client, for a local server.
 * data_directory takes pg_read_all_settings (in pg_monitor). */
static const char disk_space[] =
	"SELECT 'disk_space', 'data', " NOF8 ", " NOF8 ", " NOF8 ", " NOF8 ","
	" pg_catalog.current_setting('data_directory'), " NOTEXT;

/* Copy tmpl with the first "@NAME@" token replaced (SQL holds '%' of its own). */
static void
subst(const char *tmpl, const char *token, const char *value, char *out, size_t size)
{
	const char *at = strstr(tmpl, token);

	if (!at)
		snprintf(out, size, "%s", tmpl);
	else
		snprintf(out, size, "%.*s%s%s", (int) (at - tmpl), tmpl, value, at + strlen(token));
}

/* Add one statement: a prefix (CTEs) and fragments joined by UNION ALL. */
struct builder {
	char *sql;
	size_t len, cap;
	int failed;
};

static void
put(struct builder *b, const char *s)
{
	size_t n = strlen(s);

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *bigger;

		while (cap < b->len + n + 1)
			cap *= 2;
		bigger = realloc(b->sql, cap);
		if (!bigger) {
			b->failed = 1;
			return;
		}
		b->sql = bigger;
		b->cap = cap;
	}
	memcpy(b->sql + b->len, s, n + 1);
	b->len += n;
}

struct fragment {
	enum check_id id;
	const char *sql;
	const char *sql2;	/* a second fragment for the same check, or NULL */
};

static int
add_statement(struct query_plan *p, const int wanted[CK_COUNT], const char *name,
	      const char *prefix, const struct fragment *frags, int n)
{
	struct builder b = {NULL, 0, 0, 0};
	struct query *q;
	int parts = 0;

	if (p->n >= MAX_QUERIES)
		return -1;
	q = &p->q[p->n];
	memset(q, 0, sizeof(*q));
	put(&b, prefix);
	for (int i = 0; i < n; i++) {
		if (!wanted[frags[i].id] || !frags[i].sql)
			continue;
		for (int k = 0; k < 2; k++) {
			const char *f = k ? frags[i].sql2 : frags[i].sql;

			if (!f)
				continue;
			put(&b, parts++ ? " UNION ALL (" : "(");
			put(&b, f);
			put(&b, ")");
		}
		q->checks[q->n_checks++] = frags[i].id;
	}
	if (b.failed) {
		free(b.sql);
		return -1;
	}
	if (!parts) {
		free(b.sql);
		return 0;
	}
	q->name = name;
	q->sql = b.sql;
	p->n++;
	return 0;
}

static void
unsupported(struct query_plan *p, const int wanted[CK_COUNT], enum check_id id, const char *why)
{
	if (wanted[id])
		p->unsupported[p->n_unsupported] = id, p->unsupported_why[p->n_unsupported++] = why;
}

int
plan_queries(const struct server_facts *f, const int wanted[CK_COUNT], struct query_plan *p)
{
	int v = f->version_num;
	char slots[2048], pgss[1024], bl[2048];
	const char *lsn = f->in_recovery ? "pg_catalog.pg_last_wal_replay_lsn()" : "pg_catalog.pg_current_wal_lsn()";

	memset(p, 0, sizeof(*p));
	if (v < 130000) {
		for (int i = 0; i < CK_COUNT; i++)
			if (check_defs[i].flags & CF_SERVER)
				unsupported(p, wanted, (enum check_id) i,
					    "PostgreSQL before 13 is not supported (13 to 18 are)");
		return 0;
	}
	{
		const struct fragment frags[] = {
			{CK_BACKENDS, v >= 160000 ? backends_total_16 : backends_total_13, backends_by_db},
			{CK_IDLE_IN_TRANSACTION, idle_in_transaction, NULL},
			{CK_TXN_TIME, txn_time, NULL},
			{CK_QUERY_TIME, query_time, NULL},
			{CK_LOCKS, v >= 140000 ? locks_14 : locks_13, NULL},
		};
		if (add_statement(p, wanted, "activity", activity_cte, frags, 5) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {
			{CK_HITRATIO, hitratio, NULL},
			{CK_ROLLBACK_RATIO, rollback_ratio, NULL},
			{CK_DEADLOCKS, deadlocks, NULL},
			{CK_TEMP_BYTES, temp_bytes, NULL},
			{CK_TXN_WRAPAROUND, txn_wraparound, NULL},
			{CK_MULTIXACT, multixact, NULL},
			{CK_AUTOVAC_FREEZE, autovac_freeze, NULL},
		};
		if (add_statement(p, wanted, "databases", db_cte, frags, 7) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {{CK_DATABASE_SIZE, database_size, NULL}};
		if (add_statement(p, wanted, "database sizes", "", frags, 1) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {
			{CK_LAST_VACUUM, last_vacuum, NULL},
			{CK_LAST_ANALYZE, last_analyze, NULL},
			{CK_DEAD_TUPLES, dead_tuples, NULL},
		};
		if (add_statement(p, wanted, "tables", tables_cte, frags, 3) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {
			{CK_INVALID_INDEXES, invalid_indexes, NULL},
			{CK_INVALID_CONSTRAINTS, invalid_constraints, NULL},
		};
		if (add_statement(p, wanted, "catalog", "", frags, 2) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {{CK_WAL_FILES, wal_files, NULL}};
		if (add_statement(p, wanted, "pg_wal", "", frags, 1) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {{CK_ARCHIVER, archiver, NULL}};
		if (add_statement(p, wanted, "archiver", "", frags, 1) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {
			{CK_REPLICATION, f->in_recovery ? replication_standby : replication_primary, NULL}};
		if (add_statement(p, wanted, "replication", "", frags, 1) < 0)
			goto oom;
	}
	{
		subst(v >= 170000 ? slots_17 : slots_13, "@LSN@", lsn, slots, sizeof(slots));
		const struct fragment frags[] = {{CK_REPLICATION_SLOTS, slots, NULL}};
		if (add_statement(p, wanted, "replication slots", "", frags, 1) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {
			{CK_SEQUENCE, sequence, NULL},
		};
		if (add_statement(p, wanted, "sequences", "", frags, 1) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {
			{CK_CHECKPOINTS, v >= 170000 ? checkpoints_17 : checkpoints_13, NULL},
			{CK_PREPARED_TXNS, prepared_txns, NULL},
		};
		/* Separate statements: different views, either may be refused. */
		if (add_statement(p, wanted, "checkpoints", "", frags, 1) < 0 ||
		    add_statement(p, wanted, "prepared transactions", "", frags + 1, 1) < 0)
			goto oom;
	}
	{
		const struct fragment frags[] = {{CK_DISK_SPACE, disk_space, NULL}};
		if (add_statement(p, wanted, "data directory", "", frags, 1) < 0)
			goto oom;
	}
	if (f->has_pgss) {
		subst(slow_queries, "@SCHEMA@", f->pgss_schema, pgss, sizeof(pgss));
		const struct fragment frags[] = {{CK_SLOW_QUERIES, pgss, NULL}};
		if (add_statement(p, wanted, "pg_stat_statements", "", frags, 1) < 0)
			goto oom;
	} else
		unsupported(p, wanted, CK_SLOW_QUERIES,
			    "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements, "
			    "with it in shared_preload_libraries; or disable the check: alert.checks.slow_queries.enabled)");
	if (f->has_pgstattuple) {
		char tmp[2048];

		subst(bloat, "@SCHEMA@", f->pgstattuple_schema, tmp, sizeof(tmp));
		subst(tmp, "@SCHEMA@", f->pgstattuple_schema, bl, sizeof(bl));
		const struct fragment frags[] = {{CK_BLOAT, bl, NULL}};
		if (add_statement(p, wanted, "bloat", "", frags, 1) < 0)
			goto oom;
	} else
		unsupported(p, wanted, CK_BLOAT,
			    "pgstattuple is not installed in this database (CREATE EXTENSION pgstattuple; "
			    "pgp-create --extension pgstattuple)");
	return 0;

oom:
	plan_free(p);
	return -1;
}

void
plan_free(struct query_plan *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->q[i].sql);
	p->n = 0;
}
