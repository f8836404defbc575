/*
 * A streaming reader of tar archives: PostgreSQL's BASE_BACKUP archives
 * (ustar, src/port/tar.c), and what GNU tar writes (pax 'x'/'g' headers,
 * GNU 'L'/'K' long names, base-256 numbers).  It is fed bytes in pieces
 * of any size and calls back on each entry, on each piece of its data
 * and at its end; it holds one header block and at most one long name,
 * never an entry's data.
 *
 * It is strict, since a restore unpacks with it: header checksums, octal
 * fields, sizes, the two zero blocks that end an archive (and nothing
 * but zero padding after them) are checked; entry types other than file,
 * directory and symlink are refused; names are normalized ("./a//b" is
 * "a/b") and refused when absolute, with a ".." component, or under an
 * earlier symlink entry of the same archive (which would write through
 * it).  A symlink's target is not checked: PostgreSQL's pg_tblspc/N links
 * are absolute, and an unpacker must create links without following them.
 *
 * Nothing logs.  A failing function returns -1 and tarstream_error()
 * says why, naming the entry and its header's byte offset; it is NULL
 * when a callback failed (the callback said why).
 */
#ifndef PGP_BACKUP_TARSTREAM_H
#define PGP_BACKUP_TARSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum tar_type { TAR_FILE, TAR_DIR, TAR_SYMLINK };

struct tar_entry {
	const char *name;	/* normalized, relative, no trailing '/' */
	enum tar_type type;
	unsigned mode;		/* permission bits (07777) */
	uint64_t size;		/* data bytes; 0 for directories and symlinks */
	time_t mtime;
	const char *linkname;	/* TAR_SYMLINK: the target as stored; else "" */
	uint64_t offset;	/* byte offset of the entry's (first) header */
};

/* Each returns 0, or -1 to stop the stream. NULL callbacks are skipped. */
struct tar_callbacks {
	int (*entry)(void *arg, const struct tar_entry *e);
	int (*data)(void *arg, const void *buf, size_t len);
	int (*entry_end)(void *arg, const struct tar_entry *e);
};

struct tarstream;

/* NULL when out of memory.  The callbacks struct is copied. */
struct tarstream *tarstream_new(const struct tar_callbacks *cb, void *arg);
/* Feed the next bytes: 0, or -1 (the stream is dead after that). */
int tarstream_feed(struct tarstream *t, const void *data, size_t len);
/* After the last byte: -1 unless the archive ended properly. */
int tarstream_finish(struct tarstream *t);
/* Why the last call failed, or NULL when a callback stopped it. */
const char *tarstream_error(const struct tarstream *t);
/* Bytes consumed so far. */
uint64_t tarstream_offset(const struct tarstream *t);
void tarstream_free(struct tarstream *t);

#endif
