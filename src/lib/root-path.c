/* Paths inside a root directory: openat2(RESOLVE_IN_ROOT), or the same
 * rules walked one component at a time where openat2 is missing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "root-path.h"

#define MAX_SYMLINKS 40         /* the kernel's MAXSYMLINKS */
#define MAX_DEPTH 128           /* directories below the root the walk holds */
#define PROC_ROOT_INO 1         /* the inode of /proc itself */
#define OPENAT2_TRIES 16

static bool force_walk;
static enum { OPENAT2_UNKNOWN, OPENAT2_YES, OPENAT2_NO } openat2_state;

void root_force_walk(bool on)
{
	force_walk = on;
}

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode, unsigned long long resolve)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0,
		.resolve = resolve,
	};

#ifdef SYS_openat2
	/* RESOLVE_IN_ROOT, RESOLVE_BENEATH: EAGAIN when a rename raced a ".." */
	for (int i = 0; i < OPENAT2_TRIES; i++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
#else
	(void)dirfd, (void)path, (void)how;
	return -ENOSYS;
#endif
}

/* Before Linux 5.6 there is no openat2 (ENOSYS), and a seccomp profile
 * older than it may answer EPERM: asked once, with a call that cannot fail
 * otherwise. */
static bool have_openat2(void)
{
	if (force_walk)
		return false;
	if (openat2_state == OPENAT2_UNKNOWN) {
		int fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0,
				     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

		openat2_state = fd == -ENOSYS || fd == -EPERM ? OPENAT2_NO : OPENAT2_YES;
		if (fd >= 0)
			close(fd);
	}
	return openat2_state == OPENAT2_YES;
}

/* ---- the component walk ---- */

struct walk {
	int fd[MAX_DEPTH + 1];      /* fd[0] the root (the caller's), fd[depth] where we are */
	int depth;
	int links;
	char path[2 * PATH_MAX];    /* what is left to resolve */
};

static int here(const struct walk *w)
{
	return w->fd[w->depth];
}

static void walk_up_to(struct walk *w, int depth)
{
	while (w->depth > depth)
		close(w->fd[w->depth--]);
}

static int walk_down(struct walk *w, int fd)
{
	if (w->depth == MAX_DEPTH) {
		close(fd);
		return -ENAMETOOLONG;
	}
	w->fd[++w->depth] = fd;
	return 0;
}

/* Magic links live in procfs below its top (/proc/PID/fd/N, root, cwd,
 * exe, ns/...); the links at the top (self, thread-self, mounts, net) are
 * plain ones.  In doubt: magic. */
static bool magic_link_dir(int dirfd)
{
	struct statfs fs;
	struct stat st;

	if (fstatfs(dirfd, &fs) < 0 || fstat(dirfd, &st) < 0)
		return true;
	return fs.f_type == PROC_SUPER_MAGIC && st.st_ino != PROC_ROOT_INO;
}

/* name, a symlink where the walk is: its target goes in front of rest
 * (what is left of the path), from the root when it is absolute.
 * -EINVAL when name is not a symlink. */
static int walk_follow(struct walk *w, const char *name, const char *rest)
{
	char target[PATH_MAX], next[sizeof(w->path)];
	ssize_t n;
	int len;

	if (++w->links > MAX_SYMLINKS)
		return -ELOOP;
	n = readlinkat(here(w), name, target, sizeof(target));
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof(target))
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	target[n] = '\0';
	if (magic_link_dir(here(w)))
		return -ELOOP;
	len = snprintf(next, sizeof(next), "%s%s%s", target, *rest ? "/" : "", rest);
	if (len < 0 || (size_t)len >= sizeof(next))
		return -ENAMETOOLONG;
	memcpy(w->path, next, (size_t)len + 1);
	if (target[0] == '/')
		walk_up_to(w, 0);
	return 0;
}

/* Cut the next component of *p into name, *p past it and its slashes. */
static int next_component(char **p, char *name)
{
	char *end = strchrnul(*p, '/');

	if (end - *p > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, *p, (size_t)(end - *p));
	name[end - *p] = '\0';
	while (*end == '/')
		end++;
	*p = end;
	return 0;
}

/* A directory on the way: entered, made first when asked, or followed
 * when it is a symlink (then *p restarts at the new path). */
static int walk_dir(struct walk *w, const char *name, char **p, mode_t mkdir_mode)
{
	int fd = openat(here(w), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), err;

	if (fd < 0 && errno == ENOENT && mkdir_mode) {
		/* EEXIST: a dangling symlink, followed below */
		if (mkdirat(here(w), name, mkdir_mode) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(here(w), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0)
		return walk_down(w, fd);
	if (errno != ENOTDIR && errno != ELOOP)
		return -errno;
	err = walk_follow(w, name, *p);
	*p = w->path;
	return err == -EINVAL ? -ENOTDIR : err;
}

/* The last component: 1 and *fd when opened, 0 when it was a symlink and
 * *p restarts at the path it leads to. */
static int walk_last(struct walk *w, const char *name, char **p, int flags, mode_t mode, int *fd)
{
	int saved, err;
	struct stat st;

	*fd = openat(here(w), name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	/* O_PATH | O_NOFOLLOW opens a symlink itself */
	if (*fd >= 0 && (flags & (O_PATH | O_NOFOLLOW)) == O_PATH &&
	    (fstat(*fd, &st) < 0 || S_ISLNK(st.st_mode))) {
		close(*fd);
		*fd = -1;
		errno = ELOOP;
	}
	if (*fd >= 0)
		return 1;
	saved = errno;
	if (flags & O_NOFOLLOW || (saved != ELOOP && saved != ENOTDIR))
		return -saved;
	err = walk_follow(w, name, *p);
	*p = w->path;
	return err == -EINVAL ? -saved : err;
}

/* mkdir_mode non-zero: mkdir -p, and the result is the directory. */
static int walk(int rootfd, const char *path, int flags, mode_t mode, mode_t mkdir_mode)
{
	struct walk *w = malloc(sizeof(*w));
	size_t len = strlen(path);
	char name[NAME_MAX + 1], *p;
	int res = -ENAMETOOLONG, fd = -1;

	if (!w)
		return -ENOMEM;
	w->fd[0] = rootfd;
	w->depth = w->links = 0;
	if (len >= sizeof(w->path))
		goto out;
	memcpy(w->path, path, len + 1);
	if (len && path[len - 1] == '/')
		flags |= O_DIRECTORY;
	if (mkdir_mode)
		flags = O_RDONLY | O_DIRECTORY;
	for (p = w->path;;) {
		while (*p == '/')
			p++;
		if (!*p) {
			/* it ends at a directory: the root, or one reached by ".." */
			fd = openat(here(w), ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC, mode);
			res = fd < 0 ? -errno : 1;
			break;
		}
		res = next_component(&p, name);
		if (res < 0)
			break;
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			walk_up_to(w, w->depth ? w->depth - 1 : 0);
			continue;
		}
		if (*p || mkdir_mode)
			res = walk_dir(w, name, &p, mkdir_mode);
		else
			res = walk_last(w, name, &p, flags, mode, &fd);
		if (res)
			break;
	}
out:
	walk_up_to(w, 0);
	free(w);
	return res < 0 ? res : fd;
}

/* ---- the interface ---- */

int root_dir_open(const char *root)
{
	int fd = open(root && root[0] ? root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int root_open(int rootfd, const char *path, int flags, mode_t mode)
{
	if (!path[0])
		path = ".";
	if (have_openat2())
		return sys_openat2(rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	return walk(rootfd, path, flags, mode, 0);
}

static bool is_link_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* The walk for root_open_below: no symlink, no "..". */
static int walk_below(int dirfd, const char *rel, int flags)
{
	char name[NAME_MAX + 1], *copy, *p;
	int cur = dirfd, res;
	struct stat st;

	if (rel[0] == '/')
		return -EXDEV;
	copy = strdup(rel[0] ? rel : ".");
	if (!copy)
		return -ENOMEM;
	for (p = copy;;) {
		bool last;

		res = next_component(&p, name);
		if (res < 0)
			break;
		if (!strcmp(name, "..")) {
			res = -EXDEV;
			break;
		}
		last = !*p;
		res = openat(cur, name, last ? flags | O_NOFOLLOW | O_CLOEXEC :
			     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		res = res < 0 ? -errno : res;
		/* a symlink: -ELOOP, whatever O_DIRECTORY or O_PATH made of it */
		if (res == -ENOTDIR && is_link_at(cur, name))
			res = -ELOOP;
		if (res >= 0 && last && (flags & (O_PATH | O_NOFOLLOW)) == O_PATH &&
		    (fstat(res, &st) < 0 || S_ISLNK(st.st_mode))) {
			close(res);
			res = -ELOOP;
		}
		if (cur != dirfd)
			close(cur);
		if (res < 0 || last)
			break;
		cur = res;
	}
	free(copy);
	return res;
}

int root_open_below(int dirfd, const char *rel, int flags)
{
	if (have_openat2())
		return sys_openat2(dirfd, rel, flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
				   RESOLVE_NO_MAGICLINKS);
	return walk_below(dirfd, rel, flags);
}

int root_open_parent(int rootfd, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	*name = base;
	return root_open(rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
}

int root_mkdir_p(int rootfd, const char *path, mode_t mode)
{
	int fd = root_open(rootfd, path, O_RDONLY | O_DIRECTORY, 0);

	/* the walk makes what is missing, following links inside the root */
	return fd == -ENOENT ? walk(rootfd, path, O_RDONLY | O_DIRECTORY, 0, mode ? mode : 0700) : fd;
}

static int remove_at(int rootfd, const char *path, int at_flags)
{
	const char *name;
	int dfd = root_open_parent(rootfd, path, &name), err = 0;

	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, at_flags) < 0)
		err = -errno;
	else if (fsync(dfd) < 0 && errno != EINVAL)
		err = -errno;
	close(dfd);
	return err;
}

int root_unlink(int rootfd, const char *path)
{
	return remove_at(rootfd, path, 0);
}

int root_rmdir(int rootfd, const char *path)
{
	return remove_at(rootfd, path, AT_REMOVEDIR);
}

int root_read_file(int rootfd, const char *path, int flags, size_t max, char **text, size_t *len,
		   struct stat *st)
{
	int fd = root_open(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK | (flags & O_NOFOLLOW), 0);
	size_t used = 0, cap = 0;
	struct stat own;
	char *buf = NULL;
	int err = 0;

	*text = NULL;
	if (fd < 0)
		return fd;
	if (!st)
		st = &own;
	if (fstat(fd, st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		err = -EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (used == cap) {
			char *nb;

			if (cap > max) {
				err = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + used, cap - used);
		if (r == 0)
			break;
		if (r < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
		used += r > 0 ? (size_t)r : 0;
	}
	if (used > max)
		err = -EFBIG;
out:
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[used] = '\0';
	*text = buf;
	if (len)
		*len = used;
	return 0;
}
