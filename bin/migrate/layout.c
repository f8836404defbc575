/*
 * A migrations directory read as its tool reads it.  This file: the tool
 * names, detection from the files, the helpers the per-tool readers share
 * (layout_sql.c, layout_plan.c), mc_layout_load and mc_set_free.
 *
 * The directory given may be the migrations folder itself or a project
 * root where the tool's default folder lives: prisma/migrations,
 * db/migrations (dbmate), db/migrate (Rails), db/migration and
 * src/main/resources/db/migration (Flyway), drizzle/ (drizzle-kit's out),
 * migrations/ (knex, golang-migrate, plain, Alembic's versions' parent),
 * alembic/ (Alembic's script_location).  sqitch.plan and alembic.ini are
 * read where they are: the directory given is then the project.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "exitcodes.h"
#include "layout.h"
#include "layout_int.h"
#include "log.h"
#include "sqlparse.h"

static const char *const tool_names[] = {
	[MC_TOOL_PLAIN] = "plain",
	[MC_TOOL_FLYWAY] = "flyway",
	[MC_TOOL_GOLANG_MIGRATE] = "golang-migrate",
	[MC_TOOL_DBMATE] = "dbmate",
	[MC_TOOL_SQITCH] = "sqitch",
	[MC_TOOL_PRISMA] = "prisma",
	[MC_TOOL_DRIZZLE] = "drizzle",
	[MC_TOOL_KNEX] = "knex",
	[MC_TOOL_ALEMBIC] = "alembic",
	[MC_TOOL_RAILS] = "rails",
};
#define NTOOLS ((int) (sizeof(tool_names) / sizeof(tool_names[0])))

const char *
mc_tool_name(enum mc_tool tool)
{
	if ((int) tool <= 0 || (int) tool >= NTOOLS)
		return NULL;
	return tool_names[tool];
}

enum mc_tool
mc_tool_from_name(const char *name)
{
	if (!name)
		return MC_TOOL_UNKNOWN;
	for (int t = 1; t < NTOOLS; t++)
		if (strcmp(name, tool_names[t]) == 0)
			return (enum mc_tool) t;
	if (strcmp(name, "golang") == 0 || strcmp(name, "migrate") == 0)
		return MC_TOOL_GOLANG_MIGRATE;
	if (strcmp(name, "psql") == 0 || strcmp(name, "sql") == 0)
		return MC_TOOL_PLAIN;
	return MC_TOOL_UNKNOWN;
}

/* ---- helpers for the readers ---- */

char *
lay_rel(const struct lay *l, const char *name)
{
	char *p;

	if (!l->sub[0])
		return mc_strdup(name);
	if (asprintf(&p, "%s/%s", l->sub, name) < 0)
		mc_oom();
	return p;
}

const char *
lay_abs(const struct lay *l, const char *rel, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", l->dir, rel[0] ? rel : ".");
	return buf;
}

static int
stat_mode(const struct lay *l, const char *rel, mode_t type)
{
	char p[4096];
	struct stat st;

	return stat(lay_abs(l, rel, p, sizeof(p)), &st) == 0 && (st.st_mode & S_IFMT) == type;
}

int
lay_is_file(const struct lay *l, const char *rel)
{
	return stat_mode(l, rel, S_IFREG);
}

int
lay_is_dir(const struct lay *l, const char *rel)
{
	return stat_mode(l, rel, S_IFDIR);
}

/*
 * Opens a file to read, refusing what is not a regular file: a FIFO
 * named 002_x.sql would block the run forever in open() or read(), a
 * directory fails only at the first read.  O_NONBLOCK only for the open;
 * a regular file's reads never block anyway.
 */
static FILE *
open_regular(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;

	if (fd < 0) {
		pgp_error("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		pgp_error("cannot read %s: %s", path, S_ISDIR(st.st_mode) ? "it is a directory" :
			  S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file" : "not a regular file");
		close(fd);
		return NULL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 || !(f = fdopen(fd, "rb"))) {
		pgp_error("cannot read %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

int
lay_read(const struct lay *l, const char *rel, char **text, size_t *len)
{
	char p[4096], *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f = open_regular(lay_abs(l, rel, p, sizeof(p)));

	if (!f)
		return -1;
	for (;;) {
		size_t got;

		if (n + 4097 > cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (!b)
				mc_oom();
			buf = b;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	if (ferror(f)) {
		pgp_error("cannot read %s: %s", p, strerror(errno));
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int
lay_names(const struct lay *l, const char *rel, char ***names, size_t *n)
{
	char p[4096];
	DIR *d = opendir(lay_abs(l, rel, p, sizeof(p)));
	struct dirent *e;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (!d) {
		pgp_error("cannot read directory %s: %s", p, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (pgp_array_reserve(names, *n + 1, &cap, sizeof(char *)) < 0)
			mc_oom();
		(*names)[(*n)++] = mc_strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(char *), cmp_names);
	return 0;
}

void
lay_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct mc_migration *
lay_add(struct lay *l)
{
	struct mc_set *s = l->set;
	struct mc_migration *m = realloc(s->m, (s->n + 1) * sizeof(*s->m));

	if (!m)
		mc_oom();
	s->m = m;
	m = &s->m[s->n++];
	memset(m, 0, sizeof(*m));
	m->up.first_line = m->down.first_line = 1;
	return m;
}

int
lay_numcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	while (alen > 1 && *a == '0')
		a++, alen--;
	while (blen > 1 && *b == '0')
		b++, blen--;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

void
lay_script(struct mc_script *s, char *path, char *text, size_t len, int first_line,
	   enum mc_txn txn, int psql)
{
	s->path = path;
	s->text = text;
	s->text_len = len;
	s->first_line = first_line;
	s->txn = txn;
	s->psql = psql;
}

int
lay_line_of(const char *text, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* ---- detection ---- */

int
lay_rx(const char *re, const char *s, regmatch_t *m, size_t nm, int flags)
{
	regex_t rx;
	int hit;

	if (regcomp(&rx, re, REG_EXTENDED | (nm ? 0 : REG_NOSUB) | flags) != 0)
		return 0;
	hit = regexec(&rx, s, nm, nm ? m : NULL, 0) == 0;
	regfree(&rx);
	return hit;
}

static int
match(const char *re, const char *s, int flags)
{
	return lay_rx(re, s, NULL, 0, flags);
}

static int
file_has(const struct lay *l, const char *rel, const char *re)
{
	char *text;
	size_t len;
	int hit;

	if (!lay_is_file(l, rel) || lay_read(l, rel, &text, &len) < 0)
		return 0;
	hit = match(re, text, REG_NEWLINE);
	free(text);
	return hit;
}

static int
is_knex_ext(const char *name)
{
	static const char *const ext[] = { ".js", ".cjs", ".mjs", ".ts", ".cts", ".mts",
		".coffee", ".co", ".eg", ".iced", ".litcoffee", ".ls" };
	const char *dot = strrchr(name, '.');

	if (!dot || strncmp(name, "knexfile.", 9) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcmp(dot, ext[i]) == 0)
			return 1;
	return 0;
}

static int
has_knexfile(const struct lay *l, const char *rel)
{
	static const char *const kf[] = { "knexfile.js", "knexfile.ts", "knexfile.cjs", "knexfile.mjs" };
	char p[4096];

	for (size_t i = 0; i < sizeof(kf) / sizeof(kf[0]); i++) {
		snprintf(p, sizeof(p), "%s%s%s", rel, rel[0] ? "/" : "", kf[i]);
		if (lay_is_file(l, p))
			return 1;
		snprintf(p, sizeof(p), "%s%s../%s", rel, rel[0] ? "/" : "", kf[i]);
		if (lay_is_file(l, p))
			return 1;
	}
	return 0;
}

#define DBMATE_UP "^--[[:space:]]*migrate:up([[:space:]]*$|[[:space:]]+[^[:space:]])"
#define ALEMBIC_REV "^(revision|down_revision)[[:space:]]*(:[^=]*)?="

/* The tools whose layout the folder rel (relative to dir) has, as bits. */
static unsigned
detect_folder(const struct lay *l, const char *rel)
{
	char **names, p[4096];
	size_t n;
	unsigned bits = 0;
	int sql = 0, knex = 0;
	const char *base = strrchr(rel, '/');

	base = base ? base + 1 : rel;
	if (!lay_is_dir(l, rel) || lay_names(l, rel, &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *f = names[i];

		snprintf(p, sizeof(p), "%s%s%s", rel, rel[0] ? "/" : "", f);
		if (strcmp(f, "sqitch.plan") == 0)
			bits |= 1u << MC_TOOL_SQITCH;
		else if (strcmp(f, "alembic.ini") == 0)
			bits |= 1u << MC_TOOL_ALEMBIC;
		else if (strcmp(f, "migration_lock.toml") == 0)
			bits |= 1u << MC_TOOL_PRISMA;
		else if (strcmp(f, "meta") == 0 && lay_is_dir(l, p)) {
			char j[4096];

			snprintf(j, sizeof(j), "%s/_journal.json", p);
			if (lay_is_file(l, j))
				bits |= 1u << MC_TOOL_DRIZZLE;
		} else if (lay_is_dir(l, p) && match("^[0-9]+_", f, 0)) {
			char m[4096];

			snprintf(m, sizeof(m), "%s/migration.sql", p);
			if (lay_is_file(l, m))
				bits |= 1u << MC_TOOL_PRISMA;
		} else if (strcmp(f, "versions") == 0 && lay_is_dir(l, p)) {
			if (detect_folder(l, p) & (1u << MC_TOOL_ALEMBIC))
				bits |= 1u << MC_TOOL_ALEMBIC;
		} else if (match("^[VU][0-9][0-9._]*__.+\\.sql$", f, 0) || match("^R__.+\\.sql$", f, 0))
			bits |= 1u << MC_TOOL_FLYWAY;
		else if (match("^[0-9]+_.*\\.up\\.sql$", f, 0))
			bits |= 1u << MC_TOOL_GOLANG_MIGRATE;
		else if (match("^[0-9]+_.*\\.down\\.sql$", f, 0))
			;	/* golang-migrate's only with an up; else plain's */
		else if (match("^[0-9]+.*\\.sql$", f, 0) && file_has(l, p, DBMATE_UP))
			bits |= 1u << MC_TOOL_DBMATE;
		else if (match(RAILS_RE, f, 0))
			bits |= 1u << MC_TOOL_RAILS;
		else if (match("\\.py$", f, 0) && file_has(l, p, ALEMBIC_REV))
			bits |= 1u << MC_TOOL_ALEMBIC;
		else if (is_knex_ext(f))
			knex = 1;
		if (match("\\.sql$", f, 0))
			sql = 1;
	}
	lay_names_free(names, n);
	if (knex && (strcmp(base, "migrations") == 0 || has_knexfile(l, rel)))
		bits |= 1u << MC_TOOL_KNEX;
	if (!bits && sql)
		bits |= 1u << MC_TOOL_PLAIN;
	return bits;
}

static const char *const default_folders[] = {
	"prisma/migrations", "db/migrations", "db/migrate", "db/migration",
	"src/main/resources/db/migration", "drizzle", "migrations", "alembic", NULL
};

static int
count_bits(unsigned b)
{
	int n = 0;

	for (; b; b &= b - 1)
		n++;
	return n;
}

static enum mc_tool
first_tool(unsigned b)
{
	for (int t = 1; t < NTOOLS; t++)
		if (b & (1u << t))
			return (enum mc_tool) t;
	return MC_TOOL_UNKNOWN;
}

static int
ambiguous(const char *dir, const char *where1, enum mc_tool a, const char *where2, enum mc_tool b)
{
	pgp_error("%s: cannot tell the migration tool: %s looks like %s, %s like %s",
		  dir, where1[0] ? where1 : "the directory", mc_tool_name(a),
		  where2[0] ? where2 : "the directory", mc_tool_name(b));
	pgp_hint("name it with --tool %s or --tool %s", mc_tool_name(a), mc_tool_name(b));
	return 2;
}

/*
 * Picks the tool and its folder.  The directory itself first (a tool's
 * own layout beats plain SQL files), then the default folders.
 */
static int
detect(struct lay *l, enum mc_tool want, enum mc_tool *tool)
{
	unsigned here = detect_folder(l, ""), plain = 1u << MC_TOOL_PLAIN;
	enum mc_tool found = MC_TOOL_UNKNOWN;
	const char *where = "";

	if (want != MC_TOOL_UNKNOWN) {
		*tool = want;
		if (here & (1u << want))
			return 0;
		for (int i = 0; default_folders[i]; i++)
			if (detect_folder(l, default_folders[i]) & (1u << want)) {
				free(l->sub);
				l->sub = mc_strdup(default_folders[i]);
				return 0;
			}
		return 0;	/* read the directory as that tool */
	}
	if (here & ~plain) {
		unsigned b = here & ~plain;

		if (count_bits(b) > 1) {
			enum mc_tool a = first_tool(b);

			return ambiguous(l->dir, "", a, "", first_tool(b & ~(1u << a)));
		}
		*tool = first_tool(b);
		return 0;
	}
	for (int i = 0; default_folders[i]; i++) {
		unsigned b = detect_folder(l, default_folders[i]);

		if (!b)
			continue;
		if (here & plain && b == plain)
			continue;
		if (count_bits(b) > 1) {
			enum mc_tool a = first_tool(b);

			return ambiguous(l->dir, default_folders[i], a, default_folders[i],
					 first_tool(b & ~(1u << a)));
		}
		if (found != MC_TOOL_UNKNOWN && found != first_tool(b))
			return ambiguous(l->dir, where, found, default_folders[i], first_tool(b));
		if (found == MC_TOOL_UNKNOWN) {
			found = first_tool(b);
			where = default_folders[i];
		}
	}
	if (found != MC_TOOL_UNKNOWN && !(found == MC_TOOL_PLAIN && here & plain)) {
		free(l->sub);
		l->sub = mc_strdup(where);
		*tool = found;
		return 0;
	}
	if (here & plain) {
		*tool = MC_TOOL_PLAIN;
		return 0;
	}
	pgp_error("%s: not a migrations directory: no SQL files and no layout of a known tool", l->dir);
	pgp_hint("give the migrations folder, or name the tool with --tool");
	return 2;
}

static const char *
default_table(enum mc_tool t)
{
	switch (t) {
	case MC_TOOL_FLYWAY: return "public.flyway_schema_history";
	case MC_TOOL_GOLANG_MIGRATE:
	case MC_TOOL_DBMATE:
	case MC_TOOL_RAILS: return "public.schema_migrations";
	case MC_TOOL_SQITCH: return "sqitch.changes";
	case MC_TOOL_PRISMA: return "public._prisma_migrations";
	case MC_TOOL_DRIZZLE: return "drizzle.__drizzle_migrations";
	case MC_TOOL_KNEX: return "public.knex_migrations";
	case MC_TOOL_ALEMBIC: return "public.alembic_version";
	default: return NULL;
	}
}

int
mc_layout_load(const char *dir, enum mc_tool tool, struct mc_set *set, struct mc_report *r)
{
	struct lay l = { .dir = dir, .set = set, .r = r };
	int rc;

	memset(set, 0, sizeof(*set));
	set->dir = mc_strdup(dir);
	l.sub = mc_strdup("");
	if (!lay_is_dir(&l, "")) {
		pgp_error("%s: not a directory", dir);
		free(l.sub);
		return 2;
	}
	rc = detect(&l, tool, &tool);
	if (rc == 0) {
		const char *t = default_table(tool);

		set->tool = tool;
		set->table = t ? mc_strdup(t) : NULL;
		set->sql_known = !(tool == MC_TOOL_KNEX || tool == MC_TOOL_ALEMBIC || tool == MC_TOOL_RAILS);
		if (l.sub[0])
			pgp_debug("%s: the migrations are in %s", dir, l.sub);
		switch (tool) {
		case MC_TOOL_FLYWAY: rc = lay_flyway(&l); break;
		case MC_TOOL_GOLANG_MIGRATE: rc = lay_golang(&l); break;
		case MC_TOOL_DBMATE: rc = lay_dbmate(&l); break;
		case MC_TOOL_SQITCH: rc = lay_sqitch(&l); break;
		case MC_TOOL_PRISMA: rc = lay_prisma(&l); break;
		case MC_TOOL_DRIZZLE: rc = lay_drizzle(&l); break;
		case MC_TOOL_KNEX: rc = lay_knex(&l); break;
		case MC_TOOL_ALEMBIC: rc = lay_alembic(&l); break;
		case MC_TOOL_RAILS: rc = lay_rails(&l); break;
		default: rc = lay_plain(&l); break;
		}
	}
	free(l.sub);
	return rc;
}

static void
script_free(struct mc_script *s)
{
	mc_script_free(s);
	free(s->path);
	free(s->text);
	s->path = s->text = NULL;
}

void
mc_set_free(struct mc_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct mc_migration *m = &set->m[i];

		script_free(&m->up);
		script_free(&m->down);
		free(m->version);
		free(m->name);
		free(m->checksum);
	}
	free(set->m);
	free(set->dir);
	free(set->table);
	memset(set, 0, sizeof(*set));
}
