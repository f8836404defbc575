/*
 * The tar reader: a state machine over 512-byte blocks.  Only a header
 * block is ever buffered (plus an extended header's records, bounded by
 * META_MAX); entry data goes straight from the caller's buffer to the
 * data callback.  Formats: POSIX ustar (magic "ustar\0", version "00",
 * with the prefix field) as PostgreSQL writes it, and GNU (magic
 * "ustar  \0", no prefix field; long names in 'L'/'K' entries, sizes past
 * 8 GB in base-256).  pax 'x' headers give path, linkpath and size; 'g'
 * headers are parsed and otherwise ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarstream.h"

#define BLOCK 512
/* Bound on a long name or pax header: names are far shorter (PATH_MAX). */
#define META_MAX (64 * 1024)

enum state {
	ST_HEADER,		/* collecting a header block */
	ST_META,		/* collecting an extended header's data */
	ST_DATA,		/* passing an entry's data on */
	ST_PAD,			/* zero padding up to the next block */
	ST_END,			/* after the two zero blocks: zeros only */
	ST_DEAD
};

struct tarstream {
	struct tar_callbacks cb;
	void *arg;
	enum state state;
	unsigned char block[BLOCK];
	size_t have;			/* bytes in block */
	uint64_t offset;		/* bytes consumed */
	uint64_t header_offset;		/* of the block being collected */
	uint64_t remaining;		/* ST_DATA / ST_META: bytes left */
	size_t pad;			/* ST_PAD: bytes left */
	int pad_meta;			/* ST_PAD after an extended header's data */
	int zero_blocks;		/* consecutive zero header blocks */
	/* Extended headers seen for the next entry. */
	int have_ext;
	uint64_t ext_offset;
	char *long_name, *long_link;
	int have_pax_size;
	uint64_t pax_size;
	uint64_t meta_offset, meta_size;	/* the extended header being read */
	char meta_type;
	char *meta;
	size_t meta_len;
	/* The entry whose data is flowing. */
	struct tar_entry e;
	char *name, *link;
	/* Symlinks seen: nothing may be unpacked under one. */
	char **symlinks;
	size_t nsymlinks;
	int callback_failed;
	char err[768];
};

static int __attribute__((format(printf, 2, 3)))
fail(struct tarstream *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	t->state = ST_DEAD;
	return -1;
}

static int
callback_failed(struct tarstream *t)
{
	t->callback_failed = 1;
	t->state = ST_DEAD;
	return -1;
}

struct tarstream *
tarstream_new(const struct tar_callbacks *cb, void *arg)
{
	struct tarstream *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (cb)
		t->cb = *cb;
	t->arg = arg;
	t->state = ST_HEADER;
	return t;
}

static void
clear_ext(struct tarstream *t)
{
	free(t->long_name);
	free(t->long_link);
	free(t->meta);
	t->long_name = t->long_link = t->meta = NULL;
	t->have_ext = t->have_pax_size = 0;
	t->meta_len = 0;
}

void
tarstream_free(struct tarstream *t)
{
	if (!t)
		return;
	clear_ext(t);
	free(t->name);
	free(t->link);
	for (size_t i = 0; i < t->nsymlinks; i++)
		free(t->symlinks[i]);
	free(t->symlinks);
	free(t);
}

const char *
tarstream_error(const struct tarstream *t)
{
	return t->callback_failed ? NULL : t->err;
}

uint64_t
tarstream_offset(const struct tarstream *t)
{
	return t->offset;
}

/*
 * A numeric header field: octal digits after optional spaces, ended by
 * NUL or space (and only those to the end of the field), or GNU's
 * base-256 (first byte 0x80, then big-endian).  0, or -1.
 */
static int
number(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0;

	if (f[0] == 0x80) {
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v >> 61)
			return -1;
		v = v << 3 | (uint64_t) (f[i] - '0');
	}
	if (!digits)
		return -1;
	for (; i < len; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return -1;
	*out = v;
	return 0;
}

static int
all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The header checksum, unsigned as POSIX says, or signed as old tars did. */
static int
checksum_ok(const unsigned char *b)
{
	uint64_t want;
	unsigned long usum = 0;
	long ssum = 0;

	if (number(b + 148, 8, &want) < 0)
		return 0;
	for (int i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];

		usum += c;
		ssum += (signed char) c;
	}
	return want == usum || (long long) want == (long long) ssum;
}

/* A NUL-padded header string field as a C string. */
static char *
field(const unsigned char *f, size_t len)
{
	size_t l = strnlen((const char *) f, len);
	char *s = malloc(l + 1);

	if (s) {
		memcpy(s, f, l);
		s[l] = '\0';
	}
	return s;
}

/*
 * Normalize name in place ("./a//b/" is "a/b"): -1 with why when it is
 * absolute or has a ".." component.  An empty result is the archive's
 * top directory.
 */
static int
normalize(char *name, const char **why)
{
	char *out = name, *p = name;

	if (name[0] == '/') {
		*why = "absolute name";
		return -1;
	}
	while (*p) {
		char *end = strchr(p, '/');
		size_t l = end ? (size_t) (end - p) : strlen(p);

		if (l == 2 && p[0] == '.' && p[1] == '.') {
			*why = "a \"..\" component";
			return -1;
		}
		if (l && !(l == 1 && p[0] == '.')) {
			if (out != name)
				*out++ = '/';
			memmove(out, p, l);
			out += l;
		}
		p += l;
		if (*p == '/')
			p++;
	}
	*out = '\0';
	return 0;
}

/* Is name an earlier symlink, or under one? */
static const char *
under_symlink(const struct tarstream *t, const char *name)
{
	for (size_t i = 0; i < t->nsymlinks; i++) {
		size_t l = strlen(t->symlinks[i]);

		if (!strncmp(name, t->symlinks[i], l) && (name[l] == '/' || name[l] == '\0'))
			return t->symlinks[i];
	}
	return NULL;
}

static int
remember_symlink(struct tarstream *t, const char *name)
{
	char **n = realloc(t->symlinks, (t->nsymlinks + 1) * sizeof(*n));

	if (!n)
		return -1;
	t->symlinks = n;
	if (!(n[t->nsymlinks] = strdup(name)))
		return -1;
	t->nsymlinks++;
	return 0;
}

/* pax records "LEN KEY=VALUE\n" of t->meta; 'x' ones set name, link, size. */
static int
pax_records(struct tarstream *t, int global)
{
	size_t pos = 0;

	while (pos < t->meta_len) {
		const char *rec = t->meta + pos, *key, *eq, *val;
		size_t reclen = 0, i = 0, vlen, avail = t->meta_len - pos;

		while (i < avail && rec[i] >= '0' && rec[i] <= '9' && i < 10)
			reclen = reclen * 10 + (size_t) (rec[i++] - '0');
		if (i == 0 || i >= avail || rec[i] != ' ' || reclen <= i + 1 || reclen > avail ||
		    rec[reclen - 1] != '\n')
			return fail(t, "pax header at offset %llu: malformed record at byte %zu",
				    (unsigned long long) t->meta_offset, pos);
		key = rec + i + 1;
		eq = memchr(key, '=', reclen - i - 2);
		if (!eq || eq == key)
			return fail(t, "pax header at offset %llu: record without a key at byte %zu",
				    (unsigned long long) t->meta_offset, pos);
		val = eq + 1;
		vlen = (size_t) (rec + reclen - 1 - val);
		pos += reclen;
#define KEY(k) ((size_t) (eq - key) == strlen(k) && !memcmp(key, k, strlen(k)))
		if ((size_t) (eq - key) > 10 && !memcmp(key, "GNU.sparse", 10))
			return fail(t, "pax header at offset %llu: sparse files are not supported",
				    (unsigned long long) t->meta_offset);
		if (global)
			continue;
		if (KEY("path") || KEY("linkpath")) {
			char **dst = KEY("path") ? &t->long_name : &t->long_link;

			if (memchr(val, '\0', vlen))
				return fail(t, "pax header at offset %llu: NUL in a name",
					    (unsigned long long) t->meta_offset);
			free(*dst);
			if (!(*dst = strndup(val, vlen)))
				return fail(t, "out of memory");
		} else if (KEY("size")) {
			uint64_t v = 0;

			if (!vlen || vlen > 19)
				return fail(t, "pax header at offset %llu: bad size",
					    (unsigned long long) t->meta_offset);
			for (size_t k = 0; k < vlen; k++) {
				if (val[k] < '0' || val[k] > '9')
					return fail(t, "pax header at offset %llu: bad size",
						    (unsigned long long) t->meta_offset);
				v = v * 10 + (uint64_t) (val[k] - '0');
			}
			t->pax_size = v;
			t->have_pax_size = 1;
		}
#undef KEY
	}
	return 0;
}

/* An extended header's data is complete: apply it to the next entry. */
static int
meta_done(struct tarstream *t)
{
	char *s;

	switch (t->meta_type) {
	case 'L':
	case 'K':
		if (memchr(t->meta, '\0', t->meta_len) == t->meta)
			return fail(t, "GNU long name at offset %llu: empty",
				    (unsigned long long) t->meta_offset);
		if (!(s = strndup(t->meta, t->meta_len)))
			return fail(t, "out of memory");
		if (t->meta_type == 'L') {
			free(t->long_name);
			t->long_name = s;
		} else {
			free(t->long_link);
			t->long_link = s;
		}
		break;
	case 'x':
		if (pax_records(t, 0) < 0)
			return -1;
		break;
	default:		/* 'g' */
		if (pax_records(t, 1) < 0)
			return -1;
		break;
	}
	free(t->meta);
	t->meta = NULL;
	t->meta_len = 0;
	return 0;
}

static int
end_entry(struct tarstream *t)
{
	uint64_t size = t->e.size;

	if (t->cb.entry_end && t->cb.entry_end(t->arg, &t->e) < 0)
		return callback_failed(t);
	t->pad = (size_t) ((BLOCK - size % BLOCK) % BLOCK);
	t->pad_meta = 0;
	t->state = t->pad ? ST_PAD : ST_HEADER;
	return 0;
}

/* A regular header for an entry (after any extended headers). */
static int
entry_header(struct tarstream *t, const unsigned char *b, int posix, uint64_t size)
{
	char type = (char) b[156];
	uint64_t mode, mtime;
	const char *why = NULL, *link_parent;
	char *name;

	free(t->name);
	free(t->link);
	t->name = t->link = NULL;
	if (t->long_name) {
		name = t->long_name;
		t->long_name = NULL;
	} else if (posix && b[345]) {
		char *prefix = field(b + 345, 155), *base = field(b, 100);

		name = prefix && base ? malloc(strlen(prefix) + strlen(base) + 2) : NULL;
		if (name)
			sprintf(name, "%s/%s", prefix, base);
		free(prefix);
		free(base);
	} else {
		name = field(b, 100);
	}
	t->name = name;
	if (t->long_link) {
		t->link = t->long_link;
		t->long_link = NULL;
	} else {
		t->link = field(b + 157, 100);
	}
	if (!t->name || !t->link)
		return fail(t, "out of memory");
	if (t->have_pax_size)
		size = t->pax_size;
	memset(&t->e, 0, sizeof(t->e));
	t->e.offset = t->have_ext ? t->ext_offset : t->header_offset;
	clear_ext(t);
	if (!*t->name)
		return fail(t, "entry at offset %llu: empty name", (unsigned long long) t->e.offset);
	if (number(b + 100, 8, &mode) < 0 || number(b + 136, 12, &mtime) < 0)
		return fail(t, "entry \"%s\" at offset %llu: bad mode or mtime field", t->name,
			    (unsigned long long) t->e.offset);
	switch (type) {
	case '0':
	case '\0':
		t->e.type = TAR_FILE;
		break;
	case '5':
		t->e.type = TAR_DIR;
		break;
	case '2':
		t->e.type = TAR_SYMLINK;
		break;
	default:
		return fail(t, "entry \"%s\" at offset %llu: unsupported type '%c'", t->name,
			    (unsigned long long) t->e.offset, type >= ' ' && type < 127 ? type : '?');
	}
	if (t->e.type != TAR_FILE && size)
		return fail(t, "entry \"%s\" at offset %llu: a %s with %llu bytes of data", t->name,
			    (unsigned long long) t->e.offset,
			    t->e.type == TAR_DIR ? "directory" : "symlink", (unsigned long long) size);
	if (t->e.type == TAR_SYMLINK && !*t->link)
		return fail(t, "entry \"%s\" at offset %llu: symlink without a target", t->name,
			    (unsigned long long) t->e.offset);
	if (normalize(t->name, &why) < 0)
		return fail(t, "entry \"%s\" at offset %llu: refused: %s", t->name,
			    (unsigned long long) t->e.offset, why);
	if (!*t->name && t->e.type != TAR_DIR)
		return fail(t, "entry at offset %llu: empty name", (unsigned long long) t->e.offset);
	if (*t->name && (link_parent = under_symlink(t, t->name)))
		return fail(t, "entry \"%s\" at offset %llu: refused: under the symlink \"%s\"",
			    t->name, (unsigned long long) t->e.offset, link_parent);
	if (t->e.type == TAR_SYMLINK && remember_symlink(t, t->name) < 0)
		return fail(t, "out of memory");
	t->e.name = t->name;
	t->e.mode = (unsigned) (mode & 07777);
	t->e.mtime = (time_t) mtime;
	t->e.size = size;
	t->e.linkname = t->e.type == TAR_SYMLINK ? t->link : "";
	if (!*t->name) {
		/* "./": the archive's top directory itself, nothing to unpack. */
		t->state = ST_HEADER;
		return 0;
	}
	if (t->cb.entry && t->cb.entry(t->arg, &t->e) < 0)
		return callback_failed(t);
	t->remaining = size;
	if (size == 0)
		return end_entry(t);
	t->state = ST_DATA;
	return 0;
}

static int
header(struct tarstream *t)
{
	const unsigned char *b = t->block;
	uint64_t size;
	int posix;
	char type;

	if (all_zero(b, BLOCK)) {
		if (t->have_ext)
			return fail(t, "offset %llu: end of archive after an extended header",
				    (unsigned long long) t->header_offset);
		if (++t->zero_blocks == 2)
			t->state = ST_END;
		return 0;
	}
	if (t->zero_blocks)
		return fail(t, "offset %llu: a header after a single zero block",
			    (unsigned long long) t->header_offset);
	if (!checksum_ok(b))
		return fail(t, "offset %llu: header checksum mismatch (not a tar archive, or damaged)",
			    (unsigned long long) t->header_offset);
	if (!memcmp(b + 257, "ustar\0" "00", 8))
		posix = 1;
	else if (!memcmp(b + 257, "ustar  \0", 8))
		posix = 0;
	else
		return fail(t, "offset %llu: not a ustar header", (unsigned long long) t->header_offset);
	if (number(b + 124, 12, &size) < 0)
		return fail(t, "offset %llu: bad size field", (unsigned long long) t->header_offset);
	type = (char) b[156];
	if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
		if (size > META_MAX)
			return fail(t, "offset %llu: extended header of %llu bytes, over %d",
				    (unsigned long long) t->header_offset, (unsigned long long) size,
				    META_MAX);
		/* A global header applies to no entry in particular. */
		if (!t->have_ext && type != 'g') {
			t->have_ext = 1;
			t->ext_offset = t->header_offset;
		}
		free(t->meta);
		if (!(t->meta = malloc(size + 1)))
			return fail(t, "out of memory");
		t->meta_len = 0;
		t->meta_type = type;
		t->meta_offset = t->header_offset;
		t->meta_size = size;
		t->remaining = size;
		if (size == 0)
			return meta_done(t);
		t->state = ST_META;
		return 0;
	}
	return entry_header(t, b, posix, size);
}

int
tarstream_feed(struct tarstream *t, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		size_t n;

		switch (t->state) {
		case ST_HEADER:
			if (t->have == 0)
				t->header_offset = t->offset;
			n = BLOCK - t->have < len ? BLOCK - t->have : len;
			memcpy(t->block + t->have, p, n);
			t->have += n;
			if (t->have == BLOCK) {
				t->have = 0;
				t->offset += n;
				p += n;
				len -= n;
				if (header(t) < 0)
					return -1;
				continue;
			}
			break;
		case ST_META:
			n = t->remaining < len ? (size_t) t->remaining : len;
			memcpy(t->meta + t->meta_len, p, n);
			t->meta_len += n;
			t->remaining -= n;
			if (t->remaining == 0) {
				t->offset += n;
				p += n;
				len -= n;
				if (meta_done(t) < 0)
					return -1;
				t->pad = (size_t) ((BLOCK - t->meta_size % BLOCK) % BLOCK);
				t->pad_meta = 1;
				t->state = t->pad ? ST_PAD : ST_HEADER;
				continue;
			}
			break;
		case ST_DATA:
			n = t->remaining < len ? (size_t) t->remaining : len;
			if (t->cb.data && t->cb.data(t->arg, p, n) < 0)
				return callback_failed(t);
			t->remaining -= n;
			if (t->remaining == 0) {
				t->offset += n;
				p += n;
				len -= n;
				if (end_entry(t) < 0)
					return -1;
				continue;
			}
			break;
		case ST_PAD:
			n = t->pad < len ? t->pad : len;
			if (!all_zero(p, n))
				return fail(t, "offset %llu: padding after %s%s%s is not zero",
					    (unsigned long long) t->offset, t->pad_meta ? "" : "\"",
					    t->pad_meta ? "an extended header" : t->name,
					    t->pad_meta ? "" : "\"");
			t->pad -= n;
			if (t->pad == 0)
				t->state = ST_HEADER;
			break;
		case ST_END:
			n = len;
			for (size_t i = 0; i < n; i++)
				if (p[i])
					return fail(t, "offset %llu: data after the end of the archive",
						    (unsigned long long) (t->offset + i));
			break;
		default:
			if (!t->err[0] && !t->callback_failed)
				snprintf(t->err, sizeof(t->err), "the stream failed before");
			return -1;
		}
		t->offset += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
tarstream_finish(struct tarstream *t)
{
	switch (t->state) {
	case ST_END:
		return 0;
	case ST_DATA:
		return fail(t, "truncated: entry \"%s\" at offset %llu ends %llu bytes short",
			    t->name, (unsigned long long) t->e.offset,
			    (unsigned long long) t->remaining);
	case ST_PAD:
		return fail(t, "truncated: in the padding after %s%s%s at offset %llu",
			    t->pad_meta ? "" : "\"", t->pad_meta ? "an extended header" : t->name,
			    t->pad_meta ? "" : "\"", (unsigned long long) t->offset);
	case ST_META:
		return fail(t, "truncated: in the extended header at offset %llu",
			    (unsigned long long) t->meta_offset);
	case ST_HEADER:
		if (t->have)
			return fail(t, "truncated: a partial header at offset %llu",
				    (unsigned long long) t->header_offset);
		return fail(t, "truncated: no end-of-archive blocks at offset %llu%s%s%s",
			    (unsigned long long) t->offset, t->name ? " (after \"" : "",
			    t->name ? t->name : "", t->name ? "\")" : "");
	default:
		return -1;
	}
}
