/*
 * A client for BASE_BACKUP on a physical replication connection
 * (replication=true, a role with REPLICATION): it runs the command and
 * hands the caller each archive (base.tar, then <oid>.tar per
 * tablespace) and then backup_manifest, in pieces as they arrive; it
 * never stores anything.  WAL is not included (WAL false): the backup's
 * WAL comes from the archive, so the start and end LSN and timeline are
 * given to the caller for its own manifest.
 *
 * PostgreSQL 15+ sends everything as one COPY stream of typed messages
 * (src/backend/backup/basebackup_copy.c); 13 and 14 send one COPY per
 * tablespace and one for the manifest, with unterminated tars, which is
 * implemented too but untested here (only 15 is installed).  Older
 * servers have no backup_manifest and are refused.
 *
 * Timeouts: the caller should open the connection with keepalives and
 * tcp_user_timeout (a dead peer), and options.idle_timeout bounds how
 * long the server may send nothing during the stream (the checkpoint
 * before the first result has its own start_timeout, since a 'spread'
 * checkpoint takes up to checkpoint_timeout * completion_target).
 *
 * Errors are logged (pgp_error, naming the server as host:port, never
 * the connection string).  A failing callback stops the backup without a
 * message of ours; after any failure the connection is in an unknown
 * state and must be closed, which makes the server abort the backup.
 */
#ifndef PGP_BACKUP_BASEBACKUP_H
#define PGP_BACKUP_BASEBACKUP_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct basebackup_options {
	const char *label;		/* required; the backup_label's LABEL */
	int fast_checkpoint;		/* CHECKPOINT 'fast', else 'spread' */
	int tablespace_map;		/* TABLESPACE_MAP: base.tar gets a tablespace_map
					 * file instead of pg_tblspc/<oid> symlinks */
	int no_verify_checksums;	/* VERIFY_CHECKSUMS false */
	const char *manifest_checksums;	/* NULL: "CRC32C" */
	int manifest_force_encode;	/* MANIFEST 'force-encode': every path as Encoded-Path */
	long long max_rate_kb;		/* MAX_RATE (32..1048576 kB/s); 0: unlimited */
	int start_timeout;		/* seconds for the checkpoint; 0: none */
	int idle_timeout;		/* seconds without a message; 0: none */
};

struct basebackup_tablespace {
	unsigned oid;			/* 0 for the data directory */
	char *location;			/* NULL for the data directory */
	long long size_kb;		/* -1 when the server did not estimate it */
};

struct basebackup_info {
	int server_version;		/* PQserverVersion */
	char system_identifier[32];	/* IDENTIFY_SYSTEM's */
	uint64_t wal_segment_size;	/* SHOW wal_segment_size, in bytes */
	uint64_t start_lsn, end_lsn;
	uint32_t start_tli, end_tli;
	struct basebackup_tablespace *tablespaces;	/* the server's order */
	size_t ntablespaces;
};

/* Each returns 0, or -1 to stop (having said why).  NULL ones are skipped. */
struct basebackup_callbacks {
	/* The start LSN, timeline and tablespaces are known. */
	int (*on_begin)(void *arg, const struct basebackup_info *info);
	/* A new archive: name ("base.tar", "16385.tar"), oid and location
	 * (0 and NULL for the data directory). */
	int (*on_archive)(void *arg, const char *name, unsigned spc_oid, const char *spc_location);
	/* Bytes of the current archive, or of the manifest after on_manifest_begin. */
	int (*on_data)(void *arg, const void *buf, size_t len);
	int (*on_manifest_begin)(void *arg);
	/* The server's count of bytes sent (15+, with PROGRESS or at archive ends). */
	int (*on_progress)(void *arg, uint64_t bytes_done);
	/* The backup ended well: end LSN and timeline are set. */
	int (*on_end)(void *arg, const struct basebackup_info *info);
};

/*
 * Take a base backup over conn (replication=true).  info is filled (free
 * it with basebackup_info_free, after success or failure).  0, or -1.
 */
int basebackup_run(PGconn *conn, const struct basebackup_options *o,
		   const struct basebackup_callbacks *cb, void *arg, struct basebackup_info *info);
void basebackup_info_free(struct basebackup_info *info);

/* The BASE_BACKUP command basebackup_run sends for a server version,
 * into buf: 0, or -1 when the label cannot be used (for the tests). */
int basebackup_command(const struct basebackup_options *o, int server_version, char *buf,
		       size_t size);

#endif
