#!/usr/bin/env bash
# The S3 test endpoint: s3rver behind the strict SigV4 front, with
# Debian's awscli as an independent client.  Proves the harness that
# pgp-backup's tests use really checks signatures and part sizes.
. "$(dirname "$0")/lib.sh"
need /usr/bin/aws "Debian's awscli"
s3_start

dir=$(mktemp -d /tmp/pgps3t.XXXXXX)
at_exit "rm -rf '$dir'"
head -c 7340032 /dev/urandom >"$dir/blob"	# 7 MiB: multipart in awscli
run aws_cli s3 cp "$dir/blob" "s3://$S3_BUCKET/t/blob"
is "$RC" 0 "awscli uploads through the strict front (signed, hashed)"
[ "$RC" = 0 ] || diag "$ERR"
run aws_cli s3 ls "s3://$S3_BUCKET/t/"
like "$OUT" "7340032 blob" "the object is listed with its size"
run aws_cli s3 cp "s3://$S3_BUCKET/t/blob" "$dir/back"
ok "download is byte-identical" -- cmp -s "$dir/blob" "$dir/back"

AWS_SECRET_ACCESS_KEY=wrong run aws_cli s3 ls "s3://$S3_BUCKET/t/"
ok "a wrong secret is refused by the front" -- [ "$RC" != 0 ]
like "$ERR" "SignatureDoesNotMatch" "with SignatureDoesNotMatch"
like "$(cat "$S3_DIR/proxy.log")" "REJECT" "the front logged the rejection"

run curl -s -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/$S3_BUCKET/t/blob"
is "$OUT" 403 "an unsigned request is refused (403)"
run curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER \
	-H "x-amz-content-sha256: $(printf x | sha256sum | cut -d' ' -f1)" -T "$dir/blob" "$S3_ENDPOINT/$S3_BUCKET/t/lie"
is "$OUT" 400 "a body that does not match its declared hash is refused (400)"
done_testing
