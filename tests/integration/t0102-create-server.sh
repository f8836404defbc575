#!/usr/bin/env bash
# pgp-create in server mode, as a managed service's admin: a fabricated
# rds_superuser-like role with CREATEROLE and CREATEDB but no superuser.
# The "server" is a local cluster pgp-create made; the operator's part
# (pg_hba lines) is done here by hand, as on a real server.
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
dir=$(mktemp -d /tmp/pgps.XXXXXX)
obase=$(mktemp -d /tmp/pgpo.XXXXXX)
out=$obase/creds/shop		# made by pgp-create, parents and all
port=$(free_port)
at_exit "pgp-create -c /dev/null --local '$dir' --stop; rm -rf '$dir' '$obase'"

run pgp-create -c /dev/null --local "$dir" --database base --port "$port"
is "$RC" 0 "a server to work on"
admin() { psql -X -q -A -t -v ON_ERROR_STOP=1 "host=$dir/run port=$port dbname=postgres user=postgres" "$@"; }
admin -c "CREATE ROLE rds_superuser NOLOGIN CREATEROLE CREATEDB" \
      -c "CREATE ROLE master LOGIN CREATEROLE CREATEDB IN ROLE rds_superuser" >/dev/null
# The operator's pg_hba: the admin over the socket, and the lines pgp-create prints.
hba_line='hostssl  shop  shop_migrator,shop_app,shop_readonly,shop_monitor,shop_backup  127.0.0.1/32  scram-sha-256'
sed -i "/^local .*peer map=pgp/a local all master trust\n$hba_line" "$dir/data/pg_hba.conf"
admin -c "SELECT pg_reload_conf()" >/dev/null

conn="host=$dir/run port=$port user=master dbname=postgres"
run pgp-create -c /dev/null -d "$conn" --database shop --out "$out" --sslrootcert "$dir/tls/ca.crt" \
	--extension pgcrypto --format json
is "$RC" 0 "server mode as a CREATEROLE admin"
[ "$RC" = 0 ] || diag "$ERR"
is "$(json_get "$OUT" 'd["admin_flavour"]')" rds_superuser "detects the rds_superuser-like admin"
is "$(json_get "$OUT" 'd["witness"]["ok"]')" true "the witness connected"
like "$(json_get "$OUT" 'd["witness"]["tls_version"]')" '^TLSv1\.[23]$' "over TLS 1.2+"
is "$(stat -c %a "$out")" 700 "--out DIR is made 0700"
is "$(stat -c %a "$obase/creds")" 755 "its missing parent 0755"
is "$(stat -c %a "$out/pgpass")" 600 "the pgpass in it is 0600"
is "$(json_get "$OUT" 'd["service_file"]')" "$out/pg_service.conf" "credential files in --out"
like "$(json_get "$OUT" 'd["uris"]["app"]')" "sslmode=verify-full&sslrootcert=" "URIs verify the server with the given CA"
is "$(admin -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'master'")" f "the admin is no superuser"

export PGSERVICEFILE=$out/pg_service.conf PGPASSFILE=$out/pgpass
run psql -X -q -A -t -v ON_ERROR_STOP=1 service=shop-migrator -c "CREATE TABLE t (id serial PRIMARY KEY, v text)"
is "$RC" 0 "the migrator creates a table"
run psql -X -q -A -t -v ON_ERROR_STOP=1 service=shop-app -c "INSERT INTO t (v) VALUES ('x') RETURNING id"
is "$OUT" 1 "the app writes it"
run psql -X -q -A -t service=shop-app -c "CREATE TABLE u (x int)"
like "$ERR" "permission denied for schema public" "the app cannot create tables"
run psql -X -q -A -t service=shop-app -c "SELECT extensions.gen_random_uuid() IS NOT NULL"
is "$OUT" t "the trusted extension was created"

run pgp-create -c /dev/null -d "$conn" --database shop --out "$out" --sslrootcert "$dir/tls/ca.crt" --extension pgcrypto
is "$RC" 0 "a second run"
like "$OUT" "no changes" "changes nothing"
like "$OUT" "hostssl +shop +shop_migrator,shop_app,shop_readonly,shop_monitor,shop_backup +127\.0\.0\.1/32 +scram-sha-256" \
	"prints the pg_hba lines the operator adds"
like "$OUT" "export PGSERVICEFILE=$out/pg_service.conf PGPASSFILE=$out/pgpass" "ends with the export line"

# Merging into the user's own files keeps their other entries.
home=$(mktemp -d /tmp/pgph.XXXXXX)
at_exit "rm -rf '$home'"
printf '[other]\nhost=elsewhere\n' >"$home/.pg_service.conf"
printf 'elsewhere:5432:*:someone:their-secret\n' >"$home/.pgpass"
chmod 600 "$home/.pgpass"
cp "$out/pgpass" "$home/.pgpass.ours"
cat "$home/.pgpass.ours" >>"$home/.pgpass"
run env HOME="$home" pgp-create -c /dev/null -d "$conn" --database shop --sslrootcert "$dir/tls/ca.crt" --extension pgcrypto
is "$RC" 0 "without --out: merged into ~/.pg_service.conf and ~/.pgpass"
like "$(cat "$home/.pg_service.conf")" "\[other\]" "the user's other service is kept"
like "$(cat "$home/.pg_service.conf")" "\[shop-app\]" "ours is added"
like "$(cat "$home/.pgpass")" "their-secret" "the user's other password is kept"
is "$(grep -c ':shop_app:' "$home/.pgpass")" 1 "ours appears once"

# What a non-superuser admin cannot do is named.
admin -c "CREATE ROLE weak LOGIN" >/dev/null
sed -i "/^local all master trust/a local all weak trust" "$dir/data/pg_hba.conf"
admin -c "SELECT pg_reload_conf()" >/dev/null
run pgp-create -c /dev/null -d "host=$dir/run port=$port user=weak dbname=postgres" --database other --out "$out"
is "$RC" 5 "an admin without CREATEROLE fails"
like "$ERR" 'lacks CREATEROLE' "naming the missing privilege"
done_testing
