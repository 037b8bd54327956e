#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "util.h"

/* By identity, not by name: "/.", "//", "/usr/.." and a bind mount of
 * "/" are the host too. */
bool root_is_host(const char *root)
{
	struct stat st, host;

	if (!root || !root[0])
		return true;
	return stat(root, &st) == 0 && stat("/", &host) == 0 && st.st_dev == host.st_dev &&
	       st.st_ino == host.st_ino;
}

int root_show_path(const char *root, const char *path, char *buf, size_t len)
{
	int n;

	if (root_is_host(root))
		root = "";
	n = snprintf(buf, len, "%s%s", root, path);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

const struct dirent64 *dir_iter_next(struct dir_iter *it)
{
	for (;;) {
		const struct dirent64 *de;

		if (it->pos >= it->len) {
			ssize_t n = getdents64(it->fd, it->buf, sizeof(it->buf));

			if (n <= 0) {
				errno = n < 0 ? errno : 0;
				return NULL;
			}
			it->pos = 0;
			it->len = (size_t)n;
		}
		de = (const struct dirent64 *)(it->buf + it->pos);
		it->pos += de->d_reclen;
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return de;
	}
}

bool dir_entry_is_dir(int dfd, const struct dirent64 *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}
