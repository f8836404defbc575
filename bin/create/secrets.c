/*
 * Passwords and the credential files.
 *
 * The pgpass file is pgp-create's memory of passwords: a role's password
 * is the pgpass entry when there is one, else a new one from the CSPRNG
 * (32 bytes, base64url).  Entries are written before the server learns
 * them, so an interrupted run completes on the next one.  Plaintext never
 * reaches the server: provision.c sends SCRAM verifiers made here, in the
 * client, by PQencryptPasswordConn.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "atomicfile.h"
#include "create.h"
#include "log.h"

int
secrets_random_password(char *buf, size_t size)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[32];
	size_t n = 0, bits = 0;
	unsigned acc = 0;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
		return pgp_fail("cannot read random bytes: %s", strerror(errno));
	/* base64url without padding: 32 bytes -> 43 characters, 256 bits. */
	for (size_t i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 6 && n + 1 < size) {
			bits -= 6;
			buf[n++] = alphabet[(acc >> bits) & 63];
		}
	}
	if (bits > 0 && n + 1 < size)
		buf[n++] = alphabet[(acc << (6 - bits)) & 63];
	buf[n] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Decode base64 into out; the length, or -1. */
static int
b64_decode(const char *in, size_t len, unsigned char *out, size_t size)
{
	int n;

	if ((len / 4) * 3 > size)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *) in, (int) len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes. */
	if (len > 0 && in[len - 1] == '=')
		n--;
	if (len > 1 && in[len - 2] == '=')
		n--;
	return n;
}

/*
 * Does password match a stored "SCRAM-SHA-256$iter:salt$StoredKey:ServerKey"?
 * (RFC 5802: StoredKey = H(HMAC(PBKDF2(password, salt, iter), "Client Key"))).
 * Our passwords are ASCII, which SASLprep leaves as is.  1, 0, or -1 when
 * the verifier is not SCRAM.
 */
int
secrets_verify_scram(const char *password, const char *verifier)
{
	unsigned char salt[128], stored[64], salted[SHA256_DIGEST_LENGTH];
	unsigned char client_key[SHA256_DIGEST_LENGTH], computed[SHA256_DIGEST_LENGTH];
	unsigned int klen = 0;
	const char *p, *colon, *dollar;
	int iterations, salt_len, stored_len, same;

	if (!verifier || strncmp(verifier, "SCRAM-SHA-256$", 14) != 0)
		return -1;
	p = verifier + 14;
	iterations = atoi(p);
	colon = strchr(p, ':');
	dollar = colon ? strchr(colon, '$') : NULL;
	if (iterations <= 0 || !colon || !dollar)
		return -1;
	salt_len = b64_decode(colon + 1, (size_t) (dollar - colon - 1), salt, sizeof(salt));
	p = dollar + 1;
	colon = strchr(p, ':');
	if (salt_len <= 0 || !colon)
		return -1;
	stored_len = b64_decode(p, (size_t) (colon - p), stored, sizeof(stored));
	if (stored_len != SHA256_DIGEST_LENGTH)
		return -1;
	if (!PKCS5_PBKDF2_HMAC(password, (int) strlen(password), salt, salt_len, iterations,
			       EVP_sha256(), sizeof(salted), salted) ||
	    !HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *) "Client Key", 10,
		  client_key, &klen))
		return -1;
	SHA256(client_key, klen, computed);
	same = CRYPTO_memcmp(computed, stored, SHA256_DIGEST_LENGTH) == 0;
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return same;
}

/* pgpass fields escape ':' and '\' with a backslash. */
static void
pgpass_field(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == ':' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void
pgpass_line(FILE *f, const char *host, const char *port, const char *db, const struct role_spec *r)
{
	pgpass_field(f, host);
	fputc(':', f);
	pgpass_field(f, port);
	fputc(':', f);
	pgpass_field(f, db);
	fputc(':', f);
	pgpass_field(f, r->name);
	fputc(':', f);
	pgpass_field(f, r->password);
	fputc('\n', f);
}

/* Split a pgpass line into its 5 unescaped fields (in place); 0 or -1. */
static int
pgpass_split(char *line, char *fields[5])
{
	int n = 0;
	char *out = line;

	fields[n++] = out;
	for (char *p = line; *p && *p != '\n'; p++) {
		if (*p == '\\' && p[1]) {
			*out++ = *++p;
			continue;
		}
		if (*p == ':' && n < 5) {
			*out++ = '\0';
			fields[n++] = out;
			continue;
		}
		*out++ = *p;
	}
	*out = '\0';
	return n == 5 ? 0 : -1;
}

static const char *
home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home)
		return home;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

static int
read_password_file(const char *path, char *buf, size_t size)
{
	char *text;
	size_t len;

	if (pgp_read_file(path, &text, &len) < 0)
		return -1;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (len == 0 || len >= size) {
		free(text);
		return pgp_fail("password file \"%s\" is empty or longer than %zu bytes", path, size - 1);
	}
	memcpy(buf, text, len + 1);
	explicit_bzero(text, len);
	free(text);
	return 0;
}

int
secrets_load(struct create_ctx *ctx)
{
	const char *dir = ctx->out_dir ? ctx->out_dir : ctx->local_dir;
	char *text = NULL, *line, *save = NULL;

	if (dir) {
		if (create_path(ctx->service_file, sizeof(ctx->service_file), "%s/pg_service.conf", dir) < 0 ||
		    create_path(ctx->passfile, sizeof(ctx->passfile), "%s/pgpass", dir) < 0)
			return -1;
	} else if (create_path(ctx->service_file, sizeof(ctx->service_file), "%s/.pg_service.conf", home_dir()) < 0 ||
		   create_path(ctx->passfile, sizeof(ctx->passfile), "%s/.pgpass", home_dir()) < 0)
		return -1;

	if (access(ctx->passfile, F_OK) == 0 && pgp_read_file(ctx->passfile, &text, NULL) < 0)
		return -1;
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5];

		if (*line == '#' || pgpass_split(line, f) < 0)
			continue;
		for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++) {
			struct role_spec *r = &ctx->roles[k];

			if (strcmp(f[0], ctx->host) == 0 && strcmp(f[1], ctx->tcp_port) == 0 &&
			    strcmp(f[2], ctx->database) == 0 && strcmp(f[3], r->name) == 0 &&
			    !r->password_known && strlen(f[4]) < sizeof(r->password)) {
				snprintf(r->password, sizeof(r->password), "%s", f[4]);
				r->password_known = 1;
			}
		}
	}
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++) {
		struct role_spec *r = &ctx->roles[k];

		if (ctx->password_files[k]) {
			char given[sizeof(r->password)];

			if (read_password_file(ctx->password_files[k], given, sizeof(given)) < 0)
				return -1;
			r->password_new = !r->password_known || strcmp(given, r->password) != 0;
			memcpy(r->password, given, sizeof(given));
			explicit_bzero(given, sizeof(given));
			r->password_known = 1;
			continue;
		}
		if (r->password_known && !ctx->rotate_passwords)
			continue;
		if (secrets_random_password(r->password, sizeof(r->password)) < 0)
			return -1;
		r->password_new = 1;
	}
	return 0;
}

/* One service section; TCP services verify the certificate with ca (or cannot). */
static void
service_section_db(FILE *f, const struct create_ctx *ctx, const char *suffix, const char *host,
		   const char *port, const char *dbname, const char *user, int tcp, const char *ca)
{
	fprintf(f, "[%s-%s]\nhost=%s\nport=%s\ndbname=%s\nuser=%s\n", ctx->database, suffix, host,
		port, dbname, user);
	if (tcp && *ca)
		fprintf(f, "sslmode=verify-full\nsslrootcert=%s\n", ca);
	else if (tcp)
		fprintf(f, "sslmode=require\n");
	fputc('\n', f);
}

static void
service_section(FILE *f, const struct create_ctx *ctx, const char *suffix, const char *host,
		const char *port, const char *user, int tcp, const char *ca)
{
	service_section_db(f, ctx, suffix, host, port, ctx->database, user, tcp, ca);
}

/* Is this service section one we write (and so replace)? */
static int
ours(const struct create_ctx *ctx, const char *section)
{
	size_t n = strlen(ctx->database);
	const char *suffix = section + n + 1;

	if (strncmp(section, ctx->database, n) != 0 || section[n] != '-')
		return 0;
	if (!strcmp(suffix, "admin") || !strcmp(suffix, "app-pooler") || !strcmp(suffix, "pgbouncer"))
		return 1;
	for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++)
		if (k != ROLE_POOLER && !strcmp(suffix, role_kind_names[k]))
			return 1;
	return 0;
}

/* Keep the sections of an existing service file that are not ours. */
static void
copy_other_services(FILE *out, const struct create_ctx *ctx)
{
	char *text, *line, *save = NULL;
	int skipping = 0;

	if (access(ctx->service_file, F_OK) != 0 || pgp_read_file(ctx->service_file, &text, NULL) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (*line == '[') {
			char name[256];

			snprintf(name, sizeof(name), "%s", line + 1);
			name[strcspn(name, "]")] = '\0';
			skipping = ours(ctx, name);
		}
		if (!skipping)
			fprintf(out, "%s\n", line);
	}
	free(text);
}

/* Keep pgpass lines that are not for one of our (host, port, db, role):
 * the server's, and the pooler's (its databases and its console). */
static void
copy_other_passwords(FILE *out, const struct create_ctx *ctx)
{
	char *text, *line, *save = NULL, pooler_port[16];

	snprintf(pooler_port, sizeof(pooler_port), "%d", ctx->pooler_port);
	if (access(ctx->passfile, F_OK) != 0 || pgp_read_file(ctx->passfile, &text, NULL) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char copy[1024], *f[5];
		int mine = 0;

		snprintf(copy, sizeof(copy), "%s", line);
		if (*line != '#' && pgpass_split(copy, f) == 0 &&
		    ((strcmp(f[2], ctx->database) == 0 && strcmp(f[0], ctx->host) == 0) ||
		     (ctx->pooler && strcmp(f[0], "127.0.0.1") == 0 && strcmp(f[1], pooler_port) == 0 &&
		      (strcmp(f[2], ctx->database) == 0 || strcmp(f[2], "pgbouncer") == 0))))
			for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++)
				mine |= strcmp(f[3], ctx->roles[k].name) == 0;
		if (!mine)
			fprintf(out, "%s\n", line);
		explicit_bzero(copy, sizeof(copy));
	}
	explicit_bzero(text, strlen(text));
	free(text);
}

/* Close a memstream (which only then sets *text) and write it out. */
static int
write_buffer(FILE *f, char **text, const char *path, mode_t mode)
{
	int rc;

	if (fclose(f) != 0) {
		free(*text);
		return pgp_fail("out of memory writing %s", path);
	}
	rc = pgp_atomic_write(path, *text, strlen(*text), mode);
	explicit_bzero(*text, strlen(*text));
	free(*text);
	return rc;
}

int
secrets_write_files(struct create_ctx *ctx)
{
	char *svc = NULL, *pass = NULL, pooler_port[16];
	size_t size;
	FILE *f;

	if (ctx->dry_run) {
		printf("-- would write %s and %s\n", ctx->service_file, ctx->passfile);
		return 0;
	}
	snprintf(pooler_port, sizeof(pooler_port), "%d", ctx->pooler_port);
	f = open_memstream(&svc, &size);
	if (!f)
		return pgp_fail("out of memory");
	copy_other_services(f, ctx);
	if (ctx->local_dir)
		service_section(f, ctx, "admin", ctx->socket_dir, ctx->tcp_port, ctx->admin_role, 0, "");
	else
		service_section(f, ctx, "admin", ctx->host, ctx->tcp_port, ctx->admin_role, 1, ctx->ca_file);
	for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++)
		if (k != ROLE_POOLER)
			service_section(f, ctx, role_kind_names[k], ctx->host, ctx->tcp_port, ctx->roles[k].name, 1,
					ctx->ca_file);
	if (ctx->pooler) {
		service_section(f, ctx, "app-pooler", "127.0.0.1", pooler_port, ctx->roles[ROLE_APP].name, 1,
				ctx->pooler_ca_file);
		/* PgBouncer's admin console, as the monitor (a stats user): pgp-alert --pgbouncer. */
		service_section_db(f, ctx, "pgbouncer", "127.0.0.1", pooler_port, "pgbouncer",
				   ctx->roles[ROLE_MONITOR].name, 1, ctx->pooler_ca_file);
	}
	if (write_buffer(f, &svc, ctx->service_file, 0644) < 0)
		return -1;

	f = open_memstream(&pass, &size);
	if (!f)
		return pgp_fail("out of memory");
	copy_other_passwords(f, ctx);
	for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++)
		if (ctx->roles[k].wanted)
			pgpass_line(f, ctx->host, ctx->tcp_port, ctx->database, &ctx->roles[k]);
	/* Clients of the pooler log in with the same passwords. */
	for (int k = ROLE_APP; ctx->pooler && k <= ROLE_READONLY; k++)
		pgpass_line(f, "127.0.0.1", pooler_port, ctx->database, &ctx->roles[k]);
	/* The monitor on PgBouncer's console (the auth file has its verifier). */
	if (ctx->pooler)
		pgpass_line(f, "127.0.0.1", pooler_port, "pgbouncer", &ctx->roles[ROLE_MONITOR]);
	return write_buffer(f, &pass, ctx->passfile, 0600);
}
