#!/usr/bin/env bash
# pgp-backup into a local directory: backup through pgp-create's backup
# role, manifest and state file, list, verify, restore (streamed and with
# --jobs, and with plain pg_restore), locking, retention, and faults:
# pg_dump killed mid-stream, a full disk, a flipped byte, a truncated
# object.  zstd is the default; at the end gzip, zstd and none side by
# side in one repository, and the compression level's range.
. "$(dirname "$0")/lib.sh"
backup_fixture 1
repo=$BDIR/repo
state=$BDIR/state
pb() { pgp-backup -c /dev/null --repo "$repo" --state-dir "$state" "$@"; }

run pb backup -d service=shop-backup
is "$RC" 0 "backup through the backup role"
[ "$RC" = 0 ] || diag "$ERR"
id=$(ls "$repo/shop")
like "$id" '^[0-9]{8}T[0-9]{6}Z$' "the id is YYYYMMDDTHHMMSSZ"
m=$(cat "$repo/shop/$id/manifest.json")
is "$(json_get "$m" 'd["role"]')" shop_owner "dumped as the owner (pg_dump --role) for large objects"
is "$(json_get "$m" 'sorted(o["name"] for o in d["objects"])')" '["dump.pgdump.zst", "globals.sql.zst"]' "two objects, zstd by default"
is "$(json_get "$m" 'd["compression"]["algorithm"], d["compression"]["level"]')" "('zstd', 1)" "the manifest says zstd, level 1"
ok "the dump is a valid zstd stream (Debian's zstd)" -- zstd -q -t "$repo/shop/$id/dump.pgdump.zst"
is "$(json_get "$m" '[t["rows"] for t in d["tables"] if t["table"]=="pgbench_accounts"][0]')" 100000 "row counts in the manifest"
is "$(json_get "$m" '[t["rows"] for t in d["tables"] if t["table"]=="tenant_docs"][0]')" 3 "every row of the RLS table"
is "$(json_get "$m" 'd["rows_counted_from"]')" archive "rows counted in the archive as it streamed"
mismatch=0
while IFS='|' read -r schema table rows; do
	real=$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop}" -c "SELECT count(*) FROM \"$schema\".\"$table\"")
	[ "$real" = "$rows" ] || { mismatch=$((mismatch + 1)); diag "$schema.$table: manifest $rows, table $real"; }
done < <(json_get "$m" '"\n".join("%s|%s|%s" % (t["schema"], t["table"], t["rows"]) for t in d["tables"])')
is "$mismatch" 0 "every table's count from the archive equals count(*)"
is "$(json_get "$m" 'len(d["tables"])')" "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop}" -c "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" \
	"and every table is there"
is "$(sha256sum "$repo/shop/$id/dump.pgdump.zst" | cut -d' ' -f1)" "$(json_get "$m" '[o["sha256"] for o in d["objects"] if o["name"]=="dump.pgdump.zst"][0]')" \
	"the manifest's SHA-256 is the file's"
like "$(json_get "$m" 'd["start_time"]')" '^[0-9-]{10}T[0-9:]{8}Z$' "RFC 3339 UTC times"
st=$(cat "$state/backup-shop.json")
is "$(json_get "$st" 'd["last_run_result"]')" ok "state: last run ok"
is "$(json_get "$st" 'd["last_good_id"]')" "$id" "state: last good id"
is "$(json_get "$st" 'd["last_error"]')" null "state: no error"

# The archive row counter does not depend on how the stream is cut.
pg_dump -Fc -Z0 -f "$BDIR/raw.dump" service=shop-backup --role=shop_owner
rows1=$("$PGP_TESTBIN/tools/archive-rows" "$BDIR/raw.dump" 1)
is "$("$PGP_TESTBIN/tools/archive-rows" "$BDIR/raw.dump" 7)" "$rows1" "archive counts fed 7 bytes at a time = 1 byte at a time"
is "$("$PGP_TESTBIN/tools/archive-rows" "$BDIR/raw.dump" 65536)" "$rows1" "and = 64 KiB at a time"
like "$rows1" "public.pgbench_accounts 100000" "with the right counts"
pg_dump -Fc -f "$BDIR/z.dump" service=shop-backup --role=shop_owner
is "$("$PGP_TESTBIN/tools/archive-rows" "$BDIR/z.dump" 4096)" unreadable "a compressed archive is refused (SQL counts then)"
head -c 5000 "$BDIR/raw.dump" >"$BDIR/cut.dump"
is "$("$PGP_TESTBIN/tools/archive-rows" "$BDIR/cut.dump" 4096)" unreadable "so is a truncated one"

# The rewriting scan merges each table's one-chunk-a-row data into 64 KiB
# chunks: pg_restore must read the same archive from it.  A row wider than
# a chunk, a large object and an empty table are in this dump.
psql -X -q -v ON_ERROR_STOP=1 service=shop-migrator \
	-c "CREATE TABLE wide_rows AS SELECT g AS id, repeat(md5(g::text), 6000) AS body FROM generate_series(1, 3) g" \
	-c "CREATE TABLE empty_rows (id int)"
# Through a pipe, as pgp-backup runs it: a file would get data offsets.
pg_dump -Fc -Z0 service=shop-backup --role=shop_owner | cat >"$BDIR/raw2.dump"
psql -X -q service=shop-migrator -c "DROP TABLE wide_rows, empty_rows"
archive_rows() { "$PGP_TESTBIN/tools/archive-rows" "$@"; }
rewrite() { archive_rows "$@" >/dev/null; }
ok "rewritten fed 1 byte at a time" -- rewrite "$BDIR/raw2.dump" 1 "$BDIR/merged1.dump"
ok "and 64 KiB at a time" -- rewrite "$BDIR/raw2.dump" 65536 "$BDIR/merged.dump"
ok "the same bytes however the stream is cut" -- cmp "$BDIR/merged1.dump" "$BDIR/merged.dump"
is "$(archive_rows "$BDIR/merged.dump" 4093)" "$(archive_rows "$BDIR/raw2.dump" 4093)" "the rewritten archive has the same row counts"
# pg_restore's \restrict lines carry a random key: the rest must be equal.
sql_of() { pg_restore -f - "$1" | grep -v '^\\\(un\)\?restrict '; }
sql_of "$BDIR/raw2.dump" >"$BDIR/raw2.sql"
sql_of "$BDIR/merged.dump" >"$BDIR/merged.sql"
ok "pg_restore reads the same SQL, rows and large object from both" -- cmp "$BDIR/raw2.sql" "$BDIR/merged.sql"
like "$(grep -c -e lo_open -e lowrite "$BDIR/merged.sql")" '^[1-9]' "the large object is in it"
saved=$(($(stat -c %s "$BDIR/raw2.dump") - $(stat -c %s "$BDIR/merged.dump")))
like "$saved" '^[0-9]{6,}$' "a 5-byte chunk header saved on each of ~100000 rows ($saved bytes)"
ok "rewriting a rewritten archive changes nothing" -- rewrite "$BDIR/merged.dump" 7 "$BDIR/merged2.dump"
ok "(byte for byte)" -- cmp "$BDIR/merged.dump" "$BDIR/merged2.dump"
for f in z cut raw; do
	archive_rows "$BDIR/$f.dump" 4096 "$BDIR/$f.rewritten" >/dev/null
	ok "an archive it cannot read or (raw) one with data offsets passes through byte for byte ($f)" -- \
		cmp "$BDIR/$f.dump" "$BDIR/$f.rewritten"
done
# Cut inside the table data: what was held back still passes on, as cut.
head -c 3000000 "$BDIR/raw2.dump" >"$BDIR/cutdata.dump"
archive_rows "$BDIR/cutdata.dump" 4096 "$BDIR/cutdata.rewritten" >/dev/null
sql_of "$BDIR/cutdata.dump" 2>/dev/null | head -c 2000000 >"$BDIR/cutdata.sql"
sql_of "$BDIR/cutdata.rewritten" 2>/dev/null | head -c 2000000 >"$BDIR/cutdata2.sql"
ok "a cut archive's data passes on up to the cut" -- cmp "$BDIR/cutdata.sql" "$BDIR/cutdata2.sql"
run pg_restore -f /dev/null "$BDIR/cutdata.rewritten"
ok "and pg_restore still finds it cut" -- test "$RC" != 0
rm -f "$BDIR"/*.sql "$BDIR"/merged*.dump "$BDIR"/*.rewritten

run pb list --format json
is "$(json_get "$OUT" 'd["last_good"]["id"]')" "$id" "list: last_good"
is "$(json_get "$OUT" 'd["backups"][0]["status"]')" ok "list: status"
run pb -q backup -d service=shop-backup
is "$OUT$ERR" "" "quiet on success under -q"
chmod 500 "$state"; mv "$state/backup-shop.json" "$state/keep.json" 2>/dev/null
if [ "$(id -u)" != 0 ]; then
	run pb backup -d service=shop-backup
	is "$RC" 5 "a good backup whose state file cannot be written: exit 5"
else
	mkdir "$state/backup-shop.json"	# root ignores modes: make the rename fail instead
	run pb backup -d service=shop-backup
	is "$RC" 5 "a good backup whose state file cannot be written: exit 5"
	rmdir "$state/backup-shop.json"
fi
like "$ERR" "stored and complete, but the state file was not updated" "saying exactly that"
chmod 755 "$state"; mv "$state/keep.json" "$state/backup-shop.json"

run pb verify latest --database shop
is "$RC" 0 "verify: every object matches"
run pb verify latest --database shop --restore-test -d "$ADMIN"
is "$RC" 0 "verify --restore-test: restored and row counts match"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp_verify%'")" 0 "the scratch database is dropped"

run pb restore latest -d "$ADMIN" --database shop_copy
is "$RC" 0 "restore into a new database (streamed)"
like "$OUT" "restored backup .* into shop_copy" "with a summary"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop_copy}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 "rows restored"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop_copy}" -c "SELECT count(*) FROM pg_largeobject_metadata")" 1 "the large object restored"
run pb restore latest -d "$ADMIN" --database shop_copy
is "$RC" 2 "a non-empty database is refused"
like "$ERR" "not empty" "saying why"
run pb restore latest -d "$ADMIN" --database shop_copy --clean
is "$RC" 0 "--clean restores over it"
run pb restore latest -d "$ADMIN" --database shop_par --jobs 2
is "$RC" 0 "--jobs 2 downloads first and restores in parallel"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop_par}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
	"with every row"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop_par}" -c "SELECT count(*) FROM pg_largeobject_metadata")" 1 \
	"and the large object"
admin -c "CREATE DATABASE plain_copy" >/dev/null
last=$(ls "$repo/shop" | tail -1)
# As pgp-backup(1) shows it, RESTORE WITHOUT PGP.
zstd -dc "$repo/shop/$last/dump.pgdump.zst" | pg_restore -d "${ADMIN/dbname=postgres/dbname=plain_copy}" 2>/dev/null
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=plain_copy}" -c "SELECT count(*) FROM docs")" 5000 \
	"without pgp: zstd -dc | pg_restore restores it"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=plain_copy}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
	"every row"
like "$(zstd -dc "$repo/shop/$last/globals.sql.zst")" "CREATE ROLE" "and zstd -dc reads the globals"
is "$(zstd -dc "$repo/shop/$last/dump.pgdump.zst" | archive_rows /dev/stdin 65536 "$BDIR/again.dump" | md5sum)" \
	"$(archive_rows "$BDIR/again.dump" 65536 | md5sum)" "what a backup stores is already merged (the counts read back)"
ok "(rewriting it again changes nothing)" -- sh -c "zstd -dc '$repo/shop/$last/dump.pgdump.zst' | cmp - '$BDIR/again.dump'"

# A backup stored before pgp-backup merged chunks (one a row, as pg_dump
# writes them) is merged on its way to pg_restore: its dump replaced by
# such an archive, the manifest made to agree, pg_restore's input kept.
pg_dump -Fc -Z0 service=shop-backup --role=shop_owner | cat >"$BDIR/perrow.dump"
zstd -q -1 -c "$BDIR/perrow.dump" >"$repo/shop/$last/dump.pgdump.zst"
python3 - "$repo/shop/$last" "$BDIR/perrow.dump" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]; m = json.load(open(d + "/manifest.json"))
for o in m["objects"]:
    if o["name"] == "dump.pgdump.zst":
        data = open(d + "/dump.pgdump.zst", "rb").read()
        o["sha256"] = hashlib.sha256(data).hexdigest(); o["size"] = len(data)
        o["raw_size"] = os.path.getsize(sys.argv[2])
json.dump(m, open(d + "/manifest.json", "w"))
PY
teebin=$BDIR/teebin
mkdir -p "$teebin"
for t in pg_dump pg_dumpall; do ln -sf "$PG_BINDIR/$t" "$teebin/$t"; done
printf '#!/bin/sh\ntee "%s/fed.dump" | "%s/pg_restore" "$@"\n' "$BDIR" "$PG_BINDIR" >"$teebin/pg_restore"
chmod +x "$teebin/pg_restore"
printf 'backup = { pg_bindir = "%s"; };\n' "$teebin" >"$BDIR/tee.conf"
run pb verify "$last" --database shop
is "$RC" 0 "a backup of one chunk a row verifies"
run pgp-backup -c "$BDIR/tee.conf" --repo "$repo" --state-dir "$state" restore "$last" -d "$ADMIN" --database shop_perrow
is "$RC" 0 "and restores"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=shop_perrow}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
	"every row"
rewrite "$BDIR/perrow.dump" 4096 "$BDIR/perrow.merged"
ok "pg_restore was fed the merged archive" -- cmp "$BDIR/fed.dump" "$BDIR/perrow.merged"
like "$(($(stat -c %s "$BDIR/perrow.dump") - $(stat -c %s "$BDIR/fed.dump")))" '^[0-9]{6,}$' "(a chunk header fewer on each row)"
admin -c "DROP DATABASE shop_perrow" >/dev/null
rm -f "$BDIR"/*.dump "$BDIR/perrow.merged"

# Cron overlap: a second backup while one holds the lock exits 4 at once.
lockfile=$(ls "$state"/backup-shop-*.lock)
flock -n "$lockfile" sleep 3 &
sleep 0.3
run pb backup -d service=shop-backup
is "$RC" 4 "a second backup while one runs: exit 4"
like "$ERR" "busy: another backup of shop" "with a busy line"
wait

# Faults.  pg_dump killed mid-stream: a pg_dump that dies by SIGKILL after
# streaming 300 KB of its real output.
fake=$BDIR/fakebin
mkdir -p "$fake"
for t in pg_dumpall pg_restore; do ln -sf "$PG_BINDIR/$t" "$fake/$t"; done
printf '#!/bin/sh\n"%s/pg_dump" "$@" | head -c 300000\nkill -9 $$\n' "$PG_BINDIR" >"$fake/pg_dump"
chmod +x "$fake/pg_dump"
printf 'backup = { pg_bindir = "%s"; };\n' "$fake" >"$BDIR/killed.conf"
before=$(ls "$repo/shop" | wc -l)
good_before=$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')
run pgp-backup -c "$BDIR/killed.conf" --repo "$repo" --state-dir "$state" backup -d service=shop-backup
is "$RC" 5 "pg_dump killed: exit 5"
like "$ERR" "pg_dump was killed by signal 9" "one clear message"
is "$(ls "$repo/shop" | wc -l)" "$before" "no new backup directory is left"
is "$(find "$repo" -name '*.partial' | wc -l)" 0 "no partial file is left"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "state: last run failed"
like "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_error"]')" "killed" "state: the error"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')" "$good_before" "state: the last good backup is kept"
run pb verify latest --database shop
is "$RC" 0 "the previous good backup is untouched"

# A full disk under a local repository: 1 MB of tmpfs, 2 MB that will not compress.
psql -X -q service=shop-migrator -c "CREATE TABLE noise AS SELECT decode(string_agg(md5(random()::text || g), ''), 'hex') AS b FROM generate_series(1, 150000) g" >/dev/null
tiny=$BDIR/tiny
mkdir -p "$tiny"
if mount -t tmpfs -o size=1m tmpfs "$tiny" 2>/dev/null; then
	at_exit "umount '$tiny'"
	run pgp-backup -c /dev/null --repo "$tiny/repo" --state-dir "$state" backup -d service=shop-backup
	is "$RC" 5 "full disk: exit 5"
	like "$ERR" "No space left on device" "one clear message"
	is "$(find "$tiny" -type f | wc -l)" 0 "nothing partial left on the full disk"
	run pgp-backup -c /dev/null --repo "$tiny/repo" --state-dir "$state" list
	unlike "$OUT" "[0-9]T[0-9]" "list shows nothing there"
elif [ "${CI:-}" = true ] && is_root; then
	_result 0 "mount a small tmpfs for the full-disk test (needed under CI as root)"
else
	echo "ok $((_tap_n + 1)) # skip cannot mount a tmpfs"; _tap_n=$((_tap_n + 1))
fi

# A flipped byte is found and named.
obj=$repo/shop/$last/dump.pgdump.zst
cp "$obj" "$BDIR/good.zst"; cp "$repo/shop/$last/manifest.json" "$BDIR/good.json"
flip() { python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0xff]))" "$@"; }
flip "$obj" 1000
run pb verify "$last" --database shop
is "$RC" 1 "a flipped byte: verify exits 1"
like "$ERR" "object dump.pgdump.zst does not match its manifest" "naming the object"
run pb restore "$last" -d "$ADMIN" --database shop_flipped
is "$RC" 1 "restore of it exits 1"
like "$ERR" "object dump.pgdump.zst" "naming the object"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname IN ('shop_flipped') OR datname LIKE 'pgp_restore%'")" 0 \
	"and leaves no database behind"
# The same damage with a manifest that agrees (its SHA-256 rewritten): the
# zstd frame itself refuses it, so no shorter or altered dump is restored.
rehash() {
	python3 - "$repo/shop/$last/manifest.json" "$obj" <<'PY'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1])); data = open(sys.argv[2], "rb").read()
for o in m["objects"]:
    if o["name"] == os.path.basename(sys.argv[2]):
        o["size"] = len(data); o["sha256"] = hashlib.sha256(data).hexdigest()
open(sys.argv[1], "w").write(json.dumps(m, indent=2))
PY
}
rehash
run pb verify "$last" --database shop --restore-test -d "$ADMIN"
is "$RC" 1 "a flipped byte the manifest agrees with: verify --restore-test exits 1"
like "$ERR" "object dump.pgdump.zst does not decompress \\(zstd: .*\\): it is corrupt" "naming the object and zstd's reason"
# Truncated: by size and hash, and by the frame when the manifest agrees.
head -c 20000 "$BDIR/good.zst" >"$obj"; cp "$BDIR/good.json" "$repo/shop/$last/manifest.json"
run pb verify "$last" --database shop
is "$RC" 1 "a truncated .zst: verify exits 1"
like "$ERR" "object dump.pgdump.zst does not match its manifest \\(20000 bytes" "naming the object and its size"
rehash
run pb restore "$last" -d "$ADMIN" --database shop_cut
is "$RC" 1 "a truncated .zst the manifest agrees with: restore exits 1"
like "$ERR" "object dump.pgdump.zst does not decompress \\(zstd: the stream ends early \\(truncated\\)\\)" \
	"saying it is truncated"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname IN ('shop_cut') OR datname LIKE 'pgp_restore%'")" 0 \
	"and leaves no database behind"
cp "$BDIR/good.json" "$repo/shop/$last/manifest.json"; cp "$BDIR/good.zst" "$obj"; flip "$obj" 1000

# Leftovers of a run killed outright (no manifest) are swept by prune.
mkdir -p "$repo/shop/20200101T000000Z"
echo junk >"$repo/shop/20200101T000000Z/dump.pgdump.gz.partial"
echo junk >"$repo/shop/20200101T000000Z/globals.sql.gz"
run pb list --database shop
unlike "$OUT" "20200101T000000Z" "leftovers are not backups for list"
run pb prune --database shop --dry-run
like "$OUT" "would delete leftover shop/20200101T000000Z/dump.pgdump.gz.partial" "--dry-run names them"
run pb prune --database shop
is "$RC" 0 "prune"
ok "and sweeps them" -- test ! -e "$repo/shop/20200101T000000Z"

# prune never deletes what a restore or verify is reading.
readlock=$(ls "$state"/read-shop-*.lock)
flock -s "$readlock" sleep 3 &
sleep 0.3
run pb prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$RC" 4 "prune while a restore reads: exit 4"
like "$ERR" "busy: a restore or verify of shop is reading" "with a busy line"
wait

# Retention: grandfather-father-son over fabricated history, then for real.
for d in $(seq 1 120); do
	hid=$(date -u -d "@$(( $(date +%s) - d * 86400 ))" +%Y%m%dT%H%M%SZ)
	mkdir -p "$repo/shop/$hid"
	sed "s/$last/$hid/g" "$repo/shop/$last/manifest.json" >"$repo/shop/$hid/manifest.json"
done
total=$(ls "$repo/shop" | wc -l)
ids=$(ls "$repo/shop" | sort -r | tr '\n' ' ')
want=$(python3 - $ids <<'PY'
import sys, datetime
ids = sys.argv[1:]
t = [datetime.datetime.strptime(i, "%Y%m%dT%H%M%SZ") for i in ids]
keep = set(range(min(24, len(ids))))
for fmt, n in (("%Y-%m-%d", 7), ("%G-W%V", 4), ("%Y-%m", 6)):
    seen, last = 0, None
    for i, x in enumerate(t):
        if seen >= n: break
        k = x.strftime(fmt)
        if k == last: continue
        last = k; keep.add(i); seen += 1
print(len(ids) - len(keep))
PY
)
run pb prune --database shop --dry-run
is "$(printf '%s\n' "$OUT" | grep -c '^would delete')" "$want" "defaults (newest 24, then 7 daily, 4 weekly, 6 monthly): $want of $total would go (independent count)"
is "$(ls "$repo/shop" | wc -l)" "$total" "--dry-run deletes nothing"
run pb prune --database shop
is "$RC" 0 "prune"
is "$(ls "$repo/shop" | wc -l)" "$((total - want))" "and deletes exactly those"
ok "the newest backup is kept" -- test -f "$repo/shop/$last/manifest.json"
run pb prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$(ls "$repo/shop")" "$last" "--keep-last 1 keeps only the newest"

# gzip, zstd and none side by side in one repository, and a gzip backup
# as every pgp-backup before zstd wrote it (its manifest says gzip).
psql -X -q service=shop-migrator -c "DROP TABLE noise" >/dev/null
mixed=$BDIR/mixed
pm() { pgp-backup -c /dev/null --repo "$mixed" --state-dir "$state" "$@"; }
declare -A cid
for c in gzip zstd none; do
	run pm --compression "$c" backup -d service=shop-backup --no-prune
	is "$RC" 0 "$c: backup"
	cid[$c]=$(ls "$mixed/shop" | tail -1)
done
ok "gzip: dump.pgdump.gz, a gzip stream" -- gzip -t "$mixed/shop/${cid[gzip]}/dump.pgdump.gz"
ok "zstd: dump.pgdump.zst, a zstd stream" -- zstd -q -t "$mixed/shop/${cid[zstd]}/dump.pgdump.zst"
ok "none: dump.pgdump, pg_dump's own archive" -- pg_restore -l "$mixed/shop/${cid[none]}/dump.pgdump"
ok "none: globals.sql as pg_dumpall wrote it" -- grep -q "CREATE ROLE" "$mixed/shop/${cid[none]}/globals.sql"
is "$(json_get "$(cat "$mixed/shop/${cid[gzip]}/manifest.json")" 'd["compression"]["algorithm"], d["compression"]["level"]')" \
	"('gzip', 1)" "gzip: the manifest says gzip, level 1"
is "$(json_get "$(cat "$mixed/shop/${cid[none]}/manifest.json")" 'sorted(o["name"] for o in d["objects"])')" \
	'["dump.pgdump", "globals.sql"]' "none: the objects carry no suffix"
run pm list --format json
is "$(json_get "$OUT" 'len([b for b in d["backups"] if b["status"] == "ok"])')" 3 "list: all three"
for c in gzip zstd none; do
	run pm verify "${cid[$c]}" --database shop --restore-test -d "$ADMIN"
	is "$RC" 0 "$c: verify --restore-test"
	run pm restore "${cid[$c]}" -d "$ADMIN" --database "mixed_$c"
	is "$RC" 0 "$c: restore"
	is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=mixed_$c}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
		"$c: every row restored"
done
run pm restore "${cid[zstd]}" -d "$ADMIN" --database mixed_zstd_par --jobs 2
is "$RC" 0 "zstd: restore --jobs 2 (decompressed to a file first)"
admin -c "CREATE DATABASE plain_gzip" >/dev/null
gunzip -c "$mixed/shop/${cid[gzip]}/dump.pgdump.gz" | pg_restore -d "${ADMIN/dbname=postgres/dbname=plain_gzip}" 2>/dev/null
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=plain_gzip}" -c "SELECT count(*) FROM docs")" 5000 \
	"without pgp: gunzip | pg_restore still restores a gzip backup"
run pm prune --database shop --keep-last 2 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$RC" 0 "prune of the mixed repository"
ok "deletes the oldest (gzip) whole" -- test ! -e "$mixed/shop/${cid[gzip]}"
run pm prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
ok "then zstd" -- test ! -e "$mixed/shop/${cid[zstd]}"
is "$(ls "$mixed/shop/${cid[none]}" | sort | tr '\n' ' ')" "dump.pgdump globals.sql manifest.json " "and keeps the newest (none)"

# A level out of the chosen compression's range: a config error with file:line.
printf 'backup = {\n  compression = "gzip";\n  compress_level = 20;\n};\n' >"$BDIR/level.conf"
run pgp-backup -c "$BDIR/level.conf" --repo "$mixed" list
is "$RC:$ERR" "2:pgp-backup: error: $BDIR/level.conf:3: key \"backup.compress_level\" is 20, out of range (allowed: 0..9 for gzip)" \
	"compress_level = 20 with gzip: file:line and the range"
printf 'backup = {\n  compress_level = 20;\n};\n' >"$BDIR/level.conf"
run pgp-backup -c "$BDIR/level.conf" --repo "$mixed" list
is "$RC:$ERR" "2:pgp-backup: error: $BDIR/level.conf:2: key \"backup.compress_level\" is 20, out of range (allowed: -7..19 for zstd)" \
	"20 with zstd, the default: its range"
printf 'backup = {\n  compress_level = -7;\n};\n' >"$BDIR/level.conf"
run pgp-backup -c "$BDIR/level.conf" --repo "$mixed" list
is "$RC" 0 "-7 with zstd is fine"
PGP_BACKUP_COMPRESSION=gzip run pgp-backup -c "$BDIR/level.conf" --repo "$mixed" list
is "$RC:$ERR" "2:pgp-backup: error: $BDIR/level.conf:2: key \"backup.compress_level\" is -7, out of range (allowed: 0..9 for gzip)" \
	"PGP_BACKUP_COMPRESSION chooses the range too"
run pgp-backup -c "$BDIR/level.conf" --repo "$mixed" --compression gzip list
is "$RC:$ERR" "2:pgp-backup: error: option --compression gzip: compression level -7 is out of range (allowed: 0..9 for gzip)" \
	"--compression checks the level against its own range"
run pgp-backup -c /dev/null --repo "$mixed" --compression lz4 list
is "$RC:$ERR" '2:pgp-backup: error: option --compression is "lz4" (allowed: zstd, gzip, none)' \
	"an unknown compression: the words"
run pgp-backup -c /dev/null --repo "$mixed" --compression none --compress-level 3 list
is "$RC:$ERR" "2:pgp-backup: error: option --compression none: compression level 3 is out of range (allowed: 0..0 for none)" \
	"none takes no level"
# A state directory root used first, then the postgres user's crontab: its
# lock file belongs to root.  A setup to fix (exit 2), said with the owner.
if is_root; then
	sd=$(mktemp -d /tmp/pgpst.XXXXXX)
	chmod 755 "$sd"
	at_exit "rm -rf '$sd'"
	mkdir -p "$sd/repo"
	run pgp-backup -c /dev/null --repo "$sd/repo" --state-dir "$sd/state" prune --database shop
	is "$RC" 0 "prune as root makes the state directory and its lock file"
	run as_pg pgp-backup -c /dev/null --repo "$sd/repo" --state-dir "$sd/state" prune --database shop
	is "$RC" 2 "the same prune as postgres: exit 2, a setup to fix, not a failure to retry"
	like "$ERR" 'belongs to root and this run is postgres' "naming the owner and this run's user"
	like "$ERR" 'chown it' "and the fix"
else
	echo "ok $((_tap_n + 1)) # skip a lock file of another user needs root"; _tap_n=$((_tap_n + 1))
fi
done_testing
