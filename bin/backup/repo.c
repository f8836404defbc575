/*
 * Repositories: a local directory or an S3 prefix behind one interface.
 * Local objects are written to NAME.partial and renamed once complete and
 * synced; S3 objects exist once their (multipart) upload completes.  So a
 * failed write never leaves something that looks whole.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "atomicfile.h"
#include "backup.h"
#include "log.h"
#include "s3.h"

struct repo {
	char *url;
	char *root;			/* local directory, or NULL */
	struct pgp_s3 *s3;		/* or an S3 bucket ... */
	char *prefix;			/* ... and a key prefix ("" or "a/b") */
};

struct repo_writer {
	struct repo *repo;
	char *name;
	int fd;				/* local */
	char *partial, *final;
	struct pgp_s3_upload *up;	/* S3 */
};

/* A secret read from a file named in the config (never from argv). */
static char *
secret_from_file(const struct pgp_conf *conf, const char *key)
{
	const char *path = NULL;
	char *text;
	size_t len;

	if (pgp_conf_get_string(conf, key, &path) != 1)
		return NULL;
	if (pgp_read_file(path, &text, &len) < 0)
		return NULL;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

struct repo *
repo_open(const char *url, const struct pgp_conf *conf, const char *endpoint, const char *region,
	  const char *timeout_key)
{
	struct repo *r = calloc(1, sizeof(*r));

	if (!r || !(r->url = strdup(url)))
		goto fail;
	/* One repository, one spelling: "s3://b/p/" and "s3://b/p" share their locks. */
	for (size_t n = strlen(r->url); n > 1 && r->url[n - 1] == '/' && r->url[n - 2] != '/'; n--)
		r->url[n - 1] = '\0';
	if (strncmp(url, "s3://", 5) == 0) {
		struct pgp_s3_config cfg = {0};
		char *bucket = NULL, *ak = NULL, *sk = NULL;
		long long v;

		if (pgp_s3_parse_url(url, &bucket, &r->prefix) < 0) {
			pgp_error("invalid repository \"%s\" (want s3://bucket/prefix)", url);
			goto fail;
		}
		ak = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID"))
			: secret_from_file(conf, "backup.s3_access_key_file");
		sk = getenv("AWS_SECRET_ACCESS_KEY") ? strdup(getenv("AWS_SECRET_ACCESS_KEY"))
			: secret_from_file(conf, "backup.s3_secret_key_file");
		cfg.endpoint = endpoint;
		cfg.region = region;
		cfg.bucket = bucket;
		cfg.access_key = ak;
		cfg.secret_key = sk;
		if (pgp_conf_get_int(conf, "backup.s3_attempts", &v) == 1)
			cfg.attempts = (int) v;
		if (pgp_conf_get_int(conf, "backup.s3_part_size_mb", &v) == 1)
			cfg.part_size = (size_t) v * 1024 * 1024;
		if (pgp_conf_get_int(conf, "backup.s3_parts_in_flight", &v) == 1)
			cfg.parts_in_flight = (int) v;
		if (pgp_conf_get_int(conf, timeout_key, &v) == 1)
			cfg.deadline = (long) v;
		cfg.deadline_key = timeout_key;
		r->s3 = pgp_s3_open(&cfg);
		free(bucket);
		free(ak);
		if (sk) {
			explicit_bzero(sk, strlen(sk));
			free(sk);
		}
		if (!r->s3)
			goto fail;
		return r;
	}
	/* Created on the first write: reading an absent repository finds no backup. */
	r->root = strdup(url);
	if (!r->root)
		goto fail;
	return r;
fail:
	repo_close(r);
	return NULL;
}

void
repo_close(struct repo *r)
{
	if (!r)
		return;
	pgp_s3_close(r->s3);
	free(r->url);
	free(r->root);
	free(r->prefix);
	free(r);
}

const char *
repo_url(const struct repo *r)
{
	return r->url;
}

void
repo_cleanup(struct repo *r, int on)
{
	if (r->s3)
		pgp_s3_grace(r->s3, on);
}

int
repo_unreachable(const struct repo *r)
{
	return r->s3 && pgp_s3_unreachable(r->s3);
}

int
repo_probe(struct repo *r, const char *name)
{
	if (repo_put(r, name, "", 0) < 0 || repo_delete(r, name) < 0) {
		pgp_detail("the repository %s cannot be written: nothing was dumped", r->url);
		return -1;
	}
	return 0;
}

static char *
join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (!s)
		return NULL;
	if (la == 0) {
		memcpy(s, b, lb + 1);
		return s;
	}
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

/* mkdir -p for the directory part of path. */
static int
make_parents(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) == 0) {
			/* A new directory is durable only once its parent's entry is. */
			if (pgp_fsync_dir_of(buf) != 0)
				return pgp_fail("cannot sync the directory of \"%s\": %s", buf, strerror(errno));
		} else if (errno != EEXIST)
			return pgp_fail("cannot create directory \"%s\": %s", buf, strerror(errno));
		*p = '/';
	}
	return 0;
}

struct repo_writer *
repo_create(struct repo *r, const char *name)
{
	struct repo_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->repo = r;
	w->fd = -1;
	w->name = strdup(name);
	if (r->s3) {
		char *key = join(r->prefix, name);

		w->up = key ? pgp_s3_upload_begin(r->s3, key) : NULL;
		free(key);
		if (!w->up)
			goto fail;
		return w;
	}
	w->final = join(r->root, name);
	if (!w->final || asprintf(&w->partial, "%s.partial", w->final) < 0)
		goto fail;
	if (make_parents(w->final) < 0)
		goto fail;
	/* Locked before it is emptied: two writers of one object never share its
	 * .partial (a killed writer's lock is gone with it). */
	w->fd = open(w->partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (w->fd < 0) {
		pgp_error("cannot create \"%s\": %s", w->partial, strerror(errno));
		goto fail;
	}
	if (flock(w->fd, LOCK_EX | LOCK_NB) != 0 || ftruncate(w->fd, 0) != 0) {
		pgp_error("cannot write \"%s\": %s", w->partial,
			  errno == EWOULDBLOCK ? "another process is writing it" : strerror(errno));
		close(w->fd);
		goto fail;
	}
	return w;
fail:
	free(w->name);
	free(w->final);
	free(w->partial);
	free(w);
	return NULL;
}

int
repo_write(struct repo_writer *w, const void *data, size_t len)
{
	const char *p = data;

	if (w->up)
		return pgp_s3_upload_write(w->up, data, len);
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return pgp_fail("cannot write \"%s\": %s", w->partial, strerror(errno));
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

static void
writer_free(struct repo_writer *w)
{
	free(w->name);
	free(w->final);
	free(w->partial);
	free(w);
}

int
repo_commit(struct repo_writer *w)
{
	int rc = 0;

	if (w->up) {
		rc = pgp_s3_upload_finish(w->up);
		writer_free(w);
		return rc;
	}
	/* Synced file, rename, synced directory: then the object exists for good. */
	if (fsync(w->fd) != 0) {
		rc = pgp_fail("cannot write \"%s\": %s", w->partial, strerror(errno));
		close(w->fd);
	} else if (close(w->fd) != 0)
		rc = pgp_fail("cannot write \"%s\": %s", w->partial, strerror(errno));
	else if (rename(w->partial, w->final) != 0)
		rc = pgp_fail("cannot rename \"%s\": %s", w->partial, strerror(errno));
	else if (pgp_fsync_dir_of(w->final) != 0)
		rc = pgp_fail("cannot sync the directory of \"%s\": %s", w->final, strerror(errno));
	if (rc < 0)
		unlink(w->partial);
	writer_free(w);
	return rc;
}

void
repo_abort(struct repo_writer *w)
{
	if (!w)
		return;
	if (w->up)
		pgp_s3_upload_abort(w->up);
	else {
		close(w->fd);
		unlink(w->partial);
	}
	writer_free(w);
}

int
repo_put(struct repo *r, const char *name, const void *data, size_t len)
{
	struct repo_writer *w = repo_create(r, name);

	if (!w)
		return -1;
	if (repo_write(w, data, len) < 0) {
		repo_abort(w);
		return -1;
	}
	return repo_commit(w);
}

int
repo_read(struct repo *r, const char *name, int (*sink)(void *, const void *, size_t), void *arg)
{
	char buf[65536], *path;
	int fd, rc = 0;

	if (r->s3) {
		char *key = join(r->prefix, name);

		rc = key ? pgp_s3_get(r->s3, key, sink, arg) : -1;
		free(key);
		return rc;
	}
	path = join(r->root, name);
	if (!path)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? 1 : pgp_fail("cannot open \"%s\": %s", path, strerror(errno));
		free(path);
		return rc;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pgp_fail("cannot read \"%s\": %s", path, strerror(errno));
			break;
		}
		if (n == 0 || (rc = sink(arg, buf, (size_t) n)) < 0)
			break;
	}
	close(fd);
	free(path);
	return rc;
}

struct collect {
	char *data;
	size_t len, cap;
};

static int
collect_sink(void *arg, const void *data, size_t len)
{
	struct collect *c = arg;

	if (c->len + len + 1 > c->cap) {
		size_t cap = (c->len + len + 1) * 2;
		char *bigger = realloc(c->data, cap);

		if (!bigger)
			return pgp_fail("out of memory");
		c->data = bigger;
		c->cap = cap;
	}
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->data[c->len] = '\0';
	return 0;
}

int
repo_read_all(struct repo *r, const char *name, char **data, size_t *len)
{
	struct collect c = {0};
	int rc = repo_read(r, name, collect_sink, &c);

	if (rc != 0 || !c.data) {
		free(c.data);
		return rc != 0 ? rc : (*data = strdup(""), *len = 0, 0);
	}
	*data = c.data;
	*len = c.len;
	return 0;
}

static int
add_entry(struct repo_entry **list, size_t *n, size_t *cap, const char *name, unsigned long long size,
	  int is_dir)
{
	if (pgp_array_reserve(list, *n, cap, sizeof(**list)) < 0)
		return -1;
	(*list)[*n].name = strdup(name);
	if (!(*list)[*n].name)
		return pgp_fail("out of memory");
	(*list)[*n].size = size;
	(*list)[(*n)++].is_dir = is_dir;
	return 0;
}

static int
walk(const char *root, const char *rel, struct repo_entry **list, size_t *n, size_t *cap)
{
	char path[PATH_MAX], child[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : pgp_fail("cannot read \"%s\": %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, child);
		if (lstat(path, &st) != 0)
			continue;
		/* Directories are listed too: a manifest.json that is a directory
		 * must be seen, not taken for a missing manifest. */
		if (S_ISDIR(st.st_mode)) {
			rc = add_entry(list, n, cap, child, 0, 1);
			if (rc == 0)
				rc = walk(root, child, list, n, cap);
		} else
			rc = add_entry(list, n, cap, child, (unsigned long long) st.st_size, !S_ISREG(st.st_mode));
	}
	closedir(d);
	return rc;
}

int
repo_list(struct repo *r, const char *prefix, struct repo_entry **entries, size_t *count)
{
	size_t n = 0, cap = 0;
	struct repo_entry *list = NULL;

	*entries = NULL;
	*count = 0;
	if (r->s3) {
		struct pgp_s3_object *objs;
		size_t no;
		char *key = join(r->prefix, prefix);
		size_t skip = *r->prefix ? strlen(r->prefix) + 1 : 0;
		int rc = key ? pgp_s3_list(r->s3, key, &objs, &no) : -1;

		free(key);
		if (rc < 0)
			return -1;
		for (size_t i = 0; i < no && rc == 0; i++)
			if (strlen(objs[i].key) > skip)
				rc = add_entry(&list, &n, &cap, objs[i].key + skip, objs[i].size, 0);
		pgp_s3_objects_free(objs, no);
		*entries = list;
		*count = n;
		return rc;
	}
	if (walk(r->root, prefix, &list, &n, &cap) < 0) {
		repo_entries_free(list, n);
		return -1;
	}
	*entries = list;
	*count = n;
	return 0;
}

int
repo_find(struct repo *r, const char *dir, const char *name_prefix, struct repo_entry **entries, size_t *count)
{
	size_t n = 0, cap = 0, plen = strlen(name_prefix);
	struct repo_entry *list = NULL;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	*entries = NULL;
	*count = 0;
	if (r->s3) {
		/* A key prefix: S3 lists only what starts with it. */
		char *joined = join(dir, name_prefix);

		rc = joined ? repo_list(r, joined, entries, count) : pgp_fail("out of memory");
		free(joined);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s", r->root, dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : pgp_fail("cannot read \"%s\": %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		char child[PATH_MAX];

		if (strncmp(de->d_name, name_prefix, plen) != 0)
			continue;
		snprintf(child, sizeof(child), "%s/%s", dir, de->d_name);
		snprintf(path, sizeof(path), "%s/%s", r->root, child);
		if (lstat(path, &st) != 0)
			continue;
		rc = add_entry(&list, &n, &cap, child, (unsigned long long) st.st_size, !S_ISREG(st.st_mode));
	}
	closedir(d);
	if (rc < 0) {
		repo_entries_free(list, n);
		return -1;
	}
	*entries = list;
	*count = n;
	return 0;
}

void
repo_entries_free(struct repo_entry *e, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(e[i].name);
	free(e);
}

int
repo_delete(struct repo *r, const char *name)
{
	char *path;
	int rc = 0;

	if (r->s3) {
		char *key = join(r->prefix, name);

		rc = key ? pgp_s3_delete(r->s3, key) : -1;
		free(key);
		return rc;
	}
	path = join(r->root, name);
	if (!path)
		return -1;
	if (unlink(path) != 0 && errno != ENOENT)
		rc = pgp_fail("cannot remove \"%s\": %s", path, strerror(errno));
	/* Remove the backup's directory once it is empty. */
	for (char *slash = strrchr(path, '/'); rc == 0 && slash && slash > path + strlen(r->root);
	     slash = strrchr(path, '/')) {
		*slash = '\0';
		if (rmdir(path) != 0)
			break;
	}
	free(path);
	return rc;
}
