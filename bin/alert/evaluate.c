/*
 * From raw values to states.  Counters become deltas against the previous
 * run's state file, ratios are judged only above a minimum of activity
 * (a ratio since the last stats reset false-alarms on a fresh database),
 * thresholds are applied item by item (critical first), an item's flag
 * from the query raises it to at least that state, and each check takes
 * the worst of its items, with a line of text from the worst one.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <errno.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "alert.h"
#include "atomicfile.h"
#include "json.h"
#include "log.h"

/* What a check says in words; %v value, %m max, %p value as a share of
 * max, %n the first counter, %k the item, %d its detail. */
static const char *const phrases[CK_COUNT] = {
	[CK_CONNECTION] = "connected in %v",
	[CK_BACKENDS] = "%v of %m connections (%p)",
	[CK_IDLE_IN_TRANSACTION] = "idle in transaction for %v (%d)",
	[CK_TXN_TIME] = "transaction open for %v (%d)",
	[CK_QUERY_TIME] = "query running for %v (%d)",
	[CK_LOCKS] = "%n waiting for a lock, the longest for %v: %d",
	[CK_HITRATIO] = "%k: cache hit ratio %v since the last run",
	[CK_ROLLBACK_RATIO] = "%k: %v of transactions rolled back since the last run",
	[CK_TXN_WRAPAROUND] = "%k: datfrozenxid age %v (%p of the limit)",
	[CK_MULTIXACT] = "%k: datminmxid age %v (%p of the limit)",
	[CK_AUTOVAC_FREEZE] = "%k at %v of autovacuum_freeze_max_age (%d)",
	[CK_LAST_VACUUM] = "%k not vacuumed for %v (%d)",
	[CK_LAST_ANALYZE] = "%k not analyzed for %v (%d)",
	[CK_DEAD_TUPLES] = "%k: %v dead (%d)",
	[CK_INVALID_INDEXES] = "%v invalid indexes: %d",
	[CK_INVALID_CONSTRAINTS] = "%v NOT VALID constraints: %d",
	[CK_DATABASE_SIZE] = "%k: %v",
	[CK_WAL_FILES] = "%v WAL files (%p of max_wal_size)",
	[CK_ARCHIVER] = "%v WAL files ready to archive, %d",
	[CK_REPLICATION] = "%k replay lag %v (%d)",
	[CK_REPLICATION_SLOTS] = "slot %k retains %v of WAL (%d)",
	[CK_SEQUENCE] = "%k: %v used (%d)",
	[CK_CHECKPOINTS] = "%v of checkpoints requested since the last run",
	[CK_PREPARED_TXNS] = "prepared transaction open for %v: %d",
	[CK_DEADLOCKS] = "%k: %v deadlocks since the last run",
	[CK_TEMP_BYTES] = "%k: %v of temporary files since the last run",
	[CK_CERTIFICATE] = "server certificate expires in %v (%d)",
	[CK_BACKUP] = "%k: last good backup %v ago (%d)",
	[CK_SLOW_QUERIES] = "queryid %k: %v per call since the last run (%n calls): %d",
	[CK_BLOAT] = "%k wastes %v (%d)",
	[CK_PGB_CLIENTS] = "%v of %m client connections (%p)",
	[CK_PGB_WAITING] = "pool %k: %v clients waiting (%d)",
	[CK_PGB_MAXWAIT] = "pool %k: a client has waited %v (%d)",
	[CK_PGB_SATURATION] = "pool %k: %v of %m server connections in use (%p)",
	[CK_DISK_SPACE] = "%k file system %v used (%d)",
};

static const char *const nothing[CK_COUNT] = {
	[CK_BACKENDS] = "no client connections",
	[CK_IDLE_IN_TRANSACTION] = "no session idle in transaction",
	[CK_TXN_TIME] = "no open transaction",
	[CK_QUERY_TIME] = "no active query",
	[CK_LOCKS] = "no session waiting for a lock",
	[CK_LAST_VACUUM] = "no table waits for a vacuum",
	[CK_LAST_ANALYZE] = "no table waits for an analyze",
	[CK_DEAD_TUPLES] = "no table waits for a vacuum",
	[CK_REPLICATION] = "no standby connected",
	[CK_REPLICATION_SLOTS] = "no replication slots",
	[CK_SEQUENCE] = "no sequences",
	[CK_PREPARED_TXNS] = "no prepared transactions",
	[CK_SLOW_QUERIES] = "no statements",
	[CK_BLOAT] = "no relation of 1MB or more",
	[CK_PGB_CLIENTS] = "no pools",
	[CK_PGB_WAITING] = "no pools",
	[CK_PGB_MAXWAIT] = "no pools",
	[CK_PGB_SATURATION] = "no pools",
};

void
format_value(const struct check_def *def, double v, char *buf, size_t size)
{
	switch (def->kind) {
	case VK_SECONDS:
		format_duration(v, buf, size);
		break;
	case VK_BYTES:
		format_bytes_h(v, buf, size);
		break;
	case VK_PERCENT:
		snprintf(buf, size, "%.1f%%", v);
		break;
	default:
		snprintf(buf, size, "%.0f", v);
	}
}

static void
describe(const struct check_def *def, const struct item *it, char *out, size_t size)
{
	const char *p = phrases[def->id] ? phrases[def->id] : "%k %v";
	size_t n = 0;

	out[0] = '\0';
	for (; *p && n + 1 < size; p++) {
		char piece[400];

		if (*p != '%' || !p[1]) {
			out[n++] = *p;
			out[n] = '\0';
			continue;
		}
		piece[0] = '\0';
		switch (*++p) {
		case 'v':
			if (it->has_value)
				format_value(def, it->value, piece, sizeof(piece));
			else
				snprintf(piece, sizeof(piece), "unknown");
			break;
		case 'm':
			snprintf(piece, sizeof(piece), "%.0f", it->max);
			break;
		case 'p':
			if (it->max > 0)
				snprintf(piece, sizeof(piece), "%.1f%%", 100.0 * it->value / it->max);
			else
				snprintf(piece, sizeof(piece), "-");
			break;
		case 'n':
			snprintf(piece, sizeof(piece), "%.0f", def->flags & CF_DELTA ? it->d[0] : it->c[0]);
			break;
		case 'k':
			snprintf(piece, sizeof(piece), "%s", *it->key ? it->key : "this server");
			break;
		case 'd':
			snprintf(piece, sizeof(piece), "%s", it->detail ? it->detail : "-");
			break;
		default:
			piece[0] = *p, piece[1] = '\0';
		}
		n += (size_t) snprintf(out + n, size - n, "%s", piece);
		if (n >= size)
			n = size - 1;
	}
}

/* The previous run's counters of one item: [c0, c1], or NULL. */
static struct json_object *
prev_counters(const struct alert_target *t, const char *check, const char *key)
{
	struct json_object *c, *byc, *v;

	if (!t->prev || !json_object_object_get_ex(t->prev, "counters", &c) ||
	    !json_object_object_get_ex(c, check, &byc) || !json_object_object_get_ex(byc, key, &v) ||
	    !json_object_is_type(v, json_type_array) || json_object_array_length(v) < 2)
		return NULL;
	return v;
}

/* Did the previous run sample this check at all? */
static int
had_sample(const struct alert_target *t, const char *check)
{
	struct json_object *c, *byc;

	return t->prev && json_object_object_get_ex(t->prev, "counters", &c) &&
	       json_object_object_get_ex(c, check, &byc);
}

static void
apply_deltas(const struct alert_target *t, struct check_result *r, const struct check_conf *cc)
{
	const struct check_def *def = r->def;

	for (int i = 0; i < r->n_items; i++) {
		struct item *it = &r->items[i];
		struct json_object *p = prev_counters(t, def->name, it->key);
		double d0, d1, p0 = 0, p1 = 0;

		it->has_value = 0;
		/* An item new since a previous sample (a database, a statement)
		 * started from zero in between. */
		if (!p && !had_sample(t, def->name))
			continue;
		if (p) {
			p0 = json_object_get_double(json_object_array_get_idx(p, 0));
			p1 = json_object_get_double(json_object_array_get_idx(p, 1));
		}
		d0 = counter_delta(it->c[0], p0);
		d1 = counter_delta(it->c[1], p1);
		if (d0 < 0 || d1 < 0)
			continue;	/* statistics were reset: judge next time */
		it->d[0] = d0;
		it->d[1] = d1;
		it->has_delta = 1;
		switch (def->id) {
		case CK_HITRATIO:
			it->value = delta_ratio(d0, d1, cc->floor);
			break;
		case CK_ROLLBACK_RATIO:
		case CK_CHECKPOINTS:
			it->value = delta_ratio(d0, d1, cc->floor);
			break;
		case CK_SLOW_QUERIES:
			it->value = d0 >= cc->floor && d0 > 0 ? d1 / d0 : -1;
			break;
		default:
			it->value = d0;
		}
		it->has_value = it->value >= 0;
	}
}

static int
matches(const char *re, const char *s)
{
	regex_t rx;
	int m;

	if (!re)
		return -1;
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	m = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return m;
}

/* slow_queries: show the top N by time spent and by mean, and the bad. */
static void
pick_top(struct check_result *r, int top_n)
{
	for (int i = 0; i < r->n_items; i++) {
		struct item *it = &r->items[i];
		int by_total = 0, by_mean = 0;

		if (!it->has_value) {
			it->hidden = 1;
			continue;
		}
		for (int k = 0; k < r->n_items; k++) {
			const struct item *o = &r->items[k];

			if (k == i || !o->has_value)
				continue;
			by_total += o->d[1] > it->d[1] || (o->d[1] == it->d[1] && k < i);
			by_mean += o->value > it->value || (o->value == it->value && k < i);
		}
		it->hidden = by_total >= top_n && by_mean >= top_n && it->state == ST_OK;
	}
}

static void
judge(const struct alert_run *run, const struct alert_target *t, struct check_result *r, const struct check_conf *cc)
{
	const struct check_def *def = r->def;
	const struct item *worst = NULL;
	int bad = 0;

	r->warn = cc->warn;
	r->crit = cc->crit;
	if (def->flags & CF_DELTA)
		apply_deltas(t, r, cc);
	if (def->id == CK_BACKENDS && cc->exclude_idle)
		for (int i = 0; i < r->n_items; i++)
			r->items[i].value = r->items[i].c[0];
	for (int i = 0; i < r->n_items; i++) {
		struct item *it = &r->items[i];

		if (*it->key && (matches(cc->exclude, it->key) == 1 || matches(cc->include, it->key) == 0)) {
			it->hidden = 1;
			it->info = 1;
			continue;
		}
		if (def->id == CK_DEAD_TUPLES && it->c[0] < cc->floor)
			it->info = 1;
		it->state = it->floor_state;
		if (it->info && it->floor_state == ST_OK)
			continue;
		if (it->has_value) {
			int pct_without_max = it->max <= 0;

			it->warn_set = cc->warn.set && !(cc->warn.percent && pct_without_max);
			it->crit_set = cc->crit.set && !(cc->crit.percent && pct_without_max);
			it->warn = threshold_limit(&cc->warn, it->max);
			it->crit = threshold_limit(&cc->crit, it->max);
			it->state = alert_worse(it->state, threshold_compare(it->value, it->warn_set, it->warn,
									   it->crit_set, it->crit,
									   (def->flags & CF_LOWER_WORSE) != 0));
		}
	}
	if (def->id == CK_SLOW_QUERIES)
		pick_top(r, run->top_n > 0 ? run->top_n : 5);
	for (int i = 0; i < r->n_items; i++) {
		const struct item *it = &r->items[i];

		if (it->info && it->state == ST_OK)
			continue;
		/* A delta not known yet (first sample, too little activity) is not news. */
		if ((def->flags & CF_DELTA) && !it->has_value && it->state == ST_OK)
			continue;
		if (it->state != ST_OK)
			bad++;
		if (!worst || alert_worse(it->state, worst->state) != worst->state ||
		    (it->state == worst->state && it->has_value && worst->has_value &&
		     ((def->flags & CF_LOWER_WORSE) ? it->value < worst->value : it->value > worst->value)) ||
		    (it->state == worst->state && it->has_value && !worst->has_value))
			worst = it;
	}
	if (!worst) {
		int any = 0;

		for (int i = 0; i < r->n_items; i++)
			any |= !r->items[i].hidden;
		r->state = ST_OK;
		if ((def->flags & CF_DELTA) && r->n_items)
			snprintf(r->text, sizeof(r->text), "%s", t->prev ? "too little activity since the last run to judge"
				 : "first sample: judged from the next run on");
		else
			snprintf(r->text, sizeof(r->text), "%s", any && r->n_items ? "all within limits"
				 : nothing[def->id] ? nothing[def->id] : "nothing to report");
		return;
	}
	r->state = worst->state;
	describe(def, worst, r->text, sizeof(r->text));
	if (bad > 1) {
		size_t n = strlen(r->text);

		snprintf(r->text + n, sizeof(r->text) - n, " (+%d more)", bad - 1);
	}
}

/*
 * disk_space: the server said where its data directory is; statvfs it and
 * its pg_wal from here, which only means something on the same machine.
 * The monitoring user may not be allowed to look (a 0700 data directory):
 * UNKNOWN with the reason.
 */
static void
check_disk(const struct alert_run *run, struct alert_target *t, struct check_result *r)
{
	char path[1200], wal[1300];
	const char *paths[2], *keys[2] = {"data", "pg_wal"};
	struct item *it;

	if (!t->local) {
		if (run->wanted[CK_DISK_SPACE] < 2)
			r->skip = 1;
		else
			result_set_error(r, "the server is not on this machine");
		return;
	}
	if (r->error || r->n_items != 1 || !r->items[0].detail)
		return;
	snprintf(path, sizeof(path), "%s", r->items[0].detail);
	snprintf(wal, sizeof(wal), "%s/pg_wal", path);
	paths[0] = path;
	paths[1] = wal;
	free(r->items[0].key);
	free(r->items[0].detail);
	r->n_items = 0;
	for (int i = 0; i < 2; i++) {
		struct statvfs sv;
		char detail[1400], fr[32], tot[32];

		if (statvfs(paths[i], &sv) != 0) {
			result_set_error(r, "cannot stat %s: %s", paths[i], strerror(errno));
			return;
		}
		format_bytes_h((double) sv.f_bavail * (double) sv.f_frsize, fr, sizeof(fr));
		format_bytes_h((double) sv.f_blocks * (double) sv.f_frsize, tot, sizeof(tot));
		snprintf(detail, sizeof(detail), "%s free of %s at %s", fr, tot, paths[i]);
		if (!(it = result_add(r, keys[i], detail)))
			return;
		/* Used as df counts it: what the server cannot have is used. */
		it->value = sv.f_blocks ? 100.0 * (double) (sv.f_blocks - sv.f_bavail) / (double) sv.f_blocks : 0;
		it->has_value = 1;
		it->c[0] = (double) sv.f_bavail * (double) sv.f_frsize;
	}
}

/* RFC 3339 UTC ("2026-12-01T08:00:00Z"), as pgp-backup writes it. */
static int
parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	if (!end || *end)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v) : NULL;
}

/* A cluster state file's document, or NULL. */
static struct json_object *
read_state(const char *path)
{
	struct json_object *o = NULL;
	char *text = NULL;

	if (pgp_read_file(path, &text, NULL) == 0 && pgp_json_parse(text, strlen(text), path, &o) < 0)
		o = NULL;
	free(text);
	return o;
}

/*
 * Physical backups: one item per cluster state file pgp-backup keeps in
 * the same state directory (written by backup --physical and wal-push),
 * its value the age of the last good base backup, with the newest WAL
 * stored and the oldest point a restore can reach.
 */
struct cluster_arg {
	const struct alert_run *run;
	struct check_result *r;
};

static void
cluster_item(const char *name, struct json_object *o, void *arg)
{
	const struct cluster_arg *a = arg;
	char key[300], detail[600], oldest[200] = "";
	const char *good, *result, *wal, *wal_time;
	struct json_object *old;
	struct item *it;
	time_t when;

	a->r->answered = 1;
	snprintf(key, sizeof(key), "cluster %s", name);
	if (!o) {
		snprintf(detail, sizeof(detail), "cannot read its state file %s/cluster-%s.json", a->run->backup_state_dir,
			 name);
		if ((it = result_add(a->r, key, detail)))
			it->floor_state = ST_UNKNOWN;
		return;
	}
	good = jstr(o, "last_base_backup_time");
	result = jstr(o, "last_base_backup_result");
	wal = jstr(o, "last_archived_wal");
	wal_time = jstr(o, "last_archived_time");
	if (json_object_object_get_ex(o, "oldest_recoverable", &old) && jstr(old, "time"))
		snprintf(oldest, sizeof(oldest), "; recoverable from %s", jstr(old, "time"));
	if (!good && !result)
		snprintf(detail, sizeof(detail), "WAL archived up to %s, but no base backup recorded", wal ? wal : "-");
	else if (result && strcmp(result, "ok") != 0)
		snprintf(detail, sizeof(detail), "the last base backup failed: %s",
			 jstr(o, "last_base_backup_error") ? jstr(o, "last_base_backup_error") : "no reason recorded");
	else
		snprintf(detail, sizeof(detail), "base backup %s at %s; WAL stored up to %s at %s%s",
			 jstr(o, "last_base_backup_id") ? jstr(o, "last_base_backup_id") : "-", good ? good : "never",
			 wal ? wal : "-", wal_time ? wal_time : "never", oldest);
	it = result_add(a->r, key, detail);
	if (!it)
		return;
	it->c[0] = result && strcmp(result, "ok") != 0;
	it->floor_state = it->c[0] ? ST_WARNING : ST_OK;
	if (good && parse_time(good, &when) == 0) {
		it->value = difftime(a->run->now, when);
		it->has_value = 1;
	} else
		it->floor_state = ST_CRITICAL;	/* WAL but no base backup: nothing to restore */
}

/*
 * Call fn on each cluster state file pgp-backup keeps in the backup state
 * directory (cluster-NAME.json), with NAME; the number found.
 */
static int
each_cluster_state(const struct alert_run *run, void (*fn)(const char *name, struct json_object *o, void *arg),
		   void *arg)
{
	DIR *d = opendir(run->backup_state_dir);
	struct dirent *de;
	int found = 0;

	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char path[1200], name[256];
		struct json_object *o;

		if (strncmp(de->d_name, "cluster-", 8) != 0 || n < 14 || n > 200 ||
		    strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", run->backup_state_dir, de->d_name);
		/* One that cannot be read is reported (o NULL), never passed over. */
		o = read_state(path);
		snprintf(name, sizeof(name), "%.*s", (int) (n - 13), de->d_name + 8);
		fn(name, o, arg);
		json_object_put(o);
		found++;
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * archiver: what pgp-backup's wal-push recorded as stored in the
 * repository (the server's pg_stat_archiver says what it handed over),
 * added to the line.
 */
static void
archiver_note(const char *name, struct json_object *o, void *arg)
{
	struct check_result *r = arg;
	size_t used = strlen(r->text);

	if (o && jstr(o, "last_archived_wal"))
		snprintf(r->text + used, sizeof(r->text) - used, "; cluster %s stored up to %s at %s", name,
			 jstr(o, "last_archived_wal"), jstr(o, "last_archived_time") ? jstr(o, "last_archived_time") : "?");
}

/* backup: pgp-backup's state files for this database and the clusters, no S3 request. */
static void
check_backup(const struct alert_run *run, struct alert_target *t, struct check_result *r)
{
	char path[1200], detail[600];
	struct json_object *o = NULL;
	char *text = NULL;
	const char *good, *result, *error, *last_run;
	struct item *it;
	time_t when;

	snprintf(path, sizeof(path), "%s/backup-%s.json", run->backup_state_dir, t->dbname);
	struct cluster_arg ca = {run, r};

	if (each_cluster_state(run, cluster_item, &ca) > 0 && access(path, F_OK) != 0)
		return;		/* physical backups only */
	if (access(path, F_OK) != 0) {
		if (!run->backup_configured && run->wanted[CK_BACKUP] < 2) {
			r->skip = 1;
			return;
		}
		result_set_error(r, "no backup state file %s (has pgp-backup run for database %s on this machine?)",
				 path, t->dbname);
		return;
	}
	if (pgp_read_file(path, &text, NULL) < 0 || pgp_json_parse(text, strlen(text), path, &o) < 0) {
		result_set_error(r, "cannot read %s", path);
		free(text);
		return;
	}
	free(text);
	r->answered = 1;
	good = jstr(o, "last_good_time");
	result = jstr(o, "last_run_result");
	error = jstr(o, "last_error");
	last_run = jstr(o, "last_run_time");
	if (result && strcmp(result, "ok") != 0)
		snprintf(detail, sizeof(detail), "the last run at %s failed: %s", last_run ? last_run : "?",
			 error ? error : "no reason recorded");
	else
		snprintf(detail, sizeof(detail), "%s, id %s", good ? good : "never",
			 jstr(o, "last_good_id") ? jstr(o, "last_good_id") : "-");
	it = result_add(r, t->dbname, detail);
	if (it) {
		it->c[0] = result && strcmp(result, "ok") != 0;
		it->floor_state = it->c[0] ? ST_WARNING : ST_OK;
		if (good && parse_time(good, &when) == 0) {
			it->value = difftime(run->now, when);
			it->has_value = 1;
		} else
			it->floor_state = ST_CRITICAL;	/* no good backup at all */
	}
	json_object_put(o);
}

void
evaluate_target(const struct alert_run *run, struct alert_target *t)
{
	if (t->pgbouncer && t->up)
		pgb_results(t);
	for (int id = 0; id < CK_COUNT; id++) {
		struct check_result *r = &t->results[id];
		const struct check_conf *cc = &t->conf[id];
		struct item *it;

		r->def = &check_defs[id];
		if (!run->wanted[id] || !cc->enabled) {
			r->skip = 1;
			continue;
		}
		/* A PgBouncer console answers its own checks only, a server the others. */
		if (id != CK_CONNECTION && !(check_defs[id].flags & CF_PGBOUNCER) != !t->pgbouncer) {
			r->skip = 1;
			continue;
		}
		if (id == CK_CONNECTION) {
			r->answered = 1;
			if (!t->up) {
				r->state = ST_CRITICAL;
				snprintf(r->text, sizeof(r->text), "%s", t->conn_error ? t->conn_error : "cannot connect");
				continue;
			}
			it = result_add(r, "", NULL);
			if (it) {
				it->value = (double) (t->connected_ms - t->start_ms) / 1000.0;
				it->has_value = 1;
			}
		}
		if (!t->up && id != CK_CONNECTION) {
			r->skip = 1;	/* nothing else can be known of a server that is down */
			continue;
		}

		for (int k = 0; k < t->plan.n_unsupported; k++)
			if (t->plan.unsupported[k] == (enum check_id) id)
				result_set_error(r, "%s", t->plan.unsupported_why[k]);
		if (id == CK_CERTIFICATE) {
			if (!t->facts.tls) {
				if (run->wanted[id] < 2) {
					r->skip = 1;
					continue;
				}
				result_set_error(r, "the session does not use TLS");
			} else if (!t->cert_known) {
				result_set_error(r, "the server's certificate could not be read from the TLS session");
			} else if ((it = result_add(r, "", t->cert_subject))) {
				it->value = t->cert_seconds_left;
				it->has_value = 1;
				r->answered = 1;
			}
		}
		if (id == CK_BACKUP)
			check_backup(run, t, r);
		if (id == CK_DISK_SPACE)
			check_disk(run, t, r);
		if (r->skip)
			continue;
		if (r->error) {
			r->state = ST_UNKNOWN;
			snprintf(r->text, sizeof(r->text), "%s", r->error);
			continue;
		}
		if (!r->answered) {
			r->state = ST_UNKNOWN;
			snprintf(r->text, sizeof(r->text), "no answer from the server");
			continue;
		}
		judge(run, t, r, cc);
		if (id == CK_ARCHIVER)
			each_cluster_state(run, archiver_note, r);
		/* A standby that is gone leaves no row: count the rows. */
		if (id == CK_REPLICATION && !t->facts.in_recovery && r->n_items < cc->expect_standbys) {
			char seen[sizeof(r->text)];

			snprintf(seen, sizeof(seen), "%s", r->text);
			r->state = ST_CRITICAL;
			snprintf(r->text, sizeof(r->text), "%d of %d expected standbys connected (%s)", r->n_items,
				 cc->expect_standbys, seen);
		}
		if (id == CK_SEQUENCE && r->state == ST_UNKNOWN) {
			int n = 0;

			for (int k = 0; k < r->n_items; k++)
				n += r->items[k].floor_state == ST_UNKNOWN;
			snprintf(r->text, sizeof(r->text),
				 "%d sequences not readable by %s (grant it SELECT on them; pgp-create does for its "
				 "monitor role)", n, *t->user ? t->user : "this role");
		}
	}
}

enum alert_state
target_state(const struct alert_run *run, const struct alert_target *t)
{
	enum alert_state s = ST_OK;

	(void) run;
	for (int i = 0; i < CK_COUNT; i++)
		if (!t->results[i].skip)
			s = alert_worse(s, t->results[i].state);
	return s;
}

enum alert_state
run_state(const struct alert_run *run)
{
	enum alert_state s = ST_OK;

	for (int i = 0; i < run->n_targets; i++)
		s = alert_worse(s, target_state(run, &run->targets[i]));
	return s;
}
