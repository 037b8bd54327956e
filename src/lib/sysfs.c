#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "root-path.h"
#include "sysfs.h"
#include "util.h"

#define WALK_MAX_DEPTH 8

static int dev_rel(const struct pci_addr *a, const char *sub, char *rel, size_t len);

/*
 * Every path is resolved inside the tree (root-path.h), as if its root
 * were "/": a link of a captured tree that leads out of it (absolute, or
 * with enough "..") cannot make a read, or a write, reach a file outside.
 * The kernel's own links are relative and stay inside: on /sys every path
 * leads where it did, an attribute opened with one openat2 as it was with
 * one openat.
 */

/* rel relative to the tree's root, or to the function's directory
 * (dev_fd, itself opened inside the tree).  Below the function's directory
 * an attribute opens in one call; a link or ".." on the way
 * (iommu_group/devices) is resolved again from the tree's root. */
static int tree_open(struct sysfs *sfs, int dirfd, const char *rel, int flags)
{
	char full[1024];
	int fd;

	if (dirfd == sfs->rootfd)
		return root_open(sfs->rootfd, rel, flags, 0);
	fd = root_open_below(dirfd, rel, flags);
	if ((fd != -ELOOP && fd != -EXDEV) || dirfd != sfs->dev_fd ||
	    dev_rel(&sfs->dev_addr, rel, full, sizeof(full)))
		return fd;
	return root_open(sfs->rootfd, full, flags, 0);
}

/* sysfs holds only regular files, directories and links: no call spent
 * on it.  A captured tree may hold anything (a FIFO would block a read or
 * a write forever): there, what is not a regular file is refused. */
static int regular_unless_live(const struct sysfs *sfs, int fd)
{
	struct stat st;

	if (sfs->live)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode) ? 0 : -EINVAL;
}

static int default_read(struct sysfs *sfs, int dirfd, const char *rel, char *buf, size_t len)
{
	int fd, err = 0;
	ssize_t n;

	if (len == 0)
		return -EINVAL;
	fd = tree_open(sfs, dirfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	err = regular_unless_live(sfs, fd);
	if (err)
		goto out;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	err = (int)n;
out:
	close(fd);
	return err;
}

static int default_write(struct sysfs *sfs, const char *rel, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err;

	/* truncated as by the shell's "echo x > attr": sysfs ignores it, a file
	 * tree needs it, and gets it only once it is known to be a regular file */
	fd = root_open(sfs->rootfd, rel, O_WRONLY | O_NOCTTY | O_NONBLOCK | (sfs->live ? O_TRUNC : 0), 0);
	if (fd < 0)
		return fd;
	err = regular_unless_live(sfs, fd);
	if (!err && !sfs->live && ftruncate(fd, 0) < 0)
		err = -errno;
	if (!err) {
		n = write(fd, val, len);
		if (n < 0)
			err = -errno;
		else if ((size_t)n != len)
			err = -EIO;
	}
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

/* The link itself is never followed; the directories on the way to it
 * are, inside the tree. */
static int default_readlink(struct sysfs *sfs, int dirfd, const char *rel, char *buf, size_t len)
{
	const char *slash = strrchr(rel, '/');
	int dfd = dirfd, err;
	char dir[1024];
	ssize_t n;

	if (len == 0)
		return -EINVAL;
	if (slash) {
		if ((size_t)(slash - rel) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
		dfd = tree_open(sfs, dirfd, dir, O_PATH | O_DIRECTORY);
		if (dfd < 0)
			return dfd;
		rel = slash + 1;
	}
	n = readlinkat(dfd, rel, buf, len - 1);
	err = n < 0 ? -errno : (size_t)n == len - 1 ? -ENAMETOOLONG : 0;
	if (dfd != dirfd)
		close(dfd);
	if (err)
		return err;
	buf[n] = '\0';
	return (int)n;
}

const struct sysfs_ops sysfs_default_ops = {
	.read = default_read,
	.write = default_write,
	.readlink = default_readlink,
};

int sysfs_open(const char *root, struct sysfs **out)
{
	struct sysfs *sfs;
	struct statfs fs;
	int err;

	sfs = calloc(1, sizeof(*sfs));
	if (!sfs)
		return -ENOMEM;
	if (snprintf(sfs->root, sizeof(sfs->root), "%s", root) >= (int)sizeof(sfs->root)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	sfs->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfs->rootfd < 0) {
		err = -errno;
		goto fail;
	}
	/* Only the running kernel's tree may be matched against /proc and /dev,
	 * and it is the kernel's wherever it is mounted (a container's
	 * /host/sys): decided by the filesystem, never by the path. */
	if (fstatfs(sfs->rootfd, &fs) < 0) {
		err = -errno;
		close(sfs->rootfd);
		goto fail;
	}
	sfs->live = fs.f_type == SYSFS_MAGIC;
	sfs->dev_fd = -1;
	sfs->writer_fd = -1;
	sfs->backend_fd = -1;
	sfs->read_timeout_ms = 10000;
	sfs->ops = &sysfs_default_ops;
	*out = sfs;
	return 0;
fail:
	free(sfs);
	return err;
}

static void writer_stop(struct sysfs *sfs);

void sysfs_set_backend(struct sysfs *sfs, const struct sysfs_ops *ops, void *priv, int backend_fd)
{
	/* the writer runs the backend it was started with */
	writer_stop(sfs);
	sfs->ops = ops ? ops : &sysfs_default_ops;
	sfs->priv = priv;
	sfs->backend_fd = backend_fd;
}

void sysfs_close(struct sysfs *sfs)
{
	if (!sfs)
		return;
	writer_stop(sfs);
	if (sfs->rootfd >= 0)
		close(sfs->rootfd);
	if (sfs->dev_fd >= 0)
		close(sfs->dev_fd);
	free(sfs);
}

static int dev_rel(const struct pci_addr *a, const char *sub, char *rel, size_t len)
{
	char ab[PCI_ADDR_LEN];
	int n;

	pci_addr_fmt(a, ab);
	if (sub)
		n = snprintf(rel, len, "bus/pci/devices/%s/%s", ab, sub);
	else
		n = snprintf(rel, len, "bus/pci/devices/%s", ab);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* The function's directory, opened now (inside the tree) and kept for
 * its attributes. */
static int dev_dirfd_open(struct sysfs *sfs, const struct pci_addr *a)
{
	char rel[64];
	int fd;

	if (dev_rel(a, NULL, rel, sizeof(rel)))
		return -ENAMETOOLONG;
	fd = root_open(sfs->rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (sfs->dev_fd >= 0)
		close(sfs->dev_fd);
	sfs->dev_fd = fd;
	sfs->dev_addr = *a;
	return fd;
}

/* The function's directory, opened once for all its attributes. */
static int dev_dirfd(struct sysfs *sfs, const struct pci_addr *a)
{
	if (sfs->dev_fd >= 0 && pci_addr_cmp(&sfs->dev_addr, a) == 0)
		return sfs->dev_fd;
	return dev_dirfd_open(sfs, a);
}

/* Forget the open directory: the function may have gone (rebind, remove). */
static void dev_forget(struct sysfs *sfs)
{
	if (sfs->dev_fd >= 0)
		close(sfs->dev_fd);
	sfs->dev_fd = -1;
}

static void read_by_writer(struct sysfs *sfs, const struct pci_addr *addrs, size_t n,
			   const char *attr, char *bufs, size_t len, int *res);

/* The kernel shows driver_override under the device's lock, which a blocked
 * unbind holds (ours, abandoned, or anyone's): on a live tree the writer
 * reads it, within the limit, so the tool itself never waits on it. */
bool sysfs_is_live(const struct sysfs *sfs)
{
	return sfs->live;
}

bool sysfs_read_by_writer(const struct sysfs *sfs, const char *attr)
{
	return sfs->live && strcmp(attr, "driver_override") == 0;
}

int sysfs_dev_read(struct sysfs *sfs, const struct pci_addr *a, const char *attr,
		   char *buf, size_t len)
{
	int fd, res;

	if (sysfs_read_by_writer(sfs, attr)) {
		read_by_writer(sfs, a, 1, attr, buf, len, &res);
		return res;
	}
	fd = dev_dirfd(sfs, a);
	return fd < 0 ? fd : sfs->ops->read(sfs, fd, attr, buf, len);
}

void sysfs_dev_read_each(struct sysfs *sfs, const struct pci_addr *addrs, size_t n,
			 const char *attr, char *bufs, size_t len, int *res)
{
	if (sysfs_read_by_writer(sfs, attr)) {
		read_by_writer(sfs, addrs, n, attr, bufs, len, res);
		return;
	}
	for (size_t i = 0; i < n; i++)
		res[i] = sysfs_dev_read(sfs, &addrs[i], attr, bufs + i * len, len);
}

static const char *last_component(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int sysfs_dev_link(struct sysfs *sfs, const struct pci_addr *a, const char *link,
		   char *buf, size_t len)
{
	char target[4096];
	const char *name;
	int fd = dev_dirfd(sfs, a), err;

	if (fd < 0)
		return fd;
	err = sfs->ops->readlink(sfs, fd, link, target, sizeof(target));
	if (err < 0)
		return err;
	name = last_component(target);
	/* "../drivers/igb/" names nothing: not the driver "" (unbound), not group "" */
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (snprintf(buf, len, "%s", name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int sysfs_dev_path(struct sysfs *sfs, const struct pci_addr *a, char *buf, size_t len)
{
	char rel[256];
	int err = dev_rel(a, NULL, rel, sizeof(rel));

	if (err)
		return err;
	err = sfs->ops->readlink(sfs, sfs->rootfd, rel, buf, len);
	return err < 0 ? err : 0;
}

int sysfs_driver_module(struct sysfs *sfs, const char *driver, char *buf, size_t len)
{
	char rel[256], target[4096];
	int err;

	if (!sysfs_valid_driver_name(driver))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/module", driver);
	err = sfs->ops->readlink(sfs, sfs->rootfd, rel, target, sizeof(target));
	if (err < 0)
		return err;
	if (snprintf(buf, len, "%s", last_component(target)) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int sysfs_dev_has(struct sysfs *sfs, const struct pci_addr *a, const char *sub)
{
	char rel[512];
	struct stat st;
	int fd = dev_dirfd(sfs, a);

	if (fd < 0)
		return 0;
	/* an entry of its own (reset): one call, nothing followed */
	if (!strchr(sub, '/')) {
		if (fstatat(fd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		if (!S_ISLNK(st.st_mode))
			return 1;
	}
	/* through a link (iommu_group/devices): from the tree's root */
	if (dev_rel(a, sub, rel, sizeof(rel)))
		return 0;
	fd = root_open(sfs->rootfd, rel, O_PATH, 0);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* Asks the tree itself, never the open directory: a removed function's
 * directory stays readable through a descriptor held open on it.  The
 * directory found is the one its attributes are then read from. */
int sysfs_dev_exists(struct sysfs *sfs, const struct pci_addr *a)
{
	if (dev_dirfd_open(sfs, a) >= 0)
		return 1;
	if (sfs->dev_fd >= 0 && pci_addr_cmp(&sfs->dev_addr, a) == 0)
		dev_forget(sfs);
	return 0;
}

static int addr_cmp_qsort(const void *x, const void *y)
{
	return pci_addr_cmp(x, y);
}

static int open_dir_at(struct sysfs *sfs, const char *rel)
{
	return root_open(sfs->rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
}

int sysfs_list_devices(struct sysfs *sfs, struct pci_addr **out, size_t *n)
{
	struct pci_addr *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	const struct dirent64 *de;
	struct dir_iter it;
	int fd, err = 0;

	fd = open_dir_at(sfs, "bus/pci/devices");
	if (fd < 0)
		return fd;
	dir_iter_init(&it, fd);
	while ((de = dir_iter_next(&it))) {
		struct pci_addr a;

		if (pci_addr_parse(de->d_name, &a))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[cnt++] = a;
	}
	if (errno)
		err = -errno;
out:
	close(fd);
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), addr_cmp_qsort);
	*out = v;
	*n = cnt;
	return 0;
}

int sysfs_count_iommu_groups(struct sysfs *sfs)
{
	struct dir_iter it;
	int n = 0, fd = open_dir_at(sfs, "kernel/iommu_groups");

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	dir_iter_init(&it, fd);
	while (dir_iter_next(&it))
		n++;
	close(fd);
	return n;
}

int sysfs_driver_registered(struct sysfs *sfs, const char *driver)
{
	char rel[256];
	int fd;

	/* driver names come from the kernel or from constants, never from argv */
	if (strchr(driver, '/') || snprintf(rel, sizeof(rel), "bus/pci/drivers/%s", driver) >= (int)sizeof(rel))
		return 0;
	fd = root_open(sfs->rootfd, rel, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

int sysfs_phys_slot(struct sysfs *sfs, const struct pci_addr *a, char *buf, size_t len)
{
	char want[PCI_SLOT_LEN], rel[512], val[64];
	const struct dirent64 *de;
	struct dir_iter it;
	int fd;

	buf[0] = '\0';
	fd = open_dir_at(sfs, "bus/pci/slots");
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	pci_slot_fmt(a, want);
	dir_iter_init(&it, fd);
	while ((de = dir_iter_next(&it))) {
		snprintf(rel, sizeof(rel), "bus/pci/slots/%s/address", de->d_name);
		if (sfs->ops->read(sfs, sfs->rootfd, rel, val, sizeof(val)) > 0 &&
		    strcasecmp(val, want) == 0) {
			snprintf(buf, len, "%s", de->d_name);
			break;
		}
	}
	close(fd);
	return 0;
}

/* "MAJ:MIN" in decimal digits: sscanf's %u would take signs, spaces and
 * numbers past 32 bits (undefined), making up a device number. */
static int parse_devnum(const char *s, dev_t *dev)
{
	unsigned long maj, min;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	maj = strtoul(s, &end, 10);
	if (*end != ':' || !isdigit((unsigned char)end[1]))
		return -EINVAL;
	min = strtoul(end + 1, &end, 10);
	if (errno || *end || maj > UINT_MAX || min > UINT_MAX)
		return -EINVAL;
	*dev = makedev(maj, min);
	return 0;
}

struct walk {
	struct sysfs *sfs;
	sysfs_child_fn fn;
	void *data;
	char rel[1024];      /* relative to the function's directory */
};

static int walk_dir(struct walk *w, int dfd, int depth);

/* A directory with a "subsystem" link is a device of that class. */
static int visit_child(struct walk *w, int fd, const char *name)
{
	char target[4096], devbuf[64];
	struct sysfs_child c = { .name = name, .rel = w->rel };
	ssize_t n;
	int dfd;

	n = readlinkat(fd, "subsystem", target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	c.subsystem = last_component(target);
	if (strcmp(c.subsystem, "pci") == 0)
		return 0;
	/* its own file: a link named dev is not followed */
	dfd = root_open_below(fd, "dev", O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (dfd >= 0) {
		n = regular_unless_live(w->sfs, dfd) ? -1 : read(dfd, devbuf, sizeof(devbuf) - 1);
		close(dfd);
		if (n > 0) {
			devbuf[n] = '\0';
			devbuf[strcspn(devbuf, "\n")] = '\0';
			c.has_dev = parse_devnum(devbuf, &c.dev) == 0;
		}
	}
	return w->fn(&c, w->data);
}

static int walk_dir(struct walk *w, int dfd, int depth)
{
	const struct dirent64 *de;
	struct pci_addr ignored;
	size_t base = strlen(w->rel);
	struct dir_iter *it;
	int err = 0, cfd;

	if (depth > WALK_MAX_DEPTH)
		return 0;
	/* the walk reads through dfd itself: openat below does not mind its offset */
	it = malloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	dir_iter_init(it, dfd);
	while (!err && (de = dir_iter_next(it))) {
		if (!dir_entry_is_dir(dfd, de))
			continue;
		/* functions behind a bridge are devices of their own */
		if (pci_addr_parse(de->d_name, &ignored) == 0 || strcmp(de->d_name, "power") == 0)
			continue;
		if (snprintf(w->rel + base, sizeof(w->rel) - base, "%s%s", base ? "/" : "",
			     de->d_name) >= (int)(sizeof(w->rel) - base))
			continue;
		cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd >= 0) {
			err = visit_child(w, cfd, de->d_name);
			if (!err)
				err = walk_dir(w, cfd, depth + 1);
			close(cfd);
		}
		w->rel[base] = '\0';
	}
	if (!err && errno)
		err = -errno;
	free(it);
	return err;
}

int sysfs_walk_children(struct sysfs *sfs, const struct pci_addr *a,
			sysfs_child_fn fn, void *data)
{
	struct walk w = { .sfs = sfs, .fn = fn, .data = data };
	char rel[256];
	int fd, err;

	err = dev_rel(a, NULL, rel, sizeof(rel));
	if (err)
		return err;
	fd = open_dir_at(sfs, rel);
	if (fd < 0)
		return fd;
	err = walk_dir(&w, fd, 0);
	close(fd);
	return err;
}

int sysfs_child_read(struct sysfs *sfs, const struct pci_addr *a, const char *rel,
		     const char *attr, char *buf, size_t len)
{
	char path[1024];

	if (snprintf(path, sizeof(path), "%s/%s", rel, attr) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return sysfs_dev_read(sfs, a, path, buf, len);
}

int sysfs_block_holder(struct sysfs *sfs, const struct pci_addr *a, const char *disk,
		       char *buf, size_t len)
{
	const struct dirent64 *de;
	struct dir_iter it;
	char rel[256];
	int fd;

	(void)a;
	if (strchr(disk, '/') || snprintf(rel, sizeof(rel), "class/block/%s/holders", disk) >= (int)sizeof(rel))
		return -EINVAL;
	fd = open_dir_at(sfs, rel);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	dir_iter_init(&it, fd);
	de = dir_iter_next(&it);
	if (de)
		snprintf(buf, len, "%s", de->d_name);
	close(fd);
	return de != NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Kernel writes run in a child process, the writer, so that a write that
 * blocks in the kernel (an unbind waiting on a driver that will not let go)
 * cannot hold the tool past --timeout: the tool reports, exits, and leaves
 * the blocked child to the kernel.  A thread would not do: a process does
 * not exit while one of its threads is blocked in a system call.
 *
 * One writer serves every write of a run, over a socket pair: a fork per
 * write cost a millisecond or more each on a small VM.  It is replaced after
 * a timeout, when the backend changes (sysfs_set_backend), and in a forked
 * copy of the program, which must not share its parent's.
 */
#define WRITER_MSG_MAX 4352
#define WRITER_WRITE 'W'            /* request: type, rel, NUL, value, NUL */
#define WRITER_READ 'R'             /* request: type, then rel, NUL for each path */

struct writer_reply {
	int result;                 /* -errno, or what the backend returned */
	char data[SYSFS_ATTR_MAX];  /* a read's content, NUL-terminated, whole */
};

static void close_fds_between(unsigned from, unsigned to)
{
	long max;

	if (from > to || syscall(SYS_close_range, from, to, 0) == 0)
		return;
	/* kernels before 5.9 */
	max = sysconf(_SC_OPEN_MAX);
	for (long fd = from; fd <= (long)to && fd < max; fd++)
		close((int)fd);
}

/* Every descriptor from 3 up but the n in keep (sorted, ascending). */
static void close_fds_except(const int *keep, int n)
{
	unsigned next = 3;

	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)next)
			continue;
		close_fds_between(next, (unsigned)keep[i] - 1);
		next = (unsigned)keep[i] + 1;
	}
	close_fds_between(next, ~0U);
}

static int int_cmp(const void *x, const void *y)
{
	return *(const int *)x - *(const int *)y;
}

/* A writer left blocked in the kernel must not keep the journal's lock or
 * a caller's pipe ($(vfio-handover ...) waits for every writer of it). */
static void writer_detach(struct sysfs *sfs, int sock)
{
	int keep[3] = { sfs->rootfd, sock, sfs->backend_fd };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int fd = 0; fd < 3; fd++) {
		if (null >= 0)
			dup2(null, fd);
		else
			close(fd);
	}
	if (null > 2)
		close(null);
	qsort(keep, 3, sizeof(keep[0]), int_cmp);
	close_fds_except(keep, 3);
}

static void __attribute__((noreturn)) writer_main(struct sysfs *sfs, int sock)
{
	char req[WRITER_MSG_MAX + 1];
	struct writer_reply rep;

	/* a write of the backend may itself write: this copy has no writer */
	sfs->writer_fd = -1;
	sfs->writer_pid = 0;
	writer_detach(sfs, sock);
	for (;;) {
		ssize_t n = recv(sock, req, WRITER_MSG_MAX, 0);
		const char *rel = req + 1;
		size_t rlen, replen = sizeof(rep.result);

		if (n <= 1)
			_exit(0);
		req[n] = '\0';
		rlen = strlen(rel);
		if (req[0] == WRITER_READ) {
			/* one reply per path, as each read returns */
			for (; rel < req + n; rel += strlen(rel) + 1) {
				replen = sizeof(rep.result);
				rep.result = sfs->ops->read(sfs, sfs->rootfd, rel, rep.data, sizeof(rep.data));
				if (rep.result >= 0)
					replen += strlen(rep.data) + 1;
				if (send(sock, &rep, replen, MSG_NOSIGNAL) != (ssize_t)replen)
					_exit(0);
			}
			continue;
		} else if (req[0] != WRITER_WRITE || rlen + 2 >= (size_t)n) {
			rep.result = -EINVAL;
		} else {
			/* a backend that reads goes through the cache of function
			 * directories: start without one, and keep none between writes */
			dev_forget(sfs);
			rep.result = sfs->ops->write(sfs, rel, rel + rlen + 1);
			dev_forget(sfs);
		}
		if (send(sock, &rep, replen, MSG_NOSIGNAL) != (ssize_t)replen)
			_exit(0);
	}
}

static int writer_start(struct sysfs *sfs)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	dev_forget(sfs);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		close(sv[0]);
		writer_main(sfs, sv[1]);
	}
	close(sv[1]);
	sfs->writer_pid = pid;
	sfs->writer_owner = getpid();
	sfs->writer_fd = sv[0];
	return 0;
}

/* Let an idle writer go: it exits at the end of its socket, and is reaped. */
static void writer_stop(struct sysfs *sfs)
{
	if (sfs->writer_fd < 0)
		return;
	if (sfs->writer_owner == getpid()) {
		/* shutdown reaches the writer even if a forked copy holds the socket */
		shutdown(sfs->writer_fd, SHUT_RDWR);
		close(sfs->writer_fd);
		while (waitpid(sfs->writer_pid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		close(sfs->writer_fd);      /* our parent's writer: not ours to stop */
	}
	sfs->writer_fd = -1;
	sfs->writer_pid = 0;
}

/* A writer blocked in the kernel: kill it (it dies when the write returns)
 * and forget it; the next write starts another. */
static void writer_abandon(struct sysfs *sfs)
{
	kill(sfs->writer_pid, SIGKILL);
	waitpid(sfs->writer_pid, NULL, WNOHANG);
	close(sfs->writer_fd);
	sfs->writer_fd = -1;
	sfs->writer_pid = 0;
}

/* The writer's answer within timeout_ms: its result (and a read's data in
 * *rep), -ETIMEDOUT, or -EIO when it died. */
static int writer_reply(struct sysfs *sfs, int timeout_ms, struct writer_reply *rep)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = sfs->writer_fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			writer_abandon(sfs);
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;               /* the deadline is checked above */
		n = recv(sfs->writer_fd, rep, sizeof(*rep), 0);
		if (n >= (ssize_t)sizeof(rep->result)) {
			rep->data[sizeof(rep->data) - 1] = '\0';
			return rep->result;
		}
		if (n < 0 && errno == EINTR)
			continue;
		writer_stop(sfs);
		return -EIO;
	}
}

/* Send one request to the writer, started if need be. */
static int writer_send(struct sysfs *sfs, const char *req, size_t len)
{
	int err;

	if (sfs->writer_fd >= 0 && sfs->writer_owner != getpid())
		writer_stop(sfs);
	dev_forget(sfs);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (sfs->writer_fd < 0) {
			err = writer_start(sfs);
			if (err)
				return err;
		}
		if (send(sfs->writer_fd, req, len, MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		/* a writer that died between requests: nothing was done, start another */
		writer_stop(sfs);
	}
	return -EIO;
}

int sysfs_write_timed(struct sysfs *sfs, const char *rel, const char *val, int timeout_ms)
{
	char req[WRITER_MSG_MAX];
	size_t rlen = strlen(rel), vlen = strlen(val);
	struct writer_reply rep;
	int err;

	if (rlen + vlen + 3 > sizeof(req))
		return -ENAMETOOLONG;
	req[0] = WRITER_WRITE;
	memcpy(req + 1, rel, rlen + 1);
	memcpy(req + rlen + 2, val, vlen + 1);
	err = writer_send(sfs, req, rlen + vlen + 3);
	return err ? err : writer_reply(sfs, timeout_ms, &rep);
}

/* attr of each function, read by the writer in as few requests as fit; each
 * reply within the limit.  After a read that timed out (the writer is then
 * abandoned) the rest goes to a new writer. */
static void read_by_writer(struct sysfs *sfs, const struct pci_addr *addrs, size_t n,
			   const char *attr, char *bufs, size_t len, int *res)
{
	char req[WRITER_MSG_MAX], rel[256];
	struct writer_reply rep;
	size_t i = 0;

	while (i < n) {
		size_t used = 1, end = i;
		int err;

		req[0] = WRITER_READ;
		for (; end < n; end++) {
			size_t rlen;

			if (dev_rel(&addrs[end], attr, rel, sizeof(rel)))
				break;
			rlen = strlen(rel) + 1;
			if (used + rlen > sizeof(req))
				break;
			memcpy(req + used, rel, rlen);
			used += rlen;
		}
		if (end == i) {             /* a path that does not fit: cannot be */
			res[i++] = -ENAMETOOLONG;
			continue;
		}
		err = writer_send(sfs, req, used);
		for (; i < end; i++) {
			res[i] = err ? err : writer_reply(sfs, sfs->read_timeout_ms, &rep);
			if (res[i] >= 0)
				snprintf(bufs + i * len, len, "%s", rep.data);
			else
				bufs[i * len] = '\0';
			if (res[i] == -ETIMEDOUT || res[i] == -EIO) {
				i++;                /* that writer is gone: ask a new one */
				break;
			}
		}
	}
}

int sysfs_dev_write(struct sysfs *sfs, const struct pci_addr *a, const char *attr,
		    const char *val, int timeout_ms)
{
	char rel[256];
	int err = dev_rel(a, attr, rel, sizeof(rel));

	return err ? err : sysfs_write_timed(sfs, rel, val, timeout_ms);
}

int sysfs_probe(struct sysfs *sfs, const struct pci_addr *a, int timeout_ms)
{
	char ab[PCI_ADDR_LEN];

	return sysfs_write_timed(sfs, "bus/pci/drivers_probe", pci_addr_fmt(a, ab), timeout_ms);
}

int sysfs_valid_driver_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

int sysfs_driver_write_value(struct sysfs *sfs, const char *driver, const char *attr,
			     const char *val, int timeout_ms)
{
	char rel[256];

	if (!sysfs_valid_driver_name(driver))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/%s", driver, attr);
	return sysfs_write_timed(sfs, rel, val, timeout_ms);
}

int sysfs_driver_write(struct sysfs *sfs, const char *driver, const char *attr,
		       const struct pci_addr *a, int timeout_ms)
{
	char ab[PCI_ADDR_LEN];

	return sysfs_driver_write_value(sfs, driver, attr, pci_addr_fmt(a, ab), timeout_ms);
}
