#!/usr/bin/env bash
# pgp-migrate-check's run on a scratch copy, on a real PostgreSQL 15, as a
# role with CREATEDB and no superuser: the per-statement trace (a real
# rewrite and a default that is not one, the scan of SET NOT NULL and the
# CHECK that spares it), CREATE INDEX CONCURRENTLY in a multi-statement
# golang-migrate file (25001), alone (passes) and failing on duplicates
# (invalid index left), a new enum value used at once (55P04), NOT VALID
# left behind, the invalid index an earlier failed attempt left on the
# target that IF NOT EXISTS skips, a plain file that fails part way
# (partial, not re-runnable), a transactional failure that leaves the
# catalog as before, the round trip with a down that forgets an index or a
# type and with a correct one, the copy made schema only, rows limited
# (foreign keys and sequences kept), from pgp-backup's latest backup, or
# on another server (--scratch); leftovers swept, the copy dropped after
# success, failure and SIGTERM, and the target never changed.
. "$(dirname "$0")/lib.sh"
need python3
pg_start
pg() { psql_q -d "${2:-shop}" -c "$1"; }
pg "CREATE ROLE app LOGIN CREATEDB" postgres
pg "CREATE ROLE nocreate LOGIN" postgres
pg "CREATE DATABASE shop OWNER app" postgres
pg "GRANT CONNECT ON DATABASE shop TO nocreate" postgres
psql_q -U app -d shop >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, n int, note text);
INSERT INTO t SELECT g, g, 'note ' || g FROM generate_series(1, 2000) g;
CREATE TABLE child (id int PRIMARY KEY, t_id int REFERENCES t (id));
INSERT INTO child SELECT g, 2001 - g FROM generate_series(1, 1500) g;
CREATE TABLE proven (id int PRIMARY KEY, v int, CONSTRAINT v_not_null CHECK (v IS NOT NULL));
INSERT INTO proven SELECT g, g FROM generate_series(1, 100) g;
CREATE TYPE status AS ENUM ('new', 'done');
CREATE TABLE late (x int);
CREATE TABLE ser (id serial PRIMARY KEY, v int);
INSERT INTO ser (v) SELECT g FROM generate_series(1, 100) g;
CREATE TABLE dups (x int);
INSERT INTO dups VALUES (1), (1), (2);
SQL
CONNINFO="host=$PGHOST port=$PGPORT user=app dbname=shop"
W=$(mktemp -d /tmp/pgpmc.XXXXXX)
at_exit "rm -rf '$W'"

is "$(pg "SELECT rolsuper::text || rolcreatedb::text FROM pg_roles WHERE rolname = 'app'")" falsetrue \
	"the role is not a superuser, only CREATEDB"

# check DIR [OPTION...]: the JSON report in OUT, exit status in RC
check() { local dir=$1; shift; run pgp-migrate-check -c /dev/null -d "$CONNINFO" --format json "$@" "$dir"; }
q() { json_get "$OUT" "$1"; }
# findings of kind K (optionally of file F) as "kind file line sqlstate" lines
kinds() { q "sorted(set(f['kind'] for f in d['findings'] if f['severity'] in ('error', 'warning')))"; }
has() {
	json_get "$OUT" "any(f['kind'] == '$1' and ('${2:-}' == '' or f.get('file') == '${2:-}') for f in d['findings'])"
}
scratch_dbs() { pg "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\\_mc\\_%'" postgres; }
target_schema() { as_pg "$PG_BINDIR/pg_dump" -h "$PGHOST" -p "$PGPORT" -U postgres --schema-only shop | grep -v '^\\\(un\)\?restrict'; }
target_rows() { pg "SELECT (SELECT count(*) FROM t) || '/' || (SELECT count(*) FROM child)"; }
schema_before=$(target_schema)
rows_before=$(target_rows)
mkd() { mkdir -p "$W/$1"; }

# A leftover of a SIGKILLed run more than a day ago (the name carries the time).
pg "CREATE DATABASE pgp_mc_1000000000_1 OWNER app" postgres

# ---- the trace: a real rewrite and a default that is none ----
mkd rewrite
echo "ALTER TABLE t ADD COLUMN r double precision DEFAULT random();" >"$W/rewrite/1_volatile.up.sql"
echo "ALTER TABLE t ADD COLUMN c text DEFAULT 'const';" >"$W/rewrite/2_constant.up.sql"
check "$W/rewrite" --no-roundtrip
[ "$RC" -le 1 ] || diag "$ERR"
is "$(q 'd["copy"] is not None and "every row" in d["copy"]')" true "the copy note says every row was copied"
is "$(has rewrite 1_volatile.up.sql)" true "ADD COLUMN DEFAULT random() rewrites the table (relfilenode changed on the copy)"
is "$(has rewrite 2_constant.up.sql)" false "ADD COLUMN with a constant default does not"
is "$(scratch_dbs)" 0 "the scratch database is dropped after the run, and the old leftover swept"

# ---- SET NOT NULL: the scan, and the CHECK that proves it ----
mkd scan
echo "ALTER TABLE t ALTER COLUMN n SET NOT NULL;" >"$W/scan/1_nn.up.sql"
echo "ALTER TABLE proven ALTER COLUMN v SET NOT NULL;" >"$W/scan/2_proven.up.sql"
check "$W/scan" --no-roundtrip
is "$(has scan 1_nn.up.sql)" true "SET NOT NULL scans the table (the server's DEBUG1 verifying table)"
is "$(has scan 2_proven.up.sql)" false "not when a validated CHECK (v IS NOT NULL) proves it"

# ---- CREATE INDEX CONCURRENTLY in a golang-migrate file ----
mkd cic_multi
printf 'CREATE TABLE a (x int);\nCREATE INDEX CONCURRENTLY a_x ON a (x);\n' >"$W/cic_multi/1_idx.up.sql"
echo "ALTER TABLE t ADD COLUMN later int;" >"$W/cic_multi/2_later.up.sql"
check "$W/cic_multi" --no-roundtrip
is "$RC" 1 "CIC in a multi-statement golang-migrate file: FAIL"
is "$(q "[f['sqlstate'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'error'][0]")" 25001 \
	"with the server's SQLSTATE 25001 (one implicit transaction)"
is "$(q "[f['line'] for f in d['findings'] if f.get('sqlstate') == '25001' and f['kind'] == 'error'][0]")" 2 \
	"at the CIC's line"
like "$(q "[f['message'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'info']")" \
	'2_later.up.sql' "the migration after it is named as not run"
is "$(scratch_dbs)" 0 "the scratch database is dropped after a failure"
mkd cic_lone
echo "CREATE INDEX CONCURRENTLY t_n_idx ON t (n);" >"$W/cic_lone/1_idx.up.sql"
check "$W/cic_lone" --no-roundtrip
is "$(has error)" false "a lone CIC in its own file runs (no transaction block)"
is "$(has invalid-index)" false "and leaves a valid index"

mkd cic_fail
echo "CREATE UNIQUE INDEX CONCURRENTLY u_dup ON dups (x);" >"$W/cic_fail/1_u.up.sql"
check "$W/cic_fail" --no-roundtrip
is "$(q "[f['sqlstate'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'error'][0]")" 23505 \
	"a lone CIC UNIQUE on duplicate rows fails (23505)"
like "$(q "[f['message'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'error'][0]")" \
	'is duplicated' "with the server's detail"
is "$(q "[f['object'] for f in d['findings'] if f['kind'] == 'invalid-index']")" '["public.u_dup"]' \
	"and leaves an invalid index behind: invalid-index"
like "$(q "[f['message'] for f in d['findings'] if f['kind'] == 'partial']")" 'u_dup.*INVALID' \
	"partial: the catalog is not as before although nothing was committed"

mkd enum
printf "ALTER TYPE status ADD VALUE 'archived';\nSELECT 'archived'::status;\n" >"$W/enum/1_enum.up.sql"
check "$W/enum" --no-roundtrip
is "$(q "[f['sqlstate'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'error']")" '["55P04"]' \
	"a new enum value used in the transaction that added it: 55P04"
like "$(q "[f['advice'] for f in d['findings'] if f.get('sqlstate') == '55P04'][0]")" 'migration of its own' \
	"with the advice to commit it first"

mkd notvalid
echo "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID;" >"$W/notvalid/1_nv.up.sql"
echo "ALTER TABLE t ADD CONSTRAINT n_small CHECK (n < 100000) NOT VALID;" >"$W/notvalid/2_nv.up.sql"
echo "ALTER TABLE t VALIDATE CONSTRAINT n_small;" >"$W/notvalid/3_validate.up.sql"
check "$W/notvalid" --no-roundtrip
is "$(q "[(f['severity'], f['file'], f['object']) for f in d['findings'] if f['kind'] == 'not-valid']")" \
	'[["warning", "1_nv.up.sql", "n_pos"]]' "a NOT VALID constraint never validated: WARN naming it; a validated one: none"

# ---- a plain psql file failing part way ----
mkd plain
cat >"$W/plain/001_audit.sql" <<'SQL'
CREATE TABLE audit (id int);
INSERT INTO audit VALUES (1);
CREATE TABLE IF NOT EXISTS audit2 (id int);
ALTER TABLE t ADD COLUMN required int NOT NULL;
SQL
check "$W/plain" --tool plain --no-roundtrip
is "$RC" 1 "a plain file failing part way: FAIL"
is "$(q "[f['sqlstate'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'error'][0]")" 23502 \
	"NOT NULL column on existing rows: 23502"
like "$(q "[f['message'] for f in d['findings'] if f['kind'] == 'partial']")" \
	'line 1.*line 2.*line 3' "partial: the three statements committed before the failure are named"
is "$(q "sorted(f['line'] for f in d['findings'] if f['kind'] == 'not-rerunnable')")" "[1, 2]" \
	"not-rerunnable: CREATE TABLE (exists now) and INSERT (rows twice), not CREATE ... IF NOT EXISTS"

# ---- a transactional failure leaves the catalog as before ----
mkd txn
printf 'CREATE TABLE b (x int);\nCREATE INDEX b_x ON b (x);\nALTER TABLE t ADD COLUMN z int NOT NULL;\n' \
	>"$W/txn/1_tx.up.sql"
check "$W/txn" --no-roundtrip
is "$RC" 1 "a failing golang-migrate file: FAIL"
like "$(q "[f['message'] for f in d['findings'] if f['kind'] == 'error' and f['severity'] == 'error'][0]")" \
	'rolled back: the catalog is as before' "its one transaction left the catalog as before (fingerprint compared)"
is "$(has partial)" false "and nothing partial"

# ---- round trip ----
mkd rt_bad
printf 'CREATE INDEX t_note_idx ON t (note);\nALTER TABLE t ADD COLUMN extra text;\n' >"$W/rt_bad/1_extra.up.sql"
echo "ALTER TABLE t DROP COLUMN extra;" >"$W/rt_bad/1_extra.down.sql"
check "$W/rt_bad"
is "$RC" 1 "a down that forgets an index: FAIL"
is "$(q "[f['object'] for f in d['findings'] if f['kind'] == 'roundtrip' and f['severity'] == 'error'][0]")" \
	public.t_note_idx "the round trip names the index left behind"
is "$(q "[f['file'] for f in d['findings'] if f['kind'] == 'roundtrip' and f['severity'] == 'error'][0]")" \
	1_extra.down.sql "and the down file"
mkd rt_good
printf 'CREATE INDEX t_note_idx ON t (note);\nALTER TABLE t ADD COLUMN extra text;\n' >"$W/rt_good/1_extra.up.sql"
printf 'DROP INDEX t_note_idx;\nALTER TABLE t DROP COLUMN extra;\n' >"$W/rt_good/1_extra.down.sql"
check "$W/rt_good"
is "$(q "[f['message'] for f in d['findings'] if f['kind'] == 'roundtrip' and f['severity'] == 'error']")" "[]" \
	"a correct down: no round-trip finding"
mkd rt_type
printf "CREATE TYPE mood AS ENUM ('ok', 'sad');\nALTER TABLE t ADD COLUMN m mood;\n" >"$W/rt_type/1_mood.up.sql"
echo "ALTER TABLE t DROP COLUMN m;" >"$W/rt_type/1_mood.down.sql"
check "$W/rt_type"
is "$(q "[f['object'] for f in d['findings'] if f['kind'] == 'roundtrip' and f['severity'] == 'error'][0]")" \
	public.mood "a type the down forgets is named"

mkd rt_default
printf "ALTER TABLE t ALTER COLUMN note SET DEFAULT 'hello';\nALTER TABLE t ADD COLUMN gone int;\n" \
	>"$W/rt_default/1_def.up.sql"
echo "SELECT 1;" >"$W/rt_default/1_def.down.sql"
check "$W/rt_default"
is "$(q "sorted(f['object'] for f in d['findings'] if f['kind'] == 'roundtrip' and f['file'] == '1_def.down.sql')")" \
	'["public.t.gone", "public.t.note"]' "a default and a column the down leaves behind are named, each"

# ---- how the copy is made ----
check "$W/scan" --no-roundtrip --schema-only
like "$(q 'd["copy"]')" 'schema only' "--schema-only: the report says the copy has no rows"
is "$(has scan 1_nn.up.sql)" true "the scan still shows (the statement verifies an empty table)"
check "$W/rewrite" --no-roundtrip --row-limit 50
like "$(q 'd["copy"]')" 'at most 50 rows per table' "--row-limit: said in the report"
is "$(has error)" false "the foreign keys hold on the limited copy (orphan rows left out)"
mkd serial
echo "INSERT INTO ser (v) VALUES (0);" >"$W/serial/1_row.up.sql"
check "$W/serial" --no-roundtrip --row-limit 10
is "$(has error)" false "and the sequences stand where the target's do (no duplicate key for a new row)"

# ---- SIGTERM in the middle of a slow migration ----
mkd slow
echo "SELECT pg_sleep(60);" >"$W/slow/1_slow.up.sql"
pgp-migrate-check -c /dev/null -d "$CONNINFO" --format json "$W/slow" >"$W/slow.out" 2>"$W/slow.err" &
pid=$!
for i in $(seq 300); do
	[ "$(pg "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'" postgres)" = 1 ] && break
	sleep 0.1
done
is "$(scratch_dbs)" 1 "the slow migration runs on a scratch database"
kill -TERM "$pid"
wait "$pid"
is "$?" 5 "SIGTERM: exit 5 (could not finish)"
is "$(scratch_dbs)" 0 "and the scratch database is dropped"
is "$(pg "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'" postgres)" 0 \
	"the running statement was cancelled"

# ---- the target was never changed ----
is "$(target_schema)" "$schema_before" "the target's schema is as before every run"
is "$(target_rows)" "$rows_before" "and its rows"

# ---- --from-backup: pgp-backup's latest backup, not the target now ----
cat >"$W/pgp.conf" <<EOF
backup: {
  repo = "$W/repo";
  state_dir = "$W/state";
};
EOF
run pgp-backup -c "$W/pgp.conf" backup -d "$CONNINFO"
is "$RC" 0 "a backup of the target with pgp-backup"
pg "INSERT INTO late VALUES (1)"
mkd late
echo "ALTER TABLE late ADD CONSTRAINT late_null CHECK (x IS NULL);" >"$W/late/1_check.up.sql"
check "$W/late" --no-roundtrip
is "$(q "[f['sqlstate'] for f in d['findings'] if f['kind'] == 'error']")" '["23514"]' \
	"on a copy of the target now, the row added since the backup fails the CHECK"
run pgp-migrate-check -c "$W/pgp.conf" -d "$CONNINFO" --format json --no-roundtrip --from-backup "$W/late"
[ "$RC" -le 1 ] || diag "$ERR"
like "$(q 'd["copy"]')" "pgp-backup's latest backup" "--from-backup: the report says the copy is the backup"
is "$(q "[f['sqlstate'] for f in d['findings'] if f['kind'] == 'error']")" "[]" \
	"and the migration ran on the backup's rows"
is "$(scratch_dbs)" 0 "that copy is dropped too"
is "$(pg "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\\_%'" postgres)" 0 \
	"and pgp-backup left no database of its own"
pg "DELETE FROM late"

# ---- the role must be able to create the copy ----
run pgp-migrate-check -c /dev/null -d "host=$PGHOST port=$PGPORT user=nocreate dbname=shop" --format json "$W/scan"
ok "a role without CREATEDB is refused" -- [ "$RC" -ne 0 ]
like "$ERR" 'may not create databases' "saying what is missing"
like "$ERR" 'CREATEDB' "and how to fix it"

# ---- --scratch: the copy on another server, for a role without CREATEDB on the target ----
S2=$(mktemp -d /tmp/pgpt2.XXXXXX)
at_exit "'$PGP_SRC/scripts/pg-sandbox' stop '$S2'"
s2env=$("$PGP_SRC/scripts/pg-sandbox" start "$S2" 2>&1) || { echo "$s2env" | sed 's/^/# /'; echo "Bail out! second server"; exit 1; }
P2=${s2env##*PGPORT=}
psql_q -h "$S2" -p "$P2" -d postgres -c "CREATE ROLE reader LOGIN CREATEDB"
pg "CREATE ROLE reader LOGIN" postgres
pg "GRANT CONNECT ON DATABASE shop TO reader; GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO reader"
run pgp-migrate-check -c /dev/null -d "host=$PGHOST port=$PGPORT user=reader dbname=shop" --format json --no-roundtrip \
	--scratch "host=$S2 port=$P2 user=reader dbname=postgres" "$W/scan"
[ "$RC" -le 1 ] || diag "$ERR"
like "$(q 'd["copy"]')" "on $S2:$P2" "--scratch: the copy is made on the server named"
is "$(has scan 1_nn.up.sql)" true "and the trace runs there"
is "$(psql_q -h "$S2" -p "$P2" -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgp\\_mc\\_%'")" 0 \
	"where the copy is dropped afterwards"
is "$(scratch_dbs)" 0 "and the target's server never had one"

# ---- an invalid index an earlier failed attempt left on the target ----
pg "INSERT INTO t VALUES (9001, 1, 'duplicate n')"
psql -X -q -U app -d shop -c "CREATE UNIQUE INDEX CONCURRENTLY u_n ON t (n)" >/dev/null 2>&1
is "$(pg "SELECT indisvalid FROM pg_index WHERE indexrelid = 'u_n'::regclass")" f "the failed CIC left u_n invalid on the target"
pg "DELETE FROM t WHERE id = 9001"
mkd retry
echo "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u_n ON t (n);" >"$W/retry/1_u.up.sql"
check "$W/retry" --no-roundtrip
is "$RC" 1 "CIC IF NOT EXISTS over an invalid index: FAIL"
is "$(q "[f['file'] for f in d['findings'] if f['kind'] == 'invalid-index'][0]")" 1_u.up.sql \
	"invalid-index names the migration whose IF NOT EXISTS skips it"
like "$(q "[f['object'] for f in d['findings'] if f['kind'] == 'invalid-index'][0]")" 'u_n' "and the index"
mkd other
echo "ALTER TABLE t ADD COLUMN other int;" >"$W/other/1_other.up.sql"
check "$W/other" --no-roundtrip
is "$(q "[f['severity'] for f in d['findings'] if f['kind'] == 'invalid-index']")" '["error"]' \
	"an invalid index on the target is a FAIL of the run even when no migration touches it"
pg "DROP INDEX u_n"
check "$W/other" --no-roundtrip
is "$(has invalid-index)" false "none once it is dropped"
done_testing
