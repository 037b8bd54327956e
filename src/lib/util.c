#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
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
			ssize_t n;

			if (it->last) {
				errno = 0;
				return NULL;
			}
			n = getdents64(it->fd, it->buf, sizeof(it->buf));
			if (n <= 0) {
				errno = n < 0 ? errno : 0;
				return NULL;
			}
			it->pos = 0;
			it->len = (size_t)n;
			/* room for the longest entry (a 255-byte name) was left */
			it->last = it->whole &&
				   it->len + offsetof(struct dirent64, d_name) + 256 + 8 <= sizeof(it->buf);
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

extern char **environ;

int spawn_read(const char *path, char *const argv[], char *const envp[], bool quiet,
	       int timeout_ms, char *out, size_t len)
{
	long deadline = monotonic_ms() + timeout_ms;
	posix_spawn_file_actions_t fa;
	size_t got = 0;
	int fds[2], err, status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	err = posix_spawn_file_actions_init(&fa);
	if (!err)
		err = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (!err && quiet)
		err = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (!err && quiet)
		err = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (!err)
		err = envp ? posix_spawn(&pid, path, &fa, NULL, argv, envp) :
			     posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while (!err && got < len - 1) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		long left = deadline - monotonic_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fds[0], out + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	if (err)
		return -err;
	out[got] = '\0';
	kill(pid, SIGKILL);     /* it has exited, or is past its time */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return (int)got;
}
