/*
 * pgp-alert's pure parts: check_postgres's threshold syntax, comparison
 * (critical first, ratios the other way), deltas with an activity floor,
 * the check catalog, and the version-gated query choice for PostgreSQL
 * 13 to 18 on a primary and a standby.
 */
#include <stdlib.h>
#include <string.h>

#include "../../bin/alert/alert.h"
#include "tap.h"

static struct threshold th;
static char why[300];

static int
parse(const char *text, enum value_kind kind, int pct)
{
	return threshold_parse(text, kind, pct, &th, why, sizeof(why));
}

static void
test_thresholds(void)
{
	is_int(parse("5m", VK_SECONDS, 0), 0, "5m is a time");
	ok(th.set && th.value == 300, "5m is 300 seconds");
	parse("2h", VK_SECONDS, 0);
	ok(th.value == 7200, "2h is 7200 seconds");
	parse("1d", VK_SECONDS, 0);
	ok(th.value == 86400, "1d is 86400 seconds");
	parse("30 seconds", VK_SECONDS, 0);
	ok(th.value == 30, "'30 seconds' with a space and a long unit");
	parse("90", VK_SECONDS, 0);
	ok(th.value == 90 && !th.percent, "a plain number of seconds");
	parse("1.5s", VK_SECONDS, 0);
	ok(th.value == 1.5, "a fraction of a second");
	parse("500ms", VK_SECONDS, 0);
	ok(th.value == 0.5, "500ms is half a second");
	is_int(parse("5x", VK_SECONDS, 0), -1, "an unknown time unit is refused");
	ok(strstr(why, "unknown unit \"x\"") != NULL, "naming the unit: %s", why);
	is_int(parse("1GB", VK_SECONDS, 0), -1, "a size is not a time");

	parse("1GB", VK_BYTES, 0);
	ok(th.value == 1073741824.0, "1GB is 2^30 bytes");
	parse("100 MB", VK_BYTES, 0);
	ok(th.value == 104857600.0, "100 MB with a space");
	parse("1.5t", VK_BYTES, 0);
	ok(th.value == 1.5 * 1099511627776.0, "1.5t as check_postgres writes it");
	parse("4096", VK_BYTES, 0);
	ok(th.value == 4096, "plain bytes");
	is_int(parse("5m", VK_BYTES, 0), 0, "m is a megabyte for a size");
	ok(th.value == 5 * 1048576.0, "5m is 5MB for a size");
	is_int(parse("10%", VK_BYTES, 0), -1, "a percentage of a size without a maximum is refused");

	parse("90%", VK_PERCENT, 0);
	ok(th.set && th.value == 90 && !th.percent, "90%% of a percentage check is 90");
	parse("90", VK_PERCENT, 0);
	ok(th.value == 90, "a plain 90 is 90 percent");
	is_int(parse("101%", VK_PERCENT, 0), -1, "above 100%% is refused");
	is_int(parse("5m", VK_PERCENT, 0), -1, "a time is not a percentage");

	parse("80%", VK_COUNT, 1);
	ok(th.set && th.percent && th.value == 80, "80%% of a count with a maximum");
	ok(threshold_limit(&th, 200) == 160, "is 160 of 200");
	is_int(parse("80%", VK_COUNT, 0), -1, "a percentage of a count without a maximum is refused");
	parse("1.5e9", VK_COUNT, 1);
	ok(th.value == 1.5e9 && !th.percent, "an exponent (transaction ids)");
	ok(threshold_limit(&th, 2147483648.0) == 1.5e9, "an absolute limit ignores the maximum");

	is_int(parse("", VK_COUNT, 0), 0, "empty is no threshold");
	ok(!th.set, "and unset");
	is_int(parse("none", VK_SECONDS, 0), 0, "none is no threshold");
	ok(!th.set, "and unset");
	is_int(parse(NULL, VK_SECONDS, 0), 0, "NULL is no threshold");
	is_int(parse("-5", VK_COUNT, 0), -1, "a negative number is refused");
	is_int(parse("abc", VK_COUNT, 0), -1, "words are refused");
	is_int(parse("5 5", VK_COUNT, 0), -1, "trailing garbage is refused");
	is_int(parse("nan", VK_COUNT, 0), -1, "nan is refused");
	is_int(parse("inf", VK_COUNT, 0), -1, "inf is refused");
}

static void
test_compare(void)
{
	is_int(threshold_compare(10, 1, 60, 1, 300, 0), ST_OK, "below warning is OK");
	is_int(threshold_compare(60, 1, 60, 1, 300, 0), ST_WARNING, "at warning is WARNING");
	is_int(threshold_compare(299, 1, 60, 1, 300, 0), ST_WARNING, "between is WARNING");
	is_int(threshold_compare(300, 1, 60, 1, 300, 0), ST_CRITICAL, "at critical is CRITICAL");
	is_int(threshold_compare(300, 1, 300, 1, 300, 0), ST_CRITICAL, "warning = critical: critical first");
	is_int(threshold_compare(1e9, 0, 0, 0, 0, 0), ST_OK, "no thresholds: always OK");
	is_int(threshold_compare(500, 1, 60, 0, 0, 0), ST_WARNING, "warning only");
	is_int(threshold_compare(99, 1, 95, 1, 90, 1), ST_OK, "hit ratio 99%% is OK");
	is_int(threshold_compare(95, 1, 95, 1, 90, 1), ST_WARNING, "hit ratio at 95%% is WARNING");
	is_int(threshold_compare(89.9, 1, 95, 1, 90, 1), ST_CRITICAL, "hit ratio under 90%% is CRITICAL");
	is_int(threshold_compare(86400 * 40.0, 1, 86400 * 30.0, 1, 86400 * 7.0, 1), ST_OK, "certificate: 40 days left");
	is_int(threshold_compare(86400 * 10.0, 1, 86400 * 30.0, 1, 86400 * 7.0, 1), ST_WARNING, "10 days left");

	is_int(alert_worse(ST_OK, ST_UNKNOWN), ST_UNKNOWN, "UNKNOWN is worse than OK");
	is_int(alert_worse(ST_UNKNOWN, ST_WARNING), ST_WARNING, "WARNING is worse than UNKNOWN");
	is_int(alert_worse(ST_CRITICAL, ST_UNKNOWN), ST_CRITICAL, "CRITICAL is worst");
	is_int(alert_worse(ST_WARNING, ST_CRITICAL), ST_CRITICAL, "CRITICAL beats WARNING");
	is_str(alert_state_name(ST_UNKNOWN), "UNKNOWN", "state names");
}

static void
test_deltas(void)
{
	ok(delta_ratio(950, 50, 1000) == 95.0, "950 hits, 50 reads: 95%%");
	ok(delta_ratio(9, 1, 1000) == -1, "10 block accesses is below the floor of 1000");
	ok(delta_ratio(0, 0, 0) == -1, "no activity at all is not judged");
	ok(delta_ratio(5, 5, 0) == 50.0, "no floor: judged from the first transaction");
	ok(counter_delta(150, 100) == 50, "a counter's delta");
	ok(counter_delta(10, 100) == -1, "a counter that went back (stats reset) is not a delta");
	ok(counter_delta(100, 100) == 0, "an idle counter");
}

static void
test_format(void)
{
	char b[64];

	format_duration(75, b, sizeof(b));
	is_str(b, "1m15s", "75 seconds");
	format_duration(3600 * 26, b, sizeof(b));
	is_str(b, "1d2h", "26 hours");
	format_duration(5, b, sizeof(b));
	is_str(b, "5s", "5 seconds");
	format_duration(0.25, b, sizeof(b));
	is_str(b, "250ms", "a quarter of a second");
	format_duration(2.5, b, sizeof(b));
	is_str(b, "2.5s", "two and a half seconds");
	format_bytes_h(1536, b, sizeof(b));
	is_str(b, "1.5kB", "1536 bytes");
	format_bytes_h(100, b, sizeof(b));
	is_str(b, "100B", "100 bytes");
}

static void
test_catalog(void)
{
	char w[300];

	for (int i = 0; i < CK_COUNT; i++) {
		const struct check_def *d = &check_defs[i];
		struct threshold t;

		ok(d->id == (enum check_id) i, "%s sits at its own index", d->name);
		ok(check_find(d->name) == d, "%s is found by name", d->name);
		ok(threshold_parse(d->warning, d->kind, (d->flags & CF_PCT_OF_MAX) != 0, &t, w, sizeof(w)) == 0 &&
		   threshold_parse(d->critical, d->kind, (d->flags & CF_PCT_OF_MAX) != 0, &t, w, sizeof(w)) == 0,
		   "%s: its default thresholds parse", d->name);
		ok(!d->metric || strncmp(d->metric, "pgp_alert_", 10) == 0, "%s: metric under pgp_alert_", d->name);
		for (int k = 0; k < 2; k++)
			if (d->extra[k].name && d->extra[k].counter)
				ok(strlen(d->extra[k].name) > 6 &&
				   strcmp(d->extra[k].name + strlen(d->extra[k].name) - 6, "_total") == 0,
				   "%s: counter %s ends in _total", d->name, d->extra[k].name);
		if (d->kind == VK_SECONDS && d->metric)
			ok(strstr(d->metric, "_seconds") != NULL, "%s: a time metric is in seconds", d->name);
		if (d->kind == VK_BYTES && d->metric)
			ok(strstr(d->metric, "_bytes") != NULL, "%s: a size metric is in bytes", d->name);
		if (d->kind == VK_PERCENT && d->metric)
			ok(strstr(d->metric, "_ratio") != NULL, "%s: a percentage is exported as a ratio", d->name);
	}
	ok(check_find("txn_idle") == &check_defs[CK_IDLE_IN_TRANSACTION], "check_postgres's txn_idle is an alias");
	ok(check_find("no_such_check") == NULL, "an unknown check is not found");
}

static struct query_plan plan;

static const char *
sql_of(enum check_id id)
{
	for (int i = 0; i < plan.n; i++)
		for (int k = 0; k < plan.q[i].n_checks; k++)
			if (plan.q[i].checks[k] == id)
				return plan.q[i].sql;
	return NULL;
}

static const char *
why_not(enum check_id id)
{
	for (int i = 0; i < plan.n_unsupported; i++)
		if (plan.unsupported[i] == id)
			return plan.unsupported_why[i];
	return NULL;
}

static void
test_queries(void)
{
	int all[CK_COUNT], some[CK_COUNT];
	struct server_facts f;

	for (int i = 0; i < CK_COUNT; i++)
		all[i] = 1;
	for (int v = 13; v <= 18; v++) {
		for (int standby = 0; standby <= 1; standby++) {
			const char *s;

			memset(&f, 0, sizeof(f));
			f.version_num = v * 10000 + 2;
			f.in_recovery = standby;
			f.has_pgss = 1;
			strcpy(f.pgss_schema, "ext");
			f.has_pgstattuple = 1;
			strcpy(f.pgstattuple_schema, "ext");
			is_int(plan_queries(&f, all, &plan), 0, "PG %d%s: a plan", v, standby ? " standby" : "");
			for (int id = 0; id < CK_COUNT; id++) {
				if (!(check_defs[id].flags & CF_SERVER))
					continue;
				ok(sql_of((enum check_id) id) != NULL, "PG %d%s: %s is asked", v, standby ? " standby" : "",
				   check_defs[id].name);
			}
			is_int(plan.n_unsupported, 0, "PG %d: nothing unsupported with pg_stat_statements", v);
			s = sql_of(CK_CHECKPOINTS);
			ok(s && strstr(s, v >= 17 ? "pg_stat_checkpointer" : "pg_stat_bgwriter") &&
			   !strstr(s, v >= 17 ? "pg_stat_bgwriter" : "pg_stat_checkpointer"),
			   "PG %d: checkpoints from %s", v, v >= 17 ? "pg_stat_checkpointer" : "pg_stat_bgwriter");
			ok(s && strstr(s, v >= 17 ? "num_requested" : "checkpoints_req"), "PG %d: the right column", v);
			s = sql_of(CK_LOCKS);
			ok(s && (strstr(s, "waitstart") != NULL) == (v >= 14), "PG %d: pg_locks.waitstart %s", v,
			   v >= 14 ? "used" : "not used (added in 14)");
			s = sql_of(CK_BACKENDS);
			ok(s && (strstr(s, "'reserved_connections'") != NULL) == (v >= 16),
			   "PG %d: reserved_connections %s", v, v >= 16 ? "subtracted" : "does not exist");
			s = sql_of(CK_REPLICATION_SLOTS);
			ok(s && strstr(s, "wal_status") && strstr(s, "safe_wal_size"), "PG %d: wal_status and safe_wal_size", v);
			ok(s && (strstr(s, "inactive_since") != NULL) == (v >= 17), "PG %d: inactive_since %s", v,
			   v >= 17 ? "shown" : "absent (added in 17)");
			ok(s && strstr(s, standby ? "pg_last_wal_replay_lsn()" : "pg_current_wal_lsn()") &&
			   !strstr(s, "@LSN@"), "PG %d%s: slot retention measured from the %s", v,
			   standby ? " standby" : "", standby ? "replay position" : "current WAL position");
			s = sql_of(CK_REPLICATION);
			ok(s && (strstr(s, standby ? "pg_stat_wal_receiver" : "pg_stat_replication") != NULL),
			   "PG %d%s: replication from %s", v, standby ? " standby" : "",
			   standby ? "the WAL receiver" : "pg_stat_replication");
			ok(s && (strstr(s, "pg_current_wal_lsn") == NULL) == standby,
			   "PG %d%s: pg_current_wal_lsn %s", v, standby ? " standby" : "", standby ? "never called" : "used");
			s = sql_of(CK_SLOW_QUERIES);
			ok(s && strstr(s, "ext.pg_stat_statements") && strstr(s, "total_exec_time"),
			   "PG %d: pg_stat_statements in its schema, total_exec_time", v);
			s = sql_of(CK_BLOAT);
			ok(s && strstr(s, "ext.pgstattuple_approx(") && strstr(s, "ext.pgstatindex("),
			   "PG %d: bloat measured with pgstattuple in its schema", v);
			for (int i = 0; i < plan.n; i++)
				ok(!strchr(plan.q[i].sql, '@'), "PG %d: statement %s has no placeholder left", v, plan.q[i].name);
			plan_free(&plan);
		}
	}

	memset(&f, 0, sizeof(f));
	f.version_num = 150004;
	plan_queries(&f, all, &plan);
	ok(sql_of(CK_SLOW_QUERIES) == NULL, "without pg_stat_statements it is not asked");
	ok(why_not(CK_SLOW_QUERIES) && strstr(why_not(CK_SLOW_QUERIES), "CREATE EXTENSION pg_stat_statements"),
	   "and the reason names the fix");
	ok(sql_of(CK_BLOAT) == NULL, "without pgstattuple bloat is not asked");
	ok(why_not(CK_BLOAT) && strstr(why_not(CK_BLOAT), "CREATE EXTENSION pgstattuple"), "and the reason names the fix");
	plan_free(&plan);

	memset(some, 0, sizeof(some));
	some[CK_LOCKS] = 1;
	some[CK_HITRATIO] = 1;
	plan_queries(&f, some, &plan);
	is_int(plan.n, 2, "two checks of two views: two statements");
	ok(sql_of(CK_LOCKS) && !strstr(sql_of(CK_LOCKS), "idle in transaction"), "only the wanted fragments");
	ok(sql_of(CK_BACKENDS) == NULL, "an unwanted check is not asked");
	plan_free(&plan);

	f.version_num = 120010;
	plan_queries(&f, all, &plan);
	is_int(plan.n, 0, "PostgreSQL 12: nothing asked");
	ok(why_not(CK_LOCKS) && strstr(why_not(CK_LOCKS), "13 to 18"), "and every check says why");
	ok(why_not(CK_CERTIFICATE) == NULL, "the certificate needs no query");
	plan_free(&plan);

	ok(strstr(facts_sql(150000), "pg_is_in_recovery") != NULL, "the facts query asks for the role");
}

/* When the plan can go in the facts query's pipeline (collect.c). */
static void
test_early_plan(void)
{
	int all[CK_COUNT], some[CK_COUNT];
	struct server_facts a, b;

	for (int i = 0; i < CK_COUNT; i++)
		all[i] = 1;
	memset(some, 0, sizeof(some));
	some[CK_BACKENDS] = some[CK_LOCKS] = some[CK_HITRATIO] = some[CK_LAST_VACUUM] = 1;
	is_int((int) plan_facts_used(150000, some), 0, "check_postgres's ten: a plan from the version alone");
	is_int((int) plan_facts_used(150000, all), FACT_RECOVERY | FACT_PGSS | FACT_PGSTATTUPLE,
	       "every check: the role and both extensions' schemas");
	some[CK_REPLICATION_SLOTS] = 1;
	is_int((int) plan_facts_used(150000, some), FACT_RECOVERY, "slots: measured from the standby's or primary's LSN");
	some[CK_REPLICATION_SLOTS] = 0;
	some[CK_SLOW_QUERIES] = 1;
	is_int((int) plan_facts_used(150000, some), FACT_PGSS, "slow_queries: the schema of pg_stat_statements");
	is_int((int) plan_facts_used(120000, all), 0, "before 13 nothing is asked");
	for (int v = 13; v <= 18; v++)
		is_int((int) facts_reported(v * 10000), v >= 14 ? FACT_RECOVERY : 0,
		       "PG %d: in_hot_standby %s at connection time", v, v >= 14 ? "is reported" : "is not");

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.has_pgss = b.has_pgss = 1;
	strcpy(a.pgss_schema, "ext");
	strcpy(b.pgss_schema, "ext");
	b.in_recovery = 1;
	ok(facts_agree(&a, &b, FACT_PGSS), "the same schema: the plan stands");
	ok(!facts_agree(&a, &b, FACT_PGSS | FACT_RECOVERY), "promoted or demoted: asked again");
	strcpy(b.pgss_schema, "\"Ext\"");
	ok(!facts_agree(&a, &b, FACT_PGSS), "the extension moved: asked again");
	ok(facts_agree(&a, &b, FACT_PGSTATTUPLE), "a fact the plan does not use does not count");
	b.has_pgss = 0;
	ok(!facts_agree(&a, &b, FACT_PGSS), "the extension dropped: asked again");

	ok(facts_ident_ok("ext") && facts_ident_ok("_x$1") && facts_ident_ok("\"My Ext\"") &&
	   facts_ident_ok("\"a\"\"b\""), "quote_ident's forms are taken");
	ok(!facts_ident_ok("") && !facts_ident_ok("Ext") && !facts_ident_ok("x; DROP TABLE y") &&
	   !facts_ident_ok("\"a\"b\"") && !facts_ident_ok("\"a\"\"") && !facts_ident_ok("\"\"") &&
	   !facts_ident_ok("\"x\"; DROP TABLE y; --\""), "anything else from a state file is not put into SQL");
}

int
main(void)
{
	test_thresholds();
	test_compare();
	test_deltas();
	test_format();
	test_catalog();
	test_queries();
	test_early_plan();
	return done_testing();
}
