#!/usr/bin/env bash
# The WAL archive against a real PostgreSQL 15 archiver: wal-push as
# archive_command into a local repository, then into S3 through the
# strict front with encryption on.  Every archived segment fetched back
# with wal-fetch is byte-identical to the server's; pg_stat_archiver
# counts no failure.  Faults: S3 down during pushes (failures counted,
# nothing missing once it is back); the same file pushed twice
# (accepted); other content under the same name (refused, both hashes
# named, the stored object unchanged); a push from another cluster
# (refused, both system identifiers named); wal-fetch of a missing
# middle segment (126, a gap), a corrupt object (126), past the end (1),
# an encrypted one without identity (126).  The archiver made to fall
# behind: the background push's .ok markers acknowledge the next files
# at once; wal-fetch's prefetch serves a second fetch from the spool.
. "$(dirname "$0")/lib.sh"
need age-keygen "age-keygen (Debian age)"
pg_start
W=$(mktemp -d /tmp/pgpw.XXXXXX)
at_exit "rm -rf '$W'"
chmod 755 "$W"
mkdir -p "$W/repo" "$W/state" "$W/r/pg_wal" "$W/r/global"
cat >"$W/local.conf" <<EOF
backup = { repo = "$W/repo"; state_dir = "$W/state"; cluster = "main";
  wal_push_parallel = 3; wal_fetch_prefetch = 3; };
EOF
chown -R postgres: "$W"
DATA=$PGDIR/data
PB=$PGP_BIN/pgp-backup
pb() { as_pg "$PB" "$@"; }
q() { psql_q -c "$1"; }
restart() { as_pg "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w restart >/dev/null; }
# wait_for SQL WANT: poll until the query gives WANT (at most 90 s; the assertion follows).
wait_for() {
	local i
	for i in $(seq 450); do
		[ "$(q "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
# switch: a little WAL, then a new segment; prints the segment just closed.
switch() {
	q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200) g" >/dev/null
	q "SELECT pg_walfile_name(pg_switch_wal())"
}
# holes: the segment numbers missing between the first and last of the names on stdin.
holes() {
	python3 -c "
import sys
s=[l.strip() for l in sys.stdin if l.strip()]
n=[int(x[8:16],16)*256+int(x[16:],16) for x in s]
print(' '.join('%X' % i for i in range(n[0], n[-1]) if i not in n) if n else 'none')"
}
archived() { wait_for "SELECT last_archived_wal >= '$1' FROM pg_stat_archiver" t; }
failed_count() { q "SELECT failed_count FROM pg_stat_archiver"; }
# The archived segments (FILE names) of timeline 1 in the local repository, sorted.
local_segments() { ls "$W/repo/clusters/main/wal/00000001" | sed -n 's/^\([0-9A-F]\{24\}\)-.*/\1/p' | sort -u; }

q "ALTER SYSTEM SET archive_mode = on" >/dev/null
q "ALTER SYSTEM SET archive_command = '$PB -c $W/local.conf wal-push %p'" >/dev/null
q "ALTER SYSTEM SET wal_keep_size = '2GB'" >/dev/null
restart
cp "$DATA/global/pg_control" "$W/r/global/" && chown -R postgres: "$W/r"
sysid=$(as_pg "$PG_BINDIR/pg_controldata" -D "$DATA" | sed -n 's/^Database system identifier: *//p')

# ---- archiving into a local repository ----
q "CREATE TABLE t (id int, v text)" >/dev/null
"$PG_BINDIR/pgbench" -q -i -s 1 >/dev/null 2>&1
"$PG_BINDIR/pgbench" -n -c 2 -t 300 >/dev/null 2>&1
for i in 1 2 3; do last=$(switch); done
ok "the archiver archives up to $last" -- archived "$last"
is "$(failed_count)" 0 "pg_stat_archiver: no failed attempt"
ok "archived_count rose" -- test "$(q "SELECT archived_count FROM pg_stat_archiver")" -ge 4
like "$(cat "$W/repo/clusters/main/cluster.json")" "\"system_identifier\": ?\"$sysid\"" \
	"cluster.json holds the server's system identifier"
state=$(cat "$W/state/cluster-main.json" 2>&1)
like "$state" "\"last_archived_wal\": ?\"$last\"" "the state file has the last archived segment"
like "$state" '"last_archived_time": ?"20' "and its time"
ls "$W/repo/clusters/main/wal/00000001/$last"-* >/dev/null 2>&1
ok "objects are named FILE-SHA256.zst" -- sh -c "ls '$W/repo/clusters/main/wal/00000001/' | grep -qE '^$last-[0-9a-f]{64}[.]zst\$'"
sha=$(sha256sum "$DATA/pg_wal/$last" | cut -c1-64)
ok "named by the SHA-256 of the raw segment" -- test -f "$W/repo/clusters/main/wal/00000001/$last-$sha.zst"

# Every archived segment fetched back is byte-identical to the server's copy.
bad=0 n=0
for seg in $(local_segments); do
	n=$((n + 1))
	if ! pb -c "$W/local.conf" wal-fetch "$seg" "$W/r/pg_wal/$seg" 2>>"$W/fetch.err" ||
	   ! cmp -s "$W/r/pg_wal/$seg" "$DATA/pg_wal/$seg"; then
		bad=$((bad + 1)); diag "segment $seg differs"
	fi
done
ok "$n archived segments fetched back" -- test "$n" -ge 4
is "$bad" 0 "each byte-identical to the server's (cmp)"

# ---- prefetch: a fetch leaves the next segments in the spool for the next one ----
first=$(local_segments | head -1)
second=$(local_segments | sed -n 2p)
rm -rf "$W/state/spool/main/fetch" "$W/r/pg_wal/"*
pb -c "$W/local.conf" wal-fetch "$first" "$W/r/pg_wal/RECOVERYXLOG" 2>/dev/null
for i in $(seq 150); do [ -f "$W/state/spool/main/fetch/$second" ] && break; sleep 0.2; done
ok "the prefetch process put the next segment in the spool" -- test -f "$W/state/spool/main/fetch/$second"
run pb -c "$W/local.conf" wal-fetch "$second" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 0 "the next wal-fetch succeeds"
like "$ERR" "WAL $second served from the prefetch spool" "served from the spool (info line)"
ok "and is the server's segment" -- cmp -s "$W/r/pg_wal/RECOVERYXLOG" "$DATA/pg_wal/$second"
ok "taken out of the spool" -- test ! -e "$W/state/spool/main/fetch/$second"

# ---- the same file again; other content under the same name; another cluster ----
run pb -c "$W/local.conf" wal-push "$DATA/pg_wal/$last"
is "$RC" 0 "the same segment pushed again is accepted"
like "$ERR" "already archived with the same content" "as already archived"
sed 's|cluster = "main";|cluster = "main"; spool_dir = "/nonexistent/pgp-spool";|' "$W/local.conf" >"$W/nospool.conf"
chown postgres: "$W/nospool.conf"
run pb -c "$W/nospool.conf" wal-push "$DATA/pg_wal/$last"
is "$RC" 0 "a spool directory that cannot be made does not stop a push"
like "$ERR" "without the spool's lock" "it is pushed with a warning"
obj=$(ls "$W/repo/clusters/main/wal/00000001/$last"-*)
before=$(sha256sum "$obj")
mkdir -p "$W/fake/pg_wal" "$W/fake/global"
cp "$DATA/global/pg_control" "$W/fake/global/"
cp "$DATA/pg_wal/$last" "$W/fake/pg_wal/$last"
printf 'X' | dd of="$W/fake/pg_wal/$last" bs=1 seek=100000 conv=notrunc 2>/dev/null
chown -R postgres: "$W/fake"
fakesha=$(sha256sum "$W/fake/pg_wal/$last" | cut -c1-64)
run pb -c "$W/local.conf" wal-push "$W/fake/pg_wal/$last"
ok "other content under the same name is refused" -- test "$RC" -ne 0
like "$ERR" "$sha" "naming the stored copy's SHA-256"
like "$ERR" "$fakesha" "and this file's"
is "$(sha256sum "$obj")" "$before" "the stored object is unchanged"
is "$(ls "$W/repo/clusters/main/wal/00000001/" | grep -c "^$last-")" 1 "and no second copy was written"

as_pg "$PG_BINDIR/initdb" -D "$W/other" -U postgres --no-sync >/dev/null 2>&1
othersys=$(as_pg "$PG_BINDIR/pg_controldata" -D "$W/other" | sed -n 's/^Database system identifier: *//p')
run pb -c "$W/local.conf" wal-push "$W/other/pg_wal/000000010000000000000001"
ok "a push from another cluster into the same name is refused" -- test "$RC" -ne 0
like "$ERR" "$sysid" "naming the archive's system identifier"
like "$ERR" "$othersys" "and the other cluster's"
run pb -c "$W/local.conf" wal-push "$DATA/pg_wal/archive_status"
is "$RC" 2 "a path that is not a WAL file is a usage error"

# A segment whose header does not match its name.
cp "$DATA/pg_wal/$last" "$W/fake/pg_wal/$first"
chown postgres: "$W/fake/pg_wal/$first"
run pb -c "$W/local.conf" wal-push "$W/fake/pg_wal/$first"
ok "a segment whose first page is at another address is refused" -- test "$RC" -ne 0
like "$ERR" "its first page is at" "saying where its page is"

# ---- wal-fetch faults ----
mid=$(local_segments | sed -n 2p)
tail=$(local_segments | tail -1)
midobj=$(ls "$W/repo/clusters/main/wal/00000001/$mid"-*)
mv "$midobj" "$W/mid.aside"
run pb -c "$W/local.conf" wal-fetch "$mid" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 126 "a missing middle segment stops recovery (126)"
like "$ERR" "gap" "named a gap"
like "$ERR" "$mid" "naming the segment"
mv "$W/mid.aside" "$midobj"
cp "$midobj" "$W/mid.aside"
printf 'garbage' | dd of="$midobj" bs=1 seek=200 conv=notrunc 2>/dev/null
rm -rf "$W/state/spool/main/fetch"
run pb -c "$W/local.conf" wal-fetch "$mid" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 126 "a corrupt object stops recovery (126)"
like "$ERR" "corrupt" "saying it is corrupt"
cp "$W/mid.aside" "$midobj"
next=$(python3 -c "s='$tail'; n=int(s[8:16],16)*256+int(s[16:],16)+5; print(s[:8]+'%08X%08X'%(n//256,n%256))")
run pb -c "$W/local.conf" wal-fetch "$next" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 1 "past the end of the archive: not found (1)"
run pb -c "$W/local.conf" wal-fetch 00000002.history "$W/r/pg_wal/RECOVERYHISTORY"
is "$RC" 1 "a .history file the server probes for: not found (1)"

# ---- the archiver falls behind; the background push catches up ----
q "ALTER SYSTEM SET archive_command = '/bin/false'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
f0=$(failed_count)
for i in $(seq 10); do behind=$(switch); done
wait_for "SELECT failed_count > $f0 FROM pg_stat_archiver" t
ok "with /bin/false the archiver fails and falls behind" -- test "$(failed_count)" -gt "$f0"
ready=$(ls "$DATA/pg_wal/archive_status/" | grep -c '[.]ready$')
ok "$ready .ready files wait" -- test "$ready" -ge 8
q "ALTER SYSTEM SET archive_command = '$PB -c $W/local.conf wal-push %p'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok "the archiver catches up to $behind" -- archived "$behind"
like "$(cat "$W/state/spool/main/push.log" 2>&1)" "stored ahead of the archiver" \
	"the background push stored files ahead of the archiver"
like "$(cat "$PGDIR/server.log")" "was stored by the background push: acknowledged" \
	"the archiver's own wal-push acknowledged them from the .ok markers (info line)"
f1=$(failed_count)
for i in 1 2; do last=$(switch); done
ok "archiving goes on" -- archived "$last"
is "$(failed_count)" "$f1" "failed_count does not rise afterwards"
is "$(local_segments | holes)" "" "every segment from the first to the last is in the archive, none skipped"
ok "no .ok marker is left" -- sh -c "! ls '$W/state/spool/main/push/' | grep -q '[.]ok\$'"

# ---- a real recovery: a base backup restored with restore_command = wal-fetch ----
as_pg "$PG_BINDIR/pg_basebackup" -D "$W/restore" -X none -c fast >/dev/null 2>&1
ok "pg_basebackup without WAL (recovery needs the archive)" -- test -f "$W/restore/backup_label"
q "INSERT INTO t SELECT g, 'after the backup' FROM generate_series(1, 1000) g" >/dev/null
for i in 1 2 3; do last=$(switch); done
want=$(q "SELECT count(*) FROM t")
ok "archived up to $last" -- archived "$last"
port2=$(free_port)
cat >>"$W/restore/postgresql.auto.conf" <<EOF
port = $port2
unix_socket_directories = '$W/restore'
archive_mode = off
restore_command = '$PB -c $W/local.conf wal-fetch %f %p'
EOF
touch "$W/restore/recovery.signal"
chown -R postgres: "$W/restore" && chmod 700 "$W/restore"
at_exit "runuser -u postgres -- '$PG_BINDIR/pg_ctl' -D '$W/restore' -m immediate stop"
as_pg "$PG_BINDIR/pg_ctl" -D "$W/restore" -l "$W/restore.log" -w -t 120 start >/dev/null 2>&1
r() { psql -X -A -t -h "$W/restore" -p "$port2" -U postgres -d postgres -c "$1" 2>&1; }
for i in $(seq 300); do [ "$(r "SELECT pg_is_in_recovery()")" = f ] && break; sleep 0.2; done
is "$(r "SELECT pg_is_in_recovery()")" f "the restored copy replayed the archive and was promoted"
is "$(r "SELECT count(*) FROM t")" "$want" "with every row committed before the last archived segment"
like "$(cat "$W/restore.log")" "restored log file \"$last\" from archive" "it read $last through wal-fetch"
like "$(cat "$W/restore.log")" "served from the prefetch spool" "segments came from the prefetch spool during recovery"
unlike "$(cat "$W/restore.log")" "FATAL" "recovery ended without a FATAL error"
as_pg "$PG_BINDIR/pg_ctl" -D "$W/restore" -m fast stop >/dev/null 2>&1

# ---- the chain check (wal_check_chain) and retention (wal_prune), through walchain-tool ----
CT=$PGP_TESTBIN/tools/walchain-tool
need "$CT" "tests/tools/walchain-tool (make test-progs)"
# seg NAME OFFSET: the LSN of a segment's start plus OFFSET; segname TLI NUMBER.
lsn() { python3 -c "s='$1'; n=int(s[8:16],16)*256+int(s[16:],16); b=n*16*1024*1024+${2:-0}; print('%X/%X' % (b>>32, b&0xffffffff))"; }
segname() { printf '%08X%08X%08X' "$1" $(($2 / 256)) $(($2 % 256)); }
num() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
wal1=$W/repo/clusters/main/wal/00000001
oldest=$(local_segments | head -1)
newest=$(local_segments | tail -1)
run "$CT" "$W/local.conf" check 1 "$(lsn "$oldest")" read
is "$RC" 0 "the chain from $oldest to the newest segment is whole, every segment read"
like "$OUT" "first=$oldest last=$newest last_tli=1 .*problems=0" "from the first to the newest"
like "$OUT" "end_lsn=$(lsn "$newest" 16777216) " "recoverable to the end of the newest"
mid=$(local_segments | sed -n 3p)
prev=$(segname 1 $(($(num "$mid") - 1)))
after=$(segname 1 $(($(num "$mid") + 1)))
midobj=$(ls "$wal1/$mid"-*)
mv "$midobj" "$W/mid.aside"
run "$CT" "$W/local.conf" check 1 "$(lsn "$oldest")"
is "$RC" 1 "a gap is found (exit 1)"
like "$ERR" "WAL $mid is missing from the archive [(]$prev and $after are there[)]" "and named with its neighbours"
like "$OUT" "problems=1" "one problem"
mv "$W/mid.aside" "$midobj"
cp "$midobj" "$W/mid.aside"
printf 'garbage' | dd of="$midobj" bs=1 seek=300 conv=notrunc 2>/dev/null
run "$CT" "$W/local.conf" check 1 "$(lsn "$oldest")"
is "$RC" 0 "without reading, a damaged object is not seen"
run "$CT" "$W/local.conf" check 1 "$(lsn "$oldest")" read
is "$RC" 1 "read, it is (exit 1)"
like "$ERR" "WAL $mid .*(corrupt|does not decompress)" "named as corrupt"
cp "$W/mid.aside" "$midobj"

# A timeline switch: 00000002.history says timeline 1 ended inside segment K; timeline 2's
# K, K+1, K+2 follow (names only: the check without reading looks at names).
k=$(num "$(local_segments | sed -n 4p)")
switch_lsn=$(lsn "$(segname 1 "$k")" 256)
printf '1\t%s\tno recovery target specified\n' "$switch_lsn" >"$W/hist"
hsha=$(sha256sum "$W/hist" | cut -c1-64)
mkdir -p "$W/repo/clusters/main/wal/history" "$W/repo/clusters/main/wal/00000002"
cp "$W/hist" "$W/repo/clusters/main/wal/history/00000002.history-$hsha"
for i in 0 1 2; do
	: >"$W/repo/clusters/main/wal/00000002/$(segname 2 $((k + i)))-$(printf '%064d' 0).zst"
done
run "$CT" "$W/local.conf" check 1 "$(lsn "$oldest")"
is "$RC" 0 "the chain follows the switch to timeline 2 at $switch_lsn"
like "$OUT" "last=$(segname 2 $((k + 2))) last_tli=2 .*files=$((k - $(num "$oldest") + 3)) " \
	"timeline 1 up to the switch, then timeline 2 to its newest"
rm "$W/repo/clusters/main/wal/00000002/$(segname 2 $((k + 1)))"-*
run "$CT" "$W/local.conf" check 1 "$(lsn "$oldest")"
is "$RC" 1 "a gap on the new timeline is found"
like "$ERR" "WAL $(segname 2 $((k + 1))) is missing" "and named"

# Retention: everything before segment K of timelines <= 2 goes; .history files and newer stay.
run "$CT" "$W/local.conf" prune 1 "$(lsn "$(segname 1 "$k")" 100)"
is "$RC" 0 "wal_prune"
like "$ERR" "pruned WAL $oldest" "logs what it deletes"
is "$(local_segments | head -1)" "$(segname 1 "$k")" "the oldest segment left is the one holding keep_lsn"
ok "timeline 2 and the .history file are kept" -- test -f "$W/repo/clusters/main/wal/history/00000002.history-$hsha"
ok "and timeline 2's segments" -- test -f "$W/repo/clusters/main/wal/00000002/$(segname 2 "$k")-$(printf '%064d' 0).zst"
rm -rf "$W/repo/clusters/main/wal/00000002" "$W/repo/clusters/main/wal/history"
run "$CT" "$W/local.conf" check 1 "$(lsn "$(segname 1 "$k")")" read
is "$RC" 0 "the chain from the kept point is whole"

# ---- S3 through the strict front, encrypted ----
s3_start
age-keygen -o "$W/id.key" 2>/dev/null
pub=$(age-keygen -y "$W/id.key")
printf '%s' "$AWS_ACCESS_KEY_ID" >"$W/ak"
printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$W/sk"
chmod 600 "$W/ak" "$W/sk" "$W/id.key"
cat >"$W/s3.conf" <<EOF
backup = { repo = "s3://$S3_BUCKET/wal"; s3_endpoint = "$S3_ENDPOINT"; state_dir = "$W/state3";
  s3_access_key_file = "$W/ak"; s3_secret_key_file = "$W/sk"; cluster = "main";
  encrypt_recipients = ["$pub"]; identity_file = "$W/id.key"; wal_fetch_prefetch = 3; };
EOF
sed 's/identity_file = "[^"]*"; //' "$W/s3.conf" >"$W/s3-noid.conf"
chown postgres: "$W"/*.conf "$W/ak" "$W/sk" "$W/id.key"
q "ALTER SYSTEM SET archive_command = '$PB -c $W/s3.conf wal-push %p'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
s3first=$(switch)
"$PG_BINDIR/pgbench" -n -c 2 -t 200 >/dev/null 2>&1
for i in 1 2; do last=$(switch); done
ok "the archiver archives into S3 up to $last" -- archived "$last"
f1=$(failed_count)
s3keys() { aws_cli s3 ls --recursive "s3://$S3_BUCKET/wal/clusters/main/wal/00000001/" 2>/dev/null; }
like "$(s3keys)" "$last-[0-9a-f]{64}[.]zst[.]age" "stored encrypted, as FILE-SHA256.zst.age"

# S3 down: the archiver's pushes fail, and once it is back nothing is missing.
port=${S3_ENDPOINT##*:}
kill "$S3PROXY_PID"
wait "$S3PROXY_PID" 2>/dev/null
for i in 1 2 3; do down=$(switch); done
wait_for "SELECT failed_count > $f1 FROM pg_stat_archiver" t
ok "with S3 down the archiver's failed_count rises" -- test "$(failed_count)" -gt "$f1"
ok "and $down waits" -- test -f "$DATA/pg_wal/archive_status/$down.ready"
python3 "$PGP_SRC/tests/s3-strict-proxy.py" "$port" "${S3_DIRECT##*:}" S3RVER S3RVER >>"$S3_DIR/proxy.log" 2>&1 &
S3PROXY_PID=$!
at_exit "kill $S3PROXY_PID"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
q "SELECT pg_switch_wal()" >/dev/null
ok "once S3 is back the archiver catches up to $down" -- archived "$down"
bad=0 n=0 s3last=
for seg in $(s3keys | sed -n 's/.*\/\([0-9A-F]\{24\}\)-.*/\1/p' | sort -u); do
	n=$((n + 1)) s3last=$seg
	if ! pb -c "$W/s3.conf" wal-fetch "$seg" "$W/r/pg_wal/RECOVERYXLOG" 2>>"$W/fetch.err" ||
	   ! cmp -s "$W/r/pg_wal/RECOVERYXLOG" "$DATA/pg_wal/$seg"; then
		bad=$((bad + 1)); diag "segment $seg: not fetched back intact"
	fi
done
# (the switch above may have had the next segment archived too by now)
ok "the segments from $s3first to $down are all in S3 ($n)" -- test ! "$s3last" \< "$down"
is "$(s3keys | sed -n 's/.*\/\([0-9A-F]\{24\}\)-.*/\1/p' | sort -u | head -1)" "$s3first" "starting at $s3first"
is "$(s3keys | sed -n 's/.*\/\([0-9A-F]\{24\}\)-.*/\1/p' | sort -u | holes)" "" "none missing in between"
is "$bad" 0 "each decrypted and fetched back byte-identical (cmp)"
s3second=$(s3keys | sed -n 's/.*\/\([0-9A-F]\{24\}\)-.*/\1/p' | sort -u | sed -n 2p)
rm -rf "$W/state3/spool/main/fetch"
pb -c "$W/s3.conf" wal-fetch "$s3first" "$W/r/pg_wal/RECOVERYXLOG" 2>/dev/null
for i in $(seq 150); do [ -f "$W/state3/spool/main/fetch/$s3second" ] && break; sleep 0.2; done
run pb -c "$W/s3.conf" wal-fetch "$s3second" "$W/r/pg_wal/RECOVERYXLOG"
like "$ERR" "WAL $s3second served from the prefetch spool" "S3: the prefetch workers (own connections) filled the spool"
ok "with the server's segment" -- cmp -s "$W/r/pg_wal/RECOVERYXLOG" "$DATA/pg_wal/$s3second"
unlike "$(cat "$S3_DIR/proxy.log")" "REJECT" "the strict front rejected no request"
run pb -c "$W/s3-noid.conf" wal-fetch "$down" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 126 "an encrypted segment without identity stops recovery (126)"
like "$ERR" "identity" "saying an identity is needed"

# S3 unreachable during recovery: stop (126), but a standby goes on streaming (1).
kill "$S3PROXY_PID"
wait "$S3PROXY_PID" 2>/dev/null
run pb -c "$W/s3.conf" wal-fetch "$down" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 126 "the repository unreachable stops recovery (126)"
touch "$W/r/standby.signal" && chown postgres: "$W/r/standby.signal"
run pb -c "$W/s3.conf" wal-fetch "$down" "$W/r/pg_wal/RECOVERYXLOG"
is "$RC" 1 "in a standby it is not found (1) ..."
like "$ERR" "streaming from its primary" "... with a warning"
logs=$(cat "$PGDIR/server.log" "$W"/state*/spool/main/*.log "$W/fetch.err" 2>/dev/null)
unlike "$logs" "Sanitizer|runtime error" "no wal-push or wal-fetch (the archiver's, the background ones) reported a sanitizer error"
done_testing
