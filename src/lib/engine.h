/* The hand-over engine: the kernel sequence of SPEC per function, the
 * journal written before the first change and after every step, and the
 * exact undo (recorded driver and driver_override, read back). */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include "journal.h"
#include "pci-host.h"

enum engine_outcome {
	ENGINE_DONE,         /* every function where asked, read back */
	ENGINE_FAILED,       /* failed, and every function is back as it was */
	ENGINE_UNRESTORED,   /* failed, and the undo failed too */
};

/* What went wrong first: the write, its device, the error. */
struct engine_fault {
	struct pci_addr fn;
	char what[512];      /* "write 0000:01:00.0 to .../driver/unbind" */
	int err;             /* -errno; -ETIMEDOUT when the kernel did not return */
};

struct engine {
	struct sysfs *sfs;
	const char *root;    /* where the journal lives (--root) */
	int timeout_ms;
	bool dry_run;        /* print each write on out, change nothing */
	FILE *out;
	/* --dry-run: each step the engine would take is told here instead of
	 * printed on out: a write (path, value), or a module it would load
	 * (path NULL, value the module or alias); text is the line it would
	 * print.  NULL: printed on out. */
	void (*plan)(void *data, const char *path, const char *value, const char *text);
	void *plan_data;
	struct journal *journal;
	/* bind: the driver each function (of fns, by index) is handed to, as
	 * the kernel names it (vfio-pci, or a variant: nvgrace_gpu_vfio_pci);
	 * NULL: vfio-pci for all */
	const char *const *drivers;
	/* Optional: each function of fns (by index) as the caller read it
	 * under the locks, or NULL.  bind takes one read with its
	 * driver_override as the state it records; rollback takes the IOMMU
	 * groups.  What is not there is read here. */
	const struct pci_func *const *known;
	/* rollback: load a module (or the modules of an alias, as modprobe
	 * does) into the running kernel, 0 or -errno: kmodules_load, or a
	 * test's emulation.  NULL where none can be loaded (a captured tree). */
	int (*load_module)(const char *name);
	struct engine_fault fault;
	int writes;          /* kernel writes made (or printed) */
};

/* Hand the functions over to vfio-pci, or each to its driver of
 * e->drivers.  Functions already on a VFIO driver are left alone.  On failure every function of fns that the journal holds
 * (this run's, and any a killed run left) is given back in reverse and
 * read back: ENGINE_FAILED only when each one is as the journal recorded. */
enum engine_outcome engine_bind(struct engine *e, const struct pci_addr *fns, size_t n);

/* Give the functions back: to the driver and driver_override the journal
 * recorded; a function without an entry gets its override cleared and is
 * left to the kernel's choice.  Entries are removed once read back.
 * First, before any write: every recorded driver that is not registered
 * has its module loaded and is waited for (within timeout_ms); when one
 * cannot be had, ENGINE_FAILED with nothing written. */
enum engine_outcome engine_rollback(struct engine *e, const struct pci_addr *fns, size_t n);
