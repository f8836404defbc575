/*
 * AFL++ harness for pgp-migrate-check's split and parse
 * (bin/migrate/sqlparse.c): the psql pre-pass (meta-command lines,
 * :variables replaced by same-length placeholders) and the cutting out of
 * statements the parser rejects are ours, over untrusted files.  Each
 * input is parsed as a plain script and as a psql script, twice each, and
 * checked: statements in file order, inside the text, each line the line
 * of its offset, a meta-command starting with a backslash and nothing
 * else without SQL, the same result the second time.  A violation aborts,
 * so AFL records a crash.
 *
 * With file arguments it parses each once and prints "OK" and the count
 * (replay mode); without, it runs AFL's persistent loop.
 */
#include "afl_compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bin/migrate/sqlparse.h"

__AFL_FUZZ_INIT();

static void
violated(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_sqlparse: invariant violated: %s (statement %zu)\n", what, i);
	abort();
}

static void
check(const struct mc_script *s)
{
	size_t prev_end = 0, prev_start = 0;

	for (size_t i = 0; i < s->nstmts; i++) {
		const struct mc_stmt *st = &s->stmts[i];

		if (st->offset + st->len > s->text_len)
			violated("a statement past the end of the text", i);
		if (i > 0 && st->offset < prev_start)
			violated("statements out of order", i);
		/* a meta-command line may sit inside a statement (psql runs it on its own); SQL may not overlap SQL */
		if (st->sql && i > 0 && st->offset < prev_end)
			violated("statements overlap", i);
		prev_start = st->offset;
		if (st->line != mc_script_line(s, st->offset))
			violated("a statement's line is not the line of its offset", i);
		if (!st->meta == !st->sql)
			violated("a statement must be SQL or a meta-command, not both or neither", i);
		if (st->meta && s->text[st->offset] != '\\')
			violated("a meta-command that does not start with a backslash", i);
		if (st->meta && !s->psql)
			violated("a meta-command in a script that is not psql's", i);
		if (st->sql && st->len == 0)
			violated("an empty statement", i);
		if (st->tree && !*mc_node_type(st->tree))
			violated("a tree without a node type", i);
		if (st->sql)
			prev_end = st->offset + st->len;
	}
	if (s->parse_error && (s->parse_error_line < s->first_line ||
			       s->parse_error_line > mc_script_line(s, s->text_len)))
		violated("a parse error outside the script's lines", 0);
}

static size_t
parse_one(const unsigned char *buf, size_t len, int psql)
{
	struct mc_script a = {0}, b = {0};
	size_t n;

	a.path = b.path = "fuzz.sql";
	a.text = b.text = (char *)buf;
	a.text_len = b.text_len = len;
	a.first_line = b.first_line = 3;
	a.psql = b.psql = psql;
	if (mc_script_parse(&a) != 0 || mc_script_parse(&b) != 0)
		violated("out of memory", 0);
	check(&a);
	if (a.nstmts != b.nstmts || !a.parse_error != !b.parse_error)
		violated("a second parse of the same text differs", 0);
	for (size_t i = 0; i < a.nstmts; i++)
		if (a.stmts[i].offset != b.stmts[i].offset || (a.stmts[i].sql && strcmp(a.stmts[i].sql, b.stmts[i].sql)))
			violated("a second parse of the same text differs", i);
	n = a.nstmts;
	mc_script_free(&a);
	mc_script_free(&b);
	return n;
}

static int
replay(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static unsigned char buf[1 << 20];
		size_t len;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		printf("%s: OK, %zu statements (plain), %zu (psql)\n", argv[i], parse_one(buf, len, 0),
		       parse_one(buf, len, 1));
	}
	mc_sqlparse_exit();
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned char *buf;

	if (argc > 1)
		return replay(argc, argv);
	__AFL_INIT();
	buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(10000)) {
		size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
		/* the parser reads a C string: a NUL ends the input */
		char *copy = strndup((const char *)buf, len);

		if (!copy)
			abort();
		(void)parse_one((unsigned char *)copy, strlen(copy), 0);
		(void)parse_one((unsigned char *)copy, strlen(copy), 1);
		free(copy);
	}
	return 0;
}
