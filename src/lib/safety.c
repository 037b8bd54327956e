#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "checks.h"
#include "safety.h"
#include "util.h"

static int append(struct pci_addr **v, size_t *n, const struct pci_addr *a)
{
	struct pci_addr *nv;

	for (size_t i = 0; i < *n; i++)
		if (pci_addr_cmp(&(*v)[i], a) == 0)
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = *a;
	*v = nv;
	return 0;
}

int safety_slot_functions(const struct pci_host *host, const struct pci_addr *slots,
			  size_t nslots, struct pci_addr **fns, size_t *nfns)
{
	size_t first, count;
	int err = 0;

	*fns = NULL;
	*nfns = 0;
	for (size_t s = 0; s < nslots && !err; s++) {
		first = pci_host_slot(host, &slots[s], &count);
		for (size_t i = first; i < first + count && !err; i++)
			err = append(fns, nfns, &host->funcs[i].addr);
	}
	if (err) {
		free(*fns);
		*fns = NULL;
		*nfns = 0;
	}
	return err;
}

/* The distinct IOMMU groups of fns, in order; -1 (none) left out. */
static int groups_of(const struct pci_host *host, const struct pci_addr *fns, size_t n,
		     int **out, size_t *nout)
{
	int *v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *f = pci_host_find(host, &fns[i]);
		bool seen = false;

		if (!f || f->iommu_group < 0)
			continue;
		for (size_t j = 0; j < k && !seen; j++)
			seen = v[j] == f->iommu_group;
		if (!seen)
			v[k++] = f->iommu_group;
	}
	*out = v;
	*nout = k;
	return 0;
}

int safety_group_closure(const struct pci_host *host, const struct pci_addr *slots,
			 size_t nslots, struct pci_addr **fns, size_t *nfns)
{
	size_t ngroups = 0, nsel, room = 0;
	bool *in = NULL;
	int *groups = NULL;
	int err = safety_slot_functions(host, slots, nslots, fns, nfns);

	/* the members of each group, each once: marked by index, not searched */
	if (!err)
		err = groups_of(host, *fns, *nfns, &groups, &ngroups);
	if (!err && !(in = calloc(host->nfuncs ? host->nfuncs : 1, sizeof(*in))))
		err = -ENOMEM;
	nsel = *nfns;
	for (size_t i = 0; !err && i < nsel; i++) {
		const struct pci_func *f = pci_host_find(host, &(*fns)[i]);

		if (f)
			in[f - host->funcs] = true;
	}
	/* room for every member of every group, at once */
	for (size_t g = 0, count; !err && g < ngroups; g++) {
		pci_host_group(host, groups[g], &count);
		room += count;
	}
	if (!err && room) {
		struct pci_addr *v = realloc(*fns, (nsel + room) * sizeof(*v));

		if (v)
			*fns = v;
		else
			err = -ENOMEM;
	}
	for (size_t g = 0; !err && g < ngroups; g++) {
		size_t count;
		const size_t *m = pci_host_group(host, groups[g], &count);

		for (size_t k = 0; k < count; k++) {
			if (in[m[k]])
				continue;
			in[m[k]] = true;
			(*fns)[(*nfns)++] = host->funcs[m[k]].addr;
		}
	}
	free(in);
	free(groups);
	if (err) {
		free(*fns);
		*fns = NULL;
		*nfns = 0;
	}
	return err;
}

bool safety_in_slots(const struct pci_addr *slots, size_t nslots, const struct pci_addr *a)
{
	for (size_t i = 0; i < nslots; i++)
		if (pci_same_slot(&slots[i], a))
			return true;
	return false;
}

bool safety_member_tolerated(const struct pci_func *f)
{
	/* a driver link that cannot be read is not the absence of a driver */
	return pci_func_is_bridge(f) || (!f->driver[0] && !(f->bad & PCI_BAD_DRIVER)) ||
	       f->vfio || strcmp(f->driver, "pci-stub") == 0;
}

bool safety_selected(const struct pci_host *host, const struct selection *sel,
		     const struct pci_func *f)
{
	size_t first, count;

	if (!safety_in_slots(sel->slots, sel->nslots, &f->addr))
		return false;
	first = pci_host_slot(host, &f->addr, &count);
	if (pci_func_is_gpu_part(f) || !pci_host_slot_is_display(host, first, count))
		return true;
	for (size_t i = 0; i < sel->nnamed; i++)
		if (pci_addr_cmp(&sel->named[i], &f->addr) == 0)
			return true;
	return false;
}

int safety_group_intruders(const struct pci_host *host, const struct selection *sel,
			   struct group_intruder **out, size_t *n)
{
	struct pci_addr *fns = NULL;
	struct group_intruder *v = NULL;
	size_t nfns = 0, nv = 0, cap = 0;
	bool *seen = NULL;
	int err;

	*out = NULL;
	*n = 0;
	err = safety_slot_functions(host, sel->slots, sel->nslots, &fns, &nfns);
	if (!err && !(seen = calloc(host->nfuncs ? host->nfuncs : 1, sizeof(*seen))))
		err = -ENOMEM;
	for (size_t s = 0; s < nfns && !err; s++) {
		const struct pci_func *f = pci_host_find(host, &fns[s]);
		const size_t *m;
		size_t count;

		if (!f || f->iommu_group < 0 || seen[f - host->funcs])
			continue;
		/* the group's members, once for every function of it selected */
		m = pci_host_group(host, f->iommu_group, &count);
		for (size_t k = 0; k < count && !err; k++) {
			const struct pci_func *g = &host->funcs[m[k]];

			if (seen[m[k]])
				continue;
			seen[m[k]] = true;
			if (safety_selected(host, sel, g) || safety_member_tolerated(g))
				continue;
			if (nv == cap) {
				struct group_intruder *nvv;

				cap = cap ? 2 * cap : 8;
				nvv = realloc(v, cap * sizeof(*v));
				if (!nvv) {
					err = -ENOMEM;
					break;
				}
				v = nvv;
			}
			memset(&v[nv], 0, sizeof(v[nv]));
			v[nv].member = g->addr;
			v[nv].via = f->addr;
			v[nv].group = g->iommu_group;
			memcpy(v[nv].driver, g->driver, sizeof(v[nv].driver));
			nv++;
		}
	}
	free(seen);
	free(fns);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* The one table of check items and refusals: id, title, and what a
 * failure of it does to a hand-over. */
static const struct check_def {
	const char *name;
	const char *title;
	enum refusal refusal;
} check_defs[CHECK_ID_COUNT] = {
	/* no groups: nothing can be assigned */
	[CHECK_IOMMU]      = { "iommu", "IOMMU active", REFUSAL_HARD },
	[CHECK_VFIO_PCI]   = { "vfio-pci", "vfio-pci available", REFUSAL_NONE },
	[CHECK_BOOT]       = { "boot", "the boot's hand-over", REFUSAL_NONE },
	[CHECK_UDEV_RULE]  = { "udev-rule", "persist's udev rule", REFUSAL_NONE },
	/* a function we cannot identify */
	[CHECK_SYSFS]      = { "sysfs", "functions readable in sysfs", REFUSAL_HARD },
	/* a foreign device would go along */
	[CHECK_GROUP]      = { "group", "IOMMU group viable", REFUSAL_HARD },
	/* the console: fine on a headless host */
	[CHECK_BOOT_VGA]   = { "boot-vga", "not the boot VGA device", REFUSAL_FORCEABLE },
	/* a holder: the operator may know better */
	[CHECK_IN_USE]     = { "in-use", "no device node held open", REFUSAL_FORCEABLE },
	/* a mounted disk or a live NIC */
	[CHECK_HOST_USE]   = { "host-use", "no disk or network interface of the host", REFUSAL_HARD },
	[CHECK_PCIE_LINK]  = { "pcie-link", "PCIe 4.0 x16 link possible", REFUSAL_NONE },
	[CHECK_MODEL]      = { "model", "a model Aleph nodes offer", REFUSAL_NONE },
	[CHECK_RESET]      = { "reset", "reset method", REFUSAL_NONE },
	[CHECK_ALEPH]      = { "aleph", "Aleph supervisor settings", REFUSAL_NONE },
	/* the supervisor's trouble, not the hand-over's: check and --aleph say it */
	[CHECK_ALEPH_VENDOR] = { "aleph-vendor", "no display controller on vfio-pci from a vendor "
				 "aleph-vm does not know", REFUSAL_NONE },
	[CHECK_ALEPH_QEMU] = { "aleph-qemu", "QEMU 9.0 or later for aleph-vm", REFUSAL_NONE },
	/* a hand-made setup fights what persist writes, and unpersist could not
	 * take it back: persist refuses (migrate takes it over); bind and
	 * apply never look */
	[CHECK_IDS_BINDING] = { "ids-binding", "no line hands devices to vfio-pci by ids",
				REFUSAL_HARD },
	[CHECK_BLACKLIST]  = { "blacklist", "no line keeps a host driver from loading",
			       REFUSAL_HARD },
	[CHECK_SOFTDEP]    = { "softdep", "no softdep on vfio-pci outside vfio-handover's files",
			       REFUSAL_NONE },
	[CHECK_MODULE_LINE] = { "module-line", "module lists hold module lines only",
				REFUSAL_HARD },
	/* --driver NAME made for other devices: the user's choice cannot be kept */
	[CHECK_VFIO_DRIVER] = { "vfio-driver", "the VFIO driver made for each function",
				REFUSAL_HARD },
	/* unbinding under a running VM blocks in the kernel */
	[CHECK_VM_RUNNING] = { "vm-running", "no VM holds the IOMMU group", REFUSAL_HARD },
	/* apply never guesses which card is the persisted one */
	[CHECK_AMBIGUOUS]  = { "ambiguous", "persisted function found once", REFUSAL_HARD },
	/* the supervisor counts only functions on vfio-pci itself */
	[CHECK_ALEPH_DRIVER] = { "aleph-driver", "vfio-pci itself for the Aleph supervisor",
				  REFUSAL_HARD },
};

const char *check_id_name(enum check_id id)
{
	return (unsigned)id < CHECK_ID_COUNT ? check_defs[id].name : "unknown";
}

const char *check_id_title(enum check_id id)
{
	return (unsigned)id < CHECK_ID_COUNT ? check_defs[id].title : "unknown";
}

enum refusal check_id_refusal(enum check_id id)
{
	return (unsigned)id < CHECK_ID_COUNT ? check_defs[id].refusal : REFUSAL_NONE;
}

enum refusal safety_refusal(const struct check_item *it)
{
	return it->status == CHECK_FAIL ? check_id_refusal(it->id) : REFUSAL_NONE;
}
