/*
 * A local certificate authority and a server certificate signed by it, so
 * clients can use sslmode=verify-full against a local cluster exactly as
 * against production.  EC P-256 keys: quick to make, accepted by
 * PostgreSQL and PgBouncer.  Existing files are kept: re-running never
 * invalidates the CA clients already trust.  A server pair that is not
 * whole (a run killed while writing it) is made again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "atomicfile.h"
#include "create.h"
#include "log.h"
#include "spawn.h"

#define CA_DAYS 3650
#define SERVER_DAYS 825		/* the longest browsers accept; fine for PG too */

static int
ssl_fail(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	return pgp_fail("cannot %s: %s", what, e ? buf : "unknown OpenSSL error");
}

/* Write a PEM object through a memory BIO, atomically, with mode. */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc = -1;

	if (!bio)
		return ssl_fail("allocate a buffer");
	if (key ? !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
		: !PEM_write_bio_X509(bio, cert)) {
		ssl_fail("encode PEM");
		goto done;
	}
	len = BIO_get_mem_data(bio, &data);
	rc = pgp_atomic_write(path, data, (size_t) len, mode);
done:
	BIO_free(bio);
	return rc;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return ssl_fail("build a certificate extension");
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : ssl_fail("add a certificate extension");
}

/* A certificate for key, named cn, signed by issuer (NULL: self-signed). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, int days)
{
	X509 *cert = X509_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509_NAME *name;

	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7F;	/* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto fail;
	X509_set_version(cert, 2);
	/* A minute of slack for clocks that are slightly behind. */
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long) days * 24 * 3600);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *) "pgp", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	if (!X509_set_pubkey(cert, key))
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	ssl_fail("build a certificate");
	return NULL;
}

static int
make_ca(const char *key_path, const char *crt_path, EVP_PKEY **key, X509 **cert)
{
	char cn[300], host[256] = "localhost";

	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "pgp local CA on %s", host);
	*key = EVP_EC_gen("P-256");
	if (!*key)
		return ssl_fail("generate the CA key");
	*cert = make_cert(*key, cn, NULL, CA_DAYS);
	if (!*cert ||
	    add_ext(*cert, *cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(*cert, *cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(*cert, *cert, NID_subject_key_identifier, "hash") < 0)
		return -1;
	if (!X509_sign(*cert, *key, EVP_sha256()))
		return ssl_fail("sign the CA certificate");
	if (write_pem(key_path, 0600, *key, NULL) < 0 || write_pem(crt_path, 0644, NULL, *cert) < 0)
		return -1;
	return 0;
}

static int
load_ca(const char *key_path, const char *crt_path, EVP_PKEY **key, X509 **cert)
{
	FILE *f = fopen(key_path, "r");

	if (!f)
		return pgp_fail("cannot open \"%s\": %s", key_path, strerror(errno));
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(crt_path, "r");
	if (!f)
		return pgp_fail("cannot open \"%s\": %s", crt_path, strerror(errno));
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*key || !*cert)
		return ssl_fail("read the local CA");
	return 0;
}

static int
make_server(const char *dir, EVP_PKEY *ca_key, X509 *ca, const char *os_user)
{
	char host[256] = "localhost", san[600], key_path[600], crt_path[600];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	int rc = -1;

	if (!key)
		return ssl_fail("generate the server key");
	gethostname(host, sizeof(host) - 1);
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
		 strcmp(host, "localhost") ? ",DNS:" : "", strcmp(host, "localhost") ? host : "");
	cert = make_cert(key, "localhost", ca, SERVER_DAYS);
	if (!cert ||
	    add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(cert, ca, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(cert, ca, NID_subject_alt_name, san) < 0)
		goto done;
	if (!X509_sign(cert, ca_key, EVP_sha256())) {
		ssl_fail("sign the server certificate");
		goto done;
	}
	snprintf(key_path, sizeof(key_path), "%s/server.key", dir);
	snprintf(crt_path, sizeof(crt_path), "%s/server.crt", dir);
	/* Key first, given away before the certificate lands: a run killed
	 * between the steps leaves a pair tls_complete rejects. */
	if (write_pem(key_path, 0600, key, NULL) < 0 || create_give(key_path, os_user) < 0 ||
	    write_pem(crt_path, 0644, NULL, cert) < 0 || create_give(crt_path, os_user) < 0)
		goto done;
	rc = 0;
done:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int
tls_complete(const char *dir, const char *os_user)
{
	static const char *const names[] = {"ca.crt", "server.crt", "server.key"};
	char path[600];
	struct stat st;
	uid_t uid;
	gid_t gid;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) != 0)
			return 0;
	}
	/* st is the key's: it must be the server's user's. */
	if (os_user && (pgp_os_user(os_user, &uid, &gid) < 0 || st.st_uid != uid))
		return 0;
	return 1;
}

int
tls_ensure(const char *dir, const char *os_user, int *changed)
{
	char ca_key[600], ca_crt[600];
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	struct stat st;
	int rc = -1;

	if (tls_complete(dir, os_user))
		return 0;
	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir);
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", dir);
	/* The server's user enters it for its key, whatever our umask. */
	if (mkdir(dir, 0755) == 0 ? chmod(dir, 0755) != 0 : errno != EEXIST)
		return pgp_fail("cannot create \"%s\": %s", dir, strerror(errno));
	/* make_ca writes the key before the certificate: a certificate means a whole CA. */
	if (stat(ca_crt, &st) == 0 ? load_ca(ca_key, ca_crt, &key, &ca) : make_ca(ca_key, ca_crt, &key, &ca))
		goto done;
	if (make_server(dir, key, ca, os_user) < 0)
		goto done;
	*changed = 1;
	pgp_info("made a local CA and a server certificate in %s", dir);
	rc = 0;
done:
	X509_free(ca);
	EVP_PKEY_free(key);
	return rc;
}
