#!/usr/bin/env bash
# No secret of a connection or of S3 reaches a child of pgp-backup: pg_dump,
# pg_dumpall and pg_restore are wrappers that record their argv and their
# whole environment before they run the real program.
. "$(dirname "$0")/lib.sh"
backup_fixture 1
repo=$BDIR/repo
state=$BDIR/state
pw=$(awk -F: '$4 == "shop_backup" { print $5; exit }' "$PGPASSFILE")
ok "the backup role's password is known" -- [ -n "$pw" ]
secrets=("$pw" sslsecret-1234 aws-secret-5678 AKIDSECRET9)

rec=$BDIR/rec fake=$BDIR/fakebin
mkdir -p "$rec" "$fake" "$BDIR/tmp"
for t in pg_dump pg_dumpall pg_restore; do
	cat >"$fake/$t" <<SH
#!/bin/sh
printf '%s\n' "\$0" "\$@" >"$rec/$t.argv.\$\$"
cat /proc/self/environ | tr '\0' '\n' >"$rec/$t.env.\$\$"
exec "$PG_BINDIR/$t" "\$@"
SH
	chmod +x "$fake/$t"
done
printf 'backup = { pg_bindir = "%s"; };\n' "$fake" >"$BDIR/fake.conf"
pb() {
	env TMPDIR="$BDIR/tmp" PGPASSWORD="$pw" AWS_SECRET_ACCESS_KEY=aws-secret-5678 AWS_ACCESS_KEY_ID=AKIDSECRET9 \
		pgp-backup -c "$BDIR/fake.conf" --repo "$repo" --state-dir "$state" "$@"
}

run pb backup -d "service=shop-backup password=$pw sslpassword=sslsecret-1234"
is "$RC" 0 "a backup with a password and an sslpassword in the connection string"
[ "$RC" = 0 ] || diag "$ERR"
run pb restore latest -d "$ADMIN sslpassword=sslsecret-1234" --database copy
is "$RC" 0 "a restore with an sslpassword in the connection string"
[ "$RC" = 0 ] || diag "$ERR"
for t in pg_dump pg_dumpall pg_restore; do
	ok "$t ran through the wrapper" -- test -n "$(ls "$rec" | grep "^$t.argv")"
	like "$(cat "$rec/$t".argv.*)" "service=" "$t connects through a service file"
done
leaks=0
for f in "$rec"/*; do
	for s in "${secrets[@]}"; do
		if grep -qF -- "$s" "$f"; then leaks=$((leaks + 1)); diag "a secret in $(basename "$f")"; fi
	done
done
is "$leaks" 0 "no password, sslpassword or S3 key in any child's argv or environment"
unlike "$(cat "$rec"/*.env.*)" "^(PGPASSWORD|AWS_[A-Z_]*|PGUSER|PGHOST)=" "children inherit none of our PG* and AWS_* variables"
like "$(cat "$rec"/pg_dump.env.*)" "^PGSERVICEFILE=$BDIR/tmp/" "only the service file's name"
is "$(find "$BDIR/tmp" -mindepth 1 | wc -l)" 0 "the service files are gone after the run"
is "$(psql -X -A -t "${ADMIN/dbname=postgres/dbname=copy}" -c "SELECT count(*) FROM pgbench_accounts")" 100000 \
	"and the children did connect with the secrets"
log=$(ls "$BDIR"/log/*.log 2>/dev/null | head -1)
if [ -n "$log" ]; then
	hits=0
	for s in "${secrets[@]}"; do grep -qF -- "$s" "$BDIR"/log/* && hits=$((hits + 1)); done
	is "$hits" 0 "no secret in the server log"
else
	_result 0 "the server log of the fixture is in $BDIR/log"
fi
# Stopped by SIGTERM (a systemd timeout, a kill from cron) while pg_dump
# runs: the service file holding the password does not stay behind.
mkdir -p "$BDIR/tmp2" "$BDIR/slowbin"
mkfifo "$BDIR/hold"
cat >"$BDIR/slowbin/pg_dump" <<SH
#!/bin/sh
touch "$BDIR/dump-started"
read x <"$BDIR/hold"
exec "$PG_BINDIR/pg_dump" "\$@"
SH
chmod +x "$BDIR/slowbin/pg_dump"
ln -s "$PG_BINDIR/pg_dumpall" "$BDIR/slowbin/pg_dumpall"
printf 'backup = { pg_bindir = "%s"; };\n' "$BDIR/slowbin" >"$BDIR/slow.conf"
env TMPDIR="$BDIR/tmp2" pgp-backup -c "$BDIR/slow.conf" --repo "$repo" --state-dir "$state" backup \
	-d "service=shop-backup password=$pw" >/dev/null 2>&1 &
bpid=$!
for i in $(seq 200); do [ -e "$BDIR/dump-started" ] && break; sleep 0.05; done
ok "pg_dump started" -- test -e "$BDIR/dump-started"
is "$(find "$BDIR/tmp2" -name pg_service.conf | wc -l)" 1 "the service file exists while pg_dump runs"
kill -TERM "$bpid"
wait "$bpid"
is "$?" 143 "pgp-backup stopped by SIGTERM"
echo go >"$BDIR/hold" 2>/dev/null &
is "$(find "$BDIR/tmp2" -mindepth 1 | wc -l)" 0 "and its service file and directory are gone"
done_testing
