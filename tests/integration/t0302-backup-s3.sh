#!/usr/bin/env bash
# pgp-backup into S3: s3rver behind the strict SigV4 front (signature,
# payload hash, 5 MiB part minimum), Debian's awscli as the independent
# client; multipart with incompressible data; faults: wrong credentials,
# the front stopped after the first part, a byte flipped inside s3rver.
. "$(dirname "$0")/lib.sh"
need /usr/bin/aws "Debian's awscli"
need age "age (Debian age)"
need age-keygen "age-keygen (Debian age)"
s3_start
backup_fixture 1
# About 30MB that does not compress (to zstd, hex text halves): at least
# three 5 MiB parts.
psql -X -q service=shop-migrator -c "CREATE TABLE noise (b bytea)" \
	-c "INSERT INTO noise SELECT decode(string_agg(md5(random()::text || g), ''), 'hex') FROM generate_series(1, 160000) g, generate_series(1, 6) r GROUP BY r" >/dev/null
state=$BDIR/state
conf=$BDIR/s3.conf
printf 'backup = { s3_part_size_mb = 5; s3_attempts = 2; };\n' >"$conf"
pb() { pgp-backup -c "$conf" --repo "s3://$S3_BUCKET/pgp" --s3-endpoint "$S3_ENDPOINT" --state-dir "$state" "$@"; }

run pb backup -d service=shop-backup
is "$RC" 0 "backup to S3 through the strict SigV4 front"
[ "$RC" = 0 ] || { diag "$ERR"; tail -5 "$S3_DIR/proxy.log" | sed 's/^/# /'; }
unlike "$(cat "$S3_DIR/proxy.log")" "REJECT" "the front rejected no request"
like "$(cat "$S3_DIR/proxy.log")" "partNumber=3" "the dump went up in at least three parts"
id=$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')

run aws_cli s3 ls --recursive "s3://$S3_BUCKET/pgp/shop/"
like "$OUT" "pgp/shop/$id/manifest.json" "awscli lists the manifest"
like "$OUT" "pgp/shop/$id/dump.pgdump.zst" "and the dump"
dl=$(mktemp -d /tmp/pgpdl.XXXXXX)
at_exit "rm -rf '$dl'"
aws_cli s3 cp "s3://$S3_BUCKET/pgp/shop/$id/dump.pgdump.zst" "$dl/dump.zst" >/dev/null 2>&1
aws_cli s3 cp "s3://$S3_BUCKET/pgp/shop/$id/manifest.json" "$dl/manifest.json" >/dev/null 2>&1
is "$(sha256sum "$dl/dump.zst" | cut -d' ' -f1)" \
	"$(json_get "$(cat "$dl/manifest.json")" '[o["sha256"] for o in d["objects"] if o["name"]=="dump.pgdump.zst"][0]')" \
	"awscli's copy matches the manifest's SHA-256"
ok "and is a valid zstd stream (Debian's zstd)" -- zstd -q -t "$dl/dump.zst"

run pb list --format json --database shop
is "$(json_get "$OUT" 'd["last_good"]["id"]')" "$id" "list from S3"
run pb verify latest --database shop
is "$RC" 0 "verify re-reads every object from S3"
run pb restore latest -d "$ADMIN" --database from_s3
is "$RC" 0 "restore streams from S3 into pg_restore"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=from_s3}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 "rows restored"

# Credentials from files named in the config, not the environment.
printf 'S3RVER\n' >"$BDIR/ak"; printf 'S3RVER\n' >"$BDIR/sk"; chmod 600 "$BDIR/ak" "$BDIR/sk"
printf 'backup = { s3_access_key_file = "%s"; s3_secret_key_file = "%s"; };\n' "$BDIR/ak" "$BDIR/sk" >"$BDIR/keys.conf"
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY pgp-backup -c "$BDIR/keys.conf" --repo "s3://$S3_BUCKET/pgp" \
	--s3-endpoint "$S3_ENDPOINT" --state-dir "$state" list --database shop
like "$OUT" "$id" "credentials read from the files in the config"
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY pgp-backup -c /dev/null --repo "s3://$S3_BUCKET/pgp" \
	--s3-endpoint "$S3_ENDPOINT" --state-dir "$state" list
is "$RC" 2 "no credentials at all: a configuration error"
like "$ERR" "no S3 credentials" "saying where they come from"

# No such backup is the caller's mistake; an unreachable repository a failure.
run pb verify 19990101T000000Z --database shop
is "$RC" 2 "verify of an unknown id: exit 2"
run pgp-backup -c "$conf" --repo "s3://$S3_BUCKET/pgp" --s3-endpoint "http://127.0.0.1:$(free_port)" \
	--state-dir "$state" verify latest --database shop
is "$RC" 3 "verify with the repository unreachable: exit 3, not a usage error"
like "$ERR" "S3 endpoint http://127.0.0.1:[0-9]+: GET" "naming the endpoint and the request that failed"

# Wrong credentials.
run env AWS_SECRET_ACCESS_KEY=wrong pgp-backup -c "$conf" --repo "s3://$S3_BUCKET/pgp" --s3-endpoint "$S3_ENDPOINT" \
	--state-dir "$state" backup -d service=shop-backup
is "$RC" 5 "wrong credentials: exit 5"
like "$ERR" "HTTP 403 SignatureDoesNotMatch" "names the S3 error"
unlike "$ERR" "S3RVER" "and shows no secret"
is "$(aws_cli s3 ls --recursive "s3://$S3_BUCKET/pgp/shop/" | grep -c manifest.json)" 1 "no second backup appeared"

# The front stops after the first part of a multipart upload.
port=${S3_ENDPOINT##*:}
( tail -n0 -F "$S3_DIR/proxy.log" 2>/dev/null | grep -q -m1 'partNumber=1' && kill "$S3PROXY_PID" ) &
watcher=$!
run pb backup -d service=shop-backup
kill $watcher 2>/dev/null
is "$RC" 3 "S3 gone mid-upload: exit 3 (unreachable)"
like "$ERR" "Connection refused|Couldn't connect|Failed to connect" "one clear message"
python3 "$PGP_SRC/tests/s3-strict-proxy.py" "$port" "${S3_DIRECT##*:}" S3RVER S3RVER >>"$S3_DIR/proxy.log" 2>&1 &
at_exit "kill $!"
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
run pb list --format json --database shop
is "$(json_get "$OUT" 'len(d["backups"])')" 1 "list shows only the good backup"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')" "$id" "state keeps the last good backup"
run pb verify latest --database shop
is "$RC" 0 "which is untouched"

# An endpoint that refuses connections: one line naming it, before pg_dump runs.
dead=http://127.0.0.1:$(free_port)
run pgp-backup -c "$conf" --repo "s3://$S3_BUCKET/pgp" --s3-endpoint "$dead" --state-dir "$state" backup -d service=shop-backup
is "$RC" 3 "S3 refusing connections: exit 3"
is "$(printf '%s\n' "$ERR" | grep -c 'error:')" 1 "one error line"
like "$ERR" "error: S3 endpoint $dead: PUT" "naming the endpoint"
unlike "$ERR" "pg_dump" "pg_dump never ran"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "state: recorded as failed"
like "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_error"]')" "$dead" "state: with the endpoint"

# A black hole (accepts, never answers): the run's deadline ends it.
hole_port=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); held = []
while True:
    c, _ = s.accept(); held.append(c)' "$hole_port" &
at_exit "kill $!"
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$hole_port") 2>/dev/null && break; sleep 0.1; done
printf 'backup = { s3_part_size_mb = 5; s3_timeout = 3; };\n' >"$BDIR/hole.conf"
hole() { pgp-backup -c "$BDIR/hole.conf" --repo "s3://$S3_BUCKET/pgp" --s3-endpoint "http://127.0.0.1:$hole_port" --state-dir "$state" "$@"; }
run hole list --database shop
is "$RC" 3 "list against a black hole: exit 3 once the deadline passes"
like "$ERR" "the run's deadline of 3 s \\(backup.s3_timeout\\) passed during GET" "saying which deadline"
run hole backup -d service=shop-backup
is "$RC" 3 "backup against a black hole: exit 3"
is "$(json_get "$(cat "$state/backup-shop.json")" 'd["last_run_result"]')" failed "state: recorded as failed"

# The front freezes after the first part: the deadline aborts the upload.
printf 'backup = { s3_part_size_mb = 5; s3_timeout = 8; };\n' >"$BDIR/freeze.conf"
( tail -n0 -F "$S3_DIR/proxy.log" 2>/dev/null | grep -q -m1 'partNumber=1' && kill -STOP "$(pgrep -f "s3-strict-proxy.py $port ")" ) &
watcher=$!
run pgp-backup -c "$BDIR/freeze.conf" --repo "s3://$S3_BUCKET/pgp" --s3-endpoint "$S3_ENDPOINT" --state-dir "$state" backup -d service=shop-backup
kill $watcher 2>/dev/null
pkill -CONT -f "s3-strict-proxy.py $port "
is "$RC" 3 "S3 frozen mid-upload: exit 3"
like "$ERR" "deadline of 8 s" "the deadline ended it"
run pb list --format json --database shop
is "$(json_get "$OUT" 'len(d["backups"])')" 1 "nothing half-uploaded is listed"

# A byte flipped in an object s3rver stores.
obj=$(find "$S3_DATA" -path "*$id*" -name 'globals.sql.zst._S3rver_object' | head -1)
ok "found the stored object" -- test -f "$obj"
python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(20); b=f.read(1); f.seek(20); f.write(bytes([b[0]^0xff]))" "$obj"
run pb verify latest --database shop
is "$RC" 1 "a corrupt object: verify exits 1"
like "$ERR" "object globals.sql.zst does not match its manifest" "naming it"

# Encrypted, multipart through the strict front: awscli's copy decrypts with Debian's age.
age-keygen -o "$BDIR/age.key" 2>/dev/null
pub=$(age-keygen -y "$BDIR/age.key")
seen=$(wc -l <"$S3_DIR/proxy.log")
run pb backup -d service=shop-backup --encrypt-to "$pub" --no-prune
is "$RC" 0 "encrypted backup to S3"
[ "$RC" = 0 ] || diag "$ERR"
eid=$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')
unlike "$(tail -n +$((seen + 1)) "$S3_DIR/proxy.log")" "REJECT" "the front rejected none of its requests"
like "$(tail -n +$((seen + 1)) "$S3_DIR/proxy.log")" "partNumber=3" "it went up in at least three parts"
run aws_cli s3 ls --recursive "s3://$S3_BUCKET/pgp/shop/$eid/"
like "$OUT" "$eid/dump.pgdump.zst.age" "the dump is an age file"
like "$OUT" "$eid/contents.json.age" "and so is the table list"
aws_cli s3 cp "s3://$S3_BUCKET/pgp/shop/$eid/dump.pgdump.zst.age" "$dl/dump.age" >/dev/null 2>&1
admin -c "CREATE DATABASE s3_by_hand" >/dev/null
age -d -i "$BDIR/age.key" "$dl/dump.age" | zstd -dc |
	pg_restore -d "${ADMIN/dbname=postgres/dbname=s3_by_hand}" 2>/dev/null
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=s3_by_hand}" -c "SELECT count(*) FROM noise")" 6 \
	"aws s3 cp | age -d | zstd -dc | pg_restore restores it"
run pb verify "$eid" --database shop
is "$RC" 0 "verify from S3 without a key"
run pb verify "$eid" --database shop --restore-test -d "$ADMIN" --identity "$BDIR/age.key"
is "$RC" 0 "verify --restore-test from S3 with the identity"
run pb restore "$eid" -d "$ADMIN" --database from_s3_age --identity "$BDIR/age.key"
is "$RC" 0 "restore streams from S3 through decryption into pg_restore"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=from_s3_age}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
	"rows restored"

# zstd, gzip and none side by side in one S3 prefix: list, verify, restore, prune.
psql -X -q service=shop-migrator -c "DROP TABLE noise" >/dev/null
p2() { pgp-backup -c "$conf" --repo "s3://$S3_BUCKET/mixed" --s3-endpoint "$S3_ENDPOINT" --state-dir "$state" "$@"; }
declare -A cid
for c in gzip zstd none; do
	run p2 --compression "$c" backup -d service=shop-backup --no-prune
	is "$RC" 0 "$c: backup to S3"
	cid[$c]=$(json_get "$(cat "$state/backup-shop.json")" 'd["last_good_id"]')
done
run aws_cli s3 ls --recursive "s3://$S3_BUCKET/mixed/shop/"
like "$OUT" "${cid[gzip]}/dump.pgdump.gz" "gzip: dump.pgdump.gz"
like "$OUT" "${cid[zstd]}/dump.pgdump.zst" "zstd: dump.pgdump.zst"
like "$OUT" "${cid[none]}/dump.pgdump\$" "none: dump.pgdump"
run p2 list --format json --database shop
is "$(json_get "$OUT" 'len([b for b in d["backups"] if b["status"] == "ok"])')" 3 "list: all three"
for c in gzip zstd none; do
	run p2 verify "${cid[$c]}" --database shop --restore-test -d "$ADMIN"
	is "$RC" 0 "$c: verify --restore-test from S3"
done
run p2 restore "${cid[gzip]}" -d "$ADMIN" --database from_s3_gzip
is "$RC" 0 "gzip: restore from S3"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=from_s3_gzip}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
	"with every row"
run p2 prune --database shop --keep-last 1 --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$RC" 0 "prune"
run aws_cli s3 ls --recursive "s3://$S3_BUCKET/mixed/shop/"
is "$(printf '%s\n' "$OUT" | grep -c "${cid[gzip]}\|${cid[zstd]}")" 0 "deletes the gzip and zstd backups whole"
like "$OUT" "${cid[none]}/manifest.json" "keeps the newest"
done_testing
