/*
 * Objects in and out of the repository, streamed, for every kind of
 * backup (logical dumps, base backups, WAL):
 *
 *   write: raw bytes -> compressor -> age encryption (when the context has
 *          recipients) -> SHA-256 and size of the stored bytes -> repo writer
 *   read:  repo -> SHA-256 and size of the stored bytes -> age decryption
 *          (when the object is encrypted) -> decompressor -> sink
 *
 * The hash and size are of the stored bytes, so an object is proved
 * intact without its key; the raw bytes' SHA-256 can be had too (WAL is
 * named by it).  A write that fails leaves no object; a read hands the
 * sink only authenticated chunks, and an object cut short, reordered or
 * changed is an error naming it, never a shorter output.
 */
#ifndef PGP_BACKUP_STREAM_H
#define PGP_BACKUP_STREAM_H

#include <stddef.h>

#include "compress.h"

struct backup_ctx;
struct repo_writer;
struct compressor;
struct pgp_age_enc;
typedef struct evp_md_ctx_st EVP_MD_CTX;

/* What was stored. */
struct object_info {
	char name[256];			/* the last part of the object's name */
	unsigned long long size, raw_size;
	char sha256[65];		/* of the stored bytes */
	char raw_sha256[65];		/* of the raw bytes, when asked for; else "" */
};

struct stream {
	const char *name;
	struct compressor *z;
	struct pgp_age_enc *enc;	/* NULL: stored in the clear */
	EVP_MD_CTX *md, *raw_md;	/* raw_md NULL unless asked for */
	struct repo_writer *w;
	unsigned long long raw, stored;
	int store_failed;		/* the repository said why (logged) */
};

/*
 * A new object name (the caller's buffer, kept until close) stored with
 * compression c at level, encrypted to ctx->recipients when there are
 * any; hash_raw: also the SHA-256 of the raw bytes.  0, or -1 (logged,
 * nothing left).
 */
int stream_open(struct backup_ctx *ctx, struct stream *s, const char *name, enum compression c, int level,
		int hash_raw);
int stream_feed(struct stream *s, const void *data, size_t len);
/*
 * The end: stored whole (info filled) when ok, removed otherwise.  0, or
 * -1 (logged).  Frees the stream either way.
 */
int stream_close(struct stream *s, int ok, struct object_info *info);
/* A small object from memory, not compressed (encrypted as the others). */
int stream_text(struct backup_ctx *ctx, const char *name, const char *text, struct object_info *info);

/* How an object to read is stored, and what it should be. */
struct stream_expect {
	enum compression compression;
	int encrypted;
	int check;			/* compare size and sha256 below */
	unsigned long long size;
	const char *sha256;		/* hex, of the stored bytes */
};

/* What a read found (stream_read's result says what to do; these say why). */
struct stream_result {
	unsigned long long size;	/* stored bytes read */
	char sha256[65];		/* of the stored bytes */
	char raw_sha256[65];		/* of the output, when the sink was given */
	unsigned long long raw_size;
};

/*
 * Read object name into sink (NULL: hash the stored bytes only).  label
 * names it in messages ("backup 20261201T000000Z: object dump.pgdump.zst",
 * "WAL 000000010000000000000003").  Once the sink fails the rest is still
 * read, hashed and decoded, so that the message says which was at fault.
 * An encrypted object needs ctx's identities (keys_identities).
 * PGP_EXIT_OK; PGP_EXIT_FOUND for an object that is missing (when
 * missing_ok is 0), does not match, does not decrypt or decompress;
 * PGP_EXIT_USAGE when no identity opens it; PGP_EXIT_FAILED for the
 * repository's or the sink's error (each logged).  With missing_ok, an
 * absent object returns 1 without a message.
 */
int stream_read(struct backup_ctx *ctx, const char *name, const char *label, const struct stream_expect *x,
		compress_sink sink, void *arg, int missing_ok, struct stream_result *res);

#endif
