/*
 * pgp-migrate-check's split and parse: PostgreSQL's parser cuts what a
 * regex would get wrong (dollar quotes, nested comments, E'' strings),
 * every statement knows its file line (leading comments skipped, a
 * script that starts at a later line of its file), psql meta-commands and
 * variables are handled without moving a byte, and a statement the 15
 * grammar cannot read costs only its own tree.
 */
#include <stdlib.h>
#include <string.h>

#include "../../bin/migrate/report.h"
#include "../../bin/migrate/sqlparse.h"
#include "tap.h"

static struct mc_script s;

static void
parse(const char *text, int psql, int first_line)
{
	mc_script_free(&s);
	free(s.text);
	memset(&s, 0, sizeof(s));
	s.path = "f.sql";
	s.text = strdup(text);
	s.text_len = strlen(text);
	s.psql = psql;
	s.first_line = first_line;
	if (mc_script_parse(&s) != 0) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
}

static void
test_split(void)
{
	parse("-- a comment; with a semicolon\n"
	      "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$\n"
	      "BEGIN RETURN 1; END;\n"
	      "$body$;\n"
	      "/* nested /* comment; */ still; */ SELECT E'it\\'s; fine';\n"
	      "\n"
	      "  ALTER TABLE t ADD COLUMN c int  ;\n"
	      "SELECT 'a;b' AS \"x;y\"", 0, 1);
	is_int(s.nstmts, 4, "four statements, whatever the semicolons inside");
	is_int(s.stmts[0].line, 2, "the function starts on line 2, past its leading comment");
	is_str(mc_node_type(s.stmts[0].tree), "CreateFunctionStmt", "a CreateFunctionStmt tree");
	is_int(s.stmts[1].line, 5, "the SELECT after a nested comment is on line 5");
	is_str(s.stmts[1].sql, "SELECT E'it\\'s; fine'", "its text starts at its first token");
	is_int(s.stmts[2].line, 7, "the ALTER TABLE on line 7");
	is_str(s.stmts[2].sql, "ALTER TABLE t ADD COLUMN c int", "no trailing blanks, no ';'");
	is_str(mc_jstr(mc_jget(mc_node_body(s.stmts[2].tree), "relation", NULL), "relname"), "t",
	       "the tree names the table");
	is_str(s.stmts[3].sql, "SELECT 'a;b' AS \"x;y\"", "a last statement without ';'");
	ok(s.parse_error == NULL, "no parse error");
}

static void
test_lines(void)
{
	parse("\n\nCREATE INDEX i ON t (a);\n", 0, 10);
	is_int(s.stmts[0].line, 12, "a section that starts on line 10 of its file");
	parse("SELECT 1;\nSELEC 2;\nSELECT 3;\n", 0, 1);
	is_str(s.parse_error, "syntax error at or near \"SELEC\"", "the parser's message");
	is_int(s.parse_error_line, 2, "on the line of the bad statement");
	is_int(s.nstmts, 3, "the other statements are still there");
	ok(s.stmts[0].tree && !s.stmts[1].tree && s.stmts[2].tree, "only the bad one has no tree");
	is_str(s.stmts[1].sql, "SELEC 2", "the bad one keeps its text, for the trace");
	parse("SELECT 1;\nMERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE RETURNING *;\n", 0, 1);
	ok(s.parse_error && s.parse_error_line == 2, "PG 17's MERGE ... RETURNING is not 15's grammar: line 2");
	parse("SELECT 'héllo', é FROM t WHERE;\n", 0, 1);
	ok(s.parse_error && s.parse_error_line == 1, "an error after multibyte characters: %s",
	   s.parse_error ? s.parse_error : "none");
	parse("SELECT $$never closed;\nSELECT 2;\n", 0, 1);
	ok(s.parse_error && s.parse_error_line == 1, "an unterminated dollar quote is an error on line 1");
	parse("-- only a comment\n/* and another */\n", 0, 1);
	is_int(s.nstmts, 0, "comments alone are no statement");
	ok(s.parse_error == NULL, "and no error");
}

static void
test_psql(void)
{
	parse("\\set ON_ERROR_STOP on\n"
	      "\\set owner 'app_owner'\n"
	      "\\set tbl accounts\n"
	      "ALTER TABLE :\"tbl\" OWNER TO :\"owner\";\n"
	      "COMMENT ON TABLE :tbl IS :'owner';\n"
	      "SELECT '\\not a meta', $$\n\\neither$$, 1::int, a[1:2] FROM :tbl;\n",
	      1, 1);
	ok(s.parse_error == NULL, "a psql script parses: %s", s.parse_error ? s.parse_error : "");
	is_int(s.nstmts, 6, "three meta-commands and three statements");
	is_str(s.stmts[0].meta, "\\set ON_ERROR_STOP on", "a meta-command is kept as such");
	ok(s.stmts[0].sql == NULL && s.stmts[0].tree == NULL, "with no SQL");
	is_str(s.stmts[3].sql, "ALTER TABLE \"accounts\" OWNER TO \"app_owner\"", ":\"var\" is an identifier");
	is_int(s.stmts[3].line, 4, "on line 4");
	is_str(s.stmts[4].sql, "COMMENT ON TABLE accounts IS 'app_owner'", ":var and :'var'");
	is_str(mc_jstr(mc_jget(mc_node_body(s.stmts[3].tree), "relation", NULL), "relname"), "xxxx",
	       "the parser read a same-length placeholder");
	ok(strstr(s.stmts[5].sql, "1::int") && strstr(s.stmts[5].sql, "a[1:2]") &&
	   strstr(s.stmts[5].sql, "'\\not a meta'"), "casts, slices and backslashes in strings are left alone");
	is_int(s.stmts[5].line, 6, "the last statement on line 6");
	parse("SELECT\n\\echo between\n1;\n\\set v 2\nSELECT :v;\n\\set v 3\nSELECT :v;\n", 1, 1);
	is_int(s.nstmts, 6, "three statements and three meta-commands, one inside a statement");
	is_str(s.stmts[0].sql, "SELECT\n\n1", "and not part of the statement's SQL, as psql runs it");
	is_str(s.stmts[1].meta, "\\echo between", "the meta-command after the statement that holds it");
	is_str(s.stmts[3].sql, "SELECT 2", "a variable has the value \\set before the statement");
	is_str(s.stmts[5].sql, "SELECT 3", "and the later value after a later \\set");
	parse("\\set x 1\nSELECT :undefined;\n", 1, 1);
	ok(s.parse_error != NULL, "an undefined variable stays as psql leaves it, and does not parse");
	parse("SELECT 1;\n\\i other.sql\n", 0, 1);
	ok(s.parse_error != NULL, "not a psql script: a backslash line is an error");
}

/* A seed file: thousands of INSERTs share one small tree per table. */
static void
test_seed(void)
{
	size_t cap = 2000 * 64 + 256, n = 0;
	char *text = malloc(cap), deep[4096];
	int shared = 1, values = 0;

	for (int i = 0; i < 1500; i++)
		n += (size_t)snprintf(text + n, cap - n, "INSERT INTO seed (id, name) VALUES (%d, 'n%d');\n", i, i);
	n += (size_t)snprintf(text + n, cap - n, "INSERT INTO other (id) VALUES (1);\n");
	parse(text, 0, 1);
	is_int(s.nstmts, 1501, "1501 statements");
	for (size_t i = 1; i < 1500; i++)
		shared &= s.stmts[i].tree == s.stmts[0].tree;
	ok(shared, "the INSERTs into one table share one tree");
	ok(s.stmts[1500].tree && s.stmts[1500].tree != s.stmts[0].tree, "another table has its own");
	is_str(mc_jstr(mc_jget(mc_node_body(s.stmts[0].tree), "relation", NULL), "relname"), "seed", "naming its table");
	ok(!mc_jget(mc_node_body(s.stmts[0].tree), "selectStmt", NULL), "without the rows");
	is_int(s.stmts[1499].line, 1500, "each statement keeps its own line");
	is_str(s.stmts[1499].sql, "INSERT INTO seed (id, name) VALUES (1499, 'n1499')", "and its own text");
	n = (size_t)snprintf(text, cap, "ALTER TYPE mood ADD VALUE 'meh';\n");
	for (int i = 0; i < 1500; i++)
		n += (size_t)snprintf(text + n, cap - n, "INSERT INTO log (msg) VALUES ('m%d');\n", i);
	parse(text, 0, 1);
	for (size_t i = 1; i < s.nstmts; i++)
		values += mc_jget(mc_node_body(s.stmts[i].tree), "selectStmt", NULL) != NULL;
	is_int(values, 1500, "after a new enum value the rows stay: a use of it is a finding");
	free(text);
	n = (size_t)snprintf(deep, sizeof(deep), "SELECT ");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "(");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "1");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, " + 1)");
	parse(deep, 0, 1);
	ok(s.nstmts == 1 && s.stmts[0].tree && !s.parse_error, "an expression 200 levels deep has its tree");
}

static void
test_readers(void)
{
	char buf[64];

	parse("ALTER TABLE s.t ADD COLUMN c int", 0, 1);
	is_str(mc_rangevar_name(mc_jget(mc_node_body(s.stmts[0].tree), "relation", NULL), buf, sizeof(buf)), "s.t",
	       "a qualified name as written");
	ok(mc_jbool(mc_jget(mc_node_body(s.stmts[0].tree), "relation", NULL), "inh"), "a bool member");
	is_int(mc_jint(mc_node_body(s.stmts[0].tree), "nosuch", 7), 7, "a missing int is the default");
	ok(mc_rel_matches("public.t", "t"), "an unqualified name matches any schema");
	ok(mc_rel_matches("s.t", "s.t"), "a qualified name matches itself");
	ok(!mc_rel_matches("public.t", "s.t"), "not another schema");
	ok(!mc_rel_matches("public.tt", "t"), "nor another table");
	is_str(mc_node_type(NULL), "", "no node, no type");
}

int
main(void)
{
	test_split();
	test_lines();
	test_psql();
	test_seed();
	test_readers();
	mc_script_free(&s);
	free(s.text);
	mc_sqlparse_exit();
	return done_testing();
}
