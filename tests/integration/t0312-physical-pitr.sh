#!/usr/bin/env bash
# Physical base backups and point-in-time recovery (bin/backup/physical.c,
# physrestore.c, physcatalog.c, physmanifest.c) with the WAL archive of
# wal.c: archiving on into a local repository through pgp-backup
# wal-push; a base backup as a REPLICATION role; pgbench traffic, a mark
# taken with nothing in flight; restores to that time and LSN compared
# row-exact, to latest, a second PITR on the new timeline, a standby
# that streams; a tablespace restored through --tablespace-map; verify
# (--restore-test too); an encrypted base backup; retention; a restore
# as root; the same on S3 behind the strict front.  Faults: archiving
# off, a non-empty --data-dir, a password in --primary, a flipped byte in
# a stored tar (verify names it, a restore stops and removes what it
# made), a missing and a corrupt WAL segment (the restore fails, nothing
# promoted), an interrupted backup (nothing listed), a damaged manifest.
. "$(dirname "$0")/lib.sh"
need pgbench "pgbench (postgresql-client)"
need python3
pg_start
W=$(mktemp -d /tmp/pgpr.XXXXXX)
at_exit "rm -rf '$W'"
chmod 755 "$W"
REPO=$W/repo STATE=$W/state CONF=$W/pgp.conf
mkdir -p "$REPO" "$STATE"
printf 'backup = {\n  repo = "%s";\n  state_dir = "%s";\n  cluster = "main";\n};\n' "$REPO" "$STATE" >"$CONF"
chown -R postgres: "$W"
B="$PGP_BIN/pgp-backup -c $CONF"
# Everything that reads or writes the repository runs as postgres, as the archiver does.
pgb() { as_pg $B "$@"; }

# Archiving off: refused before anything is stored.
psql_q -c "CREATE ROLE bk LOGIN REPLICATION"
BK="host=$PGHOST port=$PGPORT user=bk dbname=postgres"
run pgb backup --physical -d "$BK"
is "$RC" 2 "archiving off: a base backup is refused (exit 2)"
like "$ERR" "WAL archiving is off" "saying why"
unlike "$ERR" "user=bk" "the connection string is never printed"

psql_q -c "ALTER SYSTEM SET archive_mode = on" \
	-c "ALTER SYSTEM SET archive_command = '$PGP_BIN/pgp-backup -c $CONF wal-push %p'" \
	-c "ALTER SYSTEM SET archive_timeout = 0" >/dev/null
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w restart >/dev/null
pgbench -q -i -s 2 postgres >/dev/null 2>&1 || { echo "Bail out! pgbench -i failed"; exit 1; }
as_pg mkdir "$PGDIR/ts1"
psql_q -c "CREATE TABLESPACE ts1 LOCATION '$PGDIR/ts1'" \
	-c "CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g FROM generate_series(1, 1000) g"
OID=$(psql_q -c "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")
psql_q -c "SELECT pg_switch_wal()" >/dev/null

run pgb backup --physical -d "$BK"
is "$RC" 0 "a base backup as a REPLICATION role, archiving through wal-push"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "base backup [0-9T]+Z of cluster main" "it says what it stored"
ID1=$(ls "$REPO/clusters/main/base")
ok "manifest.json is stored" -- test -f "$REPO/clusters/main/base/$ID1/manifest.json"
is "$(cd "$REPO/clusters/main/base/$ID1" && ls | tr '\n' ' ')" "$OID.tar.zst backup_manifest.zst base.tar.zst manifest.json " \
	"base.tar, the tablespace's $OID.tar and backup_manifest, compressed, with the manifest"
m=$(cat "$REPO/clusters/main/base/$ID1/manifest.json")
is "$(json_get "$m" 'd["tablespaces"]')" "[{\"oid\": $OID, \"location\": \"$PGDIR/ts1\"}]" \
	"the manifest records the tablespace"
is "$(json_get "$m" 'd["format"]')" "pgp-backup-physical/1" "the manifest's format"
is "$(json_get "$m" 'd["start_wal"][:8]')" "00000001" "it names the start segment on timeline 1"
run pgb list --physical --format json
is "$RC" 0 "list --physical"
is "$(json_get "$OUT" '[b["id"] for b in d["base_backups"]]')" "[\"$ID1\"]" "lists the backup"
is "$(json_get "$OUT" 'd["base_backups"][0]["status"]')" ok "as good"
state=$(cat "$STATE/cluster-main.json")
is "$(json_get "$state" 'd["last_base_backup_id"]')" "$ID1" "the state file names the last base backup"
is "$(json_get "$state" 'd["oldest_recoverable"]["base_backup_id"]')" "$ID1" "and the oldest recoverable point"
run pgb verify --physical latest
is "$RC" 0 "verify --physical: objects, files against backup_manifest, WAL chain"
[ "$RC" = 0 ] || diag "$ERR"

# An interrupted base backup: nothing listed, the next run works.
rm -f "$W/bk.pid"
runuser -u postgres -- sh -c "echo \$\$ >'$W/bk.pid'; exec $B backup --physical -d '$BK' " \
	>/dev/null 2>&1 &
for i in $(seq 1000); do
	ls "$REPO"/clusters/main/base/*/base.tar.zst.partial >/dev/null 2>&1 && break
	sleep 0.01
done
ok "the second base backup is streaming" -- test "$i" -lt 1000
kill -9 "$(cat "$W/bk.pid")"
wait
run pgb list --physical --format json
is "$(json_get "$OUT" 'len(d["base_backups"])')" 1 "a killed base backup is not listed"
run pgb backup --physical -d "$BK"
is "$RC" 0 "the next base backup works"
[ "$RC" = 0 ] || diag "$ERR"
ID2=$(ls "$REPO/clusters/main/base" | tail -1)
run pgb list --physical --format json
is "$(json_get "$OUT" 'len(d["base_backups"])')" 2 "and is listed"
# A restored server of our own: listening on a socket in its own directory.
P2=$(free_port)
restored() {	# restored NAME ARGS...: restore --physical --start into $W/NAME
	local name=$1; shift
	as_pg mkdir -p "$W/$name.s"
	at_exit "as_pg '$PG_BINDIR/pg_ctl' -D '$W/$name' -m immediate stop"
	run pgb restore --physical "$@" --data-dir "$W/$name" --tablespace-map "$OID=$W/$name.ts" --start \
		-d "host=$W/$name.s port=$P2 user=postgres"
}
rq() { psql -X -A -t -q -h "$W/$1.s" -p "$P2" -U postgres postgres -c "$2"; }
stop() { as_pg "$PG_BINDIR/pg_ctl" -D "$W/$1" -m fast -w stop >/dev/null 2>&1; }
# Wait until the archiver of the server at socket $1 port $2 has archived file $3.
archived() {
	local i
	for i in $(seq 100); do
		[ "$(psql -X -A -t -q -h "$1" -p "$2" -U postgres postgres -c \
			"SELECT last_archived_wal >= '$3' FROM pg_stat_archiver")" = t ] && return 0
		sleep 0.2
	done
	return 1
}
switch_and_wait() {
	local f
	f=$(psql_q -c "SELECT pg_walfile_name(pg_switch_wal())")
	psql_q -c "SELECT txid_current()" >/dev/null
	archived "$PGHOST" "$PGPORT" "$f"
}

# A standby made from the backup streams from the primary.
as_pg mkdir -p "$W/sb.s"
at_exit "as_pg '$PG_BINDIR/pg_ctl' -D '$W/sb' -m immediate stop"
run pgb restore --physical latest --data-dir "$W/sb" --tablespace-map "$OID=$W/sb.ts" --standby --primary "host=$PGHOST port=$PGPORT user=bk" \
	--start -d "host=$W/sb.s port=$P2 user=postgres"
is "$RC" 0 "restore --standby --start: a streaming standby"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "^standby $W/sb: streaming, replayed to [0-9A-F]+/" "it says it streams"
is "$(psql_q -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND usename = 'bk'")" 1 \
	"pg_stat_replication on the primary shows it streaming"
grep -q "primary_conninfo = 'host=" "$W/sb/postgresql.auto.conf"
ok "primary_conninfo is written" -- test $? = 0
ok "standby.signal, no recovery.signal" -- test -f "$W/sb/standby.signal" -a ! -f "$W/sb/recovery.signal"
stop sb

# verify --restore-test: restored into a scratch directory, started, consistent, removed.
run pgb verify --physical "$ID1" --restore-test
is "$RC" 0 "verify --restore-test reaches consistency"
[ "$RC" = 0 ] || diag "$ERR"
like "$ERR" "restore test reached consistency" "saying so"
ok "and leaves nothing behind in the scratch directory" -- test -z "$(ls /var/tmp | grep "pgp-restore-test-$ID1")"

# Encrypted: verify without the key checks the stored bytes; restore needs the identity.
age-keygen -o "$W/id.txt" 2>/dev/null
chown postgres: "$W/id.txt"
chmod 600 "$W/id.txt"
PUB=$(age-keygen -y "$W/id.txt")
run pgb backup --physical -d "$BK" --encrypt-to "$PUB" --no-prune
is "$RC" 0 "an encrypted base backup"
[ "$RC" = 0 ] || diag "$ERR"
IDE=$(ls "$REPO/clusters/main/base" | tail -1)
is "$(cd "$REPO/clusters/main/base/$IDE" && ls | tr '\n' ' ')" \
	"$OID.tar.zst.age backup_manifest.zst.age base.tar.zst.age manifest.json " "every object .age"
run pgb verify --physical "$IDE"
is "$RC" 0 "verify without the identity: stored bytes and WAL"
like "$ERR" "encrypted: the files inside are checked with --identity" "saying what it could not check"
run pgb verify --physical "$IDE" --identity "$W/id.txt"
is "$RC" 0 "verify with the identity: every file against backup_manifest"
like "$ERR" "files, [0-9]+ bytes match backup_manifest" "saying so"
run pgb restore --physical "$IDE" --data-dir "$W/re" --tablespace-map "$OID=$W/re.ts"
is "$RC" 2 "restore of an encrypted backup without an identity: refused (exit 2)"
ok "nothing created" -- test ! -e "$W/re"
# Started by hand with archiving off: its timeline must not be one the later restores follow.
run pgb restore --physical "$IDE" --identity "$W/id.txt" --recovery-target immediate --data-dir "$W/re" \
	--tablespace-map "$OID=$W/re.ts" -d "host=$W/re.s port=$P2 user=postgres"
is "$RC" 0 "restore of the encrypted backup with --identity, to consistency (immediate)"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "restored base backup $IDE into $W/re: start it" "it says how to start it"
grep -q "^recovery_target = 'immediate'" "$W/re/postgresql.auto.conf"
ok "recovery_target = 'immediate' is written" -- test $? = 0
echo "archive_mode = off" >>"$W/re/postgresql.auto.conf"
as_pg mkdir -p "$W/re.s"
at_exit "as_pg '$PG_BINDIR/pg_ctl' -D '$W/re' -m immediate stop"
as_pg "$PG_BINDIR/pg_ctl" -D "$W/re" -l "$W/re.log" -w start >/dev/null
for i in $(seq 100); do [ "$(rq re "SELECT pg_is_in_recovery()")" = f ] && break; sleep 0.2; done
is "$(rq re "SELECT count(*) FROM t_ts")" 1000 "its data is there"
stop re

# A damaged manifest: unreadable, listed so, never pruned.
mf=$REPO/clusters/main/base/$IDE/manifest.json
cp "$mf" "$W/mf.keep"
sed -i 's/"status": *"ok"/"status":"fine"/' "$mf"
run pgb list --physical
is "$RC" 1 "list --physical: a damaged manifest is found (exit 1)"
like "$ERR" "base backup $IDE: unreadable manifest: \"status\" is neither ok nor failed" "naming it and why"
damage() {	# damage PY-STATEMENT WHY-REGEX DESC: d is the good manifest, written damaged
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
$1
open(sys.argv[2], 'w').write(json.dumps(d))" "$W/mf.keep" "$mf"
	run pgb restore --physical "$IDE" --data-dir "$W/rd" --identity "$W/id.txt"
	like "$RC/$ERR" "^1/.*unreadable manifest: $2" "$3"
	cp "$W/mf.keep" "$mf"
}
damage "d['objects'][0]['name'] = '../x.tar.zst.age'" "object .* is not one this format stores" \
	"a damaged manifest is refused: an object name it does not write"
damage "d['end_wal'] = d['start_wal'][:-1] + 'F'" "\"end_wal\" is not the segment of end_lsn" \
	"a WAL name that is not its LSN's"
damage "d['objects'][1]['sha256'] = 'abc'" "the sha256 of object .* is not 64 hex digits" "a short sha256"
damage "d['encryption'] = None" "object .* is not one this format stores" \
	"encrypted objects in a manifest that says they are not"
printf 'x' >>"$mf"
run pgb list --physical
like "$ERR" "unreadable manifest: it is not one JSON document" "trailing bytes after the JSON are refused"
cp "$W/mf.keep" "$mf"

# Traffic, a mark with nothing in flight, more traffic.
pgbench -n -T 3 -c 2 postgres >/dev/null 2>&1
T=$(psql_q -c "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
L=$(psql_q -c "SELECT pg_current_wal_lsn()")
MARK=$(psql_q -c "SELECT sum(abalance) || '/' || (SELECT count(*) FROM pgbench_history) FROM pgbench_accounts")
sleep 1.2
pgbench -n -T 3 -c 2 postgres >/dev/null 2>&1
psql_q -c "CREATE TABLE after_mark AS SELECT 1 AS x" >/dev/null
FINAL=$(psql_q -c "SELECT sum(abalance) || '/' || (SELECT count(*) FROM pgbench_history) FROM pgbench_accounts")
ok "everything is archived" -- switch_and_wait
count_q="SELECT sum(abalance) || '/' || (SELECT count(*) FROM pgbench_history) FROM pgbench_accounts"

# Latest: everything archived is there, on a new timeline.
restored r0 "$ID2" --recovery-target latest
is "$RC" 0 "restore --recovery-target latest --start"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "recovery ended at WAL [0-9A-F]+/[0-9A-F]+, timeline 2" "it reports the point reached and timeline 2"
is "$(rq r0 "$count_q")" "$FINAL" "latest: every commit archived is there"
is "$(rq r0 "SELECT count(*) FROM after_mark")" 1 "including the last one"
is "$(rq r0 "SELECT count(*) FROM t_ts")" 1000 "the tablespace's table is restored"
is "$(rq r0 "SELECT pg_tablespace_location($OID)")" "$W/r0.ts" "into the --tablespace-map directory"
ok "its new timeline's history is archived into the same repository" -- \
	archived "$W/r0.s" "$P2" "00000002.history"
stop r0

# To the mark's time, following the new timeline's history: a third timeline.
restored r1 "$ID2" --target-time "$T"
is "$RC" 0 "restore --target-time T --start"
[ "$RC" = 0 ] || diag "$ERR"
is "$(rq r1 "$count_q")" "$MARK" "row-exact at the mark (sum of balances, history rows)"
is "$(rq r1 "SELECT count(*) FROM pg_class WHERE relname = 'after_mark'")" 0 "nothing after the mark"
is "$(rq r1 "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")" 00000003 \
	"a second PITR, on the timeline the first restore made: timeline 3"
archived "$W/r1.s" "$P2" "00000003.history"
stop r1

restored r2 "$ID2" --target-lsn "$L" --format json
is "$RC" 0 "restore --target-lsn L --start"
[ "$RC" = 0 ] || diag "$ERR"
# The server names the record it stopped after: L itself, or, when L falls
# on a page boundary, the first record past that page's header (24 or 40 bytes).
stop_lsn=$(json_get "$OUT" 'd["recovery"]' | sed -n 's/.*recovery stopping after WAL location (LSN) "\([0-9A-F]*\/[0-9A-F]*\)".*/\1/p')
is "$(python3 -c "
import sys
lsn = lambda s: (int(s.split('/')[0], 16) << 32) | int(s.split('/')[1], 16)
t, r = lsn(sys.argv[1]), lsn(sys.argv[2]) if sys.argv[2] else -1
print('ok' if r == t or (t % 8192 == 0 and r - t in (24, 40)) else 'target %s, stopped after %s' % tuple(sys.argv[1:]))" "$L" "$stop_lsn")" ok \
	"--format json: the point reached, from the server's log"
is "$(json_get "$OUT" 'd["timeline"]')" 4 "and the timeline"
is "$(rq r2 "$count_q")" "$MARK" "row-exact at the mark's LSN"
is "$(rq r2 "SELECT count(*) FROM pg_class WHERE relname = 'after_mark'")" 0 "nothing after it"
run pgb restore --physical "$ID2" --data-dir "$W/r2" --target-lsn "$L"
is "$RC" 2 "a non-empty --data-dir is refused (exit 2)"
like "$ERR" "is not empty" "saying why"
run pgb restore --physical "$ID2" --data-dir "$W/pw" --standby --primary "host=$PGHOST user=bk password=s3cret"
is "$RC" 2 "--primary with a password is refused (exit 2)"
like "$ERR" "a password is never written into primary_conninfo" "saying why"
unlike "$ERR" "s3cret" "without printing it"
ok "nothing created" -- test ! -e "$W/pw"
stop r2

# A flipped byte in a stored tar: verify names it.
tarobj=$(ls "$REPO/clusters/main/base/$ID1"/base.tar.*)
cp "$tarobj" "$W/base.keep"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$tarobj"
run pgb verify --physical "$ID1"
is "$RC" 1 "verify --physical finds a flipped byte in a stored tar (exit 1)"
like "$ERR" "base.tar" "naming the object"
run pgb restore --physical "$ID1" --data-dir "$W/rf" --tablespace-map "$OID=$W/rf.ts"
is "$RC" 1 "a restore of it stops (exit 1)"
ok "and removes the data directory it created" -- test ! -e "$W/rf"
cp "$W/base.keep" "$tarobj"
chown postgres: "$tarobj"

# A missing segment, then a corrupt one: the restore stops with an error, never promotes short.
start_wal=$(json_get "$m" 'd["start_wal"]')
next=$(printf '%s%016X' "${start_wal:0:8}" $((16#${start_wal:8} + 1)))
seg=$(ls "$REPO/clusters/main/wal/00000001/$next"-* 2>/dev/null | head -1)
ok "the segment after the backup's start is archived ($next)" -- test -n "$seg"
mv "$seg" "$W/seg.keep"
restored r3 "$ID1" --recovery-target latest
ok "a missing segment: the restore fails" -- test "$RC" != 0
like "$ERR" "recovery did not complete" "saying recovery did not complete"
ok "no promoted server is left running" -- test ! -f "$W/r3/postmaster.pid"
cp "$W/seg.keep" "$seg.tmp"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xff; open(p,'wb').write(b)" "$seg.tmp"
mv "$seg.tmp" "$seg"
chown postgres: "$seg"
restored r4 "$ID1" --recovery-target latest
ok "a corrupt segment: the restore fails" -- test "$RC" != 0
like "$ERR" "recovery did not complete" "saying so"
ok "no promoted server is left running either" -- test ! -f "$W/r4/postmaster.pid"
mv "$W/seg.keep" "$seg"


# Retention: the unreadable one is kept (exit 1), the newest good one always, older ones pruned.
sed -i 's/"status": *"ok"/"status":"fine"/' "$mf"
run pgb prune --physical --keep-last 1
is "$RC" 1 "prune --keep-last 1 reports the unreadable one (exit 1)"
ok "and keeps it" -- test -f "$mf"
run pgb list --physical --format json
is "$(json_get "$OUT" '[b["id"] for b in d["base_backups"] if b["status"] == "ok"]')" \
	"[\"$(ls "$REPO/clusters/main/base" | grep -v "$IDE" | tail -1)\"]" "the newest good one is kept, older ones pruned"
cp "$W/mf.keep" "$mf"

# As root: into a directory the postgres user owns, the files given to it, the server run as it.
mkdir "$W/rr"
chown postgres: "$W/rr"
as_pg mkdir -p "$W/rr.s"
at_exit "as_pg '$PG_BINDIR/pg_ctl' -D '$W/rr' -m immediate stop"
run $B restore --physical "$ID2" --data-dir "$W/rr" --tablespace-map "$OID=$W/rr.ts" --recovery-target immediate \
	--start -d "host=$W/rr.s port=$P2 user=postgres"
is "$RC" 0 "restore --start as root, into a directory of the postgres user"
[ "$RC" = 0 ] || diag "$ERR"
is "$(find "$W/rr" "$W/rr.ts" ! -user postgres | head -3)" "" "every file restored belongs to postgres"
is "$(rq rr "SELECT count(*) FROM t_ts")" 1000 "the server runs, with its data"
stop rr
mkdir "$W/rroot"
run $B restore --physical "$ID2" --data-dir "$W/rroot" --tablespace-map "$OID=$W/rroot.ts" --start
is "$RC" 2 "as root into a root-owned directory, --start is refused (exit 2)"
like "$ERR" "belongs to root: PostgreSQL does not run as root" "saying why"

# The same on S3 behind the strict front: archiving switched to it, a base
# backup there, a restore to an LSN from it.
if [ -x "$PGP_SRC/tests/.deps/node_modules/.bin/s3rver" ] || [ "${CI:-}" = true ]; then
	s3_start
	printf '%s' "$AWS_ACCESS_KEY_ID" >"$W/ak"
	printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$W/sk"
	chmod 600 "$W/ak" "$W/sk"
	S3CONF=$W/s3.conf
	printf 'backup = {\n  repo = "s3://%s/pitr";\n  s3_endpoint = "%s";\n  s3_access_key_file = "%s";\n  s3_secret_key_file = "%s";\n  state_dir = "%s";\n  cluster = "main-s3";\n};\n' \
		"$S3_BUCKET" "$S3_ENDPOINT" "$W/ak" "$W/sk" "$STATE" >"$S3CONF"
	chown postgres: "$W/ak" "$W/sk" "$S3CONF"
	psql_q -c "ALTER SYSTEM SET archive_command = '$PGP_BIN/pgp-backup -c $S3CONF wal-push %p'" \
		-c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
	ok "archiving into S3" -- switch_and_wait
	run as_pg "$PGP_BIN/pgp-backup" -c "$S3CONF" backup --physical -d "$BK"
	is "$RC" 0 "a base backup into S3"
	[ "$RC" = 0 ] || diag "$ERR"
	pgbench -n -T 2 -c 2 postgres >/dev/null 2>&1
	L3=$(psql_q -c "SELECT pg_current_wal_lsn()")
	MARK3=$(psql_q -c "$count_q")
	psql_q -c "CREATE TABLE after_s3 AS SELECT 1" >/dev/null
	ok "its WAL archived" -- switch_and_wait
	as_pg mkdir -p "$W/r5.s"
	at_exit "as_pg '$PG_BINDIR/pg_ctl' -D '$W/r5' -m immediate stop"
	run as_pg "$PGP_BIN/pgp-backup" -c "$S3CONF" restore --physical latest --data-dir "$W/r5" \
		--tablespace-map "$OID=$W/r5.ts" --target-lsn "$L3" --start -d "host=$W/r5.s port=$P2 user=postgres"
	is "$RC" 0 "restore --target-lsn from S3, WAL through wal-fetch from S3"
	[ "$RC" = 0 ] || diag "$ERR"
	is "$(rq r5 "$count_q")" "$MARK3" "row-exact at the mark"
	is "$(rq r5 "SELECT count(*) FROM pg_class WHERE relname = 'after_s3'")" 0 "nothing after it"
	stop r5
	run as_pg "$PGP_BIN/pgp-backup" -c "$S3CONF" verify --physical latest
	is "$RC" 0 "verify --physical of the S3 base backup"
	kill "$S3PROXY_PID"
	run as_pg "$PGP_BIN/pgp-backup" -c "$S3CONF" backup --physical -d "$BK"
	is "$RC" 3 "S3 unreachable: a base backup says so (exit 3)"
else
	diag "s3rver is not installed: the S3 part is skipped"
fi
done_testing
