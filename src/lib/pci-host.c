#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pci-host.h"

/* driver_override of every function in one request to the process that
 * reads it (see sysfs_dev_read). */
static int load_overrides(struct sysfs *sfs, struct pci_host *host)
{
	size_t n = host->nfuncs, len = sizeof(host->funcs[0].override);
	struct pci_addr *addrs = calloc(n ? n : 1, sizeof(*addrs));
	char *text = calloc(n ? n : 1, len);
	int *res = calloc(n ? n : 1, sizeof(*res));
	int err = 0;

	if (!addrs || !text || !res) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		addrs[i] = host->funcs[i].addr;
	sysfs_dev_read_each(sfs, addrs, n, "driver_override", text, len, res);
	for (size_t i = 0; i < n; i++) {
		memcpy(host->funcs[i].override, text + i * len, len);
		pci_func_take_override(&host->funcs[i], res[i]);
		pci_func_check_unbinding(sfs, &host->funcs[i]);
	}
out:
	free(addrs);
	free(text);
	free(res);
	return err;
}

static int by_group_cmp(const void *x, const void *y, void *data)
{
	const struct pci_host *host = data;
	const struct pci_func *a = &host->funcs[*(const size_t *)x];
	const struct pci_func *b = &host->funcs[*(const size_t *)y];

	if (a->iommu_group != b->iommu_group)
		return a->iommu_group < b->iommu_group ? -1 : 1;
	return pci_addr_cmp(&a->addr, &b->addr);
}

static int index_groups(struct pci_host *host)
{
	size_t n = 0;

	host->by_group = calloc(host->nfuncs ? host->nfuncs : 1, sizeof(*host->by_group));
	if (!host->by_group)
		return -ENOMEM;
	for (size_t i = 0; i < host->nfuncs; i++)
		if (host->funcs[i].iommu_group >= 0)
			host->by_group[n++] = i;
	qsort_r(host->by_group, n, sizeof(*host->by_group), by_group_cmp, host);
	host->nby_group = n;
	return 0;
}

const size_t *pci_host_group(const struct pci_host *host, int group, size_t *count)
{
	size_t lo = 0, hi = host->nby_group, end;

	*count = 0;
	if (group < 0)
		return NULL;
	while (lo < hi) {            /* lower bound of the group */
		size_t mid = (lo + hi) / 2;

		if (host->funcs[host->by_group[mid]].iommu_group < group)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < host->nby_group && host->funcs[host->by_group[end]].iommu_group == group;
	     end++)
		;
	*count = end - lo;
	return *count ? host->by_group + lo : NULL;
}

int pci_host_load(struct sysfs *sfs, struct pci_host *host)
{
	return pci_host_load_needs(sfs, host, PCI_NEED_ALL);
}

int pci_host_load_needs(struct sysfs *sfs, struct pci_host *host, unsigned needs)
{
	struct pci_addr *addrs = NULL;
	size_t n = 0, loaded = 0;
	bool batch;
	int err;

	memset(host, 0, sizeof(*host));
	host->sfs = sfs;
	err = sysfs_list_devices(sfs, &addrs, &n);
	if (err < 0)
		return err;
	host->funcs = calloc(n ? n : 1, sizeof(*host->funcs));
	if (!host->funcs) {
		err = -ENOMEM;
		goto out;
	}
	/* a function that vanished between listing and reading is skipped;
	 * what the writer reads is read apart, all in one request */
	batch = needs & PCI_NEED_OVERRIDE && sysfs_read_by_writer(sfs, "driver_override");
	for (size_t i = 0; i < n; i++)
		if (pci_func_load_needs(sfs, &addrs[i], &host->funcs[loaded],
					batch ? needs & ~PCI_NEED_OVERRIDE : needs) == 0)
			loaded++;
	host->nfuncs = loaded;
	if (batch) {
		err = load_overrides(sfs, host);
		if (err)
			goto out;
	}
	err = sysfs_count_iommu_groups(sfs);
	host->ngroups = err < 0 ? 0 : err;
	err = index_groups(host);
out:
	free(addrs);
	if (err)
		pci_host_free(host);
	return err;
}

int pci_host_fill(struct pci_host *host, const struct pci_addr *fns, size_t n, unsigned needs)
{
	for (size_t i = 0; i < n; i++) {
		struct pci_func *f = pci_host_find(host, &fns[i]);

		/* one gone since the listing keeps what was read */
		if (f && (needs & ~f->loaded))
			pci_func_load_more(host->sfs, f, needs);
	}
	return 0;
}

int pci_host_list(struct sysfs *sfs, struct pci_host *host)
{
	struct pci_addr *addrs = NULL;
	size_t n = 0;
	int err;

	memset(host, 0, sizeof(*host));
	host->sfs = sfs;
	err = sysfs_list_devices(sfs, &addrs, &n);
	if (err < 0)
		return err;
	host->funcs = calloc(n ? n : 1, sizeof(*host->funcs));
	if (!host->funcs) {
		free(addrs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		host->funcs[i].addr = addrs[i];
		host->funcs[i].iommu_group = -1;
		host->funcs[i].boot_vga = -1;
		host->funcs[i].unread = true;
	}
	host->nfuncs = n;
	free(addrs);
	err = sysfs_count_iommu_groups(sfs);
	host->ngroups = err < 0 ? 0 : err;
	return index_groups(host);
}

/* One listed function read; one gone since is every attribute unreadable
 * (a hand-over of it is refused), not a function with no driver. */
static void read_one(struct pci_host *host, struct pci_func *f, unsigned needs)
{
	struct pci_addr a = f->addr;

	if (pci_func_load_needs(host->sfs, &a, f, needs) < 0) {
		memset(f, 0, sizeof(*f));
		f->addr = a;
		f->iommu_group = -1;
		f->boot_vga = -1;
		f->bad = PCI_BAD_VENDOR | PCI_BAD_DEVICE | PCI_BAD_CLASS | PCI_BAD_DRIVER |
			 PCI_BAD_IOMMU_GROUP;
	}
	f->unread = false;
}

static void read_group(struct pci_host *host, int group)
{
	struct pci_addr *m;
	size_t n;

	if (group < 0 || sysfs_group_members(host->sfs, group, &m, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pci_func *f = pci_host_find(host, &m[i]);

		if (f && f->unread)
			read_one(host, f, 0);
	}
	free(m);
}

int pci_host_read(struct pci_host *host, const struct pci_addr *fns, size_t n, unsigned needs)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		size_t count, first = pci_host_slot(host, &fns[i], &count);

		for (size_t k = first; k < first + count; k++)
			if (host->funcs[k].unread) {
				read_one(host, &host->funcs[k], needs);
				any = true;
			}
	}
	if (!any)
		return 0;
	/* the groups of what was read: every member is part of the checks */
	for (size_t i = 0; i < n; i++) {
		size_t count, first = pci_host_slot(host, &fns[i], &count);

		for (size_t k = first; k < first + count; k++)
			read_group(host, host->funcs[k].iommu_group);
	}
	free(host->by_group);
	return index_groups(host);
}

int pci_host_read_only(struct pci_host *host, const struct pci_addr *fns, size_t n,
		       unsigned needs)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		struct pci_func *f = pci_host_find(host, &fns[i]);

		if (f && f->unread) {
			read_one(host, f, needs);
			any = true;
		}
	}
	if (!any)
		return 0;
	free(host->by_group);
	return index_groups(host);
}

int pci_host_read_all(struct pci_host *host, unsigned needs)
{
	bool any = false;

	for (size_t i = 0; i < host->nfuncs; i++)
		if (host->funcs[i].unread) {
			read_one(host, &host->funcs[i], needs);
			any = true;
		}
	if (!any)
		return 0;
	free(host->by_group);
	return index_groups(host);
}

void pci_host_free(struct pci_host *host)
{
	free(host->by_group);
	host->by_group = NULL;
	host->nby_group = 0;
	free(host->funcs);
	host->funcs = NULL;
	host->nfuncs = 0;
}

static int func_cmp(const void *key, const void *elem)
{
	return pci_addr_cmp(key, &((const struct pci_func *)elem)->addr);
}

struct pci_func *pci_host_find(const struct pci_host *host, const struct pci_addr *a)
{
	return bsearch(a, host->funcs, host->nfuncs, sizeof(*host->funcs), func_cmp);
}

size_t pci_host_slot(const struct pci_host *host, const struct pci_addr *a, size_t *count)
{
	struct pci_addr first = *a;
	size_t lo = 0, hi = host->nfuncs, i;

	first.fn = 0;
	while (lo < hi) {            /* lower bound of function 0 of the slot */
		size_t mid = (lo + hi) / 2;
		if (pci_addr_cmp(&host->funcs[mid].addr, &first) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < host->nfuncs && pci_same_slot(&host->funcs[i].addr, a); i++)
		;
	*count = i - lo;
	return lo;
}

bool pci_host_slot_is_display(const struct pci_host *host, size_t first, size_t count)
{
	for (size_t i = first; i < first + count; i++)
		if (pci_func_is_display(&host->funcs[i]))
			return true;
	return false;
}

bool pci_host_slot_maybe_display(const struct pci_host *host, size_t first, size_t count)
{
	for (size_t i = first; i < first + count; i++)
		if (host->funcs[i].bad & PCI_BAD_CLASS)
			return true;
	return pci_host_slot_is_display(host, first, count);
}

bool pci_host_iommu_on(const struct pci_host *host)
{
	return host->ngroups > 0;
}
