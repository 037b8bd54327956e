/* Kernel modules through libkmod: is vfio-pci there for the target kernel. */
#pragma once
#include <stddef.h>
#include "sysfs.h"

enum vfio_avail {
	VFIO_LOADED,     /* its PCI driver is registered now */
	VFIO_BUILTIN,    /* built into the kernel */
	VFIO_MODULE,     /* a module file exists, loaded on demand */
	VFIO_MISSING,
};

/* root: --root prefix (NULL for /); kver: kernel release (NULL: running).
 * detail gets the module path or the modules directory searched. */
int kmodules_vfio_pci(struct sysfs *sfs, const char *root, const char *kver,
		      enum vfio_avail *st, char *detail, size_t len);
/* The running kernel's release (uname -r). */
const char *kmodules_running_release(char *buf, size_t len);
/* Load a module and what it depends on, for the running kernel (no shell,
 * no modprobe binary).  0, or -errno (-ENOENT: no such module). */
int kmodules_load(const char *name);
