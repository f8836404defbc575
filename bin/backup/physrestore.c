/*
 * Restoring a base backup: backup_manifest first, then each tar read
 * (stored bytes checked, decrypted, decompressed) through the verifier
 * and an unpacker at once, so a file that does not match stops the
 * restore and everything created is removed again.  Then the files are
 * synced (syncfs), given to the directory's owner when we are root, the
 * recovery settings written (physrecovery.c) and, with --start, the
 * server started and waited for (physserver.c).  Also verify's check of
 * every file of a stored backup (the same reading, no unpacking).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "exitcodes.h"
#include "log.h"
#include "pgmanifest.h"
#include "physical.h"
#include "spawn.h"
#include "stream.h"
#include "tarstream.h"

/* Reading one base backup's archives. */
struct unpack {
	const char *id;
	const char *root;		/* where this archive unpacks; NULL: verify only */
	struct pgm_verifier *v;
	struct tar_callbacks vcb;	/* the verifier's own callbacks */
	struct tarstream *tar;
	int fd;				/* the file being written */
	char path[PATH_MAX];
	long problems;
	long unread;			/* files not reached after an archive failed */
	int archive_failed;		/* an archive could not be read whole */
	int failed;			/* an unpacking error (logged) */
	const char *archive;
};

static void
report(void *arg, const char *path, const char *problem)
{
	struct unpack *u = arg;

	u->problems++;
	/* After a broken archive, the files it did not reach are one line, not thousands. */
	if (u->archive_failed && strstr(problem, "not in the backup")) {
		u->unread++;
		return;
	}
	pgp_error("base backup %s: %s: %s", u->id, path, problem);
}

/* Create the parents of path (relative to root, ours) when the tar did not. */
static int
make_parents(const char *path, size_t rootlen)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + rootlen + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int
unpack_entry(struct unpack *u, const struct tar_entry *e)
{
	size_t rootlen = strlen(u->root);

	if (!*e->name || !strcmp(e->name, "."))
		return 0;
	snprintf(u->path, sizeof(u->path), "%s/%s", u->root, e->name);
	if (make_parents(u->path, rootlen) < 0)
		goto fail;
	if (e->type == TAR_DIR) {
		if (mkdir(u->path, 0700) < 0 && errno != EEXIST)
			goto fail;
		return 0;
	}
	if (e->type == TAR_SYMLINK) {
		if (symlink(e->linkname, u->path) < 0)
			goto fail;
		return 0;
	}
	/* Never through a symlink, never over anything: a new file of ours. */
	u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t) (e->mode & 0700) | 0600);
	if (u->fd < 0)
		goto fail;
	return 0;
fail:
	pgp_error("cannot create %s: %s", u->path, strerror(errno));
	return -1;
}

static int
tar_entry(void *arg, const struct tar_entry *e)
{
	struct unpack *u = arg;

	if (u->vcb.entry(u->v, e) < 0)
		return -1;
	if (u->root && unpack_entry(u, e) < 0) {
		u->failed = 1;
		return -1;
	}
	return 0;
}

static int
tar_data(void *arg, const void *buf, size_t len)
{
	struct unpack *u = arg;
	const char *p = buf;

	if (u->vcb.data(u->v, buf, len) < 0)
		return -1;
	while (u->fd >= 0 && len > 0) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			u->failed = 1;
			return pgp_fail("cannot write %s: %s", u->path, strerror(errno));
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

static int
tar_entry_end(void *arg, const struct tar_entry *e)
{
	struct unpack *u = arg;

	if (u->fd >= 0) {
		if (close(u->fd) < 0) {
			u->fd = -1;
			u->failed = 1;
			return pgp_fail("cannot write %s: %s", u->path, strerror(errno));
		}
		u->fd = -1;
	}
	if (u->vcb.entry_end(u->v, e) < 0)
		return -1;
	/* A file that does not match its manifest entry stops the restore. */
	return u->problems ? -1 : 0;
}

static int
tar_sink(void *arg, const void *data, size_t len)
{
	struct unpack *u = arg;

	if (tarstream_feed(u->tar, data, len) < 0) {
		if (tarstream_error(u->tar))
			pgp_error("base backup %s: %s: %s", u->id, u->archive, tarstream_error(u->tar));
		return -1;
	}
	return 0;
}

/* An encrypted backup needs the identity, loaded once. */
static int
need_identity(struct backup_ctx *ctx, const struct phys_info *b)
{
	if (!b->m.encrypted)
		return PGP_EXIT_OK;
	if (!ctx->identity_file) {
		pgp_error("base backup %s is encrypted: reading it needs an identity (private key) file", b->id);
		pgp_hint("give --identity FILE or set backup.identity_file");
		return PGP_EXIT_USAGE;
	}
	return keys_identities(ctx) < 0 ? PGP_EXIT_USAGE : PGP_EXIT_OK;
}

/* Read object base ("base.tar") of b into sink. */
static int
read_object(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, const char *base,
	    compress_sink sink, void *arg)
{
	const struct phys_object *o = phys_object_find(&b->m, base);
	struct stream_expect x = {b->m.compression, b->m.encrypted, 1, 0, NULL};
	struct stream_result res;
	char dir[192], name[320], label[192];

	if (!o) {
		pgp_error("base backup %s: no object %s in its manifest", b->id, base);
		return PGP_EXIT_FOUND;
	}
	x.size = o->size;
	x.sha256 = o->sha256;
	cluster_base_prefix(c, b->id, dir, sizeof(dir));
	snprintf(name, sizeof(name), "%s/%s", dir, o->name);
	snprintf(label, sizeof(label), "base backup %s: object %s", b->id, o->name);
	return stream_read(ctx, name, label, &x, sink, arg, 0, &res);
}

static int
mem_sink(void *arg, const void *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len ? 0 : pgp_fail("out of memory");
}

/* PostgreSQL's backup_manifest of b, parsed: the manifest, or NULL (*status set). */
static struct pgmanifest *
load_pg_manifest(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, int *status)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct pgmanifest *m = NULL;

	if (!mem) {
		*status = PGP_EXIT_FAILED;
		return NULL;
	}
	*status = read_object(ctx, c, b, "backup_manifest", mem_sink, mem);
	if (fclose(mem) != 0 && *status == PGP_EXIT_OK)
		*status = PGP_EXIT_FAILED;
	if (*status == PGP_EXIT_OK && !(m = pgmanifest_parse(text, len, err, sizeof(err)))) {
		pgp_error("base backup %s: backup_manifest: %s", b->id, err);
		*status = PGP_EXIT_FOUND;
	}
	free(text);
	return m;
}

/* One archive through the verifier (and the unpacker when root is set). */
static int
read_archive(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, struct unpack *u,
	     unsigned oid, const char *root)
{
	struct tar_callbacks cb = {tar_entry, tar_data, tar_entry_end};
	char base[32], prefix[64] = "";
	int rc;

	if (oid) {
		snprintf(base, sizeof(base), "%u.tar", oid);
		snprintf(prefix, sizeof(prefix), "pg_tblspc/%u", oid);
	} else
		snprintf(base, sizeof(base), "base.tar");
	u->root = root;
	u->archive = base;
	if (pgm_verifier_archive(u->v, prefix) < 0 || !(u->tar = tarstream_new(&cb, u))) {
		pgp_error("out of memory");
		return PGP_EXIT_FAILED;
	}
	rc = read_object(ctx, c, b, base, tar_sink, u);
	if (rc == PGP_EXIT_OK && tarstream_finish(u->tar) < 0) {
		pgp_error("base backup %s: %s: %s", b->id, base, tarstream_error(u->tar) ? tarstream_error(u->tar)
			  : "the archive does not end properly");
		rc = PGP_EXIT_FOUND;
	}
	tarstream_free(u->tar);
	u->tar = NULL;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	if (rc != PGP_EXIT_OK)
		u->archive_failed = 1;
	if (u->problems)
		return PGP_EXIT_FOUND;
	if (u->failed)
		return PGP_EXIT_FAILED;
	return rc;
}

/* dir must be absent (created 0700) or an empty directory: 0, or an exit status (logged). */
static int
prepare_dir(const char *dir, int *created)
{
	DIR *d;
	struct dirent *e;
	int empty = 1;

	*created = 0;
	if (mkdir(dir, 0700) == 0) {
		*created = 1;
		return 0;
	}
	if (errno != EEXIST) {
		pgp_error("cannot create %s: %s", dir, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	if (!(d = opendir(dir))) {
		pgp_error("%s exists and cannot be read as a directory: %s", dir, strerror(errno));
		return PGP_EXIT_USAGE;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	if (!empty) {
		pgp_error("%s is not empty: a restore goes into an empty or new directory", dir);
		return PGP_EXIT_USAGE;
	}
	/* The server refuses a data directory others may read (0700 or 0750 only). */
	if (chmod(dir, 0700) < 0) {
		pgp_error("cannot chmod %s: %s", dir, strerror(errno));
		return PGP_EXIT_FAILED;
	}
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) st, (void) flag;
	if (f->level > 0)
		remove(path);
	return 0;
}

/* Remove what we created under dir (everything: it was empty), and dir when ours. */
static void
remove_tree(const char *dir, int created)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (created)
		rmdir(dir);
}

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	static uid_t uid;
	static gid_t gid;

	(void) flag, (void) f;
	if (!path) {		/* set the owner: st carries it */
		uid = st->st_uid;
		gid = st->st_gid;
		return 0;
	}
	return lchown(path, uid, gid) < 0 ? -1 : 0;
}

/* As root: everything restored belongs to the server's OS user. */
static int
give_to(const char *dir, uid_t uid, gid_t gid)
{
	struct stat st;

	st.st_uid = uid;
	st.st_gid = gid;
	chown_one(NULL, &st, 0, NULL);
	if (nftw(dir, chown_one, 16, FTW_PHYS) != 0)
		return pgp_fail("cannot give %s to uid %ld: %s", dir, (long) uid, strerror(errno));
	return 0;
}

/* syncfs: the restored files are durable before recovery is set up. */
static int
sync_tree(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return pgp_fail("cannot open %s: %s", dir, strerror(errno));
	rc = syncfs(fd);
	close(fd);
	return rc < 0 ? pgp_fail("cannot sync %s: %s", dir, strerror(errno)) : 0;
}

/* Unpack every archive of b; on any failure what was created is removed. */
/* The stored backup_manifest, and u's verifier against it: the manifest, or NULL with *rc set. */
static struct pgmanifest *
verifier_open(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, struct unpack *u, int *rc)
{
	struct pgmanifest *pm = load_pg_manifest(ctx, c, b, rc);

	if (!pm)
		return NULL;
	if (!(u->v = pgm_verifier_new(pm, PGM_NONE, report, u))) {
		pgmanifest_free(pm);
		*rc = PGP_EXIT_FAILED;
		return NULL;
	}
	pgm_verifier_tar_callbacks(&u->vcb);
	return pm;
}

static int
unpack_all(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, const char *dir, int test,
	   int *created, size_t *ncreated, char (*tsdirs)[PATH_MAX])
{
	struct unpack u = {.id = b->id, .fd = -1};
	struct pgmanifest *pm;
	char buf[PATH_MAX];
	int rc;

	if (!(pm = verifier_open(ctx, c, b, &u, &rc)))
		return rc;
	rc = read_archive(ctx, c, b, &u, 0, dir);
	for (size_t i = 0; rc == PGP_EXIT_OK && i < b->m.ntablespaces; i++) {
		const char *where = phys_tablespace_dir(ctx, &b->m.tablespaces[i], dir, test, buf, sizeof(buf));

		if (test && i == 0 && (snprintf(tsdirs[0], PATH_MAX, "%s.tblspc", dir), mkdir(tsdirs[0], 0700) < 0)) {
			rc = PGP_EXIT_FAILED;
			break;
		}
		snprintf(tsdirs[i + 1], PATH_MAX, "%s", where);
		if ((rc = prepare_dir(where, &created[i + 1])) != PGP_EXIT_OK)
			break;
		*ncreated = i + 2;
		rc = read_archive(ctx, c, b, &u, b->m.tablespaces[i].oid, where);
	}
	if (rc == PGP_EXIT_OK) {
		long problems = pgm_verifier_finish(u.v, NULL);

		if (problems != 0)
			rc = problems < 0 ? PGP_EXIT_FAILED : PGP_EXIT_FOUND;
	}
	pgm_verifier_free(u.v);
	pgmanifest_free(pm);
	return rc;
}

/* Checking a stored backup's files without unpacking them (verify). */
int
phys_verify_content(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b)
{
	struct unpack u = {.id = b->id, .fd = -1};
	struct pgmanifest *pm;
	uint64_t files, bytes;
	long problems;
	int rc, worst;

	if ((rc = need_identity(ctx, b)) != PGP_EXIT_OK)
		return rc;
	if (!(pm = verifier_open(ctx, c, b, &u, &rc)))
		return rc;
	/* Every archive, whatever the one before found: each problem named. */
	worst = read_archive(ctx, c, b, &u, 0, NULL);
	for (size_t i = 0; i < b->m.ntablespaces; i++) {
		u.problems = 0;
		rc = read_archive(ctx, c, b, &u, b->m.tablespaces[i].oid, NULL);
		worst = rc > worst ? rc : worst;
	}
	problems = pgm_verifier_finish(u.v, NULL);
	if (u.unread)
		pgp_error("base backup %s: %ld more files of backup_manifest were not reached (their archive is "
			  "damaged)", b->id, u.unread);
	pgm_verifier_counts(u.v, &files, &bytes);
	if (problems != 0 && worst == PGP_EXIT_OK)
		worst = problems < 0 ? PGP_EXIT_FAILED : PGP_EXIT_FOUND;
	if (worst == PGP_EXIT_OK)
		pgp_info("base backup %s: %llu files, %llu bytes match backup_manifest", b->id,
			 (unsigned long long) files, (unsigned long long) bytes);
	pgm_verifier_free(u.v);
	pgmanifest_free(pm);
	return worst;
}

int
phys_restore_into(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, const char *dir,
		  int test)
{
	int created[PHYS_MAX_TABLESPACES + 2] = {0}, rc;
	char tsdirs[PHYS_MAX_TABLESPACES + 2][PATH_MAX];
	size_t ncreated = 1;
	struct phys_listen l;
	struct stat st;

	memset(tsdirs, 0, sizeof(tsdirs));
	phys_listen_from_spec(ctx, &l);
	if (test)
		memset(&l, 0, sizeof(l));
	for (size_t i = 0; i < b->m.ntablespaces; i++) {
		char buf[PATH_MAX];
		const char *w = phys_tablespace_dir(ctx, &b->m.tablespaces[i], dir, test, buf, sizeof(buf));

		if (strchr(w, '\n') || strchr(w, '\r') || strchr(w, '\\') || w[0] != '/') {
			pgp_error("tablespace %u: \"%s\" is not a directory tablespace_map can name", b->m.tablespaces[i].oid, w);
			return PGP_EXIT_USAGE;
		}
	}
	if ((rc = need_identity(ctx, b)) != PGP_EXIT_OK || (rc = prepare_dir(dir, &created[0])) != PGP_EXIT_OK)
		return rc;
	/* What --start would refuse after the download, refused before it. */
	if (!test && ctx->start_server && geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid == 0) {
		pgp_error("%s belongs to root: PostgreSQL does not run as root (--start)", dir);
		pgp_hint("restore into a directory the server's OS user owns (mkdir; chown postgres), or as that user");
		remove_tree(dir, created[0]);
		return PGP_EXIT_USAGE;
	}
	snprintf(tsdirs[1 + PHYS_MAX_TABLESPACES], PATH_MAX, "%s", dir);
	pgp_info("restoring base backup %s of cluster %s into %s", b->id, c->name, dir);
	rc = unpack_all(ctx, c, b, dir, test, created, &ncreated, tsdirs);
	if (rc == PGP_EXIT_OK && (phys_write_tablespace_map(ctx, b, dir, test) < 0 ||
				  phys_write_recovery(ctx, c, b, dir, test, &l) < 0))
		rc = PGP_EXIT_FAILED;
	for (size_t i = 1; rc == PGP_EXIT_OK && i < ncreated; i++)
		if (sync_tree(tsdirs[i]) < 0)
			rc = PGP_EXIT_FAILED;
	if (rc == PGP_EXIT_OK && sync_tree(dir) < 0)
		rc = PGP_EXIT_FAILED;
	/* As root, the files go to the directory's owner (test: the postgres user). */
	if (rc == PGP_EXIT_OK && geteuid() == 0 && stat(dir, &st) == 0) {
		uid_t uid = st.st_uid;
		gid_t gid = st.st_gid;

		if (test && pgp_os_user("postgres", &uid, &gid) < 0)
			rc = PGP_EXIT_FAILED;
		if (rc == PGP_EXIT_OK && uid != 0) {
			if (give_to(dir, uid, gid) < 0)
				rc = PGP_EXIT_FAILED;
			for (size_t i = 1; rc == PGP_EXIT_OK && i < ncreated; i++)
				if (give_to(tsdirs[i], uid, gid) < 0)
					rc = PGP_EXIT_FAILED;
			if (test && b->m.ntablespaces && rc == PGP_EXIT_OK)
				rc = give_to(tsdirs[0], uid, gid) < 0 ? PGP_EXIT_FAILED : rc;
		}
	}
	if (rc == PGP_EXIT_OK && (ctx->start_server || test))
		rc = phys_start_server(ctx, b, dir, test, &l);
	if (rc == PGP_EXIT_OK && !test) {
		if (!ctx->start_server)
			printf("restored base backup %s into %s: start it to recover (pg_ctl -D %s start)\n", b->id, dir, dir);
		return rc;
	}
	/* Failed, or a test: nothing of it stays. */
	if (rc != PGP_EXIT_OK && !test && (ctx->start_server) && access(dir, F_OK) == 0) {
		/* A server that ran keeps its directory and log for the diagnosis. */
		char pid[PATH_MAX];

		snprintf(pid, sizeof(pid), "%s/pgp-restore.log", dir);
		if (access(pid, F_OK) == 0) {
			pgp_detail("%s is kept for the diagnosis (its log: %s)", dir, pid);
			return rc;
		}
	}
	for (size_t i = 1; i < ncreated; i++)
		remove_tree(tsdirs[i], created[i]);
	if (test && b->m.ntablespaces)
		remove_tree(tsdirs[0], 1);
	remove_tree(dir, created[0]);
	return rc;
}

/* --primary must not carry a password: primary_conninfo would keep it in the clear. */
static int
primary_has_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	int bad = !opts;

	for (PQconninfoOption *p = opts; p && p->keyword; p++)
		if (!strcmp(p->keyword, "password") && p->val && *p->val)
			bad = 1;
	PQconninfoFree(opts);
	if (bad) {
		pgp_error("--primary: %s", opts ? "a password is never written into primary_conninfo"
			  : "not a connection string libpq can parse");
		if (opts)
			pgp_hint("put it in a pgpass file (PGPASSFILE or ~/.pgpass): primary_conninfo names it as passfile");
	}
	return bad;
}

int
physical_restore(struct backup_ctx *ctx, const char *id)
{
	struct cluster c;
	struct phys_info *list;
	size_t n, k;
	char lockname[CLUSTER_NAME_MAX + 16], dir[PATH_MAX];
	int lock, rc;

	if (!ctx->data_dir) {
		pgp_error("restore --physical needs --data-dir DIR (an empty or new directory)");
		return PGP_EXIT_USAGE;
	}
	if (ctx->standby && primary_has_password(ctx->primary_conninfo))
		return PGP_EXIT_USAGE;
	if (ctx->data_dir[0] != '/') {
		if (!getcwd(dir, sizeof(dir) - strlen(ctx->data_dir) - 2)) {
			pgp_error("cannot find the current directory: %s", strerror(errno));
			return PGP_EXIT_FAILED;
		}
		strcat(dir, "/");
		strcat(dir, ctx->data_dir);
	} else
		snprintf(dir, sizeof(dir), "%s", ctx->data_dir);
	if ((rc = cluster_find(ctx, &c)) != PGP_EXIT_OK)
		return rc;
	phys_lock_name(&c, lockname, sizeof(lockname));
	if ((rc = lock_take(ctx, lockname, "read", 1, &lock)) != PGP_EXIT_OK)
		return rc;
	if (phys_load(ctx, &c, &list, &n) < 0) {
		close(lock);
		return phys_repo_status(ctx);
	}
	if ((rc = phys_find(list, n, id, &k)) == PGP_EXIT_OK)
		rc = phys_restore_into(ctx, &c, &list[k], dir, 0);
	free(list);
	close(lock);
	return rc;
}
