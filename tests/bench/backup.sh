#!/usr/bin/env bash
# Benchmark (not a test): on pgbench scale S (100: about 1.5 GB), side by side
# and interleaved, REPS rounds:
#   A  pgp-backup backup to S3 (s3rver behind the strict SigV4 front), zstd
#   G  the same with --compression gzip (level 1), the compression before zstd
#   L  pgp-backup backup to a local directory (zstd)
#   B  pg_dump -Fc into a local file
#   C  pg_dump | gzip -6 | aws s3 cp -   (the usual script, same endpoint)
#   R1 pgp-backup restore (streamed from S3)   R2 pg_restore from B's file
# Wall times, ratios, and the peak RSS of the pgp-backup process itself
# (sampled VmHWM).  Run as root:  tests/bench/backup.sh [SCALE] [REPS]
set -u
scale=${1:-100} reps=${2:-2}
export PGP_BIN=$PWD/bin
. "$(dirname "$0")/../integration/lib.sh" >/dev/null
s3_start
backup_fixture "$scale" >/dev/null
work=$(mktemp -d /var/tmp/pgpbb.XXXXXX)
at_exit "rm -rf '$work'"
now() { date +%s.%N; }
peak_rss() {	# run "$@" and print its peak RSS in kB on fd 3
	"$@" &
	local pid=$! hwm=0 v
	while kill -0 "$pid" 2>/dev/null; do
		v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
		[ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
		sleep 0.2
	done
	wait "$pid"; local rc=$?
	echo "$hwm" >&3
	return $rc
}
conf=$work/s3.conf; printf 'backup = { keep_last = 1000; };\n' >"$conf"
size=$(admin -d shop -c "SELECT pg_size_pretty(pg_database_size('shop'))" 2>/dev/null || psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop}" -c "SELECT pg_size_pretty(pg_database_size('shop'))")
echo "pgbench scale $scale: database $size; $reps interleaved rounds"
for r in $(seq "$reps"); do
	t0=$(now)
	peak_rss pgp-backup -q -c "$conf" --repo "s3://$S3_BUCKET/bench" --s3-endpoint "$S3_ENDPOINT" \
		--state-dir "$work/state" backup -d service=shop-backup 3>"$work/rss" || echo "A failed"
	t1=$(now)
	pgp-backup -q -c "$conf" --repo "s3://$S3_BUCKET/bench-gzip" --s3-endpoint "$S3_ENDPOINT" \
		--state-dir "$work/state" --compression gzip backup -d service=shop-backup || echo "G failed"
	tg=$(now)
	pg_dump -Fc -f "$work/local.dump" service=shop-backup --role=shop_owner || echo "B failed"
	t2=$(now)
	bytes_b=$(stat -c %s "$work/local.dump")
	pgp-backup -q -c "$conf" --repo "$work/repo" --state-dir "$work/state" backup -d service=shop-backup || echo "L failed"
	tl=$(now)
	bytes_l=$(du -sb "$work/repo" | cut -f1)
	rm -rf "$work/repo"
	t2b=$(now)
	( set -o pipefail; pg_dump -Fp service=shop-backup --role=shop_owner | gzip -6 |
		aws_cli s3 cp - "s3://$S3_BUCKET/script/shop-$r.sql.gz" ) || echo "C failed"
	t3=$(now)
	t3=$(echo "$t3 - ($t2b - $t2)" | bc)
	admin -c "DROP DATABASE IF EXISTS r1" -c "DROP DATABASE IF EXISTS r2" >/dev/null
	peak_rss pgp-backup -q -c "$conf" --repo "s3://$S3_BUCKET/bench" --s3-endpoint "$S3_ENDPOINT" \
		--state-dir "$work/state" restore latest -d "$ADMIN" --database r1 3>"$work/rss2" >/dev/null || echo "R1 failed"
	t4=$(now)
	admin -c "CREATE DATABASE r2" >/dev/null
	pg_restore --exit-on-error -d "${ADMIN/dbname=postgres/dbname=r2}" "$work/local.dump" || echo "R2 failed"
	t5=$(now)
	printf 'round %d: A %.1fs (rss %s kB)  G %.1fs  B %.1fs  L %.1fs  C %.1fs  R1 %.1fs (rss %s kB)  R2 %.1fs  bytes L/B %.2f\n' "$r" \
		"$(echo "$t1-$t0" | bc)" "$(cat "$work/rss")" "$(echo "$tg-$t1" | bc)" "$(echo "$t2-$tg" | bc)" "$(echo "$tl-$t2" | bc)" \
		"$(echo "$t3-$t2" | bc)" "$(echo "$t4-$t3" | bc)" "$(cat "$work/rss2")" "$(echo "$t5-$t4" | bc)" \
		"$(echo "$bytes_l / $bytes_b" | bc -l)" | tee -a "$work/rounds"
done
awk '{ for (i = 3; i <= NF; i++) if ($i ~ /^[0-9.]+s$/) { sub(/s$/, "", $i); v[$(i-1)] += $i; n[$(i-1)]++ } }
END {
	a = v["A"]/n["A"]; g = v["G"]/n["G"]; b = v["B"]/n["B"]; l = v["L"]/n["L"]; c = v["C"]/n["C"]
	r1 = v["R1"]/n["R1"]; r2 = v["R2"]/n["R2"]
	printf "\nmeans: A %.1fs  G %.1fs  B %.1fs  L %.1fs  C %.1fs  R1 %.1fs  R2 %.1fs\n", a, g, b, l, c, r1, r2
	printf "pgp-backup to S3, zstd / gzip:                  %.2f\n", a / g
	printf "pgp-backup to a local directory / pg_dump -Fc to a local file: %.2f\n", l / b
	printf "pgp-backup to S3 / pg_dump -Fc to a local file: %.2f (want <= 1)\n", a / b
	printf "pg_dump|gzip -6|aws s3 cp / pgp-backup to S3:   %.2f (want >= 1.5)\n", c / a
	printf "streamed restore / pg_restore from a local file: %.2f (want <= 1.2)\n", r1 / r2
}' "$work/rounds"
