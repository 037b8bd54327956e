/* Emulated Linux PCI sysfs trees: see fixture.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX_PATH PATH_MAX
#define MODALIAS_FMT "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X"

struct fx_dev {
	char addr[16];
	char *path;		/* function dir, relative to ROOT */
	char *driver;		/* NULL: unbound */
	int parent;		/* index into fx->devs, -1: root bus */
	int group;
	unsigned vendor, device, subvendor, subdevice, class, revision;
	unsigned bus, sec, sub;	/* sec/sub: bridges only */
	bool bridge, mf;
	bool no_uevent;		/* an identity attribute was garbled: no uevent */
};

struct fx {
	char *root;
	int rootfd;
	bool owned;
	struct fx_dev *devs;
	size_t ndevs, cap;
	unsigned ifindex, ata, host;
};

/* ------------------------------------------------------------------ */
/* paths and files                                                     */

static int __attribute__((format(printf, 2, 3)))
fmt_path(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, FX_PATH, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return n >= FX_PATH ? -ENAMETOOLONG : 0;
}

static bool valid_name(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..") && strlen(s) <= NAME_MAX && !strchr(s, '\n');
}

/* A relative path whose components are all valid names. */
static bool valid_relpath(const char *s)
{
	size_t n;

	if (!s || !*s || *s == '/')
		return false;
	for (;;) {
		n = strcspn(s, "/");
		if (!n || n > NAME_MAX || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!s[n])
			return true;
		s += n + 1;
	}
}

/* mkdir -p below ROOT, cheap when the parents exist already */
static int mkdirs(struct fx *fx, const char *rel)
{
	char parent[FX_PATH];
	char *slash;
	int r;

	if (!mkdirat(fx->rootfd, rel, 0755) || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	if ((r = fmt_path(parent, "%s", rel)))
		return r;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -ENOENT;
	*slash = '\0';
	if ((r = mkdirs(fx, parent)))
		return r;
	if (mkdirat(fx->rootfd, rel, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_file(struct fx *fx, const char *rel, const void *data,
		      size_t len, bool trunc)
{
	const char *p = data;
	ssize_t n;
	int fd, r = 0;

	fd = openat(fx->rootfd, rel, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC | (trunc ? O_TRUNC : 0), 0644);
	if (fd < 0)
		return -errno;
	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) && !r)
		r = -errno;
	return r;
}

/* Writes dir/name with formatted content. */
static int __attribute__((format(printf, 4, 5)))
attrf(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
{
	char path[FX_PATH], buf[1024];
	va_list ap;
	int n, r;

	if ((r = fmt_path(path, "%s/%s", dir, name)))
		return r;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -E2BIG;
	return write_file(fx, path, buf, (size_t)n, true);
}

/* Creates dir/name empty if missing, leaving existing content alone. */
static int touch(struct fx *fx, const char *dir, const char *name)
{
	char path[FX_PATH];
	int r;

	if ((r = fmt_path(path, "%s/%s", dir, name)))
		return r;
	return write_file(fx, path, "", 0, false);
}

/*
 * The link text kernfs writes for a link at `link` to `target` (both
 * relative to ROOT): up from the link's directory to the deepest common
 * ancestor of the link's directory and the target's parent, then down.
 */
static int rel_target(char *out, const char *link, const char *target)
{
	const char *ld = strrchr(link, '/'), *td = strrchr(target, '/');
	const char *l = link, *t = target;
	size_t n, len = 0;

	ld = ld ? ld : link;
	td = td ? td : target;
	while (l < ld && t < td) {
		n = strcspn(l, "/");
		if (n != strcspn(t, "/") || memcmp(l, t, n))
			break;
		l += n + 1;
		t += n + 1;
	}
	out[0] = '\0';
	for (; l < ld; l += strcspn(l, "/") + 1) {
		if (len + 3 >= FX_PATH)
			return -ENAMETOOLONG;
		memcpy(out + len, "../", 4);
		len += 3;
	}
	if (len + strlen(t) >= FX_PATH)
		return -ENAMETOOLONG;
	strcpy(out + len, t);
	return 0;
}

/* Creates (or replaces) the symlink `link` pointing at `target`. */
static int link_rel(struct fx *fx, const char *link, const char *target)
{
	char rel[FX_PATH];
	int r;

	if ((r = rel_target(rel, link, target)))
		return r;
	if (!symlinkat(rel, fx->rootfd, link))
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (unlinkat(fx->rootfd, link, 0))
		return -errno;
	return symlinkat(rel, fx->rootfd, link) ? -errno : 0;
}

static int __attribute__((format(printf, 3, 4)))
linkf(struct fx *fx, const char *target, const char *fmt, ...)
{
	char link[FX_PATH];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(link, sizeof(link), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= FX_PATH)
		return -ENAMETOOLONG;
	return link_rel(fx, link, target);
}

static int unlink_quiet(struct fx *fx, const char *rel)
{
	if (unlinkat(fx->rootfd, rel, 0) && errno != ENOENT)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------------ */
/* tree lifetime                                                       */

static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP || type == FTW_DNR)
		rmdir(path);
	else
		unlink(path);
	return 0;	/* best effort: keep going */
}

static int rm_tree(const char *root)
{
	return nftw(root, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ?
	       -errno : 0;
}

static int mkdir_parents(const char *dir)
{
	char buf[FX_PATH];
	char *p;
	int r;

	if ((r = fmt_path(buf, "%s", dir)))
		return r;
	for (p = strchr(buf + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (*buf && mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		if (!p)
			return 0;
		*p = '/';
	}
}

static int check_empty(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			r = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return r;
}

static int use_dir(struct fx *fx, const char *dir)
{
	int r;

	if ((r = mkdir_parents(dir)) || (r = check_empty(dir)))
		return r;
	fx->root = realpath(dir, NULL);
	return fx->root ? 0 : -errno;
}

static int make_tmp(struct fx *fx)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl;
	int r = 0;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (asprintf(&tmpl, "%s/vfio-fx.XXXXXX", tmp) < 0)
		return -ENOMEM;
	if (!mkdtemp(tmpl)) {
		r = -errno;
		goto out;
	}
	fx->owned = true;
	fx->root = realpath(tmpl, NULL);
	if (!fx->root) {
		r = -errno;
		rmdir(tmpl);
		fx->owned = false;
	}
out:
	free(tmpl);
	return r;
}

static int skeleton(struct fx *fx)
{
	static const char *const dirs[] = {
		"devices/pci0000:00", "bus/pci/devices", "bus/pci/drivers",
		"bus/pci/slots", "kernel/iommu_groups", "class/drm",
		"class/sound", "class/net", "class/block", "block", "module",
		NULL,
	};
	const char *const *d;
	int r;

	for (d = dirs; *d; d++)
		if ((r = mkdirs(fx, *d)))
			return r;
	if ((r = touch(fx, "bus/pci", "drivers_probe")) ||
	    (r = touch(fx, "bus/pci", "rescan")))
		return r;
	return attrf(fx, "bus/pci", "drivers_autoprobe", "1\n");
}

struct fx *fx_new(const char *dir)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int r;

	if (!fx)
		return NULL;
	fx->rootfd = -1;
	fx->ifindex = 2;	/* 1 is lo */
	fx->ata = 1;
	r = dir ? use_dir(fx, dir) : make_tmp(fx);
	if (r)
		goto fail;
	fx->rootfd = open(fx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fx->rootfd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = skeleton(fx)))
		goto fail;
	return fx;
fail:
	fx_free(fx);
	errno = -r;
	return NULL;
}

const char *fx_root(const struct fx *fx)
{
	return fx ? fx->root : NULL;
}

int fx_rootfd(const struct fx *fx)
{
	return fx->rootfd;
}

void fx_free(struct fx *fx)
{
	size_t i;

	if (!fx)
		return;
	if (fx->rootfd >= 0)
		close(fx->rootfd);
	if (fx->owned && fx->root)
		rm_tree(fx->root);
	for (i = 0; i < fx->ndevs; i++) {
		free(fx->devs[i].path);
		free(fx->devs[i].driver);
	}
	free(fx->devs);
	free(fx->root);
	free(fx);
}

size_t fx_count(const struct fx *fx)
{
	return fx ? fx->ndevs : 0;
}

/* ------------------------------------------------------------------ */
/* functions                                                           */

static int find_idx(const struct fx *fx, const char *addr)
{
	size_t i;

	if (!addr)
		return -1;
	for (i = 0; i < fx->ndevs; i++)
		if (!strcmp(fx->devs[i].addr, addr))
			return (int)i;
	return -1;
}

static struct fx_dev *find(const struct fx *fx, const char *addr)
{
	int i = fx ? find_idx(fx, addr) : -1;

	return i < 0 ? NULL : &fx->devs[i];
}

static bool is_lxdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "dddd:bb:dd.f", lowercase hex as the kernel prints it */
static int parse_addr(const char *a, unsigned *bus)
{
	static const char pat[] = "xxxx:xx:xx.x";
	unsigned dom, dev, fn;
	size_t i;

	if (!a)
		return -EINVAL;
	for (i = 0; pat[i]; i++)
		if (pat[i] == 'x' ? !is_lxdigit(a[i]) : a[i] != pat[i])
			return -EINVAL;
	if (a[i] || sscanf(a, "%4x:%2x:%2x.%1x", &dom, bus, &dev, &fn) != 4)
		return -EINVAL;
	return dev > 0x1f || fn > 7 ? -EINVAL : 0;
}

/* VFIO drivers: their module holds vfio_pci_core, as in the kernel. */
static const char *const vfio_modules[][2] = {
	{ "vfio-pci", "vfio_pci" },
	{ "nvgrace_gpu_vfio_pci", "nvgrace_gpu_vfio_pci" },
	{ "mlx5_vfio_pci", "mlx5_vfio_pci" },
	/* tests/vm/variant: module and driver named apart */
	{ "vh-variant-vfio-pci", "vh_variant_vfio" },
};

static bool is_vfio_module(const char *mod)
{
	for (size_t i = 0; i < sizeof(vfio_modules) / sizeof(vfio_modules[0]); i++)
		if (!strcmp(mod, vfio_modules[i][1]))
			return true;
	return false;
}

static const char *module_of(const char *drv, char *buf, size_t len)
{
	static const char *const map[][2] = {
		{ "pcieport", NULL },		/* built in */
		{ "xhci_hcd", "xhci_pci" },
		{ "nvidia-gpu", "i2c_nvidia_gpu" },
		{ "vh-variant-vfio-pci", "vh_variant_vfio" },
	};
	size_t i;
	char *p;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(drv, map[i][0]))
			return map[i][1];
	if (strlen(drv) >= len)
		return NULL;
	strcpy(buf, drv);
	for (p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
	return buf;
}

static int add_module(struct fx *fx, const char *drvdir, const char *drv)
{
	char mbuf[NAME_MAX + 1], m[FX_PATH], drivers[FX_PATH];
	const char *mod = module_of(drv, mbuf, sizeof(mbuf));
	int r;

	if (!mod)
		return 0;
	if ((r = fmt_path(m, "module/%s", mod)) ||
	    (r = fmt_path(drivers, "%s/drivers", m)) ||
	    (r = mkdirs(fx, drivers)) ||
	    (r = linkf(fx, drvdir, "%s/pci:%s", drivers, drv)) ||
	    (r = linkf(fx, m, "%s/module", drvdir)))
		return r;
	if ((r = attrf(fx, m, "initstate", "live\n")) ||
	    (r = attrf(fx, m, "refcnt", "0\n")))
		return r;
	if (!is_vfio_module(mod))
		return 0;
	/* module/vfio_pci_core/holders/<mod> -> ../../<mod> */
	if ((r = mkdirs(fx, "module/vfio_pci_core/holders")))
		return r;
	return linkf(fx, m, "module/vfio_pci_core/holders/%s", mod);
}

static int ensure_driver(struct fx *fx, const char *drv)
{
	static const char *const files[] = {
		"bind", "unbind", "new_id", "remove_id", "uevent", NULL,
	};
	const char *const *f;
	char d[FX_PATH];
	int r;

	if (!valid_name(drv))
		return -EINVAL;
	if ((r = fmt_path(d, "bus/pci/drivers/%s", drv)) ||
	    (r = mkdirs(fx, "bus/pci/drivers")))
		return r;
	if (mkdirat(fx->rootfd, d, 0755))
		return errno == EEXIST ? 0 : -errno;	/* loaded already */
	for (f = files; *f; f++)
		if ((r = touch(fx, d, *f)))
			return r;
	return add_module(fx, d, drv);
}

static int bind_dev(struct fx *fx, struct fx_dev *d)
{
	char drv[FX_PATH];
	int r;

	if ((r = ensure_driver(fx, d->driver)) ||
	    (r = fmt_path(drv, "bus/pci/drivers/%s", d->driver)) ||
	    (r = linkf(fx, drv, "%s/driver", d->path)))
		return r;
	return linkf(fx, d->path, "%s/%s", drv, d->addr);
}

/* The driver is read from the tree, not from d->driver: the emulated kernel
 * of the engine tests rebinds from forked children, whose copy of the
 * records the parent never sees. */
static int unbind_dev(struct fx *fx, struct fx_dev *d)
{
	char p[FX_PATH], target[FX_PATH], *drv;
	ssize_t n;
	int r;

	if ((r = fmt_path(p, "%s/driver", d->path)))
		return r;
	n = readlinkat(fx->rootfd, p, target, sizeof(target) - 1);
	if ((r = unlink_quiet(fx, p)))
		return r;
	if (n <= 0)
		return 0;
	target[n] = '\0';
	drv = strrchr(target, '/');
	if ((r = fmt_path(p, "bus/pci/drivers/%s/%s", drv ? drv + 1 : target, d->addr)))
		return r;
	return unlink_quiet(fx, p);
}

/* kernel/iommu_groups/N with its attributes, unless it exists already */
static int ensure_group(struct fx *fx, const char *g, const char *devs)
{
	int r;

	if (mkdirat(fx->rootfd, g, 0755))
		return errno == EEXIST ? mkdirs(fx, devs) : -errno;
	if ((r = mkdirs(fx, devs)) ||
	    (r = attrf(fx, g, "type", "DMA-FQ\n")))
		return r;
	return attrf(fx, g, "reserved_regions",
		     "0x00000000fee00000 0x00000000feefffff msi\n");
}

static int group_add(struct fx *fx, struct fx_dev *d)
{
	char g[FX_PATH], devs[FX_PATH];
	int r;

	if ((r = fmt_path(g, "kernel/iommu_groups/%d", d->group)) ||
	    (r = fmt_path(devs, "%s/devices", g)) ||
	    (r = ensure_group(fx, g, devs)) ||
	    (r = linkf(fx, d->path, "%s/%s", devs, d->addr)))
		return r;
	return linkf(fx, g, "%s/iommu_group", d->path);
}

static void put16(unsigned char *c, unsigned off, unsigned v)
{
	c[off] = v & 0xff;
	c[off + 1] = (v >> 8) & 0xff;
}

/* 256 bytes of conventional config space: enough for lspci and tree view. */
static int write_config(struct fx *fx, const struct fx_dev *d)
{
	unsigned char c[256] = { 0 };
	char p[FX_PATH];
	int r;

	put16(c, 0x00, d->vendor);
	put16(c, 0x02, d->device);
	put16(c, 0x04, 0x0006);
	c[0x08] = d->revision & 0xff;
	c[0x09] = d->class & 0xff;
	c[0x0a] = (d->class >> 8) & 0xff;
	c[0x0b] = (d->class >> 16) & 0xff;
	c[0x0e] = (d->bridge ? 0x01 : 0x00) | (d->mf ? 0x80 : 0x00);
	if (d->bridge) {
		c[0x18] = d->bus & 0xff;
		c[0x19] = d->sec & 0xff;
		c[0x1a] = d->sub & 0xff;
	} else {
		put16(c, 0x2c, d->subvendor);
		put16(c, 0x2e, d->subdevice);
		c[0x3d] = (d->class >> 16) == 0x06 ? 0 : 1;
	}
	if ((r = fmt_path(p, "%s/config", d->path)))
		return r;
	return write_file(fx, p, c, sizeof(c), true);
}

static int write_busnr(struct fx *fx, const struct fx_dev *d)
{
	int r;

	if ((r = attrf(fx, d->path, "secondary_bus_number", "%u\n", d->sec)) ||
	    (r = attrf(fx, d->path, "subordinate_bus_number", "%u\n", d->sub)))
		return r;
	return write_config(fx, d);
}

static int write_uevent(struct fx *fx, const struct fx_dev *d)
{
	unsigned c = d->class;

	if (d->no_uevent)
		return 0;
	return attrf(fx, d->path, "uevent",
		     "%s%s%sPCI_CLASS=%X\nPCI_ID=%04X:%04X\n"
		     "PCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n"
		     "MODALIAS=" MODALIAS_FMT "\n",
		     d->driver ? "DRIVER=" : "", d->driver ? d->driver : "",
		     d->driver ? "\n" : "", c, d->vendor, d->device,
		     d->subvendor, d->subdevice, d->addr, d->vendor, d->device,
		     d->subvendor, d->subdevice, c >> 16, (c >> 8) & 0xff,
		     c & 0xff);
}

struct attr {
	const char *name, *content;
};

static int fixed_attrs(struct fx *fx, const struct fx_dev *d)
{
	static const struct attr attrs[] = {
		{ "driver_override", "(null)\n" }, { "enable", "1\n" },
		{ "numa_node", "-1\n" }, { "irq", "0\n" },
		{ "local_cpulist", "0-15\n" }, { "local_cpus", "ffff\n" },
		{ "power_state", "D0\n" }, { "d3cold_allowed", "1\n" },
		{ "msi_bus", "1\n" }, { "broken_parity_status", "0\n" },
		{ "dma_mask_bits", "64\n" },
		{ "consistent_dma_mask_bits", "64\n" },
		{ "ari_enabled", "0\n" }, { "remove", "" }, { "rescan", "" },
		{ "power/control", "on\n" },
		{ "power/runtime_status", "active\n" },
		{ NULL, NULL },
	};
	const struct attr *a;
	int r;

	for (a = attrs; a->name; a++)
		if ((r = attrf(fx, d->path, a->name, "%s", a->content)))
			return r;
	return 0;
}

static int write_resource(struct fx *fx, const struct fx_dev *d)
{
	static const char line[] =
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
	char buf[17 * sizeof(line)], p[FX_PATH];
	int i, n = d->bridge ? 17 : 13;
	size_t len = 0;
	int r;

	for (i = 0; i < n; i++, len += sizeof(line) - 1)
		memcpy(buf + len, line, sizeof(line) - 1);
	if ((r = fmt_path(p, "%s/resource", d->path)))
		return r;
	return write_file(fx, p, buf, len, true);
}

static int id_attrs(struct fx *fx, const struct fx_dev *d)
{
	unsigned c = d->class;
	int r;

	if ((r = attrf(fx, d->path, "vendor", "0x%04x\n", d->vendor)) ||
	    (r = attrf(fx, d->path, "device", "0x%04x\n", d->device)) ||
	    (r = attrf(fx, d->path, "subsystem_vendor", "0x%04x\n",
		       d->subvendor)) ||
	    (r = attrf(fx, d->path, "subsystem_device", "0x%04x\n",
		       d->subdevice)) ||
	    (r = attrf(fx, d->path, "class", "0x%06x\n", c)) ||
	    (r = attrf(fx, d->path, "revision", "0x%02x\n", d->revision)))
		return r;
	return attrf(fx, d->path, "modalias", MODALIAS_FMT "\n", d->vendor,
		     d->device, d->subvendor, d->subdevice, c >> 16,
		     (c >> 8) & 0xff, c & 0xff);
}

static int opt_attrs(struct fx *fx, const struct fx_dev *d,
		     const struct fx_func *f)
{
	int r = 0;

	if ((f->class >> 8) == 0x0300)
		r = attrf(fx, d->path, "boot_vga", "%d\n", f->boot_vga == 1);
	if (!r && f->reset_method) {
		r = attrf(fx, d->path, "reset_method", "%s\n", f->reset_method);
		r = r ?: touch(fx, d->path, "reset");
	}
	if (!r && f->max_speed)
		r = attrf(fx, d->path, "max_link_speed", "%s\n", f->max_speed);
	if (!r && f->cur_speed)
		r = attrf(fx, d->path, "current_link_speed", "%s\n",
			  f->cur_speed);
	if (!r && f->max_width)
		r = attrf(fx, d->path, "max_link_width", "%d\n", f->max_width);
	if (!r && f->cur_width)
		r = attrf(fx, d->path, "current_link_width", "%d\n",
			  f->cur_width);
	if (!r && d->bridge)
		r = write_busnr(fx, d);
	return r;
}

/* Marks every function of the same slot multi-function once there are two. */
static int note_slot(struct fx *fx, struct fx_dev *d)
{
	size_t i;
	int r;

	for (i = 0; i < fx->ndevs; i++) {
		struct fx_dev *o = &fx->devs[i];

		if (o == d || strncmp(o->addr, d->addr, 10))
			continue;
		d->mf = true;
		if (o->mf)
			continue;
		o->mf = true;
		if ((r = write_config(fx, o)))
			return r;
	}
	return 0;
}

/* Widens the bus ranges of the upstream bridges to cover d's bus. */
static int note_bus(struct fx *fx, const struct fx_dev *d)
{
	bool direct = true;
	int i, r;

	for (i = d->parent; i >= 0; i = fx->devs[i].parent, direct = false) {
		struct fx_dev *p = &fx->devs[i];
		bool changed = false;

		if (!p->bridge)
			continue;
		if (direct && (!p->sec || d->bus < p->sec)) {
			p->sec = d->bus;
			changed = true;
		}
		if (d->bus > p->sub || p->sub < p->sec) {
			p->sub = d->bus > p->sec ? d->bus : p->sec;
			changed = true;
		}
		if (changed && (r = write_busnr(fx, p)))
			return r;
	}
	return 0;
}

static int create_func(struct fx *fx, struct fx_dev *d,
		       const struct fx_func *f)
{
	char p[FX_PATH];
	int r;

	if ((r = fmt_path(p, "%s/power", d->path)) || (r = mkdirs(fx, p)))
		return r;
	if ((r = id_attrs(fx, d)) || (r = fixed_attrs(fx, d)) ||
	    (r = write_resource(fx, d)) || (r = opt_attrs(fx, d, f)))
		return r;
	if ((r = linkf(fx, "bus/pci", "%s/subsystem", d->path)) ||
	    (r = linkf(fx, d->path, "bus/pci/devices/%s", d->addr)))
		return r;
	if (d->driver && (r = bind_dev(fx, d)))
		return r;
	if (d->group >= 0 && (r = group_add(fx, d)))
		return r;
	if ((r = note_slot(fx, d)) || (r = note_bus(fx, d)))
		return r;
	if ((r = write_config(fx, d)))
		return r;
	return write_uevent(fx, d);
}

static int grow(struct fx *fx)
{
	struct fx_dev *n;
	size_t cap;

	if (fx->ndevs < fx->cap)
		return 0;
	cap = fx->cap ? fx->cap * 2 : 64;
	n = realloc(fx->devs, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	fx->devs = n;
	fx->cap = cap;
	return 0;
}

static int init_dev(struct fx *fx, struct fx_dev *d, const struct fx_func *f,
		    int pi)
{
	unsigned bus;
	int r;

	memset(d, 0, sizeof(*d));
	if ((r = parse_addr(f->addr, &bus)))
		return r;
	strcpy(d->addr, f->addr);
	d->parent = pi;
	d->group = f->iommu_group;
	d->vendor = f->vendor & 0xffff;
	d->device = f->device & 0xffff;
	d->subvendor = f->subvendor & 0xffff;
	d->subdevice = f->subdevice & 0xffff;
	d->class = f->class & 0xffffff;
	d->revision = f->revision & 0xff;
	d->bus = bus;
	d->bridge = (d->class >> 8) == 0x0604;
	if (pi >= 0)
		r = asprintf(&d->path, "%s/%s", fx->devs[pi].path, d->addr);
	else
		r = asprintf(&d->path, "devices/pci%.7s/%s", d->addr, d->addr);
	if (r < 0) {
		d->path = NULL;
		return -ENOMEM;
	}
	if (f->driver && !(d->driver = strdup(f->driver)))
		return -ENOMEM;
	return 0;
}

int fx_add_func(struct fx *fx, const struct fx_func *f)
{
	struct fx_dev *d;
	unsigned bus;
	int r, pi = -1;

	if (!fx || !f || (r = parse_addr(f->addr, &bus)))
		return -EINVAL;
	if (find_idx(fx, f->addr) >= 0)
		return -EEXIST;
	if (f->driver && !valid_name(f->driver))
		return -EINVAL;
	if (f->parent && (pi = find_idx(fx, f->parent)) < 0)
		return -ENOENT;
	if ((r = grow(fx)))
		return r;
	d = &fx->devs[fx->ndevs];
	r = init_dev(fx, d, f, pi);
	if (!r) {
		fx->ndevs++;
		r = create_func(fx, d, f);
		if (r)
			fx->ndevs--;
	}
	if (r) {
		free(d->path);
		free(d->driver);
	}
	return r;
}

int fx_func_path(const struct fx *fx, const char *addr, char *buf,
		 size_t len)
{
	const struct fx_dev *d = find(fx, addr);
	int n;

	if (!d)
		return -ENOENT;
	n = snprintf(buf, len, "%s/%s", fx->root, d->path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int drop_symlink(struct fx *fx, const char *rel)
{
	struct stat st;

	if (fstatat(fx->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode) && unlinkat(fx->rootfd, rel, 0))
		return -errno;
	return 0;
}

static bool is_identity_attr(const char *attr)
{
	static const char *const names[] = {
		"vendor", "device", "subsystem_vendor", "subsystem_device", "class", "modalias",
		"uevent",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(attr, names[i]) == 0)
			return true;
	return false;
}

int fx_set_attr(struct fx *fx, const char *addr, const char *attr,
		const char *content)
{
	struct fx_dev *d = find(fx, addr);
	char p[FX_PATH];
	char *slash;
	int r;

	if (!d)
		return -ENOENT;
	if (!valid_relpath(attr))
		return -EINVAL;
	if ((r = fmt_path(p, "%s/%s", d->path, attr)))
		return r;
	/* a garbled identity is garbled in uevent too: gone, the single
	 * files are read, as on a captured tree without it */
	if (is_identity_attr(attr)) {
		char u[FX_PATH];

		d->no_uevent = true;
		if ((r = fmt_path(u, "%s/uevent", d->path)) || (r = unlink_quiet(fx, u)))
			return r;
	}
	if (!content)
		return unlink_quiet(fx, p);
	slash = strrchr(p, '/');
	*slash = '\0';
	r = mkdirs(fx, p);
	*slash = '/';
	if (r || (r = drop_symlink(fx, p)))
		return r;
	return write_file(fx, p, content, strlen(content), true);
}

int fx_set_link(struct fx *fx, const char *addr, const char *name,
		const char *target)
{
	struct fx_dev *d = find(fx, addr);

	if (!d)
		return -ENOENT;
	if (!valid_name(name) || !valid_relpath(target))
		return -EINVAL;
	return linkf(fx, target, "%s/%s", d->path, name);
}

int fx_set_driver(struct fx *fx, const char *addr, const char *driver)
{
	struct fx_dev *d = find(fx, addr);
	char *n = NULL;
	int r;

	if (!d)
		return -ENOENT;
	if (driver && !valid_name(driver))
		return -EINVAL;
	if (driver && !(n = strdup(driver)))
		return -ENOMEM;
	if ((r = unbind_dev(fx, d))) {
		free(n);
		return r;
	}
	free(d->driver);
	d->driver = n;
	if (n && (r = bind_dev(fx, d)))
		return r;
	return write_uevent(fx, d);
}

int fx_add_driver(struct fx *fx, const char *driver)
{
	if (!fx)
		return -EINVAL;
	return ensure_driver(fx, driver);
}

int fx_add_slot(struct fx *fx, const char *name, const char *slot_addr)
{
	char s[FX_PATH];
	int r;

	if (!fx || !valid_name(name) || !slot_addr || strchr(slot_addr, '\n'))
		return -EINVAL;
	if ((r = fmt_path(s, "bus/pci/slots/%s", name)) || (r = mkdirs(fx, s)))
		return r;
	return attrf(fx, s, "address", "%s\n", slot_addr);
}

/* ------------------------------------------------------------------ */
/* class devices below a function                                      */

struct child {
	const char *cls;	/* class/<cls> */
	const char *parent;	/* the `device` link target, NULL: none */
	const char *devname;	/* uevent DEVNAME, NULL: no dev node */
	const char *devtype;	/* uevent DEVTYPE, NULL: none */
	unsigned major, minor;
};

/* Creates dir (relative to ROOT) as a class device of c->cls. */
static int add_child(struct fx *fx, const char *dir, const struct child *c)
{
	char cls[FX_PATH];
	const char *name = strrchr(dir, '/') + 1;
	int r;

	if ((r = mkdirs(fx, dir)) || (r = fmt_path(cls, "class/%s", c->cls)) ||
	    (r = mkdirs(fx, cls)) ||
	    (r = linkf(fx, cls, "%s/subsystem", dir)) ||
	    (r = linkf(fx, dir, "%s/%s", cls, name)))
		return r;
	if (c->parent && (r = linkf(fx, c->parent, "%s/device", dir)))
		return r;
	if (!c->devname)
		return attrf(fx, dir, "uevent", "%s", "");
	if ((r = attrf(fx, dir, "dev", "%u:%u\n", c->major, c->minor)))
		return r;
	return attrf(fx, dir, "uevent", "MAJOR=%u\nMINOR=%u\nDEVNAME=%s\n%s%s%s",
		     c->major, c->minor, c->devname, c->devtype ? "DEVTYPE=" : "",
		     c->devtype ? c->devtype : "", c->devtype ? "\n" : "");
}

int fx_add_drm(struct fx *fx, const char *addr, const char *node,
	       unsigned major, unsigned minor)
{
	struct fx_dev *d = find(fx, addr);
	char dir[FX_PATH], devname[NAME_MAX + 8];
	struct child c = {
		.cls = "drm", .devname = devname, .devtype = "drm_minor",
		.major = major, .minor = minor,
	};
	int r;

	if (!d)
		return -ENOENT;
	if (!valid_name(node))
		return -EINVAL;
	c.parent = d->path;
	snprintf(devname, sizeof(devname), "dri/%s", node);
	if ((r = fmt_path(dir, "%s/drm/%s", d->path, node)))
		return r;
	return add_child(fx, dir, &c);
}

static int sound_node(struct fx *fx, const char *card, const char *node,
		      unsigned minor)
{
	char dir[FX_PATH], devname[64];
	struct child c = {
		.cls = "sound", .parent = card, .devname = devname,
		.major = 116, .minor = minor,
	};
	int r;

	snprintf(devname, sizeof(devname), "snd/%s", node);
	if ((r = fmt_path(dir, "%s/%s", card, node)))
		return r;
	return add_child(fx, dir, &c);
}

int fx_add_sound(struct fx *fx, const char *addr, int card,
		 unsigned control_minor)
{
	static const int pcm[] = { 3, 7, 8, 9 };
	struct fx_dev *d = find(fx, addr);
	char dir[FX_PATH], node[32];
	struct child c = { .cls = "sound" };
	unsigned i;
	int r;

	if (!d)
		return -ENOENT;
	if (card < 0)
		return -EINVAL;
	c.parent = d->path;
	if ((r = fmt_path(dir, "%s/sound/card%d", d->path, card)) ||
	    (r = add_child(fx, dir, &c)) ||
	    (r = attrf(fx, dir, "number", "%d\n", card)) ||
	    (r = attrf(fx, dir, "id", "%s\n", d->vendor == 0x10de ? "NVidia" :
		       d->vendor == 0x8086 ? "PCH" : "Generic")))
		return r;
	snprintf(node, sizeof(node), "controlC%d", card);
	if ((r = sound_node(fx, dir, node, control_minor)))
		return r;
	for (i = 0; i < sizeof(pcm) / sizeof(pcm[0]); i++) {
		snprintf(node, sizeof(node), "pcmC%dD%dp", card, pcm[i]);
		if ((r = sound_node(fx, dir, node, control_minor + 1 + i)))
			return r;
	}
	snprintf(node, sizeof(node), "hwC%dD0", card);
	return sound_node(fx, dir, node, control_minor + 1 + i);
}

static int net_attrs(struct fx *fx, const struct fx_dev *d, const char *dir,
		     const char *ifname, int up)
{
	unsigned idx = fx->ifindex++;
	unsigned devfn = (unsigned)strtoul(d->addr + 8, NULL, 16) << 3 |
			 (unsigned)(d->addr[11] - '0');
	int r;

	if ((r = attrf(fx, dir, "operstate", "%s\n", up ? "up" : "down")) ||
	    (r = attrf(fx, dir, "flags", "%s\n", up ? "0x1003" : "0x1002")) ||
	    (r = attrf(fx, dir, "carrier", "%d\n", up ? 1 : 0)) ||
	    (r = attrf(fx, dir, "address", "3c:ec:ef:%02x:%02x:%02x\n",
		       d->bus & 0xff, devfn & 0xff, idx & 0xff)) ||
	    (r = attrf(fx, dir, "ifindex", "%u\n", idx)) ||
	    (r = attrf(fx, dir, "mtu", "1500\n")) ||
	    (r = attrf(fx, dir, "type", "1\n")))
		return r;
	return attrf(fx, dir, "uevent", "INTERFACE=%s\nIFINDEX=%u\n", ifname,
		     idx);
}

int fx_add_net(struct fx *fx, const char *addr, const char *ifname, int up)
{
	struct fx_dev *d = find(fx, addr);
	char dir[FX_PATH];
	struct child c = { .cls = "net" };
	int r;

	if (!d)
		return -ENOENT;
	if (!valid_name(ifname) || strlen(ifname) > 15)
		return -EINVAL;
	c.parent = d->path;
	if ((r = fmt_path(dir, "%s/net/%s", d->path, ifname)) ||
	    (r = add_child(fx, dir, &c)))
		return r;
	return net_attrs(fx, d, dir, ifname, up);
}

/* disk under parent, its partition <disk><psep>1, and ROOT/block/<disk> */
static int add_disk(struct fx *fx, const char *parent, const char *disk,
		    const char *psep, unsigned major, unsigned minor)
{
	char dir[FX_PATH], part[FX_PATH], pname[NAME_MAX + 8];
	struct child c = {
		.cls = "block", .parent = parent, .devname = disk,
		.devtype = "disk", .major = major, .minor = minor,
	};
	int r;

	if ((r = fmt_path(dir, "%s/%s", parent, disk)) ||
	    (r = add_child(fx, dir, &c)) ||
	    (r = attrf(fx, dir, "size", "%s\n", "1953525168")) ||
	    (r = attrf(fx, dir, "removable", "0\n")) ||
	    (r = attrf(fx, dir, "ro", "0\n")) ||
	    (r = linkf(fx, dir, "block/%s", disk)))
		return r;
	if (snprintf(pname, sizeof(pname), "%s%s1", disk, psep) >=
	    (int)sizeof(pname))
		return -ENAMETOOLONG;
	c.parent = NULL;
	c.devname = pname;
	c.devtype = "partition";
	c.minor = minor + 1;
	if ((r = fmt_path(part, "%s/%s", dir, pname)) ||
	    (r = add_child(fx, part, &c)) ||
	    (r = attrf(fx, part, "partition", "1\n")) ||
	    (r = attrf(fx, part, "start", "2048\n")))
		return r;
	return attrf(fx, part, "size", "1953521664\n");
}

int fx_add_nvme(struct fx *fx, const char *addr, const char *disk,
		unsigned major, unsigned minor)
{
	struct fx_dev *d = find(fx, addr);
	char ctrl[FX_PATH], devname[32];
	unsigned n, ns;
	int end = 0, r;
	struct child c = {
		.cls = "nvme", .devname = devname, .major = 240,
	};

	if (!d)
		return -ENOENT;
	if (!valid_name(disk) || sscanf(disk, "nvme%un%u%n", &n, &ns, &end) != 2 ||
	    disk[end])
		return -EINVAL;
	snprintf(devname, sizeof(devname), "nvme%u", n);
	c.parent = d->path;
	c.minor = n;
	if ((r = fmt_path(ctrl, "%s/nvme/%s", d->path, devname)) ||
	    (r = add_child(fx, ctrl, &c)))
		return r;
	return add_disk(fx, ctrl, disk, "p", major, minor);
}

int fx_add_sata(struct fx *fx, const char *addr, const char *disk,
		unsigned major, unsigned minor)
{
	struct fx_dev *d = find(fx, addr);
	char sdev[FX_PATH], blk[FX_PATH];
	unsigned h;
	int r;

	if (!d)
		return -ENOENT;
	if (!valid_name(disk))
		return -EINVAL;
	h = fx->host;
	if ((r = fmt_path(sdev, "%s/ata%u/host%u/target%u:0:0/%u:0:0:0",
			  d->path, fx->ata, h, h, h)) ||
	    (r = fmt_path(blk, "%s/block", sdev)) || (r = mkdirs(fx, blk)))
		return r;
	fx->ata++;
	fx->host++;
	if ((r = attrf(fx, sdev, "vendor", "%-8s\n", "ATA")) ||
	    (r = attrf(fx, sdev, "model", "%-16s\n", "Samsung SSD 870")))
		return r;
	r = add_disk(fx, blk, disk, "", major, minor);
	if (r)
		return r;
	/* the disk's `device` link names the SCSI device, not block/ */
	return linkf(fx, sdev, "%s/%s/device", blk, disk);
}

/* ------------------------------------------------------------------ */
/* layouts                                                             */

#define SP2 "2.5 GT/s PCIe"
#define SP5 "5.0 GT/s PCIe"
#define SP8 "8.0 GT/s PCIe"
#define SP16 "16.0 GT/s PCIe"
#define SP32 "32.0 GT/s PCIe"

static const struct fx_func m_host = {
	.vendor = 0x8086, .device = 0xa700, .subvendor = 0x15d9,
	.subdevice = 0x1c48, .class = 0x060000, .revision = 0x01,
};
static const struct fx_func m_sata = {
	.vendor = 0x8086, .device = 0xa352, .subvendor = 0x15d9,
	.subdevice = 0x1c48, .class = 0x010601, .revision = 0x10,
	.driver = "ahci",
};
static const struct fx_func m_eno = {
	.vendor = 0x8086, .device = 0x15fa, .subvendor = 0x15d9,
	.subdevice = 0x15fa, .class = 0x020000, .revision = 0x11,
	.driver = "e1000e",
};
/* Raptor Lake PEG root ports */
static const struct fx_func m_rp_a70d = {
	.vendor = 0x8086, .device = 0xa70d, .subvendor = 0x15d9,
	.subdevice = 0x1c48, .class = 0x060400, .revision = 0x01,
	.driver = "pcieport", .max_speed = SP16, .cur_speed = SP2,
	.max_width = 16, .cur_width = 16,
};
static const struct fx_func m_rp_a72d = {
	.vendor = 0x8086, .device = 0xa72d, .subvendor = 0x15d9,
	.subdevice = 0x1c48, .class = 0x060400, .revision = 0x01,
	.driver = "pcieport", .max_speed = SP16, .cur_speed = SP2,
	.max_width = 8, .cur_width = 8,
};
/* PCH root port in front of the BMC */
static const struct fx_func m_rp_7ab8 = {
	.vendor = 0x8086, .device = 0x7ab8, .subvendor = 0x15d9,
	.subdevice = 0x1c48, .class = 0x060400, .revision = 0x11,
	.driver = "pcieport", .max_speed = SP8, .cur_speed = SP5,
	.max_width = 1, .cur_width = 1,
};
static const struct fx_func m_ast_br = {
	.vendor = 0x1a03, .device = 0x1150, .subvendor = 0x15d9,
	.subdevice = 0x1c48, .class = 0x060400, .revision = 0x06,
	.max_speed = SP5, .cur_speed = SP5, .max_width = 1, .cur_width = 1,
};
static const struct fx_func m_ast = {
	.vendor = 0x1a03, .device = 0x2000, .subvendor = 0x1a03,
	.subdevice = 0x2000, .class = 0x030000, .revision = 0x52,
	.driver = "ast", .boot_vga = 1,
};
static const struct fx_func m_rtx4000 = {
	.vendor = 0x10de, .device = 0x27b0, .subvendor = 0x10de,
	.subdevice = 0x16fa, .class = 0x030000, .revision = 0xa1,
	.driver = "nvidia", .boot_vga = 0, .reset_method = "bus",
	.max_speed = SP16, .cur_speed = SP2, .max_width = 16, .cur_width = 16,
};
static const struct fx_func m_rtx4000_audio = {
	.vendor = 0x10de, .device = 0x22bc, .subvendor = 0x10de,
	.subdevice = 0x16fa, .class = 0x040300, .revision = 0xa1,
	.driver = "snd_hda_intel",
	.max_speed = SP16, .cur_speed = SP2, .max_width = 16, .cur_width = 16,
};
/* Sapphire Rapids root port */
static const struct fx_func m_rp_spr = {
	.vendor = 0x8086, .device = 0x352a, .subvendor = 0x8086,
	.subdevice = 0x0000, .class = 0x060400, .revision = 0x04,
	.driver = "pcieport", .max_speed = SP32, .cur_speed = SP32,
	.max_width = 16, .cur_width = 16,
};
/* Broadcom PEX89000 switch port (upstream and downstream) */
static const struct fx_func m_sw = {
	.vendor = 0x10b5, .device = 0xc010, .subvendor = 0x10b5,
	.subdevice = 0xa064, .class = 0x060400, .revision = 0xb0,
	.driver = "pcieport", .max_speed = SP32, .cur_speed = SP32,
	.max_width = 16, .cur_width = 16,
};
static const struct fx_func m_h100 = {
	.vendor = 0x10de, .device = 0x2330, .subvendor = 0x10de,
	.subdevice = 0x16c1, .class = 0x030200, .revision = 0xa1,
	.driver = "nvidia", .reset_method = "flr bus",
	.max_speed = SP32, .cur_speed = SP32, .max_width = 16, .cur_width = 16,
};
static const struct fx_func m_nvswitch = {
	.vendor = 0x10de, .device = 0x22a3, .subvendor = 0x10de,
	.subdevice = 0x1796, .class = 0x068000, .revision = 0xa1,
	.driver = "nvidia", .max_speed = SP16, .cur_speed = SP16,
	.max_width = 2, .cur_width = 2,
};
static const struct fx_func m_cx7 = {
	.vendor = 0x15b3, .device = 0x1021, .subvendor = 0x15b3,
	.subdevice = 0x0041, .class = 0x020700, .revision = 0x00,
	.driver = "mlx5_core", .reset_method = "flr bus",
	.max_speed = SP32, .cur_speed = SP32, .max_width = 16, .cur_width = 16,
};

/* A copy of template m at addr below parent in group. */
static int put(struct fx *fx, const struct fx_func *m, const char *addr,
	       const char *parent, int group)
{
	struct fx_func f = *m;

	f.addr = addr;
	f.parent = parent;
	f.iommu_group = group;
	return fx_add_func(fx, &f);
}

static char *mkaddr(char *buf, unsigned dom, unsigned bus, unsigned dev,
		    unsigned fn)
{
	snprintf(buf, 16, "%04x:%02x:%02x.%x", dom & 0xffff, bus & 0xff,
		 dev & 0x1f, fn & 7);
	return buf;
}

static int host_base(struct fx *fx, bool groups)
{
	int r;

	r = put(fx, &m_host, "0000:00:00.0", NULL, groups ? 0 : -1);
	r = r ?: put(fx, &m_sata, "0000:00:17.0", NULL, groups ? 5 : -1);
	r = r ?: put(fx, &m_eno, "0000:00:1f.6", NULL, groups ? 7 : -1);
	r = r ?: fx_add_sata(fx, "0000:00:17.0", "sda", 8, 0);
	r = r ?: fx_add_net(fx, "0000:00:1f.6", "eno1", 1);
	return r;
}

/* root port -> AST1150 PCIe-to-PCI bridge -> AST2x00 VGA, drm card0 */
static int aspeed(struct fx *fx, const char *rp, const char *br,
		  const char *vga, int group)
{
	int r;

	r = put(fx, &m_rp_7ab8, rp, NULL, group);
	r = r ?: put(fx, &m_ast_br, br, rp, group);
	r = r ?: put(fx, &m_ast, vga, br, group);
	r = r ?: fx_add_drm(fx, vga, "card0", 226, 0);
	return r;
}

/* GPU + audio of a two-function card on slot "dddd:bb:dd". */
struct card {
	const struct fx_func *gpu, *audio;
	const char *slot, *parent;
	int group, drm_card, render, snd_card;
	unsigned snd_ctl;
};

static int add_card(struct fx *fx, const struct card *c)
{
	char g[16], a[16], node[32];
	int r;

	snprintf(g, sizeof(g), "%.10s.0", c->slot);
	snprintf(a, sizeof(a), "%.10s.1", c->slot);
	r = put(fx, c->gpu, g, c->parent, c->group);
	if (!r && c->drm_card >= 0) {
		snprintf(node, sizeof(node), "card%d", c->drm_card);
		r = fx_add_drm(fx, g, node, 226, (unsigned)c->drm_card);
	}
	if (!r && c->render >= 0) {
		snprintf(node, sizeof(node), "renderD%d", c->render);
		r = fx_add_drm(fx, g, node, 226, (unsigned)c->render);
	}
	if (r || !c->audio)
		return r;
	r = put(fx, c->audio, a, c->parent, c->group);
	return r ?: fx_add_sound(fx, a, c->snd_card, c->snd_ctl);
}

static int lay_rtx4000(struct fx *fx)
{
	struct card c = {
		.gpu = &m_rtx4000, .audio = &m_rtx4000_audio,
		.slot = "0000:01:00", .parent = "0000:00:01.0", .group = 14,
		.drm_card = 1, .render = 128, .snd_card = 1, .snd_ctl = 7,
	};
	int r;

	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &m_rp_a70d, "0000:00:01.0", NULL, 1);
	r = r ?: add_card(fx, &c);
	r = r ?: aspeed(fx, "0000:00:1c.0", "0000:02:00.0", "0000:03:00.0", 9);
	r = r ?: fx_add_slot(fx, "1", "0000:01:00");
	return r;
}

static const unsigned h100_bus[8] = {
	0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb,
};

/* root port -> switch upstream port -> downstream ports -> GPU, NIC */
static int h100_tray(struct fx *fx, int i, int *grp)
{
	unsigned bb = h100_bus[i];
	char rp[16], usp[16], dsp0[16], gpu[16], dsp1[16], nic[16];
	char name[32];
	int r;

	mkaddr(rp, 0, 0, 2 + (unsigned)i, 0);
	mkaddr(usp, 0, bb - 2, 0, 0);
	mkaddr(dsp0, 0, bb - 1, 0, 0);
	mkaddr(gpu, 0, bb, 0, 0);
	mkaddr(dsp1, 0, bb - 1, 1, 0);
	mkaddr(nic, 0, bb + 1, 0, 0);
	r = put(fx, &m_rp_spr, rp, NULL, (*grp)++);
	r = r ?: put(fx, &m_sw, usp, rp, (*grp)++);
	r = r ?: put(fx, &m_sw, dsp0, usp, (*grp)++);
	r = r ?: put(fx, &m_h100, gpu, dsp0, (*grp)++);
	r = r ?: put(fx, &m_sw, dsp1, usp, (*grp)++);
	r = r ?: put(fx, &m_cx7, nic, dsp1, (*grp)++);
	if (r)
		return r;
	snprintf(name, sizeof(name), "card%d", i + 1);
	r = fx_add_drm(fx, gpu, name, 226, (unsigned)i + 1);
	snprintf(name, sizeof(name), "renderD%d", 128 + i);
	r = r ?: fx_add_drm(fx, gpu, name, 226, 128 + (unsigned)i);
	snprintf(name, sizeof(name), "ibp%us0", bb + 1);
	return r ?: fx_add_net(fx, nic, name, i < 4);
}

static int lay_h100x8(struct fx *fx)
{
	struct fx_func rp = m_rp_spr;
	char a[16], b[16];
	int i, r, grp = 20;

	rp.cur_speed = SP16;
	rp.cur_width = 2;
	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: aspeed(fx, "0000:00:1c.0", "0000:02:00.0", "0000:03:00.0", 9);
	for (i = 0; !r && i < 8; i++)
		r = h100_tray(fx, i, &grp);
	for (i = 0; !r && i < 4; i++) {
		mkaddr(a, 0, 0, 0x0a + (unsigned)i, 0);
		mkaddr(b, 0, 5 + (unsigned)i, 0, 0);
		r = put(fx, &rp, a, NULL, grp++);
		r = r ?: put(fx, &m_nvswitch, b, a, grp++);
	}
	return r;
}

static int lay_consumer4(struct fx *fx)
{
	static const unsigned ids[4][2] = {
		{ 0x1e07, 0x030000 }, { 0x10f7, 0x040300 },
		{ 0x1ad6, 0x0c0330 }, { 0x1ad7, 0x0c8000 },
	};
	static const char *const drv[4] = {
		"nvidia", "snd_hda_intel", "xhci_hcd", "nvidia-gpu",
	};
	struct fx_func rp = m_rp_a70d, f = {
		.subvendor = 0x1462, .subdevice = 0x3715, .revision = 0xa1,
		.vendor = 0x10de, .parent = "0000:00:01.0", .iommu_group = 15,
		.max_speed = SP8, .cur_speed = SP2, .max_width = 16,
		.cur_width = 16,
	};
	char a[16];
	int i, r;

	rp.max_speed = SP8;
	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &rp, "0000:00:01.0", NULL, 1);
	for (i = 0; !r && i < 4; i++) {
		f.addr = mkaddr(a, 0, 1, 0, (unsigned)i);
		f.device = ids[i][0];
		f.class = ids[i][1];
		f.driver = drv[i];
		f.boot_vga = i == 0 ? 1 : -1;
		f.reset_method = i == 0 ? "bus" : NULL;
		r = fx_add_func(fx, &f);
	}
	r = r ?: fx_add_drm(fx, "0000:01:00.0", "card0", 226, 0);
	r = r ?: fx_add_drm(fx, "0000:01:00.0", "renderD128", 226, 128);
	r = r ?: fx_add_sound(fx, "0000:01:00.1", 0, 7);
	return r;
}

static int lay_gpu_nic(struct fx *fx)
{
	struct fx_func gpu = m_rtx4000, audio = m_rtx4000_audio;
	struct fx_func i210 = {
		.vendor = 0x8086, .device = 0x1533, .subvendor = 0x15d9,
		.subdevice = 0x1533, .class = 0x020000, .revision = 0x03,
		.driver = "igb", .max_speed = SP2, .cur_speed = SP2,
		.max_width = 1, .cur_width = 1,
	};
	struct card c = {
		.gpu = &gpu, .audio = &audio, .slot = "0000:01:00",
		.parent = "0000:00:01.0", .group = 12, .drm_card = 1,
		.render = 128, .snd_card = 1, .snd_ctl = 7,
	};
	int r;

	gpu.device = 0x2684;
	gpu.subvendor = audio.subvendor = 0x1043;
	gpu.subdevice = audio.subdevice = 0x889d;
	audio.device = 0x22ba;
	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &m_rp_a70d, "0000:00:01.0", NULL, 12);
	r = r ?: put(fx, &m_rp_a72d, "0000:00:01.1", NULL, 12);
	r = r ?: add_card(fx, &c);
	r = r ?: put(fx, &i210, "0000:02:00.0", "0000:00:01.1", 12);
	r = r ?: fx_add_net(fx, "0000:02:00.0", "enp2s0", 1);
	r = r ?: aspeed(fx, "0000:00:1c.0", "0000:03:00.0", "0000:04:00.0", 9);
	return r;
}

static int lay_iommu_off(struct fx *fx)
{
	struct fx_func gpu = m_rtx4000, audio = m_rtx4000_audio;
	struct card c = {
		.gpu = &gpu, .audio = &audio, .slot = "0000:01:00",
		.parent = "0000:00:01.0", .group = -1, .drm_card = 0,
		.render = 128, .snd_card = 0, .snd_ctl = 7,
	};
	int r;

	gpu.device = 0x2204;
	gpu.subdevice = audio.subdevice = 0x147d;
	gpu.boot_vga = 1;
	audio.device = 0x1aef;
	r = host_base(fx, false);
	r = r ?: put(fx, &m_rp_a70d, "0000:00:01.0", NULL, -1);
	r = r ?: add_card(fx, &c);
	return r;
}

static int lay_garbled(struct fx *fx)
{
	static const char *const gpu = "0000:01:00.0", *const aud = "0000:01:00.1";
	int r;

	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &m_rp_a70d, "0000:00:01.0", NULL, 1);
	r = r ?: put(fx, &m_rtx4000, gpu, "0000:00:01.0", -1);
	r = r ?: put(fx, &m_rtx4000_audio, aud, "0000:00:01.0", 14);
	r = r ?: fx_set_attr(fx, gpu, "vendor", NULL);
	r = r ?: fx_set_attr(fx, gpu, "class", "");
	r = r ?: fx_set_attr(fx, gpu, "device", "0xZZZZ\n");
	r = r ?: fx_set_attr(fx, gpu, "max_link_speed", "Unknown\n");
	r = r ?: fx_set_link(fx, gpu, "iommu_group", "kernel/iommu_groups/99");
	r = r ?: fx_set_attr(fx, aud, "modalias", "");
	r = r ?: fx_set_attr(fx, aud, "driver_override", "garbage\n");
	r = r ?: fx_set_attr(fx, aud, "subsystem_vendor",
			     "12345678901234567890\n");
	return r;
}

/* rtx4000 after a hand-over: both functions on vfio-pci by driver_override,
 * the DRM and sound devices gone with their host drivers. */
static int lay_rtx4000_vfio(struct fx *fx)
{
	static const char *const fns[] = { "0000:01:00.0", "0000:01:00.1" };
	char path[4096], sub[4200];
	int r = lay_rtx4000(fx);

	for (size_t i = 0; i < 2 && !r; i++) {
		r = fx_set_driver(fx, fns[i], "vfio-pci");
		r = r ?: fx_set_attr(fx, fns[i], "driver_override", "vfio-pci\n");
	}
	r = r ?: fx_func_path(fx, "0000:01:00.0", path, sizeof(path));
	if (!r) {
		snprintf(sub, sizeof(sub), "%s/drm", path);
		r = rm_tree(sub);
	}
	r = r ?: fx_func_path(fx, "0000:01:00.1", path, sizeof(path));
	if (!r) {
		snprintf(sub, sizeof(sub), "%s/sound", path);
		r = rm_tree(sub);
	}
	return r;
}

/* rtx4000-vfio, and the ASPEED BMC's display handed over too: a VGA
 * controller on vfio-pci from a vendor (1a03) aleph-vm does not know. */
static int lay_bmc_vfio(struct fx *fx)
{
	int r = lay_rtx4000_vfio(fx);

	r = r ?: fx_set_driver(fx, "0000:03:00.0", "vfio-pci");
	return r ?: fx_set_attr(fx, "0000:03:00.0", "driver_override", "vfio-pci\n");
}

/* A Grace Hopper superchip's GPU (GH200, 10de:2342) behind its root port
 * in domain 0009, on nvidia, with vfio-pci and its VFIO variant driver
 * nvgrace_gpu_vfio_pci (Linux 6.9) loaded; the host's own devices as in
 * rtx4000. */
static int lay_gh200(struct fx *fx)
{
	static const struct fx_func rp = {
		.addr = "0009:00:00.0", .vendor = 0x10de, .device = 0x22b2, .subvendor = 0x10de,
		.subdevice = 0x0000, .class = 0x060400, .driver = "pcieport", .iommu_group = 20,
		.boot_vga = -1, .max_speed = SP32, .cur_speed = SP32, .max_width = 16, .cur_width = 16,
	};
	static const struct fx_func gpu = {
		.addr = "0009:01:00.0", .parent = "0009:00:00.0", .vendor = 0x10de,
		.device = 0x2342, .subvendor = 0x10de, .subdevice = 0x16eb, .class = 0x030200,
		.revision = 0xa1, .driver = "nvidia", .iommu_group = 21, .boot_vga = -1,
		.reset_method = "flr", .max_speed = SP32, .cur_speed = SP32, .max_width = 16,
		.cur_width = 16,
	};
	int r = host_base(fx, true);

	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: fx_add_driver(fx, "nvgrace_gpu_vfio_pci");
	r = r ?: aspeed(fx, "0000:00:1c.0", "0000:02:00.0", "0000:03:00.0", 9);
	r = r ?: fx_add_func(fx, &rp);
	return r ?: fx_add_func(fx, &gpu);
}

/* gh200, its GPU handed to nvgrace_gpu_vfio_pci. */
static int lay_gh200_variant(struct fx *fx)
{
	int r = lay_gh200(fx);

	r = r ?: fx_set_driver(fx, "0009:01:00.0", "nvgrace_gpu_vfio_pci");
	return r ?: fx_set_attr(fx, "0009:01:00.0", "driver_override", "nvgrace_gpu_vfio_pci\n");
}

/* A function's class devices (drm, sound) gone with its host driver, and
 * the function on vfio-pci without a driver_override: vfio-pci took it
 * at boot through ids=. */
static int taken_by_ids(struct fx *fx, const char *addr)
{
	static const char *const subs[] = { "drm", "sound" };
	char path[4096], sub[4200];
	int r = fx_set_driver(fx, addr, "vfio-pci");

	r = r ?: fx_func_path(fx, addr, path, sizeof(path));
	for (size_t i = 0; i < 2 && !r; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]);
		r = rm_tree(sub);
		r = r == -ENOENT ? 0 : r;
	}
	return r;
}

/*
 * A workstation set up by the operators' guide and rebooted: two identical
 * RTX 4000s, the second the firmware's console (no BMC), both taken by
 * vfio-pci at boot through the guide's ids=; the onboard HD audio without
 * a driver (the guide's blacklist snd_hda_intel).
 */
static int lay_guide_console(struct fx *fx)
{
	static const struct fx_func hda = {
		.vendor = 0x8086, .device = 0x7a50, .subvendor = 0x1043, .subdevice = 0x8882,
		.class = 0x040300, .revision = 0x11, .driver = NULL, .boot_vga = -1,
	};
	struct card a = {
		.gpu = &m_rtx4000, .audio = &m_rtx4000_audio,
		.slot = "0000:01:00", .parent = "0000:00:01.0", .group = 14,
		.drm_card = 1, .render = 128, .snd_card = 1, .snd_ctl = 7,
	};
	struct card b = a;
	struct fx_func console = m_rtx4000;
	static const char *const taken[] = {
		"0000:01:00.0", "0000:01:00.1", "0000:02:00.0", "0000:02:00.1",
	};
	int r;

	console.boot_vga = 1;
	b.gpu = &console;
	b.slot = "0000:02:00";
	b.parent = "0000:00:03.0";
	b.group = 15;
	b.drm_card = 0;
	b.render = 129;
	b.snd_card = 2;
	b.snd_ctl = 14;
	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &hda, "0000:00:1f.3", NULL, 8);
	r = r ?: put(fx, &m_rp_a70d, "0000:00:01.0", NULL, 1);
	r = r ?: put(fx, &m_rp_a72d, "0000:00:03.0", NULL, 3);
	r = r ?: add_card(fx, &a);
	r = r ?: add_card(fx, &b);
	for (size_t i = 0; i < 4 && !r; i++)
		r = taken_by_ids(fx, taken[i]);
	r = r ?: fx_add_slot(fx, "1", "0000:01:00");
	r = r ?: fx_add_slot(fx, "2", "0000:02:00");
	return r;
}

/* rtx4000 whose GPU does not say what link it can run (max_link_speed
 * "Unknown", no max_link_width), under a PCIe 4.0 x16 root port: the
 * port's capability says nothing of the GPU's own. */
static int lay_rtx4000_nolink(struct fx *fx)
{
	int r = lay_rtx4000(fx);

	r = r ?: fx_set_attr(fx, "0000:01:00.0", "max_link_speed", "Unknown\n");
	return r ?: fx_set_attr(fx, "0000:01:00.0", "max_link_width", NULL);
}

/* rtx4000 with a NIC as function .2 of the GPU's slot, no driver bound:
 * nothing holds it, and it still must not go along unless named. */
static int lay_gpu_slot_nic(struct fx *fx)
{
	struct fx_func nic = {
		.addr = "0000:01:00.2", .parent = "0000:00:01.0", .vendor = 0x8086,
		.device = 0x10d3, .subvendor = 0x8086, .subdevice = 0xa01f, .class = 0x020000,
		.revision = 0, .driver = NULL, .iommu_group = 14, .boot_vga = -1,
	};
	int r = lay_rtx4000(fx);

	return r ?: fx_add_func(fx, &nic);
}

static int lay_twins(struct fx *fx)
{
	struct card a = {
		.gpu = &m_rtx4000, .audio = &m_rtx4000_audio,
		.slot = "0000:01:00", .parent = "0000:00:01.0", .group = 14,
		.drm_card = 1, .render = 128, .snd_card = 1, .snd_ctl = 7,
	};
	struct card b = {
		.gpu = &m_rtx4000, .audio = &m_rtx4000_audio,
		.slot = "0000:02:00", .parent = "0000:00:03.0", .group = 15,
		.drm_card = 2, .render = 129, .snd_card = 2, .snd_ctl = 14,
	};
	int r;

	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &m_rp_a70d, "0000:00:01.0", NULL, 1);
	r = r ?: put(fx, &m_rp_a72d, "0000:00:03.0", NULL, 3);
	r = r ?: add_card(fx, &a);
	r = r ?: add_card(fx, &b);
	r = r ?: aspeed(fx, "0000:00:1c.0", "0000:03:00.0", "0000:04:00.0", 9);
	r = r ?: fx_add_slot(fx, "1", "0000:01:00");
	r = r ?: fx_add_slot(fx, "2", "0000:02:00");
	return r;
}

/*
 * big1000: domain 0000 bus 00 holds the host base, an xHCI controller, 16
 * GPU slots (root ports 00:01.0-00:10.0, GPUs on buses 01-10, alternating
 * L40S and RTX 4090 + audio) and one NVMe switch (root port 00:1b.0,
 * buses 11-1e).  Then 15 more root buses (0000:20,40,..,e0 and
 * 0001:00,20,..,e0) each hold a host bridge, two NVMe switches (root
 * port + upstream port + 12 downstream ports + 12 NVMe = 26 functions,
 * 14 buses) and three dual-port NICs behind their own root ports:
 * 70 + 15 * 62 = 1000 functions.
 */
static const struct fx_func m_l40s = {
	.vendor = 0x10de, .device = 0x26b9, .subvendor = 0x10de,
	.subdevice = 0x1851, .class = 0x030200, .revision = 0xa1,
	.driver = "nvidia", .reset_method = "flr bus",
	.max_speed = SP16, .cur_speed = SP16, .max_width = 16, .cur_width = 16,
};
static const struct fx_func m_nvme = {
	.vendor = 0x144d, .device = 0xa80a, .subvendor = 0x144d,
	.subdevice = 0xa813, .class = 0x010802, .revision = 0x00,
	.driver = "nvme", .reset_method = "flr bus",
	.max_speed = SP16, .cur_speed = SP16, .max_width = 4, .cur_width = 4,
};
static const struct fx_func m_x710 = {
	.vendor = 0x8086, .device = 0x1572, .subvendor = 0x8086,
	.subdevice = 0x0007, .class = 0x020000, .revision = 0x02,
	.driver = "i40e", .reset_method = "flr bus",
	.max_speed = SP8, .cur_speed = SP8, .max_width = 8, .cur_width = 8,
};
static const struct fx_func m_cx6 = {
	.vendor = 0x15b3, .device = 0x101d, .subvendor = 0x15b3,
	.subdevice = 0x0016, .class = 0x020000, .revision = 0x00,
	.driver = "mlx5_core", .reset_method = "flr bus",
	.max_speed = SP16, .cur_speed = SP16, .max_width = 16, .cur_width = 16,
};

struct big {
	int grp;		/* next IOMMU group */
	unsigned nvme;		/* next NVMe controller number */
	bool one_group;		/* every function in group grp (an IOMMU without ACS) */
};

static int big_group(struct big *bg)
{
	return bg->one_group ? bg->grp : bg->grp++;
}

static int big_gpu(struct fx *fx, struct big *bg, unsigned i)
{
	struct fx_func gpu = m_rtx4000, audio = m_rtx4000_audio;
	char rp[16], slot[16], name[8];
	struct card c = {
		.gpu = i % 2 ? &gpu : &m_l40s, .audio = i % 2 ? &audio : NULL,
		.slot = slot, .parent = rp, .drm_card = (int)i,
		.render = 128 + (int)i, .snd_card = (int)i / 2,
		.snd_ctl = 7 + 6 * (i / 2),
	};
	int r;

	gpu.device = 0x2684;
	gpu.subvendor = audio.subvendor = 0x1043;
	gpu.subdevice = audio.subdevice = 0x889d;
	gpu.cur_speed = audio.cur_speed = SP16;
	audio.device = 0x22ba;
	mkaddr(rp, 0, 0, i + 1, 0);
	snprintf(slot, sizeof(slot), "0000:%02x:00", (i + 1) & 0xff);
	snprintf(name, sizeof(name), "%u", (i + 1) & 0xff);
	r = put(fx, &m_rp_spr, rp, NULL, big_group(bg));
	c.group = big_group(bg);
	r = r ?: add_card(fx, &c);
	return r ?: fx_add_slot(fx, name, slot);
}

/* root port rb:rpdev.0, switch on buses bus (upstream), bus + 1
 * (downstream ports), NVMe drives on bus + 2 .. bus + 13 */
static int big_switch(struct fx *fx, struct big *bg, unsigned dom,
		      unsigned rb, unsigned rpdev, unsigned bus)
{
	char rp[16], usp[16], dsp[16], dev[16], disk[32];
	unsigned k;
	int r;

	mkaddr(rp, dom, rb, rpdev, 0);
	mkaddr(usp, dom, bus, 0, 0);
	r = put(fx, &m_rp_spr, rp, NULL, big_group(bg));
	r = r ?: put(fx, &m_sw, usp, rp, big_group(bg));
	for (k = 0; !r && k < 12; k++) {
		mkaddr(dsp, dom, bus + 1, k, 0);
		mkaddr(dev, dom, bus + 2 + k, 0, 0);
		snprintf(disk, sizeof(disk), "nvme%un1", bg->nvme);
		r = put(fx, &m_sw, dsp, usp, big_group(bg));
		r = r ?: put(fx, &m_nvme, dev, dsp, big_group(bg));
		r = r ?: fx_add_nvme(fx, dev, disk, 259, 2 * bg->nvme);
		bg->nvme++;
	}
	return r;
}

static int big_nic(struct fx *fx, struct big *bg, unsigned dom, unsigned rb,
		   unsigned rpdev, unsigned bus, const struct fx_func *m)
{
	char rp[16], a[16], ifn[32];
	unsigned f;
	int r, grp;

	mkaddr(rp, dom, rb, rpdev, 0);
	r = put(fx, &m_rp_spr, rp, NULL, big_group(bg));
	grp = big_group(bg);
	for (f = 0; !r && f < 2; f++) {
		mkaddr(a, dom, bus, 0, f);
		if (dom)
			snprintf(ifn, sizeof(ifn), "enP%up%us0f%u", dom, bus, f);
		else
			snprintf(ifn, sizeof(ifn), "enp%us0f%u", bus, f);
		r = put(fx, m, a, rp, grp);
		r = r ?: fx_add_net(fx, a, ifn, f == 0);
	}
	return r;
}

static int big_rootbus(struct fx *fx, struct big *bg, unsigned dom,
		       unsigned rb, unsigned idx)
{
	struct fx_func host = m_host;
	const struct fx_func *nic = idx % 2 ? &m_cx6 : &m_x710;
	char a[16];
	unsigned k;
	int r;

	host.device = 0x09a2;
	host.subvendor = 0x8086;
	host.subdevice = 0x0000;
	r = put(fx, &host, mkaddr(a, dom, rb, 0, 0), NULL, big_group(bg));
	r = r ?: big_switch(fx, bg, dom, rb, 1, rb + 1);
	r = r ?: big_switch(fx, bg, dom, rb, 2, rb + 15);
	for (k = 0; !r && k < 3; k++)
		r = big_nic(fx, bg, dom, rb, 3 + k, rb + 29 + k, nic);
	return r;
}

static int big1000(struct fx *fx, bool one_group)
{
	struct fx_func xhci = {
		.vendor = 0x8086, .device = 0x7ae0, .subvendor = 0x15d9,
		.subdevice = 0x1c48, .class = 0x0c0330, .revision = 0x11,
		.driver = "xhci_hcd",
	};
	struct big bg = { .grp = 10, .one_group = one_group };
	size_t start = fx->ndevs;
	unsigned i;
	int r;

	r = host_base(fx, true);
	r = r ?: fx_add_driver(fx, "vfio-pci");
	r = r ?: put(fx, &xhci, "0000:00:14.0", NULL, 8);
	for (i = 0; !r && i < 16; i++)
		r = big_gpu(fx, &bg, i);
	r = r ?: big_switch(fx, &bg, 0, 0, 0x1b, 0x11);
	for (i = 1; !r && i < 16; i++)
		r = big_rootbus(fx, &bg, i / 8, (i % 8) * 0x20, i);
	if (!r && fx->ndevs - start != 1000)
		r = -EPROTO;
	return r;
}

static int lay_big1000(struct fx *fx)
{
	return big1000(fx, false);
}

/* The same 1,000 functions, all in one IOMMU group. */
static int lay_group1000(struct fx *fx)
{
	return big1000(fx, true);
}

struct layout {
	const char *name;
	int (*build)(struct fx *fx);
};

static const struct layout layouts[] = {
	{ "rtx4000", lay_rtx4000 },
	{ "h100x8", lay_h100x8 },
	{ "consumer4", lay_consumer4 },
	{ "gpu-nic", lay_gpu_nic },
	{ "iommu-off", lay_iommu_off },
	{ "big1000", lay_big1000 },
	{ "group1000", lay_group1000 },
	{ "garbled", lay_garbled },
	{ "twins", lay_twins },
	{ "rtx4000-vfio", lay_rtx4000_vfio },
	{ "gpu-slot-nic", lay_gpu_slot_nic },
	{ "bmc-vfio", lay_bmc_vfio },
	{ "rtx4000-nolink", lay_rtx4000_nolink },
	{ "guide-console", lay_guide_console },
	{ "gh200", lay_gh200 },
	{ "gh200-variant", lay_gh200_variant },
};

static const char *const layout_names[] = {
	"rtx4000", "h100x8", "consumer4", "gpu-nic", "iommu-off", "big1000", "group1000",
	"garbled", "twins", "rtx4000-vfio", "gpu-slot-nic", "bmc-vfio", "rtx4000-nolink",
	"guide-console", "gh200", "gh200-variant", NULL,
};

const char *const *fx_layout_names(void)
{
	return layout_names;
}

int fx_layout(struct fx *fx, const char *name)
{
	size_t i;

	if (!fx || !name)
		return -EINVAL;
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (!strcmp(layouts[i].name, name))
			return layouts[i].build(fx);
	return -ENOENT;
}
