#!/usr/bin/env bash
# pgp's age (common/age.c, driven by tests/tools/age-tool) and Debian's age
# read each other's files and keys: what pgp writes, age -d decrypts byte
# for byte; what age -r / -R writes, pgp decrypts; identity files go both
# ways; and a damaged file from age is an error, not a shorter output.
. "$(dirname "$0")/lib.sh"
need age "age (Debian age)"
need age-keygen "age-keygen (Debian age)"
need python3
tool=$PGP_TESTBIN/tools/age-tool
W=$(mktemp -d /tmp/pgpage.XXXXXX)
at_exit "rm -rf '$W'"
cd "$W" || exit 1

run "$tool" keygen pgp.key
is "$RC" 0 "age-tool keygen writes an identity file"
like "$OUT" '^Public key: age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$' "and prints its public key"
is "$(stat -c %a pgp.key)" 600 "the identity file is mode 0600"
run "$tool" keygen pgp.key
is "$RC" 1 "keygen never writes over an existing file"
run "$tool" pubkey pgp.key
pub=$OUT
is "$(age-keygen -y pgp.key)" "$pub" "age-keygen -y reads pgp's identity file: the same public key"
age-keygen -o age.key 2>/dev/null
run "$tool" pubkey age.key
is "$OUT" "$(age-keygen -y age.key)" "pgp reads age-keygen's identity file: the same public key"
printf '%s\n' "$pub" >pgp.pub
age-keygen -y age.key >age.pub
printf '# two recipients\n%s\n\n%s\n' "$pub" "$(cat age.pub)" >both.pub

: >empty
printf 'hello, age\n' >small
head -c $((3 * 65536)) /dev/urandom >exact
head -c 5000000 /dev/urandom >big
for f in empty small exact big; do
	run sh -c "'$tool' encrypt pgp.pub <$f >$f.pgp.age"
	is "$RC" 0 "pgp encrypts $f ($(stat -c %s $f) bytes)"
	# (age -o creates no file for an empty output: redirect instead)
	run sh -c "age -d -i pgp.key $f.pgp.age >$f.out"
	is "$RC" 0 "age -d decrypts it"
	ok "byte-identically" -- cmp -s $f $f.out
	run age -R pgp.pub -o $f.age.age $f
	run sh -c "'$tool' decrypt pgp.key <$f.age.age >$f.out2"
	is "$RC" 0 "pgp decrypts what age -R wrote of $f"
	ok "byte-identically" -- cmp -s $f $f.out2
done

run age -r "$pub" -o small.r.age small
run sh -c "'$tool' -p 1 decrypt pgp.key <small.r.age"
is "$OUT" "hello, age" "pgp decrypts what age -r wrote, fed a byte at a time"

run sh -c "'$tool' encrypt both.pub <big >two.pgp.age"
is "$RC" 0 "pgp encrypts to two recipients"
for k in pgp age; do
	run sh -c "age -d -i $k.key two.pgp.age >two.$k.out"
	ok "age -d with the $k identity alone decrypts it" -- cmp -s big two.$k.out
done
age -R both.pub -o two.age.age big
for k in pgp age; do
	run sh -c "'$tool' decrypt $k.key <two.age.age >two.$k.out2"
	ok "pgp with the $k identity alone decrypts age's file for two" -- cmp -s big two.$k.out2
done

# age's file of big: 77 chunks, the last of 5000000 - 76 * 65536 bytes.
size=$(stat -c %s big.age.age)
last=$((5000000 - 76 * 65536 + 16))
head -c $((size - 1)) big.age.age >cut1.age
run sh -c "'$tool' decrypt pgp.key <cut1.age >cut1.out"
is "$RC" 1 "a file from age without its last byte is refused"
like "$ERR" 'chunk 77 is corrupt, reordered or truncated' "naming the chunk"
head -c $((size - last)) big.age.age >cut2.age
run sh -c "'$tool' decrypt pgp.key <cut2.age >cut2.out"
is "$RC" 1 "a file from age cut at a chunk boundary is refused"
like "$ERR" 'truncated age file: no last chunk after chunk 76' "as truncated"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 1; open(sys.argv[2], "wb").write(b)' \
	big.age.age flip.age
run sh -c "'$tool' decrypt pgp.key <flip.age >flip.out"
is "$RC" 1 "a file from age with one bit flipped is refused"
like "$ERR" 'is corrupt, reordered or truncated \(authentication failed\)' "as corrupt"
ok "and the output stops before the damaged chunk" -- test "$(stat -c %s flip.out)" -lt 2500000
{ cat exact.age.age; printf x; } >trail.age
run sh -c "'$tool' decrypt pgp.key <trail.age >/dev/null"
is "$RC" 1 "trailing data after age's last chunk is refused"
like "$ERR" 'trailing data after the last chunk' "as trailing data"

run sh -c "'$tool' decrypt age.key <small.pgp.age"
is "$RC" 1 "the wrong identity is refused"
like "$ERR" 'no identity matches any of the 1 recipient stanzas' "saying how many stanzas it tried"
cp pgp.key open.key
chmod 644 open.key
run sh -c "'$tool' decrypt open.key <small.pgp.age"
is "$RC" 1 "a world-readable identity file is refused"
like "$ERR" 'open.key is readable by others \(chmod 600\)' "with the fix in the message"
printf '%s\n# a comment\nage1qqqqqqqqqqqqqqqqq\n' "$pub" >bad.pub
run sh -c "'$tool' encrypt bad.pub </dev/null"
is "$RC" 1 "a recipients file with a bad line is refused"
like "$ERR" 'bad.pub:3: invalid recipient "age1qqqqqqqqqqqqqqqqq"' "naming the file and line"
unlike "$ERR" 'AGE-SECRET-KEY' "no secret in any message"
done_testing
