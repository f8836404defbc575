/*
 * A base backup's manifest.json ("pgp-backup-physical/1"), written and
 * read, and the list of a cluster's base backups.  The reader is as
 * strict as manifest.c's: every field present and of its type, the
 * objects' names those this format writes for its compression and
 * encryption, LSNs and WAL names agreeing; anything else makes the
 * backup "unreadable", never acted on (not restored, not pruned).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "physical.h"
#include "version.h"
#include "walname.h"

void
phys_rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
phys_repo_status(struct backup_ctx *ctx)
{
	return repo_unreachable(ctx->repo) ? PGP_EXIT_UNREACHABLE : PGP_EXIT_FAILED;
}

static struct json_object *
lsn_json(uint64_t lsn)
{
	char b[WALNAME_LSN_SIZE];

	walname_lsn_format(lsn, b);
	return pgp_json_cstring(b);
}

char *
phys_manifest_text(const struct backup_ctx *ctx, const struct phys_manifest *m)
{
	struct json_object *o = json_object_new_object(), *a, *comp = json_object_new_object();
	char t[32];
	char *text;

	json_object_object_add(o, "format", pgp_json_cstring(PHYS_FORMAT));
	json_object_object_add(o, "id", pgp_json_cstring(m->id));
	json_object_object_add(o, "cluster", pgp_json_cstring(m->cluster));
	json_object_object_add(o, "system_identifier", pgp_json_cstring(m->sysid));
	json_object_object_add(o, "server_version", pgp_json_cstring(m->server_version));
	phys_rfc3339(m->start_time, t, sizeof(t));
	json_object_object_add(o, "start_time", pgp_json_cstring(t));
	phys_rfc3339(m->end_time, t, sizeof(t));
	json_object_object_add(o, "end_time", pgp_json_cstring(t));
	json_object_object_add(o, "tool", pgp_json_cstring("pgp-backup " PGP_VERSION));
	json_object_object_add(o, "wal_segment_size", json_object_new_int64((int64_t) m->segsize));
	json_object_object_add(o, "timeline", json_object_new_int64(m->tli));
	json_object_object_add(o, "end_timeline", json_object_new_int64(m->end_tli));
	json_object_object_add(o, "start_lsn", lsn_json(m->start_lsn));
	json_object_object_add(o, "end_lsn", lsn_json(m->end_lsn));
	json_object_object_add(o, "start_wal", pgp_json_cstring(m->start_wal));
	json_object_object_add(o, "end_wal", pgp_json_cstring(m->end_wal));
	a = json_object_new_array();
	for (size_t i = 0; i < m->ntablespaces; i++) {
		struct json_object *ts = json_object_new_object();

		json_object_object_add(ts, "oid", json_object_new_int64(m->tablespaces[i].oid));
		json_object_object_add(ts, "location", pgp_json_cstring(m->tablespaces[i].location));
		json_object_array_add(a, ts);
	}
	json_object_object_add(o, "tablespaces", a);
	json_object_object_add(comp, "algorithm", pgp_json_cstring(compression_name(m->compression)));
	json_object_object_add(comp, "level", json_object_new_int(m->level));
	json_object_object_add(o, "compression", comp);
	json_object_object_add(o, "encryption", keys_encryption_json(ctx));
	a = json_object_new_array();
	for (size_t i = 0; i < m->nobjects; i++) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "name", pgp_json_cstring(m->objects[i].name));
		json_object_object_add(j, "size", json_object_new_int64((long long) m->objects[i].size));
		json_object_object_add(j, "raw_size", json_object_new_int64((long long) m->objects[i].raw_size));
		json_object_object_add(j, "sha256", pgp_json_cstring(m->objects[i].sha256));
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "objects", a);
	json_object_object_add(o, "status", pgp_json_cstring(m->ok ? "ok" : "failed"));
	if (asprintf(&text, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		text = NULL;
	json_object_put(o);
	return text;
}

/* The reader's helpers: each sets why and returns -1 when the field is wrong. */
struct rd {
	struct json_object *root;
	char *why;
	size_t whysize;
};

static int
bad(struct rd *r, const char *fmt, const char *field)
{
	snprintf(r->why, r->whysize, fmt, field);
	return -1;
}

static int
get_str(struct rd *r, struct json_object *o, const char *key, char *buf, size_t size)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return bad(r, "\"%s\" is missing or not a string", key);
	if ((size_t) json_object_get_string_len(v) >= size || strlen(json_object_get_string(v)) !=
	    (size_t) json_object_get_string_len(v))
		return bad(r, "\"%s\" is too long or holds a NUL", key);
	memcpy(buf, json_object_get_string(v), (size_t) json_object_get_string_len(v) + 1);
	return 0;
}

static int
get_int(struct rd *r, struct json_object *o, const char *key, long long lo, long long hi, long long *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return bad(r, "\"%s\" is missing or not an integer", key);
	*out = json_object_get_int64(v);
	if (*out < lo || *out > hi)
		return bad(r, "\"%s\" is out of range", key);
	return 0;
}

static int
get_lsn(struct rd *r, const char *key, uint64_t *lsn)
{
	char b[32];

	if (get_str(r, r->root, key, b, sizeof(b)) < 0)
		return -1;
	if (walname_lsn_parse(b, lsn) < 0)
		return bad(r, "\"%s\" is not an LSN", key);
	return 0;
}

static int
get_time(struct rd *r, const char *key, time_t *t)
{
	char b[32];
	struct tm tm;
	char *end;

	if (get_str(r, r->root, key, b, sizeof(b)) < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(b, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return bad(r, "\"%s\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)", key);
	*t = timegm(&tm);
	return 0;
}

static int
is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Does an object's name end in the suffixes this backup's storage gives it? */
static int
strip_suffix(const struct phys_manifest *m, const char *name, char *base, size_t size)
{
	const char *cs = compression_suffix(m->compression);
	size_t n = strlen(name), tail = strlen(cs) + (m->encrypted ? 4 : 0);

	if (n <= tail || n - tail >= size || strcmp(name + n - (m->encrypted ? 4 : 0), m->encrypted ? ".age" : "")
	    || strncmp(name + n - tail, cs, strlen(cs)) != 0)
		return -1;
	memcpy(base, name, n - tail);
	base[n - tail] = '\0';
	return 0;
}

/* base.tar, backup_manifest, or OID.tar for a tablespace of the manifest. */
static int
known_object(const struct phys_manifest *m, const char *base)
{
	unsigned oid;
	char rest[8];

	if (!strcmp(base, "base.tar") || !strcmp(base, "backup_manifest"))
		return 1;
	if (sscanf(base, "%u%7s", &oid, rest) != 2 || strcmp(rest, ".tar") != 0)
		return 0;
	for (size_t i = 0; i < m->ntablespaces; i++)
		if (m->tablespaces[i].oid == oid) {
			char again[32];

			snprintf(again, sizeof(again), "%u.tar", oid);
			return !strcmp(again, base);
		}
	return 0;
}

static int
read_objects(struct rd *r, struct phys_manifest *m)
{
	struct json_object *a;
	int seen_base = 0, seen_manifest = 0;

	if (!json_object_object_get_ex(r->root, "objects", &a) || !json_object_is_type(a, json_type_array))
		return bad(r, "\"%s\" is missing or not an array", "objects");
	if (json_object_array_length(a) > PHYS_MAX_OBJECTS)
		return bad(r, "\"%s\" has too many entries", "objects");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		struct phys_object *p = &m->objects[m->nobjects];
		char base[96];
		long long v;

		if (!json_object_is_type(o, json_type_object))
			return bad(r, "an entry of \"%s\" is not an object", "objects");
		if (get_str(r, o, "name", p->name, sizeof(p->name)) < 0 || get_str(r, o, "sha256", p->sha256,
										 sizeof(p->sha256)) < 0)
			return -1;
		if (strip_suffix(m, p->name, base, sizeof(base)) < 0 || !known_object(m, base))
			return bad(r, "object \"%s\" is not one this format stores", p->name);
		if (phys_object_find(m, base))
			return bad(r, "object \"%s\" is listed twice", p->name);
		if (!is_hex64(p->sha256))
			return bad(r, "the sha256 of object \"%s\" is not 64 hex digits", p->name);
		if (get_int(r, o, "size", 0, MANIFEST_MAX_COUNT, &v) < 0)
			return -1;
		p->size = (unsigned long long) v;
		if (get_int(r, o, "raw_size", 0, MANIFEST_MAX_COUNT, &v) < 0)
			return -1;
		p->raw_size = (unsigned long long) v;
		seen_base |= !strcmp(base, "base.tar");
		seen_manifest |= !strcmp(base, "backup_manifest");
		m->nobjects++;
	}
	if (!seen_base || !seen_manifest)
		return bad(r, "%s", "base.tar or backup_manifest is missing from \"objects\"");
	if (m->nobjects != m->ntablespaces + 2)
		return bad(r, "%s", "a tablespace's archive is missing from \"objects\"");
	return 0;
}

static int
read_tablespaces(struct rd *r, struct phys_manifest *m)
{
	struct json_object *a;

	if (!json_object_object_get_ex(r->root, "tablespaces", &a) || !json_object_is_type(a, json_type_array))
		return bad(r, "\"%s\" is missing or not an array", "tablespaces");
	if (json_object_array_length(a) > PHYS_MAX_TABLESPACES)
		return bad(r, "\"%s\" has too many entries", "tablespaces");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		struct phys_tablespace *t = &m->tablespaces[i];
		long long oid;

		if (!json_object_is_type(o, json_type_object) || get_int(r, o, "oid", 1, UINT32_MAX, &oid) < 0 ||
		    get_str(r, o, "location", t->location, sizeof(t->location)) < 0)
			return r->why[0] ? -1 : bad(r, "an entry of \"%s\" is not an object", "tablespaces");
		if (t->location[0] != '/')
			return bad(r, "a location in \"%s\" is not an absolute path", "tablespaces");
		t->oid = (unsigned) oid;
		for (size_t k = 0; k < i; k++)
			if (m->tablespaces[k].oid == t->oid)
				return bad(r, "a tablespace is listed twice in \"%s\"", "tablespaces");
		m->ntablespaces++;
	}
	return 0;
}

static int
read_storage(struct rd *r, struct phys_manifest *m)
{
	struct json_object *v;
	char alg[16];
	long long level, lo, hi;

	if (!json_object_object_get_ex(r->root, "compression", &v) || !json_object_is_type(v, json_type_object))
		return bad(r, "\"%s\" is missing or not an object", "compression");
	if (get_str(r, v, "algorithm", alg, sizeof(alg)) < 0 || compression_parse(alg, &m->compression) < 0)
		return r->why[0] ? -1 : bad(r, "\"%s\" names no compression pgp knows", "compression");
	compression_level_range(m->compression, &lo, &hi);
	if (get_int(r, v, "level", lo, hi, &level) < 0)
		return -1;
	m->level = (int) level;
	if (!json_object_object_get_ex(r->root, "encryption", &v))
		return bad(r, "\"%s\" is missing", "encryption");
	if (v) {
		struct json_object *keys;
		char fmt[64];

		if (!json_object_is_type(v, json_type_object) || get_str(r, v, "format", fmt, sizeof(fmt)) < 0 ||
		    strcmp(fmt, MANIFEST_ENCRYPTION) != 0)
			return bad(r, "\"%s\" is not null or age's format", "encryption");
		if (!json_object_object_get_ex(v, "recipients", &keys) || !json_object_is_type(keys, json_type_array) ||
		    json_object_array_length(keys) == 0)
			return bad(r, "\"%s\" lists no recipients", "encryption");
		m->encrypted = 1;
	}
	return 0;
}

static int
read_wal(struct rd *r, struct phys_manifest *m)
{
	long long v;
	char want[WALNAME_SEGMENT_SIZE];

	if (get_int(r, r->root, "wal_segment_size", (long long) WALNAME_SEGSIZE_MIN, (long long) WALNAME_SEGSIZE_MAX,
		    &v) < 0)
		return -1;
	m->segsize = (uint64_t) v;
	if (!walname_segsize_valid(m->segsize))
		return bad(r, "\"%s\" is not a power of 2", "wal_segment_size");
	if (get_int(r, r->root, "timeline", 1, UINT32_MAX, &v) < 0)
		return -1;
	m->tli = (uint32_t) v;
	if (get_int(r, r->root, "end_timeline", 1, UINT32_MAX, &v) < 0)
		return -1;
	m->end_tli = (uint32_t) v;
	if (get_lsn(r, "start_lsn", &m->start_lsn) < 0 || get_lsn(r, "end_lsn", &m->end_lsn) < 0 ||
	    get_str(r, r->root, "start_wal", m->start_wal, sizeof(m->start_wal)) < 0 ||
	    get_str(r, r->root, "end_wal", m->end_wal, sizeof(m->end_wal)) < 0)
		return -1;
	if (m->end_lsn < m->start_lsn || m->end_tli < m->tli)
		return bad(r, "%s", "the backup ends before it starts");
	walname_segment_format(m->tli, walname_segno(m->start_lsn, m->segsize), m->segsize, want);
	if (strcmp(want, m->start_wal) != 0)
		return bad(r, "\"%s\" is not the segment of start_lsn", "start_wal");
	walname_segment_format(m->end_tli, walname_segno(m->end_lsn, m->segsize), m->segsize, want);
	if (strcmp(want, m->end_wal) != 0)
		return bad(r, "\"%s\" is not the segment of end_lsn", "end_wal");
	return 0;
}

static int
read_all(struct rd *r, const char *id, struct phys_manifest *m)
{
	char fmt[64], status[16], did[32];

	if (get_str(r, r->root, "format", fmt, sizeof(fmt)) < 0)
		return -1;
	if (strcmp(fmt, PHYS_FORMAT) != 0)
		return bad(r, "its format is not %s", PHYS_FORMAT);
	if (get_str(r, r->root, "id", did, sizeof(did)) < 0)
		return -1;
	if (strcmp(did, id) != 0)
		return bad(r, "%s", "its \"id\" is not the directory it is in");
	snprintf(m->id, sizeof(m->id), "%s", id);
	if (get_str(r, r->root, "cluster", m->cluster, sizeof(m->cluster)) < 0 ||
	    get_str(r, r->root, "system_identifier", m->sysid, sizeof(m->sysid)) < 0 ||
	    get_str(r, r->root, "server_version", m->server_version, sizeof(m->server_version)) < 0 ||
	    get_time(r, "start_time", &m->start_time) < 0 || get_time(r, "end_time", &m->end_time) < 0 ||
	    read_wal(r, m) < 0 || read_tablespaces(r, m) < 0 || read_storage(r, m) < 0 || read_objects(r, m) < 0 ||
	    get_str(r, r->root, "status", status, sizeof(status)) < 0)
		return -1;
	if (!*m->sysid || strspn(m->sysid, "0123456789") != strlen(m->sysid))
		return bad(r, "\"%s\" is not a decimal string", "system_identifier");
	if (strcmp(status, "ok") && strcmp(status, "failed"))
		return bad(r, "\"%s\" is neither ok nor failed", "status");
	m->ok = !strcmp(status, "ok");
	return 0;
}

int
phys_manifest_parse(const char *text, size_t len, const char *id, struct phys_manifest *m, char *why,
		    size_t whysize)
{
	struct json_tokener *tok = json_tokener_new();
	struct rd r = {NULL, why, whysize};
	int rc = -1;

	memset(m, 0, sizeof(*m));
	*why = '\0';
	if (!tok)
		return bad(&r, "%s", "out of memory");
	if (len > MANIFEST_MAX_BYTES || memchr(text, '\0', len))
		snprintf(why, whysize, "it is not JSON text");
	else {
		r.root = json_tokener_parse_ex(tok, text, (int) len);
		size_t end = json_tokener_get_parse_end(tok);

		/* Trailing bytes (beyond white space) are not tolerated either. */
		if (!r.root || json_tokener_get_error(tok) != json_tokener_success ||
		    (end < len && strspn(text + end, " \t\r\n") != len - end))
			snprintf(why, whysize, "it is not one JSON document");
		else if (!json_object_is_type(r.root, json_type_object))
			snprintf(why, whysize, "it is not a JSON object");
		else
			rc = read_all(&r, id, m);
	}
	if (rc < 0 && !*why)
		snprintf(why, whysize, "it cannot be read");
	json_object_put(r.root);
	json_tokener_free(tok);
	return rc;
}

const struct phys_object *
phys_object_find(const struct phys_manifest *m, const char *base)
{
	for (size_t i = 0; i < m->nobjects; i++) {
		char b[96];

		if (strip_suffix(m, m->objects[i].name, b, sizeof(b)) == 0 && !strcmp(b, base))
			return &m->objects[i];
	}
	return NULL;
}

static int
by_time_desc(const void *a, const void *b)
{
	const struct phys_info *x = a, *y = b;

	return x->time < y->time ? 1 : x->time > y->time ? -1 : strcmp(y->id, x->id);
}

static void
read_one(struct backup_ctx *ctx, const struct repo_entry *e, struct phys_info *b)
{
	char *data;
	size_t len;

	b->state = BACKUP_UNREADABLE;
	if (manifest_fetch(ctx, e, &data, &len, b->why, sizeof(b->why)) < 0)
		return;
	if (phys_manifest_parse(data, len, b->id, &b->m, b->why, sizeof(b->why)) == 0)
		b->state = b->m.ok ? BACKUP_OK : BACKUP_FAILED;
	free(data);
}

int
phys_load(struct backup_ctx *ctx, const struct cluster *c, struct phys_info **out, size_t *n)
{
	struct repo_entry *e;
	struct phys_info *list = NULL;
	size_t count, cap = 0, plen;
	char prefix[160];

	*out = NULL;
	*n = 0;
	cluster_base_prefix(c, NULL, prefix, sizeof(prefix));
	plen = strlen(prefix);
	if (repo_list(ctx->repo, prefix, &e, &count) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const char *p = e[i].name, *slash, *rest;
		char id[32];
		struct phys_info *b;

		if (strncmp(p, prefix, plen) != 0 || p[plen] != '/')
			continue;
		p += plen + 1;
		slash = strchr(p, '/');
		if (!slash || (size_t) (slash - p) >= sizeof(id))
			continue;
		snprintf(id, sizeof(id), "%.*s", (int) (slash - p), p);
		rest = slash + 1;
		if (manifest_id_time(id) == (time_t) -1 ||
		    (strcmp(rest, MANIFEST) != 0 && strncmp(rest, MANIFEST "/", sizeof(MANIFEST)) != 0))
			continue;
		for (size_t k = 0; k < *n && p; k++)
			if (!strcmp(list[k].id, id))
				p = NULL;
		if (!p)
			continue;
		if (pgp_array_reserve(&list, *n, &cap, sizeof(*list)) < 0) {
			free(list);
			repo_entries_free(e, count);
			return -1;
		}
		b = &list[(*n)++];
		memset(b, 0, sizeof(*b));
		snprintf(b->id, sizeof(b->id), "%s", id);
		b->time = manifest_id_time(id);
		if (strcmp(rest, MANIFEST) != 0) {
			b->state = BACKUP_UNREADABLE;
			snprintf(b->why, sizeof(b->why), "%s is not a regular file", MANIFEST);
		} else
			read_one(ctx, &e[i], b);
		/* A manifest of another cluster copied here is not this cluster's backup. */
		if (b->state != BACKUP_UNREADABLE && (strcmp(b->m.sysid, c->sysid) || strcmp(b->m.cluster, c->name))) {
			b->state = BACKUP_UNREADABLE;
			snprintf(b->why, sizeof(b->why), "it is of cluster %s (system identifier %s), not this one",
				 b->m.cluster, b->m.sysid);
		}
	}
	repo_entries_free(e, count);
	if (*n > 1)
		qsort(list, *n, sizeof(*list), by_time_desc);
	*out = list;
	return 0;
}

int
phys_find(const struct phys_info *list, size_t n, const char *id, size_t *index)
{
	int latest = !strcmp(id, "latest");

	for (size_t k = 0; k < n; k++) {
		if (latest ? list[k].state != BACKUP_OK : strcmp(list[k].id, id) != 0)
			continue;
		if (list[k].state == BACKUP_UNREADABLE) {
			pgp_error("base backup %s: unreadable manifest: %s", list[k].id, list[k].why);
			return PGP_EXIT_FOUND;
		}
		if (list[k].state == BACKUP_FAILED) {
			pgp_error("base backup %s: its manifest says the backup failed", list[k].id);
			return PGP_EXIT_FOUND;
		}
		*index = k;
		return PGP_EXIT_OK;
	}
	if (latest)
		pgp_error("the repository holds no good base backup of this cluster");
	else
		pgp_error("no base backup \"%s\" of this cluster (one without a manifest does not count)", id);
	return PGP_EXIT_USAGE;
}
