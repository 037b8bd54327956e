/* Files replaced whole and atomically: a temporary file in the same
 * directory, fsync, renameat, fsync of the directory.  Never through a
 * symlink planted at the target. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "atomic-file.h"

#define TEMP_TRIES 100

int atomic_fsync_dir(int dirfd)
{
	return fsync(dirfd) < 0 && errno != EINVAL ? -errno : 0;
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

/* A new file ".NAME.XXXXXX" in dirfd, its name in tmp. */
static int open_temp(int dirfd, const char *name, char *tmp, size_t len)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (int i = 0; i < TEMP_TRIES; i++) {
		unsigned char r[6];
		char suffix[7];
		int fd, n;

		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
			/* no entropy yet (early boot): O_EXCL settles a clash */
			unsigned long v = (unsigned long)getpid() * 2654435761u ^ (unsigned long)clock() ^
					  (unsigned long)i * 40503u;

			for (size_t k = 0; k < sizeof(r); k++, v >>= 5)
				r[k] = (unsigned char)v;
		}
		for (size_t k = 0; k < sizeof(r); k++)
			suffix[k] = chars[r[k] % (sizeof(chars) - 1)];
		suffix[6] = '\0';
		n = snprintf(tmp, len, ".%s.%s", name, suffix);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* keep: the file replaced, whose mode and owner the new one takes. */
int atomic_replace_at(int dirfd, const char *name, const char *content, const struct stat *keep)
{
	char tmp[NAME_MAX + 1];
	int fd = open_temp(dirfd, name, tmp, sizeof(tmp)), err;

	if (fd < 0)
		return fd;
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
	if (!err && renameat(dirfd, tmp, dirfd, name) < 0)
		err = -errno;
	if (err) {
		unlinkat(dirfd, tmp, 0);
		return err;
	}
	return atomic_fsync_dir(dirfd);
}

int atomic_write_at(int dirfd, const char *name, const char *content)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		return atomic_replace_at(dirfd, name, content, NULL);
	}
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return atomic_replace_at(dirfd, name, content, &st);
}
