/* Who uses a PCI function: its device nodes and the processes holding them,
 * the disks and network interfaces it carries. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "pci-host.h"
#include "sysfs.h"

struct devnode {
	struct pci_addr fn;
	dev_t dev;
	char name[64];           /* "/dev/dri/card1", "/dev/snd/controlC1", "/dev/nvidia0" */
};

struct holder {
	struct pci_addr fn;
	pid_t pid;
	char comm[64];
	char node[64];           /* the devnode's path */
};

struct blockdev {
	struct pci_addr fn;
	char name[48];           /* "nvme0n1p1" */
	dev_t dev;
	char use[300];           /* "mounted on /", "swap", "held by dm-0", "" */
};

struct netif {
	struct pci_addr fn;
	char name[48];
	bool up;
};

struct usage {
	struct devnode *nodes;
	size_t nnodes;
	struct blockdev *disks;
	size_t ndisks;
	struct netif *ifs;
	size_t nifs;
};

/* What hangs below these functions in sysfs.  procroot is where
 * driver/nvidia/gpus/<addr>/information is read (NULL: skip). */
int usage_collect(struct sysfs *sfs, const char *procroot, const struct pci_addr *fns,
		  size_t nfns, struct usage *u);
void usage_free(struct usage *u);

/* What a scan of the processes could not see. */
struct holder_scan {
	long deadline_ms;        /* in: monotonic_ms() to stop at; 0: no limit */
	int uninspected;         /* out: processes whose descriptors could not be read */
	int unscanned;           /* out: processes not reached before the deadline */
};

/* Scan procroot/<pid>/fd for the device nodes of u.  A descriptor is
 * stat'ed only when it names a node under /dev: a stat of any other open
 * file (on a hung NFS or FUSE mount) could block the scan for good.
 * scan may be NULL (no limit, counts dropped). */
int usage_find_holders(const char *procroot, const struct usage *u,
		       struct holder **out, size_t *nout, struct holder_scan *scan);

/* Fill disks[].use from procroot/self/mountinfo, procroot/swaps and the
 * holders directories in sysfs. */
int usage_disk_use(struct sysfs *sfs, const char *procroot, struct usage *u);

/* Processes holding devdir/vfio/<group> open (a running VM).  The holder's
 * fn is left zero; node is the group's path. */
int usage_vfio_group_holders(const char *devdir, const char *procroot, int group,
			     struct holder **out, size_t *nout, struct holder_scan *scan);

/* Processes holding the devdir/vfio/<group> of an IOMMU group of fns open
 * (a VM uses it), in one scan of procroot: each holder's fn is the first
 * of fns in that group.  *out malloc'ed; scan as for usage_find_holders. */
int usage_vm_holders(const struct pci_host *h, const struct pci_addr *fns, size_t n,
		     const char *devdir, const char *procroot, struct holder **out, size_t *nout,
		     struct holder_scan *scan);
