#!/usr/bin/env bash
# pgp-migrate-check against live traffic on the target (read-only): a
# second session in a transaction that read the table holds a lock the
# pending ALTER TABLE would queue behind (blocked-by, naming its pid); a
# migration whose lock does not conflict with it is not blocked; no other
# session, no finding; and the target's locks and rows are untouched.
. "$(dirname "$0")/lib.sh"
need python3
pg_start
pg() { psql_q -d "${2:-shop}" -c "$1"; }
pg "CREATE ROLE app LOGIN CREATEDB" postgres
pg "CREATE DATABASE shop OWNER app" postgres
pg "GRANT pg_monitor TO app" postgres
psql_q -U app -d shop -c "CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t SELECT g, g FROM generate_series(1, 100) g"
psql_q -U app -d shop -c "CREATE TABLE quiet (id int)"
CONNINFO="host=$PGHOST port=$PGPORT user=app dbname=shop"
W=$(mktemp -d /tmp/pgpml.XXXXXX)
at_exit "rm -rf '$W'"
mkdir -p "$W/alter" "$W/gentle" "$W/elsewhere"
echo "ALTER TABLE t ADD COLUMN c int;" >"$W/alter/1_add.up.sql"
echo "ALTER TABLE t SET (fillfactor = 90);" >"$W/gentle/1_ff.up.sql"
echo "ALTER TABLE quiet ADD COLUMN c int;" >"$W/elsewhere/1_q.up.sql"
check() { local dir=$1; shift; run pgp-migrate-check -c /dev/null -d "$CONNINFO" --format json --no-roundtrip "$@" "$dir"; }
blocked() { json_get "$OUT" "[f['message'] for f in d['findings'] if f['kind'] == 'blocked-by']"; }

check "$W/alter"
[ "$RC" -le 1 ] || diag "$ERR"
is "$(blocked)" "[]" "no other session: no blocked-by finding"

# A transaction that read t and stays open (one simple query: the BEGIN holds).
psql -X -q -d shop -c "BEGIN; SELECT count(*) FROM t; SELECT pg_sleep(120);" >/dev/null 2>&1 &
reader=$!
at_exit "kill $reader"
for i in $(seq 300); do
	holder=$(pg "SELECT pid FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT count(*) FROM t;%' AND state = 'active'" postgres)
	[ -n "$holder" ] && break
	sleep 0.1
done
ok "the reading session is there" -- [ -n "$holder" ]
locks_before=$(pg "SELECT count(*) FROM pg_locks WHERE pid = $holder AND granted" postgres)

check "$W/alter"
is "$(json_get "$OUT" "len([f for f in d['findings'] if f['kind'] == 'blocked-by' and f['severity'] == 'warning'])")" 1 \
	"ALTER TABLE ADD COLUMN (ACCESS EXCLUSIVE) behind a reader's ACCESS SHARE: one blocked-by WARN"
like "$(blocked)" "pid $holder " "naming the blocking pid"
like "$(blocked)" 'state active' "its state (pg_monitor shows it)"
like "$(blocked)" 'AccessShareLock' "and the lock it holds"
is "$(json_get "$OUT" "[f['file'] for f in d['findings'] if f['kind'] == 'blocked-by'][0]")" 1_add.up.sql \
	"and the migration that would queue"
is "$(json_get "$OUT" "[f['object'] for f in d['findings'] if f['kind'] == 'blocked-by'][0]")" public.t "on table public.t"

check "$W/gentle"
is "$(blocked)" "[]" "SET (fillfactor) takes SHARE UPDATE EXCLUSIVE: a reader does not block it"
check "$W/elsewhere"
is "$(blocked)" "[]" "a migration on another table is not blocked by it"

is "$(pg "SELECT count(*) FROM pg_locks WHERE pid = $holder AND granted" postgres)" "$locks_before" \
	"the live check took nothing from the reading session"
is "$(pg "SELECT count(*) FROM pg_stat_activity WHERE pid = $holder" postgres)" 1 "which still runs"
kill "$reader" 2>/dev/null
pg "SELECT pg_terminate_backend($holder)" postgres >/dev/null
# An ACCESS EXCLUSIVE holder and a reader queued behind it (--no-trace:
# pg_dump would wait for the lock too; the static lock table decides).
psql -X -q -d shop -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);" >/dev/null 2>&1 &
locker=$!
at_exit "kill $locker"
for i in $(seq 300); do
	ae=$(pg "SELECT pid FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE t%' AND state = 'active'" postgres)
	[ -n "$ae" ] && break
	sleep 0.1
done
psql -X -q -d shop -c "SELECT count(*) FROM t" >/dev/null 2>&1 &
waiter=$!
at_exit "kill $waiter"
for i in $(seq 300); do
	queued=$(pg "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT count(*) FROM t' AND wait_event_type = 'Lock'" postgres)
	[ -n "$queued" ] && break
	sleep 0.1
done
ok "a session queued behind the ACCESS EXCLUSIVE holder" -- [ -n "$queued" ]
check "$W/gentle" --no-trace
like "$(blocked)" "pid $ae .*holds a conflicting lock" "the ACCESS EXCLUSIVE holder blocks even SHARE UPDATE EXCLUSIVE"
like "$(blocked)" "pid $queued .*already waiting" "and the session already waiting in the queue is named"
pg "SELECT pg_terminate_backend($ae)" postgres >/dev/null
is "$(pg "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'")" 0 \
	"the target never got the column"
done_testing
