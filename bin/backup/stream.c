/*
 * Objects streamed into and out of the repository (stream.h): the one
 * place that chains compression, age encryption, hashing and the
 * repository, in both directions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "backup.h"
#include "exitcodes.h"
#include "log.h"
#include "stream.h"

static void
hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The stored bytes: hashed, counted and written. */
static int
stream_store(void *arg, const void *data, size_t len)
{
	struct stream *s = arg;

	EVP_DigestUpdate(s->md, data, len);
	s->stored += len;
	if (repo_write(s->w, data, len) < 0) {
		s->store_failed = 1;
		return -1;
	}
	return 0;
}

/* The compressor's output, sealed in 64 KiB chunks on its way to stream_store. */
static int
stream_encrypt(void *arg, const void *data, size_t len)
{
	struct stream *s = arg;

	if (pgp_age_enc_write(s->enc, data, len) == 0)
		return 0;
	if (!s->store_failed)
		pgp_error("%s: cannot encrypt: %s", s->name, pgp_age_error());
	return -1;
}

static void
stream_free(struct stream *s)
{
	compressor_free(s->z);
	pgp_age_enc_free(s->enc);
	EVP_MD_CTX_free(s->md);
	EVP_MD_CTX_free(s->raw_md);
}

static EVP_MD_CTX *
sha256_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md && !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		md = NULL;
	}
	return md;
}

int
stream_open(struct backup_ctx *ctx, struct stream *s, const char *name, enum compression c, int level,
	    int hash_raw)
{
	int encrypt = ctx->nrecipients > 0;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->z = compressor_new(c, level, encrypt ? stream_encrypt : stream_store, s);
	if (!s->z)
		return -1;
	s->md = sha256_new();
	if (!s->md || (hash_raw && !(s->raw_md = sha256_new()))) {
		pgp_error("out of memory");
		stream_free(s);
		return -1;
	}
	if (!(s->w = repo_create(ctx->repo, name))) {
		stream_free(s);
		return -1;
	}
	/* The age header goes out first: a recipient list that cannot be used fails here. */
	if (encrypt && !(s->enc = pgp_age_enc_begin(ctx->recipients, ctx->nrecipients, stream_store, s))) {
		if (!s->store_failed)
			pgp_error("%s: cannot encrypt: %s", name, pgp_age_error());
		repo_abort(s->w);
		stream_free(s);
		return -1;
	}
	return 0;
}

int
stream_feed(struct stream *s, const void *data, size_t len)
{
	s->raw += len;
	if (s->raw_md)
		EVP_DigestUpdate(s->raw_md, data, len);
	return compressor_feed(s->z, data, len);
}

int
stream_close(struct stream *s, int ok, struct object_info *info)
{
	unsigned char digest[32];
	const char *slash = strrchr(s->name, '/');

	if (ok && compressor_finish(s->z) < 0)
		ok = 0;
	if (ok && s->enc && pgp_age_enc_finish(s->enc) < 0) {
		if (!s->store_failed)
			pgp_error("%s: cannot encrypt: %s", s->name, pgp_age_error());
		ok = 0;
	}
	if (!ok)
		repo_abort(s->w);
	else if (repo_commit(s->w) < 0)
		ok = 0;
	if (ok) {
		memset(info, 0, sizeof(*info));
		snprintf(info->name, sizeof(info->name), "%s", slash ? slash + 1 : s->name);
		info->size = s->stored;
		info->raw_size = s->raw;
		EVP_DigestFinal_ex(s->md, digest, NULL);
		hex(digest, 32, info->sha256);
		if (s->raw_md) {
			EVP_DigestFinal_ex(s->raw_md, digest, NULL);
			hex(digest, 32, info->raw_sha256);
		}
	}
	stream_free(s);
	return ok ? 0 : -1;
}

int
stream_text(struct backup_ctx *ctx, const char *name, const char *text, struct object_info *info)
{
	struct stream s;

	if (stream_open(ctx, &s, name, COMPRESS_NONE, 0, 0) < 0)
		return -1;
	return stream_close(&s, stream_feed(&s, text, strlen(text)) == 0, info);
}

/*
 * Reading.  Once decoding or the sink fails, the rest is still read and
 * hashed, so that the message says which: a damaged object (by its
 * SHA-256, or its own checks when the hash agrees) or a reader that
 * stopped.
 */
struct reader {
	EVP_MD_CTX *md, *raw_md;
	unsigned long long size, raw_size;
	struct pgp_age_dec *dec;	/* an encrypted object: decrypted before d */
	struct decompressor *d;		/* NULL: hash only */
	compress_sink sink;
	void *arg;
	int stopped, sink_failed;
	enum pgp_age_status age_status;	/* why decryption stopped */
	char age_why[256];
};

/* The decoded object, to the caller's sink until it fails. */
static int
reader_out(void *arg, const void *data, size_t len)
{
	struct reader *r = arg;

	r->raw_size += len;
	EVP_DigestUpdate(r->raw_md, data, len);
	/* A sink gone: decode on regardless, to see if the object is why. */
	if (!r->sink_failed && r->sink(r->arg, data, len) < 0)
		r->sink_failed = 1;
	return 0;
}

/* Decrypted plaintext, one verified 64 KiB chunk at a time. */
static int
reader_plain(void *arg, const void *data, size_t len)
{
	struct reader *r = arg;

	return decompressor_feed(r->d, data, len) < 0 ? -1 : 0;
}

/* Decryption stopped: keep why (the age error, unless the decompressor is why). */
static void
reader_age_failed(struct reader *r)
{
	r->stopped = 1;
	if (!decompressor_error(r->d)) {
		r->age_status = pgp_age_dec_status(r->dec);
		snprintf(r->age_why, sizeof(r->age_why), "%s", pgp_age_error());
	}
}

static int
reader_in(void *arg, const void *data, size_t len)
{
	struct reader *r = arg;

	EVP_DigestUpdate(r->md, data, len);
	r->size += len;
	if (!r->d || r->stopped)
		return 0;
	if (r->dec) {
		if (pgp_age_dec_write(r->dec, data, len) < 0)
			reader_age_failed(r);
	} else if (decompressor_feed(r->d, data, len) < 0)
		r->stopped = 1;
	return 0;
}

/* After the last byte: a stream that stopped short is an error, never shorter output. */
static void
reader_finish(struct reader *r)
{
	if (!r->d || r->stopped)
		return;
	if (r->dec && pgp_age_dec_finish(r->dec) < 0)
		reader_age_failed(r);
	else if (decompressor_finish(r->d) < 0)
		r->stopped = 1;
}

static void
reader_free(struct reader *r)
{
	EVP_MD_CTX_free(r->md);
	EVP_MD_CTX_free(r->raw_md);
	decompressor_free(r->d);
	pgp_age_dec_free(r->dec);
}

/* Decoding to sink: 0, or the exit status (logged). */
static int
reader_start(struct backup_ctx *ctx, struct reader *r, const char *label, const struct stream_expect *x)
{
	r->raw_md = sha256_new();
	r->d = r->raw_md ? decompressor_new(x->compression, reader_out, r) : NULL;
	if (!r->d) {
		if (!r->raw_md)
			pgp_error("out of memory");
		return PGP_EXIT_FAILED;
	}
	if (!x->encrypted)
		return PGP_EXIT_OK;
	if (!ctx->identities) {
		pgp_error("%s is encrypted: reading it needs an identity (private key) file", label);
		pgp_hint("give --identity FILE or set backup.identity_file");
		return PGP_EXIT_USAGE;
	}
	r->dec = pgp_age_dec_begin(ctx->identities, ctx->nidentities, reader_plain, r);
	if (!r->dec) {
		pgp_error("%s: cannot start decrypting: %s", label, pgp_age_error());
		return PGP_EXIT_FAILED;
	}
	return PGP_EXIT_OK;
}

/* The verdict, once everything was read (rc: repo_read's). */
static int
reader_verdict(struct backup_ctx *ctx, struct reader *r, int rc, const char *label, const struct stream_expect *x,
	       const char *sha)
{
	if (rc < 0)
		return PGP_EXIT_FAILED;	/* the repository's error, logged */
	if (x->check && (r->size != x->size || strcmp(sha, x->sha256) != 0)) {
		pgp_error("%s does not match its manifest (%llu bytes, sha256 %.12s..., manifest: %llu bytes, "
			  "sha256 %.12s...)", label, r->size, sha, x->size, x->sha256);
		return PGP_EXIT_FOUND;
	}
	if (r->age_status == PGP_AGE_ERR_NOMATCH) {
		pgp_error("%s: no identity in %s opens it", label, ctx->identity_file);
		return PGP_EXIT_USAGE;
	}
	if (r->age_status != PGP_AGE_OK) {
		pgp_error("%s does not decrypt (%s): it is corrupt or was changed", label, r->age_why);
		return PGP_EXIT_FOUND;
	}
	if (r->d && decompressor_error(r->d)) {
		pgp_error("%s does not decompress (%s): it is corrupt", label, decompressor_error(r->d));
		return PGP_EXIT_FOUND;
	}
	if (r->sink_failed)
		return PGP_EXIT_FAILED;	/* the sink said why */
	return PGP_EXIT_OK;
}

int
stream_read(struct backup_ctx *ctx, const char *name, const char *label, const struct stream_expect *x,
	    compress_sink sink, void *arg, int missing_ok, struct stream_result *res)
{
	struct reader r;
	unsigned char d[32];
	char sha[65];
	int rc;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	r.sink = sink;
	r.arg = arg;
	r.md = sha256_new();
	if (!r.md) {
		pgp_error("out of memory");
		return PGP_EXIT_FAILED;
	}
	if (sink && (rc = reader_start(ctx, &r, label, x)) != PGP_EXIT_OK) {
		reader_free(&r);
		return rc;
	}
	rc = repo_read(ctx->repo, name, reader_in, &r);
	if (rc == 0)
		reader_finish(&r);
	EVP_DigestFinal_ex(r.md, d, NULL);
	hex(d, 32, sha);
	if (rc == 1) {
		reader_free(&r);
		if (!missing_ok)
			pgp_error("%s is missing", label);
		return missing_ok ? 1 : PGP_EXIT_FOUND;
	}
	rc = reader_verdict(ctx, &r, rc, label, x, sha);
	res->size = r.size;
	memcpy(res->sha256, sha, sizeof(sha));
	res->raw_size = r.raw_size;
	if (r.raw_md) {
		EVP_DigestFinal_ex(r.raw_md, d, NULL);
		hex(d, 32, res->raw_sha256);
	}
	reader_free(&r);
	return rc;
}
