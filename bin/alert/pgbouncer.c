/*
 * PgBouncer's admin console (the "pgbouncer" database).  Debian's 1.18
 * takes only the simple query protocol, one SHOW per query, no SET and no
 * "options" startup parameter, so collect.c sends these commands one at
 * a time with PQsendQuery and no session settings; here their rows become
 * pools and the pools become the four PgBouncer checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"

const char *const pgb_commands[] = {"SHOW POOLS", "SHOW DATABASES", "SHOW CONFIG", NULL};

int
pgb_is_console(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", NULL);
	int yes = 0;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "dbname") && o->val)
			yes = !strcmp(o->val, "pgbouncer");
	PQconninfoFree(opts);
	return yes;
}

static double
col(const PGresult *res, int row, const char *name)
{
	int c = PQfnumber(res, name);

	return c >= 0 && !PQgetisnull(res, row, c) ? strtod(PQgetvalue(res, row, c), NULL) : 0;
}

static const char *
text(const PGresult *res, int row, const char *name)
{
	int c = PQfnumber(res, name);

	return c >= 0 && !PQgetisnull(res, row, c) ? PQgetvalue(res, row, c) : "";
}

static struct pgb_pool *
add_pool(struct alert_target *t)
{
	struct pgb_pool *bigger = realloc(t->pgb_pools, (size_t) (t->n_pgb_pools + 1) * sizeof(*bigger));

	if (!bigger)
		return NULL;
	t->pgb_pools = bigger;
	memset(&bigger[t->n_pgb_pools], 0, sizeof(*bigger));
	return &bigger[t->n_pgb_pools++];
}

void
pgb_read(struct alert_target *t, int command, const PGresult *res)
{
	for (int row = 0; row < PQntuples(res); row++) {
		if (command == 0) {
			struct pgb_pool *p;

			/* The console's own pseudo-pool is not a pool of servers. */
			if (!strcmp(text(res, row, "database"), "pgbouncer") || !(p = add_pool(t)))
				continue;
			snprintf(p->database, sizeof(p->database), "%s", text(res, row, "database"));
			snprintf(p->user, sizeof(p->user), "%s", text(res, row, "user"));
			p->cl_active = col(res, row, "cl_active");
			p->cl_waiting = col(res, row, "cl_waiting");
			p->sv_active = col(res, row, "sv_active");
			p->sv_idle = col(res, row, "sv_idle");
			p->sv_used = col(res, row, "sv_used");
			p->maxwait = col(res, row, "maxwait") + col(res, row, "maxwait_us") / 1e6;
		} else if (command == 1) {
			for (int i = 0; i < t->n_pgb_pools; i++)
				if (!strcmp(t->pgb_pools[i].database, text(res, row, "name")))
					t->pgb_pools[i].pool_size = col(res, row, "pool_size");
		} else if (command == 2) {
			if (!strcmp(text(res, row, "key"), "max_client_conn"))
				t->pgb_max_client_conn = strtod(text(res, row, "value"), NULL);
		}
	}
}

static void
item(struct alert_target *t, enum check_id id, const char *key, double value, double max,
     const char *detail, int info)
{
	struct item *it = result_add(&t->results[id], key, detail);

	if (!it)
		return;
	it->value = value;
	it->has_value = 1;
	it->max = max;
	it->info = info;
}

void
pgb_results(struct alert_target *t)
{
	double clients = 0;

	for (int id = CK_PGB_CLIENTS; id <= CK_PGB_SATURATION; id++)
		t->results[id].answered = 1;
	/* The total first: it is what the thresholds judge. */
	for (int i = 0; i < t->n_pgb_pools; i++)
		clients += t->pgb_pools[i].cl_active + t->pgb_pools[i].cl_waiting;
	item(t, CK_PGB_CLIENTS, "", clients, t->pgb_max_client_conn, NULL, 0);
	for (int i = 0; i < t->n_pgb_pools; i++) {
		const struct pgb_pool *p = &t->pgb_pools[i];
		char key[300], detail[200];
		struct item *it;

		snprintf(key, sizeof(key), "%s/%s", p->database, p->user);
		item(t, CK_PGB_CLIENTS, key, p->cl_active + p->cl_waiting, 0, NULL, 1);
		snprintf(detail, sizeof(detail), "%.0f active, %.0f server connections active, %.0f idle",
			 p->cl_active, p->sv_active, p->sv_idle);
		item(t, CK_PGB_WAITING, key, p->cl_waiting, 0, detail, 0);
		snprintf(detail, sizeof(detail), "%.0f waiting", p->cl_waiting);
		item(t, CK_PGB_MAXWAIT, key, p->maxwait, 0, detail, 0);
		snprintf(detail, sizeof(detail), "%.0f idle, %.0f clients waiting", p->sv_idle, p->cl_waiting);
		item(t, CK_PGB_SATURATION, key, p->sv_active, p->pool_size, detail, 0);
		if (t->results[CK_PGB_SATURATION].n_items) {
			it = &t->results[CK_PGB_SATURATION].items[t->results[CK_PGB_SATURATION].n_items - 1];
			it->c[0] = p->sv_idle;
		}
	}
}
