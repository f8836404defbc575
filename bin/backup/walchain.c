/*
 * verify's check of the WAL archive (backup.h's wal_check_chain): from
 * a base backup's start to the newest archived segment, across the
 * timeline switches the .history files record, every segment there and,
 * when asked, each one read whole and checked against its name.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "exitcodes.h"
#include "log.h"
#include "stream.h"
#include "walint.h"
#include "walname.h"

/*
 * The chain check.  The archive is listed once (clusters/NAME/wal, every
 * timeline), the segments of each timeline kept as sorted numbers.
 */
struct wal_seg {
	uint32_t tli;
	uint64_t segno;
	struct wal_copy copy;
	int dup;			/* another copy with other content */
};

struct wal_index {
	struct wal_seg *segs;		/* sorted by (tli, segno) */
	size_t n;
	struct wal_copy *hist;		/* .history files */
	size_t nhist;
};

static int
seg_cmp(const void *a, const void *b)
{
	const struct wal_seg *x = a, *y = b;

	if (x->tli != y->tli)
		return x->tli < y->tli ? -1 : 1;
	return x->segno < y->segno ? -1 : x->segno > y->segno;
}

static void
index_free(struct wal_index *ix)
{
	free(ix->segs);
	free(ix->hist);
}

static int
index_add(struct wal_index *ix, size_t *cap, const struct wal_seg *s)
{
	if (ix->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct wal_seg *bigger = realloc(ix->segs, ncap * sizeof(*bigger));

		if (!bigger)
			return pgp_fail("out of memory");
		ix->segs = bigger;
		*cap = ncap;
	}
	ix->segs[ix->n++] = *s;
	return 0;
}

static int
index_load(struct backup_ctx *ctx, const struct cluster *c, struct wal_index *ix)
{
	char prefix[160];
	struct repo_entry *e;
	size_t count, cap = 0, hcap = 0;
	int rc = 0;

	memset(ix, 0, sizeof(*ix));
	snprintf(prefix, sizeof(prefix), "%s/wal", c->prefix);
	if (repo_list(ctx->repo, prefix, &e, &count) < 0)
		return wal_repo_status(ctx);
	for (size_t i = 0; i < count && rc == 0; i++) {
		const char *base = strrchr(e[i].name, '/');
		struct wal_seg s;
		char file[64];

		memset(&s, 0, sizeof(s));
		base = base ? base + 1 : e[i].name;
		if (e[i].is_dir || cluster_wal_parse(base, file, s.copy.sha, &s.copy.compression, &s.copy.encrypted) < 0)
			continue;
		snprintf(s.copy.name, sizeof(s.copy.name), "%s", e[i].name);
		if (walname_classify(file) == WALNAME_HISTORY) {
			if (ix->nhist == hcap) {
				size_t ncap = hcap ? hcap * 2 : 16;
				struct wal_copy *bigger = realloc(ix->hist, ncap * sizeof(*bigger));

				if (!bigger) {
					rc = pgp_fail("out of memory");
					break;
				}
				ix->hist = bigger;
				hcap = ncap;
			}
			ix->hist[ix->nhist++] = s.copy;
		} else if (walname_classify(file) == WALNAME_SEGMENT &&
			   walname_segment_parse(file, c->segsize, &s.tli, &s.segno) == 0)
			rc = index_add(ix, &cap, &s);
	}
	repo_entries_free(e, count);
	if (rc < 0) {
		index_free(ix);
		return PGP_EXIT_FAILED;
	}
	qsort(ix->segs, ix->n, sizeof(*ix->segs), seg_cmp);
	/* Two copies of one segment: the same content is harmless, other content is a problem. */
	{
		size_t j = 0;

		for (size_t i = 0; i < ix->n; i++) {
			if (j > 0 && seg_cmp(&ix->segs[i], &ix->segs[j - 1]) == 0) {
				if (strcmp(ix->segs[i].copy.sha, ix->segs[j - 1].copy.sha) != 0)
					ix->segs[j - 1].dup = 1;
			} else
				ix->segs[j++] = ix->segs[i];
		}
		ix->n = j;
	}
	return PGP_EXIT_OK;
}

static const struct wal_seg *
index_get(const struct wal_index *ix, uint32_t tli, uint64_t segno)
{
	struct wal_seg key = {.tli = tli, .segno = segno};

	return bsearch(&key, ix->segs, ix->n, sizeof(*ix->segs), seg_cmp);
}

/* The newest segment of tli at or after from, or NULL. */
static const struct wal_seg *
index_last(const struct wal_index *ix, uint32_t tli, uint64_t from)
{
	const struct wal_seg *last = NULL;

	for (size_t i = 0; i < ix->n; i++)
		if (ix->segs[i].tli == tli && ix->segs[i].segno >= from)
			last = &ix->segs[i];
	return last;
}

struct collect_buf {
	char *data;
	size_t len, cap;
};

static int
collect(void *arg, const void *data, size_t len)
{
	struct collect_buf *b = arg;

	if (b->len + len + 1 > b->cap) {
		size_t ncap = (b->len + len + 1) * 2;
		char *bigger = realloc(b->data, ncap);

		if (!bigger)
			return pgp_fail("out of memory");
		b->data = bigger;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* A .history file's entries: 0, or -1 (logged, a problem). */
static int
history_read(struct backup_ctx *ctx, const struct wal_copy *h, struct walname_history_entry **hist, size_t *n)
{
	struct stream_expect x = {.compression = h->compression, .encrypted = h->encrypted};
	struct stream_result res;
	struct collect_buf b = {0};
	char label[128], err[200];
	const char *base = strrchr(h->name, '/');
	int rc;

	snprintf(label, sizeof(label), "WAL history file %.16s", base ? base + 1 : h->name);
	if (h->encrypted && keys_identities(ctx) < 0)
		return -1;
	rc = stream_read(ctx, h->name, label, &x, collect, &b, 0, &res);
	if (rc == PGP_EXIT_OK && strcmp(res.raw_sha256, h->sha) != 0) {
		pgp_error("%s is corrupt: its content's SHA-256 is %s, its name says %s", label, res.raw_sha256, h->sha);
		rc = PGP_EXIT_FOUND;
	}
	if (rc == PGP_EXIT_OK && walname_history_parse(b.data ? b.data : "", b.len, hist, n, err, sizeof(err)) < 0) {
		pgp_error("%s: %s", label, err);
		rc = PGP_EXIT_FOUND;
	}
	free(b.data);
	return rc == PGP_EXIT_OK ? 0 : -1;
}

/* One timeline's part of the chain. */
struct wal_leg {
	uint32_t tli;
	uint64_t from, to;		/* segment numbers; to UINT64_MAX: to the newest */
};

/*
 * The timelines from tli on: the newest timeline whose history has tli
 * among its ancestors (the one recovery_target_timeline=latest follows),
 * as legs.  *nlegs >= 1.  0, or -1 when a history file is unreadable.
 */
static int
chain_legs(struct backup_ctx *ctx, const struct cluster *c, const struct wal_index *ix, uint32_t tli,
	   uint64_t startseg, struct wal_leg *legs, size_t max, size_t *nlegs, unsigned long *problems)
{
	struct walname_history_entry *best = NULL;
	size_t nbest = 0;
	uint32_t best_tli = tli;

	for (size_t i = 0; i < ix->nhist; i++) {
		const char *base = strrchr(ix->hist[i].name, '/');
		struct walname_history_entry *h = NULL;
		size_t nh = 0, k;
		uint32_t htli;
		char file[64], sha[65];
		enum compression comp;
		int enc;

		if (cluster_wal_parse(base ? base + 1 : ix->hist[i].name, file, sha, &comp, &enc) < 0 ||
		    walname_timeline(file, &htli) < 0 || htli <= best_tli)
			continue;
		if (history_read(ctx, &ix->hist[i], &h, &nh) < 0) {
			(*problems)++;
			continue;
		}
		for (k = 0; k < nh && h[k].tli != tli; k++)
			;
		/* A branch that left tli before the chain's start is not this chain's. */
		if (k < nh && walname_segno(h[k].switchpoint, c->segsize) >= startseg) {
			free(best);
			best = h;
			nbest = nh;
			best_tli = htli;
		} else
			free(h);
	}
	*nlegs = 0;
	for (size_t k = 0; k < nbest && *nlegs + 1 < max; k++) {
		uint64_t end = walname_segno(best[k].switchpoint, c->segsize);

		if (best[k].tli < tli || end == 0)
			continue;
		/* The segment holding the switch point is read from the next timeline. */
		legs[*nlegs] = (struct wal_leg){best[k].tli, startseg, end - 1};
		if (end > startseg)
			(*nlegs)++;
		if (end > startseg)
			startseg = end;
	}
	legs[(*nlegs)++] = (struct wal_leg){best_tli, startseg, UINT64_MAX};
	free(best);
	return 0;
}

struct first_page {
	unsigned char page[WAL_LONG_HEADER_SIZE];
	size_t len;
};

static int
first_page_sink(void *arg, const void *data, size_t len)
{
	struct first_page *p = arg;
	size_t take = len < sizeof(p->page) - p->len ? len : sizeof(p->page) - p->len;

	memcpy(p->page + p->len, data, take);
	p->len += take;
	return 0;
}

/* Read one segment whole: its SHA-256 and first page.  0, or 1 (a problem, logged), or an exit status. */
static int
segment_read(struct backup_ctx *ctx, const struct cluster *c, const struct wal_seg *s, const char *file)
{
	struct stream_expect x = {.compression = s->copy.compression, .encrypted = s->copy.encrypted};
	struct stream_result res;
	struct first_page p = {.len = 0};
	char label[64], why[200];
	int rc;

	snprintf(label, sizeof(label), "WAL %s", file);
	if (s->copy.encrypted && keys_identities(ctx) < 0)
		return PGP_EXIT_USAGE;
	rc = stream_read(ctx, s->copy.name, label, &x, first_page_sink, &p, 0, &res);
	if (rc == PGP_EXIT_FOUND)
		return 1;
	if (rc != PGP_EXIT_OK)
		return rc;
	if (strcmp(res.raw_sha256, s->copy.sha) != 0) {
		pgp_error("WAL %s is corrupt: its content's SHA-256 is %s, its name says %s", file, res.raw_sha256,
			  s->copy.sha);
		return 1;
	}
	if (res.raw_size != c->segsize || wal_header_check(p.page, p.len, file, c->sysid, c->segsize, NULL, why,
							  sizeof(why)) < 0) {
		if (res.raw_size != c->segsize)
			snprintf(why, sizeof(why), "it is %llu bytes, the segment size is %" PRIu64, res.raw_size,
				 c->segsize);
		pgp_error("WAL %s is not a segment of this cluster: %s", file, why);
		return 1;
	}
	return 0;
}

/* A run of missing segments [a, b] of tli, named with its neighbours. */
static void
report_gap(const struct cluster *c, uint32_t tli, uint64_t a, uint64_t b, uint64_t have_before, int before,
	   const char *after)
{
	char name[WALNAME_SEGMENT_SIZE], prev[WALNAME_SEGMENT_SIZE] = "";

	if (before)
		walname_segment_format(tli, have_before, c->segsize, prev);
	for (uint64_t s = a; s <= b && s < a + 10; s++) {
		walname_segment_format(tli, s, c->segsize, name);
		if (*prev && after)
			pgp_error("WAL %s is missing from the archive (%s and %s are there)", name, prev, after);
		else if (after)
			pgp_error("WAL %s is missing from the archive (%s is there)", name, after);
		else
			pgp_error("WAL %s is missing from the archive", name);
	}
	if (b - a >= 10)
		pgp_detail("and %" PRIu64 " more segments after those", b - a - 9);
}

static int
check_leg(struct backup_ctx *ctx, const struct cluster *c, const struct wal_index *ix, const struct wal_leg *leg,
	  int read_content, struct wal_chain *out, uint64_t *have_prev, int *have)
{
	const struct wal_seg *last = index_last(ix, leg->tli, leg->from);
	uint64_t to = leg->to == UINT64_MAX ? (last ? last->segno : leg->from) : leg->to;
	uint64_t gap_start = 0;
	int in_gap = 0, rc = PGP_EXIT_OK;

	for (uint64_t s = leg->from; s <= to; s++) {
		const struct wal_seg *seg = index_get(ix, leg->tli, s);
		char name[WALNAME_SEGMENT_SIZE];

		walname_segment_format(leg->tli, s, c->segsize, name);
		if (!seg) {
			if (!in_gap)
				gap_start = s;
			in_gap = 1;
			continue;
		}
		if (in_gap) {
			report_gap(c, leg->tli, gap_start, s - 1, *have_prev, *have, name);
			out->problems += s - gap_start;
			in_gap = 0;
		}
		if (seg->dup) {
			pgp_error("WAL %s is in the archive twice, with different content", name);
			out->problems++;
		}
		if (read_content) {
			int r = segment_read(ctx, c, seg, name);

			if (r == 1)
				out->problems++;
			else if (r != 0 && rc == PGP_EXIT_OK)
				rc = r;
		}
		if (!out->files++)
			snprintf(out->first, sizeof(out->first), "%s", name);
		snprintf(out->last, sizeof(out->last), "%s", name);
		out->last_tli = leg->tli;
		out->end_lsn = walname_segno_start(s + 1, c->segsize);
		*have_prev = s;
		*have = 1;
	}
	if (in_gap) {
		report_gap(c, leg->tli, gap_start, to, *have_prev, *have, NULL);
		out->problems += to - gap_start + 1;
	}
	return rc;
}

int
wal_check_chain(struct backup_ctx *ctx, const struct cluster *c, uint32_t tli, uint64_t start_lsn,
		int read_content, struct wal_chain *out)
{
	struct wal_index ix;
	struct wal_leg legs[64];
	size_t nlegs = 0;
	uint64_t prev = 0;
	int have = 0, rc;

	memset(out, 0, sizeof(*out));
	if (!c->segsize || !walname_segsize_valid(c->segsize)) {
		pgp_error("cluster %s: its WAL segment size is not known", c->name);
		return PGP_EXIT_FAILED;
	}
	if ((rc = index_load(ctx, c, &ix)) != PGP_EXIT_OK)
		return rc;
	chain_legs(ctx, c, &ix, tli, walname_segno(start_lsn, c->segsize), legs, 64, &nlegs, &out->problems);
	for (size_t i = 0; i < nlegs; i++) {
		int r;

		/* A leg with nothing in it at all (a timeline just begun): the chain ends before it. */
		if (legs[i].to == UINT64_MAX && i > 0 && !index_last(&ix, legs[i].tli, legs[i].from))
			break;
		r = check_leg(ctx, c, &ix, &legs[i], read_content, out, &prev, &have);
		if (r != PGP_EXIT_OK && rc == PGP_EXIT_OK)
			rc = r;
	}
	index_free(&ix);
	if (rc != PGP_EXIT_OK)
		return rc;
	return out->problems ? PGP_EXIT_FOUND : PGP_EXIT_OK;
}
