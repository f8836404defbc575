/*
 * Row counts, and the database-level entries, read from a pg_dump
 * custom-format archive as it streams.
 */
#ifndef PGP_ARCHIVE_H
#define PGP_ARCHIVE_H

#include <json-c/json.h>
#include <stddef.h>

struct archive_scan;

struct archive_scan *archive_scan_new(void);
void archive_scan_free(struct archive_scan *s);
/* Feed the archive's bytes in order; -1 once it cannot be read (no log). */
int archive_scan_feed(struct archive_scan *s, const void *data, size_t len);
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
