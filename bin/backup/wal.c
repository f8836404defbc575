/*
 * The WAL archive: what wal-push (walpush.c), wal-fetch (walfetch.c)
 * and verify's chain check (walchain.c) share, and WAL retention.  A WAL
 * file is stored under its name and the SHA-256 of its raw content
 * (cluster.h), so the archive can be checked without reading it, and a
 * second push of the same content is found rather than written again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "backup.h"
#include "exitcodes.h"
#include "lock.h"
#include "log.h"
#include "walint.h"
#include "walname.h"

#define XLP_LONG_HEADER 0x0002

static uint16_t
get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int
wal_header_check(const unsigned char *page, size_t len, const char *walfile, const char *sysid,
		 uint64_t segsize, uint64_t *segsize_out, char *why, size_t whysize)
{
	uint64_t hsize, segno, id;
	uint32_t tli;
	char seg[WALNAME_SEGMENT_SIZE], idtext[32];

	if (len < WAL_LONG_HEADER_SIZE)
		return snprintf(why, whysize, "it is %zu bytes long, shorter than a WAL page header", len), -1;
	/* XLOG_PAGE_MAGIC is 0xD1xx in every release since 9.3 (0xD110 in 15). */
	if ((get16(page) & 0xFF00) != 0xD100)
		return snprintf(why, whysize, "its first page has magic 0x%04X, not a WAL page's", get16(page)), -1;
	if (!(get16(page + 2) & XLP_LONG_HEADER))
		return snprintf(why, whysize, "its first page has no long header"), -1;
	hsize = get32(page + 32);
	if (!walname_segsize_valid(hsize))
		return snprintf(why, whysize, "its header gives segment size %" PRIu64 ", not a power of 2 in "
				"1 MB..1 GB", hsize), -1;
	if (segsize && hsize != segsize)
		return snprintf(why, whysize, "its header gives segment size %" PRIu64 ", the cluster's is %" PRIu64,
				hsize, segsize), -1;
	snprintf(seg, sizeof(seg), "%.24s", walfile);
	if (walname_segment_parse(seg, hsize, &tli, &segno) < 0)
		return snprintf(why, whysize, "its name is not a segment name for segment size %" PRIu64, hsize), -1;
	if (get32(page + 4) != tli)
		return snprintf(why, whysize, "its first page is of timeline %" PRIu32 ", its name says %" PRIu32,
				get32(page + 4), tli), -1;
	if (get64(page + 8) != walname_segno_start(segno, hsize)) {
		char got[WALNAME_LSN_SIZE], want[WALNAME_LSN_SIZE];

		walname_lsn_format(get64(page + 8), got);
		walname_lsn_format(walname_segno_start(segno, hsize), want);
		return snprintf(why, whysize, "its first page is at %s, its name says %s", got, want), -1;
	}
	id = get64(page + 24);
	snprintf(idtext, sizeof(idtext), "%" PRIu64, id);
	if (sysid && strcmp(idtext, sysid) != 0)
		return snprintf(why, whysize, "it is of system identifier %s, this cluster's is %s", idtext, sysid), -1;
	if (segsize_out)
		*segsize_out = hsize;
	return 0;
}

void
wal_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char d[32];
	unsigned int dlen = 0;

	EVP_Digest(data, len, d, &dlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int
wal_mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return pgp_fail("cannot create directory \"%s\": %s", buf, strerror(errno));
		*p = saved;
		if (!saved)
			return 0;
	}
}

int
wal_lock(const char *path, int wait_ms, int *fd)
{
	for (int waited = 0;;) {
		struct stat a, b;
		int denied, f = pgp_lock_open(path, &denied);

		if (f < 0)
			return -1;
		if (flock(f, LOCK_EX | LOCK_NB) == 0) {
			/* Unlinked by its last holder while we opened it: take the new one. */
			if (fstat(f, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
				*fd = f;
				return 0;
			}
			close(f);
			continue;
		}
		close(f);
		if (errno != EWOULDBLOCK && errno != EINTR)
			return pgp_fail("cannot lock %s: %s", path, strerror(errno));
		if (waited >= wait_ms)
			return 1;
		usleep(20000);
		waited += 20;
	}
}

void
wal_unlock(const char *path, int fd)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}

void
wal_spool(const struct backup_ctx *ctx, const struct cluster *c, const char *sub, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s%s%s", ctx->spool_dir, c->name, sub ? "/" : "", sub ? sub : "");
}

int
wal_detach(const char *logfile)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		pgp_debug("cannot start a background process: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	/* The intermediate child: a new session, then gone, so init reaps the worker. */
	setsid();
	pid = fork();
	if (pid != 0)
		_exit(0);
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int log = logfile ? open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640) : -1;

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(log >= 0 ? log : null, 2);
		}
		if (null > 2)
			close(null);
		if (log > 2)
			close(log);
	}
	return 1;
}

int
wal_datadir_of(const char *path, char *buf, size_t size)
{
	char dir[4096], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		snprintf(dir, sizeof(dir), "/");
	else
		*slash = '\0';
	if ((size_t) snprintf(buf, size, "%s/..", dir) >= size)
		return pgp_fail("path too long: %s", path);
	return 0;
}

int
wal_repo_status(const struct backup_ctx *ctx)
{
	return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
}

int
wal_copies(struct backup_ctx *ctx, const struct cluster *c, const char *walfile, struct wal_copy *out,
	   size_t max, size_t *n)
{
	char prefix[512], dir[512];
	const char *slash;
	struct repo_entry *e;
	size_t count;

	*n = 0;
	cluster_wal_prefix(c, walfile, prefix, sizeof(prefix));
	slash = strrchr(prefix, '/');
	snprintf(dir, sizeof(dir), "%.*s", (int) (slash - prefix), prefix);
	if (repo_find(ctx->repo, dir, slash + 1, &e, &count) < 0)
		return wal_repo_status(ctx);
	for (size_t i = 0; i < count && *n < max; i++) {
		const char *base = strrchr(e[i].name, '/');
		char file[64];
		struct wal_copy *w = &out[*n];

		base = base ? base + 1 : e[i].name;
		/* A local writer's NAME.partial does not parse: not an object yet. */
		if (e[i].is_dir || cluster_wal_parse(base, file, w->sha, &w->compression, &w->encrypted) < 0 ||
		    strcmp(file, walfile) != 0)
			continue;
		snprintf(w->name, sizeof(w->name), "%s", e[i].name);
		(*n)++;
	}
	repo_entries_free(e, count);
	return PGP_EXIT_OK;
}

int
wal_prune(struct backup_ctx *ctx, const struct cluster *c, uint32_t tli, uint64_t keep_lsn)
{
	char prefix[160], keep[WALNAME_LSN_SIZE];
	struct repo_entry *e;
	size_t count, deleted = 0;
	uint64_t keep_seg;
	int rc = PGP_EXIT_OK;

	if (!c->segsize || !walname_segsize_valid(c->segsize)) {
		pgp_error("cluster %s: its WAL segment size is not known", c->name);
		return PGP_EXIT_FAILED;
	}
	keep_seg = walname_segno(keep_lsn, c->segsize);
	walname_lsn_format(keep_lsn, keep);
	snprintf(prefix, sizeof(prefix), "%s/wal", c->prefix);
	if (repo_list(ctx->repo, prefix, &e, &count) < 0)
		return wal_repo_status(ctx);
	for (size_t i = 0; i < count; i++) {
		const char *base = strrchr(e[i].name, '/');
		char file[64], sha[65], seg[WALNAME_SEGMENT_SIZE];
		enum compression comp;
		enum walname_kind kind;
		uint32_t ftli;
		uint64_t segno;
		int enc;

		base = base ? base + 1 : e[i].name;
		if (e[i].is_dir || cluster_wal_parse(base, file, sha, &comp, &enc) < 0)
			continue;
		kind = walname_classify(file);
		if (kind != WALNAME_SEGMENT && kind != WALNAME_PARTIAL && kind != WALNAME_BACKUP)
			continue;	/* .history files are kept: they are small and every restore needs them */
		snprintf(seg, sizeof(seg), "%.24s", file);
		if (walname_segment_parse(seg, c->segsize, &ftli, &segno) < 0 || ftli > tli || segno >= keep_seg)
			continue;
		if (repo_delete(ctx->repo, e[i].name) < 0) {
			rc = wal_repo_status(ctx);
			break;
		}
		pgp_info("pruned WAL %s (before %s on timeline %" PRIu32 ")", file, keep, tli);
		deleted++;
	}
	repo_entries_free(e, count);
	if (deleted)
		pgp_info("cluster %s: %zu WAL files pruned", c->name, deleted);
	return rc;
}
