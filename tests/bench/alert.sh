#!/usr/bin/env bash
# Benchmark (not a test): pgp-alert against check_postgres (Debian
# check-postgres) on a pgbench database of scale S, over a unix socket,
# interleaved, ROUNDS rounds of:
#   C  check_postgres's 10 actions as 10 invocations, as cron runs them
#      (connection, backends, txn_idle, txn_time, query_time, locks,
#      hitratio, txn_wraparound, database_size, last_vacuum)
#   P  one pgp-alert run of the same 10 checks, its state file written
# wall time, client CPU (user+sys of the command and all it waited for,
# by wait4: tests/bench/rusage.py), server CPU (the postmaster's reaped
# backends) and backend connections ("connection authorized" lines, with
# log_connections = on).  Then a fleet: 50 targets, each behind a loopback
# TCP proxy that adds 20 ms each way (tests/bench/delay-proxy.py):
#   F1 pgp-alert -t of one such target    F  pgp-alert --all of all 50
#   with alert.max_parallel 16 (the default: 50 targets are at least 4
#   turns of 16, so >= 3.1x one target's time by arithmetic) and with
#   --max-parallel 50 given explicitly (all at once: the 3x target is
#   judged there); peak RSS of F.  The round trips of one target, as the
#   proxy counts them (runs of packets from the server).
# Medians and ratios at the end.  Run as root from the top of the tree:
#   tests/bench/alert.sh [ROUNDS] [SCALE]        (PGP_BIN=DIR: the programs)
# PGP_BIN_BEFORE=DIR also measures DIR/pgp-alert in the same rounds (rows
# Pb, F1b, F16b, F50b, right after their counterparts): a before and an
# after on the same machine state.
set -u
rounds=${1:-10} scale=${2:-10}
export PGP_BIN=${PGP_BIN:-$PWD/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh" >/dev/null
need check_postgres "check_postgres (Debian check-postgres)"
pg_start >/dev/null
work=$(mktemp -d /tmp/pgpab.XXXXXX)
at_exit "rm -rf '$work'"
# TCP for the proxies, every connection in the log, room for the fleet.
psql -X -q -c "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" -c "ALTER SYSTEM SET log_connections = on" \
	-c "ALTER SYSTEM SET max_connections = 200" || exit 1
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w restart >/dev/null || exit 1
createdb bench && "$PG_BINDIR/pgbench" -q -i -s "$scale" bench >/dev/null 2>&1 || exit 1
psql -X -q -d bench -c "VACUUM ANALYZE" || exit 1
export PGDATABASE=bench
log=$PGDIR/server.log
postmaster=$(head -1 "$PGDIR/data/postmaster.pid")
conns() { grep -c 'connection authorized' "$log"; }
# The postmaster's children's CPU (backends it reaped), in ms.
server_ms() { awk '{ print ($16 + $17) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$postmaster/stat"; }

cat >"$work/cron10.sh" <<'SH'
check_postgres --action=connection
check_postgres --action=backends
check_postgres --action=txn_idle -w 60s -c 300s
check_postgres --action=txn_time -w 5m -c 15m
check_postgres --action=query_time -w 2m -c 5m
check_postgres --action=locks
check_postgres --action=hitratio -w 90% -c 80%
check_postgres --action=txn_wraparound
check_postgres --action=database_size -w 10GB -c 20GB
check_postgres --action=last_vacuum
SH
checks=connection,backends,txn_idle,txn_time,query_time,locks,hitratio,txn_wraparound,database_size,last_vacuum
mkdir -p "$work/state" "$work/state-b"
before=${PGP_BIN_BEFORE:+$PGP_BIN_BEFORE/pgp-alert}
pgp=(pgp-alert -c /dev/null -d "host=$PGHOST port=$PGPORT dbname=bench user=postgres" --state-dir "$work/state" --check "$checks")
pgpb=("$before" "${pgp[@]:1}")
pgpb[6]=$work/state-b
# measure NAME CMD...: one line "NAME wall user sys maxrss exit conns server_ms" to rounds.
measure() {
	local name=$1 c0 s0 r; shift
	c0=$(conns) s0=$(server_ms)
	r=$(python3 "$here/rusage.py" "$@")
	sleep 0.2	# the last backend's exit is logged and reaped
	echo "$name $r $(( $(conns) - c0 )) $(echo "$(server_ms) - $s0" | bc)" >>"$work/rounds"
}
# Cron's environment: PATH, and the connection in PG* variables.
cron_env=(env -i PATH=/usr/bin:/bin PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=bench)
"${cron_env[@]}" sh "$work/cron10.sh" >/dev/null 2>&1
"${pgp[@]}" >/dev/null 2>&1
[ -n "$before" ] && "${pgpb[@]}" >/dev/null 2>&1
echo "pgbench scale $scale, PostgreSQL $(psql -X -A -t -c 'SHOW server_version'), $(check_postgres --version);" \
	"$rounds interleaved rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/rounds"
for r in $(seq "$rounds"); do
	measure C "${cron_env[@]}" sh "$work/cron10.sh"
	measure P "${pgp[@]}"
	[ -n "$before" ] && measure Pb "${pgpb[@]}"
done

# The fleet: 50 targets behind one proxy process, 50 ports, 20 ms each way.
base=$(python3 -c '
import socket
for b in range(31000, 60000, 97):
    try:
        ss = [socket.socket() for _ in range(50)]
        [s.bind(("127.0.0.1", b + i)) for i, s in enumerate(ss)]
        print(b); break
    except OSError:
        pass
    finally:
        [s.close() for s in ss]')
python3 "$here/delay-proxy.py" "$PGPORT" 20 "$base" 50 >"$work/proxy.out" 2>&1 &
proxy=$!
at_exit "kill $proxy"
for i in $(seq 100); do grep -q ready "$work/proxy.out" && break; sleep 0.1; done
{
	echo "alert = { max_parallel = 16; };"
	echo "targets = {"
	for i in $(seq 0 49); do
		printf '  t%02d = { conninfo = "host=127.0.0.1 port=%d dbname=bench user=postgres sslmode=disable"; };\n' "$i" $((base + i))
	done
	echo "};"
} >"$work/fleet.conf"
fleet=(pgp-alert -c "$work/fleet.conf" --state-dir "$work/state" --check "$checks")
fleetb=("$before" "${fleet[@]:1}")
fleetb[4]=$work/state-b
# rtt BINARY...: the round trips of a run of t00, as its proxy counts them.
rtt() {
	local n
	sleep 0.5	# the connections of runs before have closed
	n=$(grep -c "^conn $base " "$work/proxy.out")
	"$@" -t t00 >/dev/null 2>&1
	for i in $(seq 50); do [ "$(grep -c "^conn $base " "$work/proxy.out")" -gt "$n" ] && break; sleep 0.1; done
	grep "^conn $base " "$work/proxy.out" | tail -1 | cut -d' ' -f4
}
"${fleet[@]}" -t t00 >/dev/null 2>&1
"${fleet[@]}" --all >"$work/fleet.out" 2>&1
head -1 "$work/fleet.out" | cut -c1-60
every=(pgp-alert -c "$work/fleet.conf" --state-dir "$work/state-all")
every_cold=$(rtt "${every[@]}")
echo "round trips of one target after the TCP handshake: $(rtt "${fleet[@]}");" \
	"every check: $every_cold, then $(rtt "${every[@]}") with the state file of that run"
if [ -n "$before" ]; then
	"${fleetb[@]}" -t t00 >/dev/null 2>&1
	echo "the same with PGP_BIN_BEFORE: $(rtt "${fleetb[@]}")"
fi
for r in $(seq "$rounds"); do
	measure F1 "${fleet[@]}" -t t00
	[ -n "$before" ] && measure F1b "${fleetb[@]}" -t t00
	measure F16 "${fleet[@]}" --all
	[ -n "$before" ] && measure F16b "${fleetb[@]}" --all
	measure F50 "${fleet[@]}" --all --max-parallel 50
	[ -n "$before" ] && measure F50b "${fleetb[@]}" --all --max-parallel 50
done

# What the proxies themselves cost (one python3 process): a share of the
# 2 cores the server's 50 new backends also need.
proxy_ms() { awk '{ print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$proxy/stat"; }
p0=$(proxy_ms)
for r in 1 2 3; do "${fleet[@]}" --all --max-parallel 50 >/dev/null 2>&1; done
proxy_cpu=$(echo "($(proxy_ms) - $p0) / 3" | bc)

awk -v proxy_cpu="$proxy_cpu" '
function median(name,   n, i, j, t, a) {
	n = cnt[name]
	for (i = 1; i <= n; i++) a[i] = val[name, i]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(name, v) { cnt[name]++; val[name, cnt[name]] = v }
{
	add($1 "wall", $2 * 1000); add($1 "cpu", ($3 + $4) * 1000); add($1 "rss", $5); add($1 "conn", $7); add($1 "srv", $8)
	if ($6 != 0 && $6 != 1 && $6 != 2) bad[$1] = bad[$1] " exit " $6
}
function ratios(b,   tag) {
	tag = b == "" ? "" : " (PGP_BIN_BEFORE)"
	printf "check_postgres / pgp-alert%s: wall %.0fx, client CPU %.0fx, server CPU %.1fx, connections %d vs %d (want >= 50x, 1)\n",
		tag, median("Cwall") / median("P" b "wall"), median("Ccpu") / median("P" b "cpu"),
		median("Csrv") / (median("P" b "srv") > 0 ? median("P" b "srv") : 1), median("Cconn"), median("P" b "conn")
	printf "fleet / one target%s: %.2fx with max_parallel 16, %.2fx with --max-parallel 50 (want <= 3); peak RSS of --all %d kB (16), %d kB (50)\n",
		tag, median("F16" b "wall") / median("F1" b "wall"), median("F50" b "wall") / median("F1" b "wall"),
		median("F16" b "rss"), median("F50" b "rss")
}
END {
	printf "\nmedians of %d rounds (ms; RSS in kB)\n", cnt["Cwall"]
	printf "%-44s %9s %9s %9s %6s %8s\n", "", "wall", "client", "server", "conns", "peak RSS"
	n = split("C P Pb F1 F1b F16 F16b F50 F50b", ks, " ")
	label["C"] = "C  check_postgres, 10 invocations"; label["P"] = "P  pgp-alert, 10 checks, state file"
	label["F1"] = "F1 pgp-alert -t, one target at +20 ms"; label["F16"] = "F  --all, 50 targets, max_parallel 16"
	label["F50"] = "F  --all, 50 targets, --max-parallel 50"
	for (i = 1; i <= n; i++) {
		k = ks[i]
		if (!cnt[k "wall"])
			continue
		l = k ~ /b$/ ? "   the same, PGP_BIN_BEFORE" : label[k]
		printf "%-44s %9.1f %9.1f %9.0f %6d %8d%s\n", l, median(k "wall"), median(k "cpu"), median(k "srv"),
			median(k "conn"), median(k "rss"), bad[k]
	}
	printf "\n"
	ratios("")
	if (cnt["Pbwall"])
		ratios("b")
	printf "(the proxy process used %d ms of CPU per 50-target run, the server %d ms: on 2 cores >= %d ms of wall)\n",
		proxy_cpu, median("F50srv"), (proxy_cpu + median("F50srv")) / 2
}' "$work/rounds"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
