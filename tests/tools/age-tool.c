/*
 * age-tool: a command-line driver over libpgp's age module, for the
 * interoperability tests against Debian's age and for measurements.
 * Data moves stdin to stdout in pieces of any size (-p N cuts the input
 * into N-byte writes, to prove the streams do not depend on the cut).
 * Exit 1 with the reason on stderr on any failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "age.h"

static void
usage(void)
{
	fprintf(stderr, "usage: age-tool keygen FILE\n"
		"       age-tool pubkey IDENTITY-FILE\n"
		"       age-tool [-p PIECE] encrypt RECIPIENTS-FILE   (stdin to stdout)\n"
		"       age-tool [-p PIECE] decrypt IDENTITY-FILE     (stdin to stdout)\n");
}

static int
fail(const char *what)
{
	fprintf(stderr, "age-tool: error: %s\n", what);
	return 1;
}

static int
write_stdout(void *ctx, const void *data, size_t len)
{
	const char *p = data;

	(void) ctx;
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "age-tool: error: cannot write stdout: %s\n", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* Feed stdin to fn in pieces of at most piece bytes. */
static int
pump(size_t piece, int (*fn)(void *s, const void *data, size_t len), void *s)
{
	static unsigned char buf[1 << 20];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, piece < sizeof(buf) ? piece : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "age-tool: error: cannot read stdin: %s\n", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if (fn(s, buf, (size_t) n) != 0)
			return -1;
	}
}

static int
enc_write(void *s, const void *data, size_t len)
{
	return pgp_age_enc_write(s, data, len);
}

static int
dec_write(void *s, const void *data, size_t len)
{
	return pgp_age_dec_write(s, data, len);
}

static int
encrypt(const char *path, size_t piece)
{
	struct pgp_age_recipient *r;
	struct pgp_age_enc *e;
	size_t n;
	int rc;

	if (pgp_age_recipients_read(path, &r, &n) != 0)
		return fail(pgp_age_error());
	e = pgp_age_enc_begin(r, n, write_stdout, NULL);
	free(r);
	if (!e)
		return fail(pgp_age_error());
	rc = pump(piece, enc_write, e) == 0 && pgp_age_enc_finish(e) == 0 ? 0 : fail(pgp_age_error());
	pgp_age_enc_free(e);
	return rc;
}

static int
decrypt(const char *path, size_t piece)
{
	struct pgp_age_identity *ids;
	struct pgp_age_dec *d;
	size_t n;
	int rc;

	if (pgp_age_identities_read(path, &ids, &n) != 0)
		return fail(pgp_age_error());
	d = pgp_age_dec_begin(ids, n, write_stdout, NULL);
	pgp_age_identities_free(ids, n);
	if (!d)
		return fail(pgp_age_error());
	rc = pump(piece, dec_write, d) == 0 && pgp_age_dec_finish(d) == 0 ? 0 : fail(pgp_age_error());
	pgp_age_dec_free(d);
	return rc;
}

static int
pubkey(const char *path)
{
	struct pgp_age_identity *ids;
	struct pgp_age_recipient r;
	char text[PGP_AGE_RECIPIENT_SIZE];
	size_t n;

	if (pgp_age_identities_read(path, &ids, &n) != 0)
		return fail(pgp_age_error());
	for (size_t i = 0; i < n; i++) {
		pgp_age_identity_recipient(&ids[i], &r);
		pgp_age_recipient_format(&r, text);
		printf("%s\n", text);
	}
	pgp_age_identities_free(ids, n);
	return fflush(stdout) == 0 ? 0 : fail("cannot write stdout");
}

static int
keygen(const char *path)
{
	struct pgp_age_recipient r;
	char text[PGP_AGE_RECIPIENT_SIZE];

	if (pgp_age_keygen_file(path, &r) != 0)
		return fail(pgp_age_error());
	pgp_age_recipient_format(&r, text);
	printf("Public key: %s\n", text);
	return fflush(stdout) == 0 ? 0 : fail("cannot write stdout");
}

int
main(int argc, char **argv)
{
	size_t piece = 1 << 20;
	int opt;

	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p' || (piece = (size_t) strtoul(optarg, NULL, 10)) == 0) {
			usage();
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[0], "keygen") == 0)
		return keygen(argv[1]);
	if (strcmp(argv[0], "pubkey") == 0)
		return pubkey(argv[1]);
	if (strcmp(argv[0], "encrypt") == 0)
		return encrypt(argv[1], piece);
	if (strcmp(argv[0], "decrypt") == 0)
		return decrypt(argv[1], piece);
	usage();
	return 2;
}
