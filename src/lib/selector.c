#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "selector.h"

#define SELECTOR_FORMS "an address (0000:01:00.0 or 01:00.0), a slot (01:00) or a vendor:device id (10de:27b0)"

static int hexfield(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)d;
	}
	*out = v;
	return 0;
}

/* Split "aaaa:bb:cc.d" style text into fields by position; pattern uses
 * 'h' for a hex digit and ':' '.' literally. */
static int match_shape(const char *s, const char *shape)
{
	size_t n = strlen(shape);

	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (shape[i] == 'h') {
			unsigned ignored;
			if (hexfield(s + i, 1, &ignored))
				return 0;
		} else if (s[i] != shape[i]) {
			return 0;
		}
	}
	return 1;
}

static int check_dev_fn(const struct pci_addr *a, unsigned dev, unsigned fn,
			char *why, size_t whylen)
{
	(void)a;
	if (dev > 31) {
		snprintf(why, whylen, "device number %02x is above 1f", dev);
		return -EINVAL;
	}
	if (fn > 7) {
		snprintf(why, whylen, "function number %x is above 7", fn);
		return -EINVAL;
	}
	return 0;
}

int selector_parse(const char *s, struct selector *sel, char *why, size_t whylen)
{
	unsigned dom = 0, bus = 0, dev = 0, fn = 0;
	const char *p = s;

	memset(sel, 0, sizeof(*sel));
	sel->text = s;
	if (match_shape(s, "hhhh:hh:hh.h") || match_shape(s, "hhhh:hh:hh")) {
		hexfield(s, 4, &dom);
		p = s + 5;
	}
	if (match_shape(p, "hh:hh.h") || match_shape(p, "hh:hh")) {
		hexfield(p, 2, &bus);
		hexfield(p + 3, 2, &dev);
		sel->kind = p[5] == '.' ? SEL_FUNCTION : SEL_SLOT;
		if (sel->kind == SEL_FUNCTION)
			hexfield(p + 6, 1, &fn);
		if (check_dev_fn(&sel->addr, dev, fn, why, whylen))
			return -EINVAL;
		sel->addr = (struct pci_addr){ (uint16_t)dom, (uint8_t)bus, (uint8_t)dev, (uint8_t)fn };
		return 0;
	}
	if (match_shape(s, "hhhh:hhhh")) {
		hexfield(s, 4, &sel->vendor);
		hexfield(s + 5, 4, &sel->device);
		sel->kind = SEL_ID;
		return 0;
	}
	snprintf(why, whylen, "expected %s", SELECTOR_FORMS);
	return -EINVAL;
}

static int add_slot(struct pci_addr **v, size_t *n, size_t *cap, const struct pci_addr *a)
{
	struct pci_addr slot = *a;

	slot.fn = 0;
	for (size_t i = 0; i < *n; i++)
		if (pci_addr_cmp(&(*v)[i], &slot) == 0)
			return 0;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct pci_addr *nv = realloc(*v, ncap * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = slot;
	return 0;
}

static int match_one(const struct pci_host *host, const struct selector *sel,
		     struct pci_addr **v, size_t *n, size_t *cap)
{
	size_t first, count;
	int found = 0, err;

	switch (sel->kind) {
	case SEL_FUNCTION:
		if (!pci_host_find(host, &sel->addr))
			return -ENOENT;
		return add_slot(v, n, cap, &sel->addr);
	case SEL_SLOT:
		first = pci_host_slot(host, &sel->addr, &count);
		if (!count)
			return -ENOENT;
		return add_slot(v, n, cap, &host->funcs[first].addr);
	case SEL_ID:
		for (size_t i = 0; i < host->nfuncs; i++) {
			const struct pci_func *f = &host->funcs[i];
			if ((f->bad & (PCI_BAD_VENDOR | PCI_BAD_DEVICE)) ||
			    f->vendor != sel->vendor || f->device != sel->device)
				continue;
			err = add_slot(v, n, cap, &f->addr);
			if (err)
				return err;
			found = 1;
		}
		return found ? 0 : -ENOENT;
	}
	return -EINVAL;
}

static int addr_cmp_qsort(const void *x, const void *y)
{
	return pci_addr_cmp(x, y);
}

int selector_resolve(const struct pci_host *host, const struct selector *sels, size_t nsels,
		     struct pci_addr **slots, size_t *nslots, size_t *bad)
{
	struct pci_addr *v = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < nsels; i++) {
		err = match_one(host, &sels[i], &v, &n, &cap);
		if (err) {
			*bad = i;
			free(v);
			return err;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), addr_cmp_qsort);
	*slots = v;
	*nslots = n;
	return 0;
}

int selector_named(const struct selector *sels, size_t nsels, struct pci_addr **named,
		   size_t *nnamed)
{
	*named = calloc(nsels ? nsels : 1, sizeof(**named));
	*nnamed = 0;
	if (!*named)
		return -ENOMEM;
	for (size_t i = 0; i < nsels; i++)
		if (sels[i].kind == SEL_FUNCTION)
			(*named)[(*nnamed)++] = sels[i].addr;
	return 0;
}
