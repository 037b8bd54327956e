/* A small sysfs tree (and --root, and /proc stand-in) decoded from text,
 * for the fuzz targets that read a whole tree.  One line per fact:
 *
 *   fn NAME [PARENT]        a PCI function: devices/pci0000:00/[PARENT/]NAME,
 *                           with bus/pci/devices/NAME a link to it
 *   fndir NAME              a function that is a plain directory in bus/pci/devices
 *   vendor VALUE            an attribute of the last function (also device,
 *                           subsystem_vendor, subsystem_device, class, revision,
 *                           modalias, boot_vga, driver_override, reset_method,
 *                           reset, max_link_speed, current_link_speed,
 *                           max_link_width, current_link_width), written
 *                           with a newline as the kernel does
 *   driver NAME             its driver link, and bus/pci/drivers/NAME
 *   module NAME             that driver's module link
 *   group N                 its iommu_group link, and kernel/iommu_groups/N/devices/FN
 *   grouplink TEXT          only the link, to kernel/iommu_groups/TEXT
 *   child SUBSYS PATH [DEV] a class device below the function (subsystem link,
 *                           dev file "MAJ:MIN" when DEV is given)
 *   cattr NAME VALUE        an attribute of the last class device (flags, operstate)
 *   holder DISK NAME        class/block/DISK/holders/NAME
 *   slot NAME ADDRESS       bus/pci/slots/NAME/address
 *   loaded NAME             a registered driver: bus/pci/drivers/NAME
 *   env LINE                a line of ROOT/etc/aleph-vm/supervisor.env
 *   conf LINE               a line of a devices.conf (kept in memory)
 *   sel TEXT                a selector (kept in memory)
 *   mount LINE, swap LINE   lines of PROC/self/mountinfo and PROC/swaps
 *   nvidia LINE             a line of PROC/driver/nvidia/gpus/FN/information
 *   refusals                check only what can refuse a hand-over
 *
 * Arguments are separated by one space; in them \n \t \s (space) \\ and
 * \xHH stand for those bytes.  A line that does not make sense is skipped.
 * Names are single path components other than "." and "..", and every link
 * made is relative and resolves inside the tree: nothing read through the
 * tree can lead out of the scratch directory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct tree {
	int basefd;             /* the scratch directory holding sys/, root/, proc/ */
	char *sys, *root, *proc;/* absolute paths */
	bool has_proc;          /* a line made something under proc/ */
	bool refusals_only;
	char *conf;             /* the "conf" lines, each ending in '\n' */
	char **sels;            /* the "sel" texts */
	size_t nsels;
};

/* Make (once per process) the scratch directory the trees are built in. */
int tree_init(struct tree *t, const char *name);
/* Empty the scratch directory, then build the tree the text describes. */
int tree_build(struct tree *t, const char *text, size_t len);
/* Forget the in-memory parts of the last tree (the files stay until the next build). */
void tree_reset(struct tree *t);
/* Write content to rel (relative to the scratch directory, the file only,
 * never through a link) as it is: for targets that change one file. */
int tree_write(struct tree *t, const char *rel, const void *content, size_t len);
