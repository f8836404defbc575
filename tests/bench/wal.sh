#!/usr/bin/env bash
# Benchmark (not a test) of WAL archiving, issue 13's targets: pgbench at
# full speed for MINUTES (default 5) with archive_command = pgp-backup
# wal-push into S3 (s3rver behind the strict SigV4 front).  Every second:
# pg_stat_archiver and pg_wal/archive_status/*.ready (the backlog, and how
# many segments the archiver is behind the one being written).  CPU per
# segment: user+sys of every wal-push (the archiver's, by /usr/bin/time
# around each, plus the background pushes' workers, which their log
# reports) over the segments archived.  Targets: never more than a few
# segments behind; <= 60 ms CPU per 16 MB segment.  Run as root from the
# top of the tree:
#   tests/bench/wal.sh [--encrypt] [--clients N] [--scale S] [MINUTES]
#   (PGP_BIN=DIR: the programs; defaults: 4 clients, scale 10)
set -u
encrypt= clients=4 scale=10
while [ $# -gt 0 ]; do
	case $1 in
	--encrypt) encrypt=1; shift ;;
	--clients) clients=$2; shift 2 ;;
	--scale) scale=$2; shift 2 ;;
	-*) sed -n 's/^#   tests/tests/p' "$0" >&2; exit 2 ;;
	*) break ;;
	esac
done
minutes=${1:-5}
export PGP_BIN=${PGP_BIN:-$PWD/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh" >/dev/null
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian time)" >&2; exit 2; }
s3_start
pg_start
W=$(mktemp -d /tmp/pgpwb.XXXXXX)
at_exit "rm -rf '$W'"
chmod 755 "$W"
printf '%s' "$AWS_ACCESS_KEY_ID" >"$W/ak"
printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$W/sk"
chmod 600 "$W/ak" "$W/sk"
rcpt=
if [ -n "$encrypt" ]; then
	age-keygen -o "$W/id.key" 2>/dev/null
	rcpt="encrypt_recipients = [\"$(age-keygen -y "$W/id.key")\"];"
fi
cat >"$W/s3.conf" <<EOF
backup = { repo = "s3://$S3_BUCKET/bench"; s3_endpoint = "$S3_ENDPOINT"; state_dir = "$W/state";
  s3_access_key_file = "$W/ak"; s3_secret_key_file = "$W/sk"; cluster = "bench"; $rcpt };
EOF
# Each push timed: elapsed, user, system, exit status.
cat >"$W/push.sh" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$W/time.log" -f "%e %U %S %x" "$PGP_BIN/pgp-backup" -c "$W/s3.conf" wal-push "\$1"
EOF
chmod 755 "$W/push.sh"
chown -R postgres: "$W"
DATA=$PGDIR/data
q() { psql_q -c "$1"; }
q "ALTER SYSTEM SET archive_mode = on" >/dev/null
q "ALTER SYSTEM SET archive_command = '$W/push.sh %p'" >/dev/null
q "ALTER SYSTEM SET max_wal_size = '1GB'" >/dev/null
as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w restart >/dev/null
"$PG_BINDIR/pgbench" -q -i -s "$scale" >/dev/null 2>&1
q "SELECT pg_switch_wal()" >/dev/null
sleep 2
read -r a0 f0 <<<"$(q "SELECT archived_count, failed_count FROM pg_stat_archiver" | tr '|' ' ')"
: >"$W/time.log"
lsn0=$(q "SELECT pg_current_wal_lsn()")

segno() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
"$PG_BINDIR/pgbench" -n -c "$clients" -j 2 -T $((minutes * 60)) >"$W/pgbench.out" 2>&1 &
bench=$!
max_ready=0 max_behind=0 sum_ready=0 samples=0
while kill -0 "$bench" 2>/dev/null; do
	ready=$(find "$DATA/pg_wal/archive_status" -name '*.ready' | wc -l)
	row=$(q "SELECT coalesce(last_archived_wal, ''), pg_walfile_name(pg_current_wal_lsn()) FROM pg_stat_archiver")
	last=${row%%|*} cur=${row##*|}
	behind=0
	[ -n "$last" ] && behind=$(($(segno "$cur") - $(segno "$last") - 1))
	[ "$ready" -gt "$max_ready" ] && max_ready=$ready
	[ "$behind" -gt "$max_behind" ] && max_behind=$behind
	sum_ready=$((sum_ready + ready)) samples=$((samples + 1))
	sleep 1
done
wait "$bench"
lsn1=$(q "SELECT pg_current_wal_lsn()")
last=$(q "SELECT pg_walfile_name(pg_switch_wal())")
for i in $(seq 600); do
	[ "$(q "SELECT last_archived_wal >= '$last' FROM pg_stat_archiver")" = t ] && break
	sleep 0.2
done
read -r a1 f1 <<<"$(q "SELECT archived_count, failed_count FROM pg_stat_archiver" | tr '|' ' ')"
segs=$((a1 - a0))
wal_mb=$(q "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / 1048576)")
fg=$(awk '{u += $2; s += $3; n++; w += $1} END {printf "%.3f %.3f %d %.4f", u, s, n, n ? w / n : 0}' "$W/time.log")
bg=$(sed -n 's/.*background push: [0-9]* files, CPU \([0-9.]*\) s user, \([0-9.]*\) s system.*/\1 \2/p' \
	"$W/state/spool/bench/push.log" 2>/dev/null | awk '{u += $1; s += $2} END {printf "%.3f %.3f", u, s}')
read -r fgu fgs fgn fgwall <<<"$fg"
read -r bgu bgs <<<"$bg"
acks=$(grep -c "stored by the background push: acknowledged" "$PGDIR/server.log")
echo "pgbench: $(grep -E '^tps' "$W/pgbench.out" | head -1) ($clients clients, scale $scale, $minutes min)"
echo "WAL written: $wal_mb MB; segments archived: $segs; failed attempts: $((f1 - f0))"
echo "backlog: max .ready $max_ready, mean $(awk "BEGIN {printf \"%.1f\", $sum_ready / ($samples ? $samples : 1)}") ($samples samples); max segments behind the one being written: $max_behind"
echo "archiver's pushes: $fgn, mean wall $fgwall s; $acks acknowledged from a background push's marker"
echo "CPU: archiver's pushes ${fgu}u+${fgs}s, background ${bgu:-0}u+${bgs:-0}s"
awk "BEGIN {printf \"wal-push CPU per segment: %.1f ms (target <= 60)\n\", ($fgu + $fgs + ${bgu:-0} + ${bgs:-0}) * 1000 / ($segs ? $segs : 1)}"
