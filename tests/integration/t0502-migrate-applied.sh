#!/usr/bin/env bash
# pgp-migrate-check's applied state on a real PostgreSQL 15: for every
# tool, its bookkeeping table created as the tool creates it and rows
# written as the tool writes them, with the checksums computed here by
# Python (zlib.crc32 over lines, hashlib) and not by pgp; then pending,
# applied and failed migrations, drift after an edit (and none after a
# CRLF-only change where the tool ignores line endings), missing files,
# dirty and failed rows, a held knex lock, out-of-order files, duplicate
# versions, a schema_migrations of another tool, and a role that may not
# read the table (exit 5).
. "$(dirname "$0")/lib.sh"
need python3
pg_start
W=$(mktemp -d /tmp/pgpma.XXXXXX)
at_exit "rm -rf '$W'"
FIX=$PGP_SRC/tests/integration/migrate
psql_q -c "CREATE ROLE app LOGIN" -c "CREATE ROLE nosy LOGIN" >/dev/null

# db NAME: a fresh database owned by app; SQL on stdin runs in it as app.
db() {
	psql_q -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 OWNER app" >/dev/null 2>&1
	psql -X -q -v ON_ERROR_STOP=1 -U app -d "$1" "${@:2}" >/dev/null
}
# check NAME DIR [options]: the check of DIR against database NAME as app.
check() {
	local name=$1 d=$2
	shift 2
	run pgp-migrate-check -c /dev/null -d "host=$PGHOST port=$PGPORT user=app dbname=$name" \
		--no-trace --no-roundtrip --format json "$@" "$d"
}
status() { json_get "$OUT" "[m['status'] for m in d['migrations'] if m['file'] == '$1'][0]"; }
kinds() { json_get "$OUT" "' '.join(sorted(set(f['kind'] for f in d['findings'])))"; }
# finding KIND: severity:message of the first finding of that kind
finding() { json_get "$OUT" "[f['severity'] + ':' + (f['object'] or '') + ':' + f['message'] for f in d['findings'] if f['kind'] == '$1'][0]"; }
copy() { rm -rf "$W/$1"; cp -r "$FIX/$1" "$W/$1"; }
crlf() { python3 -c "import sys; p=sys.argv[1]; b=open(p,'rb').read().replace(b'\r\n',b'\n'); open(p,'wb').write(b.replace(b'\n',b'\r\n'))" "$1"; }
# The tools' checksums, computed independently of pgp.
sum() {
	python3 - "$@" <<'PY'
import hashlib, sys, zlib
tool, path = sys.argv[1], sys.argv[2]
b = open(path, 'rb').read()
if tool == 'flyway':
    t = b.decode('utf-8')
    if t.startswith('\ufeff'):
        t = t[1:]
    c = 0
    for line in t.replace('\r\n', '\n').replace('\r', '\n').split('\n'):
        c = zlib.crc32(line.encode('utf-8'), c)
    print(c - 2**32 if c >= 2**31 else c)
elif tool == 'drizzle':
    print(hashlib.sha256(b.replace(b'\r\n', b'\n')).hexdigest())
elif tool == 'prisma':
    print(hashlib.sha256(b).hexdigest())
elif tool == 'sqitch':
    print(hashlib.sha1(b).hexdigest())
PY
}

# ---- Flyway (createMetaDataTable.sql of flyway-database-postgresql)
flyway_table() {
	cat <<'SQL'
CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
SQL
}
# fw_row RANK VERSION DESC FILE SUCCESS: the row Flyway inserts after a migration
fw_row() {
	printf "INSERT INTO \"public\".\"flyway_schema_history\" (\"installed_rank\", \"version\", \"description\", \"type\", \"script\", \"checksum\", \"installed_by\", \"execution_time\", \"success\") VALUES (%s, '%s', '%s', 'SQL', '%s', %s, 'app', 14, %s);\n" \
		"$1" "$2" "$3" "$4" "$(sum flyway "$W/flyway/$4" 2>/dev/null || echo NULL)" "$5"
}
copy flyway
{ flyway_table; fw_row 1 1 "create users" V1__create_users.sql true; fw_row 2 1.1 "add email" V1_1__add_email.sql true; } | db fw
crlf "$W/flyway/V1__create_users.sql"
check fw "$W/flyway"
is "$(status V1__create_users.sql) $(status V1_1__add_email.sql) $(status V2__create_orders.sql)" \
	"applied applied pending" "Flyway: two applied, V2 pending"
is "$(status R__user_view.sql)" pending "a repeatable never applied is pending"
unlike "$(kinds)" "drift" "a CRLF-only change is no drift under Flyway (CRC over lines)"
is "$(json_get "$OUT" "d['tool']")" flyway "the tool is said"

echo "-- an edit" >>"$W/flyway/V1_1__add_email.sql"
check fw "$W/flyway"
like "$(finding drift)" "^error:1.1:.*Flyway recorded checksum" "an edited applied file: drift, an error"
is "$RC" 1 "drift fails the check"

copy flyway
{ flyway_table; fw_row 1 1 "create users" V1__create_users.sql true; fw_row 2 2 "create orders" V2__create_orders.sql true;
  fw_row 3 0.5 "gone" V0_5__gone.sql true; } | db fw
check fw "$W/flyway"
like "$(finding missing-file)" "^error:0.5:" "an applied version without a file: missing-file"
like "$(finding out-of-order)" "^error:1.1:.*Flyway ignores it" "V1.1 pending below applied V2: out-of-order"
is "$(status V1_1__add_email.sql)" pending "and still pending"

copy flyway
{ flyway_table; fw_row 1 1 "create users" V1__create_users.sql true; fw_row 2 1.1 "add email" V1_1__add_email.sql true;
  fw_row 3 2 "create orders" V2__create_orders.sql false; } | db fw
check fw "$W/flyway"
is "$(status V2__create_orders.sql)" failed "success = false: failed"
like "$(finding failed-migration)" "^error:2:.*repaired" "a failed-migration finding"
unlike "$(kinds)" "out-of-order" "nothing out of order when the applied ones come first"

printf 'SELECT 1;\n' >"$W/flyway/V1.0__again.sql"
check fw "$W/flyway"
like "$(finding duplicate-version)" "^error:.*both version 1" "V1 and V1.0: duplicate-version"

# ---- golang-migrate (database/postgres/postgres.go ensureVersionTable)
gm_table='CREATE TABLE IF NOT EXISTS "public"."schema_migrations" (version bigint not null primary key, dirty boolean not null);'
copy golang-migrate
# SetVersion: TRUNCATE, then one row
printf '%s\nBEGIN; TRUNCATE "public"."schema_migrations"; INSERT INTO "public"."schema_migrations" (version, dirty) VALUES (2, false); COMMIT;\n' "$gm_table" | db gm
check gm "$W/golang-migrate"
is "$(status 000001_create_users.up.sql) $(status 000002_add_email.up.sql) $(status 000003_create_orders.up.sql)" \
	"applied applied pending" "golang-migrate: version 2 means 1 and 2 applied"
unlike "$(kinds)" "dirty" "a clean row is not dirty"
printf '%s\nINSERT INTO "public"."schema_migrations" (version, dirty) VALUES (2, true);\n' "$gm_table" | db gm
check gm "$W/golang-migrate"
like "$(finding dirty)" "^error:2:.*migrate force 2.*migrate force 1" "dirty: the version named and what to run"
is "$RC" 1 "a dirty database fails the check"
is "$(status 000002_add_email.up.sql)" failed "the dirty version is failed"
printf '%s\nINSERT INTO "public"."schema_migrations" (version, dirty) VALUES (7, false);\n' "$gm_table" | db gm
check gm "$W/golang-migrate"
like "$(finding missing-file)" "^error:7:" "at a version no file has: missing-file"
printf 'SELECT 1;\n' >"$W/golang-migrate/2_again.up.sql"
check gm "$W/golang-migrate"
like "$(finding duplicate-version)" "^error:2:" "000002 and 2: duplicate-version"

# ---- dbmate (pkg/driver/postgres/postgres.go CreateMigrationsTable)
db_table='create table if not exists public.schema_migrations (version varchar(128) primary key);'
copy dbmate
printf "%s\ninsert into public.schema_migrations (version) values ('20240102000000'), ('20231231000000');\n" "$db_table" | db dbm
check dbm "$W/dbmate"
is "$(status db/migrations/20240101000000_create_users.sql) $(status db/migrations/20240102000000_index_users.sql)" \
	"pending applied" "dbmate: one applied, the older one pending"
like "$(finding out-of-order)" "^warning:20240101000000:.*dbmate applies it out of order" "pending before the last applied: out-of-order"
like "$(finding missing-file)" "^warning:20231231000000:" "an applied version without a file"
unlike "$(kinds)" "drift" "a dbmate table is no surprise for dbmate files"
# golang-migrate's files against dbmate's table: said
printf "%s\ninsert into public.schema_migrations (version) values ('1');\n" "$db_table" | db gm
check gm "$FIX/golang-migrate"
like "$(finding drift)" "looks like dbmate's.*files are golang-migrate's" "a schema_migrations of another tool is said"

# ---- Rails (schema_migrations + ar_internal_metadata)
copy rails
db rails <<'SQL'
CREATE TABLE "schema_migrations" ("version" character varying NOT NULL PRIMARY KEY);
CREATE TABLE "ar_internal_metadata" ("key" character varying NOT NULL PRIMARY KEY, "value" character varying, "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL);
INSERT INTO "ar_internal_metadata" ("key", "value", "created_at", "updated_at") VALUES ('environment', 'production', now(), now());
INSERT INTO "schema_migrations" ("version") VALUES ('20240101000000');
SQL
check rails "$W/rails"
is "$(status db/migrate/20240101000000_create_users.rb) $(status db/migrate/20240102000000_add_email_to_users.rb)" \
	"applied pending" "Rails: by version"
unlike "$(kinds)" "drift|missing-file" "Rails' own table, all files present"
is "$RC" 0 "nothing wrong with the bookkeeping: exit 0"
check rails "$FIX/dbmate"
like "$(finding drift)" "looks like rails's" "dbmate files against a Rails table: said"

# ---- sqitch (lib/App/Sqitch/Engine/pg.sql, registry v1.0)
sqitch_registry() {
	cat <<'SQL'
CREATE SCHEMA sqitch;
CREATE TABLE sqitch.releases (version REAL PRIMARY KEY, installed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), installer_name TEXT NOT NULL, installer_email TEXT NOT NULL);
CREATE TABLE sqitch.projects (project TEXT PRIMARY KEY, uri TEXT NULL UNIQUE, created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), creator_name TEXT NOT NULL, creator_email TEXT NOT NULL);
CREATE TABLE sqitch.changes (change_id TEXT PRIMARY KEY, script_hash TEXT NULL, change TEXT NOT NULL, project TEXT NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE, note TEXT NOT NULL DEFAULT '', committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, planned_at TIMESTAMPTZ NOT NULL, planner_name TEXT NOT NULL, planner_email TEXT NOT NULL, UNIQUE(project, script_hash));
CREATE TABLE sqitch.tags (tag_id TEXT PRIMARY KEY, tag TEXT NOT NULL, project TEXT NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE, change_id TEXT NOT NULL REFERENCES sqitch.changes(change_id) ON UPDATE CASCADE, note TEXT NOT NULL DEFAULT '', committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, planned_at TIMESTAMPTZ NOT NULL, planner_name TEXT NOT NULL, planner_email TEXT NOT NULL, UNIQUE(project, tag));
CREATE TABLE sqitch.dependencies (change_id TEXT NOT NULL REFERENCES sqitch.changes(change_id) ON UPDATE CASCADE ON DELETE CASCADE, type TEXT NOT NULL, dependency TEXT NOT NULL, dependency_id TEXT NULL REFERENCES sqitch.changes(change_id) ON UPDATE CASCADE CONSTRAINT dependencies_check CHECK ((type = 'require' AND dependency_id IS NOT NULL) OR (type = 'conflict' AND dependency_id IS NULL)), PRIMARY KEY (change_id, dependency));
CREATE TABLE sqitch.events (event TEXT NOT NULL CONSTRAINT events_event_check CHECK (event IN ('deploy', 'revert', 'fail', 'merge')), change_id TEXT NOT NULL, change TEXT NOT NULL, project TEXT NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE, note TEXT NOT NULL DEFAULT '', requires TEXT[] NOT NULL DEFAULT '{}', conflicts TEXT[] NOT NULL DEFAULT '{}', tags TEXT[] NOT NULL DEFAULT '{}', committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), committer_name TEXT NOT NULL, committer_email TEXT NOT NULL, planned_at TIMESTAMPTZ NOT NULL, planner_name TEXT NOT NULL, planner_email TEXT NOT NULL, PRIMARY KEY (change_id, committed_at));
INSERT INTO sqitch.releases VALUES (1.1, clock_timestamp(), 'Ann Admin', 'ann@example.com');
INSERT INTO sqitch.projects (project, uri, creator_name, creator_email) VALUES ('shop', 'https://example.com/shop/', 'Ann Admin', 'ann@example.com');
SQL
}
# sq_change NAME SCRIPT PLANNED NOTE [PARENT_ID]: the changes row and its
# deploy event, change_id computed as Plan/Change.pm does (git-object SHA-1).
sq_change() {
	local id
	id=$(python3 - "$1" "$3" "$4" "${5:-}" <<'PY'
import hashlib, sys
name, date, note, parent = sys.argv[1:5]
info = ['project shop', 'uri https://example.com/shop/', 'change ' + name]
if parent:
    info.append('parent ' + parent)
info += ['planner Ann Admin <ann@example.com>', 'date ' + date]
if note:
    info += ['', note]
c = '\n'.join(info).encode()
print(hashlib.sha1(b'change ' + str(len(c)).encode() + b'\0' + c).hexdigest())
PY
)
	printf "INSERT INTO sqitch.changes (change_id, script_hash, change, project, note, committer_name, committer_email, planned_at, planner_name, planner_email) VALUES ('%s', '%s', '%s', 'shop', '%s', 'Ann Admin', 'ann@example.com', '%s', 'Ann Admin', 'ann@example.com');\n" \
		"$id" "$(sum sqitch "$W/sqitch/$2")" "$1" "$4" "$3"
	printf "INSERT INTO sqitch.events (event, change_id, change, project, note, committer_name, committer_email, planned_at, planner_name, planner_email) VALUES ('deploy', '%s', '%s', 'shop', '%s', 'Ann Admin', 'ann@example.com', '%s', 'Ann Admin', 'ann@example.com');\n" \
		"$id" "$1" "$4" "$3"
	SQ_LAST=$id
}
copy sqitch
{ sqitch_registry; sq_change users deploy/users.sql 2024-01-01T10:00:00Z "the users table"; } >"$W/sq.sql"
sq_change email 'deploy/email@v1.0.sql' 2024-01-02T10:00:00Z "an email column" "$SQ_LAST" >>"$W/sq.sql"
printf "INSERT INTO sqitch.events (event, change_id, change, project, committer_name, committer_email, planned_at, planner_name, planner_email) VALUES ('fail', 'ffffffffffffffffffffffffffffffffffffffff', 'email', 'shop', 'Ann Admin', 'ann@example.com', '2024-01-04T10:00:00Z', 'Ann Admin', 'ann@example.com');\n" >>"$W/sq.sql"
db sq <"$W/sq.sql"
check sq "$W/sqitch"
is "$(status deploy/users.sql) $(status 'deploy/email@v1.0.sql') $(status deploy/email.sql)" \
	"applied applied failed" "sqitch: the reworked change's first version applied, its rework failed"
like "$(finding failed-migration)" "^warning:email:.*fail" "the last event fail: failed-migration"
unlike "$(kinds)" "drift" "unchanged scripts: no drift"
crlf "$W/sqitch/deploy/users.sql"
check sq "$W/sqitch"
like "$(finding drift)" "^warning:users:.*script_hash" "a CRLF-only change IS drift under sqitch (SHA-1 of the raw bytes)"

# ---- Prisma (sql-schema-connector: the _prisma_migrations DDL)
prisma_table='CREATE TABLE "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);'
pm=prisma/migrations
pr_row() { # NAME FINISHED(now()|NULL)
	printf "INSERT INTO \"_prisma_migrations\" (\"id\", \"checksum\", \"finished_at\", \"migration_name\", \"logs\", \"rolled_back_at\", \"started_at\", \"applied_steps_count\") VALUES ('%s', '%s', %s, '%s', NULL, NULL, now(), %s);\n" \
		"$(python3 -c 'import uuid; print(uuid.uuid4())')" "$(sum prisma "$W/prisma/$pm/$1/migration.sql")" "$2" "$1" \
		"$([ "$2" = NULL ] && echo 0 || echo 1)"
}
copy prisma
{ echo "$prisma_table"; pr_row 20240101000000_init "now()"; pr_row 20240102000000_add_email NULL; } | db pr
crlf "$W/prisma/$pm/20240101000000_init/migration.sql"
check pr "$W/prisma"
is "$(status $pm/20240101000000_init/migration.sql) $(status $pm/20240102000000_add_email/migration.sql)" \
	"applied failed" "Prisma: finished, and one neither finished nor rolled back"
unlike "$(kinds)" "drift" "a CRLF-only change is no drift under Prisma (it tries LF and CRLF)"
like "$(finding failed-migration)" "^error:20240102000000_add_email:.*P3009" "failed-migration names P3009"
# An old engine's checksum without zero padding (prisma-engines#1887)
legacy=$(python3 -c "import hashlib,sys; print(''.join('%x' % b for b in hashlib.sha256(open(sys.argv[1],'rb').read()).digest()))" \
	"$FIX/prisma/$pm/20240101000000_init/migration.sql")
psql_q -U app -d pr -c "UPDATE \"_prisma_migrations\" SET checksum = '$legacy' WHERE migration_name = '20240101000000_init'" >/dev/null
check pr "$W/prisma"
ok "the legacy checksum is ${#legacy} characters, not 64" [ "${#legacy}" -lt 64 ]
unlike "$(kinds)" "drift" "a legacy unpadded checksum of the same script is no drift"
echo '-- edited' >>"$W/prisma/$pm/20240101000000_init/migration.sql"
check pr "$W/prisma"
like "$(finding drift)" "^warning:20240101000000_init:" "an edited migration.sql: drift"

# ---- Drizzle (pg-core/dialect.ts migrate)
dz_table='CREATE SCHEMA IF NOT EXISTS "drizzle"; CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);'
dz_row() { printf "insert into \"drizzle\".\"__drizzle_migrations\" (\"hash\", \"created_at\") values ('%s', '%s');\n" "$(sum drizzle "$W/drizzle/drizzle/$1")" "$2"; }
copy drizzle
{ echo "$dz_table"; dz_row 0001_add_email.sql 1704189600000; } | db dz
check dz "$W/drizzle"
like "$(finding out-of-order)" "^error:0000_init_users:.*silently skips" "Drizzle skips an entry older than the last applied"
is "$(status drizzle/0000_init_users.sql) $(status drizzle/0001_add_email.sql)" "unknown applied" "neither pending nor applied: never runs"
{ echo "$dz_table"; dz_row 0000_init_users.sql 1704103200000; } | db dz
crlf "$W/drizzle/drizzle/0000_init_users.sql"
check dz "$W/drizzle"
is "$(status drizzle/0000_init_users.sql) $(status drizzle/0001_add_email.sql)" "applied pending" "Drizzle: by when"
unlike "$(kinds)" "drift|out-of-order" "CRLF is normalised before hashing: no drift"
echo '-- edited' >>"$W/drizzle/drizzle/0000_init_users.sql"
check dz "$W/drizzle"
like "$(finding drift)" "^warning:0000_init_users:.*never re-checks" "an edit: drift, which Drizzle itself never sees"

# ---- knex (migrate/table-creator.js)
copy knex
db kx <<'SQL'
create table "knex_migrations" ("id" serial primary key, "name" varchar(255), "batch" integer, "migration_time" timestamptz);
create table "knex_migrations_lock" ("index" serial primary key, "is_locked" integer);
insert into "knex_migrations_lock" ("is_locked") values (0);
insert into "knex_migrations" ("name", "batch", "migration_time") values ('20240102000000_add_email.js', 1, now());
SQL
check kx "$W/knex"
is "$(status migrations/20240101000000_create_users.js) $(status migrations/20240102000000_add_email.js)" \
	"pending applied" "knex: by name"
like "$(finding out-of-order)" "^warning:20240101000000_create_users.js:" "an older pending file: out-of-order"
unlike "$(kinds)" "stuck-lock" "an open lock is no finding"
psql_q -U app -d kx -c "update knex_migrations_lock set is_locked = 1" -c "insert into knex_migrations (name, batch, migration_time) values ('20231201000000_gone.js', 1, now())" >/dev/null
check kx "$W/knex"
like "$(finding stuck-lock)" "^error:.*is_locked = 1" "is_locked = 1: stuck-lock"
is "$RC" 1 "a held knex lock fails the check"
like "$(finding missing-file)" "^error:20231201000000_gone.js:.*corrupt" "an applied name without a file"

# ---- Alembic (runtime/migration.py: the version table)
copy alembic
db al <<'SQL'
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version (version_num) VALUES ('1a2b3c4d5e6f');
SQL
check al "$W/alembic"
is "$(status alembic/versions/1a2b3c4d5e6f_create_users.py) $(status alembic/versions/0f9e8d7c6b5a_add_email.py)" \
	"applied pending" "Alembic: the head and its ancestors applied"
psql_q -U app -d al -c "UPDATE alembic_version SET version_num = '0f9e8d7c6b5a'" >/dev/null
check al "$W/alembic"
is "$(status alembic/versions/1a2b3c4d5e6f_create_users.py) $(status alembic/versions/0f9e8d7c6b5a_add_email.py)" \
	"applied applied" "the newer head: both applied (down_revision followed)"
psql_q -U app -d al -c "UPDATE alembic_version SET version_num = 'deadbeef0000'" >/dev/null
check al "$W/alembic"
like "$(finding missing-file)" "^error:deadbeef0000:.*Can't locate revision" "a head no file has: missing-file"

# ---- no table yet: everything pending; a role that may not read it: 5
db empty </dev/null
check empty "$FIX/flyway"
is "$(json_get "$OUT" "sorted(set(m['status'] for m in d['migrations']))")" '["pending"]' "no bookkeeping table: all pending"
copy flyway
{ flyway_table; fw_row 1 1 "create users" V1__create_users.sql true; } | db fw
run pgp-migrate-check -c /dev/null -d "host=$PGHOST port=$PGPORT user=nosy dbname=fw" --no-trace --no-roundtrip --format json "$W/flyway"
is "$RC" 5 "a role without SELECT on the table: exit 5"
like "$ERR" "public.flyway_schema_history.*SELECT" "naming the table and the privilege"
done_testing
