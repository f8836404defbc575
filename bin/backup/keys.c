/*
 * The keys of encrypted backups (age, common/age.c): the public keys a
 * backup is encrypted to, from the configuration or --encrypt-to, and
 * keygen.  The host that takes backups holds only public keys; identity
 * (private key) files are read by restore.c when a backup is read back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"

/* Append the keys of one list element: "age1..." itself, or a file of them. */
static int
add_recipients(const char *item, struct pgp_age_recipient **keys, size_t *n)
{
	struct pgp_age_recipient one, *more = NULL, *grown;
	size_t nmore = 1;

	if (!strncmp(item, "age1", 4) || !strncmp(item, "AGE1", 4)) {
		if (pgp_age_recipient_parse(item, &one) < 0)
			return pgp_fail("backup.encrypt_recipients or --encrypt-to: %s", pgp_age_error());
		more = &one;
	} else if (!strncasecmp(item, "AGE-SECRET-KEY-", 15)) {
		/* Never echoed: it is a secret. */
		return pgp_fail("backup.encrypt_recipients or --encrypt-to holds a secret key (an identity), not a "
				"public key: give its public key (age1...), and keep the identity off this host");
	} else if (pgp_age_recipients_read(item, &more, &nmore) < 0)
		return pgp_fail("%s", pgp_age_error());
	grown = realloc(*keys, (*n + nmore) * sizeof(**keys));
	if (!grown) {
		if (more != &one)
			free(more);
		return pgp_fail("out of memory");
	}
	memcpy(grown + *n, more, nmore * sizeof(*more));
	*keys = grown;
	*n += nmore;
	if (more != &one)
		free(more);
	return 0;
}

int
keys_recipients(const char *const *list, struct pgp_age_recipient **keys, size_t *n)
{
	*keys = NULL;
	*n = 0;
	for (; list && *list; list++)
		if (add_recipients(*list, keys, n) < 0) {
			free(*keys);
			*keys = NULL;
			*n = 0;
			return -1;
		}
	/* The same key twice would be two stanzas for one reader: once is enough. */
	for (size_t i = 0; i < *n; i++)
		for (size_t k = i + 1; k < *n; k++)
			if (!memcmp((*keys)[i].pub, (*keys)[k].pub, PGP_AGE_KEY_LEN)) {
				memmove(&(*keys)[k], &(*keys)[k + 1], (*n - k - 1) * sizeof(**keys));
				(*n)--;
				k--;
			}
	return 0;
}

int
keys_keygen(const struct pgp_common *common, const char *path)
{
	struct pgp_age_recipient pub;
	char key[PGP_AGE_RECIPIENT_SIZE];

	if (access(path, F_OK) == 0) {
		pgp_error("keygen: %s exists: a key is never written over", path);
		return PGP_EXIT_USAGE;
	}
	if (pgp_age_keygen_file(path, &pub) < 0) {
		pgp_error("keygen: %s", pgp_age_error());
		return PGP_EXIT_FAILED;
	}
	pgp_age_recipient_format(&pub, key);
	if (common->format && !strcmp(common->format, "json")) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "identity_file", pgp_json_cstring(path));
		json_object_object_add(o, "recipient", pgp_json_cstring(key));
		pgp_json_print(stdout, o, 1);
		json_object_put(o);
	} else
		printf("%s\n", key);
	pgp_info("wrote the identity (private key) %s, mode 0600: keep it off the database host; "
		 "encrypt to its public key with --encrypt-to or backup.encrypt_recipients", path);
	return PGP_EXIT_OK;
}

int
keys_identities(struct backup_ctx *ctx)
{
	if (ctx->identities)
		return 0;
	if (!ctx->identity_file)
		return pgp_fail("no identity (private key) file: give --identity FILE or set backup.identity_file");
	if (pgp_age_identities_read(ctx->identity_file, &ctx->identities, &ctx->nidentities) < 0)
		return pgp_fail("%s", pgp_age_error());
	return 0;
}

/* null, or the format and the public keys: the only record of who can decrypt. */
struct json_object *
keys_encryption_json(const struct backup_ctx *ctx)
{
	struct json_object *e, *keys;

	if (!ctx->nrecipients)
		return NULL;
	e = json_object_new_object();
	keys = json_object_new_array();
	json_object_object_add(e, "format", pgp_json_cstring(MANIFEST_ENCRYPTION));
	for (size_t i = 0; i < ctx->nrecipients; i++) {
		char key[PGP_AGE_RECIPIENT_SIZE];

		pgp_age_recipient_format(&ctx->recipients[i], key);
		json_object_array_add(keys, pgp_json_cstring(key));
	}
	json_object_object_add(e, "recipients", keys);
	return e;
}
