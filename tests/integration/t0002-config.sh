#!/usr/bin/env bash
# Configuration errors name file, line and key (through a real program:
# pgp-tune, pgp-alert), secrets in shared files are refused, and the
# environment overrides the file.
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
