/*
 * CRC-32C (Castagnoli, RFC 3720's iSCSI CRC): the checksum PostgreSQL's
 * backup_manifest uses by default.  zlib's convention: start from 0 and
 * pass the previous result to continue, crc32c_update(crc32c_update(0, a),
 * b) == crc of a then b; the value is the finished CRC (pre- and
 * post-inverted), 0xE3069283 for "123456789".
 */
#ifndef PGP_BACKUP_CRC32C_H
#define PGP_BACKUP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The fastest implementation this CPU has (SSE 4.2 when it has it). */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);
/* The portable one (slicing-by-8), for the tests to compare. */
uint32_t crc32c_update_sw(uint32_t crc, const void *data, size_t len);
/* Which one crc32c_update uses: "sse4.2" or "slicing-by-8". */
const char *crc32c_impl(void);

#endif
