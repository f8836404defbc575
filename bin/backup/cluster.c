/*
 * A cluster in the repository (cluster.h): its name, its cluster.json
 * (the system identifier every push and base backup is checked against),
 * the names of its WAL and base backup objects, and its state file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "backup.h"
#include "cluster.h"
#include "exitcodes.h"
#include "json.h"
#include "lock.h"
#include "log.h"
#include "walname.h"

int
cluster_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CLUSTER_NAME_MAX || s[0] == '.' || manifest_id_time(s) != (time_t) -1)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int
cluster_read_control(const char *datadir, char *sysid, size_t size)
{
	char path[4096];
	unsigned char b[8];
	uint64_t id = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/global/pg_control", datadir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pgp_fail("cannot open %s: %s (is %s a PostgreSQL data directory?)", path, strerror(errno),
				datadir);
	/* ControlFileData begins with the uint64 system_identifier, in the server's byte order. */
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n != (ssize_t) sizeof(b))
		return pgp_fail("cannot read %s: %s", path, n < 0 ? strerror(errno) : "too short");
	memcpy(&id, b, sizeof(id));
	if (id == 0)
		return pgp_fail("%s holds no system identifier", path);
	snprintf(sysid, size, "%" PRIu64, id);
	return 0;
}

static void
set_names(struct backup_ctx *ctx, struct cluster *c, const char *name)
{
	snprintf(c->name, sizeof(c->name), "%s", name ? name : ctx->cluster_name);
	snprintf(c->prefix, sizeof(c->prefix), "clusters/%s", c->name);
}

int
cluster_init(struct backup_ctx *ctx, const char *sysid, uint64_t segsize, struct cluster *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sysid, sizeof(c->sysid), "%s", sysid);
	c->segsize = segsize;
	set_names(ctx, c, ctx->cluster_name ? ctx->cluster_name : sysid);
	return PGP_EXIT_OK;
}

/* cluster.json's text into c (name as found): 0, or -1 with a reason. */
static int
parse_cluster_json(const char *text, struct cluster *c, char *why, size_t size)
{
	struct json_object *root = json_tokener_parse(text), *v;
	int rc = -1;

	if (!root || !json_object_is_type(root, json_type_object))
		snprintf(why, size, "not a JSON object");
	else if (!json_object_object_get_ex(root, "format", &v) || !json_object_is_type(v, json_type_string) ||
		 strcmp(json_object_get_string(v), CLUSTER_FORMAT) != 0)
		snprintf(why, size, "not of format %s", CLUSTER_FORMAT);
	else if (!json_object_object_get_ex(root, "system_identifier", &v) ||
		 !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) >= (int) sizeof(c->sysid) ||
		 strspn(json_object_get_string(v), "0123456789") != (size_t) json_object_get_string_len(v))
		snprintf(why, size, "\"system_identifier\" is not a decimal string");
	else {
		snprintf(c->sysid, sizeof(c->sysid), "%s", json_object_get_string(v));
		if (!json_object_object_get_ex(root, "wal_segment_size", &v) || !json_object_is_type(v, json_type_int) ||
		    !walname_segsize_valid((uint64_t) json_object_get_int64(v)))
			snprintf(why, size, "\"wal_segment_size\" is not a power of 2 in 1 MB..1 GB");
		else {
			c->segsize = (uint64_t) json_object_get_int64(v);
			rc = 0;
		}
	}
	json_object_put(root);
	return rc;
}

/*
 * Read cluster.json: 0 (into found), or an exit status (a damaged one is
 * PGP_EXIT_FOUND, logged); *absent set when there is none, so that only a
 * missing file is ever written, never a damaged one.
 */
static int
read_cluster_json(struct backup_ctx *ctx, const struct cluster *c, struct cluster *found, int *absent)
{
	char name[160], why[200];
	char *text;
	size_t len;
	int rc;

	*absent = 0;
	snprintf(name, sizeof(name), "%s/cluster.json", c->prefix);
	rc = repo_read_all(ctx->repo, name, &text, &len);
	if (rc == 1) {
		*absent = 1;
		return PGP_EXIT_OK;
	}
	if (rc < 0)
		return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
	*found = *c;
	rc = parse_cluster_json(text, found, why, sizeof(why));
	free(text);
	if (rc < 0) {
		pgp_error("%s/%s is unreadable: %s", repo_url(ctx->repo), name, why);
		return PGP_EXIT_FOUND;
	}
	return PGP_EXIT_OK;
}

static int
write_cluster_json(struct backup_ctx *ctx, const struct cluster *c)
{
	struct json_object *o = json_object_new_object();
	char name[160], t[32];
	time_t now = time(NULL);
	const char *text;
	int rc;

	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_object_add(o, "format", pgp_json_cstring(CLUSTER_FORMAT));
	json_object_object_add(o, "name", pgp_json_cstring(c->name));
	json_object_object_add(o, "system_identifier", pgp_json_cstring(c->sysid));
	json_object_object_add(o, "wal_segment_size", json_object_new_int64((int64_t) c->segsize));
	json_object_object_add(o, "created", pgp_json_cstring(t));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	snprintf(name, sizeof(name), "%s/cluster.json", c->prefix);
	rc = repo_put(ctx->repo, name, text, strlen(text));
	json_object_put(o);
	if (rc == 0)
		pgp_info("cluster %s (system identifier %s) is new in %s", c->name, c->sysid, repo_url(ctx->repo));
	return rc < 0 ? (repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED) : PGP_EXIT_OK;
}

int
cluster_check(struct backup_ctx *ctx, struct cluster *c, int create)
{
	struct cluster found;
	int absent, rc = read_cluster_json(ctx, c, &found, &absent);

	if (rc != PGP_EXIT_OK)
		return rc;
	if (absent && !create) {
		pgp_error("no cluster \"%s\" in %s", c->name, repo_url(ctx->repo));
		return PGP_EXIT_USAGE;
	}
	if (absent) {
		if (!c->segsize) {
			pgp_error("cluster %s: its WAL segment size is not known yet", c->name);
			return PGP_EXIT_FAILED;
		}
		return write_cluster_json(ctx, c);
	}
	if (strcmp(found.sysid, c->sysid) != 0) {
		pgp_error("cluster \"%s\" in %s has system identifier %s, and this server's is %s: two clusters "
			  "must never share one name", c->name, repo_url(ctx->repo), found.sysid, c->sysid);
		pgp_hint("set backup.cluster (or --cluster) to a name of this cluster's own");
		return PGP_EXIT_USAGE;
	}
	if (c->segsize && c->segsize != found.segsize) {
		pgp_error("cluster \"%s\": WAL segment size %" PRIu64 " here, %" PRIu64 " in the repository", c->name,
			  c->segsize, found.segsize);
		return PGP_EXIT_USAGE;
	}
	c->segsize = found.segsize;
	return PGP_EXIT_OK;
}

int
cluster_find(struct backup_ctx *ctx, struct cluster *c)
{
	struct repo_entry *e;
	size_t n, found = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	if (ctx->cluster_name) {
		int absent;

		set_names(ctx, c, NULL);
		rc = read_cluster_json(ctx, c, c, &absent);
		if (rc == PGP_EXIT_OK && absent) {
			pgp_error("no cluster \"%s\" in %s", c->name, repo_url(ctx->repo));
			return PGP_EXIT_USAGE;
		}
		return rc;
	}
	if (repo_list(ctx->repo, "clusters", &e, &n) < 0)
		return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
	for (size_t i = 0; i < n; i++) {
		char name[CLUSTER_NAME_MAX];
		const char *p = e[i].name + strlen("clusters/"), *slash = strchr(p, '/');

		if (e[i].is_dir || !slash || strcmp(slash, "/cluster.json") != 0 || (size_t) (slash - p) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int) (slash - p), p);
		if (found++ == 0)
			set_names(ctx, c, name);
		else {
			if (found == 2)
				pgp_error("the repository %s holds several clusters: give --cluster NAME", repo_url(ctx->repo));
			pgp_detail("cluster %s", found == 2 ? c->name : name);
			if (found == 2)
				pgp_detail("cluster %s", name);
		}
	}
	repo_entries_free(e, n);
	if (found == 0) {
		pgp_error("no cluster in %s (no physical backup or archived WAL yet)", repo_url(ctx->repo));
		return PGP_EXIT_USAGE;
	}
	if (found > 1)
		return PGP_EXIT_USAGE;
	{
		int absent;

		rc = read_cluster_json(ctx, c, c, &absent);
		if (rc == PGP_EXIT_OK && absent) {
			pgp_error("cluster %s lost its cluster.json while listing", c->name);
			return PGP_EXIT_FAILED;
		}
		return rc;
	}
}

void
cluster_wal_prefix(const struct cluster *c, const char *walfile, char *buf, size_t size)
{
	if (walname_classify(walfile) == WALNAME_HISTORY)
		snprintf(buf, size, "%s/wal/history/%s-", c->prefix, walfile);
	else
		snprintf(buf, size, "%s/wal/%.8s/%s-", c->prefix, walfile, walfile);
}

void
cluster_wal_name(const struct backup_ctx *ctx, const struct cluster *c, const char *walfile,
		 const char *raw_sha256, char *buf, size_t size)
{
	char prefix[256];

	cluster_wal_prefix(c, walfile, prefix, sizeof(prefix));
	snprintf(buf, size, "%s%s%s%s", prefix, raw_sha256, compression_suffix(ctx->compression),
		 ctx->nrecipients ? ".age" : "");
}

int
cluster_wal_parse(const char *base, char *walfile, char *sha, enum compression *c, int *encrypted)
{
	const char *dash = strrchr(base, '-'), *rest;
	size_t flen;

	if (!dash || (flen = (size_t) (dash - base)) == 0 || flen >= 64)
		return -1;
	memcpy(walfile, base, flen);
	walfile[flen] = '\0';
	if (walname_classify(walfile) == WALNAME_INVALID)
		return -1;
	rest = dash + 1;
	if (strspn(rest, "0123456789abcdef") != 64)
		return -1;
	memcpy(sha, rest, 64);
	sha[64] = '\0';
	rest += 64;
	*encrypted = 0;
	{
		size_t n = strlen(rest);

		if (n >= 4 && !strcmp(rest + n - 4, ".age")) {
			*encrypted = 1;
			n -= 4;
		}
		for (enum compression k = COMPRESS_ZSTD; k <= COMPRESS_NONE; k++)
			if (strlen(compression_suffix(k)) == n && !strncmp(rest, compression_suffix(k), n)) {
				*c = k;
				return 0;
			}
	}
	return -1;
}

void
cluster_base_prefix(const struct cluster *c, const char *id, char *buf, size_t size)
{
	if (id)
		snprintf(buf, size, "%s/base/%s", c->prefix, id);
	else
		snprintf(buf, size, "%s/base", c->prefix);
}

void
cluster_state_path(const struct backup_ctx *ctx, const struct cluster *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s/cluster-%s.json", ctx->state_dir, c->name);
}

/* The state lock, waited for (a push holds it for milliseconds), at most 30 s. */
static int
state_lock(const char *path)
{
	int denied, fd = pgp_lock_open(path, &denied);

	if (fd < 0)
		return -1;
	for (int i = 0; i < 3000; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		usleep(10000);
	}
	close(fd);
	return pgp_fail("cannot lock %s: %s", path, strerror(errno));
}

int
cluster_state_update(struct backup_ctx *ctx, const struct cluster *c,
		     void (*update)(struct json_object *state, void *arg), void *arg)
{
	char path[4096], lock[4200];
	struct json_object *state = NULL;
	const char *text;
	char *old;
	size_t len;
	int fd, rc;

	cluster_state_path(ctx, c, path, sizeof(path));
	snprintf(lock, sizeof(lock), "%s.lock", path);
	fd = state_lock(lock);
	if (fd < 0)
		return -1;
	if (access(path, F_OK) == 0) {
		if (pgp_read_file(path, &old, &len) < 0) {
			/* Never start afresh over what another user's run recorded. */
			close(fd);
			pgp_hint("the state file belongs to another user? chown it to the user the archiver runs as");
			return -1;
		}
		state = json_tokener_parse(old);
		free(old);
	}
	/* A damaged state file is rewritten whole: it holds nothing that is not known again. */
	if (!state || !json_object_is_type(state, json_type_object)) {
		json_object_put(state);
		state = json_object_new_object();
	}
	json_object_object_add(state, "cluster", pgp_json_cstring(c->name));
	json_object_object_add(state, "system_identifier", pgp_json_cstring(c->sysid));
	json_object_object_add(state, "repo", pgp_json_cstring(repo_url(ctx->repo)));
	update(state, arg);
	text = json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY);
	rc = pgp_atomic_write(path, text, strlen(text), 0640);
	json_object_put(state);
	close(fd);
	return rc;
}
