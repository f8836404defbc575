/*
 * Atomic replacement of small files (state, credentials, configuration).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "log.h"

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

int
pgp_fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int
pgp_atomic_write(const char *path, const void *data, size_t len, mode_t mode)
{
	size_t tmplen = strlen(path) + sizeof(".tmp.XXXXXX");
	char *tmp = malloc(tmplen);
	int fd = -1, saved;
	const char *step;

	if (!tmp)
		return pgp_fail("out of memory");
	snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path);
	step = "create";
	fd = mkstemp(tmp);
	if (fd < 0)
		goto fail;
	/* mkstemp makes 0600; set the wanted mode before any byte lands. */
	step = "set the mode of";
	if (fchmod(fd, mode) != 0)
		goto fail;
	step = "write";
	if (write_all(fd, data, len) != 0)
		goto fail;
	step = "sync";
	if (fsync(fd) != 0)
		goto fail;
	step = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	if (pgp_fsync_dir_of(path) != 0)
		return pgp_fail("cannot sync the directory of \"%s\": %s", path, strerror(errno));
	return 0;

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return pgp_fail("cannot %s \"%s\": %s", step, path, strerror(saved));
}

int
pgp_read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t size = 0, used = 0;

	if (!f)
		return pgp_fail("cannot open \"%s\": %s", path, strerror(errno));
	for (;;) {
		size_t n;

		if (used + 4096 + 1 > size) {
			char *bigger = realloc(buf, size ? size * 2 : 8192);

			if (!bigger) {
				free(buf);
				fclose(f);
				return pgp_fail("out of memory reading \"%s\"", path);
			}
			buf = bigger;
			size = size ? size * 2 : 8192;
		}
		n = fread(buf + used, 1, size - used - 1, f);
		used += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return pgp_fail("cannot read \"%s\": %s", path, strerror(errno));
	}
	fclose(f);
	buf[used] = '\0';
	*data = buf;
	if (len)
		*len = used;
	return 0;
}
