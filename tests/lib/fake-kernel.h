/* An emulated kernel for the engine tests: applies driver_override, unbind,
 * drivers_probe and bind to a fixture tree as the PCI core does, and can
 * fail any chosen write.  Installed as the sysfs layer's write backend. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "fixture.h"
#include "sysfs.h"

enum fk_fault {
	FK_NONE,
	FK_ERRNO,          /* the write fails with err, nothing changes */
	FK_ERRNO_FROM,     /* this write and every later one fail with err */
	FK_WRONG_DRIVER,   /* a probe binds another driver ("nouveau", or fk_wrong_driver's) */
	FK_HANG,           /* the write never returns */
	FK_VANISH,         /* the device disappears, the write fails with ENODEV */
	FK_KILL,           /* the write succeeds, then the writing process is killed */
	FK_HANG_LOCKED,    /* an unbind that never returns, holding the device's lock:
			    * its driver_override reads do not answer either */
	FK_HANG_UNBINDING, /* an unbind that never returns, as 6.12 shows it: the
			    * driver link gone, uevent still naming the driver,
			    * driver_override answering; a probe or bind of the
			    * function does nothing (the kernel's dev->driver is set) */
};

struct fake_kernel;

/* Takes the drivers bound now as each function's default driver. */
struct fake_kernel *fk_new(struct fx *fx, struct sysfs *sfs);
void fk_free(struct fake_kernel *fk);
/* Fault at the at-th write from now on (1-based). */
void fk_fail(struct fake_kernel *fk, int at, enum fk_fault kind, int err);
/* Fault at the at-th write about a function of slot ("0000:01:00") from
 * now on: with several IOMMU groups in flight, the writes of the others
 * come in any order, this slot's in its own. */
void fk_fail_slot(struct fake_kernel *fk, const char *slot, int at, enum fk_fault kind, int err);
/* The first write about a function of slot waits until a write about
 * another slot was made: proof that IOMMU groups are handed over at the
 * same time (handed over one after another, it waits 30 s). */
void fk_rendezvous(struct fake_kernel *fk, const char *slot);
/* driver_override reads wait on a device's lock, as the kernel's do: the
 * sysfs layer then reads them through the writer, as on /sys. */
void fk_locked_reads(struct fake_kernel *fk, bool on);
int fk_writes(const struct fake_kernel *fk);
/* Reads of addr's driver_override never return (NULL: they do again), as
 * when a blocked unbind holds the device's lock. */
void fk_hang_override_reads(struct fake_kernel *fk, const char *addr);
/* The FK_HANG_UNBINDING unbind ends at last: uevent names no driver. */
void fk_finish_unbinding(struct fake_kernel *fk);
/* How many processes took turns at the writes (1: one writer did them
 * all), and the last one's PID. */
int fk_writers(const struct fake_kernel *fk, pid_t *last);
/* The driver FK_WRONG_DRIVER's probe binds (default "nouveau"). */
void fk_wrong_driver(struct fake_kernel *fk, const char *driver);
/* Give vfio-pci dynamic ids, "vvvv dddd\n" lines (as its ids= option does). */
int fk_vfio_ids(struct fake_kernel *fk, const char *ids);
/* "address driver override" of every function, one per line, for comparing
 * a state with another. */
void fk_snapshot(struct sysfs *sfs, char *buf, size_t len);
