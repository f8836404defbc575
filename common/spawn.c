/*
 * fork/exec with an optional switch of user.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"

int
pgp_os_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);

	if (!pw)
		return pgp_fail("no OS user \"%s\"", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
pgp_spawn(char *const argv[], const char *os_user, const char *output_path)
{
	uid_t uid = 0;
	gid_t gid = 0;
	pid_t pid;
	int status;

	if (os_user && pgp_os_user(os_user, &uid, &gid) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return pgp_fail("cannot fork: %s", strerror(errno));
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = output_path ? open(output_path, O_WRONLY | O_CREAT | O_APPEND, 0600)
			: open("/dev/null", O_WRONLY);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		if (os_user) {
			if (output_path && fchown(out, uid, gid) != 0)
				_exit(126);
			if (initgroups(os_user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
				_exit(126);
			setenv("HOME", getpwuid(uid) ? getpwuid(uid)->pw_dir : "/", 1);
		}
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return pgp_fail("cannot wait for %s: %s", argv[0], strerror(errno));
	}
	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 126)
			return pgp_fail("cannot start %s%s%s", argv[0], os_user ? " as " : "", os_user ? os_user : "");
		return WEXITSTATUS(status);
	}
	return 128 + WTERMSIG(status);
}
