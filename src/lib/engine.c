/*
 * The hand-over engine.  A run's functions are split by IOMMU group into
 * lanes; each lane is handed over (or back) by a thread of its own through
 * a sysfs handle and a kernel writer of its own, so that one group's slow
 * unbind does not hold the others: a run takes about as long as its
 * slowest group.  The run stays one transaction: the first failure stops
 * every lane before its next step, and then every lane is given back, in
 * parallel too.
 *
 * The threads never wait in the kernel themselves (their writes and their
 * reads that take a device's lock go to their writer, within the limit),
 * so the process can always exit.  What they share (the journal, the first
 * fault, the count of writes) is under the run's lock; the journal's
 * entries are all made before the threads start and removed after they
 * end, so that no thread holds a pointer into an array that moves.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "log.h"
#include "sysfs.h"

#define VFIO_DRIVER "vfio-pci"

/* The driver function i of a bind is handed to. */
static const char *target(const struct engine *e, size_t i)
{
	return e->drivers && e->drivers[i] ? e->drivers[i] : VFIO_DRIVER;
}

/* What a run's lanes share. */
struct run {
	struct engine *e;
	pthread_mutex_t lock;
	int stop;                   /* a lane failed: the others stop before their next step */
	const struct pci_addr *fns; /* the run's functions: the journal entries it owns */
	size_t n;
};

/* One IOMMU group's functions (indexes into the run's), and the handle
 * its thread works through. */
struct lane {
	struct run *r;
	struct sysfs *sfs;
	int group;
	size_t *idx, n;
	int err;
	pthread_t thread;
};

__attribute__((format(printf, 4, 5)))
static void note_fault(struct run *r, const struct pci_addr *a, int err, const char *fmt, ...)
{
	struct engine *e = r->e;
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!e->fault.err) {        /* the first failure is the one to report */
		e->fault.fn = *a;
		e->fault.err = err;
		va_start(ap, fmt);
		vsnprintf(e->fault.what, sizeof(e->fault.what), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
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

/* --dry-run: the one place the engine describes a step it would take
 * (lanes run one after another then, so the plan reads in order). */
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

/* Count a write; under --dry-run, plan it instead.  shown: the value as
 * the plan's text shows it. */
static void count_write(struct lane *l, const char *val, const char *shown, const char *path)
{
	struct engine *e = l->r->e;

	pthread_mutex_lock(&l->r->lock);
	e->writes++;
	if (e->dry_run)
		plan_step(e, path, val, "write %-14s to %s", shown, path);
	pthread_mutex_unlock(&l->r->lock);
}

/* -v: each kernel write as it returns, so a slow one shows in the timings */
static void trace_write(const struct lane *l, int err, const char *val, const char *path)
{
	if (!l->r->e->dry_run)
		log_debug("wrote %s to %s: %s", val, path, err ? strerror(-err) : "ok");
}

/* One kernel write, or its description under --dry-run. */
static int write_dev(struct lane *l, const struct pci_addr *a, const char *attr, const char *val)
{
	const char *shown = strcmp(val, "\n") ? val : "a newline";
	char ab[PCI_ADDR_LEN], path[512];
	int err = 0;

	fmt_path(path, sizeof(path), "%s/bus/pci/devices/%s/%s", sysfs_root(l->sfs),
		 pci_addr_fmt(a, ab), attr);
	count_write(l, val, strcmp(val, "\n") ? val : "\"\\n\"", path);
	if (!l->r->e->dry_run)
		err = sysfs_dev_write(l->sfs, a, attr, val, l->r->e->timeout_ms);
	trace_write(l, err, shown, path);
	if (err)
		note_fault(l->r, a, err, "write %s to %s", shown, path);
	return err;
}

static int write_probe(struct lane *l, const struct pci_addr *a)
{
	char ab[PCI_ADDR_LEN], path[512];
	int err = 0;

	fmt_path(path, sizeof(path), "%s/bus/pci/drivers_probe", sysfs_root(l->sfs));
	pci_addr_fmt(a, ab);
	count_write(l, ab, ab, path);
	if (!l->r->e->dry_run)
		err = sysfs_probe(l->sfs, a, l->r->e->timeout_ms);
	trace_write(l, err, ab, path);
	if (err)
		note_fault(l->r, a, err, "write %s to %s", ab, path);
	return err;
}

static int write_driver(struct lane *l, const char *driver, const char *attr,
			const struct pci_addr *a)
{
	char ab[PCI_ADDR_LEN], path[512];
	int err = 0;

	fmt_path(path, sizeof(path), "%s/bus/pci/drivers/%s/%s", sysfs_root(l->sfs), driver, attr);
	pci_addr_fmt(a, ab);
	count_write(l, ab, ab, path);
	if (!l->r->e->dry_run)
		err = sysfs_driver_write(l->sfs, driver, attr, a, l->r->e->timeout_ms);
	trace_write(l, err, ab, path);
	if (err)
		note_fault(l->r, a, err, "write %s to %s", ab, path);
	return err;
}

/* Read a function's state now (its identity, driver and group, and what
 * needs asks); a function that is gone is the fault. */
static int load_now(struct run *r, struct sysfs *sfs, const struct pci_addr *a,
		    struct pci_func *now, unsigned needs)
{
	int err = pci_func_load_needs(sfs, a, now, needs);

	if (err)
		note_fault(r, a, err, "read the device: it is gone");
	return err;
}

/* Where a function the run knows is now (pci_func_load_state): a read-back
 * reads its driver, and what state asks, not the whole model. */
static int load_state_now(struct run *r, struct sysfs *sfs, const struct pci_addr *a,
			  struct pci_func *now, unsigned state)
{
	int err = pci_func_load_state(sfs, a, now, state);

	if (err)
		note_fault(r, a, err, "read the device: it is gone");
	return err;
}

/* A driver_override that could not be read is unknown, never "unset":
 * nothing may be written to the function, nor may it pass as restored. */
static int override_known(struct run *r, const struct pci_func *f)
{
	if (f->blocked && f->unbinding[0]) {
		note_fault(r, &f->addr, -ETIMEDOUT, "its unbind from %s, still under way (wait for "
			   "it to finish: stop what holds the device)",
			   f->unbinding);
		return -ETIMEDOUT;
	}
	if (f->blocked) {           /* a blocked unbind holds the device's lock */
		note_fault(r, &f->addr, -ETIMEDOUT, "read its %s: the device is locked by an "
			   "unbind that has not returned (wait for it to finish: stop what holds "
			   "the device)", f->bad & PCI_BAD_OVERRIDE ? "driver_override" : "uevent");
		return -ETIMEDOUT;
	}
	if (!(f->bad & PCI_BAD_OVERRIDE))
		return 0;
	note_fault(r, &f->addr, -EIO, "read its driver_override whole (the read failed, or it is "
		   "longer than %zu bytes)", sizeof(f->override) - 2);
	return -EIO;
}

/* The function as it is now, its driver_override known. */
static int load_known(struct lane *l, const struct pci_addr *a, struct pci_func *now)
{
	int err = load_now(l->r, l->sfs, a, now, PCI_NEED_OVERRIDE);

	return err ? err : override_known(l->r, now);
}

/* Its driver and driver_override now, the latter known. */
static int state_known(struct lane *l, const struct pci_addr *a, struct pci_func *now)
{
	int err = load_state_now(l->r, l->sfs, a, now, PCI_STATE_OVERRIDE);

	return err ? err : override_known(l->r, now);
}

/* What the journal records of f is exact, or nothing is written: its
 * driver known and a name it can be bound back to by, its driver_override
 * known and one that can be written back as it was. */
static int recordable(struct run *r, const struct pci_func *f)
{
	int err = override_known(r, f);

	if (err)
		return err;
	if (f->bad & PCI_BAD_DRIVER) {
		note_fault(r, &f->addr, -EIO, "read its driver link, to record it");
		return -EIO;
	}
	if (f->driver[0] && !sysfs_valid_driver_name(f->driver)) {
		note_fault(r, &f->addr, -EINVAL, "record its driver %s: not a name rollback can "
			   "bind it back by", f->driver);
		return -EINVAL;
	}
	if (f->override[0] && !journal_override_valid(f->override)) {
		note_fault(r, &f->addr, -EINVAL, "record its driver_override (%zu bytes): it could "
			   "not be restored exactly (it holds control characters or bytes past "
			   "ASCII); clear it (write a newline to it) and bind again",
			   strlen(f->override));
		return -EINVAL;
	}
	return 0;
}

/* The journal on disk as the run has it now; the caller holds the lock. */
static int save_locked(struct run *r, const struct pci_addr *a)
{
	struct engine *e = r->e;
	int err;

	if (e->dry_run)
		return 0;
	/* this run's entries, merged with those of runs on other groups */
	err = journal_update(e->root, e->journal, r->fns, r->n);
	if (err && !e->fault.err) {
		char ab[PCI_ADDR_LEN];

		e->fault.fn = *a;
		e->fault.err = err;
		snprintf(e->fault.what, sizeof(e->fault.what), "write the journal %s/state.json (for %s)",
			 JOURNAL_DIR, pci_addr_fmt(a, ab));
	}
	return err;
}

static int save(struct run *r, const struct pci_addr *a)
{
	int err;

	pthread_mutex_lock(&r->lock);
	err = save_locked(r, a);
	pthread_mutex_unlock(&r->lock);
	return err;
}

static int set_step(struct lane *l, struct journal_entry *je, enum handover_step s)
{
	int err;

	pthread_mutex_lock(&l->r->lock);
	je->step = s;
	err = save_locked(l->r, &je->addr);
	pthread_mutex_unlock(&l->r->lock);
	return err;
}

/* Has another lane failed?  Then this one stops before its next step. */
static bool stopped(struct lane *l)
{
	return __atomic_load_n(&l->r->stop, __ATOMIC_SEQ_CST);
}

static void stop_all(struct lane *l)
{
	__atomic_store_n(&l->r->stop, 1, __ATOMIC_SEQ_CST);
}

/* Read back: on the driver it was handed to, and still the same device
 * (modalias unchanged). */
static int verify_on_vfio(struct lane *l, const struct pci_func *before, const char *driver)
{
	struct pci_func now;
	int err = load_state_now(l->r, l->sfs, &before->addr, &now, PCI_STATE_MODALIAS);

	if (err)
		return err;
	if (strcmp(now.driver, driver) != 0) {
		note_fault(l->r, &before->addr, -EPROTO, "read back the driver: %s instead of %s",
			   now.driver[0] ? now.driver : "none", driver);
		return -EPROTO;
	}
	if (strcmp(now.modalias, before->modalias) != 0) {
		note_fault(l->r, &before->addr, -EPROTO, "read back the modalias: %s, was %s",
			   now.modalias, before->modalias);
		return -EPROTO;
	}
	return 0;
}

static int bind_one(struct lane *l, const struct pci_func *f, struct journal_entry *je)
{
	bool dry = l->r->e->dry_run;
	char ab[PCI_ADDR_LEN];
	int err;

	pci_addr_fmt(&f->addr, ab);
	err = write_dev(l, &f->addr, "driver_override", je->vfio_driver);
	if (!err)
		err = set_step(l, je, STEP_OVERRIDE);
	if (!err && f->driver[0])
		err = write_dev(l, &f->addr, "driver/unbind", ab);
	if (!err)
		err = set_step(l, je, STEP_UNBOUND);
	if (!err)
		err = write_probe(l, &f->addr);
	if (!err)
		err = set_step(l, je, STEP_PROBED);
	if (!err && !dry)
		err = verify_on_vfio(l, f, je->vfio_driver);
	if (!err)
		err = set_step(l, je, STEP_VERIFIED);
	return err;
}

/* Put one function back on driver (or none) with driver_override as it was,
 * and read it back. */
static int restore_one(struct lane *l, const struct pci_addr *a, const char *driver,
		       const char *override)
{
	bool dry = l->r->e->dry_run;
	char ab[PCI_ADDR_LEN];
	struct pci_func now;
	int err = state_known(l, a, &now);

	if (err)
		return err;
	pci_addr_fmt(a, ab);
	if (strcmp(now.override, override) != 0 || dry)
		err = write_dev(l, a, "driver_override", override[0] ? override : "\n");
	if (!err && now.driver[0] && strcmp(now.driver, driver) != 0)
		err = write_dev(l, a, "driver/unbind", ab);
	if (!err && driver[0] && strcmp(now.driver, driver) != 0)
		err = write_driver(l, driver, "bind", a);
	if (err || dry)
		return err;
	err = state_known(l, a, &now);
	if (!err && (strcmp(now.driver, driver) != 0 || strcmp(now.override, override) != 0)) {
		note_fault(l->r, a, -EPROTO, "read back: on %s, expected %s",
			   now.driver[0] ? now.driver : "no driver", driver[0] ? driver : "no driver");
		err = -EPROTO;
	}
	return err;
}

/* ---- lanes: one IOMMU group each ---- */

static void lanes_free(struct lane *lanes, size_t n, struct sysfs *shared)
{
	for (size_t i = 0; i < n; i++) {
		if (lanes[i].sfs != shared)
			sysfs_close(lanes[i].sfs);
		free(lanes[i].idx);
	}
	free(lanes);
}

/* Split the functions marked in take[] by IOMMU group (group[i]; -1, no
 * group, is a lane of its own), in the order they come. */
static int lanes_make(struct run *r, const int *group, const bool *take, struct lane **out,
		      size_t *nout)
{
	struct lane *lanes = NULL, *l;
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		size_t k;
		size_t *idx;

		if (!take[i])
			continue;
		for (k = 0; k < n && lanes[k].group != group[i]; k++)
			;
		if (k == n) {
			l = realloc(lanes, (n + 1) * sizeof(*l));
			if (!l)
				goto nomem;
			lanes = l;
			memset(&lanes[n++], 0, sizeof(*l));
			lanes[k].r = r;
			lanes[k].group = group[i];
			lanes[k].sfs = r->e->sfs;
		}
		idx = realloc(lanes[k].idx, (lanes[k].n + 1) * sizeof(*idx));
		if (!idx)
			goto nomem;
		lanes[k].idx = idx;
		idx[lanes[k].n++] = i;
	}
	*out = lanes;
	*nout = n;
	return 0;
nomem:
	lanes_free(lanes, n, r->e->sfs);
	return -ENOMEM;
}

/* Run fn on every lane: in this thread when there is one lane, or under
 * --dry-run (the plan is printed in order); else a thread each, with a
 * handle and a writer of its own. */
static int lanes_run(struct lane *lanes, size_t n, void *(*fn)(void *))
{
	struct run *r = n ? lanes[0].r : NULL;
	size_t started = 0;
	int err = 0;

	if (n <= 1 || r->e->dry_run) {
		for (size_t i = 0; i < n; i++)
			fn(&lanes[i]);
		return 0;
	}
	for (size_t i = 0; i < n && !err; i++) {
		if (lanes[i].sfs == r->e->sfs)
			err = sysfs_clone(r->e->sfs, &lanes[i].sfs);
		if (err) {
			lanes[i].sfs = r->e->sfs;
			break;
		}
	}
	for (; !err && started < n; started++)
		err = -pthread_create(&lanes[started].thread, NULL, fn, &lanes[started]);
	for (size_t i = 0; i < started; i++)
		pthread_join(lanes[i].thread, NULL);
	/* what could not start runs here, one lane after another */
	for (size_t i = started; err && i < n; i++)
		fn(&lanes[i]);
	return 0;
}

/* ---- bind ---- */

/* What a bind run keeps per function. */
struct bind_run {
	struct run r;
	struct pci_func *before;    /* as read before the first write */
	bool *touched;              /* journaled by this run (not on vfio-pci before) */
	bool *restored;             /* given back by the undo: its entry goes */
	int *group;
};

static void *lane_bind(void *arg)
{
	struct lane *l = arg;
	struct bind_run *b = (struct bind_run *)l->r;

	for (size_t k = 0; k < l->n && !l->err; k++) {
		size_t i = l->idx[k];
		struct journal_entry *je = journal_find(l->r->e->journal, &l->r->fns[i]);

		if (stopped(l))
			break;
		l->err = bind_one(l, &b->before[i], je);
		if (l->err)
			stop_all(l);
	}
	return NULL;
}

/* Give back, from the last to the first of its lane: what this run wrote,
 * and what a run killed before it left half-done (its entries may say less
 * than it did: the step is saved after each write).  Each function is read
 * back whatever its step; its entry goes once it is as it was. */
static void *lane_undo(void *arg)
{
	struct lane *l = arg;
	struct bind_run *b = (struct bind_run *)l->r;

	for (size_t k = l->n; k-- > 0;) {
		size_t i = l->idx[k];
		struct journal_entry *je = journal_find(l->r->e->journal, &l->r->fns[i]);

		if (restore_one(l, &je->addr, je->driver, je->override) == 0)
			b->restored[i] = true;
		else
			l->err = -EIO;
	}
	return NULL;
}

/* Which entries the undo gives back: every one of the selection but a
 * hand-over an earlier bind completed (on vfio-pci before this command,
 * which is where "as before" leaves it). */
static enum engine_outcome undo(struct bind_run *b)
{
	struct run *r = &b->r;
	struct lane *lanes;
	bool *take = calloc(r->n ? r->n : 1, sizeof(*take)), ok = true;
	size_t nl = 0;

	if (!take)
		return ENGINE_UNRESTORED;
	for (size_t i = 0; i < r->n; i++) {
		const struct journal_entry *je = journal_find(r->e->journal, &r->fns[i]);

		take[i] = je && (b->touched[i] || je->step != STEP_COMPLETE);
	}
	if (lanes_make(r, b->group, take, &lanes, &nl) < 0) {
		free(take);
		return ENGINE_UNRESTORED;
	}
	lanes_run(lanes, nl, lane_undo);
	for (size_t k = 0; k < nl; k++)
		ok &= !lanes[k].err;
	lanes_free(lanes, nl, r->e->sfs);
	free(take);
	/* the threads are done: the entries of what is back go now */
	for (size_t i = 0; i < r->n; i++)
		if (b->restored[i])
			journal_remove(r->e->journal, &r->fns[i]);
	if (save(r, &r->e->fault.fn))
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
static int mark_complete(struct run *r)
{
	bool changed = false;

	for (size_t i = 0; i < r->n; i++) {
		struct journal_entry *je = journal_find(r->e->journal, &r->fns[i]);

		if (je && je->step != STEP_COMPLETE) {
			je->step = STEP_COMPLETE;
			changed = true;
		}
	}
	return changed ? save(r, &r->fns[0]) : 0;
}

/* The caller's read of function i (e->known), when it is one of it. */
static const struct pci_func *known_read(const struct engine *e, size_t i,
					 const struct pci_addr *a)
{
	const struct pci_func *k = e->known ? e->known[i] : NULL;

	return k && !k->unread && pci_addr_cmp(&k->addr, a) == 0 ? k : NULL;
}

/* Before the first write: each function read, its "before" recordable
 * exactly (or nothing is touched), and recorded, all of them, on disk. */
static int bind_record(struct bind_run *b)
{
	struct run *r = &b->r;
	struct engine *e = r->e;
	int err = 0;

	for (size_t i = 0; i < r->n && !err; i++) {
		struct pci_func *f = &b->before[i];
		const struct pci_func *k = known_read(e, i, &r->fns[i]);

		if (k && k->loaded & PCI_NEED_OVERRIDE)
			*f = *k;        /* the caller read it under the locks, just now */
		else
			err = load_now(r, e->sfs, &r->fns[i], f, PCI_NEED_OVERRIDE);
		b->group[i] = err ? -1 : f->iommu_group;
		if (!err && !f->vfio)
			err = recordable(r, f);
	}
	for (size_t i = 0; i < r->n && !err; i++) {
		const struct pci_func *f = &b->before[i];
		struct journal_entry je = { .addr = r->fns[i] };

		if (f->vfio)
			continue;           /* already handed over: no writes */
		je.vendor = f->vendor;
		je.device = f->device;
		snprintf(je.vfio_driver, sizeof(je.vfio_driver), "%s", target(e, i));
		snprintf(je.driver, sizeof(je.driver), "%s", f->driver);
		record_module(e, &je);
		snprintf(je.override, sizeof(je.override), "%s", f->override);
		/* an entry a killed run left holds the real "before": it stays,
		 * handed to the driver this run hands it to */
		err = journal_add(e->journal, &je);
		if (!err)
			snprintf(journal_find(e->journal, &r->fns[i])->vfio_driver,
				 sizeof(je.vfio_driver), "%s", target(e, i));
		b->touched[i] = !err;
	}
	if (!err)
		err = save(r, &r->fns[0]);
	return err;
}

static int bind_alloc(struct bind_run *b, struct engine *e, const struct pci_addr *fns, size_t n)
{
	size_t m = n ? n : 1;

	memset(b, 0, sizeof(*b));
	b->r.e = e;
	b->r.fns = fns;
	b->r.n = n;
	pthread_mutex_init(&b->r.lock, NULL);
	b->before = calloc(m, sizeof(*b->before));
	b->touched = calloc(m, sizeof(*b->touched));
	b->restored = calloc(m, sizeof(*b->restored));
	b->group = calloc(m, sizeof(*b->group));
	return b->before && b->touched && b->restored && b->group ? 0 : -ENOMEM;
}

static void bind_free(struct bind_run *b)
{
	free(b->before);
	free(b->touched);
	free(b->restored);
	free(b->group);
	pthread_mutex_destroy(&b->r.lock);
}

enum engine_outcome engine_bind(struct engine *e, const struct pci_addr *fns, size_t n)
{
	enum engine_outcome outcome = ENGINE_DONE;
	struct lane *lanes = NULL;
	struct bind_run b;
	size_t nl = 0;
	int err;

	memset(&e->fault, 0, sizeof(e->fault));
	if (bind_alloc(&b, e, fns, n) < 0) {
		note_fault(&b.r, n ? &fns[0] : &(struct pci_addr){ 0 }, -ENOMEM,
			   "prepare the hand-over");
		bind_free(&b);
		return ENGINE_FAILED;       /* nothing written */
	}
	err = bind_record(&b);
	if (!err)
		err = lanes_make(&b.r, b.group, b.touched, &lanes, &nl);
	if (!err)
		lanes_run(lanes, nl, lane_bind);
	for (size_t k = 0; k < nl && !err; k++)
		err = lanes[k].err;
	lanes_free(lanes, nl, e->sfs);
	if (!err)
		err = mark_complete(&b.r);
	if (err) {
		if (!e->fault.err)
			note_fault(&b.r, n ? &fns[0] : &(struct pci_addr){ 0 }, err,
				   "prepare the hand-over");
		outcome = e->dry_run ? ENGINE_FAILED : undo(&b);
	}
	bind_free(&b);
	return outcome;
}

/* ---- rollback ---- */

/* vfio-pci took the function back by its ids: "options vfio-pci ids=" (what
 * persist writes where the ids are the selection's alone) makes them
 * dynamic ids of the driver, which remove_id drops until the next boot. */
static int release_from_ids(struct lane *l, const struct pci_addr *a, struct pci_func *now)
{
	char ab[PCI_ADDR_LEN], id[16], path[512];
	int err;

	pci_addr_fmt(a, ab);
	snprintf(id, sizeof(id), "%04x %04x", now->vendor, now->device);
	fmt_path(path, sizeof(path), "%s/bus/pci/drivers/%s/remove_id", sysfs_root(l->sfs),
		 VFIO_DRIVER);
	count_write(l, id, id, path);
	err = sysfs_driver_write_value(l->sfs, VFIO_DRIVER, "remove_id", id, l->r->e->timeout_ms);
	trace_write(l, err, id, path);
	if (err == -ENODEV)
		return 0;               /* not a dynamic id: the caller reports it */
	if (err) {
		note_fault(l->r, a, err, "write %s to %s", id, path);
		return err;
	}
	log_warn(MSG_IDS_RETAKEN, "vfio-handover unpersist keeps the GPU off vfio-pci at boot too",
		 "%s: vfio-pci took it again by its ids (options vfio-pci ids= in modprobe.d): "
		 "removed %04x:%04x from vfio-pci's ids until the next boot", ab, now->vendor,
		 now->device);
	err = write_dev(l, a, "driver/unbind", ab);
	if (!err)
		err = write_probe(l, a);
	if (!err)
		err = load_known(l, a, now);
	return err;
}

/* A function the journal does not know: clear the override, off its VFIO
 * driver, and let the kernel pick its driver. */
static int release_unjournaled(struct lane *l, const struct pci_addr *a)
{
	char ab[PCI_ADDR_LEN];
	struct pci_func now;
	int err = load_known(l, a, &now);

	if (err)
		return err;
	if (!now.override[0] && !now.vfio)
		return 0;               /* nothing of ours to undo */
	pci_addr_fmt(a, ab);
	if (now.override[0])
		err = write_dev(l, a, "driver_override", "\n");
	if (!err && now.vfio) {
		err = write_dev(l, a, "driver/unbind", ab);
		if (!err)
			err = write_probe(l, a);
	}
	if (err || l->r->e->dry_run)
		return err;
	err = load_known(l, a, &now);
	/* only vfio-pci takes ids (its ids= option, new_id) */
	if (!err && !now.override[0] && strcmp(now.driver, VFIO_DRIVER) == 0)
		err = release_from_ids(l, a, &now);
	if (!err && (now.override[0] || now.vfio)) {
		note_fault(l->r, a, -EPROTO, "read back: still on %s", now.driver);
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
static int load_recorded_driver(struct run *r, const struct journal_entry *je)
{
	struct engine *e = r->e;
	const char *drv = je->driver;
	char name[128], what[200], ab[PCI_ADDR_LEN];
	struct pci_func f;
	int err;

	if (je->module_known && !je->module[0]) {
		note_fault(r, &je->addr, -ENOENT, "bind it back to %s: that driver is not registered, "
			   "and the journal says it is built into the kernel: nothing to load", drv);
		return -ENOENT;
	}
	if (je->module_known) {
		snprintf(name, sizeof(name), "%s", je->module);
		snprintf(what, sizeof(what), "module %s", name);
	} else {
		err = load_now(r, e->sfs, &je->addr, &f, 0);
		if (!err && !f.modalias[0]) {
			err = -EIO;
			note_fault(r, &je->addr, err, "read its modalias, to find the module of its "
				   "recorded driver %s (not registered)", drv);
		}
		if (err)
			return err;
		snprintf(name, sizeof(name), "%s", f.modalias);
		snprintf(what, sizeof(what), "the modules of its modalias %s", name);
	}
	if (!e->load_module) {
		note_fault(r, &je->addr, -EOPNOTSUPP, "load %s for its recorded driver %s, which is "
			   "not registered in %s: modules are loaded only into the running kernel",
			   what, drv, sysfs_root(e->sfs));
		return -EOPNOTSUPP;
	}
	if (e->dry_run) {
		plan_step(e, NULL, name, "load %s (libkmod, with dependencies) for driver %s", what, drv);
		return 0;
	}
	err = e->load_module(name);
	if (err) {
		note_fault(r, &je->addr, err, "load %s for its recorded driver %s, which is not "
			   "registered", what, drv);
		return err;
	}
	if (!wait_registered(e, drv)) {
		note_fault(r, &je->addr, -ENOENT, "find driver %s registered within %d ms of loading %s",
			   drv, e->timeout_ms, what);
		return -ENOENT;
	}
	log_info("%s: loaded %s: driver %s is registered", pci_addr_fmt(&je->addr, ab), what, drv);
	return 0;
}

/* Before any write: every recorded driver there to bind back to.  A
 * rollback that unbinds from vfio-pci and then finds no driver leaves
 * the function with none. */
static int recorded_drivers_ready(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct journal_entry *je = journal_find(r->e->journal, &r->fns[i]);
		int err;

		if (!je || !je->driver[0] || sysfs_driver_registered(r->e->sfs, je->driver))
			continue;
		err = load_recorded_driver(r, je);
		if (err)
			return err;
	}
	return 0;
}

/* What a rollback run keeps per function. */
struct rollback_run {
	struct run r;
	bool *back;                 /* restored and read back: its entry goes */
	int *group;
};

/* The reverse of the hand-over order, in its lane. */
static void *lane_rollback(void *arg)
{
	struct lane *l = arg;
	struct rollback_run *rb = (struct rollback_run *)l->r;

	for (size_t k = l->n; k-- > 0;) {
		size_t i = l->idx[k];
		const struct pci_addr *a = &l->r->fns[i];
		struct journal_entry *je = journal_find(l->r->e->journal, a);
		int err;

		if (je) {
			err = restore_one(l, &je->addr, je->driver, je->override);
			if (!err && !l->r->e->dry_run) {
				/* marked gone, saved without it; removed once the lanes end */
				pthread_mutex_lock(&l->r->lock);
				rb->back[i] = true;
				je->gone = true;
				err = save_locked(l->r, a);
				pthread_mutex_unlock(&l->r->lock);
			}
		} else {
			err = release_unjournaled(l, a);
		}
		if (err)
			l->err = err;
	}
	return NULL;
}

enum engine_outcome engine_rollback(struct engine *e, const struct pci_addr *fns, size_t n)
{
	struct rollback_run rb = { .r = { .e = e, .fns = fns, .n = n } };
	enum engine_outcome outcome = ENGINE_DONE;
	struct lane *lanes = NULL;
	bool *all = NULL;
	size_t nl = 0;

	memset(&e->fault, 0, sizeof(e->fault));
	pthread_mutex_init(&rb.r.lock, NULL);
	rb.back = calloc(n ? n : 1, sizeof(*rb.back));
	rb.group = calloc(n ? n : 1, sizeof(*rb.group));
	all = calloc(n ? n : 1, sizeof(*all));
	if (!rb.back || !rb.group || !all) {
		note_fault(&rb.r, n ? &fns[0] : &(struct pci_addr){ 0 }, -ENOMEM, "prepare the rollback");
		outcome = ENGINE_FAILED;
		goto out;
	}
	if (recorded_drivers_ready(&rb.r)) {
		outcome = ENGINE_FAILED;    /* nothing written */
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *k = known_read(e, i, &fns[i]);
		struct pci_func f;

		if (k)
			rb.group[i] = k->iommu_group;
		else
			rb.group[i] = pci_func_load_needs(e->sfs, &fns[i], &f, 0) == 0 ?
				      f.iommu_group : -1;
		all[i] = true;
	}
	if (lanes_make(&rb.r, rb.group, all, &lanes, &nl) < 0) {
		note_fault(&rb.r, &fns[0], -ENOMEM, "prepare the rollback");
		outcome = ENGINE_UNRESTORED;
		goto out;
	}
	lanes_run(lanes, nl, lane_rollback);
	for (size_t k = 0; k < nl; k++)
		if (lanes[k].err)
			outcome = ENGINE_UNRESTORED;
	lanes_free(lanes, nl, e->sfs);
	for (size_t i = 0; i < n; i++)
		if (rb.back[i])
			journal_remove(e->journal, &fns[i]);
out:
	free(rb.back);
	free(rb.group);
	free(all);
	pthread_mutex_destroy(&rb.r.lock);
	return outcome;
}
