/*
 * AFL++ harness for the streaming pg_dump archive scanner and rewriter
 * (bin/backup/archive.c).  The first two bytes of the input choose how
 * the rest, the archive, is fed: byte 0 seeds the piece sizes, byte 1
 * picks their range (high 3 bits) and the call at which a failing output
 * callback fails (low 5 bits).  Checks, each an abort() (a crash to AFL):
 *
 *   determinism  fed in pieces or whole: the same output, failed flag,
 *                tables JSON and database SQL;
 *   reading      a scan without rewriting reads the same, and so does a
 *                scan of the rewritten archive;
 *   meaning      an independent decoder (ref_decode) finds the same header
 *                and TOC bytes, blocks, table data and large objects in
 *                input and output, as far as either goes; when the scan
 *                succeeded, the output's table data chunks are all of the
 *                limit but each block's last; with data offsets in the
 *                TOC the output is the input; rewriting twice is
 *                rewriting once;
 *   out failing  once the callback failed, every feed and the end return
 *                -1 and the callback is not called again; before, what it
 *                was given is a prefix of the output.
 *
 * With file arguments it checks each once and prints "OK" or the reason
 * (replay mode); without, it runs AFL's persistent loop.
 */
#include "afl_compat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "log.h"

__AFL_FUZZ_INIT();

static void
violated(const char *what)
{
	fprintf(stderr, "fuzz_archive: invariant violated: %s\n", what);
	abort();
}

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			violated("harness: out of memory");
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static int
buf_eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || !memcmp(a->p, b->p, a->len));
}

/* The output callback: collect; or fail at call fail_at (0: never). */
struct sink {
	struct buf out;
	unsigned calls, fail_at;
	int failed, called_after;
};

static int
sink_out(void *arg, const void *data, size_t len)
{
	struct sink *k = arg;

	if (k->failed)
		k->called_after = 1;
	if (len == 0)
		violated("output callback called with no bytes");
	if (++k->calls == k->fail_at) {
		k->failed = 1;
		return -1;
	}
	buf_add(&k->out, data, len);
	return 0;
}

/* The feeding schedule: piece sizes from a xorshift seeded by byte 0. */
struct sched {
	uint32_t x;
	unsigned range;
};

static size_t
sched_next(struct sched *s)
{
	static const uint32_t max[8] = {70000, 8, 600, 1, 70000, 3, 65537, 0};
	uint32_t m;

	s->x ^= s->x << 13;
	s->x ^= s->x >> 17;
	s->x ^= s->x << 5;
	m = max[s->range];
	if (m == 0)	/* mixed: mostly small, now and then large */
		m = (s->x & 0x700) ? 16 : 70000;
	return 1 + (s->x >> 11) % m;
}

struct result {
	struct buf out;
	int failed, feed_rc, end_rc;
	char *tables, *sql;
};

static void
result_free(struct result *r)
{
	free(r->out.p);
	free(r->tables);
	free(r->sql);
	memset(r, 0, sizeof(*r));
}

/*
 * Scan data (rewriting into r->out when rewrite), whole when sc is NULL,
 * else in the schedule's pieces.
 */
static void
scan(const unsigned char *data, size_t len, struct sched *sc, int rewrite, struct result *r)
{
	struct archive_scan *s = archive_scan_new();
	struct sink k = {0};
	struct json_object *t;

	memset(r, 0, sizeof(*r));
	if (!s)
		violated("harness: out of memory");
	if (rewrite)
		archive_scan_rewrite(s, sink_out, &k);
	for (size_t at = 0; at < len;) {
		size_t n = sc ? sched_next(sc) : len;

		n = n < len - at ? n : len - at;
		if (archive_scan_feed(s, data + at, n) < 0)
			violated("feed failed with a callback that does not");
		at += n;
	}
	if (archive_scan_end(s) < 0)
		violated("end failed with a callback that does not");
	r->out = k.out;
	r->failed = archive_scan_failed(s);
	t = archive_scan_tables(s);
	r->tables = strdup(json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
	json_object_put(t);
	r->sql = archive_scan_database_sql(s);
	if (!r->tables || !r->sql)
		violated("harness: out of memory");
	archive_scan_free(s);
}

static void
same_reading(const struct result *a, const struct result *b, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s: failed flag differs", what);
	if (a->failed != b->failed)
		violated(msg);
	snprintf(msg, sizeof(msg), "%s: tables differ", what);
	if (strcmp(a->tables, b->tables))
		violated(msg);
	snprintf(msg, sizeof(msg), "%s: database SQL differs", what);
	if (strcmp(a->sql, b->sql))
		violated(msg);
}

/*
 * The reference decoder: the archive read whole, from pg_backup_archiver.c
 * and pg_backup_custom.c, into a canonical form: the header and TOC
 * bytes, then per block its type and id and, for table data, the
 * concatenation of its chunks, for large objects each oid with its
 * bytes; then how it ended ('E' at a block boundary, 'C' cut, 'X' not
 * readable).  It checks structure only (no version, compression or COPY
 * terminator), so it reads as far as the scanner or further.
 */
struct ref {
	const unsigned char *p;
	size_t n, at;
	int isz, osz;
	int has_offsets;
	struct buf canon;
	/* Chunk sizes checked against limit (0: not checked). */
	size_t limit;
	const char *bad_chunks;
};

enum { REF_OK, REF_CUT, REF_BAD };

/* An int: sign byte and isz bytes; *neg and *mag. */
static int
ref_int(struct ref *r, int *neg, uint64_t *mag)
{
	uint64_t v = 0;

	if (r->n - r->at < (size_t) r->isz + 1)
		return REF_CUT;
	for (int i = r->isz; i >= 1; i--)
		v = (v << 8) | r->p[r->at + (size_t) i];
	*neg = r->p[r->at] != 0 && v != 0;
	*mag = v;
	r->at += (size_t) r->isz + 1;
	return REF_OK;
}

/* The value of an int as the scanner has it: saturated to 64 bits. */
static int64_t
ref_value(int neg, uint64_t mag)
{
	int64_t v = mag > INT64_MAX ? INT64_MAX : (int64_t) mag;

	return neg ? -v : v;
}

/* A string: its length (negative: NULL) then its bytes; *null. */
static int
ref_str(struct ref *r, int *null)
{
	int neg, rc;
	uint64_t mag;

	if ((rc = ref_int(r, &neg, &mag)) != REF_OK)
		return rc;
	*null = neg;
	if (neg)
		return REF_OK;
	if (r->n - r->at < mag)
		return REF_CUT;
	r->at += (size_t) mag;
	return REF_OK;
}

static int
ref_strs(struct ref *r, int count)
{
	int null, rc;

	for (int i = 0; i < count; i++)
		if ((rc = ref_str(r, &null)) != REF_OK)
			return rc;
	return REF_OK;
}

static int
ref_ints(struct ref *r, int count)
{
	int neg, rc;
	uint64_t mag;

	for (int i = 0; i < count; i++)
		if ((rc = ref_int(r, &neg, &mag)) != REF_OK)
			return rc;
	return REF_OK;
}

/* One TOC entry (ReadToc of 1.14, then the custom format's offset). */
static int
ref_entry(struct ref *r)
{
	int null = 0, rc;

	if ((rc = ref_ints(r, 2)) != REF_OK ||	/* dumpId, hadDumper */
	    (rc = ref_strs(r, 4)) != REF_OK ||	/* tableoid, oid, tag, desc */
	    (rc = ref_ints(r, 1)) != REF_OK ||	/* section */
	    (rc = ref_strs(r, 8)) != REF_OK)	/* defn .. withOids */
		return rc;
	while (!null)				/* dependencies, up to a NULL */
		if ((rc = ref_str(r, &null)) != REF_OK)
			return rc;
	if (r->n - r->at < (size_t) r->osz + 1)
		return REF_CUT;
	r->has_offsets |= r->p[r->at] == 2;
	r->at += (size_t) r->osz + 1;
	return REF_OK;
}

static int
ref_head(struct ref *r)
{
	int neg, rc;
	uint64_t count;

	if (r->n < 11)
		return REF_CUT;
	if (memcmp(r->p, "PGDMP", 5))
		return REF_BAD;
	r->isz = r->p[8];
	r->osz = r->p[9];
	if (r->isz < 1 || r->isz > 8 || r->osz < 1 || r->osz > 16)
		return REF_BAD;
	r->at = 11;
	/* compression, 7 date ints, database, server and pg_dump versions */
	if ((rc = ref_ints(r, 8)) != REF_OK || (rc = ref_strs(r, 3)) != REF_OK ||
	    (rc = ref_int(r, &neg, &count)) != REF_OK)
		return rc;
	/*
	 * pg_dump reads the count into an int; the scanner reads 64 bits,
	 * saturated, and takes an int of them: so does this.
	 */
	for (int left = (int) ref_value(neg, count); left > 0; left--)
		if ((rc = ref_entry(r)) != REF_OK)
			return rc;
	return REF_OK;
}

static void
canon_u64(struct ref *r, uint64_t v)
{
	buf_add(&r->canon, &v, sizeof(v));
}

/* Chunks up to a zero length; payload appended, its length patched in. */
static int
ref_chunks(struct ref *r, int check)
{
	size_t at_len = r->canon.len, total = 0, last = 0;
	int neg, rc = REF_OK;
	uint64_t mag;

	canon_u64(r, 0);
	for (;;) {
		if ((rc = ref_int(r, &neg, &mag)) != REF_OK)
			break;
		if (neg) {
			rc = REF_BAD;
			break;
		}
		if (mag == 0)
			break;
		if (check && last && last != r->limit)
			r->bad_chunks = "a table data chunk before the last is not of the limit";
		if (check && (mag > r->limit))
			r->bad_chunks = "a table data chunk is over the limit";
		last = (size_t) mag;
		if (r->n - r->at < mag) {
			total += r->n - r->at;
			buf_add(&r->canon, r->p + r->at, r->n - r->at);
			r->at = r->n;
			rc = REF_CUT;
			break;
		}
		buf_add(&r->canon, r->p + r->at, (size_t) mag);
		r->at += (size_t) mag;
		total += (size_t) mag;
	}
	memcpy(r->canon.p + at_len, &(uint64_t) {total}, sizeof(uint64_t));
	return rc;
}

static int
ref_block(struct ref *r)
{
	int type = r->p[r->at++], neg, rc;
	uint64_t id, oid;

	if (type != 1 && type != 3)
		return REF_BAD;
	if ((rc = ref_int(r, &neg, &id)) != REF_OK)
		return rc;
	buf_add(&r->canon, type == 1 ? "T" : "L", 1);
	canon_u64(r, neg ? ~id : id);
	if (type == 1)
		return ref_chunks(r, r->limit != 0);
	for (;;) {
		if ((rc = ref_int(r, &neg, &oid)) != REF_OK)
			return rc;
		if (oid == 0)
			return REF_OK;
		buf_add(&r->canon, "O", 1);
		canon_u64(r, neg ? ~oid : oid);
		if ((rc = ref_chunks(r, 0)) != REF_OK)
			return rc;
	}
}

/* Decode p into r->canon; returns REF_OK (whole), REF_CUT or REF_BAD. */
static int
ref_decode(struct ref *r, const unsigned char *p, size_t n, int check_chunks)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->p = p;
	r->n = n;
	rc = ref_head(r);
	buf_add(&r->canon, "H", 1);
	canon_u64(r, r->at);
	buf_add(&r->canon, p, rc == REF_OK ? r->at : n);
	if (rc == REF_OK && check_chunks)
		r->limit = r->isz >= 3 ? ARCHIVE_CHUNK : ((size_t) 1 << (8 * r->isz)) - 1;
	while (rc == REF_OK && r->at < r->n)
		rc = ref_block(r);
	buf_add(&r->canon, rc == REF_OK ? "E" : rc == REF_CUT ? "C" : "X", 1);
	return rc;
}

/*
 * The failing callback: fed by the schedule, out fails at call fail_at;
 * from then on every call returns -1 and out is not called again.
 */
static void
check_failing_out(const unsigned char *data, size_t len, struct sched sc, unsigned fail_at,
		  const struct buf *want)
{
	struct archive_scan *s = archive_scan_new();
	struct sink k = {.fail_at = fail_at};

	if (!s)
		violated("harness: out of memory");
	archive_scan_rewrite(s, sink_out, &k);
	for (size_t at = 0; at < len;) {
		size_t n = sched_next(&sc);
		int rc;

		n = n < len - at ? n : len - at;
		rc = archive_scan_feed(s, data + at, n);
		if (rc != (k.failed ? -1 : 0))
			violated("feed's result does not say whether out failed");
		at += n;
	}
	if (archive_scan_end(s) != (k.failed ? -1 : 0))
		violated("end's result does not say whether out failed");
	if (k.called_after)
		violated("out called again after it failed");
	if (k.out.len > want->len || (k.out.len && memcmp(k.out.p, want->p, k.out.len)))
		violated("what out got before failing is not a prefix of the output");
	if (!k.failed && !buf_eq(&k.out, want))
		violated("the output differs with a callback counting its calls");
	archive_scan_free(s);
	free(k.out.p);
}

/* Decode input and output: the same meaning, as far as either goes. */
static void
check_meaning(const unsigned char *data, size_t len, const struct result *w)
{
	struct ref in, out;
	int rin = ref_decode(&in, data, len, 0);
	int rout = ref_decode(&out, w->out.p, w->out.len, !w->failed && !in.has_offsets);

	if (in.has_offsets && !buf_eq(&w->out, &(struct buf) {(unsigned char *) data, len, len}))
		violated("an archive with data offsets is not passed on as it is");
	if (!w->failed && rin != REF_OK)
		violated("the scanner read what the reference decoder cannot");
	if (!w->failed && rout != REF_OK)
		violated("the output of a successful scan is not readable");
	if (!w->failed && out.bad_chunks)
		violated(out.bad_chunks);
	if (!buf_eq(&in.canon, &out.canon))
		violated("input and output decode differently");
	free(in.canon.p);
	free(out.canon.p);
}

/* Every check on one input; *info says what kind of input it was. */
static void
check_one(const unsigned char *input, size_t size, char *info, size_t infosize)
{
	unsigned char b0 = size > 0 ? input[0] : 0, b1 = size > 1 ? input[1] : 0;
	const unsigned char *data = input + (size > 2 ? 2 : size);
	size_t len = size > 2 ? size - 2 : 0;
	struct sched sc0 = {.x = 0x9e3779b9u ^ ((uint32_t) b0 * 0x01000193u), .range = b1 >> 5};
	struct sched sc = sc0;
	struct result w, p, plain, again, again2;

	scan(data, len, NULL, 1, &w);
	scan(data, len, &sc, 1, &p);
	if (!buf_eq(&w.out, &p.out))
		violated("the output fed in pieces differs from the output fed whole");
	same_reading(&w, &p, "in pieces vs whole");
	sc = sc0;
	scan(data, len, &sc, 0, &plain);
	same_reading(&w, &plain, "rewriting vs reading only");
	check_meaning(data, len, &w);
	scan(w.out.p, w.out.len, NULL, 1, &again);
	same_reading(&w, &again, "the rewritten archive vs the archive");
	if (!buf_eq(&again.out, &w.out))
		violated(w.failed ? "rewriting twice differs from once (failed scan)"
				  : "rewriting twice differs from once");
	sc = sc0;
	scan(w.out.p, w.out.len, &sc, 1, &again2);
	if (!buf_eq(&again2.out, &w.out))
		violated("rewriting the output in pieces differs from once");
	check_failing_out(data, len, sc0, 1 + (b1 & 31u), &w.out);
	snprintf(info, infosize, "scan %s, %zu -> %zu bytes", w.failed ? "failed" : "succeeded",
		 len, w.out.len);
	result_free(&w);
	result_free(&p);
	result_free(&plain);
	result_free(&again);
	result_free(&again2);
}

static int
replay(int argc, char **argv)
{
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		struct buf b = {0};
		unsigned char chunk[65536];
		size_t n;
		char info[128];

		if (!f) {
			printf("%s: cannot open\n", argv[i]);
			bad = 1;
			continue;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(&b, chunk, n);
		fclose(f);
		/* An abort() stops here with the invariant on stderr. */
		check_one(b.p, b.len, info, sizeof(info));
		printf("%s: OK (%s)\n", argv[i], info);
		free(b.p);
	}
	return bad;
}

int
main(int argc, char **argv)
{
	char info[128];

	pgp_log_init("fuzz_archive");
	if (argc > 1)
		return replay(argc, argv);
	__AFL_INIT();
	unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;

	while (__AFL_LOOP(10000)) {
		size_t len = (size_t) __AFL_FUZZ_TESTCASE_LEN;
		unsigned char *copy = malloc(len ? len : 1);

		/* A copy of exactly len bytes, so ASan sees a read past it. */
		if (!copy)
			violated("harness: out of memory");
		memcpy(copy, buf, len);
		check_one(copy, len, info, sizeof(info));
		free(copy);
	}
	return 0;
}
