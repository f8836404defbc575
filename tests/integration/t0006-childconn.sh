#!/usr/bin/env bash
# A child program (pg_dump, pg_restore) connects through the service file
# libpgp writes for it: a password with awkward characters reaches the
# server though it is in neither the child's argv nor its environment, and
# a multi-host connection pins the child to the server we are on.
. "$(dirname "$0")/lib.sh"
tool=$PGP_TESTBIN/tools/childconn-run
pg_start

pw='p w#=x"q\'\''z\'
psql_q -c "CREATE ROLE pwuser LOGIN PASSWORD '$(printf '%s' "$pw" | sed "s/'/''/g")'" \
	-c "CREATE DATABASE target OWNER pwuser" -c "CREATE TABLE t(i int)"
# Password authentication for pwuser on the socket, trust for the rest.
hba=$PGDIR/data/pg_hba.conf
{ echo "local all pwuser scram-sha-256"; cat "$hba"; } >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new"
psql_q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
run env -u PGPASSWORD psql -X -w -d "user=pwuser dbname=target" -c "SELECT 1"
ok "pwuser needs its password" -- [ "$RC" != 0 ]

conninfo="host=$PGHOST port=$PGPORT user=pwuser dbname=postgres password='$(printf '%s' "$pw" | sed "s/[\\\\']/\\\\&/g")'"
run env -u PGUSER -u PGDATABASE -u PGHOST -u PGPORT PGPASSWORD=wrong "$tool" "$conninfo" target \
	/bin/sh -c 'sleep 0.3; exec "$@"' sh "$PG_BINDIR/psql" -X -A -t -d @CONN@ \
	-c "SELECT current_user || ' ' || current_database()"
is "$RC" 0 "the child connects through the service file"
is "$OUT" "pwuser target" "as the connection's user, to the database it was given"
like "$ERR" "password in argv: no, in environment: no" "with the password neither in its argv nor in its environment"

run env -u PGUSER -u PGDATABASE -u PGHOST -u PGPORT "$tool" "$conninfo" target \
	"$PG_BINDIR/pg_dump" --schema-only -d @CONN@
is "$RC" 0 "pg_dump runs on it"
like "$OUT" "PostgreSQL database dump" "and dumps"

run env -u PGUSER -u PGDATABASE "$tool" "host=/nonexistent-pgp,$PGHOST port=5999,$PGPORT user=postgres dbname=postgres" postgres \
	/bin/sh -c 'grep -E "^(host|port)=" "$PGSERVICEFILE"'
is "$RC" 0 "a multi-host connection"
is "$OUT" "host=$PGHOST
port=$PGPORT" "gives the child only the host it is connected to"

own_tmp=$(mktemp -d /tmp/pgpcc.XXXXXX)
at_exit "rm -rf '$own_tmp'"
run env TMPDIR="$own_tmp" "$tool" "host=$PGHOST port=$PGPORT dbname=postgres" postgres /bin/sh -c 'exit 0'
is "$(ls -A "$own_tmp" | wc -l)" 0 "no service file left behind (in a TMPDIR of its own: other runs cannot disturb it)"
done_testing
