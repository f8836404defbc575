/*
 * pgp-alert from collected values to output, without a server: deltas
 * against a previous state (first sample, activity floor, stats reset, an
 * item new since the last run), thresholds that are shares of a maximum,
 * an item's own floor state, include/exclude, the worst item's text, and
 * the exact Nagios, Prometheus and JSON it prints.  Then notifications
 * without a network: the state machine (a change, confirm,
 * repeat_interval, RESOLVED only for what was notified, UNKNOWN as a state
 * of its own, a check not run), how an HTTP answer is taken, URLs masked
 * and scrubbed from messages, alert names, and the webhook, Slack and
 * Alertmanager payloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bin/alert/alert.h"
#include "tap.h"

static struct alert_run run;
static struct alert_target targets[2];

static void
setup(int n)
{
	for (int i = 0; i < run.n_targets; i++)
		target_free(&targets[i]);
	memset(&run, 0, sizeof(run));
	memset(targets, 0, sizeof(targets));
	run.targets = targets;
	run.n_targets = n;
	run.now = 1796000000;
	run.top_n = 5;
	for (int i = 0; i < n; i++) {
		struct alert_target *t = &targets[i];

		t->name = strdup(i ? "other" : "prod");
		t->up = 1;
		t->lock_fd = -1;
		t->start_ms = 1000;
		t->connected_ms = 1012;
		snprintf(t->dbname, sizeof(t->dbname), "shop");
		for (int id = 0; id < CK_COUNT; id++) {
			struct check_conf *cc = &t->conf[id];
			char why[200];

			cc->enabled = 1;
			cc->floor = check_defs[id].floor;
			threshold_parse(check_defs[id].warning, check_defs[id].kind,
					(check_defs[id].flags & CF_PCT_OF_MAX) != 0, &cc->warn, why, sizeof(why));
			threshold_parse(check_defs[id].critical, check_defs[id].kind,
					(check_defs[id].flags & CF_PCT_OF_MAX) != 0, &cc->crit, why, sizeof(why));
		}
	}
}

static void
want(enum check_id id)
{
	run.wanted[id] = 2;
	for (int i = 0; i < run.n_targets; i++)
		targets[i].results[id].answered = 1;
}

static struct item *
add(int ti, enum check_id id, const char *key, double value, double max, double c0, double c1)
{
	struct item *it = result_add(&targets[ti].results[id], key, NULL);

	it->value = value;
	it->has_value = 1;
	it->max = max;
	it->c[0] = c0;
	it->c[1] = c1;
	return it;
}

static char *
nagios(void)
{
	static char *text;
	size_t size;
	FILE *f;

	free(text);
	f = open_memstream(&text, &size);
	output_nagios(&run, f, 0);
	fclose(f);
	return text;
}

static char *
json(void)
{
	static char *text;
	size_t size;
	FILE *f;

	free(text);
	f = open_memstream(&text, &size);
	output_json(&run, f);
	fclose(f);
	return text;
}

static void
evaluate(void)
{
	for (int i = 0; i < run.n_targets; i++)
		evaluate_target(&run, &targets[i]);
}

static void
test_thresholds_of_max(void)
{
	setup(1);
	want(CK_CONNECTION);
	want(CK_BACKENDS);
	add(0, CK_BACKENDS, "", 90, 100, 0, 0);
	add(0, CK_BACKENDS, "shop", 90, 0, 0, 0)->info = 1;
	evaluate();
	is_int(targets[0].results[CK_BACKENDS].state, ST_CRITICAL, "90 of 100 connections at 80%%/90%%: CRITICAL");
	is_str(targets[0].results[CK_BACKENDS].text, "90 of 100 connections (90.0%)", "the text says how many of how many");
	is_str(nagios(), "PGP-ALERT CRITICAL - backends CRITICAL: 90 of 100 connections (90.0%) | "
	       "'connection'=0.012s;;;0 'backends'=90;80;90;0;100 'backends:shop'=90;;;0\n"
	       "backends CRITICAL: 90 of 100 connections (90.0%)\n", "the exact Nagios output");
	is_int(run_state(&run), ST_CRITICAL, "the run's state");
}

static void
test_deltas(void)
{
	const char *prev = "{\"counters\": {\"hitratio\": {\"shop\": [1000, 0], \"quiet\": [50, 5], "
		"\"reset\": [90000, 9000]}, \"deadlocks\": {\"shop\": [3, 0]}}}";
	char *p;

	setup(1);
	want(CK_HITRATIO);
	want(CK_DEADLOCKS);
	add(0, CK_HITRATIO, "shop", 0, 0, 20000, 5000);	/* +19000 hits, +5000 reads */
	add(0, CK_HITRATIO, "quiet", 0, 0, 60, 5);	/* 10 accesses: below the floor */
	add(0, CK_HITRATIO, "reset", 0, 0, 10, 1);	/* went back: a stats reset */
	add(0, CK_HITRATIO, "fresh", 0, 0, 100, 20000);	/* new since the last run: from 0 */
	add(0, CK_DEADLOCKS, "shop", 0, 0, 5, 0);
	targets[0].prev = json_tokener_parse(prev);
	evaluate();
	{
		const struct check_result *r = &targets[0].results[CK_HITRATIO];

		is_int(r->state, ST_CRITICAL, "a ratio under its critical threshold over the interval");
		ok(r->items[0].has_value && r->items[0].value > 79.16 && r->items[0].value < 79.17,
		   "shop: 19000 / 24000 = 79.2%%");
		ok(!r->items[1].has_value, "quiet: below the activity floor, not judged");
		ok(!r->items[2].has_value, "reset: a counter that went back is not judged");
		ok(r->items[3].has_value && r->items[3].value < 1, "fresh: a new database counts from zero");
		is_str(r->text, "fresh: cache hit ratio 0.5% since the last run (+1 more)", "the worst first, and how many more");
	}
	is_int(targets[0].results[CK_DEADLOCKS].state, ST_WARNING, "2 deadlocks since the last run: WARNING");
	is_str(targets[0].results[CK_DEADLOCKS].text, "shop: 2 deadlocks since the last run", "deadlocks text");
	p = nagios();
	ok(strstr(p, "'hitratio:shop'=79.167%;95;90;0;100") != NULL, "a ratio's perfdata in %% with its thresholds");
	ok(strstr(p, "'hitratio:quiet'") == NULL, "what was not judged has no perfdata");
	ok(strstr(p, "'deadlocks:shop'=2;1;;0") != NULL, "the delta as perfdata");
	p = output_prometheus(&run, -1);
	ok(strstr(p, "pgp_alert_blocks_hit_total{target=\"prod\",datname=\"shop\"} 20000\n") != NULL,
	   "Prometheus gets the cumulative counter, not the delta");
	ok(strstr(p, "# TYPE pgp_alert_deadlocks_total counter\n") != NULL, "typed counter");
	ok(strstr(p, "pgp_alert_check_status{target=\"prod\",check=\"hitratio\"} 2\n") != NULL, "its status 2");
	free(p);

	setup(1);
	want(CK_HITRATIO);
	add(0, CK_HITRATIO, "shop", 0, 0, 20000, 5000);
	evaluate();
	is_int(targets[0].results[CK_HITRATIO].state, ST_OK, "no previous run: OK");
	is_str(targets[0].results[CK_HITRATIO].text, "first sample: judged from the next run on", "and says why");
}

static void
test_items(void)
{
	struct item *it;
	char *p;

	setup(1);
	want(CK_REPLICATION_SLOTS);
	want(CK_DATABASE_SIZE);
	it = add(0, CK_REPLICATION_SLOTS, "lost_one", 0, 0, 0, 0);
	it->has_value = 0;
	it->floor_state = ST_CRITICAL;
	it = add(0, CK_REPLICATION_SLOTS, "idle", 1024, 0, 0, 0);
	it->floor_state = ST_WARNING;
	add(0, CK_DATABASE_SIZE, "it's \"odd\"\\", 4096, 0, 0, 0);
	targets[0].conf[CK_DATABASE_SIZE].exclude = strdup("^template");
	add(0, CK_DATABASE_SIZE, "template1", 8192, 0, 0, 0);
	evaluate();
	is_int(targets[0].results[CK_REPLICATION_SLOTS].state, ST_CRITICAL, "a lost slot (no value) is CRITICAL by its flag");
	ok(strncmp(targets[0].results[CK_REPLICATION_SLOTS].text, "slot lost_one retains unknown", 29) == 0,
	   "its text: %s", targets[0].results[CK_REPLICATION_SLOTS].text);
	p = nagios();
	ok(strstr(p, "'database_size:it''s \"odd\"\\'=4096B;;;0") != NULL, "a quote in a label is doubled");
	ok(strstr(p, "template1") == NULL, "an excluded item is left out");
	p = output_prometheus(&run, -1);
	ok(strstr(p, "pgp_alert_database_size_bytes{target=\"prod\",datname=\"it's \\\"odd\\\"\\\\\"} 4096\n") != NULL,
	   "label values escaped for Prometheus");
	ok(strstr(p, "pgp_alert_replication_slot_retained_bytes{target=\"prod\",slot=\"idle\"} 1024\n") != NULL,
	   "the slot's retained bytes");
	ok(strstr(p, "slot=\"lost_one\"} ") == NULL || strstr(p, "pgp_alert_replication_slot_active{target=\"prod\",slot=\"lost_one\"} 0"),
	   "no value, no retained-bytes sample");
	free(p);
}

static void
test_down_and_fleet(void)
{
	char *p;

	setup(2);
	want(CK_CONNECTION);
	want(CK_LOCKS);
	targets[1].up = 0;
	targets[1].conn_error = strdup("connection to server at \"10.0.0.9\", port 5432 failed: Connection refused");
	evaluate();
	is_int(targets[1].results[CK_CONNECTION].state, ST_CRITICAL, "a target that is down: connection CRITICAL");
	ok(targets[1].results[CK_LOCKS].skip, "and nothing else is claimed about it");
	is_str(targets[0].results[CK_LOCKS].text, "no session waiting for a lock", "the other target still answers");
	p = nagios();
	ok(strncmp(p, "PGP-ALERT CRITICAL - other connection CRITICAL: connection to server at \"10.0.0.9\", port 5432 "
		   "failed: Connection refused | 'prod/connection'=0.012s;;;0\n", 130) == 0, "the first line names the target down");
	ok(strstr(p, "\nother: connection CRITICAL: connection to server") != NULL, "long output per target");
	p = output_prometheus(&run, -1);
	ok(strstr(p, "pgp_alert_up{target=\"prod\"} 1\npgp_alert_up{target=\"other\"} 0\n") != NULL, "pgp_alert_up per target");
	ok(strstr(p, "check=\"locks\"} 0\n") != NULL && strstr(p, "target=\"other\",check=\"locks\"") == NULL,
	   "statuses only for what was checked");
	ok(strstr(p, "pgp_alert_last_run_timestamp_seconds{target=\"other\"} 1796000000\n") != NULL, "no client timestamps, a gauge");
	free(p);
	p = output_prometheus(&run, 1);
	ok(strstr(p, "target=\"prod\"") == NULL, "a textfile holds its own target only");
	free(p);
	p = json();
	ok(strstr(p, "\"state\":\"CRITICAL\",\"exit\":2") != NULL, "JSON: the run's state and exit");
	ok(strstr(p, "\"name\":\"other\",\"up\":false,\"state\":\"CRITICAL\",\"error\":") != NULL, "JSON: the target down");
}

static void
test_order(void)
{
	char *p;

	setup(1);
	for (enum check_id id = CK_IDLE_IN_TRANSACTION; id <= CK_LOCKS; id++)
		want(id);
	want(CK_SEQUENCE);
	add(0, CK_IDLE_IN_TRANSACTION, "", 100, 0, 0, 0);
	add(0, CK_TXN_TIME, "", 1000, 0, 0, 0);
	add(0, CK_QUERY_TIME, "", 400, 0, 0, 0);
	add(0, CK_LOCKS, "", 90, 0, 1, 0);
	targets[0].results[CK_SEQUENCE].error = strdup("permission denied");
	evaluate();
	is_int(run_state(&run), ST_CRITICAL, "CRITICAL beats UNKNOWN");
	p = nagios();
	ok(strncmp(p, "PGP-ALERT CRITICAL - txn_time CRITICAL, query_time CRITICAL, idle_in_transaction WARNING, "
		   "locks WARNING and 1 more | ", 111) == 0, "the summary: worst first, four names and how many more");
	ok(strstr(p, "\nsequence UNKNOWN: permission denied\n") != NULL, "UNKNOWN last, with its reason");
}

/* ---- notifications ---------------------------------------------------------- */

/* One run of a check in state st: the track as state_track leaves it. */
static enum notify_reason
step(struct check_track *tr, enum alert_state st, int confirm, long long repeat, long long now)
{
	enum alert_state was;

	if (tr->known && tr->state == st)
		tr->count++;
	else {
		tr->state = st;
		tr->since = now;
		tr->count = 1;
	}
	tr->known = 1;
	return notify_decide(tr, 1, confirm, repeat, now, &was);
}

static void
test_decide(void)
{
	struct check_track tr;
	enum alert_state was;

	memset(&tr, 0, sizeof(tr));
	is_int(step(&tr, ST_OK, 1, 60, 1000), NR_NONE, "OK from the start: nothing");
	is_int(step(&tr, ST_CRITICAL, 1, 60, 1060), NR_NEW, "OK to CRITICAL: new");
	is_int(tr.notified, ST_CRITICAL, "CRITICAL is what was notified");
	is_int(tr.notified_since, 1060, "since when");
	is_int(step(&tr, ST_CRITICAL, 1, 60, 1100), NR_NONE, "still CRITICAL inside repeat_interval: nothing");
	is_int(step(&tr, ST_CRITICAL, 1, 60, 1120), NR_REPEAT, "once repeat_interval has passed: repeat");
	is_int(tr.notified_at, 1120, "the repeat counts from now");
	is_int(step(&tr, ST_CRITICAL, 1, 60, 1150), NR_NONE, "and not again right after");
	is_int(step(&tr, ST_WARNING, 1, 60, 1160), NR_CHANGED, "CRITICAL to WARNING: changed");
	is_int(step(&tr, ST_UNKNOWN, 1, 60, 1170), NR_CHANGED, "WARNING to UNKNOWN: a state of its own");
	is_int(notify_decide(&tr, 1, 1, 60, 1171, &was), NR_NONE, "deciding again in the same run: nothing");
	is_int(step(&tr, ST_OK, 1, 60, 1180), NR_RESOLVED, "back to OK: resolved");
	is_int(tr.notified, ST_OK, "nothing outstanding");
	is_int(step(&tr, ST_OK, 1, 60, 9999), NR_NONE, "OK stays quiet, whatever the time");

	memset(&tr, 0, sizeof(tr));
	is_int(step(&tr, ST_WARNING, 2, 0, 100), NR_NONE, "confirm=2: the first run of a problem waits");
	is_int(step(&tr, ST_WARNING, 2, 0, 160), NR_NEW, "the second sends it");
	is_int(tr.notified_since, 100, "starting when the state began");
	is_int(step(&tr, ST_WARNING, 2, 0, 1000000), NR_NONE, "repeat_interval 0: never again");
	is_int(step(&tr, ST_OK, 2, 0, 1000060), NR_NONE, "one OK run: not yet resolved");
	is_int(step(&tr, ST_WARNING, 2, 0, 1000120), NR_NONE, "a flap back: nothing (still the state notified)");
	is_int(step(&tr, ST_OK, 2, 0, 1000180), NR_NONE, "OK again, one run");
	is_int(step(&tr, ST_OK, 2, 0, 1000240), NR_RESOLVED, "OK for two runs: resolved");

	memset(&tr, 0, sizeof(tr));
	is_int(step(&tr, ST_CRITICAL, 2, 0, 100), NR_NONE, "a problem of one run under confirm=2 ...");
	is_int(step(&tr, ST_OK, 2, 0, 160), NR_NONE, "... was never notified: no RESOLVED");
	is_int(step(&tr, ST_OK, 2, 0, 220), NR_NONE, "not later either");

	memset(&tr, 0, sizeof(tr));
	step(&tr, ST_CRITICAL, 1, 60, 100);
	is_int(notify_decide(&tr, 0, 1, 60, 1000, &was), NR_NONE, "a check not run this time: nothing");
	is_int(was, ST_CRITICAL, "was: the state notified");
}

static void
test_http(void)
{
	is_int(notify_classify(200, 1), 0, "200 delivered");
	is_int(notify_classify(204, 1), 0, "204 delivered");
	is_int(notify_classify(500, 1), 1, "500 retried");
	is_int(notify_classify(503, 1), 1, "503 retried");
	is_int(notify_classify(429, 1), 1, "429 retried");
	is_int(notify_classify(404, 1), 2, "404 refused for good");
	is_int(notify_classify(400, 1), 2, "400 refused for good");
	is_int(notify_classify(301, 1), 2, "a redirect is not followed: refused");
	is_int(notify_classify(0, 0), 1, "no answer: retried");
}

static void
test_secrets(void)
{
	char buf[300], text[600];

	notify_mask_url("https://hooks.slack.com/services/T000/B000/XXXX", buf, sizeof(buf));
	is_str(buf, "https://hooks.slack.com/***", "a Slack URL: host only");
	notify_mask_url("http://user:pw@am.example:9093", buf, sizeof(buf));
	is_str(buf, "http://am.example:9093", "no user or password");
	notify_mask_url("http://am.example:9093/", buf, sizeof(buf));
	is_str(buf, "http://am.example:9093", "a bare slash is no secret");
	notify_mask_url("http://h/x?token=abc", buf, sizeof(buf));
	is_str(buf, "http://h/***", "a query hidden");
	notify_mask_url("not a url", buf, sizeof(buf));
	is_str(buf, "***", "what is not a URL is hidden whole");

	snprintf(text, sizeof(text), "Failed on http://h:1/hook/TOKEN1234 and /hook/TOKEN1234 again");
	notify_scrub(text, "http://h:1/hook/TOKEN1234");
	is_str(text, "Failed on *** and *** again", "the URL and its path scrubbed");
	snprintf(text, sizeof(text), "login as bob:s3cret failed");
	notify_scrub(text, "http://bob:s3cret@h/");
	is_str(text, "login as *** failed", "the user part scrubbed");
	snprintf(text, sizeof(text), "Bearer abcdef");
	notify_scrub(text, "abcdef");
	is_str(text, "Bearer ***", "a token scrubbed");

	notify_alertname("idle_in_transaction", buf, sizeof(buf));
	is_str(buf, "PgIdleInTransaction", "alertname from the check");
	notify_alertname("connection", buf, sizeof(buf));
	is_str(buf, "PgConnection", "one word");
	is_int(notify_channel_find("Slack"), NC_SLACK, "channel names in any case");
	is_int(notify_channel_find("pager"), -1, "an unknown channel");
}

static struct json_object *
event(const char *status, const char *state, const char *previous)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "target", json_object_new_string("prod"));
	json_object_object_add(e, "instance", json_object_new_string("db1:5432"));
	json_object_object_add(e, "check", json_object_new_string("locks"));
	json_object_object_add(e, "status", json_object_new_string(status));
	json_object_object_add(e, "state", json_object_new_string(state));
	json_object_object_add(e, "previous", json_object_new_string(previous));
	json_object_object_add(e, "reason", json_object_new_string(strcmp(status, "firing") ? "resolved" : "new"));
	json_object_object_add(e, "text", json_object_new_string("1 waiting for a lock <pid 7> & more"));
	json_object_object_add(e, "value", json_object_new_string("75s"));
	json_object_object_add(e, "startsAt", json_object_new_int64(1796000000));
	json_object_object_add(e, "endsAt", json_object_new_int64(strcmp(status, "firing") ? 1796000600 : 0));
	json_object_object_add(e, "at", json_object_new_int64(1796000600));
	return e;
}

static void
test_payloads(void)
{
	struct json_object *events = json_object_new_array();
	char *s;

	json_object_array_add(events, event("firing", "WARNING", "OK"));
	json_object_array_add(events, event("resolved", "OK", "CRITICAL"));
	s = notify_payload(NC_WEBHOOK, events, 1796000600);
	ok(s && strstr(s, "\"version\":\"4\"") && strstr(s, "\"status\":\"firing\""), "webhook: version 4, firing");
	ok(s && strstr(s, "\"labels\":{\"alertname\":\"PgLocks\",\"check\":\"locks\",\"instance\":\"db1:5432\","
		       "\"severity\":\"warning\",\"target\":\"prod\"}"), "webhook: the labels");
	ok(s && strstr(s, "\"severity\":\"critical\""), "webhook: a resolved alert keeps the severity it had");
	ok(s && strstr(s, "\"startsAt\":\"2026-11-30T00:53:20Z\",\"endsAt\":\"0001-01-01T00:00:00Z\""),
	   "webhook: startsAt, endsAt zero while firing");
	ok(s && strstr(s, "\"endsAt\":\"2026-11-30T01:03:20Z\""), "webhook: endsAt when resolved");
	ok(s && strstr(s, "\"commonLabels\":{\"alertname\":\"PgLocks\",\"check\":\"locks\",\"instance\":\"db1:5432\",\"target\":\"prod\"}"),
	   "webhook: the labels the alerts share");
	ok(s && strstr(s, "\"fingerprint\":\""), "webhook: a fingerprint");
	free(s);
	s = notify_payload(NC_SLACK, events, 1796000600);
	ok(s && strstr(s, "\"text\":\"[FIRING:1, RESOLVED:1] pgp-alert: prod: locks WARNING, prod: locks RESOLVED (was CRITICAL)\""),
	   "slack: one text for the run");
	ok(s && strstr(s, "\"color\":\"warning\"") && strstr(s, "\"color\":\"good\""), "slack: colors");
	ok(s && strstr(s, "1 waiting for a lock &lt;pid 7&gt; &amp; more"), "slack: &, < and > escaped");
	free(s);
	s = notify_payload(NC_ALERTMANAGER, events, 1796000600);
	ok(s && s[0] == '[', "alertmanager: an array");
	ok(s && strstr(s, "\"startsAt\":\"2026-11-30T00:53:20Z\"}") != NULL, "alertmanager: no endsAt while firing");
	ok(s && strstr(s, "\"endsAt\":\"2026-11-30T01:03:20Z\""), "alertmanager: endsAt to resolve");
	ok(s && !strstr(s, "generatorURL"), "alertmanager: no empty generatorURL (it must be a URI)");
	free(s);
	json_object_put(events);
}

int
main(void)
{
	test_thresholds_of_max();
	test_deltas();
	test_items();
	test_down_and_fleet();
	test_order();
	setup(0);
	test_decide();
	test_http();
	test_secrets();
	test_payloads();
	return done_testing();
}
