/*
 * The tools whose migrations are SQL files named by version: Flyway,
 * golang-migrate, dbmate, Prisma and plain psql files.  Each reader lists
 * the folder, orders the files as the tool does, pairs ups with downs,
 * reads every script and records the problems the tool itself would have
 * with the set (duplicate versions, ambiguous order, a down without up).
 */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checksum.h"
#include "layout.h"
#include "layout_int.h"
#include "log.h"
#include "sqlparse.h"

static char *
cap_dup(const char *s, const regmatch_t *m)
{
	return mc_strndup(s + m->rm_so, (size_t) (m->rm_eo - m->rm_so));
}

static void
underscores_to(char *s, char c)
{
	for (; *s; s++)
		if (*s == '_')
			*s = c;
}

/* Reads a script of the set's folder into s; -1 after pgp_error. */
static int
load_script(struct lay *l, struct mc_script *s, const char *name, enum mc_txn txn, int psql)
{
	char *rel = lay_rel(l, name), *text;
	size_t len;

	if (lay_read(l, rel, &text, &len) < 0) {
		free(rel);
		return -1;
	}
	lay_script(s, rel, text, len, 1, txn, psql);
	return 0;
}

static void
finding(struct lay *l, enum mc_severity sev, const char *kind, const char *file,
	const char *object, int mig, const char *advice, const char *msg)
{
	struct mc_where w = { .file = file, .object = object, .migration = mig };

	mc_find(l->r, sev, kind, &w, advice, "%s", msg);
}

/* ---- Flyway ---- */

/*
 * Flyway reads scripts through a BOM-stripping reader (and its checksum
 * skips the BOM too): the script it runs starts after it.  No line moves.
 */
static void
fw_strip_bom(struct mc_script *s)
{
	if (s->text && s->text_len >= 3 && memcmp(s->text, "\xEF\xBB\xBF", 3) == 0) {
		memmove(s->text, s->text + 3, s->text_len - 3 + 1);
		s->text_len -= 3;
	}
}

/*
 * A script's own configuration, NAME.sql.conf beside it: with
 * executeInTransaction=false Flyway runs its statements one by one in
 * autocommit; otherwise the file is one transaction.
 */
static enum mc_txn
flyway_txn(struct lay *l, const char *name)
{
	char conf[4096], *rel, *text;
	size_t len;
	enum mc_txn txn = MC_TXN_FILE;
	regmatch_t m[1];

	snprintf(conf, sizeof(conf), "%s.conf", name);
	rel = lay_rel(l, conf);
	if (lay_is_file(l, rel) && lay_read(l, rel, &text, &len) == 0) {
		if (lay_rx("^[[:space:]]*executeInTransaction[[:space:]]*=[[:space:]]*false", text, m, 1,
			     REG_NEWLINE | REG_ICASE))
			txn = MC_TXN_NONE;
		free(text);
	}
	free(rel);
	return txn;
}

char *
lay_flyway_canon(const char *v, size_t len)
{
	char *out = malloc(len + 2), *o = out, *last_nonzero;
	size_t i = 0;

	if (!out)
		return NULL;
	last_nonzero = out;
	while (i < len) {
		size_t start = i;

		while (i < len && v[i] >= '0' && v[i] <= '9')
			i++;
		if (i == start || (i < len && v[i] != '.' && v[i] != '_')) {
			free(out);
			return NULL;
		}
		while (start + 1 < i && v[start] == '0')
			start++;
		if (o != out)
			*o++ = '.';
		memcpy(o, v + start, i - start);
		o += i - start;
		if (!(i - start == 1 && v[start] == '0'))
			last_nonzero = o;
		if (i < len && ++i == len) {	/* a trailing separator */
			free(out);
			return NULL;
		}
	}
	*last_nonzero = '\0';
	if (!out[0])
		strcpy(out, "0");
	return out;
}

int
lay_flyway_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		size_t al = strcspn(a, "."), bl = strcspn(b, ".");
		int c = lay_numcmp(al ? a : "0", al ? al : 1, bl ? b : "0", bl ? bl : 1);

		if (c)
			return c;
		a += al + (a[al] == '.');
		b += bl + (b[bl] == '.');
	}
	return 0;
}

struct fw_file {
	char kind;		/* 'V', 'U', 'R' */
	char *canon, *shown, *desc, *name;
};

static int
fw_order(const void *x, const void *y)
{
	const struct fw_file *a = x, *b = y;
	int c;

	if ((a->kind == 'R') != (b->kind == 'R'))
		return a->kind == 'R' ? 1 : -1;
	if (a->kind == 'R')
		return strcmp(a->desc, b->desc);
	c = lay_flyway_cmp(a->canon, b->canon);
	return c ? c : strcmp(a->name, b->name);
}

static void
fw_free(struct fw_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].canon);
		free(f[i].shown);
		free(f[i].desc);
		free(f[i].name);
	}
	free(f);
}

/*
 * Flyway scans its locations recursively: the files of the folder and its
 * subfolders, as paths relative to the folder.
 */
#define FW_DEPTH 16

/* A folder of the walk: one already on its path (a symbolic link back up) is a loop. */
struct fw_seen {
	dev_t dev;
	ino_t ino;
};

static int
fw_loop(struct lay *l, const char *rel, struct fw_seen *seen, int depth)
{
	char p[4096];
	struct stat st;

	if (stat(lay_abs(l, rel, p, sizeof(p)), &st) != 0)
		return 0;
	for (int i = 0; i < depth; i++)
		if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino) {
			pgp_warning("%s: a symbolic link loop (it leads back to a folder above it): not read again", p);
			return 1;
		}
	seen[depth].dev = st.st_dev;
	seen[depth].ino = st.st_ino;
	return 0;
}

static void
fw_walk(struct lay *l, const char *under, char ***out, size_t *n, int depth, struct fw_seen *seen)
{
	char **names, *rel;
	size_t k;

	rel = under[0] ? lay_rel(l, under) : mc_strdup(l->sub);
	if (depth > FW_DEPTH || fw_loop(l, rel, seen, depth) || lay_names(l, rel, &names, &k) < 0) {
		free(rel);
		return;
	}
	for (size_t i = 0; i < k; i++) {
		char *p, *full;

		if (asprintf(&p, "%s%s%s", under, under[0] ? "/" : "", names[i]) < 0)
			continue;
		full = lay_rel(l, p);
		if (lay_is_dir(l, full))
			fw_walk(l, p, out, n, depth + 1, seen);
		else {
			char **b = realloc(*out, (*n + 1) * sizeof(char *));

			if (b) {
				*out = b;
				(*out)[(*n)++] = p;
				p = NULL;
			}
		}
		free(full);
		free(p);
	}
	lay_names_free(names, k);
	free(rel);
}

/* The Flyway files of the folder, sorted; bad names are findings. */
static size_t
fw_list(struct lay *l, char **names, size_t n, struct fw_file *f)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		regmatch_t m[5];
		const char *nm = strrchr(names[i], '/') ? strrchr(names[i], '/') + 1 : names[i];
		char *rel;

		if (lay_rx("^([VU])([0-9]+([._][0-9]+)*)__(.+)\\.sql$", nm, m, 5, 0)) {
			const char *desc = strstr(nm + m[2].rm_eo, "__") + 2;

			f[k].kind = nm[0];
			f[k].canon = lay_flyway_canon(nm + m[2].rm_so, (size_t) (m[2].rm_eo - m[2].rm_so));
			f[k].shown = cap_dup(nm, &m[2]);
			underscores_to(f[k].shown, '.');
			f[k].desc = mc_strndup(desc, strlen(desc) - 4);
			underscores_to(f[k].desc, ' ');
			f[k].name = mc_strdup(names[i]);
			k++;
			continue;
		} else if (lay_rx("^R__(.+)\\.sql$", nm, m, 2, 0)) {
			f[k].kind = 'R';
			f[k].canon = NULL;
			f[k].shown = mc_strdup("");
			f[k].desc = cap_dup(nm, &m[1]);
			underscores_to(f[k].desc, ' ');
			f[k].name = mc_strdup(names[i]);
			k++;
			continue;
		} else if (!lay_rx("\\.sql$", nm, m, 1, 0) ||
			   lay_rx("^(before|after)[A-Za-z]+(__.*)?\\.sql$", nm, m, 1, 0))
			continue;	/* not SQL, or a callback (afterMigrate.sql) */
		rel = lay_rel(l, names[i]);
		finding(l, MC_SEV_WARN, "style", rel, NULL, -1,
			"name it V<version>__<description>.sql (version: digits separated by . or _)",
			"Flyway does not run this file: its name is not a versioned (V), undo (U) or repeatable (R__) migration");
		free(rel);
	}
	qsort(f, k, sizeof(*f), fw_order);
	return k;
}

int
lay_flyway(struct lay *l)
{
	char **names;
	size_t n, k, i;
	struct fw_file *f;
	int rc = 0;

	if (!lay_is_dir(l, l->sub)) {
		pgp_error("%s/%s: not a directory", l->dir, l->sub);
		return 2;
	}
	names = NULL;
	n = 0;
	{
		struct fw_seen seen[FW_DEPTH + 1];

		fw_walk(l, "", &names, &n, 0, seen);
	}
	f = calloc(n + 1, sizeof(*f));
	if (!f) {
		lay_names_free(names, n);
		return 2;
	}
	k = fw_list(l, names, n, f);
	lay_names_free(names, n);
	for (i = 0; i < k && rc == 0; i++) {
		struct mc_migration *m, *prev;
		char msg[512], *pc;

		if (f[i].kind == 'U')
			continue;
		m = lay_add(l);
		prev = l->set->n > 1 ? &l->set->m[l->set->n - 2] : NULL;
		m->version = mc_strdup(f[i].shown);
		m->name = mc_strdup(f[i].desc);
		m->repeatable = f[i].kind == 'R';
		if (load_script(l, &m->up, f[i].name, flyway_txn(l, f[i].name), 0) < 0) {
			rc = 2;
			break;
		}
		m->checksum = mc_checksum(MC_TOOL_FLYWAY, m->up.text, m->up.text_len);
		fw_strip_bom(&m->up);
		if (m->repeatable || !prev || prev->repeatable)
			continue;
		pc = lay_flyway_canon(prev->version, strlen(prev->version));
		if (pc && strcmp(pc, f[i].canon) == 0) {
			snprintf(msg, sizeof(msg), "Flyway refuses to migrate: %s and %s are both version %s",
				 prev->up.path, m->up.path, f[i].canon);
			finding(l, MC_SEV_FAIL, "duplicate-version", m->up.path, m->version,
				(int) l->set->n - 1, "give one of them a new version (1 and 1.0 are the same)", msg);
		}
		free(pc);
	}
	/* Undo files: the down of the versioned migration of their version. */
	for (i = 0; i < k && rc == 0; i++) {
		struct mc_migration *hit = NULL;
		size_t j;

		if (f[i].kind != 'U')
			continue;
		for (j = 0; j < k; j++)
			if (f[j].kind == 'V' && lay_flyway_cmp(f[j].canon, f[i].canon) == 0)
				break;
		for (j = 0; j < l->set->n && !hit; j++) {
			char *c = l->set->m[j].repeatable ? NULL :
				lay_flyway_canon(l->set->m[j].version, strlen(l->set->m[j].version));

			if (c && strcmp(c, f[i].canon) == 0)
				hit = &l->set->m[j];
			free(c);
		}
		if (!hit) {
			char *rel = lay_rel(l, f[i].name);

			finding(l, MC_SEV_WARN, "order", rel, f[i].shown, -1,
				"remove it or add the V migration it undoes",
				"an undo migration without a versioned migration of its version");
			free(rel);
			continue;
		}
		if (!hit->down.path && load_script(l, &hit->down, f[i].name, flyway_txn(l, f[i].name), 0) < 0)
			rc = 2;
		fw_strip_bom(&hit->down);
	}
	fw_free(f, k);
	return rc;
}

/* ---- golang-migrate ---- */

struct gm_file {
	uint64_t v;
	char *name, *desc;
	int up;
};

static int
gm_order(const void *x, const void *y)
{
	const struct gm_file *a = x, *b = y;

	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	if (a->up != b->up)
		return a->up ? -1 : 1;
	return strcmp(a->name, b->name);
}

int
lay_golang(struct lay *l)
{
	char **names;
	size_t n, k = 0, i;
	struct gm_file *f;
	int rc = 0;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return 2;
	f = calloc(n + 1, sizeof(*f));
	if (!f) {
		lay_names_free(names, n);
		return 2;
	}
	/* source/parse.go: ^([0-9]+)_(.*)\.(down|up)\.(.*)$; files that do not
	 * parse are skipped, and so are non-SQL extensions here. */
	for (i = 0; i < n; i++) {
		regmatch_t m[4];
		char *end;

		if (!lay_rx("^([0-9]+)_(.*)\\.(down|up)\\.sql$", names[i], m, 4, 0))
			continue;
		errno = 0;
		f[k].v = strtoull(names[i], &end, 10);
		if (errno == ERANGE) {
			char *rel = lay_rel(l, names[i]);

			finding(l, MC_SEV_WARN, "style", rel, NULL, -1, "use a version below 2^64",
				"golang-migrate skips this file: its version does not fit in 64 bits");
			free(rel);
			continue;
		}
		f[k].name = mc_strdup(names[i]);
		f[k].desc = cap_dup(names[i], &m[2]);
		f[k].up = names[i][m[3].rm_so] == 'u';
		k++;
	}
	lay_names_free(names, n);
	qsort(f, k, sizeof(*f), gm_order);
	for (i = 0; i < k && rc == 0; i++) {
		struct mc_migration *m = l->set->n ? &l->set->m[l->set->n - 1] : NULL;
		char ver[24], msg[600], *rel;
		int same = m && i > 0 && f[i - 1].v == f[i].v;

		snprintf(ver, sizeof(ver), "%llu", (unsigned long long) f[i].v);
		rel = lay_rel(l, f[i].name);
		if (same && f[i - 1].up == f[i].up) {
			snprintf(msg, sizeof(msg), "golang-migrate refuses the directory: %s and %s are both %s version %s",
				 f[i - 1].name, f[i].name, f[i].up ? "up" : "down", ver);
			finding(l, MC_SEV_FAIL, "duplicate-version", rel, ver, (int) l->set->n - 1,
				"give one of them a new version (0010 and 10 are the same number)", msg);
			free(rel);
			continue;
		}
		if (!same) {
			m = lay_add(l);
			m->version = mc_strdup(ver);
			m->name = mc_strdup(f[i].desc);
		}
		free(rel);
		if (load_script(l, f[i].up ? &m->up : &m->down, f[i].name, MC_TXN_IMPLICIT, 0) < 0)
			rc = 2;
	}
	for (i = 0; i < l->set->n && rc == 0; i++) {
		struct mc_migration *m = &l->set->m[i];

		if (!m->up.path)
			finding(l, MC_SEV_WARN, "order", m->down.path, m->version, (int) i,
				"add the up migration, or remove the down file",
				"a down migration without an up: golang-migrate has nothing to apply at this version");
		else if (!m->down.path)
			finding(l, MC_SEV_INFO, "roundtrip", m->up.path, m->version, (int) i,
				"add a .down.sql file that undoes it",
				"no down migration: this version cannot be rolled back, so no round trip is checked");
	}
	for (i = 0; i < k; i++) {
		free(f[i].name);
		free(f[i].desc);
	}
	free(f);
	return rc;
}

/* ---- dbmate ---- */

/* The offset of a directive line matching re at or after from, or -1. */
static long
directive(const char *text, size_t from, const char *re, size_t *eol)
{
	regmatch_t m[1];

	if (!lay_rx(re, text + from, m, 1, REG_NEWLINE))
		return -1;
	*eol = from + (size_t) m[0].rm_so;
	while (text[*eol] && text[*eol] != '\n')
		(*eol)++;
	return (long) (from + (size_t) m[0].rm_so);
}

/* Only blank and comment lines before the first directive? */
static int
preamble_empty(const char *text, size_t until)
{
	size_t i = 0;

	while (i < until) {
		size_t e = i;

		while (e < until && text[e] != '\n')
			e++;
		while (i < e && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
			i++;
		if (i < e && !(e - i >= 2 && text[i] == '-' && text[i + 1] == '-'))
			return 0;
		i = e + 1;
	}
	return 1;
}

static void
dbmate_section(struct mc_script *s, const char *rel, const char *text, size_t dir_at,
	       size_t eol, size_t end)
{
	size_t start = text[eol] == '\n' ? eol + 1 : eol;
	char *opts = mc_strndup(text + dir_at, eol - dir_at);
	enum mc_txn txn = strstr(opts, "transaction:false") ? MC_TXN_IMPLICIT : MC_TXN_FILE;

	free(opts);
	if (end < start)
		end = start;
	lay_script(s, mc_strdup(rel), mc_strndup(text + start, end - start), end - start,
		   lay_line_of(text, start), txn, 0);
}

#define DB_UP "^--[[:space:]]*migrate:up([[:space:]]*$|[[:space:]]+[^[:space:]])"
#define DB_DOWN "^--[[:space:]]*migrate:down([[:space:]]*$|[[:space:]]+[^[:space:]])"

/* Splits one file (pkg/dbmate/migration.go's rules) into m->up / m->down. */
static void
dbmate_split(struct lay *l, struct mc_migration *m, const char *rel, const char *text, size_t len)
{
	size_t up_eol = 0, down_eol = 0;
	long up = directive(text, 0, DB_UP, &up_eol);
	long down = directive(text, 0, DB_DOWN, &down_eol);
	int idx = (int) l->set->n - 1;
	const char *bad = NULL;

	if (up < 0)
		bad = "dbmate refuses it: no '-- migrate:up' directive";
	else if (down < 0)
		bad = "dbmate refuses it: no '-- migrate:down' directive";
	else if (down < up)
		bad = "dbmate refuses it: '-- migrate:down' comes before '-- migrate:up'";
	else if (!preamble_empty(text, (size_t) up))
		bad = "dbmate refuses it: statements before '-- migrate:up'";
	if (bad) {
		finding(l, MC_SEV_FAIL, "parse", rel, m->version, idx,
			"begin the file with '-- migrate:up' and put the rollback after '-- migrate:down'", bad);
		lay_script(&m->up, mc_strdup(rel), mc_strdup(""), 0, 1, MC_TXN_FILE, 0);
		return;
	}
	dbmate_section(&m->up, rel, text, (size_t) up, up_eol, (size_t) down);
	dbmate_section(&m->down, rel, text, (size_t) down, down_eol, len);
}

int
lay_dbmate(struct lay *l)
{
	char **names;
	size_t n, i;
	int rc = 0;
	struct mc_migration *prev = NULL;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return 2;
	/* pkg/dbmate/db.go: ^(\d+).*\.sql$, sorted by file name (byte order). */
	for (i = 0; i < n && rc == 0; i++) {
		regmatch_t m[2];
		struct mc_migration *mg;
		char *rel, *text;
		size_t len;

		if (!lay_rx("^([0-9]+).*\\.sql$", names[i], m, 2, 0))
			continue;
		rel = lay_rel(l, names[i]);
		if (lay_read(l, rel, &text, &len) < 0) {
			free(rel);
			rc = 2;
			break;
		}
		mg = lay_add(l);
		mg->version = cap_dup(names[i], &m[1]);
		mg->name = mc_strdup(names[i] + m[1].rm_eo + (names[i][m[1].rm_eo] == '_'));
		mg->name[strlen(mg->name) - 4] = '\0';
		dbmate_split(l, mg, rel, text, len);
		free(text);
		prev = l->set->n > 1 ? &l->set->m[l->set->n - 2] : NULL;
		if (prev && strcmp(prev->version, mg->version) == 0) {
			char msg[600];

			snprintf(msg, sizeof(msg), "%s and %s are both version %s: dbmate applies the first and "
				 "fails on the second (schema_migrations' primary key)",
				 prev->up.path, rel, mg->version);
			finding(l, MC_SEV_FAIL, "duplicate-version", rel, mg->version, (int) l->set->n - 1,
				"give one of them a new version (dbmate new writes a timestamp)", msg);
		} else if (prev && lay_numcmp(prev->version, strlen(prev->version), mg->version,
					      strlen(mg->version)) > 0) {
			char msg[600];

			snprintf(msg, sizeof(msg), "dbmate runs %s before %s (it sorts file names as text), "
				 "though version %s is lower than %s", prev->up.path, rel, mg->version,
				 prev->version);
			finding(l, MC_SEV_WARN, "order", rel, mg->version, (int) l->set->n - 1,
				"zero-pad the versions or use timestamps (YYYYMMDDHHMMSS)", msg);
		}
		free(rel);
	}
	lay_names_free(names, n);
	return rc;
}

/* ---- plain psql files ---- */

static int
has_name(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Byte order of the file names (strcmp, the C locale), as `ls | sort`
 * under LC_ALL=C and psql loops apply them.  NAME.down.sql beside
 * NAME.sql is the down of NAME.sql; no other down convention is read.
 */
int
lay_plain(struct lay *l)
{
	char **names;
	size_t n, i;
	int rc = 0;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return 2;
	for (i = 0; i < n && rc == 0; i++) {
		const char *nm = names[i];
		size_t len = strlen(nm), dl = strspn(nm, "0123456789");
		struct mc_migration *m, *prev;
		char down[4096];

		if (len < 5 || strcmp(nm + len - 4, ".sql") != 0)
			continue;
		if (len > 9 && strcmp(nm + len - 9, ".down.sql") == 0) {
			char up[4096];

			snprintf(up, sizeof(up), "%.*s.sql", (int) (len - 9), nm);
			if (!has_name(names, n, up)) {
				char *rel = lay_rel(l, nm);

				finding(l, MC_SEV_WARN, "order", rel, NULL, -1, "add the up file or remove the down",
					"a down file without its up file (NAME.down.sql undoes NAME.sql)");
				free(rel);
			}
			continue;
		}
		m = lay_add(l);
		prev = l->set->n > 1 ? &l->set->m[l->set->n - 2] : NULL;
		m->version = dl ? mc_strndup(nm, dl) : mc_strndup(nm, len - 4);
		m->name = mc_strndup(nm, len - 4);
		if (load_script(l, &m->up, nm, MC_TXN_NONE, 1) < 0) {
			rc = 2;
			break;
		}
		snprintf(down, sizeof(down), "%.*s.down.sql", (int) (len - 4), nm);
		{
			char *rel = lay_rel(l, down);

			if (lay_is_file(l, rel) && load_script(l, &m->down, down, MC_TXN_NONE, 1) < 0)
				rc = 2;
			free(rel);
		}
		if (prev && dl && strspn(prev->version, "0123456789") == strlen(prev->version)) {
			int c = lay_numcmp(prev->version, strlen(prev->version), m->version, dl);
			char msg[600];

			if (c == 0)
				snprintf(msg, sizeof(msg), "%s and %s share the number %s: only the byte order of "
					 "their names decides which runs first", prev->up.path, m->up.path, m->version);
			else if (c > 0)
				snprintf(msg, sizeof(msg), "%s runs before %s (names sort as bytes), though %s is "
					 "lower than %s", prev->up.path, m->up.path, m->version, prev->version);
			if (c >= 0)
				finding(l, MC_SEV_WARN, "order", m->up.path, m->version, (int) l->set->n - 1,
					"zero-pad the numbers so that name order is the intended order", msg);
		}
	}
	lay_names_free(names, n);
	return rc;
}

/* ---- Prisma ---- */

/*
 * migration.sql goes to PostgreSQL as one simple-protocol query:
 * prisma-engines schema-engine/connectors/sql-schema-connector/src/flavour/
 * postgres/connection.rs apply_migration_script() calls
 * client.simple_query(script) — one implicit transaction for a script of
 * several statements, and no BEGIN of Prisma's own.
 */
int
lay_prisma(struct lay *l)
{
	char **names, *lock, *text;
	size_t n, len, i;
	int rc = 0;

	if (lay_names(l, l->sub, &names, &n) < 0)
		return 2;
	lock = lay_rel(l, "migration_lock.toml");
	if (lay_is_file(l, lock) && lay_read(l, lock, &text, &len) == 0) {
		if (!strstr(text, "\"postgresql\""))
			finding(l, MC_SEV_WARN, "style", lock, NULL, -1,
				"generate the migrations with provider = \"postgresql\"",
				"migration_lock.toml names another provider than postgresql");
		free(text);
	}
	free(lock);
	for (i = 0; i < n && rc == 0; i++) {
		char *d = lay_rel(l, names[i]), file[4096];
		struct mc_migration *m;
		const char *us;

		if (!lay_is_dir(l, d)) {
			free(d);
			continue;
		}
		snprintf(file, sizeof(file), "%s/migration.sql", names[i]);
		free(d);
		d = lay_rel(l, file);
		if (!lay_is_file(l, d)) {
			finding(l, MC_SEV_FAIL, "missing-file", d, names[i], -1,
				"add its migration.sql or remove the folder",
				"prisma migrate refuses a migration folder without migration.sql (P3015)");
			free(d);
			continue;
		}
		free(d);
		m = lay_add(l);
		m->version = mc_strdup(names[i]);
		us = strchr(names[i], '_');
		m->name = mc_strdup(us ? us + 1 : names[i]);
		if (load_script(l, &m->up, file, MC_TXN_IMPLICIT, 0) < 0)
			rc = 2;
		else
			m->checksum = mc_checksum(MC_TOOL_PRISMA, m->up.text, m->up.text_len);
	}
	lay_names_free(names, n);
	return rc;
}

/*
 * Flyway's list of statements that may not run in a transaction
 * (PostgreSQLParser.java detects them by regex; here from the parse tree).
 */
static int
flyway_nontransactional(json_object *tree)
{
	const char *type = mc_node_type(tree), *kind;
	json_object *body = mc_node_body(tree);

	if (strcmp(type, "IndexStmt") == 0 || strcmp(type, "DropStmt") == 0)
		return mc_jbool(body, "concurrent");
	if (strcmp(type, "ReindexStmt") == 0)
		return (kind = mc_jstr(body, "kind")) && (strcmp(kind, "REINDEX_OBJECT_SCHEMA") == 0 ||
							  strcmp(kind, "REINDEX_OBJECT_DATABASE") == 0 ||
							  strcmp(kind, "REINDEX_OBJECT_SYSTEM") == 0);
	if (strcmp(type, "VacuumStmt") == 0)
		return mc_jbool(body, "is_vacuumcmd");
	if (strcmp(type, "DiscardStmt") == 0)
		return (kind = mc_jstr(body, "target")) && strcmp(kind, "DISCARD_ALL") == 0;
	if (strcmp(type, "AlterEnumStmt") == 0)
		return mc_jstr(body, "oldVal") == NULL;	/* ADD VALUE, not RENAME VALUE */
	return strcmp(type, "AlterSystemStmt") == 0 || strcmp(type, "CreatedbStmt") == 0 ||
	       strcmp(type, "DropdbStmt") == 0 || strcmp(type, "CreateTableSpaceStmt") == 0 ||
	       strcmp(type, "DropTableSpaceStmt") == 0 || strcmp(type, "CreateSubscriptionStmt") == 0 ||
	       strcmp(type, "DropSubscriptionStmt") == 0;
}

static void
flyway_script_txn(struct mc_script *sc, int mi, struct mc_report *r)
{
	size_t tx = 0, nontx = 0, first_nontx = 0;

	if (!sc->path || sc->txn != MC_TXN_FILE)
		return;
	for (size_t i = 0; i < sc->nstmts; i++) {
		if (!sc->stmts[i].tree)
			continue;
		if (flyway_nontransactional(sc->stmts[i].tree)) {
			if (nontx++ == 0)
				first_nontx = i;
		} else {
			tx++;
		}
	}
	if (nontx > 0 && tx == 0) {
		sc->txn = MC_TXN_NONE;
	} else if (nontx > 0) {
		struct mc_where w = {.file = sc->path, .line = sc->stmts[first_nontx].line, .migration = mi};

		mc_find(r, MC_SEV_FAIL, "transaction", &w,
			"put the statement that cannot run in a transaction in a migration of its own",
			"Flyway refuses a migration that mixes statements that cannot run in a transaction "
			"with others (\"Detected both transactional and non-transactional statements\"), "
			"unless mixed = true, and then runs it without one");
	}
}

void
mc_layout_after_parse(struct mc_set *set, struct mc_report *r)
{
	if (set->tool != MC_TOOL_FLYWAY)
		return;
	for (size_t i = 0; i < set->n; i++) {
		flyway_script_txn(&set->m[i].up, (int)i, r);
		flyway_script_txn(&set->m[i].down, (int)i, r);
	}
}
