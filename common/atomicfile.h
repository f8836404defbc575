/*
 * Files that are either the old version or the new one, never half of
 * either: write a temporary file beside the target, fsync, rename, fsync
 * the directory.
 */
#ifndef PGP_ATOMICFILE_H
#define PGP_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Replace path with len bytes of data, created with mode.  0 or -1 (logged). */
int pgp_atomic_write(const char *path, const void *data, size_t len, mode_t mode);

/* fsync the directory holding path: a rename is durable only once the
 * directory entry is on disk.  0, or -1 with errno set (not logged). */
int pgp_fsync_dir_of(const char *path);

/* Read a whole file into a malloc'd NUL-terminated buffer.  0 or -1 (logged). */
int pgp_read_file(const char *path, char **data, size_t *len);

#endif
