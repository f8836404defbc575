/*
 * basebackup-tool: a test tool over pgp-backup's physical backup
 * foundations (basebackup.c, tarstream.c, pgmanifest.c).
 *
 *   basebackup-tool [--force-encode] [--max-rate KB] [--idle-timeout S]
 *                   [--tablespace-map] CONNINFO OUTDIR
 *       take a base backup over a replication
 *       connection (replication=true is added), writing OUTDIR/base.tar,
 *       OUTDIR/<oid>.tar and OUTDIR/backup_manifest, and verify every file
 *       against the manifest as the archives stream (their sizes and
 *       CRC-32Cs are kept, then checked once the manifest arrives)
 *   basebackup-tool --verify OUTDIR   verify the stored archives again
 *   basebackup-tool --list FILE.tar   list an archive's entries
 *
 * Problems are printed as "problem: PATH: what" lines; the exit status is
 * 0 only when every file matched, 1 on a problem or an unreadable
 * archive, 2 on a usage error.
 */
#include <dirent.h>
#include <getopt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bin/backup/basebackup.h"
#include "../../bin/backup/pgmanifest.h"
#include "../../bin/backup/tarstream.h"
#include "../../bin/backup/walname.h"
#include "log.h"

#define READ_SIZE (256 * 1024)

struct take {
	const char *outdir;
	FILE *out;			/* the archive or manifest being written */
	char path[4096];
	struct tarstream *tar;
	struct pgm_verifier *v;
	struct pgm_parser *manifest;
	int in_manifest;
	long problems;
};

static void
report(void *arg, const char *path, const char *problem)
{
	(void) arg;
	printf("problem: %s: %s\n", path, problem);
}

static int
close_out(struct take *t)
{
	if (!t->out)
		return 0;
	if (fflush(t->out) != 0 || fsync(fileno(t->out)) != 0) {
		pgp_error("cannot write %s: %s", t->path, strerror(errno));
		fclose(t->out);
		t->out = NULL;
		return -1;
	}
	if (fclose(t->out) != 0) {
		t->out = NULL;
		return pgp_fail("cannot write %s: %s", t->path, strerror(errno));
	}
	t->out = NULL;
	return 0;
}

/* End the current archive: its tar must have ended properly. */
static int
end_archive(struct take *t)
{
	int rc = 0;

	if (t->tar && tarstream_finish(t->tar) < 0) {
		if (tarstream_error(t->tar))
			pgp_error("%s: %s", t->path, tarstream_error(t->tar));
		rc = -1;
	}
	tarstream_free(t->tar);
	t->tar = NULL;
	return close_out(t) < 0 ? -1 : rc;
}

static int
open_out(struct take *t, const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->outdir, name);
	if (!(t->out = fopen(t->path, "wbx")))
		return pgp_fail("cannot create %s: %s", t->path, strerror(errno));
	return 0;
}

static int
on_archive(void *arg, const char *name, unsigned oid, const char *location)
{
	struct take *t = arg;
	struct tar_callbacks cb;
	char prefix[64] = "";

	(void) location;
	if (end_archive(t) < 0 || open_out(t, name) < 0)
		return -1;
	if (oid)
		snprintf(prefix, sizeof(prefix), "pg_tblspc/%u", oid);
	pgm_verifier_tar_callbacks(&cb);
	if (pgm_verifier_archive(t->v, prefix) < 0 || !(t->tar = tarstream_new(&cb, t->v)))
		return pgp_fail("out of memory");
	return 0;
}

static int
on_data(void *arg, const void *buf, size_t len)
{
	struct take *t = arg;

	if (fwrite(buf, 1, len, t->out) != len)
		return pgp_fail("cannot write %s: %s", t->path, strerror(errno));
	if (t->in_manifest) {
		if (pgm_parser_feed(t->manifest, buf, len) < 0)
			return pgp_fail("%s: %s", t->path, pgm_parser_error(t->manifest));
	} else if (tarstream_feed(t->tar, buf, len) < 0) {
		if (tarstream_error(t->tar))
			pgp_error("%s: %s", t->path, tarstream_error(t->tar));
		return -1;
	}
	return 0;
}

static int
on_manifest_begin(void *arg)
{
	struct take *t = arg;

	if (end_archive(t) < 0 || open_out(t, "backup_manifest") < 0)
		return -1;
	t->in_manifest = 1;
	return 0;
}

static int
on_end(void *arg, const struct basebackup_info *info)
{
	char start[WALNAME_LSN_SIZE], end[WALNAME_LSN_SIZE], seg[WALNAME_SEGMENT_SIZE];

	(void) arg;
	walname_lsn_format(info->start_lsn, start);
	walname_lsn_format(info->end_lsn, end);
	walname_segment_format(info->start_tli, walname_segno(info->start_lsn, info->wal_segment_size),
			       info->wal_segment_size, seg);
	printf("system %s start %s timeline %u end %s timeline %u first-segment %s tablespaces %zu\n",
	       info->system_identifier, start, info->start_tli, end, info->end_tli, seg,
	       info->ntablespaces);
	return 0;
}

/* The server's notices (WAIT with archiving off says the WAL is ours to keep). */
static void
notice(void *arg, const char *message)
{
	size_t l = strlen(message);

	(void) arg;
	pgp_info("server: %.*s", (int) (l && message[l - 1] == '\n' ? l - 1 : l), message);
}

static int
take(const char *conninfo, const char *outdir, const struct basebackup_options *opts)
{
	const char *keys[] = {"dbname", "replication", "fallback_application_name",
			      "connect_timeout", "keepalives", "keepalives_idle", "tcp_user_timeout", NULL};
	const char *vals[] = {conninfo, "true", "basebackup-tool", "10", "1", "30", "60000", NULL};
	struct basebackup_callbacks cb = {.on_archive = on_archive, .on_data = on_data,
					  .on_manifest_begin = on_manifest_begin, .on_end = on_end};
	struct take t = {.outdir = outdir};
	struct basebackup_info info;
	struct pgmanifest *m = NULL;
	PGconn *conn;
	uint64_t files, bytes;
	int rc = 1;

	if (mkdir(outdir, 0700) < 0) {
		pgp_error("cannot create %s: %s", outdir, strerror(errno));
		return 1;
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		pgp_error("cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	PQsetNoticeProcessor(conn, notice, NULL);
	t.v = pgm_verifier_new(NULL, PGM_CRC32C, report, NULL);
	t.manifest = pgm_parser_new();
	if (!t.v || !t.manifest)
		goto out;
	if (basebackup_run(conn, opts, &cb, &t, &info) < 0) {
		basebackup_info_free(&info);
		goto out;
	}
	basebackup_info_free(&info);
	if (close_out(&t) < 0)
		goto out;
	if (!(m = pgm_parser_finish(t.manifest))) {
		pgp_error("%s/backup_manifest: %s", outdir, pgm_parser_error(t.manifest));
		goto out;
	}
	t.problems = pgm_verifier_finish(t.v, m);
	pgm_verifier_counts(t.v, &files, &bytes);
	printf("verified %llu files, %llu bytes: %ld problems\n", (unsigned long long) files,
	       (unsigned long long) bytes, t.problems);
	rc = t.problems == 0 ? 0 : 1;
out:
	if (t.out)
		fclose(t.out);
	tarstream_free(t.tar);
	pgm_verifier_free(t.v);
	pgm_parser_free(t.manifest);
	pgmanifest_free(m);
	PQfinish(conn);
	return rc;
}

/* Feed a file to a tar stream; 0, or -1 (logged, naming the file). */
static int
read_tar(const char *path, struct tarstream *tar)
{
	static unsigned char buf[READ_SIZE];
	int fd = open(path, O_RDONLY), rc = 0;
	ssize_t n;

	if (fd < 0)
		return pgp_fail("cannot open %s: %s", path, strerror(errno));
	while (rc == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			pgp_error("cannot read %s: %s", path, strerror(errno));
			rc = -1;
		} else
			rc = tarstream_feed(tar, buf, (size_t) n);
	}
	close(fd);
	if (rc == 0)
		rc = tarstream_finish(tar);
	if (rc < 0 && tarstream_error(tar))
		pgp_error("%s: %s", path, tarstream_error(tar));
	return rc;
}

static struct pgmanifest *
read_manifest(const char *path)
{
	static char buf[READ_SIZE];
	struct pgm_parser *p = pgm_parser_new();
	struct pgmanifest *m = NULL;
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f || !p) {
		pgp_error("cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		rc = pgm_parser_feed(p, buf, n);
	if (ferror(f))
		pgp_error("cannot read %s", path);
	else if (rc == 0 && (m = pgm_parser_finish(p)) == NULL)
		rc = -1;
	if (rc < 0)
		pgp_error("%s: %s", path, pgm_parser_error(p));
out:
	if (f)
		fclose(f);
	pgm_parser_free(p);
	return m;
}

static int
is_archive(const struct dirent *d)
{
	size_t l = strlen(d->d_name);

	return l > 4 && !strcmp(d->d_name + l - 4, ".tar");
}

static int
verify(const char *dir)
{
	char path[4096], prefix[64];
	struct dirent **names = NULL;
	struct pgmanifest *m;
	struct pgm_verifier *v;
	struct tar_callbacks cb;
	uint64_t files, bytes;
	long problems;
	int n, failed = 0;

	snprintf(path, sizeof(path), "%s/backup_manifest", dir);
	if (!(m = read_manifest(path)))
		return 1;
	v = pgm_verifier_new(m, PGM_NONE, report, NULL);
	pgm_verifier_tar_callbacks(&cb);
	n = scandir(dir, &names, is_archive, alphasort);
	if (n < 0)
		pgp_error("cannot read %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		struct tarstream *tar = tarstream_new(&cb, v);

		if (!strcmp(names[i]->d_name, "base.tar"))
			prefix[0] = '\0';
		else
			snprintf(prefix, sizeof(prefix), "pg_tblspc/%.*s", (int) strlen(names[i]->d_name) - 4,
				 names[i]->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (!tar || pgm_verifier_archive(v, prefix) < 0 || read_tar(path, tar) < 0)
			failed = 1;
		tarstream_free(tar);
		free(names[i]);
	}
	free(names);
	problems = pgm_verifier_finish(v, NULL);
	pgm_verifier_counts(v, &files, &bytes);
	printf("verified %llu files, %llu bytes: %ld problems\n", (unsigned long long) files,
	       (unsigned long long) bytes, problems);
	pgm_verifier_free(v);
	pgmanifest_free(m);
	return n > 0 && !failed && problems == 0 ? 0 : 1;
}

static int
list_entry(void *arg, const struct tar_entry *e)
{
	(void) arg;
	printf("%c %04o %10llu %s%s%s\n", e->type == TAR_FILE ? 'f' : e->type == TAR_DIR ? 'd' : 'l',
	       e->mode, (unsigned long long) e->size, e->name, e->type == TAR_SYMLINK ? " -> " : "",
	       e->linkname);
	return 0;
}

static int
list(const char *path)
{
	struct tar_callbacks cb = {.entry = list_entry};
	struct tarstream *tar = tarstream_new(&cb, NULL);
	int rc = tar ? read_tar(path, tar) : -1;

	tarstream_free(tar);
	return rc == 0 ? 0 : 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: basebackup-tool [--force-encode] [--max-rate KB] [--idle-timeout S] "
		"[--tablespace-map] CONNINFO OUTDIR\n"
		"       basebackup-tool --verify OUTDIR | --list FILE.tar\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"force-encode", no_argument, NULL, 'e'},
		{"max-rate", required_argument, NULL, 'r'},
		{"idle-timeout", required_argument, NULL, 'i'},
		{"tablespace-map", no_argument, NULL, 'm'},
		{NULL, 0, NULL, 0}
	};
	struct basebackup_options o = {.label = "basebackup-tool", .fast_checkpoint = 1,
				       .start_timeout = 300, .idle_timeout = 120};
	int opt;

	pgp_log_init(argv[0]);
	if (argc == 3 && !strcmp(argv[1], "--verify"))
		return verify(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--list"))
		return list(argv[2]);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'e':
			o.manifest_force_encode = 1;
			break;
		case 'r':
			o.max_rate_kb = atoll(optarg);
			break;
		case 'i':
			o.idle_timeout = atoi(optarg);
			break;
		case 'm':
			o.tablespace_map = 1;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 2)
		return usage();
	return take(argv[optind], argv[optind + 1], &o);
}
