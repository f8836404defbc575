/*
 * A live server: its current values (pg_settings), --apply through ALTER
 * SYSTEM and pg_reload_conf(), and --check against the recommendation.
 * A setting the server does not know is dropped, so pgp-tune never emits
 * a parameter a version lacks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "sql.h"
#include "tune.h"

/* The names we recommend, as a text[] literal for = ANY($1). */
static void
name_array(const struct tune_result *r, char *buf, size_t size)
{
	size_t n = (size_t) snprintf(buf, size, "{");

	for (int i = 0; i < r->count; i++)
		n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? "," : "", r->settings[i].name);
	snprintf(buf + n, size - n, "}");
}

int
tune_live_fetch(PGconn *conn, struct tune_result *r)
{
	char names[2048];
	const char *params[1] = {names};
	PGresult *res;
	int kept = 0;

	name_array(r, names, sizeof(names));
	res = pgp_conn_query(conn, "SELECT name, setting, unit, pending_restart FROM pg_catalog.pg_settings"
			     " WHERE name = ANY($1::text[])", 1, params);
	if (!res)
		return -1;
	for (int i = 0; i < r->count; i++) {
		struct tune_setting *s = &r->settings[i];
		int found = 0;

		for (int row = 0; row < PQntuples(res); row++) {
			if (strcmp(PQgetvalue(res, row, 0), s->name) != 0)
				continue;
			found = 1;
			s->has_current = 1;
			snprintf(s->live, sizeof(s->live), "%s", PQgetvalue(res, row, 1));
			s->live_number = tune_live_number(s->live, PQgetisnull(res, row, 2) ? NULL
						     : PQgetvalue(res, row, 2), s->kind);
			tune_describe_live(PQgetvalue(res, row, 1),
					   PQgetisnull(res, row, 2) ? NULL : PQgetvalue(res, row, 2), s->kind,
					   s->current, sizeof(s->current));
			s->unit = PQgetisnull(res, row, 2) ? NULL : s->unit;
			s->pending_restart = PQgetvalue(res, row, 3)[0] == 't';
		}
		if (found)
			r->settings[kept++] = *s;
		else
			pgp_debug("the server has no setting %s: not emitted", s->name);
	}
	r->count = kept;
	PQclear(res);
	return 0;
}

/* Is the live value within tolerance of the wanted one? */
static int
within(const struct tune_setting *s, double tolerance)
{
	if (s->kind == TUNE_VK_TEXT) {
		/* "on" is what pg_settings calls pglz for wal_compression. */
		if (!strcmp(s->name, "wal_compression") && !strcmp(s->value, "on"))
			return !strcasecmp(s->live, "on") || !strcasecmp(s->live, "pglz");
		return strcasecmp(s->live, s->value) == 0;
	}
	if (s->number == 0)
		return s->live_number == 0;
	return fabs(s->live_number - s->number) / s->number <= tolerance;
}

/* Compare the values live_fetch read; the number of drifted settings. */
int
tune_live_check(const struct tune_result *r, double tolerance, int quiet)
{
	int drifted = 0;

	for (int i = 0; i < r->count; i++) {
		const struct tune_setting *s = &r->settings[i];

		if (!s->has_current || within(s, tolerance))
			continue;
		drifted++;
		printf("drift: %s is %s, wanted %s%s\n", s->name, s->current, s->value,
		       s->pending_restart ? " (set, waits for a restart)" : "");
	}
	if (drifted)
		printf("%d setting%s drifted from the recommendation (tolerance %g%%)\n", drifted,
		       drifted == 1 ? "" : "s", tolerance * 100);
	else if (!quiet)
		printf("no drift: %d settings within %g%% of the recommendation\n", r->count, tolerance * 100);
	return drifted;
}

int
tune_live_apply(PGconn *conn, struct tune_result *r)
{
	PGresult *res;
	int waiting = 0;

	for (int i = 0; i < r->count; i++) {
		char *sql = pgp_sql_build(conn, "ALTER SYSTEM SET %I = %L", r->settings[i].name,
					  r->settings[i].value);

		if (!sql || pgp_conn_exec(conn, sql) < 0) {
			free(sql);
			return pgp_fail("applying stopped at %s: nothing after it was set", r->settings[i].name);
		}
		pgp_debug("%s", sql);
		free(sql);
	}
	if (pgp_conn_exec(conn, "SELECT pg_catalog.pg_reload_conf()") < 0)
		return -1;
	/* The backend rereads the files between statements, after the postmaster's signal. */
	usleep(300000);
	res = pgp_conn_query(conn, "SELECT name FROM pg_catalog.pg_settings WHERE pending_restart ORDER BY name",
			     0, NULL);
	if (!res)
		return -1;
	printf("applied %d settings with ALTER SYSTEM and reloaded\n", r->count);
	for (int row = 0; row < PQntuples(res); row++) {
		printf("%s %s", waiting++ ? "," : "waiting for a restart (pgp-tune never restarts a server):",
		       PQgetvalue(res, row, 0));
	}
	if (waiting)
		printf("\n");
	PQclear(res);
	return 0;
}
