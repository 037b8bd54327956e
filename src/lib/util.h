/* Small helpers shared by every module. */
#pragma once
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Is --root the real root: NULL, "", or the same directory as "/"? */
bool root_is_host(const char *root);
/* ROOT + PATH ("/etc/..."), ROOT the host meaning "": for messages only,
 * never to open (root-path.h resolves paths inside the root). */
int root_show_path(const char *root, const char *path, char *buf, size_t len);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long monotonic_ms(void);
/* Run ARGV (ARGV[0] looked up in PATH, with this environment; or, with
 * ENVP, PATH an absolute path run with ENVP) and read its standard output
 * into OUT, at most LEN - 1 bytes and NUL-terminated, until it closes it or
 * TIMEOUT_MS pass; then kill and reap it.  QUIET: its standard input and
 * error are /dev/null.  The number of bytes read, or -errno when it cannot
 * be run. */
int spawn_read(const char *path, char *const argv[], char *const envp[], bool quiet,
	       int timeout_ms, char *out, size_t len);
/* malloc'ed printf; NULL only when out of memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The entries of an open directory, read with getdents64 into a buffer of
 * its own: opendir or fdopendir would add a dup, fstat and two fcntl calls
 * per directory, and the device walks and /proc scans open hundreds of
 * them.  The iterator reads through fd and leaves closing it to the caller. */
struct dir_iter {
	int fd;
	size_t pos, len;
	bool whole;     /* see dir_iter_init_whole */
	bool last;      /* the last read gave the rest */
	char buf[4096] __attribute__((aligned(8)));
};
static inline void dir_iter_init(struct dir_iter *it, int fd)
{
	it->fd = fd;
	it->pos = it->len = 0;
	it->whole = it->last = false;
}
/* For procfs and sysfs, whose readdir fills a read as far as the entries
 * go and stops early only at the end: a read that left room for another
 * entry was the last, and the call that would return 0 is not made (one
 * per process of a /proc scan). */
static inline void dir_iter_init_whole(struct dir_iter *it, int fd)
{
	dir_iter_init(it, fd);
	it->whole = true;
}
/* The next entry other than "." and "..": NULL at the end (errno 0) or on
 * a read error (errno set). */
const struct dirent64 *dir_iter_next(struct dir_iter *it);
/* DT_DIR for a directory entry, fstatat when the filesystem gives no type. */
bool dir_entry_is_dir(int dfd, const struct dirent64 *de);
