#!/usr/bin/env bash
# The WAL archive under faults and bad input (wal-push and wal-fetch run
# by hand on copies of a real PostgreSQL 15's segments, no archiver).
# Bad configuration (exit 2); names that are not WAL, a segment of the
# wrong size or of another cluster (refused, 2); wal-push SIGKILLed at
# random moments into a local repository and S3 (no object that is not
# whole is ever fetched or counted; the retry succeeds; no gap); .ok
# markers that lie (never an acknowledgement without the object); a
# read-only spool; two pushes of one file at once; wal-fetch into a
# directory it cannot write, of an empty, truncated or swapped object, a
# garbage .history, with a world-readable identity, and with stale files
# in the prefetch spool (126, or not served); S3 unreachable at push
# (nonzero within backup.wal_timeout) and answering 500 then OK; the
# identity in no log.
. "$(dirname "$0")/lib.sh"
need zstd "zstd (Debian zstd)"
need age-keygen "age-keygen (Debian age)"
pg_start
W=$(mktemp -d /tmp/pgpf.XXXXXX)
at_exit "rm -rf '$W'"
chmod 755 "$W"
DATA=$PGDIR/data
PB=$PGP_BIN/pgp-backup
CT=$PGP_TESTBIN/tools/walchain-tool
need "$CT" "tests/tools/walchain-tool (make test-progs)"
pb() { as_pg "$PB" "$@"; }
q() { psql_q -c "$1"; }
mkdir -p "$W/repo" "$W/state" "$W/d/pg_wal" "$W/d/global" "$W/r/pg_wal" "$W/r/global"
conf() { # conf FILE EXTRA: a local configuration
	cat >"$W/$1" <<EOF
backup = { repo = "$W/repo"; state_dir = "$W/state"; cluster = "main";
  wal_push_parallel = 2; wal_fetch_prefetch = 0; $2 };
EOF
}
conf local.conf ""
conf slow.conf "compress_level = 19;"

# Segments with real content: 6 closed ones, copied beside a pg_control.
q "CREATE TABLE t (id int, v text)" >/dev/null
segs=()
for i in 1 2 3 4 5 6; do
	q "INSERT INTO t SELECT g, md5(g::text) || md5((g + $i)::text) FROM generate_series(1, 60000) g" >/dev/null
	segs+=("$(q "SELECT pg_walfile_name(pg_switch_wal())")")
	cp "$DATA/pg_wal/${segs[-1]}" "$W/d/pg_wal/" || echo "Bail out! segment ${segs[-1]} gone"
done
cp "$DATA/global/pg_control" "$W/d/global/"
cp "$DATA/global/pg_control" "$W/r/global/"
chown -R postgres: "$W"
seg() { printf '%s' "$W/d/pg_wal/${segs[$1]}"; }
objs() { ls "$W/repo/clusters/main/wal/00000001/" 2>/dev/null; }
# whole: every object whose name parses decompresses to the SHA-256 its name gives.
whole() {
	local o bad=0
	for o in $(objs | grep -E '^[0-9A-F]{24}-[0-9a-f]{64}[.]zst$'); do
		[ "$(zstd -qdc "$W/repo/clusters/main/wal/00000001/$o" 2>/dev/null | sha256sum | cut -c1-64)" = \
			"$(echo "$o" | sed 's/.*-\([0-9a-f]*\)[.]zst$/\1/')" ] || { bad=1; diag "not whole: $o"; }
	done
	return $bad
}
fetched_is() { # fetched_is I: wal-fetch segment I gives the original
	rm -f "$W/r/pg_wal/X"
	pb -c "$W/local.conf" wal-fetch "${segs[$1]}" "$W/r/pg_wal/X" 2>>"$W/fetch.err" && cmp -s "$W/r/pg_wal/X" "$(seg "$1")"
}

# ---- bad configuration ----
for bad in "wal_push_parallel = 0;" "wal_push_parallel = 99;" "spool_dir = \"spool\";" "wal_timeout = 1;"; do
	conf bad.conf "$bad"
	run pb -c "$W/bad.conf" wal-push "$(seg 0)"
	is "$RC" 2 "backup.{ $bad }: a configuration error (2)"
done
sed 's/cluster = "main"/cluster = "a\/b"/' "$W/local.conf" >"$W/bad.conf"
run pb -c "$W/bad.conf" wal-push "$(seg 0)"
is "$RC" 2 "backup.cluster = \"a/b\": a configuration error (2)"
like "$ERR" "backup.cluster" "naming the key"
ok "nothing was written by a refused configuration" -- test ! -e "$W/repo/clusters"

# ---- names ----
: >"$W/d/pg_wal/notwal" && chown postgres: "$W/d/pg_wal/notwal"
run pb -c "$W/local.conf" wal-push "$W/d/pg_wal/notwal"
is "$RC" 2 "wal-push of a file whose name is not WAL: 2"
short=${segs[0]}
mkdir -p "$W/short/pg_wal" "$W/short/global" && cp "$DATA/global/pg_control" "$W/short/global/"
head -c 8388608 "$(seg 0)" >"$W/short/pg_wal/$short"
chown -R postgres: "$W/short"
run pb -c "$W/local.conf" wal-push "$W/short/pg_wal/$short"
is "$RC" 2 "a segment cut to 8 MB is refused (2)"
like "$ERR" "8388608 bytes" "saying its size"
as_pg "$PG_BINDIR/initdb" -D "$W/other" -U postgres --no-sync >/dev/null 2>&1
mkdir -p "$W/mix/pg_wal" "$W/mix/global" && cp "$DATA/global/pg_control" "$W/mix/global/"
cp "$W/other/pg_wal/000000010000000000000001" "$W/mix/pg_wal/${segs[5]}"
chown -R postgres: "$W/mix"
run pb -c "$W/local.conf" wal-push "$W/mix/pg_wal/${segs[5]}"
is "$RC" 2 "another cluster's segment renamed into this one's sequence is refused (2)"
like "$ERR" "its first page is at|system identifier" "saying why"
ok "and nothing of it is stored" -- test -z "$(objs)"

printf 'this is not\na history file\n' >"$W/d/pg_wal/00000002.history"
chown postgres: "$W/d/pg_wal/00000002.history"
run pb -c "$W/local.conf" wal-push "$W/d/pg_wal/00000002.history"
is "$RC" 2 "a .history file that does not parse is refused at push (2)"
like "$ERR" "not a timeline history file: line 1" "saying where"
printf '1\t0/5000000\tno recovery target specified\n' >"$W/d/pg_wal/00000002.history"
run pb -c "$W/local.conf" wal-push "$W/d/pg_wal/00000002.history"
is "$RC" 0 "a real one is pushed"
run pb -c "$W/local.conf" wal-fetch 00000002.history "$W/r/pg_wal/RECOVERYHISTORY"
is "$RC" 0 "and fetched"
ok "byte-identical" -- cmp -s "$W/r/pg_wal/RECOVERYHISTORY" "$W/d/pg_wal/00000002.history"
rm -rf "$W/repo/clusters/main/wal/history" "$W/d/pg_wal/00000002.history" "$W/r/pg_wal/RECOVERYHISTORY"

# A .partial file (the end of a timeline at promotion) is stored as such, never as the segment.
cp "$(seg 5)" "$W/d/pg_wal/${segs[5]}.partial" && chown postgres: "$W/d/pg_wal/${segs[5]}.partial"
run pb -c "$W/local.conf" wal-push "$W/d/pg_wal/${segs[5]}.partial"
is "$RC" 0 "a .partial file is pushed"
ok "stored under its own name" -- sh -c "ls '$W/repo/clusters/main/wal/00000001/' | grep -qE '^${segs[5]}[.]partial-[0-9a-f]{64}[.]zst\$'"
run pb -c "$W/local.conf" wal-fetch "${segs[5]}" "$W/r/pg_wal/X"
is "$RC" 1 "wal-fetch of the segment does not take the .partial: not found (1)"
rm -f "$W/repo/clusters/main/wal/00000001/${segs[5]}.partial"-*

# ---- wal-push SIGKILLed at random moments (local repository, zstd level 19: slow) ----
killed=0 partial=0
for i in 0 1 2 3; do
	for k in 1 2; do
		as_pg "$PB" -c "$W/slow.conf" wal-push "$(seg $i)" 2>/dev/null &
		pid=$!
		sleep "0.$((RANDOM % 9 + 1))"
		pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null && continue
		killed=$((killed + 1))
	done
	objs | grep -q "^${segs[$i]}-.*[.]partial\$" && partial=$((partial + 1))
	ok "after the kills, every stored object of ${segs[$i]} is whole" -- whole
	run pb -c "$W/local.conf" wal-push "$(seg $i)"
	is "$RC" 0 "the archiver's retry of ${segs[$i]} succeeds"
	ok "wal-fetch gives ${segs[$i]} back byte-identical" -- fetched_is $i
done
ok "some pushes were killed part way ($killed)" -- test "$killed" -ge 1
diag "killed $killed pushes; a .partial was left for $partial segments"
# A .partial left in the repository: never fetched, never counted by the chain check.
cp "$W/repo/clusters/main/wal/00000001/${segs[1]}"-*.zst "$W/p.aside"
po=$(cd "$W/repo/clusters/main/wal/00000001/" && ls "${segs[1]}"-*.zst)
rm "$W/repo/clusters/main/wal/00000001/$po"
cp "$W/p.aside" "$W/repo/clusters/main/wal/00000001/$po.partial"
run pb -c "$W/local.conf" wal-fetch "${segs[1]}" "$W/r/pg_wal/X"
is "$RC" 126 "a segment there only as .partial: a gap, recovery stops (126)"
like "$ERR" "missing" "named missing"
s0=${segs[0]}
start_lsn=$(python3 -c "s='$s0'; n=int(s[8:16],16)*256+int(s[16:],16); b=n*16777216; print('%X/%X' % (b>>32, b&0xffffffff))")
run "$CT" "$W/local.conf" check 1 "$start_lsn"
is "$RC" 1 "the chain check does not count the .partial: a gap (1)"
like "$ERR" "WAL ${segs[1]} is missing" "naming the segment"
mv "$W/repo/clusters/main/wal/00000001/$po.partial" "$W/repo/clusters/main/wal/00000001/$po"
run "$CT" "$W/local.conf" check 1 "$start_lsn"
is "$RC" 0 "with the object back the chain is whole"
find "$W/repo" -name '*.partial' -delete

diag "markers from ${SECONDS}s"
# ---- .ok markers that lie ----
M=$W/state/spool/main/push
mkdir -p "$M" && chown -R postgres: "$W/state"
s4=${segs[4]}
sha4=$(sha256sum "$(seg 4)" | cut -c1-64)
lie() { # lie WHAT: the marker, then a push that must store the file
	rm -rf "$W/repo/clusters/main/wal/00000001/$s4"-*
	run pb -c "$W/local.conf" wal-push "$(seg 4)"
	is "$RC" 0 "a marker that $1: wal-push exits 0 ..."
	ok "... only with $s4 stored" -- fetched_is 4
}
printf '%s %s\n' "$sha4" "$W/repo" >"$M/$s4.ok"
chown postgres: "$M/$s4.ok"
lie "is left over from an earlier repository at the same path"
printf '%s %s\n' "$(printf '%064d' 0)" "$W/repo" >"$M/$s4.ok"
lie "holds another SHA-256"
printf '%s %s' "$sha4" "$W/re" >"$M/$s4.ok"
lie "is truncated"
printf '%s %s\n' "$sha4" "s3://other/repo" >"$M/$s4.ok"
lie "names another repository"
rm -f "$M/$s4.ok"; mkdir "$M/$s4.ok"; chown postgres: "$M/$s4.ok"
lie "is a directory"
rmdir "$M/$s4.ok"
# A read-only spool: pushed without the lock, never acknowledged from an old marker.
printf '%s %s\n' "$sha4" "$W/repo" >"$M/$s4.ok"
chmod 555 "$M"
lie "sits in a read-only spool"
chmod 755 "$M"
# Two pushes of one file at once (with the spool's lock, and without a spool).
conf mid.conf "compress_level = 12;"
sed 's|cluster = "main";|cluster = "main"; spool_dir = "/nonexistent/pgp-spool";|' "$W/mid.conf" >"$W/nospool.conf"
chown postgres: "$W"/*.conf
for c in mid nospool; do
	rm -rf "$W/repo/clusters/main/wal/00000001/${segs[5]}"-*
	as_pg "$PB" -c "$W/$c.conf" wal-push "$(seg 5)" 2>"$W/a.err" & a=$!
	as_pg "$PB" -c "$W/$c.conf" wal-push "$(seg 5)" 2>"$W/b.err" & b=$!
	wait $a; ra=$? ; wait $b; rb=$?
	ok "$c: two pushes of ${segs[5]} at once: at least one is acknowledged ($ra, $rb)" -- \
		test "$ra" = 0 -o "$rb" = 0
	is "$(objs | grep -c "^${segs[5]}-.*zst\$")" 1 "$c: one object"
	ok "$c: whole" -- whole
	ok "$c: fetched back identical" -- fetched_is 5
done

# A full spool: the background push cannot leave its markers; every file is still pushed
# and acknowledged only once stored.
FS=$W/fullspool
mkdir -p "$FS"
ok "a 64 kB tmpfs for a full spool" -- mount -t tmpfs -o size=64k tmpfs "$FS"
at_exit "umount -l '$FS'"
mkdir -p "$FS/main/push" && chown -R postgres: "$FS"
dd if=/dev/zero of="$FS/filler" bs=4k 2>/dev/null
mkdir -p "$W/d/pg_wal/archive_status"
for i in 1 2 3 4; do
	rm -f "$W/repo/clusters/main/wal/00000001/${segs[$i]}"-*
	: >"$W/d/pg_wal/archive_status/${segs[$i]}.ready"
done
chown -R postgres: "$W/d/pg_wal/archive_status"
sed "s|cluster = \"main\";|cluster = \"main\"; spool_dir = \"$FS\";|" "$W/local.conf" >"$W/full.conf"
chown postgres: "$W/full.conf"
run pb -c "$W/full.conf" wal-push "$(seg 0)"
is "$RC" 0 "with the spool full, a push that starts the background push succeeds"
bg() { local i n=0; for i in 1 2 3 4; do objs | grep -qE "^${segs[$i]}-[0-9a-f]{64}[.]zst\$" && n=$((n + 1)); done; echo $n; }
for i in $(seq 150); do [ "$(bg)" = 4 ] && break; sleep 0.2; done
is "$(bg)" 4 "the background push stored the 4 next files all the same"
allok=0
for i in 1 2 3 4; do
	run pb -c "$W/full.conf" wal-push "$(seg $i)"
	[ "$RC" = 0 ] && fetched_is $i && allok=$((allok + 1))
	rm -f "$W/d/pg_wal/archive_status/${segs[$i]}.ready"
done
is "$allok" 4 "each of the next 4 files acknowledged, and stored whole"
diag "full spool section done at ${SECONDS}s"
ok "no marker could be written" -- sh -c "! ls '$FS/main/push/' | grep -q '[.]ok\$'"
rmdir "$W/d/pg_wal/archive_status" 2>/dev/null

diag "wal-fetch faults from ${SECONDS}s"
# ---- wal-fetch faults ----
mkdir -p "$W/ro/pg_wal" "$W/ro/global" && cp "$DATA/global/pg_control" "$W/ro/global/"
chown -R postgres: "$W/ro/global"
chmod 755 "$W/ro/pg_wal"
run pb -c "$W/local.conf" wal-fetch "${segs[2]}" "$W/ro/pg_wal/RECOVERYXLOG"
is "$RC" 126 "wal-fetch into a directory it cannot write: recovery stops (126)"
like "$ERR" "cannot (create|write)" "saying why"
D=$W/repo/clusters/main/wal/00000001
o3=$(cd "$D" && ls "${segs[3]}"-*.zst)
cp "$D/$o3" "$W/o3.aside"
: >"$D/$o3"
run pb -c "$W/local.conf" wal-fetch "${segs[3]}" "$W/r/pg_wal/X"
is "$RC" 126 "an empty object under a name that parses: 126"
head -c 1000 "$W/o3.aside" >"$D/$o3"
rm -f "$W/r/pg_wal/X"
run pb -c "$W/local.conf" wal-fetch "${segs[3]}" "$W/r/pg_wal/X"
is "$RC" 126 "a truncated object: 126"
ok "and no file left in its place" -- test ! -e "$W/r/pg_wal/X"
cp "$D/$(cd "$D" && ls "${segs[2]}"-*.zst)" "$D/$o3"
run pb -c "$W/local.conf" wal-fetch "${segs[3]}" "$W/r/pg_wal/X"
is "$RC" 126 "an object that decompresses to another segment than its name's SHA-256: 126"
like "$ERR" "corrupt" "named corrupt"
cp "$W/o3.aside" "$D/$o3"
mkdir -p "$W/repo/clusters/main/wal/history"
printf 'this is not\na history file\n' >"$W/garbage"
gsha=$(sha256sum "$W/garbage" | cut -c1-64)
zstd -q -c "$W/garbage" >"$W/repo/clusters/main/wal/history/00000002.history-$gsha.zst"
chown -R postgres: "$W/repo"
run pb -c "$W/local.conf" wal-fetch 00000002.history "$W/r/pg_wal/RECOVERYHISTORY"
is "$RC" 126 "a .history file that is garbage (its SHA-256 right): 126"
like "$ERR" "00000002.history" "naming it"
ok "not put in place" -- test ! -e "$W/r/pg_wal/RECOVERYHISTORY"
rm -rf "$W/repo/clusters/main/wal/history"

# The prefetch spool: stale and truncated files are never served.
F=$W/state/spool/main/fetch
mkdir -p "$F"
cp "$W/other/pg_wal/000000010000000000000001" "$F/${segs[2]}"
chown -R postgres: "$W/state"
run pb -c "$W/local.conf" wal-fetch "${segs[2]}" "$W/r/pg_wal/X"
is "$RC" 0 "a spool file of another cluster ..."
unlike "$ERR" "served from the prefetch spool" "... is not served"
ok "the archive's copy is" -- cmp -s "$W/r/pg_wal/X" "$(seg 2)"
head -c 1000000 "$(seg 2)" >"$F/${segs[2]}"
run pb -c "$W/local.conf" wal-fetch "${segs[2]}" "$W/r/pg_wal/X"
unlike "$ERR" "served from the prefetch spool" "a truncated spool file is not served"
ok "the archive's copy is, again" -- cmp -s "$W/r/pg_wal/X" "$(seg 2)"
# Same cluster, same name, other content: left by a recovery from another repository.
cp "$(seg 2)" "$F/${segs[2]}"
printf 'X' | dd of="$F/${segs[2]}" bs=1 seek=100000 conv=notrunc 2>/dev/null
chown -R postgres: "$F"
run pb -c "$W/local.conf" wal-fetch "${segs[2]}" "$W/r/pg_wal/X"
is "$RC" 0 "a spool file with this cluster's header but other content ..."
ok "... is not served: the archive's copy is" -- cmp -s "$W/r/pg_wal/X" "$(seg 2)"
# With prefetch on, the spool still serves what it fetched itself.
conf pre.conf "wal_fetch_prefetch = 2;"
sed -i 's/wal_fetch_prefetch = 0; wal_fetch_prefetch = 2;/wal_fetch_prefetch = 2;/' "$W/pre.conf"
chown postgres: "$W/pre.conf"
rm -rf "$F"
pb -c "$W/pre.conf" wal-fetch "${segs[2]}" "$W/r/pg_wal/X" 2>/dev/null
for i in $(seq 150); do [ -f "$F/${segs[3]}" ] && break; sleep 0.2; done
run pb -c "$W/pre.conf" wal-fetch "${segs[3]}" "$W/r/pg_wal/X"
like "$ERR" "served from the prefetch spool" "a segment the prefetch fetched is served from the spool"
ok "and is the original" -- cmp -s "$W/r/pg_wal/X" "$(seg 3)"

# ---- encrypted: a world-readable identity is refused, never used ----
age-keygen -o "$W/id.key" 2>/dev/null
pub=$(age-keygen -y "$W/id.key")
mkdir -p "$W/erepo"
cat >"$W/enc.conf" <<EOF
backup = { repo = "$W/erepo"; state_dir = "$W/state"; cluster = "enc"; wal_fetch_prefetch = 0;
  encrypt_recipients = ["$pub"]; identity_file = "$W/id.key"; };
EOF
chmod 600 "$W/id.key"
chown -R postgres: "$W/erepo" "$W/enc.conf" "$W/id.key"
run pb -c "$W/enc.conf" wal-push "$(seg 0)"
is "$RC" 0 "an encrypted push"
run pb -c "$W/enc.conf" wal-fetch "${segs[0]}" "$W/r/pg_wal/X"
is "$RC" 0 "fetched with a 0600 identity"
chmod 644 "$W/id.key"
run pb -c "$W/enc.conf" wal-fetch "${segs[0]}" "$W/r/pg_wal/X"
is "$RC" 126 "a world-readable identity file: refused, recovery stops (126)"
like "$ERR" "id.key" "naming the file"
chmod 600 "$W/id.key"
secret=$(grep -o 'AGE-SECRET-KEY-[0-9A-Z]*' "$W/id.key")

diag "S3 from ${SECONDS}s"
# ---- S3: killed pushes, unreachable, 500 then OK ----
s3_start
printf '%s' "$AWS_ACCESS_KEY_ID" >"$W/ak"
printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$W/sk"
chmod 600 "$W/ak" "$W/sk"
cat >"$W/s3.conf" <<EOF
backup = { repo = "s3://$S3_BUCKET/f"; s3_endpoint = "$S3_ENDPOINT"; state_dir = "$W/state3";
  s3_access_key_file = "$W/ak"; s3_secret_key_file = "$W/sk"; cluster = "main";
  compress_level = 12; wal_fetch_prefetch = 0; };
EOF
sed 's/wal_fetch_prefetch = 0;/wal_fetch_prefetch = 0; wal_timeout = 5;/' "$W/s3.conf" >"$W/s3-5s.conf"
chown postgres: "$W/ak" "$W/sk" "$W/s3.conf" "$W/s3-5s.conf"
s3objs() { aws_cli s3 ls --recursive "s3://$S3_BUCKET/f/clusters/main/wal/00000001/" 2>/dev/null | awk '{print $4}'; }
delays=(0.0$((RANDOM % 9 + 1)) 0.$((RANDOM % 3 + 2)) 0.$((RANDOM % 4 + 6)))
for i in 0 1 2; do
	as_pg "$PB" -c "$W/s3.conf" wal-push "$(seg $i)" 2>/dev/null &
	pid=$!
	sleep "${delays[$i]}"
	pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	n=$(s3objs | grep -c "${segs[$i]}-")
	if [ "$n" -gt 0 ]; then
		run pb -c "$W/s3.conf" wal-fetch "${segs[$i]}" "$W/r/pg_wal/X"
		ok "S3: after a kill, ${segs[$i]} is there only whole" -- cmp -s "$W/r/pg_wal/X" "$(seg $i)"
	else
		ok "S3: after a kill, nothing of ${segs[$i]} is listed" -- test "$n" = 0
	fi
	run pb -c "$W/s3.conf" wal-push "$(seg $i)"
	is "$RC" 0 "S3: the retry of ${segs[$i]} succeeds"
	[ "$RC" = 0 ] || diag "$ERR"
	run pb -c "$W/s3.conf" wal-fetch "${segs[$i]}" "$W/r/pg_wal/X"
	ok "S3: and fetches back identical" -- cmp -s "$W/r/pg_wal/X" "$(seg $i)"
done
port=${S3_ENDPOINT##*:}
kill "$S3PROXY_PID"; wait "$S3PROXY_PID" 2>/dev/null
# A black hole: the port accepts and never answers.
python3 -c "
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$port)); s.listen(50)
c=[]
while True: c.append(s.accept()[0])" &
hole=$!
at_exit "kill $hole"
sleep 0.5
# (timeout 120: a hang fails the test instead of stalling it; the seconds are only reported)
t0=$SECONDS
run timeout 120 runuser -u postgres -- "$PB" -c "$W/s3-5s.conf" wal-push "$(seg 3)"
diag "wal-push against a black hole returned after $((SECONDS - t0)) s"
is "$RC" 3 "S3 not answering: wal-push fails as unreachable (3), never hangs"
like "$ERR" "deadline of 5 s" "stopped by backup.wal_timeout's deadline (5 s), not the 6 h of backup.s3_timeout"
kill "$hole"; wait "$hole" 2>/dev/null
python3 "$PGP_SRC/tests/s3-strict-proxy.py" "$port" "${S3_DIRECT##*:}" S3RVER S3RVER >>"$S3_DIR/proxy.log" 2>&1 &
S3PROXY_PID=$!
at_exit "kill $S3PROXY_PID"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
run pb -c "$W/s3.conf" wal-push "$(seg 3)"
is "$RC" 0 "once S3 answers again, the push succeeds"

# S3 answering 500 to the first requests, then OK (a front before the strict one).
fport=$(free_port)
python3 -c "
import socket,threading
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$fport)); s.listen(50)
n=0
def pipe(a,b):
    try:
        while True:
            d=a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for x in (a,b):
        try: x.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c=s.accept()[0]; n+=1
    if n<=2:
        c.recv(65536); c.sendall(b'HTTP/1.1 500 Internal Server Error\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n'); c.close(); continue
    u=socket.create_connection(('127.0.0.1',$port))
    threading.Thread(target=pipe,args=(c,u),daemon=True).start()
    threading.Thread(target=pipe,args=(u,c),daemon=True).start()" &
front=$!
at_exit "kill $front"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$fport") 2>/dev/null && break; sleep 0.1; done
sed "s|$S3_ENDPOINT|http://127.0.0.1:$fport|" "$W/s3.conf" >"$W/s3-500.conf"
chown postgres: "$W/s3-500.conf"
run pb -c "$W/s3-500.conf" wal-push "$(seg 4)"
if [ "$RC" != 0 ]; then
	diag "first attempt: $RC (the archiver would retry)"
	run pb -c "$W/s3-500.conf" wal-push "$(seg 4)"
fi
is "$RC" 0 "S3 answering 500 then OK: the push (or the archiver's retry) succeeds"
run pb -c "$W/s3.conf" wal-fetch "${segs[4]}" "$W/r/pg_wal/X"
ok "and the segment is stored whole" -- cmp -s "$W/r/pg_wal/X" "$(seg 4)"
unlike "$(cat "$S3_DIR/proxy.log")" "REJECT" "the strict front rejected no request"

# ---- secrets ----
logs=$(cat "$W"/state*/spool/*/*.log "$W/fetch.err" "$W/a.err" "$W/b.err" 2>/dev/null)
unlike "$logs" "AGE-SECRET-KEY" "no identity in push.log, fetch.log or any stderr"
ok "the secret key was read from the file ($(printf '%s' "$secret" | cut -c1-15)...)" -- test -n "$secret"
unlike "$logs" "Sanitizer|runtime error" "no sanitizer report"
done_testing
