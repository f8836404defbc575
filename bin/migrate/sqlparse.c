/*
 * Scripts into statements with PostgreSQL's own parser (libpg_query).
 *
 * One pg_query_parse() of the whole script gives every statement's tree
 * and byte range at once (the same raw parser pg_query_split_with_parser
 * uses).  When the script does not parse, the tolerant scanner split
 * (pg_query_split_with_scanner) cuts it and each statement is parsed on
 * its own, so one statement that the PostgreSQL 15 grammar does not know
 * (a PG 17 MERGE ... RETURNING) costs only its own tree: the rules still
 * read the others and the trace still runs it.
 *
 * psql scripts get a small pre-pass first, since the server's grammar does
 * not know psql: meta-command lines are blanked (kept as statements of
 * their own) and defined :variables are replaced by placeholders of the
 * same length, so that every byte offset, and so every line, stays that of
 * the file.
 */
#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "sqlparse.h"

/* pg_query_exit() before the first parse crashes: there is no context yet. */
static int parser_used;

struct psql_var {
	char *name;
	char *value;
	size_t at;		/* offset of its \set line: in effect after it */
};

struct prepass {
	char *work;		/* the text the parser reads */
	struct psql_var *vars;
	size_t nvars, capvars;
	struct mc_stmt *metas;	/* meta-command lines, in order */
	size_t nmetas, capmetas;
};

/* ---- small lexing: where comments, quotes and dollar quotes end ---- */

static int
ident_char(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

/* The end of a dollar quote's opening tag at p ("$tag$" or "$$"), or NULL. */
static const char *
dollar_tag_end(const char *p, const char *end)
{
	const char *q = p + 1;

	if (q < end && *q >= '0' && *q <= '9')
		return NULL;	/* $1: a parameter */
	while (q < end && *q != '$' && ident_char((unsigned char)*q))
		q++;
	return q < end && *q == '$' ? q + 1 : NULL;
}

/*
 * The end of the token that starts at p when it is a comment or a quoted
 * string (p itself otherwise).
 */
static const char *
skip_quoted(const char *start, const char *p, const char *end)
{
	const char *tag_end;

	if (p + 1 < end && p[0] == '-' && p[1] == '-') {
		while (p < end && *p != '\n')
			p++;
		return p;
	}
	if (p + 1 < end && p[0] == '/' && p[1] == '*') {
		int depth = 0;

		while (p < end) {
			if (p + 1 < end && p[0] == '/' && p[1] == '*') {
				depth++;
				p += 2;
			} else if (p + 1 < end && p[0] == '*' && p[1] == '/') {
				p += 2;
				if (--depth == 0)
					return p;
			} else {
				p++;
			}
		}
		return end;
	}
	if (*p == '\'' || *p == '"') {
		char quote = *p;
		/* E'...' takes backslash escapes */
		int escapes = quote == '\'' && p > start && (p[-1] == 'E' || p[-1] == 'e') &&
			      (p - 1 == start || !ident_char((unsigned char)p[-2]));

		for (p++; p < end; p++) {
			if (escapes && *p == '\\' && p + 1 < end)
				p++;
			else if (*p == quote) {
				if (p + 1 < end && p[1] == quote)
					p++;
				else
					return p + 1;
			}
		}
		return end;
	}
	if (*p == '$' && (p == start || !ident_char((unsigned char)p[-1])) && (tag_end = dollar_tag_end(p, end))) {
		size_t taglen = (size_t)(tag_end - p);
		const char *q;

		for (q = tag_end; q + taglen <= end; q++)
			if (*q == '$' && memcmp(q, p, taglen) == 0)
				return q + taglen;
		return end;
	}
	return p;
}

/* ---- the psql pre-pass ---- */

/* The value of :name at offset at: the last \set of it before. */
static const struct psql_var *
find_var(const struct prepass *pp, const char *name, size_t len, size_t at)
{
	for (size_t i = pp->nvars; i-- > 0;)
		if (pp->vars[i].at < at && strlen(pp->vars[i].name) == len &&
		    memcmp(pp->vars[i].name, name, len) == 0)
			return &pp->vars[i];
	return NULL;
}

/* \set NAME [VALUE...]: psql joins the values; quotes are psql's own. */
static int
record_set(struct prepass *pp, const char *line, size_t at)
{
	char name[128], value[1024] = "";
	const char *p = line + 4;
	size_t n = 0, v = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (ident_char((unsigned char)*p) && n + 1 < sizeof(name))
		name[n++] = *p++;
	name[n] = '\0';
	if (n == 0)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != '\n' && v + 1 < sizeof(value)) {
		if (*p == '\'') {
			for (p++; *p && *p != '\n' && v + 1 < sizeof(value); p++) {
				if (*p == '\'' && p[1] == '\'')
					value[v++] = *p++;
				else if (*p == '\'')
					break;
				else
					value[v++] = *p;
			}
			if (*p == '\'')
				p++;
		} else if (*p == ' ' || *p == '\t') {
			p++;
		} else {
			value[v++] = *p++;
		}
	}
	value[v] = '\0';
	if (pgp_array_reserve(&pp->vars, pp->nvars + 1, &pp->capvars, sizeof(*pp->vars)) != 0)
		return -1;
	pp->vars[pp->nvars].name = strdup(name);
	pp->vars[pp->nvars].value = strdup(value);
	pp->vars[pp->nvars].at = at;
	if (!pp->vars[pp->nvars].name || !pp->vars[pp->nvars].value)
		return -1;
	pp->nvars++;
	return 0;
}

static int
record_meta(struct prepass *pp, const struct mc_script *s, const char *line, size_t len, size_t off)
{
	struct mc_stmt *m;

	if (pgp_array_reserve(&pp->metas, pp->nmetas + 1, &pp->capmetas, sizeof(*pp->metas)) != 0)
		return -1;
	m = &pp->metas[pp->nmetas++];
	memset(m, 0, sizeof(*m));
	m->meta = strndup(line, len);
	m->offset = off;
	m->len = len;
	m->line = mc_script_line(s, off);
	if (!m->meta)
		return -1;
	if (strncmp(m->meta, "\\set", 4) == 0 && (m->meta[4] == ' ' || m->meta[4] == '\t'))
		return record_set(pp, m->meta, off);
	return 0;
}

/*
 * A :name, :'name' or :"name" reference at p (outside quotes) to a defined
 * variable: its length, else 0.
 */
static size_t
var_ref(const struct prepass *pp, const char *start, const char *p, const char *end,
	const struct psql_var **var, char *style)
{
	const char *q = p + 1;
	char quote = 0;

	if (*p != ':' || (p > start && p[-1] == ':') || q >= end || *q == ':')
		return 0;
	if (*q == '\'' || *q == '"')
		quote = *q++;
	const char *name = q;
	while (q < end && ident_char((unsigned char)*q))
		q++;
	if (q == name || (quote && (q >= end || *q != quote)))
		return 0;
	if (!(*var = find_var(pp, name, (size_t)(q - name), (size_t)(p - start))))
		return 0;
	*style = quote;
	return (size_t)(q - p) + (quote ? 1 : 0);
}

static int
prepass(const struct mc_script *s, struct prepass *pp)
{
	const char *start = pp->work, *end = pp->work + s->text_len, *p = start;
	int line_start = 1;

	while (p < end) {
		const char *q = skip_quoted(start, p, end);
		const struct psql_var *var;
		size_t n;
		char style;

		if (q != p) {
			line_start = 0;
			p = q;
			continue;
		}
		if (*p == '\n') {
			line_start = 1;
			p++;
			continue;
		}
		if (line_start && (*p == ' ' || *p == '\t')) {
			p++;
			continue;
		}
		if (line_start && *p == '\\') {
			const char *eol = memchr(p, '\n', (size_t)(end - p));

			if (!eol)
				eol = end;
			if (record_meta(pp, s, p, (size_t)(eol - p), (size_t)(p - start)) != 0)
				return -1;
			memset(pp->work + (p - start), ' ', (size_t)(eol - p));
			p = eol;
			continue;
		}
		line_start = 0;
		if ((n = var_ref(pp, start, p, end, &var, &style)) > 0) {
			/* a placeholder of the same length: 'xx', "xx" or xxx */
			char *w = pp->work + (p - start);

			memset(w, 'x', n);
			if (style)
				w[0] = w[n - 1] = style;
			p += n;
			continue;
		}
		p++;
	}
	return 0;
}

/* ---- statements ---- */

/*
 * The last answer, so that the statements of a script, asked for in file
 * order, cost one pass over its text rather than one each (a 20 MB file
 * of inserts).  Forgotten whenever a script is parsed or freed, since its
 * text's address may be reused.
 */
static struct {
	const char *text;
	size_t len, off;
	int first_line, line;
} line_memo;

static void
line_memo_forget(void)
{
	memset(&line_memo, 0, sizeof(line_memo));
}

int
mc_script_line(const struct mc_script *s, size_t off)
{
	int line = s->first_line > 0 ? s->first_line : 1;
	size_t i = 0;

	if (off > s->text_len)
		off = s->text_len;
	if (line_memo.text == s->text && line_memo.len == s->text_len && line_memo.first_line == s->first_line &&
	    line_memo.off <= off) {
		i = line_memo.off;
		line = line_memo.line;
	}
	for (; i < off; i++)
		if (s->text[i] == '\n')
			line++;
	line_memo.text = s->text;
	line_memo.len = s->text_len;
	line_memo.first_line = s->first_line;
	line_memo.off = off;
	line_memo.line = line;
	return line;
}

/* Past whitespace and comments from off; the first token's offset. */
static size_t
first_token(const char *text, size_t off, size_t end)
{
	while (off < end) {
		const char *p = text + off, *q;

		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
			off++;
			continue;
		}
		q = skip_quoted(text, p, text + end);
		if (q != p && (p[0] == '-' || p[0] == '/')) {
			off = (size_t)(q - text);
			continue;
		}
		break;
	}
	return off;
}

/* The end offset of the meta-command line that starts at off, or 0. */
static size_t
meta_end(const struct prepass *pp, size_t off)
{
	size_t lo = 0, hi;

	if (!pp)
		return 0;
	hi = pp->nmetas;
	/* The pre-pass recorded them in file order: asked for every byte, a scan would be quadratic. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pp->metas[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pp->nmetas && pp->metas[lo].offset == off ? pp->metas[lo].offset + pp->metas[lo].len : 0;
}

/*
 * stmt->sql: the statement's text from the original script (not the
 * placeholders), with psql variables substituted as psql would: :'x' a
 * quoted literal, :"x" a quoted identifier, :x the value itself.
 */
static char *
statement_sql(const struct mc_script *s, const struct prepass *pp, size_t off, size_t len)
{
	const char *start = s->text, *p = s->text + off, *end = s->text + off + len;
	size_t cap = len * 2 + 64, n = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (p < end) {
		const struct psql_var *var = NULL;
		const char *q;
		size_t ref = 0, need, skip;
		char style = 0;

		/* psql runs a meta-command line inside a statement on its own: not the server's text */
		if (s->psql && (skip = meta_end(pp, (size_t)(p - start)))) {
			p = start + skip;
			continue;
		}
		q = skip_quoted(start, p, end);
		if (q == p && pp && s->psql)
			ref = var_ref(pp, start, p, end, &var, &style);
		need = q != p ? (size_t)(q - p) : ref ? strlen(var->value) * 2 + 3 : 1;
		if (n + need + 1 > cap) {
			char *bigger = realloc(out, cap = (n + need + 1) * 2);

			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
		}
		if (q != p) {
			memcpy(out + n, p, (size_t)(q - p));
			n += (size_t)(q - p);
			p = q;
		} else if (ref) {
			if (style)
				out[n++] = style;
			for (const char *v = var->value; *v; v++) {
				if (style && *v == style)
					out[n++] = style;
				out[n++] = *v;
			}
			if (style)
				out[n++] = style;
			p += ref;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return out;
}

static int
add_stmt(struct mc_script *s, size_t *cap, const struct prepass *pp, size_t loc, size_t len,
	 json_object *tree)
{
	struct mc_stmt *st;
	size_t first = first_token(pp->work, loc, loc + len), stop = loc + len;

	while (stop > first && (pp->work[stop - 1] == ' ' || pp->work[stop - 1] == '\n' ||
				pp->work[stop - 1] == '\t' || pp->work[stop - 1] == '\r'))
		stop--;
	if (stop <= first)
		return 0;	/* only comments: nothing to run */
	if (pgp_array_reserve(&s->stmts, s->nstmts + 1, cap, sizeof(*s->stmts)) != 0)
		return -1;
	st = &s->stmts[s->nstmts];
	memset(st, 0, sizeof(*st));
	st->offset = first;
	st->len = stop - first;
	st->line = mc_script_line(s, first);
	st->tree = tree;
	if (!(st->sql = statement_sql(s, pp, first, stop - first)))
		return -1;
	s->nstmts++;
	return 0;
}

/* The byte offset of 1-based character position pos of text. */
static size_t
char_to_byte(const char *text, size_t len, int pos)
{
	size_t off = 0;

	for (int c = 1; c < pos && off < len; c++) {
		off++;
		while (off < len && ((unsigned char)text[off] & 0xC0) == 0x80)
			off++;
	}
	return off;
}

static void
note_error(struct mc_script *s, const char *message, size_t off)
{
	if (s->parse_error)
		return;	/* the first one is the one to fix */
	s->parse_error = strdup(message ? message : "syntax error");
	s->parse_error_line = mc_script_line(s, off);
}

/*
 * The parser's JSON into json-c objects.  json_tokener_parse() stops at
 * 32 levels, which an expression of a view or a CASE in a migration
 * passes; the parser itself bounds the depth by its stack.
 */
/* one tokener for the run: making one zeroes its whole depth stack */
static struct json_tokener *json_reader;

static json_object *
tree_from_json(const char *text)
{
	if (!json_reader && !(json_reader = json_tokener_new_ex(10000)))
		return NULL;
	json_tokener_reset(json_reader);
	return json_tokener_parse_ex(json_reader, text, -1);
}

/*
 * In a seed file (over 1000 statements, no new enum value before: the
 * only rule that reads rows looks for a use of one), an INSERT ... VALUES
 * is data.  Its tree keeps the table and the columns, and the key of that
 * shape (the statement's text up to VALUES) goes to key, so that the
 * file's thousands of INSERTs into one table share one tree: kept for
 * every statement, they cost a gigabyte for a 3 MB file.  "" in key: not
 * such a statement.
 */
static void
data_insert(json_object *tree, const char *text, size_t len, char *key, size_t size)
{
	json_object *body = mc_node_body(tree), *select = mc_jget(body, "selectStmt", "SelectStmt", NULL);
	const char *values;
	char *copy;

	key[0] = '\0';
	if (strcmp(mc_node_type(tree), "InsertStmt") != 0 || !mc_jget(select, "valuesLists", NULL) ||
	    mc_jget(body, "returningList", NULL) || mc_jget(body, "onConflictClause", NULL) ||
	    mc_jget(body, "withClause", NULL))
		return;
	json_object_object_del(body, "selectStmt");
	if (!(copy = strndup(text, len)))
		return;
	/* the text before VALUES names the table and columns as written */
	if ((values = strcasestr(copy, "values")) && (size_t)(values - copy) < size) {
		memcpy(key, copy, (size_t)(values - copy));
		key[values - copy] = '\0';
	}
	free(copy);
}

/* One statement's parse, its root returned in *root: 0, 1 when it does not parse, -1 out of memory. */
static int
parse_one(const char *text, size_t len, json_object **root, json_object **tree, char **message)
{
	char *one = strndup(text, len);
	PgQueryParseResult res;
	json_object *list;

	*root = *tree = NULL;
	if (!one)
		return -1;
	res = pg_query_parse(one);
	free(one);
	if (res.error) {
		*message = strdup(res.error->message ? res.error->message : "syntax error");
		pg_query_free_parse_result(res);
		return *message ? 1 : -1;
	}
	*root = tree_from_json(res.parse_tree);
	pg_query_free_parse_result(res);
	if (!*root)
		return -1;
	if (json_object_object_get_ex(*root, "stmts", &list) && json_object_array_length(list) > 0)
		json_object_object_get_ex(json_object_array_get_idx(list, 0), "stmt", tree);
	return 0;
}

/*
 * The script cut by the parser itself (pg_query_split_with_parser), then
 * each statement parsed on its own: one statement's tree is built at a
 * time, never the JSON of a whole 20 MB file.  *ok 0: the text does not
 * parse (parse_around_errors takes over).
 */
static int
parse_whole(struct mc_script *s, const struct prepass *pp, int *ok)
{
	PgQuerySplitResult split = pg_query_split_with_parser(pp->work);
	size_t cap = 0;
	int rc = 0;
	json_object *last_tree = NULL;	/* the data INSERT before, whose tree the next may share */
	char last_key[512] = "";
	int enum_added = 0;

	*ok = 0;
	if (split.error) {
		pg_query_free_split_result(split);
		return 0;
	}
	if (!s->parsed && !(s->parsed = json_object_new_array())) {
		pg_query_free_split_result(split);
		return -1;
	}
	for (int i = 0; i < split.n_stmts && rc == 0; i++) {
		size_t loc = (size_t)split.stmts[i]->stmt_location, len = (size_t)split.stmts[i]->stmt_len;
		json_object *root, *tree;
		char *message = NULL, key[512];

		if (len == 0 || loc + len > s->text_len)
			len = s->text_len > loc ? s->text_len - loc : 0;
		rc = parse_one(pp->work + loc, len, &root, &tree, &message);
		if (rc == 1) {
			/* cut by the parser, yet not a statement alone: its text stays, for the trace */
			note_error(s, message, first_token(pp->work, loc, loc + len));
			rc = 0;
		}
		free(message);
		if (root) {
			key[0] = '\0';
			/* a new enum value makes the rows matter (used in its own transaction?) */
			enum_added |= strcmp(mc_node_type(tree), "AlterEnumStmt") == 0;
			if (split.n_stmts > 1000 && !enum_added) {
				size_t at = first_token(pp->work, loc, loc + len);

				data_insert(tree, pp->work + at, loc + len - at, key, sizeof(key));
			}
			if (key[0] && last_tree && strcmp(key, last_key) == 0) {
				json_object_put(root);	/* the same table and columns as the one before */
				tree = last_tree;
			} else {
				json_object_array_add(s->parsed, root);
				last_tree = key[0] ? tree : NULL;
				snprintf(last_key, sizeof(last_key), "%s", key);
			}
		}
		if (rc == 0)
			rc = add_stmt(s, &cap, pp, loc, len, tree);
	}
	pg_query_free_split_result(split);
	*ok = 1;
	return rc;
}

/*
 * The top-level ';' that ends the statement holding byte off (or the
 * text's end), and the start of that statement: past the ';' before it.
 * Only for cutting out a statement the parser rejected; the parser itself
 * splits everything it can read.
 */
static void
statement_around(const char *text, size_t len, size_t off, size_t *from, size_t *to)
{
	const char *p = text, *end = text + len;

	*from = 0;
	*to = len;
	while (p < end) {
		const char *q = skip_quoted(text, p, end);

		if (q != p) {
			p = q;
			continue;
		}
		if (*p == ';') {
			if ((size_t)(p - text) >= off) {
				*to = (size_t)(p - text);
				return;
			}
			*from = (size_t)(p - text) + 1;
		}
		p++;
	}
}

static int
by_offset(const void *a, const void *b)
{
	size_t x = ((const struct mc_stmt *)a)->offset, y = ((const struct mc_stmt *)b)->offset;

	return x < y ? -1 : x > y;
}

static void
sort_statements(struct mc_script *s)
{
	qsort(s->stmts, s->nstmts, sizeof(*s->stmts), by_offset);
}

struct rejected {
	size_t from, len;
};

/*
 * When the script does not parse: cut out the statement the parser
 * rejects (blanked in the parser's copy, newlines kept, so every offset
 * stays the file's) and parse again, until the rest parses.  The
 * statements cut out keep their text, for the trace, and no tree.
 */
static int
parse_around_errors(struct mc_script *s, struct prepass *pp)
{
	struct rejected *cut = NULL;
	size_t ncut = 0, capcut = 0, cap = 0;
	int ok = 0, rc = 0;
	/* the parser's text as the pre-pass left it (meta-commands blanked), to put cut statements back */
	char *pristine = strndup(pp->work, s->text_len);
	/*
	 * What precedes a rejected statement parsed (the parser stops at the
	 * first error), so each round reads only from the end of the last cut:
	 * a file of 20000 MySQL-isms costs one pass, not 20000.
	 */
	size_t base = 0;

	if (!pristine)
		return -1;
	while (!ok && rc == 0) {
		const char *sub = pp->work + base;
		size_t sublen = s->text_len - base;
		PgQueryParseResult res = pg_query_parse(sub);
		size_t at, from, to;

		if (!res.error) {
			pg_query_free_parse_result(res);
			break;
		}
		at = res.error->cursorpos > 0 ? base + char_to_byte(sub, sublen, res.error->cursorpos) : s->text_len;
		statement_around(sub, sublen, (at > 0 && at >= s->text_len ? s->text_len - 1 : at) - base, &from, &to);
		from += base;
		to += base;
		/* An unterminated comment is all the statement has: then the parser's own position. */
		note_error(s, res.error->message, first_token(pp->work, from, to) < to ? first_token(pp->work, from, to) :
			   at < s->text_len ? at : from);
		pg_query_free_parse_result(res);
		if (first_token(pp->work, from, to) >= to) {
			/*
			 * No token: an unterminated comment runs to the end.  Blank it, so
			 * that the statements before it keep their trees; nothing to run.
			 */
			if (to <= base || from >= to) {
				free(cut);
				free(pristine);
				return 0;
			}
			for (size_t i = from; i < to; i++)
				if (pp->work[i] != '\n')
					pp->work[i] = ' ';
			base = to;
			continue;
		}
		if (pgp_array_reserve(&cut, ncut + 1, &capcut, sizeof(*cut)) != 0) {
			rc = -1;
			break;
		}
		cut[ncut].from = from;
		cut[ncut++].len = to - from;
		/* its ';' stays: an empty statement, and the boundary of the next cut */
		for (size_t i = from; i < to; i++)
			if (pp->work[i] != '\n')
				pp->work[i] = ' ';
		base = to;
	}
	if (rc == 0)
		rc = parse_whole(s, pp, &ok);
	/* the cut statements, in file order among the others: text from the original */
	for (size_t i = 0; i < ncut && rc == 0; i++) {
		memcpy(pp->work + cut[i].from, pristine + cut[i].from, cut[i].len);
		rc = add_stmt(s, &cap, pp, cut[i].from, cut[i].len, NULL);
	}
	free(cut);
	free(pristine);
	if (rc == 0 && ncut > 0)
		sort_statements(s);
	return rc;
}

/* Meta-command lines join the statements in file order. */
static int
merge_metas(struct mc_script *s, struct prepass *pp)
{
	struct mc_stmt *all;
	size_t i = 0, j = 0, k = 0, n = s->nstmts + pp->nmetas;

	if (pp->nmetas == 0)
		return 0;
	if (!(all = calloc(n, sizeof(*all))))
		return -1;
	while (k < n)
		all[k++] = j >= pp->nmetas || (i < s->nstmts && s->stmts[i].offset < pp->metas[j].offset) ?
				   s->stmts[i++] : pp->metas[j++];
	free(s->stmts);
	free(pp->metas);
	pp->metas = NULL;
	pp->nmetas = 0;
	s->stmts = all;
	s->nstmts = n;
	return 0;
}

int
mc_script_parse(struct mc_script *s)
{
	struct prepass pp = {0};
	int rc = 0, whole_ok = 0;

	line_memo_forget();
	if (!s->text)
		return 0;
	if (memchr(s->text, '\0', s->text_len)) {
		note_error(s, "the file holds a NUL byte", (size_t)((char *)memchr(s->text, '\0', s->text_len) - s->text));
		return 0;
	}
	if (!(pp.work = strndup(s->text, s->text_len)))
		return -1;
	if (s->text_len >= 3 && memcmp(s->text, "\xEF\xBB\xBF", 3) == 0) {
		/* The tools send it along (Flyway alone strips it, in layout); the rest still gets read. */
		note_error(s, "the file begins with a UTF-8 byte order mark (EF BB BF), which the server reads as "
			   "part of the first word: a syntax error; save the file as UTF-8 without a BOM", 0);
		memset(pp.work, ' ', 3);
	}
	parser_used = 1;
	if (s->psql)
		rc = prepass(s, &pp);
	if (rc == 0)
		rc = parse_whole(s, &pp, &whole_ok);
	if (rc == 0 && !whole_ok)
		rc = parse_around_errors(s, &pp);
	if (rc == 0)
		rc = merge_metas(s, &pp);
	for (size_t i = 0; i < pp.nmetas; i++)
		free(pp.metas[i].meta);
	free(pp.metas);
	for (size_t i = 0; i < pp.nvars; i++) {
		free(pp.vars[i].name);
		free(pp.vars[i].value);
	}
	free(pp.vars);
	free(pp.work);
	return rc;
}

static void
evidence_free(struct mc_evidence *ev)
{
	for (size_t i = 0; i < ev->nlocks; i++) {
		free(ev->locks[i].relation);
		free(ev->locks[i].mode);
	}
	free(ev->locks);
	for (size_t i = 0; i < ev->nrewrote; i++)
		free(ev->rewrote[i]);
	free(ev->rewrote);
	for (size_t i = 0; i < ev->nscanned; i++)
		free(ev->scanned[i]);
	free(ev->scanned);
	for (size_t i = 0; i < ev->ncreated; i++)
		free(ev->created[i]);
	free(ev->created);
	free(ev->error);
	memset(ev, 0, sizeof(*ev));
}

void
mc_script_free(struct mc_script *s)
{
	line_memo_forget();
	for (size_t i = 0; i < s->nstmts; i++) {
		free(s->stmts[i].sql);
		free(s->stmts[i].meta);
		evidence_free(&s->stmts[i].ev);
	}
	free(s->stmts);
	s->stmts = NULL;
	s->nstmts = 0;
	json_object_put(s->parsed);
	s->parsed = NULL;
	free(s->parse_error);
	s->parse_error = NULL;
}

void
mc_sqlparse_exit(void)
{
	if (parser_used)
		pg_query_exit();
	parser_used = 0;
	if (json_reader)
		json_tokener_free(json_reader);
	json_reader = NULL;
}

/* ---- reading trees ---- */

const char *
mc_node_type(json_object *node)
{
	if (node && json_object_is_type(node, json_type_object)) {
		json_object_object_foreach(node, key, val) {
			(void)val;
			return key;
		}
	}
	return "";
}

json_object *
mc_node_body(json_object *node)
{
	if (node && json_object_is_type(node, json_type_object)) {
		json_object_object_foreach(node, key, val) {
			(void)key;
			return val;
		}
	}
	return NULL;
}

json_object *
mc_jget(json_object *obj, ...)
{
	va_list ap;
	const char *key;

	va_start(ap, obj);
	while (obj && (key = va_arg(ap, const char *)))
		if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &obj))
			obj = NULL;
	va_end(ap);
	return obj;
}

const char *
mc_jstr(json_object *obj, const char *key)
{
	json_object *v = mc_jget(obj, key, NULL);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int
mc_jint(json_object *obj, const char *key, int dflt)
{
	json_object *v = mc_jget(obj, key, NULL);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int(v) : dflt;
}

int
mc_jbool(json_object *obj, const char *key)
{
	json_object *v = mc_jget(obj, key, NULL);

	return v ? json_object_get_boolean(v) : 0;
}

const char *
mc_rangevar_name(json_object *rangevar, char *buf, size_t size)
{
	const char *schema = mc_jstr(rangevar, "schemaname"), *rel = mc_jstr(rangevar, "relname");

	if (!rel)
		snprintf(buf, size, "?");
	else if (schema)
		snprintf(buf, size, "%s.%s", schema, rel);
	else
		snprintf(buf, size, "%s", rel);
	return buf;
}

int
mc_rel_matches(const char *qualified, const char *written)
{
	const char *dot;

	if (!qualified || !written)
		return 0;
	if (strcmp(qualified, written) == 0)
		return 1;
	if (strchr(written, '.'))
		return 0;
	dot = strchr(qualified, '.');
	return dot && strcmp(dot + 1, written) == 0;
}
