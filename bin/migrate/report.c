/*
 * The report: findings in the order the steps found them, grouped by
 * migration when printed, and the verdict they add up to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "report.h"

void
mc_oom(void)
{
	pgp_error("out of memory");
	exit(PGP_EXIT_FAILED);
}

char *
mc_strdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		mc_oom();
	return d;
}

char *
mc_strndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		mc_oom();
	return d;
}

void *
mc_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		mc_oom();
	return p;
}

static char *
dup_or_null(const char *s)
{
	return s ? mc_strdup(s) : NULL;
}

void
mc_find(struct mc_report *r, enum mc_severity sev, const char *kind, const struct mc_where *w,
	const char *advice, const char *fmt, ...)
{
	static const struct mc_where nowhere = {.migration = -1};
	struct mc_finding *f;
	va_list ap;
	char *msg = NULL;

	if (!w)
		w = &nowhere;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg || pgp_array_reserve(&r->f, r->n + 1, &r->cap, sizeof(*r->f)) != 0)
		mc_oom();
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	f->severity = sev;
	f->kind = dup_or_null(kind ? kind : "error");
	f->rule = dup_or_null(w->rule);
	f->file = dup_or_null(w->file);
	f->line = w->line;
	f->object = dup_or_null(w->object);
	f->sqlstate = dup_or_null(w->sqlstate && *w->sqlstate ? w->sqlstate : NULL);
	f->migration = w->migration;
	f->own_path = w->own_path;
	f->message = msg;
	f->advice = dup_or_null(advice);
}

enum mc_verdict
mc_report_verdict(const struct mc_report *r)
{
	enum mc_verdict v = MC_PASS;

	for (size_t i = 0; i < r->n; i++) {
		if (r->f[i].severity == MC_SEV_FAIL)
			return MC_FAIL;
		if (r->f[i].severity == MC_SEV_WARN)
			v = MC_WARN;
	}
	return v;
}

const char *
mc_verdict_name(enum mc_verdict v)
{
	return v == MC_FAIL ? "FAIL" : v == MC_WARN ? "WARN" : "PASS";
}

const char *
mc_severity_name(enum mc_severity s)
{
	return s == MC_SEV_FAIL ? "error" : s == MC_SEV_WARN ? "warning" : "info";
}

static const char *
state_name(enum mc_state s)
{
	switch (s) {
	case MC_STATE_PENDING:
		return "pending";
	case MC_STATE_APPLIED:
		return "applied";
	case MC_STATE_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

static void
count(const struct mc_report *r, int migration, size_t n[3])
{
	n[0] = n[1] = n[2] = 0;
	for (size_t i = 0; i < r->n; i++)
		if (migration == -2 || r->f[i].migration == migration)
			n[r->f[i].severity]++;
}

static enum mc_verdict
migration_verdict(const struct mc_report *r, int migration)
{
	size_t n[3];

	count(r, migration, n);
	return n[MC_SEV_FAIL] ? MC_FAIL : n[MC_SEV_WARN] ? MC_WARN : MC_PASS;
}

/*
 * Text from files, file names and bookkeeping rows, for a terminal: a
 * newline goes on indented (it cannot forge a line of the report), other
 * control characters (an escape sequence in a version string) are shown
 * as \xNN rather than obeyed.
 */
static void
put_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			fputs("\n          ", out);
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void
print_finding(FILE *out, const struct mc_finding *f)
{
	fprintf(out, "  %-7s ", mc_severity_name(f->severity));
	if (f->file) {
		put_text(out, f->file);
		fprintf(out, "%s%.0d ", f->line ? ":" : "", f->line);
	}
	fprintf(out, "%s", f->kind);
	if (f->rule)
		fprintf(out, " [%s]", f->rule);
	if (f->object) {
		fputc(' ', out);
		put_text(out, f->object);
	}
	if (f->sqlstate)
		fprintf(out, " (SQLSTATE %s)", f->sqlstate);
	fputs("\n          ", out);
	put_text(out, f->message);
	fputc('\n', out);
	if (f->advice) {
		fputs("          advice: ", out);
		put_text(out, f->advice);
		fputc('\n', out);
	}
}

static int
notable(const struct mc_evidence *ev)
{
	return ev->nlocks || ev->nrewrote || ev->nscanned || ev->sqlstate[0] || ev->ms >= 1000;
}

static void
print_names(FILE *out, const char *what, char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? ", " : what, v[i]);
}

/*
 * What the copy showed of each statement, a line each: its duration, the
 * locks it took on relations that existed before it, what it rewrote and
 * scanned, its SQLSTATE.
 */
static void
print_trace(FILE *out, const struct mc_script *sc, int verbose)
{
	for (size_t i = 0; sc->path && i < sc->nstmts; i++) {
		const struct mc_evidence *ev = &sc->stmts[i].ev;

		if (!ev->traced || (!verbose && !notable(ev)))
			continue;
		fprintf(out, "  trace   %s:%d %.1f ms", sc->path, sc->stmts[i].line, ev->ms);
		if (!ev->locks_known)
			fprintf(out, "; locks not seen (outside a transaction block)");
		for (size_t k = 0; k < ev->nlocks; k++)
			fprintf(out, "%s%s %s", k ? ", " : "; ", ev->locks[k].mode, ev->locks[k].relation);
		print_names(out, "; rewrote ", ev->rewrote, ev->nrewrote);
		print_names(out, "; scanned ", ev->scanned, ev->nscanned);
		if (ev->sqlstate[0])
			fprintf(out, "; failed, SQLSTATE %s", ev->sqlstate);
		fputc('\n', out);
	}
}

static int
print_text(FILE *out, const struct mc_report *r, const struct mc_set *set)
{
	enum mc_verdict v = mc_report_verdict(r);
	size_t n[3], pending = 0;

	for (size_t i = 0; set && i < set->n; i++)
		pending += set->m[i].state == MC_STATE_PENDING;
	count(r, -2, n);
	fprintf(out, "pgp-migrate-check: %s - %s, %zu migration%s", mc_verdict_name(v),
		r->tool ? r->tool : "?", set ? set->n : 0, set && set->n == 1 ? "" : "s");
	if (r->server_version)
		fprintf(out, " (%zu pending), PostgreSQL %d.%d", pending, r->server_version / 10000,
			r->server_version % 10000);
	fprintf(out, "\n");
	if (r->copy_note)
		fprintf(out, "copy: %s\n", r->copy_note);
	for (size_t i = 0; set && i < set->n; i++) {
		const struct mc_migration *m = &set->m[i];
		int has = 0;

		for (size_t k = 0; k < r->n && !has; k++)
			has = r->f[k].migration == (int)i;
		if (!has && m->state == MC_STATE_APPLIED)
			continue;	/* nothing to say of what already ran */
		fputc('\n', out);
		put_text(out, m->up.path ? m->up.path : m->version);
		fprintf(out, "  %s  %s\n", state_name(m->state), mc_verdict_name(migration_verdict(r, (int)i)));
		print_trace(out, &m->up, r->verbose);
		print_trace(out, &m->down, r->verbose);
		for (size_t k = 0; k < r->n; k++)
			if (r->f[k].migration == (int)i)
				print_finding(out, &r->f[k]);
	}
	for (size_t k = 0, first = 1; k < r->n; k++)
		if (r->f[k].migration < 0 || !set || r->f[k].migration >= (int)set->n) {
			if (first)
				fprintf(out, "\nthe run:\n");
			first = 0;
			print_finding(out, &r->f[k]);
		}
	fprintf(out, "\n%s: %zu error%s, %zu warning%s, %zu note%s\n", mc_verdict_name(v), n[MC_SEV_FAIL],
		n[MC_SEV_FAIL] == 1 ? "" : "s", n[MC_SEV_WARN], n[MC_SEV_WARN] == 1 ? "" : "s", n[MC_SEV_INFO],
		n[MC_SEV_INFO] == 1 ? "" : "s");
	return 0;
}

static void
add_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, value ? pgp_json_cstring(value) : NULL);
}

static json_object *
json_names(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, pgp_json_cstring(v[i]));
	return a;
}

/* Every traced statement of a script: the evidence the rules judged by. */
static void
json_trace(json_object *a, const struct mc_script *sc)
{
	for (size_t i = 0; sc->path && i < sc->nstmts; i++) {
		const struct mc_evidence *ev = &sc->stmts[i].ev;
		json_object *o, *locks;

		if (!ev->traced)
			continue;
		o = json_object_new_object();
		locks = json_object_new_array();
		add_str(o, "file", sc->path);
		json_object_object_add(o, "line", json_object_new_int(sc->stmts[i].line));
		json_object_object_add(o, "ms", json_object_new_double(ev->ms));
		json_object_object_add(o, "locks_known", json_object_new_boolean(ev->locks_known));
		for (size_t k = 0; k < ev->nlocks; k++) {
			json_object *l = json_object_new_object();

			add_str(l, "relation", ev->locks[k].relation);
			add_str(l, "mode", ev->locks[k].mode);
			json_object_array_add(locks, l);
		}
		json_object_object_add(o, "locks", locks);
		json_object_object_add(o, "rewrote", json_names(ev->rewrote, ev->nrewrote));
		json_object_object_add(o, "scanned", json_names(ev->scanned, ev->nscanned));
		json_object_object_add(o, "created", json_names(ev->created, ev->ncreated));
		add_str(o, "sqlstate", ev->sqlstate[0] ? ev->sqlstate : NULL);
		json_object_array_add(a, o);
	}
}

static int
print_json(FILE *out, const struct mc_report *r, const struct mc_set *set)
{
	json_object *root = json_object_new_object(), *ms = json_object_new_array(),
		    *fs = json_object_new_array();
	int rc;

	add_str(root, "verdict", mc_verdict_name(mc_report_verdict(r)));
	add_str(root, "tool", r->tool);
	json_object_object_add(root, "server_version",
			       r->server_version ? json_object_new_int(r->server_version) : NULL);
	add_str(root, "copy", r->copy_note);
	for (size_t i = 0; set && i < set->n; i++) {
		json_object *m = json_object_new_object(), *trace;

		add_str(m, "file", set->m[i].up.path);
		add_str(m, "version", set->m[i].version);
		add_str(m, "name", set->m[i].name);
		add_str(m, "status", state_name(set->m[i].state));
		add_str(m, "verdict", mc_verdict_name(migration_verdict(r, (int)i)));
		trace = json_object_new_array();
		json_trace(trace, &set->m[i].up);
		json_trace(trace, &set->m[i].down);
		json_object_object_add(m, "trace", trace);
		json_object_array_add(ms, m);
	}
	json_object_object_add(root, "migrations", ms);
	for (size_t k = 0; k < r->n; k++) {
		const struct mc_finding *f = &r->f[k];
		json_object *o = json_object_new_object();

		add_str(o, "severity", mc_severity_name(f->severity));
		add_str(o, "kind", f->kind);
		add_str(o, "rule", f->rule);
		add_str(o, "file", f->file);
		json_object_object_add(o, "line", f->line ? json_object_new_int(f->line) : NULL);
		add_str(o, "object", f->object);
		add_str(o, "sqlstate", f->sqlstate);
		add_str(o, "message", f->message);
		add_str(o, "advice", f->advice);
		json_object_array_add(fs, o);
	}
	json_object_object_add(root, "findings", fs);
	rc = pgp_json_print(out, root, 1);
	json_object_put(root);
	return rc;
}

/* GitHub's workflow-command escaping: data escapes % CR LF, properties also : and ,. */
static void
gh_escape(FILE *out, const char *s, int property)
{
	for (; s && *s; s++) {
		if (*s == '%')
			fputs("%25", out);
		else if (*s == '\r')
			fputs("%0D", out);
		else if (*s == '\n')
			fputs("%0A", out);
		else if (property && *s == ':')
			fputs("%3A", out);
		else if (property && *s == ',')
			fputs("%2C", out);
		else
			fputc(*s, out);
	}
}

static int
print_github(FILE *out, const struct mc_report *r, const struct mc_set *set)
{
	static const char *const level[] = {"notice", "warning", "error"};
	const char *dir = set && set->dir && strcmp(set->dir, ".") != 0 ? set->dir : NULL;

	for (size_t k = 0; k < r->n; k++) {
		const struct mc_finding *f = &r->f[k];
		char title[160];

		fprintf(out, "::%s ", level[f->severity]);
		if (f->file) {
			fputs("file=", out);
			if (dir && !f->own_path) {
				gh_escape(out, dir, 1);
				fputs(dir[strlen(dir) - 1] == '/' ? "" : "/", out);
			}
			gh_escape(out, f->file, 1);
			if (f->line)
				fprintf(out, ",line=%d", f->line);
			fputc(',', out);
		}
		snprintf(title, sizeof(title), "pgp-migrate-check %s%s%s", f->kind, f->rule ? " " : "",
			 f->rule ? f->rule : "");
		fputs("title=", out);
		gh_escape(out, title, 1);
		fputs("::", out);
		gh_escape(out, f->message, 0);
		if (f->advice) {
			fputs("%0AAdvice: ", out);
			gh_escape(out, f->advice, 0);
		}
		fputc('\n', out);
	}
	fprintf(out, "pgp-migrate-check: %s\n", mc_verdict_name(mc_report_verdict(r)));
	return 0;
}

int
mc_report_print(FILE *out, const char *format, const struct mc_report *r, const struct mc_set *set)
{
	int rc;

	if (strcmp(format, "json") == 0)
		rc = print_json(out, r, set);
	else if (strcmp(format, "github") == 0)
		rc = print_github(out, r, set);
	else
		rc = print_text(out, r, set);
	if (fflush(out) != 0 || ferror(out) || rc != 0)
		return -1;
	return 0;
}

void
mc_report_free(struct mc_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->f[i].kind);
		free(r->f[i].rule);
		free(r->f[i].file);
		free(r->f[i].object);
		free(r->f[i].sqlstate);
		free(r->f[i].message);
		free(r->f[i].advice);
	}
	free(r->f);
	free(r->copy_note);
	memset(r, 0, sizeof(*r));
}
