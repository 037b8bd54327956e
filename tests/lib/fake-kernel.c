#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fake-kernel.h"
#include "pci-host.h"

#define MAX_FUNCS 1100

/* Shared with the forked children that perform the writes. */
struct fk_shared {
	int writes;
	pid_t last_writer;
	int writers;            /* changes of the writing process */
	char hang_override[PCI_ADDR_LEN];  /* its driver_override reads never return */
	char wrong_driver[64];  /* what FK_WRONG_DRIVER binds, "" for nouveau */
	int fail_at;
	enum fk_fault kind;
	int err;
	/* the fault counts only the writes about this slot ("" for all) */
	char fail_slot[PCI_SLOT_LEN];
	int slot_writes;
	/* the first write about meet_slot waits for a write about another */
	char meet_slot[PCI_SLOT_LEN];
	int others;
	/* FK_HANG_UNBINDING: the function whose driver's remove() is under way */
	char unbinding[PCI_ADDR_LEN];
};

struct fake_kernel {
	struct fx *fx;
	struct sysfs *sfs;
	struct sysfs_ops *ops;
	struct fk_shared *sh;
	size_t n;
	struct { char addr[PCI_ADDR_LEN]; char driver[64]; } dflt[MAX_FUNCS];
};

static int driver_exists(struct fake_kernel *fk, const char *drv)
{
	char path[4096];
	struct stat st;

	/* a driver_override can be longer than any driver's name */
	if (snprintf(path, sizeof(path), "%s/bus/pci/drivers/%.64s", fx_root(fk->fx), drv) >=
	    (int)sizeof(path) || strlen(drv) > 64)
		return 0;
	return stat(path, &st) == 0;
}

static const char *default_driver(struct fake_kernel *fk, const char *addr)
{
	for (size_t i = 0; i < fk->n; i++)
		if (strcmp(fk->dflt[i].addr, addr) == 0)
			return fk->dflt[i].driver;
	return "";
}

/* driver_override as the kernel keeps it: up to PAGE_SIZE - 2 characters */
#define FK_PAGE_SIZE 4096

/* driver: 64 bytes, override: FK_PAGE_SIZE; read through sfs, the handle
 * of the writer making the write (several work at once) */
static void current(struct sysfs *sfs, const char *addr, char *driver, char *override)
{
	struct pci_addr a;
	struct pci_func f;

	driver[0] = override[0] = '\0';
	if (pci_addr_parse(addr, &a) || pci_func_load(sfs, &a, &f))
		return;
	snprintf(driver, 64, "%s", f.driver);
	snprintf(override, FK_PAGE_SIZE, "%s", f.override);
}

static int device_exists(struct fake_kernel *fk, const char *addr)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", fx_root(fk->fx), addr);
	return stat(path, &st) == 0;
}

/* vfio-pci's dynamic ids ("vvvv dddd" lines): what its ids= option or
 * new_id adds, kept in the tree where the tool never looks. */
#define FK_DYNIDS "bus/pci/drivers/vfio-pci/.fk-dynids"

static int dynid_has(struct fake_kernel *fk, const char *id)
{
	char path[4096], line[64];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" FK_DYNIDS, fx_root(fk->fx));
	f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strncmp(line, id, 9) == 0;
	if (f)
		fclose(f);
	return found;
}

static int dynid_remove(struct fake_kernel *fk, const char *id)
{
	char path[4096], tmp[4200], line[64];
	int found = 0;
	FILE *in, *out;

	snprintf(path, sizeof(path), "%s/" FK_DYNIDS, fx_root(fk->fx));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	in = fopen(path, "r");
	if (!in)
		return -ENODEV;
	out = fopen(tmp, "w");
	while (out && fgets(line, sizeof(line), in)) {
		if (strncmp(line, id, 9) == 0)
			found = 1;
		else
			fputs(line, out);
	}
	fclose(in);
	if (!out || fclose(out) || rename(tmp, path))
		return -EIO;
	return found ? 0 : -ENODEV;
}

int fk_vfio_ids(struct fake_kernel *fk, const char *ids)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" FK_DYNIDS, fx_root(fk->fx));
	f = fopen(path, "a");
	if (!f)
		return -errno;
	fputs(ids, f);
	return fclose(f) ? -EIO : 0;
}

/* the function's ids, "vvvv dddd" */
static void func_id(struct sysfs *sfs, const char *addr, char id[16])
{
	struct pci_addr a;
	struct pci_func f;

	id[0] = '\0';
	if (!pci_addr_parse(addr, &a) && !pci_func_load(sfs, &a, &f))
		snprintf(id, 16, "%04x %04x", f.vendor, f.device);
}

/* drivers_probe: the override if set, else vfio-pci for one of its dynamic
 * ids, else the function's default driver. */
static int do_probe(struct fake_kernel *fk, struct sysfs *sfs, const char *addr, int wrong)
{
	char drv[64], ovr[FK_PAGE_SIZE], id[16];
	const char *pick;

	if (!device_exists(fk, addr))
		return -ENODEV;
	current(sfs, addr, drv, ovr);
	if (drv[0] || !strcmp(fk->sh->unbinding, addr))
		return 0;
	if (wrong) {
		const char *w = fk->sh->wrong_driver[0] ? fk->sh->wrong_driver : "nouveau";

		fx_add_driver(fk->fx, w);
		return fx_set_driver(fk->fx, addr, w);
	}
	func_id(sfs, addr, id);
	pick = ovr[0] ? ovr : dynid_has(fk, id) ? "vfio-pci" : default_driver(fk, addr);
	if (!pick[0] || !driver_exists(fk, pick))
		return 0;          /* no driver wants it: stays unbound */
	return fx_set_driver(fk->fx, addr, pick);
}

static int do_bind(struct fake_kernel *fk, struct sysfs *sfs, const char *drv, const char *addr)
{
	char cur[64], ovr[FK_PAGE_SIZE];

	if (!driver_exists(fk, drv))
		return -ENOENT;
	if (!device_exists(fk, addr))
		return -ENODEV;
	current(sfs, addr, cur, ovr);
	if (cur[0] || !strcmp(fk->sh->unbinding, addr))
		return -EBUSY;
	if (ovr[0] && strcmp(ovr, drv) != 0)
		return -ENODEV;    /* driver_override does not match */
	return fx_set_driver(fk->fx, addr, drv);
}

static int do_unbind(struct fake_kernel *fk, struct sysfs *sfs, const char *drv, const char *addr)
{
	char cur[64], ovr[FK_PAGE_SIZE];

	current(sfs, addr, cur, ovr);
	if (!cur[0] || (drv && strcmp(cur, drv) != 0))
		return -ENODEV;
	return fx_set_driver(fk->fx, addr, NULL);
}

/* As driver_set_override: at most PAGE_SIZE - 2 bytes, cut at a newline. */
static int do_override(struct fake_kernel *fk, const char *addr, const char *val)
{
	char v[FK_PAGE_SIZE];

	if (strlen(val) >= FK_PAGE_SIZE - 1)
		return -EINVAL;
	snprintf(v, sizeof(v), "%s", val);
	v[strcspn(v, "\n")] = '\0';
	if (!device_exists(fk, addr))
		return -ENODEV;
	strcat(v, "\n");
	return fx_set_attr(fk->fx, addr, "driver_override", strcmp(v, "\n") ? v : "(null)\n");
}

static int apply(struct fake_kernel *fk, struct sysfs *sfs, const char *rel, const char *val,
		 int wrong)
{
	char addr[PCI_ADDR_LEN], drv[64], attr[64], v[64];

	snprintf(v, sizeof(v), "%s", val);
	v[strcspn(v, "\n")] = '\0';
	if (strcmp(rel, "bus/pci/drivers_probe") == 0)
		return do_probe(fk, sfs, v, wrong);
	if (sscanf(rel, "bus/pci/devices/%12[^/]/%63s", addr, attr) == 2) {
		if (strcmp(attr, "driver_override") == 0)
			return do_override(fk, addr, val);
		if (strcmp(attr, "driver/unbind") == 0)
			return strcmp(v, addr) ? -ENODEV : do_unbind(fk, sfs, NULL, addr);
		return -EACCES;
	}
	if (sscanf(rel, "bus/pci/drivers/%63[^/]/%63s", drv, attr) == 2) {
		if (strcmp(attr, "bind") == 0)
			return do_bind(fk, sfs, drv, v);
		if (strcmp(attr, "unbind") == 0)
			return do_unbind(fk, sfs, drv, v);
		if (strcmp(drv, "vfio-pci") == 0 && strcmp(attr, "remove_id") == 0)
			return dynid_remove(fk, v);
	}
	return -EACCES;
}

/* The function a write is about: in the path, or (drivers_probe, a
 * driver's bind or unbind) the value. */
static void write_addr(const char *rel, const char *val, char addr[PCI_ADDR_LEN])
{
	addr[0] = '\0';
	if (sscanf(rel, "bus/pci/devices/%12[^/]", addr) != 1)
		snprintf(addr, PCI_ADDR_LEN, "%.12s", val);
}

/* Is the n-th write (of all, or of the fault's slot) the one to fail? */
static int fault_hit(struct fk_shared *sh, int n, const char *rel, const char *val)
{
	char addr[PCI_ADDR_LEN];

	if (!sh->fail_at)
		return 0;
	if (sh->fail_slot[0]) {
		write_addr(rel, val, addr);
		if (strncmp(addr, sh->fail_slot, strlen(sh->fail_slot)) != 0)
			return 0;
		n = __atomic_add_fetch(&sh->slot_writes, 1, __ATOMIC_SEQ_CST);
	}
	return n == sh->fail_at || (sh->kind == FK_ERRNO_FROM && n > sh->fail_at);
}

/* Two IOMMU groups in flight at once: the first write about meet_slot
 * returns only once a write about another slot was made (within 30 s,
 * far past any engine limit of the tests), which a run that hands the
 * groups over one after another never does. */
static void rendezvous(struct fk_shared *sh, const char *rel, const char *val)
{
	char addr[PCI_ADDR_LEN];

	if (!sh->meet_slot[0])
		return;
	write_addr(rel, val, addr);
	if (strncmp(addr, sh->meet_slot, strlen(sh->meet_slot)) != 0) {
		__atomic_add_fetch(&sh->others, 1, __ATOMIC_SEQ_CST);
		return;
	}
	for (int waited = 0; waited < 30000 && !__atomic_load_n(&sh->others, __ATOMIC_SEQ_CST);
	     waited++)
		usleep(1000);
	sh->meet_slot[0] = '\0';
}

/* The unbind's first half, as the kernel does it before the driver's
 * remove(): the driver link goes; uevent still says DRIVER= (dev->driver
 * is cleared after remove() returns). */
static void hang_unbinding(struct fake_kernel *fk, struct sysfs *sfs, const char *rel,
			   const char *val)
{
	char addr[PCI_ADDR_LEN], path[4096], uevent[4096] = "";
	FILE *in;

	write_addr(rel, val, addr);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/uevent", fx_root(fk->fx), addr);
	in = fopen(path, "r");
	if (in) {
		uevent[fread(uevent, 1, sizeof(uevent) - 1, in)] = '\0';
		fclose(in);
	}
	snprintf(fk->sh->unbinding, sizeof(fk->sh->unbinding), "%s", addr);
	apply(fk, sfs, rel, val, 0);
	fx_set_attr(fk->fx, addr, "uevent", uevent);
}

static int fk_write(struct sysfs *sfs, const char *rel, const char *val)
{
	struct fake_kernel *fk = sysfs_backend_priv(sfs);
	struct fk_shared *sh = fk->sh;
	int n = __atomic_add_fetch(&sh->writes, 1, __ATOMIC_SEQ_CST);
	int hit;
	int err;

	rendezvous(sh, rel, val);
	hit = fault_hit(sh, n, rel, val);

	if (sh->last_writer != getpid()) {
		sh->last_writer = getpid();
		sh->writers++;
	}
	if (!hit)
		return apply(fk, sfs, rel, val, 0);
	switch (sh->kind) {
	case FK_ERRNO:
	case FK_ERRNO_FROM:
		return -sh->err;
	case FK_WRONG_DRIVER:
		if (strcmp(rel, "bus/pci/drivers_probe") != 0) {
			sh->fail_at++;          /* wait for the next probe */
			return apply(fk, sfs, rel, val, 0);
		}
		return apply(fk, sfs, rel, val, 1);
	case FK_HANG_UNBINDING:
		hang_unbinding(fk, sfs, rel, val);
		for (;;)
			pause();
	case FK_HANG_LOCKED: {
		char addr[PCI_ADDR_LEN] = "";

		if (sscanf(rel, "bus/pci/devices/%12[^/]", addr) != 1)
			snprintf(addr, sizeof(addr), "%.12s", val);
		fk_hang_override_reads(fk, addr);
	}
		/* fall through */
	case FK_HANG:
		for (;;)
			pause();
	case FK_VANISH: {
		char path[4096], addr[PCI_ADDR_LEN] = "";

		if (sscanf(rel, "bus/pci/devices/%12[^/]", addr) != 1)
			snprintf(addr, sizeof(addr), "%.12s", val);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", fx_root(fk->fx), addr);
		unlink(path);
		return -ENODEV;
	}
	case FK_KILL:
		err = apply(fk, sfs, rel, val, 0);
		kill(getppid(), SIGKILL);
		return err;
	case FK_NONE:
		break;
	}
	return apply(fk, sfs, rel, val, 0);
}

/* Reads go to the tree as they are, but for a function whose lock a
 * blocked unbind holds: its driver_override does not answer. */
static int fk_read(struct sysfs *sfs, const struct pci_addr *fn, int dirfd, const char *rel,
		   char *buf, size_t len)
{
	struct fake_kernel *fk = sysfs_backend_priv(sfs);
	char want[300];

	if (fk->sh->hang_override[0]) {
		snprintf(want, sizeof(want), "bus/pci/devices/%s/driver_override", fk->sh->hang_override);
		if (strcmp(rel, want) == 0 ||
		    (fn && strcmp(rel, "driver_override") == 0 &&
		     strcmp(pci_addr_fmt(fn, want), fk->sh->hang_override) == 0))
			for (;;)
				pause();
	}
	return sysfs_default_ops.read(sfs, fn, dirfd, rel, buf, len);
}

struct fake_kernel *fk_new(struct fx *fx, struct sysfs *sfs)
{
	struct fake_kernel *fk = calloc(1, sizeof(*fk));
	struct sysfs_ops *ops;
	struct pci_host host;

	if (!fk)
		return NULL;
	fk->sh = mmap(NULL, sizeof(*fk->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ops = malloc(sizeof(*ops));
	if (fk->sh == MAP_FAILED || !ops || pci_host_load(sfs, &host) < 0) {
		free(ops);
		free(fk);
		return NULL;
	}
	memset(fk->sh, 0, sizeof(*fk->sh));
	fk->fx = fx;
	fk->sfs = sfs;
	for (size_t i = 0; i < host.nfuncs && i < MAX_FUNCS; i++) {
		pci_addr_fmt(&host.funcs[i].addr, fk->dflt[i].addr);
		snprintf(fk->dflt[i].driver, sizeof(fk->dflt[i].driver), "%s", host.funcs[i].driver);
		fk->n++;
	}
	pci_host_free(&host);
	/* reads go to the tree as they are; writes go through the emulation */
	*ops = sysfs_default_ops;
	ops->write = fk_write;
	ops->read = fk_read;
	fk->ops = ops;
	sysfs_set_backend(sfs, ops, fk, fx_rootfd(fx));
	return fk;
}

void fk_free(struct fake_kernel *fk)
{
	if (!fk)
		return;
	sysfs_set_backend(fk->sfs, NULL, NULL, -1);
	free(fk->ops);
	munmap(fk->sh, sizeof(*fk->sh));
	free(fk);
}

void fk_fail(struct fake_kernel *fk, int at, enum fk_fault kind, int err)
{
	fk->sh->fail_slot[0] = '\0';
	fk->sh->fail_at = at ? fk->sh->writes + at : 0;
	fk->sh->kind = kind;
	fk->sh->err = err;
}

void fk_fail_slot(struct fake_kernel *fk, const char *slot, int at, enum fk_fault kind, int err)
{
	snprintf(fk->sh->fail_slot, sizeof(fk->sh->fail_slot), "%s", slot);
	fk->sh->slot_writes = 0;
	fk->sh->fail_at = at;
	fk->sh->kind = kind;
	fk->sh->err = err;
}

void fk_wrong_driver(struct fake_kernel *fk, const char *driver)
{
	snprintf(fk->sh->wrong_driver, sizeof(fk->sh->wrong_driver), "%s", driver ? driver : "");
}

void fk_rendezvous(struct fake_kernel *fk, const char *slot)
{
	fk->sh->others = 0;
	snprintf(fk->sh->meet_slot, sizeof(fk->sh->meet_slot), "%s", slot);
}

void fk_locked_reads(struct fake_kernel *fk, bool on)
{
	fk->ops->locked_reads = on;
}

void fk_hang_override_reads(struct fake_kernel *fk, const char *addr)
{
	snprintf(fk->sh->hang_override, sizeof(fk->sh->hang_override), "%s", addr ? addr : "");
}

void fk_finish_unbinding(struct fake_kernel *fk)
{
	char addr[PCI_ADDR_LEN];

	snprintf(addr, sizeof(addr), "%s", fk->sh->unbinding);
	fk->sh->unbinding[0] = '\0';
	if (addr[0])
		fx_set_driver(fk->fx, addr, NULL);
}

int fk_writes(const struct fake_kernel *fk)
{
	return fk->sh->writes;
}

int fk_writers(const struct fake_kernel *fk, pid_t *last)
{
	if (last)
		*last = fk->sh->last_writer;
	return fk->sh->writers;
}

void fk_snapshot(struct sysfs *sfs, char *buf, size_t len)
{
	struct pci_host host;
	size_t off = 0;

	buf[0] = '\0';
	if (pci_host_load(sfs, &host) < 0)
		return;
	for (size_t i = 0; i < host.nfuncs && off < len; i++) {
		char ab[PCI_ADDR_LEN];
		int n = snprintf(buf + off, len - off, "%s %s %s\n", pci_addr_fmt(&host.funcs[i].addr, ab),
				 host.funcs[i].driver[0] ? host.funcs[i].driver : "-",
				 host.funcs[i].override[0] ? host.funcs[i].override : "-");
		if (n < 0)
			break;
		off += (size_t)n;
	}
	pci_host_free(&host);
}
