#!/usr/bin/env bash
# pgp-migrate-check's contract: usage errors before any work, --static with
# no server, the three formats (GitHub's escaping), the verdict and its exit
# status (--fail-on warn), an unreachable target (3), and a transaction
# pooler found in front of the server (real PgBouncer in transaction mode),
# where a session SET at the top of a migration does not carry over.
. "$(dirname "$0")/lib.sh"
need "$PGBOUNCER" "PgBouncer (Debian's pgbouncer)"
dir=$(mktemp -d /tmp/pgpmc.XXXXXX)
at_exit "rm -rf '$dir'"
mc() { pgp-migrate-check -c /dev/null "$@"; }

mkdir -p "$dir/safe" "$dir/unsafe" "$dir/empty"
cat >"$dir/safe/001_users.sql" <<'SQL'
-- a table, an index on it in the same file: nothing else can see them yet
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
CREATE INDEX users_email ON users (email);
SQL
# users exists already (not created by these files): an index on it blocks writes
cat >"$dir/unsafe/002_index.sql" <<'SQL'
SET lock_timeout = '2s';

CREATE INDEX users_email ON users (email);
SQL

# ---- usage: exit 2, one line, before anything is read
run mc --static -d "host=x"
is "$RC" 2 "--static with -d is a usage error"
like "$ERR" "--static reads no server" "saying why"
run mc --schema-only --row-limit 5 -d "host=x" "$dir/safe"
is "$RC:$OUT" "2:" "--schema-only with --row-limit: exit 2, no output"
run mc --static --pg-version 12 "$dir/safe"
is "$RC" 2 "--pg-version 12 is outside 13..18"
like "$ERR" '--pg-version "12" is not a PostgreSQL version 13 to 18' "naming the value"
run mc --static --pg-version 16.x "$dir/safe"
is "$RC" 2 "--pg-version 16.x is refused"
run mc --static --tool liquibase "$dir/safe"
is "$RC" 2 "an unknown --tool"
like "$ERR" '--tool "liquibase" is not one of plain, flyway' "listing the tools"
run mc "$dir/safe"
is "$RC" 2 "no server and no --static"
like "$ERR" "give -d CONNINFO or -t TARGET" "says what to give"
run mc --static "$dir/safe" "$dir/unsafe"
is "$RC" 2 "two directories"
run mc --static "$dir/nonexistent"
is "$RC" 2 "a directory that does not exist"
like "$ERR" "$dir/nonexistent" "is named"
run mc --static --fail-on sometimes "$dir/safe"
is "$RC" 2 "--fail-on takes fail or warn"
run mc --static --no-trace --row-limit 10 "$dir/safe"
is "$RC" 2 "copy options without a trace"
run mc --list-rules
is "$RC" 0 "--list-rules"
like "$OUT" "require-concurrent-index-creation" "lists squawk's rule names"

# ---- --static: the files and the rules, no server
run mc --static "$dir/safe"
is "$RC" 0 "a safe plain directory passes statically"
like "$OUT" "^pgp-migrate-check: PASS - plain, 1 migration" "the text report's first line"
run mc --static --format json "$dir/unsafe"
is "$RC" 1 "an index built without CONCURRENTLY on an existing table fails"
is "$(json_get "$OUT" 'd["verdict"]')" FAIL "verdict FAIL in JSON"
is "$(json_get "$OUT" 'd["tool"]')" plain "the tool is named"
is "$(json_get "$OUT" '[m["status"] for m in d["migrations"]]')" '["unknown"]' \
	"no server read: the status is unknown"
is "$(json_get "$OUT" '[(f["file"], f["line"]) for f in d["findings"] if f["rule"] == "require-concurrent-index-creation"]')" \
	'[["002_index.sql", 3]]' "the finding names file and line of the CREATE INDEX"
is "$(json_get "$OUT" 'd["server_version"]')" null "no server version"
run mc --static --format github "$dir/unsafe"
is "$RC" 1 "github format: the same exit"
like "$OUT" "::error file=$dir/unsafe/002_index.sql,line=3,title=pgp-migrate-check [a-z-]+ require-concurrent-index-creation::" \
	"an annotation with the file path from the repository root and the line"
like "$(printf '%s\n' "$OUT" | tail -1)" "^pgp-migrate-check: FAIL$" "then the verdict"

# A message with a newline, a percent and a colon survives GitHub's escaping.
mkdir -p "$dir/odd"
printf 'SELECT 1;\nSELEC 100%%;\n' >"$dir/odd/001_x.sql"
run mc --static --format github "$dir/odd"
like "$OUT" '^::error file=[^:]*001_x.sql,line=2,title=pgp-migrate-check parse[^:]*::' "a parse error is an annotation on its line"
unlike "$OUT" '100%[^2]' "a bare % in a message is escaped"

# WARN only: exit 0, or 1 with --fail-on warn.
mkdir -p "$dir/warn"
printf 'CREATE TABLE t (a bigint);\n' >"$dir/warn/001_t.sql"
printf 'ALTER TABLE t RENAME COLUMN a TO b;\n' >"$dir/warn/002_rename.sql"
run mc --static --format json "$dir/warn"
is "$RC:$(json_get "$OUT" 'd["verdict"]')" "0:WARN" "a rename is a WARN: exit 0"
run mc --static --fail-on warn "$dir/warn"
is "$RC" 1 "--fail-on warn: exit 1"
run mc --static -q "$dir/safe"
is "$RC:$OUT" "0:" "-q: nothing printed on PASS"
run mc --static -q "$dir/warn"
like "$OUT" "WARN" "-q still prints a WARN report"

# Flyway runs a migration whose statements all cannot run in a transaction
# without one, and refuses one that mixes both kinds.
mkdir -p "$dir/flyway"
printf 'CREATE TABLE t (a bigint);\n' >"$dir/flyway/V1__t.sql"
printf 'CREATE INDEX CONCURRENTLY t_a ON t (a);\n' >"$dir/flyway/V2__index.sql"
run mc --static --format json "$dir/flyway"
is "$RC:$(json_get "$OUT" '[f["kind"] for f in d["findings"] if f["severity"] == "error"]')" "0:[]" \
	"Flyway: a lone CREATE INDEX CONCURRENTLY runs outside a transaction"
printf 'CREATE TABLE u (a bigint);\nCREATE INDEX CONCURRENTLY u_a ON u (a);\n' >"$dir/flyway/V3__mixed.sql"
run mc --static --format json "$dir/flyway"
is "$RC:$(json_get "$OUT" '[(f["file"], f["line"]) for f in d["findings"] if f["kind"] == "transaction" and not f["rule"]]')" \
	'1:[["V3__mixed.sql", 2]]' "Flyway: a migration mixing both kinds is refused, at the first such statement"

# ---- a server
pg_start
conn="host=$PGHOST port=$PGPORT dbname=postgres user=postgres"
run mc -d "host=/nonexistent port=1 connect_timeout=2" --no-trace "$dir/safe"
is "$RC" 3 "an unreachable target: exit 3"
like "$ERR" "cannot connect to server" "saying so"
is "$OUT" "" "and no report pretending"
run mc -d "$conn" --no-trace --format json "$dir/safe"
is "$RC" 0 "a safe directory against a real server, no trace"
is "$(json_get "$OUT" 'd["server_version"] // 10000')" 15 "the server's version is read"
is "$(json_get "$OUT" '[m["status"] for m in d["migrations"]]')" '["pending"]' "plain files: all pending"

# The trace in the report: a table with an identity column, its index and
# a comment in one golang-migrate file lock nothing anyone else can see
# (the identity's sequence is new too); an ALTER of an existing table shows
# its lock, in the JSON and as a trace line of the text.
mkdir -p "$dir/gm"
psql_q -c "CREATE TABLE accounts (id bigint PRIMARY KEY)"
printf 'CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\nCREATE INDEX t_name ON t (name);\nCOMMENT ON TABLE t IS $$new$$;\n' \
	>"$dir/gm/001_t.up.sql"
printf 'DROP TABLE t;\n' >"$dir/gm/001_t.down.sql"
printf 'SET lock_timeout = $$1s$$;\nALTER TABLE accounts ADD COLUMN note text;\n' >"$dir/gm/002_note.up.sql"
printf 'SET lock_timeout = $$1s$$;\nALTER TABLE accounts DROP COLUMN note;\n' >"$dir/gm/002_note.down.sql"
run mc -d "$conn" --format json "$dir/gm"
is "$(json_get "$OUT" '[(f["file"], f["rule"]) for f in d["findings"] if f["file"] == "001_t.up.sql" and f["severity"] != "info"]')" "[]" \
	"a new table, its identity sequence and its index: no lock finding"
is "$(json_get "$OUT" '[l["mode"] for t in d["migrations"][1]["trace"] if t["file"] == "002_note.up.sql" and t["line"] == 2 for l in t["locks"] if l["relation"] == "public.accounts"]')" \
	'["AccessExclusiveLock"]' "the JSON trace has the ALTER's lock on the existing table"
is "$(json_get "$OUT" '[t["locks_known"] for t in d["migrations"][0]["trace"] if t["file"] == "001_t.up.sql"]')" '[true, true, true]' \
	"a multi-statement golang-migrate file runs in one transaction: its locks are seen"
run mc -d "$conn" "$dir/gm"
like "$OUT" "trace   002_note.up.sql:2 [0-9.]+ ms; AccessExclusiveLock public.accounts" "and a trace line in the text"
# A lone statement runs on its own, as golang-migrate sends it; where it
# does the same in a block, the trace wraps it to read its locks.
printf 'ALTER TABLE accounts ADD COLUMN flag boolean;\n' >"$dir/gm/003_flag.up.sql"
printf 'ALTER TABLE accounts DROP COLUMN flag;\n' >"$dir/gm/003_flag.down.sql"
printf 'CREATE INDEX CONCURRENTLY accounts_flag ON accounts (flag);\n' >"$dir/gm/004_flag_index.up.sql"
printf 'DROP INDEX CONCURRENTLY accounts_flag;\n' >"$dir/gm/004_flag_index.down.sql"
run mc -d "$conn" --format json "$dir/gm"
is "$(json_get "$OUT" '[(t["locks_known"], [l["mode"] for l in t["locks"]]) for t in d["migrations"][2]["trace"] if t["file"] == "003_flag.up.sql"]')" \
	'[[true, ["AccessExclusiveLock"]]]' "a lone ALTER: its lock is read inside a block of the trace's own"
is "$(json_get "$OUT" '[t["locks_known"] for t in d["migrations"][3]["trace"] if t["file"] == "004_flag_index.up.sql"]')" \
	'[false]' "a lone CREATE INDEX CONCURRENTLY runs outside any block: its locks are the static table's"
is "$(json_get "$OUT" '[f["rule"] for f in d["findings"] if f["file"] == "004_flag_index.up.sql" and f["severity"] == "error"]')" \
	'[]' "and it is no error"

# ---- a transaction pooler in front: real PgBouncer, transaction mode
bdir=$(mktemp -d /tmp/pgpmb.XXXXXX)
bport=$(free_port)
printf '"postgres" ""\n' >"$bdir/userlist.txt"
cat >"$bdir/pgbouncer.ini" <<INI
[databases]
postgres = host=$PGHOST port=$PGPORT dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $bdir/userlist.txt
pool_mode = transaction
ignore_startup_parameters = extra_float_digits
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
INI
is_root && chown -R postgres: "$bdir"
at_exit "kill \$(cat '$bdir/pgbouncer.pid' 2>/dev/null) 2>/dev/null; rm -rf '$bdir'"
as_pg "$PGBOUNCER" -d "$bdir/pgbouncer.ini" >/dev/null 2>&1 || { echo "Bail out! PgBouncer did not start"; exit 1; }
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$bport") 2>/dev/null && break; sleep 0.1; done
pooled="host=127.0.0.1 port=$bport dbname=postgres user=postgres sslmode=disable"
run mc -d "$pooled" --no-trace --format json "$dir/unsafe"
is "$(json_get "$OUT" '[f["kind"] for f in d["findings"] if "pooler sits in between" in f["message"]]')" '["pooler"]' \
	"the pooler is found: the port reached is not the server's"
is "$(json_get "$OUT" 'sorted({f["rule"] for f in d["findings"] if f["kind"] == "pooler" and f["rule"]})')" \
	'["pooler-session-set"]' "the session SET at the top of the file is a pooler finding"
run mc -d "$conn" --no-trace --format json "$dir/unsafe"
is "$(json_get "$OUT" '[f for f in d["findings"] if f["kind"] == "pooler"]')" "[]" "directly: no pooler finding"
run mc -d "$conn" --no-trace --pooler transaction --format json "$dir/unsafe"
is "$(json_get "$OUT" 'len([f for f in d["findings"] if f["rule"] == "pooler-session-set"])')" 1 \
	"--pooler transaction says so without a pooler in front"
run mc -d "$pooled" --no-trace --pooler none --format json "$dir/unsafe"
is "$(json_get "$OUT" '[f for f in d["findings"] if f["kind"] == "pooler"]')" "[]" "--pooler none: no detection, no finding"

# The application's own SQL through the pooler: --app-dir.
mkdir -p "$dir/app/queries"
printf 'LISTEN jobs;\nSELECT pg_advisory_lock(42);\nSELECT pg_advisory_xact_lock(42);\n' >"$dir/app/queries/jobs.sql"
run mc --static --app-dir "$dir/app" --format json "$dir/safe"
is "$(json_get "$OUT" 'sorted((f["rule"], f["line"]) for f in d["findings"] if f["kind"] == "pooler")')" \
	'[["pooler-advisory-lock", 2], ["pooler-listen", 1]]' \
	"LISTEN and a session advisory lock in the app's SQL; the xact lock is fine"
run mc --static --app-dir "$dir/app" --format github "$dir/safe"
like "$OUT" "::warning file=$dir/app/queries/jobs.sql,line=1," "an app file's annotation names it under --app-dir, not the migrations"
run mc --list-rules --format json
is "$(json_get "$OUT" 'len([r for r in d if r["rule"] and r["kind"] and r["advice"]])')" \
	"$(mc --list-rules | tail -n +2 | wc -l)" "--list-rules --format json: every rule, with its kind and advice"
run mc --from-backup -d "$conn" "$dir/safe"
is "$RC" 2 "--from-backup without backup.repo is a configuration error"
like "$ERR" "set backup.repo" "saying what to set"
done_testing
