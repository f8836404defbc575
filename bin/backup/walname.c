/*
 * WAL positions and file names.  The arithmetic is xlog_internal.h's:
 * a segment number counts wal_segment_size pieces from LSN 0, and its
 * name splits it at every 4 GB (XLogSegmentsPerXLogId), so the low eight
 * digits of a 16 MB segment only run 00000000..000000FF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walname.h"

#define XLOGID_BYTES 0x100000000ULL

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 1..8 hex digits at *s, advancing it: 0, or -1. */
static int
hex32(const char **s, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0, d;

	while ((d = hexval(**s)) >= 0) {
		if (++n > 8)
			return -1;
		v = v << 4 | (uint32_t) d;
		(*s)++;
	}
	*out = v;
	return n ? 0 : -1;
}

int
walname_lsn_parse(const char *s, uint64_t *lsn)
{
	uint32_t hi, lo;

	if (!s || hex32(&s, &hi) < 0 || *s++ != '/' || hex32(&s, &lo) < 0 || *s)
		return -1;
	*lsn = (uint64_t) hi << 32 | lo;
	return 0;
}

void
walname_lsn_format(uint64_t lsn, char *buf)
{
	snprintf(buf, WALNAME_LSN_SIZE, "%X/%X", (unsigned) (lsn >> 32), (unsigned) lsn);
}

int
walname_segsize_valid(uint64_t segsize)
{
	return segsize >= WALNAME_SEGSIZE_MIN && segsize <= WALNAME_SEGSIZE_MAX &&
	       (segsize & (segsize - 1)) == 0;
}

uint64_t
walname_segno(uint64_t lsn, uint64_t segsize)
{
	return lsn / segsize;
}

uint64_t
walname_segno_start(uint64_t segno, uint64_t segsize)
{
	return segno * segsize;
}

void
walname_segment_format(uint32_t tli, uint64_t segno, uint64_t segsize, char *buf)
{
	uint64_t per_id = XLOGID_BYTES / segsize;

	snprintf(buf, WALNAME_SEGMENT_SIZE, "%08X%08X%08X", (unsigned) tli,
		 (unsigned) (segno / per_id), (unsigned) (segno % per_id));
}

/* n upper-case hex digits exactly: the server's names (IsXLogFileName). */
static int
all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static uint32_t
hex_n(const char *s, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 4 | (uint32_t) hexval(s[i]);
	return v;
}

int
walname_segment_parse(const char *name, uint64_t segsize, uint32_t *tli, uint64_t *segno)
{
	uint32_t t, id, low;
	uint64_t per_id;

	if (!walname_segsize_valid(segsize) || strlen(name) != 24 || !all_hex(name, 24))
		return -1;
	per_id = XLOGID_BYTES / segsize;
	t = hex_n(name, 8);
	id = hex_n(name + 8, 8);
	low = hex_n(name + 16, 8);
	if (t == 0 || low >= per_id)
		return -1;
	*tli = t;
	*segno = (uint64_t) id * per_id + low;
	return 0;
}

int
walname_segment_next(const char *name, uint64_t segsize, char *buf)
{
	uint32_t tli;
	uint64_t segno;

	if (walname_segment_parse(name, segsize, &tli, &segno) < 0 ||
	    segno + 1 > UINT64_MAX / segsize)
		return -1;
	walname_segment_format(tli, segno + 1, segsize, buf);
	return 0;
}

enum walname_kind
walname_classify(const char *name)
{
	size_t len = strlen(name);

	if (len == 24 && all_hex(name, 24))
		return WALNAME_SEGMENT;
	if (len == 24 + 8 && all_hex(name, 24) && !strcmp(name + 24, ".partial"))
		return WALNAME_PARTIAL;
	if (len == 8 + 8 && all_hex(name, 8) && !strcmp(name + 8, ".history"))
		return WALNAME_HISTORY;
	if (len == 24 + 1 + 8 + 7 && all_hex(name, 24) && name[24] == '.' &&
	    all_hex(name + 25, 8) && !strcmp(name + 33, ".backup"))
		return WALNAME_BACKUP;
	return WALNAME_INVALID;
}

int
walname_timeline(const char *name, uint32_t *tli)
{
	if (walname_classify(name) == WALNAME_INVALID)
		return -1;
	*tli = hex_n(name, 8);
	return 0;
}

/* A decimal timeline id at *s: 0, or -1 (none, or past 32 bits). */
static int
dec32(const char **s, uint32_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (**s >= '0' && **s <= '9') {
		v = v * 10 + (uint64_t) (**s - '0');
		if (v > UINT32_MAX)
			return -1;
		(*s)++;
		n++;
	}
	*out = (uint32_t) v;
	return n ? 0 : -1;
}

/* One non-comment line (NUL-terminated copy): 0, or -1 with why. */
static int
history_line(const char *p, struct walname_history_entry *e, const char **why)
{
	const char *q;
	char lsn[WALNAME_LSN_SIZE];
	size_t l;

	if (dec32(&p, &e->tli) < 0) {
		*why = "expected a numeric timeline ID";
		return -1;
	}
	if (*p != '\t' && *p != ' ') {
		*why = "expected a tab after the timeline ID";
		return -1;
	}
	while (*p == '\t' || *p == ' ')
		p++;
	for (q = p; *q && *q != '\t' && *q != ' '; q++)
		;
	l = (size_t) (q - p);
	if (l == 0 || l >= sizeof(lsn)) {
		*why = "expected a write-ahead log switchpoint location";
		return -1;
	}
	memcpy(lsn, p, l);
	lsn[l] = '\0';
	if (walname_lsn_parse(lsn, &e->switchpoint) < 0) {
		*why = "expected a write-ahead log switchpoint location";
		return -1;
	}
	/* The rest of the line is the reason, free text. */
	return 0;
}

int
walname_history_parse(const char *text, size_t len, struct walname_history_entry **out,
		      size_t *n, char *err, size_t errsize)
{
	struct walname_history_entry *list = NULL, e;
	size_t count = 0, cap = 0, lineno = 0, pos = 0;
	char line[1024];
	const char *why = NULL;

	*out = NULL;
	*n = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t) (nl - (text + pos)) : len - pos;
		const char *p;

		lineno++;
		if (l >= sizeof(line)) {
			why = "line too long";
			goto fail;
		}
		memcpy(line, text + pos, l);
		line[l] = '\0';
		pos += l + (nl ? 1 : 0);
		if (memchr(line, '\0', l)) {
			why = "a NUL byte";
			goto fail;
		}
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (history_line(p, &e, &why) < 0)
			goto fail;
		if (count && e.tli <= list[count - 1].tli) {
			why = "timeline IDs must be in increasing sequence";
			goto fail;
		}
		/* Switch points may decrease: a recovery that stopped on an ancestor before a
		 * later branch's switch writes that branch's history, then its own earlier point
		 * (the server's readTimeLineHistory does not check them either). */
		if (count == cap) {
			struct walname_history_entry *nlist;

			cap = cap ? cap * 2 : 8;
			nlist = realloc(list, cap * sizeof(*list));
			if (!nlist) {
				why = "out of memory";
				goto fail;
			}
			list = nlist;
		}
		list[count++] = e;
	}
	*out = list;
	*n = count;
	return 0;
fail:
	snprintf(err, errsize, "line %zu: %s", lineno, why);
	free(list);
	return -1;
}
