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
#include "writer.h"

struct sysfs {
	int rootfd;
	bool live;                  /* a sysfs filesystem: the running kernel's */
	char root[4096];
	const struct sysfs_ops *ops;
	void *priv;                 /* for a wrapping backend */
	/* the directory of the function read last: reading its attributes
	 * relative to it spares resolving bus/pci/devices/<addr> each time */
	struct pci_addr dev_addr;
	int dev_fd;
	/* a descriptor the backend's writes need, kept open in the writer */
	int backend_fd;
	/* limit for reads that wait on the device's lock (driver_override) */
	int read_timeout_ms;
	/* the child that makes the writes, started on the first; in that
	 * child itself, in_writer: its reads are its own */
	struct writer *writer;
	bool in_writer;
	/* what sysfs_driver_vfio found of each driver asked about: a driver
	 * stays what it is while its module is loaded */
	struct { char name[64]; signed char kind; } vfio_seen[16];
	unsigned nvfio_seen;
};

#define WALK_MAX_DEPTH 8

/* The running kernel's sysfs fills a read of a directory as far as its
 * entries go (dir_iter_init_whole); a captured tree may be any filesystem. */
static void dir_iter_start(const struct sysfs *sfs, struct dir_iter *it, int fd)
{
	if (sfs->live)
		dir_iter_init_whole(it, fd);
	else
		dir_iter_init(it, fd);
}

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

static int default_read(struct sysfs *sfs, const struct pci_addr *fn, int dirfd, const char *rel,
			char *buf, size_t len)
{
	int fd, err = 0;
	ssize_t n;

	(void)fn;
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
	sfs->backend_fd = -1;
	sfs->read_timeout_ms = 10000;
	sfs->ops = &sysfs_default_ops;
	*out = sfs;
	return 0;
fail:
	free(sfs);
	return err;
}

void sysfs_set_backend(struct sysfs *sfs, const struct sysfs_ops *ops, void *priv, int backend_fd)
{
	/* the writer runs the backend it was started with */
	writer_free(sfs->writer);
	sfs->writer = NULL;
	sfs->ops = ops ? ops : &sysfs_default_ops;
	sfs->priv = priv;
	sfs->backend_fd = backend_fd;
}

void sysfs_close(struct sysfs *sfs)
{
	if (!sfs)
		return;
	writer_free(sfs->writer);
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

/* ---- the writer: a child that makes the writes (writer.h) ---- */

static int job_write(void *ctx, const char *rel, const char *val)
{
	struct sysfs *sfs = ctx;
	int err;

	/* this is the child's copy: what its backend reads, it reads itself,
	 * through no cached directory of the parent's */
	sfs->in_writer = true;
	dev_forget(sfs);
	err = sfs->ops->write(sfs, rel, val);
	dev_forget(sfs);
	return err;
}

static int job_read(void *ctx, const char *rel, char *buf, size_t len)
{
	struct sysfs *sfs = ctx;

	sfs->in_writer = true;
	return sfs->ops->read(sfs, NULL, sfs->rootfd, rel, buf, len);
}

/* The writer of this handle, made on first use. */
static struct writer *writer_of(struct sysfs *sfs)
{
	struct writer_job job = {
		.write = job_write, .read = job_read, .ctx = sfs,
		.keep = { sfs->rootfd, sfs->backend_fd }, .nkeep = 2,
	};

	if (!sfs->writer)
		sfs->writer = writer_new(&job);
	/* the child starts from this process's state: no open directory */
	dev_forget(sfs);
	return sfs->writer;
}

int sysfs_writer_start(struct sysfs *sfs)
{
	struct writer *w = writer_of(sfs);

	return w ? writer_start(w) : -ENOMEM;
}

int sysfs_write_timed(struct sysfs *sfs, const char *rel, const char *val, int timeout_ms)
{
	struct writer *w = writer_of(sfs);

	return w ? writer_write(w, rel, val, timeout_ms) : -ENOMEM;
}

/* attr of each function, read by the writer, each within the limit. */
static void read_by_writer(struct sysfs *sfs, const struct pci_addr *addrs, size_t n,
			   const char *attr, char *bufs, size_t len, int *res)
{
	struct writer *w = writer_of(sfs);
	char (*rels)[96] = calloc(n ? n : 1, sizeof(*rels));
	const char **ptrs = calloc(n ? n : 1, sizeof(*ptrs));

	if (!w || !rels || !ptrs) {
		for (size_t i = 0; i < n; i++) {
			res[i] = -ENOMEM;
			bufs[i * len] = '\0';
		}
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (dev_rel(&addrs[i], attr, rels[i], sizeof(rels[i])))
			rels[i][0] = '\0';
		ptrs[i] = rels[i];
	}
	writer_read_each(w, ptrs, n, bufs, len, res, sfs->read_timeout_ms);
out:
	free(rels);
	free(ptrs);
}

int sysfs_writer_pid(const struct sysfs *sfs)
{
	return sfs->writer ? writer_pid(sfs->writer) : 0;
}

bool sysfs_is_live(const struct sysfs *sfs)
{
	return sfs->live;
}

const char *sysfs_root(const struct sysfs *sfs)
{
	return sfs->root;
}

void sysfs_set_read_timeout(struct sysfs *sfs, int ms)
{
	sfs->read_timeout_ms = ms;
}

void *sysfs_backend_priv(const struct sysfs *sfs)
{
	return sfs->priv;
}

/* Some kernels show driver_override (6.1) or uevent (some stable kernels)
 * under the device's lock, which a blocked unbind holds (ours, abandoned,
 * or anyone's): on a live tree, and on a backend that emulates one, the
 * writer reads them, within the limit, so the tool itself never waits on
 * them.  The writer's own reads are its own. */
bool sysfs_read_by_writer(const struct sysfs *sfs, const char *attr)
{
	return (sfs->live || sfs->ops->locked_reads) && !sfs->in_writer &&
	       (strcmp(attr, "driver_override") == 0 || strcmp(attr, "uevent") == 0);
}

int sysfs_clone(const struct sysfs *sfs, struct sysfs **out)
{
	struct sysfs *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	*c = *sfs;
	c->dev_fd = -1;
	c->writer = NULL;
	c->rootfd = fcntl(sfs->rootfd, F_DUPFD_CLOEXEC, 3);
	if (c->rootfd < 0) {
		int err = -errno;

		free(c);
		return err;
	}
	*out = c;
	return 0;
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
	return fd < 0 ? fd : sfs->ops->read(sfs, a, fd, attr, buf, len);
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

/* Is module/<rel> there (links followed, inside the tree)? */
static bool module_has(struct sysfs *sfs, const char *rel)
{
	char path[256];
	int fd;

	if (snprintf(path, sizeof(path), "module/%s", rel) >= (int)sizeof(path))
		return false;
	fd = root_open(sfs->rootfd, path, O_PATH, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The kernel's answer, driver by driver: vfio-pci itself (its name is
 * vfio-pci's on the PCI bus), or a driver whose module is vfio_pci or is a
 * holder of vfio_pci_core, as every VFIO variant driver is.  Where
 * vfio_pci_core is built in there are no holders to read: the device is
 * asked (SYSFS_VFIO_ASK). */
static enum sysfs_vfio driver_vfio(struct sysfs *sfs, const char *driver)
{
	char mod[64], rel[128];
	int err;

	if (strcmp(driver, "vfio-pci") == 0)
		return SYSFS_VFIO_YES;
	err = sysfs_driver_module(sfs, driver, mod, sizeof(mod));
	if (!err && strcmp(mod, "vfio_pci") == 0)
		return SYSFS_VFIO_YES;
	if (module_has(sfs, "vfio_pci_core/holders")) {
		/* a module: a holder or not; built in: it cannot hold a module */
		if (err || snprintf(rel, sizeof(rel), "vfio_pci_core/holders/%s", mod) >= (int)sizeof(rel))
			return SYSFS_VFIO_NO;
		return module_has(sfs, rel) ? SYSFS_VFIO_YES : SYSFS_VFIO_NO;
	}
	return module_has(sfs, "vfio_pci_core") ? SYSFS_VFIO_ASK : SYSFS_VFIO_NO;
}

enum sysfs_vfio sysfs_driver_vfio(struct sysfs *sfs, const char *driver)
{
	enum sysfs_vfio kind;
	unsigned i;

	if (!driver[0] || !sysfs_valid_driver_name(driver))
		return SYSFS_VFIO_NO;
	for (i = 0; i < sfs->nvfio_seen; i++)
		if (strcmp(sfs->vfio_seen[i].name, driver) == 0)
			return (enum sysfs_vfio)sfs->vfio_seen[i].kind;
	kind = driver_vfio(sfs, driver);
	if (strlen(driver) < sizeof(sfs->vfio_seen[0].name)) {
		i = sfs->nvfio_seen < ARRAY_SIZE(sfs->vfio_seen) ? sfs->nvfio_seen++ :
		    ARRAY_SIZE(sfs->vfio_seen) - 1;
		snprintf(sfs->vfio_seen[i].name, sizeof(sfs->vfio_seen[i].name), "%s", driver);
		sfs->vfio_seen[i].kind = (signed char)kind;
	}
	return kind;
}

int sysfs_module_pci_driver(struct sysfs *sfs, const char *module, char *buf, size_t len)
{
	const struct dirent64 *de;
	struct dir_iter it;
	char rel[128], best[64] = "";
	int fd;

	if (!sysfs_valid_driver_name(module) ||
	    snprintf(rel, sizeof(rel), "module/%s/drivers", module) >= (int)sizeof(rel))
		return -EINVAL;
	fd = root_open(sfs->rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	dir_iter_start(sfs, &it, fd);
	/* "pci:NAME"; of several (no module of the kernel's has two), the first by name */
	while ((de = dir_iter_next(&it)))
		if (strncmp(de->d_name, "pci:", 4) == 0 && sysfs_valid_driver_name(de->d_name + 4) &&
		    strlen(de->d_name + 4) < sizeof(best) &&
		    (!best[0] || strcmp(de->d_name + 4, best) < 0))
			snprintf(best, sizeof(best), "%s", de->d_name + 4);
	close(fd);
	if (!best[0])
		return -ENOENT;
	return snprintf(buf, len, "%s", best) >= (int)len ? -ENAMETOOLONG : 0;
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

/* The PCI addresses named in the open directory fd, in its order; closes fd. */
static int read_addrs(const struct sysfs *sfs, int fd, struct pci_addr **out, size_t *n)
{
	struct pci_addr *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	const struct dirent64 *de;
	struct dir_iter it;
	int err = 0;

	dir_iter_start(sfs, &it, fd);
	while ((de = dir_iter_next(&it))) {
		struct pci_addr a;

		if (pci_addr_parse(de->d_name, &a))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt++] = a;
	}
	if (!err && errno)
		err = -errno;
	close(fd);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sysfs_list_devices(struct sysfs *sfs, struct pci_addr **out, size_t *n)
{
	int fd = open_dir_at(sfs, "bus/pci/devices"), err;

	if (fd < 0)
		return fd;
	err = read_addrs(sfs, fd, out, n);
	if (!err && *n)
		qsort(*out, *n, sizeof(**out), addr_cmp_qsort);
	return err;
}

int sysfs_group_members(struct sysfs *sfs, int group, struct pci_addr **out, size_t *n)
{
	char rel[64];
	int fd;

	*out = NULL;
	*n = 0;
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", group);
	fd = open_dir_at(sfs, rel);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	return read_addrs(sfs, fd, out, n);
}

int sysfs_count_iommu_groups(struct sysfs *sfs)
{
	struct dir_iter it;
	int n = 0, fd = open_dir_at(sfs, "kernel/iommu_groups");

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	dir_iter_start(sfs, &it, fd);
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
	dir_iter_start(sfs, &it, fd);
	while ((de = dir_iter_next(&it))) {
		snprintf(rel, sizeof(rel), "bus/pci/slots/%s/address", de->d_name);
		if (sfs->ops->read(sfs, NULL, sfs->rootfd, rel, val, sizeof(val)) > 0 &&
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
	dir_iter_start(w->sfs, it, dfd);
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
