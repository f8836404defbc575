#!/usr/bin/env bash
# pgp-tune against a real PostgreSQL 15: every workload's fragment loads
# (postgres -C) and starts a server; --apply then --check finds no drift;
# a setting changed by hand is drift (exit 1), a live -1 printed as -1;
# bad inputs refused before connecting; hardware detection inside a real
# memory limit (cgroup v2 or v1) and from a fabricated cgroup v2 tree.
. "$(dirname "$0")/lib.sh"
pg_start
data=$PGDIR/data
echo "include_if_exists = 'pgp-tune.conf'" >>"$data/postgresql.conf"
hw="--memory 1GB --cpus 2 --storage ssd"

as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w stop >/dev/null
for w in web oltp dw desktop mixed; do
	pgp-tune -q -c /dev/null $hw --workload "$w" >"$PGDIR/frag"
	is "$?" 0 "$w: a fragment"
	install -o postgres -m 0600 "$PGDIR/frag" "$data/pgp-tune.conf" 2>/dev/null || cp "$PGDIR/frag" "$data/pgp-tune.conf"
	want=$(sed -n "s/^work_mem = '\(.*\)'.*/\1/p" "$PGDIR/frag")
	run as_pg "$PG_BINDIR/postgres" -D "$data" -C work_mem
	is "$RC" 0 "$w: postgres -C loads the fragment"
	[ "$RC" = 0 ] || diag "$ERR"
	run as_pg "$PG_BINDIR/postgres" -D "$data" -C shared_buffers
	like "$OUT" "^[0-9]+$" "$w: shared_buffers parsed"
	run as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$PGDIR/server.log" -w -t 60 start
	is "$RC" 0 "$w: the server starts with it"
	[ "$RC" = 0 ] || tail -5 "$PGDIR/server.log" | sed 's/^/# /'
	run psql -X -A -t -c "SHOW work_mem"
	is "$OUT" "$want" "$w: the server runs with work_mem = $want"
	as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w stop >/dev/null
done
rm -f "$data/pgp-tune.conf"
as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$PGDIR/server.log" -w start >/dev/null

# --format json from a live server: inputs with sources, current values.
run pgp-tune -c /dev/null $hw -d "dbname=postgres" --format json
is "$RC" 0 "JSON from a live server"
is "$(json_get "$OUT" 'd["inputs"]["memory_bytes"]["source"]')" given "memory: given"
is "$(json_get "$OUT" 'd["inputs"]["pg_version"]')" '{"value": 15, "source": "detected"}' "version detected from the server"
is "$(json_get "$OUT" '[s for s in d["settings"] if s["name"]=="shared_buffers"][0]["value"]')" 256MB "shared_buffers value"
is "$(json_get "$OUT" '[s for s in d["settings"] if s["name"]=="shared_buffers"][0]["unit"]')" 8kB "its pg_settings unit"
is "$(json_get "$OUT" '[s for s in d["settings"] if s["name"]=="shared_buffers"][0]["current"]')" 128MB "its live value"
is "$(json_get "$OUT" '[s for s in d["settings"] if s["name"]=="wal_compression"][0]["value"]')" lz4 "lz4 where the server has it"
is "$(json_get "$OUT" '[s for s in d["settings"] if s["name"]=="random_page_cost"][0]["unit"]')" null "no unit: null"

run pgp-tune -c /dev/null $hw -d "dbname=postgres" --check
is "$RC" 1 "--check on defaults: drift (exit 1)"
like "$OUT" "drift: shared_buffers is 128MB, wanted 256MB" "names setting, live and wanted values"
is "$(psql -X -A -t -c "SHOW autovacuum_work_mem")" -1 "autovacuum_work_mem is -1 on a fresh server"
like "$OUT" "drift: autovacuum_work_mem is -1, wanted [0-9]+[kMG]B" "a live -1 is printed as -1"
unlike "$OUT" "18014398509481983" "never as -1kB read as an unsigned number of bytes"

run pgp-tune -c /dev/null $hw -d "dbname=postgres" --apply
is "$RC" 0 "--apply"
like "$OUT" "waiting for a restart.*shared_buffers" "lists the settings waiting for a restart"
run psql -X -A -t -c "SHOW work_mem"
is "$OUT" "$(pgp-tune -c /dev/null $hw | sed -n "s/^work_mem = '\(.*\)'.*/\1/p")" "reloadable settings are live at once"
run pgp-tune -c /dev/null $hw -d "dbname=postgres" --check
is "$RC" 1 "before the restart, --check still reports the pending ones"
like "$OUT" "waits for a restart" "and says they wait for a restart"
as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$PGDIR/server.log" -m fast -w restart >/dev/null
run pgp-tune -c /dev/null $hw -d "dbname=postgres" --check
is "$RC" 0 "--apply, restart, --check: no drift"
like "$OUT" "no drift" "says so"
run pgp-tune -q -c /dev/null $hw -d "dbname=postgres" --check
is "$OUT" "" "quiet when there is no drift (for cron)"

psql -X -q -c "ALTER SYSTEM SET work_mem = '1MB'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
run pgp-tune -q -c /dev/null $hw -d "dbname=postgres" --check
is "$RC" 1 "a setting changed by hand is drift"
like "$OUT" "drift: work_mem is 1MB, wanted" "and is named"
is "$(printf '%s\n' "$OUT" | grep -c '^drift:')" 1 "only that one"
printf 'tune = { tolerance = 99.0; };\n' >"$PGDIR/tol.conf"
run pgp-tune -q -c "$PGDIR/tol.conf" $hw -d "dbname=postgres" --check
is "$RC" 0 "tune.tolerance from the config widens what counts as drift"

# Managed instances cannot ALTER SYSTEM: --apply says so, --check works.
psql -X -q -c "CREATE ROLE rds_superuser NOLOGIN" -c "CREATE ROLE master LOGIN IN ROLE rds_superuser, pg_read_all_settings" >/dev/null
run pgp-tune -c /dev/null $hw -d "dbname=postgres user=master" --apply
is "$RC" 5 "--apply as a managed admin fails"
like "$ERR" "ALTER SYSTEM is not allowed for master \(rds_superuser\)" "and says why"
like "$ERR" "parameter group" "and where the values go"
run pgp-tune -c /dev/null $hw -d "dbname=postgres user=master" --check
is "$RC" 1 "--check still works as a managed admin"

run pgp-tune -c /dev/null -d "host=db.example.invalid dbname=x" --check
is "$RC" 2 "a remote target without --memory/--cpus is a usage error"
like "$ERR" "not this machine" "saying why"
run pgp-tune -c /dev/null --check
is "$RC" 2 "--check without a server is a usage error"
run pgp-tune -c /dev/null --memory lots
is "$RC" 2 "a bad --memory is a usage error"
run pgp-tune -c /dev/null --workload batch
like "$ERR" 'option --workload is "batch" \(allowed: web, oltp, dw, desktop, mixed\)' "a bad --workload is named, with the words allowed"
is "$RC" 2 "exit 2"
for bad in "--cpus 0" "--cpus 4097" "--connections 4" "--pg-version 12" "--pg-version 19" "--tolerance 101" \
	   "--tolerance abc" "--storage nvme" "--memory 100MB" "--memory 65TB"; do
	# shellcheck disable=SC2086
	run pgp-tune -c /dev/null $bad -d "host=/nonexistent dbname=x" --check
	is "$RC" 2 "$bad: exit 2 before any connection"
	like "$ERR" "^pgp-tune: error: option ${bad%% *} is .*\(allowed: " "$bad: named, with what is allowed"
done
printf 'tune = {\n  cpus = 0;\n};\n' >"$PGDIR/cpus.conf"
run pgp-tune -c "$PGDIR/cpus.conf"
is "$RC:$ERR" "2:pgp-tune: error: $PGDIR/cpus.conf:2: key \"tune.cpus\" is 0, out of range (allowed: 1..4096)" \
	"tune.cpus = 0 in the file: file, line, key and range"
PGP_TUNE_WORKLOAD=batch run pgp-tune -c /dev/null
is "$RC:$ERR" "2:pgp-tune: error: environment variable PGP_TUNE_WORKLOAD is \"batch\" (allowed: web, oltp, dw, desktop, mixed)" \
	"PGP_TUNE_WORKLOAD=batch: the variable and the words"
PGP_TUNE_WORKLOAD=OLTP run pgp-tune -c /dev/null $hw --format json
is "$(json_get "$OUT" 'd["inputs"]["workload"]')" '{"value": "oltp", "source": "config"}' "PGP_TUNE_WORKLOAD=OLTP is oltp, from the configuration"

# Formats and explanations.
run pgp-tune -c /dev/null $hw --workload oltp
like "$OUT" "^# Written by pgp-tune [0-9.]+ for PostgreSQL 15: 1GB RAM \(given\), 2 CPUs \(given\)" "the conf header names tool, version and inputs"
run pgp-tune -c /dev/null $hw --explain
like "$OUT" "# 25% of 1GB RAM
shared_buffers = '256MB'" "--explain says why before each setting"
run pgp-tune -c /dev/null $hw --format sql
like "$OUT" "^ALTER SYSTEM SET shared_buffers = '256MB';" "--format sql: ALTER SYSTEM statements"
like "$OUT" "SELECT pg_reload_conf\(\);$" "ending with a reload"
run pgp-tune -c /dev/null $hw --format pgbouncer --connections 100
like "$OUT" "pool_mode = transaction" "--format pgbouncer: transaction pooling"
like "$OUT" "max_db_connections = 87" "sized from max_connections (100 - 3 reserved - 10 headroom)"

# PostgreSQL 18 fragments use io_method; 13 has no io_method.
run pgp-tune -c /dev/null $hw --pg-version 18
like "$OUT" "io_method = 'worker'" "PG18: io_method"
run pgp-tune -c /dev/null $hw --pg-version 13
unlike "$OUT" "io_method" "PG13: no io_method"

# A fabricated cgroup v2 tree through the real program.
root=$(mktemp -d /tmp/pgpsys.XXXXXX)
at_exit "rm -rf '$root'"
mkdir -p "$root/proc/self" "$root/sys/devices/system/cpu" "$root/sys/fs/cgroup/pod/ctr"
echo "MemTotal: 268435456 kB" >"$root/proc/meminfo"
echo "0-63" >"$root/sys/devices/system/cpu/online"
echo "0::/pod/ctr" >"$root/proc/self/cgroup"
echo "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw" >"$root/proc/self/mountinfo"
echo 4294967296 >"$root/sys/fs/cgroup/pod/ctr/memory.max"
echo "200000 100000" >"$root/sys/fs/cgroup/pod/ctr/cpu.max"
run pgp-tune -c /dev/null --sys-root "$root" --format json
is "$(json_get "$OUT" 'd["inputs"]["memory_bytes"]')" '{"value": 4294967296, "source": "detected"}' \
	"a 4GB container on a 256GB host is a 4GB machine"
is "$(json_get "$OUT" 'd["inputs"]["cpus"]')" '{"value": 2, "source": "detected"}' "its CPU quota gives 2 CPUs"

# Inside a real memory limit on this machine: a child group with
# memory.max on cgroup v2 (a stock Debian 12), memory.limit_in_bytes on v1.
# Where neither is mounted (a chroot without /sys/fs/cgroup), root mounts
# a hierarchy of its own for the test.
limit=1073741824 cg_procs= cg_kind=
# Each attempt and why it failed, for the diagnosis (cg_tried).
cg_tried=
cg_note() { cg_tried+="$1; "; }
cg_try_v2() {
	local mnt=$1 grp=$1/pgp-test.$$.$RANDOM err
	grep -qw memory "$mnt/cgroup.controllers" 2>/dev/null || { cg_note "$mnt: no memory controller"; return 1; }
	if ! grep -qw memory "$mnt/cgroup.subtree_control" 2>/dev/null; then
		err=$(echo +memory 2>&1 >"$mnt/cgroup.subtree_control") || { cg_note "$mnt: +memory: $err"; return 1; }
		at_exit "echo -memory >'$mnt/cgroup.subtree_control'"
	fi
	err=$(mkdir "$grp" 2>&1) || { cg_note "mkdir $grp: $err"; return 1; }
	at_exit "rmdir '$grp'"
	err=$(echo "$limit" 2>&1 >"$grp/memory.max") || { cg_note "$grp/memory.max: $err"; return 1; }
	cg_procs=$grp/cgroup.procs cg_kind="cgroup v2"
}
cg_try_v1() {
	local mnt=$1 grp=$1/pgp-test.$$.$RANDOM err
	[ -w "$mnt/cgroup.procs" ] || { cg_note "$mnt/cgroup.procs not writable"; return 1; }
	err=$(mkdir "$grp" 2>&1) || { cg_note "mkdir $grp: $err"; return 1; }
	at_exit "rmdir '$grp'"
	err=$(echo "$limit" 2>&1 >"$grp/memory.limit_in_bytes") || { cg_note "$grp/memory.limit_in_bytes: $err"; return 1; }
	cg_procs=$grp/cgroup.procs cg_kind="cgroup v1"
}
# cg_find: a writable memory limit, from the mounts as pgp-tune finds them
# (mountinfo: the type follows "-"), else (root) a hierarchy of our own.
cg_find() {
	while read -r type mnt opts; do
		[ -n "$cg_procs" ] && break
		case $type in
		cgroup2) cg_try_v2 "$mnt" ;;
		cgroup) case ",$opts," in *,memory,*) cg_try_v1 "$mnt" ;; esac ;;
		esac
	done < <(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { print $(i + 1), $5, $(i + 3); break } }' /proc/self/mountinfo)
	for type in cgroup2 cgroup; do
		[ -z "$cg_procs" ] && is_root || break
		own=$(mktemp -d /tmp/pgpcg.XXXXXX)
		at_exit "rmdir '$own'"
		if [ "$type" = cgroup2 ]; then set --; else set -- -o memory; fi
		mount -t "$type" "$@" none "$own" 2>/dev/null || continue
		at_exit "umount '$own'"
		if [ "$type" = cgroup2 ]; then cg_try_v2 "$own"; else cg_try_v1 "$own"; fi
	done
}
cg_find
# A cgroup write can fail for a moment on a busy shared host: once more.
[ -n "$cg_procs" ] || { sleep 1; cg_find; }
if [ -n "$cg_procs" ]; then
	run sh -c "echo \$\$ >'$cg_procs' && exec pgp-tune -v -c /dev/null --format json"
	is "$(json_get "$OUT" 'd["inputs"]["memory_bytes"]')" '{"value": 1073741824, "source": "detected"}' \
		"inside a real 1GB $cg_kind limit: 1GB detected"
	like "$ERR" "memory: 1073741824 bytes from $cg_kind" "from the $cg_kind limit"
	is "$(json_get "$OUT" '[s for s in d["settings"] if s["name"]=="shared_buffers"][0]["value"]')" 256MB \
		"and sized for it"
elif [ "${CI:-}" = true ]; then
	_result 0 "a writable cgroup v2 or v1 memory controller (needed under CI)"
	diag "tried: ${cg_tried:-nothing}"
else
	echo "ok $((_tap_n + 1)) # skip no writable cgroup v2 or v1 memory controller"; _tap_n=$((_tap_n + 1))
fi
done_testing
