#!/usr/bin/env bash
# pgp-migrate-check under bad input and a broken machine: migration files
# that are FIFOs, directories, dangling links, unreadable, binary, NUL,
# BOM, CRLF, invalid UTF-8, 20 MB, empty or unterminated; odd names and
# directories; broken tool metadata (a Drizzle journal, a sqitch plan,
# dbmate directives, Flyway and golang-migrate versions, a Prisma folder);
# bookkeeping tables with foreign contents; a closed or full stdout; bad
# option values.  Then a real PostgreSQL 15: a statement_timeout on the
# copy, a server that accepts TCP and never answers (as target and as
# --scratch), SIGHUP and SIGINT while pg_dump | pg_restore run and during
# the trace (children gone, copy dropped), a lock held on the bookkeeping
# table, statements on roles and databases (not run on the copy, which
# shares them with the target), a password never shown, and the
# server dying in the middle of a migration.  Each fault has its
# counterpart that must keep working.
. "$(dirname "$0")/lib.sh"
need python3
W=$(mktemp -d /tmp/pgpmf.XXXXXX)
chmod 755 "$W"
at_exit "rm -rf '$W'"
mc() { timeout 60 pgp-migrate-check -c /dev/null "$@"; }
q() { json_get "$OUT" "$1"; }
mkd() { for d in "$@"; do rm -rf "${W:?}/$d"; mkdir -p "$W/$d"; done; }
ok_sql='CREATE TABLE a (id bigint);'

# ---- files that are not regular files
mkd fifo
echo "$ok_sql" >"$W/fifo/001_a.sql"
mkfifo "$W/fifo/002_b.sql"
run mc --static "$W/fifo"
is "$RC" 2 "a FIFO named like a migration: exit 2, no hang"
like "$ERR" "002_b.sql: it is a FIFO" "naming the file and what it is"
rm "$W/fifo/002_b.sql"
echo "$ok_sql" >"$W/fifo/002_b.sql"
run mc --static "$W/fifo"
is "$RC" 0 "the same directory with a regular file passes"
mkd isdir
echo "$ok_sql" >"$W/isdir/001_a.sql"
mkdir "$W/isdir/002_b.sql"
run mc --static "$W/isdir"
is "$RC:$(printf '%s' "$ERR" | grep -c '002_b.sql: it is a directory')" "2:1" "a directory named 002_b.sql: exit 2, named"
mkd dangling
echo "$ok_sql" >"$W/dangling/001_a.sql"
ln -s "$W/nowhere.sql" "$W/dangling/002_b.sql"
run mc --static "$W/dangling"
is "$RC" 2 "a dangling symbolic link: exit 2"
like "$ERR" "002_b.sql: No such file or directory" "named"
mkd unreadable
echo "$ok_sql" >"$W/unreadable/001_a.sql"
echo "$ok_sql" >"$W/unreadable/002_b.sql"
chmod 000 "$W/unreadable/002_b.sql"
run runuser -u nobody -- "$PGP_BIN/pgp-migrate-check" -c /dev/null --static "$W/unreadable"
is "$RC" 2 "a file its user cannot read: exit 2"
like "$ERR" "cannot read .*002_b.sql: Permission denied" "naming the file and why"
chmod 644 "$W/unreadable/002_b.sql"
run runuser -u nobody -- "$PGP_BIN/pgp-migrate-check" -c /dev/null --static "$W/unreadable"
is "$RC" 0 "once readable it passes"

# ---- contents
mkd bin
head -c 3000 /dev/urandom >"$W/bin/001_a.sql"
run mc --static --format json "$W/bin"
is "$RC:$(q 'd["verdict"]')" "1:FAIL" "binary garbage is a FAIL, not a crash"
mkd nul
printf 'SELECT 1;\nSELECT\0 2;\n' >"$W/nul/001_a.sql"
run mc --static --format json "$W/nul"
is "$(q '[(f["kind"], f["line"]) for f in d["findings"] if f["severity"] == "error"]')" '[["parse", 2]]' \
	"a NUL byte: a parse FAIL on its line"
# A byte order mark: Flyway strips it (its reader and its checksum); psql sends it along.
mkd bom
printf '\xef\xbb\xbfCREATE TABLE a (id bigint);\n' >"$W/bom/001_a.sql"
run mc --static --format json "$W/bom"
is "$(q '[(f["kind"], f["line"]) for f in d["findings"] if f["severity"] == "error"]')" '[["parse", 1]]' \
	"plain: a BOM is a FAIL on line 1"
like "$(q '[f["message"] for f in d["findings"]]')" "byte order mark" "saying it is the BOM, not an invisible word"
mkd bomfw
printf '\xef\xbb\xbfCREATE TABLE a (id bigint);\r\nCREATE INDEX a_i ON big (x);\r\n' >"$W/bomfw/V1__a.sql"
run mc --static --format json "$W/bomfw"
is "$(q '[(f["rule"], f["line"]) for f in d["findings"] if f["severity"] == "error"]')" \
	'[["require-concurrent-index-creation", 2]]' "Flyway: the BOM is stripped, CRLF lines are right"
mkd crlf
printf 'SELECT 1;\r\n\r\n-- a comment\r\nCREATE INDEX i ON big (x);\r\n' >"$W/crlf/001_a.sql"
run mc --static --format json "$W/crlf"
is "$(q '[f["line"] for f in d["findings"] if f["rule"] == "require-concurrent-index-creation"]')" "[4]" \
	"CRLF line endings: the line is right"
mkd empty comments
: >"$W/empty/001_a.sql"
printf -- '-- only\n/* comments */\n' >"$W/comments/001_a.sql"
run mc --static "$W/empty"
is "$RC" 0 "an empty file passes"
run mc --static "$W/comments"
is "$RC" 0 "a file of comments passes"
for u in 'CREATE FUNCTION f() RETURNS int AS $$ SELECT 1;' '/* open' "SELECT 'abc;"; do
	mkd unterm
	printf 'SELECT 1;\nCREATE INDEX i ON big (x);\n%s\n' "$u" >"$W/unterm/001_a.sql"
	run mc --static --format json "$W/unterm"
	is "$(q '[(f["kind"], f["line"]) for f in d["findings"] if f["severity"] == "error"]')" '[["parse", 3], ["lock", 2]]' \
		"unterminated at the end (${u:0:12}...): a parse FAIL on line 3, and the statement before still judged"
done

# A statement only a newer grammar knows (PG 17 MERGE ... RETURNING) must
# not hide the other statements of its file from the rules.
mkd newer
printf 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING *;\nCREATE INDEX i ON big (x);\n' >"$W/newer/001_a.sql"
run mc --static --pg-version 17 --format json "$W/newer"
is "$(q '[(f["severity"], f["rule"], f["line"]) for f in d["findings"] if f["rule"] in ("parse", "require-concurrent-index-creation")]')" \
	'[["warning", "parse", 1], ["error", "require-concurrent-index-creation", 2]]' \
	"PG 17: the MERGE is a WARN, and the CREATE INDEX after it is still judged"
run mc --static --pg-version 15 --format json "$W/newer"
is "$(q '[f["severity"] for f in d["findings"] if f["rule"] == "parse"]')" '["error"]' "PG 15: the same file is a parse FAIL"

# A 20 MB file of one comment, then a statement: fast, and its line right.
mkd huge
python3 -c "
import sys
with open('$W/huge/001_a.sql', 'w') as f:
    f.write('SELECT 1;\n')
    line = '-- ' + 'x' * 96 + '\n'
    f.write(line * 200000)
    f.write('CREATE INDEX i ON big (x);\n')
"
run mc --static --format json "$W/huge"
is "$(q '[f["line"] for f in d["findings"] if f["rule"] == "require-concurrent-index-creation"]')" "[200002]" \
	"a 20 MB file: read, and the line of its last statement right"
# Many statements in one file: lines counted once, not once per statement.
mkd inserts
python3 -c "
with open('$W/inserts/001_a.sql', 'w') as f:
    for i in range(30000):
        f.write('INSERT INTO t VALUES (%d);\n' % i)
    f.write('CREATE INDEX i ON big (x);\n')
"
run mc --static --format json "$W/inserts"
is "$(q '[f["line"] for f in d["findings"] if f["rule"] == "require-concurrent-index-creation"]')" "[30001]" \
	"30000 statements in one file: the last one's line"

# 20000 statements PostgreSQL's grammar rejects (another dialect's dump):
# the first is the finding, and reading them all is one pass, not 20000.
mkd dialect
python3 - "$W/dialect/001_a.sql" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(20000):
        f.write('INSERT INTO `t` VALUES (%d);\n' % i)
PY
run mc --static --format json "$W/dialect"
is "$RC:$(q '[(f["kind"], f["line"]) for f in d["findings"]]')" '1:[["parse", 1]]' \
	"20000 statements in another dialect: one parse FAIL at line 1, in time"
# A psql file of 20000 \set lines and statements using them: lines right.
mkd psqlvars
python3 - "$W/psqlvars/001_a.sql" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(20000):
        f.write('\\set v%d %d\nSELECT :v%d;\n' % (i, i, i))
    f.write('CREATE INDEX i ON big (x);\n')
PY
run mc --static --format json "$W/psqlvars"
is "$(q '[f["line"] for f in d["findings"] if f["rule"] == "require-concurrent-index-creation"]')" "[40001]" \
	"20000 \\set lines: the statement after them on its line"

# Invalid UTF-8, quotes, backslashes and control characters from a file's text.
mkd utf8
printf 'CREATE INDEX i ON "t\\\\\xff\xfe\x01\x1b[31m""q\t\r" (x);\n' >"$W/utf8/001_a.sql"
run mc --static --format json "$W/utf8"
ok "the JSON is valid UTF-8 JSON" -- python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))' <"$_run_out"
is "$(q '[f["object"] for f in d["findings"] if f["rule"] == "require-concurrent-index-creation"]')" \
	'["t\\\\\ufffd\ufffd\u0001\u001b[31m\"q\t\r"]' "the object survives, invalid bytes replaced"
run mc --static "$W/utf8"
unlike "$OUT" $'\x1b' "the text report shows no raw escape character"
like "$OUT" '\\x01\\x1b\[31m' "it shows them as \\x01\\x1b"
run mc --static --format github "$W/utf8"
like "$OUT" '"q	%0D for the whole build' "github: CR escaped"
unlike "$OUT" $'\r' "no raw CR in an annotation"

# ---- directories and names
echo "$ok_sql" >"$W/afile"
run mc --static "$W/afile"
is "$RC" 2 "a file given as the directory: exit 2"
like "$ERR" "afile: not a directory" "named"
mkd emptydir
run mc --static "$W/emptydir"
is "$RC" 2 "an empty directory: exit 2, not a silent PASS"
like "$ERR" "not a migrations directory" "saying why"
mkd names
printf 'CREATE INDEX a ON big (x);\n' >"$W/names/001 sp ace.sql"
printf 'CREATE INDEX b ON big (x);\n' >"$W/names/002 '\"q.sql"
printf 'CREATE INDEX c ON big (x);\n' >"$W/names/003 new
line.sql"
printf 'CREATE INDEX d ON big (x);\n' >"$W/names/-004.sql"
run mc --static --format json "$W/names"
is "$(q '[m["file"] for m in d["migrations"]]')" '["-004.sql", "001 sp ace.sql", "002 '"'"'\"q.sql", "003 new\nline.sql"]' \
	"names with a dash, spaces, quotes and a newline are read in byte order"
run mc --static --format github "$W/names"
is "$(printf '%s\n' "$OUT" | grep -c '^::error file=.*names/003 new%0Aline.sql,line=1,')" 1 "github: the newline in a name escaped"
run mc --static "$W/names"
unlike "$OUT" $'^line.sql' "text: a newline in a name cannot start a line of its own"
mkd many
for i in $(seq 1 3000); do printf 'CREATE TABLE t%d (id bigint);\n' "$i" >"$W/many/$(printf %05d "$i")_a.sql"; done
run mc --static --format json "$W/many"
is "$RC:$(q 'len(d["migrations"])')" "0:3000" "3000 files are read"
# Flyway reads its location recursively: a link back up is a loop, not 2^16 copies.
mkd fwloop/sub
echo "$ok_sql" >"$W/fwloop/V1__a.sql"
echo "CREATE TABLE b (id bigint);" >"$W/fwloop/sub/V2__b.sql"
ln -s . "$W/fwloop/l1"
ln -s .. "$W/fwloop/sub/l2"
run mc --static --format json "$W/fwloop"
is "$RC:$(q '[m["file"] for m in d["migrations"]]')" '0:["V1__a.sql", "sub/V2__b.sql"]' \
	"Flyway: links back up are loops, each file read once"
like "$ERR" "fwloop/l1: a symbolic link loop" "said on stderr"
mkd app/a
ln -s .. "$W/app/a/loop"
ln -s loop2 "$W/app/loop1"
ln -s loop1 "$W/app/loop2"
mkfifo "$W/app/f.sql"
echo "SET search_path = x;" >"$W/app/a/q.sql"
run mc --static --pooler transaction --format json --app-dir "$W/app" "$W/fifo"
is "$RC" 0 "--app-dir with a symlink loop, a link cycle and a FIFO: no hang, no error"
is "$(q '[f["file"] for f in d["findings"] if f["kind"] == "pooler"]')" "[\"$W/app/a/q.sql\"]" "and its SQL file is read"

# Folders nested deeper than a path can name: said, not read under a cut name.
mkd deep
(cd "$W/deep" && for i in $(seq 1 25); do n=$(printf 'd%.0s' $(seq 1 200)); mkdir "$n" && cd "$n" || exit 1; done &&
	echo "SET search_path = x;" >q.sql)
run mc --static --pooler transaction --app-dir "$W/deep" "$W/fifo"
is "$RC" 0 "--app-dir deeper than a path: the run ends"
like "$ERR" "--app-dir: a path under .* is too long: not read" "saying what it skipped"

# ---- broken metadata of the tools
mkd dz/meta
echo "$ok_sql" >"$W/dz/0000_a.sql"
for j in '{"entries": [ {"tag": "0000_a", "when": 1}, ' '{"entries": {"tag": "0000_a"}}' '{"entries": [{"tag": 5, "when": 1}]}' \
	'{"entries": [{"tag": "0001_gone", "when": 1}]}' '{"entries": [{"tag": "0000_a", "when": "soon"}]}' '{"entries": [{"tag": "0000_a", "when": {}}]}'; do
	printf '%s' "$j" >"$W/dz/meta/_journal.json"
	run mc --static --tool drizzle "$W/dz"
	is "$RC" 2 "a broken Drizzle journal ($j): exit 2"
	like "$ERR" "_journal.json|0001_gone.sql" "naming the journal or the missing file"
done
printf '%s' '{"entries": [{"tag": "0000_a", "when": 1700000000000}]}' >"$W/dz/meta/_journal.json"
run mc --static --tool drizzle "$W/dz"
is "$RC" 0 "a good journal passes"
mkd sq/deploy
printf '%%project=p\n\na 2024-01-01T00:00:00Z A <a@x>\nthis is not a change\n' >"$W/sq/sqitch.plan"
echo "$ok_sql" >"$W/sq/deploy/a.sql"
run mc --static "$W/sq"
is "$RC" 2 "a sqitch.plan with a bad line: exit 2"
like "$ERR" "sqitch.plan:4: cannot read this change line" "naming file:line"
mkd dbm
printf -- '-- migrate:down\nDROP TABLE a;\n-- migrate:up\nCREATE TABLE a (id bigint);\n' >"$W/dbm/20240101000000_a.sql"
printf -- '-- migrate:down\nDROP TABLE b;\n' >"$W/dbm/20240102000000_b.sql"
printf -- '-- migrate:up\nCREATE TABLE c (id bigint);\n-- migrate:down\nDROP TABLE c;\n' >"$W/dbm/20240103000000_c.sql"
run mc --static --tool dbmate --format json "$W/dbm"
is "$(q '[(f["file"], f["kind"]) for f in d["findings"] if f["severity"] == "error"]')" \
	'[["20240101000000_a.sql", "parse"], ["20240102000000_b.sql", "parse"]]' \
	"dbmate: down before up, and no up, are FAILs; the good file is not"
mkd fw
for n in 'V1..2__a' 'V__x' 'V99999999999999999999999999999__big' 'V1__one' 'V1.0__dup'; do
	echo "CREATE TABLE \"$n\" (id bigint);" >"$W/fw/$n.sql"
done
run mc --static --format json "$W/fw"
is "$(q '[m["version"] for m in d["migrations"]]')" '["1.0", "1", "99999999999999999999999999999"]' \
	"Flyway: V1..2 and V__x are not migrations, a 29-digit version is"
is "$(q '[f["kind"] for f in d["findings"] if f["severity"] == "error"]')" '["duplicate-version"]' "V1 and V1.0 collide"
mkd gm
echo "$ok_sql" >"$W/gm/99999999999999999999_a.up.sql"
echo "$ok_sql" >"$W/gm/18446744073709551615_b.up.sql"
run mc --static --format json "$W/gm"
is "$(q '[m["version"] for m in d["migrations"]]')" '["18446744073709551615"]' "golang-migrate: 2^64-1 is a version, 2^64+ is not"
like "$(q '[f["message"] for f in d["findings"] if f["file"] == "99999999999999999999_a.up.sql"]')" "64 bits" "said"
mkd pr/20240101000000_a pr/20240102000000_b
echo "$ok_sql" >"$W/pr/20240101000000_a/migration.sql"
echo "$ok_sql" >"$W/pr/20240102000000_b/other.sql"
run mc --static --tool prisma --format json "$W/pr"
is "$(q '[(f["kind"], f["object"]) for f in d["findings"] if f["severity"] == "error"]')" '[["missing-file", "20240102000000_b"]]' \
	"Prisma: a folder without migration.sql is a FAIL naming it"

# ---- output and usage
run bash -c "'$PGP_BIN/pgp-migrate-check' -c /dev/null --static '$W/many' | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}"
ok "stdout closed by head -c 10: a non-zero exit" -- [ "$RC" -ne 0 ]
run sh -c "'$PGP_BIN/pgp-migrate-check' -c /dev/null --static '$W/fw' >&-"
is "$RC" 1 "a FAIL with stdout closed: still non-zero"
run sh -c "'$PGP_BIN/pgp-migrate-check' -c /dev/null --static '$W/fifo' >&-"
is "$RC" 5 "a PASS that cannot be written: exit 5"
like "$ERR" "cannot write the report" "said"
run sh -c "'$PGP_BIN/pgp-migrate-check' --list-rules >/dev/full"
is "$RC" 5 "--list-rules to a full disk: exit 5, not 0"
run mc --list-rules
is "$RC" 0 "--list-rules to a terminal: 0"
for v in 0 -1 1e3 abc; do
	run mc -d "host=/nonexistent" --row-limit "$v" "$W/fifo"
	is "$RC" 2 "--row-limit $v: exit 2"
	like "$ERR" "--row-limit" "naming the option"
done
for o in --lock-timeout --statement-timeout --pooler --fail-on --pg-version --tool --format; do
	run mc --static "$o" banana "$W/fifo"
	is "$RC" 2 "$o banana: exit 2"
	like "$ERR" -- "$o" "naming $o"
done
run mc -d "host=/nonexistent" --scratch "host=x bogus=1 password=Sekr1t-scratch" "$W/fifo"
is "$RC" 2 "a --scratch that is not a connection string: exit 2"
like "$ERR" '\(--scratch\): invalid connection option "bogus"' "naming --scratch, not -d"
unlike "$ERR" "Sekr1t" "and not its password"

# ---- a server
pg_start
pg() { psql_q -d "${2:-shop}" -c "$1"; }
pg "CREATE ROLE app LOGIN CREATEDB PASSWORD 'Sekr1tPw-42'" postgres >/dev/null
pg "CREATE DATABASE shop OWNER app" postgres >/dev/null
psql_q -U app -d shop -c "CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t SELECT g, g FROM generate_series(1, 2000) g;" >/dev/null
C="host=$PGHOST port=$PGPORT user=app dbname=shop"
scratch_dbs() { pg "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\\_mc\\_%'" postgres; }

# Bookkeeping with foreign contents (no trace: only the table is read).
mkd gmv
echo "$ok_sql" >"$W/gmv/1_a.up.sql"
psql_q -U app -d shop -c "CREATE TABLE schema_migrations (version text, dirty text); INSERT INTO schema_migrations VALUES ('abc''\"', 'f')"
run mc -d "$C" --no-trace --format json "$W/gmv"
is "$(q '[m["status"] for m in d["migrations"]]')" '["pending"]' "golang-migrate: a version that is not a number does not mark files applied"
is "$(q '[f["kind"] for f in d["findings"] if f["severity"] == "error"]')" '["drift"]' "it is a FAIL"
pg "UPDATE schema_migrations SET version = '1'" >/dev/null
run mc -d "$C" --no-trace --format json "$W/gmv"
is "$RC:$(q '[m["status"] for m in d["migrations"]]')" '0:["applied"]' "version 1: applied"
pg "DROP TABLE schema_migrations" >/dev/null
mkd dbv
printf -- '-- migrate:up\nCREATE TABLE a (id bigint);\n-- migrate:down\nDROP TABLE a;\n' >"$W/dbv/20240101000000_a.sql"
psql_q -U app -d shop -c "CREATE TABLE schema_migrations (version varchar(128)); INSERT INTO schema_migrations SELECT 'v' || g FROM generate_series(1, 5000) g; INSERT INTO schema_migrations VALUES (NULL), (NULL), (E'x\n::error::forged'), ('20240101000000')"
run mc -d "$C" --no-trace --format json "$W/dbv"
is "$(q 'len([f for f in d["findings"] if f["kind"] == "missing-file"])')" 21 \
	"5001 unknown versions: 20 findings and one that counts the rest, not 5001"
like "$(q '[f["message"] for f in d["findings"] if f["kind"] == "missing-file"][-1]')" "and 4981 more .* \(5001 in all" "the count"
is "$(q '[f["message"] for f in d["findings"] if f["kind"] == "drift"]')" \
	'["2 rows of public.schema_migrations have a NULL version: no tool writes one, so something else edited the table"]' \
	"NULL versions: one finding, not findings for a version \"\""
is "$(q '[m["status"] for m in d["migrations"]]')" '["applied"]' "the real row still counts"
run mc -d "$C" --no-trace --format github "$W/dbv"
is "$(printf '%s\n' "$OUT" | grep -c '^::error::forged')" 0 "github: a newline in a version cannot forge an annotation"
# A session holding ACCESS EXCLUSIVE on the bookkeeping table (a deploy in a transaction).
psql -X -q -U app -d shop -c "BEGIN; LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);" >/dev/null 2>&1 &
LOCKER=$!
at_exit "kill $LOCKER"
for i in $(seq 50); do [ "$(pg "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'schema_migrations'::regclass")" = 1 ] && break; sleep 0.1; done
run mc -d "$C" --no-trace "$W/dbv"
is "$RC" 5 "a lock held on the bookkeeping table: exit 5, not a hang"
like "$ERR" "cannot read the bookkeeping table public.schema_migrations: .*lock timeout" "naming the table and the lock"
pg "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'schema_migrations'::regclass AND mode = 'AccessExclusiveLock'" >/dev/null
wait "$LOCKER" 2>/dev/null
pg "DROP TABLE schema_migrations" >/dev/null

# Roles, databases and their settings live in the server, not in the copy:
# a migration that changes them must not be run there (it would change the target).
mkd shared
printf "CREATE ROLE pwned_by_copy;\nALTER ROLE app SET work_mem = '1MB';\nGRANT SELECT ON t TO app;\nCOMMENT ON DATABASE shop IS 'changed';\nCREATE TABLE x (id bigint);\n" \
	>"$W/shared/1_a.sql"
printf 'DROP DATABASE shop WITH (FORCE);\nGRANT pg_read_all_data TO app WITH INHERIT TRUE;\nSELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $$shop$$;\n' \
	>"$W/shared/2_b.sql"
run mc -d "$C" --no-roundtrip --format json "$W/shared"
is "$(q '[(f["file"], f["line"]) for f in d["findings"] if "not run on the copy" in f["message"]]')" \
	'[["1_a.sql", 1], ["1_a.sql", 2], ["1_a.sql", 4], ["2_b.sql", 1], ["2_b.sql", 2], ["2_b.sql", 3]]' \
	"CREATE/ALTER ROLE, COMMENT ON DATABASE, DROP DATABASE, a role GRANT, pg_terminate_backend: not run on the copy, said"
is "$(pg "SELECT count(*) FROM pg_roles WHERE rolname = 'pwned_by_copy'")" 0 "no role was created on the target's server"
is "$(pg "SELECT count(*) FROM pg_db_role_setting")" 0 "no role setting changed"
is "$(pg "SELECT count(*) FROM pg_database WHERE datname = 'shop'")" 1 "the target database is still there"
is "$(pg "SELECT count(*) FROM pg_shdescription WHERE description = 'changed'")" 0 "and has no new comment"
is "$(q '[f["line"] for f in d["findings"] if f["file"] == "1_a.sql" and f["kind"] == "error" and "not run" not in f["message"]]')" "[]" \
	"the GRANT on a table and the CREATE TABLE ran on the copy without error"
is "$(scratch_dbs)" 0 "the copy is dropped"

# statement_timeout on the copy: a finding, not a hang.
mkd st
echo "SELECT pg_sleep(5);" >"$W/st/1_a.up.sql"
run mc -d "$C" --statement-timeout 1s --no-roundtrip --format json "$W/st"
is "$RC" 1 "a statement_timeout hit on the copy: FAIL"
is "$(q '[f["sqlstate"] for f in d["findings"] if f["kind"] == "error"]')" '["57014"]' "with SQLSTATE 57014"
is "$(scratch_dbs)" 0 "the copy is dropped"

# A server that accepts TCP and never answers.
hole=$(free_port)
python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $hole)); s.listen(8); keep = []
while True:
    keep.append(s.accept()[0])
" &
HOLE=$!
at_exit "kill $HOLE"
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$hole") 2>/dev/null && break; sleep 0.1; done
run mc -d "host=127.0.0.1 port=$hole user=app dbname=shop connect_timeout=2" "$W/st"
is "$RC" 3 "a target that accepts and never answers: exit 3 at connect_timeout"
like "$ERR" "127.0.0.1:$hole: timeout expired" "naming the server"
run mc -d "$C" --scratch "host=127.0.0.1 port=$hole user=app connect_timeout=2" "$W/st"
is "$RC" 3 "a --scratch server that never answers: exit 3"
like "$ERR" "127.0.0.1:$hole: timeout expired" "naming it"
like "$ERR" "that is the --scratch server" "as the --scratch server"

# SIGHUP and SIGINT while pg_dump | pg_restore run (pg_dump waits for a lock on t).
mkd sig
echo "ALTER TABLE t ADD COLUMN z bigint;" >"$W/sig/1_a.up.sql"
for sig in HUP INT; do
	psql -X -q -U app -d shop -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30);" >/dev/null 2>&1 &
	LOCKER=$!
	at_exit "kill $LOCKER"
	for i in $(seq 50); do [ "$(pg "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 't'::regclass")" = 1 ] && break; sleep 0.1; done
	pgp-migrate-check -c /dev/null -d "$C password=Sekr1tPw-42" --no-roundtrip --format json "$W/sig" >"$W/sig.out" 2>"$W/sig.err" &
	MC=$!
	for i in $(seq 100); do pgrep -P "$MC" -x pg_dump >/dev/null && break; sleep 0.1; done
	kids=$(pgrep -P "$MC" | tr '\n' ' ')
	is "$(for k in $kids; do tr '\0' ' ' <"/proc/$k/cmdline"; echo; done | grep -cE 'pg_dump|pg_restore')" 2 "pg_dump and pg_restore are running"
	leak=0
	for k in $kids; do grep -qaF Sekr1tPw "/proc/$k/cmdline" "/proc/$k/environ" && leak=$((leak + 1)); done
	is "$leak" 0 "no password in the children's argv or environment"
	kill -"$sig" "$MC"
	wait "$MC"
	is "$?" 5 "SIG$sig during the copy: exit 5"
	alive=0
	for k in $kids; do [ -d "/proc/$k" ] && alive=$((alive + 1)); done
	is "$alive" 0 "pg_dump and pg_restore are gone"
	is "$(scratch_dbs)" 0 "the half-made copy is dropped"
	ok "the JSON report is still valid" -- python3 -c 'import json,sys; json.load(sys.stdin)' <"$W/sig.out"
	# Killing psql would leave its backend asleep, holding the lock: end the backend.
	pg "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 't'::regclass AND mode = 'AccessExclusiveLock'" >/dev/null
	wait "$LOCKER" 2>/dev/null
done

# SIGINT during the trace (a slow statement on the copy).
mkd slow
echo "SELECT pg_sleep(30);" >"$W/slow/1_a.up.sql"
pgp-migrate-check -c /dev/null -d "$C password=Sekr1tPw-42" --no-roundtrip "$W/slow" >"$W/slow.out" 2>"$W/slow.err" &
MC=$!
for i in $(seq 100); do [ "$(pg "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'" postgres)" = 1 ] && break; sleep 0.1; done
kill -INT "$MC"
wait "$MC"
is "$?" 5 "SIGINT during the trace: exit 5"
is "$(scratch_dbs)" 0 "the copy is dropped"
like "$(cat "$W/slow.err")" "interrupted" "saying it was interrupted"

# A password given with -d is never shown.
mkd pw
echo "CREATE INDEX t_n ON t (n);" >"$W/pw/1_a.up.sql"
run mc -d "$C password=Sekr1tPw-42" --format json "$W/pw"
unlike "$OUT$ERR$(cat "$W"/*.out "$W"/*.err)" "Sekr1tPw" "no password in the reports or on stderr"
is "$(grep -c Sekr1tPw "$PGDIR/server.log")" 0 "nor in the server log"

# The server dies in the middle of a migration.
pgp-migrate-check -c /dev/null -d "$C" --no-roundtrip "$W/slow" >"$W/die.out" 2>"$W/die.err" &
MC=$!
for i in $(seq 100); do [ "$(pg "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'" postgres)" = 1 ] && break; sleep 0.1; done
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null
wait "$MC"
is "$?" 5 "the server dies during the trace: exit 5, no hang"
like "$(cat "$W/die.err")" "went away while running SELECT pg_sleep\(30\)" "saying what it was running"
like "$(cat "$W/die.err")" "could not drop scratch database pgp_mc_[0-9_]+ on $PGHOST:$PGPORT: drop it by hand" \
	"and which copy is left where"
done_testing
