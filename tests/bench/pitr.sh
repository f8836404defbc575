#!/usr/bin/env bash
# Benchmark (not a test) of physical base backups, issue 13's shape: one
# throwaway cluster of pgbench scale SCALE (100: about 1.5 GB), archiving
# on through pgp-backup wal-push into both repositories; interleaved,
# REPS rounds of:
#   L   pgp-backup backup --physical into a local directory (zstd)
#   S   the same into S3 (s3rver behind the strict SigV4 front)
#   P   pg_basebackup -Ft -z -X none into a local directory (gzip)
#   R   pgBackRest full backup, zst, to the same S3 front over TLS (only
#       when pgbackrest is installed: Debian's 2.45 speaks only HTTPS to S3)
# then restores of the last backups, unpack only (RS: pgp-backup restore
# --physical from S3 with a recovery target; RB: pgBackRest restore from S3;
# RP: tar -xzf of pg_basebackup's output).
# A CHECKPOINT (untimed) before each case.  Wall times (medians), the
# median of each round's own ratio L/P, S/P (R/P, S/R), pgp-backup's own
# user+sys CPU, the bytes stored.  Run as root from the top of the tree:
#   tests/bench/pitr.sh [SCALE [REPS]]     (defaults 100 3; PGP_BIN=DIR)
set -u
scale=${1:-100} reps=${2:-3}
export PGP_BIN=${PGP_BIN:-$PWD/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh" >/dev/null
pg_start
work=$(mktemp -d /var/tmp/pgpbp.XXXXXX)
at_exit "rm -rf '$work'"
chmod 755 "$work"
have_br=0
command -v pgbackrest >/dev/null && have_br=1
if [ "$have_br" = 1 ]; then
	# pgBackRest 2.45 talks to S3 only over TLS: the strict front gets a certificate.
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$work/tls.key" \
		-out "$work/tls.crt" -days 1 >/dev/null 2>&1
fi
s3_start
if [ "$have_br" = 1 ]; then
	# A second front on TLS, for pgBackRest, onto the same s3rver.
	tls_port=$(free_port)
	python3 "$PGP_SRC/tests/s3-strict-proxy.py" "$tls_port" "${S3_DIRECT##*:}" S3RVER S3RVER \
		"$work/tls.crt" "$work/tls.key" >"$work/tls-proxy.log" 2>&1 &
	at_exit "kill $!"
fi
printf '%s' "$AWS_ACCESS_KEY_ID" >"$work/ak"
printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$work/sk"
chmod 600 "$work/ak" "$work/sk"
mkdir -p "$work/repo" "$work/state"
printf 'backup = {\n  repo = "%s";\n  state_dir = "%s";\n  cluster = "bench";\n};\n' \
	"$work/repo" "$work/state" >"$work/local.conf"
printf 'backup = {\n  repo = "s3://%s/pitr";\n  s3_endpoint = "%s";\n  s3_access_key_file = "%s";\n  s3_secret_key_file = "%s";\n  state_dir = "%s";\n  cluster = "bench";\n};\n' \
	"$S3_BUCKET" "$S3_ENDPOINT" "$work/ak" "$work/sk" "$work/state" >"$work/s3.conf"
chown -R postgres: "$work"
B=$PGP_BIN/pgp-backup
psql_q -c "CREATE ROLE bk LOGIN REPLICATION" \
	-c "ALTER SYSTEM SET archive_mode = on" \
	-c "ALTER SYSTEM SET archive_command = '$B -c $work/local.conf wal-push %p && $B -c $work/s3.conf wal-push %p'" \
	>/dev/null
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w restart >/dev/null
echo "# pgbench -i -s $scale" >&2
pgbench -q -i -s "$scale" postgres >/dev/null 2>&1 || { echo "pgbench -i failed" >&2; exit 1; }
BK="host=$PGHOST port=$PGPORT user=bk dbname=postgres"

if [ "$have_br" = 1 ]; then
	cat >"$work/pgbackrest.conf" <<CONF
[global]
repo1-type=s3
repo1-path=/pgbackrest
repo1-s3-bucket=$S3_BUCKET
repo1-s3-endpoint=127.0.0.1
repo1-s3-port=$tls_port
repo1-s3-region=us-east-1
repo1-s3-uri-style=path
repo1-s3-key=$AWS_ACCESS_KEY_ID
repo1-s3-key-secret=$AWS_SECRET_ACCESS_KEY
repo1-storage-verify-tls=n
repo1-retention-full=1
compress-type=zst
compress-level=1
archive-check=n
start-fast=y
log-level-console=warn
log-path=$work
lock-path=$work
[bench]
pg1-path=$PGDIR/data
pg1-socket-path=$PGHOST
pg1-port=$PGPORT
CONF
	chown postgres: "$work/pgbackrest.conf"
	as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >&2 || have_br=0
fi

# case NAME CMD...: one timed run as postgres; "wall cpu" of pgp-backup (or the command) on stdout.
case_run() {
	psql_q -c CHECKPOINT >/dev/null
	as_pg python3 "$here/rusage.py" "$@"
}
declare -A wall cpu
cases="L S P"
[ "$have_br" = 1 ] && cases="L S P R"
for r in $(seq "$reps"); do
	for c in $cases; do
		[ "$c" = P ] && rm -rf "$work/pgb"
		case $c in
		L) out=$(case_run "$B" -c "$work/local.conf" --no-prune backup --physical -d "$BK") ;;
		S) out=$(case_run "$B" -c "$work/s3.conf" --no-prune backup --physical -d "$BK") ;;
		P) out=$(case_run "$PG_BINDIR/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U bk -D "$work/pgb" -Ft -z \
			-X none) ;;
		R) out=$(case_run pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --type=full backup) ;;
		esac
		read -r w u s _ rc <<<"$out"
		[ "$rc" = 0 ] || echo "# round $r case $c failed (exit $rc)" >&2
		wall[$c,$r]=$w
		cpu[$c,$r]=$(python3 -c "print($u + $s)")
		echo "# round $r $c: ${w}s wall, ${cpu[$c,$r]}s user+sys" >&2
	done
	# Keep the local repository from filling the disk: the last base backup only.
	ls -d "$work/repo/clusters/bench/base"/* | head -n -1 | xargs -r rm -rf
	sizes="L $(du -sb "$work/repo/clusters/bench/base" | cut -f1) P $(du -sb "$work/pgb" | cut -f1)"
done
# Restores of the last backups, unpack only (each leaves a data directory ready
# to start in recovery, with its restore_command): pgp from S3 (RS), pgBackRest
# from S3 (RB), tar -xzf of pg_basebackup's base.tar.gz (RP).
rcases="RS RP"
[ "$have_br" = 1 ] && rcases="RS RP RB"
for r in $(seq "$reps"); do
	for c in $rcases; do
		rm -rf "$work/rd"
		install -d -o postgres -m 700 "$work/rd"
		case $c in
		RS) out=$(case_run "$B" -c "$work/s3.conf" restore --physical latest --data-dir "$work/rd" \
			--recovery-target immediate) ;;
		RP) out=$(case_run tar -xzf "$work/pgb/base.tar.gz" -C "$work/rd") ;;
		RB) out=$(case_run pgbackrest --config="$work/pgbackrest.conf" --stanza=bench --pg1-path="$work/rd" \
			--type=immediate restore) ;;
		esac
		read -r w u s _ rc <<<"$out"
		[ "$rc" = 0 ] || echo "# round $r case $c failed (exit $rc)" >&2
		wall[$c,$r]=$w
		cpu[$c,$r]=$(python3 -c "print($u + $s)")
		echo "# round $r $c: ${w}s wall, ${cpu[$c,$r]}s user+sys" >&2
	done
done
rm -rf "$work/rd"
cases="$cases $rcases"
median() { python3 -c "import statistics,sys; print('%.3f' % statistics.median(map(float, sys.argv[1:])))" "$@"; }
ratio() {	# the median of the rounds' own ratios A/B, and their range
	local a=$1 b=$2 r v=()
	for r in $(seq "$reps"); do v+=("$(python3 -c "print(${wall[$a,$r]} / ${wall[$b,$r]})")"); done
	python3 -c "import statistics,sys; x=list(map(float, sys.argv[1:])); print('%.2f (%.2f..%.2f)' % (statistics.median(x), min(x), max(x)))" "${v[@]}"
}
echo "pitr bench: pgbench scale $scale, $reps interleaved rounds"
for c in $cases; do
	ws=() cs=()
	for r in $(seq "$reps"); do ws+=("${wall[$c,$r]}"); cs+=("${cpu[$c,$r]}"); done
	echo "  $c median wall $(median "${ws[@]}") s, user+sys CPU $(median "${cs[@]}") s"
done
echo "  L/P wall $(ratio L P)   S/P wall $(ratio S P)"
[ "$have_br" = 1 ] && echo "  R/P wall $(ratio R P)   S/R wall $(ratio S R)"
echo "  restore: RS/RP wall $(ratio RS RP)"
[ "$have_br" = 1 ] && echo "  restore: RS/RB wall $(ratio RS RB)"
echo "  bytes (last round): $sizes"
