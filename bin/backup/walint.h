/*
 * Pieces shared by the WAL archive's modules (wal.c: the chain check and
 * retention; walpush.c: archive_command; walfetch.c: restore_command).
 * Not for other modules: backup.h holds the archive's API.
 */
#ifndef PGP_BACKUP_WALINT_H
#define PGP_BACKUP_WALINT_H

#include <stddef.h>
#include <stdint.h>

#include "backup.h"
#include "compress.h"

/* XLogLongPageHeaderData (access/xlog_internal.h): the first 40 bytes of a segment. */
#define WAL_LONG_HEADER_SIZE 40

/*
 * The first page of WAL file walfile (a segment or a .partial) against
 * what its name says: the long header, the timeline, the page address
 * of the segment's start, sysid (NULL: not checked) and segsize (0: taken
 * from the header into *segsize_out when given).  0, or -1 with why.
 */
int wal_header_check(const unsigned char *page, size_t len, const char *walfile, const char *sysid,
		     uint64_t segsize, uint64_t *segsize_out, char *why, size_t whysize);

/* SHA-256 of data as 64 hex digits and a NUL. */
void wal_sha256_hex(const void *data, size_t len, char *out);

/* mkdir -p, mode 0750: 0, or -1 (logged). */
int wal_mkdirs(const char *path);

/*
 * An exclusive flock on path, created if need be; wait_ms 0: do not
 * wait.  The lock is checked to be on the file the path names now, so
 * that a holder may unlink it on release (wal_unlock).  0 (taken, *fd),
 * 1 when another process holds it, -1 (logged).
 */
int wal_lock(const char *path, int wait_ms, int *fd);
void wal_unlock(const char *path, int fd);

/* SPOOL/NAME[/sub] of cluster c. */
void wal_spool(const struct backup_ctx *ctx, const struct cluster *c, const char *sub, char *buf, size_t size);

/*
 * A detached background process: returns 1 in it (its own session,
 * stdin and stdout on /dev/null, stderr appended to logfile), 0 in the
 * caller once the intermediate child is reaped, -1 when fork failed
 * (logged at debug: the caller goes on without it).
 */
int wal_detach(const char *logfile);

/* The data directory of a WAL file's path: the parent of the directory holding it. */
int wal_datadir_of(const char *path, char *buf, size_t size);

/* One stored copy of a WAL file. */
struct wal_copy {
	char name[512];			/* the object's name in the repository */
	char sha[65];			/* raw SHA-256, from the name */
	enum compression compression;
	int encrypted;
};

/*
 * The stored copies of walfile (repo_find on its prefix), at most max.
 * 0, or an exit status (logged; PGP_EXIT_UNREACHABLE when the
 * repository did not answer).
 */
int wal_copies(struct backup_ctx *ctx, const struct cluster *c, const char *walfile, struct wal_copy *out,
	       size_t max, size_t *n);

/* The repository's error as an exit status. */
int wal_repo_status(const struct backup_ctx *ctx);

#endif
