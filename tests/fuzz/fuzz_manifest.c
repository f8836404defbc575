/*
 * AFL++ harness for the backup manifest parser (bin/backup/manifest.c).
 * The input is the bytes of a manifest.json, parsed as the manifest of
 * backup 20260101T000000Z of database "shop".  A manifest the parser
 * accepts must hold everything its readers rely on; when it does not, the
 * harness aborts so that AFL records a crash.
 *
 * With file arguments it parses each once and prints "OK" or the reason
 * (replay mode); without, it runs AFL's persistent loop.  The input is
 * copied into a buffer of exactly len bytes plus a NUL, as the one caller
 * (repo_read_all) passes it, so ASan sees any read past len + 1;
 * PGP_FUZZ_EXACT=1 drops the NUL, to test the bare (text, len) contract.
 */
#include "afl_compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

#define DATABASE "shop"
#define BACKUP_ID "20260101T000000Z"

__AFL_FUZZ_INIT();

static void
violated(const char *what)
{
	fprintf(stderr, "fuzz_manifest: invariant violated: %s\n", what);
	abort();
}

static int
lower_hex64(const char *s)
{
	size_t n = strnlen(s, 65);

	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A field of a fixed array: terminated inside it, no line break. */
static int
clean_field(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	return n < size && !memchr(s, '\n', n) && !memchr(s, '\r', n);
}

/* What every reader of an accepted manifest relies on. */
static void
check_invariants(const struct manifest *m)
{
	static const char *const allowed[] = {"dump.pgdump.zst", "globals.sql.zst", "dump.pgdump.gz",
					      "globals.sql.gz", "dump.pgdump", "globals.sql"};
	int have_dump = 0;

	if (m->nobjects < 1 || m->nobjects > MANIFEST_MAX_OBJECTS)
		violated("nobjects out of range");
	for (size_t i = 0; i < m->nobjects; i++) {
		const struct manifest_object *o = &m->objects[i];
		int ok = 0;

		if (!o->what || !o->what->name)
			violated("object without a name");
		for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
			ok |= strcmp(o->what->name, allowed[k]) == 0;
		if (!ok)
			violated("object name not allowed");
		if (manifest_object_name(o->what->name) != o->what)
			violated("object entry not from the name table");
		/* A reader decompresses by the manifest's word: the name must agree. */
		if (strcmp(o->what->compression, m->compression) != 0 ||
		    manifest_object_for(o->what->kind, m->compression) != o->what)
			violated("object name does not match the compression");
		if (!lower_hex64(o->sha256))
			violated("sha256 is not 64 lowercase hex digits");
		for (size_t k = 0; k < i; k++)
			if (m->objects[k].what == o->what)
				violated("object listed twice");
		have_dump |= o->what->kind == OBJECT_DUMP;
	}
	if (!have_dump || !manifest_find(m, OBJECT_DUMP))
		violated("no dump object");
	if (m->ntables && !m->tables)
		violated("ntables > 0 but tables is NULL");
	for (size_t i = 0; i < m->ntables; i++) {
		const struct manifest_table *t = &m->tables[i];

		if (!t->schema || !t->table)
			violated("table entry with a NULL schema or table");
		/* Names may hold line breaks (PostgreSQL allows them); they are
		 * only ever quoted with %I, never used as paths or lines. */
		if (t->rows < 0)
			violated("negative row count");
	}
	if (!clean_field(m->id, sizeof(m->id)) || strcmp(m->id, BACKUP_ID) != 0)
		violated("id differs from the one given");
	if (!clean_field(m->database, sizeof(m->database)) || strcmp(m->database, DATABASE) != 0)
		violated("database differs from the one given");
	if (!clean_field(m->server_version, sizeof(m->server_version)) ||
	    !clean_field(m->role, sizeof(m->role)) || !clean_field(m->compression, sizeof(m->compression)))
		violated("header string unterminated or with a line break");
	if (m->status != MANIFEST_OK && m->status != MANIFEST_FAILED)
		violated("status out of range");
}

/* Parse one input; 0 when accepted (invariants checked), -1 with why. */
static int
parse_one(const unsigned char *data, size_t len, int exact, char *why, size_t whysize)
{
	char *text = malloc(len + 1);
	struct manifest m;
	int rc;

	if (!text) {
		snprintf(why, whysize, "harness: out of memory");
		return -1;
	}
	if (len)
		memcpy(text, data, len);
	if (!exact)
		text[len] = '\0';
	else if (len) {
		/* Same bytes in a buffer of exactly len, for ASan. */
		char *tight = realloc(text, len);

		if (tight)
			text = tight;
	}
	why[0] = '\0';
	rc = manifest_parse(text, len, DATABASE, BACKUP_ID, &m, why, whysize);
	if (rc == 0) {
		check_invariants(&m);
		manifest_clear(&m);
	} else if (rc != -1)
		violated("manifest_parse returned neither 0 nor -1");
	else if (m.tables || m.ntables)
		violated("a failed parse left tables allocated");
	free(text);
	return rc;
}

static int
replay(int argc, char **argv, int exact)
{
	int failures = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf = NULL;
		size_t len = 0, cap = 0, n;
		char why[512];

		if (!f) {
			perror(argv[i]);
			failures++;
			continue;
		}
		do {
			if (len == cap) {
				unsigned char *bigger = realloc(buf, cap = cap ? cap * 2 : 65536);

				if (!bigger) {
					fprintf(stderr, "%s: out of memory\n", argv[i]);
					exit(2);
				}
				buf = bigger;
			}
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		if (parse_one(buf, len, exact, why, sizeof(why)) == 0)
			printf("%s: OK\n", argv[i]);
		else {
			printf("%s: unreadable: %s\n", argv[i], why);
			failures++;
		}
		free(buf);
	}
	return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	const char *e = getenv("PGP_FUZZ_EXACT");
	int exact = e && *e == '1';
	unsigned char *buf;

	if (argc > 1)
		return replay(argc, argv, exact);

	__AFL_INIT();
	buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(10000)) {
		char why[512];
		size_t len = (size_t) __AFL_FUZZ_TESTCASE_LEN;

		(void) parse_one(buf, len, exact, why, sizeof(why));
	}
	return 0;
}
