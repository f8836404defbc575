/*
 * The tools whose order is not the file names': sqitch (its plan),
 * Drizzle (its journal), Alembic (the revision graph), and the code
 * migrations of knex and Rails, read for their versions only.
 */
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "layout_int.h"
#include "log.h"

static void
say(struct lay *l, enum mc_severity sev, const char *kind, const char *file, int line,
    const char *object, int mig, const char *advice, const char *msg)
{
	struct mc_where w = { .file = file, .line = line, .object = object, .migration = mig };

	mc_find(l->r, sev, kind, &w, advice, "%s", msg);
}

/* ---- sqitch ---- */

#define SQ_TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
#define SQ_CHANGE "^[+-]?([^[:space:]@#[]+)[[:space:]]+(\\[[^]]*\\][[:space:]]+)?" SQ_TS "[[:space:]]+[^<]*<[^>]*>"
#define SQ_TAG "^@([^[:space:]#]+)[[:space:]]+" SQ_TS "[[:space:]]+[^<]*<[^>]*>"

struct sq_item {
	char *name;
	int tag;		/* 1: a tag line */
	int line;
};

/* Reads sqitch.plan into items; -1 after pgp_error naming file:line. */
static int
sq_parse(struct lay *l, const char *plan, struct sq_item **items, size_t *n)
{
	char *text, *p, *eol;
	size_t len, cap = 0;
	int line = 0;

	*items = NULL;
	*n = 0;
	if (lay_read(l, plan, &text, &len) < 0)
		return -1;
	for (p = text; p && *p; p = eol ? eol + 1 : NULL) {
		regmatch_t m[3];
		size_t ll;

		eol = strchr(p, '\n');
		if (eol)
			*eol = '\0';
		line++;
		ll = strlen(p);
		if (ll && p[ll - 1] == '\r')
			p[--ll] = '\0';
		p += strspn(p, " \t");
		if (!*p || *p == '#' || *p == '%')
			continue;
		if (!lay_rx(*p == '@' ? SQ_TAG : SQ_CHANGE, p, m, 3, 0)) {
			pgp_error("%s/%s:%d: cannot read this %s line of the plan", l->dir, plan, line,
				  *p == '@' ? "tag" : "change");
			pgp_hint("a change is: name [deps] YYYY-MM-DDTHH:MM:SSZ planner <email> # note");
			free(text);
			for (size_t i = 0; i < *n; i++)
				free((*items)[i].name);
			free(*items);
			*items = NULL;
			return -1;
		}
		if (*n + 1 > cap) {
			struct sq_item *b = realloc(*items, (cap = cap ? cap * 2 : 32) * sizeof(**items));

			if (!b) {
				free(text);
				return pgp_fail("out of memory");
			}
			*items = b;
		}
		(*items)[*n].name = mc_strndup(p + m[1].rm_so, (size_t) (m[1].rm_eo - m[1].rm_so));
		(*items)[*n].tag = *p == '@';
		(*items)[(*n)++].line = line;
	}
	free(text);
	return 0;
}

/*
 * The deploy script's suffix of change i: "" for its last occurrence;
 * for an earlier one "@TAG" of the first tag between it and its next
 * reworking whose deploy/NAME@TAG.sql exists, else the first such tag
 * (lib/App/Sqitch/Plan/Change.pm, _path_segments).
 */
static char *
sq_suffix(struct lay *l, const struct sq_item *it, size_t n, size_t i)
{
	size_t j, next = n;
	char *first = NULL;

	for (j = i + 1; j < n; j++)
		if (!it[j].tag && strcmp(it[j].name, it[i].name) == 0) {
			next = j;
			break;
		}
	if (next == n)
		return mc_strdup("");
	for (j = i + 1; j < next; j++) {
		char f[4096], *rel;
		int there;

		if (!it[j].tag)
			continue;
		snprintf(f, sizeof(f), "deploy/%s@%s.sql", it[i].name, it[j].name);
		rel = lay_rel(l, f);
		there = lay_is_file(l, rel);
		free(rel);
		if (there) {
			free(first);
			first = NULL;
			snprintf(f, sizeof(f), "@%s", it[j].name);
			return mc_strdup(f);
		}
		if (!first) {
			snprintf(f, sizeof(f), "@%s", it[j].name);
			first = mc_strdup(f);
		}
	}
	return first ? first : mc_strdup("");
}

int
lay_sqitch(struct lay *l)
{
	struct sq_item *it;
	size_t n, i;
	char *plan = lay_rel(l, "sqitch.plan");
	int rc = 0;

	if (sq_parse(l, plan, &it, &n) < 0) {
		free(plan);
		return 2;
	}
	for (i = 0; i < n && rc == 0; i++) {
		struct mc_migration *m;
		char f[4096], *suffix, *rel, *text;
		size_t len;

		if (it[i].tag)
			continue;
		suffix = sq_suffix(l, it, n, i);
		m = lay_add(l);
		snprintf(f, sizeof(f), "%s%s", it[i].name, suffix);
		m->version = mc_strdup(f);
		m->name = mc_strdup(it[i].name);
		snprintf(f, sizeof(f), "deploy/%s%s.sql", it[i].name, suffix);
		rel = lay_rel(l, f);
		if (!lay_is_file(l, rel)) {
			pgp_error("%s/%s:%d: change %s has no deploy script %s", l->dir, plan, it[i].line,
				  m->version, rel);
			free(rel);
			free(suffix);
			rc = 2;
			break;
		}
		if (lay_read(l, rel, &text, &len) < 0) {
			free(rel);
			free(suffix);
			rc = 2;
			break;
		}
		lay_script(&m->up, rel, text, len, 1, MC_TXN_NONE, 1);
		m->checksum = mc_checksum(MC_TOOL_SQITCH, text, len);
		snprintf(f, sizeof(f), "revert/%s%s.sql", it[i].name, suffix);
		rel = lay_rel(l, f);
		if (lay_is_file(l, rel) && lay_read(l, rel, &text, &len) == 0)
			lay_script(&m->down, rel, text, len, 1, MC_TXN_NONE, 1);
		else {
			if (lay_is_file(l, rel))
				rc = 2;
			free(rel);
		}
		free(suffix);
	}
	for (i = 0; i < n; i++)
		free(it[i].name);
	free(it);
	free(plan);
	return rc;
}

char *
lay_sqitch_project(const char *dir, const struct mc_set *set)
{
	char p[4096], line[1024], *out = NULL;
	FILE *f;
	const char *deploy;
	int k;

	if (!set->n || !set->m[0].up.path || !(deploy = strstr(set->m[0].up.path, "deploy/")))
		return NULL;
	k = (int) (deploy - set->m[0].up.path);
	snprintf(p, sizeof(p), "%s/%.*ssqitch.plan", dir, k, set->m[0].up.path);
	if (!(f = fopen(p, "r")))
		return NULL;
	while (!out && fgets(line, sizeof(line), f))
		if (strncmp(line, "%project=", 9) == 0) {
			line[strcspn(line, "\r\n \t")] = '\0';
			out = strdup(line + 9);
		}
	fclose(f);
	return out;
}

/* ---- Drizzle ---- */

static void
drizzle_unlisted(struct lay *l)
{
	char **names;
	size_t n;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]), j;

		if (len < 5 || strcmp(names[i] + len - 4, ".sql") != 0)
			continue;
		for (j = 0; j < l->set->n; j++)
			if (strcmp(l->set->m[j].version, names[i]) == 0 ||
			    (strlen(l->set->m[j].version) == len - 4 &&
			     strncmp(l->set->m[j].version, names[i], len - 4) == 0))
				break;
		if (j == l->set->n) {
			char *rel = lay_rel(l, names[i]);

			say(l, MC_SEV_WARN, "order", rel, 0, NULL, -1,
			    "generate migrations with drizzle-kit generate, which adds them to meta/_journal.json",
			    "Drizzle never runs this file: meta/_journal.json does not list it");
			free(rel);
		}
	}
	lay_names_free(names, n);
}

int
lay_drizzle(struct lay *l)
{
	char *jpath = lay_rel(l, "meta/_journal.json"), *text;
	size_t len, i, n;
	json_object *j, *entries;
	enum json_tokener_error jerr;
	int rc = 0;

	if (lay_read(l, jpath, &text, &len) < 0) {
		free(jpath);
		return 2;
	}
	j = json_tokener_parse_verbose(text, &jerr);
	free(text);
	if (!j || !json_object_object_get_ex(j, "entries", &entries) ||
	    !json_object_is_type(entries, json_type_array)) {
		pgp_error("%s/%s: not a Drizzle journal: %s", l->dir, jpath,
			  j ? "no \"entries\" array" : json_tokener_error_desc(jerr));
		json_object_put(j);
		free(jpath);
		return 2;
	}
	n = json_object_array_length(entries);
	for (i = 0; i < n && rc == 0; i++) {
		json_object *e = json_object_array_get_idx(entries, i), *tag, *when;
		struct mc_migration *m, *prev;
		char f[4096], *rel, *sql;
		size_t sl;
		const char *us;

		if (!json_object_object_get_ex(e, "tag", &tag) || !json_object_is_type(tag, json_type_string) ||
		    !json_object_object_get_ex(e, "when", &when)) {
			pgp_error("%s/%s: entry %zu has no \"tag\" or \"when\"", l->dir, jpath, i);
			rc = 2;
			break;
		}
		/* The order of applying: a string or an object would read as 0 and reorder silently. */
		if (!json_object_is_type(when, json_type_int)) {
			pgp_error("%s/%s: entry %zu (%s): \"when\" is %s, not a number (milliseconds)", l->dir, jpath,
				  i, json_object_get_string(tag), json_type_to_name(json_object_get_type(when)));
			rc = 2;
			break;
		}
		snprintf(f, sizeof(f), "%s.sql", json_object_get_string(tag));
		rel = lay_rel(l, f);
		if (lay_read(l, rel, &sql, &sl) < 0) {
			pgp_hint("%s lists %s (entry %zu); Drizzle stops there too", jpath, f, i);
			free(rel);
			rc = 2;
			break;
		}
		m = lay_add(l);
		prev = l->set->n > 1 ? &l->set->m[l->set->n - 2] : NULL;
		m->version = mc_strdup(json_object_get_string(tag));
		us = strchr(m->version, '_');
		m->name = mc_strdup(us ? us + 1 : m->version);
		m->order_key = json_object_get_int64(when);
		lay_script(&m->up, rel, sql, sl, 1, MC_TXN_RUN, 0);
		m->checksum = mc_checksum(MC_TOOL_DRIZZLE, sql, sl);
		if (prev && prev->order_key >= m->order_key) {
			char msg[600];

			snprintf(msg, sizeof(msg), "%s has \"when\" %lld, not after %s's %lld: Drizzle applies "
				 "what is newer than the last applied \"when\", so one of them may be skipped",
				 m->version, m->order_key, prev->version, prev->order_key);
			say(l, MC_SEV_WARN, "order", jpath, 0, m->version, (int) l->set->n - 1,
			    "keep \"when\" increasing in journal order (regenerate the later migration)", msg);
		}
	}
	json_object_put(j);
	if (rc == 0)
		drizzle_unlisted(l);
	free(jpath);
	return rc;
}

/* ---- knex ---- */

static int
knex_ext(const char *name)
{
	static const char *const ext[] = { ".js", ".cjs", ".mjs", ".ts", ".cts", ".mts",
		".coffee", ".co", ".eg", ".iced", ".litcoffee", ".ls" };
	const char *dot = strrchr(name, '.');

	if (!dot || strncmp(name, "knexfile.", 9) == 0 || strstr(name, ".d.ts"))
		return 0;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcmp(dot, ext[i]) == 0)
			return 1;
	return 0;
}

/* Code migrations: listed by file with their version, no script text. */
static void
code_migration(struct lay *l, const char *file, char *version, char *name)
{
	struct mc_migration *m = lay_add(l);

	m->version = version;
	m->name = name;
	lay_script(&m->up, lay_rel(l, file), NULL, 0, 1, MC_TXN_FILE, 0);
}

/* knex sorts by file name (sortBy(migrations, 'file')): byte order here. */
int
lay_knex(struct lay *l)
{
	char **names;
	size_t n;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return 2;
	for (size_t i = 0; i < n; i++)
		if (knex_ext(names[i]))
			code_migration(l, names[i], mc_strdup(names[i]),
				       mc_strndup(names[i], strrchr(names[i], '.') - names[i]));
	lay_names_free(names, n);
	return 0;
}

/* ---- Rails ---- */

static int
rails_order(const void *x, const void *y)
{
	const struct mc_migration *a = x, *b = y;
	int c = lay_numcmp(a->version, strlen(a->version), b->version, strlen(b->version));

	return c ? c : strcmp(a->up.path, b->up.path);
}

/* ActiveRecord's MigrationFilenameRegexp; ordered by numeric version. */
int
lay_rails(struct lay *l)
{
	char **names;
	size_t n, i;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return 2;
	for (i = 0; i < n; i++) {
		regmatch_t m[3];

		if (lay_rx(RAILS_RE, names[i], m, 3, 0))
			code_migration(l, names[i], mc_strndup(names[i], (size_t) m[1].rm_eo),
				       mc_strndup(names[i] + m[2].rm_so, (size_t) (m[2].rm_eo - m[2].rm_so)));
	}
	lay_names_free(names, n);
	if (l->set->n > 1)
		qsort(l->set->m, l->set->n, sizeof(*l->set->m), rails_order);
	for (i = 1; i < l->set->n; i++) {
		struct mc_migration *a = &l->set->m[i - 1], *b = &l->set->m[i];

		if (lay_numcmp(a->version, strlen(a->version), b->version, strlen(b->version)) == 0) {
			char msg[600];

			snprintf(msg, sizeof(msg), "%s and %s are both version %s: Rails refuses to migrate "
				 "(DuplicateMigrationVersionError)", a->up.path, b->up.path, b->version);
			say(l, MC_SEV_FAIL, "duplicate-version", b->up.path, 0, b->version, (int) i,
			    "give one of them a new timestamp", msg);
		}
	}
	return 0;
}

/* ---- Alembic ---- */

/* The versions folder: alembic.ini's script_location/versions, else
 * versions/ of the folder, else the folder itself (malloc'd). */
static char *
alembic_versions(struct lay *l)
{
	char *ini = lay_rel(l, "alembic.ini"), *text, *out = NULL;
	size_t len;
	regmatch_t m[2];

	if (lay_is_file(l, ini) && lay_read(l, ini, &text, &len) == 0) {
		if (lay_rx("^script_location[[:space:]]*=[[:space:]]*([^[:space:]]+)", text, m, 2, REG_NEWLINE)) {
			char loc[2048], *v;

			snprintf(loc, sizeof(loc), "%.*s/versions", (int) (m[1].rm_eo - m[1].rm_so), text + m[1].rm_so);
			v = strncmp(loc, "%(here)s/", 9) == 0 ? loc + 9 : loc;
			out = lay_rel(l, v);
		}
		free(text);
	}
	free(ini);
	if (out)
		return out;
	out = lay_rel(l, "versions");
	if (lay_is_dir(l, out))
		return out;
	free(out);
	return mc_strdup(l->sub);
}

char **
lay_alembic_downs(const char *text, size_t *n)
{
	regmatch_t m[3];
	char **out = NULL;
	const char *p;
	size_t cap = 0;

	*n = 0;
	if (!lay_rx("^down_revision[[:space:]]*(:[^=\n]*)?=[[:space:]]*([^\n]*)", text, m, 3, REG_NEWLINE))
		return NULL;
	for (p = text + m[2].rm_so; p < text + m[2].rm_eo;) {
		char q = *p;
		const char *e;

		if (q != '\'' && q != '"') {
			p++;
			continue;
		}
		e = strchr(p + 1, q);
		if (!e || e > text + m[2].rm_eo)
			break;
		if (*n + 1 > cap) {
			char **b = realloc(out, (cap = cap ? cap * 2 : 4) * sizeof(char *));

			if (!b)
				break;
			out = b;
		}
		out[(*n)++] = mc_strndup(p + 1, (size_t) (e - p - 1));
		p = e + 1;
	}
	return out;
}

void
lay_alembic_downs_free(char **downs, size_t n)
{
	lay_names_free(downs, n);
}

struct al_rev {
	char *rev, *file, *text;
	char **downs;
	size_t ndowns;
	int placed;
};

static int
al_ready(const struct al_rev *r, size_t n, const struct al_rev *x)
{
	for (size_t d = 0; d < x->ndowns; d++)
		for (size_t i = 0; i < n; i++)
			if (!r[i].placed && strcmp(r[i].rev, x->downs[d]) == 0)
				return 0;
	return 1;
}

/* Revisions in the order of the graph (parents first, then file name). */
static void
al_place(struct lay *l, struct al_rev *r, size_t n)
{
	size_t left = n;

	while (left) {
		size_t i;

		for (i = 0; i < n; i++)
			if (!r[i].placed && al_ready(r, n, &r[i]))
				break;
		if (i == n) {	/* a cycle: the rest in file order */
			for (i = 0; i < n && r[i].placed; i++)
				;
			say(l, MC_SEV_FAIL, "order", r[i].file, 0, r[i].rev, -1,
			    "fix down_revision so that the revisions form a chain",
			    "the revisions' down_revision links form a cycle: Alembic cannot order them");
		}
		r[i].placed = 1;
		left--;
		code_migration(l, r[i].file + strlen(l->sub) + (l->sub[0] ? 1 : 0),
			       mc_strdup(r[i].rev), mc_strdup(strrchr(r[i].file, '/') ?
							       strrchr(r[i].file, '/') + 1 : r[i].file));
	}
}

/* More than one head: `alembic upgrade head` stops ("Multiple head revisions"). */
static void
al_heads(struct lay *l, const struct al_rev *r, size_t n)
{
	size_t heads = 0, i, j, d;
	char msg[600] = "", *o = msg;

	for (i = 0; i < n; i++) {
		int child = 0;

		for (j = 0; j < n && !child; j++)
			for (d = 0; d < r[j].ndowns; d++)
				if (strcmp(r[j].downs[d], r[i].rev) == 0)
					child = 1;
		if (!child && heads++ < 4 && o < msg + sizeof(msg) - 64)
			o += snprintf(o, (size_t) (msg + sizeof(msg) - o), "%s%s", heads > 1 ? ", " : "", r[i].rev);
	}
	if (heads > 1) {
		char text[800];

		snprintf(text, sizeof(text), "the revisions have %zu heads (%s): `alembic upgrade head` stops "
			 "with \"Multiple head revisions are present\"", heads, msg);
		say(l, MC_SEV_WARN, "order", NULL, 0, NULL, -1,
		    "join them with `alembic merge heads`, or upgrade with `alembic upgrade heads`", text);
	}
}

int
lay_alembic(struct lay *l)
{
	char *vdir = alembic_versions(l), **names;
	size_t n, k = 0, i;
	struct al_rev *r;
	int rc = 0;

	if (lay_names(l, vdir, &names, &n) < 0) {
		free(vdir);
		return 2;
	}
	r = calloc(n + 1, sizeof(*r));
	for (i = 0; r && i < n && rc == 0; i++) {
		regmatch_t m[3];
		char f[4096];
		size_t len;

		if (!strstr(names[i], ".py") || strcmp(names[i] + strlen(names[i]) - 3, ".py") != 0)
			continue;
		snprintf(f, sizeof(f), "%s%s%s", vdir, vdir[0] ? "/" : "", names[i]);
		if (lay_read(l, f, &r[k].text, &len) < 0) {
			rc = 2;
			break;
		}
		if (!lay_rx("^revision[[:space:]]*(:[^=\n]*)?=[[:space:]]*['\"]([^'\"]+)['\"]", r[k].text, m, 3,
			REG_NEWLINE)) {
			free(r[k].text);
			continue;
		}
		r[k].rev = mc_strndup(r[k].text + m[2].rm_so, (size_t) (m[2].rm_eo - m[2].rm_so));
		r[k].file = mc_strdup(f);
		r[k].downs = lay_alembic_downs(r[k].text, &r[k].ndowns);
		for (size_t j = 0; j < k; j++)
			if (strcmp(r[j].rev, r[k].rev) == 0) {
				char msg[600];

				snprintf(msg, sizeof(msg), "%s and %s both declare revision %s", r[j].file, f, r[k].rev);
				say(l, MC_SEV_FAIL, "duplicate-version", f, 0, r[k].rev, -1,
				    "give one of them a new revision id", msg);
			}
		k++;
	}
	lay_names_free(names, n);
	if (r && rc == 0)
		al_heads(l, r, k);
	if (r && rc == 0) {
		/* code_migration() makes paths relative to the folder: vdir is
		 * already relative to dir, so read from there. */
		char *sub = l->sub;

		l->sub = mc_strdup("");
		al_place(l, r, k);
		free(l->sub);
		l->sub = sub;
	}
	for (i = 0; r && i < k; i++) {
		free(r[i].rev);
		free(r[i].file);
		free(r[i].text);
		lay_names_free(r[i].downs, r[i].ndowns);
	}
	free(r);
	free(vdir);
	return rc;
}
