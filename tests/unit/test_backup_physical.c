/*
 * Physical backup foundations: WAL names and LSNs (the xlogid boundary
 * for 16 MB and 1 GB segments, history files), the tar reader (archives
 * built here block by block, fed in pieces of every awkward size, and
 * every way one can be damaged or hostile), CRC-32C against RFC 3720's
 * vectors, and backup_manifest parsing and verification.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../../bin/backup/basebackup.h"
#include "../../bin/backup/crc32c.h"
#include "../../bin/backup/pgmanifest.h"
#include "../../bin/backup/tarstream.h"
#include "../../bin/backup/walname.h"
#include "tap.h"

#define MB (1024ULL * 1024)

struct buf {
	unsigned char *data;
	size_t len, cap;
};

static void
put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;

		while (ncap < b->len + len + 1)
			ncap *= 2;
		b->data = realloc(b->data, ncap);
		b->cap = ncap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
}

static void
puts_buf(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* ---- walname ---- */

static void
test_lsn(void)
{
	uint64_t l = 1;
	char buf[WALNAME_LSN_SIZE];
	static const char *bad[] = {"", "1", "1/", "/1", "123456789/0", "1/2x", "g/1", " 1/2",
				    "1/2 ", "1//2", "-1/2", "0x1/2"};

	ok(walname_lsn_parse("0/0", &l) == 0 && l == 0, "LSN 0/0");
	ok(walname_lsn_parse("16/B374D848", &l) == 0 && l == 0x16B374D848ULL, "LSN 16/B374D848");
	ok(walname_lsn_parse("ffffffff/FFFFFFFF", &l) == 0 && l == UINT64_MAX, "LSN at the top");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(walname_lsn_parse(bad[i], &l) < 0, "LSN \"%s\" refused", bad[i]);
	walname_lsn_format(0x16B374D848ULL, buf);
	is_str(buf, "16/B374D848", "LSN formatted as the server does");
	walname_lsn_format(0, buf);
	is_str(buf, "0/0", "LSN 0 formatted");
	walname_lsn_format(UINT64_MAX, buf);
	is_str(buf, "FFFFFFFF/FFFFFFFF", "the largest LSN formatted");
}

static void
test_segments(void)
{
	char name[WALNAME_SEGMENT_SIZE], next[WALNAME_SEGMENT_SIZE];
	uint64_t lsn, segno;
	uint32_t tli;

	ok(walname_segsize_valid(MB) && walname_segsize_valid(16 * MB) &&
	   walname_segsize_valid(1024 * MB), "1 MB, 16 MB, 1 GB segments are valid");
	ok(!walname_segsize_valid(0) && !walname_segsize_valid(3 * MB) &&
	   !walname_segsize_valid(2048 * MB) && !walname_segsize_valid(512 * 1024),
	   "0, 3 MB, 2 GB, 512 kB segments are not");

	/* 16 MB: 256 segments per xlogid. */
	walname_lsn_parse("0/FF000028", &lsn);
	walname_segment_format(1, walname_segno(lsn, 16 * MB), 16 * MB, name);
	is_str(name, "0000000100000000000000FF", "16 MB: the last segment of xlogid 0");
	ok(walname_segment_next(name, 16 * MB, next) == 0, "16 MB: next segment");
	is_str(next, "000000010000000100000000", "16 MB: wraps into xlogid 1");
	ok(walname_segment_parse(next, 16 * MB, &tli, &segno) == 0 && tli == 1 && segno == 256,
	   "16 MB: parsed back as segment 256");
	walname_lsn_parse("1/0", &lsn);
	is_int(walname_segno(lsn, 16 * MB), 256, "16 MB: LSN 1/0 is in segment 256");
	is_int(walname_segno_start(256, 16 * MB), lsn, "16 MB: segment 256 starts at 1/0");
	ok(walname_segment_parse("000000010000000000000100", 16 * MB, &tli, &segno) < 0,
	   "16 MB: low part 100 does not exist");
	ok(walname_segment_parse("000000010000000000000100", MB, &tli, &segno) == 0 && segno == 256,
	   "1 MB: low part 100 does");
	ok(walname_segment_parse("000000000000000000000001", 16 * MB, &tli, &segno) < 0,
	   "timeline 0 refused");
	ok(walname_segment_parse("0000000100000000000000fe", 16 * MB, &tli, &segno) < 0,
	   "lower-case hex refused");

	/* 1 GB: 4 segments per xlogid. */
	walname_lsn_parse("0/C0000000", &lsn);
	walname_segment_format(3, walname_segno(lsn, 1024 * MB), 1024 * MB, name);
	is_str(name, "000000030000000000000003", "1 GB: the last segment of xlogid 0");
	ok(walname_segment_next(name, 1024 * MB, next) == 0, "1 GB: next segment");
	is_str(next, "000000030000000100000000", "1 GB: wraps into xlogid 1");
	ok(walname_segment_parse("000000010000000000000004", 1024 * MB, &tli, &segno) < 0,
	   "1 GB: low part 4 does not exist");
	walname_lsn_parse("A/BFFFFFFF", &lsn);
	walname_segment_format(1, walname_segno(lsn, 1024 * MB), 1024 * MB, name);
	is_str(name, "000000010000000A00000002", "1 GB: A/BFFFFFFF");
	ok(walname_segment_next("FFFFFFFFFFFFFFFF000000FF", 16 * MB, next) < 0,
	   "no segment after the last one");
}

static void
test_classify(void)
{
	uint32_t tli = 0;

	is_int(walname_classify("000000010000000000000003"), WALNAME_SEGMENT, "segment");
	is_int(walname_classify("000000010000000000000003.partial"), WALNAME_PARTIAL, "partial");
	is_int(walname_classify("0000000A.history"), WALNAME_HISTORY, "history");
	is_int(walname_classify("000000010000000000000003.00000028.backup"), WALNAME_BACKUP, "backup");
	is_int(walname_classify("00000001000000000000000G"), WALNAME_INVALID, "not hex");
	is_int(walname_classify("00000001000000000000003"), WALNAME_INVALID, "23 digits");
	is_int(walname_classify("0000000100000000000000030"), WALNAME_INVALID, "25 digits");
	is_int(walname_classify("000000010000000000000003.partia"), WALNAME_INVALID, "bad suffix");
	is_int(walname_classify("0000000a.history"), WALNAME_INVALID, "lower-case history");
	is_int(walname_classify("00000001.history.tmp"), WALNAME_INVALID, "history with a tail");
	is_int(walname_classify("000000010000000000000003.0000028.backup"), WALNAME_INVALID,
	       "backup offset of 7 digits");
	is_int(walname_classify("archive_status"), WALNAME_INVALID, "a directory name");
	is_int(walname_classify(""), WALNAME_INVALID, "empty");
	ok(walname_timeline("0000000A.history", &tli) == 0 && tli == 10, "timeline of a history file");
}

static void
test_history(void)
{
	const char *good = "1\t0/3000000\tno recovery target specified\n"
			   "\n# a comment\n"
			   "  2\t0/5000A28\tat restore point \"x\"\n"
			   "3\t1/0\tbefore 2026-01-01 00:00:00+00";
	struct walname_history_entry *e = NULL;
	size_t n = 0;
	char err[128] = "";

	ok(walname_history_parse(good, strlen(good), &e, &n, err, sizeof(err)) == 0 && n == 3,
	   "history: three entries");
	ok(n == 3 && e[0].tli == 1 && e[0].switchpoint == 0x3000000 && e[1].tli == 2 &&
	   e[1].switchpoint == 0x5000A28 && e[2].tli == 3 && e[2].switchpoint == 0x100000000ULL,
	   "history: timelines and switch points");
	free(e);
	ok(walname_history_parse("", 0, &e, &n, err, sizeof(err)) == 0 && n == 0 && !e,
	   "history: empty file");
	ok(walname_history_parse("1\t0/1\tx\nx\t0/2\ty\n", 16, &e, &n, err, sizeof(err)) < 0,
	   "history: a non-numeric timeline refused");
	is_str(err, "line 2: expected a numeric timeline ID", "history: the line named");
	ok(walname_history_parse("# c\n\n1\n", 7, &e, &n, err, sizeof(err)) < 0, "history: no LSN");
	is_str(err, "line 3: expected a tab after the timeline ID", "history: line 3 named");
	ok(walname_history_parse("1\tzz\n", 5, &e, &n, err, sizeof(err)) < 0, "history: bad LSN");
	ok(walname_history_parse("2\t0/1\ta\n1\t0/2\tb\n", 16, &e, &n, err, sizeof(err)) < 0,
	   "history: decreasing timelines refused");
	is_str(err, "line 2: timeline IDs must be in increasing sequence", "history: reason");
	ok(walname_history_parse("1\t0/5\ta\n2\t0/2\tb\n", 16, &e, &n, err, sizeof(err)) == 0 && n == 2 &&
	   e[1].switchpoint == 2, "history: a switch point below the one before is taken, as the server writes it");
	free(e);
}

/* ---- CRC-32C ---- */

static void
test_crc32c(void)
{
	unsigned char d[48];
	/* RFC 3720 B.4: an iSCSI read command PDU. */
	static const unsigned char pdu[48] = {
		0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18,
		0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0};
	unsigned char big[4099];
	uint32_t whole, parts;

	is_int(crc32c_update(0, "123456789", 9), 0xE3069283u, "CRC-32C check value");
	memset(d, 0, 32);
	is_int(crc32c_update(0, d, 32), 0x8A9136AAu, "RFC 3720: 32 zero bytes");
	memset(d, 0xFF, 32);
	is_int(crc32c_update(0, d, 32), 0x62A8AB43u, "RFC 3720: 32 0xFF bytes");
	for (int i = 0; i < 32; i++)
		d[i] = (unsigned char) i;
	is_int(crc32c_update(0, d, 32), 0x46DD794Eu, "RFC 3720: incrementing");
	for (int i = 0; i < 32; i++)
		d[i] = (unsigned char) (31 - i);
	is_int(crc32c_update(0, d, 32), 0x113FDB5Cu, "RFC 3720: decrementing");
	is_int(crc32c_update(0, pdu, 48), 0xD9963A56u, "RFC 3720: iSCSI read PDU");
	is_int(crc32c_update_sw(0, pdu, 48), 0xD9963A56u, "RFC 3720: iSCSI read PDU (software)");
	is_int(crc32c_update(0, "", 0), 0, "empty input");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char) (i * 7 + (i >> 5));
	whole = crc32c_update(0, big, sizeof(big));
	parts = 0;
	for (size_t off = 0, step = 1; off < sizeof(big); off += step, step = step * 3 % 61 + 1)
		parts = crc32c_update(parts, big + off, off + step > sizeof(big) ? sizeof(big) - off : step);
	is_int(parts, whole, "in pieces at every alignment = whole");
	is_int(crc32c_update_sw(0, big + 1, sizeof(big) - 1), crc32c_update(0, big + 1, sizeof(big) - 1),
	       "software = %s on unaligned data", crc32c_impl());
}

/* ---- tar ---- */

struct tarb {
	struct buf b;
};

static void
octal(unsigned char *f, size_t len, unsigned long long v)
{
	snprintf((char *) f, len, "%0*llo", (int) len - 1, v);
}

static void
checksum(unsigned char *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *) h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

/* One header, posix (ustar\0 00) or GNU (ustar  \0), then data padded. */
static void
tar_add(struct buf *b, const char *name, char type, const void *data, size_t size,
	const char *link, int gnu)
{
	unsigned char h[512] = {0}, pad[512] = {0};

	strncpy((char *) h, name, 100);
	octal(h + 100, 8, type == '5' ? 0755 : 0600);
	octal(h + 108, 8, 26);
	octal(h + 116, 8, 26);
	octal(h + 124, 12, size);
	octal(h + 136, 12, 1700000000);
	h[156] = (unsigned char) type;
	if (link)
		strncpy((char *) h + 157, link, 100);
	memcpy(h + 257, gnu ? "ustar  \0" : "ustar\0" "00", 8);
	strcpy((char *) h + 265, "postgres");
	strcpy((char *) h + 297, "postgres");
	checksum(h);
	put(b, h, 512);
	if (size) {
		put(b, data, size);
		if (size % 512)
			put(b, pad, 512 - size % 512);
	}
}

static void
tar_end(struct buf *b, size_t extra)
{
	unsigned char z[1024] = {0};

	put(b, z, 1024);
	while (extra) {
		size_t n = extra < sizeof(z) ? extra : sizeof(z);

		put(b, z, n);
		extra -= n;
	}
}

/* What the callbacks saw, as text. */
struct seen {
	struct buf log;
	uint32_t crc;
	int stop_at_entry;
	int entries;
};

static int
cb_entry(void *arg, const struct tar_entry *e)
{
	struct seen *s = arg;
	char line[600];

	snprintf(line, sizeof(line), "%c %s %o %llu %s @%llu\n",
		 e->type == TAR_FILE ? 'f' : e->type == TAR_DIR ? 'd' : 'l', e->name, e->mode,
		 (unsigned long long) e->size, e->linkname, (unsigned long long) e->offset);
	puts_buf(&s->log, line);
	s->crc = 0;
	if (s->stop_at_entry && ++s->entries == s->stop_at_entry)
		return -1;
	return 0;
}

static int
cb_data(void *arg, const void *buf, size_t len)
{
	struct seen *s = arg;

	s->crc = crc32c_update(s->crc, buf, len);
	return 0;
}

static int
cb_end(void *arg, const struct tar_entry *e)
{
	struct seen *s = arg;
	char line[64];

	(void) e;
	snprintf(line, sizeof(line), "  crc %08x\n", s->crc);
	puts_buf(&s->log, line);
	return 0;
}

static const struct tar_callbacks seen_cb = {cb_entry, cb_data, cb_end};

/* Read archive a in pieces of size piece: 0, or -1 with the error in err. */
static int
read_tar(const struct buf *a, size_t piece, struct seen *s, char *err, size_t errsize)
{
	struct tarstream *t = tarstream_new(&seen_cb, s);
	int rc = 0;

	for (size_t off = 0; off < a->len && rc == 0; off += piece)
		rc = tarstream_feed(t, a->data + off, off + piece > a->len ? a->len - off : piece);
	if (rc == 0)
		rc = tarstream_finish(t);
	snprintf(err, errsize, "%s", rc ? (tarstream_error(t) ? tarstream_error(t) : "(callback)") : "");
	tarstream_free(t);
	return rc;
}

static unsigned char payload[5000];

static void
sample_tar(struct buf *a, int gnu)
{
	tar_add(a, "base/", '5', NULL, 0, NULL, gnu);
	tar_add(a, "base/1/", '5', NULL, 0, NULL, gnu);
	tar_add(a, "base/1/1259", '0', payload, 5000, NULL, gnu);
	tar_add(a, "PG_VERSION", '0', "15\n", 3, NULL, gnu);
	tar_add(a, "empty", '0', NULL, 0, NULL, gnu);
	tar_add(a, "pg_tblspc/16385", '2', NULL, 0, "/srv/ts", gnu);
	tar_add(a, "global/pg_control", '0', payload + 1, 512, NULL, gnu);
	tar_end(a, 0);
}

static void
test_tar_good(void)
{
	struct buf a = {0};
	struct seen ref = {0};
	char err[600], want[1024];
	static const size_t pieces[] = {1, 3, 511, 512, 513, 1024, 4097};

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char) (i * 31 + 7);
	sample_tar(&a, 0);
	ok(read_tar(&a, a.len, &ref, err, sizeof(err)) == 0, "ustar archive read whole: %s", err);
	snprintf(want, sizeof(want),
		 "d base 755 0  @0\n  crc 00000000\n"
		 "d base/1 755 0  @512\n  crc 00000000\n"
		 "f base/1/1259 600 5000  @1024\n  crc %08x\n"
		 "f PG_VERSION 600 3  @6656\n  crc %08x\n"
		 "f empty 600 0  @7680\n  crc 00000000\n"
		 "l pg_tblspc/16385 600 0 /srv/ts @8192\n  crc 00000000\n"
		 "f global/pg_control 600 512  @8704\n  crc %08x\n",
		 crc32c_update(0, payload, 5000), crc32c_update(0, "15\n", 3),
		 crc32c_update(0, payload + 1, 512));
	is_str((char *) ref.log.data, want, "entries, data and offsets as written");
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct seen s = {0};

		ok(read_tar(&a, pieces[i], &s, err, sizeof(err)) == 0 &&
		   !strcmp((char *) s.log.data, (char *) ref.log.data),
		   "the same fed in pieces of %zu", pieces[i]);
		free(s.log.data);
	}
	/* GNU tar pads to a 10240-byte record. */
	{
		struct buf g = {0};
		struct seen s = {0};

		sample_tar(&g, 1);
		tar_end(&g, 10240 - g.len % 10240);
		ok(read_tar(&g, 700, &s, err, sizeof(err)) == 0 &&
		   !strcmp((char *) s.log.data, (char *) ref.log.data),
		   "GNU magic, record padding: the same entries");
		free(s.log.data);
		free(g.data);
	}
	free(ref.log.data);
	free(a.data);
}

/* A pax 'x' header with the given records, then the entry. */
static void
pax(struct buf *b, const char *records)
{
	tar_add(b, "././@PaxHeader", 'x', records, strlen(records), NULL, 0);
}

static void
test_tar_long_names(void)
{
	struct buf a = {0};
	struct seen s = {0};
	char err[600], longname[301], rec[400];

	memset(longname, 'n', 300);
	longname[300] = '\0';
	memcpy(longname + 100, "/", 1);
	memcpy(longname + 200, "/", 1);
	/* pax: path and size override the header's. */
	snprintf(rec, sizeof(rec), "%d path=%s\n", (int) (strlen(longname) + 10), longname);
	pax(&a, rec);
	tar_add(&a, "short", '0', "abc", 3, NULL, 0);
	pax(&a, "13 size=4000\n");
	{
		/* the header says 0 bytes, the pax size says 4000 */
		unsigned char h[512] = {0}, zero[512] = {0};

		strcpy((char *) h, "sized");
		octal(h + 100, 8, 0644);
		octal(h + 108, 8, 0);
		octal(h + 116, 8, 0);
		octal(h + 124, 12, 0);
		octal(h + 136, 12, 0);
		h[156] = '0';
		memcpy(h + 257, "ustar\0" "00", 8);
		checksum(h);
		put(&a, h, 512);
		put(&a, payload, 4000);
		put(&a, zero, 512 - 4000 % 512);
	}
	tar_add(&a, "././@LongLink", 'L', longname, strlen(longname) + 1, NULL, 1);
	tar_add(&a, "trunc", '0', "xy", 2, NULL, 1);
	tar_add(&a, "././@LongLink", 'K', "/very/long/target", 18, NULL, 1);
	tar_add(&a, "lnk", '2', NULL, 0, "t", 1);
	tar_add(&a, "g", 'g', "8 a=bcd\n", 8, NULL, 0);
	tar_end(&a, 0);
	ok(read_tar(&a, 100, &s, err, sizeof(err)) == 0, "pax and GNU long names: %s", err);
	ok(s.log.data && strstr((char *) s.log.data, longname) &&
	   strstr((char *) s.log.data, "f sized 644 4000"), "pax path and size applied");
	ok(s.log.data && strstr((char *) s.log.data, "l lnk 600 0 /very/long/target @"),
	   "GNU K long link applied");
	ok(s.log.data && !strstr((char *) s.log.data, "short") && !strstr((char *) s.log.data, "trunc"),
	   "header names replaced by the long ones");
	ok(s.log.data && strstr((char *) s.log.data, "@0\n"), "an entry's offset is its first header's");
	free(s.log.data);
	free(a.data);
}

/* Expect archive a to fail with an error containing want. */
static void
tar_fails(struct buf *a, const char *want, const char *desc)
{
	struct seen s = {0};
	char err[600];
	int rc = read_tar(a, 333, &s, err, sizeof(err));

	ok(rc < 0 && strstr(err, want), "%s", desc);
	if (rc == 0 || !strstr(err, want))
		printf("#   error: \"%s\", want \"%s\"\n", err, want);
	free(s.log.data);
	free(a->data);
	memset(a, 0, sizeof(*a));
}

static void
test_tar_bad(void)
{
	struct buf a = {0};
	size_t cut;

	sample_tar(&a, 0);
	a.data[1024 + 10] ^= 1;
	tar_fails(&a, "offset 1024: header checksum mismatch", "a flipped header byte: checksum, offset");

	sample_tar(&a, 0);
	memcpy(a.data + 1024 + 124, "0000000001x", 11);
	checksum(a.data + 1024);
	tar_fails(&a, "offset 1024: bad size field", "a non-octal size refused");

	sample_tar(&a, 0);
	memcpy(a.data + 1024 + 257, "ustaR", 5);
	checksum(a.data + 1024);
	tar_fails(&a, "not a ustar header", "wrong magic refused");

	for (cut = 1; cut <= 3; cut++) {
		static const size_t at[] = {0, 3000, 1024 + 100, 9700};
		const char *want[] = {"", "entry \"base/1/1259\" at offset 1024 ends", "a partial header at offset 1024",
				      "no end-of-archive blocks"};

		sample_tar(&a, 0);
		a.len = cut == 3 ? a.len - 1024 : at[cut];
		tar_fails(&a, want[cut], cut == 1 ? "truncated inside data: entry and bytes named" :
			  cut == 2 ? "truncated inside a header" : "missing end blocks");
	}
	sample_tar(&a, 0);
	a.len -= 512;
	tar_fails(&a, "no end-of-archive blocks", "only one zero block");

	sample_tar(&a, 0);
	put(&a, "x", 1);
	tar_fails(&a, "data after the end of the archive", "a byte after the end blocks");

	sample_tar(&a, 0);
	a.data[1024 + 512 + 5000 + 3] = 1;
	tar_fails(&a, "padding after \"base/1/1259\" is not zero", "non-zero padding");

	{
		/* a zero block, then a header */
		struct buf b = {0};
		unsigned char z[512] = {0};

		tar_add(&b, "one", '0', "a", 1, NULL, 0);
		put(&b, z, 512);
		tar_add(&b, "two", '0', "b", 1, NULL, 0);
		tar_end(&b, 0);
		tar_fails(&b, "a header after a single zero block", "a header after one zero block");
	}
	tar_add(&a, "../etc/passwd", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "entry \"../etc/passwd\" at offset 0: refused: a \"..\" component", "\"..\" refused");
	tar_add(&a, "base/1", '5', NULL, 0, NULL, 0);
	tar_add(&a, "base/../../x", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "at offset 512: refused", "an inner \"..\" refused, at its offset");
	tar_add(&a, "/etc/cron.d/x", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "refused: absolute name", "an absolute name refused");
	tar_add(&a, "pg_tblspc/16385", '2', NULL, 0, "/", 0);
	tar_add(&a, "pg_tblspc/16385/etc/x", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "under the symlink \"pg_tblspc/16385\"", "a file under a symlink refused");
	tar_add(&a, "a", '2', NULL, 0, "/", 0);
	tar_add(&a, "./a/", '5', NULL, 0, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "under the symlink \"a\"", "a directory over a symlink refused");
	tar_add(&a, "hard", '1', NULL, 0, "PG_VERSION", 0);
	tar_end(&a, 0);
	tar_fails(&a, "unsupported type '1'", "a hard link refused");
	tar_add(&a, "fifo", '6', NULL, 0, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "unsupported type '6'", "a FIFO refused");
	tar_add(&a, "dir", '5', "xx", 2, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "a directory with 2 bytes of data", "a directory with data refused");
	pax(&a, "22 GNU.sparse.major=1\n");
	tar_add(&a, "sparse", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "sparse files are not supported", "GNU sparse files refused");
	pax(&a, "99 path=x\n");
	tar_add(&a, "p", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "malformed record", "a pax record of the wrong length refused");
	pax(&a, "13 path=../x\n");
	tar_add(&a, "p", '0', "x", 1, NULL, 0);
	tar_end(&a, 0);
	tar_fails(&a, "entry \"../x\" at offset 0: refused", "a pax path with \"..\" refused");
}

static void
test_tar_misc(void)
{
	struct buf a = {0};
	struct seen s = {.stop_at_entry = 2};
	struct tarstream *t;
	char err[600];
	unsigned char h[512];

	sample_tar(&a, 0);
	t = tarstream_new(&seen_cb, &s);
	ok(tarstream_feed(t, a.data, a.len) < 0 && tarstream_error(t) == NULL,
	   "a callback's stop: -1 and no error of the reader's");
	ok(tarstream_feed(t, a.data, 1) < 0, "a dead stream stays dead");
	tarstream_free(t);
	free(s.log.data);
	free(a.data);
	memset(&a, 0, sizeof(a));

	/* base-256 size, as GNU tar writes sizes of 8 GB and more. */
	tar_add(&a, "b256", '0', "hello", 5, NULL, 1);
	memset(a.data + 124, 0, 12);
	a.data[124] = 0x80;
	a.data[135] = 5;
	memcpy(h, a.data, 512);
	checksum(h);
	memcpy(a.data, h, 512);
	tar_end(&a, 0);
	memset(&s, 0, sizeof(s));
	ok(read_tar(&a, 64, &s, err, sizeof(err)) == 0 && strstr((char *) s.log.data, "f b256 600 5"),
	   "a base-256 size: %s", err);
	free(s.log.data);
	free(a.data);
	memset(&a, 0, sizeof(a));

	/* GNU tar -C dir . writes "./" and "./x". */
	tar_add(&a, "./", '5', NULL, 0, NULL, 1);
	tar_add(&a, ".//x//y", '0', "z", 1, NULL, 1);
	tar_end(&a, 0);
	memset(&s, 0, sizeof(s));
	ok(read_tar(&a, 512, &s, err, sizeof(err)) == 0 && s.log.data &&
	   !strncmp((char *) s.log.data, "f x/y 600 1", 11), "\"./\" skipped, \".//x//y\" is \"x/y\"");
	free(s.log.data);
	free(a.data);
}

/* ---- backup_manifest ---- */

static void
hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* A manifest over the body lines, with its checksum line appended. */
static void
seal(struct buf *m, const char *body)
{
	unsigned char md[32];
	unsigned int l;
	char h[65], line[128];

	EVP_Digest(body, strlen(body), md, &l, EVP_sha256(), NULL);
	hex(md, 32, h);
	puts_buf(m, body);
	snprintf(line, sizeof(line), "\"Manifest-Checksum\": \"%s\"}\n", h);
	puts_buf(m, line);
}

static const char *file_a = "0123456789abcdef", *file_b = "PostgreSQL";

static void
manifest_body(struct buf *out, int version, const char *extra_file, int b_crc)
{
	char line[512], crc[9], sha[65];
	unsigned char c[4], md[32];
	uint32_t v = crc32c_update(0, file_a, strlen(file_a));
	unsigned int l;

	for (int i = 0; i < 4; i++)
		c[i] = (unsigned char) (v >> (8 * i));
	hex(c, 4, crc);
	EVP_Digest(file_b, strlen(file_b), md, &l, EVP_sha256(), NULL);
	hex(md, 32, sha);
	if (b_crc) {
		v = crc32c_update(0, file_b, strlen(file_b));
		for (int i = 0; i < 4; i++)
			c[i] = (unsigned char) (v >> (8 * i));
		hex(c, 4, sha);
	}
	snprintf(line, sizeof(line), "{ \"PostgreSQL-Backup-Manifest-Version\": %d,\n%s\"Files\": [\n",
		 version, version == 2 ? "\"System-Identifier\": 7300000000000000001,\n" : "");
	puts_buf(out, line);
	snprintf(line, sizeof(line),
		 "{ \"Path\": \"base/1/a\", \"Size\": 16, \"Last-Modified\": \"2026-12-01 10:00:00 GMT\", "
		 "\"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"%s\" },\n", crc);
	puts_buf(out, line);
	snprintf(line, sizeof(line),
		 "{ \"Encoded-Path\": \"%s\", \"Size\": 10, \"Last-Modified\": \"2026-12-01 10:00:00 GMT\", "
		 "\"Checksum-Algorithm\": \"%s\", \"Checksum\": \"%s\" },\n",
		 "70675f74626c7370632f31363338352f50475f31352f62", b_crc ? "CRC32C" : "sha256", sha);	/* pg_tblspc/16385/PG_15/b */
	puts_buf(out, line);
	puts_buf(out, "{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"2026-12-01 10:00:00 GMT\" }");
	if (extra_file)
		puts_buf(out, extra_file);
	puts_buf(out, " ],\n\"WAL-Ranges\": [\n"
		 "{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000138\" }\n],\n");
}

static struct pgmanifest *
manifest_in_pieces(const struct buf *m, size_t piece, char *err, size_t errsize)
{
	struct pgm_parser *p = pgm_parser_new();
	struct pgmanifest *r = NULL;
	int rc = 0;

	for (size_t off = 0; off < m->len && rc == 0; off += piece)
		rc = pgm_parser_feed(p, m->data + off, off + piece > m->len ? m->len - off : piece);
	if (rc == 0)
		r = pgm_parser_finish(p);
	snprintf(err, errsize, "%s", r ? "" : pgm_parser_error(p));
	pgm_parser_free(p);
	return r;
}

static void
test_manifest_parse(void)
{
	struct buf body = {0}, m = {0};
	struct pgmanifest *pm;
	const struct pgm_file *f;
	char err[512];

	manifest_body(&body, 1, NULL, 0);
	seal(&m, (char *) body.data);
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(pm != NULL, "a version 1 manifest parses: %s", err);
	if (!pm)
		return;
	ok(pm->version == 1 && !pm->has_system_identifier && pm->nfiles == 3 && pm->nwal_ranges == 1,
	   "version, files, WAL ranges");
	ok(pm->wal_ranges[0].tli == 1 && pm->wal_ranges[0].start_lsn == 0x2000028 &&
	   pm->wal_ranges[0].end_lsn == 0x2000138, "the WAL range");
	f = pgmanifest_find(pm, "pg_tblspc/16385/PG_15/b");
	ok(f && f->size == 10 && f->algorithm == PGM_SHA256 && f->checksum_len == 32,
	   "Encoded-Path decoded; sha256 (any case) is SHA256");
	f = pgmanifest_find(pm, "PG_VERSION");
	ok(f && f->algorithm == PGM_NONE && f->checksum_len == 0, "a file without a checksum");
	ok(!pgmanifest_find(pm, "base/1"), "no such file");
	pgmanifest_free(pm);
	for (size_t piece = 1; piece < 300; piece = piece * 4 + 1) {
		pm = manifest_in_pieces(&m, piece, err, sizeof(err));
		ok(pm && pm->nfiles == 3, "parsed in pieces of %zu: %s", piece, err);
		pgmanifest_free(pm);
	}
	free(m.data);
	memset(&m, 0, sizeof(m));
	free(body.data);
	memset(&body, 0, sizeof(body));

	manifest_body(&body, 2, NULL, 0);
	seal(&m, (char *) body.data);
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(pm && pm->version == 2 && pm->has_system_identifier &&
	   pm->system_identifier == 7300000000000000001ULL, "version 2 with System-Identifier: %s", err);
	pgmanifest_free(pm);

	/* Damage. */
	{
		char *at = strstr((char *) m.data, "base/1/a");

		at[7] = 'A';
		pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
		ok(!pm, "one changed byte is refused");
		is_str(err, "manifest checksum mismatch", "the checksum named");
		at[7] = 'a';
	}
	m.len--;
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(!pm && !strcmp(err, "last line not newline-terminated"), "no final newline: %s", err);
	m.len -= 5;
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(!pm && strstr(err, "ended unexpectedly"), "truncated: %s", err);
	free(m.data);
	memset(&m, 0, sizeof(m));
	free(body.data);
	memset(&body, 0, sizeof(body));

	{
		static const struct {
			const char *body, *err, *desc;
		} bad[] = {
			{"{ \"Files\": [],\n", "expected version indicator", "version not first"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 3,\n", "unexpected manifest version", "version 3"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"X\": 1,\n", "unrecognized top-level field \"X\"", "unknown field"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Size\": 1 } ],\n", "missing path name", "a file without a path"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\" } ],\n", "missing size", "a file without a size"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\", \"Encoded-Path\": \"61\", \"Size\": 1 } ],\n", "both path name", "Path and Encoded-Path"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\", \"Size\": 1, \"Checksum\": \"00\" } ],\n", "checksum without algorithm", "checksum without algorithm"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\", \"Size\": 1, \"Checksum-Algorithm\": \"MD5\", \"Checksum\": \"00\" } ],\n", "unrecognized checksum algorithm \"MD5\"", "unknown algorithm"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\", \"Size\": 1, \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"0011\" } ],\n", "CRC32C checksum of 2 bytes, expected 4", "short checksum"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\", \"Size\": -1 } ],\n", "not an integer", "negative size"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [ { \"Path\": \"a\", \"Size\": 1 }, { \"Path\": \"a\", \"Size\": 2 } ],\n", "duplicate path name \"a\"", "duplicate path"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"WAL-Ranges\": [ { \"Timeline\": 1, \"Start-LSN\": \"0/1\" } ],\n", "missing end LSN", "WAL range without end"},
			{"{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"WAL-Ranges\": [ { \"Timeline\": 1, \"Start-LSN\": \"x\", \"End-LSN\": \"0/1\" } ],\n", "could not parse start LSN", "bad LSN"},
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			seal(&m, bad[i].body);
			pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
			ok(!pm && strstr(err, bad[i].err), "%s: %s", bad[i].desc, err);
			pgmanifest_free(pm);
			free(m.data);
			memset(&m, 0, sizeof(m));
		}
	}
	puts_buf(&m, "{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Manifest-Checksum\": \"00\"}\n");
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(!pm && strstr(err, "at least 2 lines"), "one line: %s", err);
	free(m.data);
	memset(&m, 0, sizeof(m));
	seal(&m, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n");
	puts_buf(&m, "x");
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(!pm && strstr(err, "text after"), "text after the object: %s", err);
	free(m.data);

	ok(pgm_ignored("backup_manifest") && pgm_ignored("pg_wal") && pgm_ignored("pg_wal/x") &&
	   pgm_ignored("postgresql.auto.conf") && pgm_ignored("recovery.signal") &&
	   pgm_ignored("standby.signal"), "pg_verifybackup's ignore list");
	ok(!pgm_ignored("pg_wal2") && !pgm_ignored("base/pg_wal") && !pgm_ignored("postgresql.conf"),
	   "and only it");
}

/* Problems reported, as "path: problem" lines. */
static void
report(void *arg, const char *path, const char *problem)
{
	struct buf *b = arg;

	puts_buf(b, path);
	puts_buf(b, ": ");
	puts_buf(b, problem);
	puts_buf(b, "\n");
}

/* Run base and tablespace archives through a verifier. */
static long
verify(const struct pgmanifest *m, int recording, const struct buf *base, const struct buf *spc,
       struct buf *problems)
{
	struct pgm_verifier *v = pgm_verifier_new(recording ? NULL : m, PGM_CRC32C, report, problems);
	struct tar_callbacks cb;
	long n;

	pgm_verifier_tar_callbacks(&cb);
	for (int i = 0; i < 2; i++) {
		const struct buf *a = i ? spc : base;
		struct tarstream *t = tarstream_new(&cb, v);

		pgm_verifier_archive(v, i ? "pg_tblspc/16385" : "");
		for (size_t off = 0; off < a->len; off += 100)
			tarstream_feed(t, a->data + off, off + 100 > a->len ? a->len - off : 100);
		tarstream_finish(t);
		tarstream_free(t);
	}
	n = pgm_verifier_finish(v, m);
	pgm_verifier_free(v);
	return n;
}

static void
test_verifier(void)
{
	struct buf body = {0}, m = {0}, base = {0}, spc = {0}, problems = {0};
	struct pgmanifest *pm;
	char err[512];

	struct pgmanifest *pmc;
	const char *extra = ",\n{ \"Path\": \"postgresql.auto.conf\", \"Size\": 0 }\n";

	manifest_body(&body, 1, extra, 0);
	seal(&m, (char *) body.data);
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(pm != NULL, "the verifier's manifest: %s", err);
	free(m.data);
	free(body.data);
	memset(&m, 0, sizeof(m));
	memset(&body, 0, sizeof(body));
	/* All CRC32C, as BASE_BACKUP writes it, for recording mode. */
	manifest_body(&body, 1, extra, 1);
	seal(&m, (char *) body.data);
	pmc = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(pmc != NULL, "the all-CRC32C manifest: %s", err);
	if (!pm || !pmc)
		return;
	tar_add(&base, "PG_VERSION", '0', "15\n", 3, NULL, 0);
	tar_end(&base, 0);
	tar_add(&spc, "PG_15/b", '0', file_b, 10, NULL, 0);
	tar_end(&spc, 0);
	verify(pm, 1, &base, &spc, &problems);
	ok(problems.data && strstr((char *) problems.data,
				   "pg_tblspc/16385/PG_15/b: has a SHA256 checksum in the manifest, CRC32C was computed"),
	   "recording mode: another algorithm in the manifest is a problem");
	free(problems.data);
	free(base.data);
	free(spc.data);
	memset(&problems, 0, sizeof(problems));
	memset(&base, 0, sizeof(base));
	memset(&spc, 0, sizeof(spc));
	for (int recording = 0; recording < 2; recording++) {
		const char *mode = recording ? "recorded, manifest after" : "manifest first";

		tar_add(&base, "base/", '5', NULL, 0, NULL, 0);
		tar_add(&base, "base/1/a", '0', file_a, 16, NULL, 0);
		tar_add(&base, "PG_VERSION", '0', "15\n", 3, NULL, 0);
		tar_add(&base, "backup_manifest", '0', "x", 1, NULL, 0);
		tar_add(&base, "pg_wal/000000010000000000000001", '0', "w", 1, NULL, 0);
		tar_add(&base, "pg_tblspc/16385", '2', NULL, 0, "/srv/ts", 0);
		tar_end(&base, 0);
		tar_add(&spc, "PG_15/b", '0', file_b, 10, NULL, 0);
		tar_end(&spc, 0);
		is_int(verify(recording ? pmc : pm, recording, &base, &spc, &problems), 0, "%s: everything matches", mode);
		is_str(problems.len ? (char *) problems.data : "", "", "%s: no problem reported", mode);
		free(problems.data);
		memset(&problems, 0, sizeof(problems));

		base.data[512 + 512 + 5] ^= 1;	/* a byte of base/1/a */
		spc.data[0] = 'Q';		/* rename PG_15/b to QG_15/b */
		checksum(spc.data);
		is_int(verify(recording ? pmc : pm, recording, &base, &spc, &problems), 3, "%s: three problems", mode);
		is_str((char *) problems.data,
		       recording ? "base/1/a: has a checksum mismatch (CRC32C)\n"
				   "pg_tblspc/16385/QG_15/b: is in the backup but not in the manifest\n"
				   "pg_tblspc/16385/PG_15/b: is in the manifest but not in the backup\n"
				 : "base/1/a: has a checksum mismatch (CRC32C)\n"
				   "pg_tblspc/16385/QG_15/b: is in the backup but not in the manifest\n"
				   "pg_tblspc/16385/PG_15/b: is in the manifest but not in the backup\n",
		       "%s: each named", mode);
		free(problems.data);
		memset(&problems, 0, sizeof(problems));
		free(base.data);
		free(spc.data);
		memset(&base, 0, sizeof(base));
		memset(&spc, 0, sizeof(spc));

		tar_add(&base, "base/1/a", '0', file_a, 15, NULL, 0);
		tar_add(&base, "PG_VERSION", '0', "15\n", 3, NULL, 0);
		tar_add(&base, "PG_VERSION", '0', "15\n", 3, NULL, 0);
		tar_end(&base, 0);
		tar_add(&spc, "PG_15/b", '0', file_b, 10, NULL, 0);
		tar_end(&spc, 0);
		is_int(verify(recording ? pmc : pm, recording, &base, &spc, &problems), 2, "%s: size and duplicate", mode);
		is_str((char *) problems.data,
		       "base/1/a: has size 15 in the backup but size 16 in the manifest\n"
		       "PG_VERSION: is in the backup twice\n", "%s: size and duplicate named", mode);
		free(problems.data);
		memset(&problems, 0, sizeof(problems));
		free(base.data);
		free(spc.data);
		memset(&base, 0, sizeof(base));
		memset(&spc, 0, sizeof(spc));
	}
	pgmanifest_free(pm);
	pgmanifest_free(pmc);
	free(m.data);
	free(body.data);
}

/* SHA-224, SHA-384 and SHA-512 through the verifier (EVP). */
static void
test_verifier_sha(void)
{
	static const struct {
		const char *name;
		const EVP_MD *(*md)(void);
	} algs[] = {{"SHA224", EVP_sha224}, {"SHA384", EVP_sha384}, {"SHA512", EVP_sha512}};
	struct buf body = {0}, m = {0}, base = {0}, spc = {0}, problems = {0};
	struct pgmanifest *pm;
	char err[512], line[400], h[129];
	unsigned char md[64];
	unsigned int l;

	tar_end(&spc, 0);
	puts_buf(&body, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n");
	for (size_t i = 0; i < 3; i++) {
		EVP_Digest(file_b, strlen(file_b), md, &l, algs[i].md(), NULL);
		hex(md, l, h);
		snprintf(line, sizeof(line), "%s{ \"Path\": \"%s\", \"Size\": 10, \"Checksum-Algorithm\": \"%s\", "
			 "\"Checksum\": \"%s\" }\n", i ? "," : "", algs[i].name, algs[i].name, h);
		puts_buf(&body, line);
		tar_add(&base, algs[i].name, '0', file_b, 10, NULL, 0);
	}
	puts_buf(&body, "],\n");
	tar_end(&base, 0);
	seal(&m, (char *) body.data);
	pm = pgmanifest_parse(m.data, m.len, err, sizeof(err));
	ok(pm != NULL, "SHA-224/384/512 manifest: %s", err);
	if (pm) {
		is_int(verify(pm, 0, &base, &spc, &problems), 0, "SHA-224, SHA-384, SHA-512 files match");
		base.data[512 + 3] ^= 1;
		base.data[3 * 512 + 3] ^= 1;
		base.data[5 * 512 + 3] ^= 1;
		is_int(verify(pm, 0, &base, &spc, &problems), 3, "and each flipped byte is found");
		ok(problems.data && strstr((char *) problems.data, "SHA512: has a checksum mismatch (SHA512)"),
		   "named with its algorithm");
	}
	pgmanifest_free(pm);
	free(problems.data);
	free(base.data);
	free(spc.data);
	free(m.data);
	free(body.data);
}

static void
test_command(void)
{
	struct basebackup_options o = {.label = "pgp it's", .fast_checkpoint = 1};
	char cmd[1024];

	ok(basebackup_command(&o, 150000, cmd, sizeof(cmd)) == 0, "BASE_BACKUP for 15");
	is_str(cmd, "BASE_BACKUP (LABEL 'pgp it''s', CHECKPOINT 'fast', WAL false, WAIT true, "
		    "MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', TARGET 'client', PROGRESS false)",
	       "the 15 syntax, the label's quote doubled");
	o.tablespace_map = 1;
	o.max_rate_kb = 1024;
	o.fast_checkpoint = 0;
	ok(basebackup_command(&o, 140000, cmd, sizeof(cmd)) == 0, "BASE_BACKUP for 14");
	is_str(cmd, "BASE_BACKUP LABEL 'pgp it''s' MAX_RATE 1024 TABLESPACE_MAP MANIFEST 'yes' "
		    "MANIFEST_CHECKSUMS 'CRC32C'", "the old syntax");
	o.label = "two\nlines";
	ok(basebackup_command(&o, 150000, cmd, sizeof(cmd)) < 0, "a label with a newline refused");
	o.label = "x";
	o.manifest_checksums = "SHA256'";
	ok(basebackup_command(&o, 150000, cmd, sizeof(cmd)) < 0, "a quote in the algorithm refused");
}

int
main(void)
{
	test_lsn();
	test_segments();
	test_classify();
	test_history();
	test_crc32c();
	test_tar_good();
	test_tar_long_names();
	test_tar_bad();
	test_tar_misc();
	test_manifest_parse();
	test_verifier();
	test_verifier_sha();
	test_command();
	return done_testing();
}
