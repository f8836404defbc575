/*
 * The round trip's schema: pg_dump --schema-only of the copy, cut into
 * the objects pg_dump announces with its "-- Name: X; Type: T; Schema: S"
 * headers, so that a difference names its object (a table's column, an
 * index, a type, a default) instead of a line number in a dump.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childconn.h"
#include "exitcodes.h"
#include "invariants.h"
#include "log.h"
#include "pgbin.h"
#include "roundtrip.h"
#include "spawn.h"

static void
append(char **text, const char *line, size_t len)
{
	size_t have = *text ? strlen(*text) : 0;

	*text = realloc(*text, have + len + 2);
	if (!*text)
		mc_oom();
	memcpy(*text + have, line, len);
	(*text)[have + len] = '\n';
	(*text)[have + len + 1] = '\0';
}

/* "-- Name: t; Type: TABLE; Schema: public; Owner: -" -> "TABLE public.t" */
static char *
header_key(const char *line)
{
	char name[512] = "", type[128] = "", schema[256] = "", *key;
	const char *p = line + strlen("-- Name: "), *e;

	e = strstr(p, "; Type: ");
	if (!e)
		return NULL;
	snprintf(name, sizeof(name), "%.*s", (int) (e - p), p);
	p = e + strlen("; Type: ");
	e = strstr(p, "; Schema: ");
	if (!e)
		return NULL;
	snprintf(type, sizeof(type), "%.*s", (int) (e - p), p);
	p = e + strlen("; Schema: ");
	e = strchr(p, ';');
	snprintf(schema, sizeof(schema), "%.*s", e ? (int) (e - p) : (int) strlen(p), p);
	if (asprintf(&key, "%s %s%s%s", type, strcmp(schema, "-") ? schema : "", strcmp(schema, "-") ? "." : "",
		     name) < 0)
		mc_oom();
	return key;
}

static void
parse_dump(const char *buf, struct mc_schema *out)
{
	const char *p = buf;
	struct mc_schema_obj *cur = NULL;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t) (nl - p) : strlen(p);

		if (len > 9 && strncmp(p, "-- Name: ", 9) == 0) {
			char *line = mc_strndup(p, len), *key = header_key(line);

			free(line);
			if (key) {
				out->o = realloc(out->o, (out->n + 1) * sizeof(*out->o));
				if (!out->o)
					mc_oom();
				cur = &out->o[out->n++];
				cur->key = key;
				cur->text = NULL;
			}
		} else if (len && strncmp(p, "--", 2) != 0 && strncmp(p, "SET ", 4) != 0 &&
			   strncmp(p, "SELECT pg_catalog.set_config(", 29) != 0 &&
			   /* pg_dump 15.14+: psql's \restrict with a random key */
			   strncmp(p, "\\restrict ", 10) != 0 && strncmp(p, "\\unrestrict ", 12) != 0 && cur)
			append(&cur->text, p, len);
		p += len + (nl ? 1 : 0);
	}
}

int
mc_rt_dump(struct mc_scratch *s, const struct mc_set *set, struct mc_schema *out)
{
	struct pgp_childconn cc = {0};
	struct pgp_pgbin where = {NULL, NULL, NULL, PQserverVersion(s->conn) / 10000};
	char prog[PATH_MAX], chunk[65536], *buf = NULL;
	const char *env[2] = {NULL, NULL};
	struct pgp_spawn_opts opts = {.out = PGP_SPAWN_PIPE, .env = env};
	struct pgp_child *child;
	size_t len = 0;
	ssize_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (pgp_pgbin_find(&where, "pg_dump", prog, sizeof(prog)) < 0 || pgp_childconn_write(s->conn, NULL, &cc) < 0)
		return -1;
	env[0] = cc.env;
	{
		char *argv[16];
		int k = 0;

		argv[k++] = prog;
		argv[k++] = (char *) "--schema-only";
		argv[k++] = (char *) "--no-owner";
		argv[k++] = (char *) "--no-acl";
		argv[k++] = (char *) "--no-comments";
		/* The bookkeeping, which the run on the copy does not write. */
		argv[k++] = (char *) "--exclude-schema=sqitch";
		argv[k++] = (char *) "--exclude-schema=drizzle";
		if (set->table) {
			argv[k++] = (char *) "-T";
			argv[k++] = set->table;
		}
		argv[k++] = (char *) "-d";
		argv[k++] = cc.conninfo;
		argv[k] = NULL;
		child = pgp_spawn_start(argv, &opts);
	}
	while (child && (n = pgp_spawn_read(child, chunk, sizeof(chunk))) > 0) {
		buf = realloc(buf, len + (size_t) n + 1);
		if (!buf)
			mc_oom();
		memcpy(buf + len, chunk, (size_t) n);
		len += (size_t) n;
		buf[len] = '\0';
	}
	rc = pgp_spawn_finish(child);
	pgp_childconn_remove(&cc);
	if (rc == 0 && buf)
		parse_dump(buf, out);
	free(buf);
	return rc;
}

static const struct mc_schema_obj *
find(const struct mc_schema *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->o[i].key, key) == 0)
			return &s->o[i];
	return NULL;
}

static int
has_line(const char *text, const char *line, size_t len)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t) (nl - p) : strlen(p);

		if (l == len && strncmp(p, line, len) == 0)
			return 1;
		p += l + (nl ? 1 : 0);
	}
	return 0;
}

/* The first line of a that b lacks, trimmed (and without a trailing ','). */
static char *
first_extra(const char *a, const char *b)
{
	const char *p = a;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t) (nl - p) : strlen(p);

		if (!has_line(b, p, l)) {
			while (l && (*p == ' ' || *p == '\t'))
				p++, l--;
			while (l && (p[l - 1] == ',' || p[l - 1] == ' '))
				l--;
			return mc_strndup(p, l);
		}
		p += l + (nl ? 1 : 0);
	}
	return NULL;
}

/* Every line of a that b lacks, trimmed as first_extra trims; NULL-ended. */
static char **
all_extra(const char *a, const char *b)
{
	char **v = calloc(1, sizeof(*v));
	size_t n = 0;
	const char *p = a;

	while (v && p && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t) (nl - p) : strlen(p);

		if (!has_line(b, p, l)) {
			char *one = first_extra(p, b);

			v = realloc(v, (n + 2) * sizeof(*v));
			if (!v)
				mc_oom();
			v[n++] = one;
			v[n] = NULL;
		}
		p += l + (nl ? 1 : 0);
	}
	if (!v)
		mc_oom();
	return v;
}

/* The script to blame for object (its last word): the last up naming it. */
static const char *
blame(const struct mc_set *set, const int *pending, size_t npending, int down, const char *object)
{
	const char *word = strrchr(object, '.');
	int hit = -1;

	word = word ? word + 1 : object;
	for (size_t k = 0; k < npending; k++) {
		const struct mc_migration *m = &set->m[pending[k]];

		if (m->up.text && strstr(m->up.text, word))
			hit = pending[k];
	}
	if (hit < 0)
		hit = pending[npending - 1];
	return down ? set->m[hit].down.path : set->m[hit].up.path;
}

static void
finding(struct mc_report *r, const struct mc_set *set, const int *pending, size_t npending, int down,
	const char *object, const char *fmt_what, const char *detail)
{
	const char *file = blame(set, pending, npending, down, object);
	struct mc_where w = {file, 0, object, NULL, NULL, -1, 0};

	for (size_t k = 0; k < npending; k++)
		if ((down ? set->m[pending[k]].down.path : set->m[pending[k]].up.path) == file)
			w.migration = pending[k];
	if (down)
		mc_find(r, MC_SEV_FAIL, "roundtrip", &w,
			"the down migration must undo everything its up does: drop what it created (index, column, "
			"type, default), restore what it changed",
			"after the down migrations the schema differs from before the up: %s %s%s%s (blamed on %s)",
			fmt_what, object, detail ? ": " : "", detail ? detail : "", file);
	else
		mc_find(r, MC_SEV_FAIL, "roundtrip", &w,
			"up, down, up must give the schema of the first up: the down migration leaves state the "
			"second up builds on",
			"up again after the down migrations gives another schema than the first up: %s %s%s%s",
			fmt_what, object, detail ? ": " : "", detail ? detail : "");
}

/* "TABLE public.t" + line "extra text" -> "public.t.extra" */
static char *
column_object(const char *key, const char *line)
{
	const char *sp = strchr(key, ' ');
	size_t w;
	char *obj;

	/* A table constraint written inline: "CONSTRAINT name CHECK (...)". */
	if (strncmp(line, "CONSTRAINT ", 11) == 0)
		line += 11;
	w = strcspn(line, " ");

	if (asprintf(&obj, "%s.%.*s", sp ? sp + 1 : key, (int) w, line) < 0)
		mc_oom();
	return obj;
}

/* A table's column and constraint lines that differ, one finding each. */
static int
table_diff(const char *key, const char *want, const char *got, const struct mc_set *set, const int *pending,
	   size_t npending, int down, struct mc_report *r)
{
	char **extra = all_extra(got, want), **lost = all_extra(want, got);
	int n = 0;

	for (size_t i = 0; extra[i]; i++) {
		char *obj = column_object(key, extra[i]), *was = NULL, detail[512];

		for (size_t j = 0; lost[j] && !was; j++) {
			char *o2 = column_object(key, lost[j]);

			if (strcmp(o2, obj) == 0)
				was = lost[j];
			free(o2);
		}
		snprintf(detail, sizeof(detail), "now \"%s\"%s%s%s", extra[i], was ? ", was \"" : " (left behind)",
			 was ? was : "", was ? "\"" : "");
		finding(r, set, pending, npending, down, obj,
			strncmp(extra[i], "CONSTRAINT ", 11) == 0 ? "constraint" : "column", detail);
		free(obj);
		n++;
	}
	for (size_t j = 0; lost[j]; j++) {
		char *obj = column_object(key, lost[j]);
		int paired = 0;

		for (size_t i = 0; extra[i] && !paired; i++) {
			char *o2 = column_object(key, extra[i]);

			paired = strcmp(o2, obj) == 0;
			free(o2);
		}
		if (!paired) {
			char detail[512];

			snprintf(detail, sizeof(detail), "\"%s\" is missing", lost[j]);
			finding(r, set, pending, npending, down, obj,
				strncmp(lost[j], "CONSTRAINT ", 11) == 0 ? "constraint" : "column", detail);
			n++;
		}
		free(obj);
	}
	mc_strv_free(extra);
	mc_strv_free(lost);
	return n;
}

int
mc_rt_compare(const struct mc_schema *want, const struct mc_schema *got, const struct mc_set *set,
	      const int *pending, size_t npending, int down, struct mc_report *r)
{
	int n = 0;

	for (size_t i = 0; i < got->n; i++) {
		const struct mc_schema_obj *g = &got->o[i], *w = find(want, g->key);
		const char *sp = strchr(g->key, ' ');
		char type[64];

		snprintf(type, sizeof(type), "%.*s", sp ? (int) (sp - g->key) : 0, g->key);
		for (char *c = type; *c; c++)
			*c = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		if (!w) {
			char *line = first_extra(g->text, "");

			finding(r, set, pending, npending, down, sp ? sp + 1 : g->key, type, NULL);
			free(line);
			n++;
		} else if (strcmp(w->text ? w->text : "", g->text ? g->text : "") != 0 && strcmp(type, "table") == 0) {
			n += table_diff(g->key, w->text, g->text, set, pending, npending, down, r);
		} else if (strcmp(w->text ? w->text : "", g->text ? g->text : "") != 0) {
			char *extra = first_extra(g->text, w->text), *lost = first_extra(w->text, g->text);
			char detail[512];

			snprintf(detail, sizeof(detail), "now \"%s\", was \"%s\"", extra ? extra : "", lost ? lost : "");
			finding(r, set, pending, npending, down, sp ? sp + 1 : g->key, type, detail);
			free(extra);
			free(lost);
			n++;
		}
	}
	for (size_t i = 0; i < want->n; i++) {
		const char *sp = strchr(want->o[i].key, ' ');
		char type[64];

		if (find(got, want->o[i].key))
			continue;
		snprintf(type, sizeof(type), "%.*s", sp ? (int) (sp - want->o[i].key) : 0, want->o[i].key);
		for (char *c = type; *c; c++)
			*c = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		finding(r, set, pending, npending, down, sp ? sp + 1 : want->o[i].key, type,
			"it is missing (dropped and not restored)");
		n++;
	}
	return n;
}

void
mc_rt_free(struct mc_schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->o[i].key);
		free(s->o[i].text);
	}
	free(s->o);
	s->o = NULL;
	s->n = 0;
}
