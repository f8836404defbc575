/*
 * age-encryption.org/v1 for X25519 recipients.  The format, in short:
 *
 *   age-encryption.org/v1
 *   -> X25519 <ephemeral share>         one stanza per recipient: the
 *   <file key, wrapped>                 16-byte file key sealed to it
 *   --- <HMAC-SHA-256 of the header up to "---">
 *   <16-byte nonce><64 KiB chunks, each ChaCha20-Poly1305 sealed>
 *
 * The chunk nonce is an 11-byte counter and a last-chunk flag, so a
 * dropped, repeated, reordered or truncated chunk fails to authenticate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "age.h"
#include "atomicfile.h"

#define AGE_MAGIC "age-encryption.org/v1\n"
#define AGE_MAGIC_LEN (sizeof(AGE_MAGIC) - 1)
#define FILE_KEY_LEN 16
#define TAG_LEN 16
#define SEALED_CHUNK (PGP_AGE_CHUNK + TAG_LEN)
#define NONCE_LEN 12
#define PAYLOAD_NONCE_LEN 16
/* A header is a few hundred bytes per recipient; past this it is not one. */
#define HEADER_MAX (1024 * 1024)
#define MAC_B64_LEN 43
#define BECH32_MAX 90
#define X25519_INFO "age-encryption.org/v1/X25519"

static _Thread_local char age_errbuf[1024];

const char *
pgp_age_error(void)
{
	return age_errbuf;
}

static int __attribute__((format(printf, 1, 2)))
age_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(age_errbuf, sizeof(age_errbuf), fmt, ap);
	va_end(ap);
	return -1;
}

/* "context: " before the reason already in the buffer. */
static int __attribute__((format(printf, 1, 2)))
age_fail_in(const char *fmt, ...)
{
	char why[sizeof(age_errbuf)], context[sizeof(age_errbuf)];
	va_list ap;

	snprintf(why, sizeof(why), "%s", age_errbuf);
	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
	snprintf(age_errbuf, sizeof(age_errbuf), "%s: %s", context, why);
	return -1;
}

/* ---- Bech32 (BIP 173) ---- */

static const char b32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t
polymod_step(uint32_t chk, unsigned v)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t top = chk >> 25;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The checksum runs over the HRP in lower case, whatever the string's case. */
static uint32_t
hrp_polymod(const char *hrp, size_t n)
{
	uint32_t chk = 1;

	for (size_t i = 0; i < n; i++)
		chk = polymod_step(chk, (unsigned) lower((unsigned char) hrp[i]) >> 5);
	chk = polymod_step(chk, 0);
	for (size_t i = 0; i < n; i++)
		chk = polymod_step(chk, (unsigned) lower((unsigned char) hrp[i]) & 31);
	return chk;
}

/* Validate s; its 5-bit values (checksum excluded) into values[BECH32_MAX]. */
static int
bech32_parse(const char *s, size_t *hrp_len, unsigned char *values, size_t *nvalues)
{
	size_t len = strlen(s), sep = 0;
	int has_lower = 0, has_upper = 0;
	uint32_t chk;

	if (len > BECH32_MAX)
		return age_fail("too long (%zu characters, at most %d)", len, BECH32_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c < 33 || c > 126)
			return age_fail("invalid character at position %zu", i + 1);
		has_lower |= c >= 'a' && c <= 'z';
		has_upper |= c >= 'A' && c <= 'Z';
		if (c == '1')
			sep = i;
	}
	if (has_lower && has_upper)
		return age_fail("mixed upper and lower case");
	if (sep < 1 || sep + 7 > len)
		return age_fail("no separator \"1\" with a prefix before it and a checksum after it");
	chk = hrp_polymod(s, sep);
	*nvalues = 0;
	for (size_t i = sep + 1; i < len; i++) {
		const char *hit = strchr(b32_charset, lower((unsigned char) s[i]));

		if (!hit)
			return age_fail("invalid character \"%c\" at position %zu", s[i], i + 1);
		values[(*nvalues)++] = (unsigned char) (hit - b32_charset);
		chk = polymod_step(chk, (unsigned) (hit - b32_charset));
	}
	if (chk != 1)
		return age_fail("bad checksum (a typo?)");
	*nvalues -= 6;
	*hrp_len = sep;
	return 0;
}

int
pgp_age_bech32_check(const char *s)
{
	unsigned char values[BECH32_MAX];
	size_t hrp_len, n;

	return bech32_parse(s, &hrp_len, values, &n);
}

int
pgp_age_bech32_decode(const char *s, char *hrp, size_t hrp_cap,
		      unsigned char *data, size_t cap, size_t *len)
{
	unsigned char values[BECH32_MAX];
	size_t hrp_len, n, out = 0;
	uint32_t acc = 0;
	int bits = 0, rc = -1;

	if (bech32_parse(s, &hrp_len, values, &n) != 0)
		return -1;
	if (hrp_len >= hrp_cap) {
		age_fail("prefix too long");
		goto cleanup;
	}
	memcpy(hrp, s, hrp_len);
	hrp[hrp_len] = '\0';
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 5) | values[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (out == cap) {
				age_fail("too much data");
				goto cleanup;
			}
			data[out++] = (unsigned char) (acc >> bits);
		}
	}
	/* Padding: fewer than 5 bits, all zero (else two strings, one key). */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
		age_fail("invalid padding");
		goto cleanup;
	}
	*len = out;
	rc = 0;
cleanup:
	OPENSSL_cleanse(values, sizeof(values));
	OPENSSL_cleanse(&acc, sizeof(acc));
	return rc;
}

int
pgp_age_bech32_encode(const char *hrp, const unsigned char *data, size_t len, char *out, size_t cap)
{
	size_t hrp_len = strlen(hrp), nvalues = (len * 8 + 4) / 5, o = 0;
	int upper = 0, bits = 0;
	uint32_t chk, acc = 0;

	if (hrp_len < 1 || hrp_len + 1 + nvalues + 6 > BECH32_MAX || hrp_len + 1 + nvalues + 6 >= cap)
		return age_fail("bech32 string too long");
	for (size_t i = 0; i < hrp_len; i++) {
		if ((unsigned char) hrp[i] < 33 || (unsigned char) hrp[i] > 126)
			return age_fail("invalid bech32 prefix");
		upper |= hrp[i] >= 'A' && hrp[i] <= 'Z';
		out[o++] = (char) lower((unsigned char) hrp[i]);
	}
	out[o++] = '1';
	chk = hrp_polymod(hrp, hrp_len);
	for (size_t i = 0; i < len || bits > 0;) {
		unsigned v;

		if (bits < 5 && i < len) {
			acc = (acc << 8) | data[i++];
			bits += 8;
		}
		if (bits >= 5) {
			bits -= 5;
			v = (acc >> bits) & 31;
		} else {
			v = (acc << (5 - bits)) & 31;
			bits = 0;
		}
		chk = polymod_step(chk, v);
		out[o++] = b32_charset[v];
	}
	for (int i = 0; i < 6; i++)
		chk = polymod_step(chk, 0);
	chk ^= 1;
	for (int i = 0; i < 6; i++)
		out[o++] = b32_charset[(chk >> (5 * (5 - i))) & 31];
	out[o] = '\0';
	if (upper)
		for (size_t i = 0; i < o; i++)
			if (out[i] >= 'a' && out[i] <= 'z')
				out[i] = (char) (out[i] - 32);
	OPENSSL_cleanse(&acc, sizeof(acc));
	return 0;
}

/* ---- base64, standard alphabet, unpadded, canonical ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t
pgp_age_base64_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = b64_alphabet[p[i] >> 2];
		out[o++] = b64_alphabet[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		out[o++] = b64_alphabet[p[i] >> 2];
		out[o++] = b64_alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = b64_alphabet[(p[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

int
pgp_age_base64_decode(const char *in, size_t len, void *out, size_t cap, size_t *outlen)
{
	unsigned char *o = out;
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return age_fail("invalid base64 length");
	if (len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
		return age_fail("base64 value too long");
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char) in[i]);

		if (v < 0)
			return age_fail(in[i] == '=' ? "padded base64 (age writes none)" :
					"invalid base64 character");
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char) (acc >> bits);
		}
	}
	/* Leftover bits must be zero: one value, one encoding. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return age_fail("non-canonical base64");
	*outlen = n;
	return 0;
}

size_t
pgp_age_base64_wrap(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t o = 0;

	/* 48 bytes make a full 64-column line; a short (maybe empty) one ends. */
	for (;;) {
		size_t take = len < 48 ? len : 48;

		o += pgp_age_base64_encode(p, take, out + o);
		out[o++] = '\n';
		p += take;
		len -= take;
		if (take < 48)
			break;
	}
	out[o] = '\0';
	return o;
}

int
pgp_age_base64_unwrap(const char *in, size_t len, void *out, size_t cap,
		      size_t *outlen, size_t *used)
{
	size_t pos = 0, n = 0;

	for (;;) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t line, got;

		if (!nl)
			return age_fail("stanza body without its final short line");
		line = (size_t) (nl - (in + pos));
		if (line > 64)
			return age_fail("stanza body line longer than 64 columns");
		if (pgp_age_base64_decode(in + pos, line, (unsigned char *) out + n, cap - n, &got) != 0)
			return age_fail_in("stanza body");
		n += got;
		pos += line + 1;
		if (line < 64)
			break;
	}
	*outlen = n;
	*used = pos;
	return 0;
}

/* ---- the primitives, from libcrypto ---- */

static int
hkdf_sha256(const unsigned char *ikm, size_t ikm_len, const unsigned char *salt, size_t salt_len,
	    const char *info, unsigned char *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5], *p = params;
	int rc;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) ikm, ikm_len);
	/* No salt is HKDF's default, the same as an empty one. */
	if (salt_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	rc = ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1 ? 0 : age_fail("HKDF failed in libcrypto");
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int
hmac_sha256(const unsigned char *key, size_t key_len, const void *data, size_t len, unsigned char *out)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	size_t out_len = 0;
	int rc;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	rc = ctx && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
		EVP_MAC_update(ctx, data, len) == 1 &&
		EVP_MAC_final(ctx, out, &out_len, 32) == 1 && out_len == 32 ? 0 : age_fail("HMAC failed in libcrypto");
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

static int
x25519_public(const unsigned char *secret, unsigned char *pub)
{
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, PGP_AGE_KEY_LEN);
	size_t len = PGP_AGE_KEY_LEN;
	int rc;

	rc = key && EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == PGP_AGE_KEY_LEN ?
		0 : age_fail("X25519 failed in libcrypto");
	EVP_PKEY_free(key);
	return rc;
}

/* The shared secret; -1 when it is all zero (a low-order point). */
static int
x25519(const unsigned char *secret, const unsigned char *peer, unsigned char *out)
{
	static const unsigned char zero[PGP_AGE_KEY_LEN];
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, PGP_AGE_KEY_LEN);
	EVP_PKEY *other = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, PGP_AGE_KEY_LEN);
	EVP_PKEY_CTX *ctx = key ? EVP_PKEY_CTX_new(key, NULL) : NULL;
	size_t len = PGP_AGE_KEY_LEN;
	int rc;

	rc = ctx && other && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, other) == 1 &&
		EVP_PKEY_derive(ctx, out, &len) == 1 && len == PGP_AGE_KEY_LEN &&
		CRYPTO_memcmp(out, zero, PGP_AGE_KEY_LEN) != 0 ? 0 : -1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
	return rc;
}

/* ChaCha20-Poly1305: seal len bytes into out (len + 16), or open len
 * sealed bytes into out (len - 16); -1 when the tag does not verify. */
static int
aead(EVP_CIPHER_CTX *ctx, int seal, const unsigned char *key, const unsigned char *nonce,
     const unsigned char *in, size_t len, unsigned char *out)
{
	size_t plain_len = seal ? len : len - TAG_LEN;
	int n = 0;

	if (!seal && len < TAG_LEN)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce, seal) != 1)
		return -1;
	if (!seal && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, (void *) (in + plain_len)) != 1)
		return -1;
	if (plain_len && EVP_CipherUpdate(ctx, out, &n, in, (int) plain_len) != 1)
		return -1;
	if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
		return -1;
	if (seal && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + plain_len) != 1)
		return -1;
	return 0;
}

/* The key that wraps the file key in an X25519 stanza. */
static int
wrap_key(const unsigned char *shared, const unsigned char *share, const unsigned char *recipient,
	 unsigned char *key)
{
	unsigned char salt[2 * PGP_AGE_KEY_LEN];

	memcpy(salt, share, PGP_AGE_KEY_LEN);
	memcpy(salt + PGP_AGE_KEY_LEN, recipient, PGP_AGE_KEY_LEN);
	return hkdf_sha256(shared, PGP_AGE_KEY_LEN, salt, sizeof(salt), X25519_INFO, key, 32);
}

static int
header_mac(const unsigned char *file_key, const char *hdr, size_t len, unsigned char *mac)
{
	unsigned char key[32];
	int rc;

	rc = hkdf_sha256(file_key, FILE_KEY_LEN, NULL, 0, "header", key, sizeof(key)) == 0 &&
		hmac_sha256(key, sizeof(key), hdr, len, mac) == 0 ? 0 : -1;
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static void
nonce_next(unsigned char *nonce)
{
	for (int i = NONCE_LEN - 2; i >= 0; i--)
		if (++nonce[i] != 0)
			break;
}

/* ---- keys ---- */

static int
starts_with_nocase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int
pgp_age_recipient_parse(const char *s, struct pgp_age_recipient *r)
{
	char hrp[BECH32_MAX + 1];
	size_t len;

	if (starts_with_nocase(s, "AGE-SECRET-KEY-"))
		return age_fail("an identity (secret key), not a recipient: give its public key, age1...");
	if (strncmp(s, "ssh-", 4) == 0)
		return age_fail("SSH recipients are not supported, only X25519 (age1...)");
	if (pgp_age_bech32_decode(s, hrp, sizeof(hrp), r->pub, sizeof(r->pub), &len) != 0)
		return age_fail_in("invalid recipient \"%.90s\"", s);
	if (strcmp(hrp, "age") != 0)
		return age_fail("invalid recipient \"%.90s\": not an X25519 age recipient (age1...)", s);
	if (len != PGP_AGE_KEY_LEN)
		return age_fail("invalid recipient \"%.90s\": %zu bytes of key, not 32", s, len);
	return 0;
}

int
pgp_age_identity_parse(const char *s, struct pgp_age_identity *id)
{
	char hrp[BECH32_MAX + 1];
	size_t len;

	/* Never echo s: it may be a secret with a typo. */
	if (strncmp(s, "age1", 4) == 0)
		return age_fail("a recipient (public key), not an identity (AGE-SECRET-KEY-1...)");
	if (pgp_age_bech32_decode(s, hrp, sizeof(hrp), id->secret, sizeof(id->secret), &len) != 0) {
		pgp_age_identity_wipe(id);
		return age_fail_in("invalid identity");
	}
	if (strcmp(hrp, "AGE-SECRET-KEY-") != 0) {
		pgp_age_identity_wipe(id);
		return age_fail(strcmp(hrp, "age-secret-key-") == 0 ?
				"invalid identity: must be upper case (AGE-SECRET-KEY-1...)" :
				"invalid identity: not an X25519 age identity (AGE-SECRET-KEY-1...)");
	}
	if (len != PGP_AGE_KEY_LEN) {
		pgp_age_identity_wipe(id);
		return age_fail("invalid identity: %zu bytes of key, not 32", len);
	}
	if (x25519_public(id->secret, id->pub) != 0) {
		pgp_age_identity_wipe(id);
		return -1;
	}
	return 0;
}

void
pgp_age_recipient_format(const struct pgp_age_recipient *r, char *out)
{
	pgp_age_bech32_encode("age", r->pub, PGP_AGE_KEY_LEN, out, PGP_AGE_RECIPIENT_SIZE);
}

void
pgp_age_identity_format(const struct pgp_age_identity *id, char *out)
{
	pgp_age_bech32_encode("AGE-SECRET-KEY-", id->secret, PGP_AGE_KEY_LEN, out, PGP_AGE_IDENTITY_SIZE);
}

void
pgp_age_identity_recipient(const struct pgp_age_identity *id, struct pgp_age_recipient *r)
{
	memcpy(r->pub, id->pub, PGP_AGE_KEY_LEN);
}

int
pgp_age_identity_generate(struct pgp_age_identity *id)
{
	if (RAND_bytes(id->secret, PGP_AGE_KEY_LEN) != 1)
		return age_fail("no random bytes from libcrypto");
	return x25519_public(id->secret, id->pub);
}

void
pgp_age_identity_wipe(struct pgp_age_identity *id)
{
	OPENSSL_cleanse(id, sizeof(*id));
}

void
pgp_age_identities_free(struct pgp_age_identity *ids, size_t n)
{
	if (!ids)
		return;
	OPENSSL_cleanse(ids, n * sizeof(*ids));
	free(ids);
}

/* ---- key files ---- */

/* The whole file, NUL-terminated; for an identity file, only if private. */
static int
read_key_file(const char *path, int secret, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int rc = -1;

	if (fd < 0)
		return age_fail("cannot open %s: %s", path, strerror(errno));
	/* fstat the open file: the file checked is the file read. */
	if (fstat(fd, &st) != 0) {
		age_fail("cannot stat %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (secret && (st.st_mode & (S_IRGRP | S_IROTH))) {
		age_fail("%s is readable by others (chmod 600)", path);
		goto cleanup;
	}
	if (secret && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		age_fail("%s is writable by others (chmod 600)", path);
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > HEADER_MAX) {
		age_fail("%s: not a key file (not a regular file, or over 1 MiB)", path);
		goto cleanup;
	}
	if (!(buf = malloc((size_t) st.st_size + 1))) {
		age_fail("out of memory");
		goto cleanup;
	}
	while (got < (size_t) st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			age_fail("cannot read %s: %s", path, n < 0 ? strerror(errno) : "file shrank");
			goto cleanup;
		}
		got += (size_t) n;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
	rc = 0;
cleanup:
	if (buf) {
		OPENSSL_cleanse(buf, (size_t) st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

/*
 * Call parse on every line that is not blank or a comment; CR LF line
 * ends are accepted as age accepts them.  parse fills slot i of *items.
 */
static int
read_key_lines(const char *path, int secret, size_t item_size, void **items, size_t *count,
	       int (*parse)(const char *line, void *item))
{
	char *text = NULL, *line, *next;
	size_t len = 0, lineno = 0, n = 0, cap = 0;
	unsigned char *arr = NULL;
	int rc = -1;

	if (read_key_file(path, secret, &text, &len) != 0)
		return -1;
	if (memchr(text, '\0', len)) {
		age_fail("%s: not a text file", path);
		goto cleanup;
	}
	for (line = text; line && *line; line = next) {
		size_t l;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			unsigned char *grown = malloc(ncap * item_size);

			if (!grown) {
				age_fail("out of memory");
				goto cleanup;
			}
			if (arr) {
				memcpy(grown, arr, n * item_size);
				OPENSSL_cleanse(arr, n * item_size);
				free(arr);
			}
			arr = grown;
			cap = ncap;
		}
		if (parse(line, arr + n * item_size) != 0) {
			age_fail_in("%s:%zu", path, lineno);
			goto cleanup;
		}
		n++;
	}
	if (n == 0) {
		age_fail("%s: no %s in the file", path, secret ? "identity" : "recipient");
		goto cleanup;
	}
	*items = arr;
	*count = n;
	arr = NULL;
	rc = 0;
cleanup:
	if (arr) {
		OPENSSL_cleanse(arr, cap * item_size);
		free(arr);
	}
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

static int
parse_recipient_item(const char *line, void *item)
{
	return pgp_age_recipient_parse(line, item);
}

static int
parse_identity_item(const char *line, void *item)
{
	return pgp_age_identity_parse(line, item);
}

int
pgp_age_recipients_read(const char *path, struct pgp_age_recipient **out, size_t *n)
{
	return read_key_lines(path, 0, sizeof(**out), (void **) out, n, parse_recipient_item);
}

int
pgp_age_identities_read(const char *path, struct pgp_age_identity **out, size_t *n)
{
	return read_key_lines(path, 1, sizeof(**out), (void **) out, n, parse_identity_item);
}

/* RFC 3339 in local time, as age-keygen writes it ("Z" for UTC). */
static void
rfc3339_now(char *out, size_t cap)
{
	time_t now = time(NULL);
	struct tm tm;
	char zone[8];
	size_t n;

	localtime_r(&now, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	if (strcmp(zone, "+0000") == 0)
		snprintf(out + n, cap - n, "Z");
	else
		snprintf(out + n, cap - n, "%.3s:%.2s", zone, zone + 3);
}

int
pgp_age_keygen_file(const char *path, struct pgp_age_recipient *pub)
{
	struct pgp_age_identity id;
	struct pgp_age_recipient r;
	char secret[PGP_AGE_IDENTITY_SIZE], public[PGP_AGE_RECIPIENT_SIZE], when[40], text[256];
	int fd = -1, rc = -1, len, created = 0;

	if (pgp_age_identity_generate(&id) != 0)
		return -1;
	pgp_age_identity_format(&id, secret);
	pgp_age_identity_recipient(&id, &r);
	pgp_age_recipient_format(&r, public);
	rfc3339_now(when, sizeof(when));
	len = snprintf(text, sizeof(text), "# created: %s\n# public key: %s\n%s\n", when, public, secret);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		age_fail("cannot create %s: %s", path, strerror(errno));
		goto cleanup;
	}
	created = 1;
	if (write(fd, text, (size_t) len) != len || fsync(fd) != 0) {
		age_fail("cannot write %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		age_fail("cannot write %s: %s", path, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (pgp_fsync_dir_of(path) != 0) {
		age_fail("cannot fsync the directory of %s: %s", path, strerror(errno));
		goto cleanup;
	}
	*pub = r;
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	/* a key file that failed half way is no key: the next keygen must not find it */
	if (rc != 0 && created)
		unlink(path);
	pgp_age_identity_wipe(&id);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

/* ---- encryption ---- */

struct pgp_age_enc {
	pgp_age_sink write_fn;
	void *write_ctx;
	EVP_CIPHER_CTX *cipher;
	unsigned char key[32];
	unsigned char nonce[NONCE_LEN];
	size_t fill;
	int dead;
	unsigned char plain[PGP_AGE_CHUNK];
	unsigned char sealed[SEALED_CHUNK];
};

/* "-> X25519 <share>\n<wrapped file key>\n" for one recipient, at out. */
static int
x25519_stanza(EVP_CIPHER_CTX *cipher, const unsigned char *file_key,
	      const struct pgp_age_recipient *r, size_t which, char *out, size_t *len)
{
	static const unsigned char zero_nonce[NONCE_LEN];
	unsigned char eph[PGP_AGE_KEY_LEN], share[PGP_AGE_KEY_LEN], shared[PGP_AGE_KEY_LEN];
	unsigned char key[32], body[FILE_KEY_LEN + TAG_LEN];
	size_t o;
	int rc = -1;

	if (RAND_bytes(eph, sizeof(eph)) != 1) {
		age_fail("no random bytes from libcrypto");
		goto cleanup;
	}
	if (x25519_public(eph, share) != 0)
		goto cleanup;
	if (x25519(eph, r->pub, shared) != 0) {
		age_fail("recipient %zu is not a usable X25519 public key", which + 1);
		goto cleanup;
	}
	if (wrap_key(shared, share, r->pub, key) != 0)
		goto cleanup;
	if (aead(cipher, 1, key, zero_nonce, file_key, FILE_KEY_LEN, body) != 0) {
		age_fail("ChaCha20-Poly1305 failed in libcrypto");
		goto cleanup;
	}
	o = (size_t) sprintf(out, "-> X25519 ");
	o += pgp_age_base64_encode(share, sizeof(share), out + o);
	out[o++] = '\n';
	o += pgp_age_base64_wrap(body, sizeof(body), out + o);
	*len = o;
	rc = 0;
cleanup:
	OPENSSL_cleanse(eph, sizeof(eph));
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* The whole header and the payload nonce; the payload key into e. */
static int
enc_header(struct pgp_age_enc *e, const struct pgp_age_recipient *recipients, size_t n)
{
	/* A stanza: "-> X25519 " 10 + 43 + 1, body 43 + 1. */
	size_t cap = AGE_MAGIC_LEN + n * 100 + 4 + MAC_B64_LEN + 1 + PAYLOAD_NONCE_LEN + 1, len = 0;
	unsigned char file_key[FILE_KEY_LEN], mac[32], nonce[PAYLOAD_NONCE_LEN];
	char *hdr = malloc(cap);
	int rc = -1;

	if (!hdr)
		return age_fail("out of memory");
	if (RAND_bytes(file_key, sizeof(file_key)) != 1 || RAND_bytes(nonce, sizeof(nonce)) != 1) {
		age_fail("no random bytes from libcrypto");
		goto cleanup;
	}
	memcpy(hdr, AGE_MAGIC, AGE_MAGIC_LEN);
	len = AGE_MAGIC_LEN;
	for (size_t i = 0; i < n; i++) {
		size_t l;

		if (x25519_stanza(e->cipher, file_key, &recipients[i], i, hdr + len, &l) != 0)
			goto cleanup;
		len += l;
	}
	memcpy(hdr + len, "---", 3);
	len += 3;
	if (header_mac(file_key, hdr, len, mac) != 0)
		goto cleanup;
	hdr[len++] = ' ';
	len += pgp_age_base64_encode(mac, sizeof(mac), hdr + len);
	hdr[len++] = '\n';
	memcpy(hdr + len, nonce, sizeof(nonce));
	len += sizeof(nonce);
	if (hkdf_sha256(file_key, sizeof(file_key), nonce, sizeof(nonce), "payload", e->key, sizeof(e->key)) != 0)
		goto cleanup;
	if (e->write_fn(e->write_ctx, hdr, len) != 0) {
		age_fail("cannot write the age header");
		goto cleanup;
	}
	rc = 0;
cleanup:
	OPENSSL_cleanse(file_key, sizeof(file_key));
	free(hdr);
	return rc;
}

struct pgp_age_enc *
pgp_age_enc_begin(const struct pgp_age_recipient *recipients, size_t n,
		  pgp_age_sink write_fn, void *write_ctx)
{
	struct pgp_age_enc *e;

	if (n == 0) {
		age_fail("no recipients to encrypt to");
		return NULL;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->cipher = EVP_CIPHER_CTX_new())) {
		age_fail("out of memory");
		pgp_age_enc_free(e);
		return NULL;
	}
	e->write_fn = write_fn;
	e->write_ctx = write_ctx;
	if (enc_header(e, recipients, n) != 0) {
		pgp_age_enc_free(e);
		return NULL;
	}
	return e;
}

static int
enc_seal(struct pgp_age_enc *e, int last)
{
	static const unsigned char max_counter[NONCE_LEN - 1] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (memcmp(e->nonce, max_counter, sizeof(max_counter)) == 0 && !last)
		return age_fail("payload too long for age's chunk counter");
	e->nonce[NONCE_LEN - 1] = (unsigned char) last;
	if (aead(e->cipher, 1, e->key, e->nonce, e->plain, e->fill, e->sealed) != 0)
		return age_fail("ChaCha20-Poly1305 failed in libcrypto");
	if (e->write_fn(e->write_ctx, e->sealed, e->fill + TAG_LEN) != 0)
		return age_fail("cannot write the encrypted payload");
	nonce_next(e->nonce);
	e->fill = 0;
	return 0;
}

int
pgp_age_enc_write(struct pgp_age_enc *e, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (e->dead)
		return age_fail("write to a failed or finished age stream");
	while (len > 0) {
		size_t take;

		/* A full chunk is sealed only once more data follows: the last
		 * chunk may be full, and it must carry the last-chunk flag. */
		if (e->fill == PGP_AGE_CHUNK && enc_seal(e, 0) != 0) {
			e->dead = 1;
			return -1;
		}
		take = PGP_AGE_CHUNK - e->fill < len ? PGP_AGE_CHUNK - e->fill : len;
		memcpy(e->plain + e->fill, p, take);
		e->fill += take;
		p += take;
		len -= take;
	}
	return 0;
}

int
pgp_age_enc_finish(struct pgp_age_enc *e)
{
	if (e->dead)
		return age_fail("finish of a failed or finished age stream");
	e->dead = 1;
	return enc_seal(e, 1);
}

void
pgp_age_enc_free(struct pgp_age_enc *e)
{
	if (!e)
		return;
	EVP_CIPHER_CTX_free(e->cipher);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

/* ---- decryption ---- */

enum dec_state {
	DEC_HEADER,
	DEC_NONCE,
	DEC_PAYLOAD,
	DEC_DONE,
	DEC_FAILED
};

struct x25519_stanza {
	unsigned char share[PGP_AGE_KEY_LEN];
	unsigned char body[FILE_KEY_LEN + TAG_LEN];
};

struct pgp_age_dec {
	struct pgp_age_identity *ids;
	size_t nids;
	pgp_age_sink out_fn;
	void *out_ctx;
	enum dec_state state;
	enum pgp_age_status status;
	char err[sizeof(age_errbuf)];
	char *hdr;
	size_t hdr_len, hdr_cap, line_start;
	size_t x25519_count, stanza_count;
	int header_parsed;
	EVP_CIPHER_CTX *cipher;
	unsigned char file_key[FILE_KEY_LEN];
	unsigned char payload_nonce[PAYLOAD_NONCE_LEN];
	size_t nonce_fill;
	unsigned char key[32];
	unsigned char nonce[NONCE_LEN];
	unsigned long long chunks;
	size_t fill;
	unsigned char sealed[SEALED_CHUNK];
	unsigned char plain[PGP_AGE_CHUNK];
};

/* Record a failure of kind status; the message is in age_errbuf. */
static int
dec_failed(struct pgp_age_dec *d, enum pgp_age_status status)
{
	d->state = DEC_FAILED;
	d->status = status;
	snprintf(d->err, sizeof(d->err), "%s", age_errbuf);
	OPENSSL_cleanse(d->key, sizeof(d->key));
	OPENSSL_cleanse(d->file_key, sizeof(d->file_key));
	return -1;
}

struct pgp_age_dec *
pgp_age_dec_begin(const struct pgp_age_identity *ids, size_t n, pgp_age_sink out_fn, void *out_ctx)
{
	struct pgp_age_dec *d;

	if (n == 0) {
		age_fail("no identities to decrypt with");
		return NULL;
	}
	if (!(d = calloc(1, sizeof(*d))) || !(d->cipher = EVP_CIPHER_CTX_new()) ||
	    !(d->ids = malloc(n * sizeof(*ids)))) {
		age_fail("out of memory");
		pgp_age_dec_free(d);
		return NULL;
	}
	memcpy(d->ids, ids, n * sizeof(*ids));
	d->nids = n;
	d->out_fn = out_fn;
	d->out_ctx = out_ctx;
	return d;
}

/* "-> type arg...": every argument non-empty, printable ASCII. */
static int
parse_stanza_args(const char *line, size_t len, const char **args, size_t *lens, size_t max, size_t *nargs)
{
	size_t n = 0, start = 3;

	if (len < 3 || memcmp(line, "-> ", 3) != 0)
		return age_fail("malformed header line (neither a stanza nor the MAC)");
	for (size_t i = 3; i <= len; i++) {
		if (i < len && line[i] != ' ') {
			if ((unsigned char) line[i] < 33 || (unsigned char) line[i] > 126)
				return age_fail("invalid character in a stanza line");
			continue;
		}
		if (i == start)
			return age_fail("empty argument in a stanza line");
		if (n < max) {
			args[n] = line + start;
			lens[n] = i - start;
		}
		n++;
		start = i + 1;
	}
	*nargs = n;
	return 0;
}

/* One stanza at p (its line and body); an X25519 one is kept in st. */
static int
parse_stanza(struct pgp_age_dec *d, const char *p, const char *end, unsigned char *body,
	     struct x25519_stanza *st, int *is_x25519, int *is_scrypt, size_t *used)
{
	const char *nl = memchr(p, '\n', (size_t) (end - p)), *args[3];
	size_t lens[3], nargs = 0, body_len, body_used, share_len;

	if (parse_stanza_args(p, (size_t) (nl - p), args, lens, 3, &nargs) != 0)
		return -1;
	if (pgp_age_base64_unwrap(nl + 1, (size_t) (end - nl - 1), body, d->hdr_len, &body_len, &body_used) != 0)
		return -1;
	*used = (size_t) (nl + 1 - p) + body_used;
	*is_scrypt = lens[0] == 6 && memcmp(args[0], "scrypt", 6) == 0;
	*is_x25519 = lens[0] == 6 && memcmp(args[0], "X25519", 6) == 0;
	if (!*is_x25519)
		return 0;
	if (nargs != 2)
		return age_fail("invalid X25519 stanza: %zu arguments, not 1", nargs - 1);
	if (pgp_age_base64_decode(args[1], lens[1], st->share, sizeof(st->share), &share_len) != 0 ||
	    share_len != PGP_AGE_KEY_LEN)
		return age_fail("invalid X25519 stanza: the share is not 32 bytes of canonical base64");
	if (body_len != sizeof(st->body))
		return age_fail("invalid X25519 stanza: a body of %zu bytes, not 32", body_len);
	memcpy(st->body, body, sizeof(st->body));
	return 0;
}

/* Try every identity on every X25519 stanza for the file key. */
static int
unwrap_file_key(struct pgp_age_dec *d, const struct x25519_stanza *st, size_t n)
{
	static const unsigned char zero_nonce[NONCE_LEN];
	unsigned char shared[PGP_AGE_KEY_LEN], key[32];
	int rc = 1;

	for (size_t s = 0; s < n && rc == 1; s++)
		for (size_t i = 0; i < d->nids && rc == 1; i++) {
			if (x25519(d->ids[i].secret, st[s].share, shared) != 0) {
				rc = age_fail("invalid X25519 stanza: a low-order share");
				break;
			}
			if (wrap_key(shared, st[s].share, d->ids[i].pub, key) != 0) {
				rc = -1;
				break;
			}
			if (aead(d->cipher, 0, key, zero_nonce, st[s].body, sizeof(st[s].body), d->file_key) == 0)
				rc = 0;
		}
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* The complete header is in d->hdr, its last line the MAC line. */
static int
dec_header(struct pgp_age_dec *d)
{
	const char *p = d->hdr + AGE_MAGIC_LEN, *end = d->hdr + d->hdr_len, *mac_line = end;
	unsigned char *body = malloc(d->hdr_len), mac[32], want[32];
	/* An X25519 stanza takes at least 98 bytes of header. */
	size_t max_st = d->hdr_len / 50 + 1;
	struct x25519_stanza *st = calloc(max_st, sizeof(*st));
	size_t nst = 0, scrypt = 0, mac_len, used;
	int is_x25519, is_scrypt, rc;

	if (!body || !st) {
		age_fail("out of memory");
		rc = dec_failed(d, PGP_AGE_ERR_OTHER);
		goto cleanup;
	}
	while (end - p >= 3 && memcmp(p, "---", 3) != 0) {
		if (parse_stanza(d, p, end, body, &st[nst], &is_x25519, &is_scrypt, &used) != 0) {
			rc = dec_failed(d, PGP_AGE_ERR_HEADER);
			goto cleanup;
		}
		nst += is_x25519;
		scrypt += is_scrypt;
		d->stanza_count++;
		p += used;
	}
	mac_line = p;
	d->x25519_count = nst;
	d->header_parsed = 1;
	/* The MAC line is "--- " and 43 characters, exactly. */
	if ((size_t) (end - mac_line) != 4 + MAC_B64_LEN + 1 || memcmp(mac_line, "--- ", 4) != 0 ||
	    pgp_age_base64_decode(mac_line + 4, MAC_B64_LEN, want, sizeof(want), &mac_len) != 0) {
		age_fail("malformed header MAC line");
		rc = dec_failed(d, PGP_AGE_ERR_HEADER);
		goto cleanup;
	}
	if (d->stanza_count == 0 || (scrypt && d->stanza_count > 1)) {
		age_fail(scrypt ? "invalid header: an scrypt stanza must be the only one" :
			 "invalid header: no recipient stanzas");
		rc = dec_failed(d, PGP_AGE_ERR_HEADER);
		goto cleanup;
	}
	rc = unwrap_file_key(d, st, nst);
	if (rc != 0) {
		if (rc > 0)
			age_fail("no identity matches any of the %zu recipient stanzas", d->stanza_count);
		rc = dec_failed(d, rc > 0 ? PGP_AGE_ERR_NOMATCH : PGP_AGE_ERR_HEADER);
		goto cleanup;
	}
	if (header_mac(d->file_key, d->hdr, (size_t) (mac_line + 3 - d->hdr), mac) != 0) {
		rc = dec_failed(d, PGP_AGE_ERR_OTHER);
		goto cleanup;
	}
	if (CRYPTO_memcmp(mac, want, sizeof(mac)) != 0) {
		age_fail("header MAC mismatch: the header was altered");
		rc = dec_failed(d, PGP_AGE_ERR_MAC);
		goto cleanup;
	}
	d->state = DEC_NONCE;
cleanup:
	if (st)
		OPENSSL_cleanse(st, max_st * sizeof(*st));
	free(st);
	free(body);
	return rc;
}

/* Take header bytes up to the end of the MAC line; *used says how many. */
static int
dec_header_bytes(struct pgp_age_dec *d, const unsigned char *data, size_t len, size_t *used)
{
	const unsigned char *nl = memchr(data, '\n', len);
	size_t take = nl ? (size_t) (nl - data) + 1 : len;

	if (d->hdr_len + take > HEADER_MAX) {
		age_fail("not an age file (no end of header in the first 1 MiB)");
		return dec_failed(d, PGP_AGE_ERR_HEADER);
	}
	if (d->hdr_len + take > d->hdr_cap) {
		size_t ncap = d->hdr_cap ? d->hdr_cap : 4096;
		char *grown;

		while (ncap < d->hdr_len + take)
			ncap *= 2;
		if (!(grown = realloc(d->hdr, ncap))) {
			age_fail("out of memory");
			return dec_failed(d, PGP_AGE_ERR_OTHER);
		}
		d->hdr = grown;
		d->hdr_cap = ncap;
	}
	memcpy(d->hdr + d->hdr_len, data, take);
	/* Fail at the first byte that cannot start an age file. */
	for (size_t i = d->hdr_len; i < d->hdr_len + take && i < AGE_MAGIC_LEN; i++)
		if (d->hdr[i] != AGE_MAGIC[i]) {
			age_fail(i >= 19 ? "not age-encryption.org/v1 (another version, or a damaged first line)" :
				 "not an age file (no age-encryption.org/v1 header)");
			return dec_failed(d, PGP_AGE_ERR_HEADER);
		}
	d->hdr_len += take;
	*used = take;
	if (!nl)
		return 0;
	if (d->hdr_len - d->line_start >= 3 && memcmp(d->hdr + d->line_start, "---", 3) == 0)
		return dec_header(d);
	d->line_start = d->hdr_len;
	return 0;
}

static int
dec_emit(struct pgp_age_dec *d, size_t len)
{
	if (len && d->out_fn(d->out_ctx, d->plain, len) != 0) {
		age_fail("cannot write the decrypted data");
		return dec_failed(d, PGP_AGE_ERR_OTHER);
	}
	return 0;
}

/* Open the buffered chunk: as a middle one if it is full, else (or if
 * that fails) as the last one.  Plaintext leaves only once verified. */
static int
dec_chunk(struct pgp_age_dec *d)
{
	size_t len = d->fill - TAG_LEN;

	if (d->fill == SEALED_CHUNK) {
		d->nonce[NONCE_LEN - 1] = 0;
		if (aead(d->cipher, 0, d->key, d->nonce, d->sealed, d->fill, d->plain) == 0) {
			nonce_next(d->nonce);
			d->chunks++;
			d->fill = 0;
			return dec_emit(d, len);
		}
	}
	d->nonce[NONCE_LEN - 1] = 1;
	if (aead(d->cipher, 0, d->key, d->nonce, d->sealed, d->fill, d->plain) != 0) {
		age_fail("payload chunk %llu is corrupt, reordered or truncated (authentication failed)",
			 d->chunks + 1);
		return dec_failed(d, PGP_AGE_ERR_PAYLOAD);
	}
	/* Only an empty payload has an empty last chunk. */
	if (len == 0 && d->chunks > 0) {
		age_fail("an empty last chunk after chunk %llu (only an empty payload has one)", d->chunks);
		return dec_failed(d, PGP_AGE_ERR_PAYLOAD);
	}
	d->chunks++;
	d->fill = 0;
	d->state = DEC_DONE;
	OPENSSL_cleanse(d->key, sizeof(d->key));
	return dec_emit(d, len);
}

int
pgp_age_dec_write(struct pgp_age_dec *d, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t take = 0;

		switch (d->state) {
		case DEC_HEADER:
			if (dec_header_bytes(d, p, len, &take) != 0)
				return -1;
			break;
		case DEC_NONCE:
			take = PAYLOAD_NONCE_LEN - d->nonce_fill < len ? PAYLOAD_NONCE_LEN - d->nonce_fill : len;
			memcpy(d->payload_nonce + d->nonce_fill, p, take);
			d->nonce_fill += take;
			if (d->nonce_fill == PAYLOAD_NONCE_LEN) {
				if (hkdf_sha256(d->file_key, FILE_KEY_LEN, d->payload_nonce, PAYLOAD_NONCE_LEN,
						"payload", d->key, sizeof(d->key)) != 0)
					return dec_failed(d, PGP_AGE_ERR_OTHER);
				OPENSSL_cleanse(d->file_key, sizeof(d->file_key));
				d->state = DEC_PAYLOAD;
			}
			break;
		case DEC_PAYLOAD:
			take = SEALED_CHUNK - d->fill < len ? SEALED_CHUNK - d->fill : len;
			memcpy(d->sealed + d->fill, p, take);
			d->fill += take;
			if (d->fill == SEALED_CHUNK && dec_chunk(d) != 0)
				return -1;
			break;
		case DEC_DONE:
			age_fail("trailing data after the last chunk");
			return dec_failed(d, PGP_AGE_ERR_PAYLOAD);
		case DEC_FAILED:
			return age_fail("%s", d->err);
		}
		p += take;
		len -= take;
	}
	return 0;
}

int
pgp_age_dec_finish(struct pgp_age_dec *d)
{
	switch (d->state) {
	case DEC_HEADER:
		age_fail(d->hdr_len ? "truncated age header" : "empty input: not an age file");
		return dec_failed(d, PGP_AGE_ERR_HEADER);
	case DEC_NONCE:
		age_fail("truncated age file: the payload nonce is missing");
		return dec_failed(d, PGP_AGE_ERR_HEADER);
	case DEC_PAYLOAD:
		if (d->fill == 0) {
			if (d->chunks)
				age_fail("truncated age file: no last chunk after chunk %llu", d->chunks);
			else
				age_fail("truncated age file: no payload");
			return dec_failed(d, PGP_AGE_ERR_PAYLOAD);
		}
		if (d->fill < TAG_LEN) {
			age_fail("truncated age file: chunk %llu is shorter than its tag", d->chunks + 1);
			return dec_failed(d, PGP_AGE_ERR_PAYLOAD);
		}
		if (dec_chunk(d) != 0)
			return -1;
		/* A full middle chunk that verified, then the end: truncated. */
		if (d->state != DEC_DONE) {
			age_fail("truncated age file: no last chunk after chunk %llu", d->chunks);
			return dec_failed(d, PGP_AGE_ERR_PAYLOAD);
		}
		return 0;
	case DEC_DONE:
		return 0;
	case DEC_FAILED:
		break;
	}
	return age_fail("%s", d->err);
}

enum pgp_age_status
pgp_age_dec_status(const struct pgp_age_dec *d)
{
	return d->status;
}

int
pgp_age_dec_stanzas(const struct pgp_age_dec *d, size_t *x25519_count, size_t *total)
{
	if (!d->header_parsed)
		return -1;
	*x25519_count = d->x25519_count;
	*total = d->stanza_count;
	return 0;
}

void
pgp_age_dec_free(struct pgp_age_dec *d)
{
	if (!d)
		return;
	pgp_age_identities_free(d->ids, d->nids);
	EVP_CIPHER_CTX_free(d->cipher);
	free(d->hdr);
	OPENSSL_cleanse(d, sizeof(*d));
	free(d);
}

int
pgp_age_detect(const void *data, size_t len)
{
	return len >= AGE_MAGIC_LEN && memcmp(data, AGE_MAGIC, AGE_MAGIC_LEN) == 0;
}
