/*
 * Physical base backups and their restore (being written: placeholders
 * that refuse).
 */
#include "backup.h"
#include "exitcodes.h"
#include "log.h"

static int
not_yet(const char *what)
{
	pgp_error("%s --physical: not built yet", what);
	return PGP_EXIT_FAILED;
}

int physical_backup(struct backup_ctx *ctx) { (void) ctx; return not_yet("backup"); }
int physical_list(struct backup_ctx *ctx) { (void) ctx; return not_yet("list"); }
int physical_verify(struct backup_ctx *ctx, const char *id) { (void) ctx, (void) id; return not_yet("verify"); }
int physical_restore(struct backup_ctx *ctx, const char *id) { (void) ctx, (void) id; return not_yet("restore"); }
int physical_prune(struct backup_ctx *ctx) { (void) ctx; return PGP_EXIT_OK; }
