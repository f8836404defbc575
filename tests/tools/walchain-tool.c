/*
 * Test tool: the WAL archive's chain check and retention (walchain.c,
 * wal.c) on a repository, without a base backup (physical.c is what
 * calls them in pgp-backup); the Makefile links it with the modules.
 *
 *   walchain-tool CONF check TLI LSN [read]   wal_check_chain; prints the chain
 *   walchain-tool CONF prune TLI LSN          wal_prune
 *
 * CONF gives backup.repo, backup.s3_endpoint, backup.cluster and
 * backup.identity_file.  Exit status: the function's.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bin/backup/backup.h"
#include "../../bin/backup/walname.h"
#include "conf.h"
#include "exitcodes.h"
#include "log.h"

int
main(int argc, char **argv)
{
	struct pgp_conf *conf = NULL;
	struct backup_ctx ctx;
	struct cluster c;
	struct wal_chain chain;
	const char *url = NULL, *endpoint = NULL, *region = NULL;
	uint64_t lsn;
	char end[WALNAME_LSN_SIZE];
	unsigned long tli;
	int rc;

	pgp_log_init(argv[0]);
	if (argc < 5 || (strcmp(argv[2], "check") && strcmp(argv[2], "prune")) ||
	    walname_lsn_parse(argv[4], &lsn) < 0 || !(tli = strtoul(argv[3], NULL, 10))) {
		fprintf(stderr, "usage: walchain-tool CONF check|prune TLI LSN [read]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&ctx, 0, sizeof(ctx));
	if (pgp_conf_load(argv[1], 1, &conf) < 0 || pgp_conf_get_string(conf, "backup.repo", &url) != 1)
		return 2;
	pgp_conf_get_string(conf, "backup.s3_endpoint", &endpoint);
	pgp_conf_get_string(conf, "backup.s3_region", &region);
	pgp_conf_get_string(conf, "backup.cluster", &ctx.cluster_name);
	pgp_conf_get_string(conf, "backup.identity_file", &ctx.identity_file);
	ctx.conf = conf;
	ctx.repo = repo_open(url, conf, endpoint, region, "backup.s3_timeout");
	if (!ctx.repo)
		return 2;
	rc = cluster_find(&ctx, &c);
	if (rc == PGP_EXIT_OK && !strcmp(argv[2], "prune"))
		rc = wal_prune(&ctx, &c, (uint32_t) tli, lsn);
	else if (rc == PGP_EXIT_OK) {
		rc = wal_check_chain(&ctx, &c, (uint32_t) tli, lsn, argc > 5 && !strcmp(argv[5], "read"), &chain);
		walname_lsn_format(chain.end_lsn, end);
		printf("first=%s last=%s last_tli=%u end_lsn=%s files=%lu problems=%lu\n", chain.first, chain.last,
		       (unsigned) chain.last_tli, end, chain.files, chain.problems);
	}
	repo_close(ctx.repo);
	pgp_age_identities_free(ctx.identities, ctx.nidentities);
	pgp_conf_free(conf);
	curl_global_cleanup();
	return rc;
}
