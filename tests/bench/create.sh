#!/usr/bin/env bash
# Benchmark (not a test): pgp-create's full local provision and no-op
# re-run, side by side with what a user would otherwise type by hand:
# initdb + pg_ctl start + createuser + createdb (no TLS, no roles layout).
# Interleaved, N rounds; prints medians and the ratio.  Run as root or as
# a user who may run initdb:  tests/bench/create.sh [ROUNDS]
set -u
cd "$(dirname "$0")/../.." || exit 2
rounds=${1:-5}
bin=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

full=() manual=() noop=() ping=()
for i in $(seq "$rounds"); do
	d=$(mktemp -d /tmp/pgpbench.XXXXXX); p=$(port)
	t0=$(now)
	bin/pgp-create -q -c /dev/null --local "$d" --database shop --port "$p" >/dev/null || exit 1
	t1=$(now)
	bin/pgp-create -q -c /dev/null --local "$d" --database shop >/dev/null || exit 1
	t2=$(now)
	PGSERVICEFILE=$d/pg_service.conf PGPASSFILE=$d/pgpass psql -X -q -c "SELECT 1" service=shop-app >/dev/null
	t3=$(now)
	bin/pgp-create -q -c /dev/null --local "$d" --stop; rm -rf "$d"

	m=$(mktemp -d /tmp/pgpbench.XXXXXX); chmod 755 "$m"; [ "$(id -u)" = 0 ] && chown postgres: "$m"; p=$(port)
	t4=$(now)
	as_pg "$bin/initdb" -D "$m/data" -U postgres -A trust >/dev/null &&
	as_pg "$bin/pg_ctl" -D "$m/data" -l "$m/log" -o "-p $p -k $m" -w start >/dev/null &&
	as_pg "$bin/createuser" -h "$m" -p "$p" -U postgres app &&
	as_pg "$bin/createdb" -h "$m" -p "$p" -U postgres -O app shop || exit 1
	t5=$(now)
	as_pg "$bin/pg_ctl" -D "$m/data" -m immediate stop >/dev/null; rm -rf "$m"

	full+=("$(echo "$t1 - $t0" | bc)") noop+=("$(echo "$t2 - $t1" | bc)")
	ping+=("$(echo "$t3 - $t2" | bc)") manual+=("$(echo "$t5 - $t4" | bc)")
done
f=$(printf '%s\n' "${full[@]}" | median); m=$(printf '%s\n' "${manual[@]}" | median)
n=$(printf '%s\n' "${noop[@]}" | median); q=$(printf '%s\n' "${ping[@]}" | median)
printf 'rounds: %d (medians, seconds)\n' "$rounds"
printf 'pgp-create full local provision (initdb .. witness): %.3f\n' "$f"
printf 'by hand: initdb + pg_ctl start + createuser + createdb: %.3f   ratio %.2f\n' "$m" "$(echo "$f / $m" | bc -l)"
printf 'pgp-create no-op re-run:                             %.3f\n' "$n"
printf 'one psql "SELECT 1" over TLS as the app:             %.3f   ratio %.2f\n' "$q" "$(echo "$n / $q" | bc -l)"
