/*
 * Non-blocking flock job locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"

enum pgp_lock_result
pgp_lock_try(const char *path, int *fd_out, pid_t *holder)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	char buf[32];
	ssize_t n;

	*fd_out = -1;
	if (holder)
		*holder = 0;
	if (fd < 0) {
		pgp_error("cannot open lock file \"%s\": %s", path, strerror(errno));
		return PGP_LOCK_ERROR;
	}
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
