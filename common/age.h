/*
 * The age file format (age-encryption.org/v1), streaming, for X25519
 * recipients: what pgp writes, Debian's age decrypts, and the reverse.
 * The cryptography is OpenSSL's libcrypto; only the key encoding
 * (Bech32) and the header's unpadded base64 are ours.
 *
 * Nothing here logs: a failing function returns -1 (or NULL) and leaves
 * its reason in pgp_age_error(), so that the caller can name the object
 * ("s3://b/x/dump.age: ...").  No message ever holds secret material.
 * Secret keys and file keys are wiped (OPENSSL_cleanse) once used.
 */
#ifndef PGP_AGE_H
#define PGP_AGE_H

#include <stddef.h>

#define PGP_AGE_KEY_LEN 32
/* "age1" + 52 data characters + 6 checksum characters, and a NUL. */
#define PGP_AGE_RECIPIENT_SIZE 64
/* "AGE-SECRET-KEY-1" + 52 + 6, and a NUL. */
#define PGP_AGE_IDENTITY_SIZE 80
/* Plaintext bytes per payload chunk. */
#define PGP_AGE_CHUNK (64 * 1024)

struct pgp_age_recipient {
	unsigned char pub[PGP_AGE_KEY_LEN];
};

struct pgp_age_identity {
	unsigned char secret[PGP_AGE_KEY_LEN];
	unsigned char pub[PGP_AGE_KEY_LEN];
};

/* Where bytes go (stored bytes when encrypting, plaintext when
 * decrypting): 0, or -1 to stop, the sink having said why. */
typedef int (*pgp_age_sink)(void *ctx, const void *data, size_t len);

/* Why decryption failed, for callers that act on the kind. */
enum pgp_age_status {
	PGP_AGE_OK = 0,
	PGP_AGE_ERR_HEADER,	/* not age, or a header that does not parse */
	PGP_AGE_ERR_NOMATCH,	/* no identity opens any stanza */
	PGP_AGE_ERR_MAC,	/* header MAC wrong: the header was changed */
	PGP_AGE_ERR_PAYLOAD,	/* truncated, reordered, flipped or trailing data */
	PGP_AGE_ERR_OTHER	/* the sink failed, out of memory, libcrypto */
};

/* The reason for the last failure in this thread ("" if none). */
const char *pgp_age_error(void);

/* Keys.  Strings are parsed strictly; errors say what is wrong. */
int pgp_age_recipient_parse(const char *s, struct pgp_age_recipient *r);
int pgp_age_identity_parse(const char *s, struct pgp_age_identity *id);
/* "age1..." into out[PGP_AGE_RECIPIENT_SIZE]. */
void pgp_age_recipient_format(const struct pgp_age_recipient *r, char *out);
/* "AGE-SECRET-KEY-1..." into out[PGP_AGE_IDENTITY_SIZE]: a secret. */
void pgp_age_identity_format(const struct pgp_age_identity *id, char *out);
/* The public key (recipient) of an identity. */
void pgp_age_identity_recipient(const struct pgp_age_identity *id, struct pgp_age_recipient *r);
/* A new random identity.  0 or -1. */
int pgp_age_identity_generate(struct pgp_age_identity *id);
/* Wipe an identity (or an array of n, then free it). */
void pgp_age_identity_wipe(struct pgp_age_identity *id);
void pgp_age_identities_free(struct pgp_age_identity *ids, size_t n);

/*
 * Files of keys, one a line; blank lines and "#" comments allowed.
 * Errors read "FILE:LINE: reason".  An identity file must not be
 * readable or writable by group or others.  Arrays are malloc'd: free
 * recipients with free(), identities with pgp_age_identities_free().
 */
int pgp_age_recipients_read(const char *path, struct pgp_age_recipient **out, size_t *n);
int pgp_age_identities_read(const char *path, struct pgp_age_identity **out, size_t *n);
/* A new identity file in age-keygen's format, mode 0600, never over an
 * existing file; its public key into pub.  0 or -1. */
int pgp_age_keygen_file(const char *path, struct pgp_age_recipient *pub);

/*
 * Encryption: begin writes the header, write buffers 64 KiB chunks and
 * sends each sealed, finish seals the last one.  0 or -1; after a
 * failure the stream is dead.  free accepts NULL and wipes the keys.
 */
struct pgp_age_enc *pgp_age_enc_begin(const struct pgp_age_recipient *recipients, size_t n,
				      pgp_age_sink write_fn, void *write_ctx);
int pgp_age_enc_write(struct pgp_age_enc *e, const void *data, size_t len);
int pgp_age_enc_finish(struct pgp_age_enc *e);
void pgp_age_enc_free(struct pgp_age_enc *e);

/*
 * Decryption, fed the stored bytes in pieces of any size: plaintext goes
 * to out_fn one verified chunk at a time, never before its tag checks.
 * finish fails unless the final chunk was seen, so a truncated stream is
 * an error, never a shorter output.  The identities are copied.
 */
struct pgp_age_dec *pgp_age_dec_begin(const struct pgp_age_identity *ids, size_t n,
				      pgp_age_sink out_fn, void *out_ctx);
int pgp_age_dec_write(struct pgp_age_dec *d, const void *data, size_t len);
int pgp_age_dec_finish(struct pgp_age_dec *d);
enum pgp_age_status pgp_age_dec_status(const struct pgp_age_dec *d);
/* Stanzas in the header once it is parsed (X25519 ones and all); for
 * messages, since a stanza names no recipient.  0, or -1 before then. */
int pgp_age_dec_stanzas(const struct pgp_age_dec *d, size_t *x25519, size_t *total);
void pgp_age_dec_free(struct pgp_age_dec *d);

/* Does data (the first bytes of an object) start like an age file? */
int pgp_age_detect(const void *data, size_t len);

/*
 * The encodings, exported for their tests.  Bech32 (BIP 173): encode
 * takes the HRP's case for the whole string; decode gives the HRP as
 * written and the data as bytes (strict padding); check only verifies a
 * string (any 5-bit data).  Base64: standard alphabet, no padding,
 * canonical only; wrap/unwrap are age's stanza bodies (64 columns, the
 * last line shorter, possibly empty; used is the text consumed).
 */
int pgp_age_bech32_encode(const char *hrp, const unsigned char *data, size_t len, char *out, size_t cap);
int pgp_age_bech32_decode(const char *s, char *hrp, size_t hrp_cap,
			  unsigned char *data, size_t cap, size_t *len);
int pgp_age_bech32_check(const char *s);
size_t pgp_age_base64_encode(const void *in, size_t len, char *out);
int pgp_age_base64_decode(const char *in, size_t len, void *out, size_t cap, size_t *outlen);
size_t pgp_age_base64_wrap(const void *in, size_t len, char *out);
int pgp_age_base64_unwrap(const char *in, size_t len, void *out, size_t cap,
			  size_t *outlen, size_t *used);

#endif
