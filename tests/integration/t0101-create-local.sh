#!/usr/bin/env bash
# pgp-create --local against a real PostgreSQL 15: the directory and its
# parents, the role layout, the privileges it promises, TLS and pg_hba,
# secrets kept out of the server log, idempotency, the backup role, what
# the monitor role may read for pgp-alert (sequences, pgstattuple), UUID
# v7, and bad input.  As root the server runs as postgres, else as us.
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
base=$(mktemp -d /tmp/pgpc.XXXXXX)
dir=$base/new/cluster		# its parents do not exist yet
port=$(free_port)
at_exit "rm -rf '$base'"
at_exit "pgp-create -c /dev/null --local '$dir' --stop"
create() { pgp-create -c /dev/null --local "$dir" --database shop "$@"; }
if is_root; then server_user=postgres; else server_user=$(id -un); fi

# Before anything is written: the server's OS user must reach DIR.
if is_root; then
	run create --port "$port"
	is "$RC" 2 "as root, a directory postgres cannot reach is refused"
	like "$ERR" "postgres cannot reach \"$dir\": \"$base\" is 0700 and belongs to root" "naming the directory in the way"
	like "$ERR" "hint: choose a directory outside \"$base\"" "and the way out"
else
	mkdir "$base/ro" && chmod 555 "$base/ro"
	run pgp-create -c /dev/null --local "$base/ro/cluster" --database shop --port "$port"
	is "$RC" 2 "a directory we cannot write in is refused"
	like "$ERR" "\"$base/ro\" is 0555" "naming the directory in the way"
	chmod 755 "$base/ro"
	rmdir "$base/ro"
fi
is "$(ls -A "$base")" "" "and nothing is left behind"
chmod 755 "$base"
run env PG_BINDIR=/nonexistent pgp-create -c /dev/null --local "$dir" --database shop --port "$port"
is "$RC" 5 "no PostgreSQL programs: an error"
like "$ERR" "cannot find pg_ctl in /nonexistent, the configured directory" "naming what was looked for and where"
is "$(ls -A "$base")" "" "before anything is written"
run create --port "$port" --dry-run
is "$RC" 0 "--dry-run on a new directory"
like "$OUT" "would create $dir" "says it would create it"
is "$(ls -A "$base")" "" "and creates nothing"
run pgp-create -c /dev/null --local "$dir" --status
is "$RC" 3 "--status of a directory that does not exist: exit 3"
like "$OUT" "no cluster" "no cluster"
is "$(ls -A "$base")" "" "and it is not made"

run create --port "$port" --extension pgcrypto --format json
is "$RC" 0 "first run provisions a local cluster"
[ "$RC" = 0 ] || diag "$ERR"
unlike "$ERR" "error:" "the first run prints no error"
is "$(json_get "$OUT" 'd["changed"]')" true "JSON: changed is true"
is "$(json_get "$OUT" 'd["witness"]["ok"]')" true "JSON: the witness connected"
like "$(json_get "$OUT" 'd["witness"]["tls_version"]')" '^TLSv1\.[23]$' "JSON: the witness used TLS 1.2+"
is "$(json_get "$OUT" 'd["services"]["app"]')" shop-app "JSON: app service name"
is "$(json_get "$OUT" 'd["roles"]["owner"]')" shop_owner "JSON: owner role name"
is "$(json_get "$OUT" 'd["passfile"]')" "$dir/pgpass" "JSON: absolute passfile"
unlike "$OUT" "$(cut -d: -f5 "$dir/pgpass" | head -1)" "no password in the output"
is "$(stat -c %a "$dir/pgpass")" 600 "pgpass is 0600"
is "$(stat -c %a "$dir/tls/server.key")" 600 "server key is 0600"
is "$(stat -c %U "$dir/tls/server.key")" "$server_user" "server key belongs to the server's OS user ($server_user)"
is "$(stat -c %a "$base/new")" 755 "a missing parent is made 0755"
is "$(stat -c %a "$dir")" 755 "DIR is made 0755 (the server's user enters it)"
is "$(stat -c %a "$dir/tls/ca.key")" 600 "CA key is 0600"

export PGSERVICEFILE=$dir/pg_service.conf PGPASSFILE=$dir/pgpass
admin() { psql -X -q -A -t -v ON_ERROR_STOP=1 "service=shop-admin" "$@"; }
as() { local who=$1; shift; psql -X -q -A -t -v ON_ERROR_STOP=1 "service=shop-$who" "$@"; }

# Privileges promised by the layout.
run as migrator -c "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
                    CREATE TABLE notes (id bigserial PRIMARY KEY, body text)"
is "$RC" 0 "the migrator creates tables"
is "$(admin -c "SELECT tableowner FROM pg_tables WHERE tablename = 'items'")" shop_owner "tables belong to the owner group"
run as app -c "INSERT INTO items (v) VALUES ('a'), ('b'); INSERT INTO notes (body) VALUES ('n');
               UPDATE items SET v = 'c' WHERE v = 'b'; DELETE FROM items WHERE v = 'a'; SELECT count(*) FROM items"
is "$OUT" 1 "app reads and writes tables the migrator created later"
run as readonly -c "SELECT count(*) FROM items"
is "$OUT" 1 "readonly reads them"
run as readonly -c "INSERT INTO items (v) VALUES ('x')"
like "$ERR" "read-only transaction" "readonly cannot write"
run as app -c "CREATE TABLE mine (x int)"
like "$ERR" "permission denied for schema public" "app cannot create tables"
run as app -c "CREATE SCHEMA own"
like "$ERR" "permission denied for database" "app cannot create schemas"
run as readonly -c "BEGIN READ WRITE; CREATE TABLE public.mine (x int); COMMIT"
like "$ERR" "permission denied for schema public" "readonly cannot create tables, even in a read-write transaction"
run as monitor -c "SELECT count(*) >= 1 FROM pg_stat_activity"
is "$OUT" t "monitor reads pg_stat_activity"
run as monitor -c "SELECT * FROM public.items"
like "$ERR" "permission denied" "monitor cannot read application data"
# What pgp-alert reads as the monitor: how far each sequence has gone (by
# oid: it has no USAGE on the schema), and pgstattuple for bloat.
seq_oid() { admin -c "SELECT 'public.$1'::regclass::oid"; }
run as monitor -c "SELECT pg_sequence_last_value($(seq_oid notes_id_seq)), pg_sequence_last_value($(seq_oid items_id_seq))"
is "$RC:$OUT" "0:1|2" "monitor reads sequences the migrator made after pgp-create ran (default privileges)"
run as monitor -c "SELECT nextval($(seq_oid notes_id_seq))"
like "$ERR" "permission denied for sequence notes_id_seq" "but cannot advance them"
is "$(admin -c "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'pgstattuple'")" extensions \
	"pgstattuple is created in the extensions schema"
run as monitor -c "SELECT table_len > 0 FROM extensions.pgstattuple_approx($(admin -c "SELECT 'public.items'::regclass::oid"))"
is "$RC:$OUT" "0:t" "monitor (pg_monitor) runs pgstattuple_approx, as pgp-alert's bloat check does"
is "$(admin -c "SELECT rolconfig::text FROM pg_roles WHERE rolname = 'shop_app'")" \
   "{statement_timeout=30s,lock_timeout=5s,idle_in_transaction_session_timeout=60s}" "app has role-level timeouts"
is "$(admin -c "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'shop_app'")" 50 "app has a connection limit"

# A login role with no grants cannot connect.
admin -c "CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw'"
is "$(admin -c "SELECT has_database_privilege('outsider', 'shop', 'CONNECT')")" f "PUBLIC has no CONNECT on the database"
run env PGPASSWORD=outsider-pw psql -X "host=127.0.0.1 port=$port dbname=shop user=outsider sslmode=verify-full sslrootcert=$dir/tls/ca.crt" -c "SELECT 1"
ok "a role with no grants cannot connect" -- [ "$RC" != 0 ]
like "$ERR" "no pg_hba.conf entry|rejects connection|permission denied for database" "refused by pg_hba or CONNECT"

# TLS and pg_hba.
pw=$(grep ':shop_app:' "$dir/pgpass" | cut -d: -f5)
run env PGPASSWORD="$pw" psql -X "host=127.0.0.1 port=$port dbname=shop user=shop_app sslmode=disable" -c "SELECT 1"
ok "non-TLS TCP is refused" -- [ "$RC" != 0 ]
like "$ERR" "no encryption" "with pg_hba's \"no encryption\" message"
run env PGPASSWORD="$pw" psql -X -A -t "host=127.0.0.1 port=$port dbname=shop user=shop_app sslmode=verify-full sslrootcert=$dir/tls/ca.crt" -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
is "$OUT" t "the same role and password over TLS connect (verify-full with the generated CA)"
run env PGPASSWORD="$pw" psql -X "host=localhost port=$port dbname=shop user=shop_app sslmode=verify-full sslrootcert=/etc/ssl/certs/ca-certificates.crt" -c "SELECT 1"
like "$ERR" "certificate verify failed" "another CA does not verify the server"
like "$(cat "$dir/data/pg_hba.conf")" "hostnossl +all +all +0\.0\.0\.0/0 +reject" "pg_hba rejects everything else"
is "$(admin -c "SHOW log_connections")" on "log_connections on"
is "$(admin -c "SHOW ssl_min_protocol_version")" TLSv1.2 "TLS 1.2 minimum"
is "$(admin -c "SHOW data_checksums")" on "data checksums on"

# Idempotency: a second run changes nothing and keeps the passwords.
hashes=$(admin -c "SELECT string_agg(rolname || rolpassword, ',' ORDER BY rolname) FROM pg_authid WHERE rolname LIKE 'shop%'")
run create --extension pgcrypto --format json
is "$(json_get "$OUT" 'd["changed"]')" false "second run: changed is false"
is "$(admin -c "SELECT string_agg(rolname || rolpassword, ',' ORDER BY rolname) FROM pg_authid WHERE rolname LIKE 'shop%'")" "$hashes" \
   "second run leaves the password hashes unchanged"
run as app -c "SELECT 1"
is "$OUT" 1 "the first run's passwords still log in"
run create --extension pgcrypto
like "$OUT" "no changes" "text output says no changes"
is "$(printf '%s\n' "$OUT" | tail -1)" "export PGSERVICEFILE=$dir/pg_service.conf PGPASSFILE=$dir/pgpass" \
	"the human output ends with the export line"

# UUID v7 below PostgreSQL 18.
run as app -c "WITH u AS (SELECT g, public.uuid_generate_v7() AS id FROM generate_series(1, 10000) g)
  SELECT count(*) FILTER (WHERE substr(id::text, 15, 1) <> '7') || ' ' ||
         count(*) FILTER (WHERE substr(id::text, 20, 1) NOT IN ('8', '9', 'a', 'b')) || ' ' ||
         (SELECT count(*) FROM (SELECT id < lag(id) OVER (ORDER BY g) AS back FROM u) x WHERE back) || ' ' ||
         count(DISTINCT id) FROM u"
is "$OUT" "0 0 0 10000" "10,000 UUIDs: version 7, variant 10, in creation order, distinct"
run as app -c "SELECT abs(extract(epoch FROM clock_timestamp()) * 1000 -
  ('x' || substr(replace(public.uuid_generate_v7()::text, '-', ''), 1, 12))::bit(48)::bigint) < 1000"
is "$OUT" t "the UUID carries the current time in ms"

# A sequence that was there before (no default privileges for it): the
# next run grants the monitor SELECT on it.
admin -c "CREATE SEQUENCE public.legacy_seq; ALTER SEQUENCE public.legacy_seq OWNER TO shop_owner;
          SELECT setval('public.legacy_seq', 42)" >/dev/null
run as monitor -c "SELECT pg_sequence_last_value($(seq_oid legacy_seq))"
like "$ERR" "permission denied for sequence legacy_seq" "a sequence made outside the default privileges is not readable yet"
# The backup role dumps large objects and a table with row-level security.
as migrator -c "SELECT lo_from_bytea(0, 'large object payload');
                CREATE TABLE tenant_docs (tenant int, body text);
                ALTER TABLE tenant_docs ENABLE ROW LEVEL SECURITY;
                CREATE POLICY per_tenant ON tenant_docs USING (tenant = current_setting('app.tenant', true)::int);
                INSERT INTO tenant_docs VALUES (1, 'one'), (2, 'two')" >/dev/null
run create --extension pgcrypto
is "$RC" 0 "a run after RLS appears"
is "$(admin -c "SELECT rolbypassrls FROM pg_roles WHERE rolname = 'shop_backup'")" t "backup gets BYPASSRLS once RLS is used"
run as monitor -c "SELECT pg_sequence_last_value($(seq_oid legacy_seq))"
is "$RC:$OUT" "0:42" "and the monitor reads the sequence made before that run"
run pg_dump "service=shop-backup" --role=shop_owner -Fc -f "$dir/dump.fc"
is "$RC" 0 "the backup role dumps the database (pg_dump --role)"
[ "$RC" = 0 ] || diag "$ERR"
like "$(pg_restore -l "$dir/dump.fc")" "BLOB" "the dump holds the large object"
like "$(pg_restore -a -t tenant_docs -f - "$dir/dump.fc")" "2	two" "the dump holds every row of the RLS table"

# Secrets never reach the server log, even with log_statement = all.
admin -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
run create --rotate-passwords --extension pgcrypto
is "$RC" 0 "--rotate-passwords sets new passwords"
is "$(stat -c %a "$dir/pgpass")" 600 "the rewritten pgpass is 0600"
run as app -c "SELECT 1"
is "$OUT" 1 "the rotated password logs in"
log=$(cat "$dir/log/postgresql.log")
like "$log" 'PASSWORD .SCRAM-SHA-256\$' "the server log holds SCRAM verifiers"
leaked=0
for p in $(cut -d: -f5 "$dir/pgpass"); do
	case "$log" in *"$p"*) leaked=1 ;; esac
done
is "$leaked" 0 "no password from the pgpass appears in the server log"
admin -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null

# An interrupted run (pgpass written, server not yet told) completes next time.
admin -c "ALTER ROLE shop_readonly PASSWORD 'not-what-pgpass-says'" >/dev/null
run create --extension pgcrypto --format json
is "$(json_get "$OUT" 'd["changed"]')" true "a password that drifted from the pgpass is set again"
run as readonly -c "SELECT 1"
is "$OUT" 1 "and the pgpass password works again"

# A role whose password nobody recorded: an error unless rotating.
cp "$dir/pgpass" "$dir/pgpass.keep"
grep -v ':shop_monitor:' "$dir/pgpass.keep" >"$dir/pgpass"
run create --extension pgcrypto
is "$RC" 5 "an existing role missing from the pgpass is an error"
like "$ERR" 'role "shop_monitor" exists, but .* has no password' "naming the role"
like "$ERR" "rotate-passwords" "and the way out"
cp "$dir/pgpass.keep" "$dir/pgpass"

# --dry-run prints the SQL and changes nothing.
before=$(admin -c "SELECT count(*) FROM pg_roles")
run create --dry-run --extension pgcrypto --extension citext
is "$RC" 0 "--dry-run succeeds"
like "$OUT" 'CREATE EXTENSION IF NOT EXISTS "citext"' "and prints the SQL it would run"
like "$OUT" "PASSWORD|GRANT" "including role statements"
unlike "$OUT" "$(cut -d: -f5 "$dir/pgpass" | head -1)" "with no password in it"
is "$(admin -c "SELECT count(*) FROM pg_extension WHERE extname = 'citext'")" 0 "without running it"
is "$(admin -c "SELECT count(*) FROM pg_roles")" "$before" "no role changed"

# Extensions: a missing one is an error naming its package, unless optional.
run create --extension vector
ok "a missing extension fails" -- [ "$RC" != 0 ]
like "$ERR" 'extension "vector" is not available' "naming the extension"
like "$ERR" "pgvector is not packaged for PostgreSQL 15 in Debian 12" "and how to get it"
run create --extension pgcrypto --optional-extension vector
is "$RC" 0 "an optional missing extension is only a warning"
like "$ERR" 'optional extension "vector" is not available' "which says so"

# Bad input.
run pgp-create -c /dev/null --local "$dir" --database 'Shop;DROP'
is "$RC" 2 "an invalid database name is a usage error"
like "$ERR" "invalid database name" "and says why"
run pgp-create -c /dev/null -d "host=127.0.0.1 port=$(free_port) dbname=postgres" --database shop
is "$RC" 3 "an unreachable server: exit 3"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "in one line"
run pgp-create -c /dev/null --local "$dir" -d "dbname=x" --database shop
is "$RC" 2 "--local with -d is a usage error"

# Passwords from the operator's files.
printf 'operator-chosen-secret-123\n' >"$dir/ro.pw"
chmod 600 "$dir/ro.pw"
run create --extension pgcrypto --password-file readonly="$dir/ro.pw"
is "$RC" 0 "--password-file sets a role's password from a file"
is "$(grep ':shop_readonly:' "$dir/pgpass" | cut -d: -f5)" operator-chosen-secret-123 "the pgpass holds it"
run env PGPASSWORD=operator-chosen-secret-123 psql -X -A -t "host=127.0.0.1 port=$port dbname=shop user=shop_readonly sslmode=verify-full sslrootcert=$dir/tls/ca.crt" -c "SELECT 1"
is "$OUT" 1 "and it logs in"
unlike "$OUT$ERR" "operator-chosen" "without being printed"

# Preloaded extensions, pgaudit, and role settings from the config.
printf 'create = { app_connection_limit = 7; statement_timeout = "12s"; };\n' >"$dir/create.conf"
run pgp-create -c "$dir/create.conf" --local "$dir" --database shop --extension pgcrypto \
	--extension pg_stat_statements --audit
is "$RC" 0 "pg_stat_statements and --audit in local mode"
[ "$RC" = 0 ] || diag "$ERR"
like "$(admin -c "SHOW shared_preload_libraries")" "pg_stat_statements,pgaudit" "both are preloaded (restart done)"
is "$(admin -c "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname IN ('pg_stat_statements', 'pgaudit')")" \
	"pg_stat_statements,pgaudit" "both extensions exist"
is "$(admin -c "SHOW pgaudit.log")" "ddl,role" "pgaudit logs DDL and role changes"
is "$(admin -c "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'shop_app'")" 7 "connection limit from the config"
like "$(admin -c "SELECT rolconfig::text FROM pg_roles WHERE rolname = 'shop_app'")" "statement_timeout=12s" "statement_timeout from the config"
run pgp-create -c "$dir/create.conf" --local "$dir" --database shop --extension pgcrypto \
	--extension pg_stat_statements --audit --rotate-passwords
like "$(cat "$dir/log/postgresql.log")" 'AUDIT: SESSION,.*ROLE,ALTER ROLE' "pgaudit records the role changes"

# --status and --stop; pg_ctl found without PG_BINDIR or PATH's help, as
# pgp finds it (the data directory's version in Debian's directories).
run env -u PG_BINDIR PATH=/usr/bin:/bin "$PGP_BIN/pgp-create" -c /dev/null --local "$dir" --status
is "$RC" 0 "--status: running (pg_ctl found by the server's version)"
[ "$RC" = 0 ] || diag "$ERR"
run pgp-create -c /dev/null --local "$dir" --stop
is "$RC" 0 "--stop"
run pgp-create -c /dev/null --local "$dir" --status
is "$RC" 3 "--status after --stop: not running (exit 3)"
done_testing
