#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "aleph.h"
#include "aleph-supervisor.h"
#include "apply-record.h"
#include "checks.h"
#include "persist.h"
#include "kmodules.h"
#include "leftovers.h"
#include "models.h"
#include "qemu-version.h"
#include "root-path.h"
#include "safety.h"
#include "util.h"
#include "usage.h"
#include "vfio-variant.h"

#define TARGET_GTS 16.0      /* PCIe 4.0 */
#define TARGET_WIDTH 16

const char *check_status_name(enum check_status s)
{
	static const char *const names[] = { "PASS", "WARN", "FAIL" };
	return names[s];
}

/* An item's message or fix: malloc'ed printf, NULL only when out of
 * memory.  Each is one line: a newline from text read in the tree
 * (reset_method "flr\nbus") becomes a space. */
__attribute__((format(printf, 1, 2)))
static char *text(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	for (char *p = s; p && *p; p++)
		if (*p == '\n')
			*p = ' ';
	return s;
}

/* Add an item, taking message and fix (NULL: none; a PASS has none);
 * message NULL is out of memory. */
static int add(struct check_report *r, enum check_status st, enum check_id id,
	       const struct pci_addr *dev, char *message, char *fix)
{
	struct check_item *v, *it;
	char dv[PCI_ADDR_LEN] = "";

	if (!message || (st != CHECK_PASS && !fix)) {
		free(message);
		free(fix);
		return -ENOMEM;
	}
	if (dev)
		pci_addr_fmt(dev, dv);
	/* GPUs checked together can share a finding (a NIC in both groups): once */
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].id == id && r->items[i].status == st &&
		    strcmp(r->items[i].device, dv) == 0 && strcmp(r->items[i].message, message) == 0) {
			free(message);
			free(fix);
			return 0;
		}
	v = realloc(r->items, (r->n + 1) * sizeof(*v));
	if (!v) {
		free(message);
		free(fix);
		return -ENOMEM;
	}
	r->items = v;
	it = &v[r->n++];
	memset(it, 0, sizeof(*it));
	it->status = st;
	it->id = id;
	memcpy(it->device, dv, sizeof(dv));
	it->message = message;
	it->fix = fix;
	r->count[st]++;
	return 0;
}

void check_report_free(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].message);
		free(r->items[i].fix);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

static int check_iommu(const struct check_env *env, struct check_report *r)
{
	if (pci_host_iommu_on(env->host))
		return add(r, CHECK_PASS, CHECK_IOMMU, NULL,
			   text("IOMMU active: %d groups", env->host->ngroups), NULL);
	return add(r, CHECK_FAIL, CHECK_IOMMU, NULL,
		   text("IOMMU is off: the kernel made no IOMMU groups, so no device can be "
			"handed to a VM"),
		   text("enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup, add "
			"intel_iommu=on (Intel; AMD enables it by default) and iommu=pt to "
			"GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot"));
}

static int check_vfio_module(const struct check_env *env, struct sysfs *sfs,
			     struct check_report *r)
{
	enum vfio_avail st;
	char detail[4096];
	int err = kmodules_vfio_pci(sfs, env->root, env->kernel, &st, detail, sizeof(detail));

	if (err == -ENOPKG)
		return add(r, CHECK_WARN, CHECK_VFIO_PCI, NULL,
			   text("could not look up the vfio-pci module: %s", detail),
			   text("install libkmod (on Debian: libkmod2)"));
	if (err < 0)
		return add(r, CHECK_WARN, CHECK_VFIO_PCI, NULL,
			   text("could not look up the vfio-pci module: %s", strerror(-err)),
			   text("check that libkmod can read %s", "/lib/modules"));
	switch (st) {
	case VFIO_LOADED:
		return add(r, CHECK_PASS, CHECK_VFIO_PCI, NULL,
			   text("vfio-pci is loaded"), NULL);
	case VFIO_BUILTIN:
		return add(r, CHECK_PASS, CHECK_VFIO_PCI, NULL,
			   text("vfio-pci is %s", detail), NULL);
	case VFIO_MODULE:
		return add(r, CHECK_PASS, CHECK_VFIO_PCI, NULL,
			   text("vfio-pci is available%s%s: %s", env->kernel ? " for kernel " : "",
				env->kernel ? env->kernel : "", detail), NULL);
	case VFIO_MISSING:
		break;
	}
	if (env->kernel)
		return add(r, CHECK_FAIL, CHECK_VFIO_PCI, NULL,
			   text("no vfio-pci module for kernel %s (--kernel) in %s", env->kernel,
				detail),
			   text("install that kernel's modules package (on Debian: linux-image-%s), "
				"or name the kernel the next boot runs (ls /lib/modules)", env->kernel));
	return add(r, CHECK_FAIL, CHECK_VFIO_PCI, NULL,
		   text("no vfio-pci module for this kernel in %s", detail),
		   text("install the kernel's modules package (on Debian: linux-image-$(uname "
			"-r)), or boot a kernel built with CONFIG_VFIO_PCI"));
}

/* Functions of the slot that have no group although the IOMMU is on. */
static int check_groupless(const struct check_env *env, const struct pci_addr *slot,
			   struct check_report *r, int *group)
{
	const struct pci_host *h = env->host;
	size_t first, count;
	char ab[PCI_ADDR_LEN];
	int err = 0, missing = 0;

	*group = -1;
	first = pci_host_slot(h, slot, &count);
	for (size_t i = first; i < first + count && !err; i++) {
		const struct pci_func *f = &h->funcs[i];
		if (f->iommu_group >= 0) {
			*group = f->iommu_group;
			continue;
		}
		if (!pci_host_iommu_on(h))
			continue;
		missing = 1;
		err = add(r, CHECK_FAIL, CHECK_GROUP, &f->addr,
			  text("%s has no IOMMU group%s", pci_addr_fmt(&f->addr, ab),
			       (f->bad & PCI_BAD_IOMMU_GROUP) ?
			       " (its iommu_group link is broken)" : ""),
			  text("the kernel did not place it behind the IOMMU; check the "
			       "firmware's IOMMU/ACS settings and the kernel log (dmesg | grep -i "
			       "iommu)"));
	}
	return err < 0 ? err : missing;
}

/* How many devices of a GPU's IOMMU group its check names one by one. */
#define GROUP_NAMED 8

/* The intruders past the ones named, of this GPU's (in[0] and after). */
static int more_intruders(const struct pci_host *h, const struct pci_addr *slot,
			  const struct group_intruder *in, size_t n, struct check_report *r)
{
	char sb[PCI_SLOT_LEN];
	size_t more = 0;

	for (size_t i = 0; i < n; i++)
		more += pci_same_slot(&in[i].via, slot);
	(void)h;
	pci_slot_fmt(slot, sb);
	return add(r, CHECK_FAIL, CHECK_GROUP, slot,
		   text("IOMMU group %d of %s also holds %zu more devices on host drivers: they "
			"would go to the VM too", in[0].group, sb, more),
		   text("vfio-handover list --all shows the group's members; a group this large "
			"means the platform does not isolate its devices (no ACS): move the GPU "
			"to a slot with an IOMMU group of its own"));
}

static int check_group(const struct check_env *env, const struct pci_addr *slot,
		       const struct pci_addr *slots, size_t nslots, struct check_report *r)
{
	const struct pci_host *h = env->host;
	struct group_intruder *in = NULL;
	size_t nin = 0;
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];
	int err, group, failed;

	failed = check_groupless(env, slot, r, &group);
	if (failed < 0 || group < 0)
		return failed < 0 ? failed : 0;
	/* intruders of this GPU alone, or with the GPUs selected alongside */
	struct selection sel = {
		.slots = nslots ? slots : slot, .nslots = nslots ? nslots : 1,
		.named = env->named, .nnamed = env->nnamed,
	};

	err = safety_group_intruders(h, &sel, &in, &nin);
	for (size_t i = 0; i < nin && !err; i++) {
		const struct pci_func *m = pci_host_find(h, &in[i].member);
		if (!pci_same_slot(&in[i].via, slot))
			continue;
		/* a group without ACS can hold a hundred devices: the first
		 * ones by name, the rest counted */
		if (failed++ == GROUP_NAMED) {
			err = more_intruders(h, slot, in + i, nin - i, r);
			break;
		}
		/* (message and fix are formatted in either order: sb and ab first) */
		pci_slot_fmt(slot, sb);
		pci_addr_fmt(&in[i].member, ab);
		err = add(r, CHECK_FAIL, CHECK_GROUP, &in[i].member,
			  text("IOMMU group %d of %s also holds %s [%04x:%04x] on %s: it would go "
			       "to the VM too", in[i].group, sb, ab, m ? m->vendor : 0,
			       m ? m->device : 0,
			       in[i].driver[0] ? in[i].driver : "a driver whose link cannot be read"),
			  text("name it as well to hand it over with the GPU (vfio-handover bind "
			       "%s %s), or move the GPU to a slot with an IOMMU group of its own",
			       sb, ab));
	}
	free(in);
	if (!err && !failed)
		err = add(r, CHECK_PASS, CHECK_GROUP, slot,
			  text("IOMMU group %d is viable: it holds only this GPU's functions, "
			       "bridges or devices without a host driver", group), NULL);
	return err;
}

static int check_boot_vga(const struct check_env *env, const struct pci_addr *slot,
			  struct check_report *r)
{
	const struct pci_host *h = env->host;
	size_t first, count;
	char ab[PCI_ADDR_LEN];

	first = pci_host_slot(h, slot, &count);
	for (size_t i = first; i < first + count; i++)
		if (h->funcs[i].boot_vga == 1)
			return add(r, CHECK_FAIL, CHECK_BOOT_VGA, &h->funcs[i].addr,
				   text("%s is the boot VGA device: the host's console runs on it",
					pci_addr_fmt(&h->funcs[i].addr, ab)),
				   text("give the host another primary display in the firmware "
					"setup (BMC or integrated graphics), or pass --force on a "
					"headless host"));
	return add(r, CHECK_PASS, CHECK_BOOT_VGA, slot,
		   text("not the boot VGA device"), NULL);
}

static int report_holder(const struct holder *ho, struct check_report *r)
{
	char ab[PCI_ADDR_LEN];

	pci_addr_fmt(&ho->fn, ab);
	if (strcmp(ho->comm, "nvidia-persiste") == 0 || strcmp(ho->comm, "nvidia-persistenced") == 0)
		return add(r, CHECK_FAIL, CHECK_IN_USE, &ho->fn,
			   text("%s: nvidia-persistenced (PID %d) holds %s open, as it holds "
				"every NVIDIA GPU", ab, (int)ho->pid, ho->node),
			   text("release the GPU: systemctl stop nvidia-persistenced, or turn "
				"persistence mode off for this GPU alone (nvidia-smi -i %s -pm 0)",
				ab));
	return add(r, CHECK_FAIL, CHECK_IN_USE, &ho->fn,
		   text("%s: PID %d (%s) holds %s open", ab, (int)ho->pid, ho->comm, ho->node),
		   text("stop that process or its service (display manager, container, monitoring "
			"agent), or pass --force to hand the GPU over anyway"));
}

/*
 * What check_run reads once for every GPU it checks: the class devices
 * below each function of their IOMMU groups (each function walked once,
 * however many GPUs share its group), the disks' mounts, and the
 * processes holding the GPUs' device nodes (one pass over /proc).  Each
 * GPU's items take what is theirs from it.
 */
struct shared {
	struct usage u;              /* every function of every closure checked */
	struct holder *ho;           /* holders of the GPUs' own nodes */
	size_t nho;
	struct holder_scan scan;
	int scanned;                 /* 0 not tried, 1 done, -errno failed */
};

/* Is fn one of the slot's functions, or in an IOMMU group of one? */
static bool in_closure(const struct pci_host *h, const struct pci_addr *slot,
		       const struct pci_addr *fn)
{
	const struct pci_func *f = pci_host_find(h, fn);
	size_t count, first;

	if (pci_same_slot(slot, fn))
		return true;
	if (!f || f->iommu_group < 0)
		return false;
	first = pci_host_slot(h, slot, &count);
	for (size_t i = first; i < first + count; i++)
		if (h->funcs[i].iommu_group == f->iommu_group)
			return true;
	return false;
}

static int shared_read(const struct check_env *env, const struct pci_addr *slots, size_t n,
		       struct shared *sh)
{
	struct usage own = { 0 };
	struct pci_addr *fns = NULL;
	size_t nfns = 0;
	int err;

	err = safety_group_closure(env->host, slots, n, &fns, &nfns);
	if (!err)
		err = usage_collect(env->host->sfs, env->procroot, fns, nfns, &sh->u);
	if (!err)
		err = usage_disk_use(env->host->sfs, env->procroot, &sh->u);
	free(fns);
	if (err || !env->procroot)
		return err;
	/* the nodes of the GPUs themselves, not of their group's other members */
	own.nodes = calloc(sh->u.nnodes ? sh->u.nnodes : 1, sizeof(*own.nodes));
	if (!own.nodes)
		return -ENOMEM;
	for (size_t i = 0; i < sh->u.nnodes; i++)
		if (safety_in_slots(slots, n, &sh->u.nodes[i].fn))
			own.nodes[own.nnodes++] = sh->u.nodes[i];
	if (env->timeout_ms > 0)
		sh->scan.deadline_ms = monotonic_ms() + env->timeout_ms;
	sh->scanned = usage_find_holders(env->procroot, &own, &sh->ho, &sh->nho, &sh->scan);
	if (sh->scanned == 0)
		sh->scanned = 1;
	free(own.nodes);
	return 0;
}

static void shared_free(struct shared *sh)
{
	usage_free(&sh->u);
	free(sh->ho);
}

static int check_in_use(const struct check_env *env, const struct shared *sh,
			const struct pci_addr *slot, struct check_report *r)
{
	size_t nho = 0, nodes = 0;
	int err = 0;

	if (!env->procroot && env->live)
		return add(r, CHECK_FAIL, CHECK_IN_USE, slot,
			   text("open device nodes could not be checked: /proc is not a procfs"),
			   text("mount it (mount -t proc proc /proc), or pass --force to hand the "
				"GPU over without knowing who holds it"));
	if (!env->procroot)
		return add(r, CHECK_WARN, CHECK_IN_USE, slot,
			   text("open device nodes not checked: the sysfs tree is not the running "
				"kernel's"),
			   text("run check on the host itself (without --sysfs)"));
	if (sh->scanned < 0)
		return sh->scanned;
	for (size_t i = 0; i < sh->nho && !err; i++)
		if (pci_same_slot(&sh->ho[i].fn, slot)) {
			err = report_holder(&sh->ho[i], r);
			nho++;
		}
	for (size_t i = 0; i < sh->u.nnodes; i++)
		nodes += pci_same_slot(&sh->u.nodes[i].fn, slot);
	/* an unfinished scan proves nothing: a holder may be among the rest */
	if (!err && sh->scan.unscanned)
		err = add(r, CHECK_FAIL, CHECK_IN_USE, slot,
			  text("the scan for processes holding this GPU's device nodes did not "
			       "finish within --timeout: %d processes not inspected",
			       sh->scan.unscanned),
			  text("raise --timeout, or pass --force to hand the GPU over without "
			       "knowing who holds it"));
	else if (!err && sh->scan.uninspected)
		err = add(r, CHECK_WARN, CHECK_IN_USE, slot,
			  text("%d processes could not be inspected for open device nodes",
			       sh->scan.uninspected),
			  text("run check as root"));
	else if (!err && !nho)
		err = add(r, CHECK_PASS, CHECK_IN_USE, slot,
			  text("no process holds a device node of this GPU (%zu nodes)", nodes),
			  NULL);
	return err;
}

static int report_host_use(const struct check_env *env, const struct usage *u,
			   const struct pci_addr *slot, struct check_report *r)
{
	const struct pci_host *h = env->host;
	char ab[PCI_ADDR_LEN];
	int err = 0, found = 0;

	for (size_t i = 0; i < u->nifs && !err; i++) {
		if (!u->ifs[i].up || !in_closure(h, slot, &u->ifs[i].fn))
			continue;
		found = 1;
		err = add(r, CHECK_FAIL, CHECK_HOST_USE, &u->ifs[i].fn,
			  text("%s carries network interface %s, which is up: the host would lose "
			       "it", pci_addr_fmt(&u->ifs[i].fn, ab), u->ifs[i].name),
			  text("bring it down (ip link set %s down) and move its traffic first, "
			       "or give the GPU a slot whose IOMMU group does not hold this NIC",
			       u->ifs[i].name));
	}
	for (size_t i = 0; i < u->ndisks && !err; i++) {
		if (!u->disks[i].use[0] || !in_closure(h, slot, &u->disks[i].fn))
			continue;
		found = 1;
		err = add(r, CHECK_FAIL, CHECK_HOST_USE, &u->disks[i].fn,
			  text("%s carries disk %s, %s: the host would lose it",
			       pci_addr_fmt(&u->disks[i].fn, ab), u->disks[i].name, u->disks[i].use),
			  text("unmount it and stop what uses it, or give the GPU a slot whose "
			       "IOMMU group does not hold this controller"));
	}
	return err < 0 ? err : found;
}

static int check_host_use(const struct check_env *env, const struct shared *sh,
			  const struct pci_addr *slot, struct check_report *r)
{
	size_t ndisks = 0;
	int err = report_host_use(env, &sh->u, slot, r);

	for (size_t i = 0; i < sh->u.ndisks; i++)
		ndisks += in_closure(env->host, slot, &sh->u.disks[i].fn);
	if (err == 0 && !env->procroot && env->live && ndisks)
		err = add(r, CHECK_FAIL, CHECK_HOST_USE, slot,
			  text("%zu disks in this GPU's IOMMU group; whether they are mounted "
			       "could not be checked: /proc is not a procfs", ndisks),
			  text("mount it (mount -t proc proc /proc)"));
	else if (err == 0 && !env->procroot && ndisks)
		err = add(r, CHECK_WARN, CHECK_HOST_USE, slot,
			  text("%zu disks in this GPU's IOMMU group; whether they are mounted was "
			       "not checked: the sysfs tree is not the running kernel's", ndisks),
			  text("run check on the host itself"));
	else if (err == 0)
		err = add(r, CHECK_PASS, CHECK_HOST_USE, slot,
			  text("no mounted disk or network interface that is up in this GPU's "
			       "IOMMU group"), NULL);
	return err < 0 ? err : 0;
}

static const struct pci_func *slot_display(const struct pci_host *h, const struct pci_addr *slot)
{
	size_t first, count;

	first = pci_host_slot(h, slot, &count);
	for (size_t i = first; i < first + count; i++)
		if (pci_func_is_display(&h->funcs[i]))
			return &h->funcs[i];
	return count ? &h->funcs[first] : NULL;
}

static double min_known(double a, double b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return a < b ? a : b;
}

/* "16.0 GT/s x16", with "unknown" for what the kernel did not say. */
static const char *link_text(double gts, int width, char *buf, size_t len)
{
	char w[16] = "x?";

	if (width > 0)
		snprintf(w, sizeof(w), "x%d", width);
	if (gts > 0)
		snprintf(buf, len, "%.1f GT/s %s", gts, w);
	else
		snprintf(buf, len, "unknown speed %s", w);
	return buf;
}

static int check_link(const struct check_env *env, const struct pci_func *f,
		      struct check_report *r)
{
	char dl[48], pl[48], cl[48];
	const struct pci_func *port = f->has_upstream ? pci_host_find(env->host, &f->upstream) : NULL;
	double pmax = port ? port->link.max_gts : 0, cap = min_known(f->link.max_gts, pmax);
	int pw = port ? port->link.max_width : 0;
	int width = (int)min_known(f->link.max_width, pw);
	char slotname[64] = "", where[96], ab[PCI_ADDR_LEN];

	if (cap <= 0 || width <= 0)
		return add(r, CHECK_WARN, CHECK_PCIE_LINK, &f->addr,
			   text("PCIe link capability of %s unknown: sysfs has no readable "
				"max_link_speed/max_link_width", pci_addr_fmt(&f->addr, ab)),
			   text("check the slot with lspci -vv (LnkCap)"));
	sysfs_phys_slot(env->host->sfs, &f->addr, slotname, sizeof(slotname));
	snprintf(where, sizeof(where), "%s%s%s", pci_addr_fmt(&f->addr, ab),
		 slotname[0] ? " in physical slot " : "", slotname);
	link_text(f->link.max_gts, f->link.max_width, dl, sizeof(dl));
	if (port)
		link_text(pmax, pw, pl, sizeof(pl));
	else
		snprintf(pl, sizeof(pl), "none above");
	link_text(f->link.cur_gts, f->link.cur_width, cl, sizeof(cl));
	/* what is unknown of the GPU or its port may be less than the other
	 * says: never a PASS on half the facts */
	if (cap >= TARGET_GTS - 0.01 && width >= TARGET_WIDTH &&
	    (f->link.max_gts <= 0 || f->link.max_width <= 0 || (port && (pmax <= 0 || pw <= 0))))
		return add(r, CHECK_WARN, CHECK_PCIE_LINK, &f->addr,
			   text("%s: PCIe link capability unknown (device %s, port %s): sysfs has "
				"no readable max_link_speed/max_link_width for the %s", where, dl, pl,
				f->link.max_gts <= 0 || f->link.max_width <= 0 ? "GPU" : "port above it"),
			   text("check the GPU and its slot with lspci -vv (LnkCap): Aleph asks for "
				"PCIe 4.0 x16"));
	if (cap >= TARGET_GTS - 0.01 && width >= TARGET_WIDTH)
		return add(r, CHECK_PASS, CHECK_PCIE_LINK, &f->addr,
			   text("%s can run PCIe %d.0 x%d (device %s, port %s); now %s (an idle "
				"GPU trains its link down)",
				where, pci_speed_gen(cap), width, dl, pl, cl), NULL);
	return add(r, CHECK_WARN, CHECK_PCIE_LINK, &f->addr,
		   text("%s is limited to PCIe %d.0 x%d (device %s, port %s; now %s): Aleph asks "
			"for PCIe 4.0 x16", where, pci_speed_gen(cap), width, dl, pl, cl),
		   text("move the GPU to a PCIe 4.0 (or newer) x16 slot wired to the CPU, or "
			"check the slot's speed and bifurcation settings in the firmware"));
}

static int check_model(const struct pci_func *f, struct check_report *r)
{
	const struct gpu_model *m = gpu_model_find(f->vendor, f->device);

	if (f->bad & (PCI_BAD_VENDOR | PCI_BAD_DEVICE))
		return 0;       /* the sysfs item already says the ids are unreadable */
	if (m)
		return add(r, CHECK_PASS, CHECK_MODEL, &f->addr,
			   text("%s: %s tier, %d vCPU, %d GB RAM, %d GB vRAM, about %.2f "
				"ALEPH/hour",
				m->name, m->tier, m->vcpu, m->ram_gb, m->vram_gb, m->aleph_per_hour),
			   NULL);
	return add(r, CHECK_WARN, CHECK_MODEL, &f->addr,
		   text("[%04x:%04x] is not a model Aleph compute nodes offer",
			f->vendor, f->device),
		   text("the hand-over works, but an Aleph node will not list this GPU as "
			"compatible"));
}

static int check_reset(const struct pci_func *f, struct check_report *r)
{
	char ab[PCI_ADDR_LEN];

	pci_addr_fmt(&f->addr, ab);
	if (f->has_reset_method && f->reset_method[0])
		return add(r, CHECK_PASS, CHECK_RESET, &f->addr,
			   text("%s can be reset: %s", ab, f->reset_method), NULL);
	if (!f->has_reset_method && f->has_reset)
		return add(r, CHECK_PASS, CHECK_RESET, &f->addr,
			   text("%s can be reset (this kernel does not say how)", ab), NULL);
	return add(r, CHECK_WARN, CHECK_RESET, &f->addr,
		   text("%s has no reset method: a VM can leave it in a state the next one cannot "
			"use", ab),
		   text("update the GPU's firmware, or plan to reboot the host between tenants"));
}

/* The target kernel's module index, for the VFIO driver --driver auto
 * would choose (opened once a run). */
struct variant_index {
	struct kmodules_index ix;
	int err;                /* it could not be opened: why */
	char kver[256];
};

/* An index that cannot be read is said once, for the host. */
static int variant_index_open(const struct check_env *env, struct variant_index *vi,
			      struct check_report *r)
{
	if (env->kernel)
		snprintf(vi->kver, sizeof(vi->kver), "%s", env->kernel);
	else
		kmodules_running_release(vi->kver, sizeof(vi->kver));
	vi->err = kmodules_index_open(env->root, vi->kver, &vi->ix);
	if (!vi->err)
		return 0;
	return add(r, CHECK_WARN, CHECK_VFIO_DRIVER, NULL,
		   text("which VFIO driver --driver auto would choose for each function is unknown: "
			"kernel %s's module index cannot be read (%s)", vi->kver, vi->err == -ENOENT ?
			"no modules.dep.bin" : vi->err == -ENOPKG ? "no libkmod" : strerror(-vi->err)),
		   text("run depmod %s (libkmod2 installed), then check again", vi->kver));
}

static void variant_index_close(struct variant_index *vi)
{
	if (!vi->err)
		kmodules_index_close(&vi->ix);
	vi->err = -EBADF;
}

/* A device known to need its variant, and the kernel lacks it: WARN. */
static int warn_variant_lacking(const struct variant_index *vi, const struct pci_func *f,
				const struct vfio_known_variant *k, struct check_report *r)
{
	char ab[PCI_ADDR_LEN];

	return add(r, CHECK_WARN, CHECK_VFIO_DRIVER, &f->addr,
		   text("%s is a %s, made for the VFIO variant driver %s, which kernel %s does not "
			"have: --driver auto would give it to vfio-pci, and a VM gets a GPU whose "
			"memory is not exposed the way its driver needs", pci_addr_fmt(&f->addr, ab),
			k->model, k->module, vi->kver),
		   text("run a kernel that has %s (%s), then hand it over with --driver auto; check "
			"--kernel VERSION looks at another installed kernel", k->module, k->kernel));
}

/* Per function: the VFIO driver --driver auto chooses in the target
 * kernel (vfio-pci when no variant is made for it). */
static int check_vfio_driver_fn(struct variant_index *vi, const struct pci_func *f,
				struct check_report *r)
{
	const struct vfio_known_variant *k = vfio_known_variant(f->vendor, f->device);
	char ab[PCI_ADDR_LEN];
	struct vfio_pick p;
	int err;

	pci_addr_fmt(&f->addr, ab);
	if (vi->err)
		return 0;       /* said once, for the host */
	err = (f->bad & PCI_BAD_MODALIAS) ? -EINVAL : vfio_variant_auto(&vi->ix, f->modalias, &p);
	if (!err && vfio_pick_variant(&p))
		return add(r, CHECK_PASS, CHECK_VFIO_DRIVER, &f->addr,
			   text("%s: --driver auto chooses the VFIO variant driver %s, which kernel %s "
				"has (%s)", ab, p.module, vi->kver, p.alias), NULL);
	if (k)
		return warn_variant_lacking(vi, f, k, r);
	if (!err)
		return add(r, CHECK_PASS, CHECK_VFIO_DRIVER, &f->addr,
			   text("%s: --driver auto chooses vfio-pci: no VFIO variant driver of kernel %s "
				"is made for it", ab, vi->kver), NULL);
	if (err == -ENOENT)
		return add(r, CHECK_PASS, CHECK_VFIO_DRIVER, &f->addr,
			   text("%s: --driver auto chooses vfio-pci: kernel %s lists no vfio_pci: alias "
				"(it predates Linux 5.15, or its vfio-pci is built in)", ab, vi->kver), NULL);
	return add(r, CHECK_WARN, CHECK_VFIO_DRIVER, &f->addr,
		   text("%s: the VFIO driver --driver auto would choose is unknown: %s", ab,
			err == -EINVAL ? "its modalias cannot be read" : strerror(-err)),
		   text("check that %s/modalias reads, then check again", ab));
}

static int check_vfio_driver(const struct check_env *env, struct variant_index *vi,
			     const struct pci_addr *slot, struct check_report *r)
{
	size_t count, first = pci_host_slot(env->host, slot, &count);
	int err = 0;

	for (size_t i = first; i < first + count && !err; i++)
		err = check_vfio_driver_fn(vi, &env->host->funcs[i], r);
	return err;
}

/* aleph-vm's GPU detection raises on a VGA or 3D controller on vfio-pci
 * from a vendor it does not know, and its supervisor then does not start
 * (aleph-supervisor.h): every function of the host, not only the selection. */
static int check_aleph_vendors(const struct check_env *env, const struct aleph_env *a,
			       struct check_report *r)
{
	bool support = a->has_gpu_support && aleph_truthy(a->gpu_support);
	const struct pci_host *h = env->host;
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];
	int err = 0, n = 0;

	for (size_t i = 0; i < h->nfuncs && !err; i++) {
		const struct pci_func *f = &h->funcs[i];

		if (!aleph_detection_raises(f))
			continue;
		n++;
		pci_addr_fmt(&f->addr, ab);
		pci_slot_fmt(&f->addr, sb);
		err = add(r, support ? CHECK_FAIL : CHECK_WARN, CHECK_ALEPH_VENDOR, &f->addr,
			  text("%s [%04x:%04x] is a display controller on vfio-pci from a vendor "
			       "aleph-vm does not know (it knows 10de, 1002, 8086): its GPU detection "
			       "raises on it, and the supervisor %s", ab, f->vendor, f->device,
			       support ? "stops at start and offers no GPU at all" :
			       "would stop at start once ALEPH_VM_ENABLE_GPU_SUPPORT is True"),
			  text("give it back to its host driver: vfio-handover rollback --aleph %s; "
			       "lend it through another VM manager (libvirt), not aleph-vm", sb));
	}
	if (!err && !n)
		err = add(r, CHECK_PASS, CHECK_ALEPH_VENDOR, NULL,
			  text("no display controller on vfio-pci from a vendor aleph-vm does not "
			       "know"), NULL);
	return err;
}

/* aleph-vm runs GPU instances on q35, which needs QEMU 9.0 (qemu-version.h). */
static int check_aleph_qemu(const struct check_env *env, struct check_report *r)
{
	struct qemu_version v;
	int err = qemu_version_find(env->root, env->timeout_ms, &v);

	if (err == -ENOENT)
		return add(r, CHECK_WARN, CHECK_ALEPH_QEMU, NULL,
			   text("QEMU not found: no qemu-system-x86 in the dpkg database%s; aleph-vm "
				"runs GPU instances with qemu-system-x86_64 9.0 or later",
				root_is_host(env->root) ? ", and no qemu-system-x86_64 in "
				"/usr/local/bin, /usr/bin or /bin" : " under --root (a QEMU binary "
				"there is not run)"),
			   text("install it (apt-get install qemu-system-x86; Debian 13 and Ubuntu "
				"24.10 ship 9.0 or later)"));
	if (err)
		return add(r, CHECK_WARN, CHECK_ALEPH_QEMU, NULL,
			   text("QEMU's version could not be read (%s%s%s: %s)",
				v.source[0] ? v.source : "dpkg", v.text[0] ? " " : "", v.text,
				strerror(-err)),
			   text("make sure QEMU 9.0 or later is installed: aleph-vm runs GPU "
				"instances on q35"));
	if (v.major < 9)
		return add(r, CHECK_WARN, CHECK_ALEPH_QEMU, NULL,
			   text("QEMU %s (%s) is older than 9.0: aleph-vm starts GPU instances on the "
				"q35 machine, which QEMU 8 and older crash on with a passed-through GPU",
				v.text, v.source),
			   text("install QEMU 9.0 or later (Debian 13 and Ubuntu 24.10 ship it), then "
				"restart aleph-vm-supervisor"));
	return add(r, CHECK_PASS, CHECK_ALEPH_QEMU, NULL,
		   text("QEMU %s (%s): 9.0 or later, as aleph-vm's GPU instances on q35 need",
			v.text, v.source), NULL);
}

static int check_aleph(const struct check_env *env, struct check_report *r)
{
	struct aleph_env a;
	int err = aleph_env_read(env->root, &a);

	if (err < 0)
		return add(r, CHECK_WARN, CHECK_ALEPH, NULL,
			   text("could not read %s: %s", ALEPH_SUPERVISOR_ENV, strerror(-err)),
			   text("make it readable by root"));
	if (!a.present)
		return 0;
	if (a.has_gpu_support && aleph_truthy(a.gpu_support))
		err = add(r, CHECK_PASS, CHECK_ALEPH, NULL,
			  text("ALEPH_VM_ENABLE_GPU_SUPPORT=%s", a.gpu_support), NULL);
	else
		err = add(r, CHECK_WARN, CHECK_ALEPH, NULL,
			  text("ALEPH_VM_ENABLE_GPU_SUPPORT is %s in %s: the node will not offer "
			       "GPUs",
			       a.has_gpu_support ? a.gpu_support : "not set", ALEPH_SUPERVISOR_ENV),
			  text("set ALEPH_VM_ENABLE_GPU_SUPPORT=True there and restart "
			       "aleph-vm-supervisor"));
	if (err)
		return err;
	if (!a.has_receiver)
		err = add(r, CHECK_WARN, CHECK_ALEPH, NULL,
			  text("ALEPH_VM_PAYMENT_RECEIVER_ADDRESS is not set in %s: GPU "
			       "instances are paid as you go and need it", ALEPH_SUPERVISOR_ENV),
			  text("set it to your node's wallet address and enable PAYG"));
	else if (!aleph_address_valid(a.receiver))
		err = add(r, CHECK_WARN, CHECK_ALEPH, NULL,
			  text("ALEPH_VM_PAYMENT_RECEIVER_ADDRESS=%s is not a 0x-prefixed "
			       "40-digit address", a.receiver),
			  text("set it to your node's wallet address"));
	else
		err = add(r, CHECK_PASS, CHECK_ALEPH, NULL,
			  text("ALEPH_VM_PAYMENT_RECEIVER_ADDRESS=%s", a.receiver), NULL);
	if (!err)
		err = check_aleph_vendors(env, &a, r);
	if (!err)
		err = check_aleph_qemu(env, r);
	return err;
}

/* ---- boot: what the last apply since boot did (its record) ---- */

static const char *rec_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

static long rec_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
	       (long)json_object_get_int64(v) : -1;
}

static struct json_object *rec_array(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ?
	       v : NULL;
}

/* "0000:01:00 (2 functions)" per slot found, "0000:07:00.0 (missing)" per
 * function skipped, joined; NULL when out of memory. */
static char *rec_devices(struct json_object *rec, bool found, size_t *count)
{
	struct json_object *devs = rec_array(rec, "devices");
	size_t n = devs ? json_object_array_length(devs) : 0;
	struct pci_addr *at = calloc(n ? n : 1, sizeof(*at));
	char *out = at ? strdup("") : NULL, *next, sb[PCI_SLOT_LEN];
	size_t nat = 0;

	*count = 0;
	for (size_t i = 0; out && i < n; i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		const char *match = rec_str(d, "match"), *addr = rec_str(d, "address");
		const char *was = rec_str(d, "persisted_address");
		bool here = match && (!strcmp(match, "here") || !strcmp(match, "moved"));

		if (!match || !was || here != found)
			continue;
		if (found && addr && pci_addr_parse(addr, &at[nat]) == 0)
			nat++;
		if (found)
			continue;
		next = xasprintf("%s%s%s (%s)", out, *out ? ", " : "", was, match);
		free(out);
		out = next;
		(*count)++;
	}
	/* the GPUs found, one entry per slot with its count of functions */
	for (size_t i = 0; out && i < nat; i++) {
		size_t fns = 0;
		bool seen = false;

		for (size_t k = 0; k < nat; k++) {
			seen |= k < i && pci_same_slot(&at[k], &at[i]);
			fns += pci_same_slot(&at[k], &at[i]);
		}
		if (seen)
			continue;
		next = xasprintf("%s%s%s (%zu function%s)", out, *out ? ", " : "",
				 pci_slot_fmt(&at[i], sb), fns, fns == 1 ? "" : "s");
		free(out);
		out = next;
		(*count)++;
	}
	free(at);
	return out;
}

/* The VFIO drivers the GPUs found went to, as devices.conf records them
 * (a record without vfio_module: vfio-pci), each once: "vfio-pci", or
 * "vfio-pci and vh_variant_vfio". */
static char *rec_vfio(struct json_object *rec)
{
	struct json_object *devs = rec_array(rec, "devices");
	size_t n = devs ? json_object_array_length(devs) : 0, nv = 0;
	const char *v[8];
	char buf[512] = "";

	for (size_t i = 0; i < n && nv < 8; i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		const char *match = rec_str(d, "match"), *mod = rec_str(d, "vfio_module");
		const char *name = !mod || kmodules_name_eq(mod, VFIO_PCI_MODULE) ? VFIO_PCI_DRIVER : mod;
		size_t k = 0;

		if (!match || (strcmp(match, "here") && strcmp(match, "moved")))
			continue;
		while (k < nv && strcmp(v[k], name))
			k++;
		if (k == nv)
			v[nv++] = name;
	}
	for (size_t k = 0; k < nv; k++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			 !k ? "" : k + 1 == nv ? " and " : ", ", v[k]);
	return strdup(nv ? buf : VFIO_PCI_DRIVER);
}

/* The error messages apply left, joined: what check repeats of a
 * failure; *fix the first of their fixes (NULL: none). */
static char *rec_errors(struct json_object *rec, const char **fix)
{
	struct json_object *msgs = rec_array(rec, "messages");
	size_t n = msgs ? json_object_array_length(msgs) : 0;
	char *out = strdup(""), *next;

	*fix = NULL;
	for (size_t i = 0; out && i < n; i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i);
		const char *level = rec_str(m, "level"), *t = rec_str(m, "text");

		if (!level || !t || strcmp(level, "error"))
			continue;
		if (!*fix)
			*fix = rec_str(m, "fix");
		/* "...where they were:" introduces the next one */
		next = xasprintf("%s%s%s", out, !*out ? "" : out[strlen(out) - 1] == ':' ? " " : "; ", t);
		free(out);
		out = next;
	}
	return out;
}

/* The PID runs vfio-handover now (a live /proc only). */
static bool apply_running(const struct check_env *env, long pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (!env->procroot || pid <= 0)
		return false;
	snprintf(path, sizeof(path), "%s/%ld/comm", env->procroot, pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strcmp(comm, "vfio-handover\n");
}

#define BOOT_JOURNAL "journalctl -b -u vfio-handover.service has every message"
#define BOOT_RETRY "then run vfio-handover apply (or reboot); to boot without the hand-over " \
	"meanwhile: vfio-handover unpersist, or vfio_handover.off on the kernel " \
	"command line (vfio-handover(8), RECOVERY)"

static int boot_outcome(const struct check_env *env, struct json_object *rec, struct check_report *r)
{
	const char *outcome = rec_str(rec, "outcome"), *root = root_is_host(env->root) ? "" : env->root;
	long started = rec_int(rec, "started_s"), rc = rec_int(rec, "exit_status");
	char when[64] = "", *errors = NULL, *found = NULL, *skipped = NULL, *vfio = NULL;
	const char *fix = NULL;
	size_t nfound = 0, nskipped = 0;
	int err;

	if (!outcome)
		return add(r, CHECK_WARN, CHECK_BOOT, NULL,
			   text("%s%s has no outcome: it is not apply's record", root, APPLY_RECORD),
			   text("remove it; vfio-handover apply writes it again"));
	if (started >= 0)
		snprintf(when, sizeof(when), ", %ld s after boot,", started);
	errors = rec_errors(rec, &fix);
	found = rec_devices(rec, true, &nfound);
	skipped = rec_devices(rec, false, &nskipped);
	vfio = rec_vfio(rec);
	if (!errors || !found || !skipped || !vfio)
		err = -ENOMEM;
	else if (!strcmp(outcome, "started") && apply_running(env, rec_int(rec, "pid")))
		err = add(r, CHECK_WARN, CHECK_BOOT, NULL,
			  text("apply (PID %ld) is running now", rec_int(rec, "pid")),
			  text("wait for it to end, then check again"));
	else if (!strcmp(outcome, "started"))
		err = add(r, CHECK_FAIL, CHECK_BOOT, NULL,
			  text("apply started%s but did not end: it was stopped (by the unit's start "
			       "timeout, TimeoutStartSec=) or it crashed%s%s", when,
			       *errors ? "; its errors: " : "", errors),
			  text(BOOT_JOURNAL "; the journal %s/state.json keeps what it changed: "
			       "vfio-handover rollback gives it back, vfio-handover apply tries again",
			       JOURNAL_DIR));
	else if (!strcmp(outcome, "refused") || !strcmp(outcome, "failed"))
		err = add(r, CHECK_FAIL, CHECK_BOOT, NULL,
			  text("apply%s %s (status %ld), nothing was handed over: %s", when, outcome, rc,
			       errors),
			  text("%s, " BOOT_RETRY "; " BOOT_JOURNAL, fix ? fix : "do what it says"));
	else if (!strcmp(outcome, "unrestored"))
		err = add(r, CHECK_FAIL, CHECK_BOOT, NULL,
			  text("apply%s failed (status %ld) and could not undo it: %s", when, rc, errors),
			  text("fix what it names, then vfio-handover rollback gives each function back "
			       "(the journal %s/state.json keeps what it had); " BOOT_JOURNAL, JOURNAL_DIR));
	else if (nskipped && nfound)
		err = add(r, CHECK_WARN, CHECK_BOOT, NULL,
			  text("apply%s handed over %s, and skipped %s", when, found, skipped),
			  text("persist the GPUs that moved or changed again (vfio-handover persist "
			       "SELECTOR), unpersist those that are gone (vfio-handover unpersist "
			       "SELECTOR); " BOOT_JOURNAL));
	else if (nskipped || !strcmp(outcome, "nothing"))
		err = add(r, CHECK_WARN, CHECK_BOOT, NULL,
			  text("apply%s found none of the persisted GPUs: %s", when,
			       nskipped ? skipped : "none present"),
			  text("persist the GPUs again where they are now (vfio-handover persist "
			       "SELECTOR), unpersist those that are gone (vfio-handover unpersist "
			       "SELECTOR); " BOOT_JOURNAL));
	else if (!strcmp(outcome, "already"))
		err = add(r, CHECK_PASS, CHECK_BOOT, NULL,
			  text("apply%s found %s on %s already: nothing to hand over", when, found,
			       vfio), NULL);
	else if (!strcmp(outcome, "done"))
		err = add(r, CHECK_PASS, CHECK_BOOT, NULL,
			  text("apply%s handed %s over to %s", when, found, vfio),
			  NULL);
	else
		err = add(r, CHECK_WARN, CHECK_BOOT, NULL,
			  text("%s%s says apply's outcome was '%s', which this version does not know",
			       root, APPLY_RECORD, outcome),
			  text("run vfio-handover apply again to know where the GPUs are"));
	free(errors);
	free(found);
	free(skipped);
	free(vfio);
	return err;
}

static int check_boot(const struct check_env *env, struct check_report *r)
{
	const char *root = root_is_host(env->root) ? "" : env->root;
	struct persist_problem why = { 0 };
	struct json_object *rec;
	struct persist_fn *fns;
	size_t n;
	int persisted, err;

	persisted = persist_read_devices(env->root, &fns, &n, &why) != -ENOENT;
	if (persisted)
		free(fns);
	err = apply_record_load(env->root, &rec);
	/* nothing persisted (or unpersisted since): no hand-over at boot to report */
	if (!persisted) {
		json_object_put(rec);
		return 0;
	}
	if (err < 0)
		return add(r, CHECK_WARN, CHECK_BOOT, NULL,
			   text("cannot read %s%s: %s; what apply did at boot is unknown", root,
				APPLY_RECORD, err == -EBADMSG ? "it is not a JSON object" : strerror(-err)),
			   text("look at journalctl -b -u vfio-handover.service"));
	if (!rec)
		return add(r, CHECK_WARN, CHECK_BOOT, NULL,
			   text("GPUs are persisted (%s%s), but apply has not run since boot: "
				"vfio-handover.service did not start (not enabled, masked, or the "
				"package removed)", root, PERSIST_DEVICES_CONF),
			   text("systemctl status vfio-handover.service says why; vfio-handover apply "
				"hands the persisted GPUs over now"));
	err = boot_outcome(env, rec, r);
	json_object_put(rec);
	return err;
}

/* ---- lines of a hand-made VFIO setup (leftovers.h) ---- */

static int check_leftovers(const struct check_env *env, struct check_report *r)
{
	struct leftover_env le = { .root = env->root, .kernel = env->kernel, .host = env->host };
	struct leftover *v;
	size_t n;
	int err = leftovers_scan(&le, &v, &n);

	for (size_t i = 0; i < n && !err; i++)
		err = add(r, v[i].fail ? CHECK_FAIL : CHECK_WARN, v[i].check, NULL,
			  leftover_message(&v[i], env->root, env->host), strdup(v[i].fix));
	leftovers_free(v, n);
	return err;
}

/* ---- udev-rule: persist's rule says what devices.conf lists ---- */

#define RULE_AGAIN "vfio-handover persist (without a selector) writes it again, with the rest of " \
	"the boot configuration, and refreshes the initramfs"

/* The rule on disk against the one persist renders from devices.conf:
 * 0 the same, 1 stale, -ENOENT missing, -ELOOP a link, -EEXIST not ours. */
static int rule_state(const char *root, const struct persist_fn *fns, size_t n)
{
	char *want = NULL, *now = NULL;
	int rootfd = root_dir_open(root), err;

	if (rootfd < 0)
		return rootfd;
	err = persist_render_udev_rule(fns, n, &want);
	if (!err)
		err = root_read_file(rootfd, PERSIST_UDEV_RULE, O_NOFOLLOW, 1 << 20, &now, NULL, NULL);
	close(rootfd);
	if (!err && strncmp(now, PERSIST_HEADER, strlen(PERSIST_HEADER)))
		err = -EEXIST;
	else if (!err)
		err = strcmp(now, want) != 0;
	free(want);
	free(now);
	return err;
}

/* The first function persisted for a variant whose driver's name is not
 * known (the rule cannot give it), and how many have a variant. */
static const struct persist_fn *variant_unnamed(const struct persist_fn *fns, size_t n,
						 size_t *variants)
{
	const struct persist_fn *un = NULL;

	*variants = 0;
	for (size_t i = 0; i < n; i++) {
		*variants += persist_fn_variant(&fns[i]);
		if (!un && persist_fn_variant(&fns[i]) && !fns[i].vfio_driver[0])
			un = &fns[i];
	}
	return un;
}

/* The rule is as persist writes it: each function given to its driver, but
 * one for a variant whose driver's name no kernel said. */
static int udev_rule_current(const char *root, const struct persist_fn *fns, size_t n,
			     struct check_report *r)
{
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];
	size_t variants;
	const struct persist_fn *un = variant_unnamed(fns, n, &variants);

	if (un)
		return add(r, CHECK_WARN, CHECK_UDEV_RULE, NULL,
			   text("%s%s cannot give %s to the VFIO variant driver of %s: the kernel has not "
				"said that driver's name yet, so at boot a host driver may bind it first, "
				"and apply then unbinds it", root, PERSIST_UDEV_RULE,
				pci_addr_fmt(&un->addr, ab), un->vfio_module),
			   text("vfio-handover bind --driver %s %s (which loads %s), then vfio-handover "
				"persist %s again", un->vfio_module, pci_slot_fmt(&un->addr, sb),
				un->vfio_module, sb));
	return add(r, CHECK_PASS, CHECK_UDEV_RULE, NULL,
		   text("%s%s gives the %zu persisted function%s to %s as they are added", root,
			PERSIST_UDEV_RULE, n, n == 1 ? "" : "s", variants ? "their VFIO drivers "
			"(vfio-pci, or the variant devices.conf names)" : "vfio-pci"), NULL);
}

static int check_udev_rule(const struct check_env *env, struct check_report *r)
{
	const char *root = root_is_host(env->root) ? "" : env->root;
	struct persist_fn *fns;
	size_t n;
	int state;

	/* nothing persisted, or a devices.conf the boot item names */
	if (persist_read_devices(env->root, &fns, &n, NULL) < 0)
		return 0;
	state = n ? rule_state(env->root, fns, n) : 0;
	if (n && state == 0) {
		state = udev_rule_current(root, fns, n, r);
		free(fns);
		return state;
	}
	free(fns);
	if (!n)
		return 0;
	if (state == -ENOMEM)
		return state;
	if (state == -ENOENT)
		return add(r, CHECK_WARN, CHECK_UDEV_RULE, NULL,
			   text("GPUs are persisted, but there is no %s%s (persisted by a version that wrote "
				"none, or removed since): at boot a host driver may bind them first, and apply "
				"then unbinds them", root, PERSIST_UDEV_RULE), text(RULE_AGAIN));
	if (state == 1)
		return add(r, CHECK_WARN, CHECK_UDEV_RULE, NULL,
			   text("%s%s does not say what %s%s lists (edited, or written for other "
				"functions)", root, PERSIST_UDEV_RULE, root, PERSIST_DEVICES_CONF),
			   text(RULE_AGAIN));
	return add(r, CHECK_WARN, CHECK_UDEV_RULE, NULL,
		   text("%s%s %s", root, PERSIST_UDEV_RULE, state == -EEXIST ? "is not vfio-handover's "
			"(it does not start with its '" PERSIST_HEADER "' line)" : state == -ELOOP ?
			"is a symbolic link" : strerror(-state)),
		   text("move it away, then " RULE_AGAIN));
}

/* A function that cannot be identified is not handed over. */
static int check_readable(const struct check_env *env, const struct pci_addr *slot,
			  struct check_report *r)
{
	const struct pci_host *h = env->host;
	size_t first, count;
	char ab[PCI_ADDR_LEN], bad[256];
	int err = 0;

	first = pci_host_slot(h, slot, &count);
	for (size_t i = first; i < first + count && !err; i++) {
		const struct pci_func *f = &h->funcs[i];
		if (!f->bad)
			continue;
		if (f->blocked) {
			pci_addr_fmt(&f->addr, ab);
			err = add(r, CHECK_FAIL, CHECK_SYSFS, &f->addr,
				  f->unbinding[0] ?
				  text("%s: its unbind from %s is still under way in the kernel "
				       "(its driver link is gone, the kernel still names the "
				       "driver): a driver's unbind of it is blocked", ab,
				       f->unbinding) :
				  text("%s: reading its %s did not return within the --timeout "
				       "limit: a driver's unbind or bind of it is still blocked "
				       "in the kernel", ab, f->bad & PCI_BAD_OVERRIDE ?
				       "driver_override" : "uevent"),
				  text("see dmesg, stop what holds the device (a process with one "
				       "of its nodes open), and run this again once the kernel "
				       "returns"));
			continue;
		}
		/* (message and fix are formatted in either order: ab first) */
		pci_addr_fmt(&f->addr, ab);
		err = add(r, CHECK_FAIL, CHECK_SYSFS, &f->addr,
			  text("%s: could not read %s from sysfs",
			       ab, pci_func_bad_names(f->bad, bad, sizeof(bad))),
			  text("the device may be failing or the tree is incomplete: see dmesg "
			       "and lspci -vvv -s %s; nothing is handed over until it reads cleanly",
			       ab));
	}
	return err;
}

/* check without a selector: the host's console is no candidate, and not
 * checked as one (a FAIL on every server with a BMC console). */
static int console_not_candidate(const struct check_env *env, const struct pci_addr *slot,
				 struct check_report *r)
{
	const struct pci_host *h = env->host;
	size_t first, count;
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];

	first = pci_host_slot(h, slot, &count);
	for (size_t i = first; i < first + count; i++)
		if (h->funcs[i].boot_vga == 1) {
			/* (message and fix are formatted in either order: ab and sb first) */
			pci_addr_fmt(&h->funcs[i].addr, ab);
			pci_slot_fmt(slot, sb);
			return add(r, CHECK_WARN, CHECK_BOOT_VGA, &h->funcs[i].addr,
				   text("%s is the boot VGA device, the host's console: not a "
					"candidate for a hand-over, not checked further", ab),
				   text("nothing to do: the host keeps its console; to lend this GPU, "
					"give the host another primary display in the firmware setup, "
					"then vfio-handover check %s", sb));
		}
	return 1;
}

static int check_slot(const struct check_env *env, const struct shared *sh,
		      struct variant_index *vi, const struct pci_addr *slot,
		      const struct pci_addr *slots, size_t nslots, struct check_report *r)
{
	const struct pci_func *disp = slot_display(env->host, slot);
	int err;

	if (!disp)
		return 0;
	err = check_readable(env, slot, r);
	if (!err)
		err = check_group(env, slot, slots, nslots, r);
	if (!err)
		err = check_boot_vga(env, slot, r);
	if (!err)
		err = check_in_use(env, sh, slot, r);
	if (!err)
		err = check_host_use(env, sh, slot, r);
	if (env->refusals_only)
		return err;
	if (!err)
		err = check_link(env, disp, r);
	if (!err)
		err = check_model(disp, r);
	if (!err)
		err = check_reset(disp, r);
	if (!err)
		err = check_vfio_driver(env, vi, slot, r);
	return err;
}

int check_run(const struct check_env *env, const struct pci_addr *slots, size_t nslots,
	      struct check_report *r)
{
	const struct pci_host *h = env->host;
	struct pci_addr *all = NULL;
	struct shared sh = { 0 };
	struct variant_index vi = { .err = -EBADF };
	size_t nall = 0;
	int err;

	memset(r, 0, sizeof(*r));
	/* the GPUs checked: those selected, or every one, each as if it were
	 * handed over alone */
	if (!nslots) {
		all = calloc(h->nfuncs ? h->nfuncs : 1, sizeof(*all));
		if (!all)
			return -ENOMEM;
		for (size_t i = 0; i < h->nfuncs; i++) {
			size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count);

			if (first == i && pci_host_slot_maybe_display(h, first, count))
				all[nall++] = h->funcs[i].addr;
		}
	}
	err = check_iommu(env, r);
	if (!err && !env->refusals_only)
		err = check_vfio_module(env, h->sfs, r);
	if (!err && !env->refusals_only)
		err = check_boot(env, r);
	if (!err && env->leftovers)
		err = check_leftovers(env, r);
	if (!err && !env->refusals_only)
		err = check_udev_rule(env, r);
	if (!err)
		err = shared_read(env, nslots ? slots : all, nslots ? nslots : nall, &sh);
	if (!err && !env->refusals_only)
		err = variant_index_open(env, &vi, r);
	for (size_t i = 0; i < (nslots ? nslots : nall) && !err; i++) {
		if (nslots) {
			err = check_slot(env, &sh, &vi, &slots[i], slots, nslots, r);
			continue;
		}
		err = console_not_candidate(env, &all[i], r);
		if (err > 0)
			err = check_slot(env, &sh, &vi, &all[i], NULL, 0, r);
	}
	if (!err && !env->refusals_only)
		err = check_aleph(env, r);
	variant_index_close(&vi);
	shared_free(&sh);
	free(all);
	if (err)
		check_report_free(r);
	return err;
}
