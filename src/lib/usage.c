#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "usage.h"
#include "util.h"

#define NVIDIA_MAJOR 195
#define IFF_UP_FLAG 0x1

/* Grow-by-one for the small arrays of struct usage. */
static void *push(void *arr, size_t *n, size_t size)
{
	char *v = realloc(arr, (*n + 1) * size);

	if (!v)
		return NULL;
	memset(v + *n * size, 0, size);
	(*n)++;
	return v;
}

struct collect {
	struct sysfs *sfs;
	struct pci_addr fn;
	struct usage *u;
};

/* Where udev puts the node of a class device of this subsystem. */
static const char *node_dir(const char *subsystem)
{
	if (strcmp(subsystem, "drm") == 0)
		return "/dev/dri/";
	if (strcmp(subsystem, "sound") == 0)
		return "/dev/snd/";
	return "/dev/";
}

static int add_node(struct usage *u, const struct pci_addr *fn, dev_t dev,
		    const char *subsystem, const char *name)
{
	struct devnode *v = push(u->nodes, &u->nnodes, sizeof(*v));

	if (!v)
		return -ENOMEM;
	u->nodes = v;
	v += u->nnodes - 1;
	v->fn = *fn;
	v->dev = dev;
	snprintf(v->name, sizeof(v->name), "%s%s", node_dir(subsystem), name);
	return 0;
}

/* The interface's flags as the kernel writes them ("0x1003"); strtoul
 * alone would make 0 (down) of garbage. */
static bool parse_flags(const char *s, unsigned long *flags)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	*flags = strtoul(s, &end, 0);
	return !errno && !*end;
}

static int add_netif(struct collect *c, const struct sysfs_child *ch)
{
	struct netif *v = push(c->u->ifs, &c->u->nifs, sizeof(*v));
	char buf[64];
	unsigned long flags;

	if (!v)
		return -ENOMEM;
	c->u->ifs = v;
	v += c->u->nifs - 1;
	v->fn = c->fn;
	snprintf(v->name, sizeof(v->name), "%s", ch->name);
	/* IFF_UP is what the administrator set; operstate lags behind carrier */
	if (sysfs_child_read(c->sfs, &c->fn, ch->rel, "flags", buf, sizeof(buf)) > 0 &&
	    parse_flags(buf, &flags)) {
		v->up = flags & IFF_UP_FLAG;
	} else if (sysfs_child_read(c->sfs, &c->fn, ch->rel, "operstate", buf, sizeof(buf)) > 0) {
		v->up = strcmp(buf, "up") == 0;
	}
	return 0;
}

static int add_disk(struct collect *c, const struct sysfs_child *ch)
{
	struct blockdev *v = push(c->u->disks, &c->u->ndisks, sizeof(*v));

	if (!v)
		return -ENOMEM;
	c->u->disks = v;
	v += c->u->ndisks - 1;
	v->fn = c->fn;
	v->dev = ch->dev;
	snprintf(v->name, sizeof(v->name), "%s", ch->name);
	return 0;
}

static int collect_child(const struct sysfs_child *ch, void *data)
{
	struct collect *c = data;

	if (strcmp(ch->subsystem, "net") == 0)
		return add_netif(c, ch);
	if (strcmp(ch->subsystem, "block") == 0 && ch->has_dev)
		return add_disk(c, ch);
	/* character nodes a process can hold: DRM, ALSA, and the like */
	if (ch->has_dev)
		return add_node(c->u, &c->fn, ch->dev, ch->subsystem, ch->name);
	return 0;
}

/* The NVIDIA driver has no class device: its minor is in procfs. */
static int add_nvidia_node(const char *procroot, const struct pci_addr *fn, struct usage *u)
{
	char path[4096], line[256], ab[PCI_ADDR_LEN], name[32];
	unsigned minor;
	int found = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/driver/nvidia/gpus/%s/information", procroot,
		 pci_addr_fmt(fn, ab));
	fp = fopen(path, "re");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "Device Minor: %u", &minor) == 1) {
			found = 1;
			break;
		}
	fclose(fp);
	if (!found)
		return 0;
	snprintf(name, sizeof(name), "nvidia%u", minor);
	return add_node(u, fn, makedev(NVIDIA_MAJOR, minor), "nvidia", name);
}

int usage_collect(struct sysfs *sfs, const char *procroot, const struct pci_addr *fns,
		  size_t nfns, struct usage *u)
{
	int err = 0;

	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < nfns && !err; i++) {
		struct collect c = { .sfs = sfs, .fn = fns[i], .u = u };

		err = sysfs_walk_children(sfs, &fns[i], collect_child, &c);
		if (err == -ENOENT)      /* the function went away: nothing below it */
			err = 0;
		if (!err && procroot)
			err = add_nvidia_node(procroot, &fns[i], u);
	}
	if (err)
		usage_free(u);
	return err;
}

void usage_free(struct usage *u)
{
	free(u->nodes);
	free(u->disks);
	free(u->ifs);
	memset(u, 0, sizeof(*u));
}

static void read_comm(int procfd, const char *pidname, char *comm, size_t len)
{
	char rel[300];
	ssize_t n = -1;
	int fd;

	snprintf(rel, sizeof(rel), "%s/comm", pidname);
	fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(comm, len, "?");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

static const struct devnode *match_node(const struct usage *u, dev_t rdev)
{
	for (size_t i = 0; i < u->nnodes; i++)
		if (u->nodes[i].dev == rdev)
			return &u->nodes[i];
	return NULL;
}

static int add_holder(struct holder **out, size_t *nout, int procfd, const char *pidname,
		      const struct devnode *node)
{
	pid_t pid = (pid_t)atoi(pidname);
	struct holder *v;

	/* one line per process and node, however many descriptors */
	for (size_t i = 0; i < *nout; i++)
		if ((*out)[i].pid == pid &&
		    pci_addr_cmp(&(*out)[i].fn, &node->fn) == 0 &&
		    strcmp((*out)[i].node, node->name) == 0)
			return 0;
	v = push(*out, nout, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*out = v;
	v += *nout - 1;
	v->fn = node->fn;
	v->pid = pid;
	snprintf(v->node, sizeof(v->node), "%s", node->name);
	read_comm(procfd, pidname, v->comm, sizeof(v->comm));
	return 0;
}

/* Every descriptor of one process; -EACCES when we may not look.  One
 * open per process: a host has hundreds, kernel threads included. */
static int scan_process(int procfd, bool whole, const char *pidname, const struct usage *u,
			struct holder **out, size_t *nout)
{
	const struct dirent64 *de;
	struct dir_iter it;
	char rel[300], target[64];
	struct stat st;
	int fdfd, err = 0;

	snprintf(rel, sizeof(rel), "%s/fd", pidname);
	fdfd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (whole)
		dir_iter_init_whole(&it, fdfd);
	else
		dir_iter_init(&it, fdfd);
	while (!err && (de = dir_iter_next(&it))) {
		const struct devnode *node;
		ssize_t n;

		/* the link's text costs the file's filesystem nothing; a stat
		 * would ask it, and a hung mount never answers */
		n = readlinkat(fdfd, de->d_name, target, sizeof(target) - 1);
		if (n < 5 || memcmp(target, "/dev/", 5) != 0)
			continue;
		/* stat follows the magic link to the open file itself */
		if (fstatat(fdfd, de->d_name, &st, 0) < 0 || !S_ISCHR(st.st_mode))
			continue;
		node = match_node(u, st.st_rdev);
		if (node)
			err = add_holder(out, nout, procfd, pidname, node);
	}
	/* a process that exits while we read is no holder */
	if (!err && errno && errno != ENOENT && errno != ESRCH)
		err = -errno;
	close(fdfd);
	return err;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int usage_find_holders(const char *procroot, const struct usage *u,
		       struct holder **out, size_t *nout, struct holder_scan *scan)
{
	struct holder_scan none = { 0 };
	const struct dirent64 *de;
	struct dir_iter it;
	struct statfs fs;
	int procfd, err = 0;
	bool whole;

	if (!scan)
		scan = &none;
	*out = NULL;
	*nout = 0;
	scan->uninspected = scan->unscanned = 0;
	if (!u->nnodes)
		return 0;
	procfd = open(procroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	/* procfs gives a directory whole in one read where it fits */
	whole = fstatfs(procfd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
	if (whole)
		dir_iter_init_whole(&it, procfd);
	else
		dir_iter_init(&it, procfd);
	while (!err && (de = dir_iter_next(&it))) {
		if (!all_digits(de->d_name))
			continue;
		/* past the limit the rest is counted, not read */
		if (scan->deadline_ms && monotonic_ms() >= scan->deadline_ms) {
			scan->unscanned++;
			continue;
		}
		err = scan_process(procfd, whole, de->d_name, u, out, nout);
		if (err == -EACCES || err == -EPERM) {
			scan->uninspected++;
			err = 0;
		}
	}
	if (!err && errno)
		err = -errno;
	close(procfd);
	if (err) {
		free(*out);
		*out = NULL;
		*nout = 0;
	}
	return err;
}

/* mountinfo: "36 35 98:0 /mnt1 /mnt2 rw ..." */
static void find_mount(const char *procroot, struct blockdev *b)
{
	char path[4096], line[4096], mnt[256];
	unsigned maj, min;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/self/mountinfo", procroot);
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "%*d %*d %u:%u %*s %255s", &maj, &min, mnt) == 3 &&
		    makedev(maj, min) == b->dev) {
			snprintf(b->use, sizeof(b->use), "mounted on %s", mnt);
			break;
		}
	fclose(fp);
}

static void find_swap(const char *procroot, struct blockdev *b)
{
	char path[4096], line[1024], dev[512];
	const char *base;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/swaps", procroot);
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%511s", dev) != 1 || dev[0] != '/')
			continue;
		base = strrchr(dev, '/') + 1;
		if (strcmp(base, b->name) == 0) {
			snprintf(b->use, sizeof(b->use), "in use as swap");
			break;
		}
	}
	fclose(fp);
}

int usage_disk_use(struct sysfs *sfs, const char *procroot, struct usage *u)
{
	for (size_t i = 0; i < u->ndisks; i++) {
		struct blockdev *b = &u->disks[i];

		b->use[0] = '\0';
		if (procroot) {
			find_mount(procroot, b);
			if (!b->use[0])
				find_swap(procroot, b);
		}
		if (!b->use[0]) {
			char holder[64];

			/* device-mapper or md on top: the disk is in use whatever is mounted */
			if (sysfs_block_holder(sfs, &b->fn, b->name, holder, sizeof(holder)) > 0)
				snprintf(b->use, sizeof(b->use), "held by %s", holder);
		}
	}
	return 0;
}

int usage_vfio_group_holders(const char *devdir, const char *procroot, int group,
			     struct holder **out, size_t *nout, struct holder_scan *scan)
{
	struct devnode node = { 0 };
	struct usage u = { .nodes = &node, .nnodes = 1 };
	struct stat st;

	*out = NULL;
	*nout = 0;
	snprintf(node.name, sizeof(node.name), "%s/vfio/%d", devdir, group);
	if (stat(node.name, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0;               /* no group node: nobody can hold it */
	node.dev = st.st_rdev;
	return usage_find_holders(procroot, &u, out, nout, scan);
}

/* The group node of f's IOMMU group, once per group, as a devnode of u. */
static int add_group_node(struct usage *u, const char *devdir, const struct pci_func *f)
{
	struct devnode *v;
	struct stat st;
	char path[sizeof(v->name)];

	snprintf(path, sizeof(path), "%s/vfio/%d", devdir, f->iommu_group);
	for (size_t k = 0; k < u->nnodes; k++)
		if (strcmp(u->nodes[k].name, path) == 0)
			return 0;
	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0;               /* no group node: nobody can hold it */
	v = push(u->nodes, &u->nnodes, sizeof(*v));
	if (!v)
		return -ENOMEM;
	u->nodes = v;
	v += u->nnodes - 1;
	v->fn = f->addr;
	v->dev = st.st_rdev;
	snprintf(v->name, sizeof(v->name), "%s", path);
	return 0;
}

int usage_vm_holders(const struct pci_host *h, const struct pci_addr *fns, size_t n,
		     const char *devdir, const char *procroot, struct holder **out, size_t *nout,
		     struct holder_scan *scan)
{
	struct usage u = { 0 };
	int err = 0;

	*out = NULL;
	*nout = 0;
	for (size_t i = 0; i < n && !err; i++) {
		const struct pci_func *f = pci_host_find(h, &fns[i]);

		if (f && f->iommu_group >= 0)
			err = add_group_node(&u, devdir, f);
	}
	/* every group in one pass over the processes */
	if (!err)
		err = usage_find_holders(procroot, &u, out, nout, scan);
	usage_free(&u);
	return err;
}
