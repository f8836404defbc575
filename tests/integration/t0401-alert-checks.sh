#!/usr/bin/env bash
# pgp-alert against a real PostgreSQL 15 made by pgp-create, run as its
# shop_monitor role (pg_monitor, never a superuser) over TLS: each
# condition is induced for real and the state, text, perfdata and exit
# status are checked: an idle transaction, a blocked lock with its blocker
# named, a held inactive slot, a sequence the monitor may not read, a
# stale and a failed backup state file, a slow statement in
# pg_stat_statements (deltas between runs), a certificate that expires
# in 10 days.
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
need openssl
dir=$(mktemp -d /tmp/pgpa.XXXXXX)
port=$(free_port)
at_exit "pgp-create -c /dev/null --local '$dir' --stop; rm -rf '$dir'"
pgp-create -q -c /dev/null --local "$dir" --database shop --port "$port" \
	--extension pg_stat_statements --extension pgstattuple >/dev/null 2>&1 || { echo "Bail out! pgp-create failed"; exit 1; }
export PGSERVICEFILE=$dir/pg_service.conf PGPASSFILE=$dir/pgpass
S=$dir/state
mkdir -p "$S"
admin() { psql -X -q -A -t -v ON_ERROR_STOP=1 "service=shop-admin" "$@"; }
alert() { pgp-alert -c /dev/null -d service=shop-monitor --state-dir "$S" "$@"; }
first_line() { printf '%s\n' "$1" | head -1; }

# wait_for SQL: poll (bounded, 30 s) until the admin query prints t.
wait_for() {
	local i
	for i in $(seq 300); do
		[ "$(admin -c "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
	done
	return 1
}

# session FD NAME: a psql session as admin fed through a FIFO on fd FD.
session() {
	local fd=$1 name=$2 fifo=$dir/$2.fifo
	mkfifo "$fifo"
	# Not holding the other sessions' FIFOs open: each ends at its own EOF.
	psql -X -q "service=shop-admin application_name=$name" <"$fifo" >"$dir/$name.out" 2>&1 7>&- 8>&- 9>&- &
	eval "exec $fd>'$fifo'"
	at_exit "admin -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$name'\""
}

admin -c "CREATE TABLE public.items (id int PRIMARY KEY)" || { echo "Bail out! setup SQL failed"; exit 1; }

# A healthy server: OK, exit 0, one connection as the monitor role.
run alert --check connection,backends,locks,idle_in_transaction,txn_time,query_time,txn_wraparound,replication_slots,certificate
is "$RC" 0 "a healthy server is OK (exit 0)"
like "$(first_line "$OUT")" "^PGP-ALERT OK - [0-9]+ checks OK [|] 'connection'=[0-9.]+s;;;0 " "first line: state, summary, perfdata"
like "$OUT" "'backends'=[0-9]+;[0-9.]+;[0-9.]+;0;[0-9]+" "backends perfdata: value;warn;crit;min;max"
like "$OUT" "'certificate'=[0-9]+s;2592000;604800;0" "certificate expiry in seconds with its thresholds"
is "$(printf '%s\n' "$OUT" | wc -l)" 1 "no long output when everything is OK"
is "$ERR" "" "nothing on stderr"
run alert -q --check connection
is "$RC:$OUT" "0:" "-q prints nothing when OK"
run alert -v --check connection,locks
like "$(printf '%s\n' "$OUT" | sed -n 3p)" "^locks OK: no session waiting for a lock$" "-v: a line for each OK check too"

# The monitor is not a superuser and still reads everything it needs.
is "$(admin -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'shop_monitor'")" f "shop_monitor is not a superuser"
run alert --format json
is "$(json_get "$OUT" 'sorted(c["name"] for c in d["targets"][0]["checks"] if c["state"] == "UNKNOWN")')" "[]" \
	"as pg_monitor no check is UNKNOWN"
is "$(json_get "$OUT" 'd["targets"][0]["database"]')" shop "JSON names the database"
is "$(json_get "$OUT" '[d["targets"][0]["session"][k] for k in ("read_only", "statement_timeout", "lock_timeout")]')" \
	'[true, "5s", "1s"]' "the session is read-only with its own timeouts (over the role's 10s)"
is "$(json_get "$OUT" '[c["state"] for c in d["targets"][0]["checks"] if c["name"] == "slow_queries"][0]')" OK \
	"pg_stat_statements is read"

# A role without pg_monitor: what it may not read is UNKNOWN with the
# reason, and the rest still answers.
run pgp-alert -c /dev/null -d service=shop-app --no-state --check wal_files,backends
is "$RC" 3 "a check the role may not run: UNKNOWN (exit 3)"
like "$OUT" "wal_files UNKNOWN: not permitted to the role shop_app: permission denied for function pg_ls_waldir" \
	"the reason names the role and the server's refusal"
like "$OUT" "'backends'=[0-9]+;" "the other checks still answer"

# An idle transaction: CRITICAL with the pid, user and application.
session 7 idler
printf 'BEGIN;\nSELECT 1;\n' >&7
ok "the idle session is idle in transaction" -- wait_for \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'idler' AND state = 'idle in transaction'"
idler=$(admin -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'idler'")
run alert --check idle_in_transaction --critical 0s
is "$RC" 2 "idle in transaction past the critical threshold: exit 2"
like "$(first_line "$OUT")" "^PGP-ALERT CRITICAL - idle_in_transaction CRITICAL: idle in transaction for [0-9.]+m?s \(pid $idler, user postgres, application idler, database shop\) [|]" \
	"the first line names pid, user and application"
like "$OUT" "'idle_in_transaction'=[0-9.]+s;60;0;0" "perfdata in seconds with warn and crit"
like "$(printf '%s\n' "$OUT" | sed -n 2p)" "^idle_in_transaction CRITICAL: " "a long-output line for the check"
run alert --check idle_in_transaction
is "$RC" 0 "under the default 60s it is OK"
session 9 sitter
printf 'SELECT 1;\n' >&9
ok "an idle session sits there" -- wait_for \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'sitter' AND state = 'idle'"
run alert --check backends --format json
all=$(json_get "$OUT" '[c for c in d["targets"][0]["checks"] if c["name"] == "backends"][0]["value"]')
run alert --check backends --exclude-idle --format json
busy=$(json_get "$OUT" '[c for c in d["targets"][0]["checks"] if c["name"] == "backends"][0]["value"]')
ok "--exclude-idle counts fewer sessions ($busy of $all)" -- python3 -c "import sys; sys.exit(0 if 0 < $busy < $all else 1)"
exec 9>&-

# A blocked lock, with the blocker named.
printf 'LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE;\n' >&7
session 8 waiter
printf 'SELECT count(*) FROM public.items;\n' >&8
ok "the waiter waits for the lock" -- wait_for \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'waiter' AND wait_event_type = 'Lock'"
waiter=$(admin -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'waiter'")
run alert --check locks --warning 0s --critical 1h
is "$RC" 1 "a session waiting for a lock: WARNING (exit 1)"
like "$OUT" "locks WARNING: 1 waiting for a lock, the longest for [0-9.]+m?s: pid $waiter \(user postgres, application waiter, database shop\) waiting for a AccessShareLock lock, blocked by pid $idler \(user postgres, application idler\)" \
	"the text names the waiter and its blocker"
like "$OUT" "'locks'=[0-9.]+s;0;3600;0" "locks perfdata"
run alert --check locks
is "$RC" 0 "under the default 1m it is OK"
exec 8>&-
exec 7>&-
ok "the sessions are gone" -- wait_for \
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name IN ('idler', 'waiter')"

# A held, inactive replication slot.
admin -c "SELECT pg_create_physical_replication_slot('hold_me', true)" >/dev/null
run alert --check replication_slots
is "$RC" 1 "an inactive slot is a WARNING"
like "$OUT" "replication_slots WARNING: slot hold_me retains [0-9.]+[kMG]?B of WAL \(physical slot, inactive, wal_status reserved" \
	"the text names the slot and its state"
like "$OUT" "'replication_slots:hold_me'=[0-9]+B;1073741824;5368709120;0" "retained bytes as perfdata"
run alert --check replication_slots --format prometheus
like "$OUT" 'pgp_alert_replication_slot_retained_bytes\{target="shop-monitor",slot="hold_me"\} [0-9]+' "the slot in Prometheus"
like "$OUT" 'pgp_alert_replication_slot_active\{target="shop-monitor",slot="hold_me"\} 0' "inactive: 0"
admin -c "SELECT pg_drop_replication_slot('hold_me')" >/dev/null
run alert --check replication_slots
is "$RC" 0 "without the slot: OK"
like "$(first_line "$OUT")" "^PGP-ALERT OK - 2 checks OK [|] 'connection'=" "the summary counts the checks"

# A sequence the monitor may not read is UNKNOWN with the reason.
admin -c "CREATE SEQUENCE public.secret_seq; REVOKE ALL ON SEQUENCE public.secret_seq FROM PUBLIC" >/dev/null
run alert --check sequence
is "$RC" 3 "an unreadable sequence: UNKNOWN"
like "$OUT" "sequence UNKNOWN: 1 sequences not readable by shop_monitor \(grant it SELECT" "the reason says what to grant"
admin -c "GRANT SELECT ON SEQUENCE public.secret_seq TO shop_monitor; SELECT setval('public.secret_seq', 9223372036854775000)" >/dev/null
run alert --check sequence
is "$RC" 2 "a sequence at its end: CRITICAL"
like "$OUT" "sequence CRITICAL: public.secret_seq: 100.0% used" "the sequence and its share"
admin -c "DROP SEQUENCE public.secret_seq"

# pgp-backup's state file: fresh, stale, failed.
stamp() { date -u -d "@$(( $(date +%s) - $1 ))" +%Y-%m-%dT%H:%M:%SZ; }
backup_state() {
	printf '{"database":"shop","repo":"/r","last_run_time":"%s","last_run_result":"%s","last_good_id":"shop-1","last_good_time":"%s","last_error":%s}\n' \
		"$(stamp 60)" "$1" "$(stamp "$2")" "$3" >"$S/backup-shop.json"
}
backup_state ok 3600 null
PGP_BACKUP_STATE_DIR=$S run alert --check backup
is "$RC" 0 "a backup an hour old is OK"
like "$OUT" "'backup:shop'=3[0-9]{3}s;93600;180000;0" "its age as perfdata (26h/50h)"
backup_state ok 259200 null
PGP_BACKUP_STATE_DIR=$S run alert --check backup
is "$RC" 2 "a backup three days old is CRITICAL"
like "$OUT" "backup CRITICAL: shop: last good backup 3d ago" "the text says how old"
backup_state failed 3600 '"pg_dump: error: connection to server lost"'
PGP_BACKUP_STATE_DIR=$S run alert --check backup
is "$RC" 1 "a failed last run is a WARNING even with a recent good one"
like "$OUT" "backup WARNING: shop: .*the last run at .* failed: pg_dump: error: connection to server lost" "with pgp-backup's error"
PGP_BACKUP_STATE_DIR=$S run alert --check backup --format json
is "$(json_get "$OUT" '[c for c in d["targets"][0]["checks"] if c["name"] == "backup"][0]["items"][0]["state"]')" WARNING "JSON: the item's state"
rm -f "$S/backup-shop.json"
PGP_BACKUP_STATE_DIR=$S run alert --check backup
is "$RC" 3 "asked for, a missing state file is UNKNOWN"
like "$OUT" "no backup state file $S/backup-shop.json" "naming the file"
PGP_BACKUP_STATE_DIR=$S run alert --check connection,locks
unlike "$OUT" "backup" "not asked for and no backup.repo: the check does not apply"

# Slow statements: deltas of pg_stat_statements between two runs.
run alert --check slow_queries --warning 100ms
is "$RC" 0 "the first sample of pg_stat_statements is OK"
like "$OUT" "'connection'" "and prints its status line"
run alert --check slow_queries --warning 100ms --format json
like "$(json_get "$OUT" '[c["text"] for c in d["targets"][0]["checks"] if c["name"] == "slow_queries"][0]')" \
	"since the last run|nothing to report|all within limits" "nothing slow between two quick runs"
psql -X -q -A -t "service=shop-app" -c "SELECT pg_sleep(0.3), 'slow one'" >/dev/null
pgss=$(admin -c "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'pg_stat_statements'")
queryid=$(admin -c "SELECT queryid FROM $pgss.pg_stat_statements WHERE query LIKE '%pg_sleep%' LIMIT 1")
ok "the slow statement is in pg_stat_statements" -- test -n "$queryid"
run alert --check slow_queries --warning 100ms
is "$RC" 1 "a statement slower than the threshold since the last run: WARNING"
like "$OUT" "slow_queries WARNING: queryid $queryid: [0-9]+ms per call since the last run \(1 calls\): SELECT pg_sleep\(\\\$1\), \\\$2" \
	"the queryid, mean time, calls and normalised text"
like "$OUT" "'slow_queries:$queryid'=0\.[0-9]+s;0\.1;;0" "perfdata per statement in seconds"
run alert --check slow_queries --warning 100ms
is "$RC" 0 "the next run sees no new slow call: OK again"
# The state file says pg_stat_statements is not there (as if it came back
# since): the plan chosen from it is asked again, the server believed.
state=$(ls -t "$S"/alert-*.json | head -1)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["facts"]["pg_stat_statements"]=None; json.dump(d,open(sys.argv[1],"w"))' "$state"
run alert --check slow_queries --warning 100ms --format json
is "$(json_get "$OUT" '[c["state"] for c in d["targets"][0]["checks"] if c["name"] == "slow_queries"][0]')" OK \
	"a state file that lost pg_stat_statements: still asked, still OK"
is "$(json_get "$(cat "$state")" 'd["facts"]["pg_stat_statements"]')" "$pgss" "and the state file has its schema again"

# Counter checks: deltas, not ratios since the stats reset.
run alert --check hitratio,deadlocks --no-state --format json
is "$(json_get "$OUT" '[c["text"] for c in d["targets"][0]["checks"] if c["name"] == "hitratio"][0]')" \
	"first sample: judged from the next run on" "without a previous sample a ratio is not judged"
run alert --check hitratio,deadlocks
run alert --check hitratio,deadlocks --format prometheus
like "$OUT" 'pgp_alert_blocks_hit_total\{target="shop-monitor",datname="shop"\} [0-9]+' "cumulative counters for Prometheus"
like "$OUT" '# TYPE pgp_alert_deadlocks_total counter' "typed as counters"

# A certificate that expires in 10 days.
san=$(openssl x509 -in "$dir/tls/server.crt" -noout -ext subjectAltName | tail -1 | sed 's/^ *//; s/IP Address/IP/g')
cn=$(openssl x509 -in "$dir/tls/server.crt" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
openssl req -new -key "$dir/tls/server.key" -subj "/CN=$cn" 2>/dev/null |
	openssl x509 -req -CA "$dir/tls/ca.crt" -CAkey "$dir/tls/ca.key" -days 10 \
		-extfile <(printf 'subjectAltName=%s\n' "$san") -out "$dir/tls/server.crt.new" 2>/dev/null
ok "a 10-day certificate was made" -- test -s "$dir/tls/server.crt.new"
cat "$dir/tls/server.crt.new" >"$dir/tls/server.crt"
admin -c "SELECT pg_reload_conf()" >/dev/null
ok "the server uses it" -- wait_for "SELECT true"
for i in $(seq 50); do
	run alert --check certificate
	[ "$RC" = 1 ] && break
	sleep 0.1
done
is "$RC" 1 "a certificate that expires in 10 days: WARNING"
like "$OUT" "certificate WARNING: server certificate expires in 9d2[0-3]h|certificate WARNING: server certificate expires in 10d" "in days"
like "$OUT" "'certificate'=8[0-9]{5}s;2592000;604800;0" "perfdata in seconds"

# Bloat: measured with pgstattuple, only when named or with --daily.
admin -c "CREATE TABLE public.fat (id int, pad text);
          INSERT INTO public.fat SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
          DELETE FROM public.fat WHERE id % 10 <> 0" >/dev/null
run alert --check bloat --warning 1MB --critical 1GB
is "$RC" 1 "a table with most rows deleted: bloat WARNING"
like "$OUT" "bloat WARNING: public.fat wastes [0-9.]+MB \(table of [0-9.]+ [kM]B\)" "the table, what it wastes and its size"
like "$OUT" "'bloat:public.fat'=[0-9]+B;1048576;1073741824;0" "bytes as perfdata"
# A statement that would wait for a lock gives up after lock_timeout:
# that check is UNKNOWN with the server's reason, the others answer.
session 7 locker
printf 'BEGIN;\nLOCK TABLE public.fat IN ACCESS EXCLUSIVE MODE;\n' >&7
ok "the table is locked" -- wait_for \
	"SELECT count(*) = 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'fat' AND l.mode = 'AccessExclusiveLock' AND l.granted"
run alert --check bloat,backends
is "$RC" 3 "bloat behind a lock: UNKNOWN"
like "$OUT" "bloat UNKNOWN: canceling statement due to lock timeout" "with the server's reason"
like "$OUT" "'backends'=[0-9]+;" "and the other checks still answer"
exec 7>&-
ok "the lock is released" -- wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'locker'"
run alert --format json
is "$(json_get "$OUT" '[c["name"] for c in d["targets"][0]["checks"] if c["name"] == "bloat"]')" "[]" "not in an ordinary run"
run alert --daily --format json
is "$(json_get "$OUT" '[c["state"] for c in d["targets"][0]["checks"] if c["name"] == "bloat"]')" '["OK"]' \
	"--daily adds it (under the default 1GB)"

# Usage and configuration errors are UNKNOWN.
run alert --check no_such_check
is "$RC" 3 "an unknown check is a usage error: UNKNOWN"
like "$ERR" 'unknown check "no_such_check"' "naming it"
run alert --check locks --warning 5x
is "$RC" 3 "a bad threshold: UNKNOWN"
like "$ERR" '"5x": unknown unit "x"' "naming the unit"
run alert --warning 5s
is "$RC" 3 "--warning without --check: UNKNOWN"
run alert --check locks,backends --warning 5s
is "$RC" 3 "--warning with two checks: UNKNOWN"
done_testing
