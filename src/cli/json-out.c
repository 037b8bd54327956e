#include <math.h>
#include <stdio.h>
#include <string.h>
#include "json-out.h"

struct json_object *json_str_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

struct json_object *json_doc_new(const char *command)
{
	struct json_object *doc = json_object_new_object();

	json_object_object_add(doc, "format_version", json_object_new_int(JSON_FORMAT_VERSION));
	json_object_object_add(doc, "command", json_object_new_string(command));
	return doc;
}

static struct json_object *hex_or_null(unsigned v, int digits, int bad)
{
	char buf[16];

	if (bad)
		return NULL;
	snprintf(buf, sizeof(buf), "%0*x", digits, v);
	return json_object_new_string(buf);
}

static struct json_object *words(const char *s)
{
	struct json_object *a = json_object_new_array();
	char buf[64], *save = NULL, *w;

	snprintf(buf, sizeof(buf), "%s", s);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		json_object_array_add(a, json_object_new_string(w));
	return a;
}

/* A speed, null when unknown: JSON has no infinity or NaN. */
static struct json_object *gts_json(double gts)
{
	return isfinite(gts) && gts > 0 ? json_object_new_double(gts) : NULL;
}

static struct json_object *link_json(const struct pci_link *l)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "current_gts", gts_json(l->cur_gts));
	json_object_object_add(o, "current_width", l->cur_width > 0 ? json_object_new_int(l->cur_width) : NULL);
	json_object_object_add(o, "max_gts", gts_json(l->max_gts));
	json_object_object_add(o, "max_width", l->max_width > 0 ? json_object_new_int(l->max_width) : NULL);
	return o;
}

static struct json_object *unreadable(unsigned bad)
{
	struct json_object *a = json_object_new_array();
	char buf[256], *save = NULL, *w;

	pci_func_bad_names(bad, buf, sizeof(buf));
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		json_object_array_add(a, json_object_new_string(w));
	return a;
}

struct json_object *json_func(const struct pci_func *f, const struct func_names *n)
{
	struct json_object *o = json_object_new_object();
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];

	json_object_object_add(o, "address", json_object_new_string(pci_addr_fmt(&f->addr, ab)));
	json_object_object_add(o, "slot", json_object_new_string(pci_slot_fmt(&f->addr, sb)));
	json_object_object_add(o, "vendor_id", hex_or_null(f->vendor, 4, f->bad & PCI_BAD_VENDOR));
	json_object_object_add(o, "device_id", hex_or_null(f->device, 4, f->bad & PCI_BAD_DEVICE));
	json_object_object_add(o, "subsystem_vendor_id", hex_or_null(f->subvendor, 4, f->bad & PCI_BAD_SUBVENDOR));
	json_object_object_add(o, "subsystem_device_id", hex_or_null(f->subdevice, 4, f->bad & PCI_BAD_SUBDEVICE));
	json_object_object_add(o, "class", hex_or_null(f->class, 6, f->bad & PCI_BAD_CLASS));
	json_object_object_add(o, "class_name", json_object_new_string(n->class_name));
	json_object_object_add(o, "vendor_name", json_str_or_null(n->vendor));
	json_object_object_add(o, "device_name", json_str_or_null(n->device));
	json_object_object_add(o, "driver", json_str_or_null(f->driver));
	json_object_object_add(o, "driver_override", json_str_or_null(f->override));
	json_object_object_add(o, "modalias", json_str_or_null(f->modalias));
	json_object_object_add(o, "iommu_group", f->iommu_group >= 0 ? json_object_new_int(f->iommu_group) : NULL);
	json_object_object_add(o, "boot_vga", f->boot_vga >= 0 ? json_object_new_boolean(f->boot_vga) : NULL);
	json_object_object_add(o, "reset_methods", f->has_reset_method ? words(f->reset_method) : NULL);
	json_object_object_add(o, "link", link_json(&f->link));
	json_object_object_add(o, "upstream", f->has_upstream ? json_object_new_string(pci_addr_fmt(&f->upstream, ab)) : NULL);
	json_object_object_add(o, "state", json_object_new_string(pci_func_state(f)));
	json_object_object_add(o, "unreadable", unreadable(f->bad));
	return o;
}

int json_print(struct json_object *doc)
{
	const char *s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	int err = puts(s) < 0 ? -1 : 0;

	json_object_put(doc);
	return err;
}
