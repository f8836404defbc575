/*
 * The target now, read-only.  A DDL statement that waits for a lock
 * blocks every later query on that table behind it in the lock queue, so
 * a session holding a conflicting lock (or an old transaction, whose
 * snapshot and locks last until it ends) turns a millisecond ALTER into
 * an outage.  For every table a pending migration locks, the sessions
 * that hold a conflicting lock, hold any lock inside an old transaction,
 * or already wait for one, are named with what would queue behind them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "live.h"
#include "log.h"
#include "rules.h"
#include "sqlparse.h"

/* A transaction open this long holds an old snapshot worth naming. */
#define OLD_XACT_S 60

struct want {
	char *relation;		/* as the trace reported it, or as written */
	const char *mode;
	const struct mc_script *sc;
	const struct mc_stmt *st;
	int migration;
};

static void
add_want(struct want **v, size_t *n, const char *rel, const char *mode, const struct mc_script *sc,
	 const struct mc_stmt *st, int mi)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].relation, rel) == 0) {
			/* Keep the first statement that takes the strongest mode. */
			if (mc_lock_rank(mode) > mc_lock_rank((*v)[i].mode)) {
				(*v)[i].mode = mode;
				(*v)[i].sc = sc;
				(*v)[i].st = st;
				(*v)[i].migration = mi;
			}
			return;
		}
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v)
		mc_oom();
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].relation = mc_strdup(rel);
	(*v)[*n].mode = mode;
	(*v)[*n].sc = sc;
	(*v)[*n].st = st;
	(*v)[*n].migration = mi;
	(*n)++;
}

/* Each pending statement's locks: the trace's where it knew them. */
static size_t
collect(const struct mc_set *set, struct want **out, struct mc_lock ***owned, size_t **nowned, size_t *nown)
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < set->n; i++) {
		const struct mc_script *sc = &set->m[i].up;

		if (set->m[i].state != MC_STATE_PENDING && set->m[i].state != MC_STATE_UNKNOWN)
			continue;
		for (size_t j = 0; j < sc->nstmts; j++) {
			const struct mc_stmt *st = &sc->stmts[j];
			struct mc_lock *l = st->ev.locks;
			size_t nl = st->ev.nlocks;

			if (st->meta || !st->tree)
				continue;
			if (!(st->ev.traced && st->ev.locks_known)) {
				nl = mc_static_locks(st, &l);
				*owned = realloc(*owned, (*nown + 1) * sizeof(**owned));
				*nowned = realloc(*nowned, (*nown + 1) * sizeof(**nowned));
				if (!*owned || !*nowned)
					mc_oom();
				(*owned)[*nown] = l;
				(*nowned)[(*nown)++] = nl;
			}
			for (size_t k = 0; k < nl; k++)
				add_want(out, &n, l[k].relation, l[k].mode, sc, st, (int) i);
		}
	}
	return n;
}

static void
one_line(const char *sql, char *buf, size_t size)
{
	size_t j = 0;

	for (size_t i = 0; sql && sql[i] && j + 4 < size && j < 80; i++)
		buf[j++] = (sql[i] == '\n' || sql[i] == '\t' || sql[i] == '\r') ? ' ' : sql[i];
	if (sql && strlen(sql) > 80 && j + 4 < size) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
}

static const char *
or_hidden(const char *s)
{
	return s && *s && strcmp(s, "<insufficient privilege>") != 0 ? s :
	       "(not visible to this role: pg_monitor shows it)";
}

int
mc_live_check(PGconn *target, const struct mc_set *set, struct mc_report *r)
{
	struct want *want = NULL;
	struct mc_lock **owned = NULL;
	size_t *nowned = NULL, nown = 0, nwant = collect(set, &want, &owned, &nowned, &nown);
	PGresult *res = NULL;
	int rc = 0;

	if (nwant == 0)
		goto out;
	res = pgp_conn_query(target,
		"SELECT l.pid, COALESCE(a.usename, ''), COALESCE(a.application_name, ''), COALESCE(a.state, ''), "
		" COALESCE(pg_catalog.date_part('epoch', pg_catalog.now() - a.xact_start)::bigint, -1), "
		" l.mode, l.granted, n.nspname || '.' || c.relname, COALESCE(a.query, '') "
		"FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
		"WHERE l.locktype = 'relation' AND l.pid <> pg_catalog.pg_backend_pid() "
		"AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) "
		"AND c.relkind IN ('r', 'p', 'm') "
		"AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
		"ORDER BY l.pid, 8", 0, NULL);
	if (!res) {
		pgp_error("cannot read the target's locks (pg_locks, pg_stat_activity)");
		rc = 5;
		goto out;
	}
	for (size_t w = 0; w < nwant; w++) {
		const char *last_pid = "";

		for (int i = 0; i < PQntuples(res); i++) {
			const char *pid = PQgetvalue(res, i, 0), *mode = PQgetvalue(res, i, 5);
			const char *rel = PQgetvalue(res, i, 7);
			long long age = atoll(PQgetvalue(res, i, 4));
			int granted = strcmp(PQgetvalue(res, i, 6), "t") == 0;
			const char *why;
			char stmt[128], query[128];

			if (!mc_rel_matches(rel, want[w].relation) || strcmp(pid, last_pid) == 0)
				continue;
			if (granted && mc_lock_conflicts(mode, want[w].mode))
				why = "holds a conflicting lock";
			else if (granted && age >= OLD_XACT_S)
				why = "has held a lock inside an old transaction (an old snapshot)";
			else if (!granted)
				why = "is already waiting for a lock";
			else
				continue;
			last_pid = pid;
			one_line(want[w].st->sql, stmt, sizeof(stmt));
			one_line(PQgetvalue(res, i, 8), query, sizeof(query));
			{
				struct mc_where wh = {want[w].sc->path, want[w].st->line, rel, NULL, NULL, want[w].migration, 0};

				char agebuf[32];

				if (age >= 0)
					snprintf(agebuf, sizeof(agebuf), "%lld s", age);
				else
					snprintf(agebuf, sizeof(agebuf), "%s", granted ? "?" : "none");
				mc_find(r, MC_SEV_WARN, "blocked-by", &wh,
					"deploy when that transaction has ended (or end it: pg_terminate_backend), and keep "
					"lock_timeout short so that the DDL gives up instead of stalling every query on the "
					"table",
					"pid %s (user %s, application %s, state %s, transaction open %s) %s on %s (%s): "
					"\"%s\" (%s:%d) needs %s there and would queue behind it, and every new query on %s "
					"behind the DDL; its query: %s",
					pid, or_hidden(PQgetvalue(res, i, 1)), or_hidden(PQgetvalue(res, i, 2)),
					or_hidden(PQgetvalue(res, i, 3)), agebuf, why, rel, mode, stmt,
					want[w].sc->path, want[w].st->line, want[w].mode, rel, or_hidden(query));
			}
		}
	}
out:
	PQclear(res);
	for (size_t i = 0; i < nwant; i++)
		free(want[i].relation);
	free(want);
	for (size_t i = 0; i < nown; i++)
		mc_locks_free(owned[i], nowned[i]);
	free(owned);
	free(nowned);
	return rc;
}

/* A setting's value in "name=value" entries of a setconfig array text. */
static int
setconfig_has(const char *array, const char *name, int *nonzero)
{
	size_t nl = strlen(name);
	const char *p = array;

	while ((p = strstr(p, name))) {
		if ((p == array || p[-1] == '{' || p[-1] == ',' || p[-1] == '"') && p[nl] == '=') {
			const char *v = p + nl + 1;

			*nonzero = strtod(v, NULL) != 0;
			return 1;
		}
		p += nl;
	}
	return 0;
}

static int
timeout_set(PGconn *target, PGresult *settings, const char *name, int *out)
{
	/* pg_db_role_setting: role in this database, the role, this database (that order wins). */
	for (int i = 0; i < PQntuples(settings); i++)
		if (setconfig_has(PQgetvalue(settings, i, 0), name, out))
			return 0;
	{
		PGresult *res = pgp_conn_query(target,
			"SELECT boot_val, reset_val, source FROM pg_catalog.pg_settings WHERE name = $1", 1,
			(const char *const[]) {name});

		if (!res || PQntuples(res) != 1) {
			PQclear(res);
			return -1;
		}
		/* reset_val: the server's file, unless this session's own options changed it. */
		*out = strcmp(PQgetvalue(res, 0, 1), "0") != 0;
		PQclear(res);
	}
	return 0;
}

int
mc_live_timeouts(PGconn *target, int *lock_timeout_set, int *statement_timeout_set)
{
	PGresult *res = pgp_conn_query(target,
		"SELECT s.setconfig::text FROM pg_catalog.pg_db_role_setting s "
		"WHERE (s.setrole = 0 OR s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) "
		"AND (s.setdatabase = 0 OR s.setdatabase = "
		" (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())) "
		"ORDER BY (s.setrole <> 0 AND s.setdatabase <> 0) DESC, (s.setrole <> 0) DESC", 0, NULL);
	int rc = 0;

	*lock_timeout_set = *statement_timeout_set = 0;
	if (!res)
		return 5;
	if (timeout_set(target, res, "lock_timeout", lock_timeout_set) < 0 ||
	    timeout_set(target, res, "statement_timeout", statement_timeout_set) < 0)
		rc = 5;
	PQclear(res);
	return rc;
}
