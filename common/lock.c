/*
 * Non-blocking flock job locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "spawn.h"

/*
 * Who owns what this run may not open: the lock file, or the directory it
 * cannot be created in.  The usual cause is a job run once as root and
 * then from the postgres user's crontab.
 */
static void
denied(const char *path, int err)
{
	char dir[1024], owner[64], me[64];
	struct stat st;
	const char *what = path;

	if (stat(path, &st) != 0) {
		snprintf(dir, sizeof(dir), "%s", path);
		what = dirname(dir);
		if (stat(what, &st) != 0) {
			pgp_error("cannot open lock file \"%s\": %s", path, strerror(err));
			return;
		}
	}
	pgp_error("cannot open lock file \"%s\": %s: %s%s%s belongs to %s and this run is %s; "
		  "run every job of this state directory as one user, or chown it to this one",
		  path, strerror(err), what == path ? "it" : "its directory \"", what == path ? "" : what,
		  what == path ? "" : "\"", pgp_os_user_name(st.st_uid, owner, sizeof(owner)),
		  pgp_os_user_name(geteuid(), me, sizeof(me)));
}

int
pgp_lock_open(const char *path, int *was_denied)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int err = errno;

	*was_denied = fd < 0 && (err == EACCES || err == EPERM);
	if (fd >= 0)
		return fd;
	if (*was_denied)
		denied(path, err);
	else
		pgp_error("cannot open lock file \"%s\": %s", path, strerror(err));
	return -1;
}

enum pgp_lock_result
pgp_lock_try(const char *path, int *fd_out, pid_t *holder)
{
	int was_denied, fd = pgp_lock_open(path, &was_denied);
	char buf[32];
	ssize_t n;

	*fd_out = -1;
	if (holder)
		*holder = 0;
	if (fd < 0)
		return was_denied ? PGP_LOCK_DENIED : PGP_LOCK_ERROR;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;

		if (saved == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			if (holder && n > 0) {
				buf[n] = '\0';
				*holder = (pid_t) strtol(buf, NULL, 10);
			}
			close(fd);
			return PGP_LOCK_BUSY;
		}
		close(fd);
		pgp_error("cannot lock \"%s\": %s", path, strerror(saved));
		return PGP_LOCK_ERROR;
	}
	/* Record the holder for the "busy" message of the next run. */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t) n, 0) != n)
		pgp_warning("cannot record pid in lock file \"%s\": %s", path, strerror(errno));
	*fd_out = fd;
	return PGP_LOCK_TAKEN;
}

void
pgp_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
