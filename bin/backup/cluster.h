/*
 * Physical backups and the WAL archive belong to a cluster (one data
 * directory, one system identifier); logical backups belong to a
 * database.  In the repository:
 *
 *   clusters/NAME/cluster.json
 *       {"format": "pgp-backup-cluster/1", "name", "system_identifier"
 *       (decimal string), "wal_segment_size", "created"}: written by the
 *       first push or base backup, checked by every later one, so two
 *       clusters can never mix their WAL under one name
 *   clusters/NAME/wal/TTTTTTTT/FILE-SHA256[.zst|.gz][.age]
 *       every file the archiver hands over (segments, .partial, .backup;
 *       TTTTTTTT is the file's timeline), named by the SHA-256 of its raw
 *       content: a second push of the same content finds it; other
 *       content under the same FILE is refused, never written over
 *   clusters/NAME/wal/history/TTTTTTTT.history-SHA256[...]
 *   clusters/NAME/base/ID/{manifest.json, base.tar.zst, OID.tar.zst,
 *       backup_manifest.zst} (.age when encrypted)
 *
 * NAME is backup.cluster (--cluster), else the system identifier.
 * The state file STATE_DIR/cluster-NAME.json (for pgp-alert) is updated
 * under a lock, by parallel wal-push processes too.
 */
#ifndef PGP_BACKUP_CLUSTER_H
#define PGP_BACKUP_CLUSTER_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "compress.h"

struct backup_ctx;

#define CLUSTER_FORMAT "pgp-backup-cluster/1"
#define CLUSTER_NAME_MAX 64

struct cluster {
	char name[CLUSTER_NAME_MAX];
	char sysid[32];			/* decimal, as pg_controldata prints it */
	uint64_t segsize;		/* wal_segment_size in bytes; 0: not known yet */
	char prefix[96];		/* "clusters/NAME" */
};

/* Is s a name pgp takes for a cluster ([A-Za-z0-9_.-], 1..63, not like a backup id)? */
int cluster_name_valid(const char *s);

/*
 * The system identifier of a data directory (a restored one too), read
 * from the start of its global/pg_control: 0, or -1 (logged).
 */
int cluster_read_control(const char *datadir, char *sysid, size_t size);

/*
 * c for a cluster whose system identifier (and segment size, 0 if not
 * known) the caller read: the name from ctx->cluster_name, else sysid.
 * Then cluster_check reads cluster.json: absent, it is written when
 * create is set (else PGP_EXIT_USAGE: no such cluster); present, its
 * system identifier and segment size must be c's (PGP_EXIT_USAGE naming
 * both), and c->segsize is filled from it when 0.  Exit statuses, logged.
 */
int cluster_init(struct backup_ctx *ctx, const char *sysid, uint64_t segsize, struct cluster *c);
int cluster_check(struct backup_ctx *ctx, struct cluster *c, int create);

/*
 * A cluster known only by name (restore, verify, list): ctx->cluster_name,
 * else the repository's only cluster (more than one: PGP_EXIT_USAGE
 * listing them).  cluster.json read into c.  An exit status, logged.
 */
int cluster_find(struct backup_ctx *ctx, struct cluster *c);

/* Names in the repository (object names, relative to its root). */
/* "clusters/NAME/wal/TTTTTTTT/FILE-" (history: "clusters/NAME/wal/history/FILE-"):
 * every stored copy of walfile starts with it. */
void cluster_wal_prefix(const struct cluster *c, const char *walfile, char *buf, size_t size);
/* The object name for walfile with that raw SHA-256 (hex), as ctx stores now. */
void cluster_wal_name(const struct backup_ctx *ctx, const struct cluster *c, const char *walfile,
		      const char *raw_sha256, char *buf, size_t size);
/*
 * An object name's last part ("FILE-SHA256.zst.age") into its WAL file
 * name (buf[64]), raw SHA-256 (sha[65]), compression and encryption:
 * 0, or -1 when it is not one pgp writes.
 */
int cluster_wal_parse(const char *base, char *walfile, char *sha, enum compression *c, int *encrypted);
/* "clusters/NAME/base" and "clusters/NAME/base/ID". */
void cluster_base_prefix(const struct cluster *c, const char *id, char *buf, size_t size);

/*
 * Update the cluster's state file under its lock (parallel wal-push
 * processes share it): update gets the current document (an empty object
 * when there is none) to change in place.  0, or -1 (logged).
 */
int cluster_state_update(struct backup_ctx *ctx, const struct cluster *c,
			 void (*update)(struct json_object *state, void *arg), void *arg);
/* The state file's path. */
void cluster_state_path(const struct backup_ctx *ctx, const struct cluster *c, char *buf, size_t size);

#endif
