/*
 * A cluster's base backups: list, prune (the keep rules of catalog.c's
 * logical prune, then the WAL older than the oldest kept base backup)
 * and verify (stored bytes, every file against backup_manifest, the WAL
 * chain, and optionally a restore test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "physical.h"
#include "stream.h"
#include "walname.h"

void
phys_lock_name(const struct cluster *c, char *buf, size_t size)
{
	snprintf(buf, size, "cluster-%s", c->name);
}

static const char *
state_name(enum backup_state s)
{
	return s == BACKUP_OK ? "ok" : s == BACKUP_FAILED ? "failed" : "unreadable";
}

static unsigned long long
total_size(const struct phys_manifest *m)
{
	unsigned long long n = 0;

	for (size_t i = 0; i < m->nobjects; i++)
		n += m->objects[i].size;
	return n;
}

static void
report_bad(const struct phys_info *b)
{
	if (b->state == BACKUP_UNREADABLE)
		pgp_error("base backup %s: unreadable manifest: %s", b->id, b->why);
	else if (b->state == BACKUP_FAILED)
		pgp_error("base backup %s: its manifest says the backup failed", b->id);
}

static void
print_json(const struct cluster *c, const struct phys_info *list, size_t n)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char t[32], lsn[WALNAME_LSN_SIZE];

	json_object_object_add(o, "cluster", pgp_json_cstring(c->name));
	json_object_object_add(o, "system_identifier", pgp_json_cstring(c->sysid));
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_new_object();
		int good = list[i].state != BACKUP_UNREADABLE;

		phys_rfc3339(list[i].time, t, sizeof(t));
		json_object_object_add(b, "id", pgp_json_cstring(list[i].id));
		json_object_object_add(b, "time", pgp_json_cstring(t));
		walname_lsn_format(list[i].m.start_lsn, lsn);
		json_object_object_add(b, "start_lsn", good ? pgp_json_cstring(lsn) : NULL);
		walname_lsn_format(list[i].m.end_lsn, lsn);
		json_object_object_add(b, "end_lsn", good ? pgp_json_cstring(lsn) : NULL);
		json_object_object_add(b, "timeline", good ? json_object_new_int64(list[i].m.tli) : NULL);
		json_object_object_add(b, "size", good ? json_object_new_int64((long long) total_size(&list[i].m)) : NULL);
		json_object_object_add(b, "encrypted", good ? json_object_new_boolean(list[i].m.encrypted) : NULL);
		json_object_object_add(b, "status", pgp_json_cstring(state_name(list[i].state)));
		if (!good)
			json_object_object_add(b, "error", pgp_json_cstring(list[i].why));
		json_object_array_add(arr, b);
	}
	json_object_object_add(o, "base_backups", arr);
	pgp_json_print(stdout, o, 1);
	json_object_put(o);
}

static void
print_text(const struct phys_info *list, size_t n)
{
	char t[32], s[WALNAME_LSN_SIZE], e[WALNAME_LSN_SIZE];

	printf("%-18s %-22s %-19s %-19s %4s %14s  %s\n", "ID", "TIME", "START LSN", "END LSN", "TLI", "SIZE",
	       "STATUS");
	for (size_t i = 0; i < n; i++) {
		phys_rfc3339(list[i].time, t, sizeof(t));
		if (list[i].state == BACKUP_UNREADABLE) {
			printf("%-18s %-22s %-19s %-19s %4s %14s  unreadable\n", list[i].id, t, "-", "-", "-", "-");
			continue;
		}
		walname_lsn_format(list[i].m.start_lsn, s);
		walname_lsn_format(list[i].m.end_lsn, e);
		printf("%-18s %-22s %-19s %-19s %4u %14llu  %s\n", list[i].id, t, s, e, list[i].m.tli,
		       total_size(&list[i].m), state_name(list[i].state));
	}
}

int
physical_list(struct backup_ctx *ctx)
{
	struct cluster c;
	struct phys_info *list;
	size_t n;
	int rc = cluster_find(ctx, &c), bad = 0;

	if (rc != PGP_EXIT_OK)
		return rc;
	if (phys_load(ctx, &c, &list, &n) < 0)
		return phys_repo_status(ctx);
	if (ctx->common->format && !strcmp(ctx->common->format, "json"))
		print_json(&c, list, n);
	else
		print_text(list, n);
	for (size_t i = 0; i < n; i++)
		if (list[i].state != BACKUP_OK) {
			report_bad(&list[i]);
			bad++;
		}
	free(list);
	return bad ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}

/* The manifest first: from then on the backup does not exist. */
static int
delete_backup(struct backup_ctx *ctx, const struct cluster *c, const char *id)
{
	struct repo_entry *e;
	size_t n;
	char dir[192], name[320];
	int rc = 0;

	cluster_base_prefix(c, id, dir, sizeof(dir));
	snprintf(name, sizeof(name), "%s/%s", dir, MANIFEST);
	if (repo_delete(ctx->repo, name) < 0 || repo_list(ctx->repo, dir, &e, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!e[i].is_dir && repo_delete(ctx->repo, e[i].name) < 0)
			rc = -1;
	repo_entries_free(e, n);
	return rc;
}

/* Ids with objects but no manifest, a day old: what a killed run left. */
static int
sweep_leftovers(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *list, size_t n)
{
	struct repo_entry *e;
	size_t count, plen;
	char prefix[160];
	time_t now = time(NULL);
	int rc = 0;

	cluster_base_prefix(c, NULL, prefix, sizeof(prefix));
	plen = strlen(prefix);
	if (repo_list(ctx->repo, prefix, &e, &count) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const char *p = e[i].name + plen + 1, *slash;
		char id[32];
		int known = 0;

		if (e[i].is_dir || strncmp(e[i].name, prefix, plen) || e[i].name[plen] != '/' ||
		    !(slash = strchr(p, '/')) || (size_t) (slash - p) >= sizeof(id))
			continue;
		snprintf(id, sizeof(id), "%.*s", (int) (slash - p), p);
		for (size_t k = 0; k < n && !known; k++)
			known = !strcmp(list[k].id, id);
		if (known || manifest_id_time(id) == (time_t) -1 || manifest_id_time(id) > now - 24 * 3600)
			continue;
		if (ctx->dry_run)
			printf("would delete leftover %s\n", e[i].name);
		else if (repo_delete(ctx->repo, e[i].name) < 0)
			rc = -1;
		else
			pgp_info("deleted leftover %s (no manifest: an interrupted run)", e[i].name);
	}
	repo_entries_free(e, count);
	return rc;
}

/* WAL older than the oldest kept base backup; none when an unreadable one might need it. */
static int
prune_wal(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *list, size_t n,
	  const int *keep)
{
	const struct phys_info *oldest = NULL;

	for (size_t i = 0; i < n; i++) {
		if (list[i].state != BACKUP_OK) {
			pgp_info("WAL kept whole: base backup %s cannot be read, it might need it", list[i].id);
			return PGP_EXIT_OK;
		}
		if (keep[i])
			oldest = &list[i];
	}
	if (!oldest || ctx->dry_run)
		return PGP_EXIT_OK;
	return wal_prune(ctx, c, oldest->m.tli, oldest->m.start_lsn);
}

int
physical_prune_locked(struct backup_ctx *ctx, const struct cluster *c)
{
	struct phys_info *list;
	size_t n;
	char lockname[CLUSTER_NAME_MAX + 16];
	int *keep = NULL, readers, rc = PGP_EXIT_OK, failed = 0, deleted = 0, wrc;

	phys_lock_name(c, lockname, sizeof(lockname));
	/* Never delete what a restore or verify is reading. */
	if ((rc = lock_take(ctx, lockname, "read", 0, &readers)) != PGP_EXIT_OK)
		return rc;
	if (phys_load(ctx, c, &list, &n) < 0) {
		close(readers);
		return phys_repo_status(ctx);
	}
	if (!(keep = calloc(n ? n : 1, sizeof(*keep)))) {
		free(keep);
		free(list);
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
		if (ctx->dry_run)
			printf("would delete base backup %s\n", list[i].id);
		else if (delete_backup(ctx, c, list[i].id) < 0)
			failed = 1;
		else {
			deleted++;
			pgp_info("pruned base backup %s", list[i].id);
		}
	}
	if (sweep_leftovers(ctx, c, list, n) < 0)
		failed = 1;
	wrc = failed ? PGP_EXIT_OK : prune_wal(ctx, c, list, n, keep);
	if (!ctx->dry_run && n)
		pgp_info("prune: kept %zu base backups, deleted %d", n - (size_t) deleted, deleted);
	free(keep);
	free(list);
	close(readers);
	return failed ? PGP_EXIT_FAILED : rc != PGP_EXIT_OK ? rc : wrc;
}

int
physical_prune(struct backup_ctx *ctx)
{
	struct cluster c;
	char lockname[CLUSTER_NAME_MAX + 16];
	int lock, rc = cluster_find(ctx, &c);

	if (rc != PGP_EXIT_OK)
		return rc;
	phys_lock_name(&c, lockname, sizeof(lockname));
	if ((rc = lock_take(ctx, lockname, "backup", 0, &lock)) != PGP_EXIT_OK)
		return rc;
	rc = physical_prune_locked(ctx, &c);
	close(lock);
	return rc;
}

/* Each object's stored size and SHA-256 (no key needed): OK or FOUND, or FAILED. */
static int
check_stored(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b)
{
	char dir[192], name[320], label[192];
	int found = 0;

	cluster_base_prefix(c, b->id, dir, sizeof(dir));
	for (size_t i = 0; i < b->m.nobjects; i++) {
		const struct phys_object *o = &b->m.objects[i];
		struct stream_expect x = {b->m.compression, b->m.encrypted, 1, o->size, o->sha256};
		struct stream_result res;
		int rc;

		snprintf(name, sizeof(name), "%s/%s", dir, o->name);
		snprintf(label, sizeof(label), "base backup %s: object %s", b->id, o->name);
		rc = stream_read(ctx, name, label, &x, NULL, NULL, 0, &res);
		if (rc == PGP_EXIT_FAILED || rc == PGP_EXIT_UNREACHABLE)
			return rc;
		found |= rc != PGP_EXIT_OK;
	}
	return found ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}

/* The WAL from the backup's start on: every segment there (and read, when we can). */
static int
check_chain(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, int read_content)
{
	struct wal_chain chain;
	int rc;

	memset(&chain, 0, sizeof(chain));
	rc = wal_check_chain(ctx, c, b->m.tli, b->m.start_lsn, read_content, &chain);
	if (rc == PGP_EXIT_OK && chain.end_lsn < b->m.end_lsn) {
		pgp_error("base backup %s: the archived WAL ends (%s) before the backup's end segment %s", b->id,
			  *chain.last ? chain.last : "nothing archived", b->m.end_wal);
		return PGP_EXIT_FOUND;
	}
	if (rc == PGP_EXIT_OK)
		pgp_info("base backup %s: WAL %s..%s, %lu files%s", b->id, chain.first, chain.last, chain.files,
			 read_content ? " read" : "");
	return rc;
}

/* A restore into a scratch directory that reaches consistency. */
static int
restore_test(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b)
{
	char dir[4096];
	int rc;

	snprintf(dir, sizeof(dir), "%s/pgp-restore-test-%s-%ld", ctx->tmp_dir, b->id, (long) getpid());
	rc = phys_restore_into(ctx, c, b, dir, 1);
	if (rc == PGP_EXIT_OK)
		pgp_info("base backup %s: the restore test reached consistency", b->id);
	return rc;
}

int
physical_verify(struct backup_ctx *ctx, const char *id)
{
	struct cluster c;
	struct phys_info *list;
	size_t n, k;
	char lockname[CLUSTER_NAME_MAX + 16];
	int lock, rc = cluster_find(ctx, &c), worst = PGP_EXIT_OK, readable;

	if (rc != PGP_EXIT_OK)
		return rc;
	phys_lock_name(&c, lockname, sizeof(lockname));
	if ((rc = lock_take(ctx, lockname, "read", 1, &lock)) != PGP_EXIT_OK)
		return rc;
	if (phys_load(ctx, &c, &list, &n) < 0) {
		close(lock);
		return phys_repo_status(ctx);
	}
	if ((rc = phys_find(list, n, id, &k)) != PGP_EXIT_OK)
		goto out;
	readable = !list[k].m.encrypted || ctx->identity_file;
	/* Reading the content checks the stored bytes on the way: one read of each object. */
	if (readable)
		rc = phys_verify_content(ctx, &c, &list[k]);
	else {
		pgp_info("base backup %s is encrypted: the files inside are checked with --identity", list[k].id);
		rc = check_stored(ctx, &c, &list[k]);
	}
	worst = rc;
	if (rc == PGP_EXIT_FAILED || rc == PGP_EXIT_UNREACHABLE || rc == PGP_EXIT_USAGE)
		goto out;
	rc = check_chain(ctx, &c, &list[k], readable);
	worst = rc > worst ? rc : worst;
	if (worst == PGP_EXIT_OK && ctx->restore_test)
		worst = restore_test(ctx, &c, &list[k]);
	rc = worst;
	if (rc == PGP_EXIT_OK)
		printf("base backup %s: ok%s\n", list[k].id,
		       readable ? "" : " (stored objects and WAL names only: encrypted, give --identity to check the files)");
out:
	free(list);
	close(lock);
	return rc;
}
