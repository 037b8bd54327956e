/* Emulated Linux sysfs trees for the test suite.
 *
 * A tree is a directory ROOT that stands for /sys, laid out the way the
 * kernel lays out PCI sysfs: ROOT/devices/pciDDDD:BB/... nests functions
 * inside their upstream bridges, ROOT/bus/pci/{devices,drivers,slots},
 * ROOT/kernel/iommu_groups, ROOT/class/..., ROOT/module.  Attribute files
 * end in "\n" and every symlink is relative, computed the way kernfs does.
 * Permissions are not emulated: every file is 0644, every directory 0755,
 * so tests can read back what the code under test wrote to bind, unbind,
 * new_id, driver_override...
 *
 * All int functions return 0 or -errno; fx_new returns NULL and sets errno.
 * The library never exits or aborts.
 */
#ifndef VH_TESTS_FIXTURE_H
#define VH_TESTS_FIXTURE_H

#include <stddef.h>

struct fx;

/* dir NULL: a fresh directory under $TMPDIR (default /tmp), removed with
 * everything in it by fx_free.  dir given: the tree is built there (created
 * with its parents if missing, must be empty) and kept by fx_free. */
struct fx *fx_new(const char *dir);
/* Absolute path of ROOT. */
const char *fx_root(const struct fx *fx);
/* The tree's root directory, open for the life of the fixture. */
int fx_rootfd(const struct fx *fx);
void fx_free(struct fx *fx);

struct fx_func {
	const char *addr;		/* "0000:01:00.0", lowercase hex */
	const char *parent;		/* upstream bridge address, NULL: root bus */
	unsigned vendor, device, subvendor, subdevice;
	unsigned class;			/* 24-bit, 0x030000 */
	unsigned revision;
	const char *driver;		/* NULL: no driver */
	int iommu_group;		/* -1: none */
	/* boot_vga exists only for class 0x0300xx (as in the kernel) and
	 * then reads "1" when boot_vga is 1, "0" otherwise (-1 or 0); it is
	 * never created for other classes. */
	int boot_vga;
	const char *reset_method;	/* NULL: attribute absent */
	const char *max_speed, *cur_speed;	/* NULL: absent */
	int max_width, cur_width;	/* 0: absent */
};

/* Adds a function; its parent must exist already.  -EEXIST for a
 * duplicate address, -ENOENT for an unknown parent, -EINVAL for a bad
 * address or driver name. */
int fx_add_func(struct fx *fx, const struct fx_func *f);
/* Writes ROOT/.../<addr>/<attr> with content verbatim (no newline added);
 * attr may be a relative path inside the function dir ("power/control").
 * content NULL removes the file or link (no error if it is absent). */
int fx_set_attr(struct fx *fx, const char *addr, const char *attr,
		const char *content);
/* Rebinds: fixes <fn>/driver and ROOT/bus/pci/drivers/<drv>/<addr> and the
 * uevent DRIVER= line; NULL unbinds. */
int fx_set_driver(struct fx *fx, const char *addr, const char *driver);
/* node "card0" or "renderD128" */
int fx_add_drm(struct fx *fx, const char *addr, const char *node,
	       unsigned major, unsigned minor);
/* sound/card<card> with controlC<card> (116:control_minor), hwC<card>D0
 * and pcmC<card>D{3,7,8,9}p on the following minors. */
int fx_add_sound(struct fx *fx, const char *addr, int card,
		 unsigned control_minor);
int fx_add_net(struct fx *fx, const char *addr, const char *ifname, int up);
/* disk "nvme0n1" under nvme/nvme0, plus partition nvme0n1p1 (minor + 1) */
int fx_add_nvme(struct fx *fx, const char *addr, const char *disk,
		unsigned major, unsigned minor);
/* ataN/hostH/targetH:0:0/H:0:0:0/block/<disk>, plus <disk>1 (minor + 1) */
int fx_add_sata(struct fx *fx, const char *addr, const char *disk,
		unsigned major, unsigned minor);
/* ROOT/bus/pci/slots/<name>/address = "<slot_addr>\n" ("0000:01:00") */
int fx_add_slot(struct fx *fx, const char *name, const char *slot_addr);
/* A loaded driver with nothing bound (e.g. "vfio-pci"), with its module. */
int fx_add_driver(struct fx *fx, const char *driver);
/* Builds a named layout; -ENOENT if unknown. */
int fx_layout(struct fx *fx, const char *name);
/* NULL-terminated */
const char *const *fx_layout_names(void);

/* Extra helpers. */

/* Creates (or replaces) <fn>/<name> as a relative symlink to target, a path
 * relative to ROOT that need not exist ("kernel/iommu_groups/99"). */
int fx_set_link(struct fx *fx, const char *addr, const char *name,
		const char *target);
/* Absolute path of the function's directory into buf. */
int fx_func_path(const struct fx *fx, const char *addr, char *buf,
		 size_t len);
/* Number of PCI functions added so far. */
size_t fx_count(const struct fx *fx);

#endif
