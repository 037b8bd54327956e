/* VFIO variant drivers: the vfio driver made for a device (nvgrace_gpu_vfio_pci
 * for a Grace Hopper GPU, mlx5_vfio_pci for a ConnectX function, ...),
 * chosen by the device's modalias through the kernel's own module index.
 *
 * Since Linux 5.15 a PCI driver may list ids that match only through
 * driver_override ("override only"); Kbuild writes them to modules.alias
 * with a "vfio_" prefix:
 *     alias vfio_pci:v000015B3d00001021sv*sd*bc*sc*i* mlx5_vfio_pci
 * vfio-pci itself matches every device that way:
 *     alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
 * So "vfio_" + a function's modalias, looked up in the index, gives every
 * vfio driver that takes the function, vfio-pci among them; the one whose
 * matching alias has the fewest wildcards ('*') is made for it, as libvirt
 * (virPCIDeviceFindBestVFIOVariant) and NVIDIA's tools choose.  A tie goes
 * to vfio-pci, then to the module name first in byte order: the choice
 * never depends on the order of the index. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "kmodules.h"

#define VFIO_PCI_MODULE "vfio_pci"
#define VFIO_PCI_DRIVER "vfio-pci"

/* A vfio driver for a function, as the index says. */
struct vfio_pick {
	char module[64];        /* "vfio_pci", "nvgrace_gpu_vfio_pci" */
	char alias[256];        /* its vfio_pci: alias that matched ("" if its
				 * aliases could not be read) */
	int wildcards;          /* the '*' in that alias */
};

/* Is the pick a variant, not vfio-pci itself? */
bool vfio_pick_variant(const struct vfio_pick *p);
/* --driver auto: the most specific vfio driver for modalias ("pci:v..."),
 * vfio-pci when no variant matches.  -ENOENT when nothing matches, not
 * even vfio-pci (that kernel has no vfio-pci); -EINVAL for a modalias
 * that is not a PCI one. */
int vfio_variant_auto(struct kmodules_index *ix, const char *modalias, struct vfio_pick *p);
/* --driver NAME: the module NAME (or what NAME is an alias of) takes the
 * function through one of its vfio_pci: aliases.  0 and p set;
 * -ENOENT: the index has no such module; -EDOM: none of its vfio_pci:
 * aliases matches the function's modalias (aliases gets them, separated
 * by ", ", "" when it has none: not a vfio driver at all). */
int vfio_variant_named(struct kmodules_index *ix, const char *name, const char *modalias,
		       struct vfio_pick *p, char *aliases, size_t len);

/* Devices known to need their variant driver, for check's warning when
 * the target kernel has none: on plain vfio-pci the VM gets a broken
 * device (a Grace Hopper GPU's memory is not exposed as its driver needs). */
struct vfio_known_variant {
	unsigned vendor, device;
	const char *module;     /* the variant driver's module */
	const char *model;      /* "GH200 (Grace Hopper)" */
	const char *since;      /* the Linux release that has it for this device, or NULL */
	const char *kernel;     /* the kernel it takes, for a fix: "Linux 6.9 or later for
				 * arm64, built with CONFIG_NVGRACE_GPU_VFIO_PCI" */
};
const struct vfio_known_variant *vfio_known_variant(unsigned vendor, unsigned device);
