/*
 * A migrations directory read as its tool reads it: which tool (detected
 * from the files, or named), the migrations in the tool's order of
 * applying, each with its up (and down) script text, its transaction
 * semantics and the checksum the tool would record.
 */
#ifndef PGP_MIGRATE_LAYOUT_H
#define PGP_MIGRATE_LAYOUT_H

#include "migrate.h"

/*
 * Reads dir.  tool MC_TOOL_UNKNOWN: detect it (one tool's layout, else an
 * error naming the candidates).  Problems of the set itself (two files of
 * one version, ambiguous ordering, a down without an up, a file the tool
 * would reject) are findings in r.  Does not parse SQL: main() calls
 * mc_script_parse() on every script.  Returns 0, or 2 after pgp_error when
 * dir is not a migrations directory or a file cannot be read (named).
 */
int mc_layout_load(const char *dir, enum mc_tool tool, struct mc_set *set, struct mc_report *r);
void mc_set_free(struct mc_set *set);

/*
 * What a tool decides from the statements themselves, once main() has
 * parsed them: Flyway runs a migration whose statements all cannot run in
 * a transaction (CREATE INDEX CONCURRENTLY, VACUUM, ALTER TYPE ... ADD
 * VALUE ...) without one, and refuses one that mixes both kinds (a FAIL
 * finding) unless told mixed = true.
 */
void mc_layout_after_parse(struct mc_set *set, struct mc_report *r);

#endif
