/*
 * Row counts from the dump itself.  pg_dump -Fc -Z0 writes, in order: a
 * header, the table of contents (TOC), then one data block per table:
 * its rows as COPY text in length-prefixed chunks.  Counting the newlines
 * of each TABLE DATA block while the stream passes by gives the exact
 * number of rows dumped, in the dump's own snapshot, for the price of a
 * byte scan, instead of a second sequential scan of every table on the
 * server.  Only archive version 1.14 (pg_dump 12 to 15) is read; for any
 * other, archive_scan_failed() says so and the caller counts with SQL.
 *
 * Each table's COPY data ends with pg_dump's terminator "\\.\n\n\n", whose three
 * newlines are not rows.
 *
 * Layout (pg_backup_archiver.c, pg_backup_custom.c): an int is a sign
 * byte then intSize bytes, least significant first; a string is an int
 * length (-1: NULL) then its bytes; an offset is a flag byte then offSize
 * bytes.  Data blocks: a type byte (1 table data, 3 large objects), the
 * TOC entry's dump id, then chunks (int length, bytes) ending with 0;
 * large objects repeat (oid, chunks) until oid 0.
 *
 * Rewriting: pg_dump -Z0 writes each COPY row as a chunk of its own, and
 * pg_restore sends each chunk to the server as a CopyData message of its
 * own: at 100 bytes a row, the server spends more time on messages than
 * on rows.  So a rewriting scan passes the archive on with each table's
 * chunks merged into ARCHIVE_CHUNK-byte ones.  pg_restore concatenates a
 * block's chunks whatever their sizes, and a dump written to a pipe has
 * no data offsets in its TOC to go stale, so the archive means the same.
 * (One written to a file has them: its data passes on unmerged.)
 * Everything else (header, TOC, large objects, anything it cannot read)
 * passes through byte for byte.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "array.h"
#include "json.h"
#include "log.h"

enum state {
	H_MAGIC, H_VERSION, H_COMPRESSION, H_DATE, H_STRINGS, T_COUNT,
	E_DUMPID, E_HADDUMPER, E_TABLEOID, E_OID, E_TAG, E_DESC, E_SECTION, E_DEFN, E_DROP,
	E_COPY, E_NAMESPACE, E_TABLESPACE, E_TABLEAM, E_OWNER, E_WITHOIDS, E_DEPS, E_OFFSET,
	B_TYPE, B_ID, D_LEN, D_BYTES, L_OID, L_LEN, L_BYTES
};

struct entry {
	int dump_id;
	char *schema, *table;
	long long rows;
	int is_data;
	int is_database;		/* the DATABASE entry itself */
	int keep_defn;			/* a database-level entry whose SQL we keep */
	char *defn, *owner;
};

#define K_OFFSET_POS_SET 2		/* a TOC entry's data offset is set */
#define DEFN_MAX (1024 * 1024)		/* database-level SQL is small; refuse more */

struct archive_scan {
	enum state state;
	int failed;
	unsigned char tok[32];
	size_t tok_len;
	int int_size, off_size, counter, toc_left;
	long long need;			/* bytes left in the current string or chunk */
	int in_body;			/* reading a string's or chunk's bytes */
	char str[256];
	size_t str_len;
	struct entry cur;
	struct entry *entries;
	size_t n, cap;
	struct entry *block;		/* table whose data is streaming */
	char *big;			/* a kept defn or owner as it arrives */
	size_t big_len;
	unsigned char tail[5];		/* the block's last bytes so far */
	size_t tail_len;
	/* Rewriting (archive_scan_rewrite): where the archive goes on to. */
	archive_out_fn out;
	void *out_arg;
	int out_failed;
	int has_offsets;		/* a TOC that says where data is: passed on as it is */
	unsigned char merge[ARCHIVE_CHUNK];	/* a table's data held back */
	size_t merge_len;
};

struct archive_scan *
archive_scan_new(void)
{
	struct archive_scan *s = calloc(1, sizeof(*s));

	if (s)
		s->int_size = 4;
	return s;
}

static void
entry_free(struct entry *e)
{
	free(e->schema);
	free(e->table);
	free(e->defn);
	free(e->owner);
	memset(e, 0, sizeof(*e));
}

void
archive_scan_free(struct archive_scan *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->entries[i]);
	free(s->entries);
	/* An entry cut off mid-TOC (a truncated archive) owns its strings too. */
	entry_free(&s->cur);
	free(s->big);
	free(s);
}

int
archive_scan_failed(const struct archive_scan *s)
{
	/* A whole archive ends between blocks (pg_dump writes no end marker). */
	return s->failed || s->state != B_TYPE;
}

static int fail(struct archive_scan *s, const char *why);

/* Collect want bytes into tok; 1 once complete. */
static int
fixed(struct archive_scan *s, const unsigned char **p, size_t *n, size_t want)
{
	while (s->tok_len < want && *n > 0) {
		s->tok[s->tok_len++] = **p;
		(*p)++;
		(*n)--;
	}
	return s->tok_len == want;
}

static int
read_int(struct archive_scan *s, const unsigned char **p, size_t *n, long long *out)
{
	unsigned long long v = 0;

	if (!fixed(s, p, n, (size_t) s->int_size + 1))
		return 0;
	for (int i = s->int_size; i >= 1; i--)
		v = (v << 8) | s->tok[i];
	/*
	 * Eight-byte ints can exceed long long (pg_dump writes none such):
	 * saturate, so the sign byte keeps its meaning and -v is defined.
	 */
	if (v > (unsigned long long) LLONG_MAX)
		v = LLONG_MAX;
	*out = s->tok[0] ? -(long long) v : (long long) v;
	s->tok_len = 0;
	return 1;
}

/*
 * A string: its length, then its bytes (kept in s->str, truncated, when
 * keep).  1 once read; *is_null for a NULL string.
 */
static int
read_str(struct archive_scan *s, const unsigned char **p, size_t *n, int keep, int *is_null)
{
	if (!s->in_body) {
		long long len;

		if (!read_int(s, p, n, &len))
			return 0;
		*is_null = len < 0;
		if (len < 0)
			return 1;
		s->need = len;
		s->in_body = 1;
		s->str_len = 0;
	}
	while (s->need > 0 && *n > 0) {
		size_t take = *n < (size_t) s->need ? *n : (size_t) s->need;

		if (keep) {
			size_t room = sizeof(s->str) - 1 - s->str_len;
			size_t copy = take < room ? take : room;

			memcpy(s->str + s->str_len, *p, copy);
			s->str_len += copy;
		}
		*p += take;
		*n -= take;
		s->need -= (long long) take;
	}
	if (s->need > 0)
		return 0;
	s->str[s->str_len] = '\0';
	s->in_body = 0;
	*is_null = 0;
	return 1;
}

/* A string kept whole (up to DEFN_MAX) in a malloc'd *out; 1 once read. */
static int
read_big(struct archive_scan *s, const unsigned char **p, size_t *n, char **out)
{
	if (!s->in_body) {
		long long len;

		if (!read_int(s, p, n, &len))
			return 0;
		if (len < 0)
			return 1;
		if (len > DEFN_MAX)
			return fail(s, "a database-level entry is too large");
		s->big = malloc((size_t) len + 1);
		if (!s->big)
			return fail(s, "out of memory");
		s->big_len = 0;
		s->need = len;
		s->in_body = 1;
	}
	while (s->need > 0 && *n > 0) {
		size_t take = *n < (size_t) s->need ? *n : (size_t) s->need;

		memcpy(s->big + s->big_len, *p, take);
		s->big_len += take;
		*p += take;
		*n -= take;
		s->need -= (long long) take;
	}
	if (s->need > 0)
		return 0;
	s->big[s->big_len] = '\0';
	*out = s->big;
	s->big = NULL;
	s->in_body = 0;
	return 1;
}

/* Keep the last five bytes of a data block, to find its terminator. */
static void
keep_tail(struct archive_scan *s, const unsigned char *p, size_t len)
{
	if (len >= sizeof(s->tail)) {
		memcpy(s->tail, p + len - sizeof(s->tail), sizeof(s->tail));
		s->tail_len = sizeof(s->tail);
		return;
	}
	if (s->tail_len + len > sizeof(s->tail)) {
		size_t drop = s->tail_len + len - sizeof(s->tail);

		memmove(s->tail, s->tail + drop, s->tail_len - drop);
		s->tail_len -= drop;
	}
	memcpy(s->tail + s->tail_len, p, len);
	s->tail_len += len;
}

/* Skip or count the bytes of a chunk; 1 once the chunk is done. */
static int
read_chunk(struct archive_scan *s, const unsigned char **p, size_t *n, long long *newlines)
{
	size_t take = *n < (size_t) s->need ? *n : (size_t) s->need;

	if (newlines)
		keep_tail(s, *p, take);
	if (newlines) {
		const unsigned char *q = *p, *end = *p + take;

		while ((q = memchr(q, '\n', (size_t) (end - q)))) {
			(*newlines)++;
			q++;
		}
	}
	*p += take;
	*n -= take;
	s->need -= (long long) take;
	return s->need == 0;
}

static int
fail(struct archive_scan *s, const char *why)
{
	pgp_debug("archive scan: %s; counting rows with SQL instead", why);
	s->failed = 1;
	return -1;
}

static struct entry *
find_entry(struct archive_scan *s, int dump_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].dump_id == dump_id)
			return &s->entries[i];
	return NULL;
}

/*
 * What an entry is, from its desc (its tag, read before, is in cur.table).
 * pg_restore applies the database-level entries only with --create; a
 * restore into another database name keeps them to apply itself.
 */
static void
desc_read(struct archive_scan *s, const char *desc)
{
	int on_database = s->cur.table && !strncmp(s->cur.table, "DATABASE ", 9);

	s->cur.is_data = !strcmp(desc, "TABLE DATA");
	s->cur.is_database = !strcmp(desc, "DATABASE");
	s->cur.keep_defn = !strcmp(desc, "DATABASE PROPERTIES") ||
		((!strcmp(desc, "ACL") || !strcmp(desc, "COMMENT")) && on_database);
}

void
archive_scan_rewrite(struct archive_scan *s, archive_out_fn out, void *arg)
{
	s->out = out;
	s->out_arg = arg;
}

/* Are table data chunks merged?  Not where the TOC says where they are. */
static int
merging(const struct archive_scan *s)
{
	return s->out && !s->has_offsets;
}

/* Pass len bytes on unchanged (when rewriting): 0, or -1 once out failed. */
static int
pass_on(struct archive_scan *s, const void *data, size_t len)
{
	if (s->out_failed)
		return -1;
	if (!s->out || len == 0)
		return 0;
	if (s->out(s->out_arg, data, len) < 0) {
		s->out_failed = 1;
		return -1;
	}
	return 0;
}

/* An int in the archive's own encoding: a sign byte, then int_size bytes, least significant first. */
static int
pass_on_int(struct archive_scan *s, size_t v)
{
	unsigned char buf[9] = {0};

	for (int i = 1; i <= s->int_size; i++, v >>= 8)
		buf[i] = (unsigned char) (v & 0xff);
	return pass_on(s, buf, (size_t) s->int_size + 1);
}

/* The held-back data as one chunk. */
static int
merge_flush(struct archive_scan *s)
{
	size_t len = s->merge_len;

	s->merge_len = 0;
	if (len == 0)
		return 0;
	if (pass_on_int(s, len) < 0 || pass_on(s, s->merge, len) < 0)
		return -1;
	return 0;
}

/* The largest chunk the archive's ints can say (64 KiB unless they are tiny). */
static size_t
merge_limit(const struct archive_scan *s)
{
	return s->int_size >= 3 ? sizeof(s->merge) : ((size_t) 1 << (8 * s->int_size)) - 1;
}

static int
merge_add(struct archive_scan *s, const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t room = merge_limit(s) - s->merge_len, take = len < room ? len : room;

		memcpy(s->merge + s->merge_len, p, take);
		s->merge_len += take;
		p += take;
		len -= take;
		if (s->merge_len == merge_limit(s) && merge_flush(s) < 0)
			return -1;
	}
	return 0;
}

/* A table's data ended: its last chunk, then the zero length that ends it. */
static int
merge_end_block(struct archive_scan *s)
{
	if (!merging(s))
		return 0;
	return merge_flush(s) < 0 || pass_on_int(s, 0) < 0 ? -1 : 0;
}

int
archive_scan_end(struct archive_scan *s)
{
	int rc = 0;

	/* Only a cut archive ends with something held back: pass it on as cut. */
	if (merging(s) && !s->failed && (s->state == D_LEN || s->state == D_BYTES))
		rc = merge_flush(s) < 0 || (s->state == D_LEN && pass_on(s, s->tok, s->tok_len) < 0) ? -1 : 0;
	rc = s->out_failed ? -1 : rc;
	s->out = NULL;
	s->out_arg = NULL;
	return rc;
}

/* One step of the parser over *p (*n bytes): -1 once the archive cannot be read. */
static int
step(struct archive_scan *s, const unsigned char **p, size_t *n)
{
	long long v;
	int null;

	switch (s->state) {
	case H_MAGIC:
		if (!fixed(s, p, n, 5))
			break;
		if (memcmp(s->tok, "PGDMP", 5) != 0)
			return fail(s, "not a custom-format archive");
		s->tok_len = 0;
		s->state = H_VERSION;
		break;
	case H_VERSION:	/* major, minor, revision, intSize, offSize, format */
		if (!fixed(s, p, n, 6))
			break;
		if (s->tok[0] != 1 || s->tok[1] != 14)
			return fail(s, "archive version is not 1.14");
		s->int_size = s->tok[3];
		s->off_size = s->tok[4];
		if (s->int_size < 1 || s->int_size > 8 || s->off_size < 1 || s->off_size > 16)
			return fail(s, "odd integer sizes");
		s->tok_len = 0;
		s->state = H_COMPRESSION;
		break;
	case H_COMPRESSION:
		if (!read_int(s, p, n, &v))
			break;
		if (v != 0)
			return fail(s, "the archive is compressed");
		s->state = H_DATE;
		s->counter = 0;
		break;
	case H_DATE:	/* seven ints: the creation time */
		if (read_int(s, p, n, &v) && ++s->counter == 7) {
			s->state = H_STRINGS;
			s->counter = 0;
		}
		break;
	case H_STRINGS:	/* database, server version, pg_dump version */
		if (read_str(s, p, n, 0, &null) && ++s->counter == 3)
			s->state = T_COUNT;
		break;
	case T_COUNT:
		if (!read_int(s, p, n, &v))
			break;
		s->toc_left = (int) v;
		s->state = s->toc_left > 0 ? E_DUMPID : B_TYPE;
		break;
	case E_DUMPID:
		if (read_int(s, p, n, &v)) {
			entry_free(&s->cur);
			s->cur.dump_id = (int) v;
			s->state = E_HADDUMPER;
		}
		break;
	case E_HADDUMPER:
	case E_SECTION:
		if (read_int(s, p, n, &v))
			s->state++;
		break;
	case E_TAG:
	case E_DESC:
	case E_NAMESPACE:
		if (!read_str(s, p, n, 1, &null))
			break;
		if (s->state == E_TAG)
			s->cur.table = strdup(null ? "" : s->str);
		else if (s->state == E_DESC)
			desc_read(s, null ? "" : s->str);
		else
			s->cur.schema = strdup(null ? "" : s->str);
		s->state++;
		break;
	case E_DEFN:
		if (s->cur.keep_defn ? read_big(s, p, n, &s->cur.defn) : read_str(s, p, n, 0, &null))
			s->state++;
		break;
	case E_OWNER:
		if (s->cur.is_database ? read_big(s, p, n, &s->cur.owner) : read_str(s, p, n, 0, &null))
			s->state++;
		break;
	case E_TABLEOID: case E_OID: case E_DROP: case E_COPY:
	case E_TABLESPACE: case E_TABLEAM: case E_WITHOIDS:
		if (read_str(s, p, n, 0, &null))
			s->state++;
		break;
	case E_DEPS:	/* dependency ids until a NULL string */
		if (read_str(s, p, n, 0, &null) && null)
			s->state = E_OFFSET;
		break;
	case E_OFFSET:
		if (!fixed(s, p, n, (size_t) s->off_size + 1))
			break;
		s->tok_len = 0;
		s->has_offsets |= s->tok[0] == K_OFFSET_POS_SET;
		if (pgp_array_reserve(&s->entries, s->n, &s->cap, sizeof(*s->entries)) < 0)
			return fail(s, "out of memory");
		s->entries[s->n++] = s->cur;
		memset(&s->cur, 0, sizeof(s->cur));
		s->state = --s->toc_left > 0 ? E_DUMPID : B_TYPE;
		break;
	case B_TYPE:	/* 1: a table's data, 3: large objects */
		v = *(*p)++;
		(*n)--;
		if (v != 1 && v != 3)
			return fail(s, "unknown data block type");
		s->counter = (int) v;
		s->block = NULL;
		s->state = B_ID;
		break;
	case B_ID:
		if (!read_int(s, p, n, &v))
			break;
		if (s->counter == 1) {
			s->block = find_entry(s, (int) v);
			s->tail_len = 0;
			s->state = D_LEN;
		} else
			s->state = L_OID;
		break;
	case D_LEN:
		if (!read_int(s, p, n, &v))
			break;
		if (v < 0)
			return fail(s, "negative chunk length");
		if (v == 0 && s->block && s->block->is_data) {
			if (s->tail_len != 5 || memcmp(s->tail, "\\.\n\n\n", 5) != 0)
				return fail(s, "a table's data does not end with the COPY terminator");
			s->block->rows -= 3;
		}
		s->need = v;
		s->state = v == 0 ? B_TYPE : D_BYTES;
		if (v == 0)
			return merge_end_block(s);
		break;
	case D_BYTES:
		if (read_chunk(s, p, n, s->block && s->block->is_data ? &s->block->rows : NULL))
			s->state = D_LEN;
		break;
	case L_OID:
		if (read_int(s, p, n, &v))
			s->state = v == 0 ? B_TYPE : L_LEN;
		break;
	case L_LEN:
		if (!read_int(s, p, n, &v))
			break;
		if (v < 0)
			return fail(s, "negative chunk length");
		s->need = v;
		s->state = v == 0 ? L_OID : L_BYTES;
		break;
	case L_BYTES:
		if (read_chunk(s, p, n, NULL))
			s->state = L_LEN;
		break;
	}
	return 0;
}

int
archive_scan_feed(struct archive_scan *s, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	const unsigned char *held = p;	/* the first byte not yet passed on */

	if (s->out_failed)
		return -1;
	if (s->failed)
		return pass_on(s, p, len);
	while (p < end && !s->failed) {
		/* A table's chunk headers and bytes are held back, to merge. */
		int held_back = merging(s) && (s->state == D_LEN || s->state == D_BYTES);
		enum state was = s->state;
		const unsigned char *from = p;
		size_t n = (size_t) (end - p);

		if (held_back && pass_on(s, held, (size_t) (from - held)) < 0)
			return -1;
		step(s, &p, &n);
		if (!held_back)
			continue;
		held = p;
		if (was == D_BYTES && merge_add(s, from, (size_t) (p - from)) < 0)
			return -1;
		/* Unreadable from here: what was held back goes on as it came. */
		if (s->failed && (merge_flush(s) < 0 || pass_on(s, s->tok, (size_t) s->int_size + 1) < 0))
			return -1;
		if (s->out_failed)
			return -1;
	}
	return pass_on(s, held, (size_t) (end - held));
}

struct json_object *
archive_scan_tables(const struct archive_scan *s)
{
	struct json_object *tables = json_object_new_array();

	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->entries[i];
		struct json_object *t;

		if (!e->is_data)
			continue;
		t = json_object_new_object();
		json_object_object_add(t, "schema", pgp_json_cstring(e->schema ? e->schema : ""));
		json_object_object_add(t, "table", pgp_json_cstring(e->table ? e->table : ""));
		json_object_object_add(t, "rows", json_object_new_int64(e->rows));
		json_object_array_add(tables, t);
	}
	return tables;
}

const char *
archive_scan_database(const struct archive_scan *s, const char **owner)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].is_database) {
			*owner = s->entries[i].owner;
			return s->entries[i].table;
		}
	*owner = NULL;
	return NULL;
}

char *
archive_scan_database_sql(const struct archive_scan *s)
{
	size_t len = 0;
	char *sql;

	for (size_t i = 0; i < s->n; i++)
		if (s->entries[i].defn)
			len += strlen(s->entries[i].defn) + 1;
	sql = malloc(len + 1);
	if (!sql)
		return NULL;
	sql[0] = '\0';
	for (size_t i = 0, at = 0; i < s->n; i++)
		if (s->entries[i].defn) {
			size_t l = strlen(s->entries[i].defn);

			memcpy(sql + at, s->entries[i].defn, l);
			sql[at + l] = '\n';
			at += l + 1;
			sql[at] = '\0';
		}
	return sql;
}
