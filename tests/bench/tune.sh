#!/usr/bin/env bash
# Benchmark (not a test): PostgreSQL's defaults against pgp-tune's
# settings on pgbench (scale 50, 8 clients, T seconds), with the server
# inside a cgroup v1 memory limit equal to the RAM pgp-tune was told, so
# the host's page cache cannot hide the settings.  Interleaved D,T,T,D...,
# a fresh pgbench database per cell.  Reports per cell and as ratios:
# forced checkpoints, buffers written by backends, WAL bytes per
# transaction, temp bytes of a sort-heavy query, TPS.
#   tests/bench/tune.sh [SECONDS=60] [REPS=2]      (as root)
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-60} reps=${2:-2}
ram=2GB ram_bytes=2147483648
bin=/usr/lib/postgresql/15/bin
cg=/sys/fs/cgroup/memory/pgp-bench.$$
dir=$(mktemp -d /tmp/pgptb.XXXXXX); chmod 755 "$dir"; chown postgres: "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { runuser -u postgres -- "$@"; }
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
q() { psql -X -A -t -q -c "$1"; }
cleanup() { as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1; rmdir "$cg" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "run as root (cgroup and postgres user)"; exit 2; }
mkdir "$cg" && echo "$ram_bytes" >"$cg/memory.limit_in_bytes" || { echo "no cgroup v1 memory controller"; exit 2; }
as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null || exit 1
printf "port = %s\nunix_socket_directories = '%s'\nlisten_addresses = ''\ninclude_if_exists = 'bench.conf'\n" \
	"$port" "$dir" >>"$dir/data/postgresql.conf"
bin/pgp-tune -q -c /dev/null --memory "$ram" --cpus 2 --storage ssd --workload oltp --connections 20 \
	>"$dir/tuned.conf" || exit 1
echo "pgp-tune settings: $(grep -c ' = ' "$dir/tuned.conf") (--memory $ram --cpus 2 --workload oltp --connections 20)"

start() {	# start the server inside the memory cgroup
	sh -c "echo \$\$ >'$cg/cgroup.procs'; exec runuser -u postgres -- '$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w start" >/dev/null
}
cell() {	# $1 = D or T
	if [ "$1" = T ]; then install -o postgres -m 600 "$dir/tuned.conf" "$dir/data/bench.conf"
	else rm -f "$dir/data/bench.conf"; fi
	start || { tail "$dir/log"; exit 1; }
	q "DROP DATABASE IF EXISTS bench" >/dev/null; q "CREATE DATABASE bench" >/dev/null
	pgbench -q -i -s 50 bench >/dev/null 2>&1
	PGDATABASE=bench q "CHECKPOINT" >/dev/null
	q "SELECT pg_stat_reset_shared('bgwriter')" >/dev/null
	sleep 0.5
	lsn0=$(q "SELECT pg_current_wal_lsn()")
	out=$(pgbench -n -c 8 -j 2 -T "$secs" bench 2>&1)
	tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	txns=$(printf '%s\n' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	wal=$(q "SELECT pg_current_wal_lsn() - '$lsn0'::pg_lsn")
	read -r req back <<<"$(q "SELECT checkpoints_req, buffers_backend FROM pg_stat_bgwriter" | tr '|' ' ')"
	t0=$(PGDATABASE=bench q "SELECT temp_bytes FROM pg_stat_database WHERE datname = 'bench'")
	PGDATABASE=bench q "SELECT count(*) FROM (SELECT * FROM pgbench_accounts WHERE aid <= 100000 ORDER BY abalance, filler OFFSET 0) s" >/dev/null
	sleep 0.6	# statistics are flushed at most every 500ms
	t1=$(PGDATABASE=bench q "SELECT temp_bytes FROM pg_stat_database WHERE datname = 'bench'")
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	printf '%s tps=%s checkpoints_req=%s buffers_backend=%s wal_bytes_per_txn=%s sort_temp_bytes=%s\n' \
		"$1" "$tps" "$req" "$back" "$((wal / (txns > 0 ? txns : 1)))" "$((t1 - t0))"
}
results=$dir/results
for r in $(seq "$reps"); do
	if [ $((r % 2)) = 1 ]; then order="D T"; else order="T D"; fi
	for c in $order; do cell "$c" | tee -a "$results"; done
done
awk '
{ for (i = 2; i <= NF; i++) { split($i, kv, "="); sum[$1, kv[1]] += kv[2]; n[$1, kv[1]]++; keys[kv[1]] = 1 } }
END {
	printf "\nmeans over %d cells each; ratio = pgp-tune / defaults\n", n["D", "tps"]
	for (k in keys) {
		d = sum["D", k] / n["D", k]; t = sum["T", k] / n["T", k]
		printf "%-18s defaults %14.1f   pgp-tune %14.1f   ratio %s\n", k, d, t, d ? sprintf("%.2f", t / d) : "n/a"
	}
}' "$results"
