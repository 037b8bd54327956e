/* Kernel modules through libkmod: is vfio-pci there for the target kernel. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "sysfs.h"

enum vfio_avail {
	VFIO_LOADED,     /* its PCI driver is registered now */
	VFIO_BUILTIN,    /* built into the kernel */
	VFIO_MODULE,     /* a module file exists, loaded on demand */
	VFIO_MISSING,
};

/* root: --root prefix (NULL for /); kver: kernel release (NULL: running,
 * whose registered driver counts as loaded; another kernel is looked up in
 * its module index only).  detail gets the module path or the modules
 * directory searched. */
int kmodules_vfio_pci(struct sysfs *sfs, const char *root, const char *kver,
		      enum vfio_avail *st, char *detail, size_t len);
/* The running kernel's release (uname -r). */
const char *kmodules_running_release(char *buf, size_t len);
/* Load a module and what it depends on, for the running kernel (no shell,
 * no modprobe binary); for an alias (a modalias), every module it resolves
 * to, as modprobe does.  0 when one is in, or -errno (-ENOENT: no such
 * module). */
int kmodules_load(const char *name);

/* Where a module is for a kernel: a file, built in, or not there. */
enum kmod_where {
	KMOD_FILE,
	KMOD_BUILTIN,
	KMOD_ABSENT,
};
/* Look name up (aliases too) in ROOT/lib/modules/KVER with libkmod.
 * path (may be NULL) gets the module file.  0, -ENOENT when that
 * directory has no module index, -ENOPKG without libkmod, or -errno. */
int kmodules_lookup(const char *root, const char *kver, const char *name,
		    enum kmod_where *where, char *path, size_t len);
/* The module index of ROOT/lib/modules/KVER, opened with libkmod for
 * several look-ups (vfio-variant.h).  0, -ENOENT when that directory has no
 * module index, -ENOPKG without libkmod, or -errno. */
struct kmod_ctx;
struct kmodules_index {
	struct kmod_ctx *ctx;
	int dfd;                /* the directory, open while libkmod reads it */
	char shown[4096];       /* its path, for messages */
};
int kmodules_index_open(const char *root, const char *kver, struct kmodules_index *ix);
void kmodules_index_close(struct kmodules_index *ix);
/* The newest kernel release with a directory under ROOT/lib/modules
 * (version order); -ENOENT if none. */
int kmodules_newest_release(const char *root, char *buf, size_t len);
/* Every kernel release with a directory under ROOT/lib/modules, in version
 * order: a malloc'ed, NULL-terminated list (free with kmodules_free_list);
 * an empty list when there is no such directory. */
int kmodules_releases(const char *root, char ***list);
void kmodules_free_list(char **list);
/* kmod treats '-' and '_' in module names alike. */
bool kmodules_name_eq(const char *a, const char *b);
