#!/usr/bin/env bash
# pgp-backup against a damaged repository and faults: a manifest that
# cannot be read or trusted is named by list, verify, restore and prune
# (exit 1) and nothing of its backup is ever deleted; a tampered object
# never reaches the restore target; a restore swaps in only what it
# verified; runs that fail early still record their result.
. "$(dirname "$0")/lib.sh"
backup_fixture 1
repo=$BDIR/repo
state=$BDIR/state
pb() { pgp-backup -c /dev/null --repo "$repo" --state-dir "$state" "$@"; }
shop() { psql -X -q -A -t -v ON_ERROR_STOP=1 "${ADMIN/dbname=postgres/dbname=$1}" "${@:2}"; }

for i in 1 2 3; do
	run pb backup -d service=shop-backup
	[ "$RC" = 0 ] || { diag "$ERR"; echo "Bail out! backup $i failed"; exit 1; }
done
ids=($(ls "$repo/shop" | sort))
old=${ids[0]} mid=${ids[1]} new=${ids[2]}
is "${#ids[@]}" 3 "three good backups to damage"
cp -a "$repo" "$BDIR/pristine"
sums() { (cd "$1" && find . -type f ! -name manifest.json | sort | xargs sha256sum); }
good_sums=$(sums "$BDIR/pristine")

# Each damaged manifest, put in place of the newest one of a fresh copy.
# NAME|PYTHON producing the new manifest text from m (the good manifest, parsed) and t (its text).
damage=$(cat <<'LIST'
truncated|t[:len(t)//2]
empty|""
invalid JSON|t.replace(":", "=", 1)
the number 42|"42"
null|"null"
nested 100k deep|"[" * 100000 + "]" * 100000
an array of numbers|"[1,2,3]"
objects a string|dump(dict(m, objects="x"))
tables a string|dump(dict(m, tables="x"))
no objects|dump({k: v for k, v in m.items() if k != "objects"})
objects empty|dump(dict(m, objects=[]))
an unknown format|dump(dict(m, format="pgp-backup/99"))
another backup's id|dump(dict(m, id="20000101T000000Z"))
another database|dump(dict(m, database="other"))
a size that is a string|dump(dict(m, objects=[dict(o, size=str(o["size"])) for o in m["objects"]]))
a hash that is a number|dump(dict(m, objects=[dict(o, sha256=42) for o in m["objects"]]))
a negative size|dump(dict(m, objects=[dict(o, size=-1) for o in m["objects"]]))
a NUL in a name|dump(dict(m, objects=[dict(o, name=o["name"] + "\u0000x") for o in m["objects"]]))
a newline in a name|dump(dict(m, objects=[dict(o, name=o["name"] + "\nx") for o in m["objects"]]))
a name outside the repository|dump(dict(m, objects=[dict(o, name="../../../../../../../../etc/passwd") if o["name"].startswith("dump") else o for o in m["objects"]]))
another backup's object|dump(dict(m, objects=[dict(o, name="../%s/dump.pgdump.zst" % OLD) if o["name"].startswith("dump") else o for o in m["objects"]]))
an object listed twice|dump(dict(m, objects=m["objects"] + m["objects"][:1]))
rows of the wrong type|dump(dict(m, tables=[dict(x, rows="many") for x in m["tables"]]))
a size too big for any disk|re.sub(r'("size":\s*)\d+', r'\g<1>99999999999999999999999', t, count=1)
LIST
)
corrupt() {	# corrupt DIR PYEXPR: replace DIR/shop/$new/manifest.json
	python3 - "$1/shop/$new/manifest.json" "$2" "$old" <<'PY'
import json, re, sys
path, expr, OLD = sys.argv[1:]
t = open(path).read()
m = json.loads(t)
dump = lambda d: json.dumps(d, indent=2)
open(path, "w").write(eval(expr))
PY
}
case_n=0
while IFS='|' read -r what expr; do
	case_n=$((case_n + 1))
	r=$BDIR/case$case_n
	rm -rf "$r" && cp -a "$BDIR/pristine" "$r"
	corrupt "$r" "$expr"
	c() { pgp-backup -c /dev/null --repo "$r" --state-dir "$state" "$@"; }
	run c prune --database shop
	ok "$what: prune exits 1 naming the backup ($RC)" -- [ "$RC" = 1 ]
	like "$ERR" "backup shop/$new: unreadable manifest" "$what: prune says it is unreadable"
	is "$(sums "$r")" "$good_sums" "$what: prune deleted nothing"
	run c list --format json
	is "$RC" 1 "$what: list exits 1"
	is "$(json_get "$OUT" '[b["status"] for b in d["backups"] if b["id"]=="'"$new"'"]')" '["unreadable"]' \
		"$what: list shows it as unreadable"
	is "$(json_get "$OUT" 'd["last_good"]["id"]')" "$mid" "$what: last_good is the newest good one"
	run c verify latest --database shop
	is "$RC" 1 "$what: verify latest exits 1, not the previous backup's 0"
	like "$ERR" "$new" "$what: naming the backup"
	run c restore "$new" -d "$ADMIN" --database "case$case_n"
	is "$RC" 1 "$what: restore refuses it"
	is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname IN ('case$case_n') OR datname LIKE 'pgp\_%'")" 0 \
		"$what: before anything is created"
	run c verify "$mid" --database shop
	is "$RC" 0 "$what: the other backups still verify"
done <<<"$damage"

# A manifest.json that is a directory: unreadable, not "no manifest".
r=$BDIR/dircase
rm -rf "$r" && cp -a "$BDIR/pristine" "$r"
rm "$r/shop/$new/manifest.json" && mkdir "$r/shop/$new/manifest.json"
run pgp-backup -c /dev/null --repo "$r" --state-dir "$state" prune --database shop
is "$RC" 1 "manifest.json a directory: prune exits 1"
like "$ERR" "backup shop/$new: unreadable manifest: manifest.json is not a regular file" "naming it"
ok "its dump is not swept as a leftover" -- test -f "$r/shop/$new/dump.pgdump.zst"
ok "nor its globals" -- test -f "$r/shop/$new/globals.sql.zst"
run pgp-backup -c /dev/null --repo "$r" --state-dir "$state" list
like "$OUT" "$new .* unreadable" "list shows it as unreadable"

# status "failed": listed as failed, never last good, never deleted.
r=$BDIR/failedcase
rm -rf "$r" && cp -a "$BDIR/pristine" "$r"
corrupt "$r" 'dump(dict(m, status="failed"))'
run pgp-backup -c /dev/null --repo "$r" --state-dir "$state" list --format json
is "$(json_get "$OUT" '[b["status"] for b in d["backups"] if b["id"]=="'"$new"'"]')" '["failed"]' "status failed is listed as failed"
is "$(json_get "$OUT" 'd["last_good"]["id"]')" "$mid" "and is not the last good backup"
run pgp-backup -c /dev/null --repo "$r" --state-dir "$state" verify latest --database shop
is "$RC" 1 "verify latest of a failed backup: exit 1"
like "$ERR" "backup shop/$new: its manifest says the backup failed" "saying so"
run pgp-backup -c /dev/null --repo "$r" --state-dir "$state" prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$RC" 1 "prune with --keep-last 1 past a failed newest: exit 1"
ok "the failed one is kept" -- test -f "$r/shop/$new/dump.pgdump.zst"
ok "the newest good one is kept" -- test -f "$r/shop/$mid/manifest.json"
ok "an older good one goes" -- test ! -e "$r/shop/$old"

# Only ids are touched: a directory that is not an id survives prune.
mkdir -p "$repo/shop/notanid" "$repo/shop/2020"
echo keep >"$repo/shop/notanid/dump.pgdump.zst"
echo keep >"$repo/shop/2020/x"
echo keep >"$repo/shop/README"
run pb prune --database shop
is "$RC" 0 "prune of a repository with foreign files"
ok "leaves a non-id directory alone" -- test -f "$repo/shop/notanid/dump.pgdump.zst"
ok "and a short one" -- test -f "$repo/shop/2020/x"
ok "and a file" -- test -f "$repo/shop/README"
rm -rf "$repo/shop/notanid" "$repo/shop/2020" "$repo/shop/README"

# A backup whose retention step meets an unreadable manifest: recorded good, exit 1.
printf '{"format": ' >"$repo/shop/$old/manifest.json"
run pb backup -d service=shop-backup
is "$RC" 1 "a good backup whose retention meets a damaged manifest: exit 1"
like "$ERR" "backup shop/$old: unreadable manifest" "with that line"
latest=$(ls "$repo/shop" | sort | tail -1)
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" ok "the new backup is recorded as good"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')" "$latest" "as the last good one"
ok "the damaged backup's dump is still there" -- test -f "$repo/shop/$old/dump.pgdump.zst"
cp "$BDIR/pristine/shop/$old/manifest.json" "$repo/shop/$old/manifest.json"

# A tampered object that is still valid zstd (the default), with the same
# rows: only the SHA-256 can tell.  It must never reach the target.
tampered=$BDIR/tampered
rm -rf "$tampered" && cp -a "$BDIR/pristine" "$tampered"
tamper() {	# FILE DECOMPRESS COMPRESS: one row changed, recompressed
	$2 <"$1" | python3 -c '
import sys
d = sys.stdin.buffer.read()
a, b = b"\"tags\": [\"a\", 17]}", b"\"tags\": [\"b\", 17]}"
assert d.count(a) == 1, "fixture row not found"
sys.stdout.buffer.write(d.replace(a, b))' | $3 >"$1.new" && mv "$1.new" "$1"
}
tamper "$tampered/shop/$new/dump.pgdump.zst" "zstd -q -dc" "zstd -q -1 -c"
tp() { pgp-backup -c /dev/null --repo "$tampered" --state-dir "$state" "$@"; }
run pb restore "$new" -d "$ADMIN" --database target
is "$RC" 0 "a target restored from the good backup"
shop target -c "CREATE TABLE marker (x int); INSERT INTO marker VALUES (42)"
run tp restore "$new" -d "$ADMIN" --database target --clean
is "$RC" 1 "tampered dump over an existing database with --clean: exit 1"
like "$ERR" "object dump.pgdump.zst does not match its manifest" "naming the object"
is "$(shop target -c "SELECT x FROM marker")" 42 "the target is untouched"
is "$(shop target -c "SELECT body->'tags'->>0 FROM docs WHERE id = 17")" a "no tampered row in it"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\_%'")" 0 "the scratch database is dropped"
run tp restore "$new" -d "$ADMIN" --database fresh
is "$RC" 1 "tampered dump into a new database: exit 1"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = 'fresh'")" 0 "no database full of tampered rows"
run tp restore "$new" -d "$ADMIN" --database target --clean --in-place
is "$RC" 1 "--in-place: exit 1"
is "$(shop target -c "SELECT x FROM marker")" 42 "verified before the target was touched"
run tp restore "$new" -d "$ADMIN" --database fresh --jobs 2
is "$RC" 1 "--jobs 2 (download first): exit 1"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = 'fresh' OR datname LIKE 'pgp\_%'")" 0 "nothing created"
# The same with gzip, the compression of every backup made before zstd.
gzr=$BDIR/gzrepo
gp() { pgp-backup -c /dev/null --repo "$gzr" --state-dir "$BDIR/gzstate" "$@"; }
run gp --compression gzip backup -d service=shop-backup
is "$RC" 0 "a gzip backup"
gid=$(ls "$gzr/shop")
tamper "$gzr/shop/$gid/dump.pgdump.gz" "gzip -dc" "gzip -1 -c"
run gp restore "$gid" -d "$ADMIN" --database target --clean
is "$RC" 1 "a tampered gzip dump: exit 1"
like "$ERR" "object dump.pgdump.gz does not match its manifest" "naming the object"
is "$(shop target -c "SELECT x FROM marker")" 42 "the target is untouched"

# Row counts the data does not have (a manifest altered, or a dump cut
# short): the restore test of the copy fails, the target is untouched.
rows=$BDIR/rows
rm -rf "$rows" && cp -a "$BDIR/pristine" "$rows"
corrupt "$rows" 'dump(dict(m, tables=[dict(x, rows=x["rows"] + 1) if x["table"] == "docs" else x for x in m["tables"]]))'
run pgp-backup -c /dev/null --repo "$rows" --state-dir "$state" restore "$new" -d "$ADMIN" --database target --clean
is "$RC" 1 "row counts that differ from the manifest: exit 1"
like "$ERR" "table public.docs has 5000 rows after the restore, the manifest says 5001" "naming the table"
is "$(shop target -c "SELECT x FROM marker")" 42 "the target is untouched"

# Restore over a database in use: busy, naming the session; --terminate ends it.
shop target -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
for i in $(seq 100); do
	[ "$(admin -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'target' AND query LIKE '%pg_sleep%'")" = 1 ] && break
	sleep 0.1
done
spid=$(admin -c "SELECT pid FROM pg_stat_activity WHERE datname = 'target' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()")
run pb restore "$new" -d "$ADMIN" --database target --clean
is "$RC" 4 "a session on the target: exit 4"
like "$ERR" "busy: 1 session\(s\) on database \"target\"" "saying so"
like "$ERR" "pid $spid, user postgres" "naming the session"
is "$(shop target -c "SELECT x FROM marker")" 42 "the target is untouched"
run pb restore "$new" -d "$ADMIN" --database target --clean --terminate --keep-old
is "$RC" 0 "--terminate: restored"
wait "$sleeper" 2>/dev/null
is "$(shop target -c "SELECT count(*) FROM pg_class WHERE relname = 'marker'")" 0 "the target is the backup now"
is "$(shop target -c "SELECT count(*) FROM docs")" 5000 "with its rows"
kept=$(admin -c "SELECT datname FROM pg_database WHERE datname LIKE 'pgp\_old\_%'")
like "$kept" "^pgp_old_[0-9]{8}t[0-9]{6}z_[0-9a-f]{8}$" "--keep-old keeps the database replaced"
is "$(shop "$kept" -c "SELECT x FROM marker")" 42 "with what it held"
run pb restore "$new" -d "$ADMIN" --database target --clean --terminate --keep-old
is "$RC" 2 "a second --keep-old while the first one's copy exists: exit 2"
like "$ERR" "database \"$kept\" exists \(kept by an earlier restore\)" "naming it, before anything is restored"
admin -c "DROP DATABASE \"$kept\""

# Over the application's own database: pgp-create's roles connect and work after it.
psql -X -q service=shop-migrator -c "INSERT INTO docs VALUES (900001, '{}', NULL)"
before_acl=$(admin -c "SELECT datacl FROM pg_database WHERE datname = 'shop'")
# a grant the archive does not have, and the server's defaults would not give: it must go
admin -c "GRANT TEMPORARY ON DATABASE shop TO shop_readonly"
before_cfg=$(admin -c "SELECT array_agg(s ORDER BY s) FROM pg_db_role_setting r JOIN pg_database d ON d.oid = r.setdatabase, unnest(r.setconfig) s WHERE d.datname = 'shop'")
run pb restore "$new" -d "$ADMIN" --database shop --clean --terminate
is "$RC" 0 "restore over the application's database"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\_%'")" 0 "no scratch or old database is left"
is "$(psql -X -A -t service=shop-app -c "SELECT count(*) FROM docs WHERE id = 900001")" 0 "the app role connects and reads the restored data"
run psql -X -q -v ON_ERROR_STOP=1 service=shop-app -c "INSERT INTO docs VALUES (900002, '{}', NULL)"
is "$RC" 0 "and writes"
is "$(psql -X -A -t service=shop-readonly -c "SELECT count(*) FROM docs WHERE id = 900002")" 1 "the readonly role reads"
is "$(admin -c "SELECT datacl FROM pg_database WHERE datname = 'shop'")" "$before_acl" "the database's grants are the archive's"
is "$(admin -c "SELECT array_agg(s ORDER BY s) FROM pg_db_role_setting r JOIN pg_database d ON d.oid = r.setdatabase, unnest(r.setconfig) s WHERE d.datname = 'shop'")" "$before_cfg" \
	"and so are its settings"
is "$(admin -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'")" shop_owner "and its owner"
is "$(admin -c "SELECT has_database_privilege('public', 'shop', 'CONNECT')")" f "PUBLIC still may not connect"

# Into another name: the grants follow the database under its new name.
run pb restore "$new" -d "$ADMIN" --database shop_other
is "$RC" 0 "restore into another name"
is "$(admin -c "SELECT has_database_privilege('shop_app', 'shop_other', 'CONNECT')")" t "the app role may connect to it"
is "$(admin -c "SELECT has_database_privilege('public', 'shop_other', 'CONNECT')")" f "PUBLIC may not"

# Runs that fail before the dump record their result.
good=$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')
run pb backup -d "host=$BDIR/run port=1 dbname=shop user=shop_backup"
is "$RC" 3 "database down: exit 3"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "state: the failure is recorded"
like "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_error"]')" "cannot connect" "state: with the error"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')" "$good" "state: the last good backup is kept"
echo x >"$BDIR/notadir"
run pgp-backup -c /dev/null --repo "$BDIR/notadir/repo" --state-dir "$state" backup -d service=shop-backup
is "$RC" 5 "a repository that cannot be written: exit 5"
like "$ERR" "the repository $BDIR/notadir/repo cannot be written" "naming it"
is "$(printf '%s\n' "$ERR" | grep -c 'error:')" 1 "in one error line"
unlike "$ERR" "pg_dump" "before pg_dump ran"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "and recorded"

# A restore replaces a database whole: one that merely exists needs --clean.
admin -c "CREATE DATABASE only_funcs" >/dev/null
shop only_funcs -c "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"
run pb restore "$new" -d "$ADMIN" --database only_funcs
is "$RC" 2 "an existing database without relations, without --clean: exit 2"
like "$ERR" "database \"only_funcs\" exists: a restore replaces it whole" "saying so"
is "$(shop only_funcs -c "SELECT f()")" 1 "and its function is still there"

# --terminate ends sessions without calling them an error.
shop only_funcs -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
for i in $(seq 100); do
	[ "$(admin -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'only_funcs' AND query LIKE '%pg_sleep%'")" = 1 ] && break
	sleep 0.1
done
run pb restore "$new" -d "$ADMIN" --database only_funcs --clean --terminate
wait "$sleeper" 2>/dev/null
is "$RC" 0 "--clean --terminate over a database in use"
unlike "$ERR" "error:" "and no error line on the way"

# Encoding, locale and tablespace are the replaced database's.
admin -c "CREATE DATABASE latin TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
run pb restore "$new" -d "$ADMIN" --database latin --clean
is "$RC" 0 "restore over a LATIN1 database"
is "$(admin -c "SELECT pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = 'latin'")" "LATIN1 C" \
	"which keeps its encoding and collation"

# Killed after the scratch restore, before the swap: the target is untouched,
# the next run completes.  A pg_restore that kills pgp-backup once it is done.
kfake=$BDIR/killbin
mkdir -p "$kfake"
printf '#!/bin/sh\n"%s/pg_restore" "$@" || exit $?\nkill -9 $PPID\n' "$PG_BINDIR" >"$kfake/pg_restore"
chmod +x "$kfake/pg_restore"
printf 'backup = { pg_bindir = "%s"; };\n' "$kfake" >"$BDIR/kill.conf"
shop latin -c "CREATE TABLE marker2 (x int); INSERT INTO marker2 VALUES (7)"
run pgp-backup -c "$BDIR/kill.conf" --repo "$repo" --state-dir "$state" restore "$new" -d "$ADMIN" --database latin --clean
is "$RC" 137 "pgp-backup killed right after pg_restore"
is "$(shop latin -c "SELECT x FROM marker2")" 7 "the target is untouched"
run pb restore "$new" -d "$ADMIN" --database latin --clean
is "$RC" 0 "the next run completes"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\_%'")" 0 "and leaves no scratch behind"

# Killed between the two renames: the target is missing, the old one set aside.
oldname=$(python3 -c 'import hashlib,sys; print("pgp_old_%s_%s" % (sys.argv[1].lower(), hashlib.sha256(b"latin").hexdigest()[:8]))' "$new")
admin -c "ALTER DATABASE latin RENAME TO $oldname"
run pb restore "$new" -d "$ADMIN" --database latin
is "$RC" 2 "a restore after one killed between its renames: exit 2"
like "$ERR" "database \"latin\" is missing and \"$oldname\" exists: an earlier restore was interrupted" "naming both"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = '$oldname'")" 1 "and the old database is kept"
admin -c "ALTER DATABASE $oldname RENAME TO latin"

# --in-place into a new database that fails: it does not stay behind.
run pgp-backup -c /dev/null --repo "$rows" --state-dir "$state" restore "$new" -d "$ADMIN" --database fresh_inplace --in-place
is "$RC" 1 "--in-place into a new database, row counts differ: exit 1"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = 'fresh_inplace'")" 0 "the database it made is dropped"

# A table whose name holds a newline, and a comment that names the database.
psql -X -q service=shop-migrator -c 'CREATE TABLE "two
lines" (x int)' -c 'INSERT INTO "two
lines" VALUES (1), (2)'
admin -c "COMMENT ON DATABASE shop IS 'copy of DATABASE shop ; keep'"
run pb backup -d service=shop-backup
is "$RC" 0 "a backup of a table whose name holds a newline"
run pb list --database shop
is "$RC" 0 "its manifest reads back"
run pb restore latest -d "$ADMIN" --database shop_nl
is "$RC" 0 "and it restores"
is "$(shop shop_nl -c 'SELECT count(*) FROM "two
lines"')" 2 "with that table's rows"
is "$(admin -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'shop_nl'")" \
	"copy of DATABASE shop ; keep" "a literal in the database-level SQL is never rewritten"

# Objects taken away while the backup runs (a prune of another host): no manifest.
vfake=$BDIR/vanishbin
mkdir -p "$vfake"
ln -sf "$PG_BINDIR/pg_dump" "$vfake/pg_dump"
printf '#!/bin/sh\nfor d in "%s"/shop/*/; do [ -e "$d/manifest.json" ] || rm -f "$d/dump.pgdump.zst"; done\nexec "%s/pg_dumpall" "$@"\n' \
	"$repo" "$PG_BINDIR" >"$vfake/pg_dumpall"
chmod +x "$vfake/pg_dumpall"
printf 'backup = { pg_bindir = "%s"; };\n' "$vfake" >"$BDIR/vanish.conf"
before=$(ls "$repo/shop" | wc -l)
run pgp-backup -c "$BDIR/vanish.conf" --repo "$repo" --state-dir "$state" backup -d service=shop-backup
is "$RC" 5 "the dump deleted under a running backup: exit 5"
like "$ERR" "its objects vanished while it ran" "saying so"
is "$(ls "$repo/shop" | wc -l)" "$before" "and no backup (no manifest) appears"

printf 'backup = { pg_bindir = "%s/nobin"; };\n' "$BDIR" >"$BDIR/nobin.conf"
run pgp-backup -c "$BDIR/nobin.conf" --repo "$repo" --state-dir "$state" backup -d service=shop-backup
is "$RC" 5 "pg_dump not where the config says: exit 5"
like "$ERR" "cannot find pg_dump in $BDIR/nobin" "naming what was looked for and where"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "and recorded"

done_testing
