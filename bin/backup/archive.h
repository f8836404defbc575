/*
 * Row counts, and the database-level entries, read from a pg_dump
 * custom-format archive as it streams.
 */
#ifndef PGP_ARCHIVE_H
#define PGP_ARCHIVE_H

#include <json-c/json.h>
#include <stddef.h>

struct archive_scan;

/* Table data chunks are merged up to this size when rewriting. */
#define ARCHIVE_CHUNK 65536

struct archive_scan *archive_scan_new(void);
void archive_scan_free(struct archive_scan *s);

/* Where a rewriting scan passes the archive on: 0, or -1 (logged by it). */
typedef int (*archive_out_fn)(void *arg, const void *data, size_t len);
/*
 * Pass the archive on to out as it is fed, each table's data in chunks of
 * up to ARCHIVE_CHUNK bytes instead of pg_dump's one a row; the same
 * archive to pg_restore (archive.c says why).  Call before the first feed.
 */
void archive_scan_rewrite(struct archive_scan *s, archive_out_fn out, void *arg);
/*
 * Feed the archive's bytes in order.  0, or -1 once out failed; an archive
 * it cannot read is archive_scan_failed() (no log), and passes on as it is.
 */
int archive_scan_feed(struct archive_scan *s, const void *data, size_t len);
/*
 * The end of the archive: pass on what is held back (only a cut archive
 * ends mid-table) and stop rewriting.  0, or -1 when out failed.
 */
int archive_scan_end(struct archive_scan *s);
/* Did reading fail, or stop before the data section completed? */
int archive_scan_failed(const struct archive_scan *s);
/* [{schema, table, rows}] of every TABLE DATA entry. */
struct json_object *archive_scan_tables(const struct archive_scan *s);

/*
 * The DATABASE entry: the archived database's name (its tag) and owner;
 * NULL when the archive has none.  Valid until archive_scan_free.
 */
const char *archive_scan_database(const struct archive_scan *s, const char **owner);
/*
 * The SQL of the database-level entries pg_restore skips without
 * --create (DATABASE PROPERTIES, ACL and COMMENT on the DATABASE), in
 * archive order, malloc'd ("" when none); NULL when out of memory.
 */
char *archive_scan_database_sql(const struct archive_scan *s);

#endif
