#!/usr/bin/env bash
# The suite's own assertions: shapes that pass whatever the program does.
#   ok "..." -- [ a ] && [ b ]    the shell runs "[ b ]" after ok: only a is asserted
#   like "$X" 'a\|b'              under grep -E, \| is a literal bar (write a literal bar as [|])
# Write such a check as ok "..." -- sh -c '[ a ] && [ b ]', or two asserts,
# and alternation as 'a|b'.
. "$(dirname "$0")/lib.sh"
cd "$PGP_SRC/tests/integration" || exit 1
hits=$(grep -nE '^[[:space:]]*ok [^#]* -- .*[^\\](&&|\|\|)' t[0-9]*.sh)
is "$hits" "" "no ok ... -- CMD && CMD (only the first command would be asserted)"
hits=$(grep -nE '^[[:space:]]*(like|unlike) .*\\\|' t[0-9]*.sh)
is "$hits" "" "no \\| in a like/unlike pattern (grep -E reads it as a literal bar)"
hits=$(grep -nE '^[[:space:]]*ok "[^"]*" *$' t[0-9]*.sh)
is "$hits" "" "no ok without a command"
done_testing
