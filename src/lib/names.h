/* Human names of PCI functions from the udev hwdb, the names lspci shows. */
#pragma once
#include "pci-func.h"

struct names;

struct func_names {
	char vendor[128];      /* "NVIDIA Corporation" or "" */
	char device[160];      /* "AD104GL [RTX 4000 SFF Ada Generation]" or "" */
	char class_name[64];   /* "VGA compatible controller", always set */
	char subvendor[128];   /* the subsystem vendor's name or "" */
};

/* NULL where no hwdb exists: every lookup then falls back to ids. */
struct names *names_open(void);
void names_close(struct names *n);
void names_lookup(struct names *n, const struct pci_func *f, struct func_names *out);
/* "NVIDIA Corporation AD104GL [...]", "NVIDIA Corporation Device", or ""
 * when the hwdb does not know the vendor. */
const char *names_describe(const struct func_names *fn, char *buf, size_t len);
