#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "persist-match.h"
#include "persist-target.h"

static bool same_ids(const struct persist_fn *a, const struct pci_func *f)
{
	return a->vendor == f->vendor && a->device == f->device &&
	       a->subvendor == f->subvendor && a->subdevice == f->subdevice;
}

/* Split "A/B/C" into addresses; -EINVAL on anything else. */
static int chain_parse(const char *path, struct pci_addr *v, size_t max, size_t *n)
{
	char comp[PCI_ADDR_LEN + 1];
	const char *p = path;

	*n = 0;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len >= sizeof(comp) || *n == max)
			return -EINVAL;
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (pci_addr_parse(comp, &v[(*n)++]) < 0)
			return -EINVAL;
		p = e ? e + 1 : p + len;
	}
	return *n ? 0 : -EINVAL;
}

bool persist_same_place(const struct persist_fn *was, const struct persist_fn *now)
{
	struct pci_addr a[16], b[16];
	size_t na, nb;

	/* a slot name is the platform's, but Linux makes duplicates unique
	 * with "-N" suffixes in the order it meets them: the chain is the
	 * firmer of the two, the name is for when the chain is unknown */
	if (!was->path[0])
		return was->phys_slot[0] && strcmp(was->phys_slot, now->phys_slot) == 0;
	if (chain_parse(was->path, a, 16, &na) < 0 || chain_parse(now->path, b, 16, &nb) < 0 || na != nb)
		return false;
	/* the root port sits on a bus the firmware fixes: all of it must match */
	if (pci_addr_cmp(&a[0], &b[0]) != 0)
		return false;
	for (size_t i = 1; i < na; i++)
		if (a[i].domain != b[i].domain || a[i].dev != b[i].dev || a[i].fn != b[i].fn)
			return false;
	return true;
}

/* Is this present function persisted at its own address (another entry)? */
static bool persisted_here(const struct persist_fn *fns, size_t n, const struct pci_func *f)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_cmp(&fns[i].addr, &f->addr) == 0 && same_ids(&fns[i], f))
			return true;
	return false;
}

int persist_match(struct sysfs *sfs, const struct pci_host *h, const struct persist_fn *fns,
		  size_t n, size_t which, struct persist_match *m)
{
	const struct persist_fn *want = &fns[which];
	const struct pci_func *at = pci_host_find(h, &want->addr);

	memset(m, 0, sizeof(*m));
	if (at && same_ids(want, at)) {
		m->kind = PERSIST_HERE;
		m->now = at->addr;
		return 0;
	}
	for (size_t i = 0; i < h->nfuncs; i++) {
		const struct pci_func *f = &h->funcs[i];
		struct persist_fn place;
		int err;

		if (!same_ids(want, f) || f->addr.fn != want->addr.fn || persisted_here(fns, n, f))
			continue;
		err = persist_fn_load(sfs, f, &place);
		if (err < 0)
			return err;
		if (!persist_same_place(want, &place))
			continue;
		if (m->candidates++ == 0)
			m->now = f->addr;
	}
	if (m->candidates == 1)
		m->kind = PERSIST_MOVED;
	else if (m->candidates > 1)
		m->kind = PERSIST_AMBIGUOUS;
	else
		m->kind = at ? PERSIST_CHANGED : PERSIST_MISSING;
	return 0;
}

const char *persist_match_name(enum persist_match_kind k)
{
	static const char *const names[] = {
		[PERSIST_HERE] = "here", [PERSIST_MOVED] = "moved", [PERSIST_CHANGED] = "changed",
		[PERSIST_MISSING] = "missing", [PERSIST_AMBIGUOUS] = "ambiguous",
	};

	return names[k];
}
