/* The one access layer to sysfs: every read and write of the kernel's
 * PCI tree goes through here, relative to a root directory descriptor, so the
 * same code runs on /sys, on a captured tree, and on an emulated kernel.
 * Paths are resolved inside that root (a link never leads out of the tree),
 * and a captured tree's attribute that is not a regular file is refused. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "pci-addr.h"

struct sysfs;

/* The most an attribute shows: a page.  driver_override keeps up to
 * PAGE_SIZE - 2 characters (4 KiB pages) and shows them with a newline;
 * a read that fills a buffer this size may have been cut. */
#define SYSFS_ATTR_MAX 4096

/* The backend under the access layer: the tree's files as they are
 * (sysfs_default_ops), or an emulated kernel wrapping them.  Paths are
 * relative to the tree's root and are built only inside sysfs.c, from
 * constants and formatted PCI addresses, never from user strings. */
struct sysfs_ops {
	/* rel is relative to dirfd: the tree's root (fn NULL), or the
	 * directory of function fn */
	int (*read)(struct sysfs *sfs, const struct pci_addr *fn, int dirfd, const char *rel,
		    char *buf, size_t len);
	int (*write)(struct sysfs *sfs, const char *rel, const char *val);
	int (*readlink)(struct sysfs *sfs, int dirfd, const char *rel, char *buf, size_t len);
	/* its driver_override reads may wait on a device's lock, as the
	 * kernel's do: read them through the writer, within the limit */
	bool locked_reads;
};

extern const struct sysfs_ops sysfs_default_ops;

int sysfs_open(const char *root, struct sysfs **out);
void sysfs_close(struct sysfs *sfs);
/* A second handle on the same tree and backend, with a writer of its own:
 * one per IOMMU group of a hand-over, so that the groups' writes run at
 * the same time (a handle is used by one thread at a time). */
int sysfs_clone(const struct sysfs *sfs, struct sysfs **out);
/* The tree's path as given (for messages). */
const char *sysfs_root(const struct sysfs *sfs);
/* The limit of reads that may wait on a device's lock (default 10 s). */
void sysfs_set_read_timeout(struct sysfs *sfs, int ms);
/* The backend's data (sysfs_set_backend), for the backend's functions. */
void *sysfs_backend_priv(const struct sysfs *sfs);
/* The writer child now, 0 when none runs (tests). */
int sysfs_writer_pid(const struct sysfs *sfs);
/* Start the handle's writer now (writer_start), for a command that will
 * write; otherwise its first request does.  0 or -errno. */
int sysfs_writer_start(struct sysfs *sfs);
/* Is this the running kernel's sysfs (a sysfs filesystem, wherever it is
 * mounted), rather than a captured tree of files? */
bool sysfs_is_live(const struct sysfs *sfs);
/* Put a wrapping backend (an emulated kernel) in place, or the default one
 * back (ops NULL).  backend_fd: a descriptor its writes use, -1 for none. */
void sysfs_set_backend(struct sysfs *sfs, const struct sysfs_ops *ops, void *priv, int backend_fd);

/* Attribute of a PCI function: buf gets the content, trailing newline removed. */
int sysfs_dev_read(struct sysfs *sfs, const struct pci_addr *a, const char *attr,
		   char *buf, size_t len);
/* The same attribute of n functions, as sysfs_dev_read reads each: into
 * bufs (len bytes per function), res[i] the result.  One request to the
 * writer for what it reads (driver_override on a live tree). */
void sysfs_dev_read_each(struct sysfs *sfs, const struct pci_addr *addrs, size_t n,
			 const char *attr, char *bufs, size_t len, int *res);
/* Does the writer read attr (within read_timeout_ms) rather than this process? */
bool sysfs_read_by_writer(const struct sysfs *sfs, const char *attr);
/* Last path component of a link of the function ("driver", "iommu_group");
 * -EINVAL for a link that names nothing (its text ends in "/", ".", ".."). */
int sysfs_dev_link(struct sysfs *sfs, const struct pci_addr *a, const char *link,
		   char *buf, size_t len);
/* Full link target of bus/pci/devices/<addr> (its place in the hierarchy). */
int sysfs_dev_path(struct sysfs *sfs, const struct pci_addr *a, char *buf, size_t len);
/* Is there such a function (bus/pci/devices/<addr>)? */
int sysfs_dev_exists(struct sysfs *sfs, const struct pci_addr *a);
/* Does the function have this attribute or entry (links followed)? */
int sysfs_dev_has(struct sysfs *sfs, const struct pci_addr *a, const char *sub);

/* Every function listed in bus/pci/devices, sorted; entries that are not PCI
 * addresses are skipped.  *out is malloc'ed. */
int sysfs_list_devices(struct sysfs *sfs, struct pci_addr **out, size_t *n);

/* The functions kernel/iommu_groups/GROUP/devices lists (none: 0, *n 0). */
int sysfs_group_members(struct sysfs *sfs, int group, struct pci_addr **out, size_t *n);
/* Number of IOMMU groups in kernel/iommu_groups (0: IOMMU off). */
int sysfs_count_iommu_groups(struct sysfs *sfs);
/* Is a driver registered on the PCI bus (bus/pci/drivers/<name>)? */
int sysfs_driver_registered(struct sysfs *sfs, const char *driver);
/* The module a PCI driver comes from (bus/pci/drivers/<d>/module);
 * -ENOENT for a driver built into the kernel. */
int sysfs_driver_module(struct sysfs *sfs, const char *driver, char *buf, size_t len);
/* Is a PCI driver a VFIO driver (vfio-pci, or a variant driver built on
 * vfio-pci-core: mlx5_vfio_pci, nvgrace_gpu_vfio_pci, ...)?  The kernel
 * says, never the name: the driver is vfio-pci, or its module (its
 * bus/pci/drivers/<d>/module link) is vfio_pci or a holder of
 * vfio_pci_core (module/vfio_pci_core/holders/<module>).  Where
 * vfio_pci_core is built into the kernel it has no holders to read:
 * SYSFS_VFIO_ASK, the device tells (pci_func_load: its vfio-dev/ entry,
 * made for every device a VFIO driver registers).  Each driver's answer is
 * kept for the life of the handle. */
enum sysfs_vfio { SYSFS_VFIO_NO, SYSFS_VFIO_YES, SYSFS_VFIO_ASK };
enum sysfs_vfio sysfs_driver_vfio(struct sysfs *sfs, const char *driver);
/* The PCI driver a loaded module registered, as the kernel names it
 * (module/<module>/drivers/pci:<name>): a module's name and its driver's
 * differ in '-' and '_', or altogether (vh_variant_vfio registers
 * vh-variant-vfio-pci).  -ENOENT when it registered none (not loaded). */
int sysfs_module_pci_driver(struct sysfs *sfs, const char *module, char *buf, size_t len);
/* Physical slot name whose address is the function's slot, "" if none. */
int sysfs_phys_slot(struct sysfs *sfs, const struct pci_addr *a, char *buf, size_t len);

/* A class device found under a function: DRM node, sound node, block
 * device, network interface. */
struct sysfs_child {
	const char *subsystem;   /* "drm", "sound", "block", "net", ... */
	const char *name;        /* "card0", "sda1", "eth0" */
	const char *rel;         /* path relative to the function's directory */
	int has_dev;
	dev_t dev;
};
typedef int (*sysfs_child_fn)(const struct sysfs_child *c, void *data);
/* Walk the function's directory (not into other PCI functions below it,
 * never through links) and call fn for every class device.  A non-zero
 * return from fn stops the walk and is returned. */
int sysfs_walk_children(struct sysfs *sfs, const struct pci_addr *a,
			sysfs_child_fn fn, void *data);
/* First entry of class/block/<disk>/holders (a dm or md device on top). */
int sysfs_block_holder(struct sysfs *sfs, const struct pci_addr *a, const char *disk,
		       char *buf, size_t len);
/* Kernel writes.  They run in a child process, one per handle (writer.h), so
 * that a write the kernel does not return from (an unbind waiting for a
 * holder) cannot hang the tool: after timeout_ms the child is abandoned and
 * -ETIMEDOUT returned; the next write starts another. */
int sysfs_write_timed(struct sysfs *sfs, const char *rel, const char *val, int timeout_ms);
/* bus/pci/devices/<addr>/<attr> (driver_override, driver/unbind) */
int sysfs_dev_write(struct sysfs *sfs, const struct pci_addr *a, const char *attr,
		    const char *val, int timeout_ms);
/* bus/pci/drivers_probe */
int sysfs_probe(struct sysfs *sfs, const struct pci_addr *a, int timeout_ms);
/* bus/pci/drivers/<driver>/bind or unbind; the name must be a plain driver name */
int sysfs_driver_write(struct sysfs *sfs, const char *driver, const char *attr,
		       const struct pci_addr *a, int timeout_ms);
/* Another file of a driver (remove_id: "vvvv dddd") */
int sysfs_driver_write_value(struct sysfs *sfs, const char *driver, const char *attr,
			     const char *val, int timeout_ms);
/* Is this a name a driver can have (no path tricks)? */
int sysfs_valid_driver_name(const char *name);
/* Read an attribute of a child found by the walk ("operstate" of a netdev). */
int sysfs_child_read(struct sysfs *sfs, const struct pci_addr *a, const char *rel,
		     const char *attr, char *buf, size_t len);
