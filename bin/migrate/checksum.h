/*
 * Each migration tool's own checksum of a script, computed as the tool
 * computes it and formatted as it stores it, and the tool's own rule for
 * comparing a recorded checksum with a file (Prisma's line-ending
 * tolerance).  Hashes come from OpenSSL's EVP and zlib's crc32.
 */
#ifndef PGP_MIGRATE_CHECKSUM_H
#define PGP_MIGRATE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "migrate.h"

/*
 * Flyway's checksum: CRC-32 fed every line without its terminator (\n,
 * \r\n or \r), a UTF-8 BOM removed from the first line, as a signed int.
 */
int32_t mc_cksum_flyway(const char *text, size_t len);
/* Lowercase hex digests (malloc'd; NULL when out of memory). */
char *mc_sha256_hex(const void *data, size_t len);
char *mc_sha1_hex(const void *data, size_t len);
/*
 * The checksum the tool records for a script with this text, as it
 * stores it: Flyway the signed int32 in decimal, Prisma SHA-256 hex of the
 * bytes, Drizzle SHA-256 hex after CRLF -> LF, sqitch SHA-1 hex of the raw
 * bytes.  NULL for a tool without checksums (or out of memory).
 */
char *mc_checksum(enum mc_tool tool, const char *text, size_t len);
/*
 * 1 when the recorded checksum matches the script as the tool compares
 * them: Prisma also accepts the text with CRLF -> LF and LF -> CRLF, and
 * the legacy hex without zero padding; the others compare exactly.
 * -1 when out of memory.
 */
int mc_checksum_matches(enum mc_tool tool, const char *text, size_t len, const char *recorded);

#endif
