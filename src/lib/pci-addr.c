#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "pci-addr.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly n hex digits at s. */
static int hexn(const char *s, int n, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)d;
	}
	*out = v;
	return 0;
}

int pci_addr_parse(const char *s, struct pci_addr *a)
{
	unsigned dom, bus, dev, fn;

	if (!s || strlen(s) != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.')
		return -EINVAL;
	if (hexn(s, 4, &dom) || hexn(s + 5, 2, &bus) || hexn(s + 8, 2, &dev) ||
	    hexn(s + 11, 1, &fn))
		return -EINVAL;
	if (dev > 31 || fn > 7)
		return -EINVAL;
	a->domain = (uint16_t)dom;
	a->bus = (uint8_t)bus;
	a->dev = (uint8_t)dev;
	a->fn = (uint8_t)fn;
	return 0;
}

const char *pci_addr_fmt(const struct pci_addr *a, char buf[PCI_ADDR_LEN])
{
	snprintf(buf, PCI_ADDR_LEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev & 0x1fu, a->fn & 7u);
	return buf;
}

const char *pci_slot_fmt(const struct pci_addr *a, char buf[PCI_SLOT_LEN])
{
	snprintf(buf, PCI_SLOT_LEN, "%04x:%02x:%02x", a->domain, a->bus, a->dev & 0x1fu);
	return buf;
}

int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->fn != b->fn)
		return a->fn < b->fn ? -1 : 1;
	return 0;
}

bool pci_same_slot(const struct pci_addr *a, const struct pci_addr *b)
{
	return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev;
}
