# Shared helpers for the TAP integration tests (sourced, bash).
#
#   plan N | done_testing       ok COND... DESC    is GOT WANT DESC
#   like TEXT REGEX DESC        unlike TEXT REGEX DESC
#   run CMD...                  sets OUT, ERR, RC (stdout, stderr, status)
#   need CMD [why]              a prerequisite: skip here, fail under CI=true
#   pg_start                    a throwaway PostgreSQL 15; exports PGHOST...
#   s3_start                    s3rver behind the strict SigV4 front
#   at_exit CMD                 cleanup run on exit, failed test or not
#   as_pg CMD...                run as the postgres OS user when we are root
#   PG_BINDIR, PGBOUNCER        PostgreSQL's programs and PgBouncer, found as pgp finds them
#
# Servers refuse to run as root (initdb, pg_ctl, pgbouncer): as root the
# helpers run them as "postgres" in short directories under /tmp that
# postgres owns (a unix socket path must stay under 107 bytes).
set -u
: "${PGP_BIN:?run through tests/run or make check}" "${PGP_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PGP_TESTBIN:=$PGP_SRC/build/obj/tests}"
PATH=$PGP_BIN:$PATH
# PostgreSQL's programs and PgBouncer, found by pgp's own locator
# (common/pgbin.c): PG_BINDIR when set, else Debian's directory of the
# newest version installed, else PATH; PgBouncer in /usr/sbin, else PATH.
pgp_locate() { "$PGP_TESTBIN/unit/test_pgbin" --find "$@" 2>/dev/null; }
if _found=$(pgp_locate initdb "${PG_BINDIR:-}"); then
	PG_BINDIR=${_found%/initdb}
else
	PG_BINDIR=${PG_BINDIR:-/nonexistent}
fi
PGBOUNCER=$(pgp_locate pgbouncer) || PGBOUNCER=
export PATH PG_BINDIR PGBOUNCER PGP_TESTBIN

_tap_n=0
_tap_failed=0
_cleanups=()

at_exit() { _cleanups+=("$*"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
	done
}
trap '_run_cleanups' EXIT
trap 'exit 130' INT TERM

plan() { echo "1..$1"; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; exit $?; }

_result() {
	local pass=$1; shift
	_tap_n=$((_tap_n + 1))
	if [ "$pass" = 1 ]; then
		echo "ok $_tap_n - $*"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $*"
	fi
}

# ok DESC -- CMD... : passes when CMD succeeds.  ok_cond "test-expression" DESC
ok() {
	local desc=$1; shift
	[ "${1:-}" = -- ] && shift
	if "$@"; then _result 1 "$desc"; else _result 0 "$desc"; fi
}
is() {
	if [ "$1" = "$2" ]; then _result 1 "$3"; else
		_result 0 "$3"; printf '#   got:  %s\n#   want: %s\n' "$1" "$2"; fi
}
like() {
	if printf '%s' "$1" | grep -qE -- "$2"; then _result 1 "$3"; else
		_result 0 "$3"; printf '#   %s\n' "$(printf '%s' "$1" | head -5)"; printf '#   does not match: %s\n' "$2"; fi
}
unlike() {
	if printf '%s' "$1" | grep -qE -- "$2"; then
		_result 0 "$3"; printf '#   matches: %s\n' "$2"; else _result 1 "$3"; fi
}
diag() { printf '# %s\n' "$*"; }

_run_out=$(mktemp /tmp/pgp-run.XXXXXX)
_run_err=$(mktemp /tmp/pgp-run.XXXXXX)
at_exit "rm -f '$_run_out' '$_run_err'"
run() {
	"$@" >"$_run_out" 2>"$_run_err"
	RC=$?
	OUT=$(cat "$_run_out")
	ERR=$(cat "$_run_err")
	return 0
}

# A missing prerequisite skips the whole file on a laptop; under CI it
# is a failure, never a silent pass.
need() {
	local cmd=$1 why=${2:-$1 is not installed}
	command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "not ok 1 - prerequisite missing under CI: $why"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # skip $why (run scripts/install-deps)"
	exit 0
}

is_root() { [ "$(id -u)" = 0 ]; }
as_pg() {
	if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# pg_start [initdb options...]: a throwaway cluster (scripts/pg-sandbox)
# on a unix socket in PGDIR, trust auth; stopped and removed on exit.
pg_start() {
	local env
	need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
	if is_root && ! id postgres >/dev/null 2>&1; then need no-postgres-user "the postgres OS user"; fi
	PGDIR=$(mktemp -d /tmp/pgpt.XXXXXX)
	at_exit "'$PGP_SRC/scripts/pg-sandbox' stop '$PGDIR'"
	if ! env=$("$PGP_SRC/scripts/pg-sandbox" start "$PGDIR" "" -- "$@" 2>&1); then
		printf '%s\n' "$env" | sed 's/^/# /'
		echo "Bail out! PostgreSQL did not start"
		exit 1
	fi
	PGPORT=${env##*PGPORT=}
	export PGHOST=$PGDIR PGPORT PGUSER=postgres PGDATABASE=postgres PGDIR
}

psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# s3_start: s3rver (npm, installed by scripts/install-deps into tests/.deps)
# on loopback, behind tests/s3-strict-proxy.py, which verifies SigV4, the
# payload hash and the 5 MiB part minimum as AWS does.  Exports
# S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_DATA.
s3_start() {
	local s3rver=$PGP_SRC/tests/.deps/node_modules/.bin/s3rver port proxy_port i
	need "$s3rver" "s3rver (npm)"
	need python3
	S3_DIR=$(mktemp -d /tmp/pgps3.XXXXXX)
	S3_DATA=$S3_DIR/data
	mkdir -p "$S3_DATA"
	port=$(free_port)
	proxy_port=$(free_port)
	S3_BUCKET=pgp-test
	# Node 20's OpenSSL 3 lacks the DES s3rver uses for list pagination.
	NODE_OPTIONS=--openssl-legacy-provider "$s3rver" -d "$S3_DATA" -a 127.0.0.1 -p "$port" \
		--configure-bucket "$S3_BUCKET" --silent >"$S3_DIR/s3rver.log" 2>&1 &
	S3RVER_PID=$!
	at_exit "kill $S3RVER_PID; rm -rf '$S3_DIR'"
	python3 "$PGP_SRC/tests/s3-strict-proxy.py" "$proxy_port" "$port" S3RVER S3RVER \
		>"$S3_DIR/proxy.log" 2>&1 &
	S3PROXY_PID=$!
	at_exit "kill $S3PROXY_PID"
	for i in $(seq 100); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null &&
		   (exec 3<>/dev/tcp/127.0.0.1/"$proxy_port") 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	export S3_ENDPOINT=http://127.0.0.1:$proxy_port S3_DIRECT=http://127.0.0.1:$port
	export S3_BUCKET S3_DATA S3_DIR S3PROXY_PID AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}

# Debian's awscli, never a pip one earlier in PATH.
aws_cli() { /usr/bin/aws --endpoint-url "$S3_ENDPOINT" "$@"; }

# json_get JSON PY-EXPR: evaluate EXPR on the parsed document d (python3).
json_get() {
	printf '%s' "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); v=$2; print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)" 2>&1
}

# A pgp-create cluster with data of every awkward kind, for backup tests:
# pgbench tables, jsonb, bytea, a large object, a table with RLS.
# Sets BDIR, BPORT, PGSERVICEFILE, PGPASSFILE; admin() runs psql as admin.
backup_fixture() {
	need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
	BDIR=$(mktemp -d /tmp/pgpk.XXXXXX)
	BPORT=$(free_port)
	at_exit "pgp-create -c /dev/null --local '$BDIR' --stop; rm -rf '$BDIR'"
	pgp-create -q -c /dev/null --local "$BDIR" --database shop --port "$BPORT" >/dev/null ||
		{ echo "Bail out! pgp-create failed"; exit 1; }
	export PGSERVICEFILE=$BDIR/pg_service.conf PGPASSFILE=$BDIR/pgpass
	ADMIN="host=$BDIR/run port=$BPORT user=postgres dbname=postgres"
	pgbench -q -i -s "${1:-1}" service=shop-migrator >/dev/null 2>&1 ||
		{ echo "Bail out! pgbench -i failed"; exit 1; }
	psql -X -q -v ON_ERROR_STOP=1 service=shop-migrator >/dev/null <<'SQL' || { echo "Bail out! fixture SQL failed"; exit 1; }
CREATE TABLE docs (id int PRIMARY KEY, body jsonb, raw bytea);
INSERT INTO docs SELECT g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)), decode(md5(g::text), 'hex')
  FROM generate_series(1, 5000) g;
SELECT lo_from_bytea(0, 'a large object');
CREATE TABLE tenant_docs (tenant int, body text);
ALTER TABLE tenant_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY per_tenant ON tenant_docs USING (tenant = current_setting('app.tenant', true)::int);
INSERT INTO tenant_docs VALUES (1, 'one'), (2, 'two'), (3, 'three');
SQL
	# A re-run gives the backup role BYPASSRLS now that RLS is used.
	pgp-create -q -c /dev/null --local "$BDIR" --database shop >/dev/null
}
admin() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$ADMIN" "$@"; }
