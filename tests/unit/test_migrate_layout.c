/*
 * pgp-migrate-check's layout and checksums: each tool's checksum against
 * vectors computed apart (Python's zlib.crc32 over lines and hashlib),
 * Prisma's line-ending and legacy-hex tolerance, version ordering and
 * duplicates as each tool sees them, detection of every fixture directory
 * of tests/integration/migrate, dbmate's sections, Drizzle's journal,
 * sqitch's plan with a reworked change, and bad input named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bin/migrate/checksum.h"
#include "../../bin/migrate/layout.h"
#include "../../bin/migrate/report.h"
#include "log.h"
#include "tap.h"

static char fixtures[4096];

static void
test_checksums(void)
{
	const char *v = "CREATE TABLE a (id bigint);\r\nCREATE INDEX ON a (id);\r\n";
	char *s;

	is_int(mc_cksum_flyway(v, strlen(v)), -512772976, "Flyway: the research note's vector");
	is_int(mc_cksum_flyway("CREATE TABLE a (id bigint);\nCREATE INDEX ON a (id);", 51),
	       -512772976, "Flyway: LF and no final newline give the same");
	is_int(mc_cksum_flyway("a\nb", 3), -1635563411, "Flyway: a\\nb (zlib.crc32 of 'ab')");
	is_int(mc_cksum_flyway("\xef\xbb\xbf" "ab", 5), -1635563411, "Flyway: a BOM is ignored");
	is_int(mc_cksum_flyway("a\rb\r", 4), -1635563411, "Flyway: a lone CR ends a line too");
	s = mc_checksum(MC_TOOL_FLYWAY, v, strlen(v));
	is_str(s, "-512772976", "Flyway's checksum as it stores it: a signed decimal");
	free(s);
	s = mc_sha256_hex("hello", 5);
	is_str(s, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "SHA-256 of hello");
	free(s);
	s = mc_sha1_hex("abc", 3);
	is_str(s, "a9993e364706816aba3e25717850c26c9cd0d89d", "SHA-1 of abc");
	free(s);
	s = mc_checksum(MC_TOOL_SQITCH, "x\r\n", 3);
	ok(!mc_checksum_matches(MC_TOOL_SQITCH, "x\n", 2, s), "sqitch: raw bytes, a CRLF change is a change");
	free(s);
	s = mc_checksum(MC_TOOL_DRIZZLE, "a\r\nb", 4);
	ok(mc_checksum_matches(MC_TOOL_DRIZZLE, "a\nb", 3, s), "Drizzle: CRLF -> LF before hashing");
	free(s);
	ok(mc_checksum(MC_TOOL_DBMATE, "x", 1) == NULL, "dbmate keeps no checksum");

	s = mc_sha256_hex("hello world\n", 12);
	ok(mc_checksum_matches(MC_TOOL_PRISMA, "hello world\n", 12, s), "Prisma: as-is");
	ok(mc_checksum_matches(MC_TOOL_PRISMA, "hello world\r\n", 13, s), "Prisma: CRLF file, LF checksum");
	free(s);
	s = mc_sha256_hex("a\r\nb", 4);
	ok(mc_checksum_matches(MC_TOOL_PRISMA, "a\nb", 3, s), "Prisma: LF file, CRLF checksum");
	free(s);
	ok(mc_checksum_matches(MC_TOOL_PRISMA, "hello world\n", 12,
			       "a948904f2ff479b8f8197694b30184bd2ed1c1cd2a1ec0fb85d299a192a447"),
	   "Prisma: legacy hex without zero padding (prisma-engines#1887)");
	s = mc_sha256_hex("abc", 3);
	ok(!mc_checksum_matches(MC_TOOL_PRISMA, "abc\n", 4, s), "Prisma: an added newline is a change");
	ok(!mc_checksum_matches(MC_TOOL_PRISMA, "abd", 3, s), "Prisma: an edited file is a change");
	free(s);
}

/* ---- scratch directories ---- */

static char tmp[256];

static void
put(const char *name, const char *text)
{
	char p[4096], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmp, name);
	for (slash = strchr(p + strlen(tmp) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void
fresh(void)
{
	char cmd[600];

	if (tmp[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmp);
	}
	snprintf(tmp, sizeof(tmp), "/tmp/pgp-layout.XXXXXX");
	if (!mkdtemp(tmp))
		perror("mkdtemp");
}

static int
has_finding(const struct mc_report *r, const char *kind, enum mc_severity sev)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->f[i].kind, kind) == 0 && r->f[i].severity == sev)
			return 1;
	return 0;
}

static int
count_kind(const struct mc_report *r, const char *kind)
{
	int n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += strcmp(r->f[i].kind, kind) == 0;
	return n;
}

static void
like_error(const char *want, const char *desc)
{
	const char *e = pgp_log_last_error();

	ok(strstr(e, want) != NULL, "%s: %s", desc, e);
}

static int
load(const char *dir, enum mc_tool tool, struct mc_set *set, struct mc_report *r)
{
	memset(r, 0, sizeof(*r));
	return mc_layout_load(dir, tool, set, r);
}

static void
done(struct mc_set *set, struct mc_report *r)
{
	mc_set_free(set);
	mc_report_free(r);
}

static void
fixture(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", fixtures, name);
}

/* ---- versions ---- */

static void
test_flyway(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096];

	fixture("flyway", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "flyway fixture loads");
	is_int(s.tool, MC_TOOL_FLYWAY, "detected as Flyway");
	is_str(s.table, "public.flyway_schema_history", "Flyway's table");
	is_int(s.n, 4, "three versioned and one repeatable");
	if (s.n == 4) {
		is_str(s.m[0].version, "1", "V1 first");
		is_str(s.m[1].version, "1.1", "V1_1 shown as 1.1, second");
		is_str(s.m[2].version, "2", "V2 third");
		ok(s.m[3].repeatable, "R__ last");
		is_str(s.m[1].name, "add email", "the description with spaces");
		is_str(s.m[0].checksum, "327137088", "V1's checksum (zlib.crc32 in Python)");
		is_str(s.m[1].checksum, "-596222700", "V1_1's checksum");
		is_str(s.m[3].checksum, "1307809385", "R__'s checksum");
		is_str(s.m[2].down.path, "U2__create_orders.sql", "U2 is V2's down");
		ok(s.m[0].down.path == NULL, "V1 has no undo");
		is_int(s.m[0].up.txn, MC_TXN_FILE, "Flyway: a transaction per file");
		ok(s.m[0].up.text && s.m[0].up.text_len > 10 && !s.m[0].up.psql, "the text is read, not psql");
	}
	is_int(r.n, 0, "no findings on the fixture");
	done(&s, &r);

	fresh();
	put("V1__a.sql", "SELECT 1;\n");
	put("V1.0__b.sql", "SELECT 2;\n");
	put("V1.10__c.sql", "SELECT 3;\n");
	put("V1.9__d.sql", "SELECT 4;\n");
	put("V005.1__e.sql", "SELECT 5;\n");
	put("V1_init.sql", "SELECT 6;\n");
	put("afterMigrate.sql", "ANALYZE;\n");
	put("release2/V2__f.sql", "SELECT 7;\n");
	put("V1.9__d.sql.conf", "# per-script configuration\nexecuteInTransaction=false\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "a Flyway directory with problems loads");
	ok(has_finding(&r, "duplicate-version", MC_SEV_FAIL), "V1 and V1.0: duplicate-version");
	ok(has_finding(&r, "style", MC_SEV_WARN), "V1_init.sql (one underscore): Flyway ignores it");
	is_int(count_kind(&r, "style"), 1, "afterMigrate.sql is a callback, not a misnamed migration");
	is_int(s.n, 6, "six versioned files, one in a subfolder (Flyway scans recursively)");
	if (s.n == 6) {
		is_str(s.m[4].up.path, "release2/V2__f.sql", "the subfolder's file, in version order");
		is_str(s.m[2].version, "1.9", "1.9 before 1.10");
		is_str(s.m[3].version, "1.10", "1.10 after 1.9 (numeric parts)");
		is_int(s.m[2].up.txn, MC_TXN_NONE, "V1.9__d.sql.conf: executeInTransaction=false");
		is_int(s.m[3].up.txn, MC_TXN_FILE, "the others: one transaction");
		is_str(s.m[5].version, "005.1", "005.1 is 5.1, last");
	}
	done(&s, &r);
}

static void
test_golang(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096];

	fixture("golang-migrate", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "golang-migrate fixture loads");
	is_int(s.tool, MC_TOOL_GOLANG_MIGRATE, "detected as golang-migrate");
	is_str(s.table, "public.schema_migrations", "its table");
	is_int(s.n, 3, "three versions");
	if (s.n == 3) {
		is_str(s.m[0].version, "1", "000001 is version 1");
		is_str(s.m[0].down.path, "000001_create_users.down.sql", "paired with its down");
		is_int(s.m[0].up.txn, MC_TXN_IMPLICIT, "one Exec: an implicit transaction");
		ok(s.m[2].down.path == NULL, "version 3 has no down");
	}
	ok(has_finding(&r, "roundtrip", MC_SEV_INFO), "an up without a down: no round trip (info)");
	done(&s, &r);

	fresh();
	put("0010_a.up.sql", "SELECT 1;\n");
	put("10_b.up.sql", "SELECT 2;\n");
	put("9_c.up.sql", "SELECT 3;\n");
	put("9_c.down.sql", "SELECT 3;\n");
	put("11_d.down.sql", "SELECT 4;\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "golang-migrate with problems loads");
	ok(has_finding(&r, "duplicate-version", MC_SEV_FAIL), "0010 and 10 are one version");
	ok(has_finding(&r, "order", MC_SEV_WARN), "a down without an up");
	ok(s.n >= 2 && strcmp(s.m[0].version, "9") == 0, "9 sorts before 10 (numeric)");
	done(&s, &r);
}

static void
test_dbmate(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096];

	fixture("dbmate", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "dbmate project root loads");
	is_int(s.tool, MC_TOOL_DBMATE, "detected as dbmate (db/migrations)");
	is_int(s.n, 2, "two files");
	if (s.n == 2) {
		const struct mc_migration *m = &s.m[1];

		is_str(m->up.path, "db/migrations/20240102000000_index_users.sql", "paths are relative to the directory given");
		is_str(m->version, "20240102000000", "the version is the leading digits");
		is_int(m->up.first_line, 3, "up starts on the line after its directive");
		is_int(m->down.first_line, 6, "down starts after its directive");
		is_int(m->up.txn, MC_TXN_IMPLICIT, "transaction:false: one Exec, implicit transaction");
		is_int(s.m[0].up.txn, MC_TXN_FILE, "the default: dbmate's transaction");
		ok(m->up.text && strncmp(m->up.text, "CREATE INDEX CONCURRENTLY", 25) == 0, "up's text");
		ok(m->up.text && !strstr(m->up.text, "DROP"), "up stops at migrate:down");
		ok(m->down.text && strstr(m->down.text, "DROP INDEX CONCURRENTLY"), "down's text");
		is_str(m->up.path, m->down.path, "both sections are one file");
	}
	is_int(r.n, 0, "no findings");
	done(&s, &r);

	fresh();
	put("9_a.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n");
	put("10_b.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n");
	put("11_c.sql", "SELECT 0;\n-- migrate:up\nSELECT 1;\n-- migrate:down\n");
	put("12_d.sql", "-- migrate:up\nSELECT 1;\n");
	is_int(load(tmp, MC_TOOL_DBMATE, &s, &r), 0, "dbmate with problems loads");
	ok(s.n == 4 && strcmp(s.m[0].version, "10") == 0, "lexicographic: 10_b.sql before 9_a.sql");
	ok(has_finding(&r, "order", MC_SEV_WARN), "and that order is said");
	ok(has_finding(&r, "parse", MC_SEV_FAIL), "a statement before migrate:up / no migrate:down");
	done(&s, &r);
}

static void
test_drizzle(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096];

	fixture("drizzle", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "drizzle project root loads");
	is_int(s.tool, MC_TOOL_DRIZZLE, "detected as Drizzle (drizzle/meta/_journal.json)");
	is_str(s.table, "drizzle.__drizzle_migrations", "its table");
	is_int(s.n, 2, "two journal entries");
	if (s.n == 2) {
		is_str(s.m[1].version, "0001_add_email", "the tag");
		is_int(s.m[1].order_key, 1704189600000LL, "order_key is the journal's when");
		is_int(s.m[1].up.txn, MC_TXN_RUN, "one transaction for the run");
		is_str(s.m[1].checksum, "4cd23750563ddcf6a191c138c5e73a05507a5052edd79f0d7a622b9ddd2449b9",
		       "sha256 as hashlib computes it");
		is_str(s.m[0].up.path, "drizzle/0000_init_users.sql", "the file beside meta/");
	}
	done(&s, &r);

	fresh();
	put("meta/_journal.json", "{\"entries\": [ {\"idx\": 0, \"tag\": ");
	put("0000_x.sql", "SELECT 1;\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 2, "a journal that is not JSON: 2");
	like_error("meta/_journal.json", "the error names the journal");
	done(&s, &r);

	fresh();
	put("meta/_journal.json", "{\"entries\": [ {\"idx\": 0, \"when\": 2, \"tag\": \"0000_x\"},"
	    " {\"idx\": 1, \"when\": 1, \"tag\": \"0001_y\"} ]}");
	put("0000_x.sql", "SELECT 1;\n");
	put("0001_y.sql", "SELECT 2;\n");
	put("0002_z.sql", "SELECT 3;\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "a journal out of order loads");
	ok(has_finding(&r, "order", MC_SEV_WARN), "when going backwards, and a file not in the journal");
	done(&s, &r);
}

static void
test_sqitch(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096];

	fixture("sqitch", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "sqitch fixture loads");
	is_int(s.tool, MC_TOOL_SQITCH, "detected by sqitch.plan");
	is_str(s.table, "sqitch.changes", "its registry");
	is_int(s.n, 3, "three changes in plan order, one of them reworked");
	if (s.n == 3) {
		is_str(s.m[1].version, "email@v1.0", "the reworked change's first version");
		is_str(s.m[1].up.path, "deploy/email@v1.0.sql", "its deploy script carries the tag");
		is_str(s.m[1].down.path, "revert/email@v1.0.sql", "and so does its revert");
		is_str(s.m[2].version, "email", "the rework itself");
		is_str(s.m[2].up.path, "deploy/email.sql", "uses deploy/email.sql");
		is_str(s.m[0].checksum, "8b84ff6ae66f691a2cd271f8b62dc18fe9ca0144", "script_hash: sha1 of the bytes");
		is_str(s.m[1].checksum, "567cce6e2742dbdcaf4c23657fe563b3caf97933", "of the reworked one too");
		ok(s.m[0].up.psql && s.m[0].up.txn == MC_TXN_NONE, "psql, the script's own BEGIN/COMMIT");
	}
	done(&s, &r);

	fresh();
	put("sqitch.plan", "%project=x\n\nusers 2024-01-01T10:00:00Z A <a@b>\n# a comment\n"
	    "broken line without a date\n");
	put("deploy/users.sql", "SELECT 1;\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 2, "a plan line that does not parse: 2");
	like_error("sqitch.plan:5:", "named as file:line");
	done(&s, &r);

	fresh();
	put("sqitch.plan", "%project=x\nusers 2024-01-01T10:00:00Z A <a@b>\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 2, "a change without its deploy script: 2");
	like_error("deploy/users.sql", "naming the script");
	done(&s, &r);
}

static void
test_others(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096];

	fixture("prisma", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "prisma project root loads");
	is_int(s.tool, MC_TOOL_PRISMA, "detected by prisma/migrations");
	is_str(s.table, "public._prisma_migrations", "its table");
	ok(s.n == 2 && strcmp(s.m[0].version, "20240101000000_init") == 0, "by directory name");
	if (s.n == 2) {
		is_str(s.m[0].checksum, "23fa12323005545204f32b2aa91e856f4596b3fc8b54895de103de713b6aa0d7",
		       "sha256 of migration.sql");
		is_str(s.m[0].up.path, "prisma/migrations/20240101000000_init/migration.sql", "its path");
		is_int(s.m[0].up.txn, MC_TXN_IMPLICIT, "one simple query");
	}
	done(&s, &r);

	fixture("knex", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "knex project root loads");
	is_int(s.tool, MC_TOOL_KNEX, "detected by knexfile.js and migrations/*.js");
	ok(!s.sql_known && s.n == 2, "code migrations: bookkeeping only");
	if (s.n == 2) {
		is_str(s.m[0].version, "20240101000000_create_users.js", "the name knex records");
		ok(s.m[0].up.path && s.m[0].up.text == NULL, "the file, no text");
	}
	is_str(s.table, "public.knex_migrations", "its table");
	done(&s, &r);

	fixture("alembic", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "alembic project loads");
	is_int(s.tool, MC_TOOL_ALEMBIC, "detected by alembic.ini");
	ok(s.n == 2 && strcmp(s.m[0].version, "1a2b3c4d5e6f") == 0, "the base revision first, though its file sorts last");
	ok(s.n == 2 && strcmp(s.m[1].up.path, "alembic/versions/0f9e8d7c6b5a_add_email.py") == 0,
	   "under script_location/versions");
	is_str(s.table, "public.alembic_version", "its table");
	done(&s, &r);

	fresh();
	put("versions/a1_base.py", "revision = 'a1'\ndown_revision = None\n");
	put("versions/b2_left.py", "revision = \"b2\"\ndown_revision = 'a1'\n");
	put("versions/c3_right.py", "revision = 'c3'\ndown_revision = 'a1'\n");
	put("versions/d4_merge.py", "revision = 'd4'\ndown_revision = ('b2', 'c3')\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "an Alembic graph with a merge loads");
	ok(s.n == 4 && strcmp(s.m[3].version, "d4") == 0, "the merge revision after both its parents");
	is_int(r.n, 0, "one head: no finding");
	done(&s, &r);
	fresh();
	put("versions/a1_base.py", "revision = 'a1'\ndown_revision = None\n");
	put("versions/b2_left.py", "revision = 'b2'\ndown_revision = 'a1'\n");
	put("versions/c3_right.py", "revision = 'c3'\ndown_revision = 'a1'\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "two heads load");
	ok(has_finding(&r, "order", MC_SEV_WARN), "two heads: alembic upgrade head stops");
	done(&s, &r);

	fixture("rails", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "rails app root loads");
	is_int(s.tool, MC_TOOL_RAILS, "detected by db/migrate/*.rb");
	ok(s.n == 2 && strcmp(s.m[1].version, "20240102000000") == 0, "numeric versions");
	done(&s, &r);

	fresh();
	put("db/migrate/20240101000000_a.rb", "");
	put("db/migrate/20240101000000_b.rb", "");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "rails with a duplicate loads");
	ok(has_finding(&r, "duplicate-version", MC_SEV_FAIL), "Rails' DuplicateMigrationVersionError");
	done(&s, &r);

	fixture("plain", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "plain SQL loads");
	is_int(s.tool, MC_TOOL_PLAIN, "plain: none of the tools' layouts");
	ok(s.table == NULL, "no bookkeeping table");
	is_int(s.n, 3, "three files, the down file paired");
	if (s.n == 3) {
		is_str(s.m[0].down.path, "001_users.down.sql", "001_users.down.sql is 001_users.sql's down");
		ok(s.m[0].up.psql && s.m[0].up.txn == MC_TXN_NONE, "psql, autocommit");
	}
	done(&s, &r);

	fresh();
	put("2_a.sql", "SELECT 1;\n");
	put("10_b.sql", "SELECT 2;\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 0, "plain with unpadded numbers loads");
	ok(s.n == 2 && strcmp(s.m[0].up.path, "10_b.sql") == 0, "byte order: 10_b.sql first");
	ok(has_finding(&r, "order", MC_SEV_WARN), "and the surprise is said");
	done(&s, &r);
}

static void
test_detection(void)
{
	struct mc_set s;
	struct mc_report r;
	char d[4096], link[4200];

	fixture("dbmate/db/migrations", d, sizeof(d));
	is_int(load(d, MC_TOOL_UNKNOWN, &s, &r), 0, "the migrations folder itself");
	ok(s.tool == MC_TOOL_DBMATE && s.n == 2 && strcmp(s.m[0].up.path, "20240101000000_create_users.sql") == 0,
	   "dbmate, paths relative to it");
	done(&s, &r);

	fixture("golang-migrate", d, sizeof(d));
	is_int(load(d, MC_TOOL_PLAIN, &s, &r), 0, "--tool plain overrides detection");
	ok(s.tool == MC_TOOL_PLAIN && s.n == 3, "every .sql file but the .down.sql ones a plain migration");
	ok(has_finding(&r, "order", MC_SEV_WARN), "NAME.down.sql without NAME.sql: a down without an up");
	done(&s, &r);

	fresh();
	put("V1__a.sql", "SELECT 1;\n");
	put("1_a.up.sql", "SELECT 1;\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 2, "two tools' files: 2");
	like_error("flyway", "naming one candidate");
	like_error("golang-migrate", "and the other");
	done(&s, &r);

	fresh();
	put("README.md", "nothing here\n");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 2, "no migrations: 2");
	like_error("not a migrations directory", "said so");
	done(&s, &r);

	fresh();
	put("V1__a.sql", "SELECT 1;\n");
	snprintf(link, sizeof(link), "%s/V2__gone.sql", tmp);
	if (symlink("/nonexistent/file.sql", link) != 0)
		perror("symlink");
	is_int(load(tmp, MC_TOOL_UNKNOWN, &s, &r), 2, "an unreadable file: 2");
	like_error("V2__gone.sql", "naming the file");
	done(&s, &r);

	is_str(mc_tool_name(MC_TOOL_GOLANG_MIGRATE), "golang-migrate", "tool names");
	is_int(mc_tool_from_name("sqitch"), MC_TOOL_SQITCH, "and back");
	is_int(mc_tool_from_name("liquibase"), MC_TOOL_UNKNOWN, "an unknown name");
	ok(mc_tool_name(MC_TOOL_UNKNOWN) == NULL, "no name for UNKNOWN");
}

int
main(int argc, char **argv)
{
	const char *src = getenv("PGP_SRC");
	char cmd[600];

	(void) argc;
	pgp_log_init(argv[0]);
	pgp_log_set_verbosity(-1);
	snprintf(fixtures, sizeof(fixtures), "%s/tests/integration/migrate", src ? src : ".");
	test_checksums();
	test_flyway();
	test_golang();
	test_dbmate();
	test_drizzle();
	test_sqitch();
	test_others();
	test_detection();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (tmp[0] && system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	return done_testing();
}
