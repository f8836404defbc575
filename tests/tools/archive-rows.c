/*
 * archive-rows: feed a pg_dump custom-format archive to pgp-backup's row
 * counter in pieces of a given size and print "schema.table rows" lines,
 * or "unreadable".  Proves the scanner does not depend on how the stream
 * is cut.  With OUT, also writes the archive as the rewriting scan passes
 * it on (table data in 64 KiB chunks) to OUT.
 * Usage: archive-rows FILE PIECE_SIZE [OUT]
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../bin/backup/archive.h"
#include "log.h"

static int
file_out(void *arg, const void *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct archive_scan *scan = archive_scan_new();
	struct json_object *tables;
	size_t piece = argc > 2 ? (size_t) atol(argv[2]) : 65536, n;
	unsigned char *buf = malloc(piece ? piece : 1);
	FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
	FILE *out = argc > 3 ? fopen(argv[3], "wb") : NULL;

	pgp_log_init(argv[0]);
	if (!f || !buf || !scan || !piece || (argc > 3 && !out)) {
		fprintf(stderr, "usage: archive-rows FILE PIECE_SIZE [OUT]\n");
		return 2;
	}
	if (out)
		archive_scan_rewrite(scan, file_out, out);
	while ((n = fread(buf, 1, piece, f)) > 0)
		if (archive_scan_feed(scan, buf, n) < 0)
			return 1;
	fclose(f);
	if (out && (archive_scan_end(scan) < 0 || fclose(out) != 0))
		return 1;
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
