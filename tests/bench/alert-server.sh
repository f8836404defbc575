#!/usr/bin/env bash
# Benchmark (not a test): what one pgp-alert target costs the server, in
# CPU of the backends the postmaster reaped, per run (N runs each, over a
# unix socket, pgbench scale 10): a bare psql connection, pgp-alert with
# only the connection check, then with each of the bench's other nine
# checks added alone, then all ten.  A fleet run of 50 targets on one
# 2-core server is bound by 50 times the last figure (tests/bench/alert.sh).
# Run as root from the top of the tree:
#   tests/bench/alert-server.sh [N]        (PGP_BIN=DIR: the programs)
set -u
n=${1:-150}
export PGP_BIN=${PGP_BIN:-$PWD/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh" >/dev/null
pg_start >/dev/null
createdb bench && "$PG_BINDIR/pgbench" -q -i -s 10 bench >/dev/null 2>&1 || exit 1
psql -X -q -d bench -c "VACUUM ANALYZE" || exit 1
state=$(mktemp -d /tmp/pgpas.XXXXXX)
at_exit "rm -rf '$state'"
postmaster=$(head -1 "$PGDIR/data/postmaster.pid")
# The postmaster's reaped children's CPU, in 1/100 ms (clock ticks of 10 ms).
server() { awk '{ print ($16 + $17) * 100000 / '"$(getconf CLK_TCK)"' }' "/proc/$postmaster/stat"; }
# per_run CMD...: the server's CPU per run of CMD, in 1/100 ms.
per_run() {
	local s0
	s0=$(server)
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1; done
	sleep 0.3	# the last backend exits and is reaped
	echo $(( ($(server) - s0) / n ))
}
ms() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }
alert() { pgp-alert -c /dev/null -d "host=$PGHOST port=$PGPORT dbname=bench user=postgres" --state-dir "$state" --check "$1"; }
echo "server CPU per run, ms ($n runs each; load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "  psql -c 'select 1':         $(ms "$(per_run psql -X -q -c 'select 1' -d bench)")"
alert connection >/dev/null
base=$(per_run alert connection)
echo "  pgp-alert, connection only: $(ms "$base")"
all=connection
for c in backends txn_idle txn_time query_time locks hitratio txn_wraparound database_size last_vacuum; do
	all=$all,$c
	alert "connection,$c" >/dev/null	# its state file first: the steady state
	v=$(per_run alert "connection,$c")
	printf '  + %-24s +%s\n' "$c" "$(ms $((v > base ? v - base : 0)))"
done
alert "$all" >/dev/null
echo "  all ten:                    $(ms "$(per_run alert "$all")")"
