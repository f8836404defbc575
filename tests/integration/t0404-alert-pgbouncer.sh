#!/usr/bin/env bash
# pgp-alert against Debian's PgBouncer 1.18 admin console: simple
# queries, no session settings, no options startup parameter; a pool
# whose one server connection is taken, a client waiting for it, the
# saturation and the wait reported; a console that will not answer is
# the connection's CRITICAL, not a hang.
. "$(dirname "$0")/lib.sh"
need "$PGBOUNCER" "PgBouncer (Debian's pgbouncer)"
need promtool "promtool (Debian package prometheus)"
pg_start
bdir=$(mktemp -d /tmp/pgpq.XXXXXX)
bport=$(free_port)
printf '"stats" ""\n"app" ""\n' >"$bdir/userlist.txt"
cat >"$bdir/pgbouncer.ini" <<INI
[databases]
app = host=$PGHOST port=$PGPORT dbname=postgres user=postgres pool_size=1
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $bdir/userlist.txt
stats_users = stats
pool_mode = transaction
default_pool_size = 1
reserve_pool_size = 0
max_client_conn = 20
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
INI
is_root && chown -R postgres: "$bdir"
at_exit "kill \$(cat '$bdir/pgbouncer.pid'); rm -rf '$bdir'"
as_pg "$PGBOUNCER" -d "$bdir/pgbouncer.ini" >/dev/null 2>&1 || { echo "Bail out! PgBouncer did not start"; exit 1; }
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$bport") 2>/dev/null && break; sleep 0.1; done
console="host=127.0.0.1 port=$bport dbname=pgbouncer user=stats sslmode=disable"
app="host=127.0.0.1 port=$bport dbname=app user=app sslmode=disable"
alert() { pgp-alert -c /dev/null --no-state "$@"; }
show_pools() { psql -X -q -A -t -F ' ' "$console" -c "SHOW POOLS" 2>/dev/null | grep '^app '; }

psql -X -q -A -t "$app" -c "SELECT 1" >/dev/null
run alert --pgbouncer "$console"
is "$RC" 0 "an idle PgBouncer: OK"
like "$OUT" "^PGP-ALERT OK - 5 checks OK [|] 'connection'=[0-9.]+s;;;0 'pgbouncer_backends'=[0-9]+;16;18;0;20" \
	"client connections against max_client_conn (80%/90% of 20)"
like "$OUT" "'pgb_pool_cl_waiting:app/postgres'=0;1;;0" "clients waiting per pool"
like "$OUT" "'pgb_pool_saturation:app/postgres'=0;0.8;1;0;1" "server connections against the pool size"
unlike "$(cat "$bdir/pgbouncer.log")" "unsupported startup parameter|invalid command|SET " "the console saw no session settings"

# One client holds the pool's only server connection; another waits.
mkfifo "$bdir/holder.fifo"
psql -X -q "$app application_name=holder" <"$bdir/holder.fifo" >/dev/null 2>&1 &
exec 7>"$bdir/holder.fifo"
printf 'BEGIN;\nSELECT 1;\n' >&7
for i in $(seq 300); do [ "$(show_pools | awk '{print $7}')" = 1 ] && break; sleep 0.1; done
psql -X -q -A -t "$app application_name=waiter" -c "SELECT 2" >"$bdir/waiter.out" 2>&1 7>&- &
waiter=$!
for i in $(seq 300); do [ "$(show_pools | awk '{print $4}')" = 1 ] && break; sleep 0.1; done
is "$(show_pools | awk '{print $4}')" 1 "a client waits in PgBouncer (SHOW POOLS)"
run alert --pgbouncer "$console"
is "$RC" 2 "a full pool with a client waiting: CRITICAL (exit 2)"
like "$OUT" "pgb_pool_saturation CRITICAL: pool app/postgres: 1 of 1 server connections in use \(100\.0%\)" "the pool is saturated"
like "$OUT" "pgb_pool_cl_waiting WARNING: pool app/postgres: 1 clients waiting" "and a client waits"
for i in $(seq 100); do
	run alert --pgbouncer "$console" --check pgbouncer_maxwait --warning 1ms --critical 1h
	[ "$RC" = 1 ] && break
	sleep 0.1
done
is "$RC" 1 "the longest wait passes its threshold: WARNING"
like "$OUT" "pgbouncer_maxwait WARNING: pool app/postgres: a client has waited [0-9.]+m?s \(1 waiting\)" "with how long"
run alert --pgbouncer "$console" --format prometheus
printf '%s\n' "$OUT" >"$bdir/pgb.prom"
like "$OUT" 'pgp_alert_pgbouncer_clients_waiting\{target="[^"]+",pool="app/postgres"\} 1' "waiting clients for Prometheus"
like "$OUT" 'pgp_alert_pgbouncer_server_active\{target="[^"]+",pool="app/postgres"\} 1' "active server connections"
run promtool check metrics <"$bdir/pgb.prom"
is "$RC:$OUT$ERR" "0:" "promtool accepts it"

# The server and its pooler in one run, kept apart.
run alert -d "host=$PGHOST port=$PGPORT dbname=postgres user=postgres" --pgbouncer "$console" \
	--check connection,backends,pgb_pool_cl_waiting --format json
is "$(json_get "$OUT" '[[c["name"] for c in t["checks"]] for t in d["targets"]]')" \
	'[["connection", "backends"], ["connection", "pgb_pool_cl_waiting"]]' "each target answers its own checks"
exec 7>&-
wait "$waiter"
is "$(cat "$bdir/waiter.out")" 2 "the waiting client got its answer once the pool was free"

# A console that will not let us in is the connection's CRITICAL.
cat >"$bdir/pgp.conf" <<CONF
connection = { connect_timeout = 2; };
CONF
run pgp-alert -c "$bdir/pgp.conf" --no-state --pgbouncer "host=127.0.0.1 port=$bport dbname=pgbouncer user=nobody sslmode=disable"
is "$RC" 2 "an unknown user on the console: CRITICAL, within the connect timeout"
like "$OUT" "^PGP-ALERT CRITICAL - connection CRITICAL: " "said as the connection check"
done_testing
