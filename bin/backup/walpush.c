/*
 * wal-push, the archive_command: a WAL file is acknowledged (exit 0)
 * only once it is durably stored, or found already stored with the same
 * content.  When the archiver falls behind, one detached process pushes
 * the next .ready files in parallel and leaves SPOOL/NAME/push/FILE.ok
 * (its raw SHA-256 and the repository) once each is stored, so that the
 * archiver's own wal-push of that file acknowledges it at once, after
 * one listing that confirms the copy is there (pgBackRest's async mode).  A per-file lock keeps the two from writing
 * one object at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "stream.h"
#include "walint.h"
#include "walname.h"

/* How long a foreground push waits for a background one of the same file. */
#define PUSH_LOCK_WAIT_MS 120000
/* A background push stops after this long: the archiver starts another. */
#define PUSH_BACKGROUND_SECONDS 900
#define PUSH_MAX_READY 4096

struct wal_file {
	char path[4096];
	char dir[4096];			/* the directory holding it (pg_wal) */
	char name[64];
	enum walname_kind kind;
	char sysid[32];
	uint64_t segsize;		/* 0: not known (no segment in pg_wal) */
	unsigned char *data;
	size_t len;
	char sha[65];
};

static void
file_free(struct wal_file *f)
{
	if (f->data && f->len)
		munmap(f->data, f->len);
	f->data = NULL;
}

/* A .history or .backup file says nothing of the segment size: a segment beside it does. */
static uint64_t
segsize_from_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t size = 0;

	while (d && !size && (de = readdir(d))) {
		char p[4400];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (walname_classify(de->d_name) == WALNAME_SEGMENT && stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    walname_segsize_valid((uint64_t) st.st_size))
			size = (uint64_t) st.st_size;
	}
	if (d)
		closedir(d);
	return size;
}

static int
file_map(struct wal_file *f)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pgp_error("cannot open WAL file %s: %s", f->path, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pgp_error("WAL file %s is not a regular file", f->path);
		close(fd);
		return PGP_EXIT_FAILED;
	}
	f->len = (size_t) st.st_size;
	f->data = f->len ? mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (f->len && f->data == MAP_FAILED) {
		f->data = NULL;
		pgp_error("cannot read WAL file %s: %s", f->path, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	wal_sha256_hex(f->data ? (const void *) f->data : "", f->len, f->sha);
	return PGP_EXIT_OK;
}

/* Everything about the file that needs no repository: an exit status (logged). */
static int
file_inspect(const char *path, struct wal_file *f)
{
	const char *base = strrchr(path, '/');
	char datadir[4200], why[200];
	int rc;

	memset(f, 0, sizeof(*f));
	base = base ? base + 1 : path;
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->name, sizeof(f->name), "%s", base);
	snprintf(f->dir, sizeof(f->dir), "%.*s", base == path ? 1 : (int) (base - path - 1), base == path ? "." : path);
	f->kind = walname_classify(f->name);
	if (f->kind == WALNAME_INVALID || strlen(base) >= sizeof(f->name)) {
		pgp_error("wal-push %s: not the name of a WAL file (a segment, .partial, .history or .backup file)",
			  path);
		return PGP_EXIT_USAGE;
	}
	if (wal_datadir_of(path, datadir, sizeof(datadir)) < 0 ||
	    cluster_read_control(datadir, f->sysid, sizeof(f->sysid)) < 0)
		return PGP_EXIT_USAGE;
	if ((rc = file_map(f)) != PGP_EXIT_OK)
		return rc;
	/* wal-fetch refuses a .history file it cannot parse: refused here, the archiver's failures
	 * say so now, not at restore time. */
	if (f->kind == WALNAME_HISTORY) {
		struct walname_history_entry *h = NULL;
		size_t n;

		if (walname_history_parse((const char *) (f->data ? f->data : (unsigned char *) ""), f->len, &h, &n,
					  why, sizeof(why)) < 0) {
			pgp_error("wal-push %s: refused: not a timeline history file: %s", path, why);
			file_free(f);
			return PGP_EXIT_USAGE;
		}
		free(h);
	}
	if (f->kind != WALNAME_SEGMENT && f->kind != WALNAME_PARTIAL) {
		f->segsize = segsize_from_dir(f->dir);
		return PGP_EXIT_OK;
	}
	if (wal_header_check(f->data, f->len, f->name, f->sysid, 0, &f->segsize, why, sizeof(why)) < 0) {
		pgp_error("wal-push %s: refused: %s", path, why);
		file_free(f);
		return PGP_EXIT_USAGE;
	}
	if (f->len != f->segsize) {
		pgp_error("wal-push %s: refused: it is %zu bytes, its header gives segment size %" PRIu64, path, f->len,
			  f->segsize);
		file_free(f);
		return PGP_EXIT_USAGE;
	}
	return PGP_EXIT_OK;
}

struct push_state {
	const struct wal_file *f;
	int stored;			/* stored now (counted), not acknowledged from a marker */
};

static void
push_update(struct json_object *st, void *arg)
{
	const struct push_state *p = arg;
	struct json_object *v;
	char t[32];
	time_t now = time(NULL);
	int64_t count = 0;

	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	/* Parallel pushes finish out of order: the newest segment and time only move forward. */
	if (p->f->kind == WALNAME_SEGMENT &&
	    (!json_object_object_get_ex(st, "last_archived_wal", &v) || !json_object_is_type(v, json_type_string) ||
	     strcmp(json_object_get_string(v), p->f->name) < 0))
		json_object_object_add(st, "last_archived_wal", pgp_json_cstring(p->f->name));
	if (!json_object_object_get_ex(st, "last_archived_time", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), t) < 0)
		json_object_object_add(st, "last_archived_time", pgp_json_cstring(t));
	if (json_object_object_get_ex(st, "archived_count", &v) && json_object_is_type(v, json_type_int))
		count = json_object_get_int64(v);
	if (p->stored)
		json_object_object_add(st, "archived_count", json_object_new_int64(count + 1));
	json_object_object_add(st, "wal_segment_size", json_object_new_int64((int64_t) p->f->segsize));
}

static void
state_note(struct backup_ctx *ctx, const struct cluster *c, const struct wal_file *f, int stored)
{
	struct push_state p = {f, stored};

	/* The file is stored: a state file that cannot be written is for pgp-alert to notice, not a
	 * reason for the archiver to push it again and again. */
	if (cluster_state_update(ctx, c, push_update, &p) < 0)
		pgp_warning("WAL %s is archived, but the state file was not updated", f->name);
}

/*
 * A local repository: the object and every directory from its own up to
 * the repository's root synced.  A push killed between its rename and
 * the directory's fsync leaves an object its retry finds, and repo.c
 * creates a new timeline's directory without syncing its parent: either
 * way the object could still vanish in a power loss, so nothing is
 * acknowledged before this.  0, or -1 (logged).
 */
static int
local_sync(const struct backup_ctx *ctx, const char *name)
{
	const char *root = repo_url(ctx->repo);
	char path[4096];
	size_t rootlen = strlen(root);
	int fd;

	if (!strncmp(root, "s3://", 5))
		return 0;	/* a completed, checked PUT is durable */
	if ((size_t) snprintf(path, sizeof(path), "%s/%s", root, name) >= sizeof(path))
		return pgp_fail("path too long: %s/%s", root, name);
	for (char *slash;; *slash = '\0') {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0) {
			pgp_error("cannot sync %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		slash = strrchr(path, '/');
		if (!slash || (size_t) (slash - path) < rootlen)
			return 0;
	}
}

/* Store f unless a copy is there: an exit status (logged). */
static int
store(struct backup_ctx *ctx, const struct cluster *c, const struct wal_file *f, int *stored)
{
	struct wal_copy copies[8];
	struct object_info info;
	struct stream s;
	char name[512];
	size_t n;
	int rc, ok;

	*stored = 0;
	if ((rc = wal_copies(ctx, c, f->name, copies, 8, &n)) != PGP_EXIT_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(copies[i].sha, f->sha)) {
			pgp_info("WAL %s is already archived with the same content (SHA-256 %s)", f->name, f->sha);
			/* Found after a crash, maybe before its directory was synced. */
			return local_sync(ctx, copies[i].name) == 0 ? PGP_EXIT_OK : PGP_EXIT_FAILED;
		}
	if (n > 0) {
		pgp_error("WAL %s is already archived with other content: the stored copy's SHA-256 is %s, this "
			  "file's is %s; it is not written over", f->name, copies[0].sha, f->sha);
		pgp_detail("stored as %s/%s", repo_url(ctx->repo), copies[0].name);
		pgp_hint("two servers may be archiving into cluster \"%s\"", c->name);
		return PGP_EXIT_FOUND;
	}
	cluster_wal_name(ctx, c, f->name, f->sha, name, sizeof(name));
	if (stream_open(ctx, &s, name, ctx->compression, ctx->compress_level, 0) < 0)
		return wal_repo_status(ctx);
	ok = 1;
	for (size_t off = 0; ok && off < f->len; off += 1 << 20) {
		size_t chunk = f->len - off < (1 << 20) ? f->len - off : (1 << 20);

		ok = stream_feed(&s, f->data + off, chunk) == 0;
	}
	if (stream_close(&s, ok, &info) < 0)
		return wal_repo_status(ctx);
	if (local_sync(ctx, name) < 0)
		return PGP_EXIT_FAILED;
	*stored = 1;
	pgp_debug("WAL %s stored as %s (%llu bytes)", f->name, name, info.size);
	return PGP_EXIT_OK;
}

static void
marker_path(const struct backup_ctx *ctx, const struct cluster *c, const char *file, const char *ext, char *buf,
	    size_t size)
{
	char dir[4096];

	wal_spool(ctx, c, "push", dir, sizeof(dir));
	snprintf(buf, size, "%s/%s%s", dir, file, ext);
}

/* The marker a background push left: 1 (it holds f's SHA-256), 0 (none, or removed as stale). */
static int
marker_matches(const struct backup_ctx *ctx, const struct cluster *c, const struct wal_file *f)
{
	char path[4200], *text;
	size_t len;
	int same;

	marker_path(ctx, c, f->name, ".ok", path, sizeof(path));
	if (access(path, F_OK) != 0 || pgp_read_file(path, &text, &len) < 0)
		return 0;
	/* "SHA256 REPO": stored there, not in a repository the configuration named before. */
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	same = len > 65 && !strncmp(text, f->sha, 64) && text[64] == ' ' && !strcmp(text + 65, repo_url(ctx->repo));
	free(text);
	unlink(path);
	return same;
}

/*
 * A marker is a claim, not proof: one left from an earlier repository at
 * the same path or URL, or kept in a read-only spool, would acknowledge a
 * file that is not stored.  The claim is checked with one listing (no
 * read, no upload): 0 when a copy with f's SHA-256 is there, 1 when not
 * (the push goes on as without a marker), or an exit status.
 */
static int
marker_confirmed(struct backup_ctx *ctx, const struct cluster *c, const struct wal_file *f)
{
	struct wal_copy copies[8];
	size_t n;
	int rc = wal_copies(ctx, c, f->name, copies, 8, &n);

	if (rc != PGP_EXIT_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(copies[i].sha, f->sha))
			return local_sync(ctx, copies[i].name) == 0 ? PGP_EXIT_OK : PGP_EXIT_FAILED;
	pgp_warning("WAL %s: the spool's marker says it is stored, but %s has no such copy: pushing it", f->name,
		    repo_url(ctx->repo));
	return 1;
}

/* One file of the background's queue, in its own process: an exit status. */
static int
background_one(struct backup_ctx *ctx, const struct cluster *cl, const char *dir, const char *file)
{
	char path[4200], lock[4200], ready[4400], ok[4200];
	struct wal_file f;
	struct cluster c = *cl;
	int fd, rc, stored;

	marker_path(ctx, &c, file, ".lock", lock, sizeof(lock));
	marker_path(ctx, &c, file, ".ok", ok, sizeof(ok));
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(ready, sizeof(ready), "%s/archive_status/%s.ready", dir, file);
	/* Busy: the archiver's own push of it is under way. */
	if (wal_lock(lock, 0, &fd) != 0)
		return PGP_EXIT_OK;
	if (access(ok, F_OK) == 0 || access(ready, F_OK) != 0) {
		wal_unlock(lock, fd);
		return PGP_EXIT_OK;
	}
	rc = file_inspect(path, &f);
	if (rc == PGP_EXIT_OK)
		rc = cluster_check(ctx, &c, 1);
	if (rc == PGP_EXIT_OK)
		rc = store(ctx, &c, &f, &stored);
	/* The marker only once the object is stored for good (and the archiver still wants it). */
	if (rc == PGP_EXIT_OK && access(ready, F_OK) == 0) {
		char text[4200];

		snprintf(text, sizeof(text), "%s %s\n", f.sha, repo_url(ctx->repo));
		if (pgp_atomic_write(ok, text, strlen(text), 0640) < 0)
			rc = PGP_EXIT_FAILED;
		else {
			state_note(ctx, &c, &f, stored);
			pgp_info("WAL %s stored ahead of the archiver", f.name);
		}
	}
	file_free(&f);
	wal_unlock(lock, fd);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The .ready files other than skip with no marker yet, sorted: a count. */
static size_t
ready_files(const struct backup_ctx *ctx, const struct cluster *c, const char *dir, const char *skip, char **out,
	    size_t max)
{
	char status[4200], ok[4400];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(status, sizeof(status), "%s/archive_status", dir);
	if (!(d = opendir(status)))
		return 0;
	while (n < max && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char name[64];

		if (len < 7 || len - 6 >= sizeof(name) || strcmp(de->d_name + len - 6, ".ready") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int) (len - 6), de->d_name);
		marker_path(ctx, c, name, ".ok", ok, sizeof(ok));
		if (walname_classify(name) == WALNAME_INVALID || (skip && !strcmp(name, skip)) || access(ok, F_OK) == 0)
			continue;
		if (!(out[n] = strdup(name)))
			break;
		n++;
	}
	closedir(d);
	qsort(out, n, sizeof(*out), name_cmp);
	return n;
}

/* Markers of files the archiver has done with (no .ready any more) go. */
static void
markers_clean(const struct backup_ctx *ctx, const struct cluster *c, const char *dir)
{
	char spool[4096];
	struct dirent *de;
	DIR *d;

	wal_spool(ctx, c, "push", spool, sizeof(spool));
	if (!(d = opendir(spool)))
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char ready[4400], ok[4400];

		if (len < 4 || strcmp(de->d_name + len - 3, ".ok") != 0)
			continue;
		snprintf(ready, sizeof(ready), "%s/archive_status/%.*s.ready", dir, (int) (len - 3), de->d_name);
		snprintf(ok, sizeof(ok), "%s/%s", spool, de->d_name);
		if (access(ready, F_OK) != 0)
			unlink(ok);
	}
	closedir(d);
}

/* The detached process: pushes the queue with up to wal_push_parallel workers, round after round. */
static void
background(struct backup_ctx *ctx, const struct cluster *c, const char *dir, const char *current)
{
	time_t until = time(NULL) + PUSH_BACKGROUND_SECONDS;
	char **names = calloc(PUSH_MAX_READY, sizeof(*names));
	int parallel = ctx->wal_push_parallel > 0 ? ctx->wal_push_parallel : 1;
	unsigned long total = 0;
	struct rusage ru;

	if (!names)
		return;
	markers_clean(ctx, c, dir);
	while (time(NULL) < until) {
		size_t n = ready_files(ctx, c, dir, current, names, PUSH_MAX_READY), done = 0;
		int running = 0, status;

		for (size_t i = 0; i < n; i++) {
			pid_t pid;

			while (running >= parallel && wait(&status) > 0) {
				running--;
				done += WIFEXITED(status) && WEXITSTATUS(status) == 0;
			}
			/* Each worker its own process: its own connection to the repository. */
			pid = fork();
			if (pid == 0)
				_exit(background_one(ctx, c, dir, names[i]));
			if (pid > 0)
				running++;
			free(names[i]);
		}
		while (running > 0 && wait(&status) > 0) {
			running--;
			done += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		}
		total += n;
		/* Nothing left, or nothing that would go: the archiver's own pushes say why. */
		if (n == 0 || done == 0)
			break;
	}
	markers_clean(ctx, c, dir);
	free(names);
	/* The workers' CPU, for the log (tests/bench/wal.sh adds it to the archiver's own pushes). */
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		pgp_info("background push: %lu files, CPU %ld.%06ld s user, %ld.%06ld s system", total,
			 (long) ru.ru_utime.tv_sec, (long) ru.ru_utime.tv_usec, (long) ru.ru_stime.tv_sec,
			 (long) ru.ru_stime.tv_usec);
}

/* More .ready files than this one: start the background push, unless one runs. */
static void
maybe_background(struct backup_ctx *ctx, const struct cluster *c, const struct wal_file *f)
{
	char spool[4096], lock[4200], log[4200], *one[1];
	int fd;
	size_t n;

	if (ctx->wal_push_parallel < 1 || (n = ready_files(ctx, c, f->dir, f->name, one, 1)) == 0)
		return;
	free(one[0]);
	wal_spool(ctx, c, "push", spool, sizeof(spool));
	if (wal_mkdirs(spool) < 0)
		return;
	wal_spool(ctx, c, "push.lock", lock, sizeof(lock));
	wal_spool(ctx, c, "push.log", log, sizeof(log));
	if (wal_lock(lock, 0, &fd) != 0)
		return;
	/* The child keeps the lock (the same open file) for as long as it runs. */
	if (wal_detach(log) == 1) {
		background(ctx, c, f->dir, f->name);
		_exit(0);
	}
	close(fd);
}

int
wal_push(struct backup_ctx *ctx, const char *path)
{
	struct wal_file f;
	struct cluster c;
	char spool[4096], lock[4200];
	int rc, fd = -1, stored = 0;

	if ((rc = file_inspect(path, &f)) != PGP_EXIT_OK)
		return rc;
	cluster_init(ctx, f.sysid, f.segsize, &c);
	/* Before the first request: the background process must not share this one's connection. */
	maybe_background(ctx, &c, &f);
	wal_spool(ctx, &c, "push", spool, sizeof(spool));
	snprintf(lock, sizeof(lock), "%s/%s.lock", spool, f.name);
	/* No usable spool: no background push can run either, so there is nothing to wait for. */
	if (wal_mkdirs(spool) < 0 || (rc = wal_lock(lock, PUSH_LOCK_WAIT_MS, &fd)) < 0) {
		pgp_warning("WAL %s: pushed without the spool's lock (backup.spool_dir %s)", f.name, ctx->spool_dir);
		fd = -1;
		rc = 0;
	}
	if (rc == 1) {
		pgp_error("WAL %s: a background push of it has held %s for %d s", f.name, lock, PUSH_LOCK_WAIT_MS / 1000);
		file_free(&f);
		return PGP_EXIT_BUSY;
	}
	rc = marker_matches(ctx, &c, &f) ? marker_confirmed(ctx, &c, &f) : 1;
	if (rc == PGP_EXIT_OK) {
		pgp_info("WAL %s was stored by the background push: acknowledged", f.name);
		state_note(ctx, &c, &f, 0);
	} else if (rc == 1 && (rc = cluster_check(ctx, &c, 1)) == PGP_EXIT_OK &&
		   (rc = store(ctx, &c, &f, &stored)) == PGP_EXIT_OK)
		state_note(ctx, &c, &f, stored);
	wal_unlock(lock, fd);
	file_free(&f);
	return rc;
}
