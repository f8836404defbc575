/*
 * pgp-create's paths and files, a leaf the steps share: paths built to
 * fit, directories and files given to the server's OS user, files
 * replaced only when their content changes, and the directories named on
 * the command line (--local, --out) checked and made.
 *
 * Run as root, the server (and PgBouncer) run as another OS user, which
 * must be able to enter every directory on the way to theirs; a home
 * directory is often 0700.  That is checked before anything is written,
 * so a refusal leaves nothing behind.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "atomicfile.h"
#include "create.h"
#include "log.h"
#include "spawn.h"

int
create_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= size)
		return pgp_fail("path too long: %s", buf);
	return 0;
}

int
create_give(const char *path, const char *os_user)
{
	uid_t uid;
	gid_t gid;

	if (!os_user)
		return 0;
	if (pgp_os_user(os_user, &uid, &gid) < 0)
		return -1;
	if (chown(path, uid, gid) != 0)
		return pgp_fail("cannot give \"%s\" to %s: %s", path, os_user, strerror(errno));
	return 0;
}

int
create_mkdir(const char *path, mode_t mode, const char *os_user)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return pgp_fail("cannot create directory \"%s\": %s", path, strerror(errno));
	return create_give(path, os_user);
}

int
create_differs(const char *path, const char *text)
{
	char *old;
	int differs;

	if (access(path, F_OK) != 0)
		return 1;
	if (pgp_read_file(path, &old, NULL) < 0)
		return -1;
	differs = strcmp(old, text) != 0;
	free(old);
	return differs;
}

int
create_write(const char *path, const char *text, mode_t mode, const char *os_user)
{
	if (pgp_atomic_write(path, text, strlen(text), mode) < 0)
		return -1;
	return create_give(path, os_user);
}

/* The OS user who must reach a directory: uid, gid and groups. */
struct who {
	const char *name;
	uid_t uid;
	gid_t groups[64];
	int n_groups;
};

static int
who_is(const char *name, struct who *w)
{
	struct passwd *pw = getpwnam(name);

	if (!pw)
		return pgp_fail("no OS user \"%s\"", name);
	w->name = name;
	w->uid = pw->pw_uid;
	w->n_groups = (int) (sizeof(w->groups) / sizeof(w->groups[0]));
	if (getgrouplist(name, pw->pw_gid, w->groups, &w->n_groups) < 0) {
		/* More groups than we keep: the primary one decides then. */
		w->groups[0] = pw->pw_gid;
		w->n_groups = 1;
	}
	return 0;
}

/*
 * May w enter the directory st describes, by its mode bits?  A POSIX ACL
 * may allow more than they show: such a directory is given the benefit of
 * the doubt, and the server says if it was wrong.
 */
static int
may_enter(const struct who *w, const char *path, const struct stat *st)
{
	mode_t bit = S_IXOTH;

	if (w->uid == 0)
		return 1;
	if (st->st_uid == w->uid)
		bit = S_IXUSR;
	else
		for (int i = 0; i < w->n_groups; i++)
			if (w->groups[i] == st->st_gid)
				bit = S_IXGRP;
	if (st->st_mode & bit)
		return 1;
	return getxattr(path, "system.posix_acl_access", NULL, 0) > 0;
}

/*
 * dir made absolute into abs: its longest existing part resolved
 * (realpath), the rest as given.  *missing is the offset in abs where the
 * part still to be made starts (strlen(abs) when dir exists).
 */
static int
absolute(const char *dir, char *abs, size_t size, size_t *missing)
{
	char given[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX];
	size_t len;
	char *cut;

	if (dir[0] == '/')
		snprintf(given, sizeof(given), "%s", dir);
	else if (!getcwd(cwd, sizeof(cwd)) ||
		 create_path(given, sizeof(given), "%s/%s", cwd, dir) < 0)
		return pgp_fail("cannot resolve \"%s\": %s", dir, strerror(errno));
	len = strlen(given);
	while (len > 1 && given[len - 1] == '/')
		given[--len] = '\0';
	/* Cut components off the end until what is left exists. */
	cut = given + len;
	while (1) {
		char saved = *cut;

		*cut = '\0';
		if (realpath(*given ? given : "/", real)) {
			*cut = saved;
			break;
		}
		if (errno != ENOENT)
			return pgp_fail("cannot resolve \"%s\": %s", given, strerror(errno));
		*cut = saved;
		if (cut == given)
			return pgp_fail("cannot resolve \"%s\"", dir);
		while (cut > given && *--cut != '/')
			;
	}
	/* What is to be made is plain names: no "." or ".." to go astray in. */
	for (const char *p = cut; *p;) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return pgp_fail("cannot resolve \"%s\": \"%.*s\" in a directory that does not exist yet",
					dir, (int) n, p);
		p += n;
	}
	if (create_path(abs, size, "%s%s", strcmp(real, "/") == 0 && *cut ? "" : real, cut) < 0)
		return -1;
	*missing = strcmp(real, "/") == 0 && *cut ? 0 : strlen(real);
	return 0;
}

int
create_dir_check(const char *dir, const char *os_user, char *abs, size_t size)
{
	char path[PATH_MAX], owner[64];
	struct who w;
	struct stat st;
	size_t missing = 0, end;

	if (absolute(dir, abs, size, &missing) < 0)
		return -1;
	if (os_user && who_is(os_user, &w) < 0)
		return -1;
	end = missing ? missing : 1;
	/* Every existing directory from / down: entered by the server's user. */
	for (size_t i = 1; i <= end; i++) {
		if (i < end && abs[i] != '/')
			continue;
		snprintf(path, sizeof(path), "%.*s", (int) i, abs);
		if (stat(path, &st) != 0)
			return pgp_fail("cannot use \"%s\": %s", path, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return pgp_fail("cannot use \"%s\": \"%s\" is not a directory", abs, path);
		if (!os_user) {
			/* The server runs as we do: we must enter, and write where we make. */
			if (access(path, X_OK) != 0 || (i == end && access(path, W_OK) != 0)) {
				pgp_error("cannot use \"%s\": \"%s\" is %04o and belongs to %s", abs, path,
					  (unsigned) (st.st_mode & 07777), pgp_os_user_name(st.st_uid, owner, sizeof(owner)));
				pgp_hint("choose a directory you can write in");
				return -1;
			}
			continue;
		}
		if (may_enter(&w, path, &st))
			continue;
		/* DIR itself, if ours, is opened to the server's user by create_dir_make. */
		if (i == strlen(abs) && st.st_uid == geteuid())
			continue;
		pgp_error("the server's OS user %s cannot reach \"%s\": \"%s\" is %04o and belongs to %s",
			  os_user, abs, path, (unsigned) (st.st_mode & 07777),
			  pgp_os_user_name(st.st_uid, owner, sizeof(owner)));
		if (i == strlen(abs))
			pgp_hint("let %s enter it (chmod o+x %s), or choose another directory", os_user, path);
		else
			pgp_hint("choose a directory outside \"%s\" (for example under /srv or /var/lib)", path);
		return -1;
	}
	return 0;
}

int
create_dir_make(const char *abs, mode_t mode, const char *os_user)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len = strlen(abs);

	if (len >= sizeof(path))
		return pgp_fail("path too long: %s", abs);
	for (size_t i = 1; i <= len; i++) {
		mode_t want = i == len ? mode : 0755;

		if (i < len && abs[i] != '/')
			continue;
		snprintf(path, sizeof(path), "%.*s", (int) i, abs);
		if (mkdir(path, want) == 0) {
			/* Exactly want, whatever the umask. */
			if (chmod(path, want) != 0)
				return pgp_fail("cannot set the mode of \"%s\": %s", path, strerror(errno));
			if (i < len)
				pgp_info("made %s (mode %04o)", path, (unsigned) want);
			continue;
		}
		if (errno != EEXIST)
			return pgp_fail("cannot create directory \"%s\": %s", path, strerror(errno));
	}
	if (stat(abs, &st) != 0)
		return pgp_fail("cannot use \"%s\": %s", abs, strerror(errno));
	/* An existing DIR of ours that the server's user cannot enter yet. */
	if (os_user && st.st_uid == geteuid() && (st.st_mode & mode & 0111) != (mode & 0111)) {
		if (chmod(abs, (st.st_mode & 07777) | mode) != 0)
			return pgp_fail("cannot open \"%s\" to %s: %s", abs, os_user, strerror(errno));
		pgp_info("made %s enterable by %s (mode %04o)", abs, os_user,
			 (unsigned) ((st.st_mode & 07777) | mode));
	}
	return 0;
}
