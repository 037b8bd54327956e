/* Files replaced whole and atomically (SPEC: every write is atomic and
 * refuses to follow a symlink planted in its place). */
#pragma once
#include <stddef.h>
#include <sys/stat.h>

/* Write content to path atomically: -ELOOP for a symlink at path,
 * -EINVAL for anything but a regular file; a replaced file keeps its
 * mode and owner, a new one is 0644. */
int atomic_write_file(const char *path, const char *content);
/* The same without the checks; keep: the file replaced, or NULL. */
int atomic_replace(const char *path, const char *content, const struct stat *keep);
/* The directory part of path ("/" for "/x"). */
int path_parent(const char *path, char *dir, size_t len);
int atomic_fsync_dir(const char *dir);
