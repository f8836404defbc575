/*
 * The WAL archive: wal-push (archive_command), wal-fetch
 * (restore_command), the chain check of verify, and WAL retention.
 * (Being written: these are placeholders that refuse.)
 */
#include "backup.h"
#include "exitcodes.h"
#include "log.h"

int
wal_push(struct backup_ctx *ctx, const char *path)
{
	(void) ctx;
	pgp_error("wal-push %s: not built yet", path);
	return PGP_EXIT_FAILED;
}

int
wal_fetch(struct backup_ctx *ctx, const char *walfile, const char *dest)
{
	(void) ctx;
	(void) dest;
	pgp_error("wal-fetch %s: not built yet", walfile);
	return 126;
}

int
wal_check_chain(struct backup_ctx *ctx, const struct cluster *c, uint32_t tli, uint64_t start_lsn,
		int read_content, struct wal_chain *out)
{
	(void) ctx, (void) c, (void) tli, (void) start_lsn, (void) read_content, (void) out;
	pgp_error("WAL chain check: not built yet");
	return PGP_EXIT_FAILED;
}

int
wal_prune(struct backup_ctx *ctx, const struct cluster *c, uint32_t tli, uint64_t keep_lsn)
{
	(void) ctx, (void) c, (void) tli, (void) keep_lsn;
	return PGP_EXIT_OK;
}
