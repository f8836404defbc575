/*
 * Scripts into statements with PostgreSQL's own parser (libpg_query, the
 * PostgreSQL 15 grammar): the split, each statement's file line, its parse
 * tree as json-c objects, and small readers for those trees.
 */
#ifndef PGP_MIGRATE_SQLPARSE_H
#define PGP_MIGRATE_SQLPARSE_H

#include "migrate.h"

/*
 * Splits and parses s->text into s->stmts.  When s->psql is set, psql
 * meta-command lines (\set, \i, ...) become statements of their own (meta
 * set) and :'var' / :"var" / :var are substituted from earlier \set lines
 * in stmt->sql.  When a statement does not parse, the script keeps the
 * first such parse_error (the parser's message) and parse_error_line (a
 * file line), that statement has tree NULL and the others keep theirs;
 * when not even the scanner can cut the script (an unterminated quote),
 * it has no statements at all (an unterminated comment at the end is
 * blanked: the statements before it keep theirs).  A UTF-8 BOM at the
 * start is a parse_error of its own; the statements are still read.
 * Returns 0, or -1 when out of memory.
 */
int mc_script_parse(struct mc_script *s);
void mc_script_free(struct mc_script *s);
/* Frees the parser's own memory context, at the end of the run. */
void mc_sqlparse_exit(void);

/* The node type of a statement tree ("AlterTableStmt"), or "". */
const char *mc_node_type(json_object *node);
/* The object under the node's one key: {"AlterTableStmt": BODY}. */
json_object *mc_node_body(json_object *node);
/* Follows keys from obj: mc_jget(o, "relation", "relname", NULL). */
json_object *mc_jget(json_object *obj, ...) __attribute__((sentinel));
/* Member key of obj as a string / int / bool, with a default. */
const char *mc_jstr(json_object *obj, const char *key);	/* NULL if absent */
int mc_jint(json_object *obj, const char *key, int dflt);
int mc_jbool(json_object *obj, const char *key);	/* absent: 0 */
/*
 * A RangeVar ({"relname", "schemaname"}) as written: "s.t" or "t", in buf.
 */
const char *mc_rangevar_name(json_object *rangevar, char *buf, size_t size);
/*
 * 1 when a relation as written ("t" or "s.t") names the schema-qualified
 * relation the server reported ("public.t"): an unqualified name matches
 * any schema.
 */
int mc_rel_matches(const char *qualified, const char *written);
/* The file line of byte offset off of s->text. */
int mc_script_line(const struct mc_script *s, size_t off);

#endif
