/*
 * Base backups, between physical.c (taking one), physrestore.c
 * (restoring, verifying) and physmanifest.c (their manifest.json and
 * the list of them).  Local to these files.
 *
 * A base backup is clusters/NAME/base/ID/ holding base.tar, OID.tar per
 * tablespace and PostgreSQL's backup_manifest, each compressed and (with
 * recipients) encrypted, and manifest.json, written last: until it
 * exists the backup does not.
 */
#ifndef PGP_BACKUP_PHYSICAL_H
#define PGP_BACKUP_PHYSICAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backup.h"
#include "cluster.h"
#include "compress.h"

#define PHYS_FORMAT "pgp-backup-physical/1"
#define PHYS_MAX_OBJECTS 66		/* base.tar, backup_manifest, 64 tablespaces */
#define PHYS_MAX_TABLESPACES 64

struct phys_object {
	char name[96];			/* "base.tar.zst.age" */
	unsigned long long size, raw_size;
	char sha256[65];		/* of the stored bytes */
};

struct phys_tablespace {
	unsigned oid;
	char location[1024];
};

struct phys_manifest {
	char id[32], cluster[CLUSTER_NAME_MAX], sysid[32], server_version[64];
	time_t start_time, end_time;
	uint64_t start_lsn, end_lsn, segsize;
	uint32_t tli, end_tli;
	char start_wal[32], end_wal[32];
	struct phys_tablespace tablespaces[PHYS_MAX_TABLESPACES];
	size_t ntablespaces;
	enum compression compression;
	int level;
	int encrypted;
	struct phys_object objects[PHYS_MAX_OBJECTS];
	size_t nobjects;
	int ok;				/* status "ok" (else "failed") */
};

struct phys_info {
	char id[32];
	time_t time;
	enum backup_state state;
	char why[256];			/* BACKUP_UNREADABLE: the reason */
	struct phys_manifest m;		/* filled unless BACKUP_UNREADABLE */
};

/* physmanifest.c */
/* manifest.json's text (malloc'd, NULL when out of memory). */
char *phys_manifest_text(const struct backup_ctx *ctx, const struct phys_manifest *m);
/* Read a manifest as strictly as manifest.c: 0, or -1 with the reason in why. */
int phys_manifest_parse(const char *text, size_t len, const char *id, struct phys_manifest *m, char *why,
			size_t whysize);
/* The stored object for a name without its suffixes ("base.tar"), or NULL. */
const struct phys_object *phys_object_find(const struct phys_manifest *m, const char *base);
/* Every base backup of c, newest first.  0, or -1 (logged). */
int phys_load(struct backup_ctx *ctx, const struct cluster *c, struct phys_info **list, size_t *n);
/* ID or "latest" (the newest good one): PGP_EXIT_OK, or logged USAGE / FOUND. */
int phys_find(const struct phys_info *list, size_t n, const char *id, size_t *index);
/* "YYYY-MM-DDTHH:MM:SSZ" */
void phys_rfc3339(time_t t, char *buf, size_t size);
/* The exit status for a failed repository call. */
int phys_repo_status(struct backup_ctx *ctx);

/* physcatalog.c */
/* Retention of c's base backups and WAL; the caller holds the backup lock. */
int physical_prune_locked(struct backup_ctx *ctx, const struct cluster *c);
/* "cluster-NAME": the name locks of a cluster go by. */
void phys_lock_name(const struct cluster *c, char *buf, size_t size);

/* Where the restored server listens: -d's host (a socket directory) and port, when given. */
struct phys_listen {
	char host[PATH_MAX], port[16], user[64];
};

/* physrecovery.c */
/* Where tablespace t goes: --tablespace-map OID=DIR, a test's scratch place, or its own location. */
const char *phys_tablespace_dir(const struct backup_ctx *ctx, const struct phys_tablespace *t, const char *dir,
				int test, char *buf, size_t size);
void phys_listen_from_spec(const struct backup_ctx *ctx, struct phys_listen *l);
/* postgresql.auto.conf's recovery settings and the signal file: 0, or -1 (logged). */
int phys_write_recovery(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, const char *dir,
			int test, const struct phys_listen *l);
int phys_write_tablespace_map(const struct backup_ctx *ctx, const struct phys_info *b, const char *dir, int test);

/* physserver.c */
/* Start the restored server in dir, wait for the end of recovery, report it (test: stop it again). */
int phys_start_server(struct backup_ctx *ctx, const struct phys_info *b, const char *dir, int test,
		      const struct phys_listen *l);

/* physrestore.c */
/*
 * Restore backup b of c into dir (which must be empty or absent) with
 * recovery settings; the caller holds the read lock.  restore_test:
 * recovery target immediate, tablespaces under dir.  An exit status.
 */
int phys_restore_into(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b,
		      const char *dir, int restore_test);
/* Every stored tar of b through the verifier: PGP_EXIT_OK, FOUND, or another status. */
int phys_verify_content(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b);

#endif
