/* Files replaced whole and atomically (SPEC: every write is atomic and
 * refuses to follow a symlink planted in its place), by name in a
 * directory opened inside --root (root-path.h: root_open_parent). */
#pragma once
#include <sys/stat.h>

/* Write content to name in dirfd atomically: -ELOOP for a symlink at
 * name, -EINVAL for anything but a regular file; a replaced file keeps its
 * mode and owner, a new one is 0644. */
int atomic_write_at(int dirfd, const char *name, const char *content);
/* The same without the checks; keep: the file replaced, or NULL.  A
 * symlink at name is replaced, never written through. */
int atomic_replace_at(int dirfd, const char *name, const char *content, const struct stat *keep);
/* fsync of a directory (opened O_RDONLY), so that a rename or an unlink
 * in it lasts. */
int atomic_fsync_dir(int dirfd);
