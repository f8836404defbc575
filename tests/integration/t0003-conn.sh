#!/usr/bin/env bash
# Connections against a real PostgreSQL 15: application_name, empty
# search_path, targets with their service and password files, quoting of
# hostile strings, and clear, bounded failures when a server is away.
. "$(dirname "$0")/lib.sh"
probe=$PGP_TESTBIN/tools/conn-probe
pg_start

run "$probe" -c /dev/null -d "dbname=postgres"
is "$RC" 0 "connects with -d"
like "$OUT" "application_name=conn-probe" "application_name is the program name"
like "$OUT" "search_path=$" "search_path is empty"

run "$probe" -c /dev/null -d "postgresql:///postgres?host=$PGHOST&port=$PGPORT&application_name=mine"
like "$OUT" "application_name=mine" "a URI works, and may set its own application_name"
run env PGAPPNAME=fromenv "$probe" -c /dev/null -d "host=$PGHOST port=$PGPORT dbname=postgres"
like "$OUT" "application_name=fromenv" "a user's PGAPPNAME wins over the program's name (a fallback)"

psql_q -c "CREATE DATABASE other" -c "CREATE ROLE svc_user LOGIN PASSWORD 'pw'"
run "$probe" -c /dev/null -d "dbname=postgres" --database other
like "$OUT" "database=other" "--database overrides the connection's database"

# A target with its own pg_service.conf (libpq 15 has no conninfo key for it).
dir=$(mktemp -d /tmp/pgpconn.XXXXXX)
at_exit "rm -rf '$dir'"
cat >"$dir/pg_service.conf" <<SVC
[app-admin]
host=$PGHOST
port=$PGPORT
dbname=other
user=svc_user
SVC
cat >"$dir/pgp.conf" <<CONF
targets = {
  prod = { conninfo = "service=app-admin"; service_file = "$dir/pg_service.conf"; passfile = "$dir/pgpass"; };
};
alert = { target = "prod"; };
CONF
: >"$dir/pgpass"; chmod 600 "$dir/pgpass"
run env -u PGUSER -u PGDATABASE "$probe" -c "$dir/pgp.conf" -t prod
is "$RC" 0 "connects through a target's service file"
like "$OUT" "user=svc_user" "the service's user is used"
like "$OUT" "database=other" "the service's database is used"
run env -u PGUSER -u PGDATABASE "$probe" -c "$dir/pgp.conf"
like "$OUT" "database=other" "the program's default target (alert.target) applies without -t"
run "$probe" -c "$dir/pgp.conf" -t staging
is "$RC" 2 "an unknown target is a usage error"
like "$ERR" 'no target "staging"' "the unknown target is named"
like "$ERR" 'known targets: prod' "the known targets are listed"

# Hostile strings come back unchanged through %L and %I.
run "$probe" -c /dev/null -d "dbname=postgres" "it's" 'a"b; DROP TABLE x; --' 'back\slash' 'ünï €' "$(printf 'tab\there')"
is "$RC" 0 "hostile strings quoted"
is "$(printf '%s\n' "$OUT" | grep -c 'roundtrip same')" 5 "all five come back the same"

# Unreachable: one line naming host and port, exit 3.
port=$(free_port)
run "$probe" -c /dev/null -d "host=127.0.0.1 port=$port dbname=x"
is "$RC" 3 "refused connection: exit 3"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "one line on stderr"
like "$ERR" "cannot connect to server 127\.0\.0\.1:$port: Connection refused" "names host and port and the reason"

# A server that accepts TCP but never answers: connect_timeout, no hang.
port=$(free_port)
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(5)
conns = []
end = time.time() + 30
while time.time() < end:
    s.settimeout(1)
    try: conns.append(s.accept()[0])
    except OSError: pass
" &
blackhole=$!
at_exit "kill $blackhole"
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
start=$(date +%s)
printf 'connection = { connect_timeout = 2; };\n' >"$dir/timeout.conf"
run "$probe" -c "$dir/timeout.conf" -d "host=127.0.0.1 port=$port dbname=x sslmode=disable"
elapsed=$(( $(date +%s) - start ))
is "$RC" 3 "silent server: exit 3"
like "$ERR" "127\.0\.0\.1:$port: timeout expired" "says the timeout expired"
# Not a timing assertion: only proof it did not wait forever (limit 30 s).
ok "returned before the silent server gave up (took ${elapsed}s, connect_timeout 2)" -- [ "$elapsed" -lt 25 ]

run "$probe" -c /dev/null -d "host=/nonexistent-socket-dir dbname=x"
is "$RC" 3 "missing socket: exit 3"
like "$ERR" "/nonexistent-socket-dir" "names the socket directory"

# Without "=" or a URI prefix the string is a database name, as for psql.
run "$probe" -c /dev/null -d "this is not a conninfo"
is "$RC" 3 "a string without \"=\" is a database name: the server says no, exit 3"
like "$ERR" 'database "this is not a conninfo" does not exist' "and the server's reason is shown"

# A -d libpq cannot parse is a usage error (pgp-alert: UNKNOWN) in every
# program, found before any connection: one line with libpq's reason,
# never the password of the string.
bad_d() {
	local d=$1 reason=$2 prog want
	for prog in conn-probe pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check; do
		want=2
		case $prog in
		conn-probe) prog=$probe; set -- ;;
		pgp-create) set -- --database shop ;;
		pgp-backup) set -- list --repo "$dir/repo" ;;
		pgp-alert) set --; want=3 ;;
		*) set -- ;;
		esac
		run "$prog" -c /dev/null -d "$d" "$@"
		is "$RC" "$want" "${prog##*/} -d \"$d\": exit $want"
		is "$ERR" "${prog##*/}: error: invalid connection string (-d): $reason" "${prog##*/}: one line with libpq's reason"
		unlike "$OUT$ERR" 'hunter2|hunt%zz|cannot connect' "${prog##*/}: no secret, no connection attempt"
	done
}
bad_d 'bogus=1' 'invalid connection option "bogus"'
bad_d "host='unterminated" 'unterminated quoted string in connection info string'
bad_d 'postgresql://u:hunter2@h/db?bogus=1' 'invalid URI query parameter: "bogus"'
bad_d 'postgresql://u:hunt%zzer2@h/db' 'invalid percent-encoded token: "***"'
bad_d 'host=h password=hunter2 2' 'missing "=" after "***" in connection info string'
done_testing
