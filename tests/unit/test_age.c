/*
 * age: Bech32 against BIP 173's vectors, the header's base64 rules, round
 * trips of every awkward size fed in awkward pieces, every way a stored
 * file can be damaged, key files, and C2SP's CCTV age vectors
 * (tests/unit/age-vectors) for everything pgp implements.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "age.h"
#include "tap.h"

struct buf {
	unsigned char *data;
	size_t len, cap;
};

static int
buf_put(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;

	if (len == 0)
		return 0;
	if (b->len + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;

		while (ncap < b->len + len)
			ncap *= 2;
		b->data = realloc(b->data, ncap);
		b->cap = ncap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* Deterministic bytes: the test is the same on every run. */
static uint32_t rng_state = 2463534242u;

static uint32_t
next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- Bech32 ---- */

static void
test_bech32(void)
{
	/* BIP 173 (sipa/bech32 ref/c/tests.c): valid Bech32 checksums ... */
	static const char *valid[] = {
		"A12UEL5L", "a12uel5l",
		"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
		"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
		"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl",
		"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
		"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
	};
	/* ... invalid ones, and BIP 350's Bech32m strings, not Bech32. */
	static const char *invalid[] = {
		" 1nwldj5", "\x7f" "1axkwrx", "\x80" "1eym55h",
		"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
		"pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "de1lg7wt\xff", "A1G7SGD8",
		"10a06t8", "1qzzfhee",
		"A1LQFN3A", "a1lqfn3a", "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", "?1v759aa",
		"tb1qrP33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
	};
	static const unsigned char witness[20] = {
		0x75, 0x1e, 0x76, 0xe8, 0x19, 0x91, 0x96, 0xd4, 0x54, 0x94,
		0x1c, 0x45, 0xd1, 0xb3, 0xa3, 0x23, 0xf1, 0x43, 0x3b, 0xd6};
	unsigned char data[64];
	char hrp[16], out[100];
	size_t len;
	int all = 1;

	for (size_t i = 0; i < sizeof(valid) / sizeof(*valid); i++)
		if (pgp_age_bech32_check(valid[i]) != 0) {
			all = 0;
			printf("# refused valid %s: %s\n", valid[i], pgp_age_error());
		}
	ok(all, "BIP 173: the %zu valid Bech32 strings pass", sizeof(valid) / sizeof(*valid));
	all = 1;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++)
		if (pgp_age_bech32_check(invalid[i]) == 0) {
			all = 0;
			printf("# accepted invalid string %zu\n", i);
		}
	ok(all, "BIP 173: the %zu invalid strings (and Bech32m ones) are refused", sizeof(invalid) / sizeof(*invalid));

	ok(pgp_age_bech32_decode("A12UEL5L", hrp, sizeof(hrp), data, sizeof(data), &len) == 0 && len == 0,
	   "A12UEL5L decodes to no data");
	is_str(hrp, "A", "with the HRP as written");
	/* A segwit v0 program: 5-bit version 0, then the witness as 8-bit data. */
	ok(pgp_age_bech32_encode("bc", (const unsigned char *) "", 0, out, sizeof(out)) == 0, "empty data encodes");
	ok(pgp_age_bech32_decode("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", hrp, sizeof(hrp), data, sizeof(data), &len) != 0,
	   "BIP 173 address with its version value: not whole bytes, refused as data");
	ok(pgp_age_bech32_encode("bc", witness, sizeof(witness), out, sizeof(out)) == 0 &&
	   pgp_age_bech32_decode(out, hrp, sizeof(hrp), data, sizeof(data), &len) == 0 &&
	   len == sizeof(witness) && memcmp(data, witness, len) == 0, "bytes round-trip: %s", out);
	ok(pgp_age_bech32_encode("BC", witness, sizeof(witness), out, sizeof(out)) == 0 &&
	   strspn(out, "BC1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L") == strlen(out), "an upper-case HRP gives an upper-case string");
}

/* ---- keys ---- */

#define TEST_IDENTITY "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"

static void
test_keys(void)
{
	struct pgp_age_identity id, id2;
	struct pgp_age_recipient r, r2;
	char text[PGP_AGE_IDENTITY_SIZE], pub[PGP_AGE_RECIPIENT_SIZE], lower[sizeof(TEST_IDENTITY)];

	ok(pgp_age_identity_parse(TEST_IDENTITY, &id) == 0, "CCTV's test identity parses");
	pgp_age_identity_format(&id, text);
	is_str(text, TEST_IDENTITY, "and formats back the same");
	pgp_age_identity_recipient(&id, &r);
	pgp_age_recipient_format(&r, pub);
	ok(strncmp(pub, "age1", 4) == 0 && strlen(pub) == 62, "its recipient is age1 and 62 characters");
	ok(pgp_age_recipient_parse(pub, &r2) == 0 && memcmp(r.pub, r2.pub, 32) == 0, "which parses back");
	for (size_t i = 0; i < sizeof(TEST_IDENTITY); i++)
		lower[i] = (char) (TEST_IDENTITY[i] >= 'A' && TEST_IDENTITY[i] <= 'Z' ? TEST_IDENTITY[i] + 32 : TEST_IDENTITY[i]);
	ok(pgp_age_identity_parse(lower, &id2) != 0 && strstr(pgp_age_error(), "upper case"),
	   "a lower-case identity is refused: %s", pgp_age_error());
	ok(pgp_age_identity_parse(pub, &id2) != 0 && strstr(pgp_age_error(), "a recipient"),
	   "a recipient given as identity: %s", pgp_age_error());
	ok(pgp_age_recipient_parse(TEST_IDENTITY, &r2) != 0 && strstr(pgp_age_error(), "an identity") &&
	   !strstr(pgp_age_error(), "EGTZ"), "an identity given as recipient, not echoed: %s", pgp_age_error());
	pub[10] = pub[10] == 'q' ? 'p' : 'q';
	ok(pgp_age_recipient_parse(pub, &r2) != 0 && strstr(pgp_age_error(), "checksum"),
	   "a typo in a recipient: %s", pgp_age_error());
	memcpy(text, TEST_IDENTITY, sizeof(TEST_IDENTITY));
	text[20] = text[20] == 'Q' ? 'P' : 'Q';
	ok(pgp_age_identity_parse(text, &id2) != 0 && strstr(pgp_age_error(), "checksum") &&
	   !strstr(pgp_age_error(), text + 16), "a typo in an identity, not echoed: %s", pgp_age_error());
	ok(pgp_age_recipient_parse("ssh-ed25519 AAAA", &r2) != 0, "ssh recipients refused: %s", pgp_age_error());
	ok(pgp_age_identity_generate(&id2) == 0 && memcmp(id2.secret, id.secret, 32) != 0, "a new identity");
	pgp_age_identity_wipe(&id);
	pgp_age_identity_wipe(&id2);
}

/* ---- base64 ---- */

static int
b64_refused(const char *s)
{
	unsigned char out[64];
	size_t len;

	return pgp_age_base64_decode(s, strlen(s), out, sizeof(out), &len) != 0;
}

static void
test_base64(void)
{
	static const char *rfc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	unsigned char bytes[200], back[200];
	char text[400];
	size_t len, used;
	int all = 1;

	for (int i = 0; i <= 6; i++) {
		pgp_age_base64_encode("foobar", (size_t) i, text);
		all &= strcmp(text, rfc[i]) == 0;
		all &= pgp_age_base64_decode(rfc[i], strlen(rfc[i]), back, sizeof(back), &len) == 0 &&
			len == (size_t) i && memcmp(back, "foobar", len) == 0;
	}
	ok(all, "RFC 4648's vectors, without padding, both ways");
	ok(b64_refused("Zg==") && strstr(pgp_age_error(), "padded"), "padding refused: %s", pgp_age_error());
	ok(b64_refused("Zm8="), "a single = refused");
	ok(b64_refused("Zh") && strstr(pgp_age_error(), "non-canonical"), "non-zero trailing bits refused (Zh)");
	ok(b64_refused("Zm9"), "non-zero trailing bits refused (Zm9)");
	ok(b64_refused("Z"), "a length of 4n+1 refused");
	ok(b64_refused("Zm-v") && b64_refused("Zm_v"), "URL-safe alphabet refused");
	ok(b64_refused("Zm9v\r") && b64_refused("Zm 9v"), "CR and space refused");

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char) next_random();
	pgp_age_base64_wrap(bytes, 0, text);
	is_str(text, "\n", "an empty body is one empty line");
	len = pgp_age_base64_wrap(bytes, 47, text);
	ok(len == 64 && text[63] == '\n', "47 bytes: one short line of 63 columns");
	len = pgp_age_base64_wrap(bytes, 48, text);
	ok(len == 66 && text[64] == '\n' && text[65] == '\n', "48 bytes: a full 64-column line, then an empty one");
	len = pgp_age_base64_wrap(bytes, 100, text);
	ok(len == 65 + 65 + 7 && text[64] == '\n' && text[129] == '\n', "100 bytes: 64, 64 and 6 columns");
	ok(pgp_age_base64_unwrap(text, len, back, sizeof(back), &len, &used) == 0 && len == 100 &&
	   memcmp(back, bytes, 100) == 0 && used == 137, "and unwraps back");
	pgp_age_base64_wrap(bytes, 48, text);
	ok(pgp_age_base64_unwrap(text, 65, back, sizeof(back), &len, &used) != 0,
	   "a full last line without the empty one after it is refused");
	memset(text, 'A', 65);
	text[65] = '\n';
	ok(pgp_age_base64_unwrap(text, 66, back, sizeof(back), &len, &used) != 0 &&
	   strstr(pgp_age_error(), "64 columns"), "a 65-column line is refused");
}

/* ---- round trips ---- */

struct keyset {
	struct pgp_age_identity id[3];
	struct pgp_age_recipient r[3];
};

static int
encrypt_pieces(const struct pgp_age_recipient *r, size_t n, const unsigned char *data, size_t len,
	       size_t piece, struct buf *out)
{
	struct pgp_age_enc *e = pgp_age_enc_begin(r, n, buf_put, out);
	int rc = e ? 0 : -1;

	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = pgp_age_enc_write(e, data + off, len - off < piece ? len - off : piece);
	if (rc == 0)
		rc = pgp_age_enc_finish(e);
	pgp_age_enc_free(e);
	return rc;
}

/* Decrypt in pieces; the status, 0 on success. */
static enum pgp_age_status
decrypt_pieces(const struct pgp_age_identity *ids, size_t n, const unsigned char *data, size_t len,
	       size_t piece, struct buf *out)
{
	struct pgp_age_dec *d = pgp_age_dec_begin(ids, n, buf_put, out);
	enum pgp_age_status st;
	int rc = 0;

	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = pgp_age_dec_write(d, data + off, len - off < piece ? len - off : piece);
	if (rc == 0)
		pgp_age_dec_finish(d);
	st = pgp_age_dec_status(d);
	pgp_age_dec_free(d);
	return st;
}

static void
test_roundtrips(struct keyset *k)
{
	static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 1 << 20};
	static const size_t pieces[] = {1, 7, 65537};
	size_t max = 1 << 20;
	unsigned char *data = malloc(max);

	for (size_t i = 0; i < max; i++)
		data[i] = (unsigned char) next_random();
	for (size_t s = 0; s < 6; s++)
		for (size_t nr = 1; nr <= 3; nr += 2)
			for (size_t p = 0; p < 3; p++) {
				struct buf enc = {0}, dec = {0};
				size_t chunks = sizes[s] ? (sizes[s] + 65535) / 65536 : 1;
				int rc = encrypt_pieces(k->r, nr, data, sizes[s], pieces[p], &enc);
				/* Each identity alone opens a file for three. */
				const struct pgp_age_identity *id = &k->id[(s + p) % nr];
				enum pgp_age_status st = decrypt_pieces(id, 1, enc.data, enc.len, pieces[2 - p], &dec);

				ok(rc == 0 && st == PGP_AGE_OK && dec.len == sizes[s] &&
				   memcmp(dec.data ? dec.data : data, data, sizes[s]) == 0 &&
				   enc.len > sizes[s] + 16 + 16 * chunks && enc.len < sizes[s] + 16 * chunks + 16 + 200 * nr,
				   "%zu bytes to %zu recipient(s), written in %zu-byte pieces, read in %zu-byte ones (identity %zu)",
				   sizes[s], nr, pieces[p], pieces[2 - p], (size_t) (id - k->id) + 1);
				free(enc.data);
				free(dec.data);
			}
	free(data);
}

/* ---- damage ---- */

static size_t
header_end(const struct buf *b)
{
	const unsigned char *mac = memmem(b->data, b->len, "\n--- ", 5);
	const unsigned char *nl = memchr(mac + 1, '\n', b->len - (size_t) (mac + 1 - b->data));

	return (size_t) (nl + 1 - b->data);
}

/* Decrypt a damaged copy; passes when it fails with status want. */
static void
damaged(const struct keyset *k, const unsigned char *data, size_t len, enum pgp_age_status want,
	const char *what)
{
	struct buf out = {0};
	enum pgp_age_status st = decrypt_pieces(k->id, 1, data, len, 4096, &out);

	ok(st == want, "%s: refused (%s)", what, pgp_age_error());
	if (st != want)
		printf("#   status %d, want %d\n", st, want);
	free(out.data);
}

/* A full last chunk, then one more byte: trailing data, not a chunk. */
static void
test_trailing(struct keyset *k, const unsigned char *data)
{
	struct buf enc = {0}, out = {0};

	encrypt_pieces(k->r, 1, data, 2 * 65536, 65536, &enc);
	buf_put(&enc, "x", 1);
	ok(decrypt_pieces(k->id, 1, enc.data, enc.len, 65536, &out) == PGP_AGE_ERR_PAYLOAD &&
	   strcmp(pgp_age_error(), "trailing data after the last chunk") == 0, "a byte after a full last chunk: %s",
	   pgp_age_error());
	ok(out.len == 2 * 65536, "the verified plaintext went out before it");
	free(enc.data);
	free(out.data);
}

static int
sink_full(void *ctx, const void *data, size_t len)
{
	(void) ctx;
	(void) data;
	(void) len;
	return -1;
}

static void
test_sink_failure(struct keyset *k, const unsigned char *data)
{
	struct buf enc = {0};
	struct pgp_age_dec *d;

	ok(pgp_age_enc_begin(k->r, 1, sink_full, NULL) == NULL && strstr(pgp_age_error(), "cannot write"),
	   "a sink that fails under the header: %s", pgp_age_error());
	encrypt_pieces(k->r, 1, data, 1000, 1000, &enc);
	d = pgp_age_dec_begin(k->id, 1, sink_full, NULL);
	ok(pgp_age_dec_write(d, enc.data, enc.len) == 0 && pgp_age_dec_finish(d) != 0 &&
	   pgp_age_dec_status(d) == PGP_AGE_ERR_OTHER, "a plaintext sink that fails: %s", pgp_age_error());
	pgp_age_dec_free(d);
	free(enc.data);
}

static void
test_damage(struct keyset *k)
{
	size_t len = 3 * 65536 - 100, h, c1, c2, c3, n;
	unsigned char *data = malloc(len), *bad;
	struct buf enc = {0}, out = {0};
	struct pgp_age_identity other;
	size_t x25519, total;
	struct pgp_age_dec *d;
	char *mac;

	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char) next_random();
	encrypt_pieces(k->r, 1, data, len, 1000, &enc);
	h = header_end(&enc);
	c1 = h + 16;
	c2 = c1 + 65536 + 16;
	c3 = c2 + 65536 + 16;
	n = enc.len;
	bad = malloc(n + 65552);

	damaged(k, enc.data, n - 1, PGP_AGE_ERR_PAYLOAD, "the last byte cut");
	damaged(k, enc.data, c3, PGP_AGE_ERR_PAYLOAD, "the last chunk cut off");
	damaged(k, enc.data, c2 + 10, PGP_AGE_ERR_PAYLOAD, "cut inside the second chunk's tag range");
	damaged(k, enc.data, c1, PGP_AGE_ERR_PAYLOAD, "cut after the nonce");
	damaged(k, enc.data, h + 5, PGP_AGE_ERR_HEADER, "cut inside the nonce");
	damaged(k, enc.data, h - 10, PGP_AGE_ERR_HEADER, "cut inside the header");
	damaged(k, enc.data, 0, PGP_AGE_ERR_HEADER, "empty input");

	memcpy(bad, enc.data, n);
	memcpy(bad + c1, enc.data + c2, 65552);
	memcpy(bad + c2, enc.data + c1, 65552);
	damaged(k, bad, n, PGP_AGE_ERR_PAYLOAD, "chunks 1 and 2 swapped");
	memcpy(bad, enc.data, n);
	memcpy(bad + c2, enc.data + c1, 65552);
	damaged(k, bad, n, PGP_AGE_ERR_PAYLOAD, "chunk 1 repeated in place of chunk 2");
	memcpy(bad, enc.data, c2);
	memcpy(bad + c2, enc.data + c3, n - c3);
	damaged(k, bad, c2 + n - c3, PGP_AGE_ERR_PAYLOAD, "the middle chunk dropped");
	memcpy(bad, enc.data, n);
	bad[c2 + 1000] ^= 0x01;
	damaged(k, bad, n, PGP_AGE_ERR_PAYLOAD, "a bit flipped in chunk 2");
	memcpy(bad, enc.data, n);
	bad[n - 1] ^= 0x80;
	damaged(k, bad, n, PGP_AGE_ERR_PAYLOAD, "a bit flipped in the last tag");
	memcpy(bad, enc.data, n);
	bad[h + 3] ^= 0x01;
	damaged(k, bad, n, PGP_AGE_ERR_PAYLOAD, "a bit flipped in the payload nonce");
	memcpy(bad, enc.data, n);
	bad[n] = 0;
	damaged(k, bad, n + 1, PGP_AGE_ERR_PAYLOAD, "one byte of trailing data");
	memcpy(bad + n, enc.data + c1, 65552);
	damaged(k, bad, n + 65552, PGP_AGE_ERR_PAYLOAD, "a whole chunk of trailing data");

	memcpy(bad, enc.data, n);
	mac = memmem(bad, n, "\n--- ", 5);
	/* The MAC's first character carries 6 whole bits: still canonical. */
	mac[5] = mac[5] == 'A' ? 'B' : 'A';
	damaged(k, bad, n, PGP_AGE_ERR_MAC, "a changed header MAC");
	memcpy(bad, enc.data, n);
	bad[20] = '2';
	damaged(k, bad, n, PGP_AGE_ERR_HEADER, "age-encryption.org/v2");
	memcpy(bad, enc.data, n);
	memcpy(bad + 22, "-> ", 3);
	memcpy(bad + 25, "X25518", 6);
	damaged(k, bad, n, PGP_AGE_ERR_NOMATCH, "a stanza type changed");
	memcpy(bad, enc.data, n);
	bad[22] = '>';
	damaged(k, bad, n, PGP_AGE_ERR_HEADER, "a stanza line that does not parse");
	memcpy(bad, enc.data, n);
	memcpy(bad, "-----BEGIN AGE ENCRYPTED FILE-----", 34);
	damaged(k, bad, n, PGP_AGE_ERR_HEADER, "an armored file");

	pgp_age_identity_generate(&other);
	d = pgp_age_dec_begin(&other, 1, buf_put, &out);
	pgp_age_dec_write(d, enc.data, enc.len);
	ok(pgp_age_dec_finish(d) != 0 && pgp_age_dec_status(d) == PGP_AGE_ERR_NOMATCH && out.len == 0,
	   "the wrong identity: %s", pgp_age_error());
	is_str(pgp_age_error(), "no identity matches any of the 1 recipient stanzas", "the message");
	ok(pgp_age_dec_stanzas(d, &x25519, &total) == 0 && x25519 == 1 && total == 1, "the stanza count");
	pgp_age_dec_free(d);
	free(enc.data);
	enc.data = NULL;
	enc.len = enc.cap = 0;
	encrypt_pieces(k->r, 3, data, 10, 10, &enc);
	ok(decrypt_pieces(&other, 1, enc.data, enc.len, 1, &out) == PGP_AGE_ERR_NOMATCH &&
	   strcmp(pgp_age_error(), "no identity matches any of the 3 recipient stanzas") == 0,
	   "three stanzas: %s", pgp_age_error());
	ok(pgp_age_enc_begin(k->r, 0, buf_put, &out) == NULL && strstr(pgp_age_error(), "no recipients"),
	   "no recipients: %s", pgp_age_error());
	ok(pgp_age_detect(enc.data, enc.len) && !pgp_age_detect("PGDMP", 5), "an age file is told from a dump");
	test_trailing(k, data);
	test_sink_failure(k, data);
	pgp_age_identity_wipe(&other);
	free(out.data);
	free(enc.data);
	free(bad);
	free(data);
}

/* ---- key files ---- */

static void
put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_files(void)
{
	char dir[] = "/tmp/test_age.XXXXXX", path[256], path2[256], want[300], text[512], pub[PGP_AGE_RECIPIENT_SIZE];
	struct pgp_age_identity *ids;
	struct pgp_age_recipient *rs, r;
	size_t n;

	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/key.txt", dir);
	ok(pgp_age_keygen_file(path, &r) == 0, "keygen writes an identity file");
	{
		struct stat st;

		ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	}
	ok(pgp_age_keygen_file(path, &r) != 0 && strstr(pgp_age_error(), "exists"),
	   "never over an existing file: %s", pgp_age_error());
	ok(pgp_age_identities_read(path, &ids, &n) == 0 && n == 1 && memcmp(ids[0].pub, r.pub, 32) == 0,
	   "it reads back, with the public key keygen gave");
	pgp_age_identities_free(ids, n);
	{
		FILE *f = fopen(path, "r");
		size_t got = fread(text, 1, sizeof(text) - 1, f);

		fclose(f);
		text[got] = '\0';
	}
	pgp_age_recipient_format(&r, pub);
	snprintf(want, sizeof(want), "\n# public key: %s\nAGE-SECRET-KEY-1", pub);
	ok(strncmp(text, "# created: 20", 13) == 0 && strstr(text, want), "in age-keygen's format");

	chmod(path, 0644);
	snprintf(want, sizeof(want), "%s is readable by others (chmod 600)", path);
	ok(pgp_age_identities_read(path, &ids, &n) != 0, "a world-readable identity file is refused");
	is_str(pgp_age_error(), want, "with the reason");
	chmod(path, 0640);
	ok(pgp_age_identities_read(path, &ids, &n) != 0 && strcmp(pgp_age_error(), want) == 0,
	   "a group-readable one too");
	chmod(path, 0620);
	ok(pgp_age_identities_read(path, &ids, &n) != 0 && strstr(pgp_age_error(), "writable by others"),
	   "a group-writable one too");

	snprintf(path2, sizeof(path2), "%s/ids.txt", dir);
	put(path2, "# two identities\r\n\r\n" TEST_IDENTITY "\r\n", 0600);
	ok(pgp_age_identities_read(path2, &ids, &n) == 0 && n == 1, "comments, blank lines and CR LF accepted");
	pgp_age_identities_free(ids, n);
	put(path2, "# nothing\n\n", 0600);
	ok(pgp_age_identities_read(path2, &ids, &n) != 0 && strstr(pgp_age_error(), "no identity"),
	   "an identity file without identities: %s", pgp_age_error());

	snprintf(path2, sizeof(path2), "%s/recipients.txt", dir);
	snprintf(text, sizeof(text), "# backups\n%s\n\nage1notarecipient\n%s\n", pub, pub);
	put(path2, text, 0644);
	snprintf(want, sizeof(want), "%s:4: invalid recipient \"age1notarecipient\"", path2);
	ok(pgp_age_recipients_read(path2, &rs, &n) != 0 && strncmp(pgp_age_error(), want, strlen(want)) == 0,
	   "a bad recipient line: %s", pgp_age_error());
	snprintf(text, sizeof(text), "# backups\n%s\n\n%s\n", pub, pub);
	put(path2, text, 0644);
	ok(pgp_age_recipients_read(path2, &rs, &n) == 0 && n == 2 && memcmp(rs[1].pub, r.pub, 32) == 0,
	   "a recipients file (readable by all: public keys)");
	free(rs);
	snprintf(path2, sizeof(path2), "%s/missing.txt", dir);
	ok(pgp_age_recipients_read(path2, &rs, &n) != 0 && strstr(pgp_age_error(), "cannot open"),
	   "a missing file: %s", pgp_age_error());
	unlink(path);
	snprintf(path2, sizeof(path2), "%s/ids.txt", dir);
	unlink(path2);
	snprintf(path2, sizeof(path2), "%s/recipients.txt", dir);
	unlink(path2);
	rmdir(dir);
}

/* ---- CCTV vectors ---- */

static int
inflate_all(const unsigned char *in, size_t len, struct buf *out)
{
	z_stream z = {0};
	unsigned char chunk[65536];
	int rc;

	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_in = (unsigned char *) in;
	z.avail_in = (uInt) len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		buf_put(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc == Z_OK);
	inflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

static enum pgp_age_status
expected_status(const char *expect)
{
	if (strcmp(expect, "success") == 0)
		return PGP_AGE_OK;
	if (strcmp(expect, "header failure") == 0)
		return PGP_AGE_ERR_HEADER;
	if (strcmp(expect, "HMAC failure") == 0)
		return PGP_AGE_ERR_MAC;
	if (strcmp(expect, "no match") == 0)
		return PGP_AGE_ERR_NOMATCH;
	if (strcmp(expect, "payload failure") == 0)
		return PGP_AGE_ERR_PAYLOAD;
	return PGP_AGE_ERR_OTHER;
}

/* One vector: its header lines, then the file, whole and byte by byte. */
static void
run_vector(const char *dir, const char *name)
{
	char path[512], expect[64] = "", payload[65] = "", line[256], hex[65];
	struct pgp_age_identity ids[4];
	size_t nids = 0, len;
	int zlib = 0, ids_ok = 1;
	unsigned char *raw, digest[32];
	struct buf file = {0};
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return;
	while (fgets(line, sizeof(line), f) && strcmp(line, "\n") != 0) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "expect: ", 8) == 0)
			snprintf(expect, sizeof(expect), "%s", line + 8);
		else if (strncmp(line, "payload: ", 9) == 0)
			snprintf(payload, sizeof(payload), "%s", line + 9);
		else if (strncmp(line, "identity: ", 10) == 0 && nids < 4)
			ids_ok &= pgp_age_identity_parse(line + 10, &ids[nids++]) == 0;
		else if (strcmp(line, "compressed: zlib") == 0)
			zlib = 1;
	}
	raw = malloc(1 << 20);
	len = fread(raw, 1, 1 << 20, f);
	fclose(f);
	if (zlib)
		ids_ok &= inflate_all(raw, len, &file) == 0;
	else
		buf_put(&file, raw, len);
	free(raw);
	/* "empty" names no identity: any will do for a header failure. */
	if (nids == 0)
		ids_ok &= pgp_age_identity_parse(TEST_IDENTITY, &ids[nids++]) == 0;
	for (size_t piece = file.len ? file.len : 1; ids_ok; piece = 1) {
		struct buf out = {0};
		enum pgp_age_status st = decrypt_pieces(ids, nids, file.data, file.len, piece, &out);
		int pass = st == expected_status(expect);

		if (pass && st == PGP_AGE_OK) {
			EVP_Digest(out.data ? out.data : (unsigned char *) "", out.len, digest, NULL, EVP_sha256(), NULL);
			for (int i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", digest[i]);
			pass = strcmp(hex, payload) == 0;
		}
		ok(pass, "CCTV %s (%s), %s: %s", name, expect, piece == 1 ? "byte by byte" : "at once",
		   st == PGP_AGE_OK ? "plaintext's SHA-256 matches" : pgp_age_error());
		free(out.data);
		if (piece == 1)
			break;
	}
	if (!ids_ok)
		ok(0, "CCTV %s: cannot read the vector", name);
	for (size_t i = 0; i < nids; i++)
		pgp_age_identity_wipe(&ids[i]);
	free(file.data);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
test_vectors(void)
{
	const char *src = getenv("PGP_SRC");
	char dir[512], *names[256];
	size_t n = 0;
	struct dirent *de;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/tests/unit/age-vectors", src ? src : ".");
	if (!(dh = opendir(dir))) {
		ok(0, "the CCTV vectors are in %s", dir);	/* missing data is a failure, not a skip */
		return;
	}
	while ((de = readdir(dh)) && n < 256)
		if (de->d_name[0] != '.' && strcmp(de->d_name, "README") != 0)
			names[n++] = strdup(de->d_name);
	closedir(dh);
	qsort(names, n, sizeof(*names), name_cmp);
	ok(n >= 60, "%zu CCTV vectors in %s", n, dir);
	for (size_t i = 0; i < n; i++) {
		run_vector(dir, names[i]);
		free(names[i]);
	}
}

int
main(void)
{
	struct keyset k;

	test_bech32();
	test_keys();
	test_base64();
	for (int i = 0; i < 3; i++) {
		pgp_age_identity_generate(&k.id[i]);
		pgp_age_identity_recipient(&k.id[i], &k.r[i]);
	}
	test_roundtrips(&k);
	test_damage(&k);
	test_files();
	test_vectors();
	for (int i = 0; i < 3; i++)
		pgp_age_identity_wipe(&k.id[i]);
	return done_testing();
}
