#!/usr/bin/env bash
# Physical base backups, the lowest layer (bin/backup/basebackup.c,
# tarstream.c, pgmanifest.c, through tests/tools/basebackup-tool): a
# BASE_BACKUP over a replication connection as a non-superuser role WITH
# REPLICATION, with a tablespace, verified against backup_manifest as it
# streams; the archives unpacked by GNU tar and checked by PostgreSQL's
# own pg_verifybackup; a flipped byte and a truncated archive found by
# --verify; a hostile name refused; GNU tar's and pax archives read.
. "$(dirname "$0")/lib.sh"
tool=$PGP_TESTBIN/tools/basebackup-tool
need "$tool" "basebackup-tool (make test-progs)"
need tar "GNU tar"
need python3
pg_start
need "$PG_BINDIR/pg_verifybackup" "pg_verifybackup (PostgreSQL 15)"

# initdb's pg_hba.conf lets local replication connections in (trust);
# wal_level is replica by default.  Make sure, rather than assume.
if ! grep -qE '^local[[:space:]]+replication[[:space:]]+all' "$PGDIR/data/pg_hba.conf"; then
	echo "local replication all trust" >>"$PGDIR/data/pg_hba.conf"
	psql_q -c "SELECT pg_reload_conf()" >/dev/null
fi
is "$(psql_q -c "SHOW wal_level")" replica "wal_level is replica"
psql_q -c "CREATE ROLE bk LOGIN REPLICATION" -c "CREATE ROLE norep LOGIN"
ts=$PGDIR/ts1
as_pg mkdir "$ts"
psql_q -c "CREATE TABLESPACE ts1 LOCATION '$ts'"
psql_q <<'SQL'
CREATE TABLE t_main AS SELECT g, md5(g::text) AS h FROM generate_series(1, 50000) g;
CREATE TABLE t_ts TABLESPACE ts1 AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 20000) g;
CREATE INDEX t_ts_g ON t_ts (g) TABLESPACE ts1;
SQL
oid=$(psql_q -c "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")
out=$(mktemp -d /tmp/pgpbb.XXXXXX)
at_exit "rm -rf '$out'"
conninfo="host=$PGHOST port=$PGPORT user=bk dbname=postgres"

run "$tool" "$conninfo" "$out/b1"
is "$RC" 0 "a base backup as a REPLICATION role, every file verified as it streamed"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "verified [0-9]+ files, [0-9]+ bytes: 0 problems" "with a summary"
like "$OUT" "tablespaces 2" "the data directory and one tablespace"
is "$(cd "$out/b1" && ls | tr '\n' ' ')" "$oid.tar backup_manifest base.tar " "base.tar, $oid.tar and backup_manifest"
unlike "$OUT$ERR" "user=bk" "the connection string is never printed"
start=$(printf '%s\n' "$OUT" | sed -n 's/.* start \([0-9A-F/]*\) timeline.*/\1/p')
m=$(cat "$out/b1/backup_manifest")
is "$(json_get "$m" 'd["WAL-Ranges"][0]["Start-LSN"]')" "$start" "the start LSN is the manifest's"
like "$OUT" "first-segment 00000001[0-9A-F]{16} " "and names its first WAL segment"
run "$tool" "host=$PGHOST port=$PGPORT user=norep dbname=postgres" "$out/norep"
is "$RC" 1 "a role without REPLICATION is refused"
like "$ERR" "replication" "saying why"

# PostgreSQL's own check of the same bytes: unpack with GNU tar, point
# pg_tblspc at the unpacked tablespace, run pg_verifybackup.
rest=$out/restore
mkdir -p "$rest/data" "$rest/ts/$oid"
tar -xf "$out/b1/base.tar" -C "$rest/data"
tar -xf "$out/b1/$oid.tar" -C "$rest/ts/$oid"
ok "base.tar holds the tablespace's symlink" -- test -L "$rest/data/pg_tblspc/$oid"
is "$(readlink "$rest/data/pg_tblspc/$oid")" "$ts" "pointing at the tablespace"
ln -sfn "$rest/ts/$oid" "$rest/data/pg_tblspc/$oid"
cp "$out/b1/backup_manifest" "$rest/data/"
run "$PG_BINDIR/pg_verifybackup" -n "$rest/data"
is "$RC" 0 "pg_verifybackup accepts the unpacked backup and its manifest"
[ "$RC" = 0 ] || diag "$OUT$ERR"
like "$OUT" "backup successfully verified" "in its words"
run "$tool" --list "$out/b1/base.tar"
like "$OUT" "l 0777 +0 pg_tblspc/$oid -> $ts" "--list reads the server's symlink entry"

run "$tool" --verify "$out/b1"
is "$RC" 0 "--verify of the stored archives"
like "$OUT" ": 0 problems" "no problem"

# One flipped byte in a file of each archive: --verify names both files.
cp -r "$out/b1" "$out/b2"
flip() {	# flip a byte in the data of the first non-empty file matching $2
	python3 - "$1" "$2" <<'PY'
import sys, tarfile
path, pattern = sys.argv[1], sys.argv[2]
with tarfile.open(path) as t:
    m = next(m for m in t.getmembers() if m.isfile() and m.size > 0 and pattern in m.name)
with open(path, "r+b") as f:
    f.seek(m.offset_data + m.size // 2)
    b = f.read(1)
    f.seek(m.offset_data + m.size // 2)
    f.write(bytes([b[0] ^ 1]))
print(m.name)
PY
}
f1=$(flip "$out/b2/base.tar" PG_VERSION)
f2=$(flip "$out/b2/$oid.tar" PG_15)
run "$tool" --verify "$out/b2"
is "$RC" 1 "--verify fails on a flipped byte"
like "$OUT" "problem: $f1: has a checksum mismatch \(CRC32C\)" "naming the file in base.tar"
like "$OUT" "problem: pg_tblspc/$oid/$f2: has a checksum mismatch" "and the one in the tablespace, under pg_tblspc/$oid"
like "$OUT" ": 2 problems" "two problems, no more"

cp -r "$out/b1" "$out/b3"
truncate -s $(($(stat -c %s "$out/b3/base.tar") / 2)) "$out/b3/base.tar"
run "$tool" --verify "$out/b3"
is "$RC" 1 "--verify fails on a truncated archive"
like "$ERR" "base.tar: truncated" "saying it is truncated"
like "$OUT" "is in the manifest but not in the backup" "and what is missing"

# Encoded paths (MANIFEST 'force-encode') and a tablespace_map file
# instead of pg_tblspc symlinks.
run "$tool" --force-encode --tablespace-map "$conninfo" "$out/b4"
is "$RC" 0 "a backup with every manifest path hex-encoded, verified"
[ "$RC" = 0 ] || diag "$ERR"
ok "the manifest has Encoded-Path entries" -- grep -q Encoded-Path "$out/b4/backup_manifest"
is "$(grep -c '"Path"' "$out/b4/backup_manifest")" 0 "and no plain Path"
run "$tool" --list "$out/b4/base.tar"
like "$OUT" "f 0[0-7]{3} +[0-9]+ tablespace_map" "TABLESPACE_MAP: a tablespace_map file"
unlike "$OUT" "pg_tblspc/$oid ->" "and no symlink"
run "$tool" --verify "$out/b4"
is "$RC" 0 "--verify decodes Encoded-Path too"

# A server that stops sending mid-stream is an error after --idle-timeout,
# not a hang; the server forgets the broken backup, the next one works.
"$tool" --max-rate 1024 --idle-timeout 3 "$conninfo" "$out/b5" >"$out/b5.out" 2>"$out/b5.err" &
bg=$!
for i in $(seq 300); do
	[ -s "$out/b5/base.tar" ] && break
	sleep 0.1
done
wpid=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND usename = 'bk'")
ok "the throttled backup is streaming" -- kill -0 "$bg"
kill -STOP "$wpid"
at_exit "kill -CONT $wpid"
wait "$bg"
is "$?" 1 "the stalled backup fails"
like "$(cat "$out/b5.err")" "no answer in 3 s during the backup stream" "after the idle timeout, saying so"
kill -CONT "$wpid"
run "$tool" "$conninfo" "$out/b6"
is "$RC" 0 "the next backup works"

# A hand-built archive with a ".." name is refused, at its offset.
python3 - "$out/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in (("base/ok", b"fine"), ("base/../../etc/evil", b"evil")):
        i = tarfile.TarInfo(name)
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
PY
run "$tool" --list "$out/evil.tar"
is "$RC" 1 "an archive with a \"..\" name is refused"
like "$ERR" 'entry "base/../../etc/evil" at offset 1024: refused: a ".." component' "naming the entry and its offset"

# GNU tar's own archives (gnu and pax formats): long names, a symlink,
# directories, modes; the reader lists what tar lists.
src=$out/src
long=$(printf 'n%.0s' $(seq 150))
mkdir -p "$src/sub/deeper"
printf 'hello\n' >"$src/sub/a.txt"
chmod 640 "$src/sub/a.txt"
head -c 100000 /dev/urandom >"$src/sub/deeper/$long"
ln -s ../a.txt "$src/sub/deeper/link"
: >"$src/empty"
for fmt in gnu pax; do
	tar --format=$fmt -cf "$out/$fmt.tar" -C "$src" .
	run "$tool" --list "$out/$fmt.tar"
	is "$RC" 0 "a GNU tar archive in $fmt format is read"
	[ "$RC" = 0 ] || diag "$ERR"
	ours=$(printf '%s\n' "$OUT" | awk '{print $4}' | sort)
	theirs=$(tar -tf "$out/$fmt.tar" | sed -e 's|^\./||' -e 's|/$||' | grep -v '^$' | sort)
	is "$ours" "$theirs" "$fmt: the same entries as tar -t"
	like "$OUT" "f 0640 +6 sub/a.txt" "$fmt: mode and size"
	like "$OUT" "f 0[0-7]{3} +100000 sub/deeper/$long" "$fmt: a 150-character name"
	like "$OUT" "l 0777 +0 sub/deeper/link -> ../a.txt" "$fmt: a symlink"
done
done_testing
