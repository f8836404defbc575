/*
 * WAL positions and WAL file names, as PostgreSQL spells them
 * (src/include/access/xlog_internal.h): an LSN "X/Y" (two hex halves of
 * a 64-bit byte position), a segment file TTTTTTTTXXXXXXXXYYYYYYYY
 * (timeline, then the segment number split at each 4 GB "xlogid"), the
 * .partial, .history and .backup files the archiver also hands over, and
 * a timeline's .history file.  Pure functions: nothing logs, nothing
 * allocates except walname_history_parse.
 */
#ifndef PGP_BACKUP_WALNAME_H
#define PGP_BACKUP_WALNAME_H

#include <stddef.h>
#include <stdint.h>

/* "FFFFFFFF/FFFFFFFF" and a NUL. */
#define WALNAME_LSN_SIZE 18
/* A segment file name (24 hex digits) and a NUL. */
#define WALNAME_SEGMENT_SIZE 25
/* wal_segment_size's bounds (initdb --wal-segsize): powers of 2. */
#define WALNAME_SEGSIZE_MIN (1024ULL * 1024)
#define WALNAME_SEGSIZE_MAX (1024ULL * 1024 * 1024)

/* "X/Y", each half 1 to 8 hex digits, nothing else: 0, or -1. */
int walname_lsn_parse(const char *s, uint64_t *lsn);
/* Into buf[WALNAME_LSN_SIZE], as the server prints it ("%X/%X"). */
void walname_lsn_format(uint64_t lsn, char *buf);

/* Is segsize a power of 2 in 1 MB..1 GB? */
int walname_segsize_valid(uint64_t segsize);
/* The segment holding lsn, and the first LSN of a segment. */
uint64_t walname_segno(uint64_t lsn, uint64_t segsize);
uint64_t walname_segno_start(uint64_t segno, uint64_t segsize);
/* Segment file name of (tli, segno) into buf[WALNAME_SEGMENT_SIZE]. */
void walname_segment_format(uint32_t tli, uint64_t segno, uint64_t segsize, char *buf);
/* The name of the segment after name (across the xlogid boundary): 0, or -1
 * when name is not a segment name for segsize. */
int walname_segment_next(const char *name, uint64_t segsize, char *buf);
/*
 * A segment name (24 upper-case hex digits, as the server writes them)
 * into its timeline and segment number: 0, or -1 when it is not one, its
 * timeline is 0, or its low part does not exist with segsize.
 */
int walname_segment_parse(const char *name, uint64_t segsize, uint32_t *tli, uint64_t *segno);

enum walname_kind {
	WALNAME_INVALID,
	WALNAME_SEGMENT,	/* 000000010000000000000003 */
	WALNAME_PARTIAL,	/* 000000010000000000000003.partial */
	WALNAME_HISTORY,	/* 00000002.history */
	WALNAME_BACKUP		/* 000000010000000000000003.00000028.backup */
};
/* What an archived file's name is, by its shape alone (any segment size;
 * upper-case hex only, as the server's IsXLogFileName and friends). */
enum walname_kind walname_classify(const char *name);
/* The timeline in any valid name's first 8 digits: 0, or -1 when invalid. */
int walname_timeline(const char *name, uint32_t *tli);

/* One line of a timeline history file: tli ended at switchpoint. */
struct walname_history_entry {
	uint32_t tli;
	uint64_t switchpoint;
};
/*
 * A TTTTTTTT.history file's text (len bytes, no NUL needed): lines
 * "tli<TAB>X/Y<TAB>reason", blank lines and "#" comments skipped, as the
 * server's readTimeLineHistory reads them; timelines must increase (switch
 * points need not: see walname.c).  *out is malloc'd (NULL when there are no entries).
 * 0, or -1 with "line N: reason" in err.
 */
int walname_history_parse(const char *text, size_t len, struct walname_history_entry **out,
			  size_t *n, char *err, size_t errsize);

#endif
