/*
 * The round trip's schema comparison: the copy's schema as pg_dump
 * --schema-only prints it, normalised (comments, SET lines, blank lines,
 * owners and grants left out, the bookkeeping table and the sqitch and
 * drizzle schemas excluded), cut into pg_dump's objects, and compared.
 */
#ifndef PGP_MIGRATE_ROUNDTRIP_H
#define PGP_MIGRATE_ROUNDTRIP_H

#include "migrate.h"
#include "scratch.h"

struct mc_schema_obj {
	char *key;		/* "TABLE public.t", from pg_dump's "-- Name:" header */
	char *text;		/* its statements, normalised */
};

struct mc_schema {
	struct mc_schema_obj *o;
	size_t n;
};

/* The copy's schema now.  0, or -1 after logging. */
int mc_rt_dump(struct mc_scratch *s, const struct mc_set *set, struct mc_schema *out);

/*
 * Adds one FAIL roundtrip finding per object that differs between want
 * and got, naming the object (a column, its default, a constraint, an
 * index, a type...) and the script to blame: of the pending migrations
 * (indexes into set->m), the last whose up text names the object; its
 * down file when down is 1 (after the downs, compared with before the
 * ups), else its up file (up again, compared with the first up).
 * Returns the number of differences.
 */
int mc_rt_compare(const struct mc_schema *want, const struct mc_schema *got, const struct mc_set *set,
		  const int *pending, size_t npending, int down, struct mc_report *r);

void mc_rt_free(struct mc_schema *s);

#endif
