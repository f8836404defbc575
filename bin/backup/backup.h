/*
 * pgp-backup's shared pieces.  A repository is a local directory or an
 * S3 prefix, used through one small interface (repo.c); the jobs are in
 * dump.c (backup), catalog.c (list, prune, state), restore.c (verify,
 * restore).  Layout: <repo>/<database>/<id>/{dump.pgdump.zst,
 * globals.sql.zst, manifest.json} (.gz for gzip, no suffix for none;
 * encrypted: dump.pgdump.zst.age, globals.sql.zst.age and contents.json.age;
 * the name table is manifest.c's); a backup without manifest.json does not
 * exist.
 */
#ifndef PGP_BACKUP_H
#define PGP_BACKUP_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#include "age.h"
#include "cluster.h"
#include "conf.h"
#include "compress.h"
#include "conn.h"
#include "opt.h"
#include "manifest.h"

#define MANIFEST "manifest.json"

struct repo;
struct repo_writer;

struct repo_entry {
	char *name;			/* relative to the repository root */
	unsigned long long size;
	int is_dir;			/* a local directory or special file: not an object */
};

/* repo.c */
/* timeout_key: the key of the run's S3 deadline ("backup.s3_timeout";
 * "backup.wal_timeout" for wal-push and wal-fetch, which the server waits on). */
struct repo *repo_open(const char *url, const struct pgp_conf *conf, const char *endpoint,
		       const char *region, const char *timeout_key);
void repo_close(struct repo *r);
const char *repo_url(const struct repo *r);
/* Cleanup after a failure: S3 requests get a few seconds past the run's deadline. */
void repo_cleanup(struct repo *r, int on);
/* Did the last failed request find the endpoint not answering (exit 3)? */
int repo_unreachable(const struct repo *r);
/* Write and delete object name, to know before a long dump that the
 * repository takes writes.  0, or -1 (logged). */
int repo_probe(struct repo *r, const char *name);
struct repo_writer *repo_create(struct repo *r, const char *name);
int repo_write(struct repo_writer *w, const void *data, size_t len);
int repo_commit(struct repo_writer *w);		/* frees w */
void repo_abort(struct repo_writer *w);		/* frees w */
/* Stream an object to sink; 0, 1 when absent, -1 on error. */
int repo_read(struct repo *r, const char *name, int (*sink)(void *, const void *, size_t), void *arg);
int repo_read_all(struct repo *r, const char *name, char **data, size_t *len);
int repo_put(struct repo *r, const char *name, const void *data, size_t len);
int repo_list(struct repo *r, const char *prefix, struct repo_entry **entries, size_t *count);
/*
 * The objects directly in dir whose last part starts with name_prefix
 * (one WAL file's copies, not the whole timeline): S3 lists by key
 * prefix, a local repository reads one directory.  0, or -1 (logged).
 */
int repo_find(struct repo *r, const char *dir, const char *name_prefix, struct repo_entry **entries, size_t *count);
void repo_entries_free(struct repo_entry *e, size_t count);
int repo_delete(struct repo *r, const char *name);

/* One backup id found in the repository, and what its manifest says. */
enum backup_state {
	BACKUP_OK,			/* a manifest that passed every check */
	BACKUP_FAILED,			/* a manifest saying status "failed" */
	BACKUP_UNREADABLE		/* a manifest that cannot be read or trusted */
};
struct backup_info {
	char id[32];
	char database[128];
	time_t time;
	enum backup_state state;
	char why[256];			/* BACKUP_UNREADABLE: the reason */
	struct manifest m;		/* filled unless BACKUP_UNREADABLE */
};

/* Options and state shared by the jobs. */
struct backup_ctx {
	const struct pgp_common *common;
	const struct pgp_conf *conf;
	struct repo *repo;
	const char *database;		/* --database or from the connection */
	const char *role;		/* pg_dump --role */
	const char *state_dir;
	const char *pg_bindir;
	enum compression compression;	/* backup: how the objects are stored */
	int compress_level;
	/* backup: encrypt to these public keys (none: stored in the clear) */
	struct pgp_age_recipient *recipients;
	size_t nrecipients;
	/* reading an encrypted backup: the identity file, loaded on first use */
	const char *identity_file;
	struct pgp_age_identity *identities;
	size_t nidentities;
	int dry_run, clean, jobs, no_owner, restore_test, prune_after;
	int in_place, keep_old, terminate;	/* restore */
	long long keep_last, keep_daily, keep_weekly, keep_monthly, max_age_days;
	struct pgp_connspec spec;
	int have_spec;
	const char *tmp_dir;
	int state_failed;		/* a good backup whose state file could not be written */
	/* Physical backups and the WAL archive (cluster.h, wal.c, physical.c). */
	const char *config_path;	/* -c, for the restore_command a restore writes */
	const char *cluster_name;	/* --cluster, backup.cluster; NULL: the system identifier */
	const char *spool_dir;		/* backup.spool_dir: async wal-push and wal-fetch prefetch */
	int wal_push_parallel;		/* backup.wal_push_parallel */
	int wal_fetch_prefetch;		/* backup.wal_fetch_prefetch */
	int physical;			/* --physical: backup, list, verify, restore, prune */
	const char *data_dir;		/* restore --physical --data-dir */
	const char *target_kind;	/* restore --physical: "time", "lsn", "xid", "immediate", "latest" */
	const char *target_value;	/* its value (time, lsn, xid), or NULL */
	int start_server;		/* restore --physical --start: start it, wait for the end of recovery */
	int standby;			/* restore --physical --standby */
	int no_archive;			/* restore --physical --no-archive: archive_mode = off in the copy */
	const char *primary_conninfo;	/* --primary CONNINFO (with --standby) */
	const char *tablespace_maps[64];	/* --tablespace-map OID=DIR, NULL-terminated */
};

/* dump.c */
int backup_run(struct backup_ctx *ctx);

/* catalog.c */
/* Every backup id of database (NULL: all) with its manifest state, newest first. */
int catalog_load(struct backup_ctx *ctx, const char *database, struct backup_info **list, size_t *n);
void catalog_free(struct backup_info *list, size_t n);
/*
 * Find ID or "latest" (the newest id, whatever its state) and set *index:
 * PGP_EXIT_OK, or (logged) PGP_EXIT_USAGE when there is no such backup,
 * PGP_EXIT_FOUND when its manifest is unreadable or failed.
 */
int catalog_find(const struct backup_info *list, size_t n, const char *id, size_t *index);
int catalog_print(struct backup_ctx *ctx);
int catalog_prune(struct backup_ctx *ctx, const char *database);
int state_write(struct backup_ctx *ctx, const char *database, const char *result,
		const char *id, const char *error);
/* Lock file path for database in this repository; kind "backup" or "read". */
void lock_path(const struct backup_ctx *ctx, const char *database, const char *kind, char *buf, size_t size);
/* Take a lock into *fd: PGP_EXIT_OK, or (logged) PGP_EXIT_BUSY or PGP_EXIT_FAILED. */
int lock_take(const struct backup_ctx *ctx, const char *database, const char *kind, int shared, int *fd);
/* The prune job: retention for ctx->database under the backup lock; an exit status. */
int prune_run(struct backup_ctx *ctx);
/* Read a listed manifest object, refusing a directory or an oversized one:
 * 0, or -1 with the reason in why (for "unreadable"). */
int manifest_fetch(struct backup_ctx *ctx, const struct repo_entry *e, char **data, size_t *len, char *why,
		   size_t whysize);
/*
 * Retention's rules (catalog.c, for logical and base backups alike): over n
 * backups newest first, read in place from an array of structs stride bytes
 * apart (&list[0].time, &list[0].state, sizeof(list[0])), into keep[].
 */
void retention_mark(const struct backup_ctx *ctx, const time_t *time0, const enum backup_state *state0, size_t stride,
		    size_t n, int *keep);

/* restore.c */
int verify_backup(struct backup_ctx *ctx, const char *id);
int restore_backup(struct backup_ctx *ctx, const char *id, const char *target_db);

/* wal.c: the WAL archive (cluster.h for the layout) */
/* archive_command: store the file at path (relative to the data directory,
 * the archiver's %p) durably, or fail.  An exit status. */
int wal_push(struct backup_ctx *ctx, const char *path);
/* restore_command: walfile (%f) into dest (%p).  0; 1 when the archive
 * does not have it (the end of the archive); an exit status above 125
 * when recovery must stop rather than end early (a corrupt file, a gap:
 * later files exist, the repository unreachable). */
int wal_fetch(struct backup_ctx *ctx, const char *walfile, const char *dest);
/* What the archive holds of one line of WAL. */
struct wal_chain {
	char first[64], last[64];	/* first and newest WAL file checked */
	uint32_t last_tli;		/* timeline of the newest */
	uint64_t end_lsn;		/* the end of the newest segment: recoverable up to */
	unsigned long files;		/* files checked */
	unsigned long problems;		/* gaps and corrupt files, each named (logged) */
};
/*
 * The archived WAL of c from start_lsn on timeline tli to the newest file,
 * following the timeline switches of the .history files: every segment
 * there (a gap named), and with read_content each one read, decrypted,
 * decompressed, its SHA-256 and page headers checked.  PGP_EXIT_OK,
 * PGP_EXIT_FOUND (problems named), or another exit status.
 */
int wal_check_chain(struct backup_ctx *ctx, const struct cluster *c, uint32_t tli, uint64_t start_lsn,
		    int read_content, struct wal_chain *out);
/* Retention: delete the WAL of c that precedes (tli, keep_lsn), the start
 * of the oldest base backup kept; never a newer file.  An exit status. */
int wal_prune(struct backup_ctx *ctx, const struct cluster *c, uint32_t tli, uint64_t keep_lsn);

/* physical.c: base backups (BASE_BACKUP, basebackup.h) and restoring them */
int physical_backup(struct backup_ctx *ctx);
int physical_list(struct backup_ctx *ctx);
int physical_verify(struct backup_ctx *ctx, const char *id);
int physical_restore(struct backup_ctx *ctx, const char *id);
/* Retention of base backups, and of the WAL only they need. */
int physical_prune(struct backup_ctx *ctx);

/* keys.c */
/*
 * The public keys of list (each "age1..." or a recipients file) into a
 * malloc'd *keys, duplicates dropped: 0, or -1 (logged, naming FILE:LINE).
 */
int keys_recipients(const char *const *list, struct pgp_age_recipient **keys, size_t *n);
/* A manifest's "encryption": null, or the format and ctx's public keys. */
struct json_object *keys_encryption_json(const struct backup_ctx *ctx);
/* ctx's identity file, loaded once (refused when others may read it): 0, or -1 (logged). */
int keys_identities(struct backup_ctx *ctx);
/* Write a new identity file (0600, never over one) and print its public key: an exit status. */
int keys_keygen(const struct pgp_common *common, const char *path);

/* Helpers shared by the modules (dump.c). */
/* Where PostgreSQL's program name is (common/pgbin.c's order), or NULL (logged). */
const char *pg_tool(const struct backup_ctx *ctx, const char *name, int server_version);

#endif
