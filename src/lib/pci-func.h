/* The PCI function model: what the tool knows of one function, read from sysfs. */
#pragma once
#include <stdbool.h>
#include "pci-addr.h"
#include "sysfs.h"

/* Attributes that could not be read or did not parse. */
enum pci_attr_bit {
	PCI_BAD_VENDOR = 1u << 0,
	PCI_BAD_DEVICE = 1u << 1,
	PCI_BAD_SUBVENDOR = 1u << 2,
	PCI_BAD_SUBDEVICE = 1u << 3,
	PCI_BAD_CLASS = 1u << 4,
	PCI_BAD_MODALIAS = 1u << 5,
	PCI_BAD_OVERRIDE = 1u << 6,
	PCI_BAD_IOMMU_GROUP = 1u << 7,
	PCI_BAD_LINK = 1u << 8,
	PCI_BAD_DRIVER = 1u << 9,
};

/* What a load reads beyond the function's identity (ids, class,
 * modalias), its driver and its IOMMU group, which it always reads: each
 * command asks for what it shows or checks, no more. */
enum pci_need {
	PCI_NEED_OVERRIDE = 1u << 0,    /* driver_override (read through the writer on /sys) */
	PCI_NEED_BOOT_VGA = 1u << 1,    /* of a display function */
	PCI_NEED_REVISION = 1u << 2,
	PCI_NEED_RESET = 1u << 3,       /* reset_method, reset */
	PCI_NEED_LINK = 1u << 4,        /* link speeds and widths */
	PCI_NEED_UPSTREAM = 1u << 5,    /* the bridge or port above */
	PCI_NEED_ALL = (1u << 6) - 1,
};

struct pci_link {
	double cur_gts, max_gts;     /* GT/s; 0: unknown */
	int cur_width, max_width;    /* lanes; 0: unknown */
};

struct pci_func {
	struct pci_addr addr;
	unsigned vendor, device, subvendor, subdevice;
	unsigned class;              /* 24 bits: base, sub, prog-if */
	unsigned revision;
	char driver[64];             /* "" when unbound */
	bool vfio;                   /* that driver is a VFIO driver: vfio-pci or a
				      * variant (sysfs_driver_vfio) */
	char override[SYSFS_ATTR_MAX]; /* driver_override, "" when unset or not
					* read whole (PCI_BAD_OVERRIDE) */
	char modalias[128];
	int boot_vga;                /* -1: no such attribute */
	int iommu_group;             /* -1: none */
	char reset_method[64];       /* "" when unknown */
	bool has_reset_method;       /* reset_method attribute present */
	bool has_reset;              /* "reset" attribute present (older kernels) */
	struct pci_link link;
	bool blocked;                /* a driver's unbind (or bind) of it has not returned:
				      * driver_override or uevent did not answer within
				      * the limit (the device's lock is held), or ... */
	char unbinding[64];          /* ... the kernel still names this driver (uevent's
				      * DRIVER=) while the driver link is gone: its
				      * remove() is under way (blocked stays set) */
	bool has_upstream;
	struct pci_addr upstream;    /* the bridge or port above, if any */
	unsigned bad;                /* enum pci_attr_bit */
	unsigned loaded;             /* enum pci_need: what was read beyond the identity */
	bool unread;                 /* listed only (pci_host_list): nothing read yet */
};

/* Everything (PCI_NEED_ALL). */
int pci_func_load(struct sysfs *sfs, const struct pci_addr *a, struct pci_func *f);
/* The identity, driver and IOMMU group, and what needs asks. */
int pci_func_load_needs(struct sysfs *sfs, const struct pci_addr *a, struct pci_func *f,
			unsigned needs);
/* What a read-back asks of a function the run already knows: its driver
 * (and whether it is a VFIO driver) always, and these; the identity, the
 * group and the rest are not read (f->unread stays set: f is no model of
 * the function, only of where it is now). */
enum pci_state {
	PCI_STATE_OVERRIDE = 1u << 0,   /* driver_override, and an unbind under way */
	PCI_STATE_MODALIAS = 1u << 1,   /* still the same device? */
};
int pci_func_load_state(struct sysfs *sfs, const struct pci_addr *a, struct pci_func *f,
			unsigned state);
/* What needs asks and f does not have yet. */
int pci_func_load_more(struct sysfs *sfs, struct pci_func *f, unsigned needs);
/* For loading many at once (pci_host_load): driver_override read for all
 * of them in one go, then given to each with its read's result. */
void pci_func_take_override(struct pci_func *f, int err);
/* Where the kernel shows no driver link, is a driver's unbind of f still
 * under way?  On a live tree (and an emulated one that says so), after
 * driver_override: kernels that show driver_override without the device's
 * lock (6.12) answer it during a blocked unbind, but uevent's DRIVER=
 * still names the driver being removed. */
void pci_func_check_unbinding(struct sysfs *sfs, struct pci_func *f);

static inline unsigned pci_base_class(const struct pci_func *f) { return f->class >> 16; }
static inline unsigned pci_class16(const struct pci_func *f) { return f->class >> 8; }
bool pci_func_is_display(const struct pci_func *f);
bool pci_func_is_bridge(const struct pci_func *f);
/* A function a GPU board carries: display, its HDMI/DP audio, USB-C and
 * UCSI, an accelerator.  Anything else in a GPU's slot (a NIC, a disk
 * controller) goes along only when named by its own address. */
bool pci_func_is_gpu_part(const struct pci_func *f);
/* "vfio" (on vfio-pci or a VFIO variant driver), "stub" (pci-stub),
 * "unbound", "host" */
const char *pci_func_state(const struct pci_func *f);
/* "10de:27b0", with ???? for what could not be read. */
const char *pci_func_id_text(const struct pci_func *f, char buf[10]);
const char *pci_func_subsys_text(const struct pci_func *f, char buf[10]);
/* Names of the attributes in f->bad, comma separated, into buf. */
const char *pci_func_bad_names(unsigned bad, char *buf, size_t len);
/* Parse "16.0 GT/s PCIe" (or "16 GT/s"); 0 when unknown. */
double pci_parse_speed(const char *s);
int pci_speed_gen(double gts);
