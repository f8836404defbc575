#!/usr/bin/env bash
# make install / uninstall lay out bin, man, etc, the systemd units and the
# cron file, never overwrite a live pgp.conf, and compile SYSCONFDIR and
# LOCALSTATEDIR in: an installed program, run as the postgres OS user
# through the installed unit's command line, reads the installed config
# and backs up into a local repository; the maintenance units run
# PostgreSQL's vacuumdb and reindexdb for a pgp-create service.
. "$(dirname "$0")/lib.sh"
need systemd-analyze "systemd-analyze (systemd)"
need man "man (man-db), which systemd-analyze verify runs for Documentation="
dest=$(mktemp -d /tmp/pgpinst.XXXXXX)
at_exit "rm -rf '$dest'"
chmod 755 "$dest"
# Builds of its own: the compiled-in paths differ from the tree's build.
build() { local d=$dest/build/$1; shift
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$PGP_SRC" --no-print-directory -j2 O="$d" BINOUT="$d/bin" LIBPGP="$d/libpgp.a" "$@"; }

# 1. A staged install (DESTDIR), as a package build does it.
stage=$dest/stage
run build staged install DESTDIR="$stage" PREFIX=/usr/local
is "$RC" 0 "make install DESTDIR=... succeeds"
[ "$RC" = 0 ] || diag "$ERR"
for p in pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check; do
	ok "bin/$p installed executable" -- test -x "$stage/usr/local/bin/$p"
	ok "man1/$p.1 installed" -- test -f "$stage/usr/local/share/man/man1/$p.1"
done
ok "man5/pgp.conf.5 installed" -- test -f "$stage/usr/local/share/man/man5/pgp.conf.5"
ok "man7/pgp.7 installed" -- test -f "$stage/usr/local/share/man/man7/pgp.7"
ok "etc/pgp/pgp.conf installed" -- test -f "$stage/etc/pgp/pgp.conf"
ok "etc/pgp/pgp.conf.sample installed" -- test -f "$stage/etc/pgp/pgp.conf.sample"
is "$(stat -c %a "$stage/etc/pgp/pgp.conf")" 640 "pgp.conf is 0640"
# Every unit of etc/systemd is installed, and verified below.
units=$(cd "$PGP_SRC/etc/systemd" && ls -- *.service *.timer)
like "$units" "pgp-maintenance@\.service" "the maintenance units are among them"
for u in $units; do
	ok "unit $u installed" -- test -f "$stage/usr/local/lib/systemd/system/$u"
done
ok "the Prometheus rules for pgp-alert installed" -- test -f "$stage/usr/local/share/pgp/prometheus/pgp-alert.rules.yml"
ok "etc/cron.d/pgp installed" -- test -f "$stage/etc/cron.d/pgp"
is "$(grep -c '@[A-Z_]*@' "$stage"/usr/local/lib/systemd/system/* "$stage/etc/cron.d/pgp" | awk -F: '{ n += $2 } END { print n }')" 0 \
	"no @PLACEHOLDER@ is left in the units and the cron file"
like "$(grep '^ExecStart=' "$stage/usr/local/lib/systemd/system/pgp-backup@.service")" \
	'^ExecStart=/usr/local/bin/pgp-backup ' "ExecStart names the BINDIR of PREFIX, not DESTDIR"
like "$(cat "$stage/usr/local/lib/systemd/system/pgp-backup@.service")" '^StateDirectory=pgp$' "the backup unit has StateDirectory=pgp (LOCALSTATEDIR=/var)"
like "$(grep '^ExecStart=' "$stage/usr/local/lib/systemd/system/pgp-maintenance@.service")" \
	"^ExecStart=$PG_BINDIR/vacuumdb --analyze-only --skip-locked " "the maintenance unit runs PostgreSQL's vacuumdb from PG_BINDIR"
ok "and that vacuumdb exists" -- test -x "$PG_BINDIR/vacuumdb"
like "$(grep '^ExecStart=' "$stage/usr/local/lib/systemd/system/pgp-reindex@.service")" \
	"^ExecStart=$PG_BINDIR/reindexdb --concurrently " "the reindex unit runs reindexdb --concurrently"
ok "pgp-reindex has no timer: on request only" -- test ! -e "$PGP_SRC/etc/systemd/pgp-reindex@.timer"
run "$stage/usr/local/bin/pgp-tune" --version
is "$RC" 0 "installed program runs"

echo "# mine" >"$stage/etc/pgp/pgp.conf"
echo "# my cron" >"$stage/etc/cron.d/pgp"
run build staged install DESTDIR="$stage" PREFIX=/usr/local
is "$(cat "$stage/etc/pgp/pgp.conf")" "# mine" "a second install keeps the live pgp.conf"
like "$OUT" "kept existing .*pgp\.conf" "and says so"
is "$(cat "$stage/etc/cron.d/pgp")" "# my cron" "and keeps the live cron file"

run build staged uninstall DESTDIR="$stage" PREFIX=/usr/local
is "$RC" 0 "make uninstall succeeds"
ok "programs removed" -- test ! -e "$stage/usr/local/bin/pgp-tune"
ok "man pages removed" -- test ! -e "$stage/usr/local/share/man/man1/pgp-tune.1"
ok "units removed" -- test ! -e "$stage/usr/local/lib/systemd/system/pgp-backup@.service"
ok "rules removed" -- test ! -e "$stage/usr/local/share/pgp/prometheus/pgp-alert.rules.yml"
is "$(cat "$stage/etc/pgp/pgp.conf")" "# mine" "uninstall leaves the live pgp.conf"

# 2. A real install (no DESTDIR) under $dest: the compiled-in paths exist.
# As root the config's group is postgres (the group the programs' users
# share; "pgp" by default), as a user the user's own.
if is_root; then group=postgres; runner=postgres; else group=$(id -gn); runner=$(id -un); fi
p=$dest/usr etc=$dest/etc var=$dest/var
run build live install PREFIX="$p" SYSCONFDIR="$etc" LOCALSTATEDIR="$var" PGP_GROUP="$group"
is "$RC" 0 "make install PREFIX=$p SYSCONFDIR=... LOCALSTATEDIR=... succeeds"
[ "$RC" = 0 ] || diag "$ERR"
ok "SYSCONFDIR is compiled in" -- grep -aqF "$etc/pgp/pgp.conf" "$p/bin/pgp-tune"
ok "LOCALSTATEDIR is compiled in" -- grep -aqF "$var/lib/pgp" "$p/bin/pgp-backup"
is "$(stat -c %a:%G "$etc/pgp/pgp.conf")" "640:$group" "pgp.conf is 0640, group $group"
is "$(stat -c %U "$var/lib/pgp")" "$runner" "the state directory belongs to $runner, who runs the backups"
unitdir=$p/lib/systemd/system
for u in $units; do
	run env MANPATH="$p/share/man" systemd-analyze verify "$unitdir/$u"
	is "$RC:$ERR" "0:" "systemd-analyze verify $u: exit 0, nothing on stderr"
done
# The check can fail: an unknown key is only a warning, exit 0.
sed 's/^Nice=10$/Nicee=10/' "$unitdir/pgp-backup@.service" >"$dest/bad@.service"
run env MANPATH="$p/share/man" systemd-analyze verify "$dest/bad@.service"
like "$ERR" "Nicee" "a unit with an unknown key does not pass that check"
cron=$(grep -v '^#' "$etc/cron.d/pgp" | grep -v '^$' | grep -v '^[A-Z]*=')
is "$cron" "" "the cron file runs nothing until a line is uncommented"
like "$(cat "$etc/cron.d/pgp")" "postgres +$p/bin/pgp-backup -q -t prod backup" "its lines name the installed programs"
like "$(cat "$etc/cron.d/pgp")" "postgres +env .*PGSERVICEFILE=$etc/pgp/pg_service.conf .* $PG_BINDIR/vacuumdb --analyze-only --skip-locked" \
	"and PostgreSQL's vacuumdb, nightly"
like "$(cat "$etc/cron.d/pgp")" "#.*$PG_BINDIR/reindexdb --concurrently" "reindexdb, commented: on request"

# A backup as the unit runs it: its ExecStart, as its user, in a clean
# environment, with the installed config found at its compiled-in path.
backup_fixture
install -m 0600 -o "$runner" "$PGSERVICEFILE" "$etc/pgp/pg_service.conf"
install -m 0600 -o "$runner" "$PGPASSFILE" "$etc/pgp/pgpass"
install -d -m 0700 -o "$runner" "$dest/repo"
cat >"$etc/pgp/pgp.conf" <<CONF
targets = {
  shop = {
    conninfo = "service=shop-backup";
    service_file = "$etc/pgp/pg_service.conf";
    passfile = "$etc/pgp/pgpass";
  };
};
backup = {
  repo = "$dest/repo";
};
CONF
exec_start=$(sed -n 's/^ExecStart=//p' "$unitdir/pgp-backup@.service")
is "$exec_start" "$p/bin/pgp-backup -q -t %i backup" "the unit runs the installed pgp-backup"
# shellcheck disable=SC2086 # systemd splits ExecStart on spaces
run as_pg env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin LANG=C.UTF-8 ${exec_start//%i/shop}
is "$RC:$OUT:$ERR" "0::" "as $runner: exit 0 and quiet, as -q promises"
is "$(find "$dest/repo" -name manifest.json | wc -l)" 1 "a backup with its manifest is in the repository"
ok "the state file is in LOCALSTATEDIR/lib/pgp" -- test -f "$var/lib/pgp/backup-shop.json"
[ -f "$var/lib/pgp/backup-shop.json" ] && is "$(stat -c %U "$var/lib/pgp/backup-shop.json")" "$runner" "written by $runner"

# The maintenance units as they run: their Environment= and ExecStart, as
# their user, against the service shop-migrator of the installed files.
unit_cmd() { sed -n 's/^ExecStart=//p' "$unitdir/$1" | sed 's/%i/shop-migrator/g'; }
# unit_run UNIT: its Environment= lines (quoted as the shell quotes) and
# its ExecStart, as its user, in an environment of nothing else.
unit_run() {
	local envs=() line
	while IFS= read -r line; do eval "envs+=($line)"; done < <(sed -n 's/^Environment=//p' "$unitdir/$1")
	# shellcheck disable=SC2046 # split as systemd splits it
	run as_pg env -i PATH=/usr/bin:/bin "${envs[@]}" $(unit_cmd "$1")
}
shopdb() { psql -X -q -A -t -v ON_ERROR_STOP=1 "host=$BDIR/run port=$BPORT user=postgres dbname=shop" "$@"; }
t0=$(shopdb -c "SELECT now()")
unit_run pgp-maintenance@.service
is "$RC:$OUT:$ERR" "0::" "pgp-maintenance@shop-migrator: vacuumdb exits 0, quietly"
is "$(shopdb -c "SELECT count(*) FILTER (WHERE last_analyze > '$t0') = count(*) FROM pg_stat_user_tables WHERE schemaname = 'public'")" t \
	"it analyzed every table of the application"
indexes() { shopdb -c "SELECT string_agg(c.relname || ':' || pg_relation_filenode(c.oid), ',' ORDER BY c.relname)
                       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.docs'::regclass"; }
nodes=$(indexes)
unit_run pgp-reindex@.service
is "$RC:$OUT:$ERR" "0::" "pgp-reindex@shop-migrator: reindexdb --concurrently exits 0, quietly"
[ "$RC" = 0 ] || diag "$ERR"
ok "it rebuilt the application's indexes ($nodes, now $(indexes))" -- [ "$(indexes)" != "$nodes" ]
is "$(shopdb -c "SELECT count(*) FROM pg_index WHERE NOT indisvalid")" 0 "and left none invalid"
done_testing
