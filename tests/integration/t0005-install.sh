#!/usr/bin/env bash
# make install / uninstall lay out bin, man and etc, and never overwrite
# a live /etc/pgp/pgp.conf.
. "$(dirname "$0")/lib.sh"
dest=$(mktemp -d /tmp/pgpinst.XXXXXX)
at_exit "rm -rf '$dest'"
run make -C "$PGP_SRC" --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local
is "$RC" 0 "make install DESTDIR=... succeeds"
[ "$RC" = 0 ] || diag "$ERR"
for p in pgp-create pgp-tune pgp-backup pgp-alert pgp-migrate-check; do
	ok "bin/$p installed executable" -- test -x "$dest/usr/local/bin/$p"
	ok "man1/$p.1 installed" -- test -f "$dest/usr/local/share/man/man1/$p.1"
done
ok "man5/pgp.conf.5 installed" -- test -f "$dest/usr/local/share/man/man5/pgp.conf.5"
ok "man7/pgp.7 installed" -- test -f "$dest/usr/local/share/man/man7/pgp.7"
ok "etc/pgp/pgp.conf installed" -- test -f "$dest/etc/pgp/pgp.conf"
ok "etc/pgp/pgp.conf.sample installed" -- test -f "$dest/etc/pgp/pgp.conf.sample"
run "$dest/usr/local/bin/pgp-tune" --version
is "$RC" 0 "installed program runs"

echo "# mine" >"$dest/etc/pgp/pgp.conf"
run make -C "$PGP_SRC" --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local
is "$(cat "$dest/etc/pgp/pgp.conf")" "# mine" "a second install keeps the live pgp.conf"
like "$OUT" "kept existing" "and says so"

run make -C "$PGP_SRC" --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr/local
is "$RC" 0 "make uninstall succeeds"
ok "programs removed" -- test ! -e "$dest/usr/local/bin/pgp-tune"
ok "man pages removed" -- test ! -e "$dest/usr/local/share/man/man1/pgp-tune.1"
is "$(cat "$dest/etc/pgp/pgp.conf")" "# mine" "uninstall leaves the live pgp.conf"
done_testing
