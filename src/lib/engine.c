#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "log.h"
#include "sysfs.h"

#define VFIO_DRIVER "vfio-pci"

__attribute__((format(printf, 4, 5)))
static void note_fault(struct engine *e, const struct pci_addr *a, int err, const char *fmt, ...)
{
	va_list ap;

	if (e->fault.err)
		return;             /* the first failure is the one to report */
	e->fault.fn = *a;
	e->fault.err = err;
	va_start(ap, fmt);
	vsnprintf(e->fault.what, sizeof(e->fault.what), fmt, ap);
	va_end(ap);
}

/* Paths are for messages: a long --sysfs root is cut, never overflowed. */
__attribute__((format(printf, 3, 4)))
static void fmt_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* --dry-run: the one place the engine describes a step it would take. */
__attribute__((format(printf, 4, 5)))
static void plan_step(struct engine *e, const char *path, const char *value, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (e->plan)
		e->plan(e->plan_data, path, value, text);
	else if (e->out)
		fprintf(e->out, "%s\n", text);
}

/* -v: each kernel write as it returns, so a slow one shows in the timings */
static void trace_write(const struct engine *e, int err, const char *val, const char *path)
{
	if (!e->dry_run)
		log_debug("wrote %s to %s: %s", val, path, err ? strerror(-err) : "ok");
}

/* One kernel write, or its description under --dry-run. */
static int write_dev(struct engine *e, const struct pci_addr *a, const char *attr, const char *val)
{
	char ab[PCI_ADDR_LEN], path[512];
	int err = 0;

	fmt_path(path, sizeof(path), "%s/bus/pci/devices/%s/%s", e->sfs->root, pci_addr_fmt(a, ab), attr);
	e->writes++;
	if (e->dry_run)
		plan_step(e, path, val, "write %-14s to %s", strcmp(val, "\n") ? val : "\"\\n\"", path);
	else
		err = sysfs_dev_write(e->sfs, a, attr, val, e->timeout_ms);
	trace_write(e, err, strcmp(val, "\n") ? val : "a newline", path);
	if (err)
		note_fault(e, a, err, "write %s to %s", strcmp(val, "\n") ? val : "a newline", path);
	return err;
}

static int write_probe(struct engine *e, const struct pci_addr *a)
{
	char ab[PCI_ADDR_LEN], path[512];
	int err = 0;

	fmt_path(path, sizeof(path), "%s/bus/pci/drivers_probe", e->sfs->root);
	pci_addr_fmt(a, ab);
	e->writes++;
	if (e->dry_run)
		plan_step(e, path, ab, "write %-14s to %s", ab, path);
	else
		err = sysfs_probe(e->sfs, a, e->timeout_ms);
	trace_write(e, err, ab, path);
	if (err)
		note_fault(e, a, err, "write %s to %s", ab, path);
	return err;
}

static int write_driver(struct engine *e, const char *driver, const char *attr,
			const struct pci_addr *a)
{
	char ab[PCI_ADDR_LEN], path[512];
	int err = 0;

	fmt_path(path, sizeof(path), "%s/bus/pci/drivers/%s/%s", e->sfs->root, driver, attr);
	pci_addr_fmt(a, ab);
	e->writes++;
	if (e->dry_run)
		plan_step(e, path, ab, "write %-14s to %s", ab, path);
	else
		err = sysfs_driver_write(e->sfs, driver, attr, a, e->timeout_ms);
	trace_write(e, err, ab, path);
	if (err)
		note_fault(e, a, err, "write %s to %s", ab, path);
	return err;
}

/* Read a function's state now; a function that is gone is the fault. */
static int load_now(struct engine *e, const struct pci_addr *a, struct pci_func *now)
{
	int err = pci_func_load(e->sfs, a, now);

	if (err)
		note_fault(e, a, err, "read the device: it is gone");
	return err;
}

/* A driver_override that could not be read is unknown, never "unset":
 * nothing may be written to the function, nor may it pass as restored. */
static int override_known(struct engine *e, const struct pci_func *f)
{
	if (!(f->bad & PCI_BAD_OVERRIDE))
		return 0;
	if (f->blocked) {           /* a blocked unbind holds the device's lock */
		note_fault(e, &f->addr, -ETIMEDOUT, "read its driver_override: the device is "
			   "locked by an unbind that has not returned (wait for it to finish: stop "
			   "what holds the device)");
		return -ETIMEDOUT;
	}
	note_fault(e, &f->addr, -EIO, "read its driver_override whole (the read failed, or it is "
		   "longer than %zu bytes)", sizeof(f->override) - 2);
	return -EIO;
}

/* The function as it is now, its driver_override known. */
static int load_known(struct engine *e, const struct pci_addr *a, struct pci_func *now)
{
	int err = load_now(e, a, now);

	return err ? err : override_known(e, now);
}

/* What the journal records of f is exact, or nothing is written: its
 * driver known and a name it can be bound back to by, its driver_override
 * known and one that can be written back as it was. */
static int recordable(struct engine *e, const struct pci_func *f)
{
	int err = override_known(e, f);

	if (err)
		return err;
	if (f->bad & PCI_BAD_DRIVER) {
		note_fault(e, &f->addr, -EIO, "read its driver link, to record it");
		return -EIO;
	}
	if (f->driver[0] && !sysfs_valid_driver_name(f->driver)) {
		note_fault(e, &f->addr, -EINVAL, "record its driver %s: not a name rollback can "
			   "bind it back by", f->driver);
		return -EINVAL;
	}
	if (f->override[0] && !journal_override_valid(f->override)) {
		note_fault(e, &f->addr, -EINVAL, "record its driver_override (%zu bytes): it could "
			   "not be restored exactly (it holds control characters or bytes past "
			   "ASCII); clear it (write a newline to it) and bind again",
			   strlen(f->override));
		return -EINVAL;
	}
	return 0;
}

static int save(struct engine *e, const struct pci_addr *a)
{
	int err;

	if (e->dry_run)
		return 0;
	err = journal_save(e->root, e->journal);
	if (err)
		note_fault(e, a, err, "write the journal %s/state.json", JOURNAL_DIR);
	return err;
}

static int set_step(struct engine *e, struct journal_entry *je, enum handover_step s)
{
	je->step = s;
	return save(e, &je->addr);
}

/* Read back: on vfio-pci, and still the same device (modalias unchanged). */
static int verify_on_vfio(struct engine *e, const struct pci_func *before)
{
	struct pci_func now;
	int err = load_now(e, &before->addr, &now);

	if (err)
		return err;
	if (strcmp(now.driver, VFIO_DRIVER) != 0) {
		note_fault(e, &before->addr, -EPROTO, "read back the driver: %s instead of %s",
			   now.driver[0] ? now.driver : "none", VFIO_DRIVER);
		return -EPROTO;
	}
	if (strcmp(now.modalias, before->modalias) != 0) {
		note_fault(e, &before->addr, -EPROTO, "read back the modalias: %s, was %s",
			   now.modalias, before->modalias);
		return -EPROTO;
	}
	return 0;
}

static int bind_one(struct engine *e, const struct pci_func *f, struct journal_entry *je)
{
	char ab[PCI_ADDR_LEN];
	int err;

	pci_addr_fmt(&f->addr, ab);
	err = write_dev(e, &f->addr, "driver_override", VFIO_DRIVER);
	if (!err)
		err = set_step(e, je, STEP_OVERRIDE);
	if (!err && f->driver[0])
		err = write_dev(e, &f->addr, "driver/unbind", ab);
	if (!err)
		err = set_step(e, je, STEP_UNBOUND);
	if (!err)
		err = write_probe(e, &f->addr);
	if (!err)
		err = set_step(e, je, STEP_PROBED);
	if (!err && !e->dry_run)
		err = verify_on_vfio(e, f);
	if (!err)
		err = set_step(e, je, STEP_VERIFIED);
	return err;
}

/* Put one function back on driver (or none) with driver_override as it was,
 * and read it back. */
static int restore_one(struct engine *e, const struct pci_addr *a, const char *driver,
		       const char *override)
{
	char ab[PCI_ADDR_LEN];
	struct pci_func now;
	int err = load_known(e, a, &now);

	if (err)
		return err;
	pci_addr_fmt(a, ab);
	if (strcmp(now.override, override) != 0 || e->dry_run)
		err = write_dev(e, a, "driver_override", override[0] ? override : "\n");
	if (!err && now.driver[0] && strcmp(now.driver, driver) != 0)
		err = write_dev(e, a, "driver/unbind", ab);
	if (!err && driver[0] && strcmp(now.driver, driver) != 0)
		err = write_driver(e, driver, "bind", a);
	if (err || e->dry_run)
		return err;
	err = load_known(e, a, &now);
	if (!err && (strcmp(now.driver, driver) != 0 || strcmp(now.override, override) != 0)) {
		note_fault(e, a, -EPROTO, "read back: on %s, expected %s",
			   now.driver[0] ? now.driver : "no driver", driver[0] ? driver : "no driver");
		err = -EPROTO;
	}
	return err;
}

/* Give back every function of the selection that the journal holds, from
 * the last to the first: what this run wrote, and what a run killed
 * before it left there (its entries may say less than it did: the step is
 * saved after each write).  Each function is read back whatever its step;
 * its entry goes once it is as it was, the others stay for rollback. */
static enum engine_outcome undo(struct engine *e, const struct pci_addr *fns, size_t n,
				const bool *touched)
{
	bool ok = true;

	for (size_t i = n; i-- > 0;) {
		struct journal_entry *je = journal_find(e->journal, &fns[i]);

		if (!je)
			continue;       /* never journaled: nothing was written to it */
		/* handed over and verified by an earlier bind: on vfio-pci before
		 * this command, which is where "as before" leaves it */
		if (!touched[i] && je->step == STEP_COMPLETE)
			continue;
		if (restore_one(e, &je->addr, je->driver, je->override) == 0)
			journal_remove(e->journal, &fns[i]);
		else
			ok = false;
	}
	if (save(e, &e->fault.fn))
		ok = false;
	return ok ? ENGINE_FAILED : ENGINE_UNRESTORED;
}

/* The host driver's module, for a rollback after it was removed; none
 * for a driver built in; not known when it cannot be read (rollback then
 * looks the function's modalias up). */
static void record_module(struct engine *e, struct journal_entry *je)
{
	int err = je->driver[0] ? sysfs_driver_module(e->sfs, je->driver, je->module,
						      sizeof(je->module)) : -ENOENT;

	if (err == -ENOENT)
		je->module[0] = '\0';
	je->module_known = err == -ENOENT || (!err && journal_module_valid(je->module));
	if (!je->module_known)
		je->module[0] = '\0';
}

/* Every function of the run is on vfio-pci: the hand-over is one. */
static int mark_complete(struct engine *e, const struct pci_addr *fns, size_t n)
{
	bool changed = false;

	for (size_t i = 0; i < n; i++) {
		struct journal_entry *je = journal_find(e->journal, &fns[i]);

		if (je && je->step != STEP_COMPLETE) {
			je->step = STEP_COMPLETE;
			changed = true;
		}
	}
	return changed ? save(e, &fns[0]) : 0;
}

enum engine_outcome engine_bind(struct engine *e, const struct pci_addr *fns, size_t n)
{
	enum engine_outcome outcome;
	struct pci_func f;
	bool *touched;
	int err = 0;

	memset(&e->fault, 0, sizeof(e->fault));
	/* what this run writes to, as opposed to what an earlier run left */
	touched = calloc(n ? n : 1, sizeof(*touched));
	if (!touched) {
		note_fault(e, &fns[0], -ENOMEM, "prepare the hand-over");
		return ENGINE_FAILED;
	}
	/* every function's "before" can be recorded exactly, or none is touched */
	for (size_t i = 0; i < n && !err; i++) {
		err = load_now(e, &fns[i], &f);
		if (!err && strcmp(f.driver, VFIO_DRIVER) != 0)
			err = recordable(e, &f);
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct journal_entry je = { .addr = fns[i] };

		err = load_now(e, &fns[i], &f);
		if (err)
			break;
		if (strcmp(f.driver, VFIO_DRIVER) == 0)
			continue;           /* already handed over: no writes */
		err = recordable(e, &f);
		if (err)
			break;
		je.vendor = f.vendor;
		je.device = f.device;
		snprintf(je.driver, sizeof(je.driver), "%s", f.driver);
		record_module(e, &je);
		snprintf(je.override, sizeof(je.override), "%s", f.override);
		err = journal_add(e->journal, &je);
		touched[i] = true;
		if (!err)       /* the "before" is on disk before the first change */
			err = save(e, &fns[i]);
		if (!err)
			err = bind_one(e, &f, journal_find(e->journal, &fns[i]));
	}
	if (!err)
		err = mark_complete(e, fns, n);
	if (!err) {
		outcome = ENGINE_DONE;
	} else {
		if (!e->fault.err)
			note_fault(e, &fns[0], err, "prepare the hand-over");
		outcome = e->dry_run ? ENGINE_FAILED : undo(e, fns, n, touched);
	}
	free(touched);
	return outcome;
}

/* A function the journal does not know: clear the override, off vfio-pci,
 * and let the kernel pick its driver. */
/* vfio-pci took the function back by its ids: "options vfio-pci ids=" (what
 * persist writes where the ids are the selection's alone) makes them
 * dynamic ids of the driver, which remove_id drops until the next boot. */
static int release_from_ids(struct engine *e, const struct pci_addr *a, struct pci_func *now)
{
	char ab[PCI_ADDR_LEN], id[16], path[512];
	int err;

	pci_addr_fmt(a, ab);
	snprintf(id, sizeof(id), "%04x %04x", now->vendor, now->device);
	fmt_path(path, sizeof(path), "%s/bus/pci/drivers/%s/remove_id", e->sfs->root, VFIO_DRIVER);
	e->writes++;
	err = sysfs_driver_write_value(e->sfs, VFIO_DRIVER, "remove_id", id, e->timeout_ms);
	trace_write(e, err, id, path);
	if (err == -ENODEV)
		return 0;               /* not a dynamic id: the caller reports it */
	if (err) {
		note_fault(e, a, err, "write %s to %s", id, path);
		return err;
	}
	log_warn(MSG_IDS_RETAKEN, "vfio-handover unpersist keeps the GPU off vfio-pci at boot too",
		 "%s: vfio-pci took it again by its ids (options vfio-pci ids= in modprobe.d): "
		 "removed %04x:%04x from vfio-pci's ids until the next boot", ab, now->vendor,
		 now->device);
	err = write_dev(e, a, "driver/unbind", ab);
	if (!err)
		err = write_probe(e, a);
	if (!err)
		err = load_known(e, a, now);
	return err;
}

static int release_unjournaled(struct engine *e, const struct pci_addr *a)
{
	char ab[PCI_ADDR_LEN];
	struct pci_func now;
	int err = load_known(e, a, &now);

	if (err)
		return err;
	if (!now.override[0] && strcmp(now.driver, VFIO_DRIVER) != 0)
		return 0;               /* nothing of ours to undo */
	pci_addr_fmt(a, ab);
	if (now.override[0])
		err = write_dev(e, a, "driver_override", "\n");
	if (!err && strcmp(now.driver, VFIO_DRIVER) == 0) {
		err = write_dev(e, a, "driver/unbind", ab);
		if (!err)
			err = write_probe(e, a);
	}
	if (err || e->dry_run)
		return err;
	err = load_known(e, a, &now);
	if (!err && !now.override[0] && strcmp(now.driver, VFIO_DRIVER) == 0)
		err = release_from_ids(e, a, &now);
	if (!err && (now.override[0] || strcmp(now.driver, VFIO_DRIVER) == 0)) {
		note_fault(e, a, -EPROTO, "read back: still on %s", now.driver);
		err = -EPROTO;
	}
	return err;
}

static bool wait_registered(struct engine *e, const char *driver)
{
	for (int waited = 0; !sysfs_driver_registered(e->sfs, driver); waited += 10) {
		struct timespec ts = { 0, 10 * 1000000L };

		if (waited >= e->timeout_ms)
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

/* Load the module of je's recorded driver and wait for the driver.  The
 * module the journal recorded, else (a version 1 journal) the modules of
 * the function's modalias, as modprobe and udev would resolve it. */
static int load_recorded_driver(struct engine *e, const struct journal_entry *je)
{
	const char *drv = je->driver;
	char name[128], what[200], ab[PCI_ADDR_LEN];
	struct pci_func f;
	int err;

	if (je->module_known && !je->module[0]) {
		note_fault(e, &je->addr, -ENOENT, "bind it back to %s: that driver is not registered, "
			   "and the journal says it is built into the kernel: nothing to load", drv);
		return -ENOENT;
	}
	if (je->module_known) {
		snprintf(name, sizeof(name), "%s", je->module);
		snprintf(what, sizeof(what), "module %s", name);
	} else {
		err = load_now(e, &je->addr, &f);
		if (!err && !f.modalias[0]) {
			err = -EIO;
			note_fault(e, &je->addr, err, "read its modalias, to find the module of its "
				   "recorded driver %s (not registered)", drv);
		}
		if (err)
			return err;
		snprintf(name, sizeof(name), "%s", f.modalias);
		snprintf(what, sizeof(what), "the modules of its modalias %s", name);
	}
	if (!e->load_module) {
		note_fault(e, &je->addr, -EOPNOTSUPP, "load %s for its recorded driver %s, which is "
			   "not registered in %s: modules are loaded only into the running kernel",
			   what, drv, e->sfs->root);
		return -EOPNOTSUPP;
	}
	if (e->dry_run) {
		plan_step(e, NULL, name, "load %s (libkmod, with dependencies) for driver %s", what, drv);
		return 0;
	}
	err = e->load_module(name);
	if (err) {
		note_fault(e, &je->addr, err, "load %s for its recorded driver %s, which is not "
			   "registered", what, drv);
		return err;
	}
	if (!wait_registered(e, drv)) {
		note_fault(e, &je->addr, -ENOENT, "find driver %s registered within %d ms of loading %s",
			   drv, e->timeout_ms, what);
		return -ENOENT;
	}
	log_info("%s: loaded %s: driver %s is registered", pci_addr_fmt(&je->addr, ab), what, drv);
	return 0;
}

/* Before any write: every recorded driver there to bind back to.  A
 * rollback that unbinds from vfio-pci and then finds no driver leaves
 * the function with none. */
static int recorded_drivers_ready(struct engine *e, const struct pci_addr *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct journal_entry *je = journal_find(e->journal, &fns[i]);
		int err;

		if (!je || !je->driver[0] || sysfs_driver_registered(e->sfs, je->driver))
			continue;
		err = load_recorded_driver(e, je);
		if (err)
			return err;
	}
	return 0;
}

enum engine_outcome engine_rollback(struct engine *e, const struct pci_addr *fns, size_t n)
{
	bool failed = false;

	memset(&e->fault, 0, sizeof(e->fault));
	if (recorded_drivers_ready(e, fns, n))
		return ENGINE_FAILED;   /* nothing written */
	/* the reverse of the hand-over order */
	for (size_t i = n; i-- > 0;) {
		struct journal_entry *je = journal_find(e->journal, &fns[i]);
		int err;

		if (je) {
			err = restore_one(e, &je->addr, je->driver, je->override);
			if (!err && !e->dry_run) {
				journal_remove(e->journal, &fns[i]);
				err = save(e, &fns[i]);
			}
		} else {
			err = release_unjournaled(e, &fns[i]);
		}
		if (err)
			failed = true;
	}
	return failed ? ENGINE_UNRESTORED : ENGINE_DONE;
}
