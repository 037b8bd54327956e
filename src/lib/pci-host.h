/* Every PCI function of a host, grouped into slots (a GPU is a slot) and
 * IOMMU groups. */
#pragma once
#include <stddef.h>
#include "pci-func.h"

struct pci_host {
	struct sysfs *sfs;
	struct pci_func *funcs;   /* sorted by address */
	size_t nfuncs;
	int ngroups;              /* entries in kernel/iommu_groups */
	/* indexes into funcs of the functions with an IOMMU group, by group
	 * (then address): a group's members without a pass over every function */
	size_t *by_group, nby_group;
};

/* Every function, everything read (PCI_NEED_ALL). */
int pci_host_load(struct sysfs *sfs, struct pci_host *host);
/* Every function's identity, driver and group, and what needs asks. */
int pci_host_load_needs(struct sysfs *sfs, struct pci_host *host, unsigned needs);
/* Every function listed, none read (each unread): a command about a few
 * GPUs reads them, their IOMMU groups, and no more (pci_host_read). */
int pci_host_list(struct sysfs *sfs, struct pci_host *host);
/* The functions of the slots of fns read (their identity, driver and
 * group, and needs), then every other member of their IOMMU groups
 * (identity, driver, group).  A function gone since the listing is marked
 * unreadable.  Nothing to do on a host read whole. */
int pci_host_read(struct pci_host *host, const struct pci_addr *fns, size_t n, unsigned needs);
/* fns alone read, not their slots nor their groups' other members: what a
 * rollback of journaled functions needs (their groups, for its locks and
 * the VM scan), with no safety check to feed. */
int pci_host_read_only(struct pci_host *host, const struct pci_addr *fns, size_t n,
		       unsigned needs);
/* Every function still unread (a selector by vendor:device needs them). */
int pci_host_read_all(struct pci_host *host, unsigned needs);
/* More of these functions (enum pci_need): for those a command looks at
 * closely, after a lighter load of the rest. */
int pci_host_fill(struct pci_host *host, const struct pci_addr *fns, size_t n, unsigned needs);
void pci_host_free(struct pci_host *host);

struct pci_func *pci_host_find(const struct pci_host *host, const struct pci_addr *a);
/* The members of an IOMMU group: *count indexes into funcs from the
 * returned pointer (NULL, 0 for a group with none). */
const size_t *pci_host_group(const struct pci_host *host, int group, size_t *count);
/* Index of the first function of the slot of a, and how many it has. */
size_t pci_host_slot(const struct pci_host *host, const struct pci_addr *a, size_t *count);
/* Does this slot hold a display-class function? */
bool pci_host_slot_is_display(const struct pci_host *host, size_t first, size_t count);
/* Display, or holding a function whose class could not be read: such a slot
 * is shown and checked rather than silently left out. */
bool pci_host_slot_maybe_display(const struct pci_host *host, size_t first, size_t count);
bool pci_host_iommu_on(const struct pci_host *host);
