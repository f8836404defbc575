/*
 * Row counts read from a pg_dump custom-format archive as it streams.
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

#endif
