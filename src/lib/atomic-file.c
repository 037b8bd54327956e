/* Files replaced whole and atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory.  Never through a
 * symlink planted at the target. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "atomic-file.h"

int atomic_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		err = -errno;
	close(fd);
	return err;
}

int path_parent(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return -EINVAL;
	if ((size_t)(slash - path) + 2 > len)
		return -ENAMETOOLONG;
	if (slash == path)
		slash++;      /* "/x": the directory is "/" */
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return 0;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

/* keep: the file replaced, whose mode and owner the new one takes. */
int atomic_replace(const char *path, const char *content, const struct stat *keep)
{
	const char *name = strrchr(path, '/');
	char dir[PATH_MAX], tmp[PATH_MAX];
	int fd, n, err = path_parent(path, dir, sizeof(dir));

	if (err)
		return err;
	n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(name - path), path, name + 1);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = write_all(fd, content, strlen(content));
	/* owner first: chown clears the set-id bits that chmod then sets */
	if (!err && keep && (keep->st_uid != geteuid() || keep->st_gid != getegid()) &&
	    fchown(fd, keep->st_uid, keep->st_gid) < 0)
		err = -errno;
	if (!err && (fchmod(fd, keep ? keep->st_mode & 07777 : 0644) < 0 || fsync(fd) < 0))
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	/* a symlink planted since it was checked is replaced, never written through */
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return atomic_fsync_dir(dir);
}

int atomic_write_file(const char *path, const char *content)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		return atomic_replace(path, content, NULL);
	}
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return atomic_replace(path, content, &st);
}
