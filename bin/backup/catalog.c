/*
 * What a repository holds: backups are the directories with a manifest;
 * list prints them, prune applies retention (count, age, and
 * grandfather-father-son), and the state file tells pgp-alert about the
 * last run without it having to touch the repository.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "array.h"
#include "atomicfile.h"
#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "lock.h"
#include "log.h"

static int
by_time_desc(const void *a, const void *b)
{
	const struct backup_info *x = a, *y = b;

	return x->time < y->time ? 1 : x->time > y->time ? -1 : strcmp(y->database, x->database);
}

/* "<database>/<id>/rest": split out database and id; 0, or -1 when name is not of that shape. */
static int
split_name(const char *name, char *db, size_t dbsize, char *id, size_t idsize, const char **rest)
{
	const char *slash1 = strchr(name, '/'), *slash2;

	if (!slash1 || slash1 == name || !(slash2 = strchr(slash1 + 1, '/')) ||
	    (size_t) (slash1 - name) >= dbsize || (size_t) (slash2 - slash1 - 1) >= idsize)
		return -1;
	snprintf(db, dbsize, "%.*s", (int) (slash1 - name), name);
	snprintf(id, idsize, "%.*s", (int) (slash2 - slash1 - 1), slash1 + 1);
	*rest = slash2 + 1;
	return manifest_id_time(id) == (time_t) -1 ? -1 : 0;
}

int
manifest_fetch(struct backup_ctx *ctx, const struct repo_entry *e, char **data, size_t *len, char *why,
	       size_t whysize)
{
	int rc;

	*data = NULL;
	*len = 0;
	if (e->is_dir) {
		snprintf(why, whysize, "%s is not a regular file", MANIFEST);
		return -1;
	}
	if (e->size > MANIFEST_MAX_BYTES) {
		snprintf(why, whysize, "it is too large (%llu bytes)", e->size);
		return -1;
	}
	rc = repo_read_all(ctx->repo, e->name, data, len);
	if (rc != 0) {
		snprintf(why, whysize, "%s", rc == 1 ? "it vanished while listing" :
			 *pgp_log_last_error() ? pgp_log_last_error() : "it cannot be read");
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

static void
read_manifest(struct backup_ctx *ctx, const struct repo_entry *e, struct backup_info *b)
{
	char *data;
	size_t len;

	b->state = BACKUP_UNREADABLE;
	if (manifest_fetch(ctx, e, &data, &len, b->why, sizeof(b->why)) < 0)
		return;
	if (manifest_parse(data, len, b->database, b->id, &b->m, b->why, sizeof(b->why)) == 0)
		b->state = b->m.status == MANIFEST_OK ? BACKUP_OK : BACKUP_FAILED;
	free(data);
}

/*
 * The backups among a repository listing: every id directory holding a
 * manifest.json (file, directory, anything), newest first.  Ids without
 * one are not backups (they are leftovers, for prune to sweep).
 */
static int
scan_listing(struct backup_ctx *ctx, const struct repo_entry *entries, size_t count, struct backup_info **out,
	     size_t *n)
{
	size_t cap = 0;
	struct backup_info *list = NULL;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < count; i++) {
		char db[128], id[32];
		const char *rest;
		struct backup_info *b;
		int seen = 0;

		if (split_name(entries[i].name, db, sizeof(db), id, sizeof(id), &rest) < 0)
			continue;
		/* manifest.json itself, or something inside a manifest.json directory */
		if (strcmp(rest, MANIFEST) != 0 &&
		    !(strncmp(rest, MANIFEST "/", sizeof(MANIFEST)) == 0))
			continue;
		for (size_t k = 0; k < *n && !seen; k++)
			seen = !strcmp(list[k].id, id) && !strcmp(list[k].database, db);
		if (seen)
			continue;
		if (pgp_array_reserve(&list, *n, &cap, sizeof(*list)) < 0) {
			catalog_free(list, *n);
			return -1;
		}
		b = &list[(*n)++];
		memset(b, 0, sizeof(*b));
		snprintf(b->id, sizeof(b->id), "%s", id);
		snprintf(b->database, sizeof(b->database), "%s", db);
		b->time = manifest_id_time(id);
		if (strcmp(rest, MANIFEST) != 0) {
			b->state = BACKUP_UNREADABLE;
			snprintf(b->why, sizeof(b->why), "%s is not a regular file", MANIFEST);
		} else
			read_manifest(ctx, &entries[i], b);
	}
	if (*n > 1)
		qsort(list, *n, sizeof(*list), by_time_desc);
	*out = list;
	return 0;
}

int
catalog_load(struct backup_ctx *ctx, const char *database, struct backup_info **out, size_t *n)
{
	struct repo_entry *entries;
	size_t count;
	int rc;

	*out = NULL;
	*n = 0;
	if (repo_list(ctx->repo, database ? database : "", &entries, &count) < 0)
		return -1;
	rc = scan_listing(ctx, entries, count, out, n);
	repo_entries_free(entries, count);
	return rc;
}

void
catalog_free(struct backup_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].state != BACKUP_UNREADABLE)
			manifest_clear(&list[i].m);
	free(list);
}

static const char *
state_name(enum backup_state s)
{
	return s == BACKUP_OK ? "ok" : s == BACKUP_FAILED ? "failed" : "unreadable";
}

/* One line for a backup that cannot be used. */
static void
report_bad(const struct backup_info *b)
{
	if (b->state == BACKUP_UNREADABLE)
		pgp_error("backup %s/%s: unreadable manifest: %s", b->database, b->id, b->why);
	else if (b->state == BACKUP_FAILED)
		pgp_error("backup %s/%s: its manifest says the backup failed", b->database, b->id);
}

int
catalog_find(const struct backup_info *list, size_t n, const char *id, size_t *index)
{
	int i = -1;

	if (n == 0) {
		pgp_error("the repository holds no backup");
		return PGP_EXIT_USAGE;
	}
	if (!strcmp(id, "latest")) {
		for (size_t k = 1; k < n; k++)
			if (strcmp(list[k].database, list[0].database) != 0) {
				pgp_error("the repository holds backups of several databases: say which "
					  "(verify: --database, restore: --from)");
				return PGP_EXIT_USAGE;
			}
		i = 0;
	} else {
		for (size_t k = 0; k < n && i < 0; k++)
			if (!strcmp(list[k].id, id))
				i = (int) k;
		if (i < 0) {
			pgp_error("no backup \"%s\" in the repository (a backup without a manifest does not count)", id);
			return PGP_EXIT_USAGE;
		}
	}
	if (list[i].state != BACKUP_OK) {
		report_bad(&list[i]);
		for (size_t k = 0; k < n; k++)
			if (list[k].state == BACKUP_OK) {
				pgp_hint("the newest good backup of %s is %s", list[k].database, list[k].id);
				break;
			}
		return PGP_EXIT_FOUND;
	}
	*index = (size_t) i;
	return PGP_EXIT_OK;
}

static void
rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The public keys an encrypted backup can be read with; null when not encrypted. */
static struct json_object *
recipients_json(const struct manifest *m)
{
	struct json_object *a;

	if (!m->encrypted)
		return NULL;
	a = json_object_new_array();
	for (size_t i = 0; i < m->nrecipients; i++)
		json_object_array_add(a, pgp_json_cstring(m->recipients[i]));
	return a;
}

static void
print_json(const struct backup_info *list, size_t n)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array(), *last = NULL;
	time_t now = time(NULL);
	char t[32];

	for (size_t i = 0; i < n && !last; i++)
		if (list[i].state == BACKUP_OK) {
			last = json_object_new_object();
			json_object_object_add(last, "id", pgp_json_cstring(list[i].id));
			json_object_object_add(last, "age_s", json_object_new_int64((long long) (now - list[i].time)));
		}
	json_object_object_add(o, "last_good", last);
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_new_object();

		rfc3339(list[i].time, t, sizeof(t));
		json_object_object_add(b, "id", pgp_json_cstring(list[i].id));
		json_object_object_add(b, "database", pgp_json_cstring(list[i].database));
		json_object_object_add(b, "time", pgp_json_cstring(t));
		json_object_object_add(b, "size", list[i].state == BACKUP_UNREADABLE ? NULL :
				       json_object_new_int64((long long) list[i].m.size));
		json_object_object_add(b, "status", pgp_json_cstring(state_name(list[i].state)));
		if (list[i].state != BACKUP_UNREADABLE) {
			json_object_object_add(b, "compression", pgp_json_cstring(list[i].m.compression));
			json_object_object_add(b, "encrypted", json_object_new_boolean(list[i].m.encrypted));
			json_object_object_add(b, "recipients", recipients_json(&list[i].m));
		}
		if (list[i].state == BACKUP_UNREADABLE)
			json_object_object_add(b, "error", pgp_json_cstring(list[i].why));
		json_object_array_add(arr, b);
	}
	json_object_object_add(o, "backups", arr);
	pgp_json_print(stdout, o, 1);
	json_object_put(o);
}

int
catalog_print(struct backup_ctx *ctx)
{
	struct backup_info *list;
	size_t n;
	int bad = 0;
	char t[32];

	if (catalog_load(ctx, ctx->database, &list, &n) < 0)
		return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
	if (ctx->common->format && !strcmp(ctx->common->format, "json"))
		print_json(list, n);
	else {
		printf("%-18s %-20s %-22s %14s  %-9s %s\n", "ID", "DATABASE", "TIME", "SIZE", "STORED", "STATUS");
		for (size_t i = 0; i < n; i++) {
			char stored[32];

			rfc3339(list[i].time, t, sizeof(t));
			snprintf(stored, sizeof(stored), "%s%s", list[i].m.compression, list[i].m.encrypted ? "+age" : "");
			if (list[i].state == BACKUP_UNREADABLE)
				printf("%-18s %-20s %-22s %14s  %-9s unreadable\n", list[i].id, list[i].database, t, "-", "-");
			else
				printf("%-18s %-20s %-22s %14llu  %-9s %s\n", list[i].id, list[i].database, t,
				       list[i].m.size, stored, state_name(list[i].state));
		}
	}
	/* A backup nobody can restore is something to act on. */
	for (size_t i = 0; i < n; i++)
		if (list[i].state != BACKUP_OK) {
			report_bad(&list[i]);
			bad++;
		}
	catalog_free(list, n);
	return bad ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}

/* Period keys for grandfather-father-son: day, ISO week, month. */
static void
period(time_t t, const char *fmt, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, fmt, &tm);
}

/*
 * Which backups to keep: the newest good one always; the newest N good
 * ones (keep_last); those younger than max_age_days; the newest of each of
 * the last N days, ISO weeks and months.  With no rule at all, everything
 * is kept.  A backup whose manifest is not good is always kept: nothing
 * pgp cannot read is ever deleted automatically.  times[] newest first.
 */
void
retention_mark(const struct backup_ctx *ctx, const time_t *time0, const enum backup_state *state0, size_t stride,
	       size_t n, int *keep)
{
	static const char *const fmts[3] = {"%Y-%m-%d", "%G-W%V", "%Y-%m"};
	long long limits[3] = {ctx->keep_daily, ctx->keep_weekly, ctx->keep_monthly}, good = 0;
	time_t now = time(NULL);
	int any_rule = ctx->keep_last > 0 || ctx->max_age_days > 0 || limits[0] > 0 || limits[1] > 0 ||
		limits[2] > 0;
/* The i-th backup's time and whether it is good, stride bytes apart. */
#define AT_TIME(i) (*(const time_t *) (const void *) ((const char *) time0 + (i) * stride))
#define IS_GOOD(i) (*(const enum backup_state *) (const void *) ((const char *) state0 + (i) * stride) == BACKUP_OK)

	for (size_t i = 0; i < n; i++) {
		if (!IS_GOOD(i)) {
			keep[i] = 1;
			continue;
		}
		keep[i] = !any_rule || good == 0 || good < ctx->keep_last ||
			(ctx->max_age_days > 0 && now - AT_TIME(i) < ctx->max_age_days * 86400);
		good++;
	}
	for (int p = 0; p < 3; p++) {
		char last[32] = "", cur[32];
		long long seen = 0;

		for (size_t i = 0; i < n && seen < limits[p]; i++) {
			if (!IS_GOOD(i))
				continue;
			period(AT_TIME(i), fmts[p], cur, sizeof(cur));
			if (strcmp(cur, last) == 0)
				continue;	/* an older backup of a period already kept */
			snprintf(last, sizeof(last), "%s", cur);
			keep[i] = 1;
			seen++;
		}
	}
#undef AT_TIME
#undef IS_GOOD
}

static int
delete_backup(struct backup_ctx *ctx, const struct backup_info *b)
{
	struct repo_entry *entries;
	size_t count;
	char prefix[256], manifest[256];
	int rc;

	/* The manifest goes first: from then on the backup does not exist. */
	snprintf(prefix, sizeof(prefix), "%s/%s/", b->database, b->id);
	snprintf(manifest, sizeof(manifest), "%s%s", prefix, MANIFEST);
	if (repo_delete(ctx->repo, manifest) < 0)
		return -1;
	prefix[strlen(prefix) - 1] = '\0';
	if (repo_list(ctx->repo, prefix, &entries, &count) < 0)
		return -1;
	rc = 0;
	for (size_t i = 0; i < count; i++)
		if (!entries[i].is_dir && repo_delete(ctx->repo, entries[i].name) < 0)
			rc = -1;
	repo_entries_free(entries, count);
	return rc;
}

#define LEFTOVER_AGE (24 * 3600)

/*
 * Objects under an id that has no manifest.json at all: what a run killed
 * outright (SIGKILL, a power cut) left behind, once a day old.  Prune
 * holds the backup lock, so no backup of this host is writing them; they
 * were never backups.  Only names <database>/<id>/... with a real id are touched.
 * 0, or -1 (logged).
 */
static int
sweep_leftovers(struct backup_ctx *ctx, const struct repo_entry *entries, size_t count,
		const struct backup_info *list, size_t n)
{
	time_t now = time(NULL);
	int rc = 0;

	for (size_t i = 0; i < count; i++) {
		char db[128], id[32];
		const char *rest, *name = entries[i].name;
		int has_manifest = 0;

		if (entries[i].is_dir || split_name(name, db, sizeof(db), id, sizeof(id), &rest) < 0)
			continue;
		for (size_t k = 0; k < n && !has_manifest; k++)
			has_manifest = !strcmp(list[k].id, id) && !strcmp(list[k].database, db);
		/* The lock only sees this host's backups: an id younger than a day
		 * may be a backup another host (or state directory) is writing. */
		if (has_manifest || manifest_id_time(id) > now - LEFTOVER_AGE)
			continue;
		if (ctx->dry_run)
			printf("would delete leftover %s\n", name);
		else if (repo_delete(ctx->repo, name) < 0)
			rc = -1;
		else
			pgp_info("deleted leftover %s (no manifest: an interrupted run)", name);
	}
	return rc;
}

/*
 * Apply retention to database.  PGP_EXIT_OK; PGP_EXIT_FOUND when a backup
 * with an unreadable or failed manifest was found (reported and kept);
 * PGP_EXIT_FAILED when something could not be deleted.
 */
int
catalog_prune(struct backup_ctx *ctx, const char *database)
{
	struct backup_info *list;
	struct repo_entry *entries;
	size_t n, count;
	int *keep = NULL, readers, rc = PGP_EXIT_OK, deleted = 0, failed = 0;

	/* Never delete what a restore or verify is reading. */
	rc = lock_take(ctx, database, "read", 0, &readers);
	if (rc != PGP_EXIT_OK)
		return rc;
	/* One listing serves both the backups and the leftovers. */
	if (repo_list(ctx->repo, database, &entries, &count) < 0) {
		close(readers);
		return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
	}
	if (scan_listing(ctx, entries, count, &list, &n) < 0 || !(keep = calloc(n ? n : 1, sizeof(*keep)))) {
		free(keep);
		catalog_free(list, n);
		repo_entries_free(entries, count);
		close(readers);
		return PGP_EXIT_FAILED;
	}
	if (n)
		retention_mark(ctx, &list[0].time, &list[0].state, sizeof(list[0]), n, keep);
	for (size_t i = 0; i < n; i++) {
		if (list[i].state != BACKUP_OK) {
			report_bad(&list[i]);
			pgp_detail("kept: pgp never deletes a backup whose manifest it cannot trust");
			rc = PGP_EXIT_FOUND;
		}
		if (keep[i])
			continue;
		if (ctx->dry_run) {
			printf("would delete %s/%s\n", list[i].database, list[i].id);
			continue;
		}
		if (delete_backup(ctx, &list[i]) < 0) {
			failed = 1;
			continue;
		}
		deleted++;
		pgp_info("pruned %s/%s", list[i].database, list[i].id);
	}
	if (sweep_leftovers(ctx, entries, count, list, n) < 0)
		failed = 1;
	if (!ctx->dry_run && pgp_log_enabled(PGP_LOG_INFO) && n)
		pgp_info("prune: kept %zu, deleted %d", n - (size_t) deleted, deleted);
	free(keep);
	catalog_free(list, n);
	repo_entries_free(entries, count);
	close(readers);
	return failed ? PGP_EXIT_FAILED : rc;
}

void
lock_path(const struct backup_ctx *ctx, const char *database, const char *kind, char *buf, size_t size)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	const char *url = repo_url(ctx->repo);

	/* One lock per database and repository: the repository by its hash. */
	SHA256((const unsigned char *) url, strlen(url), d);
	snprintf(buf, size, "%s/%s-%s-%02x%02x%02x%02x.lock", ctx->state_dir, kind, database, d[0], d[1], d[2], d[3]);
}

int
lock_take(const struct backup_ctx *ctx, const char *database, const char *kind, int shared, int *fd)
{
	char path[1024];
	pid_t holder = 0;

	*fd = -1;
	if (mkdir(ctx->state_dir, 0755) != 0 && errno != EEXIST) {
		pgp_error("cannot create state directory \"%s\": %s", ctx->state_dir, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	lock_path(ctx, database, kind, path, sizeof(path));
	if (shared) {
		int denied;

		/* Readers share: several restores may run, prune waits for none. */
		*fd = pgp_lock_open(path, &denied);
		if (*fd < 0)
			return denied ? PGP_EXIT_USAGE : PGP_EXIT_FAILED;
		if (flock(*fd, LOCK_SH | LOCK_NB) != 0) {
			close(*fd);
			*fd = -1;
			pgp_error("busy: a prune of %s in %s is running", database, repo_url(ctx->repo));
			return PGP_EXIT_BUSY;
		}
		return PGP_EXIT_OK;
	}
	switch (pgp_lock_try(path, fd, &holder)) {
	case PGP_LOCK_TAKEN:
		return PGP_EXIT_OK;
	case PGP_LOCK_BUSY:
		if (!strcmp(kind, "backup"))
			pgp_error("busy: another backup of %s into %s is running (pid %ld)", database,
				  repo_url(ctx->repo), (long) holder);
		else
			pgp_error("busy: a restore or verify of %s is reading %s", database, repo_url(ctx->repo));
		return PGP_EXIT_BUSY;
	case PGP_LOCK_DENIED:
		return PGP_EXIT_USAGE;	/* a setup to fix, not a failure to retry */
	default:
		return PGP_EXIT_FAILED;
	}
}

int
prune_run(struct backup_ctx *ctx)
{
	int lock, rc;

	if (!ctx->database) {
		pgp_error("prune needs a database: --database NAME (or a connection that names one)");
		return PGP_EXIT_USAGE;
	}
	/* The backup lock: no backup of this host is writing what prune sweeps. */
	rc = lock_take(ctx, ctx->database, "backup", 0, &lock);
	if (rc == PGP_EXIT_OK) {
		rc = catalog_prune(ctx, ctx->database);
		close(lock);
	}
	return rc;
}

int
state_write(struct backup_ctx *ctx, const char *database, const char *result, const char *id,
	    const char *error)
{
	char path[1024], now[32], *old = NULL;
	struct json_object *prev = NULL, *o = json_object_new_object();
	const char *text;
	int rc;

	if (mkdir(ctx->state_dir, 0755) != 0 && errno != EEXIST)
		return pgp_fail("cannot create state directory \"%s\": %s", ctx->state_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/backup-%s.json", ctx->state_dir, database);
	/* Keep the last good backup across failed runs. */
	if (access(path, F_OK) == 0 && pgp_read_file(path, &old, NULL) == 0)
		pgp_json_parse(old, strlen(old), path, &prev);
	free(old);
	rfc3339(time(NULL), now, sizeof(now));
	json_object_object_add(o, "database", pgp_json_cstring(database));
	json_object_object_add(o, "repo", pgp_json_cstring(repo_url(ctx->repo)));
	json_object_object_add(o, "last_run_time", pgp_json_cstring(now));
	json_object_object_add(o, "last_run_result", pgp_json_cstring(result));
	if (id) {
		json_object_object_add(o, "last_good_id", pgp_json_cstring(id));
		json_object_object_add(o, "last_good_time", pgp_json_cstring(now));
	} else {
		struct json_object *v;

		json_object_object_add(o, "last_good_id", prev && json_object_object_get_ex(prev, "last_good_id", &v)
				       ? json_object_get(v) : NULL);
		json_object_object_add(o, "last_good_time", prev && json_object_object_get_ex(prev, "last_good_time", &v)
				       ? json_object_get(v) : NULL);
	}
	json_object_object_add(o, "last_error", pgp_json_cstring(error));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	{
		size_t len = strlen(text);
		char *line = malloc(len + 2);

		if (!line) {
			json_object_put(o);
			json_object_put(prev);
			return pgp_fail("out of memory");
		}
		memcpy(line, text, len);
		memcpy(line + len, "\n", 2);
		rc = pgp_atomic_write(path, line, len + 1, 0644);
		free(line);
	}
	json_object_put(o);
	json_object_put(prev);
	return rc;
}
