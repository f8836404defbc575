/*
 * wal-fetch, the restore_command.  Its exit status is what recovery
 * does next: 0, the file is in place; 1, the archive does not have it
 * (the normal end of recovery); 126, recovery must stop (the server
 * treats a status above 125 like a signal: FATAL) rather than end early
 * on a corrupt file, a gap, two different copies or a repository that
 * does not answer.  After serving a segment, one detached process
 * fetches the next ones of the timeline into SPOOL/NAME/fetch/, whole
 * and verified, each with FILE.src (its SHA-256 and repository), where
 * the next wal-fetch takes them from once both still agree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "backup.h"
#include "exitcodes.h"
#include "log.h"
#include "stream.h"
#include "walint.h"
#include "walname.h"

#define FETCH_STOP 126
/* fetch(): the archive does not have it (PGP_EXIT_FOUND is a corrupt file or a gap). */
#define FETCH_ABSENT (-1)

struct fetch_out {
	int fd;
	const char *path;
	unsigned char page[WAL_LONG_HEADER_SIZE];
	size_t have;
};

static int
fetch_sink(void *arg, const void *data, size_t len)
{
	struct fetch_out *o = arg;
	const char *p = data;
	size_t take = len < sizeof(o->page) - o->have ? len : sizeof(o->page) - o->have;

	memcpy(o->page + o->have, data, take);
	o->have += take;
	while (len > 0) {
		ssize_t n = write(o->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pgp_fail("cannot write %s: %s", o->path, strerror(errno));
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/*
 * A .history file as fetched (tmp): the server reads it to choose its
 * timeline, so garbage stored with a matching SHA-256 (written so, or
 * tampered with along with its name) stops recovery here, named, rather
 * than inside the server.  0, or -1 (logged).
 */
static int
history_check(const char *tmp, const char *walfile)
{
	struct walname_history_entry *h = NULL;
	char *text, err[200];
	size_t len, n;
	int rc;

	if (pgp_read_file(tmp, &text, &len) < 0)
		return -1;
	rc = walname_history_parse(text, len, &h, &n, err, sizeof(err));
	free(text);
	free(h);
	if (rc < 0)
		return pgp_fail("WAL %s in the archive is not a timeline history file: %s", walfile, err);
	return 0;
}

/*
 * One copy of walfile into the new file tmp, read whole, its SHA-256
 * and (a segment) its first page checked, synced.  0, or the exit
 * status of stream_read (PGP_EXIT_FOUND: corrupt; PGP_EXIT_USAGE: no
 * identity; PGP_EXIT_FAILED: the repository or the disk), tmp removed.
 */
static int
fetch_into(struct backup_ctx *ctx, const struct cluster *c, const struct wal_copy *w, const char *walfile,
	   const char *tmp)
{
	struct stream_expect x = {.compression = w->compression, .encrypted = w->encrypted};
	struct stream_result res;
	struct fetch_out o = {.path = tmp};
	char label[96], why[200];
	int rc;

	snprintf(label, sizeof(label), "WAL %s", walfile);
	if (w->encrypted && keys_identities(ctx) < 0) {
		pgp_error("WAL %s is encrypted: fetching it needs the identity (private key) file", walfile);
		return PGP_EXIT_USAGE;
	}
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (o.fd < 0) {
		pgp_error("cannot create %s: %s", tmp, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	rc = stream_read(ctx, w->name, label, &x, fetch_sink, &o, 0, &res);
	if (rc == PGP_EXIT_OK && strcmp(res.raw_sha256, w->sha) != 0) {
		pgp_error("WAL %s in the archive is corrupt: its content's SHA-256 is %s, its name says %s", walfile,
			  res.raw_sha256, w->sha);
		rc = PGP_EXIT_FOUND;
	}
	if (rc == PGP_EXIT_OK && walname_classify(walfile) == WALNAME_SEGMENT &&
	    (res.raw_size != c->segsize ||
	     wal_header_check(o.page, o.have, walfile, c->sysid, c->segsize, NULL, why, sizeof(why)) < 0)) {
		if (res.raw_size != c->segsize)
			snprintf(why, sizeof(why), "it is %llu bytes, the segment size is %" PRIu64, res.raw_size,
				 c->segsize);
		pgp_error("WAL %s in the archive is not a segment of this cluster: %s", walfile, why);
		rc = PGP_EXIT_FOUND;
	}
	if (rc == PGP_EXIT_OK && walname_classify(walfile) == WALNAME_HISTORY && history_check(tmp, walfile) < 0)
		rc = PGP_EXIT_FOUND;
	if (rc == PGP_EXIT_OK && fsync(o.fd) != 0) {
		pgp_error("cannot write %s: %s", tmp, strerror(errno));
		rc = PGP_EXIT_FAILED;
	}
	if (close(o.fd) != 0 && rc == PGP_EXIT_OK) {
		pgp_error("cannot write %s: %s", tmp, strerror(errno));
		rc = PGP_EXIT_FAILED;
	}
	if (rc != PGP_EXIT_OK)
		unlink(tmp);
	return rc;
}

static int
put_in_place(const char *tmp, const char *dest)
{
	if (rename(tmp, dest) != 0) {
		pgp_error("cannot rename %s to %s: %s", tmp, dest, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (pgp_fsync_dir_of(dest) != 0)
		return pgp_fail("cannot sync the directory of %s: %s", dest, strerror(errno));
	return 0;
}

/* A copy of src (the spool) as dest, through a synced temporary file: 0, or -1 (logged). */
static int
copy_file(const char *src, const char *tmp, const char *dest)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	ssize_t n;

	if (in < 0)
		return pgp_fail("cannot open %s: %s", src, strerror(errno));
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return pgp_fail("cannot create %s: %s", tmp, strerror(errno));
	}
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, (size_t) n) != n)
			rc = pgp_fail("cannot copy %s to %s: %s", src, tmp, strerror(errno));
	}
	close(in);
	if (rc == 0 && fsync(out) != 0)
		rc = pgp_fail("cannot write %s: %s", tmp, strerror(errno));
	if (close(out) != 0 && rc == 0)
		rc = pgp_fail("cannot write %s: %s", tmp, strerror(errno));
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	return put_in_place(tmp, dest);
}

/* Spool files older than walfile are not needed again. */
static void
spool_trim(const char *spool, const char *walfile)
{
	DIR *d = opendir(spool);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char p[4400];

		if (de->d_name[0] == '.' || strncmp(de->d_name, walfile, 24) >= 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", spool, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
}

/*
 * SPOOL/FILE.src, written by the prefetch before FILE: "SHA256 REPO", the
 * raw SHA-256 of the copy it fetched and the repository it came from.
 */
static void
source_path(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s.src", path);
}

static int
source_write(const struct backup_ctx *ctx, const char *path, const char *sha)
{
	char src[4300], text[4200];

	source_path(path, src, sizeof(src));
	snprintf(text, sizeof(text), "%s %s\n", sha, repo_url(ctx->repo));
	return pgp_atomic_write(src, text, strlen(text), 0640);
}

/*
 * Is the spool's file (fd, size bytes) the one the prefetch fetched from
 * this repository?  A file with the right header can still be another
 * one's: left by a recovery from another repository of a cluster with
 * the same name and system identifier (a copy restored elsewhere), on a
 * timeline of the same number.  1 yes, 0 no (why in why).
 */
static int
source_matches(const struct backup_ctx *ctx, const char *path, int fd, size_t size, char *why, size_t whysize)
{
	char src[4300], *text, sha[65];
	const char *url = repo_url(ctx->repo);
	size_t len;
	void *map;
	int same;

	source_path(path, src, sizeof(src));
	if (access(src, F_OK) != 0 || pgp_read_file(src, &text, &len) < 0)
		return snprintf(why, whysize, "no record of where it came from"), 0;
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	same = len == 65 + strlen(url) && text[64] == ' ' && !strcmp(text + 65, url);
	if (!same) {
		free(text);
		return snprintf(why, whysize, "it was fetched from another repository"), 0;
	}
	map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (map == MAP_FAILED) {
		free(text);
		return snprintf(why, whysize, "unreadable"), 0;
	}
	wal_sha256_hex(map, size, sha);
	munmap(map, size);
	same = !strncmp(text, sha, 64);
	free(text);
	if (!same)
		snprintf(why, whysize, "its SHA-256 is not that of the copy fetched");
	return same;
}

/* walfile from the prefetch spool into dest: 0, or 1 when it is not there (or unusable). */
static int
from_spool(const struct backup_ctx *ctx, const struct cluster *c, const char *walfile, const char *dest,
	   const char *tmp)
{
	char spool[4096], path[4200], src[4300], why[200] = "unreadable";
	unsigned char page[WAL_LONG_HEADER_SIZE];
	uint64_t segsize = 0;
	struct stat st;
	ssize_t n = -1;
	int fd, rc, usable = 0;

	wal_spool(ctx, c, "fetch", spool, sizeof(spool));
	snprintf(path, sizeof(path), "%s/%s", spool, walfile);
	source_path(path, src, sizeof(src));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	if (fstat(fd, &st) == 0)
		n = read(fd, page, sizeof(page));
	/* A file of another cluster or cut short, or not the copy this repository holds, is not used. */
	if (n >= 0 && wal_header_check(page, (size_t) n, walfile, c->sysid, 0, &segsize, why, sizeof(why)) == 0) {
		if ((uint64_t) st.st_size != segsize)
			snprintf(why, sizeof(why), "it is %lld bytes, not %" PRIu64, (long long) st.st_size, segsize);
		else
			usable = source_matches(ctx, path, fd, (size_t) st.st_size, why, sizeof(why));
	}
	close(fd);
	unlink(src);
	if (!usable) {
		pgp_debug("WAL %s in the spool is not used: %s", walfile, why);
		unlink(path);
		return 1;
	}
	if (rename(path, dest) == 0)
		rc = pgp_fsync_dir_of(dest) == 0 ? 0 : pgp_fail("cannot sync the directory of %s: %s", dest,
								strerror(errno));
	else if (errno == EXDEV) {
		rc = copy_file(path, tmp, dest);
		unlink(path);
	} else
		rc = pgp_fail("cannot rename %s to %s: %s", path, dest, strerror(errno));
	if (rc < 0)
		return 1;
	pgp_info("WAL %s served from the prefetch spool", walfile);
	spool_trim(spool, walfile);
	return 0;
}

/* The distinct copies of walfile: *out the one to read.  0, 1 when none, or an exit status. */
static int
find_copy(struct backup_ctx *ctx, const struct cluster *c, const char *walfile, struct wal_copy *out)
{
	struct wal_copy copies[8];
	size_t n;
	int rc = wal_copies(ctx, c, walfile, copies, 8, &n);

	if (rc != PGP_EXIT_OK)
		return rc;
	if (n == 0)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (strcmp(copies[i].sha, copies[0].sha) != 0) {
			pgp_error("WAL %s is in the archive twice with different content (SHA-256 %s and %s)", walfile,
				  copies[0].sha, copies[i].sha);
			return PGP_EXIT_FOUND;
		}
	*out = copies[0];
	return 0;
}

/* A worker's own repository: the connection it inherited is the coordinator's. */
static struct repo *
repo_again(const struct backup_ctx *ctx)
{
	const char *endpoint = NULL, *region = NULL;

	if (strncmp(repo_url(ctx->repo), "s3://", 5) != 0)
		return ctx->repo;
	pgp_conf_get_string(ctx->conf, "backup.s3_endpoint", &endpoint);
	pgp_conf_get_string(ctx->conf, "backup.s3_region", &region);
	return repo_open(repo_url(ctx->repo), ctx->conf, endpoint, region, "backup.wal_timeout");
}

/* One segment into the spool, whole and verified: 0, 1 when the archive does not have it, or 5. */
static int
prefetch_one(const struct backup_ctx *ctx, const struct cluster *c, const char *spool, const char *file)
{
	struct backup_ctx mine = *ctx;
	char path[4200], tmp[4300];
	struct wal_copy w;
	int rc;

	if (!(mine.repo = repo_again(ctx)))
		return PGP_EXIT_FAILED;
	snprintf(path, sizeof(path), "%s/%s", spool, file);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	rc = find_copy(&mine, c, file, &w);
	/* Its source first: a segment in the spool without one is never served. */
	if (rc == 0)
		rc = fetch_into(&mine, c, &w, file, tmp) == PGP_EXIT_OK && source_write(&mine, path, w.sha) == 0 &&
			put_in_place(tmp, path) == 0 ? 0 : PGP_EXIT_FAILED;
	if (rc == PGP_EXIT_FAILED)
		unlink(tmp);
	if (rc == 0)
		pgp_debug("WAL %s prefetched", file);
	return rc == 1 ? 1 : rc ? PGP_EXIT_FAILED : 0;
}

/*
 * The prefetch process: the next segments of walfile's timeline into the
 * spool, up to wal_push_parallel at once (each worker its own process
 * and connection), until one the archive does not have.
 */
static void
prefetch(struct backup_ctx *ctx, struct cluster *c, const char *walfile)
{
	char spool[4096], name[WALNAME_SEGMENT_SIZE], next[WALNAME_SEGMENT_SIZE];
	int parallel = ctx->wal_push_parallel > 0 ? ctx->wal_push_parallel : 1, running = 0, end = 0, status;

	wal_spool(ctx, c, "fetch", spool, sizeof(spool));
	if (cluster_check(ctx, c, 0) != PGP_EXIT_OK)
		return;
	snprintf(name, sizeof(name), "%s", walfile);
	for (int i = 0; i < ctx->wal_fetch_prefetch && !end; i++) {
		char path[4200], src[4300];
		pid_t pid;

		if (walname_segment_next(name, c->segsize, next) < 0)
			break;
		snprintf(name, sizeof(name), "%s", next);
		snprintf(path, sizeof(path), "%s/%s", spool, next);
		source_path(path, src, sizeof(src));
		/* A file without its source (left by something else) is fetched again over it. */
		if (access(path, F_OK) == 0 && access(src, F_OK) == 0)
			continue;
		while (running >= parallel && wait(&status) > 0) {
			running--;
			end |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
		if (end)
			break;
		pid = fork();
		if (pid == 0)
			_exit(prefetch_one(ctx, c, spool, next));
		if (pid < 0)
			break;
		running++;
	}
	while (running > 0 && wait(&status) > 0)
		running--;
}

static void
maybe_prefetch(struct backup_ctx *ctx, const struct cluster *c, const char *walfile)
{
	char spool[4096], lock[4200], log[4200];
	struct cluster mine = *c;
	int fd;

	if (ctx->wal_fetch_prefetch < 1 || walname_classify(walfile) != WALNAME_SEGMENT)
		return;
	wal_spool(ctx, c, "fetch", spool, sizeof(spool));
	if (wal_mkdirs(spool) < 0)
		return;
	wal_spool(ctx, c, "fetch.lock", lock, sizeof(lock));
	wal_spool(ctx, c, "fetch.log", log, sizeof(log));
	if (wal_lock(lock, 0, &fd) != 0)
		return;
	if (wal_detach(log) == 1) {
		prefetch(ctx, &mine, walfile);
		_exit(0);
	}
	close(fd);
}

/* Is the missing segment walfile followed by later ones of its timeline?  0 no, 1 yes, or an exit status. */
static int
later_segments(struct backup_ctx *ctx, const struct cluster *c, const char *walfile, char *later, size_t size)
{
	char prefix[160];
	struct repo_entry *e;
	size_t count;
	int found = 0;

	snprintf(prefix, sizeof(prefix), "%s/wal/%.8s", c->prefix, walfile);
	if (repo_list(ctx->repo, prefix, &e, &count) < 0)
		return wal_repo_status(ctx);
	for (size_t i = 0; i < count; i++) {
		const char *base = strrchr(e[i].name, '/');
		char file[64], sha[65];
		enum compression comp;
		int enc;

		base = base ? base + 1 : e[i].name;
		if (e[i].is_dir || cluster_wal_parse(base, file, sha, &comp, &enc) < 0 ||
		    walname_classify(file) != WALNAME_SEGMENT || strcmp(file, walfile) <= 0)
			continue;
		if (!found || strcmp(file, later) < 0)
			snprintf(later, size, "%s", file);
		found = 1;
	}
	repo_entries_free(e, count);
	return found;
}

/* An exit status of the archive's into what recovery should do. */
static int
verdict(struct backup_ctx *ctx, int rc, int standby, const char *walfile)
{
	if (rc == PGP_EXIT_OK)
		return 0;
	if (standby && (rc == PGP_EXIT_UNREACHABLE || (rc == PGP_EXIT_FAILED && repo_unreachable(ctx->repo)))) {
		pgp_warning("WAL %s: the repository %s does not answer; a standby goes on streaming from its primary",
			    walfile, repo_url(ctx->repo));
		return 1;
	}
	pgp_error("WAL %s cannot be restored: recovery must stop here, not end early", walfile);
	return FETCH_STOP;
}

static int
fetch(struct backup_ctx *ctx, struct cluster *c, const char *walfile, const char *dest, const char *tmp)
{
	struct wal_copy w;
	char later[64];
	int rc;

	if ((rc = cluster_check(ctx, c, 0)) != PGP_EXIT_OK)
		return rc;
	rc = find_copy(ctx, c, walfile, &w);
	if (rc == 1 && walname_classify(walfile) == WALNAME_SEGMENT) {
		int r = later_segments(ctx, c, walfile, later, sizeof(later));

		if (r == 1) {
			pgp_error("WAL %s is missing from the archive, but %s of the same timeline is there: a gap in "
				  "the archive", walfile, later);
			return PGP_EXIT_FOUND;
		}
		if (r != 0)
			return r;
	}
	if (rc == 1) {
		pgp_debug("WAL %s is not in the archive", walfile);
		return FETCH_ABSENT;
	}
	if (rc != 0)
		return rc;
	if ((rc = fetch_into(ctx, c, &w, walfile, tmp)) != PGP_EXIT_OK)
		return rc;
	return put_in_place(tmp, dest) == 0 ? PGP_EXIT_OK : PGP_EXIT_FAILED;
}

int
wal_fetch(struct backup_ctx *ctx, const char *walfile, const char *dest)
{
	char datadir[4200], sysid[32], signal[4300], tmp[4200];
	struct cluster c;
	int standby, rc;

	if (walname_classify(walfile) == WALNAME_INVALID) {
		pgp_error("wal-fetch %s: not the name of a WAL file", walfile);
		return PGP_EXIT_USAGE;
	}
	if (wal_datadir_of(dest, datadir, sizeof(datadir)) < 0 || cluster_read_control(datadir, sysid, sizeof(sysid)) < 0)
		return FETCH_STOP;
	snprintf(signal, sizeof(signal), "%s/standby.signal", datadir);
	standby = access(signal, F_OK) == 0;
	snprintf(tmp, sizeof(tmp), "%s.pgp-fetch", dest);
	cluster_init(ctx, sysid, 0, &c);
	if (walname_classify(walfile) == WALNAME_SEGMENT && from_spool(ctx, &c, walfile, dest, tmp) == 0) {
		maybe_prefetch(ctx, &c, walfile);
		return 0;
	}
	/* Before the first request: the prefetch process must not share this one's connection. */
	maybe_prefetch(ctx, &c, walfile);
	rc = fetch(ctx, &c, walfile, dest, tmp);
	if (rc == FETCH_ABSENT)
		return 1;
	return verdict(ctx, rc, standby, walfile);
}
