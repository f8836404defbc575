/*
 * The tools' checksums.  What each one hashes was read in its source:
 *   Flyway    flyway-core/.../internal/resolver/ChecksumCalculator.java:
 *             java.util.zip.CRC32 updated with every BufferedReader
 *             readLine() (terminators stripped), BOM filtered from the
 *             first line, returned as (int).
 *   Prisma    prisma-engines schema-engine/connectors/schema-connector/
 *             src/checksum.rs: SHA-256 of the script, "{:02x}" per byte;
 *             script_matches_checksum() also tries CRLF->LF and LF->CRLF,
 *             and compares a recorded value that is not 64 characters long
 *             with the old "{:x}" rendering (prisma-engines#1887).
 *   Drizzle   drizzle-orm/src/migrator.ts readMigrationFiles(): the file
 *             with /\r\n/g -> "\n", then sha256 hex.
 *   sqitch    lib/App/Sqitch/Plan/Change.pm script_hash: Digest::SHA1 of
 *             the deploy file slurped with iomode '<:raw'.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checksum.h"

int32_t
mc_cksum_flyway(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *) text, *end = p + len;
	uLong crc = crc32(0L, Z_NULL, 0);

	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		p += 3;
	while (p < end) {
		const unsigned char *eol = p;

		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		crc = crc32(crc, p, (uInt) (eol - p));
		if (eol < end && *eol == '\r' && eol + 1 < end && eol[1] == '\n')
			eol++;
		p = eol < end ? eol + 1 : end;
	}
	return (int32_t) (uint32_t) crc;
}

static char *
digest_hex(const EVP_MD *md, const void *data, size_t len, int padded)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char *hex, *o;

	if (!EVP_Digest(data, len, d, &n, md, NULL))
		return NULL;
	hex = malloc(n * 2 + 1);
	if (!hex)
		return NULL;
	o = hex;
	for (i = 0; i < n; i++)
		o += sprintf(o, padded ? "%02x" : "%x", d[i]);
	return hex;
}

char *
mc_sha256_hex(const void *data, size_t len)
{
	return digest_hex(EVP_sha256(), data, len, 1);
}

char *
mc_sha1_hex(const void *data, size_t len)
{
	return digest_hex(EVP_sha1(), data, len, 1);
}

/* text with every occurrence of from replaced by to (malloc'd). */
static char *
replace_all(const char *text, size_t len, const char *from, const char *to, size_t *outlen)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0, i, o = 0;
	char *out;

	for (i = 0; i + fl <= len; i++)
		if (memcmp(text + i, from, fl) == 0) {
			n++;
			i += fl - 1;
		}
	out = malloc(len + n * tl + 1);
	if (!out)
		return NULL;
	for (i = 0; i < len;) {
		if (i + fl <= len && memcmp(text + i, from, fl) == 0) {
			memcpy(out + o, to, tl);
			o += tl;
			i += fl;
		} else
			out[o++] = text[i++];
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

char *
mc_checksum(enum mc_tool tool, const char *text, size_t len)
{
	char buf[16], *lf, *hex;
	size_t lflen;

	switch (tool) {
	case MC_TOOL_FLYWAY:
		snprintf(buf, sizeof(buf), "%d", (int) mc_cksum_flyway(text, len));
		return strdup(buf);
	case MC_TOOL_PRISMA:
		return mc_sha256_hex(text, len);
	case MC_TOOL_DRIZZLE:
		lf = replace_all(text, len, "\r\n", "\n", &lflen);
		if (!lf)
			return NULL;
		hex = mc_sha256_hex(lf, lflen);
		free(lf);
		return hex;
	case MC_TOOL_SQITCH:
		return mc_sha1_hex(text, len);
	default:
		return NULL;
	}
}

/* Prisma: one candidate text against the recorded value. */
static int
prisma_one(const char *text, size_t len, const char *recorded)
{
	int legacy = recorded[0] && strlen(recorded) != 64;
	char *hex = digest_hex(EVP_sha256(), text, len, !legacy);
	int eq;

	if (!hex)
		return -1;
	eq = strcmp(hex, recorded) == 0;
	free(hex);
	return eq;
}

static int
prisma_matches(const char *text, size_t len, const char *recorded)
{
	static const char *const from[] = { "\r\n", "\n" }, *const to[] = { "\n", "\r\n" };
	int eq = prisma_one(text, len, recorded), i;

	for (i = 0; eq == 0 && i < 2; i++) {
		size_t l;
		char *t = replace_all(text, len, from[i], to[i], &l);

		if (!t)
			return -1;
		eq = prisma_one(t, l, recorded);
		free(t);
	}
	return eq;
}

int
mc_checksum_matches(enum mc_tool tool, const char *text, size_t len, const char *recorded)
{
	char *mine;
	int eq;

	if (!recorded)
		return 0;
	if (tool == MC_TOOL_PRISMA)
		return prisma_matches(text, len, recorded);
	mine = mc_checksum(tool, text, len);
	if (!mine)
		return -1;
	eq = strcmp(mine, recorded) == 0;
	free(mine);
	return eq;
}
