#!/usr/bin/env bash
# pgp-create --pooler pgbouncer: Debian's PgBouncer on loopback in
# transaction mode, TLS both ways, auth_query for the application roles;
# the monitor role in stats_users and the auth file for pgp-alert.
# Local mode starts it; server mode writes its files and says how to.
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
need "$PGBOUNCER" "PgBouncer (Debian's pgbouncer)"
dir=$(mktemp -d /tmp/pgpb.XXXXXX)
port=$(free_port)
pport=$(free_port)
at_exit "pgp-create -c /dev/null --local '$dir' --stop; rm -rf '$dir'"
if is_root; then server_user=postgres; else server_user=$(id -un); fi

run pgp-create -c /dev/null --local "$dir" --database shop --port "$port" --pooler pgbouncer \
	--pooler-port "$pport" --format json
is "$RC" 0 "provisions with PgBouncer"
[ "$RC" = 0 ] || { diag "$ERR"; cat "$dir/pgbouncer/"*.log 2>/dev/null | sed 's/^/# /' | tail -20; }
is "$(json_get "$OUT" 'd["witness"]["via"]')" pgbouncer "the witness went through PgBouncer"
like "$(json_get "$OUT" 'd["witness"]["tls_version"]')" '^TLSv1\.[23]$' "over TLS"
like "$(json_get "$OUT" 'd["uris"]["app_pooler"]')" "127\.0\.0\.1:$pport/shop" "JSON names the pooled URI"

ini=$dir/pgbouncer/pgbouncer.ini
like "$(cat "$ini")" "pool_mode = transaction" "transaction pooling"
like "$(cat "$ini")" "server_tls_sslmode = verify-full" "TLS to the server, verified"
like "$(cat "$ini")" "auth_query = SELECT uname, phash FROM pgbouncer.user_lookup" "auth_query through the lookup function"
pool=$(sed -n 's/^default_pool_size = //p' "$ini")
maxdb=$(sed -n 's/^max_db_connections = //p' "$ini")
maxconn=$(psql -X -A -t "host=$dir/run port=$port dbname=postgres user=postgres" -c "SHOW max_connections")
reserve=$(sed -n 's/^reserve_pool_size = //p' "$ini")
ok "a pool and its reserve fit the database's cap ($pool + $reserve <= $maxdb)" -- \
	[ "$((pool + reserve))" -le "$maxdb" ]
ok "the cap leaves room for the reserved and direct connections ($maxdb < $maxconn - 3)" -- \
	[ "$maxdb" -lt "$((maxconn - 3))" ]
is "$(stat -c %a "$dir/pgbouncer/userlist.txt")" 600 "the auth file is 0600"
is "$(stat -c %U "$dir/pgbouncer/userlist.txt")" "$server_user" "owned by the user PgBouncer runs as ($server_user)"
like "$(cat "$dir/pgbouncer/userlist.txt")" '^"shop_pgbouncer" ' "it holds the auth user"
like "$(sed -n 2p "$dir/pgbouncer/userlist.txt")" '^"shop_monitor" "SCRAM-SHA-256\$4096:[^"]+"$' \
	"and the monitor role, as its SCRAM verifier"
unlike "$(cat "$dir/pgbouncer/userlist.txt")" "shop_app" "and not the app role"
like "$(cat "$ini")" "^stats_users = shop_pgbouncer, shop_monitor$" "the monitor is a stats user"
is "$(ps -o user= -p "$(cat "$dir/pgbouncer/pgbouncer.pid")")" "$server_user" "PgBouncer runs as $server_user, never root"

export PGSERVICEFILE=$dir/pg_service.conf PGPASSFILE=$dir/pgpass
psql -X -q "service=shop-migrator" -c "CREATE TABLE t (id int)" >/dev/null
run psql -X -q -A -t "service=shop-app-pooler" -c "INSERT INTO t VALUES (1)" -c "SELECT count(*) FROM t"
is "$OUT" 1 "the app role reads and writes through PgBouncer"

# Hold one client connection open and look for it in SHOW CLIENTS.
psql -X -q "service=shop-app-pooler" -c "SELECT pg_sleep(3)" >/dev/null 2>&1 &
holder=$!
sleep 1
authpw=$(sed -n 's/^"shop_pgbouncer" "\(.*\)"$/\1/p' "$dir/pgbouncer/userlist.txt")
run env PGPASSWORD="$authpw" psql -X -A -t "host=127.0.0.1 port=$pport dbname=pgbouncer user=shop_pgbouncer sslmode=require" -c "SHOW CLIENTS"
wait $holder
# SHOW CLIENTS rows start type|user|database|state.
like "$OUT" '^C[|]shop_app[|]shop[|]active[|]' "SHOW CLIENTS lists the app role's connection to shop"

# The monitor on the admin console, as pgp-alert talks to it: its password
# from the pgpass pgp-create wrote, SHOW POOLS, no hang.
run timeout 20 psql -X -A -t -h 127.0.0.1 -p "$pport" -U shop_monitor pgbouncer -c "SHOW POOLS"
is "$RC" 0 "the monitor logs in to PgBouncer's console with its pgpass password"
like "$OUT" '^shop[|]shop_app[|]' "and SHOW POOLS lists the app's pool"
run timeout 20 psql -X -A -t "service=shop-pgbouncer" -c "SHOW POOLS"
like "$OUT" '^shop[|]shop_app[|]' "service shop-pgbouncer is the console, as the monitor, over TLS"
run timeout 20 psql -X -A -t "service=shop-pgbouncer" -c "RELOAD"
like "$ERR" "admin access needed|not allowed" "a stats user may not run admin commands"
run timeout 20 pgp-alert -c /dev/null --no-state --pgbouncer "service=shop-pgbouncer"
is "$RC" 0 "pgp-alert checks PgBouncer as the monitor: OK"
like "$OUT" "'pgb_pool_cl_waiting:shop/shop_app'=0;" "with the app's pool"

userlist=$(cat "$dir/pgbouncer/userlist.txt")
run pgp-create -c /dev/null --local "$dir" --database shop --pooler pgbouncer --pooler-port "$pport"
like "$OUT" "no changes" "a second run changes nothing"
is "$(cat "$dir/pgbouncer/userlist.txt")" "$userlist" "and keeps the auth file as it was"
is "$(grep -c ':pgbouncer:shop_monitor:' "$dir/pgpass")" 1 "the console's pgpass line is not repeated"
run psql -X -A -t "service=shop-app-pooler" -c "SELECT 1"
is "$OUT" 1 "and the pooler still works"

# Server mode: PgBouncer's files and how to start it; the witness goes
# through it once it answers, directly (with a warning) until then.
obase=$(mktemp -d /tmp/pgpo.XXXXXX)
chmod 755 "$obase"
out=$obase/out			# pgp-create makes it, enterable by PgBouncer's user
sport=$(free_port)
at_exit "rm -rf '$obase'"
at_exit "[ -f '$out/pgbouncer/pgbouncer.pid' ] && kill \$(cat '$out/pgbouncer/pgbouncer.pid')"
# The operator's part on the server: the pg_hba line pgp-create prints.
sed -i "/^local .*peer map=pgp/a hostssl  srv  srv_migrator,srv_app,srv_readonly,srv_monitor,srv_backup,srv_pgbouncer  127.0.0.1/32  scram-sha-256" \
	"$dir/data/pg_hba.conf"
psql -X -q "host=$dir/run port=$port dbname=postgres user=postgres" -c "SELECT pg_reload_conf()" >/dev/null
srv() {
	pgp-create -c /dev/null -d "host=$dir/run port=$port user=postgres dbname=postgres" --database srv \
		--out "$out" --sslrootcert "$dir/tls/ca.crt" --pooler pgbouncer --pooler-port "$sport" "$@"
}
run srv --format json
is "$RC" 0 "server mode with --pooler and no PgBouncer running: exit 0"
[ "$RC" = 0 ] || diag "$ERR"
like "$ERR" "warning: PgBouncer does not answer on 127\.0\.0\.1:$sport: the pooled witness was skipped" \
	"with a warning that the pooled witness was skipped"
is "$(json_get "$OUT" 'd["witness"]["via"]')" direct "the witness connected directly"
sini=$out/pgbouncer/pgbouncer.ini
ok "pgbouncer.ini is written in --out" -- [ -s "$sini" ]
ok "and userlist.txt" -- [ -s "$out/pgbouncer/userlist.txt" ]
if is_root; then
	is "$(stat -c %a "$out")" 711 "--out DIR is made 0711: postgres enters it, lists nothing"
else
	is "$(stat -c %a "$out")" 700 "--out DIR is made 0700"
fi
like "$(cat "$sini")" "client_tls_cert_file = $out/pgbouncer/tls/server\.crt" "with a certificate of its own for clients"
unlike "$(cat "$sini")" "\(null\)" "and no unset path"
like "$(cat "$sini")" "^srv = host=127\.0\.0\.1 port=$port " \
	"an admin on the socket: PgBouncer goes to the server's listen address, not \"localhost\" (::1 first on a stock Debian)"
run srv
like "$OUT" "pgbouncer -d $sini" "the text output says how to start PgBouncer"
like "$OUT" "^srv: no changes" "a second run changes nothing"
as_pg "$PGBOUNCER" -d "$sini" >/dev/null 2>&1
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; }
for i in $(seq 200); do answers && break; sleep 0.05; done
run srv --format json
is "$RC" 0 "with PgBouncer started as printed"
[ "$RC" = 0 ] || diag "$ERR"
is "$(json_get "$OUT" 'd["witness"]["via"]')" pgbouncer "the witness goes through PgBouncer"
unlike "$ERR" "witness was skipped" "and no longer warns"
run env PGSERVICEFILE="$out/pg_service.conf" PGPASSFILE="$out/pgpass" psql -X -A -t "service=srv-app-pooler" -c "SELECT 1"
is "$OUT" 1 "the app role connects through it (verify-full with its CA)"
run env PGSERVICEFILE="$out/pg_service.conf" PGPASSFILE="$out/pgpass" timeout 20 psql -X -A -t "service=srv-pgbouncer" -c "SHOW POOLS"
like "$OUT" '^srv[|]srv_app[|]' "server mode: the monitor reads SHOW POOLS on the console too"
done_testing
