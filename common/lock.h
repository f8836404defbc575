/*
 * Job locks: a second run of a job that must not overlap (a backup from
 * cron that outlasts its interval) stops at once and says "busy" instead
 * of waiting.  flock(2): released by the kernel when the process dies, so
 * a crash never leaves a stale lock.
 */
#ifndef PGP_LOCK_H
#define PGP_LOCK_H

#include <sys/types.h>

enum pgp_lock_result {
	PGP_LOCK_TAKEN = 0,
	PGP_LOCK_BUSY = 1,	/* held by another process; *holder set if known */
	PGP_LOCK_ERROR = -1,	/* could not open the lock file (logged) */
	PGP_LOCK_DENIED = -2	/* its permissions or owner forbid it (logged, with the owner) */
};

/*
 * Open (or create, 0600) the lock file at path: the descriptor, or -1
 * (logged); *denied is set when permissions forbid it, and the message
 * names the owner of the file or of its directory.
 */
int pgp_lock_open(const char *path, int *denied);

/*
 * Try to take the lock file at path without waiting.  On success *fd holds
 * it (our pid is written in it); on busy, *holder is the holder's pid or 0.
 */
enum pgp_lock_result pgp_lock_try(const char *path, int *fd, pid_t *holder);

/* Release (closing the descriptor releases the flock). */
void pgp_lock_release(int fd);

#endif
