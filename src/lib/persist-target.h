/* What `persist` learns before it writes: each function's identity as the
 * next boot will see it, and the facts of the target system that decide
 * the files' content (kernel, initramfs builder, modules, ids). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "journal.h"
#include "pci-host.h"
#include "persist.h"

/* Ids, platform slot and bridge chain of a function, from sysfs. */
int persist_fn_load(struct sysfs *sfs, const struct pci_func *f, struct persist_fn *out);

/* The bridge chain "0000:00:01.0/0000:01:00.0" from a device link target
 * ("../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"). */
int persist_chain_from_link(const char *target, char *buf, size_t len);

struct persist_facts {
	char kernel[256];
	const char *kernel_from;        /* "--kernel", "newest under ROOT/lib/modules", "running" */
	bool dracut;
	bool vfio_builtin;
	bool has_virqfd;                /* the files list vfio_virqfd (see virqfd_lacking) */
	char virqfd_lacking[256];       /* another installed kernel without vfio_virqfd,
					 * which keeps it off the shared lists; "" if none */
	bool ids_exclusive;
	char ids_reason[512];
	char **softdeps;                /* NULL-terminated, malloc'ed */
	char **variants;                /* the VFIO variant drivers' modules of the persisted
					 * functions that the kernel has: NULL-terminated,
					 * malloc'ed (NULL: none) */
};

/* The target kernel: kernel_opt, else for a --root other than "/" the
 * newest under ROOT/lib/modules, else the running one.  Then the
 * modules of that kernel through libkmod, and of every other kernel
 * under ROOT/lib/modules for vfio_virqfd: the module lists are one file
 * for all of them.  *why says what failed. */
int persist_facts_kernel(const char *root, const char *kernel_opt, struct persist_facts *pf,
			 char *why, size_t len);
/* dracut builds the initramfs: its binary is there, update-initramfs not. */
bool persist_detect_dracut(const char *root);
/* Whether vendor:device ids of fns[] match a present function outside fns[];
 * the reason names the first one that does. */
void persist_facts_ids(const struct pci_host *h, const struct pci_addr *fns, size_t n,
		       struct persist_facts *pf);
/* The modules to softdep on vfio-pci, added to pf->softdeps: the module of
 * each function's host driver (the journal's record for a function already
 * on vfio-pci), and the usual GPU drivers. */
int persist_facts_softdeps(struct sysfs *sfs, const struct pci_host *h, struct journal *j,
			   const struct pci_addr *fns, size_t n, struct persist_facts *pf);
/* The drivers a GPU's functions are commonly claimed by at boot, which
 * persist softdeps on vfio-pci whatever the host has now: NULL-terminated. */
const char *const *persist_usual_gpu_modules(void);
/* Add modules to softdep (those an earlier persist wrote), keeping the
 * order: the list is built from them first. */
int persist_facts_add_softdeps(struct persist_facts *pf, char *const *mods);
/* Add a variant's module to pf->variants, once. */
int persist_facts_add_variant(struct persist_facts *pf, const char *module);
void persist_facts_free(struct persist_facts *pf);
