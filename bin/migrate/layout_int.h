/*
 * Between layout.c (detection, files, common helpers) and the per-tool
 * readers in layout_sql.c (SQL-file tools) and layout_plan.c (tools with
 * a plan, a journal or code migrations).  Not for other modules.
 */
#ifndef PGP_MIGRATE_LAYOUT_INT_H
#define PGP_MIGRATE_LAYOUT_INT_H

#include <regex.h>

#include "migrate.h"

struct lay {
	const char *dir;	/* the directory given */
	char *sub;		/* the migrations folder relative to dir, "" */
	struct mc_set *set;
	struct mc_report *r;
};

/* The path of name in the migrations folder, relative to dir (malloc'd). */
char *lay_rel(const struct lay *l, const char *name);
/* The path on disk of a path relative to dir, in buf. */
const char *lay_abs(const struct lay *l, const char *rel, char *buf, size_t size);
/* 1 when the file (relative to dir) exists as a regular file / directory. */
int lay_is_file(const struct lay *l, const char *rel);
int lay_is_dir(const struct lay *l, const char *rel);
/* Reads a file relative to dir; -1 after pgp_error naming it. */
int lay_read(const struct lay *l, const char *rel, char **text, size_t *len);
/*
 * Names in a folder relative to dir, without dot files, sorted in byte
 * order (strcmp); -1 after pgp_error.  Free with lay_names_free.
 */
int lay_names(const struct lay *l, const char *rel, char ***names, size_t *n);
void lay_names_free(char **names, size_t n);
/* A new zeroed migration at the end of the set; exits when out of memory. */
struct mc_migration *lay_add(struct lay *l);
/* Numeric strings compared as numbers of any size (leading zeros ignored). */
int lay_numcmp(const char *a, size_t alen, const char *b, size_t blen);
/* Sets a script: path (taken), text (taken), txn, psql. */
void lay_script(struct mc_script *s, char *path, char *text, size_t len, int first_line,
		enum mc_txn txn, int psql);
/* POSIX extended regex re on s, nm captures into m (0: none); 1 on a match. */
int lay_rx(const char *re, const char *s, regmatch_t *m, size_t nm, int flags);
/* The file line of a byte offset of text. */
int lay_line_of(const char *text, size_t off);

/* The readers: 0, or 2 after pgp_error. */
int lay_flyway(struct lay *l);
int lay_golang(struct lay *l);
int lay_dbmate(struct lay *l);
int lay_plain(struct lay *l);
int lay_prisma(struct lay *l);
int lay_sqitch(struct lay *l);
int lay_drizzle(struct lay *l);
int lay_knex(struct lay *l);
int lay_alembic(struct lay *l);
int lay_rails(struct lay *l);

/* Flyway's version made canonical: parts without leading zeros, trailing
 * zero parts dropped ("1.0" -> "1", "005_1" -> "5.1"); NULL when it is
 * not a version (malloc'd).  Compared part by part with lay_flyway_cmp. */
char *lay_flyway_canon(const char *v, size_t len);
int lay_flyway_cmp(const char *a, const char *b);

/* ActiveRecord's MigrationFilenameRegexp: version, name, scope. */
#define RAILS_RE "^([0-9]+)_([_a-z0-9]*)(\\.[_a-z0-9]*)?\\.rb$"

/* For applied.c: the %project of the set's sqitch.plan (malloc'd), or NULL. */
char *lay_sqitch_project(const char *dir, const struct mc_set *set);
/* An Alembic revision file's down_revision ids (None: none). */
char **lay_alembic_downs(const char *text, size_t *n);
void lay_alembic_downs_free(char **downs, size_t n);

#endif
