#!/usr/bin/env bash
# pgp-alert's replication checks against a real primary and a streaming
# standby made with pg_basebackup: the standby seen from the primary, an
# idle primary that is no lag on the standby, a paused replay whose delay
# grows, a standby gone (its row vanishes, its slot goes inactive), and
# every other check on a standby.
. "$(dirname "$0")/lib.sh"
need python3
pg_start
primary="host=$PGHOST port=$PGPORT dbname=postgres user=postgres"
sdir=$(mktemp -d /tmp/pgps.XXXXXX)
sport=$(free_port)
chown postgres: "$sdir" 2>/dev/null
chmod 700 "$sdir"
at_exit "as_pg '$PG_BINDIR/pg_ctl' -D '$sdir/data' -m immediate stop; rm -rf '$sdir'"
as_pg "$PG_BINDIR/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$sdir/data" -R -X stream \
	-C -S standby1 >"$sdir/basebackup.log" 2>&1 || { cat "$sdir/basebackup.log"; echo "Bail out! pg_basebackup failed"; exit 1; }
as_pg "$PG_BINDIR/pg_ctl" -D "$sdir/data" -l "$sdir/server.log" -w \
	-o "-p $sport -k $sdir -c cluster_name=standby1 -c hot_standby=on" start >/dev/null ||
	{ cat "$sdir/server.log"; echo "Bail out! the standby did not start"; exit 1; }
standby="host=$sdir port=$sport dbname=postgres user=postgres"
S=$sdir/state
alert() { pgp-alert -c /dev/null --state-dir "$S" "$@"; }
on() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
wait_on() {
	local i
	for i in $(seq 300); do
		[ "$(on "$1" -c "$2" 2>/dev/null)" = t ] && return 0
		sleep 0.1
	done
	return 1
}

on "$primary" -c "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"
ok "the standby streams" -- wait_on "$primary" \
	"SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'standby1' AND state = 'streaming'"
ok "and has replayed everything" -- wait_on "$standby" \
	"SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AND pg_last_xact_replay_timestamp() IS NOT NULL"

run alert -d "$primary" --check replication,replication_slots
is "$RC" 0 "primary with a streaming standby: OK"
like "$OUT" "'replication:standby1'=[0-9.]+s;30;300;0" "the standby's replay lag in the perfdata"
like "$OUT" "'replication_slots:standby1'=[0-9]+B;1073741824;5368709120;0" "its slot, active"
run alert -d "$primary" --check replication --expect-standbys 1
is "$RC" 0 "one standby expected, one streaming: OK"
run alert -d "$primary" --check replication --format prometheus
like "$OUT" 'pgp_alert_replication_lag_bytes\{target="[^"]*",standby="standby1"\} [0-9]+' "lag in bytes for Prometheus"

# An idle primary is no lag on the standby.
run alert -d "$standby" --check replication --format json
is "$RC" 0 "the standby, caught up and streaming: OK"
is "$(json_get "$OUT" '[c for c in d["targets"][0]["checks"] if c["name"] == "replication"][0]["value"]')" 0.0 \
	"its replay delay reads 0, however long ago the last transaction was"
is "$(json_get "$OUT" 'd["targets"][0]["in_recovery"]')" true "JSON: in recovery"

# Every check answers on a standby (pg_stat_statements is not installed).
run alert -d "$standby" --format json
is "$(json_get "$OUT" 'sorted(c["name"] for c in d["targets"][0]["checks"] if c["state"] == "UNKNOWN")')" '["slow_queries"]' \
	"on a standby nothing else is UNKNOWN"

# A paused replay: the delay grows.
on "$standby" -c "SELECT pg_wal_replay_pause()" >/dev/null
ok "replay is paused" -- wait_on "$standby" "SELECT pg_get_wal_replay_pause_state() = 'paused'"
on "$primary" -c "INSERT INTO t VALUES (2)"
ok "WAL arrives and is not replayed" -- wait_on "$standby" \
	"SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"
for i in $(seq 100); do
	run alert -d "$standby" --check replication --warning 1ms --critical 1h
	[ "$RC" = 1 ] && break
	sleep 0.1
done
is "$RC" 1 "a paused standby's delay passes the threshold: WARNING"
like "$OUT" "replication WARNING: this server replay lag [0-9.]+m?s \(standby: WAL receiver streaming, replay paused" \
	"the text says replay is paused"
lag=0
for i in $(seq 100); do
	run alert -d "$primary" --check replication --format prometheus
	lag=$(printf '%s\n' "$OUT" | sed -n 's/^pgp_alert_replication_lag_bytes{.*standby="standby1"} //p')
	[ "${lag:-0}" != 0 ] && break
	sleep 0.1
done
ok "the primary sees the WAL not replayed, in bytes ($lag)" -- test "${lag:-0}" != 0
on "$standby" -c "SELECT pg_wal_replay_resume()" >/dev/null
ok "replay resumes and catches up" -- wait_on "$standby" "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
run alert -d "$standby" --check replication
is "$RC" 0 "caught up again: OK"

# A standby gone: its row vanishes, its slot goes inactive.
as_pg "$PG_BINDIR/pg_ctl" -D "$sdir/data" -m fast -w stop >/dev/null
ok "the standby has left pg_stat_replication" -- wait_on "$primary" "SELECT count(*) = 0 FROM pg_stat_replication"
run alert -d "$primary" --check replication,replication_slots
is "$RC" 1 "a standby gone is seen through its slot: WARNING"
like "$OUT" "replication_slots WARNING: slot standby1 retains [0-9.]+[kMG]?B of WAL \(physical slot, inactive" "the slot is inactive"
unlike "$OUT" "replication (WARNING|CRITICAL)" "no standby row is not itself an alarm"
run alert -d "$primary" --check replication --expect-standbys 1
is "$RC" 2 "with one standby expected, none connected: CRITICAL"
like "$OUT" "replication CRITICAL: 0 of 1 expected standbys connected \(no standby connected\)" "counting the rows"
done_testing
