#!/usr/bin/env bash
# pgp-create --local interrupted at each step it could die in, and two
# runs on one directory.  Nothing here waits a fixed time: PG_BINDIR points
# at stand-ins for initdb and pg_ctl that, at the point named in $sig/stop
# (a file: pgp-create passes its children no variables of ours), say so
# in a file and block on a FIFO; the test then SIGKILLs the run's process
# group (or only pgp-create, or lets it go on).  After each kill:
# the next plain run exits 0, every role connects, the run after that
# says "no changes".
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
need setsid "setsid (util-linux)"
need pgrep "pgrep (procps)"
if is_root && ! id postgres >/dev/null 2>&1; then need no-postgres-user "the postgres OS user"; fi
if is_root; then server_user=postgres; else server_user=$(id -un); fi

tmp=$(mktemp -d /tmp/pgpf.XXXXXX)
chmod 755 "$tmp"
sig=$tmp/sig			# written by the stand-ins, which run as postgres
mkdir "$sig" "$tmp/bin"
is_root && chown postgres "$sig"
at_exit "rm -rf '$tmp'"
real=$PG_BINDIR
for f in "$real"/*; do ln -s "$f" "$tmp/bin/"; done
rm -f "$tmp/bin/initdb" "$tmp/bin/pg_ctl"

# point NAME: when $sig/stop names it, the first time only, say so and block.
cat >"$tmp/point.sh" <<EOF
point() {
	[ "\$(cat "$sig/stop" 2>/dev/null)" = "\$1" ] && [ ! -e "$sig/reached" ] || return 0
	mkfifo -m 600 "$sig/go.new" && mv "$sig/go.new" "$sig/go"
	: >"$sig/reached"
	read -r _ <"$sig/go"
}
EOF
cat >"$tmp/bin/initdb" <<EOF
#!/bin/bash
# initdb that stops where $sig/stop says (t0104).
. "$tmp/point.sh"
point initdb-start
data=
for a in "\$@"; do [ "\$prev" = -D ] && data=\$a; prev=\$a; done
"$real/initdb" "\$@" || exit
[ "\$(cat "$sig/stop")" = initdb-half ] && rm -f "\$data/global/pg_control"
point initdb-half
EOF
cat >"$tmp/bin/pg_ctl" <<EOF
#!/bin/bash
# pg_ctl that stops where $sig/stop says (t0104): pg_ctl-status and
# pg_ctl-restart before the real one runs, pg_ctl-start after it.
. "$tmp/point.sh"
[ "\$1" = status ] && point pg_ctl-status
[ "\$1" = restart ] && point pg_ctl-restart
"$real/pg_ctl" "\$@"
rc=\$?
[ "\$1" = start ] && point pg_ctl-start
exit \$rc
EOF
chmod 755 "$tmp/point.sh" "$tmp/bin/initdb" "$tmp/bin/pg_ctl"

new_dir() {
	d=$(mktemp -d /tmp/pgpf.XXXXXX)
	port=$(free_port)
	# Cleanups run last first: stop, then kill what would not stop, then remove.
	at_exit "rm -rf '$d'"
	at_exit "[ -f '$d/data/postmaster.pid' ] && kill -KILL \$(head -1 '$d/data/postmaster.pid')"
	at_exit "pgp-create -c /dev/null --local '$d' --stop"
}
create() { pgp-create -c /dev/null --local "$d" --database shop --port "$port" "$@"; }

# Is a process of group $1 still alive (zombies hold no files)?
group_alive() {
	local p
	for p in $(pgrep -g "$1"); do
		[ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" = Z ] || return 0
	done
	return 1
}
# Wait for a condition, not for a time: the bound only stops a hang.
wait_until() {
	local i
	for i in $(seq 2400); do "$@" && return 0; sleep 0.05; done
	return 1
}
reached_or_exited() { [ -e "$sig/reached" ] || ! kill -0 "$BG" 2>/dev/null; }

# start STOP-POINT [ARGS]: a run in its own process group through the
# stand-ins, stopped at STOP-POINT.  BG is its pid and process group.
start() {
	local point=$1; shift
	rm -f "$sig/reached" "$sig/go"
	echo "$point" >"$sig/stop"
	PG_BINDIR=$tmp/bin setsid pgp-create -c /dev/null --local "$d" --database shop \
		--port "$port" "$@" >"$tmp/bg.out" 2>"$tmp/bg.err" &
	BG=$!
	at_exit "kill -KILL -- -$BG"
	wait_until reached_or_exited
	ok "the run reached $point" -- [ -e "$sig/reached" ]
	[ -e "$sig/reached" ] || sed 's/^/# /' "$tmp/bg.err"
}
# kill_group: SIGKILL the whole process group, as a terminal or systemd would.
kill_group() {
	kill -KILL -- "-$BG"
	wait "$BG"
	BG_RC=$?
	wait_until eval '! group_alive '"$BG"
}
release() { echo go >"$sig/go"; }

roles_connect() {
	local k n=0
	for k in migrator app readonly monitor backup; do
		PGSERVICEFILE=$d/pg_service.conf PGPASSFILE=$d/pgpass \
			psql -X -q -A -t "service=shop-$k" -c "SELECT 1" >/dev/null 2>&1 && n=$((n + 1))
	done
	echo "$n"
}
# converges WHAT [ARGS]: the next plain run completes, the roles connect,
# and a third run changes nothing.
converges() {
	local what=$1; shift
	run create "$@"
	NEXT_ERR=$ERR
	is "$RC" 0 "$what: the next run completes"
	[ "$RC" = 0 ] || { diag "$ERR"; tail -5 "$d/log/pgp-create.log" 2>/dev/null | sed 's/^/# /'; }
	is "$(roles_connect)" 5 "$what: every login role connects"
	run create "$@"
	like "$OUT" "^shop: no changes" "$what: the run after says no changes"
}

# 1. Killed at the start of initdb, and a server key lost mid-write.
new_dir
start initdb-start
kill_group
is "$BG_RC" 137 "killed at the start of initdb: exit 137"
ok "no data directory" -- [ ! -e "$d/data" ]
ok "only the temporary one" -- [ -d "$d/data.pgp-initdb.$BG" ]
rm -f "$d/tls/server.key"
converges "killed before initdb, server key missing"
like "$NEXT_ERR" "removing .*data\.pgp-initdb.*interrupted" "the leftover temporary directory is removed"
is "$(stat -c %U:%a "$d/tls/server.key")" "$server_user:600" "the server key is made again, the server's, 0600"
create --stop >/dev/null 2>&1

# 2. Killed inside initdb, its directory half made.
new_dir
start initdb-half
kill_group
is "$BG_RC" 137 "killed inside initdb: exit 137"
ok "the half-made directory is not the data directory" -- [ ! -e "$d/data" ]
ok "it is the temporary one" -- [ -e "$d/data.pgp-initdb.$BG/PG_VERSION" ]
ok "and half made" -- [ ! -e "$d/data.pgp-initdb.$BG/global/pg_control" ]
converges "killed inside initdb"
ok "no temporary directory is left" -- [ -z "$(ls -d "$d"/data.pgp-initdb.* 2>/dev/null)" ]
create --stop >/dev/null 2>&1

# 3. Only pgp-create killed: its initdb lives on, but in a directory of its
#    own that the next run removes, and it never renames anything.
new_dir
start initdb-start
kill -KILL "$BG"
wait "$BG"
is "$?" 137 "pgp-create alone killed while its initdb waits"
converges "initdb outlived pgp-create"
release
wait_until eval '! group_alive '"$BG"
run create
like "$OUT" "^shop: no changes" "the orphaned initdb, let go, changed nothing"
is "$(roles_connect)" 5 "and every role still connects"
create --stop >/dev/null 2>&1

# 4. Killed once the server started, before any role exists.
new_dir
start pg_ctl-start
kill_group
is "$BG_RC" 137 "killed after the server started: exit 137"
run create --status
is "$RC" 0 "the server it started still runs"
converges "killed before the roles existed"

# 5. A second run while one holds the directory: busy, naming the holder.
start pg_ctl-status
run create
is "$RC" 4 "a second run on the same directory exits 4"
like "$ERR" "^pgp-create: error: busy: .*pid $BG\)?$" "naming the pid of the first"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "in one line"
is "$(stat -c %a "$d/.pgp-create.lock")" 600 "the lock file is 0600"
run create --stop
is "$RC" 4 "--stop is busy too"
release
wait "$BG"
is "$?" 0 "the first run, released, completes"
like "$(cat "$tmp/bg.out")" "no changes" "and found nothing to change"

# 6. Killed between writing a setting that needs a restart and the restart.
start pg_ctl-restart --extension pg_stat_statements
kill_group
is "$BG_RC" 137 "killed before the restart"
converges "killed before the restart" --extension pg_stat_statements
is "$(psql -X -A -t "host=$d/run port=$port dbname=postgres user=postgres" -c "SHOW shared_preload_libraries")" \
	pg_stat_statements "the next run did the restart"
create --stop >/dev/null 2>&1

# 7. What a kill between initdb's rename and the config files leaves:
#    initdb's data directory and none of pgp-create's files.
new_dir
mkdir "$d/data"
is_root && chown postgres "$d/data" && chmod 755 "$d"
chmod 700 "$d/data"
as_pg "$real/initdb" -D "$d/data" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer >/dev/null 2>&1
converges "a data directory without pgp-create's files"
create --stop >/dev/null 2>&1

# 8. A data directory that is not complete is not pgp-create's to delete.
new_dir
mkdir -p "$d/data/base"
echo 15 >"$d/data/PG_VERSION"
run create
is "$RC" 5 "an incomplete data directory is refused"
like "$ERR" "data.* is not a complete data directory" "naming it"
ok "and left as it was" -- [ -e "$d/data/PG_VERSION" ]
ok "all of it" -- [ -d "$d/data/base" ]
done_testing
