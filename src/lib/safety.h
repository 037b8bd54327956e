/* The safety rules: what makes a hand-over of the selected GPUs unsafe.
 * `check` reports them; `bind` refuses on them (SPEC, "Safety refusals"). */
#pragma once
#include "pci-host.h"

/* A member of a selected GPU's IOMMU group that would go along with it. */
struct group_intruder {
	struct pci_addr member;
	struct pci_addr via;        /* the selected function sharing the group */
	int group;
	char driver[64];
};

/* Every function of the selected slots (fn = 0 addresses), in order. */
int safety_slot_functions(const struct pci_host *host, const struct pci_addr *slots,
			  size_t nslots, struct pci_addr **fns, size_t *nfns);
/* The functions of the slots and every other member of their IOMMU groups. */
int safety_group_closure(const struct pci_host *host, const struct pci_addr *slots,
			 size_t nslots, struct pci_addr **fns, size_t *nfns);
bool safety_in_slots(const struct pci_addr *slots, size_t nslots, const struct pci_addr *a);
/* vfio accepts a group member that is a bridge or on vfio-pci, pci-stub or no driver. */
bool safety_member_tolerated(const struct pci_func *f);
/* What the user selected: whole GPUs (slots), and the functions named by
 * their own address (which alone bring a slot's non-GPU functions along). */
struct selection {
	const struct pci_addr *slots;
	size_t nslots;
	const struct pci_addr *named;
	size_t nnamed;
};
/* Is this function part of the selection?  Every function of a selected
 * slot, except that a GPU's slot brings its non-GPU functions (a NIC) along
 * only when they are named by their own address. */
bool safety_selected(const struct pci_host *host, const struct selection *sel,
		     const struct pci_func *f);
/* Members of the selection's groups that are neither selected nor tolerated. */
int safety_group_intruders(const struct pci_host *host, const struct selection *sel,
			   struct group_intruder **out, size_t *n);

/* Which FAILed check items refuse a hand-over (SPEC, "Safety refusals"):
 * the one table of refusals.  --force passes only the forceable ones. */
enum refusal {
	REFUSAL_NONE,        /* a warning, or a failure bind deals with itself */
	REFUSAL_FORCEABLE,   /* boot VGA, device node held open */
	REFUSAL_HARD,        /* IOMMU off, group not viable, host disk or NIC, unreadable */
};
struct check_item;
enum refusal safety_refusal(const struct check_item *it);
