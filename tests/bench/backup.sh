#!/usr/bin/env bash
# Benchmark (not a test) of pgp-backup, issue 12's shape.  Two data sets in
# one throwaway cluster:
#   pgbench  pgbench -i -s SCALE (100: about 1.5 GB), database shop
#   real     a table that compresses like real data (the research note's):
#            ROWS rows (3.6 M: about 0.5 GB with its primary key) of two md5
#            texts, two bigints and a timestamptz, from generate_series
#            (deterministic), database real
# On each, side by side and interleaved (each round after the first in
# another order), REPS rounds of:
#   A   pgp-backup backup to S3 (s3rver behind the strict SigV4 front), zstd
#   E   the same with --encrypt-to (age), when this pgp-backup has it
#   L   pgp-backup backup to a local directory (zstd)
#   B   pg_dump -Fc into a local file
#   C   pg_dump | gzip -6 | aws s3 cp -   (the usual script, same endpoint)
#   R1  pgp-backup restore, streamed from S3     R1E  the same of E (--identity)
#   R2  createdb, then pg_restore from B's file
# With --compare DIR, also A0: A by DIR/pgp-backup (another build, e.g.
# before a change).  With --delay MS, also AD (and A0D): A through
# tests/bench/delay-proxy.py, MS more each way, as a remote endpoint is.
# Wall times (medians) and ratios (the median of the rounds' own ratios,
# and their range: a shared machine's load moves whole rounds); bytes
# stored against pg_dump -Fc's; pgp-backup's peak RSS (VmHWM); the
# user+sys CPU of each process kind during each case (cpusplit.py:
# postgres backends, pg_dump, pg_restore, pgp-backup, s3rver, the strict
# proxy, gzip, aws) and the busiest one (tests/bench/backup-summary.py).
# A CHECKPOINT (untimed) before each case keeps one case's writes out of
# the next.  Run as root from the top of the tree:
#   tests/bench/backup.sh [--data pgbench|real|both] [--real-rows N]
#       [--compare DIR] [--delay MS] [SCALE [REPS]]
#   (defaults: both, 3600000, 100, 2; PGP_BIN=DIR: the programs; a quick
#   try: --real-rows 400000 10 1)
set -u
data=both real_rows=3600000 compare= delay=
while [ $# -gt 0 ]; do
	case $1 in
	--data) data=$2; shift 2 ;;
	--real-rows) real_rows=$2; shift 2 ;;
	--compare) compare=$(cd "$2" && pwd)/pgp-backup; shift 2 ;;
	--delay) delay=$2; shift 2 ;;
	-*) sed -n 's/^#   tests/tests/p' "$0" >&2; exit 2 ;;
	*) break ;;
	esac
done
case $data in pgbench|real|both) ;; *) echo "--data: pgbench, real or both" >&2; exit 2 ;; esac
scale=${1:-100} reps=${2:-2}
export PGP_BIN=${PGP_BIN:-$PWD/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh" >/dev/null
s3_start
# The pgbench tables are the cluster's fixture: scale 1 when only real runs.
backup_fixture "$([ "$data" = real ] && echo 1 || echo "$scale")" >/dev/null
work=$(mktemp -d /var/tmp/pgpbb.XXXXXX)
at_exit "rm -rf '$work'"
sets=$([ "$data" = both ] && echo "pgbench real" || echo "$data")

real_fixture() {
	pgp-create -q -c /dev/null --local "$BDIR" --database real >/dev/null ||
		{ echo "Bail out! pgp-create --database real failed"; exit 1; }
	psql -X -q -v ON_ERROR_STOP=1 service=real-migrator >/dev/null <<SQL || { echo "Bail out! real data failed"; exit 1; }
CREATE TABLE events (id bigint PRIMARY KEY, account bigint NOT NULL, at timestamptz NOT NULL,
	a text NOT NULL, b text NOT NULL);
INSERT INTO events SELECT g, (g * 7919) % 100003, timestamptz '2024-01-01 00:00:00+00' + g * interval '7 s',
	md5(g::text), md5((g # 12345)::text) FROM generate_series(1::bigint, $real_rows) g;
VACUUM ANALYZE events;
SQL
	# pgp-create keeps pg_hba to one database: shop's again, and real's beside it.
	pgp-create -q -c /dev/null --local "$BDIR" --database shop >/dev/null ||
		{ echo "Bail out! pgp-create --database shop failed"; exit 1; }
	sed -i '/^local *all *all *reject/i hostssl "real" all 127.0.0.1/32 scram-sha-256' "$(admin -c 'SHOW hba_file')"
	admin -c 'SELECT pg_reload_conf()' >/dev/null
}
case $sets in *real*) real_fixture ;; esac
admin -c CHECKPOINT >/dev/null

# The encrypted case, once pgp-backup has it.
recipient=
if pgp-backup --help 2>&1 | grep -q -- --encrypt-to; then
	age-keygen -o "$work/identity.txt" 2>/dev/null && chmod 600 "$work/identity.txt"
	recipient=$(sed -n 's/^# public key: //p' "$work/identity.txt")
fi

# A remote endpoint: the strict front behind a delay each way.
if [ -n "$delay" ]; then
	delay_port=$(free_port)
	python3 "$here/delay-proxy.py" "${S3_ENDPOINT##*:}" "$delay" "$delay_port" 1 >"$work/delay.log" 2>&1 &
	at_exit "kill $!"
	for i in $(seq 50); do grep -q ready "$work/delay.log" && break; sleep 0.1; done
fi

postmaster=$(head -1 "$(admin -c 'SHOW data_directory')/postmaster.pid")
conf=$work/s3.conf
printf 'backup = { keep_last = 1000; };\n' >"$conf"
s3=(-c "$conf" --s3-endpoint "$S3_ENDPOINT" --state-dir "$work/state")
s3d=(-c "$conf" --s3-endpoint "http://127.0.0.1:${delay_port:-}" --state-dir "$work/state")

# measure SET CASE ROUND CMD...: CMD under cpusplit.py; its line, with the
# bytes CMD stored when it prints "backup ... N bytes", into $work/results.
measure() {
	local set=$1 case=$2 round=$3 bytes
	shift 3
	admin -c CHECKPOINT >/dev/null
	sync
	rm -f "$work/split"
	python3 "$here/cpusplit.py" --watch postgres="$postmaster" --watch s3rver="$S3RVER_PID" \
		--watch proxy="$S3PROXY_PID" --out "$work/split" --keep-output -- "$@" >"$work/out" ||
		echo "$set $case round $round failed" >&2
	bytes=$(sed -n 's/^backup [^ ]* of [^ ]*: \([0-9]*\) bytes.*/\1/p' "$work/out")
	echo "$set $case $round bytes=${bytes:-0} $(cat "$work/split" 2>/dev/null)" >>"$work/results"
}
# bytes SET CASE ROUND N: set the bytes of a case measured without them.
set_bytes() {
	sed -i "s/^$1 $2 $3 bytes=0 /$1 $2 $3 bytes=$4 /" "$work/results"
}

script_upload() {	# the usual script: pg_dump | gzip -6 | aws s3 cp -
	set -o pipefail
	pg_dump -Fp "service=$1" "--role=$2" | gzip -6 | aws_cli s3 cp - "$3"
}
export -f script_upload aws_cli

echo "pgp-backup: $(command -v pgp-backup); data sets: $sets; pgbench scale $scale; $reps interleaved rounds"
for set in $sets; do
	case $set in pgbench) db=shop ;; real) db=real ;; esac
	echo "$set: database $db, $(admin -c "SELECT pg_size_pretty(pg_database_size('$db'))")"
done
[ -n "$recipient" ] || echo "pgp-backup has no --encrypt-to: no E or R1E"
# One function a case; $set, $db, $svc, $role and $r are the round's.
case_A() { measure "$set" A "$r" pgp-backup "${s3[@]}" --repo "s3://$S3_BUCKET/$set" backup -d "service=$svc"; }
case_A0() { measure "$set" A0 "$r" "$compare" "${s3[@]}" --repo "s3://$S3_BUCKET/$set-0" backup -d "service=$svc"; }
case_AD() { measure "$set" AD "$r" pgp-backup "${s3d[@]}" --repo "s3://$S3_BUCKET/$set-d" backup -d "service=$svc"; }
case_A0D() { measure "$set" A0D "$r" "$compare" "${s3d[@]}" --repo "s3://$S3_BUCKET/$set-0d" backup -d "service=$svc"; }
case_B() {
	measure "$set" B "$r" pg_dump -Fc -f "$work/$set.dump" "service=$svc" "--role=$role"
	set_bytes "$set" B "$r" "$(stat -c %s "$work/$set.dump")"
}
case_E() {
	measure "$set" E "$r" pgp-backup "${s3[@]}" --repo "s3://$S3_BUCKET/$set-enc" backup \
		--encrypt-to "$recipient" -d "service=$svc"
}
case_L() {
	measure "$set" L "$r" pgp-backup -c "$conf" --state-dir "$work/state" --repo "$work/repo" backup -d "service=$svc"
	rm -rf "$work/repo"
}
case_C() {
	measure "$set" C "$r" bash -c 'script_upload "$@"' script "$svc" "$role" "s3://$S3_BUCKET/script/$set-$r.sql.gz"
	set_bytes "$set" C "$r" "$(aws_cli s3 ls "s3://$S3_BUCKET/script/$set-$r.sql.gz" | awk '{ print $3 }')"
	aws_cli s3 rm "s3://$S3_BUCKET/script/$set-$r.sql.gz" >/dev/null
}
case_R1() {
	admin -c "DROP DATABASE IF EXISTS r1" >/dev/null
	measure "$set" R1 "$r" pgp-backup "${s3[@]}" --repo "s3://$S3_BUCKET/$set" restore latest --from "$db" \
		-d "$ADMIN" --database r1
	admin -c "DROP DATABASE r1" >/dev/null
}
case_R2() {	# createdb, then pg_restore: what R1 does too, bar its checks
	measure "$set" R2 "$r" bash -c 'psql -X -q -c "CREATE DATABASE r2" "$1" && pg_restore --exit-on-error -d "$2" "$3"' \
		restore "$ADMIN" "${ADMIN/dbname=postgres/dbname=r2}" "$work/$set.dump"
	admin -c "DROP DATABASE r2" >/dev/null
}
case_R1E() {
	measure "$set" R1E "$r" pgp-backup "${s3[@]}" --repo "s3://$S3_BUCKET/$set-enc" restore latest \
		--from "$db" --identity "$work/identity.txt" -d "$ADMIN" --database r1
	admin -c "DROP DATABASE IF EXISTS r1" >/dev/null
}
backups=(A) restores=(R1 R2)
[ -z "$compare" ] || backups+=(A0)
[ -z "$delay" ] || backups+=(AD)
[ -z "$delay" ] || [ -z "$compare" ] || backups+=(A0D)
backups+=(B)
[ -z "$recipient" ] || { backups+=(E); restores+=(R1E); }
backups+=(L C)
# Each round after the first takes its cases in another order (shuffled,
# seeded by the round): a case right after a set's restores (cold buffers)
# or right after C (s3rver still storing its upload) is slower, and in a
# fixed order that would always be the same case.  Round 1 keeps the
# order above, so that every restore has its backup.
shuffled() {	# shuffled SEED CASE...
	python3 -c 'import random, sys; c = sys.argv[2:]; random.Random(int(sys.argv[1])).shuffle(c); print(*c)' "$@"
}
# Wait until the S3 server and the proxy have finished what the last case
# gave them (their CPU time stops growing), at most 5 s.
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
settle() {
	local before now i
	before=$(($(proc_cpu "$S3RVER_PID") + $(proc_cpu "$S3PROXY_PID")))
	for i in $(seq 25); do
		sleep 0.2
		now=$(($(proc_cpu "$S3RVER_PID") + $(proc_cpu "$S3PROXY_PID")))
		[ "$now" = "$before" ] && return
		before=$now
	done
}
for r in $(seq "$reps"); do
	for set in $sets; do
		case $set in pgbench) db=shop ;; real) db=real ;; esac
		svc=$db-backup role=${db}_owner
		if [ "$r" = 1 ]; then
			order="${backups[*]} ${restores[*]}"
		else
			order="$(shuffled "$r" "${backups[@]}") $(shuffled "$r" "${restores[@]}")"
		fi
		for c in $order; do
			settle
			"case_$c"
		done
		grep "^$set [A-Z0-9]* $r " "$work/results"
	done
done
python3 "$here/backup-summary.py" "$work/results"
