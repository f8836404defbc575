/*
 * The witness (connect as the application does and run SELECT 1) and
 * what pgp-create prints: connection URIs without passwords, the export
 * lines for the credential files, or one JSON object for scripts.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "create.h"
#include "json.h"
#include "log.h"

/* Percent-encode a URI query value. */
static void
uri_escape(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 4 < size; s++) {
		if (isalnum((unsigned char) *s) || strchr("-._~/", *s))
			out[n++] = *s;
		else
			n += (size_t) snprintf(out + n, size - n, "%%%02X", (unsigned char) *s);
	}
	out[n] = '\0';
}

static void
role_uri(const struct create_ctx *ctx, int kind, int pooled, char *out, size_t size)
{
	const char *ca_file = pooled ? ctx->pooler_ca_file : ctx->ca_file;
	char ca[1024], sock[1024], port[16];

	uri_escape(ca, sizeof(ca), ca_file);
	if (kind < 0 && ctx->local_dir) {
		uri_escape(sock, sizeof(sock), ctx->socket_dir);
		snprintf(out, size, "postgresql://%s@/%s?host=%s&port=%s", ctx->admin_role, ctx->database,
			 sock, ctx->tcp_port);
		return;
	}
	snprintf(port, sizeof(port), "%d", ctx->pooler_port);
	snprintf(out, size, "postgresql://%s@%s:%s/%s?sslmode=%s%s%s",
		 kind < 0 ? ctx->admin_role : ctx->roles[kind].name, pooled ? "127.0.0.1" : ctx->host,
		 pooled ? port : ctx->tcp_port, ctx->database, *ca_file ? "verify-full" : "require",
		 *ca_file ? "&sslrootcert=" : "", *ca_file ? ca : "");
}

/* Does a server answer on PgBouncer's port?  Server mode does not start one. */
static int
pooler_answers(const struct create_ctx *ctx)
{
	char conninfo[512] = "", port[16];
	PGPing ping;

	snprintf(port, sizeof(port), "%d", ctx->pooler_port);
	if (pgp_conninfo_append(conninfo, sizeof(conninfo), "host", "127.0.0.1") < 0 ||
	    pgp_conninfo_append(conninfo, sizeof(conninfo), "port", port) < 0 ||
	    pgp_conninfo_append(conninfo, sizeof(conninfo), "dbname", ctx->database) < 0 ||
	    pgp_conninfo_append(conninfo, sizeof(conninfo), "connect_timeout", "5") < 0)
		return 0;
	ping = PQping(conninfo);
	return ping == PQPING_OK || ping == PQPING_REJECT;
}

int
report_witness(struct create_ctx *ctx)
{
	struct pgp_connspec spec;
	char service[128];
	const char *tls;
	PGconn *conn;
	PGresult *res;
	int pooled = ctx->pooler;

	if (ctx->dry_run)
		return 0;
	/* Starting a pooler, maybe on another host, is not a server-mode run's job. */
	if (pooled && !ctx->local_dir && !pooler_answers(ctx)) {
		pgp_warning("PgBouncer does not answer on 127.0.0.1:%d: the pooled witness was skipped, "
			    "the witness connects directly", ctx->pooler_port);
		pooled = 0;
	}
	snprintf(service, sizeof(service), "service=%s-%s", ctx->database, pooled ? "app-pooler" : "app");
	memset(&spec, 0, sizeof(spec));
	spec.conninfo = service;
	spec.service_file = ctx->service_file;
	spec.passfile = ctx->passfile;
	spec.connect_timeout = 10;
	spec.pooled = pooled;
	conn = pgp_conn_open(&spec, NULL);
	if (!conn)
		return pgp_fail("the witness could not connect as %s through %s", ctx->roles[ROLE_APP].name,
				service);
	res = pgp_conn_query(conn, "SELECT 1", 0, NULL);
	tls = PQsslAttribute(conn, "protocol");
	snprintf(ctx->witness_tls, sizeof(ctx->witness_tls), "%s", tls ? tls : "none");
	snprintf(ctx->witness_via, sizeof(ctx->witness_via), "%s", pooled ? "pgbouncer" : "direct");
	PQclear(res);
	pgp_conn_close(conn);
	if (!res)
		return -1;
	if (!tls)
		return pgp_fail("the witness connected without TLS");
	return 0;
}

static void
print_json(const struct create_ctx *ctx)
{
	struct json_object *o = json_object_new_object(), *services = json_object_new_object();
	struct json_object *roles = json_object_new_object(), *uris = json_object_new_object();
	struct json_object *w = json_object_new_object();
	char buf[2048], name[128];

	json_object_object_add(o, "changed", json_object_new_boolean(ctx->changed));
	json_object_object_add(o, "database", pgp_json_cstring(ctx->database));
	json_object_object_add(o, "service_file", pgp_json_cstring(ctx->service_file));
	json_object_object_add(o, "passfile", pgp_json_cstring(ctx->passfile));
	snprintf(name, sizeof(name), "%s-admin", ctx->database);
	json_object_object_add(services, "admin", pgp_json_cstring(name));
	role_uri(ctx, -1, 0, buf, sizeof(buf));
	json_object_object_add(uris, "admin", pgp_json_cstring(buf));
	for (int k = 0; k < ROLE_COUNT; k++) {
		if (!ctx->roles[k].wanted)
			continue;
		json_object_object_add(roles, role_kind_names[k], pgp_json_cstring(ctx->roles[k].name));
		if (k < FIRST_LOGIN_ROLE || k == ROLE_POOLER)
			continue;
		snprintf(name, sizeof(name), "%s-%s", ctx->database, role_kind_names[k]);
		json_object_object_add(services, role_kind_names[k], pgp_json_cstring(name));
		role_uri(ctx, k, 0, buf, sizeof(buf));
		json_object_object_add(uris, role_kind_names[k], pgp_json_cstring(buf));
	}
	if (ctx->pooler) {
		snprintf(name, sizeof(name), "%s-app-pooler", ctx->database);
		json_object_object_add(services, "app_pooler", pgp_json_cstring(name));
		role_uri(ctx, ROLE_APP, 1, buf, sizeof(buf));
		json_object_object_add(uris, "app_pooler", pgp_json_cstring(buf));
	}
	json_object_object_add(o, "services", services);
	json_object_object_add(o, "roles", roles);
	json_object_object_add(o, "uris", uris);
	json_object_object_add(w, "ok", json_object_new_boolean(!ctx->dry_run));
	json_object_object_add(w, "role", pgp_json_cstring(ctx->roles[ROLE_APP].name));
	json_object_object_add(w, "via", pgp_json_cstring(ctx->dry_run ? NULL : ctx->witness_via));
	json_object_object_add(w, "tls_version", pgp_json_cstring(ctx->dry_run ? NULL : ctx->witness_tls));
	json_object_object_add(o, "witness", w);
	json_object_object_add(o, "admin_flavour", pgp_json_cstring(ctx->flavour));
	pgp_json_print(stdout, o, 1);
	json_object_put(o);
}

/* Server mode: the pg_hba lines the operator adds where pgp cannot. */
static void
print_hba_lines(const struct create_ctx *ctx)
{
	printf("\nAdd to pg_hba.conf on the server (pgp-create cannot edit a remote one):\n");
	for (int i = 0; i < ctx->n_allow; i++) {
		printf("  hostssl  %s  ", ctx->database);
		for (int k = FIRST_LOGIN_ROLE, first = 1; k < ROLE_COUNT; k++) {
			if (!ctx->roles[k].wanted)
				continue;
			printf("%s%s", first ? "" : ",", ctx->roles[k].name);
			first = 0;
		}
		printf("  %s  scram-sha-256\n", ctx->allow[i]);
	}
	printf("  hostnossl  all  all  0.0.0.0/0  reject\n");
}

/* Server mode: PgBouncer's files are written; starting it is the operator's part. */
static void
print_pooler_start(const struct create_ctx *ctx)
{
	printf("\nStart PgBouncer on this host%s%s (it refuses root):\n", ctx->os_user ? " as " : "",
	       ctx->os_user ? ctx->os_user : "");
	printf("  pgbouncer -d %s/pgbouncer.ini\n", ctx->pooler_dir);
	printf("A running one rereads its files on SIGHUP: kill -HUP $(cat %s/pgbouncer.pid)\n",
	       ctx->pooler_dir);
}

int
report_print(struct create_ctx *ctx)
{
	char uri[2048];

	if (ctx->common->format && strcmp(ctx->common->format, "json") == 0) {
		print_json(ctx);
		return 0;
	}
	if (ctx->dry_run) {
		printf("-- dry run: nothing was changed\n");
		return 0;
	}
	printf("%s: %s\n", ctx->database, ctx->changed ? "provisioned" : "no changes");
	printf("witness: %s connected %s over %s and ran SELECT 1\n", ctx->roles[ROLE_APP].name,
	       strcmp(ctx->witness_via, "pgbouncer") == 0 ? "through pgbouncer" : "directly", ctx->witness_tls);
	printf("\nconnections (passwords are in %s):\n", ctx->passfile);
	role_uri(ctx, -1, 0, uri, sizeof(uri));
	printf("  %-10s %s\n", "admin", uri);
	for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++) {
		if (k == ROLE_POOLER)
			continue;
		role_uri(ctx, k, 0, uri, sizeof(uri));
		printf("  %-10s %s\n", role_kind_names[k], uri);
	}
	if (ctx->pooler) {
		role_uri(ctx, ROLE_APP, 1, uri, sizeof(uri));
		printf("  %-10s %s\n", "app_pooler", uri);
	}
	if (ctx->show_secrets) {
		printf("\npasswords (--show-secrets):\n");
		for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++)
			if (ctx->roles[k].wanted)
				printf("  %-24s %s\n", ctx->roles[k].name, ctx->roles[k].password);
	}
	if (!ctx->local_dir)
		print_hba_lines(ctx);
	if (!ctx->local_dir && ctx->pooler)
		print_pooler_start(ctx);
	printf("\nTo connect (e.g. psql service=%s-app), use these files:\n", ctx->database);
	printf("export PGSERVICEFILE=%s PGPASSFILE=%s\n", ctx->service_file, ctx->passfile);
	return 0;
}
