#!/usr/bin/env bash
# The command-line contract of pgp(7), checked for every program:
# pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check
. "$(dirname "$0")/lib.sh"

implemented="pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check"
for prog in pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check; do
	# pgp-alert speaks Nagios: a usage error is UNKNOWN (3), not CRITICAL (2).
	usage=2
	[ "$prog" = pgp-alert ] && usage=3
	sub=
	[ "$prog" = pgp-backup ] && sub="list --repo /nonexistent/pgp-test-repo"
	[ "$prog" = pgp-create ] && sub="--database x"

	run "$prog" --help
	is "$RC" 0 "$prog --help exits 0"
	like "$OUT" "^$prog " "$prog --help prints usage on stdout"
	is "$ERR" "" "$prog --help prints nothing on stderr"
	long=$(printf '%s\n' "$OUT" | awk 'length > 80' | head -1)
	is "$long" "" "$prog --help lines fit 80 columns"

	run "$prog" --version
	is "$RC" 0 "$prog --version exits 0"
	like "$OUT" "^$prog \(pgp\) [0-9]+\.[0-9]+\.[0-9]+$" "$prog --version names program and version"

	run "$prog" --no-such-option $sub
	is "$RC" "$usage" "$prog rejects an unknown option with exit $usage"
	like "$ERR" "^$prog: error: invalid option \"--no-such-option\"" "$prog names the unknown option"
	like "$ERR" "Try \"$prog --help\"" "$prog points to --help"
	is "$OUT" "" "$prog prints no data on a usage error"

	run "$prog" -d "host=x" -t prod $sub
	is "$RC" "$usage" "$prog refuses -d with -t"
	like "$ERR" "cannot be used together" "$prog says why"

	run "$prog" --format no-such-format $sub
	is "$RC" "$usage" "$prog refuses an unknown --format"

	run "$prog" -c /nonexistent/pgp.conf $sub
	is "$RC" "$usage" "$prog: a missing -c file is a config error"
	like "$ERR" "/nonexistent/pgp.conf" "$prog names the missing file"

	PGP_CONFIG=/nonexistent/env.conf run "$prog" $sub
	is "$RC" "$usage" "$prog: a missing \$PGP_CONFIG file is a config error"

	# Until a job exists it says so and fails: never a pretend success.
	case " $implemented " in *" $prog "*) ;; *)
		run "$prog" -c /dev/null $sub
		ok "$prog without its job exits non-zero" -- [ "$RC" != 0 ]
		like "$ERR" "not implemented" "$prog says the job is not implemented"
	esac

	ok "$prog has a man page" -- test -f "$PGP_SRC/man/man1/$prog.1"
	run mandoc -Tlint -Wwarning "$PGP_SRC/man/man1/$prog.1"
	is "$OUT$ERR" "" "$prog.1 is clean mdoc"
done

run pgp-backup
is "$RC" 2 "pgp-backup without a subcommand is a usage error"
run pgp-backup frobnicate
like "$ERR" 'unknown subcommand "frobnicate"' "pgp-backup names an unknown subcommand"
run pgp-alert -c /dev/null --no-state -d "host=/nonexistent port=1"
is "$RC" 2 "pgp-alert: a server that cannot be reached is CRITICAL (exit 2)"
like "$OUT" '^PGP-ALERT CRITICAL - connection CRITICAL: connection to server on socket "/nonexistent/.s.PGSQL.1" failed' "pgp-alert prints a Nagios status line"
run pgp-alert -q -c /dev/null --no-state -d "host=/nonexistent port=1"
like "$ERR" "error" "errors still print under -q"
done_testing
