#!/usr/bin/env bash
# Configuration errors name file, line and key (through a real program:
# pgp-tune, pgp-alert), secrets in shared files are refused (a password in
# a URI too), a target's conninfo must parse, only a regular file is read,
# the environment overrides the file; values outside a key's range or
# words stop every program, from the file, the environment and the command
# line, and a bad PGP_BACKUP_KEEP_LAST stops prune before it deletes.
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d /tmp/pgpconf.XXXXXX)
at_exit "rm -rf '$dir'"

cat >"$dir/pgp.conf" <<'CONF'
# line 1
log = {
  syslog = false;
};
tune = {
  target = "prod";
  tagret = "oops";
};
CONF
run pgp-tune -c "$dir/pgp.conf"
is "$RC" 2 "unknown key: exit 2"
like "$ERR" "pgp\.conf:7: unknown key \"tune\.tagret\"" "stderr holds pgp.conf:7 and the key"

printf 'log = {\n  syslog = "yes";\n};\n' >"$dir/pgp.conf"
run pgp-tune -c "$dir/pgp.conf"
like "$ERR" 'pgp\.conf:2: key "log\.syslog" must be true or false' "wrong type names line, key and type"

printf 'log = {\n  syslog = true\n  syslog_level = "info";\n' >"$dir/pgp.conf"
run pgp-tune -c "$dir/pgp.conf"
is "$RC" 2 "syntax error: exit 2"
like "$ERR" 'pgp\.conf:[34]: syntax error' "syntax error names the line"

run pgp-alert -c "$dir/pgp.conf"
is "$RC" 3 "pgp-alert: config error is UNKNOWN (3)"

printf 'targets = {\n  prod = { conninfo = "host=db user=app password=s3cret-value"; };\n};\n' >"$dir/secret.conf"
chmod 644 "$dir/secret.conf"
run pgp-tune -c "$dir/secret.conf"
is "$RC" 2 "a group/world-readable file with a secret is refused"
like "$ERR" "readable by group or others" "the message says why"
unlike "$ERR" "s3cret-value" "the message does not show the secret"
chmod 600 "$dir/secret.conf"
run pgp-tune -c "$dir/secret.conf"
unlike "$ERR" "readable by group" "the same file at 0600 is accepted"

# A URI's password is a secret like password=, found by libpq's parser.
for ci in 'postgresql://u:hunter2@h/db' 'postgres://u:hunter2@h/db' 'postgresql://u:hun%74er2@h/db' \
	  'postgresql://h/db?%70assword=hunter2'; do
	printf 'targets = {\n  prod = { conninfo = "%s"; };\n};\n' "$ci" >"$dir/uri.conf"
	chmod 644 "$dir/uri.conf"
	run pgp-tune -c "$dir/uri.conf"
	is "$RC" 2 "0644 with conninfo $ci: exit 2"
	is "$(printf '%s\n' "$ERR" | head -1)" "pgp-tune: error: $dir/uri.conf:2: key \"targets.prod.conninfo\" holds a secret (password) but the file is readable by group or others (mode 0644)" \
		"the message names file, line and key"
	unlike "$OUT$ERR" 'hunter2|hun%74er2' "and not the secret"
	chmod 600 "$dir/uri.conf"
	run pgp-tune -c "$dir/uri.conf"
	is "$RC:$ERR" "0:" "the same file at 0600 is accepted"
done
printf 'targets = {\n  prod = { conninfo = "host=db user=password_admin dbname=password"; };\n};\n' >"$dir/nopw.conf"
chmod 644 "$dir/nopw.conf"
run pgp-tune -c "$dir/nopw.conf"
is "$RC:$ERR" "0:" "the word password as a value is no secret"

# A conninfo libpq cannot parse is a config error with file and line, in
# every program, before any connection is tried; pgp-alert says UNKNOWN.
bad_conninfo() {
	local ci=$1 reason=$2 prog want
	printf 'targets = {\n  prod = {\n    conninfo = "%s";\n  };\n};\nalert = { target = "prod"; };\n' \
		"$ci" >"$dir/bad.conf"
	chmod 600 "$dir/bad.conf"
	for prog in pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check; do
		want=2
		case $prog in
		pgp-create) set -- --database shop ;;
		pgp-backup) set -- list --repo "$dir/repo" ;;
		pgp-alert) set --; want=3 ;;
		*) set -- ;;
		esac
		run "$prog" -c "$dir/bad.conf" "$@"
		is "$RC" "$want" "$prog: conninfo \"$ci\" in the config: exit $want"
		is "$ERR" "$prog: error: $dir/bad.conf:3: key \"targets.prod.conninfo\": $reason" \
			"$prog: one line with file, line, key and libpq's reason"
	done
}
bad_conninfo 'bogus=1' 'invalid connection option "bogus"'
bad_conninfo "host='unterminated" 'unterminated quoted string in connection info string'
bad_conninfo 'postgresql://u:hunter2@h/db?bogus=1' 'invalid URI query parameter: "bogus"'
bad_conninfo 'postgresql://u:hunt%zzer2@h/db' 'invalid percent-encoded token: "***"'
bad_conninfo 'postgresql://u:hunter2@[::1/db' \
	'end of string reached when looking for matching "]" in IPv6 host address in URI: "postgresql://u:***@[::1/db"'

# Only a regular file (or /dev/null) is read: a directory, a FIFO or a
# device is refused at once, never read forever.
run pgp-tune -c "$dir"
is "$RC:$ERR" "2:pgp-tune: error: cannot read configuration file \"$dir\": is a directory" "a directory: exit 2, says so"
run pgp-alert -c "$dir"
is "$RC:$ERR" "3:pgp-alert: error: cannot read configuration file \"$dir\": is a directory" "pgp-alert: a directory is UNKNOWN"
mkfifo "$dir/fifo"
run timeout 20 pgp-tune -c "$dir/fifo"
is "$RC:$ERR" "2:pgp-tune: error: cannot read configuration file \"$dir/fifo\": not a regular file" "a FIFO: exit 2 without waiting for a writer"
run timeout 20 pgp-tune -c /dev/zero
is "$RC:$ERR" '2:pgp-tune: error: cannot read configuration file "/dev/zero": not a regular file' "/dev/zero: exit 2, not read"
run pgp-tune -c /dev/null
is "$RC:$ERR" "0:" "/dev/null is an empty configuration"
: >"$dir/empty.conf"
run pgp-tune -c "$dir/empty.conf"
is "$RC:$ERR" "0:" "an empty file is an empty configuration"
run pgp-tune -c "$dir/missing.conf"
is "$RC:$ERR" "2:pgp-tune: error: cannot read configuration file \"$dir/missing.conf\": No such file or directory" \
	"a missing named file: exit 2"

# Permissions: root reads anything, so the check runs as nobody.
pdir=$(mktemp -d /tmp/pgpperm.XXXXXX)
at_exit "rm -rf '$pdir'"
chmod 755 "$pdir"
printf 'log = { syslog = false; };\n' >"$pdir/private.conf"
chmod 600 "$pdir/private.conf"
if is_root; then as_other() { runuser -u nobody -- "$@"; }; else as_other() { "$@"; }; chmod 000 "$pdir/private.conf"; fi
if as_other test -x "$PGP_BIN/pgp-tune"; then
	run as_other "$PGP_BIN/pgp-tune" -c "$pdir/private.conf"
	is "$RC:$ERR" "2:pgp-tune: error: cannot read configuration file \"$pdir/private.conf\": Permission denied" \
		"an unreadable file: exit 2, says why"
else
	echo "ok $((_tap_n + 1)) # skip nobody cannot run $PGP_BIN/pgp-tune"; _tap_n=$((_tap_n + 1))
fi

printf 'log = {\n  syslog = true;\n  syslog_facility = "nonsense";\n};\n' >"$dir/fac.conf"
run pgp-tune -c "$dir/fac.conf"
is "$RC:$ERR" "2:pgp-tune: error: $dir/fac.conf:3: key \"log.syslog_facility\" is \"nonsense\" (allowed: user, daemon, local0, local1, local2, local3, local4, local5, local6, local7)" \
	"a bad syslog facility: file, line, key and the words allowed"
PGP_LOG_SYSLOG=false run pgp-tune -c "$dir/fac.conf"
is "$RC" 2 "the environment does not excuse a bad value in the file"
PGP_CONFIG="$dir/fac.conf" run pgp-tune
like "$ERR" 'syslog_facility' "PGP_CONFIG names the file"
printf 'tune = { workload = "dw"; };\n' >"$dir/wl.conf"
PGP_TUNE_WORKLOAD=oltp run pgp-tune -c "$dir/wl.conf" --memory 1GB --cpus 2 --format json
is "$(json_get "$OUT" 'd["inputs"]["workload"]["value"]')" oltp "the environment overrides the file (PGP_TUNE_WORKLOAD)"
run pgp-tune -c "$dir/wl.conf" --memory 1GB --cpus 2 --format json --workload desktop
is "$(json_get "$OUT" 'd["inputs"]["workload"]["value"]')" desktop "the command line overrides both"

# Values outside a key's rule stop every program at load, with file:line
# (or the variable) and what is allowed; pgp-alert says UNKNOWN (3).
bad_value() {
	local text=$1 want=$2 prog rc
	printf '%b' "$text" >"$dir/range.conf"
	for prog in pgp-tune pgp-backup pgp-alert pgp-migrate-check; do
		rc=2
		case $prog in
		pgp-backup) set -- list --repo "$dir/repo" ;;
		pgp-alert) set --; rc=3 ;;
		*) set -- ;;
		esac
		run "$prog" -c "$dir/range.conf" "$@"
		is "$RC:$ERR" "$rc:$prog: error: $dir/range.conf:$want" "$prog: $want"
	done
}
bad_value 'backup = {\n  compress_level = 42;\n};\n' \
	'2: key "backup.compress_level" is 42, out of range (allowed: -7..19 for zstd)'
bad_value 'create = {\n  pooler_port = 70000;\n};\n' \
	'2: key "create.pooler_port" is 70000, out of range (allowed: 1..65535)'
bad_value 'create = {\n  pooler_port = 0;\n};\n' \
	'2: key "create.pooler_port" is 0, out of range (allowed: 1..65535)'
bad_value 'backup = {\n\n  keep_last = -1;\n};\n' \
	'3: key "backup.keep_last" is -1, out of range (allowed: 0..100000)'
bad_value 'backup = {\n  s3_part_size_mb = 4;\n};\n' \
	'2: key "backup.s3_part_size_mb" is 4, out of range (allowed: 5..5120)'
bad_value 'connection = {\n  connect_timeout = 0;\n};\n' \
	'2: key "connection.connect_timeout" is 0, out of range (allowed: 1..3600)'
bad_value 'create = {\n  pooler = "pgpool";\n};\n' \
	'2: key "create.pooler" is "pgpool" (allowed: pgbouncer, none)'
bad_value 'create = {\n  lock_timeout = "5 seconds";\n};\n' \
	'2: key "create.lock_timeout" is "5 seconds", not a duration (allowed: 0..2147483647ms, with a unit us, ms, s, min, h or d (no unit: ms))'
bad_value 'tune = {\n  memory = "8 gigs";\n};\n' \
	'2: key "tune.memory" is "8 gigs", not a size (allowed: 256MB..64TB, with a unit B, kB, MB, GB or TB)'
bad_value 'tune = {\n  tolerance = 150.0;\n};\n' \
	'2: key "tune.tolerance" is 150, out of range (allowed: 0..100)'
bad_value 'create = {\n  allow = [ "10.0.0.0/8", "0.0.0.0/64" ];\n};\n' \
	'2: key "create.allow" is "0.0.0.0/64" (allowed: an address with a prefix length, such as 10.0.0.0/8 or ::1/128)'
bad_value 'programs = {\n  pg_bindir = "usr/lib/postgresql/15/bin";\n};\n' \
	'2: key "programs.pg_bindir" is "usr/lib/postgresql/15/bin" (allowed: an absolute path, starting with /)'
bad_value 'programs = {\n  pgbouncer = "sbin/pgbouncer";\n};\n' \
	'2: key "programs.pgbouncer" is "sbin/pgbouncer" (allowed: an absolute path, or a program name to look for in PATH)'

# pgp.conf is one file: @include is refused (libconfig would open the file
# itself: a directory ended the process in its scanner, a FIFO hung it).
mkfifo "$dir/inc.fifo"
for inc in '.' "$dir/inc.fifo" /dev/null; do
	printf 'log = { syslog = false; };\n  @include "%s"\n' "$inc" >"$dir/inc.conf"
	for prog in pgp-create pgp-tune pgp-backup; do
		case $prog in
		pgp-create) set -- --database shop ;;
		pgp-backup) set -- list --repo "$dir/repo" ;;
		*) set -- ;;
		esac
		run timeout 20 "$prog" -c "$dir/inc.conf" "$@"
		is "$RC:$(printf '%s\n' "$ERR" | head -1)" \
			"2:$prog: error: $dir/inc.conf:2: @include is not supported: the configuration is one file" \
			"$prog: @include \"$inc\" refused with file and line"
	done
done
# A target name so long that a key's path would be cut short is refused,
# not matched as the shorter key (targets.NAME.conninfo_typo as conninfo).
long=$(printf 'a%.0s' $(seq 494))
printf 'targets = {\n  %s = {\n    conninfo = "host=db";\n    conninfo_typo = "x";\n  };\n};\n' "$long" >"$dir/long.conf"
run pgp-tune -c "$dir/long.conf"
like "$RC:$ERR" "^2:pgp-tune: error: $dir/long\\.conf:4: key path too long \\(516 bytes, at most 511\\)" \
	"a key path too long for the buffer: exit 2 with file and line"

# pgp-create's options through the same getters, before any connection
# (a connection to this socket would fail with 3).
create_opt() {
	local want=$1
	shift
	run pgp-create -c /dev/null -d "host=$dir/nosocket" --database shop "$@"
	is "$RC:$ERR" "2:pgp-create: error: $want" "pgp-create $*: exit 2 before connecting"
}
create_opt 'option --pooler-port is 0, out of range (allowed: 1..65535)' --pooler-port 0
create_opt 'option --pooler-port is "64k", not an integer (allowed: 1..65535)' --pooler-port 64k
create_opt 'option --pooler is "pgpool" (allowed: pgbouncer, none)' --pooler pgpool
create_opt 'option --allow is "10.0.0.1" (allowed: an address with a prefix length, such as 10.0.0.0/8 or ::1/128)' \
	--allow 10.0.0.0/8 --allow 10.0.0.1
create_opt 'option --extension is "pg trgm" (allowed: an extension name: letters, digits, _ and -)' --extension 'pg trgm'
create_opt 'option --role-prefix is "Shop" (allowed: [a-z_][a-z0-9_]*, at most 51 characters)' --role-prefix Shop
PGP_CREATE_POOLER=pgpool run pgp-create -c /dev/null -d "host=$dir/nosocket" --database shop
is "$RC:$ERR" '2:pgp-create: error: environment variable PGP_CREATE_POOLER is "pgpool" (allowed: pgbouncer, none)' \
	"pgp-create: PGP_CREATE_POOLER=pgpool: exit 2 before connecting"
run pgp-create -c /dev/null --local "$dir/cluster" --status --pooler-port 70000
is "$RC:$ERR" '2:pgp-create: error: option --pooler-port is 70000, out of range (allowed: 1..65535)' \
	"pgp-create --status checks --pooler-port too"

PGP_CREATE_POOLER_PORT=99999 run pgp-backup -c /dev/null list --repo "$dir/repo"
is "$RC:$ERR" '2:pgp-backup: error: environment variable PGP_CREATE_POOLER_PORT is 99999, out of range (allowed: 1..65535)' \
	"a bad port from the environment: the variable and the range"
PGP_CONNECTION_CONNECT_TIMEOUT=10s run pgp-alert -c /dev/null
is "$RC:$ERR" '3:pgp-alert: error: environment variable PGP_CONNECTION_CONNECT_TIMEOUT is "10s", not an integer (allowed: 1..3600)' \
	"pgp-alert: a bad variable is UNKNOWN"
run pgp-backup -c /dev/null --repo "$dir/repo" --compress-level 20 list
is "$RC:$ERR" '2:pgp-backup: error: option --compress-level is 20, out of range (allowed: -7..19 for zstd)' \
	"--compress-level has the key's range"
run pgp-backup -c /dev/null --repo "$dir/repo" --keep-last -1 list
is "$RC:$ERR" '2:pgp-backup: error: option --keep-last is -1, out of range (allowed: 0..100000)' \
	"--keep-last has the key's range"
run pgp-backup -c /dev/null --repo "$dir/repo" --max-age 1e3 list
is "$RC:$ERR" '2:pgp-backup: error: option --max-age is "1e3", not an integer (allowed: 0..100000)' \
	"--max-age too, named as given"
run pgp-backup -c /dev/null --repo "$dir/repo" --jobs 0 restore latest
like "$RC:$ERR" '^2:pgp-backup: error: --jobs must be in range 1..64' "--jobs keeps its own range"

# A cron job never prunes with a value nobody gave it: a bad
# PGP_BACKUP_KEEP_LAST stops prune (exit 2) before it deletes anything.
pg_start
prepo=$dir/prune-repo pstate=$dir/prune-state
pbk() { pgp-backup -c /dev/null --repo "$prepo" --state-dir "$pstate" "$@"; }
run pbk backup -d "dbname=postgres" --no-prune
is "$RC" 0 "a real backup to prune"
[ "$RC" = 0 ] || diag "$ERR"
last=$(ls "$prepo/postgres" 2>/dev/null | tail -1)
for d in 1 2 3 4 5; do
	hid=$(date -u -d "@$(( $(date +%s) - d * 86400 ))" +%Y%m%dT%H%M%SZ)
	mkdir -p "$prepo/postgres/$hid"
	sed "s/$last/$hid/g" "$prepo/postgres/$last/manifest.json" >"$prepo/postgres/$hid/manifest.json"
done
before=$(ls "$prepo/postgres" | wc -l)
is "$before" 6 "six backups"
for bad in abc -1 1.5 "" " 1" 100001; do
	PGP_BACKUP_KEEP_LAST=$bad run pbk prune --database postgres --keep-daily 0 --keep-weekly 0 --keep-monthly 0
	if [ -z "$bad" ]; then
		is "$RC" 0 "PGP_BACKUP_KEEP_LAST empty is unset: the default (24) keeps all"
		continue
	fi
	is "$RC" 2 "PGP_BACKUP_KEEP_LAST='$bad' prune: exit 2"
	like "$ERR" "^pgp-backup: error: environment variable PGP_BACKUP_KEEP_LAST is .*\(allowed: 0\.\.100000\)" \
		"PGP_BACKUP_KEEP_LAST='$bad': the variable and the range"
	is "$(ls "$prepo/postgres" | wc -l)" "$before" "PGP_BACKUP_KEEP_LAST='$bad': nothing deleted"
done
printf 'backup = {\n  keep_last = "two";\n};\n' >"$dir/keep.conf"
run pgp-backup -c "$dir/keep.conf" --repo "$prepo" --state-dir "$pstate" prune --database postgres
is "$RC:$(ls "$prepo/postgres" | wc -l)" "2:$before" "keep_last = \"two\" in the file: exit 2, nothing deleted"
PGP_BACKUP_KEEP_LAST=2 run pbk prune --database postgres --keep-daily 0 --keep-weekly 0 --keep-monthly 0
is "$RC:$(ls "$prepo/postgres" | wc -l)" "0:2" "a good PGP_BACKUP_KEEP_LAST=2 is used: two kept"

# The sample configuration is valid and names every key.
run pgp-tune -c "$PGP_SRC/etc/pgp.conf"
unlike "$ERR" 'pgp\.conf:[0-9]+' "etc/pgp.conf loads without errors"
run "$PGP_SRC/scripts/check-docs"
is "$RC" 0 "every key the code reads is in etc/pgp.conf and pgp.conf(5)"
[ "$RC" = 0 ] || diag "$OUT $ERR"
run mandoc -Tlint -Wwarning "$PGP_SRC/man/man5/pgp.conf.5" "$PGP_SRC/man/man7/pgp.7"
is "$OUT$ERR" "" "pgp.conf.5 and pgp.7 are clean mdoc"
done_testing
