/*
 * Compression of objects, both ways, over zstd and zlib.  Each stream
 * checks its own integrity as it goes (zstd's frame checksum, gzip's
 * CRC-32), and a stream that ends before its last frame is an error, not
 * a shorter dump: the manifest's SHA-256 proves the bytes stored, this
 * proves they are what was compressed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"
#include "log.h"

#define OUT_SIZE (256 * 1024)

/*
 * zstd's default level.  Measured through pgp-backup on two cores
 * (pgbench data, and md5 text as in tests/bench): level 1 was faster than
 * 3 and its output smaller on both (4.6 MB vs 4.7 MB, 77 MB vs 85 MB),
 * a third of zlib's on pgbench data and 18% under it on md5 text.  No
 * worker threads (ZSTD_c_nbWorkers): zstd -T2 gained nothing while
 * pg_dump and the server need the other core.
 */
#define ZSTD_DEFAULT_LEVEL 1
#define GZIP_DEFAULT_LEVEL 1

static const struct {
	const char *name, *suffix;
	int level, lo, hi;
} methods[] = {
	[COMPRESS_ZSTD] = {"zstd", ".zst", ZSTD_DEFAULT_LEVEL, -7, 19},
	[COMPRESS_GZIP] = {"gzip", ".gz", GZIP_DEFAULT_LEVEL, 0, 9},
	[COMPRESS_NONE] = {"none", "", 0, 0, 0},
};

const char *
compression_name(enum compression c)
{
	return methods[c].name;
}

int
compression_parse(const char *name, enum compression *c)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(methods[i].name, name)) {
			*c = (enum compression) i;
			return 0;
		}
	return -1;
}

const char *
compression_suffix(enum compression c)
{
	return methods[c].suffix;
}

int
compression_default_level(enum compression c)
{
	return methods[c].level;
}

void
compression_level_range(enum compression c, long long *lo, long long *hi)
{
	*lo = methods[c].lo;
	*hi = methods[c].hi;
}

struct compressor {
	enum compression c;
	z_stream z;
	ZSTD_CCtx *zc;
	compress_sink sink;
	void *arg;
	unsigned char out[OUT_SIZE];
};

struct compressor *
compressor_new(enum compression c, int level, compress_sink sink, void *arg)
{
	struct compressor *z = calloc(1, sizeof(*z));

	if (!z) {
		pgp_error("out of memory");
		return NULL;
	}
	z->c = c;
	z->sink = sink;
	z->arg = arg;
	if (c == COMPRESS_GZIP && deflateInit2(&z->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		pgp_error("zlib: cannot start compression");
		return NULL;
	}
	if (c == COMPRESS_ZSTD) {
		z->zc = ZSTD_createCCtx();
		/* The frame checksum lets a reader (pgp or zstd -d) catch damage. */
		if (!z->zc || ZSTD_isError(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel, level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_checksumFlag, 1))) {
			ZSTD_freeCCtx(z->zc);
			free(z);
			pgp_error("zstd: cannot start compression at level %d", level);
			return NULL;
		}
	}
	return z;
}

static int
gzip_run(struct compressor *z, const void *data, size_t len, int flush)
{
	z->z.next_in = (unsigned char *) data;
	z->z.avail_in = (unsigned) len;
	do {
		size_t have;

		z->z.next_out = z->out;
		z->z.avail_out = sizeof(z->out);
		if (deflate(&z->z, flush) == Z_STREAM_ERROR)
			return pgp_fail("zlib: %s", z->z.msg ? z->z.msg : "stream error");
		have = sizeof(z->out) - z->z.avail_out;
		if (have && z->sink(z->arg, z->out, have) < 0)
			return -1;
	} while (z->z.avail_out == 0);
	return 0;
}

static int
zstd_run(struct compressor *z, const void *data, size_t len, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = {data, len, 0};
	size_t left;

	do {
		ZSTD_outBuffer out = {z->out, sizeof(z->out), 0};

		left = ZSTD_compressStream2(z->zc, &out, &in, end);
		if (ZSTD_isError(left))
			return pgp_fail("zstd: %s", ZSTD_getErrorName(left));
		if (out.pos && z->sink(z->arg, z->out, out.pos) < 0)
			return -1;
	} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

int
compressor_feed(struct compressor *z, const void *data, size_t len)
{
	switch (z->c) {
	case COMPRESS_GZIP:
		return gzip_run(z, data, len, Z_NO_FLUSH);
	case COMPRESS_ZSTD:
		return zstd_run(z, data, len, ZSTD_e_continue);
	case COMPRESS_NONE:
		break;
	}
	return len ? z->sink(z->arg, data, len) : 0;
}

int
compressor_finish(struct compressor *z)
{
	switch (z->c) {
	case COMPRESS_GZIP:
		return gzip_run(z, NULL, 0, Z_FINISH);
	case COMPRESS_ZSTD:
		return zstd_run(z, NULL, 0, ZSTD_e_end);
	case COMPRESS_NONE:
		break;
	}
	return 0;
}

void
compressor_free(struct compressor *z)
{
	if (!z)
		return;
	if (z->c == COMPRESS_GZIP)
		deflateEnd(&z->z);
	ZSTD_freeCCtx(z->zc);
	free(z);
}

struct decompressor {
	enum compression c;
	z_stream z;
	ZSTD_DCtx *zd;
	int ended;			/* the stream's end was read */
	const char *error;		/* why the input is refused */
	char msg[128];
	compress_sink sink;
	void *arg;
	unsigned char out[OUT_SIZE];
};

struct decompressor *
decompressor_new(enum compression c, compress_sink sink, void *arg)
{
	struct decompressor *d = calloc(1, sizeof(*d));

	if (!d) {
		pgp_error("out of memory");
		return NULL;
	}
	d->c = c;
	d->sink = sink;
	d->arg = arg;
	if (c == COMPRESS_GZIP && inflateInit2(&d->z, 15 + 16) != Z_OK) {
		free(d);
		pgp_error("zlib: cannot start decompression");
		return NULL;
	}
	if (c == COMPRESS_ZSTD && !(d->zd = ZSTD_createDCtx())) {
		free(d);
		pgp_error("zstd: cannot start decompression");
		return NULL;
	}
	return d;
}

static int
refuse(struct decompressor *d, const char *lib, const char *why)
{
	snprintf(d->msg, sizeof(d->msg), "%s: %s", lib, why);
	d->error = d->msg;
	return -1;
}

static int
gunzip_feed(struct decompressor *d, const void *data, size_t len)
{
	int full = 0;			/* the last call filled the buffer: zlib may hold more */

	d->z.next_in = (unsigned char *) data;
	d->z.avail_in = (unsigned) len;
	while (d->z.avail_in > 0 || (full && !d->ended)) {
		int zrc;

		/* pgp writes one gzip member: anything after it is damage. */
		if (d->ended)
			return refuse(d, "zlib", "data after the end of the stream");
		d->z.next_out = d->out;
		d->z.avail_out = sizeof(d->out);
		zrc = inflate(&d->z, Z_NO_FLUSH);
		if (zrc == Z_BUF_ERROR && d->z.avail_in == 0)
			break;		/* no progress: it waits for more input */
		if (zrc != Z_OK && zrc != Z_STREAM_END)
			return refuse(d, "zlib", d->z.msg ? d->z.msg : "invalid data");
		d->ended = zrc == Z_STREAM_END;
		full = d->z.avail_out == 0;
		if (sizeof(d->out) > d->z.avail_out &&
		    d->sink(d->arg, d->out, sizeof(d->out) - d->z.avail_out) < 0)
			return -1;
	}
	return 0;
}

static int
unzstd_feed(struct decompressor *d, const void *data, size_t len)
{
	ZSTD_inBuffer in = {data, len, 0};

	while (in.pos < in.size) {
		ZSTD_outBuffer out = {d->out, sizeof(d->out), 0};
		size_t rc = ZSTD_decompressStream(d->zd, &out, &in);

		if (ZSTD_isError(rc))
			return refuse(d, "zstd", ZSTD_getErrorName(rc));
		/* 0: a frame ended here (another may follow, as zstd -d reads them). */
		d->ended = rc == 0;
		if (out.pos && d->sink(d->arg, d->out, out.pos) < 0)
			return -1;
	}
	return 0;
}

int
decompressor_feed(struct decompressor *d, const void *data, size_t len)
{
	if (d->error)
		return -1;
	switch (d->c) {
	case COMPRESS_GZIP:
		return gunzip_feed(d, data, len);
	case COMPRESS_ZSTD:
		return unzstd_feed(d, data, len);
	case COMPRESS_NONE:
		break;
	}
	return len ? d->sink(d->arg, data, len) : 0;
}

int
decompressor_finish(struct decompressor *d)
{
	if (d->error)
		return -1;
	if (d->c == COMPRESS_ZSTD && !d->ended) {
		/* Output zstd still holds back for a full buffer (after a frame's end, a
		 * call would start the next one). */
		ZSTD_inBuffer in = {NULL, 0, 0};
		ZSTD_outBuffer out;

		do {
			size_t rc;

			out = (ZSTD_outBuffer) {d->out, sizeof(d->out), 0};
			rc = ZSTD_decompressStream(d->zd, &out, &in);
			if (ZSTD_isError(rc))
				return refuse(d, "zstd", ZSTD_getErrorName(rc));
			d->ended = rc == 0;
			if (out.pos && d->sink(d->arg, d->out, out.pos) < 0)
				return -1;
		} while (out.pos == out.size && !d->ended);
	}
	if (d->c != COMPRESS_NONE && !d->ended)
		return refuse(d, compression_name(d->c), "the stream ends early (truncated)");
	return 0;
}

const char *
decompressor_error(const struct decompressor *d)
{
	return d->error;
}

void
decompressor_free(struct decompressor *d)
{
	if (!d)
		return;
	if (d->c == COMPRESS_GZIP)
		inflateEnd(&d->z);
	ZSTD_freeDCtx(d->zd);
	free(d);
}
