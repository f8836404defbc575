/*
 * A restored data directory's recovery settings: restore_command (our
 * own wal-fetch), the target, the timeline to follow, recovery.signal or
 * standby.signal with primary_conninfo (a pgpass file, never a
 * password), where the server listens (-d), and tablespace_map
 * rewritten for where each tablespace went.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "log.h"
#include "physical.h"
#include "spawn.h"

/* Where tablespace t goes: --tablespace-map OID=DIR, a test's scratch place, or its own location. */
const char *
phys_tablespace_dir(const struct backup_ctx *ctx, const struct phys_tablespace *t, const char *dir, int test,
		    char *buf, size_t size)
{
	char key[16];

	snprintf(key, sizeof(key), "%u=", t->oid);
	for (int i = 0; ctx->tablespace_maps[i]; i++)
		if (!strncmp(ctx->tablespace_maps[i], key, strlen(key)))
			return ctx->tablespace_maps[i] + strlen(key);
	if (test) {
		snprintf(buf, size, "%s.tblspc/%u", dir, t->oid);
		return buf;
	}
	return t->location;
}

/* A value in postgresql.conf's syntax: quotes doubled, backslashes escaped. */
static void
conf_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			fputc(*s, f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* restore_command: our own executable's wal-fetch, with our config, repository and cluster. */
static char *
restore_command(const struct backup_ctx *ctx, const struct cluster *c)
{
	char self[PATH_MAX], conf[PATH_MAX], ident[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;

	if (n <= 0) {
		pgp_error("cannot find our own executable: %s", strerror(errno));
		return NULL;
	}
	self[n] = '\0';
	if (!(f = open_memstream(&text, &len)))
		return NULL;
	pgp_shell_word(f, self);
	if (ctx->config_path && realpath(ctx->config_path, conf)) {
		fputs(" -c ", f);
		pgp_shell_word(f, conf);
	}
	fputs(" --repo ", f);
	pgp_shell_word(f, repo_url(ctx->repo));
	fputs(" --cluster ", f);
	pgp_shell_word(f, c->name);
	if (realpath(ctx->state_dir, conf)) {
		fputs(" --state-dir ", f);
		pgp_shell_word(f, conf);
	}
	if (ctx->identity_file && realpath(ctx->identity_file, ident)) {
		fputs(" --identity ", f);
		pgp_shell_word(f, ident);
	}
	fputs(" wal-fetch %f %p", f);
	/* restore_command runs through /bin/sh: every word quoted. */
	if (fclose(f) != 0) {
		free(text);
		pgp_error("out of memory");
		return NULL;
	}
	return text;
}

/* The pgpass file a standby's primary_conninfo names: PGPASSFILE, else ~/.pgpass. */
static const char *
passfile(char *buf, size_t size)
{
	const char *p = getenv("PGPASSFILE"), *home = getenv("HOME");

	if (p && *p)
		return realpath(p, buf) ? buf : p;
	if (!home)
		return NULL;
	snprintf(buf, size, "%s/.pgpass", home);
	return access(buf, F_OK) == 0 ? buf : NULL;
}

void
phys_listen_from_spec(const struct backup_ctx *ctx, struct phys_listen *l)
{
	PQconninfoOption *opts;

	memset(l, 0, sizeof(*l));
	if (!ctx->have_spec || !(opts = PQconninfoParse(ctx->spec.conninfo, NULL)))
		return;
	for (PQconninfoOption *p = opts; p->keyword; p++) {
		if (!p->val || !*p->val)
			continue;
		if (!strcmp(p->keyword, "host"))
			snprintf(l->host, sizeof(l->host), "%s", p->val);
		else if (!strcmp(p->keyword, "port"))
			snprintf(l->port, sizeof(l->port), "%s", p->val);
		else if (!strcmp(p->keyword, "user"))
			snprintf(l->user, sizeof(l->user), "%s", p->val);
	}
	PQconninfoFree(opts);
}

static const char *
target_setting(const struct backup_ctx *ctx, int test)
{
	const char *k = test ? "immediate" : ctx->target_kind;

	return !strcmp(k, "time") ? "recovery_target_time" : !strcmp(k, "lsn") ? "recovery_target_lsn"
		: !strcmp(k, "xid") ? "recovery_target_xid" : !strcmp(k, "immediate") ? "recovery_target" : NULL;
}

/* Does the history file at path pass through the backup's timeline after its end? */
static int
descends(const char *path, const struct phys_info *b)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int yes = 0;

	if (!f)
		return 0;
	/* Lines "tli<TAB>X/Y<TAB>reason", read leniently: PostgreSQL writes them, not us. */
	while (fgets(line, sizeof(line), f)) {
		unsigned tli, hi, lo;

		if (sscanf(line, "%u %X/%X", &tli, &hi, &lo) == 3 && tli == b->m.tli &&
		    (((uint64_t) hi << 32) | lo) >= b->m.end_lsn)
			yes = 1;
	}
	fclose(f);
	return yes;
}

/*
 * The newest timeline that descends from the backup, from the archive's
 * history files: what 'latest' would mean if other restores' branches
 * (a PITR that promoted earlier) were not in the archive too, for which
 * PostgreSQL's 'latest' fails ("not a child of this server's history").
 * 0 (into tli), or -1 (logged).
 */
static int
choose_timeline(struct backup_ctx *ctx, const struct phys_info *b, const char *dir, uint32_t *tli)
{
	char name[32], dest[PATH_MAX];

	*tli = b->m.tli;
	snprintf(dest, sizeof(dest), "%s/pg_wal/pgp-history.tmp", dir);
	for (uint32_t t = b->m.tli + 1; t != 0; t++) {
		int rc;

		snprintf(name, sizeof(name), "%08X.history", t);
		rc = wal_fetch(ctx, name, dest);
		if (rc == 1)
			break;
		if (rc != 0) {
			unlink(dest);
			return pgp_fail("cannot read %s from the archive", name);
		}
		if (descends(dest, b))
			*tli = t;
		unlink(dest);
	}
	return 0;
}

int
phys_write_recovery(struct backup_ctx *ctx, const struct cluster *c, const struct phys_info *b, const char *dir,
	       int test, const struct phys_listen *l)
{
	char path[PATH_MAX], pass[PATH_MAX];
	const char *setting = target_setting(ctx, test), *pf;
	char *cmd, tl[16] = "latest";
	uint32_t tli;
	FILE *f;
	int fd;

	/* A standby follows its primary's timeline changes: 'latest'. */
	if (!ctx->standby) {
		if (choose_timeline(ctx, b, dir, &tli) < 0)
			return -1;
		snprintf(tl, sizeof(tl), "%u", tli);
	}
	if (!(cmd = restore_command(ctx, c)))
		return -1;
	snprintf(path, sizeof(path), "%s/postgresql.auto.conf", dir);
	if (!(f = fopen(path, "a"))) {
		free(cmd);
		return pgp_fail("cannot write %s: %s", path, strerror(errno));
	}
	fprintf(f, "\n# pgp-backup restore --physical of base backup %s of cluster %s\nrestore_command = ", b->id,
		c->name);
	conf_quote(f, cmd);
	free(cmd);
	fprintf(f, "\nrecovery_target_timeline = '%s'\n", tl);
	if (!ctx->standby && setting) {
		fprintf(f, "%s = ", setting);
		conf_quote(f, strcmp(setting, "recovery_target") ? ctx->target_value : "immediate");
		fputs("\n", f);
	}
	if (!ctx->standby)
		fputs("recovery_target_action = 'promote'\n", f);
	/* A test restore must not push its own timeline into the production archive. */
	if (ctx->no_archive)
		fputs("archive_mode = off\n", f);
	if (ctx->standby) {
		char ci[2048];

		snprintf(ci, sizeof(ci), "%s", ctx->primary_conninfo);
		if ((pf = passfile(pass, sizeof(pass))))
			pgp_conninfo_append(ci, sizeof(ci), "passfile", pf);
		fputs("primary_conninfo = ", f);
		conf_quote(f, ci);
		fputs("\n", f);
	}
	if (*l->port) {
		fputs("port = ", f);
		conf_quote(f, l->port);
		fputs("\n", f);
	}
	if (l->host[0] == '/') {
		fputs("unix_socket_directories = ", f);
		conf_quote(f, l->host);
		fputs("\nlisten_addresses = ''\n", f);
	} else if (*l->host) {
		fputs("listen_addresses = ", f);
		conf_quote(f, l->host);
		fputs("\n", f);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0)
		return pgp_fail("cannot write %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", dir, ctx->standby ? "standby.signal" : "recovery.signal");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fsync(fd) != 0 || close(fd) != 0)
		return pgp_fail("cannot create %s: %s", path, strerror(errno));
	return 0;
}

/* tablespace_map rewritten for where each tablespace went (the server makes the links). */
int
phys_write_tablespace_map(const struct backup_ctx *ctx, const struct phys_info *b, const char *dir, int test)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], buf[PATH_MAX];
	FILE *f;

	if (!b->m.ntablespaces)
		return 0;
	snprintf(path, sizeof(path), "%s/tablespace_map", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (!(f = fopen(tmp, "wx")))
		return pgp_fail("cannot write %s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < b->m.ntablespaces; i++)
		fprintf(f, "%u %s\n", b->m.tablespaces[i].oid,
			phys_tablespace_dir(ctx, &b->m.tablespaces[i], dir, test, buf, sizeof(buf)));
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) < 0)
		return pgp_fail("cannot write %s: %s", path, strerror(errno));
	return 0;
}

