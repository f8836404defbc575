/*
 * The three ways out.  Nagios: "PGP-ALERT <STATE> - <summary> | perfdata",
 * then one line per check that is not OK (perfdata labels quoted, base
 * units).  Prometheus text for node_exporter's textfile collector: HELP and
 * TYPE for every family, base units, no timestamps, counters as _total,
 * written atomically to a name ending in .prom.  JSON: one object per run.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "atomicfile.h"
#include "json.h"
#include "log.h"

void
alert_safe_name(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = in; *p && n + 1 < size; p++) {
		char c = *p;

		out[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '-' || c == '.' ? c : '_';
	}
	out[n] = '\0';
}

/* A growing string. */
struct buf {
	char *s;
	size_t len, cap;
	int failed;
};

static void __attribute__((format(printf, 2, 3)))
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->s && (size_t) n < room) {
			b->len += (size_t) n;
			return;
		}
		{
			size_t cap = b->cap ? b->cap * 2 : 8192;
			char *bigger;

			while (cap < b->len + (size_t) n + 1)
				cap *= 2;
			bigger = realloc(b->s, cap);
			if (!bigger) {
				b->failed = 1;
				return;
			}
			b->s = bigger;
			b->cap = cap;
		}
	}
}

/* A number without exponent, as Nagios perfdata wants it. */
static void
plain_number(double v, char *out, size_t size)
{
	if (!isfinite(v))
		v = 0;
	if (fabs(v - llround(v)) < 1e-9 && fabs(v) < 1e15)
		snprintf(out, size, "%.0f", v);
	else {
		size_t n;

		snprintf(out, size, "%.3f", v);
		n = strlen(out);
		while (n > 1 && out[n - 1] == '0')
			out[--n] = '\0';
		if (n > 1 && out[n - 1] == '.')
			out[--n] = '\0';
	}
}

static int
shown(const struct check_result *r)
{
	return r->def && !r->skip;
}

static int
has_keyed(const struct check_result *r)
{
	for (int i = 0; i < r->n_items; i++)
		if (*r->items[i].key && !r->items[i].hidden)
			return 1;
	return 0;
}

static void
perf_label(struct buf *b, const char *target, const char *check, const char *key)
{
	char label[512];

	snprintf(label, sizeof(label), "%s%s%s%s%s", target ? target : "", target ? "/" : "", check,
		 *key ? ":" : "", key);
	bprintf(b, " '");
	for (const char *p = label; *p; p++)
		bprintf(b, *p == '\'' ? "''" : "%c", *p);
	bprintf(b, "'");
}

static void
perfdata(struct buf *b, const struct alert_run *run)
{
	for (int ti = 0; ti < run->n_targets; ti++) {
		const struct alert_target *t = &run->targets[ti];
		const char *tname = run->n_targets > 1 ? t->name : NULL;

		for (int id = 0; id < CK_COUNT; id++) {
			const struct check_result *r = &t->results[id];

			/* A check that could not be answered has no values to graph. */
			if (!shown(r) || r->error)
				continue;
			for (int i = 0; i < r->n_items; i++) {
				const struct item *it = &r->items[i];
				char v[64], w[64] = "", c[64] = "", mx[64] = "";

				if (it->hidden || !it->has_value)
					continue;
				plain_number(it->value, v, sizeof(v));
				if (it->warn_set)
					plain_number(it->warn, w, sizeof(w));
				if (it->crit_set)
					plain_number(it->crit, c, sizeof(c));
				if (it->max > 0)
					plain_number(it->max, mx, sizeof(mx));
				else if (r->def->kind == VK_PERCENT)
					snprintf(mx, sizeof(mx), "100");
				perf_label(b, tname, r->def->name, it->key);
				bprintf(b, "=%s%s;%s;%s;0;%s", v, r->def->uom, w, c, mx);
				/* Trailing empty fields may be dropped (and some parsers prefer it). */
				while (!b->failed && b->len && b->s[b->len - 1] == ';')
					b->s[--b->len] = '\0';
			}
		}
	}
}

/* Not-OK checks, worst first: CRITICAL, WARNING, UNKNOWN. */
static const enum alert_state order[] = {ST_CRITICAL, ST_WARNING, ST_UNKNOWN};

int
output_nagios(const struct alert_run *run, FILE *out, int quiet)
{
	enum alert_state worst = run_state(run);
	struct buf sum = {0}, perf = {0}, lines = {0};
	int bad = 0, checks = 0;
	const struct check_result *only = NULL;
	const struct alert_target *only_t = NULL;

	for (int k = 0; k < 3; k++) {
		for (int ti = 0; ti < run->n_targets; ti++) {
			const struct alert_target *t = &run->targets[ti];

			for (int id = 0; id < CK_COUNT; id++) {
				const struct check_result *r = &t->results[id];

				if (!shown(r) || r->state != order[k])
					continue;
				if (bad < 4)
					bprintf(&sum, "%s%s%s%s %s", bad ? ", " : "", run->n_targets > 1 ? t->name : "",
						run->n_targets > 1 ? " " : "", r->def->name, alert_state_name(r->state));
				bad++;
				only = r;
				only_t = t;
				bprintf(&lines, "%s%s%s %s: %s\n", run->n_targets > 1 ? t->name : "",
					run->n_targets > 1 ? ": " : "", r->def->name, alert_state_name(r->state), r->text);
			}
		}
	}
	for (int ti = 0; ti < run->n_targets; ti++)
		for (int id = 0; id < CK_COUNT; id++) {
			const struct check_result *r = &run->targets[ti].results[id];

			checks += shown(r);
			/* -v: the OK checks too, after the others. */
			if (run->verbose > 0 && shown(r) && r->state == ST_OK)
				bprintf(&lines, "%s%s%s OK: %s\n", run->n_targets > 1 ? run->targets[ti].name : "",
					run->n_targets > 1 ? ": " : "", r->def->name, r->text);
		}
	if (bad == 1) {
		free(sum.s);
		memset(&sum, 0, sizeof(sum));
		bprintf(&sum, "%s%s%s %s: %s", run->n_targets > 1 ? only_t->name : "", run->n_targets > 1 ? " " : "",
			only->def->name, alert_state_name(only->state), only->text);
	} else if (bad > 4)
		bprintf(&sum, " and %d more", bad - 4);
	else if (bad == 0) {
		if (run->n_targets > 1)
			bprintf(&sum, "%d targets, %d checks OK", run->n_targets, checks);
		else
			bprintf(&sum, "%d checks OK", checks);
	}
	perfdata(&perf, run);
	if (sum.failed || perf.failed || lines.failed) {
		pgp_error("out of memory");
		worst = ST_UNKNOWN;
	} else if (!(quiet && worst == ST_OK)) {
		/* The first line stays one line whatever a server said. */
		for (char *p = sum.s; p && *p; p++)
			if (*p == '\n' || *p == '|')
				*p = *p == '|' ? '/' : ' ';
		for (char *p = lines.s; p && *p; p++)
			if (*p == '|')
				*p = '/';
		fprintf(out, "PGP-ALERT %s - %s%s%s\n%s", alert_state_name(worst), sum.s ? sum.s : "",
			perf.s ? " |" : "", perf.s ? perf.s : "", lines.s ? lines.s : "");
	}
	free(sum.s);
	free(perf.s);
	free(lines.s);
	return fflush(out) == 0 ? 0 : -1;
}

static struct json_object *
jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

int
output_json(const struct alert_run *run, FILE *out)
{
	struct json_object *o = json_object_new_object(), *targets = json_object_new_array();
	enum alert_state worst = run_state(run);
	int rc;

	json_object_object_add(o, "time", json_object_new_int64((long long) run->now));
	json_object_object_add(o, "state", json_object_new_string(alert_state_name(worst)));
	json_object_object_add(o, "exit", json_object_new_int((int) worst));
	for (int ti = 0; ti < run->n_targets; ti++) {
		const struct alert_target *t = &run->targets[ti];
		struct json_object *jt = json_object_new_object(), *checks = json_object_new_array();

		json_object_object_add(jt, "name", pgp_json_cstring(t->name));
		json_object_object_add(jt, "up", json_object_new_boolean(t->up));
		json_object_object_add(jt, "state", json_object_new_string(alert_state_name(target_state(run, t))));
		if (t->up) {
			json_object_object_add(jt, "server", pgp_json_cstring(t->where));
			json_object_object_add(jt, "database", pgp_json_cstring(t->dbname));
			json_object_object_add(jt, "server_version_num", json_object_new_int(t->facts.version_num));
			json_object_object_add(jt, "in_recovery", json_object_new_boolean(t->facts.in_recovery));
			if (!t->pgbouncer) {
				struct json_object *js = json_object_new_object();

				json_object_object_add(js, "read_only", json_object_new_boolean(!strcmp(t->facts.read_only, "on")));
				json_object_object_add(js, "statement_timeout", pgp_json_cstring(t->facts.statement_timeout));
				json_object_object_add(js, "lock_timeout", pgp_json_cstring(t->facts.lock_timeout));
				json_object_object_add(jt, "session", js);
			}
		} else
			json_object_object_add(jt, "error", pgp_json_cstring(t->conn_error));
		for (int id = 0; id < CK_COUNT; id++) {
			const struct check_result *r = &t->results[id];
			struct json_object *jc, *items;
			const struct item *main_item = NULL;

			if (!shown(r))
				continue;
			jc = json_object_new_object();
			items = json_object_new_array();
			json_object_object_add(jc, "name", json_object_new_string(r->def->name));
			json_object_object_add(jc, "state", json_object_new_string(alert_state_name(r->state)));
			json_object_object_add(jc, "text", pgp_json_cstring(r->text));
			json_object_object_add(jc, "unit", json_object_new_string(r->def->uom));
			for (int i = 0; i < r->n_items; i++) {
				const struct item *it = &r->items[i];
				struct json_object *ji;

				if (it->hidden)
					continue;
				if (!*it->key && !main_item)
					main_item = it;
				ji = json_object_new_object();
				json_object_object_add(ji, "name", pgp_json_cstring(it->key));
				json_object_object_add(ji, "state", json_object_new_string(alert_state_name(it->state)));
				json_object_object_add(ji, "value", it->has_value ? jnum(it->value) : NULL);
				json_object_object_add(ji, "warning", it->warn_set ? jnum(it->warn) : NULL);
				json_object_object_add(ji, "critical", it->crit_set ? jnum(it->crit) : NULL);
				if (it->max > 0)
					json_object_object_add(ji, "max", jnum(it->max));
				json_object_object_add(ji, "detail", pgp_json_cstring(it->detail));
				json_object_array_add(items, ji);
			}
			json_object_object_add(jc, "value", main_item && main_item->has_value ? jnum(main_item->value) : NULL);
			json_object_object_add(jc, "warning", main_item && main_item->warn_set ? jnum(main_item->warn) : NULL);
			json_object_object_add(jc, "critical", main_item && main_item->crit_set ? jnum(main_item->crit) : NULL);
			json_object_object_add(jc, "items", items);
			json_object_array_add(checks, jc);
		}
		json_object_object_add(jt, "checks", checks);
		json_object_array_add(targets, jt);
	}
	json_object_object_add(o, "targets", targets);
	rc = pgp_json_print(out, o, 0);
	json_object_put(o);
	return rc;
}

static void
prom_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			bprintf(b, "\\\\");
		else if (*s == '"')
			bprintf(b, "\\\"");
		else if (*s == '\n')
			bprintf(b, "\\n");
		else
			bprintf(b, "%c", *s);
	}
}

static void
prom_labels(struct buf *b, const char *target, const char *lname, const char *lvalue)
{
	bprintf(b, "{target=\"");
	prom_escape(b, target);
	bprintf(b, "\"");
	if (lname && lvalue && *lvalue) {
		bprintf(b, ",%s=\"", lname);
		prom_escape(b, lvalue);
		bprintf(b, "\"");
	}
	bprintf(b, "}");
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int
in_scope(int which, int ti)
{
	return which < 0 || which == ti;
}

/* One value family (which = -1: the check's value; 0, 1: its extras). */
static void
prom_values(struct buf *b, const struct alert_run *run, int which_target, const struct check_def *def, int which)
{
	const char *name = which < 0 ? def->metric : def->extra[which].name;
	int header = 0;

	if (!name)
		return;
	for (int ti = 0; ti < run->n_targets; ti++) {
		const struct alert_target *t = &run->targets[ti];
		const struct check_result *r = &t->results[def->id];
		int keyed = has_keyed(r);

		if (!in_scope(which_target, ti) || !shown(r) || r->error)
			continue;
		for (int i = 0; i < r->n_items; i++) {
			const struct item *it = &r->items[i];
			double v;

			if (it->hidden || (keyed && !*it->key))
				continue;
			if (which < 0 && (!it->has_value || (def->flags & CF_DELTA)))
				continue;
			v = which < 0 ? it->value : it->c[which];
			if (which < 0 && def->kind == VK_PERCENT)
				v /= 100.0;	/* base unit: a ratio */
			if (!header++)
				family(b, name, which >= 0 && def->extra[which].counter ? "counter" : "gauge",
				       which < 0 ? def->metric_help : def->extra[which].help);
			bprintf(b, "%s", name);
			prom_labels(b, t->name, def->label, it->key);
			bprintf(b, " %.17g\n", v);
		}
	}
}

char *
output_prometheus(const struct alert_run *run, int which)
{
	struct buf b = {0};

	family(&b, "pgp_alert_up", "gauge", "1 when pgp-alert could connect to the target and query it.");
	for (int ti = 0; ti < run->n_targets; ti++) {
		if (!in_scope(which, ti))
			continue;
		bprintf(&b, "pgp_alert_up");
		prom_labels(&b, run->targets[ti].name, NULL, NULL);
		bprintf(&b, " %d\n", run->targets[ti].up);
	}
	family(&b, "pgp_alert_last_run_timestamp_seconds", "gauge", "When pgp-alert last checked the target.");
	for (int ti = 0; ti < run->n_targets; ti++) {
		if (!in_scope(which, ti))
			continue;
		bprintf(&b, "pgp_alert_last_run_timestamp_seconds");
		prom_labels(&b, run->targets[ti].name, NULL, NULL);
		bprintf(&b, " %lld\n", (long long) run->now);
	}
	family(&b, "pgp_alert_check_status", "gauge", "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
	for (int ti = 0; ti < run->n_targets; ti++) {
		const struct alert_target *t = &run->targets[ti];

		if (!in_scope(which, ti))
			continue;
		for (int id = 0; id < CK_COUNT; id++) {
			if (!shown(&t->results[id]))
				continue;
			bprintf(&b, "pgp_alert_check_status");
			prom_labels(&b, t->name, "check", check_defs[id].name);
			bprintf(&b, " %d\n", (int) t->results[id].state);
		}
	}
	for (int id = 0; id < CK_COUNT; id++) {
		prom_values(&b, run, which, &check_defs[id], -1);
		prom_values(&b, run, which, &check_defs[id], 0);
		prom_values(&b, run, which, &check_defs[id], 1);
	}
	if (b.failed) {
		free(b.s);
		pgp_error("out of memory");
		return NULL;
	}
	return b.s;
}

int
output_textfiles(const struct alert_run *run, const char *dir)
{
	int rc = 0;

	for (int ti = 0; ti < run->n_targets; ti++) {
		char safe[200], path[1200];
		char *text = output_prometheus(run, ti);

		if (!text)
			return -1;
		alert_safe_name(run->targets[ti].name, safe, sizeof(safe));
		/* The temporary name ends in .tmp.XXXXXX: node_exporter reads only *.prom. */
		snprintf(path, sizeof(path), "%s/pgp_alert_%s.prom", dir, safe);
		if (pgp_atomic_write(path, text, strlen(text), 0644) < 0)
			rc = -1;
		free(text);
	}
	return rc;
}
