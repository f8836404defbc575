/*
 * archive-rows: feed a pg_dump custom-format archive to pgp-backup's row
 * counter in pieces of a given size and print "schema.table rows" lines,
 * or "unreadable".  Proves the scanner does not depend on how the stream
 * is cut.  Usage: archive-rows FILE PIECE_SIZE
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../bin/backup/archive.h"
#include "log.h"

int
main(int argc, char **argv)
{
	struct archive_scan *scan = archive_scan_new();
	struct json_object *tables;
	size_t piece = argc > 2 ? (size_t) atol(argv[2]) : 65536, n;
	unsigned char *buf = malloc(piece ? piece : 1);
	FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;

	pgp_log_init(argv[0]);
	if (!f || !buf || !scan || !piece) {
		fprintf(stderr, "usage: archive-rows FILE PIECE_SIZE\n");
		return 2;
	}
	while ((n = fread(buf, 1, piece, f)) > 0)
		archive_scan_feed(scan, buf, n);
	fclose(f);
	if (archive_scan_failed(scan)) {
		printf("unreadable\n");
	} else {
		tables = archive_scan_tables(scan);
		for (size_t i = 0; i < json_object_array_length(tables); i++) {
			struct json_object *t = json_object_array_get_idx(tables, i);

			printf("%s.%s %lld\n", json_object_get_string(json_object_object_get(t, "schema")),
			       json_object_get_string(json_object_object_get(t, "table")),
			       (long long) json_object_get_int64(json_object_object_get(t, "rows")));
		}
		json_object_put(tables);
	}
	archive_scan_free(scan);
	free(buf);
	return 0;
}
