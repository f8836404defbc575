/*
 * How a backup's objects are stored: zstd, gzip or not compressed, as
 * streams in both directions, each feeding a sink chunk by chunk so that
 * no object is ever held whole.  The compression is in each object's
 * name (dump.pgdump.zst) and in the manifest.
 */
#ifndef PGP_BACKUP_COMPRESS_H
#define PGP_BACKUP_COMPRESS_H

#include <stddef.h>

enum compression { COMPRESS_ZSTD, COMPRESS_GZIP, COMPRESS_NONE };

/* Called with each piece of output in order: 0, or -1 to stop (logged). */
typedef int (*compress_sink)(void *arg, const void *data, size_t len);

/* "zstd", "gzip" or "none"; the manifest's and the config's word. */
const char *compression_name(enum compression c);
/* The word as compression_name spells it: 0, or -1 when unknown. */
int compression_parse(const char *name, enum compression *c);
/* What the objects' names end with: ".zst", ".gz", "". */
const char *compression_suffix(enum compression c);
/* The level a backup uses when none is configured. */
int compression_default_level(enum compression c);
/* The levels pgp takes for c (conf.c's compress_level_range says the same). */
void compression_level_range(enum compression c, long long *lo, long long *hi);

struct compressor;
/* NULL (logged) when the library cannot start. */
struct compressor *compressor_new(enum compression c, int level, compress_sink sink, void *arg);
int compressor_feed(struct compressor *z, const void *data, size_t len);
/* Flush the end of the stream into the sink: 0 or -1 (logged). */
int compressor_finish(struct compressor *z);
void compressor_free(struct compressor *z);

struct decompressor;
struct decompressor *decompressor_new(enum compression c, compress_sink sink, void *arg);
/*
 * 0, or -1: the sink failed (logged), or the input is not a valid stream
 * (not logged: why is in decompressor_error, for the caller to name the
 * object).
 */
int decompressor_feed(struct decompressor *d, const void *data, size_t len);
/* After the last input: -1 when the stream stopped short (truncated). */
int decompressor_finish(struct decompressor *d);
/* Why the input was refused, or NULL when the sink failed instead. */
const char *decompressor_error(const struct decompressor *d);
void decompressor_free(struct decompressor *d);

#endif
