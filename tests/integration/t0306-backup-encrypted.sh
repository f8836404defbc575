#!/usr/bin/env bash
# Encrypted backups (age, to public keys): keygen; backup with
# --encrypt-to and a recipients file; nothing about the data readable
# without the identity (dump, globals and table list encrypted, the
# manifest lists only ids, sizes, hashes and the public keys); restore by
# hand with Debian's age and zstd; verify without the key, --restore-test
# and restore with it; no, wrong and world-readable identities; bad
# recipients (FILE:LINE, a secret key never echoed); a damaged payload
# under a manifest that agrees; gzip, zstd and encrypted backups side by
# side; pgp-migrate-check --from-backup --identity; and the secret key in
# no argv, environment of a child, log or server log.
. "$(dirname "$0")/lib.sh"
need age "age (Debian age)"
need age-keygen "age-keygen (Debian age)"
need zstd "zstd (Debian zstd)"
backup_fixture 1
repo=$BDIR/repo
state=$BDIR/state
keys=$BDIR/keys
mkdir -p "$keys"
pb() { pgp-backup -c /dev/null --repo "$repo" --state-dir "$state" "$@"; }
dbconn() { printf '%s' "${ADMIN/dbname=postgres/dbname=$1}"; }
count() { psql -X -A -t "$(dbconn "$1")" -c "SELECT count(*) FROM $2"; }

# ---- keygen ----
run pgp-backup keygen "$keys/pgp.key"
is "$RC" 0 "keygen writes an identity file"
pub1=$OUT
like "$pub1" '^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$' "and prints its public key on stdout"
is "$(stat -c %a "$keys/pgp.key")" 600 "mode 0600"
is "$(age-keygen -y "$keys/pgp.key")" "$pub1" "age-keygen -y reads it: the same public key"
run pgp-backup keygen "$keys/pgp.key"
ok "keygen never writes over an existing file" -- [ "$RC" -ne 0 ]
like "$ERR" "pgp.key" "and names it"
run pgp-backup keygen
is "$RC" 2 "keygen without FILE is a usage error"
run pgp-backup --format json keygen "$keys/json.key"
is "$(json_get "$OUT" 'd["recipient"]')" "$(age-keygen -y "$keys/json.key")" "keygen --format json: the recipient"
age-keygen -o "$keys/age.key" 2>/dev/null
pub2=$(age-keygen -y "$keys/age.key")
age-keygen -o "$keys/other.key" 2>/dev/null
printf '# the restore hosts\n%s\n\n%s\n' "$pub2" "$pub1" >"$keys/recipients.txt"

# ---- backup, encrypted ----
run pb backup -d service=shop-backup --encrypt-to "$pub1" --encrypt-to "$keys/recipients.txt"
is "$RC" 0 "backup encrypted to a key and a recipients file"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "encrypted" "the summary says encrypted"
id=$(ls "$repo/shop")
is "$(ls "$repo/shop/$id" | sort | tr '\n' ' ')" \
	"contents.json.age dump.pgdump.zst.age globals.sql.zst.age manifest.json " \
	"objects: dump, globals and the table list, each an age file"
m=$(cat "$repo/shop/$id/manifest.json")
is "$(json_get "$m" 'sorted(d["encryption"]["recipients"])')" "$(json_get "[\"$pub1\", \"$pub2\"]" 'sorted(d)')" \
	"the manifest lists both public keys, once each"
is "$(json_get "$m" 'd["encryption"]["format"]')" "age-encryption.org/v1" "and the format"
is "$(json_get "$m" '"tables" in d or "rows_counted_from" in d')" false "no table list in the manifest"
unlike "$m" "pgbench|docs|tenant" "no table name anywhere in it"
for o in dump.pgdump.zst.age globals.sql.zst.age contents.json.age; do
	is "$(head -c 21 "$repo/shop/$id/$o")" "age-encryption.org/v1" "$o starts with the age header"
	is "$(sha256sum "$repo/shop/$id/$o" | cut -d' ' -f1)" \
		"$(json_get "$m" "[o['sha256'] for o in d['objects'] if o['name']=='$o'][0]")" \
		"the manifest's SHA-256 of $o is that of the stored (encrypted) bytes"
done
ok "the globals are not readable in the clear" -- sh -c "! grep -a -q shop_owner '$repo/shop/$id/globals.sql.zst.age'"

# ---- without pgp: age -d | zstd -dc | pg_restore ----
admin -c "CREATE DATABASE by_hand" >/dev/null
age -d -i "$keys/age.key" "$repo/shop/$id/dump.pgdump.zst.age" | zstd -dc |
	pg_restore -d "$(dbconn by_hand)" 2>/dev/null
is "$(count by_hand docs)" 5000 "age -d -i KEY | zstd -dc | pg_restore restores it"
like "$(age -d -i "$keys/pgp.key" "$repo/shop/$id/globals.sql.zst.age" | zstd -dc)" "CREATE ROLE shop_owner" \
	"the globals decrypt with age too"
is "$(age -d -i "$keys/pgp.key" "$repo/shop/$id/contents.json.age" | json_get "$(cat)" \
	'[t["rows"] for t in d["tables"] if t["table"]=="pgbench_accounts"][0]')" 100000 \
	"the table list decrypts to the row counts"

# ---- list and verify need no key ----
run pb list --format json
is "$(json_get "$OUT" 'd["backups"][0]["encrypted"], d["backups"][0]["compression"]')" "(True, 'zstd')" \
	"list --format json: encrypted, zstd"
is "$(json_get "$OUT" 'sorted(d["backups"][0]["recipients"])')" "$(json_get "[\"$pub1\", \"$pub2\"]" 'sorted(d)')" \
	"and to whom"
run pb list
like "$OUT" "zstd\\+age +ok" "list: stored zstd+age"
run pb verify latest
is "$RC" 0 "verify without an identity proves every object intact"
like "$OUT" "3 objects match" "all three"

# ---- identities ----
run pb verify latest --restore-test -d "$ADMIN"
is "$RC" 2 "verify --restore-test without an identity: usage error"
like "$ERR" "is encrypted: reading it needs an identity" "saying an identity is needed"
like "$ERR" "$pub2" "and naming the keys it was encrypted to"
like "$ERR" "--identity" "and how to give one"
run pb verify latest --restore-test -d "$ADMIN" --identity "$keys/other.key"
is "$RC" 2 "a wrong identity: usage error"
like "$ERR" "no identity in $keys/other.key is one of them" "naming the identity file"
like "$ERR" "encrypted to $pub1" "and the recipients"
cp "$keys/pgp.key" "$keys/open.key"; chmod 644 "$keys/open.key"
run pb verify latest --restore-test -d "$ADMIN" --identity "$keys/open.key"
is "$RC" 2 "an identity file readable by others is refused"
like "$ERR" "open.key is readable by others" "saying so"
run pb verify latest --restore-test -d "$ADMIN" --identity "$keys/pgp.key"
is "$RC" 0 "verify --restore-test with the identity"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" "restored and every table's row count matches" "row counts from the encrypted table list"
printf 'backup = { identity_file = "%s"; };\n' "$keys/age.key" >"$BDIR/id.conf"
run pgp-backup -c "$BDIR/id.conf" --repo "$repo" --state-dir "$state" restore latest -d "$ADMIN" --database r1
is "$RC" 0 "restore with backup.identity_file (the other recipient's key)"
is "$(count r1 docs)" 5000 "restored"
is "$(count r1 tenant_docs)" 3 "every row"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\\_%'")" 0 "no scratch left"

# ---- bad recipients ----
printf '%s\nage1notakey\n' "$pub1" >"$keys/bad.txt"
run pb backup -d service=shop-backup --encrypt-to "$keys/bad.txt"
is "$RC" 2 "a recipients file with a bad line: usage error"
like "$ERR" "$keys/bad.txt:2" "naming FILE:LINE"
secret=$(grep '^AGE-SECRET-KEY-' "$keys/pgp.key")
run pb backup -d service=shop-backup --encrypt-to "$secret"
is "$RC" 2 "a secret key given as a recipient is refused"
unlike "$ERR" "${secret:15:20}" "and never echoed"
like "$ERR" "secret key" "saying it is one"
printf 'backup = { encrypt_recipients = ["%s"]; };\n' "$secret" >"$BDIR/secret.conf"
chmod 600 "$BDIR/secret.conf"
run pgp-backup -c "$BDIR/secret.conf" --repo "$repo" --state-dir "$state" backup -d service=shop-backup
is "$RC" 2 "a secret key in backup.encrypt_recipients is refused"
like "$ERR" "secret.conf:1" "naming file:line"
unlike "$ERR" "${secret:15:20}" "and never echoed"
run pb backup -d service=shop-backup --encrypt-to "$keys/missing.txt"
is "$RC" 2 "a recipients file that is not there: usage error"
like "$ERR" "missing.txt" "named"
is "$(ls "$repo/shop")" "$id" "none of these refusals left a backup"

# ---- a damaged payload under a manifest that agrees ----
# (as if someone rewrote the manifest too: the SHA-256 passes, age's tags do not)
damage() {	# damage ID HOW: HOW is flip or cut; the manifest updated to match
	local f=$repo/shop/$1/dump.pgdump.zst.age
	case $2 in
	flip) python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$f" ;;
	cut) truncate -s $(( $(stat -c %s "$f") - 70000 )) "$f" ;;
	esac
	python3 - "$repo/shop/$1/manifest.json" "$f" <<'PY'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1])); data = open(sys.argv[2], 'rb').read()
for o in m["objects"]:
    if o["name"] == "dump.pgdump.zst.age":
        o["sha256"] = hashlib.sha256(data).hexdigest(); o["size"] = len(data)
json.dump(m, open(sys.argv[1], "w"))
PY
}
for how in flip cut; do
	run pb backup -d service=shop-backup --encrypt-to "$pub1" --no-prune
	bid=$(ls "$repo/shop" | sort | tail -n 1)
	damage "$bid" "$how"
	run pb verify "$bid"
	is "$RC" 0 "$how: the objects match a manifest rewritten to match (verify cannot know)"
	run pb restore "$bid" -d "$ADMIN" --database "d_$how" --identity "$keys/pgp.key"
	is "$RC" 1 "$how: restore finds the payload damaged (exit 1)"
	like "$ERR" "dump.pgdump.zst.age does not decrypt" "$how: naming the object"
	is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = 'd_$how' OR datname LIKE 'pgp\\_%'")" 0 \
		"$how: no database was left, not a shorter one"
	run pb verify "$bid" --restore-test -d "$ADMIN" --identity "$keys/pgp.key"
	is "$RC" 1 "$how: verify --restore-test finds it too"
	rm -rf "${repo:?}/shop/$bid"
done

# ---- an encrypted backup's manifest, damaged: unreadable, nothing deleted ----
run pb backup -d service=shop-backup --encrypt-to "$pub1" --no-prune
mid=$(ls "$repo/shop" | sort | tail -n 1)
sleep 1
run pb backup -d service=shop-backup --encrypt-to "$pub1" --no-prune
new=$(ls "$repo/shop" | sort | tail -n 1)
cp -a "$repo" "$BDIR/pristine"
sums() { (cd "$1" && find . -type f ! -name manifest.json | sort | xargs sha256sum); }
good_sums=$(sums "$BDIR/pristine")
damage_list=$(cat <<'LIST'
encryption a string|dump(dict(m, encryption="age"))
encryption of another format|dump(dict(m, encryption=dict(m["encryption"], format="gpg")))
no recipients|dump(dict(m, encryption=dict(m["encryption"], recipients=[])))
a recipient that is no key|dump(dict(m, encryption=dict(m["encryption"], recipients=["age1notakey"])))
a secret key as recipient|dump(dict(m, encryption=dict(m["encryption"], recipients=[SECRET])))
encryption dropped, objects still .age|dump({k: v for k, v in m.items() if k != "encryption"})
no contents object|dump(dict(m, objects=[o for o in m["objects"] if o["name"] != "contents.json.age"]))
a clear dump in an encrypted backup|dump(dict(m, objects=[dict(o, name="dump.pgdump.zst") if o["name"] == "dump.pgdump.zst.age" else o for o in m["objects"]]))
LIST
)
case_n=0
while IFS='|' read -r what expr; do
	case_n=$((case_n + 1))
	r=$BDIR/case$case_n
	rm -rf "$r" && cp -a "$BDIR/pristine" "$r"
	python3 - "$r/shop/$new/manifest.json" "$expr" "$secret" <<'PY'
import json, sys
path, expr, SECRET = sys.argv[1:]
m = json.load(open(path)); dump = lambda d: json.dumps(d, indent=2)
open(path, "w").write(eval(expr))
PY
	c() { pgp-backup -c /dev/null --repo "$r" --state-dir "$state" "$@"; }
	run c list --format json
	is "$(json_get "$OUT" '[b["status"] for b in d["backups"] if b["id"]=="'"$new"'"]')" '["unreadable"]' \
		"$what: list shows it as unreadable"
	unlike "$ERR" "${secret:15:20}" "$what: no secret echoed"
	run c prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
	is "$RC" 1 "$what: prune exits 1"
	ok "$what: and deletes nothing of it" -- test -f "$r/shop/$new/dump.pgdump.zst.age"
	run c restore "$new" -d "$ADMIN" --database "case$case_n" --identity "$keys/pgp.key"
	is "$RC" 1 "$what: restore refuses it"
	is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = 'case$case_n' OR datname LIKE 'pgp\\_%'")" 0 \
		"$what: before anything is created"
	rm -rf "$r"
done <<<"$damage_list"

# The table list damaged under a manifest that agrees: the restore stops, naming it.
r=$BDIR/contents
cp -a "$BDIR/pristine" "$r"
python3 - "$r/shop/$new" <<'PY'
import hashlib, json, sys
d = sys.argv[1]; p = d + "/contents.json.age"
b = bytearray(open(p, "rb").read()); b[-5] ^= 1; open(p, "wb").write(b)
m = json.load(open(d + "/manifest.json"))
for o in m["objects"]:
    if o["name"] == "contents.json.age":
        o["sha256"] = hashlib.sha256(b).hexdigest()
json.dump(m, open(d + "/manifest.json", "w"))
PY
run pgp-backup -c /dev/null --repo "$r" --state-dir "$state" restore "$new" -d "$ADMIN" --database c_bad \
	--identity "$keys/pgp.key"
is "$RC" 1 "a damaged table list: restore exits 1"
like "$ERR" "contents.json.age does not decrypt" "naming the object"
is "$(admin -c "SELECT count(*) FROM pg_database WHERE datname = 'c_bad'")" 0 "and creates nothing"
rm -rf "$r" "$BDIR/pristine"

# pg_dump failing part way with encryption on: nothing that looks like a backup.
fail=$BDIR/faildump
mkdir -p "$fail"
printf '#!/bin/sh
%s "$@" | head -c 200000
exit 1
' "$PG_BINDIR/pg_dump" >"$fail/pg_dump"
ln -s "$PG_BINDIR/pg_dumpall" "$fail/pg_dumpall"
chmod 755 "$fail/pg_dump"
printf 'backup = { pg_bindir = "%s"; };
' "$fail" >"$BDIR/fail.conf"
before=$(ls "$repo/shop" | sort)
run pgp-backup -c "$BDIR/fail.conf" --repo "$repo" --state-dir "$state" backup -d service=shop-backup \
	--encrypt-to "$pub1"
is "$RC" 5 "pg_dump failing mid-stream: exit 5"
is "$(ls "$repo/shop" | sort)" "$before" "no new backup directory is left with objects"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "the state file says failed"
run pb backup -d service=shop-backup --encrypt-to "$pub1" --no-prune
is "$RC" 0 "the next run is good"

# ---- killed at any moment with encryption on: never a backup that looks whole ----
good_before=$(pb list --format json | json_get "$(cat)" 'len([b for b in d["backups"] if b["status"] == "ok"])')
for delay in 0.05 0.2 0.5 1 1.5; do
	pb backup -q -d service=shop-backup --encrypt-to "$pub1" --no-prune &
	victim=$!
	sleep "$delay"
	kill -9 "$victim" 2>/dev/null
	wait "$victim" 2>/dev/null
	sleep 1
done
run pb list --format json
is "$RC" 0 "after five kills: list finds nothing unreadable"
ok "and no more good backups than finished runs" -- \
	[ "$(json_get "$OUT" 'len([b for b in d["backups"] if b["status"] == "ok"])')" -le $((good_before + 5)) ]
for b in $(json_get "$OUT" '" ".join(b["id"] for b in d["backups"])'); do
	run pb verify "$b"
	[ "$RC" = 0 ] || { diag "$b: $ERR"; break; }
done
is "$RC" 0 "every backup listed verifies: a killed run left none half-made"

# ---- gzip, zstd and encrypted side by side ----
mixed=$BDIR/mixed
pm() { pgp-backup -c /dev/null --repo "$mixed" --state-dir "$state" "$@"; }
pm backup -q -d service=shop-backup --compression gzip --no-prune
sleep 1
pm backup -q -d service=shop-backup --no-prune
sleep 1
pm backup -q -d service=shop-backup --compression gzip --encrypt-to "$pub1" --no-prune
run pm list --format json
is "$(json_get "$OUT" '[(b["compression"], b["encrypted"]) for b in d["backups"]]')" \
	'[["gzip", true], ["zstd", false], ["gzip", false]]' "list: gzip+age, zstd and gzip, newest first"
ids=($(json_get "$OUT" '" ".join(b["id"] for b in d["backups"])'))
ls "$mixed/shop/${ids[0]}" | grep -q '^dump.pgdump.gz.age$'
is "$?" 0 "the encrypted gzip dump is dump.pgdump.gz.age"
for i in 0 1 2; do
	run pm verify "${ids[$i]}"
	is "$RC" 0 "verify ${ids[$i]} without a key"
done
run pm restore "${ids[1]}" -d "$ADMIN" --database m_zstd
is "$RC" 0 "an unencrypted backup restores without an identity"
run pm restore "${ids[0]}" -d "$ADMIN" --database m_age
is "$RC" 2 "the encrypted one needs it"
run pm restore "${ids[0]}" -d "$ADMIN" --database m_age --identity "$keys/pgp.key"
is "$RC" 0 "and restores with it"
is "$(count m_age docs)" 5000 "every row"
run pm prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$RC" 0 "prune of the mixed repository"
is "$(ls "$mixed/shop")" "${ids[0]}" "keeps the newest (encrypted) backup only"
run pm prune --database shop --keep-last 0 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$(ls "$mixed/shop")" "${ids[0]}" "and never deletes the newest"

# ---- pgp-migrate-check --from-backup of an encrypted backup ----
mig=$BDIR/mig
mkdir -p "$mig"
echo "ALTER TABLE docs ADD COLUMN note text;" >"$mig/1_note.up.sql"
echo "ALTER TABLE docs DROP COLUMN note;" >"$mig/1_note.down.sql"
printf 'backup = {\n  repo = "%s";\n  state_dir = "%s";\n};\n' "$mixed" "$state" >"$BDIR/mc.conf"
run pgp-migrate-check -c "$BDIR/mc.conf" -d "$(dbconn shop)" --tool golang-migrate --from-backup "$mig"
is "$RC" 5 "pgp-migrate-check --from-backup of an encrypted backup without an identity fails"
like "$ERR" "needs an identity" "with pgp-backup's reason"
run pgp-migrate-check -c "$BDIR/mc.conf" -d "$(dbconn shop)" --tool golang-migrate --from-backup \
	--identity "$keys/pgp.key" --format json "$mig"
ok "with --identity the copy is made from it" -- [ "$RC" -le 1 ]
[ "$RC" -le 1 ] || diag "$ERR"
like "$(json_get "$OUT" 'd["copy"]')" "pgp-backup's latest backup" "the report says the copy is the backup"
run pgp-migrate-check -c "$BDIR/mc.conf" -d "$(dbconn shop)" --identity "$keys/pgp.key" "$mig"
is "$RC" 2 "--identity without --from-backup is a usage error"

# ---- the secret key never leaves pgp-backup ----
# pg_restore and pg_dump wrapped: each records its argv and environment.
wrap=$BDIR/wrap
mkdir -p "$wrap"
for p in pg_dump pg_dumpall pg_restore; do
	real=$PG_BINDIR/$p
	printf '#!/bin/sh\n{ printf "%%s\\n" "$0" "$@"; env; } >>%s/seen\nexec %s "$@"\n' "$wrap" "$real" >"$wrap/$p"
	chmod 755 "$wrap/$p"
done
chmod 755 "$BDIR"
printf 'backup = {\n  pg_bindir = "%s";\n  identity_file = "%s";\n};\n' "$wrap" "$keys/pgp.key" >"$BDIR/wrap.conf"
run pgp-backup -v -c "$BDIR/wrap.conf" --repo "$repo" --state-dir "$state" backup -d service=shop-backup \
	--encrypt-to "$pub1" --no-prune
is "$RC" 0 "a backup through wrapped pg_dump"
[ "$RC" = 0 ] || diag "$ERR"
log=$OUT$ERR
run pgp-backup -v -c "$BDIR/wrap.conf" --repo "$repo" --state-dir "$state" restore latest -d "$ADMIN" \
	--database w1
is "$RC" 0 "a restore through wrapped pg_restore"
log=$log$OUT$ERR
ok "the wrappers ran" -- grep -q pg_restore "$wrap/seen"
ok "the secret key is in no child's argv or environment" -- sh -c "! grep -q -i '${secret:15:30}' '$wrap/seen'"
unlike "$log" "${secret:15:30}" "nor in pgp-backup's output at -v"
ok "the server log is there to look in" -- test -s "$BDIR/log/postgresql.log"
ok "nor in the server log" -- sh -c "! grep -q -i '${secret:15:30}' '$BDIR/log/postgresql.log'"
done_testing
