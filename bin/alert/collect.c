/*
 * Asking the servers.  Every target gets one connection, opened and
 * driven with libpq's non-blocking API so that a fleet is checked
 * concurrently (at most max_parallel connections at once) and a server
 * that does not answer costs its own timeout, not everyone's.
 *
 * Per target: connect (connect_timeout enforced here: PQconnectPoll does
 * not), then one pipeline with a sync after each statement, so one
 * refused statement does not abort the others: a small query for the
 * facts the query choice needs and, behind it, every check statement
 * when that choice can be made already (see send_facts): one round trip
 * after the connection's.  The session is read-only, with
 * statement_timeout and lock_timeout set in the startup packet: no
 * extra round trip.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alert.h"
#include "log.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct item *
result_add(struct check_result *r, const char *key, const char *detail)
{
	struct item *it;

	if (r->n_items == r->cap_items) {
		int cap = r->cap_items ? r->cap_items * 2 : 4;
		struct item *bigger = realloc(r->items, (size_t) cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		r->items = bigger;
		r->cap_items = cap;
	}
	it = &r->items[r->n_items];
	memset(it, 0, sizeof(*it));
	it->key = strdup(key ? key : "");
	it->detail = detail ? strdup(detail) : NULL;
	if (!it->key || (detail && !it->detail)) {
		free(it->key);
		free(it->detail);
		return NULL;
	}
	r->n_items++;
	return it;
}

void
result_set_error(struct check_result *r, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The first reason wins: later ones are consequences. */
	if (!r->error)
		r->error = strdup(buf);
}

void
target_free(struct alert_target *t)
{
	for (int i = 0; i < CK_COUNT; i++) {
		struct check_result *r = &t->results[i];

		for (int k = 0; k < r->n_items; k++) {
			free(r->items[k].key);
			free(r->items[k].detail);
		}
		free(r->items);
		free(r->error);
		free(t->conf[i].include);
		free(t->conf[i].exclude);
		track_free(&t->track[i]);
	}
	for (int ch = 0; ch < NC_COUNT; ch++)
		json_object_put(t->outbox[ch]);
	plan_free(&t->plan);
	free(t->pgb_pools);
	if (t->conn)
		PQfinish(t->conn);
	json_object_put(t->prev);
	free(t->conn_error);
	free(t->name);
}

/* libpq's message, first line: it names the host or socket and the reason. */
static void
short_message(const char *msg, char *buf, size_t size)
{
	size_t len = strcspn(msg, "\n");

	if (len >= size)
		len = size - 1;
	memcpy(buf, msg, len);
	buf[len] = '\0';
}

static void
fail_target(struct alert_target *t, const char *what)
{
	char reason[512];

	short_message(t->conn ? PQerrorMessage(t->conn) : "out of memory", reason, sizeof(reason));
	/* A TCP failure of PQconnectPoll comes without libpq's usual preamble. */
	if (t->phase == TP_CONNECTING && t->conn && *reason && strncmp(reason, "connection to server", 20) != 0) {
		char bare[400];
		const char *host = PQhost(t->conn), *port = PQport(t->conn);

		snprintf(bare, sizeof(bare), "%s", reason);
		if (host && *host == '/')
			snprintf(reason, sizeof(reason), "connection to server on socket \"%s/.s.PGSQL.%s\" failed: %s",
				 host, port && *port ? port : "5432", bare);
		else
			snprintf(reason, sizeof(reason), "connection to server at \"%s\", port %s failed: %s",
				 host && *host ? host : "localhost", port && *port ? port : "5432", bare);
	}
	if (!t->conn_error) {
		size_t n = strlen(what) + strlen(reason) + 3;

		t->conn_error = malloc(n);
		if (t->conn_error)
			snprintf(t->conn_error, n, "%s%s", what, *reason ? reason : "no reason given");
	}
	pgp_error("target \"%s\": %s", t->name, t->conn_error ? t->conn_error : what);
	if (t->conn)
		PQfinish(t->conn);
	t->conn = NULL;
	t->up = 0;
	t->phase = TP_DONE;
}

/* The certificate of this TLS session, read where libpq holds it. */
static void
read_certificate(struct alert_target *t)
{
	SSL *ssl = PQsslStruct(t->conn, "OpenSSL");
	X509 *cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	int days = 0, secs = 0;

	if (!cert)
		return;
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert))) {
		t->cert_seconds_left = (double) days * 86400.0 + secs;
		t->cert_known = 1;
	}
	X509_NAME_oneline(X509_get_subject_name(cert), t->cert_subject, sizeof(t->cert_subject));
	X509_free(cert);
}

static void
start_target(const struct alert_run *run, struct alert_target *t)
{
	const char *keys[10], *vals[10];
	char timeout[32], options[256];
	long long ct = t->spec.connect_timeout;
	int n = 0;

	t->start_ms = now_ms();
	state_load(run, t);
	if (t->spec.service_file)
		setenv("PGSERVICEFILE", t->spec.service_file, 1);
	if (ct <= 0) {
		const char *env = getenv("PGCONNECT_TIMEOUT");

		ct = env && atoi(env) > 0 ? atoi(env) : 10;
	}
	/* libpq's minimum is 2 seconds; keep the deadline consistent with it. */
	if (ct < 2)
		ct = 2;
	snprintf(timeout, sizeof(timeout), "%lld", ct);
	/* Read-only, bounded, and no schema of the server's users in the way. */
	snprintf(options, sizeof(options),
		 "-c statement_timeout=%lld -c lock_timeout=%lld -c default_transaction_read_only=on"
		 " -c search_path=pg_catalog", run->statement_timeout_ms, run->lock_timeout_ms);
	keys[n] = "connect_timeout", vals[n++] = timeout;
	keys[n] = "fallback_application_name", vals[n++] = "pgp-alert";
	/* PgBouncer's console refuses an options startup parameter. */
	if (!t->pgbouncer)
		keys[n] = "options", vals[n++] = options;
	if (t->spec.passfile)
		keys[n] = "passfile", vals[n++] = t->spec.passfile;
	keys[n] = "dbname", vals[n++] = t->spec.conninfo;
	/* A second dbname is a plain database name, never expanded. */
	if (run->database && !t->pgbouncer)
		keys[n] = "dbname", vals[n++] = run->database;
	keys[n] = NULL, vals[n] = NULL;

	t->phase = TP_CONNECTING;
	t->poll_write = 1;
	t->deadline_ms = t->start_ms + ct * 1000;
	t->conn = PQconnectStartParams(keys, vals, 1);
	if (!t->conn || PQstatus(t->conn) == CONNECTION_BAD) {
		fail_target(t, "");
		return;
	}
	if (PQsetnonblocking(t->conn, 1) != 0)
		fail_target(t, "");
}

static int
get_bool(const PGresult *res, int col)
{
	return !PQgetisnull(res, 0, col) && PQgetvalue(res, 0, col)[0] == 't';
}

/* The deadline of the checks, from now. */
static long long
checks_deadline(const struct alert_run *run)
{
	long long st = run->statement_timeout_ms;

	return now_ms() + (2 * st > st + 5000 ? 2 * st : st + 5000);
}

/*
 * Choose the statements from facts f (choose_plan) and queue them, a
 * sync after each, behind whatever the pipeline holds (send_statements):
 * 0, or -1 when the target failed.
 */
static int
choose_plan(const struct alert_run *run, struct alert_target *t, const struct server_facts *f)
{
	if (plan_queries(f, run->wanted, &t->plan) < 0) {
		fail_target(t, "out of memory");
		return -1;
	}
	return 0;
}

/* Queue the chosen statements, a sync after each.  0, or -1 (failed). */
static int
send_statements(struct alert_target *t)
{
	for (int i = 0; i < t->plan.n; i++) {
		pgp_debug("target \"%s\": query %s: %s", t->name, t->plan.q[i].name, t->plan.q[i].sql);
		if (!PQsendQueryParams(t->conn, t->plan.q[i].sql, 0, NULL, NULL, NULL, NULL, 0) ||
		    !PQpipelineSync(t->conn)) {
			fail_target(t, "cannot send the checks: ");
			return -1;
		}
	}
	t->pending += t->plan.n;
	t->next_result = 0;
	t->planned = 1;
	t->poll_write = 1;
	return 0;
}

static int
send_plan(const struct alert_run *run, struct alert_target *t, const struct server_facts *f)
{
	return choose_plan(run, t, f) < 0 ? -1 : send_statements(t);
}

/*
 * Connected: the facts query, and behind it in the same pipeline the
 * checks when their plan can be chosen already (one round trip instead
 * of two): when all the plan depends on is known from the connection
 * (the version; in_hot_standby from 14 on) or from the previous run's
 * facts in the state file.  Else the checks wait for the facts.
 */
static void
send_facts(const struct alert_run *run, struct alert_target *t)
{
	const char *hot = PQparameterStatus(t->conn, "in_hot_standby");
	unsigned known, used = plan_facts_used(t->facts.version_num, run->wanted);

	/* Decided before anything is sent, so the statements leave together. */
	t->guess = t->facts;
	known = state_facts(t, PQdb(t->conn), &t->guess);
	if ((facts_reported(t->facts.version_num) & FACT_RECOVERY) && hot) {
		t->guess.in_recovery = strcmp(hot, "on") == 0;
		known |= FACT_RECOVERY;
	}
	t->guess_used = used;
	if ((used & ~known) == 0 && choose_plan(run, t, &t->guess) < 0)
		return;
	if (!PQenterPipelineMode(t->conn)) {
		fail_target(t, "cannot enter pipeline mode: ");
		return;
	}
	if (!PQsendQueryParams(t->conn, facts_sql(t->facts.version_num), 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(t->conn)) {
		fail_target(t, "cannot query: ");
		return;
	}
	t->pending = 1;
	t->phase = TP_FACTS;
	t->poll_write = 1;
	t->deadline_ms = now_ms() + run->statement_timeout_ms + 5000;
	if ((used & ~known) == 0)
		send_statements(t);
}

/* The facts' sync: plan now, or check the early plan against them. */
static void
facts_done(const struct alert_run *run, struct alert_target *t)
{
	t->connected_ms = now_ms();
	t->phase = TP_CHECKS;
	t->deadline_ms = checks_deadline(run);
	if (!t->planned) {
		send_plan(run, t, &t->facts);
		return;
	}
	if (!facts_agree(&t->guess, &t->facts, t->guess_used)) {
		pgp_debug("target \"%s\": the facts differ from the previous run's: asking again", t->name);
		t->replan = 1;
	}
}

/* The early plan's answers are in (and were dropped): the right plan. */
static void
replan(const struct alert_run *run, struct alert_target *t)
{
	t->replan = 0;
	plan_free(&t->plan);
	t->deadline_ms = checks_deadline(run);
	send_plan(run, t, &t->facts);
}

static void
got_facts(struct alert_target *t, PGresult *res)
{
	const char *db;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fail_target(t, "cannot query: ");
		return;
	}
	t->facts.in_recovery = get_bool(res, 0);
	t->facts.has_pgss = !PQgetisnull(res, 0, 1);
	if (t->facts.has_pgss)
		snprintf(t->facts.pgss_schema, sizeof(t->facts.pgss_schema), "%s", PQgetvalue(res, 0, 1));
	t->facts.has_pgstattuple = !PQgetisnull(res, 0, 3);
	if (t->facts.has_pgstattuple)
		snprintf(t->facts.pgstattuple_schema, sizeof(t->facts.pgstattuple_schema), "%s",
			 PQgetvalue(res, 0, 3));
	snprintf(t->facts.read_only, sizeof(t->facts.read_only), "%s", PQgetvalue(res, 0, 4));
	snprintf(t->facts.statement_timeout, sizeof(t->facts.statement_timeout), "%s", PQgetvalue(res, 0, 5));
	snprintf(t->facts.lock_timeout, sizeof(t->facts.lock_timeout), "%s", PQgetvalue(res, 0, 6));
	db = PQgetvalue(res, 0, 2);
	snprintf(t->dbname, sizeof(t->dbname), "%s", db);
	t->facts_answered = 1;
}

static void
query_failed(struct alert_target *t, const struct query *q, const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char why[400];

	if (!msg)
		msg = PQerrorMessage(t->conn);
	snprintf(why, sizeof(why), "%s", msg);
	why[strcspn(why, "\n")] = '\0';
	for (int i = 0; i < q->n_checks; i++) {
		struct check_result *r = &t->results[q->checks[i]];

		if (state && strcmp(state, "42501") == 0)
			result_set_error(r, "not permitted to the role %s: %s", PQuser(t->conn), why);
		else
			result_set_error(r, "%s", why);
	}
	pgp_debug("target \"%s\": query %s failed: %s", t->name, q->name, why);
}

static void
finish_target(struct alert_target *t)
{
	PQexitPipelineMode(t->conn);
	t->phase = TP_DONE;
}

/* Every sync is in: ask again what an early plan got wrong, else done. */
static void
pipeline_done(const struct alert_run *run, struct alert_target *t)
{
	if (t->replan)
		replan(run, t);
	if (t->pending == 0 && t->phase != TP_DONE)
		finish_target(t);
}

/* Read whatever has arrived; 0 to go on, -1 when the target failed. */
static int
read_results(const struct alert_run *run, struct alert_target *t)
{
	if (!PQconsumeInput(t->conn)) {
		fail_target(t, "connection lost: ");
		return -1;
	}
	while (t->phase != TP_DONE && !PQisBusy(t->conn)) {
		PGresult *res = PQgetResult(t->conn);

		if (t->phase == TP_PGBOUNCER) {
			if (res) {
				if (PQresultStatus(res) == PGRES_TUPLES_OK)
					pgb_read(t, t->next_result, res);
				else
					for (int id = CK_PGB_CLIENTS; id <= CK_PGB_SATURATION; id++)
						result_set_error(&t->results[id], "%s: %s", pgb_commands[t->next_result],
								 PQresultErrorMessage(res));
				PQclear(res);
				continue;
			}
			/* One SHOW per query: the console takes no more. */
			if (pgb_commands[++t->next_result]) {
				if (!PQsendQuery(t->conn, pgb_commands[t->next_result])) {
					fail_target(t, "connection lost: ");
					return -1;
				}
				t->poll_write = 1;
				return 0;
			}
			t->connected_ms = now_ms();
			t->phase = TP_DONE;
			return 0;
		}
		if (!res)
			continue;	/* end of one statement's results */
		if (t->phase == TP_FACTS) {
			if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
				t->pending--;
				facts_done(run, t);
			} else
				got_facts(t, res);
			PQclear(res);
			if (t->phase == TP_DONE)
				return -1;
			if (t->pending == 0)
				pipeline_done(run, t);	/* no statement was asked */
			continue;
		}
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			t->next_result++;
			if (--t->pending == 0)
				pipeline_done(run, t);
			break;
		case PGRES_TUPLES_OK:
			/* Answers to an early plan the facts contradict are dropped. */
			if (!t->replan && t->next_result < t->plan.n)
				collect_rows(t, &t->plan.q[t->next_result], res);
			break;
		default:
			if (!t->replan && t->next_result < t->plan.n)
				query_failed(t, &t->plan.q[t->next_result], res);
			break;
		}
		PQclear(res);
	}
	return 0;
}

static void
step_target(const struct alert_run *run, struct alert_target *t, int readable, int writable)
{
	if (t->phase == TP_CONNECTING) {
		switch (PQconnectPoll(t->conn)) {
		case PGRES_POLLING_FAILED:
			fail_target(t, "");
			return;
		case PGRES_POLLING_READING:
			t->poll_write = 0;
			return;
		case PGRES_POLLING_WRITING:
			t->poll_write = 1;
			return;
		default:
			break;
		}
		t->up = 1;
		snprintf(t->user, sizeof(t->user), "%s", PQuser(t->conn) ? PQuser(t->conn) : "");
		if (t->pgbouncer) {
			t->next_result = 0;
			t->phase = TP_PGBOUNCER;
			t->poll_write = 1;
			t->deadline_ms = now_ms() + run->statement_timeout_ms + 5000;
			if (!PQsendQuery(t->conn, pgb_commands[0]))
				fail_target(t, "cannot query: ");
			return;
		}
		t->facts.version_num = PQserverVersion(t->conn);
		t->facts.tls = PQsslInUse(t->conn);
		pgp_conn_where(t->conn, t->where, sizeof(t->where));
		t->local = pgp_host_is_local(PQhost(t->conn));
		if (t->facts.tls)
			read_certificate(t);
		send_facts(run, t);
		return;
	}
	if (writable || t->poll_write) {
		int f = PQflush(t->conn);

		if (f < 0) {
			fail_target(t, "connection lost: ");
			return;
		}
		t->poll_write = f == 1;
	}
	if (readable)
		read_results(run, t);
}

/* A target past its deadline: whatever did not answer is UNKNOWN. */
static void
time_out(struct alert_target *t)
{
	if (t->phase == TP_CONNECTING || t->phase == TP_FACTS) {
		if (!t->conn_error) {
			t->conn_error = strdup(t->phase == TP_CONNECTING
					       ? "timeout expired while connecting"
					       : "no answer to the first query in time");
		}
		fail_target(t, "");
		return;
	}
	if (t->phase == TP_PGBOUNCER) {
		for (int id = CK_PGB_CLIENTS; id <= CK_PGB_SATURATION; id++)
			result_set_error(&t->results[id], "no answer to %s in time", pgb_commands[t->next_result]);
		PQfinish(t->conn);
		t->conn = NULL;
		t->phase = TP_DONE;
		return;
	}
	for (int i = t->next_result; i < t->plan.n; i++)
		for (int k = 0; k < t->plan.q[i].n_checks; k++)
			result_set_error(&t->results[t->plan.q[i].checks[k]],
					 "no answer within the time allowed (statement_timeout and 5s)");
	PQfinish(t->conn);
	t->conn = NULL;
	t->phase = TP_DONE;
}

/*
 * Every target keeps its state lock until its file is written, and at
 * most max_parallel a socket: a large fleet may need more descriptors
 * than the default soft limit of 1024; take what the hard limit allows.
 */
static void
enough_files(int targets, int parallel)
{
	struct rlimit rl;
	rlim_t want = (rlim_t) targets + (rlim_t) parallel + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		pgp_debug("cannot raise the limit of open files: %s", strerror(errno));
}

void
collect_all(struct alert_run *run, void (*done)(const struct alert_run *run, struct alert_target *t))
{
	int n = run->n_targets, next = 0, active = 0;
	int maxp = run->max_parallel > 0 ? run->max_parallel : 16;
	struct pollfd *fds = calloc((size_t) (n ? n : 1), sizeof(*fds));
	int *idx = calloc((size_t) (n ? n : 1), sizeof(*idx));

	enough_files(n, maxp);
	if (!fds || !idx) {
		pgp_error("out of memory");
		free(fds);
		free(idx);
		return;
	}
	while (next < n || active > 0) {
		long long now, wait = -1;
		int nfds = 0, rc;

		while (active < maxp && next < n) {
			start_target(run, &run->targets[next]);
			if (run->targets[next].phase != TP_DONE)
				active++;
			next++;
		}
		now = now_ms();
		for (int i = 0; i < n; i++) {
			struct alert_target *t = &run->targets[i];

			if (t->phase == TP_DONE || t->phase == TP_IDLE)
				continue;
			fds[nfds].fd = PQsocket(t->conn);
			fds[nfds].events = (short) (t->poll_write ? POLLOUT | POLLIN : POLLIN);
			fds[nfds].revents = 0;
			idx[nfds++] = i;
			if (wait < 0 || t->deadline_ms - now < wait)
				wait = t->deadline_ms - now > 0 ? t->deadline_ms - now : 0;
		}
		if (nfds == 0) {
			if (next >= n)
				break;	/* nothing left to wait for */
			continue;
		}
		rc = poll(fds, (nfds_t) nfds, (int) wait);
		if (rc < 0 && errno != EINTR) {
			pgp_error("poll: %s", strerror(errno));
			break;
		}
		now = now_ms();
		for (int k = 0; k < nfds; k++) {
			struct alert_target *t = &run->targets[idx[k]];
			short ev = rc > 0 ? fds[k].revents : 0;

			if (ev)
				step_target(run, t, (ev & (POLLIN | POLLHUP | POLLERR)) != 0, (ev & POLLOUT) != 0);
			else if (now >= t->deadline_ms)
				time_out(t);
			if (t->phase == TP_DONE) {
				pgp_debug("target \"%s\": done after %lld ms", t->name, now_ms() - t->start_ms);
				/* Done with the server: a fleet must not hold a socket each. */
				if (t->conn)
					PQfinish(t->conn);
				t->conn = NULL;
				active--;
				if (done)
					done(run, t);
			}
		}
	}
	free(fds);
	free(idx);
}

static double
num(const PGresult *res, int row, int col, int *isnull)
{
	if (PQgetisnull(res, row, col)) {
		if (isnull)
			*isnull = 1;
		return 0;
	}
	if (isnull)
		*isnull = 0;
	return strtod(PQgetvalue(res, row, col), NULL);
}

void
collect_rows(struct alert_target *t, const struct query *q, const PGresult *res)
{
	if (PQnfields(res) != 8) {
		for (int i = 0; i < q->n_checks; i++)
			result_set_error(&t->results[q->checks[i]], "unexpected result shape");
		return;
	}
	for (int i = 0; i < q->n_checks; i++)
		t->results[q->checks[i]].answered = 1;
	for (int row = 0; row < PQntuples(res); row++) {
		const struct check_def *def = check_find(PQgetvalue(res, row, 0));
		const char *flag = PQgetisnull(res, row, 7) ? "" : PQgetvalue(res, row, 7);
		struct check_result *r;
		struct item *it;
		int isnull;

		if (!def)
			continue;
		r = &t->results[def->id];
		it = result_add(r, PQgetvalue(res, row, 1),
				PQgetisnull(res, row, 6) ? NULL : PQgetvalue(res, row, 6));
		if (!it) {
			result_set_error(r, "out of memory");
			return;
		}
		it->value = num(res, row, 2, &isnull);
		it->has_value = !isnull;
		it->max = num(res, row, 3, NULL);
		it->c[0] = num(res, row, 4, NULL);
		it->c[1] = num(res, row, 5, NULL);
		it->info = strcmp(flag, "info") == 0;
		it->floor_state = !strcmp(flag, "critical") ? ST_CRITICAL : !strcmp(flag, "warning") ? ST_WARNING
			: !strcmp(flag, "unknown") ? ST_UNKNOWN : ST_OK;
	}
}
