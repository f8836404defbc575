/*
 * Atomic file replacement and job locks.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "lock.h"
#include "log.h"
#include "tap.h"
#include "testutil.h"

/* How many entries does dir hold (to catch leftover temporary files)? */
static int
count_entries(const char *dir)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

int
main(void)
{
	char *dir = make_tmpdir();
	char path[512], lockpath[512], *data;
	size_t len;
	struct stat st;
	int fd, fd2;
	pid_t holder, child;
	int pipefd[2];

	pgp_log_init("pgp-test");
	pgp_log_set_verbosity(-1);
	snprintf(path, sizeof(path), "%s/state.json", dir);

	is_int(pgp_atomic_write(path, "first\n", 6, 0600), 0, "write a new file");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "created with mode 0600");
	is_int(pgp_atomic_write(path, "second\n", 7, 0640), 0, "replace it");
	ok(pgp_read_file(path, &data, &len) == 0 && len == 7 && strcmp(data, "second\n") == 0,
	   "new content read back");
	free(data);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "replacement has the new mode");
	is_int(count_entries(dir), 1, "no temporary file left behind");

	/* A failing write (directory not writable) keeps the old file intact. */
	if (geteuid() != 0) {
		chmod(dir, 0500);
		is_int(pgp_atomic_write(path, "third\n", 6, 0600), -1, "write into read-only dir fails");
		chmod(dir, 0700);
	} else {
		/* root ignores modes: make the rename target a directory instead */
		char sub[600];

		snprintf(sub, sizeof(sub), "%s/adir", dir);
		mkdir(sub, 0700);
		is_int(pgp_atomic_write(sub, "third\n", 6, 0600), -1, "replacing a directory fails");
		rmdir(sub);
	}
	ok(pgp_read_file(path, &data, &len) == 0 && strcmp(data, "second\n") == 0,
	   "old content intact after a failed write");
	free(data);
	is_int(count_entries(dir), 1, "no temporary file left after the failure");
	is_int(pgp_atomic_write("/nonexistent-dir/x", "x", 1, 0600), -1, "missing directory is an error");
	ok(pgp_read_file("/nonexistent-dir/x", &data, &len) == -1, "reading a missing file is an error");

	snprintf(lockpath, sizeof(lockpath), "%s/backup.lock", dir);
	is_int(pgp_lock_try(lockpath, &fd, &holder), PGP_LOCK_TAKEN, "first run takes the lock");
	is_int(pgp_lock_try(lockpath, &fd2, &holder), PGP_LOCK_BUSY, "second open in the same process is busy");
	is_int(holder, getpid(), "busy names the holder's pid");

	/* Another process finds it busy at once, without waiting. */
	if (pipe(pipefd) != 0)
		return 2;
	child = fork();
	if (child == 0) {
		int cfd;
		pid_t h;
		char r = (char) pgp_lock_try(lockpath, &cfd, &h);

		if (write(pipefd[1], &r, 1) != 1)
			_exit(2);
		_exit(0);
	} else {
		char r = 9;
		int status;

		if (read(pipefd[0], &r, 1) != 1)
			r = 9;
		waitpid(child, &status, 0);
		is_int(r, PGP_LOCK_BUSY, "another process gets busy");
	}
	pgp_lock_release(fd);
	is_int(pgp_lock_try(lockpath, &fd, &holder), PGP_LOCK_TAKEN, "free again after release");
	pgp_lock_release(fd);

	/* A holder that dies (kill -9) leaves no stale lock. */
	child = fork();
	if (child == 0) {
		int cfd;
		pid_t h;

		pgp_lock_try(lockpath, &cfd, &h);
		pause();
		_exit(0);
	} else {
		int status, tries = 0;

		do {
			usleep(10000);
			fd = -1;
			if (pgp_lock_try(lockpath, &fd, &holder) == PGP_LOCK_TAKEN)
				pgp_lock_release(fd);
		} while (holder != child && ++tries < 200);
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		is_int(pgp_lock_try(lockpath, &fd, &holder), PGP_LOCK_TAKEN, "lock free after the holder is killed");
		pgp_lock_release(fd);
	}
	is_int(pgp_lock_try("/nonexistent-dir/x.lock", &fd, &holder), PGP_LOCK_ERROR, "unopenable lock file is an error");

	rm_rf(dir);
	free(dir);
	return done_testing();
}
