#!/usr/bin/env bash
# pgp-alert --all: every target of the configuration checked concurrently,
# a refusing and a silent target among them reported as the connection's
# CRITICAL while the others still answer; Prometheus text on stdout and
# as node_exporter textfiles (atomic, one per target, promtool-clean); a
# server that goes down between two runs, and its counters kept for the
# run after it comes back.
. "$(dirname "$0")/lib.sh"
need promtool "promtool (Debian package prometheus)"
need python3
pg_start
psql_q -c "CREATE DATABASE other" >/dev/null
dir=$(mktemp -d /tmp/pgpf.XXXXXX)
at_exit "rm -rf '$dir'"
refused=$(free_port)
# A silent server: accepts TCP connections and never says a word.
silent=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
time.sleep(300)' "$silent" &
at_exit "kill $!"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$silent") 2>/dev/null && break; sleep 0.1; done

cat >"$dir/pgp.conf" <<CONF
connection = { connect_timeout = 2; };
targets = {
  main = { conninfo = "host=$PGHOST port=$PGPORT dbname=postgres user=postgres"; };
  other = { conninfo = "host=$PGHOST port=$PGPORT dbname=other user=postgres"; };
  refused = { conninfo = "host=127.0.0.1 port=$refused dbname=x user=x sslmode=disable"; };
  silent = { conninfo = "host=127.0.0.1 port=$silent dbname=x user=x sslmode=disable"; };
};
CONF
S=$dir/state
checks=connection,backends,hitratio,locks,txn_wraparound,database_size
alert() { pgp-alert -c "$dir/pgp.conf" --state-dir "$S" --check "$checks" "$@"; }
first_line() { printf '%s\n' "$1" | head -1; }

run alert --all
is "$RC" 2 "--all with an unreachable target: CRITICAL (exit 2)"
like "$(first_line "$OUT")" "^PGP-ALERT CRITICAL - (refused|silent) connection CRITICAL, (refused|silent) connection CRITICAL [|]" \
	"the first line names the targets that are down"
like "$OUT" "refused: connection CRITICAL: connection to server at \"127.0.0.1\", port $refused failed: Connection refused" \
	"a long-output line per target that is down, with libpq's reason"
like "$OUT" "silent: connection CRITICAL: timeout expired while connecting" "a silent server costs its connect_timeout, not a hang"
like "$OUT" "'main/connection'=[0-9.]+s" "the reachable targets are still reported (main)"
like "$OUT" "'other/database_size:other'=[0-9]+B" "(other, with its own perfdata)"
unlike "$OUT" "(main|other): [a-z_]+ (WARNING|CRITICAL|UNKNOWN)" "the reachable targets are OK"
like "$ERR" 'target "refused": connection to server' "stderr says which target failed"

run alert --all --format json
is "$(json_get "$OUT" '[t["name"] for t in d["targets"]]')" '["main", "other", "refused", "silent"]' "JSON: every target, apart"
is "$(json_get "$OUT" '[t["up"] for t in d["targets"]]')" '[true, true, false, false]' "JSON: up per target"
is "$(json_get "$OUT" '[t["state"] for t in d["targets"]]')" '["OK", "OK", "CRITICAL", "CRITICAL"]' "JSON: state per target"
[ "$(json_get "$OUT" '[t["state"] for t in d["targets"]]')" = '["OK", "OK", "CRITICAL", "CRITICAL"]' ] ||
	diag "$(json_get "$OUT" '[(t["name"], c["name"], c["state"], c["text"]) for t in d["targets"] for c in t["checks"] if c["state"] != "OK"]')"
is "$(json_get "$OUT" 'd["state"] + " " + str(d["exit"])')" "CRITICAL 2" "JSON: the run's state and exit"
is "$(json_get "$OUT" '[t["database"] for t in d["targets"] if t["up"]]')" '["postgres", "other"]' "each target's own database"

run alert --all --max-parallel 1 --format json
is "$(json_get "$OUT" '[t["state"] for t in d["targets"]]')" '["OK", "OK", "CRITICAL", "CRITICAL"]' "--max-parallel 1: the same answers"

run alert --all --format prometheus
is "$RC" 2 "Prometheus on stdout: the exit status is still the worst state"
printf '%s\n' "$OUT" >"$dir/all.prom"
run promtool check metrics <"$dir/all.prom"
is "$RC:$OUT$ERR" "0:" "promtool check metrics accepts the text of every target"
like "$(cat "$dir/all.prom")" 'pgp_alert_up\{target="main"\} 1' "pgp_alert_up 1 for main"
like "$(cat "$dir/all.prom")" 'pgp_alert_up\{target="refused"\} 0' "pgp_alert_up 0 for refused"
like "$(cat "$dir/all.prom")" 'pgp_alert_check_status\{target="silent",check="connection"\} 2' "the connection check's status 2"
is "$(grep -c '^# TYPE pgp_alert_up ' "$dir/all.prom")" 1 "one TYPE line per family"
unlike "$(grep -v '^#' "$dir/all.prom")" ' [0-9.e+-]+ [0-9]+$' "no timestamps"

tf=$dir/textfiles
mkdir "$tf"
run alert --all --textfile-dir "$tf"
is "$RC" 2 "--textfile-dir: the exit status is the worst state"
is "$OUT" "" "nothing on stdout"
is "$(ls "$tf" | tr '\n' ' ')" "pgp_alert_main.prom pgp_alert_other.prom pgp_alert_refused.prom pgp_alert_silent.prom " \
	"one file per target, no temporary file left"
for t in main other refused silent; do
	run promtool check metrics <"$tf/pgp_alert_$t.prom"
	is "$RC:$OUT$ERR" "0:" "promtool accepts pgp_alert_$t.prom"
done
like "$(cat "$tf/pgp_alert_main.prom")" '# TYPE pgp_alert_blocks_hit_total counter' "counters typed as counters, with _total"
like "$(cat "$tf/pgp_alert_main.prom")" 'pgp_alert_database_size_bytes\{target="main",datname="postgres"\} [0-9]+' "sizes in bytes"
like "$(cat "$tf/pgp_alert_main.prom")" 'pgp_alert_last_run_timestamp_seconds\{target="main"\} [0-9]{10}' "the run's timestamp"
unlike "$(cat "$tf/pgp_alert_main.prom")" 'target="other"' "each file holds its own target"
like "$(cat "$tf/pgp_alert_silent.prom")" 'pgp_alert_up\{target="silent"\} 0' "a target that is down still gets its file"
run alert -t main --textfile-dir "$dir/nonexistent"
is "$RC" 3 "a textfile that cannot be written: UNKNOWN, not a silent OK"
like "$ERR" "$dir/nonexistent/pgp_alert_main.prom" "naming the file"
# A full textfile directory: the last good file stays, nothing half-written appears.
full=$dir/full
mkdir -p "$full"
if mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null; then
	at_exit "umount '$full'"
	run alert -t main --textfile-dir "$full"
	is "$RC" 0 "a textfile written while there is room"
	good=$(sha256sum <"$full/pgp_alert_main.prom")
	head -c 200000 /dev/zero >"$full/filler" 2>/dev/null
	run alert -t main --textfile-dir "$full"
	is "$RC" 3 "the textfile directory full: UNKNOWN (exit 3)"
	like "$ERR" "No space left on device" "saying why"
	is "$(sha256sum <"$full/pgp_alert_main.prom")" "$good" "the previous textfile is untouched"
	is "$(ls -A "$full" | grep -v -e '^filler$' -e '^pgp_alert_main.prom$' | wc -l)" 0 "and no temporary file is left"
elif [ "${CI:-}" = true ] && is_root; then
	_result 0 "mount a small tmpfs for the full-directory case (needed under CI as root)"
else
	echo "ok $((_tap_n + 1)) # skip cannot mount a tmpfs"; _tap_n=$((_tap_n + 1))
fi

# One session per target, few statements, no SET, named pgp-alert: the
# server's own log says so.
psql_q -c "ALTER SYSTEM SET log_line_prefix = '%a|%c|'" -c "ALTER SYSTEM SET log_statement = 'all'" \
	-c "ALTER SYSTEM SET log_connections = on" -c "SELECT pg_reload_conf()" >/dev/null
for i in $(seq 100); do [ "$(psql_q -c "SHOW log_statement")" = all ] && break; sleep 0.1; done
before=$(wc -l <"$PGDIR/server.log")
run alert -t main --check connection,backends,locks,hitratio,txn_wraparound,database_size
is "$RC" 0 "a run with the server logging every statement"
for i in $(seq 100); do tail -n +"$((before + 1))" "$PGDIR/server.log" | grep -q '^pgp-alert|.*execute' && break; sleep 0.1; done
log=$(tail -n +"$((before + 1))" "$PGDIR/server.log" | grep '^pgp-alert|')
is "$(printf '%s\n' "$log" | cut -d'|' -f2 | sort -u | wc -l)" 1 "one backend session for the run"
is "$(printf '%s\n' "$log" | grep -cE 'LOG:  (statement|execute)')" 4 \
	"four statements: the facts, then three for six checks (activity, databases, sizes)"
unlike "$log" "LOG:  (statement|execute [^:]*): *(SET|set) " "no SET: the settings came in the startup packet"
like "$(tail -n +"$((before + 1))" "$PGDIR/server.log")" "connection authorized: user=postgres database=postgres application_name=pgp-alert" \
	"fallback_application_name is pgp-alert"
psql_q -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null

# Round trips, counted by a proxy in front of the server (5 ms each way,
# so that a client slowed down, by ASan say, still sends a pipeline before
# the first answer is back; the count is of the server's turns): the
# startup's, then one for the facts and the checks together when the plan
# rests on nothing the server has not said yet (the version and
# in_hot_standby come with the startup; the extensions' schemas from the
# previous run's state file), else the facts first.  A state file the
# facts contradict costs one more, never a wrong answer.
rport=$(free_port)
python3 "$PGP_SRC/tests/bench/delay-proxy.py" "$PGHOST/.s.PGSQL.$PGPORT" 5 "$rport" 1 >"$dir/proxy.out" 2>&1 &
at_exit "kill $!"
for i in $(seq 100); do grep -q ready "$dir/proxy.out" && break; sleep 0.1; done
# rtt N: the round trips of the Nth connection through the proxy.
rtt() {
	for i in $(seq 100); do [ "$(grep -c '^conn ' "$dir/proxy.out")" -ge "$1" ] && break; sleep 0.1; done
	grep '^conn ' "$dir/proxy.out" | sed -n "${1}p" | cut -d' ' -f4
}
far=(pgp-alert -c /dev/null -d "host=127.0.0.1 port=$rport dbname=postgres user=postgres sslmode=disable")
states='[(c["name"], c["state"]) for t in d["targets"] for c in t["checks"]]'
run "${far[@]}" --no-state --check "$checks"
is "$RC:$(rtt 1)" "0:2" "named checks that rest on no fact: startup, then facts and checks in one pipeline"
run "${far[@]}" --state-dir "$dir/far" --format json
first=$(json_get "$OUT" "$states")
is "$(rtt 2)" 3 "every check, no state yet: the facts (pg_stat_statements' schema) first"
run "${far[@]}" --state-dir "$dir/far" --format json
is "$(rtt 3)" 2 "the next run: the schemas from the state file, one round trip less"
is "$(json_get "$OUT" "$states")" "$first" "and the same checks in the same states"
farstate=$(ls "$dir"/far/alert-*.json)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["facts"]["pg_stat_statements"]="ext"; json.dump(d,open(sys.argv[1],"w"))' "$farstate"
run "${far[@]}" --state-dir "$dir/far" --format json
is "$(rtt 4)" 3 "a state file the server contradicts: the checks asked again"
is "$(json_get "$OUT" "$states")" "$first" "with the same answers"
like "$(json_get "$OUT" '[c["text"] for t in d["targets"] for c in t["checks"] if c["name"] == "slow_queries"]')" \
	"pg_stat_statements is not installed" "what the server says, not what the state file said"
is "$(json_get "$(cat "$farstate")" 'd["facts"]["pg_stat_statements"]')" null "and the state file corrected"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["facts"]["pg_stat_statements"]="x\"; SELECT 1; --"; json.dump(d,open(sys.argv[1],"w"))' "$farstate"
run "${far[@]}" --state-dir "$dir/far" --format json
is "$(rtt 5)" 3 "a schema not in quote_ident's form is not put into SQL: the facts first"
is "$(json_get "$OUT" "$states")" "$first" "(the same answers)"

# A second run while another holds the target's lock goes on without state.
# The subshell becomes the sleep that holds the lock: killing it frees it.
(exec 9>"$S/alert-main.lock"; flock 9; exec sleep 60) &
locker=$!
at_exit "kill $locker"
for i in $(seq 100); do flock -n "$S/alert-main.lock" true 2>/dev/null || break; sleep 0.1; done
run alert -t main
is "$RC" 0 "the lock held elsewhere: the checks still run"
like "$ERR" "another pgp-alert .* holds $S/alert-main.lock: this run keeps no state" "and it says why there are no deltas"
kill "$locker"
wait "$locker" 2>/dev/null

# disk_space: the local server's file systems, statvfs'd by pgp-alert.
run alert -t main --check disk_space
is "$RC" 0 "disk_space of a local server"
like "$OUT" "'disk_space:data'=[0-9.]+%;85;95;0;100 'disk_space:pg_wal'=[0-9.]+%;85;95;0;100" \
	"the data directory's and pg_wal's file systems, as a share used"
run alert -t main --check disk_space --format prometheus
like "$OUT" 'pgp_alert_disk_free_bytes\{target="main",fs="pg_wal"\} [0-9]+' "free bytes for Prometheus"
if is_root; then
	# The data directory is 0700: a monitoring user that is not postgres cannot look inside.
	run runuser -u nobody -- pgp-alert -c /dev/null -d "host=$PGHOST port=$PGPORT dbname=postgres user=postgres" \
		--no-state --check disk_space
	is "$RC" 3 "a data directory the monitoring user may not stat: UNKNOWN"
	like "$OUT" "disk_space UNKNOWN: cannot stat $PGDIR/data/pg_wal: Permission denied" "with the reason"
	unlike "$OUT" "'disk_space" "and no partial perfdata"
fi
run alert -t refused --check disk_space
unlike "$OUT" "disk_space" "a server that is down: nothing claimed about its disks"

# A server that goes down between two runs, then comes back.
run alert -t main
is "$RC" 0 "main is OK"
ok "its state file was written" -- test -s "$S/alert-main.json"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null
run alert -t main
is "$RC" 2 "the server went down: CRITICAL (exit 2)"
like "$(first_line "$OUT")" "^PGP-ALERT CRITICAL - connection CRITICAL: connection to server on socket \"$PGHOST/.s.PGSQL.$PGPORT\" failed: No such file or directory" \
	"the connection check says why"
is "$(printf '%s\n' "$OUT" | grep -c CRITICAL)" 2 "and nothing else is claimed about a server that is down"
run alert -t main --format prometheus
like "$OUT" 'pgp_alert_up\{target="main"\} 0' "Prometheus: pgp_alert_up 0"
ok "the counters of the last good run are kept" -- \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["counters"]["hitratio"]["postgres"][0] > 0 else 1)' "$S/alert-main.json"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w start >/dev/null
run alert -t main --format json
is "$(json_get "$OUT" 'd["state"]')" OK "back up: OK"
unlike "$(json_get "$OUT" '[c["text"] for c in d["targets"][0]["checks"] if c["name"] == "hitratio"][0]')" "first sample" \
	"deltas go on from the counters before the outage"
done_testing
