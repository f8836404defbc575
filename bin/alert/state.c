/*
 * The per-target state file, <state_dir>/alert-<target>.json: the
 * counters of the delta checks and each check's state and since when.
 * A lock file beside it keeps two overlapping cron runs from mixing their
 * samples; the file is replaced atomically.  A state that cannot be kept
 * never fails the run: it is said on stderr and the deltas wait.
 *
 *   {"version": 1, "target": "prod", "time": 1764576000,
 *    "counters": {"hitratio": {"shop": [1200, 30]}, ...},
 *    "checks": {"locks": {"state": "WARNING", "since": 1764575940, "count": 2,
 *                         "notified": "WARNING", "notified_since": 1764575940,
 *                         "notified_at": 1764576000, "text": "...", "value": "75s"}, ...},
 *    "instance": "db1:5432",
 *    "facts": {"database": "shop", "in_recovery": false,
 *              "pg_stat_statements": "ext", "pgstattuple": null},
 *    "pending": {"webhook": [EVENT, ...], ...}}
 * ("count": consecutive runs in that state; "notified": the state last
 * sent, absent when nothing is outstanding; "pending": what could not be
 * delivered yet, see notify.c; "facts": what the next run's plan may be
 * chosen from before its facts query answers, see collect.c.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "atomicfile.h"
#include "json.h"
#include "lock.h"
#include "log.h"

static void
paths(const struct alert_run *run, const struct alert_target *t, char *file, char *lock, size_t size)
{
	char safe[200];

	alert_safe_name(t->name, safe, sizeof(safe));
	snprintf(file, size, "%s/alert-%s.json", run->state_dir, safe);
	snprintf(lock, size, "%s/alert-%s.lock", run->state_dir, safe);
}

void
state_load(const struct alert_run *run, struct alert_target *t)
{
	char file[1200], lock[1200], *text = NULL;
	pid_t holder = 0;

	t->lock_fd = -1;
	t->prev = NULL;
	if (!run->state_dir || !*run->state_dir)
		return;
	/*
	 * The default directory is made by make install, owned by the user who
	 * runs the backups: created here by root it would lock them out.
	 */
	if (run->create_state_dir && mkdir(run->state_dir, 0755) != 0 && errno != EEXIST) {
		pgp_warning("cannot create state directory \"%s\": %s (no deltas this run)", run->state_dir,
			    strerror(errno));
		return;
	}
	/* Said once as a warning (not an error every minute in cron's mail). */
	if (access(run->state_dir, W_OK) != 0) {
		pgp_warning("state directory \"%s\": %s: no deltas this run (see --state-dir, alert.state_dir)",
			    run->state_dir, strerror(errno));
		return;
	}
	paths(run, t, file, lock, sizeof(file));
	switch (pgp_lock_try(lock, &t->lock_fd, &holder)) {
	case PGP_LOCK_TAKEN:
		break;
	case PGP_LOCK_BUSY:
		pgp_warning("target \"%s\": another pgp-alert (pid %ld) holds %s: this run keeps no state",
			    t->name, (long) holder, lock);
		t->lock_fd = -1;
		return;
	default:
		t->lock_fd = -1;
		return;
	}
	if (access(file, F_OK) != 0)
		return;
	if (pgp_read_file(file, &text, NULL) < 0 || pgp_json_parse(text, strlen(text), file, &t->prev) < 0 ||
	    !json_object_is_type(t->prev, json_type_object)) {
		pgp_warning("target \"%s\": ignoring unreadable state file %s", t->name, file);
		json_object_put(t->prev);
		t->prev = NULL;
	}
	free(text);
}

static const char *
jstring(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v) : NULL;
}

static long long
jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* "CRITICAL" back to its state; -1 when not a state name. */
static int
state_from_name(const char *s)
{
	for (int st = ST_OK; s && st <= ST_UNKNOWN; st++)
		if (strcmp(s, alert_state_name((enum alert_state) st)) == 0)
			return st;
	return -1;
}

/* A cached schema, only in the form quote_ident gives (it goes into SQL). */
static int
schema_load(struct json_object *facts, const char *key, char *out, size_t size, int *has)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(facts, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_null)) {
		*has = 0;
		return 1;
	}
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!s || strlen(s) >= size || !facts_ident_ok(s))
		return 0;
	snprintf(out, size, "%s", s);
	*has = 1;
	return 1;
}

unsigned
state_facts(const struct alert_target *t, const char *dbname, struct server_facts *f)
{
	struct json_object *facts, *v;
	const char *db;
	unsigned known = 0;

	if (!t->prev || !json_object_object_get_ex(t->prev, "facts", &facts) ||
	    !json_object_is_type(facts, json_type_object))
		return 0;
	/* The extensions are per database. */
	db = jstring(facts, "database");
	if (!db || !dbname || strcmp(db, dbname) != 0)
		return 0;
	if (json_object_object_get_ex(facts, "in_recovery", &v) && json_object_is_type(v, json_type_boolean)) {
		f->in_recovery = json_object_get_boolean(v);
		known |= FACT_RECOVERY;
	}
	if (schema_load(facts, "pg_stat_statements", f->pgss_schema, sizeof(f->pgss_schema), &f->has_pgss))
		known |= FACT_PGSS;
	if (schema_load(facts, "pgstattuple", f->pgstattuple_schema, sizeof(f->pgstattuple_schema),
			&f->has_pgstattuple))
		known |= FACT_PGSTATTUPLE;
	return known;
}

static struct json_object *
facts_json(const struct alert_target *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "database", pgp_json_cstring(t->dbname));
	json_object_object_add(o, "in_recovery", json_object_new_boolean(t->facts.in_recovery));
	json_object_object_add(o, "pg_stat_statements",
			       t->facts.has_pgss ? pgp_json_cstring(t->facts.pgss_schema) : NULL);
	json_object_object_add(o, "pgstattuple",
			       t->facts.has_pgstattuple ? pgp_json_cstring(t->facts.pgstattuple_schema) : NULL);
	return o;
}

void
track_free(struct check_track *tr)
{
	free(tr->text);
	free(tr->value);
	tr->text = tr->value = NULL;
}

/* The previous run's record of a check into its track. */
static void
track_load(const struct alert_target *t, const char *check, struct check_track *tr)
{
	struct json_object *checks, *c;
	int st, nst;

	memset(tr, 0, sizeof(*tr));
	if (!t->prev || !json_object_object_get_ex(t->prev, "checks", &checks) ||
	    !json_object_object_get_ex(checks, check, &c) || (st = state_from_name(jstring(c, "state"))) < 0)
		return;
	tr->known = 1;
	tr->state = (enum alert_state) st;
	tr->since = jint(c, "since");
	tr->count = jint(c, "count");
	nst = state_from_name(jstring(c, "notified"));
	tr->notified = nst > 0 ? (enum alert_state) nst : ST_OK;
	tr->notified_at = jint(c, "notified_at");
	tr->notified_since = jint(c, "notified_since");
	if (jstring(c, "text"))
		tr->text = strdup(jstring(c, "text"));
	if (jstring(c, "value"))
		tr->value = strdup(jstring(c, "value"));
}

void
state_track(const struct alert_run *run, struct alert_target *t)
{
	struct json_object *pending = NULL, *old;
	const char *inst;

	for (int id = 0; id < CK_COUNT; id++) {
		const struct check_result *r = &t->results[id];
		struct check_track *tr = &t->track[id];

		track_free(tr);
		track_load(t, check_defs[id].name, tr);
		if (r->skip)
			continue;
		/* Consecutive runs in this state: what "confirm" counts. */
		if (tr->known && tr->state == r->state && tr->count > 0)
			tr->count++;
		else {
			tr->since = (long long) run->now;
			tr->count = 1;
		}
		tr->known = 1;
		tr->state = r->state;
	}
	if (t->prev)
		json_object_object_get_ex(t->prev, "pending", &pending);
	for (int ch = 0; ch < NC_COUNT; ch++) {
		json_object_put(t->outbox[ch]);
		t->outbox[ch] = NULL;
		if (pending && json_object_object_get_ex(pending, notify_channel_name((enum notify_channel) ch), &old) &&
		    json_object_is_type(old, json_type_array))
			json_object_deep_copy(old, &t->outbox[ch], NULL);
		if (!t->outbox[ch])
			t->outbox[ch] = json_object_new_array();
	}
	/* Alertmanager tells alerts apart by their labels: the instance
	 * label must not change when the server is down. */
	inst = t->up && *t->where ? t->where : jstring(t->prev, "instance");
	snprintf(t->instance, sizeof(t->instance), "%s", inst && *inst ? inst : t->name);
}

int
state_save(const struct alert_run *run, struct alert_target *t)
{
	char file[1200], lock[1200];
	struct json_object *o, *counters, *checks, *old, *pending;
	const char *text;
	int rc;

	if (t->lock_fd < 0)
		return 0;
	paths(run, t, file, lock, sizeof(file));
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "target", pgp_json_cstring(t->name));
	json_object_object_add(o, "time", json_object_new_int64((long long) run->now));
	/* Start from the previous file: checks not run this time (--check)
	 * and a server that is down keep their last counters. */
	counters = NULL;
	if (t->prev && json_object_object_get_ex(t->prev, "counters", &old))
		json_object_deep_copy(old, &counters, NULL);
	if (!counters)
		counters = json_object_new_object();
	for (int id = 0; t->up && id < CK_COUNT; id++) {
		const struct check_result *r = &t->results[id];
		struct json_object *byc;

		if (!(check_defs[id].flags & CF_DELTA) || r->skip || r->error || !r->answered)
			continue;
		byc = json_object_new_object();
		for (int i = 0; i < r->n_items; i++) {
			struct json_object *pair = json_object_new_array();

			json_object_array_add(pair, json_object_new_double(r->items[i].c[0]));
			json_object_array_add(pair, json_object_new_double(r->items[i].c[1]));
			json_object_object_add(byc, r->items[i].key, pair);
		}
		json_object_object_add(counters, check_defs[id].name, byc);
	}
	json_object_object_add(o, "counters", counters);
	checks = NULL;
	if (t->prev && json_object_object_get_ex(t->prev, "checks", &old))
		json_object_deep_copy(old, &checks, NULL);
	if (!checks)
		checks = json_object_new_object();
	for (int id = 0; id < CK_COUNT; id++) {
		const struct check_track *tr = &t->track[id];
		struct json_object *c;

		if (!tr->known)
			continue;
		c = json_object_new_object();
		json_object_object_add(c, "state", json_object_new_string(alert_state_name(tr->state)));
		json_object_object_add(c, "since", json_object_new_int64(tr->since));
		json_object_object_add(c, "count", json_object_new_int64(tr->count));
		if (tr->notified != ST_OK) {
			json_object_object_add(c, "notified", json_object_new_string(alert_state_name(tr->notified)));
			json_object_object_add(c, "notified_since", json_object_new_int64(tr->notified_since));
		}
		if (tr->notified_at)
			json_object_object_add(c, "notified_at", json_object_new_int64(tr->notified_at));
		if (tr->notified != ST_OK && tr->text)
			json_object_object_add(c, "text", pgp_json_cstring(tr->text));
		if (tr->notified != ST_OK && tr->value)
			json_object_object_add(c, "value", pgp_json_cstring(tr->value));
		json_object_object_add(checks, check_defs[id].name, c);
	}
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "instance", pgp_json_cstring(t->instance));
	/* This run's facts, else (server down) the last known. */
	if (t->facts_answered)
		json_object_object_add(o, "facts", facts_json(t));
	else if (t->prev && json_object_object_get_ex(t->prev, "facts", &old))
		json_object_object_add(o, "facts", json_object_get(old));
	pending = json_object_new_object();
	for (int ch = 0; ch < NC_COUNT; ch++)
		if (t->outbox[ch] && json_object_array_length(t->outbox[ch]) > 0)
			json_object_object_add(pending, notify_channel_name((enum notify_channel) ch),
					       json_object_get(t->outbox[ch]));
	json_object_object_add(o, "pending", pending);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	rc = pgp_atomic_write(file, text, strlen(text), 0644);
	json_object_put(o);
	pgp_lock_release(t->lock_fd);
	t->lock_fd = -1;
	return rc;
}
