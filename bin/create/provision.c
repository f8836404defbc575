/*
 * The database side of pgp-create: role layout, database, grants,
 * extensions and UUID v7, run through an admin connection that may be a
 * superuser or a managed service's admin (rds_superuser, doadmin...).
 *
 * Idempotency: every statement is one that may run again harmlessly
 * (GRANT, ALTER ... SET, CREATE ... IF NOT EXISTS) or is guarded by a
 * catalog check (CREATE ROLE, CREATE DATABASE).  Whether the run changed
 * anything is decided by comparing a snapshot of the relevant catalogs
 * before and after, so "no changes" is a fact, not a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "create.h"
#include "log.h"
#include "sql.h"

/* The roles of our layout as a text[] literal for "= ANY($1)". */
static void
role_array(const struct create_ctx *ctx, char *buf, size_t size)
{
	size_t n = (size_t) snprintf(buf, size, "{");

	for (int k = 0; k < ROLE_COUNT; k++)
		n += (size_t) snprintf(buf + n, size - n, "%s\"%s\"", k ? "," : "", ctx->roles[k].name);
	snprintf(buf + n, size - n, "}");
}

static const char cluster_snapshot_sql[] =
	"SELECT concat_ws(E'\\n',"
	" (SELECT string_agg(format('%s %s %s %s %s %s', rolname, rolcanlogin, rolinherit,"
	"   rolbypassrls, rolconnlimit, rolconfig), ',' ORDER BY rolname)"
	"   FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])),"
	" (SELECT string_agg(g.rolname || '>' || m.rolname, ',' ORDER BY g.rolname, m.rolname)"
	"   FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles g ON g.oid = a.roleid"
	"   JOIN pg_catalog.pg_roles m ON m.oid = a.member WHERE m.rolname = ANY($1::text[])),"
	" (SELECT format('%s %s %s %s', datname, pg_catalog.pg_get_userbyid(datdba), datacl,"
	"   (SELECT setconfig FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = d.oid"
	"    AND s.setrole = 0)) FROM pg_catalog.pg_database d WHERE datname = $2))";

static const char db_snapshot_sql[] =
	"SELECT concat_ws(E'\\n',"
	" (SELECT string_agg(format('%s %s %s', nspname, pg_catalog.pg_get_userbyid(nspowner), nspacl),"
	"   ',' ORDER BY nspname) FROM pg_catalog.pg_namespace"
	"   WHERE nspname IN ('public', 'extensions', 'pgbouncer')),"
	" (SELECT string_agg(format('%s %s %s %s', pg_catalog.pg_get_userbyid(defaclrole),"
	"   defaclnamespace, defaclobjtype, defaclacl), ',' ORDER BY defaclrole, defaclnamespace,"
	"   defaclobjtype) FROM pg_catalog.pg_default_acl),"
	" (SELECT string_agg(extname || ' ' || extversion, ',' ORDER BY extname) FROM pg_catalog.pg_extension),"
	" (SELECT string_agg(format('%s %s %s %s %s', p.oid::pg_catalog.regprocedure,"
	"   pg_catalog.md5(prosrc), proacl, pg_catalog.pg_get_userbyid(proowner), proconfig), ','"
	"   ORDER BY p.oid) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = pronamespace"
	"   WHERE nspname IN ('public', 'pgbouncer') AND proname IN ('uuid_generate_v7', 'user_lookup')),"
	" (SELECT string_agg(format('%s %s', relname, relacl), ',' ORDER BY relname)"
	"   FROM pg_catalog.pg_class WHERE relnamespace = 'public'::pg_catalog.regnamespace))";

static char *
cluster_snapshot(struct create_ctx *ctx, PGconn *conn)
{
	char roles[1024];

	role_array(ctx, roles, sizeof(roles));
	return create_value(conn, cluster_snapshot_sql, roles, ctx->database);
}

/* What the admin may do: superuser, a managed service's admin, or less. */
static int
detect(struct create_ctx *ctx, PGconn *conn)
{
	struct pgp_server_role who;

	if (pgp_conn_server_role(conn, &who) < 0)
		return -1;
	ctx->server_version = who.version_num;
	ctx->is_superuser = who.superuser;
	snprintf(ctx->admin_role, sizeof(ctx->admin_role), "%s", who.name);
	snprintf(ctx->flavour, sizeof(ctx->flavour), "%s", who.flavour);
	pgp_debug("admin %s: %s, PostgreSQL %d", ctx->admin_role, ctx->flavour, ctx->server_version);
	if (!who.superuser && !who.createrole)
		return pgp_fail("the admin role \"%s\" lacks CREATEROLE, needed to create the "
				"application's roles", ctx->admin_role);
	return 0;
}

static int
role_exists(PGconn *conn, const char *name, int *exists)
{
	char *v = create_value(conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", name, NULL);

	if (!v)
		return -1;
	*exists = *v != '\0';
	free(v);
	return 0;
}

/* The SCRAM verifier of a password, made here; the plaintext stays here. */
static char *
verifier_of(PGconn *conn, const struct role_spec *r)
{
	char *v = PQencryptPasswordConn(conn, r->password, r->name, "scram-sha-256");
	char *copy;

	if (!v) {
		pgp_error("cannot hash the password of %s: %s", r->name, PQerrorMessage(conn));
		return NULL;
	}
	copy = strdup(v);
	PQfreemem(v);
	return copy;
}

static int
set_password(struct create_ctx *ctx, PGconn *conn, struct role_spec *r, int create)
{
	char shown[256];
	char *verifier = verifier_of(conn, r);
	int rc;

	if (!verifier)
		return -1;
	snprintf(shown, sizeof(shown), "%s ROLE \"%s\" %sPASSWORD '<redacted SCRAM-SHA-256 verifier>'",
		 create ? "CREATE" : "ALTER", r->name, create ? "LOGIN " : "");
	rc = create ? create_sql(ctx, conn, shown, "CREATE ROLE %I LOGIN PASSWORD %L", r->name, verifier)
		: create_sql(ctx, conn, shown, "ALTER ROLE %I PASSWORD %L", r->name, verifier);
	free(verifier);
	ctx->changed = 1;
	return rc;
}

/*
 * Keep a role's password when the server's verifier matches the pgpass
 * (readable by a superuser only); set it again when it does not, which
 * also completes a run that died between writing the pgpass and the role.
 */
static int
check_password(struct create_ctx *ctx, PGconn *conn, struct role_spec *r)
{
	char *stored;
	int match;

	if (r->password_new)
		return set_password(ctx, conn, r, 0);
	if (!ctx->is_superuser)
		return 0;
	stored = create_value(conn, "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1",
			     r->name, NULL);
	if (!stored)
		return -1;
	match = secrets_verify_scram(r->password, stored);
	free(stored);
	if (match == 1)
		return 0;
	pgp_info("the password of %s does not match %s: setting it again", r->name, ctx->passfile);
	return set_password(ctx, conn, r, 0);
}

static int
ensure_role(struct create_ctx *ctx, PGconn *conn, struct role_spec *r, int exists)
{
	if (!exists) {
		if (r->login)
			return set_password(ctx, conn, r, 1);
		ctx->changed = 1;
		return create_sql(ctx, conn, NULL, "CREATE ROLE %I NOLOGIN", r->name);
	}
	return r->login ? check_password(ctx, conn, r) : 0;
}

/* Attributes, memberships and role-level settings of the layout. */
static int
shape_roles(struct create_ctx *ctx, PGconn *conn)
{
	struct role_spec *R = ctx->roles;
	char limit[32];
	int rc = 0;

	for (int k = 0; k < ROLE_COUNT && rc == 0; k++) {
		if (!R[k].wanted)
			continue;
		snprintf(limit, sizeof(limit), "%lld", R[k].connection_limit);
		/* The migrator is NOINHERIT: without SET ROLE it can create nothing,
		 * so nothing ends up owned by it and outside the default privileges. */
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I %s %s CONNECTION LIMIT %s", R[k].name,
			 R[k].login ? "LOGIN" : "NOLOGIN",
			 k == ROLE_MIGRATOR || k == ROLE_BACKUP ? "NOINHERIT" : "INHERIT", limit);
	}
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "GRANT %I TO %I", R[ROLE_OWNER].name, R[ROLE_MIGRATOR].name);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "GRANT %I TO %I", R[ROLE_RW].name, R[ROLE_APP].name);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "GRANT %I TO %I", R[ROLE_RO].name, R[ROLE_READONLY].name);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "GRANT pg_monitor TO %I", R[ROLE_MONITOR].name);
	/* pg_read_all_data misses large objects on 15: the backup role dumps as
	 * the owner (pg_dump --role), through a NOINHERIT membership. */
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "GRANT %I TO %I", R[ROLE_OWNER].name, R[ROLE_BACKUP].name);
	/* --archive: physical base backups over a replication connection, as the backup role. */
	if (rc == 0 && ctx->archive)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I REPLICATION", R[ROLE_BACKUP].name);
	/* A non-superuser admin manages the layout through the owner group. */
	if (rc == 0 && !ctx->is_superuser)
		rc = create_sql(ctx, conn, NULL, "GRANT %I TO %I", R[ROLE_OWNER].name, ctx->admin_role);

	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET role = %L", R[ROLE_MIGRATOR].name, R[ROLE_OWNER].name);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET lock_timeout = %L", R[ROLE_MIGRATOR].name, ctx->lock_timeout);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET statement_timeout = 0", R[ROLE_MIGRATOR].name);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET statement_timeout = %L", R[ROLE_APP].name, ctx->statement_timeout);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET lock_timeout = %L", R[ROLE_APP].name, ctx->lock_timeout);
	for (int k = ROLE_APP; k <= ROLE_READONLY && rc == 0; k++)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET idle_in_transaction_session_timeout = %L",
			 R[k].name, ctx->idle_in_transaction_session_timeout);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET default_transaction_read_only = on", R[ROLE_READONLY].name);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET statement_timeout = %L", R[ROLE_READONLY].name,
			 ctx->readonly_statement_timeout);
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER ROLE %I SET statement_timeout = %L", R[ROLE_MONITOR].name,
			 ctx->monitor_statement_timeout);
	return rc;
}

static int
ensure_database(struct create_ctx *ctx, PGconn *conn)
{
	const char *owner = ctx->roles[ROLE_OWNER].name;
	char *found = create_value(conn, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database"
				  " WHERE datname = $1", ctx->database, NULL);
	int rc = 0;

	if (!found)
		return -1;
	if (!*found) {
		ctx->changed = 1;
		rc = create_sql(ctx, conn, NULL, "CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING 'UTF8'",
			 ctx->database, owner);
	} else if (strcmp(found, owner) != 0)
		rc = create_sql(ctx, conn, NULL, "ALTER DATABASE %I OWNER TO %I", ctx->database, owner);
	free(found);
	/* Nobody connects unless granted; app and readonly through their groups. */
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "REVOKE ALL ON DATABASE %I FROM PUBLIC", ctx->database);
	for (int k = 0; k < ROLE_COUNT && rc == 0; k++) {
		if (k == ROLE_OWNER || k == ROLE_APP || k == ROLE_READONLY || !ctx->roles[k].wanted)
			continue;
		rc = create_sql(ctx, conn, NULL, "GRANT CONNECT ON DATABASE %I TO %I", ctx->database, ctx->roles[k].name);
	}
	if (rc == 0)
		rc = create_sql(ctx, conn, NULL, "ALTER DATABASE %I SET search_path = \"$user\", public, extensions",
			 ctx->database);
	return rc;
}

/* Where a missing extension comes from, for the error message. */
static void
extension_hint(const struct create_ctx *ctx, const char *name)
{
	static const char *const contrib[] = {
		"pg_stat_statements", "pgcrypto", "citext", "uuid-ossp", "hstore", "pg_trgm",
		"btree_gin", "btree_gist", "ltree", "fuzzystrmatch", "unaccent", "intarray",
		"tablefunc", "postgres_fdw", "pg_buffercache", "amcheck", "pg_prewarm", NULL
	};
	int major = ctx->server_version / 10000;

	for (const char *const *c = contrib; *c; c++)
		if (strcmp(*c, name) == 0) {
			pgp_hint("\"%s\" is part of PostgreSQL's contrib modules: on Debian they come with "
				 "postgresql-%d; elsewhere install postgresql-contrib", name, major);
			return;
		}
	if (strcmp(name, "vector") == 0)
		pgp_hint("pgvector is not packaged for PostgreSQL %d in Debian 12: install "
			 "postgresql-%d-pgvector from the PostgreSQL project's own apt repository (PGDG), "
			 "or build it from the pgvector sources on the server; managed services list it "
			 "as \"vector\" among their supported extensions", major, major);
	else if (strcmp(name, "pgaudit") == 0)
		pgp_hint("install the Debian package postgresql-%d-pgaudit on the server", major);
	else if (strcmp(name, "postgis") == 0)
		pgp_hint("install the Debian package postgresql-%d-postgis-3 on the server", major);
	else
		pgp_hint("install the package that provides it on the server (on Debian usually "
			 "postgresql-%d-%s), or mark it optional", major, name);
}

static int
ensure_extension(struct create_ctx *ctx, PGconn *conn, const char *name, int optional)
{
	char *available = create_value(conn, "SELECT default_version FROM pg_catalog.pg_available_extensions"
				      " WHERE name = $1", name, NULL);
	int preload = !strcmp(name, "pg_stat_statements") || !strcmp(name, "pgaudit");

	if (!available)
		return -1;
	if (!*available) {
		free(available);
		if (optional) {
			pgp_warning("optional extension \"%s\" is not available on this server: skipped", name);
			return 0;
		}
		pgp_error("extension \"%s\" is not available on the server (PostgreSQL %d)", name,
			  ctx->server_version / 10000);
		extension_hint(ctx, name);
		return -1;
	}
	free(available);
	if (preload) {
		char *libs = create_value(conn, "SELECT current_setting('shared_preload_libraries')", NULL, NULL);
		int loaded = libs && strstr(libs, name) != NULL;

		free(libs);
		if (!loaded) {
			pgp_log(strcmp(name, "pgaudit") == 0 ? PGP_LOG_ERROR : PGP_LOG_WARNING,
				"extension \"%s\" needs shared_preload_libraries = '%s' and a restart", name, name);
			pgp_hint("set it in postgresql.conf, or in the parameter group of a managed service");
			if (strcmp(name, "pgaudit") == 0)
				return -1;
		}
	}
	return create_sql(ctx, conn, NULL, "CREATE EXTENSION IF NOT EXISTS %I SCHEMA extensions", name);
}

/*
 * pgstattuple for pgp-alert's bloat check, which the monitor role may run
 * (pg_stat_scan_tables, in pg_monitor) once the extension exists; pg_stats
 * is unreadable to it.  Created when the server has it: not being able to
 * (not in contrib, an admin that may not) is a warning, never a failure.
 */
static int
monitor_extension(struct create_ctx *ctx, PGconn *db)
{
	static const char name[] = "pgstattuple";
	char *available, *stmt;
	PGresult *res;

	for (int i = 0; i < ctx->n_extensions; i++)
		if (strcmp(ctx->extensions[i], name) == 0)
			return 0;
	available = create_value(db, "SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = $1", name, NULL);
	if (!available)
		return -1;
	if (!*available) {
		free(available);
		pgp_info("extension \"%s\" is not available: pgp-alert's bloat check will say so", name);
		return 0;
	}
	free(available);
	if (ctx->dry_run)
		return create_sql(ctx, db, NULL, "CREATE EXTENSION IF NOT EXISTS %I SCHEMA extensions", name);
	if (!(stmt = pgp_sql_build(db, "CREATE EXTENSION IF NOT EXISTS %I SCHEMA extensions", name)))
		return -1;
	pgp_debug("%s", stmt);
	res = PQexec(db, stmt);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgp_warning("cannot create extension \"%s\" for pgp-alert's bloat check: %s", name,
			    PQresultErrorMessage(res));
		pgp_hint("create it in schema extensions as a role that may, or give --extension %s "
			 "where the provider allows it", name);
	}
	PQclear(res);
	free(stmt);
	return 0;
}

/*
 * RFC 9562 version 7 UUIDs below PostgreSQL 18: 48 bits of Unix time in
 * ms, then 12 bits of sub-millisecond fraction (method 3) so values sort
 * by creation time within a millisecond, then 62 random bits.  Within a
 * session the value never goes backwards (like PG 18's uuidv7()).
 */
static const char uuidv7_body[] =
	"CREATE OR REPLACE FUNCTION public.uuid_generate_v7() RETURNS uuid"
	" LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog AS $fn$\n"
	"DECLARE\n"
	"  t numeric := extract(epoch FROM clock_timestamp()) * 1000;\n"
	"  v bigint := floor(t * 4096);\n"
	"  last text := current_setting('pgp.uuid_v7_last', true);\n"
	"  b bytea := uuid_send(gen_random_uuid());\n"
	"BEGIN\n"
	"  IF last IS NOT NULL AND last <> '' AND v <= last::bigint THEN\n"
	"    v := last::bigint + 1;\n"
	"  END IF;\n"
	"  PERFORM set_config('pgp.uuid_v7_last', v::text, false);\n"
	"  b := overlay(b PLACING substring(int8send(v >> 12) FROM 3) FROM 1 FOR 6);\n"
	"  b := set_byte(b, 6, (112 | ((v >> 8) & 15))::int);\n"
	"  b := set_byte(b, 7, (v & 255)::int);\n"
	"  RETURN encode(b, 'hex')::uuid;\n"
	"END\n"
	"$fn$";

/* Inside the database: schemas, extensions, default privileges, UUID v7. */
static int
shape_database(struct create_ctx *ctx, PGconn *db)
{
	struct role_spec *R = ctx->roles;
	const char *owner = R[ROLE_OWNER].name, *rw = R[ROLE_RW].name, *ro = R[ROLE_RO].name;
	int rc = 0;

	/* The public schema is the application's, owned by the owner group. */
	rc = create_sql(ctx, db, NULL, "REVOKE ALL ON SCHEMA public FROM PUBLIC");
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER SCHEMA public OWNER TO %I", owner);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT USAGE ON SCHEMA public TO %I, %I", rw, ro);
	/* Extensions live apart, so app objects and theirs never mix. */
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "CREATE SCHEMA IF NOT EXISTS extensions");
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "REVOKE ALL ON SCHEMA extensions FROM PUBLIC");
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT USAGE ON SCHEMA extensions TO %I, %I, %I, %I", owner, rw, ro,
			 R[ROLE_MONITOR].name);
	for (int i = 0; i < ctx->n_extensions && rc == 0; i++)
		rc = ensure_extension(ctx, db, ctx->extensions[i], 0);
	for (int i = 0; i < ctx->n_optional && rc == 0; i++)
		rc = ensure_extension(ctx, db, ctx->optional_extensions[i], 1);
	if (rc == 0 && ctx->audit)
		rc = ensure_extension(ctx, db, "pgaudit", 0);
	if (rc == 0)
		rc = monitor_extension(ctx, db);

	/* Objects the migrator creates later are usable with no further grant. */
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT,"
			 " INSERT, UPDATE, DELETE ON TABLES TO %I", owner, rw);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT"
			 " ON TABLES TO %I", owner, ro);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT USAGE,"
			 " SELECT, UPDATE ON SEQUENCES TO %I", owner, rw);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT"
			 " ON SEQUENCES TO %I", owner, ro);
	/* The monitor reads how far each sequence has gone (pgp-alert's sequence
	 * check), in any schema the owner makes one: no data, no nextval. */
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON SEQUENCES TO %I",
			 owner, R[ROLE_MONITOR].name);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I REVOKE EXECUTE ON FUNCTIONS"
			 " FROM PUBLIC", owner);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT EXECUTE"
			 " ON FUNCTIONS TO %I, %I", owner, rw, ro);
	/* Catch up with objects that exist already (a database adopted late). */
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I", rw);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I", ro);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %I", rw);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO %I", ro);
	if (rc == 0)
		rc = create_sql(ctx, db, NULL, "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO %I",
			 R[ROLE_MONITOR].name);

	if (rc == 0 && ctx->server_version < 180000) {
		rc = create_sql(ctx, db, NULL, "SET ROLE %I", owner);
		if (rc == 0)
			rc = create_sql(ctx, db, NULL, "%s", uuidv7_body);
		if (rc == 0)
			rc = create_sql(ctx, db, NULL, "REVOKE ALL ON FUNCTION public.uuid_generate_v7() FROM PUBLIC");
		if (rc == 0)
			rc = create_sql(ctx, db, NULL, "GRANT EXECUTE ON FUNCTION public.uuid_generate_v7() TO %I, %I", rw, ro);
		if (create_sql(ctx, db, NULL, "RESET ROLE") < 0)
			rc = -1;
	}
	return rc;
}

/* BYPASSRLS for the backup role only where row-level security is used. */
static int
backup_rls(struct create_ctx *ctx, PGconn *db)
{
	char *rls = create_value(db, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relrowsecurity)",
				NULL, NULL);
	int uses;

	if (!rls)
		return -1;
	uses = strcmp(rls, "t") == 0;
	free(rls);
	ctx->uses_rls = uses;
	if (!uses)
		return 0;
	if (!ctx->is_superuser) {
		pgp_warning("tables use row-level security, and only a superuser can give %s BYPASSRLS: "
			    "dumps run as %s through pg_dump --role, which reads rows unless a table "
			    "FORCEs row-level security", ctx->roles[ROLE_BACKUP].name, ctx->roles[ROLE_OWNER].name);
		return 0;
	}
	return create_sql(ctx, db, NULL, "ALTER ROLE %I BYPASSRLS", ctx->roles[ROLE_BACKUP].name);
}

int
provision_has_database(struct create_ctx *ctx, PGconn *admin)
{
	char *v = create_value(admin, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", ctx->database, NULL);
	int exists;

	if (!v)
		return -1;
	exists = *v != '\0';
	free(v);
	return exists;
}

int
provision_check(struct create_ctx *ctx, PGconn *admin)
{
	if (detect(ctx, admin) < 0)
		return -1;
	for (int k = 0; k < ROLE_COUNT; k++)
		if (ctx->roles[k].wanted && role_exists(admin, ctx->roles[k].name, &ctx->roles[k].exists) < 0)
			return -1;
	/* Existing login roles whose password nobody recorded cannot be used. */
	for (int k = FIRST_LOGIN_ROLE; k < ROLE_COUNT; k++) {
		const struct role_spec *r = &ctx->roles[k];

		if (!r->wanted || !r->exists || r->password_known || ctx->rotate_passwords)
			continue;
		pgp_error("role \"%s\" exists, but %s has no password for it", r->name, ctx->passfile);
		pgp_hint("run again with --rotate-passwords to set new passwords, or give the current one "
			 "with --password-file %s=FILE", role_kind_names[k]);
		return -1;
	}
	return 0;
}

int
provision_roles(struct create_ctx *ctx, PGconn *admin)
{
	/* What the catalogs were, so "no changes" is a fact (provision_compare). */
	if (!(ctx->snapshot = cluster_snapshot(ctx, admin)))
		return -1;
	for (int k = 0; k < ROLE_COUNT; k++)
		if (ctx->roles[k].wanted && ensure_role(ctx, admin, &ctx->roles[k], ctx->roles[k].exists) < 0)
			return -1;
	if (shape_roles(ctx, admin) < 0 || ensure_database(ctx, admin) < 0)
		return -1;
	return 0;
}

int
provision_database(struct create_ctx *ctx, PGconn *db)
{
	if (!(ctx->db_snapshot = create_value(db, db_snapshot_sql, NULL, NULL)))
		return -1;
	if (shape_database(ctx, db) < 0 || backup_rls(ctx, db) < 0)
		return -1;
	return 0;
}

int
provision_compare(struct create_ctx *ctx, PGconn *admin, PGconn *db)
{
	char *after = NULL, *db_after = NULL;
	int rc = -1;

	if (!ctx->snapshot || !ctx->db_snapshot)
		return pgp_fail("internal error: provision_compare before provision_roles and provision_database");
	if (!(db_after = create_value(db, db_snapshot_sql, NULL, NULL)) ||
	    !(after = cluster_snapshot(ctx, admin)))
		goto done;
	if (strcmp(ctx->snapshot, after) != 0 || strcmp(ctx->db_snapshot, db_after) != 0) {
		pgp_debug("catalogs changed:\n-- before\n%s\n%s\n-- after\n%s\n%s", ctx->snapshot,
			  ctx->db_snapshot, after, db_after);
		ctx->changed = 1;
	}
	rc = 0;
done:
	free(after);
	free(db_after);
	return rc;
}

void
provision_free(struct create_ctx *ctx)
{
	free(ctx->snapshot);
	free(ctx->db_snapshot);
	ctx->snapshot = ctx->db_snapshot = NULL;
}
