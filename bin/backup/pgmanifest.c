/*
 * backup_manifest: parsing (json-c's incremental tokener, the text's
 * SHA-256 taken as it streams) and verification of tar entries against
 * it.  The rules are pg_verifybackup's: the version first, then only the
 * known top-level fields with Manifest-Checksum last; a file has Path or
 * Encoded-Path (never both) and Size; a checksum needs its algorithm;
 * the text's last line (the one holding Manifest-Checksum) is left out
 * of the checksum, which must be 64 hex digits.  A CRC32C checksum is
 * the CRC's four bytes in the server's memory order, which on every
 * platform PostgreSQL builds for in practice (x86-64, ARM64) is
 * little-endian; that is what is compared.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "crc32c.h"
#include "pgmanifest.h"
#include "walname.h"

/* A line of the manifest held while its text streams; lines are short. */
#define HELD_MAX (16 * 1024 * 1024)

static const struct {
	const char *name;
	size_t len;
} algorithms[] = {
	[PGM_NONE] = {"NONE", 0},
	[PGM_CRC32C] = {"CRC32C", 4},
	[PGM_SHA224] = {"SHA224", 28},
	[PGM_SHA256] = {"SHA256", 32},
	[PGM_SHA384] = {"SHA384", 48},
	[PGM_SHA512] = {"SHA512", 64},
};

const char *
pgm_algorithm_name(enum pgm_algorithm a)
{
	return algorithms[a].name;
}

int
pgm_algorithm_parse(const char *name, enum pgm_algorithm *a)
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (!strcasecmp(name, algorithms[i].name)) {
			*a = (enum pgm_algorithm) i;
			return 0;
		}
	return -1;
}

/* ---- checksums of file data ---- */

struct hasher {
	enum pgm_algorithm a;
	uint32_t crc;
	EVP_MD_CTX *md;
};

static const EVP_MD *
evp_of(enum pgm_algorithm a)
{
	switch (a) {
	case PGM_SHA224:
		return EVP_sha224();
	case PGM_SHA256:
		return EVP_sha256();
	case PGM_SHA384:
		return EVP_sha384();
	case PGM_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static int
hasher_start(struct hasher *h, enum pgm_algorithm a)
{
	h->a = a;
	h->crc = 0;
	if (!evp_of(a))
		return 0;
	if (!h->md && !(h->md = EVP_MD_CTX_new()))
		return -1;
	return EVP_DigestInit_ex(h->md, evp_of(a), NULL) == 1 ? 0 : -1;
}

static int
hasher_update(struct hasher *h, const void *data, size_t len)
{
	if (h->a == PGM_CRC32C)
		h->crc = crc32c_update(h->crc, data, len);
	else if (evp_of(h->a))
		return EVP_DigestUpdate(h->md, data, len) == 1 ? 0 : -1;
	return 0;
}

static int
hasher_final(struct hasher *h, unsigned char *out, size_t *len)
{
	unsigned int l = 0;

	*len = algorithms[h->a].len;
	if (h->a == PGM_CRC32C) {
		for (int i = 0; i < 4; i++)
			out[i] = (unsigned char) (h->crc >> (8 * i));
	} else if (evp_of(h->a)) {
		if (EVP_DigestFinal_ex(h->md, out, &l) != 1 || l != *len)
			return -1;
	}
	return 0;
}

/* ---- the manifest ---- */

static uint64_t
path_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
	return h;
}

/* Index the files; -1 with why on a duplicate path or out of memory. */
static int
build_index(struct pgmanifest *m, char *err, size_t errsize)
{
	size_t size = 16;

	while (size < m->nfiles * 2)
		size *= 2;
	m->index = malloc(size * sizeof(*m->index));
	if (!m->index) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	m->index_size = size;
	for (size_t i = 0; i < size; i++)
		m->index[i] = SIZE_MAX;
	for (size_t i = 0; i < m->nfiles; i++) {
		size_t slot = (size_t) path_hash(m->files[i].path) & (size - 1);

		while (m->index[slot] != SIZE_MAX) {
			if (!strcmp(m->files[m->index[slot]].path, m->files[i].path)) {
				snprintf(err, errsize, "duplicate path name \"%s\"", m->files[i].path);
				return -1;
			}
			slot = (slot + 1) & (size - 1);
		}
		m->index[slot] = i;
	}
	return 0;
}

const struct pgm_file *
pgmanifest_find(const struct pgmanifest *m, const char *path)
{
	size_t slot;

	if (!m || !m->index_size)
		return NULL;
	slot = (size_t) path_hash(path) & (m->index_size - 1);
	while (m->index[slot] != SIZE_MAX) {
		if (!strcmp(m->files[m->index[slot]].path, path))
			return &m->files[m->index[slot]];
		slot = (slot + 1) & (m->index_size - 1);
	}
	return NULL;
}

void
pgmanifest_free(struct pgmanifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i].path);
	free(m->files);
	free(m->wal_ranges);
	free(m->index);
	free(m);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex (even length, at most cap bytes): the byte count, or -1. */
static long
hexdecode(const char *s, unsigned char *out, size_t cap)
{
	size_t len = strlen(s);

	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char) (hi << 4 | lo);
	}
	return (long) (len / 2);
}

static int
get_uint64(struct json_object *v, uint64_t *out)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return -1;
	i = json_object_get_int64(v);
	if (i < 0)
		return -1;
	/* json-c keeps a value past INT64_MAX unsigned, and clamps the int64 */
	*out = i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t) i;
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
errf(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	return -1;
}

static int
read_file_entry(struct json_object *o, size_t i, struct pgm_file *f, char *err, size_t errsize)
{
	const char *path = NULL, *encoded = NULL, *alg = NULL, *sum = NULL;
	int have_size = 0;
	char where[64];

	snprintf(where, sizeof(where), "file %zu", i + 1);
	if (!json_object_is_type(o, json_type_object))
		return errf(err, errsize, "%s: not an object", where);
	json_object_object_foreach(o, key, v) {
		int is_str = json_object_is_type(v, json_type_string);

		if (!strcmp(key, "Path") && is_str)
			path = json_object_get_string(v);
		else if (!strcmp(key, "Encoded-Path") && is_str)
			encoded = json_object_get_string(v);
		else if (!strcmp(key, "Size")) {
			if (get_uint64(v, &f->size) < 0)
				return errf(err, errsize, "%s: file size is not an integer", where);
			have_size = 1;
		} else if (!strcmp(key, "Last-Modified") && is_str)
			;
		else if (!strcmp(key, "Checksum-Algorithm") && is_str)
			alg = json_object_get_string(v);
		else if (!strcmp(key, "Checksum") && is_str)
			sum = json_object_get_string(v);
		else
			return errf(err, errsize, "%s: unexpected file field \"%s\"", where, key);
	}
	if (!path && !encoded)
		return errf(err, errsize, "%s: missing path name", where);
	if (path && encoded)
		return errf(err, errsize, "%s: both path name and encoded path name", where);
	if (encoded) {
		size_t l = strlen(encoded);
		long n;

		if (!(f->path = malloc(l / 2 + 1)))
			return errf(err, errsize, "out of memory");
		n = hexdecode(encoded, (unsigned char *) f->path, l / 2);
		if (n < 0 || memchr(f->path, '\0', (size_t) n))
			return errf(err, errsize, "%s: could not decode file name", where);
		f->path[n] = '\0';
	} else if (!(f->path = strdup(path)))
		return errf(err, errsize, "out of memory");
	if (!have_size)
		return errf(err, errsize, "file \"%s\": missing size", f->path);
	if (!alg && sum)
		return errf(err, errsize, "file \"%s\": checksum without algorithm", f->path);
	f->algorithm = PGM_NONE;
	if (alg && pgm_algorithm_parse(alg, &f->algorithm) < 0)
		return errf(err, errsize, "file \"%s\": unrecognized checksum algorithm \"%s\"",
			    f->path, alg);
	if (sum && *sum) {
		long n = hexdecode(sum, f->checksum, sizeof(f->checksum));

		if (n < 0)
			return errf(err, errsize, "file \"%s\": invalid checksum \"%s\"", f->path, sum);
		f->checksum_len = (size_t) n;
	}
	if (f->checksum_len != algorithms[f->algorithm].len)
		return errf(err, errsize, "file \"%s\": %s checksum of %zu bytes, expected %zu",
			    f->path, algorithms[f->algorithm].name, f->checksum_len,
			    algorithms[f->algorithm].len);
	return 0;
}

static int
read_files(struct pgmanifest *m, struct json_object *a, char *err, size_t errsize)
{
	size_t n;

	if (!json_object_is_type(a, json_type_array))
		return errf(err, errsize, "\"Files\" is not an array");
	n = json_object_array_length(a);
	if (n && !(m->files = calloc(n, sizeof(*m->files))))
		return errf(err, errsize, "out of memory");
	for (size_t i = 0; i < n; i++) {
		m->nfiles = i + 1;
		if (read_file_entry(json_object_array_get_idx(a, i), i, &m->files[i], err, errsize) < 0)
			return -1;
	}
	return build_index(m, err, errsize);
}

static int
read_wal_ranges(struct pgmanifest *m, struct json_object *a, char *err, size_t errsize)
{
	size_t n;

	if (!json_object_is_type(a, json_type_array))
		return errf(err, errsize, "\"WAL-Ranges\" is not an array");
	n = json_object_array_length(a);
	if (n && !(m->wal_ranges = calloc(n, sizeof(*m->wal_ranges))))
		return errf(err, errsize, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		struct pgm_wal_range *r = &m->wal_ranges[i];
		int have = 0;
		uint64_t tli;

		if (!json_object_is_type(o, json_type_object))
			return errf(err, errsize, "WAL range %zu: not an object", i + 1);
		json_object_object_foreach(o, key, v) {
			const char *s = json_object_is_type(v, json_type_string) ?
					json_object_get_string(v) : NULL;

			if (!strcmp(key, "Timeline")) {
				if (get_uint64(v, &tli) < 0 || tli == 0 || tli > UINT32_MAX)
					return errf(err, errsize, "WAL range %zu: timeline is not an integer", i + 1);
				r->tli = (uint32_t) tli;
				have |= 1;
			} else if (!strcmp(key, "Start-LSN") && s) {
				if (walname_lsn_parse(s, &r->start_lsn) < 0)
					return errf(err, errsize, "WAL range %zu: could not parse start LSN", i + 1);
				have |= 2;
			} else if (!strcmp(key, "End-LSN") && s) {
				if (walname_lsn_parse(s, &r->end_lsn) < 0)
					return errf(err, errsize, "WAL range %zu: could not parse end LSN", i + 1);
				have |= 4;
			} else
				return errf(err, errsize, "WAL range %zu: unexpected field \"%s\"", i + 1, key);
		}
		if (have != 7)
			return errf(err, errsize, "WAL range %zu: missing %s", i + 1,
				    !(have & 1) ? "timeline" : !(have & 2) ? "start LSN" : "end LSN");
		m->nwal_ranges = i + 1;
	}
	return 0;
}

/* The tree into a manifest; checksum: the text's SHA-256 as computed. */
static struct pgmanifest *
build(struct json_object *root, const unsigned char *checksum, char *err, size_t errsize)
{
	struct pgmanifest *m = calloc(1, sizeof(*m));
	int first = 1, have_files = 0, have_sum = 0, have_wal = 0, after_sum = 0;
	unsigned char want[32];

	if (!m) {
		errf(err, errsize, "out of memory");
		return NULL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		errf(err, errsize, "not a JSON object");
		goto fail;
	}
	json_object_object_foreach(root, key, v) {
		if (after_sum) {
			errf(err, errsize, "\"%s\" after Manifest-Checksum", key);
			goto fail;
		}
		if (first) {
			uint64_t ver;

			if (strcmp(key, "PostgreSQL-Backup-Manifest-Version")) {
				errf(err, errsize, "expected version indicator");
				goto fail;
			}
			if (get_uint64(v, &ver) < 0 || (ver != 1 && ver != 2)) {
				errf(err, errsize, "unexpected manifest version");
				goto fail;
			}
			m->version = (int) ver;
			first = 0;
		} else if (!strcmp(key, "System-Identifier")) {
			if (get_uint64(v, &m->system_identifier) < 0) {
				errf(err, errsize, "manifest system identifier not an integer");
				goto fail;
			}
			m->has_system_identifier = 1;
		} else if (!strcmp(key, "Files")) {
			if (read_files(m, v, err, errsize) < 0)
				goto fail;
			have_files = 1;
		} else if (!strcmp(key, "WAL-Ranges")) {
			if (read_wal_ranges(m, v, err, errsize) < 0)
				goto fail;
			have_wal = 1;
		} else if (!strcmp(key, "Manifest-Checksum")) {
			const char *s = json_object_is_type(v, json_type_string) ?
					json_object_get_string(v) : "";

			if (strlen(s) != 64 || hexdecode(s, want, sizeof(want)) != 32) {
				errf(err, errsize, "invalid manifest checksum: \"%s\"", s);
				goto fail;
			}
			have_sum = after_sum = 1;
		} else {
			errf(err, errsize, "unrecognized top-level field \"%s\"", key);
			goto fail;
		}
	}
	if (first) {
		errf(err, errsize, "expected version indicator");
		goto fail;
	}
	if (!have_sum) {
		errf(err, errsize, "manifest has no checksum");
		goto fail;
	}
	if (memcmp(want, checksum, 32)) {
		errf(err, errsize, "manifest checksum mismatch");
		goto fail;
	}
	if (!have_files && build_index(m, err, errsize) < 0)
		goto fail;
	(void) have_wal;
	return m;
fail:
	pgmanifest_free(m);
	return NULL;
}

struct pgm_parser {
	struct json_tokener *tok;
	struct json_object *root;
	EVP_MD_CTX *sha;
	char *held;			/* text after the last hashed newline */
	size_t held_len, held_cap;
	uint64_t newlines, bytes;
	int failed;
	char err[512];
};

struct pgm_parser *
pgm_parser_new(void)
{
	struct pgm_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	p->sha = EVP_MD_CTX_new();
	if (!p->tok || !p->sha || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1) {
		pgm_parser_free(p);
		return NULL;
	}
	return p;
}

void
pgm_parser_free(struct pgm_parser *p)
{
	if (!p)
		return;
	if (p->tok)
		json_tokener_free(p->tok);
	if (p->root)
		json_object_put(p->root);
	EVP_MD_CTX_free(p->sha);
	free(p->held);
	free(p);
}

const char *
pgm_parser_error(const struct pgm_parser *p)
{
	return p->err;
}

static int __attribute__((format(printf, 2, 3)))
parser_fail(struct pgm_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->failed = 1;
	return -1;
}

static int
held_append(struct pgm_parser *p, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	if (p->held_len + len > HELD_MAX)
		return parser_fail(p, "a line of over %d bytes", HELD_MAX);
	if (p->held_len + len > p->held_cap) {
		size_t cap = p->held_cap ? p->held_cap : 4096;
		char *n;

		while (cap < p->held_len + len)
			cap *= 2;
		if (!(n = realloc(p->held, cap)))
			return parser_fail(p, "out of memory");
		p->held = n;
		p->held_cap = cap;
	}
	memcpy(p->held + p->held_len, data, len);
	p->held_len += len;
	return 0;
}

static int
hash(struct pgm_parser *p, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(p->sha, data, len) != 1)
		return parser_fail(p, "SHA-256 failed");
	return 0;
}

/*
 * Keep the checksum's invariant: everything up to the newline before the
 * last one seen is hashed, and held has at most one newline.
 */
static int
track_text(struct pgm_parser *p, const char *data, size_t len)
{
	const char *last = len ? memrchr(data, '\n', len) : NULL, *prev;
	const char *h;

	for (size_t i = 0; i < len; i++)
		p->newlines += data[i] == '\n';
	if (!last)
		return held_append(p, data, len);
	prev = memrchr(data, '\n', (size_t) (last - data));
	if (prev) {
		size_t cut = (size_t) (prev - data) + 1;

		if (hash(p, p->held, p->held_len) < 0 || hash(p, data, cut) < 0)
			return -1;
		p->held_len = 0;
		return held_append(p, data + cut, len - cut);
	}
	if (p->held_len && (h = memchr(p->held, '\n', p->held_len))) {
		size_t cut = (size_t) (h - p->held) + 1;

		if (hash(p, p->held, cut) < 0)
			return -1;
		memmove(p->held, p->held + cut, p->held_len - cut);
		p->held_len -= cut;
	}
	return held_append(p, data, len);
}

static int
only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char) s[i]))
			return 0;
	return 1;
}

int
pgm_parser_feed(struct pgm_parser *p, const void *data, size_t len)
{
	const char *s = data;

	if (p->failed)
		return -1;
	if (track_text(p, s, len) < 0)
		return -1;
	while (len) {
		size_t n = len > (1u << 30) ? (1u << 30) : len;
		size_t used;

		if (p->root) {
			if (!only_space(s, n))
				return parser_fail(p, "text after the manifest's object at byte %llu",
						   (unsigned long long) p->bytes);
			used = n;
		} else {
			enum json_tokener_error e;

			p->root = json_tokener_parse_ex(p->tok, s, (int) n);
			e = json_tokener_get_error(p->tok);
			if (!p->root && e != json_tokener_continue)
				return parser_fail(p, "not valid JSON near byte %llu: %s",
						   (unsigned long long) (p->bytes + json_tokener_get_parse_end(p->tok)),
						   json_tokener_error_desc(e));
			used = p->root ? json_tokener_get_parse_end(p->tok) : n;
			if (p->root && !only_space(s + used, n - used))
				return parser_fail(p, "text after the manifest's object at byte %llu",
						   (unsigned long long) (p->bytes + used));
			used = n;
		}
		p->bytes += used;
		s += used;
		len -= used;
	}
	return 0;
}

struct pgmanifest *
pgm_parser_finish(struct pgm_parser *p)
{
	unsigned char sum[32];
	unsigned int l = 0;
	struct pgmanifest *m;

	if (p->failed)
		return NULL;
	if (!p->root) {
		parser_fail(p, "the manifest ended unexpectedly");
		return NULL;
	}
	if (p->newlines < 2) {
		parser_fail(p, "expected at least 2 lines");
		return NULL;
	}
	if (!p->held_len || p->held[p->held_len - 1] != '\n') {
		parser_fail(p, "last line not newline-terminated");
		return NULL;
	}
	if (EVP_DigestFinal_ex(p->sha, sum, &l) != 1 || l != sizeof(sum)) {
		parser_fail(p, "SHA-256 failed");
		return NULL;
	}
	m = build(p->root, sum, p->err, sizeof(p->err));
	if (!m)
		p->failed = 1;
	return m;
}

struct pgmanifest *
pgmanifest_parse(const void *text, size_t len, char *err, size_t errsize)
{
	struct pgm_parser *p = pgm_parser_new();
	struct pgmanifest *m = NULL;

	if (!p) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	if (pgm_parser_feed(p, text, len) == 0)
		m = pgm_parser_finish(p);
	if (!m)
		snprintf(err, errsize, "%s", p->err);
	pgm_parser_free(p);
	return m;
}

int
pgm_ignored(const char *path)
{
	static const char *const ignore[] = {
		"backup_manifest", "pg_wal", "postgresql.auto.conf", "recovery.signal",
		"standby.signal"
	};

	for (size_t i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++) {
		size_t l = strlen(ignore[i]);

		if (!strncmp(path, ignore[i], l) && (path[l] == '\0' || path[l] == '/'))
			return 1;
	}
	return 0;
}

/* ---- the verifier ---- */

struct observed {
	char *path;
	uint64_t size;
	unsigned char sum[PGM_CHECKSUM_MAX];
	size_t sum_len;
};

struct pgm_verifier {
	const struct pgmanifest *m;	/* NULL: recording */
	enum pgm_algorithm record;
	pgm_report_fn report;
	void *arg;
	char *prefix;
	unsigned char *seen;		/* per manifest file */
	struct observed *obs;
	size_t nobs, obs_cap;
	/* The file whose data is flowing. */
	int active;
	char *path;
	const struct pgm_file *file;	/* with a manifest */
	uint64_t got;
	struct hasher h;
	uint64_t files, bytes;
	long problems;
	int broken;
};

static void __attribute__((format(printf, 3, 4)))
problem(struct pgm_verifier *v, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->report)
		v->report(v->arg, path, msg);
}

struct pgm_verifier *
pgm_verifier_new(const struct pgmanifest *m, enum pgm_algorithm record, pgm_report_fn report,
		 void *arg)
{
	struct pgm_verifier *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->m = m;
	v->record = record;
	v->report = report;
	v->arg = arg;
	if (m && m->nfiles && !(v->seen = calloc(m->nfiles, 1))) {
		free(v);
		return NULL;
	}
	return v;
}

void
pgm_verifier_free(struct pgm_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nobs; i++)
		free(v->obs[i].path);
	free(v->obs);
	free(v->seen);
	free(v->prefix);
	free(v->path);
	EVP_MD_CTX_free(v->h.md);
	free(v);
}

int
pgm_verifier_archive(struct pgm_verifier *v, const char *prefix)
{
	char *p = strdup(prefix ? prefix : "");

	if (!p)
		return -1;
	free(v->prefix);
	v->prefix = p;
	return 0;
}

void
pgm_verifier_counts(const struct pgm_verifier *v, uint64_t *files, uint64_t *bytes)
{
	*files = v->files;
	*bytes = v->bytes;
}

/* Mark manifest file f seen; a second sighting is a problem. */
static int
mark_seen(struct pgm_verifier *v, const struct pgmanifest *m, const struct pgm_file *f,
	  unsigned char *seen)
{
	size_t i = (size_t) (f - m->files);

	if (seen[i]) {
		problem(v, f->path, "is in the backup twice");
		return 0;
	}
	seen[i] = 1;
	return 1;
}

static int
tar_entry(void *arg, const struct tar_entry *e)
{
	struct pgm_verifier *v = arg;
	size_t l;

	v->active = 0;
	if (e->type != TAR_FILE)
		return 0;
	l = strlen(v->prefix ? v->prefix : "") + strlen(e->name) + 2;
	free(v->path);
	if (!(v->path = malloc(l))) {
		v->broken = 1;
		return -1;
	}
	if (v->prefix && *v->prefix)
		snprintf(v->path, l, "%s/%s", v->prefix, e->name);
	else
		snprintf(v->path, l, "%s", e->name);
	if (!(v->prefix && *v->prefix) && pgm_ignored(v->path))
		return 0;
	v->got = 0;
	v->files++;
	if (v->m) {
		v->file = pgmanifest_find(v->m, v->path);
		if (!v->file) {
			problem(v, v->path, "is in the backup but not in the manifest");
			return 0;
		}
		if (!mark_seen(v, v->m, v->file, v->seen))
			return 0;
		if (e->size != v->file->size) {
			problem(v, v->path, "has size %llu in the backup but size %llu in the manifest",
				(unsigned long long) e->size, (unsigned long long) v->file->size);
			return 0;
		}
		if (hasher_start(&v->h, v->file->algorithm) < 0)
			goto broken;
	} else if (hasher_start(&v->h, v->record) < 0)
		goto broken;
	v->active = 1;
	return 0;
broken:
	v->broken = 1;
	return -1;
}

static int
tar_data(void *arg, const void *buf, size_t len)
{
	struct pgm_verifier *v = arg;

	if (!v->active)
		return 0;
	v->got += len;
	v->bytes += len;
	if (hasher_update(&v->h, buf, len) < 0) {
		v->broken = 1;
		return -1;
	}
	return 0;
}

static int
record(struct pgm_verifier *v, const unsigned char *sum, size_t sum_len)
{
	struct observed *o;

	if (v->nobs == v->obs_cap) {
		size_t cap = v->obs_cap ? v->obs_cap * 2 : 256;
		struct observed *n = realloc(v->obs, cap * sizeof(*n));

		if (!n)
			return -1;
		v->obs = n;
		v->obs_cap = cap;
	}
	o = &v->obs[v->nobs];
	if (!(o->path = strdup(v->path)))
		return -1;
	o->size = v->got;
	memcpy(o->sum, sum, sum_len);
	o->sum_len = sum_len;
	v->nobs++;
	return 0;
}

static int
tar_entry_end(void *arg, const struct tar_entry *e)
{
	struct pgm_verifier *v = arg;
	unsigned char sum[PGM_CHECKSUM_MAX];
	size_t len;

	(void) e;
	if (!v->active)
		return 0;
	v->active = 0;
	if (hasher_final(&v->h, sum, &len) < 0)
		goto broken;
	if (!v->m)
		return record(v, sum, len) < 0 ? (v->broken = 1, -1) : 0;
	if (len != v->file->checksum_len || memcmp(sum, v->file->checksum, len))
		problem(v, v->path, "has a checksum mismatch (%s)", algorithms[v->file->algorithm].name);
	return 0;
broken:
	v->broken = 1;
	return -1;
}

void
pgm_verifier_tar_callbacks(struct tar_callbacks *cb)
{
	cb->entry = tar_entry;
	cb->data = tar_data;
	cb->entry_end = tar_entry_end;
}

/* Recorded files against the manifest that arrived after them. */
static int
compare_recorded(struct pgm_verifier *v, const struct pgmanifest *m, unsigned char *seen)
{
	for (size_t i = 0; i < v->nobs; i++) {
		const struct observed *o = &v->obs[i];
		const struct pgm_file *f = pgmanifest_find(m, o->path);

		if (!f) {
			problem(v, o->path, "is in the backup but not in the manifest");
			continue;
		}
		if (!mark_seen(v, m, f, seen))
			continue;
		if (o->size != f->size)
			problem(v, o->path, "has size %llu in the backup but size %llu in the manifest",
				(unsigned long long) o->size, (unsigned long long) f->size);
		else if (f->algorithm == PGM_NONE)
			;
		else if (f->algorithm != v->record)
			problem(v, o->path, "has a %s checksum in the manifest, %s was computed",
				algorithms[f->algorithm].name, algorithms[v->record].name);
		else if (o->sum_len != f->checksum_len || memcmp(o->sum, f->checksum, o->sum_len))
			problem(v, o->path, "has a checksum mismatch (%s)", algorithms[f->algorithm].name);
	}
	return 0;
}

long
pgm_verifier_finish(struct pgm_verifier *v, const struct pgmanifest *m)
{
	unsigned char *seen = v->seen;

	if (v->broken)
		return -1;
	if (!v->m) {
		if (!m)
			return -1;
		if (m->nfiles && !(seen = calloc(m->nfiles, 1)))
			return -1;
		compare_recorded(v, m, seen);
	} else
		m = v->m;
	for (size_t i = 0; i < m->nfiles; i++)
		if (!seen[i] && !pgm_ignored(m->files[i].path))
			problem(v, m->files[i].path, "is in the manifest but not in the backup");
	if (seen != v->seen)
		free(seen);
	return v->problems;
}
