#!/usr/bin/env bash
# pgp-create --archive REPO makes a local cluster that archives its WAL
# with pgp-backup wal-push (wal_level, archive_mode, archive_command with
# absolute paths, a state directory; the backup role gets REPLICATION and
# a hostssl replication line); a base backup through that role over TLS;
# and pgp-alert's backup and archiver checks read the cluster's state
# file (the last base backup's age, the WAL stored, the oldest point a
# restore reaches).
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
dir=$(mktemp -d /tmp/pgpr.XXXXXX)
repo=$dir-repo
port=$(free_port)
at_exit "pgp-create -c /dev/null --local '$dir' --stop; rm -rf '$dir' '$repo'"
run pgp-create -q -c /dev/null --local "$dir" --database shop --port "$port" --archive "$repo"
is "$RC" 0 "pgp-create --local --archive"
[ "$RC" = 0 ] || diag "$ERR"
export PGSERVICEFILE=$dir/pg_service.conf PGPASSFILE=$dir/pgpass
admin() { psql -X -q -A -t -v ON_ERROR_STOP=1 "service=shop-admin" "$@"; }
is "$(admin -c "SHOW archive_mode")" on "archive_mode is on"
is "$(admin -c "SHOW wal_level")" replica "wal_level is replica"
like "$(admin -c "SHOW archive_command")" "^'[^']*/pgp-backup' -c /dev/null --repo '$repo' --state-dir '$dir/state' wal-push %p\$" \
	"archive_command: pgp-backup wal-push with absolute paths"
is "$(admin -c "SELECT rolreplication FROM pg_roles WHERE rolname = 'shop_backup'")" t "the backup role has REPLICATION"
like "$(cat "$dir/data/pg_hba.conf")" "hostssl +replication +\"shop_backup\" +127.0.0.1/32 +scram-sha-256" \
	"and a hostssl replication line"
is "$(stat -c %U "$dir/state")" postgres "the state directory belongs to the server's user"

admin -c "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g" -c "SELECT pg_switch_wal()" >/dev/null
for i in $(seq 100); do
	[ "$(admin -c "SELECT archived_count > 0 FROM pg_stat_archiver")" = t ] && break
	sleep 0.1
done
is "$(admin -c "SELECT archived_count > 0 AND failed_count = 0 FROM pg_stat_archiver")" t \
	"the server archives through wal-push, without a failure"
state=$(ls "$dir/state"/cluster-*.json 2>/dev/null | head -n 1)
ok "wal-push wrote the cluster's state file" -- test -s "$state"
like "$(json_get "$(cat "$state")" 'd["last_archived_wal"]')" '^0{7}1' "with the last WAL archived"
rerun=$(pgp-create -c /dev/null --local "$dir" --database shop --archive "$repo" 2>&1)
unlike "$rerun" "restarting" "a second run with the same --archive restarts nothing"
run pgp-create -c /dev/null -d "service=shop-admin" --database shop --archive "$repo"
is "$RC" 2 "--archive on an existing server: a usage error"
like "$ERR" "ALTER SYSTEM SET archive_command" "showing the line to set by hand"

# pgp-alert: archived WAL but no base backup is nothing to restore from.
alert() { pgp-alert -c /dev/null -d service=shop-monitor --state-dir "$dir/alert" "$@"; }
PGP_BACKUP_STATE_DIR=$dir/state run alert --check backup
is "$RC" 2 "pgp-alert: WAL archived but no base backup is CRITICAL"
like "$OUT" "cluster [0-9]+.*no base backup recorded" "naming the cluster"
PGP_BACKUP_STATE_DIR=$dir/state run alert --check archiver --format json
is "$RC" 0 "the archiver check is OK"
like "$(json_get "$OUT" '[c for c in d["targets"][0]["checks"] if c["name"] == "archiver"][0]["text"]')" \
	"stored up to 0{7}1" "and says what the repository holds"

# A base backup as the backup role over TLS (the service's replication line).
run pgp-backup -c /dev/null --repo "$repo" --state-dir "$dir/state" backup --physical -d service=shop-backup
is "$RC" 0 "backup --physical as shop_backup through its service"
[ "$RC" = 0 ] || diag "$ERR"
PGP_BACKUP_STATE_DIR=$dir/state run alert --check backup
is "$RC" 0 "pgp-alert: a fresh base backup is OK"
like "$OUT" "'backup:cluster [0-9]+'=[0-9]+s;93600;180000;0" "its age as perfdata"
PGP_BACKUP_STATE_DIR=$dir/state run alert --check backup --format json
like "$(json_get "$OUT" '[c for c in d["targets"][0]["checks"] if c["name"] == "backup"][0]["items"][0]["detail"]')" \
	"recoverable from" "the oldest recoverable point is in the detail"

# By hand, as pgp-backup(1) shows it, without pgp: zstd, tar and a shell restore_command.
admin -c "INSERT INTO t SELECT g FROM generate_series(1001, 1500) g" -c "SELECT pg_switch_wal()" >/dev/null
for i in $(seq 100); do
	[ "$(admin -c "SELECT last_archived_wal = pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver")" = t ] && break
	sleep 0.1
done
B=$(ls -d "$repo"/clusters/*/base/* | tail -n 1)
W=$(ls -d "$repo"/clusters/*/wal)
hand=$dir/hand
hport=$(free_port)
install -d -o postgres -m 700 "$hand"
(cd "$hand" && zstd -dc "$B/base.tar.zst" | tar -x)
cat >>"$hand/postgresql.auto.conf" <<EOF
restore_command = 'f=\$(ls $W/*/%f-* 2>/dev/null | head -1); [ -n "\$f" ] && zstd -dc "\$f" >%p'
recovery_target_action = promote
port = $hport
archive_mode = off
EOF
touch "$hand/recovery.signal"
chown -R postgres: "$hand"
run as_pg "$PG_BINDIR/pg_ctl" -D "$hand" -l "$hand/recovery.log" -w -t 60 start
is "$RC" 0 "the man page's by-hand restore starts"
[ "$RC" = 0 ] || diag "$ERR $(tail -5 "$hand/recovery.log")"
at_exit "runuser -u postgres -- '$PG_BINDIR/pg_ctl' -D '$hand' -m immediate stop >/dev/null 2>&1"
for i in $(seq 100); do
	[ "$(psql -X -A -t "host=$dir/run port=$hport user=postgres dbname=shop" -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ] && break
	sleep 0.2
done
is "$(psql -X -A -t "host=$dir/run port=$hport user=postgres dbname=shop" -c "SELECT count(*) FROM t" 2>&1)" 1500 \
	"it replays the archived WAL to its end: every row, the ones after the base backup too"
runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$hand" -m fast stop >/dev/null 2>&1

# A test restore with --no-archive pushes nothing of its own into the archive.
histories() { ls "$repo"/clusters/*/wal/history 2>/dev/null | wc -l; }
before=$(histories)
copy=$dir/copy
install -d -o postgres -m 700 "$copy"
cport=$(free_port)
run pgp-backup -c /dev/null --repo "$repo" --state-dir "$dir/state" restore --physical latest --data-dir "$copy" \
	--no-archive --start -d "host=$dir/run port=$cport"
is "$RC" 0 "restore --physical --no-archive --start"
[ "$RC" = 0 ] || diag "$ERR"
at_exit "runuser -u postgres -- '$PG_BINDIR/pg_ctl' -D '$copy' -m immediate stop >/dev/null 2>&1"
is "$(psql -X -A -t "host=$dir/run port=$cport user=postgres dbname=shop" -c "SHOW archive_mode")" off \
	"the copy does not archive"
like "$(grep '^restore_command' "$copy/postgresql.auto.conf")" "--state-dir ''$dir/state''" \
	"its restore_command carries the state directory (the prefetch spool)"
psql -X -q "host=$dir/run port=$cport user=postgres dbname=shop" -c "SELECT pg_switch_wal()" >/dev/null 2>&1
sleep 1
is "$(histories)" "$before" "and its new timeline's history is not in the repository"
run pgp-backup keygen "$dir/key.txt"
is "$RC" 0 "keygen"
run pgp-backup keygen "$dir/key.txt"
is "$RC" 2 "keygen over an existing file: a usage error (2)"
# Damaged files the next run finds: cluster.json, the cluster's state file.
cj=$(ls "$repo"/clusters/*/cluster.json)
cp "$cj" "$dir/cluster.json.good"
for damage in truncate format segsize; do
	case $damage in
	truncate) head -c 20 "$dir/cluster.json.good" >"$cj" ;;
	*) python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
if sys.argv[2] == 'format': d['format'] = 'pgp-backup-cluster/9'
else: d['wal_segment_size'] = 12345
json.dump(d, open(sys.argv[3], 'w'))" "$dir/cluster.json.good" "$damage" "$cj" ;;
	esac
	cp "$cj" "$dir/cluster.json.bad"
	run pgp-backup -c /dev/null --repo "$repo" --state-dir "$dir/state" verify --physical latest
	is "$RC" 1 "cluster.json damaged ($damage): verify --physical finds it (1)"
	like "$ERR" "cluster.json is unreadable" "naming the file"
	run pgp-backup -c /dev/null --repo "$repo" --state-dir "$dir/state" backup --physical -d service=shop-backup
	ok "cluster.json damaged ($damage): a base backup fails" -- [ "$RC" -ne 0 ]
	ok "and does not write over it" -- cmp -s "$cj" "$dir/cluster.json.bad"
done
cp "$dir/cluster.json.good" "$cj"
chown postgres: "$cj"
st=$(ls "$dir/state"/cluster-*.json | head -n 1)
cp "$st" "$dir/state.good"
printf '{"last_base_backup_time": ' >"$st"
PGP_BACKUP_STATE_DIR=$dir/state run alert --check backup
is "$RC" 3 "a cluster state file that does not parse: pgp-alert says UNKNOWN, not OK"
like "$OUT" "cannot read its state file" "naming it"
cp "$dir/state.good" "$st"
PGP_BACKUP_STATE_DIR=$dir/state run alert --check backup
is "$RC" 0 "the good one back: OK again"
done_testing
