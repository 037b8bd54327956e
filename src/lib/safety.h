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
/* vfio accepts a group member that is a bridge or on a VFIO driver (vfio-pci
 * or a variant), pci-stub or no driver. */
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

/* Check items and refusals, by identity: what `check` reports, what bind,
 * persist, rollback and apply refuse on.  Their text is for people; the
 * code decides by these, and --json names them by check_id_name(). */
enum check_id {
	CHECK_IOMMU,         /* the kernel made IOMMU groups */
	CHECK_VFIO_PCI,      /* vfio-pci for the target kernel */
	CHECK_BOOT,          /* what apply did at this boot (its record) */
	CHECK_UDEV_RULE,     /* persist's udev rule says what devices.conf lists */
	CHECK_SYSFS,         /* every attribute of the GPU's functions reads */
	CHECK_GROUP,         /* the IOMMU group holds nothing else with a host driver */
	CHECK_BOOT_VGA,      /* not the firmware's console */
	CHECK_IN_USE,        /* no process holds a device node of the GPU */
	CHECK_HOST_USE,      /* no mounted disk or live NIC in the group */
	CHECK_PCIE_LINK,     /* PCIe 4.0 x16 possible */
	CHECK_MODEL,         /* a model Aleph nodes offer */
	CHECK_RESET,         /* the GPU can be reset between VMs */
	CHECK_ALEPH,         /* the Aleph supervisor's settings */
	CHECK_ALEPH_VENDOR,  /* no display controller on vfio-pci aleph-vm's detection raises on */
	CHECK_ALEPH_QEMU,    /* the QEMU aleph-vm runs GPU instances with: 9.0 or later */
	/* lines of a hand-made VFIO setup (leftovers.h): persist refuses on them */
	CHECK_IDS_BINDING,   /* hands devices to vfio-pci by ids or modalias */
	CHECK_BLACKLIST,     /* keeps a host driver from loading */
	CHECK_SOFTDEP,       /* vfio-pci before a host driver, outside vfio-handover's file */
	CHECK_MODULE_LINE,   /* not a line a module list can read */
	CHECK_VFIO_DRIVER,   /* the VFIO driver for each function (--driver; auto's choice) */
	/* refusals that are no item of `check` */
	CHECK_VM_RUNNING,    /* rollback: a VM holds the IOMMU group */
	CHECK_AMBIGUOUS,     /* apply: a persisted function could be several present ones */
	CHECK_ALEPH_DRIVER, /* --aleph: a function would go to a variant, which the
			      * supervisor does not count */
	CHECK_ID_COUNT
};

/* Which FAILed items refuse a hand-over (SPEC, "Safety refusals").
 * --force passes only the forceable ones. */
enum refusal {
	REFUSAL_NONE,        /* a warning, or a failure bind deals with itself */
	REFUSAL_FORCEABLE,   /* boot VGA, device node held open */
	REFUSAL_HARD,        /* IOMMU off, group not viable, host disk or NIC, unreadable */
};

/* The stable id ("boot-vga"), a title ("boot VGA device"), and the
 * refusal kind of a failure: one table, in safety.c. */
const char *check_id_name(enum check_id id);
const char *check_id_title(enum check_id id);
enum refusal check_id_refusal(enum check_id id);
struct check_item;
enum refusal safety_refusal(const struct check_item *it);
