#!/usr/bin/env bash
# Configuration errors name file, line and key (through a real program:
# pgp-tune, pgp-alert), secrets in shared files are refused (a password in
# a URI too), a target's conninfo must parse, only a regular file is read,
# and the environment overrides the file.
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

printf 'log = { syslog = true; syslog_facility = "nonsense"; };\n' >"$dir/fac.conf"
run pgp-tune -c "$dir/fac.conf"
like "$ERR" 'unknown facility "nonsense"' "a bad syslog facility is named"
PGP_LOG_SYSLOG=false run pgp-tune -c "$dir/fac.conf"
unlike "$ERR" 'facility' "the environment overrides the file (PGP_LOG_SYSLOG=false)"
PGP_CONFIG="$dir/fac.conf" run pgp-tune
like "$ERR" 'unknown facility' "PGP_CONFIG names the file"

# The sample configuration is valid and names every key.
run pgp-tune -c "$PGP_SRC/etc/pgp.conf"
unlike "$ERR" 'pgp\.conf:[0-9]+' "etc/pgp.conf loads without errors"
run "$PGP_SRC/scripts/check-docs"
is "$RC" 0 "every key the code reads is in etc/pgp.conf and pgp.conf(5)"
[ "$RC" = 0 ] || diag "$OUT $ERR"
run mandoc -Tlint -Wwarning "$PGP_SRC/man/man5/pgp.conf.5" "$PGP_SRC/man/man7/pgp.7"
is "$OUT$ERR" "" "pgp.conf.5 and pgp.7 are clean mdoc"
done_testing
