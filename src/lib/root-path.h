/* Paths inside a root directory, resolved as if it were "/" (SPEC: a
 * symlink never leads out of --root; STYLE: paths that cannot escape).
 * An absolute symlink starts again at the root, ".." stops at it, magic
 * links (/proc/PID/fd/N, /proc/PID/root, ...) are refused with -ELOOP, and
 * more than 40 symlinks on the way is -ELOOP too.  openat2(2) with
 * RESOLVE_IN_ROOT does it where the kernel has it (Linux 5.6); elsewhere,
 * or under a seccomp filter that forbids it, a walk of the path one
 * component at a time does the same.
 *
 * Every function returns a descriptor or 0 on success, -errno on failure.
 * Paths may be absolute ("/etc/modprobe.d") or relative to the root. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The root directory itself (O_PATH): NULL or "" is "/".  The path of the
 * root is the user's own (--root, --sysfs), followed as given. */
int root_dir_open(const char *root);

/* open(2) of path inside rootfd: flags as open(2)'s (O_CLOEXEC is always
 * added; O_NOFOLLOW refuses a symlink at the last component with -ELOOP),
 * mode for O_CREAT. */
int root_open(int rootfd, const char *path, int flags, mode_t mode);

/* rel below dirfd through real directories only: -ELOOP at a symlink on
 * the way (the last component included), -EXDEV at a "..".  The quick way
 * to an attribute that is known to be a plain file; on either error the
 * caller resolves the path from its root instead. */
int root_open_below(int dirfd, const char *rel, int flags);

/* The directory holding path's last component, open (O_RDONLY), and
 * *name that component, pointing into path: for the *at() calls that act
 * on a name itself and never follow it (unlinkat, renameat, mkdirat,
 * fstatat with AT_SYMLINK_NOFOLLOW).  -EINVAL when the last component is
 * empty, "." or "..". */
int root_open_parent(int rootfd, const char *path, const char **name);

/* mkdir -p inside the root; the directory, open (O_RDONLY).  A symlink on
 * the way is followed inside the root, and a missing directory it names is
 * made there too.  New directories get mode (less the umask). */
int root_mkdir_p(int rootfd, const char *path, mode_t mode);

/* Remove the name itself (a symlink is removed, never what it points to),
 * then fsync its directory. */
int root_unlink(int rootfd, const char *path);
int root_rmdir(int rootfd, const char *path);

/* A whole regular file: *text malloc'ed and NUL-terminated, *len its
 * length (may be NULL), *st its status (may be NULL).  flags: 0 or
 * O_NOFOLLOW.  Opened O_NONBLOCK and refused with -EINVAL unless it is a
 * regular file, so a FIFO or a device planted there never blocks;
 * -EFBIG past max bytes. */
int root_read_file(int rootfd, const char *path, int flags, size_t max, char **text, size_t *len,
		   struct stat *st);

/* Tests: resolve with the component walk even where openat2 exists. */
void root_force_walk(bool on);
