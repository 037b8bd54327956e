#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz-util.h"
#include "util.h"

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==FINDING== %s:%d: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static char *scratch;
static pid_t scratch_owner;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_scratch(void)
{
	/* a forked copy (the library's writer) must not take it away */
	if (scratch && getpid() == scratch_owner)
		nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl;

	if (scratch)
		return scratch;
	if (!base || !base[0])
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	tmpl = xasprintf("%s/vh-fuzz.XXXXXX", base);
	if (!tmpl || !mkdtemp(tmpl)) {
		perror("vh-fuzz: cannot make a scratch directory");
		abort();
	}
	scratch = tmpl;
	scratch_owner = getpid();
	atexit(remove_scratch);
	return scratch;
}

char *fuzz_mkdir(const char *rel)
{
	char *path = xasprintf("%s/%s", fuzz_scratch(), rel);

	if (!path)
		abort();
	for (char *p = path + strlen(fuzz_scratch()) + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "vh-fuzz: mkdir %s: %s\n", path, strerror(errno));
			abort();
		}
		*p = c;
		if (!c)
			break;
	}
	return path;
}

int fuzz_empty_dir(int dirfd)
{
	const struct dirent64 *de;
	struct dir_iter *it = malloc(sizeof(*it));
	int fd, err = 0;

	if (!it)
		return -ENOMEM;
	/* a descriptor of its own: the listing starts at the beginning */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		free(it);
		return -errno;
	}
	dir_iter_init(it, fd);
	while ((de = dir_iter_next(it))) {
		if (dir_entry_is_dir(fd, de)) {
			int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				fuzz_empty_dir(sub);
				close(sub);
			}
			if (unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0 && !err)
				err = -errno;
		} else if (unlinkat(fd, de->d_name, 0) < 0 && !err) {
			err = -errno;
		}
	}
	close(fd);
	free(it);
	return err;
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int fuzz_write_at(int dirfd, const char *rel, const void *content, size_t len)
{
	const char *p = content;
	int fd, err = 0;

	fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			err = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return err;
}
