#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libudev.h>
#include "names.h"

/* A host has many functions of few models: each model is looked up once. */
#define CACHE_SIZE 128

struct cached {
	unsigned vendor, device, subvendor, subdevice, class, bad;
	struct func_names names;
};

struct names {
	struct udev *udev;
	struct udev_hwdb *hwdb;
	struct cached cache[CACHE_SIZE];
	size_t ncache, next;         /* filled, and the one to replace next */
};

struct names *names_open(void)
{
	struct names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->udev = udev_new();
	if (n->udev)
		n->hwdb = udev_hwdb_new(n->udev);
	if (!n->hwdb) {
		names_close(n);
		return NULL;
	}
	return n;
}

void names_close(struct names *n)
{
	if (!n)
		return;
	if (n->hwdb)
		udev_hwdb_unref(n->hwdb);
	if (n->udev)
		udev_unref(n->udev);
	free(n);
}

/* Used when the hwdb has no class names: the common PCI classes. */
static const char *class_fallback(unsigned class16)
{
	static const struct { unsigned c; const char *name; } tab[] = {
		{ 0x0100, "SCSI storage controller" }, { 0x0104, "RAID bus controller" },
		{ 0x0106, "SATA controller" }, { 0x0108, "Non-Volatile memory controller" },
		{ 0x0200, "Ethernet controller" }, { 0x0207, "Infiniband controller" },
		{ 0x0280, "Network controller" }, { 0x0300, "VGA compatible controller" },
		{ 0x0302, "3D controller" }, { 0x0380, "Display controller" },
		{ 0x0403, "Audio device" }, { 0x0600, "Host bridge" },
		{ 0x0601, "ISA bridge" }, { 0x0604, "PCI bridge" }, { 0x0680, "Bridge" },
		{ 0x0c03, "USB controller" }, { 0x0c05, "SMBus" },
		{ 0x0c80, "Serial bus controller" },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].c == class16)
			return tab[i].name;
	return NULL;
}

static void copy_prop(struct udev_list_entry *list, const char *key, char *buf, size_t len)
{
	struct udev_list_entry *e = udev_list_entry_get_by_name(list, key);
	const char *v = e ? udev_list_entry_get_value(e) : NULL;

	if (v && !buf[0])
		snprintf(buf, len, "%s", v);
}

static void hwdb_lookup(struct names *n, const struct pci_func *f, struct func_names *out);

/* What the names depend on. */
#define NAME_BAD (PCI_BAD_VENDOR | PCI_BAD_DEVICE | PCI_BAD_SUBVENDOR | PCI_BAD_SUBDEVICE | \
		  PCI_BAD_CLASS)

void names_lookup(struct names *n, const struct pci_func *f, struct func_names *out)
{
	struct cached *c;

	if (!n) {
		hwdb_lookup(n, f, out);
		return;
	}
	for (size_t i = 0; i < n->ncache; i++) {
		c = &n->cache[i];
		if (c->vendor == f->vendor && c->device == f->device && c->subvendor == f->subvendor &&
		    c->subdevice == f->subdevice && c->class == f->class && c->bad == (f->bad & NAME_BAD)) {
			*out = c->names;
			return;
		}
	}
	hwdb_lookup(n, f, out);
	c = &n->cache[n->next];
	n->next = (n->next + 1) % CACHE_SIZE;
	if (n->ncache < CACHE_SIZE)
		n->ncache++;
	*c = (struct cached){ .vendor = f->vendor, .device = f->device, .subvendor = f->subvendor,
			      .subdevice = f->subdevice, .class = f->class, .bad = f->bad & NAME_BAD,
			      .names = *out };
}

static void hwdb_lookup(struct names *n, const struct pci_func *f, struct func_names *out)
{
	char key[96];
	char cls[64] = "", sub[64] = "";
	struct udev_list_entry *list;
	const char *fb;

	memset(out, 0, sizeof(*out));
	if (n && !(f->bad & (PCI_BAD_VENDOR | PCI_BAD_DEVICE))) {
		snprintf(key, sizeof(key), "pci:v%08Xd%08X", f->vendor, f->device);
		list = udev_hwdb_get_properties_list_entry(n->hwdb, key, 0);
		copy_prop(list, "ID_VENDOR_FROM_DATABASE", out->vendor, sizeof(out->vendor));
		copy_prop(list, "ID_MODEL_FROM_DATABASE", out->device, sizeof(out->device));
	}
	if (n && !(f->bad & PCI_BAD_SUBVENDOR)) {
		snprintf(key, sizeof(key), "pci:v%08X", f->subvendor);
		list = udev_hwdb_get_properties_list_entry(n->hwdb, key, 0);
		copy_prop(list, "ID_VENDOR_FROM_DATABASE", out->subvendor, sizeof(out->subvendor));
	}
	if (n && !(f->bad & PCI_BAD_CLASS)) {
		snprintf(key, sizeof(key), "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
			 f->vendor, f->device, f->subvendor, f->subdevice,
			 f->class >> 16, (f->class >> 8) & 0xff, f->class & 0xff);
		list = udev_hwdb_get_properties_list_entry(n->hwdb, key, 0);
		copy_prop(list, "ID_PCI_SUBCLASS_FROM_DATABASE", sub, sizeof(sub));
		copy_prop(list, "ID_PCI_CLASS_FROM_DATABASE", cls, sizeof(cls));
	}
	fb = (f->bad & PCI_BAD_CLASS) ? NULL : class_fallback(pci_class16(f));
	if (sub[0])
		snprintf(out->class_name, sizeof(out->class_name), "%s", sub);
	else if (cls[0])
		snprintf(out->class_name, sizeof(out->class_name), "%s", cls);
	else if (fb)
		snprintf(out->class_name, sizeof(out->class_name), "%s", fb);
	else if (f->bad & PCI_BAD_CLASS)
		snprintf(out->class_name, sizeof(out->class_name), "Unknown class");
	else
		snprintf(out->class_name, sizeof(out->class_name), "Class %04x", pci_class16(f));
}

const char *names_describe(const struct func_names *fn, char *buf, size_t len)
{
	if (fn->vendor[0] && fn->device[0])
		snprintf(buf, len, "%s %s", fn->vendor, fn->device);
	else if (fn->vendor[0])
		snprintf(buf, len, "%s Device", fn->vendor);
	else
		buf[0] = '\0';
	return buf;
}
