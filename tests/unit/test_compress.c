/*
 * bin/backup/compress.c, alone: every compression round-trips data of
 * several kinds fed in pieces of several sizes, whatever the level; a
 * stream cut short, flipped, or followed by garbage is refused by
 * decompressor_finish or _feed (with a reason), never a shorter output;
 * a sink that fails stops the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bin/backup/compress.h"
#include "log.h"
#include "tap.h"

struct buf {
	unsigned char *data;
	size_t len, cap;
	int fail_after;		/* > 0: the sink fails on that call */
	int calls;
};

static int
buf_sink(void *arg, const void *data, size_t len)
{
	struct buf *b = arg;

	if (b->fail_after && ++b->calls >= b->fail_after)
		return -1;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->data = realloc(b->data, b->cap);
		if (!b->data)
			abort();
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static int
compress_all(enum compression c, int level, const unsigned char *in, size_t len, size_t piece, struct buf *out)
{
	struct compressor *z = compressor_new(c, level, buf_sink, out);
	int rc = z ? 0 : -1;

	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = compressor_feed(z, in + off, len - off < piece ? len - off : piece);
	if (rc == 0)
		rc = compressor_finish(z);
	compressor_free(z);
	return rc;
}

/* 0 with the output in out, -1 (why in *reason) when refused. */
static int
decompress_all(enum compression c, const unsigned char *in, size_t len, size_t piece, struct buf *out,
	       char *reason, size_t rsize)
{
	struct decompressor *d = decompressor_new(c, buf_sink, out);
	int rc = d ? 0 : -1;

	*reason = '\0';
	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = decompressor_feed(d, in + off, len - off < piece ? len - off : piece);
	if (rc == 0)
		rc = decompressor_finish(d);
	if (rc < 0 && d && decompressor_error(d))
		snprintf(reason, rsize, "%s", decompressor_error(d));
	decompressor_free(d);
	return rc;
}

static unsigned char *
sample(int kind, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	unsigned long long x = 88172645463325252ULL;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* 0: random, 1: text-like, 2: runs */
		p[i] = kind == 0 ? (unsigned char) x : kind == 1 ? (unsigned char) ("0123456789abcdef\n"[x % 17])
			: (unsigned char) ((i / 4096) & 0xff);
	}
	return p;
}

int
main(void)
{
	static const enum compression kinds[] = {COMPRESS_ZSTD, COMPRESS_GZIP, COMPRESS_NONE};
	static const size_t lens[] = {0, 1, 65536, 1000003};
	static const size_t pieces[] = {1, 4093, 1 << 20};
	char reason[256];

	pgp_log_init("test_compress");
	for (size_t k = 0; k < 3; k++) {
		enum compression c = kinds[k];
		long long lo, hi;
		const char *name = compression_name(c);
		enum compression back;

		ok(compression_parse(name, &back) == 0 && back == c, "%s: its name parses back", name);
		compression_level_range(c, &lo, &hi);
		ok(compression_default_level(c) >= lo && compression_default_level(c) <= hi,
		   "%s: the default level is in its range", name);
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			for (int kind = 0; kind < 3; kind++) {
				unsigned char *in = sample(kind, lens[l]);

				for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
					struct buf z = {0}, out = {0};
					/* the piece sizes only where they change anything */
					if (pieces[p] == 1 && lens[l] > 65536)
						continue;
					ok(compress_all(c, (int) (p % 2 ? lo : hi > 3 ? 3 : hi), in, lens[l], pieces[p], &z) == 0 &&
					   decompress_all(c, z.data, z.len, pieces[p], &out, reason, sizeof(reason)) == 0 &&
					   out.len == lens[l] && (lens[l] == 0 || memcmp(out.data, in, lens[l]) == 0),
					   "%s: %zu bytes of kind %d, fed %zu at a time, round-trip", name, lens[l], kind,
					   pieces[p]);
					free(z.data);
					free(out.data);
				}
				free(in);
			}
	}
	/* Damage: only the compressed kinds can know. */
	for (size_t k = 0; k < 2; k++) {
		enum compression c = kinds[k];
		const char *name = compression_name(c);
		unsigned char *in = sample(1, 300000);
		struct buf z = {0};

		ok(compress_all(c, compression_default_level(c), in, 300000, 65536, &z) == 0, "%s: a stream to damage", name);
		for (size_t cut = 1; cut < z.len; cut += z.len / 7 + 1) {
			struct buf out = {0};

			ok(decompress_all(c, z.data, z.len - cut, 65536, &out, reason, sizeof(reason)) < 0 && *reason,
			   "%s: cut %zu bytes short: refused (%s)", name, cut, reason);
			free(out.data);
		}
		{
			struct buf out = {0};
			unsigned char *flipped = malloc(z.len);

			memcpy(flipped, z.data, z.len);
			flipped[z.len / 2] ^= 0x10;
			ok(decompress_all(c, flipped, z.len, 65536, &out, reason, sizeof(reason)) < 0 && *reason,
			   "%s: a flipped bit in the middle: refused (%s)", name, reason);
			free(out.data);
			free(flipped);
		}
		{
			struct buf out = {0};
			unsigned char *more = malloc(z.len + 10);

			memcpy(more, z.data, z.len);
			memcpy(more + z.len, "garbage!!!", 10);
			ok(decompress_all(c, more, z.len + 10, 65536, &out, reason, sizeof(reason)) < 0,
			   "%s: garbage after the stream: refused (%s)", name, reason);
			free(out.data);
			free(more);
		}
		{
			struct buf out = {.fail_after = 2};

			ok(decompress_all(c, z.data, z.len, 4096, &out, reason, sizeof(reason)) < 0 && !*reason,
			   "%s: a failing sink stops decompression, and is not blamed on the stream", name);
			free(out.data);
		}
		{
			struct buf out = {.fail_after = 1};

			ok(compress_all(c, compression_default_level(c), in, 300000, 65536, &out) < 0,
			   "%s: a failing sink stops compression", name);
			free(out.data);
		}
		free(z.data);
		free(in);
	}
	return done_testing();
}
